//! The command line: `tayori serve`, and the operator and partner verbs that
//! talk to a running host over its HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::client::Client;
use crate::server::{ServeConfig, launch};

#[derive(Parser)]
#[command(
    name = "tayori",
    version,
    about = "Timed child-rearing support messages, delivered through sandboxed plugins."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Delivery plugins on a running host: upload, list, activate, roll back.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// `sqlite://path` (created and migrated on first start) or `postgres://...`.
    #[arg(
        long,
        env = "TAYORI_DATABASE_URL",
        default_value = "sqlite://tayori.db"
    )]
    database_url: String,
    /// Address to listen on.
    #[arg(long, env = "TAYORI_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Do not publish the plugins bundled in this binary.
    #[arg(long)]
    no_bundled_plugins: bool,
}

/// Where the host is and who is calling.
#[derive(Args, Clone)]
pub(crate) struct Remote {
    /// The host's base URL.
    #[arg(
        long,
        env = "TAYORI_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// A bearer token (falls back to TAYORI_ADMIN_TOKEN).
    #[arg(long, env = "TAYORI_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Upload a component; the first version of a plugin id becomes active.
    Upload {
        /// The component (`.wasm`).
        file: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
    /// List plugins, versions and activations.
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Activate a version for every tenant, or for the given tenants (a canary).
    Activate {
        plugin: String,
        version: String,
        /// A tenant to switch first; repeat for several.
        #[arg(long = "tenant")]
        tenants: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Undo the latest activation (for every tenant, or for the given tenants).
    Rollback {
        plugin: String,
        #[arg(long = "tenant")]
        tenants: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("TAYORI_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Plugin(cmd) => plugin(cmd).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = ServeConfig {
        database_url: args.database_url,
        admin_token: std::env::var("TAYORI_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        load_bundled: !args.no_bundled_plugins,
        ..ServeConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", args.bind))?;
    let launched = launch(config, listener, shutdown_signal()).await?;
    launched.task.await??;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn plugin(cmd: PluginCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PluginCommand::Upload { file, remote } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            Client::new(&remote)?
                .send_bytes("POST", "/v1/plugins", "application/wasm", bytes)
                .await
        }
        PluginCommand::List { remote } => {
            Client::new(&remote)?.json("GET", "/v1/plugins", None).await
        }
        PluginCommand::Activate {
            plugin,
            version,
            tenants,
            remote,
        } => {
            let body = serde_json::json!({ "tenants": tenants });
            Client::new(&remote)?
                .json(
                    "POST",
                    &format!("/v1/plugins/{plugin}/versions/{version}/activate"),
                    Some(body),
                )
                .await
        }
        PluginCommand::Rollback {
            plugin,
            tenants,
            remote,
        } => {
            let body = serde_json::json!({ "tenants": tenants });
            Client::new(&remote)?
                .json(
                    "POST",
                    &format!("/v1/plugins/{plugin}/rollback"),
                    Some(body),
                )
                .await
        }
    }
}

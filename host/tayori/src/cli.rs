//! The command line: `tayori serve`, and the operator and partner verbs that
//! talk to a running host over its HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::client::Client;

mod subscribers;
use crate::server::{ServeConfig, launch};
use subscribers::{SubscribersCommand, subscribers};

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
    /// Copy the SQLite database to a new file, consistently, while the
    /// host runs (PostgreSQL: use pg_dump). Back up the secret key too.
    Backup(BackupArgs),
    /// Delivery plugins: upload, list, activate, roll back on a running host;
    /// new, check and test locally (the partner kit).
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Tenants (municipalities) and their settings.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// A tenant's delivery channels.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// A tenant's households (subscribers): register, report a birth, add,
    /// stop a child, stop, erase, CSV import, list, read.
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// The message catalog: import and export files (docs/catalog.md).
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// API tokens: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// What a tenant's schedule would send.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// A tenant's deliveries and broadcasts.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
}

#[derive(Subcommand)]
enum ScheduleCommand {
    /// What would be sent, when, to which channel, with message ids (nothing is written).
    Preview {
        #[arg(long)]
        tenant: String,
        /// Only this subscriber.
        #[arg(long)]
        subscriber: Option<String>,
        /// The first day, YYYY-MM-DD (in the tenant's zone).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// How many days.
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Subcommand)]
enum DeliveriesCommand {
    /// List deliveries, newest first.
    List {
        #[arg(long)]
        tenant: String,
        /// pending, held, in_flight, sent, failed, expired, cancelled or dead.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        channel: Option<String>,
        /// Due at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        cursor: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Send a message to an audience now (or at --send-at).
    Broadcast {
        #[arg(long)]
        tenant: String,
        /// The text.
        #[arg(long)]
        body: String,
        #[arg(long)]
        subject: Option<String>,
        /// The audience as JSON (default `{}`: everyone), e.g. '{"pregnant": true}'.
        #[arg(long, default_value = "{}")]
        audience: String,
        /// RFC 3339; default now.
        #[arg(long)]
        send_at: Option<String>,
        #[command(flatten)]
        remote: Remote,
    },
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
    /// How long a claim holds its deliveries without renewal before another
    /// node may take them over, in seconds. Renewed every quarter of it
    /// while the claim's calls run; a restarted SQLite host takes its
    /// predecessor's claims back at once.
    #[arg(long, env = "TAYORI_LEASE_SECONDS", default_value_t = tayori_scheduler::lease::DEFAULT_LEASE.as_secs())]
    lease_seconds: u64,
    /// The first retry's delay in seconds (doubling up to an hour, with jitter).
    #[arg(long, env = "TAYORI_RETRY_BASE_SECONDS", default_value_t = 30)]
    retry_base_seconds: u64,
    /// Plan and send nothing: serve the API only (another node delivers).
    #[arg(long)]
    no_scheduler: bool,
    /// Where parents and platforms reach this service, e.g.
    /// `https://tayori.example.jp` (behind a proxy): the base of the webhook
    /// and form URLs given to platforms when a channel is set up. Default:
    /// `http://` and the listening address.
    #[arg(long, env = "TAYORI_PUBLIC_URL", value_parser = public_url)]
    public_url: Option<String>,
}

/// A base URL: `http://` or `https://`, a host, no query or fragment; kept
/// without a trailing `/`.
fn public_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with https:// (or http://)".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query or fragment".into());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

#[derive(Args)]
struct BackupArgs {
    /// The new file (never overwritten).
    file: PathBuf,
    /// The database to copy: `sqlite://path`.
    #[arg(
        long,
        env = "TAYORI_DATABASE_URL",
        default_value = "sqlite://tayori.db"
    )]
    database_url: String,
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
    /// Partner kit: create a plugin crate from the template.
    New(crate::kit::NewArgs),
    /// Partner kit: run a component in the production sandbox against a fake
    /// platform; exits non-zero on any violation.
    Test(crate::kit::TestArgs),
    /// Partner kit: the upload checks, offline.
    Check(crate::kit::CheckArgs),
    /// Partner kit: serve a scripted fake platform on loopback, for a channel
    /// of a running host to deliver to.
    Fake(crate::kit::FakeArgs),
}

/// Tenant settings shared by `create` and `update`; absent ones stay (or
/// take their defaults on create).
#[derive(Args)]
struct TenantSettings {
    /// An IANA time zone (default Asia/Tokyo).
    #[arg(long)]
    time_zone: Option<String>,
    /// The daily send time, HH:MM (default 09:00).
    #[arg(long)]
    send_time: Option<String>,
    /// to_3rd_birthday (default), to_6th_birthday, to_18th_birthday or end_of_school_year_age_7.
    #[arg(long)]
    span: Option<String>,
    /// A catalog program to run; repeat for several (replaces the list).
    #[arg(long = "program")]
    programs: Vec<String>,
    /// How late a message may still go out, in minutes (operators).
    #[arg(long)]
    lateness_window_minutes: Option<u32>,
    /// Quiet hours as HH:MM-HH:MM (e.g. 21:00-08:00), or `none`.
    #[arg(long)]
    quiet_hours: Option<String>,
    /// A program on a span of its own, PROGRAM=SPAN (e.g.
    /// school-entry=end_of_school_year_age_7); repeat for several (replaces
    /// the map); `none` removes them all.
    #[arg(long = "program-span")]
    program_spans: Vec<String>,
    /// A birth never reported, from 15 days after the due date: continue
    /// (the child track from the due date, the default) or pause.
    #[arg(long)]
    unreported_birth: Option<String>,
    /// Corrected age for preterm children, WEEKS:MONTHS (born at least WEEKS
    /// early: the first MONTHS months counted from the due date), or `none`.
    #[arg(long)]
    corrected_age: Option<String>,
}

impl TenantSettings {
    fn into_json(
        self,
        body: &mut serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<()> {
        use serde_json::{Value, json};
        if let Some(v) = self.time_zone {
            body.insert("time_zone".into(), json!(v));
        }
        if let Some(v) = self.send_time {
            body.insert("send_time".into(), json!(v));
        }
        if let Some(v) = self.span {
            body.insert("span".into(), json!(v));
        }
        if !self.programs.is_empty() {
            body.insert("programs".into(), json!(self.programs));
        }
        if let Some(v) = self.lateness_window_minutes {
            body.insert("lateness_window_minutes".into(), json!(v));
        }
        if let Some(q) = self.quiet_hours {
            let value = if q == "none" {
                Value::Null
            } else {
                let (start, end) = q.split_once('-').ok_or_else(|| {
                    anyhow::anyhow!("--quiet-hours `{q}`: write HH:MM-HH:MM, or `none`")
                })?;
                json!({ "start": start.trim(), "end": end.trim() })
            };
            body.insert("quiet_hours".into(), value);
        }
        if !self.program_spans.is_empty() {
            let mut spans = serde_json::Map::new();
            if self.program_spans != ["none"] {
                for ps in &self.program_spans {
                    let (program, span) = ps.split_once('=').ok_or_else(|| {
                        anyhow::anyhow!("--program-span `{ps}`: write PROGRAM=SPAN, or `none`")
                    })?;
                    spans.insert(program.trim().into(), json!(span.trim()));
                }
            }
            body.insert("program_spans".into(), Value::Object(spans));
        }
        if let Some(v) = self.unreported_birth {
            body.insert("unreported_birth".into(), json!(v));
        }
        if let Some(c) = self.corrected_age {
            let value = if c == "none" {
                Value::Null
            } else {
                let bad = || {
                    anyhow::anyhow!(
                        "--corrected-age `{c}`: write WEEKS:MONTHS (e.g. 4:12), or `none`"
                    )
                };
                let (w, m) = c.split_once(':').ok_or_else(bad)?;
                let w: u32 = w.trim().parse().map_err(|_| bad())?;
                let m: u32 = m.trim().parse().map_err(|_| bad())?;
                json!({ "weeks_early": w, "months": m })
            };
            body.insert("corrected_age".into(), value);
        }
        Ok(())
    }
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant (operators).
    Create {
        /// The slug id, e.g. `otaru`.
        id: String,
        /// The display name, e.g. 小樽市.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: TenantSettings,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a tenant.
    Get {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// List every tenant (operators).
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Change a tenant's settings.
    Update {
        id: String,
        /// A new display name (operators).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        settings: TenantSettings,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Create or replace a channel. Secret config fields left out keep their
    /// stored values.
    Put {
        /// The channel name, e.g. `line`.
        name: String,
        #[arg(long)]
        tenant: String,
        /// The plugin id, e.g. `line`.
        #[arg(long)]
        plugin: String,
        /// Pin a plugin version (default: follow the active version).
        #[arg(long)]
        version: Option<String>,
        /// The config: inline JSON, `@FILE` for a JSON file, or `-` for
        /// standard input. Prefer a file for secrets (shell history).
        #[arg(long, default_value = "{}")]
        config: String,
        /// An approved outbound host (`host[:port]`); repeat for several.
        /// Absent: unchanged.
        #[arg(long = "allowed-host")]
        allowed_hosts: Vec<String>,
        /// Override the plugin's rate per second.
        #[arg(long)]
        rate_per_second: Option<u32>,
        /// Override the plugin's daily quota.
        #[arg(long)]
        daily_quota: Option<u32>,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a channel (secrets redacted).
    Get {
        name: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// List a tenant's channels.
    List {
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        remote: Remote,
    },
    /// Delete a channel.
    Delete {
        name: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Import a catalog file (YAML): each program in it replaces the stored one.
    Import {
        file: PathBuf,
        #[command(flatten)]
        remote: Remote,
    },
    /// Export the catalog as YAML (to standard output, or --output FILE).
    Export {
        /// One program only.
        #[arg(long)]
        program: Option<String>,
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the catalog's programs.
    List {
        #[command(flatten)]
        remote: Remote,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; its text is printed once.
    Create {
        /// operator, tenant_admin or partner.
        #[arg(long)]
        role: String,
        /// The tenant of a tenant_admin token.
        #[arg(long)]
        tenant: Option<String>,
        /// A plugin id of a partner token; repeat for several.
        #[arg(long = "plugin")]
        plugins: Vec<String>,
        #[command(flatten)]
        remote: Remote,
    },
    /// List tokens (never their text).
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// Revoke a token at once.
    Revoke {
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

/// Reads a file, or standard input for `-`.
fn read_input(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))
}

/// A config argument: inline JSON, `@FILE`, or `-`.
fn config_arg(arg: &str) -> anyhow::Result<serde_json::Value> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some(path) => (
            String::from_utf8(read_input(std::path::Path::new(path))?)?,
            path.to_string(),
        ),
        None if arg == "-" => (
            String::from_utf8(read_input(std::path::Path::new("-"))?)?,
            "standard input".to_string(),
        ),
        None => (arg.to_string(), "--config".to_string()),
    };
    // The text may hold secrets: the error names the place, not the text.
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{origin}: not JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(matches!(
        &cli.command,
        Command::Plugin(PluginCommand::Test(_) | PluginCommand::Check(_))
    ));
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

/// `kit`: the partner kit prints a plugin's log lines in its report, with
/// the tested config's secrets masked; they must not reach stderr unmasked.
fn init_tracing(kit: bool) {
    use tracing_subscriber::EnvFilter;
    let mut filter =
        EnvFilter::try_from_env("TAYORI_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    if kit {
        filter = filter.add_directive("tayori::plugin=off".parse().expect("a valid directive"));
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Backup(args) => backup(args).await,
        Command::Schedule(cmd) => schedule(cmd).await,
        Command::Deliveries(cmd) => deliveries(cmd).await,
        Command::Plugin(cmd) => plugin(cmd).await,
        Command::Tenant(cmd) => tenant(cmd).await,
        Command::Channel(cmd) => channel(cmd).await,
        Command::Subscribers(cmd) => subscribers(cmd).await,
        Command::Catalog(cmd) => catalog(cmd).await,
        Command::Token(cmd) => token(cmd).await,
    }
}

async fn tenant(cmd: TenantCommand) -> anyhow::Result<ExitCode> {
    use serde_json::{Map, Value, json};
    match cmd {
        TenantCommand::Create {
            id,
            name,
            settings,
            remote,
        } => {
            let mut body = Map::new();
            body.insert("id".into(), json!(id));
            body.insert("name".into(), json!(name));
            settings.into_json(&mut body)?;
            Client::new(&remote)?
                .json("POST", "/v1/tenants", Some(Value::Object(body)))
                .await
        }
        TenantCommand::Get { id, remote } => {
            Client::new(&remote)?
                .json("GET", &format!("/v1/tenants/{id}"), None)
                .await
        }
        TenantCommand::List { remote } => {
            Client::new(&remote)?.json("GET", "/v1/tenants", None).await
        }
        TenantCommand::Update {
            id,
            name,
            settings,
            remote,
        } => {
            let mut body = Map::new();
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            settings.into_json(&mut body)?;
            Client::new(&remote)?
                .json(
                    "PATCH",
                    &format!("/v1/tenants/{id}"),
                    Some(Value::Object(body)),
                )
                .await
        }
    }
}

async fn channel(cmd: ChannelCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ChannelCommand::Put {
            name,
            tenant,
            plugin,
            version,
            config,
            allowed_hosts,
            rate_per_second,
            daily_quota,
            remote,
        } => {
            let mut body = serde_json::json!({
                "plugin": plugin,
                "version": version,
                "config": config_arg(&config)?,
                "rate_per_second": rate_per_second,
                "daily_quota": daily_quota,
            });
            if !allowed_hosts.is_empty() {
                body["allowed_hosts"] = serde_json::json!(allowed_hosts);
            }
            Client::new(&remote)?
                .json(
                    "PUT",
                    &format!("/v1/tenants/{tenant}/channels/{name}"),
                    Some(body),
                )
                .await
        }
        ChannelCommand::Get {
            name,
            tenant,
            remote,
        } => {
            Client::new(&remote)?
                .json(
                    "GET",
                    &format!("/v1/tenants/{tenant}/channels/{name}"),
                    None,
                )
                .await
        }
        ChannelCommand::List { tenant, remote } => {
            Client::new(&remote)?
                .json("GET", &format!("/v1/tenants/{tenant}/channels"), None)
                .await
        }
        ChannelCommand::Delete {
            name,
            tenant,
            remote,
        } => {
            Client::new(&remote)?
                .json(
                    "DELETE",
                    &format!("/v1/tenants/{tenant}/channels/{name}"),
                    None,
                )
                .await
        }
    }
}

async fn catalog(cmd: CatalogCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CatalogCommand::Import { file, remote } => {
            let bytes = read_input(&file)?;
            let content_type = if file.extension().is_some_and(|e| e == "json") {
                "application/json"
            } else {
                "application/yaml"
            };
            Client::new(&remote)?
                .send_bytes("POST", "/v1/catalog/import", content_type, bytes)
                .await
        }
        CatalogCommand::Export {
            program,
            output,
            remote,
        } => {
            let path = match program {
                Some(p) => format!("/v1/catalog/export?program={p}"),
                None => "/v1/catalog/export".to_string(),
            };
            let client = Client::new(&remote)?;
            match output {
                Some(file) => {
                    let mut buf = Vec::new();
                    let code = client.download(&path, &mut buf).await?;
                    if code == ExitCode::SUCCESS {
                        std::fs::write(&file, buf)
                            .map_err(|e| anyhow::anyhow!("writing {}: {e}", file.display()))?;
                    }
                    Ok(code)
                }
                None => client.download(&path, &mut std::io::stdout().lock()).await,
            }
        }
        CatalogCommand::List { remote } => {
            Client::new(&remote)?
                .json("GET", "/v1/catalog/programs", None)
                .await
        }
    }
}

async fn token(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCommand::Create {
            role,
            tenant,
            plugins,
            remote,
        } => {
            let body = serde_json::json!({ "role": role, "tenant": tenant, "plugins": plugins });
            Client::new(&remote)?
                .json("POST", "/v1/tokens", Some(body))
                .await
        }
        TokenCommand::List { remote } => {
            Client::new(&remote)?.json("GET", "/v1/tokens", None).await
        }
        TokenCommand::Revoke { id, remote } => {
            Client::new(&remote)?
                .json("DELETE", &format!("/v1/tokens/{id}"), None)
                .await
        }
    }
}

/// Percent-encodes a query value.
fn query_value(v: &str) -> String {
    let mut url = reqwest::Url::parse("http://query/").expect("a valid base");
    url.query_pairs_mut().append_pair("v", v);
    url.query().unwrap_or("v=")[2..].to_string()
}

async fn schedule(cmd: ScheduleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ScheduleCommand::Preview {
            tenant,
            subscriber,
            from,
            days,
            remote,
        } => {
            let mut path = format!("/v1/tenants/{tenant}/schedule/preview?from={from}&days={days}");
            if let Some(s) = subscriber {
                path.push_str(&format!("&subscriber={}", query_value(&s)));
            }
            Client::new(&remote)?.json("GET", &path, None).await
        }
    }
}

async fn deliveries(cmd: DeliveriesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DeliveriesCommand::List {
            tenant,
            status,
            channel,
            since,
            limit,
            cursor,
            remote,
        } => {
            let mut path = format!("/v1/tenants/{tenant}/deliveries?limit={limit}");
            for (k, v) in [
                ("status", status),
                ("channel", channel),
                ("since", since),
                ("cursor", cursor),
            ] {
                if let Some(v) = v {
                    path.push_str(&format!("&{k}={}", query_value(&v)));
                }
            }
            Client::new(&remote)?.json("GET", &path, None).await
        }
        DeliveriesCommand::Broadcast {
            tenant,
            body,
            subject,
            audience,
            send_at,
            remote,
        } => {
            let audience: serde_json::Value = serde_json::from_str(&audience)
                .map_err(|e| anyhow::anyhow!("--audience is not JSON: {e}"))?;
            let request = serde_json::json!({
                "content": {"subject": subject, "body": body},
                "audience": audience,
                "send_at": send_at,
            });
            Client::new(&remote)?
                .json(
                    "POST",
                    &format!("/v1/tenants/{tenant}/broadcasts"),
                    Some(request),
                )
                .await
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = ServeConfig {
        database_url: args.database_url,
        admin_token: std::env::var("TAYORI_ADMIN_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        load_bundled: !args.no_bundled_plugins,
        run_scheduler: !args.no_scheduler,
        public_url: args.public_url,
        scheduler: tayori_scheduler::SchedulerConfig {
            dispatch: tayori_scheduler::DispatchConfig {
                lease: std::time::Duration::from_secs(args.lease_seconds.max(1)),
                backoff_base: std::time::Duration::from_secs(args.retry_base_seconds),
                ..tayori_scheduler::DispatchConfig::default()
            },
            ..tayori_scheduler::SchedulerConfig::default()
        },
        ..ServeConfig::default()
    };
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", args.bind))?;
    let launched = launch(config, listener, shutdown_signal()).await?;
    launched.task.await??;
    Ok(ExitCode::SUCCESS)
}

/// `tayori backup FILE`: an online copy of the SQLite database.
async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let bytes = tayori_store::backup(&args.database_url, &args.file).await?;
    println!(
        "{}",
        serde_json::json!({"backup": args.file.display().to_string(), "bytes": bytes})
    );
    eprintln!(
        "The copy holds channel secrets sealed with the host's key (TAYORI_SECRET_KEY, or the \
         key file beside the database, e.g. tayori.key): keep the key with the backup, \
         or the secrets in it cannot be opened."
    );
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
        PluginCommand::New(args) => crate::kit::new_plugin(args),
        PluginCommand::Test(args) => crate::kit::test_plugin(args).await,
        PluginCommand::Check(args) => crate::kit::check_plugin(args).await,
        PluginCommand::Fake(args) => crate::kit::serve_fake(args).await,
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

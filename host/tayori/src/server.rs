//! Starting the service: open the store, the runtime and the plugins (the
//! bundled ones entering through the same upload path as any partner's),
//! then serve the API until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tayori_api::{AppState, Inner, SecretKey};
use tayori_runtime::{Plugins, Runtime, RuntimeConfig, Uploader};
use tokio::net::TcpListener;

/// What `tayori serve` needs.
#[derive(Clone)]
pub struct ServeConfig {
    /// `sqlite://path` or `postgres://...`.
    pub database_url: String,
    /// The operator token from `TAYORI_ADMIN_TOKEN`, if set.
    pub admin_token: Option<String>,
    /// Sandbox limits.
    pub runtime: RuntimeConfig,
    /// Upload the plugins bundled in this binary on start.
    pub load_bundled: bool,
    /// Planner and dispatcher settings.
    pub scheduler: tayori_scheduler::SchedulerConfig,
    /// Run the planner and the dispatcher (off: the API alone, for tests
    /// that drive the pipeline by hand).
    pub run_scheduler: bool,
    /// Where "now" comes from (the system clock but in tests).
    pub clock: Arc<dyn tayori_scheduler::Clock>,
    /// Where parents and platforms reach this service; `None`: the
    /// listening address (`http://127.0.0.1:8080`).
    pub public_url: Option<String>,
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("runtime", &self.runtime)
            .field("load_bundled", &self.load_bundled)
            .field("scheduler", &self.scheduler)
            .field("run_scheduler", &self.run_scheduler)
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            database_url: "sqlite://tayori.db".into(),
            admin_token: None,
            runtime: RuntimeConfig::default(),
            load_bundled: true,
            scheduler: tayori_scheduler::SchedulerConfig::default(),
            run_scheduler: true,
            clock: Arc::new(tayori_scheduler::SystemClock),
            public_url: None,
        }
    }
}

/// A running server.
pub struct Launched {
    pub addr: SocketAddr,
    pub state: AppState,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The first start's one-time console link (printed to stdout), when
    /// the database had no console account.
    pub first_sign_in: Option<String>,
}

/// Opens everything and serves on `listener` until `shutdown` resolves.
/// Channel secrets are sealed with the key from `TAYORI_SECRET_KEY`, or the
/// key file beside the SQLite database (created on first start), or
/// `tayori.key` in the working directory for PostgreSQL.
pub async fn launch(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Launched> {
    launch_with_key(config, None, listener, shutdown).await
}

/// [`launch`] with the key for channel secrets given (`None`: found as
/// [`launch`] does).
pub async fn launch_with_key(
    config: ServeConfig,
    secret_key: Option<SecretKey>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Launched> {
    let store = tayori_store::connect(&config.database_url)
        .await
        .with_context(|| format!("opening the database {}", redact_url(&config.database_url)))?;
    let secrets = match secret_key {
        Some(key) => key,
        None => SecretKey::for_database(&config.database_url)
            .context("loading the key for channel secrets")?,
    };
    check_secret_key(store.as_ref(), &secrets).await?;
    tracing::info!(
        key = secrets.origin(),
        "channel secrets are sealed with the key from this source"
    );
    let runtime = Runtime::new(config.runtime.clone())?;
    let plugins = Plugins::open(runtime, store.clone())
        .await
        .context("loading stored plugins")?;
    if config.load_bundled {
        for (name, bytes) in tayori_plugin_artifacts::BUNDLED {
            let (record, created) = plugins
                .upload(bytes, &Uploader::Operator)
                .await
                .with_context(|| format!("loading the bundled plugin `{name}`"))?;
            if created {
                tracing::info!(plugin = %record.plugin_id, version = %record.version, "bundled plugin published");
            }
        }
    }
    if config.admin_token.is_none() {
        first_start_token(store.as_ref()).await?;
    }
    // Metrics recorded from now on (the scheduler's too) reach /metrics.
    tayori_api::prometheus();
    let decrypt_key = secrets.clone();
    let senders = tayori_scheduler::PluginSenders::new(
        plugins.clone(),
        Arc::new(move |channel| {
            decrypt_key
                .channel_config(channel)
                .map_err(|e| format!("cannot open the channel's secrets: {e}"))
        }),
    );
    let senders: Arc<dyn tayori_scheduler::Senders> = Arc::new(senders);
    // Messages sent now (a confirmation mail, an answer in the chat) go
    // through the same senders as the schedule's.
    let messenger: Arc<dyn tayori_core::Messenger> = Arc::new(
        tayori_scheduler::PluginMessenger::new(store.clone(), senders.clone()),
    );
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    // Every email carries Tayori's own one-click stop link (RFC 8058),
    // signed with the key the parents' pages check it with.
    let stop_links = tayori_scheduler::StopLinks::new(
        tayori_core::LinkSigner::new(secrets.derive("links")),
        &public_url,
    );
    let scheduler = tayori_scheduler::Scheduler::with_stop_links(
        store.clone(),
        senders,
        config.clock.clone(),
        config.scheduler.clone(),
        Some(stop_links),
    );
    let running = config.run_scheduler.then(|| scheduler.start());
    let watcher = tokio::spawn(follow_plugin_changes(store.clone(), plugins.clone()));
    let closing = store.clone();
    let state = AppState(Arc::new(Inner {
        store,
        plugins,
        admin_token_digest: config.admin_token.as_deref().map(tayori_api::token_digest),
        secrets,
        scheduler,
        tenant_cache: Default::default(),
        public_url,
        messenger,
    }));
    // Fourteen days after a due date with no birth reported, the parents
    // are asked once in their chat (with the scheduler, on the same nodes).
    let (stop_questions, questions_stopped) = tokio::sync::watch::channel(false);
    let questions = config.run_scheduler.then(|| {
        tokio::spawn(tayori_api::birth_question::run(
            state.clone(),
            questions_stopped,
        ))
    });
    // The parents' pages (registration, confirmation, stop links) beside
    // the API; POSTs there are rate-limited by the client's address.
    // The console at `/` (sign-in, dashboards, team, audit log).
    let app = tayori_api::router(state.clone())
        .merge(tayori_parents::router(state.clone()))
        .merge(tayori_console::router(state.clone()));
    // No console account yet: a one-time link makes the first operator.
    // Printed to the terminal (stdout), never to the log.
    let first_sign_in = tayori_console::first_start_link(
        state.store.as_ref(),
        &state.public_url,
        config.clock.now(),
    )
    .await
    .context("making the first console sign-in link")?;
    if let Some(link) = &first_sign_in {
        println!(
            "Open the console and create the first operator account (this link works once, for {} hours): {link}",
            tayori_console::FIRST_LINK_HOURS
        );
    }
    let task = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP");
        watcher.abort();
        let _ = stop_questions.send(true);
        if let Some(questions) = questions {
            let _ = questions.await;
        }
        if let Some(running) = running {
            running.shutdown().await;
        }
        // Nothing writes any more (requests answered, in-flight batches
        // completed): SQLite's log goes into the database file.
        match closing.close().await {
            Ok(()) => tracing::info!("database closed"),
            Err(e) => tracing::error!(error = %e, "cannot close the database cleanly"),
        }
        served
    });
    tracing::info!(%addr, "tayori listening");
    Ok(Launched {
        addr,
        state,
        task,
        first_sign_in,
    })
}

/// Refuses to start with a key that opens none of the stored channel
/// secrets (a forgotten `TAYORI_SECRET_KEY`, a lost key file): every such
/// channel would fail, and a new key would seal new secrets beside
/// unreadable ones. A few sealed blobs are tried; one that opens is enough.
async fn check_secret_key(store: &dyn tayori_core::Store, key: &SecretKey) -> anyhow::Result<()> {
    const SAMPLES: usize = 3;
    let mut tried = 0;
    for tenant in store.tenants().await? {
        for channel in store.channels(&tenant.id).await? {
            if channel.secrets_ciphertext.is_empty() {
                continue;
            }
            if key
                .open(
                    &channel.tenant_id,
                    &channel.name,
                    &channel.secrets_ciphertext,
                )
                .is_ok()
            {
                return Ok(());
            }
            tried += 1;
            if tried == SAMPLES {
                break;
            }
        }
        if tried == SAMPLES {
            break;
        }
    }
    if tried == 0 {
        return Ok(());
    }
    anyhow::bail!(
        "the channel secrets in this database cannot be opened with the key from {}: set TAYORI_SECRET_KEY to the key they were sealed with, or restore the key file",
        key.origin()
    )
}

/// Without `TAYORI_ADMIN_TOKEN`, the first start creates an operator token
/// and prints it once (to the terminal, never to the log); it is stored
/// hashed like every other token.
async fn first_start_token(store: &dyn tayori_core::Store) -> anyhow::Result<()> {
    let tokens = store.tokens(None).await?;
    if tokens
        .iter()
        .any(|t| t.role == tayori_core::Role::Operator && t.revoked_at.is_none())
    {
        return Ok(());
    }
    let token = tayori_api::new_token();
    let stored = store
        .insert_token(&tayori_core::NewApiToken {
            token_hash: tayori_api::token_digest(&token),
            role: tayori_core::Role::Operator,
            tenant_id: None,
            plugin_ids: Vec::new(),
            label: None,
        })
        .await?;
    eprintln!(
        "\nNo TAYORI_ADMIN_TOKEN is set and the database has no operator token, so one was created.\n\
         It is shown this once; keep it (id {}):\n\n    export TAYORI_TOKEN={token}\n",
        stored.id
    );
    Ok(())
}

/// Keeps this node's loaded plugins in step with the database: another node
/// may publish, activate or roll back a version (PostgreSQL announces it at
/// once; otherwise the generation is compared every 10 seconds).
async fn follow_plugin_changes(store: Arc<dyn tayori_core::Store>, plugins: Arc<Plugins>) {
    let mut seen = store.plugin_generation().await.ok();
    loop {
        store
            .wait_plugin_change(std::time::Duration::from_secs(10))
            .await;
        match store.plugin_generation().await {
            Ok(generation) if seen.as_ref() != Some(&generation) => match plugins.refresh().await {
                Ok(()) => {
                    tracing::info!("plugins changed in the database: reloaded");
                    seen = Some(generation);
                }
                Err(e) => tracing::error!(error = %e, "cannot reload changed plugins"),
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the plugin generation"),
        }
    }
}

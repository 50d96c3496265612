//! The real `tayori serve` as a child process: the binary cargo built for
//! this test target, configured through its environment as an operator
//! would, on a free loopback port, its output in a log file.
//!
//! Crash tests kill it with SIGKILL ([`ServeProcess::kill`]: no shutdown
//! hook runs, nothing is flushed) and start it again on the same database.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The line the server logs once it accepts connections.
const LISTENING: &str = "tayori listening";
/// How long a start may take to listen: the first start on a
/// fresh database compiles the bundled plugins (seconds on 2 cores, more
/// while other builds run).
const START_DEADLINE: Duration = Duration::from_secs(120);
/// How long a graceful stop (SIGTERM) may take.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Bytes of the log shown when a start fails.
const LOG_TAIL: u64 = 4_000;

/// How to run `tayori serve`.
#[derive(Clone)]
pub struct ServeSpec {
    /// `TAYORI_DATABASE_URL`.
    pub database_url: String,
    /// `TAYORI_ADMIN_TOKEN`.
    pub admin_token: String,
    /// `TAYORI_SECRET_KEY` (64 hex digits).
    pub secret_key: String,
    /// `TAYORI_LEASE_SECONDS` (`None`: `tayori serve`'s default).
    pub lease_seconds: Option<u64>,
    /// `TAYORI_RETRY_BASE_SECONDS` (`None`: the default).
    pub retry_base_seconds: Option<u64>,
    /// The working directory (and where the log file goes).
    pub dir: PathBuf,
    /// The log file's name in `dir` (appended to by every start).
    pub log_name: String,
}

impl std::fmt::Debug for ServeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeSpec")
            .field("dir", &self.dir)
            .field("lease_seconds", &self.lease_seconds)
            .finish_non_exhaustive()
    }
}

/// A fresh random secret key (64 hex digits), as `openssl rand -hex 32`.
pub fn random_secret_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A fresh random operator token.
pub fn random_token() -> String {
    format!("op-{}", uuid::Uuid::new_v4().simple())
}

/// A running `tayori serve`.
pub struct ServeProcess {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    child: Child,
    admin_token: String,
    log: PathBuf,
    /// Set when the server logs [`LISTENING`].
    listening: watch::Receiver<bool>,
    /// The tasks copying the server's output into the log; they end when
    /// the process does.
    copying: Vec<JoinHandle<()>>,
}

impl ServeProcess {
    /// Starts `tayori serve` and returns once the process runs (without
    /// waiting for it to listen; see [`Self::ready`]). Its output is copied
    /// line by line into the log file.
    pub fn spawn(spec: &ServeSpec) -> Self {
        let log = spec.dir.join(&spec.log_name);
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tayori"));
        // Nothing of the test's own environment reaches the server but
        // what is set here.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TAYORI_") {
                command.env_remove(name);
            }
        }
        if let Some(lease) = spec.lease_seconds {
            command.env("TAYORI_LEASE_SECONDS", lease.to_string());
        }
        if let Some(base) = spec.retry_base_seconds {
            command.env("TAYORI_RETRY_BASE_SECONDS", base.to_string());
        }
        let mut child = command
            .arg("serve")
            .current_dir(&spec.dir)
            .env("TAYORI_DATABASE_URL", &spec.database_url)
            .env("TAYORI_BIND", format!("127.0.0.1:{port}"))
            .env("TAYORI_ADMIN_TOKEN", &spec.admin_token)
            .env("TAYORI_SECRET_KEY", &spec.secret_key)
            .env("TAYORI_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", env!("CARGO_BIN_EXE_tayori")));
        let (listened, listening) = watch::channel(false);
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let copying = vec![
            tokio::spawn(copy_lines(stdout, log.clone(), listened.clone())),
            tokio::spawn(copy_lines(stderr, log.clone(), listened)),
        ];
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            http: reqwest::Client::new(),
            child,
            admin_token: spec.admin_token.clone(),
            log,
            listening,
            copying,
        }
    }

    /// Starts `tayori serve` and waits until it listens. A start that lost
    /// its port to another program is tried again on another port.
    pub async fn start(spec: &ServeSpec) -> Self {
        for _ in 0..3 {
            let mut process = Self::spawn(spec);
            match process.ready().await {
                Ok(()) => return process,
                Err(tail) if tail.contains("binding 127.0.0.1:") => continue,
                Err(tail) => panic!("`tayori serve` did not start:\n{tail}"),
            }
        }
        panic!("`tayori serve` found no free port in three tries")
    }

    /// Waits until the server logs that it listens; the log's tail if the
    /// process exits first or the deadline passes.
    pub async fn ready(&mut self) -> Result<(), String> {
        let mut listening = self.listening.clone();
        let started = tokio::time::timeout(START_DEADLINE, async {
            tokio::select! {
                // `Err`: the output ended without the line, the process is gone.
                listened = listening.wait_for(|l| *l) => listened.is_ok(),
                _ = self.child.wait() => false,
            }
        })
        .await;
        match started {
            Ok(true) => Ok(()),
            Ok(false) => {
                let status = self.child.wait().await.expect("process status");
                Err(format!(
                    "it exited ({status}); its log ends:\n{}",
                    self.finished_log_tail().await
                ))
            }
            Err(_) => {
                self.kill().await;
                Err(format!(
                    "it did not listen within {START_DEADLINE:?}; its log ends:\n{}",
                    self.finished_log_tail().await
                ))
            }
        }
    }

    /// The log's tail once the process has exited and its output is copied.
    async fn finished_log_tail(&mut self) -> String {
        for task in self.copying.drain(..) {
            let _ = task.await;
        }
        self.log_tail()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process runs")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request with the operator token.
    pub fn op(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token)
    }

    /// SIGKILL (what `Child::kill` sends on unix), then reaps the process.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then waits for the graceful shutdown (the dispatcher
    /// finishes the batches it has in flight).
    pub async fn stop(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
        if tokio::time::timeout(STOP_DEADLINE, self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
            panic!(
                "`tayori serve` did not stop within {STOP_DEADLINE:?}; its log ends:\n{}",
                self.finished_log_tail().await
            );
        }
    }

    /// The whole log (every start of this spec's log file).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last bytes of the log (every start of this spec's log file).
    pub fn log_tail(&self) -> String {
        tail(&self.log, LOG_TAIL)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // Never leave a server running after its test (Tokio reaps it).
        let _ = self.child.start_kill();
    }
}

/// Appends `output`'s lines to the log file, and marks `listened` when the
/// server logs [`LISTENING`]. Ends with the output (the process exited).
async fn copy_lines(output: impl AsyncRead + Unpin, log: PathBuf, listened: watch::Sender<bool>) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("cannot open the log file {}: {e}", log.display()));
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let _ = writeln!(file, "{line}");
        if line.contains(LISTENING) {
            listened.send_replace(true);
        }
    }
}

/// A port free on 127.0.0.1 when asked (the server binds it right after;
/// [`ServeProcess::start`] tries again if another program took it).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The last `bytes` of a file, as text.
pub fn tail(path: &Path, bytes: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(bytes)));
    let mut text = Vec::new();
    let _ = file.read_to_end(&mut text);
    String::from_utf8_lossy(&text).into_owned()
}

//! The CLI's HTTP client: sends one request to a running host, prints the
//! JSON answer, and turns an error answer into a message and exit code 1.

use std::process::ExitCode;

use crate::cli::Remote;

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(remote: &Remote) -> anyhow::Result<Self> {
        let token = remote
            .token
            .clone()
            .or_else(|| std::env::var("TAYORI_ADMIN_TOKEN").ok())
            .filter(|t| !t.is_empty());
        Ok(Self {
            http: reqwest::Client::builder().build()?,
            base: remote.server.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn request(&self, method: &str, path: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        Ok(rb)
    }

    pub async fn json(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<ExitCode> {
        let mut rb = self.request(method, path)?;
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        self.finish(rb).await
    }

    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<ExitCode> {
        let rb = self
            .request(method, path)?
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        self.finish(rb).await
    }

    /// Sends a GET and writes the answer's body to `out` as it is (a file
    /// export), or reports the error answer.
    pub async fn download(
        &self,
        path: &str,
        out: &mut dyn std::io::Write,
    ) -> anyhow::Result<ExitCode> {
        let resp = self
            .request("GET", path)?
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the host at {}: {e}", self.base))?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            out.write_all(&bytes)?;
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        report_error(status, &String::from_utf8_lossy(&bytes));
        Ok(ExitCode::FAILURE)
    }

    async fn finish(&self, rb: reqwest::RequestBuilder) -> anyhow::Result<ExitCode> {
        let resp = rb
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the host at {}: {e}", self.base))?;
        let status = resp.status();
        let text = resp.text().await?;
        let value: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            match value {
                Some(v) => println!("{}", serde_json::to_string_pretty(&v)?),
                None => println!("{text}"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        report_error(status, &text);
        Ok(ExitCode::FAILURE)
    }
}

/// Prints an error answer: its message and code when it has our JSON shape
/// (a multi-line message, such as a CSV import's list of bad lines, stays
/// one line per problem).
fn report_error(status: reqwest::StatusCode, text: &str) {
    let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let message = value
        .as_ref()
        .and_then(|v| v.get("error"))
        .map(|e| {
            let message = e["message"].as_str().unwrap_or("");
            let code = e["code"].as_str().unwrap_or("");
            if message.contains('\n') {
                format!("({code})\n{message}")
            } else {
                format!("{message} ({code})")
            }
        })
        .unwrap_or_else(|| text.to_string());
    eprintln!("error: {status}: {message}");
}

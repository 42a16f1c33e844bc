//! Shared HTTP machinery for every provider.
//!
//! - [`Client`] sends requests with retries: exponential backoff with
//!   jitter that honours `Retry-After` and rate-limit headers.
//! - [`Client::download`] streams a body into a file while hashing it,
//!   resumes with `Range`, follows redirects by hand (carrying no header but
//!   `Range`, so tokens never reach signed storage on another host), detects
//!   stalls, and succeeds only when every byte arrived and verified.
//! - [`file_body`] streams a file (or a slice of it) as an upload body and
//!   reports progress.

mod checksum;
mod download;
mod redact;
mod retry;
mod upload;

pub use checksum::{Algorithm, Expected, Hasher};
pub use download::{Download, DownloadOutcome};
pub use redact::{redact_text, RedactedUrl};
pub use retry::{describe_reqwest_error, RetryPolicy};
pub use upload::{file_body, ProgressFn};

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

/// Why a transfer failed. Messages never contain secrets: URLs are shown
/// through [`RedactedUrl`].
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{method} {url}: HTTP {status}{}", detail_suffix(.detail))]
    Status {
        method: String,
        url: RedactedUrl,
        status: StatusCode,
        detail: String,
    },
    #[error("{url}: network error: {message}")]
    Network { url: RedactedUrl, message: String },
    #[error("{url}: no data for {seconds} s (stalled)")]
    Stalled { url: RedactedUrl, seconds: u64 },
    #[error("{url}: got {got} bytes, expected {expected}")]
    Truncated {
        url: RedactedUrl,
        got: u64,
        expected: u64,
    },
    #[error("{url}: {algorithm} checksum mismatch (expected {expected}, got {got})")]
    Checksum {
        url: RedactedUrl,
        algorithm: Algorithm,
        expected: String,
        got: String,
    },
    #[error("{url}: {message}")]
    Protocol { url: RedactedUrl, message: String },
    /// The cause is the source: shown by whoever prints the error chain.
    #[error("local file")]
    Io(#[from] std::io::Error),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl TransferError {
    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An HTTP client with annexa's defaults: no automatic redirects (they are
/// followed by hand, see [`Client::download`]), rustls, connection reuse,
/// and a retry policy.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    policy: RetryPolicy,
    /// Bandwidth limit for downloads in bytes per second (`ANNEXA_MAX_RATE`).
    max_rate: Option<u64>,
}

impl Client {
    pub fn new(policy: RetryPolicy) -> Result<Self, TransferError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("annexa/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
        let max_rate = std::env::var("ANNEXA_MAX_RATE")
            .ok()
            .and_then(|v| parse_size(&v));
        Ok(Self {
            http,
            policy,
            max_rate,
        })
    }

    /// The underlying reqwest client, for building requests.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Sends the request `build` makes, retrying on network errors, 429 and
    /// 5xx. `build` is called once per attempt so bodies can be recreated.
    /// Returns the first response that is not retried, whatever its status.
    pub async fn send<F>(&self, build: F) -> Result<Response, TransferError>
    where
        F: Fn() -> RequestBuilder,
    {
        retry::send_with_retry(&self.policy, build).await
    }

    /// Like [`Client::send`], but a non-success status is an error that
    /// carries the start of the body (redacted).
    pub async fn send_ok<F>(&self, build: F) -> Result<Response, TransferError>
    where
        F: Fn() -> RequestBuilder,
    {
        let response = self.send(build).await?;
        error_for_status(response).await
    }
}

/// Turns an error status into [`TransferError::Status`] with the start of
/// the body as detail.
pub async fn error_for_status(response: Response) -> Result<Response, TransferError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let url = RedactedUrl::new(response.url().clone());
    let body = response.text().await.unwrap_or_default();
    Err(TransferError::Status {
        method: "request".into(),
        url,
        status,
        detail: summarize_body(&body),
    })
}

/// The start of an error body, on one line, with URLs redacted.
pub fn summarize_body(body: &str) -> String {
    let flat: String = body
        .chars()
        .take(400)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    redact_text(flat.trim())
}

/// Parses sizes such as `1048576`, `64k`, `5MiB`, `1G`.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("5MiB"), Some(5 << 20));
        assert_eq!(parse_size("2 GB"), Some(2 << 30));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("99999999999999T"), None);
    }
}

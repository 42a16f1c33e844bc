//! Shared HTTP machinery for every provider.
//!
//! - [`Client`] sends requests with retries: exponential backoff with
//!   jitter that honours `Retry-After` and rate-limit headers.
//! - [`Client::download`] streams a body into a file while hashing it,
//!   resumes with `Range`, follows redirects by hand (carrying no header but
//!   `Range`, so tokens never reach signed storage on another host), detects
//!   stalls, and succeeds only when every byte arrived and verified.
//! - [`Client::upload`] is the one upload path: the body (a file, a byte
//!   range of one, or a multipart form with a streamed file part) is made
//!   fresh by a factory for every attempt and streamed, never held in
//!   memory; progress is absolute bytes of the whole transfer (parallel
//!   parts share a counter, a retried attempt takes its bytes back); an
//!   optional digest of the bytes sent is checked against what the server
//!   reports (S3's ETag); retries, `Retry-After` and rate-limit waits and
//!   the stall timeout are the same as for downloads (one `Retrier`).
//! - Error bodies are read bounded ([`ERROR_BODY_LIMIT`]), never whole;
//!   answers read into memory are capped in size and time ([`read_limited`]).

mod body;
mod breaker;
mod checksum;
mod download;
mod redact;
mod retry;
mod upload;

pub use body::read_limited;
pub(crate) use breaker::notice;
pub use breaker::{with_notices, Endpoint, NoticeSink, Unreachable, REPROBE_AFTER};
pub use checksum::{hash_file, hash_file_blocking, Algorithm, Expected, Hasher};
pub use download::{Download, DownloadOutcome};
pub use redact::{redact_text, register_secret, scrub_secrets, RedactedUrl};
pub use retry::{describe_reqwest_error, Poll, PollSchedule, RetryPolicy};
pub(crate) use retry::{is_transient, server_wait};
pub use upload::{BodySource, FileRange, FormField, ProgressFn, ServerDigestFn, Upload};

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

/// Why a transfer failed. Messages never contain secrets: URLs are shown
/// through [`RedactedUrl`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// The endpoint could not be reached, now or (`earlier`: seconds ago)
    /// by an earlier request of this process, which is why this one was
    /// not sent.
    #[error(
        "{endpoint}: {}{}{}",
        breaker::describe(*.cause, endpoint.is_https(), *.seconds),
        detail_in_parens(.detail),
        earlier_suffix(*.earlier)
    )]
    Unreachable {
        endpoint: Endpoint,
        cause: Unreachable,
        /// The wait that ran out, for the timeouts.
        seconds: u64,
        /// What the network stack said, for the causes it helps with.
        detail: String,
        earlier: Option<u64>,
    },
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
    /// An answer read into memory (JSON, XML) longer than its cap: the
    /// rest is never read.
    #[error("{url}: the answer is longer than {limit} bytes; stopped reading it")]
    TooLarge { url: RedactedUrl, limit: usize },
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

fn detail_in_parens(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

fn earlier_suffix(earlier: Option<u64>) -> String {
    match earlier {
        Some(seconds) => format!(
            "; so it was {seconds} s ago, and it is not tried again for {} s",
            REPROBE_AFTER.as_secs()
        ),
        None => String::new(),
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
            // Never longer than the stall timeout: an unreachable host
            // costs one wait, and the shorter one.
            .connect_timeout(policy.stall_timeout.min(Duration::from_secs(30)))
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
    if response.status().is_success() {
        return Ok(response);
    }
    Err(status_error("request", response).await)
}

/// Most of an error body we read: enough for any service's message, never
/// a whole (possibly huge or endless) body.
pub const ERROR_BODY_LIMIT: usize = 64 << 10;

/// How long reading an error body may wait for its next bytes.
const ERROR_BODY_WAIT: Duration = Duration::from_secs(30);

/// [`TransferError::Status`] for an error response, with the start of its
/// body (read with a bounded size and time) as detail.
pub(crate) async fn status_error(method: &str, response: Response) -> TransferError {
    let status = response.status();
    let url = RedactedUrl::new(response.url().clone());
    let body = read_error_body(response).await;
    TransferError::Status {
        method: method.to_string(),
        url,
        status,
        detail: summarize_body(&body),
    }
}

/// The first [`ERROR_BODY_LIMIT`] bytes of a response body as text; what
/// arrives later, or after a pause, is not waited for.
pub async fn read_error_body(mut response: Response) -> String {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match tokio::time::timeout(ERROR_BODY_WAIT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let room = ERROR_BODY_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            _ => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The start of an error body, on one line, with URLs redacted and known
/// secrets masked (before it is cut, so no part of one is left).
pub fn summarize_body(body: &str) -> String {
    let flat: String = scrub_secrets(body)
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
    fn no_part_of_a_registered_secret_survives_the_cut() {
        let secret = "summarize-secret-0123456789";
        register_secret(secret);
        let body = format!("{}{secret}", "x".repeat(390));
        let shown = summarize_body(&body);
        assert!(!shown.contains(&secret[..10]), "{shown}");
    }

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

//! Retries with exponential backoff that respect what the server asks for.

use std::time::{Duration, SystemTime};

use backon::BackoffBuilder;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};

use super::{RedactedUrl, TransferError};

/// How hard to try before giving up.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: usize,
    /// First backoff delay; later ones grow exponentially, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Longest wait a server's `Retry-After` or rate-limit reset may ask for;
    /// beyond that we fail with a message rather than hang.
    pub max_server_wait: Duration,
    /// A transfer that receives nothing for this long is restarted, and a
    /// server that sends no response headers for this long is given up on
    /// (and retried): every request ends in bounded time.
    /// `ANNEXA_TIMEOUT=SECONDS` sets it (default 60).
    pub stall_timeout: Duration,
}

/// `ANNEXA_TIMEOUT` in whole seconds, when set to a positive number.
fn timeout_from_env() -> Option<Duration> {
    std::env::var("ANNEXA_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_server_wait: Duration::from_secs(15 * 60),
            stall_timeout: timeout_from_env().unwrap_or(Duration::from_secs(60)),
        }
    }
}

impl RetryPolicy {
    /// The backoff delays between attempts.
    pub fn delays(&self) -> impl Iterator<Item = Duration> {
        backon::ExponentialBuilder::default()
            .with_min_delay(self.base_delay)
            .with_max_delay(self.max_delay)
            .with_jitter()
            .with_max_times(self.attempts.saturating_sub(1))
            .build()
    }

    /// Looks with `look` until it finds [`Poll::Done`], waiting as
    /// `schedule` says between looks: the one wait-for-a-service loop
    /// (a dataset lock, a file being processed, a locked upload part).
    /// `Ok(Err(w))` when the schedule ran out, with the last look's `w`;
    /// an error of a look ends the poll at once.
    pub async fn poll_until<T, W, E, F, Fut>(
        &self,
        schedule: PollSchedule,
        mut look: F,
    ) -> Result<Result<T, W>, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Poll<T, W>, E>>,
    {
        let started = std::time::Instant::now();
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(schedule.first)
            .with_max_delay(schedule.max)
            .with_jitter()
            .without_max_times()
            .build();
        let mut looks = 0usize;
        loop {
            looks += 1;
            let waiting = match look().await? {
                Poll::Done(t) => return Ok(Ok(t)),
                Poll::NotYet(w) => w,
            };
            let delay = delays.next().unwrap_or(schedule.max);
            let out_of_time = schedule
                .deadline
                .is_some_and(|d| started.elapsed() + delay >= d);
            if out_of_time || schedule.looks.is_some_and(|n| looks >= n) {
                return Ok(Err(waiting));
            }
            tracing::debug!(?delay, "not yet; looking again");
            tokio::time::sleep(delay).await;
        }
    }
}

/// What one look at a service found while polling: done, or not yet
/// (with what to report should the wait run out).
#[derive(Debug)]
pub enum Poll<T, W> {
    Done(T),
    NotYet(W),
}

/// How a poll waits between looks: from `first`, doubling (with jitter, so
/// parallel jobs do not come back at once) up to `max`; it gives up when
/// the next wait would pass `deadline` or after `looks` looks.
#[derive(Debug, Clone, Copy)]
pub struct PollSchedule {
    pub first: Duration,
    pub max: Duration,
    pub deadline: Option<Duration>,
    pub looks: Option<usize>,
}

/// Whether a status is worth retrying.
pub(crate) fn is_transient(status: StatusCode, headers: &HeaderMap) -> bool {
    match status {
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::INTERNAL_SERVER_ERROR
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT
        | StatusCode::REQUEST_TIMEOUT => true,
        // GitHub signals an exhausted rate limit with 403 and remaining 0,
        // and a secondary rate limit with 403 and `Retry-After`.
        StatusCode::FORBIDDEN => {
            header_u64(headers, "x-ratelimit-remaining") == Some(0)
                || headers.contains_key(reqwest::header::RETRY_AFTER)
        }
        _ => false,
    }
}

/// A rate-limit reset at least this large is an epoch time (2001-09-09),
/// smaller ones are seconds to wait.
const EPOCH_THRESHOLD: u64 = 1_000_000_000;

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long the server asked us to wait: `Retry-After` (seconds or an HTTP
/// date), else a rate-limit reset time when no requests remain.
pub(crate) fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    if let Some(value) = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(when) = httpdate::parse_http_date(value) {
            return Some(
                when.duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO),
            );
        }
    }
    let remaining = header_u64(headers, "x-ratelimit-remaining")
        .or_else(|| header_u64(headers, "ratelimit-remaining"));
    if remaining == Some(0) {
        if let Some(reset) = header_u64(headers, "x-ratelimit-reset") {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            // GitHub sends an epoch time, some services seconds to wait;
            // an epoch already past (clock skew) means "now".
            let wait = if reset >= EPOCH_THRESHOLD {
                reset.saturating_sub(now)
            } else {
                reset.min(3600)
            };
            return Some(Duration::from_secs(wait));
        }
        if let Some(reset) = header_u64(headers, "ratelimit-reset") {
            return Some(Duration::from_secs(reset));
        }
    }
    None
}

/// The wait before the next attempt: the larger of our backoff and what
/// the server asked for, or an error when the server asks for too long.
pub(crate) fn next_wait(
    policy: &RetryPolicy,
    backoff: Duration,
    headers: Option<&HeaderMap>,
) -> Result<Duration, Duration> {
    let asked = headers.and_then(server_wait).unwrap_or(Duration::ZERO);
    if asked > policy.max_server_wait {
        return Err(asked);
    }
    Ok(backoff.max(asked))
}

/// One retry budget, shared by every request loop (plain requests,
/// downloads, uploads): the policy's backoff delays, stretched to what the
/// server asks for with `Retry-After` or rate-limit headers.
pub(crate) struct Retrier<'a> {
    policy: &'a RetryPolicy,
    delays: Box<dyn Iterator<Item = Duration> + Send + Sync + 'a>,
}

impl<'a> Retrier<'a> {
    pub(crate) fn new(policy: &'a RetryPolicy) -> Self {
        Self {
            policy,
            delays: Box::new(policy.delays()),
        }
    }

    /// Decides after an attempt that got `response`. `Ok(true)`: the status
    /// is transient and we waited; try again. `Ok(false)`: hand the
    /// response back (not transient, or no attempts left). An error when
    /// the server asks us to wait longer than the policy allows.
    pub(crate) async fn after_response(
        &mut self,
        method: &str,
        response: &Response,
    ) -> Result<bool, TransferError> {
        if !is_transient(response.status(), response.headers()) {
            return Ok(false);
        }
        let Some(backoff) = self.delays.next() else {
            return Ok(false);
        };
        let url = RedactedUrl::new(response.url().clone());
        match next_wait(self.policy, backoff, Some(response.headers())) {
            Ok(wait) => {
                tracing::debug!(%url, status = %response.status(), ?wait, "retrying");
                tokio::time::sleep(wait).await;
                Ok(true)
            }
            Err(asked) => Err(TransferError::Status {
                method: method.to_string(),
                url,
                status: response.status(),
                detail: format!(
                    "the server asks to wait {} s before retrying; try again later",
                    asked.as_secs()
                ),
            }),
        }
    }

    /// Waits after a failed attempt the caller considers worth retrying
    /// (network error, stall, ...); gives the error back when no attempts
    /// are left.
    pub(crate) async fn after_failure(
        &mut self,
        error: TransferError,
    ) -> Result<(), TransferError> {
        let Some(backoff) = self.delays.next() else {
            return Err(error);
        };
        let wait = next_wait(self.policy, backoff, None).unwrap_or(backoff);
        tracing::debug!(%error, ?wait, "retrying");
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

pub(crate) async fn send_with_retry<F>(
    policy: &RetryPolicy,
    build: F,
) -> Result<Response, TransferError>
where
    F: Fn() -> RequestBuilder,
{
    let mut retrier = Retrier::new(policy);
    loop {
        let (client, request) = build().build_split();
        let request =
            request.map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
        let url = RedactedUrl::new(request.url().clone());
        let method = request.method().to_string();
        let answer = tokio::time::timeout(policy.stall_timeout, client.execute(request)).await;
        let Ok(answer) = answer else {
            // Accepted, then silent: no headers within the stall timeout.
            retrier
                .after_failure(TransferError::Stalled {
                    url,
                    seconds: policy.stall_timeout.as_secs(),
                })
                .await?;
            continue;
        };
        match answer {
            Ok(response) => {
                if !retrier.after_response(&method, &response).await? {
                    return Ok(response);
                }
            }
            Err(error) => {
                let message = describe_reqwest_error(&error);
                retrier
                    .after_failure(TransferError::Network { url, message })
                    .await?;
            }
        }
    }
}

/// A reqwest error without the URL (reqwest includes it unredacted).
pub fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "could not connect".to_string()
    } else if error.is_body() || error.is_decode() {
        "connection broke while reading the response".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&super::redact_text(&inner.to_string()));
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_in_bounded_time() {
        // Accepts connections, reads nothing, answers nothing.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let held = std::thread::spawn(move || {
            let mut open = Vec::new();
            for stream in listener.incoming().take(2) {
                open.push(stream);
            }
            std::thread::sleep(Duration::from_secs(5));
        });
        let policy = RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
            max_server_wait: Duration::from_secs(1),
            stall_timeout: Duration::from_millis(300),
        };
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let result = send_with_retry(&policy, || client.get(&url)).await;
        assert!(
            matches!(result, Err(TransferError::Stalled { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(held);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_and_date() {
        assert_eq!(
            server_wait(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        let soon = SystemTime::now() + Duration::from_secs(30);
        let wait =
            server_wait(&headers(&[("retry-after", &httpdate::fmt_http_date(soon))])).unwrap();
        assert!(wait <= Duration::from_secs(30) && wait >= Duration::from_secs(28));
    }

    #[test]
    fn rate_limit_reset_when_exhausted() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &(now + 12).to_string()),
        ]);
        let wait = server_wait(&h).unwrap();
        assert!(wait >= Duration::from_secs(11) && wait <= Duration::from_secs(12));
        assert!(is_transient(StatusCode::FORBIDDEN, &h));
        // A reset already past is no wait at all, not an hour.
        let past = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &(now - 5).to_string()),
        ]);
        assert_eq!(server_wait(&past), Some(Duration::ZERO));
        // GitHub's secondary rate limit: 403 with Retry-After.
        let secondary = headers(&[("x-ratelimit-remaining", "4000"), ("retry-after", "3")]);
        assert!(is_transient(StatusCode::FORBIDDEN, &secondary));
        assert_eq!(server_wait(&secondary), Some(Duration::from_secs(3)));
        let not_exhausted = headers(&[("x-ratelimit-remaining", "10")]);
        assert_eq!(server_wait(&not_exhausted), None);
        assert!(!is_transient(StatusCode::FORBIDDEN, &not_exhausted));
    }

    #[test]
    fn too_long_server_wait_is_an_error() {
        let policy = RetryPolicy::default();
        let h = headers(&[("retry-after", "86400")]);
        assert!(next_wait(&policy, Duration::from_millis(1), Some(&h)).is_err());
        let h = headers(&[("retry-after", "2")]);
        assert_eq!(
            next_wait(&policy, Duration::from_millis(1), Some(&h)),
            Ok(Duration::from_secs(2))
        );
    }

    #[tokio::test]
    async fn polls_end_when_done_or_out_of_looks_or_time() {
        let policy = RetryPolicy::default();
        let fast = PollSchedule {
            first: Duration::from_millis(1),
            max: Duration::from_millis(2),
            deadline: None,
            looks: Some(4),
        };
        let mut n = 0;
        let r: Result<Result<u32, u32>, ()> = policy
            .poll_until(fast, || {
                n += 1;
                let now = n;
                async move {
                    Ok(if now == 3 {
                        Poll::Done(now)
                    } else {
                        Poll::NotYet(now)
                    })
                }
            })
            .await;
        assert_eq!(r, Ok(Ok(3)));
        let r: Result<Result<(), u32>, ()> = policy
            .poll_until(fast, || async { Ok(Poll::NotYet(7)) })
            .await;
        assert_eq!(r, Ok(Err(7)));
        let timed = PollSchedule {
            deadline: Some(Duration::from_millis(30)),
            looks: None,
            ..fast
        };
        let started = std::time::Instant::now();
        let r: Result<Result<(), ()>, ()> = policy
            .poll_until(timed, || async { Ok(Poll::NotYet(())) })
            .await;
        assert_eq!(r, Ok(Err(())));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn backoff_is_bounded() {
        let policy = RetryPolicy::default();
        let delays: Vec<_> = policy.delays().collect();
        assert_eq!(delays.len(), policy.attempts - 1);
        assert!(delays.iter().all(|d| *d <= policy.max_delay * 2));
    }
}

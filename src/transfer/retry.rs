//! Retries with exponential backoff that respect what the server asks for.

use std::time::{Duration, SystemTime};

use backon::BackoffBuilder;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};

use url::Url;

use super::breaker::{self, Endpoint, Unreachable};
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

impl PollSchedule {
    /// Waits from `first` up to `max` until `deadline`.
    pub fn until(first: Duration, max: Duration, deadline: Duration) -> Self {
        Self {
            first,
            max,
            deadline: Some(deadline),
            looks: None,
        }
    }

    /// Waits from `first` up to `max`, for at most `looks` looks.
    pub fn looks(first: Duration, max: Duration, looks: usize) -> Self {
        Self {
            first,
            max,
            deadline: None,
            looks: Some(looks),
        }
    }
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

/// Longest wait for a spent request budget to renew (`x-ratelimit-remaining: 0`
/// without `Retry-After`): a reset minutes away is waited for, one far
/// away (GitHub's anonymous budget renews hourly) fails at once, saying
/// when, rather than holding every job for most of an hour.
pub const MAX_BUDGET_WAIT: Duration = Duration::from_secs(5 * 60);

/// Whether the headers say the request budget is spent (and no
/// `Retry-After` says otherwise).
pub(crate) fn budget_spent(headers: &HeaderMap) -> bool {
    !headers.contains_key(reqwest::header::RETRY_AFTER)
        && (header_u64(headers, "x-ratelimit-remaining")
            .or_else(|| header_u64(headers, "ratelimit-remaining"))
            == Some(0))
}

/// The wait before the next attempt: the larger of our backoff and what
/// the server asked for, or an error when the server asks for too long
/// (a spent budget: longer than [`MAX_BUDGET_WAIT`]).
pub(crate) fn next_wait(
    policy: &RetryPolicy,
    backoff: Duration,
    headers: Option<&HeaderMap>,
) -> Result<Duration, Duration> {
    let asked = headers.and_then(server_wait).unwrap_or(Duration::ZERO);
    let bound = match headers.is_some_and(budget_spent) {
        true => policy.max_server_wait.min(MAX_BUDGET_WAIT),
        false => policy.max_server_wait,
    };
    if asked > bound {
        return Err(asked);
    }
    Ok(backoff.max(asked))
}

/// What a too-long wait means, for the error: when a spent budget renews
/// (UTC), or how long the server asked to wait.
pub(crate) fn too_long_wait(headers: &HeaderMap, asked: Duration) -> String {
    let minutes = asked.as_secs().div_ceil(60);
    if budget_spent(headers) {
        let when = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(asked.as_secs() as i64))
            .map(|t| t.strftime("%H:%M:%S UTC").to_string())
            .unwrap_or_default();
        return format!(
            "the service's request budget is spent; it renews at {when} (in {minutes} min); \
             try again then"
        );
    }
    format!(
        "the server asks to wait {} s (about {minutes} min) before retrying; try again later",
        asked.as_secs()
    )
}

/// Fails at once when this process already found the endpoint of `url`
/// unreachable and it is not due for another try.
pub(crate) fn fail_fast(url: &Url) -> Result<(), TransferError> {
    let endpoint = Endpoint::of(url);
    match breaker::check(&endpoint) {
        None => Ok(()),
        Some(open) => Err(TransferError::Unreachable {
            endpoint,
            cause: open.cause,
            seconds: open.seconds,
            detail: open.detail,
            earlier: Some(open.since.elapsed().as_secs()),
        }),
    }
}

/// How long a second try waits after a quick failure to connect.
const QUICK_RETRY_WAIT: Duration = Duration::from_secs(1);

/// One retry budget, shared by every request loop (plain requests,
/// downloads, uploads): the policy's backoff delays, stretched to what the
/// server asks for with `Retry-After` or rate-limit headers. Failures to
/// reach the server at all are not retried with it (see `breaker`).
pub(crate) struct Retrier<'a> {
    policy: &'a RetryPolicy,
    delays: Box<dyn Iterator<Item = Duration> + Send + Sync + 'a>,
    /// Attempts made so far (for the notices).
    attempt: usize,
    /// The one quick second try after a failure to connect is used.
    quick_retry_used: bool,
    /// How long the next attempt waits for response headers: shorter
    /// after a silence from a server never heard from.
    header_wait: Duration,
}

impl<'a> Retrier<'a> {
    pub(crate) fn new(policy: &'a RetryPolicy) -> Self {
        Self {
            policy,
            delays: Box::new(policy.delays()),
            attempt: 1,
            quick_retry_used: false,
            header_wait: policy.stall_timeout,
        }
    }

    /// Before an attempt: fails at once when this process already found the
    /// endpoint unreachable and it is not due for another try.
    pub(crate) fn before(&self, url: &Url) -> Result<(), TransferError> {
        fail_fast(url)
    }

    /// The server at `url` answered (any status).
    pub(crate) fn answered(&self, url: &Url) {
        breaker::close(&Endpoint::of(url));
    }

    /// How long this attempt waits for response headers.
    pub(crate) fn header_wait(&self) -> Duration {
        self.header_wait
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
        self.answered(response.url());
        if !is_transient(response.status(), response.headers()) {
            return Ok(false);
        }
        let Some(backoff) = self.delays.next() else {
            return Ok(false);
        };
        let url = RedactedUrl::new(response.url().clone());
        match next_wait(self.policy, backoff, Some(response.headers())) {
            Ok(wait) => {
                self.attempt += 1;
                breaker::notice(&format!(
                    "{method} {url}: HTTP {}; retrying in {} (attempt {} of {})",
                    response.status(),
                    seconds_of(wait),
                    self.attempt,
                    self.policy.attempts
                ));
                tokio::time::sleep(wait).await;
                Ok(true)
            }
            Err(asked) => Err(TransferError::Status {
                method: method.to_string(),
                url,
                status: response.status(),
                detail: too_long_wait(response.headers(), asked),
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
        self.attempt += 1;
        breaker::notice(&format!(
            "{error}; retrying in {} (attempt {} of {})",
            seconds_of(wait),
            self.attempt,
            self.policy.attempts
        ));
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// After a request that got no response: a failure to reach the
    /// server gets one quick second try at most (a server restarting, a
    /// resolver hiccup) and then marks the endpoint unreachable for this
    /// process; anything else is retried with the budget. `Ok(())`: try
    /// again.
    pub(crate) async fn after_send_error(
        &mut self,
        url: &Url,
        error: &reqwest::Error,
    ) -> Result<(), TransferError> {
        let message = describe_reqwest_error(error);
        let Some(cause) = unreachable_cause(url, error).await else {
            return self
                .after_failure(TransferError::Network {
                    url: RedactedUrl::new(url.clone()),
                    message,
                })
                .await;
        };
        let seconds = if cause == Unreachable::ConnectTimeout {
            self.policy
                .stall_timeout
                .min(Duration::from_secs(30))
                .as_secs()
        } else {
            self.policy.stall_timeout.as_secs()
        };
        // The network stack's words help only where ours are vague.
        let detail = match cause {
            Unreachable::Connect | Unreachable::Tls => message,
            _ => String::new(),
        };
        self.unreachable(url, cause, seconds, detail).await
    }

    /// After an attempt that got no response headers within
    /// [`Retrier::header_wait`]. A server that answered before in this
    /// process is retried like any failure (and marked silent when the
    /// budget runs out); one never heard from gets one more, shorter wait,
    /// so a dead server costs at most 1.5 stall timeouts.
    pub(crate) async fn after_silence(&mut self, url: &Url) -> Result<(), TransferError> {
        let endpoint = Endpoint::of(url);
        let waited = self.header_wait.as_secs();
        if breaker::has_answered(&endpoint) {
            let stalled = TransferError::Stalled {
                url: RedactedUrl::new(url.clone()),
                seconds: waited,
            };
            return match self.after_failure(stalled).await {
                Ok(()) => Ok(()),
                Err(error) => {
                    breaker::trip(&endpoint, Unreachable::Silent, waited, "");
                    Err(error)
                }
            };
        }
        // The message names the full wait, not the shortened second one.
        let stall = self.policy.stall_timeout.as_secs();
        self.unreachable(url, Unreachable::Silent, stall, String::new())
            .await
    }

    async fn unreachable(
        &mut self,
        url: &Url,
        cause: Unreachable,
        seconds: u64,
        detail: String,
    ) -> Result<(), TransferError> {
        let endpoint = Endpoint::of(url);
        let error = TransferError::Unreachable {
            endpoint: endpoint.clone(),
            cause,
            seconds,
            detail,
            earlier: None,
        };
        let again = cause.worth_one_more_try() || cause == Unreachable::Silent;
        if again && !self.quick_retry_used {
            self.quick_retry_used = true;
            self.attempt += 1;
            if cause == Unreachable::Silent {
                self.header_wait /= 2;
                breaker::notice(&format!(
                    "{error}; trying once more, waiting {} for an answer",
                    seconds_of(self.header_wait)
                ));
            } else {
                breaker::notice(&format!(
                    "{error}; trying once more in {}",
                    seconds_of(QUICK_RETRY_WAIT)
                ));
                tokio::time::sleep(QUICK_RETRY_WAIT).await;
            }
            return Ok(());
        }
        let detail = match &error {
            TransferError::Unreachable { detail, .. } => detail.clone(),
            _ => String::new(),
        };
        breaker::trip(&endpoint, cause, seconds, &detail);
        Err(error)
    }
}

fn seconds_of(wait: Duration) -> String {
    format!("{:.1} s", wait.as_secs_f64())
}

/// Why a request could not reach its server at all, when that is what
/// happened; `None` for failures after connecting (a reset, a broken
/// body), which are retried with the budget. Decided by the kinds of the
/// errors underneath, never by their text: refused, TLS (rustls failures
/// arrive as `InvalidData`), timeout; a connect failure of no known kind
/// whose host does not resolve now either is DNS.
async fn unreachable_cause(url: &Url, error: &reqwest::Error) -> Option<Unreachable> {
    if !error.is_connect() {
        return None;
    }
    if error.is_timeout() {
        return Some(Unreachable::ConnectTimeout);
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        // An io::Error wrapping another hides it from `source()`.
        let mut io = inner.downcast_ref::<std::io::Error>();
        while let Some(e) = io {
            match e.kind() {
                std::io::ErrorKind::ConnectionRefused => return Some(Unreachable::Refused),
                std::io::ErrorKind::InvalidData => return Some(Unreachable::Tls),
                std::io::ErrorKind::TimedOut => return Some(Unreachable::ConnectTimeout),
                _ => {}
            }
            io = e.get_ref().and_then(|r| r.downcast_ref::<std::io::Error>());
        }
        source = inner.source();
    }
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let resolves = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::lookup_host((host, port)),
    )
    .await
    .is_ok_and(|r| r.is_ok_and(|mut addrs| addrs.next().is_some()));
    Some(if resolves {
        Unreachable::Connect
    } else {
        Unreachable::Dns
    })
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
        let url = request.url().clone();
        retrier.before(&url)?;
        let method = request.method().to_string();
        let answer = tokio::time::timeout(retrier.header_wait(), client.execute(request)).await;
        let Ok(answer) = answer else {
            // Accepted, then silent: no headers in time.
            retrier.after_silence(&url).await?;
            continue;
        };
        match answer {
            Ok(response) => {
                if !retrier.after_response(&method, &response).await? {
                    return Ok(response);
                }
            }
            Err(error) => retrier.after_send_error(&url, &error).await?,
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

    fn quick_policy(stall: Duration) -> RetryPolicy {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
            max_server_wait: Duration::from_secs(1),
            stall_timeout: stall,
        }
    }

    fn cause_of(result: &Result<Response, TransferError>) -> Option<(Unreachable, Option<u64>)> {
        match result {
            Err(TransferError::Unreachable { cause, earlier, .. }) => Some((*cause, *earlier)),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_in_bounded_time() {
        // Accepts connections, reads nothing, answers nothing.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let held = std::thread::spawn(move || {
            let mut open = Vec::new();
            for stream in listener.incoming().take(3) {
                open.push(stream);
            }
            std::thread::sleep(Duration::from_secs(5));
        });
        let policy = quick_policy(Duration::from_millis(400));
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let result = send_with_retry(&policy, || client.get(&url)).await;
        // One wait, one half as long: never a retry budget of waits.
        assert_eq!(
            cause_of(&result),
            Some((Unreachable::Silent, None)),
            "{result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1200),
            "{:?}",
            started.elapsed()
        );
        let text = result.unwrap_err().to_string();
        assert!(
            text.starts_with(&format!("http://{}", &url[7..url.len() - 1])),
            "{text}"
        );
        assert!(text.contains("sent no answer"), "{text}");
        // The next request to it fails at once, saying the same.
        let started = std::time::Instant::now();
        let again = send_with_retry(&policy, || client.get(format!("{url}other"))).await;
        assert!(
            matches!(cause_of(&again), Some((Unreachable::Silent, Some(_)))),
            "{again:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(100));
        assert!(again.unwrap_err().to_string().contains("sent no answer"));
        drop(held);
    }

    #[tokio::test]
    async fn connection_refused_is_tried_twice_then_fails_at_once() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}/bucket/key");
        let policy = quick_policy(Duration::from_secs(5));
        let client = reqwest::Client::new();
        let started = std::time::Instant::now();
        let result = send_with_retry(&policy, || client.get(&url)).await;
        assert_eq!(
            cause_of(&result),
            Some((Unreachable::Refused, None)),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        let text = result.unwrap_err().to_string();
        assert!(
            text.starts_with(&format!("http://{addr}: connection refused")),
            "{text}"
        );
        assert!(text.contains("the port wrong"), "{text}");
        let started = std::time::Instant::now();
        let again = send_with_retry(&policy, || client.get(&url)).await;
        assert!(
            matches!(cause_of(&again), Some((Unreachable::Refused, Some(_)))),
            "{again:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn https_to_a_plain_http_port_says_so_and_is_not_retried() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = std::thread::spawn(move || {
            let mut count = 0;
            listener.set_nonblocking(false).unwrap();
            for stream in listener.incoming().take(1) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 1024];
                let _ = std::io::Read::read(&mut stream, &mut buf);
                let _ = std::io::Write::write_all(
                    &mut stream,
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
                );
                count += 1;
            }
            count
        });
        let url = format!("https://{addr}/");
        let client = reqwest::Client::new();
        let result =
            send_with_retry(&quick_policy(Duration::from_secs(5)), || client.get(&url)).await;
        assert_eq!(
            cause_of(&result),
            Some((Unreachable::Tls, None)),
            "{result:?}"
        );
        let text = result.unwrap_err().to_string();
        assert!(text.contains("use http:// instead of https://"), "{text}");
        assert_eq!(served.join().unwrap(), 1, "not retried");
    }

    #[tokio::test]
    async fn a_host_that_does_not_resolve_is_a_dns_failure() {
        let url = "http://annexa-no-such-host.invalid:9000/b";
        let client = reqwest::Client::new();
        let result =
            send_with_retry(&quick_policy(Duration::from_secs(5)), || client.get(url)).await;
        assert_eq!(
            cause_of(&result),
            Some((Unreachable::Dns, None)),
            "{result:?}"
        );
        let text = result.unwrap_err().to_string();
        assert!(
            text.starts_with(
                "http://annexa-no-such-host.invalid:9000: the host name does not resolve"
            ),
            "{text}"
        );
    }

    /// Answers each connection with the next of `replies` (`None`: holds it
    /// unanswered); counts connections.
    fn scripted(replies: Vec<Option<&'static str>>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for (stream, reply) in listener.incoming().zip(replies) {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = std::io::Read::read(&mut stream, &mut buf);
                match reply {
                    Some(r) => {
                        let _ = std::io::Write::write_all(&mut stream, r.as_bytes());
                    }
                    None => held.push(stream),
                }
            }
            std::thread::sleep(Duration::from_secs(5));
        });
        url
    }

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    const BUSY: &str = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_server_known_to_answer_gets_the_usual_retries_after_a_silence() {
        let url = scripted(vec![Some(OK), None, None, Some(OK)]);
        let policy = quick_policy(Duration::from_millis(200));
        let client = reqwest::Client::new();
        let first = send_with_retry(&policy, || client.get(&url)).await;
        assert_eq!(first.unwrap().status(), StatusCode::OK);
        let second = send_with_retry(&policy, || client.get(&url)).await;
        assert_eq!(second.unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn retries_are_told_to_the_notice_sink() {
        let url = scripted(vec![Some(BUSY), Some(OK)]);
        let policy = quick_policy(Duration::from_secs(5));
        let client = reqwest::Client::new();
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = told.clone();
        let result = breaker::with_notices(
            std::sync::Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string())),
            send_with_retry(&policy, || client.get(&url)),
        )
        .await;
        assert_eq!(result.unwrap().status(), StatusCode::OK);
        let told = told.lock().unwrap();
        assert_eq!(told.len(), 1, "{told:?}");
        assert!(told[0].contains("HTTP 503"), "{told:?}");
        assert!(told[0].contains("retrying in"), "{told:?}");
        assert!(told[0].contains("attempt 2 of 6"), "{told:?}");
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

//! Failing fast on a server that cannot be reached.
//!
//! A connection refused, a host name that does not resolve, a TLS
//! handshake with a plain-HTTP port, or a server that accepts and then
//! never answers will not get better within one command. Retrying each of
//! them with the normal backoff cost minutes per key (issue 22), so they
//! get at most one quick second try, and the endpoint (scheme, host, port)
//! is then remembered as unreachable for this process: later requests to
//! it fail at once with the same message, until [`REPROBE_AFTER`] has
//! passed, when one request may try again (and closes the breaker if it is
//! answered).
//!
//! Also here: the retry notices. A retry is said on stderr (tracing at
//! warn), or, inside a git-annex request, as an INFO message through the
//! job's handle ([`with_notices`]), so a slow command says why it is slow.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use url::Url;

/// How long an endpoint found unreachable is not tried again.
pub const REPROBE_AFTER: Duration = Duration::from_secs(30);

/// Why an endpoint could not be reached, as far as the failure tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unreachable {
    /// Nothing listens on the port: the server is down or the port wrong.
    Refused,
    /// The host name does not resolve.
    Dns,
    /// The TLS handshake failed (most often `https://` to a plain-HTTP port).
    Tls,
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// Connected, then no answer within the stall timeout.
    Silent,
    /// Another connection failure (network or host unreachable, reset
    /// during the handshake).
    Connect,
}

impl Unreachable {
    /// Whether a second try a moment later may help (a server restarting,
    /// a resolver hiccup); the others are not retried at all.
    pub(crate) fn worth_one_more_try(self) -> bool {
        matches!(self, Self::Refused | Self::Dns | Self::Connect)
    }
}

/// The part of a URL that a breaker is kept for, printable (no user info,
/// path or query).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(String);

impl Endpoint {
    pub fn of(url: &Url) -> Self {
        let host = url.host_str().unwrap_or("");
        match url.port_or_known_default() {
            Some(port) => Self(format!("{}://{host}:{port}", url.scheme())),
            None => Self(format!("{}://{host}", url.scheme())),
        }
    }
}

impl Endpoint {
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The words for a cause, with what the user can check. `https` says
/// whether the URL asked for TLS, `seconds` is the wait that ran out.
pub(crate) fn describe(cause: Unreachable, https: bool, seconds: u64) -> String {
    match cause {
        Unreachable::Refused => "connection refused: nothing listens there (is the server down, \
                                 or the port wrong?)"
            .into(),
        Unreachable::Dns => "the host name does not resolve (DNS): check its spelling and the \
                             network"
            .into(),
        Unreachable::Tls if https => "the TLS handshake failed: if the server speaks plain HTTP \
                                      on that port, use http:// instead of https://"
            .into(),
        Unreachable::Tls => "the TLS handshake failed".into(),
        Unreachable::ConnectTimeout => format!(
            "no connection within {seconds} s (is the host down or firewalled, or the address \
             wrong?)"
        ),
        Unreachable::Silent => format!(
            "the server accepted the connection but sent no answer for {seconds} s (it is hung \
             or overloaded, or this is not the service's port; ANNEXA_TIMEOUT sets the wait)"
        ),
        Unreachable::Connect => {
            "could not connect (is the network up and the host reachable?)".into()
        }
    }
}

/// What is remembered of an endpoint found unreachable.
#[derive(Debug, Clone)]
pub(crate) struct Open {
    pub cause: Unreachable,
    /// The wait that ran out, for the timeouts.
    pub seconds: u64,
    pub detail: String,
    pub since: Instant,
    /// When a request may next try the endpoint again.
    retry_at: Instant,
}

/// What this process knows of an endpoint.
#[derive(Debug, Default)]
struct State {
    /// It answered a request (any status) at least once.
    answered: bool,
    open: Option<Open>,
}

fn endpoints() -> &'static Mutex<HashMap<Endpoint, State>> {
    static ENDPOINTS: OnceLock<Mutex<HashMap<Endpoint, State>>> = OnceLock::new();
    ENDPOINTS.get_or_init(Default::default)
}

fn with_state<T>(endpoint: &Endpoint, f: impl FnOnce(&mut State) -> T) -> T {
    let mut all = endpoints().lock().unwrap_or_else(|e| e.into_inner());
    f(all.entry(endpoint.clone()).or_default())
}

/// `Some` when `endpoint` was found unreachable and is not yet due for
/// another try; when it is due, this caller is the one that tries (others
/// keep failing fast until it is answered or fails again).
pub(crate) fn check(endpoint: &Endpoint) -> Option<Open> {
    with_state(endpoint, |state| {
        let open = state.open.as_mut()?;
        let now = Instant::now();
        if now >= open.retry_at {
            open.retry_at = now + REPROBE_AFTER;
            tracing::debug!(%endpoint, "trying an unreachable endpoint again");
            return None;
        }
        Some(open.clone())
    })
}

/// Whether `endpoint` has answered a request in this process: a silence
/// from a server known to be there is retried like any failure, one from
/// a server never heard from is not waited for twice.
pub(crate) fn has_answered(endpoint: &Endpoint) -> bool {
    with_state(endpoint, |state| state.answered)
}

/// Remembers `endpoint` as unreachable.
pub(crate) fn trip(endpoint: &Endpoint, cause: Unreachable, seconds: u64, detail: &str) {
    tracing::debug!(%endpoint, ?cause, detail, "endpoint unreachable");
    let now = Instant::now();
    with_state(endpoint, |state| {
        let since = state.open.as_ref().map_or(now, |o| o.since);
        state.open = Some(Open {
            cause,
            seconds,
            detail: detail.to_string(),
            since,
            retry_at: now + REPROBE_AFTER,
        });
    });
}

/// `endpoint` answered: it is reachable (again).
pub(crate) fn close(endpoint: &Endpoint) {
    with_state(endpoint, |state| {
        state.answered = true;
        if state.open.take().is_some() {
            tracing::debug!(%endpoint, "reachable again");
        }
    });
}

/// Where retry notices go besides the log.
pub type NoticeSink = Arc<dyn Fn(&str) + Send + Sync>;

tokio::task_local! {
    static NOTICES: NoticeSink;
}

/// Runs `future` with retry notices sent to `sink` (the remote runtime
/// passes one that sends git-annex an INFO message for the job).
pub async fn with_notices<F: std::future::Future>(sink: NoticeSink, future: F) -> F::Output {
    NOTICES.scope(sink, future).await
}

/// Tells the user about a retry: to the task's sink when there is one
/// (the message then goes to the log at debug only, not twice to the
/// terminal), else as a warning on stderr.
pub(crate) fn notice(message: &str) {
    let sent = NOTICES.try_with(|sink| sink(message)).is_ok();
    if sent {
        tracing::debug!("{message}");
    } else {
        tracing::warn!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_scheme_host_and_port() {
        let e = Endpoint::of(&Url::parse("https://user:pw@example.org/a?b=c").unwrap());
        assert_eq!(e.to_string(), "https://example.org:443");
        let e = Endpoint::of(&Url::parse("http://127.0.0.1:9000/bucket/key").unwrap());
        assert_eq!(e.to_string(), "http://127.0.0.1:9000");
    }

    #[test]
    fn an_open_breaker_fails_fast_then_lets_one_probe_through() {
        let e = Endpoint::of(&Url::parse("http://breaker-unit.invalid:1/").unwrap());
        assert!(check(&e).is_none());
        trip(&e, Unreachable::Refused, 0, "refused");
        let open = check(&e).expect("open");
        assert_eq!(open.cause, Unreachable::Refused);
        // Due again: one caller probes, the next still fails fast.
        with_state(&e, |s| s.open.as_mut().unwrap().retry_at = Instant::now());
        assert!(check(&e).is_none());
        assert!(check(&e).is_some());
        assert!(!has_answered(&e));
        close(&e);
        assert!(check(&e).is_none());
        assert!(has_answered(&e));
    }
}

//! Rate limits that status and headers do not name: GitHub's secondary
//! limits. GitHub answers them with `403` or `429`, often without
//! `Retry-After` and with requests left in the hourly budget; only the
//! answer's text says what it is ("You have exceeded a secondary rate
//! limit", documentation under `#secondary-rate-limits`, formerly
//! `#abuse-rate-limits`) — go-github and octokit's throttling plugin tell
//! them apart the same way. GitHub asks clients to wait at least a minute
//! and then back off exponentially
//! (docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api,
//! "Exceeding the rate limit"), which [`SecondaryLimits`] does within the
//! policy's longest server wait (15 min by default: 1 + 2 + 4 + 8 min).

use std::time::Duration;

use reqwest::StatusCode;

/// The shortest wait after a secondary limit, in seconds, when set (tests
/// use 1; GitHub asks for at least 60, the default).
pub const SECONDARY_WAIT_ENV: &str = "ANNEXA_SECONDARY_LIMIT_WAIT";

/// GitHub's "wait at least one minute".
pub const SECONDARY_WAIT: Duration = Duration::from_secs(60);

/// Whether an error answer (`status`, the start of its `body`) is a
/// secondary rate limit.
pub fn is_secondary_limit(status: StatusCode, body: &str) -> bool {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return false;
    }
    let text = body.to_ascii_lowercase();
    text.contains("secondary rate limit")
        || text.contains("secondary-rate-limits")
        || text.contains("abuse-rate-limits")
        || text.contains("abuse detection mechanism")
}

/// The waits after secondary limits met by one operation: from the
/// configured minimum, doubling, until `bound` would be passed.
#[derive(Debug)]
pub struct SecondaryLimits {
    next: Duration,
    spent: Duration,
    bound: Duration,
}

impl SecondaryLimits {
    pub fn new(bound: Duration) -> Self {
        let first = std::env::var(SECONDARY_WAIT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&s| s > 0)
            .map_or(SECONDARY_WAIT, Duration::from_secs);
        Self {
            next: first,
            spent: Duration::ZERO,
            bound,
        }
    }

    /// Waits before the operation is tried again; `false` (without waiting)
    /// when that wait would pass the bound: the caller fails.
    pub async fn wait(&mut self) -> bool {
        let Some(wait) = self.take() else {
            return false;
        };
        crate::transfer::notice(&format!(
            "the service's secondary rate limit was met; waiting {} s before trying again",
            wait.as_secs()
        ));
        tokio::time::sleep(wait).await;
        true
    }

    /// The next wait, counted as spent; `None` past the bound.
    fn take(&mut self) -> Option<Duration> {
        if self.spent + self.next > self.bound {
            return None;
        }
        let wait = self.next;
        self.spent += wait;
        self.next *= 2;
        Some(wait)
    }

    /// How long this operation waited for secondary limits.
    pub fn spent(&self) -> Duration {
        self.spent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secondary_limits_are_told_from_denials() {
        let github = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#;
        assert!(is_secondary_limit(StatusCode::FORBIDDEN, github));
        assert!(is_secondary_limit(StatusCode::TOO_MANY_REQUESTS, github));
        assert!(!is_secondary_limit(StatusCode::BAD_REQUEST, github));
        let denied = r#"{"message":"Resource not accessible by personal access token","documentation_url":"https://docs.github.com/rest/releases/assets#upload-a-release-asset"}"#;
        assert!(!is_secondary_limit(StatusCode::FORBIDDEN, denied));
    }

    #[test]
    fn waits_double_within_the_bound() {
        let mut limits = SecondaryLimits {
            next: Duration::from_secs(60),
            spent: Duration::ZERO,
            bound: Duration::from_secs(15 * 60),
        };
        let mut waits = Vec::new();
        while let Some(w) = limits.take() {
            waits.push(w.as_secs());
        }
        assert_eq!(waits, [60, 120, 240, 480]);
        assert_eq!(limits.spent(), Duration::from_secs(900));
    }
}

/// Paces content-creating requests (uploads, creations, deletions) below a
/// service's limit of `most` per `window` (GitHub: about 80 a minute,
/// docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api,
/// "About secondary rate limits"), shared by every job of the process
/// (`-J`): a burst up to the limit goes at once, the next request waits
/// until the oldest of the window is a window old.
#[derive(Debug, Clone)]
pub struct WritePace {
    most: usize,
    window: Duration,
    sent: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<std::time::Instant>>>,
}

impl WritePace {
    /// `most` per minute, or what the variable `env` says (`0`: unpaced,
    /// `None`).
    pub fn per_minute(env: &str, most: usize) -> Option<Self> {
        let most = std::env::var(env)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(most);
        (most > 0).then(|| Self::new(most, Duration::from_secs(60)))
    }

    pub fn new(most: usize, window: Duration) -> Self {
        Self {
            most: most.max(1),
            window,
            sent: Default::default(),
        }
    }

    /// How long a request at `now` must wait; the request is counted at
    /// the time it will be sent.
    fn reserve(&self, now: std::time::Instant) -> Duration {
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        while sent
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.window)
        {
            sent.pop_front();
        }
        let at = if sent.len() >= self.most {
            let oldest = sent[sent.len() - self.most];
            (oldest + self.window).max(now)
        } else {
            now
        };
        sent.push_back(at);
        at - now
    }

    /// Waits for this request's turn.
    pub async fn turn(&self) {
        let wait = self.reserve(std::time::Instant::now());
        if !wait.is_zero() {
            tracing::debug!(?wait, "pacing a content-creating request");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod pace_tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_burst_up_to_the_limit_goes_then_requests_wait_for_the_window() {
        let pace = WritePace::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        let waits: Vec<u64> = (0..5).map(|_| pace.reserve(t0).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 60, 60]);
        // A minute on, the first three have left the window: one more
        // goes at once, the next waits for the fourth to leave it.
        let later = t0 + Duration::from_secs(61);
        assert_eq!(pace.reserve(later).as_secs(), 0);
        assert_eq!(pace.reserve(later).as_secs(), 59);
    }
}

//! Streaming, resumable, verified downloads into a file.

use std::io::SeekFrom;
use std::path::Path;
use std::time::Instant;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, LOCATION, RANGE, TRANSFER_ENCODING};
use reqwest::{RequestBuilder, Response, StatusCode};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::retry::{describe_reqwest_error, Retrier};
use super::{error_for_status, Client, Expected, Hasher, ProgressFn, RedactedUrl, TransferError};

const MAX_REDIRECTS: usize = 10;
const WRITE_BUFFER: usize = 1 << 20;

/// What to download and how to check it.
pub struct Download<'a> {
    /// Builds the first request of each attempt. It may carry credentials:
    /// they go to its own host only, never to a redirect target.
    pub request: &'a (dyn Fn() -> RequestBuilder + Send + Sync),
    /// The exact size the content must have, when known.
    pub expected_size: Option<u64>,
    /// A checksum the whole content must match, when known.
    pub checksum: Option<Expected>,
    /// Keep bytes already in the destination and fetch only the rest.
    pub resume: bool,
}

/// What a finished download did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadOutcome {
    /// Size of the complete file.
    pub size: u64,
    /// Bytes that were already there and were kept.
    pub resumed_from: u64,
    /// Whether anything proved the file whole: an expected size or
    /// checksum, a `Content-Length`/`Content-Range`, or chunked framing with
    /// its last chunk. `false` only when the server sent no length and ended
    /// the body by closing the connection, which looks the same whether
    /// every byte arrived or the connection broke; a warning says so.
    pub length_verified: bool,
}

/// Progress of the file being written, kept across attempts.
struct Partial {
    file: File,
    len: u64,
    hasher: Option<Hasher>,
    /// The last body ended by the server closing the connection, with no
    /// length given (HTTP/1 without `Content-Length` or chunked framing).
    ended_by_close: bool,
}

impl Partial {
    async fn open(dest: &Path, spec: &Download<'_>) -> Result<Self, TransferError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(dest)
            .await?;
        let mut len = file.metadata().await?.len();
        let too_long = spec.expected_size.is_some_and(|size| len > size);
        if !spec.resume || too_long {
            file.set_len(0).await?;
            len = 0;
        }
        let mut partial = Self {
            file,
            len,
            hasher: spec.checksum.as_ref().map(|c| c.algorithm.hasher()),
            ended_by_close: false,
        };
        if len > 0 {
            tracing::debug!("resuming download from byte {len}");
        }
        if len > 0 && partial.hasher.is_some() {
            partial.hash_existing().await?;
        }
        partial.file.seek(SeekFrom::Start(len)).await?;
        Ok(partial)
    }

    /// Feeds the bytes already on disk to the hasher, so a resumed
    /// download is verified as a whole.
    async fn hash_existing(&mut self) -> Result<(), TransferError> {
        let Some(hasher) = self.hasher.as_mut() else {
            return Ok(());
        };
        self.file.seek(SeekFrom::Start(0)).await?;
        let mut buf = vec![0u8; WRITE_BUFFER];
        let mut left = self.len;
        while left > 0 {
            let want = buf.len().min(left as usize);
            let n = self.file.read(&mut buf[..want]).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        Ok(())
    }

    async fn restart(&mut self, spec: &Download<'_>) -> Result<(), TransferError> {
        self.file.set_len(0).await?;
        self.file.seek(SeekFrom::Start(0)).await?;
        self.len = 0;
        self.hasher = spec.checksum.as_ref().map(|c| c.algorithm.hasher());
        Ok(())
    }
}

/// How one attempt ended.
enum Attempt {
    Complete,
    /// Worth another try (network error, stall, server restarted the range).
    Retry(TransferError),
}

impl Client {
    /// Downloads into `dest`, resuming and retrying as the policy allows.
    /// Succeeds only when the size (and checksum, when given) match.
    pub async fn download(
        &self,
        spec: &Download<'_>,
        dest: &Path,
        progress: &ProgressFn<'_>,
    ) -> Result<DownloadOutcome, TransferError> {
        let mut partial = Partial::open(dest, spec).await?;
        let resumed_from = partial.len;
        let mut retrier = Retrier::new(self.policy());
        let mut known_total = spec.expected_size;
        loop {
            let attempt = self
                .download_attempt(spec, &mut partial, &mut known_total, progress)
                .await?;
            match attempt {
                Attempt::Complete => break,
                Attempt::Retry(error) => retrier.after_failure(error).await?,
            }
        }
        partial.file.flush().await?;
        let size = partial.len;
        let length_verified =
            known_total.is_some() || spec.checksum.is_some() || !partial.ended_by_close;
        let url = self.verify(spec, partial, known_total).await?;
        if !length_verified {
            tracing::warn!(
                "{url}: the server gave no length and ended the content by closing the \
                 connection; {size} bytes were kept, but whether that is all of it cannot \
                 be verified (the key records no size or checksum)"
            );
        }
        Ok(DownloadOutcome {
            size,
            resumed_from,
            length_verified,
        })
    }

    async fn verify(
        &self,
        spec: &Download<'_>,
        partial: Partial,
        known_total: Option<u64>,
    ) -> Result<RedactedUrl, TransferError> {
        let url = RedactedUrl::new(
            (spec.request)()
                .build()
                .map(|r| r.url().clone())
                .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?,
        );
        if let Some(total) = known_total {
            if partial.len != total {
                partial.file.set_len(0).await?;
                return Err(TransferError::Truncated {
                    url,
                    got: partial.len,
                    expected: total,
                });
            }
        }
        if let (Some(expected), Some(hasher)) = (&spec.checksum, partial.hasher) {
            let got = hasher.finish_hex();
            if got != expected.hex {
                // Bad bytes must not be resumed from next time.
                partial.file.set_len(0).await?;
                return Err(TransferError::Checksum {
                    url,
                    algorithm: expected.algorithm,
                    expected: expected.hex.clone(),
                    got,
                });
            }
        }
        Ok(url)
    }

    async fn download_attempt(
        &self,
        spec: &Download<'_>,
        partial: &mut Partial,
        known_total: &mut Option<u64>,
        progress: &ProgressFn<'_>,
    ) -> Result<Attempt, TransferError> {
        if partial.len > 0 && Some(partial.len) == *known_total {
            progress(partial.len);
            return Ok(Attempt::Complete);
        }
        let offset = partial.len;
        let response = match self.get_following_redirects(spec, offset).await {
            Ok(r) => r,
            Err(e @ TransferError::Network { .. }) => return Ok(Attempt::Retry(e)),
            Err(e) => return Err(e),
        };
        let url = RedactedUrl::new(response.url().clone());
        match response.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = content_range(&response);
                match range {
                    Some((start, total)) if start == offset => {
                        if let Some(total) = total {
                            check_total(known_total, total, &url)?;
                        }
                    }
                    _ => {
                        partial.restart(spec).await?;
                        return Ok(Attempt::Retry(TransferError::Protocol {
                            url,
                            message: "server answered a different byte range".into(),
                        }));
                    }
                }
            }
            StatusCode::OK => {
                // Checked before anything is thrown away: a 200 that is not
                // this object (a portal's page) must leave the bytes on disk.
                if let Some(total) = content_length(&response) {
                    check_total(known_total, total, &url)?;
                }
                if offset > 0 {
                    // The server ignored Range: start over from its first byte.
                    partial.restart(spec).await?;
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                let total = content_range(&response).and_then(|(_, t)| t);
                if total == Some(offset) {
                    *known_total = Some(offset);
                    return Ok(Attempt::Complete);
                }
                partial.restart(spec).await?;
                return Ok(Attempt::Retry(TransferError::Protocol {
                    url,
                    message: "partial file does not fit the remote object; restarting".into(),
                }));
            }
            other if other.is_success() => {
                // E.g. 202 from a bot challenge: no content, never a success.
                return Err(TransferError::Protocol {
                    url,
                    message: format!("unexpected HTTP {other} instead of the content"),
                });
            }
            _ => {
                return Err(match error_for_status(response).await {
                    Err(error) => error,
                    Ok(_) => TransferError::Protocol {
                        url,
                        message: "unexpected status".into(),
                    },
                })
            }
        }
        partial.ended_by_close = ends_by_close(&response);
        self.stream_body(response, partial, progress, url).await
    }

    async fn stream_body(
        &self,
        mut response: Response,
        partial: &mut Partial,
        progress: &ProgressFn<'_>,
        url: RedactedUrl,
    ) -> Result<Attempt, TransferError> {
        let stall = self.policy().stall_timeout;
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, &mut partial.file);
        let started = Instant::now();
        let mut received: u64 = 0;
        let outcome = loop {
            match tokio::time::timeout(stall, response.chunk()).await {
                Err(_) => {
                    break Attempt::Retry(TransferError::Stalled {
                        url: url.clone(),
                        seconds: stall.as_secs(),
                    })
                }
                Ok(Err(error)) => {
                    break Attempt::Retry(TransferError::Network {
                        url: url.clone(),
                        message: describe_reqwest_error(&error),
                    })
                }
                Ok(Ok(None)) => break Attempt::Complete,
                Ok(Ok(Some(chunk))) => {
                    writer.write_all(&chunk).await?;
                    if let Some(h) = partial.hasher.as_mut() {
                        h.update(&chunk);
                    }
                    partial.len += chunk.len() as u64;
                    received += chunk.len() as u64;
                    progress(partial.len);
                    if let Some(rate) = self.max_rate {
                        throttle(started, received, rate).await;
                    }
                }
            }
        };
        writer.flush().await?;
        Ok(outcome)
    }

    /// GETs the object, following redirects by hand. Only the `Range`
    /// header travels to a redirect target: credentials stay with the host
    /// they belong to.
    async fn get_following_redirects(
        &self,
        spec: &Download<'_>,
        offset: u64,
    ) -> Result<Response, TransferError> {
        let with_range = |builder: RequestBuilder| {
            if offset > 0 {
                builder.header(RANGE, format!("bytes={offset}-"))
            } else {
                builder
            }
        };
        let mut response = self.send(|| with_range((spec.request)())).await?;
        for _ in 0..MAX_REDIRECTS {
            if !is_redirect(response.status()) {
                return Ok(response);
            }
            let from = RedactedUrl::new(response.url().clone());
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| response.url().join(loc).ok())
                .ok_or_else(|| TransferError::Protocol {
                    url: from.clone(),
                    message: "redirect without a usable Location".into(),
                })?;
            tracing::debug!(from = %from, to = %RedactedUrl::new(next.clone()), "following redirect");
            response = self
                .send(|| with_range(self.http().get(next.clone())))
                .await?;
        }
        Err(TransferError::Protocol {
            url: RedactedUrl::new(response.url().clone()),
            message: "too many redirects".into(),
        })
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

fn check_total(
    known: &mut Option<u64>,
    total: u64,
    url: &RedactedUrl,
) -> Result<(), TransferError> {
    match *known {
        Some(expected) if expected != total => Err(TransferError::Protocol {
            url: url.clone(),
            message: format!("server has {total} bytes, expected {expected}"),
        }),
        _ => {
            *known = Some(total);
            Ok(())
        }
    }
}

/// Whether the body's end can only be the server closing the connection:
/// HTTP/1 with neither `Content-Length` nor chunked framing. (hyper fails
/// a body cut short of its length or of its last chunk; a close is the
/// only end that cannot tell complete from broken.)
fn ends_by_close(response: &Response) -> bool {
    let http1 = response.version() <= reqwest::Version::HTTP_11;
    let chunked = response
        .headers()
        .get_all(TRANSFER_ENCODING)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
        });
    http1 && !chunked && response.headers().get(CONTENT_LENGTH).is_none()
}

fn content_length(response: &Response) -> Option<u64> {
    response
        .headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Parses `Content-Range: bytes START-END/TOTAL` (or `bytes */TOTAL`) into
/// the start and the total, when given.
fn content_range(response: &Response) -> Option<(u64, Option<u64>)> {
    parse_content_range(response.headers().get(CONTENT_RANGE)?.to_str().ok()?)
}

pub(crate) fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let total = if total == "*" {
        None
    } else {
        Some(total.parse().ok()?)
    };
    if range == "*" {
        return Some((total?, total));
    }
    let (start, _end) = range.split_once('-')?;
    Some((start.parse().ok()?, total))
}

async fn throttle(started: Instant, bytes: u64, rate: u64) {
    let due = std::time::Duration::from_secs_f64(bytes as f64 / rate.max(1) as f64);
    let elapsed = started.elapsed();
    if due > elapsed {
        tokio::time::sleep(due - elapsed).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use tokio::net::TcpListener;

    use crate::transfer::RetryPolicy;

    /// A raw HTTP server that answers every request with `reply` and
    /// closes the connection; returns its URL and how many requests came.
    async fn raw_server(
        reply: &'static [u8],
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/file", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(reply).await;
                let _ = socket.shutdown().await;
            }
        });
        (url, count)
    }

    async fn fetch(
        reply: &'static [u8],
        expected_size: Option<u64>,
    ) -> (Result<DownloadOutcome, TransferError>, Vec<u8>, usize) {
        let (url, count) = raw_server(reply).await;
        let policy = RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            stall_timeout: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let client = Client::new(policy).unwrap();
        let make = || client.http().get(&url);
        let spec = Download {
            request: &make,
            expected_size,
            checksum: None,
            resume: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out");
        let result = client.download(&spec, &dest, &|_| {}).await;
        let content = std::fs::read(&dest).unwrap_or_default();
        (
            result,
            content,
            count.load(std::sync::atomic::Ordering::SeqCst),
        )
    }

    #[tokio::test]
    async fn a_chunked_body_cut_mid_chunk_is_an_error() {
        let (result, content, requests) = fetch(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nwor",
            None,
        )
        .await;
        assert!(
            result.is_err(),
            "accepted {content:?} as complete: {result:?}"
        );
        assert!(content.is_empty() || content == b"hello" || content == b"hellowor");
        assert_eq!(requests, 2, "retried as the policy allows");
    }

    #[tokio::test]
    async fn a_chunked_body_without_its_last_chunk_is_an_error() {
        let (result, content, _) = fetch(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            None,
        )
        .await;
        assert!(
            result.is_err(),
            "accepted {content:?} as complete: {result:?}"
        );
    }

    #[tokio::test]
    async fn a_body_cut_before_its_content_length_is_an_error() {
        let (result, content, _) =
            fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", None).await;
        assert!(
            result.is_err(),
            "accepted {content:?} as complete: {result:?}"
        );
    }

    #[tokio::test]
    async fn a_body_ended_by_closing_is_complete_only_as_far_as_known() {
        let reply: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello";
        // No size to check: kept, but said to be unverified.
        let (result, content, _) = fetch(reply, None).await;
        let outcome = result.expect("nothing says it is incomplete");
        assert_eq!(content, b"hello");
        assert_eq!(outcome.size, 5);
        assert!(!outcome.length_verified, "{outcome:?}");
        // A sized key is always checked, however the body ended.
        let (result, content, _) = fetch(reply, Some(11)).await;
        assert!(
            matches!(
                result,
                Err(TransferError::Truncated {
                    got: 5,
                    expected: 11,
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(
            content.is_empty(),
            "a truncated file is not kept: {content:?}"
        );
    }

    #[tokio::test]
    async fn a_complete_body_with_a_length_is_verified() {
        let (result, content, _) =
            fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", None).await;
        let outcome = result.unwrap();
        assert_eq!((content.as_slice(), outcome.size), (&b"hello"[..], 5));
        assert!(outcome.length_verified);
        let (result, content, _) = fetch(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            None,
        )
        .await;
        let outcome = result.unwrap();
        assert_eq!(
            (content.as_slice(), outcome.length_verified),
            (&b"hello"[..], true)
        );
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 10-99/100"),
            Some((10, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 0-9/*"), Some((0, None)));
        assert_eq!(parse_content_range("bytes */100"), Some((100, Some(100))));
        assert_eq!(parse_content_range("items 1-2/3"), None);
        assert_eq!(parse_content_range("bytes x-2/3"), None);
    }
}

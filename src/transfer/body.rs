//! Bodies of answers that are read into memory (JSON and XML replies):
//! read to a size cap and under the stall timeout, never whole and never
//! waiting forever, so a huge or stalled answer ends in bounded time and
//! memory with a typed error.

use std::time::Duration;

use reqwest::Response;

use super::{describe_reqwest_error, RedactedUrl, TransferError};

/// The body of `response`, at most `limit` bytes: a longer one is
/// [`TransferError::TooLarge`] as soon as it passes the cap. A body that
/// sends nothing for `stall` is [`TransferError::Stalled`]; one that breaks
/// off is [`TransferError::Network`].
pub async fn read_limited(
    mut response: Response,
    limit: usize,
    stall: Duration,
) -> Result<Vec<u8>, TransferError> {
    let url = RedactedUrl::new(response.url().clone());
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(TransferError::TooLarge { url, limit });
    }
    let mut body = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(stall, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => return Ok(body),
            Ok(Err(e)) => {
                return Err(TransferError::Network {
                    url,
                    message: describe_reqwest_error(&e),
                })
            }
            Err(_) => {
                return Err(TransferError::Stalled {
                    url,
                    seconds: stall.as_secs(),
                })
            }
        };
        if body.len() + chunk.len() > limit {
            return Err(TransferError::TooLarge { url, limit });
        }
        body.extend_from_slice(&chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Answers one request with `head` and `body`, then holds the
    /// connection open for `hold`.
    fn serve(head: String, body: Vec<u8>, hold: Duration) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
            std::thread::sleep(hold);
        });
        url
    }

    #[tokio::test]
    async fn a_stalled_body_ends_at_the_stall_timeout() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".into(),
            b"[1,2,".to_vec(),
            Duration::from_secs(5),
        );
        let response = reqwest::get(&url).await.unwrap();
        let started = std::time::Instant::now();
        let e = read_limited(response, 1000, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(e, TransferError::Stalled { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_refused_without_a_length_too() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".into(),
            vec![b' '; 5000],
            Duration::ZERO,
        );
        let response = reqwest::get(&url).await.unwrap();
        let e = read_limited(response, 1000, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(e, TransferError::TooLarge { limit: 1000, .. }),
            "{e}"
        );
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n".into(),
            b"[1]".to_vec(),
            Duration::ZERO,
        );
        let response = reqwest::get(&url).await.unwrap();
        let body = read_limited(response, 1000, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(body, b"[1]");
    }
}

//! The one upload path: bodies streamed from files, made fresh for every
//! attempt, with progress, an optional digest check and the retries,
//! server waits and stall timeout that downloads use.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt, TryStreamExt};
use reqwest::header::CONTENT_LENGTH;
use reqwest::{RequestBuilder, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::io::ReaderStream;

use super::retry::Retrier;
use super::{status_error, Algorithm, Client, Hasher, RedactedUrl, TransferError};

/// Receives the absolute byte count of the current transfer (downloads and
/// uploads alike).
pub type ProgressFn<'a> = dyn Fn(u64) + Send + Sync + 'a;

const READ_CHUNK: usize = 256 * 1024;

/// `len` bytes of the file at `path`, from byte `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRange {
    pub path: PathBuf,
    pub offset: u64,
    pub len: u64,
}

impl FileRange {
    pub fn new(path: &Path, offset: u64, len: u64) -> Self {
        Self {
            path: path.to_path_buf(),
            offset,
            len,
        }
    }

    /// The whole file, as large as it is now.
    pub async fn whole(path: &Path) -> std::io::Result<Self> {
        let len = tokio::fs::metadata(path).await?.len();
        Ok(Self::new(path, 0, len))
    }
}

/// A text field of a multipart form.
#[derive(Debug, Clone)]
pub struct FormField {
    pub name: String,
    pub value: String,
    /// E.g. `application/json`; none sends a plain field.
    pub content_type: Option<String>,
}

/// What an upload sends. It is a recipe, not a body: every attempt opens
/// the file again and streams it, so a retry re-sends the whole body and
/// memory never grows with the file size.
#[derive(Debug, Clone)]
pub enum BodySource {
    /// The bytes of a file range, with `Content-Length`.
    File(FileRange),
    /// `multipart/form-data`: the text fields, then the file range as the
    /// part `file_field` named `file_name`. The form's length is known, so
    /// it is sent with `Content-Length`.
    Form {
        fields: Vec<FormField>,
        file_field: String,
        file_name: String,
        file: FileRange,
    },
}

impl BodySource {
    fn file(&self) -> &FileRange {
        match self {
            Self::File(file) | Self::Form { file, .. } => file,
        }
    }

    /// Opens the file and attaches a fresh body to `builder`.
    async fn attach(
        &self,
        builder: RequestBuilder,
        tracker: &Arc<Tracker>,
        digest: Option<Algorithm>,
    ) -> Result<RequestBuilder, TransferError> {
        let range = self.file();
        let stream = file_stream(range, tracker.clone(), digest).await?;
        let body = reqwest::Body::wrap_stream(stream);
        Ok(match self {
            Self::File(_) => builder.header(CONTENT_LENGTH, range.len).body(body),
            Self::Form {
                fields,
                file_field,
                file_name,
                ..
            } => {
                let mut form = reqwest::multipart::Form::new();
                for field in fields {
                    let mut part = reqwest::multipart::Part::text(field.value.clone());
                    if let Some(mime) = &field.content_type {
                        part = part
                            .mime_str(mime)
                            .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
                    }
                    form = form.part(field.name.clone(), part);
                }
                let part = reqwest::multipart::Part::stream_with_length(body, range.len)
                    .file_name(file_name.clone())
                    .mime_str("application/octet-stream")
                    .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
                builder.multipart(form.part(file_field.clone(), part))
            }
        })
    }
}

/// Reads the digest of what the server received from its response.
pub type ServerDigestFn<'a> = dyn Fn(&Response) -> Option<String> + Send + Sync + 'a;

/// What to upload, where, and how to check it.
pub struct Upload<'a> {
    /// Builds each attempt's request (method, URL, headers) without a body;
    /// the body comes from `body`.
    pub request: &'a (dyn Fn() -> RequestBuilder + Send + Sync),
    pub body: BodySource,
    /// Hash the file bytes sent with this algorithm, for `server_digest`.
    pub digest: Option<Algorithm>,
    /// The digest of what the server received, from its success response
    /// (e.g. an S3 ETag), as hex; `None` when it tells nothing comparable.
    /// A difference from what was sent fails the upload.
    pub server_digest: Option<&'a ServerDigestFn<'a>>,
    /// Receives absolute bytes of the whole transfer.
    pub progress: &'a ProgressFn<'a>,
    /// The byte count of the whole transfer when several uploads (parts of
    /// one file) run at once; each adds what it sends and takes back what
    /// a failed attempt sent. `None`: this upload is the whole transfer.
    pub shared: Option<&'a AtomicU64>,
}

/// Shared by an attempt's body stream and the attempt itself.
struct Tracker {
    /// File bytes the body stream has read (and handed to the connection).
    read: watch::Sender<u64>,
    /// Hex digest of the bytes read, once all were read.
    digest: Mutex<Option<String>>,
    /// The file ended before the range did.
    short: AtomicBool,
}

impl Tracker {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            read: watch::channel(0).0,
            digest: Mutex::new(None),
            short: AtomicBool::new(false),
        })
    }

    fn digest(&self) -> Option<String> {
        self.digest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The bytes of `range`, read in chunks, counted and hashed as they go;
/// an error at the end when the file was shorter than the range.
async fn file_stream(
    range: &FileRange,
    tracker: Arc<Tracker>,
    digest: Option<Algorithm>,
) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static, TransferError> {
    let mut file = tokio::fs::File::open(&range.path).await?;
    if range.offset > 0 {
        file.seek(SeekFrom::Start(range.offset)).await?;
    }
    let len = range.len;
    let mut hasher: Option<Hasher> = digest.map(Algorithm::hasher);
    if len == 0 {
        // No chunk will come to finish the digest (nor may the body be read).
        *tracker.digest.lock().unwrap_or_else(|p| p.into_inner()) =
            hasher.take().map(Hasher::finish_hex);
    }
    let mut read = 0u64;
    let counting = tracker.clone();
    let chunks = ReaderStream::with_capacity(file.take(len), READ_CHUNK).inspect_ok(move |chunk| {
        read += chunk.len() as u64;
        if let Some(h) = hasher.as_mut() {
            h.update(chunk);
        }
        if read == len {
            if let Some(h) = hasher.take() {
                *counting.digest.lock().unwrap_or_else(|p| p.into_inner()) = Some(h.finish_hex());
            }
        }
        counting.read.send_replace(read);
    });
    let end = stream::once(async move {
        if *tracker.read.borrow() == len {
            Ok(None)
        } else {
            tracker.short.store(true, Ordering::SeqCst);
            Err(std::io::Error::other(
                "the file changed size while it was being uploaded",
            ))
        }
    })
    .try_filter_map(|none: Option<Bytes>| async move { Ok(none) });
    Ok(chunks.chain(end))
}

/// The error when the digest of what was sent differs from the server's
/// (when both are known).
fn digest_mismatch(
    spec: &Upload<'_>,
    tracker: &Tracker,
    response: &Response,
) -> Option<TransferError> {
    let (Some(algorithm), Some(server)) = (spec.digest, spec.server_digest) else {
        return None;
    };
    let url = RedactedUrl::new(response.url().clone());
    let Some(sent) = tracker.digest() else {
        return Some(TransferError::Protocol {
            url,
            message: "the file changed size while it was being uploaded".into(),
        });
    };
    match server(response) {
        Some(got) if !got.eq_ignore_ascii_case(&sent) => Some(TransferError::Checksum {
            url,
            algorithm,
            expected: sent,
            got: got.to_ascii_lowercase(),
        }),
        _ => None,
    }
}

fn changed_size(spec: &Upload<'_>) -> TransferError {
    TransferError::Io(std::io::Error::other(format!(
        "{}: the file changed size while it was being uploaded",
        spec.body.file().path.display()
    )))
}

/// How one attempt ended.
enum Attempt {
    /// The server answered (any status); the method is for messages.
    Answered(String, Response),
    /// Worth another try: a stall.
    Failed(TransferError),
    /// No answer: the request failed (maybe before reaching the server).
    SendError(url::Url, reqwest::Error),
}

impl Client {
    /// Uploads `spec.body` with the request `spec.request` builds, retrying
    /// network errors, stalls, 429 and 5xx like every request (waiting as
    /// `Retry-After` and rate-limit headers ask). Returns the success
    /// response; an error status is a [`TransferError::Status`] carrying
    /// the start of the error body.
    pub async fn upload(&self, spec: &Upload<'_>) -> Result<Response, TransferError> {
        let response = self.upload_answer(spec).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let method = (spec.request)()
            .build()
            .map(|r| r.method().to_string())
            .unwrap_or_else(|_| "upload".into());
        Err(status_error(&method, response).await)
    }

    /// Like [`Client::upload`], but an error status that is not retried is
    /// handed back as the response (for a service whose error bodies say
    /// what to do next, such as GitHub's 422s).
    pub async fn upload_answer(&self, spec: &Upload<'_>) -> Result<Response, TransferError> {
        let own = AtomicU64::new(0);
        let total = spec.shared.unwrap_or(&own);
        let mut retrier = Retrier::new(self.policy());
        loop {
            let tracker = Tracker::new();
            let mut counted = 0;
            let attempt = self
                .upload_attempt(spec, &tracker, total, &mut counted)
                .await;
            let success =
                matches!(&attempt, Ok(Attempt::Answered(_, r)) if r.status().is_success());
            if !success {
                // What this attempt sent will be sent again (or never).
                total.fetch_sub(counted, Ordering::SeqCst);
            }
            match attempt? {
                Attempt::Answered(_, response) if success => {
                    return match digest_mismatch(spec, &tracker, &response) {
                        Some(error) => Err(error),
                        None => Ok(response),
                    };
                }
                Attempt::Answered(method, response) => {
                    if !retrier.after_response(&method, &response).await? {
                        return Ok(response);
                    }
                }
                Attempt::SendError(url, error) => {
                    if tracker.short.load(Ordering::SeqCst) {
                        return Err(changed_size(spec));
                    }
                    retrier.after_send_error(&url, &error).await?;
                }
                Attempt::Failed(error) => {
                    if tracker.short.load(Ordering::SeqCst) {
                        return Err(changed_size(spec));
                    }
                    retrier.after_failure(error).await?;
                }
            }
        }
    }

    /// Sends one attempt, adding the bytes it sends to `total` (and to
    /// `counted`) and reporting them, and gives up on it when nothing
    /// moves (no body bytes taken, no answer) for the policy's stall
    /// timeout.
    async fn upload_attempt(
        &self,
        spec: &Upload<'_>,
        tracker: &Arc<Tracker>,
        total: &AtomicU64,
        counted: &mut u64,
    ) -> Result<Attempt, TransferError> {
        let builder = spec
            .body
            .attach((spec.request)(), tracker, spec.digest)
            .await?;
        let (client, request) = builder.build_split();
        let request =
            request.map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
        let raw_url = request.url().clone();
        super::retry::fail_fast(&raw_url)?;
        let url = RedactedUrl::new(raw_url.clone());
        let method = request.method().to_string();
        let stall = self.policy().stall_timeout;
        let mut read = tracker.read.subscribe();
        let mut count = |now: u64| {
            if now > *counted {
                let delta = now - *counted;
                *counted = now;
                (spec.progress)(total.fetch_add(delta, Ordering::SeqCst) + delta);
            }
        };
        let send = client.execute(request);
        tokio::pin!(send);
        let mut deadline = Instant::now() + stall;
        let outcome = loop {
            tokio::select! {
                outcome = &mut send => break Some(outcome),
                Ok(()) = read.changed() => {
                    let now = *read.borrow_and_update();
                    count(now);
                    deadline = Instant::now() + stall;
                }
                _ = tokio::time::sleep_until(deadline) => break None,
            }
        };
        count(*read.borrow());
        Ok(match outcome {
            Some(Ok(response)) => Attempt::Answered(method, response),
            Some(Err(error)) => Attempt::SendError(raw_url, error),
            None => Attempt::Failed(TransferError::Stalled {
                url,
                seconds: stall.as_secs(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::RetryPolicy;
    use std::io::{Read, Write};
    use std::time::Duration;

    /// One scripted answer; `None` as status holds the request unanswered.
    struct Reply {
        status: Option<&'static str>,
        headers: Vec<(&'static str, String)>,
        body: &'static str,
    }

    fn reply(status: &'static str, headers: &[(&'static str, &str)]) -> Reply {
        Reply {
            status: Some(status),
            headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            body: "",
        }
    }

    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

    /// A tiny HTTP/1.1 server on a thread: reads each request whole,
    /// records its head and body, sends the next scripted reply (the last
    /// one repeats) and closes the connection.
    fn serve(replies: Vec<Reply>) -> (String, Received) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/upload", listener.local_addr().unwrap());
        let received: Received = Arc::default();
        let log = received.clone();
        std::thread::spawn(move || {
            for (n, sock) in listener.incoming().enumerate() {
                let mut sock = sock.unwrap();
                let request = read_request(&mut sock);
                log.lock().unwrap().push(request);
                let reply = &replies[n.min(replies.len() - 1)];
                let Some(status) = reply.status else {
                    std::thread::sleep(Duration::from_secs(30));
                    continue;
                };
                let mut text = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    reply.body.len()
                );
                for (k, v) in &reply.headers {
                    text.push_str(&format!("{k}: {v}\r\n"));
                }
                text.push_str("\r\n");
                text.push_str(reply.body);
                let _ = sock.write_all(text.as_bytes());
            }
        });
        (url, received)
    }

    fn read_request(sock: &mut std::net::TcpStream) -> (String, Vec<u8>) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = sock.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed inside the request head");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .expect("uploads are sent with Content-Length");
        let mut body = buf[head_end..].to_vec();
        while body.len() < len {
            let n = sock.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        (head, body)
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(10),
            max_server_wait: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(5),
        }
    }

    /// A file of `len` recognisable bytes.
    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&content).unwrap();
        (file, content)
    }

    /// Progress reports, in order.
    #[derive(Default)]
    struct Reports(Mutex<Vec<u64>>);

    impl Reports {
        fn record(&self, n: u64) {
            self.0.lock().unwrap().push(n);
        }
        fn last(&self) -> Option<u64> {
            self.0.lock().unwrap().last().copied()
        }
        fn max(&self) -> Option<u64> {
            self.0.lock().unwrap().iter().max().copied()
        }
    }

    async fn put(
        client: &Client,
        url: &str,
        body: BodySource,
        reports: &Reports,
    ) -> Result<Response, TransferError> {
        let request = || client.http().put(url);
        let progress = |n| reports.record(n);
        client
            .upload(&Upload {
                request: &request,
                body,
                digest: None,
                server_digest: None,
                progress: &progress,
                shared: None,
            })
            .await
    }

    #[tokio::test]
    async fn whole_body_is_sent_again_after_503_retry_after() {
        let (url, received) = serve(vec![
            reply("503 Service Unavailable", &[("Retry-After", "1")]),
            reply("200 OK", &[]),
        ]);
        let (file, content) = file_of(700_000);
        let reports = Reports::default();
        let started = std::time::Instant::now();
        let body = BodySource::File(FileRange::whole(file.path()).await.unwrap());
        let response = put(&Client::new(policy()).unwrap(), &url, body, &reports)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(started.elapsed() >= Duration::from_millis(950));
        let received = received.lock().unwrap();
        assert_eq!(received.len(), 2);
        assert!(received.iter().all(|(_, body)| *body == content));
        // The retried attempt took its bytes back: never beyond the size.
        assert_eq!(reports.last(), Some(content.len() as u64));
        assert_eq!(reports.max(), Some(content.len() as u64));
    }

    #[tokio::test]
    async fn rate_limit_resets_are_waited_for() {
        let (url, received) = serve(vec![
            reply(
                "429 Too Many Requests",
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1")],
            ),
            reply(
                "429 Too Many Requests",
                &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "1")],
            ),
            reply("200 OK", &[]),
        ]);
        let (file, content) = file_of(1000);
        let reports = Reports::default();
        let started = std::time::Instant::now();
        let body = BodySource::File(FileRange::whole(file.path()).await.unwrap());
        put(&Client::new(policy()).unwrap(), &url, body, &reports)
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(1900));
        assert_eq!(received.lock().unwrap().len(), 3);
        assert_eq!(reports.last(), Some(content.len() as u64));
    }

    #[tokio::test]
    async fn a_byte_range_sends_exactly_those_bytes() {
        let (url, received) = serve(vec![reply("200 OK", &[])]);
        let (file, content) = file_of(600_000);
        let reports = Reports::default();
        let body = BodySource::File(FileRange::new(file.path(), 1000, 300_000));
        put(&Client::new(policy()).unwrap(), &url, body, &reports)
            .await
            .unwrap();
        let received = received.lock().unwrap();
        assert_eq!(received[0].1, content[1000..301_000]);
        assert!(received[0].0.contains("content-length: 300000"));
        assert_eq!(reports.last(), Some(300_000));
    }

    #[tokio::test]
    async fn a_client_error_fails_at_once_with_its_message() {
        let (url, received) = serve(vec![Reply {
            body: "<Error><Code>AccessDenied</Code></Error>",
            ..reply("403 Forbidden", &[])
        }]);
        let (file, _) = file_of(1000);
        let body = BodySource::File(FileRange::whole(file.path()).await.unwrap());
        let error = put(
            &Client::new(policy()).unwrap(),
            &url,
            body,
            &Reports::default(),
        )
        .await
        .unwrap_err();
        assert_eq!(error.status(), Some(reqwest::StatusCode::FORBIDDEN));
        assert!(error.to_string().contains("AccessDenied"), "{error}");
        assert_eq!(received.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_form_streams_the_file_with_its_fields_and_length() {
        let (url, received) = serve(vec![reply("200 OK", &[])]);
        let (file, content) = file_of(300_000);
        let reports = Reports::default();
        let body = BodySource::Form {
            fields: vec![FormField {
                name: "jsonData".into(),
                value: r#"{"label":"a.txt"}"#.into(),
                content_type: Some("application/json".into()),
            }],
            file_field: "file".into(),
            file_name: "a.txt".into(),
            file: FileRange::whole(file.path()).await.unwrap(),
        };
        put(&Client::new(policy()).unwrap(), &url, body, &reports)
            .await
            .unwrap();
        let received = received.lock().unwrap();
        let (head, body) = &received[0];
        assert!(head.contains("multipart/form-data; boundary="), "{head}");
        let text = String::from_utf8_lossy(body);
        assert!(text.contains("name=\"jsonData\"") && text.contains(r#"{"label":"a.txt"}"#));
        assert!(text.contains("filename=\"a.txt\""));
        assert!(body.windows(content.len()).any(|w| w == content));
        assert_eq!(reports.last(), Some(content.len() as u64));
    }

    #[tokio::test]
    async fn parallel_parts_share_one_count() {
        let (url, _) = serve(vec![
            reply("500 Internal Server Error", &[]),
            reply("200 OK", &[]),
        ]);
        let (file, content) = file_of(400_000);
        let client = Client::new(policy()).unwrap();
        let reports = Reports::default();
        let total = AtomicU64::new(0);
        let request = || client.http().put(&url);
        let progress = |n| reports.record(n);
        let part = |offset, len| Upload {
            request: &request,
            body: BodySource::File(FileRange::new(file.path(), offset, len)),
            digest: None,
            server_digest: None,
            progress: &progress,
            shared: Some(&total),
        };
        let (a, b) = (part(0, 200_000), part(200_000, 200_000));
        let (ra, rb) = tokio::join!(client.upload(&a), client.upload(&b));
        ra.unwrap();
        rb.unwrap();
        assert_eq!(total.load(Ordering::SeqCst), content.len() as u64);
        assert_eq!(reports.last(), Some(content.len() as u64));
        assert!(reports.max() <= Some(content.len() as u64));
    }

    #[tokio::test]
    async fn the_server_digest_must_match_what_was_sent() {
        let (file, content) = file_of(1000);
        let md5 = {
            let mut h = Algorithm::Md5.hasher();
            h.update(&content);
            h.finish_hex()
        };
        let client = Client::new(policy()).unwrap();
        for (etag, ok) in [(md5.to_uppercase(), true), ("0".repeat(32), false)] {
            let (url, _) = serve(vec![reply("200 OK", &[("ETag", &etag)])]);
            let request = || client.http().put(&url);
            let server = |r: &Response| {
                r.headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let result = client
                .upload(&Upload {
                    request: &request,
                    body: BodySource::File(FileRange::whole(file.path()).await.unwrap()),
                    digest: Some(Algorithm::Md5),
                    server_digest: Some(&server),
                    progress: &|_| {},
                    shared: None,
                })
                .await;
            match result {
                Ok(_) => assert!(ok),
                Err(TransferError::Checksum { expected, .. }) => {
                    assert!(!ok);
                    assert_eq!(expected, md5);
                }
                Err(other) => panic!("{other}"),
            }
        }
    }

    #[tokio::test]
    async fn a_stalled_upload_is_given_up() {
        let (url, received) = serve(vec![Reply {
            status: None,
            headers: Vec::new(),
            body: "",
        }]);
        let (file, _) = file_of(1000);
        let client = Client::new(RetryPolicy {
            attempts: 1,
            stall_timeout: Duration::from_secs(1),
            ..policy()
        })
        .unwrap();
        let body = BodySource::File(FileRange::whole(file.path()).await.unwrap());
        let started = std::time::Instant::now();
        let error = put(&client, &url, body, &Reports::default())
            .await
            .unwrap_err();
        assert!(matches!(error, TransferError::Stalled { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(received.lock().unwrap().len(), 1);
    }
}

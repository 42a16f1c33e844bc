//! The session loop: handshake, routing of lines to jobs, shutdown.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite};
use tokio::sync::mpsc;

use super::dispatch::{self, JobState, Next, Shared};
use super::job::{JobAnnex, Waiting};
use super::output::Output;
use crate::protocol::{Extension, Framed, JobId, ParseError, Reply, Request, PROTOCOL_VERSION};

/// The extensions annexa can use; we ask only for those git-annex offers.
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    "INFO",
    "ASYNC",
    "GETGITREMOTENAME",
    "UNAVAILABLERESPONSE",
    "TRANSFER-RETRIEVE-URL",
    "CHECKPRESENT-URL",
    "IMPORTKEY",
];

/// Why a session ended badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("git-annex reported an error")]
    Remote,
    #[error("reading from git-annex: {0}")]
    Io(#[from] std::io::Error),
}

impl From<ParseError> for SessionError {
    fn from(e: ParseError) -> Self {
        SessionError::Protocol(e.to_string())
    }
}

/// Picks the extensions to use: what we support, git-annex offered, and
/// the environment does not turn off (`ANNEXA_NO_ASYNC=1` for comparisons).
fn negotiate(offered: &[Extension]) -> Vec<Extension> {
    let no_async = std::env::var_os("ANNEXA_NO_ASYNC").is_some_and(|v| v != "0" && !v.is_empty());
    offered
        .iter()
        .filter(|e| SUPPORTED_EXTENSIONS.contains(&e.as_str()))
        .filter(|e| !(no_async && **e == Extension::Async))
        .cloned()
        .collect()
}

/// Runs one session over `input`/`output` until git-annex closes the input.
/// On a protocol error an `ERROR` line is sent before returning the error.
pub async fn run<R, W>(input: R, sink: W) -> Result<(), SessionError>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (output, writer) = Output::spawn(sink);
    output.send(None, &Reply::Version(PROTOCOL_VERSION).lines()[0]);
    let result = route(input, output.clone()).await;
    if let Err(SessionError::Protocol(message)) = &result {
        output.send(None, &Reply::Error(message.clone()).lines()[0]);
    }
    drop(output);
    // Everything queued reaches git-annex before we exit.
    match writer.await {
        Ok(Err(e)) if result.is_ok() && e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e.into())
        }
        _ => {}
    }
    result
}

/// A running job: the sender of its lines and its task.
struct JobHandle {
    lines: mpsc::UnboundedSender<String>,
    task: tokio::task::JoinHandle<()>,
}

/// How long jobs may go on after git-annex has closed our input.
const ORPHANED_JOB_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The longest line we accept. Real lines are a command, a key and a path
/// or URL; anything this long is garbage that would otherwise be buffered
/// without bound.
const MAX_LINE: usize = 1 << 20;

/// Reads one line without its line ending. `Ok(None)` at end of input.
/// git-annex may hand us any bytes; a line that is not UTF-8 is a protocol
/// error with a message, not an I/O failure without one.
async fn read_line<R>(input: &mut R, buf: &mut Vec<u8>) -> Result<Option<String>, SessionError>
where
    R: AsyncBufRead + Unpin,
{
    buf.clear();
    let limit = (MAX_LINE + 1) as u64;
    if input.take(limit).read_until(b'\n', buf).await? == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        // Not even its start is shown: it may be a CREDS line.
        return Err(SessionError::Protocol(format!(
            "git-annex sent a line longer than {MAX_LINE} bytes"
        )));
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    match std::str::from_utf8(buf) {
        Ok(text) => Ok(Some(text.to_string())),
        // Only its command word is shown: the rest may be a password.
        Err(e) => Err(SessionError::Protocol(format!(
            "git-annex sent a line that is not valid UTF-8 (byte {} of {}{})",
            e.valid_up_to() + 1,
            buf.len(),
            command_word(buf)
                .map(|w| format!(", starting with {w}"))
                .unwrap_or_default(),
        ))),
    }
}

/// The line's first word when it looks like a protocol command (capitals,
/// digits and dashes only), after a `J n` frame; `None` otherwise.
fn command_word(line: &[u8]) -> Option<String> {
    let mut words = line.split(|b| *b == b' ');
    let mut word = words.next()?;
    if word == b"J" {
        let _job = words.next()?;
        word = words.next()?;
    }
    let looks_like_command = !word.is_empty()
        && word.len() <= 32
        && word
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'-');
    looks_like_command.then(|| String::from_utf8_lossy(word).into_owned())
}

/// The router's state: jobs by number, and who waits for an answer.
struct Router {
    output: Output,
    shared: Option<Arc<Shared>>,
    asynchronous: bool,
    jobs: HashMap<Option<JobId>, JobHandle>,
    waiting: Arc<Waiting>,
    fatal: mpsc::UnboundedSender<SessionError>,
}

async fn route<R>(mut input: R, output: Output) -> Result<(), SessionError>
where
    R: AsyncBufRead + Unpin,
{
    let (fatal_tx, mut fatal_rx) = mpsc::unbounded_channel::<SessionError>();
    let mut router = Router {
        output,
        shared: None,
        asynchronous: false,
        jobs: HashMap::new(),
        waiting: Arc::new(Waiting::default()),
        fatal: fatal_tx,
    };
    let mut buf = Vec::new();
    let result = loop {
        let read = tokio::select! {
            read = read_line(&mut input, &mut buf) => read,
            Some(error) = fatal_rx.recv() => break Err(error),
        };
        let line = match read {
            Ok(Some(line)) => line,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        match router.line(&line) {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    if let Err(e) = result {
        // Stop every job now: nothing may follow our ERROR for long, and a
        // job blocked in a transfer must not keep the process alive.
        for handle in router.jobs.values() {
            handle.task.abort();
        }
        return Err(e);
    }
    // End of input: git-annex closes it once every request is answered, so
    // a job still running means git-annex is gone (killed) and will never
    // read its reply. Let jobs finish briefly (cleanups such as aborting a
    // multipart upload), then stop them: a download nobody waits for must
    // not keep the process, its network and the files it inherited alive.
    let tasks: Vec<_> = router.jobs.into_values().map(|h| h.task).collect();
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let all = futures_util::future::join_all(tasks);
    if tokio::time::timeout(ORPHANED_JOB_GRACE, all).await.is_err() {
        tracing::warn!("git-annex closed the input while jobs were running: stopping them");
        for abort in aborts {
            abort.abort();
        }
    }
    // A fatal error raised by the last line still counts.
    match fatal_rx.try_recv() {
        Ok(error) => Err(error),
        Err(_) => Ok(()),
    }
}

impl Router {
    /// Handles one line from git-annex; `Ok(false)` when the session is over.
    fn line(&mut self, text: &str) -> Result<bool, SessionError> {
        // The handshake: EXTENSIONS, if sent at all, comes first.
        let shared = match &self.shared {
            Some(s) => s.clone(),
            None => {
                let offered = match Request::parse(text)? {
                    Request::Extensions(offered) => Some(offered),
                    _ => None,
                };
                let chosen = negotiate(offered.as_deref().unwrap_or(&[]));
                self.asynchronous = chosen.contains(&Extension::Async);
                let s = Arc::new(Shared::new(chosen.clone()));
                self.shared = Some(s.clone());
                if offered.is_some() {
                    self.output
                        .send(None, &Reply::Extensions(chosen).lines()[0]);
                    return Ok(true);
                }
                s
            }
        };

        let (job, body) = if self.asynchronous {
            let framed = Framed::parse(text)?;
            match framed.job {
                Some(job) => {
                    self.waiting.answered(Some(job));
                    (Some(job), framed.body)
                }
                // git-annex sends ERROR unframed, also when it is the
                // answer to one job's query (GETCREDS, GETGITREMOTENAME...
                // refused): that job gets it; otherwise git-annex gave up.
                None if matches!(Request::parse(text), Ok(Request::Error(_))) => {
                    match self.waiting.take_oldest() {
                        Some(job) => (job, text),
                        None => return Err(SessionError::Remote),
                    }
                }
                None => {
                    return Err(SessionError::Protocol(format!(
                        "unframed message after ASYNC was negotiated: {:?}",
                        crate::protocol::shown_line(text)
                    )))
                }
            }
        } else {
            (None, text)
        };

        let handle = self.jobs.entry(job).or_insert_with(|| {
            spawn_job(
                job,
                self.output.clone(),
                shared,
                self.waiting.clone(),
                self.fatal.clone(),
            )
        });
        // A closed channel means the job ended after git-annex's ERROR or
        // a fatal error, which the fatal channel reports.
        Ok(handle.lines.send(body.to_string()).is_ok())
    }
}

fn spawn_job(
    job: Option<JobId>,
    output: Output,
    shared: Arc<Shared>,
    waiting: Arc<Waiting>,
    fatal: mpsc::UnboundedSender<SessionError>,
) -> JobHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let annex = JobAnnex::new(job, output, rx, waiting, &shared.extensions);
    let task = tokio::spawn(async move {
        let mut state = JobState::default();
        while let Some(line) = annex.next_line().await {
            let request = match Request::parse(&line) {
                Ok(r) => r,
                Err(e) => {
                    let _ = fatal.send(e.into());
                    return;
                }
            };
            let next = crate::transfer::with_notices(
                annex.notice_sink(),
                answer_or_fail(request, |request| {
                    dispatch::handle(request, &shared, &mut state, &annex)
                }),
            )
            .await;
            // An answer we could not take ends the session; the reply built
            // on it would be a guess, so it is not sent.
            if let Some(why) = annex.broken() {
                let _ = fatal.send(SessionError::Protocol(why));
                return;
            }
            match next {
                Next::Reply(reply) => {
                    for l in reply.lines() {
                        annex.output().send(annex.job(), &l);
                    }
                }
                Next::Silent => {}
                Next::Stop => {
                    let _ = fatal.send(SessionError::Remote);
                    return;
                }
                Next::Fatal(message) => {
                    let _ = fatal.send(SessionError::Protocol(message));
                    return;
                }
            }
        }
    });
    JobHandle { lines: tx, task }
}

/// Serves one request, and answers it with its failure reply when serving
/// panics: a bug in one job must neither leave git-annex waiting for an
/// answer forever nor take the other jobs down.
async fn answer_or_fail<'a, F, Fut>(request: Request, serve: F) -> Next
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Next> + 'a,
{
    use futures_util::FutureExt;
    let fallback = request.clone();
    match std::panic::AssertUnwindSafe(serve(request))
        .catch_unwind()
        .await
    {
        Ok(next) => next,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!("internal error while serving a request: {what}");
            Next::Reply(dispatch::failure_reply(
                fallback,
                &format!("internal error in annexa ({what}); please report it"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "pa55-w0rd-\u{e9}t\u{e9}";

    async fn read_error(bytes: &[u8]) -> String {
        let mut input = bytes;
        match read_line(&mut input, &mut Vec::new()).await {
            Err(SessionError::Protocol(message)) => message,
            other => panic!("{bytes:?} was read as {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_creds_line_that_is_not_utf8_is_not_shown() {
        let mut line = format!("CREDS user {PASSWORD}").into_bytes();
        line.push(0xff);
        line.push(b'\n');
        let message = read_error(&line).await;
        assert!(message.contains("UTF-8"), "{message}");
        assert!(message.contains("CREDS"), "{message}");
        for part in ["pa55", "user", "\u{fffd}"] {
            assert!(!message.contains(part), "{part} shown in {message}");
        }
        let mut framed = format!("J 12 CREDS user {PASSWORD}").into_bytes();
        framed.insert(20, 0xc3);
        let message = read_error(&framed).await;
        assert!(message.contains("CREDS"), "{message}");
        assert!(!message.contains("pa55"), "{message}");
    }

    #[tokio::test]
    async fn an_overlong_line_is_not_shown() {
        let mut line = format!("CREDS user {PASSWORD}").into_bytes();
        line.resize(MAX_LINE + 10, b'x');
        let message = read_error(&line).await;
        assert!(message.contains("longer than"), "{message}");
        assert!(!message.contains("pa55"), "{message}");
        assert!(!message.contains("CREDS"), "{message}");
    }

    #[tokio::test]
    async fn an_unframed_creds_line_after_async_is_not_shown() {
        let (output, _writer) = Output::spawn(tokio::io::sink());
        let (fatal, _fatal_rx) = mpsc::unbounded_channel();
        let mut router = Router {
            output,
            shared: None,
            asynchronous: false,
            jobs: HashMap::new(),
            waiting: Arc::new(Waiting::default()),
            fatal,
        };
        assert!(router.line("EXTENSIONS ASYNC INFO").unwrap());
        let error = router
            .line(&format!("CREDS user {PASSWORD}"))
            .expect_err("an unframed line after ASYNC is an error");
        let message = error.to_string();
        assert!(message.contains("CREDS"), "{message}");
        assert!(!message.contains("pa55"), "{message}");
        let error = router
            .line(&format!("J x1 CREDS user {PASSWORD}"))
            .expect_err("a bad job number is an error");
        let message = error.to_string();
        assert!(message.contains("CREDS"), "{message}");
        assert!(!message.contains("pa55"), "{message}");
    }

    #[tokio::test]
    async fn a_panicking_request_is_answered_with_its_failure() {
        let key = "SHA256E-s1--ab.txt".to_string();
        let next = answer_or_fail(Request::CheckPresent(key.clone()), |_| async {
            panic!("boom");
        })
        .await;
        match next {
            Next::Reply(Reply::CheckPresentUnknown(k, why)) => {
                assert_eq!(k, key);
                assert!(why.contains("boom"), "{why}");
            }
            _ => panic!("a panicking CHECKPRESENT was not answered CHECKPRESENT-UNKNOWN"),
        }
        let next = answer_or_fail(
            Request::Transfer {
                direction: crate::protocol::Direction::Store,
                key: key.clone(),
                file: "f".into(),
            },
            |_| async { panic!("{}", String::from("owned")) },
        )
        .await;
        assert!(matches!(
            next,
            Next::Reply(Reply::TransferFailure(crate::protocol::Direction::Store, k, _)) if k == key
        ));
    }
}

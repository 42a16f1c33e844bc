//! The session loop: handshake, routing of lines to jobs, shutdown.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite};
use tokio::sync::mpsc;

use super::dispatch::{self, JobState, Next, Shared};
use super::job::JobAnnex;
use super::output::Output;
use crate::protocol::{Extension, Framed, JobId, ParseError, Reply, Request, PROTOCOL_VERSION};

/// The extensions annexa can use; we ask only for those git-annex offers.
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    "INFO",
    "ASYNC",
    "GETGITREMOTENAME",
    "UNAVAILABLERESPONSE",
    "TRANSFER-RETRIEVE-URL",
];

/// Why a session ended badly.
#[derive(Debug, thiserror::Error)]
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

async fn route<R>(mut input: R, output: Output) -> Result<(), SessionError>
where
    R: AsyncBufRead + Unpin,
{
    let mut line = String::new();
    let mut shared: Option<Arc<Shared>> = None;
    let mut asynchronous = false;
    let mut jobs: HashMap<Option<JobId>, JobHandle> = HashMap::new();
    let (fatal_tx, mut fatal_rx) = mpsc::unbounded_channel::<SessionError>();

    loop {
        line.clear();
        let read = tokio::select! {
            read = input.read_line(&mut line) => read?,
            Some(error) = fatal_rx.recv() => return Err(error),
        };
        if read == 0 {
            break;
        }
        let text = line.strip_suffix('\n').unwrap_or(&line);
        let text = text.strip_suffix('\r').unwrap_or(text);

        // The handshake: EXTENSIONS, if sent at all, comes first.
        let shared = match &shared {
            Some(s) => s.clone(),
            None => {
                let offered = match Request::parse(text) {
                    Ok(Request::Extensions(offered)) => Some(offered),
                    Ok(_) => None,
                    Err(e) => return Err(e.into()),
                };
                let chosen = negotiate(offered.as_deref().unwrap_or(&[]));
                asynchronous = chosen.contains(&Extension::Async);
                let s = Arc::new(Shared::new(chosen.clone()));
                shared = Some(s.clone());
                if offered.is_some() {
                    output.send(None, &Reply::Extensions(chosen).lines()[0]);
                    continue;
                }
                s
            }
        };

        let (job, body) = if asynchronous {
            let framed = Framed::parse(text)?;
            match framed.job {
                Some(job) => (Some(job), framed.body.to_string()),
                None if framed.body.starts_with("ERROR") => return Err(SessionError::Remote),
                None => {
                    return Err(SessionError::Protocol(format!(
                        "unframed message after ASYNC was negotiated: {text:?}"
                    )))
                }
            }
        } else {
            (None, text.to_string())
        };

        let handle = jobs
            .entry(job)
            .or_insert_with(|| spawn_job(job, output.clone(), shared.clone(), fatal_tx.clone()));
        if handle.lines.send(body).is_err() {
            // The job ended (git-annex sent ERROR); nothing more to do.
            break;
        }
    }
    // End of input: let each job finish its current request.
    let tasks: Vec<_> = jobs.into_values().map(|h| h.task).collect();
    for task in tasks {
        let _ = task.await;
    }
    // A fatal error raised by the last line still counts.
    match fatal_rx.try_recv() {
        Ok(error) => Err(error),
        Err(_) => Ok(()),
    }
}

fn spawn_job(
    job: Option<JobId>,
    output: Output,
    shared: Arc<Shared>,
    fatal: mpsc::UnboundedSender<SessionError>,
) -> JobHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let annex = JobAnnex::new(job, output, rx, &shared.extensions);
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
            match dispatch::handle(request, &shared, &mut state, &annex).await {
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
            }
            if annex.is_broken() {
                let _ = fatal.send(SessionError::Protocol(
                    "git-annex sent a message that is not a valid answer to our query".into(),
                ));
                return;
            }
        }
    });
    JobHandle { lines: tx, task }
}

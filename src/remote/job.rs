//! One job: its incoming lines and the [`Annex`] handle its provider uses.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::output::Output;
use crate::protocol::{Answer, Extension, JobId, Query};
use crate::providers::{Annex, AnnexError, Credentials};

/// Progress is sent when this many bytes or this much time has passed
/// since the last PROGRESS: often enough for stall detection and smooth
/// bars, rare enough not to flood the pipe.
const PROGRESS_BYTES: u64 = 1 << 20;
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// The jobs waiting for git-annex's answer to a query, oldest first.
///
/// With ASYNC, git-annex frames VALUE and CREDS answers (`J n VALUE x`) but
/// sends an ERROR answer unframed (it is an "exceptional message" in
/// git-annex's AsyncExtension), so the router must find out which job asked.
#[derive(Default)]
pub struct Waiting {
    inner: Mutex<WaitingInner>,
}

#[derive(Default)]
struct WaitingInner {
    next: u64,
    jobs: BTreeMap<u64, Option<JobId>>,
}

impl Waiting {
    fn enter(self: &Arc<Self>, job: Option<JobId>) -> WaitTicket {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = inner.next;
        inner.next += 1;
        inner.jobs.insert(ticket, job);
        WaitTicket {
            waiting: self.clone(),
            ticket,
        }
    }

    /// Notes that a framed line just went to `job`: that is its answer,
    /// even if the job has not read it yet, so it no longer waits for an
    /// unframed ERROR.
    pub fn answered(&self, job: Option<JobId>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ticket) = inner
            .jobs
            .iter()
            .find(|(_, j)| **j == job)
            .map(|(ticket, _)| *ticket)
        {
            inner.jobs.remove(&ticket);
        }
    }

    /// Removes and returns the job that has waited longest, if any.
    pub fn take_oldest(&self) -> Option<Option<JobId>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.jobs.pop_first().map(|(_, job)| job)
    }
}

/// A job's place in [`Waiting`] while it waits for an answer.
struct WaitTicket {
    waiting: Arc<Waiting>,
    ticket: u64,
}

impl Drop for WaitTicket {
    fn drop(&mut self) {
        let mut inner = self.waiting.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.jobs.remove(&self.ticket);
    }
}

/// The git-annex side of one job, as seen by a provider.
pub struct JobAnnex {
    job: Option<JobId>,
    output: Output,
    incoming: tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>,
    waiting: Arc<Waiting>,
    info_extension: bool,
    progress: Mutex<ProgressState>,
    /// Why git-annex's last answer could not be taken, if it could not; the
    /// session then ends with an ERROR saying so.
    broken: Mutex<Option<String>>,
}

struct ProgressState {
    sent: u64,
    at: Instant,
}

impl JobAnnex {
    pub fn new(
        job: Option<JobId>,
        output: Output,
        incoming: mpsc::UnboundedReceiver<String>,
        waiting: Arc<Waiting>,
        extensions: &[Extension],
    ) -> Self {
        Self {
            job,
            output,
            incoming: tokio::sync::Mutex::new(incoming),
            waiting,
            info_extension: extensions.contains(&Extension::Info),
            progress: Mutex::new(ProgressState {
                sent: 0,
                at: Instant::now(),
            }),
            broken: Mutex::new(None),
        }
    }

    pub fn job(&self) -> Option<JobId> {
        self.job
    }

    pub fn output(&self) -> &Output {
        &self.output
    }

    /// What broke the protocol while the last request was handled.
    pub fn broken(&self) -> Option<String> {
        self.broken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records a protocol violation and returns the error for the provider.
    fn break_protocol(&self, why: String) -> AnnexError {
        let mut broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        broken.get_or_insert_with(|| why.clone());
        AnnexError::Protocol(why)
    }

    /// Waits for the next request line of this job; `None` at end of input.
    pub async fn next_line(&self) -> Option<String> {
        self.incoming.lock().await.recv().await
    }

    /// Starts the progress count of a new transfer.
    pub fn reset_progress(&self) {
        if let Ok(mut p) = self.progress.lock() {
            p.sent = 0;
            p.at = Instant::now();
        }
    }

    fn send(&self, query: &Query) {
        self.output.send(self.job, &query.line());
    }

    /// Where the transfer layer's retry notices go while this job handles
    /// a request: INFO (DEBUG without the INFO extension) on its lines.
    pub fn notice_sink(&self) -> crate::transfer::NoticeSink {
        let output = self.output.clone();
        let job = self.job;
        let info = self.info_extension;
        Arc::new(move |message: &str| {
            let query = if info {
                Query::Info(message.to_string())
            } else {
                Query::Debug(message.to_string())
            };
            output.send(job, &query.line());
        })
    }

    /// Sends a query and waits for git-annex's answer on this job's lines.
    async fn ask(&self, query: Query) -> Result<Answer, AnnexError> {
        let mut incoming = self.incoming.lock().await;
        let _ticket = self.waiting.enter(self.job);
        self.send(&query);
        let line = incoming.recv().await.ok_or(AnnexError::Closed)?;
        match Answer::parse(&line) {
            Ok(Answer::Error(message)) => Err(AnnexError::Refused(message)),
            Ok(answer) => Ok(answer),
            Err(e) => Err(self.break_protocol(format!(
                "git-annex did not answer {}: {e}",
                query_name(&query)
            ))),
        }
    }

    async fn ask_value(&self, query: Query) -> Result<String, AnnexError> {
        let name = query_name(&query);
        match self.ask(query).await? {
            Answer::Value(v) => Ok(v),
            other => Err(self.break_protocol(format!(
                "git-annex answered {name} with {other:?} instead of VALUE"
            ))),
        }
    }
}

fn query_name(query: &Query) -> String {
    query.line().split(' ').next().unwrap_or("").to_string()
}

fn non_empty(value: String) -> Option<String> {
    if value.is_empty() {
        None
    } else {
        Some(value)
    }
}

#[async_trait]
impl Annex for JobAnnex {
    async fn get_config(&self, name: &str) -> Result<Option<String>, AnnexError> {
        Ok(non_empty(
            self.ask_value(Query::GetConfig(name.to_string())).await?,
        ))
    }

    async fn set_config(&self, name: &str, value: &str) -> Result<(), AnnexError> {
        self.send(&Query::SetConfig(name.to_string(), value.to_string()));
        Ok(())
    }

    async fn get_creds(&self, setting: &str) -> Result<Option<Credentials>, AnnexError> {
        match self.ask(Query::GetCreds(setting.to_string())).await? {
            Answer::Creds { user, password } if !(user.is_empty() && password.is_empty()) => {
                Ok(Some(Credentials {
                    user,
                    secret: password,
                }))
            }
            Answer::Creds { .. } => Ok(None),
            other => Err(self.break_protocol(format!(
                "git-annex answered GETCREDS with {other:?} instead of CREDS"
            ))),
        }
    }

    async fn set_creds(&self, setting: &str, creds: &Credentials) -> Result<(), AnnexError> {
        self.send(&Query::SetCreds {
            setting: setting.to_string(),
            user: creds.user.clone(),
            password: creds.secret.clone(),
        });
        Ok(())
    }

    async fn get_state(&self, key: &str) -> Result<Option<String>, AnnexError> {
        Ok(non_empty(
            self.ask_value(Query::GetState(key.to_string())).await?,
        ))
    }

    async fn set_state(&self, key: &str, value: &str) -> Result<(), AnnexError> {
        self.send(&Query::SetState(key.to_string(), value.to_string()));
        Ok(())
    }

    async fn get_uuid(&self) -> Result<String, AnnexError> {
        self.ask_value(Query::GetUuid).await
    }

    async fn get_git_dir(&self) -> Result<PathBuf, AnnexError> {
        Ok(PathBuf::from(self.ask_value(Query::GetGitDir).await?))
    }

    async fn get_urls(&self, key: &str, prefix: &str) -> Result<Vec<String>, AnnexError> {
        // git-annex answers with one VALUE per URL and an empty VALUE last.
        let mut incoming = self.incoming.lock().await;
        let _ticket = self.waiting.enter(self.job);
        self.send(&Query::GetUrls(key.to_string(), prefix.to_string()));
        let mut urls = Vec::new();
        loop {
            let line = incoming.recv().await.ok_or(AnnexError::Closed)?;
            match Answer::parse(&line) {
                Ok(Answer::Value(v)) if v.is_empty() => return Ok(urls),
                Ok(Answer::Value(v)) => urls.push(v),
                Ok(Answer::Error(m)) => return Err(AnnexError::Refused(m)),
                Ok(Answer::Creds { .. }) => {
                    return Err(self.break_protocol(
                        "git-annex answered GETURLS with CREDS instead of VALUE".into(),
                    ));
                }
                Err(e) => {
                    return Err(
                        self.break_protocol(format!("git-annex did not answer GETURLS: {e}"))
                    );
                }
            }
        }
    }

    async fn set_url_present(&self, key: &str, url: &str) -> Result<(), AnnexError> {
        self.send(&Query::SetUrlPresent(key.to_string(), url.to_string()));
        Ok(())
    }

    fn progress(&self, bytes: u64) {
        let Ok(mut p) = self.progress.lock() else {
            return;
        };
        let now = Instant::now();
        if bytes >= p.sent + PROGRESS_BYTES
            || (bytes != p.sent && now.duration_since(p.at) >= PROGRESS_INTERVAL)
        {
            p.sent = bytes;
            p.at = now;
            self.send(&Query::Progress(bytes));
        }
    }

    fn debug(&self, message: &str) {
        self.send(&Query::Debug(message.to_string()));
    }

    fn info(&self, message: &str) {
        if self.info_extension {
            self.send(&Query::Info(message.to_string()));
        } else {
            self.send(&Query::Debug(message.to_string()));
        }
    }
}

//! The single writer of protocol lines.
//!
//! Jobs hand finished lines to one task that owns stdout, so lines from
//! concurrent jobs never interleave within a line.

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::protocol::{Framed, JobId};

/// A cloneable handle that queues lines for the writer task.
#[derive(Clone)]
pub struct Output {
    tx: mpsc::UnboundedSender<String>,
}

impl Output {
    /// Starts the writer task on `sink`. The task ends when every handle is
    /// dropped, after writing what was queued.
    pub fn spawn<W>(sink: W) -> (Self, tokio::task::JoinHandle<std::io::Result<()>>)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_lines(sink, rx));
        (Self { tx }, task)
    }

    /// Queues one message, framed for `job` when given. Any control
    /// character is replaced, so a message is always exactly one line.
    pub fn send(&self, job: Option<JobId>, body: &str) {
        let line = Framed::frame(job, body);
        let line: String = line
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        // A closed writer means git-annex is gone; the session is ending.
        let _ = self.tx.send(line);
    }
}

async fn write_lines<W>(mut sink: W, mut rx: mpsc::UnboundedReceiver<String>) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    while let Some(line) = rx.recv().await {
        sink.write_all(line.as_bytes()).await?;
        sink.write_all(b"\n").await?;
        // Batch what is already queued before flushing.
        while let Ok(line) = rx.try_recv() {
            sink.write_all(line.as_bytes()).await?;
            sink.write_all(b"\n").await?;
        }
        sink.flush().await?;
    }
    sink.flush().await
}

//! The special-remote runtime: one session per process.
//!
//! [`session::run`] sends `VERSION`, negotiates extensions, then routes
//! every incoming line to a job. Without ASYNC there is one job; with ASYNC
//! each `J n` slot is a task of its own, so `git annex get -J8` runs eight
//! transfers concurrently in this one process. A job handles one request at
//! a time: [`dispatch`] maps it onto the [`Provider`](crate::providers::Provider),
//! and [`job::JobAnnex`] carries the provider's queries (GETCONFIG, PROGRESS,
//! ...) on the same job's lines.

mod dispatch;
mod job;
mod output;
mod session;

pub use session::{run, SessionError, SUPPORTED_EXTENSIONS};

//! The git-annex external special remote wire format, without any I/O.
//!
//! Every message is one line: a command word and a fixed number of
//! parameters separated by single spaces, where the last parameter runs to
//! the end of the line (so file names with spaces survive). With the ASYNC
//! extension every message except `VERSION`, `EXTENSIONS` and `ERROR` is
//! framed as `J <n> <message>`; see [`framing`].
//!
//! [`Request`] is what git-annex asks of us, [`Reply`] is what we answer,
//! [`Query`] is what we may ask git-annex while handling a request, and
//! [`Answer`] is what git-annex says back to a query.

mod framing;
mod message;

pub use framing::{Framed, JobId};
pub use message::{
    shown_line, Answer, Availability, CheckUrl, Direction, Extension, ParseError, Query, Reply,
    Request, UrlEntry,
};

/// The protocol version we speak: VERSION 1 plus the promise that export
/// requests are handled the way git-annex 10.20230329 and later expect.
pub const PROTOCOL_VERSION: u32 = 2;

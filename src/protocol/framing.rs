//! The `J <n> <message>` framing used once ASYNC is negotiated.

use super::message::ParseError;

/// A job slot number chosen by git-annex. Slots are reused, so a number
/// names a worker, not a key.
pub type JobId = u64;

/// A line split into its job number (if framed) and its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framed<'a> {
    pub job: Option<JobId>,
    pub body: &'a str,
}

impl<'a> Framed<'a> {
    /// Splits a `J n message` line. Lines that do not start with `J ` are
    /// returned unframed; a `J` with a bad number is an error.
    pub fn parse(line: &'a str) -> Result<Self, ParseError> {
        let Some(rest) = line.strip_prefix("J ") else {
            return Ok(Framed {
                job: None,
                body: line,
            });
        };
        let (number, body) = rest.split_once(' ').unwrap_or((rest, ""));
        // Only plain decimal digits: `str::parse` would also take "+1".
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadJob(super::message::shown_line(line)));
        }
        let job = number
            .parse::<JobId>()
            .map_err(|_| ParseError::BadJob(super::message::shown_line(line)))?;
        if body.is_empty() {
            return Err(ParseError::BadJob(super::message::shown_line(line)));
        }
        Ok(Framed {
            job: Some(job),
            body,
        })
    }

    /// Prefixes `body` with `J n ` when a job number is given.
    pub fn frame(job: Option<JobId>, body: &str) -> String {
        match job {
            Some(n) => format!("J {n} {body}"),
            None => body.to_string(),
        }
    }
}

//! What the library tells the person running it, kept apart from the work
//! (as uv does): the library calls a [`Reporter`]; the binary implements
//! it and decides how each event is shown (a progress bar on a terminal,
//! lines when piped, JSON records). The library itself never prints.

use super::paths::PathProblem;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Written to the target folder by this run.
    Written,
    /// Already in place and correct.
    Skipped,
    /// `--dry-run`: content must be downloaded first.
    WouldFetch,
    /// `--dry-run`: content is in the cache (or in git) and would be copied.
    WouldCopy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Written => "written",
            Status::Skipped => "skipped",
            Status::WouldFetch => "would-fetch",
            Status::WouldCopy => "would-copy",
        }
    }
}

/// What became of one selected file.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum FileOutcome<'a> {
    Done(Status),
    /// Could not be materialised; the others go on.
    Failed(&'a str),
    /// Never written (see [`super::paths`]).
    Refused(&'a PathProblem),
}

#[derive(Debug, Clone, Copy)]
pub struct FileEvent<'a> {
    pub path: &'a str,
    pub key: Option<&'a str>,
    pub size: Option<u64>,
    pub outcome: FileOutcome<'a>,
}

/// Files and bytes of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counted {
    pub files: u64,
    pub bytes: u64,
}

/// The end of one `get`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct GetSummary {
    pub files: u64,
    pub written: u64,
    pub skipped: u64,
    pub planned: u64,
    pub failed: usize,
    pub bytes: u64,
    pub would_fetch: Counted,
    pub would_copy: Counted,
    pub seconds: f64,
}

/// How far a `get` from a service's listing has come before it copies:
/// files listed so far, and content fetched into the cache meanwhile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchProgress {
    pub listed: u64,
    pub fetched: u64,
    pub failed: u64,
    pub bytes: u64,
}

/// Receives what the library has to say. Every method has a silent
/// default, so a caller implements only what it shows.
pub trait Reporter: Send + Sync {
    /// What is being done now ("cloning X into the cache"): for someone
    /// watching a terminal.
    fn activity(&self, _text: &str) {}
    /// Worth knowing and not a problem: a wait for a lock, a hint, a
    /// service's message.
    fn notice(&self, _text: &str) {}
    /// Something went partly wrong; the command goes on.
    fn warning(&self, _text: &str) {}
    /// A listing arrives, or content reaches the cache, before the copy
    /// of a `get` from a service begins (called often: show, don't log).
    fn fetch_progress(&self, _progress: FetchProgress) {}
    /// A `get` begins: this many files and bytes are selected.
    fn get_started(&self, _files: u64, _bytes: u64) {}
    /// More bytes downloaded or copied.
    fn get_progress(&self, _bytes: u64) {}
    fn get_file(&self, _event: &FileEvent<'_>) {}
    fn get_finished(&self, _summary: &GetSummary) {}
}

/// Says nothing (the default for library callers).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {}

/// A [`Reporter`] shared by everything one command runs.
#[derive(Clone)]
pub struct SharedReporter(pub Arc<dyn Reporter>);

impl SharedReporter {
    pub fn new(reporter: impl Reporter + 'static) -> SharedReporter {
        SharedReporter(Arc::new(reporter))
    }
}

impl Default for SharedReporter {
    fn default() -> SharedReporter {
        SharedReporter::new(Silent)
    }
}

impl std::fmt::Debug for SharedReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedReporter")
    }
}

impl std::ops::Deref for SharedReporter {
    type Target = dyn Reporter;
    fn deref(&self) -> &(dyn Reporter + 'static) {
        &*self.0
    }
}

/// The bookkeeping of one `get`: counts what happened to each file, tells
/// the [`Reporter`], and returns the failures and deliveries at the end.
pub struct Tally<'a> {
    sink: &'a dyn Reporter,
    started: Instant,
    summary: GetSummary,
    /// Paths written or found in place (not dry-run plans).
    delivered: Vec<String>,
}

impl<'a> Tally<'a> {
    pub fn new(sink: &'a dyn Reporter, total_files: u64, total_bytes: u64) -> Tally<'a> {
        sink.get_started(total_files, total_bytes);
        Tally {
            sink,
            started: Instant::now(),
            summary: GetSummary {
                files: total_files,
                ..GetSummary::default()
            },
            delivered: Vec::new(),
        }
    }

    /// Moves the byte count (downloads in flight, or files copied).
    pub fn advance(&self, bytes: u64) {
        if bytes > 0 {
            self.sink.get_progress(bytes);
        }
    }

    pub fn file(&mut self, path: &str, key: Option<&str>, size: Option<u64>, status: Status) {
        let s = &mut self.summary;
        match status {
            Status::Written => {
                self.delivered.push(path.to_string());
                s.written += 1;
                s.bytes += size.unwrap_or(0);
            }
            Status::Skipped => {
                self.delivered.push(path.to_string());
                s.skipped += 1;
            }
            Status::WouldFetch => {
                s.planned += 1;
                s.would_fetch.files += 1;
                s.would_fetch.bytes += size.unwrap_or(0);
            }
            Status::WouldCopy => {
                s.planned += 1;
                s.would_copy.files += 1;
                s.would_copy.bytes += size.unwrap_or(0);
            }
        }
        self.sink.get_file(&FileEvent {
            path,
            key,
            size,
            outcome: FileOutcome::Done(status),
        });
    }

    /// One file could not be materialised; the others go on.
    pub fn failure(&mut self, path: &str, key: Option<&str>, reason: &str) {
        self.summary.failed += 1;
        self.sink.get_file(&FileEvent {
            path,
            key,
            size: None,
            outcome: FileOutcome::Failed(reason),
        });
    }

    /// A selected path that is never written (see [`super::paths`]).
    pub fn refused(&self, path: &str, problem: &PathProblem) {
        self.sink.get_file(&FileEvent {
            path,
            key: None,
            size: None,
            outcome: FileOutcome::Refused(problem),
        });
    }

    /// A warning that is not a file failure (e.g. a key left in the cache).
    pub fn warning(&self, text: &str) {
        self.sink.warning(text);
    }

    /// [`Tally::finish`], and the paths delivered.
    pub fn finish_delivered(mut self) -> (usize, Vec<String>) {
        let delivered = std::mem::take(&mut self.delivered);
        (self.finish(), delivered)
    }

    /// Reports the summary and returns the number of failed files.
    pub fn finish(mut self) -> usize {
        let seconds = self.started.elapsed().as_secs_f64();
        self.summary.seconds = (seconds * 1000.0).round() / 1000.0;
        self.sink.get_finished(&self.summary);
        self.summary.failed
    }
}

/// A path as git shows it (`quote_c_style`): unchanged when plain, else
/// in double quotes with `\"`, `\\`, `\t`, `\n`... and octal escapes for other
/// control characters and for the invisible Unicode formatting and
/// direction marks, so a name can neither forge lines nor drive a
/// terminal. Other non-ASCII letters stay as they are (git's
/// `core.quotePath=false`).
pub fn shown_path(path: &str) -> std::borrow::Cow<'_, str> {
    let special = |c: char| {
        c.is_control()
            || c == '"'
            || c == '\\'
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
    };
    if !path.chars().any(special) {
        return std::borrow::Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 8);
    out.push('"');
    for c in path.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if special(c) => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Reporter for Recorder {
        fn warning(&self, text: &str) {
            self.0.lock().unwrap().push(format!("warning {text}"));
        }
        fn get_started(&self, files: u64, bytes: u64) {
            self.0
                .lock()
                .unwrap()
                .push(format!("start {files} {bytes}"));
        }
        fn get_progress(&self, bytes: u64) {
            self.0.lock().unwrap().push(format!("progress {bytes}"));
        }
        fn get_file(&self, event: &FileEvent<'_>) {
            let what = match event.outcome {
                FileOutcome::Done(s) => s.as_str().to_string(),
                FileOutcome::Failed(why) => format!("failed: {why}"),
                FileOutcome::Refused(p) => format!("refused: {p}"),
            };
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {what}", event.path));
        }
        fn get_finished(&self, s: &GetSummary) {
            self.0.lock().unwrap().push(format!(
                "end {} written {} skipped {} failed {} bytes",
                s.written, s.skipped, s.failed, s.bytes
            ));
        }
    }

    /// A `get`'s events reach the reporter in order, and the tally's
    /// summary counts them.
    #[test]
    fn tally_reports_every_event_and_counts_them() {
        let recorder = Recorder::default();
        let mut tally = Tally::new(&recorder, 3, 30);
        tally.advance(0);
        tally.advance(10);
        tally.file("a", Some("K"), Some(10), Status::Written);
        tally.file("b", None, Some(5), Status::Skipped);
        tally.failure("c", None, "disk full");
        tally.warning("kept K");
        let (failed, delivered) = tally.finish_delivered();
        assert_eq!(failed, 1);
        assert_eq!(delivered, ["a", "b"]);
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [
                "start 3 30",
                "progress 10",
                "a written",
                "b skipped",
                "c failed: disk full",
                "warning kept K",
                "end 1 written 1 skipped 1 failed 10 bytes",
            ]
        );
    }

    /// Names are printed as git quotes them: one line each, no terminal
    /// escapes, no invisible direction marks.
    #[test]
    fn paths_are_shown_quoted_when_they_need_it() {
        assert_eq!(shown_path("sub-01/anat/x.nii.gz"), "sub-01/anat/x.nii.gz");
        assert_eq!(shown_path("ü/名前"), "ü/名前");
        assert_eq!(shown_path("a\nb"), "\"a\\nb\"");
        assert_eq!(shown_path("x\u{1b}[2Jy"), "\"x\\033[2Jy\"");
        assert_eq!(shown_path("q\"\\t"), "\"q\\\"\\\\t\"");
        assert_eq!(shown_path("tab\there"), "\"tab\\there\"");
        assert_eq!(
            shown_path("evil\u{202e}gpj.exe"),
            "\"evil\\342\\200\\256gpj.exe\""
        );
        assert!(!shown_path("a\r\nb\u{7f}").contains(['\n', '\r', '\u{7f}']));
    }
}

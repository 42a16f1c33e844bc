//! What `annexa get` tells the user: a progress bar on a terminal, result
//! lines when piped, JSON records with `--json`, and a summary at the end.

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

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
    fn as_str(self) -> &'static str {
        match self {
            Status::Written => "written",
            Status::Skipped => "skipped",
            Status::WouldFetch => "would-fetch",
            Status::WouldCopy => "would-copy",
        }
    }
}

pub struct Reporter {
    json: bool,
    bar: Option<ProgressBar>,
    started: Instant,
    total_files: u64,
    done_files: u64,
    written: u64,
    skipped: u64,
    planned: u64,
    bytes_written: u64,
    /// Dry runs: files and bytes that would be fetched into the cache, or
    /// copied from what the cache already holds.
    would_fetch: (u64, u64),
    would_copy: (u64, u64),
    failures: Vec<String>,
    /// Paths written or found in place (not dry-run plans).
    delivered: Vec<String>,
}

impl Reporter {
    pub fn new(json: bool, total_files: u64, total_bytes: u64) -> Reporter {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let reporter = Reporter {
            json,
            bar,
            started: Instant::now(),
            total_files,
            done_files: 0,
            written: 0,
            skipped: 0,
            planned: 0,
            bytes_written: 0,
            would_fetch: (0, 0),
            would_copy: (0, 0),
            failures: Vec::new(),
            delivered: Vec::new(),
        };
        reporter.update_message();
        reporter
    }

    /// Counts the run's seconds from `started` (work done before the
    /// report began: a listing, downloads while it arrived).
    pub fn started_at(&mut self, started: Instant) {
        self.started = started;
    }

    /// Moves the byte bar (downloads in flight, or files copied).
    pub fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    pub fn file(&mut self, path: &str, key: Option<&str>, size: Option<u64>, status: Status) {
        self.done_files += 1;
        match status {
            Status::Written => {
                self.delivered.push(path.to_string());
                self.written += 1;
                self.bytes_written += size.unwrap_or(0);
            }
            Status::Skipped => {
                self.delivered.push(path.to_string());
                self.skipped += 1;
            }
            Status::WouldFetch => {
                self.planned += 1;
                self.would_fetch.0 += 1;
                self.would_fetch.1 += size.unwrap_or(0);
            }
            Status::WouldCopy => {
                self.planned += 1;
                self.would_copy.0 += 1;
                self.would_copy.1 += size.unwrap_or(0);
            }
        }
        if self.json {
            print_line(
                &json!({"path": path, "key": key, "size": size, "status": status.as_str()})
                    .to_string(),
            );
        } else if self.bar.is_none() {
            match status {
                Status::Written | Status::Skipped => print_line(&shown_path(path)),
                Status::WouldFetch | Status::WouldCopy => {
                    print_line(&format!("{}\t{}", status.as_str(), shown_path(path)))
                }
            }
        } else if matches!(status, Status::WouldFetch | Status::WouldCopy) {
            let line = format!("{}\t{}", status.as_str(), shown_path(path));
            self.suspend(|| print_line(&line));
        }
        self.update_message();
    }

    /// One file could not be materialised; the others go on.
    pub fn failure(&mut self, path: &str, key: Option<&str>, reason: &str) {
        self.done_files += 1;
        self.failures.push(path.to_string());
        if self.json {
            print_line(
                &json!({"path": path, "key": key, "status": "failed", "error": reason}).to_string(),
            );
        } else {
            let line = format!("annexa: failed: {}: {reason}", shown_path(path));
            self.suspend(|| eprintln!("{line}"));
        }
        self.update_message();
    }

    /// A selected path that is never written (see [`super::paths`]).
    pub fn refused(&self, path: &str, problem: &super::paths::PathProblem) {
        if self.json {
            print_line(
                &json!({"path": path, "status": "refused", "error": problem.to_string()})
                    .to_string(),
            );
        } else {
            let line = format!(
                "annexa: warning: not written: {}: {problem}",
                shown_path(path)
            );
            self.suspend(|| eprintln!("{line}"));
        }
    }

    /// A warning that is not a file failure (e.g. a key left in the cache).
    pub fn warning(&self, text: &str) {
        if self.json {
            print_line(&json!({"warning": text}).to_string());
        } else {
            self.suspend(|| eprintln!("annexa: warning: {text}"));
        }
    }

    /// [`Reporter::finish`], and the paths delivered.
    pub fn finish_delivered(mut self) -> (usize, Vec<String>) {
        let delivered = std::mem::take(&mut self.delivered);
        (self.finish(), delivered)
    }

    /// Prints the summary and returns the number of failed files.
    pub fn finish(self) -> usize {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let seconds = self.started.elapsed().as_secs_f64();
        if self.json {
            print_line(
                &json!({"summary": {
                    "files": self.total_files,
                    "written": self.written,
                    "skipped": self.skipped,
                    "planned": self.planned,
                    "failed": self.failures.len(),
                    "bytes": self.bytes_written,
                    "would_fetch": {"files": self.would_fetch.0, "bytes": self.would_fetch.1},
                    "would_copy": {"files": self.would_copy.0, "bytes": self.would_copy.1},
                    "seconds": (seconds * 1000.0).round() / 1000.0,
                }})
                .to_string(),
            );
        } else {
            let mut text = if self.planned > 0 {
                format!(
                    "annexa: dry run: {} files: {} to fetch ({}), {} to copy from the cache ({}), {} already in place",
                    self.total_files,
                    self.would_fetch.0,
                    HumanBytes(self.would_fetch.1),
                    self.would_copy.0,
                    HumanBytes(self.would_copy.1),
                    self.skipped
                )
            } else {
                format!(
                    "annexa: {} files ({} written, {} already in place), {} in {:.1} s",
                    self.total_files,
                    self.written,
                    self.skipped,
                    HumanBytes(self.bytes_written),
                    seconds
                )
            };
            if !self.failures.is_empty() {
                // Each failure was printed with its reason as it happened.
                text.push_str(&format!("; {} FAILED (listed above)", self.failures.len()));
            }
            eprintln!("{text}");
        }
        self.failures.len()
    }

    fn update_message(&self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}/{} files", self.done_files, self.total_files));
        }
    }

    fn suspend(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
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

/// Writes one line to stdout; a closed pipe (`| head`) is not an error.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

#[cfg(test)]
mod tests {
    use super::shown_path;

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

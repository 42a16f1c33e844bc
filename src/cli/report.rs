//! How `annexa` shows what the library reports: a progress bar on a
//! terminal, result lines when piped, JSON records with `--json`, notices
//! and warnings on stderr. Part of the binary, not of the library (which
//! only calls [`Reporter`]).

use annexa::dataset::report::{
    shown_path, FetchProgress, FileEvent, FileOutcome, GetSummary, Status,
};
use annexa::dataset::Reporter;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

pub struct Console {
    /// `get --json`: one record per file on stdout.
    json: bool,
    /// Notices and activities are not shown (e.g. `import --json`).
    quiet: bool,
    /// stderr is a terminal: a progress bar and activities are shown.
    terminal: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bar: Option<ProgressBar>,
    total_files: u64,
    done_files: u64,
    /// Files and bytes delivered so far, for a report when interrupted.
    written: u64,
    bytes: u64,
    running: bool,
    /// A spinner while a service's listing arrives and content reaches
    /// the cache, before the copy's bar.
    fetching: Option<ProgressBar>,
    /// Content fetched into the cache so far, for a report when interrupted.
    fetched: FetchProgress,
    /// Listing and fetching into the cache; the copy has not begun.
    fetch_phase: bool,
    /// When the listing began, and how long it and the fetching took.
    fetch_started: Option<std::time::Instant>,
    fetch_seconds: Option<f64>,
}

impl State {
    /// The bar or spinner on screen, if any.
    fn shown(&self) -> Option<&ProgressBar> {
        self.bar.as_ref().or(self.fetching.as_ref())
    }
}

impl Console {
    pub fn new(json: bool, quiet: bool) -> Console {
        Console {
            json,
            quiet,
            terminal: std::io::stderr().is_terminal(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prints on stderr without tearing the progress bar.
    fn say(&self, line: &str) {
        let state = self.state();
        match state.shown() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    fn say_out(&self, line: &str) {
        let state = self.state();
        match state.shown() {
            Some(bar) => bar.suspend(|| print_line(line)),
            None => print_line(line),
        }
    }

    /// Takes any bar or spinner off the screen (before an error is shown).
    pub fn clear(&self) {
        let mut state = self.state();
        for bar in [state.bar.take(), state.fetching.take()]
            .into_iter()
            .flatten()
        {
            bar.finish_and_clear();
        }
    }

    /// Ctrl-C during a `get`: the progress line is cleared and what was
    /// done is said; `None` when no `get` was running.
    pub fn interrupted(&self) -> Option<String> {
        let mut state = self.state();
        if let Some(bar) = state.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(spinner) = state.fetching.take() {
            spinner.finish_and_clear();
        }
        if state.fetch_phase {
            let f = state.fetched;
            return Some(format!(
                "annexa: interrupted before the copy began: nothing was written to the target; {} files listed, {} fetched into the cache ({}) and kept there; run the same command again to finish",
                f.listed,
                f.fetched,
                HumanBytes(f.bytes)
            ));
        }
        state.running.then(|| {
            format!(
                "annexa: interrupted: {} of {} files written ({}); files not written are not in the target; run the same command again to finish",
                state.written,
                state.total_files,
                HumanBytes(state.bytes)
            )
        })
    }
}

impl Reporter for Console {
    fn fetch_progress(&self, progress: FetchProgress) {
        let mut state = self.state();
        state.fetched = progress;
        state.fetch_phase = true;
        state
            .fetch_started
            .get_or_insert_with(std::time::Instant::now);
        if self.json || self.quiet || !self.terminal {
            return;
        }
        let spinner = state.fetching.get_or_insert_with(|| {
            let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            spinner.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(200));
            spinner
        });
        let failed = match progress.failed {
            0 => String::new(),
            n => format!(", {n} failed"),
        };
        spinner.set_message(format!(
            "listed {} files; fetched {} into the cache ({}){failed}",
            progress.listed,
            progress.fetched,
            HumanBytes(progress.bytes)
        ));
    }

    fn activity(&self, text: &str) {
        if self.terminal && !self.quiet {
            self.say(&format!("annexa: {text}"));
        }
    }

    fn notice(&self, text: &str) {
        if !self.quiet {
            self.say(&format!("annexa: {text}"));
        }
    }

    fn warning(&self, text: &str) {
        if self.json {
            self.say_out(&json!({ "warning": text }).to_string());
        } else {
            self.say(&format!("annexa: warning: {text}"));
        }
    }

    fn get_started(&self, files: u64, bytes: u64) {
        let mut state = self.state();
        if let Some(spinner) = state.fetching.take() {
            spinner.finish_and_clear();
        }
        state.fetch_phase = false;
        state.fetch_seconds = state.fetch_started.map(|t| t.elapsed().as_secs_f64());
        state.total_files = files;
        state.running = true;
        if self.json || !self.terminal {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar.set_message(format!("0/{files} files"));
        state.bar = Some(bar);
    }

    fn get_progress(&self, bytes: u64) {
        if let Some(bar) = &self.state().bar {
            bar.inc(bytes);
        }
    }

    fn get_file(&self, event: &FileEvent<'_>) {
        let FileEvent {
            path,
            key,
            size,
            outcome,
        } = *event;
        {
            let mut state = self.state();
            if !matches!(outcome, FileOutcome::Refused(_)) {
                state.done_files += 1;
            }
            if let FileOutcome::Done(Status::Written) = outcome {
                state.written += 1;
                state.bytes += size.unwrap_or(0);
            }
            if let Some(bar) = &state.bar {
                bar.set_message(format!("{}/{} files", state.done_files, state.total_files));
            }
        }
        let has_bar = self.state().bar.is_some();
        match outcome {
            FileOutcome::Done(status) => {
                if self.json {
                    self.say_out(
                        &json!({"path": path, "key": key, "size": size, "status": status.as_str()})
                            .to_string(),
                    );
                    return;
                }
                match status {
                    Status::Written | Status::Skipped if !has_bar => {
                        self.say_out(&shown_path(path))
                    }
                    Status::WouldFetch | Status::WouldCopy => {
                        self.say_out(&format!("{}\t{}", status.as_str(), shown_path(path)))
                    }
                    _ => {}
                }
            }
            FileOutcome::Failed(reason) => {
                if self.json {
                    self.say_out(
                        &json!({"path": path, "key": key, "status": "failed", "error": reason})
                            .to_string(),
                    );
                } else {
                    self.say(&format!("annexa: failed: {}: {reason}", shown_path(path)));
                }
            }
            FileOutcome::Refused(problem) => {
                if self.json {
                    self.say_out(
                        &json!({"path": path, "status": "refused", "error": problem.to_string()})
                            .to_string(),
                    );
                } else {
                    self.say(&format!(
                        "annexa: warning: not written: {}: {problem}",
                        shown_path(path)
                    ));
                }
            }
            _ => {}
        }
    }

    fn get_finished(&self, s: &GetSummary) {
        {
            let mut state = self.state();
            if let Some(bar) = state.bar.take() {
                bar.finish_and_clear();
            }
            state.running = false;
        }
        if self.json {
            print_line(&json!({ "summary": s }).to_string());
            return;
        }
        let mut text = if s.planned > 0 {
            format!(
                "annexa: dry run: {} files: {} to fetch ({}), {} to copy from the cache ({}), {} already in place",
                s.files,
                s.would_fetch.files,
                HumanBytes(s.would_fetch.bytes),
                s.would_copy.files,
                HumanBytes(s.would_copy.bytes),
                s.skipped
            )
        } else {
            format!(
                "annexa: {} files ({} written, {} already in place), {} in {:.1} s",
                s.files,
                s.written,
                s.skipped,
                HumanBytes(s.bytes),
                s.seconds
            )
        };
        let (fetch_seconds, f) = {
            let state = self.state();
            (state.fetch_seconds, state.fetched)
        };
        if let Some(seconds) = fetch_seconds {
            text.push_str(&format!(
                ", after listing {} files and fetching {} into the cache ({}) in {seconds:.1} s",
                f.listed,
                f.fetched,
                HumanBytes(f.bytes)
            ));
        }
        if s.failed > 0 {
            // Each failure was printed with its reason as it happened.
            text.push_str(&format!("; {} FAILED (listed above)", s.failed));
        }
        eprintln!("{text}");
    }
}

/// Writes one line to stdout; a closed pipe (`| head`) is not an error.
pub fn print_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

//! One batched, parallel `git annex get` (and `drop`) for many keys, with
//! its JSON records turned into events as they arrive.

use super::git::{describe, git, spawn_error};
use super::DatasetError;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;

/// What the batch reports, in arrival order.
#[derive(Debug)]
pub enum FetchEvent<'a> {
    /// Bytes received so far for one item.
    Progress { item: &'a str, bytes: u64 },
    /// The item's content is now present.
    Done { item: &'a str },
    /// git-annex gave up on the item.
    Failed { item: &'a str, reason: String },
}

/// Whether the batch is fed keys (the cache) or paths (a `--direct` clone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchInput {
    Keys,
    Paths,
}

/// Runs `git annex get --batch-keys --json --json-progress -J N` on `items`.
/// Items git-annex says nothing about (already present) produce no event;
/// callers check presence afterwards. Returns git-annex's stderr.
pub fn get(
    repo: &Path,
    items: &[String],
    jobs: usize,
    input: BatchInput,
    mut on_event: impl FnMut(FetchEvent<'_>),
) -> Result<String, DatasetError> {
    // git-annex reads one item per line: a name with a line break would be
    // two requests (another file's, or a key the data chose).
    for item in items.iter().filter(|i| !batch_safe(i)) {
        on_event(FetchEvent::Failed {
            item,
            reason: "its name holds a control character; not passed to git annex get".into(),
        });
    }
    if items.iter().all(|i| !batch_safe(i)) {
        return Ok(String::new());
    }
    let mut cmd = git(repo);
    cmd.args(["-c", "annex.retry=3", "annex", "get"])
        .arg(match input {
            BatchInput::Keys => "--batch-keys",
            BatchInput::Paths => "--batch",
        })
        .args(["--json", "--json-progress", "--json-error-messages"])
        .arg(format!("-J{}", jobs.max(1)));
    run_batch(cmd, items, |record| {
        let item = record_item(record, input);
        let Some(item) = item else { return };
        if let Some(success) = record.get("success").and_then(Value::as_bool) {
            if success {
                on_event(FetchEvent::Done { item });
            } else {
                on_event(FetchEvent::Failed {
                    item,
                    reason: failure_reason(record),
                });
            }
        } else if let Some(bytes) = record.get("byte-progress").and_then(Value::as_u64) {
            on_event(FetchEvent::Progress { item, bytes });
        }
    })
}

/// Drops keys from the cache; returns the keys git-annex refused to drop,
/// with its reason (e.g. it could not verify another copy).
pub fn drop_keys(repo: &Path, keys: &[String]) -> Result<Vec<(String, String)>, DatasetError> {
    let mut refused: Vec<(String, String)> = keys
        .iter()
        .filter(|k| !batch_safe(k))
        .map(|k| (k.clone(), "the key holds a control character".to_string()))
        .collect();
    if keys.iter().all(|k| !batch_safe(k)) {
        return Ok(refused);
    }
    let mut cmd = git(repo);
    cmd.args([
        "annex",
        "drop",
        "--batch-keys",
        "--json",
        "--json-error-messages",
    ]);
    run_batch(cmd, keys, |record| {
        if record.get("success").and_then(Value::as_bool) == Some(false) {
            if let Some(key) = record_item(record, BatchInput::Keys) {
                refused.push((key.to_string(), failure_reason(record)));
            }
        }
    })?;
    Ok(refused)
}

/// Whether `item` can be one line of a `--batch` input.
pub fn batch_safe(item: &str) -> bool {
    !item.is_empty() && !item.chars().any(char::is_control)
}

/// Feeds `items` on stdin from a thread while reading JSON lines from stdout
/// (never one that [`batch_safe`] refuses).
fn run_batch(
    mut cmd: std::process::Command,
    items: &[String],
    mut on_record: impl FnMut(&Value),
) -> Result<String, DatasetError> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(&cmd, e))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let request: String = items
        .iter()
        .filter(|k| batch_safe(k))
        .map(|k| format!("{k}\n"))
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut stderr = child.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut records = 0usize;
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if let Ok(record) = serde_json::from_str::<Value>(&line) {
            records += 1;
            on_record(&record);
        }
    }
    let _ = writer.join();
    let stderr_text = errors.join().unwrap_or_default();
    let status = child.wait().map_err(|e| spawn_error(&cmd, e))?;
    // A non-zero exit with per-item failures is reported per item (with
    // --json-error-messages every item gets a record); without any record
    // (not a repository, an option this git-annex lacks) it is an error of
    // its own.
    if !status.success() && records == 0 && !items.is_empty() {
        return Err(DatasetError::Command {
            command: describe(&cmd),
            message: stderr_text.trim().to_string(),
        });
    }
    Ok(stderr_text)
}

/// The key (or file) a record is about, wherever this git-annex version puts it.
fn record_item(record: &Value, input: BatchInput) -> Option<&str> {
    let action = record.get("action").unwrap_or(record);
    let field = match input {
        BatchInput::Keys => "key",
        BatchInput::Paths => "file",
    };
    action.get(field).and_then(Value::as_str).or_else(|| {
        action
            .get("input")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
    })
}

fn failure_reason(record: &Value) -> String {
    let mut parts: Vec<String> = record
        .get("error-messages")
        .and_then(Value::as_array)
        .map(|msgs| {
            msgs.iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    // git-annex retries (annex.retry) and lists each attempt's message:
    // the same failure is said once.
    let mut said = std::collections::HashSet::new();
    parts.retain(|p| said.insert(p.clone()));
    if let Some(note) = record.get("note").and_then(Value::as_str) {
        parts.push(note.trim().to_string());
    }
    if parts.is_empty() {
        "git-annex reported a failure without a reason".into()
    } else {
        parts.join("; ")
    }
}

/// Keeps the last byte count per item so progress can be turned into deltas.
#[derive(Default)]
pub struct ByteCounter {
    seen: HashMap<String, u64>,
}

impl ByteCounter {
    /// Bytes newly received for `item` since the last report.
    pub fn delta(&mut self, item: &str, bytes: u64) -> u64 {
        let last = self.seen.entry(item.to_string()).or_insert(0);
        let delta = bytes.saturating_sub(*last);
        *last = (*last).max(bytes);
        delta
    }

    /// Bytes reported for `item` in total.
    pub fn total(&self, item: &str) -> u64 {
        self.seen.get(item).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name with a line break never reaches a `--batch` input, where it
    /// would be two requests.
    #[test]
    fn control_characters_never_reach_batch_input() {
        assert!(batch_safe("sub-01/anat/x.nii.gz"));
        assert!(batch_safe("MD5E-s3--abc.txt"));
        for bad in ["a\nb", "a\rb", "x\u{1b}[2J", "", "t\tab", "n\u{85}el"] {
            assert!(!batch_safe(bad), "{bad:?}");
        }
        let missing = Path::new("/nonexistent/annexa/repo");
        let mut failed = Vec::new();
        let items = vec!["a\nother/file".to_string()];
        let out = get(missing, &items, 1, BatchInput::Paths, |e| {
            if let FetchEvent::Failed { item, .. } = e {
                failed.push(item.to_string());
            }
        })
        .unwrap();
        assert!(out.is_empty());
        assert_eq!(failed, items);
        let refused = drop_keys(missing, &["K\nEY".to_string()]).unwrap();
        assert_eq!(refused.len(), 1);
    }
}

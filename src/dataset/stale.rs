//! When the cache may be stale: how old a cached copy is, whether a local
//! source moved on since, and whether a file in the target is an earlier
//! version of the dataset's (the source changed it) or the user's own.

use super::annex::{content_matches_key, key_from_link_target, key_from_pointer};
use super::git::{git, run};
use super::resolve::Resolved;
use super::{DatasetError, Source};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Paths checked against their history when a target file differs; the
/// rest are named as differing only (each check costs a `git log`).
const MAX_CLASSIFIED: usize = 20;
/// Versions of one path compared with the target's file.
const MAX_VERSIONS: usize = 20;

/// How long ago the cache entry of `repo` was cloned or last refreshed.
pub fn refreshed_ago(repo: &Path) -> Option<Duration> {
    let stamp = repo.parent()?.join(super::cache::READY_FILE);
    let modified = std::fs::metadata(stamp).ok()?.modified().ok()?;
    SystemTime::now().duration_since(modified).ok()
}

/// "3 days", "5 hours", "12 minutes", "a few seconds".
pub fn human_age(age: Duration) -> String {
    let s = age.as_secs();
    let (n, unit) = match s {
        0..=59 => return "a few seconds".into(),
        60..=3599 => (s / 60, "minute"),
        3600..=86_399 => (s / 3600, "hour"),
        _ => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// What to say after a lookup that the cache may have answered from an
/// old copy.
pub fn update_hint(source: &Source, repo: &Path) -> String {
    let age = refreshed_ago(repo)
        .map(|a| format!(" is {} old", human_age(a)))
        .unwrap_or_default();
    format!(
        "annexa's copy of {}{age}: pass --update to read its latest state",
        source.as_str()
    )
}

/// Errors that an old copy could explain (a value or pipeline that is
/// not there yet) get the hint appended; others pass unchanged.
pub fn explain(error: DatasetError, hint: impl FnOnce() -> String) -> DatasetError {
    use crate::bids::BidsError;
    match error {
        DatasetError::Selection(
            BidsError::NoSuchValue { .. }
            | BidsError::NoSuchPipeline { .. }
            | BidsError::EmptyCombination { .. },
        )
        | DatasetError::EmptySelection => DatasetError::MaybeStale {
            inner: Box::new(error),
            hint: hint(),
        },
        other => other,
    }
}

/// A local source whose HEAD is not the commit the cache holds: one
/// `rev-parse` in each, no network. `None` when they agree or either
/// cannot be read.
pub fn local_head_moved(source: &Source, repo: &Path) -> Option<String> {
    if !source.is_local() {
        return None;
    }
    let head = |dir: &Path| {
        run(git(dir).args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]))
            .ok()
            .map(|out| String::from_utf8_lossy(&out).trim().to_string())
    };
    let theirs = head(Path::new(source.as_str()))?;
    let ours = head(repo)?;
    (theirs != ours).then(|| {
        format!(
            "{} has changed since annexa cached it (its HEAD is {}, the cache holds {}): pass --update to read its latest state",
            source.as_str(),
            &theirs[..theirs.len().min(12)],
            &ours[..ours.len().min(12)]
        )
    })
}

/// Files in the target that differ from what the selection would write,
/// sorted into earlier versions of the dataset's file (the source changed
/// it since it was written there) and files changed in the target.
pub fn would_overwrite(resolved: &Resolved, target: &Path, differing: &[String]) -> DatasetError {
    let mut from_source = Vec::new();
    let mut changed_here = Vec::new();
    for path in differing.iter().take(MAX_CLASSIFIED) {
        // The dataset the path belongs to: the longest prefix it starts with.
        let owner = (0..resolved.datasets.len())
            .filter(|&d| path.starts_with(resolved.prefixes[d].as_str()))
            .max_by_key(|&d| resolved.prefixes[d].len());
        let earlier = owner.is_some_and(|d| {
            is_earlier_version(
                &resolved.datasets[d].repo,
                &path[resolved.prefixes[d].len()..],
                &target.join(path),
            )
        });
        if earlier {
            from_source.push(path.clone());
        } else {
            changed_here.push(path.clone());
        }
    }
    let unchecked = differing.len() - from_source.len() - changed_here.len();
    if from_source.is_empty() && unchecked == 0 {
        return DatasetError::ChangedInTarget {
            count: differing.len(),
            examples: examples(differing),
        };
    }
    if from_source.is_empty() {
        return DatasetError::WouldOverwrite {
            count: differing.len(),
            examples: examples(differing),
        };
    }
    let mut others = Vec::new();
    if !changed_here.is_empty() {
        others.push(format!(
            "{} changed in the target ({})",
            changed_here.len(),
            examples(&changed_here)
        ));
    }
    if unchecked > 0 {
        others.push(format!("{unchecked} not checked"));
    }
    DatasetError::TargetOutdated {
        count: differing.len(),
        from_source: from_source.len(),
        source_examples: examples(&from_source),
        others: others.iter().map(|o| format!(", {o}")).collect::<String>(),
    }
}

fn examples(paths: &[String]) -> String {
    paths.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
}

/// Whether `file` holds what `path` held in one of the last
/// [`MAX_VERSIONS`] commits of `repo` that changed it: its annex key's
/// checksum, or its git blob.
fn is_earlier_version(repo: &Path, path: &str, file: &Path) -> bool {
    let Ok(log) = run(git(repo).args([
        "log",
        &format!("-n{MAX_VERSIONS}"),
        "--format=",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "HEAD",
        "--",
        path,
    ])) else {
        return false;
    };
    // `:OLDMODE NEWMODE OLDOID NEWOID STATUS\tPATH`: both sides are
    // versions of the path (a zero oid is "no file").
    let mut oids: Vec<String> = String::from_utf8_lossy(&log)
        .lines()
        .filter_map(|line| line.split('\t').next())
        .flat_map(|meta| {
            meta.split_whitespace()
                .skip(2)
                .take(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|oid| oid.bytes().any(|b| b != b'0'))
        .collect();
    oids.sort();
    oids.dedup();
    if oids.is_empty() {
        return false;
    }
    // Only small blobs can be links or pointer files; a large one is
    // matched by its oid alone, never read into memory.
    let sizes = super::git::feed(
        git(repo).args(["cat-file", "--batch-check=%(objectname) %(objectsize)"]),
        oids.join("\n").as_bytes(),
    )
    .unwrap_or_default();
    let small: Vec<String> = String::from_utf8_lossy(&sizes)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, size)| size.parse::<u64>().is_ok_and(|s| s <= 1024))
        .map(|(oid, _)| oid.to_string())
        .collect();
    let blobs = match super::git::read_small_blobs(repo, &small) {
        Ok(blobs) => blobs,
        Err(_) => return false,
    };
    let own_oid = run(git(repo).arg("hash-object").arg("--no-filters").arg(file))
        .ok()
        .map(|out| String::from_utf8_lossy(&out).trim().to_string());
    oids.iter().any(|oid| {
        if own_oid.as_deref() == Some(oid.as_str()) {
            return true;
        }
        let key = blobs
            .get(oid)
            .and_then(|b| key_from_link_target(b).or_else(|| key_from_pointer(b)));
        key.is_some_and(|key| content_matches_key(&key, file).ok().flatten() == Some(true))
    })
}

#[cfg(test)]
mod tests {
    use super::human_age;
    use std::time::Duration;

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(human_age(Duration::from_secs(5)), "a few seconds");
        assert_eq!(human_age(Duration::from_secs(60)), "1 minute");
        assert_eq!(human_age(Duration::from_secs(7300)), "2 hours");
        assert_eq!(human_age(Duration::from_secs(3 * 86_400 + 5)), "3 days");
    }
}

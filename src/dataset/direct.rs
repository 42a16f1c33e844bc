//! `get --direct`: the target folder becomes a clone of the dataset itself,
//! with the selected content present and unlocked as real files, for users
//! who want to keep working with DataLad or git-annex there.
//!
//! Subdatasets the selection reaches into (derivative pipelines, subjects
//! kept as datasets of their own) are installed the way `datalad get -n`
//! does: cloned at their mount point from the URL the superdataset records
//! (relative to the superdataset's source), at the commit it records, and
//! annex-initialised. Only subdatasets holding selected files (and those
//! above them) are installed; the others stay empty mount points.

use super::annex::key_size;
use super::fetch::{self, BatchInput, ByteCounter, FetchEvent};
use super::get::{GetOptions, GetOutcome};
use super::git::{git, run};
use super::materialize::target_path;
use super::report::{Reporter, Status, Tally};
use super::resolve::{DatasetFile, Resolved};
use super::tree::Content;
use super::{DatasetError, Source};
use crate::error_chain_text;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Paths per `git annex unlock` call, to stay far below argument limits.
const UNLOCK_CHUNK: usize = 200;

pub fn get_direct(
    source: &Source,
    resolved: &Resolved,
    treeish: Option<&str>,
    options: &GetOptions,
    sink: &dyn Reporter,
) -> Result<GetOutcome, DatasetError> {
    let dir = &options.to;
    let files: Vec<&DatasetFile> = resolved
        .selection
        .iter()
        .map(|&(i, _)| &resolved.files[i])
        .collect();
    let total_bytes = files.iter().filter_map(|f| f.content.size()).sum();
    let mut reporter = Tally::new(sink, files.len() as u64, total_bytes);
    for (path, problem) in &resolved.refused {
        reporter.refused(path, problem);
    }
    if options.dry_run {
        // A preview clones nothing.
        for file in &files {
            let status = match file.content {
                Content::Annexed { .. } => Status::WouldFetch,
                _ => Status::WouldCopy,
            };
            reporter.file(&file.path, file.content.key(), file.content.size(), status);
        }
        let (failed, delivered) = reporter.finish_delivered();
        return Ok(GetOutcome { failed, delivered });
    }
    prepare_clone(source, dir, treeish)?;
    // git runs in several folders below; one absolute spelling for all.
    let dir = &dir.canonicalize().map_err(|e| DatasetError::io(dir, e))?;

    // Where each needed dataset is checked out, or why it could not be.
    let worktrees = install_subdatasets(dir, resolved, &files, sink);
    let mut reasons: HashMap<String, String> = HashMap::new();
    let mut by_dataset: BTreeMap<usize, Vec<&DatasetFile>> = BTreeMap::new();
    for file in &files {
        by_dataset.entry(file.dataset).or_default().push(file);
    }
    for (dataset, members) in &by_dataset {
        let worktree = match &worktrees[*dataset] {
            Ok(path) => path,
            Err(why) => {
                for file in members {
                    reasons.insert(file.path.clone(), why.clone());
                }
                continue;
            }
        };
        let prefix = &resolved.prefixes[*dataset];
        let annexed: Vec<String> = members
            .iter()
            .filter(|f| matches!(f.content, Content::Annexed { .. }))
            .map(|f| f.path[prefix.len()..].to_string())
            .collect();
        let mut counter = ByteCounter::default();
        fetch::get(
            worktree,
            &annexed,
            options.jobs,
            BatchInput::Paths,
            |event| match event {
                FetchEvent::Progress { item, bytes } => {
                    reporter.advance(counter.delta(item, bytes))
                }
                FetchEvent::Done { .. } => {}
                FetchEvent::Failed { item, reason } => {
                    reasons.insert(format!("{prefix}{item}"), reason);
                }
            },
        )?;
        for chunk in annexed.chunks(UNLOCK_CHUNK) {
            // Per-file problems show up below when each path is checked.
            let _ = run(git(worktree)
                .args(["annex", "unlock", "--quiet", "--"])
                .args(chunk));
        }
    }
    for file in files {
        let expected = match &file.content {
            Content::Annexed { key } => key_size(key),
            other => other.size(),
        };
        let dest = match target_path(dir, &file.path) {
            Ok(dest) => dest,
            Err(e) => {
                let reason = reasons
                    .remove(&file.path)
                    .unwrap_or_else(|| error_chain_text(&e));
                reporter.failure(&file.path, file.content.key(), &reason);
                continue;
            }
        };
        let meta = std::fs::symlink_metadata(&dest).ok();
        let is_real = meta.as_ref().is_some_and(|m| m.file_type().is_file());
        let size_ok = meta
            .as_ref()
            .is_some_and(|m| expected.map_or(true, |s| s == m.len()));
        let is_link = meta.as_ref().is_some_and(|m| m.file_type().is_symlink());
        if (matches!(file.content, Content::Symlink { .. }) && is_link) || (is_real && size_ok) {
            reporter.file(&file.path, file.content.key(), expected, Status::Written);
        } else {
            let reason = reasons
                .remove(&file.path)
                .unwrap_or_else(|| "content is not present after git annex get/unlock".into());
            reporter.failure(&file.path, file.content.key(), &reason);
        }
    }
    let (failed, delivered) = reporter.finish_delivered();
    Ok(GetOutcome { failed, delivered })
}

/// Installs every subdataset that holds a selected file, and the ones
/// between it and the top, parents first. Returns per dataset of
/// `resolved` its checkout folder, or why it is not there (a subdataset
/// that fails to install fails its files, not the whole run).
fn install_subdatasets(
    dir: &Path,
    resolved: &Resolved,
    files: &[&DatasetFile],
    sink: &dyn Reporter,
) -> Vec<Result<PathBuf, String>> {
    let count = resolved.datasets.len();
    let parents: Vec<Option<usize>> = (0..count).map(|d| parent_of(resolved, d)).collect();
    let mut needed = vec![false; count];
    for file in files {
        let mut at = Some(file.dataset);
        while let Some(d) = at {
            needed[d] = true;
            at = parents[d];
        }
    }
    let mut worktrees: Vec<Result<PathBuf, String>> = Vec::with_capacity(count);
    worktrees.push(Ok(dir.to_path_buf()));
    // The resolver opens a dataset before the ones below it, so parents
    // come first in index order.
    for d in 1..count {
        if !needed[d] {
            worktrees.push(Err("not needed".into()));
            continue;
        }
        let mount = resolved.prefixes[d].trim_end_matches('/');
        let outcome = match parents[d].map(|p| &worktrees[p]) {
            Some(Ok(parent)) => {
                let parent_prefix = &resolved.prefixes[parents[d].unwrap_or(0)];
                install_one(
                    dir,
                    parent,
                    mount,
                    &mount[parent_prefix.len()..],
                    &resolved.datasets[d].source,
                    sink,
                )
                .map_err(|e| {
                    error_chain_text(&DatasetError::Subdataset {
                        mount: mount.to_string(),
                        source: Box::new(e),
                    })
                })
            }
            Some(Err(why)) => Err(why.clone()),
            None => Err(format!("subdataset {mount} has no superdataset here")),
        };
        worktrees.push(outcome);
    }
    worktrees
}

/// The dataset whose folder holds dataset `d`: the longest other prefix
/// that `d`'s prefix starts with.
fn parent_of(resolved: &Resolved, d: usize) -> Option<usize> {
    if d == 0 {
        return None;
    }
    let own = &resolved.prefixes[d];
    (0..d)
        .filter(|&p| own.starts_with(resolved.prefixes[p].as_str()) && resolved.prefixes[p] != *own)
        .max_by_key(|&p| resolved.prefixes[p].len())
}

/// Installs one subdataset at `parent/within` (`mount` below the top):
/// cloned beside its mount point under a hidden name and renamed into the
/// empty mount point only when complete, so an interrupted run never leaves
/// a half clone that looks installed.
fn install_one(
    top: &Path,
    parent: &Path,
    mount: &str,
    within: &str,
    source: &Source,
    sink: &dyn Reporter,
) -> Result<PathBuf, DatasetError> {
    let path = real_folder(top, mount)?;
    if std::fs::symlink_metadata(path.join(".git")).is_ok() {
        // Installed by an earlier run (or by the user): use it if it is a
        // clone of the same dataset.
        if !is_clone_of(&path, source) {
            return Err(DatasetError::NotACloneOf {
                path,
                dataset: source.as_str().to_string(),
            });
        }
        return Ok(path);
    }
    let holds_files = std::fs::read_dir(&path).is_ok_and(|mut entries| entries.next().is_some());
    if holds_files {
        return Err(DatasetError::MountHoldsFiles {
            path,
            dataset: source.as_str().to_string(),
        });
    }
    let recorded = run(git(parent).args(["rev-parse", "--verify", &format!("HEAD:{within}")]))?;
    let recorded = String::from_utf8_lossy(&recorded).trim().to_string();

    let name = Path::new(within)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "subdataset".into());
    let staging = path.with_file_name(format!(".{name}.annexa-part"));
    // Left by an interrupted run, or planted by the dataset (a committed
    // `.NAME.annexa-part` link): a link or a file is removed, never
    // followed; only a real folder is made writable and removed.
    match std::fs::symlink_metadata(&staging) {
        Ok(meta) if meta.file_type().is_dir() => {
            super::cache::make_writable(&staging)?;
            std::fs::remove_dir_all(&staging).map_err(|e| DatasetError::io(&staging, e))?;
        }
        Ok(_) => std::fs::remove_file(&staging).map_err(|e| DatasetError::io(&staging, e))?,
        Err(_) => {}
    }
    let clone = run(git(parent)
        .args(["clone", "--quiet", "--no-checkout", "--", source.as_str()])
        .arg(&staging));
    if let Err(e) = clone {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    checkout_recorded(&staging, &recorded, source, sink)?;
    std::fs::create_dir_all(&path).map_err(|e| DatasetError::io(&path, e))?;
    // Replaces the empty mount point that cloning the parent created.
    std::fs::rename(&staging, &path).map_err(|e| DatasetError::io(&path, e))?;
    let has_annex = run(git(&path).args([
        "rev-parse",
        "--verify",
        "--quiet",
        "refs/remotes/origin/git-annex",
    ]))
    .is_ok();
    if has_annex {
        run(git(&path).args(["annex", "init", "--quiet"]))?;
    }
    Ok(path)
}

/// Checks out the commit the superdataset records. When the branch holds
/// it, the branch is moved there (as DataLad does); otherwise HEAD is
/// detached at it. A commit the origin lacks leaves the branch's own
/// state, with a warning (as the cache does).
fn checkout_recorded(
    repo: &Path,
    commit: &str,
    source: &Source,
    sink: &dyn Reporter,
) -> Result<(), DatasetError> {
    let has = run(git(repo).args(["cat-file", "-e", &format!("{commit}^{{commit}}")])).is_ok();
    if !has {
        sink.warning(&format!(
            "{} lacks the recorded commit {commit}; using its HEAD",
            source.as_str()
        ));
        run(git(repo).args(["reset", "--quiet", "--hard", "HEAD"]))?;
        return Ok(());
    }
    let on_branch = run(git(repo).args(["merge-base", "--is-ancestor", commit, "HEAD"])).is_ok();
    if on_branch {
        run(git(repo).args(["reset", "--quiet", "--hard", commit]))?;
    } else {
        run(git(repo).args(["checkout", "--quiet", "--detach", commit]))?;
    }
    Ok(())
}

/// `top/rel`, refusing a symbolic link (or a file) anywhere on the way,
/// the folder itself included: a clone must never land outside the target.
fn real_folder(top: &Path, rel: &str) -> Result<PathBuf, DatasetError> {
    // target_path checks every folder above the last component.
    let inside = target_path(top, &format!("{rel}/_"))?;
    let path = inside
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| top.join(rel));
    Ok(path)
}

fn is_clone_of(repo: &Path, source: &Source) -> bool {
    let origin = run(git(repo).args(["config", "--get", "remote.origin.url"]))
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .unwrap_or_default();
    origin == source.as_str() || Source::parse(&origin).is_ok_and(|o| o == *source)
}

/// Clones SOURCE into DIR (or reuses DIR when it already is that clone).
fn prepare_clone(source: &Source, dir: &Path, treeish: Option<&str>) -> Result<(), DatasetError> {
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => true,
    };
    if !empty {
        if !is_clone_of(dir, source) || !dir.join(".git").exists() {
            return Err(DatasetError::TargetNotEmpty {
                path: dir.to_path_buf(),
                dataset: source.as_str().to_string(),
            });
        }
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
    run(git(dir).args(["clone", "--quiet", "--", source.as_str(), "."]))?;
    if let Some(treeish) = treeish {
        run(git(dir).args(["checkout", "--quiet", treeish]))?;
    }
    run(git(dir).args(["annex", "init", "--quiet"]))?;
    Ok(())
}

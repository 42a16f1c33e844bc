//! `get --direct`: the target folder becomes a clone of the dataset itself,
//! with the selected content present and unlocked as real files, for users
//! who want to keep working with DataLad or git-annex there.

use super::annex::key_size;
use super::commands::{GetOptions, GetOutcome};
use super::fetch::{self, BatchInput, ByteCounter, FetchEvent};
use super::git::{git, run};
use super::materialize::target_path;
use super::report::{Reporter, Status};
use super::resolve::Resolved;
use super::tree::Content;
use super::{DatasetError, Source};
use std::collections::HashMap;
use std::path::Path;

/// Paths per `git annex unlock` call, to stay far below argument limits.
const UNLOCK_CHUNK: usize = 200;

pub fn get_direct(
    source: &Source,
    resolved: &Resolved,
    treeish: Option<&str>,
    options: &GetOptions,
) -> Result<GetOutcome, DatasetError> {
    if resolved
        .selection
        .iter()
        .any(|&(i, _)| resolved.files[i].dataset != 0)
    {
        return Err(DatasetError::Direct(
            "--direct does not install subdatasets yet; get derivatives without --direct, \
             or run `datalad get -n PATH` in the clone first"
                .into(),
        ));
    }
    let dir = &options.to;
    prepare_clone(source, dir, treeish)?;
    let files: Vec<&super::resolve::DatasetFile> = resolved
        .selection
        .iter()
        .map(|&(i, _)| &resolved.files[i])
        .collect();
    let total_bytes = files.iter().filter_map(|f| f.content.size()).sum();
    let mut reporter = Reporter::new(options.json, files.len() as u64, total_bytes);
    if options.dry_run {
        for file in &files {
            let status = match file.content {
                Content::Annexed { .. } => Status::WouldFetch,
                _ => Status::WouldCopy,
            };
            reporter.file(&file.path, file.content.key(), file.content.size(), status);
        }
        let failed = reporter.finish();
        return Ok(GetOutcome { failed });
    }

    let annexed: Vec<String> = files
        .iter()
        .filter(|f| matches!(f.content, Content::Annexed { .. }))
        .map(|f| f.path.clone())
        .collect();
    let mut reasons: HashMap<String, String> = HashMap::new();
    let mut counter = ByteCounter::default();
    fetch::get(
        dir,
        &annexed,
        options.jobs,
        BatchInput::Paths,
        |event| match event {
            FetchEvent::Progress { item, bytes } => reporter.advance(counter.delta(item, bytes)),
            FetchEvent::Done { .. } => {}
            FetchEvent::Failed { item, reason } => {
                reasons.insert(item.to_string(), reason);
            }
        },
    )?;
    for chunk in annexed.chunks(UNLOCK_CHUNK) {
        // Per-file problems show up below when each path is checked.
        let _ = run(git(dir)
            .args(["annex", "unlock", "--quiet", "--"])
            .args(chunk));
    }
    for file in files {
        let expected = match &file.content {
            Content::Annexed { key } => key_size(key),
            other => other.size(),
        };
        let dest = target_path(dir, &file.path)?;
        let meta = std::fs::symlink_metadata(&dest).ok();
        let is_real = meta.as_ref().is_some_and(|m| m.file_type().is_file());
        let size_ok = meta
            .as_ref()
            .is_some_and(|m| expected.map_or(true, |s| s == m.len()));
        if matches!(file.content, Content::Symlink { .. }) || (is_real && size_ok) {
            reporter.file(&file.path, file.content.key(), expected, Status::Written);
        } else {
            let reason = reasons
                .remove(&file.path)
                .unwrap_or_else(|| "content is not present after git annex get/unlock".into());
            reporter.failure(&file.path, file.content.key(), &reason);
        }
    }
    let failed = reporter.finish();
    Ok(GetOutcome { failed })
}

/// Clones SOURCE into DIR (or reuses DIR when it already is that clone).
fn prepare_clone(source: &Source, dir: &Path, treeish: Option<&str>) -> Result<(), DatasetError> {
    let empty = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => true,
    };
    if !empty {
        let origin = run(git(dir).args(["config", "--get", "remote.origin.url"]))
            .map(|o| String::from_utf8_lossy(&o).trim().to_string())
            .unwrap_or_default();
        let same = origin == source.as_str() || Source::parse(&origin).is_ok_and(|o| o == *source);
        if !same || !dir.join(".git").exists() {
            return Err(DatasetError::Direct(format!(
                "{} is not empty and is not a clone of {}; choose an empty folder for --direct",
                dir.display(),
                source.as_str()
            )));
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

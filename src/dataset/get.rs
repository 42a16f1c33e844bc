//! `annexa get` into a plain folder: the [`Materializer`] plans which
//! selected files are in place, to write from git, to copy from the cache
//! or to fetch first, fetches the missing keys in one batch per dataset and
//! copies each key's content out as it arrives. `get --direct` (a clone
//! instead of copies, [`super::direct`]) shares its options and outcome.

use super::annex::{content_matches_key, key_size, object_path, object_present};
use super::fetch::{self, BatchInput, ByteCounter, FetchEvent};
use super::git::cat_blobs;
use super::materialize::{copy_file, in_place, target_path, write_bytes, write_symlink, Expected};
use super::report::{Status, Tally};
use super::resolve::Resolved;
use super::tree::Content;
use super::DatasetError;
use crate::error_chain_text;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct GetOptions {
    pub to: PathBuf,
    pub jobs: usize,
    pub dry_run: bool,
    pub drop_after: bool,
    pub direct: bool,
    /// Check content checksums, not only sizes.
    pub verify: bool,
    /// Where to write the manifest of delivered files (see [`super::manifest`]).
    pub manifest: Option<PathBuf>,
    /// Deliver only this part of the selection (see [`super::shard`]).
    pub shard: Option<super::shard::Shard>,
    /// Replace files in the target whose content differs from the selection.
    pub force: bool,
}

#[derive(Debug, Clone)]
pub struct GetOutcome {
    pub failed: usize,
    /// Paths this run wrote, or found in place with the right content:
    /// what a manifest may vouch for.
    pub delivered: Vec<String>,
}

/// The plan and bookkeeping of one `get` into a plain folder.
pub(super) struct Materializer<'a> {
    resolved: &'a Resolved,
    options: &'a GetOptions,
    reporter: Tally<'a>,
    /// Selected files still to write, by (dataset, key).
    waiting: BTreeMap<(usize, String), Vec<usize>>,
    /// Keys whose every selected path is in place (for `--drop-after`).
    complete_keys: HashSet<(usize, String)>,
    failed_keys: HashSet<(usize, String)>,
    /// Selected files that failed before copying began, with why.
    failed_early: Vec<(String, String)>,
}

impl<'a> Materializer<'a> {
    pub(super) fn new(
        resolved: &'a Resolved,
        options: &'a GetOptions,
        sink: &'a dyn super::report::Reporter,
    ) -> Materializer<'a> {
        let total_bytes = resolved
            .selection
            .iter()
            .filter_map(|&(i, _)| resolved.files[i].content.size())
            .sum();
        Materializer {
            resolved,
            options,
            reporter: Tally::new(sink, resolved.selection.len() as u64, total_bytes),
            waiting: BTreeMap::new(),
            complete_keys: HashSet::new(),
            failed_keys: HashSet::new(),
            failed_early: Vec::new(),
        }
    }

    /// Selected files outside `resolved` that failed already (a listed
    /// `get`'s downloads), reported with the others.
    pub(super) fn with_failures(mut self, failures: Vec<(String, String)>) -> Self {
        self.failed_early = failures;
        self
    }

    pub(super) fn run(mut self) -> Result<GetOutcome, DatasetError> {
        for (path, problem) in &self.resolved.refused {
            self.reporter.refused(path, problem);
        }
        for (path, reason) in std::mem::take(&mut self.failed_early) {
            self.reporter
                .failure(&path, None, &format!("could not get content: {reason}"));
        }
        let mut git_blobs: Vec<usize> = Vec::new();
        let mut symlinks: Vec<usize> = Vec::new();
        let mut differing: Vec<String> = Vec::new();
        for &(index, _) in &self.resolved.selection {
            let file = &self.resolved.files[index];
            let dest = target_path(&self.options.to, &file.path)?;
            let exists = std::fs::symlink_metadata(&dest).is_ok();
            // Hashes the file at most once.
            let in_place = exists && self.already_in_place(index, &dest);
            if !self.options.force && exists && !in_place {
                // Something of the user's (or of another dataset version)
                // is there: never replaced without being asked.
                differing.push(file.path.clone());
                continue;
            }
            if in_place {
                self.reporter.advance(file.content.size().unwrap_or(0));
                self.reporter.file(
                    &file.path,
                    file.content.key(),
                    file.content.size(),
                    Status::Skipped,
                );
                if let Content::Annexed { key } = &file.content {
                    self.complete_keys.insert((file.dataset, key.clone()));
                }
                continue;
            }
            match &file.content {
                Content::Annexed { key } => self
                    .waiting
                    .entry((file.dataset, key.clone()))
                    .or_default()
                    .push(index),
                Content::Git { .. } => git_blobs.push(index),
                Content::Symlink { .. } => symlinks.push(index),
            }
        }
        if !differing.is_empty() {
            return Err(super::stale::would_overwrite(
                self.resolved,
                &self.options.to,
                &differing,
            ));
        }
        // A key is complete only when all its paths are; skipped ones counted above.
        let waiting_keys: Vec<(usize, String)> = self.waiting.keys().cloned().collect();
        for k in &waiting_keys {
            self.complete_keys.remove(k);
        }
        if self.options.dry_run {
            return Ok(self.report_plan(&git_blobs, &symlinks));
        }
        self.write_git_blobs(&git_blobs)?;
        for &index in &symlinks {
            let file = &self.resolved.files[index];
            if let Content::Symlink { target } = &file.content {
                let dest = target_path(&self.options.to, &file.path)?;
                match write_symlink(&dest, target) {
                    Ok(_) => self
                        .reporter
                        .file(&file.path, None, Some(0), Status::Written),
                    Err(e) => self
                        .reporter
                        .failure(&file.path, None, &error_chain_text(&e)),
                }
            }
        }
        self.copy_present_keys();
        self.fetch_missing_keys()?;
        if self.options.drop_after {
            self.drop_complete_keys()?;
        }
        let (failed, delivered) = self.reporter.finish_delivered();
        Ok(GetOutcome { failed, delivered })
    }

    fn already_in_place(&self, index: usize, dest: &Path) -> bool {
        let file = &self.resolved.files[index];
        let expected = match &file.content {
            Content::Annexed { key } => {
                // Keys without a size field (URL keys) are checked against
                // the cached copy; with neither, the file is written again.
                let repo = &self.resolved.datasets[file.dataset].repo;
                let size = key_size(key).or_else(|| {
                    std::fs::metadata(object_path(repo, key))
                        .ok()
                        .map(|m| m.len())
                });
                if size.is_none() {
                    return false;
                }
                Expected {
                    size,
                    git_oid: None,
                }
            }
            Content::Git { oid, size, .. } => Expected {
                size: Some(*size),
                git_oid: Some(oid),
            },
            // Recreating a link is as cheap as checking it.
            Content::Symlink { .. } => return false,
        };
        if !in_place(dest, expected) {
            return false;
        }
        let Content::Annexed { key } = &file.content else {
            return true;
        };
        // The same size is not the same content (a new version may keep a
        // file's size): the key behind the path decides.
        match content_matches_key(key, dest) {
            Ok(Some(matches)) => matches,
            Ok(None) => {
                // A key without a checksum (WORM, URL): the cached copy
                // decides when there is one; else the size is all there is.
                let object = object_path(&self.resolved.datasets[file.dataset].repo, key);
                match std::fs::metadata(&object) {
                    Ok(_) => same_bytes(&object, dest).unwrap_or(false),
                    Err(_) => true,
                }
            }
            Err(_) => false,
        }
    }

    fn report_plan(mut self, git_blobs: &[usize], symlinks: &[usize]) -> GetOutcome {
        let mut planned: Vec<(usize, Status)> = git_blobs
            .iter()
            .chain(symlinks)
            .map(|&i| (i, Status::WouldCopy))
            .collect();
        for ((dataset, key), files) in &self.waiting {
            let present = object_present(&self.resolved.datasets[*dataset].repo, key);
            let status = if present {
                Status::WouldCopy
            } else {
                Status::WouldFetch
            };
            planned.extend(files.iter().map(|&i| (i, status)));
        }
        planned.sort_by(|a, b| {
            self.resolved.files[a.0]
                .path
                .cmp(&self.resolved.files[b.0].path)
        });
        for (index, status) in planned {
            let file = &self.resolved.files[index];
            self.reporter
                .file(&file.path, file.content.key(), file.content.size(), status);
        }
        let (failed, delivered) = self.reporter.finish_delivered();
        GetOutcome { failed, delivered }
    }

    /// Git-stored files (small JSON/TSV in most datasets), one `cat-file` per dataset.
    fn write_git_blobs(&mut self, indices: &[usize]) -> Result<(), DatasetError> {
        let mut by_dataset: BTreeMap<usize, HashMap<String, Vec<usize>>> = BTreeMap::new();
        for &index in indices {
            let file = &self.resolved.files[index];
            if let Content::Git { oid, .. } = &file.content {
                by_dataset
                    .entry(file.dataset)
                    .or_default()
                    .entry(oid.clone())
                    .or_default()
                    .push(index);
            }
        }
        for (dataset, by_oid) in by_dataset {
            let oids: Vec<String> = by_oid.keys().cloned().collect();
            let repo = &self.resolved.datasets[dataset].repo;
            let files = &self.resolved.files;
            let to = &self.options.to;
            let reporter = &mut self.reporter;
            cat_blobs(repo, &oids, |oid, bytes| {
                for &index in &by_oid[oid] {
                    let file = &files[index];
                    let Content::Git { executable, .. } = file.content else {
                        continue;
                    };
                    let result = target_path(to, &file.path)
                        .and_then(|dest| write_bytes(&dest, bytes, executable));
                    match result {
                        Ok(n) => {
                            reporter.advance(n);
                            reporter.file(&file.path, None, Some(n), Status::Written);
                        }
                        Err(e) => reporter.failure(&file.path, None, &error_chain_text(&e)),
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn copy_present_keys(&mut self) {
        let present: Vec<(usize, String)> = self
            .waiting
            .keys()
            .filter(|(d, key)| object_present(&self.resolved.datasets[*d].repo, key))
            .cloned()
            .collect();
        for item in present {
            self.materialise_key(&item, 0);
        }
    }

    /// One batched `git annex get` per dataset for the keys not in the cache;
    /// files are written as soon as their key arrives.
    fn fetch_missing_keys(&mut self) -> Result<(), DatasetError> {
        let datasets: Vec<usize> = {
            let mut d: Vec<usize> = self.waiting.keys().map(|(d, _)| *d).collect();
            d.dedup();
            d
        };
        for dataset in datasets {
            let keys: Vec<String> = self
                .waiting
                .keys()
                .filter(|(d, _)| *d == dataset)
                .map(|(_, k)| k.clone())
                .collect();
            let repo = self.resolved.datasets[dataset].repo.clone();
            let mut counter = ByteCounter::default();
            let mut reasons: HashMap<String, String> = HashMap::new();
            let mut stderr = String::new();
            let mut batch = keys;
            // Keys that failed are asked for once more in a second batch:
            // some refusals pass on their own (git-annex refuses a key whose
            // transfer lock a killed run left behind, once). The counter
            // keeps each key's bytes, so a retried key is not counted twice.
            for round in 0..2 {
                reasons.clear();
                stderr = fetch::get(
                    &repo,
                    &batch,
                    self.options.jobs,
                    BatchInput::Keys,
                    |event| match event {
                        FetchEvent::Progress { item, bytes } => {
                            self.reporter.advance(counter.delta(item, bytes));
                        }
                        FetchEvent::Done { item } => {
                            let already = counter.total(item);
                            self.materialise_key(&(dataset, item.to_string()), already);
                        }
                        FetchEvent::Failed { item, reason } => {
                            reasons.insert(item.to_string(), reason);
                        }
                    },
                )?;
                batch = reasons
                    .keys()
                    .filter(|k| !object_present(&repo, k))
                    .cloned()
                    .collect();
                if batch.is_empty() || round == 1 {
                    break;
                }
            }
            // Keys without a record were present already, or git-annex
            // failed before reporting them: presence decides.
            let leftover: Vec<String> = self
                .waiting
                .keys()
                .filter(|(d, _)| *d == dataset)
                .map(|(_, k)| k.clone())
                .collect();
            for key in leftover {
                if !reasons.contains_key(&key) && object_present(&repo, &key) {
                    let already = counter.total(&key);
                    self.materialise_key(&(dataset, key), already);
                    continue;
                }
                let reason = reasons.remove(&key).unwrap_or_else(|| {
                    let tail = stderr.lines().last().unwrap_or("").trim().to_string();
                    if tail.is_empty() {
                        "git-annex did not fetch it".to_string()
                    } else {
                        tail
                    }
                });
                self.fail_key(&(dataset, key), &format!("could not get content: {reason}"));
            }
        }
        Ok(())
    }

    /// Copies a present key to every selected path that uses it.
    fn materialise_key(&mut self, item: &(usize, String), bytes_already_counted: u64) {
        let Some(indices) = self.waiting.remove(item) else {
            return;
        };
        let (dataset, key) = item;
        let source = object_path(&self.resolved.datasets[*dataset].repo, key);
        let size = key_size(key).or_else(|| std::fs::metadata(&source).ok().map(|m| m.len()));
        let mut all_ok = true;
        for (n, index) in indices.iter().enumerate() {
            let file = &self.resolved.files[*index];
            let result = target_path(&self.options.to, &file.path).and_then(|dest| {
                let written = copy_file(&source, &dest, size)?;
                if self.options.verify
                    && content_matches_key(key, &dest).ok().flatten() == Some(false)
                {
                    let _ = std::fs::remove_file(&dest);
                    return Err(DatasetError::ChecksumMismatch);
                }
                Ok(written)
            });
            match result {
                Ok(written) => {
                    let counted = if n == 0 { bytes_already_counted } else { 0 };
                    self.reporter.advance(written.saturating_sub(counted));
                    self.reporter
                        .file(&file.path, Some(key), Some(written), Status::Written);
                }
                Err(e) => {
                    all_ok = false;
                    self.reporter
                        .failure(&file.path, Some(key), &error_chain_text(&e));
                }
            }
        }
        if all_ok && !self.failed_keys.contains(item) {
            self.complete_keys.insert(item.clone());
        } else {
            self.failed_keys.insert(item.clone());
            self.complete_keys.remove(item);
        }
    }

    fn fail_key(&mut self, item: &(usize, String), reason: &str) {
        let Some(indices) = self.waiting.remove(item) else {
            return;
        };
        for index in indices {
            let path = self.resolved.files[index].path.clone();
            self.reporter.failure(&path, Some(&item.1), reason);
        }
        self.failed_keys.insert(item.clone());
    }

    /// `--drop-after`: free the cache's copy of every key whose paths are
    /// all written; keys with a failed path stay for the next attempt.
    fn drop_complete_keys(&mut self) -> Result<(), DatasetError> {
        let mut by_dataset: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (dataset, key) in &self.complete_keys {
            if !self.failed_keys.contains(&(*dataset, key.clone())) {
                by_dataset.entry(*dataset).or_default().push(key.clone());
            }
        }
        for (dataset, mut keys) in by_dataset {
            keys.sort();
            let repo = &self.resolved.datasets[dataset].repo;
            let present: Vec<String> = keys
                .into_iter()
                .filter(|k| object_present(repo, k))
                .collect();
            for (key, reason) in fetch::drop_keys(repo, &present)? {
                self.reporter
                    .warning(&format!("kept {key} in the cache: {reason}"));
            }
        }
        Ok(())
    }
}

/// Whether two files hold the same bytes.
fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let (mut fa, mut fb) = (std::fs::File::open(a)?, std::fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
    fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut at = 0;
        while at < buf.len() {
            match f.read(&mut buf[at..])? {
                0 => break,
                n => at += n,
            }
        }
        Ok(at)
    }
}

//! The `annexa` subcommands: `ls`, `get` and `cache list|path|clean`.

use super::annex::{content_matches_key, key_size, object_path};
use super::cache::{entry_source, Access, Cache};
use super::direct::get_direct;
use super::fetch::{self, BatchInput, ByteCounter, FetchEvent};
use super::git::cat_blobs;
use super::materialize::{
    check_no_clash, copy_file, in_place, target_path, write_bytes, write_symlink, Expected,
};
use super::report::{shown_path, SharedReporter, Status, Tally};
use super::resolve::{Resolved, Resolver};
use super::tree::Content;
use super::{DatasetError, Source};
use crate::error_chain_text;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

pub use super::resolve::SelectionRequest;

/// Options every dataset command shares.
#[derive(Debug, Clone, Default)]
pub struct CommonOptions {
    /// `--cache DIR`; `None` for the user's cache directory.
    pub cache_dir: Option<PathBuf>,
    /// Branch, tag or commit to read (default `HEAD` of the cached clone).
    pub treeish: Option<String>,
    /// Fetch from the dataset's origin before reading.
    pub update: bool,
    /// `--endpoint`: the S3 endpoint of an `s3://` source, chosen over the
    /// one its cache entry records and over the environment's.
    pub endpoint: Option<String>,
    /// Where notices, warnings and progress go.
    pub reporter: SharedReporter,
}

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

fn resolve(
    common: &CommonOptions,
    source: &str,
    request: &SelectionRequest,
    access: Access,
) -> Result<(Resolved, Source), DatasetError> {
    let cache = Cache::locate(common.cache_dir.as_deref())?
        .reporting_to(common.reporter.clone())
        .with_endpoint(common.endpoint.clone());
    let source = Source::parse(source)?;
    let resolver = Resolver {
        cache: &cache,
        treeish: common.treeish.as_deref().unwrap_or("HEAD"),
        update: common.update,
        access,
    };
    let stale_hint = || {
        let entry = cache.entry_dir(&source).join("repo");
        super::stale::update_hint(&source, &entry)
    };
    let resolved = match resolver.resolve(&source, request) {
        Ok(resolved) => resolved,
        Err(e) if !common.update => return Err(super::stale::explain(e, stale_hint)),
        Err(e) => return Err(e),
    };
    if resolved.selection.is_empty() {
        let e = DatasetError::EmptySelection;
        return Err(if common.update {
            e
        } else {
            super::stale::explain(e, stale_hint)
        });
    }
    if !common.update {
        if let Some(moved) = super::stale::local_head_moved(&source, &resolved.datasets[0].repo) {
            common.reporter.notice(&moved);
        }
    }
    Ok((resolved, source))
}

/// One file `annexa ls` lists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListedFile {
    pub path: String,
    pub key: Option<String>,
    pub size: Option<u64>,
    /// Whether its content is in the cache (always for files in git);
    /// `None` when not asked for.
    pub cached: Option<bool>,
    /// Why it is selected: `selected`, `root`, `inherited`, `associated`.
    pub role: &'static str,
}

/// `annexa ls`: the selected files, in path order. `check_cached` looks
/// up whether each annexed file's content is in the cache (one `stat`
/// each).
pub fn ls(
    common: &CommonOptions,
    source: &str,
    request: &SelectionRequest,
    check_cached: bool,
) -> Result<Vec<ListedFile>, DatasetError> {
    let (resolved, _) = resolve(common, source, request, Access::Shared)?;
    for (path, problem) in &resolved.refused {
        common
            .reporter
            .warning(&format!("not listed: {}: {problem}", shown_path(path)));
    }
    Ok(resolved
        .selection
        .iter()
        .map(|&(index, role)| {
            let file = &resolved.files[index];
            let cached = check_cached.then(|| match &file.content {
                Content::Annexed { key } => {
                    object_present(&resolved.datasets[file.dataset].repo, key)
                }
                _ => true,
            });
            ListedFile {
                path: file.path.clone(),
                key: file.content.key().map(str::to_string),
                size: file.content.size(),
                cached,
                role: role.as_str(),
            }
        })
        .collect())
}

fn object_present(repo: &Path, key: &str) -> bool {
    std::fs::metadata(object_path(repo, key))
        .is_ok_and(|m| m.is_file() && key_size(key).map_or(true, |s| s == m.len()))
}

/// One part of a sharded selection, for `annexa plan`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PlannedPart {
    pub shard: String,
    pub files: usize,
    pub bytes: u64,
    /// Bytes of annexed content still to fetch into the cache.
    pub bytes_to_fetch: u64,
}

/// `annexa plan --shards N`: the parts `get --shard K/N` would deliver.
pub fn plan(
    common: &CommonOptions,
    source: &str,
    request: &SelectionRequest,
    shards: usize,
    by: super::shard::ShardBy,
) -> Result<Vec<PlannedPart>, DatasetError> {
    if shards == 0 {
        return Err(DatasetError::Direct("--shards must be at least 1".into()));
    }
    let (resolved, _) = resolve(common, source, request, Access::Shared)?;
    let paths: Vec<&str> = resolved
        .selection
        .iter()
        .map(|&(i, _)| resolved.files[i].path.as_str())
        .collect();
    let parts = super::shard::assign(&paths, shards, by);
    let mut planned: Vec<PlannedPart> = (1..=shards)
        .map(|k| PlannedPart {
            shard: format!("{k}/{shards}"),
            ..PlannedPart::default()
        })
        .collect();
    for (n, &(index, _)) in resolved.selection.iter().enumerate() {
        let file = &resolved.files[index];
        let part = &mut planned[parts[n]];
        let size = file.content.size().unwrap_or(0);
        part.files += 1;
        part.bytes += size;
        if let Content::Annexed { key } = &file.content {
            if !object_present(&resolved.datasets[file.dataset].repo, key) {
                part.bytes_to_fetch += size;
            }
        }
    }
    Ok(planned)
}

/// `annexa get`: materialise the selection under `options.to`.
pub fn get(
    common: &CommonOptions,
    source: &str,
    request: &SelectionRequest,
    options: &GetOptions,
) -> Result<GetOutcome, DatasetError> {
    // Fetching and copying share the cache entry (git-annex locks its own
    // content), so shards of one selection run at once; only cloning and
    // updating an entry take it alone. Dropping what others may still
    // copy (--drop-after) needs the entry alone too.
    if !options.dry_run {
        super::materialize::check_writable(&options.to)?;
    }
    let access = if options.drop_after {
        Access::Exclusive
    } else {
        Access::Shared
    };
    if let Ok(parsed) = Source::parse(source) {
        if super::listed::applies(&parsed, common.treeish.as_deref(), options) {
            let cache = Cache::locate(common.cache_dir.as_deref())?
                .reporting_to(common.reporter.clone())
                .with_endpoint(common.endpoint.clone());
            let (resolved, outcome) =
                super::listed::get(&cache, &parsed, request, options, common.update)?;
            if let Some(manifest) = &options.manifest {
                let delivered: HashSet<&str> =
                    outcome.delivered.iter().map(String::as_str).collect();
                super::manifest::write(&resolved, &options.to, manifest, &delivered)?;
            }
            return Ok(outcome);
        }
    }
    let (mut resolved, source) = resolve(common, source, request, access)?;
    if let Some(shard) = &options.shard {
        let paths: Vec<&str> = resolved
            .selection
            .iter()
            .map(|&(i, _)| resolved.files[i].path.as_str())
            .collect();
        let keep = shard.part(&paths);
        let selection = std::mem::take(&mut resolved.selection);
        resolved.selection = keep.into_iter().map(|i| selection[i]).collect();
    }
    check_no_clash(
        resolved
            .selection
            .iter()
            .map(|&(i, _)| resolved.files[i].path.as_str()),
    )?;
    if !options.direct && !options.dry_run {
        enable_chosen_remotes(common, &source, &resolved);
    }
    let outcome = if options.direct {
        get_direct(
            &source,
            &resolved,
            common.treeish.as_deref(),
            options,
            &*common.reporter,
        )?
    } else {
        Materializer::new(&resolved, options, &*common.reporter).run()?
    };
    if outcome.failed > 0 && !options.direct {
        point_at_unenabled_remotes(&resolved, &outcome, &*common.reporter);
    }
    if outcome.failed > 0 && !common.update {
        // Content the source no longer has at the recorded place (an
        // object deleted or replaced) fails this way too.
        common.reporter.notice(&format!(
            "if the source changed since: {}",
            super::stale::update_hint(&source, &resolved.datasets[0].repo)
        ));
    }
    if let (Some(manifest), false) = (&options.manifest, options.dry_run) {
        let delivered: HashSet<&str> = outcome.delivered.iter().map(String::as_str).collect();
        super::manifest::write(&resolved, &options.to, manifest, &delivered)?;
    }
    Ok(outcome)
}

/// Enables, in annexa's copies, the remotes they have not enabled that
/// need no secret and reach only a host the user chose (the source's,
/// `--endpoint`'s), saying so; others stay named by
/// [`point_at_unenabled_remotes`] when their content is missing.
fn enable_chosen_remotes(common: &CommonOptions, source: &Source, resolved: &Resolved) {
    let chosen: Vec<String> = [Some(source.as_str()), common.endpoint.as_deref()]
        .into_iter()
        .flatten()
        .filter(|text| text.contains("://"))
        .filter_map(crate::providers::token::chosen_host)
        .collect();
    for dataset in &resolved.datasets {
        for name in super::remotes::enable_chosen(&dataset.repo, &chosen) {
            common.reporter.notice(&format!(
                "enabled the special remote {name} in annexa's copy: it needs no credentials and reaches a host you chose"
            ));
        }
    }
}

/// Content that failed because it is only on a special remote the cache
/// has not enabled (no `autoenable`): the remote is named, with the
/// command that enables it. One `whereis` for the first such key of each
/// dataset.
fn point_at_unenabled_remotes(
    resolved: &Resolved,
    outcome: &GetOutcome,
    reporter: &dyn super::report::Reporter,
) {
    let delivered: HashSet<&str> = outcome.delivered.iter().map(String::as_str).collect();
    let mut missing: BTreeMap<usize, (String, usize)> = BTreeMap::new();
    for &(index, _) in &resolved.selection {
        let file = &resolved.files[index];
        let Content::Annexed { key } = &file.content else {
            continue;
        };
        if delivered.contains(file.path.as_str())
            || object_present(&resolved.datasets[file.dataset].repo, key)
        {
            continue;
        }
        missing
            .entry(file.dataset)
            .or_insert_with(|| (key.clone(), 0))
            .1 += 1;
    }
    for (dataset, (key, count)) in missing {
        let repo = &resolved.datasets[dataset].repo;
        for remote in super::remotes::unenabled_holders(repo, &key) {
            reporter.notice(&format!(
                "content of {count} file(s) may be on the special remote {} ({}), which annexa's copy has not enabled: run `{}` (with any credentials it needs), then get again",
                remote.name().unwrap_or(&remote.uuid),
                remote
                    .get("externaltype")
                    .or_else(|| remote.get("type"))
                    .unwrap_or("unknown type"),
                super::remotes::enable_command(repo, &remote)
            ));
        }
    }
}

/// `annexa verify DIR --manifest FILE`: every listed file checked.
pub fn verify(dir: &Path, manifest: &Path) -> Result<Vec<super::manifest::Finding>, DatasetError> {
    super::manifest::verify(dir, manifest)
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
                    return Err(DatasetError::Direct(
                        "content does not match its annex key's checksum".into(),
                    ));
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

/// The cache folder in use (`--cache`, else the default).
pub fn cache_dir(cache_dir: Option<&Path>) -> Result<PathBuf, DatasetError> {
    Ok(Cache::locate(cache_dir)?.root().to_path_buf())
}

/// `annexa cache list`: every entry, by source.
pub fn cache_list(cache_dir: Option<&Path>) -> Result<Vec<super::CacheEntry>, DatasetError> {
    Cache::locate(cache_dir)?.entries()
}

/// `annexa cache path SOURCE`: where the clone of SOURCE is.
pub fn cache_path(cache_dir: Option<&Path>, source: &str) -> Result<PathBuf, DatasetError> {
    let cache = Cache::locate(cache_dir)?;
    let entry = find_entry(&cache, source)?;
    // A service source's dataset is built when asked for (see
    // super::listed): whoever asks for its folder gets the dataset.
    if let Ok(parsed) = Source::parse(source) {
        if parsed.is_service() && cache.entry_dir(&parsed) == entry {
            return Ok(cache.open(&parsed, Access::Shared)?.repo);
        }
    }
    Ok(entry.join("repo"))
}

/// `annexa cache clean [SOURCE | --all]`: returns the removed entries.
pub fn cache_clean(
    cache_dir: Option<&Path>,
    source: Option<&str>,
    reporter: SharedReporter,
) -> Result<Vec<(String, u64)>, DatasetError> {
    let cache = Cache::locate(cache_dir)?.reporting_to(reporter);
    let targets: Vec<(String, PathBuf, u64)> = match source {
        Some(source) => {
            let entry = find_entry(&cache, source)?;
            let info = cache.entries()?.into_iter().find(|e| e.path == entry);
            let (name, bytes) = info
                .map(|e| (e.source, e.bytes))
                .unwrap_or_else(|| (source.to_string(), 0));
            vec![(name, entry, bytes)]
        }
        None => cache
            .entries()?
            .into_iter()
            .map(|e| (e.source, e.path, e.bytes))
            .collect(),
    };
    let mut removed = Vec::new();
    for (name, path, bytes) in targets {
        cache.remove_entry(&path)?;
        removed.push((name, bytes));
    }
    Ok(removed)
}

/// The cache entry of SOURCE; a local dataset that no longer exists is
/// still found by the source text recorded in the entry.
fn find_entry(cache: &Cache, source: &str) -> Result<PathBuf, DatasetError> {
    if let Ok(parsed) = Source::parse(source) {
        let dir = cache.entry_dir(&parsed);
        if entry_source(&dir).is_some() {
            return Ok(dir);
        }
    }
    let wanted = source.trim().trim_end_matches('/');
    cache
        .entries()?
        .into_iter()
        .find(|e| e.source == wanted)
        .map(|e| e.path)
        .ok_or_else(|| DatasetError::NotCached(source.to_string()))
}

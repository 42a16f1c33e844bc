//! The `annexa` subcommands: `ls`, `plan`, `get`, `verify` and
//! `cache list|path|clean`. What `get` does with a selection lives in
//! [`mod@super::get`] (a plain folder) and [`super::direct`] (a clone).

use super::annex::object_present;
use super::cache::{entry_source, Access, Cache};
use super::direct::get_direct;
use super::get::{GetOptions, GetOutcome, Materializer};
use super::materialize::check_no_clash;
use super::report::{shown_path, SharedReporter};
use super::resolve::{Resolved, Resolver};
use super::tree::Content;
use super::{DatasetError, Source};
use std::collections::{BTreeMap, HashSet};
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
        return Err(DatasetError::NoShards);
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
    let chosen: Vec<super::remotes::Place> = [Some(source.as_str()), common.endpoint.as_deref()]
        .into_iter()
        .flatten()
        .filter(|text| text.contains("://"))
        .filter_map(super::remotes::Place::parse)
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

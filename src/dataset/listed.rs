//! `annexa get` from a service source at the speed of its listing.
//!
//! The listing's pages are read as they arrive; a data file the filters
//! select on its own name starts downloading at once, while the listing
//! goes on. When the listing ends, the BIDS selection is made on all of it
//! (root files, inherited sidecars) and the rest is fetched. Every download
//! goes through the provider (the transfer layer: retries, resume) into the
//! cache's annex object store, is checked against its key (size, checksum)
//! and only then renamed into place; the target gets copies of those
//! objects, as from a cloned dataset.
//!
//! The listing is recorded in the cache entry ([`RecordWriter`]), so a
//! second `get` does not list again unless `--update`. The git-annex
//! dataset (tree, URL and presence logs) is built only when something asks
//! for it (`ls`, `plan`, `cache path`, `get --direct`/`--dry-run`/
//! `--drop-after`): [`super::cache::Cache::open`] imports it then, and the
//! objects fetched here are already in its annex.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::stream::StreamExt;

use super::annex::{key_size, object_path};
use super::cache::{Access, Cache};
use super::get::{GetOptions, GetOutcome, Materializer};
use super::import::{import_kind, importable_path, with_recorded_endpoint, StandaloneAnnex};
use super::report::{FetchProgress, Reporter};
use super::resolve::{select_files, selects_on_its_own, DatasetFile, Resolved, SelectionRequest};
use super::service::{ServiceHints, ServiceSource};
use super::tree::Content;
use super::{DatasetError, Source};
use crate::error_chain_text;
use crate::providers::import::{key_for, ContentId, ListedFile};
use crate::providers::{self, Annex, ExportPath, ImportSink, ImportTree, ImportableFile};
use crate::transfer::{Algorithm, Expected};

/// One line of the recorded listing.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RecordLine {
    path: String,
    size: u64,
    /// [`ContentId::text`].
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// Whether `id`'s checksum is confirmed (see
    /// [`ImportTree::confirm_checksum`]).
    confirmed: bool,
}

/// Writes a listing record line by line beside its place, renamed into it
/// only when complete: a record is never half there.
pub(super) struct RecordWriter {
    tmp: PathBuf,
    dest: PathBuf,
    out: BufWriter<std::fs::File>,
}

impl RecordWriter {
    pub(super) fn create(dest: &Path) -> Result<Self, DatasetError> {
        let tmp = dest.with_extension(format!("part-{}", std::process::id()));
        let file = std::fs::File::create(&tmp).map_err(|e| DatasetError::io(&tmp, e))?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    pub(super) fn add(
        &mut self,
        file: &ImportableFile,
        confirmed: bool,
    ) -> Result<(), DatasetError> {
        let line = RecordLine {
            path: file.path.clone(),
            size: file.size,
            id: file.id.text(),
            url: file.url.clone(),
            confirmed,
        };
        let text = serde_json::to_string(&line).map_err(|e| DatasetError::Parse(e.to_string()))?;
        writeln!(self.out, "{text}").map_err(|e| DatasetError::io(&self.tmp, e))
    }

    pub(super) fn finish(mut self) -> Result<(), DatasetError> {
        self.out
            .flush()
            .map_err(|e| DatasetError::io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| DatasetError::io(&self.dest, e))
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        // Gone after a successful rename; a failed listing leaves nothing.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// A recorded listing, read line by line; `None` when there is none or it
/// cannot be read (the source is then listed again).
fn read_record(path: &Path) -> Option<Vec<(ImportableFile, bool)>> {
    let file = std::fs::File::open(path).ok()?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line: RecordLine = serde_json::from_str(&line.ok()?).ok()?;
        out.push((
            ImportableFile {
                path: line.path,
                size: line.size,
                id: ContentId::parse(&line.id)?,
                url: line.url,
            },
            line.confirmed,
        ));
    }
    Some(out)
}

/// Whether a `get` with these options can take the listed path: it needs
/// content and files, nothing of the dataset itself.
pub(super) fn applies(source: &Source, treeish: Option<&str>, options: &GetOptions) -> bool {
    source.is_service()
        && treeish.is_none()
        && !options.direct
        && !options.dry_run
        && !options.drop_after
}

/// A file to fetch: its index in the listing, and whether its checksum
/// is confirmed.
type Job = (usize, ImportableFile, bool);

/// Collects the listing (paths git and annexa accept), records it, and
/// hands each file the request selects on its own to the downloads.
struct ListingSink<'a> {
    request: &'a SelectionRequest,
    files: Vec<(ImportableFile, bool)>,
    record: Option<RecordWriter>,
    record_error: Option<DatasetError>,
    /// Where files the request selects on their own go at once, if anywhere.
    jobs: Option<&'a tokio::sync::mpsc::UnboundedSender<Job>>,
    started: std::collections::HashSet<usize>,
    /// Folders of files selected on their own, and the folders above them:
    /// their sidecars and tables are fetched as they are found.
    selected_dirs: std::collections::HashSet<String>,
    /// The last few files of the folder the listing is in (a listing is
    /// sorted: a sidecar `x.json` comes just before its `x.nii.gz`).
    recent: Vec<usize>,
    /// Where a name the listing cannot use is reported.
    reporter: &'a dyn Reporter,
    progress: &'a FetchCounter,
}

/// What a listed `get` has done so far, for [`Reporter::fetch_progress`]
/// (the listing and the downloads run side by side).
#[derive(Default)]
struct FetchCounter {
    listed: AtomicU64,
    fetched: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
}

impl FetchCounter {
    fn report(&self, reporter: &dyn Reporter) {
        reporter.fetch_progress(FetchProgress {
            listed: self.listed.load(Ordering::Relaxed),
            fetched: self.fetched.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        });
    }

    fn downloaded(&self, outcome: &Result<String, String>, size: u64, reporter: &dyn Reporter) {
        match outcome {
            Ok(_) => {
                self.fetched.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(size, Ordering::Relaxed);
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.report(reporter);
    }
}

/// How many of a folder's last files a selected file's sidecar is looked
/// for among.
const RECENT_FILES: usize = 8;

/// A small metadata file that a selection may bring along (sidecars,
/// tables, root files): fetched on speculation while the listing goes on,
/// delivered only if the final selection has it.
fn metadata_like(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".json") || name.ends_with(".tsv")
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// A file name up to its first `.`: `x_T1w` of `x_T1w.nii.gz`.
fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split('.').next().unwrap_or(name)
}

impl ListingSink<'_> {
    fn start(&mut self, index: usize) {
        if let Some(jobs) = self.jobs {
            if self.started.insert(index) {
                let _ = jobs.send((index, self.files[index].0.clone(), false));
            }
        }
    }

    /// Fetch at once what the listing already shows to be wanted: files
    /// selected on their own name, and the small metadata files likely to
    /// come with them (their same-named sidecar, tables and sidecars in the
    /// folders above them, root files).
    fn prefetch(&mut self, index: usize) {
        let path = self.files[index].0.path.clone();
        let dir = parent(&path).to_string();
        if self.recent.first().map(|&i| parent(&self.files[i].0.path)) != Some(dir.as_str()) {
            self.recent.clear();
        }
        if self.recent.len() == RECENT_FILES {
            self.recent.remove(0);
        }
        self.recent.push(index);
        if selects_on_its_own(&path, self.request) {
            self.start(index);
            let own_stem = stem(&path).to_string();
            let siblings: Vec<usize> = self
                .recent
                .iter()
                .copied()
                .filter(|&i| {
                    let p = &self.files[i].0.path;
                    metadata_like(p) && stem(p) == own_stem
                })
                .collect();
            for sibling in siblings {
                self.start(sibling);
            }
            let mut at = dir.as_str();
            while !at.is_empty() && self.selected_dirs.insert(at.to_string()) {
                at = parent(at);
            }
            return;
        }
        let likely_sidecar = metadata_like(&path)
            && (self.selected_dirs.contains(&dir) || (dir.is_empty() && self.request.inherit));
        let root_file = dir.is_empty()
            && self
                .request
                .root_files
                .iter()
                .any(|g| crate::bids::glob_match(g, &path));
        if likely_sidecar || root_file {
            self.start(index);
        }
    }
}

impl ImportSink for ListingSink<'_> {
    fn found(&mut self, file: ImportableFile) -> providers::Result<()> {
        if let Err(why) = importable_path(&file.path) {
            self.skipped(&file.path, &why);
            return Ok(());
        }
        if let Some(writer) = &mut self.record {
            if let Err(e) = writer.add(&file, false) {
                self.record_error.get_or_insert(e);
                self.record = None;
            }
        }
        let index = self.files.len();
        self.files.push((file, false));
        self.progress.listed.fetch_add(1, Ordering::Relaxed);
        self.progress.report(self.reporter);
        if self.jobs.is_some() {
            self.prefetch(index);
        }
        Ok(())
    }

    fn skipped(&mut self, name: &str, why: &str) {
        self.reporter.warning(&format!(
            "not listed: {} ({why})",
            super::report::shown_path(name)
        ));
    }
}

/// What the listing and the downloads came to.
struct Gathered {
    listed: Vec<DatasetFile>,
    urls: Vec<Option<String>>,
    selection: Vec<(usize, crate::bids::Role)>,
    refused: Vec<(String, super::paths::PathProblem)>,
    fetched: HashMap<usize, Result<String, String>>,
}

/// `annexa get SERVICE --to DIR ...` without building the dataset first.
pub(super) fn get(
    cache: &Cache,
    source: &Source,
    request: &SelectionRequest,
    options: &GetOptions,
    update: bool,
) -> Result<(Resolved, GetOutcome), DatasetError> {
    let record_path = cache.listing_file(source);
    // Reading a record others may use shares the entry; listing anew (and
    // so replacing the record) takes it alone, then shares it again.
    let mut recorded = None;
    if !update {
        let _shared = cache.open_listed(source, Access::Shared)?;
        recorded = read_record(&record_path);
    }
    let mut dataset = cache.open_listed(
        source,
        if recorded.is_some() {
            Access::Shared
        } else {
            Access::Exclusive
        },
    )?;
    let repo = dataset.repo.clone();
    let service = Service::new(cache, source, &repo)?;
    let annex = &service.annex;
    let tmp_dir = repo.join(".git/annex/tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(|e| DatasetError::io(&tmp_dir, e))?;
    let jobs = options.jobs.max(1);
    let listed_anew = recorded.is_none();
    let gathered = service.runtime.block_on(async {
        let provider = service.kind.prepare(annex).await?;
        let tree = provider
            .import()
            .ok_or_else(|| DatasetError::NoImportTree(service.name.clone()))?;
        let (job_tx, job_rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let progress = FetchCounter::default();
        let reporter = &**cache.reporter();
        // The listing (or the record), then the selection on all of it.
        let produce = async {
            let job_tx = job_tx;
            let (files, started) = match recorded {
                Some(files) => (files, std::collections::HashSet::new()),
                None => {
                    cache.reporter().activity(&format!(
                        "listing {}; fetching what the filters select as it is found",
                        source.as_str()
                    ));
                    // Fetching on speculation suits the raw dataset, whole (a shard
                    // wants only its part).
                    let raw = request.scopes == [crate::bids::Scope::Raw];
                    let prefetch = (options.shard.is_none() && raw).then_some(&job_tx);
                    list_anew(cache, source, tree, annex, request, prefetch, &progress).await?
                }
            };
            let listed = as_dataset_files(&files);
            let (mut selection, refused) = select_files(&listed, request)?;
            if let Some(shard) = &options.shard {
                let paths: Vec<&str> = selection
                    .iter()
                    .map(|&(i, _)| listed[i].path.as_str())
                    .collect();
                let keep = shard.part(&paths);
                selection = keep.into_iter().map(|i| selection[i]).collect();
            }
            super::materialize::check_no_clash(
                selection.iter().map(|&(i, _)| listed[i].path.as_str()),
            )?;
            for &(index, _) in &selection {
                if !started.contains(&index) {
                    let (file, confirmed) = &files[index];
                    let _ = job_tx.send((index, file.clone(), *confirmed));
                }
            }
            let urls = files.into_iter().map(|(f, _)| f.url).collect();
            Ok::<_, DatasetError>((listed, urls, selection, refused))
        };
        // Downloads as jobs arrive, `jobs` at once.
        let consume = async {
            let arriving = futures_util::stream::unfold(job_rx, |mut rx| async move {
                rx.recv().await.map(|job| (job, rx))
            });
            let downloads = arriving
                .map(|(index, file, confirmed)| {
                    let (repo, progress) = (&repo, &progress);
                    async move {
                        let size = file.size;
                        let outcome = fetch_one(tree, annex, repo, file, confirmed).await;
                        progress.downloaded(&outcome, size, reporter);
                        (index, outcome)
                    }
                })
                .buffer_unordered(jobs);
            let mut downloads = std::pin::pin!(downloads);
            let mut fetched = HashMap::new();
            while let Some((index, outcome)) = downloads.next().await {
                fetched.insert(index, outcome);
            }
            fetched
        };
        let (produced, fetched) = tokio::join!(produce, consume);
        let (listed, urls, selection, refused) = produced?;
        Ok::<_, DatasetError>(Gathered {
            listed,
            urls,
            selection,
            refused,
            fetched,
        })
    })?;
    if listed_anew {
        // Others may read the new record while this run copies.
        drop(dataset);
        dataset = cache.open_listed(source, Access::Shared)?;
    }
    finish(cache, dataset, gathered, options)
}

/// Lists `source` anew (without per-file checks), recording the listing as
/// it arrives; files the request selects on their own go to `prefetch` at
/// once. Returns the files and the indices handed on.
async fn list_anew(
    cache: &Cache,
    source: &Source,
    tree: &dyn ImportTree,
    annex: &dyn Annex,
    request: &SelectionRequest,
    prefetch: Option<&tokio::sync::mpsc::UnboundedSender<Job>>,
    progress: &FetchCounter,
) -> Result<
    (
        Vec<(ImportableFile, bool)>,
        std::collections::HashSet<usize>,
    ),
    DatasetError,
> {
    let mut sink = ListingSink {
        request,
        files: Vec::new(),
        record: Some(RecordWriter::create(&cache.listing_file(source))?),
        record_error: None,
        jobs: prefetch,
        started: std::collections::HashSet::new(),
        selected_dirs: std::collections::HashSet::new(),
        recent: Vec::new(),
        reporter: &**cache.reporter(),
        progress,
    };
    tree.list_unconfirmed(&mut sink, annex).await?;
    if let Some(e) = sink.record_error.take() {
        return Err(e);
    }
    if let Some(writer) = sink.record.take() {
        writer.finish()?;
    }
    // The dataset (when there is one) is older than this listing now: it
    // is brought up to date when asked for.
    cache.mark_dataset_stale(source)?;
    Ok((sink.files, sink.started))
}

/// The listed files as the selection reads them (keys come later).
fn as_dataset_files(files: &[(ImportableFile, bool)]) -> Vec<DatasetFile> {
    files
        .iter()
        .map(|(f, _)| DatasetFile {
            path: f.path.clone(),
            content: Content::Annexed { key: String::new() },
            dataset: 0,
        })
        .collect()
}

/// The provider behind a service source, ready to list, and the runtime
/// it runs on.
struct Service {
    runtime: tokio::runtime::Runtime,
    kind: Box<dyn providers::ProviderKind>,
    name: String,
    annex: StandaloneAnnex,
}

impl Service {
    fn new(cache: &Cache, source: &Source, repo: &Path) -> Result<Self, DatasetError> {
        let hints = ServiceHints {
            endpoint: cache.endpoint().map(str::to_string),
            ..ServiceHints::default()
        };
        let hints = with_recorded_endpoint(source.as_str(), repo, None, hints)?;
        let service = ServiceSource::parse(source.as_str(), &hints)?
            .ok_or_else(|| DatasetError::NoSuchSource(source.as_str().to_string()))?;
        let params = service.params();
        let (kind, name) = import_kind(&params)?;
        let annex = StandaloneAnnex::new(&params, repo.join(".git"), cache.reporter().clone());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| DatasetError::io("tokio runtime", e))?;
        Ok(Self {
            runtime,
            kind,
            name,
            annex,
        })
    }
}

/// The selected files with the keys their downloads named, handed to the
/// same copying as a cloned dataset's; a file whose download failed is
/// reported with why.
fn finish(
    cache: &Cache,
    dataset: super::cache::CachedDataset,
    gathered: Gathered,
    options: &GetOptions,
) -> Result<(Resolved, GetOutcome), DatasetError> {
    let Gathered {
        listed,
        mut urls,
        selection,
        refused,
        mut fetched,
    } = gathered;
    if selection.is_empty() {
        return Err(DatasetError::EmptySelection);
    }
    let mut files = Vec::with_capacity(selection.len());
    let mut kept = Vec::with_capacity(selection.len());
    let mut failures = Vec::new();
    let mut key_urls = HashMap::new();
    let mut listed: Vec<Option<DatasetFile>> = listed.into_iter().map(Some).collect();
    for (index, role) in selection {
        let Some(mut file) = listed[index].take() else {
            continue;
        };
        match fetched.remove(&index) {
            Some(Ok(key)) => {
                if let Some(url) = urls[index].take() {
                    key_urls.insert(key.clone(), url);
                }
                file.content = Content::Annexed { key };
                kept.push((files.len(), role));
                files.push(file);
            }
            Some(Err(reason)) => failures.push((file.path, reason)),
            None => failures.push((file.path, "it was not fetched".to_string())),
        }
    }
    let resolved = Resolved {
        datasets: vec![dataset],
        prefixes: vec![String::new()],
        files,
        selection: kept,
        refused,
        urls: key_urls,
    };
    let outcome = Materializer::new(&resolved, options, &**cache.reporter())
        .with_failures(failures)
        .run()?;
    Ok((resolved, outcome))
}

/// Confirms a file's key and brings its content into the cache's annex
/// (unless there already): downloaded beside it, checked against the key,
/// then renamed into place. Returns the key, or why not.
async fn fetch_one(
    tree: &dyn ImportTree,
    annex: &dyn Annex,
    repo: &Path,
    file: ImportableFile,
    confirmed: bool,
) -> Result<String, String> {
    let path = file.path.clone();
    let file = if confirmed {
        file
    } else {
        match tree.confirm_checksum(file).await {
            Ok(Some(file)) => file,
            Ok(None) => return Err("it is gone from the source since the listing".into()),
            Err(e) => return Err(error_chain_text(&e)),
        }
    };
    let tmp_dir = repo.join(".git/annex/tmp");
    match &file.id.checksum {
        Some(checksum) => {
            let key = key_for(&path, file.size, checksum);
            if object_present(repo, &key) {
                return Ok(key);
            }
            let tmp = tmp_dir.join(&key);
            let lock = lock_download(&tmp).await?;
            if object_present(repo, &key) {
                lock.done();
                return Ok(key);
            }
            download_checked(tree, annex, &path, file.size, &tmp, Some(checksum)).await?;
            place(repo, &key, &tmp)?;
            lock.done();
            Ok(key)
        }
        None => {
            // No checksum to name a key by: the content is hashed as it
            // is kept (the key the dataset's import would give it).
            use sha2::{Digest, Sha256};
            let name = hex::encode(Sha256::digest(format!("{path}\0{}", file.id.text())));
            let tmp = tmp_dir.join(format!("annexa-unkeyed-{}", &name[..32]));
            let _lock = lock_download(&tmp).await?;
            download_checked(tree, annex, &path, file.size, &tmp, None).await?;
            let digest = crate::transfer::hash_file(&tmp, Algorithm::Sha256)
                .await
                .map_err(|e| e.to_string())?;
            let key = key_for(&path, file.size, &Expected::new(Algorithm::Sha256, &digest));
            if object_present(repo, &key) {
                let _ = std::fs::remove_file(&tmp);
                return Ok(key);
            }
            place(repo, &key, &tmp)?;
            Ok(key)
        }
    }
}

/// Downloads `path` into `tmp` (resuming what a killed run left there),
/// then checks its size and, when there is one, its checksum; content that
/// does not match is removed, never kept.
async fn download_checked(
    tree: &dyn ImportTree,
    annex: &dyn Annex,
    path: &str,
    size: u64,
    tmp: &Path,
    checksum: Option<&Expected>,
) -> Result<(), String> {
    let checked = ExportPath::new(path).map_err(|e| error_chain_text(&e))?;
    let file = ListedFile {
        path: &checked,
        size: Some(size),
        annex,
    };
    tree.retrieve_import(file, tmp)
        .await
        .map_err(|e| error_chain_text(&e))?;
    let got = std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0);
    if got != size {
        let _ = std::fs::remove_file(tmp);
        return Err(format!(
            "{got} bytes arrived, the listing said {size}; it changed since the listing (--update lists again)"
        ));
    }
    if let Some(checksum) = checksum {
        let digest = crate::transfer::hash_file(tmp, checksum.algorithm)
            .await
            .map_err(|e| e.to_string())?;
        if !digest.eq_ignore_ascii_case(&checksum.hex) {
            let _ = std::fs::remove_file(tmp);
            return Err(format!(
                "content does not match its {} checksum; it changed since the listing (--update lists again)",
                checksum.algorithm
            ));
        }
    }
    Ok(())
}

/// One download of a key at a time, across processes (shards of one
/// selection share the cache): the lock file beside its temporary file.
async fn lock_download(tmp: &Path) -> Result<DownloadLock, String> {
    use fs2::FileExt;
    let lock_path = tmp.with_extension("annexa-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("{}: {e}", lock_path.display()))?;
    let file = if file.try_lock_exclusive().is_ok() {
        file
    } else {
        tokio::task::spawn_blocking(move || file.lock_exclusive().map(|_| file))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{}: {e}", lock_path.display()))?
    };
    Ok(DownloadLock {
        _file: file,
        path: lock_path,
    })
}

/// A held download lock; released when dropped.
struct DownloadLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl DownloadLock {
    /// The key's content is in place: its lock file goes, so a large `get`
    /// leaves no file per key behind. Whoever still waits on it, or makes
    /// a new one, finds the object present and downloads nothing.
    fn done(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Moves checked content into the annex object store, read-only as
/// git-annex keeps it.
fn place(repo: &Path, key: &str, tmp: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let object = object_path(repo, key);
    if let Some(parent) = object.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let _ = std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o444));
    std::fs::rename(tmp, &object).map_err(|e| format!("{}: {e}", object.display()))
}

fn object_present(repo: &Path, key: &str) -> bool {
    std::fs::metadata(object_path(repo, key))
        .is_ok_and(|m| m.is_file() && key_size(key).map_or(true, |s| s == m.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bids::{FilterKey, FilterSet, Scope, DEFAULT_ROOT_FILES};

    /// What a sorted listing starts fetching before it ends: the selected
    /// images, their same-named sidecars, tables and sidecars above them,
    /// root metadata; nothing of other subjects or other folders.
    #[test]
    fn listing_pages_start_what_the_selection_will_want() {
        let mut filters = FilterSet::new();
        filters
            .add(FilterKey::Entity("sub".into()), &["01"])
            .unwrap();
        filters.add(FilterKey::Suffix, &["T1w"]).unwrap();
        filters.add(FilterKey::Extension, &[".nii.gz"]).unwrap();
        let request = SelectionRequest {
            filters,
            scopes: vec![Scope::Raw],
            root_files: DEFAULT_ROOT_FILES.iter().map(|s| s.to_string()).collect(),
            inherit: true,
            with_associated: false,
        };
        let listing = [
            "CHANGES",
            "T1w.json",
            "dataset_description.json",
            "participants.tsv",
            "sub-01/anat/sub-01_T1w.json",
            "sub-01/anat/sub-01_T1w.nii.gz",
            "sub-01/anat/sub-01_T2w.nii.gz",
            "sub-01/func/sub-01_task-rest_bold.json",
            "sub-01/sub-01_scans.tsv",
            "sub-02/anat/sub-02_T1w.json",
            "sub-02/anat/sub-02_T1w.nii.gz",
            "sub-02/sub-02_scans.tsv",
        ];
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let progress = FetchCounter::default();
        let mut sink = ListingSink {
            request: &request,
            files: Vec::new(),
            record: None,
            record_error: None,
            jobs: Some(&tx),
            started: std::collections::HashSet::new(),
            selected_dirs: std::collections::HashSet::new(),
            recent: Vec::new(),
            reporter: &crate::dataset::report::Silent,
            progress: &progress,
        };
        for path in listing {
            sink.found(ImportableFile {
                path: path.into(),
                size: 1,
                id: ContentId::new("v", None),
                url: None,
            })
            .unwrap();
        }
        let files = std::mem::take(&mut sink.files);
        drop(sink);
        drop(tx);
        let mut started = Vec::new();
        while let Ok((index, file, confirmed)) = rx.try_recv() {
            assert_eq!(file.path, listing[index]);
            assert!(!confirmed);
            started.push(file.path);
        }
        started.sort();
        assert_eq!(
            started,
            [
                "CHANGES",
                "T1w.json",
                "dataset_description.json",
                "participants.tsv",
                "sub-01/anat/sub-01_T1w.json",
                "sub-01/anat/sub-01_T1w.nii.gz",
                "sub-01/sub-01_scans.tsv",
            ]
        );
        assert_eq!(files.len(), listing.len());
        assert_eq!(
            progress.listed.load(Ordering::Relaxed),
            listing.len() as u64
        );
    }
}

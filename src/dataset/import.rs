//! `annexa import`: a service's listing becomes a DataLad dataset whose
//! annexed files have the keys the remote's IMPORTKEY gives, with an
//! annexa special remote (autoenabled) that gets them through the URLs
//! registered for each key. Works with any git-annex: the tree is built
//! with git's own batch tools, not `git annex import`.
//!
//! The whole tree is written by one `git fast-import` (one commit on the
//! branch, one on `refs/annexa/import/REMOTE`, which records what the last
//! import brought so a refresh knows what the service removed), and every
//! URL by one `git annex registerurl --batch`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use async_trait::async_trait;

use super::annex::object_path;
use super::git::{feed, git, run, spawn_error};
use super::report::{Reporter, SharedReporter};
use super::service::ServiceSource;
use super::tree::{self, Content};
use super::DatasetError;
use crate::error_chain_text;
use crate::providers::import::{content_key, key_for, KeySource};
use crate::providers::{
    self, check_export_path, Annex, AnnexError, Credentials, ImportSink, ImportableFile,
};
use crate::transfer::{Algorithm, Expected};

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Only paths matching one of these globs (all when empty).
    pub include: Vec<String>,
    /// No path matching one of these globs.
    pub exclude: Vec<String>,
    /// The service's version of the dataset/record. Only Zenodo lists a
    /// chosen version (`version=` of its remote, set at the first import);
    /// for the others [`import`] refuses one rather than import the latest
    /// under a version's name.
    pub version: Option<String>,
    /// A CSV of checksums for files the service publishes none for.
    pub manifest: Option<PathBuf>,
    /// The special remote's name (default: the provider's).
    pub remote_name: Option<String>,
    /// Update the working tree (a dataset for people); the cache has none.
    pub checkout: bool,
    /// Where notices and warnings go.
    pub reporter: SharedReporter,
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub files: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    /// Files whose content had to be read to key them (no checksum).
    pub hashed: usize,
    /// Names the listing had that cannot be paths.
    pub skipped: usize,
    pub commit: Option<String>,
}

impl ImportSummary {
    pub fn message(&self) -> String {
        format!(
            "{} files: {} added, {} changed, {} removed",
            self.files, self.added, self.changed, self.removed
        )
    }
}

/// The ref that remembers the tree the last import brought.
fn import_ref(remote: &str) -> String {
    format!("refs/annexa/import/{remote}")
}

/// Imports `source` into the dataset at `dir` (created when missing),
/// or refreshes it.
pub fn import(
    source: &ServiceSource,
    dir: &Path,
    options: &ImportOptions,
) -> Result<ImportSummary, DatasetError> {
    import_recorded(source, dir, options, None)
}

/// [`import`], also recording the listing in `record` (see
/// [`super::listed`]) so that a listed `get` need not list again.
fn import_recorded(
    source: &ServiceSource,
    dir: &Path,
    options: &ImportOptions,
    record: Option<&Path>,
) -> Result<ImportSummary, DatasetError> {
    let remote = options
        .remote_name
        .clone()
        .unwrap_or_else(|| source.provider().to_string());
    check_remote_name(&remote)?;
    let mut params = source.params();
    match (&options.version, source) {
        (Some(version), ServiceSource::Zenodo { .. }) => {
            params.push(("version".into(), version.clone()));
        }
        (None, _) => {}
        (Some(version), _) => {
            return Err(DatasetError::Direct(format!(
                "--version {version}: choosing a version is not supported yet for {} sources; \
             annexa imports the latest version the service shows this user \
             (with a token that can see it, the draft)",
                source.provider()
            )))
        }
    }
    let filter = PathFilter::new(&options.include, &options.exclude)?;
    let manifest = match &options.manifest {
        Some(path) => Some(read_manifest(path)?),
        None => None,
    };
    ensure_repository(dir)?;
    record_chosen_host(dir, source)?;
    ensure_remote(dir, &remote, &params, &*options.reporter)?;
    let listing = list_source(
        dir,
        &params,
        &filter,
        manifest.as_ref(),
        options.reporter.clone(),
        record,
    )?;
    let first = rev_parse(dir, &format!("{}^{{commit}}", import_ref(&remote))).is_none();
    if first && listing.files.is_empty() {
        // Most likely a mistyped prefix or DOI, or filters that leave
        // nothing: an empty dataset would only hide that.
        return Err(DatasetError::Direct(format!(
            "the source lists no files{}; nothing was imported",
            if options.include.is_empty() && options.exclude.is_empty() {
                ""
            } else {
                " that the --include/--exclude globs keep"
            }
        )));
    }
    build(dir, &remote, listing, options)
}

fn check_remote_name(name: &str) -> Result<(), DatasetError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(DatasetError::Direct(format!(
            "--remote-name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

/// `git` with the folder of this program first on PATH, so git-annex finds
/// the `git-annex-remote-annexa` installed beside `annexa`.
pub(super) fn git_here(repo: &Path) -> Command {
    let mut cmd = git(repo);
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .filter(|dir| dir.join("git-annex-remote-annexa").is_file())
    {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut parts = vec![dir];
        parts.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(parts) {
            cmd.env("PATH", joined);
        }
    }
    cmd
}

/// A git-annex repository with DataLad's dataset marker: `git init` and
/// `git annex init` when needed; the dataset files come with the first
/// import commit.
fn ensure_repository(dir: &Path) -> Result<(), DatasetError> {
    std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
    if !dir.join(".git").exists() {
        run(git(dir).args(["init", "--quiet"]))?;
    }
    let initialised = run(git(dir).args(["config", "--get", "annex.uuid"])).is_ok();
    if !initialised {
        run(git_here(dir).args(["annex", "init", "--quiet"]))?;
    }
    Ok(())
}

/// The user named this source (on the command line, or as the source of a
/// cache entry), so its service host is one they chose for their token:
/// recorded in the repository's local config, which no clone copies
/// (docs/security.md). Public hosts and loopback need no record.
fn record_chosen_host(dir: &Path, source: &ServiceSource) -> Result<(), DatasetError> {
    use crate::providers::token::{chosen_host, destination, Destination, HOSTS_CONFIG};
    let Some((service, url)) = source.token_destination() else {
        return Ok(());
    };
    if destination(service, &url, &[]) == Destination::Allowed {
        return Ok(());
    }
    let Some(host) = url.host_str().and_then(chosen_host) else {
        return Ok(());
    };
    let known = run(git(dir).args(["config", "--local", "--get-all", HOSTS_CONFIG]))
        .map(|out| {
            String::from_utf8_lossy(&out)
                .lines()
                .any(|l| chosen_host(l).as_deref() == Some(host.as_str()))
        })
        .unwrap_or(false);
    if !known {
        run(git(dir).args(["config", "--local", "--add", HOSTS_CONFIG, &host]))?;
    }
    Ok(())
}

/// `git annex initremote` the first time (the remote autoenables in
/// every clone); later runs reuse it.
fn ensure_remote(
    dir: &Path,
    remote: &str,
    params: &[(String, String)],
    reporter: &dyn Reporter,
) -> Result<(), DatasetError> {
    let known =
        run(git(dir).args(["config", "--get", &format!("remote.{remote}.annex-uuid")])).is_ok();
    if known {
        let wanted = params.iter().find(|(k, _)| k == "endpoint").map(|(_, v)| v);
        if let Some(wanted) = wanted {
            follow_endpoint(dir, remote, wanted, reporter)?;
        }
        return Ok(());
    }
    let mut cmd = git_here(dir);
    cmd.args(["annex", "initremote", "--quiet", remote])
        .args([
            "type=external",
            "externaltype=annexa",
            "encryption=none",
            "autoenable=true",
        ])
        .args(params.iter().map(|(k, v)| format!("{k}={v}")));
    run(&mut cmd)?;
    Ok(())
}

/// An endpoint the user named replaces the one the remote records, so
/// that content is got from where the listing came from.
pub(super) fn follow_endpoint(
    dir: &Path,
    remote: &str,
    wanted: &str,
    reporter: &dyn Reporter,
) -> Result<(), DatasetError> {
    let recorded = super::remotes::recorded_remote(dir, remote);
    let had = recorded.as_ref().and_then(|r| r.get("endpoint"));
    if had == Some(wanted) || recorded.is_none() {
        return Ok(());
    }
    run(git_here(dir)
        .args(["annex", "enableremote", remote])
        .arg(format!("endpoint={wanted}")))?;
    reporter.notice(&format!(
        "remote {remote} now uses endpoint {wanted} (it recorded {})",
        had.unwrap_or("AWS's")
    ));
    Ok(())
}

/// One file of the new tree.
#[derive(Debug, Clone)]
struct Listed {
    path: String,
    key: String,
    url: Option<String>,
}

struct Listing {
    files: Vec<Listed>,
    hashed: usize,
    skipped: usize,
}

/// Globs of `--include`/`--exclude`, matched against whole paths
/// (`*` stays within a folder, `**` crosses folders).
struct PathFilter {
    include: Option<globset::GlobSet>,
    exclude: Option<globset::GlobSet>,
}

impl PathFilter {
    fn new(include: &[String], exclude: &[String]) -> Result<Self, DatasetError> {
        let set = |globs: &[String]| -> Result<Option<globset::GlobSet>, DatasetError> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut builder = globset::GlobSetBuilder::new();
            for glob in globs {
                let parsed = globset::GlobBuilder::new(glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| DatasetError::Direct(format!("glob {glob:?}: {e}")))?;
                builder.add(parsed);
            }
            builder
                .build()
                .map(Some)
                .map_err(|e| DatasetError::Direct(format!("globs: {e}")))
        };
        Ok(Self {
            include: set(include)?,
            exclude: set(exclude)?,
        })
    }

    fn keeps(&self, path: &str) -> bool {
        self.include.as_ref().map_or(true, |s| s.is_match(path))
            && !self.exclude.as_ref().is_some_and(|s| s.is_match(path))
    }
}

/// Checksums from a manifest, by path: `size,sha1,path` or
/// `path,size,sha256` rows (a header row is allowed).
type Manifest = HashMap<String, (u64, Expected)>;

fn read_manifest(path: &Path) -> Result<Manifest, DatasetError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| DatasetError::Direct(format!("{}: {e}", path.display())))?;
    let mut out = Manifest::new();
    for (n, row) in reader.records().enumerate() {
        let row = row.map_err(|e| DatasetError::Direct(format!("{}: {e}", path.display())))?;
        let fields: Vec<&str> = row.iter().collect();
        let hex = |text: &str, len: usize| {
            text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
        };
        let parsed = match fields.as_slice() {
            [size, sha1, file] if size.parse::<u64>().is_ok() && hex(sha1, 40) => Some((
                file.to_string(),
                size.parse().unwrap_or(0),
                Expected::new(Algorithm::Sha1, &sha1.to_ascii_lowercase()),
            )),
            [file, size, sha256] if size.parse::<u64>().is_ok() && hex(sha256, 64) => Some((
                file.to_string(),
                size.parse().unwrap_or(0),
                Expected::new(Algorithm::Sha256, &sha256.to_ascii_lowercase()),
            )),
            _ => None,
        };
        match parsed {
            Some((file, size, checksum)) => {
                let file = file.trim_start_matches("./").to_string();
                out.insert(file, (size, checksum));
            }
            // A header row.
            None if n == 0 => {}
            None => {
                return Err(DatasetError::Direct(format!(
                    "{} row {}: expected size,sha1,path or path,size,sha256",
                    path.display(),
                    n + 1
                )))
            }
        }
    }
    Ok(out)
}

/// The provider's git-annex, outside the protocol: the initremote
/// parameters as config, credentials from the environment (providers
/// read it first), state kept in memory for this run.
pub(super) struct StandaloneAnnex {
    config: Mutex<HashMap<String, String>>,
    state: Mutex<HashMap<String, String>>,
    git_dir: PathBuf,
    reporter: SharedReporter,
}

impl StandaloneAnnex {
    pub(super) fn new(
        params: &[(String, String)],
        git_dir: PathBuf,
        reporter: SharedReporter,
    ) -> Self {
        Self {
            config: Mutex::new(params.iter().cloned().collect()),
            state: Mutex::new(HashMap::new()),
            git_dir,
            reporter,
        }
    }
}

#[async_trait]
impl Annex for StandaloneAnnex {
    async fn get_config(&self, name: &str) -> Result<Option<String>, AnnexError> {
        Ok(self.config.lock().expect("config lock").get(name).cloned())
    }
    async fn set_config(&self, name: &str, value: &str) -> Result<(), AnnexError> {
        self.config
            .lock()
            .expect("config lock")
            .insert(name.into(), value.into());
        Ok(())
    }
    async fn get_creds(&self, _setting: &str) -> Result<Option<Credentials>, AnnexError> {
        Ok(None)
    }
    async fn set_creds(&self, _setting: &str, _creds: &Credentials) -> Result<(), AnnexError> {
        Ok(())
    }
    async fn get_state(&self, key: &str) -> Result<Option<String>, AnnexError> {
        Ok(self.state.lock().expect("state lock").get(key).cloned())
    }
    async fn set_state(&self, key: &str, value: &str) -> Result<(), AnnexError> {
        self.state
            .lock()
            .expect("state lock")
            .insert(key.into(), value.into());
        Ok(())
    }
    async fn get_uuid(&self) -> Result<String, AnnexError> {
        Ok("00000000-0000-0000-0000-00000000a1e0".into())
    }
    async fn get_git_dir(&self) -> Result<PathBuf, AnnexError> {
        Ok(self.git_dir.clone())
    }
    async fn get_urls(&self, _key: &str, _prefix: &str) -> Result<Vec<String>, AnnexError> {
        Ok(Vec::new())
    }
    async fn set_url_present(&self, _key: &str, _url: &str) -> Result<(), AnnexError> {
        Ok(())
    }
    fn progress(&self, _bytes: u64) {}
    fn debug(&self, message: &str) {
        tracing::debug!("{message}");
    }
    fn info(&self, message: &str) {
        self.reporter.notice(message);
    }
}

/// Collects the listing, dropping names that cannot be paths (as the
/// protocol's listing does) and those the filters leave out.
struct Collector<'a> {
    filter: &'a PathFilter,
    files: Vec<ImportableFile>,
    skipped: usize,
    reporter: &'a dyn Reporter,
}

impl ImportSink for Collector<'_> {
    fn found(&mut self, file: ImportableFile) -> providers::Result<()> {
        if let Err(why) = importable_path(&file.path) {
            self.skipped(&file.path, &why);
            return Ok(());
        }
        if self.filter.keeps(&file.path) {
            self.files.push(file);
        }
        Ok(())
    }

    fn skipped(&mut self, name: &str, why: &str) {
        self.skipped += 1;
        self.reporter.warning(&format!(
            "not imported: {} ({why})",
            super::report::shown_path(name)
        ));
    }
}

/// Whether a listed name can be a path of the tree, or why not. Every
/// imported file is a symbolic link into the annex: git's rules for those,
/// checked before anything is written.
pub(super) fn importable_path(path: &str) -> Result<(), String> {
    check_export_path(path).map_err(|why| error_chain_text(&why))?;
    super::paths::check(path, super::paths::EntryKind::Symlink).map_err(|p| p.to_string())
}

pub(super) fn provider_error(e: providers::ProviderError) -> DatasetError {
    DatasetError::Direct(error_chain_text(&e))
}

/// The provider the initremote parameters name, and its name, when it can
/// be imported from.
pub(super) fn import_kind(
    params: &[(String, String)],
) -> Result<(Box<dyn providers::ProviderKind>, String), DatasetError> {
    let provider_name = params
        .iter()
        .find(|(k, _)| k == "provider")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let kind = providers::find_kind(&provider_name).ok_or_else(|| {
        DatasetError::Direct(format!("no provider {provider_name} in this build"))
    })?;
    if !kind.capabilities().import {
        return Err(DatasetError::Direct(format!(
            "provider {provider_name} cannot list its files for an import in this build of annexa"
        )));
    }
    Ok((kind, provider_name))
}

/// Lists the source through its provider and keys every file: from the
/// published checksum, else from the manifest, else by hashing it.
fn list_source(
    dir: &Path,
    params: &[(String, String)],
    filter: &PathFilter,
    manifest: Option<&Manifest>,
    reporter: SharedReporter,
    record: Option<&Path>,
) -> Result<Listing, DatasetError> {
    let (kind, provider_name) = import_kind(params)?;
    let git_dir = dir.join(".git");
    let scratch_dir = git_dir.join("annex/tmp");
    std::fs::create_dir_all(&scratch_dir).map_err(|e| DatasetError::io(&scratch_dir, e))?;
    let scratch = scratch_dir.join(format!("annexa-import-{}", std::process::id()));
    let annex = StandaloneAnnex::new(params, git_dir, reporter.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| DatasetError::io("tokio runtime", e))?;
    runtime.block_on(async {
        let provider = kind.prepare(&annex).await.map_err(provider_error)?;
        let source = provider.import().ok_or_else(|| {
            DatasetError::Direct(format!("provider {provider_name} cannot be imported from"))
        })?;
        let mut sink = Collector {
            filter,
            files: Vec::new(),
            skipped: 0,
            reporter: &*reporter,
        };
        source
            .list_importable(&mut sink, &annex)
            .await
            .map_err(provider_error)?;
        if let Some(record) = record {
            let mut writer = super::listed::RecordWriter::create(record)?;
            for file in &sink.files {
                writer.add(file, true)?;
            }
            writer.finish()?;
        }
        let mut listing = Listing {
            files: Vec::with_capacity(sink.files.len()),
            hashed: 0,
            skipped: sink.skipped,
        };
        for file in sink.files {
            let from_manifest = manifest
                .filter(|_| file.id.checksum.is_none())
                .and_then(|m| m.get(&file.path))
                .filter(|(size, _)| *size == file.size);
            let key = match from_manifest {
                Some((_, checksum)) => key_for(&file.path, file.size, checksum),
                None => {
                    let (key, how) =
                        content_key(source, &file.path, file.size, &file.id, &scratch, &annex)
                            .await
                            .map_err(provider_error)?;
                    if how == KeySource::Hashed {
                        listing.hashed += 1;
                    }
                    key
                }
            };
            listing.files.push(Listed {
                path: file.path,
                key,
                url: file.url,
            });
        }
        Ok::<_, DatasetError>(listing)
    })
}

/// The symlink an annexed file at `path` is: relative to its folder, into
/// `.git/annex/objects`, exactly as git-annex writes it.
fn link_target(path: &str, key: &str) -> String {
    let depth = path.matches('/').count();
    let object = object_path(Path::new(""), key);
    format!("{}{}", "../".repeat(depth), object.to_string_lossy())
}

/// A path as fast-import reads it: C-style quoted.
fn quote_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 2);
    out.push('"');
    for c in path.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && (c as u32) < 0x80 => {
                out.push_str(&format!("\\{:03o}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The dataset files `datalad create` writes, as (path, content).
fn dataset_files() -> Vec<(&'static str, String)> {
    let id = uuid::Uuid::new_v4();
    vec![
        (
            ".datalad/config",
            format!("[datalad \"dataset\"]\n\tid = {id}\n"),
        ),
        (
            ".datalad/.gitattributes",
            "config annex.largefiles=nothing\n".into(),
        ),
        (
            ".gitattributes",
            "* annex.backend=MD5E\n**/.git* annex.largefiles=nothing\n".into(),
        ),
    ]
}

fn rev_parse(repo: &Path, name: &str) -> Option<String> {
    run(git(repo).args(["rev-parse", "--verify", "--quiet", name]))
        .ok()
        .map(|out| String::from_utf8_lossy(&out).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Writes the new tree: URLs first (a failure leaves the branch as it
/// was), then one fast-import for both commits, then the working tree.
fn build(
    dir: &Path,
    remote: &str,
    listing: Listing,
    options: &ImportOptions,
) -> Result<ImportSummary, DatasetError> {
    let reference = import_ref(remote);
    let previous_import = rev_parse(dir, &format!("{reference}^{{commit}}"));
    let old: BTreeMap<String, String> = match &previous_import {
        Some(_) => tree::list(dir, &reference)?
            .files
            .into_iter()
            .filter_map(|f| match f.content {
                Content::Annexed { key } => Some((f.path, key)),
                _ => None,
            })
            .collect(),
        None => BTreeMap::new(),
    };
    let mut files = listing.files;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    let mut skipped = listing.skipped;
    // A name that is also a folder of other names (`a` and `a/b`) cannot
    // be both in a tree: the folder wins.
    let folders: std::collections::HashSet<&str> = files
        .iter()
        .flat_map(|f| f.path.match_indices('/').map(|(i, _)| &f.path[..i]))
        .collect();
    let clashing: std::collections::HashSet<String> = files
        .iter()
        .filter(|f| folders.contains(f.path.as_str()))
        .map(|f| f.path.clone())
        .collect();
    drop(folders);
    for path in &clashing {
        options.reporter.warning(&format!(
            "not imported: {path:?} (it is also a folder of other files)"
        ));
        skipped += 1;
    }
    files.retain(|f| !clashing.contains(&f.path));
    let mut summary = ImportSummary {
        files: files.len(),
        hashed: listing.hashed,
        skipped,
        ..ImportSummary::default()
    };
    let mut fresh: Vec<&Listed> = Vec::new();
    for file in &files {
        match old.get(&file.path) {
            None => {
                summary.added += 1;
                fresh.push(file);
            }
            Some(key) if *key != file.key => {
                summary.changed += 1;
                fresh.push(file);
            }
            Some(_) => {}
        }
    }
    let new_paths: std::collections::HashSet<&str> =
        files.iter().map(|f| f.path.as_str()).collect();
    let removed: Vec<&str> = old
        .keys()
        .map(String::as_str)
        .filter(|p| !new_paths.contains(p))
        .collect();
    summary.removed = removed.len();
    let branch_head = rev_parse(dir, "HEAD");
    // A commit an earlier annexa made that git cannot check out (a name
    // only read-tree refuses): rebuilt and checked out afresh, never kept.
    let head_broken = branch_head
        .as_deref()
        .is_some_and(|head| !checks_out(dir, head));
    if branch_head.is_some()
        && previous_import.is_some()
        && fresh.is_empty()
        && removed.is_empty()
        && !head_broken
    {
        return Ok(summary);
    }

    let branch = run(git(dir).args(["symbolic-ref", "HEAD"]))
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .map_err(|_| DatasetError::Direct(format!("{}: HEAD is not on a branch", dir.display())))?;
    let ident = committer_ident(dir);
    let message = format!("[annexa] import from {remote}: {}\n", summary.message());
    let mut stream: Vec<u8> = Vec::with_capacity(files.len() * 200);
    let data = |stream: &mut Vec<u8>, bytes: &[u8]| {
        let _ = writeln!(stream, "data {}", bytes.len());
        stream.extend_from_slice(bytes);
        stream.push(b'\n');
    };
    // Blobs: one mark per file (fast-import stores identical ones once).
    for (n, file) in files.iter().enumerate() {
        stream.extend_from_slice(format!("blob\nmark :{}\n", n + 1).as_bytes());
        data(&mut stream, link_target(&file.path, &file.key).as_bytes());
    }
    // Both commits go to pending refs first: the branch, the import ref,
    // the index and the working tree move only once git has accepted the
    // new tree (see `publish`).
    let pending_import = format!("refs/annexa/pending/{remote}/import");
    let pending_branch = format!("refs/annexa/pending/{remote}/branch");
    // The import's own tree: exactly the service's files.
    let _ = writeln!(stream, "commit {pending_import}\ncommitter {ident}");
    data(&mut stream, message.as_bytes());
    if let Some(previous) = &previous_import {
        let _ = writeln!(stream, "from {previous}");
    }
    stream.extend_from_slice(b"deleteall\n");
    for (n, file) in files.iter().enumerate() {
        let _ = writeln!(stream, "M 120000 :{} {}", n + 1, quote_path(&file.path));
    }
    // The branch: its own files kept, the import's changes applied.
    let _ = writeln!(stream, "commit {pending_branch}\ncommitter {ident}");
    data(&mut stream, message.as_bytes());
    if let Some(head) = &branch_head {
        let _ = writeln!(stream, "from {head}");
    }
    // DataLad's dataset files, unless the branch has them already.
    for (path, content) in dataset_files() {
        let has = branch_head.as_ref().is_some_and(|head| {
            run(git(dir).args(["cat-file", "-e", &format!("{head}:{path}")])).is_ok()
        });
        if !has {
            let _ = writeln!(stream, "M 100644 inline {}", quote_path(path));
            data(&mut stream, content.as_bytes());
        }
    }
    for path in &removed {
        let _ = writeln!(stream, "D {}", quote_path(path));
    }
    if let (true, Some(head)) = (head_broken, &branch_head) {
        // Whatever made the branch's tree unusable goes, whoever put it there.
        for path in refused_paths(dir, head)? {
            let _ = writeln!(stream, "D {}", quote_path(&path));
        }
    }
    let index: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(n, f)| (f.path.as_str(), n + 1))
        .collect();
    for file in &fresh {
        let _ = writeln!(
            stream,
            "M 120000 :{} {}",
            index[file.path.as_str()],
            quote_path(&file.path)
        );
    }
    stream.extend_from_slice(b"done\n");
    let drop_pending = || {
        for name in [&pending_import, &pending_branch] {
            let _ = run(git(dir).args(["update-ref", "-d", name]));
        }
    };
    let mut cmd = git(dir);
    // --force: a pending ref left by a killed run is replaced.
    cmd.args([
        "fast-import",
        "--quiet",
        "--done",
        "--force",
        "--date-format=raw",
    ]);
    let outcome = feed(&mut cmd, &stream).and_then(|_| {
        let new_head = rev_parse(dir, &pending_branch).ok_or_else(|| {
            DatasetError::Direct("git fast-import wrote no commit; nothing was changed".into())
        })?;
        let new_import = rev_parse(dir, &pending_import).unwrap_or_default();
        for commit in [&new_head, &new_import] {
            if !checks_out(dir, commit) {
                return Err(DatasetError::Direct(
                    "git refuses to check out the imported tree (a name it treats as \
                     special); nothing was changed"
                        .into(),
                ));
            }
        }
        register_urls(dir, remote, &fresh, &*options.reporter)?;
        if options.checkout {
            let mut cmd = git(dir);
            match (&branch_head, head_broken) {
                (Some(old_head), false) => cmd.args(["read-tree", "-m", "-u", old_head, &new_head]),
                _ => cmd.args(["read-tree", "-m", "-u", &new_head]),
            };
            run(&mut cmd)?;
        }
        publish(
            dir,
            &[
                (&branch, &new_head, branch_head.as_deref()),
                (&reference, &new_import, previous_import.as_deref()),
            ],
        )?;
        Ok(new_head)
    });
    drop_pending();
    summary.commit = Some(outcome?);
    Ok(summary)
}

/// The paths of `commit` that [`super::paths::check`] refuses.
fn refused_paths(dir: &Path, commit: &str) -> Result<Vec<String>, DatasetError> {
    let raw = run(git(dir).args(["ls-tree", "-r", "-z", "--full-tree", commit]))?;
    let mut out = Vec::new();
    for record in raw.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let record = String::from_utf8_lossy(record);
        let Some((meta, path)) = record.split_once('\t') else {
            continue;
        };
        let kind = if meta.starts_with("120000") {
            super::paths::EntryKind::Symlink
        } else {
            super::paths::EntryKind::File
        };
        if super::paths::check(path, kind).is_err() {
            out.push(path.to_string());
        }
    }
    Ok(out)
}

/// Whether git would check `commit` out: `read-tree` into a scratch index
/// applies git's own path rules (`verify_path`) to every entry.
fn checks_out(dir: &Path, commit: &str) -> bool {
    let Ok(scratch) = tempfile::tempdir() else {
        return false;
    };
    run(git(dir)
        .env("GIT_INDEX_FILE", scratch.path().join("index"))
        .args(["read-tree", commit]))
    .is_ok()
}

/// Moves every ref `(name, new, old)` in one transaction: all or none, and
/// none that another process moved meanwhile.
fn publish(dir: &Path, refs: &[(&str, &str, Option<&str>)]) -> Result<(), DatasetError> {
    let mut input = String::from("start\n");
    for (name, new, old) in refs {
        match old {
            Some(old) => input.push_str(&format!("update {name} {new} {old}\n")),
            None => input.push_str(&format!("create {name} {new}\n")),
        }
    }
    input.push_str("prepare\ncommit\n");
    let mut cmd = git(dir);
    cmd.args(["update-ref", "--stdin"]);
    feed(&mut cmd, input.as_bytes()).map(|_| ())
}

/// Records, for every new key, its URL and that the annexa remote has
/// it, so `get` asks the remote, which downloads from that URL.
///
/// Keys the git-annex branch knows nothing of yet (all of them on a first
/// import) get their two log files written straight into the branch by
/// one `git fast-import` commit, in git-annex's documented log format:
/// `registerurl --batch` costs milliseconds a key (a CLAIMURL round trip
/// and a journal write each), minutes for 10,000 keys. Keys with logs
/// already go through `registerurl` and `setpresentkey`, which merge.
fn register_urls(
    dir: &Path,
    remote: &str,
    files: &[&Listed],
    reporter: &dyn Reporter,
) -> Result<(), DatasetError> {
    let missing = files.iter().filter(|f| f.url.is_none()).count();
    if missing > 0 {
        reporter.warning(&format!(
            "{missing} file(s) have no URL from {remote}: their content cannot be got through it"
        ));
    }
    let mut urls: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for file in files {
        if let Some(url) = file.url.as_deref().filter(|u| !u.contains(['\n', '\r'])) {
            urls.entry(file.key.as_str()).or_default().push(url);
        }
    }
    if urls.is_empty() {
        return Ok(());
    }
    let uuid = run(git(dir).args(["config", "--get", &format!("remote.{remote}.annex-uuid")]))?;
    let uuid = String::from_utf8_lossy(&uuid).trim().to_string();
    // The journal holds changes not yet in the branch; a log written
    // beside one would be shadowed by it. `merge` commits it.
    run(git_here(dir).args(["annex", "merge", "--quiet"]))?;
    let branch_sha = rev_parse(dir, "refs/heads/git-annex")
        .ok_or_else(|| DatasetError::Direct(format!("{}: no git-annex branch", dir.display())))?;
    let listed = run(git(dir).args(["ls-tree", "-r", "-z", "--name-only", &branch_sha]))?;
    let existing: std::collections::HashSet<&[u8]> = listed
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .collect();
    let logs = |key: &str| {
        let dir = providers::hashdir_lower(key);
        (format!("{dir}{key}.log"), format!("{dir}{key}.log.web"))
    };
    let (known, unknown): (Vec<_>, Vec<_>) = urls.iter().partition(|(key, _)| {
        let (location, web) = logs(key);
        existing.contains(location.as_bytes()) || existing.contains(web.as_bytes())
    });
    if !unknown.is_empty() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = format!("{}.{:09}s", now.as_secs(), now.subsec_nanos());
        let ident = committer_ident(dir);
        let mut stream: Vec<u8> = Vec::with_capacity(unknown.len() * 300);
        let _ = writeln!(stream, "commit refs/heads/git-annex\ncommitter {ident}");
        let _ = writeln!(stream, "data 7\nupdate\nfrom {branch_sha}");
        for (key, key_urls) in &unknown {
            let (location, web) = logs(key);
            let presence = format!("{stamp} 1 {uuid}\n");
            // URLs a special remote claims are kept with a leading ':'.
            let web_log: String = key_urls
                .iter()
                .map(|u| format!("{stamp} 1 :{u}\n"))
                .collect();
            for (path, content) in [(location, presence), (web, web_log)] {
                let _ = writeln!(stream, "M 100644 inline {}", quote_path(&path));
                let _ = writeln!(stream, "data {}", content.len());
                stream.extend_from_slice(content.as_bytes());
                stream.push(b'\n');
            }
        }
        stream.extend_from_slice(b"done\n");
        let mut cmd = git(dir);
        cmd.args(["fast-import", "--quiet", "--done", "--date-format=raw"]);
        feed(&mut cmd, &stream)?;
    }
    if known.is_empty() {
        return Ok(());
    }
    let mut input = String::new();
    for (key, key_urls) in &known {
        for url in key_urls.iter() {
            input.push_str(&format!("{key} {url}\n"));
        }
    }
    let mut cmd = git_here(dir);
    cmd.args(["annex", "registerurl", "--batch", "--json"]);
    let out = feed(&mut cmd, input.as_bytes())?;
    let failed = String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.contains("\"success\":false"))
        .count();
    if failed > 0 {
        return Err(DatasetError::Direct(format!(
            "git annex registerurl refused {failed} URL(s) of {remote}; nothing was committed"
        )));
    }
    // Older git-annex records a URL a special remote claims without
    // saying that remote has the key: say so.
    let input: String = known
        .iter()
        .map(|(key, _)| format!("{key} {uuid} 1\n"))
        .collect();
    let mut cmd = git(dir);
    cmd.args(["annex", "setpresentkey", "--batch"]);
    let out = feed(&mut cmd, input.as_bytes())?;
    let confirmed = String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.ends_with(" ok"))
        .count();
    if confirmed < known.len() {
        return Err(DatasetError::Direct(format!(
            "git annex setpresentkey refused {} key(s) of {remote}; nothing was committed",
            known.len() - confirmed
        )));
    }
    // Commit the journal now: a clone must see these records.
    run(git_here(dir).args(["annex", "merge", "--quiet"]))?;
    Ok(())
}

/// `Name <email> time zone` for fast-import, as git would commit.
fn committer_ident(dir: &Path) -> String {
    run(git(dir).args(["var", "GIT_COMMITTER_IDENT"]))
        .map(|o| String::from_utf8_lossy(&o).trim().to_string())
        .unwrap_or_else(|_| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!("annexa <annexa@localhost> {now} +0000")
        })
}

/// `annexa import SOURCE [DIR]`: the dataset's folder and what changed.
pub fn import_command(
    text: &str,
    dir: Option<&Path>,
    hints: &super::ServiceHints,
    options: &ImportOptions,
) -> Result<(PathBuf, ImportSummary), DatasetError> {
    let hints = super::ServiceHints {
        bare_figshare_id: true,
        ..hints.clone()
    };
    let hints = match dir {
        Some(dir) => with_recorded_endpoint(text, dir, options.remote_name.as_deref(), hints)?,
        None => hints,
    };
    let source = ServiceSource::parse(text, &hints)?.ok_or_else(|| {
        DatasetError::Direct(format!(
            "{text} is not a source annexa can import: use s3://BUCKET/PREFIX, doi:..., a Dataverse dataset URL, a Figshare article URL or id, a GitHub release URL, or a Zenodo DOI or record URL"
        ))
    })?;
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(default_dir(&source)));
    let summary = import(&source, &dir, options)?;
    Ok((dir, summary))
}

/// A refresh reads the service where the first import did: without
/// `--endpoint`, an `s3://` source takes the endpoint its remote records
/// (before the environment's, which may name another server or none).
pub(super) fn with_recorded_endpoint(
    text: &str,
    dir: &Path,
    remote_name: Option<&str>,
    hints: super::ServiceHints,
) -> Result<super::ServiceHints, DatasetError> {
    if hints.endpoint.is_some() || !dir.join(".git").exists() {
        return Ok(hints);
    }
    let Some(source) = ServiceSource::parse(text, &hints)? else {
        return Ok(hints);
    };
    if !matches!(source, ServiceSource::S3 { .. }) {
        return Ok(hints);
    }
    let remote = remote_name.unwrap_or(source.provider());
    let recorded = super::remotes::recorded_remote(dir, remote)
        .and_then(|r| r.get("endpoint").map(str::to_string));
    Ok(super::ServiceHints {
        endpoint: recorded,
        ..hints
    })
}

/// Creates or refreshes the cache's imported dataset of `text` (a source
/// the cache recognised as a service): no working tree, only the branch.
pub(super) fn import_into_cache(
    text: &str,
    repo: &Path,
    reporter: &SharedReporter,
    endpoint: Option<&str>,
    record: Option<&Path>,
) -> Result<(), DatasetError> {
    let hints = super::ServiceHints {
        endpoint: endpoint.map(str::to_string),
        ..super::ServiceHints::default()
    };
    let hints = with_recorded_endpoint(text, repo, None, hints)?;
    let source = ServiceSource::parse(text, &hints)?
        .ok_or_else(|| DatasetError::NoSuchSource(text.to_string()))?;
    reporter.activity(&format!("importing the listing of {text} into the cache"));
    let options = ImportOptions {
        checkout: false,
        reporter: reporter.clone(),
        ..ImportOptions::default()
    };
    let summary = import_recorded(&source, repo, &options, record)?;
    reporter.activity(&summary.message());
    Ok(())
}

/// The folder `annexa import SOURCE` creates when none is named: the last
/// part of the source's name.
pub fn default_dir(source: &ServiceSource) -> String {
    let name = match source {
        ServiceSource::S3 { bucket, prefix, .. } => prefix
            .trim_end_matches('/')
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or(bucket)
            .to_string(),
        ServiceSource::Dataverse { pid, .. } => pid
            .rsplit(['/', ':'])
            .find(|s| !s.is_empty())
            .unwrap_or("dataverse")
            .to_string(),
        ServiceSource::Figshare { article, .. } => format!("figshare-{article}"),
        ServiceSource::Github { repo, tag, .. } => {
            format!("{}-{tag}", repo.rsplit('/').next().unwrap_or(repo))
        }
        ServiceSource::Zenodo { record, .. } => format!("zenodo-{record}"),
    };
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match clean.trim_start_matches('.') {
        "" => "import".to_string(),
        rest => rest.to_string(),
    }
}

/// The URL each key's content can be got from, as recorded in the
/// git-annex branch (`registerurl`, `addurl`): one `cat-file --batch`.
pub(super) fn recorded_urls(
    repo: &Path,
    keys: &[String],
) -> Result<HashMap<String, String>, DatasetError> {
    use std::io::{BufRead, BufReader, Read};
    let mut out = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let mut cmd = git(repo);
    cmd.args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().map_err(|e| spawn_error(&cmd, e))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let request: String = keys
        .iter()
        .map(|k| format!("git-annex:{}{k}.log.web\n", providers::hashdir_lower(k)))
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut header = String::new();
    for key in keys {
        header.clear();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            break;
        }
        let fields: Vec<&str> = header.split_whitespace().collect();
        let [_, _, size] = fields.as_slice() else {
            continue; // "<name> missing": no URL recorded
        };
        let Ok(size) = size.parse::<usize>() else {
            break;
        };
        let mut content = vec![0u8; size + 1];
        if reader.read_exact(&mut content).is_err() {
            break;
        }
        // "<time> <1|0> <url>" lines; the last word about a URL wins.
        let mut present: Vec<String> = Vec::new();
        for line in String::from_utf8_lossy(&content[..size]).lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some(_), Some(status), Some(url)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            // URLs claimed by a special remote are kept with a leading ':'.
            let url = url.strip_prefix(':').unwrap_or(url).to_string();
            present.retain(|u| *u != url);
            if status == "1" {
                present.push(url);
            }
        }
        if let Some(url) = present.pop() {
            out.insert(key.clone(), url);
        }
    }
    drop(reader);
    let _ = writer.join();
    let _ = child.wait();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_point_into_the_annex_from_any_depth() {
        let key = "SHA256E-s3--98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4";
        assert_eq!(
            link_target("a", key),
            format!(".git/annex/objects/zQ/MQ/{key}/{key}")
        );
        assert_eq!(
            link_target("sub-01/anat/x", key),
            format!("../../.git/annex/objects/zQ/MQ/{key}/{key}")
        );
    }

    #[test]
    fn paths_are_quoted_for_fast_import() {
        assert_eq!(quote_path("a b/c"), "\"a b/c\"");
        assert_eq!(quote_path("q\"\\"), "\"q\\\"\\\\\"");
        assert_eq!(quote_path("t\tü"), "\"t\\011ü\"");
    }

    #[test]
    fn filters_and_manifests() {
        let f = PathFilter::new(&["sub-*/**".into()], &["**/*.json".into()]).unwrap();
        assert!(f.keeps("sub-01/anat/x.nii.gz"));
        assert!(!f.keeps("sub-01/anat/x.json"));
        assert!(!f.keeps("README"));
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("m.csv");
        let sha1 = "a".repeat(40);
        let sha256 = "B".repeat(64);
        std::fs::write(
            &csv_path,
            format!("size,sha1,path\n5,{sha1},a/x.txt\n\"b, c.txt\",7,{sha256}\n"),
        )
        .unwrap();
        let m = read_manifest(&csv_path).unwrap();
        assert_eq!(m["a/x.txt"].0, 5);
        assert_eq!(m["a/x.txt"].1.algorithm, Algorithm::Sha1);
        assert_eq!(m["b, c.txt"].1.hex, "b".repeat(64));
        std::fs::write(&csv_path, "x,y,z\n1,2,3\n").unwrap();
        assert!(read_manifest(&csv_path).is_err());
    }
}

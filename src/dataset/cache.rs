//! The cache: one private, no-checkout clone per dataset source, guarded by
//! a lock file so that concurrent `annexa` processes take turns.

use super::git::{git, run};
use super::report::{Reporter, SharedReporter};
use super::{DatasetError, Source};
use fs2::FileExt;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const SOURCE_FILE: &str = "source";
/// Written when a clone is complete, rewritten at each refresh: its
/// time is the age of the cached copy.
pub(super) const READY_FILE: &str = "ready";
const LOCK_FILE: &str = "lock";
const REPO_DIR: &str = "repo";
/// The recorded listing of a service source (see [`super::listed`]).
const LISTING_FILE: &str = "listing.jsonl";

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    reporter: SharedReporter,
    /// `--endpoint` for `s3://` sources.
    endpoint: Option<String>,
}

/// Read-only work (listing) shares the lock; cloning, fetching and dropping
/// take it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Shared,
    Exclusive,
}

/// A cached clone, locked for as long as this value lives.
#[derive(Debug)]
pub struct CachedDataset {
    pub source: Source,
    pub repo: PathBuf,
    _lock: File,
}

/// One cache entry as `cache list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CacheEntry {
    pub source: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub complete: bool,
}

impl Cache {
    /// `--cache DIR`, else `$XDG_CACHE_HOME/annexa`, else `~/.cache/annexa`.
    pub fn locate(explicit: Option<&Path>) -> Result<Cache, DatasetError> {
        let root = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
                Some(xdg) => PathBuf::from(xdg).join("annexa"),
                None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                    Some(home) => PathBuf::from(home).join(".cache/annexa"),
                    None => return Err(DatasetError::NoCacheDirectory),
                },
            },
        };
        Ok(Cache {
            root,
            reporter: SharedReporter::default(),
            endpoint: None,
        })
    }

    /// Tells `reporter` what the cache does (clones, waits).
    pub fn reporting_to(mut self, reporter: SharedReporter) -> Cache {
        self.reporter = reporter;
        self
    }

    /// The S3 endpoint the user named for `s3://` sources.
    pub fn with_endpoint(mut self, endpoint: Option<String>) -> Cache {
        self.endpoint = endpoint;
        self
    }

    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    pub fn reporter(&self) -> &SharedReporter {
        &self.reporter
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn entry_dir(&self, source: &Source) -> PathBuf {
        self.root.join(source.cache_name())
    }

    /// Opens the clone of `source`, cloning it first if needed.
    pub fn open(&self, source: &Source, access: Access) -> Result<CachedDataset, DatasetError> {
        let entry = self.entry_dir(source);
        fs::create_dir_all(&entry).map_err(|e| DatasetError::io(&entry, e))?;
        let lock = lock_entry(&entry, access, &**self.reporter())?;
        let repo = entry.join(REPO_DIR);
        if entry.join(READY_FILE).exists() {
            return Ok(CachedDataset {
                source: source.clone(),
                repo,
                _lock: lock,
            });
        }
        // Not cloned yet (or a clone was interrupted): that needs the lock alone.
        drop(lock);
        let lock = lock_entry(&entry, Access::Exclusive, &**self.reporter())?;
        if !entry.join(READY_FILE).exists() {
            if let Err(e) = clone_into(source, &entry, self) {
                // A failed clone leaves nothing behind (the lock taken
                // alone, so no one else is inside).
                let _ = discard_entry(&entry);
                return Err(e);
            }
        }
        Ok(CachedDataset {
            source: source.clone(),
            repo,
            _lock: lock,
        })
    }

    /// The entry of a service `source` for [`super::listed`]: its lock, and
    /// its `repo` folder made a git repository (the dataset in it is built
    /// only when asked for). `None` when the entry is already taken in
    /// another way (a clone, or a source recorded differently).
    pub(super) fn open_listed(
        &self,
        source: &Source,
        access: Access,
    ) -> Result<CachedDataset, DatasetError> {
        let entry = self.entry_dir(source);
        fs::create_dir_all(&entry).map_err(|e| DatasetError::io(&entry, e))?;
        let lock = lock_entry(&entry, access, &*self.reporter)?;
        let repo = entry.join(REPO_DIR);
        let source_file = entry.join(SOURCE_FILE);
        if !source_file.exists() {
            fs::write(&source_file, format!("{}\n", source.as_str()))
                .map_err(|e| DatasetError::io(&source_file, e))?;
        }
        if !repo.join(".git/HEAD").exists() {
            fs::create_dir_all(&repo).map_err(|e| DatasetError::io(&repo, e))?;
            run(git(&repo).args(["init", "--quiet"]))?;
        }
        Ok(CachedDataset {
            source: source.clone(),
            repo,
            _lock: lock,
        })
    }

    /// Where the listing of a service source is recorded.
    pub(super) fn listing_file(&self, source: &Source) -> PathBuf {
        self.entry_dir(source).join(LISTING_FILE)
    }

    /// Marks the dataset of a service source as older than its recorded
    /// listing: it is brought up to date when next asked for.
    pub(super) fn mark_dataset_stale(&self, source: &Source) -> Result<(), DatasetError> {
        let ready = self.entry_dir(source).join(READY_FILE);
        match fs::remove_file(&ready) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DatasetError::io(&ready, e)),
        }
    }

    /// Every entry under the cache root, and the leftovers of failed or
    /// interrupted clones (incomplete).
    pub fn entries(&self) -> Result<Vec<CacheEntry>, DatasetError> {
        let mut entries = Vec::new();
        let Ok(dir) = fs::read_dir(&self.root) else {
            return Ok(entries);
        };
        for item in dir.flatten() {
            let path = item.path();
            let Some(source) = entry_source(&path).or_else(|| leftover_source(&path)) else {
                continue;
            };
            entries.push(CacheEntry {
                source: source.trim().to_string(),
                bytes: disk_usage(&path),
                complete: path.join(READY_FILE).exists() || path.join(LISTING_FILE).exists(),
                path,
            });
        }
        entries.sort_by(|a, b| a.source.cmp(&b.source));
        Ok(entries)
    }

    /// Removes one entry, waiting for any process that uses it. git-annex
    /// keeps objects read-only, so write permission is restored first.
    /// The lock file goes last: a process that opened it meanwhile finds,
    /// once it holds the lock, that the file is no longer the entry's and
    /// starts over ([`lock_entry`]).
    pub fn remove_entry(&self, entry: &Path) -> Result<(), DatasetError> {
        if entry_source(entry).is_none() && leftover_source(entry).is_none() {
            return Err(DatasetError::NotACacheEntry(entry.to_path_buf()));
        }
        let _lock = lock_entry(entry, Access::Exclusive, &**self.reporter())?;
        discard_entry(entry)
    }
}

/// Removes an entry whose lock the caller holds alone: its content, then
/// the lock file, then the folder.
fn discard_entry(entry: &Path) -> Result<(), DatasetError> {
    make_writable(entry)?;
    for item in fs::read_dir(entry)
        .map_err(|e| DatasetError::io(entry, e))?
        .flatten()
    {
        let path = item.path();
        if item.file_name() == LOCK_FILE {
            continue;
        }
        let result = if item.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        result.map_err(|e| DatasetError::io(&path, e))?;
    }
    let lock = entry.join(LOCK_FILE);
    fs::remove_file(&lock).map_err(|e| DatasetError::io(&lock, e))?;
    // Another process may already have made a new lock here: then the
    // folder stays, in use.
    let _ = fs::remove_dir(entry);
    Ok(())
}

/// What a failed or interrupted clone (of an older annexa, or killed) may
/// leave: a folder named like an entry (`NAME-` and 12 hex digits) with a
/// lock file, and either nothing else or a `source` file whose hash is
/// that name's. `None` for anything else.
fn leftover_source(path: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    let name = path.file_name()?.to_str()?;
    let (_, digest) = name.rsplit_once('-')?;
    let hex_named = digest.len() == 12 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    let locked = fs::symlink_metadata(path.join(LOCK_FILE)).is_ok_and(|m| m.is_file());
    if !hex_named || !locked || !fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return None;
    }
    match fs::read_to_string(path.join(SOURCE_FILE)) {
        Ok(text) => {
            let source = text.strip_suffix('\n').unwrap_or(&text);
            let ours = hex::encode(Sha256::digest(source.as_bytes()))[..12] == *digest;
            ours.then(|| source.to_string())
        }
        Err(_) => {
            let only_lock = fs::read_dir(path)
                .ok()?
                .flatten()
                .all(|e| e.file_name() == LOCK_FILE);
            only_lock.then(|| format!("(unknown source: {name})"))
        }
    }
}

/// The source of a folder with annexa's whole entry layout (a `source`
/// file, a `lock` file, a `repo` folder, and a name made from that source
/// by [`Source::cache_name`]); `None` for anything else, which annexa never
/// lists or removes.
pub fn entry_source(path: &Path) -> Option<String> {
    use sha2::{Digest, Sha256};
    let text = fs::read_to_string(path.join(SOURCE_FILE)).ok()?;
    let source = text.strip_suffix('\n').unwrap_or(&text);
    let layout_ok = fs::symlink_metadata(path.join(LOCK_FILE)).is_ok_and(|m| m.is_file())
        && fs::symlink_metadata(path.join(REPO_DIR)).is_ok_and(|m| m.is_dir());
    let digest = hex::encode(Sha256::digest(source.as_bytes()));
    let name = path.file_name()?.to_str()?;
    (layout_ok && name.ends_with(&format!("-{}", &digest[..12]))).then(|| source.to_string())
}

fn lock_entry(entry: &Path, access: Access, sink: &dyn Reporter) -> Result<File, DatasetError> {
    // An entry removed while this process waited (`cache clean`, a failed
    // clone) leaves it holding a lock on a deleted file: start over on
    // the entry's current lock file.
    loop {
        let file = lock_once(entry, access, sink)?;
        let path = entry.join(LOCK_FILE);
        let same = match (file.metadata(), fs::symlink_metadata(&path)) {
            (Ok(held), Ok(current)) => held.dev() == current.dev() && held.ino() == current.ino(),
            _ => false,
        };
        if same {
            return Ok(file);
        }
    }
}

fn lock_once(entry: &Path, access: Access, sink: &dyn Reporter) -> Result<File, DatasetError> {
    fs::create_dir_all(entry).map_err(|e| DatasetError::io(entry, e))?;
    let path = entry.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DatasetError::io(&path, e))?;
    let attempt = match access {
        Access::Shared => FileExt::try_lock_shared(&file),
        Access::Exclusive => FileExt::try_lock_exclusive(&file),
    };
    if attempt.is_err() {
        // A notice, not an activity: a batch job's log must show why it
        // waits.
        sink.notice(&format!(
            "waiting for another annexa process using {}",
            entry.display()
        ));
        let wait = match access {
            Access::Shared => FileExt::lock_shared(&file),
            Access::Exclusive => FileExt::lock_exclusive(&file),
        };
        wait.map_err(|e| DatasetError::io(&path, e))?;
    }
    Ok(file)
}

/// `git clone --no-checkout`, then `annex.private` before `git annex init`
/// so that the cache never records itself in the dataset's git-annex branch.
fn clone_into(source: &Source, entry: &Path, cache: &Cache) -> Result<(), DatasetError> {
    let sink = cache.reporter();
    let repo = entry.join(REPO_DIR);
    // An import refreshes a dataset in place (and keeps the content a
    // listed `get` fetched into it); only a clone starts afresh.
    if repo.exists() && !source.is_service() {
        make_writable(&repo)?;
        fs::remove_dir_all(&repo).map_err(|e| DatasetError::io(&repo, e))?;
    }
    fs::write(entry.join(SOURCE_FILE), format!("{}\n", source.as_str()))
        .map_err(|e| DatasetError::io(entry.join(SOURCE_FILE), e))?;
    if source.is_service() {
        super::import::import_into_cache(
            source.as_str(),
            &repo,
            sink,
            cache.endpoint(),
            Some(&entry.join(LISTING_FILE)),
        )?;
        return fs::write(entry.join(READY_FILE), b"")
            .map_err(|e| DatasetError::io(entry.join(READY_FILE), e));
    }
    sink.activity(&format!("cloning {} into the cache", source.as_str()));
    // `-c` at clone time writes both settings into the new repository's
    // config. Nothing is ever checked out here, so git-annex need not scan
    // the whole tree for unlocked files at init (that scan grows with the
    // dataset); keys are fetched by name.
    run(git(entry)
        .args(["clone", "--quiet", "--no-checkout"])
        .args([
            "-c",
            "annex.private=true",
            "-c",
            "annex.supportunlocked=false",
        ])
        .args(["--", source.as_str()])
        .arg(REPO_DIR))?;
    run(git(&repo).args(["annex", "init", "--quiet", "annexa cache"]))?;
    fs::write(entry.join(READY_FILE), b"").map_err(|e| DatasetError::io(entry.join(READY_FILE), e))
}

/// The cached copy of `repo` was just refreshed (see [`super::stale`]).
pub(super) fn mark_refreshed(repo: &Path) -> Result<(), DatasetError> {
    let Some(entry) = repo.parent() else {
        return Ok(());
    };
    let stamp = entry.join(READY_FILE);
    fs::write(&stamp, b"").map_err(|e| DatasetError::io(&stamp, e))
}

/// `chmod -R u+w` on directories (files need no write bit to be unlinked).
/// Never through a symbolic link, the root included: a link planted where
/// annexa expects its own folder must not make another tree writable.
pub fn make_writable(root: &Path) -> Result<(), DatasetError> {
    for item in walkdir::WalkDir::new(root)
        .follow_links(false)
        .follow_root_links(false)
    {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_default();
                return Err(DatasetError::io(path, e.into()));
            }
        };
        if item.file_type().is_dir() {
            let meta = item
                .metadata()
                .map_err(|e| DatasetError::io(item.path(), e.into()))?;
            let mode = meta.permissions().mode();
            if mode & 0o700 != 0o700 {
                fs::set_permissions(item.path(), fs::Permissions::from_mode(mode | 0o700))
                    .map_err(|e| DatasetError::io(item.path(), e))?;
            }
        }
    }
    Ok(())
}

fn disk_usage(root: &Path) -> u64 {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

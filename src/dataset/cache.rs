//! The cache: one private, no-checkout clone per dataset source, guarded by
//! a lock file so that concurrent `annexa` processes take turns.

use super::git::{git, run};
use super::{DatasetError, Source};
use fs2::FileExt;
use std::fs::{self, File, OpenOptions};
use std::io::IsTerminal;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const SOURCE_FILE: &str = "source";
const READY_FILE: &str = "ready";
const LOCK_FILE: &str = "lock";
const REPO_DIR: &str = "repo";
/// The recorded listing of a service source (see [`super::listed`]).
const LISTING_FILE: &str = "listing.jsonl";

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
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
        let root =
            match explicit {
                Some(dir) => dir.to_path_buf(),
                None => match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
                    Some(xdg) => PathBuf::from(xdg).join("annexa"),
                    None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                        Some(home) => PathBuf::from(home).join(".cache/annexa"),
                        None => return Err(DatasetError::Direct(
                            "no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache DIR"
                                .into(),
                        )),
                    },
                },
            };
        Ok(Cache { root })
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
        let lock = lock_entry(&entry, access)?;
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
        let lock = lock_entry(&entry, Access::Exclusive)?;
        if !entry.join(READY_FILE).exists() {
            clone_into(source, &entry)?;
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
        let lock = lock_entry(&entry, access)?;
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

    /// Every entry under the cache root.
    pub fn entries(&self) -> Result<Vec<CacheEntry>, DatasetError> {
        let mut entries = Vec::new();
        let Ok(dir) = fs::read_dir(&self.root) else {
            return Ok(entries);
        };
        for item in dir.flatten() {
            let path = item.path();
            let Some(source) = entry_source(&path) else {
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

    /// Removes one entry's content, waiting for any process that uses it.
    /// git-annex keeps objects read-only, so write permission is restored
    /// first. The lock file (and so the folder) stays: a process waiting
    /// for it would otherwise lock a deleted file while a newcomer locks a
    /// new one, and both would use the entry at once.
    pub fn remove_entry(&self, entry: &Path) -> Result<(), DatasetError> {
        if entry_source(entry).is_none() {
            return Err(DatasetError::Direct(format!(
                "{} is not an annexa cache entry; not removing it",
                entry.display()
            )));
        }
        let _lock = lock_entry(entry, Access::Exclusive)?;
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
        Ok(())
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

fn lock_entry(entry: &Path, access: Access) -> Result<File, DatasetError> {
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
        // Said also when stderr is not a terminal: a batch job's log must
        // show why it waits.
        eprintln!(
            "annexa: waiting for another annexa process using {}",
            entry.display()
        );
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
fn clone_into(source: &Source, entry: &Path) -> Result<(), DatasetError> {
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
        super::import::import_into_cache(source.as_str(), &repo, Some(&entry.join(LISTING_FILE)))?;
        return fs::write(entry.join(READY_FILE), b"")
            .map_err(|e| DatasetError::io(entry.join(READY_FILE), e));
    }
    if std::io::stderr().is_terminal() {
        eprintln!("annexa: cloning {} into the cache", source.as_str());
    }
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

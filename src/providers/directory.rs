//! `provider=directory`: keys and export trees in a local folder (a mounted
//! drive or network share). Small, but complete: it is also the provider
//! the protocol transcript tests run against, because it needs no server.

use crate::key::Key;
use crate::providers::KindInfo;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::import::{file_matches_key, ContentId, FindImported};
use super::{
    Annex, Availability, Capabilities, ConfigSpec, ExportPath, ExportTree, ExportedFile,
    ImportSink, ImportableFile, KeyLayout, Provider, ProviderError, ProviderKind, Result,
};

const CONFIGS: &[ConfigSpec] = &[ConfigSpec {
    name: "directory",
    description: "(provider=directory) folder that holds the content",
}];

const INFO: KindInfo = KindInfo {
    name: "directory",
    configs: CONFIGS,
    capabilities: Capabilities {
        export: true,
        claim_urls: false,
        import: true,
    },
};

pub struct DirectoryKind;

#[async_trait]
impl ProviderKind for DirectoryKind {
    async fn initremote(&self, annex: &dyn Annex) -> Result<()> {
        let root = root(annex).await?;
        tokio::fs::create_dir_all(&root).await?;
        Ok(())
    }

    async fn prepare(&self, annex: &dyn Annex) -> Result<Arc<dyn Provider>> {
        // A folder that is missing now (an unplugged drive, an unmounted
        // share) is not a configuration error: the remote is unavailable,
        // which a newer git-annex is told (AVAILABILITY UNAVAILABLE) and
        // every operation says until the folder is back.
        Ok(Arc::new(DirectoryRemote {
            root: root(annex).await?,
        }))
    }

    fn info(&self) -> &'static KindInfo {
        &INFO
    }
}

async fn root(annex: &dyn Annex) -> Result<PathBuf> {
    match annex.get_config("directory").await? {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => Err(ProviderError::Config(
            "directory=PATH is required for provider=directory".into(),
        )),
    }
}

pub struct DirectoryRemote {
    root: PathBuf,
}

impl DirectoryRemote {
    /// Fails while the folder is missing: writing would otherwise create
    /// the mount point's path on the disk below it, and "absent" would be
    /// claimed for everything.
    fn mounted(&self) -> Result<()> {
        if self.root.is_dir() {
            return Ok(());
        }
        Err(ProviderError::Transient {
            message: format!(
                "directory {} does not exist (is the drive mounted?)",
                self.root.display()
            ),
            source: None,
        })
    }

    fn key_path(&self, key: &Key) -> Result<PathBuf> {
        self.mounted()?;
        Ok(self
            .root
            .join(KeyLayout::DirHash.object_name(key.as_str())?))
    }

    /// Where the file at `path` of the tree is, once the folder is there.
    fn export_path(&self, path: &ExportPath) -> Result<PathBuf> {
        self.mounted()?;
        Ok(self.root.join(path.as_str()))
    }
}

/// Copies `src` to `dest` through a temporary file in the same folder, so
/// a reader never sees a partial file under the final name.
async fn copy_atomically(src: &Path, dest: &Path, annex: &dyn Annex) -> Result<()> {
    let parent = dest
        .parent()
        .ok_or_else(|| ProviderError::InvalidName("destination has no folder".into()))?;
    tokio::fs::create_dir_all(parent).await?;
    // Unique per call: ASYNC jobs of one process may store at once.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = parent.join(format!(
        ".annexa-tmp-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        dest.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let result = copy_from(src, &tmp, 0, annex).await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    tokio::fs::rename(&tmp, dest).await?;
    Ok(())
}

/// Copies `src` into `dest` from byte `offset` on (resume), with progress.
async fn copy_from(src: &Path, dest: &Path, offset: u64, annex: &dyn Annex) -> Result<()> {
    let mut input = tokio::fs::File::open(src).await?;
    let mut output = tokio::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dest)
        .await?;
    output.set_len(offset).await?;
    output.seek(SeekFrom::Start(offset)).await?;
    input.seek(SeekFrom::Start(offset)).await?;
    let mut buf = vec![0u8; 1 << 20];
    let mut done = offset;
    loop {
        let n = input.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        output.write_all(&buf[..n]).await?;
        done += n as u64;
        annex.progress(done);
    }
    output.flush().await?;
    output.sync_data().await?;
    Ok(())
}

/// Retrieves into `dest`, keeping a prefix left by an interrupted attempt
/// when it is not longer than the source.
async fn retrieve_file(src: &Path, dest: &Path, annex: &dyn Annex) -> Result<()> {
    let source_len = match tokio::fs::metadata(src).await {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ProviderError::NotFound {
                message: format!("{} is not in the directory", src.display()),
                source: Some(Box::new(e)),
            })
        }
        Err(e) => return Err(e.into()),
    };
    let existing = tokio::fs::metadata(dest)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let offset = if existing <= source_len { existing } else { 0 };
    copy_from(src, dest, offset, annex).await
}

async fn exists(path: &Path) -> Result<bool> {
    match tokio::fs::metadata(path).await {
        Ok(m) => Ok(m.is_file()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn remove_if_present(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl Provider for DirectoryRemote {
    async fn store(&self, key: &Key, src: &Path, annex: &dyn Annex) -> Result<()> {
        copy_atomically(src, &self.key_path(key)?, annex).await
    }

    async fn retrieve(&self, key: &Key, dest: &Path, annex: &dyn Annex) -> Result<()> {
        retrieve_file(&self.key_path(key)?, dest, annex).await
    }

    async fn check_present(&self, key: &Key, _annex: &dyn Annex) -> Result<bool> {
        exists(&self.key_path(key)?).await
    }

    async fn remove(&self, key: &Key, _annex: &dyn Annex) -> Result<()> {
        remove_if_present(&self.key_path(key)?).await
    }

    async fn whereis(&self, key: &Key, _annex: &dyn Annex) -> Option<String> {
        self.key_path(key).ok().map(|p| p.display().to_string())
    }

    fn cost(&self) -> u32 {
        // git-annex's cost for local, cheap remotes.
        100
    }

    fn availability(&self) -> Availability {
        if self.root.is_dir() {
            Availability::Local
        } else {
            Availability::Unavailable
        }
    }

    fn info(&self) -> Vec<(String, String)> {
        vec![("directory".into(), self.root.display().to_string())]
    }

    fn import(&self) -> Option<&dyn super::ImportTree> {
        Some(self)
    }

    fn export(&self) -> Option<&dyn ExportTree> {
        Some(self)
    }
}

#[async_trait]
impl ExportTree for DirectoryRemote {
    async fn store_export(&self, file: ExportedFile<'_>, src: &Path) -> Result<()> {
        copy_atomically(src, &self.export_path(file.path)?, file.annex).await
    }

    async fn retrieve_export(&self, file: ExportedFile<'_>, dest: &Path) -> Result<()> {
        retrieve_file(&self.export_path(file.path)?, dest, file.annex).await
    }

    async fn check_present_export(&self, file: ExportedFile<'_>) -> Result<bool> {
        exists(&self.export_path(file.path)?).await
    }

    async fn remove_export(&self, file: ExportedFile<'_>) -> Result<()> {
        remove_if_present(&self.export_path(file.path)?).await
    }

    async fn remove_export_directory(&self, dir: &ExportPath, _annex: &dyn Annex) -> Result<()> {
        match tokio::fs::remove_dir_all(self.export_path(dir)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn rename_export(&self, file: ExportedFile<'_>, to: &ExportPath) -> Result<()> {
        let to = self.export_path(to)?;
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(self.export_path(file.path)?, to).await?;
        Ok(())
    }
}

/// A local file's content id: no published checksum (the content is
/// hashed), and size, modification time and inode as its version, which
/// change whenever the file is rewritten.
fn local_content_id(meta: &std::fs::Metadata) -> ContentId {
    use std::os::unix::fs::MetadataExt;
    ContentId::new(
        format!(
            "{}-{}.{}-{}",
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ino()
        ),
        None,
    )
}

#[async_trait]
impl FindImported for DirectoryRemote {
    type Found = PathBuf;

    /// Walks the folder depth first with a stack of folders still to read
    /// (memory grows with the depth and one folder's entries, not with the
    /// tree). Symlinks are never followed; annexa's own temporary files are
    /// left out.
    async fn list_files(&self, sink: &mut dyn ImportSink, _annex: &dyn Annex) -> Result<()> {
        self.mounted()?;
        let mut pending = vec![String::new()];
        while let Some(dir) = pending.pop() {
            let full = if dir.is_empty() {
                self.root.clone()
            } else {
                self.root.join(&dir)
            };
            let mut entries = tokio::fs::read_dir(&full).await?;
            let mut names = Vec::new();
            while let Some(entry) = entries.next_entry().await? {
                names.push(entry);
            }
            names.sort_by_key(|e| e.file_name());
            for entry in names.into_iter().rev() {
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    sink.skipped(
                        &entry.file_name().to_string_lossy(),
                        "the name is not UTF-8",
                    );
                    continue;
                };
                if name.starts_with(".annexa-tmp-") {
                    continue;
                }
                let path = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let meta = tokio::fs::symlink_metadata(entry.path()).await?;
                if meta.is_dir() {
                    pending.push(path);
                } else if meta.is_file() {
                    sink.found(ImportableFile {
                        path,
                        size: meta.len(),
                        id: local_content_id(&meta),
                        url: None,
                    })?;
                } else {
                    sink.skipped(&path, "not a regular file (a symlink or special file)");
                }
            }
        }
        Ok(())
    }

    /// The regular file at an imported path, never through a symlink:
    /// `None` when absent or not a plain file.
    async fn find_imported(&self, path: &ExportPath) -> Result<Option<(PathBuf, ImportableFile)>> {
        let full = self.export_path(path)?;
        let mut at = self.root.clone();
        for part in path.split('/') {
            at.push(part);
            match tokio::fs::symlink_metadata(&at).await {
                Ok(m) if m.file_type().is_symlink() => return Ok(None),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        let meta = tokio::fs::symlink_metadata(&full).await?;
        if !meta.is_file() {
            return Ok(None);
        }
        let file = ImportableFile {
            path: path.to_string(),
            size: meta.len(),
            id: local_content_id(&meta),
            url: None,
        };
        Ok(Some((full, file)))
    }

    fn import_source(&self) -> String {
        self.root.display().to_string()
    }

    async fn download_imported(
        &self,
        full: &PathBuf,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        retrieve_file(full, dest, annex).await
    }

    async fn found_matches_key(&self, path: &ExportPath, key: &Key) -> Result<bool> {
        let Some((full, file)) = self.find_imported(path).await? else {
            return Ok(false);
        };
        if !file_matches_key(&file, key) {
            return Ok(false);
        }
        // A local file is cheap to read: a rewrite of the same size is
        // caught by the key's own checksum.
        match key.checksum() {
            Some(want) => Ok(super::import::hash_file(&full, want.algorithm).await? == want.hex),
            None => Ok(true),
        }
    }
}

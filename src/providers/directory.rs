//! `provider=directory`: keys and export trees in a local folder (a mounted
//! drive or network share). Small, but complete: it is also the provider
//! the protocol transcript tests run against, because it needs no server.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{
    check_export_path, Annex, Availability, Capabilities, ConfigSpec, ExportTree, KeyLayout,
    Provider, ProviderError, ProviderKind, Result,
};

const CONFIGS: &[ConfigSpec] = &[ConfigSpec {
    name: "directory",
    description: "(provider=directory) folder that holds the content",
}];

pub struct DirectoryKind;

#[async_trait]
impl ProviderKind for DirectoryKind {
    fn name(&self) -> &'static str {
        "directory"
    }

    fn configs(&self) -> &'static [ConfigSpec] {
        CONFIGS
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            export: true,
            claim_urls: false,
            import: false,
        }
    }

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

    fn key_path(&self, key: &str) -> Result<PathBuf> {
        self.mounted()?;
        Ok(self.root.join(KeyLayout::DirHash.object_name(key)?))
    }

    fn export_path(&self, name: &str) -> Result<PathBuf> {
        check_export_path(name)?;
        self.mounted()?;
        Ok(self.root.join(name))
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
    async fn store(&self, key: &str, src: &Path, annex: &dyn Annex) -> Result<()> {
        copy_atomically(src, &self.key_path(key)?, annex).await
    }

    async fn retrieve(&self, key: &str, dest: &Path, annex: &dyn Annex) -> Result<()> {
        retrieve_file(&self.key_path(key)?, dest, annex).await
    }

    async fn check_present(&self, key: &str, _annex: &dyn Annex) -> Result<bool> {
        exists(&self.key_path(key)?).await
    }

    async fn remove(&self, key: &str, _annex: &dyn Annex) -> Result<()> {
        remove_if_present(&self.key_path(key)?).await
    }

    async fn whereis(&self, key: &str, _annex: &dyn Annex) -> Option<String> {
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

    fn export(&self) -> Option<&dyn ExportTree> {
        Some(self)
    }
}

#[async_trait]
impl ExportTree for DirectoryRemote {
    async fn store_export(
        &self,
        name: &str,
        _key: &str,
        src: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        copy_atomically(src, &self.export_path(name)?, annex).await
    }

    async fn retrieve_export(
        &self,
        name: &str,
        _key: &str,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        retrieve_file(&self.export_path(name)?, dest, annex).await
    }

    async fn check_present_export(
        &self,
        name: &str,
        _key: &str,
        _annex: &dyn Annex,
    ) -> Result<bool> {
        exists(&self.export_path(name)?).await
    }

    async fn remove_export(&self, name: &str, _key: &str, _annex: &dyn Annex) -> Result<()> {
        remove_if_present(&self.export_path(name)?).await
    }

    async fn remove_export_directory(&self, dir: &str, _annex: &dyn Annex) -> Result<()> {
        let path = self.export_path(dir)?;
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn rename_export(
        &self,
        name: &str,
        _key: &str,
        new_name: &str,
        _annex: &dyn Annex,
    ) -> Result<()> {
        let to = self.export_path(new_name)?;
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(self.export_path(name)?, to).await?;
        Ok(())
    }
}

//! `provider=dataverse`: keys, export trees and URLs of a Dataverse dataset.
//!
//! - Key mode: each key is a file `ROOT/xxx/yyy/KEY` in the dataset's draft
//!   (DIRHASH-style folders, names made safe by [`naming`]). The file id is
//!   kept in git-annex's per-key state, so a retrieval goes straight to the
//!   download. Presence is looked up in every version, draft and published.
//! - Export mode (`exporttree=yes`): the tree under ROOT with its own names.
//! - URL mode: Dataverse download URLs and file PIDs are claimed, so
//!   `git annex addurl` keys are fetched through annexa, with the token.
//! - Import (`importtree=yes`): the latest version's files as a tree, keyed
//!   by Dataverse's checksums ([`import`]).
//!
//! Published files stay downloadable whatever happens to the draft, so a
//! REMOVE of a published key fails instead of pretending.

mod api;
mod config;
mod error;
mod export;
mod import;
pub mod naming;
mod urls;
mod zipwrap;

use crate::providers::token::{TokenService, TokenSource};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

#[doc(hidden)]
pub(crate) use api::fuzz_answers;
pub use api::{FileMetadata, FileRef, Token};
pub use error::DvError;

use self::api::{Api, NewFile};
use self::config::{ADDRESS, CONFIGS};
use super::file_state::{FileState, StateFormat};
use super::service_api::{self, ApiAccess, DownloadTo, ServiceInfo, ServiceKind, ServiceRemote};
use super::{hashdir_lower, Annex, ExportPath, Provider, ProviderError, Result};
use crate::key::Key;
use crate::transfer::{Expected, ProgressFn};

/// The first release whose file metadata API moves a file to the top
/// folder when given an empty `directoryLabel`.
const MOVE_TO_TOP: api::ServerVersion = api::ServerVersion::new(6, 8);

/// The oldest Dataverse release whose answers annexa knows (and tests).
const OLDEST_SUPPORTED: api::ServerVersion = api::ServerVersion::new(6, 1);

/// The environment variable that holds the API token.
pub const TOKEN_ENV: &str = "DATAVERSE_API_KEY";
/// git-annex's credential slot for the token.
const CREDS: &str = "dataverse";

pub type DataverseKind = ServiceKind<DataverseRemote>;

/// Where the token comes from: the environment wins over what git-annex stored.
const TOKEN: TokenSource = TokenSource::new(TokenService::Dataverse, TOKEN_ENV, CREDS, api::SCHEME);
const INFO: ServiceInfo = ServiceInfo::new("dataverse", CONFIGS, TOKEN, ADDRESS);

/// What annexa remembers of a stored key: its file's id, size and checksum.
const STATE: StateFormat = StateFormat("dv1");

fn state_of(f: &FileMetadata) -> FileState {
    FileState {
        id: f.data_file.id,
        size: f.data_file.content_size(),
        checksum: f.data_file.expected(),
    }
}

pub struct DataverseRemote {
    api: Api,
    root: String,
    skip_checksum: bool,
    /// Listings of published versions, by version name.
    published: tokio::sync::Mutex<HashMap<String, Arc<Vec<FileMetadata>>>>,
    /// The files of the latest version (the draft), listed once and kept
    /// up to date by this process's own writes; see [`LatestFiles`].
    latest: tokio::sync::Mutex<Option<LatestFiles>>,
}

impl ServiceRemote for DataverseRemote {
    const INFO: &'static ServiceInfo = &INFO;

    async fn open(annex: &dyn Annex, api: ApiAccess) -> Result<Self> {
        let s = config::settings(annex).await?;
        let api = Api::new(api.client, api.url, s.pid, api.token, s.lock_wait);
        // Which release answers decides how some answers are read; asked
        // again on first need if the installation cannot be reached now.
        if let Err(e) = api.server_version().await {
            annex.debug(&format!("Dataverse version not known yet: {e}"));
        }
        Ok(Self {
            api,
            root: s.root,
            skip_checksum: s.skip_checksum,
            published: Default::default(),
            latest: Default::default(),
        })
    }

    async fn set_up(&self, _: &dyn Annex) -> Result<String> {
        if let Some(v) = self.api.server_version().await? {
            if v < OLDEST_SUPPORTED {
                return Err(ProviderError::Config(format!(
                    "{} runs Dataverse {v}; annexa supports Dataverse {OLDEST_SUPPORTED} and \
                     newer (docs/dataverse.md), where its answers are known",
                    self.api.base()
                )));
            }
        }
        self.api.check_token().await?;
        self.api.check_dataset().await?;
        Ok(format!("read published files of {}", self.api.pid()))
    }
}

/// The listing cache of the latest version, shared by all jobs of this
/// process, so that exporting N files costs N uploads and one listing
/// instead of a listing per file.
///
/// Other processes (another clone, the web interface) may change the
/// dataset meanwhile, so the cache is only a hint:
/// - Store paths act on it: a stale "absent" makes Dataverse rename the
///   new upload, which [`DataverseRemote::upload_new`] notices and settles
///   with a fresh listing; a cached file is checked on the server before it
///   is replaced, deleted or renamed (a file moved elsewhere must not be
///   touched), and a file that is gone (404) drops the cache for one
///   re-listing.
/// - CHECKPRESENT never answers from it, neither "present" (git-annex could
///   drop another copy on the strength of a file that is gone) nor
///   "absent": it answers from a listing begun after the request arrived
///   ([`DataverseRemote::find_fresh`]; concurrent checks share one).
struct LatestFiles {
    /// When the listing began: it shows every change made before.
    listed_at: Instant,
    /// Linear lookups keep `is_at`'s rules (tabular files answer to their
    /// original name); a few thousand comparisons cost far less than a
    /// request.
    files: Vec<FileMetadata>,
}

impl LatestFiles {
    fn find(&self, folder: &str, label: &str) -> Option<FileMetadata> {
        self.files.iter().find(|f| f.is_at(folder, label)).cloned()
    }

    fn remove(&mut self, id: u64) {
        self.files.retain(|f| f.data_file.id != id);
    }

    /// Adds `f` as the server answered it, in place of `replaced`.
    fn put(&mut self, f: FileMetadata, replaced: Option<u64>) {
        self.remove(f.data_file.id);
        if let Some(old) = replaced {
            self.remove(old);
        }
        self.files.push(f);
    }
}

impl DataverseRemote {
    /// Folder and file name of a key in key mode.
    fn key_location(&self, key: &Key) -> (String, String) {
        let folder = naming::join_folders(&[
            &self.root,
            hashdir_lower(key.as_str()).trim_end_matches('/'),
        ]);
        (folder, naming::encode_file(key.as_str()))
    }

    fn export_location(&self, path: &ExportPath) -> (String, String) {
        naming::export_location(&self.root, path)
    }

    /// The file at folder/label in the newest version this user can see
    /// (the draft when there is one), from the listing cache (listed on
    /// first use). May be stale: see [`LatestFiles`].
    async fn find_latest(&self, folder: &str, label: &str) -> Result<Option<FileMetadata>> {
        let cache = self.latest_listing(None).await?;
        Ok(cache.as_ref().and_then(|c| c.find(folder, label)))
    }

    /// Like [`Self::find_latest`], from a listing begun at or after `since`.
    async fn find_fresh(
        &self,
        folder: &str,
        label: &str,
        since: Instant,
    ) -> Result<Option<FileMetadata>> {
        let cache = self.latest_listing(Some(since)).await?;
        Ok(cache.as_ref().and_then(|c| c.find(folder, label)))
    }

    /// The cache, listed when empty or older than `since`. The lock is held
    /// while listing, so jobs that need it at once wait for one listing.
    async fn latest_listing(
        &self,
        since: Option<Instant>,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<LatestFiles>>> {
        let mut cache = self.latest.lock().await;
        let fresh_enough = match (cache.as_ref(), since) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(c), Some(t)) => c.listed_at >= t,
        };
        if !fresh_enough {
            let listed_at = Instant::now();
            let files = self.api.files(":latest").await?.unwrap_or_default();
            *cache = Some(LatestFiles { listed_at, files });
        }
        Ok(cache)
    }

    /// The cached file at folder/label, checked on the server to be still
    /// there; else the answer of a fresh listing. For acting on a file id
    /// (replace, delete, rename, download).
    async fn find_current(&self, folder: &str, label: &str) -> Result<Option<FileMetadata>> {
        let since = Instant::now();
        if let Some(f) = self.find_latest(folder, label).await? {
            match self.api.file(&FileRef::Id(f.data_file.id)).await {
                Ok(now) if now.is_at(folder, label) => return Ok(Some(f)),
                Ok(_) | Err(DvError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.find_fresh(folder, label, since).await
    }

    /// Records this process's own write: `f` as the server answered it,
    /// in place of file `replaced`.
    async fn cache_put(&self, f: &FileMetadata, replaced: Option<u64>) {
        if let Some(c) = self.latest.lock().await.as_mut() {
            c.put(f.clone(), replaced);
        }
    }

    async fn drop_cache(&self) {
        *self.latest.lock().await = None;
    }

    async fn cache_remove(&self, id: u64) {
        if let Some(c) = self.latest.lock().await.as_mut() {
            c.remove(id);
        }
    }

    async fn cache_rename(&self, id: u64, to: &NewFile<'_>) {
        if let Some(c) = self.latest.lock().await.as_mut() {
            if let Some(f) = c.files.iter_mut().find(|f| f.data_file.id == id) {
                f.label = to.label.to_string();
                f.directory_label = Some(to.folder.to_string()).filter(|d| !d.is_empty());
            }
        }
    }

    /// The files of a published version; published versions never
    /// change, so each is listed once per process.
    async fn published_files(&self, version: &str) -> Result<Arc<Vec<FileMetadata>>> {
        if let Some(files) = self.published.lock().await.get(version) {
            return Ok(files.clone());
        }
        let files = Arc::new(self.api.files(version).await?.unwrap_or_default());
        self.published
            .lock()
            .await
            .insert(version.to_string(), files.clone());
        Ok(files)
    }

    /// Published versions that hold folder/label (or file `id`), newest first.
    async fn find_published(
        &self,
        folder: &str,
        label: &str,
        id: Option<u64>,
    ) -> Result<Vec<(String, FileMetadata)>> {
        let mut out = Vec::new();
        for v in self.api.versions().await? {
            if v.is_draft() {
                continue;
            }
            let name = v.api_name();
            let files = self.published_files(&name).await?;
            if let Some(f) = files
                .iter()
                .find(|f| f.is_at(folder, label) || Some(f.data_file.id) == id)
            {
                out.push((name, f.clone()));
            }
        }
        Ok(out)
    }

    /// The file remembered for `key`, if it is still where the key belongs.
    async fn remembered(
        &self,
        key: &Key,
        folder: &str,
        label: &str,
        annex: &dyn Annex,
    ) -> Result<Option<FileMetadata>> {
        let Some(state) = STATE.read(annex, key).await? else {
            return Ok(None);
        };
        match self.api.file(&FileRef::Id(state.id)).await {
            Ok(f) if f.is_at(folder, label) => Ok(Some(f)),
            Ok(_) | Err(DvError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn checksum_for(&self, f: &FileMetadata) -> Option<Expected> {
        if self.skip_checksum {
            None
        } else {
            f.data_file.expected()
        }
    }

    /// File `f`'s bytes into `dest`, checked against what `f` says of them.
    fn download_to<'a>(
        &self,
        f: &FileMetadata,
        dest: &'a Path,
        progress: &'a ProgressFn<'a>,
    ) -> DownloadTo<'a> {
        let size = f.data_file.content_size();
        DownloadTo::new(dest, size, self.checksum_for(f), progress)
    }

    async fn download_file(&self, f: &FileMetadata, dest: &Path, annex: &dyn Annex) -> Result<()> {
        let progress = |b| annex.progress(b);
        let to = self.download_to(f, dest, &progress);
        self.api.download(&FileRef::Id(f.data_file.id), &to).await?;
        Ok(())
    }

    /// Downloads the file at folder/label of the latest version; false if
    /// there is none. A file that is gone (404) drops the cache, and the
    /// name is looked up once more.
    async fn download_latest(
        &self,
        folder: &str,
        label: &str,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<bool> {
        // No check first: the download itself shows whether the id is gone.
        let since = Instant::now();
        let cached = self.find_latest(folder, label).await?;
        let found = match cached {
            Some(f) => Some(f),
            None => self.find_fresh(folder, label, since).await?,
        };
        let Some(mut f) = found else {
            return Ok(false);
        };
        let mut retried = false;
        let progress = |b| annex.progress(b);
        loop {
            let to = self.download_to(&f, dest, &progress);
            let result = self.api.download(&FileRef::Id(f.data_file.id), &to).await;
            match result {
                Ok(()) => return Ok(true),
                Err(DvError::NotFound(_)) if !retried => {
                    retried = true;
                    self.drop_cache().await;
                    match self.find_latest(folder, label).await? {
                        Some(again) => f = again,
                        None => return Ok(false),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Uploads as folder/label and checks what Dataverse made of it. If a
    /// same-named file appeared meanwhile (Dataverse then renames ours to
    /// `name-1.ext`), ours is deleted and the existing one is used: the
    /// answer's flag is false then.
    async fn upload_new(
        &self,
        folder: &str,
        label: &str,
        src: &Path,
        replace: Option<u64>,
        annex: &dyn Annex,
    ) -> Result<(FileMetadata, bool)> {
        let size = tokio::fs::metadata(src).await?.len();
        let new = NewFile { folder, label };
        let progress = |b| annex.progress(b);
        let stored = match replace {
            None => self.api.add(&new, src, &progress).await?,
            Some(id) => match self.api.replace(id, &new, src, &progress).await {
                // Gone meanwhile: the cache is stale, and the name is free.
                Err(DvError::NotFound(_)) => {
                    self.drop_cache().await;
                    self.api.add(&new, src, &progress).await?
                }
                other => other?,
            },
        };
        // A listing begun from now on shows whatever made Dataverse rename it.
        let since = Instant::now();
        self.cache_put(&stored, replace).await;
        if stored.data_file.content_size().is_some_and(|s| s != size) {
            if self.api.delete(stored.data_file.id).await.is_ok() {
                self.cache_remove(stored.data_file.id).await;
            }
            return Err(ProviderError::integrity(format!(
                "Dataverse stored {} bytes of {label} instead of {size}; the upload was deleted, try again",
                stored.data_file.content_size().unwrap_or(0)
            )));
        }
        // Every stored file is checked against the local bytes (a ZIP
        // unpacked by Dataverse or a broken transfer would differ).
        if let Some(expected) = stored.data_file.expected() {
            if !stored.data_file.tabular_data
                && crate::providers::import::hash_file(src, expected.algorithm).await?
                    != expected.hex
            {
                if self.api.delete(stored.data_file.id).await.is_ok() {
                    self.cache_remove(stored.data_file.id).await;
                }
                return Err(ProviderError::integrity(format!(
                    "Dataverse's {} checksum of {label} differs from the local file's; the \
                     upload was deleted, try again",
                    expected.algorithm
                )));
            }
        }
        if !stored.is_at(folder, label) {
            annex.debug(&format!(
                "Dataverse named the upload {:?}: a file {label:?} already exists",
                stored.label
            ));
            // The cache did not know that file: list again.
            if let Some(existing) = self.find_fresh(folder, label, since).await? {
                if existing.data_file.id != stored.data_file.id {
                    self.api.delete(stored.data_file.id).await?;
                    self.cache_remove(stored.data_file.id).await;
                    return Ok((existing, false));
                }
            }
        }
        Ok((stored, true))
    }

    async fn remember(&self, key: &Key, f: &FileMetadata, annex: &dyn Annex) -> Result<()> {
        STATE.write(annex, key, &state_of(f)).await
    }

    /// Files named by the URLs git-annex recorded for the key (URL mode).
    async fn claimed_files(&self, key: &Key, annex: &dyn Annex) -> Result<Vec<FileRef>> {
        let urls = annex.get_urls(key.as_str(), "").await?;
        Ok(urls
            .iter()
            .filter_map(|u| urls::parse(u, self.api.base(), self.api.pid()))
            .collect())
    }
}

/// Whether the Dataverse file can be the content of `key`: sizes agree and,
/// when both name the same algorithm, so do checksums. Chunk keys carry
/// neither, so any file under their name is taken.
fn matches_key(f: &FileMetadata, key: &Key) -> bool {
    key.could_be(f.data_file.content_size(), f.data_file.expected().as_ref())
}

/// Whether Dataverse's file `f` holds the bytes of `src` (never for an
/// ingested table, whose checksum is of another form).
async fn same_content(f: &FileMetadata, src: &Path) -> Result<bool> {
    let size = tokio::fs::metadata(src).await?.len();
    Ok(match (f.data_file.content_size(), f.data_file.expected()) {
        (Some(s), Some(c)) if s == size && !f.data_file.tabular_data => {
            crate::providers::import::hash_file(src, c.algorithm).await? == c.hex
        }
        _ => false,
    })
}

#[async_trait]
impl Provider for DataverseRemote {
    async fn store(&self, key: &Key, src: &Path, annex: &dyn Annex) -> Result<()> {
        let (folder, label) = self.key_location(key);
        let pinned = key.identifies_content();
        if let Some(existing) = self.remembered(key, &folder, &label, annex).await? {
            if pinned || same_content(&existing, src).await? {
                return self.remember(key, &existing, annex).await;
            }
        }
        if !pinned {
            // A key naming no content (datalad-annex's refs) may hold older
            // content under its name, in the draft or carried over from a
            // published version: the new content replaces it.
            if let Some(existing) = self.find_current(&folder, &label).await? {
                if same_content(&existing, src).await? {
                    return self.remember(key, &existing, annex).await;
                }
                let (f, _) = self
                    .upload_new(&folder, &label, src, Some(existing.data_file.id), annex)
                    .await?;
                return self.remember(key, &f, annex).await;
            }
        }
        // No listing first: a key stored before (without state) shows up as
        // a renamed duplicate, which upload_new deletes again.
        let f = match self.upload_new(&folder, &label, src, None, annex).await {
            Ok((f, _)) => f,
            // Installations that refuse duplicate content reject the
            // upload: if the key's file is there (in a new listing: the cache
            // did not know it), that is the key stored.
            Err(
                refused @ (ProviderError::AlreadyExists { .. }
                | ProviderError::Conflict { .. }
                | ProviderError::Service { .. }),
            ) => match self.find_fresh(&folder, &label, Instant::now()).await? {
                Some(f) if matches_key(&f, key) => f,
                _ => return Err(refused),
            },
            Err(e) => return Err(e),
        };
        self.remember(key, &f, annex).await
    }

    async fn retrieve(&self, key: &Key, dest: &Path, annex: &dyn Annex) -> Result<()> {
        // Fast path: the id and checksum remembered at store time.
        if let Some(state) = STATE.read(annex, key).await? {
            let checksum = if self.skip_checksum {
                None
            } else {
                state.checksum.clone()
            };
            let progress = |b| annex.progress(b);
            let to = DownloadTo::new(dest, state.size, checksum, &progress);
            match self.api.download(&FileRef::Id(state.id), &to).await {
                Ok(()) => return Ok(()),
                Err(DvError::NotFound(_)) => annex.debug(&format!(
                    "file {} is gone; looking the key up by name",
                    state.id
                )),
                Err(e) => return Err(e.into()),
            }
        }
        let (folder, label) = self.key_location(key);
        if self.download_latest(&folder, &label, dest, annex).await? {
            return Ok(());
        }
        if let Some((_, f)) = self
            .find_published(&folder, &label, None)
            .await?
            .into_iter()
            .next()
        {
            return self.download_file(&f, dest, annex).await;
        }
        // URL mode: the first recorded Dataverse URL whose file still exists.
        let mut last_error = None;
        for file in self.claimed_files(key, annex).await? {
            let meta = match self.api.file(&file).await {
                Ok(meta) => meta,
                Err(e @ DvError::NotFound(_)) => {
                    last_error = Some(e);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let progress = |b| annex.progress(b);
            let to = self.download_to(&meta, dest, &progress);
            self.api.download(&file, &to).await?;
            return Ok(());
        }
        Err(ProviderError::not_found_after(last_error, || {
            format!(
                "{key} is not in dataset {} (neither in the draft nor in a published version)",
                self.api.pid()
            )
        }))
    }

    async fn check_present(&self, key: &Key, annex: &dyn Annex) -> Result<bool> {
        let (folder, label) = self.key_location(key);
        if self
            .remembered(key, &folder, &label, annex)
            .await?
            .is_some()
        {
            return Ok(true);
        }
        // Never from the cache: see LatestFiles.
        if self
            .find_fresh(&folder, &label, Instant::now())
            .await?
            .is_some()
        {
            return Ok(true);
        }
        if !self.find_published(&folder, &label, None).await?.is_empty() {
            return Ok(true);
        }
        for file in self.claimed_files(key, annex).await? {
            match self.api.file(&file).await {
                Ok(_) => return Ok(true),
                Err(DvError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    async fn remove(&self, key: &Key, annex: &dyn Annex) -> Result<()> {
        let (folder, label) = self.key_location(key);
        let remembered = STATE.read(annex, key).await?;
        let id = remembered.as_ref().map(|s| s.id);
        // A published file is kept by Dataverse whatever we do; refusing
        // keeps git-annex from counting it gone. A key naming no content
        // (datalad-annex's refs, replaced on every push) is not that file:
        // removing it from the draft is what the caller asks.
        let pinned = key.identifies_content();
        let published = if pinned {
            self.find_published(&folder, &label, id).await?
        } else {
            Vec::new()
        };
        if !published.is_empty() {
            let versions: Vec<&str> = published.iter().map(|(v, _)| v.as_str()).collect();
            return Err(ProviderError::conflict(format!(
                "cannot remove {key}: it is in published version {} of dataset {}, and Dataverse keeps \
                 published files downloadable, so the content stays there. Only the installation's \
                 administrators can destroy published files; to make git-annex stop counting this \
                 copy anyway, use `git annex setpresentkey {key} <remote uuid> 0`",
                versions.join(", "),
                self.api.pid()
            )));
        }
        let target = match id {
            Some(id) => match self.api.file(&FileRef::Id(id)).await {
                Ok(f) if f.is_at(&folder, &label) => Some(f),
                Ok(_) | Err(DvError::NotFound(_)) => self.find_current(&folder, &label).await?,
                Err(e) => return Err(e.into()),
            },
            None => self.find_current(&folder, &label).await?,
        };
        if let Some(f) = target {
            match self.api.delete(f.data_file.id).await {
                Ok(()) | Err(DvError::NotFound(_)) => self.cache_remove(f.data_file.id).await,
                Err(e) => {
                    // The answer may be lost after Dataverse deleted the
                    // file (a reset or a cut JSON body): ask again before
                    // reporting a failure that did not happen.
                    match self.api.file(&FileRef::Id(f.data_file.id)).await {
                        Err(DvError::NotFound(_)) => self.cache_remove(f.data_file.id).await,
                        _ => return Err(e.into()),
                    }
                }
            }
        }
        STATE.forget(annex, key, &remembered).await
    }

    async fn whereis(&self, key: &Key, annex: &dyn Annex) -> Option<String> {
        let id = STATE.read(annex, key).await.ok().flatten()?.id;
        let mut url = self.api.access_url(&FileRef::Id(id));
        url.set_query(None);
        Some(url.to_string())
    }

    fn info(&self) -> Vec<(String, String)> {
        vec![
            ("dataverse".into(), self.api.base().to_string()),
            ("dataset".into(), self.api.pid().to_string()),
            ("root path".into(), naming::decode(&self.root)),
            service_api::token_row(self.api.has_token()),
        ]
    }

    provides_every_capability!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_files_follow_our_writes() {
        let file = |id: u64, dir: &str, label: &str| -> FileMetadata {
            serde_json::from_value(serde_json::json!({
                "label": label, "directoryLabel": dir, "dataFile": {"id": id}
            }))
            .unwrap()
        };
        let mut c = LatestFiles {
            listed_at: Instant::now(),
            files: vec![file(1, "a", "x"), file(2, "", "y")],
        };
        assert_eq!(c.find("a", "x").map(|f| f.data_file.id), Some(1));
        // A replacement has a new id and takes the old one's place.
        c.put(file(3, "a", "x"), Some(1));
        assert_eq!(c.files.len(), 2);
        assert_eq!(c.find("a", "x").map(|f| f.data_file.id), Some(3));
        // The same answer twice (a listing already had it) is one entry.
        c.put(file(3, "a", "x"), None);
        assert_eq!(c.files.len(), 2);
        c.remove(2);
        assert!(c.find("", "y").is_none());
    }

    fn file(size: u64, md5: &str) -> FileMetadata {
        serde_json::from_value(serde_json::json!({
            "label": "x", "dataFile": {"id": 1, "filesize": size, "md5": md5}
        }))
        .unwrap()
    }

    #[test]
    fn files_match_keys() {
        crate::key::assert_reads_size_and_md5(|size, md5, key| matches_key(&file(size, md5), key));
        // A key that is no checksum key carries nothing to compare either.
        assert!(matches_key(
            &file(9, "aa"),
            &Key::parse("WORM-s9-m1--name").unwrap()
        ));
    }
}

//! `provider=figshare`: keys, export trees and URLs of one Figshare article.
//!
//! - Key mode: each key is a file of the (private, editable) article named
//!   after the key. The file id, size and MD5 are kept in git-annex's
//!   per-key state, so a retrieval goes straight to the download; without
//!   state the key is found in the article's (paged) file listing.
//! - Store: Figshare's upload protocol (initiate with name, size and MD5;
//!   the upload's part list; a PUT of exactly each part's inclusive byte
//!   range, retried while the part is locked; complete; wait until the file
//!   is processed) and a check that Figshare's `computed_md5` is ours.
//! - Retrieve: only through the API download endpoint
//!   (`{api}/file/download/{id}`), which redirects to signed storage; the
//!   transfer layer follows it without the token, resumes with Range, and
//!   verifies size and MD5. The browser path (`figshare.com/ndownloader`),
//!   which answers non-browsers with an empty `202` WAF challenge, is never
//!   used.
//! - Export mode (`exporttree=yes`): Figshare names are flat, so tree paths
//!   are encoded into names reversibly ([`naming`]).
//! - URL mode: Figshare file and article URLs are claimed; an article's URL
//!   stands for all its files (CHECKURL-MULTI).
//! - Import (`importtree=yes`): the article's files as a tree, keyed by
//!   Figshare's `computed_md5` ([`import`]).
//!
//! Published versions keep their files whatever happens to the private
//! article, so a REMOVE of a published key fails instead of pretending.

mod api;
mod error;
mod export;
mod import;
pub mod naming;
pub mod urls;

use crate::providers::token::{TokenService, TokenSource};
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

pub use api::{FsFile, Token};
pub use error::FigshareError;

use self::api::Api;
use self::urls::FsUrl;
use super::file_state::{FileState, StateFormat};
use super::service_api::{
    required_setting, seconds_setting, ApiAccess, ApiAddress, DownloadTo, ServiceInfo, ServiceKind,
    ServiceRemote,
};
use super::{Annex, ConfigSpec, Provider, ProviderError, Result};
use crate::key::Key;
use crate::transfer::Algorithm;

/// The environment variable that holds the API token.
pub const TOKEN_ENV: &str = "FIGSHARE_API_KEY";
/// git-annex's credential slot for the token.
const CREDS: &str = "figshare";
/// Figshare's public API.
pub const DEFAULT_API: &str = "https://api.figshare.com/v2";

const CONFIGS: &[ConfigSpec] = &[
    ConfigSpec {
        name: "article",
        description: "(provider=figshare) id of the article that holds the files, e.g. 12345678",
    },
    ConfigSpec {
        name: "api",
        description: "(provider=figshare) address of the API (default https://api.figshare.com/v2)",
    },
    ConfigSpec {
        name: "processwait",
        description:
            "(provider=figshare) seconds to wait for Figshare to process an upload (default 600)",
    },
];

pub type FigshareKind = ServiceKind<FigshareRemote>;

/// Where the token comes from: the environment wins over what git-annex stored.
const TOKEN: TokenSource = TokenSource::new(TokenService::Figshare, TOKEN_ENV, CREDS, api::SCHEME);
const INFO: ServiceInfo = ServiceInfo::new("figshare", CONFIGS, TOKEN, ADDRESS);
const ADDRESS: ApiAddress = ApiAddress::or_public("api", DEFAULT_API);

/// What annexa remembers of a stored key: its file's id, size and MD5.
const STATE: StateFormat = StateFormat("fs1");

fn state_of(f: &FsFile) -> FileState {
    FileState {
        id: f.id,
        size: Some(f.size),
        checksum: f.md5(),
    }
}

pub struct FigshareRemote {
    api: Api,
    /// The article's files as listed once by this process and kept up to
    /// date by its own uploads and deletions, for STORE only: a store
    /// needs to know whether a file of the key's name is already there,
    /// and listing a large article for every chunk would cost more than
    /// the upload. It is only a hint: a file it names is read again
    /// before it is trusted (kept or deleted), and a file it misses (put
    /// there by another process meanwhile) makes at worst a second file of
    /// the same name, which REMOVE deletes with the first. CHECKPRESENT,
    /// REMOVE and exports always read a fresh listing.
    known: tokio::sync::Mutex<Option<Vec<FsFile>>>,
}

impl ServiceRemote for FigshareRemote {
    const INFO: &'static ServiceInfo = &INFO;

    async fn open(annex: &dyn Annex, api: ApiAccess) -> Result<Self> {
        let id = "ID (the number at the end of the article's URL)";
        let article = required_setting(annex, "article", id).await?;
        let article = article.parse().map_err(|e| {
            ProviderError::bad_setting("article", &article, "an article id (a number)", e)
        })?;
        let process_wait = seconds_setting(annex, "processwait", Duration::from_secs(600)).await?;
        Ok(Self {
            api: Api::new(api.client, api.url, article, api.token, process_wait),
            known: Default::default(),
        })
    }

    async fn set_up(&self, annex: &dyn Annex) -> Result<String> {
        let article = self.api.article();
        self.api.check_token().await?;
        if !self.api.check_article().await? {
            annex.info(&format!(
                "the token's account does not own article {article}: this remote reads its \
                 published files only (storing and removing need a token of the article's owner)"
            ));
        }
        Ok(format!("read published files of article {article}"))
    }
}

/// Size and MD5 of a local file.
async fn local_md5(path: &Path) -> Result<(u64, String)> {
    let path = path.to_path_buf();
    let hashed = tokio::task::spawn_blocking(move || {
        crate::transfer::hash_file_blocking(&path, Algorithm::Md5, 0, None)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(hashed)
}

/// Whether Figshare's file can be the content of `key`: sizes agree and,
/// for MD5 keys, so do the checksums. Chunk keys carry nothing comparable.
fn matches_key(f: &FsFile, key: &Key) -> bool {
    key.could_be(Some(f.size), f.md5().as_ref())
}

impl FigshareRemote {
    fn key_name(key: &Key) -> Result<String> {
        crate::providers::flat_names::key_name(key.as_str(), "Figshare")
    }

    /// Every file of the article named `name`, newest first.
    async fn named(&self, name: &str) -> Result<Vec<FsFile>> {
        let mut files: Vec<FsFile> = self
            .api
            .files()
            .await?
            .into_iter()
            .filter(|f| f.name == name)
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.id));
        Ok(files)
    }

    /// The file remembered for `key`, if it is still there under the key's
    /// name and processed.
    async fn remembered(&self, key: &Key, name: &str, annex: &dyn Annex) -> Result<Option<FsFile>> {
        let Some(state) = STATE.read(annex, key).await? else {
            return Ok(None);
        };
        match self.api.file(state.id).await {
            Ok(f) if f.name == name && f.is_available() => Ok(Some(f)),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The available file called `name` in the article, from a listing.
    async fn find(&self, name: &str) -> Result<Option<FsFile>> {
        Ok(self
            .named(name)
            .await?
            .into_iter()
            .find(FsFile::is_available))
    }

    /// Makes the article hold `src` under `name`: kept when an available
    /// file of that name has the same MD5; files of that name that are
    /// not it (half-made uploads, other content) are deleted first.
    async fn put(&self, name: &str, src: &Path, annex: &dyn Annex) -> Result<FsFile> {
        let (size, md5) = local_md5(src).await?;
        for hint in self.known_named(name).await? {
            // Read again: the hint may be stale.
            let f = match self.api.file(hint.id).await {
                Ok(f) if f.name == name => f,
                Ok(_) => continue,
                Err(e) if e.is_not_found() => {
                    self.forget(hint.id).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if f.is_available() && f.size == size && f.computed_md5.eq_ignore_ascii_case(&md5) {
                return Ok(f);
            }
            // An earlier upload of these bytes still being checked (an
            // earlier attempt ran out of time): wait for it, never delete it
            // under Figshare's feet.
            if f.is_processing() && f.size == size && f.supplied_md5.eq_ignore_ascii_case(&md5) {
                match self.api.wait_processed(f.id, size).await {
                    Ok(done) if done.computed_md5.eq_ignore_ascii_case(&md5) => return Ok(done),
                    Ok(_) | Err(FigshareError::Integrity(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            } else if f.is_processing() {
                return Err(ProviderError::Locked {
                    message: format!(
                        "another upload of {name} (file {}) is still being processed by Figshare; \
                         try again once it is done",
                        f.id
                    ),
                    source: None,
                });
            }
            match self.api.delete(f.id).await {
                Ok(()) => self.forget(f.id).await,
                Err(e) if e.is_not_found() => self.forget(f.id).await,
                Err(e) => return Err(e.into()),
            }
        }
        let progress = |b| annex.progress(b);
        let f = self.api.upload(name, src, size, &md5, &progress).await?;
        if let Some(known) = self.known.lock().await.as_mut() {
            known.push(f.clone());
        }
        if !f.computed_md5.eq_ignore_ascii_case(&md5) || f.size != size {
            let _ = self.api.delete(f.id).await;
            self.forget(f.id).await;
            return Err(ProviderError::integrity(format!(
                "Figshare computed MD5 {} (size {}) for {name}, but the local file has MD5 {md5} \
                 (size {size}); the upload was deleted, try again",
                f.computed_md5, f.size
            )));
        }
        Ok(f)
    }

    async fn download(&self, f: &FsFile, dest: &Path, annex: &dyn Annex) -> Result<()> {
        let progress = |b| annex.progress(b);
        let to = DownloadTo::new(dest, Some(f.size), f.md5(), &progress);
        Ok(self.api.download(f.id, &to).await?)
    }

    /// Files named by URLs recorded for `key` (URL mode).
    async fn claimed_files(&self, key: &Key, annex: &dyn Annex) -> Result<Vec<u64>> {
        let urls = annex.get_urls(key.as_str(), "").await?;
        Ok(urls
            .iter()
            .filter_map(|u| match urls::parse(u, self.api.base()) {
                Some(FsUrl::File(id)) => Some(id),
                _ => None,
            })
            .collect())
    }

    /// Refuses to remove a file a published version holds.
    async fn check_unpublished(&self, what: &str, files: &[FsFile]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let mut holding = Vec::new();
        for v in self.api.versions().await? {
            let listed = self.api.public_files(self.api.article(), Some(v)).await?;
            if listed.iter().any(|p| files.iter().any(|f| f.id == p.id)) {
                holding.push(v.to_string());
            }
        }
        if holding.is_empty() {
            return Ok(());
        }
        Err(ProviderError::conflict(format!(
            "cannot remove {what}: it is in published version {} of article {}, and Figshare keeps \
             published files downloadable, so the content stays there. Only Figshare's support can \
             take down a published version; to make git-annex stop counting this copy anyway, use \
             `git annex setpresentkey <key> <remote uuid> 0`",
            holding.join(", "),
            self.api.article()
        )))
    }

    async fn delete_all(&self, files: &[FsFile]) -> Result<()> {
        for f in files {
            match self.api.delete(f.id).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            self.forget(f.id).await;
        }
        Ok(())
    }

    /// Files called `name` in the store hint (listed on first use).
    async fn known_named(&self, name: &str) -> Result<Vec<FsFile>> {
        let mut known = self.known.lock().await;
        if known.is_none() {
            *known = Some(self.api.files().await?);
        }
        Ok(known
            .as_ref()
            .map(|files| files.iter().filter(|f| f.name == name).cloned().collect())
            .unwrap_or_default())
    }

    async fn forget(&self, id: u64) {
        if let Some(known) = self.known.lock().await.as_mut() {
            known.retain(|f| f.id != id);
        }
    }
}

#[async_trait]
impl Provider for FigshareRemote {
    async fn store(&self, key: &Key, src: &Path, annex: &dyn Annex) -> Result<()> {
        let name = Self::key_name(key)?;
        if let Some(f) = self.remembered(key, &name, annex).await? {
            let (size, md5) = local_md5(src).await?;
            if f.size == size && f.computed_md5.eq_ignore_ascii_case(&md5) {
                return Ok(());
            }
        }
        let f = self.put(&name, src, annex).await?;
        STATE.write(annex, key, &state_of(&f)).await
    }

    async fn retrieve(&self, key: &Key, dest: &Path, annex: &dyn Annex) -> Result<()> {
        // URL keys (addurl) may not be names: they are found by URL only.
        let name = Self::key_name(key).ok();
        // Fast path: the id and MD5 remembered at store time.
        if let Some(state) = STATE.read(annex, key).await? {
            let progress = |b| annex.progress(b);
            let to = DownloadTo::new(dest, state.size, state.checksum, &progress);
            match self.api.download(state.id, &to).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => annex.debug(&format!(
                    "file {} is gone; looking the key up by name",
                    state.id
                )),
                Err(e) => return Err(e.into()),
            }
        }
        if let (true, Some(name)) = (self.api.has_token(), &name) {
            if let Some(f) = self.find(name).await? {
                return self.download(&f, dest, annex).await;
            }
        }
        // URL mode: the first recorded Figshare file URL that still works,
        // always through the API download endpoint.
        let whole = Some(key).filter(|k| !k.is_chunk());
        let size = whole.and_then(Key::size);
        let md5 = whole
            .and_then(Key::checksum)
            .filter(|c| c.algorithm == Algorithm::Md5);
        let mut last_error = None;
        for id in self.claimed_files(key, annex).await? {
            let progress = |b| annex.progress(b);
            let to = DownloadTo::new(dest, size, md5.clone(), &progress);
            match self.api.download(id, &to).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => last_error = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ProviderError::not_found_after(last_error, || {
            format!("{key} is not in article {}", self.api.article())
        }))
    }

    async fn check_present(&self, key: &Key, annex: &dyn Annex) -> Result<bool> {
        let name = Self::key_name(key).ok();
        if let (true, Some(name)) = (self.api.has_token(), &name) {
            if self.remembered(key, name, annex).await?.is_some() {
                return Ok(true);
            }
            if self.find(name).await?.is_some() {
                return Ok(true);
            }
        }
        for id in self.claimed_files(key, annex).await? {
            if self.api.probe(id).await? {
                return Ok(true);
            }
        }
        if !self.api.has_token() {
            // Without a token the private article cannot be read: unless a
            // URL said so, nothing is known.
            return Err(TOKEN.needed_for(&format!(
                "checking whether {key} is in article {}",
                self.api.article()
            )));
        }
        Ok(false)
    }

    async fn remove(&self, key: &Key, annex: &dyn Annex) -> Result<()> {
        let Ok(name) = Self::key_name(key) else {
            // A URL key is not a file of the article: nothing of ours to remove.
            return Ok(());
        };
        let remembered = STATE.read(annex, key).await?;
        let mut files = self.named(&name).await?;
        if let Some(state) = &remembered {
            if !files.iter().any(|f| f.id == state.id) {
                match self.api.file(state.id).await {
                    Ok(f) if f.name == name => files.push(f),
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // A key naming no content (datalad-annex's refs, replaced on every
        // push) is not the published file: it leaves the draft only.
        if key.identifies_content() {
            self.check_unpublished(key.as_str(), &files).await?;
        }
        self.delete_all(&files).await?;
        STATE.forget(annex, key, &remembered).await
    }

    async fn whereis(&self, key: &Key, annex: &dyn Annex) -> Option<String> {
        let id = STATE.read(annex, key).await.ok().flatten()?.id;
        Some(self.api.download_url(id).to_string())
    }

    fn info(&self) -> Vec<(String, String)> {
        vec![
            ("figshare api".into(), self.api.base().to_string()),
            ("article".into(), self.api.article().to_string()),
            self.api.token_row(),
        ]
    }

    provides_every_capability!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_state_round_trips() {
        let s = state_of(&FsFile {
            id: 42,
            size: 10,
            computed_md5: "AB01".into(),
            ..serde_json::from_str(r#"{"id": 1, "name": "x"}"#).unwrap()
        });
        assert_eq!(STATE.render(&s), "fs1 id=42 size=10 md5=ab01");
        assert_eq!(STATE.parse(&STATE.render(&s)), Some(s));
    }

    #[test]
    fn keys_that_could_name_folders_are_refused() {
        assert!(FigshareRemote::key_name(&Key::parse("SHA256E-s1--ab.txt").unwrap()).is_ok());
        assert!(FigshareRemote::key_name(&Key::parse("WORM--a/b").unwrap()).is_err());
    }

    #[test]
    fn files_match_keys() {
        let f = |size: u64, md5: &str| FsFile {
            id: 1,
            name: "x".into(),
            size,
            computed_md5: md5.into(),
            supplied_md5: String::new(),
            status: Some("available".into()),
            upload_url: None,
            is_link_only: false,
        };
        crate::key::assert_reads_size_and_md5(|size, md5, key| matches_key(&f(size, md5), key));
    }
}

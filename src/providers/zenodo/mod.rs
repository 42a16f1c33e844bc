//! `provider=zenodo`: keys, export trees, URLs and imports of one Zenodo
//! record (any InvenioRDM with `api=`).
//!
//! Zenodo's rules, which this module is about (the plumbing is the shared
//! service-API layer's):
//! - A record's files are flat names with an `md5:` checksum; a published
//!   version's files never change and are never removed. Writes go to a
//!   draft: the record's own while it was never published, else Zenodo's
//!   "New version" draft of it (made on the first write, with the previous
//!   version's files linked in), which the user publishes on Zenodo.
//! - At most [`MAX_FILES`] files and [`MAX_RECORD_BYTES`] per record.
//! - With the owner's token the remote sees its draft; without one, the
//!   latest published version (restricted files need the token).
//! - Import reads a published version (the one named, the latest for a
//!   concept id, or `version=K`), keyed by the published MD5s ([`import`]).

mod api;
mod export;
mod import;
pub mod urls;

use std::path::Path;

use async_trait::async_trait;

pub use api::{Space, ZFile, TOKEN_ENV};

use self::api::Api;
use self::urls::ZUrl;
use super::flat_names;
use super::service_api::{
    required_setting, setting as config, ApiAccess, ApiAddress, DownloadTo, ServiceInfo,
    ServiceKind, ServiceRemote,
};
use super::token::{TokenService, TokenSource};
use super::{Annex, ConfigSpec, Provider, ProviderError, Result, UrlCheck, UrlEntry, UrlTargets};
use crate::key::Key;
use crate::transfer::Algorithm;

/// Zenodo's API; another InvenioRDM is named with `api=`.
pub const DEFAULT_API: &str = "https://zenodo.org/api";
/// Files per record (invenio-rdm-records `RDM_RECORDS_MAX_FILES_COUNT`).
pub const MAX_FILES: u64 = 100;
/// Bytes per record (zenodo-rdm `RDM_FILES_DEFAULT_QUOTA_SIZE`, 50 GB).
pub const MAX_RECORD_BYTES: u64 = 50 * 1_000_000_000;
/// The personal access token, as `Authorization: Bearer`.
const TOKEN: TokenSource = TokenSource::new(TokenService::Zenodo, TOKEN_ENV, "zenodo", "Bearer");
const INFO: ServiceInfo = ServiceInfo::new("zenodo", CONFIGS, TOKEN, ADDRESS);
const ADDRESS: ApiAddress = ApiAddress::or_public("api", DEFAULT_API);

const CONFIGS: &[ConfigSpec] = &[
    ConfigSpec {
        name: "record",
        description: "(provider=zenodo) id of the record: a draft to write to, or a published record or concept id to read",
    },
    ConfigSpec {
        name: "api",
        description: "(provider=zenodo) address of the InvenioRDM API (default https://zenodo.org/api)",
    },
    ConfigSpec {
        name: "version",
        description: "(provider=zenodo) import this version (Zenodo's version number, 1 = first) instead of the latest",
    },
];

pub type ZenodoKind = ServiceKind<ZenodoRemote>;

pub struct ZenodoRemote {
    api: Api,
    record: String,
    version: Option<u64>,
    /// The draft writes go to, once found or made (one per process).
    draft: tokio::sync::Mutex<Option<String>>,
}

impl ServiceRemote for ZenodoRemote {
    const INFO: &'static ServiceInfo = &INFO;

    async fn open(annex: &dyn Annex, api: ApiAccess) -> Result<Self> {
        let id = "ID (the number in the record's URL, zenodo.org/records/ID)";
        let record = required_setting(annex, "record", id).await?;
        let record = urls::record_of_doi(&record).unwrap_or(record);
        if !urls::is_record_id(&record) {
            return Err(ProviderError::Config(format!(
                "record={record} is not a record id (e.g. 1234567)"
            )));
        }
        let version = match config(annex, "version").await? {
            None => None,
            Some(v) => match v.parse::<u64>() {
                Ok(0) => {
                    return Err(ProviderError::Config(
                        "version=0 is not a version number: the first is 1".into(),
                    ))
                }
                Ok(n) => Some(n),
                Err(e) => {
                    let expected = "a version number (1, 2, ...)";
                    return Err(ProviderError::bad_setting("version", &v, expected, e));
                }
            },
        };
        Ok(Self {
            api: Api::new(api.client, api.url, api.token),
            record,
            version,
            draft: Default::default(),
        })
    }

    /// The record must exist for this user: a draft (owner), or a
    /// published record or concept.
    async fn set_up(&self, _: &dyn Annex) -> Result<String> {
        let (record, api) = (&self.record, &self.api);
        let draft = match api.has_token() {
            true => api.draft(record).await?,
            false => None,
        };
        if draft.is_none() && api.published(record).await?.is_none() {
            return Err(ProviderError::Config(format!(
                "record {record} was not found at {}{}",
                api.base(),
                if api.has_token() {
                    ""
                } else {
                    " (a draft is visible only with its owner's token: set ZENODO_TOKEN)"
                }
            )));
        }
        Ok(format!("read published files of record {record}"))
    }
}

/// Whether Zenodo's file can be the content of `key`.
fn matches_key(f: &ZFile, key: &Key) -> bool {
    key.could_be(Some(f.size), f.md5().as_ref())
}

/// What a key says of its content, for a download check.
fn key_expectation(key: &Key) -> (Option<u64>, Option<crate::transfer::Expected>) {
    let parsed = Some(key).filter(|k| !k.is_chunk());
    let size = parsed.and_then(Key::size);
    let md5 = parsed
        .and_then(Key::checksum)
        .filter(|c| c.algorithm == Algorithm::Md5);
    (size, md5)
}

impl ZenodoRemote {
    fn key_name(key: &Key) -> Result<String> {
        flat_names::key_name(key.as_str(), "Zenodo")
    }

    /// The draft this remote works in, when there is one: the record's
    /// own while never published, else an unpublished next version of it
    /// (found, never made, here: reads must not change the record).
    async fn existing_draft(&self) -> Result<Option<String>> {
        if let Some(id) = self.draft.lock().await.clone() {
            return Ok(Some(id));
        }
        let found = match self.api.draft(&self.record).await? {
            Some(d) if !d.is_published => Some(d.id),
            _ => match self.api.published(&self.record).await? {
                Some(p) => match &p.parent {
                    Some(parent) => self.api.next_draft(&parent.id).await?,
                    None => None,
                },
                None => None,
            },
        };
        if let Some(id) = &found {
            *self.draft.lock().await = Some(id.clone());
        }
        Ok(found)
    }

    /// The draft writes go to: [`Self::existing_draft`], else Zenodo's
    /// "New version" of the published record, made now with the previous
    /// version's files linked in (as the web page's button does).
    async fn open_draft(&self, annex: &dyn Annex) -> Result<String> {
        if !self.api.has_token() {
            return Err(TOKEN.needed_for(&format!(
                "writing to Zenodo record {} (its owner's personal access token)",
                self.record
            )));
        }
        if let Some(id) = self.existing_draft().await? {
            return Ok(id);
        }
        let Some(published) = self.api.published(&self.record).await? else {
            return Err(ProviderError::Config(format!(
                "record {} was not found at {} (neither a draft of this token's account nor a \
                 published record)",
                self.record,
                self.api.base()
            )));
        };
        let next = self.api.new_version(&published.id).await?;
        let space = Space::Draft(next.id.clone());
        if next.versions.index > 1 && self.api.files(&space).await?.is_empty() {
            self.api.import_previous_files(&next.id).await?;
        }
        annex.info(&format!(
            "record {} is published; writing to its new version's draft {} (publish it on \
             Zenodo to make it the next version)",
            self.record, next.id
        ));
        *self.draft.lock().await = Some(next.id.clone());
        Ok(next.id)
    }

    /// Where reads look: the remote's draft with a token (when there is
    /// one), else the latest published version.
    async fn read_space(&self) -> Result<Space> {
        if self.api.has_token() {
            if let Some(id) = self.existing_draft().await? {
                return Ok(Space::Draft(id));
            }
        }
        match self.api.latest(&self.record).await? {
            Some(id) => Ok(Space::Published(id)),
            None if self.api.has_token() => Err(ProviderError::not_found(format!(
                "Zenodo record {} has neither a draft of this account nor a published version",
                self.record
            ))),
            None => Err(ProviderError::MissingCredentials(format!(
                "record {} has no published version; reading its draft needs its owner's \
                 token: set {TOKEN_ENV}",
                self.record
            ))),
        }
    }

    /// Makes the draft hold `src` under `name`: kept when a complete file
    /// of that name has the same MD5, replaced otherwise.
    async fn put(&self, name: &str, src: &Path, annex: &dyn Annex) -> Result<ZFile> {
        let draft = self.open_draft(annex).await?;
        let size = tokio::fs::metadata(src).await?.len();
        let md5 = crate::transfer::hash_file(src, Algorithm::Md5).await?;
        let space = Space::Draft(draft.clone());
        if let Some(f) = self.api.file(&space, name).await? {
            let same = f.is_complete()
                && f.size == size
                && f.md5().is_some_and(|m| m.hex.eq_ignore_ascii_case(&md5));
            if same {
                return Ok(f);
            }
            self.api.delete(&draft, name).await?;
        }
        if size > MAX_RECORD_BYTES {
            return Err(ProviderError::service(
                format!(
                    "{name} has {size} bytes; a Zenodo record holds at most {} GB: use chunk= \
                     and several records, or another remote for it",
                    MAX_RECORD_BYTES / 1_000_000_000
                ),
                None,
            ));
        }
        let progress = |b| annex.progress(b);
        let f = self.api.upload(&draft, name, src, size, &progress).await?;
        let verified = f.size == size && f.md5().is_some_and(|m| m.hex.eq_ignore_ascii_case(&md5));
        if !verified {
            let _ = self.api.delete(&draft, name).await;
            return Err(ProviderError::integrity(format!(
                "Zenodo committed {name} with {} bytes and checksum {:?}, but the local file has \
                 {size} bytes and MD5 {md5}; the upload was deleted, try again",
                f.size, f.checksum
            )));
        }
        Ok(f)
    }

    async fn get(&self, space: &Space, f: &ZFile, dest: &Path, annex: &dyn Annex) -> Result<()> {
        let progress = |b| annex.progress(b);
        let to = DownloadTo::new(dest, Some(f.size), f.md5(), &progress);
        self.api.download(space, &f.key, &to).await
    }

    /// File `name` as reads see it, when complete.
    async fn find(&self, name: &str) -> Result<Option<(Space, ZFile)>> {
        let space = self.read_space().await?;
        Ok(self
            .api
            .file(&space, name)
            .await?
            .filter(ZFile::is_complete)
            .map(|f| (space, f)))
    }

    /// Zenodo files named by URLs recorded for `key` (URL mode).
    async fn claimed_files(&self, key: &Key, annex: &dyn Annex) -> Result<Vec<(String, String)>> {
        Ok(annex
            .get_urls(key.as_str(), "")
            .await?
            .iter()
            .filter_map(|u| match urls::parse(u, self.api.base()) {
                Some(ZUrl::File { record, name }) => Some((record, name)),
                _ => None,
            })
            .collect())
    }

    /// Refuses to remove `name` (of checksum `md5`) when a published
    /// version holds it: Zenodo never removes a published file.
    async fn check_unpublished(&self, what: &str, name: &str, f: &ZFile) -> Result<()> {
        let mut holding: Vec<(u64, String)> = Vec::new();
        let mut versions = Vec::new();
        self.api
            .versions_each(&self.record, &mut |v| {
                versions.push(v);
                Ok(std::ops::ControlFlow::Continue(()))
            })
            .await?;
        for v in versions {
            let published = self.api.file(&Space::Published(v.id.clone()), name).await?;
            if published.is_some_and(|p| p.checksum.eq_ignore_ascii_case(&f.checksum)) {
                holding.push((v.versions.index, v.id));
            }
        }
        if holding.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = holding
            .iter()
            .map(|(index, id)| format!("version {index} (record {id})"))
            .collect();
        Err(ProviderError::conflict(format!(
            "cannot remove {what}: it is in published {} of Zenodo record {}, and Zenodo never \
             removes a published file, so the content stays there. Only Zenodo's support can take \
             a record down; to make git-annex stop counting this copy anyway, use \
             `git annex setpresentkey <key> <remote uuid> 0`",
            list.join(", "),
            self.record
        )))
    }

    /// Removes `name` from the draft, unless a published version holds it
    /// and `key` names content (a key naming none, datalad-annex's refs,
    /// leaves the draft only).
    async fn remove_name(
        &self,
        what: &str,
        name: &str,
        key: &Key,
        annex: &dyn Annex,
    ) -> Result<()> {
        if !self.api.has_token() {
            return Err(TOKEN.needed_for(&format!(
                "removing {what} from Zenodo record {}",
                self.record
            )));
        }
        // Looked up where reads look: a removal that is refused, or finds
        // nothing, makes no new version.
        let space = self.read_space().await?;
        let Some(f) = self.api.file(&space, name).await? else {
            return Ok(());
        };
        if key.identifies_content() {
            self.check_unpublished(what, name, &f).await?;
        }
        let draft = self.open_draft(annex).await?;
        self.api.delete(&draft, name).await
    }
}

#[async_trait]
impl Provider for ZenodoRemote {
    async fn store(&self, key: &Key, src: &Path, annex: &dyn Annex) -> Result<()> {
        let name = Self::key_name(key)?;
        self.put(&name, src, annex).await?;
        Ok(())
    }

    async fn retrieve(&self, key: &Key, dest: &Path, annex: &dyn Annex) -> Result<()> {
        // URL keys (addurl) may not be names: they are found by URL only.
        if let Ok(name) = Self::key_name(key) {
            if let Some((space, f)) = self.find(&name).await? {
                return self.get(&space, &f, dest, annex).await;
            }
        }
        let mut last = None;
        for (record, name) in self.claimed_files(key, annex).await? {
            let progress = |b| annex.progress(b);
            let space = Space::Published(record);
            let (size, md5) = key_expectation(key);
            let to = DownloadTo::new(dest, size, md5, &progress);
            match self.api.download(&space, &name, &to).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            ProviderError::not_found(format!("{key} is not in Zenodo record {}", self.record))
        }))
    }

    async fn check_present(&self, key: &Key, annex: &dyn Annex) -> Result<bool> {
        if let Ok(name) = Self::key_name(key) {
            if let Some((_, f)) = self.find(&name).await? {
                return Ok(matches_key(&f, key));
            }
        }
        for (record, name) in self.claimed_files(key, annex).await? {
            if let Some(f) = self.api.file(&Space::Published(record), &name).await? {
                return Ok(matches_key(&f, key));
            }
        }
        Ok(false)
    }

    async fn remove(&self, key: &Key, annex: &dyn Annex) -> Result<()> {
        let Ok(name) = Self::key_name(key) else {
            // A URL key is not a file of the record: nothing of ours.
            return Ok(());
        };
        self.remove_name(key.as_str(), &name, key, annex).await
    }

    async fn whereis(&self, key: &Key, _annex: &dyn Annex) -> Option<String> {
        let name = Self::key_name(key).ok()?;
        let draft = self.draft.lock().await.clone()?;
        Some(
            self.api
                .content_url(&Space::Draft(draft), &name)
                .to_string(),
        )
    }

    fn info(&self) -> Vec<(String, String)> {
        vec![
            ("zenodo api".into(), self.api.base().to_string()),
            ("record".into(), self.record.clone()),
            self.api.token_row(),
        ]
    }

    provides_every_capability!();
}

#[async_trait]
impl UrlTargets for ZenodoRemote {
    type Target = ZUrl;

    fn parse_url(&self, url: &str) -> Option<ZUrl> {
        urls::parse(url, self.api.base())
    }

    fn claimed_urls(&self) -> String {
        "a Zenodo record or file URL".into()
    }

    async fn check_target(&self, target: ZUrl) -> Result<UrlCheck> {
        match target {
            ZUrl::File { record, name } => {
                match self
                    .api
                    .file(&Space::Published(record.clone()), &name)
                    .await?
                {
                    Some(f) => Ok(UrlCheck::Contents {
                        size: Some(f.size),
                        filename: Some(f.key),
                    }),
                    None => Err(ProviderError::not_found(format!(
                        "{name} is not in Zenodo record {record}"
                    ))),
                }
            }
            ZUrl::Record(id) => {
                let Some(record) = self.api.published(&id).await? else {
                    return Err(ProviderError::not_found(format!(
                        "Zenodo record {id} was not found (or is not published)"
                    )));
                };
                let space = Space::Published(record.id);
                let entries: Vec<UrlEntry> = self
                    .api
                    .files(&space)
                    .await?
                    .into_iter()
                    .filter(ZFile::is_complete)
                    .map(|f| UrlEntry {
                        url: self.api.content_url(&space, &f.key).to_string(),
                        size: Some(f.size),
                        filename: f.key,
                    })
                    .collect();
                UrlCheck::files(entries, || {
                    format!("Zenodo record {id} has no files to download")
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_match_keys_by_their_md5() {
        let f = ZFile {
            key: "x".into(),
            size: 5,
            checksum: "md5:5d41402abc4b2a76b9719d911017c592".into(),
            status: "completed".into(),
        };
        assert!(matches_key(
            &f,
            &Key::parse("MD5E-s5--5d41402abc4b2a76b9719d911017c592.txt").unwrap()
        ));
        assert!(!matches_key(
            &f,
            &Key::parse("MD5E-s5--00000000000000000000000000000000.txt").unwrap()
        ));
    }
}

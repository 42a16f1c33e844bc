//! Storage services behind one narrow trait.
//!
//! A provider is chosen at `initremote` with `provider=NAME`. Each one lives
//! in its own module and is registered once in [`registry`]; adding a
//! provider touches no other provider.
//!
//! Two traits: [`ProviderKind`] answers what can be asked before PREPARE
//! (its configuration parameters, one-time set-up) and builds a
//! [`Provider`], which serves keys, export trees and URLs afterwards.
//! Providers talk to git-annex only through [`Annex`], so the same provider
//! runs under the protocol runtime, in the conformance tests, or in a tool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::protocol::{Availability, CheckUrl};
use crate::transfer::TransferError;

pub mod dataverse;
pub mod directory;
pub mod s3;

/// One configuration parameter a provider accepts at `initremote`.
#[derive(Debug, Clone, Copy)]
pub struct ConfigSpec {
    pub name: &'static str,
    pub description: &'static str,
}

/// A user name and secret as stored by git-annex's credential store.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.user)
    }
}

/// Errors of a query to git-annex.
#[derive(Debug, thiserror::Error)]
pub enum AnnexError {
    #[error("git-annex answered the query with an error: {0}")]
    Refused(String),
    #[error("git-annex closed the connection")]
    Closed,
    #[error("{0}")]
    Protocol(String),
}

/// What a provider may ask of, or tell, git-annex while it works.
#[async_trait]
pub trait Annex: Send + Sync {
    /// A config value from initremote or SETCONFIG; `None` when unset.
    async fn get_config(&self, name: &str) -> Result<Option<String>, AnnexError>;
    async fn set_config(&self, name: &str, value: &str) -> Result<(), AnnexError>;
    /// Stored credentials; `None` when git-annex has none.
    async fn get_creds(&self, setting: &str) -> Result<Option<Credentials>, AnnexError>;
    async fn set_creds(&self, setting: &str, creds: &Credentials) -> Result<(), AnnexError>;
    /// Per-key state kept in the git-annex branch; `None` when unset.
    async fn get_state(&self, key: &str) -> Result<Option<String>, AnnexError>;
    async fn set_state(&self, key: &str, value: &str) -> Result<(), AnnexError>;
    async fn get_uuid(&self) -> Result<String, AnnexError>;
    async fn get_git_dir(&self) -> Result<PathBuf, AnnexError>;
    /// URLs recorded for a key whose text starts with `prefix`.
    async fn get_urls(&self, key: &str, prefix: &str) -> Result<Vec<String>, AnnexError>;
    async fn set_url_present(&self, key: &str, url: &str) -> Result<(), AnnexError>;
    /// Bytes of the current transfer done so far, counted from the start.
    fn progress(&self, bytes: u64);
    /// A message for `--debug` output.
    fn debug(&self, message: &str);
    /// A message shown to the user (INFO when negotiated, else DEBUG).
    fn info(&self, message: &str);
}

/// Why a provider operation failed. The message is shown to the user, so it
/// must say what to do and must never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("missing credentials: {0}")]
    MissingCredentials(String),
    #[error("{0}")]
    Transfer(#[from] TransferError),
    #[error("{0}")]
    Service(String),
    #[error("{0}")]
    Refused(String),
    #[error("this remote does not support {0}")]
    Unsupported(&'static str),
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Annex(#[from] AnnexError),
}

pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

/// The kind of service: known before PREPARE.
#[async_trait]
pub trait ProviderKind: Send + Sync {
    /// The value of `provider=` that selects this kind.
    fn name(&self) -> &'static str;
    /// Every parameter `initremote` accepts for this kind (LISTCONFIGS).
    fn configs(&self) -> &'static [ConfigSpec];
    /// One-time, idempotent set-up at `initremote`: validate parameters,
    /// store credentials, create the bucket or check the dataset exists.
    async fn initremote(&self, annex: &dyn Annex) -> Result<()>;
    /// Reads the configuration and returns a ready provider.
    async fn prepare(&self, annex: &dyn Annex) -> Result<Arc<dyn Provider>>;
}

/// A prepared remote: one instance serves every job of a session, so
/// methods take `&self` and must be safe to call concurrently.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Uploads `src` as `key`. Storing a key already present succeeds.
    async fn store(&self, key: &str, src: &Path, annex: &dyn Annex) -> Result<()>;
    /// Downloads `key` into `dest`. `dest` may hold a prefix of the content
    /// from an interrupted attempt: resume from it or start over.
    async fn retrieve(&self, key: &str, dest: &Path, annex: &dyn Annex) -> Result<()>;
    /// `Ok(false)` only when the key is known to be absent; errors mean
    /// "cannot tell".
    async fn check_present(&self, key: &str, annex: &dyn Annex) -> Result<bool>;
    /// Removes `key`; removing an absent key succeeds.
    async fn remove(&self, key: &str, annex: &dyn Annex) -> Result<()>;

    /// A location a person can use, for WHEREIS.
    async fn whereis(&self, _key: &str, _annex: &dyn Annex) -> Option<String> {
        None
    }
    /// A URL git-annex may download itself (TRANSFER-RETRIEVE-URL), only
    /// when it needs no secret.
    async fn public_url(&self, _key: &str, _annex: &dyn Annex) -> Option<String> {
        None
    }
    /// A URL whose answer is authoritative for the key's presence
    /// (CHECKPRESENT-URL): never a cache or CDN, which could still answer
    /// 200 after a removal and make git-annex count a copy that is gone.
    async fn presence_url(&self, _key: &str, _annex: &dyn Annex) -> Option<String> {
        None
    }
    fn cost(&self) -> u32 {
        // git-annex's "expensive remote" cost.
        200
    }
    fn availability(&self) -> Availability {
        Availability::Global
    }
    /// Fields shown by `git annex info`.
    fn info(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Export tree: store `src` (content of `key`) under the path `name`.
    async fn store_export(
        &self,
        _name: &str,
        _key: &str,
        _src: &Path,
        _annex: &dyn Annex,
    ) -> Result<()> {
        Err(ProviderError::Unsupported("export"))
    }
    async fn retrieve_export(
        &self,
        _name: &str,
        _key: &str,
        _dest: &Path,
        _annex: &dyn Annex,
    ) -> Result<()> {
        Err(ProviderError::Unsupported("export"))
    }
    async fn check_present_export(
        &self,
        _name: &str,
        _key: &str,
        _annex: &dyn Annex,
    ) -> Result<bool> {
        Err(ProviderError::Unsupported("export"))
    }
    async fn remove_export(&self, _name: &str, _key: &str, _annex: &dyn Annex) -> Result<()> {
        Err(ProviderError::Unsupported("export"))
    }
    /// Removes a now-empty exported directory; removing a missing one succeeds.
    async fn remove_export_directory(&self, _dir: &str, _annex: &dyn Annex) -> Result<()> {
        Err(ProviderError::Unsupported("export"))
    }
    /// Renames an exported file; an error makes git-annex fall back to
    /// remove and store again.
    async fn rename_export(
        &self,
        _name: &str,
        _key: &str,
        _new_name: &str,
        _annex: &dyn Annex,
    ) -> Result<()> {
        Err(ProviderError::Unsupported("rename"))
    }

    /// Whether `url` belongs to this remote (CLAIMURL).
    fn claims_url(&self, _url: &str) -> bool {
        false
    }
    /// What is behind a claimed URL (CHECKURL).
    async fn check_url(&self, _url: &str, _annex: &dyn Annex) -> Result<CheckUrl> {
        Err(ProviderError::Unsupported("URLs"))
    }
}

/// Every provider kind this build knows.
pub fn registry() -> Vec<Box<dyn ProviderKind>> {
    vec![
        Box::new(s3::S3Kind),
        Box::new(directory::DirectoryKind),
        Box::new(dataverse::DataverseKind),
    ]
}

/// Finds a provider kind by its `provider=` name.
pub fn find_kind(name: &str) -> Option<Box<dyn ProviderKind>> {
    registry().into_iter().find(|k| k.name() == name)
}

/// Reads a yes/no parameter the way git-annex does.
pub fn parse_bool(name: &str, value: Option<&str>, default: bool) -> Result<bool> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some("yes" | "true" | "on" | "1") => Ok(true),
        Some("no" | "false" | "off" | "0") => Ok(false),
        Some(other) => Err(ProviderError::Config(format!(
            "{name}={other} is not a yes/no value"
        ))),
    }
}

/// git-annex's two-level lower-case hash directory for a key ("abc/def/"),
/// as DIRHASH-LOWER computes it: the first six hex digits of the key's MD5.
pub fn hashdir_lower(key: &str) -> String {
    use md5::Digest;
    let digest = hex::encode(md5::Md5::digest(key.as_bytes()));
    format!("{}/{}/", &digest[0..3], &digest[3..6])
}

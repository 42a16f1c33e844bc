//! Storage services behind narrow traits.
//!
//! A provider is chosen at `initremote` with `provider=NAME`. Each one lives
//! in its own module and is registered once in [`registry`]; adding a
//! provider touches no other provider.
//!
//! [`ProviderKind`] answers what can be asked before PREPARE (its
//! configuration parameters, its [`Capabilities`], one-time set-up) and
//! builds a [`Provider`]: the core key store. What a provider can do beyond
//! keys is a capability trait it hands out: [`ExportTree`] from
//! [`Provider::export`], [`UrlClaims`] from [`Provider::urls`],
//! [`ImportTree`] from [`Provider::import`].
//!
//! Providers know nothing of the wire: they talk to git-annex only through
//! [`Annex`], answer with the types of this module, and fail with a
//! [`ProviderError`] whose variant says what happened. The runtime turns
//! those into protocol replies, so the same provider runs under the
//! protocol runtime, in the conformance tests, or in a tool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::key::Key;

/// Inside `impl Provider for T`: the accessors of a provider that is its
/// own [`ExportTree`], [`UrlClaims`] and [`ImportTree`] (the services'
/// providers all are).
macro_rules! provides_every_capability {
    () => {
        fn export(&self) -> Option<&dyn $crate::providers::ExportTree> {
            Some(self)
        }
        fn urls(&self) -> Option<&dyn $crate::providers::UrlClaims> {
            Some(self)
        }
        fn import(&self) -> Option<&dyn $crate::providers::ImportTree> {
            Some(self)
        }
    };
}

pub mod dataverse;
pub mod directory;
mod error;
pub mod figshare;
pub mod file_state;
pub mod flat_names;
pub mod github;
pub mod import;
pub mod layout;
pub mod s3;
pub mod service_api;
#[cfg(test)]
pub(crate) mod testing;
pub mod token;
pub mod zenodo;

pub use error::{error_chain_text, AnnexError, Cause, ProviderError, Result, StatusKind};
pub use import::{ImportSink, ImportTree, ImportableFile};
pub use layout::{check_export_path, hashdir_lower, ExportPath, KeyLayout};

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

/// Where a remote can be reached from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// From anywhere with a network.
    Global,
    /// Only from this machine (a local drive).
    Local,
    /// Not at the moment.
    Unavailable,
}

/// One file found behind a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlEntry {
    pub url: String,
    pub size: Option<u64>,
    pub filename: String,
}

/// What is behind a claimed URL. "Nothing" is an error
/// ([`ProviderError::NotFound`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlCheck {
    /// One file, of this size and suggested name when known.
    Contents {
        size: Option<u64>,
        filename: Option<String>,
    },
    /// Several files (a folder).
    Multi(Vec<UrlEntry>),
}

impl UrlCheck {
    /// The files behind a folder or record URL; none at all is
    /// [`ProviderError::NotFound`], said by `empty`.
    pub fn files(entries: Vec<UrlEntry>, empty: impl FnOnce() -> String) -> Result<UrlCheck> {
        if entries.is_empty() {
            return Err(ProviderError::not_found(empty()));
        }
        Ok(UrlCheck::Multi(entries))
    }
}

/// What a kind of provider can do beyond storing keys, known before
/// PREPARE (git-annex asks EXPORTSUPPORTED first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Its providers hand out an [`ExportTree`].
    pub export: bool,
    /// Its providers hand out [`UrlClaims`].
    pub claim_urls: bool,
    /// Its providers hand out an [`ImportTree`].
    pub import: bool,
}

impl Capabilities {
    /// Export, URL claims and import: what a full service provider offers.
    pub const ALL: Capabilities = Capabilities {
        export: true,
        claim_urls: true,
        import: true,
    };

    /// What `provider` hands out. The conformance suite checks that every
    /// kind's [`KindInfo::capabilities`] says the same.
    pub fn of(provider: &dyn Provider) -> Capabilities {
        Capabilities {
            export: provider.export().is_some(),
            claim_urls: provider.urls().is_some(),
            import: provider.import().is_some(),
        }
    }
}

/// What is known of a kind of provider before PREPARE: one constant per
/// kind, read through [`ProviderKind`]'s provided methods.
#[derive(Debug)]
pub struct KindInfo {
    /// The value of `provider=` that selects this kind.
    pub name: &'static str,
    /// Every parameter `initremote` accepts for this kind (LISTCONFIGS).
    pub configs: &'static [ConfigSpec],
    /// What its providers can do beyond keys: what [`Capabilities::of`]
    /// finds on every provider it prepares.
    pub capabilities: Capabilities,
}

/// The kind of service: known before PREPARE.
#[async_trait]
pub trait ProviderKind: Send + Sync {
    /// This kind's name, parameters and capabilities.
    fn info(&self) -> &'static KindInfo;
    /// The value of `provider=` that selects this kind.
    fn name(&self) -> &'static str {
        self.info().name
    }
    /// Every parameter `initremote` accepts for this kind (LISTCONFIGS).
    fn configs(&self) -> &'static [ConfigSpec] {
        self.info().configs
    }
    /// What its providers can do beyond keys.
    fn capabilities(&self) -> Capabilities {
        self.info().capabilities
    }
    /// One-time, idempotent set-up at `initremote`: validate parameters,
    /// store credentials, create the bucket or check the dataset exists.
    async fn initremote(&self, annex: &dyn Annex) -> Result<()>;
    /// Reads the configuration and returns a ready provider.
    async fn prepare(&self, annex: &dyn Annex) -> Result<Arc<dyn Provider>>;
}

/// A prepared remote, the core key store: one instance serves every job of
/// a session, so methods take `&self` and must be safe to call concurrently.
///
/// Keys arrive parsed, once, by the runtime ([`Key`]); their text is
/// data, never trusted as a path (see [`KeyLayout`]).
#[async_trait]
pub trait Provider: Send + Sync {
    /// Uploads `src` as `key`. Storing a key already present succeeds.
    async fn store(&self, key: &Key, src: &Path, annex: &dyn Annex) -> Result<()>;
    /// Downloads `key` into `dest`. `dest` may hold a prefix of the content
    /// from an interrupted attempt: resume from it or start over. A key
    /// that is not there is [`ProviderError::NotFound`].
    async fn retrieve(&self, key: &Key, dest: &Path, annex: &dyn Annex) -> Result<()>;
    /// `Ok(false)` (or [`ProviderError::NotFound`]) only when the key is
    /// known to be absent; other errors mean "cannot tell".
    async fn check_present(&self, key: &Key, annex: &dyn Annex) -> Result<bool>;
    /// Removes `key`; removing an absent key succeeds (so does
    /// [`ProviderError::NotFound`]).
    async fn remove(&self, key: &Key, annex: &dyn Annex) -> Result<()>;

    /// A location a person can use, for WHEREIS.
    async fn whereis(&self, _key: &Key, _annex: &dyn Annex) -> Option<String> {
        None
    }
    /// A URL git-annex may download itself, only when it needs no secret.
    async fn public_url(&self, _key: &Key, _annex: &dyn Annex) -> Option<String> {
        None
    }
    /// A URL whose answer is authoritative for the key's presence: never a
    /// cache or CDN, which could still answer 200 after a removal and make
    /// git-annex count a copy that is gone.
    async fn presence_url(&self, _key: &Key, _annex: &dyn Annex) -> Option<String> {
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

    /// The export tree capability, when this provider has it.
    fn export(&self) -> Option<&dyn ExportTree> {
        None
    }
    /// The URL capability, when this provider has it.
    fn urls(&self) -> Option<&dyn UrlClaims> {
        None
    }
    /// The import capability, when this provider has it.
    fn import(&self) -> Option<&dyn ImportTree> {
        None
    }
}

/// One request on a file of the exported tree, as git-annex makes it
/// (EXPORT, then the request): where the file is, the key of its content,
/// and the session to report through.
#[derive(Clone, Copy)]
pub struct ExportedFile<'a> {
    pub path: &'a ExportPath,
    pub key: &'a Key,
    pub annex: &'a dyn Annex,
}

/// Capability: files under their own names (`exporttree=yes`). Paths
/// arrive checked ([`ExportPath`]).
#[async_trait]
pub trait ExportTree: Send + Sync {
    /// Stores `src` (the content of `file.key`) at `file.path`.
    async fn store_export(&self, file: ExportedFile<'_>, src: &Path) -> Result<()>;
    async fn retrieve_export(&self, file: ExportedFile<'_>, dest: &Path) -> Result<()>;
    async fn check_present_export(&self, file: ExportedFile<'_>) -> Result<bool>;
    async fn remove_export(&self, file: ExportedFile<'_>) -> Result<()>;
    /// Removes a now-empty exported directory; removing a missing one
    /// succeeds. By default nothing to remove: on most services a folder
    /// exists only in its files' names, and is gone with them.
    async fn remove_export_directory(&self, _dir: &ExportPath, _annex: &dyn Annex) -> Result<()> {
        Ok(())
    }
    /// Moves an exported file to `to`; an error makes git-annex fall back
    /// to remove and store again.
    async fn rename_export(&self, _file: ExportedFile<'_>, _to: &ExportPath) -> Result<()> {
        Err(ProviderError::Unsupported("rename"))
    }
}

/// Capability: URLs that belong to the remote (`git annex addurl`).
#[async_trait]
pub trait UrlClaims: Send + Sync {
    /// Whether `url` belongs to this remote (CLAIMURL).
    fn claims_url(&self, url: &str) -> bool;
    /// What is behind a claimed URL (CHECKURL).
    async fn check_url(&self, url: &str, annex: &dyn Annex) -> Result<UrlCheck>;
}

/// A remote whose URLs each name a target of its own (a file id, a record,
/// an object): every such provider gets the same [`UrlClaims`] from it
/// (the impl below): a URL is claimed when it parses, and one that does
/// not is refused the same way everywhere.
#[async_trait]
pub trait UrlTargets: Send + Sync {
    /// What one URL names.
    type Target: Send;
    /// The target `url` names, when it belongs to this remote.
    fn parse_url(&self, url: &str) -> Option<Self::Target>;
    /// The URLs this remote claims, for the refusal of another:
    /// "a Zenodo record or file URL".
    fn claimed_urls(&self) -> String;
    /// What is behind a claimed URL (CHECKURL).
    async fn check_target(&self, target: Self::Target) -> Result<UrlCheck>;
}

#[async_trait]
impl<T: UrlTargets> UrlClaims for T {
    fn claims_url(&self, url: &str) -> bool {
        self.parse_url(url).is_some()
    }

    async fn check_url(&self, url: &str, _annex: &dyn Annex) -> Result<UrlCheck> {
        let Some(target) = self.parse_url(url) else {
            return Err(ProviderError::InvalidName(format!(
                "{url} is not {}",
                self.claimed_urls()
            )));
        };
        self.check_target(target).await
    }
}

/// Every provider kind this build knows.
pub fn registry() -> Vec<Box<dyn ProviderKind>> {
    vec![
        Box::new(s3::S3Kind),
        Box::new(directory::DirectoryKind),
        Box::new(dataverse::DataverseKind::default()),
        Box::new(github::GithubKind::default()),
        Box::new(figshare::FigshareKind::default()),
        Box::new(zenodo::ZenodoKind::default()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_exports_and_imports() {
        for kind in registry() {
            let c = kind.capabilities();
            assert!(c.export, "{} lost export support", kind.name());
            assert!(c.import, "{} lost import support", kind.name());
        }
        assert!(!find_kind("directory").unwrap().capabilities().claim_urls);
        assert!(find_kind("s3").unwrap().capabilities().claim_urls);
    }
}

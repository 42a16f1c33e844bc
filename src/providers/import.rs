//! Import sources: a service's listing becomes an annexed tree.
//!
//! A provider that can be imported from hands out an [`ImportTree`]. It
//! lists files with their size, a content identifier that changes when the
//! content changes, and the checksum the service publishes for them when
//! that checksum is trustworthy. From those, [`content_key`] names the
//! git-annex key of each file without downloading it — the same key for the
//! protocol's IMPORTKEY (newer git-annex) and for `annexa import` (any
//! git-annex), so both build the same tree.
//!
//! A file without a trustworthy checksum (an S3 multipart ETag, a release
//! asset without a digest) never gets a key that could not be verified: its
//! content is read once and hashed (SHA-256), and the caller is told so.

use crate::key::Key;
use std::path::Path;

use async_trait::async_trait;

use super::{Annex, ExportPath, ExportedFile, ProviderError, Result};
use crate::transfer::{Algorithm, Expected};

/// One file of an import source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportableFile {
    /// Its path in the tree, `/`-separated, relative to the source's root.
    pub path: String,
    pub size: u64,
    pub id: ContentId,
    /// A URL of this file that the provider's [`super::UrlClaims`] claims
    /// and its key store can download a key from (`annexa import`
    /// registers it with `git annex registerurl`); also shown in manifests.
    pub url: Option<String>,
}

/// What identifies one version of a file's content: the service's own
/// version marker (an ETag, a file id, an asset id with its update time)
/// and the checksum the service publishes for it, when it is trustworthy.
///
/// Its text form ([`ContentId::text`]) is what git-annex records; it holds
/// no space or line break, and [`ContentId::parse`] reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentId {
    pub version: String,
    pub checksum: Option<Expected>,
}

/// The characters a content identifier's version part keeps as they are.
const VERSION_ESCAPES: &percent_encoding::AsciiSet =
    &percent_encoding::CONTROLS.add(b' ').add(b'%').add(b':');

fn algorithm_tag(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Md5 => "md5",
        Algorithm::Sha1 => "sha1",
        Algorithm::Sha256 => "sha256",
        Algorithm::Sha512 => "sha512",
    }
}

fn hex_length(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::Md5 => 32,
        Algorithm::Sha1 => 40,
        Algorithm::Sha256 => 64,
        Algorithm::Sha512 => 128,
    }
}

/// Whether `hex` can be a digest of `algorithm` (services have been seen
/// to publish empty or placeholder checksums).
pub fn plausible_digest(algorithm: Algorithm, hex: &str) -> bool {
    hex.len() == hex_length(algorithm) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

impl ContentId {
    /// A content id with a published checksum; an implausible checksum is
    /// dropped (the file is then hashed, never keyed by a wrong digest).
    pub fn new(version: impl Into<String>, checksum: Option<Expected>) -> Self {
        Self {
            version: version.into(),
            checksum: checksum.filter(|c| plausible_digest(c.algorithm, &c.hex)),
        }
    }

    /// `ALGO:HEX:VERSION`, or `none::VERSION` without a checksum.
    pub fn text(&self) -> String {
        let version = percent_encoding::utf8_percent_encode(&self.version, VERSION_ESCAPES);
        match &self.checksum {
            Some(c) => format!("{}:{}:{version}", algorithm_tag(c.algorithm), c.hex),
            None => format!("none::{version}"),
        }
    }

    /// Reads back [`ContentId::text`]; `None` for anything else (a content
    /// identifier git-annex recorded for another remote type).
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ':');
        let (tag, hex, version) = (parts.next()?, parts.next()?, parts.next()?);
        let version = percent_encoding::percent_decode_str(version)
            .decode_utf8()
            .ok()?
            .into_owned();
        let checksum = match tag {
            "none" if hex.is_empty() => None,
            "none" => return None,
            tag => {
                let algorithm = Algorithm::from_name(tag)?;
                if !plausible_digest(algorithm, hex) {
                    return None;
                }
                Some(Expected::new(algorithm, hex))
            }
        };
        Some(Self { version, checksum })
    }
}

pub use crate::key::{key_extension, key_for};

/// How the key of an imported file was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// From the checksum the service publishes: no byte was read.
    Published,
    /// The service publishes none: the content was read and hashed.
    Hashed,
}

/// The key of the file at `path` (of `size` bytes, content `id`), from its
/// published checksum, or else by reading its content once through
/// `source` into `scratch` (removed afterwards) and hashing it.
pub async fn content_key(
    source: &dyn ImportTree,
    path: &ExportPath,
    size: u64,
    id: &ContentId,
    scratch: &Path,
    annex: &dyn Annex,
) -> Result<(String, KeySource)> {
    if let Some(checksum) = &id.checksum {
        return Ok((key_for(path, size, checksum), KeySource::Published));
    }
    annex.info(&format!(
        "{path}: the service publishes no checksum for it; reading its {size} bytes to hash them"
    ));
    let _ = tokio::fs::remove_file(scratch).await;
    let result = async {
        source
            .retrieve_import(
                ListedFile {
                    path,
                    size: Some(size),
                    annex,
                },
                scratch,
            )
            .await?;
        let digest = hash_file(scratch, Algorithm::Sha256).await?;
        let got = tokio::fs::metadata(scratch).await?.len();
        if got != size {
            return Err(ProviderError::integrity(format!(
                "{path} was listed with {size} bytes but {got} arrived; it changed while importing"
            )));
        }
        Ok(key_for(
            path,
            size,
            &Expected::new(Algorithm::Sha256, &digest),
        ))
    }
    .await;
    let _ = tokio::fs::remove_file(scratch).await;
    result.map(|key| (key, KeySource::Hashed))
}

/// The digest of a file, read in blocks (memory does not grow with it).
pub async fn hash_file(path: &Path, algorithm: Algorithm) -> Result<String> {
    Ok(crate::transfer::hash_file(path, algorithm).await?)
}

/// A file to fetch from an import source: its path in the tree, the size
/// it was listed with (when known), and the session to report through.
#[derive(Clone, Copy)]
pub struct ListedFile<'a> {
    pub path: &'a ExportPath,
    pub size: Option<u64>,
    pub annex: &'a dyn Annex,
}

/// Receives the files of a listing as the pages arrive.
pub trait ImportSink: Send {
    /// One more file. An error stops the listing (the reader went away).
    fn found(&mut self, file: ImportableFile) -> Result<()>;
    /// A name the listing had but that cannot be a path in a tree (an
    /// empty or `..` segment, a control character): reported, not imported.
    fn skipped(&mut self, name: &str, why: &str);
}

/// Capability: the remote can be imported from (`importtree=yes`,
/// `annexa import`).
#[async_trait]
pub trait ImportTree: Send + Sync {
    /// Lists every file, handing each to `sink` as the service's pages
    /// arrive: a listing is never collected whole.
    async fn list_importable(&self, sink: &mut dyn ImportSink, annex: &dyn Annex) -> Result<()>;

    /// Lists like [`ImportTree::list_importable`], without the per-file
    /// checks that cost a request each: a file's `id.checksum` is then only
    /// a candidate, which [`ImportTree::confirm_checksum`] must confirm
    /// before it names a key. By default the full listing (whose checksums
    /// need no confirming).
    async fn list_unconfirmed(&self, sink: &mut dyn ImportSink, annex: &dyn Annex) -> Result<()> {
        self.list_importable(sink, annex).await
    }

    /// A file of [`ImportTree::list_unconfirmed`] as the full listing gives
    /// it: its checksum kept only when it describes the content; `None`
    /// when the file is gone. By default as it is.
    async fn confirm_checksum(&self, file: ImportableFile) -> Result<Option<ImportableFile>> {
        Ok(Some(file))
    }

    /// Downloads the file now at `file.path` into `dest` (which may hold a
    /// prefix of it from an interrupted attempt), verified against the
    /// service's published checksum and the listed size when known.
    async fn retrieve_import(&self, file: ListedFile<'_>, dest: &Path) -> Result<()>;

    /// Whether the file at `path` still has the content of `key` (as far as
    /// its size and published checksum tell).
    async fn check_present_import(&self, file: ExportedFile<'_>) -> Result<bool>;
}

/// An import source whose file at a path is found in a fresh listing (or
/// lookup), then downloaded. Every such provider gets the same
/// [`ImportTree`] from it (the impl below): one check that the file is
/// still there with its listed size, one comparison with the key.
#[async_trait]
pub trait FindImported: Send + Sync {
    /// What the service says of one file, handed back to download it.
    type Found: Send + Sync;
    /// [`ImportTree::list_importable`].
    async fn list_files(&self, sink: &mut dyn ImportSink, annex: &dyn Annex) -> Result<()>;
    /// The importable file now at `path` with what the import makes of it
    /// (as [`FindImported::list_files`] would list it); `None` when there
    /// is none.
    async fn find_imported(
        &self,
        path: &ExportPath,
    ) -> Result<Option<(Self::Found, ImportableFile)>>;
    /// What the import reads, for the error of a file that is gone
    /// ("article 42").
    fn import_source(&self) -> String;
    /// Downloads `found` into `dest`, verified as the key store does.
    async fn download_imported(
        &self,
        found: &Self::Found,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()>;
    /// [`ImportTree::check_present_import`]: by default, whether the file
    /// now at `path` is listed as `key`'s content.
    async fn found_matches_key(&self, path: &ExportPath, key: &Key) -> Result<bool> {
        Ok(self
            .find_imported(path)
            .await?
            .is_some_and(|(_, file)| file_matches_key(&file, key)))
    }
}

#[async_trait]
impl<T: FindImported> ImportTree for T {
    async fn list_importable(&self, sink: &mut dyn ImportSink, annex: &dyn Annex) -> Result<()> {
        self.list_files(sink, annex).await
    }

    async fn retrieve_import(&self, listed: ListedFile<'_>, dest: &Path) -> Result<()> {
        let ListedFile { path, size, annex } = listed;
        let Some((found, file)) = self.find_imported(path).await? else {
            return Err(ProviderError::not_found(format!(
                "{path} is no longer in {}",
                self.import_source()
            )));
        };
        unchanged_since_listing(path, size, Some(file.size))?;
        self.download_imported(&found, dest, annex).await
    }

    async fn check_present_import(&self, file: ExportedFile<'_>) -> Result<bool> {
        self.found_matches_key(file.path, file.key).await
    }
}

/// Whether a listed file matches `key`: the key has a size and it agrees
/// (a key without one gives nothing to compare) and, when both have a
/// checksum of the same algorithm, so do those.
pub fn file_matches_key(file: &ImportableFile, key: &Key) -> bool {
    // An imported file's key always carries its size: one without cannot be it.
    key.size().is_some()
        && !key.is_chunk()
        && key.could_be(Some(file.size), file.id.checksum.as_ref())
}

/// The check every import download makes first: a file whose size is no
/// longer the listed one is not the content git-annex asked for.
pub fn unchanged_since_listing(path: &str, listed: Option<u64>, now: Option<u64>) -> Result<()> {
    match (listed, now) {
        (Some(want), Some(have)) if want != have => Err(ProviderError::integrity(format!(
            "{path} is now {have} bytes where {want} were listed; it changed: import again"
        ))),
        _ => Ok(()),
    }
}

/// Why an import may not write a listed file at `path`, if it may not
/// ([`super::check_export_path`]): the file is left out, and says why.
pub fn path_refusal(path: &str) -> Option<String> {
    super::check_export_path(path)
        .err()
        .map(|e| crate::error_chain_text(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn md5(hex: &str) -> Expected {
        Expected::new(Algorithm::Md5, hex)
    }

    #[test]
    fn implausible_checksums_are_dropped() {
        assert!(ContentId::new("v", Some(md5(""))).checksum.is_none());
        assert!(ContentId::new("v", Some(md5("xyz"))).checksum.is_none());
        assert!(ContentId::new("v", Some(md5(&"0".repeat(32))))
            .checksum
            .is_some());
        assert_eq!(ContentId::parse("md5:abc:v"), None);
        assert_eq!(ContentId::parse("none:ab:v"), None);
        assert_eq!(ContentId::parse("sha256"), None);
        assert_eq!(ContentId::parse("crc32::v"), None);
    }

    #[test]
    fn matching_a_key() {
        let hex = "5d41402abc4b2a76b9719d911017c592";
        let file = ImportableFile {
            path: "a".into(),
            size: 5,
            id: ContentId::new("e", Some(md5(hex))),
            url: None,
        };
        assert!(file_matches_key(
            &file,
            &Key::parse(&format!("MD5E-s5--{hex}.txt")).unwrap()
        ));
        assert!(!file_matches_key(
            &file,
            &Key::parse(&format!("MD5E-s6--{hex}")).unwrap()
        ));
        assert!(!file_matches_key(
            &file,
            &Key::parse("MD5E-s5--00000000000000000000000000000000").unwrap()
        ));
        assert!(file_matches_key(
            &file,
            &Key::parse("WORM-s5-m1--a").unwrap()
        ));
        assert!(!file_matches_key(&file, &Key::parse("WORM-m1--a").unwrap()));
    }

    proptest! {
        #[test]
        fn content_ids_round_trip_on_one_word(
            version in "\\PC{0,20}",
            hex in "[0-9a-f]{32}",
            with in any::<bool>(),
        ) {
            let id = ContentId::new(version, with.then(|| md5(&hex)));
            let text = id.text();
            prop_assert!(!text.contains([' ', '\n', '\r']));
            prop_assert_eq!(ContentId::parse(&text), Some(id));
        }

        #[test]
        fn parsing_any_text_never_panics(text in "\\PC{0,40}") {
            let _ = ContentId::parse(&text);
            let _ = key_extension(&text);
        }
    }
}

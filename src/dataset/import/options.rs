//! What an import is asked to do ([`ImportOptions`]) and what it reports
//! having done ([`ImportSummary`]).

use std::path::PathBuf;

use crate::dataset::report::SharedReporter;

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Only paths matching one of these globs (all when empty).
    pub include: Vec<String>,
    /// No path matching one of these globs.
    pub exclude: Vec<String>,
    /// The service's version of the dataset/record. Only Zenodo lists a
    /// chosen version (`version=` of its remote, set at the first import);
    /// for the others [`super::import`] refuses one rather than import the latest
    /// under a version's name.
    pub version: Option<String>,
    /// A CSV of checksums for files the service publishes none for.
    pub manifest: Option<PathBuf>,
    /// The special remote's name (default: the provider's).
    pub remote_name: Option<String>,
    /// Update the working tree (a dataset for people); the cache has none.
    pub checkout: bool,
    /// Where notices and warnings go.
    pub reporter: SharedReporter,
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    pub files: usize,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    /// Files whose content had to be read to key them (no checksum).
    pub hashed: usize,
    /// Names the listing had that cannot be paths.
    pub skipped: usize,
    pub commit: Option<String>,
}

impl ImportSummary {
    pub fn message(&self) -> String {
        format!(
            "{} files: {} added, {} changed, {} removed",
            self.files, self.added, self.changed, self.removed
        )
    }
}

//! Importing a record's files as a tree.
//!
//! The version read is the record named (a version's own id or DOI), the
//! latest for a concept id, or the `version=` asked for; a record never
//! published is read as its draft with its owner's token. Names are flat
//! on Zenodo: a name annexa's export encoded (`sub-01%2Fanat%2F...`)
//! becomes its path again, any other name is its own path. Keys come from
//! the published `md5:` checksums; the content identifier is the version's
//! record id (a published version's files never change) with that MD5.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::Path;

use async_trait::async_trait;

use super::api::{Space, ZFile};
use super::ZenodoRemote;
use crate::providers::flat_names::decode_path;
use crate::providers::import::{path_refusal, ContentId, FindImported};
use crate::providers::{Annex, ExportPath, ImportSink, ImportableFile, ProviderError, Result};

/// The tree path of a file named `name`.
fn path_of(name: &str) -> String {
    decode_path(name).unwrap_or_else(|| name.to_string())
}

/// Why `f` is not imported.
fn not_importable(f: &ZFile) -> Option<String> {
    if !f.is_complete() {
        return Some(format!("its upload is not finished (status {})", f.status));
    }
    path_refusal(&path_of(&f.key))
}

impl ZenodoRemote {
    /// The version an import reads.
    async fn import_space(&self) -> Result<Space> {
        if let Some(want) = self.version {
            let mut found = None;
            self.api
                .versions_each(&self.record, &mut |v| {
                    if v.versions.index == want {
                        found = Some(v.id);
                        return Ok(ControlFlow::Break(()));
                    }
                    Ok(ControlFlow::Continue(()))
                })
                .await?;
            return found.map(Space::Published).ok_or_else(|| {
                ProviderError::not_found(format!(
                    "Zenodo record {} has no published version {want}",
                    self.record
                ))
            });
        }
        if let Some(record) = self.api.published(&self.record).await? {
            return Ok(Space::Published(record.id));
        }
        if self.api.has_token() && self.api.draft(&self.record).await?.is_some() {
            return Ok(Space::Draft(self.record.clone()));
        }
        Err(ProviderError::not_found(format!(
            "Zenodo record {} was not found at {}{}",
            self.record,
            self.api.base(),
            if self.api.has_token() {
                ""
            } else {
                " (a draft is visible only with its owner's token)"
            }
        )))
    }

    fn importable(&self, space: &Space, f: &ZFile) -> ImportableFile {
        ImportableFile {
            path: path_of(&f.key),
            size: f.size,
            id: ContentId::new(space.record(), f.md5()),
            // A published file's URL is claimed and fetched by key mode.
            url: matches!(space, Space::Published(_))
                .then(|| self.api.content_url(space, &f.key).to_string()),
        }
    }
}

#[async_trait]
impl FindImported for ZenodoRemote {
    type Found = (Space, ZFile);

    async fn list_files(&self, sink: &mut dyn ImportSink, _annex: &dyn Annex) -> Result<()> {
        let space = self.import_space().await?;
        let mut paths: HashSet<String> = HashSet::new();
        for f in self.api.files(&space).await? {
            if let Some(why) = not_importable(&f) {
                sink.skipped(&f.key, &why);
                continue;
            }
            if !paths.insert(path_of(&f.key)) {
                sink.skipped(&f.key, "another file has the same path");
                continue;
            }
            sink.found(self.importable(&space, &f))?;
        }
        Ok(())
    }

    async fn find_imported(
        &self,
        path: &ExportPath,
    ) -> Result<Option<((Space, ZFile), ImportableFile)>> {
        let space = self.import_space().await?;
        let found = self
            .api
            .files(&space)
            .await?
            .into_iter()
            .find(|f| path_of(&f.key) == path.as_str() && not_importable(f).is_none());
        Ok(found.map(|f| {
            let file = self.importable(&space, &f);
            ((space, f), file)
        }))
    }

    fn import_source(&self) -> String {
        format!("Zenodo record {}", self.record)
    }

    async fn download_imported(
        &self,
        (space, f): &(Space, ZFile),
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        self.get(space, f, dest, annex).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_names_become_paths_again() {
        assert_eq!(
            path_of("sub-01%2Fanat%2FT1w.nii.gz"),
            "sub-01/anat/T1w.nii.gz"
        );
        assert_eq!(path_of("100% sure.txt"), "100% sure.txt");
        let f = |key: &str, status: &str| ZFile {
            key: key.into(),
            size: 1,
            checksum: "md5:5d41402abc4b2a76b9719d911017c592".into(),
            status: status.into(),
        };
        assert_eq!(not_importable(&f("a.csv", "completed")), None);
        assert!(not_importable(&f("a.csv", "pending")).is_some());
        assert!(not_importable(&f("..%2Fx", "completed")).is_some());
    }
}

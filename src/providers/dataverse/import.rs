//! Importing a dataset's files as a tree.
//!
//! The files are those of the latest version this user can see (`:latest`:
//! the draft when the token can see one, else the latest published
//! version), each at `directoryLabel/label` (below `rootpath=` when set).
//! An ingested table is imported under its original name with its original
//! bytes, which are what Dataverse's checksum and `format=original` give.
//!
//! Keys come from the checksum Dataverse records for every file (MD5,
//! SHA-1, SHA-256 or SHA-512, whichever the installation uses), unless
//! `skipchecksum=yes` says not to trust them: then each file is hashed. The
//! content identifier is the file id: Dataverse gives a replaced file a
//! new one.

use std::path::Path;
use std::time::Instant;

use async_trait::async_trait;

use super::api::FileMetadata;
use super::{DataverseRemote, FileRef};
use crate::providers::import::{path_refusal, ContentId, FindImported};
use crate::providers::{Annex, ExportPath, ImportSink, ImportableFile, ProviderError, Result};

/// The version an import reads.
const IMPORTED_VERSION: &str = ":latest";

/// The path of `f` in the imported tree, relative to `root`; `None` when
/// it lies outside the root.
fn tree_path(root: &str, f: &FileMetadata) -> Option<String> {
    let label = match (&f.data_file.original_file_name, f.data_file.tabular_data) {
        (Some(original), true) => original.as_str(),
        _ => f.label.as_str(),
    };
    let folder = f.folder();
    let relative = if root.is_empty() {
        folder
    } else if folder == root {
        ""
    } else {
        folder.strip_prefix(root)?.strip_prefix('/')?
    };
    Some(if relative.is_empty() {
        label.to_string()
    } else {
        format!("{relative}/{label}")
    })
}

/// The folder and label a tree path names (the inverse of [`tree_path`]).
fn tree_location(root: &str, path: &ExportPath) -> (String, String) {
    let (folder, label) = path.rsplit_once('/').unwrap_or(("", path));
    let folder = match (root.is_empty(), folder.is_empty()) {
        (true, _) => folder.to_string(),
        (false, true) => root.to_string(),
        (false, false) => format!("{root}/{folder}"),
    };
    (folder, label.to_string())
}

impl DataverseRemote {
    /// What the import makes of `f`: the file, or why it cannot be one.
    fn importable(
        &self,
        f: &FileMetadata,
        path: String,
    ) -> std::result::Result<ImportableFile, String> {
        if let Some(why) = path_refusal(&path) {
            return Err(why);
        }
        let size = f
            .data_file
            .content_size()
            .ok_or_else(|| "Dataverse lists no size for it".to_string())?;
        let checksum = if self.skip_checksum {
            None
        } else {
            f.data_file.expected()
        };
        let id = FileRef::Id(f.data_file.id);
        Ok(ImportableFile {
            path,
            size,
            id: ContentId::new(f.data_file.id.to_string(), checksum),
            url: Some(self.api.access_url(&id).to_string()),
        })
    }
}

#[async_trait]
impl FindImported for DataverseRemote {
    type Found = FileMetadata;

    async fn list_files(&self, sink: &mut dyn ImportSink, _annex: &dyn Annex) -> Result<()> {
        let found = self
            .api
            .files_each::<ProviderError>(IMPORTED_VERSION, &mut |f| {
                let Some(path) = tree_path(&self.root, &f) else {
                    return Ok(());
                };
                match self.importable(&f, path.clone()) {
                    Ok(file) => sink.found(file),
                    Err(why) => {
                        sink.skipped(&path, &why);
                        Ok(())
                    }
                }
            })
            .await?;
        if !found {
            return Err(ProviderError::not_found(format!(
                "dataset {} has no version this user can see",
                self.api.pid()
            )));
        }
        Ok(())
    }

    /// The file now at tree path `path` of the imported version, from a
    /// listing begun now: never from the cache, a file gone meanwhile must
    /// not count.
    async fn find_imported(
        &self,
        path: &ExportPath,
    ) -> Result<Option<(FileMetadata, ImportableFile)>> {
        let (folder, label) = tree_location(&self.root, path);
        let found = self.find_fresh(&folder, &label, Instant::now()).await?;
        Ok(found.and_then(|f| {
            let file = self.importable(&f, path.to_string()).ok()?;
            Some((f, file))
        }))
    }

    fn import_source(&self) -> String {
        format!("the latest version of dataset {}", self.api.pid())
    }

    async fn download_imported(
        &self,
        f: &FileMetadata,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        self.download_file(f, dest, annex).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::from_json;

    #[test]
    fn paths_follow_folders_and_original_names() {
        let meta = from_json::<FileMetadata>;
        let table = meta(serde_json::json!({
            "label": "data.tab", "directoryLabel": "a/b",
            "dataFile": {"id": 7, "tabularData": true, "originalFileName": "data.csv",
                         "filesize": 10, "originalFileSize": 12}
        }));
        let top = meta(serde_json::json!({
            "label": "x.nii.gz", "dataFile": {"id": 8, "filesize": 3}
        }));
        assert_eq!(tree_path("", &table).as_deref(), Some("a/b/data.csv"));
        assert_eq!(tree_path("", &top).as_deref(), Some("x.nii.gz"));
        assert_eq!(tree_path("a", &table).as_deref(), Some("b/data.csv"));
        assert_eq!(tree_path("a/b", &table).as_deref(), Some("data.csv"));
        assert_eq!(tree_path("a/bc", &table), None);
        assert_eq!(tree_path("a", &top), None);
        for root in ["", "a", "a/b"] {
            let path = tree_path(root, &table).unwrap();
            let (folder, label) = tree_location(root, &ExportPath::new(path).unwrap());
            assert!(table.is_at(&folder, &label), "{root}: {folder} {label}");
        }
    }
}

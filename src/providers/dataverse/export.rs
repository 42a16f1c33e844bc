//! Export mode (`exporttree=yes`): the tree under ROOT with its own names.

use std::path::Path;
use std::time::Instant;

use async_trait::async_trait;

use super::api::NewFile;
use super::{matches_key, same_content, DataverseRemote, DvError, MOVE_TO_TOP};
use crate::providers::{ExportPath, ExportTree, ExportedFile, ProviderError, Result};

#[async_trait]
impl ExportTree for DataverseRemote {
    async fn store_export(&self, file: ExportedFile<'_>, src: &Path) -> Result<()> {
        let (folder, label) = self.export_location(file.path);
        let annex = file.annex;
        // A new file (the usual case) costs one upload: the cache says it
        // is absent, and if that is stale Dataverse renames the upload,
        // which upload_new settles. A file the cache knows is checked on the
        // server before it is kept or replaced.
        let mut existing = self.find_latest(&folder, &label).await?;
        if existing.is_some() {
            existing = self.find_current(&folder, &label).await?;
        }
        if let Some(f) = &existing {
            if same_content(f, src).await? {
                return Ok(());
            }
        }
        let replace = existing.map(|f| f.data_file.id);
        let (f, ours) = self
            .upload_new(&folder, &label, src, replace, annex)
            .await?;
        // Someone else's file had the name: ours must replace it.
        if !ours && !same_content(&f, src).await? {
            self.upload_new(&folder, &label, src, Some(f.data_file.id), annex)
                .await?;
        }
        Ok(())
    }

    async fn retrieve_export(&self, file: ExportedFile<'_>, dest: &Path) -> Result<()> {
        let (folder, label) = self.export_location(file.path);
        if self
            .download_latest(&folder, &label, dest, file.annex)
            .await?
        {
            return Ok(());
        }
        Err(ProviderError::not_found(format!(
            "{} is not in the latest version of dataset {}",
            file.path,
            self.api.pid()
        )))
    }

    async fn check_present_export(&self, file: ExportedFile<'_>) -> Result<bool> {
        let (folder, label) = self.export_location(file.path);
        // Never from the cache: see LatestFiles.
        Ok(self
            .find_fresh(&folder, &label, Instant::now())
            .await?
            .is_some_and(|f| matches_key(&f, file.key)))
    }

    async fn remove_export(&self, file: ExportedFile<'_>) -> Result<()> {
        let (folder, label) = self.export_location(file.path);
        if let Some(f) = self.find_current(&folder, &label).await? {
            match self.api.delete(f.data_file.id).await {
                Ok(()) | Err(DvError::NotFound(_)) => self.cache_remove(f.data_file.id).await,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn rename_export(&self, file: ExportedFile<'_>, to: &ExportPath) -> Result<()> {
        let name = file.path;
        let (folder, label) = self.export_location(name);
        let (to_folder, to_label) = self.export_location(to);
        let f = self.find_current(&folder, &label).await?.ok_or_else(|| {
            ProviderError::not_found(format!("{name} is not in the dataset's latest version"))
        })?;
        // Before 6.8 Dataverse ignores an empty directoryLabel (the file
        // would stay in its folder): refused, so git-annex falls back to
        // uploading the file under its new name and removing the old one.
        if to_folder.is_empty()
            && !f.folder().is_empty()
            && self.api.older_than(MOVE_TO_TOP).await?
        {
            return Err(ProviderError::Service {
                message: format!(
                    "cannot move {name} to the dataset's top folder by renaming: Dataverse {} \
                     ignores an empty folder name before {MOVE_TO_TOP}; the file is uploaded \
                     again under its new name instead",
                    self.api
                        .server_version()
                        .await?
                        .map_or_else(|| "this installation".into(), |v| v.to_string())
                ),
                source: None,
            });
        }
        let to = NewFile {
            folder: &to_folder,
            label: &to_label,
        };
        self.api.rename(f.data_file.id, &to).await?;
        self.cache_rename(f.data_file.id, &to).await;
        Ok(())
    }
}

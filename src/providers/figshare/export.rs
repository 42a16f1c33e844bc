//! Export mode (`exporttree=yes`): each file is an article file whose flat
//! name encodes its whole path.

use std::path::Path;

use async_trait::async_trait;

use super::{matches_key, FigshareRemote};
use crate::providers::flat_names::encode_path;
use crate::providers::{ExportTree, ExportedFile, ProviderError, Result};

#[async_trait]
impl ExportTree for FigshareRemote {
    async fn store_export(&self, file: ExportedFile<'_>, src: &Path) -> Result<()> {
        self.put(&encode_path(file.path), src, file.annex).await?;
        Ok(())
    }

    async fn retrieve_export(&self, file: ExportedFile<'_>, dest: &Path) -> Result<()> {
        match self.find(&encode_path(file.path)).await? {
            Some(f) => self.download(&f, dest, file.annex).await,
            None => Err(ProviderError::not_found(format!(
                "{} is not in article {}",
                file.path,
                self.api.article()
            ))),
        }
    }

    async fn check_present_export(&self, file: ExportedFile<'_>) -> Result<bool> {
        Ok(self
            .find(&encode_path(file.path))
            .await?
            .is_some_and(|f| matches_key(&f, file.key)))
    }

    async fn remove_export(&self, file: ExportedFile<'_>) -> Result<()> {
        let files = self.named(&encode_path(file.path)).await?;
        // As for keys: a file of a key naming no content (datalad-annex's
        // `.datalad/dotgit/refs`) leaves the draft only.
        if file.key.identifies_content() {
            self.check_unpublished(file.path, &files).await?;
        }
        self.delete_all(&files).await
    }
}

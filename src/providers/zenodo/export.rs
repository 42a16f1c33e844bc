//! Export mode (`exporttree=yes`): each file of the record has a flat name
//! that encodes its whole path.

use std::path::Path;

use async_trait::async_trait;

use super::{matches_key, ZenodoRemote};
use crate::providers::flat_names::encode_path;
use crate::providers::{ExportTree, ExportedFile, ProviderError, Result};

#[async_trait]
impl ExportTree for ZenodoRemote {
    async fn store_export(&self, file: ExportedFile<'_>, src: &Path) -> Result<()> {
        self.put(&encode_path(file.path), src, file.annex).await?;
        Ok(())
    }

    async fn retrieve_export(&self, file: ExportedFile<'_>, dest: &Path) -> Result<()> {
        match self.find(&encode_path(file.path)).await? {
            Some((space, f)) => self.get(&space, &f, dest, file.annex).await,
            None => Err(ProviderError::not_found(format!(
                "{} is not in Zenodo record {}",
                file.path, self.record
            ))),
        }
    }

    async fn check_present_export(&self, file: ExportedFile<'_>) -> Result<bool> {
        Ok(self
            .find(&encode_path(file.path))
            .await?
            .is_some_and(|(_, f)| matches_key(&f, file.key)))
    }

    async fn remove_export(&self, file: ExportedFile<'_>) -> Result<()> {
        let name = encode_path(file.path);
        self.remove_name(file.path, &name, file.key, file.annex)
            .await
    }
}

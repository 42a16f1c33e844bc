//! Export mode (`exporttree=yes`): each file is an article file whose flat
//! name encodes its whole path.

use std::path::Path;

use async_trait::async_trait;

use super::{matches_key, FigshareRemote};
use crate::key::Key;
use crate::providers::{Annex, ExportTree, ProviderError, Result};

#[async_trait]
impl ExportTree for FigshareRemote {
    async fn store_export(
        &self,
        name: &str,
        _key: &Key,
        src: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        let flat = Self::export_name(name)?;
        self.put(&flat, src, annex).await?;
        Ok(())
    }

    async fn retrieve_export(
        &self,
        name: &str,
        _key: &Key,
        dest: &Path,
        annex: &dyn Annex,
    ) -> Result<()> {
        let flat = Self::export_name(name)?;
        match self.find(&flat).await? {
            Some(f) => self.download(&f, dest, annex).await,
            None => Err(ProviderError::not_found(format!(
                "{name} is not in article {}",
                self.api.article()
            ))),
        }
    }

    async fn check_present_export(
        &self,
        name: &str,
        key: &Key,
        _annex: &dyn Annex,
    ) -> Result<bool> {
        let flat = Self::export_name(name)?;
        Ok(self
            .find(&flat)
            .await?
            .is_some_and(|f| matches_key(&f, key)))
    }

    async fn remove_export(&self, name: &str, key: &Key, _annex: &dyn Annex) -> Result<()> {
        let flat = Self::export_name(name)?;
        let files = self.named(&flat).await?;
        // As for keys: a file of a key naming no content (datalad-annex's
        // `.datalad/dotgit/refs`) leaves the draft only.
        if key.identifies_content() {
            self.check_unpublished(name, &files).await?;
        }
        self.delete_all(&files).await
    }
}

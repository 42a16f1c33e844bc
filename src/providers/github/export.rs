//! Export mode (`exporttree=yes`): each file is an asset whose name
//! encodes its whole path.

use std::path::Path;

use async_trait::async_trait;

use super::{digest_agrees, naming, write_empty, GithubRemote, Located, EMPTY_STATE};
use crate::providers::{ExportPath, ExportTree, ExportedFile, ProviderError, Result};

/// The asset name of an export path.
fn export_name(path: &ExportPath) -> String {
    naming::encode(path)
}

#[async_trait]
impl ExportTree for GithubRemote {
    async fn store_export(&self, file: ExportedFile<'_>, src: &Path) -> Result<()> {
        let ExportedFile { path, key, annex } = file;
        let asset = export_name(path);
        if tokio::fs::metadata(src).await?.len() == 0 {
            annex.set_state(key.as_str(), EMPTY_STATE).await?;
            return Ok(());
        }
        self.put(&asset, key, src, annex).await?;
        Ok(())
    }

    async fn retrieve_export(&self, file: ExportedFile<'_>, dest: &Path) -> Result<()> {
        let ExportedFile { path, key, annex } = file;
        let asset_name = export_name(path);
        if self.get_named(&asset_name, key, dest, annex).await? {
            return Ok(());
        }
        if self.empty_stored(key, annex).await? {
            return write_empty(dest).await;
        }
        Err(ProviderError::not_found(format!(
            "{path} is not in release {} of {}",
            self.tag, self.repo
        )))
    }

    async fn check_present_export(&self, file: ExportedFile<'_>) -> Result<bool> {
        let ExportedFile { path, key, annex } = file;
        let asset_name = export_name(path);
        if let Some(asset) = self.lookup(&asset_name).await? {
            let size_ok = key.content_size().map_or(true, |s| s == asset.size);
            return Ok(size_ok && digest_agrees(&asset, key));
        }
        self.empty_stored(key, annex).await
    }

    async fn remove_export(&self, file: ExportedFile<'_>) -> Result<()> {
        let asset_name = export_name(file.path);
        if let Some(asset) = self.lookup_any(&asset_name).await? {
            self.api.delete_asset(&self.repo, asset.id).await?;
            self.note(&asset_name, None).await;
        }
        Ok(())
    }

    async fn rename_export(&self, file: ExportedFile<'_>, to: &ExportPath) -> Result<()> {
        let from = export_name(file.path);
        let to = export_name(to);
        let Located { release, asset } = self
            .locate(&from)
            .await?
            .filter(|l| l.asset.uploaded())
            .ok_or_else(|| {
            ProviderError::not_found(format!("{} is not exported", file.path))
        })?;
        if let Some(old) = self.lookup_any(&to).await? {
            self.api.delete_asset(&self.repo, old.id).await?;
            self.note(&to, None).await;
        }
        let renamed = self.api.rename_asset(&self.repo, asset.id, &to).await?;
        self.note(&from, None).await;
        self.note(&renamed.name.clone(), Some((release, renamed.clone())))
            .await;
        if renamed.name != to {
            return Err(ProviderError::InvalidName(format!(
                "GitHub renamed asset {to:?} to {:?}",
                renamed.name
            )));
        }
        Ok(())
    }
}

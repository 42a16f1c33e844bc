//! Importing a release's assets as a tree.
//!
//! Assets are flat: a name annexa's export encoded (`sub-01_2Fanat_2F...`)
//! becomes its path again, any other name is its own path, and of two
//! assets with one path the first listed is imported. Keys come from
//! the `sha256:` digest GitHub publishes for assets (since mid-2025); an
//! asset without one is hashed once. The content identifier is the asset
//! id with its update time: replacing an asset makes a new id, and an
//! asset changed in place gets a new update time.

use std::collections::HashSet;
use std::path::Path;

use async_trait::async_trait;

use super::{download_url, naming, Asset, GithubRemote};
use crate::providers::import::{path_refusal, ContentId, FindImported};
use crate::providers::{Annex, ExportPath, ImportSink, ImportableFile, Result};

/// The tree path of the asset named `name`.
fn path_of(name: &str) -> String {
    naming::decode(name).unwrap_or_else(|| name.to_string())
}

/// Why `asset` is not imported, if it is not.
fn not_importable(asset: &Asset) -> Option<String> {
    if !asset.uploaded() {
        return Some(format!(
            "its upload is not finished (state {})",
            asset.state.as_deref().unwrap_or("unknown")
        ));
    }
    path_refusal(&path_of(&asset.name))
}

/// The content identifier of an asset as it is now.
fn content_id(asset: &Asset) -> ContentId {
    ContentId::new(
        format!(
            "{}@{}",
            asset.id,
            asset.updated_at.as_deref().unwrap_or_default()
        ),
        asset.sha256(),
    )
}

impl GithubRemote {
    fn importable(&self, asset: &Asset) -> ImportableFile {
        ImportableFile {
            path: path_of(&asset.name),
            size: asset.size,
            id: content_id(asset),
            url: Some(download_url(&self.web, &self.repo, &self.tag, &asset.name)),
        }
    }
}

#[async_trait]
impl FindImported for GithubRemote {
    type Found = Asset;

    async fn list_files(&self, sink: &mut dyn ImportSink, _annex: &dyn Annex) -> Result<()> {
        let id = self.release_id().await?;
        // Paths seen: an encoded name and a plain one may give the same.
        let mut paths: HashSet<String> = HashSet::new();
        self.api
            .assets_each(&self.repo, id, &mut |asset| {
                if let Some(why) = not_importable(&asset) {
                    sink.skipped(&asset.name, &why);
                    return Ok(());
                }
                if !paths.insert(path_of(&asset.name)) {
                    sink.skipped(&asset.name, "another asset has the same path");
                    return Ok(());
                }
                sink.found(self.importable(&asset))
            })
            .await
    }

    /// The complete asset at `path` now, if it is one that is imported:
    /// the one annexa's export named, else one of that very name.
    async fn find_imported(&self, path: &ExportPath) -> Result<Option<(Asset, ImportableFile)>> {
        let encoded = naming::encode(path);
        for name in [encoded.as_str(), path.as_str()] {
            let found = self
                .lookup(name)
                .await?
                .filter(|a| path_of(&a.name) == path.as_str() && not_importable(a).is_none());
            if let Some(asset) = found {
                let file = self.importable(&asset);
                return Ok(Some((asset, file)));
            }
        }
        Ok(None)
    }

    fn import_source(&self) -> String {
        format!("release {} of {}", self.tag, self.repo)
    }

    async fn download_imported(&self, asset: &Asset, dest: &Path, annex: &dyn Annex) -> Result<()> {
        let progress = |b| annex.progress(b);
        self.api
            .download(&self.repo, asset, dest, asset.sha256(), &progress)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::from_json;
    use crate::transfer::{Algorithm, Expected};

    #[test]
    fn content_ids_follow_replacements_and_digests() {
        let asset = from_json::<Asset>;
        let hex = "ab".repeat(32);
        let a = asset(serde_json::json!({
            "id": 5, "name": "a.zip", "size": 3, "state": "uploaded",
            "digest": format!("sha256:{hex}"), "updated_at": "2025-01-01T00:00:00Z"
        }));
        let id = content_id(&a);
        assert_eq!(id.checksum, Some(Expected::new(Algorithm::Sha256, &hex)));
        let changed = asset(serde_json::json!({
            "id": 5, "name": "a.zip", "size": 3, "digest": null,
            "updated_at": "2025-02-01T00:00:00Z"
        }));
        assert_ne!(content_id(&changed).text(), id.text());
        assert_eq!(content_id(&changed).checksum, None);
        let replaced = asset(serde_json::json!({
            "id": 6, "name": "a.zip", "size": 3, "digest": format!("sha256:{hex}"),
            "updated_at": "2025-01-01T00:00:00Z"
        }));
        assert_ne!(content_id(&replaced).text(), id.text());
        let starter = asset(serde_json::json!({
            "id": 7, "name": "b", "size": 0, "state": "starter"
        }));
        assert!(not_importable(&starter).is_some());
        assert_eq!(not_importable(&a), None);
    }
}

//! Importing an article's files as a tree.
//!
//! The files are those this user sees: the private, editable article with
//! the token of its owner, else its latest published version. Figshare
//! names are flat: a name annexa's export encoded (`sub-01%2Fanat%2F...`)
//! becomes its path again, any other name is its own path. Keys come from
//! `computed_md5`, the MD5 Figshare computes itself once a file is
//! processed; `supplied_md5` is whatever the uploader claimed and is never
//! used. The content identifier is the file id: a changed file is a new
//! file on Figshare.

use std::collections::HashSet;
use std::path::Path;

use async_trait::async_trait;

use super::{FigshareRemote, FsFile};
use crate::providers::flat_names::decode_path;
use crate::providers::import::{path_refusal, ContentId, FindImported};
use crate::providers::{Annex, ExportPath, ImportSink, ImportableFile, Result};

/// The tree path of a file named `name`.
fn path_of(name: &str) -> String {
    decode_path(name).unwrap_or_else(|| name.to_string())
}

/// Why `f` is not imported. Only the private view lists a processing
/// `status`: a file it lists is imported once Figshare has processed it.
fn not_importable(f: &FsFile) -> Option<String> {
    if f.is_link_only {
        return Some("a link to elsewhere, not a file Figshare holds".into());
    }
    if f.status.is_some() && !f.is_available() {
        return Some(format!(
            "Figshare is still processing it (status {})",
            f.status.as_deref().unwrap_or("unknown")
        ));
    }
    path_refusal(&path_of(&f.name))
}

impl FigshareRemote {
    fn importable(&self, f: &FsFile) -> ImportableFile {
        ImportableFile {
            path: path_of(&f.name),
            size: f.size,
            id: ContentId::new(f.id.to_string(), f.md5()),
            url: Some(self.api.download_url(f.id).to_string()),
        }
    }
}

#[async_trait]
impl FindImported for FigshareRemote {
    type Found = FsFile;

    async fn list_files(&self, sink: &mut dyn ImportSink, _annex: &dyn Annex) -> Result<()> {
        // Paths seen: Figshare allows two files of one name, a tree does not.
        let mut paths: HashSet<String> = HashSet::new();
        self.api
            .visible_files_each(&mut |f| {
                if let Some(why) = not_importable(&f) {
                    sink.skipped(&f.name, &why);
                    return Ok(());
                }
                if !paths.insert(path_of(&f.name)) {
                    sink.skipped(
                        &f.name,
                        &format!(
                            "another file of that name came first (this one is file {})",
                            f.id
                        ),
                    );
                    return Ok(());
                }
                sink.found(self.importable(&f))
            })
            .await?;
        Ok(())
    }

    /// The first importable file at `path` in the listing, as
    /// [`FindImported::list_files`] chooses.
    async fn find_imported(&self, path: &ExportPath) -> Result<Option<(FsFile, ImportableFile)>> {
        let mut found: Option<FsFile> = None;
        self.api
            .visible_files_each(&mut |f| {
                if found.is_none()
                    && path_of(&f.name) == path.as_str()
                    && not_importable(&f).is_none()
                {
                    found = Some(f);
                }
                Ok(())
            })
            .await?;
        Ok(found.map(|f| {
            let file = self.importable(&f);
            (f, file)
        }))
    }

    fn import_source(&self) -> String {
        format!("article {}", self.api.article())
    }

    async fn download_imported(&self, f: &FsFile, dest: &Path, annex: &dyn Annex) -> Result<()> {
        self.download(f, dest, annex).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::from_json;

    #[test]
    fn only_processed_files_with_path_names_are_imported() {
        use serde_json::json;
        let public = json!({"id": 5, "name": "d", "size": 1});
        for (listed, importable) in [
            (
                json!({"id": 1, "name": "a.csv", "size": 3, "status": "available",
                       "computed_md5": "5d41402abc4b2a76b9719d911017c592", "supplied_md5": "bogus"}),
                true,
            ),
            (
                json!({"id": 2, "name": "b.csv", "size": 3, "status": "ic_checking", "computed_md5": ""}),
                false,
            ),
            (json!({"id": 3, "name": "c", "is_link_only": true}), false),
            (json!({"id": 4, "name": "..", "computed_md5": "x"}), false),
            // A published file without computed_md5 is imported (and hashed).
            (public.clone(), true),
        ] {
            let file: FsFile = from_json(listed.clone());
            assert_eq!(not_importable(&file).is_none(), importable, "{listed}");
        }
        assert_eq!(from_json::<FsFile>(public).md5(), None);
    }
}

//! The source's files as the new tree will hold them: listed through the
//! provider, filtered by `--include`/`--exclude`, stripped of names that
//! cannot be paths, and keyed (from the published checksum, else from the
//! checksum CSV, else by hashing the content).

use std::path::Path;

use super::checksums::Manifest;
use super::provider::{import_kind, importable_path};
use super::standalone::StandaloneAnnex;
use crate::dataset::report::{Reporter, SharedReporter};
use crate::dataset::DatasetError;
use crate::providers::import::{content_key, key_for, KeySource};
use crate::providers::{self, ExportPath, ImportSink, ImportableFile};

/// One file of the new tree.
#[derive(Debug, Clone)]
pub(super) struct Listed {
    pub(super) path: String,
    pub(super) key: String,
    pub(super) url: Option<String>,
}

pub(super) struct Listing {
    pub(super) files: Vec<Listed>,
    pub(super) hashed: usize,
    pub(super) skipped: usize,
}

/// Globs of `--include`/`--exclude`, matched against whole paths
/// (`*` stays within a folder, `**` crosses folders).
pub(super) struct PathFilter {
    include: Option<globset::GlobSet>,
    exclude: Option<globset::GlobSet>,
}

impl PathFilter {
    pub(super) fn new(include: &[String], exclude: &[String]) -> Result<Self, DatasetError> {
        let set = |globs: &[String]| -> Result<Option<globset::GlobSet>, DatasetError> {
            if globs.is_empty() {
                return Ok(None);
            }
            let mut builder = globset::GlobSetBuilder::new();
            for glob in globs {
                let parsed = globset::GlobBuilder::new(glob)
                    .literal_separator(true)
                    .build()
                    .map_err(|source| DatasetError::BadGlob {
                        glob: glob.clone(),
                        source,
                    })?;
                builder.add(parsed);
            }
            builder.build().map(Some).map_err(DatasetError::BadGlobs)
        };
        Ok(Self {
            include: set(include)?,
            exclude: set(exclude)?,
        })
    }

    fn keeps(&self, path: &str) -> bool {
        self.include.as_ref().map_or(true, |s| s.is_match(path))
            && !self.exclude.as_ref().is_some_and(|s| s.is_match(path))
    }
}

/// Collects the listing, dropping names that cannot be paths (as the
/// protocol's listing does) and those the filters leave out.
struct Collector<'a> {
    filter: &'a PathFilter,
    files: Vec<ImportableFile>,
    skipped: usize,
    reporter: &'a dyn Reporter,
}

impl ImportSink for Collector<'_> {
    fn found(&mut self, file: ImportableFile) -> providers::Result<()> {
        if let Err(why) = importable_path(&file.path) {
            self.skipped(&file.path, &why);
            return Ok(());
        }
        if self.filter.keeps(&file.path) {
            self.files.push(file);
        }
        Ok(())
    }

    fn skipped(&mut self, name: &str, why: &str) {
        self.skipped += 1;
        self.reporter.warning(&format!(
            "not imported: {} ({why})",
            crate::dataset::report::shown_path(name)
        ));
    }
}

/// Lists the source through its provider and keys every file: from the
/// published checksum, else from the manifest, else by hashing it.
pub(super) fn list_source(
    dir: &Path,
    params: &[(String, String)],
    filter: &PathFilter,
    manifest: Option<&Manifest>,
    reporter: SharedReporter,
    record: Option<&Path>,
) -> Result<Listing, DatasetError> {
    let (kind, provider_name) = import_kind(params)?;
    let git_dir = dir.join(".git");
    let scratch_dir = git_dir.join("annex/tmp");
    std::fs::create_dir_all(&scratch_dir).map_err(|e| DatasetError::io(&scratch_dir, e))?;
    let scratch = scratch_dir.join(format!("annexa-import-{}", std::process::id()));
    let annex = StandaloneAnnex::new(params, git_dir, reporter.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| DatasetError::io("tokio runtime", e))?;
    runtime.block_on(async {
        let provider = kind.prepare(&annex).await?;
        let source = provider
            .import()
            .ok_or_else(|| DatasetError::NoImportTree(provider_name.clone()))?;
        let mut sink = Collector {
            filter,
            files: Vec::new(),
            skipped: 0,
            reporter: &*reporter,
        };
        source.list_importable(&mut sink, &annex).await?;
        if let Some(record) = record {
            let mut writer = crate::dataset::listed::RecordWriter::create(record)?;
            for file in &sink.files {
                writer.add(file, true)?;
            }
            writer.finish()?;
        }
        let mut listing = Listing {
            files: Vec::with_capacity(sink.files.len()),
            hashed: 0,
            skipped: sink.skipped,
        };
        for file in sink.files {
            let from_manifest = manifest
                .filter(|_| file.id.checksum.is_none())
                .and_then(|m| m.get(&file.path))
                .filter(|(size, _)| *size == file.size);
            let key = match from_manifest {
                Some((_, checksum)) => key_for(&file.path, file.size, checksum),
                None => {
                    let path = ExportPath::new(file.path.as_str())?;
                    let (key, how) =
                        content_key(source, &path, file.size, &file.id, &scratch, &annex).await?;
                    if how == KeySource::Hashed {
                        listing.hashed += 1;
                    }
                    key
                }
            };
            listing.files.push(Listed {
                path: file.path,
                key,
                url: file.url,
            });
        }
        Ok::<_, DatasetError>(listing)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = PathFilter::new(&["sub-*/**".into()], &["**/*.json".into()]).unwrap();
        assert!(f.keeps("sub-01/anat/x.nii.gz"));
        assert!(!f.keeps("sub-01/anat/x.json"));
        assert!(!f.keeps("README"));
    }
}

//! `annexa import`: a service's listing becomes a DataLad dataset whose
//! annexed files have the keys the remote's IMPORTKEY gives, with an
//! annexa special remote (autoenabled) that gets them through the URLs
//! registered for each key. Works with any git-annex: the tree is built
//! with git's own batch tools, not `git annex import`.
//!
//! The whole tree is written by one `git fast-import` (one commit on the
//! branch, one on `refs/annexa/import/REMOTE`, which records what the last
//! import brought so a refresh knows what the service removed), and every
//! URL by one `git annex registerurl --batch`.
//!
//! One job per file: [`options`] says what to import, [`repository`]
//! makes the dataset and its annexa remote, [`provider`] finds the
//! provider and checks names, [`listing`] asks it for the files and keys
//! them ([`checksums`] reads a checksum CSV, [`standalone`] is the
//! provider's git-annex outside the protocol), [`fast_import`] writes the
//! tree and [`registration`] the git-annex branch's URL and presence logs.
//! This file holds the entry points and puts those steps in order.

mod checksums;
mod fast_import;
mod listing;
mod options;
mod provider;
mod registration;
mod repository;
mod standalone;

use std::path::{Path, PathBuf};

use super::git::rev_parse;
use super::report::SharedReporter;
use super::service::ServiceSource;
use super::DatasetError;
use checksums::read_manifest;
use fast_import::{build, import_ref};
use listing::{list_source, PathFilter};
use repository::{ensure_remote, ensure_repository, record_chosen_host};

pub use options::{ImportOptions, ImportSummary};

pub(super) use provider::{import_kind, importable_path};
pub(super) use registration::recorded_urls;
pub(super) use repository::follow_endpoint;
pub(super) use standalone::StandaloneAnnex;

/// Imports `source` into the dataset at `dir` (created when missing),
/// or refreshes it.
pub fn import(
    source: &ServiceSource,
    dir: &Path,
    options: &ImportOptions,
) -> Result<ImportSummary, DatasetError> {
    import_recorded(source, dir, options, None)
}

/// [`import`], also recording the listing in `record` (see
/// [`super::listed`]) so that a listed `get` need not list again.
fn import_recorded(
    source: &ServiceSource,
    dir: &Path,
    options: &ImportOptions,
    record: Option<&Path>,
) -> Result<ImportSummary, DatasetError> {
    let remote = options
        .remote_name
        .clone()
        .unwrap_or_else(|| source.provider().to_string());
    check_remote_name(&remote)?;
    let mut params = source.params();
    match (&options.version, source) {
        (Some(version), ServiceSource::Zenodo { .. }) => {
            params.push(("version".into(), version.clone()));
        }
        (None, _) => {}
        (Some(version), _) => {
            return Err(DatasetError::VersionUnsupported {
                version: version.clone(),
                provider: source.provider(),
            })
        }
    }
    let filter = PathFilter::new(&options.include, &options.exclude)?;
    let manifest = match &options.manifest {
        Some(path) => Some(read_manifest(path)?),
        None => None,
    };
    ensure_repository(dir)?;
    record_chosen_host(dir, source)?;
    ensure_remote(dir, &remote, &params, &*options.reporter)?;
    let listing = list_source(
        dir,
        &params,
        &filter,
        manifest.as_ref(),
        options.reporter.clone(),
        record,
    )?;
    let first = rev_parse(dir, &format!("{}^{{commit}}", import_ref(&remote))).is_none();
    if first && listing.files.is_empty() {
        // Most likely a mistyped prefix or DOI, or filters that leave
        // nothing: an empty dataset would only hide that.
        return Err(DatasetError::NothingListed {
            filtered: !(options.include.is_empty() && options.exclude.is_empty()),
        });
    }
    build(dir, &remote, listing, options)
}

fn check_remote_name(name: &str) -> Result<(), DatasetError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(DatasetError::BadRemoteName(name.to_string()))
    }
}

/// `annexa import SOURCE [DIR]`: the dataset's folder and what changed.
pub fn import_command(
    text: &str,
    dir: Option<&Path>,
    hints: &super::ServiceHints,
    options: &ImportOptions,
) -> Result<(PathBuf, ImportSummary), DatasetError> {
    let hints = super::ServiceHints {
        bare_figshare_id: true,
        ..hints.clone()
    };
    let hints = match dir {
        Some(dir) => with_recorded_endpoint(text, dir, options.remote_name.as_deref(), hints)?,
        None => hints,
    };
    let source = ServiceSource::parse(text, &hints)?
        .ok_or_else(|| DatasetError::NotImportable(text.to_string()))?;
    let dir = dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(default_dir(&source)));
    let summary = import(&source, &dir, options)?;
    Ok((dir, summary))
}

/// A refresh reads the service where the first import did: without
/// `--endpoint`, an `s3://` source takes the endpoint its remote records
/// (before the environment's, which may name another server or none).
pub(super) fn with_recorded_endpoint(
    text: &str,
    dir: &Path,
    remote_name: Option<&str>,
    hints: super::ServiceHints,
) -> Result<super::ServiceHints, DatasetError> {
    if hints.endpoint.is_some() || !dir.join(".git").exists() {
        return Ok(hints);
    }
    let Some(source) = ServiceSource::parse(text, &hints)? else {
        return Ok(hints);
    };
    if !matches!(source, ServiceSource::S3 { .. }) {
        return Ok(hints);
    }
    let remote = remote_name.unwrap_or(source.provider());
    let recorded = super::remotes::recorded_remote(dir, remote)
        .and_then(|r| r.get("endpoint").map(str::to_string));
    Ok(super::ServiceHints {
        endpoint: recorded,
        ..hints
    })
}

/// Creates or refreshes the cache's imported dataset of `text` (a source
/// the cache recognised as a service): no working tree, only the branch.
pub(super) fn import_into_cache(
    text: &str,
    repo: &Path,
    reporter: &SharedReporter,
    endpoint: Option<&str>,
    record: Option<&Path>,
) -> Result<(), DatasetError> {
    let hints = super::ServiceHints {
        endpoint: endpoint.map(str::to_string),
        ..super::ServiceHints::default()
    };
    let hints = with_recorded_endpoint(text, repo, None, hints)?;
    let source = ServiceSource::parse(text, &hints)?
        .ok_or_else(|| DatasetError::NoSuchSource(text.to_string()))?;
    reporter.activity(&format!("importing the listing of {text} into the cache"));
    let options = ImportOptions {
        checkout: false,
        reporter: reporter.clone(),
        ..ImportOptions::default()
    };
    let summary = import_recorded(&source, repo, &options, record)?;
    reporter.activity(&summary.message());
    Ok(())
}

/// The folder `annexa import SOURCE` creates when none is named: the last
/// part of the source's name.
pub fn default_dir(source: &ServiceSource) -> String {
    let name = match source {
        ServiceSource::S3 { bucket, prefix, .. } => prefix
            .trim_end_matches('/')
            .rsplit('/')
            .find(|s| !s.is_empty())
            .unwrap_or(bucket)
            .to_string(),
        ServiceSource::Dataverse { pid, .. } => pid
            .rsplit(['/', ':'])
            .find(|s| !s.is_empty())
            .unwrap_or("dataverse")
            .to_string(),
        ServiceSource::Figshare { article, .. } => format!("figshare-{article}"),
        ServiceSource::Github { repo, tag, .. } => {
            format!("{}-{tag}", repo.rsplit('/').next().unwrap_or(repo))
        }
        ServiceSource::Zenodo { record, .. } => format!("zenodo-{record}"),
    };
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match clean.trim_start_matches('.') {
        "" => "import".to_string(),
        rest => rest.to_string(),
    }
}

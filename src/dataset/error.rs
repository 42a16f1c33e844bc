use crate::bids::BidsError;
use crate::providers::ProviderError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DatasetError {
    #[error(transparent)]
    Selection(#[from] BidsError),
    #[error("could not run {program} (is it installed and on PATH?)")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    #[error("{}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no dataset at {0}: not a directory and not a URL")]
    NoSuchSource(String),
    #[error("{0}: not a dataset (try `datalad create --force`, or pass the dataset's root)")]
    NotADataset(String),
    #[error("subdataset {path} is not installed in {superdataset} (run `datalad get -n {path}` there, or name a dataset URL)")]
    SubdatasetNotInstalled { path: String, superdataset: String },
    #[error("{0} is not in the cache (nothing to do)")]
    NotCached(String),
    #[error("no file matches all the filters together (each value exists on its own; try fewer filters, or `annexa ls` to see what is there)")]
    EmptySelection,
    #[error("unsafe path in the dataset tree: {0:?}")]
    UnsafePath(String),
    /// A provider failed to prepare, list or key a source: its error
    /// whole, causes included.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// `plan --shards 0`.
    #[error("--shards must be at least 1")]
    NoShards,
    /// `--shard` is not `K/N` with `1 <= K <= N`.
    #[error("--shard {0:?}: expected K/N with 1 <= K <= N, e.g. 3/8")]
    BadShard(String),
    /// `--remote-name` is not a name git-annex and git config take as is.
    #[error("--remote-name {0:?}: use letters, digits, '-', '_' and '.'")]
    BadRemoteName(String),
    /// `--version` for a service whose import cannot list a chosen version.
    #[error("--version {version}: choosing a version is not supported yet for {provider} sources; annexa imports the latest version the service shows this user (with a token that can see it, the draft)")]
    VersionUnsupported {
        version: String,
        provider: &'static str,
    },
    /// An `--include`/`--exclude` glob that does not parse.
    #[error("glob {glob:?}")]
    BadGlob {
        glob: String,
        source: globset::Error,
    },
    /// The globs parse but cannot be matched together.
    #[error("globs")]
    BadGlobs(#[source] globset::Error),
    /// The checksum CSV of `import --manifest` cannot be read.
    #[error("{}", .path.display())]
    ChecksumFile { path: PathBuf, source: csv::Error },
    /// A row of the checksum CSV is neither form it may take.
    #[error("{} row {row}: expected size,sha1,path or path,size,sha256", .path.display())]
    ChecksumRow { path: PathBuf, row: usize },
    /// `import SOURCE` names no service annexa imports from.
    #[error("{0} is not a source annexa can import: use s3://BUCKET/PREFIX, doi:..., a Dataverse dataset URL, a Figshare article URL or id, a GitHub release URL, or a Zenodo DOI or record URL")]
    NotImportable(String),
    /// A service source that is malformed (no bucket, an id that is not
    /// a number, ...).
    #[error("{text}: {why}")]
    BadServiceSource { text: String, why: &'static str },
    /// `--api` that is not an http(s) address.
    #[error("--api {0}: not an http(s) address")]
    ApiNotHttp(String),
    /// `--api` for a service whose address is given another way.
    #[error("{text}: --api is for Figshare and GitHub sources; {instead}")]
    ApiNotForService { text: String, instead: &'static str },
    /// The source's first import lists nothing: a mistyped prefix or
    /// DOI, or filters that leave nothing.
    #[error("the source lists no files{}; nothing was imported", kept_by_globs(.filtered))]
    NothingListed { filtered: bool },
    /// The initremote parameters name a provider this build lacks.
    #[error("no provider {0} in this build")]
    UnknownProvider(String),
    /// The provider cannot list files for an import.
    #[error("provider {0} cannot list its files for an import in this build of annexa")]
    ProviderCannotImport(String),
    /// The prepared provider offers no listing although its kind says it
    /// can be imported from.
    #[error("provider {0} cannot be imported from")]
    NoImportTree(String),
    /// An import needs a branch to commit to.
    #[error("{}: HEAD is not on a branch", .0.display())]
    DetachedHead(PathBuf),
    /// `git fast-import` ended without the commit it was given.
    #[error("git fast-import wrote no commit; nothing was changed")]
    NoImportCommit,
    /// The imported tree holds a name git refuses to check out.
    #[error("git refuses to check out the imported tree (a name it treats as special); nothing was changed")]
    ImportTreeRefused,
    /// The dataset has no git-annex branch to record URLs in.
    #[error("{}: no git-annex branch", .0.display())]
    NoAnnexBranch(PathBuf),
    /// `git annex registerurl` refused URLs of the import.
    #[error("git annex registerurl refused {count} URL(s) of {remote}; nothing was committed")]
    UrlsRefused { remote: String, count: usize },
    /// `git annex setpresentkey` refused keys of the import.
    #[error("git annex setpresentkey refused {count} key(s) of {remote}; nothing was committed")]
    PresenceRefused { remote: String, count: usize },
    /// Neither `--cache`, `XDG_CACHE_HOME` nor `HOME` names a folder.
    #[error("no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache DIR")]
    NoCacheDirectory,
    /// `cache clean` asked to remove a folder that is no cache entry.
    #[error("{} is not an annexa cache entry; not removing it", .0.display())]
    NotACacheEntry(PathBuf),
    /// `.gitmodules` names no URL for a subdataset the selection needs.
    #[error("subdataset {mount} has no URL in .gitmodules")]
    SubdatasetWithoutUrl { mount: String },
    /// `get --direct`: a repository at a subdataset's mount point that is
    /// a clone of something else.
    #[error("{} is a repository but not a clone of {dataset}; remove it or choose another folder", .path.display())]
    NotACloneOf { path: PathBuf, dataset: String },
    /// `get --direct`: files at a subdataset's mount point.
    #[error("{} holds files but no subdataset; remove them to install {dataset}", .path.display())]
    MountHoldsFiles { path: PathBuf, dataset: String },
    /// `get --direct` into a folder that holds something else.
    #[error("{} is not empty and is not a clone of {dataset}; choose an empty folder for --direct", .path.display())]
    TargetNotEmpty { path: PathBuf, dataset: String },
    /// `get --verify`: the copy's content is not the key's.
    #[error("content does not match its annex key's checksum")]
    ChecksumMismatch,
    #[error("subdataset {mount}")]
    Subdataset {
        mount: String,
        source: Box<DatasetError>,
    },
    #[error("unexpected output from git: {0}")]
    Parse(String),
    /// A folder on the way to a target file is a symbolic link (or not a
    /// folder): writing there would land outside the target.
    #[error("{path}: refusing to write through {link}: it is a symbolic link or not a folder")]
    ThroughLink { path: String, link: PathBuf },
    /// The selection holds both a file and something under a folder of the
    /// same name (possible across versions or with duplicate tree entries).
    #[error(
        "the selection holds both {file:?} and {inner:?}: one path cannot be a file and a folder"
    )]
    PathClash { file: String, inner: String },
    /// Files in the target differ from what the selection would write.
    #[error("{count} file(s) in the target differ from the dataset and would be overwritten: {examples}; nothing was changed (pass --force to replace them)")]
    WouldOverwrite { count: usize, examples: String },
    /// Files in the target differ from what the selection would write,
    /// and some are earlier versions of the dataset's files.
    #[error("{count} file(s) in the target differ from the dataset: {from_source} changed in the source since they were written there ({source_examples}){others}; nothing was changed (pass --force to replace them with the dataset's version)")]
    TargetOutdated {
        count: usize,
        from_source: usize,
        source_examples: String,
        others: String,
    },
    /// Files in the target that are no recent version of the dataset's.
    #[error("{count} file(s) in the target were changed there (they match no recent version of the dataset's file) and would be overwritten: {examples}; nothing was changed (pass --force to replace them)")]
    ChangedInTarget { count: usize, examples: String },
    /// Checked before any download.
    #[error("cannot write to the target {}: {why}; nothing was downloaded", .target.display())]
    TargetNotWritable { target: PathBuf, why: String },
    /// A lookup the cache answered from a copy that may be old.
    #[error("{inner}\n{hint}")]
    MaybeStale {
        inner: Box<DatasetError>,
        hint: String,
    },
    /// A subdataset URL (data from `.gitmodules`) that annexa does not
    /// follow (docs/security.md).
    #[error("subdataset URL {url:?} refused: {why}")]
    RefusedUrl { url: String, why: &'static str },
    /// A path in the dataset that git treats as special or that cannot be
    /// a file name (see [`super::paths`]): never written.
    #[error("{path:?}: {problem}")]
    RefusedPath {
        path: String,
        problem: super::paths::PathProblem,
    },
    /// A subdataset whose URL leads back to a dataset already open.
    #[error("subdataset {mount} ({url}) is {already} again: the subdatasets form a loop")]
    SubdatasetLoop {
        mount: String,
        url: String,
        already: String,
    },
}

/// What [`DatasetError::NothingListed`] adds when filters were given.
fn kept_by_globs(filtered: &bool) -> &'static str {
    if *filtered {
        " that the --include/--exclude globs keep"
    } else {
        ""
    }
}

impl DatasetError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DatasetError {
        DatasetError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_chain_text;

    #[test]
    fn causes_are_shown_once() {
        let e = DatasetError::io("/d/f", std::io::Error::other("disk full"));
        assert_eq!(error_chain_text(&e), "/d/f: disk full");
        let e = DatasetError::Spawn {
            program: "git".into(),
            source: std::io::Error::other("not found"),
        };
        let e = DatasetError::Subdataset {
            mount: "sub".into(),
            source: Box::new(e),
        };
        assert_eq!(
            error_chain_text(&e),
            "subdataset sub: could not run git (is it installed and on PATH?): not found"
        );
        // anyhow's alternate form at the binary edge shows the same chain.
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(shown.matches("not found").count(), 1, "{shown}");
    }

    #[test]
    fn provider_errors_keep_their_causes() {
        let e = DatasetError::from(ProviderError::Transient {
            message: "listing page 3".into(),
            source: Some(Box::new(std::io::Error::other("connection reset"))),
        });
        // The cause is a value a caller can inspect, not words in a string.
        let cause = std::error::Error::source(&e).expect("the provider's cause");
        assert!(cause.downcast_ref::<std::io::Error>().is_some());
        assert!(matches!(
            e,
            DatasetError::Provider(ProviderError::Transient { .. })
        ));
        assert_eq!(error_chain_text(&e), "listing page 3: connection reset");
    }

    #[test]
    fn parse_errors_keep_their_causes() {
        let glob = globset::Glob::new("a[").unwrap_err();
        let e = DatasetError::BadGlob {
            glob: "a[".into(),
            source: glob.clone(),
        };
        assert_eq!(error_chain_text(&e), format!("glob \"a[\": {glob}"));
        let e = DatasetError::NothingListed { filtered: true };
        assert_eq!(
            e.to_string(),
            "the source lists no files that the --include/--exclude globs keep; nothing was imported"
        );
    }
}

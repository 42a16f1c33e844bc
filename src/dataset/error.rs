use crate::bids::BidsError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
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
    #[error("{0}")]
    Direct(String),
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
}

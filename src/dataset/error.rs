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
}

impl DatasetError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> DatasetError {
        DatasetError::Io {
            path: path.into(),
            source,
        }
    }
}

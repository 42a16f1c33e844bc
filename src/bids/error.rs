use thiserror::Error;

/// Problems with what the user asked for; each message says how to fix it.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BidsError {
    #[error("invalid value {value:?} for {filter}: {reason}")]
    InvalidValue {
        filter: String,
        value: String,
        reason: String,
    },
    #[error("unknown filter {0:?}: use NAME=VALUE with a BIDS entity name such as echo, dir, part, space, desc")]
    BadEntityFilter(String),
    #[error("no {filter} {value:?} in this dataset{scope}; existing values: {existing}")]
    NoSuchValue {
        filter: String,
        value: String,
        scope: String,
        existing: String,
    },
    #[error("no derivative pipeline {name:?} in this dataset; available: {available}")]
    NoSuchPipeline { name: String, available: String },
    /// Each value exists, but not together: `filter` is the first one that
    /// leaves nothing when applied after `earlier`.
    #[error("no file has {filter} {values} together with {earlier}{scope} (each value exists on its own; `annexa ls` with fewer filters shows what is there)")]
    EmptyCombination {
        filter: String,
        values: String,
        earlier: String,
        scope: String,
    },
}

//! The hidden dataset cache behind the `annexa` command: one private,
//! no-checkout clone per dataset, listed with `git ls-tree`, filled with one
//! batched `git annex get --batch-keys`, and copied out as real files.
//!
//! The `git` and `git-annex` command-line tools do the git work (no libgit2:
//! it would cost minutes of build time on small machines, and git-annex has
//! to be installed anyway).

mod annex;
mod cache;
mod commands;
mod direct;
mod error;
mod fetch;
mod get;
mod git;
mod import;
mod listed;
pub mod manifest;
mod materialize;
pub mod paths;
mod remotes;
pub mod report;
mod resolve;
mod service;
pub mod shard;
mod source;
mod stale;
mod tree;

pub use annex::{key_size, object_path};
pub use cache::{Cache, CacheEntry};
pub use commands::{
    cache_clean, cache_dir, cache_list, cache_path, get, ls, plan, verify, CommonOptions,
    ListedFile, PlannedPart, SelectionRequest,
};
pub use error::DatasetError;
pub use get::{GetOptions, GetOutcome};
pub use import::{import_command, ImportOptions, ImportSummary};
pub use report::{Reporter, SharedReporter};
pub use service::{ServiceHints, ServiceSource};
pub use source::Source;

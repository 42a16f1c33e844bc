//! What the integration tests share: the tools and repositories they drive
//! (`common`), an in-memory git-annex (`annex`), BIDS fixtures (`bids`), and
//! one harness per server the tests run (moto, the fake services of
//! `tests/fakes/`, the fault-injecting proxy).

pub mod annex;
pub mod bids;
pub mod common;
pub mod datalad_annex;
pub mod dataverse;
pub mod fake;
pub mod faults;
pub mod figshare;
pub mod github;
pub mod s3;
pub mod zenodo;

//! Every integration test, in one binary: one link of the crate instead of
//! one per file. Each module is what was once its own test file; nextest
//! selects and groups them by module path (`.config/nextest.toml`).

mod support;

mod bids_cache;
mod bids_examples;
mod bids_get;
mod bids_model;
mod bids_select;
mod cli;
mod conformance;
mod datalad;
mod dataverse_git_annex;
mod dataverse_memory;
mod dataverse_provider;
mod dataverse_requests;
mod faults;
mod figshare_git_annex;
mod figshare_provider;
mod git_annex;
mod github_git_annex;
mod import_cli;
mod import_s3;
mod import_services;
mod kill_rounds;
mod newest_git_annex;
mod protocol_transcripts;
mod readme;
mod s3_behaviour;
mod s3_lies;
mod s3_stores;
mod secrets;
mod soak;
mod testremote;
mod zenodo;

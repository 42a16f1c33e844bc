//! annexa: research data on S3, Dataverse, Figshare, GitHub Releases and Zenodo as
//! first-class git-annex content, and exact BIDS subsets of DataLad datasets.
//!
//! Layout (one job per module):
//! - [`protocol`]: the external special remote wire format, no I/O.
//! - [`remote`]: the special-remote runtime (session loop, negotiation, dispatch).
//! - [`providers`]: one module per storage service behind one trait.
//! - [`transfer`]: shared HTTP machinery (streaming, hashing, resume, retries).
//! - [`bids`]: BIDS filename parsing and filtering.
//! - [`dataset`]: the hidden dataset cache used by the `annexa` command.
//! - [`key`]: git-annex keys, parsed once.

pub mod bids;
pub mod dataset;
pub mod doctor;
#[doc(hidden)]
pub mod fuzzing;
pub mod key;
pub mod protocol;
pub mod providers;
pub mod remote;
pub mod transfer;

/// The messages of `error` and of each of its causes, joined with ": ".
/// Error messages never repeat their cause, so this shows each once: use
/// it wherever an error is shown to a person.
pub fn error_chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let part = e.to_string();
        if !part.is_empty() {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
        cause = e.source();
    }
    text
}

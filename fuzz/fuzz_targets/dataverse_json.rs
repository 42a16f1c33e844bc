//! Dataverse API answers (envelopes of file lists, versions, add results,
//! errors) from arbitrary text, through
//! `annexa::fuzzing::dataverse_answers`: nothing panics, each listed file
//! is found at its own place, server versions print back to themselves,
//! and an error built from a body that holds the API token (the fuzzer's
//! `TOKEN` markers) never shows it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    annexa::fuzzing::dataverse_answers(&String::from_utf8_lossy(data));
});

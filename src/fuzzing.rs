//! Entry points for the fuzz targets in `fuzz/` (docs/fuzzing.md), so the
//! parsers they exercise stay private to their modules. Not part of the
//! API: nothing outside the fuzz targets should call these.

/// Every S3 document annexa reads (error documents, listings, multipart
/// and copy results): no panic, no echoed secret in an error's text.
pub fn s3_documents(body: &str) {
    crate::providers::s3::fuzz_documents(body)
}

/// Every Dataverse API answer annexa reads: no panic, versions print back
/// to themselves, a token in an error body is never shown.
pub fn dataverse_answers(body: &str) {
    crate::providers::dataverse::fuzz_answers(body)
}

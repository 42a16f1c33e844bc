//! S3 documents (error documents, ListObjectsV2 pages, multipart and copy
//! results) from arbitrary text, through `annexa::fuzzing::s3_documents`:
//! no parser or classifier panics, and an error built from a document
//! that echoes the session token or signature (`<Token-0>`,
//! `<StringToSign>`, `<CanonicalRequest>`) never shows the echo.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    annexa::fuzzing::s3_documents(&String::from_utf8_lossy(data));
});

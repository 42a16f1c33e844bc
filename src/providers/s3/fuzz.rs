//! The fuzz entry for every S3 document annexa reads (`fuzz/s3_xml`), kept
//! apart from the parsers it drives.

use reqwest::StatusCode;

use super::client::reply_etag;
use super::error::{classify, failed_reply, ErrorBody};

/// Reads `body` as every S3 document annexa parses (error documents,
/// listings, multipart and copy results) and checks that nothing panics
/// and that no echo of a secret survives into an error's text. Reached
/// only through [`crate::fuzzing`].
pub(crate) fn fuzz_documents(body: &str) {
    const ECHOED: &str = "FwoGZXIvYXdzEFUZZsessiontoken0123456789";
    let _ = ErrorBody::parse(body);
    let _ = reply_etag(body);
    if let Ok(listing) = rusty_s3::actions::ListObjectsV2::parse_response(body) {
        let _ = (listing.contents.len(), listing.next_continuation_token);
    }
    let _ =
        rusty_s3::actions::CreateMultipartUpload::parse_response(body).map(|u| u.upload_id().len());
    // The fuzzer's text inside each echo element: none of it may show.
    let echoing = format!(
        "<Error><Code>InvalidToken</Code><Message>{body}</Message>\
         <Token-0>{ECHOED}</Token-0><StringToSign>{ECHOED}</StringToSign></Error>"
    );
    let no_code =
        format!("{body}<Token-0>{ECHOED}</Token-0><CanonicalRequest>{ECHOED}</CanonicalRequest>");
    for text in [body, echoing.as_str(), no_code.as_str()] {
        for status in [200u16, 400, 403, 404, 500, 503] {
            let status = StatusCode::from_u16(status).expect("status");
            let e = classify("fuzz", "object", status, text);
            let shown = crate::providers::error_chain_text(&e);
            if !body.contains(ECHOED) {
                assert!(!shown.contains(ECHOED), "echo shown: {shown:?}");
            }
            let _ = failed_reply("fuzz", "object", status, text);
        }
    }
}

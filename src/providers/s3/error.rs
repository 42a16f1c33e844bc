//! S3 error documents (`<Error><Code>..`) and what they mean, as a
//! typed [`ProviderError`].

use reqwest::StatusCode;

use super::super::{Cause, ProviderError, StatusKind};
use crate::transfer;

/// The body of an S3 error response (`<Error><Code>..</Code>..</Error>`).
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ErrorBody {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "BucketName")]
    bucket: Option<String>,
}

impl ErrorBody {
    /// The error document in `body`, when it is one (it has a `<Code>`).
    pub(super) fn parse(body: &str) -> Option<Self> {
        quick_xml::de::from_str::<ErrorBody>(body)
            .ok()
            .filter(|e| e.code.is_some())
    }

    /// [`ErrorBody::parse`], also of the start of a document cut short (as
    /// a transfer error keeps it): S3 sends `<Code>` and `<Message>` first.
    fn parse_start(body: &str) -> Option<Self> {
        Self::parse(body).or_else(|| {
            let element = |name: &str| {
                let open = format!("<{name}>");
                let start = body.find(&open)? + open.len();
                let len = body[start..].find("</")?;
                Some(body[start..start + len].to_string())
            };
            let code = element("Code")?;
            (body.trim_start().starts_with("<?xml") || body.trim_start().starts_with("<Error>"))
                .then(|| ErrorBody {
                    code: Some(code),
                    message: element("Message"),
                    key: element("Key"),
                    bucket: element("BucketName"),
                })
        })
    }
}

/// What S3 said, kept as the cause of a [`ProviderError`]: one line of
/// its error document (code, message and the key or bucket it names),
/// never the document itself (request ids, echoes of the request).
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}{}{}", detail_text(.code, .message), subject_text(.subject))]
pub struct S3ServiceError {
    pub status: StatusCode,
    pub code: Option<String>,
    pub message: Option<String>,
    /// `key K` or `bucket B`, when the document names one.
    pub subject: Option<String>,
}

fn subject_text(subject: &Option<String>) -> String {
    subject
        .as_ref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default()
}

pub(super) fn detail_text(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(": {c}: {m}"),
        (Some(c), None) => format!(": {c}"),
        (None, Some(m)) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

/// The meaning of an S3 error code; `None` for codes that only the HTTP
/// status can classify.
pub(super) fn code_kind(code: &str) -> Option<StatusKind> {
    Some(match code {
        "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NoSuchVersion" => StatusKind::NotFound,
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" | "InvalidObjectState" => {
            StatusKind::PermissionDenied
        }
        "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "InvalidToken"
        | "TokenRefreshRequired" => StatusKind::Unauthenticated,
        "SlowDown" | "InternalError" | "ServiceUnavailable" | "RequestTimeout" | "Throttling" => {
            StatusKind::Transient
        }
        "OperationAborted" | "ConditionalRequestConflict" | "PreconditionFailed" => {
            StatusKind::Conflict
        }
        _ => return None,
    })
}

/// The error an S3 error response means: by its `<Code>` first, then its
/// status. `action` and `what` name what was tried.
pub(super) fn classify(action: &str, what: &str, status: StatusCode, body: &str) -> ProviderError {
    let parsed = ErrorBody::parse_start(body).unwrap_or_default();
    // Only the code and message of a document are kept; a body that is not
    // one is shown in part, so the request's echoes leave it first.
    let body = &without_echoes(body);
    let subject = match (&parsed.key, &parsed.bucket) {
        (Some(key), _) => Some(format!("key {}", transfer::summarize_body(key))),
        (None, Some(bucket)) => Some(format!("bucket {}", transfer::summarize_body(bucket))),
        (None, None) => None,
    };
    let detail = S3ServiceError {
        status,
        subject,
        message: match (&parsed.code, parsed.message) {
            (None, _) => Some(transfer::summarize_body(body)),
            (Some(_), m) => m.map(|m| transfer::summarize_body(&m)),
        },
        code: parsed.code,
    };
    let kind = detail
        .code
        .as_deref()
        .and_then(code_kind)
        .unwrap_or_else(|| StatusKind::of(status));
    let context = format!("S3 {action} {what}");
    let source: Option<Cause> = Some(Box::new(detail));
    let with = |hint: &str| format!("{context}{hint}");
    match (kind, detail_code(&source)) {
        (_, Some("BadDigest" | "IncompleteBody" | "InvalidDigest")) => ProviderError::Integrity {
            message: with(" (the data was damaged on the way; try again)"),
            source,
        },
        (_, Some("BucketAlreadyExists" | "BucketAlreadyOwnedByYou")) => {
            ProviderError::AlreadyExists {
                message: with(" (choose another bucket name if it is not yours)"),
                source,
            }
        }
        (StatusKind::NotFound, _) => ProviderError::NotFound {
            message: context,
            source,
        },
        (StatusKind::PermissionDenied, _) => ProviderError::PermissionDenied {
            message: with(" (check the credentials and the bucket policy)"),
            source,
        },
        (StatusKind::Unauthenticated, _) => ProviderError::Unauthenticated {
            message: with(" (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the region)"),
            source,
        },
        (StatusKind::Conflict, _) => ProviderError::Conflict {
            message: with(" (the object changed meanwhile; try again)"),
            source,
        },
        (StatusKind::Transient, _) => ProviderError::Transient {
            message: with(" (S3 is busy or unavailable; try again later)"),
            source,
        },
        (StatusKind::Other, _) => ProviderError::Service {
            message: context,
            source,
        },
    }
}

pub(super) fn detail_code(source: &Option<Cause>) -> Option<&str> {
    source
        .as_ref()?
        .downcast_ref::<S3ServiceError>()?
        .code
        .as_deref()
}

/// The S3 error code (`<Code>`) behind `e`, when S3 sent one.
pub(super) fn s3_error_code(e: &ProviderError) -> Option<&str> {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(s3) = c.downcast_ref::<S3ServiceError>() {
            return s3.code.as_deref();
        }
        cause = c.source();
    }
    None
}

/// A readable, classified error from an S3 error response.
pub(super) async fn service_error(
    action: &str,
    what: &str,
    response: reqwest::Response,
) -> ProviderError {
    let status = response.status();
    let body = transfer::read_error_body(response).await;
    classify(action, what, status, &body)
}

/// The error a reply means, also when S3 answered 200 with an `<Error>`
/// document (CopyObject, CompleteMultipartUpload).
pub(super) fn failed_reply(
    action: &str,
    what: &str,
    status: StatusCode,
    body: &str,
) -> Option<ProviderError> {
    (!status.is_success() || ErrorBody::parse(body).is_some())
        .then(|| classify(action, what, status, body))
}

/// Elements of S3 error documents that echo the request back: the session
/// token (`<Token-0>`), the signature and what was signed.
fn is_echo_element(name: &str) -> bool {
    name.strip_prefix("Token-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || matches!(
            name,
            "StringToSign"
                | "StringToSignBytes"
                | "CanonicalRequest"
                | "CanonicalRequestBytes"
                | "SignatureProvided"
        )
}

/// `body` with the text of every echo element (see [`is_echo_element`])
/// removed, up to its closing tag or, without one, to the end.
pub(super) fn without_echoes(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let name_len = after
            .find(|c: char| c == '>' || c == '/' || c.is_whitespace())
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let Some(end_of_tag) = after.find(['>', '<']) else {
            break;
        };
        if after[end_of_tag..].starts_with('<') {
            // Not a tag (`<` again before its `>`): the next `<` may start one.
            out.push_str(&rest[..open + 1 + end_of_tag]);
            rest = &after[end_of_tag..];
            continue;
        }
        out.push_str(&rest[..open + 1 + end_of_tag + 1]);
        rest = &after[end_of_tag + 1..];
        let self_closing = after[..end_of_tag].ends_with('/');
        if is_echo_element(name) && !self_closing {
            let close = format!("</{name}>");
            match rest.find(&close) {
                Some(i) => rest = &rest[i..],
                None => return out,
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>the message</Message><RequestId>1</RequestId></Error>"
        )
    }

    fn kind(status: u16, text: &str) -> ProviderError {
        classify("check", "obj", StatusCode::from_u16(status).unwrap(), text)
    }

    #[test]
    fn error_codes_have_kinds() {
        assert!(matches!(
            kind(404, &body("NoSuchKey")),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(
            kind(404, &body("NoSuchBucket")),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(
            kind(403, &body("AccessDenied")),
            ProviderError::PermissionDenied { .. }
        ));
        for code in ["InvalidAccessKeyId", "SignatureDoesNotMatch"] {
            assert!(matches!(
                kind(403, &body(code)),
                ProviderError::Unauthenticated { .. }
            ));
        }
        for code in ["SlowDown", "InternalError"] {
            assert!(matches!(
                kind(503, &body(code)),
                ProviderError::Transient { .. }
            ));
        }
        assert!(matches!(
            kind(400, &body("BadDigest")),
            ProviderError::Integrity { .. }
        ));
        assert!(matches!(
            kind(409, &body("BucketAlreadyExists")),
            ProviderError::AlreadyExists { .. }
        ));
        // The code wins over the status.
        assert!(matches!(
            kind(400, &body("NoSuchUpload")),
            ProviderError::NotFound { .. }
        ));
    }

    #[test]
    fn statuses_classify_bodies_without_codes() {
        assert!(matches!(kind(503, ""), ProviderError::Transient { .. }));
        assert!(matches!(
            kind(404, "<html>nope</html>"),
            ProviderError::NotFound { .. }
        ));
        assert!(matches!(
            kind(401, "not xml"),
            ProviderError::Unauthenticated { .. }
        ));
        assert!(matches!(
            kind(400, &body("Weird")),
            ProviderError::Service { .. }
        ));
    }

    #[test]
    fn messages_carry_code_once() {
        let e = kind(403, &body("AccessDenied"));
        let text = crate::providers::error_chain_text(&e);
        assert_eq!(
            text,
            "S3 check obj (check the credentials and the bucket policy): \
             HTTP 403 Forbidden: AccessDenied: the message"
        );
    }

    #[test]
    fn a_document_is_one_line_of_code_message_and_key() {
        // moto's answer for a deleted object, as a transfer error keeps it:
        // cut to 400 characters, request ids and all.
        let document = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error><Code>NoSuchKey</Code>\
            <Message>The specified key does not exist.</Message><Key>ds/sub-01/a.nii.gz</Key>\
            <RequestId>dg8JBgRgQ7pysr49i7OvX6pzJqS7L12o0n9QDuzRYdIRdjwo8S0K</RequestId>\
            <HostId>9Gjjt1m+cjU4OPvX9O9/8RuvnG41MRb/18Oux2o5H5MY7ISNTlXN+Dz9IG62/ILVxhAGI0qyPfg=</HostId></Error>";
        for body in [document, &document[..200]] {
            let text = crate::providers::error_chain_text(&kind(404, body));
            assert_eq!(
                text,
                "S3 check obj: HTTP 404 Not Found: NoSuchKey: The specified key does not exist. \
                 (key ds/sub-01/a.nii.gz)"
            );
        }
        let bucket = "<Error><Code>NoSuchBucket</Code><Message>gone</Message>\
                      <BucketName>lab</BucketName></Error>";
        let text = crate::providers::error_chain_text(&kind(404, bucket));
        assert!(text.ends_with("NoSuchBucket: gone (bucket lab)"), "{text}");
    }

    #[test]
    fn echoes_of_the_token_and_signature_never_show() {
        let token = "FwoGZXIvYXdzEXAMPLEtoken";
        let echoing = format!(
            "<Error><Code>InvalidToken</Code><Message>bad token</Message>\
             <Token-0>{token}</Token-0><StringToSign>AWS4 {token}</StringToSign>\
             <CanonicalRequest>GET /?X-Amz-Security-Token={token}</CanonicalRequest></Error>"
        );
        // Not a document S3 would send (no closing tag, so no <Code>): shown in part.
        let broken = format!("<Oops><Token-0>{token}</Token-0><SignatureProvided>{token}");
        for body in [echoing.as_str(), broken.as_str()] {
            let text = crate::providers::error_chain_text(&kind(400, body));
            assert!(!text.contains(token), "{text}");
        }
        // Found by fuzz/s3_xml: a `<` without its `>` hid the next tag.
        let broken =
            format!("<Message>a</StringToSignB<?xml v=s><Can\"1.0\" en<Token-0>{token}</Token-0>");
        let text = crate::providers::error_chain_text(&kind(200, &broken));
        assert!(!text.contains(token), "{text}");
        assert_eq!(
            without_echoes("<a>1</a><Token-12>x</Token-12><Token-x>y</Token-x>"),
            "<a>1</a><Token-12></Token-12><Token-x>y</Token-x>"
        );
    }

    #[test]
    fn error_documents_in_successful_replies() {
        let ok =
            "<CompleteMultipartUploadResult><ETag>\"x\"</ETag></CompleteMultipartUploadResult>";
        assert!(failed_reply("copy", "a", StatusCode::OK, ok).is_none());
        assert!(matches!(
            failed_reply("copy", "a", StatusCode::OK, &body("InternalError")),
            Some(ProviderError::Transient { .. })
        ));
        assert!(failed_reply("copy", "a", StatusCode::NOT_FOUND, "").is_some());
        // Text that merely mentions <Error> is not an error document.
        assert!(ErrorBody::parse("<Result><Note>&lt;Error&gt;</Note></Result>").is_none());
    }
}

//! What went wrong in a provider, by meaning.
//!
//! Every variant says what kind of failure it is, so the runtime decides
//! what to tell git-annex from the variant alone (an absent key is not a
//! network failure), never from message text. Messages say what to do,
//! never contain a secret, and never repeat their cause: the cause is the
//! error's [`source`](std::error::Error::source), and whoever shows the
//! error prints the whole chain once.

use reqwest::StatusCode;

use crate::transfer::TransferError;

/// The cause of a [`ProviderError`], kept for the chain of messages.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of a query to git-annex.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnnexError {
    #[error("git-annex answered the query with an error: {0}")]
    Refused(String),
    #[error("git-annex closed the connection")]
    Closed,
    #[error("{0}")]
    Protocol(String),
}

/// Why a provider operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The key, file, object or dataset is not there.
    #[error("{message}")]
    NotFound {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// Something of that name is already there and is not ours to replace.
    #[error("{message}")]
    AlreadyExists {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The credentials are valid but may not do this.
    #[error("{message}")]
    PermissionDenied {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The service did not accept the credentials.
    #[error("{message}")]
    Unauthenticated {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The request conflicts with the state of the remote (a concurrent
    /// change, a failed precondition, a published file).
    #[error("{message}")]
    Conflict {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The remote is locked for a while (ingest, publication, review).
    #[error("{message}")]
    Locked {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// Network trouble, 429, 5xx, timeouts: the outcome cannot be told,
    /// trying again later may work.
    #[error("{message}")]
    Transient {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// Bytes or claims that do not hold up: checksum or size mismatch,
    /// a truncated transfer, an answer contradicting itself.
    #[error("{message}")]
    Integrity {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The service failed in a way none of the other variants names.
    #[error("{message}")]
    Service {
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// A key or export path this remote cannot use as a name.
    #[error("{0}")]
    InvalidName(String),
    #[error("this remote does not support {0}")]
    Unsupported(&'static str),
    #[error("configuration: {0}")]
    Config(String),
    /// A setting whose value did not parse (an address, a number): what
    /// it should be, and the parser's error as the source.
    #[error("configuration: {setting}={value} is not {expected}")]
    BadSetting {
        setting: &'static str,
        /// As the user wrote it, any user info masked.
        value: String,
        /// "a URL", "a number of seconds".
        expected: &'static str,
        #[source]
        source: Cause,
    },
    #[error("missing credentials: {0}")]
    MissingCredentials(String),
    #[error("local file")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Annex(#[from] AnnexError),
}

pub type Result<T, E = ProviderError> = std::result::Result<T, E>;

/// The meaning of an error status, shared by every HTTP service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    NotFound,
    Unauthenticated,
    PermissionDenied,
    Conflict,
    Transient,
    Other,
}

impl StatusKind {
    pub fn of(status: StatusCode) -> Self {
        match status.as_u16() {
            404 | 410 => Self::NotFound,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            409 | 412 => Self::Conflict,
            408 | 429 => Self::Transient,
            s if s >= 500 => Self::Transient,
            _ => Self::Other,
        }
    }
}

impl ProviderError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
            source: None,
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
            source: None,
        }
    }

    pub fn integrity(message: impl Into<String>) -> Self {
        Self::Integrity {
            message: message.into(),
            source: None,
        }
    }

    pub fn service(message: impl Into<String>, source: Option<Cause>) -> Self {
        Self::Service {
            message: message.into(),
            source,
        }
    }

    /// The error an HTTP error status means, with `message` and `source`.
    pub fn from_status(status: StatusCode, message: String, source: Option<Cause>) -> Self {
        match StatusKind::of(status) {
            StatusKind::NotFound => Self::NotFound { message, source },
            StatusKind::Unauthenticated => Self::Unauthenticated { message, source },
            StatusKind::PermissionDenied => Self::PermissionDenied { message, source },
            StatusKind::Conflict => Self::Conflict { message, source },
            StatusKind::Transient => Self::Transient { message, source },
            StatusKind::Other => Self::Service { message, source },
        }
    }

    /// The setting `setting=value` did not parse as `expected`, for the
    /// reason `source`. A password in a URL's user info is not shown.
    pub fn bad_setting(
        setting: &'static str,
        value: &str,
        expected: &'static str,
        source: impl Into<Cause>,
    ) -> Self {
        Self::BadSetting {
            setting,
            value: without_user_info(value),
            expected,
            source: source.into(),
        }
    }

    /// After every file claimed for a key was tried: the last "not found"
    /// met (it names the file), else `message` as not found.
    pub fn not_found_after<E: Into<Self>>(
        last: Option<E>,
        message: impl FnOnce() -> String,
    ) -> Self {
        match last {
            Some(e) => e.into(),
            None => Self::not_found(message()),
        }
    }

    /// Whether the thing asked for is known to be absent.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// `text` with whatever stands between `://` and an `@` before the path
/// masked: a URL that did not parse may still hold a password.
fn without_user_info(text: &str) -> String {
    let Some(start) = text.find("://").map(|i| i + 3) else {
        return text.to_string();
    };
    let authority_end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    match text[start..authority_end].rfind('@') {
        Some(at) => format!("{}…{}", &text[..start], &text[start + at..]),
        None => text.to_string(),
    }
}

/// What a failed transfer means, by its status or failure.
impl From<TransferError> for ProviderError {
    fn from(e: TransferError) -> Self {
        match e {
            TransferError::Io(io) => Self::Io(io),
            TransferError::Status { status, .. } => {
                let message = match StatusKind::of(status) {
                    StatusKind::NotFound => "not found on the remote",
                    StatusKind::Unauthenticated => {
                        "the service did not accept the credentials; check them"
                    }
                    StatusKind::PermissionDenied => {
                        "access denied; check the credentials and their permissions"
                    }
                    StatusKind::Conflict => "the remote changed meanwhile; try again",
                    StatusKind::Transient => "the service is unavailable; try again later",
                    StatusKind::Other => "the service refused the request",
                };
                Self::from_status(status, message.into(), Some(Box::new(e)))
            }
            // Says why itself (down, wrong port, http vs https, DNS).
            TransferError::Unreachable { .. } => Self::Transient {
                message: "cannot reach the service".into(),
                source: Some(Box::new(e)),
            },
            TransferError::Network { .. } | TransferError::Stalled { .. } => Self::Transient {
                message: "the transfer failed; try again (check the network)".into(),
                source: Some(Box::new(e)),
            },
            TransferError::Truncated { .. } | TransferError::Checksum { .. } => Self::Integrity {
                message: "the data did not verify and was not kept; try again".into(),
                source: Some(Box::new(e)),
            },
            TransferError::Protocol { .. } | TransferError::TooLarge { .. } => Self::Service {
                message: "the service answered in an unexpected way".into(),
                source: Some(Box::new(e)),
            },
        }
    }
}

pub use crate::error_chain_text;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::RedactedUrl;

    fn url() -> RedactedUrl {
        RedactedUrl::new(url::Url::parse("https://host/x?token=s3cret").unwrap())
    }

    fn status(code: u16) -> ProviderError {
        TransferError::Status {
            method: "GET".into(),
            url: url(),
            status: StatusCode::from_u16(code).unwrap(),
            detail: String::new(),
        }
        .into()
    }

    #[test]
    fn statuses_have_kinds() {
        assert!(matches!(status(404), ProviderError::NotFound { .. }));
        assert!(matches!(status(401), ProviderError::Unauthenticated { .. }));
        assert!(matches!(
            status(403),
            ProviderError::PermissionDenied { .. }
        ));
        assert!(matches!(status(409), ProviderError::Conflict { .. }));
        assert!(matches!(status(412), ProviderError::Conflict { .. }));
        assert!(matches!(status(429), ProviderError::Transient { .. }));
        assert!(matches!(status(503), ProviderError::Transient { .. }));
        assert!(matches!(status(400), ProviderError::Service { .. }));
    }

    #[test]
    fn failures_have_kinds() {
        let e: ProviderError = TransferError::Stalled {
            url: url(),
            seconds: 60,
        }
        .into();
        assert!(matches!(e, ProviderError::Transient { .. }));
        let e: ProviderError = TransferError::Network {
            url: url(),
            message: "reset".into(),
        }
        .into();
        assert!(matches!(e, ProviderError::Transient { .. }));
        let e: ProviderError = TransferError::Truncated {
            url: url(),
            got: 1,
            expected: 2,
        }
        .into();
        assert!(matches!(e, ProviderError::Integrity { .. }));
        let e: ProviderError = TransferError::Checksum {
            url: url(),
            algorithm: crate::transfer::Algorithm::Md5,
            expected: "a".into(),
            got: "b".into(),
        }
        .into();
        assert!(matches!(e, ProviderError::Integrity { .. }));
    }

    #[test]
    fn a_setting_that_does_not_parse_keeps_its_cause_and_no_password() {
        let text = "https://user:s3cret@host name/x";
        let cause = url::Url::parse(text).unwrap_err();
        let e = ProviderError::bad_setting("url", text, "a URL", cause);
        assert!(std::error::Error::source(&e).is_some());
        let shown = error_chain_text(&e);
        assert_eq!(
            shown,
            format!("configuration: url=https://…@host name/x is not a URL: {cause}")
        );
        assert_eq!(without_user_info("10.5/x@y"), "10.5/x@y");
        assert_eq!(without_user_info("http://h/a@b"), "http://h/a@b");
    }

    #[test]
    fn chain_text_names_each_cause_once() {
        let e = status(404);
        let text = error_chain_text(&e);
        assert_eq!(text.matches("HTTP 404").count(), 1, "{text}");
        assert!(text.starts_with("not found on the remote: "), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        let io = ProviderError::from(std::io::Error::other("disk full"));
        assert_eq!(error_chain_text(&io), "local file: disk full");
    }
}

#[cfg(test)]
mod cause_tests {
    use super::ProviderError;
    use crate::providers::dataverse::DvError;
    use crate::providers::figshare::FigshareError;

    /// A body that is not the service's JSON: the parser's error is the
    /// cause, shown once after the message, not folded into it.
    #[test]
    fn a_body_that_is_not_json_keeps_its_parse_error() {
        let parse_error = || serde_json::from_str::<serde_json::Value>("<html>").unwrap_err();
        let parse = parse_error().to_string();
        let cases: [(ProviderError, &str); 2] = [
            (
                DvError::NotJson {
                    what: "listing".into(),
                    source: parse_error(),
                }
                .into(),
                "Dataverse",
            ),
            (
                FigshareError::NotJson {
                    what: "listing".into(),
                    source: parse_error(),
                }
                .into(),
                "Figshare",
            ),
        ];
        for (e, service) in cases {
            assert!(std::error::Error::source(&e).is_some(), "{service}");
            let text = crate::error_chain_text(&e);
            let start = format!("listing: the answer is not the JSON {service} sends");
            assert!(text.starts_with(&start), "{text}");
            assert!(text.ends_with(&format!(": {parse}")), "{text}");
            assert_eq!(text.matches(&parse).count(), 1, "{text}");
        }
    }
}

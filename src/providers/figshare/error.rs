//! What can go wrong talking to Figshare, each with what to do about it.
//! No message ever contains the token.

use crate::providers::service_api::{api_error_sources, ApiError};
use crate::providers::ProviderError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FigshareError {
    #[error(
        "article {article} was not found at {api}: check article={}",
        if *anonymous { " (a private article is visible only with an API token: set FIGSHARE_API_KEY)" } else { " and that the token's account owns the article (Figshare answers 404 also for no permission)" }
    )]
    ArticleNotFound {
        article: u64,
        api: String,
        anonymous: bool,
    },
    #[error("{what}: access denied ({message}); check the token and its account's permissions")]
    Forbidden { what: String, message: String },
    #[error("{0}: not found")]
    NotFound(String),
    #[error("{what}: the upload part stayed locked ({message}); try again later")]
    Locked { what: String, message: String },
    #[error("{what}: HTTP {status}: {message}")]
    Http {
        what: String,
        status: u16,
        message: String,
    },
    #[error("unexpected answer from Figshare: {0}")]
    BadResponse(String),
    /// A success whose body is not Figshare's JSON (another server?).
    #[error("{what}: the answer is not the JSON Figshare sends; is api= the API's address (https://api.figshare.com/v2)?")]
    NotJson {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("upload_url of file {id} is not a URL")]
    BadUploadUrl {
        id: u64,
        #[source]
        source: url::ParseError,
    },
    #[error("{0}")]
    Integrity(String),
    #[error("{0}")]
    Processing(String),
    /// What fails the same way with every service.
    #[error(transparent)]
    Api(#[from] ApiError),
}

api_error_sources!(FigshareError);

impl FigshareError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }
}

/// Each Figshare failure by its meaning; the runtime decides from the
/// variant alone.
impl From<FigshareError> for ProviderError {
    fn from(e: FigshareError) -> Self {
        let message = e.to_string();
        match e {
            FigshareError::Api(e) => e.into(),
            FigshareError::NotFound(_) => ProviderError::not_found(message),
            // Not knowing the article is the remote's configuration, not an
            // absent key: never "not present".
            FigshareError::ArticleNotFound { .. } => ProviderError::Config(message),
            FigshareError::Forbidden { .. } => ProviderError::PermissionDenied {
                message,
                source: None,
            },
            FigshareError::Locked { .. } => ProviderError::Locked {
                message,
                source: None,
            },
            FigshareError::Http { status, .. } => match reqwest::StatusCode::from_u16(status) {
                Ok(status) => ProviderError::from_status(status, message, None),
                Err(_) => ProviderError::service(message, None),
            },
            FigshareError::BadResponse(_) => ProviderError::service(message, None),
            FigshareError::NotJson { source, .. } => {
                ProviderError::service(message, Some(Box::new(source)))
            }
            FigshareError::BadUploadUrl { source, .. } => {
                ProviderError::service(message, Some(Box::new(source)))
            }
            FigshareError::Integrity(_) => ProviderError::integrity(message),
            FigshareError::Processing(_) => ProviderError::Transient {
                message,
                source: None,
            },
        }
    }
}

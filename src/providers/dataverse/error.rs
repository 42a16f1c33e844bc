//! What can go wrong talking to Dataverse, each with what to do about it.
//! No message ever contains the token.

use crate::providers::service_api::{api_error_sources, ApiError};
use crate::providers::ProviderError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DvError {
    #[error(
        "dataset {pid} was not found at {base}: check doi= and url={}",
        if *anonymous { " (an unpublished dataset is visible only with an API token: set DATAVERSE_API_KEY)" } else { " and that the token's user can see the dataset" }
    )]
    DatasetNotFound {
        pid: String,
        base: String,
        anonymous: bool,
    },
    #[error(
        "dataset {pid} is locked ({message}); it is being ingested, published or reviewed. \
         Wait for that to finish and try again (GET /api/datasets/:persistentId/locks shows \
         the locks), or ask the installation's administrators to remove a stuck lock"
    )]
    Locked { pid: String, message: String },
    #[error(
        "{what}: Dataverse refused the download ({message}). Most often the dataset has a \
         guestbook that must be filled in before downloading: download the file once through \
         the dataset's web page, or ask the dataset's owner to remove the guestbook"
    )]
    Guestbook { what: String, message: String },
    #[error(
        "{what}: access denied ({message}). If the file is restricted, request access on the \
         dataset's web page and use the API token of a user who was granted it{}",
        if *anonymous { " (no token is set: DATAVERSE_API_KEY)" } else { "" }
    )]
    Forbidden {
        what: String,
        message: String,
        anonymous: bool,
    },
    #[error("{0}: not found")]
    NotFound(String),
    #[error("{0}: Dataverse kept answering 429 Too Many Requests; try again later or with fewer parallel jobs (-J)")]
    RateLimited(String),
    #[error("{what}: HTTP {status}: {message}")]
    Http {
        what: String,
        status: u16,
        message: String,
    },
    #[error("{0}")]
    Service(String),
    #[error(
        "Dataverse unpacked the upload of {label} into {count} files (it unpacks ZIP \
         archives); they were deleted"
    )]
    Unpacked { label: String, count: usize },
    #[error("{0}")]
    Unsupported(String),
    #[error("unexpected answer from Dataverse: {0}")]
    BadResponse(String),
    /// A success whose body is not Dataverse's JSON (another server?).
    #[error(
        "{what}: the answer is not the JSON Dataverse sends; is url= the installation's address?"
    )]
    NotJson {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// What fails the same way with every service.
    #[error(transparent)]
    Api(#[from] ApiError),
}

api_error_sources!(DvError);

/// Each Dataverse failure by its meaning; the runtime decides from the
/// variant alone.
impl From<DvError> for ProviderError {
    fn from(e: DvError) -> Self {
        let message = e.to_string();
        match e {
            DvError::Api(e) => e.into(),
            // Not knowing the dataset is the remote's configuration, not
            // an absent key: never "not present".
            DvError::DatasetNotFound { .. } => ProviderError::Config(message),
            DvError::Locked { .. } => ProviderError::Locked {
                message,
                source: None,
            },
            DvError::Guestbook { .. } | DvError::Forbidden { .. } => {
                ProviderError::PermissionDenied {
                    message,
                    source: None,
                }
            }
            DvError::NotFound(_) => ProviderError::not_found(message),
            DvError::RateLimited(_) => ProviderError::Transient {
                message,
                source: None,
            },
            DvError::Http { status, .. } => match reqwest::StatusCode::from_u16(status) {
                Ok(status) => ProviderError::from_status(status, message, None),
                Err(_) => ProviderError::service(message, None),
            },
            DvError::Service(_) | DvError::Unsupported(_) => ProviderError::service(message, None),
            DvError::Unpacked { .. } => ProviderError::integrity(message),
            DvError::BadResponse(_) => ProviderError::service(message, None),
            DvError::NotJson { source, .. } => {
                ProviderError::service(message, Some(Box::new(source)))
            }
        }
    }
}

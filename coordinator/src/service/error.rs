use crate::store::StoreError;
use whetstone_proto::error_chain;

/// Every failure a service can return. Internal causes are logged, never sent to the caller.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    RateLimited(String),
    /// The request is well-formed but the subnet's policy refuses it.
    #[error("{0}")]
    Refused(String),
    /// The caller is known but may not have what it asks for.
    #[error("{0}")]
    Forbidden(String),

    #[error("storage failure")]
    Store(#[from] StoreError),
    #[error("blob storage failure")]
    Blob(#[from] crate::blobs::BlobError),
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::BadRequest(message) => Self::invalid_argument(message),
            ApiError::NotFound(message) => Self::not_found(message),
            ApiError::AlreadyExists(message) => Self::already_exists(message),
            ApiError::RateLimited(message) => Self::resource_exhausted(message),
            ApiError::Refused(message) => Self::failed_precondition(message),
            ApiError::Forbidden(message) => Self::permission_denied(message),
            internal @ (ApiError::Store(_) | ApiError::Blob(_)) => {
                tracing::error!(error = %error_chain(&internal), "request failed");
                Self::internal("internal error; see the coordinator log")
            }
        }
    }
}

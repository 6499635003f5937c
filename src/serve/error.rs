//! The serve layer's one error type, and how each error becomes a JSON reply.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Errors of the HTTP server. Request errors turn into a JSON body `{"error": "..."}` with the
/// matching status; start-up errors (`Bind`, `Library`, `Model`) end `tuneprint serve`.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No song with this id (or the id is not a number): 404.
    #[error("no song with id '{0}'")]
    NoSong(String),
    /// A song exists but its file is missing or is not a library file any more: 404.
    #[error("song {id}: its file is not available: {reason}")]
    FileGone { id: i64, reason: String },
    /// A URL that names nothing: 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// A malformed request (bad query parameter, missing upload field): 400.
    #[error("{0}")]
    BadRequest(String),
    /// An upload larger than the limit: 413.
    #[error("upload too large: the limit is {limit} bytes")]
    TooLarge { limit: usize },
    /// An upload that does not decode as audio: 422.
    #[error("{0}")]
    NotAudio(String),
    /// The server has no model loaded, so it cannot classify uploads: 503.
    #[error("{0}")]
    Unavailable(String),
    /// The library database failed: 500.
    #[error("library: {0}")]
    Library(String),
    /// Loading or running the model failed: 500.
    #[error("model: {0}")]
    Model(String),
    /// Drawing a figure failed: 500.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// Reading a file or writing a temporary one failed: 500.
    #[error("{0}")]
    Io(String),
    /// A request that took longer than the server allows (a slow upload, a stuck client): 408.
    #[error("the request took longer than {0} s")]
    Timeout(u64),
    /// The listening socket cannot be opened.
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}

impl ServeError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            ServeError::NoSong(_) | ServeError::FileGone { .. } | ServeError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            ServeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ServeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServeError::NotAudio(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ServeError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServeError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ServeError::Library(_)
            | ServeError::Model(_)
            | ServeError::Report(_)
            | ServeError::Io(_)
            | ServeError::Bind { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body of every error reply.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            eprintln!("serve: {self}");
        }
        (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}

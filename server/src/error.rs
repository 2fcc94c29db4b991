//! JSON API errors: `{"error": "<message>"}` with the status the caller needs.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use backend::auth::AuthError;
use backend::OpError;
use serde_json::json;

/// An error answered by the JSON API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with a status and a message for the caller.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 400
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 401: the same words for every kind of bad credential.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid or missing credentials")
    }

    /// 500: the details go to the log, never to the caller.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer, Basic realm="provisr""#));
        }
        res
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing | AuthError::Invalid => Self::unauthorized(),
            AuthError::Forbidden(p) => {
                Self::new(StatusCode::FORBIDDEN, format!("permission denied: your role lacks {p}"))
            }
            other => Self::internal(other),
        }
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Auth(a) => a.into(),
            OpError::Invalid(_) => Self::bad_request(e.to_string()),
            OpError::NotFound(m) => Self::not_found(m),
            OpError::Conflict(m) => Self::new(StatusCode::CONFLICT, m),
            OpError::Unavailable => Self::new(StatusCode::SERVICE_UNAVAILABLE, "the daemon is shutting down"),
            OpError::Store(s) => Self::internal(s),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection::*;
        match r {
            MissingJsonContentType(_) => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected a JSON body (Content-Type: application/json)")
            }
            JsonDataError(e) => Self::bad_request(format!("invalid request body: {}", e.body_text())),
            JsonSyntaxError(e) => Self::bad_request(format!("invalid JSON: {}", e.body_text())),
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        Self::bad_request(format!("invalid query: {}", r.body_text()))
    }
}

/// `Result` of a JSON API handler.
pub type ApiResult<T> = Result<T, ApiError>;

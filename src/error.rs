//! The one error type. Every handler returns `Result<T, ApiError>`; every 4xx/5xx leaves the
//! server as an RFC 9457 problem document (the body is written by `http::problem`, which knows
//! the request path and id).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// Carries field errors through serde, so that a domain type's `Deserialize` (which calls
    /// its `parse`) reports them as they are; `http::extract` unpacks them (`from_serde`).
    pub fn into_serde<E: serde::de::Error>(errors: Vec<FieldError>) -> E {
        E::custom(format!(
            "{SERDE_MARK}{}",
            serde_json::to_string(&errors).expect("field errors serialize")
        ))
    }

    pub fn from_serde(message: &str) -> Option<Vec<FieldError>> {
        serde_json::from_str(message.strip_prefix(SERDE_MARK)?).ok()
    }
}

const SERDE_MARK: &str = "\u{1}field errors\u{1}";

/// `Deserialize` for a domain type from what its `parse` takes: the JSON type is checked by
/// serde (a wrong one is `invalid_type`), the rules by `parse`.
#[macro_export]
macro_rules! deserialize_by_parse {
    ($type:ty, $raw:ty, $parse:expr) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <$raw as serde::Deserialize>::deserialize(deserializer)?;
                let parse: fn($raw) -> Result<$type, Vec<$crate::error::FieldError>> = $parse;
                parse(raw).map_err($crate::error::FieldError::into_serde)
            }
        }
    };
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
    pub www_authenticate: bool,
    /// The cause, logged for 5xx and never sent to the client.
    pub source: Option<anyhow::Error>,
}

/// What the problem renderer needs, carried as a response extension.
#[derive(Debug, Clone)]
pub struct ProblemParts {
    pub code: &'static str,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            code,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
            www_authenticate: false,
            source: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found")
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let count = errors.len();
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        error.detail = Some(if count == 1 {
            "1 field is invalid".to_owned()
        } else {
            format!("{count} fields are invalid")
        });
        error.errors = errors;
        error
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, code, message)])
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code).detail(detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code).detail(detail)
    }

    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code).detail(detail)
    }

    pub fn unauthenticated(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code).detail(detail)
    }

    /// 401 for a bearer-token path: adds `WWW-Authenticate: Bearer`.
    pub fn bearer(mut self) -> Self {
        self.www_authenticate = true;
        self
    }

    pub fn precondition_failed() -> Self {
        Self::new(StatusCode::PRECONDITION_FAILED, "precondition_failed")
            .detail("If-Match does not match the current version")
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited")
            .detail("too many requests; try again later");
        error.retry_after = Some(retry_after.max(1));
        error
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable").detail(detail);
        error.retry_after = Some(1);
        error
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut error = Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal");
        error.source = Some(source.into());
        error
    }
}

pub fn title_for(code: &str) -> &'static str {
    match code {
        "malformed_json" => "Malformed JSON body",
        "invalid_query" => "Invalid query parameter",
        "invalid_header" => "Invalid header",
        "unauthenticated" => "Authentication required",
        "invalid_credentials" => "Invalid credentials",
        "token_expired" => "Token expired",
        "forbidden" => "Forbidden",
        "csrf_failed" => "CSRF token missing or wrong",
        "account_disabled" => "Account disabled",
        "insufficient_scope" => "Insufficient scope",
        "registration_closed" => "Registration closed",
        "not_found" => "Not found",
        "method_not_allowed" => "Method not allowed",
        "conflict" => "Conflict",
        "email_taken" => "Email already registered",
        "idempotency_in_flight" => "Request with this idempotency key is in flight",
        "precondition_failed" => "Precondition failed",
        "payload_too_large" => "Payload too large",
        "unsupported_media_type" => "Unsupported media type",
        "validation_failed" => "Request validation failed",
        "idempotency_key_reused" => "Idempotency key reused with a different request",
        "rate_limited" => "Too many requests",
        "unavailable" => "Service unavailable",
        _ => "Internal server error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => tracing::error!(error = format!("{source:#}"), "request failed"),
                None if self.code == "internal" => tracing::error!("request failed"),
                None => {}
            }
        }
        let mut response = self.status.into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.www_authenticate {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        let detail = if self.code == "internal" {
            None
        } else {
            self.detail
        };
        response.extensions_mut().insert(ProblemParts {
            code: self.code,
            detail,
            errors: self.errors,
        });
        response
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        use tokio_postgres::error::SqlState;
        if error.is_unavailable() {
            tracing::warn!(error = %error, "database unavailable");
            return ApiError::unavailable("the database is unavailable; try again shortly");
        }
        match error.code() {
            Some(code)
                if code == &SqlState::T_R_SERIALIZATION_FAILURE
                    || code == &SqlState::T_R_DEADLOCK_DETECTED =>
            {
                ApiError::conflict("conflict", "concurrent update; retry the request")
            }
            _ => ApiError::internal(error),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        match error.downcast::<crate::db::DbError>() {
            Ok(db_error) => db_error.into(),
            Err(other) => ApiError::internal(other),
        }
    }
}

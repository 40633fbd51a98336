//! The one error type. Every handler returns `Result<T, ApiError>`; every 4xx/5xx leaves the
//! server as an RFC 9457 problem document (the body is written by `http::problem`, which knows
//! the request path and id).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An RFC 9457 problem document, as every error is sent.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub instance: String,
    pub code: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// The most entries a problem's `errors` lists (API.md §9 "Bounded answers").
pub const MAX_FIELD_ERRORS: usize = 20;

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
    /// its `parse`) reports them as they are; `http::extract` unpacks them (`from_serde`). Only
    /// the listed ones travel, with their total: 60,000 bad labels would otherwise be
    /// megabytes of JSON written and read back.
    pub fn into_serde<E: serde::de::Error>(errors: impl Into<FieldErrors>) -> E {
        E::custom(format!(
            "{SERDE_MARK}{}",
            serde_json::to_string(&errors.into()).expect("field errors serialize")
        ))
    }

    /// The errors `into_serde` carried.
    pub fn from_serde(message: &str) -> Option<FieldErrors> {
        serde_json::from_str(message.strip_prefix(SERDE_MARK)?).ok()
    }

    /// A domain type's `parse` applied to what serde read, its errors carried through serde
    /// (`deserialize_by_parse!`).
    pub fn parsed<R, T, E, D>(raw: R, parse: impl FnOnce(R) -> Result<T, E>) -> Result<T, D>
    where
        E: Into<FieldErrors>,
        D: serde::de::Error,
    {
        parse(raw).map_err(FieldError::into_serde)
    }
}

/// The field errors a domain type's `parse` found: the first [`MAX_FIELD_ERRORS`] (no more are
/// ever listed) and how many there were, so that a parse finding 60,000 builds twenty
/// (API.md §9 "Work is linear"). Reads as the slice of the listed ones.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldErrors {
    listed: Vec<FieldError>,
    total: usize,
}

impl FieldErrors {
    /// Counts an error, and builds it only if it is to be listed.
    pub fn push_with(&mut self, error: impl FnOnce() -> FieldError) {
        self.total += 1;
        if self.listed.len() < MAX_FIELD_ERRORS {
            self.listed.push(error());
        }
    }

    pub fn total(&self) -> usize {
        self.total
    }

    /// The listed errors and the total.
    pub fn into_parts(self) -> (Vec<FieldError>, usize) {
        (self.listed, self.total)
    }
}

impl std::ops::Deref for FieldErrors {
    type Target = [FieldError];

    fn deref(&self) -> &[FieldError] {
        &self.listed
    }
}

impl From<Vec<FieldError>> for FieldErrors {
    fn from(mut listed: Vec<FieldError>) -> Self {
        let total = listed.len();
        listed.truncate(MAX_FIELD_ERRORS);
        Self { listed, total }
    }
}

const SERDE_MARK: &str = "\u{1}field errors\u{1}";

/// `Deserialize` for a domain type from what its `parse` takes: the JSON type is checked by
/// serde (a wrong one is `invalid_type`), the rules by `parse` (whose errors are a
/// `Vec<FieldError>` or a [`FieldErrors`]).
#[macro_export]
macro_rules! deserialize_by_parse {
    ($type:ty, $raw:ty, $parse:expr) => {
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <$raw as serde::Deserialize>::deserialize(deserializer)?;
                $crate::error::FieldError::parsed::<$raw, $type, _, D::Error>(raw, $parse)
            }
        }
    };
}

/// The `code` of a problem document (API.md §1): a mistyped code does not compile, and each
/// has its one title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedJson,
    /// A streamed body (an upload) that ended before it was complete.
    IncompleteBody,
    /// A `Range` none of whose ranges is in the file (416).
    RangeNotSatisfiable,
    InvalidQuery,
    InvalidHeader,
    Unauthenticated,
    InvalidCredentials,
    TokenExpired,
    Forbidden,
    CsrfFailed,
    AccountDisabled,
    InsufficientScope,
    RegistrationClosed,
    SecondFactorRequired,
    SecondFactorSetupRequired,
    NotFound,
    MethodNotAllowed,
    Conflict,
    EmailTaken,
    IdempotencyInFlight,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    IdempotencyKeyReused,
    QuotaExceeded,
    RateLimited,
    Unavailable,
    /// 507: the disk or storage is (nearly) full; nothing was written.
    InsufficientStorage,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::IncompleteBody => "incomplete_body",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidHeader => "invalid_header",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::RegistrationClosed => "registration_closed",
            ErrorCode::SecondFactorRequired => "second_factor_required",
            ErrorCode::SecondFactorSetupRequired => "second_factor_setup_required",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::IdempotencyInFlight => "idempotency_in_flight",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::InsufficientStorage => "insufficient_storage",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "Malformed JSON body",
            ErrorCode::IncompleteBody => "Request body incomplete",
            ErrorCode::RangeNotSatisfiable => "Range not satisfiable",
            ErrorCode::InvalidQuery => "Invalid query parameter",
            ErrorCode::InvalidHeader => "Invalid header",
            ErrorCode::Unauthenticated => "Authentication required",
            ErrorCode::InvalidCredentials => "Invalid credentials",
            ErrorCode::TokenExpired => "Token expired",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::CsrfFailed => "CSRF token missing or wrong",
            ErrorCode::AccountDisabled => "Account disabled",
            ErrorCode::InsufficientScope => "Insufficient scope",
            ErrorCode::RegistrationClosed => "Registration closed",
            ErrorCode::SecondFactorRequired => "Second factor required",
            ErrorCode::SecondFactorSetupRequired => "A second factor must be set up first",
            ErrorCode::NotFound => "Not found",
            ErrorCode::MethodNotAllowed => "Method not allowed",
            ErrorCode::Conflict => "Conflict",
            ErrorCode::EmailTaken => "Email already registered",
            ErrorCode::IdempotencyInFlight => "Request with this idempotency key is in flight",
            ErrorCode::PreconditionFailed => "Precondition failed",
            ErrorCode::PayloadTooLarge => "Payload too large",
            ErrorCode::UnsupportedMediaType => "Unsupported media type",
            ErrorCode::ValidationFailed => "Request validation failed",
            ErrorCode::IdempotencyKeyReused => "Idempotency key reused with a different request",
            ErrorCode::QuotaExceeded => "Quota exceeded",
            ErrorCode::RateLimited => "Too many requests",
            ErrorCode::Unavailable => "Service unavailable",
            ErrorCode::InsufficientStorage => "Storage full",
            ErrorCode::Internal => "Internal server error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
    pub www_authenticate: bool,
    /// The cause, logged for 5xx and never sent to the client.
    pub source: Option<anyhow::Error>,
    /// Extension members of the problem document (RFC 9457 §3.2), beside the standard ones:
    /// what a client needs to go on (a second-factor challenge).
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

/// What the problem renderer needs, carried as a response extension.
#[derive(Debug, Clone)]
pub struct ProblemParts {
    pub code: ErrorCode,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode) -> Self {
        Self {
            status,
            code,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
            www_authenticate: false,
            source: None,
            extensions: serde_json::Map::new(),
        }
    }

    /// Adds an extension member; the standard members (`type`, `title`, `status`, `detail`,
    /// `instance`, `code`, `request_id`, `errors`) cannot be replaced this way.
    pub fn with_member(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(name.to_owned(), value);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound)
    }

    /// A 422 listing field errors: at most [`MAX_FIELD_ERRORS`] of them, with the total in
    /// `detail`, so that a body of 87,000 bad labels gets a small answer.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let count = errors.len();
        Self::validation_of(errors, count)
    }

    /// A 422 listing (the first [`MAX_FIELD_ERRORS`] of) `errors`, out of `count` in all.
    pub fn validation_of(mut errors: Vec<FieldError>, count: usize) -> Self {
        let detail = if count == 1 {
            "1 field is invalid".to_owned()
        } else if count > MAX_FIELD_ERRORS {
            format!("{count} fields are invalid; the first {MAX_FIELD_ERRORS} are listed")
        } else {
            format!("{count} fields are invalid")
        };
        errors.truncate(MAX_FIELD_ERRORS);
        Self::validation_listing(errors, detail)
    }

    /// A 422 from a check that stopped looking once it had found more than
    /// [`MAX_FIELD_ERRORS`] errors (API.md §9 "Work is linear"): the total is not known.
    pub fn validation_at_least(mut errors: Vec<FieldError>) -> Self {
        errors.truncate(MAX_FIELD_ERRORS);
        Self::validation_listing(
            errors,
            format!("at least {MAX_FIELD_ERRORS} fields are invalid"),
        )
    }

    fn validation_listing(errors: Vec<FieldError>, detail: String) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
        );
        error.detail = Some(detail);
        error.errors = errors;
        error
    }

    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, code, message)])
    }

    pub fn bad_request(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code).detail(detail)
    }

    pub fn conflict(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code).detail(detail)
    }

    pub fn forbidden(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code).detail(detail)
    }

    pub fn unauthenticated(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code).detail(detail)
    }

    /// 401 for a bearer-token path: adds `WWW-Authenticate: Bearer`.
    pub fn bearer(mut self) -> Self {
        self.www_authenticate = true;
        self
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::PreconditionFailed,
        )
        .detail("If-Match does not match the current version")
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited)
            .detail("too many requests; try again later");
        error.retry_after = Some(retry_after.max(1));
        error
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        let mut error =
            Self::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable).detail(detail);
        error.retry_after = Some(1);
        error
    }

    /// 507: the embedded database's disk is nearly full, so writes are refused before
    /// PostgreSQL runs out (API.md §1, §7 `DOCKET_MIN_FREE_DISK_MB`).
    pub fn insufficient_storage() -> Self {
        Self::storage_full(
            "the server's disk is nearly full, so changes cannot be saved until its operator \
             frees space; reading, signing in and deleting still work",
        )
    }

    /// 507 for one write that would not fit (an attachment: API.md §20); nothing was changed.
    pub fn storage_full(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::InsufficientStorage,
        )
        .detail(detail)
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut error = Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal);
        error.source = Some(source.into());
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            match &self.source {
                Some(source) => tracing::error!(error = format!("{source:#}"), "request failed"),
                None if self.code == ErrorCode::Internal => tracing::error!("request failed"),
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
        let detail = if self.code == ErrorCode::Internal {
            None
        } else {
            self.detail
        };
        response.extensions_mut().insert(ProblemParts {
            code: self.code,
            detail,
            errors: self.errors,
            extensions: self.extensions,
        });
        response
    }
}

/// A domain error with a problem to show (a quota reached, an email taken). The domain says how
/// it looks at the edge, beside its definition, and `?` in a handler turns it into an
/// `ApiError`; so this module names no domain.
pub trait DomainError {
    fn into_api_error(self) -> ApiError;
}

impl<E: DomainError> From<E> for ApiError {
    fn from(error: E) -> Self {
        error.into_api_error()
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(error: crate::db::DbError) -> Self {
        use tokio_postgres::error::SqlState;
        if error.is_disk_full() {
            tracing::warn!(error = %error, "the database's disk is full");
            return ApiError::unavailable(
                "the database's disk is full, so nothing can be saved until its operator frees \
                 space; try again later",
            );
        }
        if error.is_unreachable() {
            // The pool logs an outage once (`db::backoff::Health`); each request's 503 is in
            // the access log.
            tracing::debug!(error = %error, "database unreachable");
            return ApiError::unavailable("the database is unavailable; try again shortly");
        }
        if error.is_unavailable() {
            tracing::warn!(error = %error, "database unavailable");
            return ApiError::unavailable("the database is unavailable; try again shortly");
        }
        match error.code() {
            Some(code)
                if code == &SqlState::T_R_SERIALIZATION_FAILURE
                    || code == &SqlState::T_R_DEADLOCK_DETECTED =>
            {
                ApiError::conflict(ErrorCode::Conflict, "concurrent update; retry the request")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_render_as_their_names() {
        assert_eq!(ErrorCode::ValidationFailed.as_str(), "validation_failed");
        assert_eq!(
            ErrorCode::ValidationFailed.title(),
            "Request validation failed"
        );
        assert_eq!(
            serde_json::to_value(ErrorCode::IdempotencyKeyReused).unwrap(),
            "idempotency_key_reused"
        );
        assert_eq!(ErrorCode::Internal.to_string(), "internal");
    }

    #[test]
    fn field_errors_survive_serde() {
        let errors = vec![FieldError::new("labels.1", "invalid", "must be 1 to 50")];
        let carried: serde_json::Error = FieldError::into_serde(errors.clone());
        let back = FieldError::from_serde(&carried.to_string()).unwrap();
        assert_eq!(back.into_parts(), (errors, 1));
        assert_eq!(FieldError::from_serde("invalid type: string"), None);
        // Only what is ever listed travels, with the total; what is not listed is not built.
        let mut many = FieldErrors::default();
        let mut built = 0;
        for _ in 0..87 {
            many.push_with(|| {
                built += 1;
                FieldError::new("labels.1", "invalid", "must be 1 to 50")
            });
        }
        assert_eq!(built, MAX_FIELD_ERRORS);
        let carried: serde_json::Error = FieldError::into_serde(many);
        let (listed, total) = FieldError::from_serde(&carried.to_string())
            .unwrap()
            .into_parts();
        assert_eq!((listed.len(), total), (MAX_FIELD_ERRORS, 87));
    }
}

//! Extractors whose rejections are our problem documents.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use utoipa::PartialSchema;

use crate::error::{ApiError, ErrorCode, FieldError};

/// A JSON body: 415 without a JSON content type, 413 over the limit, 400 when it is not a JSON
/// object, 422 when a field is missing, unknown or of the wrong type.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned + PartialSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json_content_type(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            )
            .detail("the body must be application/json"));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(Json)
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
            .detail("the body is larger than the limit of 256 KiB")
    } else {
        ApiError::bad_request(ErrorCode::MalformedJson, "the body could not be read")
    }
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// A body type whose resource has fields a client may read but never write: naming one is a
/// 422 with code `read_only` rather than `unknown_field`.
pub trait ReadOnlyFields {
    const READ_ONLY: &'static [&'static str];
}

/// A JSON body for a partial update (`PATCH`): like [`Json`], plus the `read_only` rule.
pub struct JsonPatch<T>(pub T);

impl<T, S> FromRequest<S> for JsonPatch<T>
where
    T: DeserializeOwned + PartialSchema + ReadOnlyFields,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<serde_json::Value>::from_request(request, state).await?;
        let serde_json::Value::Object(value) = value else {
            unreachable!("parse_json takes only objects")
        };
        let read_only: Vec<FieldError> = value
            .keys()
            .filter(|key| T::READ_ONLY.contains(&key.as_str()))
            .map(|key| FieldError::new(key.as_str(), "read_only", "is read-only"))
            .collect();
        if !read_only.is_empty() {
            return Err(ApiError::validation(read_only));
        }
        deserialize_object(serde_json::Value::Object(value)).map(JsonPatch)
    }
}

/// Deserializes a JSON object into a request type, collecting **every** field error: serde
/// stops at the first, so the offending member is taken out and the rest tried again, until
/// what is left parses. Domain types deserialize through their `parse` (see
/// `deserialize_by_parse!`), so a wrong JSON type, a wrong enum value, a range and a length
/// are all reported together, each under its field. Required members the body lacks are read
/// from the type's schema, the same one the document shows.
fn deserialize_object<T: DeserializeOwned + PartialSchema>(
    value: serde_json::Value,
) -> Result<T, ApiError> {
    let serde_json::Value::Object(original) = value else {
        return Err(ApiError::bad_request(
            ErrorCode::MalformedJson,
            "the body must be a JSON object",
        ));
    };
    let mut rest = original.clone();
    let mut errors: Vec<FieldError> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    for _ in 0..=original.len() {
        let error =
            match serde_path_to_error::deserialize::<_, T>(serde_json::Value::Object(rest.clone()))
            {
                Ok(parsed) if errors.is_empty() => return Ok(parsed),
                Ok(_) => break,
                Err(error) => error,
            };
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let found = describe_serde_error(&path, &message);
        let missing = found.iter().any(|e| e.code == "required");
        for field_error in found {
            let already = errors.iter().any(|e| e.field == field_error.field)
                || (field_error.code == "required" && removed.contains(&field_error.field));
            if !already {
                errors.push(field_error);
            }
        }
        if missing {
            // Missing members are checked after every present one parsed: nothing is left
            // but other missing members, which the schema names.
            break;
        }
        let key = top_level_key(&path, &message);
        match key.filter(|k| rest.contains_key(k)) {
            Some(key) => {
                rest.remove(&key);
                removed.push(key);
            }
            None => break,
        }
    }
    for name in required_members::<T>() {
        if !original.contains_key(&name) && !errors.iter().any(|e| e.field == name) {
            errors.push(FieldError::new(name, "required", "is required"));
        }
    }
    Err(ApiError::validation(errors))
}

/// The member of the body that an error is about (`labels.1` → `labels`).
fn top_level_key(path: &str, message: &str) -> Option<String> {
    let first = path.split(['.', '[']).next().unwrap_or("");
    if !first.is_empty() {
        return Some(first.to_owned());
    }
    // `unknown field `x``: serde names the member in the message, at the object's path.
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_owned())
}

fn required_members<T: PartialSchema>() -> Vec<String> {
    match T::schema() {
        utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(object)) => {
            object.required
        }
        _ => Vec::new(),
    }
}

/// A JSON integer. JSON Schema's `integer` is any number without a fractional part, so `2.0`
/// is an integer as the document promises; serde's `i64` would refuse it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integer(pub i64);

impl Integer {
    pub fn from_number(number: &serde_json::Number) -> Option<Self> {
        number.as_i64().map(Self).or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| Self(f as i64))
        })
    }
}

impl<'de> serde::Deserialize<'de> for Integer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("invalid type: expected i64"))?;
        Self::from_number(&number)
            .ok_or_else(|| serde::de::Error::custom("invalid type: expected i64"))
    }
}

/// For optional fields that must not be `null` (absent = unchanged, `null` = an error): use
/// with `#[serde(default, deserialize_with = "non_null")]`.
pub fn non_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A member of a JSON merge patch (RFC 7396) that may be cleared: absent (leave the field as
/// it is), `null` (clear it) or a new value. Use with `#[serde(default)]`; a member that must
/// not be `null` is an `Option<T>` with [`non_null`] instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    /// The field's value after the patch, given its value before.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Null => None,
            Patch::Value(value) => Some(value),
        }
    }

    pub fn map_value<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(value) => Patch::Value(f(value)),
        }
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Patch::Null, Patch::Value))
    }
}

/// Parses a JSON object into `T`, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned + PartialSchema>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::bad_request(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {error}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            ErrorCode::MalformedJson,
            "the body must be a JSON object",
        ));
    }
    if let Some(field) = find_nul(&value, "") {
        return Err(ApiError::field(
            &field,
            "invalid",
            "must not contain NUL characters",
        ));
    }
    deserialize_object(value)
}

/// PostgreSQL text cannot hold NUL, so no string with one may pass the boundary.
fn find_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_nul(item, &join(&i.to_string()))),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(join(key))
            } else {
                find_nul(item, &join(key))
            }
        }),
        _ => None,
    }
}

fn describe_serde_error(path: &str, message: &str) -> Vec<FieldError> {
    // serde_path_to_error writes `labels[1]`; problem documents use `labels.1`.
    let path = &path.replace('[', ".").replace(']', "");
    if let Some(errors) = FieldError::from_serde(message) {
        // A domain type's own errors: they name their field, which the path may rename
        // (`labels.1` stays `labels.1`; a `Description` under `description` keeps its name).
        return errors
            .into_iter()
            .map(|mut error| {
                let suffix = error.field.split_once('.').map(|(_, rest)| rest.to_owned());
                error.field = match suffix {
                    Some(suffix) if !path.is_empty() && path != "." => format!("{path}.{suffix}"),
                    _ if !path.is_empty() && path != "." => path.clone(),
                    _ => error.field,
                };
                error
            })
            .collect();
    }
    vec![describe_one(path, message)]
}

fn describe_one(path: &str, message: &str) -> FieldError {
    let quoted = |message: &str| -> Option<String> {
        let start = message.find('`')? + 1;
        let end = start + message[start..].find('`')?;
        Some(message[start..end].to_owned())
    };
    let join = |name: String| {
        if path == "." || path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        }
    };
    let field = if path == "." {
        String::new()
    } else {
        path.to_owned()
    };
    if message.starts_with("unknown field") {
        let name = quoted(message).unwrap_or_default();
        let field = if field.is_empty() { name } else { field };
        FieldError::new(field, "unknown_field", "is not a known field")
    } else if message.starts_with("missing field") {
        let name = quoted(message).unwrap_or_default();
        FieldError::new(join(name), "required", "is required")
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        let expected = message
            .split("expected ")
            .nth(1)
            .map(plain_type_name)
            .unwrap_or("of another type");
        FieldError::new(field, "invalid_type", format!("must be {expected}"))
    } else if message.starts_with("unknown variant") {
        let allowed = message
            .split("expected ")
            .nth(1)
            .unwrap_or("a known value")
            .to_owned();
        FieldError::new(field, "invalid_value", format!("must be {allowed}"))
    } else if message.starts_with("UUID parsing failed") {
        FieldError::new(field, "invalid_type", "must be an id (a UUID)")
    } else {
        FieldError::new(field, "invalid", "has an invalid value")
    }
}

/// serde names Rust types ("i64", "a sequence"); problem documents speak JSON.
fn plain_type_name(expected: &str) -> &'static str {
    match expected.trim() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "an integer" => "an integer",
        "f32" | "f64" | "a number" => "a number",
        "a string" | "a borrowed string" => "a string",
        "a boolean" => "true or false",
        "a sequence" => "an array",
        "a map" | "a struct" => "an object",
        "a UUID" => "an id (a UUID)",
        other if other.starts_with("struct ") || other.starts_with("a map") => "an object",
        other if other.contains("formatted date") || other.contains("date") => "a date",
        _ => "of another type",
    }
}

/// Query string parameters: anything malformed is a 400 `invalid_query`.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let has_nul = url::form_urlencoded::parse(query.as_bytes())
            .any(|(key, value)| key.contains('\0') || value.contains('\0'));
        if has_nul {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "query parameters must not contain NUL characters",
            ));
        }
        serde_urlencoded_from_str(query).map(Query)
    }
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let field = describe_serde_error(&path, &message).remove(0);
        let name = if field.field.is_empty() {
            "query".to_owned()
        } else {
            field.field
        };
        ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("{name}: {}", field.message),
        )
    })
}

/// A path parameter; one that does not parse names no resource, so it is a 404.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|_| ApiError::not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        priority: Option<i32>,
    }

    #[derive(serde::Deserialize, Debug, utoipa::ToSchema)]
    #[allow(dead_code)]
    struct Tags {
        labels: Vec<String>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let err = parse_json::<Body>(br#"{"title": 5}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.errors[0].field, "title");
        let err = parse_json::<Body>(br#"{"title": "x", "bogus": 1}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "bogus");
        assert_eq!(err.errors[0].code, "unknown_field");
        let err = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "title");
        assert_eq!(err.errors[0].code, "required");
        let err = parse_json::<Body>(b"[1]").unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedJson);
        let err = parse_json::<Body>(b"{").unwrap_err();
        assert_eq!(err.code, ErrorCode::MalformedJson);
        let err = parse_json::<Tags>(br#"{"labels": ["a", 5]}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "labels.1");
        assert_eq!(err.errors[0].message, "must be a string");
        let err = parse_json::<Body>(br#"{"title": "x", "priority": "2"}"#).unwrap_err();
        assert_eq!(err.errors[0].message, "must be an integer");
        let err = parse_json::<Body>(br#"{"title": "a\u0000b"}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "title");
        // Every error at once, and a member missing beside a wrong one.
        let err = parse_json::<Body>(br#"{"title": 5, "priority": "2", "x": 1}"#).unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["priority", "title", "x"]);
        let err = parse_json::<Body>(br#"{"priority": true}"#).unwrap_err();
        let fields: Vec<&str> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["priority", "title"]);
    }
}

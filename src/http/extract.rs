//! Extractors whose rejections are our problem documents.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use std::borrow::Cow;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::RefOr;
use utoipa::PartialSchema;

use crate::error::{ApiError, ErrorCode, FieldError, MAX_FIELD_ERRORS};

/// A JSON body: 415 without a JSON content type, 413 over the limit, 400 when it is not a JSON
/// object, 422 when a field is missing, unknown or of the wrong type.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned + PartialSchema + Send + 'static,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(request, state).await?;
        off_the_workers(bytes, parse_json::<T>).await.map(Json)
    }
}

/// Bodies at least this large are parsed on the blocking pool (see [`off_the_workers`]).
const OFFLOAD_BYTES: usize = 16 * 1024;

/// Parses a large body off the async workers, at most one per core at a time. Parsing is linear
/// (API.md §9), but the costliest 256 KiB body (60,000 bad labels) is still milliseconds of CPU
/// (~15 ms when this was written), and a worker busy that long keeps `/healthz` and every other
/// request queued on it waiting: under a flood of such bodies `/healthz` waited ~300 ms at the
/// median (`docs/performance.md`). Off the workers they only share the cores; waiting for a
/// turn (a semaphore) holds no thread, and at most one body per core is being parsed (held in
/// memory as values) at once. Small bodies, nearly all of them, are parsed in place: a thread
/// hop would cost more than they do.
async fn off_the_workers<T: Send + 'static>(
    bytes: Bytes,
    parse: fn(&[u8]) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    if bytes.len() < OFFLOAD_BYTES {
        return parse(&bytes);
    }
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    let _turn = turns.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || parse(&bytes))
        .await
        .map_err(ApiError::internal)?
}

/// The body of a request that must be JSON: 415 without a JSON content type, 413 over the limit.
async fn json_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    if !is_json_content_type(request.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
        )
        .detail("the body must be application/json"));
    }
    Bytes::from_request(request, state)
        .await
        .map_err(body_rejection)
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
    T: DeserializeOwned + PartialSchema + ReadOnlyFields + Send + 'static,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_bytes(request, state).await?;
        off_the_workers(bytes, parse_patch::<T>)
            .await
            .map(JsonPatch)
    }
}

/// Parses a merge patch: a read-only member named is refused before anything else is looked at.
fn parse_patch<T>(bytes: &[u8]) -> Result<T, ApiError>
where
    T: DeserializeOwned + PartialSchema + ReadOnlyFields,
{
    deserialize_scanned::<T>(scan_body::<T>(bytes, T::READ_ONLY)?).0
}

/// Parses a JSON object into `T`, naming every offending field on failure (see
/// [`deserialize_scanned`]).
pub fn parse_json<T: DeserializeOwned + PartialSchema>(bytes: &[u8]) -> Result<T, ApiError> {
    deserialize_scanned::<T>(scan_body::<T>(bytes, &[])?).0
}

/// What one pass over a body found.
struct Scan {
    /// The members `T` knows, each once (the last one given wins, as in `serde_json::Value`).
    known: Map<String, Value>,
    /// Distinct unknown members, at most [`MAX_FIELD_ERRORS`] + 1 of them.
    unknown: Vec<String>,
    /// There were more unknown members than that: the total is not known.
    stopped: bool,
}

/// Reads a body in one pass over its bytes (API.md §9 "Work is linear"): it must be a JSON
/// object; the members `T` knows (see [`Members`]) are kept as values, every other one is
/// skipped without being built (`IgnoredAny`: no allocation, no recursion) and only the first
/// [`MAX_FIELD_ERRORS`] + 1 distinct names of them are kept. So 32,000 unknown members cost a
/// scan of the bytes, not 32,000 strings in a map. serde_json refuses nesting deeper than 128 in
/// a kept value, so everything after this recurses at most that deep. Named `read_only` members
/// are a 422 of their own, and NUL (which PostgreSQL text cannot hold) anywhere in a name or a
/// kept value is refused.
fn scan_body<T: DeserializeOwned + PartialSchema>(
    bytes: &[u8],
    read_only: &[&str],
) -> Result<Scan, ApiError> {
    let not_json = |error: serde_json::Error| {
        ApiError::bad_request(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {error}"),
        )
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        serde_json::from_slice::<IgnoredAny>(bytes).map_err(not_json)?;
        return Err(ApiError::bad_request(
            ErrorCode::MalformedJson,
            "the body must be a JSON object",
        ));
    }
    let members = Members::of::<T>();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let found = Scanner {
        members: &members,
        read_only,
    }
    .deserialize(&mut deserializer)
    .and_then(|found| deserializer.end().map(|()| found))
    .map_err(not_json)?;
    let nul = found.nul.or_else(|| find_nul(&found.known));
    if let Some(field) = nul {
        return Err(ApiError::field(
            &field,
            "invalid",
            "must not contain NUL characters",
        ));
    }
    if !found.read_only.is_empty() {
        let mut names = found.read_only;
        names.sort();
        return Err(ApiError::validation(
            names
                .into_iter()
                .map(|name| FieldError::new(name, "read_only", "is read-only"))
                .collect(),
        ));
    }
    Ok(Scan {
        known: found.known,
        unknown: found.unknown,
        stopped: found.stopped,
    })
}

/// The visitor of [`scan_body`]'s one pass.
struct Scanner<'a> {
    members: &'a Members,
    read_only: &'a [&'a str],
}

#[derive(Default)]
struct Found {
    known: Map<String, Value>,
    unknown: Vec<String>,
    stopped: bool,
    read_only: Vec<String>,
    /// The first member name holding NUL.
    nul: Option<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Scanner<'_> {
    type Value = Found;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Found, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Scanner<'_> {
    type Value = Found;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let mut found = Found::default();
        // A name is compared with at most 21 kept ones: constant work per member.
        let first_time = |names: &[String], name: &str| !names.iter().any(|kept| kept == name);
        while let Some(Name(name)) = map.next_key()? {
            if name.contains('\0') {
                found.nul.get_or_insert_with(|| name.clone().into_owned());
            } else if self.read_only.contains(&name.as_ref()) {
                if first_time(&found.read_only, &name) {
                    found.read_only.push(name.into_owned());
                }
            } else {
                match self.members.judge(&name) {
                    Member::Known => {
                        let value: Value = map.next_value()?;
                        found.known.insert(name.into_owned(), value);
                        continue;
                    }
                    Member::Ignored => {}
                    Member::Unknown if found.stopped => {}
                    Member::Unknown => {
                        if first_time(&found.unknown, &name) {
                            found.unknown.push(name.into_owned());
                            found.stopped = found.unknown.len() > MAX_FIELD_ERRORS;
                        }
                    }
                }
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(found)
    }
}

/// A member name, borrowed from the body unless it has escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a member name")
            }

            fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(name)))
            }

            fn visit_str<E>(self, name: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name.to_owned())))
            }

            fn visit_string<E>(self, name: String) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(name)))
            }
        }

        deserializer.deserialize_str(NameVisitor)
    }
}

/// Deserializes a scanned body into a request type, collecting **every** field error (API.md
/// §8) in work linear in the body (§9). serde stops at the first error, so:
/// 1. unknown members were already found by [`scan_body`], without running serde at all;
/// 2. the known members (at most the type's few) are deserialized; a member that fails is taken
///    out and the rest tried again, until it parses. Each try is one pass over the known
///    members, and there are at most as many tries as known members plus one.
///
/// More than [`MAX_FIELD_ERRORS`] unknown members stop the search (the problem then says "at
/// least 20" and lists twenty), so a body with twenty or fewer invalid members has each listed
/// and an exact count. Domain types deserialize through their `parse` (see
/// `deserialize_by_parse!`), so a wrong JSON type, a wrong enum value, a range and a length are
/// all reported together, each under its field. Required members the body lacks are read from
/// the type's schema, the same one the document shows. Errors are listed in the order of the
/// names of the members they are about, missing members last. Also returns how many times serde
/// ran (the property tests bound it).
fn deserialize_scanned<T: DeserializeOwned + PartialSchema>(
    scan: Scan,
) -> (Result<T, ApiError>, usize) {
    // Each member's errors under its name (in order), errors about no one member, and the
    // members missing.
    let mut by_member: std::collections::BTreeMap<String, Vec<FieldError>> = scan
        .unknown
        .into_iter()
        .map(|name| {
            let error = FieldError::new(name.clone(), "unknown_field", "is not a known field");
            (name, vec![error])
        })
        .collect();
    let mut unplaced: Vec<FieldError> = Vec::new();
    let mut missing: Vec<FieldError> = Vec::new();
    let mut unlisted = 0;
    let mut stopped = scan.stopped;
    let mut removed: Vec<String> = Vec::new();
    let mut rest = Value::Object(scan.known);
    let mut runs = 0;
    while !stopped {
        runs += 1;
        let error = match serde_path_to_error::deserialize::<_, T>(&rest) {
            Ok(parsed) if by_member.is_empty() => return (Ok(parsed), runs),
            Ok(_) => break,
            Err(error) => error,
        };
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let (found, count) = describe_serde_error(&path, &message);
        // Errors beyond those listed (never shown, but counted).
        unlisted += count.saturating_sub(found.len());
        // serde checks for missing members after every present one parsed: nothing is left
        // but other missing members, which the schema names.
        if message.starts_with("missing field") {
            missing.extend(found);
            break;
        }
        let key = top_level_key(&path, &message).filter(|key| rest.get(key).is_some());
        let (Some(key), Value::Object(left)) = (key, &mut rest) else {
            unplaced.extend(found);
            break;
        };
        left.remove(&key);
        by_member.entry(key.clone()).or_default().extend(found);
        removed.push(key);
        // Known members are few, so each is looked at; members of a type that names none
        // ([`Members::Any`]) could be many, so at most twenty are.
        if runs > MAX_FIELD_ERRORS && !left.is_empty() {
            stopped = true;
        }
    }
    if !stopped {
        let present = |name: &str| {
            rest.get(name).is_some()
                || removed.iter().any(|member| member == name)
                || by_member.contains_key(name)
        };
        // A member taken out for being invalid is not also missing.
        missing.retain(|error| !present(&error.field));
        for name in required_members::<T>() {
            if !present(&name) && !missing.iter().any(|error| error.field == name) {
                missing.push(FieldError::new(name, "required", "is required"));
            }
        }
    }
    let errors: Vec<FieldError> = by_member
        .into_values()
        .flatten()
        .chain(unplaced)
        .chain(missing)
        .collect();
    let error = if stopped {
        ApiError::validation_at_least(errors)
    } else {
        let count = errors.len() + unlisted;
        ApiError::validation_of(errors, count)
    };
    (Err(error), runs)
}

/// What a body's member names are checked against before serde runs.
pub(crate) enum Members {
    /// A struct: serde's own list of its members. An unknown member is an error if the struct
    /// denies unknown fields, and otherwise dropped (serde would ignore it).
    Struct {
        fields: &'static [&'static str],
        deny_unknown: bool,
    },
    /// A type whose schema is a closed object or a choice of objects (an internally tagged enum
    /// such as the token endpoint's): the members its schema names; others are refused.
    Schema(Vec<String>),
    /// Anything else (a `serde_json::Value`): every member goes to serde.
    Any,
}

enum Member {
    Known,
    Unknown,
    Ignored,
}

impl Members {
    pub(crate) fn of<T: DeserializeOwned + PartialSchema>() -> Self {
        if let Some(fields) = struct_fields::<T>() {
            return Members::Struct {
                fields,
                deny_unknown: denies_unknown::<T>(),
            };
        }
        schema_members(&T::schema()).map_or(Members::Any, Members::Schema)
    }

    fn judge(&self, name: &str) -> Member {
        let known = match self {
            Members::Struct { fields, .. } => fields.contains(&name),
            Members::Schema(names) => names.iter().any(|known| known == name),
            Members::Any => true,
        };
        match self {
            _ if known => Member::Known,
            Members::Struct {
                deny_unknown: false,
                ..
            } => Member::Ignored,
            _ => Member::Unknown,
        }
    }
}

/// The member names serde accepts for `T` if `T` is a struct: a derived `Deserialize` hands
/// them to `deserialize_struct`, so a deserializer that records them and stops learns them
/// without any input.
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    struct Probe<'a>(&'a mut Option<&'static [&'static str]>);

    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some(fields);
            Err(serde::de::Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields = None;
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Whether `T` refuses a member it does not know (`#[serde(deny_unknown_fields)]`): asked with
/// a body of one member no struct has.
fn denies_unknown<T: DeserializeOwned>() -> bool {
    let probe = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(
        std::iter::once(("\0", ())),
    );
    T::deserialize(probe).is_err_and(|error| error.to_string().starts_with("unknown field"))
}

/// The members a closed object schema names, or those of a `oneOf` of objects: utoipa writes an
/// internally tagged enum so (without `additionalProperties: false` on its variants, although
/// serde refuses unknown members there with `deny_unknown_fields`; see
/// `openapi::ClosedTaggedVariants`), so a variant is taken as closed unless it says otherwise.
fn schema_members(schema: &RefOr<Schema>) -> Option<Vec<String>> {
    let RefOr::T(schema) = schema else {
        return None;
    };
    match schema {
        Schema::Object(object)
            if matches!(
                object.additional_properties.as_deref(),
                Some(AdditionalProperties::FreeForm(false))
            ) =>
        {
            Some(object.properties.keys().cloned().collect())
        }
        Schema::OneOf(one_of) => {
            let mut names: Vec<String> = Vec::new();
            for item in &one_of.items {
                let RefOr::T(Schema::Object(object)) = item else {
                    return None;
                };
                if !matches!(
                    object.additional_properties.as_deref(),
                    None | Some(AdditionalProperties::FreeForm(false))
                ) {
                    return None;
                }
                for name in object.properties.keys() {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
            }
            Some(names)
        }
        _ => None,
    }
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
        RefOr::T(Schema::Object(object)) => object.required,
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

/// The path of the first string or member name holding NUL (PostgreSQL text cannot hold it,
/// so none may pass the boundary). The path is written only for the one found.
fn find_nul(object: &Map<String, Value>) -> Option<String> {
    fn walk(value: &Value) -> Option<Vec<String>> {
        match value {
            Value::String(s) if s.contains('\0') => Some(Vec::new()),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                walk(item).map(|mut path| {
                    path.push(i.to_string());
                    path
                })
            }),
            Value::Object(map) => in_members(map),
            _ => None,
        }
    }
    fn in_members(map: &Map<String, Value>) -> Option<Vec<String>> {
        map.iter().find_map(|(key, item)| {
            let mut path = if key.contains('\0') {
                Vec::new()
            } else {
                walk(item)?
            };
            path.push(key.clone());
            Some(path)
        })
    }
    in_members(object).map(|mut path| {
        path.reverse();
        path.join(".")
    })
}

/// The field errors a serde error stands for, and how many there were in all (a domain type
/// may report more than it lists: see `FieldError::into_serde`).
fn describe_serde_error(path: &str, message: &str) -> (Vec<FieldError>, usize) {
    // serde_path_to_error writes `labels[1]`; problem documents use `labels.1`.
    let path = &path.replace('[', ".").replace(']', "");
    if let Some(errors) = FieldError::from_serde(message) {
        let (errors, total) = errors.into_parts();
        // A domain type's own errors: they name their field, which the path may rename
        // (`labels.1` stays `labels.1`; a `Description` under `description` keeps its name).
        let errors = errors
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
        return (errors, total);
    }
    (vec![describe_one(path, message)], 1)
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
        // The last "expected": the value quoted before it is the client's text.
        let expected = message
            .rsplit_once("expected ")
            .map(|(_, expected)| plain_type_name(expected))
            .unwrap_or("of another type");
        FieldError::new(field, "invalid_type", format!("must be {expected}"))
    } else if message.starts_with("unknown variant") {
        let allowed = message
            .rsplit_once(", expected ")
            .map_or("a known value", |(_, allowed)| allowed)
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
        parse_query(parts.uri.query().unwrap_or("")).map(Query)
    }
}

/// A query string as `T`. One pass over the parameters for NUL and one for serde, which stops
/// at the first error (the problem names that parameter; a query's problems carry no
/// `errors`), so the work is linear in the query however many parameters it holds. A
/// parameter `T` does not know is ignored unless `T` denies unknown fields.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let has_nul = url::form_urlencoded::parse(query.as_bytes())
        .any(|(key, value)| key.contains('\0') || value.contains('\0'));
    if has_nul {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidQuery,
            "query parameters must not contain NUL characters",
        ));
    }
    let deserializer =
        serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        let field = describe_serde_error(&path, &message)
            .0
            .into_iter()
            .next()
            .unwrap_or_else(|| describe_one(&path, &message));
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
    use serde_json::json;

    /// Shaped like the API's query types (this layer names no domain): a task list's optional
    /// strings, and an event stream's typed members that deny unknown ones.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct ListQuery {
        status: Option<String>,
        assignee: Option<String>,
        label: Option<String>,
        priority_min: Option<String>,
        due_before: Option<String>,
        q: Option<String>,
        sort: Option<String>,
        limit: Option<String>,
        cursor: Option<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct StreamQuery {
        project_id: Option<uuid::Uuid>,
        after: Option<i64>,
    }

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

    /// The test body of the properties below: a required member, optional ones, an array and
    /// a merge-patch member.
    #[derive(serde::Deserialize, Debug, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Form {
        title: String,
        priority: Option<i32>,
        labels: Option<Vec<String>>,
        #[serde(default)]
        #[schema(value_type = Option<i32>)]
        due: Patch<i32>,
    }

    const FORM_FIELDS: [&str; 4] = ["title", "priority", "labels", "due"];

    impl ReadOnlyFields for Form {
        const READ_ONLY: &'static [&'static str] = &["id", "created_at"];
    }

    /// Shaped like the token endpoint's grant: an internally tagged enum.
    #[derive(serde::Deserialize, Debug, utoipa::ToSchema)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Grant {
        Password { email: String },
        Token { token: String },
    }

    fn fields_of(error: &ApiError) -> Vec<&str> {
        error.errors.iter().map(|e| e.field.as_str()).collect()
    }

    /// A body of `n` (at most 36³) members with three-character names, each with `value`.
    fn members(n: usize, value: &str) -> Vec<u8> {
        const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let name = |i: usize| -> String {
            [i / 1296, i / 36 % 36, i % 36]
                .iter()
                .map(|&d| DIGITS[d] as char)
                .collect()
        };
        let members: Vec<String> = (0..n).map(|i| format!("\"{}\":{value}", name(i))).collect();
        format!("{{{}}}", members.join(",")).into_bytes()
    }

    fn counted<T: DeserializeOwned + PartialSchema>(body: &[u8]) -> (Result<T, ApiError>, usize) {
        deserialize_scanned::<T>(scan_body::<T>(body, &[]).expect("an object"))
    }

    #[test]
    fn known_members_are_serdes_own() {
        assert_eq!(struct_fields::<Form>(), Some(&FORM_FIELDS[..]));
        assert_eq!(struct_fields::<Value>(), None);
        assert_eq!(struct_fields::<Grant>(), None);
        assert!(denies_unknown::<Form>());
        assert!(!denies_unknown::<Tags>());
        // A struct that ignores unknown members still does.
        assert!(parse_json::<Tags>(br#"{"labels": [], "other": 1}"#).is_ok());
        // An enum's members come from its schema's variants.
        let Members::Schema(mut names) = Members::of::<Grant>() else {
            panic!("the grant's schema names its members")
        };
        names.sort();
        assert_eq!(names, ["email", "kind", "token"]);
        assert!(matches!(Members::of::<Value>(), Members::Any));
        let (result, runs) =
            counted::<Grant>(br#"{"kind": "password", "email": "a", "token": "t", "zzz": 1}"#);
        let error = result.unwrap_err();
        assert_eq!(fields_of(&error), ["token", "zzz"], "{error:?}");
        assert_eq!(runs, 2);
        assert!(parse_json::<Grant>(br#"{"kind": "token", "token": "t"}"#).is_ok());
    }

    /// The worst bodies of the maximum size (API.md §9), each parsed in time linear in its
    /// size: serde runs at most once per known member plus once, and the time per byte stays
    /// far below what a quadratic loop takes (seconds for 16,000 members).
    #[test]
    fn the_worst_bodies_cost_linear_work() {
        let limit = crate::http::BODY_LIMIT_BYTES;
        let long = format!(r#"{{"title": "{}"}}"#, "a".repeat(250 * 1024));
        let array = format!(r#"{{"labels": [{}]}}"#, vec!["\"\""; 60_000].join(","));
        let deep = format!(
            r#"{{"labels": {}{}}}"#,
            "[".repeat(120_000),
            "]".repeat(120_000)
        );
        // Known members given again and again (as many as fit), each time of a wrong type.
        let bad: Vec<String> = (0..20_000)
            .map(|i| format!(r#""{}":[]"#, FORM_FIELDS[i % 2]))
            .collect();
        let bad = format!("{{{}}}", bad.join(","));
        for (shape, body) in [
            ("30,000 unknown members", members(30_000, "1")),
            ("20,000 known members with bad values", bad.into_bytes()),
            ("nesting 120,000 deep", deep.into_bytes()),
            ("one 250 KiB string", long.into_bytes()),
            ("an array of 60,000 items", array.into_bytes()),
        ] {
            assert!(body.len() <= limit, "{shape}: {} bytes", body.len());
            let start = std::time::Instant::now();
            let runs = match scan_body::<Form>(&body, &[]) {
                Ok(scan) => deserialize_scanned::<Form>(scan).1,
                Err(_) => 0,
            };
            let elapsed = start.elapsed();
            assert!(runs <= FORM_FIELDS.len() + 1, "{shape}: {runs} runs");
            let per_byte = elapsed.as_nanos() as f64 / body.len() as f64;
            eprintln!(
                "{shape}: {} bytes, {runs} runs, {elapsed:?} ({per_byte:.0} ns/byte)",
                body.len()
            );
            // ~40 ns a byte in a debug build; a quadratic loop takes seconds for 16,000 members.
            assert!(per_byte < 4_000.0, "{shape}: {elapsed:?}");
        }
    }

    #[test]
    fn a_flood_of_bad_members_stops_at_twenty() {
        // 30,000 unknown members: twenty listed, "at least", and serde never runs.
        let (result, runs) = counted::<Form>(&members(30_000, "1"));
        let error = result.unwrap_err();
        assert_eq!(error.errors.len(), MAX_FIELD_ERRORS);
        assert_eq!(
            error.detail.as_deref(),
            Some("at least 20 fields are invalid")
        );
        assert_eq!(runs, 0);
        // Exactly twenty, and nothing left to look at: the count is exact.
        let mut body: Value = serde_json::from_slice(&members(20, "1")).unwrap();
        body["title"] = json!("t");
        let error = parse_json::<Form>(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.detail.as_deref(), Some("20 fields are invalid"));
        // Twenty-one unknown before a known one: the twenty-first stops the search.
        let mut body: Value = serde_json::from_slice(&members(21, "1")).unwrap();
        body["title"] = json!(5);
        let error = parse_json::<Form>(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.errors.len(), 20);
        assert_eq!(
            error.detail.as_deref(),
            Some("at least 20 fields are invalid")
        );
        // Nineteen unknown and two invalid known members: each known member is looked at.
        let mut body: Value = serde_json::from_slice(&members(19, "1")).unwrap();
        body["title"] = json!(5);
        body["priority"] = json!("high");
        let error = parse_json::<Form>(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.errors.len(), 20);
        assert_eq!(
            error.detail.as_deref(),
            Some("21 fields are invalid; the first 20 are listed")
        );
        // A member repeated 30,000 times is one member (the last one counts).
        let repeated: Vec<&str> = vec![r#""priority":"x""#; 30_000];
        let body = format!(r#"{{{},"title":"t"}}"#, repeated.join(","));
        let error = parse_json::<Form>(body.as_bytes()).unwrap_err();
        assert_eq!(fields_of(&error), ["priority"]);
    }

    /// The same shapes as a query string: each parsed (or refused) in time linear in its size.
    #[test]
    fn the_worst_queries_cost_linear_work() {
        let unknown: Vec<String> = (0..30_000).map(|i| format!("p{i}=1")).collect();
        let repeated = vec!["limit=x"; 30_000].join("&");
        let nested = format!("label={}{}", "%5B".repeat(10_000), "%5D".repeat(10_000));
        let long = format!("cursor={}", "a".repeat(250 * 1024));
        let array = format!("status={}", vec!["todo"; 50_000].join(","));
        for (shape, query) in [
            ("30,000 unknown parameters", unknown.join("&")),
            ("a parameter repeated 30,000 times", repeated),
            ("a value nested 10,000 deep", nested),
            ("one 250 KiB value", long),
            ("a list of 50,000 items", array),
        ] {
            let start = std::time::Instant::now();
            let page = parse_query::<crate::pagination::PageQuery>(&query);
            let tasks = parse_query::<ListQuery>(&query);
            let events = parse_query::<StreamQuery>(&query);
            let elapsed = start.elapsed();
            for error in [page.err(), tasks.err(), events.err()]
                .into_iter()
                .flatten()
            {
                assert_eq!(error.code, ErrorCode::InvalidQuery, "{shape}");
            }
            let per_byte = elapsed.as_nanos() as f64 / query.len() as f64;
            eprintln!(
                "{shape}: {} bytes, {elapsed:?} ({per_byte:.0} ns/byte)",
                query.len()
            );
            assert!(per_byte < 4_000.0, "{shape}: {elapsed:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_any_work() {
        let deep = format!(
            r#"{{"labels": {}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let error = parse_json::<Form>(deep.as_bytes()).unwrap_err();
        assert_eq!(error.code, ErrorCode::MalformedJson);
        let deep = format!(
            r#"{{"a": {}1{}}}"#,
            r#"{"a":"#.repeat(10_000),
            "}".repeat(10_000)
        );
        let error = parse_json::<Value>(deep.as_bytes()).unwrap_err();
        assert_eq!(error.code, ErrorCode::MalformedJson);
        // Just under serde_json's limit of 128 a body parses, and what follows (the NUL check,
        // the copy into a `Value`, dropping it) stays within a thread's stack.
        let nested = format!(r#"{{"a": {}1{}}}"#, "[".repeat(120), "]".repeat(120));
        assert!(parse_json::<Value>(nested.as_bytes()).is_ok());
        let error =
            parse_json::<Form>(nested.replace("\"a\"", "\"labels\"").as_bytes()).unwrap_err();
        assert_eq!(fields_of(&error), ["labels.0", "title"]);
    }

    #[test]
    fn nul_is_found_anywhere_and_named() {
        let error = parse_json::<Value>(br#"{"a": [1, {"b": "x\u0000"}]}"#).unwrap_err();
        assert_eq!(fields_of(&error), ["a.1.b"]);
        let error = parse_json::<Value>(br#"{"a": {"k\u0000": 1}}"#).unwrap_err();
        assert_eq!(fields_of(&error), ["a.k\0"]);
    }

    #[test]
    fn read_only_members_of_a_patch_are_named() {
        let error = parse_patch::<Form>(br#"{"id": 1, "title": 5, "created_at": 2}"#).unwrap_err();
        assert_eq!(fields_of(&error), ["created_at", "id"]);
        assert!(error.errors.iter().all(|e| e.code == "read_only"));
        let form: Form = parse_patch(br#"{"title": "t", "due": null}"#).unwrap();
        assert_eq!(form.due, Patch::Null);
    }

    #[test]
    fn serde_messages_are_read_from_the_end() {
        // The client's text comes first in serde's message and may itself say "expected".
        let error = describe_one(
            "status",
            "unknown variant `x, expected you`, expected `a` or `b`",
        );
        assert_eq!(error.message, "must be `a` or `b`");
        let error = describe_one(
            "title",
            "invalid type: string \"y, expected a boolean\", expected a string",
        );
        assert_eq!(error.message, "must be a string");
    }

    /// Property tests of the parsers a stranger reaches (API.md §9 "Work is linear in what was
    /// sent"): whatever the input, no panic, at most 20 errors listed, every invalid member listed
    /// when there are fewer, and serde runs at most once per known member plus once.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Any JSON value, nested a few levels, with member names drawn mostly from the form's.
        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                // NUL is refused before anything else (`nul_is_found_anywhere_and_named`).
                "[^\\x00]{0,12}".prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                    prop::collection::vec((name(), inner), 0..8)
                        .prop_map(|members| Value::Object(members.into_iter().collect())),
                ]
            })
        }

        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(&FORM_FIELDS[..]).prop_map(str::to_owned),
                Just("id".to_owned()),
                Just("kind".to_owned()),
                Just("email".to_owned()),
                "[a-z]{1,3}",
                "[^\\x00]{0,6}",
            ]
        }

        fn query_name() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(
                    &[
                        "limit",
                        "cursor",
                        "q",
                        "status",
                        "label",
                        "after",
                        "project_id",
                        "sort"
                    ][..]
                )
                .prop_map(str::to_owned),
                ".{0,6}",
            ]
        }

        /// A member of the form: absent, valid, or of a wrong type.
        #[derive(Debug, Clone, Copy)]
        enum Choice {
            Absent,
            Valid,
            Invalid,
        }

        fn choice() -> impl Strategy<Value = Choice> {
            prop_oneof![
                Just(Choice::Absent),
                Just(Choice::Valid),
                Just(Choice::Invalid)
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any bytes, and JSON cut off anywhere: a 4xx or a value, never a panic.
            #[test]
            fn any_bytes_are_answered_without_panicking(
                bytes in prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..512),
                    (json(), any::<prop::sample::Index>()).prop_map(|(value, cut)| {
                        let text = serde_json::to_vec(&value).unwrap();
                        text[..cut.index(text.len() + 1)].to_vec()
                    }),
                ]
            ) {
                for error in [
                    parse_json::<Form>(&bytes).err(),
                    parse_patch::<Form>(&bytes).err(),
                    parse_json::<Grant>(&bytes).err(),
                ]
                .into_iter()
                .flatten()
                {
                    prop_assert!(error.status.is_client_error());
                    prop_assert!(error.errors.len() <= MAX_FIELD_ERRORS);
                }
            }

            #[test]
            fn any_object_is_answered_in_bounded_runs(members in prop::collection::vec((name(), json()), 0..40)) {
                let object: Map<String, Value> = members.into_iter().collect();
                let bytes = serde_json::to_vec(&object).unwrap();
                let (form, runs) = counted::<Form>(&bytes);
                prop_assert!(runs <= FORM_FIELDS.len() + 1, "{runs} runs");
                if let Err(error) = form {
                    prop_assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
                    prop_assert!(!error.errors.is_empty() && error.errors.len() <= MAX_FIELD_ERRORS);
                }
                let (_, runs) = counted::<Grant>(&bytes);
                prop_assert!(runs <= 4, "{runs} runs");
                let (value, runs) = counted::<Value>(&bytes);
                prop_assert_eq!(runs, 1);
                // As any parse of the text has it (a float may come back one ULP off).
                let parsed: Value = serde_json::from_slice(&bytes).unwrap();
                prop_assert_eq!(value.unwrap(), parsed);
                let _ = parse_patch::<Form>(&bytes);
            }

            /// API.md §8: every invalid member is listed, whatever rule it breaks, up to twenty.
            #[test]
            fn every_invalid_member_is_listed(
                title in choice(), priority in choice(), labels in choice(), due in choice(),
                bad_labels in prop::collection::vec(any::<bool>(), 0..30),
                unknown in prop::collection::btree_set("x[a-z]{1,4}", 0..30),
            ) {
                let mut body = Map::new();
                let mut expected: Vec<String> = Vec::new();
                let mut put = |name: &str, choice: Choice, valid: Value, invalid: Value, errors: Vec<String>| {
                    match choice {
                        Choice::Absent => {}
                        Choice::Valid => { body.insert(name.to_owned(), valid); }
                        Choice::Invalid => { body.insert(name.to_owned(), invalid); expected.extend(errors); }
                    }
                };
                put("title", title, json!("t"), json!(5), vec!["title".into()]);
                put("priority", priority, json!(2), json!("high"), vec!["priority".into()]);
                // Labels are invalid when one of them is not a string; serde names the first.
                let first_bad = bad_labels.iter().position(|bad| *bad);
                let label_values: Vec<Value> = bad_labels.iter().map(|bad| if *bad { json!(1) } else { json!("a") }).collect();
                let labels = match (labels, first_bad) {
                    (Choice::Invalid, None) => Choice::Valid,
                    (choice, _) => choice,
                };
                put("labels", labels, json!(["a"]), Value::Array(label_values),
                    vec![format!("labels.{}", first_bad.unwrap_or(0))]);
                put("due", due, json!(null), json!(1.5), vec!["due".into()]);
                if matches!(title, Choice::Absent) {
                    expected.push("title".into());
                }
                for name in &unknown {
                    body.insert(name.clone(), json!(true));
                    expected.push(name.clone());
                }
                let (result, runs) = counted::<Form>(&serde_json::to_vec(&body).unwrap());
                prop_assert!(runs <= FORM_FIELDS.len() + 1);
                if expected.is_empty() {
                    prop_assert!(result.is_ok(), "{:?}", result.err());
                    return Ok(());
                }
                let error = result.unwrap_err();
                let mut listed: Vec<String> = error.errors.iter().map(|e| e.field.clone()).collect();
                if expected.len() <= MAX_FIELD_ERRORS {
                    listed.sort();
                    expected.sort();
                    prop_assert_eq!(listed, expected);
                    prop_assert!(!error.detail.unwrap().starts_with("at least"));
                } else {
                    prop_assert_eq!(listed.len(), MAX_FIELD_ERRORS);
                    prop_assert!(listed.iter().all(|field| expected.contains(field)));
                    let detail = error.detail.unwrap();
                let total = format!("{} fields are invalid; the first 20 are listed", expected.len());
                prop_assert!(detail == "at least 20 fields are invalid" || detail == total, "{}", detail);
                }
            }

            /// Any query string, for the query types of the API: a value or a 400, never a panic.
        #[test]
        fn any_query_is_answered_without_panicking(
            raw in ".{0,200}",
            params in prop::collection::vec((query_name(), ".{0,16}"), 0..40),
        ) {
            let built = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish();
            for query in [raw.as_str(), built.as_str()] {
                for error in [
                    parse_query::<crate::pagination::PageQuery>(query).err(),
                    parse_query::<ListQuery>(query).err(),
                    parse_query::<StreamQuery>(query).err(),
                ]
                .into_iter()
                .flatten()
                {
                    prop_assert_eq!(error.status, StatusCode::BAD_REQUEST);
                    prop_assert_eq!(error.code, ErrorCode::InvalidQuery);
                }
            }
        }

        /// `Patch<T>` is RFC 7396: absent keeps, `null` clears, a value replaces; any other JSON
            /// is an error named after the member.
            #[test]
            fn patch_members_follow_merge_patch(value in json(), current in any::<Option<i32>>()) {
                let mut body = Map::new();
                body.insert("title".to_owned(), json!("t"));
                let absent: Form = parse_json(&serde_json::to_vec(&body).unwrap()).unwrap();
                prop_assert_eq!(absent.due, Patch::Absent);
                prop_assert_eq!(absent.due.apply(current), current);
                body.insert("due".to_owned(), value.clone());
                let expected = match &value {
                    Value::Null => Some(Patch::Null),
                    Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()).map(Patch::Value),
                    _ => None,
                };
                match (parse_json::<Form>(&serde_json::to_vec(&body).unwrap()), expected) {
                    (Ok(form), Some(expected)) => {
                        prop_assert_eq!(form.due, expected);
                        let after = form.due.apply(current);
                        prop_assert_eq!(after, match expected { Patch::Value(n) => Some(n), _ => None });
                    }
                    (Err(error), None) => prop_assert_eq!(fields_of(&error), ["due"]),
                    (got, expected) => prop_assert!(false, "{:?} for {:?}", got.map(|f| f.due), expected),
                }
            }
        }
    }
}

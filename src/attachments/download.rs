//! Serving a file so that it cannot attack the origin (API.md §20): a download unless the
//! sniffed type is a raster image or PDF, the sniffed type (never the name's) as
//! `Content-Type`, `nosniff`, a sandboxing CSP, `Cross-Origin-Resource-Policy: same-origin`;
//! plus `ETag` (the SHA-256), `If-None-Match` and single `Range`s.

use std::ops::Range;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::sniff;
use super::storage::Store;
use crate::error::{ApiError, ErrorCode};

/// What a served file's document may do: nothing. A browser that renders it anyway (an old
/// one ignoring `Content-Disposition`) runs no script and gets an opaque origin.
pub const CONTENT_CSP: &str = "sandbox; default-src 'none'";

/// One file to serve.
pub struct Served<'a> {
    pub store: &'a Store,
    pub key: String,
    pub size: u64,
    pub content_type: &'a str,
    /// The name in `Content-Disposition`.
    pub name: &'a str,
    /// The entity tag's value, unquoted.
    pub tag: String,
}

/// The answer to a GET of a file: 304, 206, 416 or 200 with the bytes streamed from storage.
pub async fn serve(file: Served<'_>, request: &HeaderMap) -> Result<Response, ApiError> {
    let etag = format!("\"{}\"", file.tag);
    if if_none_match(request, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        headers(response.headers_mut(), &file, &etag);
        return Ok(response);
    }
    let range = match requested_range(request, &etag, file.size) {
        Ok(range) => range,
        Err(()) => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorCode::RangeNotSatisfiable,
            )
            .detail(format!("the file has {} bytes", file.size))
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", file.size)) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let (status, length) = match &range {
        Some(range) => (StatusCode::PARTIAL_CONTENT, range.end - range.start),
        None => (StatusCode::OK, file.size),
    };
    let body = if length == 0 {
        Body::empty()
    } else {
        Body::from_stream(file.store.read(&file.key, range.clone()).await?.body)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let out = response.headers_mut();
    headers(out, &file, &etag);
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Some(range) = range {
        let value = format!("bytes {}-{}/{}", range.start, range.end - 1, file.size);
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

fn headers(out: &mut HeaderMap, file: &Served<'_>, etag: &str) {
    let content_type = HeaderValue::from_str(file.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    out.insert(header::CONTENT_TYPE, content_type);
    let disposition = disposition(sniff::inline(file.content_type), file.name);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_CSP),
    );
    out.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, value);
    }
}

fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// The one range to send (`None`: the whole file). A `Range` that cannot be parsed, asks for
/// several ranges, or comes with an `If-Range` that no longer matches is ignored (RFC 9110
/// allows a server to); one that lies wholly outside the file is `Err` (416).
fn requested_range(request: &HeaderMap, etag: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(value) = request.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = request.get(header::IF_RANGE) {
        if if_range.to_str().ok().map(str::trim) != Some(etag) {
            return Ok(None);
        }
    }
    let parsed = match http_range_header::parse_range_header(value) {
        Ok(parsed) => parsed,
        Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => return Err(()),
        Err(_) => return Ok(None),
    };
    match parsed.validate(size) {
        Ok(ranges) if ranges.len() == 1 => {
            let range = &ranges[0];
            Ok(Some(*range.start()..*range.end() + 1))
        }
        Ok(_) => Ok(None),
        Err(http_range_header::RangeUnsatisfiableError::Unsatisfiable) => Err(()),
        Err(_) => Ok(None),
    }
}

/// `attachment` (or `inline`) with the name twice: an ASCII fallback for old clients, and the
/// exact name as RFC 8187 UTF-8 (RFC 6266).
pub fn disposition(inline: bool, name: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let fallback: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' | ' ' | '(' | ')' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        match byte {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => encoded.push(byte as char),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range_of(value: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, "\"t\"", size)
    }

    #[test]
    fn single_ranges_are_served_others_ignored_or_refused() {
        assert_eq!(range_of("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(range_of("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(range_of("bytes=-5", 100), Ok(Some(95..100)));
        assert_eq!(range_of("bytes=50-500", 100), Ok(Some(50..100)));
        assert_eq!(range_of("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range_of("pages=1-2", 100), Ok(None));
        assert_eq!(range_of("bytes=200-300", 100), Err(()));
    }

    #[test]
    fn a_stale_if_range_means_the_whole_file() {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_static("bytes=0-9"));
        headers.insert(header::IF_RANGE, HeaderValue::from_static("\"old\""));
        assert_eq!(requested_range(&headers, "\"new\"", 100), Ok(None));
        headers.insert(header::IF_RANGE, HeaderValue::from_static("\"new\""));
        assert_eq!(requested_range(&headers, "\"new\"", 100), Ok(Some(0..10)));
    }

    #[test]
    fn names_are_quoted_safely() {
        assert_eq!(
            disposition(false, "report \"final\".pdf"),
            "attachment; filename=\"report _final_.pdf\"; filename*=UTF-8''report%20%22final%22.pdf"
        );
        let value = disposition(true, "café\r\nSet-Cookie: x=1.png");
        assert!(value.starts_with("inline; "));
        assert!(HeaderValue::from_str(&value).is_ok(), "{value}");
        assert!(!value.contains('\r') && !value.contains('\n'));
    }
}

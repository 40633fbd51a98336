//! Gzip for the API's JSON reads. A page of 50 tasks is ~35 KB of JSON and ~5 KB gzipped: on
//! a first visit over a real network that is most of the bytes (the client's budget test in
//! `tests/web/e2e.py` counts them).
//!
//! Only reads are compressed, and never an answer that hands out a credential: a compressed
//! body holding a secret next to text an attacker chose leaks the secret through its length
//! (BREACH). `request_context` marks the responses that may be compressed; the predicate here
//! reads the mark, so there is no extra middleware per request. Fastest level: the aim is bytes
//! on the wire at little CPU, not the smallest body. Streamed bodies (exports, the event
//! stream) are left alone: their length is unknown, and a stream that fails midway must end
//! the connection the way the client was told, not inside a half-written gzip frame.

use axum::http::{header, Extensions, HeaderMap, Method, StatusCode, Version};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Set on a response that may be compressed (see the module's comment).
#[derive(Clone, Copy, Debug)]
pub struct Compressible;

/// Whether a request's answer may be compressed: a read that hands out no credential.
pub fn may_compress(method: &Method, hands_out_a_credential: bool) -> bool {
    (method == Method::GET || method == Method::HEAD) && !hands_out_a_credential
}

/// The layer, outermost: it sees the final body and headers.
pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(1024).and(marked_json).and(KnownLength))
}

/// Only whole bodies, whose length is known before the first byte is sent.
#[derive(Clone, Copy)]
struct KnownLength;

impl Predicate for KnownLength {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        response.body().size_hint().exact().is_some()
    }
}

fn marked_json(_: StatusCode, _: Version, headers: &HeaderMap, extensions: &Extensions) -> bool {
    extensions.get::<Compressible>().is_some()
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.starts_with("application/json") || v.starts_with("application/problem+json")
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_without_credentials_are_compressed() {
        assert!(may_compress(&Method::GET, false));
        assert!(may_compress(&Method::HEAD, false));
        assert!(!may_compress(&Method::GET, true));
        assert!(!may_compress(&Method::POST, false));
        assert!(!may_compress(&Method::PATCH, false));
    }

    #[test]
    fn only_marked_json_is_compressed() {
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        let mut marked = Extensions::new();
        marked.insert(Compressible);
        let (ok, v) = (StatusCode::OK, Version::HTTP_11);
        assert!(marked_json(ok, v, &json, &marked));
        assert!(!marked_json(ok, v, &json, &Extensions::new()));
        let mut stream = HeaderMap::new();
        stream.insert(header::CONTENT_TYPE, "text/event-stream".parse().unwrap());
        assert!(!marked_json(ok, v, &stream, &marked));
    }
}

//! The HTTP layer every route shares: connection serving, the request middleware, extractors
//! whose rejections are problem documents, preconditions, rate limiting and security headers.
//! It names no domain; the router itself is assembled by `crate::server`.

pub mod compression;
pub mod extract;
pub mod json;
pub mod middleware;
pub mod preconditions;
pub mod rate_limit;
pub mod security_headers;
pub mod server;

pub const BODY_LIMIT_BYTES: usize = 256 * 1024;

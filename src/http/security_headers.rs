//! The response headers every answer carries (API.md §9 "Headers"), set in one place by the
//! outermost middleware.

use axum::http::{header, HeaderMap, HeaderValue, Method};

/// The API's and problem documents' policy: nothing may load, nothing may frame it.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the security headers to a response. `authenticated` is whether the request carried a
/// credential that was accepted. A `Content-Security-Policy` the handler already set (pages
/// such as `/` and `/docs` allow their own origin) is left alone.
pub fn apply(headers: &mut HeaderMap, method: &Method, path: &str, authenticated: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    if authenticated || carries_credential(method, path) || headers.contains_key(header::SET_COOKIE)
    {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Responses that hand out a credential (session, CSRF token, access or refresh token, API
/// token secret), whether or not the request itself was authenticated.
pub fn carries_credential(method: &Method, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path == "/api/v1/auth/session"
        || path == "/api/v1/auth/token"
        || path.starts_with("/api/v1/auth/token/")
        || (method == Method::POST && path == "/api/v1/me/tokens")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_cached() {
        let mut headers = HeaderMap::new();
        apply(&mut headers, &Method::POST, "/api/v1/auth/token", false);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let mut headers = HeaderMap::new();
        apply(&mut headers, &Method::GET, "/healthz", false);
        assert!(!headers.contains_key(header::CACHE_CONTROL));
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], API_CSP);
        let mut headers = HeaderMap::new();
        apply(&mut headers, &Method::GET, "/api/v1/me/tokens", true);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn a_page_keeps_its_own_policy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'"),
        );
        apply(&mut headers, &Method::GET, "/", false);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'self'"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    }
}

//! A resilient client for one upstream REST API (GitHub here; reusable by later integrations).
//!
//! It assumes failure: deadlines on connect, request and the whole call; bodies capped in
//! size; retries only for idempotent GETs, on network errors, timeouts, 5xx and rate limits,
//! with exponential backoff and full jitter; rate limits read as GitHub documents them;
//! requests for one token one at a time; conditional requests with an ETag cache in
//! PostgreSQL; a circuit breaker per host; and the token sent only to the configured origin.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use url::Url;

use super::store::{self, CachedResponse};
use crate::db::Db;

/// Timing and limits. The defaults suit production; tests shorten them.
#[derive(Debug, Clone)]
pub struct ClientPolicy {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest one call may take, waits included; a longer rate-limit wait is handed back
    /// to the caller (the job is rescheduled) instead of holding a worker.
    pub max_total: Duration,
    /// A rate limit without any timing header waits at least this long.
    pub min_rate_limit_wait: Duration,
    pub max_body_bytes: usize,
    /// Consecutive failures that open a host's circuit, and how long it stays open.
    pub breaker_threshold: u32,
    pub breaker_open_for: Duration,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_total: Duration::from_secs(60),
            min_rate_limit_wait: Duration::from_secs(60),
            max_body_bytes: 16 * 1024 * 1024,
            breaker_threshold: 5,
            breaker_open_for: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// 401: the token was refused.
    Unauthorized,
    /// 403 that is not a rate limit: the token lacks permission.
    Forbidden(String),
    NotFound,
    /// 410: for GitHub issues, issues are disabled.
    Gone,
    RateLimited {
        until: DateTime<Utc>,
    },
    /// Network errors, timeouts or 5xx, after the retries.
    Unreachable(String),
    CircuitOpen {
        until: DateTime<Utc>,
    },
    /// An unexpected status or a body we cannot use.
    Invalid(String),
    /// A URL outside the configured origin: the token is never sent there.
    ForeignUrl,
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A successful GET: the body and the `next` page, fresh or from the cache (304).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Bytes,
    pub next: Option<Url>,
    pub from_cache: bool,
}

#[derive(Default)]
struct TokenGate {
    blocked_until: Option<DateTime<Utc>>,
}

#[derive(Default, Clone, Copy)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

pub struct UpstreamClient {
    http: reqwest::Client,
    base: Url,
    db: Db,
    policy: ClientPolicy,
    user_agent: String,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<TokenGate>>>>,
    breakers: Mutex<HashMap<String, Breaker>>,
}

fn origin(url: &Url) -> (String, String, Option<u16>) {
    (
        url.scheme().to_owned(),
        url.host_str().unwrap_or("").to_owned(),
        url.port_or_known_default(),
    )
}

fn outcome(label: &'static str) {
    metrics::counter!("docket_github_requests_total", "outcome" => label).increment(1);
}

impl UpstreamClient {
    pub fn new(base: Url, db: Db, policy: ClientPolicy) -> Self {
        let allowed = base.clone();
        // Redirects only within the configured origin and path prefix (GitHub redirects
        // renamed repositories).
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 || !within_origin(&allowed, attempt.url()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .redirect(redirect)
            .build()
            .expect("the HTTP client builds");
        Self {
            http,
            base,
            db,
            policy,
            user_agent: format!("docket/{}", env!("CARGO_PKG_VERSION")),
            gates: Mutex::new(HashMap::new()),
            breakers: Mutex::new(HashMap::new()),
        }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `path` under the base URL, keeping its path prefix (GitHub Enterprise: `/api/v3`).
    pub fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}/{}", path.trim_start_matches('/')));
        url
    }

    fn within_origin(&self, url: &Url) -> bool {
        within_origin(&self.base, url)
    }

    fn gate(&self, token_key: &str) -> Arc<tokio::sync::Mutex<TokenGate>> {
        self.gates
            .lock()
            .expect("not poisoned")
            .entry(token_key.to_owned())
            .or_default()
            .clone()
    }

    /// When the host's circuit is open, until when.
    fn circuit_open_until(&self, host: &str) -> Option<DateTime<Utc>> {
        let breakers = self.breakers.lock().expect("not poisoned");
        let open_until = breakers.get(host)?.open_until?;
        let now = Instant::now();
        (open_until > now).then(|| Utc::now() + (open_until - now))
    }

    fn record(&self, host: &str, success: bool) {
        let mut breakers = self.breakers.lock().expect("not poisoned");
        let breaker = breakers.entry(host.to_owned()).or_default();
        if success {
            *breaker = Breaker::default();
        } else {
            breaker.failures += 1;
            if breaker.failures >= self.policy.breaker_threshold {
                // Open (again, if a half-open probe failed); the next call after this is a probe.
                breaker.open_until = Some(Instant::now() + self.policy.breaker_open_for);
                breaker.failures = self.policy.breaker_threshold - 1;
            }
        }
        let open = breaker.open_until.is_some_and(|t| t > Instant::now());
        metrics::gauge!("docket_github_circuit_open", "host" => host.to_owned()).set(if open {
            1.0
        } else {
            0.0
        });
    }

    /// GETs `url` with `token`, following the policy. The caller walks pages through `next`.
    pub async fn get(&self, url: &Url, token: Option<&str>) -> Result<Fetched, UpstreamError> {
        if !self.within_origin(url) {
            return Err(UpstreamError::ForeignUrl);
        }
        let host = url.host_str().unwrap_or("").to_owned();
        if let Some(until) = self.circuit_open_until(&host) {
            outcome("circuit_open");
            return Err(UpstreamError::CircuitOpen { until });
        }
        let token_key = match token {
            Some(token) => hex::encode(Sha256::digest(token.as_bytes())),
            None => "anonymous".to_owned(),
        };
        // One request at a time per token: the gate is held for the whole call.
        let gate = self.gate(&token_key);
        let mut gate = gate.lock().await;
        let started = Instant::now();
        let deadline = started + self.policy.max_total;

        let cache_key = format!("{token_key} {url}");
        let cached = self.cached(&cache_key).await;
        let mut last_problem = String::from("no attempt was made");
        let mut rate_limit_hits = 0u32;

        for attempt in 1..=self.policy.max_attempts {
            if let Some(until) = gate.blocked_until {
                let wait = (until - Utc::now()).to_std().unwrap_or_default();
                if Instant::now() + wait > deadline {
                    return Err(UpstreamError::RateLimited { until });
                }
                tokio::time::sleep(wait).await;
                gate.blocked_until = None;
            }
            let mut request = self
                .http
                .get(url.clone())
                .header(header::ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .header(header::USER_AGENT, &self.user_agent);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(entry) = &cached {
                if let Some(etag) = &entry.etag {
                    request = request.header(header::IF_NONE_MATCH, etag);
                }
                if let Some(modified) = &entry.last_modified {
                    request = request.header(header::IF_MODIFIED_SINCE, modified);
                }
            }

            let delay = match request.send().await {
                Err(error) => {
                    last_problem = if error.is_timeout() {
                        "the request timed out".to_owned()
                    } else if error.is_connect() {
                        "the connection failed".to_owned()
                    } else {
                        "the request failed".to_owned()
                    };
                    outcome("network_error");
                    self.record(&host, false);
                    self.backoff(attempt)
                }
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    if status == StatusCode::NOT_MODIFIED {
                        if let Some(entry) = cached {
                            outcome("not_modified");
                            self.record(&host, true);
                            self.touch(&cache_key).await;
                            return Ok(Fetched {
                                body: Bytes::from(entry.body),
                                next: entry.link.as_deref().and_then(next_link),
                                from_cache: true,
                            });
                        }
                        return Err(UpstreamError::Invalid(
                            "304 without a cached response".into(),
                        ));
                    }
                    if status.is_success() {
                        let body = self.read_capped(response).await.inspect_err(|_| {
                            outcome("invalid");
                        })?;
                        outcome("ok");
                        self.record(&host, true);
                        self.store(&cache_key, &headers, &body).await;
                        let next = headers
                            .get(header::LINK)
                            .and_then(|v| v.to_str().ok())
                            .and_then(next_link);
                        return Ok(Fetched {
                            body,
                            next,
                            from_cache: false,
                        });
                    }
                    let message = self.error_message(response).await;
                    if let Some(wait) =
                        self.rate_limit_wait(status, &headers, &message, rate_limit_hits)
                    {
                        rate_limit_hits += 1;
                        outcome("rate_limited");
                        let until =
                            Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                        gate.blocked_until = Some(until);
                        last_problem = "GitHub's rate limit was reached".to_owned();
                        if Instant::now() + wait > deadline {
                            return Err(UpstreamError::RateLimited { until });
                        }
                        continue;
                    }
                    if status.is_server_error() {
                        outcome("server_error");
                        self.record(&host, false);
                        last_problem = format!("GitHub answered {}", status.as_u16());
                        self.backoff(attempt)
                    } else {
                        outcome("client_error");
                        self.record(&host, true);
                        return Err(match status {
                            StatusCode::UNAUTHORIZED => UpstreamError::Unauthorized,
                            StatusCode::FORBIDDEN => UpstreamError::Forbidden(message),
                            StatusCode::NOT_FOUND => UpstreamError::NotFound,
                            StatusCode::GONE => UpstreamError::Gone,
                            other => UpstreamError::Invalid(format!(
                                "GitHub answered {}",
                                other.as_u16()
                            )),
                        });
                    }
                }
            };
            if attempt == self.policy.max_attempts || Instant::now() + delay > deadline {
                break;
            }
            if let Some(until) = self.circuit_open_until(&host) {
                return Err(UpstreamError::CircuitOpen { until });
            }
            tokio::time::sleep(delay).await;
        }
        Err(UpstreamError::Unreachable(last_problem))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        crate::jobs::queue::backoff(self.policy.base_delay, self.policy.max_delay, attempt)
    }

    /// GitHub's documented order: `Retry-After`; else, with `x-ratelimit-remaining: 0`, the
    /// reset time; else (a secondary limit) at least a minute, doubling on repeats. `None`
    /// when the response is not a rate limit (a 403 can also mean "no permission").
    fn rate_limit_wait(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        message: &str,
        previous_hits: u32,
    ) -> Option<Duration> {
        let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let retry_after = header_str("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
        let remaining_zero = header_str("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
        let is_limit = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN
                && (retry_after.is_some()
                    || remaining_zero
                    || message.to_ascii_lowercase().contains("rate limit")));
        if !is_limit {
            return None;
        }
        if let Some(seconds) = retry_after {
            return Some(Duration::from_secs(seconds));
        }
        if remaining_zero {
            if let Some(reset) =
                header_str("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok())
            {
                if let Some(at) = Utc.timestamp_opt(reset, 0).single() {
                    return Some(
                        (at - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1),
                    );
                }
            }
        }
        Some(self.policy.min_rate_limit_wait * 2u32.saturating_pow(previous_hits.min(6)))
    }

    /// GitHub's `message` from an error body, read under the same cap as a success body (a
    /// decompressed error body is as able to exhaust memory as any other); empty when the body
    /// is over the cap or not as documented.
    async fn error_message(&self, response: reqwest::Response) -> String {
        let body = self.read_capped(response).await.unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect()
    }

    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Bytes, UpstreamError> {
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > self.policy.max_body_bytes {
                        return Err(UpstreamError::Invalid(format!(
                            "the response is larger than {} bytes",
                            self.policy.max_body_bytes
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(Bytes::from(body)),
                Err(_) => {
                    return Err(UpstreamError::Unreachable(
                        "the response was cut off".to_owned(),
                    ))
                }
            }
        }
    }

    async fn cached(&self, key: &str) -> Option<CachedResponse> {
        store::cached(&self.db, key).await.ok().flatten()
    }

    /// Marks a cached response as still current (maintenance prunes stale ones).
    async fn touch(&self, key: &str) {
        let _ = store::touch_cached(&self.db, key).await;
    }

    async fn store(&self, key: &str, headers: &HeaderMap, body: &Bytes) {
        let get = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = get(header::ETAG);
        let last_modified = get(header::LAST_MODIFIED);
        if etag.is_none() && last_modified.is_none() {
            return;
        }
        let result = store::store_cached(
            &self.db,
            key,
            etag.as_deref(),
            last_modified.as_deref(),
            get(header::LINK).as_deref(),
            body,
        )
        .await;
        if let Err(error) = result {
            tracing::warn!(error = %error, "could not cache an upstream response");
        }
    }
}

/// Whether `url` is under `base`: the same scheme, host and port, and a path that starts with
/// all of the base path's segments — whole segments, so that `/api/v3` does not admit
/// `/api/v3-x` — where the token may be sent.
pub fn within_origin(base: &Url, url: &Url) -> bool {
    if origin(url) != origin(base) {
        return false;
    }
    let segments = |url: &Url| -> Vec<String> {
        url.path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let base = segments(base);
    let path = segments(url);
    path.len() >= base.len() && path[..base.len()] == base[..]
}

/// The `rel="next"` URL of a `Link` header, exactly as given.
pub fn next_link(header: &str) -> Option<Url> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        if !is_next {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        Url::parse(target).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_taken_as_given() {
        let header = r#"<https://api.github.com/repositories/1/issues?per_page=100&after=Y3Vyc29y>; rel="next", <https://api.github.com/repositories/1/issues?page=9>; rel="last""#;
        assert_eq!(
            next_link(header).unwrap().as_str(),
            "https://api.github.com/repositories/1/issues?per_page=100&after=Y3Vyc29y"
        );
        assert!(next_link(r#"<https://x/y?page=1>; rel="prev""#).is_none());
    }

    #[test]
    fn the_origin_check_compares_whole_path_segments() {
        let base = Url::parse("https://ghe.example.com/api/v3").unwrap();
        let ok = |u: &str| within_origin(&base, &Url::parse(u).unwrap());
        assert!(ok("https://ghe.example.com/api/v3/repos/o/r/issues?page=2"));
        assert!(ok("https://ghe.example.com:443/api/v3/"));
        assert!(!ok("https://ghe.example.com/api/v3-x/repos/o/r/issues"));
        assert!(!ok("https://ghe.example.com/api/v30/repos"));
        assert!(!ok("https://ghe.example.com/api/"));
        assert!(!ok("http://ghe.example.com/api/v3/repos"));
        assert!(!ok("https://ghe.example.com:8443/api/v3/repos"));
        assert!(!ok("https://ghe.example.com.evil.test/api/v3/repos"));
        let root = Url::parse("https://api.github.com").unwrap();
        assert!(within_origin(
            &root,
            &Url::parse("https://api.github.com/repositories/1/issues").unwrap()
        ));
    }
}

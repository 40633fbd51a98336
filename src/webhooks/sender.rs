//! The outbound side of webhooks: the SSRF rule, checked where the address is known (a URL's
//! IP literal, or each address a name resolves to, in the client's own resolver — so a name
//! that resolved to a public address at registration and to a private one now is refused when
//! connecting), no redirects, no proxies, a deadline, and Standard Webhooks signatures.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use url::{Host, Url};

/// The most of a receiver's answer that is read (its body is not kept; this only lets the
/// connection be reused).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Whether an address may be called when private addresses are not allowed: not loopback,
/// private, link-local, unspecified, shared (CGNAT), broadcast, multicast or unique-local, and
/// an IPv4-mapped IPv6 address is judged as the IPv4 address it is.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local())
            }
        },
    }
}

/// Why a URL cannot be a webhook's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// Not an absolute `http(s)` URL with a host (or it carries credentials).
    Invalid,
    /// It is, or resolves to, an address the SSRF rule refuses.
    Private,
}

/// Checks a URL at registration: its form, and (unless private addresses are allowed) the
/// addresses it names or resolves to now. A name that does not resolve is accepted: its
/// deliveries fail until it does, and the check runs again at each connection.
pub async fn check_url(raw: &str, allow_private: bool) -> Result<Url, UrlProblem> {
    let url = Url::parse(raw).map_err(|_| UrlProblem::Invalid)?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
        || raw.len() > 2048
    {
        return Err(UrlProblem::Invalid);
    }
    if allow_private {
        return match url.host() {
            Some(_) => Ok(url),
            None => Err(UrlProblem::Invalid),
        };
    }
    let refused = match url.host() {
        None => return Err(UrlProblem::Invalid),
        Some(Host::Ipv4(ip)) => !is_public(ip.into()),
        Some(Host::Ipv6(ip)) => !is_public(ip.into()),
        Some(Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(80);
            let lookup = tokio::net::lookup_host((name, port));
            match tokio::time::timeout(Duration::from_secs(3), lookup).await {
                Ok(Ok(addrs)) => addrs.into_iter().any(|a: SocketAddr| !is_public(a.ip())),
                _ => false,
            }
        }
    };
    if refused {
        Err(UrlProblem::Private)
    } else {
        Ok(url)
    }
}

/// Resolves names with the system resolver and keeps only the addresses the SSRF rule allows;
/// a name left with none fails to connect.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = resolved.filter(|a| is_public(a.ip())).collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{} resolves only to addresses webhooks may not reach",
                    name.as_str()
                )
                .into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: Outcome,
    /// The receiver's status, when it answered.
    pub response_status: Option<u16>,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Timeouts, connection errors, 5xx, 429: retried; `retry_after` when the receiver said.
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Any other answer, or an address the rule refuses: not retried.
    Failed(String),
}

/// The client webhooks are sent with. Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(allow_private: bool, timeout: Duration) -> Self {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .pool_max_idle_per_host(4)
            .user_agent(concat!("Docket-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Self {
            http: builder.build().expect("the webhook client builds"),
            allow_private,
        }
    }

    /// Sends one signed event: `secrets` are the raw secrets that sign it (two during a
    /// rotation's overlap: both signatures go in the header).
    pub async fn send(&self, url: &str, id: &str, body: &str, secrets: &[Vec<u8>]) -> Attempt {
        let started = Instant::now();
        let attempt = |outcome, response_status| Attempt {
            outcome,
            response_status,
            duration: started.elapsed(),
        };
        let Ok(parsed) = Url::parse(url) else {
            return attempt(Outcome::Failed("the URL is not valid".into()), None);
        };
        // An IP literal never reaches the resolver: its address is checked here.
        let literal = match parsed.host() {
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !self.allow_private && !is_public(*ip)) {
            let error = format!("{ip} is an address webhooks may not reach");
            return attempt(Outcome::Failed(error), None);
        }
        let timestamp = chrono::Utc::now().timestamp();
        let headers = match signed_headers(id, timestamp, body, secrets) {
            Ok(headers) => headers,
            Err(error) => return attempt(Outcome::Failed(error), None),
        };
        let sent = self
            .http
            .post(parsed)
            .headers(headers)
            .body(body.to_owned())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let refused = is_refused_address(&error);
                let error = describe(&error);
                let outcome = if refused {
                    Outcome::Failed(error)
                } else {
                    Outcome::Retry {
                        error,
                        retry_after: None,
                    }
                };
                return attempt(outcome, None);
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let _ = read_capped(response).await;
        let outcome = if status.is_success() {
            Outcome::Delivered
        } else if status.is_server_error() || status.as_u16() == 429 {
            Outcome::Retry {
                error: format!("the receiver answered {status}"),
                retry_after,
            }
        } else {
            Outcome::Failed(format!("the receiver answered {status}"))
        };
        attempt(outcome, Some(status.as_u16()))
    }
}

fn signed_headers(
    id: &str,
    timestamp: i64,
    body: &str,
    secrets: &[Vec<u8>],
) -> Result<HeaderMap, String> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let webhook = standardwebhooks::Webhook::from_bytes(secret.clone())
            .map_err(|e| format!("signing failed: {e}"))?;
        let signature = webhook
            .sign(id, timestamp, body.as_bytes())
            .map_err(|e| format!("signing failed: {e}"))?;
        signatures.push(signature);
    }
    let mut headers = HeaderMap::new();
    let value = |s: String| HeaderValue::from_str(&s).map_err(|_| "a header value".to_owned());
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("webhook-id", value(id.to_owned())?);
    headers.insert("webhook-timestamp", value(timestamp.to_string())?);
    headers.insert("webhook-signature", value(signatures.join(" "))?);
    Ok(headers)
}

/// Reads at most `MAX_RESPONSE_BYTES` of the answer (the rest is dropped with the connection).
async fn read_capped(mut response: reqwest::Response) -> Result<(), reqwest::Error> {
    let mut read = 0;
    while let Some(chunk) = response.chunk().await? {
        read += chunk.len();
        if read > MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(())
}

/// Seconds or an HTTP date; a date in the past is zero.
pub fn parse_retry_after(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or_default())
}

/// Whether the request failed because the resolver refused every address of the name.
fn is_refused_address(error: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if e.to_string().contains("webhooks may not reach") {
            return true;
        }
        source = e.source();
    }
    false
}

/// The error with its causes, without the URL (it may hold a token in its query).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ssrf_rule() {
        for refused in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
        ] {
            assert!(!is_public(refused.parse().unwrap()), "{refused}");
        }
        for allowed in ["1.1.1.1", "93.184.216.34", "2606:4700::1111", "100.128.0.1"] {
            assert!(is_public(allowed.parse().unwrap()), "{allowed}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn registration_refuses_private_urls_and_odd_schemes() {
        for (url, problem) in [
            ("ftp://example.com/x", UrlProblem::Invalid),
            ("http://user:pw@example.com/", UrlProblem::Invalid),
            ("not a url", UrlProblem::Invalid),
            ("http://127.0.0.1:9/hook", UrlProblem::Private),
            ("http://10.0.0.1/hook", UrlProblem::Private),
            ("http://[::1]/hook", UrlProblem::Private),
            ("http://localhost/hook", UrlProblem::Private),
        ] {
            assert_eq!(check_url(url, false).await.err(), Some(problem), "{url}");
        }
        assert!(check_url("http://127.0.0.1:9/hook", true).await.is_ok());
    }
}

//! The client's address, which the per-address limits are keyed by.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;

/// Proxies whose `X-Forwarded-For` names the client (`DOCKET_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<[ipnet::IpNet]>);

/// The client's address: the socket peer, or — only when the peer is a trusted proxy — the
/// nearest untrusted address in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        Ok(ClientAddr::of(parts, &TrustedProxies::from_ref(state)))
    }
}

impl ClientAddr {
    pub fn of(parts: &Parts, trusted_proxies: &TrustedProxies) -> ClientAddr {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let trusted = |ip: &IpAddr| trusted_proxies.0.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return ClientAddr(peer);
        }
        let forwarded: Vec<IpAddr> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse().ok())
            .collect();
        let client = forwarded
            .iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(forwarded.first())
            .copied()
            .unwrap_or(peer);
        ClientAddr(client)
    }
}

/// What a per-address limit counts: an IPv4 address as itself, an IPv6 address by its /64
/// (API.md §1): one subscriber or host usually gets a whole /64. IPv4-mapped IPv6 addresses
/// count as the IPv4 address they carry.
pub fn address_key(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(network))
            }
        },
    }
}

/// Who is at the other end, as the security log records it: the client's address and the
/// `User-Agent` it sent (at most 256 characters, control characters dropped).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub addr: ClientAddr,
    pub user_agent: Option<String>,
}

/// The longest user agent the log keeps.
const USER_AGENT_MAX: usize = 256;

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .map(|value| {
                String::from_utf8_lossy(value.as_bytes())
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_MAX)
                    .collect::<String>()
            })
            .filter(|agent| !agent.trim().is_empty());
        Ok(ClientInfo {
            addr: ClientAddr::of(parts, &TrustedProxies::from_ref(state)),
            user_agent,
        })
    }
}

//! The account's security log (API.md §21): sign-ins with their method, client address and
//! user agent; failed second factors; factor, identity, password and token changes. Written
//! where each happens; read by its owner, newest first; kept 90 days.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::client::{ClientAddr, ClientInfo};
use super::principal::Principal;
use super::store::security_events::{self, NewEvent};
use crate::db::{DbResult, Exec};
use crate::error::ApiError;
use crate::http::extract::Query;
use crate::pagination::{CursorKey, CursorScope, Page, PageQuery};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A sign-in; `method` says how (`password`, `password+totp`, `password+recovery_code`,
    /// `password+passkey`, `passkey`, `oidc:<provider>`), `detail` what it opened (`session`,
    /// `token`).
    SignedIn,
    /// A wrong code or passkey answer to a second-factor check; `method` says which.
    SecondFactorFailed,
    TotpEnabled,
    TotpDisabled,
    /// `detail`: the passkey's name.
    PasskeyAdded,
    PasskeyRemoved,
    /// `detail`: the provider's id.
    IdentityLinked,
    IdentityUnlinked,
    PasswordChanged,
    /// `detail`: the token's name.
    ApiTokenCreated,
    ApiTokenRevoked,
    /// An administrator removed every second factor; `detail`: who.
    FactorsReset,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SignedIn => "signed_in",
            EventKind::SecondFactorFailed => "second_factor_failed",
            EventKind::TotpEnabled => "totp_enabled",
            EventKind::TotpDisabled => "totp_disabled",
            EventKind::PasskeyAdded => "passkey_added",
            EventKind::PasskeyRemoved => "passkey_removed",
            EventKind::IdentityLinked => "identity_linked",
            EventKind::IdentityUnlinked => "identity_unlinked",
            EventKind::PasswordChanged => "password_changed",
            EventKind::ApiTokenCreated => "api_token_created",
            EventKind::ApiTokenRevoked => "api_token_revoked",
            EventKind::FactorsReset => "factors_reset",
        }
    }

    const ALL: [EventKind; 12] = [
        EventKind::SignedIn,
        EventKind::SecondFactorFailed,
        EventKind::TotpEnabled,
        EventKind::TotpDisabled,
        EventKind::PasskeyAdded,
        EventKind::PasskeyRemoved,
        EventKind::IdentityLinked,
        EventKind::IdentityUnlinked,
        EventKind::PasswordChanged,
        EventKind::ApiTokenCreated,
        EventKind::ApiTokenRevoked,
        EventKind::FactorsReset,
    ];

    fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

/// An entry to record: its kind, and the method and detail that kind carries.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: EventKind,
    pub method: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind,
            method: None,
            detail: None,
        }
    }

    pub fn method(mut self, method: &'a str) -> Self {
        self.method = Some(method);
        self
    }

    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// Records an entry in `user_id`'s log, with the client it came from (`None`: not from a
/// request of theirs, such as an administrator's reset).
pub async fn record(
    db: &impl Exec,
    user_id: Uuid,
    event: Event<'_>,
    client: Option<&ClientInfo>,
) -> DbResult<()> {
    let address = client.map(|c| address_text(c.addr));
    security_events::insert(
        db,
        NewEvent {
            user_id,
            kind: event.kind.as_str(),
            method: event.method,
            address: address.as_deref(),
            user_agent: client.and_then(|c| c.user_agent.as_deref()),
            detail: event.detail,
        },
    )
    .await
}

fn address_text(addr: ClientAddr) -> String {
    match addr.0 {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        v4 => v4.to_string(),
    }
}

/// An entry of the security log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecurityEvent {
    pub id: Uuid,
    pub kind: EventKind,
    /// How a sign-in was made, or which factor failed.
    pub method: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    pub user_agent: Option<String>,
    /// What the entry is about: a passkey's or token's name, a provider, an administrator.
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The caller's security log, newest first (the last 90 days).
#[utoipa::path(get, path = "/api/v1/me/security-events", tag = "account",
    params(PageQuery),
    responses((status = 200, body = Page<SecurityEvent>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_security_events(
    State(db): State<crate::db::Db>,
    State(cursor_key): State<CursorKey>,
    principal: Principal,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<SecurityEvent>>, ApiError> {
    let limit = page.limit()?;
    let scope = &CursorScope::SecurityEvents {
        user: principal.id(),
    };
    let before: Option<(DateTime<Utc>, Uuid)> = page.position(&cursor_key, scope)?;
    let rows = security_events::list_of_user(&db, principal.id(), before, limit + 1).await?;
    let events = rows
        .into_iter()
        .filter_map(|row| {
            Some(SecurityEvent {
                kind: EventKind::parse(&row.kind)?,
                id: row.id,
                method: row.method,
                address: row.address,
                user_agent: row.user_agent,
                detail: row.detail,
                created_at: row.created_at,
            })
        })
        .collect();
    Ok(axum::Json(Page::from_rows(events, limit, |last| {
        cursor_key.encode(scope, &(last.created_at, last.id))
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_itself() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
    }
}

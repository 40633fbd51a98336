//! The endpoints of single sign-on (API.md §21): the providers, the start of a sign-in, the
//! provider's redirect back, and the caller's identities (linking one from a signed-in
//! session, listing, unlinking).
//!
//! Accounts are found by (provider, subject) only. An email the provider gives is never enough
//! to enter an existing account: an account with that email must link the identity from a
//! signed-in session first (`account_exists_link_first`).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{Claims, Provider};
use crate::auth::client::{ClientAddr, ClientInfo};
use crate::auth::domain::{Email, UserName};
use crate::auth::grant;
use crate::auth::limits;
use crate::auth::login;
use crate::auth::principal::{cookie_value, Principal};
use crate::auth::security_log::{self, Event, EventKind};
use crate::auth::state::AuthState;
use crate::auth::store::identities::{self, Identity, LinkOutcome};
use crate::auth::store::oidc_flows::{self, NewFlow, FLOW_TTL_SECS};
use crate::auth::store::sessions::SessionMethod;
use crate::auth::users::{self, CreateUserError, User};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{Json, Path, Query};
use crate::tokens::{hash_token, random_token};

/// Why a sign-in was refused: the `error` of `/signin?error=…` (API.md §21).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    AccessDenied,
    DomainNotAllowed,
    AccountExistsLinkFirst,
    AccountDisabled,
    ProviderError,
    StateMismatch,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::AccessDenied => "access_denied",
            Refusal::DomainNotAllowed => "domain_not_allowed",
            Refusal::AccountExistsLinkFirst => "account_exists_link_first",
            Refusal::AccountDisabled => "account_disabled",
            Refusal::ProviderError => "provider_error",
            Refusal::StateMismatch => "state_mismatch",
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderItem {
    /// `<NAME>` of `DOCKET_OIDC_<NAME>_*`, lower-cased: the `{provider}` of the paths.
    pub id: String,
    /// The button's text.
    pub label: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderList {
    pub items: Vec<ProviderItem>,
    /// Whether passkeys can be used here (`DOCKET_PUBLIC_URL` has a host name).
    pub passkeys: bool,
}

/// The single sign-on providers, for "Sign in with …" buttons. Needs no authentication.
#[utoipa::path(get, path = "/api/v1/auth/providers", tag = "auth",
    responses((status = 200, body = ProviderList)))]
pub async fn list_providers(State(state): State<AuthState>) -> axum::Json<ProviderList> {
    axum::Json(ProviderList {
        items: state
            .oidc
            .providers()
            .iter()
            .map(|p| ProviderItem {
                id: p.config.id.clone(),
                label: p.config.label.clone(),
            })
            .collect(),
        passkeys: state.passkeys.is_some(),
    })
}

/// The path to return to: a path on this origin only (never `//host` or `/\host`, which
/// browsers read as another origin).
fn return_path(raw: Option<&str>) -> Result<String, FieldError> {
    let Some(raw) = raw else {
        return Ok("/".to_owned());
    };
    let valid = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.starts_with("/\\")
        && raw.len() <= 2000
        && !raw.chars().any(|c| c.is_control());
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            "return_to",
            "invalid",
            "must be a path on this server, starting with one /",
        ))
    }
}

/// The cookie that binds a flow to the browser that started it.
fn binding_cookie_name(state: &AuthState) -> &'static str {
    if state.config.secure_cookies() {
        "__Host-docket_oidc"
    } else {
        "docket_oidc"
    }
}

/// Starts a flow: where to send the browser, and the binding cookie to set. The browser's
/// binding is kept if it has one, so that two tabs signing in at once both come back.
async fn begin(
    state: &AuthState,
    provider: &Provider,
    headers: &HeaderMap,
    return_to: &str,
    link_user_id: Option<uuid::Uuid>,
) -> Result<Result<(String, HeaderValue), super::OidcError>, ApiError> {
    let authorization = match state.oidc.authorize(provider).await {
        Ok(authorization) => authorization,
        Err(error) => return Ok(Err(error)),
    };
    let name = binding_cookie_name(state);
    let binding = cookie_value(headers, name)
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| random_token(32));
    oidc_flows::insert(
        &state.db,
        NewFlow {
            state_hash: &hash_token(&authorization.state),
            browser_hash: &hash_token(&binding),
            provider: &provider.config.id,
            nonce: &authorization.nonce,
            pkce_verifier: &authorization.pkce_verifier,
            return_to,
            link_user_id,
        },
    )
    .await?;
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    // Lax: the provider's redirect back is a top-level navigation from another site.
    let cookie = HeaderValue::from_str(&format!(
        "{name}={binding}; HttpOnly; SameSite=Lax; Path=/; Max-Age={FLOW_TTL_SECS}{secure}"
    ))
    .expect("cookie is ASCII");
    Ok(Ok((authorization.url.to_string(), cookie)))
}

fn redirect(location: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/")),
    );
    if let Some(cookie) = cookie {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

fn signin_error(refusal: Refusal) -> String {
    format!("/signin?error={}", refusal.as_str())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// A path on this server to land on once signed in (default `/`).
    #[param(
        pattern = r"^/([^/\\\x00-\x1f\x7f][^\x00-\x1f\x7f]*)?$",
        max_length = 2000
    )]
    pub return_to: Option<String>,
}

/// Go to the provider to sign in: the authorization code flow with PKCE (S256); `state` and
/// `nonce` are single use and bound to this browser by a short-lived cookie. When the
/// provider cannot be reached, back to `/signin?error=provider_error`.
#[utoipa::path(get, path = "/api/v1/auth/oidc/{provider}/start", tag = "auth",
    params(("provider" = String, Path, description = "A provider's id"), StartQuery),
    responses((status = 302, description = "To the provider's authorization endpoint (or to /signin?error=provider_error)",
        headers(("Location" = String)))))]
pub async fn start_sign_in(
    State(state): State<AuthState>,
    client: ClientAddr,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
) -> Result<Response, ApiError> {
    let provider = state.oidc.find(&provider).ok_or_else(ApiError::not_found)?;
    let return_to = return_path(query.return_to.as_deref()).map_err(|e| {
        ApiError::bad_request(ErrorCode::InvalidQuery, format!("return_to {}", e.message))
    })?;
    limits::pre_auth(&state, client).await?;
    match begin(&state, provider, &headers, &return_to, None).await? {
        Ok((url, cookie)) => Ok(redirect(&url, Some(cookie))),
        Err(error) => {
            tracing::warn!(provider = %provider.config.id, error = %error, "single sign-on could not start");
            Ok(redirect(&signin_error(Refusal::ProviderError), None))
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's error (`access_denied` when the person declined).
    pub error: Option<String>,
    /// The issuer that answered (RFC 9207), checked when the provider sends it.
    pub iss: Option<String>,
}

/// Where the callback sends the browser, and the session cookie when it signed someone in.
struct Landing {
    location: String,
    cookie: Option<HeaderValue>,
}

/// The provider's redirect back. Takes the flow this browser started (its `state`, its
/// cookie: once), exchanges the code, verifies the ID token, then signs in: the account linked
/// to (provider, subject); else, when allowed, a new account — never an existing one found by
/// email (`account_exists_link_first`: sign in and link it first). Always a 302: to the
/// `return_to` of the start with a session cookie, or to `/signin?error=<code>`.
#[utoipa::path(get, path = "/api/v1/auth/oidc/{provider}/callback", tag = "auth",
    params(("provider" = String, Path, description = "A provider's id"), CallbackQuery),
    responses((status = 302, description = "To return_to with the session cookie, or to /signin?error=<access_denied|domain_not_allowed|account_exists_link_first|account_disabled|provider_error|state_mismatch> (a linking flow: to its return_to with ?error=…)",
        headers(("Location" = String)))))]
pub async fn callback(
    State(state): State<AuthState>,
    client: ClientInfo,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let provider = state.oidc.find(&provider).ok_or_else(ApiError::not_found)?;
    limits::pre_auth(&state, client.addr).await?;
    let landing = land(&state, provider, &client, &headers, query).await?;
    Ok(redirect(&landing.location, landing.cookie))
}

async fn land(
    state: &AuthState,
    provider: &Provider,
    client: &ClientInfo,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<Landing, ApiError> {
    let refused = |refusal: Refusal| Landing {
        location: signin_error(refusal),
        cookie: None,
    };
    let binding = cookie_value(headers, binding_cookie_name(state));
    let flow = match (&query.state, binding) {
        (Some(flow_state), Some(binding)) => {
            oidc_flows::take(
                &state.db,
                &hash_token(flow_state),
                &hash_token(binding),
                &provider.config.id,
            )
            .await?
        }
        _ => None,
    };
    let Some(flow) = flow else {
        return Ok(refused(Refusal::StateMismatch));
    };
    let fail = |refusal: Refusal| match flow.link_user_id {
        // A linking flow returns to the page it came from, which shows the error.
        Some(_) => {
            let separator = if flow.return_to.contains('?') {
                '&'
            } else {
                '?'
            };
            Landing {
                location: format!("{}{separator}error={}", flow.return_to, refusal.as_str()),
                cookie: None,
            }
        }
        None => refused(refusal),
    };
    if let Some(error) = &query.error {
        tracing::info!(provider = %provider.config.id, error = %error, "the provider refused the sign-in");
        return Ok(fail(if error == "access_denied" {
            Refusal::AccessDenied
        } else {
            Refusal::ProviderError
        }));
    }
    let claims = match verified_claims(state, provider, &query, &flow).await {
        Ok(claims) => claims,
        Err(error) => {
            tracing::warn!(provider = %provider.config.id, error = %error, "single sign-on refused");
            return Ok(fail(Refusal::ProviderError));
        }
    };
    if !domain_allowed(provider, &claims) {
        return Ok(fail(Refusal::DomainNotAllowed));
    }
    if let Some(user_id) = flow.link_user_id {
        return Ok(
            match link(state, provider, user_id, &claims, client).await? {
                Ok(()) => Landing {
                    location: flow.return_to,
                    cookie: None,
                },
                Err(refusal) => fail(refusal),
            },
        );
    }
    match account_for(state, provider, &claims).await? {
        Ok(user) => {
            let cookie = sign_in(state, provider, user, client, headers).await?;
            Ok(Landing {
                location: flow.return_to,
                cookie: Some(cookie),
            })
        }
        Err(refusal) => Ok(fail(refusal)),
    }
}

async fn verified_claims(
    state: &AuthState,
    provider: &Provider,
    query: &CallbackQuery,
    flow: &oidc_flows::Flow,
) -> Result<Claims, super::OidcError> {
    // RFC 9207: an `iss` that is not this provider's means the response came from another
    // one (a mix-up attack).
    if let Some(iss) = &query.iss {
        let published = state.oidc.published_issuer(provider).await?;
        if *iss != published {
            return Err(super::OidcError::Refused(format!(
                "the response names the issuer {iss:?}, not {published:?}"
            )));
        }
    }
    let code = query
        .code
        .as_deref()
        .ok_or_else(|| super::OidcError::Refused("no code in the response".into()))?;
    state
        .oidc
        .finish(provider, code, &flow.pkce_verifier, &flow.nonce)
        .await
}

/// `_ALLOWED_DOMAINS`: empty allows anyone; otherwise the provider must give a verified email
/// in one of the domains (checked at every sign-in, so an email changed at the provider counts).
fn domain_allowed(provider: &Provider, claims: &Claims) -> bool {
    let allowed = &provider.config.allowed_domains;
    if allowed.is_empty() {
        return true;
    }
    let domain = claims
        .email
        .as_deref()
        .and_then(|email| email.rsplit_once('@'))
        .map(|(_, domain)| domain.to_lowercase());
    claims.email_verified && domain.is_some_and(|domain| allowed.contains(&domain))
}

/// The account the provider's subject signs in to, or why there is none.
async fn account_for(
    state: &AuthState,
    provider: &Provider,
    claims: &Claims,
) -> Result<Result<User, Refusal>, ApiError> {
    let id = &provider.config.id;
    if let Some(user_id) = identities::user_of(&state.db, id, &claims.subject).await? {
        identities::touch(&state.db, id, &claims.subject, claims.email.as_deref()).await?;
        let user = users::find_by_id(&state.db, user_id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        return Ok(if user.disabled {
            Err(Refusal::AccountDisabled)
        } else {
            Ok(user)
        });
    }
    let Some(email) = claims.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
        return Ok(Err(Refusal::AccessDenied));
    };
    // Never into an existing account by email alone: its owner links the identity first.
    if users::find_by_email(&state.db, email.as_str())
        .await?
        .is_some()
    {
        return Ok(Err(Refusal::AccountExistsLinkFirst));
    }
    // A new account takes the provider's email as its own: only a verified one.
    if !provider.config.create_users || !claims.email_verified {
        return Ok(Err(Refusal::AccessDenied));
    }
    let name = claims
        .name
        .as_deref()
        .and_then(|n| UserName::parse(n).ok())
        .or_else(|| UserName::parse(email.as_str().split('@').next().unwrap_or("")).ok())
        .unwrap_or_else(|| UserName::parse("New user").expect("a valid name"));
    let account = users::Account {
        email: &email,
        name: &name,
        password_hash: None,
    };
    let user = match crate::auth::account::open(&state.db, account, false).await {
        Ok(user) => user,
        Err(CreateUserError::EmailTaken) => return Ok(Err(Refusal::AccountExistsLinkFirst)),
        Err(CreateUserError::Db(error)) => return Err(error.into()),
    };
    identities::link(
        &state.db,
        user.id,
        id,
        &claims.subject,
        Some(email.as_str()),
    )
    .await?;
    tracing::info!(provider = %id, user = %user.id, "single sign-on created an account");
    Ok(Ok(user))
}

/// A session for the account, begun by single sign-on; its cookie.
async fn sign_in(
    state: &AuthState,
    provider: &Provider,
    user: User,
    client: &ClientInfo,
    headers: &HeaderMap,
) -> Result<HeaderValue, ApiError> {
    let method = format!("oidc:{}", provider.config.id);
    let event = Event::new(EventKind::SignedIn)
        .method(&method)
        .detail("session");
    security_log::record(&state.db, user.id, event, Some(client)).await?;
    let (token, _csrf) = grant::open_session(state, user.id, SessionMethod::Oidc, headers).await?;
    Ok(grant::session_cookie(
        state,
        &token,
        grant::SESSION_ABSOLUTE_SECS,
    ))
}

/// Links the identity to the signed-in user who started the flow.
async fn link(
    state: &AuthState,
    provider: &Provider,
    user_id: uuid::Uuid,
    claims: &Claims,
    client: &ClientInfo,
) -> Result<Result<(), Refusal>, ApiError> {
    let id = &provider.config.id;
    let outcome = identities::link(
        &state.db,
        user_id,
        id,
        &claims.subject,
        claims.email.as_deref(),
    )
    .await?;
    if outcome != LinkOutcome::Linked {
        // Another account's identity, or a second identity at the same provider.
        return Ok(Err(Refusal::AccessDenied));
    }
    let event = Event::new(EventKind::IdentityLinked).detail(id);
    security_log::record(&state.db, user_id, event, Some(client)).await?;
    Ok(Ok(()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// A path on this server to return to once linked (default `/settings`).
    #[schema(
        pattern = r"^/([^/\\\x00-\x1f\x7f][^\x00-\x1f\x7f]*)?$",
        max_length = 2000
    )]
    pub return_to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkStart {
    /// The provider's authorization URL: send the browser there.
    pub redirect_to: String,
}

/// Link an identity at a provider to the caller's account: the same flow as a sign-in, which
/// ends linked instead of signed in. Needs a cookie session (the flow finishes in the browser
/// that holds it).
#[utoipa::path(post, path = "/api/v1/me/identities/{provider}", tag = "account",
    params(("provider" = String, Path, description = "A provider's id")),
    request_body = LinkRequest,
    responses((status = 200, body = LinkStart, description = "Go to redirect_to; sets the flow's cookie")),
    security(("session" = [])))]
pub async fn link_identity(
    State(state): State<AuthState>,
    principal: Principal,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Json(body): Json<LinkRequest>,
) -> Result<Response, ApiError> {
    principal.require_login()?;
    login::session_of(&principal)?;
    let provider = state.oidc.find(&provider).ok_or_else(ApiError::not_found)?;
    let return_to = match body.return_to.as_deref() {
        None => "/settings".to_owned(),
        Some(raw) => return_path(Some(raw)).map_err(|e| ApiError::validation(vec![e]))?,
    };
    match begin(&state, provider, &headers, &return_to, Some(principal.id())).await? {
        Ok((url, cookie)) => {
            let mut response = axum::Json(LinkStart { redirect_to: url }).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        Err(error) => {
            tracing::warn!(provider = %provider.config.id, error = %error, "single sign-on could not start");
            Err(ApiError::unavailable(
                "the provider cannot be reached; try again later",
            ))
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct IdentityList {
    pub items: Vec<Identity>,
}

/// The caller's single sign-on identities.
#[utoipa::path(get, path = "/api/v1/me/identities", tag = "account",
    responses((status = 200, body = IdentityList)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_identities(
    State(state): State<AuthState>,
    principal: Principal,
) -> Result<axum::Json<IdentityList>, ApiError> {
    let items = identities::list_of_user(&state.db, principal.id()).await?;
    Ok(axum::Json(IdentityList { items }))
}

/// Unlink the caller's identity at a provider; refused (409) when it is their only way to sign
/// in (no password, no passkey, no other identity).
#[utoipa::path(delete, path = "/api/v1/me/identities/{provider}", tag = "account",
    params(("provider" = String, Path, description = "A provider's id")),
    responses((status = 204, description = "Unlinked")),
    security(("bearer" = []), ("session" = [])))]
pub async fn unlink_identity(
    State(state): State<AuthState>,
    principal: Principal,
    client: ClientInfo,
    Path(provider): Path<String>,
) -> Result<StatusCode, ApiError> {
    principal.require_login()?;
    let user_id = principal.id();
    let tx = state.db.begin().await?;
    users::lock(&tx, user_id).await?;
    let linked = identities::list_of_user(&tx, user_id)
        .await?
        .iter()
        .any(|identity| identity.provider == provider);
    if !linked {
        return Err(ApiError::not_found());
    }
    if grant::ways_to_sign_in(&tx, user_id).await? <= 1 {
        return Err(ApiError::conflict(
            ErrorCode::Conflict,
            "this identity is your only way to sign in; set a passkey or another identity first",
        ));
    }
    identities::unlink(&tx, user_id, &provider).await?;
    let event = Event::new(EventKind::IdentityUnlinked).detail(&provider);
    security_log::record(&tx, user_id, event, Some(&client)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_is_a_path_on_this_origin_only() {
        assert_eq!(return_path(None).unwrap(), "/");
        assert_eq!(return_path(Some("/p/1?task=2")).unwrap(), "/p/1?task=2");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "p/1",
            "/a\nb",
            "",
        ] {
            assert!(return_path(Some(bad)).is_err(), "{bad:?}");
        }
    }
}

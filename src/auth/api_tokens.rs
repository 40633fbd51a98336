//! Personal API tokens: `dkt_` + 256 random bits, shown once, stored only as a hash.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::client::ClientInfo;
use super::domain::ApiScope;
use super::principal::{Principal, API_TOKEN_PREFIX};
use super::security_log::{self, Event, EventKind};
use super::state::AuthState;
use super::store::api_tokens;
pub use super::store::api_tokens::ApiToken;
use crate::error::{ApiError, FieldError};
use crate::http::extract::{Json, Path};
use crate::quotas;
use crate::tokens::{hash_token, random_token};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiTokenRequest {
    /// 1–100 characters once trimmed, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// `["read"]` or `["read", "write"]` (in either order).
    #[schema(schema_with = scopes_schema)]
    pub scopes: Vec<String>,
    #[schema(minimum = 1, maximum = 365)]
    #[schema(value_type = Option<i64>)]
    pub expires_in_days: Option<crate::http::extract::Integer>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApiToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// The secret, shown only in this response.
    #[serde(rename = "token")]
    pub secret: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiTokenList {
    pub items: Vec<ApiToken>,
}

/// Exactly the scope lists `parse_scopes` takes.
fn scopes_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Array)
        .enum_values(Some([
            serde_json::json!(["read"]),
            serde_json::json!(["read", "write"]),
            serde_json::json!(["write", "read"]),
        ]))
        .build()
}

fn parse_scopes(scopes: &[String]) -> Result<Vec<ApiScope>, FieldError> {
    let listed: Vec<&str> = scopes.iter().map(String::as_str).collect();
    match listed.as_slice() {
        ["read"] => Ok(vec![ApiScope::Read]),
        ["read", "write"] | ["write", "read"] => Ok(vec![ApiScope::Read, ApiScope::Write]),
        _ => Err(FieldError::new(
            "scopes",
            "invalid_value",
            "must be [\"read\"] or [\"read\", \"write\"]",
        )),
    }
}

/// Create an API token. The secret is in this response only.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "account",
    request_body = CreateApiTokenRequest,
    responses((status = 201, body = CreatedApiToken)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_api_token(
    State(state): State<AuthState>,
    principal: Principal,
    client: ClientInfo,
    Json(body): Json<CreateApiTokenRequest>,
) -> Result<Response, ApiError> {
    principal.require_login()?;
    let mut errors = Vec::new();
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "invalid",
            "must be 1 to 100 characters without control characters",
        ));
    }
    let scopes = parse_scopes(&body.scopes).map_err(|e| errors.push(e)).ok();
    if let Some(crate::http::extract::Integer(days)) = body.expires_in_days {
        if !(1..=365).contains(&days) {
            errors.push(FieldError::new(
                "expires_in_days",
                "out_of_range",
                "must be from 1 to 365",
            ));
        }
    }
    let Some(scopes) = scopes.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let tx = state.db.begin().await?;
    if api_tokens::live_count_locked(&tx, principal.id()).await? >= quotas::API_TOKENS_PER_USER {
        return Err(quotas::exceeded(
            "API tokens per user",
            quotas::API_TOKENS_PER_USER,
        ));
    }
    let secret = format!("{API_TOKEN_PREFIX}{}", random_token(32));
    let token = api_tokens::create(
        &tx,
        principal.id(),
        name,
        &hash_token(&secret),
        &scopes,
        body.expires_in_days.map(|d| d.0 as i32),
    )
    .await?;
    let event = Event::new(EventKind::ApiTokenCreated).detail(name);
    security_log::record(&tx, principal.id(), event, Some(&client)).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedApiToken { token, secret }),
    )
        .into_response())
}

/// The caller's API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "account",
    responses((status = 200, body = ApiTokenList)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_api_tokens(
    State(state): State<AuthState>,
    principal: Principal,
) -> Result<axum::Json<ApiTokenList>, ApiError> {
    principal.require_login()?;
    let items = api_tokens::list_of_user(&state.db, principal.id()).await?;
    Ok(axum::Json(ApiTokenList { items }))
}

/// Revoke one of the caller's API tokens.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "account",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Revoked")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_api_token(
    State(state): State<AuthState>,
    principal: Principal,
    client: ClientInfo,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    principal.require_login()?;
    let tx = state.db.begin().await?;
    let Some(name) = api_tokens::delete(&tx, id, principal.id()).await? else {
        return Err(ApiError::not_found());
    };
    let event = Event::new(EventKind::ApiTokenRevoked).detail(&name);
    security_log::record(&tx, principal.id(), event, Some(&client)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

//! The webhook endpoints (API.md §13), for a project's admins and owner. Nothing here calls a
//! receiver: pings and redeliveries are queued for the delivery worker (`outbox`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::sender::{check_url, UrlProblem};
use super::{new_secret, outbox, seal, store, Delivery, EventFilter, Webhook, Webhooks};
use crate::auth::principal::Principal;
use crate::error::{ApiError, FieldError};
use crate::http::extract::{non_null, Json, JsonPatch, Patch, Path, Query, ReadOnlyFields};
use crate::pagination::{CursorKey, CursorScope, Page, PageQuery};
use crate::projects::access::Action;
use crate::projects::guard;

const MAX_DESCRIPTION: usize = 500;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `http(s)`; unless private addresses are allowed, not one that is or resolves to a
    /// loopback, private, link-local or unspecified address.
    #[schema(max_length = 2048, pattern = r"^[hH][tT][tT][pP][sS]?://[^@/?#]+")]
    pub url: String,
    /// Activity kinds (`task.created`, ...), or `["*"]`.
    #[schema(schema_with = events_schema)]
    pub events: Vec<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(max_length = 500, nullable = false)]
    pub description: Option<String>,
}

/// 1 to 32 activity kinds, or `*` (what `EventFilter::parse` takes).
fn events_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let kinds = crate::activity::Kind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .chain(["*"]);
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(kinds)),
        )
        .min_items(Some(1))
        .max_items(Some(32))
        .build()
}

/// A webhook with its secret: the only time the secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and the base64 of 32 random bytes: the key of the HMAC-SHA256 signatures.
    pub secret: String,
}

async fn checked_url(hooks: &Webhooks, url: &str, errors: &mut Vec<FieldError>) -> String {
    match check_url(url.trim(), hooks.allow_private).await {
        Ok(url) => url.to_string(),
        Err(UrlProblem::Invalid) => {
            errors.push(FieldError::new(
                "url",
                "invalid",
                "must be an absolute http(s) URL without credentials, at most 2048 characters",
            ));
            String::new()
        }
        Err(UrlProblem::Private) => {
            errors.push(FieldError::new(
                "url",
                "private_address",
                "must not be or resolve to a loopback, private, link-local or unspecified address",
            ));
            String::new()
        }
    }
}

fn checked_events(raw: &[String], errors: &mut Vec<FieldError>) -> Option<EventFilter> {
    EventFilter::parse(raw)
        .map_err(|message| errors.push(FieldError::new("events", "invalid", message)))
        .ok()
}

fn check_description(description: &str, errors: &mut Vec<FieldError>) {
    if description.chars().count() > MAX_DESCRIPTION || description.contains('\0') {
        errors.push(FieldError::new(
            "description",
            "invalid",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
}

/// Register a webhook (admin or owner). It receives what happens from now on.
#[utoipa::path(post, path = "/api/v1/projects/{id}/webhooks", tag = "webhooks",
    params(("id" = Uuid, Path)),
    request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookWithSecret)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_webhook(
    State(hooks): State<Webhooks>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Json(body): Json<CreateWebhookRequest>,
) -> Result<Response, ApiError> {
    guard::authorize(&hooks.db, &principal, project_id, Action::ManageWebhooks).await?;
    let mut errors = Vec::new();
    let url = checked_url(&hooks, &body.url, &mut errors).await;
    let events = checked_events(&body.events, &mut errors);
    if let Some(description) = &body.description {
        check_description(description, &mut errors);
    }
    let Some(events) = events.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let tx = hooks.db.begin().await?;
    // The project's row lock keeps two registrations from both passing the quota.
    guard::authorize_locked(&tx, &principal, project_id, Action::ManageWebhooks).await?;
    let limit = crate::quotas::WEBHOOKS_PER_PROJECT;
    if store::count_in_project(&tx, project_id).await? >= limit {
        return Err(crate::quotas::exceeded("webhooks per project", limit));
    }
    let id = Uuid::now_v7();
    let secret = new_secret();
    let sealed = seal(&hooks.encryption_key, id, &secret);
    let new = store::NewWebhook {
        id,
        project_id,
        url: &url,
        events: events.kinds(),
        description: body.description.as_deref(),
        sealed_secret: &sealed,
        position: crate::activity::store::last_id(&tx).await?,
    };
    let webhook = store::insert(&tx, &new).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(WebhookWithSecret { webhook, secret }),
    )
        .into_response())
}

/// A project's webhooks (admin or owner).
#[utoipa::path(get, path = "/api/v1/projects/{id}/webhooks", tag = "webhooks",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Webhook>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_webhooks(
    State(hooks): State<Webhooks>,
    State(cursor_key): State<CursorKey>,
    principal: Principal,
    Path(project_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Webhook>>, ApiError> {
    guard::authorize(&hooks.db, &principal, project_id, Action::ManageWebhooks).await?;
    let limit = page.limit()?;
    let scope = CursorScope::Webhooks {
        project: project_id,
    };
    let after: Option<Uuid> = page.position(&cursor_key, &scope)?;
    let rows = store::list(&hooks.db, project_id, after, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(&scope, &last.id)
    })))
}

/// The webhook's project, once the caller is known to manage its webhooks; 404 otherwise.
async fn enter(hooks: &Webhooks, principal: &Principal, id: Uuid) -> Result<Uuid, ApiError> {
    let project_id = store::project_of(&hooks.db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    guard::authorize(&hooks.db, principal, project_id, Action::ManageWebhooks).await?;
    Ok(project_id)
}

/// One webhook (admin or owner).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Webhook)),
    security(("bearer" = []), ("session" = [])))]
pub async fn get_webhook(
    State(hooks): State<Webhooks>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<Webhook>, ApiError> {
    enter(&hooks, &principal, id).await?;
    let webhook = store::find(&hooks.db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(webhook))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(
        max_length = 2048,
        nullable = false,
        pattern = r"^[hH][tT][tT][pP][sS]?://[^@/?#]+"
    )]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = events_schema)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500, nullable)]
    pub description: Patch<String>,
    /// `true` switches a disabled webhook on again: it is tried at once, from where it stopped.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub active: Option<bool>,
}

impl ReadOnlyFields for UpdateWebhookRequest {
    const READ_ONLY: &'static [&'static str] = &[
        "id",
        "project_id",
        "disabled_reason",
        "created_at",
        "last_delivery_at",
        "last_status",
        "secret",
    ];
}

/// Change a webhook (admin or owner).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path)),
    request_body = UpdateWebhookRequest,
    responses((status = 200, body = Webhook)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_webhook(
    State(hooks): State<Webhooks>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonPatch(body): JsonPatch<UpdateWebhookRequest>,
) -> Result<axum::Json<Webhook>, ApiError> {
    enter(&hooks, &principal, id).await?;
    let mut errors = Vec::new();
    let url = match &body.url {
        Some(url) => Some(checked_url(&hooks, url, &mut errors).await),
        None => None,
    };
    let events = body
        .events
        .as_deref()
        .and_then(|raw| checked_events(raw, &mut errors));
    if let Patch::Value(description) = &body.description {
        check_description(description, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let description = match &body.description {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(text) => Some(Some(text.as_str())),
    };
    let patch = store::Patch {
        url: url.as_deref(),
        events: events.as_ref().map(EventFilter::kinds),
        description,
        active: body.active,
    };
    let tx = hooks.db.begin().await?;
    let webhook = store::update(&tx, id, &patch)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(axum::Json(webhook))
}

/// Remove a webhook and its deliveries log (admin or owner).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Removed")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_webhook(
    State(hooks): State<Webhooks>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    enter(&hooks, &principal, id).await?;
    if !store::delete(&hooks.db, id).await? {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret, shown once; the old one keeps signing for 24 h (both signatures are sent).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookWithSecret)),
    security(("bearer" = []), ("session" = [])))]
pub async fn rotate_secret(
    State(hooks): State<Webhooks>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<WebhookWithSecret>, ApiError> {
    enter(&hooks, &principal, id).await?;
    let secret = new_secret();
    let sealed = seal(&hooks.encryption_key, id, &secret);
    let tx = hooks.db.begin().await?;
    let overlap = hooks.policy.overlap.as_secs_f64();
    let webhook = store::rotate(&tx, id, &sealed, overlap)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(axum::Json(WebhookWithSecret { webhook, secret }))
}

/// The webhook's attempts, newest first (admin or owner).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Delivery>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_deliveries(
    State(hooks): State<Webhooks>,
    State(cursor_key): State<CursorKey>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Delivery>>, ApiError> {
    enter(&hooks, &principal, id).await?;
    let limit = page.limit()?;
    let scope = CursorScope::WebhookDeliveries { webhook: id };
    let before: Option<Uuid> = page.position(&cursor_key, &scope)?;
    let rows = store::deliveries(&hooks.db, id, before, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(&scope, &last.id)
    })))
}

/// Send a delivery's event again, with its id and body (admin or owner).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks",
    params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)),
    responses((status = 202, description = "Queued")),
    security(("bearer" = []), ("session" = [])))]
pub async fn redeliver(
    State(hooks): State<Webhooks>,
    principal: Principal,
    Path((id, delivery_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    enter(&hooks, &principal, id).await?;
    if !store::redeliver(&hooks.db, id, delivery_id).await? {
        return Err(ApiError::not_found());
    }
    hooks.wake.notify_one();
    Ok(StatusCode::ACCEPTED)
}

/// Send a `webhook.ping` event (admin or owner); also to a disabled webhook, to test it.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/ping", tag = "webhooks",
    params(("id" = Uuid, Path)),
    responses((status = 202, description = "Queued")),
    security(("bearer" = []), ("session" = [])))]
pub async fn ping(
    State(hooks): State<Webhooks>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    enter(&hooks, &principal, id).await?;
    let (event_id, body) = outbox::ping_event();
    store::enqueue(&hooks.db, id, &event_id, "webhook.ping", &body).await?;
    hooks.wake.notify_one();
    Ok(StatusCode::ACCEPTED)
}

//! The calendar feed's endpoints: create (or replace) and end the caller's feed, and the feed
//! itself, read by calendar programs with nothing but the secret in its URL.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ics::{self, Components, Renderer};
use super::store;
use crate::auth::client::ClientAddr;
use crate::auth::limits;
use crate::auth::principal::Principal;
use crate::auth::state::AuthState;
use crate::auth::users::User;
use crate::db::{DbResult, Exec, Tx};
use crate::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::http::middleware::RequestContext;
use crate::http::preconditions::IfNoneMatch;
use crate::projects::access::Action;
use crate::projects::guard;
use crate::tasks::store::calendar::{self as tasks, FeedOf};
use crate::tokens::{hash_token, random_token};

/// The feed's path; `{feed}` is `<secret>.ics`.
pub const FEED_PATH: &str = "/api/v1/calendar/{feed}";
/// Tasks read per statement.
const PAGE: i64 = 1000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CalendarFeed {
    /// The feed's secret URL, shown only in this response: whoever has it can read the feed.
    pub url: String,
}

/// Make the caller a calendar feed URL, replacing the one they had (whose URL stops working).
/// The URL is shown only in this response; the server keeps only a hash of its secret.
#[utoipa::path(post, path = "/api/v1/me/calendar-feed", tag = "account",
    responses((status = 201, body = CalendarFeed)),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_calendar_feed(
    State(state): State<AuthState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    principal.require_login()?;
    let secret = random_token(32);
    store::replace(&state.db, principal.id(), &hash_token(&secret)).await?;
    let base = state.config.public_url.as_str().trim_end_matches('/');
    let url = format!(
        "{base}{}",
        FEED_PATH.replace("{feed}", &format!("{secret}.ics"))
    );
    Ok((StatusCode::CREATED, axum::Json(CalendarFeed { url })).into_response())
}

/// End the caller's calendar feed: its URL answers 404 from now on. 404 when there is none.
#[utoipa::path(delete, path = "/api/v1/me/calendar-feed", tag = "account",
    responses((status = 204, description = "The feed ended"),
        (status = 404, description = "The caller has no calendar feed")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_calendar_feed(
    State(state): State<AuthState>,
    principal: Principal,
) -> Result<StatusCode, ApiError> {
    principal.require_login()?;
    if store::delete(&state.db, principal.id()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Every task of this project with a due date (while the feed's owner is a member of it)
    /// instead of the tasks assigned to the owner.
    pub project_id: Option<Uuid>,
    /// `vevent` (the default) or `vtodo`.
    #[param(inline)]
    pub components: Option<Components>,
}

/// The calendar feed: the owner's tasks with a due date as iCalendar (RFC 5545), readable with
/// the secret in the URL alone. Assigned to the owner in projects they are a member of, or
/// every task of `project_id` while they are one (else 404). Each is a `VEVENT` (all day on its
/// due date, or 30 minutes from its `due_time` in the owner's zone) or a `VTODO`. `ETag` is a
/// hash of the body; `If-None-Match` with it gives 304. An unknown or ended secret is a 404
/// that counts against the client address's pre-authentication limit (429 past it).
#[utoipa::path(get, path = "/api/v1/calendar/{feed}", tag = "account",
    params(("feed" = String, Path, description = "`<secret>.ics`, from the URL \
        `POST /api/v1/me/calendar-feed` gave"), FeedQuery),
    responses(
        (status = 200, description = "The feed", content_type = "text/calendar",
            body = String, headers(("ETag" = String, description = "A hash of the body"))),
        (status = 304, description = "Unchanged since the `ETag` in `If-None-Match`"),
        (status = 404, description = "No such feed, or not a member of `project_id`")),
    security(()))]
pub async fn get_calendar_feed(
    State(state): State<AuthState>,
    client: ClientAddr,
    context: Option<Extension<RequestContext>>,
    if_none_match: IfNoneMatch,
    Path(feed): Path<String>,
    Query(query): Query<FeedQuery>,
) -> Result<Response, ApiError> {
    let owner = owner_of(&state, client, &feed).await?;
    if let Some(Extension(context)) = &context {
        context.set_user(owner.id);
    }
    let status = state.rate_limiter.check(owner.id, &state.db).await;
    if let Some(Extension(context)) = &context {
        context.set_rate_limit(status);
    }
    if !status.allowed {
        return Err(ApiError::rate_limited(status.reset_secs));
    }
    let of = match query.project_id {
        Some(project_id) => {
            let db = state.db.reads();
            guard::authorize_user(&db, owner.id, project_id, Action::Read).await?;
            FeedOf::Project {
                project_id,
                user_id: owner.id,
            }
        }
        None => FeedOf::Assigned { user_id: owner.id },
    };
    let renderer = Renderer {
        components: query.components.unwrap_or(Components::Vevent),
        zone: owner.time_zone.parse().unwrap_or(chrono_tz::UTC),
        base_url: state
            .config
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        host: state
            .config
            .public_url
            .host_str()
            .unwrap_or("docket")
            .to_owned(),
    };
    let tx = state.db.begin().await?;
    let body = render(&tx, of, &renderer).await?;
    tx.commit().await?;
    let etag = format!("\"{}\"", hex(&Sha256::digest(body.as_bytes())[..16]));
    let etag_value = HeaderValue::from_str(&etag).expect("hex digits are a valid header");
    if if_none_match.matches_tag(&etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            ),
            (header::ETAG, etag_value),
        ],
        body,
    )
        .into_response())
}

/// The feed's owner. An unknown secret (or a disabled owner) is a 404 that counts against the
/// address's pre-authentication limit; past that limit failures are refused with 429, while a
/// valid secret is still served (someone else's failures never refuse a valid credential).
async fn owner_of(state: &AuthState, client: ClientAddr, feed: &str) -> Result<User, ApiError> {
    let within_limit = limits::pre_auth_exhausted(state, client);
    let found = match feed.strip_suffix(".ics") {
        // A secret is 43 characters of base64url; anything else names no feed.
        Some(secret) if secret.len() == 43 => {
            let hash = hash_token(secret);
            match within_limit {
                Ok(()) => store::owner(&state.db, &hash).await?,
                Err(_) => store::owner(&state.db.reads(), &hash).await?,
            }
        }
        _ => None,
    };
    match found {
        Some(user) if !user.disabled => Ok(user),
        _ => {
            within_limit?;
            limits::pre_auth(state, client).await?;
            Err(ApiError::not_found())
        }
    }
}

/// The whole feed, read a page at a time in one repeatable-read snapshot (so the body and its
/// ETag are of one state of the tasks); work and memory are linear in the number of tasks.
async fn render(tx: &Tx, of: FeedOf, renderer: &Renderer) -> DbResult<String> {
    tx.execute(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        &[],
    )
    .await?;
    let mut body = String::from(ics::HEAD);
    let mut after = None;
    loop {
        let page = tasks::page(tx, of, after, PAGE).await?;
        for task in &page {
            renderer.entry(task, &mut body);
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = Some((last.due_date, last.id)),
            _ => break,
        }
    }
    body.push_str(ics::TAIL);
    Ok(body)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! One-click unsubscribe from notification emails (API.md §14, RFC 8058), without a session.
//!
//! The link carries a token signed for one user (HMAC-SHA256 under a key derived from
//! `DOCKET_ENCRYPTION_KEY`): nothing is stored, every digest of the user carries the same
//! link, and a token cannot be made for another user. `POST` (what a mail program's
//! "Unsubscribe" button sends, with the body `List-Unsubscribe=One-Click`) switches the user's
//! `email_notifications` off; `GET` (a person opening the link, or a mail scanner fetching it
//! ahead of them) only shows a page whose button sends that `POST`.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde::Deserialize;

use super::digest::Digests;
use crate::auth::state::AuthState;
use crate::auth::users::{self, User};
use crate::email::escape_html;
use crate::error::ApiError;
use crate::http::extract::Query;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    // Required in the document, optional here: a missing token is the same 422 as a bad one.
    /// The token of the email's unsubscribe link.
    #[param(value_type = String, required = true, min_length = 43, max_length = 43,
            pattern = r"^[A-Za-z0-9_-]{43}$")]
    pub token: Option<String>,
}

/// The user of a valid token; anything else is the same 422 on `token` (a deleted user's
/// token too).
async fn user_of(digests: &Digests, query: &UnsubscribeQuery) -> Result<User, ApiError> {
    let invalid = || {
        ApiError::field(
            "token",
            "invalid",
            "this unsubscribe link is not valid (it may be cut short)",
        )
    };
    let user_id = query
        .token
        .as_deref()
        .and_then(|token| digests.unsubscribe.user_of(token))
        .ok_or_else(invalid)?;
    users::find_by_id(&digests.db, user_id)
        .await?
        .ok_or_else(invalid)
}

/// A small page of its own (no script, no style: the API's CSP allows neither), not cached:
/// its URL holds the token.
fn page(title: &str, body: &str) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Html(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"
        )),
    )
}

/// The page an unsubscribe link opens: it asks before switching anything off, so that a
/// mail scanner fetching the link changes nothing.
#[utoipa::path(get, path = "/api/v1/unsubscribe", tag = "notifications",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "A page with an Unsubscribe button (it sends the POST)",
         content_type = "text/html", body = String),
        (status = 422, description = "The token is missing or not valid",
         body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn show_unsubscribe(
    State(digests): State<Digests>,
    Query(query): Query<UnsubscribeQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let user = user_of(&digests, &query).await?;
    let settings = escape_html(&digests.link("/settings"));
    let again =
        format!("<p>You can switch them on again in your <a href=\"{settings}\">settings</a>.</p>");
    if !user.email_notifications {
        return Ok(page(
            "You get no notification emails",
            &format!(
                "<p>Docket does not email {} about notifications.</p>{again}",
                escape_html(&user.email)
            ),
        ));
    }
    let action = escape_html(&digests.unsubscribe_link(user.id));
    Ok(page(
        "Stop notification emails?",
        &format!(
            "<p>Docket emails {email} what happened on their tasks, at most once every {every}.</p>\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Unsubscribe</button></form>{again}",
            email = escape_html(&user.email),
            every = super::digest::message::duration_text(digests.interval),
        ),
    ))
}

/// One-click unsubscribe (RFC 8058): switches the token's user's `email_notifications` off.
/// The body (`List-Unsubscribe=One-Click`) is not required. Idempotent.
#[utoipa::path(post, path = "/api/v1/unsubscribe", tag = "notifications",
    params(UnsubscribeQuery),
    responses(
        (status = 200, description = "Unsubscribed: a page saying so",
         content_type = "text/html", body = String),
        (status = 422, description = "The token is missing or not valid: nothing changed",
         body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn unsubscribe(
    State(digests): State<Digests>,
    State(auth): State<AuthState>,
    Query(query): Query<UnsubscribeQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let user = user_of(&digests, &query).await?;
    users::update_profile(&digests.db, user.id, None, Some(false), None).await?;
    // Like `PATCH /me`: the cached user goes now, not when the trigger's notice arrives, so
    // the user's next request already sees the switch off.
    auth.principals.evict_user(user.id);
    tracing::info!(user_id = %user.id, "unsubscribed from notification emails");
    let settings = escape_html(&digests.link("/settings"));
    Ok(page(
        "Unsubscribed",
        &format!(
            "<p>Docket will not email {} about notifications any more. You can switch them on \
             again in your <a href=\"{settings}\">settings</a>.</p>",
            escape_html(&user.email)
        ),
    ))
}

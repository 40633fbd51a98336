//! Password reset (API.md §14): a link by email with a single-use token valid 1 h (only its
//! hash is stored). The request is answered 202 at once, whether or not the email is anyone's,
//! and the lookup and the email happen after the answer, so neither the status nor the time
//! tells whether an account exists. Limits: per client address (visible: 429), per account
//! (invisible: past it no more email is sent, the answer is the same 202).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::client::ClientAddr;
use super::domain::Password;
use super::limits::{self, Limit};
use super::login::end_logins;
use super::state::AuthState;
use super::store::resets;
use super::users;
use crate::email::{escape_html as html_escape, Mailer, Outgoing};
use crate::error::ApiError;
use crate::http::extract::Json;

/// How long a reset link works.
pub const VALID_SECS: f64 = 3600.0;
pub const REQUESTS_PER_ADDRESS: Limit = Limit::new(20, 3600);
pub const EMAILS_PER_ACCOUNT: Limit = Limit::new(5, 3600);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

/// Email a password reset link, if the address is an account's (202 either way).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = PasswordResetRequest,
    responses((status = 202, description = "Accepted: an email is sent if the address is an account's")))]
pub async fn request_password_reset(
    State(state): State<AuthState>,
    State(mailer): State<Mailer>,
    client: ClientAddr,
    Json(body): Json<PasswordResetRequest>,
) -> Result<StatusCode, ApiError> {
    let email = body.email.trim().to_owned();
    if email.is_empty() || email.len() > 254 || !email.contains('@') {
        return Err(ApiError::field(
            "email",
            "invalid",
            "must be an email address",
        ));
    }
    if !mailer.is_configured() {
        return Err(ApiError::unavailable(
            "no email can be sent: SMTP is not configured",
        ));
    }
    limits::pre_auth(&state, client).await?;
    let bucket = format!("reset:address:{}", super::client::address_key(client.0));
    // Every request counts (there is no "success" that gives the slot back).
    let _counted = limits::attempt(&state.db, &[(bucket, REQUESTS_PER_ADDRESS)]).await?;
    // After the answer: the time of the answer is the same for every address.
    tokio::spawn(async move {
        if let Err(error) = send_link(&state, &mailer, &email).await {
            tracing::warn!(error = %error.detail.clone().unwrap_or_default(), "password reset: could not queue the email");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

async fn send_link(state: &AuthState, mailer: &Mailer, email: &str) -> Result<(), ApiError> {
    let Some((user, _)) = users::find_credentials(&state.db, email).await? else {
        return Ok(());
    };
    let bucket = format!("reset:account:{}", user.id);
    if limits::attempt(&state.db, &[(bucket, EMAILS_PER_ACCOUNT)])
        .await
        .is_err()
    {
        return Ok(());
    }
    let token = crate::tokens::random_token(32);
    // Below the public URL's own path, if it has one (`https://example.com/docket/reset`).
    let base = state.config.public_url.as_str().trim_end_matches('/');
    let mut link = url::Url::parse(&format!("{base}/reset")).expect("the public URL and a path");
    link.query_pairs_mut().append_pair("token", &token);
    let tx = state.db.begin().await?;
    resets::insert(&tx, &crate::tokens::hash_token(&token), user.id, VALID_SECS).await?;
    mailer
        .enqueue(&tx, &message(&user.email, &user.name, link.as_str()))
        .await?;
    tx.commit().await?;
    Ok(())
}

fn message(to: &str, name: &str, link: &str) -> Outgoing {
    let name_html = html_escape(name);
    let link_html = html_escape(link);
    Outgoing {
        to: to.to_owned(),
        subject: "Reset your Docket password".into(),
        text: format!(
            "Hello {name},\n\nSomeone (we hope you) asked to reset your Docket password. \
             Open this link within an hour to choose a new one:\n\n{link}\n\n\
             If it was not you, ignore this email: your password stays as it is.\n"
        ),
        html: format!(
            "<p>Hello {name_html},</p><p>Someone (we hope you) asked to reset your Docket \
             password. Open this link within an hour to choose a new one:</p>\
             <p><a href=\"{link_html}\">{link_html}</a></p><p>If it was not you, ignore this \
             email: your password stays as it is.</p>"
        ),
        unsubscribe: None,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    #[schema(max_length = 100)]
    pub token: String,
    #[schema(min_length = 10, max_length = 128, format = Password, pattern = r"^[^\x00]*$")]
    pub new_password: String,
}

/// Set a new password with a reset link's token; every session and login of the user ends.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth",
    request_body = PasswordResetConfirm,
    responses((status = 204, description = "The password was changed")))]
pub async fn confirm_password_reset(
    State(state): State<AuthState>,
    client: ClientAddr,
    Json(body): Json<PasswordResetConfirm>,
) -> Result<StatusCode, ApiError> {
    let new_password = Password::parse(body.new_password)
        .map_err(|(code, message)| ApiError::field("new_password", code, message))?;
    limits::pre_auth(&state, client).await?;
    let bad_token = || ApiError::field("token", "invalid", "is unknown, used or expired");
    let token_hash = crate::tokens::hash_token(body.token.trim());
    if body.token.len() > 100 || !resets::is_usable(&state.db, &token_hash).await? {
        return Err(bad_token());
    }
    let hash = state
        .passwords
        .hash(new_password.into_inner(), Some(client))
        .await?;
    let tx = state.db.begin().await?;
    // Taken here, not when read above: of two requests with one token, one wins.
    let user_id = resets::take(&tx, &token_hash)
        .await?
        .ok_or_else(bad_token)?;
    users::set_password_hash(&tx, user_id, &hash).await?;
    end_logins(&tx, user_id, None, None).await?;
    tx.commit().await?;
    state.principals.evict_user(user_id);
    Ok(StatusCode::NO_CONTENT)
}

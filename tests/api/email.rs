//! Email (API.md §14) through a real SMTP server: `aiosmtpd` from PyPI, started per test, which
//! prints every message it accepts (decoded) as a JSON line. Password reset end to end.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
pub use crate::smtp::{python, SmtpServer};

async fn mailing_app(smtp: &SmtpServer) -> TestApp {
    let url = smtp.url.clone();
    TestApp::build()
        .config(move |args| args.smtp_url = Some(url))
        .spawn()
        .await
}

fn token_in(text: &str) -> String {
    let start = text.find("/reset?token=").expect("a reset link") + "/reset?token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

const RESET: &str = "/api/v1/auth/password-reset";
const CONFIRM: &str = "/api/v1/auth/password-reset/confirm";

#[tokio::test]
async fn a_password_reset_goes_by_email_works_once_and_ends_every_login() {
    let smtp = SmtpServer::start().await;
    let app = mailing_app(&smtp).await;
    let user = app.new_user().await;
    let anon = app.anon();

    // An address nobody has gets the same answer and no email.
    let nobody = anon
        .post(RESET, json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(nobody.status(), 202);
    let asked = anon
        .post(RESET, json!({"email": user.email.to_uppercase()}))
        .await;
    assert_eq!(asked.status(), 202);
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail["to"], json!([user.email]));
    assert_eq!(mail["subject"], "Reset your Docket password");
    let text = mail["text"].as_str().unwrap();
    let token = token_in(text);
    assert_eq!(token.len(), 43);
    assert!(mail["html"].as_str().unwrap().contains(&token));
    assert!(text.starts_with("Hello "));
    // Only its hash is stored.
    let stored: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM password_resets WHERE token_hash = sha256($1::text::bytea)",
            &[&token],
        )
        .await;
    assert_eq!(stored, 1);
    // The queued email is sealed: the link is not readable in the queue either.
    let (queued, readable): (i64, i64) = (
        app.db
            .scalar("SELECT count(*) FROM jobs WHERE kind = 'email'", &[])
            .await,
        app.db
            .scalar(
                "SELECT count(*) FROM jobs WHERE strpos(payload::text, $1) > 0",
                &[&token],
            )
            .await,
    );
    assert_eq!((queued, readable), (1, 0));

    let short = anon
        .post(CONFIRM, json!({"token": token, "new_password": "short"}))
        .await;
    short.invalid_field("new_password");
    let confirmed = anon
        .post(
            CONFIRM,
            json!({"token": token, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(confirmed.status(), 204);
    // Used once: never again.
    anon.post(
        CONFIRM,
        json!({"token": token, "new_password": "another passphrase"}),
    )
    .await
    .invalid_field("token");
    // Every login of the user ended; the new password works, the old one does not.
    assert_eq!(app.refresh_grant(&user.refresh_token).await.status(), 401);
    assert_eq!(
        app.password_grant(&user.email, &user.password)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.password_grant(&user.email, "a brand new passphrase")
            .await
            .status(),
        200
    );
    // Nothing was sent for the address nobody has.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test]
async fn an_expired_or_unknown_token_is_refused_and_changes_nothing() {
    let smtp = SmtpServer::start().await;
    let app = mailing_app(&smtp).await;
    let user = app.new_user().await;
    let anon = app.anon();
    assert_eq!(
        anon.post(RESET, json!({"email": user.email}))
            .await
            .status(),
        202
    );
    let token = token_in(smtp.wait_for(1).await[0]["text"].as_str().unwrap());
    app.db
        .execute(
            "UPDATE password_resets SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await;
    for token in [token.as_str(), "not-a-token"] {
        anon.post(
            CONFIRM,
            json!({"token": token, "new_password": "a brand new passphrase"}),
        )
        .await
        .invalid_field("token");
    }
    assert_eq!(
        app.password_grant(&user.email, &user.password)
            .await
            .status(),
        200
    );
    anon.post(RESET, json!({"email": "not an address"}))
        .await
        .invalid_field("email");
}

#[tokio::test]
async fn without_smtp_a_reset_cannot_be_asked_for() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.anon()
        .post(RESET, json!({"email": user.email}))
        .await
        .problem(503, "unavailable");
}

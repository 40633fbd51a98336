//! Invitations (API.md §14): adding a member by an email without an account invites them; the
//! link works once, for 7 days, and makes them a member with the invited role. Through a real
//! SMTP server (aiosmtpd), and without one (the link in the answer, once).

use serde_json::{json, Value};

use crate::email::SmtpServer;
use crate::helpers::*;

const ACCEPT: &str = "/api/v1/invitations/accept";

fn members(project: uuid::Uuid) -> String {
    format!("/api/v1/projects/{project}/members")
}

fn invitations(project: uuid::Uuid) -> String {
    format!("/api/v1/projects/{project}/invitations")
}

fn token_in(text: &str) -> String {
    let start = text.find("/invite?token=").expect("an invitation link") + "/invite?token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A user registered with `email`, signed in.
async fn user_with_email(app: &TestApp, email: &str) -> TestUser {
    let user: Value = app.register(email, PASSWORD, "Invitee").await.created();
    let tokens: Value = app.password_grant(email, PASSWORD).await.good();
    TestUser {
        id: user["id"].as_str().unwrap().parse().unwrap(),
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        token: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn an_invitation_by_email_opens_an_account_that_is_a_member_with_the_invited_role() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url.clone();
    let app = TestApp::build()
        .config(move |args| args.smtp_url = Some(url))
        .spawn()
        .await;
    let alice = app.new_client().await;
    let viewer = app.new_user().await;
    let project = alice.create_project("Team").await;
    alice.add_member(project.id, &viewer, "viewer").await;

    let answer = alice
        .post(
            &members(project.id),
            json!({"email": "Newcomer@Example.com", "role": "editor"}),
        )
        .await;
    let created: Value = answer.expect(202);
    let invitation = &created["invitation"];
    // Stored as every email is: trimmed and lower-cased.
    assert_eq!(invitation["email"], "newcomer@example.com");
    assert_eq!(invitation["role"], "editor");
    assert_eq!(invitation["invited_by"], json!(alice.id));
    assert!(
        created.get("link").is_none(),
        "with SMTP the link goes by email only"
    );
    let expires: chrono::DateTime<chrono::Utc> =
        invitation["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days} h");

    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail["to"], json!(["newcomer@example.com"]));
    assert!(mail["subject"].as_str().unwrap().contains("Team"));
    let token = token_in(mail["text"].as_str().unwrap());
    assert_eq!(token.len(), 43);
    assert!(mail["html"].as_str().unwrap().contains(&token));
    let stored: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM invitations WHERE token_hash = sha256($1::text::bytea)",
            &[&token],
        )
        .await;
    assert_eq!(stored, 1, "only the token's hash is kept");

    // Admins list pending invitations; a viewer may not.
    let page: Value = alice.get(&invitations(project.id)).await.good();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], invitation["id"]);
    app.as_user(&viewer)
        .get(&invitations(project.id))
        .await
        .problem(403, "forbidden");

    // A new account needs a password and a name; a bad one changes nothing.
    let anon = app.anon();
    let missing = anon.post(ACCEPT, json!({"token": token})).await;
    missing.invalid_field("password");
    missing.invalid_field("name");
    let accepted: Value = anon
        .post(
            ACCEPT,
            json!({"token": token, "password": "a long enough passphrase", "name": "New Comer"}),
        )
        .await
        .expect(201);
    assert_eq!(accepted["role"], "editor");
    assert_eq!(accepted["project_id"], json!(project.id));
    assert_eq!(accepted["user"]["email"], "newcomer@example.com");
    // Once only.
    anon.post(
        ACCEPT,
        json!({"token": token, "password": "a long enough passphrase", "name": "Again"}),
    )
    .await
    .invalid_field("token");

    // The account signs in and works in the project as an editor.
    let tokens: Value = app
        .password_grant("newcomer@example.com", "a long enough passphrase")
        .await
        .good();
    let newcomer = app.with_token(tokens["access_token"].as_str().unwrap());
    let task: Value = newcomer
        .post(
            &format!("/api/v1/projects/{}/tasks", project.id),
            json!({"title": "my first"}),
        )
        .await
        .created();
    assert_eq!(task["title"], "my first");
    let page: Value = alice.get(&members(project.id)).await.good();
    let roles: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["email"].as_str().unwrap(),
                m["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        roles.contains(&("newcomer@example.com", "editor")),
        "{roles:?}"
    );
    let page: Value = alice.get(&invitations(project.id)).await.good();
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn without_smtp_the_inviter_gets_the_link_and_only_the_invited_user_can_use_it() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let editor = app.new_user().await;
    let project = alice.create_project("Team").await;
    alice.add_member(project.id, &editor, "editor").await;

    // An editor may not invite; an admin role is the owner's to give.
    app.as_user(&editor)
        .post(
            &members(project.id),
            json!({"email": "someone@example.com", "role": "viewer"}),
        )
        .await
        .problem(403, "forbidden");
    let created: Value = alice
        .post(
            &members(project.id),
            json!({"email": "later@example.com", "role": "admin"}),
        )
        .await
        .expect(202);
    let link = created["link"].as_str().expect("the link, once");
    assert!(link.contains("/invite?token="), "{link}");
    let token = token_in(link);
    alice
        .post(
            &members(project.id),
            json!({"email": "not an address", "role": "viewer"}),
        )
        .await
        .invalid_field("email");

    // They register on their own; someone else signed in cannot use their link.
    let later = user_with_email(&app, "later@example.com").await;
    let stranger = app.new_client().await;
    stranger
        .post(ACCEPT, json!({"token": token}))
        .await
        .invalid_field("token");
    let accepted: Value = app
        .as_user(&later)
        .post(ACCEPT, json!({"token": token}))
        .await
        .good();
    assert_eq!(accepted["role"], "admin");
    assert_eq!(accepted["user"]["id"], json!(later.id));
    let project_seen: Value = app
        .as_user(&later)
        .get(&format!("/api/v1/projects/{}", project.id))
        .await
        .good();
    assert_eq!(project_seen["my_role"], "admin");
    // A known email is added at once (201), as before.
    let member: Value = alice
        .post(
            &members(project.id),
            json!({"email": stranger.email, "role": "viewer"}),
        )
        .await
        .created();
    assert_eq!(member["role"], "viewer");
}

#[tokio::test]
async fn a_withdrawn_or_expired_invitation_no_longer_works() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Team").await;
    let invite = |email: &'static str| {
        let alice = &alice;
        async move {
            let created: Value = alice
                .post(
                    &members(project.id),
                    json!({"email": email, "role": "viewer"}),
                )
                .await
                .expect(202);
            (
                created["invitation"]["id"].as_str().unwrap().to_owned(),
                token_in(created["link"].as_str().unwrap()),
            )
        }
    };
    let (withdrawn, withdrawn_token) = invite("gone@example.com").await;
    let (_, expired_token) = invite("late@example.com").await;
    // Inviting again replaces the first link.
    let (_, first) = invite("twice@example.com").await;
    let (_, second) = invite("twice@example.com").await;
    assert_ne!(first, second);

    let outsider = app.new_client().await;
    outsider
        .delete(&format!("/api/v1/invitations/{withdrawn}"))
        .await
        .problem(404, "not_found");
    alice
        .delete(&format!("/api/v1/invitations/{withdrawn}"))
        .await
        .no_content();
    alice
        .delete(&format!("/api/v1/invitations/{withdrawn}"))
        .await
        .problem(404, "not_found");
    app.db
        .execute(
            "UPDATE invitations SET expires_at = now() - interval '1 second' \
             WHERE email = 'late@example.com'",
            &[],
        )
        .await;
    let anon = app.anon();
    for token in [withdrawn_token, expired_token, first, "nonsense".to_owned()] {
        anon.post(
            ACCEPT,
            json!({"token": token, "password": "a long enough passphrase", "name": "X"}),
        )
        .await
        .invalid_field("token");
    }
    let page: Value = alice.get(&invitations(project.id)).await.good();
    let emails: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["twice@example.com"]);
    let users: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM users WHERE email LIKE '%@example.com' AND name = 'X'",
            &[],
        )
        .await;
    assert_eq!(users, 0, "no account was opened");
    anon.post(
        ACCEPT,
        json!({"token": second, "password": "a long enough passphrase", "name": "Twice"}),
    )
    .await
    .expect::<Value>(201);
}

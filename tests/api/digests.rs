//! Notification digests by email (API.md §14) through a real SMTP server (`tests/api/smtp.rs`):
//! one email per user per interval grouped by task, `email_notifications: false` respected,
//! the RFC 8058 headers and one-click unsubscribe, and one email per window with two instances.
//! The interval is shortened with `DOCKET_DIGEST_INTERVAL_S`; each instance's scheduler looks
//! every 5 s, so an email comes between one interval and one interval + 5 s after the first
//! notification.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;
use crate::smtp::SmtpServer;

/// Long enough for a test's burst of changes to fall within one interval on a loaded machine.
const INTERVAL_S: u64 = 4;
/// Longer than an interval plus a scheduler period and a job's run: if another email were
/// coming, it would be here by then.
const QUIET: Duration = Duration::from_secs(INTERVAL_S + 8);

async fn digesting_app(smtp: &SmtpServer, database_url: Option<&str>) -> TestApp {
    let url = smtp.url.clone();
    let builder = TestApp::build().config(move |args| {
        args.smtp_url = Some(url);
        args.digest_interval_s = Some(INTERVAL_S.to_string());
    });
    match database_url {
        Some(database_url) => builder.on(database_url).spawn().await,
        None => builder.spawn().await,
    }
}

/// The subjects and sentences of emails, for a failing assertion's message.
fn shown(mails: &[Value]) -> String {
    mails
        .iter()
        .map(|mail| format!("{}: {:?}", mail["subject"], sentences(mail)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn mails_to(smtp: &SmtpServer, email: &str) -> Vec<Value> {
    smtp.received()
        .into_iter()
        .filter(|mail| mail["to"] == json!([email]))
        .collect()
}

/// Waits (up to 30 s) for the `n`th email to `email`.
async fn wait_for_mail(smtp: &SmtpServer, email: &str, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let mails = mails_to(smtp, email);
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} of {n} emails to {email}", mails_to(smtp, email).len());
}

/// The task sentences of a digest's plain text.
fn sentences(mail: &Value) -> Vec<String> {
    mail["text"]
        .as_str()
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("* "))
        .map(str::to_owned)
        .collect()
}

/// The unsubscribe token of a digest's `List-Unsubscribe` header.
fn unsubscribe_token(mail: &Value) -> String {
    let header = mail["list_unsubscribe"].as_str().expect("List-Unsubscribe");
    let url = header
        .strip_prefix('<')
        .and_then(|h| h.strip_suffix('>'))
        .expect("<url>");
    let url = reqwest::Url::parse(url).unwrap();
    assert_eq!(url.path(), "/api/v1/unsubscribe");
    url.query_pairs()
        .find(|(name, _)| name == "token")
        .expect("a token")
        .1
        .into_owned()
}

async fn comment(user: &UserClient<'_>, task: Uuid, body: &str) {
    user.post(&comments_path(task), json!({"body": body}))
        .await
        .created::<Value>();
}

async fn email_notifications(user: &UserClient<'_>) -> bool {
    user.get("/api/v1/me").await.good::<Value>()["email_notifications"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn several_events_on_two_tasks_make_one_email_grouped_by_task() {
    let smtp = SmtpServer::start().await;
    let app = digesting_app(&smtp, None).await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let carol = app.new_client().await;
    carol
        .patch("/api/v1/me", json!({"email_notifications": false}))
        .await
        .good::<Value>();
    let project = alice.create_project("Website").await.id;
    alice.add_member(project, &bob, "editor").await;
    alice.add_member(project, &carol, "editor").await;

    let login = alice
        .create_task(
            project,
            json!({"title": "Fix login", "assignee_id": bob.id}),
        )
        .await;
    let docs = alice
        .create_task(
            project,
            json!({"title": "Write docs", "assignee_id": bob.id}),
        )
        .await;
    let seen = alice
        .create_task(
            project,
            json!({"title": "Seen already", "assignee_id": bob.id}),
        )
        .await;
    comment(&alice, login.id, "First thought").await;
    comment(&alice, login.id, "Second thought").await;
    comment(&alice, login.id, "Third thought").await;
    comment(&alice, docs.id, &format!("@{} can you look?", bob.email)).await;
    alice
        .create_task(
            project,
            json!({"title": "Carol's", "assignee_id": carol.id}),
        )
        .await;
    // Read in the app before the digest goes: left out of it.
    let unread: Page<Value> = bob.get("/api/v1/me/notifications?unread=true").await.good();
    let seen_ids: Vec<&Value> = unread
        .items
        .iter()
        .filter(|n| n["task"]["id"] == seen.id.to_string())
        .map(|n| &n["id"])
        .collect();
    assert_eq!(seen_ids.len(), 1);
    bob.post("/api/v1/me/notifications/read", json!({"ids": seen_ids}))
        .await
        .no_content();

    let mail = wait_for_mail(&smtp, &bob.email, 1).await.remove(0);
    assert_eq!(mail["subject"], "6 notifications on 2 tasks in Docket");
    let told = sentences(&mail);
    // Newest first: the mention on "Write docs" came last.
    assert_eq!(
        told,
        [
            format!(
                "A mention of you and an assignment to you on #{} “Write docs” in Website, from Test User.",
                docs.number
            ),
            format!(
                "An assignment to you and 3 comments on #{} “Fix login” in Website, from Test User.",
                login.number
            ),
        ],
        "{}",
        mail["text"]
    );
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains(&format!("/p/{project}?task={}", login.id)));
    let html = mail["html"].as_str().unwrap();
    assert!(html.contains("“Fix login”") && html.contains("“Write docs”"));
    assert!(!text.contains("Seen already"));
    // RFC 8058: the one-click headers, and the same link in the body.
    assert_eq!(mail["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    let token = unsubscribe_token(&mail);
    assert!(text.contains(&token) && html.contains(&token));

    // One email per interval: nothing more for Bob, nothing at all for Carol (emails off),
    // though her notification is there in the app.
    tokio::time::sleep(QUIET).await;
    let mails = mails_to(&smtp, &bob.email);
    assert_eq!(mails.len(), 1, "{}", shown(&mails));
    assert!(mails_to(&smtp, &carol.email).is_empty());
    let carols: Page<Value> = carol.get("/api/v1/me/notifications").await.good();
    assert_eq!(carols.items.len(), 1);
    assert_eq!(smtp.received().len(), 1, "only Bob's");

    // What happens next goes into the next email, and only that.
    comment(&alice, docs.id, "One more thing").await;
    let mails = wait_for_mail(&smtp, &bob.email, 2).await;
    assert_eq!(
        mails[1]["subject"],
        format!("A comment on #{} Write docs", docs.number)
    );
    assert_eq!(sentences(&mails[1]).len(), 1);
}

#[tokio::test]
async fn the_one_click_post_unsubscribes_and_a_bad_token_changes_nothing() {
    let smtp = SmtpServer::start().await;
    let app = digesting_app(&smtp, None).await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = alice.create_project("Team").await.id;
    alice.add_member(project, &bob, "editor").await;
    alice
        .create_task(project, json!({"title": "Yours", "assignee_id": bob.id}))
        .await;
    let mail = wait_for_mail(&smtp, &bob.email, 1).await.remove(0);
    let token = unsubscribe_token(&mail);
    let path = |token: &str| format!("/api/v1/unsubscribe?token={token}");
    let anon = app.anon();

    // Opening the link (or a scanner fetching it) only asks.
    let page = anon.get(&path(&token)).await;
    assert_eq!(page.status(), 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    let body = page.text();
    assert!(body.contains("<form method=\"post\""), "{body}");
    assert!(body.contains(&bob.email));
    assert!(email_notifications(&bob).await);

    // Bad tokens: a problem, and nothing changes.
    let mut forged = token.clone().into_bytes();
    forged[5] = if forged[5] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let alices = unsubscribe_token_for_other(&token, alice.id);
    for bad in [forged.as_str(), "nonsense", "", alices.as_str()] {
        anon.post(&path(bad), "List-Unsubscribe=One-Click")
            .await
            .invalid_field("token");
        anon.get(&path(bad)).await.invalid_field("token");
    }
    anon.request(Method::POST, "/api/v1/unsubscribe")
        .await
        .invalid_field("token");
    assert!(email_notifications(&bob).await);
    assert!(email_notifications(&alice).await);

    // What a mail program's "Unsubscribe" button sends (RFC 8058), no session needed.
    let response = app
        .request(Method::POST, &path(&token))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(!email_notifications(&bob).await);
    assert!(email_notifications(&alice).await, "only the token's user");
    // Again: still fine (a mail program may retry).
    assert_eq!(anon.post(&path(&token), "").await.status(), 200);

    // No more emails for Bob.
    alice
        .create_task(
            project,
            json!({"title": "Also yours", "assignee_id": bob.id}),
        )
        .await;
    tokio::time::sleep(QUIET).await;
    let mails = mails_to(&smtp, &bob.email);
    assert_eq!(mails.len(), 1, "{}", shown(&mails));
}

/// Bob's token with Alice's id in place of his: the tag no longer matches.
fn unsubscribe_token_for_other(token: &str, other: Uuid) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut raw = URL_SAFE_NO_PAD.decode(token).unwrap();
    raw[..16].copy_from_slice(other.as_bytes());
    URL_SAFE_NO_PAD.encode(raw)
}

#[tokio::test]
async fn two_instances_send_one_email_per_window() {
    let smtp = SmtpServer::start().await;
    let first = digesting_app(&smtp, None).await;
    let second = digesting_app(&smtp, Some(&first.database_url)).await;
    let alice = first.new_client().await;
    let bob = first.new_client().await;
    let project = alice.create_project("Shared").await.id;
    alice.add_member(project, &bob, "editor").await;
    let alice_there = second.as_user(&alice);

    // Changes through both instances, both schedulers looking.
    let one = alice
        .create_task(project, json!({"title": "One", "assignee_id": bob.id}))
        .await;
    let two = alice_there
        .create_task(project, json!({"title": "Two", "assignee_id": bob.id}))
        .await;
    comment(&alice_there, one.id, "From the second instance").await;
    let mails = wait_for_mail(&smtp, &bob.email, 1).await;
    assert_eq!(sentences(&mails[0]).len(), 2, "{}", mails[0]["text"]);
    tokio::time::sleep(QUIET).await;
    let mails = mails_to(&smtp, &bob.email);
    assert_eq!(mails.len(), 1, "{}", shown(&mails));

    // The next window: one more email with only what came after the first.
    comment(&alice, two.id, "Later").await;
    comment(&alice_there, two.id, "Even later").await;
    let mails = wait_for_mail(&smtp, &bob.email, 2).await;
    assert_eq!(
        sentences(&mails[1]),
        [format!(
            "2 comments on #{} “Two” in Shared, from Test User.",
            two.number
        )]
    );
    tokio::time::sleep(QUIET).await;
    let mails = mails_to(&smtp, &bob.email);
    assert_eq!(mails.len(), 2, "{}", shown(&mails));
    // Every notification was taken by exactly one digest.
    let waiting: i64 = first
        .db
        .scalar(
            "SELECT count(*) FROM notifications WHERE digested_at IS NULL",
            &[],
        )
        .await;
    assert_eq!(waiting, 0);
    second.stop().await;
}

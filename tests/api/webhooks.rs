//! Webhooks (API.md §13) against real local receivers: signatures checked by the Standard
//! Webhooks library (and by the independent Python one), order, retries, `Retry-After`, 4xx,
//! disabling, rotation, ping and redelivery, and the SSRF rule at registration and at delivery.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::binary::{create_project, free_port, register_and_login, start_on, wait_status};
use crate::helpers::*;

/// What a receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn id(&self) -> &str {
        self.headers["webhook-id"].to_str().unwrap()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// How the receiver answers one request.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    RetryAfter(u16, u64),
}

#[derive(Default)]
struct Script {
    received: Vec<Received>,
    answers: VecDeque<Answer>,
    /// Answered once the script runs out.
    otherwise: Option<Answer>,
    /// How long each answer takes.
    delay: Duration,
}

/// A real HTTP receiver on a loopback port.
#[derive(Clone)]
struct Receiver {
    url: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let state = script.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let delay = state.lock().unwrap().delay;
                    tokio::time::sleep(delay).await;
                    let mut script = state.lock().unwrap();
                    script.received.push(Received { headers, body });
                    let answer = script
                        .answers
                        .pop_front()
                        .or(script.otherwise)
                        .unwrap_or(Answer::Status(204));
                    match answer {
                        Answer::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
                        Answer::RetryAfter(s, secs) => (
                            StatusCode::from_u16(s).unwrap(),
                            [("retry-after", secs.to_string())],
                        )
                            .into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, script }
    }

    fn slow(&self, delay: Duration) {
        self.script.lock().unwrap().delay = delay;
    }

    fn answer(&self, answers: &[Answer]) {
        self.script.lock().unwrap().answers.extend(answers);
    }

    fn otherwise(&self, answer: Answer) {
        self.script.lock().unwrap().otherwise = Some(answer);
    }

    fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// Waits (up to 20 s, generous for a loaded machine) until `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} of {n} requests",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn verifies(secret: &str, received: &Received) -> bool {
    let webhook = standardwebhooks::Webhook::new(secret).unwrap();
    webhook
        .verify(received.body.as_bytes(), &received.headers)
        .is_ok()
}

async fn private_app() -> TestApp {
    TestApp::build()
        .config(|args| args.webhook_allow_private = Some("true".into()))
        .spawn()
        .await
}

async fn register(
    client: &impl RequestHelper,
    project: Uuid,
    url: &str,
    events: Value,
) -> (Value, String) {
    let created: Value = client
        .post(
            &format!("/api/v1/projects/{project}/webhooks"),
            json!({ "url": url, "events": events }),
        )
        .await
        .created();
    let secret = created["secret"].as_str().unwrap().to_owned();
    (created, secret)
}

async fn deliveries(client: &impl RequestHelper, webhook: &str) -> Vec<Value> {
    let page: Value = client
        .get(&format!("/api/v1/webhooks/{webhook}/deliveries"))
        .await
        .good();
    page["items"].as_array().unwrap().clone()
}

/// The log once it has `n` rows (attempts commit with the worker's turn, after the answer).
async fn logged(client: &impl RequestHelper, webhook: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = deliveries(client, webhook).await;
        if log.len() >= n {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} attempts logged",
            log.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn committed_changes_arrive_signed_in_commit_order_and_are_logged() {
    let app = private_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Hooks").await;
    let receiver = Receiver::start().await;
    let (webhook, secret) = register(&alice, project.id, &receiver.url, json!(["*"])).await;
    assert!(secret.starts_with("whsec_"));
    assert_eq!(webhook["active"], true);

    for n in 0..5 {
        alice
            .create_task(project.id, json!({ "title": format!("task {n}") }))
            .await;
    }
    let received = receiver.wait_for(5).await;
    let ids: Vec<i64> = received
        .iter()
        .map(|r| r.id().strip_prefix("evt_").unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    for r in &received {
        assert!(verifies(&secret, r), "signature of {}", r.id());
        assert_eq!(r.headers["content-type"], "application/json");
        let body = r.json();
        assert_eq!(body["type"], "task.created");
        assert_eq!(body["data"]["project_id"], project.id.to_string());
        assert!(body["timestamp"].is_string());
    }
    assert!(!verifies(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        &received[0]
    ));

    // The secret is never shown again; the log says what happened.
    let id = webhook["id"].as_str().unwrap();
    let log = logged(&alice, id, 5).await;
    let got: Value = alice.get(&format!("/api/v1/webhooks/{id}")).await.good();
    assert!(got.get("secret").is_none());
    assert_eq!(got["last_status"], "delivered");
    assert_eq!(log.len(), 5);
    assert!(log
        .iter()
        .all(|d| d["status"] == "delivered" && d["response_status"] == 204));
    // Newest first.
    assert_eq!(log[0]["event_id"], format!("evt_{}", ids[4]));
}

/// The niceness in a thread's `/proc/…/stat`: field 19, counting the state after the name in
/// parentheses as field 3.
fn niceness(stat_file: &std::path::Path) -> i64 {
    let stat = std::fs::read_to_string(stat_file).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(16).unwrap().parse().unwrap()
}

/// The niceness of each of this process's threads named `name`.
fn niceness_of_threads(name: &str) -> Vec<i64> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .map(|task| niceness(&task.path().join("stat")))
        .collect()
}

#[tokio::test]
async fn deliveries_run_on_a_thread_of_their_own_below_the_requests_priority() {
    let app = private_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Niceness").await;
    let receiver = Receiver::start().await;
    register(&alice, project.id, &receiver.url, json!(["*"])).await;
    alice
        .create_task(
            project.id,
            json!({ "title": "sent from the low-priority thread" }),
        )
        .await;
    receiver.wait_for(1).await;

    // Under a shortage of CPU the kernel serves the requests first; the outbox keeps what waits.
    let requests = niceness(std::path::Path::new("/proc/thread-self/stat"));
    let deliveries = niceness_of_threads("docket-webhooks");
    assert!(!deliveries.is_empty(), "no deliveries thread");
    let expected = (requests + 10).min(19);
    assert!(
        deliveries.iter().all(|&nice| nice == expected),
        "{deliveries:?}, requests at {requests}"
    );
}

#[tokio::test]
async fn registration_checks_urls_events_and_who_asks() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Hooks").await;
    let path = format!("/api/v1/projects/{}/webhooks", project.id);
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest",
    ] {
        let problem = alice
            .post(&path, json!({ "url": url, "events": ["*"] }))
            .await
            .problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["code"], "private_address", "{url}");
    }
    for url in ["ftp://example.com/", "http://u:p@example.com/", "nope"] {
        alice
            .post(&path, json!({ "url": url, "events": ["*"] }))
            .await
            .invalid_field("url");
    }
    for events in [
        json!([]),
        json!(["task.exploded"]),
        json!(["*", "task.created"]),
    ] {
        alice
            .post(
                &path,
                json!({ "url": "https://example.com/h", "events": events }),
            )
            .await
            .invalid_field("events");
    }
    assert_eq!(
        app.db
            .scalar::<i64>("SELECT count(*) FROM webhooks", &[])
            .await,
        0
    );

    // Editors may not; strangers do not even learn that the project exists.
    let bob = app.new_client().await;
    alice.add_member(project.id, &bob, "editor").await;
    bob.post(
        &path,
        json!({ "url": "https://example.com/h", "events": ["*"] }),
    )
    .await
    .problem(403, "forbidden");
    let eve = app.new_client().await;
    eve.get(&path).await.problem(404, "not_found");
}

#[tokio::test]
async fn failures_are_retried_with_the_same_id_honouring_retry_after_and_4xx_is_final() {
    let app = private_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Hooks").await;
    let receiver = Receiver::start().await;
    receiver.answer(&[
        Answer::Status(500),
        Answer::RetryAfter(429, 1),
        Answer::Status(200),
        Answer::Status(400),
        Answer::Status(200),
    ]);
    let (webhook, secret) =
        register(&alice, project.id, &receiver.url, json!(["task.created"])).await;
    alice
        .create_task(project.id, json!({ "title": "one" }))
        .await;
    let first = receiver.wait_for(3).await;
    assert!(
        first.iter().all(|r| r.id() == first[0].id()),
        "one event, one id"
    );
    assert!(first.iter().all(|r| verifies(&secret, r)));
    alice
        .create_task(project.id, json!({ "title": "two" }))
        .await;
    alice
        .create_task(project.id, json!({ "title": "three" }))
        .await;
    let all = receiver.wait_for(5).await;
    // The 400 was not retried: the next event came right after it.
    assert_ne!(all[3].id(), all[4].id());
    assert_eq!(all[4].json()["type"], "task.created");

    let id = webhook["id"].as_str().unwrap();
    let log = logged(&alice, id, 5).await;
    let statuses: Vec<(i64, &str, i64)> = log
        .iter()
        .rev()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["status"].as_str().unwrap(),
                d["response_status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (1, "failed", 500),
            (2, "failed", 429),
            (3, "delivered", 200),
            (1, "failed", 400),
            (1, "delivered", 200)
        ]
    );
    // The 429's wait came from its Retry-After (1 s), not the schedule's 200 ms.
    let wait = |d: &Value| {
        let at = |k: &str| chrono::DateTime::parse_from_rfc3339(d[k].as_str().unwrap()).unwrap();
        at("next_attempt_at") - at("created_at")
    };
    assert!(
        wait(&log[3]) >= chrono::Duration::milliseconds(900),
        "{:?}",
        wait(&log[3])
    );
    assert!(wait(&log[4]) < chrono::Duration::milliseconds(900));
    assert!(log[1]["next_attempt_at"].is_null());
}

#[tokio::test]
async fn a_webhook_failing_long_enough_is_disabled_and_can_be_switched_on_again() {
    let mut tuning = fast_tuning();
    tuning.webhooks.disable_after = Duration::from_millis(500);
    let smtp = crate::email::SmtpServer::start().await;
    let smtp_url = smtp.url.clone();
    let app = TestApp::build()
        .config(move |args| {
            args.webhook_allow_private = Some("true".into());
            args.smtp_url = Some(smtp_url);
        })
        .tuning(tuning)
        .spawn()
        .await;
    let alice = app.new_client().await;
    let project = alice.create_project("Hooks").await;
    let (bob, carol) = (app.new_user().await, app.new_user().await);
    alice.add_member(project.id, &bob, "admin").await;
    alice.add_member(project.id, &carol, "editor").await;
    let receiver = Receiver::start().await;
    receiver.otherwise(Answer::Status(503));
    let (webhook, _) = register(&alice, project.id, &receiver.url, json!(["*"])).await;
    let id = webhook["id"].as_str().unwrap();
    alice
        .create_task(project.id, json!({ "title": "one" }))
        .await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let disabled = loop {
        let got: Value = alice.get(&format!("/api/v1/webhooks/{id}")).await.good();
        if got["active"] == false {
            break got;
        }
        assert!(Instant::now() < deadline, "never disabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(disabled["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("without a success"));
    assert_eq!(disabled["last_status"], "failed");
    // The owner and the admin are told by email, once each; the editor is not.
    let mails = smtp.wait_for(2).await;
    let mut told: Vec<String> = mails
        .iter()
        .map(|m| m["to"][0].as_str().unwrap().to_owned())
        .collect();
    told.sort();
    let mut admins = vec![alice.email.clone(), bob.email.clone()];
    admins.sort();
    assert_eq!(told, admins);
    assert!(mails[0]["subject"].as_str().unwrap().contains("Hooks"));
    let text = mails[0]["text"].as_str().unwrap();
    assert!(
        text.contains(&receiver.url) && text.contains(&format!("/p/{}/settings", project.id)),
        "{text}"
    );
    // And in the app (API.md §12 has only task notifications: this one is about the webhook).
    let (bob, carol) = (app.as_user(&bob), app.as_user(&carol));
    for admin in [&alice, &bob] {
        let notices = webhook_notices(admin).await;
        assert_eq!(notices.len(), 1, "{notices:?}");
        let notice = &notices[0];
        assert!(
            notice["task"].is_null() && notice["actor"].is_null(),
            "{notice}"
        );
        assert_eq!(notice["webhook"]["id"], id);
        assert_eq!(notice["webhook"]["project_id"], project.id.to_string());
        assert_eq!(notice["webhook"]["url"], receiver.url);
        assert_eq!(
            notice["webhook"]["disabled_reason"],
            disabled["disabled_reason"]
        );
    }
    assert!(webhook_notices(&carol).await.is_empty(), "not the editor");
    // Nothing more is sent while disabled.
    let sent = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.received().len(), sent);

    // Switched on again, it resumes with the event it stopped at.
    receiver.otherwise(Answer::Status(200));
    let on: Value = alice
        .patch(&format!("/api/v1/webhooks/{id}"), json!({ "active": true }))
        .await
        .good();
    assert!(on["disabled_reason"].is_null());
    let received = receiver.wait_for(sent + 1).await;
    assert_eq!(received[sent].id(), received[0].id());
    assert_eq!(smtp.received().len(), 2, "told once");
    // The notification shows the webhook as it is now.
    let notices = webhook_notices(&bob).await;
    assert_eq!(notices.len(), 1, "told once");
    assert!(notices[0]["webhook"]["disabled_reason"].is_null());
}

/// The user's `webhook_disabled` notifications.
async fn webhook_notices(user: &UserClient<'_>) -> Vec<Value> {
    let page: Page<Value> = user.get("/api/v1/me/notifications").await.good();
    page.items
        .into_iter()
        .filter(|n| n["kind"] == "webhook_disabled")
        .collect()
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_and_pings_and_redeliveries_go_out() {
    let app = private_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Hooks").await;
    let receiver = Receiver::start().await;
    let (webhook, old) = register(&alice, project.id, &receiver.url, json!(["*"])).await;
    let id = webhook["id"].as_str().unwrap();
    let rotated: Value = alice
        .post(&format!("/api/v1/webhooks/{id}/rotate-secret"), json!({}))
        .await
        .good();
    let new = rotated["secret"].as_str().unwrap();
    assert_ne!(new, old);

    let status = alice
        .post(&format!("/api/v1/webhooks/{id}/ping"), json!({}))
        .await
        .status();
    assert_eq!(status, 202);
    let ping = receiver.wait_for(1).await.remove(0);
    assert_eq!(ping.json()["type"], "webhook.ping");
    assert!(verifies(&old, &ping) && verifies(new, &ping));
    assert_eq!(
        ping.headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );

    let log = deliveries(&alice, id).await;
    let delivery = log[0]["id"].as_str().unwrap();
    let status = alice
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver"),
            json!({}),
        )
        .await
        .status();
    assert_eq!(status, 202);
    let again = receiver.wait_for(2).await.remove(1);
    assert_eq!(again.id(), ping.id());
    assert_eq!(again.body, ping.body);
    alice
        .post(
            &format!(
                "/api/v1/webhooks/{id}/deliveries/{}/redeliver",
                Uuid::now_v7()
            ),
            json!({}),
        )
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn private_addresses_are_refused_when_connecting() {
    // Registered where private addresses were allowed, delivered where they are not (as after
    // a DNS change): the address is checked at connect time, and nothing is sent.
    let first = private_app().await;
    let alice = first.new_client().await;
    let project = alice.create_project("Hooks").await;
    let receiver = Receiver::start().await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (literal, _) = register(&alice, project.id, &receiver.url, json!(["*"])).await;
    let (named, _) = register(&alice, project.id, &by_name, json!(["*"])).await;
    let database_url = first.database_url.clone();
    let token = alice.token.clone();
    first.stop().await;

    let app = TestApp::build().on(&database_url).spawn().await;
    let alice = app.with_token(&token);
    alice
        .post(&tasks_path(project.id), json!({ "title": "x" }))
        .await
        .created::<Value>();
    for webhook in [&literal, &named] {
        let id = webhook["id"].as_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let log = loop {
            let log = deliveries(&alice, id).await;
            if !log.is_empty() {
                break log;
            }
            assert!(Instant::now() < deadline, "no attempt recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(log[0]["status"], "failed");
        assert!(log[0]["next_attempt_at"].is_null(), "not retried");
        let error = log[0]["error"].as_str().unwrap();
        assert!(error.contains("may not reach"), "{error}");
    }
    assert!(receiver.received().is_empty());
}

/// The independent verifier: the `standardwebhooks` package from PyPI, in a receiver of its own.
#[tokio::test]
async fn the_python_standard_webhooks_library_accepts_the_signatures() {
    let python = crate::email::python();
    let app = private_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Hooks").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (webhook, secret) = register(
        &alice,
        project.id,
        &format!("http://127.0.0.1:{port}/hook"),
        json!(["*"]),
    )
    .await;
    let script = r#"
import http.server, sys
from standardwebhooks.webhooks import Webhook
hook = Webhook(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        try:
            hook.verify(body, dict(self.headers.items()))
            print("verified", self.headers["webhook-id"], flush=True)
            self.send_response(204)
        except Exception as e:
            print("refused", e, flush=True)
            self.send_response(400)
        self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
    let mut child = tokio::process::Command::new(python)
        .args(["-c", script, &port.to_string(), &secret])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Let it listen before anything is sent (a refused connection would be retried anyway).
    tokio::time::sleep(Duration::from_millis(500)).await;
    alice.create_task(project.id, json!({ "title": "x" })).await;
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().unwrap()));
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the Python receiver answered")
        .unwrap()
        .unwrap();
    assert!(line.starts_with("verified evt_"), "{line}");
    // The attempt is recorded when the worker's turn commits, just after the answer.
    let id = webhook["id"].as_str().unwrap();
    let log = logged(&alice, id, 1).await;
    assert_eq!(log[0]["status"], "delivered");
    child.kill().await.unwrap();
}

/// kill -9 in the middle of a burst of 500 changes, with slow receivers: after the restart every
/// committed change has been delivered to each webhook at least once, nothing that was not
/// committed was, and each webhook got its events for the first time in commit order.
#[tokio::test]
async fn kill_9_in_a_burst_loses_no_event_and_keeps_each_webhooks_order() {
    const CHANGES: usize = 500;
    let database_url = create_test_database().await;
    let port = free_port();
    let envs = [
        ("DATABASE_URL", database_url.as_str()),
        ("DOCKET_JWT_SECRET", JWT_SECRET),
        ("DOCKET_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("DOCKET_RATE_LIMIT_PER_MINUTE", "1000000"),
        ("DOCKET_WEBHOOK_ALLOW_PRIVATE", "true"),
    ];
    let server = start_on(port, &envs);
    let base = format!("http://127.0.0.1:{port}");
    wait_status(&format!("{base}/readyz"), 200, Duration::from_secs(60)).await;
    let client = reqwest::Client::new();
    let token = register_and_login(&base, &client).await;
    let project = create_project(&base, &client, &token, "Burst").await;
    let receivers = [Receiver::start().await, Receiver::start().await];
    for receiver in &receivers {
        receiver.slow(Duration::from_millis(3));
        let response = client
            .post(format!("{base}/api/v1/projects/{project}/webhooks"))
            .bearer_auth(&token)
            .json(&json!({ "url": receiver.url, "events": ["task.created"] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    // Eight writers; a write the kill interrupts is retried until the restarted server takes it.
    let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (client, base, token, project) =
                (client.clone(), base.clone(), token.clone(), project.clone());
            let written = written.clone();
            tokio::spawn(async move {
                for n in (w..CHANGES).step_by(8) {
                    loop {
                        let sent = client
                            .post(format!("{base}/api/v1/projects/{project}/tasks"))
                            .bearer_auth(&token)
                            .json(&json!({ "title": format!("change {n}") }))
                            .send()
                            .await;
                        if sent.is_ok_and(|r| r.status() == 201) {
                            written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect();
    while written.load(std::sync::atomic::Ordering::Relaxed) < CHANGES / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.signal(libc::SIGKILL);
    drop(server);
    let _restarted = start_on(port, &envs);
    for writer in writers {
        writer.await.unwrap();
    }

    // Every task in the database (what committed) reaches both receivers; nothing else does.
    let db = connect_db(&database_url).await;
    let committed: std::collections::BTreeSet<String> = db
        .rows(
            "SELECT id::text FROM tasks WHERE project_id = $1::text::uuid",
            &[&project],
        )
        .await
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect();
    assert!(committed.len() >= CHANGES, "{} tasks", committed.len());
    for receiver in &receivers {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let delivered: std::collections::BTreeSet<String> = receiver
                .received()
                .iter()
                .map(|r| r.json()["data"]["task_id"].as_str().unwrap().to_owned())
                .collect();
            if delivered == committed {
                break;
            }
            assert!(
                delivered.is_subset(&committed),
                "an uncommitted change was delivered"
            );
            assert!(
                Instant::now() < deadline,
                "{} of {} delivered",
                delivered.len(),
                committed.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // First deliveries in increasing event id (= commit order); repeats are redeliveries.
        let mut seen = std::collections::HashSet::new();
        let mut last = 0i64;
        for r in receiver.received() {
            let id: i64 = r.id().strip_prefix("evt_").unwrap().parse().unwrap();
            if seen.insert(id) {
                assert!(id > last, "event {id} came first after {last}");
                last = id;
            }
        }
        eprintln!(
            "{} requests for {} events: {} sent again after the kill",
            receiver.received().len(),
            seen.len(),
            receiver.received().len() - seen.len()
        );
    }
}

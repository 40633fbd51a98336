//! API.md §9 "Work is linear in what was sent": every operation of the OpenAPI document that
//! takes a body is sent the worst bodies of the maximum size, and every one that takes a query
//! the same shapes as its query string (as large as a URI can be: 64 KiB). Each is answered within a bound that only a linear
//! implementation meets (the quadratic loop this replaced took ~8 s of a release build for
//! 16,000 unknown members, far longer in a debug one), while a parallel loop of `/healthz`
//! requests keeps being answered. The bounds are generous, for a debug build on a loaded
//! machine; `bench/hostile.sh` prints the real figures of a release build.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// The slowest any hostile request may be answered (a debug build, two loaded cores).
const ANSWER_BOUND: Duration = Duration::from_secs(3);
/// The longest `/healthz` may wait meanwhile.
const HEALTHZ_BOUND: Duration = Duration::from_secs(2);
/// Just under the body limit of 256 KiB.
const MAX_BODY: usize = 255 * 1024;

/// What a shape must get: refused as a malformed or invalid body, or merely answered (a long
/// string where the contract sets no length limit may be accepted: a refresh token to revoke
/// is answered 200 whatever it is, as RFC 7009 says).
#[derive(Clone, Copy, Debug)]
enum Expect {
    Refused,
    Answered,
}

struct Shape {
    name: String,
    body: Vec<u8>,
    expect: Expect,
}

/// The members an operation's body documents, and which of them are arrays.
fn documented_members(doc: &Value, operation: &Value) -> Vec<(String, bool)> {
    let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    };
    let variants: Vec<&Value> = match schema["oneOf"].as_array() {
        Some(variants) => variants.iter().collect(),
        None => vec![schema],
    };
    let mut members: Vec<(String, bool)> = Vec::new();
    for variant in variants {
        for (name, property) in variant["properties"].as_object().into_iter().flatten() {
            let array = property["type"] == "array"
                || property["type"]
                    .as_array()
                    .is_some_and(|types| types.contains(&json!("array")))
                || property.get("items").is_some();
            if !members.iter().any(|(known, _)| known == name) {
                members.push((name.clone(), array));
            }
        }
    }
    members
}

/// Three-character member names: ~32,000 of them fill 256 KiB.
fn short_name(i: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    [i / 1296 % 36, i / 36 % 36, i % 36]
        .iter()
        .map(|&d| DIGITS[d] as char)
        .collect()
}

/// Members written one after another (a JSON object may repeat a name), as many as fit.
fn object_of(mut member: impl FnMut(usize) -> String, count: usize) -> Vec<u8> {
    let mut body = String::from("{");
    for i in 0..count {
        let next = member(i);
        if body.len() + next.len() + 2 > MAX_BODY {
            break;
        }
        if i > 0 {
            body.push(',');
        }
        body.push_str(&next);
    }
    body.push('}');
    body.into_bytes()
}

fn body_shapes(members: &[(String, bool)]) -> Vec<Shape> {
    let refused = |name: &str, body: Vec<u8>| Shape {
        name: name.to_owned(),
        body,
        expect: Expect::Refused,
    };
    let first = members.first().map_or("x", |(name, _)| name.as_str());
    let long = "a".repeat(250 * 1024);
    let mut shapes = vec![
        refused(
            "30,000 unknown members",
            object_of(|i| format!("\"{}\":0", short_name(i)), 30_000),
        ),
        refused(
            "the documented members over and over, each of a wrong type",
            object_of(
                |i| format!("\"{}\":{{}}", members[i % members.len()].0),
                30_000,
            ),
        ),
        refused(
            "nesting 125,000 deep",
            format!(
                "{{\"{first}\":{}{}}}",
                "[".repeat(125_000),
                "]".repeat(125_000)
            )
            .into_bytes(),
        ),
        // Just under serde_json's depth limit: parsed, copied and dropped.
        refused(
            "nesting 120 deep",
            format!("{{\"{first}\":{}{}}}", "[".repeat(120), "]".repeat(120)).into_bytes(),
        ),
        refused(
            "one 250 KiB member name",
            format!("{{\"{long}\":0}}").into_bytes(),
        ),
    ];
    let arrays: Vec<&str> = members
        .iter()
        .filter(|(_, array)| *array)
        .map(|(name, _)| name.as_str())
        .collect();
    for name in if arrays.is_empty() {
        vec![first]
    } else {
        arrays
    } {
        let items = vec!["\"\""; 60_000].join(",");
        shapes.push(refused(
            &format!("an array of 60,000 items in {name}"),
            format!("{{\"{name}\":[{items}]}}").into_bytes(),
        ));
    }
    for (name, _) in members {
        shapes.push(Shape {
            name: format!("one 250 KiB string in {name}"),
            body: format!("{{\"{name}\":\"{long}\"}}").into_bytes(),
            expect: Expect::Answered,
        });
    }
    shapes
}

/// A query string is bounded by the URI, which the `http` crate (and so hyper) caps at 64 KiB;
/// these fill most of it.
const MAX_QUERY: usize = 60 * 1024;

fn query_shapes(parameters: &[String]) -> Vec<(String, String)> {
    let first = &parameters[0];
    let repeat = |part: &str, separator: &str| {
        let count = MAX_QUERY / (part.len() + separator.len());
        (count, vec![part; count].join(separator))
    };
    let (unknown, unknown_query) = {
        let names: Vec<String> = (0..MAX_QUERY / 6)
            .map(|i| format!("{}=0", short_name(i)))
            .collect();
        (names.len(), names.join("&"))
    };
    let (given, given_query) = repeat(&format!("{first}=x"), "&");
    let (items, list) = repeat("a", ",");
    let mut shapes = vec![
        (format!("{unknown} unknown parameters"), unknown_query),
        (format!("{first} given {given} times"), given_query),
        (
            format!("{first} nested 10,000 deep"),
            format!("{first}={}{}", "%5B".repeat(10_000), "%5D".repeat(10_000)),
        ),
        (
            format!("a list of {items} items in {first}"),
            format!("{first}={list}"),
        ),
    ];
    for parameter in parameters {
        shapes.push((
            format!("one 60 KiB value in {parameter}"),
            format!("{parameter}={}", "a".repeat(MAX_QUERY)),
        ));
    }
    shapes
}

/// Polls `/healthz` until told to stop; returns the longest wait.
fn watch_health(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Duration> {
    let url = app.url("/healthz");
    let client = app.client.clone();
    tokio::spawn(async move {
        let mut longest = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            let start = Instant::now();
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            longest = longest.max(start.elapsed());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        longest
    })
}

/// One request of the flood, with its expectation.
struct Hostile {
    what: String,
    method: Method,
    path: String,
    query: Option<String>,
    body: Option<Vec<u8>>,
    expect: Expect,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_the_worst_bodies_and_queries_in_linear_time() {
    let app = TestApp::build()
        .config(|args| args.rate_limit_per_minute = Some("1000000".into()))
        .spawn()
        .await;
    let alice = app.new_client().await;
    let bob = app.new_user().await;
    let project = alice.create_project("Hostile").await;
    alice.add_member(project.id, &bob, "editor").await;
    let task = alice.create_task(project.id, json!({"title": "t"})).await;
    let comment: Comment = alice
        .post(&comments_path(task.id), json!({"body": "c"}))
        .await
        .created();
    let task: Task = alice.get(&task_path(task.id)).await.good();
    // A documentation address (TEST-NET-3): public, so registration takes it without DNS.
    let webhook: Value = alice
        .post(
            &format!("/api/v1/projects/{}/webhooks", project.id),
            json!({"url": "https://203.0.113.10/hook", "events": ["comment.deleted"]}),
        )
        .await
        .created();
    // Raw bodies (attachments) are stored, so they go to a task of their own.
    let files = alice
        .create_task(project.id, json!({"title": "files"}))
        .await;
    let concrete = |path: &str| {
        let id = match path.split('/').nth(3) {
            Some("projects") => project.id.to_string(),
            Some("tasks") => task.id.to_string(),
            Some("comments") => comment.id.to_string(),
            Some("webhooks") => webhook["id"].as_str().unwrap().to_owned(),
            _ => bob.id.to_string(),
        };
        path.replace("{id}", &id)
            .replace("{user_id}", &bob.id.to_string())
    };

    let doc = serde_json::to_value(docket::server::openapi::document()).unwrap();
    let mut flood = Vec::new();
    let mut with_body = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // A file: an upload (never parsed, only hashed and sniffed), or an import (a CSV, or
            // a JSON file whose members the document cannot list).
            let raw = operation["requestBody"]["content"]
                .as_object()
                .is_some_and(|content| {
                    !content.contains_key("application/json") || content.contains_key("text/csv")
                });
            if raw {
                // The JSON parser's worst case (nesting) must cost it nothing more than any
                // bytes.
                with_body += 1;
                flood.push(Hostile {
                    what: format!("{method} {path}: 255 KiB of '['"),
                    method: method.clone(),
                    path: path.replace("{id}", &files.id.to_string()),
                    query: Some("name=hostile.bin".into()),
                    body: Some(vec![b'['; MAX_BODY]),
                    expect: Expect::Answered,
                });
            } else if operation.get("requestBody").is_some() {
                with_body += 1;
                let members = documented_members(&doc, operation);
                assert!(!members.is_empty(), "{method} {path} documents no member");
                for shape in body_shapes(&members) {
                    assert!(shape.body.len() < 256 * 1024, "{}", shape.name);
                    flood.push(Hostile {
                        what: format!("{method} {path}: {}", shape.name),
                        method: method.clone(),
                        path: concrete(path),
                        query: None,
                        body: Some(shape.body),
                        expect: shape.expect,
                    });
                }
            }
            let parameters: Vec<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|parameter| parameter["in"] == "query")
                .map(|parameter| parameter["name"].as_str().unwrap().to_owned())
                .collect();
            if !parameters.is_empty() {
                for (name, query) in query_shapes(&parameters) {
                    flood.push(Hostile {
                        what: format!("{method} {path}?: {name}"),
                        method: method.clone(),
                        path: concrete(path),
                        query: Some(query),
                        body: None,
                        expect: Expect::Answered,
                    });
                }
            }
        }
    }
    // The document has the operations this test is about (a broken walk would pass vacuously).
    assert!(with_body >= 15, "{with_body} operations take a body");
    assert!(flood.len() > 100, "{} requests", flood.len());

    let count = flood.len();
    let stop = Arc::new(AtomicBool::new(false));
    let health = watch_health(&app, stop.clone());
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let slowest = Arc::new(Mutex::new((Duration::ZERO, String::new())));
    // Two at a time: two such requests used to occupy both cores.
    futures::stream::iter(flood)
        .for_each_concurrent(2, |hostile| {
            let (app, token, failures, slowest) = (&app, &alice.token, &failures, &slowest);
            async move {
                let mut url = app.url(&hostile.path);
                if let Some(query) = &hostile.query {
                    url = format!("{url}?{query}");
                }
                let mut request = app
                    .client
                    .request(hostile.method.clone(), url)
                    .bearer_auth(token)
                    .header("x-forwarded-for", random_ip())
                    .timeout(Duration::from_secs(60));
                if let Some(body) = hostile.body {
                    request = request
                        .header("content-type", "application/json")
                        .body(body);
                }
                let start = Instant::now();
                let response = request
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{}: {}", hostile.what, e.without_url()));
                let status = response.status().as_u16();
                // An event stream that was accepted never ends: its headers are the answer.
                let text = if status < 300 {
                    String::new()
                } else {
                    response
                        .text()
                        .await
                        .unwrap_or_else(|e| panic!("{}: {}", hostile.what, e.without_url()))
                };
                let elapsed = start.elapsed();
                let problem: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let code = problem["code"].as_str().unwrap_or("");
                let ok = match hostile.expect {
                    Expect::Refused => {
                        matches!(
                            (status, code),
                            (400, "malformed_json") | (422, "validation_failed")
                        ) && problem["errors"]
                            .as_array()
                            .is_none_or(|errors| errors.len() <= 20)
                    }
                    Expect::Answered => status < 500 && status != 429,
                };
                let mut failures = failures.lock().unwrap();
                if !ok {
                    failures.push(format!("{}: {status} {code}", hostile.what));
                }
                if elapsed > ANSWER_BOUND {
                    failures.push(format!("{}: answered in {elapsed:?}", hostile.what));
                }
                let mut slowest = slowest.lock().unwrap();
                if elapsed > slowest.0 {
                    *slowest = (elapsed, hostile.what);
                }
            }
        })
        .await;
    stop.store(true, Ordering::Relaxed);
    let longest_health_wait = health.await.unwrap();

    let failures = std::mem::take(&mut *failures.lock().unwrap());
    assert!(failures.is_empty(), "{failures:#?}");
    let (slowest, what) = slowest.lock().unwrap().clone();
    eprintln!(
        "{count} requests; slowest: {what} in {slowest:?}; /healthz waited at most {longest_health_wait:?}"
    );
    assert!(
        longest_health_wait < HEALTHZ_BOUND,
        "/healthz waited {longest_health_wait:?}"
    );
    // The flood changed nothing.
    let same: Task = alice.get(&task_path(task.id)).await.good();
    assert_eq!(same, task);
}

//! GitHub issues import and sync (API.md §5 and the GitHub bullets of §8), black-box: the real
//! server against a fake GitHub — a real local HTTP server that plays the REST API's issue list
//! with opaque-cursor pagination, ETags, `since`, errors and rate limits on cue, and records
//! every request it gets.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LINK};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::IntoResponse;
use base64::Engine;
use chrono::{DateTime, Utc};
use docket::config::ConfigArgs;
use docket::server::Tuning;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use uuid::Uuid;

use crate::helpers::*;

// ---------------------------------------------------------------------------------------------
// The fake GitHub
// ---------------------------------------------------------------------------------------------

/// Issues per page: small, so that a handful of issues spans several pages.
const PAGE_SIZE: usize = 2;
const TOKEN: &str = "ghp_linkToken0123456789abcdef";
/// The fake answers 401 to this token.
const REFUSED_TOKEN: &str = "ghp_refusedToken000000000000";
/// A repository whose issues are disabled (410).
const DISABLED_REPO: &str = "octo/no-issues";
/// A repository the fake does not know (404).
const MISSING_REPO: &str = "octo/missing";

/// One request the fake received.
#[derive(Clone, Debug)]
struct Recorded {
    at: Instant,
    wall: SystemTime,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    /// The repository it was about, when the fake knows it (`/repositories/{id}` included).
    repo: Option<String>,
    /// The status answered (0 while the answer is pending).
    status: u16,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response injected for the next request, whatever it asks for.
enum Scripted {
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    /// Answer normally, but only after this long.
    Slow(Duration),
    /// A body sent as given, bytes and headers (a gzip bomb, say).
    Raw {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
}

impl Scripted {
    fn status(status: u16) -> Self {
        Scripted::Respond {
            status,
            headers: vec![],
            body: json!({"message": "Server Error"}),
        }
    }

    fn retry_after(seconds: u64) -> Self {
        Scripted::Respond {
            status: 429,
            headers: vec![("retry-after", seconds.to_string())],
            body: json!({"message": "You have exceeded a secondary rate limit."}),
        }
    }

    /// The primary rate limit, used up until `reset` (UNIX seconds).
    fn exhausted_until(reset: u64) -> Self {
        Scripted::Respond {
            status: 403,
            headers: vec![
                ("x-ratelimit-limit", "5000".to_owned()),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-used", "5000".to_owned()),
                ("x-ratelimit-reset", reset.to_string()),
            ],
            body: json!({"message": "API rate limit exceeded for user ID 1."}),
        }
    }

    /// A 403 that is a permission problem, not a rate limit.
    fn no_permission() -> Self {
        Scripted::Respond {
            status: 403,
            headers: vec![
                ("x-ratelimit-limit", "5000".to_owned()),
                ("x-ratelimit-remaining", "4990".to_owned()),
                ("x-ratelimit-reset", (unix_now() + 3600).to_string()),
            ],
            body: json!({
                "message": "Resource not accessible by personal access token",
                "documentation_url": "https://docs.github.com/rest/issues/issues#list-repository-issues",
            }),
        }
    }
}

struct FakeRepo {
    id: u64,
    issues: Vec<Value>,
}

#[derive(Default)]
struct FakeState {
    repos: BTreeMap<String, FakeRepo>,
    script: VecDeque<Scripted>,
    requests: Vec<Recorded>,
    /// When set, a first page's `next` link points at this origin instead of the fake's own.
    foreign_next: Option<String>,
}

struct FakeInner {
    base: String,
    state: Mutex<FakeState>,
    /// While true, requests wait before being answered.
    paused: watch::Sender<bool>,
}

#[derive(Clone)]
struct FakeGithub {
    url: String,
    inner: Arc<FakeInner>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl FakeGithub {
    async fn start() -> Self {
        Self::start_on("127.0.0.1").await
    }

    /// On another loopback address, for a host of its own (circuit breakers and metrics are
    /// per host).
    async fn start_on(ip: &str) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(FakeInner {
            base: url.clone(),
            state: Mutex::new(FakeState::default()),
            paused: watch::channel(false).0,
        });
        let router = axum::Router::new()
            .fallback(serve_fake)
            .with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeGithub { url, inner }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.inner.state.lock().unwrap()
    }

    fn set_issues(&self, repo: &str, issues: Vec<Value>) {
        let mut state = self.state();
        let id = 500_000 + state.repos.len() as u64 * 17;
        state
            .repos
            .entry(repo.to_owned())
            .or_insert(FakeRepo { id, issues: vec![] })
            .issues = issues;
    }

    /// Replaces the issue with the same id, or adds it.
    fn put_issue(&self, repo: &str, issue: Value) {
        let mut state = self.state();
        let issues = &mut state.repos.get_mut(repo).unwrap().issues;
        match issues.iter_mut().find(|i| i["id"] == issue["id"]) {
            Some(existing) => *existing = issue,
            None => issues.push(issue),
        }
    }

    fn script(&self, responses: impl IntoIterator<Item = Scripted>) {
        self.state().script.extend(responses);
    }

    fn clear_script(&self) {
        self.state().script.clear();
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    fn requests_for(&self, repo: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.repo.as_deref() == Some(repo))
            .collect()
    }

    fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    fn pause(&self) {
        self.inner.paused.send_replace(true);
    }

    fn resume(&self) {
        self.inner.paused.send_replace(false);
    }

    /// Waits until the fake has received at least `n` requests in all.
    async fn wait_for_requests(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.request_count() < n {
            assert!(
                Instant::now() < deadline,
                "the fake got {} requests, not {n}",
                self.request_count()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

enum Target {
    Name(String),
    Id(u64),
}

/// `{prefix}/repos/{owner}/{repo}/issues` or `{prefix}/repositories/{id}/issues`.
fn parse_path(path: &str) -> Option<(String, Target)> {
    if let Some(at) = path.find("/repos/") {
        let parts: Vec<&str> = path[at + "/repos/".len()..].split('/').collect();
        if let [owner, repo, "issues"] = parts[..] {
            return Some((
                path[..at].to_owned(),
                Target::Name(format!("{owner}/{repo}")),
            ));
        }
    }
    if let Some(at) = path.find("/repositories/") {
        let parts: Vec<&str> = path[at + "/repositories/".len()..].split('/').collect();
        if let [id, "issues"] = parts[..] {
            return Some((path[..at].to_owned(), Target::Id(id.parse().ok()?)));
        }
    }
    None
}

fn resolve<'a>(state: &'a FakeState, target: &Target) -> Option<(&'a String, &'a FakeRepo)> {
    match target {
        // GitHub's owner and repository names are case-insensitive.
        Target::Name(name) => state
            .repos
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name)),
        Target::Id(id) => state.repos.iter().find(|(_, repo)| repo.id == *id),
    }
}

fn github_error(status: StatusCode, message: &str) -> axum::response::Response {
    (
        status,
        axum::Json(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.as_u16().to_string(),
        })),
    )
        .into_response()
}

async fn serve_fake(
    State(fake): State<Arc<FakeInner>>,
    uri: Uri,
    headers: HeaderMap,
) -> axum::response::Response {
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let index = {
        let mut state = fake.state.lock().unwrap();
        // The repository as the fake knows it (also for `/repositories/{id}` and any case).
        let repo = parse_path(&path).and_then(|(_, target)| {
            let known = resolve(&state, &target).map(|(name, _)| name.clone());
            match target {
                Target::Name(name) => known.or(Some(name)),
                Target::Id(_) => known,
            }
        });
        state.requests.push(Recorded {
            at: Instant::now(),
            wall: SystemTime::now(),
            path: path.clone(),
            query: query.clone(),
            headers: headers.clone(),
            repo,
            status: 0,
        });
        state.requests.len() - 1
    };
    let mut paused = fake.paused.subscribe();
    let _ = paused.wait_for(|paused| !*paused).await;
    let scripted = fake.state.lock().unwrap().script.pop_front();
    let response = match scripted {
        Some(Scripted::Respond {
            status,
            headers: extra,
            body,
        }) => {
            let mut response =
                (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            for (name, value) in extra {
                response.headers_mut().insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&value).unwrap(),
                );
            }
            response
        }
        Some(Scripted::Raw {
            status,
            headers: extra,
            body,
        }) => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (name, value) in extra {
                response.headers_mut().insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_str(&value).unwrap(),
                );
            }
            response
        }
        Some(Scripted::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            issues_response(&fake, &path, &query, &headers)
        }
        None => issues_response(&fake, &path, &query, &headers),
    };
    fake.state.lock().unwrap().requests[index].status = response.status().as_u16();
    response
}

/// `GET .../issues` as GitHub answers it.
fn issues_response(
    fake: &FakeInner,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> axum::response::Response {
    if headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {REFUSED_TOKEN}"))
    {
        return github_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let Some((prefix, target)) = parse_path(path) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if matches!(&target, Target::Name(name) if name.eq_ignore_ascii_case(DISABLED_REPO)) {
        return github_error(StatusCode::GONE, "Issues are disabled for this repo");
    }
    let state = fake.state.lock().unwrap();
    let Some((_, repo)) = resolve(&state, &target) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // A first page reads its filters from the query; later pages from the opaque cursor.
    let (wanted_state, since, offset) = match &target {
        Target::Name(_) => (
            param("state").unwrap_or_else(|| "open".to_owned()),
            param("since"),
            0,
        ),
        Target::Id(_) => {
            let cursor = param("after")
                .and_then(|after| base64::engine::general_purpose::STANDARD.decode(after).ok())
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
            let Some(cursor) = cursor else {
                return github_error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid cursor");
            };
            (
                cursor["state"].as_str().unwrap().to_owned(),
                cursor["since"].as_str().map(str::to_owned),
                cursor["offset"].as_u64().unwrap() as usize,
            )
        }
    };
    let since = match since.as_deref().map(DateTime::parse_from_rfc3339) {
        None => None,
        Some(Ok(since)) => Some(since.with_timezone(&Utc)),
        Some(Err(_)) => return github_error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid since"),
    };
    let updated_at = |issue: &Value| {
        issue["updated_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
    };
    let mut matching: Vec<&Value> = repo
        .issues
        .iter()
        .filter(|issue| wanted_state == "all" || issue["state"] == wanted_state.as_str())
        .filter(|issue| since.is_none_or(|since| updated_at(issue) >= since))
        .collect();
    matching.sort_by_key(|issue| (updated_at(issue), issue["id"].as_i64().unwrap()));
    let page: Vec<&Value> = matching
        .iter()
        .skip(offset)
        .take(PAGE_SIZE)
        .copied()
        .collect();
    let body = serde_json::to_string(&page).unwrap();
    let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(body.as_bytes())));

    let mut response = if headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = (StatusCode::OK, body).into_response();
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if offset + PAGE_SIZE < matching.len() {
            let cursor = json!({"state": wanted_state, "since": param("since").or_else(|| {
                since.map(|s| s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }), "offset": offset + PAGE_SIZE});
            let cursor = base64::engine::general_purpose::STANDARD.encode(cursor.to_string());
            let after: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
            let origin = match (&state.foreign_next, offset) {
                (Some(foreign), 0) => foreign.clone(),
                _ => fake.base.clone(),
            };
            let id = repo.id;
            let next = format!(
                "{origin}{prefix}/repositories/{id}/issues?per_page={PAGE_SIZE}&after={after}"
            );
            // A decoy `last` link with a page number: a client must follow `next` only.
            let last = format!(
                "{}{prefix}/repositories/{id}/issues?per_page={PAGE_SIZE}&page=99",
                fake.base
            );
            response.headers_mut().insert(
                LINK,
                HeaderValue::from_str(&format!(r#"<{next}>; rel="next", <{last}>; rel="last""#))
                    .unwrap(),
            );
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(ETAG, HeaderValue::from_str(&etag).unwrap());
    for (name, value) in [
        ("x-ratelimit-limit", "5000".to_owned()),
        ("x-ratelimit-remaining", "4999".to_owned()),
        ("x-ratelimit-used", "1".to_owned()),
        ("x-ratelimit-reset", (unix_now() + 3600).to_string()),
        ("x-ratelimit-resource", "core".to_owned()),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

/// An open issue shaped like GitHub's, updated on January `number` (so `number` ≤ 28).
fn issue(repo: &str, number: i64, title: &str) -> Value {
    let repo_salt: i64 = repo.bytes().map(i64::from).sum();
    json!({
        "id": repo_salt * 100_000 + number * 7,
        "node_id": format!("I_kwDO{number}"),
        "url": format!("https://api.github.com/repos/{repo}/issues/{number}"),
        "html_url": format!("https://github.com/{repo}/issues/{number}"),
        "number": number,
        "title": title,
        "body": format!("Body of issue {number}"),
        "user": {"login": "octocat", "id": 1},
        "state": "open",
        "state_reason": null,
        "labels": [],
        "locked": false,
        "comments": 0,
        "created_at": format!("2024-01-{number:02}T08:00:00Z"),
        "updated_at": format!("2024-01-{number:02}T12:00:00Z"),
        "closed_at": null,
    })
}

fn closed(mut issue: Value, reason: Option<&str>) -> Value {
    let closed_at = issue["updated_at"].clone();
    issue["state"] = json!("closed");
    issue["state_reason"] = json!(reason);
    issue["closed_at"] = closed_at;
    issue
}

fn labelled(mut issue: Value, labels: &[&str]) -> Value {
    issue["labels"] = labels
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"id": i, "name": name, "color": "ededed"}))
        .collect();
    issue
}

fn pull_request(repo: &str, number: i64) -> Value {
    let mut pr = issue(repo, number, "A pull request, not an issue");
    pr["pull_request"] = json!({
        "url": format!("https://api.github.com/repos/{repo}/pulls/{number}"),
        "html_url": format!("https://github.com/{repo}/pull/{number}"),
    });
    pr
}

/// A few plain open issues.
fn plain_issues(repo: &str, count: i64) -> Vec<Value> {
    (1..=count)
        .map(|n| issue(repo, n, &format!("Issue {n}")))
        .collect()
}

/// A port on which nothing listens.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------------------------
// The server under test, and its API
// ---------------------------------------------------------------------------------------------

/// A server whose GitHub is at `api_url`.
async fn app_at(api_url: &str, tuning: Tuning, customize: impl FnOnce(&mut ConfigArgs)) -> TestApp {
    let database_url = create_test_database().await;
    app_on(&database_url, api_url, tuning, customize).await
}

async fn app_on(
    database_url: &str,
    api_url: &str,
    tuning: Tuning,
    customize: impl FnOnce(&mut ConfigArgs),
) -> TestApp {
    let api_url = api_url.to_owned();
    TestApp::build()
        .on(database_url)
        .config(move |args| {
            args.github_api_url = Some(api_url);
            // Tests poll the link often; the per-principal limit is not under test here.
            args.rate_limit_per_minute = Some("100000".to_owned());
            customize(args);
        })
        .tuning(tuning)
        .spawn()
        .await
}

async fn app_for(fake: &FakeGithub) -> TestApp {
    app_at(&fake.url, fast_tuning(), |_| {}).await
}

fn link_path(project: &str) -> String {
    format!("/api/v1/projects/{project}/github")
}

fn sync_path(project: &str) -> String {
    format!("/api/v1/projects/{project}/github/sync")
}

async fn new_project(user: &UserClient<'_>) -> String {
    user.create_project(&format!("GitHub {}", Uuid::now_v7()))
        .await
        .id
        .to_string()
}

async fn put_link(user: &UserClient<'_>, project: &str, body: Value) -> TestResponse {
    user.put(&link_path(project), &body).await
}

/// Links `repo` (201) and returns the link.
async fn link(user: &UserClient<'_>, project: &str, repo: &str, token: Option<&str>) -> Value {
    let body = match token {
        Some(token) => json!({"repository": repo, "token": token}),
        None => json!({"repository": repo}),
    };
    put_link(user, project, body).await.created::<Value>()
}

async fn get_link(user: &UserClient<'_>, project: &str) -> Value {
    user.get(&link_path(project)).await.good::<Value>()
}

/// Polls the link until `done` holds (10 s at most).
async fn wait_for_link(
    user: &UserClient<'_>,
    project: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let link = get_link(user, project).await;
        if done(&link) {
            return link;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the link to be {what}: {link}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_link_state(user: &UserClient<'_>, project: &str, state: &str) -> Value {
    wait_for_link(user, project, state, |link| link["state"] == state).await
}

/// Sync jobs of the project that are queued or running.
async fn active_jobs(app: &TestApp, project: &str) -> i64 {
    app.db
        .scalar(
            "SELECT count(*) FROM jobs WHERE payload->>'project_id' = $1 \
         AND state IN ('queued', 'running')",
            &[&project],
        )
        .await
}

/// The project's sync jobs, oldest first: (state, attempts).
async fn jobs_of(app: &TestApp, project: &str) -> Vec<(String, i32)> {
    app.db
        .rows(
            "SELECT state, attempts FROM jobs WHERE payload->>'project_id' = $1 ORDER BY created_at, id",
            &[&project],
        )
        .await
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// The project's sync jobs once none is queued or running (the link's state is written before
/// the job's outcome).
async fn finished_jobs(app: &TestApp, project: &str) -> Vec<(String, i32)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while active_jobs(app, project).await > 0 {
        assert!(Instant::now() < deadline, "the sync did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    jobs_of(app, project).await
}

/// Waits until no sync of the project is queued or running and the link is idle or failed.
async fn wait_until_settled(user: &UserClient<'_>, project: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let link = get_link(user, project).await;
        if (link["state"] == "idle" || link["state"] == "failed")
            && active_jobs(user.app(), project).await == 0
        {
            return link;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the sync to finish: {link}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POST .../github/sync (202), then waits for the sync to finish.
async fn sync_now(user: &UserClient<'_>, project: &str) -> Value {
    user.post(&sync_path(project), json!({}))
        .await
        .expect::<Value>(202);
    wait_until_settled(user, project).await
}

/// Every task of the project.
async fn tasks_of(user: &UserClient<'_>, project: &str) -> Vec<Value> {
    let mut tasks = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/projects/{project}/tasks?limit=100");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = user.get(&path).await.good::<Value>();
        tasks.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return tasks,
        }
    }
}

/// Imported tasks by issue number; panics on a duplicate.
fn by_issue_number(tasks: &[Value]) -> BTreeMap<i64, Value> {
    let mut map = BTreeMap::new();
    for task in tasks {
        if let Some(number) = task["source"]["number"].as_i64() {
            assert!(
                map.insert(number, task.clone()).is_none(),
                "two tasks for issue {number}: {tasks:?}"
            );
        }
    }
    map
}

fn labels_of(task: &Value) -> Vec<&str> {
    task["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// First import
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_first_import_maps_every_issue_across_pages_and_skips_pull_requests() {
    let fake = FakeGithub::start().await;
    let repo = "octo/hello";
    let mut long_title = issue(repo, 5, &"é".repeat(250));
    long_title["body"] = Value::Null;
    let mut long_body = closed(issue(repo, 6, "Closed without a reason"), None);
    long_body["body"] = json!("ü".repeat(25_000));
    let many_labels: Vec<String> = (0..25)
        .map(|i| format!("Label-{i:02}"))
        .chain(["A".repeat(60)])
        .collect();
    let many_labels: Vec<&str> = many_labels.iter().map(String::as_str).collect();
    let mut open = labelled(issue(repo, 1, "Open issue"), &["Bug", " UI ", "bug"]);
    open["body"] = json!("Steps to reproduce:\n1. open the app");
    fake.set_issues(
        repo,
        vec![
            open,
            closed(issue(repo, 2, "Fixed issue"), Some("completed")),
            closed(issue(repo, 3, "Will not do"), Some("not_planned")),
            pull_request(repo, 4),
            long_title,
            long_body,
            labelled(issue(repo, 7, "Many labels"), &many_labels),
        ],
    );
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;

    let created = link(&owner, &project, repo, Some(TOKEN)).await;
    let mut keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "imported_count",
            "last_error",
            "last_synced_at",
            "next_sync_at",
            "repository",
            "state"
        ]
    );
    assert_eq!(created["repository"], repo);

    let link = wait_for_link_state(&owner, &project, "idle").await;
    assert_eq!(link["imported_count"], 6, "{link}");
    assert_eq!(link["last_error"], Value::Null);
    let synced_at: DateTime<Utc> = link["last_synced_at"].as_str().unwrap().parse().unwrap();
    assert!((Utc::now() - synced_at).num_seconds().abs() < 60, "{link}");

    let tasks = tasks_of(&owner, &project).await;
    assert_eq!(tasks.len(), 6, "{tasks:?}");
    let tasks = by_issue_number(&tasks);
    assert_eq!(
        tasks.keys().copied().collect::<Vec<_>>(),
        [1, 2, 3, 5, 6, 7]
    );

    let open = &tasks[&1];
    assert_eq!(open["title"], "Open issue");
    assert_eq!(open["description"], "Steps to reproduce:\n1. open the app");
    assert_eq!(open["status"], "todo");
    assert_eq!(open["completed_at"], Value::Null);
    assert_eq!(labels_of(open), ["bug", "ui"]);
    assert_eq!(
        open["source"],
        json!({
            "kind": "github",
            "repository": repo,
            "number": 1,
            "url": "https://github.com/octo/hello/issues/1",
        })
    );
    assert_eq!(open["priority"], 0);
    assert_eq!(open["due_date"], Value::Null);
    assert_eq!(open["assignee_id"], Value::Null);

    assert_eq!(tasks[&2]["status"], "done");
    assert!(tasks[&2]["completed_at"].is_string(), "{}", tasks[&2]);
    assert_eq!(tasks[&3]["status"], "canceled");
    assert_eq!(tasks[&3]["completed_at"], Value::Null);
    assert_eq!(tasks[&6]["status"], "done");
    assert!(tasks[&6]["completed_at"].is_string(), "{}", tasks[&6]);
    assert_eq!(tasks[&6]["description"], "ü".repeat(20_000));

    let long = &tasks[&5];
    assert_eq!(
        long["title"].as_str().unwrap(),
        format!("{}…", "é".repeat(199))
    );
    assert_eq!(long["title"].as_str().unwrap().chars().count(), 200);
    assert_eq!(long["description"], "");

    let mut expected: Vec<String> = vec!["a".repeat(50)];
    expected.extend((0..19).map(|i| format!("label-{i:02}")));
    assert_eq!(labels_of(&tasks[&7]), expected);

    // How GitHub was asked: 7 items at 2 a page are 4 pages, each asked once.
    let requests = fake.requests();
    assert_eq!(requests.len(), 4, "{requests:#?}");
    for request in &requests {
        assert_eq!(request.status, 200, "{request:?}");
        assert_eq!(
            request.header("accept"),
            Some("application/vnd.github+json")
        );
        assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
        assert!(
            request
                .header("user-agent")
                .is_some_and(|ua| !ua.is_empty()),
            "{request:?}"
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(
            request.param("page"),
            None,
            "followed a page link: {request:?}"
        );
    }
    let first = &requests[0];
    assert_eq!(first.path, "/repos/octo/hello/issues");
    assert_eq!(first.param("state"), Some("all"));
    assert_eq!(first.param("since"), None);
    // The later pages are the `next` links, followed as given (opaque cursors).
    for request in &requests[1..] {
        assert!(request.path.starts_with("/repositories/"), "{request:?}");
        assert!(request.param("after").is_some(), "{request:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Re-syncs
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn re_syncs_are_incremental_conditional_and_keep_local_edits() {
    let fake = FakeGithub::start().await;
    let repo = "octo/resync";
    let mut issues = plain_issues(repo, 5);
    issues[2] = closed(issues[2].clone(), Some("completed"));
    fake.set_issues(repo, issues);
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    link(&owner, &project, repo, Some(TOKEN)).await;
    let first = wait_for_link_state(&owner, &project, "idle").await;
    assert_eq!(first["imported_count"], 5);
    let imported = by_issue_number(&tasks_of(&owner, &project).await);

    // Local edits of the fields GitHub does not own.
    let task = imported[&1]["id"].as_str().unwrap().to_owned();
    let response = owner
        .patch(
            &format!("/api/v1/tasks/{task}"),
            json!({"priority": 3, "due_date": "2030-01-15", "assignee_id": owner.id}),
        )
        .await;
    response.good::<Value>();

    // Second sync: incremental (`since`), no duplicates, nothing changed.
    let mark = fake.request_count();
    let second = sync_now(&owner, &project).await;
    assert_eq!(second["state"], "idle", "{second}");
    assert_eq!(second["imported_count"], 5);
    assert!(second["last_synced_at"].as_str() >= first["last_synced_at"].as_str());
    let requests = fake.requests()[mark..].to_vec();
    assert!(!requests.is_empty());
    let since: DateTime<Utc> = requests[0]
        .param("since")
        .unwrap_or_else(|| panic!("no since: {:?}", requests[0]))
        .parse()
        .unwrap();
    assert!(
        since <= "2024-01-05T12:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        "since {since} is after the newest issue"
    );
    assert_eq!(requests[0].param("state"), Some("all"));
    let tasks = by_issue_number(&tasks_of(&owner, &project).await);
    assert_eq!(tasks.len(), 5);
    for (number, task) in &imported {
        assert_eq!(tasks[number]["id"], task["id"]);
    }

    // Third sync of an unchanged repository: only conditional requests, answered 304.
    let mark = fake.request_count();
    let third = sync_now(&owner, &project).await;
    assert_eq!(third["state"], "idle", "{third}");
    let requests = fake.requests()[mark..].to_vec();
    assert!(!requests.is_empty());
    for request in &requests {
        assert!(request.header("if-none-match").is_some(), "{request:?}");
        assert_eq!(request.status, 304, "{request:?}");
    }
    assert_eq!(tasks_of(&owner, &project).await.len(), 5);

    // GitHub changes issue 1 and gains issue 6.
    let mut changed = labelled(
        closed(issue(repo, 1, "Issue 1, renamed"), Some("completed")),
        &["Triaged", "P1"],
    );
    changed["updated_at"] = json!("2024-02-01T09:30:00Z");
    changed["closed_at"] = json!("2024-02-01T09:30:00Z");
    changed["body"] = json!("New body");
    fake.put_issue(repo, changed);
    let mut new = issue(repo, 6, "A new issue");
    new["updated_at"] = json!("2024-02-01T10:00:00Z");
    fake.put_issue(repo, new);
    let mut reopened = issue(repo, 3, "Issue 3");
    reopened["updated_at"] = json!("2024-02-01T08:00:00Z");
    fake.put_issue(repo, reopened);
    assert_eq!(imported[&3]["status"], "done");

    let mark = fake.request_count();
    let fourth = sync_now(&owner, &project).await;
    assert_eq!(fourth["state"], "idle", "{fourth}");
    assert_eq!(fourth["imported_count"], 6);
    let requests = fake.requests()[mark..].to_vec();
    assert!(requests[0].param("since").is_some(), "{:?}", requests[0]);
    assert!(requests.iter().any(|r| r.status == 200), "{requests:?}");

    let tasks = tasks_of(&owner, &project).await;
    assert_eq!(tasks.len(), 6);
    let tasks = by_issue_number(&tasks);
    let edited = &tasks[&1];
    assert_eq!(edited["id"], imported[&1]["id"]);
    assert_eq!(edited["title"], "Issue 1, renamed");
    assert_eq!(edited["description"], "New body");
    assert_eq!(edited["status"], "done");
    assert!(edited["completed_at"].is_string());
    assert_eq!(labels_of(edited), ["p1", "triaged"]);
    assert_eq!(edited["priority"], 3);
    assert_eq!(edited["due_date"], "2030-01-15");
    assert_eq!(edited["assignee_id"], owner.id.to_string());
    assert_eq!(tasks[&6]["title"], "A new issue");
    assert_eq!(tasks[&3]["status"], "todo");
    assert_eq!(tasks[&3]["completed_at"], Value::Null);
    for n in 2..=5 {
        assert_eq!(tasks[&n]["id"], imported[&n]["id"]);
    }

    // The history has one `github.synced` per committed page that changed something, by the
    // server, with counts — not an entry per issue.
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = owner.get(&format!("/api/v1/projects/{project}/activity"));
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = request.await.good::<Value>();
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let synced: Vec<&Value> = entries
        .iter()
        .filter(|e| e["kind"] == "github.synced")
        .collect();
    assert!(!synced.is_empty(), "{entries:#?}");
    let total = |key: &str| {
        synced
            .iter()
            .map(|e| e["counts"][key].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!((total("created"), total("updated")), (6, 2), "{synced:#?}");
    assert!(synced.iter().all(|e| e["actor"].is_null()));
    assert!(
        entries.iter().all(|e| e["kind"] != "task.created"),
        "{entries:#?}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["kind"] == "task.updated")
            .count(),
        1,
        "the owner's own edit"
    );
}

#[tokio::test]
async fn two_instances_syncing_the_same_link_never_duplicate_a_task() {
    let fake = FakeGithub::start().await;
    let repo = "octo/twins";
    fake.set_issues(repo, plain_issues(repo, 7));
    let first = app_for(&fake).await;
    let second = app_on(&first.database_url, &fake.url, fast_tuning(), |_| {}).await;
    let owner = first.new_client().await;
    let owner_on_second = second.as_user(&owner);
    let project = new_project(&owner).await;

    // Hold GitHub's answers so that both instances are inside a sync of the same link at once:
    // the linking job, and a second job as a lost lease or a scheduler race would leave.
    fake.pause();
    link(&owner, &project, repo, Some(TOKEN)).await;
    first
        .db
        .execute(
            "INSERT INTO jobs (id, kind, payload, max_attempts) \
         VALUES ($1, 'github_sync', jsonb_build_object('project_id', $2::text), 5)",
            &[&Uuid::now_v7(), &project],
        )
        .await;
    fake.wait_for_requests(2).await;
    let running: i64 = first
        .db
        .scalar(
            "SELECT count(*) FROM jobs WHERE payload->>'project_id' = $1 AND state = 'running'",
            &[&project],
        )
        .await;
    assert_eq!(running, 2, "each instance runs one of the two jobs");
    fake.resume();

    let link = wait_until_settled(&owner, &project).await;
    assert_eq!(link["state"], "idle", "{link}");
    assert_eq!(link["imported_count"], 7);
    let tasks = tasks_of(&owner_on_second, &project).await;
    assert_eq!(tasks.len(), 7, "{tasks:?}");
    assert_eq!(by_issue_number(&tasks).len(), 7);
    let mut numbers: Vec<i64> = tasks
        .iter()
        .map(|t| t["number"].as_i64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=7).collect::<Vec<_>>());
    // Neither run tripped over the other (a failed insert would have cost a retry).
    let jobs = jobs_of(&first, &project).await;
    assert_eq!(jobs, [("done".to_owned(), 1), ("done".to_owned(), 1)]);

    // And "sync now" on both instances at once, repeatedly.
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            owner.post(&sync_path(&project), json!({})),
            owner_on_second.post(&sync_path(&project), json!({})),
        );
        assert_eq!(a.status(), 202);
        assert_eq!(b.status(), 202);
        wait_until_settled(&owner_on_second, &project).await;
    }
    assert_eq!(tasks_of(&owner, &project).await.len(), 7);
}

// ---------------------------------------------------------------------------------------------
// Retries and rate limits
// ---------------------------------------------------------------------------------------------

/// Links `repo` in a new project, waits until its import is done in one run of the job, and
/// returns the requests the fake got for it.
async fn import_through(fake: &FakeGithub, app: &TestApp, repo: &str, count: i64) -> Vec<Recorded> {
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    link(&owner, &project, repo, Some(TOKEN)).await;
    let link = wait_until_settled(&owner, &project).await;
    assert_eq!(link["state"], "idle", "{link}");
    assert_eq!(link["imported_count"], count, "{link}");
    assert_eq!(link["last_error"], Value::Null);
    assert_eq!(tasks_of(&owner, &project).await.len() as i64, count);
    // The client retried inside one run of the job; the job itself did not fail.
    let jobs = jobs_of(app, &project).await;
    assert_eq!(jobs, [("done".to_owned(), 1)], "{jobs:?}");
    fake.requests_for(repo)
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let fake = FakeGithub::start().await;
    let repo = "octo/flaky";
    fake.set_issues(repo, plain_issues(repo, 2));
    let app = app_for(&fake).await;
    fake.script([Scripted::status(500), Scripted::status(502)]);
    let requests = import_through(&fake, &app, repo, 2).await;
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 502, 200]);
}

#[tokio::test]
async fn retry_after_is_waited_out() {
    let fake = FakeGithub::start().await;
    let repo = "octo/busy";
    fake.set_issues(repo, plain_issues(repo, 2));
    let app = app_for(&fake).await;
    fake.script([Scripted::retry_after(1)]);
    let requests = import_through(&fake, &app, repo, 2).await;
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(990),
        "retried after {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "retried after {waited:?}");
}

#[tokio::test]
async fn an_exhausted_rate_limit_is_waited_out_until_its_reset() {
    let fake = FakeGithub::start().await;
    let repo = "octo/limited";
    fake.set_issues(repo, plain_issues(repo, 2));
    let app = app_for(&fake).await;
    let reset = unix_now() + 1;
    fake.script([Scripted::exhausted_until(reset)]);
    let requests = import_through(&fake, &app, repo, 2).await;
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [403, 200]);
    let retried_at = requests[1].wall.duration_since(UNIX_EPOCH).unwrap();
    assert!(
        retried_at >= Duration::from_secs(reset),
        "retried at {retried_at:?}, before the reset at {reset}"
    );
}

#[tokio::test]
async fn a_response_slower_than_the_request_timeout_is_retried() {
    let fake = FakeGithub::start().await;
    let repo = "octo/slow";
    fake.set_issues(repo, plain_issues(repo, 2));
    let mut tuning = fast_tuning();
    tuning.github.request_timeout = Duration::from_millis(400);
    let app = app_at(&fake.url, tuning, |_| {}).await;
    fake.script([Scripted::Slow(Duration::from_millis(1500))]);
    let requests = import_through(&fake, &app, repo, 2).await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[1].status, 200);
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(400) && gap < Duration::from_millis(1500),
        "the retry came {gap:?} after the slow request"
    );
}

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

/// Links `repo` in a new project and waits for the link to fail; returns the link.
async fn link_until_failed(
    owner: &UserClient<'_>,
    repo: &str,
    token: Option<&str>,
) -> (String, Value) {
    let project = new_project(owner).await;
    let created = link(owner, &project, repo, token).await;
    assert_eq!(created["state"], "pending", "{created}");
    let link = wait_for_link_state(owner, &project, "failed").await;
    (project, link)
}

#[tokio::test]
async fn refusals_end_the_link_failed_with_a_readable_sentence_and_no_retry() {
    let fake = FakeGithub::start().await;
    let repo = "octo/private";
    fake.set_issues(repo, plain_issues(repo, 2));
    let app = app_for(&fake).await;
    let owner = app.new_client().await;

    let cases: [(&str, Option<&str>, &[&str]); 3] = [
        (MISSING_REPO, Some(TOKEN), &["octo/missing", "not found"]),
        (repo, Some(REFUSED_TOKEN), &["token", "refused"]),
        (DISABLED_REPO, Some(TOKEN), &["octo/no-issues", "disabled"]),
    ];
    for (repository, token, words) in cases {
        let mark = fake.request_count();
        let (project, link) = link_until_failed(&owner, repository, token).await;
        let error = link["last_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{link}"));
        for word in words {
            assert!(
                error.to_lowercase().contains(word),
                "{repository}: {error:?} should say {word:?}"
            );
        }
        assert!(error.ends_with('.'), "not a sentence: {error:?}");
        assert!(!error.contains(TOKEN) && !error.contains(REFUSED_TOKEN));
        assert_eq!(link["imported_count"], 0);
        // Not retried: one request, one job run, failed for good.
        assert_eq!(fake.request_count() - mark, 1, "{repository}");
        assert_eq!(
            finished_jobs(&app, &project).await,
            [("failed".to_owned(), 1)]
        );
    }

    // A 403 that is a permission problem is not a rate limit: no wait, no retry.
    let mark = fake.request_count();
    fake.script([Scripted::no_permission()]);
    let started = Instant::now();
    let (project, link) = link_until_failed(&owner, repo, Some(TOKEN)).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let error = link["last_error"].as_str().unwrap();
    assert!(
        error.contains("403") || error.to_lowercase().contains("permission"),
        "{error:?}"
    );
    assert!(!error.to_lowercase().contains("rate limit"), "{error:?}");
    assert_eq!(fake.request_count() - mark, 1);
    assert_eq!(
        finished_jobs(&app, &project).await,
        [("failed".to_owned(), 1)]
    );
    // Nor does it hold back the token's next request.
    let started = Instant::now();
    let next = sync_now(&owner, &project).await;
    assert_eq!(next["state"], "idle", "{next}");
    assert_eq!(next["last_error"], Value::Null);
    assert_eq!(next["imported_count"], 2);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_unreachable_github_fails_the_link_and_says_when_it_retries() {
    let port = closed_port().await;
    let mut tuning = fast_tuning();
    // Keep the breaker out of it, and the job's retries slow enough to watch.
    tuning.github.breaker_threshold = 1000;
    tuning.job_retry_base = Duration::from_secs(2);
    tuning.job_retry_cap = Duration::from_secs(4);
    let app = app_at(&format!("http://127.0.0.1:{port}"), tuning, |_| {}).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    let created = link(&owner, &project, "octo/hello", Some(TOKEN)).await;
    assert_eq!(created["state"], "pending");
    let link = wait_for_link(&owner, &project, "failed as unreachable", |link| {
        link["state"] == "failed"
            && link["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("retrying at"))
    })
    .await;
    let error = link["last_error"].as_str().unwrap();
    assert!(error.to_lowercase().contains("unreachable"), "{error:?}");
    // "retrying at HH:MM UTC."
    let at = error.split("retrying at ").nth(1).unwrap();
    assert!(
        at.len() >= 5
            && at[..5].chars().enumerate().all(|(i, c)| if i == 2 {
                c == ':'
            } else {
                c.is_ascii_digit()
            }),
        "{error:?}"
    );
    // The job is queued again, not given up.
    assert_eq!(active_jobs(&app, &project).await, 1);
}

// ---------------------------------------------------------------------------------------------
// The circuit breaker
// ---------------------------------------------------------------------------------------------

fn circuit_gauge(metrics: &str, host: &str) -> Option<f64> {
    let prefix = format!("docket_github_circuit_open{{host=\"{host}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app.anon().get("/metrics").await;
    assert_eq!(response.status(), 200);
    response.text()
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_fails_fast_and_recovers() {
    // A host of its own: the gauge is labelled by host.
    let fake = FakeGithub::start_on("127.0.0.2").await;
    let host = "127.0.0.2";
    let (first_repo, second_repo) = ("octo/breaker-one", "octo/breaker-two");
    fake.set_issues(first_repo, plain_issues(first_repo, 2));
    fake.set_issues(second_repo, plain_issues(second_repo, 2));
    let mut tuning = fast_tuning();
    tuning.github.breaker_threshold = 2;
    tuning.github.breaker_open_for = Duration::from_secs(3);
    let app = app_at(&fake.url, tuning, |_| {}).await;
    let owner = app.new_client().await;

    fake.script((0..10).map(|_| Scripted::status(503)));
    let first = new_project(&owner).await;
    link(&owner, &first, first_repo, Some(TOKEN)).await;
    let failed = wait_for_link_state(&owner, &first, "failed").await;
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.contains("retrying at"), "{error:?}");
    // Two failures opened the circuit: no third attempt.
    assert_eq!(fake.requests_for(first_repo).len(), 2);
    assert_eq!(circuit_gauge(&metrics_text(&app).await, host), Some(1.0));

    // While it is open, a call to the same host fails fast, without a request.
    fake.clear_script();
    let second = new_project(&owner).await;
    link(&owner, &second, second_repo, Some(TOKEN)).await;
    let paused = wait_for_link_state(&owner, &second, "failed").await;
    let error = paused["last_error"].as_str().unwrap();
    assert!(error.contains("retrying at"), "{error:?}");
    assert!(
        fake.requests_for(second_repo).is_empty(),
        "a request went out"
    );
    let metrics = metrics_text(&app).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("docket_github_requests_total{outcome=\"circuit_open\"}")),
        "{metrics}"
    );

    // After the open period a probe goes through, and both links recover.
    let recovered = wait_for_link_state(&owner, &first, "idle").await;
    assert_eq!(recovered["imported_count"], 2);
    assert_eq!(recovered["last_error"], Value::Null);
    let recovered = wait_for_link_state(&owner, &second, "idle").await;
    assert_eq!(recovered["imported_count"], 2);
    assert_eq!(circuit_gauge(&metrics_text(&app).await, host), Some(0.0));
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_token_is_write_only_and_stored_encrypted() {
    let fake = FakeGithub::start().await;
    let repo = "octo/secret";
    fake.set_issues(repo, plain_issues(repo, 1));
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    let secret = "ghp_SuperSecretValue4242424242";

    let response = put_link(
        &owner,
        &project,
        json!({"repository": repo, "token": secret}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let text = response.text();
    assert!(!text.contains(secret) && !text.contains("token"), "{text}");
    wait_for_link_state(&owner, &project, "idle").await;
    let response = owner.get(&link_path(&project)).await;
    let text = response.text();
    assert!(!text.contains(secret) && !text.contains("token"), "{text}");

    let stored: Option<Vec<u8>> = app
        .db
        .scalar(
            "SELECT token_ciphertext FROM github_links WHERE project_id = $1::uuid",
            &[&project.parse::<Uuid>().unwrap()],
        )
        .await;
    let stored = stored.expect("the token is stored");
    assert!(stored.len() > secret.len());
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));
    assert!(!String::from_utf8_lossy(&stored).contains("SuperSecret"));

    // It was used.
    let requests = fake.requests_for(repo);
    assert!(!requests.is_empty());
    for request in requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {secret}").as_str())
        );
    }
}

#[tokio::test]
async fn the_servers_token_serves_links_without_one_and_the_enterprise_prefix_is_kept() {
    let fake = FakeGithub::start().await;
    let (repo, other) = ("octo/server-token", "octo/own-token");
    fake.set_issues(repo, plain_issues(repo, 3));
    fake.set_issues(other, plain_issues(other, 1));
    let server_token = "ghp_serverWideToken99999999999";
    let app = app_at(&format!("{}/api/v3", fake.url), fast_tuning(), |args| {
        args.github_token = Some(server_token.to_owned());
    })
    .await;
    let owner = app.new_client().await;

    let project = new_project(&owner).await;
    link(&owner, &project, repo, None).await;
    let done = wait_for_link_state(&owner, &project, "idle").await;
    assert_eq!(done["imported_count"], 3);
    let stored: Option<Vec<u8>> = app
        .db
        .scalar(
            "SELECT token_ciphertext FROM github_links WHERE project_id = $1::uuid",
            &[&project.parse::<Uuid>().unwrap()],
        )
        .await;
    assert_eq!(stored, None);
    let requests = fake.requests_for(repo);
    assert_eq!(requests.len(), 2, "3 issues are 2 pages: {requests:?}");
    for request in &requests {
        assert!(request.path.starts_with("/api/v3/"), "{request:?}");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {server_token}").as_str())
        );
    }

    // A link's own token wins over the server's.
    let project = new_project(&owner).await;
    link(&owner, &project, other, Some(TOKEN)).await;
    wait_for_link_state(&owner, &project, "idle").await;
    for request in fake.requests_for(other) {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed_with_the_token() {
    let fake = FakeGithub::start().await;
    let elsewhere = FakeGithub::start_on("127.0.0.3").await;
    let repo = "octo/redirected";
    fake.set_issues(repo, plain_issues(repo, 5));
    elsewhere.set_issues(repo, plain_issues(repo, 5));
    fake.state().foreign_next = Some(elsewhere.url.clone());
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    link(&owner, &project, repo, Some(TOKEN)).await;

    let link = wait_for_link_state(&owner, &project, "failed").await;
    let error = link["last_error"].as_str().unwrap();
    assert!(
        error.contains("outside") && error.ends_with('.'),
        "{error:?}"
    );
    assert_eq!(elsewhere.request_count(), 0, "the other host got a request");
    assert_eq!(fake.request_count(), 1);
    assert_eq!(
        finished_jobs(&app, &project).await,
        [("failed".to_owned(), 1)]
    );
}

// ---------------------------------------------------------------------------------------------
// The link endpoints
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn linking_answers_201_without_calling_github() {
    let fake = FakeGithub::start().await;
    let repo = "octo/quick";
    fake.set_issues(repo, plain_issues(repo, 3));
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;

    // GitHub holds every answer: a request that waited for it would not come back.
    fake.pause();
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        put_link(
            &owner,
            &project,
            json!({"repository": repo, "token": TOKEN}),
        ),
    )
    .await
    .expect("PUT .../github waited for GitHub");
    let created = response.created::<Value>();
    assert_eq!(created["state"], "pending");
    assert_eq!(created["imported_count"], 0);
    assert_eq!(created["last_synced_at"], Value::Null);
    assert_eq!(created["last_error"], Value::Null);
    // The same for a repository that does not exist.
    let missing = new_project(&owner).await;
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        put_link(&owner, &missing, json!({"repository": MISSING_REPO})),
    )
    .await
    .expect("PUT .../github waited for GitHub");
    assert_eq!(response.created::<Value>()["state"], "pending");

    // The worker does call it, after the answer; the link says so meanwhile.
    fake.wait_for_requests(1).await;
    let syncing = get_link(&owner, &project).await;
    let other = get_link(&owner, &missing).await;
    assert!(
        syncing["state"] == "syncing" || other["state"] == "syncing",
        "{syncing} {other}"
    );
    fake.resume();
    let done = wait_for_link_state(&owner, &project, "idle").await;
    assert_eq!(done["imported_count"], 3);
    let failed = wait_for_link_state(&owner, &missing, "failed").await;
    assert!(failed["last_error"].as_str().unwrap().contains("not found"));
}

#[tokio::test]
async fn the_link_endpoints_check_roles_and_input() {
    let fake = FakeGithub::start().await;
    let repo = "octo/roles";
    fake.set_issues(repo, plain_issues(repo, 3));
    fake.set_issues("octo/other", plain_issues("octo/other", 1));
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let (admin, editor, viewer, stranger) = (
        app.new_client().await,
        app.new_client().await,
        app.new_client().await,
        app.new_client().await,
    );
    let project = new_project(&owner).await;
    let project_id: Uuid = project.parse().unwrap();
    owner.add_member(project_id, &admin, "admin").await;
    owner.add_member(project_id, &editor, "editor").await;
    owner.add_member(project_id, &viewer, "viewer").await;

    // No link yet.
    owner
        .get(&link_path(&project))
        .await
        .problem(404, "not_found");
    owner
        .post(&sync_path(&project), json!({}))
        .await
        .problem(404, "not_found");
    owner
        .delete(&link_path(&project))
        .await
        .problem(404, "not_found");

    // Input.
    for bad in [
        json!({"repository": "not a repository"}),
        json!({"repository": "octo"}),
        json!({"repository": "octo/hello/issues"}),
        json!({"repository": ""}),
        json!({"repository": 7}),
        json!({}),
        json!({"repository": "octo/hello", "extra": true}),
    ] {
        put_link(&owner, &project, bad)
            .await
            .problem(422, "validation_failed");
    }
    put_link(
        &owner,
        &project,
        json!({"repository": "octo/hello", "token": ""}),
    )
    .await
    .problem(422, "validation_failed");
    owner
        .get(&link_path(&project))
        .await
        .problem(404, "not_found");

    // Linking: admins and owners.
    for (user, status, code) in [
        (&viewer, 403, "forbidden"),
        (&editor, 403, "forbidden"),
        (&stranger, 404, "not_found"),
    ] {
        put_link(user, &project, json!({"repository": repo}))
            .await
            .problem(status, code);
    }
    let created = put_link(
        &admin,
        &project,
        json!({"repository": repo, "token": TOKEN}),
    )
    .await
    .created::<Value>();
    assert_eq!(created["repository"], repo);
    wait_until_settled(&owner, &project).await;

    // Reading: any member.
    for user in [&owner, &admin, &editor, &viewer] {
        let link = get_link(user, &project).await;
        assert_eq!(link["repository"], repo);
        assert_eq!(link["state"], "idle");
        assert_eq!(link["imported_count"], 3);
    }
    stranger
        .get(&link_path(&project))
        .await
        .problem(404, "not_found");

    // Syncing and unlinking: admins and owners.
    for (user, status, code) in [
        (&viewer, 403, "forbidden"),
        (&editor, 403, "forbidden"),
        (&stranger, 404, "not_found"),
    ] {
        user.post(&sync_path(&project), json!({}))
            .await
            .problem(status, code);
        user.delete(&link_path(&project))
            .await
            .problem(status, code);
    }
    let accepted = admin
        .post(&sync_path(&project), json!({}))
        .await
        .expect::<Value>(202);
    assert_eq!(accepted["repository"], repo);
    wait_until_settled(&owner, &project).await;

    // Many "sync now" in a row: at most one sync queued or running.
    fake.pause();
    let before: i64 = app
        .db
        .scalar("SELECT count(*) FROM jobs WHERE kind = 'github_sync'", &[])
        .await;
    for _ in 0..10 {
        let response = owner.post(&sync_path(&project), json!({})).await;
        assert_eq!(response.status(), 202);
        assert!(active_jobs(&app, &project).await <= 1);
    }
    let after: i64 = app
        .db
        .scalar("SELECT count(*) FROM jobs WHERE kind = 'github_sync'", &[])
        .await;
    assert_eq!(
        after - before,
        1,
        "ten requests queued {} syncs",
        after - before
    );
    fake.resume();
    wait_until_settled(&owner, &project).await;

    // Replacing: 200, and the new repository is imported.
    let replaced = put_link(
        &owner,
        &project,
        json!({"repository": "octo/other", "token": TOKEN}),
    )
    .await
    .good::<Value>();
    assert_eq!(replaced["repository"], "octo/other");
    let link = wait_until_settled(&owner, &project).await;
    assert_eq!(link["state"], "idle", "{link}");
    assert_eq!(link["repository"], "octo/other");
    assert_eq!(link["imported_count"], 1);

    // Unlinking: 204; the imported tasks stay, and so does their source.
    let response = admin.delete(&link_path(&project)).await;
    assert_eq!(response.status(), 204);
    assert!(response.text().is_empty());
    owner
        .get(&link_path(&project))
        .await
        .problem(404, "not_found");
    let tasks = tasks_of(&owner, &project).await;
    assert_eq!(tasks.len(), 4);
    let repos: Vec<&str> = tasks
        .iter()
        .map(|t| t["source"]["repository"].as_str().unwrap())
        .collect();
    assert_eq!(repos.iter().filter(|r| **r == repo).count(), 3);
    assert_eq!(repos.iter().filter(|r| **r == "octo/other").count(), 1);
    assert!(tasks
        .iter()
        .all(|t| t["source"]["kind"] == "github" && t["source"]["url"].is_string()));
    assert_eq!(active_jobs(&app, &project).await, 0);
    owner
        .delete(&link_path(&project))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn replacing_the_link_during_a_sync_imports_the_new_repository() {
    let fake = FakeGithub::start().await;
    let (old, new) = ("octo/old-repo", "octo/new-repo");
    fake.set_issues(old, plain_issues(old, 2));
    fake.set_issues(new, plain_issues(new, 3));
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;

    fake.pause();
    link(&owner, &project, old, Some(TOKEN)).await;
    fake.wait_for_requests(1).await;
    let replaced = put_link(&owner, &project, json!({"repository": new, "token": TOKEN}))
        .await
        .good::<Value>();
    assert_eq!(replaced["repository"], new);
    fake.resume();

    let link = wait_for_link(&owner, &project, "idle with the new repository", |l| {
        l["state"] == "idle" && l["imported_count"] == 3
    })
    .await;
    assert_eq!(link["repository"], new);
    assert_eq!(link["last_error"], Value::Null);
    assert!(!fake.requests_for(new).is_empty());
    // The old repository's page, answered after the replacement, was not imported.
    let tasks = tasks_of(&owner, &project).await;
    assert_eq!(tasks.len(), 3, "{tasks:?}");
    assert!(tasks.iter().all(|t| t["source"]["repository"] == new));
}

#[tokio::test]
async fn a_new_token_for_a_link_waiting_out_a_rate_limit_is_used_at_once() {
    let fake = FakeGithub::start().await;
    let repo = "octo/exhausted";
    fake.set_issues(repo, plain_issues(repo, 2));
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;

    // The token's limit resets in an hour: longer than a job may wait, so the sync is put off.
    fake.script([Scripted::exhausted_until(unix_now() + 3600)]);
    link(&owner, &project, repo, Some(TOKEN)).await;
    let waiting = wait_for_link_state(&owner, &project, "failed").await;
    let error = waiting["last_error"].as_str().unwrap();
    assert!(
        error.contains("rate limit") && error.contains("retrying at"),
        "{error:?}"
    );
    assert_eq!(fake.request_count(), 1);
    assert_eq!(
        active_jobs(&app, &project).await,
        1,
        "the sync waits in the queue"
    );

    // Another token is not bound by that limit: the link syncs with it now.
    let fresh = "ghp_freshToken111111111111111";
    let replaced = put_link(
        &owner,
        &project,
        json!({"repository": repo, "token": fresh}),
    )
    .await
    .good::<Value>();
    assert_eq!(replaced["state"], "pending");
    let done = wait_for_link_state(&owner, &project, "idle").await;
    assert_eq!(done["imported_count"], 2);
    let last = fake.requests().pop().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {fresh}").as_str())
    );
}

#[tokio::test]
async fn the_scheduler_syncs_a_link_when_it_is_due() {
    let fake = FakeGithub::start().await;
    let repo = "octo/scheduled";
    fake.set_issues(repo, plain_issues(repo, 2));
    let app = app_at(&fake.url, fast_tuning(), |args| {
        args.github_sync_interval_s = Some("600".to_owned());
    })
    .await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    let created = link(&owner, &project, repo, Some(TOKEN)).await;
    let at = |link: &Value, field: &str| -> DateTime<Utc> {
        link[field].as_str().unwrap().parse().unwrap()
    };
    let interval = at(&created, "next_sync_at") - at(&created, "created_at");
    assert!(
        (interval.num_seconds() - 600).abs() <= 5,
        "next sync {interval} after linking"
    );
    wait_until_settled(&owner, &project).await;

    // GitHub gains an issue; the link falls due (as if ten minutes had passed).
    let mut new = issue(repo, 3, "Found by the scheduler");
    new["updated_at"] = json!("2024-03-01T00:00:00Z");
    fake.put_issue(repo, new);
    app.db
        .execute(
            "UPDATE github_links SET next_sync_at = now() WHERE project_id = $1::uuid",
            &[&project.parse::<Uuid>().unwrap()],
        )
        .await;
    let synced = wait_for_link(&owner, &project, "synced by the scheduler", |link| {
        link["imported_count"] == 3 && link["state"] == "idle"
    })
    .await;
    let next = at(&synced, "next_sync_at") - Utc::now();
    assert!(
        next.num_seconds() > 550 && next.num_seconds() <= 600,
        "next sync in {next}"
    );
    let jobs = jobs_of(&app, &project).await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
}

#[tokio::test]
async fn relinking_the_same_repository_in_another_case_keeps_the_count() {
    let fake = FakeGithub::start().await;
    let repo = "octo/cased";
    fake.set_issues(repo, plain_issues(repo, 3));
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    link(&owner, &project, repo, Some(TOKEN)).await;
    assert_eq!(
        wait_until_settled(&owner, &project).await["imported_count"],
        3
    );

    // GitHub names are case-insensitive: this is the same repository and the same issues.
    put_link(
        &owner,
        &project,
        json!({"repository": "Octo/Cased", "token": TOKEN}),
    )
    .await
    .good::<Value>();
    let link = wait_until_settled(&owner, &project).await;
    assert_eq!(link["state"], "idle", "{link}");
    assert_eq!(link["repository"], "Octo/Cased");
    assert_eq!(link["imported_count"], 3, "{link}");
    assert_eq!(tasks_of(&owner, &project).await.len(), 3);
}

#[tokio::test]
async fn unlinking_during_a_sync_stops_the_import() {
    let fake = FakeGithub::start().await;
    let repo = "octo/unlinked";
    fake.set_issues(repo, plain_issues(repo, 6));
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;

    fake.pause();
    link(&owner, &project, repo, Some(TOKEN)).await;
    fake.wait_for_requests(1).await;
    let response = owner.delete(&link_path(&project)).await;
    assert_eq!(response.status(), 204);
    fake.resume();

    assert_eq!(
        finished_jobs(&app, &project).await,
        [("done".to_owned(), 1)]
    );
    assert!(tasks_of(&owner, &project).await.is_empty());
    assert_eq!(
        fake.request_count(),
        1,
        "pages were fetched after unlinking"
    );
}

#[tokio::test]
async fn when_every_attempt_fails_the_link_says_it_gave_up_instead_of_naming_a_retry() {
    let port = closed_port().await;
    let app = app_at(&format!("http://127.0.0.1:{port}"), fast_tuning(), |_| {}).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    let response = put_link(&owner, &project, json!({"repository": "octo/down"})).await;
    assert_eq!(response.status(), 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = jobs_of(&app, &project).await;
        if jobs.iter().any(|(state, _)| state == "failed") {
            assert_eq!(
                jobs.last().unwrap().1,
                5,
                "every attempt was used: {jobs:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the job never gave up: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link = get_link(&owner, &project).await;
    let error = link["last_error"].as_str().unwrap();
    // The breaker opens along the way, so the last attempt may find the circuit open.
    assert!(
        error.contains("unreachable") || error.contains("failing repeatedly"),
        "{error}"
    );
    assert!(error.contains("gave up"), "{error}");
    assert!(!error.contains("retrying at"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Hostile GitHub (API.md §9)
// ---------------------------------------------------------------------------------------------

/// `bytes` gzip-compressed.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn an_error_body_is_capped_after_decompression_like_a_success_body() {
    let fake = FakeGithub::start().await;
    let repo = "octo/bomb";
    fake.set_issues(repo, plain_issues(repo, 1));
    // 64 MiB of JSON once decompressed (the test cap is 1 MiB), about 64 KiB on the wire. A
    // client that reads the whole error body finds GitHub's message at its start.
    let mut body = br#"{"message":"Resource not accessible by integration","padding":""#.to_vec();
    body.resize(64 * 1024 * 1024, b' ');
    body.extend_from_slice(br#""}"#);
    let bomb = gzip(&body);
    assert!(bomb.len() < 512 * 1024, "{} compressed bytes", bomb.len());
    fake.script([Scripted::Raw {
        status: 403,
        headers: vec![
            ("content-encoding", "gzip".to_owned()),
            ("content-type", "application/json".to_owned()),
        ],
        body: bomb,
    }]);
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let (_, link) = link_until_failed(&owner, repo, Some(TOKEN)).await;
    let error = link["last_error"].as_str().unwrap();
    assert!(error.contains("403"), "{error:?}");
    assert!(
        !error.contains("Resource not accessible"),
        "the error body was read past the cap: {error:?}"
    );
}

#[tokio::test]
async fn the_origin_check_compares_whole_path_segments() {
    let fake = FakeGithub::start().await;
    let repo = "octo/prefixed";
    fake.set_issues(repo, plain_issues(repo, 5));
    // The next page is under `/api/v3-x`, which starts with the text `/api/v3`.
    fake.state().foreign_next = Some(format!("{}/api/v3-x", fake.url));
    let app = app_at(&format!("{}/api/v3", fake.url), fast_tuning(), |_| {}).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    link(&owner, &project, repo, Some(TOKEN)).await;
    let link = wait_for_link_state(&owner, &project, "failed").await;
    let error = link["last_error"].as_str().unwrap();
    assert!(error.contains("outside"), "{error:?}");
    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        1,
        "followed outside the prefix: {requests:?}"
    );
    assert!(requests[0].path.starts_with("/api/v3/"));
}

#[tokio::test]
async fn control_characters_from_github_are_dropped_before_storing() {
    let fake = FakeGithub::start().await;
    let repo = "octo/controls";
    let mut dirty = labelled(issue(repo, 1, "Crash\u{0} on\u{7} start"), &["bu\u{0}g"]);
    dirty["body"] = json!("first\u{0} line\r\n\tsecond\u{1b}[0m line");
    fake.set_issues(repo, vec![dirty, issue(repo, 2, "Clean")]);
    let app = app_for(&fake).await;
    let owner = app.new_client().await;
    let project = new_project(&owner).await;
    link(&owner, &project, repo, Some(TOKEN)).await;
    let done = wait_until_settled(&owner, &project).await;
    assert_eq!(done["state"], "idle", "{done}");
    assert_eq!(done["imported_count"], 2);
    let tasks = by_issue_number(&tasks_of(&owner, &project).await);
    let task = &tasks[&1];
    assert_eq!(task["title"], "Crash on start");
    assert_eq!(task["description"], "first line\n\tsecond[0m line");
    assert_eq!(labels_of(task), ["bug"]);
}

#[tokio::test]
async fn a_link_imports_at_most_the_cap_and_says_so() {
    let fake = FakeGithub::start().await;
    let repo = "octo/huge";
    fake.set_issues(repo, plain_issues(repo, 7));
    let tuning = Tuning {
        github_import_cap: 3,
        ..fast_tuning()
    };
    let app = app_at(&fake.url, tuning, |_| {}).await;
    let owner = app.new_client().await;
    let (project, link) = link_until_failed(&owner, repo, Some(TOKEN)).await;
    let error = link["last_error"].as_str().unwrap();
    assert!(
        error.contains("more than 3") && error.ends_with('.'),
        "{error:?}"
    );
    assert_eq!(link["imported_count"], 3, "{link}");
    assert_eq!(tasks_of(&owner, &project).await.len(), 3);
    assert_eq!(
        finished_jobs(&app, &project).await,
        [("failed".to_owned(), 1)]
    );
}

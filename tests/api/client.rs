//! The typed test client, modelled on crates.io's `RequestHelper`: a client is someone talking
//! to the test server (`UserClient`: a user's access token; `TokenClient`: any bearer token;
//! `SessionClient`: a cookie session; `AnonClient`: nobody), each request is one awaited line,
//! and the `TestResponse` it gives back asserts the status it expects (`good` is exactly 200,
//! `created` 201) and deserializes the body into a small test-side type (or `Value`):
//!
//! ```ignore
//! let alice = app.new_client().await;
//! let project = alice.create_project("Work").await;
//! let task: Task = alice.post(&tasks_path(project.id), json!({"title": "x"})).await.created();
//! let page: Page<Task> = alice.get(&tasks_path(project.id)).await.good();
//! alice.patch(&task_path(task.id), json!({"title": "y"})).if_match("\"9\"").await
//!     .problem(412, "precondition_failed");
//! ```
//!
//! Tests whose point is the raw request (malformed bodies, odd headers, slow clients) build it
//! with `app.request(..)` and may still read the answer as a `TestResponse` with
//! `app.send(request)`.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{field_errors, TestApp, TestUser};

// ---------------------------------------------------------------------------------------------
// The resources, as tests read them (only the fields tests look at)
// ---------------------------------------------------------------------------------------------

// Each names every field the API sends and refuses any other, so comparing two of them is as
// strict as comparing their JSON.

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub is_inbox: bool,
    pub is_template: bool,
    pub my_role: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub status: String,
    pub state_id: Uuid,
    pub priority: i64,
    pub due_date: Option<String>,
    pub start_date: Option<String>,
    pub due_time: Option<String>,
    pub recurrence: Option<Value>,
    pub labels: Vec<String>,
    pub assignee_id: Option<Uuid>,
    pub created_by: Uuid,
    pub completed_at: Option<String>,
    pub source: Option<Value>,
    pub parent_id: Option<Uuid>,
    pub subtasks: Subtasks,
    pub blocked: bool,
    pub position: String,
    pub comment_count: i64,
    pub attachment_count: i64,
    pub time_spent_minutes: i64,
    /// API.md §19.
    pub reminders: Vec<Reminder>,

    /// Custom field values by field id (API.md §18).
    pub fields: serde_json::Map<String, Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A task's reminder (API.md §19): `before_minutes` or `at`, and what the server computed.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminder {
    #[serde(default)]
    pub before_minutes: Option<i64>,
    #[serde(default)]
    pub at: Option<String>,
    pub fire_at: String,
    pub sent_at: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subtasks {
    pub total: i64,
    pub done: i64,
}

/// A workflow state (API.md §17).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub category: String,
    pub color: String,
    pub position: i64,
    pub is_default: bool,
}

/// The other task of a relation, as the caller sees it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelatedTask {
    pub id: Uuid,
    pub project_id: Uuid,
    pub number: i64,
    pub title: String,
    pub status: String,
}

/// A relation from the point of view of the task asked about (API.md §17).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relation {
    pub id: Uuid,
    pub kind: String,
    pub task: RelatedTask,
    pub created_at: String,
    pub created_by: Option<Uuid>,
}

/// A list that is not paginated: `{"items": [...]}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Items<T> {
    pub items: Vec<T>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub user: MemberUser,
    pub role: String,
    pub added_at: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub author: Option<Actor>,
    pub body: String,
    pub mentions: Vec<Uuid>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub comment_id: Option<Uuid>,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploaded_by: Option<Actor>,
    pub created_at: String,
    pub thumbnail: bool,
}

/// A page of any list: `{"items": [...], "next_cursor": ...}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

pub fn project_path(project: impl std::fmt::Display) -> String {
    format!("/api/v1/projects/{project}")
}

pub fn members_path(project: impl std::fmt::Display) -> String {
    format!("/api/v1/projects/{project}/members")
}

pub fn member_path(project: impl std::fmt::Display, user: impl std::fmt::Display) -> String {
    format!("/api/v1/projects/{project}/members/{user}")
}

pub fn tasks_path(project: impl std::fmt::Display) -> String {
    format!("/api/v1/projects/{project}/tasks")
}

pub fn task_path(task: impl std::fmt::Display) -> String {
    format!("/api/v1/tasks/{task}")
}

pub fn states_path(project: impl std::fmt::Display) -> String {
    format!("/api/v1/projects/{project}/states")
}

pub fn fields_path(project: impl std::fmt::Display) -> String {
    format!("/api/v1/projects/{project}/fields")
}

pub fn field_path(field: impl std::fmt::Display) -> String {
    format!("/api/v1/fields/{field}")
}

pub fn state_path(state: impl std::fmt::Display) -> String {
    format!("/api/v1/states/{state}")
}

pub fn relations_path(task: impl std::fmt::Display) -> String {
    format!("/api/v1/tasks/{task}/relations")
}

pub fn comments_path(task: impl std::fmt::Display) -> String {
    format!("/api/v1/tasks/{task}/comments")
}

pub fn comment_path(comment: impl std::fmt::Display) -> String {
    format!("/api/v1/comments/{comment}")
}

pub fn attachments_path(task: impl std::fmt::Display) -> String {
    format!("/api/v1/tasks/{task}/attachments")
}

pub fn attachment_path(attachment: impl std::fmt::Display) -> String {
    format!("/api/v1/attachments/{attachment}")
}

pub fn content_path(attachment: impl std::fmt::Display) -> String {
    format!("/api/v1/attachments/{attachment}/content")
}

pub fn thumbnail_path(attachment: impl std::fmt::Display) -> String {
    format!("/api/v1/attachments/{attachment}/thumbnail")
}

// ---------------------------------------------------------------------------------------------
// Who is asking
// ---------------------------------------------------------------------------------------------

/// What every client can send. Like crates.io's `RequestHelper`: the kinds of client differ only
/// in how they authorize a request; the requests, and the domain helpers built on them, are
/// the same for all.
#[allow(async_fn_in_trait)]
pub trait RequestHelper {
    fn app(&self) -> &TestApp;

    /// Adds this client's credentials to a request.
    fn authorize(&self, method: &Method, request: RequestBuilder) -> RequestBuilder;

    fn request(&self, method: Method, path: &str) -> TestRequest {
        let builder = self.app().request(method.clone(), path);
        TestRequest {
            builder: self.authorize(&method, builder),
        }
    }

    fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }

    fn post(&self, path: &str, body: impl Serialize) -> TestRequest {
        self.request(Method::POST, path).json(body)
    }

    fn patch(&self, path: &str, body: impl Serialize) -> TestRequest {
        self.request(Method::PATCH, path).json(body)
    }

    fn put(&self, path: &str, body: impl Serialize) -> TestRequest {
        self.request(Method::PUT, path).json(body)
    }

    fn delete(&self, path: &str) -> TestRequest {
        self.request(Method::DELETE, path)
    }

    /// A DELETE with a JSON body (turning TOTP off takes a code).
    fn delete_with(&self, path: &str, body: impl Serialize) -> TestRequest {
        self.request(Method::DELETE, path).json(body)
    }

    // --- the requests every suite makes ---

    async fn create_project(&self, name: &str) -> Project {
        self.post("/api/v1/projects", json!({ "name": name }))
            .await
            .created()
    }

    async fn get_project(&self, project: Uuid) -> Project {
        self.get(&project_path(project)).await.good()
    }

    async fn create_task(&self, project: Uuid, body: Value) -> Task {
        self.post(&tasks_path(project), body).await.created()
    }

    async fn get_task(&self, task: Uuid) -> Task {
        self.get(&task_path(task)).await.good()
    }

    /// A project's states, in order.
    async fn states(&self, project: Uuid) -> Vec<State> {
        self.get(&states_path(project))
            .await
            .good::<Items<State>>()
            .items
    }

    /// Relates `task` to `other` (`kind` as seen from `task`).
    async fn relate(&self, task: Uuid, kind: &str, other: Uuid) -> Relation {
        self.post(
            &relations_path(task),
            json!({ "kind": kind, "task_id": other }),
        )
        .await
        .created()
    }

    /// PUT a member's role (201 for a new member, 200 for a change).
    async fn put_role(&self, project: Uuid, user: Uuid, role: &str) -> TestResponse {
        self.put(&member_path(project, user), json!({ "role": role }))
            .await
    }

    /// Uploads `body` to a task as a file named `name` (send it with `.await`; add
    /// `.query(..)` for a `comment_id`).
    fn upload(&self, task: Uuid, name: &str, body: impl Into<reqwest::Body>) -> TestRequest {
        self.request(Method::POST, &attachments_path(task))
            .query(&[("name", name)])
            .body(body)
    }

    /// Adds `user` to `project` with `role` (by PUT, which answers 201 for a new member).
    async fn add_member(&self, project: Uuid, user: &TestUser, role: &str) -> Member {
        let member: Member = self.put_role(project, user.id, role).await.created();
        assert_eq!(member.role, role);
        member
    }
}

/// A registered user, by their access token. It derefs to the `TestUser`, so `alice.id` and
/// `alice.email` read as before.
#[derive(Clone)]
pub struct UserClient<'a> {
    app: &'a TestApp,
    user: TestUser,
}

impl std::ops::Deref for UserClient<'_> {
    type Target = TestUser;

    fn deref(&self) -> &TestUser {
        &self.user
    }
}

impl RequestHelper for UserClient<'_> {
    fn app(&self) -> &TestApp {
        self.app
    }

    fn authorize(&self, _: &Method, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(&self.user.token)
    }
}

/// Whoever holds a bearer token (a personal API token, or any token a test made up).
pub struct TokenClient<'a> {
    app: &'a TestApp,
    token: String,
}

impl RequestHelper for TokenClient<'_> {
    fn app(&self) -> &TestApp {
        self.app
    }

    fn authorize(&self, _: &Method, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(&self.token)
    }
}

/// A cookie session: the cookie on every request, the CSRF token (if it has one) on unsafe ones.
pub struct SessionClient<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: Option<String>,
}

impl RequestHelper for SessionClient<'_> {
    fn app(&self) -> &TestApp {
        self.app
    }

    fn authorize(&self, method: &Method, request: RequestBuilder) -> RequestBuilder {
        let request = request.header("cookie", &self.cookie);
        match &self.csrf {
            Some(csrf) if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) => {
                request.header("x-csrf-token", csrf)
            }
            _ => request,
        }
    }
}

/// Nobody: no credentials at all.
pub struct AnonClient<'a> {
    app: &'a TestApp,
}

impl RequestHelper for AnonClient<'_> {
    fn app(&self) -> &TestApp {
        self.app
    }

    fn authorize(&self, _: &Method, request: RequestBuilder) -> RequestBuilder {
        request
    }
}

impl TestApp {
    /// Registers a new user and returns them as a client.
    pub async fn new_client(&self) -> UserClient<'_> {
        let user = self.new_user().await;
        UserClient { app: self, user }
    }

    /// `user`, by their access token (on this server, which may be another instance than the
    /// one that registered them).
    pub fn as_user(&self, user: &TestUser) -> UserClient<'_> {
        UserClient {
            app: self,
            user: user.clone(),
        }
    }

    pub fn with_token(&self, token: &str) -> TokenClient<'_> {
        TokenClient {
            app: self,
            token: token.to_owned(),
        }
    }

    /// A cookie session (`session_login`'s cookie and CSRF token).
    pub fn with_session(&self, cookie: &str, csrf: &str) -> SessionClient<'_> {
        SessionClient {
            app: self,
            cookie: cookie.to_owned(),
            csrf: Some(csrf.to_owned()),
        }
    }

    /// A session cookie alone: enough for safe requests, and an unsafe one without its CSRF
    /// token is what the CSRF tests send.
    pub fn with_cookie(&self, cookie: &str) -> SessionClient<'_> {
        SessionClient {
            app: self,
            cookie: cookie.to_owned(),
            csrf: None,
        }
    }

    pub fn anon(&self) -> AnonClient<'_> {
        AnonClient { app: self }
    }

    /// Sends a request built by hand (`app.request(..)`) and reads the answer.
    pub async fn send(&self, request: RequestBuilder) -> TestResponse {
        TestRequest { builder: request }.send().await
    }
}

// ---------------------------------------------------------------------------------------------
// A request, and its answer
// ---------------------------------------------------------------------------------------------

/// A request being built: add headers or a query, then `.await` it.
#[must_use]
pub struct TestRequest {
    builder: RequestBuilder,
}

impl TestRequest {
    pub fn header(self, name: &str, value: impl AsRef<str>) -> Self {
        TestRequest {
            builder: self.builder.header(name, value.as_ref()),
        }
    }

    pub fn if_match(self, etag: &str) -> Self {
        self.header("if-match", etag)
    }

    pub fn if_none_match(self, etag: &str) -> Self {
        self.header("if-none-match", etag)
    }

    pub fn idempotency_key(self, key: impl AsRef<str>) -> Self {
        self.header("idempotency-key", key)
    }

    /// Sent from client address `ip`, through the trusted test proxy (per-address limits count
    /// by it).
    pub fn forwarded_for(self, ip: impl AsRef<str>) -> Self {
        self.header("x-forwarded-for", ip)
    }

    pub fn query(self, query: &(impl Serialize + ?Sized)) -> Self {
        TestRequest {
            builder: self.builder.query(query),
        }
    }

    /// A raw body (a file to upload).
    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        TestRequest {
            builder: self.builder.body(body),
        }
    }

    fn json(self, body: impl Serialize) -> Self {
        TestRequest {
            builder: self.builder.json(&body),
        }
    }

    pub async fn send(self) -> TestResponse {
        let (client, request) = self.builder.build_split();
        let request = request.expect("a well-formed request");
        let method = request.method().clone();
        let url = request.url().to_string();
        let response = client
            .execute(request)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        TestResponse::read_as(format!("{method} {url}"), response).await
    }
}

impl IntoFuture for TestRequest {
    type Output = TestResponse;
    type IntoFuture = Pin<Box<dyn Future<Output = TestResponse> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// An answer, read in full. The assertions panic with the method, URL, status and body.
#[must_use]
pub struct TestResponse {
    /// The method and URL, for messages.
    what: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl TestResponse {
    /// Reads a response to a request sent some other way.
    pub async fn read(response: reqwest::Response) -> TestResponse {
        let url = response.url().to_string();
        Self::read_as(url, response).await
    }

    async fn read_as(what: String, response: reqwest::Response) -> TestResponse {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
        TestResponse {
            what,
            status,
            headers,
            body,
        }
    }

    /// The request's method and URL.
    pub fn what(&self) -> &str {
        &self.what
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value, if the response has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_else(|_| panic!("{name} is not text")))
    }

    #[track_caller]
    pub fn etag(&self) -> String {
        self.header("etag")
            .unwrap_or_else(|| panic!("{} has no ETag", self.what))
            .to_owned()
    }

    #[track_caller]
    pub fn location(&self) -> String {
        self.header("location")
            .unwrap_or_else(|| panic!("{} has no Location", self.what))
            .to_owned()
    }

    /// `Retry-After`, in seconds.
    #[track_caller]
    pub fn retry_after(&self) -> u64 {
        let value = self
            .header("retry-after")
            .unwrap_or_else(|| panic!("{} has no Retry-After", self.what));
        value
            .parse()
            .unwrap_or_else(|_| panic!("{}: Retry-After {value:?}", self.what))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as it came.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    #[track_caller]
    fn assert_status(&self, expected: u16) {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "{}: expected {expected}, got {}: {}",
            self.what,
            self.status,
            self.text()
        );
    }

    /// Asserts the status and deserializes the body.
    #[track_caller]
    pub fn expect<T: DeserializeOwned>(&self, status: u16) -> T {
        self.assert_status(status);
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not a {} ({e}): {}",
                self.what,
                std::any::type_name::<T>(),
                self.text()
            )
        })
    }

    /// 200 OK, and the body.
    #[track_caller]
    pub fn good<T: DeserializeOwned>(&self) -> T {
        self.expect(200)
    }

    /// 201 Created, and the body.
    #[track_caller]
    pub fn created<T: DeserializeOwned>(&self) -> T {
        self.expect(201)
    }

    /// 204 No Content, with an empty body.
    #[track_caller]
    pub fn no_content(&self) {
        self.assert_status(204);
        assert!(self.body.is_empty(), "{}: 204 with a body", self.what);
    }

    /// Asserts a problem response (status, content type, `code`, `status`, `type` and the
    /// request id matching `X-Request-Id`) and returns its body.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> Value {
        self.assert_status(status);
        assert_eq!(
            self.header("content-type").unwrap_or_default(),
            "application/problem+json"
        );
        let request_id = self
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{} has no X-Request-Id", self.what));
        let body: Value = self.expect(status);
        assert_eq!(body["code"], code, "problem body: {body}");
        assert_eq!(body["status"], status);
        assert_eq!(body["request_id"], request_id);
        assert!(body["type"].as_str().unwrap().ends_with(code));
        body
    }

    /// Asserts a 422 `validation_failed` whose errors name `field`; returns the body.
    #[track_caller]
    pub fn invalid_field(&self, field: &str) -> Value {
        let body = self.problem(422, "validation_failed");
        assert!(
            field_errors(&body).iter().any(|(f, _)| f == field),
            "expected an error on {field}: {body}"
        );
        body
    }
}

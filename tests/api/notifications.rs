//! Notifications (API.md §12): `assigned` from the task writes, the daily `due_soon` and
//! `overdue` reminders through the real job queue, the list (newest first, unread filter,
//! membership at read time), marking read, and `email_notifications` on the user.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

/// Every notification of the user, newest first (all pages of `limit`).
async fn notifications_of(user: &UserClient<'_>, unread: bool, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = user
            .get("/api/v1/me/notifications")
            .query(&[("limit", limit.to_string())]);
        if unread {
            request = request.query(&[("unread", "true")]);
        }
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Page<Value> = request.await.good();
        assert!(page.items.len() <= limit as usize);
        items.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return items,
        }
    }
}

async fn all_of(user: &UserClient<'_>) -> Vec<Value> {
    notifications_of(user, false, 100).await
}

fn of_kind<'a>(items: &'a [Value], kind: &str) -> Vec<&'a Value> {
    items.iter().filter(|n| n["kind"] == kind).collect()
}

async fn mark_read(user: &impl RequestHelper, body: Value) -> TestResponse {
    user.post("/api/v1/me/notifications/read", body).await
}

async fn patch_task(user: &UserClient<'_>, task: Uuid, body: Value) -> Task {
    user.patch(&task_path(task), body).await.good()
}

/// A project of `owner` with `member` as an editor.
async fn shared_project(owner: &UserClient<'_>, member: &TestUser) -> Uuid {
    let project = owner.create_project("Team").await.id;
    owner.add_member(project, member, "editor").await;
    project
}

/// `n` tasks of the project assigned to `assignee` by `by`, in creation order.
async fn assigned_tasks(
    by: &UserClient<'_>,
    project: Uuid,
    assignee: &TestUser,
    n: usize,
) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let task = by
            .create_task(
                project,
                json!({"title": format!("task {i}"), "assignee_id": assignee.id}),
            )
            .await;
        ids.push(task.id);
    }
    ids
}

#[tokio::test]
async fn assigning_someone_else_notifies_them_once_per_assignment() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = shared_project(&alice, &bob).await;

    let task = alice
        .create_task(
            project,
            json!({"title": "Write the report", "assignee_id": bob.id}),
        )
        .await;
    let task_id = task.id;
    let items = all_of(&bob).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let n = &items[0];
    assert_eq!(
        keys_of(n),
        ["actor", "created_at", "id", "kind", "read_at", "task"]
    );
    assert_eq!(n["kind"], "assigned");
    assert_eq!(
        n["task"],
        json!({"id": task_id, "project_id": project, "number": task.number,
               "title": "Write the report"})
    );
    assert_eq!(n["actor"]["id"], alice.id.to_string());
    assert_eq!(n["actor"]["name"], "Test User");
    assert_eq!(n["read_at"], Value::Null);
    assert!(is_utc_timestamp(&n["created_at"]));
    assert!(all_of(&alice).await.is_empty(), "the assigner is not told");

    // Other edits, and naming the same assignee again, are not a new assignment.
    patch_task(&alice, task_id, json!({"title": "Write the final report"})).await;
    patch_task(&alice, task_id, json!({"assignee_id": bob.id})).await;
    let items = all_of(&bob).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(
        items[0]["task"]["title"], "Write the final report",
        "the task as it is now"
    );

    // Unassigned and assigned again: a new assignment, a new notification.
    patch_task(&alice, task_id, json!({"assignee_id": null})).await;
    patch_task(&alice, task_id, json!({"assignee_id": bob.id})).await;
    assert_eq!(of_kind(&all_of(&bob).await, "assigned").len(), 2);

    // Nobody is notified of their own action.
    let own = alice
        .create_task(project, json!({"title": "Mine", "assignee_id": alice.id}))
        .await;
    let unassigned = alice
        .create_task(project, json!({"title": "Free"}))
        .await
        .id;
    patch_task(&bob, unassigned, json!({"assignee_id": bob.id})).await;
    assert!(all_of(&alice).await.is_empty());
    assert_eq!(all_of(&bob).await.len(), 2);
    // Bob handing a task to alice tells alice.
    patch_task(&bob, own.id, json!({"assignee_id": bob.id})).await;
    patch_task(&bob, own.id, json!({"assignee_id": alice.id})).await;
    let alices = all_of(&alice).await;
    assert_eq!(alices.len(), 1, "{alices:?}");
    assert_eq!(alices[0]["actor"]["id"], bob.id.to_string());

    // A move to another project keeping the assignee is not a new assignment.
    let other = shared_project(&alice, &bob).await;
    let moved = patch_task(&alice, task_id, json!({"project_id": other})).await;
    assert_eq!(moved.assignee_id, Some(bob.id));
    let items = all_of(&bob).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["task"]["project_id"], other.to_string());

    // One row per cause in the table too.
    let rows: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM notifications WHERE user_id = $1",
            &[&bob.id],
        )
        .await;
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn the_list_is_newest_first_in_pages_and_filters_unread() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = shared_project(&alice, &bob).await;
    let tasks = assigned_tasks(&alice, project, &bob, 5).await;

    let items = notifications_of(&bob, false, 2).await;
    let listed: Vec<&str> = items
        .iter()
        .map(|n| n["task"]["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<String> = tasks.iter().rev().map(Uuid::to_string).collect();
    assert_eq!(listed, newest_first);
    let first_page = bob
        .get("/api/v1/me/notifications?limit=2")
        .await
        .good::<Value>();
    assert_eq!(first_page["items"].as_array().unwrap().len(), 2);
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();

    let ids: Vec<&str> = items.iter().map(|n| n["id"].as_str().unwrap()).collect();
    mark_read(&bob, json!({"ids": [ids[0], ids[3]]}))
        .await
        .no_content();
    let unread = notifications_of(&bob, true, 2).await;
    let unread_ids: Vec<&str> = unread.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(unread_ids, [ids[1], ids[2], ids[4]]);
    assert!(unread.iter().all(|n| n["read_at"].is_null()));
    let everything = notifications_of(&bob, false, 100).await;
    assert_eq!(everything.len(), 5, "read ones stay in the full list");
    assert!(is_utc_timestamp(&everything[0]["read_at"]));
    let explicit = bob
        .get("/api/v1/me/notifications?unread=false")
        .await
        .good::<Value>();
    assert_eq!(explicit["items"].as_array().unwrap().len(), 5);

    for bad in ["yes", "1", "TRUE", ""] {
        let response = bob
            .get("/api/v1/me/notifications")
            .query(&[("unread", bad)])
            .await;
        response.problem(400, "invalid_query");
    }
    // A cursor of the full list is not one of the unread list, nor of another user's.
    let response = bob
        .get("/api/v1/me/notifications")
        .query(&[("unread", "true"), ("cursor", &cursor)])
        .await;
    response.problem(400, "invalid_query");
    let response = alice
        .get("/api/v1/me/notifications")
        .query(&[("cursor", &cursor)])
        .await;
    response.problem(400, "invalid_query");
    let anonymous = app.anon().get("/api/v1/me/notifications").await;
    anonymous.problem(401, "unauthenticated");
}

#[tokio::test]
async fn marking_read_touches_only_the_callers_notifications() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let carol = app.new_client().await;
    let project = shared_project(&alice, &bob).await;
    alice.add_member(project, &carol, "editor").await;
    assigned_tasks(&alice, project, &bob, 3).await;
    assigned_tasks(&alice, project, &carol, 1).await;
    let bobs = all_of(&bob).await;
    let carols = all_of(&carol).await;
    let carol_id = carols[0]["id"].as_str().unwrap();
    let first = bobs[0]["id"].as_str().unwrap();

    // Carol's id and an unknown one are ignored, not an error.
    let body = json!({"ids": [first, carol_id, Uuid::now_v7()]});
    mark_read(&bob, body.clone()).await.no_content();
    let read_at = all_of(&bob).await[0]["read_at"].clone();
    assert!(read_at.is_string());
    assert!(all_of(&carol).await[0]["read_at"].is_null());
    // Idempotent: again changes nothing, not even the time it was read.
    tokio::time::sleep(Duration::from_millis(20)).await;
    mark_read(&bob, body).await.no_content();
    assert_eq!(all_of(&bob).await[0]["read_at"], read_at);
    assert_eq!(notifications_of(&bob, true, 100).await.len(), 2);

    mark_read(&bob, json!({"all": true})).await.no_content();
    assert!(notifications_of(&bob, true, 100).await.is_empty());
    assert_eq!(all_of(&bob).await[0]["read_at"], read_at);
    mark_read(&bob, json!({"all": true})).await.no_content();
    let carols_unread: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
            &[&carol.id],
        )
        .await;
    assert_eq!(carols_unread, 1, "another user's rows are untouched");
    mark_read(&carol, json!({"ids": []})).await.no_content();

    let too_many: Vec<Uuid> = (0..101).map(|_| Uuid::now_v7()).collect();
    let hundred: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    mark_read(&carol, json!({ "ids": hundred }))
        .await
        .no_content();
    for (bad, field) in [
        (json!({}), "ids"),
        (json!({"ids": [first], "all": true}), "all"),
        (json!({"all": false}), "all"),
        (json!({"all": null}), "all"),
        (json!({"all": "yes"}), "all"),
        (json!({"ids": null}), "ids"),
        (json!({"ids": ["not-a-uuid"]}), "ids.0"),
        (json!({"ids": first}), "ids"),
        (json!({ "ids": too_many }), "ids"),
        (json!({"ids": [], "everything": true}), "everything"),
    ] {
        mark_read(&carol, bad.clone()).await.invalid_field(field);
    }
    assert!(all_of(&carol).await[0]["read_at"].is_null());
}

#[tokio::test]
async fn a_former_member_no_longer_sees_notifications_about_the_project() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = shared_project(&alice, &bob).await;
    let other = shared_project(&alice, &bob).await;
    assigned_tasks(&alice, project, &bob, 2).await;
    let kept = assigned_tasks(&alice, other, &bob, 1).await;
    assert_eq!(all_of(&bob).await.len(), 3);

    let removed = alice
        .delete(&format!("/api/v1/projects/{project}/members/{}", bob.id))
        .await;
    removed.no_content();
    let items = all_of(&bob).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["task"]["id"], kept[0].to_string());
    assert_eq!(notifications_of(&bob, true, 100).await.len(), 1);
    // Back as a member, they are there again (they were hidden, not deleted).
    alice.add_member(project, &bob, "viewer").await;
    assert_eq!(all_of(&bob).await.len(), 3);
}

#[tokio::test]
async fn email_notifications_default_to_true_and_can_be_switched_off() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let me = user.get("/api/v1/me").await.good::<Value>();
    assert_eq!(me["email_notifications"], true);

    let patched = user
        .patch("/api/v1/me", json!({"email_notifications": false}))
        .await
        .good::<Value>();
    assert_eq!(patched["email_notifications"], false);
    assert_eq!(patched["name"], "Test User", "the name is left as it was");
    // A name change alone leaves the setting as it is.
    let renamed = user
        .patch("/api/v1/me", json!({"name": "Grace"}))
        .await
        .good::<Value>();
    assert_eq!(renamed["name"], "Grace");
    assert_eq!(renamed["email_notifications"], false);
    let me = user.get("/api/v1/me").await.good::<Value>();
    assert_eq!(me["email_notifications"], false);

    for bad in [json!("no"), json!(0), json!(null), json!([true])] {
        let response = user
            .patch("/api/v1/me", json!({ "email_notifications": bad }))
            .await;
        response.invalid_field("email_notifications");
    }
    let me = user.get("/api/v1/me").await.good::<Value>();
    assert_eq!(me["email_notifications"], false);
    let stored: bool = app
        .db
        .scalar(
            "SELECT email_notifications FROM users WHERE id = $1",
            &[&user.id],
        )
        .await;
    assert!(!stored);
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn reminder_key(day: NaiveDate) -> String {
    format!("once:due-reminders:{day}")
}

/// Jobs of the day's reminders: (state, attempts).
async fn reminder_jobs(app: &TestApp, day: NaiveDate) -> Vec<(String, i32)> {
    app.db
        .rows(
            "SELECT state, attempts FROM jobs WHERE dedupe_key = $1",
            &[&reminder_key(day)],
        )
        .await
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Enqueues the day's reminders as the scheduler does and waits for a worker to run them.
async fn run_reminders(app: &TestApp, day: NaiveDate) {
    let added = docket::notifications::due::enqueue(&app.state.db, day)
        .await
        .unwrap();
    assert!(added, "the first enqueue of {day} adds the job");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let jobs = reminder_jobs(app, day).await;
        if jobs.iter().any(|(state, _)| state == "done") {
            assert_eq!(jobs, [("done".to_owned(), 1)]);
            return;
        }
        assert!(Instant::now() < deadline, "the job never ran: {jobs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (task title, kind) of the user's reminders, sorted.
async fn reminders_of(user: &UserClient<'_>) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = all_of(user)
        .await
        .iter()
        .filter(|n| n["kind"] == "due_soon" || n["kind"] == "overdue")
        .map(|n| {
            assert_eq!(n["actor"], Value::Null, "the server reminds: {n}");
            (
                n["task"]["title"].as_str().unwrap().to_owned(),
                n["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    pairs.sort();
    pairs
}

// Dates far from today, so that the reminders every test server enqueues for the real day
// leave these tasks alone.
#[tokio::test]
async fn the_daily_reminders_tell_assignees_of_open_tasks_due_tomorrow_or_overdue() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = shared_project(&alice, &bob).await;
    let task = |title: &str, due: &str, status: &str, assignee: Option<Uuid>| json!({"title": title, "due_date": due, "status": status, "assignee_id": assignee});
    let bob_id = Some(bob.id);
    for body in [
        task("tomorrow", "2031-03-11", "todo", bob_id),
        task("long overdue", "2031-03-07", "in_progress", bob_id),
        task("yesterday", "2031-03-09", "todo", bob_id),
        task("today", "2031-03-10", "todo", bob_id),
        task("in two days", "2031-03-12", "todo", bob_id),
        task("done late", "2031-03-09", "done", bob_id),
        task("canceled late", "2031-03-09", "canceled", bob_id),
        task("done tomorrow", "2031-03-11", "done", bob_id),
        task("nobody's", "2031-03-09", "todo", None),
        task("alice's own", "2031-03-11", "todo", Some(alice.id)),
    ] {
        alice.create_task(project, body).await;
    }

    run_reminders(&app, day("2031-03-10")).await;
    assert_eq!(
        reminders_of(&bob).await,
        pairs(&[
            ("tomorrow", "due_soon"),
            ("long overdue", "overdue"),
            ("yesterday", "overdue"),
        ])
    );
    // The server reminds alice of her own task: nobody acted.
    assert_eq!(
        reminders_of(&alice).await,
        pairs(&[("alice's own", "due_soon")])
    );

    // The same day again: the queue refuses a second job, and the reminders themselves, run
    // again, create nothing new.
    let again = docket::notifications::due::enqueue(&app.state.db, day("2031-03-10"))
        .await
        .unwrap();
    assert!(!again, "a finished day is not enqueued again");
    assert_eq!(reminder_jobs(&app, day("2031-03-10")).await.len(), 1);
    let created = docket::notifications::due::remind(&app.state.db, day("2031-03-10"))
        .await
        .unwrap();
    assert_eq!(created, 0);
    assert_eq!(reminders_of(&bob).await.len(), 3);

    // The next day reminds again, of what is due or overdue then.
    run_reminders(&app, day("2031-03-11")).await;
    assert_eq!(
        reminders_of(&bob).await,
        pairs(&[
            ("tomorrow", "due_soon"),
            ("long overdue", "overdue"),
            ("yesterday", "overdue"),
            ("long overdue", "overdue"),
            ("yesterday", "overdue"),
            ("today", "overdue"),
            ("in two days", "due_soon"),
        ])
    );
}

#[tokio::test]
async fn two_instances_on_one_database_enqueue_one_reminder_job_per_day() {
    // The hour is taken before the servers start: they enqueue it, as the current hour or as
    // one of the past day's.
    let hour = docket::notifications::due::hour_of(chrono::Utc::now());
    let first = spawn_app().await;
    let second = TestApp::build().on(&first.database_url).spawn().await;

    // Both schedulers enqueue this hour's reminders at start: one job exists, and it runs.
    let key = format!("once:due-reminders:{}", hour.format("%Y-%m-%dT%H"));
    let hour_jobs = || async {
        first
            .db
            .rows(
                "SELECT state, attempts FROM jobs WHERE dedupe_key = $1",
                &[&key],
            )
            .await
            .iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, i32>(1)))
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let jobs = hour_jobs().await;
        if jobs.iter().any(|(state, _)| state == "done") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "this hour's job never ran: {jobs:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hour_jobs().await.len(), 1);
    // And the past day's hours, once each.
    let hours: i64 = first
        .db
        .scalar(
            "SELECT count(DISTINCT dedupe_key) FROM jobs WHERE kind = 'due_reminders' \
             AND payload ? 'at'",
            &[],
        )
        .await;
    assert!((24..=25).contains(&hours), "{hours}");

    // Many tries at once from both instances for one day: exactly one adds the job.
    let other_day = day("2032-06-15");
    let tries = (0..6).map(|i| {
        let db = if i % 2 == 0 {
            first.state.db.clone()
        } else {
            second.state.db.clone()
        };
        async move {
            docket::notifications::due::enqueue(&db, other_day)
                .await
                .unwrap()
        }
    });
    let added = futures::future::join_all(tries).await;
    assert_eq!(added.iter().filter(|a| **a).count(), 1, "{added:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !reminder_jobs(&first, other_day)
        .await
        .iter()
        .any(|(state, _)| state == "done")
    {
        assert!(Instant::now() < deadline, "the job never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Finished, it is still not enqueued again that day, from either instance.
    for state in [&first.state, &second.state] {
        let added = docket::notifications::due::enqueue(&state.db, other_day)
            .await
            .unwrap();
        assert!(!added);
    }
    assert_eq!(
        reminder_jobs(&first, other_day).await,
        [("done".to_owned(), 1)]
    );
}

#[tokio::test]
async fn comment_notifications_are_listed_with_their_comment() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = shared_project(&alice, &bob).await;
    let task = alice
        .create_task(project, json!({"title": "Discuss"}))
        .await
        .id;
    let comment = bob
        .post(
            &format!("/api/v1/tasks/{task}/comments"),
            json!({"body": "Looks good to me"}),
        )
        .await
        .created::<Value>();
    let items = all_of(&alice).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let n = &items[0];
    assert_eq!(
        keys_of(n),
        [
            "actor",
            "comment_id",
            "created_at",
            "id",
            "kind",
            "read_at",
            "task"
        ]
    );
    assert_eq!(n["kind"], "commented");
    assert_eq!(n["comment_id"], comment["id"]);
    assert_eq!(n["actor"]["id"], bob.id.to_string());
    assert_eq!(n["task"]["id"], task.to_string());
    assert!(all_of(&bob).await.is_empty());
}

#[tokio::test]
async fn the_document_keeps_notification_kinds_apart_from_activity_kinds() {
    let app = spawn_app().await;
    let doc = app.anon().get("/api/v1/openapi.json").await.good::<Value>();
    let schemas = &doc["components"]["schemas"];
    let enum_of = |schema: &Value| -> Vec<String> {
        let name = schema["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
        schemas[name]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let notification = &schemas["Notification"];
    assert_eq!(
        enum_of(&notification["properties"]["kind"]),
        [
            "assigned",
            "mentioned",
            "commented",
            "due_soon",
            "overdue",
            "unblocked",
            "reminder",
            "webhook_disabled"
        ]
    );
    let entry_kinds = enum_of(&schemas["ActivityEntry"]["properties"]["kind"]);
    assert!(
        entry_kinds.contains(&"task.created".to_owned()),
        "{entry_kinds:?}"
    );
    let mut required: Vec<&str> = notification["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        ["actor", "created_at", "id", "kind", "read_at", "task"]
    );
    let body = &schemas["MarkReadRequest"]["oneOf"];
    assert_eq!(body[0]["properties"]["ids"]["maxItems"], 100);
    assert_eq!(body[1]["properties"]["all"]["enum"], json!([true]));
}

/// A personal API token of the user with these scopes.
async fn api_token(user: &UserClient<'_>, scopes: &[&str]) -> String {
    let created = user
        .post(
            "/api/v1/me/tokens",
            json!({"name": "notifications", "scopes": scopes}),
        )
        .await
        .created::<Value>();
    created["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_way_of_signing_in_reads_them_and_marking_read_needs_write() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = shared_project(&alice, &bob).await;
    assigned_tasks(&alice, project, &bob, 1).await;

    let read = api_token(&bob, &["read"]).await;
    let write = api_token(&bob, &["read", "write"]).await;
    for token in [&read, &write] {
        let page = app
            .with_token(token)
            .get("/api/v1/me/notifications")
            .await
            .good::<Value>();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
    }
    let refused = mark_read(&app.with_token(&read), json!({"all": true})).await;
    refused.problem(403, "insufficient_scope");
    assert_eq!(notifications_of(&bob, true, 100).await.len(), 1);

    let (cookie, csrf) = app.session_login(&bob.email, &bob.password).await;
    let session = app.with_session(&cookie, &csrf);
    let listed: Page<Value> = session.get("/api/v1/me/notifications").await.good();
    assert_eq!(listed.items.len(), 1);
    let no_csrf = mark_read(&app.with_cookie(&cookie), json!({"all": true})).await;
    no_csrf.problem(403, "csrf_failed");
    mark_read(&session, json!({"all": true})).await.no_content();
    assert!(notifications_of(&bob, true, 100).await.is_empty());
}

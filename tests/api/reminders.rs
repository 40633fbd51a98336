//! Task reminders (API.md §19): the list on a task and its checks, fire times relative to the
//! due date and time in the recipient's zone (09:00 without a time) and recomputed when what
//! they count from changes, delivery once as a `reminder` notification — after an outage too,
//! with two instances up, marked `late` past the threshold — and the relative ones carried by
//! a recurring task's next occurrence.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The fire times of a task's reminders, in list order.
async fn fire_times(user: &UserClient<'_>, task: Uuid) -> Vec<DateTime<Utc>> {
    user.get_task(task)
        .await
        .reminders
        .iter()
        .map(|r| utc(&r.fire_at))
        .collect()
}

/// The user's `reminder` notifications, newest first.
async fn reminder_notifications(user: &UserClient<'_>) -> Vec<Value> {
    let page: Page<Value> = user
        .get("/api/v1/me/notifications")
        .query(&[("limit", "100")])
        .await
        .good();
    page.items
        .into_iter()
        .filter(|n| n["kind"] == "reminder")
        .collect()
}

/// Waits until the user has `n` reminder notifications (at most `within`), and returns them.
async fn wait_for_reminders(user: &UserClient<'_>, n: usize, within: Duration) -> Vec<Value> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let found = reminder_notifications(user).await;
        if found.len() >= n {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} of {n} reminders within {within:?}: {found:?}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A server that scans for due reminders every second (`DOCKET_REMINDER_SCAN_S`).
fn scanning_every_second<'a>() -> AppBuilder<'a> {
    TestApp::build().config(|args| args.reminder_scan_s = Some("1".to_owned()))
}

#[tokio::test]
async fn every_bad_reminder_is_named_and_a_list_is_replaced_whole() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Reminders").await.id;

    let problem = alice
        .post(
            &tasks_path(project),
            json!({"title": "Bad", "due_date": "2031-01-10", "reminders": [
                {"before_minutes": 10}, {"before_minutes": -1}, {"before_minutes": 43_201},
                {"at": "next tuesday"}, {"before_minutes": 5, "at": "2031-01-01T00:00:00Z"},
                {"before_minutes": 10}, {"minutes": 3}, 7]}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        field_errors(&problem),
        [
            ("reminders".to_owned(), "too_many".to_owned()),
            (
                "reminders.1.before_minutes".to_owned(),
                "out_of_range".to_owned()
            ),
            (
                "reminders.2.before_minutes".to_owned(),
                "out_of_range".to_owned()
            ),
            ("reminders.3.at".to_owned(), "invalid".to_owned()),
            ("reminders.4".to_owned(), "invalid".to_owned()),
            ("reminders.5".to_owned(), "duplicate".to_owned()),
            ("reminders.6.minutes".to_owned(), "unknown_field".to_owned()),
            ("reminders.7".to_owned(), "invalid_type".to_owned()),
        ]
    );
    let six: Vec<Value> = (1..=6).map(|m| json!({"before_minutes": m})).collect();
    let problem = alice
        .post(
            &tasks_path(project),
            json!({"title": "Six", "due_date": "2031-01-10", "reminders": six}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        field_errors(&problem),
        [("reminders".to_owned(), "too_many".to_owned())]
    );
    // A relative reminder needs a due date; an absolute one does not.
    let problem = alice
        .post(
            &tasks_path(project),
            json!({"title": "No date", "reminders": [{"at": "2031-01-01T08:00:00Z"},
                                                      {"before_minutes": 30}]}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        field_errors(&problem),
        [(
            "reminders.1.before_minutes".to_owned(),
            "requires_due_date".to_owned()
        )]
    );

    let task = alice
        .create_task(
            project,
            json!({"title": "Good", "due_date": "2031-01-10", "due_time": "17:00",
                   "reminders": [{"before_minutes": 0}, {"at": "2031-01-01T08:00:00+01:00"},
                                 {"before_minutes": 43_200}]}),
        )
        .await;
    assert_eq!(task.reminders.len(), 3);
    assert_eq!(task.reminders[0].before_minutes, Some(0));
    assert_eq!(
        task.reminders[1].at.as_deref(),
        Some("2031-01-01T07:00:00Z")
    );
    assert!(task.reminders.iter().all(|r| r.sent_at.is_none()));
    assert_eq!(
        fire_times(&alice, task.id).await,
        [
            utc("2031-01-10T17:00:00Z"),
            utc("2031-01-01T07:00:00Z"),
            utc("2030-12-11T17:00:00Z")
        ]
    );
    // The list shows in the project's task list too.
    let page: Page<Task> = alice.get(&tasks_path(project)).await.good();
    assert_eq!(
        page.items[0].reminders,
        alice.get_task(task.id).await.reminders
    );

    // A bad PATCH changes nothing.
    let problem = alice
        .patch(
            &task_path(task.id),
            json!({"title": "Renamed", "reminders": [{"before_minutes": 1}, {"at": 3}]}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        field_errors(&problem),
        [("reminders.1.at".to_owned(), "invalid".to_owned())]
    );
    let unchanged = alice.get_task(task.id).await;
    assert_eq!(
        (unchanged.title.as_str(), unchanged.reminders.len()),
        ("Good", 3)
    );

    // A PATCH replaces the list; one without `reminders` keeps it.
    let patched: Task = alice
        .patch(
            &task_path(task.id),
            json!({"reminders": [{"before_minutes": 60}]}),
        )
        .await
        .good();
    assert_eq!(patched.reminders.len(), 1);
    assert_eq!(
        utc(&patched.reminders[0].fire_at),
        utc("2031-01-10T16:00:00Z")
    );
    let patched: Task = alice
        .patch(&task_path(task.id), json!({"title": "Kept"}))
        .await
        .good();
    assert_eq!(patched.reminders.len(), 1);
    // Clearing the due date takes the relative reminders with it, unless the patch sets some.
    alice
        .patch(
            &task_path(task.id),
            json!({"reminders": [{"before_minutes": 60}, {"at": "2031-02-01T00:00:00Z"}]}),
        )
        .await
        .good::<Task>();
    let problem = alice
        .patch(
            &task_path(task.id),
            json!({"due_date": null, "reminders": [{"before_minutes": 60}]}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(
        field_errors(&problem),
        [(
            "reminders.0.before_minutes".to_owned(),
            "requires_due_date".to_owned()
        )]
    );
    let cleared: Task = alice
        .patch(&task_path(task.id), json!({"due_date": null}))
        .await
        .good();
    assert_eq!(cleared.reminders.len(), 1);
    assert_eq!(
        cleared.reminders[0].at.as_deref(),
        Some("2031-02-01T00:00:00Z")
    );
    let emptied: Task = alice
        .patch(&task_path(task.id), json!({"reminders": null}))
        .await
        .good();
    assert!(emptied.reminders.is_empty());
    // Readers see the list; they cannot set one.
    let reader = app.new_client().await;
    alice.add_member(project, &reader, "viewer").await;
    reader
        .patch(&task_path(task.id), json!({"reminders": []}))
        .await
        .problem(403, "forbidden");
}

#[tokio::test]
async fn relative_reminders_count_in_the_recipient_s_zone_and_follow_every_change() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = alice.create_project("Zones").await.id;
    alice.add_member(project, &bob, "editor").await;
    alice
        .patch("/api/v1/me", json!({"time_zone": "Europe/Berlin"}))
        .await
        .good::<Value>();
    bob.patch("/api/v1/me", json!({"time_zone": "America/New_York"}))
        .await
        .good::<Value>();

    // Unassigned: the creator's zone. No due time: 09:00 there (CET, +1).
    let task = alice
        .create_task(
            project,
            json!({"title": "Pay rent", "due_date": "2031-01-10",
                   "reminders": [{"before_minutes": 30}, {"at": "2031-01-05T12:00:00Z"}]}),
        )
        .await;
    assert_eq!(
        fire_times(&alice, task.id).await,
        [utc("2031-01-10T07:30:00Z"), utc("2031-01-05T12:00:00Z")]
    );
    // A due time counts instead of 09:00; summer time in Berlin (+2).
    alice
        .patch(
            &task_path(task.id),
            json!({"due_date": "2031-07-01", "due_time": "18:15"}),
        )
        .await
        .good::<Task>();
    assert_eq!(
        fire_times(&alice, task.id).await,
        [utc("2031-07-01T15:45:00Z"), utc("2031-01-05T12:00:00Z")]
    );
    // Assigned to Bob: his zone (EDT, -4); the absolute one does not move.
    alice
        .patch(&task_path(task.id), json!({"assignee_id": bob.id}))
        .await
        .good::<Task>();
    assert_eq!(
        fire_times(&alice, task.id).await,
        [utc("2031-07-01T21:45:00Z"), utc("2031-01-05T12:00:00Z")]
    );
    // Bob moves to another zone.
    bob.patch("/api/v1/me", json!({"time_zone": "Asia/Tokyo"}))
        .await
        .good::<Value>();
    assert_eq!(
        fire_times(&alice, task.id).await,
        [utc("2031-07-01T08:45:00Z"), utc("2031-01-05T12:00:00Z")]
    );
    // Bob leaves the project: the task is unassigned, the creator receives it, in her zone.
    alice
        .delete(&member_path(project, bob.id))
        .await
        .no_content();
    let task_now = alice.get_task(task.id).await;
    assert_eq!(task_now.assignee_id, None);
    assert_eq!(
        fire_times(&alice, task.id).await,
        [utc("2031-07-01T15:45:00Z"), utc("2031-01-05T12:00:00Z")]
    );
    // The time removed: back to 09:00.
    alice
        .patch(&task_path(task.id), json!({"due_time": null}))
        .await
        .good::<Task>();
    assert_eq!(
        fire_times(&alice, task.id).await,
        [utc("2031-07-01T06:30:00Z"), utc("2031-01-05T12:00:00Z")]
    );
    // A subtask assigned to Bob moves with its parent to a project he is not in: unassigned
    // there, its reminder goes to Alice, counted in her zone (09:00 CET).
    alice.add_member(project, &bob, "editor").await;
    let parent = alice.create_task(project, json!({"title": "Parent"})).await;
    let child = alice
        .create_task(
            project,
            json!({"title": "Child", "parent_id": parent.id, "assignee_id": bob.id,
                   "due_date": "2031-01-10", "reminders": [{"before_minutes": 0}]}),
        )
        .await;
    assert_eq!(
        fire_times(&alice, child.id).await,
        [utc("2031-01-10T00:00:00Z")],
        "09:00 in Tokyo"
    );
    let elsewhere = alice.create_project("Elsewhere").await.id;
    alice
        .patch(&task_path(parent.id), json!({"project_id": elsewhere}))
        .await
        .good::<Task>();
    assert_eq!(alice.get_task(child.id).await.assignee_id, None);
    assert_eq!(
        fire_times(&alice, child.id).await,
        [utc("2031-01-10T08:00:00Z")]
    );
}

/// A due time, in UTC, whose whole minute is at least `ahead` seconds after now, and that
/// minute as an instant.
fn next_minute(ahead: i64) -> (String, DateTime<Utc>) {
    let at = Utc::now() + chrono::Duration::seconds(ahead + 60);
    let minute = at.with_second(0).unwrap().with_nanosecond(0).unwrap();
    (minute.format("%H:%M").to_string(), minute)
}

#[tokio::test]
async fn reminders_go_to_the_recipient_once_at_their_time_but_not_for_a_closed_task() {
    let app = scanning_every_second().spawn().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = alice.create_project("Sent").await.id;
    alice.add_member(project, &bob, "editor").await;

    // A relative reminder one minute before a due time 85–145 s away (UTC: Bob's zone), so
    // that it fires 25–85 s from now: after the absolute one (8 s), never before it.
    let (due_time, due) = next_minute(85);
    let relative = alice
        .create_task(
            project,
            json!({"title": "Relative", "due_date": due.date_naive(), "due_time": due_time,
                   "assignee_id": bob.id, "reminders": [{"before_minutes": 1}]}),
        )
        .await;
    assert_eq!(
        fire_times(&alice, relative.id).await,
        [due - chrono::Duration::minutes(1)]
    );
    let soon = rfc3339(Utc::now() + chrono::Duration::seconds(8));
    let absolute = alice
        .create_task(
            project,
            json!({"title": "Absolute", "assignee_id": bob.id, "reminders": [{"at": soon}]}),
        )
        .await;
    // Done before its time: never sent, not even once reopened.
    let closed = alice
        .create_task(
            project,
            json!({"title": "Closed", "assignee_id": bob.id, "reminders": [{"at": soon}]}),
        )
        .await;
    alice
        .patch(&task_path(closed.id), json!({"status": "done"}))
        .await
        .good::<Task>();
    // Its creator, the recipient while it is unassigned, left the project: not sent (a former
    // member hears nothing of the project, by email neither).
    let carol = app.new_client().await;
    alice.add_member(project, &carol, "editor").await;
    let left = carol
        .create_task(
            project,
            json!({"title": "Left", "reminders": [{"at": soon}]}),
        )
        .await;
    alice
        .delete(&member_path(project, carol.id))
        .await
        .no_content();
    // Set for a time already gone: never sent.
    alice
        .create_task(
            project,
            json!({"title": "Past", "assignee_id": bob.id,
                   "reminders": [{"at": "2020-01-01T00:00:00Z"}]}),
        )
        .await;

    let found = wait_for_reminders(&bob, 1, Duration::from_secs(30)).await;
    assert_eq!(found[0]["task"]["id"], json!(absolute.id));
    assert_eq!(found[0]["late"], json!(false));
    assert_eq!(found[0]["actor"], Value::Null);
    let sent = alice.get_task(absolute.id).await.reminders[0].clone();
    assert!(sent.sent_at.is_some());
    alice
        .patch(&task_path(closed.id), json!({"status": "todo"}))
        .await
        .good::<Task>();

    let found = wait_for_reminders(&bob, 2, Duration::from_secs(150)).await;
    assert_eq!(found[0]["task"]["id"], json!(relative.id));
    // A few scans later: still one each, none for the closed or past ones, none for Alice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let found = reminder_notifications(&bob).await;
    let mut titles: Vec<&str> = found
        .iter()
        .map(|n| n["task"]["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Absolute", "Relative"]);
    assert!(reminder_notifications(&alice).await.is_empty());
    assert_eq!(alice.get_task(closed.id).await.reminders[0].sent_at, None);
    assert_eq!(alice.get_task(left.id).await.reminders[0].sent_at, None);

    // A due date moved later makes the relative reminder due again, at its new time.
    let moved: Task = alice
        .patch(
            &task_path(relative.id),
            json!({"due_date": "2031-01-10", "due_time": "12:00"}),
        )
        .await
        .good();
    assert_eq!(moved.reminders[0].sent_at, None);
    assert_eq!(
        utc(&moved.reminders[0].fire_at),
        utc("2031-01-10T11:59:00Z")
    );
}

#[tokio::test]
async fn a_reminder_due_while_the_server_was_stopped_is_sent_once_after_restart_by_two_instances() {
    let first = scanning_every_second().spawn().await;
    let url = first.database_url.clone();
    let alice = first.new_client().await;
    let bob = first.new_client().await;
    let alice_user = (*alice).clone();
    let bob_user = (*bob).clone();
    let project = alice.create_project("Outage").await.id;
    alice.add_member(project, &bob, "editor").await;
    let start = Utc::now();
    // Due 8 s from now, and 30 s from now: both while no server runs.
    let long_ago = start + chrono::Duration::seconds(8);
    let just_before = start + chrono::Duration::seconds(30);
    for (title, at) in [("Long ago", long_ago), ("Just before", just_before)] {
        alice
            .create_task(
                project,
                json!({"title": title, "assignee_id": bob.id,
                       "reminders": [{"at": rfc3339(at)}]}),
            )
            .await;
    }
    first.stop().await;
    let restart = just_before + chrono::Duration::seconds(2);
    tokio::time::sleep((restart - Utc::now()).to_std().unwrap_or_default()).await;

    // Two instances come back; a reminder more than 20 s late is marked late here.
    let tuning = || docket::server::Tuning {
        reminder_late_after: Duration::from_secs(20),
        ..fast_tuning()
    };
    let one = scanning_every_second()
        .on(&url)
        .tuning(tuning())
        .spawn()
        .await;
    let two = scanning_every_second()
        .on(&url)
        .tuning(tuning())
        .spawn()
        .await;
    let bob_one = one.as_user(&bob_user);
    let found = wait_for_reminders(&bob_one, 2, Duration::from_secs(30)).await;
    // Both instances scan a few more times: nothing is sent twice.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let found_two = reminder_notifications(&two.as_user(&bob_user)).await;
    assert_eq!(found_two.len(), 2, "{found_two:?}");
    assert_eq!(found_two, reminder_notifications(&bob_one).await);
    for notification in &found {
        let created = utc(notification["created_at"].as_str().unwrap());
        assert!(created >= restart, "sent after the restart: {notification}");
        let late = notification["task"]["title"] == "Long ago";
        assert_eq!(notification["late"], json!(late), "{notification}");
    }
    assert!(reminder_notifications(&one.as_user(&alice_user))
        .await
        .is_empty());
}

#[tokio::test]
async fn the_next_occurrence_carries_the_relative_reminders_only() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Weekly").await.id;
    let task = alice
        .create_task(
            project,
            json!({"title": "Report", "due_date": "2031-03-03", "due_time": "10:00",
                   "recurrence": {"rule": "FREQ=WEEKLY", "from": "due"},
                   "reminders": [{"before_minutes": 120}, {"at": "2031-03-01T00:00:00Z"},
                                 {"before_minutes": 1440}]}),
        )
        .await;
    alice
        .patch(&task_path(task.id), json!({"status": "done"}))
        .await
        .good::<Task>();
    let page: Page<Task> = alice
        .get(&tasks_path(project))
        .query(&[("status", "todo")])
        .await
        .good();
    assert_eq!(page.items.len(), 1);
    let next = &page.items[0];
    assert_eq!(next.due_date.as_deref(), Some("2031-03-10"));
    let carried: Vec<(Option<i64>, Option<&str>, DateTime<Utc>)> = next
        .reminders
        .iter()
        .map(|r| (r.before_minutes, r.at.as_deref(), utc(&r.fire_at)))
        .collect();
    assert_eq!(
        carried,
        [
            (Some(120), None, utc("2031-03-10T08:00:00Z")),
            (Some(1440), None, utc("2031-03-09T10:00:00Z"))
        ]
    );
    // The completed one keeps its own list.
    assert_eq!(alice.get_task(task.id).await.reminders.len(), 3);
}

#[tokio::test]
async fn finished_periodic_scans_are_dropped_after_an_hour_and_other_jobs_after_a_week() {
    let url = create_test_database().await;
    let db = connect_db(&url).await;
    // Finished jobs from before this server started, by kind and age.
    let rows = [
        ("task_reminders", "done", "2 hours", false),
        ("notification_digests", "done", "2 hours", false),
        ("task_reminders", "done", "10 minutes", true),
        ("github_sync", "done", "2 hours", true),
        ("email", "failed", "8 days", false),
    ];
    let mut ids = Vec::new();
    for (kind, state, age, _) in rows {
        let id = Uuid::now_v7();
        db.execute(
            &format!(
                "INSERT INTO jobs (id, kind, payload, state, updated_at) \
                 VALUES ($1, $2, '{{}}', $3, now() - interval '{age}')"
            ),
            &[&id, &kind, &state],
        )
        .await;
        ids.push(id);
    }
    // The maintenance loop runs once at start-up.
    let app = TestApp::build().on(&url).spawn().await;
    let kept = |ids: Vec<Uuid>| {
        let db = &db;
        async move {
            let left: i64 = db
                .scalar("SELECT count(*) FROM jobs WHERE id = ANY($1)", &[&ids])
                .await;
            left
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let gone: Vec<Uuid> = ids
        .iter()
        .zip(rows)
        .filter(|(_, row)| !row.3)
        .map(|(id, _)| *id)
        .collect();
    while kept(gone.clone()).await > 0 {
        assert!(std::time::Instant::now() < deadline, "never purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stay: Vec<Uuid> = ids
        .iter()
        .zip(rows)
        .filter(|(_, row)| row.3)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        kept(stay).await,
        2,
        "a recent scan and a day-old sync are kept"
    );
    app.stop().await;
}

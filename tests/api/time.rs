//! Dates and recurrence (API.md §19): `start_date`, `due_time`, the user's `time_zone`,
//! recurring tasks completed into their next occurrence (exactly once, concurrently too,
//! through daylight-saving changes and the 31st), and the due reminders in each person's zone.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Every task of the project, in creation order.
async fn tasks_of(user: &UserClient<'_>, project: Uuid) -> Vec<Task> {
    let page: Page<Task> = user
        .get(&tasks_path(project))
        .query(&[("limit", "100")])
        .await
        .good();
    page.items
}

async fn complete(user: &UserClient<'_>, task: Uuid) -> Task {
    user.patch(&task_path(task), json!({"status": "done"}))
        .await
        .good()
}

/// The project's open tasks titled `title` (the occurrences still to do).
async fn open_named(user: &UserClient<'_>, project: Uuid, title: &str) -> Vec<Task> {
    tasks_of(user, project)
        .await
        .into_iter()
        .filter(|t| t.title == title && t.status == "todo")
        .collect()
}

#[tokio::test]
async fn a_user_chooses_an_iana_time_zone() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let me: Value = user.get("/api/v1/me").await.good();
    assert_eq!(me["time_zone"], "UTC", "the default");

    let me: Value = user
        .patch("/api/v1/me", json!({"time_zone": "Europe/Berlin"}))
        .await
        .good();
    assert_eq!(me["time_zone"], "Europe/Berlin");
    for bad in [
        json!("Mars/Olympus_Mons"),
        json!("europe/berlin"),
        json!(""),
        json!(7),
        json!(null),
    ] {
        user.patch("/api/v1/me", json!({ "time_zone": bad }))
            .await
            .invalid_field("time_zone");
    }
    // Both invalid fields are named, and nothing changed.
    let body = user
        .patch("/api/v1/me", json!({"time_zone": "Nowhere", "name": " "}))
        .await
        .invalid_field("time_zone");
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let me: Value = user.get("/api/v1/me").await.good();
    assert_eq!(me["time_zone"], "Europe/Berlin");
    assert_eq!(me["name"], "Test User");
}

#[tokio::test]
async fn tasks_have_a_start_date_and_a_due_time_only_with_a_due_date() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Dates").await.id;
    let task = user
        .create_task(
            project,
            json!({"title": "Plan", "due_date": "2027-05-10", "start_date": "2027-05-03",
                   "due_time": "09:30"}),
        )
        .await;
    assert_eq!(task.start_date.as_deref(), Some("2027-05-03"));
    assert_eq!(task.due_time.as_deref(), Some("09:30"));
    assert_eq!(task.recurrence, None);

    for (body, field) in [
        (
            json!({"title": "x", "due_date": "2027-05-10", "start_date": "2027-05-11"}),
            "start_date",
        ),
        (json!({"title": "x", "due_time": "09:00"}), "due_time"),
        (
            json!({"title": "x", "due_date": "2027-05-10", "due_time": "9:00"}),
            "due_time",
        ),
        (
            json!({"title": "x", "due_date": "2027-05-10", "due_time": "24:00"}),
            "due_time",
        ),
        (
            json!({"title": "x", "start_date": "2027-02-30"}),
            "start_date",
        ),
    ] {
        user.post(&tasks_path(project), body)
            .await
            .invalid_field(field);
    }
    assert_eq!(
        tasks_of(&user, project).await.len(),
        1,
        "nothing was created"
    );

    // A start after the due date, by either side's change, is refused and changes nothing.
    user.patch(&task_path(task.id), json!({"due_date": "2027-05-01"}))
        .await
        .invalid_field("start_date");
    user.patch(&task_path(task.id), json!({"start_date": "2027-06-01"}))
        .await
        .invalid_field("start_date");
    let unchanged: Task = user.get(&task_path(task.id)).await.good();
    assert_eq!(unchanged.version, task.version);

    // Clearing the due date takes its time along; a time alone is refused.
    let cleared: Task = user
        .patch(&task_path(task.id), json!({"due_date": null}))
        .await
        .good();
    assert_eq!((cleared.due_date, cleared.due_time), (None, None));
    assert_eq!(cleared.start_date.as_deref(), Some("2027-05-03"));
    user.patch(&task_path(task.id), json!({"due_time": "10:00"}))
        .await
        .invalid_field("due_time");
    let timed: Task = user
        .patch(
            &task_path(task.id),
            json!({"due_date": "2027-05-20", "due_time": "17:45"}),
        )
        .await
        .good();
    assert_eq!(timed.due_time.as_deref(), Some("17:45"));
}

#[tokio::test]
async fn recurrence_rules_are_checked_against_the_due_date() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Rules").await.id;
    let with = |rule: &str, due: Option<&str>| json!({"title": "r", "due_date": due, "recurrence": {"rule": rule, "from": "due"}});
    for (body, field) in [
        (
            with("FREQ=SOMETIMES", Some("2027-01-01")),
            "recurrence.rule",
        ),
        (with("FREQ=HOURLY", Some("2027-01-01")), "recurrence.rule"),
        (
            with("FREQ=DAILY;BYHOUR=9,17", Some("2027-01-01")),
            "recurrence.rule",
        ),
        (
            with("FREQ=DAILY;UNTIL=20261231T000000Z", Some("2027-01-01")),
            "recurrence.rule",
        ),
        (
            with("FREQ=WEEKLY;COUNT=2", Some("2027-01-01")),
            "recurrence.rule",
        ),
        (with("FREQ=DAILY", None), "recurrence"),
        (
            json!({"title": "r", "due_date": "2027-01-01",
                   "recurrence": {"rule": "FREQ=DAILY", "from": "whenever"}}),
            "recurrence.from",
        ),
    ] {
        let response = user.post(&tasks_path(project), body).await;
        assert_eq!(response.status(), 422, "{}", response.text());
        if field != "recurrence.from" {
            response.invalid_field(field);
        }
    }
    assert!(tasks_of(&user, project).await.is_empty());

    let task = user
        .create_task(
            project,
            with("RRULE:FREQ=WEEKLY;BYDAY=MO", Some("2027-01-04")),
        )
        .await;
    assert_eq!(
        task.recurrence,
        Some(json!({"rule": "FREQ=WEEKLY;BYDAY=MO", "from": "due"}))
    );
    // A recurring task keeps its due date.
    user.patch(&task_path(task.id), json!({"due_date": null}))
        .await
        .invalid_field("recurrence");
    let ended: Task = user
        .patch(&task_path(task.id), json!({"recurrence": null}))
        .await
        .good();
    assert_eq!(ended.recurrence, None);
}

#[tokio::test]
async fn completing_a_recurring_task_creates_its_next_occurrence_once() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = alice.create_project("Chores").await.id;
    alice.add_member(project, &bob, "editor").await;
    // 2027-01-06 is a Wednesday.
    let task = alice
        .create_task(
            project,
            json!({"title": "Standup notes", "description": "the usual", "priority": 3,
                   "labels": ["team"], "assignee_id": bob.id, "due_date": "2027-01-06",
                   "start_date": "2027-01-04", "due_time": "09:00",
                   "recurrence": {"rule": "FREQ=WEEKLY;BYDAY=MO,WE", "from": "due"}}),
        )
        .await;
    let sub = alice
        .create_task(
            project,
            json!({"title": "Collect updates", "parent_id": task.id, "status": "done"}),
        )
        .await;
    assert_eq!(sub.status, "done");

    let done = complete(&bob, task.id).await;
    assert_eq!(done.recurrence, None, "the completed task loses its rule");
    let next = open_named(&alice, project, "Standup notes").await;
    assert_eq!(next.len(), 1, "{next:?}");
    let next = &next[0];
    assert_ne!(next.id, task.id);
    assert!(next.number > task.number);
    assert_eq!(
        next.due_date.as_deref(),
        Some("2027-01-11"),
        "the next Monday"
    );
    assert_eq!(
        next.start_date.as_deref(),
        Some("2027-01-09"),
        "two days before"
    );
    assert_eq!(next.due_time.as_deref(), Some("09:00"));
    assert_eq!(next.recurrence, task.recurrence);
    assert_eq!(
        (
            &next.description,
            next.priority,
            &next.labels,
            next.assignee_id
        ),
        (&task.description, 3, &vec!["team".to_owned()], Some(bob.id))
    );
    // Its subtasks are copied undone.
    assert_eq!(next.subtasks.total, 1);
    assert_eq!(next.subtasks.done, 0);
    let copies: Vec<Task> = tasks_of(&alice, project)
        .await
        .into_iter()
        .filter(|t| t.parent_id == Some(next.id))
        .collect();
    assert_eq!(copies.len(), 1);
    assert_eq!(
        (copies[0].title.as_str(), copies[0].status.as_str()),
        ("Collect updates", "todo")
    );

    // The history links both.
    let linked = poll_until(|| async {
        let page: Page<Value> = alice
            .get(&format!("/api/v1/tasks/{}/activity", task.id))
            .await
            .good();
        page.items
            .into_iter()
            .find(|e| e["kind"] == "task.recurred")
    })
    .await;
    let change = linked["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "next_task_id")
        .unwrap()
        .clone();
    assert_eq!(change["to"], next.id.to_string());

    // Reopened and completed again, it makes no second one.
    bob.patch(&task_path(task.id), json!({"status": "todo"}))
        .await
        .good::<Task>();
    complete(&bob, task.id).await;
    assert_eq!(open_named(&alice, project, "Standup notes").await.len(), 1);
    assert_eq!(tasks_of(&alice, project).await.len(), 4);

    // Completing the next one by a move to the done column makes the one after.
    alice
        .post(
            &format!("/api/v1/tasks/{}/move", next.id),
            json!({"status": "done"}),
        )
        .await
        .good::<Task>();
    let after = open_named(&alice, project, "Standup notes").await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].due_date.as_deref(), Some("2027-01-13"));
}

#[tokio::test]
async fn deleting_a_state_into_done_completes_its_recurring_tasks_into_their_next_occurrence() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("Chores").await.id;
    let review: State = alice
        .post(
            &states_path(project),
            json!({"name": "Review", "category": "in_progress"}),
        )
        .await
        .created();
    let done = alice
        .states(project)
        .await
        .into_iter()
        .find(|s| s.category == "done" && s.is_default)
        .unwrap();
    for (title, due) in [("Water", "2027-02-01"), ("Sweep", "2027-02-03")] {
        alice
            .create_task(
                project,
                json!({"title": title, "due_date": due, "state_id": review.id,
                       "recurrence": {"rule": "FREQ=DAILY", "from": "due"}}),
            )
            .await;
    }
    let plain = alice
        .create_task(project, json!({"title": "Once", "state_id": review.id}))
        .await;
    alice
        .delete(&format!("{}?move_to={}", state_path(review.id), done.id))
        .await
        .no_content();
    for (title, next_due) in [("Water", "2027-02-02"), ("Sweep", "2027-02-04")] {
        let next = open_named(&alice, project, title).await;
        assert_eq!(next.len(), 1, "{title}: {next:?}");
        assert_eq!(next[0].due_date.as_deref(), Some(next_due));
        assert!(
            next[0].recurrence.is_some(),
            "the next one carries the rule"
        );
    }
    let all = tasks_of(&alice, project).await;
    assert_eq!(
        all.len(),
        5,
        "two next occurrences, none for a task without a rule"
    );
    assert!(all
        .iter()
        .filter(|t| t.status == "done")
        .all(|t| t.recurrence.is_none()));
    assert_eq!(alice.get_task(plain.id).await.status, "done");
}

/// Polls `f` until it gives a value (the history is numbered just after the commit).
async fn poll_until<T, F, Fut>(f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(value) = f().await {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "never came");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn concurrent_completes_create_exactly_one_next_occurrence() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Race").await.id;
    for round in 0..3 {
        let title = format!("Water the plants {round}");
        let task = user
            .create_task(
                project,
                json!({"title": title, "due_date": "2027-02-01",
                       "recurrence": {"rule": "FREQ=DAILY", "from": "due"}}),
            )
            .await;
        let completes = (0..8).map(|_| {
            let user = &user;
            async move {
                user.patch(&task_path(task.id), json!({"status": "done"}))
                    .await
                    .status()
            }
        });
        let statuses = futures::future::join_all(completes).await;
        assert!(
            statuses.iter().all(|s| s.is_success() || s.as_u16() == 409),
            "{statuses:?}"
        );
        let next = open_named(&user, project, &title).await;
        assert_eq!(next.len(), 1, "round {round}: {next:?}");
        assert_eq!(next[0].due_date.as_deref(), Some("2027-02-02"));
    }
}

#[tokio::test]
async fn occurrences_keep_their_dates_through_daylight_saving_changes_and_the_31st() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Calendar").await.id;
    // (zone, rule, due, due time, next due): Berlin changes on 2027-03-28 and 2027-10-31,
    // New York on 2027-03-14 and 2027-11-07.
    let cases = [
        (
            "Europe/Berlin",
            "FREQ=DAILY",
            "2027-03-27",
            "02:30",
            "2027-03-28",
        ),
        (
            "Europe/Berlin",
            "FREQ=WEEKLY",
            "2027-10-30",
            "09:00",
            "2027-11-06",
        ),
        (
            "America/New_York",
            "FREQ=DAILY",
            "2027-03-13",
            "02:30",
            "2027-03-14",
        ),
        (
            "America/New_York",
            "FREQ=DAILY;INTERVAL=2",
            "2027-11-06",
            "01:30",
            "2027-11-08",
        ),
        (
            "Europe/Berlin",
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "2027-01-31",
            "18:00",
            "2027-03-31",
        ),
        (
            "America/New_York",
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "2027-01-31",
            "18:00",
            "2027-02-28",
        ),
        (
            "Europe/Berlin",
            "FREQ=MONTHLY;BYDAY=-1FR",
            "2027-01-29",
            "12:00",
            "2027-02-26",
        ),
        (
            "America/New_York",
            "FREQ=YEARLY",
            "2028-02-29",
            "08:00",
            "2032-02-29",
        ),
    ];
    for (i, (zone, rule, due, time, expected)) in cases.into_iter().enumerate() {
        user.patch("/api/v1/me", json!({ "time_zone": zone }))
            .await
            .good::<Value>();
        let title = format!("case {i}");
        let task = user
            .create_task(
                project,
                json!({"title": title, "due_date": due, "due_time": time, "assignee_id": user.id,
                       "recurrence": {"rule": rule, "from": "due"}}),
            )
            .await;
        complete(&user, task.id).await;
        let next = open_named(&user, project, &title).await;
        assert_eq!(next.len(), 1, "{zone} {rule}");
        assert_eq!(
            next[0].due_date.as_deref(),
            Some(expected),
            "{zone} {rule} {due}"
        );
        assert_eq!(
            next[0].due_time.as_deref(),
            Some(time),
            "the wall-clock time stays"
        );
    }
}

#[tokio::test]
async fn from_completion_restarts_the_rule_on_the_day_of_completion_in_the_assignee_s_zone() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = alice.create_project("Plants").await.id;
    alice.add_member(project, &bob, "editor").await;
    // A zone whose date differs from UTC's now, so that the zone visibly decides.
    let now = Utc::now();
    let zone = if now.format("%H").to_string().parse::<u32>().unwrap() >= 12 {
        "Etc/GMT-14"
    } else {
        "Etc/GMT+12"
    };
    bob.patch("/api/v1/me", json!({ "time_zone": zone }))
        .await
        .good::<Value>();
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let local_day = |at: DateTime<Utc>| at.with_timezone(&tz).date_naive();

    let task = alice
        .create_task(
            project,
            json!({"title": "Repot", "due_date": "2020-01-01", "assignee_id": bob.id,
                   "recurrence": {"rule": "FREQ=DAILY;INTERVAL=3", "from": "completion"}}),
        )
        .await;
    let before = local_day(Utc::now());
    // Alice (in UTC) completes it: the assignee's zone counts.
    complete(&alice, task.id).await;
    let after = local_day(Utc::now());
    let next = open_named(&alice, project, "Repot").await;
    assert_eq!(next.len(), 1);
    let due = date(next[0].due_date.as_deref().unwrap());
    assert!(
        due == before + chrono::Days::new(3) || due == after + chrono::Days::new(3),
        "{due} is not three days after {before} in {zone}"
    );
    assert_ne!(
        due,
        Utc::now().date_naive() + chrono::Days::new(3),
        "not UTC's day"
    );
}

/// (task title, kind) of the user's due reminders, sorted.
async fn kinds(user: &UserClient<'_>) -> Vec<(String, String)> {
    let page: Page<Value> = user
        .get("/api/v1/me/notifications")
        .query(&[("limit", "100")])
        .await
        .good();
    let mut found: Vec<(String, String)> = page
        .items
        .iter()
        .filter(|n| n["kind"] == "due_soon" || n["kind"] == "overdue")
        .map(|n| {
            (
                n["task"]["title"].as_str().unwrap().to_owned(),
                n["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn due_reminders_come_when_the_assignee_s_own_day_begins() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    let project = alice.create_project("Zones").await.id;
    alice.add_member(project, &bob, "editor").await;
    bob.patch("/api/v1/me", json!({"time_zone": "Pacific/Auckland"}))
        .await
        .good::<Value>();
    for (title, due, who) in [
        ("bob tomorrow", "2031-03-11", bob.id),
        ("bob late", "2031-03-09", bob.id),
        ("alice tomorrow", "2031-03-11", alice.id),
    ] {
        alice
            .create_task(
                project,
                json!({"title": title, "due_date": due, "assignee_id": who}),
            )
            .await;
    }
    let hour = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    // 11:00 UTC on 9 March is midnight of 10 March in Auckland (summer time, +13): Bob's day
    // begins, Alice's (UTC) does not.
    let created =
        docket::notifications::due::remind_hour(&app.state.db, hour("2031-03-09T11:00:00Z"))
            .await
            .unwrap();
    assert_eq!(created, 2);
    assert_eq!(
        kinds(&bob).await,
        [
            ("bob late".to_owned(), "overdue".to_owned()),
            ("bob tomorrow".to_owned(), "due_soon".to_owned())
        ]
    );
    assert!(kinds(&alice).await.is_empty());
    // The same hour again reminds nobody twice.
    let again =
        docket::notifications::due::remind_hour(&app.state.db, hour("2031-03-09T11:00:00Z"))
            .await
            .unwrap();
    assert_eq!(again, 0);
    // Alice's 10 March begins at midnight UTC.
    docket::notifications::due::remind_hour(&app.state.db, hour("2031-03-10T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        kinds(&alice).await,
        [("alice tomorrow".to_owned(), "due_soon".to_owned())]
    );
    assert_eq!(kinds(&bob).await.len(), 2);
}

fn timer_path(task: Uuid) -> String {
    format!("/api/v1/tasks/{task}/timer")
}

fn time_path(task: Uuid) -> String {
    format!("/api/v1/tasks/{task}/time")
}

async fn spent(user: &UserClient<'_>, task: Uuid) -> i64 {
    user.get(&task_path(task))
        .await
        .good::<Task>()
        .time_spent_minutes
}

#[tokio::test]
async fn one_timer_runs_per_user_and_stopping_it_finishes_the_entry() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Timers").await.id;
    let first = user.create_task(project, json!({"title": "One"})).await.id;
    let second = user.create_task(project, json!({"title": "Two"})).await.id;

    let running: Value = user.post(&timer_path(first), json!({})).await.created();
    assert_eq!(running["ended_at"], Value::Null);
    assert_eq!(running["task_id"], first.to_string());
    assert_eq!(running["user"]["id"], user.id.to_string());
    // Starting another stops the first.
    user.post(&timer_path(second), json!({}))
        .await
        .created::<Value>();
    user.delete(&timer_path(first))
        .await
        .problem(404, "not_found");
    let report: Value = user.get("/api/v1/me/time").await.good();
    let items = report["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(!items[0]["ended_at"].is_null(), "{report}");
    assert!(items[1]["ended_at"].is_null(), "{report}");

    let stopped: Value = user.delete(&timer_path(second)).await.good();
    assert!(stopped["ended_at"].is_string());
    assert_eq!(stopped["minutes"], 0, "under a minute");
    user.delete(&timer_path(second))
        .await
        .problem(404, "not_found");

    // Concurrent starts leave exactly one timer running.
    let tasks = [first, second, first, second, first, second];
    let starts = tasks
        .iter()
        .map(|task| user.post(&timer_path(*task), json!({})).send());
    for response in futures::future::join_all(starts).await {
        assert!(
            response.status() == 201 || response.status() == 409,
            "{}",
            response.text()
        );
    }
    let running: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM time_entries WHERE user_id = $1 AND ended_at IS NULL",
            &[&user.id],
        )
        .await;
    assert_eq!(running, 1);
}

#[tokio::test]
async fn entries_by_hand_keep_the_task_s_total_and_only_their_author_or_an_admin_changes_them() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let editor = app.new_client().await;
    let viewer = app.new_client().await;
    let stranger = app.new_client().await;
    let project = owner.create_project("Hours").await.id;
    owner.add_member(project, &editor, "editor").await;
    owner.add_member(project, &viewer, "viewer").await;
    let task = owner
        .create_task(project, json!({"title": "Build"}))
        .await
        .id;

    let mine: Value = editor
        .post(
            &time_path(task),
            json!({"minutes": 45, "started_at": "2027-03-01T09:00:00Z", "note": "first go"}),
        )
        .await
        .created();
    assert_eq!(mine["ended_at"], "2027-03-01T09:45:00Z");
    assert_eq!(mine["minutes"], 45);
    let owners: Value = owner
        .post(&time_path(task), json!({"minutes": 30}))
        .await
        .created();
    assert_eq!(spent(&owner, task).await, 75);

    for (body, field) in [
        (json!({"minutes": 0}), "minutes"),
        (json!({"minutes": 100001}), "minutes"),
        (json!({"minutes": 10, "note": "x".repeat(1001)}), "note"),
        (
            json!({"minutes": 10, "started_at": "yesterday"}),
            "started_at",
        ),
    ] {
        editor
            .post(&time_path(task), body)
            .await
            .invalid_field(field);
    }
    viewer
        .post(&time_path(task), json!({"minutes": 5}))
        .await
        .problem(403, "forbidden");
    stranger
        .post(&time_path(task), json!({"minutes": 5}))
        .await
        .problem(404, "not_found");
    assert_eq!(spent(&owner, task).await, 75, "nothing refused counted");

    let entry = |v: &Value| format!("/api/v1/time/{}", v["id"].as_str().unwrap());
    // The author changes theirs; the length moves the end and the total.
    let changed: Value = editor
        .patch(&entry(&mine), json!({"minutes": 15, "note": "shorter"}))
        .await
        .good();
    assert_eq!(changed["ended_at"], "2027-03-01T09:15:00Z");
    assert_eq!(spent(&owner, task).await, 45);
    // Not someone else's, unless an admin of the project.
    editor
        .patch(&entry(&owners), json!({"minutes": 1}))
        .await
        .problem(403, "forbidden");
    stranger
        .delete(&entry(&owners))
        .await
        .problem(404, "not_found");
    owner
        .patch(&entry(&mine), json!({"note": "checked"}))
        .await
        .good::<Value>();
    owner.delete(&entry(&mine)).await.no_content();
    assert_eq!(spent(&owner, task).await, 30);
    // Deleting the task takes its entries along.
    owner.delete(&task_path(task)).await.no_content();
    let left: i64 = app
        .db
        .scalar("SELECT count(*) FROM time_entries", &[])
        .await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn reports_page_through_entries_with_the_total_of_all_and_export_csv() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let editor = app.new_client().await;
    let project = owner.create_project("Report").await.id;
    owner.add_member(project, &editor, "editor").await;
    let task = owner
        .create_task(project, json!({"title": "Work"}))
        .await
        .id;
    let other = owner.create_project("Elsewhere").await.id;
    let elsewhere = owner.create_task(other, json!({"title": "Else"})).await.id;
    // Berlin: 23:30 UTC on 1 March is already 2 March there.
    owner
        .patch("/api/v1/me", json!({"time_zone": "Europe/Berlin"}))
        .await
        .good::<Value>();
    for (who, at, minutes, note) in [
        (&owner, "2027-03-01T10:00:00Z", 60, "=cmd()"),
        (&owner, "2027-03-01T23:30:00Z", 20, "late, \"quoted\""),
        (&editor, "2027-03-02T09:00:00Z", 40, ""),
        (&owner, "2027-03-05T09:00:00Z", 5, ""),
    ] {
        who.post(
            &time_path(task),
            json!({"minutes": minutes, "started_at": at, "note": note}),
        )
        .await
        .created::<Value>();
    }
    owner
        .post(
            &time_path(elsewhere),
            json!({"minutes": 7, "started_at": "2027-03-02T09:00:00Z"}),
        )
        .await
        .created::<Value>();

    let path = format!("/api/v1/projects/{project}/time");
    // Pages of one: the total is of every match on every page.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = owner.get(&path).query(&[("limit", "1")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Value = request.await.good();
        assert_eq!(page["total_minutes"], 125);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["minutes"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, [60, 20, 40, 5]);

    // Days in the caller's zone: 2 March in Berlin holds the 23:30 UTC entry of 1 March.
    let day: Value = owner
        .get(&path)
        .query(&[("from", "2027-03-02"), ("to", "2027-03-02")])
        .await
        .good();
    assert_eq!(day["total_minutes"], 60);
    let theirs: Value = owner
        .get(&path)
        .query(&[("user", editor.id.to_string())])
        .await
        .good();
    assert_eq!(theirs["total_minutes"], 40);
    for bad in [("from", "2027-3-2"), ("format", "xml"), ("user", "nobody")] {
        owner
            .get(&path)
            .query(&[bad])
            .await
            .problem(400, "invalid_query");
    }

    // Mine: every project, only mine.
    let mine: Value = owner.get("/api/v1/me/time").await.good();
    assert_eq!(mine["total_minutes"], 60 + 20 + 5 + 7);
    let editors: Value = editor.get("/api/v1/me/time").await.good();
    assert_eq!(editors["total_minutes"], 40);

    // CSV: every match, quoted, formulas defused, the total in a header.
    let csv = owner.get(&path).query(&[("format", "csv")]).await;
    assert_eq!(csv.status(), 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert_eq!(csv.header("x-total-minutes"), Some("125"));
    let text = csv.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("id,task_id,user_id"));
    assert!(lines[1].ends_with(",60,'=cmd()"), "{text}");
    assert!(lines[2].ends_with(",20,\"late, \"\"quoted\"\"\""), "{text}");
}

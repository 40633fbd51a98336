//! Live events (API.md §11): `GET /api/v1/events` as Server-Sent Events — every committed entry
//! exactly once and in id order across reconnects, nothing for a rolled-back change, membership
//! checked at delivery, narrowing, resume points, heartbeats, bounds, other instances.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

/// One dispatched event.
#[derive(Debug, Clone)]
pub(crate) struct SseEvent {
    pub(crate) id: Option<i64>,
    pub(crate) event: String,
    pub(crate) data: Value,
}

/// What the stream produced next.
#[derive(Debug)]
enum Item {
    Event(SseEvent),
    /// A comment line (the heartbeat).
    Comment,
    /// The server ended the stream.
    End,
}

/// A small Server-Sent Events reader over reqwest's streaming body.
pub(crate) struct Stream {
    response: Response,
    buffer: String,
}

impl Stream {
    pub(crate) fn new(response: Response) -> Self {
        assert_eq!(response.status(), 200, "{}", response.url());
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next item; panics when nothing comes `within`.
    async fn item(&mut self, within: Duration) -> Item {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return parse_block(&block);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("nothing from the stream within {within:?}"))
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => {
                    assert!(self.buffer.trim().is_empty(), "cut off: {:?}", self.buffer);
                    return Item::End;
                }
            }
        }
    }

    /// The next event, skipping heartbeats; `None` when the stream ended.
    pub(crate) async fn event(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.item(left.max(Duration::from_millis(1))).await {
                Item::Event(event) => return Some(event),
                Item::Comment => continue,
                Item::End => return None,
            }
        }
    }

    /// Asserts that no event comes for `quiet` (heartbeats may).
    pub(crate) async fn assert_quiet(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(deadline, self.item(quiet * 2)).await {
                Err(_) => return,
                Ok(Item::Comment) => continue,
                Ok(other) => panic!("expected quiet, got {other:?}"),
            }
        }
    }

    /// Asserts that the server ends the stream within `within` (without sending an event).
    async fn assert_ends(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.item(left.max(Duration::from_millis(1))).await {
                Item::End => return,
                Item::Comment => continue,
                Item::Event(event) => panic!("expected the end, got {event:?}"),
            }
        }
    }
}

fn parse_block(block: &str) -> Item {
    let (mut id, mut event, mut data, mut fields) = (None, None, Vec::new(), 0);
    for line in block.lines() {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        fields += 1;
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.parse().expect("a numeric id")),
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value.to_owned()),
            other => panic!("unexpected field {other:?} in {block:?}"),
        }
    }
    if fields == 0 {
        return Item::Comment;
    }
    let data = data.join("\n");
    Item::Event(SseEvent {
        id,
        event: event.expect("every event names its kind"),
        data: serde_json::from_str(&data).unwrap_or_else(|e| panic!("data {data:?}: {e}")),
    })
}

pub(crate) const SOON: Duration = Duration::from_secs(5);

async fn open(app: &TestApp, user: &TestUser, query: &str) -> Stream {
    Stream::new(open_raw(app, user, query, None).await)
}

pub(crate) async fn open_raw(
    app: &TestApp,
    user: &TestUser,
    query: &str,
    last_event_id: Option<&str>,
) -> Response {
    let mut request = app
        .request(Method::GET, &format!("/api/v1/events{query}"))
        .bearer_auth(&user.token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.unwrap()
}

/// A refused stream's answer, read in full. A 200 fails first: it is a stream, whose body would
/// never end.
async fn refusal(response: Response) -> TestResponse {
    let url = response.url().clone();
    assert_ne!(response.status(), 200, "{url}: a stream, not a refusal");
    TestResponse::read(response).await
}

async fn new_task(user: &UserClient<'_>, project: Uuid, title: &str) -> Uuid {
    user.create_task(project, json!({ "title": title }))
        .await
        .id
}

/// Asserts the event is the entry of that kind about that task, and consistent with itself.
fn assert_entry(event: &SseEvent, kind: &str, task: Uuid) {
    assert_eq!(event.event, kind, "{event:?}");
    assert_eq!(event.data["kind"], kind);
    assert_eq!(event.data["task_id"], task.to_string(), "{event:?}");
    assert_eq!(event.data["id"].as_i64(), event.id, "{event:?}");
}

/// The ids of every committed entry, once the journal has numbered them all.
async fn activity_ids(app: &TestApp) -> Vec<i64> {
    app.journal_settled().await;
    app.db
        .rows("SELECT id FROM activity ORDER BY id", &[])
        .await
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn concurrent_writers_and_a_reader_that_reconnects_see_every_entry_once_in_order() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Busy").await.id;
    const WRITERS: usize = 20;
    const TASKS_EACH: usize = 4;

    // The writers and the reader take turns on this test's thread, as spawned tasks would.
    let writers_done = std::cell::Cell::new(false);
    let writers = async {
        let each = (0..WRITERS).map(|w| {
            let owner = &owner;
            async move {
                for t in 0..TASKS_EACH {
                    let task = owner
                        .create_task(project, json!({ "title": format!("w{w} t{t}") }))
                        .await;
                    let response = owner
                        .patch(&task_path(task.id), json!({ "status": "in_progress" }))
                        .await;
                    assert_eq!(response.status(), 200);
                }
            }
        });
        futures::future::join_all(each).await;
        writers_done.set(true);
    };

    // From the very start (`after=0`), reconnecting after a random number of events, by
    // Last-Event-ID or by `after`, while the writers run.
    let reader = async {
        let mut received: Vec<i64> = Vec::new();
        let mut stream = open(&app, &owner, "?after=0").await;
        let mut reconnects = 0;
        let mut until_reconnect = rand::thread_rng().gen_range(1..12);
        loop {
            if writers_done.get() && received.last() == activity_ids(&app).await.last() {
                break;
            }
            if until_reconnect == 0 {
                drop(stream);
                let last = received.last().copied().unwrap_or(0).to_string();
                stream = if reconnects % 2 == 0 {
                    Stream::new(open_raw(&app, &owner, "?after=0", Some(&last)).await)
                } else {
                    open(&app, &owner, &format!("?after={last}")).await
                };
                reconnects += 1;
                until_reconnect = rand::thread_rng().gen_range(1..12);
            }
            match tokio::time::timeout(Duration::from_millis(500), stream.event(SOON)).await {
                Ok(Some(event)) => {
                    received.push(event.id.expect("every entry has an id"));
                    assert_eq!(event.data["id"].as_i64(), event.id);
                    until_reconnect -= 1;
                }
                Ok(None) => panic!("the stream ended"),
                // Quiet for now: check whether everything arrived.
                Err(_) => {}
            }
        }
        (received, reconnects)
    };
    let ((), (received, reconnects)) = tokio::join!(writers, reader);
    let committed = activity_ids(&app).await;
    assert!(
        committed.len() >= WRITERS * TASKS_EACH * 2,
        "{}",
        committed.len()
    );
    assert!(reconnects >= 5, "only {reconnects} reconnects");
    // Every committed entry exactly once, in id order.
    assert_eq!(received, committed);
}

/// What a reader saw of one entry: enough to tell entries apart.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    id: i64,
    kind: String,
    project: Value,
    task: Value,
}

fn seen(event: &SseEvent) -> Seen {
    assert_eq!(event.data["id"].as_i64(), event.id, "{event:?}");
    Seen {
        id: event.id.expect("every entry has an id"),
        kind: event.event.clone(),
        project: event.data["project_id"].clone(),
        task: event.data["task_id"].clone(),
    }
}

/// Follows every entry from the start (`after=0`) until `done` and the last committed entry
/// arrived. With `reconnect`, drops the stream after a random number of events and resumes on
/// the other instance, by `Last-Event-ID` or by `after`, alternately.
async fn follow(
    apps: [&TestApp; 2],
    user: &TestUser,
    mut instance: usize,
    reconnect: bool,
    done: &std::cell::Cell<bool>,
) -> (Vec<Seen>, usize) {
    let mut received: Vec<Seen> = Vec::new();
    let mut stream = open(apps[instance], user, "?after=0").await;
    let mut reconnects = 0;
    let mut until_reconnect = rand::thread_rng().gen_range(1..12);
    loop {
        if done.get()
            && received.last().map(|s| s.id) == activity_ids(apps[0]).await.last().copied()
        {
            return (received, reconnects);
        }
        if reconnect && until_reconnect == 0 {
            drop(stream);
            instance = 1 - instance;
            let last = received.last().map_or(0, |s| s.id).to_string();
            stream = if reconnects % 2 == 0 {
                Stream::new(open_raw(apps[instance], user, "?after=0", Some(&last)).await)
            } else {
                open(apps[instance], user, &format!("?after={last}")).await
            };
            reconnects += 1;
            until_reconnect = rand::thread_rng().gen_range(1..12);
        }
        match tokio::time::timeout(Duration::from_millis(500), stream.event(SOON)).await {
            Ok(Some(event)) => {
                received.push(seen(&event));
                until_reconnect -= 1;
            }
            Ok(None) => panic!("the stream ended"),
            // Quiet for now: check whether everything arrived.
            Err(_) => {}
        }
    }
}

/// Holds a row lock on `task` for a second from a connection of the test's own, while a PATCH
/// of that task through `client` waits for it inside its transaction (which has its
/// transaction id from the moment it asks for the lock), then lets it commit.
async fn hold_a_task_while_it_is_patched(url: &str, client: &UserClient<'_>, task: Uuid) {
    let holder = connect_db(url).await;
    holder.batch("BEGIN").await;
    holder
        .execute("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", &[&task])
        .await;
    let patch = client.patch(&task_path(task), json!({"title": "held for a second"}));
    let release = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        holder.batch("COMMIT").await;
    };
    let (patched, ()) = tokio::join!(patch.into_future(), release);
    patched.good::<Value>();
}

/// A transaction that writes its journal entry and then takes a second to commit (as a commit
/// that waits for a synchronous standby would), or rolls back: no request holds one open that
/// long, so the test writes the entry itself. Returns the entry's made-up task id.
async fn hold_an_entry(url: &str, project: Uuid, commit: bool) -> Uuid {
    let marker = Uuid::now_v7();
    let writer = connect_db(url).await;
    writer.batch("BEGIN").await;
    writer
        .execute(
            "INSERT INTO activity_pending (kind, project_id, task_id)              VALUES ('task.updated', $1, $2)",
            &[&project, &marker],
        )
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    writer
        .batch(if commit { "COMMIT" } else { "ROLLBACK" })
        .await;
    marker
}

#[tokio::test]
async fn writers_on_two_instances_with_held_and_rolled_back_transactions_reach_every_reader_once_in_one_order(
) {
    let quick = |args: &mut docket::config::ConfigArgs| {
        // One user makes every change here: the per-principal limit is not what is tested.
        args.rate_limit_per_minute = Some("100000".into());
    };
    let first = TestApp::build().config(quick).spawn().await;
    let second = TestApp::build()
        .on(&first.database_url)
        .config(quick)
        .spawn()
        .await;
    let apps = [&first, &second];
    let owner = first.new_client().await;
    let clients = [first.as_user(&owner), second.as_user(&owner)];
    let mut projects = Vec::new();
    for p in 0..8 {
        projects.push(owner.create_project(&format!("P{p}")).await.id);
    }
    let held = new_task(&owner, projects[0], "to be held").await;
    const WRITERS: usize = 32;
    const ROUNDS: usize = 3;

    let done = std::cell::Cell::new(false);
    let writers = async {
        let each = (0..WRITERS).map(|w| {
            let (client, project) = (&clients[w % 2], projects[w % 8]);
            async move {
                for r in 0..ROUNDS {
                    let task = client
                        .create_task(project, json!({ "title": format!("w{w} r{r}") }))
                        .await;
                    if r == 1 {
                        // Refused on a stale version: rolled back, no entry.
                        client
                            .patch(&task_path(task.id), json!({"title": "never"}))
                            .if_match("\"99\"")
                            .await
                            .problem(412, "precondition_failed");
                    }
                    client
                        .patch(&task_path(task.id), json!({"status": "in_progress"}))
                        .await
                        .good::<Value>();
                    let pause = rand::thread_rng().gen_range(0..150);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        });
        futures::future::join_all(each).await;
    };
    // While the writers run: a PATCH that waits a second for a row lock, an entry whose
    // transaction takes a second to commit, and one that is rolled back after a second.
    let holds = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let ((), committed, rolled_back) = tokio::join!(
            hold_a_task_while_it_is_patched(&first.database_url, &clients[1], held),
            hold_an_entry(&first.database_url, projects[1], true),
            hold_an_entry(&second.database_url, projects[2], false),
        );
        (committed, rolled_back)
    };
    let work = async {
        let (_, markers) = tokio::join!(writers, holds);
        done.set(true);
        markers
    };
    // One reader on each instance: one that reconnects at random to either, one that stays.
    let ((committed_marker, rolled_back_marker), (wandering, reconnects), (steady, _)) = tokio::join!(
        work,
        follow(apps, &owner, 0, true, &done),
        follow(apps, &owner, 1, false, &done),
    );

    let committed = activity_ids(&first).await;
    assert!(
        committed.len() > WRITERS * ROUNDS * 2,
        "{} entries",
        committed.len()
    );
    assert!(reconnects >= 5, "only {reconnects} reconnects");
    // Every committed entry exactly once, in id order, to both readers, and the same entries.
    let ids = |seen: &[Seen]| seen.iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(&wandering), committed);
    assert_eq!(ids(&steady), committed);
    assert_eq!(wandering, steady);
    let task_ids: HashSet<&Value> = steady.iter().map(|s| &s.task).collect();
    assert!(
        task_ids.contains(&json!(committed_marker)),
        "the late commit"
    );
    assert!(
        !task_ids.contains(&json!(rolled_back_marker)),
        "the rollback"
    );
    assert!(steady
        .iter()
        .any(|s| s.task == json!(held) && s.kind == "task.updated"));

    // A resume from any id, on either instance, by either means, gets exactly what followed.
    for (n, after) in std::iter::once(0)
        .chain(committed.iter().copied())
        .enumerate()
    {
        let expected: Vec<&Seen> = steady.iter().filter(|s| s.id > after).collect();
        let app = apps[n % 2];
        let mut stream = if n % 2 == 0 {
            Stream::new(open_raw(app, &owner, "", Some(&after.to_string())).await)
        } else {
            open(app, &owner, &format!("?after={after}")).await
        };
        for want in expected {
            let got = stream.event(SOON).await.expect("the stream goes on");
            assert_eq!(&seen(&got), want, "resuming after {after}");
        }
        if n % 16 == 0 {
            stream.assert_quiet(Duration::from_millis(300)).await;
        }
    }
}

#[tokio::test]
async fn a_change_that_fails_its_if_match_sends_nothing() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("P").await.id;
    let task = new_task(&owner, project, "before").await;
    let mut stream = open(&app, &owner, "").await;
    let before = activity_ids(&app).await;

    let refused = owner
        .patch(
            &format!("/api/v1/tasks/{task}"),
            json!({"title": "refused"}),
        )
        .if_match("\"999\"")
        .await;
    refused.problem(412, "precondition_failed");
    assert_eq!(activity_ids(&app).await, before, "no entry for a rollback");
    stream.assert_quiet(Duration::from_millis(1500)).await;

    let accepted = owner
        .patch(&format!("/api/v1/tasks/{task}"), json!({"title": "after"}))
        .await;
    accepted.good::<Value>();
    let event = stream.event(SOON).await.unwrap();
    assert_entry(&event, "task.updated", task);
    assert_eq!(
        event.data["changes"],
        json!([{"field": "title", "from": "before", "to": "after"}])
    );
}

#[tokio::test]
async fn a_removed_member_gets_their_removal_and_nothing_of_the_project_after_it() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let member = app.new_client().await;
    let project = owner.create_project("Shared").await.id;
    owner.add_member(project, &member, "editor").await;
    let mut everything = open(&app, &member, "").await;
    let mut narrowed = open(&app, &member, &format!("?project_id={project}")).await;

    let task = new_task(&owner, project, "seen").await;
    assert_entry(&everything.event(SOON).await.unwrap(), "task.created", task);
    assert_entry(&narrowed.event(SOON).await.unwrap(), "task.created", task);

    let removed = owner
        .delete(&format!("/api/v1/projects/{project}/members/{}", member.id))
        .await;
    assert_eq!(removed.status(), 204);
    // Both streams get the removal itself (so the client can drop the project), and nothing
    // of the project after it: the stream that follows only that project ends (a reconnect
    // would be 404) …
    for stream in [&mut everything, &mut narrowed] {
        let event = stream.event(SOON).await.unwrap();
        assert_eq!(event.event, "member.removed", "{event:?}");
        assert_eq!(event.data["user_id"], member.id.to_string());
    }
    narrowed.assert_ends(SOON).await;
    let reopened =
        refusal(open_raw(&app, &member, &format!("?project_id={project}"), None).await).await;
    reopened.problem(404, "not_found");
    // … and the other one goes on without it.
    let unseen = new_task(&owner, project, "unseen").await;
    let own = member.create_project("Mine").await.id;
    let mine = new_task(&member, own, "mine").await;
    loop {
        let event = everything.event(SOON).await.unwrap();
        assert_ne!(event.data["project_id"], project.to_string(), "{event:?}");
        assert_ne!(event.data["task_id"], unseen.to_string());
        if event.data["task_id"] == mine.to_string() {
            break;
        }
    }
    // The owner saw all of it.
    let entries = owner
        .get(&format!("/api/v1/projects/{project}/activity"))
        .await
        .good::<Value>();
    assert_eq!(entries["items"][1]["kind"], "member.removed");
}

#[tokio::test]
async fn attachments_added_and_deleted_arrive_live_to_members() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let member = app.new_client().await;
    let project = owner.create_project("Files").await.id;
    owner.add_member(project, &member, "viewer").await;
    let task = new_task(&owner, project, "with a file").await;
    let mut stream = open(&app, &member, &format!("?project_id={project}")).await;

    let attachment: Attachment = owner.upload(task, "notes.txt", "hello").await.created();
    let event = stream.event(SOON).await.unwrap();
    assert_entry(&event, "attachment.added", task);
    assert_eq!(
        event.data["changes"][0]["to"]["name"], "notes.txt",
        "{event:?}"
    );
    assert_eq!(
        event.data["changes"][0]["to"]["id"],
        attachment.id.to_string()
    );

    owner
        .delete(&attachment_path(attachment.id))
        .await
        .no_content();
    let event = stream.event(SOON).await.unwrap();
    assert_entry(&event, "attachment.deleted", task);
    assert_eq!(
        event.data["changes"][0]["from"]["name"], "notes.txt",
        "{event:?}"
    );
}

#[tokio::test]
async fn a_change_through_one_instance_reaches_a_stream_on_another_within_a_second() {
    let first = spawn_app().await;
    let second = TestApp::build().on(&first.database_url).spawn().await;
    let owner = first.new_client().await;
    let project = owner.create_project("Two").await.id;
    let mut stream = open(&second, &owner, &format!("?project_id={project}")).await;
    let mut delays = Vec::new();
    for n in 0..6 {
        let started = Instant::now();
        let task = new_task(&owner, project, &format!("t{n}")).await;
        let event = stream.event(SOON).await.unwrap();
        delays.push(started.elapsed());
        assert_entry(&event, "task.created", task);
    }
    // The first too: a stream starts only after its instance's tailer is listening (it once
    // rode the fallback poll instead, over a second late on a loaded machine).
    let worst = delays.iter().max().unwrap();
    assert!(*worst < Duration::from_secs(1), "{delays:?}");
}

/// An instance's tailer starts where the history ends when it first reads it. A stream opened
/// before that (it replays from the table, then follows the tailer) would never get what
/// committed between its replay and the tailer's start: streams wait for the start.
#[tokio::test]
async fn a_stream_opened_while_its_instance_starts_misses_nothing() {
    let first = spawn_app().await;
    let owner = first.new_client().await;
    let project = owner.create_project("Starting").await.id;
    for round in 0..3 {
        let after = activity_ids(&first).await.last().copied().unwrap_or(0);
        let starting = TestApp::build().on(&first.database_url).spawn().await;
        // At once, while the new instance's tailer may still be reading where it starts.
        let mut stream = open(&starting, &owner, &format!("?after={after}")).await;
        let task = new_task(&owner, project, &format!("round {round}")).await;
        assert_entry(&stream.event(SOON).await.unwrap(), "task.created", task);
    }
}

#[tokio::test]
async fn heartbeats_arrive_while_nothing_happens() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let mut stream = open(&app, &user, "").await;
    // fast_tuning: a heartbeat every 200 ms.
    let started = Instant::now();
    for _ in 0..4 {
        match stream.item(Duration::from_secs(2)).await {
            Item::Comment => {}
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn project_id_narrows_the_stream_to_one_project() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let stranger = app.new_client().await;
    let followed = owner.create_project("Followed").await.id;
    let other = owner.create_project("Other").await.id;
    let mut stream = open(&app, &owner, &format!("?project_id={followed}")).await;
    new_task(&owner, other, "elsewhere").await;
    let task = new_task(&owner, followed, "here").await;
    let event = stream.event(SOON).await.unwrap();
    assert_entry(&event, "task.created", task);
    assert_eq!(event.data["project_id"], followed.to_string());

    for project in [followed, Uuid::now_v7()] {
        let response =
            refusal(open_raw(&app, &stranger, &format!("?project_id={project}"), None).await).await;
        response.problem(404, "not_found");
    }
    let response = refusal(open_raw(&app, &owner, "?project_id=nope", None).await).await;
    response.problem(400, "invalid_query");
}

#[tokio::test]
async fn the_eleventh_stream_of_a_user_is_refused() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let other = app.new_client().await;
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(open(&app, &user, "").await);
    }
    let refused = refusal(open_raw(&app, &user, "", None).await).await;
    assert!(refused.headers().contains_key("retry-after"));
    refused.problem(429, "rate_limited");
    // Another user is not affected.
    let _theirs = open(&app, &other, "").await;
    // A closed stream frees its slot (the server notices at the latest at the next write).
    streams.pop();
    let deadline = Instant::now() + SOON;
    loop {
        // Not read through the client when it is a stream: its body does not end.
        let response = open_raw(&app, &user, "", None).await;
        if response.status() == 200 {
            break;
        }
        TestResponse::read(response)
            .await
            .problem(429, "rate_limited");
        assert!(Instant::now() < deadline, "the slot was not freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_resume_older_than_the_retention_gets_one_reset() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Old").await.id;
    new_task(&owner, project, "ancient").await;
    let old = *activity_ids(&app).await.last().unwrap();
    app.db
        .execute(
            "UPDATE activity SET at = now() - interval '8 days' WHERE id <= $1",
            &[&old],
        )
        .await;
    let recent = new_task(&owner, project, "recent").await;

    let mut stream = Stream::new(open_raw(&app, &owner, "", Some(&(old - 1).to_string())).await);
    let event = stream.event(SOON).await.unwrap();
    assert_eq!(event.event, "reset");
    assert_eq!(event.id, None);
    assert_eq!(event.data["reason"], "expired");
    stream.assert_ends(SOON).await;

    // A resume point that was never handed out is reset too.
    let mut stream = open(&app, &owner, &format!("?after={}", old + 1000)).await;
    assert_eq!(stream.event(SOON).await.unwrap().event, "reset");
    stream.assert_ends(SOON).await;

    // Right after the old entry, everything is recent: no reset.
    let mut stream = open(&app, &owner, &format!("?after={old}")).await;
    assert_entry(&stream.event(SOON).await.unwrap(), "task.created", recent);
}

#[tokio::test]
async fn after_and_last_event_id_resume_right_after_that_entry() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Resume").await.id;
    let tasks = [
        new_task(&owner, project, "one").await,
        new_task(&owner, project, "two").await,
        new_task(&owner, project, "three").await,
    ];
    let ids = activity_ids(&app).await;
    let (e1, e2) = (ids[ids.len() - 3], ids[ids.len() - 2]);

    let mut by_query = open(&app, &owner, &format!("?after={e1}")).await;
    assert_entry(
        &by_query.event(SOON).await.unwrap(),
        "task.created",
        tasks[1],
    );
    assert_entry(
        &by_query.event(SOON).await.unwrap(),
        "task.created",
        tasks[2],
    );

    // The header wins over the query (EventSource keeps the URL and sends the newest id).
    let mut by_header =
        Stream::new(open_raw(&app, &owner, &format!("?after={e1}"), Some(&e2.to_string())).await);
    assert_entry(
        &by_header.event(SOON).await.unwrap(),
        "task.created",
        tasks[2],
    );

    // Then both go on live.
    let four = new_task(&owner, project, "four").await;
    assert_entry(&by_query.event(SOON).await.unwrap(), "task.created", four);
    assert_entry(&by_header.event(SOON).await.unwrap(), "task.created", four);

    // Without either: only what comes next.
    let mut fresh = open(&app, &owner, "").await;
    let five = new_task(&owner, project, "five").await;
    assert_entry(&fresh.event(SOON).await.unwrap(), "task.created", five);

    for bad in ["abc", "-1", "1.5", "99999999999999999999"] {
        let response = refusal(open_raw(&app, &owner, "", Some(bad)).await).await;
        response.problem(400, "invalid_header");
    }
    for bad in ["?after=abc", "?after=-1", "?after="] {
        let response = refusal(open_raw(&app, &owner, bad, None).await).await;
        response.problem(400, "invalid_query");
    }
}

#[tokio::test]
async fn a_session_cookie_streams_without_csrf_and_a_logout_ends_the_stream() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let (cookie, csrf) = app.session_login(&user.email, &user.password).await;
    let project = user.create_project("Cookie").await.id;
    let response = app
        .request(Method::GET, "/api/v1/events")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let mut stream = Stream::new(response);
    let task = new_task(&user, project, "by cookie").await;
    assert_entry(&stream.event(SOON).await.unwrap(), "task.created", task);

    let logout = app
        .with_session(&cookie, &csrf)
        .delete("/api/v1/auth/session")
        .await;
    assert_eq!(logout.status(), 204);
    // Checked at each heartbeat (200 ms here).
    stream.assert_ends(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn open_streams_end_when_the_server_drains() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(open(&app, &user, "").await);
    }
    let stopped = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), app.stop())
        .await
        .expect("the drain does not wait for event streams");
    assert!(stopped.elapsed() < Duration::from_secs(5));
    for stream in &mut streams {
        stream.assert_ends(SOON).await;
    }
}

#[tokio::test]
async fn the_document_describes_the_stream() {
    let doc = serde_json::to_value(docket::server::openapi::document()).unwrap();
    let operation = &doc["paths"]["/api/v1/events"]["get"];
    assert!(operation["responses"]["200"]["content"]["text/event-stream"].is_object());
    let names: HashSet<&str> = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["project_id", "after", "Last-Event-ID"])
    );
    for status in ["400", "401", "404", "429", "503"] {
        assert!(operation["responses"][status].is_object(), "{status}");
    }
}

#[tokio::test]
async fn a_disabled_account_loses_its_stream_at_the_next_heartbeat() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let mut stream = open(&app, &user, "").await;
    // A heartbeat or two first: the stream is healthy.
    stream.assert_quiet(Duration::from_millis(500)).await;
    app.db
        .execute(
            "UPDATE users SET disabled = true WHERE id = $1",
            &[&user.id],
        )
        .await;
    stream.assert_ends(Duration::from_secs(2)).await;
    let refused = refusal(open_raw(&app, &user, "", None).await).await;
    refused.problem(403, "account_disabled");
}

/// The next event of `kind` about `task`, skipping others (their own echoes of the same writes).
async fn next_about(stream: &mut Stream, kind: &str, task: Uuid) -> SseEvent {
    loop {
        let event = stream.event(SOON).await.expect("the stream goes on");
        if event.event == kind && event.data["task_id"] == task.to_string() {
            return event;
        }
    }
}

#[tokio::test]
async fn relations_state_and_parent_changes_and_blocked_flips_are_live_events() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let here = owner.create_project("Here").await.id;
    let there = owner.create_project("There").await.id;
    // Bob sees "Here" only.
    let bob = app.new_client().await;
    owner.add_member(here, &bob, "editor").await;
    let mine = new_task(&owner, here, "mine").await;
    let parent = new_task(&owner, here, "parent").await;
    let hidden = new_task(&owner, there, "hidden").await;
    let review: Value = owner
        .post(
            &format!("/api/v1/projects/{here}/states"),
            json!({"name": "Review", "category": "in_progress"}),
        )
        .await
        .created();
    let mut stream = open(&app, &bob, "").await;

    // A state and a parent set: one `task.updated` with both changes.
    owner
        .patch(
            &task_path(mine),
            json!({"state_id": review["id"], "parent_id": parent}),
        )
        .await
        .good::<Value>();
    let event = next_about(&mut stream, "task.updated", mine).await;
    let fields: Vec<&str> = event.data["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["status", "state_id", "parent_id"]);
    assert_eq!(event.data["changes"][1]["to"], review["id"]);

    // A relation to a task Bob cannot see: his side's entry, without the hidden task.
    let relation: Value = owner
        .post(
            &format!("/api/v1/tasks/{mine}/relations"),
            json!({"kind": "blocked_by", "task_id": hidden}),
        )
        .await
        .created();
    let event = next_about(&mut stream, "task.related", mine).await;
    assert_entry(&event, "task.related", mine);
    assert_eq!(
        event.data["changes"],
        json!([
            {"field": "relations", "from": null, "to": {"id": relation["id"], "kind": "blocked_by"}},
            {"field": "blocked", "from": false, "to": true}
        ])
    );
    assert!(!event.data.to_string().contains(&hidden.to_string()));

    // The hidden blocker done: Bob hears that his task no longer waits, and nothing of "There".
    owner
        .patch(&task_path(hidden), json!({"status": "done"}))
        .await
        .good::<Value>();
    let event = next_about(&mut stream, "task.updated", mine).await;
    assert_eq!(
        event.data["changes"],
        json!([{"field": "blocked", "from": true, "to": false}])
    );
    owner
        .delete(&format!(
            "/api/v1/tasks/{mine}/relations/{}",
            relation["id"].as_str().unwrap()
        ))
        .await
        .no_content();
    let event = next_about(&mut stream, "task.unrelated", mine).await;
    assert_eq!(event.data["changes"][0]["field"], "relations");
    stream.assert_quiet(Duration::from_millis(700)).await;
    let seen = app
        .db
        .rows(
            "SELECT count(*) FROM activity WHERE project_id = $1 AND kind IN ('task.related', 'task.unrelated')",
            &[&there],
        )
        .await[0]
        .get::<_, i64>(0);
    assert_eq!(
        seen, 2,
        "the other side's entries exist, in their own project"
    );
}

/// A reader far behind a busy project (API.md §9): its stream is still replaying full pages
/// from the table when its session ends, and it must stop within a heartbeat all the same —
/// nothing committed after that may reach it, however much it has left to replay.
#[tokio::test]
async fn a_stream_still_replaying_checks_its_credentials_at_each_heartbeat() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let (cookie, csrf) = app.session_login(&user.email, &user.password).await;
    let project = user.create_project("Busy").await.id;
    let task = new_task(&user, project, "busy").await;
    // A backlog far larger than what the sockets buffer between server and client (a busy
    // project's day, written straight into the table: how it was written is not the point).
    // After the task's own entry is numbered, so that it comes first.
    app.journal_settled().await;
    const BACKLOG: i64 = 60_000;
    app.db
        .execute(
            "INSERT INTO activity (actor_id, kind, project_id, task_id, changes) \
             SELECT $1, 'task.updated', $2, $3, \
                    jsonb_build_array(jsonb_build_object('field', 'priority', 'from', 0, 'to', n % 5)) \
             FROM generate_series(1, $4::bigint) AS n",
            &[&user.id, &project, &task, &BACKLOG],
        )
        .await;
    let response = app
        .request(Method::GET, "/api/v1/events?after=0")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let mut stream = Stream::new(response);
    let first = stream.event(SOON).await.unwrap();
    assert_entry(&first, "task.created", task);

    let logout = app
        .with_session(&cookie, &csrf)
        .delete("/api/v1/auth/session")
        .await;
    assert_eq!(logout.status(), 204);
    // Well past a heartbeat (200 ms here), a change the reader must never see.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let late = new_task(&user, project, "after the logout").await;

    let mut received = 1;
    while let Some(event) = stream.event(Duration::from_secs(20)).await {
        assert_ne!(
            event.data["task_id"],
            late.to_string(),
            "an entry committed after the logout reached the stream ({received} events in)"
        );
        received += 1;
    }
    println!("{received} of {} entries reached the stream", BACKLOG + 2);
    assert!(
        received < BACKLOG,
        "the stream replayed {received} entries after its logout"
    );
}

//! The calendar feed (API.md §19): a secret per-user URL serving iCalendar, read here by an
//! independent parser (the `icalendar` package from PyPI): every due task with a stable UID,
//! RRULE, VEVENT and VTODO forms, membership checked on every request, rotation and
//! revocation, ETag/304, escaping and folding of a nasty title, and the pre-authentication
//! limit on unknown secrets.

use serde_json::{json, Value};

use crate::helpers::*;

const FEED: &str = "/api/v1/me/calendar-feed";

/// Makes `user` a feed; its path (the URL's host is the public URL's, not the test server's)
/// and that host.
async fn new_feed(user: &UserClient<'_>) -> (String, String) {
    let created: Value = user.post(FEED, json!({})).await.created();
    let url = reqwest::Url::parse(created["url"].as_str().unwrap()).unwrap();
    assert!(url.path().starts_with("/api/v1/calendar/"), "{url}");
    assert!(url.path().ends_with(".ics"), "{url}");
    (url.path().to_owned(), url.host_str().unwrap().to_owned())
}

/// The feed as a calendar program reads it: no credentials but the URL.
async fn read(app: &TestApp, path: &str) -> String {
    let response = app.anon().get(path).await;
    assert_eq!(response.status(), 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    response.text()
}

fn components(parsed: &Value) -> &Vec<Value> {
    assert_eq!(parsed["errors"], json!([]), "{parsed}");
    let list = parsed["components"].as_array().unwrap();
    for c in list {
        assert_eq!(c["errors"], json!([]), "{c}");
    }
    list
}

fn by_uid<'a>(list: &'a [Value], task: &Task, host: &str) -> &'a Value {
    let uid = format!("{}@{host}", task.id);
    list.iter()
        .find(|c| c["uid"] == uid.as_str())
        .unwrap_or_else(|| panic!("no entry {uid} in {list:?}"))
}

#[tokio::test]
async fn the_feed_holds_every_due_task_of_its_owner_as_an_independent_parser_reads_it() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let bob = app.new_client().await;
    alice
        .patch("/api/v1/me", json!({"time_zone": "Europe/Berlin"}))
        .await
        .good::<Value>();
    let own = alice.create_project("Own").await;
    let shared = bob.create_project("Shared").await;
    bob.add_member(shared.id, &alice, "editor").await;
    let mine = |extra: Value| {
        let mut body = json!({"title": "x", "assignee_id": alice.id});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let all_day = alice
        .create_task(
            own.id,
            mine(json!({"title": "All day", "due_date": "2026-03-29"})),
        )
        .await;
    // 09:00 in Berlin on the day summer time starts: 07:00 UTC.
    let timed = alice
        .create_task(
            own.id,
            mine(json!({"title": "Timed", "due_date": "2026-03-29", "due_time": "09:00"})),
        )
        .await;
    let weekly = alice
        .create_task(
            own.id,
            mine(
                json!({"title": "Weekly", "due_date": "2026-12-07", "due_time": "08:30",
                "recurrence": {"rule": "FREQ=WEEKLY;BYDAY=MO,WE", "from": "due"}}),
            ),
        )
        .await;
    let monthly = alice
        .create_task(
            own.id,
            mine(json!({"title": "Monthly", "due_date": "2026-12-31",
                "recurrence": {"rule": "FREQ=MONTHLY;BYMONTHDAY=-1", "from": "due"}})),
        )
        .await;
    let after_completion = alice
        .create_task(
            own.id,
            mine(
                json!({"title": "Every 3 days after done", "due_date": "2026-12-10",
                "recurrence": {"rule": "FREQ=DAILY;INTERVAL=3", "from": "completion"}}),
            ),
        )
        .await;
    let in_shared = bob
        .create_task(
            shared.id,
            mine(json!({"title": "In shared", "due_date": "2026-12-20"})),
        )
        .await;
    // Not in the owner's feed: no due date, not assigned, someone else's.
    alice
        .create_task(own.id, mine(json!({"title": "Undated"})))
        .await;
    let unassigned = alice
        .create_task(
            own.id,
            json!({"title": "Nobody's", "due_date": "2026-12-11"}),
        )
        .await;
    let bobs = bob
        .create_task(
            shared.id,
            json!({"title": "Bob's", "due_date": "2026-12-12", "assignee_id": bob.id}),
        )
        .await;

    let (path, host) = new_feed(&alice).await;
    let text = read(&app, &path).await;
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {text}"
    );
    let parsed = parse_calendar(&text);
    assert_eq!(parsed["version"], "2.0");
    let list = components(&parsed);
    let expected = [
        &all_day,
        &timed,
        &weekly,
        &monthly,
        &after_completion,
        &in_shared,
    ];
    assert_eq!(list.len(), expected.len(), "{list:?}");
    for task in expected {
        let entry = by_uid(list, task, &host);
        assert_eq!(entry["kind"], "VEVENT");
        assert_eq!(
            entry["summary"],
            format!("#{} {}", task.number, task.title).as_str()
        );
        let url = entry["url"].as_str().unwrap();
        assert!(
            url.ends_with(&format!("/p/{}?task={}", task.project_id, task.id)),
            "{url}"
        );
        assert!(entry["dtstamp"]["utc"].as_bool().unwrap(), "{entry}");
        assert!(entry["last_modified"]["utc"].as_bool().unwrap(), "{entry}");
    }
    let day = by_uid(list, &all_day, &host);
    assert_eq!(
        day["dtstart"],
        json!({"value": "2026-03-29", "date": true, "utc": false, "floating": false})
    );
    assert_eq!(
        day["dtend"]["value"], "2026-03-30",
        "the end of an all-day event is exclusive"
    );
    assert_eq!(day["rrule"], Value::Null);
    let at = by_uid(list, &timed, &host);
    assert_eq!(at["dtstart"]["value"], "2026-03-29T07:00:00+00:00");
    assert_eq!(at["dtend"]["value"], "2026-03-29T07:30:00+00:00");
    let week = by_uid(list, &weekly, &host);
    assert_eq!(week["rrule"], "FREQ=WEEKLY;BYDAY=MO,WE");
    assert_eq!(week["dtstart"]["value"], "2026-12-07T08:30:00");
    assert!(week["dtstart"]["floating"].as_bool().unwrap(), "{week}");
    assert_eq!(
        by_uid(list, &monthly, &host)["rrule"],
        "FREQ=MONTHLY;BYMONTHDAY=-1"
    );
    assert_eq!(
        by_uid(list, &after_completion, &host)["rrule"],
        Value::Null,
        "a rule restarted on completion has no dates to show"
    );
    for absent in [&unassigned, &bobs] {
        assert!(
            !text.contains(&absent.id.to_string()),
            "{absent:?} in the feed"
        );
    }

    // A project's feed: every task with a due date there, whoever it is assigned to.
    let text = read(&app, &format!("{path}?project_id={}", shared.id)).await;
    let parsed = parse_calendar(&text);
    let list = components(&parsed);
    assert_eq!(list.len(), 2, "{list:?}");
    by_uid(list, &in_shared, &host);
    by_uid(list, &bobs, &host);

    // Membership is checked on every request: once Alice is out of the shared project, its
    // tasks leave her feed and its project feed is a 404.
    bob.delete(&member_path(shared.id, alice.id))
        .await
        .no_content();
    app.anon()
        .get(&format!("{path}?project_id={}", shared.id))
        .await
        .problem(404, "not_found");
    let text = read(&app, &path).await;
    assert!(!text.contains(&in_shared.id.to_string()), "{text}");
    assert_eq!(components(&parse_calendar(&text)).len(), 5);
    // A project she never belonged to is not found either, nor is a malformed one.
    let stranger = app.new_client().await.create_project("Secret").await;
    app.anon()
        .get(&format!("{path}?project_id={}", stranger.id))
        .await
        .problem(404, "not_found");
    app.anon()
        .get(&format!("{path}?project_id=nope"))
        .await
        .problem(400, "invalid_query");
    app.anon()
        .get(&format!("{path}?components=vjournal"))
        .await
        .problem(400, "invalid_query");
}

#[tokio::test]
async fn vtodos_carry_due_status_and_completion() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("P").await;
    let open = alice
        .create_task(
            project.id,
            json!({"title": "Open", "due_date": "2026-12-24", "due_time": "18:00",
                "assignee_id": alice.id}),
        )
        .await;
    let done = alice
        .create_task(
            project.id,
            json!({"title": "Done", "due_date": "2026-12-01", "assignee_id": alice.id}),
        )
        .await;
    alice
        .patch(&task_path(done.id), json!({"status": "done"}))
        .await
        .good::<Value>();
    let daily = alice
        .create_task(
            project.id,
            json!({"title": "Daily", "due_date": "2026-12-02", "assignee_id": alice.id,
                "recurrence": {"rule": "FREQ=DAILY", "from": "due"}}),
        )
        .await;
    let (path, host) = new_feed(&alice).await;
    let text = read(&app, &format!("{path}?components=vtodo")).await;
    let parsed = parse_calendar(&text);
    let list = components(&parsed);
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(list.iter().all(|c| c["kind"] == "VTODO"), "{list:?}");
    let o = by_uid(list, &open, &host);
    assert_eq!(
        o["due"]["value"], "2026-12-24T18:00:00+00:00",
        "UTC is the zone"
    );
    assert_eq!(o["status"], "NEEDS-ACTION");
    assert_eq!(o["completed"], Value::Null);
    let d = by_uid(list, &done, &host);
    assert_eq!(d["due"]["value"], "2026-12-01");
    assert!(d["due"]["date"].as_bool().unwrap());
    assert_eq!(d["status"], "COMPLETED");
    assert!(d["completed"]["utc"].as_bool().unwrap(), "{d}");
    let r = by_uid(list, &daily, &host);
    assert_eq!(r["rrule"], "FREQ=DAILY");
    assert_eq!(
        r["dtstart"]["value"], "2026-12-02",
        "a recurring VTODO starts at its due date"
    );
}

#[tokio::test]
async fn a_new_feed_replaces_the_old_and_a_deleted_one_is_gone() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let (first, _) = new_feed(&alice).await;
    read(&app, &first).await;
    let (second, _) = new_feed(&alice).await;
    assert_ne!(first, second);
    let gone = app.anon().get(&first).await;
    gone.problem(404, "not_found");
    assert_eq!(
        gone.header("content-type"),
        Some("application/problem+json")
    );
    read(&app, &second).await;

    alice.delete(FEED).await.no_content();
    app.anon().get(&second).await.problem(404, "not_found");
    alice.delete(FEED).await.problem(404, "not_found");
    // Someone else's feed is untouched by Alice's changes; a made-up secret finds nothing.
    let bob = app.new_client().await;
    let (bobs, _) = new_feed(&bob).await;
    read(&app, &bobs).await;
    let forged = format!("/api/v1/calendar/{}.ics", "A".repeat(43));
    app.anon().get(&forged).await.problem(404, "not_found");
    app.anon()
        .get(&bobs.replace(".ics", ""))
        .await
        .problem(404, "not_found");
    // Creating and ending a feed needs a signed-in person; the feed itself nothing else.
    app.anon()
        .post(FEED, json!({}))
        .await
        .problem(401, "unauthenticated");
}

#[tokio::test]
async fn an_unchanged_feed_answers_304_to_its_etag() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("P").await;
    let task = alice
        .create_task(
            project.id,
            json!({"title": "T", "due_date": "2026-12-24", "assignee_id": alice.id}),
        )
        .await;
    let (path, _) = new_feed(&alice).await;
    let first = app.anon().get(&path).await;
    let etag = first.etag();
    assert_eq!(first.header("cache-control"), Some("no-store"));
    let again = app.anon().get(&path).await;
    assert_eq!(again.etag(), etag, "the same feed, the same tag");
    let unchanged = app.anon().get(&path).if_none_match(&etag).await;
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.etag(), etag);
    assert!(unchanged.bytes().is_empty());

    alice
        .patch(&task_path(task.id), json!({"title": "T2"}))
        .await
        .good::<Value>();
    let changed = app.anon().get(&path).if_none_match(&etag).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.etag(), etag);
    assert!(changed.text().contains("T2"));
    // The owner's zone changes the times, and so the tag.
    let etag = changed.etag();
    alice
        .patch(&task_path(task.id), json!({"due_time": "10:00"}))
        .await
        .good::<Value>();
    let etag_utc = app.anon().get(&path).await.etag();
    assert_ne!(etag_utc, etag);
    alice
        .patch("/api/v1/me", json!({"time_zone": "America/New_York"}))
        .await
        .good::<Value>();
    let ny = app.anon().get(&path).if_none_match(&etag_utc).await;
    assert_eq!(ny.status(), 200);
    assert!(
        ny.text().contains("DTSTART:20261224T150000Z"),
        "{}",
        ny.text()
    );
}

#[tokio::test]
async fn a_nasty_title_survives_escaping_and_folding() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let project = alice.create_project("P").await;
    let head = "Plan, review; ship \\ done 🎉 \"quoted\" ümlaut: ";
    let title: String = head
        .chars()
        .chain("🎉é,;\\".chars().cycle())
        .take(200)
        .collect();
    let task = alice
        .create_task(
            project.id,
            json!({"title": title, "due_date": "2026-12-24", "assignee_id": alice.id}),
        )
        .await;
    assert_eq!(task.title, title);
    let (path, host) = new_feed(&alice).await;
    let text = read(&app, &path).await;
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
        assert!(!line.contains('\n') && !line.contains('\r'));
    }
    let parsed = parse_calendar(&text);
    let list = components(&parsed);
    assert_eq!(
        by_uid(list, &task, &host)["summary"],
        format!("#{} {title}", task.number).as_str()
    );
}

/// Unknown secrets reach the database before anyone is known: they count against the client
/// address's pre-authentication limit (300 a minute), and past it are refused with 429, while
/// a valid feed URL from the same address is still served.
#[tokio::test]
async fn unknown_secrets_are_limited_per_address_but_a_valid_feed_is_still_served() {
    let app = spawn_app().await;
    let alice = app.new_client().await;
    let (path, _) = new_feed(&alice).await;
    let ip = random_ip();
    for i in 0..300 {
        let secret = format!("{:0>43}", i);
        let response = app
            .anon()
            .get(&format!("/api/v1/calendar/{secret}.ics"))
            .forwarded_for(&ip)
            .await;
        assert_eq!(response.status(), 404, "request {i}");
    }
    app.anon()
        .get(&format!("/api/v1/calendar/{}.ics", "x".repeat(43)))
        .forwarded_for(&ip)
        .await
        .problem(429, "rate_limited");
    let valid = app.anon().get(&path).forwarded_for(&ip).await;
    assert_eq!(valid.status(), 200);
    assert!(
        valid.header("ratelimit").is_some(),
        "counted as the owner's requests"
    );
}

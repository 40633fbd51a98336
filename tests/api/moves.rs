//! Manual order (API.md §4): `position`, new tasks last, `sort=position`, and
//! `POST /api/v1/tasks/{id}/move` with its neighbours, status change, `If-Match`, roles and
//! concurrency.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn move_task(user: &UserClient<'_>, task: Uuid, body: Value) -> TestResponse {
    user.post(&format!("/api/v1/tasks/{task}/move"), body).await
}

/// Titles in manual order, optionally of one status.
async fn order(user: &UserClient<'_>, project: Uuid, status: Option<&str>) -> Vec<String> {
    let mut titles = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = user
            .get(&tasks_path(project))
            .query(&[("sort", "position"), ("limit", "7")]);
        if let Some(status) = status {
            request = request.query(&[("status", status)]);
        }
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Page<Task> = request.await.good();
        titles.extend(page.items.into_iter().map(|t| t.title));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return titles,
        }
    }
}

async fn setup<'a>(app: &'a TestApp, titles: &[&str]) -> (UserClient<'a>, Uuid, Vec<Uuid>) {
    let user = app.new_client().await;
    let project = user.create_project("Board").await.id;
    let mut ids = Vec::new();
    for title in titles {
        ids.push(
            user.create_task(project, json!({ "title": title }))
                .await
                .id,
        );
    }
    (user, project, ids)
}

#[tokio::test]
async fn new_tasks_go_last_and_positions_sort_the_manual_order() {
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["a", "b", "c"]).await;
    assert_eq!(order(&user, project, None).await, ["a", "b", "c"]);
    let task = user
        .get(&format!("/api/v1/tasks/{}", ids[0]))
        .await
        .good::<Value>();
    assert!(task["position"].is_string(), "{task}");
    // Read-only through PATCH: positions change only by a move.
    user.patch(
        &format!("/api/v1/tasks/{}", ids[0]),
        json!({"position": "a0"}),
    )
    .await
    .invalid_field("position");
}

#[tokio::test]
async fn a_move_puts_the_task_between_its_neighbours_first_or_last() {
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["a", "b", "c", "d"]).await;
    // d between a and b.
    let moved = move_task(
        &user,
        ids[3],
        json!({"before_id": ids[0], "after_id": ids[1]}),
    )
    .await
    .good::<Value>();
    assert_eq!(moved["version"], 2);
    assert_eq!(order(&user, project, None).await, ["a", "d", "b", "c"]);
    // Only after_id: just before it. Only before_id: just after it.
    move_task(&user, ids[2], json!({"after_id": ids[0]}))
        .await
        .good::<Value>();
    assert_eq!(order(&user, project, None).await, ["c", "a", "d", "b"]);
    move_task(&user, ids[2], json!({"before_id": ids[1]}))
        .await
        .good::<Value>();
    assert_eq!(order(&user, project, None).await, ["a", "d", "b", "c"]);
    // before_id null: first; nothing: last.
    move_task(&user, ids[1], json!({"before_id": null}))
        .await
        .good::<Value>();
    assert_eq!(order(&user, project, None).await, ["b", "a", "d", "c"]);
    move_task(&user, ids[1], json!({})).await.good::<Value>();
    assert_eq!(order(&user, project, None).await, ["a", "d", "c", "b"]);
    // Neighbours in the wrong order are refused.
    move_task(
        &user,
        ids[0],
        json!({"before_id": ids[1], "after_id": ids[3]}),
    )
    .await
    .invalid_field("before_id");
}

#[tokio::test]
async fn a_move_can_change_the_status_in_the_same_write() {
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["a", "b"]).await;
    let moved = move_task(&user, ids[1], json!({"status": "done"}))
        .await
        .good::<Value>();
    assert_eq!(moved["status"], "done");
    assert!(moved["completed_at"].is_string());
    assert_eq!(order(&user, project, Some("done")).await, ["b"]);
    assert_eq!(order(&user, project, Some("todo")).await, ["a"]);
}

#[tokio::test]
async fn foreign_or_unknown_neighbours_are_422() {
    let app = spawn_app().await;
    let (user, _, ids) = setup(&app, &["a", "b"]).await;
    let other = user.create_project("Other").await.id;
    let foreign = user.create_task(other, json!({"title": "x"})).await.id;
    move_task(&user, ids[0], json!({"before_id": foreign}))
        .await
        .invalid_field("before_id");
    move_task(&user, ids[0], json!({"after_id": uuid::Uuid::now_v7()}))
        .await
        .invalid_field("after_id");
    move_task(&user, ids[0], json!({"after_id": ids[0]}))
        .await
        .invalid_field("after_id");
    move_task(&user, ids[0], json!({"status": "later"}))
        .await
        .invalid_field("status");
    move_task(&user, ids[0], json!({"position": "a0"}))
        .await
        .invalid_field("position");
}

#[tokio::test]
async fn moves_honour_if_match_and_need_an_editor() {
    let app = spawn_app().await;
    let (owner, project, ids) = setup(&app, &["a", "b"]).await;
    let response = owner
        .post(&format!("/api/v1/tasks/{}/move", ids[0]), json!({}))
        .if_match("\"7\"")
        .await;
    response.problem(412, "precondition_failed");
    let response = owner
        .post(&format!("/api/v1/tasks/{}/move", ids[0]), json!({}))
        .if_match("\"1\"")
        .await;
    response.good::<Value>();

    let viewer = app.new_client().await;
    owner.add_member(project, &viewer, "viewer").await;
    move_task(&viewer, ids[1], json!({}))
        .await
        .problem(403, "forbidden");
    let stranger = app.new_client().await;
    move_task(&stranger, ids[1], json!({}))
        .await
        .problem(404, "not_found");
    let editor = app.new_client().await;
    owner.add_member(project, &editor, "editor").await;
    move_task(&editor, ids[1], json!({"before_id": null}))
        .await
        .good::<Value>();
    assert_eq!(order(&owner, project, None).await, ["b", "a"]);
}

#[tokio::test]
async fn many_moves_into_the_same_gap_keep_working() {
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["first", "last", "x", "y"]).await;
    // Alternately drop x and y just before "last": the gap halves every time.
    for round in 0..60 {
        let task = ids[2 + round % 2];
        move_task(
            &user,
            task,
            json!({"before_id": ids[0], "after_id": ids[1]}),
        )
        .await
        .good::<Value>();
    }
    let titles = order(&user, project, None).await;
    assert_eq!(titles.first().map(String::as_str), Some("first"));
    assert_eq!(titles.get(3).map(String::as_str), Some("last"));
}

#[tokio::test]
async fn concurrent_moves_lose_no_task_and_make_no_ties() {
    let app = spawn_app().await;
    let titles: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    let refs: Vec<&str> = titles.iter().map(String::as_str).collect();
    let (user, project, ids) = setup(&app, &refs).await;
    // Everyone moves to the top at once, between the same two neighbours or none.
    let moves = ids[2..].iter().map(|&id| {
        let text = id.to_string();
        let body = if text.as_bytes()[text.len() - 1] % 2 == 0 {
            json!({"before_id": ids[0], "after_id": ids[1]})
        } else {
            json!({"before_id": null})
        };
        move_task(&user, id, body)
    });
    for response in futures::future::join_all(moves).await {
        response.good::<Value>();
    }
    let page = user
        .get(&format!("/api/v1/projects/{project}/tasks"))
        .query(&[("sort", "position"), ("limit", "100")])
        .await
        .good::<Value>();
    let positions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["position"].as_str().unwrap())
        .collect();
    assert_eq!(positions.len(), 12, "no task lost");
    let mut sorted = positions.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        12,
        "no two tasks share a position: {positions:?}"
    );
    assert_eq!(sorted, positions, "served in position order");
}

/// `principal`, as the server authenticates its access token.
async fn principal_of(app: &TestApp, user: &TestUser) -> docket::auth::principal::Principal {
    use axum::extract::FromRequestParts;
    let (mut parts, ()) = axum::http::Request::builder()
        .header("authorization", format!("Bearer {}", user.token))
        .body(())
        .unwrap()
        .into_parts();
    docket::auth::principal::Principal::from_request_parts(&mut parts, &app.state)
        .await
        .expect("a valid access token")
}

/// The worst sequence of moves (API.md §9, "Manual order keys stay short"): 20,000 moves, each
/// into the gap the previous one halved, through the same function the endpoint runs (over
/// HTTP this would take minutes in a debug build). Every move succeeds, every key stays at
/// most 64 characters, and the renumberings it takes change no other task's version and
/// write no activity.
#[tokio::test]
async fn twenty_thousand_moves_into_one_gap_all_succeed_with_short_keys() {
    use docket::http::preconditions::IfMatch;
    use docket::projects::access::Action;
    use docket::projects::guard;
    use docket::tasks::moves::{self, MoveRequest, Neighbour};
    const MOVES: usize = 20_000;
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["anchor", "x", "y", "tail"]).await;
    let principal = principal_of(&app, &user).await;
    let anchor_before = user.get_task(ids[0]).await;
    let mut longest = 0;
    for i in 0..MOVES {
        // Alternately y and x, always just after the anchor: between it and the other one.
        let request = MoveRequest {
            before: Neighbour::Task(ids[0]),
            after: Neighbour::Absent,
            status: None,
            state_id: None,
        };
        let tx = app.state.db.begin().await.unwrap();
        let (task, _) = guard::enter_task(&tx, &principal, ids[2 - i % 2], Action::EditTasks)
            .await
            .unwrap();
        let moved = moves::apply(&tx, &principal, &task, request, &IfMatch::default())
            .await
            .unwrap_or_else(|e| panic!("move {i}: {e:?}"));
        tx.commit().await.unwrap();
        let length = moved.position.len();
        assert!(
            length <= 64,
            "move {i}: a key of {length}: {}",
            moved.position
        );
        longest = longest.max(length);
    }

    // The order is what the moves made; only the moves changed versions and wrote entries.
    let titles = order(&user, project, None).await;
    assert_eq!(titles, ["anchor", "x", "y", "tail"]);
    let renumberings: i64 = app
        .db
        .scalar(
            "SELECT position_epoch FROM projects WHERE id = $1",
            &[&project],
        )
        .await;
    println!("{MOVES} moves: longest key {longest}, {renumberings} renumberings");
    assert!(renumberings > 10, "{renumberings}");
    // Renumbering gave new keys only where they were long: the anchor and the tail kept theirs.
    assert_eq!(user.get_task(ids[0]).await, anchor_before);
    assert_eq!(user.get_task(ids[3]).await.version, 1);
    for mover in [ids[1], ids[2]] {
        assert_eq!(user.get_task(mover).await.version, 1 + MOVES as i64 / 2);
    }
    let entries: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM activity WHERE project_id = $1 AND kind = 'task.moved'",
            &[&project],
        )
        .await;
    assert_eq!(entries, MOVES as i64);
    let longest_stored: i32 = app
        .db
        .scalar(
            "SELECT max(length(position)) FROM tasks WHERE project_id = $1",
            &[&project],
        )
        .await;
    assert!(longest_stored <= 64);
}

/// The pages of a `sort=position` list after `cursor`, as titles.
async fn pages_after(
    user: &UserClient<'_>,
    project: Uuid,
    sort: &str,
    mut cursor: Option<String>,
) -> Vec<String> {
    let mut titles = Vec::new();
    loop {
        let mut request = user
            .get(&tasks_path(project))
            .query(&[("sort", sort), ("limit", "3")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Page<Task> = request.await.good();
        titles.extend(page.items.into_iter().map(|t| t.title));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return titles,
        }
    }
}

/// The cursor after the first `n` tasks of a `sort` list.
async fn cursor_after(user: &UserClient<'_>, project: Uuid, sort: &str, n: usize) -> String {
    let page: Page<Task> = user
        .get(&tasks_path(project))
        .query(&[("sort", sort), ("limit", &n.to_string())])
        .await
        .good();
    page.next_cursor.expect("more pages")
}

/// A renumbering between two pages of `sort=position` (API.md §9): the next page continues
/// exactly where the last one ended, even when the task it ended with was deleted meanwhile,
/// and even after a second renumbering.
#[tokio::test]
async fn a_page_boundary_survives_a_renumbering() {
    // A few hundred moves, more than a minute's default allowance of requests.
    let app = TestApp::build()
        .config(|args| args.rate_limit_per_minute = Some("100000".to_owned()))
        .spawn()
        .await;
    let titles = ["p1", "c1", "c2", "c3", "c4", "p2", "anchor", "x", "y", "p3"];
    let (user, project, ids) = setup(&app, &titles).await;
    // Crowd c1–c4 right after p1, each between p1 and the one moved before, until their keys
    // are long (but still short of the limit): a renumbering will give them new ones.
    for k in 0.. {
        let moved: Task = move_task(&user, ids[1 + k % 4], json!({"before_id": ids[0]}))
            .await
            .good();
        if moved.position.len() >= 40 {
            break;
        }
    }
    let before = order(&user, project, None).await;
    let keys_before: Vec<String> = {
        let page: Page<Task> = user
            .get(&tasks_path(project))
            .query(&[("sort", "position"), ("limit", "100")])
            .await
            .good();
        page.items.into_iter().map(|t| t.position).collect()
    };
    // Pages ending inside the crowded run, both ways; the task that ends one of them is deleted
    // before the next page is asked for.
    let after_3 = cursor_after(&user, project, "position", 3).await;
    let after_4 = cursor_after(&user, project, "position", 4).await;
    let descending_7 = cursor_after(&user, project, "-position", 7).await;
    let deleted = before[3].clone();
    let deleted_id = user
        .get(&tasks_path(project))
        .query(&[("sort", "position"), ("limit", "100")])
        .await
        .good::<Page<Task>>()
        .items
        .into_iter()
        .find(|t| t.title == deleted)
        .unwrap()
        .id;
    user.delete(&task_path(deleted_id)).await.no_content();

    // x and y into one gap until the project is renumbered: the moved task's key, longer with
    // every move, is short again.
    let mut moves = 0;
    let renumber = async |moves: &mut usize| {
        let mut previous = 0;
        loop {
            assert!(*moves < 4_000, "no renumbering after {moves} moves");
            let moved: Task = move_task(&user, ids[7 + *moves % 2], json!({"before_id": ids[6]}))
                .await
                .good();
            *moves += 1;
            if moved.position.len() < previous {
                return;
            }
            previous = moved.position.len();
        }
    };
    renumber(&mut moves).await;
    // The crowded run got new keys too; c1–c4 did not move.
    let now = order(&user, project, None).await;
    let page: Page<Task> = user
        .get(&tasks_path(project))
        .query(&[("sort", "position"), ("limit", "100")])
        .await
        .good();
    assert!(
        page.items.iter().all(|t| t.position.len() <= 16),
        "{page:?}"
    );
    assert_ne!(
        page.items[1].position, keys_before[1],
        "the crowded keys were renumbered"
    );
    // What each cursor should continue with: the order as it was (x and y where they are now),
    // after its boundary, without the deleted task.
    let expected = |from: usize, descending: bool| {
        let mut titles: Vec<String> = now.clone();
        if descending {
            titles.reverse();
        }
        let boundary = if descending {
            before[before.len() - from].clone()
        } else {
            before[from - 1].clone()
        };
        let at = titles.iter().position(|t| *t == boundary);
        let rest = match at {
            Some(at) => titles[at + 1..].to_vec(),
            // The deleted boundary: whatever came after it then.
            None => {
                let mut then = before.clone();
                if descending {
                    then.reverse();
                }
                let next = &then[then.iter().position(|t| *t == boundary).unwrap() + 1];
                titles[titles.iter().position(|t| t == next).unwrap()..].to_vec()
            }
        };
        rest
    };
    assert_eq!(
        pages_after(&user, project, "position", Some(after_3.clone())).await,
        expected(3, false)
    );
    assert_eq!(
        pages_after(&user, project, "position", Some(after_4)).await,
        expected(4, false)
    );
    assert_eq!(
        pages_after(&user, project, "-position", Some(descending_7)).await,
        expected(7, true)
    );
    // Renumbered twice since the cursor: it continues after its task, which is still there.
    renumber(&mut moves).await;
    let now = order(&user, project, None).await;
    let boundary = now.iter().position(|t| *t == before[2]).unwrap();
    assert_eq!(
        pages_after(&user, project, "position", Some(after_3)).await,
        now[boundary + 1..].to_vec()
    );
    assert_eq!(ids.len(), now.len() + 1);
}

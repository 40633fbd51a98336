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

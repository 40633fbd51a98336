//! Manual order (API.md §4): `position`, new tasks last, `sort=position`, and
//! `POST /api/v1/tasks/{id}/move` with its neighbours, status change, `If-Match`, roles and
//! concurrency.

use serde_json::{json, Value};

use crate::helpers::*;

async fn move_task(app: &TestApp, user: &TestUser, task: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/tasks/{task}/move"), &user.token, &body)
        .send()
        .await
        .unwrap()
}

/// Titles in manual order, optionally of one status.
async fn order(app: &TestApp, user: &TestUser, project: &str, status: Option<&str>) -> Vec<String> {
    let mut titles = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = app
            .get(&format!("/api/v1/projects/{project}/tasks"), &user.token)
            .query(&[("sort", "position"), ("limit", "7")]);
        if let Some(status) = status {
            request = request.query(&[("status", status)]);
        }
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = body_of(request.send().await.unwrap(), 200).await;
        for item in page["items"].as_array().unwrap() {
            titles.push(item["title"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return titles,
        }
    }
}

async fn setup(app: &TestApp, titles: &[&str]) -> (TestUser, String, Vec<String>) {
    let user = app.new_user().await;
    let project = id_of(&create_project(app, &user, "Board").await);
    let mut ids = Vec::new();
    for title in titles {
        ids.push(id_of(
            &create_task(app, &user, &project, json!({ "title": title })).await,
        ));
    }
    (user, project, ids)
}

#[tokio::test]
async fn new_tasks_go_last_and_positions_sort_the_manual_order() {
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["a", "b", "c"]).await;
    assert_eq!(order(&app, &user, &project, None).await, ["a", "b", "c"]);
    let task = body_of(
        app.get(&format!("/api/v1/tasks/{}", ids[0]), &user.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(task["position"].is_string(), "{task}");
    // Read-only through PATCH: positions change only by a move.
    assert_invalid_field(
        app.patch(
            &format!("/api/v1/tasks/{}", ids[0]),
            &user.token,
            &json!({"position": "a0"}),
        )
        .send()
        .await
        .unwrap(),
        "position",
    )
    .await;
}

#[tokio::test]
async fn a_move_puts_the_task_between_its_neighbours_first_or_last() {
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["a", "b", "c", "d"]).await;
    // d between a and b.
    let moved = body_of(
        move_task(
            &app,
            &user,
            &ids[3],
            json!({"before_id": ids[0], "after_id": ids[1]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(moved["version"], 2);
    assert_eq!(
        order(&app, &user, &project, None).await,
        ["a", "d", "b", "c"]
    );
    // Only after_id: just before it. Only before_id: just after it.
    body_of(
        move_task(&app, &user, &ids[2], json!({"after_id": ids[0]})).await,
        200,
    )
    .await;
    assert_eq!(
        order(&app, &user, &project, None).await,
        ["c", "a", "d", "b"]
    );
    body_of(
        move_task(&app, &user, &ids[2], json!({"before_id": ids[1]})).await,
        200,
    )
    .await;
    assert_eq!(
        order(&app, &user, &project, None).await,
        ["a", "d", "b", "c"]
    );
    // before_id null: first; nothing: last.
    body_of(
        move_task(&app, &user, &ids[1], json!({"before_id": null})).await,
        200,
    )
    .await;
    assert_eq!(
        order(&app, &user, &project, None).await,
        ["b", "a", "d", "c"]
    );
    body_of(move_task(&app, &user, &ids[1], json!({})).await, 200).await;
    assert_eq!(
        order(&app, &user, &project, None).await,
        ["a", "d", "c", "b"]
    );
    // Neighbours in the wrong order are refused.
    assert_invalid_field(
        move_task(
            &app,
            &user,
            &ids[0],
            json!({"before_id": ids[1], "after_id": ids[3]}),
        )
        .await,
        "before_id",
    )
    .await;
}

#[tokio::test]
async fn a_move_can_change_the_status_in_the_same_write() {
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["a", "b"]).await;
    let moved = body_of(
        move_task(&app, &user, &ids[1], json!({"status": "done"})).await,
        200,
    )
    .await;
    assert_eq!(moved["status"], "done");
    assert!(moved["completed_at"].is_string());
    assert_eq!(order(&app, &user, &project, Some("done")).await, ["b"]);
    assert_eq!(order(&app, &user, &project, Some("todo")).await, ["a"]);
}

#[tokio::test]
async fn foreign_or_unknown_neighbours_are_422() {
    let app = spawn_app().await;
    let (user, _, ids) = setup(&app, &["a", "b"]).await;
    let other = id_of(&create_project(&app, &user, "Other").await);
    let foreign = id_of(&create_task(&app, &user, &other, json!({"title": "x"})).await);
    assert_invalid_field(
        move_task(&app, &user, &ids[0], json!({"before_id": foreign})).await,
        "before_id",
    )
    .await;
    assert_invalid_field(
        move_task(
            &app,
            &user,
            &ids[0],
            json!({"after_id": uuid::Uuid::now_v7()}),
        )
        .await,
        "after_id",
    )
    .await;
    assert_invalid_field(
        move_task(&app, &user, &ids[0], json!({"after_id": ids[0]})).await,
        "after_id",
    )
    .await;
    assert_invalid_field(
        move_task(&app, &user, &ids[0], json!({"status": "later"})).await,
        "status",
    )
    .await;
    assert_invalid_field(
        move_task(&app, &user, &ids[0], json!({"position": "a0"})).await,
        "position",
    )
    .await;
}

#[tokio::test]
async fn moves_honour_if_match_and_need_an_editor() {
    let app = spawn_app().await;
    let (owner, project, ids) = setup(&app, &["a", "b"]).await;
    let response = app
        .post(
            &format!("/api/v1/tasks/{}/move", ids[0]),
            &owner.token,
            &json!({}),
        )
        .header("if-match", "\"7\"")
        .send()
        .await
        .unwrap();
    assert_problem(response, 412, "precondition_failed").await;
    let response = app
        .post(
            &format!("/api/v1/tasks/{}/move", ids[0]),
            &owner.token,
            &json!({}),
        )
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    body_of(response, 200).await;

    let viewer = app.new_user().await;
    add_member(&app, &owner, &project, &viewer, "viewer").await;
    assert_problem(
        move_task(&app, &viewer, &ids[1], json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let stranger = app.new_user().await;
    assert_problem(
        move_task(&app, &stranger, &ids[1], json!({})).await,
        404,
        "not_found",
    )
    .await;
    let editor = app.new_user().await;
    add_member(&app, &owner, &project, &editor, "editor").await;
    body_of(
        move_task(&app, &editor, &ids[1], json!({"before_id": null})).await,
        200,
    )
    .await;
    assert_eq!(order(&app, &owner, &project, None).await, ["b", "a"]);
}

#[tokio::test]
async fn many_moves_into_the_same_gap_keep_working() {
    let app = spawn_app().await;
    let (user, project, ids) = setup(&app, &["first", "last", "x", "y"]).await;
    // Alternately drop x and y just before "last": the gap halves every time.
    for round in 0..60 {
        let task = &ids[2 + round % 2];
        body_of(
            move_task(
                &app,
                &user,
                task,
                json!({"before_id": ids[0], "after_id": ids[1]}),
            )
            .await,
            200,
        )
        .await;
    }
    let titles = order(&app, &user, &project, None).await;
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
    let moves = ids[2..].iter().map(|id| {
        let body = if id.as_bytes()[id.len() - 1] % 2 == 0 {
            json!({"before_id": ids[0], "after_id": ids[1]})
        } else {
            json!({"before_id": null})
        };
        move_task(&app, &user, id, body)
    });
    for response in futures::future::join_all(moves).await {
        body_of(response, 200).await;
    }
    let page = body_of(
        app.get(&format!("/api/v1/projects/{project}/tasks"), &user.token)
            .query(&[("sort", "position"), ("limit", "100")])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
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

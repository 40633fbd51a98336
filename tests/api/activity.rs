//! The change history (API.md §11): each change writes its entry in its own transaction, with
//! old and new values; a rolled-back change writes none; newest first, paged; ids follow
//! commit order.

use serde_json::{json, Value};

use crate::helpers::*;

async fn history(app: &TestApp, user: &TestUser, path: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = app.get(path, &user.token).query(&[("limit", "3")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = body_of(request.send().await.unwrap(), 200).await;
        entries.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return entries,
        }
    }
}

fn kinds(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

fn change<'a>(entry: &'a Value, field: &str) -> Option<&'a Value> {
    entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == field)
}

#[tokio::test]
async fn task_changes_are_recorded_with_old_and_new_values_newest_first() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    let viewer = app.new_user().await;
    let project = id_of(&create_project(&app, &owner, "History").await);
    add_member(&app, &owner, &project, &viewer, "viewer").await;
    let task = create_task(
        &app,
        &owner,
        &project,
        json!({"title": "Draft", "description": "four"}),
    )
    .await;
    let id = id_of(&task);
    let patch = |body: Value| {
        app.patch(&format!("/api/v1/tasks/{id}"), &owner.token, &body)
            .send()
    };
    body_of(
        patch(json!({"title": "Final", "status": "done", "description": "longer text"}))
            .await
            .unwrap(),
        200,
    )
    .await;
    // A write that changes nothing records nothing.
    body_of(patch(json!({"title": "Final"})).await.unwrap(), 200).await;
    let other = id_of(&create_task(&app, &owner, &project, json!({"title": "Other"})).await);
    let moved = app
        .post(
            &format!("/api/v1/tasks/{id}/move"),
            &owner.token,
            &json!({"before_id": other}),
        )
        .send()
        .await
        .unwrap();
    body_of(moved, 200).await;

    let entries = history(&app, &viewer, &format!("/api/v1/tasks/{id}/activity")).await;
    assert_eq!(
        kinds(&entries),
        ["task.moved", "task.updated", "task.created"]
    );
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let created = &entries[2];
    assert_eq!(created["actor"]["id"], owner.id.to_string());
    assert_eq!(created["actor"]["name"], "Test User");
    assert_eq!(created["project_id"], project.as_str());
    assert_eq!(created["task_id"], id.as_str());
    assert_eq!(change(created, "title").unwrap()["to"], "Draft");
    assert_eq!(change(created, "title").unwrap()["from"], Value::Null);

    let updated = &entries[1];
    assert_eq!(
        change(updated, "title").unwrap(),
        &json!({"field": "title", "from": "Draft", "to": "Final"})
    );
    assert_eq!(
        change(updated, "status").unwrap(),
        &json!({"field": "status", "from": "todo", "to": "done"})
    );
    // Descriptions: lengths only.
    assert_eq!(
        change(updated, "description").unwrap(),
        &json!({"field": "description", "from": 4, "to": 11})
    );
    assert!(
        change(updated, "priority").is_none(),
        "unchanged fields are left out"
    );
    assert!(change(&entries[0], "position").is_some());
    assert!(is_utc_timestamp(&updated["at"]));
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_entry() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    let project = id_of(&create_project(&app, &owner, "History").await);
    let id = id_of(&create_task(&app, &owner, &project, json!({"title": "A"})).await);
    let before: i64 = app.db.scalar("SELECT count(*) FROM activity", &[]).await;
    let stale = app
        .patch(
            &format!("/api/v1/tasks/{id}"),
            &owner.token,
            &json!({"title": "B"}),
        )
        .header("If-Match", "\"9\"")
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "precondition_failed").await;
    let invalid = app
        .patch(
            &format!("/api/v1/tasks/{id}"),
            &owner.token,
            &json!({"title": "B", "priority": 9}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(invalid, 422, "validation_failed").await;
    let after: i64 = app.db.scalar("SELECT count(*) FROM activity", &[]).await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn project_history_keeps_deleted_tasks_and_membership_and_project_changes() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    let member = app.new_user().await;
    let project = id_of(&create_project(&app, &owner, "Team").await);
    add_member(&app, &owner, &project, &member, "editor").await;
    let task = id_of(
        &create_task(
            &app,
            &owner,
            &project,
            json!({"title": "Theirs", "assignee_id": member.id}),
        )
        .await,
    );
    body_of(
        put_role(&app, &owner, &project, member.id, "viewer").await,
        200,
    )
    .await;
    let removed = app
        .delete(
            &format!("/api/v1/projects/{project}/members/{}", member.id),
            &owner.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let renamed = app
        .patch(
            &format!("/api/v1/projects/{project}"),
            &owner.token,
            &json!({"name": "Renamed"}),
        )
        .send()
        .await
        .unwrap();
    body_of(renamed, 200).await;
    let deleted = app
        .delete(&format!("/api/v1/tasks/{task}"), &owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    let entries = history(
        &app,
        &owner,
        &format!("/api/v1/projects/{project}/activity"),
    )
    .await;
    assert_eq!(
        kinds(&entries),
        [
            "task.deleted",
            "project.updated",
            // Removing a member unassigns their tasks, in the same transaction.
            "task.updated",
            "member.removed",
            "member.updated",
            "task.created",
            "member.added",
        ]
    );
    let by_kind = |kind: &str| entries.iter().find(|e| e["kind"] == kind).unwrap();
    assert_eq!(by_kind("member.added")["user_id"], member.id.to_string());
    assert_eq!(
        change(by_kind("member.updated"), "role").unwrap(),
        &json!({"field": "role", "from": "editor", "to": "viewer"})
    );
    assert_eq!(
        change(by_kind("member.removed"), "role").unwrap()["from"],
        "viewer"
    );
    assert_eq!(
        change(by_kind("task.updated"), "assignee_id").unwrap(),
        &json!({"field": "assignee_id", "from": member.id, "to": null})
    );
    assert_eq!(
        change(by_kind("project.updated"), "name").unwrap(),
        &json!({"field": "name", "from": "Team", "to": "Renamed"})
    );
    assert_eq!(by_kind("task.deleted")["task_id"], task.as_str());
    // The deleted task's own history is gone with it (404), the project's keeps it.
    let gone = app
        .get(&format!("/api/v1/tasks/{task}/activity"), &owner.token)
        .send()
        .await
        .unwrap();
    assert_problem(gone, 404, "not_found").await;
    // The removed member sees none of it.
    let outside = app
        .get(
            &format!("/api/v1/projects/{project}/activity"),
            &member.token,
        )
        .send()
        .await
        .unwrap();
    assert_problem(outside, 404, "not_found").await;
}

#[tokio::test]
async fn a_move_to_another_project_is_recorded_in_both() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    let from = id_of(&create_project(&app, &owner, "From").await);
    let to = id_of(&create_project(&app, &owner, "To").await);
    let task = id_of(&create_task(&app, &owner, &from, json!({"title": "Travels"})).await);
    let moved = app
        .patch(
            &format!("/api/v1/tasks/{task}"),
            &owner.token,
            &json!({"project_id": to}),
        )
        .send()
        .await
        .unwrap();
    body_of(moved, 200).await;
    for project in [&from, &to] {
        let entries = history(
            &app,
            &owner,
            &format!("/api/v1/projects/{project}/activity"),
        )
        .await;
        assert_eq!(entries[0]["kind"], "task.moved", "{project}");
        assert_eq!(
            change(&entries[0], "project_id").unwrap(),
            &json!({"field": "project_id", "from": from, "to": to})
        );
    }
}

#[tokio::test]
async fn comment_entries_name_the_comment() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    let project = id_of(&create_project(&app, &owner, "Talk").await);
    let task = id_of(&create_task(&app, &owner, &project, json!({"title": "T"})).await);
    let comment = body_of(
        app.post(
            &format!("/api/v1/tasks/{task}/comments"),
            &owner.token,
            &json!({"body": "hello"}),
        )
        .send()
        .await
        .unwrap(),
        201,
    )
    .await;
    let path = format!("/api/v1/comments/{}", id_of(&comment));
    body_of(
        app.patch(&path, &owner.token, &json!({"body": "hello, world"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        app.delete(&path, &owner.token)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let entries = history(&app, &owner, &format!("/api/v1/tasks/{task}/activity")).await;
    assert_eq!(
        kinds(&entries),
        [
            "comment.deleted",
            "comment.updated",
            "comment.created",
            "task.created"
        ]
    );
    for entry in &entries[..3] {
        assert_eq!(entry["comment_id"], comment["id"]);
        assert_eq!(entry["task_id"], task.as_str());
    }
    assert_eq!(
        change(&entries[1], "body").unwrap(),
        &json!({"field": "body", "from": 5, "to": 12})
    );
}

#[tokio::test]
async fn concurrent_writers_get_ids_in_commit_order() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    let project = id_of(&create_project(&app, &owner, "Busy").await);
    let mut tasks = Vec::new();
    for i in 0..20 {
        tasks.push(id_of(
            &create_task(&app, &owner, &project, json!({ "title": format!("t{i}") })).await,
        ));
    }
    let (app_ref, owner_ref) = (&app, &owner);
    let writes = tasks.iter().flat_map(|task| {
        (0..3).map(move |round| async move {
            let response = app_ref
                .patch(
                    &format!("/api/v1/tasks/{task}"),
                    &owner_ref.token,
                    &json!({ "priority": round + 1 }),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        })
    });
    futures::future::join_all(writes).await;
    // `at` is taken inside the journal lock, just before the commit: in id order it never
    // goes back, which it would if ids were handed out before concurrent commits finished.
    let rows = app
        .db
        .rows(
            "SELECT id, at FROM activity WHERE project_id = $1 ORDER BY id",
            &[&project.parse::<uuid::Uuid>().unwrap()],
        )
        .await;
    assert_eq!(rows.len(), 20 + 60);
    let times: Vec<chrono::DateTime<chrono::Utc>> = rows.iter().map(|r| r.get("at")).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

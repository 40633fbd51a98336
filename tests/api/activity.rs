//! The change history (API.md §11): each change writes its entry in its own transaction, with
//! old and new values; a rolled-back change writes none; newest first, paged, with every change
//! committed before the read; ids follow commit order.

use serde_json::{json, Value};

use crate::helpers::*;

async fn history(user: &UserClient<'_>, path: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = user.get(path).query(&[("limit", "3")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Page<Value> = request.await.good();
        entries.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
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
    let owner = app.new_client().await;
    let viewer = app.new_client().await;
    let project = owner.create_project("History").await.id;
    owner.add_member(project, &viewer, "viewer").await;
    let task = owner
        .create_task(project, json!({"title": "Draft", "description": "four"}))
        .await;
    let id = task.id;
    let patch = |body: Value| owner.patch(&format!("/api/v1/tasks/{id}"), &body);
    patch(json!({"title": "Final", "status": "done", "description": "longer text"}))
        .await
        .good::<Value>();
    // A write that changes nothing records nothing.
    patch(json!({"title": "Final"})).await.good::<Value>();
    let other = owner
        .create_task(project, json!({"title": "Other"}))
        .await
        .id;
    let moved = owner
        .post(
            &format!("/api/v1/tasks/{id}/move"),
            json!({"before_id": other}),
        )
        .await;
    moved.good::<Value>();

    let entries = history(&viewer, &format!("/api/v1/tasks/{id}/activity")).await;
    assert_eq!(
        kinds(&entries),
        ["task.moved", "task.updated", "task.created"]
    );
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let created = &entries[2];
    assert_eq!(created["actor"]["id"], owner.id.to_string());
    assert_eq!(created["actor"]["name"], "Test User");
    assert_eq!(created["project_id"], project.to_string());
    assert_eq!(created["task_id"], id.to_string());
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
    let owner = app.new_client().await;
    let project = owner.create_project("History").await.id;
    let id = owner.create_task(project, json!({"title": "A"})).await.id;
    app.journal_settled().await;
    let before: i64 = app.db.scalar("SELECT count(*) FROM activity", &[]).await;
    let stale = owner
        .patch(&format!("/api/v1/tasks/{id}"), json!({"title": "B"}))
        .if_match("\"9\"")
        .await;
    stale.problem(412, "precondition_failed");
    let invalid = owner
        .patch(
            &format!("/api/v1/tasks/{id}"),
            json!({"title": "B", "priority": 9}),
        )
        .await;
    invalid.problem(422, "validation_failed");
    app.journal_settled().await;
    let after: i64 = app.db.scalar("SELECT count(*) FROM activity", &[]).await;
    assert_eq!(before, after);
    // What a reader of the history sees right after the refusals: only the creation.
    let entries = history(&owner, &format!("/api/v1/tasks/{id}/activity")).await;
    assert_eq!(kinds(&entries), ["task.created"]);
}

#[tokio::test]
async fn project_history_keeps_deleted_tasks_and_membership_and_project_changes() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let member = app.new_client().await;
    let project = owner.create_project("Team").await.id;
    owner.add_member(project, &member, "editor").await;
    let task = owner
        .create_task(
            project,
            json!({"title": "Theirs", "assignee_id": member.id}),
        )
        .await
        .id;
    owner
        .put_role(project, member.id, "viewer")
        .await
        .good::<Value>();
    let removed = owner
        .delete(&format!("/api/v1/projects/{project}/members/{}", member.id))
        .await;
    assert_eq!(removed.status(), 204);
    let renamed = owner
        .patch(
            &format!("/api/v1/projects/{project}"),
            json!({"name": "Renamed"}),
        )
        .await;
    renamed.good::<Value>();
    let deleted = owner.delete(&format!("/api/v1/tasks/{task}")).await;
    assert_eq!(deleted.status(), 204);

    let entries = history(&owner, &format!("/api/v1/projects/{project}/activity")).await;
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
    assert_eq!(by_kind("task.deleted")["task_id"], task.to_string());
    // The deleted task's own history is gone with it (404), the project's keeps it.
    let gone = owner.get(&format!("/api/v1/tasks/{task}/activity")).await;
    gone.problem(404, "not_found");
    // The removed member sees none of it.
    let outside = member
        .get(&format!("/api/v1/projects/{project}/activity"))
        .await;
    outside.problem(404, "not_found");
}

/// A move between projects writes an entry in each (API.md §9, "History stays where it was
/// written"): the source's says where the task went; the destination's says only that it
/// arrived, with its new number.
#[tokio::test]
async fn a_move_to_another_project_is_recorded_in_both() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let from = owner.create_project("From").await.id;
    let to = owner.create_project("To").await.id;
    let task = owner
        .create_task(from, json!({"title": "Travels"}))
        .await
        .id;
    let moved: Task = owner
        .patch(&format!("/api/v1/tasks/{task}"), json!({"project_id": to}))
        .await
        .good();
    let left = history(&owner, &format!("/api/v1/projects/{from}/activity")).await;
    assert_eq!(left[0]["kind"], "task.moved");
    assert_eq!(left[0]["project_id"], from.to_string());
    assert_eq!(
        change(&left[0], "project_id").unwrap(),
        &json!({"field": "project_id", "from": from, "to": to})
    );
    let arrived = history(&owner, &format!("/api/v1/projects/{to}/activity")).await;
    assert_eq!(kinds(&arrived), ["task.moved"]);
    assert_eq!(arrived[0]["project_id"], to.to_string());
    assert_eq!(
        arrived[0]["changes"],
        json!([
            {"field": "project_id", "from": null, "to": to},
            {"field": "number", "from": null, "to": moved.number},
        ])
    );
}

/// A task moved from a private project into a shared one (API.md §9): the new project's
/// members see only what happened in their project, and nothing of the private past (old
/// titles, labels, comments, the project it came from); its owner, a member of both, sees
/// both; each project's feed keeps only its own entries.
#[tokio::test]
async fn a_moved_task_does_not_carry_its_private_history_along() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let colleague = app.new_client().await;
    let private = owner.create_project("Private").await.id;
    let shared = owner.create_project("Shared").await.id;
    owner.add_member(shared, &colleague, "editor").await;
    let task = owner
        .create_task(
            private,
            json!({"title": "Layoffs in March", "labels": ["hr-only"], "description": "names"}),
        )
        .await;
    owner
        .patch(&task_path(task.id), json!({"title": "Reorganisation"}))
        .await
        .good::<Value>();
    owner
        .post(&comments_path(task.id), json!({"body": "keep this quiet"}))
        .await
        .created::<Value>();
    let private_before = history(&owner, &format!("/api/v1/projects/{private}/activity")).await;
    let moved: Task = owner
        .patch(
            &task_path(task.id),
            json!({"project_id": shared, "title": "Team changes", "labels": []}),
        )
        .await
        .good();
    owner
        .patch(&task_path(task.id), json!({"priority": 2}))
        .await
        .good::<Value>();

    // The colleague: the arrival and what came after, nothing from before.
    let seen = history(&colleague, &format!("/api/v1/tasks/{}/activity", task.id)).await;
    assert_eq!(kinds(&seen), ["task.updated", "task.moved"]);
    for entry in &seen {
        assert_eq!(entry["project_id"], shared.to_string(), "{entry}");
        let text = entry.to_string();
        for secret in ["Layoffs", "Reorganisation", "hr-only", &private.to_string()] {
            assert!(!text.contains(secret), "{secret:?} in {text}");
        }
    }
    assert_eq!(
        seen[1]["changes"],
        json!([
            {"field": "project_id", "from": null, "to": shared},
            {"field": "number", "from": null, "to": moved.number},
        ])
    );
    // The owner, a member of both projects, sees the whole story.
    let whole = history(&owner, &format!("/api/v1/tasks/{}/activity", task.id)).await;
    assert_eq!(
        kinds(&whole),
        [
            "task.updated",
            "task.moved",
            "task.moved",
            "comment.created",
            "task.updated",
            "task.created"
        ]
    );
    // Each project's feed holds its own entries only: the private one gained exactly the
    // departure, and the later change is not in it.
    let private_after = history(&owner, &format!("/api/v1/projects/{private}/activity")).await;
    assert_eq!(private_after.len(), private_before.len() + 1);
    assert_eq!(private_after[0]["kind"], "task.moved");
    assert_eq!(
        change(&private_after[0], "project_id").unwrap(),
        &json!({"field": "project_id", "from": private, "to": shared})
    );
    assert_eq!(&private_after[1..], &private_before[..]);
    let shared_feed = history(&colleague, &format!("/api/v1/projects/{shared}/activity")).await;
    assert!(shared_feed
        .iter()
        .all(|e| e["project_id"] == shared.to_string()));
    assert_eq!(kinds(&shared_feed)[..2], ["task.updated", "task.moved"]);
    // When the colleague leaves, the task's history shows them nothing at all (404).
    owner
        .delete(&member_path(shared, colleague.id))
        .await
        .no_content();
    colleague
        .get(&format!("/api/v1/tasks/{}/activity", task.id))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn comment_entries_name_the_comment() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Talk").await.id;
    let task = owner.create_task(project, json!({"title": "T"})).await.id;
    let comment = owner
        .post(
            &format!("/api/v1/tasks/{task}/comments"),
            json!({"body": "hello"}),
        )
        .await
        .created::<Value>();
    let path = format!("/api/v1/comments/{}", id_of(&comment));
    owner
        .patch(&path, json!({"body": "hello, world"}))
        .await
        .good::<Value>();
    assert_eq!(owner.delete(&path).await.status(), 204);
    let entries = history(&owner, &format!("/api/v1/tasks/{task}/activity")).await;
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
        assert_eq!(entry["task_id"], task.to_string());
    }
    assert_eq!(
        change(&entries[1], "body").unwrap(),
        &json!({"field": "body", "from": 5, "to": 12})
    );
}

#[tokio::test]
async fn concurrent_writers_get_ids_in_commit_order() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Busy").await.id;
    let mut tasks = Vec::new();
    for i in 0..20 {
        tasks.push(
            owner
                .create_task(project, json!({ "title": format!("t{i}") }))
                .await
                .id,
        );
    }
    let owner_ref = &owner;
    let writes = tasks.iter().flat_map(|task| {
        (0..3).map(move |round| async move {
            let response = owner_ref
                .patch(&task_path(task), json!({ "priority": round + 1 }))
                .await;
            assert_eq!(response.status(), 200);
        })
    });
    futures::future::join_all(writes).await;
    // Writes to one task commit one after the other (its row lock), in an order the writers
    // raced for: in id order, each of its entries must start where the one before ended
    // (`from` is the previous `to`), which it would not if ids were handed out in any other
    // order than the commits'. Read right after the writes, the history has all of them.
    let entries = history(&owner, &format!("/api/v1/projects/{project}/activity")).await;
    assert_eq!(entries.len(), 20 + 60);
    for task in &tasks {
        let mut priorities: Vec<(i64, &Value)> = entries
            .iter()
            .filter(|e| e["task_id"] == task.to_string())
            .map(|e| (e["id"].as_i64().unwrap(), e))
            .collect();
        priorities.sort_by_key(|(id, _)| *id);
        let mut now = Value::Null;
        for (_, entry) in priorities {
            let priority = change(entry, "priority").expect("every entry changes it");
            assert_eq!(priority["from"], now, "{task}: {entry}");
            now = priority["to"].clone();
        }
    }
}

#[tokio::test]
async fn a_history_read_includes_entries_committed_but_not_yet_numbered() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Late").await.id;
    let task = owner.create_task(project, json!({"title": "T"})).await.id;
    // The sequencer is idle (it runs again on a doorbell, or in a second).
    app.journal_settled().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // Committed by a writer whose instance went away before anything numbered it: no doorbell
    // rang here, so only the read itself can make it part of the history in time.
    app.db
        .execute(
            "INSERT INTO activity_pending (kind, project_id, task_id, actor_id, changes) \
             VALUES ('task.updated', $1, $2, $3, $4)",
            &[
                &project,
                &task,
                &owner.id,
                &json!([{"field": "title", "from": "T", "to": "U"}]),
            ],
        )
        .await;
    let entries = history(&owner, &format!("/api/v1/tasks/{task}/activity")).await;
    assert_eq!(kinds(&entries), ["task.updated", "task.created"]);
    assert_eq!(change(&entries[0], "title").unwrap()["to"], "U");
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids[0] > ids[1], "numbered after the creation: {ids:?}");
}

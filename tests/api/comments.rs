//! Comments (API.md §10): the shape, who may do what, mentions and their notifications,
//! `If-Match`, `Idempotency-Key`, paging, `comment_count` and the quota.

use serde_json::{json, Value};

use crate::helpers::*;

async fn post_comment(app: &TestApp, user: &TestUser, task: &str, body: &str) -> reqwest::Response {
    app.post(
        &format!("/api/v1/tasks/{task}/comments"),
        &user.token,
        &json!({ "body": body }),
    )
    .send()
    .await
    .unwrap()
}

async fn comment(app: &TestApp, user: &TestUser, task: &str, body: &str) -> Value {
    body_of(post_comment(app, user, task, body).await, 201).await
}

async fn get_task(app: &TestApp, user: &TestUser, task: &str) -> Value {
    body_of(
        app.get(&format!("/api/v1/tasks/{task}"), &user.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await
}

/// An owner's project with a task, and an editor and a viewer in it.
struct Team {
    owner: TestUser,
    editor: TestUser,
    viewer: TestUser,
    project: String,
    task: String,
}

async fn team(app: &TestApp) -> Team {
    let owner = app.new_user().await;
    let editor = app.new_user().await;
    let viewer = app.new_user().await;
    let project = id_of(&create_project(app, &owner, "Team").await);
    add_member(app, &owner, &project, &editor, "editor").await;
    add_member(app, &owner, &project, &viewer, "viewer").await;
    let task = id_of(&create_task(app, &owner, &project, json!({"title": "Discuss"})).await);
    Team {
        owner,
        editor,
        viewer,
        project,
        task,
    }
}

async fn notification_kinds(app: &TestApp, user: &TestUser) -> Vec<String> {
    app.db
        .rows(
            "SELECT kind FROM notifications WHERE user_id = $1 ORDER BY id",
            &[&user.id],
        )
        .await
        .iter()
        .map(|row| row.get::<_, String>("kind"))
        .collect()
}

#[tokio::test]
async fn a_comment_is_created_with_location_etag_and_the_documented_shape() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let response = post_comment(&app, &t.editor, &t.task, "  Looks **good**  \n").await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = body_of(response, 201).await;
    assert_eq!(location, format!("/api/v1/comments/{}", id_of(&created)));
    assert_eq!(
        keys_of(&created),
        [
            "author",
            "body",
            "created_at",
            "id",
            "mentions",
            "task_id",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(created["body"], "Looks **good**", "stored trimmed");
    assert_eq!(created["task_id"], t.task.as_str());
    assert_eq!(created["author"]["id"], t.editor.id.to_string());
    assert_eq!(created["author"]["name"], "Test User");
    assert_eq!(created["mentions"], json!([]));
    assert_eq!(created["version"], 1);

    let fetched = app.get(&location, &t.viewer.token).send().await.unwrap();
    assert_eq!(fetched.headers()["etag"], "\"1\"");
    assert_eq!(body_of(fetched, 200).await, created);
    let cached = app
        .get(&location, &t.viewer.token)
        .header("If-None-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(get_task(&app, &t.owner, &t.task).await["comment_count"], 1);
}

#[tokio::test]
async fn viewers_read_but_cannot_comment_and_strangers_see_nothing() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let stranger = app.new_user().await;
    let c = comment(&app, &t.owner, &t.task, "hello").await;

    assert_problem(
        post_comment(&app, &t.viewer, &t.task, "me too").await,
        403,
        "forbidden",
    )
    .await;
    let list = body_of(
        app.get(
            &format!("/api/v1/tasks/{}/comments", t.task),
            &t.viewer.token,
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let comment_path = format!("/api/v1/comments/{}", id_of(&c));
    for response in [
        post_comment(&app, &stranger, &t.task, "hi").await,
        app.get(
            &format!("/api/v1/tasks/{}/comments", t.task),
            &stranger.token,
        )
        .send()
        .await
        .unwrap(),
        app.get(&comment_path, &stranger.token)
            .send()
            .await
            .unwrap(),
        app.patch(&comment_path, &stranger.token, &json!({"body": "x"}))
            .send()
            .await
            .unwrap(),
        app.delete(&comment_path, &stranger.token)
            .send()
            .await
            .unwrap(),
    ] {
        assert_problem(response, 404, "not_found").await;
    }
    assert_eq!(get_task(&app, &t.owner, &t.task).await["comment_count"], 1);
}

#[tokio::test]
async fn bodies_must_be_1_to_10000_characters_once_trimmed() {
    let app = spawn_app().await;
    let t = team(&app).await;
    for bad in [
        json!(""),
        json!(" \n\t "),
        json!("é".repeat(10_001)),
        json!(5),
        json!(null),
    ] {
        let response = app
            .post(
                &format!("/api/v1/tasks/{}/comments", t.task),
                &t.editor.token,
                &json!({ "body": bad }),
            )
            .send()
            .await
            .unwrap();
        assert_invalid_field(response, "body").await;
    }
    let unknown = app
        .post(
            &format!("/api/v1/tasks/{}/comments", t.task),
            &t.editor.token,
            &json!({"body": "ok", "author": "me"}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 422, "validation_failed").await;
    let longest = comment(&app, &t.editor, &t.task, &"é".repeat(10_000)).await;
    assert_eq!(longest["body"].as_str().unwrap().chars().count(), 10_000);
    assert_eq!(get_task(&app, &t.owner, &t.task).await["comment_count"], 1);
}

#[tokio::test]
async fn comments_page_oldest_first_with_cursors_bound_to_their_task() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let other_task =
        id_of(&create_task(&app, &t.owner, &t.project, json!({"title": "Other"})).await);
    for i in 0..5 {
        comment(&app, &t.editor, &t.task, &format!("c{i}")).await;
    }
    let mut bodies = Vec::new();
    let mut cursor: Option<String> = None;
    let mut first_cursor = None;
    loop {
        let mut request = app
            .get(
                &format!("/api/v1/tasks/{}/comments", t.task),
                &t.viewer.token,
            )
            .query(&[("limit", "2")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = body_of(request.send().await.unwrap(), 200).await;
        for item in page["items"].as_array().unwrap() {
            bodies.push(item["body"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => {
                first_cursor.get_or_insert(c.to_owned());
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(bodies, ["c0", "c1", "c2", "c3", "c4"]);
    let elsewhere = app
        .get(
            &format!("/api/v1/tasks/{other_task}/comments"),
            &t.viewer.token,
        )
        .query(&[("cursor", first_cursor.unwrap())])
        .send()
        .await
        .unwrap();
    assert_problem(elsewhere, 400, "invalid_query").await;
}

#[tokio::test]
async fn only_the_author_edits_and_if_match_guards_the_edit() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let c = comment(&app, &t.editor, &t.task, "first draft").await;
    let path = format!("/api/v1/comments/{}", id_of(&c));

    // Not the author, even the owner: 403.
    let by_owner = app
        .patch(&path, &t.owner.token, &json!({"body": "rewritten"}))
        .send()
        .await
        .unwrap();
    assert_problem(by_owner, 403, "forbidden").await;

    let stale = app
        .patch(&path, &t.editor.token, &json!({"body": "second"}))
        .header("If-Match", "\"7\"")
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "precondition_failed").await;

    let edited = app
        .patch(&path, &t.editor.token, &json!({"body": " second draft "}))
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(edited.headers()["etag"], "\"2\"");
    let edited = body_of(edited, 200).await;
    assert_eq!(edited["body"], "second draft");
    assert_eq!(edited["version"], 2);
    assert!(edited["updated_at"].as_str() > c["updated_at"].as_str());

    let bad = app
        .patch(&path, &t.editor.token, &json!({"body": ""}))
        .send()
        .await
        .unwrap();
    assert_invalid_field(bad, "body").await;
    let now = body_of(app.get(&path, &t.editor.token).send().await.unwrap(), 200).await;
    assert_eq!(now["body"], "second draft");

    // An author demoted to viewer may no longer write.
    add_member_role(&app, &t, &t.editor, "viewer").await;
    let demoted = app
        .patch(&path, &t.editor.token, &json!({"body": "third"}))
        .send()
        .await
        .unwrap();
    assert_problem(demoted, 403, "forbidden").await;
}

async fn add_member_role(app: &TestApp, t: &Team, user: &TestUser, role: &str) {
    let response = put_role(app, &t.owner, &t.project, user.id, role).await;
    body_of(response, 200).await;
}

#[tokio::test]
async fn the_author_or_an_admin_deletes_and_the_count_follows() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let other_editor = app.new_user().await;
    add_member(&app, &t.owner, &t.project, &other_editor, "editor").await;
    let mine = comment(&app, &t.editor, &t.task, "mine").await;
    let theirs = comment(&app, &other_editor, &t.task, "theirs").await;
    assert_eq!(get_task(&app, &t.owner, &t.task).await["comment_count"], 2);

    let path = |c: &Value| format!("/api/v1/comments/{}", id_of(c));
    let not_theirs = app
        .delete(&path(&theirs), &t.editor.token)
        .send()
        .await
        .unwrap();
    assert_problem(not_theirs, 403, "forbidden").await;
    let stale = app
        .delete(&path(&mine), &t.editor.token)
        .header("If-Match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "precondition_failed").await;

    assert_no_content(
        app.delete(&path(&mine), &t.editor.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_no_content(
        app.delete(&path(&theirs), &t.owner.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_problem(
        app.get(&path(&mine), &t.editor.token).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_eq!(get_task(&app, &t.owner, &t.task).await["comment_count"], 0);
}

#[tokio::test]
async fn mentions_name_members_by_email_and_notify_each_person_once() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let outsider = app.new_user().await;
    // The viewer is the assignee-to-be; the owner created the task.
    let patched = app
        .patch(
            &format!("/api/v1/tasks/{}", t.task),
            &t.owner.token,
            &json!({"assignee_id": t.editor.id}),
        )
        .send()
        .await
        .unwrap();
    body_of(patched, 200).await;
    app.db.execute("DELETE FROM notifications", &[]).await;

    let body = format!(
        "@{} please look (cc @{}, @{}, and me @{}).",
        t.viewer.email.to_uppercase(),
        outsider.email,
        t.owner.email,
        t.editor.email
    );
    let c = comment(&app, &t.editor, &t.task, &body).await;
    let mut mentions: Vec<String> = c["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    mentions.sort();
    let mut expected = vec![
        t.viewer.id.to_string(),
        t.owner.id.to_string(),
        t.editor.id.to_string(),
    ];
    expected.sort();
    assert_eq!(mentions, expected, "members only, the outsider is not one");

    // Mentioned once each (the creator too, instead of "commented"); the author not at all.
    assert_eq!(notification_kinds(&app, &t.viewer).await, ["mentioned"]);
    assert_eq!(notification_kinds(&app, &t.owner).await, ["mentioned"]);
    assert!(notification_kinds(&app, &t.editor).await.is_empty());
    assert!(notification_kinds(&app, &outsider).await.is_empty());

    // A plain comment by the viewer-turned-editor: creator and assignee hear of it.
    add_member_role(&app, &t, &t.viewer, "editor").await;
    comment(&app, &t.viewer, &t.task, "done on my side").await;
    assert_eq!(
        notification_kinds(&app, &t.owner).await,
        ["mentioned", "commented"]
    );
    assert_eq!(notification_kinds(&app, &t.editor).await, ["commented"]);

    // An edit that adds a mention notifies the newly mentioned only, once.
    let plain = comment(&app, &t.owner, &t.task, "no mention").await;
    let path = format!("/api/v1/comments/{}", id_of(&plain));
    for _ in 0..2 {
        let edited = app
            .patch(
                &path,
                &t.owner.token,
                &json!({"body": format!("now @{}", t.viewer.email)}),
            )
            .send()
            .await
            .unwrap();
        body_of(edited, 200).await;
    }
    assert_eq!(
        notification_kinds(&app, &t.viewer).await,
        ["mentioned", "mentioned"]
    );
}

#[tokio::test]
async fn an_idempotency_key_creates_one_comment() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let send = || {
        app.post(
            &format!("/api/v1/tasks/{}/comments", t.task),
            &t.editor.token,
            &json!({"body": "once"}),
        )
        .header("Idempotency-Key", "comment-1")
        .send()
    };
    let first = send().await.unwrap();
    assert!(first.headers().get("idempotency-replayed").is_none());
    let first = body_of(first, 201).await;
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(body_of(again, 201).await, first);
    assert_eq!(get_task(&app, &t.owner, &t.task).await["comment_count"], 1);
}

#[tokio::test]
async fn a_task_holds_at_most_2000_comments() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let task: uuid::Uuid = t.task.parse().unwrap();
    // 1,999 comments already there (written directly: 2,000 requests would only slow the
    // suite; the counter is what the quota reads, and it is kept with the rows).
    app.db
        .execute(
            "INSERT INTO comments (id, task_id, author_id, body) \
             SELECT gen_random_uuid(), $1, $2, 'old' FROM generate_series(1, 1999)",
            &[&task, &t.owner.id],
        )
        .await;
    app.db
        .execute(
            "UPDATE tasks SET comment_count = 1999 WHERE id = $1",
            &[&task],
        )
        .await;
    comment(&app, &t.editor, &t.task, "the 2000th").await;
    let over = assert_problem(
        post_comment(&app, &t.editor, &t.task, "one too many").await,
        422,
        "quota_exceeded",
    )
    .await;
    assert!(over["detail"].as_str().unwrap().contains("2000"), "{over}");
    let stored: i64 = app
        .db
        .scalar("SELECT count(*) FROM comments WHERE task_id = $1", &[&task])
        .await;
    assert_eq!(stored, 2000);
    assert_eq!(
        get_task(&app, &t.owner, &t.task).await["comment_count"],
        2000
    );
}

#[tokio::test]
async fn a_deleted_task_takes_its_comments_and_a_deleted_author_leaves_them_authorless() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let c = comment(&app, &t.editor, &t.task, "by someone who leaves").await;
    app.db
        .execute("DELETE FROM users WHERE id = $1", &[&t.editor.id])
        .await;
    let path = format!("/api/v1/comments/{}", id_of(&c));
    let orphan = body_of(app.get(&path, &t.owner.token).send().await.unwrap(), 200).await;
    assert_eq!(orphan["author"], Value::Null);

    assert_no_content(
        app.delete(&format!("/api/v1/tasks/{}", t.task), &t.owner.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_problem(
        app.get(&path, &t.owner.token).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
}

//! Comments (API.md §10): the shape, who may do what, mentions and their notifications,
//! `If-Match`, `Idempotency-Key`, paging, `comment_count` and the quota.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn post_comment(user: &UserClient<'_>, task: Uuid, body: &str) -> TestResponse {
    user.post(&comments_path(task), json!({ "body": body }))
        .await
}

async fn comment(user: &UserClient<'_>, task: Uuid, body: &str) -> Comment {
    post_comment(user, task, body).await.created()
}

/// An owner's project with a task, and an editor and a viewer in it.
struct Team<'a> {
    owner: UserClient<'a>,
    editor: UserClient<'a>,
    viewer: UserClient<'a>,
    project: Uuid,
    task: Uuid,
}

async fn team(app: &TestApp) -> Team<'_> {
    let owner = app.new_client().await;
    let editor = app.new_client().await;
    let viewer = app.new_client().await;
    let project = owner.create_project("Team").await.id;
    owner.add_member(project, &editor, "editor").await;
    owner.add_member(project, &viewer, "viewer").await;
    let task = owner
        .create_task(project, json!({"title": "Discuss"}))
        .await
        .id;
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
    let response = post_comment(&t.editor, t.task, "  Looks **good**  \n").await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.etag(), "\"1\"");
    let location = response.location();
    let created = response.created::<Value>();
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
    assert_eq!(created["task_id"], t.task.to_string());
    assert_eq!(created["author"]["id"], t.editor.id.to_string());
    assert_eq!(created["author"]["name"], "Test User");
    assert_eq!(created["mentions"], json!([]));
    assert_eq!(created["version"], 1);

    let fetched = t.viewer.get(&location).await;
    assert_eq!(fetched.etag(), "\"1\"");
    assert_eq!(fetched.good::<Value>(), created);
    let cached = t.viewer.get(&location).if_none_match("\"1\"").await;
    assert_eq!(cached.status(), 304);
    assert_eq!(t.owner.get_task(t.task).await.comment_count, 1);
}

#[tokio::test]
async fn viewers_read_but_cannot_comment_and_strangers_see_nothing() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let stranger = app.new_client().await;
    let c = comment(&t.owner, t.task, "hello").await;

    post_comment(&t.viewer, t.task, "me too")
        .await
        .problem(403, "forbidden");
    let list = t
        .viewer
        .get(&format!("/api/v1/tasks/{}/comments", t.task))
        .await
        .good::<Value>();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let comment_path = format!("/api/v1/comments/{}", c.id);
    for response in [
        post_comment(&stranger, t.task, "hi").await,
        stranger
            .get(&format!("/api/v1/tasks/{}/comments", t.task))
            .await,
        stranger.get(&comment_path).await,
        stranger.patch(&comment_path, json!({"body": "x"})).await,
        stranger.delete(&comment_path).await,
    ] {
        response.problem(404, "not_found");
    }
    assert_eq!(t.owner.get_task(t.task).await.comment_count, 1);
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
        let response = t
            .editor
            .post(
                &format!("/api/v1/tasks/{}/comments", t.task),
                json!({ "body": bad }),
            )
            .await;
        response.invalid_field("body");
    }
    let unknown = t
        .editor
        .post(
            &format!("/api/v1/tasks/{}/comments", t.task),
            json!({"body": "ok", "author": "me"}),
        )
        .await;
    unknown.problem(422, "validation_failed");
    let longest = comment(&t.editor, t.task, &"é".repeat(10_000)).await;
    assert_eq!(longest.body.as_str().chars().count(), 10_000);
    assert_eq!(t.owner.get_task(t.task).await.comment_count, 1);
}

#[tokio::test]
async fn comments_page_oldest_first_with_cursors_bound_to_their_task() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let other_task = t
        .owner
        .create_task(t.project, json!({"title": "Other"}))
        .await
        .id;
    for i in 0..5 {
        comment(&t.editor, t.task, &format!("c{i}")).await;
    }
    let mut bodies = Vec::new();
    let mut cursor: Option<String> = None;
    let mut first_cursor = None;
    loop {
        let mut request = t
            .viewer
            .get(&comments_path(t.task))
            .query(&[("limit", "2")]);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Page<Comment> = request.await.good();
        for item in page.items {
            bodies.push(item.body);
        }
        match page.next_cursor.as_deref() {
            Some(c) => {
                first_cursor.get_or_insert(c.to_owned());
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(bodies, ["c0", "c1", "c2", "c3", "c4"]);
    let elsewhere = t
        .viewer
        .get(&format!("/api/v1/tasks/{other_task}/comments"))
        .query(&[("cursor", first_cursor.unwrap())])
        .await;
    elsewhere.problem(400, "invalid_query");
}

#[tokio::test]
async fn only_the_author_edits_and_if_match_guards_the_edit() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let c = comment(&t.editor, t.task, "first draft").await;
    let path = format!("/api/v1/comments/{}", c.id);

    // Not the author, even the owner: 403.
    let by_owner = t.owner.patch(&path, json!({"body": "rewritten"})).await;
    by_owner.problem(403, "forbidden");

    let stale = t
        .editor
        .patch(&path, json!({"body": "second"}))
        .if_match("\"7\"")
        .await;
    stale.problem(412, "precondition_failed");

    let edited = t
        .editor
        .patch(&path, json!({"body": " second draft "}))
        .if_match("\"1\"")
        .await;
    assert_eq!(edited.etag(), "\"2\"");
    let edited = edited.good::<Comment>();
    assert_eq!(edited.body, "second draft");
    assert_eq!(edited.version, 2);
    assert!(edited.updated_at > c.updated_at);

    let bad = t.editor.patch(&path, json!({"body": ""})).await;
    bad.invalid_field("body");
    let now = t.editor.get(&path).await.good::<Comment>();
    assert_eq!(now.body, "second draft");

    // An author demoted to viewer may no longer write.
    add_member_role(&t, &t.editor, "viewer").await;
    let demoted = t.editor.patch(&path, json!({"body": "third"})).await;
    demoted.problem(403, "forbidden");
}

async fn add_member_role(t: &Team<'_>, user: &TestUser, role: &str) {
    let response = t.owner.put_role(t.project, user.id, role).await;
    response.good::<Value>();
}

#[tokio::test]
async fn the_author_or_an_admin_deletes_and_the_count_follows() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let other_editor = app.new_client().await;
    t.owner.add_member(t.project, &other_editor, "editor").await;
    let mine = comment(&t.editor, t.task, "mine").await;
    let theirs = comment(&other_editor, t.task, "theirs").await;
    assert_eq!(t.owner.get_task(t.task).await.comment_count, 2);

    let path = |c: &Comment| comment_path(c.id);
    let not_theirs = t.editor.delete(&path(&theirs)).await;
    not_theirs.problem(403, "forbidden");
    let stale = t.editor.delete(&path(&mine)).if_match("\"2\"").await;
    stale.problem(412, "precondition_failed");

    t.editor.delete(&path(&mine)).await.no_content();
    t.owner.delete(&path(&theirs)).await.no_content();
    t.editor.get(&path(&mine)).await.problem(404, "not_found");
    assert_eq!(t.owner.get_task(t.task).await.comment_count, 0);
}

#[tokio::test]
async fn mentions_name_members_by_email_and_notify_each_person_once() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let outsider = app.new_client().await;
    // The viewer is the assignee-to-be; the owner created the task.
    let patched = t
        .owner
        .patch(
            &format!("/api/v1/tasks/{}", t.task),
            json!({"assignee_id": t.editor.id}),
        )
        .await;
    patched.good::<Value>();
    app.db.execute("DELETE FROM notifications", &[]).await;

    let body = format!(
        "@{} please look (cc @{}, @{}, and me @{}).",
        t.viewer.email.to_uppercase(),
        outsider.email,
        t.owner.email,
        t.editor.email
    );
    let c = comment(&t.editor, t.task, &body).await;
    let mut mentions = c.mentions.clone();
    mentions.sort();
    let mut expected = vec![t.viewer.id, t.owner.id, t.editor.id];
    expected.sort();
    assert_eq!(mentions, expected, "members only, the outsider is not one");

    // Mentioned once each (the creator too, instead of "commented"); the author not at all.
    assert_eq!(notification_kinds(&app, &t.viewer).await, ["mentioned"]);
    assert_eq!(notification_kinds(&app, &t.owner).await, ["mentioned"]);
    assert!(notification_kinds(&app, &t.editor).await.is_empty());
    assert!(notification_kinds(&app, &outsider).await.is_empty());

    // A plain comment by the viewer-turned-editor: creator and assignee hear of it.
    add_member_role(&t, &t.viewer, "editor").await;
    comment(&t.viewer, t.task, "done on my side").await;
    assert_eq!(
        notification_kinds(&app, &t.owner).await,
        ["mentioned", "commented"]
    );
    assert_eq!(notification_kinds(&app, &t.editor).await, ["commented"]);

    // An edit that adds a mention notifies the newly mentioned only, once.
    let plain = comment(&t.owner, t.task, "no mention").await;
    let path = format!("/api/v1/comments/{}", plain.id);
    for _ in 0..2 {
        let edited = t
            .owner
            .patch(&path, json!({"body": format!("now @{}", t.viewer.email)}))
            .await;
        edited.good::<Value>();
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
        t.editor
            .post(
                &format!("/api/v1/tasks/{}/comments", t.task),
                json!({"body": "once"}),
            )
            .idempotency_key("comment-1")
    };
    let first = send().await;
    assert!(first.headers().get("idempotency-replayed").is_none());
    let first = first.created::<Value>();
    let again = send().await;
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.created::<Value>(), first);
    assert_eq!(t.owner.get_task(t.task).await.comment_count, 1);
}

#[tokio::test]
async fn a_task_holds_at_most_2000_comments() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let task = t.task;
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
    comment(&t.editor, t.task, "the 2000th").await;
    let over = post_comment(&t.editor, t.task, "one too many")
        .await
        .problem(422, "quota_exceeded");
    assert!(over["detail"].as_str().unwrap().contains("2000"), "{over}");
    let stored: i64 = app
        .db
        .scalar("SELECT count(*) FROM comments WHERE task_id = $1", &[&task])
        .await;
    assert_eq!(stored, 2000);
    assert_eq!(t.owner.get_task(t.task).await.comment_count, 2000);
}

#[tokio::test]
async fn a_deleted_task_takes_its_comments_and_a_deleted_author_leaves_them_authorless() {
    let app = spawn_app().await;
    let t = team(&app).await;
    let c = comment(&t.editor, t.task, "by someone who leaves").await;
    app.db
        .execute("DELETE FROM users WHERE id = $1", &[&t.editor.id])
        .await;
    let path = format!("/api/v1/comments/{}", c.id);
    let orphan = t.owner.get(&path).await.good::<Value>();
    assert_eq!(orphan["author"], Value::Null);

    t.owner
        .delete(&format!("/api/v1/tasks/{}", t.task))
        .await
        .no_content();
    t.owner.get(&path).await.problem(404, "not_found");
}

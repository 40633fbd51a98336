//! Projects and members (API.md §3): the endpoints, the Inbox, the role matrix, ownership
//! transfer, and a sweep of every object endpoint with someone else's ids (BOLA).

use std::collections::BTreeMap;

use reqwest::Response;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn owners_in_db(app: &TestApp, project: &str) -> Vec<Uuid> {
    app.db
        .rows(
            "SELECT user_id FROM memberships WHERE project_id = $1 AND role = 'owner'",
            &[&project.parse::<Uuid>().unwrap()],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn members_of(app: &TestApp, user: &TestUser, project: &str) -> BTreeMap<Uuid, String> {
    let response = app
        .get(&format!("/api/v1/projects/{project}/members"), &user.token)
        .send()
        .await
        .unwrap();
    let page = body_of(response, 200).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["id"].as_str().unwrap().parse().unwrap(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Who is asking, relative to one project: weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Who {
    Outsider,
    Viewer,
    Editor,
    Admin,
    Owner,
}

pub(crate) const EVERYONE: [Who; 5] = [
    Who::Outsider,
    Who::Viewer,
    Who::Editor,
    Who::Admin,
    Who::Owner,
];

impl Who {
    fn role(self) -> &'static str {
        match self {
            Who::Outsider => "none",
            Who::Viewer => "viewer",
            Who::Editor => "editor",
            Who::Admin => "admin",
            Who::Owner => "owner",
        }
    }
}

/// A project with one member of each role, and someone who is not a member.
pub(crate) struct Team {
    pub owner: TestUser,
    pub admin: TestUser,
    pub editor: TestUser,
    pub viewer: TestUser,
    pub outsider: TestUser,
    pub project: String,
}

impl Team {
    pub(crate) async fn new(app: &TestApp) -> Team {
        let (owner, admin, editor, viewer, outsider) = tokio::join!(
            app.new_user(),
            app.new_user(),
            app.new_user(),
            app.new_user(),
            app.new_user()
        );
        let project = id_of(&create_project(app, &owner, "Team project").await);
        add_member(app, &owner, &project, &admin, "admin").await;
        add_member(app, &owner, &project, &editor, "editor").await;
        add_member(app, &owner, &project, &viewer, "viewer").await;
        Team {
            owner,
            admin,
            editor,
            viewer,
            outsider,
            project,
        }
    }

    pub(crate) fn user(&self, who: Who) -> &TestUser {
        match who {
            Who::Outsider => &self.outsider,
            Who::Viewer => &self.viewer,
            Who::Editor => &self.editor,
            Who::Admin => &self.admin,
            Who::Owner => &self.owner,
        }
    }
}

/// The outcome of an action that needs at least the role `least`: a non-member gets 404
/// `not_found` (never 403), a member below `least` gets 403 `forbidden`, the others `ok`.
/// Returns the body of a successful response that has one.
pub(crate) async fn assert_allowed(response: Response, who: Who, least: Who, ok: u16) -> Value {
    let expected = if who == Who::Outsider {
        404
    } else if who < least {
        403
    } else {
        ok
    };
    let status = response.status().as_u16();
    let url = response.url().clone();
    if status != expected {
        let text = response.text().await.unwrap();
        panic!("{who:?} at {url}: expected {expected}, got {status}: {text}");
    }
    match expected {
        404 => assert_problem(response, 404, "not_found").await,
        403 => assert_problem(response, 403, "forbidden").await,
        204 => {
            assert_no_content(response).await;
            Value::Null
        }
        _ => body_of(response, expected).await,
    }
}

fn project_path(project: &str) -> String {
    format!("/api/v1/projects/{project}")
}

// ---------------------------------------------------------------------------------------------
// The Inbox
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_new_user_has_exactly_one_inbox_that_they_own() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let page = body_of(
        app.get("/api/v1/projects", &user.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(page["next_cursor"], Value::Null);
    let inbox = &items[0];
    assert_eq!(inbox["name"], "Inbox");
    assert_eq!(inbox["is_inbox"], true);
    assert_eq!(inbox["my_role"], "owner");
    assert_eq!(inbox["version"], 1);

    let inboxes: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM projects WHERE inbox_of = $1 AND name = 'Inbox'",
            &[&user.id],
        )
        .await;
    assert_eq!(inboxes, 1);
    let members = members_of(&app, &user, &id_of(inbox)).await;
    assert_eq!(members, BTreeMap::from([(user.id, "owner".to_owned())]));
}

#[tokio::test]
async fn an_inbox_cannot_be_deleted() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let inbox = db_inbox(&app, &user).await;
    let response = app
        .delete(&project_path(&inbox), &user.token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, "conflict").await;
    let still = get_project(&app, &user, &inbox).await;
    assert_eq!(still["is_inbox"], true);
}

#[tokio::test]
async fn an_inbox_cannot_be_shared() {
    let app = spawn_app().await;
    let (user, friend) = tokio::join!(app.new_user(), app.new_user());
    let inbox = db_inbox(&app, &user).await;

    let response = app
        .post(
            &format!("/api/v1/projects/{inbox}/members"),
            &user.token,
            &json!({"email": friend.email, "role": "viewer"}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(response, 409, "conflict").await;
    let response = put_role(&app, &user, &inbox, friend.id, "editor").await;
    assert_problem(response, 409, "conflict").await;
    // Not even by handing it over.
    let response = put_role(&app, &user, &inbox, friend.id, "owner").await;
    assert_problem(response, 409, "conflict").await;

    assert_eq!(
        db_roles(&app, &inbox).await,
        BTreeMap::from([(user.id, "owner".to_owned())])
    );
}

async fn db_inbox(app: &TestApp, user: &TestUser) -> String {
    let id: Uuid = app
        .db
        .scalar("SELECT id FROM projects WHERE inbox_of = $1", &[&user.id])
        .await;
    id.to_string()
}

// ---------------------------------------------------------------------------------------------
// Project endpoints
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_project_answers_201_with_location_etag_and_the_caller_as_owner() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app
        .post(
            "/api/v1/projects",
            &user.token,
            &json!({"name": "  Launch  ", "description": "The big one"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(etag_of(&response), "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let project = body_of(response, 201).await;
    assert_eq!(location, format!("/api/v1/projects/{}", id_of(&project)));
    assert_eq!(
        keys_of(&project),
        [
            "created_at",
            "description",
            "id",
            "is_inbox",
            "my_role",
            "name",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(project["name"], "Launch");
    assert_eq!(project["description"], "The big one");
    assert_eq!(project["is_inbox"], false);
    assert_eq!(project["my_role"], "owner");
    assert_eq!(project["version"], 1);
    assert!(is_utc_timestamp(&project["created_at"]), "{project}");
    assert!(is_utc_timestamp(&project["updated_at"]), "{project}");
    let id: Uuid = id_of(&project).parse().unwrap();
    assert_eq!(id.get_version_num(), 7);

    let fetched = body_of(app.get(&location, &user.token).send().await.unwrap(), 200).await;
    assert_eq!(fetched, project);
    assert_eq!(owners_in_db(&app, &id.to_string()).await, [user.id]);
}

#[tokio::test]
async fn a_project_description_defaults_to_empty() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = create_project(&app, &user, "Plain").await;
    assert_eq!(project["description"], "");
}

#[tokio::test]
async fn project_name_and_description_are_validated() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let post = |body: Value| app.post("/api/v1/projects", &user.token, &body).send();

    assert_invalid_field(post(json!({"name": "   "})).await.unwrap(), "name").await;
    assert_invalid_field(
        post(json!({"name": "x".repeat(101)})).await.unwrap(),
        "name",
    )
    .await;
    assert_invalid_field(post(json!({"name": "a\u{7}b"})).await.unwrap(), "name").await;
    assert_invalid_field(post(json!({})).await.unwrap(), "name").await;
    let body = assert_invalid_field(
        post(json!({"name": "ok", "description": "d".repeat(2001)}))
            .await
            .unwrap(),
        "description",
    )
    .await;
    assert_eq!(
        field_errors(&body),
        [("description".into(), "too_long".into())]
    );
    let body = assert_invalid_field(
        post(json!({"name": "ok", "colour": "red"})).await.unwrap(),
        "colour",
    )
    .await;
    assert_eq!(field_errors(&body)[0].1, "unknown_field");

    body_of(post(json!({"name": "é".repeat(100)})).await.unwrap(), 201).await;
    body_of(
        post(json!({"name": "ok", "description": "d".repeat(2000)}))
            .await
            .unwrap(),
        201,
    )
    .await;
    let count: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM memberships WHERE user_id = $1",
            &[&user.id],
        )
        .await;
    assert_eq!(count, 3, "the Inbox and the two valid projects");
}

#[tokio::test]
async fn the_project_list_has_only_my_projects_in_creation_order_across_pages() {
    let app = spawn_app().await;
    let (me, other) = tokio::join!(app.new_user(), app.new_user());
    let mut expected = vec![db_inbox(&app, &me).await];
    for name in ["one", "two", "three"] {
        expected.push(id_of(&create_project(&app, &me, name).await));
    }
    let theirs = create_project(&app, &other, "theirs").await;
    // Shared with me later: listed by the project's creation, not by when I joined.
    add_member(&app, &other, &id_of(&theirs), &me, "viewer").await;
    expected.push(id_of(&create_project(&app, &me, "four").await));
    expected.insert(4, id_of(&theirs));
    let _hidden = create_project(&app, &other, "hidden").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = app.get("/api/v1/projects?limit=2", &me.token);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = body_of(request.send().await.unwrap(), 200).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_project_list_refuses_bad_limits_and_foreign_cursors() {
    let app = spawn_app().await;
    let (me, other) = tokio::join!(app.new_user(), app.new_user());
    for limit in ["0", "101", "x", "-1"] {
        let response = app
            .get(&format!("/api/v1/projects?limit={limit}"), &me.token)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "invalid_query").await;
    }
    create_project(&app, &other, "second").await;
    let page = body_of(
        app.get("/api/v1/projects?limit=1", &other.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let cursor = page["next_cursor"].as_str().unwrap();
    // Their list's cursor on my list.
    let response = app
        .get("/api/v1/projects", &me.token)
        .query(&[("cursor", cursor)])
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_query").await;
}

#[tokio::test]
async fn get_project_honours_if_none_match() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = id_of(&create_project(&app, &user, "Cached").await);
    let response = app
        .get(&project_path(&project), &user.token)
        .header("if-none-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(etag_of(&response), "\"1\"");
    assert!(response.text().await.unwrap().is_empty());

    let response = app
        .get(&project_path(&project), &user.token)
        .header("if-none-match", "\"7\"")
        .send()
        .await
        .unwrap();
    assert_eq!(etag_of(&response), "\"1\"");
    body_of(response, 200).await;
}

#[tokio::test]
async fn patching_a_project_changes_only_the_given_fields_and_bumps_the_version() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let created = create_project(&app, &user, "Before").await;
    let project = id_of(&created);
    let response = app
        .patch(
            &project_path(&project),
            &user.token,
            &json!({"name": " After "}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(etag_of(&response), "\"2\"");
    let patched = body_of(response, 200).await;
    assert_eq!(patched["name"], "After");
    assert_eq!(patched["description"], "");
    assert_eq!(patched["version"], 2);
    assert_eq!(patched["my_role"], "owner");
    assert_eq!(patched["created_at"], created["created_at"]);
    assert_ne!(patched["updated_at"], created["updated_at"]);

    let patched = body_of(
        app.patch(
            &project_path(&project),
            &user.token,
            &json!({"description": "Now described"}),
        )
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(patched["name"], "After");
    assert_eq!(patched["description"], "Now described");
    assert_eq!(patched["version"], 3);
    assert_eq!(get_project(&app, &user, &project).await, patched);
}

#[tokio::test]
async fn patching_a_project_validates_and_changes_nothing_on_failure() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = id_of(&create_project(&app, &user, "Stable").await);
    let patch = |body: Value| {
        app.patch(&project_path(&project), &user.token, &body)
            .send()
    };
    assert_invalid_field(patch(json!({"name": ""})).await.unwrap(), "name").await;
    assert_invalid_field(
        patch(json!({"name": "n".repeat(101)})).await.unwrap(),
        "name",
    )
    .await;
    assert_invalid_field(
        patch(json!({"description": "d".repeat(2001)}))
            .await
            .unwrap(),
        "description",
    )
    .await;
    assert_invalid_field(patch(json!({"is_inbox": true})).await.unwrap(), "is_inbox").await;
    let project = get_project(&app, &user, &project).await;
    assert_eq!(project["name"], "Stable");
    assert_eq!(project["version"], 1);
}

#[tokio::test]
async fn patching_a_project_with_a_stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = id_of(&create_project(&app, &user, "Original").await);
    let response = app
        .patch(
            &project_path(&project),
            &user.token,
            &json!({"name": "Lost update"}),
        )
        .header("if-match", "\"0\"")
        .send()
        .await
        .unwrap();
    assert_problem(response, 412, "precondition_failed").await;
    let current = get_project(&app, &user, &project).await;
    assert_eq!(current["name"], "Original");
    assert_eq!(current["version"], 1);

    let response = app
        .patch(
            &project_path(&project),
            &user.token,
            &json!({"name": "Applied"}),
        )
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(etag_of(&response), "\"2\"");
    let patched = body_of(response, 200).await;
    assert_eq!(patched["name"], "Applied");
    assert_eq!(patched["version"], 2);

    // The old tag is stale now.
    let response = app
        .patch(
            &project_path(&project),
            &user.token,
            &json!({"name": "Again"}),
        )
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_problem(response, 412, "precondition_failed").await;
    assert_eq!(get_project(&app, &user, &project).await["name"], "Applied");
}

#[tokio::test]
async fn deleting_a_project_honours_if_match_and_takes_its_tasks_along() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = id_of(&create_project(&app, &user, "Doomed").await);
    let task = id_of(&create_task(&app, &user, &project, json!({"title": "Goes too"})).await);

    let response = app
        .delete(&project_path(&project), &user.token)
        .header("if-match", "\"5\"")
        .send()
        .await
        .unwrap();
    assert_problem(response, 412, "precondition_failed").await;
    get_project(&app, &user, &project).await;

    let response = app
        .delete(&project_path(&project), &user.token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_no_content(response).await;
    let response = app
        .get(&project_path(&project), &user.token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
    let response = app
        .get(&format!("/api/v1/tasks/{task}"), &user.token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
    let left: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM tasks WHERE project_id = $1",
            &[&project.parse::<Uuid>().unwrap()],
        )
        .await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn deleting_a_project_without_if_match_applies() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let project = id_of(&create_project(&app, &user, "Gone").await);
    assert_no_content(
        app.delete(&project_path(&project), &user.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let response = app
        .delete(&project_path(&project), &user.token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
}

// ---------------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_member_list_shows_user_role_and_added_at_in_pages() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let path = format!("/api/v1/projects/{}/members", team.project);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = app.get(&format!("{path}?limit=3"), &team.viewer.token);
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = body_of(request.send().await.unwrap(), 200).await;
        for member in page["items"].as_array().unwrap() {
            assert_eq!(keys_of(member), ["added_at", "role", "user"]);
            assert_eq!(keys_of(&member["user"]), ["email", "id", "name"]);
            assert!(is_utc_timestamp(&member["added_at"]));
            seen.push((
                member["user"]["id"].as_str().unwrap().to_owned(),
                member["user"]["email"].as_str().unwrap().to_owned(),
                member["role"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<(String, String, String)> = [
        (&team.owner, "owner"),
        (&team.admin, "admin"),
        (&team.editor, "editor"),
        (&team.viewer, "viewer"),
    ]
    .into_iter()
    .map(|(u, r)| (u.id.to_string(), u.email.clone(), r.to_owned()))
    .collect();
    assert_eq!(seen, expected, "in the order they were added");

    // A cursor of this list is refused on another project's member list.
    let page = body_of(
        app.get(&format!("{path}?limit=1"), &team.owner.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let other = id_of(&create_project(&app, &team.owner, "Other").await);
    let response = app
        .get(
            &format!("/api/v1/projects/{other}/members"),
            &team.owner.token,
        )
        .query(&[("cursor", page["next_cursor"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_query").await;
}

#[tokio::test]
async fn adding_a_member_by_email_answers_201_with_the_member() {
    let app = spawn_app().await;
    let (owner, newcomer) = tokio::join!(app.new_user(), app.new_user());
    let project = id_of(&create_project(&app, &owner, "Shared").await);
    let response = app
        .post(
            &format!("/api/v1/projects/{project}/members"),
            &owner.token,
            &json!({"email": format!("  {}  ", newcomer.email.to_uppercase()), "role": "editor"}),
        )
        .send()
        .await
        .unwrap();
    let member = body_of(response, 201).await;
    assert_eq!(member["user"]["id"], newcomer.id.to_string());
    assert_eq!(member["user"]["email"], newcomer.email);
    assert_eq!(member["user"]["name"], "Test User");
    assert_eq!(member["role"], "editor");
    assert!(is_utc_timestamp(&member["added_at"]));

    let shared = get_project(&app, &newcomer, &project).await;
    assert_eq!(shared["my_role"], "editor");
    assert_eq!(shared["is_inbox"], false);
}

#[tokio::test]
async fn adding_a_member_refuses_unknown_emails_duplicates_and_bad_roles() {
    let app = spawn_app().await;
    let (owner, member) = tokio::join!(app.new_user(), app.new_user());
    let project = id_of(&create_project(&app, &owner, "Shared").await);
    let path = format!("/api/v1/projects/{project}/members");
    let post = |body: Value| app.post(&path, &owner.token, &body).send();

    let body = assert_invalid_field(
        post(json!({"email": "nobody@example.com", "role": "viewer"}))
            .await
            .unwrap(),
        "email",
    )
    .await;
    assert_eq!(field_errors(&body).len(), 1);
    assert_invalid_field(
        post(json!({"email": member.email, "role": "boss"}))
            .await
            .unwrap(),
        "role",
    )
    .await;
    assert_invalid_field(post(json!({"email": member.email})).await.unwrap(), "role").await;
    // Ownership moves only by transfer (PUT).
    assert_invalid_field(
        post(json!({"email": member.email, "role": "owner"}))
            .await
            .unwrap(),
        "role",
    )
    .await;
    assert_eq!(db_roles(&app, &project).await.len(), 1);

    body_of(
        post(json!({"email": member.email, "role": "viewer"}))
            .await
            .unwrap(),
        201,
    )
    .await;
    let response = post(json!({"email": member.email, "role": "editor"}))
        .await
        .unwrap();
    assert_problem(response, 409, "conflict").await;
    assert_eq!(db_roles(&app, &project).await[&member.id], "viewer");
}

#[tokio::test]
async fn putting_a_member_answers_201_when_new_and_200_when_changing_the_role() {
    let app = spawn_app().await;
    let (owner, member) = tokio::join!(app.new_user(), app.new_user());
    let project = id_of(&create_project(&app, &owner, "Shared").await);
    let added = body_of(
        put_role(&app, &owner, &project, member.id, "viewer").await,
        201,
    )
    .await;
    assert_eq!(added["role"], "viewer");
    assert_eq!(added["user"]["id"], member.id.to_string());
    let changed = body_of(
        put_role(&app, &owner, &project, member.id, "editor").await,
        200,
    )
    .await;
    assert_eq!(changed["role"], "editor");
    assert_eq!(changed["added_at"], added["added_at"]);
    assert_eq!(
        get_project(&app, &member, &project).await["my_role"],
        "editor"
    );

    let response = put_role(&app, &owner, &project, member.id, "boss").await;
    assert_invalid_field(response, "role").await;
    // A user id that names nobody.
    let response = put_role(&app, &owner, &project, Uuid::now_v7(), "viewer").await;
    assert_problem(response, 404, "not_found").await;
    assert_eq!(db_roles(&app, &project).await.len(), 2);
}

#[tokio::test]
async fn any_member_but_the_owner_may_remove_themself() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    for who in [Who::Viewer, Who::Editor, Who::Admin] {
        let user = team.user(who);
        let response = app
            .delete(
                &format!("/api/v1/projects/{}/members/{}", team.project, user.id),
                &user.token,
            )
            .send()
            .await
            .unwrap();
        assert_no_content(response).await;
        let response = app
            .get(&project_path(&team.project), &user.token)
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "not_found").await;
    }
    let response = app
        .delete(
            &format!(
                "/api/v1/projects/{}/members/{}",
                team.project, team.owner.id
            ),
            &team.owner.token,
        )
        .send()
        .await
        .unwrap();
    let body = assert_problem(response, 409, "conflict").await;
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        db_roles(&app, &team.project).await,
        BTreeMap::from([(team.owner.id, "owner".to_owned())])
    );
}

#[tokio::test]
async fn the_owner_cannot_step_down_except_by_transferring_ownership() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let response = put_role(&app, &team.owner, &team.project, team.owner.id, "admin").await;
    assert_problem(response, 409, "conflict").await;
    assert_eq!(owners_in_db(&app, &team.project).await, [team.owner.id]);
}

#[tokio::test]
async fn nobody_else_may_remove_or_demote_the_owner() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let path = format!(
        "/api/v1/projects/{}/members/{}",
        team.project, team.owner.id
    );
    for who in [Who::Outsider, Who::Viewer, Who::Editor, Who::Admin] {
        let user = team.user(who);
        let response = app.delete(&path, &user.token).send().await.unwrap();
        assert_allowed(response, who, Who::Owner, 204).await;
        let response = put_role(&app, user, &team.project, team.owner.id, "editor").await;
        assert_allowed(response, who, Who::Owner, 200).await;
    }
    assert_eq!(owners_in_db(&app, &team.project).await, [team.owner.id]);
}

#[tokio::test]
async fn removing_a_member_unassigns_their_tasks_in_that_project() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let task = create_task(
        &app,
        &team.owner,
        &team.project,
        json!({"title": "Theirs", "assignee_id": team.editor.id}),
    )
    .await;
    assert_eq!(task["assignee_id"], team.editor.id.to_string());
    let response = app
        .delete(
            &format!(
                "/api/v1/projects/{}/members/{}",
                team.project, team.editor.id
            ),
            &team.admin.token,
        )
        .send()
        .await
        .unwrap();
    assert_no_content(response).await;
    let task = get_task(&app, &team.owner, &id_of(&task)).await;
    assert_eq!(task["assignee_id"], Value::Null);
    assert_eq!(task["version"], 2);
}

// ---------------------------------------------------------------------------------------------
// Ownership transfer
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn transferring_ownership_makes_the_old_owner_an_admin_and_leaves_one_owner() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let member = body_of(
        put_role(&app, &team.owner, &team.project, team.editor.id, "owner").await,
        200,
    )
    .await;
    assert_eq!(member["role"], "owner");
    assert_eq!(member["user"]["id"], team.editor.id.to_string());

    let expected = BTreeMap::from([
        (team.owner.id, "admin".to_owned()),
        (team.admin.id, "admin".to_owned()),
        (team.editor.id, "owner".to_owned()),
        (team.viewer.id, "viewer".to_owned()),
    ]);
    assert_eq!(
        members_of(&app, &team.viewer, &team.project).await,
        expected
    );
    assert_eq!(db_roles(&app, &team.project).await, expected);
    assert_eq!(owners_in_db(&app, &team.project).await, [team.editor.id]);
    assert_eq!(
        get_project(&app, &team.owner, &team.project).await["my_role"],
        "admin"
    );
    assert_eq!(
        get_project(&app, &team.editor, &team.project).await["my_role"],
        "owner"
    );

    // The old owner has an admin's rights now, at once.
    let response = app
        .delete(&project_path(&team.project), &team.owner.token)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "forbidden").await;
    let response = put_role(&app, &team.owner, &team.project, team.owner.id, "owner").await;
    assert_problem(response, 403, "forbidden").await;

    // And the new owner can hand it back.
    body_of(
        put_role(&app, &team.editor, &team.project, team.owner.id, "owner").await,
        200,
    )
    .await;
    assert_eq!(owners_in_db(&app, &team.project).await, [team.owner.id]);
    assert_eq!(
        db_roles(&app, &team.project).await[&team.editor.id],
        "admin"
    );
}

#[tokio::test]
async fn transferring_ownership_to_a_non_member_adds_them_as_owner() {
    let app = spawn_app().await;
    let (owner, heir) = tokio::join!(app.new_user(), app.new_user());
    let project = id_of(&create_project(&app, &owner, "Inheritance").await);
    let member = body_of(
        put_role(&app, &owner, &project, heir.id, "owner").await,
        201,
    )
    .await;
    assert_eq!(member["role"], "owner");
    assert_eq!(
        db_roles(&app, &project).await,
        BTreeMap::from([
            (owner.id, "admin".to_owned()),
            (heir.id, "owner".to_owned())
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// The role matrix: each action × viewer/editor/admin/owner/non-member
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_member_reads_the_project_its_members_and_tasks_and_a_non_member_gets_404() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let task = id_of(
        &create_task(
            &app,
            &team.owner,
            &team.project,
            json!({"title": "Read me"}),
        )
        .await,
    );
    for who in EVERYONE {
        let user = team.user(who);
        let get = |path: String| app.get(&path, &user.token).send();
        let project = assert_allowed(
            get(project_path(&team.project)).await.unwrap(),
            who,
            Who::Viewer,
            200,
        )
        .await;
        if who != Who::Outsider {
            assert_eq!(project["my_role"], who.role());
        }
        let members = assert_allowed(
            get(format!("/api/v1/projects/{}/members", team.project))
                .await
                .unwrap(),
            who,
            Who::Viewer,
            200,
        )
        .await;
        if who != Who::Outsider {
            assert_eq!(members["items"].as_array().unwrap().len(), 4);
        }
        let tasks = assert_allowed(
            get(format!("/api/v1/projects/{}/tasks", team.project))
                .await
                .unwrap(),
            who,
            Who::Viewer,
            200,
        )
        .await;
        if who != Who::Outsider {
            assert_eq!(tasks["items"][0]["id"], task.as_str());
        }
        let fetched = assert_allowed(
            get(format!("/api/v1/tasks/{task}")).await.unwrap(),
            who,
            Who::Viewer,
            200,
        )
        .await;
        if who != Who::Outsider {
            assert_eq!(fetched["id"], task.as_str());
        }
    }
}

#[tokio::test]
async fn only_editors_and_above_create_edit_and_delete_tasks() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let shared =
        id_of(&create_task(&app, &team.owner, &team.project, json!({"title": "Shared"})).await);
    let mut doomed = BTreeMap::new();
    for who in EVERYONE {
        let task = create_task(&app, &team.owner, &team.project, json!({"title": "Doomed"})).await;
        doomed.insert(who, id_of(&task));
    }
    for who in EVERYONE {
        let user = team.user(who);
        let response = app
            .post(
                &format!("/api/v1/projects/{}/tasks", team.project),
                &user.token,
                &json!({"title": format!("By {who:?}")}),
            )
            .send()
            .await
            .unwrap();
        let created = assert_allowed(response, who, Who::Editor, 201).await;
        if who >= Who::Editor {
            assert_eq!(created["created_by"], user.id.to_string());
        }
        let response = app
            .patch(
                &format!("/api/v1/tasks/{shared}"),
                &user.token,
                &json!({"title": format!("Edited by {who:?}")}),
            )
            .send()
            .await
            .unwrap();
        assert_allowed(response, who, Who::Editor, 200).await;
        let response = app
            .delete(&format!("/api/v1/tasks/{}", doomed[&who]), &user.token)
            .send()
            .await
            .unwrap();
        assert_allowed(response, who, Who::Editor, 204).await;
    }
    let shared = get_task(&app, &team.viewer, &shared).await;
    assert_eq!(shared["title"], "Edited by Owner");
    assert_eq!(
        shared["version"], 4,
        "three edits, none by the viewer or outsider"
    );
    let titles: Vec<String> = app
        .db
        .rows(
            "SELECT title FROM tasks WHERE project_id = $1 ORDER BY number",
            &[&team.project.parse::<Uuid>().unwrap()],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        titles,
        [
            "Edited by Owner",
            "Doomed",
            "Doomed",
            "By Editor",
            "By Admin",
            "By Owner"
        ],
        "the outsider's and the viewer's doomed tasks survive"
    );
}

#[tokio::test]
async fn only_admins_and_the_owner_edit_the_project() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    for who in EVERYONE {
        let response = app
            .patch(
                &project_path(&team.project),
                &team.user(who).token,
                &json!({"description": format!("by {who:?}")}),
            )
            .send()
            .await
            .unwrap();
        assert_allowed(response, who, Who::Admin, 200).await;
    }
    let project = get_project(&app, &team.viewer, &team.project).await;
    assert_eq!(project["description"], "by Owner");
    assert_eq!(project["version"], 3);
}

#[tokio::test]
async fn only_admins_and_the_owner_manage_members_below_admin() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let (by_admin, by_owner, stranger) =
        tokio::join!(app.new_user(), app.new_user(), app.new_user());
    let members = format!("/api/v1/projects/{}/members", team.project);

    // Add by email.
    for who in EVERYONE {
        let target = match who {
            Who::Admin => &by_admin,
            Who::Owner => &by_owner,
            _ => &stranger,
        };
        let response = app
            .post(
                &members,
                &team.user(who).token,
                &json!({"email": target.email, "role": "editor"}),
            )
            .send()
            .await
            .unwrap();
        assert_allowed(response, who, Who::Admin, 201).await;
    }
    // Add by id.
    for who in EVERYONE {
        let response = put_role(&app, team.user(who), &team.project, stranger.id, "viewer").await;
        let expected_ok = if who == Who::Owner { 200 } else { 201 };
        assert_allowed(response, who, Who::Admin, expected_ok).await;
    }
    // Change a role below admin.
    for who in EVERYONE {
        let role = if who == Who::Owner {
            "editor"
        } else {
            "viewer"
        };
        let response = put_role(&app, team.user(who), &team.project, by_admin.id, role).await;
        assert_allowed(response, who, Who::Admin, 200).await;
    }
    assert_eq!(db_roles(&app, &team.project).await[&by_admin.id], "editor");
    // Remove someone below admin.
    for who in EVERYONE {
        let target = match who {
            Who::Admin => by_admin.id,
            _ => by_owner.id,
        };
        let response = app
            .delete(&format!("{members}/{target}"), &team.user(who).token)
            .send()
            .await
            .unwrap();
        assert_allowed(response, who, Who::Admin, 204).await;
    }
    let roles = db_roles(&app, &team.project).await;
    assert_eq!(roles.get(&stranger.id).map(String::as_str), Some("viewer"));
    assert!(!roles.contains_key(&by_admin.id));
    assert!(!roles.contains_key(&by_owner.id));
    assert_eq!(roles.len(), 5);
}

#[tokio::test]
async fn only_the_owner_makes_or_removes_admins() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let (promoted, newcomer) = tokio::join!(app.new_user(), app.new_user());
    add_member(&app, &team.owner, &team.project, &promoted, "editor").await;
    let members = format!("/api/v1/projects/{}/members", team.project);

    // Make an admin: of a member, of a new member by id, of a new member by email.
    for who in EVERYONE {
        let user = team.user(who);
        let response = put_role(&app, user, &team.project, promoted.id, "admin").await;
        assert_allowed(response, who, Who::Owner, 200).await;
        if who != Who::Owner {
            let response = put_role(&app, user, &team.project, newcomer.id, "admin").await;
            assert_allowed(response, who, Who::Owner, 201).await;
            let response = app
                .post(
                    &members,
                    &user.token,
                    &json!({"email": newcomer.email, "role": "admin"}),
                )
                .send()
                .await
                .unwrap();
            assert_allowed(response, who, Who::Owner, 201).await;
        }
    }
    assert_eq!(db_roles(&app, &team.project).await[&promoted.id], "admin");
    assert!(!db_roles(&app, &team.project)
        .await
        .contains_key(&newcomer.id));

    // Remove an admin: demote, or take them out.
    for who in [Who::Outsider, Who::Viewer, Who::Editor, Who::Admin] {
        let user = team.user(who);
        let response = put_role(&app, user, &team.project, promoted.id, "editor").await;
        assert_allowed(response, who, Who::Owner, 200).await;
        let response = app
            .delete(&format!("{members}/{}", promoted.id), &user.token)
            .send()
            .await
            .unwrap();
        assert_allowed(response, who, Who::Owner, 204).await;
    }
    assert_eq!(db_roles(&app, &team.project).await[&promoted.id], "admin");
    let demoted = body_of(
        put_role(&app, &team.owner, &team.project, promoted.id, "editor").await,
        200,
    )
    .await;
    assert_eq!(demoted["role"], "editor");
    let response = app
        .delete(&format!("{members}/{}", team.admin.id), &team.owner.token)
        .send()
        .await
        .unwrap();
    assert_no_content(response).await;
    let roles = db_roles(&app, &team.project).await;
    assert_eq!(roles[&promoted.id], "editor");
    assert!(!roles.contains_key(&team.admin.id));
}

#[tokio::test]
async fn only_the_owner_deletes_the_project() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    for who in EVERYONE {
        let response = app
            .delete(&project_path(&team.project), &team.user(who).token)
            .send()
            .await
            .unwrap();
        assert_allowed(response, who, Who::Owner, 204).await;
        if who != Who::Owner {
            get_project(&app, &team.owner, &team.project).await;
        }
    }
    let exists: bool = app
        .db
        .scalar(
            "SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)",
            &[&team.project.parse::<Uuid>().unwrap()],
        )
        .await;
    assert!(!exists);
}

#[tokio::test]
async fn only_the_owner_transfers_ownership() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    for who in EVERYONE {
        let user = team.user(who);
        if who != Who::Owner {
            // Not even to themself.
            let response = put_role(&app, user, &team.project, user.id, "owner").await;
            assert_allowed(response, who, Who::Owner, 200).await;
        }
        let response = put_role(&app, user, &team.project, team.editor.id, "owner").await;
        assert_allowed(response, who, Who::Owner, 200).await;
        if who != Who::Owner {
            assert_eq!(owners_in_db(&app, &team.project).await, [team.owner.id]);
        }
    }
    assert_eq!(owners_in_db(&app, &team.project).await, [team.editor.id]);
}

#[tokio::test]
async fn a_changed_role_takes_effect_at_once_with_the_same_token() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let task =
        id_of(&create_task(&app, &team.editor, &team.project, json!({"title": "Mine"})).await);
    let patch = || {
        app.patch(
            &format!("/api/v1/tasks/{task}"),
            &team.editor.token,
            &json!({"priority": 2}),
        )
        .send()
    };
    body_of(patch().await.unwrap(), 200).await;
    body_of(
        put_role(&app, &team.owner, &team.project, team.editor.id, "viewer").await,
        200,
    )
    .await;
    assert_problem(patch().await.unwrap(), 403, "forbidden").await;
    let response = app
        .delete(
            &format!(
                "/api/v1/projects/{}/members/{}",
                team.project, team.editor.id
            ),
            &team.owner.token,
        )
        .send()
        .await
        .unwrap();
    assert_no_content(response).await;
    assert_problem(patch().await.unwrap(), 404, "not_found").await;
}

// ---------------------------------------------------------------------------------------------
// BOLA: every object endpoint with someone else's ids
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_stranger_gets_404_on_every_endpoint_of_someone_elses_project_and_changes_nothing() {
    let app = spawn_app().await;
    let (alice, bob, carol) = tokio::join!(app.new_user(), app.new_user(), app.new_user());
    let project = id_of(&create_project(&app, &alice, "Alice's").await);
    add_member(&app, &alice, &project, &carol, "viewer").await;
    let task = id_of(&create_task(&app, &alice, &project, json!({"title": "Secret"})).await);
    let inbox = db_inbox(&app, &alice).await;
    let inbox_task = id_of(&create_task(&app, &alice, &inbox, json!({"title": "Private"})).await);
    let bobs_project = id_of(&create_project(&app, &bob, "Bob's").await);
    let bobs_task = id_of(&create_task(&app, &bob, &bobs_project, json!({"title": "Bob's"})).await);

    let token = bob.token.as_str();
    for project in [&project, &inbox] {
        let p = project_path(project);
        let m = format!("{p}/members");
        let attempts = vec![
            ("GET project", app.get(&p, token)),
            (
                "GET project, If-None-Match",
                app.get(&p, token).header("if-none-match", "\"1\""),
            ),
            (
                "PATCH project",
                app.patch(&p, token, &json!({"name": "Pwned"})),
            ),
            (
                "PATCH project, If-Match",
                app.patch(&p, token, &json!({"name": "Pwned"}))
                    .header("if-match", "\"9\""),
            ),
            ("DELETE project", app.delete(&p, token)),
            ("GET members", app.get(&m, token)),
            (
                "PUT me as owner",
                app.put(&format!("{m}/{}", bob.id), token, &json!({"role": "owner"})),
            ),
            (
                "PUT me as viewer",
                app.put(
                    &format!("{m}/{}", bob.id),
                    token,
                    &json!({"role": "viewer"}),
                ),
            ),
            (
                "PUT alice",
                app.put(
                    &format!("{m}/{}", alice.id),
                    token,
                    &json!({"role": "viewer"}),
                ),
            ),
            (
                "POST me",
                app.post(&m, token, &json!({"email": bob.email, "role": "admin"})),
            ),
            (
                "DELETE alice",
                app.delete(&format!("{m}/{}", alice.id), token),
            ),
            (
                "DELETE carol",
                app.delete(&format!("{m}/{}", carol.id), token),
            ),
            ("GET tasks", app.get(&format!("{p}/tasks"), token)),
            (
                "POST task",
                app.post(&format!("{p}/tasks"), token, &json!({"title": "Planted"})),
            ),
        ];
        for (what, request) in attempts {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 404, "{what} on {project}");
            assert_problem(response, 404, "not_found").await;
        }
        let page = body_of(
            app.get("/api/v1/tasks", token)
                .query(&[("project_id", project.as_str())])
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(page, json!({"items": [], "next_cursor": null}));
    }
    for task in [&task, &inbox_task] {
        let t = format!("/api/v1/tasks/{task}");
        let attempts = vec![
            ("GET task", app.get(&t, token)),
            (
                "PATCH task",
                app.patch(&t, token, &json!({"title": "Pwned"})),
            ),
            (
                "PATCH task, If-Match",
                app.patch(&t, token, &json!({"title": "x"}))
                    .header("if-match", "\"1\""),
            ),
            (
                "PATCH task into my project",
                app.patch(&t, token, &json!({"project_id": bobs_project})),
            ),
            ("DELETE task", app.delete(&t, token)),
        ];
        for (what, request) in attempts {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 404, "{what} on {task}");
            assert_problem(response, 404, "not_found").await;
        }
    }
    // Pulling Alice's project into Bob's own task, or her into it, is refused.
    let bobs = format!("/api/v1/tasks/{bobs_task}");
    let response = app
        .patch(&bobs, token, &json!({"project_id": project}))
        .send()
        .await
        .unwrap();
    assert_invalid_field(response, "project_id").await;
    let response = app
        .patch(&bobs, token, &json!({"assignee_id": alice.id}))
        .send()
        .await
        .unwrap();
    assert_invalid_field(response, "assignee_id").await;
    // Bob's own lists show nothing of Alice's.
    let page = body_of(app.get("/api/v1/tasks", token).send().await.unwrap(), 200).await;
    let ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, [bobs_task.as_str()]);
    let page = body_of(
        app.get("/api/v1/projects", token).send().await.unwrap(),
        200,
    )
    .await;
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| id_of(p) != project && id_of(p) != inbox));

    // What exists and what is hidden look the same from outside.
    let hidden = assert_problem(
        app.get(&project_path(&project), token)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    let missing = assert_problem(
        app.get(&project_path(&Uuid::now_v7().to_string()), token)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_eq!(hidden["detail"], missing["detail"]);
    assert_eq!(hidden["title"], missing["title"]);

    // Nothing changed, as Alice and the database see it.
    let seen = get_project(&app, &alice, &project).await;
    assert_eq!(
        (seen["name"].as_str(), seen["version"].as_i64()),
        (Some("Alice's"), Some(1))
    );
    assert_eq!(get_project(&app, &alice, &inbox).await["version"], 1);
    assert_eq!(
        db_roles(&app, &project).await,
        BTreeMap::from([
            (alice.id, "owner".to_owned()),
            (carol.id, "viewer".to_owned())
        ])
    );
    assert_eq!(
        db_roles(&app, &inbox).await,
        BTreeMap::from([(alice.id, "owner".to_owned())])
    );
    for (task, title) in [(&task, "Secret"), (&inbox_task, "Private")] {
        let seen = get_task(&app, &alice, task).await;
        assert_eq!(seen["title"], title);
        assert_eq!(seen["version"], 1);
    }
    let counts: Vec<i64> = app
        .db
        .rows(
            "SELECT count(*) FROM tasks WHERE project_id = ANY($1) GROUP BY project_id",
            &[&vec![
                project.parse::<Uuid>().unwrap(),
                inbox.parse::<Uuid>().unwrap(),
            ]],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(counts, [1, 1]);
    let bobs = get_task(&app, &bob, &bobs_task).await;
    assert_eq!(
        (bobs["version"].as_i64(), bobs["project_id"].as_str()),
        (Some(1), Some(bobs_project.as_str()))
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrent membership changes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn concurrent_transfers_leave_exactly_one_owner_and_the_losers_get_403() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    let project = id_of(&create_project(&app, &owner, "Contested").await);
    let heirs = futures::future::join_all((0..6).map(|_| app.new_user())).await;
    for heir in &heirs {
        add_member(&app, &owner, &project, heir, "editor").await;
    }
    let transfers = heirs
        .iter()
        .map(|heir| put_role(&app, &owner, &project, heir.id, "owner"));
    let responses = futures::future::join_all(transfers).await;
    let mut winners = Vec::new();
    for (heir, response) in heirs.iter().zip(responses) {
        match response.status().as_u16() {
            200 => winners.push(heir.id),
            _ => {
                assert_problem(response, 403, "forbidden").await;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one transfer wins");
    assert_eq!(owners_in_db(&app, &project).await, winners);
    let roles = db_roles(&app, &project).await;
    assert_eq!(roles[&owner.id], "admin");
    assert_eq!(roles.values().filter(|r| *r == "editor").count(), 5);
}

#[tokio::test]
async fn concurrent_puts_of_the_same_new_member_add_them_once() {
    let app = spawn_app().await;
    let (owner, newcomer) = tokio::join!(app.new_user(), app.new_user());
    let project = id_of(&create_project(&app, &owner, "Busy").await);
    let puts = (0..6).map(|_| put_role(&app, &owner, &project, newcomer.id, "viewer"));
    let mut statuses: Vec<u16> = futures::future::join_all(puts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 201]);
    assert_eq!(db_roles(&app, &project).await[&newcomer.id], "viewer");
}

#[tokio::test]
async fn a_transfer_racing_a_delete_never_lets_both_succeed() {
    let app = spawn_app().await;
    let (owner, heir) = tokio::join!(app.new_user(), app.new_user());
    for _ in 0..8 {
        let project = id_of(&create_project(&app, &owner, "Raced").await);
        add_member(&app, &owner, &project, &heir, "editor").await;
        let (transfer, delete) = tokio::join!(
            put_role(&app, &owner, &project, heir.id, "owner"),
            app.delete(&project_path(&project), &owner.token).send()
        );
        let delete = delete.unwrap();
        match (transfer.status().as_u16(), delete.status().as_u16()) {
            // The transfer first: the old owner is an admin by the time the delete decides.
            (200, _) => {
                assert_problem(delete, 403, "forbidden").await;
                assert_eq!(owners_in_db(&app, &project).await, [heir.id]);
            }
            // The delete first: nothing is left to transfer.
            (_, 204) => {
                assert_problem(transfer, 404, "not_found").await;
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

#[tokio::test]
async fn patching_a_project_field_to_null_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.new_user().await;
    let created: Value = app
        .post("/api/v1/projects", &owner.token, &json!({"name": "Keep"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/projects/{}", created["id"].as_str().unwrap());
    for body in [json!({"name": null}), json!({"description": null})] {
        let response = app.patch(&path, &owner.token, &body).send().await.unwrap();
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["code"], "invalid_type");
    }
    let after: Value = app
        .get(&path, &owner.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["name"], "Keep");
    assert_eq!(after["version"], created["version"]);
}

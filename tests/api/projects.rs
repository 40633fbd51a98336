//! Projects and members (API.md §3): the endpoints, the Inbox, the role matrix, ownership
//! transfer, and a sweep of every object endpoint with someone else's ids (BOLA).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn owners_in_db(app: &TestApp, project: Uuid) -> Vec<Uuid> {
    app.db
        .rows(
            "SELECT user_id FROM memberships WHERE project_id = $1 AND role = 'owner'",
            &[&project],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect()
}

async fn members_of(user: &UserClient<'_>, project: Uuid) -> BTreeMap<Uuid, String> {
    let page: Page<Member> = user.get(&members_path(project)).await.good();
    page.items
        .into_iter()
        .map(|m| (m.user.id, m.role))
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
pub(crate) struct Team<'a> {
    pub owner: UserClient<'a>,
    pub admin: UserClient<'a>,
    pub editor: UserClient<'a>,
    pub viewer: UserClient<'a>,
    pub outsider: UserClient<'a>,
    pub project: Uuid,
}

impl<'a> Team<'a> {
    pub(crate) async fn new(app: &'a TestApp) -> Team<'a> {
        let (owner, admin, editor, viewer, outsider) = tokio::join!(
            app.new_client(),
            app.new_client(),
            app.new_client(),
            app.new_client(),
            app.new_client()
        );
        let project = owner.create_project("Team project").await.id;
        owner.add_member(project, &admin, "admin").await;
        owner.add_member(project, &editor, "editor").await;
        owner.add_member(project, &viewer, "viewer").await;
        Team {
            owner,
            admin,
            editor,
            viewer,
            outsider,
            project,
        }
    }

    pub(crate) fn user(&self, who: Who) -> &UserClient<'a> {
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
pub(crate) fn assert_allowed(response: TestResponse, who: Who, least: Who, ok: u16) -> Value {
    let expected = if who == Who::Outsider {
        404
    } else if who < least {
        403
    } else {
        ok
    };
    let status = response.status().as_u16();
    if status != expected {
        let (what, text) = (response.what(), response.text());
        panic!("{who:?} at {what}: expected {expected}, got {status}: {text}");
    }
    match expected {
        404 => response.problem(404, "not_found"),
        403 => response.problem(403, "forbidden"),
        204 => {
            response.no_content();
            Value::Null
        }
        _ => response.expect::<Value>(expected),
    }
}

// ---------------------------------------------------------------------------------------------
// The Inbox
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_new_user_has_exactly_one_inbox_that_they_own() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let page = user.get("/api/v1/projects").await.good::<Value>();
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
    let members = members_of(&user, id_of(inbox).parse().unwrap()).await;
    assert_eq!(members, BTreeMap::from([(user.id, "owner".to_owned())]));
}

#[tokio::test]
async fn an_inbox_cannot_be_deleted() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let inbox = db_inbox(&app, &user).await;
    let response = user.delete(&project_path(inbox)).await;
    response.problem(409, "conflict");
    let still = user.get_project(inbox).await;
    assert!(still.is_inbox);
}

#[tokio::test]
async fn an_inbox_cannot_be_shared() {
    let app = spawn_app().await;
    let (user, friend) = tokio::join!(app.new_client(), app.new_client());
    let inbox = db_inbox(&app, &user).await;

    let response = user
        .post(
            &format!("/api/v1/projects/{inbox}/members"),
            json!({"email": friend.email, "role": "viewer"}),
        )
        .await;
    response.problem(409, "conflict");
    let response = user.put_role(inbox, friend.id, "editor").await;
    response.problem(409, "conflict");
    // Not even by handing it over.
    let response = user.put_role(inbox, friend.id, "owner").await;
    response.problem(409, "conflict");

    assert_eq!(
        db_roles(&app, inbox).await,
        BTreeMap::from([(user.id, "owner".to_owned())])
    );
}

async fn db_inbox(app: &TestApp, user: &TestUser) -> Uuid {
    let id: Uuid = app
        .db
        .scalar("SELECT id FROM projects WHERE inbox_of = $1", &[&user.id])
        .await;
    id
}

// ---------------------------------------------------------------------------------------------
// Project endpoints
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn creating_a_project_answers_201_with_location_etag_and_the_caller_as_owner() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let response = user
        .post(
            "/api/v1/projects",
            json!({"name": "  Launch  ", "description": "The big one"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.etag(), "\"1\"");
    let location = response.location();
    let project = response.created::<Value>();
    assert_eq!(location, format!("/api/v1/projects/{}", id_of(&project)));
    assert_eq!(
        keys_of(&project),
        [
            "created_at",
            "description",
            "id",
            "is_inbox",
            "is_template",
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

    let fetched = user.get(&location).await.good::<Value>();
    assert_eq!(fetched, project);
    assert_eq!(owners_in_db(&app, id).await, [user.id]);
}

#[tokio::test]
async fn a_project_description_defaults_to_empty() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Plain").await;
    assert_eq!(project.description, "");
}

#[tokio::test]
async fn project_name_and_description_are_validated() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let post = |body: Value| user.post("/api/v1/projects", &body);

    post(json!({"name": "   "})).await.invalid_field("name");
    post(json!({"name": "x".repeat(101)}))
        .await
        .invalid_field("name");
    post(json!({"name": "a\u{7}b"})).await.invalid_field("name");
    post(json!({})).await.invalid_field("name");
    let body = post(json!({"name": "ok", "description": "d".repeat(2001)}))
        .await
        .invalid_field("description");
    assert_eq!(
        field_errors(&body),
        [("description".into(), "too_long".into())]
    );
    let body = post(json!({"name": "ok", "colour": "red"}))
        .await
        .invalid_field("colour");
    assert_eq!(field_errors(&body)[0].1, "unknown_field");

    post(json!({"name": "é".repeat(100)}))
        .await
        .created::<Value>();
    post(json!({"name": "ok", "description": "d".repeat(2000)}))
        .await
        .created::<Value>();
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
    let (me, other) = tokio::join!(app.new_client(), app.new_client());
    let mut expected = vec![db_inbox(&app, &me).await];
    for name in ["one", "two", "three"] {
        expected.push(me.create_project(name).await.id);
    }
    let theirs = other.create_project("theirs").await;
    // Shared with me later: listed by the project's creation, not by when I joined.
    other.add_member(theirs.id, &me, "viewer").await;
    expected.push(me.create_project("four").await.id);
    expected.insert(4, theirs.id);
    let _hidden = other.create_project("hidden").await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = me.get("/api/v1/projects?limit=2");
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page: Page<Project> = request.await.good();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().map(|p| p.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn the_project_list_refuses_bad_limits_and_foreign_cursors() {
    let app = spawn_app().await;
    let (me, other) = tokio::join!(app.new_client(), app.new_client());
    for limit in ["0", "101", "x", "-1"] {
        let response = me.get(&format!("/api/v1/projects?limit={limit}")).await;
        response.problem(400, "invalid_query");
    }
    other.create_project("second").await;
    let page = other.get("/api/v1/projects?limit=1").await.good::<Value>();
    let cursor = page["next_cursor"].as_str().unwrap();
    // Their list's cursor on my list.
    let response = me
        .get("/api/v1/projects")
        .query(&[("cursor", cursor)])
        .await;
    response.problem(400, "invalid_query");
}

#[tokio::test]
async fn get_project_honours_if_none_match() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Cached").await.id;
    let response = user
        .get(&project_path(project))
        .if_none_match("\"1\"")
        .await;
    assert_eq!(response.status(), 304);
    assert_eq!(response.etag(), "\"1\"");
    assert!(response.text().is_empty());

    let response = user
        .get(&project_path(project))
        .if_none_match("\"7\"")
        .await;
    assert_eq!(response.etag(), "\"1\"");
    response.good::<Value>();
}

#[tokio::test]
async fn patching_a_project_changes_only_the_given_fields_and_bumps_the_version() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let created = user.create_project("Before").await;
    let project = created.id;
    let response = user
        .patch(&project_path(project), json!({"name": " After "}))
        .await;
    assert_eq!(response.etag(), "\"2\"");
    let patched = response.good::<Project>();
    assert_eq!(patched.name, "After");
    assert_eq!(patched.description, "");
    assert_eq!(patched.version, 2);
    assert_eq!(patched.my_role, "owner");
    assert_eq!(patched.created_at, created.created_at);
    assert_ne!(patched.updated_at, created.updated_at);

    let patched = user
        .patch(
            &project_path(project),
            json!({"description": "Now described"}),
        )
        .await
        .good::<Project>();
    assert_eq!(patched.name, "After");
    assert_eq!(patched.description, "Now described");
    assert_eq!(patched.version, 3);
    assert_eq!(user.get_project(project).await, patched);
}

#[tokio::test]
async fn patching_a_project_validates_and_changes_nothing_on_failure() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Stable").await.id;
    let patch = |body: Value| user.patch(&project_path(project), &body);
    patch(json!({"name": ""})).await.invalid_field("name");
    patch(json!({"name": "n".repeat(101)}))
        .await
        .invalid_field("name");
    patch(json!({"description": "d".repeat(2001)}))
        .await
        .invalid_field("description");
    patch(json!({"is_inbox": true}))
        .await
        .invalid_field("is_inbox");
    let project = user.get_project(project).await;
    assert_eq!(project.name, "Stable");
    assert_eq!(project.version, 1);
}

#[tokio::test]
async fn patching_a_project_with_a_stale_if_match_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Original").await.id;
    let response = user
        .patch(&project_path(project), json!({"name": "Lost update"}))
        .if_match("\"0\"")
        .await;
    response.problem(412, "precondition_failed");
    let current = user.get_project(project).await;
    assert_eq!(current.name, "Original");
    assert_eq!(current.version, 1);

    let response = user
        .patch(&project_path(project), json!({"name": "Applied"}))
        .if_match("\"1\"")
        .await;
    assert_eq!(response.etag(), "\"2\"");
    let patched = response.good::<Value>();
    assert_eq!(patched["name"], "Applied");
    assert_eq!(patched["version"], 2);

    // The old tag is stale now.
    let response = user
        .patch(&project_path(project), json!({"name": "Again"}))
        .if_match("\"1\"")
        .await;
    response.problem(412, "precondition_failed");
    assert_eq!(user.get_project(project).await.name, "Applied");
}

#[tokio::test]
async fn deleting_a_project_honours_if_match_and_takes_its_tasks_along() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Doomed").await.id;
    let task = user
        .create_task(project, json!({"title": "Goes too"}))
        .await
        .id;

    let response = user.delete(&project_path(project)).if_match("\"5\"").await;
    response.problem(412, "precondition_failed");
    user.get_project(project).await;

    let response = user.delete(&project_path(project)).if_match("\"1\"").await;
    response.no_content();
    let response = user.get(&project_path(project)).await;
    response.problem(404, "not_found");
    let response = user.get(&format!("/api/v1/tasks/{task}")).await;
    response.problem(404, "not_found");
    let left: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM tasks WHERE project_id = $1",
            &[&project],
        )
        .await;
    assert_eq!(left, 0);
}

#[tokio::test]
async fn deleting_a_project_without_if_match_applies() {
    let app = spawn_app().await;
    let user = app.new_client().await;
    let project = user.create_project("Gone").await.id;
    user.delete(&project_path(project)).await.no_content();
    let response = user.delete(&project_path(project)).await;
    response.problem(404, "not_found");
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
        let mut request = team.viewer.get(&format!("{path}?limit=3"));
        if let Some(c) = &cursor {
            request = request.query(&[("cursor", c)]);
        }
        let page = request.await.good::<Value>();
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
    let page = team
        .owner
        .get(&format!("{path}?limit=1"))
        .await
        .good::<Value>();
    let other = team.owner.create_project("Other").await.id;
    let response = team
        .owner
        .get(&format!("/api/v1/projects/{other}/members"))
        .query(&[("cursor", page["next_cursor"].as_str().unwrap())])
        .await;
    response.problem(400, "invalid_query");
}

#[tokio::test]
async fn adding_a_member_by_email_answers_201_with_the_member() {
    let app = spawn_app().await;
    let (owner, newcomer) = tokio::join!(app.new_client(), app.new_client());
    let project = owner.create_project("Shared").await.id;
    let response = owner
        .post(
            &format!("/api/v1/projects/{project}/members"),
            json!({"email": format!("  {}  ", newcomer.email.to_uppercase()), "role": "editor"}),
        )
        .await;
    let member = response.created::<Value>();
    assert_eq!(member["user"]["id"], newcomer.id.to_string());
    assert_eq!(member["user"]["email"], newcomer.email);
    assert_eq!(member["user"]["name"], "Test User");
    assert_eq!(member["role"], "editor");
    assert!(is_utc_timestamp(&member["added_at"]));

    let shared = newcomer.get_project(project).await;
    assert_eq!(shared.my_role, "editor");
    assert!(!shared.is_inbox);
}

#[tokio::test]
async fn adding_a_member_refuses_bad_emails_duplicates_and_bad_roles() {
    let app = spawn_app().await;
    let (owner, member) = tokio::join!(app.new_client(), app.new_client());
    let project = owner.create_project("Shared").await.id;
    let path = format!("/api/v1/projects/{project}/members");
    let post = |body: Value| owner.post(&path, &body);

    // An email without an account is invited (202: tests/api/invitations.rs); one that is no
    // address at all is refused.
    let body = post(json!({"email": "nobody at example.com", "role": "viewer"}))
        .await
        .invalid_field("email");
    assert_eq!(field_errors(&body).len(), 1);
    post(json!({"email": member.email, "role": "boss"}))
        .await
        .invalid_field("role");
    post(json!({"email": member.email}))
        .await
        .invalid_field("role");
    // Ownership moves only by transfer (PUT).
    post(json!({"email": member.email, "role": "owner"}))
        .await
        .invalid_field("role");
    assert_eq!(db_roles(&app, project).await.len(), 1);

    post(json!({"email": member.email, "role": "viewer"}))
        .await
        .created::<Value>();
    let response = post(json!({"email": member.email, "role": "editor"})).await;
    response.problem(409, "conflict");
    assert_eq!(db_roles(&app, project).await[&member.id], "viewer");
}

#[tokio::test]
async fn putting_a_member_answers_201_when_new_and_200_when_changing_the_role() {
    let app = spawn_app().await;
    let (owner, member) = tokio::join!(app.new_client(), app.new_client());
    let project = owner.create_project("Shared").await.id;
    let added = owner
        .put_role(project, member.id, "viewer")
        .await
        .created::<Member>();
    assert_eq!(added.role, "viewer");
    assert_eq!(added.user.id, member.id);
    let changed = owner
        .put_role(project, member.id, "editor")
        .await
        .good::<Member>();
    assert_eq!(changed.role, "editor");
    assert_eq!(changed.added_at, added.added_at);
    assert_eq!(member.get_project(project).await.my_role, "editor");

    let response = owner.put_role(project, member.id, "boss").await;
    response.invalid_field("role");
    // A user id that names nobody.
    let response = owner.put_role(project, Uuid::now_v7(), "viewer").await;
    response.problem(404, "not_found");
    assert_eq!(db_roles(&app, project).await.len(), 2);
}

#[tokio::test]
async fn any_member_but_the_owner_may_remove_themself() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    for who in [Who::Viewer, Who::Editor, Who::Admin] {
        let user = team.user(who);
        let response = user
            .delete(&format!(
                "/api/v1/projects/{}/members/{}",
                team.project, user.id
            ))
            .await;
        response.no_content();
        let response = user.get(&project_path(team.project)).await;
        response.problem(404, "not_found");
    }
    let response = team
        .owner
        .delete(&format!(
            "/api/v1/projects/{}/members/{}",
            team.project, team.owner.id
        ))
        .await;
    let body = response.problem(409, "conflict");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        db_roles(&app, team.project).await,
        BTreeMap::from([(team.owner.id, "owner".to_owned())])
    );
}

#[tokio::test]
async fn the_owner_cannot_step_down_except_by_transferring_ownership() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let response = team
        .owner
        .put_role(team.project, team.owner.id, "admin")
        .await;
    response.problem(409, "conflict");
    assert_eq!(owners_in_db(&app, team.project).await, [team.owner.id]);
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
        let response = user.delete(&path).await;
        assert_allowed(response, who, Who::Owner, 204);
        let response = user.put_role(team.project, team.owner.id, "editor").await;
        assert_allowed(response, who, Who::Owner, 200);
    }
    assert_eq!(owners_in_db(&app, team.project).await, [team.owner.id]);
}

#[tokio::test]
async fn removing_a_member_unassigns_their_tasks_in_that_project() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let task = team
        .owner
        .create_task(
            team.project,
            json!({"title": "Theirs", "assignee_id": team.editor.id}),
        )
        .await;
    assert_eq!(task.assignee_id, Some(team.editor.id));
    let response = team
        .admin
        .delete(&format!(
            "/api/v1/projects/{}/members/{}",
            team.project, team.editor.id
        ))
        .await;
    response.no_content();
    let task = team.owner.get_task(task.id).await;
    assert_eq!(task.assignee_id, None);
    assert_eq!(task.version, 2);
}

// ---------------------------------------------------------------------------------------------
// Ownership transfer
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn transferring_ownership_makes_the_old_owner_an_admin_and_leaves_one_owner() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let member = team
        .owner
        .put_role(team.project, team.editor.id, "owner")
        .await
        .good::<Member>();
    assert_eq!(member.role, "owner");
    assert_eq!(member.user.id, team.editor.id);

    let expected = BTreeMap::from([
        (team.owner.id, "admin".to_owned()),
        (team.admin.id, "admin".to_owned()),
        (team.editor.id, "owner".to_owned()),
        (team.viewer.id, "viewer".to_owned()),
    ]);
    assert_eq!(members_of(&team.viewer, team.project).await, expected);
    assert_eq!(db_roles(&app, team.project).await, expected);
    assert_eq!(owners_in_db(&app, team.project).await, [team.editor.id]);
    assert_eq!(team.owner.get_project(team.project).await.my_role, "admin");
    assert_eq!(team.editor.get_project(team.project).await.my_role, "owner");

    // The old owner has an admin's rights now, at once.
    let response = team.owner.delete(&project_path(team.project)).await;
    response.problem(403, "forbidden");
    let response = team
        .owner
        .put_role(team.project, team.owner.id, "owner")
        .await;
    response.problem(403, "forbidden");

    // And the new owner can hand it back.
    team.editor
        .put_role(team.project, team.owner.id, "owner")
        .await
        .good::<Value>();
    assert_eq!(owners_in_db(&app, team.project).await, [team.owner.id]);
    assert_eq!(db_roles(&app, team.project).await[&team.editor.id], "admin");
}

#[tokio::test]
async fn transferring_ownership_to_a_non_member_adds_them_as_owner() {
    let app = spawn_app().await;
    let (owner, heir) = tokio::join!(app.new_client(), app.new_client());
    let project = owner.create_project("Inheritance").await.id;
    let member = owner
        .put_role(project, heir.id, "owner")
        .await
        .created::<Member>();
    assert_eq!(member.role, "owner");
    assert_eq!(
        db_roles(&app, project).await,
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
    let task = team
        .owner
        .create_task(team.project, json!({"title": "Read me"}))
        .await
        .id;
    for who in EVERYONE {
        let user = team.user(who);
        let get = |path: String| user.get(&path);
        let project = assert_allowed(get(project_path(team.project)).await, who, Who::Viewer, 200);
        if who != Who::Outsider {
            assert_eq!(project["my_role"], who.role());
        }
        let members = assert_allowed(
            get(format!("/api/v1/projects/{}/members", team.project)).await,
            who,
            Who::Viewer,
            200,
        );
        if who != Who::Outsider {
            assert_eq!(members["items"].as_array().unwrap().len(), 4);
        }
        let tasks = assert_allowed(
            get(format!("/api/v1/projects/{}/tasks", team.project)).await,
            who,
            Who::Viewer,
            200,
        );
        if who != Who::Outsider {
            assert_eq!(tasks["items"][0]["id"], task.to_string());
        }
        let fetched = assert_allowed(
            get(format!("/api/v1/tasks/{task}")).await,
            who,
            Who::Viewer,
            200,
        );
        if who != Who::Outsider {
            assert_eq!(fetched["id"], task.to_string());
        }
    }
}

#[tokio::test]
async fn only_editors_and_above_create_edit_and_delete_tasks() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let shared = team
        .owner
        .create_task(team.project, json!({"title": "Shared"}))
        .await
        .id;
    let mut doomed = BTreeMap::new();
    for who in EVERYONE {
        let task = team
            .owner
            .create_task(team.project, json!({"title": "Doomed"}))
            .await;
        doomed.insert(who, task.id);
    }
    for who in EVERYONE {
        let user = team.user(who);
        let response = user
            .post(
                &format!("/api/v1/projects/{}/tasks", team.project),
                json!({"title": format!("By {who:?}")}),
            )
            .await;
        let created = assert_allowed(response, who, Who::Editor, 201);
        if who >= Who::Editor {
            assert_eq!(created["created_by"], user.id.to_string());
        }
        let response = user
            .patch(
                &format!("/api/v1/tasks/{shared}"),
                json!({"title": format!("Edited by {who:?}")}),
            )
            .await;
        assert_allowed(response, who, Who::Editor, 200);
        let response = user
            .delete(&format!("/api/v1/tasks/{}", doomed[&who]))
            .await;
        assert_allowed(response, who, Who::Editor, 204);
    }
    let shared = team.viewer.get_task(shared).await;
    assert_eq!(shared.title, "Edited by Owner");
    assert_eq!(
        shared.version, 4,
        "three edits, none by the viewer or outsider"
    );
    let titles: Vec<String> = app
        .db
        .rows(
            "SELECT title FROM tasks WHERE project_id = $1 ORDER BY number",
            &[&team.project],
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
            .with_token(&team.user(who).token)
            .patch(
                &project_path(team.project),
                json!({"description": format!("by {who:?}")}),
            )
            .await;
        assert_allowed(response, who, Who::Admin, 200);
    }
    let project = team.viewer.get_project(team.project).await;
    assert_eq!(project.description, "by Owner");
    assert_eq!(project.version, 3);
}

#[tokio::test]
async fn only_admins_and_the_owner_manage_members_below_admin() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let (by_admin, by_owner, stranger) =
        tokio::join!(app.new_client(), app.new_client(), app.new_client());
    let members = format!("/api/v1/projects/{}/members", team.project);

    // Add by email.
    for who in EVERYONE {
        let target = match who {
            Who::Admin => &by_admin,
            Who::Owner => &by_owner,
            _ => &stranger,
        };
        let response = app
            .with_token(&team.user(who).token)
            .post(&members, json!({"email": target.email, "role": "editor"}))
            .await;
        assert_allowed(response, who, Who::Admin, 201);
    }
    // Add by id.
    for who in EVERYONE {
        let response = team
            .user(who)
            .put_role(team.project, stranger.id, "viewer")
            .await;
        let expected_ok = if who == Who::Owner { 200 } else { 201 };
        assert_allowed(response, who, Who::Admin, expected_ok);
    }
    // Change a role below admin.
    for who in EVERYONE {
        let role = if who == Who::Owner {
            "editor"
        } else {
            "viewer"
        };
        let response = team
            .user(who)
            .put_role(team.project, by_admin.id, role)
            .await;
        assert_allowed(response, who, Who::Admin, 200);
    }
    assert_eq!(db_roles(&app, team.project).await[&by_admin.id], "editor");
    // Remove someone below admin.
    for who in EVERYONE {
        let target = match who {
            Who::Admin => by_admin.id,
            _ => by_owner.id,
        };
        let response = app
            .with_token(&team.user(who).token)
            .delete(&format!("{members}/{target}"))
            .await;
        assert_allowed(response, who, Who::Admin, 204);
    }
    let roles = db_roles(&app, team.project).await;
    assert_eq!(roles.get(&stranger.id).map(String::as_str), Some("viewer"));
    assert!(!roles.contains_key(&by_admin.id));
    assert!(!roles.contains_key(&by_owner.id));
    assert_eq!(roles.len(), 5);
}

#[tokio::test]
async fn only_the_owner_makes_or_removes_admins() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let (promoted, newcomer) = tokio::join!(app.new_client(), app.new_client());
    team.owner
        .add_member(team.project, &promoted, "editor")
        .await;
    let members = format!("/api/v1/projects/{}/members", team.project);

    // Make an admin: of a member, of a new member by id, of a new member by email.
    for who in EVERYONE {
        let user = team.user(who);
        let response = user.put_role(team.project, promoted.id, "admin").await;
        assert_allowed(response, who, Who::Owner, 200);
        if who != Who::Owner {
            let response = user.put_role(team.project, newcomer.id, "admin").await;
            assert_allowed(response, who, Who::Owner, 201);
            let response = user
                .post(&members, json!({"email": newcomer.email, "role": "admin"}))
                .await;
            assert_allowed(response, who, Who::Owner, 201);
        }
    }
    assert_eq!(db_roles(&app, team.project).await[&promoted.id], "admin");
    assert!(!db_roles(&app, team.project)
        .await
        .contains_key(&newcomer.id));

    // Remove an admin: demote, or take them out.
    for who in [Who::Outsider, Who::Viewer, Who::Editor, Who::Admin] {
        let user = team.user(who);
        let response = user.put_role(team.project, promoted.id, "editor").await;
        assert_allowed(response, who, Who::Owner, 200);
        let response = user.delete(&format!("{members}/{}", promoted.id)).await;
        assert_allowed(response, who, Who::Owner, 204);
    }
    assert_eq!(db_roles(&app, team.project).await[&promoted.id], "admin");
    let demoted = team
        .owner
        .put_role(team.project, promoted.id, "editor")
        .await
        .good::<Member>();
    assert_eq!(demoted.role, "editor");
    let response = team
        .owner
        .delete(&format!("{members}/{}", team.admin.id))
        .await;
    response.no_content();
    let roles = db_roles(&app, team.project).await;
    assert_eq!(roles[&promoted.id], "editor");
    assert!(!roles.contains_key(&team.admin.id));
}

#[tokio::test]
async fn only_the_owner_deletes_the_project() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    for who in EVERYONE {
        let response = app
            .with_token(&team.user(who).token)
            .delete(&project_path(team.project))
            .await;
        assert_allowed(response, who, Who::Owner, 204);
        if who != Who::Owner {
            team.owner.get_project(team.project).await;
        }
    }
    let exists: bool = app
        .db
        .scalar(
            "SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)",
            &[&team.project],
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
            let response = user.put_role(team.project, user.id, "owner").await;
            assert_allowed(response, who, Who::Owner, 200);
        }
        let response = user.put_role(team.project, team.editor.id, "owner").await;
        assert_allowed(response, who, Who::Owner, 200);
        if who != Who::Owner {
            assert_eq!(owners_in_db(&app, team.project).await, [team.owner.id]);
        }
    }
    assert_eq!(owners_in_db(&app, team.project).await, [team.editor.id]);
}

#[tokio::test]
async fn a_changed_role_takes_effect_at_once_with_the_same_token() {
    let app = spawn_app().await;
    let team = Team::new(&app).await;
    let task = team
        .editor
        .create_task(team.project, json!({"title": "Mine"}))
        .await
        .id;
    let patch = || {
        team.editor
            .patch(&format!("/api/v1/tasks/{task}"), json!({"priority": 2}))
    };
    patch().await.good::<Value>();
    team.owner
        .put_role(team.project, team.editor.id, "viewer")
        .await
        .good::<Value>();
    patch().await.problem(403, "forbidden");
    let response = team
        .owner
        .delete(&format!(
            "/api/v1/projects/{}/members/{}",
            team.project, team.editor.id
        ))
        .await;
    response.no_content();
    patch().await.problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// BOLA: every object endpoint with someone else's ids
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_stranger_gets_404_on_every_endpoint_of_someone_elses_project_and_changes_nothing() {
    let app = spawn_app().await;
    let (alice, bob, carol) = tokio::join!(app.new_client(), app.new_client(), app.new_client());
    let project = alice.create_project("Alice's").await.id;
    alice.add_member(project, &carol, "viewer").await;
    let task = alice
        .create_task(project, json!({"title": "Secret"}))
        .await
        .id;
    let inbox = db_inbox(&app, &alice).await;
    let inbox_task = alice
        .create_task(inbox, json!({"title": "Private"}))
        .await
        .id;
    let bobs_project = bob.create_project("Bob's").await.id;
    let bobs_task = bob
        .create_task(bobs_project, json!({"title": "Bob's"}))
        .await
        .id;

    for project in [&project, &inbox] {
        let p = project_path(project);
        let m = format!("{p}/members");
        let attempts = vec![
            ("GET project", bob.get(&p)),
            (
                "GET project, If-None-Match",
                bob.get(&p).if_none_match("\"1\""),
            ),
            ("PATCH project", bob.patch(&p, json!({"name": "Pwned"}))),
            (
                "PATCH project, If-Match",
                bob.patch(&p, json!({"name": "Pwned"})).if_match("\"9\""),
            ),
            ("DELETE project", bob.delete(&p)),
            ("GET members", bob.get(&m)),
            (
                "PUT me as owner",
                bob.put(&format!("{m}/{}", bob.id), json!({"role": "owner"})),
            ),
            (
                "PUT me as viewer",
                bob.put(&format!("{m}/{}", bob.id), json!({"role": "viewer"})),
            ),
            (
                "PUT alice",
                bob.put(&format!("{m}/{}", alice.id), json!({"role": "viewer"})),
            ),
            (
                "POST me",
                bob.post(&m, json!({"email": bob.email, "role": "admin"})),
            ),
            ("DELETE alice", bob.delete(&format!("{m}/{}", alice.id))),
            ("DELETE carol", bob.delete(&format!("{m}/{}", carol.id))),
            ("GET tasks", bob.get(&format!("{p}/tasks"))),
            (
                "POST task",
                bob.post(&format!("{p}/tasks"), json!({"title": "Planted"})),
            ),
        ];
        for (what, request) in attempts {
            let response = request.send().await;
            assert_eq!(response.status(), 404, "{what} on {project}");
            response.problem(404, "not_found");
        }
        let page = bob
            .get("/api/v1/tasks")
            .query(&[("project_id", project.to_string())])
            .await
            .good::<Value>();
        assert_eq!(page, json!({"items": [], "next_cursor": null}));
    }
    for task in [&task, &inbox_task] {
        let t = format!("/api/v1/tasks/{task}");
        let attempts = vec![
            ("GET task", bob.get(&t)),
            ("PATCH task", bob.patch(&t, json!({"title": "Pwned"}))),
            (
                "PATCH task, If-Match",
                bob.patch(&t, json!({"title": "x"})).if_match("\"1\""),
            ),
            (
                "PATCH task into my project",
                bob.patch(&t, json!({"project_id": bobs_project})),
            ),
            ("DELETE task", bob.delete(&t)),
        ];
        for (what, request) in attempts {
            let response = request.send().await;
            assert_eq!(response.status(), 404, "{what} on {task}");
            response.problem(404, "not_found");
        }
    }
    // Pulling Alice's project into Bob's own task, or her into it, is refused.
    let bobs = format!("/api/v1/tasks/{bobs_task}");
    let response = bob.patch(&bobs, json!({"project_id": project})).await;
    response.invalid_field("project_id");
    let response = bob.patch(&bobs, json!({"assignee_id": alice.id})).await;
    response.invalid_field("assignee_id");
    // Bob's own lists show nothing of Alice's.
    let page = bob.get("/api/v1/tasks").await.good::<Value>();
    let ids: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, [bobs_task.to_string()]);
    let page = bob.get("/api/v1/projects").await.good::<Value>();
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| id_of(p) != project.to_string() && id_of(p) != inbox.to_string()));

    // What exists and what is hidden look the same from outside.
    let hidden = bob
        .get(&project_path(project))
        .await
        .problem(404, "not_found");
    let missing = bob
        .get(&project_path(Uuid::now_v7()))
        .await
        .problem(404, "not_found");
    assert_eq!(hidden["detail"], missing["detail"]);
    assert_eq!(hidden["title"], missing["title"]);

    // Nothing changed, as Alice and the database see it.
    let seen = alice.get_project(project).await;
    assert_eq!((seen.name.as_str(), seen.version), ("Alice's", 1));
    assert_eq!(alice.get_project(inbox).await.version, 1);
    assert_eq!(
        db_roles(&app, project).await,
        BTreeMap::from([
            (alice.id, "owner".to_owned()),
            (carol.id, "viewer".to_owned())
        ])
    );
    assert_eq!(
        db_roles(&app, inbox).await,
        BTreeMap::from([(alice.id, "owner".to_owned())])
    );
    for (task, title) in [(&task, "Secret"), (&inbox_task, "Private")] {
        let seen = alice.get_task(*task).await;
        assert_eq!(seen.title, title);
        assert_eq!(seen.version, 1);
    }
    let counts: Vec<i64> = app
        .db
        .rows(
            "SELECT count(*) FROM tasks WHERE project_id = ANY($1) GROUP BY project_id",
            &[&vec![project, inbox]],
        )
        .await
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(counts, [1, 1]);
    let bobs = bob.get_task(bobs_task).await;
    assert_eq!((bobs.version, bobs.project_id), (1, bobs_project));
}

// ---------------------------------------------------------------------------------------------
// Concurrent membership changes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn concurrent_transfers_leave_exactly_one_owner_and_the_losers_get_403() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Contested").await.id;
    let heirs = futures::future::join_all((0..6).map(|_| app.new_client())).await;
    for heir in &heirs {
        owner.add_member(project, heir, "editor").await;
    }
    let transfers = heirs
        .iter()
        .map(|heir| owner.put_role(project, heir.id, "owner"));
    let responses = futures::future::join_all(transfers).await;
    let mut winners = Vec::new();
    for (heir, response) in heirs.iter().zip(responses) {
        match response.status().as_u16() {
            200 => winners.push(heir.id),
            _ => {
                response.problem(403, "forbidden");
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one transfer wins");
    assert_eq!(owners_in_db(&app, project).await, winners);
    let roles = db_roles(&app, project).await;
    assert_eq!(roles[&owner.id], "admin");
    assert_eq!(roles.values().filter(|r| *r == "editor").count(), 5);
}

#[tokio::test]
async fn concurrent_puts_of_the_same_new_member_add_them_once() {
    let app = spawn_app().await;
    let (owner, newcomer) = tokio::join!(app.new_client(), app.new_client());
    let project = owner.create_project("Busy").await.id;
    let puts = (0..6).map(|_| owner.put_role(project, newcomer.id, "viewer"));
    let mut statuses: Vec<u16> = futures::future::join_all(puts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 201]);
    assert_eq!(db_roles(&app, project).await[&newcomer.id], "viewer");
}

#[tokio::test]
async fn a_transfer_racing_a_delete_never_lets_both_succeed() {
    let app = spawn_app().await;
    let (owner, heir) = tokio::join!(app.new_client(), app.new_client());
    for _ in 0..8 {
        let project = owner.create_project("Raced").await.id;
        owner.add_member(project, &heir, "editor").await;
        let (transfer, delete) = tokio::join!(
            owner.put_role(project, heir.id, "owner"),
            owner.delete(&project_path(project)).send()
        );
        match (transfer.status().as_u16(), delete.status().as_u16()) {
            // The transfer first: the old owner is an admin by the time the delete decides.
            (200, _) => {
                delete.problem(403, "forbidden");
                assert_eq!(owners_in_db(&app, project).await, [heir.id]);
            }
            // The delete first: nothing is left to transfer.
            (_, 204) => {
                transfer.problem(404, "not_found");
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

#[tokio::test]
async fn patching_a_project_field_to_null_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let created: Value = owner
        .post("/api/v1/projects", json!({"name": "Keep"}))
        .await
        .created();
    let path = format!("/api/v1/projects/{}", created["id"].as_str().unwrap());
    for body in [json!({"name": null}), json!({"description": null})] {
        let response = owner.patch(&path, &body).await;
        let problem = response.problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["code"], "invalid_type");
    }
    let after: Value = owner.get(&path).await.good();
    assert_eq!(after["name"], "Keep");
    assert_eq!(after["version"], created["version"]);
}

//! Templates (API.md §18): a project created from another copies the parts asked for (states,
//! fields, tasks with their subtasks, relations among them and field values, shared views) and
//! nothing else (comments, history, members, assignees, `user` values, personal views);
//! `is_template` and the list of templates; 404 for a project of someone else's; quotas.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn items(user: &UserClient<'_>, path: &str) -> Vec<Value> {
    let page: Value = user.get(path).query(&[("limit", "100")]).await.good();
    page["items"].as_array().unwrap().clone()
}

/// The project's tasks in manual order.
async fn tasks_in(user: &UserClient<'_>, project: Uuid) -> Vec<Task> {
    let page: Value = user
        .get(&tasks_path(project))
        .query(&[("sort", "position"), ("limit", "100")])
        .await
        .good();
    serde_json::from_value(page["items"].clone()).unwrap()
}

fn by_title<'a>(tasks: &'a [Task], title: &str) -> &'a Task {
    tasks.iter().find(|t| t.title == title).unwrap()
}

/// A project with a custom workflow, three fields (select, number, user), a tree of tasks with
/// values, labels, a relation, an assignee and a comment, a shared and a personal view.
struct Source {
    project: Uuid,
    review: Uuid,
    select: Value,
    number: Value,
    user_field: Value,
}

async fn source(owner: &UserClient<'_>) -> Source {
    let project = owner.create_project("Launch template").await.id;
    let review: Value = owner
        .post(
            &states_path(project),
            json!({"name": "Review", "category": "in_progress", "color": "#aa00ff"}),
        )
        .await
        .created();
    let select: Value = owner
        .post(
            &fields_path(project),
            json!({"name": "Size", "kind": "select", "options": [{"name": "S"}, {"name": "L"}]}),
        )
        .await
        .created();
    let number: Value = owner
        .post(
            &fields_path(project),
            json!({"name": "Points", "kind": "number"}),
        )
        .await
        .created();
    let user_field: Value = owner
        .post(
            &fields_path(project),
            json!({"name": "Reviewer", "kind": "user"}),
        )
        .await
        .created();
    let large = select["options"][1]["id"].as_str().unwrap().to_owned();
    let plan = owner
        .create_task(
            project,
            json!({"title": "Plan", "labels": ["launch"], "due_date": "2027-03-01",
                   "fields": {id(&number): 8}}),
        )
        .await;
    owner
        .create_task(
            project,
            json!({"title": "Draft", "parent_id": plan.id, "status": "done"}),
        )
        .await;
    let ship = owner
        .create_task(
            project,
            json!({"title": "Ship", "state_id": id(&review), "assignee_id": owner.id,
                   "priority": 3,
                   "fields": {id(&select): large, id(&number): 2, id(&user_field): owner.id}}),
        )
        .await;
    owner.relate(plan.id, "blocks", ship.id).await;
    let comment = owner
        .post(&comments_path(ship.id), json!({"body": "not in the copy"}))
        .await;
    assert_eq!(comment.status(), 201);
    let views = format!("/api/v1/projects/{project}/views");
    let shared = owner
        .post(
            &views,
            json!({"name": "Big in review", "shared": true, "kind": "list", "query": {
                "state": id(&review), format!("field.{}", id(&select)): large,
                "sort": format!("-field.{}", id(&number)), "label": "launch"}}),
        )
        .await;
    assert_eq!(shared.status(), 201, "{}", shared.text());
    let personal = owner
        .post(
            &views,
            json!({"name": "Mine", "shared": false, "kind": "board", "query": {}}),
        )
        .await;
    assert_eq!(personal.status(), 201);
    Source {
        project,
        review: id(&review).parse().unwrap(),
        select,
        number,
        user_field,
    }
}

#[tokio::test]
async fn a_copy_takes_every_part_and_nothing_personal() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let colleague = app.new_client().await;
    let source = source(&owner).await;
    owner.add_member(source.project, &colleague, "viewer").await;
    let before = tasks_in(&owner, source.project).await;

    // A viewer of the template may copy it: the copy is theirs alone.
    let copy: Project = colleague
        .post(
            "/api/v1/projects",
            json!({"name": "Launch Q3", "from_project_id": source.project}),
        )
        .await
        .created();
    assert_eq!((copy.my_role.as_str(), copy.is_template), ("owner", false));
    let members = items(&colleague, &members_path(copy.id)).await;
    assert_eq!(members.len(), 1, "members are not copied: {members:?}");

    // States: the same workflow, new ids.
    let (old_states, new_states) = (
        owner.states(source.project).await,
        colleague.states(copy.id).await,
    );
    let shape = |s: &State| {
        (
            s.name.clone(),
            s.category.clone(),
            s.color.clone(),
            s.position,
            s.is_default,
        )
    };
    assert_eq!(
        old_states.iter().map(shape).collect::<Vec<_>>(),
        new_states.iter().map(shape).collect::<Vec<_>>()
    );
    assert!(new_states
        .iter()
        .all(|s| s.project_id == copy.id && old_states.iter().all(|o| o.id != s.id)));
    let new_review = new_states.iter().find(|s| s.name == "Review").unwrap().id;

    // Fields: the same definitions (options keep their ids, so values and queries still name
    // them), new field ids.
    let fields = items(&colleague, &fields_path(copy.id)).await;
    let names: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Size", "Points", "Reviewer"]);
    let field = |name: &str| fields.iter().find(|f| f["name"] == name).unwrap().clone();
    assert_eq!(field("Size")["options"], source.select["options"]);
    for (old, new) in [
        (&source.select, field("Size")),
        (&source.number, field("Points")),
        (&source.user_field, field("Reviewer")),
    ] {
        assert_ne!(id(old), id(&new));
        assert_eq!(old["kind"], new["kind"]);
    }

    // Tasks: order, numbers, labels, dates, tree, values remapped; no assignee, comment or
    // `user` value; made by the copier.
    let copied = tasks_in(&colleague, copy.id).await;
    let titles = |tasks: &[Task]| {
        tasks
            .iter()
            .map(|t| (t.number, t.title.clone(), t.position.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(&before), titles(&copied));
    let (plan, draft, ship) = (
        by_title(&copied, "Plan"),
        by_title(&copied, "Draft"),
        by_title(&copied, "Ship"),
    );
    assert_eq!(plan.labels, ["launch"]);
    assert_eq!(plan.due_date.as_deref(), Some("2027-03-01"));
    assert_eq!(plan.subtasks, Subtasks { total: 1, done: 1 });
    assert_eq!(draft.parent_id, Some(plan.id));
    assert_eq!(draft.status, "done");
    assert!(draft.completed_at.is_some());
    assert_eq!((ship.state_id, ship.priority), (new_review, 3));
    assert_eq!(ship.assignee_id, None);
    assert_eq!(ship.comment_count, 0);
    assert!(copied
        .iter()
        .all(|t| t.created_by == colleague.id && t.project_id == copy.id));
    let large = source.select["options"][1]["id"].clone();
    assert_eq!(
        Value::Object(ship.fields.clone()),
        json!({id(&field("Size")): large, id(&field("Points")): 2}),
        "values under the copies' field ids, the user field's left out"
    );
    assert_eq!(
        Value::Object(plan.fields.clone()),
        json!({id(&field("Points")): 8})
    );
    let comments = items(&colleague, &comments_path(ship.id)).await;
    assert!(comments.is_empty());

    // The relation among the copies, with its effect.
    let relations = items(&colleague, &relations_path(ship.id)).await;
    assert_eq!(relations.len(), 1);
    assert_eq!(relations[0]["kind"], "blocked_by");
    assert_eq!(relations[0]["task"]["id"], plan.id.to_string());
    assert!(ship.blocked);

    // Views: the shared one, its query naming the copies; not the personal one.
    let views = items(&colleague, &format!("/api/v1/projects/{}/views", copy.id)).await;
    assert_eq!(views.len(), 1, "{views:?}");
    assert_eq!(views[0]["name"], "Big in review");
    assert_eq!(views[0]["owner_id"], colleague.id.to_string());
    assert_eq!(
        views[0]["query"],
        json!({"state": new_review.to_string(), format!("field.{}", id(&field("Size"))): large,
               "sort": format!("-field.{}", id(&field("Points"))), "label": "launch"})
    );
    // ... and the query still finds what it found in the template.
    let query: Vec<(String, String)> = views[0]["query"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let found: Value = colleague
        .get(&tasks_path(copy.id))
        .query(&query)
        .await
        .good();
    // `label=launch` is on Plan, the rest on Ship: nothing matches both, as in the template.
    assert!(found["items"].as_array().unwrap().is_empty());
    let query: Vec<(String, String)> = query.into_iter().filter(|(k, _)| k != "label").collect();
    let found: Value = colleague
        .get(&tasks_path(copy.id))
        .query(&query)
        .await
        .good();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["id"], ship.id.to_string());

    // History: each copy's creation by the copier, nothing of the template's.
    app.journal_settled().await;
    let history = items(
        &colleague,
        &format!("/api/v1/projects/{}/activity", copy.id),
    )
    .await;
    assert_eq!(history.len(), 3, "{history:?}");
    assert!(history
        .iter()
        .all(|e| e["kind"] == "task.created" && e["actor"]["id"] == colleague.id.to_string()));
    let task_ids: Vec<&str> = history
        .iter()
        .map(|e| e["task_id"].as_str().unwrap())
        .collect();
    assert!(copied
        .iter()
        .all(|t| task_ids.contains(&t.id.to_string().as_str())));

    // The template is untouched, and the copy numbers on after it.
    assert_eq!(
        titles(&tasks_in(&owner, source.project).await),
        titles(&before)
    );
    let next = colleague
        .create_task(copy.id, json!({"title": "More"}))
        .await;
    assert_eq!(next.number, 4);
}

#[tokio::test]
async fn only_the_parts_asked_for_are_copied() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let source = source(&owner).await;
    let create = |include: Value| {
        owner.post(
            "/api/v1/projects",
            json!({"name": "Copy", "from_project_id": source.project, "include": include}),
        )
    };

    // Tasks without states: each goes to the default state of its state's category.
    let copy: Project = create(json!(["tasks"])).await.created();
    let states = owner.states(copy.id).await;
    let names: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["To do", "In progress", "Done", "Canceled"]);
    let copied = tasks_in(&owner, copy.id).await;
    let ship = by_title(&copied, "Ship");
    let in_progress = states
        .iter()
        .find(|s| s.category == "in_progress")
        .unwrap()
        .id;
    assert_ne!(source.review, in_progress);
    assert_eq!(
        (ship.status.as_str(), ship.state_id),
        ("in_progress", in_progress)
    );
    assert!(
        copied.iter().all(|t| t.fields.is_empty()),
        "no fields, no values"
    );
    assert!(items(&owner, &fields_path(copy.id)).await.is_empty());
    assert!(
        items(&owner, &format!("/api/v1/projects/{}/views", copy.id))
            .await
            .is_empty()
    );
    assert_eq!(by_title(&copied, "Plan").subtasks.total, 1);

    // States and fields without tasks: an empty project numbering from 1.
    let copy: Project = create(json!(["states", "fields"])).await.created();
    assert!(tasks_in(&owner, copy.id).await.is_empty());
    assert_eq!(items(&owner, &fields_path(copy.id)).await.len(), 3);
    assert!(owner
        .states(copy.id)
        .await
        .iter()
        .any(|s| s.name == "Review"));
    let first = owner.create_task(copy.id, json!({"title": "first"})).await;
    assert_eq!(first.number, 1);

    // Views without fields: a parameter naming a field not copied is left out.
    let copy: Project = create(json!(["views"])).await.created();
    let views = items(&owner, &format!("/api/v1/projects/{}/views", copy.id)).await;
    assert_eq!(views.len(), 1);
    let query = views[0]["query"].as_object().unwrap();
    let keys: Vec<&str> = query.keys().map(String::as_str).collect();
    assert_eq!(keys, ["label", "state"], "{query:?}");
    let in_progress = owner
        .states(copy.id)
        .await
        .into_iter()
        .find(|s| s.category == "in_progress")
        .unwrap()
        .id;
    assert_eq!(query["state"], in_progress.to_string());

    // Nothing at all: a project like any new one.
    let copy: Project = create(json!([])).await.created();
    assert!(tasks_in(&owner, copy.id).await.is_empty());
    assert_eq!(owner.states(copy.id).await.len(), 4);
}

#[tokio::test]
async fn bad_copies_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let stranger = app.new_client().await;
    let source = source(&owner).await;
    let count = || app.db.scalar::<i64>("SELECT count(*) FROM projects", &[]);
    let before = count().await;

    let problem = owner
        .post(
            "/api/v1/projects",
            json!({"name": "x", "from_project_id": source.project,
                   "include": ["tasks", "comments", "members"]}),
        )
        .await
        .problem(422, "validation_failed");
    let errors = field_errors(&problem);
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["include.1", "include.2"]);
    let problem = owner
        .post(
            "/api/v1/projects",
            json!({"name": "x", "include": ["tasks"]}),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(field_errors(&problem)[0].0, "include");

    // Someone else's project, or none: 404, as for every project of others.
    stranger
        .post(
            "/api/v1/projects",
            json!({"name": "x", "from_project_id": source.project}),
        )
        .await
        .problem(404, "not_found");
    owner
        .post(
            "/api/v1/projects",
            json!({"name": "x", "from_project_id": Uuid::now_v7()}),
        )
        .await
        .problem(404, "not_found");
    assert_eq!(count().await, before);
}

async fn listed(user: &UserClient<'_>, is_template: &str) -> Vec<String> {
    let page: Value = user
        .get("/api/v1/projects")
        .query(&[("is_template", is_template)])
        .await
        .good();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn admins_mark_templates_and_the_list_shows_them() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let editor = app.new_client().await;
    let template = owner.create_project("Template").await;
    owner.create_project("Other").await;
    owner.add_member(template.id, &editor, "editor").await;

    editor
        .patch(&project_path(template.id), json!({"is_template": true}))
        .await
        .problem(403, "forbidden");
    let marked: Project = owner
        .patch(&project_path(template.id), json!({"is_template": true}))
        .await
        .good();
    assert!(marked.is_template);
    assert_eq!(marked.version, template.version + 1);
    owner
        .patch(&project_path(template.id), json!({"is_template": null}))
        .await
        .problem(422, "validation_failed");

    assert_eq!(listed(&owner, "true").await, ["Template"]);
    assert_eq!(listed(&editor, "true").await, ["Template"]);
    let others = listed(&owner, "false").await;
    assert!(others.contains(&"Other".to_owned()) && !others.contains(&"Template".to_owned()));
    owner
        .get("/api/v1/projects")
        .query(&[("is_template", "yes")])
        .await
        .problem(400, "invalid_query");

    app.journal_settled().await;
    let history = items(
        &owner,
        &format!("/api/v1/projects/{}/activity", template.id),
    )
    .await;
    let change = &history[0];
    assert_eq!(change["kind"], "project.updated");
    assert_eq!(
        change["changes"],
        json!([{"field": "is_template", "from": false, "to": true}])
    );
}

#[tokio::test]
async fn a_copy_stays_within_the_quotas() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let template = owner.create_project("Huge").await;
    // 100,001 tasks made directly (more than a project may hold through the API).
    app.db
        .execute(
            "INSERT INTO tasks (id, project_id, number, title, status, created_by, position) \
             SELECT gen_random_uuid(), $1, i, 't' || i, 'todo', $2, lpad(i::text, 8, '0') \
             FROM generate_series(1, 100001) i",
            &[&template.id, &owner.id],
        )
        .await;
    let before: i64 = app.db.scalar("SELECT count(*) FROM projects", &[]).await;
    let problem = owner
        .post(
            "/api/v1/projects",
            json!({"name": "copy", "from_project_id": template.id}),
        )
        .await
        .problem(422, "quota_exceeded");
    assert!(problem["detail"].as_str().unwrap().contains("100000"));
    let after: i64 = app.db.scalar("SELECT count(*) FROM projects", &[]).await;
    assert_eq!(before, after, "nothing was created");
    // Without the tasks it fits.
    let copy = owner
        .post(
            "/api/v1/projects",
            json!({"name": "copy", "from_project_id": template.id, "include": ["states"]}),
        )
        .await;
    assert_eq!(copy.status(), 201);

    // The projects-per-user quota counts a copy like any new project.
    app.db
        .execute(
            "WITH made AS ( \
                 INSERT INTO projects (id, name) \
                 SELECT gen_random_uuid(), 'p' || i FROM generate_series(1, 998) i RETURNING id) \
             INSERT INTO memberships (project_id, user_id, role) \
             SELECT id, $1, 'owner' FROM made",
            &[&owner.id],
        )
        .await;
    owner
        .post(
            "/api/v1/projects",
            json!({"name": "one too many", "from_project_id": template.id, "include": []}),
        )
        .await
        .problem(422, "quota_exceeded");
}

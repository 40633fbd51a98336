//! Custom fields (API.md §18): definitions per project (kinds, order, options, rights), values
//! on tasks validated by kind on create and patch, required fields, options renamed in place
//! and removed only with `force`, a deleted field's values, values carried by a move, and the
//! history of values.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

async fn add_field(user: &UserClient<'_>, project: Uuid, body: Value) -> Value {
    user.post(&fields_path(project), body).await.created()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn option(field: &Value, name: &str) -> String {
    field["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .map(id)
        .unwrap_or_else(|| panic!("no option {name} in {field}"))
}

async fn history(user: &UserClient<'_>, task: Uuid) -> Vec<Value> {
    let page: Value = user
        .get(&format!("/api/v1/tasks/{task}/activity"))
        .query(&[("limit", "100")])
        .await
        .good();
    page["items"].as_array().unwrap().clone()
}

/// Every change of `field` in a task's history, oldest first.
async fn changes_of(user: &UserClient<'_>, task: Uuid, field: &str) -> Vec<(Value, Value)> {
    let mut changes: Vec<(Value, Value)> = history(user, task)
        .await
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().clone())
        .filter(|c| c["field"] == field)
        .map(|c| (c["from"].clone(), c["to"].clone()))
        .collect();
    changes.reverse();
    changes
}

/// One field of each kind in `project`; the select kinds with options S, M, L.
async fn one_of_each(user: &UserClient<'_>, project: Uuid) -> Vec<Value> {
    let mut fields = Vec::new();
    for kind in [
        "text",
        "number",
        "date",
        "checkbox",
        "select",
        "multi_select",
        "user",
        "url",
    ] {
        let mut body = json!({ "name": format!("{kind} field"), "kind": kind });
        if kind.ends_with("select") {
            body["options"] =
                json!([{ "name": "S" }, { "name": "M", "color": "#FF0000" }, { "name": "L" }]);
        }
        fields.push(add_field(user, project, body).await);
    }
    fields
}

#[tokio::test]
async fn fields_are_ordered_named_once_and_changed_by_admins_only() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let a = add_field(
        &owner,
        project,
        json!({ "name": "Estimate", "kind": "number" }),
    )
    .await;
    let b = add_field(
        &owner,
        project,
        json!({ "name": "Size", "kind": "select", "options": [{ "name": "S" }], "after_id": null }),
    )
    .await;
    assert_eq!(b["options"][0]["color"], "#6b7280");
    assert!(a.get("options").is_none(), "only select kinds have options");
    let list: Value = owner.get(&fields_path(project)).await.good();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Size", "Estimate"]);

    // Reordered, renamed; a taken name (any case) is a conflict; options only for select kinds.
    let moved: Value = owner
        .patch(
            &field_path(id(&b)),
            json!({ "after_id": id(&a), "name": "T-shirt" }),
        )
        .await
        .good();
    assert_eq!(
        (moved["position"].clone(), moved["name"].clone()),
        (json!(1), json!("T-shirt"))
    );
    owner
        .post(
            &fields_path(project),
            json!({ "name": "estimate", "kind": "text" }),
        )
        .await
        .problem(409, "conflict");
    owner
        .post(
            &fields_path(project),
            json!({ "name": "Notes", "kind": "text", "options": [{ "name": "x" }] }),
        )
        .await
        .invalid_field("options");
    owner
        .post(
            &fields_path(project),
            json!({ "name": "Bad", "kind": "colour" }),
        )
        .await
        .problem(422, "validation_failed");
    owner
        .patch(&field_path(id(&a)), json!({ "kind": "text" }))
        .await
        .problem(422, "validation_failed");

    // An editor reads them but cannot change them; a stranger sees nothing.
    let editor = app.new_client().await;
    owner.add_member(project, &editor, "editor").await;
    let seen: Value = editor.get(&fields_path(project)).await.good();
    assert_eq!(seen["items"].as_array().unwrap().len(), 2);
    editor
        .post(
            &fields_path(project),
            json!({ "name": "Mine", "kind": "text" }),
        )
        .await
        .problem(403, "forbidden");
    editor
        .delete(&field_path(id(&a)))
        .await
        .problem(403, "forbidden");
    let stranger = app.new_client().await;
    stranger
        .get(&fields_path(project))
        .await
        .problem(404, "not_found");
    stranger
        .patch(&field_path(id(&a)), json!({ "name": "x" }))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn every_kind_takes_its_values_and_each_wrong_value_is_named() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let fields = one_of_each(&owner, project).await;
    let [text, number, date, checkbox, select, multi, user, url] = &fields[..] else {
        unreachable!()
    };
    let good = json!({
        id(text): "some words", id(number): 2.5, id(date): "2026-03-01", id(checkbox): false,
        id(select): option(select, "M"), id(multi): [option(multi, "L"), option(multi, "S")],
        id(user): owner.id, id(url): "https://example.com/spec",
    });
    let task = owner
        .create_task(project, json!({ "title": "All kinds", "fields": good }))
        .await;
    let mut expected = good.clone();
    // A multi_select's options are kept in the field's order.
    expected[id(multi)] = json!([option(multi, "S"), option(multi, "L")]);
    assert_eq!(Value::Object(task.fields.clone()), expected);
    assert_eq!(owner.get_task(task.id).await.fields, task.fields);

    let stranger = app.new_client().await;
    let bad = json!({
        id(text): "x".repeat(2001), id(number): "3", id(date): "2026-02-30",
        id(checkbox): "yes", id(select): option(multi, "S"), id(multi): [option(select, "S")],
        id(user): stranger.id, id(url): "javascript:alert(1)",
        Uuid::now_v7().to_string(): 1,
    });
    let before = owner.get_task(task.id).await;
    for response in [
        owner
            .post(
                &tasks_path(project),
                json!({ "title": "Bad", "fields": bad }),
            )
            .await,
        owner
            .patch(&task_path(task.id), json!({ "fields": bad }))
            .await,
    ] {
        let problem = response.problem(422, "validation_failed");
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(named.len(), 9, "{problem}");
        for field in &fields {
            assert!(
                named.contains(&format!("fields.{}", id(field)).as_str()),
                "{problem}"
            );
        }
    }
    assert_eq!(
        owner.get_task(task.id).await,
        before,
        "a refused patch changes nothing"
    );
    owner
        .patch(&task_path(task.id), json!({ "fields": [] }))
        .await
        .problem(422, "validation_failed");
}

#[tokio::test]
async fn patches_are_partial_null_clears_and_the_history_has_each_value() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let points = add_field(
        &owner,
        project,
        json!({ "name": "Points", "kind": "number" }),
    )
    .await;
    let done = add_field(
        &owner,
        project,
        json!({ "name": "Reviewed", "kind": "checkbox" }),
    )
    .await;
    let task = owner
        .create_task(
            project,
            json!({ "title": "T", "fields": { id(&points): 3 } }),
        )
        .await;
    let patched: Task = owner
        .patch(
            &task_path(task.id),
            json!({ "fields": { id(&done): true } }),
        )
        .await
        .good();
    assert_eq!(
        Value::Object(patched.fields.clone()),
        json!({ id(&points): 3, id(&done): true })
    );
    let cleared: Task = owner
        .patch(
            &task_path(task.id),
            json!({ "fields": { id(&points): null, id(&done): false } }),
        )
        .await
        .good();
    assert_eq!(
        Value::Object(cleared.fields.clone()),
        json!({ id(&done): false })
    );
    assert_eq!(cleared.version, task.version + 2);
    assert_eq!(
        changes_of(&owner, task.id, &format!("fields.{}", id(&points))).await,
        [(json!(null), json!(3)), (json!(3), json!(null))]
    );
    assert_eq!(
        changes_of(&owner, task.id, &format!("fields.{}", id(&done))).await,
        [(json!(null), json!(true)), (json!(true), json!(false))]
    );
}

#[tokio::test]
async fn a_required_field_needs_a_value_on_create_only() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let old = owner.create_task(project, json!({ "title": "Old" })).await;
    let team = add_field(
        &owner,
        project,
        json!({ "name": "Team", "kind": "text", "required": true }),
    )
    .await;
    assert_eq!(team["required"], true);
    owner
        .post(&tasks_path(project), json!({ "title": "New" }))
        .await
        .invalid_field(&format!("fields.{}", id(&team)));
    owner
        .post(
            &tasks_path(project),
            json!({ "title": "New", "fields": { id(&team): null } }),
        )
        .await
        .invalid_field(&format!("fields.{}", id(&team)));
    let new = owner
        .create_task(
            project,
            json!({ "title": "New", "fields": { id(&team): "core" } }),
        )
        .await;
    assert_eq!(new.fields[&id(&team)], "core");
    // Old tasks stay valid: they can be edited without a value.
    let edited: Task = owner
        .patch(&task_path(old.id), json!({ "title": "Old, edited" }))
        .await
        .good();
    assert!(edited.fields.is_empty());
}

#[tokio::test]
async fn options_are_renamed_in_place_and_removed_only_with_force() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let fields = one_of_each(&owner, project).await;
    let (select, multi) = (&fields[4], &fields[5]);
    let (s, m, l) = (
        option(select, "S"),
        option(select, "M"),
        option(select, "L"),
    );
    let (ms, ml) = (option(multi, "S"), option(multi, "L"));
    let task = owner
        .create_task(
            project,
            json!({ "title": "T", "fields": { id(select): m, id(multi): [ms, ml] } }),
        )
        .await;

    // Renamed and recoloured in place, a new option added: values keep the option.
    let renamed: Value = owner
        .patch(
            &field_path(id(select)),
            json!({ "options": [
                { "id": s, "name": "Small" }, { "id": m, "name": "Medium", "color": "#00ff00" },
                { "id": l, "name": "L" }, { "name": "XL" }] }),
        )
        .await
        .good();
    assert_eq!(option(&renamed, "Medium"), m);
    assert_eq!(renamed["options"][1]["color"], "#00ff00");
    assert_eq!(owner.get_task(task.id).await.fields[&id(select)], json!(m));

    // Leaving out an option in use is a conflict; an unused one goes.
    let keep_all_but = |field: &Value, gone: &str| -> Value {
        let options: Vec<Value> = field["options"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["id"] != gone)
            .map(|o| json!({ "id": o["id"], "name": o["name"] }))
            .collect();
        json!({ "options": options })
    };
    owner
        .patch(&field_path(id(select)), keep_all_but(&renamed, &m))
        .await
        .problem(409, "conflict");
    let fewer: Value = owner
        .patch(&field_path(id(select)), keep_all_but(&renamed, &s))
        .await
        .good();
    assert_eq!(fewer["options"].as_array().unwrap().len(), 3);
    owner
        .patch(
            &field_path(id(select)),
            json!({ "options": [{ "id": Uuid::now_v7(), "name": "Forged" }] }),
        )
        .await
        .invalid_field("options.0.id");

    // With force the values go: a select's whole value, a multi_select's one option.
    let forced: Value = owner
        .patch(&field_path(id(select)), keep_all_but(&fewer, &m))
        .await
        .problem(409, "conflict");
    assert!(forced["detail"].as_str().unwrap().contains("force"));
    let before = owner.get_task(task.id).await;
    owner
        .patch(&field_path(id(select)), keep_all_but(&fewer, &m))
        .query(&[("force", "true")])
        .await
        .good::<Value>();
    owner
        .patch(
            &field_path(id(multi)),
            json!({ "options": [{ "id": ms, "name": "S" }, { "id": option(multi, "M"), "name": "M" }] }),
        )
        .query(&[("force", "true")])
        .await
        .good::<Value>();
    let after = owner.get_task(task.id).await;
    assert_eq!(
        Value::Object(after.fields.clone()),
        json!({ id(multi): [ms] })
    );
    assert!(
        after.version > before.version,
        "its body changed, so its version does"
    );
}

#[tokio::test]
async fn deleting_a_field_deletes_its_values() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let a = add_field(&owner, project, json!({ "name": "A", "kind": "text" })).await;
    let b = add_field(&owner, project, json!({ "name": "B", "kind": "text" })).await;
    let task = owner
        .create_task(
            project,
            json!({ "title": "T", "fields": { id(&a): "x", id(&b): "y" } }),
        )
        .await;
    owner.delete(&field_path(id(&a))).await.no_content();
    assert_eq!(
        Value::Object(owner.get_task(task.id).await.fields),
        json!({ id(&b): "y" })
    );
    let list: Value = owner.get(&fields_path(project)).await.good();
    assert_eq!(list["items"][0]["position"], 0);
    owner
        .patch(
            &task_path(task.id),
            json!({ "fields": { id(&a): "again" } }),
        )
        .await
        .invalid_field(&format!("fields.{}", id(&a)));
    owner
        .delete(&field_path(id(&a)))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn a_moved_task_keeps_values_whose_field_has_its_name_and_kind_there() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let from = owner.create_project("From").await.id;
    let to = owner.create_project("To").await.id;
    let colleague = app.new_client().await;
    owner.add_member(from, &colleague, "editor").await;
    let size = add_field(
        &owner,
        from,
        json!({ "name": "Size", "kind": "select", "options": [{ "name": "S" }, { "name": "XL" }] }),
    )
    .await;
    let points = add_field(&owner, from, json!({ "name": "Points", "kind": "number" })).await;
    let note = add_field(&owner, from, json!({ "name": "Note", "kind": "text" })).await;
    let who = add_field(&owner, from, json!({ "name": "Reviewer", "kind": "user" })).await;
    let size_there = add_field(
        &owner,
        to,
        json!({ "name": "size", "kind": "select", "options": [{ "name": "s" }] }),
    )
    .await;
    let points_there = add_field(&owner, to, json!({ "name": "Points", "kind": "number" })).await;
    add_field(&owner, to, json!({ "name": "Note", "kind": "url" })).await;
    add_field(&owner, to, json!({ "name": "Reviewer", "kind": "user" })).await;

    let values = json!({ id(&size): option(&size, "S"), id(&points): 5, id(&note): "n",
        id(&who): colleague.id });
    let parent = owner
        .create_task(from, json!({ "title": "Parent", "fields": values }))
        .await;
    let child = owner
        .create_task(
            from,
            json!({ "title": "Child", "parent_id": parent.id,
                "fields": { id(&size): option(&size, "XL"), id(&points): 1 } }),
        )
        .await;
    let moved: Task = owner
        .patch(&task_path(parent.id), json!({ "project_id": to }))
        .await
        .good();
    assert_eq!(
        Value::Object(moved.fields.clone()),
        json!({ id(&size_there): option(&size_there, "s"), id(&points_there): 5 })
    );
    let child = owner.get_task(child.id).await;
    assert_eq!(child.project_id, to);
    assert_eq!(
        Value::Object(child.fields.clone()),
        json!({ id(&points_there): 1 })
    );

    // The source's history names what was dropped.
    let entries = history(&owner, parent.id).await;
    let moved_entry = entries
        .iter()
        .find(|e| e["kind"] == "task.moved" && e["project_id"] == json!(from))
        .expect("a task.moved entry in the source");
    let dropped: Vec<&str> = moved_entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["to"].is_null())
        .filter_map(|c| c["field"].as_str())
        .filter(|f| f.starts_with("fields."))
        .collect();
    assert_eq!(dropped.len(), 2, "{moved_entry}");
    assert!(dropped.contains(&format!("fields.{}", id(&note)).as_str()));
    assert!(dropped.contains(&format!("fields.{}", id(&who)).as_str()));

    // Values of the target's fields may come with the move itself.
    let other = owner
        .create_task(
            from,
            json!({ "title": "Other", "fields": { id(&points): 2 } }),
        )
        .await;
    let with_values: Task = owner
        .patch(
            &task_path(other.id),
            json!({ "project_id": to, "fields": { id(&points_there): 8 } }),
        )
        .await
        .good();
    assert_eq!(
        Value::Object(with_values.fields.clone()),
        json!({ id(&points_there): 8 })
    );
}

#[tokio::test]
async fn the_document_describes_values_by_kind() {
    let app = spawn_app().await;
    let doc: Value = app.anon().get("/api/v1/openapi.json").await.good();
    let schemas = &doc["components"]["schemas"];
    let task_fields = &schemas["Task"]["properties"]["fields"];
    assert_eq!(
        task_fields["additionalProperties"]["$ref"], "#/components/schemas/FieldValue",
        "{task_fields}"
    );
    let kinds: Vec<Value> = schemas["FieldValue"]["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("FieldValue is not a oneOf: {}", schemas["FieldValue"]))
        .iter()
        .map(|s| s["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("string"),
            json!("number"),
            json!("boolean"),
            json!("array")
        ]
    );
    let patch = &schemas["UpdateTaskRequest"]["properties"]["fields"];
    assert_eq!(
        patch["additionalProperties"]["oneOf"][0]["$ref"], "#/components/schemas/FieldValue",
        "{patch}"
    );
}

/// A list's query parameters.
type Params = Vec<(String, String)>;

/// Every page of `path` with `query`, `limit` 2, as titles.
async fn all_pages(user: &UserClient<'_>, path: &str, query: &[(&str, &str)]) -> Vec<String> {
    let mut titles = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params: Vec<(&str, &str)> = query.to_vec();
        params.push(("limit", "2"));
        if let Some(cursor) = &cursor {
            params.push(("cursor", cursor));
        }
        let page: Page<Task> = user.get(path).query(&params).await.good();
        titles.extend(page.items.iter().map(|t| t.title.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return titles,
        }
    }
}

#[tokio::test]
async fn lists_filter_and_sort_by_fields_with_nulls_last_and_ties_by_id() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let fields = one_of_each(&owner, project).await;
    let [text, number, date, checkbox, select, multi, _, _] = &fields[..] else {
        unreachable!()
    };
    let (s, m, l) = (
        option(select, "S"),
        option(select, "M"),
        option(select, "L"),
    );
    let (ms, ml) = (option(multi, "S"), option(multi, "L"));
    for (title, values) in [
        (
            "a",
            json!({ id(number): 3, id(select): m, id(text): "Fix the Login", id(date): "2026-01-05" }),
        ),
        (
            "b",
            json!({ id(number): 1, id(select): s, id(multi): [ms, ml], id(checkbox): true }),
        ),
        (
            "c",
            json!({ id(select): m, id(multi): [ml], id(date): "2026-02-01" }),
        ),
        ("d", json!({ id(number): 3, id(checkbox): false })),
        (
            "e",
            json!({ id(number): 10.5, id(select): l, id(text): "login page" }),
        ),
        ("f", json!({})),
    ] {
        owner
            .create_task(project, json!({ "title": title, "fields": values }))
            .await;
    }
    let path = tasks_path(project);
    let key = |f: &Value, suffix: &str| format!("field.{}{suffix}", id(f));
    let cases: Vec<(Params, Vec<&str>)> = vec![
        (vec![(key(select, ""), m.clone())], vec!["a", "c"]),
        (vec![(key(multi, ""), ml.clone())], vec!["b", "c"]),
        (vec![(key(text, ""), "LOGIN".into())], vec!["a", "e"]),
        (vec![(key(checkbox, ""), "false".into())], vec!["d"]),
        (vec![(key(number, ""), "3".into())], vec!["a", "d"]),
        (
            vec![
                (key(number, ".min"), "2".into()),
                (key(number, ".max"), "10.5".into()),
            ],
            vec!["a", "d", "e"],
        ),
        (vec![(key(date, ".max"), "2026-01-31".into())], vec!["a"]),
        // Sorts: nulls last both ways, ties by id (creation order here).
        (
            vec![("sort".into(), key(number, ""))],
            vec!["b", "a", "d", "e", "c", "f"],
        ),
        (
            vec![("sort".into(), format!("-{}", key(number, "")))],
            vec!["e", "d", "a", "b", "f", "c"],
        ),
        (
            vec![("sort".into(), key(select, ""))],
            vec!["b", "a", "c", "e", "d", "f"],
        ),
        (
            vec![("sort".into(), key(date, ""))],
            vec!["a", "c", "b", "d", "e", "f"],
        ),
        (
            vec![
                ("sort".into(), format!("-{}", key(number, ""))),
                (key(select, ""), m.clone()),
            ],
            vec!["a", "c"],
        ),
    ];
    for (query, expected) in &cases {
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            &all_pages(&owner, &path, &query).await,
            expected,
            "{query:?}"
        );
    }
    // The count of a filtered list is the list's.
    let counts: Value = owner
        .get(&format!("{path}/counts"))
        .query(&[(key(select, "").as_str(), m.as_str())])
        .await
        .good();
    assert_eq!(counts["total"], 2);

    // Bad field parameters are 400s.
    for (name, value) in [
        (key(select, ""), Uuid::now_v7().to_string()),
        (key(number, ""), "many".to_owned()),
        (key(text, ".min"), "a".to_owned()),
        (format!("field.{}", Uuid::now_v7()), "x".to_owned()),
        ("sort".to_owned(), format!("field.{}", Uuid::now_v7())),
    ] {
        owner
            .get(&path)
            .query(&[(name.as_str(), value.as_str())])
            .await
            .problem(400, "invalid_query");
    }
    owner
        .get("/api/v1/tasks")
        .query(&[(key(select, "").as_str(), m.as_str())])
        .await
        .problem(400, "invalid_query");
    let mine: Page<Task> = owner
        .get("/api/v1/tasks")
        .query(&[
            ("project_id", project.to_string().as_str()),
            (key(select, "").as_str(), m.as_str()),
        ])
        .await
        .good();
    assert_eq!(mine.items.len(), 2);
}

#[tokio::test]
async fn a_field_sorted_list_pages_without_repeats_or_gaps_under_inserts() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let points = add_field(
        &owner,
        project,
        json!({ "name": "Points", "kind": "number" }),
    )
    .await;
    for (title, value) in [
        ("p1", json!(1)),
        ("p2", json!(2)),
        ("p3", json!(2)),
        ("n1", Value::Null),
        ("p4", json!(5)),
        ("n2", Value::Null),
    ] {
        owner
            .create_task(
                project,
                json!({ "title": title, "fields": { id(&points): value } }),
            )
            .await;
    }
    let sort = format!("field.{}", id(&points));
    let path = tasks_path(project);
    let first: Page<Task> = owner
        .get(&path)
        .query(&[("sort", sort.as_str()), ("limit", "3")])
        .await
        .good();
    let titles: Vec<&str> = first.items.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["p1", "p2", "p3"]);
    // Inserted before and after the boundary, and among the tasks without a value.
    for (title, value) in [("early", json!(0)), ("late", json!(4)), ("n3", Value::Null)] {
        owner
            .create_task(
                project,
                json!({ "title": title, "fields": { id(&points): value } }),
            )
            .await;
    }
    let cursor = first.next_cursor.unwrap();
    let rest: Page<Task> = owner
        .get(&path)
        .query(&[
            ("sort", sort.as_str()),
            ("limit", "10"),
            ("cursor", cursor.as_str()),
        ])
        .await
        .good();
    let titles: Vec<&str> = rest.items.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["late", "p4", "n1", "n2", "n3"]);
    // The cursor is bound to its sort and filters.
    owner
        .get(&path)
        .query(&[("cursor", cursor.as_str())])
        .await
        .problem(400, "invalid_query");
}

#[tokio::test]
async fn sort_keys_follow_every_write_of_values_fields_and_moves() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let other = owner.create_project("Other").await.id;
    // Tasks before the field: they get keys (without a value) when it is created.
    let a = owner.create_task(project, json!({ "title": "a" })).await;
    let b = owner.create_task(project, json!({ "title": "b" })).await;
    let due = add_field(&owner, project, json!({ "name": "Due", "kind": "date" })).await;
    let due_there = add_field(&owner, other, json!({ "name": "due", "kind": "date" })).await;
    owner
        .patch(
            &task_path(b.id),
            json!({ "fields": { id(&due): "2025-12-31" } }),
        )
        .await
        .good::<Task>();
    let c = owner
        .create_task(
            project,
            json!({ "title": "c", "fields": { id(&due): "2026-01-02" } }),
        )
        .await;
    let sorted = |project: Uuid, field: String, desc: bool| {
        let owner = &owner;
        async move {
            let sort = format!("{}field.{field}", if desc { "-" } else { "" });
            all_pages(owner, &tasks_path(project), &[("sort", sort.as_str())]).await
        }
    };
    assert_eq!(sorted(project, id(&due), false).await, ["b", "c", "a"]);
    assert_eq!(sorted(project, id(&due), true).await, ["c", "b", "a"]);
    // A move takes the value to the same-named field there, and its key with it.
    owner
        .patch(&task_path(c.id), json!({ "project_id": other }))
        .await
        .good::<Task>();
    let d = owner
        .create_task(
            other,
            json!({ "title": "d", "fields": { id(&due_there): "2026-01-01" } }),
        )
        .await;
    assert_eq!(sorted(other, id(&due_there), false).await, ["d", "c"]);
    assert_eq!(sorted(project, id(&due), false).await, ["b", "a"]);
    // Cleared values sort last; the keys agree with the values, one per task and keyed field.
    owner
        .patch(
            &task_path(d.id),
            json!({ "fields": { id(&due_there): null } }),
        )
        .await
        .good::<Task>();
    assert_eq!(sorted(other, id(&due_there), false).await, ["c", "d"]);
    let wrong: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM tasks t JOIN custom_fields f ON f.project_id = t.project_id \
               AND f.kind IN ('number', 'date') \
             LEFT JOIN task_field_keys k ON k.task_id = t.id AND k.field_id = f.id \
             WHERE k.task_id IS NULL OR k.missing <> NOT (t.fields ? f.id::text)",
            &[],
        )
        .await;
    assert_eq!(wrong, 0);
    let stray: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM task_field_keys k JOIN tasks t ON t.id = k.task_id \
             JOIN custom_fields f ON f.id = k.field_id WHERE f.project_id <> t.project_id",
            &[],
        )
        .await;
    assert_eq!(stray, 0);
    assert!(owner.get_task(a.id).await.fields.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Saved views
// ---------------------------------------------------------------------------------------------

fn views_path(project: Uuid) -> String {
    format!("/api/v1/projects/{project}/views")
}

fn view_names(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn views_are_personal_or_shared_and_checked_like_a_list() {
    let app = spawn_app().await;
    let owner = app.new_client().await;
    let project = owner.create_project("Work").await.id;
    let viewer = app.new_client().await;
    owner.add_member(project, &viewer, "viewer").await;
    let size = add_field(
        &owner,
        project,
        json!({ "name": "Size", "kind": "select", "options": [{ "name": "S" }] }),
    )
    .await;
    let query = json!({ "status": "todo,in_progress", "sort": "-priority",
        format!("field.{}", id(&size)): option(&size, "S"), "done": "show" });
    let shared: Value = owner
        .post(
            &views_path(project),
            json!({ "name": "Team", "shared": true, "kind": "board", "query": query }),
        )
        .await
        .created();
    assert_eq!(
        shared["query"], query,
        "kept as given, unknown parameters too"
    );
    assert_eq!(
        (shared["kind"].clone(), shared["project_id"].clone()),
        (json!("board"), json!(project))
    );
    let personal: Value = owner
        .post(
            &views_path(project),
            json!({ "name": "Mine", "query": { "assignee": "me" } }),
        )
        .await
        .created();
    assert_eq!(personal["shared"], false);
    assert_eq!(personal["position"], 1);

    // A shared view is visible to a viewer; a personal one is not, not even by id.
    let seen: Value = viewer.get(&views_path(project)).await.good();
    assert_eq!(view_names(&seen), ["Team"]);
    let mine: Value = owner.get(&views_path(project)).await.good();
    assert_eq!(view_names(&mine), ["Team", "Mine"]);
    viewer
        .patch(
            &format!("/api/v1/views/{}", id(&personal)),
            json!({ "name": "x" }),
        )
        .await
        .problem(404, "not_found");
    viewer
        .delete(&format!("/api/v1/views/{}", id(&shared)))
        .await
        .problem(403, "forbidden");
    // A viewer saves personal views but cannot share one.
    viewer
        .post(
            &views_path(project),
            json!({ "name": "Shared", "shared": true }),
        )
        .await
        .problem(403, "forbidden");
    viewer
        .post(&views_path(project), json!({ "name": "Viewer's" }))
        .await
        .created::<Value>();
    let stranger = app.new_client().await;
    stranger
        .get(&views_path(project))
        .await
        .problem(404, "not_found");

    // A bad query is a 422 naming each bad parameter.
    let problem = owner
        .post(
            &views_path(project),
            json!({ "name": "Bad", "query": { "status": "soon", "sort": "colour",
                "priority_min": "9", format!("field.{}", id(&size)): "L", "cursor": "x" } }),
        )
        .await
        .problem(422, "validation_failed");
    let named: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for bad in ["status", "sort", "priority_min", "cursor"] {
        assert!(
            named.contains(&format!("query.{bad}").as_str()),
            "{problem}"
        );
    }
    assert!(
        named.contains(&format!("query.field.{}", id(&size)).as_str()),
        "{problem}"
    );
    owner
        .patch(
            &format!("/api/v1/views/{}", id(&shared)),
            json!({ "query": { "due_before": "tomorrow" } }),
        )
        .await
        .invalid_field("query.due_before");

    // Changed and deleted by the owner; personal views over every project are listed too.
    let renamed: Value = owner
        .patch(
            &format!("/api/v1/views/{}", id(&personal)),
            json!({ "name": "Mine, renamed" }),
        )
        .await
        .good();
    assert_eq!(renamed["name"], "Mine, renamed");
    let moved: Value = owner
        .patch(
            &format!("/api/v1/views/{}", id(&personal)),
            json!({ "position": 5 }),
        )
        .await
        .good();
    assert_eq!(moved["position"], 5);
    owner
        .patch(
            &format!("/api/v1/views/{}", id(&personal)),
            json!({ "position": 1_000_001 }),
        )
        .await
        .invalid_field("position");
    let everywhere: Value = owner
        .post(
            "/api/v1/me/views",
            json!({ "name": "Everywhere", "query": { "assignee": "me", "project_id": project } }),
        )
        .await
        .created();
    assert!(everywhere["project_id"].is_null());
    owner
        .post(
            "/api/v1/me/views",
            json!({ "name": "Elsewhere", "query": { "project_id": Uuid::now_v7() } }),
        )
        .await
        .invalid_field("query.project_id");
    let personal_list: Value = owner.get("/api/v1/me/views").await.good();
    assert_eq!(view_names(&personal_list), ["Everywhere", "Mine, renamed"]);
    owner
        .delete(&format!("/api/v1/views/{}", id(&shared)))
        .await
        .no_content();
    let seen: Value = viewer.get(&views_path(project)).await.good();
    assert_eq!(view_names(&seen), ["Viewer's"]);
}

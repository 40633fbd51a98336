//! Saved views (API.md §18): a list's or board's query parameters under a name, personal or
//! shared with a project. A view's `query` is checked like the list request it stands for
//! (`tasks::list::check_view_query`); the one way to a view by id is `projects::guard::enter_view`.

pub mod handlers;
pub mod store;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a view opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ViewKind {
    List,
    Board,
}

impl ViewKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ViewKind::List => "list",
            ViewKind::Board => "board",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "list" => Some(ViewKind::List),
            "board" => Some(ViewKind::Board),
            _ => None,
        }
    }
}

crate::text_enum!(ViewKind, ViewKind::parse);

/// A list's query parameters as a URL carries them (`{"status": "todo,in_progress"}`).
pub type ViewQuery = BTreeMap<String, String>;

/// At most this many parameters, each value at most this long.
pub const QUERY_PARAMS_MAX: usize = 50;
pub const QUERY_VALUE_MAX: usize = 500;

/// A view's query in the document: at most 50 parameters, names and values without NUL, values
/// at most 500 characters (what the server checks before the list's own rules).
pub fn query_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    use utoipa::openapi::RefOr;
    let text = |max: Option<usize>| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(max)
            .pattern(Some(r"^[^\x00]*$"))
            .build()
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(QUERY_PARAMS_MAX))
        .property_names(Some(text(None)))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
            utoipa::openapi::schema::Schema::Object(text(Some(QUERY_VALUE_MAX))),
        ))))
        .description(Some(
            "The list's query parameters as strings, as a list URL carries them",
        ))
        .build()
}

/// A saved view.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct View {
    pub id: Uuid,
    /// The project whose list it opens; `null`: a personal view over every project
    /// (`GET /api/v1/tasks`).
    pub project_id: Option<Uuid>,
    pub owner_id: Uuid,
    /// 1–50 characters.
    pub name: String,
    /// Visible to every member of the project (made by its admins); else its owner's alone.
    pub shared: bool,
    pub kind: ViewKind,
    /// The list's query parameters, as strings.
    pub query: ViewQuery,
    pub position: i32,
}

/// The ids a view's query names, as they map into a copy of its project (API.md §18
/// templates).
pub struct QueryIds<'a> {
    pub states: &'a crate::db::IdMap,
    pub fields: &'a crate::db::IdMap,
    pub tasks: &'a crate::db::IdMap,
}

/// A shared view's query for the copy of its project: state, field and parent ids become their
/// copies'; a parameter naming a field or task that was not copied is left out (the copy has
/// nothing it could name), as is a sort by such a field; every other parameter stays.
pub fn remap_query(query: &ViewQuery, ids: &QueryIds<'_>) -> ViewQuery {
    let map = |map: &crate::db::IdMap, raw: &str| {
        raw.parse::<Uuid>()
            .ok()
            .and_then(|id| map.get(id))
            .map(|id| id.to_string())
    };
    // `field.<id>`, `field.<id>.min`, `field.<id>.max` with the copy's id.
    let field_key = |key: &str| {
        let rest = key.strip_prefix("field.")?;
        let (id, suffix) = rest.split_once('.').map_or((rest, ""), |(id, s)| (id, s));
        let new = map(ids.fields, id)?;
        Some(match suffix {
            "" => format!("field.{new}"),
            suffix => format!("field.{new}.{suffix}"),
        })
    };
    let mut out = ViewQuery::new();
    for (key, value) in query {
        let remapped = match key.as_str() {
            "state" => Some((
                key.clone(),
                value
                    .split(',')
                    .map(|raw| map(ids.states, raw.trim()).unwrap_or_else(|| raw.to_owned()))
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            "parent" if value != "none" => map(ids.tasks, value).map(|v| (key.clone(), v)),
            "sort" => match value.trim_start_matches('-').strip_prefix("field.") {
                Some(_) => field_key(value.trim_start_matches('-')).map(|k| {
                    let sign = if value.starts_with('-') { "-" } else { "" };
                    (key.clone(), format!("{sign}{k}"))
                }),
                None => Some((key.clone(), value.clone())),
            },
            _ if key.starts_with("field.") => field_key(key).map(|k| (k, value.clone())),
            _ => Some((key.clone(), value.clone())),
        };
        if let Some((key, value)) = remapped {
            out.insert(key, value);
        }
    }
    out
}

/// Views, in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViewList {
    pub items: Vec<View>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::IdMap;

    #[test]
    fn a_copied_query_names_the_copies_and_drops_what_was_not_copied() {
        let (s1, s2, f1, f2, t1) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let (n1, n2, g1) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let states = IdMap::of(vec![s1, s2], vec![n1, n2]);
        let fields = IdMap::of(vec![f1], vec![g1]);
        let tasks = IdMap::default();
        let query: ViewQuery = [
            ("state".to_owned(), format!("{s1},{s2}")),
            (format!("field.{f1}"), "x".to_owned()),
            (format!("field.{f1}.min"), "3".to_owned()),
            (format!("field.{f2}"), "y".to_owned()),
            ("sort".to_owned(), format!("-field.{f1}")),
            ("parent".to_owned(), t1.to_string()),
            ("label".to_owned(), "bug".to_owned()),
        ]
        .into_iter()
        .collect();
        let ids = QueryIds {
            states: &states,
            fields: &fields,
            tasks: &tasks,
        };
        let copied = remap_query(&query, &ids);
        let expected: ViewQuery = [
            ("state".to_owned(), format!("{n1},{n2}")),
            (format!("field.{g1}"), "x".to_owned()),
            (format!("field.{g1}.min"), "3".to_owned()),
            ("sort".to_owned(), format!("-field.{g1}")),
            ("label".to_owned(), "bug".to_owned()),
        ]
        .into_iter()
        .collect();
        assert_eq!(copied, expected);
        // A sort by a field not copied goes; a built-in sort stays.
        let dropped = remap_query(
            &[("sort".to_owned(), format!("field.{f2}"))]
                .into_iter()
                .collect(),
            &ids,
        );
        assert!(dropped.is_empty());
        let kept = remap_query(
            &[("sort".to_owned(), "-priority".to_owned())]
                .into_iter()
                .collect(),
            &ids,
        );
        assert_eq!(kept["sort"], "-priority");
    }
}

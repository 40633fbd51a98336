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

/// Views, in order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ViewList {
    pub items: Vec<View>,
}

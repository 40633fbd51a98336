//! The caller's notifications: listing them and marking them read.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;

use super::{store, Notification};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{non_null, Json, Query};
use crate::pagination::CursorKey;
use crate::pagination::{CursorScope, Page, PageQuery};

/// The most ids one request marks read.
pub const MAX_IDS: usize = 100;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    /// `true`: only the unread ones.
    #[param(value_type = Option<bool>)]
    pub unread: Option<String>,
}

impl NotificationFilter {
    fn unread_only(&self) -> Result<bool, ApiError> {
        match self.unread.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "unread must be true or false",
            )),
        }
    }
}

/// The caller's notifications about tasks of projects they are a member of, newest first.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "notifications",
    params(NotificationFilter, PageQuery),
    responses((status = 200, body = Page<Notification>)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_notifications(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Query(filter): Query<NotificationFilter>,
    Query(page): Query<PageQuery>,
) -> Result<axum::Json<Page<Notification>>, ApiError> {
    let unread = filter.unread_only()?;
    let limit = page.limit()?;
    let scope = CursorScope::Notifications {
        user: principal.id(),
        unread,
    };
    let before: Option<Uuid> = page.position(&cursor_key, &scope)?;
    let rows = store::list(&db, principal.id(), unread, before, limit + 1).await?;
    Ok(axum::Json(Page::from_rows(rows, limit, |last| {
        cursor_key.encode(&scope, &last.id)
    })))
}

/// `{"ids": [...]}` or `{"all": true}`, exactly one of the two.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkReadRequest {
    #[serde(default, deserialize_with = "non_null")]
    pub ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "non_null")]
    pub all: Option<bool>,
}

/// Which notifications to mark read, once the request is checked.
enum Selection {
    Ids(Vec<Uuid>),
    All,
}

impl MarkReadRequest {
    fn parse(self) -> Result<Selection, ApiError> {
        let one_of = "give either ids or all, not both";
        match (self.ids, self.all) {
            (Some(ids), None) if ids.len() > MAX_IDS => Err(ApiError::field(
                "ids",
                "too_long",
                format!("must have at most {MAX_IDS} ids"),
            )),
            (Some(ids), None) => Ok(Selection::Ids(ids)),
            (None, Some(true)) => Ok(Selection::All),
            (None, Some(false)) => Err(ApiError::field("all", "invalid", "must be true")),
            (None, None) => Err(ApiError::validation(vec![FieldError::new(
                "ids", "required", one_of,
            )])),
            (Some(_), Some(_)) => Err(ApiError::field("all", "invalid", one_of)),
        }
    }
}

// Written by hand: the derive cannot say "exactly one of", which clients (and schemathesis)
// should know.
impl utoipa::PartialSchema for MarkReadRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder,
            SchemaFormat, Type,
        };
        let closed =
            || Some(AdditionalProperties::<utoipa::openapi::schema::Schema>::FreeForm(false));
        let ids = ObjectBuilder::new()
            .property(
                "ids",
                ArrayBuilder::new()
                    .items(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
                    )
                    .max_items(Some(MAX_IDS))
                    .description(Some(
                        "The caller's notifications to mark read; others' and unknown ids \
                         are ignored",
                    )),
            )
            .required("ids")
            .additional_properties(closed());
        let all = ObjectBuilder::new()
            .property(
                "all",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([true]))
                    .description(Some("Mark every notification of the caller read")),
            )
            .required("all")
            .additional_properties(closed());
        OneOfBuilder::new().item(ids).item(all).into()
    }
}

impl utoipa::ToSchema for MarkReadRequest {}

/// Mark some or all of the caller's notifications read. Idempotent: a notification read
/// before keeps its `read_at`.
#[utoipa::path(post, path = "/api/v1/me/notifications/read", tag = "notifications",
    request_body = MarkReadRequest,
    responses((status = 204, description = "Marked read")),
    security(("bearer" = []), ("session" = [])))]
pub async fn mark_notifications_read(
    State(db): State<Db>,
    principal: Principal,
    Json(body): Json<MarkReadRequest>,
) -> Result<StatusCode, ApiError> {
    match body.parse()? {
        Selection::Ids(ids) => store::mark_read(&db, principal.id(), ids).await?,
        Selection::All => store::mark_all_read(&db, principal.id()).await?,
    };
    Ok(StatusCode::NO_CONTENT)
}

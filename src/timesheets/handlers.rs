//! The time endpoints: the caller's timer on a task, entries by hand, changing and deleting an
//! entry (its author, or an admin of its project), and the two reports.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::store::{self, Bounds, Scope};
use super::{TimeEntry, TimeReport, MINUTES_MAX, NOTE_MAX};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{non_null, Json, JsonPatch, Path, Query, ReadOnlyFields};
use crate::pagination::{CursorKey, CursorScope, PageQuery};
use crate::projects::access::Action;
use crate::projects::guard;

/// Whole minutes of an entry: 1 to 100,000.
#[derive(Debug, Clone, Copy)]
pub struct Minutes(i32);

impl Minutes {
    fn parse(raw: i64) -> Result<Self, FieldError> {
        if (1..=MINUTES_MAX).contains(&raw) {
            Ok(Self(raw as i32))
        } else {
            Err(FieldError::new(
                "minutes",
                "out_of_range",
                format!("must be from 1 to {MINUTES_MAX}"),
            ))
        }
    }
}

/// An entry's note: at most 1,000 characters.
#[derive(Debug, Clone)]
pub struct Note(String);

impl Note {
    fn parse(raw: String) -> Result<Self, FieldError> {
        if raw.chars().count() > NOTE_MAX {
            return Err(FieldError::new(
                "note",
                "too_long",
                format!("must be at most {NOTE_MAX} characters"),
            ));
        }
        Ok(Self(raw))
    }
}

/// An RFC 3339 instant.
#[derive(Debug, Clone, Copy)]
pub struct Instant(DateTime<Utc>);

impl Instant {
    fn parse(raw: &str) -> Result<Self, FieldError> {
        DateTime::parse_from_rfc3339(raw)
            .map(|t| Self(t.with_timezone(&Utc)))
            .map_err(|_| {
                FieldError::new(
                    "started_at",
                    "invalid",
                    "must be an RFC 3339 time like 2026-12-24T09:00:00Z",
                )
            })
    }
}

crate::deserialize_by_parse!(Minutes, crate::http::extract::Integer, |raw| {
    Minutes::parse(raw.0).map_err(|e| vec![e])
});
crate::deserialize_by_parse!(Note, String, |raw| Note::parse(raw).map_err(|e| vec![e]));
crate::deserialize_by_parse!(Instant, String, |raw| Instant::parse(&raw)
    .map_err(|e| vec![e]));

fn created(entry: &TimeEntry) -> Response {
    (StatusCode::CREATED, axum::Json(entry)).into_response()
}

/// Start the caller's timer on the task (editor or above); a timer running elsewhere stops.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/timer", tag = "time",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    responses((status = 201, body = TimeEntry, description = "The running entry (`ended_at` null)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn start_timer(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let (task, access) = guard::enter_task(&tx, &principal, id, Action::EditTasks).await?;
    let entry = store::start(&tx, &access, task.id).await?;
    tx.commit().await?;
    Ok(created(&entry))
}

/// Stop the caller's timer on the task: 404 when none runs there.
#[utoipa::path(delete, path = "/api/v1/tasks/{id}/timer", tag = "time",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TimeEntry, description = "The finished entry")),
    security(("bearer" = []), ("session" = [])))]
pub async fn stop_timer(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<TimeEntry>, ApiError> {
    let tx = db.begin().await?;
    let (task, _) = guard::enter_task(&tx, &principal, id, Action::EditTasks).await?;
    let entry = store::stop(&tx, principal.id(), Some(task.id))
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(axum::Json(entry))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTimeRequest {
    #[schema(value_type = i64, minimum = 1, maximum = 100000)]
    pub minutes: Minutes,
    /// When the work began (default: `minutes` before now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Instant>,
    #[schema(value_type = Option<String>, max_length = 1000, pattern = r"^[^\x00]*$")]
    pub note: Option<Note>,
}

/// Record time spent on the task by hand (editor or above).
#[utoipa::path(post, path = "/api/v1/tasks/{id}/time", tag = "time",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = AddTimeRequest,
    responses((status = 201, body = TimeEntry)),
    security(("bearer" = []), ("session" = [])))]
pub async fn add_time(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<AddTimeRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let (task, _) = guard::enter_task(&tx, &principal, id, Action::EditTasks).await?;
    let length = chrono::Duration::minutes(i64::from(body.minutes.0));
    let started_at = body.started_at.map_or_else(|| Utc::now() - length, |s| s.0);
    let entry = store::insert(
        &tx,
        principal.id(),
        task.id,
        Some(started_at),
        Some(started_at + length),
        body.minutes.0,
        body.note.as_ref().map_or("", |n| n.0.as_str()),
    )
    .await?;
    tx.commit().await?;
    Ok(created(&entry))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTimeRequest {
    /// Only of a finished entry (stop a running timer first).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<i64>, nullable = false, minimum = 1, maximum = 100000)]
    pub minutes: Option<Minutes>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<String>, nullable = false, format = DateTime)]
    pub started_at: Option<Instant>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 1000, pattern = r"^[^\x00]*$")]
    pub note: Option<Note>,
}

impl ReadOnlyFields for UpdateTimeRequest {
    const READ_ONLY: &'static [&'static str] = &["id", "task_id", "user", "ended_at", "created_at"];
}

/// The entry and the caller's right to change it: its author (still an editor), or an admin
/// of its task's project. Not a member: 404.
async fn enter_entry(
    tx: &crate::db::Tx,
    principal: &Principal,
    id: Uuid,
) -> Result<TimeEntry, ApiError> {
    let entry = store::find(tx, id).await?.ok_or_else(ApiError::not_found)?;
    let (_, access) = guard::enter_task_locked(tx, principal, entry.task_id, Action::Read).await?;
    let action = if entry.user.id == principal.id() {
        Action::EditTasks
    } else {
        Action::EditProject
    };
    access.require(action)?;
    Ok(entry)
}

/// Change a time entry (its author, or an admin of the project).
#[utoipa::path(patch, path = "/api/v1/time/{id}", tag = "time",
    params(("id" = Uuid, Path)),
    request_body = UpdateTimeRequest,
    responses((status = 200, body = TimeEntry)),
    security(("bearer" = []), ("session" = [])))]
pub async fn update_time(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    JsonPatch(body): JsonPatch<UpdateTimeRequest>,
) -> Result<axum::Json<TimeEntry>, ApiError> {
    let tx = db.begin().await?;
    let entry = enter_entry(&tx, &principal, id).await?;
    if entry.ended_at.is_none() && body.minutes.is_some() {
        return Err(ApiError::field(
            "minutes",
            "timer_running",
            "stop the timer before changing its minutes",
        ));
    }
    let updated = store::update(
        &tx,
        id,
        body.started_at.map(|s| s.0),
        body.minutes.map(|m| m.0),
        body.note.as_ref().map(|n| n.0.as_str()),
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(axum::Json(updated))
}

/// Delete a time entry (its author, or an admin of the project).
#[utoipa::path(delete, path = "/api/v1/time/{id}", tag = "time",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_time(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    enter_entry(&tx, &principal, id).await?;
    store::delete(&tx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day (inclusive) of `started_at`, in the caller's time zone.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// Last day (inclusive) of `started_at`, in the caller's time zone.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
    /// `csv`: every matching entry as CSV (the total in `X-Total-Minutes`); `json` (default).
    #[param(value_type = Option<String>, pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Only this user's entries.
    #[param(value_type = Option<Uuid>)]
    pub user: Option<String>,
}

fn invalid(detail: &str) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidQuery, detail.to_owned())
}

/// Checks the query; the bounds in the caller's zone, whether CSV, and the filter's key.
async fn parse_report(
    db: &Db,
    principal: &Principal,
    q: &ReportQuery,
) -> Result<(Bounds, bool, String), ApiError> {
    let day = |raw: &Option<String>, name: &str| {
        raw.as_deref()
            .map(|d| {
                crate::tasks::domain::parse_date(name, d)
                    .map_err(|_| invalid(&format!("{name} must be a date like 2026-01-31")))
            })
            .transpose()
    };
    let (from, to) = (day(&q.from, "from")?, day(&q.to, "to")?);
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(invalid("format must be json or csv")),
    };
    let zone = crate::auth::users::time_zone_of(db, principal.id())
        .await?
        .zone();
    let start_of = |d: NaiveDate| {
        zone.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let bounds = (
        from.and_then(start_of),
        to.and_then(|d| d.succ_opt()).and_then(start_of),
    );
    let key = format!("{:?}|{:?}", q.from, q.to);
    Ok((bounds, csv, key))
}

async fn answer(
    db: &Db,
    cursor_key: &CursorKey,
    scope: &Scope,
    cursor_scope: CursorScope,
    bounds: Bounds,
    csv: bool,
    page: &PageQuery,
) -> Result<Response, ApiError> {
    let total = store::total(db, scope, bounds).await?;
    if csv {
        let entries = store::report(db, scope, bounds, None, None).await?;
        return Ok(csv_response(&entries, total));
    }
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, Uuid)> = page.position(cursor_key, &cursor_scope)?;
    let mut items = store::report(db, scope, bounds, after, Some(limit + 1)).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items
            .last()
            .map(|last| cursor_key.encode(&cursor_scope, &(last.started_at, last.id)))
    } else {
        None
    };
    Ok(axum::Json(TimeReport {
        items,
        next_cursor,
        total_minutes: total,
    })
    .into_response())
}

/// A project's time entries (any member), oldest first, with the total of every match.
#[utoipa::path(get, path = "/api/v1/projects/{id}/time", tag = "time",
    params(("id" = Uuid, Path), ReportQuery, UserFilter, PageQuery),
    responses((status = 200, description = "A page of entries and the total; CSV with `format=csv`",
        content((TimeReport = "application/json"), (String = "text/csv")))),
    security(("bearer" = []), ("session" = [])))]
pub async fn project_time(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Query(q): Query<ReportQuery>,
    Query(filter): Query<UserFilter>,
    Query(page): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let access = guard::authorize(&db, &principal, id, Action::Read).await?;
    let user = filter
        .user
        .as_deref()
        .map(|u| {
            u.parse::<Uuid>()
                .map_err(|_| invalid("user must be a user id"))
        })
        .transpose()?;
    let (bounds, csv, filters) = parse_report(&db, &principal, &q).await?;
    let scope = Scope::Project {
        project: access.project_id(),
        user,
    };
    let cursor_scope = CursorScope::ProjectTime {
        project: access.project_id(),
        filters: format!("{filters}|{user:?}"),
    };
    answer(&db, &cursor_key, &scope, cursor_scope, bounds, csv, &page).await
}

/// The caller's time entries in every project they are a member of, with the total.
#[utoipa::path(get, path = "/api/v1/me/time", tag = "time",
    params(ReportQuery, PageQuery),
    responses((status = 200, description = "A page of entries and the total; CSV with `format=csv`",
        content((TimeReport = "application/json"), (String = "text/csv")))),
    security(("bearer" = []), ("session" = [])))]
pub async fn my_time(
    State(cursor_key): State<CursorKey>,
    State(db): State<Db>,
    principal: Principal,
    Query(q): Query<ReportQuery>,
    Query(page): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let (bounds, csv, filters) = parse_report(&db, &principal, &q).await?;
    let scope = Scope::Mine {
        user: principal.id(),
    };
    let cursor_scope = CursorScope::MyTime {
        user: principal.id(),
        filters,
    };
    answer(&db, &cursor_key, &scope, cursor_scope, bounds, csv, &page).await
}

/// One CSV field: quoted when it holds a comma, quote or line break; a text that a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) gets a `'` before it.
fn field(raw: &str) -> String {
    let text = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn csv_response(entries: &[TimeEntry], total: i64) -> Response {
    let mut out = String::from("id,task_id,user_id,user_name,started_at,ended_at,minutes,note\r\n");
    for e in entries {
        let ended = e
            .ended_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            e.id,
            e.task_id,
            e.user.id,
            field(&e.user.name),
            e.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ended.unwrap_or_default(),
            e.minutes,
            field(&e.note)
        ));
    }
    let mut response = out.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"time.csv\""),
    );
    if let Ok(value) = HeaderValue::from_str(&total.to_string()) {
        headers.insert("x-total-minutes", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(field("-2+3,x"), "\"'-2+3,x\"");
    }
}

//! `POST /api/v1/projects/import`: a new project, owned by the caller, from a Docket export
//! (`application/json`) or a CSV (`text/csv`), all or nothing.
//!
//! The body is read up to 64 MiB (this endpoint's own limit; the server's 256 KiB does not
//! apply to a body read as a stream; past it 413 and nothing is kept). A CSV is parsed while
//! it arrives (`import_csv`: never held whole); JSON is read whole, then parsed. Either way
//! row by row: each row is checked with the
//! task's own domain types, every invalid one counted and the first twenty named
//! (`rows.N.field`, the first data row being 1), and valid rows go into the new project in
//! batches of `BATCH` inside the one transaction. Any invalid row rolls the whole import back.

use axum::body::Body;
use axum::extract::State as Part;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;
use tokio_util::io::{StreamReader, SyncIoBridge};
use uuid::Uuid;

use super::{comment_body, Progress};
use crate::auth::principal::Principal;
use crate::comments::CommentBody;
use crate::db::{Db, Tx};
use crate::error::{ApiError, ErrorCode, FieldError, FieldErrors};
use crate::fields::store::{self as field_store, NewField};
use crate::fields::values::{self, Values};
use crate::fields::{Field, FieldKind, FieldName, OptionInput};
use crate::http::extract::Query;
use crate::http::middleware::RequestContext;
use crate::projects::access::{Action, ProjectAccess};
use crate::projects::handlers::{begin_creation, check_description, check_name, project_response};
use crate::projects::{guard, store as projects};
use crate::quotas;
use crate::states::Placement;
use crate::tasks::domain::{Description, DueDate, Labels, Priority, Status, TaskTitle};
use crate::tasks::moves::keys_between;
use crate::tasks::store::{self as tasks, ImportedTask, TaskFields};

/// The largest body this endpoint reads (API.md §15).
pub const LIMIT_BYTES: usize = 64 * 1024 * 1024;
/// Tasks written per statement.
const BATCH: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The new project's name (required for CSV; a Docket export's or Trello board's own name
    /// otherwise).
    pub name: Option<String>,
    /// `include`: a Trello board's closed cards and the cards of its closed lists too.
    #[param(pattern = "^include$")]
    pub archived: Option<String>,
}

/// Import a project from a Docket export or a Trello board export (`application/json`), or a
/// CSV (`text/csv`: a header row naming `title` and any of `description`, `status`,
/// `priority`, `due_date`, `labels`).
/// All or nothing: a file with any invalid row changes nothing, and the 422 names the rows
/// (`rows.17.due_date`, the first data row being 1). Up to 64 MiB.
#[utoipa::path(post, path = "/api/v1/projects/import", tag = "projects",
    params(ImportQuery),
    request_body(content((Object = "application/json"), (String = "text/csv")),
        description = "A Docket export document, or a CSV with a header row"),
    responses((status = 201, body = crate::projects::store::Project)),
    security(("bearer" = []), ("session" = [])))]
pub async fn import_project(
    Part(db): Part<Db>,
    principal: Principal,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    context: Option<axum::Extension<RequestContext>>,
    body: Body,
) -> Result<Response, ApiError> {
    let progress = Progress::new(context.map(|c| c.0));
    let kind = match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .as_deref()
    {
        Some("application/json") => Kind::Json,
        Some("text/csv") => Kind::Csv,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
            )
            .detail("send application/json (a Docket export) or text/csv"))
        }
    };
    if let Kind::Csv = kind {
        let Some(name) = query.name.as_deref() else {
            return Err(ApiError::validation(vec![FieldError::new(
                "name",
                "required",
                "a CSV import needs ?name= for the new project",
            )]));
        };
        let (tx, access) = new_project(&db, &principal, name, "").await?;
        import_csv(&tx, &access, body, &progress).await?;
        return finish(tx, &access).await;
    }
    let bytes = read_body(body, &progress).await?;
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(&bytes);
    // JSON is read whole (a document parses only once complete), then parsed.
    match super::trello::is_board(bytes) {
        true => {
            let board = super::trello::parse(bytes)?;
            let archived = match query.archived.as_deref() {
                None => false,
                Some("include") => true,
                Some(_) => {
                    return Err(ApiError::bad_request(
                        ErrorCode::InvalidQuery,
                        "archived must be `include` when given",
                    ))
                }
            };
            let name = query.name.as_deref().unwrap_or(&board.name).to_owned();
            let (tx, access) = new_project(&db, &principal, &name, &board.description()).await?;
            super::trello::import(&tx, &access, board, archived, &progress).await?;
            finish(tx, &access).await
        }
        false => {
            let document: ExportDocument = parse_json(bytes)?;
            let name = query.name.as_deref().unwrap_or(&document.project.name);
            let (tx, access) =
                new_project(&db, &principal, name, &document.project.description).await?;
            import_export(&tx, &access, document, &progress).await?;
            finish(tx, &access).await
        }
    }
}

enum Kind {
    Json,
    Csv,
}

async fn read_body(body: Body, progress: &Progress) -> Result<Vec<u8>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request(ErrorCode::IncompleteBody, "the body was broken off")
        })?;
        if bytes.len() + chunk.len() > LIMIT_BYTES {
            return Err(
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
                    .detail(format!("an import is at most {LIMIT_BYTES} bytes (64 MiB)")),
            );
        }
        bytes.extend_from_slice(&chunk);
        progress.tick();
    }
    Ok(bytes)
}

/// The project, created in the transaction the rows go into, and the importer's way in.
async fn new_project(
    db: &Db,
    principal: &Principal,
    name: &str,
    description: &str,
) -> Result<(Tx, ProjectAccess), ApiError> {
    let mut errors = Vec::new();
    let name = check_name(name, &mut errors);
    check_description(description, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let tx = begin_creation(db, principal.id()).await?;
    let project = projects::create(&tx, principal.id(), &name, description).await?;
    let access = guard::authorize(&tx, principal, project.id, Action::EditTasks).await?;
    Ok((tx, access))
}

async fn finish(tx: Tx, access: &ProjectAccess) -> Result<Response, ApiError> {
    let project = projects::find(&tx, access.project_id(), access.user_id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(project_response(StatusCode::CREATED, &project))
}

/// Rows checked so far: the errors (bounded), and the valid rows waiting for their batch.
struct Rows {
    errors: FieldErrors,
    pending: Vec<TaskFields>,
    /// The last manual-order key given out.
    last_key: Option<String>,
    count: usize,
}

impl Rows {
    fn new() -> Self {
        Rows {
            errors: FieldErrors::default(),
            pending: Vec::with_capacity(BATCH),
            last_key: None,
            count: 0,
        }
    }

    fn invalid(&mut self, row: usize, error: FieldError) {
        self.errors.push_with(|| FieldError {
            field: format!("rows.{row}.{}", error.field),
            ..error
        });
    }

    /// A checked row; once the file has had an error, rows are only checked, not written.
    async fn push(
        &mut self,
        tx: &Tx,
        access: &ProjectAccess,
        fields: TaskFields,
    ) -> Result<bool, ApiError> {
        self.count += 1;
        if self.count as i64 > quotas::TASKS_PER_PROJECT {
            return Err(quotas::exceeded(
                "tasks per project",
                quotas::TASKS_PER_PROJECT,
            ));
        }
        if self.errors.total() > 0 {
            return Ok(false);
        }
        self.pending.push(fields);
        if self.pending.len() >= BATCH {
            self.flush(tx, access).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn flush(
        &mut self,
        tx: &Tx,
        access: &ProjectAccess,
    ) -> Result<Vec<tasks::Task>, ApiError> {
        if self.errors.total() > 0 || self.pending.is_empty() {
            self.pending.clear();
            return Ok(Vec::new());
        }
        let keys = keys_between(self.last_key.as_deref(), None, self.pending.len())
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no room for manual-order keys")))?;
        self.last_key = keys.last().cloned();
        let batch: Vec<ImportedTask> = self
            .pending
            .drain(..)
            .zip(keys)
            .map(|(fields, position)| ImportedTask { fields, position })
            .collect();
        Ok(tasks::insert_imported(tx, access, &batch).await?)
    }

    fn done(self) -> Result<(), ApiError> {
        let (listed, total) = self.errors.into_parts();
        if total > 0 {
            return Err(ApiError::validation_of(listed, total));
        }
        Ok(())
    }
}

/// The columns a CSV may have (any order, by header name, others ignored).
#[derive(Default)]
struct Columns {
    title: Option<usize>,
    description: Option<usize>,
    status: Option<usize>,
    priority: Option<usize>,
    due_date: Option<usize>,
    labels: Option<usize>,
}

/// A checked CSV row, as the parsing thread hands it to the writer (in file order).
enum Parsed {
    Row(TaskFields),
    Invalid(usize, Vec<FieldError>),
}

/// Why the body stopped before its end (carried through `std::io::Error` to the parser).
#[derive(Debug, thiserror::Error)]
enum BodyStop {
    #[error("the body was broken off")]
    Broken,
    #[error("the body is larger than 64 MiB")]
    TooLarge,
}

impl BodyStop {
    fn problem(&self) -> ApiError {
        match self {
            BodyStop::Broken => {
                ApiError::bad_request(ErrorCode::IncompleteBody, "the body was broken off")
            }
            BodyStop::TooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
                    .detail(format!("an import is at most {LIMIT_BYTES} bytes (64 MiB)"))
            }
        }
    }

    /// The problem for a CSV error that came from the body, if it did.
    fn of(error: &csv::Error) -> Option<ApiError> {
        match error.kind() {
            csv::ErrorKind::Io(io) => Some(
                io.get_ref()
                    .and_then(|e| e.downcast_ref::<BodyStop>())
                    .unwrap_or(&BodyStop::Broken)
                    .problem(),
            ),
            _ => None,
        }
    }
}

/// Checked batches waiting for the writer: the parser stays at most this far ahead.
const QUEUED_BATCHES: usize = 2;

/// The CSV is parsed while it arrives: a blocking thread reads the body (capped at 64 MiB)
/// through `csv::Reader` and sends checked rows in batches over a bounded channel; this side
/// writes them in the one transaction. The caller drops the transaction on any error, so a
/// body cut off or past the cap changes nothing.
async fn import_csv(
    tx: &Tx,
    access: &ProjectAccess,
    body: Body,
    progress: &Progress,
) -> Result<(), ApiError> {
    let mut total = 0usize;
    let ticker = progress.clone();
    let chunks = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(|_| std::io::Error::other(BodyStop::Broken))?;
        total += chunk.len();
        if total > LIMIT_BYTES {
            return Err(std::io::Error::other(BodyStop::TooLarge));
        }
        ticker.tick();
        Ok::<_, std::io::Error>(chunk)
    });
    let reader = SyncIoBridge::new(StreamReader::new(chunks));
    let (sender, mut receiver) = tokio::sync::mpsc::channel(QUEUED_BATCHES);
    let parser = tokio::task::spawn_blocking(move || parse_csv(reader, sender));
    let mut rows = Rows::new();
    while let Some(batch) = receiver.recv().await {
        for parsed in batch {
            match parsed {
                Parsed::Row(fields) => {
                    if rows.push(tx, access, fields).await? {
                        progress.tick();
                    }
                }
                Parsed::Invalid(row, errors) => {
                    errors.into_iter().for_each(|e| rows.invalid(row, e))
                }
            }
        }
    }
    parser
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the CSV parser failed: {e}")))??;
    rows.flush(tx, access).await?;
    rows.done()
}

/// Runs on a blocking thread: the header, then every row checked and sent in batches. Returns
/// early (Ok) when the writer has gone, since its error is the answer then.
fn parse_csv(
    reader: impl std::io::Read,
    sender: tokio::sync::mpsc::Sender<Vec<Parsed>>,
) -> Result<(), ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(reader);
    let headers = reader.byte_headers().map_err(|e| {
        BodyStop::of(&e).unwrap_or_else(|| {
            ApiError::validation(vec![FieldError::new(
                "header",
                "invalid",
                format!("the header row cannot be read: {e}"),
            )])
        })
    })?;
    let mut columns = Columns::default();
    for (index, name) in headers.iter().enumerate() {
        let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
        let slot = match name.as_str() {
            "title" => &mut columns.title,
            "description" => &mut columns.description,
            "status" => &mut columns.status,
            "priority" => &mut columns.priority,
            "due_date" => &mut columns.due_date,
            "labels" => &mut columns.labels,
            _ => continue,
        };
        slot.get_or_insert(index);
    }
    let Some(title_column) = columns.title else {
        return Err(ApiError::validation(vec![FieldError::new(
            "header",
            "required",
            "the header row names no `title` column",
        )]));
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::ByteRecord::new();
    let mut row = 0;
    loop {
        row += 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let cell = |column: Option<usize>| -> Result<&str, FieldError> {
                    let raw = column.and_then(|c| record.get(c)).unwrap_or(b"");
                    std::str::from_utf8(raw)
                        .map_err(|_| FieldError::new("", "invalid", "is not UTF-8 text"))
                };
                batch.push(match csv_row(&cell, Some(title_column), &columns) {
                    Ok(fields) => Parsed::Row(fields),
                    Err(errors) => Parsed::Invalid(row, errors),
                });
            }
            Err(error) => {
                if let Some(problem) = BodyStop::of(&error) {
                    return Err(problem);
                }
                let error =
                    FieldError::new("", "invalid", format!("the row cannot be read: {error}"));
                batch.push(Parsed::Invalid(row, vec![error]));
            }
        }
        if batch.len() >= BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if sender.blocking_send(full).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        // A gone writer has its own error to give.
        let _ = sender.blocking_send(batch);
    }
    Ok(())
}

/// One CSV row's fields, or every problem it has (each named by its column).
fn csv_row<'a>(
    cell: &impl Fn(Option<usize>) -> Result<&'a str, FieldError>,
    title: Option<usize>,
    columns: &Columns,
) -> Result<TaskFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut read = |column: Option<usize>, name: &str| match cell(column) {
        Ok(text) => text,
        Err(error) => {
            errors.push(FieldError {
                field: name.to_owned(),
                ..error
            });
            ""
        }
    };
    let (title, description, status, priority, due_date, labels) = (
        read(title, "title"),
        read(columns.description, "description"),
        read(columns.status, "status"),
        read(columns.priority, "priority"),
        read(columns.due_date, "due_date"),
        read(columns.labels, "labels"),
    );
    let labels: Vec<String> = labels
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let fields = check_fields(
        title,
        description,
        (!status.trim().is_empty()).then_some(status.trim()),
        match priority.trim() {
            "" => Ok(0),
            text => text.parse::<i64>().map_err(|_| {
                FieldError::new("priority", "invalid", "must be a whole number from 0 to 4")
            }),
        },
        (!due_date.trim().is_empty()).then_some(due_date.trim()),
        &labels,
        None,
    );
    match fields {
        Ok(fields) if errors.is_empty() => Ok(fields),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

/// A row's fields checked by the task's own types (the rules of API.md §4).
fn check_fields(
    title: &str,
    description: &str,
    status: Option<&str>,
    priority: Result<i64, FieldError>,
    due_date: Option<&str>,
    labels: &[String],
    assignee_id: Option<Uuid>,
) -> Result<TaskFields, Vec<FieldError>> {
    let mut errors = Vec::new();
    let title = TaskTitle::parse(title).map_err(|e| errors.push(e)).ok();
    let description = if description.contains('\0') {
        errors.push(FieldError::new(
            "description",
            "invalid",
            "must not contain NUL characters",
        ));
        None
    } else {
        Description::parse(description)
            .map_err(|e| errors.push(e))
            .ok()
    };
    let status = match status {
        None => Some(Status::Todo),
        Some(text) => Status::parse(text).or_else(|| {
            errors.push(FieldError::new(
                "status",
                "invalid",
                "must be one of todo, in_progress, done, canceled",
            ));
            None
        }),
    };
    let priority = priority
        .and_then(Priority::parse)
        .map_err(|e| errors.push(e))
        .ok();
    let due_date = match due_date {
        None => Some(None),
        Some(text) => DueDate::parse(text)
            .map(|d| Some(d.0))
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let labels = Labels::parse(labels)
        .map_err(|e| errors.extend(e.into_parts().0))
        .ok();
    match (title, description, status, priority, due_date, labels) {
        (
            Some(title),
            Some(description),
            Some(status),
            Some(priority),
            Some(due_date),
            Some(labels),
        ) if errors.is_empty() => Ok(TaskFields {
            title: title.as_str().to_owned(),
            description: description.as_str().to_owned(),
            status,
            state_id: None,
            priority: priority.get(),
            due_date,
            labels: labels.as_slice().to_vec(),
            assignee_id,
            parent_id: None,
            start_date: None,
            due_time: None,
            recurrence: None,
            fields: Default::default(),
        }),
        _ => Err(errors),
    }
}

// ---------------------------------------------------------------------------------------------
// A Docket export (the document `export.rs` writes; unknown members are ignored, so a later
// version's additions do not stop an earlier reader that knows the version)
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct ExportDocument {
    format: String,
    version: u32,
    project: ExportedProject,
    /// Absent from exports made before custom fields.
    #[serde(default)]
    fields: Vec<ExportedField>,
    tasks: Vec<ExportedTask>,
}

#[derive(Deserialize)]
struct ExportedField {
    id: Uuid,
    name: String,
    kind: FieldKind,
    #[serde(default)]
    options: Vec<ExportedOption>,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
struct ExportedOption {
    id: Uuid,
    name: String,
    color: Option<String>,
}

#[derive(Deserialize)]
struct ExportedProject {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct ExportedTask {
    title: String,
    #[serde(default)]
    description: String,
    status: Option<String>,
    #[serde(default)]
    priority: i64,
    due_date: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
    assignee_id: Option<Uuid>,
    position: Option<String>,
    #[serde(default)]
    fields: Values,
    #[serde(default)]
    comments: Vec<ExportedComment>,
}

#[derive(Deserialize)]
struct ExportedComment {
    author: Option<ExportedAuthor>,
    body: String,
    created_at: String,
}

#[derive(Deserialize)]
struct ExportedAuthor {
    name: String,
}

fn parse_json(bytes: &[u8]) -> Result<ExportDocument, ApiError> {
    let value: serde_json::Result<serde::de::IgnoredAny> = serde_json::from_slice(bytes);
    if let Err(error) = value {
        return Err(ApiError::bad_request(
            ErrorCode::MalformedJson,
            format!("the body is not JSON: {error}"),
        ));
    }
    let document: ExportDocument = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::validation(vec![FieldError::new(
            "",
            "invalid",
            format!("not a Docket export: {error}"),
        )])
    })?;
    if document.format != super::FORMAT
        || document.version == 0
        || document.version > super::VERSION
    {
        return Err(ApiError::validation(vec![FieldError::new(
            "version",
            "unsupported",
            format!(
                "this server reads {} versions 1 to {}",
                super::FORMAT,
                super::VERSION
            ),
        )]));
    }
    Ok(document)
}

fn comment_text(comment: &ExportedComment) -> Result<CommentBody, FieldError> {
    let author = comment
        .author
        .as_ref()
        .map_or("a deleted user", |a| a.name.as_str());
    comment_body(author, &comment.created_at, &comment.body)
}

async fn import_export(
    tx: &Tx,
    access: &ProjectAccess,
    document: ExportDocument,
    progress: &Progress,
) -> Result<(), ApiError> {
    // Keys kept when they are keys in strictly increasing order (an export's are); otherwise
    // the document's order is given fresh keys.
    let keep_keys = document
        .tasks
        .windows(2)
        .all(|w| matches!((&w[0].position, &w[1].position), (Some(a), Some(b)) if a < b))
        && document.tasks.iter().all(|t| {
            t.position
                .as_deref()
                .is_some_and(|k| keys_between(Some(k), None, 1).is_some())
        });
    let fields = FieldMap::create(tx, access, &document.fields).await?;
    let mut rows = Rows::new();
    let mut comments: Vec<Vec<CommentBody>> = Vec::new();
    let mut batch: Vec<(TaskFields, Option<String>)> = Vec::new();
    for (index, task) in document.tasks.into_iter().enumerate() {
        let row = index + 1;
        let mut own = Vec::with_capacity(task.comments.len());
        if task.comments.len() as i64 > quotas::COMMENTS_PER_TASK {
            return Err(quotas::exceeded(
                "comments per task",
                quotas::COMMENTS_PER_TASK,
            ));
        }
        for (c, comment) in task.comments.iter().enumerate() {
            match comment_text(comment) {
                Ok(body) => own.push(body),
                Err(error) => rows.invalid(
                    row,
                    FieldError {
                        field: format!("comments.{c}.body"),
                        ..error
                    },
                ),
            }
        }
        let checked = check_fields(
            &task.title,
            &task.description,
            task.status.as_deref(),
            Ok(task.priority),
            task.due_date.as_deref(),
            &task.labels,
            task.assignee_id.filter(|id| *id == access.user_id()),
        );
        let checked = match (checked, fields.values(&task.fields, access.user_id())) {
            (Ok(mut checked), Ok(values)) => {
                checked.fields = values;
                Ok(checked)
            }
            (checked, values) => Err(checked
                .err()
                .unwrap_or_default()
                .into_iter()
                .chain(values.err().unwrap_or_default())
                .collect::<Vec<_>>()),
        };
        match checked {
            Ok(fields) => {
                rows.count += 1;
                if rows.count as i64 > quotas::TASKS_PER_PROJECT {
                    return Err(quotas::exceeded(
                        "tasks per project",
                        quotas::TASKS_PER_PROJECT,
                    ));
                }
                if rows.errors.total() == 0 {
                    batch.push((fields, task.position.filter(|_| keep_keys)));
                    comments.push(own);
                }
            }
            Err(errors) => errors.into_iter().for_each(|e| rows.invalid(row, e)),
        }
        if batch.len() >= BATCH {
            write_export_batch(tx, access, &mut rows, &mut batch, &mut comments).await?;
            progress.tick();
        }
    }
    write_export_batch(tx, access, &mut rows, &mut batch, &mut comments).await?;
    rows.done()
}

/// The export's fields created in the new project, and how its ids (of fields and options)
/// map onto the new ones.
struct FieldMap {
    /// By the export's field id: the new field and the export's option ids in its order.
    fields: std::collections::HashMap<Uuid, (Field, Vec<Uuid>)>,
}

impl FieldMap {
    /// Creates the fields in the export's order; an invalid definition (named `fields.N.…`)
    /// refuses the whole import.
    async fn create(
        tx: &Tx,
        access: &ProjectAccess,
        exported: &[ExportedField],
    ) -> Result<Self, ApiError> {
        if exported.len() as i64 > quotas::FIELDS_PER_PROJECT {
            return Err(quotas::exceeded("fields", quotas::FIELDS_PER_PROJECT));
        }
        let mut errors = FieldErrors::default();
        let mut parsed = Vec::with_capacity(exported.len());
        for (index, field) in exported.iter().enumerate() {
            let name = FieldName::parse(&format!("fields.{index}.name"), &field.name);
            let inputs: Vec<OptionInput> = field
                .options
                .iter()
                .map(|o| OptionInput {
                    id: None,
                    name: o.name.clone(),
                    color: o.color.clone(),
                })
                .collect();
            let options = crate::fields::parse_options(&inputs, &[]);
            match (name, options) {
                (Ok(name), Ok(options)) => parsed.push((field, name, options)),
                (name, options) => {
                    name.err().into_iter().for_each(|e| errors.push_with(|| e));
                    let options = options.err().map(|e| e.into_parts().0);
                    for e in options.unwrap_or_default() {
                        errors.push_with(|| FieldError {
                            field: format!("fields.{index}.{}", e.field),
                            ..e
                        });
                    }
                }
            }
        }
        if errors.total() > 0 {
            let (listed, count) = errors.into_parts();
            return Err(ApiError::validation_of(listed, count));
        }
        let mut fields = std::collections::HashMap::with_capacity(parsed.len());
        for (exported, name, options) in parsed {
            let options = if exported.kind.has_options() {
                options
            } else {
                Vec::new()
            };
            let created = field_store::insert(
                tx,
                access,
                NewField {
                    name: &name,
                    kind: exported.kind,
                    options: &options,
                    required: exported.required,
                    placement: Placement::Last,
                },
            )
            .await?;
            let old_options = exported.options.iter().map(|o| o.id).collect();
            fields.insert(exported.id, (created, old_options));
        }
        Ok(Self { fields })
    }

    /// A task's values keyed by the new fields, each checked by its kind. A `user` value is
    /// kept only when it is the importer (members are not imported), as for assignees.
    fn values(&self, exported: &Values, importer: Uuid) -> Result<Values, Vec<FieldError>> {
        let mut values = Values::new();
        let mut errors = Vec::new();
        for (key, raw) in exported {
            let named = |error: FieldError| FieldError {
                field: format!("fields.{key}"),
                ..error
            };
            let Some((field, old_options)) =
                key.parse::<Uuid>().ok().and_then(|id| self.fields.get(&id))
            else {
                errors.push(named(FieldError::new(
                    "",
                    "not_found",
                    "no such field in the export's fields",
                )));
                continue;
            };
            let option = |raw: &serde_json::Value| {
                raw.as_str()
                    .and_then(|id| id.parse::<Uuid>().ok())
                    .and_then(|id| old_options.iter().position(|o| *o == id))
                    .map_or(raw.clone(), |index| {
                        field.options()[index].id.to_string().into()
                    })
            };
            let raw = match (field.kind, raw) {
                (FieldKind::Select, raw) => option(raw),
                (FieldKind::MultiSelect, serde_json::Value::Array(items)) => {
                    items.iter().map(option).collect()
                }
                (FieldKind::User, raw) if raw.as_str() != Some(&importer.to_string()) => continue,
                (_, raw) => raw.clone(),
            };
            match values::parse_value(field, &raw) {
                Ok(Some(value)) => {
                    values.insert(field.id.to_string(), value);
                }
                Ok(None) => {}
                Err(error) => errors.push(named(error)),
            }
        }
        if errors.is_empty() {
            Ok(values)
        } else {
            Err(errors)
        }
    }
}

async fn write_export_batch(
    tx: &Tx,
    access: &ProjectAccess,
    rows: &mut Rows,
    batch: &mut Vec<(TaskFields, Option<String>)>,
    comments: &mut Vec<Vec<CommentBody>>,
) -> Result<(), ApiError> {
    if rows.errors.total() > 0 || batch.is_empty() {
        batch.clear();
        comments.clear();
        return Ok(());
    }
    let fresh = keys_between(rows.last_key.as_deref(), None, batch.len())
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no room for manual-order keys")))?;
    let tasks_in: Vec<ImportedTask> = batch
        .drain(..)
        .zip(fresh)
        .map(|((fields, kept), fresh)| ImportedTask {
            fields,
            position: kept.unwrap_or(fresh),
        })
        .collect();
    rows.last_key = tasks_in.last().map(|t| t.position.clone());
    let created = tasks::insert_imported(tx, access, &tasks_in).await?;
    let bodies: Vec<(Uuid, CommentBody)> = created
        .iter()
        .zip(comments.drain(..))
        .flat_map(|(task, own)| own.into_iter().map(move |body| (task.id, body)))
        .collect();
    crate::comments::store::insert_imported(tx, access, &bodies).await?;
    Ok(())
}

//! The custom_fields table. Writers hold the project's row lock
//! (`projects::guard::authorize_locked` or `enter_field_locked`), so a project's fields change
//! one request at a time and positions are simply renumbered (at most 30 rows). Each change is
//! a `project.updated` entry whose `fields` change holds the field before and after. The values
//! tasks hold are the tasks store's (`tasks::store::field_values`).

use std::sync::LazyLock;

use uuid::Uuid;

use super::{Field, FieldKind, FieldName, FieldOption};
use crate::activity::{self, Change, Kind, Record};
use crate::db::{get, DbError, DbResult, Exec, FromRow, Row, Tx};
use crate::params;
use crate::projects::access::{ProjectAccess, Role};
use crate::states::Placement;

impl FromRow for Field {
    fn from_row(row: &Row) -> DbResult<Self> {
        let kind: FieldKind = get(row, "kind")?;
        let options: serde_json::Value = get(row, "options")?;
        let options: Vec<FieldOption> = serde_json::from_value(options).unwrap_or_default();
        Ok(Self {
            id: get(row, "id")?,
            project_id: get(row, "project_id")?,
            name: get(row, "name")?,
            kind,
            options: kind.has_options().then_some(options),
            required: get(row, "required")?,
            position: get(row, "position")?,
        })
    }
}

const FIELD_COLUMNS: &str = "f.id, f.project_id, f.name, f.kind, f.options, f.required, f.position";

/// Why a field could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FieldWriteError {
    #[error("another field of the project has that name")]
    NameTaken,
    #[error("the project holds its quota of fields")]
    QuotaExceeded,
    #[error("after_id is not a field of the project")]
    NoSuchNeighbour,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl crate::error::DomainError for FieldWriteError {
    fn into_api_error(self) -> crate::error::ApiError {
        use crate::error::{ApiError, ErrorCode};
        match self {
            FieldWriteError::NameTaken => ApiError::conflict(
                ErrorCode::Conflict,
                "another field of this project already has that name",
            ),
            FieldWriteError::QuotaExceeded => {
                crate::quotas::exceeded("fields per project", crate::quotas::FIELDS_PER_PROJECT)
            }
            FieldWriteError::NoSuchNeighbour => {
                ApiError::field("after_id", "not_found", "no such field in this project")
            }
            FieldWriteError::Db(error) => error.into(),
        }
    }
}

fn name_taken(error: DbError) -> FieldWriteError {
    if error.unique_violation() == Some("custom_fields_project_name") {
        FieldWriteError::NameTaken
    } else {
        FieldWriteError::Db(error)
    }
}

/// A project's fields, in order.
pub async fn list(db: &impl Exec, project_id: Uuid) -> DbResult<Vec<Field>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {FIELD_COLUMNS} FROM custom_fields f WHERE f.project_id = $1 \
             ORDER BY f.position, f.id"
        )
    });
    db.fetch_all(&SQL, params![project_id]).await
}

/// A field and the caller's role in its project; `None` when there is no such field or the
/// caller is not a member (both 404). Handlers reach it through `projects::guard`.
pub async fn find_visible(
    db: &impl Exec,
    field_id: Uuid,
    user_id: Uuid,
) -> DbResult<Option<(Field, Role)>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {FIELD_COLUMNS}, m.role AS my_role FROM custom_fields f \
             JOIN memberships m ON m.project_id = f.project_id AND m.user_id = $2 \
             WHERE f.id = $1"
        )
    });
    let row = db.query_opt(&SQL, params![field_id, user_id]).await?;
    row.map(|row| Ok((Field::from_row(&row)?, get(&row, "my_role")?)))
        .transpose()
}

/// A field of the project (read under the project's row lock by its writers).
pub async fn find_in(db: &impl Exec, project_id: Uuid, field_id: Uuid) -> DbResult<Option<Field>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {FIELD_COLUMNS} FROM custom_fields f WHERE f.id = $1 AND f.project_id = $2")
    });
    db.fetch_opt(&SQL, params![field_id, project_id]).await
}

/// The order after putting `moved` at `placement` among `fields` (which may hold it already).
fn reordered(fields: &[Field], moved: Uuid, placement: Placement) -> Option<Vec<Uuid>> {
    let mut order: Vec<Uuid> = fields
        .iter()
        .map(|f| f.id)
        .filter(|id| *id != moved)
        .collect();
    let index = match placement {
        Placement::First => 0,
        Placement::Last => order.len(),
        Placement::After(after) => order.iter().position(|id| *id == after)? + 1,
    };
    order.insert(index, moved);
    Some(order)
}

async fn renumber(tx: &Tx, project_id: Uuid, order: Vec<Uuid>) -> DbResult<()> {
    let positions: Vec<i32> = (0..order.len() as i32).collect();
    tx.execute(
        "UPDATE custom_fields f SET position = o.position \
         FROM unnest($2::uuid[], $3::int4[]) AS o(id, position) \
         WHERE f.id = o.id AND f.project_id = $1 AND f.position <> o.position",
        params![project_id, order, positions],
    )
    .await?;
    Ok(())
}

fn record(tx: &Tx, access: &ProjectAccess, before: Option<&Field>, after: Option<&Field>) {
    activity::record(
        tx,
        Record::new(
            Kind::ProjectUpdated,
            access.project_id(),
            Some(access.user_id()),
        )
        .changes(vec![Change::new("fields", before, after)]),
    );
}

fn options_json(options: &[FieldOption]) -> serde_json::Value {
    serde_json::to_value(options).unwrap_or_else(|_| serde_json::json!([]))
}

/// What a new field is.
pub struct NewField<'a> {
    pub name: &'a FieldName,
    pub kind: FieldKind,
    pub options: &'a [FieldOption],
    pub required: bool,
    pub placement: Placement,
}

/// Adds a field to the project `access` entered (its row locked).
pub async fn insert(
    tx: &Tx,
    access: &ProjectAccess,
    new: NewField<'_>,
) -> Result<Field, FieldWriteError> {
    let project_id = access.project_id();
    let fields = list(tx, project_id).await?;
    if fields.len() as i64 >= crate::quotas::FIELDS_PER_PROJECT {
        return Err(FieldWriteError::QuotaExceeded);
    }
    let id = Uuid::now_v7();
    let order = reordered(&fields, id, new.placement).ok_or(FieldWriteError::NoSuchNeighbour)?;
    let position = order.iter().position(|f| *f == id).unwrap_or_default() as i32;
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO custom_fields AS f (id, project_id, name, kind, options, required, \
                 position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {FIELD_COLUMNS}"
        )
    });
    let field: Field = tx
        .fetch_one(
            &SQL,
            params![
                id,
                project_id,
                new.name.as_str(),
                new.kind,
                options_json(new.options),
                new.required,
                position
            ],
        )
        .await
        .map_err(name_taken)?;
    renumber(tx, project_id, order).await?;
    record(tx, access, None, Some(&field));
    Ok(field)
}

/// A change of a field (absent parts stay).
#[derive(Default)]
pub struct FieldChanges {
    pub name: Option<FieldName>,
    pub required: Option<bool>,
    pub options: Option<Vec<FieldOption>>,
    pub placement: Option<Placement>,
}

/// Changes a field (`old`, read under the project's row lock). Values of options it no longer
/// has are the caller's to clear first.
pub async fn update(
    tx: &Tx,
    access: &ProjectAccess,
    old: &Field,
    changes: FieldChanges,
) -> Result<Field, FieldWriteError> {
    let project_id = access.project_id();
    if let Some(placement) = changes.placement {
        let fields = list(tx, project_id).await?;
        let order =
            reordered(&fields, old.id, placement).ok_or(FieldWriteError::NoSuchNeighbour)?;
        renumber(tx, project_id, order).await?;
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE custom_fields AS f SET name = coalesce($2, f.name), \
                 required = coalesce($3, f.required), options = coalesce($4, f.options) \
             WHERE f.id = $1 RETURNING {FIELD_COLUMNS}"
        )
    });
    let field: Field = tx
        .fetch_one(
            &SQL,
            params![
                old.id,
                changes.name.as_ref().map(FieldName::as_str),
                changes.required,
                changes.options.as_deref().map(options_json)
            ],
        )
        .await
        .map_err(name_taken)?;
    if &field != old {
        record(tx, access, Some(old), Some(&field));
    }
    Ok(field)
}

/// Deletes a field whose values the caller cleared, closing the gap in the order.
pub async fn delete(tx: &Tx, access: &ProjectAccess, field: &Field) -> DbResult<()> {
    tx.execute(
        "DELETE FROM custom_fields WHERE id = $1 AND project_id = $2",
        params![field.id, access.project_id()],
    )
    .await?;
    tx.execute(
        "UPDATE custom_fields SET position = position - 1 WHERE project_id = $1 AND position > $2",
        params![access.project_id(), field.position],
    )
    .await?;
    record(tx, access, Some(field), None);
    Ok(())
}

/// Copies the fields of `from` (kinds, options with their ids, required, order) into the
/// project a template copy is made into (API.md §18). Returns the map of every field, and the
/// map of those whose values a copied task keeps (all but `user` fields: members are not
/// copied).
pub async fn copy_for_template(
    tx: &Tx,
    access: &ProjectAccess,
    from: Uuid,
) -> DbResult<(crate::db::IdMap, crate::db::IdMap)> {
    let fields = list(tx, from).await?;
    let all = crate::db::IdMap::fresh(fields.iter().map(|f| f.id).collect());
    tx.execute(
        "INSERT INTO custom_fields (id, project_id, name, kind, options, required, position) \
         SELECT m.new, $1, f.name, f.kind, f.options, f.required, f.position \
         FROM unnest($2::uuid[], $3::uuid[]) AS m(old, new) JOIN custom_fields f ON f.id = m.old",
        params![
            access.project_id(),
            all.old().to_vec(),
            all.new_ids().to_vec()
        ],
    )
    .await?;
    let (old, new): (Vec<Uuid>, Vec<Uuid>) = fields
        .iter()
        .filter(|f| f.kind != FieldKind::User)
        .filter_map(|f| all.get(f.id).map(|new| (f.id, new)))
        .unzip();
    Ok((all, crate::db::IdMap::of(old, new)))
}

//! The states table. Writers hold the project's row lock (`projects::guard::authorize_locked`
//! or `enter_state_locked`), so a project's states change one request at a time and positions
//! can simply be renumbered (a project has at most 50 states). Each change is recorded as a
//! `project.updated` entry whose `states` change holds the state before and after, so that
//! a live board learns of its columns.

use std::sync::LazyLock;

use uuid::Uuid;

use super::{Color, Placement, State, StateName};
use crate::activity::{self, Change, Kind, Record};
use crate::db::{get, DbError, DbResult, Exec, FromRow, Row, Tx};
use crate::params;
use crate::projects::access::{ProjectAccess, Role};
use crate::tasks::domain::Status;

impl FromRow for State {
    fn from_row(row: &Row) -> DbResult<Self> {
        Ok(Self {
            id: get(row, "id")?,
            project_id: get(row, "project_id")?,
            name: get(row, "name")?,
            category: get(row, "category")?,
            color: get(row, "color")?,
            position: get(row, "position")?,
            is_default: get(row, "is_default")?,
        })
    }
}

const STATE_COLUMNS: &str =
    "s.id, s.project_id, s.name, s.category, s.color, s.position, s.is_default";

/// Why a state could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StateWriteError {
    #[error("another state of the project has that name")]
    NameTaken,
    #[error("the project holds its quota of states")]
    QuotaExceeded,
    #[error("after_id is not a state of the project")]
    NoSuchNeighbour,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl crate::error::DomainError for StateWriteError {
    fn into_api_error(self) -> crate::error::ApiError {
        use crate::error::{ApiError, ErrorCode};
        match self {
            StateWriteError::NameTaken => ApiError::conflict(
                ErrorCode::Conflict,
                "another state of this project already has that name",
            ),
            StateWriteError::QuotaExceeded => {
                crate::quotas::exceeded("states per project", crate::quotas::STATES_PER_PROJECT)
            }
            StateWriteError::NoSuchNeighbour => {
                ApiError::field("after_id", "not_found", "no such state in this project")
            }
            StateWriteError::Db(error) => error.into(),
        }
    }
}

/// A unique violation of the names' index is a name taken; anything else stays what it is.
fn name_taken(error: DbError) -> StateWriteError {
    if error.unique_violation() == Some("states_project_name") {
        StateWriteError::NameTaken
    } else {
        StateWriteError::Db(error)
    }
}

/// A project's states, in order.
pub async fn list(db: &impl Exec, project_id: Uuid) -> DbResult<Vec<State>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {STATE_COLUMNS} FROM states s WHERE s.project_id = $1 ORDER BY s.position, s.id")
    });
    db.fetch_all(&SQL, params![project_id]).await
}

/// A state and the caller's role in its project; `None` when there is no such state or the
/// caller is not a member (both 404). Handlers reach it through `projects::guard`.
pub async fn find_visible(
    db: &impl Exec,
    state_id: Uuid,
    user_id: Uuid,
) -> DbResult<Option<(State, Role)>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {STATE_COLUMNS}, m.role AS my_role FROM states s \
             JOIN memberships m ON m.project_id = s.project_id AND m.user_id = $2 \
             WHERE s.id = $1"
        )
    });
    let row = db.query_opt(&SQL, params![state_id, user_id]).await?;
    row.map(|row| Ok((State::from_row(&row)?, get(&row, "my_role")?)))
        .transpose()
}

/// How long a read keeps the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Not at all.
    No,
    /// `FOR SHARE` until the transaction ends: a task write naming the state, which its
    /// deletion must wait for.
    Share,
    /// `FOR UPDATE`: a change of the state itself, which waits for those task writes.
    Update,
}

/// A state of the project, if `state_id` is one.
pub async fn find_in(
    db: &impl Exec,
    project_id: Uuid,
    state_id: Uuid,
    hold: Hold,
) -> DbResult<Option<State>> {
    static SQL: LazyLock<[String; 3]> = LazyLock::new(|| {
        let sql =
            format!("SELECT {STATE_COLUMNS} FROM states s WHERE s.id = $1 AND s.project_id = $2");
        [
            sql.clone(),
            format!("{sql} FOR SHARE"),
            format!("{sql} FOR UPDATE"),
        ]
    });
    let sql = &SQL[match hold {
        Hold::No => 0,
        Hold::Share => 1,
        Hold::Update => 2,
    }];
    db.fetch_opt(sql, params![state_id, project_id]).await
}

/// The order after putting `moved` at `placement` among `states` (which may hold it already).
fn reordered(states: &[State], moved: Uuid, placement: Placement) -> Option<Vec<Uuid>> {
    let mut order: Vec<Uuid> = states
        .iter()
        .map(|s| s.id)
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

/// Writes positions 0, 1, 2 … in `order` (only those that change).
async fn renumber(tx: &Tx, project_id: Uuid, order: Vec<Uuid>) -> DbResult<()> {
    let positions: Vec<i32> = (0..order.len() as i32).collect();
    tx.execute(
        "UPDATE states s SET position = o.position \
         FROM unnest($2::uuid[], $3::int4[]) AS o(id, position) \
         WHERE s.id = o.id AND s.project_id = $1 AND s.position <> o.position",
        params![project_id, order, positions],
    )
    .await?;
    Ok(())
}

fn record(tx: &Tx, access: &ProjectAccess, before: Option<&State>, after: Option<&State>) {
    activity::record(
        tx,
        Record::new(
            Kind::ProjectUpdated,
            access.project_id(),
            Some(access.user_id()),
        )
        .changes(vec![Change::new("states", before, after)]),
    );
}

/// What a new state is.
pub struct NewState<'a> {
    pub name: &'a StateName,
    pub category: Status,
    pub color: &'a Color,
    pub placement: Placement,
}

/// Adds a state to the project `access` entered (its row locked).
pub async fn insert(
    tx: &Tx,
    access: &ProjectAccess,
    new: NewState<'_>,
) -> Result<State, StateWriteError> {
    let project_id = access.project_id();
    let states = list(tx, project_id).await?;
    if states.len() as i64 >= crate::quotas::STATES_PER_PROJECT {
        return Err(StateWriteError::QuotaExceeded);
    }
    let id = Uuid::now_v7();
    let order = reordered(&states, id, new.placement).ok_or(StateWriteError::NoSuchNeighbour)?;
    let position = order.iter().position(|s| *s == id).unwrap_or_default() as i32;
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO states AS s (id, project_id, name, category, color, position) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {STATE_COLUMNS}"
        )
    });
    let state: State = tx
        .fetch_one(
            &SQL,
            params![
                id,
                project_id,
                new.name.as_str(),
                new.category,
                new.color.as_str(),
                position
            ],
        )
        .await
        .map_err(name_taken)?;
    renumber(tx, project_id, order).await?;
    record(tx, access, None, Some(&state));
    Ok(state)
}

/// A change of a state (absent fields stay).
#[derive(Default)]
pub struct StateChanges {
    pub name: Option<StateName>,
    pub color: Option<Color>,
    /// The category's default moves to this state.
    pub make_default: bool,
    pub placement: Option<Placement>,
}

/// Changes a state (`old`, read under the project's row lock).
pub async fn update(
    tx: &Tx,
    access: &ProjectAccess,
    old: &State,
    changes: StateChanges,
) -> Result<State, StateWriteError> {
    let project_id = access.project_id();
    if let Some(placement) = changes.placement {
        let states = list(tx, project_id).await?;
        let order =
            reordered(&states, old.id, placement).ok_or(StateWriteError::NoSuchNeighbour)?;
        renumber(tx, project_id, order).await?;
    }
    if changes.make_default && !old.is_default {
        // Two statements: at most one default at any moment (a unique index); the constraint
        // trigger checks at commit that the category has one.
        tx.execute(
            "UPDATE states SET is_default = false \
             WHERE project_id = $1 AND category = $2 AND is_default",
            params![project_id, old.category],
        )
        .await?;
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE states AS s SET name = coalesce($2, s.name), color = coalesce($3, s.color), \
                 is_default = s.is_default OR $4 \
             WHERE s.id = $1 RETURNING {STATE_COLUMNS}"
        )
    });
    let state: State = tx
        .fetch_one(
            &SQL,
            params![
                old.id,
                changes.name.as_ref().map(StateName::as_str),
                changes.color.as_ref().map(Color::as_str),
                changes.make_default
            ],
        )
        .await
        .map_err(name_taken)?;
    if &state != old {
        record(tx, access, Some(old), Some(&state));
    }
    Ok(state)
}

/// Deletes a state that no task is in any more (the caller moved them), closing the gap in
/// the order.
pub async fn delete(tx: &Tx, access: &ProjectAccess, state: &State) -> DbResult<()> {
    tx.execute(
        "DELETE FROM states WHERE id = $1 AND project_id = $2",
        params![state.id, access.project_id()],
    )
    .await?;
    tx.execute(
        "UPDATE states SET position = position - 1 WHERE project_id = $1 AND position > $2",
        params![access.project_id(), state.position],
    )
    .await?;
    record(tx, access, Some(state), None);
    Ok(())
}

/// A state an import makes.
pub struct ImportedState {
    pub name: StateName,
    pub category: Status,
    pub color: Color,
    pub is_default: bool,
}

/// Replaces the workflow of a project an import has just created (no task is in it yet) by
/// `states`, in this order; each category must have exactly one default among them (checked
/// at commit by the database, like every change of defaults).
pub async fn replace_for_import(
    tx: &Tx,
    access: &ProjectAccess,
    states: &[ImportedState],
) -> DbResult<Vec<State>> {
    let project_id = access.project_id();
    tx.execute(
        "DELETE FROM states WHERE project_id = $1",
        params![project_id],
    )
    .await?;
    let ids: Vec<Uuid> = states.iter().map(|_| Uuid::now_v7()).collect();
    let names: Vec<&str> = states.iter().map(|s| s.name.as_str()).collect();
    let categories: Vec<&str> = states.iter().map(|s| s.category.as_str()).collect();
    let colors: Vec<&str> = states.iter().map(|s| s.color.as_str()).collect();
    let defaults: Vec<String> = states.iter().map(|s| s.is_default.to_string()).collect();
    tx.execute(
        "INSERT INTO states (id, project_id, name, category, color, position, is_default) \
         SELECT k.id, $1, k.name, k.category, k.color, k.n - 1, k.is_default::boolean \
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[]) \
             WITH ORDINALITY AS k(id, name, category, color, is_default, n)",
        params![project_id, ids, names, categories, colors, defaults],
    )
    .await?;
    list(tx, project_id).await
}

/// The states of a project a copy is made into (API.md §18 templates), as a map from each
/// state of `from`: with `copy`, the new project's four default states are replaced by copies
/// of `from`'s (names, categories, colours, order, defaults); without, each state of `from`
/// maps to the new project's default state of its category (where its tasks go).
pub async fn copy_for_template(
    tx: &Tx,
    access: &ProjectAccess,
    from: Uuid,
    copy: bool,
) -> DbResult<crate::db::IdMap> {
    let project_id = access.project_id();
    if !copy {
        let rows = tx
            .query(
                "SELECT s.id AS old, d.id AS new FROM states s \
                 JOIN states d ON d.project_id = $2 AND d.category = s.category AND d.is_default \
                 WHERE s.project_id = $1 ORDER BY s.position",
                params![from, project_id],
            )
            .await?;
        let old = rows
            .iter()
            .map(|r| get(r, "old"))
            .collect::<DbResult<_>>()?;
        let new = rows
            .iter()
            .map(|r| get(r, "new"))
            .collect::<DbResult<_>>()?;
        return Ok(crate::db::IdMap::of(old, new));
    }
    let rows = tx
        .query(
            "SELECT id FROM states WHERE project_id = $1 ORDER BY position",
            params![from],
        )
        .await?;
    let map = crate::db::IdMap::fresh(rows.iter().map(|r| get(r, "id")).collect::<DbResult<_>>()?);
    // Each category keeps a default: checked at commit, when the copies are in.
    tx.execute(
        "DELETE FROM states WHERE project_id = $1",
        params![project_id],
    )
    .await?;
    tx.execute(
        "INSERT INTO states (id, project_id, name, category, color, position, is_default) \
         SELECT m.new, $1, s.name, s.category, s.color, s.position, s.is_default \
         FROM unnest($2::uuid[], $3::uuid[]) AS m(old, new) JOIN states s ON s.id = m.old",
        params![project_id, map.old().to_vec(), map.new_ids().to_vec()],
    )
    .await?;
    Ok(map)
}

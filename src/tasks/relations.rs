//! Relation endpoints (API.md §17): a task's relations to tasks the caller can see, making one
//! (editor of the task's project, at least a viewer of the other task's) and removing one
//! (either side). The statements are `store::relations`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::store::blockers;
use super::store::relations::{self, End, Relation, RelationKind, Sides, Stored};
use crate::auth::principal::Principal;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::extract::{Json, Path};
use crate::projects::access::Action;
use crate::projects::guard;

/// A task's relations.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RelationList {
    pub items: Vec<Relation>,
}

/// The relations of a task, oldest first; those to tasks the caller cannot see are left out.
#[utoipa::path(get, path = "/api/v1/tasks/{id}/relations", tag = "tasks",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RelationList)),
    security(("bearer" = []), ("session" = [])))]
pub async fn list_relations(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<axum::Json<RelationList>, ApiError> {
    guard::enter_task(&db.reads(), &principal, id, Action::Read).await?;
    let items = relations::list(&db, id, principal.id()).await?;
    Ok(axum::Json(RelationList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRelationRequest {
    /// How the task in the path relates to `task_id` (`blocked_by`, `duplicated_by`: the same
    /// record as `blocks`, `duplicates` the other way round).
    pub kind: RelationKind,
    /// Another task the caller can see, in any project.
    pub task_id: Uuid,
}

/// Relate a task to another (editor in the task's project, at least a viewer of the other's).
/// A `blocks` relation may not close a cycle; two tasks have at most one relation.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/relations", tag = "tasks",
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")),
    request_body = CreateRelationRequest,
    responses((status = 201, body = Relation,
        links(
            ("DeleteRelation" = (operation_id = "delete_relation",
                parameters(("id" = "$request.path.id"), ("relation_id" = "$response.body#/id")))),
        ))),
    security(("bearer" = []), ("session" = [])))]
pub async fn create_relation(
    State(db): State<Db>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<CreateRelationRequest>,
) -> Result<Response, ApiError> {
    let tx = db.begin().await?;
    let (task, _) = guard::enter_task(&tx, &principal, id, Action::EditTasks).await?;
    if body.task_id == id {
        return Err(ApiError::field(
            "task_id",
            "invalid_value",
            "must be another task",
        ));
    }
    let other = visible_other(&tx, &principal, body.task_id).await?;
    let (kind, reversed) = body.kind.stored();
    let this = End {
        task_id: task.id,
        project_id: task.project_id,
    };
    let that = End {
        task_id: other.id,
        project_id: other.project_id,
    };
    let (source, target) = if reversed { (that, this) } else { (this, that) };
    if kind == Stored::Blocks {
        relations::lock_blocks_graph(&tx).await?;
    }
    relations::lock_ends(&tx, source.task_id, target.task_id).await?;
    check_room(&tx, kind, source, target).await?;
    let (edge, created_at) = relations::insert(&tx, principal.id(), kind, source, target)
        .await?
        .ok_or_else(already_related)?;
    // The target became blocked if this is its first open blocker.
    let flipped = edge.counted && open_blockers(&tx, target.task_id).await? == 1;
    relations::record(
        &tx,
        Some(principal.id()),
        &edge,
        true,
        Sides {
            source: true,
            target: true,
            flipped,
        },
    );
    tx.commit().await?;
    let relation = Relation {
        id: edge.id,
        kind: body.kind,
        task: relations::RelatedTask {
            id: other.id,
            project_id: other.project_id,
            number: other.number,
            title: other.title,
            status: other.status,
        },
        created_at,
        created_by: Some(principal.id()),
    };
    Ok((StatusCode::CREATED, axum::Json(relation)).into_response())
}

/// The other task of a new relation, if the caller can see it: one they cannot is not named
/// back to them (a field error, as for no such task, never a 404 of its own).
async fn visible_other(
    tx: &crate::db::Tx,
    principal: &Principal,
    task_id: Uuid,
) -> Result<super::store::Task, ApiError> {
    match guard::enter_task(tx, principal, task_id, Action::Read).await {
        Ok((other, _)) => Ok(other),
        Err(error) if error.status == StatusCode::NOT_FOUND => Err(ApiError::field(
            "task_id",
            "not_found",
            "no such task among those you can see",
        )),
        Err(error) => Err(error),
    }
}

/// Whether `source` `kind` `target` may be added, the two tasks locked: not related yet, both
/// within the quota, and no circle of `blocks`.
async fn check_room(
    tx: &crate::db::Tx,
    kind: Stored,
    source: End,
    target: End,
) -> Result<(), ApiError> {
    if relations::exists_between(tx, source.task_id, target.task_id).await? {
        return Err(already_related());
    }
    for end in [source, target] {
        if relations::count_of(tx, end.task_id).await? >= crate::quotas::RELATIONS_PER_TASK {
            return Err(crate::quotas::exceeded(
                "relations per task",
                crate::quotas::RELATIONS_PER_TASK,
            ));
        }
    }
    if kind == Stored::Blocks && relations::would_cycle(tx, source.task_id, target.task_id).await? {
        return Err(ApiError::validation(vec![FieldError::new(
            "task_id",
            "cycle",
            "the other task already waits, through other tasks, on this one",
        )]));
    }
    Ok(())
}

fn already_related() -> ApiError {
    ApiError::conflict(
        ErrorCode::Conflict,
        "the two tasks are related already (a pair of tasks has one relation)",
    )
}

async fn open_blockers(tx: &crate::db::Tx, task: Uuid) -> Result<i16, ApiError> {
    Ok(blockers::open_blockers(tx, &[task])
        .await?
        .first()
        .map_or(0, |(_, n)| *n))
}

/// Remove a relation (editor in the project of the task in the path; either side may).
#[utoipa::path(delete, path = "/api/v1/tasks/{id}/relations/{relation_id}", tag = "tasks",
    params(("id" = Uuid, Path), ("relation_id" = Uuid, Path)),
    responses((status = 204, description = "Removed")),
    security(("bearer" = []), ("session" = [])))]
pub async fn delete_relation(
    State(db): State<Db>,
    principal: Principal,
    Path((id, relation_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let tx = db.begin().await?;
    guard::enter_task(&tx, &principal, id, Action::EditTasks).await?;
    // Only a relation the caller can see from this task (its other task visible to them).
    relations::find(&tx, id, relation_id, principal.id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let edge = relations::edge(&tx, relation_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    relations::lock_ends(&tx, edge.source.task_id, edge.target.task_id).await?;
    // Read again under the locks: what it counts is what the trigger will take back.
    let edge = relations::edge(&tx, relation_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !relations::delete(&tx, relation_id).await? {
        return Err(ApiError::not_found());
    }
    let flipped = edge.counted && open_blockers(&tx, edge.target.task_id).await? == 0;
    relations::record(
        &tx,
        Some(principal.id()),
        &edge,
        false,
        Sides {
            source: true,
            target: true,
            flipped,
        },
    );
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

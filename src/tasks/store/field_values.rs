//! What a change of a project's field definitions does to its tasks' values (`tasks.fields`):
//! a deleted field's values and a removed option's are cleared. Each cleared task gets a new
//! version (its body changed), without a history entry of its own: the field's change is the
//! project's (`project.updated`, `fields`).

use uuid::Uuid;

use crate::db::{get, DbResult, Exec, Tx};
use crate::params;

/// Whether any task of the project holds one of `options` in the field `field_id`.
pub async fn options_in_use(
    db: &impl Exec,
    project_id: Uuid,
    field_id: Uuid,
    options: &[Uuid],
) -> DbResult<bool> {
    let options: Vec<String> = options.iter().map(Uuid::to_string).collect();
    // `?|` matches a string value as well as the elements of an array.
    let row = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE project_id = $1 \
                 AND fields -> $2::text ?| $3::text[]) AS used",
            params![project_id, field_id.to_string(), options],
        )
        .await?;
    get(&row, "used")
}

/// Clears the values of the field `field_id` in the project's tasks: all of them, or (with
/// `options`) those options only (a `multi_select` keeps its other options). Returns how many
/// tasks changed.
pub async fn clear(
    tx: &Tx,
    project_id: Uuid,
    field_id: Uuid,
    options: Option<&[Uuid]>,
) -> DbResult<u64> {
    let key = field_id.to_string();
    match options {
        None => {
            tx.execute(
                "UPDATE tasks SET fields = fields - $2::text, version = version + 1, \
                     updated_at = now() \
                 WHERE project_id = $1 AND fields ? $2::text",
                params![project_id, key],
            )
            .await
        }
        Some(options) => {
            let options: Vec<String> = options.iter().map(Uuid::to_string).collect();
            tx.execute(
                "UPDATE tasks t SET fields = CASE WHEN k.kept IS NULL THEN t.fields - $2::text \
                     ELSE jsonb_set(t.fields, ARRAY[$2::text], k.kept) END, \
                     version = t.version + 1, updated_at = now() \
                 FROM tasks s CROSS JOIN LATERAL ( \
                     SELECT jsonb_agg(e ORDER BY o) AS kept \
                     FROM jsonb_array_elements( \
                         CASE jsonb_typeof(s.fields -> $2::text) WHEN 'array' \
                         THEN s.fields -> $2::text ELSE '[]'::jsonb END) WITH ORDINALITY AS x(e, o) \
                     WHERE NOT (e #>> '{}' = ANY($3::text[]))) k \
                 WHERE t.id = s.id AND s.project_id = $1 AND s.fields -> $2::text ?| $3::text[]",
                params![project_id, key, options],
            )
            .await
        }
    }
}

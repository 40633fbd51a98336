//! The notifications table.

use uuid::Uuid;

use super::Notify;
use crate::db::{DbResult, Exec, Tx};
use crate::params;

/// Creates a notification in the transaction of its cause; a second one for the same user and
/// cause is dropped. Nobody is notified of what they did themselves.
pub async fn notify(tx: &Tx, notify: &Notify) -> DbResult<()> {
    if notify.actor_id == Some(notify.user_id) {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO notifications (id, user_id, kind, task_id, actor_id, comment_id, cause) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, cause) DO NOTHING",
        params![
            Uuid::now_v7(),
            notify.user_id,
            notify.kind,
            notify.task_id,
            notify.actor_id,
            notify.comment_id,
            notify.cause
        ],
    )
    .await?;
    Ok(())
}

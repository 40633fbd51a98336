//! The domain's jobs (kinds in `jobs::JobKind`, run by the server's table `server/jobs.rs`):
//! a thumbnail per image, the purge of files whose rows are gone (after the deleting
//! transaction committed: the rows' delete trigger fills `attachment_garbage`, whatever
//! deleted them — the attachment itself, or its comment, task or project), and the sweep of
//! uploads a crash left unfinished.

use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use super::storage::{file_key, thumbnail_key, StorageError};
use super::{sniff, store, thumbnails, Attachments};
use crate::db::{Db, DbError, Exec};
use crate::jobs::queue::{self, Job};
use crate::jobs::{JobKey, JobKind, Outcome};

/// Rows handled per batch by the purge and the sweep.
const BATCH: i64 = 100;
const RETRY: Duration = Duration::from_secs(30);

/// Queues the thumbnail of a new image (in the upload's transaction: it runs after commit).
pub async fn enqueue_thumbnail(db: &impl Exec, id: Uuid) -> Result<(), DbError> {
    queue::enqueue(
        db,
        JobKind::AttachmentThumbnail,
        json!({ "id": id }),
        &JobKey::attachment_thumbnail(id),
        3,
    )
    .await?;
    Ok(())
}

/// Queues the purge now (after a deletion whose transaction is about to commit).
pub async fn enqueue_purge(db: &impl Exec) -> Result<(), DbError> {
    queue::enqueue(
        db,
        JobKind::AttachmentPurge,
        json!({}),
        &JobKey::attachment_purge(),
        10,
    )
    .await?;
    Ok(())
}

/// What the scheduler remembers between its rounds.
#[derive(Default)]
pub struct Schedule {
    last_sweep: Option<Instant>,
}

/// Called every few seconds by the job worker: a purge when files wait to be removed (a
/// cascade from a task, comment or project), and the sweep every `sweep_every`.
pub async fn schedule(attachments: &Attachments, schedule: &mut Schedule) {
    let db = &attachments.db;
    match store::has_garbage(db).await {
        Ok(true) => {
            if let Err(error) = enqueue_purge(db).await {
                tracing::warn!(error = %error, "could not schedule the attachment purge");
            }
        }
        Ok(false) => {}
        Err(error) => tracing::warn!(error = %error, "could not look for attachment garbage"),
    }
    let due = schedule
        .last_sweep
        .is_none_or(|at| at.elapsed() >= attachments.tuning.sweep_every);
    if due {
        let added = queue::enqueue(
            db,
            JobKind::AttachmentSweep,
            json!({}),
            &JobKey::attachment_sweep(),
            3,
        )
        .await;
        match added {
            Ok(_) => schedule.last_sweep = Some(Instant::now()),
            Err(error) => tracing::warn!(error = %error, "could not schedule the upload sweep"),
        }
    }
}

fn retry(what: &str, error: impl std::fmt::Display) -> Outcome {
    Outcome::Retry(RETRY, format!("{what}: {error}"))
}

/// Makes the thumbnail of one image.
pub async fn run_thumbnail(attachments: &Attachments, job: &Job) -> Outcome {
    let Some(id) = job.payload["id"]
        .as_str()
        .and_then(|s| s.parse::<Uuid>().ok())
    else {
        return Outcome::Fatal("the payload has no attachment id".into());
    };
    let attachment = match store::find(&attachments.db, id).await {
        Ok(Some(attachment)) => attachment,
        Ok(None) => return Outcome::Done,
        Err(error) => return retry("reading the attachment", error),
    };
    if !sniff::thumbnailed(&attachment.content_type) {
        return Outcome::Done;
    }
    let store = match attachments.store_of(&attachment.store) {
        Ok(store) => store,
        Err(error) => return retry("opening its storage", error),
    };
    let bytes = match store
        .read_all(
            &file_key(id),
            attachments.max_bytes.max(attachment.size as u64),
        )
        .await
    {
        Ok(bytes) => bytes,
        Err(StorageError::NotFound) => return Outcome::Done,
        Err(error) => return retry("reading the image", error),
    };
    let made = tokio::task::spawn_blocking(move || thumbnails::make(&bytes)).await;
    let png = match made {
        Ok(Ok(png)) => png,
        // A bomb, or not really an image: no thumbnail, and no second try.
        Ok(Err(refused)) => return Outcome::Fatal(format!("no thumbnail: {refused}")),
        Err(panic) => return Outcome::Fatal(format!("the decoder failed: {panic}")),
    };
    if let Err(error) = store.put(&thumbnail_key(id), png.into()).await {
        return retry("storing the thumbnail", error);
    }
    match store::set_thumbnail(&attachments.db, id, &attachment.store).await {
        Ok(true) => Outcome::Done,
        Ok(false) => {
            // Deleted, or moved to another store meanwhile: this copy is nobody's.
            let _ = store.delete(&thumbnail_key(id)).await;
            match store::find(&attachments.db, id).await {
                Ok(Some(_)) => retry("the attachment moved", "make it again"),
                _ => Outcome::Done,
            }
        }
        Err(error) => retry("marking the thumbnail", error),
    }
}

/// Removes the files of deleted rows.
pub async fn run_purge(attachments: &Attachments, _job: &Job) -> Outcome {
    let db = &attachments.db;
    loop {
        let batch = match store::garbage(db, BATCH).await {
            Ok(batch) => batch,
            Err(error) => return retry("reading the garbage", error),
        };
        if batch.is_empty() {
            return Outcome::Done;
        }
        for garbage in batch {
            if let Err(error) = remove_files(attachments, &garbage.store, garbage.id).await {
                return retry("removing a file", error);
            }
            if let Err(error) = store::forget_garbage(db, garbage.id).await {
                return retry("forgetting a removed file", error);
            }
        }
    }
}

async fn remove_files(
    attachments: &Attachments,
    store: &str,
    id: Uuid,
) -> Result<(), StorageError> {
    let store = attachments.store_of(store)?;
    store.delete(&file_key(id)).await?;
    store.delete(&thumbnail_key(id)).await
}

/// Removes what uploads that never finished left behind (their process died or was cut off).
pub async fn run_sweep(attachments: &Attachments, _job: &Job) -> Outcome {
    match sweep(attachments, &attachments.db).await {
        Ok(removed) => {
            if removed > 0 {
                tracing::info!(removed, "removed unfinished uploads");
            }
            Outcome::Done
        }
        Err(error) => retry("sweeping unfinished uploads", error),
    }
}

/// The sweep itself; the number of uploads cleaned up.
pub async fn sweep(attachments: &Attachments, db: &Db) -> anyhow::Result<usize> {
    let mut removed = 0;
    loop {
        let orphans = store::orphans(db, attachments.tuning.orphan_after, BATCH).await?;
        if orphans.is_empty() {
            return Ok(removed);
        }
        for orphan in orphans {
            let storage = attachments.store_of(&orphan.store)?;
            let key = file_key(orphan.id);
            storage
                .discard_unfinished(&key, orphan.multipart.as_deref())
                .await?;
            // A migration's copy uses the row's id: never remove a file a row points at.
            let owned = store::find(db, orphan.id)
                .await?
                .is_some_and(|row| row.store == orphan.store);
            if !owned {
                storage.delete(&key).await?;
            }
            store::end_upload(db, orphan.id).await?;
            removed += 1;
        }
    }
}

//! `docket storage migrate --to URL`: copies every attachment to another storage while servers
//! keep running, and switches them to it.
//!
//! 1. The switch comes first: from then on new uploads go to the target (`begin_upload` reads
//!    the current store and records the upload in one statement).
//! 2. Every row whose file is elsewhere is copied (checked against its SHA-256 on the way),
//!    with its thumbnail, and then pointed at the copy — only if it is still there and still
//!    where it was, so a row deleted meanwhile leaves no copy behind.
//! 3. Passes repeat until no row points elsewhere and no upload into another store is under
//!    way (those commit rows in the old store after the switch).
//!
//! Stopped at any point, it can be run again: it continues with what is not yet moved. The
//! files stay in the old store too (nothing is deleted there); remove it once satisfied.

use std::time::Duration;

use futures::StreamExt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::storage::{file_key, thumbnail_key, StorageError, Store};
use super::store::{self, ToMove};
use super::Attachments;
use crate::config::StorageUrl;
use crate::db::Db;

/// What a migration did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub copied: u64,
    pub bytes: u64,
    /// Rows deleted while their file was being copied.
    pub vanished: u64,
}

/// Copies everything to `target` and switches to it. `progress` hears a line now and then.
pub async fn run(
    attachments: &Attachments,
    db: &Db,
    target: &StorageUrl,
    progress: &mut dyn FnMut(String),
) -> anyhow::Result<Summary> {
    let to = attachments.storage.open(target)?;
    to.probe()
        .await
        .map_err(|e| anyhow::anyhow!("cannot write to {target}: {e}"))?;
    let target_name = target.to_string();
    store::set_current_store(db, &target_name).await?;
    progress(format!("new attachments now go to {target}"));
    let mut summary = Summary::default();
    loop {
        let mut after: Option<Uuid> = None;
        loop {
            let batch = store::not_in(db, &target_name, after, 100).await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = Some(last.id);
            for row in batch {
                copy_one(attachments, db, &to, &row, &mut summary).await?;
            }
            progress(format!(
                "copied {} files ({} bytes)",
                summary.copied, summary.bytes
            ));
        }
        let left = store::count_not_in(db, &target_name).await?;
        let in_flight =
            store::uploads_elsewhere(db, &target_name, attachments.tuning.orphan_after).await?;
        if left == 0 && in_flight == 0 {
            break;
        }
        if left == 0 {
            // Uploads that began before the switch finish into the old store: wait for them.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    progress(format!(
        "done: {} files ({} bytes) are in {target}; the old storage was left as it was",
        summary.copied, summary.bytes
    ));
    Ok(summary)
}

async fn copy_one(
    attachments: &Attachments,
    db: &Db,
    to: &Store,
    row: &ToMove,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let from = attachments.store_of(&row.store)?;
    let target = to.url().to_string();
    store::begin_copy(db, row.id, &target).await?;
    let copied = copy_file(db, row, &from, to).await;
    match copied {
        Ok(()) => {}
        Err(StorageError::NotFound) => {
            // Deleted since it was listed (its garbage is purged from the old store).
            store::end_upload(db, row.id).await?;
            summary.vanished += 1;
            return Ok(());
        }
        Err(error) => {
            to.discard_unfinished(&file_key(row.id), None).await.ok();
            store::end_upload(db, row.id).await?;
            anyhow::bail!("copying attachment {}: {error}", row.id);
        }
    }
    if row.thumbnail {
        match from
            .read_all(&thumbnail_key(row.id), 16 * 1024 * 1024)
            .await
        {
            Ok(bytes) => to.put(&thumbnail_key(row.id), bytes.into()).await?,
            Err(StorageError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let tx = db.begin().await?;
    let moved = store::moved(&tx, row.id, &row.store, &target).await?;
    store::end_upload(&tx, row.id).await?;
    tx.commit().await?;
    if moved {
        summary.copied += 1;
        summary.bytes += row.size as u64;
    } else {
        // Deleted (or moved by another run) while being copied: the copy is nobody's.
        to.delete(&file_key(row.id)).await?;
        to.delete(&thumbnail_key(row.id)).await?;
        summary.vanished += 1;
    }
    Ok(())
}

/// Streams one file from `from` to `to`, refusing a copy whose SHA-256 is not the row's.
async fn copy_file(db: &Db, row: &ToMove, from: &Store, to: &Store) -> Result<(), StorageError> {
    let key = &file_key(row.id);
    let mut read = from.read(key, None).await?;
    let mut upload = to.begin(key).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = read.body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                upload.abort().await;
                return Err(error);
            }
        };
        hasher.update(&chunk);
        match upload.write(chunk).await {
            Ok(Some(multipart)) => {
                if let Err(error) = store::record_multipart(db, row.id, &multipart).await {
                    upload.abort().await;
                    return Err(StorageError::Other(error.to_string()));
                }
            }
            Ok(None) => {}
            Err(error) => {
                upload.abort().await;
                return Err(error);
            }
        }
    }
    if hasher.finalize().as_slice() != row.sha256.as_slice() {
        upload.abort().await;
        return Err(StorageError::Other(format!(
            "{key} in {} does not match its SHA-256",
            from.url()
        )));
    }
    upload.finish().await
}

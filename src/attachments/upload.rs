//! Receiving a file: the request body goes to storage as it arrives (never whole in memory),
//! hashed and counted on the way, refused as soon as it passes the size limit or the room the
//! project's quota leaves. Nothing is visible until the row is written (`store::insert`); an
//! upload that fails removes what it wrote, and one whose process died is the sweep's.

use axum::body::Body;
use axum::http::StatusCode;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::sniff;
use super::storage::{file_key, Store, Upload};
use super::store;
use super::Attachments;
use crate::db::Db;
use crate::error::{ApiError, ErrorCode};
use crate::http::middleware::RequestContext;

/// A file complete in storage, waiting for its row.
pub struct Received {
    pub id: Uuid,
    pub store: Store,
    pub size: u64,
    pub sha256: [u8; 32],
    pub content_type: &'static str,
}

impl Received {
    /// Removes the file (its row was not written) and forgets the upload.
    pub async fn discard(self, db: &Db) {
        if let Err(error) = self.store.delete(&file_key(self.id)).await {
            tracing::warn!(error = %error, id = %self.id, "could not remove an unused upload; the sweep will");
            return;
        }
        if let Err(error) = store::end_upload(db, self.id).await {
            tracing::warn!(error = %error, "could not forget an upload");
        }
    }
}

/// What an upload may hold: the instance's size limit, and the quota's room.
#[derive(Debug, Clone, Copy)]
pub struct Room {
    pub max_bytes: u64,
    pub quota: u64,
    /// Bytes the project may still take.
    pub quota_left: u64,
    /// The body's `Content-Length`, when it has one.
    pub declared: Option<u64>,
}

pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge)
        .detail(format!("an attachment may be at most {limit} bytes"))
}

pub fn over_quota(limit: u64) -> ApiError {
    super::store::AttachmentWriteError::QuotaExceeded { limit }.into()
}

/// Streams `body` into a new file of the current store.
pub async fn receive(
    attachments: &Attachments,
    db: &Db,
    body: Body,
    room: Room,
    context: Option<&RequestContext>,
) -> Result<Received, ApiError> {
    let id = Uuid::now_v7();
    let name = store::begin_upload(db, id, &attachments.configured.to_string()).await?;
    let store = match attachments.store_of(&name) {
        Ok(store) => store,
        Err(error) => {
            let _ = store::end_upload(db, id).await;
            return Err(error.into());
        }
    };
    // A local store shares its disk with the data dir (and the embedded database): an upload
    // that would leave less than the reserve is refused before a byte is written.
    if let Some(free) = store.free_bytes() {
        let needed = room.declared.unwrap_or(0) + attachments.tuning.free_reserve;
        if free < needed {
            let _ = store::end_upload(db, id).await;
            return Err(ApiError::storage_full(
                "the server's disk is nearly full; nothing was stored",
            ));
        }
    }
    let upload = match store.begin(&file_key(id)).await {
        Ok(upload) => upload,
        Err(error) => {
            let _ = store::end_upload(db, id).await;
            return Err(error.into());
        }
    };
    let limit = attachments.tuning.upload_limit;
    // Until the file is complete, a request dropped mid-way (its deadline passed, the server
    // is stopping) cleans up after itself.
    let mut pending = Pending {
        db: db.clone(),
        store: store.clone(),
        id,
        armed: true,
    };
    let written = tokio::time::timeout(limit, write(db, id, upload, body, room, context)).await;
    pending.armed = false;
    let outcome = match written {
        Ok(outcome) => outcome,
        Err(_) => Err(Failure::Refused(ApiError::unavailable(format!(
            "an upload may take at most {} s",
            limit.as_secs()
        )))),
    };
    match outcome {
        Ok(file) => Ok(Received {
            id,
            store,
            size: file.size,
            sha256: file.sha256,
            content_type: sniff::content_type(&file.head),
        }),
        Err(failure) => {
            // The upload removed what it wrote (or its drop will); an S3 multipart left by a
            // timeout is aborted by the sweep, which the row still points at.
            if !matches!(failure, Failure::Unfinished) {
                let _ = store::end_upload(db, id).await;
            }
            Err(failure.into_error())
        }
    }
}

/// An upload being written; dropped while armed, it removes what the upload left (in a task
/// of its own) and forgets it.
struct Pending {
    db: Db,
    store: Store,
    id: Uuid,
    armed: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (db, store, id) = (self.db.clone(), self.store.clone(), self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let multipart = match store::unfinished(&db, id).await {
                    Ok(Some(upload)) => upload.multipart,
                    Ok(None) => return,
                    Err(_) => return, // the sweep will
                };
                let key = file_key(id);
                let cleaned = async {
                    store.discard_unfinished(&key, multipart.as_deref()).await?;
                    store.delete(&key).await
                };
                if cleaned.await.is_ok() {
                    let _ = store::end_upload(&db, id).await;
                }
            });
        }
    }
}

enum Failure {
    /// The client's request cannot be stored: too large, over quota, broken off.
    Refused(ApiError),
    /// Storage failed; what it holds is cleaned up.
    Storage(ApiError),
    /// Cleanup may be incomplete: leave the upload's row for the sweep.
    Unfinished,
}

impl Failure {
    fn into_error(self) -> ApiError {
        match self {
            Failure::Refused(error) | Failure::Storage(error) => error,
            Failure::Unfinished => ApiError::unavailable("the upload could not be finished"),
        }
    }
}

struct Written {
    size: u64,
    sha256: [u8; 32],
    head: Vec<u8>,
}

async fn write(
    db: &Db,
    id: Uuid,
    mut upload: Upload,
    body: Body,
    room: Room,
    context: Option<&RequestContext>,
) -> Result<Written, Failure> {
    let mut stream = body.into_data_stream();
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(sniff::HEAD_BYTES);
    let mut size: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = match chunk {
            Ok(chunk) => chunk,
            Err(_) => {
                upload.abort().await;
                return Err(Failure::Refused(ApiError::bad_request(
                    ErrorCode::IncompleteBody,
                    "the upload was broken off before its end",
                )));
            }
        };
        size += chunk.len() as u64;
        if size > room.max_bytes {
            upload.abort().await;
            return Err(Failure::Refused(too_large(room.max_bytes)));
        }
        if size > room.quota_left {
            upload.abort().await;
            return Err(Failure::Refused(over_quota(room.quota)));
        }
        if let Some(context) = context {
            context.still_receiving();
        }
        hasher.update(&chunk);
        if head.len() < sniff::HEAD_BYTES {
            let take = (sniff::HEAD_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        match upload.write(chunk).await {
            Ok(Some(multipart)) => {
                if store::record_multipart(db, id, &multipart).await.is_err() {
                    upload.abort().await;
                    return Err(Failure::Storage(ApiError::unavailable(
                        "the database is unavailable; try again shortly",
                    )));
                }
            }
            Ok(None) => {}
            Err(error) => {
                upload.abort().await;
                return Err(Failure::Storage(error.into()));
            }
        }
    }
    if let Err(error) = upload.finish().await {
        tracing::warn!(error = %error, %id, "an upload could not be finished");
        return match error {
            super::storage::StorageError::Full => Err(Failure::Storage(error.into())),
            _ => Err(Failure::Unfinished),
        };
    }
    Ok(Written {
        size,
        sha256: hasher.finalize().into(),
        head,
    })
}

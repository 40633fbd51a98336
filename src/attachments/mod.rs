//! Attachments (API.md §20): files on tasks and comments. The rows are in PostgreSQL
//! (`store`), the bytes in storage (`storage`: the data dir or S3), never in the database.
//!
//! An upload streams the body to storage as it arrives (`upload`), hashing and counting it on
//! the way, and is committed by the transaction that writes its row; a download (`download`)
//! is served so that no file can run as a page of Docket's origin. Thumbnails, the deletion
//! of files whose rows are gone, and the sweep of unfinished uploads run on the job queue
//! (`jobs`); `migrate` copies every file to another storage while the server runs.

pub mod download;
pub mod handlers;
pub mod jobs;
pub mod migrate;
pub mod sniff;
pub mod storage;
pub mod store;
pub mod thumbnails;
pub mod upload;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, StorageUrl};
use crate::db::Db;
use crate::error::ApiError;
use storage::{Storage, StorageError, Store};

/// A file's name as people see it: 1–255 characters once trimmed, no control characters.
/// It is never used as a path: storage keys are made from the attachment's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentName(String);

pub const NAME_MAX: usize = 255;

impl AttachmentName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.chars().count() > NAME_MAX {
            return Err(format!("must be at most {NAME_MAX} characters"));
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Timings and reserves that tests shorten (part of `server::Tuning`).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// How often the sweep of unfinished uploads is scheduled.
    pub sweep_every: Duration,
    /// An upload still unfinished after this long is an orphan (its request is over: see
    /// `upload_limit`).
    pub orphan_after: Duration,
    /// The longest an upload may take, however steadily its bytes arrive.
    pub upload_limit: Duration,
    /// With a local store: the free space an upload must leave on the data dir's file system
    /// (shared with the embedded database); below it the upload is 507.
    pub free_reserve: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        // Orphans are gone within 10 minutes of a crash: older than 6, swept every 2.
        Self {
            sweep_every: Duration::from_secs(120),
            orphan_after: Duration::from_secs(360),
            upload_limit: Duration::from_secs(300),
            free_reserve: 256 * 1024 * 1024,
        }
    }
}

/// The part handlers and jobs of this domain take (`State<Attachments>`): storage, the limits
/// and the timings. Cheap to clone.
#[derive(Clone)]
pub struct Attachments(Arc<Inner>);

pub struct Inner {
    pub db: Db,
    pub storage: Storage,
    /// Where new files go unless a `storage migrate` switched the instance (the database's
    /// `attachment_storage` row then wins).
    pub configured: StorageUrl,
    pub max_bytes: u64,
    pub project_bytes: u64,
    pub tuning: Tuning,
}

impl std::ops::Deref for Attachments {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Attachments {
    pub fn new(config: &Config, db: Db, tuning: Tuning) -> Self {
        Self(Arc::new(Inner {
            db,
            storage: Storage::new(config.data_dir.join("attachments"), config.s3.clone()),
            configured: config.storage.clone(),
            max_bytes: config.attachment_max_bytes,
            project_bytes: config.project_storage_bytes,
            tuning,
        }))
    }

    /// The store a row names.
    pub fn store_of(&self, name: &str) -> Result<Store, StorageError> {
        self.storage.open_named(name)
    }
}

impl crate::error::DomainError for StorageError {
    fn into_api_error(self) -> ApiError {
        match self {
            StorageError::NotFound => ApiError::not_found(),
            StorageError::Full => crate::error::ApiError::storage_full(
                "the attachment storage is full; nothing was stored",
            ),
            StorageError::Other(message) => {
                ApiError::internal(anyhow::anyhow!("attachment storage: {message}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(
            AttachmentName::parse("  shot 1.png ").unwrap().as_str(),
            "shot 1.png"
        );
        assert!(AttachmentName::parse("   ").is_err());
        assert!(AttachmentName::parse(&"é".repeat(NAME_MAX)).is_ok());
        assert!(AttachmentName::parse(&"é".repeat(NAME_MAX + 1)).is_err());
        assert!(AttachmentName::parse("a\nb").is_err());
        assert!(AttachmentName::parse("a\u{7f}b").is_err());
        // Path-looking names are only names.
        assert_eq!(
            AttachmentName::parse("../../etc/passwd").unwrap().as_str(),
            "../../etc/passwd"
        );
    }
}

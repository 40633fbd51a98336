//! Where attachment files live: one interface over two `object_store` backends, the local file
//! system under the data dir and S3 (or an S3-compatible server). Files are written as they
//! arrive ([`Upload`]), read as ranges, and deleted; the database never holds their bytes.
//!
//! A row names its store (`StorageUrl`'s text form), so after `docket storage migrate` a server
//! reads each file from wherever its row says while new files go to the current store.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, GetResultPayload, MultipartUpload, ObjectStore, ObjectStoreExt,
    PutPayload, PutPayloadMut,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::{S3Settings, StorageUrl};

/// Local writes are handed to the file in pieces of this size (one blocking write each).
const LOCAL_PART: usize = 256 * 1024;
/// S3 wants every part but the last to be at least 5 MiB.
const S3_PART: usize = 5 * 1024 * 1024;
/// Local reads: one blocking read per this many bytes.
const LOCAL_READ: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no such file in storage")]
    NotFound,
    /// The disk (or the bucket's quota) is full.
    #[error("the storage is full")]
    Full,
    #[error("storage: {0}")]
    Other(String),
}

impl From<object_store::Error> for StorageError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => StorageError::NotFound,
            other if is_full(&other) => StorageError::Full,
            other => StorageError::Other(other.to_string()),
        }
    }
}

/// ENOSPC (or EDQUOT) anywhere in the error's chain.
fn is_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
            {
                return true;
            }
        }
        current = error.source();
    }
    false
}

/// The object keys of an attachment and its thumbnail: spread over 256 directories by the
/// id's last byte (a UUIDv7 begins with the time, so its first bytes would not spread).
pub fn file_key(id: Uuid) -> String {
    format!("files/{:02x}/{id}", id.as_bytes()[15])
}

pub fn thumbnail_key(id: Uuid) -> String {
    format!("thumbnails/{:02x}/{id}.png", id.as_bytes()[15])
}

/// Every store this server has opened, by URL; opened on first use.
pub struct Storage {
    /// `<data dir>/attachments`, the root of `local`.
    local_root: PathBuf,
    s3: S3Settings,
    opened: Mutex<HashMap<StorageUrl, Store>>,
}

impl Storage {
    pub fn new(local_root: PathBuf, s3: S3Settings) -> Self {
        Self {
            local_root,
            s3,
            opened: Mutex::new(HashMap::new()),
        }
    }

    pub fn local_root(&self) -> &std::path::Path {
        &self.local_root
    }

    /// The store behind a URL (a row's `store`, or the current one).
    pub fn open(&self, url: &StorageUrl) -> Result<Store, StorageError> {
        if let Some(store) = self.opened.lock().expect("not poisoned").get(url) {
            return Ok(store.clone());
        }
        let backend = match url {
            StorageUrl::Local => {
                std::fs::create_dir_all(&self.local_root).map_err(|e| {
                    StorageError::Other(format!("{}: {e}", self.local_root.display()))
                })?;
                let fs = LocalFileSystem::new_with_prefix(&self.local_root)?.with_fsync(true);
                Backend::Local {
                    fs: Arc::new(fs),
                    root: self.local_root.clone(),
                }
            }
            StorageUrl::S3 { bucket, prefix } => Backend::S3 {
                s3: Arc::new(s3_client(&self.s3, bucket)?),
                prefix: prefix.clone(),
            },
        };
        let store = Store {
            url: url.clone(),
            backend: Arc::new(backend),
        };
        self.opened
            .lock()
            .expect("not poisoned")
            .insert(url.clone(), store.clone());
        Ok(store)
    }

    /// A store named by a row.
    pub fn open_named(&self, name: &str) -> Result<Store, StorageError> {
        let url = StorageUrl::parse(name).map_err(StorageError::Other)?;
        self.open(&url)
    }
}

/// TLS through rustls with the ring provider (no aws-lc in the build): installed once, before
/// the first S3 client is built.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn s3_client(settings: &S3Settings, bucket: &str) -> Result<AmazonS3, StorageError> {
    install_crypto_provider();
    // The usual AWS_* variables first; what the configuration names wins over them.
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &settings.endpoint {
        let endpoint = endpoint.as_str().trim_end_matches('/');
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    if let Some(key) = &settings.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &settings.secret_access_key {
        builder = builder.with_secret_access_key(secret.expose_secret());
    }
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    Ok(builder.build()?)
}

enum Backend {
    Local {
        fs: Arc<LocalFileSystem>,
        root: PathBuf,
    },
    S3 {
        s3: Arc<AmazonS3>,
        prefix: String,
    },
}

/// One storage: cheap to clone.
#[derive(Clone)]
pub struct Store {
    url: StorageUrl,
    backend: Arc<Backend>,
}

/// What a read gives: the bytes of the range asked for, and the file's whole size.
pub struct Read {
    pub body: BoxStream<'static, Result<Bytes, StorageError>>,
    pub size: u64,
}

impl Store {
    pub fn url(&self) -> &StorageUrl {
        &self.url
    }

    fn path(&self, key: &str) -> Path {
        match &*self.backend {
            Backend::Local { .. } => Path::from(key),
            Backend::S3 { prefix, .. } if prefix.is_empty() => Path::from(key),
            Backend::S3 { prefix, .. } => Path::from(format!("{prefix}/{key}")),
        }
    }

    fn objects(&self) -> &dyn ObjectStore {
        match &*self.backend {
            Backend::Local { fs, .. } => fs.as_ref(),
            Backend::S3 { s3, .. } => s3.as_ref(),
        }
    }

    /// Free bytes on the file system of a local store (`None` for S3).
    pub fn free_bytes(&self) -> Option<u64> {
        let Backend::Local { root, .. } = &*self.backend else {
            return None;
        };
        let path = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: statvfs writes only into the struct it is given; the path is a valid C string.
        let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
            return None;
        }
        Some(stats.f_bavail as u64 * stats.f_frsize as u64)
    }

    /// Starts writing `key`; nothing is visible there until [`Upload::finish`].
    pub async fn begin(&self, key: &str) -> Result<Upload, StorageError> {
        let path = self.path(key);
        let state = match &*self.backend {
            Backend::Local { fs, .. } => Writing::Local(fs.put_multipart(&path).await?),
            Backend::S3 { s3, .. } => Writing::S3 {
                s3: s3.clone(),
                multipart: None,
                parts: Vec::new(),
            },
        };
        let part = match state {
            Writing::Local(_) => LOCAL_PART,
            Writing::S3 { .. } => S3_PART,
        };
        Ok(Upload {
            path,
            state: Some(state),
            buffer: PutPayloadMut::new(),
            part,
        })
    }

    /// Writes a whole small object at once (thumbnails).
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.objects()
            .put(&self.path(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Reads `range` of `key` (all of it when `None`) as a stream.
    pub async fn read(&self, key: &str, range: Option<Range<u64>>) -> Result<Read, StorageError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.objects().get_opts(&self.path(key), options).await?;
        let size = result.meta.size;
        let range = result.range.clone();
        let body = match result.payload {
            // object_store reads a local file 8 KiB per blocking call; larger reads keep a
            // download near the disk's speed.
            GetResultPayload::File(file, _) => local_stream(file, range),
            GetResultPayload::Stream(stream) => stream
                .map(|chunk| chunk.map_err(StorageError::from))
                .boxed(),
        };
        Ok(Read { body, size })
    }

    /// The size of `key`.
    pub async fn size(&self, key: &str) -> Result<u64, StorageError> {
        Ok(self.objects().head(&self.path(key)).await?.size)
    }

    /// Reads a whole object into memory (at most `limit` bytes, else an error).
    pub async fn read_all(&self, key: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        let mut read = self.read(key, None).await?;
        if read.size > limit {
            return Err(StorageError::Other(format!("{key} is over {limit} bytes")));
        }
        let mut bytes = Vec::with_capacity(read.size as usize);
        while let Some(chunk) = read.body.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(bytes)
    }

    /// Deletes `key`; a key that is not there is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.objects().delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Removes what an upload of `key` that never finished may have left: the local staging
    /// file (`<key>#<n>`), or the S3 multipart upload `multipart`.
    pub async fn discard_unfinished(
        &self,
        key: &str,
        multipart: Option<&str>,
    ) -> Result<(), StorageError> {
        match &*self.backend {
            Backend::Local { root, .. } => {
                let file = root.join(key);
                let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
                    return Ok(());
                };
                let staging = format!("{}#", name.to_string_lossy());
                let dir = dir.to_owned();
                tokio::task::spawn_blocking(move || remove_staging(&dir, &staging))
                    .await
                    .map_err(|e| StorageError::Other(e.to_string()))?
            }
            Backend::S3 { s3, .. } => match multipart {
                Some(id) => {
                    let id = id.to_owned();
                    match s3.abort_multipart(&self.path(key), &id).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                        Err(error) => Err(error.into()),
                    }
                }
                None => Ok(()),
            },
        }
    }

    /// Checks that the store can be written, read and deleted from (before a migration).
    pub async fn probe(&self) -> Result<(), StorageError> {
        let key = format!("probe/{}", Uuid::now_v7());
        self.put(&key, Bytes::from_static(b"docket")).await?;
        let back = self.read_all(&key, 16).await?;
        self.delete(&key).await?;
        if back != b"docket" {
            return Err(StorageError::Other("a probe read back wrong".into()));
        }
        Ok(())
    }
}

fn remove_staging(dir: &std::path::Path, prefix: &str) -> Result<(), StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StorageError::Other(e.to_string())),
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// A local file's `range`, read with `pread` on the blocking pool, `LOCAL_READ` at a time.
fn local_stream(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, StorageError>> {
    struct State {
        /// `None` once the stream has failed: it ends.
        file: Option<std::fs::File>,
        at: u64,
        end: u64,
    }
    let state = State {
        file: Some(file),
        at: range.start,
        end: range.end,
    };
    futures::stream::unfold(state, |mut state| async move {
        if state.at >= state.end {
            return None;
        }
        let file = state.file.take()?;
        let (at, want) = (
            state.at,
            (state.end - state.at).min(LOCAL_READ as u64) as usize,
        );
        let read = tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut buffer = vec![0u8; want];
            let mut filled = 0;
            while filled < want {
                match file.read_at(&mut buffer[filled..], at + filled as u64)? {
                    0 => break,
                    n => filled += n,
                }
            }
            buffer.truncate(filled);
            Ok::<_, std::io::Error>((file, buffer))
        })
        .await;
        let failure = match read {
            Ok(Ok((file, buffer))) if !buffer.is_empty() => {
                state.at += buffer.len() as u64;
                state.file = Some(file);
                return Some((Ok(Bytes::from(buffer)), state));
            }
            Ok(Ok(_)) => "the file is shorter than its size".to_owned(),
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        Some((Err(StorageError::Other(failure)), state))
    })
    .boxed()
}

enum Writing {
    Local(Box<dyn MultipartUpload>),
    S3 {
        s3: Arc<AmazonS3>,
        /// Started once the first full part is there: a small file is one `PUT`.
        multipart: Option<String>,
        parts: Vec<PartId>,
    },
}

/// A file being written. Bytes are buffered up to one part, then handed on (so memory per
/// upload is one part: 256 KiB locally, 5 MiB for S3). Dropped unfinished, it removes what it
/// wrote (best effort; the orphan sweep catches the rest).
pub struct Upload {
    path: Path,
    state: Option<Writing>,
    buffer: PutPayloadMut,
    part: usize,
}

impl Upload {
    /// Adds bytes. Returns the S3 multipart upload's id when this call started it (the caller
    /// records it, so that a crash's leftovers can be aborted).
    pub async fn write(&mut self, bytes: Bytes) -> Result<Option<String>, StorageError> {
        self.buffer.push(bytes);
        if self.buffer.content_length() < self.part {
            return Ok(None);
        }
        let payload = std::mem::take(&mut self.buffer).freeze();
        self.send_part(payload).await
    }

    async fn send_part(&mut self, payload: PutPayload) -> Result<Option<String>, StorageError> {
        let mut started = None;
        match self.state.as_mut().expect("an unfinished upload") {
            Writing::Local(upload) => upload.put_part(payload).await?,
            Writing::S3 {
                s3,
                multipart,
                parts,
            } => {
                let id = match multipart {
                    Some(id) => id.clone(),
                    None => {
                        let id = s3.create_multipart(&self.path).await?;
                        *multipart = Some(id.clone());
                        started = Some(id.clone());
                        id
                    }
                };
                let part = s3.put_part(&self.path, &id, parts.len(), payload).await?;
                parts.push(part);
            }
        }
        Ok(started)
    }

    /// Makes the file visible under its key.
    pub async fn finish(mut self) -> Result<(), StorageError> {
        let payload = std::mem::take(&mut self.buffer).freeze();
        let state = self.state.take().expect("an unfinished upload");
        match state {
            Writing::Local(mut upload) => {
                let result = async {
                    if payload.content_length() > 0 {
                        upload.put_part(payload).await?;
                    }
                    upload.complete().await
                }
                .await;
                result?;
            }
            Writing::S3 {
                s3,
                multipart: None,
                ..
            } => {
                s3.put(&self.path, payload).await?;
            }
            Writing::S3 {
                s3,
                multipart: Some(id),
                mut parts,
            } => {
                let finished = async {
                    if payload.content_length() > 0 {
                        parts.push(s3.put_part(&self.path, &id, parts.len(), payload).await?);
                    }
                    s3.complete_multipart(&self.path, &id, parts).await
                }
                .await;
                if let Err(error) = finished {
                    let _ = s3.abort_multipart(&self.path, &id).await;
                    return Err(error.into());
                }
            }
        }
        Ok(())
    }

    /// Gives up: removes what was written.
    pub async fn abort(mut self) {
        match self.state.take() {
            Some(Writing::Local(mut upload)) => {
                let _ = upload.abort().await;
            }
            Some(Writing::S3 {
                s3,
                multipart: Some(id),
                ..
            }) => {
                let _ = s3.abort_multipart(&self.path, &id).await;
            }
            _ => {}
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Dropped mid-way (the request was cancelled): the local upload removes its staging
        // file in its own `Drop`; an S3 multipart upload is aborted here.
        if let Some(Writing::S3 {
            s3,
            multipart: Some(id),
            ..
        }) = self.state.take()
        {
            let path = self.path.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = s3.abort_multipart(&path, &id).await;
                });
            }
        }
    }
}

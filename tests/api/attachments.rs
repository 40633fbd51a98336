//! Attachments (API.md §20), black-box, against both storage backends: the local file system
//! (under the test server's data dir) and a real S3-compatible server (moto, `s3.rs`). Each
//! scenario is written once and runs on both (`both_backends!`). What is stored is read from
//! the storage itself (the files under the data dir, or the bucket's listing), not from the
//! server.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::helpers::*;
use crate::s3 as s3_server;

/// The size limit the tests run with (the default is 25 MiB).
const LIMIT: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

/// Where one test server's files are, to look at them directly.
pub enum Place {
    Local(PathBuf),
    S3 { bucket: String },
}

impl Place {
    /// Every stored object: files, thumbnails, and (locally) unfinished staging files.
    pub async fn files(&self) -> Vec<String> {
        match self {
            Place::Local(root) => {
                let mut found = Vec::new();
                walk(root, root, &mut found);
                found.sort();
                found
            }
            Place::S3 { bucket } => {
                let mut keys = s3_server::keys(bucket, "docket/files/").await;
                keys.extend(s3_server::keys(bucket, "docket/thumbnails/").await);
                keys
            }
        }
    }

    /// Nothing stored, and (on S3) no multipart upload left open.
    pub async fn assert_empty(&self) {
        assert_eq!(self.files().await, Vec::<String>::new());
        if let Place::S3 { bucket } = self {
            assert_eq!(s3_server::unfinished_multipart_uploads(bucket).await, 0);
        }
    }
}

fn walk(root: &std::path::Path, dir: &std::path::Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, found);
        } else {
            let relative = path.strip_prefix(root).unwrap().display().to_string();
            // The migration's write probe is not an attachment.
            if !relative.starts_with("probe/") {
                found.push(relative);
            }
        }
    }
}

/// Settings a scenario may change.
pub struct Setup {
    pub max_bytes: usize,
    pub quota: Option<u64>,
    pub tuning: docket::server::Tuning,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            max_bytes: LIMIT,
            quota: None,
            tuning: fast_tuning(),
        }
    }
}

/// A server storing attachments on `backend`, and where its files are.
pub async fn app_on(backend: Backend, setup: Setup) -> (TestApp, Place) {
    let bucket = match backend {
        Backend::Local => None,
        Backend::S3 => Some(s3_server::create_bucket().await),
    };
    let storage = bucket.clone();
    let app = TestApp::build()
        .tuning(setup.tuning)
        .config(move |args| {
            args.rate_limit_per_minute = Some("100000".into());
            args.attachment_max_bytes = Some(setup.max_bytes.to_string());
            args.project_storage_bytes = setup.quota.map(|q| q.to_string());
            s3_settings(args);
            if let Some(bucket) = storage {
                args.storage = Some(format!("s3://{bucket}/docket"));
            }
        })
        .spawn()
        .await;
    let place = match bucket {
        None => Place::Local(app.state.attachments.storage.local_root().to_owned()),
        Some(bucket) => Place::S3 { bucket },
    };
    (app, place)
}

/// How the servers reach the S3 test server (set for both backends: a migration needs it).
pub fn s3_settings(args: &mut docket::config::ConfigArgs) {
    args.s3_endpoint = Some(s3_server::server().endpoint.clone());
    args.aws_access_key_id = Some(s3_server::ACCESS_KEY.into());
    args.aws_secret_access_key = Some(s3_server::SECRET_KEY.into());
    args.aws_region = Some(s3_server::REGION.into());
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Bytes that differ from upload to upload.
pub fn random_bytes(size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size + 16);
    while bytes.len() < size {
        bytes.extend_from_slice(Uuid::new_v4().as_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// A real PNG of the given size.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// Waits (up to 30 s) until `check` holds, polling.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn unfinished_uploads(app: &TestApp) -> i64 {
    app.db
        .scalar("SELECT count(*) FROM attachment_uploads", &[])
        .await
}

/// Each scenario as a test of each backend: `local::name` and `s3_server::name`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Backend::Local).await
            })*
        }
        mod s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Backend::S3).await
            })*
        }
    };
}

both_backends!(
    uploads_of_every_size_up_to_the_limit,
    a_large_file_round_trips,
    downloads_cannot_run_as_pages_of_the_origin,
    only_members_reach_the_files,
    an_upload_broken_off_leaves_nothing,
    what_a_crash_leaves_is_swept,
    twenty_uploads_at_once_to_one_task,
    the_project_quota_holds_under_concurrency,
    an_upload_is_idempotent_by_key_and_body,
    images_get_thumbnails,
    deleting_an_attachment_task_comment_or_project_removes_files,
);

async fn uploads_of_every_size_up_to_the_limit(backend: Backend) {
    let (app, place) = app_on(backend, Setup::default()).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Files").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;

    for size in [0, 1, LIMIT] {
        let bytes = random_bytes(size);
        let response = owner
            .upload(task.id, &format!("f{size}.bin"), bytes.clone())
            .await;
        let attachment: Attachment = response.created();
        assert_eq!(attachment.size as usize, size);
        assert_eq!(attachment.sha256, sha256_hex(&bytes));
        assert_eq!(attachment.task_id, task.id);
        assert_eq!(attachment.uploaded_by.as_ref().unwrap().id, owner.id);
        assert_eq!(response.location(), content_path(attachment.id));
        assert_eq!(response.etag(), format!("\"{}\"", attachment.sha256));
        let content = owner.get(&content_path(attachment.id)).await;
        assert_eq!(content.status(), 200);
        assert_eq!(content.bytes(), &bytes[..]);
    }
    assert_eq!(place.files().await.len(), 3);

    // One byte over: refused from its Content-Length, before the body is read...
    owner
        .upload(task.id, "over.bin", random_bytes(LIMIT + 1))
        .await
        .problem(413, "payload_too_large");
    // ...and counted when there is no Content-Length (chunked).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = random_bytes(LIMIT + 1)
        .chunks(4096)
        .map(|c| Ok(c.to_vec()))
        .collect();
    owner
        .upload(
            task.id,
            "over.bin",
            reqwest::Body::wrap_stream(futures::stream::iter(chunks)),
        )
        .await
        .problem(413, "payload_too_large");
    assert_eq!(
        place.files().await.len(),
        3,
        "nothing of the refused files stored"
    );
    assert_eq!(unfinished_uploads(&app).await, 0);
    let page: Page<Attachment> = owner.get(&attachments_path(task.id)).await.good();
    assert_eq!(page.items.len(), 3);
    assert_eq!(owner.get_task(task.id).await.attachment_count, 3);

    // A name is required, bounded, and printable.
    for query in [vec![], vec![("name", " ")], vec![("name", "a\u{1}b")]] {
        owner
            .request(Method::POST, &attachments_path(task.id))
            .query(&query)
            .body("x")
            .await
            .problem(400, "invalid_query");
    }
    if let Place::S3 { bucket } = &place {
        assert_eq!(s3_server::unfinished_multipart_uploads(bucket).await, 0);
    }
}

async fn a_large_file_round_trips(backend: Backend) {
    // Past S3's 5 MiB part size, so the S3 upload is a multipart one.
    let setup = Setup {
        max_bytes: 16 * 1024 * 1024,
        ..Setup::default()
    };
    let (app, place) = app_on(backend, setup).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Big").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    let bytes = random_bytes(12 * 1024 * 1024 + 17);
    let attachment: Attachment = owner
        .upload(task.id, "big.bin", bytes.clone())
        .await
        .created();
    assert_eq!(attachment.sha256, sha256_hex(&bytes));
    let whole = owner.get(&content_path(attachment.id)).await;
    assert_eq!(sha256_hex(whole.bytes()), attachment.sha256);
    let part = owner
        .get(&content_path(attachment.id))
        .header("range", "bytes=6000000-6000099")
        .await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes(), &bytes[6_000_000..6_000_100]);
    assert_eq!(place.files().await.len(), 1);
    if let Place::S3 { bucket } = &place {
        assert_eq!(s3_server::unfinished_multipart_uploads(bucket).await, 0);
    }
}

async fn downloads_cannot_run_as_pages_of_the_origin(backend: Backend) {
    let (app, _place) = app_on(backend, Setup::default()).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Safe").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;

    let image = png(20, 10);
    let shot: Attachment = owner
        .upload(task.id, "shot.png", image.clone())
        .await
        .created();
    assert_eq!(shot.content_type, "image/png");
    let html = b"<!DOCTYPE html><html><script>document.title='ran'</script></html>".to_vec();
    let fake: Attachment = owner.upload(task.id, "x.png", html.clone()).await.created();
    assert_eq!(
        fake.content_type, "text/html",
        "judged by the bytes, not the name"
    );
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let vector: Attachment = owner.upload(task.id, "a.svg", svg.to_vec()).await.created();
    assert_eq!(vector.content_type, "image/svg+xml");

    let common = |response: &TestResponse| {
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            response.header("content-security-policy"),
            Some("sandbox; default-src 'none'")
        );
        assert_eq!(
            response.header("cross-origin-resource-policy"),
            Some("same-origin")
        );
        assert_eq!(response.header("accept-ranges"), Some("bytes"));
    };
    let inline = owner.get(&content_path(shot.id)).await;
    common(&inline);
    assert_eq!(inline.header("content-type"), Some("image/png"));
    assert!(inline
        .header("content-disposition")
        .unwrap()
        .starts_with("inline; filename=\"shot.png\""));
    assert_eq!(inline.etag(), format!("\"{}\"", shot.sha256));
    assert_eq!(inline.bytes(), &image[..]);
    for (attachment, content_type) in [(&fake, "text/html"), (&vector, "image/svg+xml")] {
        let download = owner.get(&content_path(attachment.id)).await;
        common(&download);
        assert_eq!(download.header("content-type"), Some(content_type));
        assert!(
            download
                .header("content-disposition")
                .unwrap()
                .starts_with("attachment; "),
            "{content_type} must be a download"
        );
    }

    // ETag and Range.
    let again = owner
        .get(&content_path(fake.id))
        .if_none_match(&format!("\"{}\"", fake.sha256))
        .await;
    assert_eq!(again.status(), 304);
    assert!(again.bytes().is_empty());
    let part = owner
        .get(&content_path(fake.id))
        .header("range", "bytes=2-5")
        .await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes(), &html[2..6]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 2-5/{}", html.len()).as_str())
    );
    let tail = owner
        .get(&content_path(fake.id))
        .header("range", "bytes=-3")
        .await;
    assert_eq!(tail.bytes(), &html[html.len() - 3..]);
    let outside = owner
        .get(&content_path(fake.id))
        .header("range", "bytes=9999-")
        .await;
    outside.problem(416, "range_not_satisfiable");
    assert_eq!(
        outside.header("content-range"),
        Some(format!("bytes */{}", html.len()).as_str())
    );

    // Newest first, in pages.
    let first: Page<Attachment> = owner
        .get(&attachments_path(task.id))
        .query(&[("limit", "2")])
        .await
        .good();
    assert_eq!(
        first.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [vector.id, fake.id]
    );
    let rest: Page<Attachment> = owner
        .get(&attachments_path(task.id))
        .query(&[
            ("limit", "2"),
            ("cursor", first.next_cursor.as_deref().unwrap()),
        ])
        .await
        .good();
    assert_eq!(
        rest.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        [shot.id]
    );
    assert_eq!(rest.next_cursor, None);
}

async fn only_members_reach_the_files(backend: Backend) {
    let (app, _place) = app_on(backend, Setup::default()).await;
    let owner = app.new_client().await;
    let viewer = app.new_client().await;
    let editor = app.new_client().await;
    let stranger = app.new_client().await;
    let project = owner.create_project("Private").await;
    owner.add_member(project.id, &viewer, "viewer").await;
    owner.add_member(project.id, &editor, "editor").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    let file: Attachment = owner
        .upload(task.id, "secret.txt", "secret")
        .await
        .created();

    for path in [
        content_path(file.id),
        thumbnail_path(file.id),
        attachments_path(task.id),
    ] {
        stranger.get(&path).await.problem(404, "not_found");
    }
    stranger
        .delete(&attachment_path(file.id))
        .await
        .problem(404, "not_found");
    stranger
        .upload(task.id, "x", "x")
        .await
        .problem(404, "not_found");
    app.anon()
        .get(&content_path(file.id))
        .await
        .problem(401, "unauthenticated");

    assert_eq!(viewer.get(&content_path(file.id)).await.text(), "secret");
    viewer
        .upload(task.id, "x", "x")
        .await
        .problem(403, "forbidden");
    editor
        .delete(&attachment_path(file.id))
        .await
        .problem(403, "forbidden");

    // A removed member loses the files at once.
    owner
        .delete(&member_path(project.id, viewer.id))
        .await
        .no_content();
    viewer
        .get(&content_path(file.id))
        .await
        .problem(404, "not_found");

    // The uploader may delete their own; an admin anyone's.
    let own: Attachment = editor.upload(task.id, "mine.txt", "mine").await.created();
    editor.delete(&attachment_path(own.id)).await.no_content();
    owner.delete(&attachment_path(file.id)).await.no_content();
    owner
        .get(&content_path(file.id))
        .await
        .problem(404, "not_found");

    // A comment_id must be one of this task's comments.
    let other = owner
        .create_task(project.id, json!({"title": "other"}))
        .await;
    let comment: Value = owner
        .post(&comments_path(other.id), json!({"body": "elsewhere"}))
        .await
        .created();
    owner
        .upload(task.id, "c.txt", "c")
        .query(&[("comment_id", id_of(&comment))])
        .await
        .invalid_field("comment_id");
    let here: Attachment = owner
        .upload(other.id, "c.txt", "c")
        .query(&[("comment_id", id_of(&comment))])
        .await
        .created();
    assert_eq!(here.comment_id.unwrap().to_string(), id_of(&comment));
}

/// Sends the headers and half of a declared body on a raw socket, then closes it.
fn send_half_and_close(app: &TestApp, user: &TestUser, task: Uuid, size: usize) {
    let address = app.address.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    let head = format!(
        "POST {}?name=half.bin HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Length: {size}\r\n\r\n",
        attachments_path(task),
        user.token
    );
    socket.write_all(head.as_bytes()).unwrap();
    socket.write_all(&random_bytes(size / 2)).unwrap();
    socket.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    socket.shutdown(std::net::Shutdown::Both).unwrap();
    let mut rest = Vec::new();
    let _ = socket.read_to_end(&mut rest);
}

async fn an_upload_broken_off_leaves_nothing(backend: Backend) {
    let setup = Setup {
        max_bytes: 12 * 1024 * 1024,
        ..Setup::default()
    };
    let (app, place) = app_on(backend, setup).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Broken").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    // Half of 12 MiB: past S3's first 5 MiB part, so a multipart upload was under way.
    let user = (*owner).clone();
    let address = app.address.clone();
    let _ = address;
    tokio::task::block_in_place(|| send_half_and_close(&app, &user, task.id, 12 * 1024 * 1024));
    eventually("the broken upload is cleaned up", || async {
        unfinished_uploads(&app).await == 0
    })
    .await;
    place.assert_empty().await;
    let page: Page<Attachment> = owner.get(&attachments_path(task.id)).await.good();
    assert!(page.items.is_empty());
}

async fn what_a_crash_leaves_is_swept(backend: Backend) {
    let (app, place) = app_on(backend, Setup::default()).await;
    let attachments = &app.state.attachments;
    let db = &app.state.db;
    let configured = attachments.configured.to_string();
    // What a process killed mid-upload leaves: an upload recorded but never finished (on S3
    // a multipart upload with a part sent; locally the staging file), and a file complete in
    // storage whose row was never written. The harness makes them with the server's own
    // storage code and then forgets them, as a crash would.
    let unfinished = Uuid::now_v7();
    let name = docket::attachments::store::begin_upload(db, unfinished, &configured)
        .await
        .unwrap();
    let store = attachments.store_of(&name).unwrap();
    let key = docket::attachments::storage::file_key(unfinished);
    let mut upload = store.begin(&key).await.unwrap();
    let part = bytes::Bytes::from(random_bytes(5 * 1024 * 1024 + 1));
    if let Some(multipart) = upload.write(part).await.unwrap() {
        docket::attachments::store::record_multipart(db, unfinished, &multipart)
            .await
            .unwrap();
    }
    let part = bytes::Bytes::from(random_bytes(10));
    upload.write(part).await.unwrap();
    std::mem::forget(upload);
    let complete = Uuid::now_v7();
    docket::attachments::store::begin_upload(db, complete, &configured)
        .await
        .unwrap();
    let mut upload = store
        .begin(&docket::attachments::storage::file_key(complete))
        .await
        .unwrap();
    upload
        .write(bytes::Bytes::from_static(b"complete"))
        .await
        .unwrap();
    upload.finish().await.unwrap();

    assert!(!place.files().await.is_empty(), "the leftovers are there");
    if let Place::S3 { bucket } = &place {
        assert_eq!(s3_server::unfinished_multipart_uploads(bucket).await, 1);
    }
    // They are orphans once older than the longest an upload may run.
    app.db
        .execute(
            "UPDATE attachment_uploads SET started_at = now() - interval '1 hour'",
            &[],
        )
        .await;
    eventually("the sweep removed the orphans", || async {
        unfinished_uploads(&app).await == 0
    })
    .await;
    place.assert_empty().await;
}

async fn twenty_uploads_at_once_to_one_task(backend: Backend) {
    let (app, place) = app_on(backend, Setup::default()).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Busy").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    let files: Vec<Vec<u8>> = (0..20).map(|_| random_bytes(20_000)).collect();
    let uploads = files.iter().enumerate().map(|(i, bytes)| {
        owner
            .upload(task.id, &format!("{i}.bin"), bytes.clone())
            .send()
    });
    let answers = futures::future::join_all(uploads).await;
    let mut digests: Vec<String> = answers
        .iter()
        .map(|answer| answer.created::<Attachment>().sha256)
        .collect();
    digests.sort();
    let mut expected: Vec<String> = files.iter().map(|b| sha256_hex(b)).collect();
    expected.sort();
    assert_eq!(digests, expected);
    let page: Page<Attachment> = owner.get(&attachments_path(task.id)).await.good();
    assert_eq!(page.items.len(), 20);
    assert_eq!(owner.get_task(task.id).await.attachment_count, 20);
    assert_eq!(place.files().await.len(), 20);
    assert_eq!(unfinished_uploads(&app).await, 0);
}

async fn the_project_quota_holds_under_concurrency(backend: Backend) {
    let setup = Setup {
        quota: Some(100_000),
        ..Setup::default()
    };
    let (app, place) = app_on(backend, setup).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Quota").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    // Six uploads of 30 kB at once into 100 kB: three fit, whichever commit first.
    let uploads = (0..6).map(|i| {
        owner
            .upload(task.id, &format!("{i}"), random_bytes(30_000))
            .send()
    });
    let answers = futures::future::join_all(uploads).await;
    let created = answers.iter().filter(|a| a.status() == 201).count();
    for answer in answers.iter().filter(|a| a.status() != 201) {
        let problem = answer.problem(422, "quota_exceeded");
        assert!(problem["detail"].as_str().unwrap().contains("100000"));
    }
    assert_eq!(created, 3);
    // Over the room left: refused by its length, or while counting a chunked body.
    owner
        .upload(task.id, "more", random_bytes(20_000))
        .await
        .problem(422, "quota_exceeded");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(random_bytes(20_000))];
    owner
        .upload(
            task.id,
            "more",
            reqwest::Body::wrap_stream(futures::stream::iter(chunks)),
        )
        .await
        .problem(422, "quota_exceeded");
    // What fits still goes in.
    owner
        .upload(task.id, "small", random_bytes(10_000))
        .await
        .created::<Attachment>();
    assert_eq!(place.files().await.len(), 4);
    assert_eq!(unfinished_uploads(&app).await, 0);
}

async fn an_upload_is_idempotent_by_key_and_body(backend: Backend) {
    let (app, place) = app_on(backend, Setup::default()).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Retry").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    let bytes = random_bytes(30_000);
    let first = owner
        .upload(task.id, "a.bin", bytes.clone())
        .idempotency_key("k1")
        .await;
    let attachment: Attachment = first.created();
    let again = owner
        .upload(task.id, "a.bin", bytes.clone())
        .idempotency_key("k1")
        .await;
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(again.created::<Attachment>(), attachment);
    assert_eq!(again.location(), first.location());
    // Another body, or another name, with the same key: refused.
    owner
        .upload(task.id, "a.bin", random_bytes(30_000))
        .idempotency_key("k1")
        .await
        .problem(422, "idempotency_key_reused");
    owner
        .upload(task.id, "b.bin", bytes.clone())
        .idempotency_key("k1")
        .await
        .problem(422, "idempotency_key_reused");
    // A failed first try is not remembered.
    owner
        .upload(task.id, "big", random_bytes(LIMIT + 1))
        .idempotency_key("k2")
        .await
        .problem(413, "payload_too_large");
    owner
        .upload(task.id, "ok", random_bytes(10))
        .idempotency_key("k2")
        .await
        .created::<Attachment>();
    assert_eq!(place.files().await.len(), 2);
}

async fn images_get_thumbnails(backend: Backend) {
    let (app, place) = app_on(backend, Setup::default()).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Pictures").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    let picture: Attachment = owner
        .upload(task.id, "wide.png", png(1000, 500))
        .await
        .created();
    assert!(!picture.thumbnail);
    let text: Attachment = owner
        .upload(task.id, "notes.txt", "not an image")
        .await
        .created();
    eventually("the thumbnail is made", || async {
        let page: Page<Attachment> = owner.get(&attachments_path(task.id)).await.good();
        page.items.iter().any(|a| a.id == picture.id && a.thumbnail)
    })
    .await;
    let thumbnail = owner.get(&thumbnail_path(picture.id)).await;
    assert_eq!(thumbnail.status(), 200);
    assert_eq!(thumbnail.header("content-type"), Some("image/png"));
    assert_eq!(
        thumbnail.header("content-security-policy"),
        Some("sandbox; default-src 'none'")
    );
    let image = image::load_from_memory(thumbnail.bytes()).unwrap();
    assert_eq!((image.width(), image.height()), (400, 200));
    owner
        .get(&thumbnail_path(text.id))
        .await
        .problem(404, "not_found");
    assert_eq!(place.files().await.len(), 3, "two files and one thumbnail");
}

async fn attachment_ids(owner: &UserClient<'_>, task: Uuid) -> Vec<Uuid> {
    let page: Page<Attachment> = owner.get(&attachments_path(task)).await.good();
    page.items.iter().map(|a| a.id).collect()
}

async fn deleting_an_attachment_task_comment_or_project_removes_files(backend: Backend) {
    let (app, place) = app_on(backend, Setup::default()).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Gone").await;
    let first = owner
        .create_task(project.id, json!({"title": "first"}))
        .await;
    let second = owner
        .create_task(project.id, json!({"title": "second"}))
        .await;
    let comment: Value = owner
        .post(&comments_path(first.id), json!({"body": "see the file"}))
        .await
        .created();
    let a: Attachment = owner.upload(first.id, "a.txt", "a").await.created();
    let b: Attachment = owner
        .upload(first.id, "b.png", png(8, 8))
        .query(&[("comment_id", id_of(&comment))])
        .await
        .created();
    let c: Attachment = owner.upload(first.id, "c.txt", "c").await.created();
    let d: Attachment = owner.upload(second.id, "d.txt", "d").await.created();
    eventually("b's thumbnail is made", || async {
        place.files().await.len() == 5
    })
    .await;
    assert_eq!(owner.get_task(first.id).await.attachment_count, 3);

    // History: one entry per file added and removed.
    owner.delete(&attachment_path(a.id)).await.no_content();
    let activity: Page<Value> = owner
        .get(&format!("/api/v1/tasks/{}/activity", first.id))
        .await
        .good();
    let kinds: Vec<&str> = activity
        .items
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "attachment.deleted",
            "attachment.added",
            "attachment.added",
            "attachment.added",
            "comment.created",
            "task.created"
        ]
    );
    assert_eq!(activity.items[0]["changes"][0]["from"]["name"], "a.txt");
    assert_eq!(
        activity.items[2]["changes"][0]["to"]["comment_id"],
        json!(b.comment_id)
    );
    eventually("a's file is removed", || async {
        place.files().await.len() == 4
    })
    .await;

    // A comment takes its files along.
    owner
        .delete(&comment_path(id_of(&comment)))
        .await
        .no_content();
    assert_eq!(attachment_ids(&owner, first.id).await, [c.id]);
    assert_eq!(owner.get_task(first.id).await.attachment_count, 1);
    eventually("b's file and thumbnail are removed", || async {
        place.files().await.len() == 2
    })
    .await;
    // So do a task and a project.
    owner.delete(&task_path(first.id)).await.no_content();
    eventually("c's file is removed", || async {
        place.files().await.len() == 1
    })
    .await;
    owner
        .get(&content_path(c.id))
        .await
        .problem(404, "not_found");
    owner.delete(&project_path(project.id)).await.no_content();
    eventually("d's file is removed", || async {
        place.files().await.is_empty()
    })
    .await;
    owner
        .get(&content_path(d.id))
        .await
        .problem(404, "not_found");
    let garbage: i64 = app
        .db
        .scalar("SELECT count(*) FROM attachment_garbage", &[])
        .await;
    assert_eq!(garbage, 0);
}

/// A PNG header claiming `side` × `side` 1-bit pixels, with image data that really inflates
/// to all of it: a decompression bomb (40,000² is 1.6 GB decoded as 8-bit grey).
fn png_bomb(side: u32) -> Vec<u8> {
    use flate2::write::ZlibEncoder;
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&[1, 0, 0, 0, 0]); // 1 bit, greyscale
    chunk(&mut png, b"IHDR", &header);
    let row = vec![0u8; 1 + side.div_ceil(8) as usize];
    let mut encoder = ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..side {
        encoder.write_all(&row).unwrap();
    }
    chunk(&mut png, b"IDAT", &encoder.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

fn peak_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_decompression_bomb_gets_no_thumbnail_and_costs_no_memory() {
    let (app, _place) = app_on(
        Backend::Local,
        Setup {
            max_bytes: 4 * 1024 * 1024,
            ..Setup::default()
        },
    )
    .await;
    let owner = app.new_client().await;
    let project = owner.create_project("Bombs").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    let bomb = tokio::task::spawn_blocking(|| png_bomb(40_000))
        .await
        .unwrap();
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
    let before = peak_resident_bytes();
    let attachment: Attachment = owner.upload(task.id, "bomb.png", bomb).await.created();
    assert_eq!(attachment.content_type, "image/png");
    eventually("the thumbnail job ends", || async {
        let state: Option<String> = app
            .db
            .opt_scalar(
                "SELECT state FROM jobs WHERE kind = 'attachment_thumbnail' AND payload->>'id' = $1",
                &[&attachment.id.to_string()],
            )
            .await;
        state.as_deref() == Some("failed")
    })
    .await;
    let why: String = app
        .db
        .scalar(
            "SELECT last_error FROM jobs WHERE kind = 'attachment_thumbnail' AND payload->>'id' = $1",
            &[&attachment.id.to_string()],
        )
        .await;
    assert!(
        why.contains("40000 × 40000 pixels is over the limit"),
        "{why}"
    );
    owner
        .get(&thumbnail_path(attachment.id))
        .await
        .problem(404, "not_found");
    let grown = peak_resident_bytes().saturating_sub(before);
    assert!(
        grown < 256 * 1024 * 1024,
        "peak memory grew by {grown} bytes"
    );
    // The file itself is still there, as uploaded.
    assert_eq!(owner.get(&content_path(attachment.id)).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_would_fill_the_disk_is_507_and_stores_nothing() {
    let mut tuning = fast_tuning();
    tuning.attachments.free_reserve = u64::MAX / 4;
    let (app, place) = app_on(
        Backend::Local,
        Setup {
            tuning,
            ..Setup::default()
        },
    )
    .await;
    let owner = app.new_client().await;
    let project = owner.create_project("Full").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    owner
        .upload(task.id, "a.bin", random_bytes(100))
        .await
        .problem(507, "insufficient_storage");
    place.assert_empty().await;
    assert_eq!(unfinished_uploads(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_but_steady_upload_outlives_the_handler_deadline_and_a_stalled_one_does_not() {
    let mut tuning = fast_tuning();
    tuning.connections.handler_timeout = Duration::from_millis(1500);
    let (app, place) = app_on(
        Backend::Local,
        Setup {
            tuning,
            ..Setup::default()
        },
    )
    .await;
    let owner = app.new_client().await;
    let project = owner.create_project("Slow").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    let slow = |pause: Duration, chunks: usize| {
        let stream = futures::stream::unfold(0, move |sent| async move {
            if sent == chunks {
                return None;
            }
            tokio::time::sleep(pause).await;
            Some((Ok::<_, std::io::Error>(random_bytes(1000)), sent + 1))
        });
        reqwest::Body::wrap_stream(stream)
    };
    // 3 s in all, a chunk every 0.5 s: past the 1.5 s deadline, never idle that long.
    let steady: Attachment = owner
        .upload(task.id, "steady", slow(Duration::from_millis(500), 6))
        .await
        .created();
    assert_eq!(steady.size, 6000);
    // A client that stops sending is cut off.
    owner
        .upload(task.id, "stalled", slow(Duration::from_secs(4), 2))
        .await
        .problem(503, "unavailable");
    eventually("the stalled upload is cleaned up", || async {
        unfinished_uploads(&app).await == 0 && place.files().await.len() == 1
    })
    .await;
}

const BINARY: &str = env!("CARGO_BIN_EXE_docket");

/// Uploads small files one after another until `done`, checking on the way that an earlier
/// file still reads back whole; returns what it uploaded.
async fn keep_uploading(
    owner: &UserClient<'_>,
    task: Uuid,
    done: &std::sync::atomic::AtomicBool,
    earlier: &[(Uuid, String)],
) -> Vec<(Uuid, String)> {
    let mut uploaded = Vec::new();
    let mut n = 0usize;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        let bytes = random_bytes(5_000 + n);
        let attachment: Attachment = owner
            .upload(task, &format!("during-{n}.bin"), bytes)
            .await
            .created();
        uploaded.push((attachment.id, attachment.sha256));
        let (id, sha) = &earlier[n % earlier.len()];
        let read = owner.get(&content_path(id)).await;
        assert_eq!(
            &sha256_hex(read.bytes()),
            sha,
            "{id} read during the migration"
        );
        n += 1;
    }
    uploaded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_migrate_from_local_to_s3_while_uploads_continue_loses_nothing() {
    let (app, _local) = app_on(Backend::Local, Setup::default()).await;
    let owner = app.new_client().await;
    let project = owner.create_project("Moving").await;
    let task = owner.create_task(project.id, json!({"title": "t"})).await;
    let mut files: Vec<(Uuid, String)> = Vec::new();
    for i in 0..30 {
        let attachment: Attachment = owner
            .upload(
                task.id,
                &format!("before-{i}.bin"),
                random_bytes(20_000 + i),
            )
            .await
            .created();
        files.push((attachment.id, attachment.sha256));
    }
    let picture: Attachment = owner
        .upload(task.id, "p.png", png(600, 300))
        .await
        .created();
    files.push((picture.id, picture.sha256.clone()));
    eventually("the thumbnail is made", || async {
        let page: Page<Attachment> = owner
            .get(&attachments_path(task.id))
            .query(&[("limit", "1")])
            .await
            .good();
        page.items[0].thumbnail
    })
    .await;

    let bucket = s3_server::create_bucket().await;
    let target = format!("s3://{bucket}/docket");
    let data_dir = app
        .state
        .attachments
        .storage
        .local_root()
        .parent()
        .unwrap()
        .to_owned();
    let done = std::sync::atomic::AtomicBool::new(false);
    let migrate = async {
        let mut command = tokio::process::Command::new(BINARY);
        command
            .args(["storage", "migrate", "--to", &target])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &app.database_url)
            .env("DOCKET_DATA_DIR", &data_dir)
            .env("DOCKET_JWT_SECRET", JWT_SECRET)
            .env("DOCKET_ENCRYPTION_KEY", ENCRYPTION_KEY)
            .env("DOCKET_S3_ENDPOINT", &s3_server::server().endpoint)
            .env("AWS_ACCESS_KEY_ID", s3_server::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", s3_server::SECRET_KEY)
            .env("AWS_REGION", s3_server::REGION);
        // Let uploads run for a moment first, so some are under way at the switch.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let output = command.output().await.expect("docket storage migrate runs");
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        output
    };
    let (output, during_a, during_b) = tokio::join!(
        migrate,
        keep_uploading(&owner, task.id, &done, &files),
        keep_uploading(&owner, task.id, &done, &files),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "migrate failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("done:"), "{stdout}");
    assert!(!during_a.is_empty() && !during_b.is_empty());
    files.extend(during_a);
    files.extend(during_b);
    // After the switch, new files go to S3 directly.
    let after: Attachment = owner
        .upload(task.id, "after.bin", random_bytes(999))
        .await
        .created();
    files.push((after.id, after.sha256));

    let elsewhere: i64 = app
        .db
        .scalar(
            "SELECT count(*) FROM attachments WHERE store <> $1",
            &[&target],
        )
        .await;
    assert_eq!(elsewhere, 0, "every row points at S3");
    // Nothing is read from the old store any more: remove it, and read everything back.
    std::fs::remove_dir_all(data_dir.join("attachments")).unwrap();
    for (id, sha) in &files {
        let read = owner.get(&content_path(id)).await;
        assert_eq!(read.status(), 200, "{id}");
        assert_eq!(&sha256_hex(read.bytes()), sha, "{id}");
    }
    assert_eq!(owner.get(&thumbnail_path(picture.id)).await.status(), 200);
    assert_eq!(
        owner.get_task(task.id).await.attachment_count as usize,
        files.len(),
        "no file lost, none doubled"
    );
    assert_eq!(
        s3_server::keys(&bucket, "docket/files/").await.len(),
        files.len()
    );
    assert_eq!(s3_server::unfinished_multipart_uploads(&bucket).await, 0);
    // Run again: nothing left to do, and it says so.
    let again = std::process::Command::new(BINARY)
        .args(["storage", "migrate", "--to", &target])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.database_url)
        .env("DOCKET_DATA_DIR", &data_dir)
        .env("DOCKET_JWT_SECRET", JWT_SECRET)
        .env("DOCKET_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("DOCKET_S3_ENDPOINT", &s3_server::server().endpoint)
        .env("AWS_ACCESS_KEY_ID", s3_server::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", s3_server::SECRET_KEY)
        .env("AWS_REGION", s3_server::REGION)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("done: 0 files"));
}

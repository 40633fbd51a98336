//! A real S3-compatible server for the attachment tests: moto in server mode (from PyPI, pinned
//! in `s3-requirements.txt`), installed into a virtualenv under `target/api-tests/moto` on
//! first use and started once per test run. A watcher process stops it when the test process
//! exits, however it exits. Each test uses a bucket of its own.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use uuid::Uuid;

pub const ACCESS_KEY: &str = "docket-test";
pub const SECRET_KEY: &str = "docket-test-secret";
pub const REGION: &str = "us-east-1";

pub struct S3Server {
    pub endpoint: String,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn run(command: &mut Command, what: &str) {
    let status = command.status().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(status.success(), "{what} failed ({status})");
}

/// The virtualenv with moto; rebuilt when the requirements change.
fn moto_server(work: &Path) -> PathBuf {
    let venv = work.join("venv");
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/s3-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    let stamp = venv.join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        eprintln!("creating {} with {}", venv.display(), wanted.trim());
        let _ = std::fs::remove_dir_all(&venv);
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv (Debian: apt-get install python3-venv)",
        );
        run(
            Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "--quiet", "-r"])
                .arg(&requirements),
            "pip install -r tests/api/s3-requirements.txt",
        );
        std::fs::write(&stamp, wanted).unwrap();
    }
    venv.join("bin/moto_server")
}

/// The server shared by every test of this run, started on first use.
pub fn server() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        std::thread::spawn(start)
            .join()
            .expect("the S3 test server starts")
    })
}

fn start() -> S3Server {
    let work = target_dir().join("api-tests/moto");
    std::fs::create_dir_all(&work).unwrap();
    // One installation at a time (several test binaries may start at once).
    let lock = std::fs::File::create(work.join("install.lock")).unwrap();
    // SAFETY: flock on a descriptor this function owns.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    let binary = moto_server(&work);
    drop(lock);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill {child} 2>/dev/null",
        me = std::process::id(),
        child = child.id()
    );
    let status = Command::new("setsid")
        .args(["-f", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the moto watcher starts");
    assert!(status.success());
    // The child is left to the watcher (and reaped by init after this process exits).
    std::mem::forget(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "moto_server did not listen within a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    S3Server {
        endpoint: format!("http://127.0.0.1:{port}"),
    }
}

/// A new, empty bucket.
pub async fn create_bucket() -> String {
    let name = format!("docket-{}", Uuid::now_v7().simple());
    let response = reqwest::Client::new()
        .put(format!("{}/{name}", server().endpoint))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "creating a bucket: {response:?}"
    );
    name
}

/// Every key in `bucket` under `prefix`.
pub async fn keys(bucket: &str, prefix: &str) -> Vec<String> {
    let text = reqwest::Client::new()
        .get(format!("{}/{bucket}", server().endpoint))
        .query(&[("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    elements(&text, "Key")
}

/// How many multipart uploads in `bucket` were started and neither completed nor aborted.
pub async fn unfinished_multipart_uploads(bucket: &str) -> usize {
    let text = reqwest::Client::new()
        .get(format!("{}/{bucket}?uploads", server().endpoint))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    elements(&text, "UploadId").len()
}

fn elements(xml: &str, name: &str) -> Vec<String> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next())
        .map(str::to_owned)
        .collect()
}

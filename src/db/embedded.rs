//! The embedded PostgreSQL cluster: the zero-set-up default when `DATABASE_URL` is unset.
//!
//! The cluster lives in `<data dir>/pg/data` and listens only on a unix socket in
//! `<data dir>/pg/sock` (no TCP port to collide with). It uses the system's PostgreSQL server
//! binaries; when Docket runs as root the server runs as the `postgres` user, because
//! PostgreSQL refuses to run as root.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

pub const DATABASE: &str = "docket";
pub const SUPERUSER: &str = "docket";

/// How a cluster trades durability for speed: test clusters skip fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Durable,
    Throwaway,
}

/// Holds an exclusive `flock` on `<data dir>/docket.lock` for the life of the process. The
/// kernel drops it when the process dies, even by `kill -9`, so a stale lock cannot exist.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    pub fn try_acquire(data_dir: &Path) -> anyhow::Result<Option<DataDirLock>> {
        fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let path = data_dir.join("docket.lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a file descriptor we own; no memory is shared.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Ok(None);
        }
        Ok(Some(DataDirLock { _file: file }))
    }
}

#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    root: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<(u32, u32)>,
}

impl EmbeddedPostgres {
    /// Finds the server binaries and prepares paths under `<data dir>/pg`.
    pub fn locate(data_dir: &Path) -> anyhow::Result<Self> {
        let data_dir = absolute(data_dir)?;
        let bin_dir = find_bin_dir().ok_or_else(|| {
            anyhow!(
                "no PostgreSQL server binaries found (looked for initdb and pg_ctl on PATH and in \
                 /usr/lib/postgresql/*/bin). Install them (Debian/Ubuntu: apt-get install \
                 postgresql) or set DATABASE_URL to use an existing PostgreSQL server"
            )
        })?;
        // SAFETY: geteuid has no preconditions.
        let run_as = if unsafe { libc::geteuid() } == 0 {
            Some(postgres_user().ok_or_else(|| {
                anyhow!(
                    "running as root, PostgreSQL must run as another user, but there is no \
                     'postgres' user: create one or run Docket as an unprivileged user"
                )
            })?)
        } else {
            None
        };
        let embedded = Self {
            root: data_dir.join("pg"),
            bin_dir,
            run_as,
        };
        let socket = embedded.socket_dir().join(".s.PGSQL.5432");
        if socket.as_os_str().len() > 100 {
            bail!(
                "the data directory path is too long for a unix socket ({}); choose a shorter \
                 DOCKET_DATA_DIR",
                socket.display()
            );
        }
        Ok(embedded)
    }

    pub fn cluster_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    pub fn socket_dir(&self) -> PathBuf {
        self.root.join("sock")
    }

    /// Where the server writes its log (the reasons a start failed are read from here).
    pub fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn pid_file(&self) -> PathBuf {
        self.cluster_dir().join("postmaster.pid")
    }

    pub fn is_initialized(&self) -> bool {
        self.cluster_dir().join("PG_VERSION").exists()
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin_dir.join(program));
        command
            .current_dir(&self.root)
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            // Also drops root's supplementary groups.
            command.uid(uid).gid(gid);
        }
        command
    }

    fn run(&self, mut command: Command, what: &str) -> anyhow::Result<String> {
        let output = command
            .output()
            .with_context(|| format!("cannot run {what}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if !output.status.success() {
            bail!("{what} failed: {}", text.trim());
        }
        Ok(text)
    }

    fn chown(&self, path: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.run_as {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .with_context(|| format!("cannot chown {} to postgres", path.display()))?;
        }
        Ok(())
    }

    /// Creates the cluster on first use. Returns true when it was created now.
    pub fn ensure_initialized(&self, durability: Durability) -> anyhow::Result<bool> {
        if self.is_initialized() {
            return Ok(false);
        }
        if let Some((uid, _)) = self.run_as {
            check_traversable(self.root.parent().unwrap_or(&self.root), uid)?;
        }
        // A previous initdb may have died half-way: start from an empty directory.
        if self.cluster_dir().exists() {
            fs::remove_dir_all(self.cluster_dir())?;
        }
        for dir in [self.root.clone(), self.cluster_dir(), self.socket_dir()] {
            fs::create_dir_all(&dir)?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
            self.chown(&dir)?;
        }
        let mut initdb = self.command("initdb");
        initdb.arg("-D").arg(self.cluster_dir()).args([
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        if durability == Durability::Throwaway {
            initdb.arg("--no-sync");
        }
        self.run(initdb, "initdb")?;

        let mut settings = format!(
            "\n# Added by docket\nlisten_addresses = ''\nunix_socket_directories = '{}'\n\
             max_connections = 100\nshared_buffers = 128MB\n",
            self.socket_dir().display()
        );
        if durability == Durability::Throwaway {
            settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let conf = self.cluster_dir().join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf)?
            .write_all(settings.as_bytes())?;
        self.ensure_recovery_bound()?;
        Ok(true)
    }

    /// Checkpoints often enough that crash recovery (after the postmaster was killed) replays
    /// little WAL: at most about 64 MB, a second or two, where PostgreSQL's defaults (1 GB or
    /// five minutes) let a bulk import leave several seconds of it. Appended once, also to
    /// clusters made before (the operator may edit the lines below the marker).
    fn ensure_recovery_bound(&self) -> anyhow::Result<()> {
        const MARKER: &str = "# Added by docket: bounded crash recovery";
        let conf = self.cluster_dir().join("postgresql.conf");
        let text =
            fs::read_to_string(&conf).with_context(|| format!("cannot read {}", conf.display()))?;
        if text.contains(MARKER) {
            return Ok(());
        }
        let settings = format!(
            "\n{MARKER}\nmax_wal_size = 64MB\nmin_wal_size = 32MB\ncheckpoint_timeout = 1min\n"
        );
        OpenOptions::new()
            .append(true)
            .open(&conf)?
            .write_all(settings.as_bytes())?;
        Ok(())
    }

    /// Gets ready to start the server: returns the pid of a postmaster left running by a
    /// Docket that was killed (to be adopted), or else waits for the backends of a killed one
    /// to let go of its shared memory and removes its stale pid and socket files.
    pub fn prepare_start(&self) -> anyhow::Result<Option<i32>> {
        self.ensure_recovery_bound()?;
        let pid_file = self.pid_file();
        if let Some(pid) = read_pid(&pid_file) {
            if self.is_our_postmaster(pid) {
                return Ok(Some(pid));
            }
            // Orphaned backends exit when they notice their postmaster is gone; a new one
            // refuses to start while they still hold the old shared memory.
            if let Some(shmid) = shared_memory_id(&pid_file) {
                wait_until_detached(shmid, Duration::from_secs(10));
            }
            tracing::info!(
                pid,
                "removing the stale pid and socket files of a stopped PostgreSQL"
            );
            let _ = fs::remove_file(&pid_file);
        }
        for name in [".s.PGSQL.5432", ".s.PGSQL.5432.lock"] {
            let _ = fs::remove_file(self.socket_dir().join(name));
        }
        let log = self.log_file();
        if !log.exists() {
            File::create(&log)?;
            self.chown(&log)?;
        }
        Ok(None)
    }

    /// The server process itself (`postgres -D …`), not daemonised: the caller is its parent
    /// and learns of its exit. It gets a process group of its own, so that a Ctrl-C meant
    /// for Docket does not reach it (Docket stops it in order, after draining).
    pub fn postmaster_command(&self) -> anyhow::Result<tokio::process::Command> {
        let log = OpenOptions::new()
            .append(true)
            .open(self.log_file())
            .with_context(|| format!("cannot open {}", self.log_file().display()))?;
        let mut command = tokio::process::Command::new(self.bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(self.cluster_dir())
            .current_dir(&self.root)
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(false);
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        Ok(command)
    }

    /// The postmaster's status line in its pid file, when the file is `pid`'s: `ready` once it
    /// accepts connections.
    pub fn postmaster_status(&self, pid: i32) -> Option<String> {
        let text = fs::read_to_string(self.pid_file()).ok()?;
        let mut lines = text.lines();
        if lines.next()?.trim().parse::<i32>().ok()? != pid {
            return None;
        }
        Some(lines.nth(6)?.trim().to_owned())
    }

    /// A live postmaster of this cluster: a `postgres` process whose command line names the
    /// data directory (a recycled pid of another cluster's process does not).
    fn is_our_postmaster(&self, pid: i32) -> bool {
        let cluster = self.cluster_dir();
        process_is_postgres(pid)
            && fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                cmdline
                    .split(|b| *b == 0)
                    .any(|arg| Path::new(std::ffi::OsStr::from_bytes(arg)) == cluster)
            })
    }

    /// The pid of the running postmaster, if any.
    pub fn postmaster_pid(&self) -> Option<i32> {
        read_pid(&self.pid_file()).filter(|pid| self.is_our_postmaster(*pid))
    }

    /// Starts the cluster with `pg_ctl` (waiting until it accepts connections), daemonised:
    /// for clusters nobody supervises (the tests' own). A postmaster left running by a Docket
    /// that was killed is adopted; stale pid and socket files from a killed postmaster are
    /// removed.
    pub fn start(&self) -> anyhow::Result<()> {
        if let Some(pid) = self.prepare_start()? {
            tracing::info!(pid, "adopting the embedded PostgreSQL left running");
            return Ok(());
        }
        let log = self.log_file();
        // Backends of a killed postmaster can hold its shared memory for a moment.
        let mut last_error = None;
        for attempt in 0..5 {
            let mut pg_ctl = self.command("pg_ctl");
            pg_ctl
                .arg("start")
                .args(["-w", "-t", "60", "-s", "-D"])
                .arg(self.cluster_dir())
                .arg("-l")
                .arg(&log);
            match self.run(pg_ctl, "pg_ctl start") {
                Ok(_) => return Ok(()),
                Err(error) => {
                    last_error = Some(error);
                    std::thread::sleep(Duration::from_millis(200 * (attempt + 1)));
                }
            }
        }
        let tail = fs::read_to_string(&log)
            .map(|text| {
                let lines: Vec<_> = text.lines().rev().take(5).collect();
                lines.into_iter().rev().collect::<Vec<_>>().join("\n")
            })
            .unwrap_or_default();
        Err(last_error
            .unwrap_or_else(|| anyhow!("pg_ctl start failed"))
            .context(format!(
                "embedded PostgreSQL did not start; its log says:\n{tail}"
            )))
    }

    pub fn is_running(&self) -> bool {
        self.postmaster_pid().is_some()
    }

    /// Stops the cluster, letting it finish writing (fast shutdown).
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.is_running() {
            return Ok(());
        }
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("stop")
            .args(["-w", "-t", "60", "-s", "-m", "fast", "-D"])
            .arg(self.cluster_dir());
        let Err(error) = self.run(pg_ctl, "pg_ctl stop") else {
            return Ok(());
        };
        // A postmaster that was killed (kill -9) may still look alive for a moment, and then
        // refuses a fast shutdown: settle for an immediate one, which it recovers from on the
        // next start like from a crash.
        if !self.is_running() {
            return Ok(());
        }
        tracing::warn!(error = %error, "fast shutdown failed; stopping the cluster immediately");
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("stop")
            .args(["-w", "-t", "10", "-s", "-m", "immediate", "-D"])
            .arg(self.cluster_dir());
        match self.run(pg_ctl, "pg_ctl stop") {
            Ok(_) => Ok(()),
            Err(_) if !self.is_running() => Ok(()),
            Err(immediate) => Err(immediate),
        }
    }

    /// Creates the application database if it does not exist yet.
    pub async fn ensure_database(&self, name: &str) -> anyhow::Result<()> {
        let client = super::connect(&self.pg_config("postgres")).await?;
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
                &[&name],
            )
            .await?
            .get(0);
        if !exists {
            client
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await?;
        }
        Ok(())
    }

    /// Connection settings for a database of the cluster, over its unix socket.
    pub fn pg_config(&self, database: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(self.socket_dir())
            .user(SUPERUSER)
            .dbname(database);
        config
    }

    /// A libpq-style URL for `psql` and for `DATABASE_URL`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@localhost/{database}?host={}",
            self.socket_dir().display()
        )
    }

    /// Kills the postmaster with SIGKILL, as a crash would. For failure tests.
    pub fn kill_hard(&self) {
        if let Some(pid) = read_pid(&self.pid_file()) {
            // SAFETY: sending a signal to a pid has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Kills the postmaster at once (SIGQUIT: immediate shutdown). For test teardown.
    pub fn kill(&self) {
        if let Some(pid) = read_pid(&self.pid_file()) {
            // SAFETY: sending a signal to a pid has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGQUIT) };
        }
    }
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(path)
        .with_context(|| format!("cannot create data directory {}", path.display()))?;
    fs::canonicalize(path).with_context(|| format!("cannot resolve {}", path.display()))
}

fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_tools(&dir) {
                // Debian's /usr/bin/pg_ctl is a wrapper; prefer the real binaries' directory.
                if let Ok(real) = fs::canonicalize(dir.join("initdb")) {
                    if let Some(parent) = real.parent() {
                        if has_tools(parent) {
                            return Some(parent.to_path_buf());
                        }
                    }
                }
                return Some(dir);
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

/// Every directory PostgreSQL binaries are looked for in: the one the server binaries are taken
/// from first, then each installed version's (`/usr/lib/postgresql/*/bin`), for the client
/// tools of a version that matches a server (`db::backup`).
pub fn binary_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = find_bin_dir().into_iter().collect();
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.filter_map(Result::ok) {
            let bin = entry.path().join("bin");
            if bin.is_dir() && !dirs.contains(&bin) {
                dirs.push(bin);
            }
        }
    }
    dirs
}

fn postgres_user() -> Option<(u32, u32)> {
    let name = std::ffi::CString::new("postgres").ok()?;
    // SAFETY: getpwnam returns a pointer to static storage or null; we copy the ids at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Some((uid, gid))
}

/// The postgres user must be able to reach the data directory through every parent.
fn check_traversable(dir: &Path, uid: u32) -> anyhow::Result<()> {
    for ancestor in dir.ancestors() {
        let meta = fs::metadata(ancestor)?;
        let reachable = meta.mode() & 0o001 != 0 || meta.uid() == uid;
        if !reachable {
            bail!(
                "the postgres user cannot reach {} (mode {:o}): PostgreSQL runs as 'postgres', \
                 so choose a DOCKET_DATA_DIR outside it (for example /var/lib/docket) or allow \
                 traversal with chmod o+x",
                ancestor.display(),
                meta.mode() & 0o777
            );
        }
    }
    Ok(())
}

/// The id of the shared memory segment a postmaster's pid file names (its seventh line is
/// `key id`).
fn shared_memory_id(pid_file: &Path) -> Option<i32> {
    let text = fs::read_to_string(pid_file).ok()?;
    text.lines().nth(6)?.split_whitespace().nth(1)?.parse().ok()
}

/// Waits until no process is attached to the segment (or it is gone), at most `within`.
fn wait_until_detached(shmid: i32, within: Duration) {
    let started = std::time::Instant::now();
    loop {
        // SAFETY: IPC_STAT only writes the struct we pass.
        let attached = unsafe {
            let mut info: libc::shmid_ds = std::mem::zeroed();
            if libc::shmctl(shmid, libc::IPC_STAT, &mut info) != 0 {
                return;
            }
            info.shm_nattch
        };
        if attached == 0 {
            return;
        }
        if started.elapsed() > within {
            tracing::warn!(
                shmid,
                attached,
                "processes of a stopped PostgreSQL still hold its shared memory"
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pid(pid_file: &Path) -> Option<i32> {
    fs::read_to_string(pid_file)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// A live (not zombie) process named `postgres`. A killed postmaster whose parent does not
/// reap it stays a zombie with its name, which must not count as running.
fn process_is_postgres(pid: i32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // Format: `pid (comm) state ...`; comm may contain spaces, so split at the last ')'.
    let Some((head, tail)) = stat.rsplit_once(')') else {
        return false;
    };
    let name = head.split_once('(').map(|(_, n)| n).unwrap_or("");
    let state = tail.trim_start().chars().next().unwrap_or('Z');
    name == "postgres" && !matches!(state, 'Z' | 'X')
}

/// Reads a secret kept in the data dir, or generates and keeps one (mode 0600).
pub fn dev_secret(data_dir: &Path, name: &str) -> anyhow::Result<String> {
    let dir = data_dir.join("secrets");
    fs::create_dir_all(&dir)?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    let path = dir.join(name);
    if let Ok(existing) = fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= crate::config::KeyMaterial::MIN_LEN {
            return Ok(existing);
        }
    }
    let secret = crate::tokens::random_token(48);
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    tracing::info!(
        path = %path.display(),
        "generated a development secret and kept it in the data dir; set it explicitly in production"
    );
    Ok(secret)
}

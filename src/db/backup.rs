//! `docket backup` and `docket restore` (API.md §7, §15): PostgreSQL's own `pg_dump` custom
//! format, made from one snapshot while servers keep writing, and `pg_restore` into an empty
//! database in one transaction, followed by the migrations of this release.
//!
//! The tools are PostgreSQL's client binaries, found where the embedded cluster's server
//! binaries are found, choosing a version that can read the server: `pg_dump` refuses a server
//! newer than itself, and an archive is readable only by a `pg_restore` at least as new.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use tokio_postgres::config::Host;

/// How often a running backup or restore prints where it is.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// One table's rows in the backup's snapshot.
#[derive(Debug, Clone)]
pub struct TableRows {
    pub table: String,
    pub rows: i64,
}

/// What a finished backup holds.
#[derive(Debug)]
pub struct BackupSummary {
    pub file: PathBuf,
    pub bytes: u64,
    pub elapsed: Duration,
    pub server_version: String,
    pub tables: Vec<TableRows>,
}

impl BackupSummary {
    /// The lines `docket backup` prints when it is done.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "backup complete: {} ({} bytes, {} tables, {:.1} s, PostgreSQL {})",
            self.file.display(),
            self.bytes,
            self.tables.len(),
            self.elapsed.as_secs_f64(),
            self.server_version
        )];
        let width = self.tables.iter().map(|t| t.table.len()).max().unwrap_or(0);
        lines.extend(
            self.tables
                .iter()
                .map(|t| format!("  {:width$}  {:>10} rows", t.table, t.rows)),
        );
        lines
    }
}

/// Takes a consistent snapshot of the database `pg` names into `output`: pg_dump reads the
/// snapshot a transaction of ours exported, and that transaction counts each table's rows
/// meanwhile, so the summary describes exactly what the file holds. The file appears under
/// its name only when complete (written to a temporary name in the same directory, synced,
/// renamed).
pub async fn backup(
    pg: &tokio_postgres::Config,
    output: &Path,
    progress: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<BackupSummary> {
    let started = Instant::now();
    let directory = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = output
        .file_name()
        .ok_or_else(|| anyhow!("--output names no file: {}", output.display()))?;
    if !directory.is_dir() {
        bail!("the directory of {} does not exist", output.display());
    }
    let partial = directory.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));

    let mut client = super::connect(pg).await?;
    let (version_num, server_version) = server_version(&client).await?;
    let pg_dump = find_tool("pg_dump", version_num / 10000)?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let snapshot: String = tx
        .query_one("SELECT pg_export_snapshot()", &[])
        .await?
        .get(0);

    let mut command = tokio::process::Command::new(&pg_dump);
    command
        .args(["--format=custom", "--no-owner", "--no-privileges"])
        .arg(format!("--snapshot={snapshot}"))
        .arg("--file")
        .arg(&partial)
        .envs(libpq_env(pg)?)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .with_context(|| format!("cannot run {}", pg_dump.display()))?;
    // The file is removed unless it is renamed into place.
    let cleanup = RemoveOnDrop(Some(partial.clone()));

    let counting = count_rows(&tx);
    let dumping = watch(child, &partial, "backup", started, progress);
    let (tables, dumped) = tokio::join!(counting, dumping);
    dumped.context("pg_dump failed")?;
    let tables = tables?;
    tx.commit().await?;

    let file = fs::File::open(&partial)?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    fs::rename(&partial, output)
        .with_context(|| format!("cannot rename the backup to {}", output.display()))?;
    cleanup.disarm();
    fs::File::open(directory)?.sync_all()?;
    Ok(BackupSummary {
        file: output.to_path_buf(),
        bytes,
        elapsed: started.elapsed(),
        server_version,
        tables,
    })
}

/// Loads the backup `input` into the database `pg` names, which must be empty: in one
/// transaction, so a failure leaves it as it was. The caller migrates afterwards.
pub async fn restore(
    pg: &tokio_postgres::Config,
    input: &Path,
    progress: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = super::connect(pg).await?;
    let (version_num, _) = server_version(&client).await?;
    let pg_restore = find_tool("pg_restore", version_num / 10000)?;
    check_archive(&pg_restore, input).await?;
    let objects: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
            &[],
        )
        .await?
        .get(0);
    if objects > 0 {
        bail!(
            "the target database is not empty ({objects} tables, indexes or sequences): restore \
             only loads into an empty database; nothing was changed"
        );
    }
    drop(client);
    let mut command = tokio::process::Command::new(&pg_restore);
    command
        .args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
        ])
        .arg("--dbname")
        .arg(pg.get_dbname().unwrap_or("postgres"))
        .arg(input)
        .envs(libpq_env(pg)?)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .with_context(|| format!("cannot run {}", pg_restore.display()))?;
    watch(child, input, "restore", started, progress)
        .await
        .context("pg_restore failed; nothing was changed")?;
    Ok(started.elapsed())
}

async fn server_version(client: &tokio_postgres::Client) -> anyhow::Result<(u32, String)> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version')",
            &[],
        )
        .await?;
    let num: i32 = row.get(0);
    Ok((u32::try_from(num).unwrap_or(0), row.get(1)))
}

/// Every table's rows, read in the backup's snapshot.
async fn count_rows(tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<Vec<TableRows>> {
    let tables = tx
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), \
                    CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' \
             ORDER BY 2",
            &[],
        )
        .await?;
    let mut counted = Vec::with_capacity(tables.len());
    for table in tables {
        let quoted: String = table.get(0);
        let rows: i64 = tx
            .query_one(&format!("SELECT count(*) FROM {quoted}"), &[])
            .await?
            .get(0);
        counted.push(TableRows {
            table: table.get(1),
            rows,
        });
    }
    Ok(counted)
}

/// Waits for a tool, printing how far it is every few seconds (the size of the file it
/// writes or reads), and turns a failure into its own words.
async fn watch(
    mut child: tokio::process::Child,
    file: &Path,
    what: &str,
    started: Instant,
    progress: &mut (dyn FnMut(String) + Send),
) -> anyhow::Result<()> {
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reading = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    let mut ticker =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = ticker.tick() => {
                // A backup's file grows as it is written; a restore's does not say how far
                // pg_restore is, so it only says that it is still loading.
                let bytes = fs::metadata(file).map(|m| m.len()).unwrap_or(0);
                let how_far = if what == "backup" {
                    format!("{:.1} MB written", bytes as f64 / 1e6)
                } else {
                    format!("still loading the {:.1} MB backup", bytes as f64 / 1e6)
                };
                progress(format!(
                    "{what}: {how_far}, {:.0} s",
                    started.elapsed().as_secs_f64()
                ));
            }
        }
    };
    let errors = reading.await.unwrap_or_default();
    if !status.success() {
        bail!("{}", errors.trim());
    }
    Ok(())
}

/// Refuses a file that is not a custom-format archive before anything is changed.
async fn check_archive(pg_restore: &Path, input: &Path) -> anyhow::Result<()> {
    if !input.is_file() {
        bail!("no backup file at {}", input.display());
    }
    let output = tokio::process::Command::new(pg_restore)
        .arg("--list")
        .arg(input)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("cannot run {}", pg_restore.display()))?;
    if !output.status.success() {
        bail!(
            "{} is not a backup this PostgreSQL can read: {}",
            input.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// The connection as libpq's environment variables, so a password never appears on a
/// command line (where `ps` would show it).
fn libpq_env(pg: &tokio_postgres::Config) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut env = Vec::new();
    // libpq tries several hosts in order, as tokio-postgres does (a URL's `host=` query adds
    // one after the authority's).
    let hosts: Vec<String> = pg
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if !hosts.is_empty() {
        env.push(("PGHOST", hosts.join(",")));
    }
    let ports: Vec<String> = pg.get_ports().iter().map(u16::to_string).collect();
    if !ports.is_empty() {
        env.push(("PGPORT", ports.join(",")));
    }
    if let Some(user) = pg.get_user() {
        env.push(("PGUSER", user.to_owned()));
    }
    if let Some(password) = pg.get_password() {
        env.push((
            "PGPASSWORD",
            String::from_utf8(password.to_vec()).context("the database password is not UTF-8")?,
        ));
    }
    if let Some(dbname) = pg.get_dbname() {
        env.push(("PGDATABASE", dbname.to_owned()));
    }
    if let Some(options) = pg.get_options() {
        env.push(("PGOPTIONS", options.to_owned()));
    }
    let sslmode = match pg.get_ssl_mode() {
        tokio_postgres::config::SslMode::Disable => "disable",
        tokio_postgres::config::SslMode::Require => "require",
        _ => "prefer",
    };
    env.push(("PGSSLMODE", sslmode.to_owned()));
    env.push(("PGAPPNAME", "docket-backup".to_owned()));
    Ok(env)
}

/// The `name` tool (`pg_dump`, `pg_restore`) of the lowest PostgreSQL version that is at
/// least `server_major`, among the directories the server binaries are looked for in.
pub fn find_tool(name: &str, server_major: u32) -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = super::embedded::binary_dirs()
        .into_iter()
        .map(|dir| dir.join(name))
        .filter(|path| path.is_file())
        .filter_map(|path| Some((tool_major(&path)?, path)))
        .collect();
    found.sort();
    let versions: Vec<String> = found.iter().map(|(v, _)| v.to_string()).collect();
    found
        .into_iter()
        .find(|(major, _)| *major >= server_major)
        .map(|(_, path)| path)
        .ok_or_else(|| {
            anyhow!(
                "no {name} that can read a PostgreSQL {server_major} server (found versions: \
                 {}); install the PostgreSQL {server_major} client tools",
                if versions.is_empty() {
                    "none".to_owned()
                } else {
                    versions.join(", ")
                }
            )
        })
}

/// `pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)` → 15.
fn tool_major(path: &Path) -> Option<u32> {
    let output = std::process::Command::new(path)
        .arg("--version")
        .output()
        .ok()?;
    parse_major(&String::from_utf8_lossy(&output.stdout))
}

fn parse_major(version: &str) -> Option<u32> {
    let number = version.split(") ").nth(1)?.split_whitespace().next()?;
    number.split(['.', 'b', 'r', 'd']).next()?.parse().ok()
}

struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// Prints a progress line on standard error at once.
pub fn print_progress(line: String) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{line}");
}

#[cfg(test)]
mod tests {
    use super::parse_major;

    #[test]
    fn versions_of_the_client_tools_are_read() {
        assert_eq!(
            parse_major("pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(parse_major("pg_restore (PostgreSQL) 17beta2\n"), Some(17));
        assert_eq!(parse_major("pg_dump (PostgreSQL) 9.6.24\n"), Some(9));
        assert_eq!(parse_major("nonsense"), None);
    }
}

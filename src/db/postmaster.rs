//! The embedded cluster's postmaster, supervised.
//!
//! Docket starts `postgres` as its own child (not daemonised by `pg_ctl`), so it learns the
//! moment the postmaster exits — the OOM killer, a crash, an operator's `kill` — and starts it
//! again; PostgreSQL's crash recovery replays the WAL, so nothing committed is lost. A
//! postmaster left running by a Docket that was killed is adopted and watched through a pidfd.
//! Starts are bounded: a few tries a minute with backoff between failed ones; when they are
//! spent the supervisor gives up with the reason (the server then exits non-zero, and the
//! service manager's restart policy takes over). One log line per change of state.

use std::collections::VecDeque;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use tokio::io::unix::AsyncFd;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::embedded::EmbeddedPostgres;

/// How hard the supervisor tries.
#[derive(Debug, Clone)]
pub struct RestartPolicy {
    /// Starts allowed in any 60 s, the first one included; one more and it gives up.
    pub tries_per_minute: usize,
    /// The wait after the first failed try; it doubles after each failed try in a row.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// A start (crash recovery included) must accept connections within this.
    pub ready_within: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            tries_per_minute: 6,
            first_retry: Duration::from_millis(250),
            max_retry: Duration::from_secs(4),
            ready_within: Duration::from_secs(60),
        }
    }
}

/// What the supervisor is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostmasterState {
    Running,
    /// It exited and is being started again.
    Restarting,
    /// The tries are spent: the reason the last one failed.
    GaveUp(String),
}

/// The running postmaster and the task that watches it.
pub struct Supervisor {
    state: watch::Receiver<PostmasterState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Supervisor {
    /// Starts the cluster (or adopts the postmaster left running), trying as `policy`
    /// allows, and watches it from then on. The error names why the last try failed.
    pub async fn start(postgres: EmbeddedPostgres, policy: RestartPolicy) -> anyhow::Result<Self> {
        let mut tries = Tries::default();
        let (_never, mut no_stop) = oneshot::channel::<()>();
        let started = Instant::now();
        let postmaster = match start_within_tries(&postgres, &policy, &mut tries, &mut no_stop)
            .await
        {
            Attempt::Started(postmaster) => postmaster,
            Attempt::GaveUp(reason) => return Err(anyhow!(reason)),
            Attempt::Stopped => unreachable!("nobody can stop a start that is not returned yet"),
        };
        tracing::info!(
            pid = postmaster.pid(),
            took_ms = started.elapsed().as_millis() as u64,
            adopted = postmaster.is_adopted(),
            "embedded PostgreSQL running"
        );
        metrics::gauge!("docket_embedded_postgres_up").set(1.0);
        let (state_tx, state) = watch::channel(PostmasterState::Running);
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(watch_over(
            postgres, policy, postmaster, tries, state_tx, stop_rx,
        ));
        Ok(Self {
            state,
            stop: Some(stop),
            task,
        })
    }

    pub fn state(&self) -> PostmasterState {
        self.state.borrow().clone()
    }

    /// Resolves with the reason once the supervisor has given up.
    pub fn gave_up(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        let mut state = self.state.clone();
        async move {
            loop {
                if let PostmasterState::GaveUp(reason) = &*state.borrow_and_update() {
                    return reason.clone();
                }
                if state.changed().await.is_err() {
                    // The supervisor ended without giving up (it was stopped): never.
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// Stops watching, then stops the server (a fast shutdown: it finishes writing).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .context("the PostgreSQL supervisor failed")?;
        Ok(())
    }
}

/// When the starts of the last minute were, and how many failed in a row.
#[derive(Default)]
struct Tries {
    starts: VecDeque<Instant>,
    failed_in_a_row: u32,
}

impl Tries {
    const WINDOW: Duration = Duration::from_secs(60);

    /// Records a start if the policy allows one now.
    fn take(&mut self, policy: &RestartPolicy) -> bool {
        while self
            .starts
            .front()
            .is_some_and(|at| at.elapsed() >= Self::WINDOW)
        {
            self.starts.pop_front();
        }
        if self.starts.len() >= policy.tries_per_minute {
            return false;
        }
        self.starts.push_back(Instant::now());
        true
    }

    /// The wait before the next try: none after a success, then doubling.
    fn delay(&self, policy: &RestartPolicy) -> Duration {
        match self.failed_in_a_row {
            0 => Duration::ZERO,
            n => policy
                .first_retry
                .saturating_mul(1 << (n - 1).min(16))
                .min(policy.max_retry),
        }
    }
}

enum Attempt {
    Started(Postmaster),
    GaveUp(String),
    Stopped,
}

/// Tries to start until one try succeeds or the tries of the minute are spent.
async fn start_within_tries(
    postgres: &EmbeddedPostgres,
    policy: &RestartPolicy,
    tries: &mut Tries,
    stop: &mut oneshot::Receiver<()>,
) -> Attempt {
    let mut last_reason = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(tries.delay(policy)) => {}
            _ = &mut *stop => return Attempt::Stopped,
        }
        if !tries.take(policy) {
            let reason = last_reason.unwrap_or_else(|| "it kept exiting".to_owned());
            return Attempt::GaveUp(format!(
                "the embedded PostgreSQL cannot be kept running ({} starts within a minute); \
                 the last one: {reason}",
                policy.tries_per_minute
            ));
        }
        match start_once(postgres, policy).await {
            Ok(postmaster) => {
                tries.failed_in_a_row = 0;
                return Attempt::Started(postmaster);
            }
            Err(error) => {
                let reason = format!("{error:#}");
                tracing::warn!(reason, "the embedded PostgreSQL did not start");
                tries.failed_in_a_row += 1;
                last_reason = Some(reason);
            }
        }
    }
}

/// One try: adopt the postmaster left running, or start one and wait until it accepts
/// connections.
async fn start_once(
    postgres: &EmbeddedPostgres,
    policy: &RestartPolicy,
) -> anyhow::Result<Postmaster> {
    let prepared = {
        let postgres = postgres.clone();
        tokio::task::spawn_blocking(move || postgres.prepare_start()).await??
    };
    if let Some(pid) = prepared {
        tracing::info!(pid, "adopting the embedded PostgreSQL left running");
        let mut postmaster = Postmaster::Adopted(pid);
        wait_until_ready(postgres, &mut postmaster, policy, None).await?;
        return Ok(postmaster);
    }
    let log = postgres.log_file();
    let offset = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let child = postgres
        .postmaster_command()?
        .spawn()
        .context("cannot run postgres")?;
    let pid = child.id().map_or(0, |pid| pid as i32);
    let mut postmaster = Postmaster::Child(child, pid);
    wait_until_ready(postgres, &mut postmaster, policy, Some(offset)).await?;
    Ok(postmaster)
}

/// Waits for the pid file to say `ready`. A postmaster that exits first, or is not ready in
/// time, is an error naming what its log says (from `log_offset`, this try's part).
async fn wait_until_ready(
    postgres: &EmbeddedPostgres,
    postmaster: &mut Postmaster,
    policy: &RestartPolicy,
    log_offset: Option<u64>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let pid = postmaster.pid();
    loop {
        if let Some(exit) = postmaster.try_exited() {
            let said = log_offset
                .map(|o| reason_in_log(postgres, o))
                .unwrap_or_default();
            return Err(anyhow!("postgres exited at once ({exit}){said}"));
        }
        if postgres.postmaster_status(pid).as_deref() == Some("ready") {
            return Ok(());
        }
        if started.elapsed() > policy.ready_within {
            postmaster.kill(libc::SIGQUIT);
            let said = log_offset
                .map(|o| reason_in_log(postgres, o))
                .unwrap_or_default();
            return Err(anyhow!(
                "postgres did not accept connections within {} s{said}",
                policy.ready_within.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Watches the postmaster until stopped: restarts it when it exits, gives up when the tries
/// are spent.
async fn watch_over(
    postgres: EmbeddedPostgres,
    policy: RestartPolicy,
    mut postmaster: Postmaster,
    mut tries: Tries,
    state: watch::Sender<PostmasterState>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let exit = tokio::select! {
            exit = postmaster.exited() => exit,
            _ = &mut stop => {
                shut_down(&postgres, postmaster).await;
                return;
            }
        };
        let down_at = Instant::now();
        metrics::gauge!("docket_embedded_postgres_up").set(0.0);
        tracing::warn!(
            pid = postmaster.pid(),
            exit,
            "the embedded PostgreSQL exited; starting it again"
        );
        state.send_replace(PostmasterState::Restarting);
        match start_within_tries(&postgres, &policy, &mut tries, &mut stop).await {
            Attempt::Started(next) => {
                postmaster = next;
                metrics::counter!("docket_embedded_postgres_restarts_total").increment(1);
                metrics::gauge!("docket_embedded_postgres_up").set(1.0);
                tracing::info!(
                    pid = postmaster.pid(),
                    down_ms = down_at.elapsed().as_millis() as u64,
                    "the embedded PostgreSQL is running again"
                );
                state.send_replace(PostmasterState::Running);
            }
            Attempt::GaveUp(reason) => {
                tracing::error!(reason, "giving up on the embedded PostgreSQL");
                state.send_replace(PostmasterState::GaveUp(reason));
                return;
            }
            Attempt::Stopped => return,
        }
    }
}

/// A fast shutdown (the server finishes writing), then an immediate one if that hangs.
async fn shut_down(postgres: &EmbeddedPostgres, postmaster: Postmaster) {
    match postmaster {
        Postmaster::Child(mut child, _) => {
            // Only while it has not been reaped is the pid surely still its own.
            if let Some(pid) = child.id() {
                // SAFETY: a signal to our own child.
                unsafe { libc::kill(pid as i32, libc::SIGINT) };
            }
            if tokio::time::timeout(Duration::from_secs(60), child.wait())
                .await
                .is_err()
            {
                tracing::warn!("PostgreSQL did not stop within 60 s; stopping it immediately");
                let _ = child.start_kill();
                let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
            }
        }
        Postmaster::Adopted(_) => {
            let postgres = postgres.clone();
            match tokio::task::spawn_blocking(move || postgres.stop()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(error = %error, "stopping PostgreSQL failed"),
                Err(error) => tracing::warn!(error = %error, "stopping PostgreSQL failed"),
            }
        }
    }
    metrics::gauge!("docket_embedded_postgres_up").set(0.0);
}

/// The postmaster being watched.
enum Postmaster {
    /// Started by this process: its exit status is ours to read.
    Child(tokio::process::Child, i32),
    /// Left running by a Docket that was killed.
    Adopted(i32),
}

impl Postmaster {
    fn pid(&self) -> i32 {
        match self {
            Postmaster::Child(_, pid) | Postmaster::Adopted(pid) => *pid,
        }
    }

    fn is_adopted(&self) -> bool {
        matches!(self, Postmaster::Adopted(_))
    }

    fn kill(&self, signal: i32) {
        let pid = self.pid();
        if pid > 0 {
            // SAFETY: a signal to a pid has no memory-safety preconditions.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// How it exited, if it has.
    fn try_exited(&mut self) -> Option<String> {
        match self {
            Postmaster::Child(child, _) => match child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                Ok(None) => None,
                Err(error) => Some(error.to_string()),
            },
            Postmaster::Adopted(pid) => (!process_alive(*pid)).then(|| "exited".to_owned()),
        }
    }

    /// Resolves when it exits, saying how.
    async fn exited(&mut self) -> String {
        match self {
            Postmaster::Child(child, _) => match child.wait().await {
                Ok(status) => status.to_string(),
                Err(error) => error.to_string(),
            },
            Postmaster::Adopted(pid) => {
                wait_for_exit(*pid).await;
                "exited (it was not started by this process: no exit status)".to_owned()
            }
        }
    }
}

fn process_alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, tail)| tail.trim_start().chars().next());
        !matches!(state, Some('Z' | 'X') | None)
    })
}

/// Waits for a process that is not our child to exit: through a pidfd (readable when it
/// exits), or by looking every half second where pidfds are not available.
async fn wait_for_exit(pid: i32) {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd >= 0 {
        // SAFETY: the descriptor was just returned to us and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `fd` is an owned, open descriptor that lives as long as the AsyncFd.
        let registered =
            unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) };
        if let Ok(fd) = registered {
            let _ = fd.readable().await;
            return;
        }
    }
    while process_alive(pid) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the server said about failing since `offset`: its FATAL/PANIC lines and their
/// DETAIL/HINT, without timestamps; else its last lines. Prefixed for an error message.
fn reason_in_log(postgres: &EmbeddedPostgres, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = fs::File::open(postgres.log_file()) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.take(64 * 1024).read_to_string(&mut text);
        }
    }
    let lines: Vec<&str> = text.lines().map(strip_prefix).collect();
    let mut said: Vec<&str> = Vec::new();
    let mut keep = false;
    for line in &lines {
        if line.starts_with("FATAL:") || line.starts_with("PANIC:") {
            keep = true;
        } else if !(line.starts_with("DETAIL:") || line.starts_with("HINT:")) {
            keep = false;
        }
        if keep {
            said.push(line);
        }
    }
    if said.is_empty() {
        said = lines.iter().rev().take(3).rev().copied().collect();
    }
    if said.is_empty() {
        return String::new();
    }
    format!(
        ": {} (see {})",
        said.iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(" "),
        postgres.log_file().display()
    )
}

/// `2026-12-06 22:44:12.128 UTC [2287] FATAL:  …` → `FATAL:  …`.
fn strip_prefix(line: &str) -> &str {
    match line.find("] ") {
        Some(at) if line.starts_with(|c: char| c.is_ascii_digit()) => &line[at + 2..],
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_are_bounded_per_minute_and_back_off() {
        let policy = RestartPolicy::default();
        let mut tries = Tries::default();
        assert_eq!(tries.delay(&policy), Duration::ZERO);
        for _ in 0..policy.tries_per_minute {
            assert!(tries.take(&policy));
        }
        assert!(
            !tries.take(&policy),
            "one more in the same minute is refused"
        );
        let delays: Vec<Duration> = (1..=6)
            .map(|n| {
                tries.failed_in_a_row = n;
                tries.delay(&policy)
            })
            .collect();
        assert_eq!(
            delays,
            [250, 500, 1000, 2000, 4000, 4000].map(Duration::from_millis)
        );
    }

    #[test]
    fn log_prefixes_are_dropped() {
        assert_eq!(
            strip_prefix("2026-12-06 22:44:12.128 UTC [2287] FATAL:  lock file exists"),
            "FATAL:  lock file exists"
        );
        assert_eq!(strip_prefix("HINT:  x"), "HINT:  x");
    }
}

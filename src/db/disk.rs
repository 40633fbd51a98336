//! Free space on the embedded cluster's file system.
//!
//! PostgreSQL that runs out of disk PANICs on its next WAL write and restarts, and until space
//! is freed every request — reads too — fails. So with the embedded cluster Docket looks at
//! the file system itself, once a second: below `DOCKET_MIN_FREE_DISK_MB` it refuses writes
//! (507, see the API gate) while reads, sign-ins and deletes go on, so that people can see
//! their work and make room; when space returns, writes resume by themselves. An external
//! database's disk is its operator's to watch: nothing is refused then.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The part handlers and the API gate ask: may writes go on, and how much room is left.
#[derive(Clone, Debug)]
pub struct DiskSpace(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    min_free: u64,
    dir: OnceLock<PathBuf>,
    /// Bytes available to the server's user at the last look (`u64::MAX`: not looked yet).
    free: AtomicU64,
    low: AtomicBool,
}

impl DiskSpace {
    /// Watches nothing until [`DiskSpace::watch`] names a directory.
    pub fn new(min_free_bytes: u64) -> Self {
        Self(Arc::new(Inner {
            min_free: min_free_bytes,
            dir: OnceLock::new(),
            free: AtomicU64::new(u64::MAX),
            low: AtomicBool::new(false),
        }))
    }

    /// Watches the file system that holds `dir` (the embedded cluster's data directory). The
    /// first call wins; it looks at once, so writes are refused from the start if room is
    /// already short.
    pub fn watch(&self, dir: PathBuf) {
        if self.0.dir.set(dir).is_ok() {
            self.check();
        }
    }

    pub fn directory(&self) -> Option<&Path> {
        self.0.dir.get().map(PathBuf::as_path)
    }

    /// True while free space is below the minimum: writes get 507.
    pub fn refuses_writes(&self) -> bool {
        self.0.low.load(Ordering::Acquire)
    }

    pub fn min_free_bytes(&self) -> u64 {
        self.0.min_free
    }

    /// Free bytes at the last look, when watching.
    pub fn free_bytes(&self) -> Option<u64> {
        self.0.dir.get()?;
        Some(self.0.free.load(Ordering::Acquire)).filter(|free| *free != u64::MAX)
    }

    /// Looks once: records the free space (and the metric) and logs a change of state.
    pub fn check(&self) {
        let Some(dir) = self.0.dir.get() else {
            return;
        };
        let free = match available_bytes(dir) {
            Ok(free) => free,
            Err(error) => {
                tracing::debug!(error = %error, dir = %dir.display(), "cannot read free disk space");
                return;
            }
        };
        self.0.free.store(free, Ordering::Release);
        metrics::gauge!("docket_data_dir_free_bytes").set(free as f64);
        let was_low = self.0.low.load(Ordering::Acquire);
        let low = is_low(free, self.0.min_free, was_low);
        if low == was_low {
            return;
        }
        self.0.low.store(low, Ordering::Release);
        let (free_mb, min_free_mb) = (free >> 20, self.0.min_free >> 20);
        if low {
            tracing::warn!(
                free_mb,
                min_free_mb,
                dir = %dir.display(),
                "the database's disk is nearly full: refusing writes until space is freed \
                 (DOCKET_MIN_FREE_DISK_MB)"
            );
        } else {
            tracing::info!(
                free_mb,
                min_free_mb,
                "disk space is back: accepting writes again"
            );
        }
    }

    /// Looks every second, for good (the server aborts it at shutdown).
    pub async fn run(self) {
        if self.0.dir.get().is_none() {
            return;
        }
        metrics::gauge!("docket_data_dir_min_free_bytes").set(self.0.min_free as f64);
        let mut ticker = tokio::time::interval(CHECK_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.check();
        }
    }
}

/// Below the minimum writes stop; they resume only an eighth above it, so that a disk
/// hovering at the line (a checkpoint freeing WAL, writes taking it again) does not flip
/// them — and the log — back and forth.
fn is_low(free: u64, min_free: u64, was_low: bool) -> bool {
    if was_low {
        free < min_free.saturating_add(min_free / 8)
    } else {
        free < min_free
    }
}

/// Bytes an unprivileged user may still write on the file system holding `dir`
/// (`f_bavail`: PostgreSQL does not run as root, so the root reserve is not its to use).
fn available_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs writes only the struct we pass; the path is NUL-terminated.
    let stat = unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut stat) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        stat
    };
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_resume_an_eighth_above_the_minimum() {
        let min = 256 << 20;
        assert!(!is_low(min, min, false));
        assert!(is_low(min - 1, min, false));
        assert!(is_low(min + (min / 8) - 1, min, true), "not yet");
        assert!(!is_low(min + min / 8, min, true));
        assert!(!is_low(0, 0, false), "a minimum of 0 refuses nothing");
    }

    #[test]
    fn below_the_minimum_writes_are_refused_and_above_it_they_resume() {
        let dir = std::env::temp_dir();
        let free = available_bytes(&dir).unwrap();
        assert!(free > 0);

        let unwatched = DiskSpace::new(u64::MAX);
        assert!(
            !unwatched.refuses_writes(),
            "nothing watched: nothing refused"
        );
        assert_eq!(unwatched.free_bytes(), None);

        let short = DiskSpace::new(u64::MAX);
        short.watch(dir.clone());
        assert!(short.refuses_writes());
        assert!(short.free_bytes().is_some_and(|f| f > 0));

        let roomy = DiskSpace::new(0);
        roomy.watch(dir);
        assert!(!roomy.refuses_writes());
    }
}

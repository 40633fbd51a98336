//! CPU time from /proc: the benchmark's figure that a busy, shared machine disturbs least
//! (throughput moves with whatever else runs; CPU per operation much less).

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on Linux).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// (parent pid, user + system ticks) of a process, from its `/proc/<pid>/stat` line.
fn ticks_of(stat: &str) -> Option<(u32, u64)> {
    // After the command name in parentheses: state, ppid, … utime (14th field), stime (15th).
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ppid = fields.get(1)?.parse().ok()?;
    let cpu = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((ppid, cpu))
}

/// Ticks used so far by one process.
pub fn process(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| ticks_of(&stat))
        .map_or(0, |(_, cpu)| cpu)
}

/// Ticks used so far by this process.
pub fn own() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| ticks_of(&stat))
        .map_or(0, |(_, cpu)| cpu)
}

/// Ticks used so far by a PostgreSQL cluster: its postmaster and every child (backends,
/// walwriter, autovacuum …). Children that exited in between are not counted.
pub fn cluster(postmaster: u32) -> u64 {
    let mut ticks = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((ppid, cpu)) = ticks_of(&stat) {
            if pid == postmaster || ppid == postmaster {
                ticks += cpu;
            }
        }
    }
    ticks
}

/// The postmaster of the database's cluster (the benchmark's role is its superuser there).
pub async fn postmaster_of(db: &tokio_postgres::Client) -> anyhow::Result<u32> {
    let dir: String = db.query_one("SHOW data_directory", &[]).await?.get(0);
    let pid = std::fs::read_to_string(format!("{dir}/postmaster.pid"))?;
    let first = pid.lines().next().unwrap_or_default().trim();
    Ok(first.parse()?)
}

/// Microseconds of CPU per operation between two tick readings.
pub fn per_op(before: u64, after: u64, ops: usize) -> f64 {
    after.saturating_sub(before) as f64 / TICKS_PER_SECOND * 1e6 / ops.max(1) as f64
}

//! A log writer that batches lines: request tasks append to a shared buffer, and one thread
//! writes the buffer to standard output when it fills or a few milliseconds after its first
//! line, whichever comes first — one `write` for many lines instead of one each.
//!
//! It is lossy under back-pressure, like the writer it replaced: when standard output does not
//! keep up (a stalled log shipper, a full pipe), lines beyond [`MAX_PENDING_BYTES`] are dropped
//! and counted, and request handling never waits for the reader. The thread sleeps on a
//! condition variable; it never spins (`tracing-appender`'s channel backs off with
//! `sched_yield`).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A batch this large is written at once, without waiting for [`FLUSH_AFTER`].
pub const FLUSH_BYTES: usize = 64 * 1024;
/// The longest a line waits in the buffer.
pub const FLUSH_AFTER: Duration = Duration::from_millis(5);
/// Past this much unwritten output, new lines are dropped.
pub const MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;

#[derive(Default)]
struct Pending {
    buffer: Vec<u8>,
    dropped: u64,
    closed: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// The handle that appends lines. Cheap to clone.
#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// Flushes what is buffered and stops the writer thread when dropped.
pub struct BatchGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// Starts the writer thread over `sink` (standard output in production).
    pub fn spawn(sink: impl Write + Send + 'static) -> (BatchWriter, BatchGuard) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let thread = std::thread::Builder::new()
            .name("docket-log".to_owned())
            .spawn({
                let shared = shared.clone();
                move || write_batches(&shared, sink)
            })
            .expect("the log thread starts");
        (
            BatchWriter {
                shared: shared.clone(),
            },
            BatchGuard {
                shared,
                thread: Some(thread),
            },
        )
    }

    /// Appends whole lines; drops them when too much is already waiting.
    pub fn append(&self, bytes: &[u8]) {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if pending.buffer.len() + bytes.len() > MAX_PENDING_BYTES {
            pending.dropped += 1;
            return;
        }
        let was_empty = pending.buffer.is_empty();
        let before = pending.buffer.len();
        pending.buffer.extend_from_slice(bytes);
        // Wake the thread only on the transitions it waits for: the first line of a batch, and
        // a batch becoming full. Every other line costs no system call.
        let filled = before < FLUSH_BYTES && pending.buffer.len() >= FLUSH_BYTES;
        drop(pending);
        if was_empty || filled {
            self.shared.wake.notify_one();
        }
    }
}

impl Write for BatchWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn write_batches(shared: &Shared, mut sink: impl Write) {
    let mut spare = Vec::with_capacity(FLUSH_BYTES * 2);
    loop {
        let mut pending = shared.pending.lock().unwrap_or_else(|e| e.into_inner());
        while pending.buffer.is_empty() && !pending.closed {
            pending = shared.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
        }
        if pending.buffer.is_empty() && pending.closed {
            return;
        }
        // Let the batch fill for a moment, unless it is already large.
        let deadline = Instant::now() + FLUSH_AFTER;
        while pending.buffer.len() < FLUSH_BYTES && !pending.closed {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            pending = shared
                .wake
                .wait_timeout(pending, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        std::mem::swap(&mut pending.buffer, &mut spare);
        let dropped = std::mem::take(&mut pending.dropped);
        drop(pending);
        // A failed write (standard output closed) loses the batch; there is nowhere to report it.
        let _ = sink.write_all(&spare);
        if dropped > 0 {
            let _ = writeln!(
                sink,
                "{{\"level\":\"WARN\",\"target\":\"docket::log\",\"message\":\"log lines dropped: standard output did not keep up\",\"dropped\":{dropped}}}"
            );
        }
        let _ = sink.flush();
        spare.clear();
        if spare.capacity() > FLUSH_BYTES * 4 {
            spare.shrink_to(FLUSH_BYTES * 2);
        }
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_written_in_batches_and_flushed_on_drop() {
        let recorder = Recorder::default();
        let (writer, guard) = BatchWriter::spawn(recorder.clone());
        for i in 0..1000 {
            writer.append(format!("line {i}\n").as_bytes());
        }
        drop(guard);
        let writes = recorder.0.lock().unwrap();
        let text: Vec<u8> = writes.concat();
        assert_eq!(String::from_utf8(text).unwrap().lines().count(), 1000);
        assert!(writes.len() < 100, "{} writes for 1000 lines", writes.len());
    }

    /// A sink that never returns: the writer thread is stuck, appends must not be. It says
    /// when the thread has entered it.
    struct Stuck(std::sync::mpsc::Sender<()>);

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.send(());
            // `park` may return spuriously: a sink that then answered would drain the batch.
            loop {
                std::thread::park();
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_reader_costs_lines_not_time() {
        let (entered, stuck) = std::sync::mpsc::channel();
        let (writer, guard) = BatchWriter::spawn(Stuck(entered));
        // Never joined: the stuck thread would hold the test forever (also when an assertion
        // below fails and the test unwinds).
        std::mem::forget(guard);
        // Wait until the thread is stuck: a thread scheduled late could otherwise take a full
        // buffer, and with it the drop count, while the lines below are being appended.
        writer.append(b"first\n");
        stuck
            .recv_timeout(Duration::from_secs(20))
            .expect("the writer thread reaches the sink");
        let line = vec![b'x'; 1023];
        let started = Instant::now();
        for _ in 0..20_000 {
            writer.append(&line);
        }
        // An append that waited for the writer would wait forever; any bound shows it did not
        // (a loose one: test builds run unoptimised on a busy machine).
        assert!(started.elapsed() < Duration::from_secs(20));
        let pending = writer.shared.pending.lock().unwrap();
        assert!(pending.buffer.len() <= MAX_PENDING_BYTES);
        assert!(pending.dropped > 0);
    }
}

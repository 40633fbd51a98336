//! Serving connections with the bounds of API.md §9 "Connections": a connection must send a
//! request's complete headers within 10 s of its first byte (or of being accepted); an idle
//! keep-alive connection is closed after 75 s; past `DOCKET_MAX_CONNECTIONS` open connections,
//! new ones are closed at once. (The 30 s handler limit is in `middleware::request_context`.)
//!
//! hyper's own `header_read_timeout` cannot express both rules: its timer also runs while a
//! kept-alive connection waits for its next request, so it would close idle connections after
//! 10 s instead of 75 s. So each connection's I/O is wrapped in [`Tracked`], which notices
//! the first byte of a request, and the service marks when requests start and end; one timer
//! per connection enforces whichever deadline applies.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// The time limits of a connection. Production uses the defaults; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From a request's first byte (or the connection's acceptance) to its complete headers.
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request in flight and nothing written for this long is
    /// closed.
    pub idle_timeout: Duration,
    /// A handler running longer gets 503.
    pub handler_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            handler_timeout: Duration::from_secs(30),
        }
    }
}

/// Accepts connections until `shutdown` resolves, then stops accepting, lets every open
/// connection finish its request in flight (idle ones close at once), and returns when the
/// last one has closed. The caller bounds that wait with the grace period.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    max_connections: usize,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let max_connections = max_connections.clamp(1, u32::MAX as usize);
    let permits = Arc::new(Semaphore::new(max_connections));
    let (draining_tx, draining_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    metrics::gauge!("docket_http_max_connections").set(max_connections as f64);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Over the limit: closed at once, before reading a byte.
            metrics::counter!("docket_http_connections_refused_total").increment(1);
            drop(stream);
            continue;
        };
        let router = router.clone();
        let draining = draining_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, router, limits, draining).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = draining_tx.send(true);
    // Every connection holds a permit until it closes.
    let _ = permits.acquire_many(max_connections as u32).await;
}

/// `accept` fails for the connection (reset before it was accepted: try the next) or for the
/// process (out of descriptors: wait a moment rather than spin).
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    metrics::counter!("docket_http_accept_errors_total").increment(1);
    tracing::error!(error = %error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut draining: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new(limits));
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let service = ConnectionService {
        router,
        peer,
        activity: activity.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header deadline is ours (see the module comment); hyper's would close idle
    // kept-alive connections too early.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let connection = builder.serve_connection(io, service);
    let mut connection = pin!(connection);
    let mut shutting_down = *draining.borrow();
    if shutting_down {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(error = %error, "connection ended with an error");
                }
                return;
            }
            reason = activity.expired() => {
                metrics::counter!("docket_http_connections_timed_out_total", "reason" => reason)
                    .increment(1);
                // Dropping the connection closes the socket.
                return;
            }
            changed = draining.changed(), if !shutting_down => {
                if changed.is_err() || *draining.borrow() {
                    shutting_down = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// The router for one connection: each request learns the peer address and is counted in
/// flight while its handler runs.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let in_flight = InFlight::start(self.activity.clone());
        let response = self.router.clone().oneshot(request);
        Box::pin(async move {
            let response = response.await;
            drop(in_flight);
            response
        })
    }
}

const AWAITING_HEADERS: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// What a connection is doing, and until when it may keep doing it.
///
/// Nothing here wakes the connection's task: a request's start and end, and the first byte of
/// the next one, only store atomics. The timer in `expired` instead never sleeps longer than
/// the header deadline, so a deadline set meanwhile (at the earliest that long after the timer
/// was set) is seen in time; waking each connection once per interval costs less than waking
/// it three times per request.
struct Activity {
    limits: ConnectionLimits,
    phase: AtomicU8,
    in_flight: AtomicUsize,
    /// Milliseconds after `opened`.
    deadline_ms: AtomicU64,
    opened: Instant,
}

impl Activity {
    fn new(limits: ConnectionLimits) -> Self {
        Self {
            limits,
            phase: AtomicU8::new(AWAITING_HEADERS),
            in_flight: AtomicUsize::new(0),
            deadline_ms: AtomicU64::new(limits.header_read_timeout.as_millis() as u64),
            opened: Instant::now(),
        }
    }

    fn set_deadline(&self, after: Duration) {
        let at = self.opened.elapsed() + after;
        self.deadline_ms
            .store(at.as_millis() as u64, Ordering::Release);
    }

    /// Bytes arrived. On an idle connection they start a request, whose headers are due soon.
    fn on_read(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE
            && self
                .phase
                .compare_exchange(IDLE, AWAITING_HEADERS, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.set_deadline(self.limits.header_read_timeout);
        }
    }

    /// Bytes were written: a response still streaming keeps an idle connection alive.
    fn on_write(&self) {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.set_deadline(self.limits.idle_timeout);
        }
    }

    /// Resolves when the connection has overstayed its current phase, with the reason.
    async fn expired(&self) -> &'static str {
        loop {
            let now = Instant::now();
            // The longest sleep: any deadline set after this point is at least this far away.
            let latest = now + self.limits.header_read_timeout;
            let phase = self.phase.load(Ordering::Acquire);
            let wake = if phase == BUSY {
                latest
            } else {
                let deadline =
                    self.opened + Duration::from_millis(self.deadline_ms.load(Ordering::Acquire));
                if now >= deadline {
                    return if phase == IDLE { "idle" } else { "header_read" };
                }
                deadline.min(latest)
            };
            tokio::time::sleep_until(wake.into()).await;
        }
    }
}

/// Counts a request in flight from its handler's start to its end (or its cancellation).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.phase.store(BUSY, Ordering::Release);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            activity.set_deadline(activity.limits.idle_timeout);
            activity.phase.store(IDLE, Ordering::Release);
        }
    }
}

/// A connection's socket, watched for the first byte of each request and for response bytes.
struct Tracked {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

//! A ready webhook endpoint: QQ's HTTP callbacks in, the same events out as the gateway.
//!
//! [`WebhookServer`] is the part of qqgw that faces the open internet, so everything an
//! attacker can make it spend is bounded (defaults in brackets, each configurable on
//! [`WebhookServerBuilder`]):
//!
//! | resource | bound |
//! |---|---|
//! | open connections | [`max_connections`](WebhookServerBuilder::max_connections) (512); more are accepted and closed at once |
//! | time to send a request head, and to wait idle between keep-alive requests | [`header_timeout`](WebhookServerBuilder::header_timeout) (5 s) |
//! | time to send a body | [`body_timeout`](WebhookServerBuilder::body_timeout) (5 s) → 408 |
//! | time a write to the client may make no progress (a client that pipelines requests and never reads the answers) | [`write_timeout`](WebhookServerBuilder::write_timeout) (5 s); the connection is closed |
//! | requests on one connection | [`max_requests_per_connection`](WebhookServerBuilder::max_requests_per_connection) (10,000); the last is answered with `Connection: close` |
//! | a connection's lifetime | [`connection_lifetime`](WebhookServerBuilder::connection_lifetime) (60 s); then closed after the request in progress |
//! | request head size | 16 KiB and 64 headers (hyper answers 431) |
//! | body size | [`Webhook::max_body_size`] (1 MiB): a larger `Content-Length` is refused before a byte is read, and a body that grows past it while streaming is cut off → 413 |
//! | memory for bodies being read, all connections together | [`body_memory`](WebhookServerBuilder::body_memory) (32 MiB) → 503 |
//! | events accepted but not yet consumed | [`queue`](WebhookServerBuilder::queue) (1024) → 503, QQ retries |
//! | events remembered against replays | [`Webhook::with_replay_memory`] (65,536, about 4 MiB) |
//! | `accept()` failures (e.g. out of file descriptors) | retried after a pause growing from 10 ms to 1 s |
//! | log lines about refused requests | one a second; [`WebhookServer::metrics`] counts them all |
//!
//! The method (`POST`), the path (if [configured](WebhookServerBuilder::path)), the
//! `Content-Type` (`application/json`), the `Content-Length` and the signature headers are
//! checked before the body is read, so a request without a plausible signature costs no
//! body. The Ed25519 signature is verified without any lock held; only the replay check
//! and the hand-over to the queue share a lock, for a hash-map lookup.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use qqgw_client::{Event, EventSender, ShardEvent, ShardEvents, TrySendError, event_channel};
use qqgw_proto::webhook::{
    Admission, CONTENT_TYPE, Checked, Outcome, ReplayGuard, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    VerifiedEvent, WebhookError, WebhookRequest,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tracing::{debug, info, warn};

/// The framework-neutral core the server runs every request through, re-exported so a bot
/// needs no direct dependency on `qqgw-proto`.
pub use qqgw_proto::webhook::Webhook;

/// Default [`WebhookServerBuilder::max_connections`]: 512 connections open at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default [`WebhookServerBuilder::header_timeout`]: 5 s to send a request head (and the
/// longest a keep-alive connection may sit idle).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`WebhookServerBuilder::body_timeout`]: 5 s to send a body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`WebhookServerBuilder::queue`]: 1024 events waiting for the consumer.
pub const DEFAULT_QUEUE: usize = 1024;
/// Default [`WebhookServerBuilder::body_memory`]: 32 MiB of bodies being read at once.
pub const DEFAULT_BODY_MEMORY: usize = 32 << 20;
/// Default [`WebhookServerBuilder::write_timeout`]: 5 s.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`WebhookServerBuilder::max_requests_per_connection`]: 10,000.
pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: u64 = 10_000;
/// Default [`WebhookServerBuilder::connection_lifetime`]: 60 s.
pub const DEFAULT_CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// The largest request head (request line and headers) hyper reads.
const MAX_HEAD_BYTES: usize = 16 << 10;
/// The most headers a request may have.
const MAX_HEADERS: usize = 64;
/// The first and the longest pause after a failed `accept()`.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));
/// The least time between two log lines about refused requests or failed accepts.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// An HTTP server for QQ's webhook (HTTP callback) delivery, on tokio with hyper.
///
/// Every `POST` goes through [`Webhook::check`]: op 13 validations are answered, signed
/// events become [`Event::Dispatch`] on the [`ShardEvents`] stream — the same events as
/// the gateway, each delivered once — and everything else is refused with a status that
/// says no more than needed (every 401 has the same body). Serve the stream with
/// [`run_handler`](qqgw_client::run_handler) and your
/// [`EventHandler`](crate::EventHandler), or read it yourself.
///
/// An event is answered 200 once it is in the stream's queue. When the queue is full
/// (the consumer is behind) the event is answered `503 Service Unavailable` with
/// `Retry-After: 1` and not remembered, so QQ's retry is delivered later; nothing is
/// lost and memory stays bounded. See the [module docs](self) for every bound.
///
/// Paths: by default any path is served, since the signature, not the URL, is what proves
/// a request comes from QQ, and proxies often rewrite paths. Set
/// [`path`](WebhookServerBuilder::path) to answer 404 elsewhere.
///
/// QQ only calls HTTPS URLs on ports 80, 443, 8080 or 8443: put a TLS-terminating proxy in
/// front, or serve through your own server with [`Webhook::check`] directly.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use qqgw_tokio::webhook::WebhookServer;
/// use qqgw_tokio::{Context, EventHandler, model::GroupMessage};
/// use qqgw_proto::webhook::Webhook;
///
/// struct Bot;
/// impl EventHandler for Bot {
///     async fn group_at_message_create(&self, _ctx: Context, msg: GroupMessage) {
///         println!("{:?}", msg.content);
///     }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let webhook = Webhook::from_secret(&std::env::var("QQ_BOT_SECRET")?)?;
/// let (server, events) = WebhookServer::builder(webhook)
///     .path("/qqbot/callback")
///     .max_connections(256)
///     .header_timeout(Duration::from_secs(3))
///     .bind("127.0.0.1:8080")
///     .await?;
/// println!("listening on {}", server.local_addr());
/// qqgw_tokio::run_handler(events, &Bot).await;
/// # Ok(()) }
/// ```
pub struct WebhookServer {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    state: Arc<State>,
}

impl std::fmt::Debug for WebhookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookServer")
            .field("local_addr", &self.local_addr)
            .field("webhook", &self.state.webhook)
            .field("path", &self.state.path)
            .field("metrics", &self.metrics())
            .finish_non_exhaustive()
    }
}

/// Settings of a [`WebhookServer`], from [`WebhookServer::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `bind` is called"]
pub struct WebhookServerBuilder {
    webhook: Webhook,
    max_connections: usize,
    header_timeout: Duration,
    body_timeout: Duration,
    queue: usize,
    body_memory: usize,
    path: Option<String>,
    ack_after_handled: Option<Duration>,
    write_timeout: Duration,
    max_requests: u64,
    lifetime: Duration,
}

impl WebhookServerBuilder {
    /// How long a write to a client may make no progress before the connection is
    /// closed. Default [`DEFAULT_WRITE_TIMEOUT`] (5 s). A client that pipelines requests
    /// and never reads the answers fills the socket's buffers and would otherwise hold
    /// the connection — one of [`max_connections`](Self::max_connections) — forever.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// The most requests served on one connection (at least 1): the last is answered with
    /// `Connection: close`, and requests pipelined after it are not read. Default
    /// [`DEFAULT_MAX_REQUESTS_PER_CONNECTION`] (10,000).
    pub fn max_requests_per_connection(mut self, requests: u64) -> Self {
        self.max_requests = requests.max(1);
        self
    }

    /// How long a connection may stay open: then it is closed once the request in
    /// progress is answered (the client opens another). Default
    /// [`DEFAULT_CONNECTION_LIFETIME`] (60 s).
    pub fn connection_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Answer QQ only once the event is handled — its callback in
    /// [`run_handler`](crate::run_handler) returned, or [`ShardEvent::ack`] was called —
    /// instead of once it is queued. If that takes longer than `within` (QQ wants an
    /// answer within about 3 s), or the event is dropped unacknowledged, the request is
    /// answered `503` and the event forgotten, so that QQ's retry is delivered again: at
    /// least once, even across a crash. A retry that arrives while the event is still
    /// being handled is answered `503` with `Retry-After` too — never `200`, since the
    /// handling may still fail — and not delivered again. Default: off — answered when
    /// queued, which a crash before handling loses (QQ does not retry what it saw
    /// acknowledged).
    pub fn ack_after_handled(mut self, within: Duration) -> Self {
        self.ack_after_handled = Some(within);
        self
    }

    /// The most connections open at once (at least 1). Default
    /// [`DEFAULT_MAX_CONNECTIONS`] (512). Past it, new connections are accepted and closed
    /// at once, so they neither wait in the kernel's backlog nor cost a task. Keep it well
    /// under the process's open-file limit (`ulimit -n`).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long a client may take to send a request head, counted from when the
    /// connection is ready for one — so it is also the longest a keep-alive connection
    /// may sit idle. Default [`DEFAULT_HEADER_TIMEOUT`] (5 s). The connection is closed
    /// when it passes.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// How long a client may take to send a body once its head is in. Default
    /// [`DEFAULT_BODY_TIMEOUT`] (5 s). Answered `408 Request Timeout`.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// How many events may wait for the consumer of the stream (at least 1). Default
    /// [`DEFAULT_QUEUE`] (1024). When full, events are answered 503 for QQ to retry.
    pub fn queue(mut self, events: usize) -> Self {
        self.queue = events.max(1);
        self
    }

    /// How many bytes of request bodies may be held at once, over all connections.
    /// Default [`DEFAULT_BODY_MEMORY`] (32 MiB); never less than the webhook's
    /// [`max_body_size`](Webhook::max_body_size). A request whose body would pass it is
    /// answered 503 for QQ to retry.
    pub fn body_memory(mut self, bytes: usize) -> Self {
        self.body_memory = bytes;
        self
    }

    /// Serve only this path (e.g. `"/qqbot/callback"`), answering 404 elsewhere. Default:
    /// every path (see [`WebhookServer`]).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Binds `addr` and serves the webhook there until the server is dropped. Events come
    /// out of the returned stream.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<(WebhookServer, ShardEvents)> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (events, stream) = event_channel(self.queue);
        let body_memory = self.body_memory.max(self.webhook.max_body_size()).min(Semaphore::MAX_PERMITS);
        let state = Arc::new(State {
            queue: Mutex::new(Queue { guard: self.webhook.replay_guard(), events }),
            webhook: self.webhook,
            path: self.path,
            ack_after_handled: self.ack_after_handled,
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            write_timeout: self.write_timeout,
            max_requests: self.max_requests,
            lifetime: self.lifetime,
            connections: Arc::new(Semaphore::new(self.max_connections)),
            body_memory: Arc::new(Semaphore::new(body_memory)),
            counters: Counters::default(),
            log: RateLimit::new(),
        });
        let (shutdown, stopped) = watch::channel(false);
        info!(%local_addr, max_connections = self.max_connections, "webhook endpoint listening");
        tokio::spawn(accept_loop(listener, Arc::clone(&state), stopped));
        Ok((WebhookServer { local_addr, shutdown, state }, stream))
    }
}

impl WebhookServer {
    /// A builder for a server of `webhook`, with the defaults of the [module docs](self).
    pub fn builder(webhook: Webhook) -> WebhookServerBuilder {
        WebhookServerBuilder {
            webhook,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            queue: DEFAULT_QUEUE,
            body_memory: DEFAULT_BODY_MEMORY,
            path: None,
            ack_after_handled: None,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_requests: DEFAULT_MAX_REQUESTS_PER_CONNECTION,
            lifetime: DEFAULT_CONNECTION_LIFETIME,
        }
    }

    /// Binds `addr` and serves `webhook` there with the default settings until the
    /// server is dropped: `WebhookServer::builder(webhook).bind(addr)`.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub async fn bind(addr: impl ToSocketAddrs, webhook: Webhook) -> io::Result<(Self, ShardEvents)> {
        Self::builder(webhook).bind(addr).await
    }

    /// The address the server listens on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What the server has done so far.
    #[must_use]
    pub fn metrics(&self) -> WebhookMetrics {
        self.state.counters.snapshot()
    }
}

impl Drop for WebhookServer {
    /// Stops accepting and closes open connections; the event stream then ends.
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Counts of what a [`WebhookServer`] did since it started, from
/// [`WebhookServer::metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct WebhookMetrics {
    /// Connections accepted and served.
    pub connections_accepted: u64,
    /// Connections accepted and closed at once, because `max_connections` were open.
    pub connections_refused: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Connections closed because a request head did not arrive within the header timeout
    /// (slow clients, and keep-alive connections left idle).
    pub header_timeouts: u64,
    /// Connections closed because a write to the client made no progress within the write
    /// timeout (a client that does not read its answers).
    pub write_timeouts: u64,
    /// Connections closed because they reached their lifetime or their request limit.
    pub connections_recycled: u64,
    /// `accept()` calls that failed (e.g. out of file descriptors).
    pub accept_errors: u64,
    /// Requests seen.
    pub requests: u64,
    /// Events put on the stream.
    pub delivered: u64,
    /// Events answered 200 but not delivered again (QQ's retries, replays).
    pub duplicates: u64,
    /// Retries of an event still being handled (with
    /// [`ack_after_handled`](WebhookServerBuilder::ack_after_handled)), answered 503 and
    /// not delivered again.
    pub in_progress: u64,
    /// op 13 validations answered.
    pub validations: u64,
    /// Requests refused 401: no valid signature, a stale timestamp, or an event too old
    /// for the replay memory.
    pub unauthorized: u64,
    /// Requests refused with 400, 404, 405 or 415: wrong method, path or content type, or
    /// a signed body that is not a usable callback.
    pub bad_requests: u64,
    /// Requests refused 413: body over the limit.
    pub too_large: u64,
    /// Requests refused 408: the body did not arrive within the body timeout.
    pub body_timeouts: u64,
    /// Events refused 503 because the queue was full or nobody reads the stream.
    pub queue_full: u64,
    /// Requests refused 503 because the body memory was used up.
    pub body_memory_full: u64,
}

impl WebhookMetrics {
    /// All requests refused, whatever the reason.
    #[must_use]
    pub fn rejected(&self) -> u64 {
        self.unauthorized
            + self.bad_requests
            + self.too_large
            + self.body_timeouts
            + self.queue_full
            + self.body_memory_full
            + self.in_progress
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections_accepted: AtomicU64,
    connections_refused: AtomicU64,
    connections_open: AtomicU64,
    header_timeouts: AtomicU64,
    write_timeouts: AtomicU64,
    connections_recycled: AtomicU64,
    accept_errors: AtomicU64,
    requests: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    in_progress: AtomicU64,
    validations: AtomicU64,
    unauthorized: AtomicU64,
    bad_requests: AtomicU64,
    too_large: AtomicU64,
    body_timeouts: AtomicU64,
    queue_full: AtomicU64,
    body_memory_full: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> WebhookMetrics {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WebhookMetrics {
            connections_accepted: get(&self.connections_accepted),
            connections_refused: get(&self.connections_refused),
            connections_open: get(&self.connections_open),
            header_timeouts: get(&self.header_timeouts),
            write_timeouts: get(&self.write_timeouts),
            connections_recycled: get(&self.connections_recycled),
            accept_errors: get(&self.accept_errors),
            requests: get(&self.requests),
            delivered: get(&self.delivered),
            duplicates: get(&self.duplicates),
            in_progress: get(&self.in_progress),
            validations: get(&self.validations),
            unauthorized: get(&self.unauthorized),
            bad_requests: get(&self.bad_requests),
            too_large: get(&self.too_large),
            body_timeouts: get(&self.body_timeouts),
            queue_full: get(&self.queue_full),
            body_memory_full: get(&self.body_memory_full),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Lets one log line through per [`LOG_INTERVAL`].
#[derive(Debug)]
struct RateLimit {
    start: Instant,
    /// Milliseconds after `start` of the last line let through, plus one (0: none yet).
    last: AtomicU64,
}

impl RateLimit {
    fn new() -> Self {
        Self { start: Instant::now(), last: AtomicU64::new(0) }
    }

    fn allow(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX).saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        let interval = u64::try_from(LOG_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        (last == 0 || now.saturating_sub(last) >= interval)
            && self.last.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

#[derive(Debug)]
struct State {
    webhook: Webhook,
    path: Option<String>,
    ack_after_handled: Option<Duration>,
    header_timeout: Duration,
    body_timeout: Duration,
    write_timeout: Duration,
    max_requests: u64,
    lifetime: Duration,
    connections: Arc<Semaphore>,
    body_memory: Arc<Semaphore>,
    /// The replay memory and the one sender of the stream: one sender, so the queue holds
    /// exactly its capacity (each clone of a sender would add a slot).
    queue: Mutex<Queue>,
    counters: Counters,
    log: RateLimit,
}

#[derive(Debug)]
struct Queue {
    guard: ReplayGuard,
    events: EventSender,
}

impl State {
    /// Counts a refusal and logs it, at most once per [`LOG_INTERVAL`].
    fn refused(&self, status: StatusCode, code: &str) {
        let counter = match status.as_u16() {
            401 => &self.counters.unauthorized,
            408 => &self.counters.body_timeouts,
            413 => &self.counters.too_large,
            503 if code == "body_memory_full" => &self.counters.body_memory_full,
            503 if code == "in_progress" => &self.counters.in_progress,
            503 => &self.counters.queue_full,
            _ => &self.counters.bad_requests,
        };
        bump(counter);
        if self.log.allow() {
            let m = self.counters.snapshot();
            warn!(
                status = status.as_u16(),
                reason = code,
                refused_so_far = m.rejected(),
                "webhook request refused (one line a second at most; see WebhookServer::metrics)"
            );
        } else {
            debug!(status = status.as_u16(), reason = code, "webhook request refused");
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    let mut backoff = ACCEPT_BACKOFF.0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff = ACCEPT_BACKOFF.0;
                stream
            }
            Err(error) => {
                // Out of file descriptors, say: retrying at once would spin and flood the log.
                bump(&state.counters.accept_errors);
                if state.log.allow() {
                    warn!(%error, pause_ms = backoff.as_millis(), "accept failed; pausing");
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = stopped.changed() => return,
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&state.connections).try_acquire_owned() else {
            bump(&state.counters.connections_refused);
            drop(stream);
            continue;
        };
        bump(&state.counters.connections_accepted);
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(stream, Arc::clone(&state), permit, stopped.clone()));
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    state: Arc<State>,
    permit: OwnedSemaphorePermit,
    mut stopped: watch::Receiver<bool>,
) {
    state.counters.connections_open.fetch_add(1, Ordering::Relaxed);
    let service_state = Arc::clone(&state);
    let served = Arc::new(AtomicU64::new(0));
    let service = service_fn(move |request| {
        let state = Arc::clone(&service_state);
        let served = Arc::clone(&served);
        async move {
            let mut response = handle(&state, request).await;
            // The last request this connection serves: hyper closes it after the answer.
            if served.fetch_add(1, Ordering::Relaxed) + 1 >= state.max_requests {
                bump(&state.counters.connections_recycled);
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.header_timeout)
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEAD_BYTES);
    let io = WriteTimeout { inner: stream, limit: state.write_timeout, stalled: None };
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let lifetime = tokio::time::sleep(state.lifetime);
    tokio::pin!(lifetime);
    let ended = |result: Result<(), hyper::Error>| {
        if let Err(error) = result {
            if error.is_timeout() {
                bump(&state.counters.header_timeouts);
            } else if std::error::Error::source(&error)
                .and_then(|e| e.downcast_ref::<io::Error>())
                .is_some_and(|e| e.kind() == io::ErrorKind::TimedOut)
            {
                bump(&state.counters.write_timeouts);
            }
            debug!(%error, "webhook connection ended");
        }
    };
    tokio::select! {
        result = connection.as_mut() => ended(result),
        () = &mut lifetime => {
            // Old enough: closed once the request in progress is answered.
            bump(&state.counters.connections_recycled);
            connection.as_mut().graceful_shutdown();
            let grace = state.header_timeout + state.body_timeout + state.write_timeout;
            tokio::select! {
                result = tokio::time::timeout(grace, connection.as_mut()) => {
                    if let Ok(result) = result {
                        ended(result);
                    }
                }
                _ = stopped.changed() => {}
            }
        }
        _ = stopped.changed() => {}
    }
    state.counters.connections_open.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
}

/// A connection whose writes may not stall: a write or flush that makes no progress for
/// `limit` fails with `TimedOut`, which ends the connection.
struct WriteTimeout<S> {
    inner: S,
    limit: Duration,
    /// Armed while a write makes no progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteTimeout<S> {
    /// `poll`'s answer; while it is pending, the stall timer runs, and its end is an error.
    fn guard<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let limit = self.limit;
                let stalled = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing within the write timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, poll)
    }
}

/// A refusal: the status and a body that names the reason and nothing else.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    body: Bytes,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str) -> Self {
        Self { status, code, body: Bytes::from(format!(r#"{{"error":"{code}"}}"#)) }
    }

    fn webhook(error: &WebhookError) -> Self {
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
        Self { status, code: error.code(), body: Bytes::from(error.body()) }
    }

    fn busy(code: &'static str) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code,
            body: Bytes::from_static(br#"{"error":"busy"}"#),
        }
    }
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    bump(&state.counters.requests);
    match serve(state, request).await {
        Ok((status, body)) => respond(status, body),
        Err(refusal) => {
            crate::webhook_metrics::webhook_refused(refusal.code);
            state.refused(refusal.status, refusal.code);
            let mut response = respond(refusal.status, refusal.body);
            match refusal.status {
                StatusCode::METHOD_NOT_ALLOWED => {
                    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
                }
                StatusCode::SERVICE_UNAVAILABLE => {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                }
                _ => {}
            }
            response
        }
    }
}

/// The 200 answer to a request, or why it is refused.
async fn serve(state: &State, request: Request<Incoming>) -> Result<(StatusCode, Bytes), Refusal> {
    // Everything that needs only the head, before a byte of the body is read.
    if request.method() != Method::POST {
        return Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    }
    if state.path.as_deref().is_some_and(|path| request.uri().path() != path) {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "not_found"));
    }
    let (parts, body) = request.into_parts();
    if !is_json(&parts.headers) {
        return Err(Refusal::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    }
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let signature = first_header(&parts.headers, SIGNATURE_HEADER);
    let timestamp = first_header(&parts.headers, TIMESTAMP_HEADER);
    let unix_now = SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
    state
        .webhook
        .check_headers(signature, timestamp, declared, unix_now)
        .map_err(|e| Refusal::webhook(&e))?;

    let body = read_body(state, body, declared).await?;

    // Verified outside any lock.
    let request = WebhookRequest { signature, timestamp, body: body.as_slice(), unix_now };
    let event = match state.webhook.check(request) {
        Checked::Answer(response) => {
            return match response.outcome {
                Outcome::Rejected(error) => Err(Refusal::webhook(&error)),
                outcome => {
                    if let Outcome::Validated { .. } = outcome {
                        crate::webhook_metrics::webhook_accepted(2);
                        bump(&state.counters.validations);
                        info!("callback address validated");
                    }
                    Ok((StatusCode::OK, Bytes::from(response.body)))
                }
            };
        }
        Checked::Event(event) => event,
    };
    drop(body);
    deliver(state, event).await
}

/// The replay check and the hand-over to the queue, under one short lock: an event is
/// remembered only if it is queued, so the retry of one refused 503 is delivered.
async fn deliver(state: &State, event: VerifiedEvent) -> Result<(StatusCode, Bytes), Refusal> {
    let VerifiedEvent { dispatch, ticket, .. } = event;
    let mut handled = None;
    let ack = || Ok((StatusCode::OK, Bytes::from_static(qqgw_proto::webhook::ACK_BODY.as_bytes())));
    // For the debug line once the event is handed over; copied only if it is logged.
    let logged = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| (dispatch.name().to_owned(), dispatch.id().map(str::to_owned)));
    let sent = {
        let mut queue = state.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.guard.admit(&ticket) {
            Admission::New => {
                let (shard, event) = (dispatch.shard(), Event::Dispatch(dispatch));
                let event = if state.ack_after_handled.is_some() {
                    let (event, done) = ShardEvent::with_receipt(shard, event);
                    handled = Some(done);
                    event
                } else {
                    ShardEvent::new(shard, event)
                };
                let sent = queue.events.try_send(event);
                if sent.is_err() {
                    queue.guard.forget(&ticket);
                } else if handled.is_some() {
                    // Until handled, a retry is answered 503, not 200.
                    queue.guard.in_flight(&ticket);
                }
                sent
            }
            Admission::InProgress => {
                drop(queue);
                debug!(id = dispatch.id(), "retry of an event still being handled: 503");
                return Err(Refusal::busy("in_progress"));
            }
            Admission::Duplicate => {
                drop(queue);
                bump(&state.counters.duplicates);
                crate::webhook_metrics::webhook_accepted(1);
                debug!(id = dispatch.id(), "repeated webhook event dropped");
                return ack();
            }
            Admission::Forgotten => {
                return Err(Refusal::webhook(&WebhookError::ReplayUnverifiable));
            }
        }
    };
    match sent {
        Ok(()) => {
            bump(&state.counters.delivered);
            crate::webhook_metrics::webhook_accepted(0);
            if let Some((name, id)) = logged {
                debug!(name, id, "webhook event");
            }
            if let (Some(done), Some(within)) = (handled, state.ack_after_handled) {
                // Not handled in time (or dropped): QQ's retry must be delivered again.
                let handled = tokio::time::timeout(within, done).await == Ok(true);
                let mut queue = state.queue.lock().unwrap_or_else(PoisonError::into_inner);
                if !handled {
                    queue.guard.forget(&ticket);
                    return Err(Refusal::busy("not_handled_in_time"));
                }
                queue.guard.handled(&ticket);
            }
            ack()
        }
        Err(TrySendError::Full) => Err(Refusal::busy("queue_full")),
        Err(TrySendError::Closed) => Err(Refusal::busy("no_consumer")),
    }
}

/// A body read within the limits, and the share of body memory it holds.
struct Body {
    bytes: Chunks,
    _memory: Option<OwnedSemaphorePermit>,
}

/// A body's bytes: hyper's buffer itself when the body came in one piece (the usual
/// case: a callback is small), copied together only when it came in several.
enum Chunks {
    Empty,
    One(Bytes),
    Many(Vec<u8>),
}

impl Body {
    fn as_slice(&self) -> &[u8] {
        match &self.bytes {
            Chunks::Empty => &[],
            Chunks::One(bytes) => bytes,
            Chunks::Many(bytes) => bytes,
        }
    }
}

/// Reads the body: within the size limit (enforced while streaming, whatever the
/// declared length), the body timeout and the shared body memory.
async fn read_body(state: &State, mut body: Incoming, declared: Option<u64>) -> Result<Body, Refusal> {
    let max = state.webhook.max_body_size();
    let memory_full = || Refusal::busy("body_memory_full");
    let reserve = |bytes: usize| {
        let bytes = u32::try_from(bytes).map_err(|_| memory_full())?;
        Arc::clone(&state.body_memory).try_acquire_many_owned(bytes).map_err(|_| memory_full())
    };
    // The declared length is within `max` (checked with the headers).
    let expected = declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0).min(max);
    let mut memory = if expected > 0 { Some(reserve(expected)?) } else { None };
    let mut bytes = Chunks::Empty;
    let mut len = 0usize;
    let deadline = tokio::time::sleep(state.body_timeout);
    tokio::pin!(deadline);
    loop {
        let frame = tokio::select! {
            biased;
            frame = body.frame() => match frame {
                None => break,
                Some(Err(_)) => return Err(Refusal::new(StatusCode::BAD_REQUEST, "bad_request")),
                Some(Ok(frame)) => frame,
            },
            () = &mut deadline => return Err(Refusal::new(StatusCode::REQUEST_TIMEOUT, "timeout")),
        };
        let Ok(data) = frame.into_data() else { continue };
        len = len.saturating_add(data.len());
        if len > max {
            return Err(Refusal::webhook(&WebhookError::BodyTooLarge { len, max }));
        }
        let held = memory.as_ref().map_or(0, |permit| permit.num_permits());
        if len > held {
            let more = reserve(len - held)?;
            match memory.as_mut() {
                Some(permit) => permit.merge(more),
                None => memory = Some(more),
            }
        }
        bytes = match bytes {
            Chunks::Empty => Chunks::One(data),
            Chunks::One(first) => {
                let mut all = Vec::with_capacity(expected.max(len));
                all.extend_from_slice(&first);
                all.extend_from_slice(&data);
                Chunks::Many(all)
            }
            Chunks::Many(mut all) => {
                all.extend_from_slice(&data);
                Chunks::Many(all)
            }
        };
    }
    Ok(Body { bytes, _memory: memory })
}

/// Whether the `Content-Type` is `application/json` (parameters such as a charset allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

/// The first value of header `name`, if it is text.
fn first_header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn respond(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

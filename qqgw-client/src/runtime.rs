//! What an adapter provides: a clock, tasks, timers, blocking calls and WebSocket
//! connections.

use core::future::Future;
use std::time::Instant;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Error as WsError;
use futures_io::{AsyncRead, AsyncWrite};

/// The few things the client needs from an async runtime. `qqgw-tokio` and
/// `qqgw-async-std` implement it; everything else — the shard loop around the
/// `GatewayMachine`, the HTTP calls, the handler API — is shared.
///
/// Implementations must not block in any method, and the futures they return must be
/// driven by whatever executor polls them (the shard tasks run on [`spawn`](Self::spawn)).
pub trait Runtime: Clone + core::fmt::Debug + Send + Sync + 'static {
    /// The byte stream a WebSocket runs over (TCP, with TLS for `wss://`).
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The runtime's clock. Every deadline the client computes is counted from it, so a
    /// runtime with a virtual clock (tokio's paused clock, say) runs a whole client on it.
    fn now(&self) -> Instant;

    /// Runs `task` in the background until it finishes.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static);

    /// Runs a blocking function off the async threads and waits for its result.
    fn spawn_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = Option<T>> + Send;

    /// Completes at `deadline` (on the clock of [`now`](Self::now)).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send;

    /// Completes `duration` from [`now`](Self::now).
    fn sleep(&self, duration: core::time::Duration) -> impl Future<Output = ()> + Send {
        self.sleep_until(self.now() + duration)
    }

    /// Completes when the process is asked to stop: SIGINT (Ctrl-C) or SIGTERM (`kill`,
    /// `docker stop`, `systemctl stop`) on Unix, Ctrl-C elsewhere. What
    /// [`Client::close_on_signal`](crate::Client::close_on_signal) waits for.
    ///
    /// # Errors
    ///
    /// If the signal handlers cannot be installed.
    fn stop_signal(&self) -> impl Future<Output = std::io::Result<()>> + Send;

    /// Opens a WebSocket client connection to `url` (`ws://` or `wss://`).
    fn connect(
        &self,
        url: &str,
    ) -> impl Future<Output = Result<WebSocketStream<Self::Stream>, WsError>> + Send;
}

/// `future`'s output, or `None` if `limit` passes first.
pub(crate) async fn timeout<R: Runtime, T>(
    runtime: &R,
    limit: core::time::Duration,
    future: impl Future<Output = T>,
) -> Option<T> {
    let sleep = runtime.sleep(limit);
    futures_util::pin_mut!(future, sleep);
    match futures_util::future::select(future, sleep).await {
        futures_util::future::Either::Left((value, _)) => Some(value),
        futures_util::future::Either::Right(((), _)) => None,
    }
}

/// The largest WebSocket message (and frame) a shard accepts: 4 MiB. QQ's events are a
/// few KiB; a larger message ends the connection (as a drop, so the session is resumed)
/// instead of growing a buffer to tungstenite's default of 64 MiB.
pub const MAX_MESSAGE_SIZE: usize = 4 << 20;

/// The WebSocket settings every adapter connects with.
///
/// The read buffer is 16 KiB instead of tungstenite's 128 KiB: that buffer is zero-filled
/// on the first read, so it stays resident for every shard, while gateway frames are
/// mostly under 2 KiB (a larger one is still read whole, over several reads).
///
/// Messages and frames are limited to [`MAX_MESSAGE_SIZE`] (4 MiB) instead of
/// tungstenite's 64 MiB and 16 MiB: what a broken or hostile server can make each shard
/// buffer. QQ's events are kilobytes (the same events arrive as webhook bodies, limited to
/// 1 MiB).
#[must_use]
pub fn websocket_config() -> async_tungstenite::tungstenite::protocol::WebSocketConfig {
    async_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_MESSAGE_SIZE))
}

/// The bot's clock: milliseconds since the client started, read from the runtime's
/// clock. One epoch for every shard, token and limiter of a client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    epoch: std::time::Instant,
}

impl Clock {
    pub(crate) fn new(runtime: &impl Runtime) -> Self {
        Self { epoch: runtime.now() }
    }

    /// The runtime's `now` on this clock.
    pub(crate) fn read(self, runtime: &impl Runtime) -> qqgw_proto::Instant {
        let elapsed = runtime.now().saturating_duration_since(self.epoch);
        qqgw_proto::Instant::from_millis(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deadline(self, at: qqgw_proto::Instant) -> std::time::Instant {
        self.epoch + core::time::Duration::from_millis(at.as_millis())
    }
}

//! What an adapter provides: a clock, tasks, timers, blocking calls, the process's stop
//! signal and byte streams (TCP, and TLS for `wss://`).

use core::future::Future;
use std::time::Instant;

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

    /// Opens a TCP connection to `host:port` and, when `tls`, a TLS session over it for
    /// the server name `host`, with [`tls_config`](crate::tls_config). The client runs
    /// the WebSocket handshake over the stream itself.
    fn connect(
        &self,
        host: &str,
        port: u16,
        tls: bool,
    ) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
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

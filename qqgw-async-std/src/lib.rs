#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use core::future::Future;
use std::time::Instant;

pub use qqgw_client::*;

/// A bot on async-std or smol: every shard a task of the global async executor.
///
/// The generic [`qqgw_client::Client`] on the [`AsyncIo`] runtime; its methods are listed
/// in full under "Implementations" below, and in short here:
///
/// | method | what it does |
/// |---|---|
/// | [`connect(config)`](Client::connect) | fetches a token and `GET /gateway/bot`, starts every shard |
/// | [`connect_on(runtime, config)`](Client::connect_on) | the same on a given runtime value |
/// | [`run(handler)`](Client::run) | serves every event to an [`EventHandler`] until the shards stop; returns the sessions |
/// | [`take_events()`](Client::take_events) | every shard's events as one [`Events`] stream instead |
/// | [`take_shard_events()`](Client::take_shard_events) | one stream per shard |
/// | [`shutdown_handle()`](Client::shutdown_handle) | a [`ShutdownHandle`] that closes every shard (for a signal handler) |
/// | [`shutdown()`](Client::shutdown) | closes every shard and returns the sessions to resume later |
/// | [`api()`](Client::api) | the bot's [`Api`] for sending, on the shards' token (handlers have it as [`Context::api`] and [`Context::reply`]) |
/// | [`shards()`](Client::shards) | a [`Shard`] handle per shard: state, session, latency, metrics |
/// | [`gateway()`](Client::gateway) | what `GET /gateway/bot` said |
/// | [`runtime()`](Client::runtime) | the runtime the shards run on |
///
/// Errors are [`Error`]s, whose `Display` is one line for the person running the bot.
///
/// # Examples
///
/// ```no_run
/// use qqgw_async_std::{Client, Config, Context, EventHandler, model::Message};
///
/// struct Bot;
///
/// impl EventHandler for Bot {
///     async fn at_message_create(&self, _ctx: Context, msg: Message) {
///         println!("{:?}", msg.content);
///     }
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::connect(Config::from_env()?).await?;
/// let sessions = client.run(Bot).await?;
/// # Ok(()) }
/// ```
pub type Client = qqgw_client::Client<AsyncIo>;

/// The [`Runtime`] of async-std and smol, built on what both are made of: tasks on
/// `async-global-executor` (the executor async-std spawns on), blocking calls on
/// `blocking`'s thread pool, `async-io` timers, `async-signal`, and `async-net`'s TCP with
/// `futures-rustls` ([`tls_config`]) for `wss://`.
///
/// It works under either runtime, or none (`async_io::block_on`): it needs nothing from
/// the caller's executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncIo;

impl Runtime for AsyncIo {
    type Stream = MaybeTls<async_net::TcpStream, futures_rustls::client::TlsStream<async_net::TcpStream>>;

    /// The system's monotonic clock (`async-io`'s timers run on it).
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        async_global_executor::spawn(task).detach();
    }

    fn spawn_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = Option<T>> + Send {
        let task = blocking::unblock(f);
        async move { Some(task.await) }
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        let timer = async_io::Timer::at(deadline);
        async move {
            timer.await;
        }
    }

    /// `async-signal`: SIGINT or SIGTERM on Unix, Ctrl-C elsewhere.
    async fn stop_signal(&self) -> std::io::Result<()> {
        use futures_util::StreamExt;
        let mut signals =
            async_signal::Signals::new([async_signal::Signal::Int, async_signal::Signal::Term])?;
        signals.next().await.transpose()?;
        Ok(())
    }

    /// `async-net`'s TCP (no Nagle delay), with `futures-rustls` for `wss://`.
    async fn connect(&self, host: &str, port: u16, tls: bool) -> std::io::Result<Self::Stream> {
        let tcp = async_net::TcpStream::connect((host, port)).await?;
        tcp.set_nodelay(true)?;
        if !tls {
            return Ok(MaybeTls::Plain(tcp));
        }
        let name = rustls_pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let session =
            futures_rustls::TlsConnector::from(qqgw_client::tls_config()).connect(name, tcp).await?;
        Ok(MaybeTls::Tls(session))
    }
}

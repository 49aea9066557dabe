#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use core::future::Future;
use std::time::Instant;

use async_tungstenite::tokio::TokioAdapter;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub use qqgw_client::*;

#[cfg(feature = "webhook")]
pub mod webhook;
#[cfg(feature = "webhook")]
pub mod webhook_metrics;

/// A bot on tokio: every shard a tokio task.
///
/// The generic [`qqgw_client::Client`] on the [`Tokio`] runtime; its methods are listed
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
/// Call `Client::connect` from within a tokio runtime (with the `time` driver enabled).
///
/// # Examples
///
/// ```no_run
/// use qqgw_tokio::{Client, Config, Context, EventHandler, model::Message};
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
pub type Client = qqgw_client::Client<Tokio>;

/// The tokio [`Runtime`]: `tokio::spawn`, `spawn_blocking`, tokio's clock and timers,
/// `tokio::signal`, and TCP with rustls ([`tls_config`]) for `wss://`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Stream = MaybeTls<TokioAdapter<TcpStream>, TokioAdapter<TlsStream<TcpStream>>>;

    /// tokio's clock: [`tokio::time::Instant::now`](https://docs.rs/tokio/1/tokio/time/struct.Instant.html#method.now), so a paused clock (`start_paused`)
    /// runs the whole client on virtual time.
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    fn spawn_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> impl Future<Output = Option<T>> + Send {
        let task = tokio::task::spawn_blocking(f);
        async move { task.await.ok() }
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(deadline.into())
    }

    /// `tokio::signal`: SIGINT or SIGTERM on Unix, Ctrl-C elsewhere.
    async fn stop_signal(&self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut interrupt = signal(SignalKind::interrupt())?;
            let mut terminate = signal(SignalKind::terminate())?;
            let (interrupted, terminated) = (interrupt.recv(), terminate.recv());
            futures_util::future::select(core::pin::pin!(interrupted), core::pin::pin!(terminated)).await;
            Ok(())
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await
        }
    }

    /// `tokio::net::TcpStream` (no Nagle delay), with `tokio-rustls` for `wss://`.
    async fn connect(&self, host: &str, port: u16, tls: bool) -> std::io::Result<Self::Stream> {
        let tcp = tokio::net::TcpStream::connect((host, port)).await?;
        tcp.set_nodelay(true)?;
        if !tls {
            return Ok(MaybeTls::Plain(TokioAdapter::new(tcp)));
        }
        let name = rustls_pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let session = tokio_rustls::TlsConnector::from(qqgw_client::tls_config()).connect(name, tcp).await?;
        Ok(MaybeTls::Tls(TokioAdapter::new(session)))
    }
}

/// The workspace README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;

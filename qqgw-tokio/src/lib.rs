#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use core::future::Future;
use std::time::Instant;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::{ConnectStream, connect_async_with_config};
use async_tungstenite::tungstenite::Error as WsError;

pub use qqgw_client::*;

#[cfg(feature = "webhook")]
pub mod webhook;

/// A bot on tokio: every shard a tokio task. See [`qqgw_client::Client`] for the API.
///
/// Call [`Client::connect`] from within a tokio runtime (with the `time` driver enabled).
pub type Client = qqgw_client::Client<Tokio>;

/// The tokio [`Runtime`]: `tokio::spawn`, `spawn_blocking`, tokio timers, and
/// async-tungstenite's tokio client with rustls and the webpki roots.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    type Stream = ConnectStream;

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

    fn connect(
        &self,
        url: &str,
    ) -> impl Future<Output = Result<WebSocketStream<Self::Stream>, WsError>> + Send {
        let url = url.to_owned();
        let config = qqgw_client::websocket_config();
        async move { connect_async_with_config(url, Some(config)).await.map(|(ws, _)| ws) }
    }
}

/// The workspace README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use core::future::Future;
use std::time::Instant;

use async_tungstenite::WebSocketStream;
use async_tungstenite::smol::{ConnectStream, connect_async_with_config};
use async_tungstenite::tungstenite::Error as WsError;

pub use qqgw_client::*;

/// A bot on async-std or smol: every shard a task of the global async executor. See
/// [`qqgw_client::Client`] for the API.
pub type Client = qqgw_client::Client<AsyncIo>;

/// The [`Runtime`] of async-std and smol, built on what both are made of: tasks on
/// `async-global-executor` (the executor async-std spawns on), blocking calls on
/// `blocking`'s thread pool, `async-io` timers, and async-tungstenite's runtime-neutral
/// client over `async-net` with `futures-rustls` and the webpki roots.
///
/// It works under either runtime, or none (`async_io::block_on`): it needs nothing from
/// the caller's executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncIo;

impl Runtime for AsyncIo {
    type Stream = ConnectStream;

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

    fn connect(
        &self,
        url: &str,
    ) -> impl Future<Output = Result<WebSocketStream<Self::Stream>, WsError>> + Send {
        let url = url.to_owned();
        let config = qqgw_client::websocket_config();
        async move { connect_async_with_config(url, Some(config)).await.map(|(ws, _)| ws) }
    }
}

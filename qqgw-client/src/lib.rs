#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod api;
mod client;
mod config;
mod delivery;
mod error;
mod event;
mod handler;
mod handoff;
mod http;
pub mod metrics;
mod pacer;
pub mod policy;
mod runtime;
mod shard;
mod store;
mod tail;
mod websocket;

pub use api::{Api, CallError, Outgoing, Target};
pub use client::{
    Client, EventSender, Events, ShardEvents, ShutdownHandle, TrySendError, event_channel, run_handler,
};
pub use config::{
    Config, ConfigBuilder, ConfigError, DEFAULT_EVENT_BUFFER, DEFAULT_HANDLER_CONCURRENCY,
    DEFAULT_SHUTDOWN_TIMEOUT, Shards,
};
pub use delivery::run_handler_concurrently;
pub use error::Error;
pub use event::{Handled, Receipt, ShardEvent};
pub use handler::{Context, EventError, EventHandler};
pub use pacer::{IdentifyPacer, LocalPacer, PacerFuture};
pub use runtime::Runtime;
pub use shard::{Shard, ShardStatus};
pub use store::{FileStore, SessionStore, StoreError, StoreFuture};
pub use tail::tail;
pub use websocket::{MAX_MESSAGE_SIZE, MaybeTls, tls_config, websocket_config};

pub use qqgw_proto::model;
/// QQ's OpenAPI as data: every route's request and response, and the code table
/// (`qqgw_proto::openapi`), for [`Api::call`].
#[doc(no_inline)]
pub use qqgw_proto::openapi;
pub use qqgw_proto::{
    API_BASE, API_BASE_2026, Backoff, Disconnect, DisconnectCause, Dispatch, Event, IdentifySlot, Intents,
    LEGACY_API_BASE, Latency, Metrics, PacerAnswer, PacerRequest, SANDBOX_API_BASE, Session,
    SessionStartLimit, ShardId, State, TOKEN_URL,
};

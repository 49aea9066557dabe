#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
mod backoff;
mod close;
mod config;
mod dedup;
mod dispatch;
mod envelope;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod incoming;
mod intents;
mod limiter;
mod machine;
pub mod model;
#[cfg(any(feature = "testing", feature = "fuzzing"))]
mod mutate;
mod opcode;
pub mod openapi;
mod outgoing;
mod rng;
mod session;
mod shard;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod token;
#[cfg(feature = "webhook")]
pub mod webhook;

pub use api::{
    API_BASE, API_BASE_2026, GATEWAY_BOT_PATH, GatewayInfo, LEGACY_API_BASE, MAX_SHARDS, SANDBOX_API_BASE,
    TOKEN_PATH, TOKEN_URL,
};
pub use backoff::Backoff;
pub use close::{CloseAction, CloseCode, CloseFrame};
pub use config::{Config, ConfigBuilder, DEFAULT_RECONNECT_JITTER};
pub use dispatch::{Ack, Dispatch};
pub use error::{ConfigError, DecodeError, FatalError, TokenError};
pub use incoming::{DEFAULT_HEARTBEAT_INTERVAL, MAX_HEARTBEAT_INTERVAL, MIN_HEARTBEAT_INTERVAL};
pub use intents::{Intents, UnknownIntent};
pub use limiter::{
    IDENTIFY_WINDOW, IdentifyLimiter, IdentifySlot, PacerAnswer, PacerRequest, SLOT_TIMEOUT,
    SessionStartLimit,
};
pub use machine::{
    Disconnect, DisconnectCause, Event, FLAP_WINDOW, GatewayMachine, Input, Latency, MAX_SEQ_STEP,
    MAX_UNACKED, Metrics, Output, Reconnect, STORM_BURST, STORM_REFILL, State, Timer, UsageError,
};
pub use opcode::OpCode;
pub use openapi::ApiError;
pub use session::Session;
pub use shard::{InvalidShard, ShardId, shard_for_guild};
pub use time::Instant;
pub use token::{
    AccessToken, CREDENTIAL_REJECTIONS, Credentials, TOKEN_REFRESH_MARGIN, TOKEN_RENEWAL_WINDOW,
    parse_token_response,
};

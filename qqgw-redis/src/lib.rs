#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cluster;
mod conn;
mod dedup;
mod entry;
mod error;
mod keys;
mod lease;
pub mod metrics;
mod outbox;
mod pacer;
mod scripts;
mod sink;
mod stats;
mod store;
mod worker;

pub use cluster::{Cluster, ClusterConfig, ClusterView, DEFAULT_LEASE_TTL, DEFAULT_POLL};
pub use conn::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT, DEFAULT_TCP_KEEPALIVE, DEFAULT_TCP_USER_TIMEOUT,
    Redis, RedisConfig,
};
pub use dedup::{Claim, DEFAULT_CLAIM_TTL, DEFAULT_DONE_MEMORY, DEFAULT_DONE_TTL, EventDedup};
pub use entry::{
    FIELD_EVENT, FIELD_GAP, FIELD_ID, FIELD_RECEIVED_AT, FIELD_SEQ, FIELD_SESSION, FIELD_SHARD, FIELD_TYPE,
    FIELD_VERSION, FIELD_WRITER, FORMAT_VERSION,
};
pub use error::Error;
pub use keys::Keys;
pub use lease::{FencingToken, Lease};
pub use outbox::{Outbox, OutboxConfig, OutboxStats};
pub use pacer::{RedisPacer, UNREACHABLE_RETRY};
pub use sink::{DEFAULT_MAX_LEN, Gap, StreamSink};
pub use stats::{GroupStats, StreamStats, stream_stats};
pub use store::{DEFAULT_SESSION_TTL, RedisSessionStore};
pub use worker::{
    DEFAULT_CONSUMER_EXPIRY, Delivery, Item, Worker, WorkerConfig, WorkerStats, default_consumer_name,
};

pub use redis;

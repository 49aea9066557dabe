//! The crate's error.

use qqgw_proto::ShardId;

/// Why a Redis operation of this crate failed.
///
/// Its `Display` names what failed and never contains a password of the Redis URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis could not be reached, or refused a command.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A write was refused because this process no longer holds the shard's lease: another
    /// process has taken the shard over (a newer fencing token is current).
    #[error(
        "shard {shard}: fenced: fencing token {token} is no longer current (another process owns the shard now, or Redis lost the acquisition)"
    )]
    Fenced {
        /// The shard.
        shard: ShardId,
        /// The fencing token the refused write carried.
        token: crate::FencingToken,
    },
    /// Redis does not hold the checkpoint this process last wrote, but an older one (or
    /// none): it lost its latest writes — a crash with `appendfsync everysec`, a restart
    /// without persistence, a failover to a replica that lagged. Nothing was written.
    /// Restart the shard's client from `stored` (RESUME: QQ replays what was lost), or
    /// IDENTIFY if there is none; a session lost with the writes has been reported in the
    /// stream already (a `rolled_back` gap). [`Cluster`](crate::Cluster) does all this.
    #[error(
        "shard {shard}: redis lost writes: it holds the checkpoint {stored:?}, not {written:?} as written; the shard restarts from it"
    )]
    RolledBack {
        /// The shard.
        shard: ShardId,
        /// The checkpoint Redis holds.
        stored: Option<qqgw_proto::Session>,
        /// The checkpoint this process last wrote.
        written: Option<qqgw_proto::Session>,
    },
    /// A call did not complete in time: Redis is slow or unreachable, or the connection is
    /// half-open (it is replaced).
    #[error("redis: {what} timed out after {after:?}")]
    Timeout {
        /// The call.
        what: &'static str,
        /// Its deadline.
        after: core::time::Duration,
    },
    /// Redis is set up in a way this crate cannot keep its promises on; `fix` says what
    /// to change.
    #[error("redis: {setting} is {found}: {fix}")]
    UnsafeSettings {
        /// The setting (`maxmemory-policy`, `appendonly`, `cluster_enabled`).
        setting: &'static str,
        /// Its value.
        found: String,
        /// What to do.
        fix: String,
    },
    /// Something read from Redis is not what this crate writes there.
    #[error("unreadable data in redis at {key}: {reason}")]
    Decode {
        /// The key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The client of a shard could not start.
    #[error("shard {shard}: {error}")]
    Client {
        /// The shard.
        shard: ShardId,
        /// Why.
        error: qqgw_client::Error,
    },
}

impl Error {
    /// Whether this is [`Error::Fenced`]: the shard belongs to another process now.
    #[must_use]
    pub fn is_fenced(&self) -> bool {
        matches!(self, Self::Fenced { .. })
    }

    /// Whether this is [`Error::RolledBack`]: Redis lost writes.
    #[must_use]
    pub fn is_rolled_back(&self) -> bool {
        matches!(self, Self::RolledBack { .. })
    }
}

//! Where everything lives in Redis.

use qqgw_proto::ShardId;

/// The Redis key names of one bot: every key starts with a prefix, by default
/// `qqgw:<app_id>`, so several bots (or test runs) can share one Redis.
///
/// | key | type | what |
/// |---|---|---|
/// | `<prefix>:session:<id>/<total>` | hash `id`, `seq`, `shard` | the shard's session and handled checkpoint |
/// | `<prefix>:lease:<id>/<total>` | string | the shard's lease: the owner's token, with a TTL |
/// | `<prefix>:fence:<id>/<total>` | string | the shard's current fencing token, `<counter>:<nonce>`, drawn by each acquisition |
/// | `<prefix>:stream:<id>/<total>` | stream | the shard's events, for workers |
/// | `<prefix>:identifying:<id>/<total>` | string, TTL | an IDENTIFY slot granted to the shard whose READY is not in the stream yet |
/// | `<prefix>:trimmed:<id>/<total>` | hash | per consumer group, its last report of entries trimmed unread |
/// | `<prefix>:pacer:<bucket>` | sorted set | IDENTIFY slots of a rate-limit bucket |
/// | `<prefix>:pacer:day` | hash | the daily session budget |
/// | `<prefix>:claim:<scope>:<event id>` | string, TTL | a webhook event being handled, by whom ([`EventDedup`](crate::EventDedup)) |
/// | `<prefix>:done:<scope>` | sorted set | event ids handled, by when; bounded in age and number (dedup) |
/// | `<prefix>:outbox` | stream | requests workers ask the gateway to execute ([`Outbox`](crate::Outbox)) |
/// | `<prefix>:outbox:results` | stream | every answer of the outbox, bounded: to wait for answers |
/// | `<prefix>:outbox:result:<request id>` | string, TTL | the answer to one request (JSON) |
/// | `<prefix>:outbox:claim:<request id>` | string, TTL | a request being executed, by which entry |
///
/// The keys of one shard are used together by one script, and every connection is to one
/// server: Redis Cluster is not supported ([`Redis::connect`](crate::Redis::connect)
/// refuses it). Use one primary, with replicas and Sentinel for failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys of the bot `app_id`: prefix `qqgw:<app_id>`.
    #[must_use]
    pub fn for_app(app_id: &str) -> Self {
        Self { prefix: format!("qqgw:{app_id}") }
    }

    /// Keys under `prefix` exactly.
    #[must_use]
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into() }
    }

    /// The prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn shard_key(&self, kind: &str, shard: ShardId) -> String {
        format!("{}:{kind}:{}/{}", self.prefix, shard.id(), shard.total())
    }

    /// The session hash of `shard`.
    #[must_use]
    pub fn session(&self, shard: ShardId) -> String {
        self.shard_key("session", shard)
    }

    /// The lease of `shard`.
    #[must_use]
    pub fn lease(&self, shard: ShardId) -> String {
        self.shard_key("lease", shard)
    }

    /// The fencing counter of `shard`.
    #[must_use]
    pub fn fence(&self, shard: ShardId) -> String {
        self.shard_key("fence", shard)
    }

    /// The event stream of `shard`.
    #[must_use]
    pub fn stream(&self, shard: ShardId) -> String {
        self.shard_key("stream", shard)
    }

    /// The IDENTIFY slot granted to `shard` whose READY is not in the stream yet: a
    /// session may have started that Redis does not know of.
    #[must_use]
    pub fn identifying(&self, shard: ShardId) -> String {
        self.shard_key("identifying", shard)
    }

    /// Per consumer group, the last report of entries trimmed from `shard`'s stream unread.
    #[must_use]
    pub fn trimmed(&self, shard: ShardId) -> String {
        self.shard_key("trimmed", shard)
    }

    /// The IDENTIFY slots of rate-limit `bucket`.
    #[must_use]
    pub fn pacer_bucket(&self, bucket: u32) -> String {
        format!("{}:pacer:{bucket}", self.prefix)
    }

    /// The daily session budget.
    #[must_use]
    pub fn pacer_day(&self) -> String {
        format!("{}:pacer:day", self.prefix)
    }

    /// The claim on event `event_id` of `scope`, held while one process handles it.
    #[must_use]
    pub fn claim(&self, scope: &str, event_id: &str) -> String {
        format!("{}:claim:{scope}:{event_id}", self.prefix)
    }

    /// The event ids handled in `scope`.
    #[must_use]
    pub fn done(&self, scope: &str) -> String {
        format!("{}:done:{scope}", self.prefix)
    }

    /// The outbox: requests for the gateway to execute.
    #[must_use]
    pub fn outbox(&self) -> String {
        format!("{}:outbox", self.prefix)
    }

    /// The stream of every outbox answer.
    #[must_use]
    pub fn outbox_results(&self) -> String {
        format!("{}:outbox:results", self.prefix)
    }

    /// The answer to outbox request `request_id`.
    #[must_use]
    pub fn outbox_result(&self, request_id: &str) -> String {
        format!("{}:outbox:result:{request_id}", self.prefix)
    }

    /// The claim on outbox request `request_id` while it is executed.
    #[must_use]
    pub fn outbox_claim(&self, request_id: &str) -> String {
        format!("{}:outbox:claim:{request_id}", self.prefix)
    }
}

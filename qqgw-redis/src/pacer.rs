//! Identify pacing shared by every process of a bot, in Redis.

use core::time::Duration;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use qqgw_client::{IdentifyPacer, PacerFuture};
use qqgw_proto::{
    IDENTIFY_WINDOW, IdentifySlot, PacerAnswer, PacerRequest, SLOT_TIMEOUT, SessionStartLimit, ShardId,
};
use redis::Script;

use crate::lease::millis;
use crate::{Error, Redis};

/// How long a shard waits before asking again when Redis could not be asked.
pub const UNREACHABLE_RETRY: Duration = Duration::from_secs(1);
/// The longest wait told while the bucket's slot is granted but its IDENTIFY not yet sent
/// (its window cannot end before it is sent, so the answer is re-asked).
const PENDING_RECHECK_MS: u64 = 500;

/// The clock is Redis's own (`TIME`), the same for every process. The bucket is a sorted
/// set of slots scored by when each stops counting: `g:<id>` granted and not yet sent
/// (ends after the slot timeout), `s:<id>` sent (ends a window after the IDENTIFY). The
/// day is a hash with `remaining` and `reset_at`, restarted from QQ's latest figures once
/// `reset_at` has passed.
///
/// `ARGV`: slot id, slot timeout (ms), remaining (QQ's), reset_after (ms), slots per
/// bucket, pending recheck (ms). Returns `{1, 0}` when granted, `{0, wait_ms}` when not.
const ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reset_at = tonumber(redis.call('HGET', KEYS[2], 'reset_at'))
if not reset_at or reset_at <= now then
  reset_at = now + tonumber(ARGV[4])
  redis.call('HSET', KEYS[2], 'remaining', ARGV[3], 'reset_at', reset_at)
  redis.call('PEXPIREAT', KEYS[2], reset_at)
end
if tonumber(redis.call('HGET', KEYS[2], 'remaining')) <= 0 then
  return {0, reset_at - now}
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = math.max(tonumber(first[2]) - now, 1)
  if string.sub(first[1], 1, 2) == 'g:' then
    wait = math.min(wait, tonumber(ARGV[6]))
  end
  return {0, wait}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), 'g:' .. ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 60000)
redis.call('HINCRBY', KEYS[2], 'remaining', -1)
return {1, 0}
";

/// The IDENTIFY of slot `ARGV[1]` was sent now: it counts for a window (`ARGV[2]` ms)
/// from Redis's now, whether or not its grant had timed out meanwhile.
const SENT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], 'g:' .. ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), 's:' .. ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 60000)
return 1
";

/// Slot `ARGV[1]` went unused: its place and its share of the daily budget come back.
const RELEASE: &str = r"
if redis.call('ZREM', KEYS[1], 'g:' .. ARGV[1]) == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'remaining', 1)
end
return 1
";

static ACQUIRE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACQUIRE));
static SENT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(SENT));
static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE));

/// QQ's identify rule for every process of a bot at once, enforced by Lua scripts in
/// Redis: at most one IDENTIFY per 5 s per bucket — `bucket = shard_id % max_concurrency`,
/// so at most `max_concurrency` per 5 s in all — and none once the day's `remaining` is
/// spent, until `reset_after`. The clock is Redis's (`TIME`), so the processes' clocks
/// need not agree.
///
/// Each IDENTIFY takes a slot in its shard's bucket before connecting; the 5 s window
/// counts from when the IDENTIFY was sent ([`PacerRequest::Sent`]). A slot granted but
/// neither sent nor released — its holder crashed while connecting — stops counting after
/// [`SLOT_TIMEOUT`] by itself, so no crash blocks a bucket for long. A slot released
/// unused gives its share of the daily budget back.
///
/// If Redis cannot be asked, the shard is told to wait [`UNREACHABLE_RETRY`] and ask
/// again: no IDENTIFY goes out unpaced.
///
/// Give it to each `Client` with
/// `identify_pacer` of [`ConfigBuilder`](qqgw_client::ConfigBuilder);
/// [`Cluster`](crate::Cluster) does.
#[derive(Debug, Clone)]
pub struct RedisPacer {
    redis: Redis,
    limit: Arc<Mutex<SessionStartLimit>>,
    slot_timeout: Duration,
}

static SLOT_COUNTER: AtomicU64 = AtomicU64::new(0);

fn slot_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(SLOT_COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.finish()
}

impl RedisPacer {
    /// A pacer for a bot whose `session_start_limit` (from `GET /gateway/bot`) is `limit`.
    /// Only `max_concurrency` matters at once; `remaining` and `reset_after` start the
    /// day's budget in Redis when there is none.
    #[must_use]
    pub fn new(redis: Redis, limit: SessionStartLimit) -> Self {
        Self { redis, limit: Arc::new(Mutex::new(limit)), slot_timeout: SLOT_TIMEOUT }
    }

    /// How long a granted slot counts without being sent. Default [`SLOT_TIMEOUT`].
    #[must_use]
    pub fn slot_timeout(mut self, timeout: Duration) -> Self {
        self.slot_timeout = timeout;
        self
    }

    /// Takes QQ's latest figures (a newer `GET /gateway/bot`); shared by every clone.
    pub fn set_limit(&self, limit: SessionStartLimit) {
        *self.limit.lock().unwrap_or_else(PoisonError::into_inner) = limit;
    }

    /// The figures the pacer goes by.
    #[must_use]
    pub fn limit(&self) -> SessionStartLimit {
        *self.limit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bucket_key(&self, shard: ShardId) -> String {
        let buckets = self.limit().max_concurrency.max(1);
        self.redis.keys().pacer_bucket(shard.id() % buckets)
    }

    /// Asks for a slot for `shard`'s IDENTIFY.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn acquire(&self, shard: ShardId) -> Result<PacerAnswer, Error> {
        let limit = self.limit();
        let id = slot_id();
        let (granted, wait): (u64, u64) = ACQUIRE_SCRIPT
            .key(self.bucket_key(shard))
            .key(self.redis.keys().pacer_day())
            .arg(id.to_string())
            .arg(millis(self.slot_timeout))
            .arg(limit.remaining)
            .arg(limit.reset_after.max(1))
            .arg(1)
            .arg(PENDING_RECHECK_MS)
            .invoke_async(&mut self.redis.connection())
            .await?;
        tracing::debug!(%shard, bucket = self.bucket_key(shard), granted, wait, "identify slot asked");
        Ok(if granted == 1 {
            PacerAnswer::Granted(IdentifySlot(id))
        } else {
            PacerAnswer::Deferred(Duration::from_millis(wait.max(1)))
        })
    }

    /// The IDENTIFY of `slot` was sent now.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached (the slot then counts until it times out).
    pub async fn sent(&self, shard: ShardId, slot: IdentifySlot) -> Result<(), Error> {
        let _: u64 = SENT_SCRIPT
            .key(self.bucket_key(shard))
            .arg(slot.0.to_string())
            .arg(millis(IDENTIFY_WINDOW))
            .invoke_async(&mut self.redis.connection())
            .await?;
        Ok(())
    }

    /// `slot` went unused.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached (the slot then counts until it times out).
    pub async fn release(&self, shard: ShardId, slot: IdentifySlot) -> Result<(), Error> {
        let _: u64 = RELEASE_SCRIPT
            .key(self.bucket_key(shard))
            .key(self.redis.keys().pacer_day())
            .arg(slot.0.to_string())
            .invoke_async(&mut self.redis.connection())
            .await?;
        Ok(())
    }
}

impl IdentifyPacer for RedisPacer {
    /// Ignores `now`: the slots are timed on Redis's clock (`TIME`), shared by every process.
    fn handle(&self, shard: ShardId, request: PacerRequest, _now: std::time::Instant) -> PacerFuture<'_> {
        Box::pin(async move {
            match request {
                PacerRequest::Acquire => Some(match self.acquire(shard).await {
                    Ok(answer) => answer,
                    Err(error) => {
                        tracing::warn!(%shard, %error, "identify pacer: redis unreachable; waiting");
                        PacerAnswer::Deferred(UNREACHABLE_RETRY)
                    }
                }),
                PacerRequest::Sent(slot) => {
                    if let Err(error) = self.sent(shard, slot).await {
                        tracing::warn!(%shard, %error, "identify pacer: could not record an IDENTIFY sent");
                    }
                    None
                }
                PacerRequest::Release(slot) => {
                    if let Err(error) = self.release(shard, slot).await {
                        tracing::warn!(%shard, %error, "identify pacer: could not give a slot back");
                    }
                    None
                }
            }
        })
    }
}

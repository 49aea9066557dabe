//! Identify pacing shared by every process of a bot, in Redis.

use core::time::Duration;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::lease::{FencingToken, millis};
use crate::scripts::{PacerAcquire, PacerRelease, PacerSent};
use crate::{Error, Redis};
use qqgw_client::{IdentifyPacer, PacerFuture};
use qqgw_proto::{
    IDENTIFY_WINDOW, IdentifySlot, PacerAnswer, PacerRequest, SLOT_TIMEOUT, SessionStartLimit, ShardId,
};

/// How long a shard waits before asking again when Redis could not be asked.
pub const UNREACHABLE_RETRY: Duration = Duration::from_secs(1);
/// The longest wait told while the bucket's slot is granted but its IDENTIFY not yet sent
/// (its window cannot end before it is sent, so the answer is re-asked).
const PENDING_RECHECK_MS: u64 = 500;

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
    /// The deadline of each call; the connection's response timeout when `None`.
    call_timeout: Option<Duration>,
    /// For a shard run by a cluster: its owner's fencing token, and how long a grant is
    /// recorded (see [`RedisPacer::owned_by`]).
    owner: Option<(FencingToken, Duration)>,
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
        Self {
            redis,
            limit: Arc::new(Mutex::new(limit)),
            slot_timeout: SLOT_TIMEOUT,
            call_timeout: None,
            owner: None,
        }
    }

    /// This pacer for the one shard whose lease drew `token`: slots are granted only while
    /// `token` is the shard's fencing token, and each grant is recorded for the shard (for
    /// `ttl`, until READY's entry is written) so that a process that dies between the
    /// IDENTIFY and that entry leaves a trace: [`StreamSink::recover`](crate::StreamSink::recover)
    /// reports the session that may have started. [`Cluster`](crate::Cluster) uses it.
    #[must_use]
    pub(crate) fn owned_by(&self, token: FencingToken, ttl: Duration) -> Self {
        Self { owner: Some((token, ttl)), ..self.clone() }
    }

    /// How long each call to Redis may take (a shard waits for it, its QQ connection open
    /// while it records an IDENTIFY sent). Default: the connection's
    /// [`response_timeout`](crate::RedisConfig::response_timeout).
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
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
        let acquire = PacerAcquire {
            bucket: &self.bucket_key(shard),
            day: &self.redis.keys().pacer_day(),
            fence: &self.redis.keys().fence(shard),
            identifying: &self.redis.keys().identifying(shard),
            token: &self.owner.as_ref().map(|(token, _)| token.to_string()).unwrap_or_default(),
            identifying_ttl_ms: millis(self.owner.as_ref().map_or(Duration::ZERO, |(_, ttl)| *ttl)),
            slot: &id.to_string(),
            slot_timeout_ms: millis(self.slot_timeout),
            remaining: limit.remaining,
            reset_after_ms: limit.reset_after.max(1),
            slots: 1,
            recheck_ms: PENDING_RECHECK_MS,
        }
        .invocation();
        let (granted, wait): (u64, u64) = self
            .redis
            .run(
                "identify slot",
                self.call_timeout,
                |mut c| async move { acquire.invoke_async(&mut c).await },
            )
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
        let sent = PacerSent {
            bucket: &self.bucket_key(shard),
            slot: &slot.0.to_string(),
            window_ms: millis(IDENTIFY_WINDOW),
        }
        .invocation();
        let _: u64 = self
            .redis
            .run("identify sent", self.call_timeout, |mut c| async move { sent.invoke_async(&mut c).await })
            .await?;
        Ok(())
    }

    /// `slot` went unused.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached (the slot then counts until it times out).
    pub async fn release(&self, shard: ShardId, slot: IdentifySlot) -> Result<(), Error> {
        let release = PacerRelease {
            bucket: &self.bucket_key(shard),
            day: &self.redis.keys().pacer_day(),
            identifying: &self.redis.keys().identifying(shard),
            slot: &slot.0.to_string(),
        }
        .invocation();
        let _: u64 = self
            .redis
            .run("identify slot release", self.call_timeout, |mut c| async move {
                release.invoke_async(&mut c).await
            })
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

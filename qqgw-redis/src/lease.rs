//! Shard leases and fencing tokens.

use core::time::Duration;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::scripts::{LeaseAcquire, LeaseRelease, LeaseRenew};
use crate::{Error, Redis};
use qqgw_proto::ShardId;

/// The fencing token of one lease acquisition: the shard's acquisition counter at that
/// acquisition and a nonce it drew, compared whole (`<counter>:<nonce>` in Redis).
///
/// The counter orders acquisitions; the nonce keeps two tokens apart when the counter
/// went back — Redis lost its latest writes (a crash with `appendfsync everysec`, a
/// failover to a replica that lagged) and a new owner drew a number a stale owner still
/// holds. Writes are checked against the whole token, so the stale owner is refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FencingToken {
    counter: u64,
    nonce: String,
}

impl FencingToken {
    /// The token as Redis keeps it, `<counter>:<nonce>`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (counter, nonce) = text.split_once(':')?;
        Some(Self { counter: counter.parse().ok()?, nonce: nonce.to_owned() })
    }

    /// The acquisition counter: higher for a later acquisition, unless Redis lost writes.
    #[must_use]
    pub fn counter(&self) -> u64 {
        self.counter
    }
}

impl core::fmt::Display for FencingToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{}", self.counter, self.nonce)
    }
}

/// A held shard lease: `SET <lease> <owner> NX PX <ttl>`, with the [`FencingToken`] the
/// acquisition drew in the same script.
///
/// The lease says who may run the shard; the fencing token is what makes a late writer
/// harmless: every checkpoint write carries it and is refused unless it is still the
/// shard's current one, so a process that was paused or cut off past its lease's expiry —
/// and so maybe replaced — can no longer overwrite the new owner's state.
///
/// Its validity is counted on this process's clock (the runtime's), from *before* the
/// request that set it was sent ([`valid_until`](Self::valid_until)): Redis received the
/// request later, so its own expiry is never earlier. A process that stops using the
/// shard by then never overlaps the next owner, however long the request took.
#[derive(Debug)]
pub struct Lease {
    shard: ShardId,
    owner: String,
    token: FencingToken,
    ttl: Duration,
    valid_until: Mutex<Instant>,
}

static OWNER_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A token no other acquisition uses: randomness (the standard library's per-process
/// random hash keys), a per-process counter and the process id.
pub(crate) fn nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(OWNER_COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Lease {
    /// Takes the lease of `shard` for `ttl` if nobody holds it; `None` if somebody does.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn try_acquire(redis: &Redis, shard: ShardId, ttl: Duration) -> Result<Option<Self>, Error> {
        let asked = redis.now();
        let owner = nonce();
        let (lease, fence) = (redis.keys().lease(shard), redis.keys().fence(shard));
        let acquire =
            LeaseAcquire { lease: &lease, fence: &fence, owner: &owner, ttl_ms: millis(ttl) }.invocation();
        let token: Option<String> = redis
            .run("lease acquire", None, |mut c| async move { acquire.invoke_async(&mut c).await })
            .await?;
        let Some(token) = token else { return Ok(None) };
        let token = FencingToken::parse(&token)
            .ok_or_else(|| Error::Decode { key: fence, reason: format!("not a fencing token: {token:?}") })?;
        Ok(Some(Self { shard, owner, token, ttl, valid_until: Mutex::new(asked + ttl) }))
    }

    /// The shard.
    #[must_use]
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The fencing token of this acquisition.
    #[must_use]
    pub fn token(&self) -> &FencingToken {
        &self.token
    }

    /// How long the lease lasts without a renewal.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// When the lease lapses at the latest, on the clock of the runtime `Redis` was
    /// connected with: its TTL counted from before the request that set it (the
    /// acquisition or the last renewal) was sent.
    #[must_use]
    pub fn valid_until(&self) -> Instant {
        *self.valid_until.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Extends the lease by its TTL from now. `false` if it is no longer ours (it expired,
    /// and maybe another process holds it now).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] or [`Error::Timeout`] if Redis cannot be reached.
    pub async fn renew(&self, redis: &Redis) -> Result<bool, Error> {
        self.renew_within(redis, redis.config().response_timeout).await
    }

    /// [`renew`](Self::renew), failing with [`Error::Timeout`] unless Redis answers within
    /// `limit` — the time left before the lease must be given up.
    ///
    /// # Errors
    ///
    /// As [`renew`](Self::renew).
    pub async fn renew_within(&self, redis: &Redis, limit: Duration) -> Result<bool, Error> {
        let asked = redis.now();
        let lease = redis.keys().lease(self.shard);
        let renew = LeaseRenew { lease: &lease, owner: &self.owner, ttl_ms: millis(self.ttl) }.invocation();
        let renewed: u64 = redis
            .run("lease renewal", Some(limit), |mut c| async move { renew.invoke_async(&mut c).await })
            .await?;
        if renewed == 1 {
            *self.valid_until.lock().unwrap_or_else(PoisonError::into_inner) = asked + self.ttl;
        }
        Ok(renewed == 1)
    }

    /// Gives the lease up (if it is still ours), so another process may take the shard at
    /// once rather than after the TTL.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn release(self, redis: &Redis) -> Result<bool, Error> {
        let lease = redis.keys().lease(self.shard);
        let release = LeaseRelease { lease: &lease, owner: &self.owner }.invocation();
        let released: u64 = redis
            .run("lease release", None, |mut c| async move { release.invoke_async(&mut c).await })
            .await?;
        Ok(released == 1)
    }
}

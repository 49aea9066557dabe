//! Shard leases and fencing tokens.

use core::time::Duration;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::scripts::{LeaseAcquire, LeaseRelease, LeaseRenew};
use crate::{Error, Redis};
use qqgw_proto::ShardId;

/// A held shard lease: `SET <lease> <owner> NX PX <ttl>`, with the fencing token the
/// acquisition drew (`INCR <fence>`, in the same script).
///
/// The lease says who may run the shard; the fencing token is what makes a late writer
/// harmless: every checkpoint write carries it and is refused unless it is still the
/// shard's current one, so a process that was paused or cut off past its lease's expiry —
/// and so maybe replaced — can no longer overwrite the new owner's state.
#[derive(Debug)]
pub struct Lease {
    shard: ShardId,
    owner: String,
    token: u64,
    ttl: Duration,
}

static OWNER_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A token no other acquisition uses: process id, a per-process counter and randomness.
fn owner_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(OWNER_COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{}:{:016x}", std::process::id(), hasher.finish())
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
        let owner = owner_token();
        let (lease, fence) = (redis.keys().lease(shard), redis.keys().fence(shard));
        let acquire =
            LeaseAcquire { lease: &lease, fence: &fence, owner: &owner, ttl_ms: millis(ttl) }.invocation();
        let token: u64 = redis
            .run("lease acquire", None, |mut c| async move { acquire.invoke_async(&mut c).await })
            .await?;
        Ok((token > 0).then_some(Self { shard, owner, token, ttl }))
    }

    /// The shard.
    #[must_use]
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The fencing token of this acquisition.
    #[must_use]
    pub fn token(&self) -> u64 {
        self.token
    }

    /// How long the lease lasts without a renewal.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Extends the lease by its TTL from now. `false` if it is no longer ours (it expired,
    /// and maybe another process holds it now).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn renew(&self, redis: &Redis) -> Result<bool, Error> {
        let lease = redis.keys().lease(self.shard);
        let renew = LeaseRenew { lease: &lease, owner: &self.owner, ttl_ms: millis(self.ttl) }.invocation();
        let renewed: u64 =
            redis.run("lease renewal", None, |mut c| async move { renew.invoke_async(&mut c).await }).await?;
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

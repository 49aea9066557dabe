//! Who decides when a shard may IDENTIFY: the [`IdentifyPacer`] trait and the in-process
//! pacer.

use core::future::Future;
use core::pin::Pin;
use std::sync::{Arc, OnceLock};

use qqgw_proto::{IdentifyLimiter, Instant, PacerAnswer, PacerRequest, SessionStartLimit, ShardId};

/// A boxed future, as [`IdentifyPacer::handle`] returns.
pub type PacerFuture<'a> = Pin<Box<dyn Future<Output = Option<PacerAnswer>> + Send + 'a>>;

/// Paces the IDENTIFYs of every shard of a bot, as QQ's `session_start_limit` demands: at
/// most `max_concurrency` per 5 s and `remaining` a day.
///
/// Each shard's machine asks its pacer before it IDENTIFYs and reports the slot sent or
/// unused ([`PacerRequest`]); the shard's task hands each request to
/// [`handle`](Self::handle) and the answer back to the machine. By default every
/// `Client` paces its own shards with a [`LocalPacer`]; bots whose shards run in several
/// processes share one pacer among them (e.g. in Redis) through
/// [`ConfigBuilder::identify_pacer`](crate::ConfigBuilder::identify_pacer).
///
/// A pacer bounds its own time: a shard waits for the answer to
/// [`PacerRequest::Acquire`] before connecting. A pacer that cannot decide (its store
/// unreachable) answers [`PacerAnswer::Deferred`] with a short wait rather than granting.
pub trait IdentifyPacer: Send + Sync + 'static {
    /// Acts on `request` of the machine of `shard` at `now` (the runtime's clock); resolves
    /// to the answer to [`PacerRequest::Acquire`], and to `None` for the others. A pacer
    /// that keeps time elsewhere (a shared store's clock) may ignore `now`.
    fn handle(&self, shard: ShardId, request: PacerRequest, now: std::time::Instant) -> PacerFuture<'_>;
}

/// The in-process pacer: an [`IdentifyLimiter`] on the clock its callers read. What a `Client`
/// uses unless told otherwise, built from `GET /gateway/bot`'s `session_start_limit`.
///
/// Share one (it is cheap to clone) among the `Client`s of one process that run shards
/// of the same bot.
///
/// # Examples
///
/// ```
/// use qqgw_client::{Config, LocalPacer};
/// use qqgw_proto::SessionStartLimit;
///
/// let pacer = LocalPacer::new(SessionStartLimit { max_concurrency: 2, ..SessionStartLimit::default() });
/// let config = Config::builder("102012345", "secret").identify_pacer(pacer.clone()).build();
/// assert_eq!(pacer.limiter().remaining(), 1000);
/// ```
#[derive(Debug, Clone)]
pub struct LocalPacer {
    limiter: IdentifyLimiter,
    /// The `now` of the first request: the limiter's [`Instant::ZERO`].
    epoch: Arc<OnceLock<std::time::Instant>>,
}

impl LocalPacer {
    /// A pacer for `limit`, whose day (`reset_after`) starts with its first request.
    #[must_use]
    pub fn new(limit: SessionStartLimit) -> Self {
        Self { limiter: IdentifyLimiter::new(limit, Instant::ZERO), epoch: Arc::default() }
    }

    /// The limiter behind it, e.g. to read how many IDENTIFYs are left today.
    #[must_use]
    pub fn limiter(&self) -> &IdentifyLimiter {
        &self.limiter
    }

    /// `now` on the limiter's time line.
    fn instant(&self, now: std::time::Instant) -> Instant {
        let elapsed = now.saturating_duration_since(*self.epoch.get_or_init(|| now));
        Instant::from_millis(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }
}

impl IdentifyPacer for LocalPacer {
    fn handle(&self, shard: ShardId, request: PacerRequest, now: std::time::Instant) -> PacerFuture<'_> {
        let answer = self.limiter.handle(shard, request, self.instant(now));
        Box::pin(async move { answer })
    }
}

//! Telling events already handled apart: a bounded set in memory, and markers in Redis
//! shared by every process.

use core::time::Duration;
use std::collections::{HashSet, VecDeque};

use futures_util::{Stream, StreamExt};
use qqgw_client::{EventHandler, ShardEvent, run_handler};
use qqgw_proto::Event;
use redis::AsyncCommands;

use crate::lease::millis;
use crate::{Error, Redis};

/// The last `capacity` keys seen, in memory: a set with a queue that forgets the oldest.
#[derive(Debug)]
pub(crate) struct RecentSet {
    set: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl RecentSet {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { set: HashSet::new(), order: VecDeque::new(), capacity: capacity.max(1) }
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.set.contains(key)
    }

    pub(crate) fn insert(&mut self, key: String) {
        if self.set.insert(key.clone()) {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// Default [`EventDedup::claim_ttl`]: 60 s.
pub const DEFAULT_CLAIM_TTL: Duration = Duration::from_secs(60);
/// Default [`EventDedup::done_ttl`]: 1 day.
pub const DEFAULT_DONE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Drops events already handled by any process sharing the Redis: webhook receivers
/// behind a load balancer, each getting some of QQ's retries.
///
/// An event is first *claimed* (`SET <prefix>:seen:<scope>:<event id> claimed NX PX
/// <claim_ttl>`): only one process wins. The winner handles it and marks it *done*,
/// which keeps the marker for [`done_ttl`](Self::done_ttl). A process that dies between
/// claim and done leaves a claim that lapses after [`claim_ttl`](Self::claim_ttl), so
/// QQ's next retry of the event is handled: at least once, never dropped for good.
///
/// # Examples
///
/// With the webhook endpoint of `qqgw-tokio` (feature `webhook`):
///
/// ```no_run
/// use qqgw_redis::{EventDedup, Keys, Redis};
/// use qqgw_tokio::webhook::{Webhook, WebhookServer};
///
/// struct Bot;
/// impl qqgw_client::EventHandler for Bot {}
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let redis = Redis::connect(&qqgw_tokio::Tokio, "redis://127.0.0.1:6379", Keys::for_app("102012345")).await?;
/// let webhook = Webhook::from_secret("app-secret").map_err(|e| e.to_string())?;
/// // Every instance behind the load balancer runs this, with the same scope.
/// let (_server, events) = WebhookServer::bind("0.0.0.0:8443", webhook).await?;
/// let (handled, duplicates) = EventDedup::new(redis, "webhook").run_handler(events, &Bot).await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EventDedup {
    redis: Redis,
    scope: String,
    claim_ttl: Duration,
    done_ttl: Duration,
}

/// What [`EventDedup::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This process handles the event.
    First,
    /// Another process handles or handled it.
    Duplicate,
}

impl EventDedup {
    /// Dedup among the processes that use the same `scope` (e.g. `"webhook"`).
    #[must_use]
    pub fn new(redis: Redis, scope: impl Into<String>) -> Self {
        Self { redis, scope: scope.into(), claim_ttl: DEFAULT_CLAIM_TTL, done_ttl: DEFAULT_DONE_TTL }
    }

    /// How long a claim holds without being marked done. Default [`DEFAULT_CLAIM_TTL`];
    /// longer than your slowest handler.
    #[must_use]
    pub fn claim_ttl(mut self, ttl: Duration) -> Self {
        self.claim_ttl = ttl;
        self
    }

    /// How long a handled event is remembered. Default [`DEFAULT_DONE_TTL`]; longer than
    /// QQ goes on retrying.
    #[must_use]
    pub fn done_ttl(mut self, ttl: Duration) -> Self {
        self.done_ttl = ttl;
        self
    }

    /// Claims `event_id` for this process.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn claim(&self, event_id: &str) -> Result<Claim, Error> {
        let key = self.redis.keys().seen(&self.scope, event_id);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg("claimed").arg("NX").arg("PX").arg(millis(self.claim_ttl));
        let set: Option<String> =
            self.redis.run("claim", None, |mut c| async move { cmd.query_async(&mut c).await }).await?;
        Ok(if set.is_some() { Claim::First } else { Claim::Duplicate })
    }

    /// Marks `event_id` handled.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn done(&self, event_id: &str) -> Result<(), Error> {
        let key = self.redis.keys().seen(&self.scope, event_id);
        let ttl = millis(self.done_ttl);
        let _: () =
            self.redis.run("done", None, |mut c| async move { c.pset_ex(&key, "done", ttl).await }).await?;
        Ok(())
    }

    /// Gives up the claim of `event_id` (it was not handled), so a retry is handled at once.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn release(&self, event_id: &str) -> Result<(), Error> {
        let key = self.redis.keys().seen(&self.scope, event_id);
        let _: () = self.redis.run("claim release", None, |mut c| async move { c.del(&key).await }).await?;
        Ok(())
    }

    /// Runs `handler` on every event of `events` that no process sharing the scope has
    /// claimed, one at a time; a duplicate is acknowledged (so its source answers QQ)
    /// without being handled. Events without an id are always handled. If Redis cannot be
    /// reached, the event is handled anyway (a duplicate is better than a loss).
    ///
    /// Returns how many events were handled and how many were dropped as duplicates.
    pub async fn run_handler<H: EventHandler>(
        &self,
        events: impl Stream<Item = ShardEvent>,
        handler: &H,
    ) -> (u64, u64) {
        let (mut handled, mut dropped) = (0, 0);
        futures_util::pin_mut!(events);
        while let Some(event) = events.next().await {
            let id = match &event.event {
                Event::Dispatch(d) => d.id().map(str::to_owned),
                _ => None,
            };
            if let Some(id) = &id {
                match self.claim(id).await {
                    Ok(Claim::Duplicate) => {
                        tracing::debug!(event_id = %id, "duplicate event dropped");
                        event.ack();
                        dropped += 1;
                        continue;
                    }
                    Ok(Claim::First) => {}
                    Err(error) => {
                        tracing::warn!(%error, event_id = %id, "dedup unavailable; handling the event")
                    }
                }
            }
            run_handler(futures_util::stream::iter([event]), handler).await;
            handled += 1;
            if let Some(id) = &id {
                if let Err(error) = self.done(id).await {
                    tracing::warn!(%error, event_id = %id, "could not mark the event handled");
                }
            }
        }
        (handled, dropped)
    }
}

//! Telling events already handled apart: a bounded set in memory, and markers in Redis
//! shared by every process.

use core::time::Duration;
use std::collections::{HashSet, VecDeque};

use crate::lease::millis;
use crate::scripts::{DedupClaim, DedupDone, DedupRelease, DedupRenew};
use crate::{Error, Redis};
use futures_util::{Stream, StreamExt};
use qqgw_client::{EventHandler, ShardEvent, run_handler};
use qqgw_proto::Event;

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

/// Default [`EventDedup::claim_ttl`]: 10 s (renewed every third of it while the handler
/// runs).
pub const DEFAULT_CLAIM_TTL: Duration = Duration::from_secs(10);
/// Default [`EventDedup::done_ttl`]: 1 day.
pub const DEFAULT_DONE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Default [`EventDedup::done_memory`]: 100,000 event ids.
pub const DEFAULT_DONE_MEMORY: u64 = 100_000;

/// Drops events already handled by any process sharing the Redis — webhook receivers
/// behind a load balancer, each getting some of QQ's retries — without ever answering QQ
/// `200` for an event that is not handled.
///
/// An event is first *claimed* (`SET <prefix>:claim:<scope>:<event id> <owner> NX PX
/// <claim_ttl>`): only one process wins, and it renews its claim while its handler runs.
/// Once handled, the event is *done*: its id joins the scope's sorted set
/// `<prefix>:done:<scope>`, which keeps ids for [`done_ttl`](Self::done_ttl) and at most
/// [`done_memory`](Self::done_memory) of them (one key per scope, bounded, not one per
/// event).
///
/// A retry of a done event is acknowledged without being handled ([`Claim::Done`]). A
/// retry that finds the event *claimed* by another process ([`Claim::Busy`]) is **not**
/// acknowledged: its source must not tell QQ the event is handled, since the claimer may
/// die before it is. With `qqgw-tokio`'s `WebhookServer` and its `ack_after_handled`, the
/// retry is answered `503` with `Retry-After`, so QQ tries again; a claimer that died lets
/// its claim lapse after [`claim_ttl`](Self::claim_ttl), and the next retry is handled.
/// At least once, and once in all as long as a handler finishes within its claim's
/// renewals.
///
/// # Examples
///
/// With the webhook endpoint of `qqgw-tokio` (feature `webhook`), answering QQ only once
/// the event is handled:
///
/// ```no_run
/// use std::time::Duration;
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
/// let (_server, events) = WebhookServer::builder(webhook)
///     .ack_after_handled(Duration::from_secs(2))
///     .bind("0.0.0.0:8443")
///     .await?;
/// let (handled, duplicates) = EventDedup::new(redis, "webhook").run_handler(events, &Bot).await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EventDedup {
    redis: Redis,
    scope: String,
    claim_ttl: Duration,
    done_ttl: Duration,
    done_memory: u64,
    /// This instance's name in claims.
    owner: String,
}

/// What [`EventDedup::claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// This process handles the event; mark it [`done`](EventDedup::done) once handled,
    /// or [`release`](EventDedup::release) it.
    First,
    /// The event was handled already: acknowledge it, do not handle it again.
    Done,
    /// Another process holds a claim on the event and has not handled it yet: neither
    /// handle it nor acknowledge it (its source should ask QQ to retry later).
    Busy,
}

impl EventDedup {
    /// Dedup among the processes that use the same `scope` (e.g. `"webhook"`).
    #[must_use]
    pub fn new(redis: Redis, scope: impl Into<String>) -> Self {
        Self {
            redis,
            scope: scope.into(),
            claim_ttl: DEFAULT_CLAIM_TTL,
            done_ttl: DEFAULT_DONE_TTL,
            done_memory: DEFAULT_DONE_MEMORY,
            owner: crate::lease::nonce(),
        }
    }

    /// How long a claim holds unrenewed: how long QQ's retries of an event whose claimer
    /// died are refused before another process handles it. Renewed every third of it
    /// while the handler runs. Default [`DEFAULT_CLAIM_TTL`].
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

    /// The most handled event ids remembered (the oldest are forgotten first). Default
    /// [`DEFAULT_DONE_MEMORY`].
    #[must_use]
    pub fn done_memory(mut self, ids: u64) -> Self {
        self.done_memory = ids.max(1);
        self
    }

    /// Claims `event_id` for this process.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] or [`Error::Timeout`] if Redis cannot be reached.
    pub async fn claim(&self, event_id: &str) -> Result<Claim, Error> {
        let keys = self.redis.keys();
        let claim = DedupClaim {
            done: &keys.done(&self.scope),
            claim: &keys.claim(&self.scope, event_id),
            id: event_id,
            owner: &self.owner,
            claim_ttl_ms: millis(self.claim_ttl),
        }
        .invocation();
        let found: String =
            self.redis.run("claim", None, |mut c| async move { claim.invoke_async(&mut c).await }).await?;
        let claim = match found.as_str() {
            "first" => Claim::First,
            "done" => Claim::Done,
            _ => Claim::Busy,
        };
        crate::metrics::dedup(match claim {
            Claim::First => "first",
            Claim::Done => "done",
            Claim::Busy => "busy",
        });
        Ok(claim)
    }

    /// Extends this process's claim on `event_id`; `false` if it is no longer this
    /// process's (it lapsed, and maybe another process claimed the event).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] or [`Error::Timeout`] if Redis cannot be reached.
    pub async fn renew(&self, event_id: &str) -> Result<bool, Error> {
        let renew = DedupRenew {
            claim: &self.redis.keys().claim(&self.scope, event_id),
            owner: &self.owner,
            claim_ttl_ms: millis(self.claim_ttl),
        }
        .invocation();
        let renewed: u64 = self
            .redis
            .run("claim renewal", None, |mut c| async move { renew.invoke_async(&mut c).await })
            .await?;
        Ok(renewed == 1)
    }

    /// Marks `event_id` handled (and drops this process's claim).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] or [`Error::Timeout`] if Redis cannot be reached.
    pub async fn done(&self, event_id: &str) -> Result<(), Error> {
        let keys = self.redis.keys();
        let done = DedupDone {
            done: &keys.done(&self.scope),
            claim: &keys.claim(&self.scope, event_id),
            id: event_id,
            owner: &self.owner,
            done_ttl_ms: millis(self.done_ttl),
            max_done: self.done_memory,
        }
        .invocation();
        let _: u64 =
            self.redis.run("done", None, |mut c| async move { done.invoke_async(&mut c).await }).await?;
        Ok(())
    }

    /// Gives up this process's claim of `event_id` (it was not handled), so a retry is
    /// handled at once.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] or [`Error::Timeout`] if Redis cannot be reached.
    pub async fn release(&self, event_id: &str) -> Result<(), Error> {
        let release =
            DedupRelease { claim: &self.redis.keys().claim(&self.scope, event_id), owner: &self.owner }
                .invocation();
        let _: u64 = self
            .redis
            .run("claim release", None, |mut c| async move { release.invoke_async(&mut c).await })
            .await?;
        Ok(())
    }

    /// Runs `handler` on every event of `events` that no process sharing the scope has
    /// handled or is handling, one at a time, renewing its claim while the handler runs.
    ///
    /// - an event handled already ([`Claim::Done`]) is acknowledged (so its source answers
    ///   QQ) without being handled;
    /// - an event another process has claimed ([`Claim::Busy`]) is dropped *without*
    ///   acknowledgement, so its source does not tell QQ it is handled (`WebhookServer`
    ///   with `ack_after_handled` answers `503` and QQ retries);
    /// - events without an id are always handled; if Redis cannot be reached, the event is
    ///   handled anyway (a duplicate is better than a loss).
    ///
    /// Returns how many events were handled and how many were dropped (done or busy).
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
            let mut claimed = false;
            if let Some(id) = &id {
                match self.claim(id).await {
                    Ok(Claim::Done) => {
                        tracing::debug!(event_id = %id, "event handled already: acknowledged");
                        event.ack();
                        dropped += 1;
                        continue;
                    }
                    Ok(Claim::Busy) => {
                        tracing::debug!(event_id = %id, "event being handled elsewhere: not acknowledged");
                        drop(event);
                        dropped += 1;
                        continue;
                    }
                    Ok(Claim::First) => claimed = true,
                    Err(error) => {
                        tracing::warn!(%error, event_id = %id, "dedup unavailable; handling the event")
                    }
                }
            }
            let handling = run_handler(futures_util::stream::iter([event]), handler);
            match (&id, claimed) {
                (Some(id), true) => self.while_claimed(id, handling).await,
                _ => handling.await,
            }
            handled += 1;
            if let (Some(id), true) = (&id, claimed) {
                if let Err(error) = self.done(id).await {
                    tracing::warn!(%error, event_id = %id, "could not mark the event handled");
                }
            }
        }
        (handled, dropped)
    }

    /// Runs `handling`, renewing the claim on `id` every third of its TTL meanwhile.
    async fn while_claimed(&self, id: &str, handling: impl core::future::Future<Output = ()>) {
        let renewing = async {
            loop {
                self.redis.sleep(self.claim_ttl / 3).await;
                match self.renew(id).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(event_id = %id, "the claim lapsed while the event was handled; another process may handle it too");
                        core::future::pending::<()>().await;
                    }
                    Err(error) => tracing::warn!(%error, event_id = %id, "could not renew the claim"),
                }
            }
        };
        futures_util::pin_mut!(handling, renewing);
        futures_util::future::select(handling, renewing).await;
    }
}

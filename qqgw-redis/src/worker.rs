//! Worker processes: events out of the shards' streams through consumer groups.

use core::future::Future;
use core::time::Duration;
use std::collections::HashMap;

use futures_util::future::{Either, select};
use qqgw_client::{EventHandler, Runtime, ShardEvent, run_handler_concurrently};
use qqgw_proto::{Dispatch, Event, Session, ShardId};
use redis::Value;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use crate::conn::Link;
use crate::dedup::RecentSet;
use crate::entry;
use crate::lease::millis;
use crate::scripts::{DedupMark, WorkerForget, WorkerRead};
use crate::sink::Gap;
use crate::{Error, Redis};

/// Settings of a [`Worker`]; every one has a default.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The consumer group: workers in one group share the events, each handled by one of
    /// them. Default `"workers"`.
    pub group: String,
    /// This worker's name in the group. Default ([`default_consumer_name`]): the host
    /// name, the process id and a random nonce, unique per process even in containers
    /// (where every process is PID 1) — two workers sharing a name would share their
    /// pending entries and break each other's order. A restarted worker then has a new
    /// name: the entries it left pending are claimed after [`claim_idle`](Self::claim_idle).
    /// Give a name that is stable *and* unique (a StatefulSet pod's name) to read them back
    /// at once on restart.
    pub consumer: String,
    /// The most entries one read takes from each stream (`COUNT`); they are handled, then
    /// acknowledged with one `XACK` a stream. Default 512.
    pub batch: usize,
    /// How long one read waits for new entries (`BLOCK`). Default 1 s.
    pub block: Duration,
    /// Pending entries idle this long — read by a worker that did not acknowledge them,
    /// most likely dead — are claimed by this one (`XAUTOCLAIM`). Default 30 s: longer than
    /// your slowest batch.
    pub claim_idle: Duration,
    /// Consumers of the group idle this long with nothing pending — workers that died —
    /// are removed from the group (entries they left pending are claimed first, after
    /// [`claim_idle`](Self::claim_idle)). A live worker reads every
    /// [`block`](Self::block) and is never idle that long (were it removed, its next read
    /// would add it back). Default [`DEFAULT_CONSUMER_EXPIRY`] (10 minutes).
    pub consumer_expiry: Duration,
    /// Event ids remembered in memory to drop duplicates. Default 65,536.
    pub dedup_memory: usize,
    /// With `Some(ttl)`, handled event ids are also recorded in Redis for `ttl`, in the
    /// group's sorted set `<prefix>:done:<group>` (bounded to
    /// [`dedup_memory`](Self::dedup_memory) ids), so a duplicate is dropped whichever
    /// worker of the group gets it. Default `None`: memory only.
    pub shared_dedup: Option<Duration>,
    /// Callbacks run at once by [`Worker::run`]; 1 keeps each shard's order. Default 1.
    pub concurrency: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            group: "workers".into(),
            consumer: default_consumer_name(),
            batch: 512,
            block: Duration::from_secs(1),
            claim_idle: Duration::from_secs(30),
            consumer_expiry: DEFAULT_CONSUMER_EXPIRY,
            dedup_memory: 65_536,
            shared_dedup: None,
            concurrency: 1,
        }
    }
}

/// Default [`WorkerConfig::consumer_expiry`]: 10 minutes.
pub const DEFAULT_CONSUMER_EXPIRY: Duration = Duration::from_secs(10 * 60);

/// A consumer name unique to this process and this call: `<host>-<pid>-<nonce>`, the host
/// name read from the system (`/proc/sys/kernel/hostname`, else `$HOSTNAME`), the nonce
/// random. In a container the host name is usually the container's id, and the nonce
/// differs for every start, so names are unique even where every process is PID 1.
#[must_use]
pub fn default_consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| {
            h.trim().chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')).collect()
        })
        .filter(|h: &String| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    let nonce = crate::lease::nonce();
    format!("{host}-{}-{}", std::process::id(), nonce.get(..8).unwrap_or(&nonce))
}

/// One entry read from a shard's stream.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The shard whose stream it came from.
    pub shard: ShardId,
    /// The stream entry id, to acknowledge; empty for a gap the worker found itself
    /// (entries trimmed before its group read them), which is no entry.
    pub entry: String,
    /// What it holds.
    pub item: Item,
    /// Whether it was claimed from another consumer that had not acknowledged it.
    pub reclaimed: bool,
    /// The session the event belongs to, as the gateway knew it.
    pub session: Option<String>,
}

/// What a stream entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// An event.
    Event(Dispatch),
    /// A gap: events that may never arrive.
    Gap(Gap),
    /// An entry that is gone (trimmed by the stream's bound while pending) or unreadable: reported,
    /// then acknowledged.
    Lost(String),
}

/// What a worker did, in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Events handed to the handler.
    pub handled: u64,
    /// Events dropped because their id was handled already.
    pub duplicates: u64,
    /// Entries claimed from other consumers.
    pub reclaimed: u64,
    /// Gaps and lost entries reported.
    pub gaps: u64,
}

/// Reads the events of some shards' streams as one consumer of a consumer group
/// (`XREADGROUP`), and acknowledges them (`XACK`) once handled. Pending entries of a
/// crashed worker are claimed after [`WorkerConfig::claim_idle`] (`XAUTOCLAIM`). Events
/// whose id was handled already are dropped (a bounded set in memory, and optionally
/// markers in Redis).
///
/// Use [`run`](Self::run) to feed an [`EventHandler`], or [`next_batch`](Self::next_batch)
/// and [`ack`](Self::ack) to consume by hand.
pub struct Worker {
    redis: Redis,
    /// A connection of its own for the blocking reads.
    reader: Link,
    config: WorkerConfig,
    streams: Vec<(String, ShardId)>,
    seen: RecentSet,
    /// Whether this consumer's own pending entries were read back already.
    own_pending_read: bool,
    /// Whether the read's script is known to be loaded in Redis (else each read sends it).
    read_script_loaded: bool,
    /// When pending entries were last claimed, on the runtime's clock.
    last_claim: Option<std::time::Instant>,
    /// The last entry id of each stream, as last read: what a wait for new entries waits
    /// past.
    last_ids: HashMap<String, String>,
    /// When dead consumers were last looked for, on the runtime's clock.
    last_forget: Option<std::time::Instant>,
    stats: WorkerStats,
}

impl core::fmt::Debug for Worker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker of the streams of `shards`; creates the consumer group where missing (from
    /// the start of each stream).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn new(
        redis: Redis,
        shards: impl IntoIterator<Item = ShardId>,
        config: WorkerConfig,
    ) -> Result<Self, Error> {
        let reader = redis.dedicated(config.block + redis.config().response_timeout).await?;
        let streams: Vec<(String, ShardId)> =
            shards.into_iter().map(|s| (redis.keys().stream(s), s)).collect();
        for (key, _) in &streams {
            let mut create = redis::cmd("XGROUP");
            create.arg("CREATE").arg(key).arg(&config.group).arg("0").arg("MKSTREAM");
            let created: Result<(), Error> = redis
                .run("XGROUP CREATE", None, |mut c| async move { create.query_async(&mut c).await })
                .await;
            match created {
                Ok(()) => {}
                Err(Error::Redis(e)) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(e),
            }
        }
        let seen = RecentSet::new(config.dedup_memory);
        Ok(Self {
            redis,
            reader,
            config,
            streams,
            seen,
            own_pending_read: false,
            read_script_loaded: false,
            last_claim: None,
            last_ids: HashMap::new(),
            last_forget: None,
            stats: WorkerStats::default(),
        })
    }

    /// What the worker did so far.
    #[must_use]
    pub fn stats(&self) -> WorkerStats {
        self.stats
    }

    /// The next entries: this consumer's own pending ones first (after a restart), then
    /// those of dead consumers idle past [`WorkerConfig::claim_idle`], then new ones,
    /// waiting up to [`WorkerConfig::block`]. Duplicates are acknowledged and left out.
    /// Empty if nothing came within the wait.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn next_batch(&mut self) -> Result<Vec<Delivery>, Error> {
        let batch = match self.next_entries().await {
            Ok(batch) => batch,
            Err(Error::Redis(error)) if error.code() == Some("NOGROUP") => {
                // Redis lost the group (a restart without persistence, writes lost): it is
                // created again from the start of each stream, and what was handled
                // already is dropped by id.
                tracing::warn!(group = %self.config.group, "the consumer group is gone from redis: creating it again");
                create_groups(&self.redis, &self.streams, &self.config.group).await?;
                self.own_pending_read = false;
                return Ok(Vec::new());
            }
            Err(Error::Redis(error)) if error.kind() == redis::ErrorKind::NoScriptError => {
                // Redis lost the read's script (a restart, SCRIPT FLUSH): the next read
                // loads it. Reads of the transaction that ran gave their entries to this
                // consumer: they are read back from its pending list.
                self.read_script_loaded = false;
                self.own_pending_read = false;
                return Ok(Vec::new());
            }
            Err(error) => {
                // A read whose answer was lost still gave its entries to this consumer:
                // they are read back from its pending list.
                self.own_pending_read = false;
                self.read_script_loaded = false;
                return Err(error);
            }
        };
        self.drop_duplicates(batch).await
    }

    async fn next_entries(&mut self) -> Result<Vec<Delivery>, Error> {
        let mut entries = Vec::new();
        if !self.own_pending_read {
            entries = self.read_own_pending().await?;
            if entries.is_empty() {
                self.own_pending_read = true;
            }
        }
        let now = self.redis.now();
        let claim_due =
            self.last_claim.is_none_or(|at| now.saturating_duration_since(at) >= self.config.claim_idle / 4);
        if entries.is_empty() && claim_due {
            self.last_claim = Some(now);
            entries = self.claim().await?;
        }
        let forget_due = self.last_forget.is_none_or(|at| {
            now.saturating_duration_since(at)
                >= (self.config.consumer_expiry / 4).max(self.config.claim_idle / 4)
        });
        if forget_due {
            self.last_forget = Some(now);
            self.forget_dead_consumers().await?;
        }
        if entries.is_empty() {
            entries = self.read_new().await?;
            if entries.is_empty() {
                self.wait_for_new().await?;
                entries = self.read_new().await?;
            }
        }
        Ok(entries)
    }

    /// The new entries of every stream, in one round trip and one transaction
    /// (`MULTI`/`EXEC`, none blocking): for each stream, a script that tells whether
    /// entries were trimmed from it before the group read them, its `XREADGROUP`, and its
    /// last entry id. The transaction keeps a trim from coming between the check and the
    /// read; the entries go from Redis to the worker without passing through Lua. Each
    /// stream's entries are preceded by a `trimmed` gap if entries were lost to the group.
    async fn read_new(&mut self) -> Result<Vec<Delivery>, Error> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !self.read_script_loaded {
            pipe.load_script(WorkerRead::script()).ignore();
        }
        for (key, shard) in &self.streams {
            let check = WorkerRead {
                stream: key,
                trimmed: &self.redis.keys().trimmed(*shard),
                group: &self.config.group,
            }
            .invocation();
            pipe.invoke_script(&check);
            pipe.cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg("COUNT")
                .arg(self.config.batch)
                .arg("STREAMS")
                .arg(key)
                .arg(">");
            pipe.cmd("XREVRANGE").arg(key).arg("+").arg("-").arg("COUNT").arg(1);
        }
        // A missing stream or group fails the XREADGROUP, and the call, with NOGROUP
        // (handled by `next_batch`).
        let answers: Vec<Value> =
            self.redis.run("read", None, |mut c| async move { pipe.query_async(&mut c).await }).await?;
        self.read_script_loaded = true;
        let mut out = Vec::new();
        let mut missing_group = false;
        for ((key, shard), answer) in self.streams.iter().zip(answers.chunks(3)) {
            let [check, entries, last] = answer else {
                return Err(Error::Decode {
                    key: key.clone(),
                    reason: format!("the read answered {answer:?}"),
                });
            };
            let Value::Array(parts) = check else { continue };
            let [status, lost] = parts.as_slice() else {
                missing_group |= matches!(parts.first(), Some(Value::Int(-1)));
                continue;
            };
            if !matches!(status, Value::Int(1)) {
                continue;
            }
            if let Value::Array(lost) = lost {
                let ids: Vec<String> = lost.iter().filter_map(|v| redis::from_redis_value(v).ok()).collect();
                tracing::warn!(
                    %shard,
                    group = %self.config.group,
                    read_up_to = ids.first().map(String::as_str),
                    trimmed_up_to = ids.get(1).map(String::as_str),
                    "entries trimmed from the stream before the group read them"
                );
                out.push(Delivery {
                    shard: *shard,
                    entry: String::new(),
                    item: Item::Gap(Gap {
                        kind: Gap::TRIMMED.into(),
                        session: None,
                        after: 0,
                        next: None,
                        group: Some(self.config.group.clone()),
                    }),
                    reclaimed: false,
                    session: None,
                });
            }
            let reply: Option<StreamReadReply> = redis::from_redis_value(entries).map_err(|e| {
                Error::Decode { key: key.clone(), reason: format!("XREADGROUP answered {e}") }
            })?;
            for stream in reply.map(|r| r.keys).unwrap_or_default() {
                out.extend(stream.ids.iter().map(|entry| Self::decode(*shard, entry, false)));
            }
            let last: redis::streams::StreamRangeReply = redis::from_redis_value(last)
                .map_err(|e| Error::Decode { key: key.clone(), reason: format!("XREVRANGE answered {e}") })?;
            let last = last.ids.first().map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone());
            self.last_ids.insert(key.clone(), last);
        }
        if missing_group {
            tracing::warn!(group = %self.config.group, "a stream or its consumer group is gone from redis: creating it again");
            create_groups(&self.redis, &self.streams, &self.config.group).await?;
            self.own_pending_read = false;
        }
        Ok(out)
    }

    /// Waits up to [`WorkerConfig::block`] for an entry newer than the last one seen on
    /// any stream (`XREAD BLOCK`, which reads nothing for the group).
    async fn wait_for_new(&mut self) -> Result<(), Error> {
        let mut wait = redis::cmd("XREAD");
        wait.arg("BLOCK").arg(millis(self.config.block)).arg("COUNT").arg(1).arg("STREAMS");
        for (key, _) in &self.streams {
            wait.arg(key);
        }
        for (key, _) in &self.streams {
            wait.arg(self.last_ids.get(key).map_or("0-0", String::as_str));
        }
        let _: Value =
            self.reader.run("XREAD", None, |mut c| async move { wait.query_async(&mut c).await }).await?;
        Ok(())
    }

    /// This consumer's own pending entries (read before, not acknowledged).
    async fn read_own_pending(&mut self) -> Result<Vec<Delivery>, Error> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.config.group)
            .arg(&self.config.consumer)
            .arg("COUNT")
            .arg(self.config.batch)
            .arg("STREAMS");
        for (key, _) in &self.streams {
            cmd.arg(key);
        }
        for _ in &self.streams {
            cmd.arg("0");
        }
        let reply: Option<StreamReadReply> =
            self.redis.run("XREADGROUP", None, |mut c| async move { cmd.query_async(&mut c).await }).await?;
        let mut out = Vec::new();
        for stream in reply.map(|r| r.keys).unwrap_or_default() {
            let Some(shard) = self.shard_of(&stream.key) else { continue };
            out.extend(stream.ids.iter().map(|entry| Self::decode(shard, entry, false)));
        }
        Ok(out)
    }

    async fn claim(&mut self) -> Result<Vec<Delivery>, Error> {
        let mut out = Vec::new();
        for (key, shard) in &self.streams {
            let mut cmd = redis::cmd("XAUTOCLAIM");
            cmd.arg(key)
                .arg(&self.config.group)
                .arg(&self.config.consumer)
                .arg(millis(self.config.claim_idle))
                .arg("0-0")
                .arg("COUNT")
                .arg(self.config.batch);
            let reply: StreamAutoClaimReply = self
                .redis
                .run("XAUTOCLAIM", None, |mut c| async move { cmd.query_async(&mut c).await })
                .await?;
            for entry in &reply.claimed {
                out.push(Self::decode(*shard, entry, true));
            }
            for id in reply.deleted_ids {
                // Pending but trimmed away: the event is gone for this group.
                out.push(Delivery {
                    shard: *shard,
                    entry: id.clone(),
                    item: Item::Lost(format!("entry {id} was trimmed from {key} before it was acknowledged")),
                    reclaimed: true,
                    session: None,
                });
            }
        }
        self.stats.reclaimed += out.len() as u64;
        if !out.is_empty() {
            tracing::info!(entries = out.len(), "claimed pending events of another worker");
        }
        Ok(out)
    }

    /// Removes the group's dead consumers (idle past [`WorkerConfig::consumer_expiry`],
    /// nothing pending).
    async fn forget_dead_consumers(&self) -> Result<(), Error> {
        let mut pipe = redis::pipe();
        pipe.load_script(WorkerForget::script()).ignore();
        for (key, _) in &self.streams {
            let forget = WorkerForget {
                stream: key,
                group: &self.config.group,
                consumer: &self.config.consumer,
                idle_ms: millis(self.config.consumer_expiry),
            }
            .invocation();
            pipe.invoke_script(&forget);
        }
        let removed: Vec<u64> = self
            .redis
            .run("forget consumers", None, |mut c| async move { pipe.query_async(&mut c).await })
            .await?;
        let removed: u64 = removed.iter().sum();
        if removed > 0 {
            tracing::info!(removed, group = %self.config.group, "dead consumers removed from the group");
        }
        Ok(())
    }

    fn shard_of(&self, key: &str) -> Option<ShardId> {
        self.streams.iter().find(|(k, _)| k == key).map(|(_, s)| *s)
    }

    fn decode(shard: ShardId, entry: &StreamId, reclaimed: bool) -> Delivery {
        let decoded = entry::decode(shard, entry);
        Delivery { shard, entry: entry.id.clone(), item: decoded.item, reclaimed, session: decoded.session }
    }

    /// The key an event is told apart by: its id, else its session and sequence number.
    fn dedup_key(delivery: &Delivery) -> Option<String> {
        let session = delivery.session.as_deref();
        match &delivery.item {
            Item::Event(d) => d.id().map(|id| format!("id:{id}")).or_else(|| {
                let (session, seq) = (session.filter(|s| !s.is_empty())?, d.seq()?);
                Some(format!("seq:{session}:{seq}"))
            }),
            _ => None,
        }
    }

    async fn drop_duplicates(&mut self, entries: Vec<Delivery>) -> Result<Vec<Delivery>, Error> {
        let mut keep = Vec::with_capacity(entries.len());
        let mut duplicates = Vec::new();
        let shared = self.shared_seen(&entries).await?;
        // Two copies in one batch: the first is kept.
        let mut in_batch = std::collections::HashSet::new();
        for (delivery, shared_seen) in entries.into_iter().zip(shared) {
            let key = Self::dedup_key(&delivery);
            let seen = key.as_deref().is_some_and(|k| self.seen.contains(k));
            let again = key.is_some_and(|k| !in_batch.insert(k));
            // A report of entries another group did not read is not this group's gap.
            let other_group =
                matches!(&delivery.item, Item::Gap(Gap { group: Some(g), .. }) if *g != self.config.group);
            if seen || shared_seen || again || other_group {
                duplicates.push(delivery);
            } else {
                keep.push(delivery);
            }
        }
        if !duplicates.is_empty() {
            tracing::debug!(duplicates = duplicates.len(), "duplicate events dropped");
            self.stats.duplicates += duplicates.len() as u64;
            self.xack(&duplicates).await?;
        }
        Ok(keep)
    }

    /// Whether each entry's event is marked handled in Redis (all false without shared dedup).
    async fn shared_seen(&self, entries: &[Delivery]) -> Result<Vec<bool>, Error> {
        let keys: Vec<Option<String>> = entries.iter().map(Self::dedup_key).collect();
        if self.config.shared_dedup.is_none() || keys.iter().all(Option::is_none) {
            return Ok(vec![false; entries.len()]);
        }
        let mut check = redis::cmd("ZMSCORE");
        check.arg(self.redis.keys().done(&self.config.group));
        for key in keys.iter().flatten() {
            check.arg(key);
        }
        let found: Vec<Option<f64>> = self
            .redis
            .run("dedup check", None, |mut c| async move { check.query_async(&mut c).await })
            .await?;
        let mut found = found.into_iter();
        Ok(keys.iter().map(|k| k.is_some() && found.next().flatten().is_some()).collect())
    }

    /// Acknowledges `deliveries` (handled): `XACK`, and the dedup markers.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached; the entries stay pending and come
    /// back (to this worker after a restart, or to another after `claim_idle`).
    pub async fn ack(&mut self, deliveries: &[Delivery]) -> Result<(), Error> {
        for delivery in deliveries {
            if let Some(key) = Self::dedup_key(delivery) {
                self.seen.insert(key);
            }
        }
        self.xack(deliveries).await
    }

    async fn xack(&self, deliveries: &[Delivery]) -> Result<(), Error> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let mut by_stream: HashMap<&str, Vec<&str>> = HashMap::new();
        for delivery in deliveries.iter().filter(|d| !d.entry.is_empty()) {
            let key = self.streams.iter().find(|(_, s)| *s == delivery.shard).map(|(k, _)| k.as_str());
            if let Some(key) = key {
                by_stream.entry(key).or_default().push(&delivery.entry);
            }
        }
        let mut pipe = redis::pipe();
        let handled: Vec<String> = deliveries.iter().filter_map(Self::dedup_key).collect();
        if let (Some(ttl), false) = (self.config.shared_dedup, handled.is_empty()) {
            let mark = DedupMark {
                done: &self.redis.keys().done(&self.config.group),
                done_ttl_ms: millis(ttl),
                max_done: self.config.dedup_memory as u64,
                ids: &handled,
            }
            .invocation();
            pipe.load_script(DedupMark::script()).ignore();
            pipe.invoke_script(&mark).ignore();
        }
        for (stream, ids) in by_stream {
            pipe.cmd("XACK").arg(stream).arg(&self.config.group).arg(ids).ignore();
        }
        let _: () =
            self.redis.run("XACK", None, |mut c| async move { pipe.query_async(&mut c).await }).await?;
        Ok(())
    }

    /// Feeds `handler` until `stop` resolves (checked between batches, so within
    /// [`WorkerConfig::block`] and the batch's handling, and while acknowledgements are
    /// retried); returns what was done. Each batch's events run through
    /// [`run_handler_concurrently`] with [`WorkerConfig::concurrency`] callbacks at once;
    /// the batch is acknowledged once every callback has returned. Gaps and lost entries
    /// go to [`EventHandler::session_lost`]. Redis failures are logged and retried, after
    /// a pause on `runtime`.
    pub async fn run<R: Runtime, H: EventHandler>(
        mut self,
        runtime: &R,
        handler: &H,
        stop: impl Future<Output = ()>,
    ) -> WorkerStats {
        futures_util::pin_mut!(stop);
        loop {
            let read = {
                let next = core::pin::pin!(self.next_batch());
                match select(next, stop.as_mut()).await {
                    Either::Left((read, _)) => Some(read),
                    Either::Right(_) => None,
                }
            };
            let batch = match read {
                Some(Ok(batch)) => batch,
                Some(Err(error)) => {
                    tracing::warn!(%error, "worker: reading failed; retrying");
                    let pause = runtime.sleep(Duration::from_millis(100));
                    if let Either::Right(_) = select(core::pin::pin!(pause), stop.as_mut()).await {
                        return self.stats;
                    }
                    continue;
                }
                None => return self.stats,
            };
            if batch.is_empty() {
                continue;
            }
            // Gaps are reported where they are in the stream: the events before them are
            // handled first.
            let mut events = Vec::new();
            for delivery in &batch {
                let lost = match &delivery.item {
                    Item::Event(dispatch) => {
                        events.push(ShardEvent::new(delivery.shard, Event::Dispatch(dispatch.clone())));
                        continue;
                    }
                    Item::Gap(gap) => {
                        tracing::warn!(shard = %delivery.shard, ?gap, "gap in the events");
                        Session::new(gap.session.clone().unwrap_or_default(), gap.after, delivery.shard)
                    }
                    Item::Lost(why) => {
                        tracing::warn!(shard = %delivery.shard, %why, "event lost");
                        Session::new("", 0, delivery.shard)
                    }
                };
                self.handle(core::mem::take(&mut events), handler).await;
                self.stats.gaps += 1;
                handler.session_lost(delivery.shard, lost).await;
            }
            self.handle(events, handler).await;
            // Acknowledged only once handled; retried until Redis takes it, or until told
            // to stop (the entries stay pending and come back).
            while let Err(error) = self.ack(&batch).await {
                tracing::warn!(%error, "worker: acknowledging failed; retrying");
                let pause = runtime.sleep(Duration::from_millis(100));
                if let Either::Right(_) = select(core::pin::pin!(pause), stop.as_mut()).await {
                    tracing::warn!(
                        entries = batch.len(),
                        "worker stopped with entries handled but not acknowledged: they come back"
                    );
                    return self.stats;
                }
            }
        }
    }
}

impl Worker {
    async fn handle<H: EventHandler>(&mut self, events: Vec<ShardEvent>, handler: &H) {
        if !events.is_empty() {
            self.stats.handled += events.len() as u64;
            run_handler_concurrently(futures_util::stream::iter(events), handler, self.config.concurrency)
                .await;
        }
    }
}

/// Creates `group` on each stream where it is missing, from the stream's start.
async fn create_groups(redis: &Redis, streams: &[(String, ShardId)], group: &str) -> Result<(), Error> {
    for (key, _) in streams {
        let mut create = redis::cmd("XGROUP");
        create.arg("CREATE").arg(key).arg(group).arg("0").arg("MKSTREAM");
        let created: Result<(), Error> =
            redis.run("XGROUP CREATE", None, |mut c| async move { create.query_async(&mut c).await }).await;
        match created {
            Ok(()) => {}
            Err(Error::Redis(e)) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

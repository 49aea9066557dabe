//! Running a bot's shards across processes: leases, fencing, takeover.

use core::ops::Range;
use core::time::Duration;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use futures_util::future::{Either, FusedFuture, FutureExt, Shared, select};
use qqgw_client::{Client, ConfigBuilder, Runtime, SessionStore, Shard, Shards, StoreFuture};
use qqgw_proto::{Event, Session, SessionStartLimit, ShardId};
use tracing::Instrument;

use crate::lease::Lease;
use crate::pacer::RedisPacer;
use crate::sink::{DEFAULT_MAX_LEN, StreamSink};
use crate::store::DEFAULT_SESSION_TTL;
use crate::{Error, Redis};

/// Default [`ClusterConfig::lease_ttl`]: 10 s.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
/// Default [`ClusterConfig::poll`]: 250 ms.
pub const DEFAULT_POLL: Duration = Duration::from_millis(250);

/// Which shards a process runs, and how it shares them with the others.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The bot's shard count.
    pub total: u32,
    /// The shards this process runs: it waits for each one's lease (held by a process
    /// that is stopping, or gone and not yet expired) and runs it.
    pub owned: Range<u32>,
    /// With `true`, this process also watches the other shards' leases and runs any shard
    /// whose lease is free — its process died, or never came — RESUMEing it from its
    /// checkpoint. Shards taken over stay with the taker until it stops. Default `false`:
    /// static ranges.
    pub takeover: bool,
    /// How long a lease lasts unrenewed; it is renewed every third of it. A dead
    /// process's shards are taken over within this (plus [`poll`](Self::poll)). Default
    /// [`DEFAULT_LEASE_TTL`].
    pub lease_ttl: Duration,
    /// How long before its lease could lapse a process gives up a shard it could not
    /// renew (Redis unreachable, the connection half-open): the time its QQ connection
    /// has to close before another process may take the shard. Redis calls a shard waits
    /// on (the identify pacer's) are bounded by half of it. Default (`None`): a quarter of
    /// the lease TTL.
    pub lease_margin: Option<Duration>,
    /// How often a free lease is tried for. Default [`DEFAULT_POLL`].
    pub poll: Duration,
    /// How long after its start a process leaves the others' shards alone, so that each
    /// process of a deployment gets its own range first. Default: the lease TTL.
    pub takeover_after: Option<Duration>,
    /// The bound of each shard's stream; see [`StreamSink`]. Default [`DEFAULT_MAX_LEN`].
    pub max_len: u64,
    /// How long a checkpoint is kept after its last write. Default [`DEFAULT_SESSION_TTL`].
    pub session_ttl: Duration,
    /// QQ's `session_start_limit` to pace IDENTIFYs by (with a [`RedisPacer`] shared by
    /// every process), until the first `GET /gateway/bot` of this process tells the
    /// real one. Default: [`SessionStartLimit::default`], QQ's documented example and the
    /// strictest rule (one IDENTIFY per 5 s).
    pub session_start_limit: SessionStartLimit,
}

impl ClusterConfig {
    /// Shards `owned` of `total`, static, with the default timings.
    #[must_use]
    pub fn new(total: u32, owned: Range<u32>) -> Self {
        Self {
            total,
            owned,
            takeover: false,
            lease_ttl: DEFAULT_LEASE_TTL,
            lease_margin: None,
            poll: DEFAULT_POLL,
            takeover_after: None,
            max_len: DEFAULT_MAX_LEN,
            session_ttl: DEFAULT_SESSION_TTL,
            session_start_limit: SessionStartLimit::default(),
        }
    }

    /// With takeover of free shards (see [`takeover`](Self::takeover)).
    #[must_use]
    pub fn with_takeover(mut self) -> Self {
        self.takeover = true;
        self
    }

    /// With this lease TTL.
    #[must_use]
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// The [`lease_margin`](Self::lease_margin) in force.
    #[must_use]
    pub fn margin(&self) -> Duration {
        self.lease_margin.unwrap_or(self.lease_ttl / 4).min(self.lease_ttl / 2)
    }
}

type Stop = Shared<oneshot::Receiver<()>>;

/// The shards of a bot run by this process, among others sharing one Redis.
///
/// For each shard it may run, a task of its own:
///
/// 1. takes the shard's [`Lease`] (waiting while another process holds it), which draws a
///    new fencing token;
/// 2. finds the shard's checkpoint ([`StreamSink::recover`]) and starts a [`Client`] for
///    that one shard (`Shards::one`) that RESUMEs from it, with the [`RedisPacer`] every
///    process shares (so that together they keep QQ's identify rule) and `manual_ack`; the
///    client saves no session itself: the sink is the one writer of it;
/// 3. publishes each event to the shard's stream with a [`StreamSink`] (event and
///    checkpoint in one fenced script), then acknowledges it;
/// 4. renews the lease every third of its TTL. If the lease is lost (renewal refused, or
///    Redis unreachable until the lease would have expired) or a write is fenced, it
///    closes the client at once: the new owner's checkpoint is safe either way, since
///    every write of the old one is refused.
///
/// Two processes never run a shard at once: a process runs a shard only while it holds
/// its lease, and stops before the lease could have passed to another.
///
/// Events go to the streams, for [`Worker`](crate::Worker)s: at least once, in order per
/// shard, gaps reported (see the crate docs).
///
/// A shard stopped by QQ for good — credentials rejected, intents refused, any error
/// [`is_fatal`](qqgw_client::Error::is_fatal) — is not started again: its task ends,
/// releasing the lease, and the error comes out of [`fatal`](Self::fatal).
///
/// Each shard's work runs in a `tracing` span `shard` with the fields `shard` (`0/4`, as
/// in the streams and the metrics' labels), `fence` (the lease's fencing token) and
/// `session` (recorded as READY names it), around its client's logs too.
pub struct Cluster {
    stop: Option<oneshot::Sender<()>>,
    tasks: Vec<oneshot::Receiver<()>>,
    running: Running,
    fatal: mpsc::UnboundedReceiver<qqgw_client::Error>,
}

/// The shards running in this process, with their handles.
type Running = Arc<Mutex<BTreeMap<ShardId, Shard>>>;

/// The shards a [`Cluster`] runs, seen from another task: [`Cluster::view`].
#[derive(Debug, Clone)]
pub struct ClusterView {
    running: Running,
}

impl ClusterView {
    /// The handles of the shards the cluster runs now.
    #[must_use]
    pub fn shards(&self) -> Vec<Shard> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }
}

impl core::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cluster").field("running", &self.running()).finish_non_exhaustive()
    }
}

/// How serving one shard under a lease ended.
enum Served {
    /// The cluster is stopping.
    Stopped,
    /// The lease was lost (or the shard stopped by itself).
    Lost,
    /// The shard could not start.
    Failed,
    /// QQ stopped the shard for good: starting it again cannot help.
    Fatal,
}

/// How running one shard ended.
enum Ended {
    /// The cluster is stopping.
    Stopped,
    /// The lease was lost, or the client could not start: try again.
    Again,
}

struct ShardTask<R: Runtime> {
    runtime: R,
    redis: Redis,
    builder: ConfigBuilder,
    cluster: ClusterConfig,
    shard: ShardId,
    owned: bool,
    stop: Stop,
    running: Running,
    pacer: RedisPacer,
    fatal: mpsc::UnboundedSender<qqgw_client::Error>,
}

impl Cluster {
    /// Starts this process's share of the bot on `runtime`: `builder` is the bot's
    /// configuration (credentials, intents, endpoints…); its shards, session store and
    /// acknowledgement mode are set per shard by the cluster.
    pub fn start<R: Runtime>(
        runtime: R,
        redis: Redis,
        builder: ConfigBuilder,
        cluster: ClusterConfig,
    ) -> Self {
        let (stop_tx, stop_rx) = oneshot::channel();
        let stop = stop_rx.shared();
        let running = Arc::new(Mutex::new(BTreeMap::new()));
        let (fatal_tx, fatal) = mpsc::unbounded();
        // A shard waits for the pacer with its QQ connection open (an IDENTIFY sent is
        // recorded): it must be back in time to close before its lease can lapse.
        let pacer = RedisPacer::new(redis.clone(), cluster.session_start_limit)
            .call_timeout(redis.config().response_timeout.min(cluster.margin() / 2));
        let mut tasks = Vec::new();
        for id in 0..cluster.total {
            let owned = cluster.owned.contains(&id);
            let Some(shard) = ShardId::new(id, cluster.total) else { continue };
            if !owned && !cluster.takeover {
                continue;
            }
            let task = ShardTask {
                runtime: runtime.clone(),
                redis: redis.clone(),
                builder: builder.clone(),
                cluster: cluster.clone(),
                shard,
                owned,
                stop: stop.clone(),
                running: Arc::clone(&running),
                pacer: pacer.clone(),
                fatal: fatal_tx.clone(),
            };
            let (done_tx, done_rx) = oneshot::channel();
            runtime.spawn(async move {
                task.run().await;
                let _ = done_tx.send(());
            });
            tasks.push(done_rx);
        }
        Self { stop: Some(stop_tx), tasks, running, fatal }
    }

    /// The shards this process runs now (lease held, client started).
    #[must_use]
    pub fn running(&self) -> Vec<ShardId> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect()
    }

    /// The handles of the shards this process runs now: their state
    /// ([`Shard::status`]), e.g. to tell whether each is READY.
    #[must_use]
    pub fn shards(&self) -> Vec<Shard> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    /// A cloneable view of the shards this process runs, for another task (a health
    /// endpoint) while this one waits on [`fatal`](Self::fatal).
    #[must_use]
    pub fn view(&self) -> ClusterView {
        ClusterView { running: Arc::clone(&self.running) }
    }

    /// Waits for a shard to be stopped by QQ for good (credentials rejected, intents
    /// refused: an error that [`is_fatal`](qqgw_client::Error::is_fatal)) and returns
    /// its error; the shard is not started again. Pending for as long as none is.
    pub async fn fatal(&mut self) -> qqgw_client::Error {
        match self.fatal.next().await {
            Some(error) => error,
            None => core::future::pending().await,
        }
    }

    /// Closes every shard gracefully (the events already received are published and their
    /// checkpoint written), then releases the leases so that other processes may take the
    /// shards at once.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl<R: Runtime> ShardTask<R> {
    fn stopped(&self) -> bool {
        self.stop.peek().is_some()
    }

    /// Sleeps `duration`; `false` if the cluster stopped meanwhile.
    async fn pause(&self, duration: Duration) -> bool {
        let sleep = self.runtime.sleep(duration);
        futures_util::pin_mut!(sleep);
        matches!(select(sleep, self.stop.clone()).await, Either::Left(_))
    }

    async fn run(self) {
        let started = self.runtime.now();
        let takeover_after = self.cluster.takeover_after.unwrap_or(self.cluster.lease_ttl);
        loop {
            if self.stopped() {
                return;
            }
            let may_try =
                self.owned || self.runtime.now().saturating_duration_since(started) >= takeover_after;
            if may_try {
                match Lease::try_acquire(&self.redis, self.shard, self.cluster.lease_ttl).await {
                    Ok(Some(lease)) => {
                        let span = tracing::info_span!(
                            "shard",
                            shard = %qqgw_client::metrics::shard_label(self.shard),
                            fence = %lease.token(),
                            session = tracing::field::Empty
                        );
                        let ended = async {
                            tracing::info!(taken_over = !self.owned, "lease acquired");
                            self.run_shard(lease).await
                        };
                        if let Ended::Stopped = ended.instrument(span).await {
                            return;
                        }
                        continue;
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(shard = %self.shard, %error, "lease: redis unreachable"),
                }
            }
            if !self.pause(self.cluster.poll).await {
                return;
            }
        }
    }

    fn set_running(&self, running: Option<Shard>) {
        let mut set = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        match running {
            Some(handle) => set.insert(self.shard, handle),
            None => set.remove(&self.shard),
        };
        crate::metrics::shards_running(set.len());
    }

    /// Reports a fatal error; `true` if `error` is one.
    fn fatal(&self, error: &qqgw_client::Error) -> bool {
        if !error.is_fatal() {
            return false;
        }
        tracing::error!(%error, "stopped for good: not starting the shard again");
        let _ = self.fatal.unbounded_send(error.clone());
        true
    }

    async fn run_shard(&self, lease: Lease) -> Ended {
        let served = self.serve(&lease).await;
        self.set_running(None);
        // Compare-and-delete: a lease already lost is left to its new owner.
        if let Err(error) = lease.release(&self.redis).await {
            tracing::warn!(shard = %self.shard, %error, "could not release the lease; it expires by itself");
        }
        match served {
            Served::Stopped | Served::Fatal => Ended::Stopped,
            Served::Lost => Ended::Again,
            // Not at once: whatever failed may take a moment to come back.
            Served::Failed if self.pause(self.cluster.poll.max(Duration::from_secs(1))).await => Ended::Again,
            Served::Failed => Ended::Stopped,
        }
    }

    /// Runs the shard while `lease` is held: the lease is renewed from the start, while
    /// the client connects too, so a slow start cannot outlive it.
    async fn serve(&self, lease: &Lease) -> Served {
        let shard = self.shard;
        let renew = self.keep(lease).fuse();
        futures_util::pin_mut!(renew);
        let mut sink = StreamSink::new(self.redis.clone(), shard)
            .fenced(lease.token().clone())
            .max_len(self.cluster.max_len)
            .session_ttl(self.cluster.session_ttl);
        // The sink is the one writer of the session: the client is given the stored one to
        // RESUME and a store that keeps nothing.
        let stored = match sink.recover().await {
            Ok(stored) => {
                if let Some(session) = &stored {
                    tracing::Span::current().record("session", session.id.as_str());
                }
                stored
            }
            Err(error) => {
                tracing::warn!(%shard, %error, "cannot read the checkpoint");
                return Served::Failed;
            }
        };
        let config = self
            .builder
            .clone()
            .shards(Shards::one(shard))
            .sessions(stored)
            .session_store(SinkWrites)
            .identify_pacer(self.pacer.owned_by(lease.token().clone(), self.cluster.session_ttl))
            .manual_ack(true)
            .build();
        let connect = Client::connect_on(self.runtime.clone(), config).fuse();
        futures_util::pin_mut!(connect);
        let mut client = futures_util::select! {
            client = connect => match client {
                Ok(client) => client,
                Err(error) if self.fatal(&error) => return Served::Fatal,
                Err(error) => {
                    tracing::warn!(%shard, %error, "the shard's client could not start");
                    return Served::Failed;
                }
            },
            stopping = renew => return if stopping { Served::Stopped } else { Served::Lost },
        };
        self.pacer.set_limit(client.gateway().session_start_limit);
        let Some(events) = client.take_events() else { return Served::Failed };
        self.set_running(client.shards().first().cloned());
        let handle = client.shutdown_handle();
        let pump = pump(&self.runtime, sink, events).fuse();
        futures_util::pin_mut!(pump);
        let stopping = futures_util::select! {
            () = pump => false,
            stopping = renew => stopping,
        };
        handle.close();
        // What was received before the close is published (or fenced) before the client
        // is joined; bounded, in case Redis is gone.
        if !pump.is_terminated() {
            let limit = self.runtime.sleep(self.cluster.lease_ttl + Duration::from_secs(10));
            futures_util::pin_mut!(limit);
            if let Either::Right(_) = select(pump, limit).await {
                tracing::warn!(%shard, "events received before the close could not all be published; QQ sends them again");
            }
        }
        match client.shutdown().await {
            Err(error) if self.fatal(&error) => return Served::Fatal,
            Err(error) => tracing::warn!(%shard, %error, "shard stopped"),
            Ok(_) => {}
        }
        if stopping { Served::Stopped } else { Served::Lost }
    }

    /// Renews the lease until it is lost (`false`) or the cluster stops (`true`): every
    /// third of its TTL, each renewal bounded by the time left before the cut-off — the
    /// lease's validity less [`ClusterConfig::margin`] — and given up at the cut-off, so
    /// that the shard is closed before the lease could pass to another process.
    async fn keep(&self, lease: &Lease) -> bool {
        let ttl = lease.ttl();
        let margin = self.cluster.margin();
        let renew_at = |lease: &Lease| lease.valid_until().checked_sub(ttl - ttl / 3);
        let mut next = renew_at(lease);
        loop {
            let cutoff = lease.valid_until().checked_sub(margin);
            let wake = match (next, cutoff) {
                (Some(next), Some(cutoff)) => next.min(cutoff),
                (next, cutoff) => next.or(cutoff).unwrap_or_else(|| self.runtime.now()),
            };
            if !self.pause_until(wake).await {
                return true;
            }
            let now = self.runtime.now();
            let left = cutoff.map_or(Duration::ZERO, |cutoff| cutoff.saturating_duration_since(now));
            if left.is_zero() {
                tracing::warn!(shard = %self.shard, "lease not renewed in time: closing the shard before it can lapse");
                return false;
            }
            match lease.renew_within(&self.redis, left).await {
                Ok(true) => next = renew_at(lease),
                Ok(false) => {
                    tracing::warn!(shard = %self.shard, "lease lost: closing the shard");
                    return false;
                }
                Err(error) => {
                    tracing::warn!(shard = %self.shard, %error, "lease renewal failed");
                    next = Some(self.runtime.now() + ttl / 10);
                }
            }
        }
    }

    /// Sleeps until `deadline`; `false` if the cluster stopped meanwhile.
    async fn pause_until(&self, deadline: std::time::Instant) -> bool {
        let sleep = self.runtime.sleep_until(deadline);
        futures_util::pin_mut!(sleep);
        matches!(select(sleep, self.stop.clone()).await, Either::Left(_))
    }
}

/// The session store of a shard's client under [`Cluster`]: the [`StreamSink`] writes the
/// session (a new one with READY's entry, its end with a lost session's gap, each
/// checkpoint with its event), so the client's own saves — which raced the sink's — are
/// dropped. The session to RESUME is given to the client in its configuration.
struct SinkWrites;

impl SessionStore for SinkWrites {
    fn load(&self, _shard: ShardId) -> StoreFuture<'_, Option<Session>> {
        Box::pin(async { Ok(None) })
    }

    fn save(&self, _session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn clear(&self, _shard: ShardId) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}

/// The most events published in one round trip.
const PUBLISH_BATCH: usize = 256;

/// Publishes every event of the shard — those already waiting together, in one round
/// trip — acknowledging each once it is in the stream; ends with the stream, or at the
/// first write refused because the shard has another owner or Redis lost writes. Each
/// READY's session is recorded in the shard's span.
async fn pump<R: Runtime>(runtime: &R, mut sink: StreamSink, mut events: qqgw_client::Events) {
    let mut metrics = crate::metrics::Publisher::new(sink.shard());
    while let Some(first) = events.next().await {
        let received_at = std::time::SystemTime::now();
        let mut batch = vec![first];
        while batch.len() < PUBLISH_BATCH {
            match events.next().now_or_never() {
                Some(Some(event)) => batch.push(event),
                _ => break,
            }
        }
        for event in &batch {
            if let Event::Dispatch(ready) = &event.event {
                if let Some(session) = ready.ready_session_id() {
                    tracing::Span::current().record("session", session.as_str());
                }
            }
        }
        while !batch.is_empty() {
            let started = runtime.now();
            let (done, error) = sink.publish_events_received(&batch, received_at).await;
            metrics.published(runtime.now().saturating_duration_since(started));
            for event in batch.drain(..done) {
                event.ack();
                metrics.handled(&event);
            }
            match error {
                None => {}
                Some(error @ (Error::Fenced { .. } | Error::RolledBack { .. })) => {
                    // Another owner, or Redis lost writes: the shard starts again from
                    // what Redis holds.
                    tracing::warn!(shard = %sink.shard(), %error, "stopping the shard");
                    return;
                }
                Some(error) => {
                    tracing::warn!(shard = %sink.shard(), %error, "publishing failed; retrying");
                    runtime.sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

//! A whole bot: every shard, one event stream or one handler.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures_channel::{mpsc, oneshot};
use futures_util::stream::{Stream, StreamExt};
use qqgw_proto::{
    Config as MachineConfig, GatewayInfo, GatewayMachine, Intents, Session, ShardId, TokenError,
};
use tracing::{info, warn};

use crate::config::{Config, Shards};
use crate::delivery::run_handler_concurrently;
use crate::error::{Error, require_tls};
use crate::event::ShardEvent;
use crate::handler::EventHandler;
use crate::handoff::{self, AckBatch, Woken};
use crate::http::Http;
use crate::http::Tokens;
use crate::pacer::{IdentifyPacer, LocalPacer};
use crate::policy::ReadGate;
use crate::runtime::Clock;
use crate::runtime::Runtime;
use crate::shard::{self, Shard, ShardExit, ShardOptions};

/// A running bot: all its shards.
///
/// [`Client::connect`] fetches a token and `GET /gateway/bot`, then starts every shard
/// (IDENTIFYs paced by QQ's `session_start_limit`). Consume events with
/// [`run`](Self::run) and an [`EventHandler`], or as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html) from
/// [`take_events`](Self::take_events); end with [`shutdown`](Self::shutdown) (or
/// [`ShutdownHandle::close`]) to get the sessions back for a later RESUME.
///
/// # Examples
///
/// ```no_run
/// use futures_util::StreamExt;
/// use qqgw_tokio::{Client, Config, Event};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let mut client = Client::connect(Config::from_env()?).await?;
/// let mut events = client.take_events().expect("first call");
/// while let Some(event) = events.next().await {
///     if let Event::Dispatch(d) = event.event {
///         println!("{} {} {}", event.shard, d.name(), d.data());
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Client<R> {
    runtime: R,
    info: GatewayInfo,
    shards: Vec<Shard>,
    receivers: Option<Vec<handoff::Receiver>>,
    exits: Vec<oneshot::Receiver<ShardExit>>,
    /// The intents every shard IDENTIFYs with, for the message of a refused one.
    intents: Intents,
    handler_concurrency: usize,
    manual_ack: bool,
    /// Sending, on the shards' token.
    api: crate::api::Api,
}

/// Closes every shard of a [`Client`] gracefully; get one with
/// [`Client::shutdown_handle`], e.g. for a signal handler.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shards: Vec<Shard>,
}

impl ShutdownHandle {
    /// Asks every shard to close gracefully, keeping its session.
    pub fn close(&self) {
        self.shards.iter().for_each(Shard::close);
    }
}

impl<R: Runtime + Default> Client<R> {
    /// Starts the bot on the runtime `R`: token, `GET /gateway/bot`, then every shard of
    /// [`Config`]'s [`Shards`].
    ///
    /// # Errors
    ///
    /// As [`connect_on`](Self::connect_on).
    pub async fn connect(config: Config) -> Result<Self, Error> {
        Self::connect_on(R::default(), config).await
    }
}

impl<R: Runtime> Client<R> {
    /// Starts the bot on `runtime`: token, `GET /gateway/bot`, then every shard of
    /// [`Config`]'s [`Shards`].
    ///
    /// # Errors
    ///
    /// [`Error::Token`] if the credentials are rejected (any other token failure —
    /// network, HTTP 429 or 5xx, QQ's `100001` rate limit — is retried with the config's
    /// backoff, logged at `warn`),
    /// [`Error::Http`] / [`Error::Api`] if `/gateway/bot` fails,
    /// [`Error::SessionLimit`] if QQ allows fewer new sessions today than shards to
    /// IDENTIFY, [`Error::Config`] for an impossible shard set, [`Error::InsecureEndpoint`]
    /// for an `http://` API base or token URL or a `ws://` gateway URL, unless the config
    /// [allows insecure endpoints](crate::ConfigBuilder::allow_insecure).
    pub async fn connect_on(runtime: R, config: Config) -> Result<Self, Error> {
        let clock = Clock::new(&runtime);
        let http = Http::for_config(runtime.clone(), &config)?;
        let tokens = Arc::new(Tokens::new(http.clone(), clock));
        // Only rejected credentials end the start; anything else is retried with the
        // machine's backoff, each try logged.
        let mut failures = 0;
        let token = loop {
            match tokens.get(None).await {
                Ok((token, _)) => break token,
                Err(TokenError::Unavailable(reason)) => {
                    failures += 1;
                    let delay = config.backoff.nominal(failures);
                    warn!(%reason, retry_in = ?delay, "no access token yet; retrying");
                    runtime.sleep(delay).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        let info = http.gateway_bot(&token).await?;
        // The gateway URL comes from the network: a plaintext one would carry the token
        // in IDENTIFY in clear text.
        require_tls("gateway URL", &info.url, "wss://", "ws://", config.allow_insecure)?;
        info!(url = %info.url, shards = info.shards, remaining = info.session_start_limit.remaining, "gateway");

        let (ids, total) = match &config.shards {
            Shards::Recommended => (0..info.shards.max(1), info.shards.max(1)),
            Shards::Range { ids, total } => (ids.clone(), *total),
        };
        let shard_ids: Vec<ShardId> = ids.filter_map(|id| ShardId::new(id, total)).collect();
        if shard_ids.is_empty() {
            return Err(Error::Config(format!("no shard to run in {:?}", config.shards)));
        }
        if config.store.is_none() && config.sessions.is_empty() {
            info!(
                "sessions are not saved: after a restart the bot starts new sessions and events sent \
                 meanwhile are lost; set QQ_BOT_SESSION_FILE=sessions.json to resume instead"
            );
        }
        // Sessions given in the config first, then what the store kept.
        let mut sessions = config.sessions.clone();
        if let Some(store) = &config.store {
            for &shard in &shard_ids {
                if !sessions.iter().any(|s| s.shard == shard) {
                    if let Some(session) = store.load(shard).await.map_err(Error::Store)? {
                        info!(%shard, session = %session.id, seq = session.seq, "resuming a stored session");
                        sessions.push(session);
                    }
                }
            }
        }
        let identifying = shard_ids.iter().filter(|s| !sessions.iter().any(|x| x.shard == **s)).count();
        let identifying = u32::try_from(identifying).unwrap_or(u32::MAX);
        if identifying > info.session_start_limit.remaining {
            return Err(Error::SessionLimit {
                shards: identifying,
                remaining: info.session_start_limit.remaining,
            });
        }

        let pacer: Arc<dyn IdentifyPacer> = match &config.pacer {
            Some(pacer) => Arc::clone(pacer),
            None => Arc::new(LocalPacer::new(info.session_start_limit)),
        };
        let mut client = Self {
            runtime: runtime.clone(),
            info,
            shards: Vec::new(),
            receivers: Some(Vec::new()),
            exits: Vec::new(),
            intents: config.intents,
            handler_concurrency: config.handler_concurrency,
            manual_ack: config.manual_ack,
            api: crate::api::Api::from_parts(
                runtime.clone(),
                http.clone(),
                Arc::clone(&tokens),
                &config.api_base,
            ),
        };
        for shard in shard_ids {
            let mut builder = MachineConfig::builder(client.info.url.clone(), config.intents)
                .shard(shard)
                .backoff(config.backoff)
                .reconnect_jitter(config.reconnect_jitter)
                .manual_ack(config.receipts)
                .seed(random_seed(shard));
            if let Some(session) = sessions.iter().find(|s| s.shard == shard) {
                builder = builder.session(session.clone());
            }
            let machine_config = builder.build().map_err(|e| Error::Config(e.to_string()))?;
            let machine = GatewayMachine::new(machine_config, clock.read(&runtime));
            let (handle, events, exit) = shard::spawn(
                &client.runtime,
                machine,
                clock,
                Arc::clone(&tokens),
                ShardOptions {
                    connect_timeout: config.connect_timeout,
                    buffer: config.event_buffer,
                    gate: ReadGate::for_consumer(config.event_buffer, config.handler_concurrency),
                    store: config.store.clone(),
                    pacer: Arc::clone(&pacer),
                    shutdown_timeout: config.shutdown_timeout,
                },
            );
            client.shards.push(handle);
            client.receivers.get_or_insert_with(Vec::new).push(events);
            client.exits.push(exit);
        }
        Ok(client)
    }

    /// The runtime the shards run on.
    #[must_use]
    pub fn runtime(&self) -> &R {
        &self.runtime
    }

    /// The bot's API for sending, sharing the shards' access token; cheap to clone, e.g.
    /// into tasks consuming [`take_events`](Self::take_events). Handlers get the same one
    /// from [`Context::api`](crate::Context::api).
    #[must_use]
    pub fn api(&self) -> crate::api::Api {
        self.api.clone()
    }

    /// What `GET /gateway/bot` said.
    #[must_use]
    pub fn gateway(&self) -> &GatewayInfo {
        &self.info
    }

    /// The shards this client runs.
    #[must_use]
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Closes every shard gracefully when the process is asked to stop — SIGINT (Ctrl-C)
    /// or SIGTERM (`kill`, `docker stop`, `systemctl stop`) — as
    /// [`ShutdownHandle::close`] does: the callbacks under way finish (within
    /// [`shutdown_timeout`](crate::ConfigBuilder::shutdown_timeout)), every session is
    /// saved, and [`run`](Self::run) returns. A second signal ends the process at once
    /// (exit code 130).
    ///
    /// Call it once, before [`run`](Self::run) or while consuming
    /// [`take_events`](Self::take_events).
    ///
    /// ```no_run
    /// # use qqgw_tokio::{Client, Config, EventHandler};
    /// # struct Bot;
    /// # impl EventHandler for Bot {}
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Client::connect(Config::from_env()?).await?;
    /// client.close_on_signal();
    /// client.run(Bot).await?; // returns after Ctrl-C or SIGTERM, sessions saved
    /// # Ok(()) }
    /// ```
    pub fn close_on_signal(&self) {
        let handle = self.shutdown_handle();
        let runtime = self.runtime.clone();
        self.runtime.spawn(async move {
            if let Err(error) = runtime.stop_signal().await {
                warn!(%error, "cannot listen for SIGINT or SIGTERM; the bot closes only when told to");
                return;
            }
            info!("stop signal: closing gracefully (send it again to stop at once)");
            handle.close();
            if runtime.stop_signal().await.is_ok() {
                warn!("second stop signal: stopping at once");
                std::process::exit(130);
            }
        });
    }

    /// A handle that closes every shard, usable while [`run`](Self::run) owns the client.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { shards: self.shards.clone() }
    }

    /// Every shard's events merged into one stream, which ends when every shard has
    /// stopped. Only the first call (of this or
    /// [`take_shard_events`](Self::take_shard_events)) gets them.
    ///
    /// Unless [`ConfigBuilder::manual_ack`](crate::ConfigBuilder::manual_ack) is set, an
    /// event counts as handled once the stream hands out the next one of its shard (or
    /// ends); with it, call [`ShardEvent::ack`] when done.
    pub fn take_events(&mut self) -> Option<Events> {
        Some(Events::new(self.take_shard_events()?))
    }

    /// Each shard's events as a stream of its own, in shard order. Only the first call
    /// (of this or [`take_events`](Self::take_events)) gets them. Acknowledged as with
    /// [`take_events`](Self::take_events).
    pub fn take_shard_events(&mut self) -> Option<Vec<ShardEvents>> {
        let auto_ack = !self.manual_ack;
        let api = self.api.clone();
        Some(
            self.receivers
                .take()?
                .into_iter()
                .map(|rx| ShardEvents::new(Source::Shard(rx), auto_ack).with_api(api.clone()))
                .collect(),
        )
    }

    /// Runs `handler` on every event until every shard has stopped (after
    /// [`ShutdownHandle::close`], or fatal errors); returns the sessions to resume later.
    ///
    /// Up to [`handler_concurrency`](crate::ConfigBuilder::handler_concurrency) callbacks
    /// run at once, one conversation's events always in order (see
    /// [`run_handler_concurrently`]); each event counts as handled when its callback
    /// returns, and a graceful close waits for the callbacks under way.
    ///
    /// # Errors
    ///
    /// [`Error::Fatal`] if a shard stopped for good (bad credentials, a fatal close code);
    /// [`Error::Config`] if the events were already taken.
    pub async fn run<H: EventHandler>(mut self, handler: H) -> Result<Vec<Session>, Error> {
        let receivers =
            self.receivers.take().ok_or_else(|| Error::Config("the events were already taken".into()))?;
        // The shards run in their own tasks, so a slow callback never delays them.
        let all = receivers
            .into_iter()
            .map(|rx| ShardEvents::new(Source::Shard(rx), false).with_api(self.api.clone()))
            .collect();
        run_handler_concurrently(Events::new(all), &handler, self.handler_concurrency).await;
        self.join().await
    }

    /// Closes every shard gracefully and waits for them; returns the sessions to resume
    /// later (pass them to [`ConfigBuilder::sessions`](crate::ConfigBuilder::sessions)).
    ///
    /// # Errors
    ///
    /// [`Error::Fatal`] if a shard had stopped for good.
    pub async fn shutdown(self) -> Result<Vec<Session>, Error> {
        self.shutdown_handle().close();
        self.join().await
    }

    async fn join(self) -> Result<Vec<Session>, Error> {
        // Dropped receivers let the shards finish without waiting for a consumer.
        drop(self.receivers);
        let mut sessions = Vec::new();
        let mut fatal = None;
        for exit in self.exits {
            match exit.await {
                Ok(exit) => {
                    sessions.extend(exit.session);
                    if let (None, Some(error)) = (&fatal, exit.error) {
                        fatal = Some(Error::Fatal { shard: exit.shard, error, intents: self.intents });
                    }
                }
                Err(oneshot::Canceled) => {
                    fatal.get_or_insert(Error::Config("a shard task ended without a word".into()));
                }
            }
        }
        fatal.map_or(Ok(sessions), Err)
    }
}

/// One shard's events, as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html).
#[derive(Debug)]
pub struct ShardEvents {
    source: Source,
    /// With auto-acknowledgement: the receipts of the events handed out before the last
    /// one, sent back a batch at a time.
    auto_ack: Option<AckBatch>,
    /// With auto-acknowledgement, the receipt of the event handed out last.
    last: Option<crate::event::Receipt>,
    /// The API every event handed out carries.
    api: Option<crate::api::Api>,
}

/// Where a [`ShardEvents`] takes its events from.
#[derive(Debug)]
enum Source {
    /// A shard's task, in batches.
    Shard(handoff::Receiver),
    /// An [`event_channel`].
    Channel(mpsc::Receiver<ShardEvent>),
}

impl ShardEvents {
    fn new(source: Source, auto_ack: bool) -> Self {
        Self { source, auto_ack: auto_ack.then(AckBatch::default), last: None, api: None }
    }

    /// These events, each carrying `api` for its handler's
    /// [`Context`](crate::Context) (a [`Client`]'s carry its API already).
    #[must_use]
    pub fn with_api(mut self, api: crate::api::Api) -> Self {
        self.api = Some(api);
        self
    }

    /// Whether events taken from the source wait to be handed out.
    fn has_buffered(&self) -> bool {
        match &self.source {
            Source::Shard(rx) => rx.has_buffered(),
            Source::Channel(_) => false,
        }
    }
}

/// With auto-acknowledgement, dropping the stream acknowledges the last event taken: the
/// consumer is done with it.
impl Drop for ShardEvents {
    fn drop(&mut self) {
        if let (Some(batch), Some(receipt)) = (&mut self.auto_ack, self.last.take()) {
            batch.add(receipt);
        }
        // The batch sends what it holds as it is dropped.
    }
}

impl Stream for ShardEvents {
    type Item = ShardEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<ShardEvent>> {
        let this = &mut *self;
        let mut next = match &mut this.source {
            Source::Shard(rx) => rx.poll_next(cx),
            Source::Channel(rx) => rx.poll_next_unpin(cx),
        };
        if let (Poll::Ready(Some(event)), Some(api)) = (&mut next, &this.api) {
            event.set_api(api);
        }
        if let Some(batch) = &mut this.auto_ack {
            if let Poll::Ready(item) = &next {
                // Taking the next event means the one before is done.
                if let Some(receipt) = this.last.take() {
                    batch.add(receipt);
                }
                this.last = item.as_ref().and_then(|e| e.receipt().cloned());
            }
            // The receipts go back once the batch taken is handed out, or the consumer
            // waits: one lock and wake-up a batch.
            let buffered = match &this.source {
                Source::Shard(rx) => rx.has_buffered(),
                Source::Channel(_) => false,
            };
            if !buffered {
                batch.flush();
            }
        }
        next
    }
}

/// Every shard's events merged, as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html).
///
/// A shard whose events are waiting hands out the batch it has, then the next shard
/// with events takes its turn; each shard's events keep their order.
pub struct Events {
    shards: Vec<Option<ShardEvents>>,
    /// Which shards have been woken since they were last polled.
    woken: Arc<Woken>,
    /// The waker each shard's stream polls with.
    wakers: Vec<core::task::Waker>,
    /// The shard whose batch is being handed out.
    current: Option<usize>,
    /// Shards whose stream has not ended.
    live: usize,
}

impl core::fmt::Debug for Events {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Events").field("shards", &self.shards.len()).field("live", &self.live).finish()
    }
}

impl Events {
    fn new(shards: Vec<ShardEvents>) -> Self {
        let (woken, wakers) = Woken::new(shards.len());
        let live = shards.len();
        Self { shards: shards.into_iter().map(Some).collect(), woken, wakers, current: None, live }
    }
}

impl Stream for Events {
    type Item = ShardEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<ShardEvent>> {
        let this = &mut *self;
        loop {
            let index = match this.current.take() {
                Some(index) => index,
                None => match this.woken.next(cx) {
                    Some(index) => index,
                    None if this.live == 0 => return Poll::Ready(None),
                    None => return Poll::Pending,
                },
            };
            let (Some(Some(shard)), Some(waker)) = (this.shards.get_mut(index), this.wakers.get(index))
            else {
                continue;
            };
            match shard.poll_next_unpin(&mut TaskContext::from_waker(waker)) {
                Poll::Ready(Some(event)) => {
                    if shard.has_buffered() {
                        this.current = Some(index);
                    } else {
                        // It may have more: its turn comes again after the others'.
                        this.woken.queue(index);
                    }
                    return Poll::Ready(Some(event));
                }
                Poll::Ready(None) => {
                    if let Some(ended) = this.shards.get_mut(index) {
                        *ended = None;
                    }
                    this.live -= 1;
                }
                Poll::Pending => {}
            }
        }
    }
}

/// Hands every event of `events` to its callback of `handler`, one at a time, until the
/// stream ends, acknowledging each when its callback returns. Call it for events from
/// other sources (a webhook endpoint, say) to serve them with the same handler.
pub async fn run_handler<H: EventHandler>(events: impl Stream<Item = ShardEvent>, handler: &H) {
    run_handler_concurrently(events, handler, 1).await;
}

/// A bounded channel of events for a source other than the gateway (a webhook endpoint):
/// what is sent comes out of the [`ShardEvents`] stream, for a consumer or
/// [`run_handler`]. The stream ends once every sender is dropped.
///
/// It holds `buffer` events for one sender; each clone of the [`EventSender`] may add one
/// more. For a hard bound, keep one sender and use [`EventSender::try_send`].
#[must_use]
pub fn event_channel(buffer: usize) -> (EventSender, ShardEvents) {
    let (tx, rx) = mpsc::channel(buffer.saturating_sub(1));
    (EventSender(tx), ShardEvents::new(Source::Channel(rx), false))
}

/// The sending half of [`event_channel`].
#[derive(Debug, Clone)]
pub struct EventSender(mpsc::Sender<ShardEvent>);

impl EventSender {
    /// Sends `event`, waiting while the buffer is full. False if the stream was dropped.
    pub async fn send(&mut self, event: ShardEvent) -> bool {
        futures_util::SinkExt::send(&mut self.0, event).await.is_ok()
    }

    /// Sends `event` if the buffer has room now, without waiting.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the buffer is full, [`TrySendError::Closed`] if the
    /// stream was dropped; the event is not sent.
    pub fn try_send(&mut self, event: ShardEvent) -> Result<(), TrySendError> {
        self.0
            .try_send(event)
            .map_err(|error| if error.is_full() { TrySendError::Full } else { TrySendError::Closed })
    }
}

/// Why [`EventSender::try_send`] did not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySendError {
    /// The buffer is full: the consumer is behind.
    Full,
    /// The [`ShardEvents`] stream was dropped: nobody reads events.
    Closed,
}

/// A jitter seed for `shard` from the operating system's randomness (std's `RandomState`
/// is seeded from it), so that shards and processes do not reconnect in step.
fn random_seed(shard: ShardId) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(shard.id());
    hasher.finish()
}

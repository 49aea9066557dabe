//! A whole bot: every shard, one event stream or one handler.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures_channel::{mpsc, oneshot};
use futures_util::stream::{SelectAll, Stream, StreamExt};
use qqgw_proto::{Config as MachineConfig, GatewayInfo, GatewayMachine, IdentifyLimiter, Session, ShardId};
use tracing::info;

use crate::config::{Config, Shards};
use crate::error::{Error, require_tls};
use crate::handler::{EventHandler, route};
use crate::http::Http;
use crate::runtime::Runtime;
use crate::shard::{self, Clock, Shard, ShardEvent, ShardExit, Tokens};

/// A running bot: all its shards.
///
/// [`Client::connect`] fetches a token and `GET /gateway/bot`, then starts every shard
/// (IDENTIFYs paced by QQ's `session_start_limit`). Consume events with
/// [`run`](Self::run) and an [`EventHandler`], or as a [`Stream`] from
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
    receivers: Option<Vec<mpsc::Receiver<ShardEvent>>>,
    exits: Vec<oneshot::Receiver<ShardExit>>,
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
    /// [`Error::Token`] if the credentials are rejected or no token can be had,
    /// [`Error::Http`] / [`Error::Api`] if `/gateway/bot` fails,
    /// [`Error::SessionLimit`] if QQ allows fewer new sessions today than shards to
    /// IDENTIFY, [`Error::Config`] for an impossible shard set, [`Error::InsecureEndpoint`]
    /// for an `http://` API base or token URL or a `ws://` gateway URL, unless the config
    /// [allows insecure endpoints](crate::ConfigBuilder::allow_insecure).
    pub async fn connect_on(runtime: R, config: Config) -> Result<Self, Error> {
        let insecure = config.allow_insecure;
        require_tls("token URL", &config.token_url, "https://", "http://", insecure)?;
        require_tls("API base", &config.api_base, "https://", "http://", insecure)?;
        let clock = Clock::new();
        let http = Http::new(
            runtime.clone(),
            config.credentials.clone(),
            &config.token_url,
            &config.api_base,
            config.http_timeout,
        );
        let tokens = Arc::new(Tokens::new(http.clone()));
        let (token, _) = tokens.get(clock, None).await?;
        let info = http.gateway_bot(&token).await?;
        // The gateway URL comes from the network: a plaintext one would carry the token
        // in IDENTIFY in clear text.
        require_tls("gateway URL", &info.url, "wss://", "ws://", insecure)?;
        info!(url = %info.url, shards = info.shards, remaining = info.session_start_limit.remaining, "gateway");

        let (ids, total) = match &config.shards {
            Shards::Recommended => (0..info.shards.max(1), info.shards.max(1)),
            Shards::Range { ids, total } => (ids.clone(), *total),
        };
        let shard_ids: Vec<ShardId> = ids.filter_map(|id| ShardId::new(id, total)).collect();
        if shard_ids.is_empty() {
            return Err(Error::Config(format!("no shard to run in {:?}", config.shards)));
        }
        let identifying =
            shard_ids.iter().filter(|s| !config.sessions.iter().any(|x| x.shard == **s)).count();
        let identifying = u32::try_from(identifying).unwrap_or(u32::MAX);
        if identifying > info.session_start_limit.remaining {
            return Err(Error::SessionLimit {
                shards: identifying,
                remaining: info.session_start_limit.remaining,
            });
        }

        let limiter = IdentifyLimiter::new(info.session_start_limit, clock.now());
        let mut client =
            Self { runtime, info, shards: Vec::new(), receivers: Some(Vec::new()), exits: Vec::new() };
        for shard in shard_ids {
            let mut builder = MachineConfig::builder(client.info.url.clone(), config.intents)
                .shard(shard)
                .backoff(config.backoff)
                .reconnect_jitter(config.reconnect_jitter)
                .identify_limiter(limiter.clone())
                .seed(u64::from(shard.id()) ^ 0x5147_5157);
            if let Some(session) = config.sessions.iter().find(|s| s.shard == shard) {
                builder = builder.session(session.clone());
            }
            let machine_config = builder.build().map_err(|e| Error::Config(e.to_string()))?;
            let machine = GatewayMachine::new(machine_config, clock.now());
            let (handle, events, exit) = shard::spawn(
                &client.runtime,
                machine,
                clock,
                Arc::clone(&tokens),
                config.connect_timeout,
                config.event_buffer,
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

    /// A handle that closes every shard, usable while [`run`](Self::run) owns the client.
    #[must_use]
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { shards: self.shards.clone() }
    }

    /// Every shard's events merged into one stream, which ends when every shard has
    /// stopped. Only the first call (of this or
    /// [`take_shard_events`](Self::take_shard_events)) gets them.
    pub fn take_events(&mut self) -> Option<Events> {
        let receivers = self.receivers.take()?;
        let mut all = SelectAll::new();
        all.extend(receivers.into_iter().map(ShardEvents));
        Some(Events(all))
    }

    /// Each shard's events as a stream of its own, in shard order. Only the first call
    /// (of this or [`take_events`](Self::take_events)) gets them.
    pub fn take_shard_events(&mut self) -> Option<Vec<ShardEvents>> {
        Some(self.receivers.take()?.into_iter().map(ShardEvents).collect())
    }

    /// Runs `handler` on every event until every shard has stopped (after
    /// [`ShutdownHandle::close`], or fatal errors); returns the sessions to resume later.
    ///
    /// # Errors
    ///
    /// [`Error::Fatal`] if a shard stopped for good (bad credentials, a fatal close code);
    /// [`Error::Config`] if the events were already taken.
    pub async fn run<H: EventHandler>(mut self, handler: H) -> Result<Vec<Session>, Error> {
        let streams =
            self.take_shard_events().ok_or_else(|| Error::Config("the events were already taken".into()))?;
        // Each shard's callbacks run in order, the shards' side by side; the shards
        // themselves run in their own tasks, so a slow callback never delays them.
        let handler = &handler;
        futures_util::future::join_all(streams.into_iter().map(|events| run_handler(events, handler))).await;
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
                        fatal = Some(Error::Fatal { shard: exit.shard, error });
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

/// One shard's events, as a [`Stream`].
#[derive(Debug)]
pub struct ShardEvents(mpsc::Receiver<ShardEvent>);

impl Stream for ShardEvents {
    type Item = ShardEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<ShardEvent>> {
        self.0.poll_next_unpin(cx)
    }
}

/// Every shard's events merged, as a [`Stream`].
#[derive(Debug)]
pub struct Events(SelectAll<ShardEvents>);

impl Stream for Events {
    type Item = ShardEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<ShardEvent>> {
        self.0.poll_next_unpin(cx)
    }
}

/// Hands every event of `events` to its callback of `handler`, one at a time, until the
/// stream ends. [`Client::run`] does this for each shard; call it for events from other
/// sources (a webhook endpoint, say) to serve them with the same handler.
pub async fn run_handler<H: EventHandler>(events: impl Stream<Item = ShardEvent>, handler: &H) {
    futures_util::pin_mut!(events);
    while let Some(event) = events.next().await {
        route(handler, event).await;
    }
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
    (EventSender(tx), ShardEvents(rx))
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

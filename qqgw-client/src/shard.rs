//! One gateway connection: the task that drives a machine over a WebSocket, and the
//! handle users read its state through.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use core::time::Duration;

use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::protocol::CloseFrame as WsCloseFrame;
use futures_channel::{mpsc, oneshot};
use futures_util::{FutureExt, StreamExt};
use qqgw_proto::{
    Ack, CloseFrame, Event, FatalError, GatewayMachine, Input, Instant, Latency, Metrics, Output, Session,
    ShardId, State,
};
use tracing::{Instrument, debug, error, info, warn};

use crate::event::{Receipt, ShardEvent};
use crate::handoff::{self, AckInbox};
use crate::http::Tokens;
use crate::pacer::IdentifyPacer;
use crate::policy::{ReadGate, SaveSchedule};
use crate::runtime::{Clock, Runtime, timeout};
use crate::store::SessionStore;

/// How long sending one frame may take before the connection counts as dead.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How many waiting frames one wake-up takes in before refreshing the status.
const READ_BATCH: usize = 64;

type WsMessage = Option<Result<Message, async_tungstenite::tungstenite::Error>>;

/// How often a stopping shard looks whether its consumer has gone.
const CONSUMER_CHECK: Duration = Duration::from_millis(50);

/// What woke a shard's task.
enum Wake {
    Command(bool),
    Timer,
    /// The consumer has room for events (`true`) or is gone (`false`).
    Room(bool),
    Message(WsMessage),
    /// Receipts came back (taken into the task's `acks`).
    Acks,
}

/// What a shard's handle can read: a snapshot taken after every step of its machine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShardStatus {
    /// The machine's state.
    pub state: State,
    /// The session, if there is one to resume; its `seq` is the handled checkpoint, what
    /// a restart RESUMEs from.
    pub session: Option<Session>,
    /// The last sequence number received.
    pub last_sequence: Option<u64>,
    /// Events handed out and not yet handled.
    pub unhandled: usize,
    /// Heartbeat round trips.
    pub latency: Latency,
    /// Counters.
    pub metrics: Metrics,
    /// Whether the shard will go on reconnecting.
    pub can_reconnect: bool,
}

impl ShardStatus {
    /// Brings the snapshot up to `machine`, keeping the session's id (no allocation)
    /// while it is the same session.
    fn refresh(&mut self, machine: &GatewayMachine) {
        let same = self.session.as_ref().map(|s| s.id.as_str()) == machine.session_id();
        match &mut self.session {
            // As `GatewayMachine::session` has it: the checkpoint, 0 for none.
            Some(session) if same => session.seq = machine.checkpoint().unwrap_or(0),
            _ => self.session = machine.session(),
        }
        self.state = machine.state();
        self.last_sequence = machine.last_sequence();
        self.unhandled = machine.unacked();
        self.latency = machine.latency().clone();
        self.metrics = machine.metrics();
        self.can_reconnect = machine.can_reconnect();
    }

    fn of(machine: &GatewayMachine) -> Self {
        Self {
            state: machine.state(),
            session: machine.session(),
            last_sequence: machine.last_sequence(),
            unhandled: machine.unacked(),
            latency: machine.latency().clone(),
            metrics: machine.metrics(),
            can_reconnect: machine.can_reconnect(),
        }
    }
}

/// A handle to one running shard: its state, and a way to close it.
///
/// Cheap to clone. The getters read a snapshot the shard refreshes after every frame
/// and timer.
#[derive(Debug, Clone)]
pub struct Shard {
    id: ShardId,
    status: Arc<Mutex<ShardStatus>>,
    commands: mpsc::UnboundedSender<()>,
}

impl Shard {
    /// This shard's `[id, total]`.
    #[must_use]
    pub fn id(&self) -> ShardId {
        self.id
    }

    /// A snapshot of the shard's state.
    #[must_use]
    pub fn status(&self) -> ShardStatus {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether the connection is authenticated and events flow.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.status().state == State::Active
    }

    /// The current session's id.
    #[must_use]
    pub fn session_id(&self) -> Option<String> {
        self.status().session.map(|s| s.id)
    }

    /// The last sequence number received.
    #[must_use]
    pub fn last_sequence(&self) -> Option<u64> {
        self.status().last_sequence
    }

    /// The handled checkpoint: every event up to this sequence number has been handled,
    /// and a restart would RESUME from it.
    #[must_use]
    pub fn checkpoint(&self) -> Option<u64> {
        self.status().session.and_then(|s| s.last_seq())
    }

    /// Whether the shard will go on reconnecting (false once closed or stopped by a
    /// fatal error).
    #[must_use]
    pub fn can_reconnect(&self) -> bool {
        self.status().can_reconnect
    }

    /// Heartbeat round trips.
    #[must_use]
    pub fn latency(&self) -> Latency {
        self.status().latency
    }

    /// Counters: connects, identifies, resumes, heartbeats, events, replays dropped, …
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.status().metrics
    }

    /// Asks the shard to close gracefully, keeping its session for a later RESUME. The
    /// shard's last event is then [`Event::Closed`] with the session.
    pub fn close(&self) {
        // A shard that has already stopped has nothing to close.
        let _ = self.commands.unbounded_send(());
    }
}

/// How a shard's task ended.
#[derive(Debug)]
pub(crate) struct ShardExit {
    pub(crate) shard: ShardId,
    pub(crate) session: Option<Session>,
    pub(crate) error: Option<FatalError>,
}

/// Starts a shard's task; returns its handle, its events and how it will end.
/// What a shard's task is given besides its machine.
pub(crate) struct ShardOptions {
    pub(crate) connect_timeout: Duration,
    /// Events buffered for the consumer.
    pub(crate) buffer: usize,
    /// When reading pauses for the consumer.
    pub(crate) gate: ReadGate,
    pub(crate) store: Option<Arc<dyn SessionStore>>,
    pub(crate) pacer: Arc<dyn IdentifyPacer>,
    pub(crate) shutdown_timeout: Duration,
}

/// Starts a shard's task; returns its handle, its events and how it will end.
pub(crate) fn spawn<R: Runtime>(
    runtime: &R,
    machine: GatewayMachine,
    clock: Clock,
    tokens: Arc<Tokens<R>>,
    options: ShardOptions,
) -> (Shard, handoff::Receiver, oneshot::Receiver<ShardExit>) {
    let id = machine.shard();
    let status = Arc::new(Mutex::new(ShardStatus::of(&machine)));
    let (command_tx, command_rx) = mpsc::unbounded();
    let (event_tx, event_rx) = handoff::channel(options.buffer);
    let (exit_tx, exit_rx) = oneshot::channel();
    let schedule = SaveSchedule::new(machine.session());
    let task = Task {
        runtime: runtime.clone(),
        machine,
        clock,
        tokens,
        options,
        ws: None,
        outbox: VecDeque::new(),
        events: event_tx,
        inbox: Arc::new(AckInbox::default()),
        acks: Vec::new(),
        schedule,
        status: Arc::clone(&status),
        exit: ShardExit { shard: id, session: None, error: None },
        acks_seen: 0,
        heartbeat_seen: None,
        token_fetched: None,
        metrics: crate::metrics::ShardMetrics::new(id),
    };
    // The session is not a span field: recording it again after a re-IDENTIFY made the
    // span show `session=` twice. The `ready` line names each new session.
    // `0/4`: the form of the streams' entries and the metrics' labels, to filter on one.
    let span = tracing::info_span!("shard", shard = %crate::metrics::shard_label(id));
    runtime.spawn(
        async move {
            let exit = task.run(command_rx).await;
            let _ = exit_tx.send(exit);
        }
        .instrument(span),
    );
    (Shard { id, status, commands: command_tx }, event_rx, exit_rx)
}

struct Task<R: Runtime> {
    runtime: R,
    machine: GatewayMachine,
    clock: Clock,
    tokens: Arc<Tokens<R>>,
    options: ShardOptions,
    ws: Option<WebSocketStream<R::Stream>>,
    /// Events the consumer has not taken yet. While any wait, the socket is not read.
    outbox: VecDeque<ShardEvent>,
    events: handoff::Sender,
    /// Receipts of handled events, from the consumer, and a batch of them taken in.
    inbox: Arc<AckInbox>,
    acks: Vec<Ack>,
    /// When the session is saved.
    schedule: SaveSchedule,
    status: Arc<Mutex<ShardStatus>>,
    exit: ShardExit,
    acks_seen: u64,
    heartbeat_seen: Option<Instant>,
    /// When the token this shard holds was fetched.
    token_fetched: Option<Instant>,
    metrics: crate::metrics::ShardMetrics,
}

impl<R: Runtime> Task<R> {
    /// The runtime's clock, on the machine's time line.
    fn now(&self) -> Instant {
        self.clock.read(&self.runtime)
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<()>) -> ShardExit {
        let mut commands_open = true;
        let mut refresh = true;
        loop {
            let deadline = self.drain().await;
            self.note_heartbeats();
            // The snapshot first: a consumer that reads an event sees the state after it.
            // Receipts alone move only the checkpoint: it is shown with the next frame or
            // timer, so that a busy handler's acks cost no snapshot each.
            if refresh {
                self.status.lock().unwrap_or_else(PoisonError::into_inner).refresh(&self.machine);
                self.metrics.status(&self.machine);
            }
            refresh = true;
            self.offer_events();
            if self.machine.state() == State::Terminated {
                self.finish().await;
                return self.exit;
            }
            let save_due = self.save_if_due().await;
            let reading = self.gate_reading();
            let waiting = !self.outbox.is_empty();
            let wake_at = match (deadline, save_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = wake_at.map(|at| self.runtime.sleep_until(self.clock.deadline(at)));
            let (ws, events, inbox, acks) = (&mut self.ws, &self.events, &self.inbox, &mut self.acks);
            // Woken by the first ready of: a command, the deadline, room for a waiting
            // event, a frame (only while no event waits: back-pressure).
            let wake = wake_on(sleep, |cx, sleep| {
                if commands_open {
                    if let Poll::Ready(command) = commands.poll_next_unpin(cx) {
                        return Poll::Ready(Wake::Command(command.is_some()));
                    }
                }
                if inbox.poll_take(cx, acks).is_ready() {
                    return Poll::Ready(Wake::Acks);
                }
                if sleep.is_some_and(|sleep| sleep.poll(cx).is_ready()) {
                    return Poll::Ready(Wake::Timer);
                }
                if waiting {
                    if let Poll::Ready(ready) = events.poll_room(cx) {
                        return Poll::Ready(Wake::Room(ready));
                    }
                }
                if let (true, Some(ws)) = (reading, ws.as_mut()) {
                    if let Poll::Ready(message) = ws.poll_next_unpin(cx) {
                        return Poll::Ready(Wake::Message(message));
                    }
                }
                Poll::Pending
            })
            .await;
            match wake {
                Wake::Command(open) => {
                    // A close request, or every handle dropped: close gracefully either way.
                    commands_open = open;
                    let _ = self.machine.close(self.now());
                }
                Wake::Timer => self.machine.handle_timeout(self.now()),
                Wake::Room(true) => self.offer_events(),
                Wake::Room(false) => self.outbox.clear(), // nobody listens any more
                Wake::Acks => {
                    self.on_acks();
                    refresh = false;
                }
                Wake::Message(message) => {
                    // Frames already waiting arrived together: one clock read for the batch.
                    let now = self.now();
                    self.on_message(message, now);
                    self.read_ready(now).await;
                }
            }
        }
    }

    /// Acts on the machine's outputs until it sleeps; returns when to wake it.
    async fn drain(&mut self) -> Option<Instant> {
        loop {
            let input = match self.machine.poll_output() {
                Output::Sleep(deadline) => return deadline,
                Output::Connect(url) => Some(self.connect(&url).await),
                Output::Send(text) => self.send(text).await,
                Output::Close(frame) => self.close(frame).await,
                Output::Abandon => {
                    debug!("connection abandoned");
                    self.ws = None;
                    None
                }
                Output::RefreshToken => Some(match self.tokens.get(self.token_fetched).await {
                    Ok((token, fetched)) => {
                        self.token_fetched = Some(fetched);
                        Input::Token(token)
                    }
                    Err(error) => {
                        warn!(%error, "no access token");
                        Input::TokenFailed(error)
                    }
                }),
                Output::Pacer(request) => self
                    .options
                    .pacer
                    .handle(self.exit.shard, request, self.runtime.now())
                    .await
                    .map(Input::Pacer),
                Output::Emit(event) => {
                    self.note(&event);
                    let receipt = match &event {
                        Event::Dispatch(d) => d.ack().map(|ack| Receipt::shard(ack, Arc::clone(&self.inbox))),
                        _ => None,
                    };
                    self.outbox.push_back(ShardEvent::with(self.exit.shard, event, receipt));
                    None
                }
            };
            if let Some(input) = input {
                if let Err(error) = self.machine.handle_input(self.now(), input) {
                    debug!(%error, "input refused");
                }
            }
        }
    }

    /// Takes the frames that are already waiting, up to a batch, so that the status and the
    /// timer are refreshed once per batch rather than once per frame. Their events wait in
    /// the outbox until the loop publishes the status and offers them (bounded by the
    /// batch).
    async fn read_ready(&mut self, now: Instant) {
        for _ in 0..READ_BATCH {
            self.drain().await; // the deadline is taken when the batch ends
            if self.outbox.len() >= READ_BATCH {
                return;
            }
            let Some(message) = self.ws.as_mut().and_then(|ws| ws.next().now_or_never()) else { return };
            self.on_message(message, now);
        }
    }

    async fn connect(&mut self, url: &str) -> Input<'static> {
        info!(url, "connecting");
        match timeout(
            &self.runtime,
            self.options.connect_timeout,
            crate::websocket::connect(&self.runtime, url),
        )
        .await
        {
            Some(Ok(ws)) => {
                self.ws = Some(ws);
                Input::Connected
            }
            Some(Err(error)) => {
                warn!(%error, "connection failed");
                Input::ConnectFailed
            }
            None => {
                warn!(timeout = ?self.options.connect_timeout, "connection timed out");
                Input::ConnectFailed
            }
        }
    }

    async fn send(&mut self, text: String) -> Option<Input<'static>> {
        let ws = self.ws.as_mut()?;
        match timeout(&self.runtime, SEND_TIMEOUT, ws.send(Message::text(text))).await {
            Some(Ok(())) => None,
            Some(Err(error)) => {
                warn!(%error, "send failed; the connection is gone");
                self.ws = None;
                Some(Input::Closed(None))
            }
            None => {
                warn!("send timed out; the connection is gone");
                self.ws = None;
                Some(Input::Closed(None))
            }
        }
    }

    /// Sends the close frame; the server's answer (or the socket's end) is read by the
    /// run loop and reported then. The machine bounds the wait.
    async fn close(&mut self, frame: CloseFrame<'static>) -> Option<Input<'static>> {
        info!(code = frame.code.0, reason = %frame.reason, "closing the connection");
        let Some(ws) = self.ws.as_mut() else { return Some(Input::Closed(None)) };
        let frame = WsCloseFrame { code: frame.code.0.into(), reason: frame.reason.as_ref().into() };
        match timeout(&self.runtime, SEND_TIMEOUT, ws.close(Some(frame))).await {
            Some(Ok(())) => None,
            _ => {
                self.ws = None;
                Some(Input::Closed(None))
            }
        }
    }

    fn on_message(&mut self, message: WsMessage, now: Instant) {
        let result = match message {
            Some(Ok(Message::Text(text))) => self.machine.handle_input(now, Input::Text(text.as_str())),
            Some(Ok(Message::Binary(bytes))) => self.machine.handle_input(now, Input::Binary(&bytes)),
            Some(Ok(Message::Close(frame))) => {
                self.ws = None;
                let frame = frame.map(|f| CloseFrame::new(u16::from(f.code), f.reason.as_str().to_owned()));
                self.machine.handle_input(now, Input::Closed(frame))
            }
            Some(Ok(_)) => Ok(()), // ping, pong: tungstenite answers pings itself
            Some(Err(error)) => {
                warn!(%error, "connection lost");
                self.ws = None;
                self.machine.handle_input(now, Input::Closed(None))
            }
            None => {
                self.ws = None;
                self.machine.handle_input(now, Input::Closed(None))
            }
        };
        if let Err(error) = result {
            debug!(%error, "input refused");
        }
    }

    /// Logs an event the way operators want to see it.
    fn note(&mut self, event: &Event) {
        self.metrics.event(event);
        match event {
            Event::Dispatch(d) if d.name() == "READY" => {
                let intents = self.machine.intents().names();
                info!(session = self.machine.session_id(), %intents, "ready");
            }
            Event::Dispatch(d) if d.name() == "RESUMED" => {
                info!(seq = d.seq(), replays_dropped = self.machine.metrics().replays_dropped, "resumed");
            }
            Event::Dispatch(d) => debug!(name = d.name(), seq = d.seq(), id = d.id(), "event"),
            // QQ's rotation and its answers to a RESUME are routine; a lost session has its
            // own warning.
            Event::Disconnected(d) if d.cause.is_routine() => {
                info!(cause = ?d.cause, next = ?d.next, at = %d.at, "disconnected; reconnecting");
            }
            Event::Disconnected(d) => {
                warn!(cause = ?d.cause, next = ?d.next, at = %d.at, "disconnected; reconnecting");
            }
            Event::DecodeFailed(error) => warn!(%error, "unusable frame from QQ"),
            Event::SessionLost(session) if session.id.is_empty() => {
                warn!("an IDENTIFY got no READY; events of a session QQ may have started are lost");
            }
            Event::SessionLost(session) => {
                warn!(session = %session.id, handled = session.seq, "session lost; identifying afresh");
            }
            Event::TokenRefreshFailed(error) => {
                warn!(%error, "token renewal failed; using the current token")
            }
            Event::Fatal(error) => {
                error!(%error, intents = self.machine.intents().bits(), "stopped for good");
                self.exit.error = Some(error.clone());
            }
            Event::Closed(session) => {
                info!(session = session.as_ref().map(|s| s.id.as_str()), "closed");
                self.exit.session = session.clone();
            }
            other => debug!(?other, "event"),
        }
    }

    /// Logs each heartbeat and each round trip once.
    fn note_heartbeats(&mut self) {
        let latency = self.machine.latency();
        if latency.sent_at() != self.heartbeat_seen {
            self.heartbeat_seen = latency.sent_at();
            debug!(seq = self.machine.last_sequence(), "heartbeat sent");
        }
        if latency.count() > self.acks_seen {
            self.acks_seen = latency.count();
            self.metrics.heartbeat(latency.last());
            debug!(rtt = ?latency.last(), "heartbeat acknowledged");
        }
    }

    /// Hands queued events to the consumer, as many as its buffer allows, in one batch.
    fn offer_events(&mut self) {
        if !self.events.send_from(&mut self.outbox) {
            self.outbox.clear(); // nobody listens any more
        }
    }

    /// Takes in the receipts of the batch taken (and any sent since).
    fn on_acks(&mut self) {
        loop {
            let now = self.now();
            let count = self.acks.len();
            for ack in self.acks.drain(..) {
                if let Err(error) = self.machine.handle_input(now, Input::Handled(ack)) {
                    debug!(%error, "receipt refused");
                }
            }
            self.schedule.handled(count as u64);
            if !self.inbox.take(&mut self.acks) {
                return;
            }
        }
    }

    /// Whether to read frames now ([`ReadGate`]); tells the machine when reading pauses
    /// for the consumer, and when it goes on.
    fn gate_reading(&mut self) -> bool {
        let (read, tell) = self.options.gate.update(&self.machine, self.ws.is_some(), self.outbox.len());
        if let Some(paused) = tell {
            if let Err(error) = self.machine.handle_input(self.now(), Input::ReadPaused(paused)) {
                debug!(%error, "input refused");
            }
        }
        read
    }

    /// Saves the session if the [`SaveSchedule`] says so now; returns when it next will.
    async fn save_if_due(&mut self) -> Option<Instant> {
        self.options.store.as_ref()?;
        let now = self.now();
        if let Some(session) = self.schedule.take_due(&self.machine, now) {
            self.write(session, now).await;
        }
        self.schedule.poll(&self.machine, now)
    }

    /// Writes `session` to the store (or clears it, for `None`).
    async fn write(&mut self, session: Option<Session>, now: Instant) {
        let Some(store) = self.options.store.clone() else { return };
        let result = match &session {
            Some(session) => store.save(session.clone()).await,
            None => store.clear(self.exit.shard).await,
        };
        match result {
            Ok(()) => self.schedule.saved(session, now),
            Err(error) => {
                warn!(%error, "could not save the session");
                self.schedule.failed(now);
            }
        }
    }

    /// A stopped shard: hands the consumer what is still buffered, waits for the events
    /// being handled, saves the final checkpoint — all within the shutdown timeout.
    async fn finish(&mut self) {
        let limit = self.options.shutdown_timeout;
        let runtime = self.runtime.clone();
        let (events, outbox, inbox, acks, machine, clock) =
            (&self.events, &mut self.outbox, &self.inbox, &mut self.acks, &mut self.machine, self.clock);
        let drained = timeout(&runtime, limit, async {
            while !outbox.is_empty() {
                if !core::future::poll_fn(|cx| events.poll_room(cx)).await || !events.send_from(outbox) {
                    return; // nobody listens: nothing more will be handled
                }
            }
            // A consumer that drops the stream is done: that ends the wait too.
            while machine.unacked() > 0 && !events.is_closed() {
                let taken = core::future::poll_fn(|cx| inbox.poll_take(cx, acks));
                if timeout(&runtime, CONSUMER_CHECK, taken).await.is_some() {
                    let now = clock.read(&runtime);
                    for ack in acks.drain(..) {
                        let _ = machine.handle_input(now, Input::Handled(ack));
                    }
                }
            }
        })
        .await;
        if drained.is_none() {
            warn!(unhandled = self.machine.unacked(), "shutdown timeout: events still being handled");
        }
        while self.inbox.take(&mut self.acks) {
            let now = self.now();
            for ack in self.acks.drain(..) {
                let _ = self.machine.handle_input(now, Input::Handled(ack));
            }
        }
        if let Some(session) = self.schedule.take_final(&self.machine) {
            self.write(session, self.now()).await;
        }
        if self.exit.session.is_some() {
            self.exit.session = self.machine.session();
        }
    }
}

/// Polls `check` with the pinned `sleep` (none: no deadline) until it yields; the sleep
/// (which may borrow the runtime) is dropped before the caller goes on.
async fn wake_on<S: Future<Output = ()>>(
    sleep: Option<S>,
    mut check: impl FnMut(&mut core::task::Context<'_>, Option<Pin<&mut S>>) -> Poll<Wake>,
) -> Wake {
    futures_util::pin_mut!(sleep);
    core::future::poll_fn(|cx| check(cx, sleep.as_mut().as_pin_mut())).await
}

//! The gateway state machine.

mod checkpoint;
mod delivery;
mod io;
mod metrics;
mod reconnect;
mod state;
mod timer;

use std::collections::VecDeque;

use core::time::Duration;

use serde_json::value::RawValue;

use crate::close::CloseFrame;
use crate::config::Config;
use crate::dispatch::Dispatch;
use crate::envelope::Envelope;
use crate::error::{DecodeError, FatalError, TokenError, snippet};
use crate::incoming::{DEFAULT_HEARTBEAT_INTERVAL, MAX_HEARTBEAT_INTERVAL};
use crate::intents::Intents;
use crate::limiter::{IdentifySlot, PacerAnswer, PacerRequest};
use crate::opcode::OpCode;
use crate::session::Session;
use crate::shard::ShardId;
use crate::time::Instant;
use crate::token::{AccessToken, Secret, TOKEN_REFRESH_MARGIN};
use crate::{incoming, outgoing};

pub use checkpoint::MAX_UNACKED;
pub use delivery::MAX_SEQ_STEP;
use delivery::{Arrival, Delivery};
pub use io::{Disconnect, DisconnectCause, Event, Input, Output, Reconnect, UsageError};
pub use metrics::{Latency, Metrics};
pub use reconnect::{FLAP_WINDOW, STORM_BURST, STORM_REFILL};
use reconnect::{Reconnects, verdict};
pub use state::State;
use state::{Closing, Phase};
pub use timer::Timer;
use timer::TimerTable;

/// The sans-IO QQ Bot gateway connection: every protocol decision, no IO.
///
/// A `GatewayMachine` is told what happened — a connection opened, a frame arrived, the
/// connection closed, time passed, a token arrived — and answers with [`Output`]s: open a
/// connection, send a frame, close, emit an event, fetch a token, sleep. It never reads a
/// clock, a socket or a random source: every call carries the caller's `now`, and jitter
/// comes from the config's seed, so the same inputs give the same outputs.
///
/// # The drain contract
///
/// After every call that changes the machine — [`new`](Self::new),
/// [`handle_input`](Self::handle_input), [`handle_timeout`](Self::handle_timeout),
/// [`close`](Self::close) — call [`poll_output`](Self::poll_output) until it returns
/// [`Output::Sleep`], acting on each output in order. Calling `handle_*` from inside the
/// drain (for example to report [`Input::Connected`] right after [`Output::Connect`]) is
/// fine. Then wait for the next input or for the instant `Sleep` names, whichever comes
/// first, and call [`handle_timeout`](Self::handle_timeout) at that instant. Spurious or
/// early `handle_timeout` calls do nothing. Polling again after `Sleep` yields `Sleep`
/// again.
///
/// `now` must not go backwards; an earlier `now` is treated as the latest one seen.
///
/// # Reconnects
///
/// *Progress* is READY or RESUMED received, or a replayed event while a RESUME is under
/// way. Every timing is the machine's; the adapter supplies only the jitter seed.
///
/// | the connection ended… | the next attempt | backoff count |
/// |---|---|---|
/// | after progress: op 7, 4009, a zombie, a drop, 4900–4913, any non-fatal code but 4008 | at once, plus up to [`reconnect_jitter`](crate::ConfigBuilder::reconnect_jitter) (20 ms), within the storm budget | reset by the progress |
/// | with op 9 (QQ's answer to an IDENTIFY or RESUME) | at once, within the storm budget; an IDENTIFY also waits for the identify pacer | unchanged |
/// | before progress: the connection could not open, no READY in time, op 7 / 4009 / a drop before READY or RESUMED | after [`Backoff`] (5 s doubling to 40 s, less up to a fifth) | +1 |
/// | 4008 (sent too fast) | after the backoff, never sooner than its first step | +1 |
/// | a fatal code ([`CloseCode::action`](crate::CloseCode::action)) or rejected credentials | never: [`Event::Fatal`] | — |
/// | no access token (network, HTTP 429/5xx, QQ's `100001`) | after the backoff, reported as [`Event::Disconnected`] | +1 |
///
/// The storm budget: a connection that lived [`FLAP_WINDOW`](crate::FLAP_WINDOW) (2 s) past
/// its progress reconnects freely. One that ended sooner (or got op 9) takes its instant
/// reconnect from a bucket of [`STORM_BURST`](crate::STORM_BURST) (4) that gains one every
/// [`STORM_REFILL`](crate::STORM_REFILL) (3 s). Isolated faults find it full and reconnect at
/// once; a server that closes right after every READY or RESUMED empties it and then gets
/// one connection per 3 s: at most 11 connections in 20 s and 25 in a minute. Once the
/// server behaves, the bucket refills.
///
/// How a connection is closed: op 7, a non-resumable op 9 and a graceful
/// [`close`](Self::close) send a close frame ([`Output::Close`]) and wait for the
/// server's answer for at most [`close_timeout`](crate::ConfigBuilder::close_timeout) (1 s);
/// a zombie, a handshake timeout or an unanswered close drop the socket at once
/// ([`Output::Abandon`]).
///
/// A zombie is a heartbeat still unacknowledged when the next one is due *with no frame
/// received since it was sent*: frames still arriving (a long replay with the ACK queued
/// behind it) prove the link lives. A heartbeat QQ asks for (op 1) counts as the next
/// beat. A RESUME is given up for a fresh IDENTIFY when QQ refuses it (op 9 false, a
/// close code whose action is [`Identify`](crate::CloseAction::Identify)), or after two
/// RESUMEs in a row that got neither progress nor an answer in time; a 4009, op 7 or drop
/// before RESUMED is not a refusal.
///
/// # Sequence numbers
///
/// Delivery is decided by event id: a dispatch whose id was delivered recently (the last
/// 1,024) is dropped and counted; a dispatch without an id falls back to its `s`. The
/// RESUME point moves only to a plausible `s` — past the last one by at most
/// [`MAX_SEQ_STEP`]. Zero, a step back or a wild jump is reported as
/// [`DecodeError::ImplausibleSeq`] and the event is still delivered if its id is new, so
/// no single frame can silence a session or make a RESUME skip events.
///
/// # Errors
///
/// Split by fault: input that does not fit the contract is refused with a [`UsageError`]
/// and changes nothing; garbage from QQ is an [`Event::DecodeFailed`] and the connection
/// goes on; a condition that ends the connection for good is exactly one [`Event::Fatal`],
/// the last event. No input makes the machine panic.
///
/// # Examples
///
/// A run loop over a scripted transport (an adapter does the same over a real socket):
///
/// ```
/// use core::time::Duration;
/// use std::collections::VecDeque;
/// use qqgw_proto::{
///     AccessToken, Config, Event, GatewayMachine, IdentifyLimiter, Input, Instant, Intents, Output,
///     SessionStartLimit,
/// };
///
/// let config = Config::builder("wss://gateway.example/websocket/", Intents::non_privileged())
///     .build()
///     .unwrap();
/// let mut now = Instant::ZERO;
/// let mut machine = GatewayMachine::new(config, now);
/// // Paces the IDENTIFYs of every shard of the bot (share one among them).
/// let limiter = IdentifyLimiter::new(SessionStartLimit::default(), now);
/// let mut inbox: VecDeque<&str> = VecDeque::new(); // frames "the server" will send
/// let mut names = Vec::new();
///
/// while names.len() < 2 {
///     // 1. Drain until Sleep.
///     let deadline = loop {
///         match machine.poll_output() {
///             Output::RefreshToken => {
///                 let token = AccessToken::new("token", now + Duration::from_secs(7200));
///                 machine.handle_input(now, Input::Token(token)).unwrap();
///             }
///             Output::Pacer(request) => {
///                 if let Some(answer) = limiter.handle(machine.shard(), request, now) {
///                     machine.handle_input(now, Input::Pacer(answer)).unwrap();
///                 }
///             }
///             Output::Connect(_url) => {
///                 machine.handle_input(now, Input::Connected).unwrap();
///                 inbox.push_back(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#);
///             }
///             Output::Send(frame) if frame.starts_with(r#"{"op":2"#) => {
///                 inbox.push_back(r#"{"op":0,"s":1,"t":"READY","d":{"session_id":"abc"}}"#);
///                 inbox.push_back(r#"{"op":0,"s":2,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:1","d":{}}"#);
///             }
///             Output::Send(_heartbeat) => {}
///             Output::Close(_frame) => machine.handle_input(now, Input::Closed(None)).unwrap(),
///             Output::Abandon => {}
///             Output::Emit(Event::Dispatch(d)) => names.push(d.name().to_owned()),
///             Output::Emit(_other) => {}
///             Output::Sleep(deadline) => break deadline,
///         }
///     };
///     // 2. Wait for input or the deadline.
///     match (inbox.pop_front(), deadline) {
///         (Some(frame), _) => machine.handle_input(now, Input::Text(frame)).unwrap(),
///         (None, Some(at)) => {
///             now = at;
///             machine.handle_timeout(now);
///         }
///         (None, None) => break,
///     }
/// }
/// assert_eq!(names, ["READY", "AT_MESSAGE_CREATE"]);
/// assert!(machine.is_ready());
/// assert_eq!(machine.session_id(), Some("abc"));
/// ```
#[derive(Debug)]
pub struct GatewayMachine {
    /// The settings, as built; its session was taken by [`new`](Self::new).
    config: Config,
    /// The reconnect policy's counts, storm budget and jitter source.
    reconnects: Reconnects,
    read_paused: bool,

    now: Instant,
    /// What the machine is doing, with that phase's data; [`state`](Self::state) is its
    /// public face.
    phase: Phase,
    /// When the current phase began.
    phase_since: Instant,
    timers: TimerTable,
    out: VecDeque<Output>,

    session_id: Option<String>,
    /// What the session delivered: the RESUME point, recent event ids, receipts awaited.
    delivery: Delivery,
    token: Option<AccessToken>,
    conn: Connection,

    latency: Latency,
    metrics: Metrics,
}

/// Facts about the current connection.
#[derive(Debug, Default)]
struct Connection {
    /// `QQBot {token}`, taken when the connection was asked for.
    authorization: Secret,
    plan: Plan,
    /// The IDENTIFY slot taken before connecting; given back if no IDENTIFY is sent.
    slot: Option<IdentifySlot>,
    sent_auth: bool,
    /// READY or RESUMED received.
    authenticated: bool,
    /// When READY, RESUMED or a replayed event was first received: the session moves.
    progress: Option<Instant>,
    /// HELLO's interval, clamped; `None` before HELLO.
    heartbeat_interval: Option<Duration>,
    /// When the unacknowledged heartbeat was sent.
    pending_ack: Option<Instant>,
    /// A frame arrived since the last heartbeat was sent: proof of life as good as an ACK.
    heard_since_beat: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Plan {
    #[default]
    Identify,
    Resume,
}

impl GatewayMachine {
    /// A machine for `config`, started at `now`. Its first outputs ask for a token and a
    /// connection; drain them (see the [drain contract](Self#the-drain-contract)).
    #[must_use]
    pub fn new(mut config: Config, now: Instant) -> Self {
        let (session_id, last_seq) = match config.session.take() {
            Some(s) => {
                let seq = s.last_seq();
                (Some(s.id), seq)
            }
            None => (None, None),
        };
        let mut machine = Self {
            reconnects: Reconnects::new(config.seed, now),
            config,
            read_paused: false,
            now,
            phase: Phase::Disconnected,
            phase_since: now,
            timers: TimerTable::default(),
            out: VecDeque::new(),
            session_id,
            delivery: Delivery::resuming_from(last_seq),
            token: None,
            conn: Connection::default(),
            latency: Latency::default(),
            metrics: Metrics::default(),
        };
        machine.begin_attempt(false);
        machine
    }

    // ----- inputs -----

    /// Tells the machine what happened at `now`. Drain [`poll_output`](Self::poll_output)
    /// afterwards.
    ///
    /// # Errors
    ///
    /// [`UsageError`] if the input does not fit the machine's state (nothing changes), or
    /// the machine has stopped.
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) -> Result<(), UsageError> {
        match input {
            Input::Handled(ack) => {
                if self.config.ack_handled {
                    self.delivery.handled(ack);
                }
                return Ok(());
            }
            Input::Pacer(answer) => {
                self.advance(now);
                self.on_pacer(answer);
                self.fire_timers();
                return Ok(());
            }
            _ => {}
        }
        let state = self.phase.state();
        if state == State::Terminated {
            return Err(UsageError::Terminated);
        }
        let unexpected = UsageError::UnexpectedInput { input: input.name(), state };
        let open = self.phase.is_open();
        self.advance(now);
        match input {
            Input::Connected if state == State::Connecting => self.on_connected(),
            Input::ConnectFailed | Input::Closed(_) if state == State::Connecting => {
                self.metrics.connect_failures += 1;
                self.connection_gone(DisconnectCause::ConnectFailed);
            }
            Input::Text(text) if open => self.on_text(text),
            Input::Binary(bytes) if open => match core::str::from_utf8(bytes) {
                Ok(text) => self.on_text(text),
                Err(_) => self.decode_failed(DecodeError::Binary { len: bytes.len() }),
            },
            Input::Closed(frame) if open => self.connection_gone(match frame {
                Some(frame) => DisconnectCause::Closed(frame.into_owned()),
                None => DisconnectCause::Dropped,
            }),
            Input::Token(token) => {
                self.token = Some(token);
                if state == State::AwaitingToken {
                    self.begin_attempt(true);
                }
            }
            Input::TokenFailed(error) if state == State::AwaitingToken => self.on_token_failed(error),
            Input::ReadPaused(paused) => self.read_paused = paused,
            _ => return Err(unexpected),
        }
        self.fire_timers();
        Ok(())
    }

    /// Tells the machine that time has passed. Fires every timer due at `now`; calls when
    /// none is due do nothing. Drain [`poll_output`](Self::poll_output) afterwards.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Terminated) {
            self.advance(now);
            self.fire_timers();
        }
    }

    /// Closes gracefully: the connection (if any) is closed with a code that keeps the
    /// session, and then [`Event::Closed`] carries the session, to resume after a
    /// restart. Drain [`poll_output`](Self::poll_output) afterwards.
    ///
    /// # Errors
    ///
    /// [`UsageError::Terminated`] if the machine has already stopped.
    pub fn close(&mut self, now: Instant) -> Result<(), UsageError> {
        if matches!(self.phase, Phase::Terminated) {
            return Err(UsageError::Terminated);
        }
        self.advance(now);
        let open = self.phase.is_open();
        match &mut self.phase {
            Phase::Connecting { close_when_open } => *close_when_open = true,
            Phase::Closing(why) => *why = Closing::Graceful,
            _ if open => self.start_close(CloseFrame::CLOSING, Closing::Graceful),
            _ => self.finish_graceful(),
        }
        Ok(())
    }

    // ----- outputs -----

    /// The next thing to do. Call until it returns [`Output::Sleep`] (see the
    /// [drain contract](Self#the-drain-contract)).
    pub fn poll_output(&mut self) -> Output {
        self.out.pop_front().unwrap_or_else(|| Output::Sleep(self.poll_timeout()))
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if ever.
    /// Always later than the last `now` the machine was told.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next().map(|(_, at)| at)
    }

    /// The timer behind [`poll_timeout`](Self::poll_timeout), to see why the machine will wake.
    #[must_use]
    pub fn next_timer(&self) -> Option<(Timer, Instant)> {
        self.timers.next()
    }

    // ----- getters -----

    /// Where the machine is.
    #[must_use]
    pub fn state(&self) -> State {
        self.phase.state()
    }

    /// Whether the connection is authenticated (READY or RESUMED received) and events flow.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Active)
    }

    /// Whether the machine will go on connecting: false once it has stopped for good.
    #[must_use]
    pub fn can_reconnect(&self) -> bool {
        !matches!(self.phase, Phase::Terminated) && !self.phase.closes_for_good()
    }

    /// The current session's id, if there is one to resume.
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The last sequence number delivered in the current session.
    #[must_use]
    pub fn last_sequence(&self) -> Option<u64> {
        self.delivery.last_seq
    }

    /// The session to keep for a restart, if there is one: its `seq` is the
    /// [checkpoint](Self::checkpoint), so a RESUME from it replays every event not yet
    /// handled.
    #[must_use]
    pub fn session(&self) -> Option<Session> {
        let id = self.session_id.clone()?;
        Some(Session::at(id, self.checkpoint(), self.config.shard))
    }

    /// The highest sequence number up to which every event delivered in this session has
    /// been handled (a low watermark when events are handled out of order). Without
    /// [`ack_handled`](crate::ConfigBuilder::ack_handled) it is the
    /// [last one received](Self::last_sequence).
    #[must_use]
    pub fn checkpoint(&self) -> Option<u64> {
        if self.config.ack_handled { self.delivery.checkpoint() } else { self.delivery.last_seq }
    }

    /// How many delivered events await their [`Input::Handled`].
    #[must_use]
    pub fn unacked(&self) -> usize {
        self.delivery.unacked()
    }

    /// The shard this machine connects as.
    #[must_use]
    pub fn shard(&self) -> ShardId {
        self.config.shard
    }

    /// The intents sent in IDENTIFY.
    #[must_use]
    pub fn intents(&self) -> Intents {
        self.config.intents
    }

    /// The heartbeat interval of the current connection, from its HELLO;
    /// [`DEFAULT_HEARTBEAT_INTERVAL`] before one.
    #[must_use]
    pub fn heartbeat_interval(&self) -> Duration {
        self.conn.heartbeat_interval.unwrap_or(DEFAULT_HEARTBEAT_INTERVAL)
    }

    /// Heartbeat round trips.
    #[must_use]
    pub fn latency(&self) -> &Latency {
        &self.latency
    }

    /// A snapshot of the counters, with the time in the current state counted up to the
    /// last `now` the machine was told.
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        let mut metrics = self.metrics.clone();
        metrics.add_time_in(self.phase.state(), self.now.saturating_duration_since(self.phase_since));
        metrics
    }

    // ----- the protocol -----

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn set_phase(&mut self, phase: Phase) {
        let spent = self.now.saturating_duration_since(self.phase_since);
        self.metrics.add_time_in(self.phase.state(), spent);
        self.phase = phase;
        self.phase_since = self.now;
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Emit(event));
    }

    fn decode_failed(&mut self, error: DecodeError) {
        self.metrics.decode_failures += 1;
        self.emit(Event::DecodeFailed(error));
    }

    /// Starts the next connection attempt: a usable token first, then an IDENTIFY slot if
    /// the attempt will IDENTIFY, then the connection.
    fn begin_attempt(&mut self, token_just_arrived: bool) {
        let now = self.now;
        // A token delivered on request is used if it has not expired; one held from
        // before must outlive the refresh margin.
        let needed_until = if token_just_arrived { now } else { now + TOKEN_REFRESH_MARGIN };
        let authorization = match &self.token {
            Some(token) if token.expires_at() > needed_until => Secret(token.authorization()),
            Some(_) if token_just_arrived => {
                self.token = None;
                return self.on_token_failed(TokenError::Unavailable(
                    "the token delivered has already expired".into(),
                ));
            }
            _ => {
                self.set_phase(Phase::AwaitingToken);
                self.metrics.token_refreshes += 1;
                self.out.push_back(Output::RefreshToken);
                return;
            }
        };
        let plan = if self.session_id.is_some() { Plan::Resume } else { Plan::Identify };
        self.conn = Connection { authorization, plan, ..Connection::default() };
        if plan == Plan::Identify {
            self.set_phase(Phase::AwaitingIdentifySlot { asked: true });
            self.out.push_back(Output::Pacer(PacerRequest::Acquire));
        } else {
            self.connect();
        }
    }

    fn connect(&mut self) {
        self.set_phase(Phase::Connecting { close_when_open: false });
        self.metrics.connects += 1;
        self.out.push_back(Output::Connect(self.config.url.clone()));
    }

    /// The identify pacer answered. A slot nobody waits for any more goes back at once.
    fn on_pacer(&mut self, answer: PacerAnswer) {
        let wanted = match &mut self.phase {
            Phase::AwaitingIdentifySlot { asked } => core::mem::take(asked),
            _ => false,
        };
        match answer {
            PacerAnswer::Granted(slot) if wanted => {
                self.conn.slot = Some(slot);
                self.connect();
            }
            PacerAnswer::Granted(slot) => self.out.push_back(Output::Pacer(PacerRequest::Release(slot))),
            PacerAnswer::Deferred(wait) if wanted => {
                self.timers.set(Timer::Reconnect, self.now + wait.max(Duration::from_millis(1)));
            }
            PacerAnswer::Deferred(_) => {}
        }
    }

    fn on_token_failed(&mut self, error: TokenError) {
        match error {
            TokenError::Rejected { code, message } => {
                self.fatal(FatalError::CredentialsRejected { code, message })
            }
            // A renewal that failed while the token held still works: use it.
            error @ TokenError::Unavailable(_)
                if self.token.as_ref().is_some_and(|t| t.expires_at() > self.now) =>
            {
                self.emit(Event::TokenRefreshFailed(error));
                self.begin_attempt(true);
            }
            TokenError::Unavailable(reason) => {
                let delay = self.reconnects.back_off(&self.config.backoff);
                self.schedule_attempt(DisconnectCause::TokenUnavailable(reason), delay);
            }
        }
    }

    fn on_connected(&mut self) {
        let close = self.phase.closes_for_good();
        self.set_phase(Phase::AwaitingHello);
        self.timers.set(Timer::Handshake, self.now + self.config.handshake_timeout);
        if close {
            self.start_close(CloseFrame::CLOSING, Closing::Graceful);
        }
    }

    fn on_text(&mut self, text: &str) {
        if matches!(self.phase, Phase::Closing(_)) {
            return; // in flight before our close; QQ replays what matters after a RESUME
        }
        self.conn.heard_since_beat = true;
        let env = match Envelope::parse(text) {
            Ok(env) => env,
            Err(error) => return self.decode_failed(error),
        };
        match OpCode::from_u64(env.op) {
            Some(OpCode::Dispatch) if matches!(self.phase, Phase::AwaitingHello) => {
                let name = env.t.as_deref().unwrap_or_default().to_owned();
                self.decode_failed(DecodeError::DispatchBeforeHello { name });
            }
            Some(OpCode::Dispatch) => self.on_dispatch(&env),
            Some(OpCode::Hello) => self.on_hello(env.d),
            Some(OpCode::HeartbeatAck) => self.on_heartbeat_ack(),
            // QQ asks for a heartbeat; there is none to send before HELLO. The beat counts
            // as ours: the next one is due an interval later.
            Some(OpCode::Heartbeat) if !matches!(self.phase, Phase::AwaitingHello) => {
                self.send_heartbeat();
                self.timers.set(Timer::Heartbeat, self.now + self.heartbeat_interval());
            }
            Some(OpCode::Heartbeat) => {}
            Some(OpCode::Reconnect) => {
                self.start_close(CloseFrame::RESUME, Closing::Reconnect(DisconnectCause::ReconnectRequested));
            }
            Some(OpCode::InvalidSession) => {
                let resumable = incoming::invalid_session_resumable(env.d);
                let frame = if resumable { CloseFrame::RESUME } else { CloseFrame::NORMAL };
                self.start_close(frame, Closing::Reconnect(DisconnectCause::InvalidSession { resumable }));
            }
            _ => self.decode_failed(DecodeError::UnexpectedOpcode { op: env.op }),
        }
    }

    fn on_hello(&mut self, d: Option<&RawValue>) {
        if !matches!(self.phase, Phase::AwaitingHello) {
            return self.decode_failed(DecodeError::UnexpectedHello);
        }
        let interval = match incoming::hello_interval(d) {
            Some(interval) => interval.clamp(self.config.min_heartbeat_interval, MAX_HEARTBEAT_INTERVAL),
            None => {
                self.decode_failed(DecodeError::InvalidHello {
                    snippet: snippet(d.map_or("", RawValue::get)),
                });
                DEFAULT_HEARTBEAT_INTERVAL
            }
        };
        self.conn.heartbeat_interval = Some(interval);
        self.timers.set(Timer::Heartbeat, self.now + interval);
        let resume = match (&self.session_id, self.conn.plan) {
            (Some(id), Plan::Resume) => Some(outgoing::resume(
                &self.conn.authorization.0,
                &Session::at(id.as_str(), self.delivery.last_seq, self.config.shard),
            )),
            _ => None,
        };
        if let Some(frame) = resume {
            self.metrics.resumes += 1;
            self.out.push_back(Output::Send(frame));
            self.set_phase(Phase::Resuming);
        } else {
            self.forget_session();
            self.conn.plan = Plan::Identify;
            self.metrics.identifies += 1;
            let frame =
                outgoing::identify(&self.conn.authorization.0, self.config.intents, self.config.shard);
            self.out.push_back(Output::Send(frame));
            if let Some(slot) = self.conn.slot.take() {
                self.out.push_back(Output::Pacer(PacerRequest::Sent(slot)));
            }
            self.set_phase(Phase::Identifying);
        }
        self.conn.sent_auth = true;
    }

    fn on_heartbeat_ack(&mut self) {
        if let Some(sent) = self.conn.pending_ack.take() {
            self.latency.record_ack(sent, self.now);
            self.metrics.heartbeats_acked += 1;
        }
    }

    fn send_heartbeat(&mut self) {
        self.out.push_back(Output::Send(outgoing::heartbeat(self.delivery.last_seq)));
        self.metrics.heartbeats_sent += 1;
        self.latency.record_sent(self.now);
        self.conn.pending_ack = Some(self.now);
        self.conn.heard_since_beat = false;
    }

    /// The heartbeat timer fired. A beat still unacknowledged with no frame received
    /// since it was sent means the link is dead; frames still arriving (a long replay
    /// with the ACK queued behind it) prove it lives.
    fn on_heartbeat_due(&mut self) {
        // While the adapter does not read, silence proves nothing.
        if self.conn.pending_ack.is_some() && !self.conn.heard_since_beat && !self.read_paused {
            self.metrics.zombies += 1;
            return self.abandon(DisconnectCause::Zombie);
        }
        self.send_heartbeat();
        self.timers.set(Timer::Heartbeat, self.now + self.heartbeat_interval());
    }

    fn on_dispatch(&mut self, env: &Envelope<'_>) {
        let dispatch = match Dispatch::from_envelope(env, self.config.shard) {
            Ok(dispatch) => dispatch,
            Err(error) => {
                // QQ counts it as delivered; never ask for it again.
                if let Some(seq) = env.s {
                    self.delivery.advance(seq);
                }
                return self.decode_failed(error);
            }
        };
        if matches!(self.phase, Phase::Resuming) {
            self.on_progress(); // a replay under way
        }
        match dispatch.name() {
            "READY" => {
                match dispatch.ready_session_id() {
                    Some(id) => self.session_id = Some(id),
                    None => {
                        self.session_id = None;
                        self.decode_failed(DecodeError::InvalidReady {
                            snippet: snippet(dispatch.data().get()),
                        });
                    }
                }
                self.delivery.new_session();
                self.metrics.readies += 1;
                self.on_authenticated();
                let moved = dispatch.seq().is_some_and(|seq| self.note_seq(seq));
                self.deliver(dispatch, moved);
            }
            "RESUMED" => {
                self.metrics.resumed += 1;
                self.on_authenticated();
                // RESUMED may carry the next seq or none; an old one is not news.
                let moved = dispatch
                    .seq()
                    .filter(|&seq| !self.delivery.delivered(seq))
                    .is_some_and(|seq| self.note_seq(seq));
                self.deliver(dispatch, moved);
            }
            // Delivery is decided by event id; by seq only for events without one.
            _ => match self.delivery.arrival(dispatch.id(), dispatch.seq()) {
                Arrival::New => {
                    let moved = dispatch.seq().is_some_and(|seq| self.note_seq(seq));
                    self.deliver(dispatch, moved);
                }
                Arrival::Replay => self.metrics.replays_dropped += 1,
                Arrival::Duplicate => self.metrics.duplicates_dropped += 1,
            },
        }
    }

    /// Emits a dispatch; one that `moved` the sequence number is tracked until handled.
    fn deliver(&mut self, mut dispatch: Dispatch, moved: bool) {
        if let (true, true, Some(seq)) = (self.config.ack_handled, moved, dispatch.seq()) {
            let (ack, overflow) = self.delivery.track(seq);
            dispatch.set_ack(ack);
            self.metrics.unacked_overflows += u64::from(overflow);
        }
        self.metrics.events += 1;
        self.emit(Event::Dispatch(dispatch));
    }

    /// Moves the RESUME point to `seq` if it is plausible ([`Delivery::advance`]); reports
    /// it if not. Returns whether it moved.
    fn note_seq(&mut self, seq: u64) -> bool {
        let last = self.delivery.last_seq;
        let moved = self.delivery.advance(seq);
        if !moved {
            self.decode_failed(DecodeError::ImplausibleSeq { seq, last });
        }
        moved
    }

    fn on_authenticated(&mut self) {
        self.conn.authenticated = true;
        self.set_phase(Phase::Active);
        self.on_progress();
    }

    /// READY, RESUMED or a replayed event: the connection works. The failure count and
    /// the refused-RESUME count start over, and the handshake is over.
    fn on_progress(&mut self) {
        if self.conn.progress.is_none() {
            self.conn.progress = Some(self.now);
            self.reconnects.progress();
            self.timers.stop(Timer::Handshake);
        }
    }

    /// The session cannot be resumed: report the gap, from its checkpoint.
    fn forget_session(&mut self) {
        if let Some(lost) = self.session() {
            self.metrics.sessions_lost += 1;
            self.emit(Event::SessionLost(lost));
        }
        self.session_id = None;
        self.delivery.new_session();
        self.reconnects.session_forgotten();
    }

    /// Closes with a handshake: the close frame goes out, and the server's reply is
    /// awaited for at most `close_timeout` before the socket is abandoned.
    fn start_close(&mut self, frame: CloseFrame<'static>, why: Closing) {
        self.timers.stop(Timer::Heartbeat);
        self.timers.stop(Timer::Handshake);
        self.timers.set(Timer::Close, self.now + self.config.close_timeout);
        self.set_phase(Phase::Closing(why));
        self.out.push_back(Output::Close(frame));
    }

    /// Drops the socket without a handshake (the peer is gone or too slow to answer),
    /// and goes on as if it had closed.
    fn abandon(&mut self, cause: DisconnectCause) {
        self.out.push_back(Output::Abandon);
        self.connection_gone(cause);
    }

    /// The one teardown: the connection is gone (closed by the server, dropped, abandoned,
    /// or it never opened). If the machine was closing it, the reason it closed for
    /// decides what follows; else `cause` does.
    fn connection_gone(&mut self, cause: DisconnectCause) {
        if self.phase.closes_for_good() {
            return self.finish_graceful();
        }
        let cause = match &self.phase {
            Phase::Closing(Closing::Reconnect(why)) => why.clone(),
            _ => cause,
        };
        self.connection_ended(cause);
    }

    /// The connection is gone: apply the reconnect policy (see `machine/reconnect.rs`) and
    /// schedule the next attempt.
    fn connection_ended(&mut self, cause: DisconnectCause) {
        self.metrics.disconnects += 1;
        let conn = self.end_connection();
        let resumed = conn.plan == Plan::Resume && conn.sent_auth;
        let v = verdict(&cause, conn.progress.is_some(), resumed);
        if v.fatal {
            if let DisconnectCause::Closed(frame) = cause {
                return self
                    .fatal(FatalError::Closed { code: frame.code, reason: frame.reason.into_owned() });
            }
        }
        if !matches!(cause, DisconnectCause::InvalidSession { .. }) {
            self.report_unseen_session(&conn);
        }
        if v.refresh_token {
            self.token = None;
        }
        let refused_too_often = v.resume_refused && self.reconnects.resume_refused();
        if v.forget || refused_too_often {
            self.forget_session();
        }
        let lived = conn.progress.map(|at| self.now.saturating_duration_since(at));
        let delay = self.reconnects.delay(&v, lived, &self.config, self.now);
        self.schedule_attempt(cause, delay);
    }

    fn schedule_attempt(&mut self, cause: DisconnectCause, delay: Duration) {
        let at = self.now + delay;
        let next = if self.session_id.is_some() { Reconnect::Resume } else { Reconnect::Identify };
        self.emit(Event::Disconnected(Disconnect { cause, next, at }));
        self.set_phase(Phase::Disconnected);
        if delay.is_zero() {
            self.begin_attempt(false);
        } else {
            self.timers.set(Timer::Reconnect, at);
        }
    }

    /// Forgets everything of the current connection: its timers stop, an IDENTIFY slot
    /// it did not use goes back to the pacer. Returns what it was.
    fn end_connection(&mut self) -> Connection {
        for timer in Timer::CONNECTION {
            self.timers.stop(timer);
        }
        if let Some(slot) = self.conn.slot.take() {
            self.out.push_back(Output::Pacer(PacerRequest::Release(slot)));
        }
        core::mem::take(&mut self.conn)
    }

    /// An IDENTIFY sent on `conn` got no READY: QQ may have started a session this
    /// machine never saw, whose events the next IDENTIFY loses. Reported as a lost
    /// session with no id.
    fn report_unseen_session(&mut self, conn: &Connection) {
        if conn.plan == Plan::Identify && conn.sent_auth && !conn.authenticated {
            self.metrics.sessions_lost += 1;
            self.emit(Event::SessionLost(Session::new(String::new(), 0, self.config.shard)));
        }
    }

    fn fatal(&mut self, error: FatalError) {
        self.end_connection();
        self.timers.stop_all();
        self.emit(Event::Fatal(error));
        self.set_phase(Phase::Terminated);
    }

    fn finish_graceful(&mut self) {
        let conn = self.end_connection();
        self.report_unseen_session(&conn);
        self.timers.stop_all();
        let session = self.session();
        self.emit(Event::Closed(session));
        self.set_phase(Phase::Terminated);
    }

    fn fire_timers(&mut self) {
        // Each firing re-arms timers only in the future, so this ends; the bound is a guard.
        for _ in 0..8 {
            let Some(timer) = self.timers.pop_due(self.now) else { return };
            match timer {
                Timer::Reconnect => self.begin_attempt(false),
                Timer::Heartbeat => self.on_heartbeat_due(),
                // Unread frames may hold READY: a lagging consumer is waited for.
                Timer::Handshake if self.read_paused => {
                    self.timers.set(Timer::Handshake, self.now + self.config.handshake_timeout);
                }
                // A server that has not become ready in time is not waited on to close.
                Timer::Handshake => self.abandon(DisconnectCause::HandshakeTimeout),
                // The server did not answer our close: it is gone.
                Timer::Close => self.abandon(DisconnectCause::Dropped),
            }
        }
    }
}

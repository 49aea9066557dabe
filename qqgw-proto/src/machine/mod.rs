//! The gateway state machine.
//!
//! `GatewayMachine` (here) holds the state and answers the public calls; the work is
//! split the way quinn-proto splits a connection:
//!
//! - `state`: the public `State`, and the private `Phase` that carries each phase's data;
//! - `attempt`: a token, an IDENTIFY slot and the connection, up to an open socket;
//! - `receive`: what the server sends on it: HELLO, heartbeats, dispatches;
//! - `teardown`: the close handshake, and the one teardown every end goes through;
//! - `connection`: the facts of one connection; `delivery`: what a session delivered;
//!   `checkpoint`: the receipts awaited; `reconnect`: the reconnect policy and its
//!   memory; `timer`: the deadlines, and what each does when it fires; `metrics`:
//!   counters and latency; `io`: the inputs and outputs.
//!
//! Nothing outside `machine/` imports it but through the crate root (`.ci/layers`).

mod attempt;
mod checkpoint;
mod connection;
mod delivery;
mod io;
mod metrics;
mod receive;
mod reconnect;
mod state;
mod teardown;
mod timer;

use std::collections::VecDeque;

use core::time::Duration;

use crate::close::CloseFrame;
use crate::config::Config;
use crate::error::DecodeError;
use crate::incoming::DEFAULT_HEARTBEAT_INTERVAL;
use crate::intents::Intents;
use crate::session::Session;
use crate::shard::ShardId;
use crate::time::Instant;
use crate::token::AccessToken;

pub use checkpoint::MAX_UNACKED;
use connection::Connection;
use delivery::Delivery;
pub use delivery::MAX_SEQ_STEP;
pub use io::{Disconnect, DisconnectCause, Event, Input, Output, Reconnect, UsageError};
pub use metrics::{Latency, Metrics};
use reconnect::Reconnects;
pub use reconnect::{FLAP_WINDOW, STORM_BURST, STORM_REFILL};
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
/// | before progress: the connection could not open, no READY in time, op 7 / 4009 / a drop before READY or RESUMED | after [`Backoff`](crate::Backoff) (5 s doubling to 40 s, less up to a fifth) | +1 |
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
    /// The latest `now` the machine was told.
    now: Instant,
    /// What the machine is doing, with that phase's data; [`state`](Self::state) is its
    /// public face.
    phase: Phase,
    /// When the current phase began.
    phase_since: Instant,
    timers: TimerTable,
    /// Outputs not yet polled.
    out: VecDeque<Output>,

    /// The access token the next connection authenticates with.
    token: Option<AccessToken>,
    /// The current connection's facts; the default between connections.
    conn: Connection,
    /// The session to RESUME, if there is one.
    session_id: Option<String>,
    /// What the session delivered: the RESUME point, recent event ids, receipts awaited.
    delivery: Delivery,
    /// The reconnect policy's counts, storm budget and jitter source.
    reconnects: Reconnects,
    /// The adapter stopped reading frames ([`Input::ReadPaused`]).
    read_paused: bool,

    latency: Latency,
    metrics: Metrics,
}

impl GatewayMachine {
    /// A machine for `config`, started at `now`. Its first outputs ask for a token and a
    /// connection; drain them (see the [drain contract](Self#the-drain-contract)).
    #[must_use]
    pub fn new(mut config: Config, now: Instant) -> Self {
        let session = config.session.take();
        let mut machine = Self {
            delivery: Delivery::resuming_from(session.as_ref().and_then(Session::last_seq)),
            session_id: session.map(|s| s.id),
            reconnects: Reconnects::new(config.seed, now),
            config,
            now,
            phase: Phase::Disconnected,
            phase_since: now,
            timers: TimerTable::default(),
            out: VecDeque::new(),
            token: None,
            conn: Connection::default(),
            read_paused: false,
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
                if self.config.manual_ack {
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
    /// [`manual_ack`](crate::ConfigBuilder::manual_ack) it is the
    /// [last one received](Self::last_sequence).
    #[must_use]
    pub fn checkpoint(&self) -> Option<u64> {
        if self.config.manual_ack { self.delivery.checkpoint() } else { self.delivery.last_seq }
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
        metrics.add_time_in(self.phase.state(), self.time_in_phase());
        metrics
    }

    // ----- the machine's own bookkeeping -----

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// Moves to `phase`, counting the time spent in the one it leaves.
    fn set_phase(&mut self, phase: Phase) {
        self.metrics.add_time_in(self.phase.state(), self.time_in_phase());
        self.phase = phase;
        self.phase_since = self.now;
    }

    fn time_in_phase(&self) -> Duration {
        self.now.saturating_duration_since(self.phase_since)
    }

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Emit(event));
    }

    fn decode_failed(&mut self, error: DecodeError) {
        self.metrics.decode_failures += 1;
        self.emit(Event::DecodeFailed(error));
    }
}

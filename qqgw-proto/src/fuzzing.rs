//! The logic of the fuzz targets in `fuzz/` (hidden feature `fuzzing`).
//!
//! Each target in `fuzz/fuzz_targets/` is a few lines calling one function here, and the
//! stable test `tests/fuzz_replay.rs` runs every committed seed and crash input through
//! the same functions, so whatever the fuzzer once found stays a regression test in CI.
//!
//! - [`envelope`]: arbitrary bytes as a frame: [`Envelope::parse`] and
//!   [`Dispatch::from_frame`] must agree with a plain JSON parse of the same text.
//! - [`typed_event`]: arbitrary `d` (or a whole frame) through
//!   [`TypedEvent::from_dispatch`]: no panic, and the result names the dispatch's event.
//! - [`machine`]: arbitrary bytes decoded into a sequence of steps (frames valid, mutated
//!   and junk; closes with any code; ticks of any size; tokens; connection reports; a
//!   graceful close) that a [`Driver`] feeds to a [`GatewayMachine`], checking the
//!   invariants after every step.
//!
//! # Panics
//!
//! Asserting is this module's job: its functions panic when the library breaks one of the
//! invariants they check, and only then (or when the library itself panics, which is a
//! finding too). No input makes them panic otherwise.
#![allow(clippy::panic)]

use std::collections::VecDeque;

use core::time::Duration;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::backoff::Backoff;
use crate::close::{CloseCode, CloseFrame};
use crate::config::Config;
use crate::dispatch::Dispatch;
use crate::envelope::Envelope;
use crate::error::TokenError;
use crate::intents::Intents;
use crate::limiter::{IdentifyLimiter, IdentifySlot, PacerRequest, SessionStartLimit};
use crate::machine::UsageError;
use crate::machine::{Event, GatewayMachine, Input, Output, State};
use crate::model::{EventKind, TypedEvent};
use crate::session::Session;
use crate::shard::ShardId;
use crate::time::Instant;
use crate::token::AccessToken;

/// The most outputs one drain may yield before the machine counts as not settling.
pub const MAX_OUTPUTS_PER_DRAIN: usize = 1_000;
/// The most steps [`machine`] decodes from one input (bounds the time of one run).
pub const MAX_STEPS: usize = 4_096;
/// How long a token the [`Driver`] hands out on its own lives.
pub const AUTO_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How many of the last delivered event ids the driver checks for repeats (fewer than
/// the machine remembers, so that every repeat it sees is one the machine should drop).
const RECENT_IDS_CHECKED: usize = 512;

// ---------------------------------------------------------------------------------------
// envelope

/// Parses `data` as a frame and checks that the envelope, the dispatch and a plain
/// `serde_json::Value` parse of the same text agree.
///
/// # Panics
///
/// When they disagree, or an error message quotes more than a snippet of the frame.
pub fn envelope(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else { return };
    let parsed = Envelope::parse(text);
    let dispatch = Dispatch::from_frame(text, ShardId::ONE);
    let env = match parsed {
        Ok(env) => env,
        Err(error) => {
            assert!(dispatch.is_err(), "a dispatch from a frame whose envelope failed: {text:?}");
            // Errors quote a snippet of the frame, never all of it.
            let message = error.to_string();
            assert!(message.len() <= 1_024, "an error message of {} bytes", message.len());
            return;
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        // serde_json skips the keys the envelope ignores without checking what a `Value`
        // cannot hold (numbers beyond f64 like `1E999`, lone surrogates like `"\udbfd"`);
        // nothing to compare then.
        Err(_) => return,
    };
    assert_eq!(value.get("op").and_then(Value::as_u64), Some(env.op), "op of {text:?}");
    let s = value.get("s").filter(|s| !s.is_null());
    assert_eq!(s.and_then(Value::as_u64), env.s, "s of {text:?}");
    assert_eq!(s.is_some(), env.s.is_some(), "s of {text:?}");
    let t = value.get("t").and_then(Value::as_str);
    assert_eq!(t, env.t.as_deref(), "t of {text:?}");
    let id = value.get("id").and_then(Value::as_str);
    assert_eq!(id, env.id.as_deref(), "id of {text:?}");
    let d = value.get("d").filter(|d| !d.is_null());
    match (d, env.d) {
        (None, None) => {}
        (Some(d), Some(raw)) => {
            let reparsed: Result<Value, _> = serde_json::from_str(raw.get());
            assert_eq!(reparsed.ok().as_ref(), Some(d), "d of {text:?}");
        }
        (d, raw) => panic!("d of {text:?}: JSON says {d:?}, the envelope {raw:?}"),
    }
    let complete = env.op == 0 && env.t.is_some() && env.d.is_some();
    match dispatch {
        Ok(dispatch) => {
            assert!(complete, "a dispatch from an incomplete op 0 frame: {text:?}");
            assert_eq!(Some(dispatch.name()), env.t.as_deref());
            assert_eq!(dispatch.seq(), env.s);
            assert_eq!(dispatch.id(), env.id.as_deref());
            assert_eq!(Some(dispatch.data().get()), env.d.map(RawValue::get));
            assert!(dispatch.parse::<Value>().is_ok(), "a dispatch whose data is not JSON: {text:?}");
            let debug = format!("{dispatch:?}");
            assert!(debug.len() <= 1_024 + dispatch.name().len() + dispatch.id().map_or(0, str::len));
        }
        Err(error) => {
            assert!(!complete, "no dispatch from a complete op 0 frame ({error}): {text:?}");
            assert!(error.to_string().len() <= 1_024 + env.t.as_deref().map_or(0, str::len));
        }
    }
}

// ---------------------------------------------------------------------------------------
// typed events

/// The event name [`typed_event`] uses for the selector byte `pick`: every known kind,
/// then an unknown name.
#[must_use]
pub fn event_name(pick: u8) -> &'static str {
    let all: &'static [EventKind] = EventKind::ALL;
    all.get(usize::from(pick) % (all.len() + 1)).map_or("UNKNOWN_FUTURE_EVENT", EventKind::as_str)
}

/// Decodes arbitrary data as a typed event: `data` is either a whole frame (when it starts
/// with `{`) or a selector byte naming the event (see [`event_name`]) followed by `d`.
///
/// # Panics
///
/// When the typed event does not name the dispatch's event, or a parse error names another.
pub fn typed_event(data: &[u8]) {
    let dispatch = match data.split_first() {
        Some((b'{', _)) => {
            let Ok(text) = core::str::from_utf8(data) else { return };
            match Dispatch::from_frame(text, ShardId::ONE) {
                Ok(dispatch) => dispatch,
                Err(_) => return,
            }
        }
        Some((&pick, d)) => {
            let Ok(d) = core::str::from_utf8(d) else { return };
            let Ok(raw) = RawValue::from_string(d.to_owned()) else { return };
            Dispatch::new(event_name(pick), Some(1), None, ShardId::ONE, raw)
        }
        None => return,
    };
    let kind = EventKind::from_name(dispatch.name());
    match TypedEvent::from_dispatch(&dispatch) {
        Ok(event) => {
            assert_eq!(event.name(), dispatch.name());
            assert_eq!(event.kind(), kind);
        }
        Err(error) => {
            assert_eq!(error.event(), &kind, "{error}");
            assert!(!matches!(kind, EventKind::Unknown(_)), "an unknown event failed to parse: {error}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// the machine

/// How a [`Driver`] plays the adapter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Answer [`Output::Connect`] with [`Input::Connected`] and [`Output::RefreshToken`]
    /// with a token living [`AUTO_TOKEN_LIFETIME`], inside the drain. Otherwise the steps
    /// must report them.
    pub auto: bool,
    /// After [`Output::Close`], wait for a step to report [`Input::Closed`] (frames may
    /// arrive meanwhile). Otherwise it is reported inside the drain.
    pub defer_close: bool,
    /// Check that the machine always has a deadline unless it waits for the adapter. Only
    /// for configs whose delays cannot reach the end of the clock; it is not checked once
    /// the clock is past [`LIVENESS_HORIZON`] either.
    pub liveness: bool,
}

/// Past this instant (about 146 million years) deadlines may saturate at the end of the
/// clock, where they never come.
pub const LIVENESS_HORIZON: Instant = Instant::from_millis(1 << 62);

/// The transport as the driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Socket {
    None,
    Connecting,
    Open,
    Closing,
}

/// A [`GatewayMachine`] driven on a virtual clock, its invariants checked after every step.
///
/// The driver plays the adapter (it follows the drain contract and, per [`Options`],
/// answers the machine's requests itself) and keeps a queue of the answers a well-behaved
/// QQ would give (HELLO after a connection opens, READY after IDENTIFY, RESUMED after
/// RESUME, an ACK after a heartbeat) for [`reply`](Self::reply).
///
/// Checked after every step:
///
/// - every `Sleep` deadline is later than now, polling again gives the same `Sleep`, and
///   (with [`Options::liveness`]) only while waiting for the adapter (connecting,
///   fetching a token, closing) or after the end may there be none;
/// - `Connect` only with no connection, `Send` and `Close` only on an open connection;
/// - no heartbeat before HELLO on a connection, and at most one IDENTIFY or RESUME, sent
///   only after HELLO;
/// - every IDENTIFY has a slot from the identify pacer, which the machine then reports
///   sent; a slot not used is released; none is left held when the machine ends;
/// - the sequence numbers of dispatches other than READY and RESUMED strictly increase
///   within a session (reset by IDENTIFY and READY);
/// - a `Disconnected` event only with no connection, naming a time not before now;
/// - exactly one of `Fatal` and `Closed` ends the machine: nothing is output after it,
///   the state is `Terminated`, every later input and `close` is refused with
///   [`UsageError::Terminated`], and `Closed` carries the machine's session;
/// - a refused input outputs nothing and changes neither the state nor the next deadline;
/// - a drain ends within [`MAX_OUTPUTS_PER_DRAIN`] outputs.
///
/// # Panics
///
/// Every method panics when the machine breaks one of these invariants.
#[derive(Debug)]
pub struct Driver {
    /// The machine under test.
    pub machine: GatewayMachine,
    options: Options,
    now: Instant,
    socket: Socket,
    hello_seen: bool,
    auths: u32,
    last_seq: Option<u64>,
    /// The ids of the last dispatches delivered, none of which may come again.
    delivered_ids: VecDeque<String>,
    terminated: bool,
    log: Vec<Output>,
    replies: VecDeque<String>,
    server_seq: u64,
    sessions: u32,
    /// Answers the machine's identify pacing, inside the drain.
    pacer: IdentifyLimiter,
    /// The slot granted and neither sent nor released, if any.
    slot: Option<IdentifySlot>,
}

impl Driver {
    /// A machine for `config` started at `now`, drained once, its IDENTIFYs paced by
    /// an [`IdentifyLimiter`] with [`SessionStartLimit::default`].
    pub fn new(config: Config, now: Instant, options: Options) -> Self {
        Self::with_pacer(config, now, options, IdentifyLimiter::new(SessionStartLimit::default(), now))
    }

    /// A machine for `config` started at `now`, drained once, its IDENTIFYs paced by
    /// `pacer`.
    pub fn with_pacer(config: Config, now: Instant, options: Options, pacer: IdentifyLimiter) -> Self {
        let mut driver = Self {
            machine: GatewayMachine::new(config, now),
            options,
            now,
            socket: Socket::None,
            hello_seen: false,
            auths: 0,
            last_seq: None,
            delivered_ids: VecDeque::new(),
            terminated: false,
            log: Vec::new(),
            replies: VecDeque::new(),
            server_seq: 0,
            sessions: 0,
            pacer,
            slot: None,
        };
        driver.drain();
        driver
    }

    /// The virtual clock.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Whether the machine emitted its terminal event.
    #[must_use]
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Whether the driver's transport has a connection open (not connecting, not closed).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.socket == Socket::Open
    }

    /// Everything the machine output (but `Sleep`) since the last call, in order.
    pub fn take_log(&mut self) -> Vec<Output> {
        core::mem::take(&mut self.log)
    }

    /// The last sequence number the server side used.
    #[must_use]
    pub fn server_seq(&self) -> u64 {
        self.server_seq
    }

    /// Tells the machine `input` at the driver's now, then drains.
    ///
    /// # Errors
    ///
    /// The machine's refusal, after checking that it changed nothing.
    pub fn input(&mut self, input: Input<'_>) -> Result<(), UsageError> {
        let state = self.machine.state();
        let deadline = self.machine.poll_timeout();
        let hello = state == State::AwaitingHello && is_hello(&input);
        let kind = input_kind(&input);
        let result = self.machine.handle_input(self.now, input);
        match &result {
            Err(error) => {
                self.check_refusal(state, deadline);
                if self.terminated {
                    assert_eq!(error, &UsageError::Terminated, "after the end");
                }
            }
            Ok(()) => {
                assert!(!self.terminated, "input accepted after the terminal event");
                match kind {
                    InputKind::Connected => {
                        assert_eq!(self.socket, Socket::Connecting, "Connected accepted without Connect");
                        self.opened();
                    }
                    InputKind::ConnectFailed => {
                        assert_eq!(self.socket, Socket::Connecting, "ConnectFailed accepted without Connect");
                        self.socket = Socket::None;
                    }
                    InputKind::Closed => {
                        assert_ne!(self.socket, Socket::None, "Closed accepted with no connection");
                        self.gone();
                    }
                    InputKind::Frame => {
                        assert!(
                            matches!(self.socket, Socket::Open | Socket::Closing),
                            "a frame accepted with no open connection"
                        );
                        self.hello_seen |= hello;
                    }
                    InputKind::Token => {}
                }
                self.drain();
            }
        }
        result
    }

    /// Moves the clock forward by `by` (saturating) and tells the machine. Returns the
    /// new now.
    pub fn tick(&mut self, by: Duration) -> Instant {
        self.now += by;
        self.timeout();
        self.now
    }

    /// Moves the clock to the machine's next deadline, if it has one, and tells the
    /// machine. Returns whether there was one.
    pub fn wake(&mut self) -> bool {
        let Some(at) = self.machine.poll_timeout() else { return false };
        assert!(at > self.now, "a deadline {at:?} not after now {:?}", self.now);
        self.now = at;
        self.timeout();
        true
    }

    /// Closes the machine gracefully.
    ///
    /// # Errors
    ///
    /// The machine's refusal (only once it has stopped).
    pub fn close(&mut self) -> Result<(), UsageError> {
        let state = self.machine.state();
        let deadline = self.machine.poll_timeout();
        let result = self.machine.close(self.now);
        match &result {
            Err(error) => {
                assert!(self.terminated, "close refused before the end: {error}");
                assert_eq!(error, &UsageError::Terminated);
                self.check_refusal(state, deadline);
            }
            Ok(()) => {
                assert!(!self.terminated, "close accepted after the terminal event");
                self.drain();
            }
        }
        result
    }

    /// Delivers the oldest answer a well-behaved QQ owes (HELLO, READY, RESUMED, ACK),
    /// if any.
    pub fn reply(&mut self) -> Option<Result<(), UsageError>> {
        let text = self.pop_reply()?;
        Some(self.input(Input::Text(&text)))
    }

    /// Takes the oldest answer a well-behaved QQ owes, to deliver it yourself.
    pub fn pop_reply(&mut self) -> Option<String> {
        self.replies.pop_front()
    }

    /// Sends the machine a READY (new session `fuzz-n`, seq 1) as QQ would after IDENTIFY.
    #[must_use]
    pub fn ready_frame(&mut self) -> String {
        self.sessions += 1;
        self.server_seq = 1;
        format!(
            r#"{{"op":0,"s":1,"t":"READY","d":{{"version":1,"session_id":"fuzz-{}","user":{{"id":"1","username":"fuzz","bot":true}},"shard":[0,1]}}}}"#,
            self.sessions
        )
    }

    /// The next sequence number the server side uses.
    pub fn next_seq(&mut self) -> u64 {
        self.server_seq = self.server_seq.saturating_add(1);
        self.server_seq
    }

    fn timeout(&mut self) {
        let state = self.machine.state();
        let deadline = self.machine.poll_timeout();
        self.machine.handle_timeout(self.now);
        if self.terminated {
            self.check_refusal(state, deadline);
        } else {
            self.drain();
        }
    }

    fn check_refusal(&mut self, state: State, deadline: Option<Instant>) {
        assert_eq!(self.machine.state(), state, "a refused input changed the state");
        assert_eq!(self.machine.poll_timeout(), deadline, "a refused input moved the deadline");
        match self.machine.poll_output() {
            Output::Sleep(at) => assert_eq!(at, deadline),
            output => panic!("a refused input produced {output:?}"),
        }
    }

    fn opened(&mut self) {
        self.socket = Socket::Open;
        self.replies.push_back(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#.to_owned());
    }

    fn gone(&mut self) {
        self.socket = Socket::None;
        self.replies.clear();
    }

    fn drain(&mut self) {
        for _ in 0..MAX_OUTPUTS_PER_DRAIN {
            let output = self.machine.poll_output();
            if let Output::Sleep(deadline) = output {
                return self.check_sleep(deadline);
            }
            assert!(!self.terminated, "output after the terminal event: {output:?}");
            self.check_output(&output);
            self.log.push(output);
        }
        let last = self.log.get(self.log.len().saturating_sub(12)..).unwrap_or_default();
        panic!("the machine did not settle within {MAX_OUTPUTS_PER_DRAIN} outputs; the last: {last:#?}");
    }

    fn check_sleep(&mut self, deadline: Option<Instant>) {
        if let Some(at) = deadline {
            assert!(at > self.now, "sleep until {at:?}, not after now {:?}", self.now);
        }
        match self.machine.poll_output() {
            Output::Sleep(again) => assert_eq!(again, deadline, "a second poll moved the deadline"),
            output => panic!("{output:?} after Sleep"),
        }
        let state = self.machine.state();
        if self.terminated {
            assert_eq!(state, State::Terminated);
            assert_eq!(deadline, None, "a deadline after the end");
            return;
        }
        assert_ne!(state, State::Terminated, "terminated without Fatal or Closed");
        let waits_for_adapter = matches!(state, State::Connecting | State::AwaitingToken | State::Closing);
        if self.options.liveness && self.now < LIVENESS_HORIZON {
            assert!(
                deadline.is_some() || waits_for_adapter,
                "no deadline in state {state:?}: stuck for ever"
            );
        }
    }

    fn check_output(&mut self, output: &Output) {
        let now = self.now;
        match output {
            Output::Connect(_) => {
                assert_eq!(self.socket, Socket::None, "Connect while a connection exists");
                self.socket = Socket::Connecting;
                self.hello_seen = false;
                self.auths = 0;
                self.replies.clear();
                if self.options.auto {
                    let result = self.machine.handle_input(now, Input::Connected);
                    assert_eq!(result, Ok(()), "Connected refused right after Connect");
                    self.opened();
                }
            }
            Output::Send(text) => {
                assert_eq!(self.socket, Socket::Open, "Send without an open connection: {text}");
                let op = serde_json::from_str::<Value>(text).ok().and_then(|v| v.get("op")?.as_u64());
                match op {
                    Some(1) => {
                        assert!(self.hello_seen, "a heartbeat before HELLO");
                        self.replies.push_back(r#"{"op":11}"#.to_owned());
                    }
                    Some(op @ (2 | 6)) => {
                        assert!(self.hello_seen, "IDENTIFY or RESUME before HELLO");
                        if op == 2 {
                            assert!(self.slot.is_some(), "an IDENTIFY without a slot from the pacer");
                        }
                        self.auths += 1;
                        assert_eq!(self.auths, 1, "a second IDENTIFY or RESUME on one connection");
                        if op == 2 {
                            self.last_seq = None;
                            let ready = self.ready_frame();
                            self.replies.push_back(ready);
                        } else {
                            let seq = self.next_seq();
                            self.replies.push_back(format!(r#"{{"op":0,"s":{seq},"t":"RESUMED","d":""}}"#));
                        }
                    }
                    _ => panic!("sent a frame that is not a heartbeat, IDENTIFY or RESUME: {text}"),
                }
            }
            Output::Close(frame) => {
                assert_eq!(self.socket, Socket::Open, "Close without an open connection");
                if self.options.defer_close {
                    self.socket = Socket::Closing;
                    self.replies.clear();
                } else {
                    let result = self.machine.handle_input(now, Input::Closed(Some(frame.clone())));
                    assert_eq!(result, Ok(()), "Closed refused right after Close");
                    self.gone();
                }
            }
            Output::Abandon => {
                assert!(
                    matches!(self.socket, Socket::Open | Socket::Closing),
                    "Abandon without an open connection"
                );
                self.gone();
            }
            Output::RefreshToken => {
                if self.options.auto {
                    let token = AccessToken::new("fuzz", now + AUTO_TOKEN_LIFETIME);
                    let result = self.machine.handle_input(now, Input::Token(token));
                    assert_eq!(result, Ok(()), "a token refused right after RefreshToken");
                }
            }
            Output::Pacer(request) => self.pace(*request),
            Output::Emit(event) => self.check_event(event),
            Output::Sleep(_) => {}
        }
    }

    fn pace(&mut self, request: PacerRequest) {
        let now = self.now;
        match request {
            PacerRequest::Acquire => {
                assert_eq!(self.slot, None, "a second slot asked for while one is held");
                assert_eq!(self.socket, Socket::None, "a slot asked for with a connection open");
                let answer = self.pacer.handle(self.machine.shard(), request, now);
                if let Some(crate::PacerAnswer::Granted(slot)) = answer {
                    self.slot = Some(slot);
                }
                if let Some(answer) = answer {
                    let result = self.machine.handle_input(now, Input::Pacer(answer));
                    assert_eq!(result, Ok(()), "the pacer's answer refused");
                }
            }
            PacerRequest::Sent(slot) | PacerRequest::Release(slot) => {
                assert_eq!(self.slot, Some(slot), "{request:?} of a slot not held");
                self.slot = None;
                self.pacer.handle(self.machine.shard(), request, now);
            }
        }
    }

    fn check_event(&mut self, event: &Event) {
        match event {
            Event::Dispatch(d) => {
                // The RESUME point never moves back within a session (READY starts one).
                let resume_point = self.machine.last_sequence();
                if d.name() != "READY" {
                    if let (Some(before), Some(after)) = (self.last_seq, resume_point) {
                        assert!(after >= before, "the resume point moved back from {before} to {after}");
                    }
                }
                self.last_seq = resume_point;
                if let (Some(id), false) = (d.id(), matches!(d.name(), "READY" | "RESUMED")) {
                    assert!(!self.delivered_ids.iter().any(|seen| seen == id), "event {id} delivered twice");
                    if self.delivered_ids.len() == RECENT_IDS_CHECKED {
                        self.delivered_ids.pop_front();
                    }
                    self.delivered_ids.push_back(id.to_owned());
                }
            }
            Event::Disconnected(disconnect) => {
                assert_eq!(self.socket, Socket::None, "Disconnected with a connection: {disconnect:?}");
                assert!(disconnect.at >= self.now, "a reconnect in the past: {disconnect:?}");
            }
            Event::DecodeFailed(_) | Event::TokenRefreshFailed(_) | Event::SessionLost(_) => {}
            Event::Fatal(_) => {
                assert_eq!(self.slot, None, "the machine ended holding an IDENTIFY slot");
                self.terminated = true;
            }
            Event::Closed(session) => {
                assert_eq!(session, &self.machine.session(), "Closed carries another session");
                assert_eq!(self.slot, None, "the machine ended holding an IDENTIFY slot");
                self.terminated = true;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Connected,
    ConnectFailed,
    Closed,
    Frame,
    Token,
}

fn input_kind(input: &Input<'_>) -> InputKind {
    match input {
        Input::Connected => InputKind::Connected,
        Input::ConnectFailed => InputKind::ConnectFailed,
        Input::Closed(_) => InputKind::Closed,
        Input::Text(_) | Input::Binary(_) => InputKind::Frame,
        _ => InputKind::Token,
    }
}

/// Whether a frame is HELLO, read independently of the machine's own parser.
fn is_hello(input: &Input<'_>) -> bool {
    let text = match input {
        Input::Text(text) => *text,
        Input::Binary(bytes) => match core::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => return false,
        },
        _ => return false,
    };
    /// Like the machine, skip the other keys without checking what a `Value` could not
    /// hold (`1E999`, a lone surrogate): they do not make a frame any less a HELLO.
    #[derive(serde::Deserialize)]
    struct Op {
        op: u64,
    }
    let object = text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{');
    object && serde_json::from_str::<Op>(text).is_ok_and(|f| f.op == 10)
}

/// The first byte of a [`machine`] input: how to configure the machine and play the adapter.
pub mod flags {
    /// [`Options::auto`](super::Options::auto).
    pub const AUTO: u8 = 1;
    /// [`Options::defer_close`](super::Options::defer_close).
    pub const DEFER_CLOSE: u8 = 2;
    /// Start with a session to RESUME (seq = the seed byte).
    pub const RESTORED_SESSION: u8 = 4;
    /// No reconnect jitter.
    pub const NO_JITTER: u8 = 8;
    /// A handshake timeout of 10 ms × the seed byte (zero included).
    pub const SHORT_HANDSHAKE: u8 = 16;
    /// A tight identify limiter: one IDENTIFY per window, one left until a reset in 60 s.
    pub const TIGHT_LIMITER: u8 = 32;
    /// The backoff, from the top two bits: default, zero, 1–10 ms, or the longest there is.
    pub const BACKOFF_SHIFT: u8 = 6;
}

/// The step opcodes of a [`machine`] input (one byte each, taken modulo [`op::COUNT`]).
pub mod op {
    /// Tick by a byte of milliseconds.
    pub const TICK_SMALL: u8 = 0;
    /// Tick by 16 × a little-endian `u16` of milliseconds.
    pub const TICK_MEDIUM: u8 = 1;
    /// Tick by a little-endian `u32` of milliseconds.
    pub const TICK_LARGE: u8 = 2;
    /// Tick by a little-endian `u64` of milliseconds (saturating).
    pub const TICK_ANY: u8 = 3;
    /// Move the clock to the machine's next deadline.
    pub const WAKE: u8 = 4;
    /// Report `Connected`.
    pub const CONNECTED: u8 = 5;
    /// Report `ConnectFailed`.
    pub const CONNECT_FAILED: u8 = 6;
    /// Report `Closed(None)`.
    pub const DROPPED: u8 = 7;
    /// Report `Closed(Some(code))`: a byte picks one of 24 codes of QQ's table, or (≥ 24)
    /// the next little-endian `u16` is the code.
    pub const CLOSED: u8 = 8;
    /// Report a token; a byte picks its lifetime.
    pub const TOKEN: u8 = 9;
    /// Report a token failure; a byte's low bit says whether it is a rejection.
    pub const TOKEN_FAILED: u8 = 10;
    /// `close()`.
    pub const CLOSE: u8 = 11;
    /// The next answer a well-behaved QQ owes.
    pub const REPLY: u8 = 12;
    /// A valid server frame from a template (see [`TEMPLATES`](super::TEMPLATES)).
    pub const FRAME: u8 = 13;
    /// A template frame with byte mutations.
    pub const MUTATED: u8 = 14;
    /// Raw text: a little-endian `u16` length, then the bytes (binary if not UTF-8).
    pub const TEXT: u8 = 15;
    /// A binary frame: a byte length, then the bytes.
    pub const BINARY: u8 = 16;
    /// How many opcodes there are.
    pub const COUNT: u8 = 17;
}

/// How many server frame templates [`op::FRAME`] picks from.
pub const TEMPLATES: u8 = 12;

/// Close codes worth picking often. Part of the fuzz input format, not of the close-code
/// table: the committed seeds and regressions pick by index, so this list keeps its order.
const CODES: [u16; 24] = [
    1000, 1001, 1006, 1011, 4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 4009, 4010, 4011, 4012,
    4013, 4014, 4900, 4913, 4914, 4915, 4999,
];

/// Arbitrary bytes as a decoding source; reads past the end give zeros.
#[derive(Debug)]
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u8(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

/// Drives a machine with the steps decoded from `data` (see [`flags`] and [`op`]),
/// checking the [`Driver`]'s invariants after every step.
///
/// # Panics
///
/// When the machine breaks an invariant.
pub fn machine(data: &[u8]) {
    drop(run_machine(data));
}

/// [`machine`], returning the driver at the end for a closer look.
///
/// # Panics
///
/// When the machine breaks an invariant.
pub fn run_machine(data: &[u8]) -> Driver {
    let mut c = Cursor(data);
    let flags = c.u8();
    let seed = c.u8();
    let endless_backoff = flags >> flags::BACKOFF_SHIFT == 3;
    let options = Options {
        auto: flags & flags::AUTO != 0,
        defer_close: flags & flags::DEFER_CLOSE != 0,
        liveness: !endless_backoff,
    };
    let mut builder = Config::builder("wss://fuzz/", Intents::non_privileged()).seed(u64::from(seed));
    if flags & flags::RESTORED_SESSION != 0 {
        builder = builder.session(Session::new("restored", u64::from(seed), ShardId::ONE));
    }
    if flags & flags::NO_JITTER != 0 {
        builder = builder.reconnect_jitter(Duration::ZERO);
    }
    if flags & flags::SHORT_HANDSHAKE != 0 {
        builder = builder.handshake_timeout(Duration::from_millis(10 * u64::from(seed)));
    }
    let mut limit = SessionStartLimit::default();
    if flags & flags::TIGHT_LIMITER != 0 {
        limit = SessionStartLimit { total: 2, remaining: 1, reset_after: 60_000, max_concurrency: 1 };
    }
    let ms = Duration::from_millis;
    builder = builder.backoff(match flags >> flags::BACKOFF_SHIFT {
        0 => Backoff::default(),
        1 => Backoff { initial: Duration::ZERO, max: Duration::ZERO },
        2 => Backoff { initial: ms(1), max: ms(10) },
        _ => Backoff { initial: Duration::MAX, max: Duration::MAX },
    });
    let Ok(config) = builder.build() else { panic!("the fuzz config is valid") };
    let mut driver =
        Driver::with_pacer(config, Instant::ZERO, options, IdentifyLimiter::new(limit, Instant::ZERO));

    for _ in 0..MAX_STEPS {
        let Some(step) = c.next() else { break };
        // Refusals are checked by the driver; whether one happens is the input's business.
        let _ = match step % op::COUNT {
            op::TICK_SMALL => ticked(driver.tick(ms(u64::from(c.u8())))),
            op::TICK_MEDIUM => ticked(driver.tick(ms(16 * u64::from(c.u16())))),
            op::TICK_LARGE => ticked(driver.tick(ms(u64::from(c.u32())))),
            op::TICK_ANY => ticked(driver.tick(ms(c.u64()))),
            op::WAKE => ticked(driver.wake()),
            op::CONNECTED => driver.input(Input::Connected),
            op::CONNECT_FAILED => driver.input(Input::ConnectFailed),
            op::DROPPED => driver.input(Input::Closed(None)),
            op::CLOSED => {
                let pick = c.u8();
                let code = match CODES.get(usize::from(pick)) {
                    Some(&code) => code,
                    None => c.u16(),
                };
                let code = CloseCode(code);
                driver.input(Input::Closed(Some(CloseFrame::new(code, code.description()))))
            }
            op::TOKEN => {
                let lifetime = match c.u8() % 6 {
                    0 => Duration::ZERO,
                    1 => Duration::from_secs(30),
                    2 => Duration::from_secs(61),
                    3 => Duration::from_secs(7200),
                    4 => ms(u64::from(c.u32())),
                    _ => Duration::MAX,
                };
                let now = driver.now();
                driver.input(Input::Token(AccessToken::new("fuzz", now + lifetime)))
            }
            op::TOKEN_FAILED => {
                let error = if c.u8() & 1 == 0 {
                    TokenError::Unavailable("503".into())
                } else {
                    TokenError::Rejected { code: 100_016, message: "invalid appid or secret".into() }
                };
                driver.input(Input::TokenFailed(error))
            }
            op::CLOSE => driver.close(),
            op::REPLY => driver.reply().unwrap_or(Ok(())),
            op::FRAME => {
                let text = template(&mut driver, &mut c);
                driver.input(Input::Text(&text))
            }
            op::MUTATED => {
                let mut bytes = template(&mut driver, &mut c).into_bytes();
                for _ in 0..=c.u8() % 4 {
                    mutate(&mut bytes, &mut c);
                }
                frame_input(&mut driver, &bytes)
            }
            op::TEXT => {
                let len = usize::from(c.u16());
                let bytes = c.take(len);
                frame_input(&mut driver, bytes)
            }
            _ => {
                let len = usize::from(c.u8());
                let bytes = c.take(len);
                driver.input(Input::Binary(bytes))
            }
        };
        driver.take_log();
    }
    driver
}

/// A step that cannot be refused.
fn ticked<T>(_: T) -> Result<(), UsageError> {
    Ok(())
}

fn frame_input(driver: &mut Driver, bytes: &[u8]) -> Result<(), UsageError> {
    match core::str::from_utf8(bytes) {
        Ok(text) => driver.input(Input::Text(text)),
        Err(_) => driver.input(Input::Binary(bytes)),
    }
}

/// A byte-level change: truncate, overwrite, insert or delete at a position.
fn mutate(bytes: &mut Vec<u8>, c: &mut Cursor<'_>) {
    let kind = c.u8();
    let at = c.u16();
    let byte = c.u8();
    crate::mutate::edit(bytes, kind, at, byte);
}

/// A sequence number as the server might send it: the next one, a repeat, an older one,
/// none, a small one, or any.
fn seq(driver: &mut Driver, c: &mut Cursor<'_>) -> Option<u64> {
    match c.u8() % 6 {
        0 => Some(driver.next_seq()),
        1 => Some(driver.server_seq()),
        2 => Some(driver.server_seq().saturating_sub(u64::from(c.u8() % 8))),
        3 => None,
        4 => Some(u64::from(c.u8())),
        _ => Some(c.u64()),
    }
}

fn json_seq(seq: Option<u64>) -> String {
    seq.map_or_else(|| "null".to_owned(), |s| s.to_string())
}

/// A well-formed frame QQ might send (see [`TEMPLATES`]).
fn template(driver: &mut Driver, c: &mut Cursor<'_>) -> String {
    match c.u8() % TEMPLATES {
        0 => {
            let interval = match c.u8() % 4 {
                0 => c.u32().to_string(),
                1 => c.u64().to_string(),
                2 => "0".to_owned(),
                _ => r#""45000""#.to_owned(),
            };
            format!(r#"{{"op":10,"d":{{"heartbeat_interval":{interval}}}}}"#)
        }
        1 => r#"{"op":11}"#.to_owned(),
        2 => r#"{"op":1,"d":null}"#.to_owned(),
        3 => r#"{"op":7}"#.to_owned(),
        4 => format!(r#"{{"op":9,"d":{}}}"#, c.u8() & 1 == 0),
        5 => driver.ready_frame(),
        6 => {
            let s = json_seq(seq(driver, c));
            format!(r#"{{"op":0,"s":{s},"t":"READY","d":{{"session_id":"s{}"}}}}"#, c.u8() % 4)
        }
        7 => format!(r#"{{"op":0,"s":{},"t":"RESUMED","d":""}}"#, json_seq(seq(driver, c))),
        8 | 9 => {
            let s = json_seq(seq(driver, c));
            let name = event_name(c.u8());
            let id = match c.u8() % 4 {
                0 => "null".to_owned(),
                1 => format!(r#""{name}:{}""#, c.u8() % 8),
                _ => format!(r#""{name}:{}""#, driver.server_seq()),
            };
            format!(r#"{{"op":0,"s":{s},"t":"{name}","id":{id},"d":{{"content":"hi","id":"m1"}}}}"#)
        }
        10 => {
            // Incomplete dispatches: no name, no data, null data.
            let s = json_seq(seq(driver, c));
            match c.u8() % 3 {
                0 => format!(r#"{{"op":0,"s":{s},"d":{{}}}}"#),
                1 => format!(r#"{{"op":0,"s":{s},"t":"AT_MESSAGE_CREATE"}}"#),
                _ => format!(r#"{{"op":0,"s":{s},"t":"AT_MESSAGE_CREATE","d":null}}"#),
            }
        }
        _ => format!(r#"{{"op":{},"d":{{}}}}"#, c.u8()),
    }
}

/// Builds [`machine`] inputs step by step, for seeds and regression tests.
#[derive(Debug, Clone)]
pub struct Script(Vec<u8>);

impl Script {
    /// A script starting with the [`flags`] byte and the seed byte.
    #[must_use]
    pub fn new(flags: u8, seed: u8) -> Self {
        Self(vec![flags, seed])
    }

    /// Appends one step opcode and its argument bytes.
    #[must_use]
    pub fn step(mut self, op: u8, args: &[u8]) -> Self {
        self.0.push(op);
        self.0.extend_from_slice(args);
        self
    }

    /// Ticks by `ms` milliseconds.
    #[must_use]
    pub fn tick(self, ms: u32) -> Self {
        self.step(op::TICK_LARGE, &ms.to_le_bytes())
    }

    /// A raw text frame (cut at 65 535 bytes).
    #[must_use]
    pub fn text(self, text: &str) -> Self {
        let bytes = text.as_bytes();
        let bytes = bytes.get(..usize::from(u16::MAX)).unwrap_or(bytes);
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        self.step(op::TEXT, &len.to_le_bytes()).step_bytes(bytes)
    }

    /// Replies `n` times.
    #[must_use]
    pub fn replies(mut self, n: usize) -> Self {
        for _ in 0..n {
            self = self.step(op::REPLY, &[]);
        }
        self
    }

    fn step_bytes(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    /// The input bytes.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

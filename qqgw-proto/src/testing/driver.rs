//! [`Driver`]: a machine played by a strict adapter on a virtual clock, its invariants
//! checked after every step. The `machine` fuzz target, the property tests and the
//! model-based test all drive the machine through it.

use std::collections::VecDeque;

use core::time::Duration;
use serde_json::Value;

use super::frames;
use super::strategy::Step;
use crate::config::Config;
use crate::limiter::{IdentifyLimiter, IdentifySlot, PacerAnswer, PacerRequest, SessionStartLimit};
use crate::opcode::OpCode;
use crate::time::Instant;
use crate::token::AccessToken;
use crate::{Event, GatewayMachine, Input, Output, State, UsageError};

/// The most outputs one drain may yield before the machine counts as not settling.
pub const MAX_OUTPUTS_PER_DRAIN: usize = 1_000;
/// How long a token the [`Driver`] hands out on its own lives.
pub const AUTO_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How many of the last delivered event ids the driver checks for repeats (fewer than
/// the machine remembers, so that every repeat it sees is one the machine should drop).
const RECENT_IDS_CHECKED: usize = 512;

/// How a [`Driver`] plays the adapter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverOptions {
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
/// The driver plays the adapter (it follows the drain contract and, per [`DriverOptions`],
/// answers the machine's requests itself) and keeps a queue of the answers a well-behaved
/// QQ would give (HELLO after a connection opens, READY after IDENTIFY, RESUMED after
/// RESUME, an ACK after a heartbeat) for [`reply`](Self::reply).
///
/// Checked after every step:
///
/// - every `Sleep` deadline is later than now, polling again gives the same `Sleep`, and
///   (with [`DriverOptions::liveness`]) only while waiting for the adapter (connecting,
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
    options: DriverOptions,
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
    pub fn new(config: Config, now: Instant, options: DriverOptions) -> Self {
        Self::with_pacer(config, now, options, IdentifyLimiter::new(SessionStartLimit::default(), now))
    }

    /// A machine for `config` started at `now`, drained once, its IDENTIFYs paced by
    /// `pacer`.
    pub fn with_pacer(config: Config, now: Instant, options: DriverOptions, pacer: IdentifyLimiter) -> Self {
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

    /// Applies `step`: the clock moves, an input is told, the machine is closed, or the
    /// answer QQ owes is delivered; then drains.
    ///
    /// # Errors
    ///
    /// The machine's refusal, after checking that it changed nothing.
    pub fn step(&mut self, step: &Step) -> Result<(), UsageError> {
        match step {
            Step::Tick(by) => {
                self.tick(*by);
                Ok(())
            }
            Step::Wake => {
                self.wake();
                Ok(())
            }
            Step::Close => self.close(),
            Step::Reply => self.reply().unwrap_or(Ok(())),
            step => match step.input(self.now) {
                Some(input) => self.input(input),
                None => Ok(()),
            },
        }
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
        frames::ready(&format!("fuzz-{}", self.sessions), Some(1))
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
        self.replies.push_back(frames::hello(crate::DEFAULT_HEARTBEAT_INTERVAL.as_millis()));
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
                match op.and_then(OpCode::from_u64) {
                    Some(OpCode::Heartbeat) => {
                        assert!(self.hello_seen, "a heartbeat before HELLO");
                        self.replies.push_back(frames::heartbeat_ack());
                    }
                    Some(op @ (OpCode::Identify | OpCode::Resume)) => {
                        assert!(self.hello_seen, "IDENTIFY or RESUME before HELLO");
                        self.auths += 1;
                        assert_eq!(self.auths, 1, "a second IDENTIFY or RESUME on one connection");
                        if op == OpCode::Identify {
                            assert!(self.slot.is_some(), "an IDENTIFY without a slot from the pacer");
                            self.last_seq = None;
                            let ready = self.ready_frame();
                            self.replies.push_back(ready);
                        } else {
                            let seq = self.next_seq();
                            self.replies.push_back(frames::resumed(Some(seq)));
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
                if let Some(PacerAnswer::Granted(slot)) = answer {
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
    object && serde_json::from_str::<Op>(text).is_ok_and(|f| OpCode::from_u64(f.op) == Some(OpCode::Hello))
}

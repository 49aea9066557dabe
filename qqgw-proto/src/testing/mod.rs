//! A scripted, in-memory fake QQ gateway and a virtual-clock harness (feature `testing`).
//!
//! [`Harness`] runs a [`GatewayMachine`] against a [`FakeGateway`] with no sockets and
//! no sleeps: time is a number the harness moves forward to the machine's next deadline.
//! The fake answers like QQ — HELLO, READY for IDENTIFY, replay and RESUMED for RESUME,
//! ACKs for heartbeats — and can be told to misbehave: close with any code, ask for a
//! reconnect, invalidate the session, stop acknowledging heartbeats, send garbage, refuse
//! connections or tokens. It records what the client did, for assertions.
//!
//! # Examples
//!
//! ```
//! use core::time::Duration;
//! use qqgw_proto::testing::Harness;
//! use qqgw_proto::{CloseCode, Config, Intents};
//!
//! let config = Config::builder("wss://fake/", Intents::non_privileged()).reconnect_jitter(Duration::ZERO).build().unwrap();
//! let mut h = Harness::new(config);
//! h.run_for(Duration::from_secs(1));
//! assert!(h.machine.is_ready());
//!
//! h.gateway.dispatch("AT_MESSAGE_CREATE", r#"{"content":"hi"}"#);
//! h.gateway.close(CloseCode::SESSION_TIMED_OUT); // QQ rotates the session
//! h.gateway.dispatch("AT_MESSAGE_CREATE", r#"{"content":"missed"}"#); // sent while down: replayed
//! h.run_for(Duration::from_secs(1));
//!
//! assert_eq!(h.gateway.record.resumes.len(), 1);
//! assert_eq!(h.dispatch_names(), ["READY", "AT_MESSAGE_CREATE", "AT_MESSAGE_CREATE", "RESUMED"]);
//! ```
//!
//! [`sim`] runs a whole bot — many shards, the identify pacer, the token cache, a consumer
//! with acknowledgements and a session store — against a simulated QQ for simulated days,
//! with faults from a seeded schedule, and checks its invariants throughout.
//!
//! The harness is test code: it panics, failing the test, when the machine refuses its
//! input, asks to wake in the past, or never settles.
#![allow(clippy::panic)]

mod driver;
pub mod frames;
pub mod sim;
pub mod strategy;

pub use driver::{AUTO_TOKEN_LIFETIME, Driver, DriverOptions, LIVENESS_HORIZON, MAX_OUTPUTS_PER_DRAIN};

use std::collections::VecDeque;

use core::time::Duration;
use serde::Deserialize;

use crate::close::{CloseCode, CloseFrame};
use crate::config::Config;
use crate::error::TokenError;
use crate::limiter::{IdentifyLimiter, SessionStartLimit};
use crate::opcode::OpCode;
use crate::time::Instant;
use crate::token::AccessToken;
use crate::{Event, GatewayMachine, Input, Output};

/// How the harness answers [`Output::RefreshToken`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPolicy {
    /// A new token valid for this long.
    Valid(Duration),
    /// [`TokenError::Unavailable`].
    Unavailable,
    /// [`TokenError::Rejected`] with code 100016.
    Rejected,
}

/// Something the fake gateway sends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ServerMsg {
    Text(String),
    Close(CloseFrame<'static>),
    Drop,
}

/// What the client did, as the fake gateway saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// When each connection was opened (accepted or refused).
    pub connects: Vec<Instant>,
    /// When each IDENTIFY arrived, with its `d` as JSON text.
    pub identifies: Vec<(Instant, String)>,
    /// When each RESUME arrived, with its session id and seq.
    pub resumes: Vec<(Instant, String, u64)>,
    /// When each heartbeat arrived, with its `d`.
    pub heartbeats: Vec<(Instant, Option<u64>)>,
    /// The close frames the client sent.
    pub client_closes: Vec<CloseFrame<'static>>,
    /// When the client dropped a connection without a close handshake.
    pub abandoned: Vec<Instant>,
    /// Tokens handed out.
    pub tokens: u32,
    /// Frames from the client that the fake could not read.
    pub bad_frames: Vec<String>,
}

/// An in-memory QQ gateway. Scripted with its methods; inspected through [`FakeGateway::record`].
#[derive(Debug)]
pub struct FakeGateway {
    /// The interval sent in HELLO. Default: 45 s.
    pub heartbeat_interval: Duration,
    /// Whether heartbeats are acknowledged. Default: true.
    pub ack_heartbeats: bool,
    /// How tokens are answered. Default: valid for 7200 s.
    pub token_policy: TokenPolicy,
    /// Connection attempts still to refuse. Default: 0.
    pub refuse_connects: u32,
    /// RESUMEs still to refuse. Default: 0.
    pub refuse_resumes: u32,
    /// How RESUMEs are refused: closed with this code, or with op 9 `false` if `None`.
    /// Default: `None`.
    pub refuse_resumes_with: Option<CloseCode>,
    /// RESUMEs still to leave unanswered (no replay, no RESUMED). Default: 0.
    pub ignore_resumes: u32,
    /// What the client did.
    pub record: Record,
    connected: bool,
    sessions: u32,
    session_id: Option<String>,
    seq: u64,
    /// Dispatches of the current session, for replay.
    history: Vec<(u64, String)>,
    to_client: VecDeque<ServerMsg>,
}

impl Default for FakeGateway {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(45),
            ack_heartbeats: true,
            token_policy: TokenPolicy::Valid(Duration::from_secs(7200)),
            refuse_connects: 0,
            refuse_resumes: 0,
            refuse_resumes_with: None,
            ignore_resumes: 0,
            record: Record::default(),
            connected: false,
            sessions: 0,
            session_id: None,
            seq: 0,
            history: Vec::new(),
            to_client: VecDeque::new(),
        }
    }
}

impl FakeGateway {
    /// Whether a client connection is open.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// The current session's id.
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The last sequence number used.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Sends an event with the next sequence number and an id `"{name}:{seq}"`. While no
    /// connection is open it is only kept for replay after a RESUME.
    pub fn dispatch(&mut self, name: &str, data: &str) -> u64 {
        self.seq += 1;
        let frame = frames::dispatch(name, Some(self.seq), Some(&format!("{name}:{}", self.seq)), data);
        self.history.push((self.seq, frame.clone()));
        if self.connected {
            self.to_client.push_back(ServerMsg::Text(frame));
        }
        self.seq
    }

    /// Sends a frame as it is (garbage included), if connected.
    pub fn send_raw(&mut self, text: impl Into<String>) {
        if self.connected {
            self.to_client.push_back(ServerMsg::Text(text.into()));
        }
    }

    /// Closes the connection with `code`, if connected.
    pub fn close(&mut self, code: CloseCode) {
        if self.connected {
            self.to_client.push_back(ServerMsg::Close(CloseFrame::new(code, code.description())));
        }
    }

    /// Drops the connection without a close frame, if connected.
    pub fn drop_connection(&mut self) {
        if self.connected {
            self.to_client.push_back(ServerMsg::Drop);
        }
    }

    /// Sends op 7, asking the client to reconnect.
    pub fn request_reconnect(&mut self) {
        self.send_raw(frames::reconnect());
    }

    /// Sends op 9 with `d = resumable`; a non-resumable one ends the session server-side.
    pub fn invalidate_session(&mut self, resumable: bool) {
        if !resumable {
            self.session_id = None;
        }
        self.send_raw(frames::invalid_session(resumable));
    }

    fn on_connect(&mut self, now: Instant) -> bool {
        self.record.connects.push(now);
        if self.refuse_connects > 0 {
            self.refuse_connects -= 1;
            return false;
        }
        self.connected = true;
        self.to_client.clear();
        let hello = frames::hello(self.heartbeat_interval.as_millis());
        self.to_client.push_back(ServerMsg::Text(hello));
        true
    }

    fn on_disconnect(&mut self) {
        self.connected = false;
        self.to_client.clear();
    }

    fn on_client_frame(&mut self, now: Instant, text: &str) {
        #[derive(Deserialize)]
        struct Frame<'a> {
            op: u64,
            #[serde(borrow)]
            d: Option<&'a serde_json::value::RawValue>,
        }
        #[derive(Deserialize)]
        struct Resume {
            session_id: String,
            seq: u64,
        }
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(text) else {
            self.record.bad_frames.push(text.to_owned());
            return;
        };
        let d = frame.d.map_or("null", serde_json::value::RawValue::get);
        match OpCode::from_u64(frame.op) {
            Some(OpCode::Heartbeat) => {
                self.record.heartbeats.push((now, serde_json::from_str(d).ok().flatten()));
                if self.ack_heartbeats {
                    self.to_client.push_back(ServerMsg::Text(frames::heartbeat_ack()));
                }
            }
            Some(OpCode::Identify) => {
                self.record.identifies.push((now, d.to_owned()));
                self.sessions += 1;
                let id = format!("session-{}", self.sessions);
                self.session_id = Some(id.clone());
                self.seq = 1;
                self.history.clear();
                self.to_client.push_back(ServerMsg::Text(frames::ready(&id, Some(1))));
            }
            Some(OpCode::Resume) => match serde_json::from_str::<Resume>(d) {
                Ok(resume) => {
                    self.record.resumes.push((now, resume.session_id.clone(), resume.seq));
                    let valid = self.session_id.as_deref() == Some(resume.session_id.as_str());
                    if self.ignore_resumes > 0 {
                        self.ignore_resumes -= 1;
                        return;
                    }
                    if valid && self.refuse_resumes > 0 {
                        if let Some(code) = self.refuse_resumes_with {
                            self.refuse_resumes -= 1;
                            self.to_client.push_back(ServerMsg::Close(CloseFrame::new(code, "refused")));
                            return;
                        }
                    }
                    if !valid || self.refuse_resumes > 0 {
                        self.refuse_resumes = self.refuse_resumes.saturating_sub(1);
                        self.session_id = None;
                        self.to_client.push_back(ServerMsg::Text(frames::invalid_session(false)));
                        return;
                    }
                    for (seq, frame) in &self.history {
                        if *seq > resume.seq {
                            self.to_client.push_back(ServerMsg::Text(frame.clone()));
                        }
                    }
                    self.seq += 1;
                    self.to_client.push_back(ServerMsg::Text(frames::resumed(Some(self.seq))));
                }
                Err(_) => self.record.bad_frames.push(text.to_owned()),
            },
            _ => self.record.bad_frames.push(text.to_owned()),
        }
    }
}

/// A [`GatewayMachine`] wired to a [`FakeGateway`] on a virtual clock.
#[derive(Debug)]
pub struct Harness {
    /// The machine under test.
    pub machine: GatewayMachine,
    /// The fake QQ gateway.
    pub gateway: FakeGateway,
    /// The virtual clock.
    pub now: Instant,
    /// Every event emitted, with the instant it was.
    pub events: Vec<(Instant, Event)>,
    /// The identify pacer that answers the machine's [`Output::Pacer`]: by default one
    /// of its own with [`SessionStartLimit::default`]; see [`with_pacer`](Self::with_pacer).
    pub pacer: IdentifyLimiter,
}

impl Harness {
    /// A machine for `config` started at [`Instant::ZERO`] against a default [`FakeGateway`].
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self::with_gateway(config, FakeGateway::default())
    }

    /// A machine for `config` against `gateway`.
    #[must_use]
    pub fn with_gateway(config: Config, gateway: FakeGateway) -> Self {
        let now = Instant::ZERO;
        let pacer = IdentifyLimiter::new(SessionStartLimit::default(), now);
        Self { machine: GatewayMachine::new(config, now), gateway, now, events: Vec::new(), pacer }
    }

    /// Answers the machine's IDENTIFY pacing from `pacer`, e.g. one shared by the
    /// harnesses of several shards.
    #[must_use]
    pub fn with_pacer(mut self, pacer: IdentifyLimiter) -> Self {
        self.pacer = pacer;
        self
    }

    /// Runs until the virtual clock reaches `until`: every frame is delivered and every
    /// deadline before `until` fires, in order. Stops early if the machine stops for good.
    ///
    /// # Panics
    ///
    /// If the machine refuses an input, asks to wake before now, or does not settle.
    pub fn run_until(&mut self, until: Instant) {
        // A machine that asks for a wake-up in the past, or never stops sending, is a bug:
        // the bound turns it into a failed test instead of a hang.
        for _ in 0..1_000_000 {
            let deadline = self.drain();
            if let Some(msg) = self.gateway.to_client.pop_front() {
                self.deliver(msg);
                continue;
            }
            match deadline {
                Some(at) if at <= until => {
                    assert!(
                        at > self.now,
                        "the machine asked to wake at {at:?}, not after now {:?}",
                        self.now
                    );
                    self.now = at;
                    self.machine.handle_timeout(at);
                }
                _ => {
                    self.now = self.now.max(until);
                    self.machine.handle_timeout(self.now);
                    self.drain();
                    if self.gateway.to_client.is_empty() {
                        return;
                    }
                }
            }
        }
        panic!("the harness did not settle by {until:?}");
    }

    /// Runs for `duration` of virtual time.
    pub fn run_for(&mut self, duration: Duration) {
        self.run_until(self.now + duration);
    }

    /// The names of the dispatches emitted so far.
    #[must_use]
    pub fn dispatch_names(&self) -> Vec<&str> {
        self.dispatches().map(crate::Dispatch::name).collect()
    }

    /// The dispatches emitted so far.
    pub fn dispatches(&self) -> impl Iterator<Item = &crate::Dispatch> {
        self.events.iter().filter_map(|(_, e)| match e {
            Event::Dispatch(d) => Some(d),
            _ => None,
        })
    }

    /// Drains the machine, acting on each output; returns the deadline of the final Sleep.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            let now = self.now;
            let result = match self.machine.poll_output() {
                Output::Sleep(deadline) => return deadline,
                Output::Emit(event) => {
                    self.events.push((now, event));
                    Ok(())
                }
                Output::RefreshToken => {
                    let input = match &self.gateway.token_policy {
                        TokenPolicy::Valid(lifetime) => {
                            self.gateway.record.tokens += 1;
                            let value = format!("token-{}", self.gateway.record.tokens);
                            Input::Token(AccessToken::new(value, now + *lifetime))
                        }
                        TokenPolicy::Unavailable => Input::TokenFailed(TokenError::Unavailable("503".into())),
                        TokenPolicy::Rejected => Input::TokenFailed(TokenError::Rejected {
                            code: 100_016,
                            message: "invalid appid or secret".into(),
                        }),
                    };
                    self.machine.handle_input(now, input)
                }
                Output::Pacer(request) => match self.pacer.handle(self.machine.shard(), request, now) {
                    Some(answer) => self.machine.handle_input(now, Input::Pacer(answer)),
                    None => Ok(()),
                },
                Output::Connect(_) => {
                    let input =
                        if self.gateway.on_connect(now) { Input::Connected } else { Input::ConnectFailed };
                    self.machine.handle_input(now, input)
                }
                Output::Send(text) => {
                    if self.gateway.connected {
                        self.gateway.on_client_frame(now, &text);
                    }
                    Ok(())
                }
                Output::Close(frame) => {
                    self.gateway.record.client_closes.push(frame.clone());
                    self.gateway.on_disconnect();
                    self.machine.handle_input(now, Input::Closed(Some(frame)))
                }
                Output::Abandon => {
                    self.gateway.record.abandoned.push(now);
                    self.gateway.on_disconnect();
                    Ok(())
                }
            };
            if let Err(error) = result {
                panic!("the machine refused the harness's input: {error}");
            }
        }
    }

    fn deliver(&mut self, msg: ServerMsg) {
        let now = self.now;
        let result = match msg {
            ServerMsg::Text(text) => self.machine.handle_input(now, Input::Text(&text)),
            ServerMsg::Close(frame) => {
                self.gateway.on_disconnect();
                self.machine.handle_input(now, Input::Closed(Some(frame)))
            }
            ServerMsg::Drop => {
                self.gateway.on_disconnect();
                self.machine.handle_input(now, Input::Closed(None))
            }
        };
        if let Err(error) = result {
            panic!("the machine refused a frame of the fake gateway: {error}");
        }
    }
}

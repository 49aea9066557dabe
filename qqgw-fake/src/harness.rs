//! A fake QQ gateway in memory, over the model of QQ, and a virtual-clock harness that
//! runs a [`GatewayMachine`] against it.

use std::collections::VecDeque;

use core::time::Duration;
use qqgw_proto::{
    AccessToken, CloseCode, CloseFrame, Config, Event, GatewayMachine, IdentifyLimiter, Input, Instant,
    Output, SessionStartLimit, TokenError,
};
use serde::Deserialize;

use crate::config::QqConfig;
use crate::output::{ConnId, Note, Output as QqOutput};
use crate::qq::{Qq, Refusal, Target};

/// How the fake answers the machine's [`Output::RefreshToken`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPolicy {
    /// QQ's token endpoint, issuing tokens that live this long (the current one again
    /// until its last 60 s).
    Valid(Duration),
    /// The endpoint fails: [`TokenError::Unavailable`].
    Unavailable,
    /// The credentials are refused: [`TokenError::Rejected`] with 100016.
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
    /// Token requests answered.
    pub tokens: u32,
    /// Frames from the client a correct client never sends.
    pub bad_frames: Vec<String>,
    /// The id of every session QQ started (READY sent), in order.
    pub sessions: Vec<String>,
}

/// An in-memory QQ gateway for one shard: the model of QQ ([`Qq`]) with the frames it
/// sends queued for the [`Harness`] to deliver, scripted with its methods and fields, and
/// inspected through [`record`](Self::record).
#[derive(Debug)]
pub struct FakeGateway {
    /// The interval sent in HELLO. Default: 45 s, QQ's.
    pub heartbeat_interval: Duration,
    /// Whether heartbeats are acknowledged. Default: true.
    pub ack_heartbeats: bool,
    /// How tokens are answered. Default: valid for 7200 s, QQ's lifetime.
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
    qq: Qq,
    conn: Option<ConnId>,
    /// The shard the client authenticated as (0 until then).
    shard: u32,
    to_client: VecDeque<ServerMsg>,
}

impl Default for FakeGateway {
    fn default() -> Self {
        Self::new(QqConfig::default())
    }
}

impl FakeGateway {
    /// A fake gateway of QQ as `config` describes it (QQ's documented values by default,
    /// one shard).
    #[must_use]
    pub fn new(config: QqConfig) -> Self {
        Self {
            heartbeat_interval: config.heartbeat_interval,
            ack_heartbeats: true,
            token_policy: TokenPolicy::Valid(config.token_lifetime),
            refuse_connects: 0,
            refuse_resumes: 0,
            refuse_resumes_with: None,
            ignore_resumes: 0,
            record: Record::default(),
            qq: Qq::new(config, 0, Instant::ZERO),
            conn: None,
            shard: 0,
            to_client: VecDeque::new(),
        }
    }

    /// The model of QQ behind it, for any scripting its methods do not cover.
    pub fn qq(&mut self) -> &mut Qq {
        &mut self.qq
    }

    /// Whether a client connection is open.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The current session's id.
    #[must_use]
    pub fn session_id(&self) -> Option<&str> {
        self.qq.session_id(self.shard)
    }

    /// The last sequence number of the current session (0 with none).
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.qq.last_seq(self.shard).unwrap_or(0)
    }

    /// Sends an event with the next sequence number and an id `"{name}:{seq}"`, and
    /// returns that number (0 if there is no session). While no connection is open it is
    /// only kept for replay after a RESUME.
    pub fn dispatch(&mut self, name: &str, data: &str) -> u64 {
        let id = format!("{name}:{}", self.seq() + 1);
        self.dispatch_as(name, &id, data)
    }

    /// Sends an event with the next sequence number and the event id `id` — an id sent
    /// before makes it a duplicate, as QQ sometimes pushes one event twice — and returns
    /// that number (0 if there is no session).
    pub fn dispatch_as(&mut self, name: &str, id: &str, data: &str) -> u64 {
        let seq = self.qq.dispatch(self.shard, name, Some(id), data).map_or(0, |d| d.seq);
        self.carry_out(Instant::ZERO);
        seq
    }

    /// Sends a frame as it is (garbage included), if connected.
    pub fn send_raw(&mut self, text: impl Into<String>) {
        if let Some(conn) = self.conn {
            self.qq.send_raw(Target::Conn(conn), &text.into());
            self.carry_out(Instant::ZERO);
        }
    }

    /// Closes the connection with `code`, if connected (a code whose action is to
    /// IDENTIFY ends the session, as QQ does).
    pub fn close(&mut self, code: CloseCode) {
        if let Some(conn) = self.conn {
            self.qq.close(Target::Conn(conn), code);
            self.carry_out(Instant::ZERO);
        }
    }

    /// Drops the connection without a close frame, if connected.
    pub fn drop_connection(&mut self) {
        if let Some(conn) = self.conn {
            self.qq.drop_connection(Target::Conn(conn));
            self.carry_out(Instant::ZERO);
        }
    }

    /// Sends op 7, asking the client to reconnect.
    pub fn request_reconnect(&mut self) {
        self.qq.reconnect(Target::All);
        self.carry_out(Instant::ZERO);
    }

    /// Sends op 9 with `d = resumable`; a non-resumable one ends the session.
    pub fn invalidate_session(&mut self, resumable: bool) {
        self.qq.invalid_session(Target::All, resumable);
        self.carry_out(Instant::ZERO);
    }

    /// A token, as the endpoint answers under [`token_policy`](Self::token_policy).
    fn token(&mut self, now: Instant) -> Result<AccessToken, TokenError> {
        self.record.tokens += 1;
        match self.token_policy {
            TokenPolicy::Valid(lifetime) => {
                self.qq.config_mut().token_lifetime = lifetime;
                self.qq.issue_token(now)
            }
            TokenPolicy::Unavailable => Err(TokenError::Unavailable("503".into())),
            TokenPolicy::Rejected => {
                Err(TokenError::Rejected { code: 100_016, message: "invalid appid or secret".into() })
            }
        }
    }

    fn on_connect(&mut self, now: Instant) -> bool {
        self.record.connects.push(now);
        if self.refuse_connects > 0 {
            self.refuse_connects -= 1;
            return false;
        }
        self.to_client.clear();
        self.qq.config_mut().heartbeat_interval = self.heartbeat_interval;
        match self.qq.open(now) {
            Some(conn) => {
                self.conn = Some(conn);
                self.qq.hello(conn);
                self.carry_out(now);
                true
            }
            None => false,
        }
    }

    /// The connection ended, whoever ended it.
    fn on_disconnect(&mut self, now: Instant) {
        if let Some(conn) = self.conn.take() {
            self.qq.closed(now, conn);
            self.carry_out(now);
        }
        self.to_client.clear();
    }

    fn on_client_frame(&mut self, now: Instant, text: &str) {
        let Some(conn) = self.conn else { return };
        #[derive(Deserialize)]
        struct Frame<'a> {
            op: u64,
            #[serde(borrow)]
            d: Option<&'a serde_json::value::RawValue>,
        }
        let frame = serde_json::from_str::<Frame<'_>>(text).ok();
        let d = frame.as_ref().and_then(|f| f.d).map_or("null", serde_json::value::RawValue::get);
        if frame.as_ref().is_some_and(|f| f.op == u64::from(qqgw_proto::OpCode::Identify.as_u8())) {
            self.record.identifies.push((now, d.to_owned()));
        }
        if frame.as_ref().is_some_and(|f| f.op == u64::from(qqgw_proto::OpCode::Resume.as_u8())) {
            self.script_resume();
        }
        self.qq.withhold_acks(Target::All, !self.ack_heartbeats);
        self.qq.on_text(now, conn, text);
        self.carry_out(now);
    }

    /// The answer the fields script for the RESUME about to arrive.
    fn script_resume(&mut self) {
        let refusal = if self.ignore_resumes > 0 {
            self.ignore_resumes -= 1;
            Some(Refusal::Ignore)
        } else if self.refuse_resumes > 0 {
            self.refuse_resumes -= 1;
            Some(match self.refuse_resumes_with {
                Some(code) => Refusal::Close(code),
                None => Refusal::InvalidSession { resumable: false },
            })
        } else {
            None
        };
        match refusal {
            Some(refusal) => self.qq.refuse_resumes(Target::All, refusal, 1),
            None => self.qq.refuse_resumes(Target::All, Refusal::Ignore, 0),
        }
    }

    /// Queues what the model sends, and records what it noted.
    fn carry_out(&mut self, now: Instant) {
        while let Some(output) = self.qq.poll_output() {
            match output {
                QqOutput::Send(conn, frame) if Some(conn) == self.conn => {
                    self.to_client.push_back(ServerMsg::Text(frame));
                }
                QqOutput::Close(conn, code) if Some(conn) == self.conn => {
                    let frame = CloseFrame::new(code, code.description());
                    self.to_client.push_back(ServerMsg::Close(frame));
                }
                QqOutput::Drop(conn) if Some(conn) == self.conn => self.to_client.push_back(ServerMsg::Drop),
                QqOutput::Silence(conn) if Some(conn) == self.conn => self.to_client.clear(),
                QqOutput::Note(Note::Heartbeat { seq, .. }) => self.record.heartbeats.push((now, seq)),
                QqOutput::Note(Note::Resume { session_id, seq, .. }) => {
                    self.record.resumes.push((now, session_id, seq));
                }
                QqOutput::Note(Note::Attached { shard, session_id, ready, .. }) => {
                    self.shard = shard;
                    if ready {
                        self.record.sessions.push(session_id);
                    }
                }
                QqOutput::Note(Note::ProtocolError { frame, .. }) => self.record.bad_frames.push(frame),
                _ => {}
            }
        }
    }
}

/// A [`GatewayMachine`] wired to a [`FakeGateway`] on a virtual clock.
///
/// The harness is test code: it panics, failing the test, when the machine refuses its
/// input, asks to wake in the past, or never settles.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use qqgw_fake::Harness;
/// use qqgw_proto::{CloseCode, Config, Intents};
///
/// let config = Config::builder("wss://fake/", Intents::non_privileged()).reconnect_jitter(Duration::ZERO).build().unwrap();
/// let mut h = Harness::new(config);
/// h.run_for(Duration::from_secs(1));
/// assert!(h.machine.is_ready());
///
/// h.gateway.dispatch("AT_MESSAGE_CREATE", r#"{"content":"hi"}"#);
/// h.gateway.close(CloseCode::SESSION_TIMED_OUT); // QQ rotates the session
/// h.gateway.dispatch("AT_MESSAGE_CREATE", r#"{"content":"missed"}"#); // sent while down: replayed
/// h.run_for(Duration::from_secs(1));
///
/// assert_eq!(h.gateway.record.resumes.len(), 1);
/// assert_eq!(h.dispatch_names(), ["READY", "AT_MESSAGE_CREATE", "AT_MESSAGE_CREATE", "RESUMED"]);
/// ```
#[derive(Debug)]
#[allow(clippy::panic)]
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

#[allow(clippy::panic)]
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
        let machine = GatewayMachine::new(config, now);
        let mut gateway = gateway;
        // QQ announces as many shards as the machine's total, whatever its id.
        gateway.qq.config_mut().shards = machine.shard().total();
        Self { machine, gateway, now, events: Vec::new(), pacer }
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
        self.dispatches().map(qqgw_proto::Dispatch::name).collect()
    }

    /// The dispatches emitted so far.
    pub fn dispatches(&self) -> impl Iterator<Item = &qqgw_proto::Dispatch> {
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
                    let input = match self.gateway.token(now) {
                        Ok(token) => Input::Token(token),
                        Err(error) => Input::TokenFailed(error),
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
                    self.gateway.on_client_frame(now, &text);
                    Ok(())
                }
                Output::Close(frame) => {
                    self.gateway.record.client_closes.push(frame.clone());
                    self.gateway.on_disconnect(now);
                    self.machine.handle_input(now, Input::Closed(Some(frame)))
                }
                Output::Abandon => {
                    self.gateway.record.abandoned.push(now);
                    self.gateway.on_disconnect(now);
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
                self.gateway.on_disconnect(now);
                self.machine.handle_input(now, Input::Closed(Some(frame)))
            }
            ServerMsg::Drop => {
                self.gateway.on_disconnect(now);
                self.machine.handle_input(now, Input::Closed(None))
            }
        };
        if let Err(error) = result {
            panic!("the machine refused a frame of the fake gateway: {error}");
        }
    }
}

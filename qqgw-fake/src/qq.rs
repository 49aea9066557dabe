//! The model of QQ: the token endpoint, gateway discovery, and the gateway's connections
//! and sessions.

use std::collections::{HashMap, HashSet, VecDeque};

use core::time::Duration;
use qqgw_proto::testing::frames;
use qqgw_proto::{
    AccessToken, CloseAction, CloseCode, IDENTIFY_WINDOW, Instant, Intents, OpCode, SessionStartLimit,
    ShardId, TokenError,
};
use serde_json::{Value, json};

use crate::config::{QqConfig, ResumedSeq};
use crate::ids::Ids;
use crate::output::{ConnId, Note, Output, PacingKind, ResumeRefusal};
use crate::session::Session;
use crate::tokens::Tokens;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Which connections a scripted action targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The connections of one shard, by id.
    Shard(u32),
    /// One connection.
    Conn(ConnId),
    /// Every connection (every shard).
    All,
}

impl From<u32> for Target {
    fn from(shard: u32) -> Self {
        Self::Shard(shard)
    }
}

/// How QQ refuses a RESUME ([`Qq::refuse_resumes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Op 9 with `d = resumable`; a non-resumable one ends the session.
    InvalidSession {
        /// Whether QQ lets the client RESUME again.
        resumable: bool,
    },
    /// A close with this code; a code whose action is to IDENTIFY ends the session.
    Close(CloseCode),
    /// No answer at all: no replay, no RESUMED.
    Ignore,
}

#[derive(Debug, Default)]
pub(crate) struct Conn {
    /// The shard it authenticated as (READY or RESUMED sent).
    pub(crate) shard: Option<u32>,
    hello_sent: bool,
    /// IDENTIFY or RESUME received.
    authenticated: bool,
    /// QQ went silent on it.
    pub(crate) silent: bool,
}

/// QQ's side of the protocol, sans-IO: the token endpoint, `GET /gateway/bot`, and the
/// gateway's connections and sessions — sequence numbers, replay, `session_start_limit`,
/// heartbeats, close codes — with scripted faults.
///
/// A transport (the mock server, the simulation, the virtual-clock fake gateway)
/// tells it what a client did — opened a connection, sent a frame, closed — with the
/// time, and carries out its [`Output`]s, drained with [`poll_output`](Self::poll_output)
/// after every call: frames to send, closes, and [`Note`]s of what it observed.
///
/// # Examples
///
/// ```
/// use qqgw_fake::{Output, Qq, QqConfig};
/// use qqgw_proto::Instant;
///
/// let mut qq = Qq::new(QqConfig::default(), 1, Instant::ZERO);
/// let token = qq.issue_token(Instant::ZERO).unwrap();
/// let conn = qq.open(Instant::ZERO).unwrap();
/// qq.hello(conn);
/// let identify = format!(r#"{{"op":2,"d":{{"token":"{}","intents":1,"shard":[0,1]}}}}"#, token.authorization());
/// qq.on_text(Instant::ZERO, conn, &identify);
/// let frames: Vec<String> = std::iter::from_fn(|| match qq.poll_output() {
///     Some(Output::Send(_, frame)) => Some(Some(frame)),
///     Some(_) => Some(None),
///     None => None,
/// })
/// .flatten()
/// .collect();
/// assert!(frames[0].contains("heartbeat_interval"));
/// assert!(frames[1].contains(r#""t":"READY""#));
/// assert!(qq.connected(0));
/// ```
#[derive(Debug)]
pub struct Qq {
    pub(crate) config: QqConfig,
    pub(crate) ids: Ids,
    pub(crate) tokens: Tokens,
    /// The sessions a RESUME can still name, by id (an ended one is forgotten).
    pub(crate) sessions: HashMap<String, Session>,
    /// The live session of each shard.
    pub(crate) shard_sessions: HashMap<u32, String>,
    pub(crate) conns: HashMap<ConnId, Conn>,
    next_conn: ConnId,
    /// IDENTIFYs left today, and when the day ends.
    remaining: u32,
    day_ends: Instant,
    /// When each IDENTIFY of the last [`IDENTIFY_WINDOW`] arrived.
    identify_times: VecDeque<Instant>,
    /// Shards whose heartbeats go unanswered.
    pub(crate) withheld: HashSet<u32>,
    /// Scripted RESUME refusals, per shard, in order.
    pub(crate) refusals: HashMap<u32, VecDeque<Refusal>>,
    /// Until when each shard's connections are closed (4009) right after READY or RESUMED.
    pub(crate) flapping: HashMap<u32, Instant>,
    pub(crate) refused_connects: u32,
    pub(crate) out: VecDeque<Output>,
}

impl Qq {
    /// QQ as `config` describes it, started at `now`; `seed` makes its ids (sessions,
    /// events, tokens) reproducible.
    #[must_use]
    pub fn new(config: QqConfig, seed: u64, now: Instant) -> Self {
        let limit = config.session_start_limit;
        Self {
            ids: Ids::new(seed),
            tokens: Tokens::default(),
            sessions: HashMap::new(),
            shard_sessions: HashMap::new(),
            conns: HashMap::new(),
            next_conn: 0,
            remaining: limit.remaining,
            day_ends: now + Duration::from_millis(limit.reset_after),
            identify_times: VecDeque::new(),
            withheld: HashSet::new(),
            refusals: HashMap::new(),
            flapping: HashMap::new(),
            refused_connects: 0,
            out: VecDeque::new(),
            config,
        }
    }

    /// The facts it runs on.
    #[must_use]
    pub fn config(&self) -> &QqConfig {
        &self.config
    }

    /// The facts it runs on, to change from now on (a new heartbeat interval applies to the
    /// next HELLO, a new token lifetime to the next token issued).
    pub fn config_mut(&mut self) -> &mut QqConfig {
        &mut self.config
    }

    /// The next thing for the transport to do, in order; `None` once there is nothing.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ---- the token endpoint and discovery ------------------------------------------

    /// `POST /app/getAppAccessToken` with `body`, `json` saying whether its content type
    /// was `application/json`: the HTTP status and body QQ answers. The current token is
    /// handed out again until its last 60 s, then a new one.
    pub fn token_request(&mut self, now: Instant, json: bool, body: &[u8]) -> (u16, String) {
        let (status, body, app_id, outcome) =
            self.tokens.request(&self.config, &mut self.ids, now, json, body);
        self.note(Note::Token { at: now, app_id, outcome });
        (status, body)
    }

    /// A token, for a caller that does not speak HTTP: what a correct request gets.
    ///
    /// # Errors
    ///
    /// What the scripted endpoint answers ([`fail_token_requests`](Self::fail_token_requests),
    /// [`reject_credentials`](Self::reject_credentials)…).
    pub fn issue_token(&mut self, now: Instant) -> Result<AccessToken, TokenError> {
        let result = self.tokens.issue(&self.config, &mut self.ids, now);
        let outcome = match &result {
            Ok((token, fresh)) => crate::TokenOutcome::Issued {
                token: token.value().to_owned(),
                expires_in: token.expires_at().saturating_duration_since(now).as_secs(),
                fresh: *fresh,
            },
            Err(TokenError::Rejected { code, .. }) => crate::TokenOutcome::Rejected { code: *code },
            Err(_) => crate::TokenOutcome::Failed,
        };
        self.note(Note::Token { at: now, app_id: Some(self.config.app_id.clone()), outcome });
        result.map(|(token, _)| token)
    }

    /// Whether `authorization` (`QQBot {token}`) carries a token QQ issued that has not
    /// expired.
    #[must_use]
    pub fn token_valid(&self, authorization: &str, now: Instant) -> bool {
        self.tokens.valid(authorization, now)
    }

    /// `GET /gateway` (`bot` false) or `GET /gateway/bot`, answered with `url` as the
    /// gateway: the HTTP status and body. Needs a valid `Authorization` (else 401,
    /// `11241`).
    pub fn gateway_info(
        &mut self,
        now: Instant,
        authorization: Option<&str>,
        bot: bool,
        url: &str,
    ) -> (u16, String) {
        if !authorization.is_some_and(|a| self.token_valid(a, now)) {
            return (401, json!({"code": 11241, "message": "wrong token"}).to_string());
        }
        if !bot {
            return (200, json!({ "url": url }).to_string());
        }
        let limit = self.session_start_limit(now);
        (200, json!({"url": url, "shards": self.config.shards, "session_start_limit": limit}).to_string())
    }

    /// What `GET /gateway/bot` says of the IDENTIFY budget at `now`.
    pub fn session_start_limit(&mut self, now: Instant) -> SessionStartLimit {
        self.roll_day(now);
        let reset_after =
            u64::try_from(self.day_ends.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX);
        SessionStartLimit { remaining: self.remaining, reset_after, ..self.config.session_start_limit }
    }

    fn roll_day(&mut self, now: Instant) {
        while now >= self.day_ends {
            self.remaining = self.config.session_start_limit.total;
            self.day_ends += DAY;
        }
    }

    // ---- connections --------------------------------------------------------------

    /// A client opened a connection; `None` if QQ refuses it
    /// ([`refuse_connects`](Self::refuse_connects)). Send HELLO with
    /// [`hello`](Self::hello) when the transport is ready to.
    pub fn open(&mut self, _now: Instant) -> Option<ConnId> {
        if self.refused_connects > 0 {
            self.refused_connects -= 1;
            return None;
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(conn, Conn::default());
        Some(conn)
    }

    /// QQ greets `conn` with HELLO (op 10) and its heartbeat interval.
    pub fn hello(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.hello_sent = true;
            let interval = self.config.heartbeat_interval.as_millis();
            self.out.push_back(Output::Send(conn, frames::hello(interval)));
        }
    }

    /// The connection ended (either side closed it, or it dropped): its session is
    /// detached and stays resumable for [`QqConfig::resume_timeout`].
    pub fn closed(&mut self, now: Instant, conn: ConnId) {
        self.conns.remove(&conn);
        for session in self.sessions.values_mut() {
            if session.conn == Some(conn) {
                session.detach(now);
            }
        }
    }

    /// A binary frame from the client: QQ's clients send text.
    pub fn on_binary(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes).into_owned();
        self.protocol_error(now, conn, "binary frame from the client (QQ clients send text)", &text);
    }

    /// A text frame from the client.
    pub fn on_text(&mut self, now: Instant, conn: ConnId, text: &str) {
        let Some(c) = self.conns.get(&conn) else { return };
        if c.silent {
            return;
        }
        let (hello_sent, authenticated) = (c.hello_sent, c.authenticated);
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => return self.protocol_error(now, conn, &format!("not JSON: {e}"), text),
        };
        let Some(op) = value.get("op").and_then(Value::as_u64) else {
            return self.protocol_error(now, conn, "no numeric `op`", text);
        };
        if !hello_sent {
            self.protocol_error(now, conn, "frame before HELLO", text);
        }
        let d = value.get("d").unwrap_or(&Value::Null);
        match OpCode::from_u64(op) {
            Some(OpCode::Heartbeat) => self.heartbeat(now, conn, d, text),
            Some(OpCode::Identify | OpCode::Resume) if authenticated => {
                let reason = format!("op {op} on a connection that already sent IDENTIFY or RESUME");
                self.protocol_error(now, conn, &reason, text);
            }
            Some(OpCode::Identify) => self.identify(now, conn, d),
            Some(OpCode::Resume) => self.resume(now, conn, d),
            _ if !authenticated => {
                self.protocol_error(now, conn, &format!("op {op} before IDENTIFY or RESUME"), text);
            }
            _ => self.protocol_error(now, conn, &format!("op {op} is not sent by clients"), text),
        }
    }

    fn heartbeat(&mut self, now: Instant, conn: ConnId, d: &Value, text: &str) {
        let seq = match d {
            Value::Null => None,
            d => {
                if d.as_u64().is_none() {
                    self.protocol_error(
                        now,
                        conn,
                        "heartbeat `d` is neither null nor a sequence number",
                        text,
                    );
                }
                d.as_u64()
            }
        };
        let shard = self.conns.get(&conn).and_then(|c| c.shard);
        self.note(Note::Heartbeat { at: now, conn, shard, seq });
        if !shard.is_some_and(|s| self.withheld.contains(&s)) {
            self.out.push_back(Output::Send(conn, frames::heartbeat_ack()));
        }
    }

    fn identify(&mut self, now: Instant, conn: ConnId, d: &Value) {
        let token = d.get("token").and_then(Value::as_str).unwrap_or_default().to_owned();
        let intents = d.get("intents").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok());
        let shard: Option<[u32; 2]> = d.get("shard").and_then(|s| serde_json::from_value(s.clone()).ok());
        let valid_token = self.token_valid(&token, now);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.authenticated = true;
        }
        let (asked_shard, asked_intents) = (shard.unwrap_or([0, 0]), intents.unwrap_or(0));
        self.note(Note::Identify { at: now, conn, shard: asked_shard, intents: asked_intents, token });
        if !valid_token {
            return self.close_conn(conn, CloseCode::AUTHENTICATION_FAILED);
        }
        let total = self.config.shards;
        let Some(shard) = shard.and_then(|[id, n]| ShardId::new(id, n)).filter(|s| s.total() == total) else {
            return self.close_conn(conn, CloseCode::INVALID_SHARD);
        };
        let intents = match intents {
            Some(0) | None => return self.close_conn(conn, CloseCode::INVALID_INTENTS),
            Some(i) if i & !self.config.allowed_intents != 0 => {
                return self.close_conn(conn, CloseCode::DISALLOWED_INTENTS);
            }
            Some(i) => Intents::from_bits_retain(i),
        };
        self.roll_day(now);
        if self.remaining == 0 {
            self.note(Note::Pacing { at: now, shard: shard.id(), kind: PacingKind::Exhausted });
            return self.close_conn(conn, CloseCode::RATE_LIMITED);
        }
        while self
            .identify_times
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= IDENTIFY_WINDOW)
        {
            self.identify_times.pop_front();
        }
        let in_window = u32::try_from(self.identify_times.len()).unwrap_or(u32::MAX);
        let max_concurrency = self.config.session_start_limit.max_concurrency;
        if in_window >= max_concurrency {
            let kind = PacingKind::Concurrency { in_window, max_concurrency };
            self.note(Note::Pacing { at: now, shard: shard.id(), kind });
        }
        self.identify_times.push_back(now);
        self.remaining -= 1;
        // A shard has one live session: a new IDENTIFY ends the one before.
        if let Some(old) = self.shard_sessions.remove(&shard.id()) {
            self.end_session(&old);
        }
        let session_id = self.ids.uuid();
        self.sessions.insert(session_id.clone(), Session::new(shard, intents, now));
        self.shard_sessions.insert(shard.id(), session_id.clone());
        let d = json!({
            "version": 1,
            "session_id": session_id,
            "user": {"id": self.config.bot_user_id, "username": "qqgw-fake", "bot": true},
            "shard": [shard.id(), shard.total()],
        });
        // READY carries no event id.
        let ready = json!({"op": OpCode::Dispatch.as_u8(), "s": 1, "t": "READY", "d": d}).to_string();
        self.attach(now, conn, &session_id, vec![ready], true);
    }

    fn resume(&mut self, now: Instant, conn: ConnId, d: &Value) {
        let token = d.get("token").and_then(Value::as_str).unwrap_or_default().to_owned();
        let session_id = d.get("session_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let valid_token = self.token_valid(&token, now);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.authenticated = true;
        }
        self.note(Note::Resume { at: now, conn, session_id: session_id.clone(), seq, token });
        let refused = |why| Output::Note(Note::ResumeRefused { at: now, conn, why });
        if !valid_token {
            self.out.push_back(refused(ResumeRefusal::Token));
            return self.close_conn(conn, CloseCode::AUTHENTICATION_FAILED);
        }
        let timeout = self.config.resume_timeout;
        let Some(session) = self.sessions.get_mut(&session_id) else {
            self.out.push_back(refused(ResumeRefusal::Unknown));
            return self.send(conn, frames::invalid_session(false));
        };
        if session.conn.is_none() && now.saturating_duration_since(session.detached_at) > timeout {
            self.end_session(&session_id);
            self.out.push_back(refused(ResumeRefusal::Expired));
            return self.send(conn, frames::invalid_session(false));
        }
        let (shard, last_seq) = (session.shard.id(), session.last_seq);
        if let Some(refusal) = self.refusals.get_mut(&shard).and_then(VecDeque::pop_front) {
            self.out.push_back(refused(ResumeRefusal::Scripted(refusal)));
            return self.refuse(conn, &session_id, refusal);
        }
        if seq > last_seq {
            let text = d.to_string();
            self.protocol_error(
                now,
                conn,
                &format!("RESUME from seq {seq}, past the last sent {last_seq}"),
                &text,
            );
            self.out.push_back(refused(ResumeRefusal::PastLastSeq));
            return self.close_conn(conn, CloseCode::INVALID_SEQ);
        }
        let Some(replay) = self.sessions.get(&session_id).and_then(|s| s.replay_after(seq)) else {
            // Events after `seq` were forgotten: QQ cannot replay them.
            self.end_session(&session_id);
            self.out.push_back(refused(ResumeRefusal::Forgotten));
            return self.close_conn(conn, CloseCode::INVALID_SEQ);
        };
        let Some(session) = self.sessions.get_mut(&session_id) else { return };
        let s = match self.config.resumed_seq {
            ResumedSeq::Next => Some(session.next_seq()),
            ResumedSeq::None => None,
        };
        let mut out = replay;
        out.push(frames::resumed(s));
        self.attach(now, conn, &session_id, out, false);
    }

    fn refuse(&mut self, conn: ConnId, session_id: &str, refusal: Refusal) {
        match refusal {
            Refusal::InvalidSession { resumable } => {
                if !resumable {
                    self.end_session(session_id);
                }
                self.send(conn, frames::invalid_session(resumable));
            }
            Refusal::Close(code) => {
                if code.action() == CloseAction::Identify {
                    self.end_session(session_id);
                }
                self.close_conn(conn, code);
            }
            Refusal::Ignore => {}
        }
    }

    /// Serves `session_id` on `conn` from now on: sends `frames` (READY, or the replay and
    /// RESUMED); the connection that held it before loses it. While the shard flaps, the
    /// connection is then closed with 4009.
    fn attach(&mut self, now: Instant, conn: ConnId, session_id: &str, frames: Vec<String>, ready: bool) {
        let Some(session) = self.sessions.get_mut(session_id) else { return };
        let shard = session.shard.id();
        session.conn = Some(conn);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.shard = Some(shard);
        }
        let replayed = u64::try_from(frames.len().saturating_sub(usize::from(!ready))).unwrap_or(u64::MAX);
        for frame in frames {
            self.out.push_back(Output::Send(conn, frame));
        }
        self.note(Note::Attached { conn, shard, session_id: session_id.to_owned(), ready, replayed });
        if self.flapping.get(&shard).is_some_and(|&until| now < until) {
            self.close_conn(conn, CloseCode::SESSION_TIMED_OUT);
        }
    }

    /// QQ forgets an ended session whole: a RESUME of it is refused like one of a session
    /// never known, and a month of rotations keeps no dead replay buffers.
    pub(crate) fn end_session(&mut self, session_id: &str) {
        if let Some(session) = self.sessions.remove(session_id) {
            let shard = session.shard.id();
            if self.shard_sessions.get(&shard).is_some_and(|id| id == session_id) {
                self.shard_sessions.remove(&shard);
            }
        }
    }

    pub(crate) fn send(&mut self, conn: ConnId, frame: String) {
        self.out.push_back(Output::Send(conn, frame));
    }

    /// Closes `conn` with `code` (its session, if any, is detached by [`closed`](Self::closed)
    /// when the transport reports the end).
    pub(crate) fn close_conn(&mut self, conn: ConnId, code: CloseCode) {
        self.out.push_back(Output::Close(conn, code));
    }

    fn protocol_error(&mut self, now: Instant, conn: ConnId, reason: &str, frame: &str) {
        let shard = self.conns.get(&conn).and_then(|c| c.shard);
        let frame = frame.chars().take(200).collect();
        self.note(Note::ProtocolError { at: now, conn, shard, reason: reason.to_owned(), frame });
    }

    pub(crate) fn note(&mut self, note: Note) {
        self.out.push_back(Output::Note(note));
    }
}

//! The mock's shared state: tokens, sessions, connections and the record. Every protocol
//! decision is made here, under one lock, so that sequence numbers, history and the
//! frames queued to a connection always agree.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_tungstenite::tungstenite::Utf8Bytes;
use qqgw_proto::model::EventKind;
use qqgw_proto::{CloseCode, IDENTIFY_WINDOW, Intents, OpCode, ShardId};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::config::MockConfig;
use crate::ids::Ids;
use crate::record::{
    Auth, ConnectionRecord, PacingKind, PacingViolation, ProtocolError, Record, TokenOutcome, TokenRequest,
    UNKNOWN_SHARD,
};

/// What a connection task is told to do.
#[derive(Debug)]
pub(crate) enum Command {
    Text(Utf8Bytes),
    Binary(Vec<u8>),
    Close(u16),
    Drop,
    /// Go silent: read and record what the client sends, answer nothing, write nothing,
    /// keep the TCP connection open — a dead peer as the client sees it.
    Zombie,
}

/// Frames to write at once, then maybe a close.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub(crate) frames: Vec<Utf8Bytes>,
    pub(crate) close: Option<u16>,
}

impl Reply {
    fn frame(text: String) -> Self {
        Self { frames: vec![text.into()], close: None }
    }

    fn close(code: CloseCode) -> Self {
        Self { frames: Vec::new(), close: Some(code.0) }
    }
}

/// Which shards a scripted action targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One shard, by id.
    Shard(u32),
    /// Every shard (for connection actions: every open connection).
    All,
}

impl From<u32> for Target {
    fn from(shard: u32) -> Self {
        Self::Shard(shard)
    }
}

impl Target {
    fn matches(self, shard: Option<u32>) -> bool {
        match self {
            Self::All => true,
            Self::Shard(id) => shard == Some(id),
        }
    }
}

struct Token {
    value: String,
    expires_at: Instant,
}

struct Session {
    shard: ShardId,
    /// The intents of the IDENTIFY that started it: only events they cover are sent.
    intents: Intents,
    /// Dispatches sent in this session, by `s`, for replay on RESUME.
    history: Vec<(u64, Utf8Bytes)>,
    /// The last `s` used (READY and RESUMED use one too).
    last_seq: u64,
    resumable: bool,
    conn: Option<usize>,
}

struct Conn {
    tx: mpsc::UnboundedSender<Command>,
    shard: Option<u32>,
    /// Heartbeats (indices into the record) received before authentication.
    unattributed: Vec<usize>,
}

pub(crate) struct State {
    ids: Ids,
    pub(crate) record: Record,
    tokens: Vec<Token>,
    reject_credentials: bool,
    failing_token_requests: u32,
    rate_limited_token_requests: u32,
    remaining: u32,
    identify_times: VecDeque<Instant>,
    sessions: HashMap<String, Session>,
    /// The current session of each shard.
    shard_sessions: HashMap<u32, String>,
    conns: HashMap<usize, Conn>,
    withheld: HashSet<u32>,
    refuse_resumes: HashMap<u32, u32>,
    /// The sending endpoints' state.
    pub(crate) api: crate::openapi::ApiState,
}

/// State shared by the handle, the HTTP server and the connection tasks.
pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    pub(crate) started: Instant,
    pub(crate) ws_addr: SocketAddr,
    state: Mutex<State>,
    /// Notified whenever the record changes.
    pub(crate) changed: Notify,
}

impl Shared {
    pub(crate) fn new(config: MockConfig, ws_addr: SocketAddr) -> Self {
        let state = State {
            ids: Ids::new(),
            record: Record::default(),
            tokens: Vec::new(),
            reject_credentials: false,
            failing_token_requests: 0,
            rate_limited_token_requests: 0,
            remaining: config.session_start_limit.remaining,
            identify_times: VecDeque::new(),
            sessions: HashMap::new(),
            shard_sessions: HashMap::new(),
            conns: HashMap::new(),
            withheld: HashSet::new(),
            refuse_resumes: HashMap::new(),
            api: crate::openapi::ApiState::new(&config),
        };
        Self { config, started: Instant::now(), ws_addr, state: Mutex::new(state), changed: Notify::new() }
    }

    pub(crate) fn gateway_url(&self) -> String {
        format!("ws://{}/websocket/", self.ws_addr)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` under the lock, then wakes everyone waiting for the record to change.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut State, &MockConfig) -> R) -> R {
        let result = f(&mut self.lock(), &self.config);
        self.changed.notify_waiters();
        result
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// Whether a session IDENTIFYed with `intents` receives the event `name`: READY and
/// RESUMED always, names qqgw does not know always (the mock cannot tell), known events
/// only if their intent is among `intents`.
fn covers(intents: Intents, name: &str) -> bool {
    match EventKind::from_name(name).intent() {
        Some(needed) => intents.contains(needed),
        None => true,
    }
}

fn frame_excerpt(text: &str) -> String {
    text.chars().take(200).collect()
}

impl State {
    // ---- tokens ------------------------------------------------------------------

    pub(crate) fn token_valid(&self, credential: &str, now: Instant) -> bool {
        let Some(value) = credential.strip_prefix("QQBot ") else { return false };
        self.tokens.iter().any(|t| t.value == value && t.expires_at > now)
    }

    /// `POST /app/getAppAccessToken`: returns the status and body.
    pub(crate) fn token_request(
        &mut self,
        config: &MockConfig,
        now: Instant,
        json_content_type: bool,
        body: &[u8],
    ) -> (u16, String) {
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(rename = "appId")]
            app_id: Option<String>,
            #[serde(rename = "clientSecret")]
            client_secret: Option<String>,
        }
        let parsed: Option<Body> = serde_json::from_slice(body).ok();
        let app_id = parsed.as_ref().and_then(|b| b.app_id.clone());
        let (status, body, outcome) = if self.failing_token_requests > 0 {
            self.failing_token_requests -= 1;
            (500, r#"{"code":500,"message":"internal error"}"#.to_owned(), TokenOutcome::Failed)
        } else if self.rate_limited_token_requests > 0 {
            // QQ answers its rate limit with HTTP 200 as often as with 429.
            self.rate_limited_token_requests -= 1;
            let status = if self.rate_limited_token_requests % 2 == 0 { 200 } else { 429 };
            let body = json!({"code": 100_001, "message": "too many requests"}).to_string();
            (status, body, TokenOutcome::RateLimited)
        } else if !json_content_type || parsed.is_none() {
            let body = json!({"code": 100_007, "message": "appid invalid"}).to_string();
            (config.token_error_status, body, TokenOutcome::Rejected { code: 100_007 })
        } else if self.reject_credentials
            || app_id.as_deref() != Some(config.app_id.as_str())
            || parsed.as_ref().and_then(|b| b.client_secret.as_deref()) != Some(config.secret.as_str())
        {
            let body = json!({"code": 100_016, "message": "invalid appid or secret"}).to_string();
            (config.token_error_status, body, TokenOutcome::Rejected { code: 100_016 })
        } else {
            let current =
                self.tokens.last().filter(|t| t.expires_at > now + qqgw_proto::TOKEN_RENEWAL_WINDOW);
            let (token, left, fresh) = match current {
                Some(t) => (t.value.clone(), t.expires_at.saturating_duration_since(now), false),
                None => {
                    let value = self.ids.token();
                    self.tokens.push(Token { value: value.clone(), expires_at: now + config.token_lifetime });
                    (value, config.token_lifetime, true)
                }
            };
            let expires_in = left.as_secs();
            let body = json!({"access_token": token, "expires_in": expires_in.to_string()}).to_string();
            (200, body, TokenOutcome::Issued { token, expires_in, fresh })
        };
        self.record.token_requests.push(TokenRequest { at: now, app_id, outcome });
        (status, body)
    }

    /// `GET /gateway` and `GET /gateway/bot`.
    pub(crate) fn gateway(
        &self,
        shared: &Shared,
        now: Instant,
        authorization: Option<&str>,
        bot: bool,
    ) -> (u16, String) {
        if !authorization.is_some_and(|a| self.token_valid(a, now)) {
            return (401, json!({"code": 11241, "message": "wrong token"}).to_string());
        }
        let url = shared.gateway_url();
        if !bot {
            return (200, json!({ "url": url }).to_string());
        }
        let mut limit = shared.config.session_start_limit;
        limit.remaining = self.remaining;
        let elapsed = now.saturating_duration_since(shared.started).as_millis();
        limit.reset_after = limit.reset_after.saturating_sub(u64::try_from(elapsed).unwrap_or(u64::MAX));
        let body = json!({"url": url, "shards": shared.config.shards, "session_start_limit": limit});
        (200, body.to_string())
    }

    pub(crate) fn set_reject_credentials(&mut self, reject: bool) {
        self.reject_credentials = reject;
    }

    pub(crate) fn fail_token_requests(&mut self, n: u32) {
        self.failing_token_requests = n;
    }

    pub(crate) fn rate_limit_token_requests(&mut self, n: u32) {
        self.rate_limited_token_requests = n;
    }

    pub(crate) fn expire_tokens(&mut self, now: Instant) {
        for token in &mut self.tokens {
            token.expires_at = token.expires_at.min(now);
        }
    }

    // ---- connections -------------------------------------------------------------

    pub(crate) fn open_connection(&mut self, now: Instant, tx: mpsc::UnboundedSender<Command>) -> usize {
        let index = self.record.connections.len();
        self.record.connections.push(ConnectionRecord {
            shard: None,
            opened_at: now,
            auth: None,
            session_id: None,
            ready: false,
            closed_at: None,
            close_code_sent_by_client: None,
            close_code_sent_by_server: None,
            dropped_by_server: false,
        });
        self.conns.insert(index, Conn { tx, shard: None, unattributed: Vec::new() });
        index
    }

    pub(crate) fn connection_closed(&mut self, conn: usize, now: Instant) {
        self.conns.remove(&conn);
        for session in self.sessions.values_mut() {
            if session.conn == Some(conn) {
                session.conn = None;
            }
        }
        if let Some(c) = self.record.connections.get_mut(conn) {
            c.closed_at.get_or_insert(now);
        }
    }

    pub(crate) fn closed_by_client(&mut self, conn: usize, code: Option<u16>) {
        if let Some(c) = self.record.connections.get_mut(conn) {
            c.close_code_sent_by_client = code;
        }
    }

    pub(crate) fn closed_by_server(&mut self, conn: usize, code: Option<u16>) {
        if let Some(c) = self.record.connections.get_mut(conn) {
            match code {
                Some(code) => c.close_code_sent_by_server = Some(code),
                None => c.dropped_by_server = true,
            }
        }
    }

    fn protocol_error(&mut self, conn: usize, now: Instant, reason: impl Into<String>, frame: &str) {
        let shard = self.conns.get(&conn).and_then(|c| c.shard);
        let reason = reason.into();
        tracing::debug!(conn, ?shard, %reason, "protocol error");
        self.record.protocol_errors.push(ProtocolError {
            at: now,
            connection: conn,
            shard,
            reason,
            frame: frame_excerpt(frame),
        });
    }

    pub(crate) fn binary_from_client(&mut self, conn: usize, now: Instant, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        self.protocol_error(conn, now, "binary frame from the client (QQ clients send text)", &text);
    }

    /// A text frame from the client; `hello_sent` says whether HELLO went out already.
    pub(crate) fn on_text(
        &mut self,
        config: &MockConfig,
        conn: usize,
        now: Instant,
        hello_sent: bool,
        text: &str,
    ) -> Reply {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                self.protocol_error(conn, now, format!("not JSON: {e}"), text);
                return Reply::default();
            }
        };
        let Some(op) = value.get("op").and_then(Value::as_u64) else {
            self.protocol_error(conn, now, "no numeric `op`", text);
            return Reply::default();
        };
        if !hello_sent {
            self.protocol_error(conn, now, "frame before HELLO", text);
        }
        let authenticated = self.record.connections.get(conn).is_some_and(|c| c.auth.is_some());
        let d = value.get("d").unwrap_or(&Value::Null);
        match OpCode::from_u64(op) {
            Some(OpCode::Heartbeat) => self.heartbeat(conn, now, d, text),
            Some(OpCode::Identify | OpCode::Resume) if authenticated => {
                self.protocol_error(
                    conn,
                    now,
                    format!("op {op} on a connection that already sent IDENTIFY or RESUME"),
                    text,
                );
                Reply::default()
            }
            Some(OpCode::Identify) => self.identify(config, conn, now, d),
            Some(OpCode::Resume) => self.resume(conn, now, d),
            _ if !authenticated => {
                self.protocol_error(conn, now, format!("op {op} before IDENTIFY or RESUME"), text);
                Reply::default()
            }
            _ => {
                self.protocol_error(conn, now, format!("op {op} is not sent by clients"), text);
                Reply::default()
            }
        }
    }

    fn heartbeat(&mut self, conn: usize, now: Instant, d: &Value, text: &str) -> Reply {
        let seq = match d {
            Value::Null => None,
            d => {
                if d.as_u64().is_none() {
                    self.protocol_error(
                        conn,
                        now,
                        "heartbeat `d` is neither null nor a sequence number",
                        text,
                    );
                }
                d.as_u64()
            }
        };
        let shard = self.conns.get(&conn).and_then(|c| c.shard);
        let index = self.record.heartbeats.len();
        self.record.heartbeats.push((now, shard.unwrap_or(UNKNOWN_SHARD), seq));
        if shard.is_none()
            && let Some(c) = self.conns.get_mut(&conn)
        {
            c.unattributed.push(index);
        }
        if shard.is_some_and(|s| self.withheld.contains(&s)) {
            Reply::default()
        } else {
            Reply::frame(json!({"op": OpCode::HeartbeatAck.as_u8()}).to_string())
        }
    }

    fn set_auth(&mut self, conn: usize, auth: Auth) {
        if let Some(c) = self.record.connections.get_mut(conn) {
            c.auth = Some(auth);
        }
    }

    /// Marks `conn` as serving `session_id` on `shard`.
    fn attach(&mut self, conn: usize, shard: u32, session_id: &str, ready: bool) {
        if let Some(c) = self.record.connections.get_mut(conn) {
            c.shard = Some(shard);
            c.session_id = Some(session_id.to_owned());
            c.ready = ready;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.shard = Some(shard);
            for index in c.unattributed.drain(..) {
                if let Some(h) = self.record.heartbeats.get_mut(index) {
                    h.1 = shard;
                }
            }
        }
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.conn = Some(conn);
        }
    }

    fn identify(&mut self, config: &MockConfig, conn: usize, now: Instant, d: &Value) -> Reply {
        let token = d.get("token").and_then(Value::as_str).unwrap_or_default().to_owned();
        let intents = d.get("intents").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok());
        let shard: Option<[u32; 2]> = d.get("shard").and_then(|s| serde_json::from_value(s.clone()).ok());
        let valid_token = self.token_valid(&token, now);
        self.set_auth(
            conn,
            Auth::Identify { shard: shard.unwrap_or([0, 0]), intents: intents.unwrap_or(0), token },
        );
        if !valid_token {
            return Reply::close(CloseCode::AUTHENTICATION_FAILED);
        }
        let Some(shard) =
            shard.and_then(|[id, total]| ShardId::new(id, total)).filter(|s| s.total() == config.shards)
        else {
            return Reply::close(CloseCode::INVALID_SHARD);
        };
        let intents = match intents {
            Some(0) | None => return Reply::close(CloseCode::INVALID_INTENTS),
            Some(i) if i & !config.allowed_intents != 0 => {
                return Reply::close(CloseCode::DISALLOWED_INTENTS);
            }
            Some(i) => i,
        };
        tracing::debug!(conn, %shard, intents, "IDENTIFY");
        if self.remaining == 0 {
            self.record.pacing_violations.push(PacingViolation {
                at: now,
                shard: shard.id(),
                kind: PacingKind::Exhausted,
            });
            return Reply::close(CloseCode::RATE_LIMITED);
        }
        while self
            .identify_times
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= IDENTIFY_WINDOW)
        {
            self.identify_times.pop_front();
        }
        let in_window = u32::try_from(self.identify_times.len()).unwrap_or(u32::MAX);
        let max_concurrency = config.session_start_limit.max_concurrency;
        if in_window >= max_concurrency {
            self.record.pacing_violations.push(PacingViolation {
                at: now,
                shard: shard.id(),
                kind: PacingKind::Concurrency { in_window, max_concurrency },
            });
        }
        self.identify_times.push_back(now);
        self.remaining -= 1;

        let session_id = self.ids.uuid();
        self.sessions.insert(
            session_id.clone(),
            Session {
                shard,
                intents: Intents::from_bits_retain(intents),
                history: Vec::new(),
                last_seq: 1,
                resumable: true,
                conn: None,
            },
        );
        self.shard_sessions.insert(shard.id(), session_id.clone());
        self.attach(conn, shard.id(), &session_id, true);
        let ready = json!({
            "op": OpCode::Dispatch.as_u8(),
            "s": 1,
            "t": "READY",
            "d": {
                "version": 1,
                "session_id": session_id,
                "user": {"id": config.bot_user_id, "username": "qqgw-mock", "bot": true},
                "shard": shard,
            }
        });
        Reply::frame(ready.to_string())
    }

    fn resume(&mut self, conn: usize, now: Instant, d: &Value) -> Reply {
        let token = d.get("token").and_then(Value::as_str).unwrap_or_default().to_owned();
        let session_id = d.get("session_id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let valid_token = self.token_valid(&token, now);
        self.set_auth(conn, Auth::Resume { session_id: session_id.clone(), seq, token });
        if !valid_token {
            return Reply::close(CloseCode::AUTHENTICATION_FAILED);
        }
        let invalid = Reply::frame(json!({"op": OpCode::InvalidSession.as_u8(), "d": false}).to_string());
        let Some(session) = self.sessions.get(&session_id).filter(|s| s.resumable) else {
            tracing::debug!(conn, session_id, "RESUME of an unknown or expired session");
            return invalid;
        };
        let shard = session.shard.id();
        if let Some(n) = self.refuse_resumes.get_mut(&shard).filter(|n| **n > 0) {
            *n -= 1;
            tracing::debug!(conn, shard, "RESUME refused as scripted");
            return invalid;
        }
        if seq > session.last_seq {
            return Reply::close(CloseCode::INVALID_SEQ);
        }
        self.attach(conn, shard, &session_id, false);
        let Some(session) = self.sessions.get_mut(&session_id) else { return Reply::default() };
        let from = session.history.partition_point(|(s, _)| *s <= seq);
        let mut frames: Vec<Utf8Bytes> =
            session.history.get(from..).unwrap_or_default().iter().map(|(_, f)| f.clone()).collect();
        session.last_seq += 1;
        let resumed = json!({"op": OpCode::Dispatch.as_u8(), "s": session.last_seq, "t": "RESUMED", "d": ""});
        frames.push(resumed.to_string().into());
        tracing::debug!(conn, shard, seq, replayed = frames.len() - 1, "RESUME");
        Reply { frames, close: None }
    }

    // ---- scripting ---------------------------------------------------------------

    fn shard_ids(&self, config: &MockConfig, target: Target) -> Vec<u32> {
        match target {
            Target::Shard(id) => vec![id],
            Target::All => (0..config.shards).collect(),
        }
    }

    /// Sends a dispatch on `shard`'s current session; 0 if it has none.
    pub(crate) fn dispatch(&mut self, shard: u32, name: &str, id: Option<&str>, d: &Value) -> u64 {
        self.dispatch_json(shard, name, id, &d.to_string())
    }

    /// [`dispatch`](Self::dispatch) with `d` already serialized. An event the session's
    /// intents do not cover is not sent, as QQ would not send it: it is recorded in
    /// [`Record::filtered`] and 0 is returned.
    pub(crate) fn dispatch_json(&mut self, shard: u32, name: &str, id: Option<&str>, d: &str) -> u64 {
        let Some(session_id) = self.shard_sessions.get(&shard) else { return 0 };
        let intents = self.sessions.get(session_id).map_or(Intents::empty(), |s| s.intents);
        if !covers(intents, name) {
            tracing::debug!(
                shard,
                name,
                intents = intents.bits(),
                "event not covered by the session's intents"
            );
            self.record.filtered.push((shard, name.to_owned()));
            return 0;
        }
        let event_id = match id {
            Some(id) => id.to_owned(),
            None => format!("{name}:{}", self.ids.uuid()),
        };
        self.api.dispatched(name, &event_id, d, Instant::now());
        let Some(session) = self.sessions.get_mut(session_id) else { return 0 };
        session.last_seq += 1;
        let seq = session.last_seq;
        let frame = format!(
            r#"{{"op":{op},"s":{seq},"t":{t},"id":{id},"d":{d}}}"#,
            op = OpCode::Dispatch.as_u8(),
            t = json_string(name),
            id = json_string(&event_id),
        );
        let frame = Utf8Bytes::from(frame);
        if let Some(conn) = session.conn.and_then(|c| self.conns.get(&c)) {
            // A closed channel means the connection is going away; the frame stays in
            // the history for RESUME.
            let _ = conn.tx.send(Command::Text(frame.clone()));
        }
        session.history.push((seq, frame));
        seq
    }

    pub(crate) fn dispatch_to(&mut self, config: &MockConfig, target: Target, name: &str, d: &Value) -> u64 {
        self.shard_ids(config, target).into_iter().map(|s| self.dispatch(s, name, None, d)).max().unwrap_or(0)
    }

    /// Sends `command()` to every open connection `target` matches; returns how many.
    pub(crate) fn command(&mut self, target: Target, command: impl Fn() -> Command) -> usize {
        let mut n = 0;
        for conn in self.conns.values().filter(|c| target.matches(c.shard)) {
            if conn.tx.send(command()).is_ok() {
                n += 1;
            }
        }
        n
    }

    pub(crate) fn invalid_session(&mut self, config: &MockConfig, target: Target, resumable: bool) -> usize {
        let frame: Utf8Bytes =
            json!({"op": OpCode::InvalidSession.as_u8(), "d": resumable}).to_string().into();
        let n = self.command(target, || Command::Text(frame.clone()));
        if !resumable {
            for shard in self.shard_ids(config, target) {
                if let Some(id) = self.shard_sessions.remove(&shard)
                    && let Some(session) = self.sessions.get_mut(&id)
                {
                    session.resumable = false;
                }
            }
        }
        n
    }

    pub(crate) fn expire_session(&mut self, config: &MockConfig, target: Target) {
        for shard in self.shard_ids(config, target) {
            if let Some(session) = self.shard_sessions.get(&shard).and_then(|id| self.sessions.get_mut(id)) {
                session.resumable = false;
            }
        }
    }

    pub(crate) fn withhold_acks(&mut self, config: &MockConfig, target: Target, withhold: bool) {
        for shard in self.shard_ids(config, target) {
            if withhold {
                self.withheld.insert(shard);
            } else {
                self.withheld.remove(&shard);
            }
        }
    }

    pub(crate) fn refuse_resumes(&mut self, config: &MockConfig, target: Target, n: u32) {
        for shard in self.shard_ids(config, target) {
            self.refuse_resumes.insert(shard, n);
        }
    }

    pub(crate) fn connected(&self, shard: u32) -> bool {
        self.shard_sessions
            .get(&shard)
            .and_then(|id| self.sessions.get(id))
            .and_then(|s| s.conn)
            .is_some_and(|c| self.conns.contains_key(&c))
    }

    pub(crate) fn session_id(&self, shard: u32) -> Option<String> {
        self.shard_sessions.get(&shard).cloned()
    }

    pub(crate) fn last_seq(&self, shard: u32) -> Option<u64> {
        self.shard_sessions.get(&shard).and_then(|id| self.sessions.get(id)).map(|s| s.last_seq)
    }
}

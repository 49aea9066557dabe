//! The mock's shared state: the model of QQ (`qqgw_fake::Qq`), the connections' channels
//! and the record. Every protocol decision is the model's; this file carries its outputs
//! to the connections and writes what it observed into the [`Record`], under one lock,
//! so that sequence numbers, history and the frames queued to a connection always agree.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Utf8Bytes;
use qqgw_fake::{ConnId, Note, Output, Qq, Refusal, Target};
use qqgw_proto::CloseCode;
use tokio::sync::{Notify, mpsc};

use crate::config::MockConfig;
use crate::record::{
    Auth, ConnectionRecord, PacingViolation, ProtocolError, Record, TokenRequest, UNKNOWN_SHARD,
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

struct Conn {
    tx: mpsc::UnboundedSender<Command>,
    /// Heartbeats (indices into the record) received before authentication.
    unattributed: Vec<usize>,
}

pub(crate) struct State {
    pub(crate) qq: Qq,
    pub(crate) record: Record,
    conns: HashMap<ConnId, Conn>,
    /// The instant the model's clock counts from.
    epoch: Instant,
    /// The sending endpoints' state.
    pub(crate) api: crate::openapi::ApiState,
}

/// State shared by the handle, the HTTP server and the connection tasks.
pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    pub(crate) ws_addr: SocketAddr,
    state: Mutex<State>,
    /// Notified whenever the record changes.
    pub(crate) changed: Notify,
}

impl Shared {
    pub(crate) fn new(config: MockConfig, ws_addr: SocketAddr) -> Self {
        let epoch = Instant::now();
        let seed = u64::try_from(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
                & u128::from(u64::MAX),
        )
        .unwrap_or(1);
        let state = State {
            qq: Qq::new(config.qq(), seed, qqgw_proto::Instant::ZERO),
            record: Record::default(),
            conns: HashMap::new(),
            epoch,
            api: crate::openapi::ApiState::new(&config),
        };
        Self { config, ws_addr, state: Mutex::new(state), changed: Notify::new() }
    }

    pub(crate) fn gateway_url(&self) -> String {
        format!("ws://{}/websocket/", self.ws_addr)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` under the lock, carries out what the model asked for, then wakes everyone
    /// waiting for the record to change.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut State, &MockConfig) -> R) -> R {
        let result = {
            let mut state = self.lock();
            let result = f(&mut state, &self.config);
            state.carry_out(Instant::now());
            result
        };
        self.changed.notify_waiters();
        result
    }
}

impl State {
    /// `now` on the model's clock.
    pub(crate) fn at(&self, now: Instant) -> qqgw_proto::Instant {
        let elapsed = now.saturating_duration_since(self.epoch);
        qqgw_proto::Instant::from_millis(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }

    /// A model's instant as the record's.
    fn instant(&self, at: qqgw_proto::Instant) -> Instant {
        self.epoch + Duration::from_millis(at.as_millis())
    }

    /// Carries out the model's outputs: frames and closes to the connections' tasks,
    /// notes into the record.
    fn carry_out(&mut self, now: Instant) {
        while let Some(output) = self.qq.poll_output() {
            match output {
                Output::Send(conn, frame) => self.command(conn, Command::Text(frame.into())),
                Output::Close(conn, code) => self.command(conn, Command::Close(code.0)),
                Output::Drop(conn) => self.command(conn, Command::Drop),
                Output::Silence(conn) => self.command(conn, Command::Zombie),
                Output::Note(note) => self.note(note, now),
            }
        }
    }

    fn command(&self, conn: ConnId, command: Command) {
        if let Some(c) = self.conns.get(&conn) {
            // A closed channel means the connection is going away.
            let _ = c.tx.send(command);
        }
    }

    fn note(&mut self, note: Note, now: Instant) {
        match note {
            Note::Token { at, app_id, outcome } => {
                let at = self.instant(at);
                self.record.token_requests.push(TokenRequest { at, app_id, outcome });
            }
            Note::Heartbeat { conn, shard, seq, .. } => {
                let index = self.record.heartbeats.len();
                self.record.heartbeats.push((now, shard.unwrap_or(UNKNOWN_SHARD), seq));
                if let (None, Some(c)) = (shard, self.conns.get_mut(&conn)) {
                    c.unattributed.push(index);
                }
            }
            Note::Identify { conn, shard, intents, token, .. } => {
                self.set_auth(conn, Auth::Identify { shard, intents, token });
            }
            Note::Resume { conn, session_id, seq, token, .. } => {
                self.set_auth(conn, Auth::Resume { session_id, seq, token });
            }
            Note::Attached { conn, shard, session_id, ready, replayed } => {
                tracing::debug!(conn, shard, session_id, ready, replayed, "session attached");
                if let Some(c) = self.record.connections.get_mut(conn) {
                    c.shard = Some(shard);
                    c.session_id = Some(session_id);
                    c.ready = ready;
                }
                if let Some(c) = self.conns.get_mut(&conn) {
                    for index in c.unattributed.drain(..) {
                        if let Some(h) = self.record.heartbeats.get_mut(index) {
                            h.1 = shard;
                        }
                    }
                }
            }
            Note::Pacing { shard, kind, .. } => {
                self.record.pacing_violations.push(PacingViolation { at: now, shard, kind });
            }
            Note::ProtocolError { conn, shard, reason, frame, .. } => {
                tracing::debug!(conn, ?shard, %reason, "protocol error");
                self.record.protocol_errors.push(ProtocolError {
                    at: now,
                    connection: conn,
                    shard,
                    reason,
                    frame,
                });
            }
            Note::Filtered { shard, name } => {
                tracing::debug!(shard, name, "event not covered by the session's intents");
                self.record.filtered.push((shard, name));
            }
            _ => {}
        }
    }

    fn set_auth(&mut self, conn: ConnId, auth: Auth) {
        if let Some(c) = self.record.connections.get_mut(conn) {
            c.auth = Some(auth);
        }
    }

    // ---- HTTP ----------------------------------------------------------------------

    pub(crate) fn token_valid(&self, credential: &str, now: Instant) -> bool {
        self.qq.token_valid(credential, self.at(now))
    }

    /// `POST /app/getAppAccessToken`: returns the status and body.
    pub(crate) fn token_request(
        &mut self,
        _config: &MockConfig,
        now: Instant,
        json_content_type: bool,
        body: &[u8],
    ) -> (u16, String) {
        let at = self.at(now);
        self.qq.token_request(at, json_content_type, body)
    }

    /// `GET /gateway` and `GET /gateway/bot`.
    pub(crate) fn gateway(
        &mut self,
        shared: &Shared,
        now: Instant,
        authorization: Option<&str>,
        bot: bool,
    ) -> (u16, String) {
        let at = self.at(now);
        self.qq.gateway_info(at, authorization, bot, &shared.gateway_url())
    }

    // ---- connections -----------------------------------------------------------------

    pub(crate) fn open_connection(&mut self, now: Instant, tx: mpsc::UnboundedSender<Command>) -> ConnId {
        let at = self.at(now);
        // The mock refuses no connection: `open` always has one for it.
        let conn = self.qq.open(at).unwrap_or(self.record.connections.len());
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
        self.conns.insert(conn, Conn { tx, unattributed: Vec::new() });
        conn
    }

    /// The connection's task is ready to greet the client.
    pub(crate) fn hello(&mut self, conn: ConnId) {
        self.qq.hello(conn);
    }

    pub(crate) fn connection_closed(&mut self, conn: ConnId, now: Instant) {
        let at = self.at(now);
        self.qq.closed(at, conn);
        self.conns.remove(&conn);
        if let Some(c) = self.record.connections.get_mut(conn) {
            c.closed_at.get_or_insert(now);
        }
    }

    pub(crate) fn closed_by_client(&mut self, conn: ConnId, code: Option<u16>) {
        if let Some(c) = self.record.connections.get_mut(conn) {
            c.close_code_sent_by_client = code;
        }
    }

    pub(crate) fn closed_by_server(&mut self, conn: ConnId, code: Option<u16>) {
        if let Some(c) = self.record.connections.get_mut(conn) {
            match code {
                Some(code) => c.close_code_sent_by_server = Some(code),
                None => c.dropped_by_server = true,
            }
        }
    }

    pub(crate) fn binary_from_client(&mut self, conn: ConnId, now: Instant, bytes: &[u8]) {
        let at = self.at(now);
        self.qq.on_binary(at, conn, bytes);
    }

    /// A text frame from the client.
    pub(crate) fn on_text(&mut self, conn: ConnId, now: Instant, text: &str) {
        let at = self.at(now);
        self.qq.on_text(at, conn, text);
    }

    // ---- scripting -------------------------------------------------------------------

    /// Sends a dispatch on `shard`'s current session with `d` as JSON text; 0 if it has
    /// none or its intents do not cover the event. The sending endpoints learn of it, so
    /// that replies to it can be checked.
    pub(crate) fn dispatch_json(&mut self, shard: u32, name: &str, id: Option<&str>, d: &str) -> u64 {
        let Some(sent) = self.qq.dispatch(shard, name, id, d) else { return 0 };
        self.api.dispatched(name, &sent.id, d, Instant::now());
        sent.seq
    }

    pub(crate) fn dispatch_to(&mut self, config: &MockConfig, target: Target, name: &str, d: &str) -> u64 {
        let shards: Vec<u32> = match target {
            Target::Shard(id) => vec![id],
            _ => (0..config.shards).collect(),
        };
        shards.into_iter().map(|s| self.dispatch_json(s, name, None, d)).max().unwrap_or(0)
    }

    pub(crate) fn close(&mut self, target: Target, code: u16) -> usize {
        self.qq.close(target, CloseCode(code))
    }

    pub(crate) fn drop_connection(&mut self, target: Target) -> usize {
        self.qq.drop_connection(target)
    }

    pub(crate) fn zombie(&mut self, target: Target) -> usize {
        let at = self.at(Instant::now());
        self.qq.silence(at, target)
    }

    pub(crate) fn send_raw(&mut self, target: Target, text: &str) -> usize {
        self.qq.send_raw(target, text)
    }

    /// Sends a binary frame (the model speaks text only: this is the transport's).
    pub(crate) fn send_binary(&mut self, target: Target, bytes: &[u8]) -> usize {
        let conns: Vec<ConnId> = self
            .conns
            .keys()
            .copied()
            .filter(|&c| match target {
                Target::All => true,
                Target::Conn(id) => id == c,
                Target::Shard(shard) => self.qq.shard_of(c) == Some(shard),
            })
            .collect();
        for &conn in &conns {
            self.command(conn, Command::Binary(bytes.to_vec()));
        }
        conns.len()
    }

    pub(crate) fn refuse_resumes(&mut self, target: Target, n: u32) {
        self.qq.refuse_resumes(target, Refusal::InvalidSession { resumable: false }, n);
    }

    pub(crate) fn connected(&self, shard: u32) -> bool {
        self.qq.connected(shard)
    }

    pub(crate) fn session_id(&self, shard: u32) -> Option<String> {
        self.qq.session_id(shard).map(str::to_owned)
    }

    pub(crate) fn last_seq(&self, shard: u32) -> Option<u64> {
        self.qq.last_seq(shard)
    }
}

//! The simulated QQ: sessions with sequence numbers and replay buffers, the
//! `session_start_limit`, the token endpoint, and the connections' frames in flight.

use std::collections::{BTreeMap, VecDeque};

use core::time::Duration;
use serde::Deserialize;

use super::{Ev, Sched};
use crate::close::{CloseAction, CloseCode, CloseFrame};
use crate::envelope::Envelope;
use crate::limiter::{IDENTIFY_WINDOW, SessionStartLimit};
use crate::opcode::OpCode;
use crate::rng::Rng;
use crate::time::Instant;
use crate::token::{AccessToken, TOKEN_REFRESH_MARGIN};

/// How long QQ's access tokens live (`expires_in` of the token endpoint).
pub(super) const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
/// The heartbeat interval QQ sends in HELLO.
pub(super) const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(41_250);
/// How long a session with no connection stays resumable.
pub(super) const RESUME_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How many events of a session QQ keeps for replay.
pub(super) const REPLAY_CAP: u64 = 20_000;
/// How often `remaining` resets to `total`.
pub(super) const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// A session's first sequence number is READY's; events follow it.
pub(super) const FIRST_EVENT_SEQ: u64 = 2;

/// Something QQ sends on a connection.
#[derive(Debug, Clone)]
pub(super) enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Close(CloseFrame<'static>),
    /// The TCP connection ends without a close frame.
    Drop,
}

/// One connection, as QQ sees it, with the frames on their way to the client.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) shard: usize,
    /// The process incarnation that opened it.
    pub(super) epoch: u64,
    /// QQ still sends and reads on it.
    pub(super) open: bool,
    /// QQ went silent on it (a half-open link).
    pub(super) zombie: bool,
    /// The session it carries, once READY or RESUMED was sent.
    pub(super) session: Option<u32>,
    /// IDENTIFY or RESUME received.
    pub(super) authenticated: bool,
    latency: Duration,
    /// Frames in flight to the client, with when each can be read.
    pub(super) queue: VecDeque<(Instant, Msg)>,
}

/// One session, as QQ keeps it.
#[derive(Debug)]
pub(super) struct SrvSession {
    pub(super) shard: usize,
    /// The last sequence number used.
    pub(super) seq: u64,
    /// The oldest sequence number still kept for replay.
    first_retained: u64,
    attached: Option<u64>,
    detached_at: Instant,
    pub(super) alive: bool,
    /// When READY was sent.
    pub(super) created: Instant,
}

/// Counters of what QQ saw.
#[derive(Debug, Default, Clone)]
pub(super) struct QqStats {
    pub(super) identifies: u64,
    pub(super) resumes: u64,
    pub(super) resumes_refused: u64,
    pub(super) resumable_op9: u64,
    pub(super) closes: u64,
    pub(super) flaps: u64,
    pub(super) resumes_expired: u64,
    pub(super) resumes_too_old: u64,
    pub(super) auth_failures: u64,
    pub(super) tokens_issued: u64,
    pub(super) replayed: u64,
    /// IDENTIFYs over `max_concurrency` whose window held one of an earlier process: a
    /// restarted process cannot know of it (its pacer starts from `/gateway/bot`).
    pub(super) pacing_across_restart: u64,
    pub(super) max_queue: usize,
}

/// The simulated QQ.
#[derive(Debug)]
pub(super) struct Qq {
    pub(super) conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    pub(super) sessions: Vec<SrvSession>,
    shard_session: Vec<Option<u32>>,
    /// The next RESUME of each shard is refused.
    pub(super) refuse_next_resume: Vec<bool>,
    /// Until when each shard's connections are closed right after READY or RESUMED.
    pub(super) flap_until: Vec<Instant>,
    identify_log: VecDeque<(Instant, u64)>,
    limit: SessionStartLimit,
    reset_at: Instant,
    tokens: VecDeque<AccessToken>,
    /// Rule breaks by the client: each fails the run.
    pub(super) violations: Vec<String>,
    pub(super) stats: QqStats,
}

#[derive(Deserialize)]
struct IdentifyD {
    token: String,
}

#[derive(Deserialize)]
struct ResumeD {
    token: String,
    session_id: String,
    seq: u64,
}

/// The frame of event `seq` of session `session`: its id names both.
pub(super) fn event_frame(session: u32, seq: u64) -> String {
    format!(
        r#"{{"op":{},"s":{seq},"t":"AT_MESSAGE_CREATE","id":"E{session}-{seq}","d":{{"content":"hi"}}}}"#,
        OpCode::Dispatch.as_u8()
    )
}

/// The session and sequence number an event id names.
pub(super) fn parse_event_id(id: &str) -> Option<(u32, u64)> {
    let (session, seq) = id.strip_prefix('E')?.split_once('-')?;
    Some((session.parse().ok()?, seq.parse().ok()?))
}

/// The index of a session id QQ handed out.
pub(super) fn parse_session_id(id: &str) -> Option<u32> {
    id.strip_prefix('S')?.parse().ok()
}

impl Qq {
    pub(super) fn new(shards: usize, limit: SessionStartLimit, now: Instant) -> Self {
        Self {
            conns: BTreeMap::new(),
            next_conn: 1,
            sessions: Vec::new(),
            shard_session: vec![None; shards],
            refuse_next_resume: vec![false; shards],
            flap_until: vec![now; shards],
            identify_log: VecDeque::new(),
            limit,
            reset_at: now + Duration::from_millis(limit.reset_after),
            tokens: VecDeque::new(),
            violations: Vec::new(),
            stats: QqStats::default(),
        }
    }

    fn roll_day(&mut self, now: Instant) {
        while now >= self.reset_at {
            self.limit.remaining = self.limit.total;
            self.reset_at += DAY;
        }
    }

    /// What `GET /gateway/bot` answers now.
    pub(super) fn session_start_limit(&mut self, now: Instant) -> SessionStartLimit {
        self.roll_day(now);
        SessionStartLimit {
            reset_after: u64::try_from(self.reset_at.saturating_duration_since(now).as_millis())
                .unwrap_or(u64::MAX),
            ..self.limit
        }
    }

    /// IDENTIFYs left today.
    pub(super) fn remaining(&mut self, now: Instant) -> u32 {
        self.roll_day(now);
        self.limit.remaining
    }

    /// The token endpoint: the current token, or a new one once the current one is in its
    /// last [`TOKEN_REFRESH_MARGIN`] (the old one stays valid until it expires).
    pub(super) fn issue_token(&mut self, now: Instant) -> AccessToken {
        if let Some(current) = self.tokens.back() {
            if now + TOKEN_REFRESH_MARGIN < current.expires_at() {
                return current.clone();
            }
        }
        self.stats.tokens_issued += 1;
        let token = AccessToken::new(format!("tok-{}", self.stats.tokens_issued), now + TOKEN_LIFETIME);
        self.tokens.push_back(token.clone());
        while self.tokens.len() > 3 {
            self.tokens.pop_front();
        }
        token
    }

    fn token_valid(&self, authorization: &str, now: Instant) -> bool {
        self.tokens.iter().any(|t| t.expires_at() > now && t.authorization() == authorization)
    }

    /// A new connection of `shard`: QQ greets it with HELLO.
    pub(super) fn open(&mut self, sched: &mut Sched, rng: &mut Rng, shard: usize, epoch: u64) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        let latency = Duration::from_millis(10 + rng.up_to(290));
        let conn = Conn {
            shard,
            epoch,
            open: true,
            zombie: false,
            session: None,
            authenticated: false,
            latency,
            queue: VecDeque::new(),
        };
        self.conns.insert(id, conn);
        let hello = format!(
            r#"{{"op":{},"d":{{"heartbeat_interval":{}}}}}"#,
            OpCode::Hello.as_u8(),
            HEARTBEAT_INTERVAL.as_millis()
        );
        self.push(sched, id, Msg::Text(hello));
        id
    }

    /// Puts a frame on its way to the client.
    pub(super) fn push(&mut self, sched: &mut Sched, id: u64, msg: Msg) {
        let now = sched.now;
        let Some(conn) = self.conns.get_mut(&id) else { return };
        let at = now + conn.latency;
        if conn.queue.is_empty() {
            sched.at(at, Ev::Pump(id));
        }
        conn.queue.push_back((at, msg));
        self.stats.max_queue = self.stats.max_queue.max(conn.queue.len());
    }

    fn detach(&mut self, id: u64, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else { return };
        conn.open = false;
        if let Some(s) = conn.session.take() {
            if let Some(session) = self.sessions.get_mut(s as usize) {
                if session.attached == Some(id) {
                    session.attached = None;
                    session.detached_at = now;
                }
            }
        }
    }

    /// The client dropped the socket (or its process died).
    pub(super) fn abandoned(&mut self, id: u64, now: Instant) {
        self.detach(id, now);
        self.conns.remove(&id);
    }

    /// The client read the connection's last frame.
    pub(super) fn finished(&mut self, id: u64, now: Instant) {
        self.abandoned(id, now);
    }

    /// The client sent a close frame: QQ answers it and stops.
    pub(super) fn client_close(&mut self, sched: &mut Sched, id: u64, frame: CloseFrame<'static>) {
        let Some(conn) = self.conns.get(&id) else { return };
        if conn.open && !conn.zombie {
            self.push(sched, id, Msg::Close(frame));
        }
        self.detach(id, sched.now);
    }

    /// A TCP drop: what was in flight is lost.
    pub(super) fn drop_conn(&mut self, sched: &mut Sched, id: u64) -> bool {
        let Some(conn) = self.conns.get_mut(&id) else { return false };
        if !conn.open {
            return false;
        }
        conn.queue.clear();
        self.push(sched, id, Msg::Drop);
        self.detach(id, sched.now);
        true
    }

    /// QQ goes silent on the connection: nothing more is sent or read.
    pub(super) fn zombify(&mut self, now: Instant, id: u64) -> bool {
        let Some(conn) = self.conns.get_mut(&id) else { return false };
        if !conn.open {
            return false;
        }
        conn.zombie = true;
        conn.queue.clear();
        self.detach(id, now);
        true
    }

    /// QQ rotates the session of the connection: op 7, or a close with 4009.
    pub(super) fn rotate(&mut self, sched: &mut Sched, rng: &mut Rng, id: u64) -> bool {
        let Some(conn) = self.conns.get(&id) else { return false };
        if !conn.open || conn.session.is_none() {
            return false;
        }
        if rng.up_to(1) == 0 {
            let op7 = format!(r#"{{"op":{}}}"#, OpCode::Reconnect.as_u8());
            self.push(sched, id, Msg::Text(op7));
        } else {
            let code = CloseCode::SESSION_TIMED_OUT;
            self.push(sched, id, Msg::Close(CloseFrame::new(code, code.description())));
            self.detach(id, sched.now);
        }
        true
    }

    /// QQ closes the connection with `code`; a code whose action is to IDENTIFY ends the
    /// session too.
    pub(super) fn close_conn(&mut self, sched: &mut Sched, id: u64, code: CloseCode) -> bool {
        let Some(conn) = self.conns.get(&id) else { return false };
        if !conn.open {
            return false;
        }
        if code.action() == CloseAction::Identify {
            if let Some(s) = conn.session {
                self.kill_session(s);
            }
        }
        self.stats.closes += 1;
        self.close_with(sched, id, code);
        true
    }

    /// While the shard flaps, QQ ends every connection right after READY or RESUMED.
    fn flap(&mut self, sched: &mut Sched, id: u64, shard: usize) {
        if self.flap_until.get(shard).is_some_and(|&until| sched.now < until) {
            self.stats.flaps += 1;
            self.close_with(sched, id, CloseCode::SESSION_TIMED_OUT);
        }
    }

    /// Sends a frame as it is, on an open connection.
    pub(super) fn send_raw(&mut self, sched: &mut Sched, id: u64, msg: Msg) -> bool {
        if !self.conns.get(&id).is_some_and(|c| c.open) {
            return false;
        }
        self.push(sched, id, msg);
        true
    }

    /// QQ generates the next event of `shard`'s live session; returns its session and
    /// sequence number (none if the shard has no live session).
    pub(super) fn generate(&mut self, sched: &mut Sched, shard: usize) -> Option<(u32, u64)> {
        let s = self.shard_session.get(shard).copied().flatten()?;
        let session = self.sessions.get_mut(s as usize)?;
        if !session.alive {
            return None;
        }
        session.seq += 1;
        let seq = session.seq;
        if seq - session.first_retained >= REPLAY_CAP {
            session.first_retained = seq + 1 - REPLAY_CAP;
        }
        if let Some(id) = session.attached {
            if self.conns.get(&id).is_some_and(|c| c.open) {
                self.push(sched, id, Msg::Text(event_frame(s, seq)));
            }
        }
        Some((s, seq))
    }

    fn kill_session(&mut self, s: u32) {
        if let Some(session) = self.sessions.get_mut(s as usize) {
            session.alive = false;
            let shard = session.shard;
            if self.shard_session.get(shard).copied().flatten() == Some(s) {
                self.shard_session[shard] = None;
            }
        }
    }

    fn close_with(&mut self, sched: &mut Sched, id: u64, code: CloseCode) {
        self.push(sched, id, Msg::Close(CloseFrame::new(code, code.description())));
        self.detach(id, sched.now);
    }

    /// A frame from the client, read at once. Returns the session started (IDENTIFY) or
    /// resumed, so the caller can plan its rotation.
    pub(super) fn client_text(
        &mut self,
        sched: &mut Sched,
        rng: &mut Rng,
        id: u64,
        text: &str,
        epoch: u64,
    ) -> Option<(u32, bool)> {
        let conn = self.conns.get(&id)?;
        if !conn.open || conn.zombie {
            return None;
        }
        let shard = conn.shard;
        let authenticated = conn.authenticated;
        let Ok(env) = Envelope::parse(text) else {
            self.violations.push(format!("shard {shard} sent a frame QQ cannot read: {text}"));
            return None;
        };
        let d = env.d.map_or("null", serde_json::value::RawValue::get);
        match OpCode::from_u64(env.op) {
            Some(OpCode::Heartbeat) => {
                let ack = format!(r#"{{"op":{}}}"#, OpCode::HeartbeatAck.as_u8());
                self.push(sched, id, Msg::Text(ack));
                None
            }
            Some(op @ (OpCode::Identify | OpCode::Resume)) if authenticated => {
                self.violations.push(format!("shard {shard} sent a second {op:?} on one connection"));
                None
            }
            Some(OpCode::Identify) => {
                let Ok(identify) = serde_json::from_str::<IdentifyD>(d) else {
                    self.violations.push(format!("shard {shard} sent an unreadable IDENTIFY"));
                    return None;
                };
                self.identify(sched, id, shard, &identify.token, epoch).map(|s| (s, true))
            }
            Some(OpCode::Resume) => {
                let Ok(resume) = serde_json::from_str::<ResumeD>(d) else {
                    self.violations.push(format!("shard {shard} sent an unreadable RESUME"));
                    return None;
                };
                self.resume(sched, rng, id, shard, &resume).map(|s| (s, false))
            }
            _ => {
                self.violations.push(format!("shard {shard} sent op {}", env.op));
                None
            }
        }
    }

    fn identify(&mut self, sched: &mut Sched, id: u64, shard: usize, token: &str, epoch: u64) -> Option<u32> {
        let now = sched.now;
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.authenticated = true;
        }
        if !self.token_valid(token, now) {
            self.stats.auth_failures += 1;
            self.close_with(sched, id, CloseCode::AUTHENTICATION_FAILED);
            return None;
        }
        // max_concurrency per IDENTIFY_WINDOW, counted from each IDENTIFY.
        while self.identify_log.front().is_some_and(|&(at, _)| at + IDENTIFY_WINDOW <= now) {
            self.identify_log.pop_front();
        }
        let in_window = self.identify_log.len();
        if in_window >= self.limit.max_concurrency.max(1) as usize {
            if self.identify_log.iter().any(|&(_, e)| e != epoch) {
                self.stats.pacing_across_restart += 1;
            } else {
                let log: Vec<u64> = self.identify_log.iter().map(|(at, _)| at.as_millis()).collect();
                self.violations.push(format!(
                    "shard {shard}: IDENTIFY at {now} over max_concurrency {} (window holds IDENTIFYs at {log:?} ms)",
                    self.limit.max_concurrency
                ));
            }
        }
        self.identify_log.push_back((now, epoch));
        self.roll_day(now);
        if self.limit.remaining == 0 {
            self.violations.push(format!("shard {shard}: IDENTIFY at {now} with the daily budget spent"));
        }
        self.limit.remaining = self.limit.remaining.saturating_sub(1);
        self.stats.identifies += 1;
        if let Some(old) = self.shard_session.get(shard).copied().flatten() {
            self.kill_session(old);
        }
        let s = u32::try_from(self.sessions.len()).unwrap_or(u32::MAX);
        self.sessions.push(SrvSession {
            shard,
            seq: 1,
            first_retained: 1,
            attached: Some(id),
            detached_at: now,
            alive: true,
            created: now,
        });
        self.shard_session[shard] = Some(s);
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.session = Some(s);
        }
        let ready = format!(
            r#"{{"op":{},"s":1,"t":"READY","d":{{"version":1,"session_id":"S{s}","user":{{"id":"1","username":"sim","bot":true}},"shard":[{shard},0]}}}}"#,
            OpCode::Dispatch.as_u8()
        );
        self.push(sched, id, Msg::Text(ready));
        self.flap(sched, id, shard);
        Some(s)
    }

    fn resume(
        &mut self,
        sched: &mut Sched,
        rng: &mut Rng,
        id: u64,
        shard: usize,
        resume: &ResumeD,
    ) -> Option<u32> {
        let now = sched.now;
        self.stats.resumes += 1;
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.authenticated = true;
        }
        if !self.token_valid(&resume.token, now) {
            self.stats.auth_failures += 1;
            self.close_with(sched, id, CloseCode::AUTHENTICATION_FAILED);
            return None;
        }
        let found = parse_session_id(&resume.session_id)
            .filter(|&s| self.sessions.get(s as usize).is_some_and(|x| x.shard == shard));
        let Some(s) = found else {
            self.violations
                .push(format!("shard {shard} resumed a session QQ never gave it: {}", resume.session_id));
            return None;
        };
        let session = &self.sessions[s as usize];
        if session.alive && session.attached.is_none() && session.detached_at + RESUME_TIMEOUT < now {
            self.stats.resumes_expired += 1;
            self.kill_session(s);
        }
        let session = &self.sessions[s as usize];
        let (alive, last, first_retained, attached) =
            (session.alive, session.seq, session.first_retained, session.attached);
        if resume.seq > last {
            self.violations.push(format!(
                "shard {shard} resumed {} from seq {} past QQ's last {}",
                resume.session_id, resume.seq, last
            ));
        }
        let refuse = std::mem::take(&mut self.refuse_next_resume[shard]);
        if !alive || refuse {
            self.stats.resumes_refused += u64::from(refuse && alive);
            match rng.up_to(4) {
                // "You may resume": the session lives on, the next RESUME gets through.
                4 if alive => {
                    self.stats.resumes_refused -= 1;
                    self.stats.resumable_op9 += 1;
                    let op9 = format!(r#"{{"op":{},"d":true}}"#, OpCode::InvalidSession.as_u8());
                    self.push(sched, id, Msg::Text(op9));
                    return None;
                }
                _ => self.kill_session(s),
            }
            match rng.up_to(3) {
                0 => {
                    let op9 = format!(r#"{{"op":{},"d":false}}"#, OpCode::InvalidSession.as_u8());
                    self.push(sched, id, Msg::Text(op9));
                }
                1 => self.close_with(sched, id, CloseCode::INVALID_SESSION),
                2 => self.close_with(sched, id, CloseCode::INVALID_SEQ),
                _ => {
                    let span =
                        u64::from(CloseCode::INTERNAL_ERROR_LAST.0 - CloseCode::INTERNAL_ERROR_FIRST.0);
                    let code =
                        CloseCode::INTERNAL_ERROR_FIRST.0 + u16::try_from(rng.up_to(span)).unwrap_or(0);
                    self.close_with(sched, id, CloseCode(code));
                }
            }
            return None;
        }
        if resume.seq + 1 < first_retained {
            self.stats.resumes_too_old += 1;
            self.kill_session(s);
            self.close_with(sched, id, CloseCode::INVALID_SEQ);
            return None;
        }
        let (from, to) = (resume.seq.max(FIRST_EVENT_SEQ - 1) + 1, last);
        // Another connection still holding the session loses it.
        if let Some(other) = attached {
            if let Some(conn) = self.conns.get_mut(&other) {
                conn.session = None;
            }
        }
        self.sessions[s as usize].attached = Some(id);
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.session = Some(s);
        }
        for seq in from..=to {
            self.push(sched, id, Msg::Text(event_frame(s, seq)));
        }
        self.stats.replayed += (to + 1).saturating_sub(from);
        let resumed = format!(r#"{{"op":{},"t":"RESUMED","d":""}}"#, OpCode::Dispatch.as_u8());
        self.push(sched, id, Msg::Text(resumed));
        self.flap(sched, id, shard);
        Some(s)
    }

    /// Every connection of an earlier process is gone (its sockets died with it).
    pub(super) fn process_died(&mut self, now: Instant, epoch: u64) {
        let ids: Vec<u64> = self.conns.iter().filter(|(_, c)| c.epoch == epoch).map(|(&id, _)| id).collect();
        for id in ids {
            self.abandoned(id, now);
        }
    }

    /// The latest frame of a queue that may be read at `now`.
    pub(super) fn pop_ready(&mut self, id: u64, now: Instant) -> Option<Msg> {
        let conn = self.conns.get_mut(&id)?;
        if conn.queue.front().is_some_and(|(at, _)| *at <= now) {
            return conn.queue.pop_front().map(|(_, m)| m);
        }
        None
    }

    /// When the next frame of a queue can be read.
    pub(super) fn next_ready(&self, id: u64) -> Option<Instant> {
        self.conns.get(&id)?.queue.front().map(|(at, _)| *at)
    }

    /// The live session of a shard, if any.
    pub(super) fn live_session(&self, shard: usize) -> Option<u32> {
        self.shard_session.get(shard).copied().flatten()
    }

    /// QQ's last sequence number of session `s`.
    pub(super) fn seq_of(&self, s: u32) -> u64 {
        self.sessions.get(s as usize).map_or(0, |x| x.seq)
    }
}

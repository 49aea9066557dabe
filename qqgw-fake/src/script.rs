//! What a test or a simulation makes QQ do: send events, misbehave, refuse — and what it
//! can ask QQ's state.

use qqgw_proto::model::EventKind;
use qqgw_proto::testing::frames;
use qqgw_proto::{CloseAction, CloseCode, Instant, Intents};

use crate::output::{ConnId, Note, Output};
use crate::qq::{Qq, Refusal, Target};

/// An event the model sent (or kept for replay): its sequence number and event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    /// `s`.
    pub seq: u64,
    /// The event id (`id` of the frame).
    pub id: String,
}

/// Whether a session IDENTIFYed with `intents` receives the event `name`: known events
/// only if their intent is among `intents`; READY, RESUMED and names qqgw does not know
/// always (the model cannot tell).
fn covers(intents: Intents, name: &str) -> bool {
    EventKind::from_name(name).intent().is_none_or(|needed| intents.contains(needed))
}

impl Qq {
    // ---- events -------------------------------------------------------------------

    /// Sends the event `name` with data `d` (JSON text) on `shard`'s live session, with
    /// event id `id` (or `"{name}:{uuid}"`): its `s` and id. The event is kept for replay
    /// whether or not a connection serves the session: this is how events sent while the
    /// bot is away are scripted. `None`, sending nothing, if the shard has no live
    /// session, or if its intents do not cover the event (noted as [`Note::Filtered`]).
    pub fn dispatch(&mut self, shard: u32, name: &str, id: Option<&str>, d: &str) -> Option<Dispatched> {
        let session_id = self.shard_sessions.get(&shard).cloned()?;
        let intents = self.sessions.get(&session_id)?.intents;
        if !covers(intents, name) {
            self.note(Note::Filtered { shard, name: name.to_owned() });
            return None;
        }
        let id = match id {
            Some(id) => id.to_owned(),
            None => format!("{name}:{}", self.ids.uuid()),
        };
        let capacity = self.config.replay_capacity;
        let session = self.sessions.get_mut(&session_id)?;
        let seq = session.next_seq();
        let frame = frames::dispatch(name, Some(seq), Some(&id), d);
        let conn = session.conn.filter(|c| self.conns.get(c).is_some_and(|c| !c.silent));
        session.keep(seq, frame.clone(), capacity);
        if let Some(conn) = conn {
            self.out.push_back(Output::Send(conn, frame));
        }
        Some(Dispatched { seq, id })
    }

    /// How many shards QQ announces ([`QqConfig::shards`](crate::QqConfig::shards)).
    #[must_use]
    pub fn shards(&self) -> u32 {
        self.config.shards
    }

    // ---- faults -------------------------------------------------------------------

    /// The open connections `target` matches.
    fn targets(&self, target: Target) -> Vec<ConnId> {
        let mut conns: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(id, c)| match target {
                Target::All => true,
                Target::Conn(conn) => **id == conn,
                Target::Shard(shard) => c.shard == Some(shard),
            })
            .map(|(id, _)| *id)
            .collect();
        conns.sort_unstable();
        conns
    }

    /// The shards `target` names (for a connection: the shard it serves, if any).
    fn target_shards(&self, target: Target) -> Vec<u32> {
        match target {
            Target::All => (0..self.config.shards).collect(),
            Target::Shard(shard) => vec![shard],
            Target::Conn(conn) => self.conns.get(&conn).and_then(|c| c.shard).into_iter().collect(),
        }
    }

    /// Closes the connections `target` matches with `code`; a code whose action is to
    /// IDENTIFY ([`CloseCode::action`]) ends their sessions too. Returns how many.
    pub fn close(&mut self, target: Target, code: CloseCode) -> usize {
        let conns = self.targets(target);
        for &conn in &conns {
            if code.action() == CloseAction::Identify {
                self.end_session_of(conn);
            }
            self.close_conn(conn, code);
        }
        conns.len()
    }

    /// Drops the connections `target` matches without a close frame (frames in flight
    /// are the transport's to lose). Returns how many.
    pub fn drop_connection(&mut self, target: Target) -> usize {
        let conns = self.targets(target);
        self.out.extend(conns.iter().map(|&c| Output::Drop(c)));
        conns.len()
    }

    /// QQ goes silent on the connections `target` matches: it reads what the client sends,
    /// answers nothing, sends nothing more, and keeps them open — a dead link, as the
    /// client sees it. Their sessions wait for a RESUME. Returns how many.
    pub fn silence(&mut self, now: Instant, target: Target) -> usize {
        let conns = self.targets(target);
        for &conn in &conns {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.silent = true;
            }
            for session in self.sessions.values_mut().filter(|s| s.conn == Some(conn)) {
                session.detach(now);
            }
            self.out.push_back(Output::Silence(conn));
        }
        conns.len()
    }

    /// Asks the connections `target` matches to reconnect (op 7). Returns how many.
    pub fn reconnect(&mut self, target: Target) -> usize {
        let conns = self.targets(target);
        for &conn in &conns {
            self.send(conn, frames::reconnect());
        }
        conns.len()
    }

    /// Sends op 9 with `d = resumable` to the connections `target` matches; a
    /// non-resumable one ends their shards' sessions. Returns how many connections.
    pub fn invalid_session(&mut self, target: Target, resumable: bool) -> usize {
        let conns = self.targets(target);
        for &conn in &conns {
            self.send(conn, frames::invalid_session(resumable));
        }
        if !resumable {
            for shard in self.target_shards(target) {
                if let Some(id) = self.shard_sessions.get(&shard).cloned() {
                    self.end_session(&id);
                }
            }
        }
        conns.len()
    }

    /// Sends a frame as it is (garbage included) to the connections `target` matches.
    /// Returns how many.
    pub fn send_raw(&mut self, target: Target, frame: &str) -> usize {
        let conns = self.targets(target);
        for &conn in &conns {
            self.send(conn, frame.to_owned());
        }
        conns.len()
    }

    /// Ends the live sessions of the shards `target` names: a RESUME of them is answered
    /// op 9 `false` (the connections stay open).
    pub fn expire_session(&mut self, target: Target) {
        for shard in self.target_shards(target) {
            if let Some(id) = self.shard_sessions.get(&shard).cloned() {
                self.end_session(&id);
            }
        }
    }

    /// While `withhold`, heartbeats of the shards `target` names go unanswered.
    pub fn withhold_acks(&mut self, target: Target, withhold: bool) {
        for shard in self.target_shards(target) {
            if withhold {
                self.withheld.insert(shard);
            } else {
                self.withheld.remove(&shard);
            }
        }
    }

    /// The next `n` RESUMEs of the shards `target` names are refused as `refusal` says
    /// (replacing what was scripted before).
    pub fn refuse_resumes(&mut self, target: Target, refusal: Refusal, n: u32) {
        for shard in self.target_shards(target) {
            let queue = self.refusals.entry(shard).or_default();
            queue.clear();
            queue.extend((0..n).map(|_| refusal));
        }
    }

    /// Until `until`, every connection of `shard` is closed with 4009 right after READY or
    /// RESUMED: a flapping server.
    pub fn flap(&mut self, shard: u32, until: Instant) {
        self.flapping.insert(shard, until);
    }

    /// The next `n` connections are refused ([`open`](Self::open) answers `None`).
    pub fn refuse_connects(&mut self, n: u32) {
        self.refused_connects = n;
    }

    /// While `reject`, the token endpoint refuses every request with
    /// `{"code":100016,"message":"invalid appid or secret"}`.
    pub fn reject_credentials(&mut self, reject: bool) {
        self.tokens.reject_credentials(reject);
    }

    /// The next `n` token requests fail with HTTP 500.
    pub fn fail_token_requests(&mut self, n: u32) {
        self.tokens.fail(n);
    }

    /// The next `n` token requests are answered with QQ's rate limit,
    /// `{"code":100001,"message":"too many requests"}` (alternately HTTP 200 and 429).
    pub fn rate_limit_token_requests(&mut self, n: u32) {
        self.tokens.rate_limit(n);
    }

    /// Every token issued so far expires at `now`: IDENTIFY and RESUME with them are
    /// closed with 4004, and the next token request issues a new token.
    pub fn expire_tokens(&mut self, now: Instant) {
        self.tokens.expire_all(now);
    }

    fn end_session_of(&mut self, conn: ConnId) {
        let ids: Vec<String> =
            self.sessions.iter().filter(|(_, s)| s.conn == Some(conn)).map(|(id, _)| id.clone()).collect();
        for id in ids {
            self.end_session(&id);
        }
    }

    // ---- state --------------------------------------------------------------------

    /// Whether a connection serves `shard`'s live session.
    #[must_use]
    pub fn connected(&self, shard: u32) -> bool {
        self.live(shard).and_then(|s| s.conn).is_some_and(|c| self.conns.get(&c).is_some_and(|c| !c.silent))
    }

    /// The id of `shard`'s live session.
    #[must_use]
    pub fn session_id(&self, shard: u32) -> Option<&str> {
        self.shard_sessions.get(&shard).map(String::as_str)
    }

    /// The last sequence number of `shard`'s live session.
    #[must_use]
    pub fn last_seq(&self, shard: u32) -> Option<u64> {
        self.live(shard).map(|s| s.last_seq)
    }

    /// The shard `conn` serves, once READY or RESUMED was sent on it.
    #[must_use]
    pub fn shard_of(&self, conn: ConnId) -> Option<u32> {
        self.conns.get(&conn).and_then(|c| c.shard)
    }

    /// Whether `conn` is open (opened and not yet [`closed`](Self::closed)).
    #[must_use]
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    fn live(&self, shard: u32) -> Option<&crate::session::Session> {
        self.shard_sessions.get(&shard).and_then(|id| self.sessions.get(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QqConfig;

    #[test]
    fn closes_that_identify_end_the_session() {
        assert_eq!(CloseCode(4006).action(), CloseAction::Identify);
        let mut qq = Qq::new(QqConfig::default(), 1, Instant::ZERO);
        assert_eq!(qq.close(Target::All, CloseCode(4006)), 0);
        assert_eq!(qq.dispatch(0, "AT_MESSAGE_CREATE", None, "{}"), None, "no session yet");
        assert!(covers(Intents::GUILDS, "READY"));
        assert!(!covers(Intents::GUILDS, "GROUP_AT_MESSAGE_CREATE"));
        assert!(covers(Intents::empty(), "SOMETHING_NEW"));
    }

    #[test]
    fn an_ended_session_is_forgotten() {
        use std::time::Duration;

        let config = qqgw_proto::Config::builder("wss://fake/", Intents::non_privileged()).build().unwrap();
        let mut h = crate::Harness::new(config);
        for _ in 0..5 {
            h.run_for(Duration::from_secs(10));
            h.gateway.invalidate_session(false);
        }
        h.run_for(Duration::from_secs(10));
        assert_eq!(h.gateway.record.sessions.len(), 6, "each op 9 false started a session");
        assert_eq!(h.gateway.qq().sessions.len(), 1, "only the live one is kept");
    }
}

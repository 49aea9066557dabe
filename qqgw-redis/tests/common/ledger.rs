//! What a fault test sent through the mock QQ, and the verdict on what the workers got:
//! every event handled, or inside a reported gap — else lost.

use std::collections::HashSet;

use qqgw_mock::MockGateway;
use qqgw_proto::ShardId;
use qqgw_redis::{Gap, Keys};

use super::handler::Tally;

/// One event sent: its id (what the handler sees), its shard, session and sequence number.
#[derive(Debug, Clone)]
pub struct Sent {
    pub id: String,
    pub shard: u32,
    pub session: String,
    pub seq: u64,
}

#[derive(Default)]
pub struct Ledger {
    sent: Vec<Sent>,
}

/// What became of the events sent.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Events sent (with a session: those sent while a shard had none are not events).
    pub events: usize,
    /// Handled by a worker (once or more).
    pub handled: usize,
    /// Not handled, but inside a gap reported for their session.
    pub covered: usize,
    /// Neither: lost silently.
    pub lost: Vec<Sent>,
    /// Gaps reported to the workers' handlers.
    pub gaps: usize,
}

/// The gaps in the streams of a bot's shards, and the sessions their events belong to.
#[derive(Debug, Default)]
pub struct StreamGaps {
    pub gaps: Vec<(u32, Gap)>,
    pub sessions: HashSet<(u32, String)>,
}

/// Every gap in the streams of `shards` shards, with its shard.
pub fn stream_gaps(conn: &mut redis::Connection, keys: &Keys, shards: u32) -> StreamGaps {
    let mut found = StreamGaps::default();
    for id in 0..shards {
        let shard = ShardId::new(id, shards).unwrap();
        let reply: redis::streams::StreamRangeReply =
            redis::cmd("XRANGE").arg(keys.stream(shard)).arg("-").arg("+").query(conn).unwrap();
        for entry in &reply.ids {
            if let Some(gap) = entry.get::<String>(qqgw_redis::FIELD_GAP) {
                found.gaps.push((id, serde_json::from_str(&gap).unwrap()));
            }
            if let Some(session) = entry.get::<String>(qqgw_redis::FIELD_SESSION) {
                found.sessions.insert((id, session));
            }
        }
    }
    found
}

impl StreamGaps {
    /// Whether a gap says that `sent` may be missing: one of its session with
    /// `after < seq < next`, or one without a session (a session started that Redis never
    /// heard of) for an event of a session the stream does not know.
    fn cover(&self, sent: &Sent) -> bool {
        self.gaps.iter().any(|(shard, gap)| {
            *shard == sent.shard
                && match gap.session.as_deref() {
                    None | Some("") => !self.sessions.contains(&(sent.shard, sent.session.clone())),
                    Some(session) => {
                        session == sent.session
                            && sent.seq > gap.after
                            && gap.next.is_none_or(|next| sent.seq < next)
                    }
                }
        })
    }
}

impl Ledger {
    /// Sends an event on `shard`'s current session; `None` when the shard has none.
    pub fn dispatch(&mut self, mock: &MockGateway, shard: u32) -> Option<u64> {
        let session = mock.session_id(shard)?;
        let id = format!("TEST_EVENT:{shard}:{}", self.sent.len());
        let frame = format!(r#"{{"op":0,"t":"TEST_EVENT","id":"{id}","d":{{"n":{}}}}}"#, self.sent.len());
        let seq = mock.dispatch_frame(shard, &frame);
        if seq == 0 {
            return None;
        }
        self.sent.push(Sent { id, shard, session, seq });
        Some(seq)
    }

    pub fn sent(&self) -> &[Sent] {
        &self.sent
    }

    /// The verdict on the events sent, given what the workers handled (`tally`) and the
    /// gaps in the streams (`gaps`, from [`stream_gaps`]; a gap covers only the events it
    /// says may be missing: `after < seq < next`).
    pub fn verdict(&self, tally: &Tally, gaps: &StreamGaps) -> Verdict {
        let handled = tally.handled();
        let mut verdict = Verdict { events: self.sent.len(), gaps: tally.gaps().len(), ..Verdict::default() };
        for sent in &self.sent {
            if handled.contains_key(&sent.id) {
                verdict.handled += 1;
            } else if gaps.cover(sent) {
                verdict.covered += 1;
            } else {
                verdict.lost.push(sent.clone());
            }
        }
        verdict
    }
}

/// The figures line of a fault, as the crate README records them.
pub fn report(fault: &str, faults: usize, verdict: &Verdict) {
    println!(
        "fault-suite | {fault} | faults {faults} | events {} | handled {} | in gaps {} | lost {} | gaps reported {}",
        verdict.events,
        verdict.handled,
        verdict.covered,
        verdict.lost.len(),
        verdict.gaps
    );
}

/// How many times each fault is injected: `QQGW_REDIS_FAULT_RUNS`, else `default` (CI).
pub fn runs(default: usize) -> usize {
    std::env::var("QQGW_REDIS_FAULT_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

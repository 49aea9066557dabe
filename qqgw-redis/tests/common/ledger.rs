//! What a fault test sent through the mock QQ, and the verdict on what the workers got:
//! every event handled, or inside a reported gap — else lost.

use std::collections::HashMap;

use qqgw_mock::MockGateway;

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
    /// Gaps reported.
    pub gaps: usize,
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

    pub fn verdict(&self, tally: &Tally) -> Verdict {
        let handled = tally.handled();
        let gaps = tally.gaps();
        // Per (shard, session), the lowest `after` of a gap: events after it may be missing.
        let mut gap_after: HashMap<(u32, String), u64> = HashMap::new();
        for (shard, session) in &gaps {
            let after = gap_after.entry((shard.id(), session.id.clone())).or_insert(session.seq);
            *after = (*after).min(session.seq);
        }
        let mut verdict = Verdict { events: self.sent.len(), gaps: gaps.len(), ..Verdict::default() };
        for sent in &self.sent {
            if handled.contains_key(&sent.id) {
                verdict.handled += 1;
            } else if gap_after
                .get(&(sent.shard, sent.session.clone()))
                .is_some_and(|&after| sent.seq > after)
            {
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

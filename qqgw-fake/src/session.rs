//! A session, as QQ keeps it: its numbering, the events kept for replay, and the
//! connection it is attached to.

use std::collections::VecDeque;

use qqgw_proto::{Instant, Intents, ShardId};

use crate::output::ConnId;

/// One session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) shard: ShardId,
    /// The intents of the IDENTIFY that started it: only events they cover are sent.
    pub(crate) intents: Intents,
    /// The last `s` used (READY uses 1; RESUMED may take one).
    pub(crate) last_seq: u64,
    /// The dispatches kept for replay, by `s`, oldest first, at most the replay capacity.
    pub(crate) history: VecDeque<(u64, String)>,
    /// The oldest `s` a RESUME can still replay from (`seq + 1 >= first_kept`).
    pub(crate) first_kept: u64,
    /// The connection it is served on.
    pub(crate) conn: Option<ConnId>,
    /// When it last lost its connection.
    pub(crate) detached_at: Instant,
}

impl Session {
    pub(crate) fn new(shard: ShardId, intents: Intents, now: Instant) -> Self {
        Self {
            shard,
            intents,
            last_seq: 1,
            history: VecDeque::new(),
            first_kept: 2,
            conn: None,
            detached_at: now,
        }
    }

    /// The next sequence number.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.last_seq += 1;
        self.last_seq
    }

    /// Keeps a dispatch for replay, forgetting the oldest beyond `capacity`.
    pub(crate) fn keep(&mut self, seq: u64, frame: String, capacity: usize) {
        self.history.push_back((seq, frame));
        while self.history.len() > capacity {
            if let Some((old, _)) = self.history.pop_front() {
                self.first_kept = old + 1;
            }
        }
    }

    /// The frames of the events after `seq`, to replay; `None` if some were forgotten.
    pub(crate) fn replay_after(&self, seq: u64) -> Option<Vec<String>> {
        if seq.saturating_add(1) < self.first_kept {
            return None;
        }
        let from = self.history.partition_point(|(s, _)| *s <= seq);
        Some(self.history.iter().skip(from).map(|(_, frame)| frame.clone()).collect())
    }

    pub(crate) fn detach(&mut self, now: Instant) {
        self.conn = None;
        self.detached_at = now;
    }
}

//! What the current session delivered: the RESUME point, the event ids seen lately and the
//! receipts awaited, and the rules that drop an event arriving again.

use super::checkpoint::Unacked;
use crate::dedup::RecentIds;
use crate::dispatch::Ack;

/// The largest step between consecutive sequence numbers taken as plausible. QQ numbers
/// a session's events one by one; a larger jump (or zero, or a step back) is reported
/// and does not move the RESUME point.
pub const MAX_SEQ_STEP: u64 = 1 << 20;

/// The delivery record of the current session.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    /// The last sequence number delivered: where a RESUME starts from.
    pub(super) last_seq: Option<u64>,
    /// Event ids delivered lately, whatever their session.
    recent_ids: RecentIds,
    /// Delivered events awaiting their receipt (with `manual_ack`).
    unacked: Unacked,
}

/// What becomes of an event other than READY and RESUMED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Arrival {
    /// Not delivered before: deliver it.
    New,
    /// Its sequence number was delivered already: a replay after a RESUME. Dropped.
    Replay,
    /// Its id was delivered lately, under an earlier sequence number: QQ pushed it twice.
    /// Dropped, and the RESUME point moves past it.
    Duplicate,
}

impl Delivery {
    /// The record of a session resumed from `last_seq`.
    pub(super) fn resuming_from(last_seq: Option<u64>) -> Self {
        Self { last_seq, ..Self::default() }
    }

    /// Whether `seq` is at or below the RESUME point: delivered already.
    pub(super) fn delivered(&self, seq: u64) -> bool {
        self.last_seq.is_some_and(|last| seq <= last)
    }

    /// Sorts an event by its id (remembering it), or by its sequence number when it has
    /// none.
    #[inline] // once per dispatch: as cheap as when it was written out in the machine
    pub(super) fn arrival(&mut self, id: Option<&str>, seq: Option<u64>) -> Arrival {
        let seen = match id {
            Some(id) => !self.recent_ids.insert(id),
            None => seq.is_some_and(|seq| self.delivered(seq)),
        };
        if !seen {
            return Arrival::New;
        }
        if seq.is_some_and(|seq| self.delivered(seq)) {
            return Arrival::Replay;
        }
        // QQ counts it as delivered: never ask for it again.
        if let Some(seq) = seq {
            self.advance(seq);
        }
        Arrival::Duplicate
    }

    /// Moves the RESUME point to `seq` if it is plausible: past the last one by at most
    /// [`MAX_SEQ_STEP`] (from none: between 1 and [`MAX_SEQ_STEP`]). Anything else leaves
    /// it where it was, so that no single frame can silence a session or skip events on
    /// the next RESUME. Returns whether it moved.
    pub(super) fn advance(&mut self, seq: u64) -> bool {
        let plausible = match self.last_seq {
            Some(last) => seq > last && seq - last <= MAX_SEQ_STEP,
            None => (1..=MAX_SEQ_STEP).contains(&seq),
        };
        if plausible {
            self.last_seq = Some(seq);
        }
        plausible
    }

    /// A new session (READY, or the old one given up): its numbering starts afresh, and
    /// the old one's receipts mean nothing any more.
    pub(super) fn new_session(&mut self) {
        self.last_seq = None;
        self.unacked.new_session();
    }

    /// Tracks a delivered event until it is handled; returns its receipt, and whether the
    /// bound made the oldest one count as handled.
    pub(super) fn track(&mut self, seq: u64) -> (Ack, bool) {
        self.unacked.track(seq)
    }

    /// The application handled the event of `ack`.
    pub(super) fn handled(&mut self, ack: Ack) {
        self.unacked.handled(ack);
    }

    /// The highest sequence number up to which every tracked event is handled.
    pub(super) fn checkpoint(&self) -> Option<u64> {
        self.unacked.checkpoint(self.last_seq)
    }

    /// How many delivered events await their receipt.
    pub(super) fn unacked(&self) -> usize {
        self.unacked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_point_moves_only_by_a_plausible_step() {
        let mut d = Delivery::default();
        assert!(!d.advance(0), "zero is no sequence number");
        assert!(!d.advance(MAX_SEQ_STEP + 1), "nor a wild first one");
        assert!(d.advance(MAX_SEQ_STEP));
        assert!(!d.advance(MAX_SEQ_STEP), "no step");
        assert!(!d.advance(MAX_SEQ_STEP - 1), "a step back");
        assert!(!d.advance(2 * MAX_SEQ_STEP + 1), "a jump");
        assert!(d.advance(2 * MAX_SEQ_STEP));
        assert_eq!(d.last_seq, Some(2 * MAX_SEQ_STEP));
        d.new_session();
        assert_eq!(d.last_seq, None);
    }

    #[test]
    fn an_event_is_sorted_by_its_id_else_by_its_seq() {
        let mut d = Delivery::resuming_from(Some(10));
        assert_eq!(d.arrival(Some("A:1"), Some(11)), Arrival::New);
        assert!(d.advance(11));
        assert_eq!(d.arrival(Some("A:1"), Some(11)), Arrival::Replay, "a replay of what was delivered");
        assert_eq!(d.arrival(Some("A:1"), Some(12)), Arrival::Duplicate, "pushed again under a new seq");
        assert_eq!(d.last_seq, Some(12), "the RESUME point moves past a duplicate");
        assert_eq!(d.arrival(Some("B:1"), Some(5)), Arrival::New, "a new id is news, whatever its seq");
        assert_eq!(d.arrival(None, Some(12)), Arrival::Replay);
        assert_eq!(d.arrival(None, Some(13)), Arrival::New);
        assert_eq!(d.arrival(None, None), Arrival::New);
        assert!(d.delivered(12) && !d.delivered(13));
    }
}

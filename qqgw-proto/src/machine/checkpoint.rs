//! The handled checkpoint: the highest sequence number up to which every delivered event
//! has been handled by the application.

use std::collections::VecDeque;

use crate::dispatch::Ack;

/// The most delivered events awaiting their [`Ack`]. An adapter keeps far fewer in flight
/// (it stops reading while its consumer lags); past this bound the oldest is counted as
/// handled, so that no consumer can make the machine grow without bound.
pub const MAX_UNACKED: usize = 1 << 16;

/// Delivered events of the current session not yet handled, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Unacked {
    /// Bumped whenever a session ends, so that late receipts of an old one are ignored.
    pub(crate) generation: u32,
    /// `(seq, handled)`, in increasing `seq`.
    queue: VecDeque<(u64, bool)>,
}

impl Unacked {
    /// Tracks a delivered event; returns its receipt, and whether the bound made the
    /// oldest one count as handled.
    pub(crate) fn track(&mut self, seq: u64) -> (Ack, bool) {
        let overflow = self.queue.len() >= MAX_UNACKED;
        if overflow {
            self.queue.pop_front();
            self.pop_handled();
        }
        self.queue.push_back((seq, false));
        (Ack { generation: self.generation, seq }, overflow)
    }

    /// Marks a receipt handled; false if it belongs to another session or is unknown.
    pub(crate) fn handled(&mut self, ack: Ack) -> bool {
        if ack.generation != self.generation {
            return false;
        }
        // Receipts mostly come in the order the events went out: the oldest first.
        let found = match self.queue.front() {
            Some(&(seq, _)) if seq == ack.seq => Ok(0),
            _ => self.queue.binary_search_by_key(&ack.seq, |&(seq, _)| seq),
        };
        let Ok(i) = found else { return false };
        if let Some(entry) = self.queue.get_mut(i) {
            entry.1 = true;
        }
        self.pop_handled();
        true
    }

    fn pop_handled(&mut self) {
        while self.queue.front().is_some_and(|&(_, handled)| handled) {
            self.queue.pop_front();
        }
    }

    /// The checkpoint, given the last sequence number received: just below the oldest
    /// unhandled event, or everything received when none waits.
    pub(crate) fn checkpoint(&self, last_seq: Option<u64>) -> Option<u64> {
        match self.queue.front() {
            Some(&(seq, _)) => Some(seq.saturating_sub(1)),
            None => last_seq,
        }
    }

    /// How many delivered events await their receipt.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// The session ended: its receipts mean nothing any more.
    pub(crate) fn new_session(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_is_the_low_watermark_of_handled_events() {
        let mut u = Unacked::default();
        let acks: Vec<Ack> = [3, 4, 7, 8].into_iter().map(|s| u.track(s).0).collect();
        assert_eq!(u.checkpoint(Some(8)), Some(2));
        assert!(u.handled(acks[1]));
        assert_eq!(u.checkpoint(Some(8)), Some(2), "4 is done but 3 is not");
        assert!(u.handled(acks[0]));
        assert_eq!(u.checkpoint(Some(8)), Some(6), "3 and 4 done: up to just below 7");
        assert!(u.handled(acks[3]) && u.handled(acks[2]));
        assert_eq!(u.checkpoint(Some(9)), Some(9), "all done: everything received");
        assert!(!u.handled(acks[2]), "a receipt counts once");
    }

    #[test]
    fn receipts_of_an_old_session_are_ignored() {
        let mut u = Unacked::default();
        let old = u.track(5).0;
        u.new_session();
        let new = u.track(5).0;
        assert!(!u.handled(old));
        assert_eq!(u.checkpoint(Some(5)), Some(4));
        assert!(u.handled(new));
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut u = Unacked::default();
        let mut overflowed = 0;
        for seq in 1..=(MAX_UNACKED as u64 + 10) {
            overflowed += u64::from(u.track(seq).1);
        }
        assert_eq!(u.len(), MAX_UNACKED);
        assert_eq!(overflowed, 10);
        assert_eq!(u.checkpoint(None), Some(10));
    }
}

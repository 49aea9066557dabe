//! When a shard saves its session.

use core::time::Duration;

use qqgw_proto::{GatewayMachine, Instant, Session};

/// The least time between two saves of a shard's session.
pub const SAVE_EVERY: Duration = Duration::from_millis(200);
/// A session is saved at once after this many handled events.
pub const SAVE_AFTER_EVENTS: u64 = 1_000;

/// When a shard writes its session to the store: once the machine's session (its id and
/// handled checkpoint) differs from the one saved, at most every [`SAVE_EVERY`], at once
/// after [`SAVE_AFTER_EVENTS`] handled events; and whatever is left at close
/// ([`take_final`](Self::take_final)). A session that is gone is saved as a clear.
///
/// So a crash loses at most 200 ms or 1,000 events of progress, which QQ replays on the
/// next RESUME, and a busy shard writes five times a second, not once per event.
///
/// # Examples
///
/// ```
/// use qqgw_client::policy::SaveSchedule;
/// use qqgw_proto::{Config, GatewayMachine, Instant, Intents, Session, ShardId};
///
/// // A machine resuming a session whose checkpoint is 5.
/// let session = Session::new("S1".to_owned(), 5, ShardId::ONE);
/// let config = Config::builder("wss://fake/", Intents::non_privileged()).session(session.clone()).build().unwrap();
/// let machine = GatewayMachine::new(config, Instant::ZERO);
///
/// // Nothing saved yet: a save is due at once.
/// let mut schedule = SaveSchedule::new(None);
/// let now = Instant::from_millis(10);
/// assert_eq!(schedule.poll(&machine, now), Some(now));
/// let write = schedule.take_due(&machine, now).expect("due");
/// assert_eq!(write, Some(session.clone()));
/// schedule.saved(write, now);
/// // The store holds what the machine has: nothing to do.
/// assert_eq!(schedule.poll(&machine, now), None);
/// // A schedule that loaded this session has nothing to save either.
/// assert_eq!(SaveSchedule::new(Some(session)).poll(&machine, now), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SaveSchedule {
    /// The session as last saved (or loaded); `None` once cleared.
    saved: Option<Session>,
    last_save: Option<Instant>,
    handled_since_save: u64,
    due: Option<Instant>,
}

impl SaveSchedule {
    /// A schedule for a shard that started from `loaded` (the session its store held).
    #[must_use]
    pub fn new(loaded: Option<Session>) -> Self {
        Self { saved: loaded, last_save: None, handled_since_save: 0, due: None }
    }

    /// `receipts` more events were handled.
    pub fn handled(&mut self, receipts: u64) {
        self.handled_since_save = self.handled_since_save.saturating_add(receipts);
    }

    /// When the next save is due, planning one if `machine`'s session differs from the
    /// saved one; `None` if there is nothing to save.
    pub fn poll(&mut self, machine: &GatewayMachine, now: Instant) -> Option<Instant> {
        if self.due.is_none() && !self.is_saved(machine) {
            self.due = Some(match self.last_save {
                Some(last) if self.handled_since_save < SAVE_AFTER_EVENTS => (last + SAVE_EVERY).max(now),
                _ => now,
            });
        }
        self.due
    }

    /// What to write now, if a save is due at `now`: `Some(Some(session))` to save,
    /// `Some(None)` to clear the store. Report the write with [`saved`](Self::saved) or
    /// [`failed`](Self::failed).
    pub fn take_due(&mut self, machine: &GatewayMachine, now: Instant) -> Option<Option<Session>> {
        match self.poll(machine, now) {
            Some(due) if due <= now => self.take_final(machine),
            _ => None,
        }
    }

    /// What to write at close, whatever the cadence: the session if it differs from the
    /// saved one.
    pub fn take_final(&mut self, machine: &GatewayMachine) -> Option<Option<Session>> {
        self.due = None;
        let session = machine.session();
        (session != self.saved).then_some(session)
    }

    /// The store took `session` at `now`.
    pub fn saved(&mut self, session: Option<Session>, now: Instant) {
        self.saved = session;
        self.wrote(now);
    }

    /// Writing failed at `now`: the next try comes a [`SAVE_EVERY`] later.
    pub fn failed(&mut self, now: Instant) {
        self.wrote(now);
    }

    fn wrote(&mut self, now: Instant) {
        self.due = None;
        self.last_save = Some(now);
        self.handled_since_save = 0;
    }

    /// Whether the saved session is the machine's (compared without copying it).
    fn is_saved(&self, machine: &GatewayMachine) -> bool {
        let saved = self.saved.as_ref().map(|s| (s.id.as_str(), s.last_seq()));
        saved == machine.session_id().map(|id| (id, machine.checkpoint()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qqgw_proto::{Config, Intents, ShardId};

    fn machine(seq: u64) -> GatewayMachine {
        let session = Session::new("S1".to_owned(), seq, ShardId::ONE);
        let config =
            Config::builder("wss://fake/", Intents::non_privileged()).session(session).build().unwrap();
        GatewayMachine::new(config, Instant::ZERO)
    }

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn saves_wait_for_the_cadence_unless_many_events_were_handled() {
        let mut schedule = SaveSchedule::new(None);
        let first = machine(5);
        let write = schedule.take_due(&first, at(1_000)).unwrap();
        schedule.saved(write, at(1_000));
        // The checkpoint moved: the next save waits for SAVE_EVERY after the last.
        let moved = machine(6);
        schedule.handled(1);
        assert_eq!(schedule.poll(&moved, at(1_010)), Some(at(1_000) + SAVE_EVERY));
        assert_eq!(schedule.take_due(&moved, at(1_199)), None);
        assert_eq!(schedule.take_due(&moved, at(1_200)).unwrap().unwrap().seq, 6);
        schedule.saved(Some(Session::new("S1".to_owned(), 6, ShardId::ONE)), at(1_200));
        // SAVE_AFTER_EVENTS handled: at once.
        let far = machine(7);
        schedule.handled(SAVE_AFTER_EVENTS - 1);
        assert_eq!(schedule.poll(&far, at(1_201)), Some(at(1_200) + SAVE_EVERY));
        let mut busy = schedule.clone();
        busy.due = None;
        busy.handled(1);
        assert_eq!(busy.poll(&far, at(1_201)), Some(at(1_201)));
    }

    #[test]
    fn a_failed_write_is_tried_again_a_period_later_and_a_lost_session_is_a_clear() {
        let mut schedule = SaveSchedule::new(Some(Session::new("OLD".to_owned(), 9, ShardId::ONE)));
        let m = machine(5);
        assert!(schedule.take_due(&m, at(50)).is_some());
        schedule.failed(at(50));
        assert_eq!(schedule.poll(&m, at(60)), Some(at(50) + SAVE_EVERY));
        // Nothing saved and no session: nothing to do; a saved one and none: a clear.
        let config = Config::builder("wss://fake/", Intents::non_privileged()).build().unwrap();
        let fresh = GatewayMachine::new(config, Instant::ZERO);
        assert_eq!(SaveSchedule::new(None).poll(&fresh, at(0)), None);
        assert_eq!(schedule.take_final(&fresh), Some(None));
        assert_eq!(SaveSchedule::new(None).take_final(&fresh), None);
    }
}

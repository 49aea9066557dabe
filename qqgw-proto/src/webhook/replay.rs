//! Replay protection: the events delivered, remembered for as long as a copy of their
//! request could still pass the timestamp check.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use crate::dedup::KeyHasher;

/// The default number of events a [`ReplayGuard`] remembers: 65,536 (about 4 MiB when
/// full). At QQ's pace that covers the whole ±300 s window up to about 200 events a
/// second; past that, see [`ReplayGuard`] for what happens.
pub const DEFAULT_REPLAY_MEMORY: usize = 1 << 16;

/// What identifies a delivery for replay purposes, and when it was signed.
///
/// Made by [`Webhook::check`](super::Webhook::check) for every signed event; hand it to
/// [`ReplayGuard::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayTicket {
    /// A 64-bit hash of the event `id`, or of the signature for an event without one.
    pub(super) key: u64,
    /// The request's signed timestamp, Unix seconds.
    pub(super) timestamp: u64,
    /// The current time the request was checked at, if the caller gave one.
    pub(super) unix_now: Option<u64>,
}

impl ReplayTicket {
    /// A ticket for a delivery identified by `identity` (the event id, or the signature).
    pub(super) fn new(identity: &str, timestamp: u64, unix_now: Option<u64>) -> Self {
        let mut hasher = DefaultHasher::new();
        identity.hash(&mut hasher);
        Self { key: hasher.finish(), timestamp, unix_now }
    }

    /// The signed timestamp of the request, Unix seconds.
    #[must_use]
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

/// What [`ReplayGuard::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// First time seen: deliver it. It is now remembered.
    New,
    /// Already delivered: a retry by QQ or a replay. Answer 200, do not deliver again.
    Duplicate,
    /// Delivered, and not handled yet (the deliverer marked it
    /// [`in_flight`](ReplayGuard::in_flight)): answer `503` with `Retry-After` — not 200,
    /// since its handling may still fail — and do not deliver it again.
    InProgress,
    /// Signed before the oldest delivery the guard still remembers, because memory ran
    /// full: whether it is a replay cannot be told, so it must be refused.
    Forgotten,
}

/// Remembers every event delivered for as long as its request could be replayed: until
/// its signed timestamp has left the ±tolerance window of
/// [`Webhook`](super::Webhook). A request whose timestamp is outside that window is
/// already refused as stale, so together the two checks refuse every replay, however many
/// events arrived in between (unlike a fixed window of the last N ids).
///
/// The guard's own clock is the newest *signed* timestamp it admitted — QQ's clock, which
/// nobody else can set — not the server's: an entry is forgotten once the newest
/// timestamp is more than twice the tolerance past its own (the server's clock may be up
/// to a tolerance either way from QQ's), and a request signed that long before the newest
/// is refused. A step of the server's clock, forward or back, so moves nothing here: once
/// corrected, nothing is refused that would not have been.
///
/// Memory is bounded: at most `capacity` events (default [`DEFAULT_REPLAY_MEMORY`],
/// about 64 bytes each). When it is full the delivery with the oldest timestamp is
/// forgotten, and from then on every request signed at or before that timestamp is
/// refused ([`Admission::Forgotten`]) — so a forgotten id can never be replayed either. A
/// bot that receives more than `capacity` events within one tolerance window should raise
/// the capacity or shorten the tolerance.
///
/// Keys are 64-bit hashes of the event ids: only requests signed by QQ are remembered, so
/// nobody else can choose them.
#[derive(Clone)]
pub struct ReplayGuard {
    capacity: usize,
    tolerance_secs: u64,
    /// Key → the latest timestamp it was seen with.
    seen: HashMap<u64, u64, BuildHasherDefault<KeyHasher>>,
    /// Keys delivered and not handled yet.
    in_flight: HashSet<u64, BuildHasherDefault<KeyHasher>>,
    /// (timestamp, key), oldest first: what expires or is evicted next.
    order: BTreeSet<(u64, u64)>,
    /// The newest timestamp of an event forgotten while it could still be replayed.
    floor: Option<u64>,
    /// The newest signed timestamp admitted: entries signed more than twice the tolerance
    /// before it are gone.
    newest: Option<u64>,
}

impl ReplayGuard {
    /// A guard for timestamps checked within ±`tolerance_secs` that remembers at most
    /// `capacity` events (at least one).
    #[must_use]
    pub fn new(capacity: usize, tolerance_secs: u64) -> Self {
        Self {
            capacity: capacity.max(1),
            tolerance_secs,
            seen: HashMap::default(),
            in_flight: HashSet::default(),
            order: BTreeSet::new(),
            floor: None,
            newest: None,
        }
    }

    /// Decides whether the event of `ticket` is new, and remembers it if it is.
    pub fn admit(&mut self, ticket: &ReplayTicket) -> Admission {
        if let Some(&last) = self.seen.get(&ticket.key) {
            // A retry signed later keeps the id remembered for longer.
            if ticket.timestamp > last {
                self.order.remove(&(last, ticket.key));
                self.order.insert((ticket.timestamp, ticket.key));
                self.seen.insert(ticket.key, ticket.timestamp);
            }
            if self.in_flight.contains(&ticket.key) {
                return Admission::InProgress;
            }
            return Admission::Duplicate;
        }
        if self.too_old(ticket.timestamp) || self.floor.is_some_and(|floor| ticket.timestamp <= floor) {
            return Admission::Forgotten;
        }
        if self.newest.is_none_or(|newest| ticket.timestamp > newest) {
            self.newest = Some(ticket.timestamp);
            self.expire();
        }
        self.seen.insert(ticket.key, ticket.timestamp);
        self.order.insert((ticket.timestamp, ticket.key));
        while self.seen.len() > self.capacity {
            let Some((timestamp, key)) = self.order.pop_first() else { break };
            self.seen.remove(&key);
            self.in_flight.remove(&key);
            self.floor = Some(self.floor.map_or(timestamp, |floor| floor.max(timestamp)));
        }
        Admission::New
    }

    /// Forgets the event of `ticket`, admitted but then not delivered (the queue was
    /// full) or not handled, so that QQ's retry is delivered.
    pub fn forget(&mut self, ticket: &ReplayTicket) {
        self.in_flight.remove(&ticket.key);
        if let Some(timestamp) = self.seen.remove(&ticket.key) {
            self.order.remove(&(timestamp, ticket.key));
        }
    }

    /// Marks the event of `ticket` (admitted) as delivered but not handled yet: its
    /// retries get [`Admission::InProgress`] until [`handled`](Self::handled) or
    /// [`forget`](Self::forget).
    pub fn in_flight(&mut self, ticket: &ReplayTicket) {
        if self.seen.contains_key(&ticket.key) {
            self.in_flight.insert(ticket.key);
        }
    }

    /// The event of `ticket` is handled: its retries are [`Admission::Duplicate`]s.
    pub fn handled(&mut self, ticket: &ReplayTicket) {
        self.in_flight.remove(&ticket.key);
    }

    /// How many events are remembered now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no event is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// The most events remembered at once.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether a request signed at `timestamp` is older than any the guard still
    /// remembers: more than twice the tolerance before the newest signed timestamp.
    fn too_old(&self, timestamp: u64) -> bool {
        self.newest
            .is_some_and(|newest| timestamp.saturating_add(self.tolerance_secs.saturating_mul(2)) < newest)
    }

    /// Drops the events whose requests are now too old to pass the timestamp check.
    fn expire(&mut self) {
        while let Some(&(timestamp, key)) = self.order.first() {
            if !self.too_old(timestamp) {
                break;
            }
            self.order.pop_first();
            self.seen.remove(&key);
            self.in_flight.remove(&key);
        }
    }
}

impl std::fmt::Debug for ReplayGuard {
    /// The sizes and bounds, not the (possibly 65,536) remembered keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("remembered", &self.seen.len())
            .field("capacity", &self.capacity)
            .field("tolerance_secs", &self.tolerance_secs)
            .field("floor", &self.floor)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(id: &str, timestamp: u64, now: u64) -> ReplayTicket {
        ReplayTicket::new(id, timestamp, Some(now))
    }

    #[test]
    fn remembers_ids_for_the_whole_window_not_the_last_1024() {
        let mut guard = ReplayGuard::new(DEFAULT_REPLAY_MEMORY, 300);
        assert_eq!(guard.admit(&ticket("first", 1000, 1000)), Admission::New);
        for i in 0..5000 {
            assert_eq!(guard.admit(&ticket(&i.to_string(), 1000, 1000)), Admission::New);
        }
        // Any time the request can still pass the ±300 s check, it is a duplicate.
        assert_eq!(guard.admit(&ticket("first", 1000, 1300)), Admission::Duplicate);
        // Once QQ signs requests more than twice the tolerance later, it cannot (whatever
        // the server's clock says): forgotten.
        assert_eq!(guard.admit(&ticket("other", 1601, 1601)), Admission::New);
        assert_eq!(guard.len(), 1, "everything signed at 1000 expired once QQ signed at 1601");
        assert_eq!(guard.admit(&ticket("first", 1000, 1300)), Admission::Forgotten);
    }

    #[test]
    fn a_later_retry_extends_the_memory() {
        let mut guard = ReplayGuard::new(16, 300);
        assert_eq!(guard.admit(&ticket("a", 1000, 1000)), Admission::New);
        assert_eq!(guard.admit(&ticket("a", 1200, 1200)), Admission::Duplicate);
        assert_eq!(guard.admit(&ticket("a", 1000, 1450)), Admission::Duplicate);
    }

    #[test]
    fn when_full_the_oldest_are_forgotten_and_their_age_refused() {
        let mut guard = ReplayGuard::new(3, 300);
        for (id, ts) in [("a", 10), ("b", 11), ("c", 12)] {
            assert_eq!(guard.admit(&ticket(id, ts, 12)), Admission::New);
        }
        assert_eq!(guard.admit(&ticket("d", 13, 13)), Admission::New);
        assert_eq!(guard.len(), 3);
        // "a" was forgotten while still replayable: everything signed at or before 10 is refused.
        assert_eq!(guard.admit(&ticket("a", 10, 14)), Admission::Forgotten);
        assert_eq!(guard.admit(&ticket("z", 9, 14)), Admission::Forgotten);
        assert_eq!(guard.admit(&ticket("b", 11, 14)), Admission::Duplicate);
        assert_eq!(guard.admit(&ticket("e", 11, 14)), Admission::New);
    }

    #[test]
    fn forget_lets_a_retry_through() {
        let mut guard = ReplayGuard::new(4, 300);
        let t = ticket("a", 10, 10);
        assert_eq!(guard.admit(&t), Admission::New);
        guard.forget(&t);
        assert!(guard.is_empty());
        assert_eq!(guard.admit(&t), Admission::New);
        assert_eq!(guard.capacity(), 4);
    }

    #[test]
    fn a_server_clock_stepped_forward_and_corrected_refuses_nothing_afterwards() {
        let mut guard = ReplayGuard::new(DEFAULT_REPLAY_MEMORY, 300);
        // The server's clock runs 290 s ahead for a while (within the tolerance, so QQ's
        // requests still pass the stale check)...
        assert_eq!(guard.admit(&ticket("a", 1000, 1290)), Admission::New);
        // ...then is corrected: a request QQ signed a little earlier, delivered late, is
        // new — not refused as too old for as long as the step lasted.
        assert_eq!(guard.admit(&ticket("b", 985, 1001)), Admission::New);
        assert_eq!(guard.admit(&ticket("a", 1002, 1002)), Admission::Duplicate);
    }

    #[test]
    fn a_server_clock_stepped_back_lets_no_replay_through() {
        let mut guard = ReplayGuard::new(DEFAULT_REPLAY_MEMORY, 300);
        assert_eq!(guard.admit(&ticket("old", 1000, 1000)), Admission::New);
        assert_eq!(guard.admit(&ticket("new", 2000, 2000)), Admission::New);
        // The server's clock steps back to 1000: a replay of "old" passes the stale check,
        // and is refused here, though "old" was forgotten meanwhile.
        assert_eq!(guard.admit(&ticket("old", 1000, 1000)), Admission::Forgotten);
        assert_eq!(guard.admit(&ticket("other", 1001, 1000)), Admission::Forgotten);
    }

    #[test]
    fn a_retry_of_an_event_in_flight_is_in_progress_until_handled() {
        let mut guard = ReplayGuard::new(8, 300);
        let first = ticket("a", 10, 10);
        assert_eq!(guard.admit(&first), Admission::New);
        guard.in_flight(&first);
        assert_eq!(guard.admit(&ticket("a", 11, 11)), Admission::InProgress);
        guard.handled(&first);
        assert_eq!(guard.admit(&ticket("a", 12, 12)), Admission::Duplicate);
        // Not handled after all: forgotten, the next retry is new.
        let other = ticket("b", 12, 12);
        assert_eq!(guard.admit(&other), Admission::New);
        guard.in_flight(&other);
        guard.forget(&other);
        assert_eq!(guard.admit(&ticket("b", 13, 13)), Admission::New);
    }

    #[test]
    fn without_a_clock_only_the_capacity_bounds_memory() {
        let mut guard = ReplayGuard::new(2, 300);
        for (id, ts) in [("a", 1), ("b", 2), ("c", 3)] {
            assert_eq!(guard.admit(&ReplayTicket::new(id, ts, None)), Admission::New);
        }
        assert_eq!(guard.admit(&ReplayTicket::new("a", 1, None)), Admission::Forgotten);
        assert_eq!(guard.admit(&ReplayTicket::new("b", 2, None)), Admission::Duplicate);
    }
}

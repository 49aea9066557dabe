//! Identify pacing: QQ's `session_start_limit`, shared by all shards of a bot.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use core::time::Duration;

use crate::shard::ShardId;
use crate::time::Instant;

/// How long the `max_concurrency` window lasts.
pub const IDENTIFY_WINDOW: Duration = Duration::from_secs(5);
/// How often QQ resets `remaining` to `total`.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// The most slots a window tracks, whatever `max_concurrency` says.
const MAX_CONCURRENCY_CAP: usize = 1024;

/// `session_start_limit` from `GET /gateway/bot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SessionStartLimit {
    /// Sessions that may be started per 24 hours.
    pub total: u32,
    /// Sessions that may still be started before the reset.
    pub remaining: u32,
    /// Milliseconds until `remaining` resets to `total`.
    pub reset_after: u64,
    /// Sessions that may be started per 5 seconds.
    pub max_concurrency: u32,
}

impl Default for SessionStartLimit {
    /// The documented example: 1000 a day, one per 5 s.
    fn default() -> Self {
        Self { total: 1000, remaining: 1000, reset_after: DAY.as_millis() as u64, max_concurrency: 1 }
    }
}

/// A slot for one IDENTIFY, granted by an identify pacer ([`PacerAnswer::Granted`]).
///
/// The number is the pacer's own name for the slot: [`IdentifyLimiter`] counts them up,
/// a shared pacer may draw them at random. The machine only hands it back, in
/// [`PacerRequest::Sent`] or [`PacerRequest::Release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct IdentifySlot(pub u64);

/// What a [`GatewayMachine`](crate::GatewayMachine) asks of its identify pacer, in
/// [`Output::Pacer`](crate::Output::Pacer).
///
/// An IDENTIFY is paced in three steps, as QQ counts them: a slot is taken before the
/// connection is opened (so no connection idles waiting for one), the 5 s window starts
/// when the IDENTIFY is sent, and a slot whose connection failed first is given back.
/// [`IdentifyLimiter::handle`] answers them in process; a pacer shared by many
/// processes answers them the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacerRequest {
    /// A slot for this shard's next IDENTIFY. Answer with
    /// [`Input::Pacer`](crate::Input::Pacer).
    Acquire,
    /// The IDENTIFY of this slot was sent now: the window counts from here. No answer.
    Sent(IdentifySlot),
    /// This slot will not be used (the connection failed before HELLO, or the machine
    /// stopped): give it back. No answer.
    Release(IdentifySlot),
}

/// An identify pacer's answer to [`PacerRequest::Acquire`], told with
/// [`Input::Pacer`](crate::Input::Pacer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacerAnswer {
    /// IDENTIFY with this slot.
    Granted(IdentifySlot),
    /// No slot now (the window is full, or the daily budget spent): ask again after this
    /// long. A pacer that cannot be reached answers this too, with a short wait.
    Deferred(Duration),
}

/// How long a granted slot that was neither sent nor released holds its place: its
/// holder is taken to be gone (a machine dropped while connecting). Longer than any
/// connect timeout plus handshake timeout, so a slow connection keeps its slot.
pub const SLOT_TIMEOUT: Duration = Duration::from_secs(60);

/// Paces IDENTIFYs in process: at most `max_concurrency` per 5 s window (re-IDENTIFYs
/// included), counted from when each was sent, and none once `remaining` is spent until
/// the daily reset.
///
/// Answers the [`PacerRequest`]s of every machine of a bot with [`handle`](Self::handle);
/// clones share one state. All machines sharing a limiter must use one clock epoch.
/// RESUMEs are not paced.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use qqgw_proto::{IdentifyLimiter, Instant, PacerAnswer, PacerRequest, SessionStartLimit, ShardId};
///
/// let limiter = IdentifyLimiter::new(SessionStartLimit::default(), Instant::ZERO);
/// let (shard_0, shard_1) = (ShardId::new(0, 2).unwrap(), ShardId::new(1, 2).unwrap());
/// let Some(PacerAnswer::Granted(slot)) = limiter.handle(shard_0, PacerRequest::Acquire, Instant::ZERO) else {
///     panic!("the first IDENTIFY may go at once");
/// };
/// // The window counts from the IDENTIFY itself, sent once the connection opened.
/// limiter.handle(shard_0, PacerRequest::Sent(slot), Instant::from_millis(40));
/// // The second IDENTIFY must wait for the 5 s window to pass.
/// assert_eq!(
///     limiter.handle(shard_1, PacerRequest::Acquire, Instant::from_millis(100)),
///     Some(PacerAnswer::Deferred(Duration::from_millis(4_940)))
/// );
/// ```
#[derive(Debug, Clone)]
pub struct IdentifyLimiter {
    inner: Arc<Mutex<Pacer>>,
}

#[derive(Debug)]
struct Pacer {
    total: u32,
    remaining: u32,
    reset_at: Instant,
    max_concurrency: usize,
    next_slot: u64,
    /// The IDENTIFYs of the current window.
    slots: VecDeque<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    id: u64,
    state: SlotState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    /// Granted at this instant; its connection is being opened.
    Granted(Instant),
    /// Its IDENTIFY was sent at this instant.
    Sent(Instant),
}

impl Slot {
    /// When this slot stops counting: a window after its IDENTIFY, or when an unsent
    /// one times out.
    fn ends(&self) -> Instant {
        match self.state {
            SlotState::Sent(at) => at + IDENTIFY_WINDOW,
            SlotState::Granted(at) => at + SLOT_TIMEOUT,
        }
    }
}

/// How long to wait before asking again when every slot of the window belongs to an
/// IDENTIFY not yet sent (its window cannot end before it is sent).
const PENDING_RECHECK: Duration = Duration::from_millis(500);

impl IdentifyLimiter {
    /// A limiter for `limit`, as read at `now`.
    #[must_use]
    pub fn new(limit: SessionStartLimit, now: Instant) -> Self {
        let max_concurrency = usize::try_from(limit.max_concurrency.max(1))
            .unwrap_or(MAX_CONCURRENCY_CAP)
            .min(MAX_CONCURRENCY_CAP);
        Self {
            inner: Arc::new(Mutex::new(Pacer {
                total: limit.total,
                remaining: limit.remaining,
                reset_at: now + Duration::from_millis(limit.reset_after),
                max_concurrency,
                next_slot: 0,
                slots: VecDeque::with_capacity(max_concurrency.min(16)),
            })),
        }
    }

    /// Acts on one request of the machine of `shard`, at `now`; returns the answer to
    /// [`PacerRequest::Acquire`] (and `None` for the others). Every shard shares the
    /// limiter's window: `shard` only names the asker.
    pub fn handle(&self, shard: ShardId, request: PacerRequest, now: Instant) -> Option<PacerAnswer> {
        let _ = shard;
        match request {
            PacerRequest::Acquire => Some(match self.try_acquire(now) {
                Ok(slot) => PacerAnswer::Granted(slot),
                Err(at) => PacerAnswer::Deferred(at.saturating_duration_since(now)),
            }),
            PacerRequest::Sent(slot) => {
                self.sent(slot, now);
                None
            }
            PacerRequest::Release(slot) => {
                self.release(slot);
                None
            }
        }
    }

    /// Takes a slot for one IDENTIFY at `now`, or says when to ask again.
    ///
    /// # Errors
    ///
    /// The instant at which a slot may be free: the end of the current window, or the
    /// daily reset when `remaining` is spent.
    pub fn try_acquire(&self, now: Instant) -> Result<IdentifySlot, Instant> {
        self.lock().try_acquire(now).map(IdentifySlot)
    }

    /// The IDENTIFY of `slot` was sent at `now`: its window starts. A slot that had
    /// timed out counts again, so the window still holds what QQ saw.
    pub fn sent(&self, slot: IdentifySlot, now: Instant) {
        let mut pacer = self.lock();
        match pacer.slots.iter_mut().find(|s| s.id == slot.0) {
            Some(s) => s.state = SlotState::Sent(now),
            None => pacer.slots.push_back(Slot { id: slot.0, state: SlotState::Sent(now) }),
        }
    }

    /// `slot` will not be used: its place in the window and in the daily budget are
    /// given back.
    pub fn release(&self, slot: IdentifySlot) {
        let mut pacer = self.lock();
        let before = pacer.slots.len();
        pacer.slots.retain(|s| !(s.id == slot.0 && matches!(s.state, SlotState::Granted(_))));
        if pacer.slots.len() < before {
            pacer.remaining = pacer.remaining.saturating_add(1);
        }
    }

    /// IDENTIFYs left before the daily reset.
    #[must_use]
    pub fn remaining(&self) -> u32 {
        self.lock().remaining
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pacer> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Pacer {
    fn try_acquire(&mut self, now: Instant) -> Result<u64, Instant> {
        if now >= self.reset_at {
            self.remaining = self.total;
            self.reset_at = now + DAY;
        }
        if self.remaining == 0 {
            return Err(self.reset_at);
        }
        self.slots.retain(|slot| slot.ends() > now);
        if self.slots.len() >= self.max_concurrency {
            // A granted slot frees when its IDENTIFY's window ends, or at once if its
            // connection fails: look again soon.
            let pending = self
                .slots
                .iter()
                .any(|s| matches!(s.state, SlotState::Granted(_)))
                .then_some(now + PENDING_RECHECK);
            let window_end =
                self.slots.iter().filter(|s| matches!(s.state, SlotState::Sent(_))).map(Slot::ends).min();
            return Err(match (window_end, pending) {
                (Some(end), Some(recheck)) => end.min(recheck),
                (Some(at), None) | (None, Some(at)) => at,
                (None, None) => now + PENDING_RECHECK,
            });
        }
        let id = self.next_slot;
        self.next_slot = self.next_slot.wrapping_add(1);
        self.slots.push_back(Slot { id, state: SlotState::Granted(now) });
        self.remaining -= 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    /// Acquires and sends at once.
    fn take(l: &IdentifyLimiter, at: u64) -> Result<(), Instant> {
        l.try_acquire(ms(at)).map(|slot| l.sent(slot, ms(at)))
    }

    #[test]
    fn window_admits_max_concurrency_then_waits() {
        let limit = SessionStartLimit { max_concurrency: 2, ..SessionStartLimit::default() };
        let l = IdentifyLimiter::new(limit, ms(0));
        assert_eq!(take(&l, 0), Ok(()));
        assert_eq!(take(&l, 100), Ok(()));
        assert_eq!(take(&l, 200), Err(ms(5_000)));
        assert_eq!(take(&l, 5_000), Ok(()));
        assert_eq!(take(&l, 5_001), Err(ms(5_100)));
        assert_eq!(l.remaining(), 997);
    }

    #[test]
    fn the_window_counts_from_the_identify_not_the_acquire() {
        let l = IdentifyLimiter::new(SessionStartLimit::default(), ms(0));
        let slot = l.try_acquire(ms(0)).unwrap();
        // While the first connection opens, its end is unknown: look again soon.
        assert_eq!(take(&l, 100), Err(ms(600)));
        l.sent(slot, ms(2_000));
        assert_eq!(take(&l, 5_000), Err(ms(7_000)));
        assert_eq!(take(&l, 7_000), Ok(()));
    }

    #[test]
    fn a_released_slot_is_given_back() {
        let l = IdentifyLimiter::new(SessionStartLimit::default(), ms(0));
        let slot = l.try_acquire(ms(0)).unwrap();
        assert_eq!(l.remaining(), 999);
        l.release(slot);
        assert_eq!(l.remaining(), 1000);
        assert_eq!(take(&l, 1), Ok(()));
        // A slot already sent is not given back: QQ counted its IDENTIFY.
        l.release(IdentifySlot(1));
        assert_eq!(l.remaining(), 999);
        assert_eq!(take(&l, 2), Err(ms(5_001)));
    }

    #[test]
    fn a_slot_never_sent_nor_released_times_out() {
        let l = IdentifyLimiter::new(SessionStartLimit::default(), ms(0));
        let _lost = l.try_acquire(ms(0)).unwrap();
        assert_eq!(take(&l, 1_000), Err(ms(1_500)));
        assert_eq!(take(&l, SLOT_TIMEOUT.as_millis() as u64), Ok(()));
        // Its IDENTIFY, sent after all, still counts in the window.
        l.sent(IdentifySlot(0), ms(60_001));
        assert_eq!(take(&l, 65_000), Err(ms(65_000 + 1)));
    }

    #[test]
    fn handle_answers_acquire_only() {
        let l = IdentifyLimiter::new(SessionStartLimit::default(), ms(0));
        let shard = ShardId::new(0, 1).unwrap();
        assert_eq!(
            l.handle(shard, PacerRequest::Acquire, ms(0)),
            Some(PacerAnswer::Granted(IdentifySlot(0)))
        );
        assert_eq!(l.handle(shard, PacerRequest::Sent(IdentifySlot(0)), ms(10)), None);
        assert_eq!(
            l.handle(shard, PacerRequest::Acquire, ms(20)),
            Some(PacerAnswer::Deferred(Duration::from_millis(4_990)))
        );
        assert_eq!(l.handle(shard, PacerRequest::Release(IdentifySlot(7)), ms(30)), None);
    }

    #[test]
    fn remaining_spent_waits_for_reset() {
        let limit = SessionStartLimit { total: 3, remaining: 1, reset_after: 60_000, max_concurrency: 5 };
        let l = IdentifyLimiter::new(limit, ms(0));
        assert_eq!(take(&l, 0), Ok(()));
        assert_eq!(take(&l, 10), Err(ms(60_000)));
        assert_eq!(take(&l, 60_000), Ok(()));
        assert_eq!(l.remaining(), 2);
    }

    #[test]
    fn zero_concurrency_means_one_and_huge_is_capped() {
        let l = IdentifyLimiter::new(SessionStartLimit { max_concurrency: 0, ..Default::default() }, ms(0));
        assert_eq!(take(&l, 0), Ok(()));
        assert!(take(&l, 1).is_err());
        let big = SessionStartLimit {
            max_concurrency: u32::MAX,
            remaining: 5000,
            total: 5000,
            ..Default::default()
        };
        let l = IdentifyLimiter::new(big, ms(0));
        let granted = (0..2000).filter(|_| take(&l, 0).is_ok()).count();
        assert_eq!(granted, MAX_CONCURRENCY_CAP);
    }
}

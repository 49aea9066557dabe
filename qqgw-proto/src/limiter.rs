//! Identify pacing: QQ's `session_start_limit`, shared by all shards of a bot.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use core::time::Duration;

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

/// Paces IDENTIFYs: at most `max_concurrency` per 5 s window (re-IDENTIFYs included) and
/// none once `remaining` is spent until the daily reset.
///
/// Clones share one state, so give a clone to every shard's
/// [`ConfigBuilder::identify_limiter`](crate::ConfigBuilder::identify_limiter). All machines
/// sharing a limiter must use one clock epoch. RESUMEs are not paced.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use qqgw_proto::{IdentifyLimiter, Instant, SessionStartLimit};
///
/// let limiter = IdentifyLimiter::new(SessionStartLimit::default(), Instant::ZERO);
/// let shard_1 = limiter.clone();
/// let ticket = limiter.try_acquire(Instant::ZERO).unwrap();
/// ticket.sent(Instant::from_millis(40)); // the window counts from the IDENTIFY itself
/// // The second IDENTIFY must wait for the 5 s window to pass.
/// assert_eq!(shard_1.try_acquire(Instant::from_millis(100)).unwrap_err(), Instant::from_millis(5_040));
/// assert!(shard_1.try_acquire(Instant::from_millis(5_040)).is_ok());
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
    next_ticket: u64,
    /// The IDENTIFYs of the current window: when each was sent, or `None` while its
    /// connection is still being opened.
    slots: VecDeque<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    ticket: u64,
    sent: Option<Instant>,
}

/// How long to wait before asking again when every slot of the window belongs to an
/// IDENTIFY not yet sent (its window cannot end before it is sent).
const PENDING_RECHECK: Duration = Duration::from_millis(500);

/// A slot for one IDENTIFY, from [`IdentifyLimiter::try_acquire`].
///
/// Mark it [`sent`](Self::sent) when the IDENTIFY goes out: the 5 s window is counted
/// from then, as QQ counts it. Dropped unsent (the connection failed first), it gives the
/// slot back.
#[derive(Debug)]
pub struct IdentifyTicket {
    inner: Arc<Mutex<Pacer>>,
    ticket: u64,
    sent: bool,
}

impl IdentifyTicket {
    /// The IDENTIFY was sent at `now`.
    pub fn sent(mut self, now: Instant) {
        let mut pacer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = pacer.slots.iter_mut().find(|s| s.ticket == self.ticket) {
            slot.sent = Some(now);
        }
        drop(pacer);
        self.sent = true;
    }
}

impl Drop for IdentifyTicket {
    fn drop(&mut self) {
        if !self.sent {
            let mut pacer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let before = pacer.slots.len();
            let ticket = self.ticket;
            pacer.slots.retain(|s| s.ticket != ticket);
            if pacer.slots.len() < before {
                pacer.remaining = pacer.remaining.saturating_add(1);
            }
        }
    }
}

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
                next_ticket: 0,
                slots: VecDeque::with_capacity(max_concurrency.min(16)),
            })),
        }
    }

    /// Takes a slot for one IDENTIFY at `now`, or says when to ask again.
    ///
    /// # Errors
    ///
    /// The instant at which a slot may be free: the end of the current window, or the
    /// daily reset when `remaining` is spent.
    pub fn try_acquire(&self, now: Instant) -> Result<IdentifyTicket, Instant> {
        let mut pacer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let ticket = pacer.try_acquire(now)?;
        Ok(IdentifyTicket { inner: Arc::clone(&self.inner), ticket, sent: false })
    }

    /// IDENTIFYs left before the daily reset.
    #[must_use]
    pub fn remaining(&self) -> u32 {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).remaining
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
        self.slots.retain(|slot| slot.sent.is_none_or(|sent| sent + IDENTIFY_WINDOW > now));
        if self.slots.len() >= self.max_concurrency {
            // A pending slot frees when its IDENTIFY's window ends, or at once if its
            // connection fails: look again soon.
            let pending = self.slots.iter().any(|s| s.sent.is_none()).then_some(now + PENDING_RECHECK);
            let window_end =
                self.slots.iter().filter_map(|s| s.sent).map(|sent| sent + IDENTIFY_WINDOW).min();
            return Err(match (window_end, pending) {
                (Some(end), Some(recheck)) => end.min(recheck),
                (Some(at), None) | (None, Some(at)) => at,
                (None, None) => now + PENDING_RECHECK,
            });
        }
        let ticket = self.next_ticket;
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.slots.push_back(Slot { ticket, sent: None });
        self.remaining -= 1;
        Ok(ticket)
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
        l.try_acquire(ms(at)).map(|t| t.sent(ms(at)))
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
        let ticket = l.try_acquire(ms(0)).unwrap();
        // While the first connection opens, its end is unknown: look again soon.
        assert_eq!(take(&l, 100), Err(ms(600)));
        ticket.sent(ms(2_000));
        assert_eq!(take(&l, 5_000), Err(ms(7_000)));
        assert_eq!(take(&l, 7_000), Ok(()));
    }

    #[test]
    fn an_unsent_ticket_gives_its_slot_back() {
        let l = IdentifyLimiter::new(SessionStartLimit::default(), ms(0));
        let ticket = l.try_acquire(ms(0)).unwrap();
        assert_eq!(l.remaining(), 999);
        drop(ticket);
        assert_eq!(l.remaining(), 1000);
        assert_eq!(take(&l, 1), Ok(()));
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

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
/// assert_eq!(limiter.try_acquire(Instant::ZERO), Ok(()));
/// // The second IDENTIFY must wait for the 5 s window to pass.
/// assert_eq!(shard_1.try_acquire(Instant::from_millis(10)), Err(Instant::from_millis(5_000)));
/// assert_eq!(shard_1.try_acquire(Instant::from_millis(5_000)), Ok(()));
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
    /// Instants of the IDENTIFYs granted in the current window, oldest first.
    granted: VecDeque<Instant>,
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
                granted: VecDeque::with_capacity(max_concurrency.min(16)),
            })),
        }
    }

    /// Takes a slot for one IDENTIFY at `now`, or says when to ask again.
    ///
    /// # Errors
    ///
    /// The instant at which a slot may be free: the end of the current window, or the
    /// daily reset when `remaining` is spent.
    pub fn try_acquire(&self, now: Instant) -> Result<(), Instant> {
        let mut pacer = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        pacer.try_acquire(now)
    }

    /// IDENTIFYs left before the daily reset.
    #[must_use]
    pub fn remaining(&self) -> u32 {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).remaining
    }
}

impl Pacer {
    fn try_acquire(&mut self, now: Instant) -> Result<(), Instant> {
        if now >= self.reset_at {
            self.remaining = self.total;
            self.reset_at = now + DAY;
        }
        if self.remaining == 0 {
            return Err(self.reset_at);
        }
        while self.granted.front().is_some_and(|&t| t + IDENTIFY_WINDOW <= now) {
            self.granted.pop_front();
        }
        if self.granted.len() >= self.max_concurrency {
            let oldest = self.granted.front().copied().unwrap_or(now);
            return Err(oldest + IDENTIFY_WINDOW);
        }
        self.granted.push_back(now);
        self.remaining -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn window_admits_max_concurrency_then_waits() {
        let limit = SessionStartLimit { max_concurrency: 2, ..SessionStartLimit::default() };
        let l = IdentifyLimiter::new(limit, ms(0));
        assert_eq!(l.try_acquire(ms(0)), Ok(()));
        assert_eq!(l.try_acquire(ms(100)), Ok(()));
        assert_eq!(l.try_acquire(ms(200)), Err(ms(5_000)));
        assert_eq!(l.try_acquire(ms(5_000)), Ok(()));
        assert_eq!(l.try_acquire(ms(5_001)), Err(ms(5_100)));
        assert_eq!(l.remaining(), 997);
    }

    #[test]
    fn remaining_spent_waits_for_reset() {
        let limit = SessionStartLimit { total: 3, remaining: 1, reset_after: 60_000, max_concurrency: 5 };
        let l = IdentifyLimiter::new(limit, ms(0));
        assert_eq!(l.try_acquire(ms(0)), Ok(()));
        assert_eq!(l.try_acquire(ms(10)), Err(ms(60_000)));
        assert_eq!(l.try_acquire(ms(60_000)), Ok(()));
        assert_eq!(l.remaining(), 2);
    }

    #[test]
    fn zero_concurrency_means_one_and_huge_is_capped() {
        let l = IdentifyLimiter::new(SessionStartLimit { max_concurrency: 0, ..Default::default() }, ms(0));
        assert_eq!(l.try_acquire(ms(0)), Ok(()));
        assert!(l.try_acquire(ms(1)).is_err());
        let big = SessionStartLimit {
            max_concurrency: u32::MAX,
            remaining: 5000,
            total: 5000,
            ..Default::default()
        };
        let l = IdentifyLimiter::new(big, ms(0));
        let granted = (0..2000).filter(|_| l.try_acquire(ms(0)).is_ok()).count();
        assert_eq!(granted, MAX_CONCURRENCY_CAP);
    }
}

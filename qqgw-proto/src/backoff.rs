//! Reconnect delays: capped exponential backoff with jitter.

use core::time::Duration;

use crate::rng::Rng;

/// Backoff for consecutive connection attempts that fail before becoming healthy.
///
/// The `n`-th consecutive failure waits `min(initial · 2ⁿ⁻¹, max)`, less up to a fifth of
/// it at random (jitter from the config's seed), so `n = 1, 2, 3, 4, …` waits 4–5 s,
/// 8–10 s, 16–20 s, 32–40 s, 32–40 s, … with the defaults, and never less than 1 ms. The
/// count resets once a connection is healthy (READY or RESUMED received and a heartbeat
/// acknowledged).
///
/// Reconnects that need no backoff (a session rotation by QQ, a healthy connection that
/// broke) wait only the config's `reconnect_jitter`.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use qqgw_proto::Backoff;
///
/// let backoff = Backoff::default();
/// assert_eq!(backoff.nominal(1), Duration::from_secs(5));
/// assert_eq!(backoff.nominal(3), Duration::from_secs(20));
/// assert_eq!(backoff.nominal(60), Duration::from_secs(40));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backoff {
    /// The delay after the first failure. Default: 5 s.
    pub initial: Duration,
    /// The longest delay. Default: 40 s.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_secs(5), max: Duration::from_secs(40) }
    }
}

impl Backoff {
    /// The delay before jitter after `failures` consecutive failures (0 → zero).
    #[must_use]
    pub fn nominal(&self, failures: u32) -> Duration {
        let Some(doublings) = failures.checked_sub(1) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX);
        self.initial.checked_mul(factor).unwrap_or(Duration::MAX).min(self.max)
    }

    /// The jittered delay: uniform in `[nominal − nominal/5, nominal]`, in whole milliseconds,
    /// and at least 1 ms: with a zero backoff, an adapter reporting failures from inside the
    /// drain would otherwise retry there for ever.
    pub(crate) fn delay(&self, failures: u32, rng: &mut Rng) -> Duration {
        let nominal = u64::try_from(self.nominal(failures).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis((nominal - rng.up_to(nominal / 5)).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_doubles_and_caps() {
        let b = Backoff::default();
        let secs: Vec<u64> = (0..8).map(|n| b.nominal(n).as_secs()).collect();
        assert_eq!(secs, [0, 5, 10, 20, 40, 40, 40, 40]);
        assert_eq!(b.nominal(u32::MAX), Duration::from_secs(40));
        let huge = Backoff { initial: Duration::MAX, max: Duration::MAX };
        assert_eq!(huge.nominal(40), Duration::MAX);
    }

    #[test]
    fn jitter_stays_within_a_fifth_below_nominal() {
        let b = Backoff::default();
        let mut rng = Rng::new(42);
        let mut seen = std::collections::BTreeSet::new();
        for n in 1..=6 {
            let nominal = b.nominal(n);
            for _ in 0..200 {
                let d = b.delay(n, &mut rng);
                assert!(d <= nominal && d >= nominal - nominal / 5, "{n}: {d:?}");
                seen.insert(d);
            }
        }
        assert!(seen.len() > 100, "jitter should spread delays");
    }
}

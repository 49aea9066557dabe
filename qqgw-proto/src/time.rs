//! The crate's own clock type.
//!
//! [`Instant`] is a point in time measured in whole milliseconds from an epoch the caller
//! picks (usually the moment the adapter started). The machine never reads a clock: every
//! input carries the caller's `now`. Durations are plain [`core::time::Duration`].

use core::fmt;
use core::ops::{Add, AddAssign};
use core::time::Duration;

/// A point in time, in milliseconds since an epoch chosen by the caller.
///
/// Adapters pick the epoch once (for example `std::time::Instant::now()` when a shard
/// starts) and convert every reading into milliseconds since it.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use qqgw_proto::Instant;
///
/// let start = Instant::from_millis(1_000);
/// let later = start + Duration::from_secs(45);
/// assert_eq!(later.as_millis(), 46_000);
/// assert_eq!(later.saturating_duration_since(start), Duration::from_secs(45));
/// assert_eq!(start.saturating_duration_since(later), Duration::ZERO);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Self = Self(0);
    /// The last representable instant; additions saturate here.
    pub const MAX: Self = Self(u64::MAX);

    /// An instant `millis` milliseconds after the epoch.
    #[must_use]
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + duration`, saturating at [`Instant::MAX`].
    #[must_use]
    pub const fn saturating_add(self, duration: Duration) -> Self {
        let ms = duration.as_millis();
        let ms = if ms > u64::MAX as u128 { u64::MAX } else { ms as u64 };
        Self(self.0.saturating_add(ms))
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Self;

    /// Saturating addition (see [`Instant::saturating_add`]).
    fn add(self, rhs: Duration) -> Self {
        self.saturating_add(rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = self.saturating_add(rhs);
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({}ms)", self.0)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addition_saturates() {
        assert_eq!(Instant::MAX + Duration::from_millis(1), Instant::MAX);
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
        assert_eq!(Instant::from_millis(5) + Duration::from_micros(1999), Instant::from_millis(6));
    }

    #[test]
    fn display_is_seconds() {
        assert_eq!(Instant::from_millis(45_007).to_string(), "45.007s");
    }
}

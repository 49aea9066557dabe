//! When to reconnect after a connection ends: a pure decision over (cause, what the
//! connection achieved), the storm budget that paces instant reconnects, and the counts
//! and jitter source that turn a decision into a delay.
//!
//! The rules, and the storm budget's numbers, are tabled once, in
//! [`GatewayMachine`'s docs](crate::GatewayMachine#reconnects); `verdict` is that table
//! as code, `StormBudget` the bucket it describes, and `Reconnects` what the policy
//! remembers from one connection to the next.

use core::time::Duration;

use super::io::DisconnectCause;
use crate::backoff::Backoff;
use crate::close::CloseAction;
use crate::config::Config;
use crate::rng::Rng;
use crate::time::Instant;

/// How many instant reconnects the storm budget allows in a row.
pub const STORM_BURST: u32 = 4;
/// How fast the storm budget refills: one instant reconnect per this much time.
pub const STORM_REFILL: Duration = Duration::from_secs(3);
/// A connection that ends sooner than this after its progress (READY, RESUMED, a
/// replayed event) is flapping: its instant reconnect is taken from the storm budget.
pub const FLAP_WINDOW: Duration = Duration::from_secs(2);
/// A RESUME refused this many times in a row is given up for a fresh IDENTIFY.
const RESUME_ATTEMPTS: u32 = 2;

/// What a connection's end means for the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Stop for good.
    pub(crate) fatal: bool,
    /// Forget the session and IDENTIFY afresh.
    pub(crate) forget: bool,
    /// Fetch a new access token first.
    pub(crate) refresh_token: bool,
    /// Reconnect at once (within the storm budget) rather than after backoff.
    pub(crate) immediate: bool,
    /// Wait at least the backoff's first step (4008).
    pub(crate) rate_limited: bool,
    /// A RESUME the server answered without letting it through: counts towards giving
    /// the session up.
    pub(crate) resume_refused: bool,
}

/// The decision for a connection that ended with `cause`, having made `progress` (READY,
/// RESUMED or a replayed event received) or not, after sending a RESUME (`resumed`) or not.
pub(crate) fn verdict(cause: &DisconnectCause, progress: bool, resumed: bool) -> Verdict {
    let mut v = Verdict {
        fatal: false,
        forget: false,
        refresh_token: false,
        immediate: progress,
        rate_limited: false,
        resume_refused: false,
    };
    match cause {
        DisconnectCause::Closed(frame) => {
            match frame.code.action() {
                CloseAction::Fatal => v.fatal = true,
                CloseAction::RefreshToken => v.refresh_token = true,
                CloseAction::Identify => v.forget = true,
                CloseAction::Resume => {}
            }
            v.rate_limited = frame.code.is_rate_limit();
        }
        DisconnectCause::InvalidSession { resumable } => {
            // An answer from a server that works: no backoff, but the storm budget.
            v.immediate = true;
            v.forget = !resumable;
            v.resume_refused = resumed && !progress;
        }
        DisconnectCause::HandshakeTimeout => v.resume_refused = resumed && !progress,
        DisconnectCause::ConnectFailed | DisconnectCause::TokenUnavailable(_) => v.immediate = false,
        DisconnectCause::ReconnectRequested | DisconnectCause::Dropped | DisconnectCause::Zombie => {}
    }
    v.immediate &= !v.rate_limited;
    v
}

/// Instant reconnects, paced: [`STORM_BURST`] in a row, then one per [`STORM_REFILL`].
#[derive(Debug, Clone)]
pub(crate) struct StormBudget {
    tokens: u32,
    /// When the bucket last gained a token (or, when a token was borrowed, when the
    /// borrowed one comes due: then it lies in the future).
    refilled_at: Instant,
}

impl StormBudget {
    pub(crate) fn new(now: Instant) -> Self {
        Self { tokens: STORM_BURST, refilled_at: now }
    }

    /// Takes one instant reconnect at `now`; returns how long it must wait for it (zero
    /// while the bucket has one).
    pub(crate) fn take(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if let Some(left) = self.tokens.checked_sub(1) {
            self.tokens = left;
            return Duration::ZERO;
        }
        self.refilled_at += STORM_REFILL;
        self.refilled_at.saturating_duration_since(now)
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at).as_millis();
        let gained = elapsed / STORM_REFILL.as_millis();
        if gained == 0 {
            return;
        }
        let tokens = u128::from(self.tokens) + gained;
        if tokens >= u128::from(STORM_BURST) {
            self.tokens = STORM_BURST;
            self.refilled_at = now;
        } else {
            self.tokens = u32::try_from(tokens).unwrap_or(STORM_BURST);
            let step =
                u64::try_from(gained).unwrap_or(u64::MAX).saturating_mul(STORM_REFILL.as_millis() as u64);
            self.refilled_at += Duration::from_millis(step);
        }
    }
}

/// What the reconnect policy remembers from one connection to the next: the counts that
/// decide the next delay, the storm budget, and the jitter source.
#[derive(Debug)]
pub(super) struct Reconnects {
    /// Draws every delay's jitter, from the config's seed.
    rng: Rng,
    storm: StormBudget,
    /// Consecutive attempts that ended before making progress.
    failures: u32,
    /// Consecutive RESUMEs that did not reach RESUMED.
    resume_refusals: u32,
}

impl Reconnects {
    pub(super) fn new(seed: u64, now: Instant) -> Self {
        Self { rng: Rng::new(seed), storm: StormBudget::new(now), failures: 0, resume_refusals: 0 }
    }

    /// READY, RESUMED or a replayed event: the failure count and the refused-RESUME count
    /// start over.
    pub(super) fn progress(&mut self) {
        self.failures = 0;
        self.resume_refusals = 0;
    }

    /// The session was given up: refusals of its RESUMEs no longer count.
    pub(super) fn session_forgotten(&mut self) {
        self.resume_refusals = 0;
    }

    /// A RESUME was refused (see [`Verdict::resume_refused`]); whether that makes
    /// [`RESUME_ATTEMPTS`] in a row, so that the session is given up.
    pub(super) fn resume_refused(&mut self) -> bool {
        self.resume_refusals = self.resume_refusals.saturating_add(1);
        self.resume_refusals >= RESUME_ATTEMPTS
    }

    /// An attempt failed before making progress: the next one waits the backoff, a step
    /// longer than the last.
    pub(super) fn back_off(&mut self, backoff: &Backoff) -> Duration {
        self.failures = self.failures.saturating_add(1);
        backoff.delay(self.failures, &mut self.rng)
    }

    /// How long to wait before the next attempt after a connection ended as `verdict`
    /// says, having `lived` this long past its progress (if it made any). An instant
    /// reconnect is free after a connection that lived [`FLAP_WINDOW`], else taken from the
    /// storm budget, and jittered by up to the config's `reconnect_jitter`; any other
    /// backs off, for at least the backoff's first step after a rate limit.
    pub(super) fn delay(
        &mut self,
        verdict: &Verdict,
        lived: Option<Duration>,
        config: &Config,
        now: Instant,
    ) -> Duration {
        if verdict.immediate {
            let pace = match lived {
                Some(lived) if lived >= FLAP_WINDOW => Duration::ZERO,
                _ => self.storm.take(now),
            };
            let jitter = u64::try_from(config.reconnect_jitter.as_millis()).unwrap_or(u64::MAX);
            pace + Duration::from_millis(self.rng.up_to(jitter))
        } else {
            let delay = self.back_off(&config.backoff);
            if verdict.rate_limited { delay.max(config.backoff.initial) } else { delay }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::close::{CloseCode, CloseFrame};

    fn closed(code: u16) -> DisconnectCause {
        DisconnectCause::Closed(CloseFrame::new(code, ""))
    }

    #[test]
    fn progress_makes_any_non_fatal_end_instant_except_4008() {
        for cause in [
            closed(4009),
            closed(1006),
            closed(4907),
            DisconnectCause::ReconnectRequested,
            DisconnectCause::Dropped,
            DisconnectCause::Zombie,
        ] {
            assert!(verdict(&cause, true, true).immediate, "{cause:?}");
            assert!(!verdict(&cause, false, true).immediate, "{cause:?} before progress backs off");
        }
        let answered = DisconnectCause::InvalidSession { resumable: false };
        assert!(verdict(&answered, false, true).immediate, "op 9 is an answer: no backoff");
        let limited = verdict(&closed(4008), true, false);
        assert!(!limited.immediate && limited.rate_limited);
        assert!(!verdict(&DisconnectCause::ConnectFailed, true, false).immediate);
    }

    #[test]
    fn close_codes_map_to_their_action() {
        assert!(verdict(&closed(4915), true, false).fatal);
        assert!(verdict(&closed(4004), true, false).refresh_token);
        assert!(verdict(&closed(4006), false, true).forget);
        assert!(!verdict(&closed(CloseCode::SESSION_TIMED_OUT.0), false, true).forget);
    }

    #[test]
    fn only_an_answered_resume_counts_as_refused() {
        let refused = |cause: DisconnectCause, progress| verdict(&cause, progress, true).resume_refused;
        assert!(refused(DisconnectCause::HandshakeTimeout, false));
        assert!(refused(DisconnectCause::InvalidSession { resumable: true }, false));
        assert!(!refused(DisconnectCause::HandshakeTimeout, true), "a replay under way is progress");
        assert!(!refused(closed(4009), false), "4009 means resume is fine");
        assert!(!refused(DisconnectCause::ReconnectRequested, false));
        assert!(!refused(DisconnectCause::Dropped, false));
        assert!(!verdict(&DisconnectCause::HandshakeTimeout, false, false).resume_refused);
    }

    #[test]
    fn an_invalid_session_is_a_refusal_only_of_a_resume_without_progress() {
        let refused = |progress, resumed| {
            verdict(&DisconnectCause::InvalidSession { resumable: true }, progress, resumed).resume_refused
        };
        assert!(refused(false, true));
        assert!(!refused(true, true), "after RESUMED or a replay, op 9 refuses no RESUME");
        assert!(!refused(false, false), "an IDENTIFY is not a RESUME");
        assert!(!refused(true, false));
    }

    #[test]
    fn the_budget_allows_a_burst_then_one_per_refill() {
        let mut budget = StormBudget::new(Instant::ZERO);
        let at = |ms| Instant::from_millis(ms);
        for _ in 0..STORM_BURST {
            assert_eq!(budget.take(at(0)), Duration::ZERO);
        }
        assert_eq!(budget.take(at(0)), STORM_REFILL);
        assert_eq!(budget.take(at(3_000)), STORM_REFILL, "the next one is borrowed too");
        // Quiet for a long while: full again.
        for _ in 0..STORM_BURST {
            assert_eq!(budget.take(at(60_000)), Duration::ZERO);
        }
        assert!(budget.take(at(60_000)) > Duration::ZERO);
    }

    #[test]
    fn sustained_flapping_averages_at_most_one_connection_per_two_seconds() {
        // A server that closes the instant a connection is ready: every reconnect is
        // taken as soon as the budget allows.
        let mut budget = StormBudget::new(Instant::ZERO);
        let mut now = Instant::ZERO;
        let mut connections = 1; // the first one
        loop {
            now = now + budget.take(now);
            if now > Instant::from_millis(60_000) {
                break;
            }
            connections += 1;
        }
        assert!(connections <= 30, "{connections} connections in a minute");
        assert_eq!(connections, 1 + STORM_BURST + 20);
    }
}

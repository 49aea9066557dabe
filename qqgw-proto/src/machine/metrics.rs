//! Counters and heartbeat latency, read with getters.

use core::time::Duration;

use crate::machine::State;
use crate::time::Instant;

/// A snapshot of a machine's counters, from [`GatewayMachine::metrics`](crate::GatewayMachine::metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Connections asked for ([`Output::Connect`](crate::Output::Connect)).
    pub connects: u64,
    /// Connections that could not be opened.
    pub connect_failures: u64,
    /// IDENTIFYs sent.
    pub identifies: u64,
    /// RESUMEs sent.
    pub resumes: u64,
    /// READYs received.
    pub readies: u64,
    /// RESUMEDs received.
    pub resumed: u64,
    /// Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Heartbeats acknowledged.
    pub heartbeats_acked: u64,
    /// Connections given up because a heartbeat went unacknowledged.
    pub zombies: u64,
    /// Connections that ended, for any reason.
    pub disconnects: u64,
    /// Access tokens asked for.
    pub token_refreshes: u64,
    /// Dispatches emitted.
    pub events: u64,
    /// Replayed dispatches dropped (sequence number already delivered).
    pub replays_dropped: u64,
    /// Dispatches dropped because their event id was delivered recently.
    pub duplicates_dropped: u64,
    /// Frames that could not be used.
    pub decode_failures: u64,
    /// Sessions that could not be resumed ([`Event::SessionLost`](crate::Event::SessionLost)).
    pub sessions_lost: u64,
    /// Events counted as handled without their receipt because
    /// [`MAX_UNACKED`](crate::MAX_UNACKED) were waiting.
    pub unacked_overflows: u64,
    /// Time spent in each [`State`], indexed by [`State::index`]: read with [`time_in`](Self::time_in).
    time_in: [Duration; State::ALL.len()],
}

impl Metrics {
    /// Time spent in `state`.
    #[must_use]
    pub fn time_in(&self, state: State) -> Duration {
        self.time_in.get(state.index()).copied().unwrap_or_default()
    }

    /// Counts `spent` as time in `state`.
    pub(super) fn add_time_in(&mut self, state: State, spent: Duration) {
        if let Some(t) = self.time_in.get_mut(state.index()) {
            *t = t.saturating_add(spent);
        }
    }
}

/// Heartbeat round trips, measured on the caller's clock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency {
    recent: [Option<Duration>; 5],
    count: u64,
    total: Duration,
    sent_at: Option<Instant>,
    acked_at: Option<Instant>,
}

impl Latency {
    /// The last round trip.
    #[must_use]
    pub fn last(&self) -> Option<Duration> {
        let i = self.count.checked_sub(1)? % 5;
        self.recent.get(usize::try_from(i).ok()?).copied().flatten()
    }

    /// The mean of all round trips measured.
    #[must_use]
    pub fn average(&self) -> Option<Duration> {
        let count = u32::try_from(self.count).unwrap_or(u32::MAX);
        self.total.checked_div(count)
    }

    /// The last five round trips, in no particular order.
    pub fn recent(&self) -> impl Iterator<Item = Duration> + '_ {
        self.recent.iter().flatten().copied()
    }

    /// Round trips measured.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// When the last heartbeat was sent.
    #[must_use]
    pub fn sent_at(&self) -> Option<Instant> {
        self.sent_at
    }

    /// When the last acknowledgement arrived.
    #[must_use]
    pub fn acked_at(&self) -> Option<Instant> {
        self.acked_at
    }

    pub(crate) fn record_sent(&mut self, now: Instant) {
        self.sent_at = Some(now);
    }

    pub(crate) fn record_ack(&mut self, sent: Instant, now: Instant) {
        let rtt = now.saturating_duration_since(sent);
        if let Some(slot) = usize::try_from(self.count % 5).ok().and_then(|i| self.recent.get_mut(i)) {
            *slot = Some(rtt);
        }
        self.count = self.count.saturating_add(1);
        self.total = self.total.saturating_add(rtt);
        self.acked_at = Some(now);
    }
}

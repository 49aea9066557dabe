//! The machine's deadlines: one slot per timer, the next wake-up is the earliest, and
//! what the machine does when each fires.

use super::{DisconnectCause, GatewayMachine};
use crate::time::Instant;

/// A deadline the machine keeps.
///
/// | timer | armed | fires |
/// |---|---|---|
/// | [`Reconnect`](Timer::Reconnect) | after a connection ends, a token failure, or a full identify window | the next connection attempt begins |
/// | [`Heartbeat`](Timer::Heartbeat) | at HELLO, then after every heartbeat | a heartbeat is sent, or the connection is declared a zombie if the last one is unacknowledged |
/// | [`Handshake`](Timer::Handshake) | when a connection opens; stopped by READY, RESUMED or a replayed event | the connection is abandoned (no close handshake) and the attempt backs off |
/// | [`Close`](Timer::Close) | when the machine sends a close frame | the server has not answered the close: the socket is abandoned |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timer {
    /// Begin the next connection attempt.
    Reconnect,
    /// Send the next heartbeat (or detect a zombie connection).
    Heartbeat,
    /// Give up on a connection that has not become ready.
    Handshake,
    /// Stop waiting for the server to answer a close frame.
    Close,
}

impl Timer {
    const ALL: [Timer; 4] = [Timer::Reconnect, Timer::Heartbeat, Timer::Handshake, Timer::Close];
    /// The timers of one connection, stopped when it ends.
    pub(crate) const CONNECTION: [Timer; 3] = [Timer::Heartbeat, Timer::Handshake, Timer::Close];
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable([Option<Instant>; Timer::ALL.len()]);

impl TimerTable {
    /// Arms `timer` at `at`. A deadline at the end of the clock (reached only by a
    /// saturating addition) never comes: fired at `now == Instant::MAX`, it would re-arm
    /// at now again and spin.
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(slot) = self.0.get_mut(timer as usize) {
            *slot = (at < Instant::MAX).then_some(at);
        }
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        if let Some(slot) = self.0.get_mut(timer as usize) {
            *slot = None;
        }
    }

    pub(crate) fn stop_all(&mut self) {
        self.0 = [None; Timer::ALL.len()];
    }

    /// The earliest armed timer.
    pub(crate) fn next(&self) -> Option<(Timer, Instant)> {
        Timer::ALL
            .iter()
            .zip(self.0.iter())
            .filter_map(|(&timer, at)| at.map(|at| (timer, at)))
            .min_by_key(|&(_, at)| at)
    }

    /// Disarms and returns the earliest timer due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let (timer, at) = self.next()?;
        if at > now {
            return None;
        }
        self.stop(timer);
        Some(timer)
    }
}

impl GatewayMachine {
    /// Fires every timer due at `now`.
    pub(super) fn fire_timers(&mut self) {
        // Each firing re-arms timers only in the future, so this ends; the bound is a guard.
        for _ in 0..8 {
            let Some(timer) = self.timers.pop_due(self.now) else { return };
            match timer {
                Timer::Reconnect => self.begin_attempt(false),
                Timer::Heartbeat => self.on_heartbeat_due(),
                // Unread frames may hold READY: a lagging consumer is waited for.
                Timer::Handshake if self.read_paused => {
                    self.timers.set(Timer::Handshake, self.now + self.config.handshake_timeout);
                }
                // A server that has not become ready in time is not waited on to close.
                Timer::Handshake => self.abandon(DisconnectCause::HandshakeTimeout),
                // The server did not answer our close: it is gone.
                Timer::Close => self.abandon(DisconnectCause::Dropped),
            }
        }
    }
}

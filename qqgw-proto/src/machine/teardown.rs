//! How a connection ends: the close handshake, the one teardown every end goes through,
//! the reconnect policy applied, and the machine's own end.

use core::time::Duration;

use super::connection::Connection;
use super::reconnect::verdict;
use super::state::{Closing, Phase};
use super::{Disconnect, DisconnectCause, Event, GatewayMachine, Output, Reconnect, Timer};
use crate::close::CloseFrame;
use crate::error::FatalError;
use crate::limiter::PacerRequest;
use crate::session::Session;

impl GatewayMachine {
    /// The session cannot be resumed: report the gap, from its checkpoint.
    pub(super) fn forget_session(&mut self) {
        if let Some(lost) = self.session() {
            self.metrics.sessions_lost += 1;
            self.emit(Event::SessionLost(lost));
        }
        self.session_id = None;
        self.delivery.new_session();
        self.reconnects.session_forgotten();
    }

    /// Closes with a handshake: the close frame goes out, and the server's reply is
    /// awaited for at most `close_timeout` before the socket is abandoned.
    pub(super) fn start_close(&mut self, frame: CloseFrame<'static>, why: Closing) {
        self.timers.stop(Timer::Heartbeat);
        self.timers.stop(Timer::Handshake);
        self.timers.set(Timer::Close, self.now + self.config.close_timeout);
        self.set_phase(Phase::Closing(why));
        self.out.push_back(Output::Close(frame));
    }

    /// Drops the socket without a handshake (the peer is gone or too slow to answer),
    /// and goes on as if it had closed.
    pub(super) fn abandon(&mut self, cause: DisconnectCause) {
        self.out.push_back(Output::Abandon);
        self.connection_gone(cause);
    }

    /// The one teardown: the connection is gone (closed by the server, dropped, abandoned,
    /// or it never opened). If the machine was closing it, the reason it closed for
    /// decides what follows; else `cause` does.
    pub(super) fn connection_gone(&mut self, cause: DisconnectCause) {
        let cause = match self.phase {
            _ if self.phase.closes_for_good() => return self.finish_graceful(),
            Phase::Closing(Closing::ReconnectRequested) => DisconnectCause::ReconnectRequested,
            Phase::Closing(Closing::InvalidSession { resumable }) => {
                DisconnectCause::InvalidSession { resumable }
            }
            _ => cause,
        };
        self.connection_ended(cause);
    }

    /// The connection is gone and the machine goes on: apply the reconnect policy (see
    /// `reconnect.rs`) and schedule the next attempt.
    fn connection_ended(&mut self, cause: DisconnectCause) {
        self.metrics.disconnects += 1;
        let conn = self.end_connection();
        let v = verdict(&cause, conn.progress.is_some(), conn.resumed());
        if v.fatal {
            if let DisconnectCause::Closed(frame) = cause {
                return self
                    .fatal(FatalError::Closed { code: frame.code, reason: frame.reason.into_owned() });
            }
        }
        if !matches!(cause, DisconnectCause::InvalidSession { .. }) {
            self.report_unseen_session(&conn);
        }
        if v.refresh_token {
            self.token = None;
        }
        let refused_too_often = v.resume_refused && self.reconnects.resume_refused();
        if v.forget || refused_too_often {
            self.forget_session();
        }
        let lived = conn.progress.map(|at| self.now.saturating_duration_since(at));
        let delay = self.reconnects.delay(&v, lived, &self.config, self.now);
        self.schedule_attempt(cause, delay);
    }

    /// Reports the end of a connection (or of an attempt that could not start) and
    /// schedules the next attempt `delay` from now.
    pub(super) fn schedule_attempt(&mut self, cause: DisconnectCause, delay: Duration) {
        let at = self.now + delay;
        let next = if self.session_id.is_some() { Reconnect::Resume } else { Reconnect::Identify };
        self.emit(Event::Disconnected(Disconnect { cause, next, at }));
        self.set_phase(Phase::Disconnected);
        if delay.is_zero() {
            self.begin_attempt(false);
        } else {
            self.timers.set(Timer::Reconnect, at);
        }
    }

    /// Forgets everything of the current connection: its timers stop, an IDENTIFY slot
    /// it did not use goes back to the pacer. Returns what it was.
    fn end_connection(&mut self) -> Connection {
        for timer in Timer::CONNECTION {
            self.timers.stop(timer);
        }
        if let Some(slot) = self.conn.slot.take() {
            self.out.push_back(Output::Pacer(PacerRequest::Release(slot)));
        }
        core::mem::take(&mut self.conn)
    }

    /// An IDENTIFY sent on `conn` got no READY: QQ may have started a session this
    /// machine never saw, whose events the next IDENTIFY loses. Reported as a lost
    /// session with no id.
    fn report_unseen_session(&mut self, conn: &Connection) {
        if conn.identify_unanswered() {
            self.metrics.sessions_lost += 1;
            self.emit(Event::SessionLost(Session::new(String::new(), 0, self.config.shard)));
        }
    }

    /// Stops for good on `error`.
    pub(super) fn fatal(&mut self, error: FatalError) {
        self.end_connection();
        self.timers.stop_all();
        self.emit(Event::Fatal(error));
        self.set_phase(Phase::Terminated);
    }

    /// The graceful close is done: stop, handing over the session.
    pub(super) fn finish_graceful(&mut self) {
        let conn = self.end_connection();
        self.report_unseen_session(&conn);
        self.timers.stop_all();
        let session = self.session();
        self.emit(Event::Closed(session));
        self.set_phase(Phase::Terminated);
    }
}

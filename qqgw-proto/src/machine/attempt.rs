//! The way to an open connection: a usable token, an IDENTIFY slot if the attempt will
//! IDENTIFY, the connection itself.

use core::time::Duration;

use super::connection::{Connection, Plan};
use super::state::{Closing, Phase};
use super::{DisconnectCause, Event, GatewayMachine, Output, Timer};
use crate::close::CloseFrame;
use crate::error::{FatalError, TokenError};
use crate::limiter::{PacerAnswer, PacerRequest};
use crate::token::{Secret, TOKEN_REFRESH_MARGIN};

impl GatewayMachine {
    /// Starts the next connection attempt: a usable token first, then an IDENTIFY slot if
    /// the attempt will IDENTIFY, then the connection.
    pub(super) fn begin_attempt(&mut self, token_just_arrived: bool) {
        let now = self.now;
        // A token delivered on request is used if it has not expired; one held from
        // before must outlive the refresh margin.
        let needed_until = if token_just_arrived { now } else { now + TOKEN_REFRESH_MARGIN };
        let authorization = match &self.token {
            Some(token) if token.expires_at() > needed_until => Secret(token.authorization()),
            Some(_) if token_just_arrived => {
                self.token = None;
                return self.on_token_failed(TokenError::Unavailable(
                    "the token delivered has already expired".into(),
                ));
            }
            _ => {
                self.set_phase(Phase::AwaitingToken);
                self.metrics.token_refreshes += 1;
                self.out.push_back(Output::RefreshToken);
                return;
            }
        };
        let plan = if self.session_id.is_some() { Plan::Resume } else { Plan::Identify };
        self.conn = Connection::new(authorization, plan);
        if plan == Plan::Identify {
            self.set_phase(Phase::AwaitingIdentifySlot { asked: true });
            self.out.push_back(Output::Pacer(PacerRequest::Acquire));
        } else {
            self.connect();
        }
    }

    /// Asks for the connection.
    fn connect(&mut self) {
        self.set_phase(Phase::Connecting { close_when_open: false });
        self.metrics.connects += 1;
        self.out.push_back(Output::Connect(self.config.url.clone()));
    }

    /// The identify pacer answered. A slot nobody waits for any more goes back at once.
    pub(super) fn on_pacer(&mut self, answer: PacerAnswer) {
        let wanted = match &mut self.phase {
            Phase::AwaitingIdentifySlot { asked } => core::mem::take(asked),
            _ => false,
        };
        match answer {
            PacerAnswer::Granted(slot) if wanted => {
                self.conn.slot = Some(slot);
                self.connect();
            }
            PacerAnswer::Granted(slot) => self.out.push_back(Output::Pacer(PacerRequest::Release(slot))),
            PacerAnswer::Deferred(wait) if wanted => {
                self.timers.set(Timer::Reconnect, self.now + wait.max(Duration::from_millis(1)));
            }
            PacerAnswer::Deferred(_) => {}
        }
    }

    /// No token: rejected credentials stop the machine; anything else waits the backoff,
    /// unless the token held is still valid.
    pub(super) fn on_token_failed(&mut self, error: TokenError) {
        match error {
            TokenError::Rejected { code, message } => {
                self.fatal(FatalError::CredentialsRejected { code, message })
            }
            // A renewal that failed while the token held still works: use it.
            error @ TokenError::Unavailable(_)
                if self.token.as_ref().is_some_and(|t| t.expires_at() > self.now) =>
            {
                self.emit(Event::TokenRefreshFailed(error));
                self.begin_attempt(true);
            }
            TokenError::Unavailable(reason) => {
                let delay = self.reconnects.back_off(&self.config.backoff);
                self.schedule_attempt(DisconnectCause::TokenUnavailable(reason), delay);
            }
        }
    }

    /// The connection is open: HELLO is awaited, or the graceful close that waited is sent.
    pub(super) fn on_connected(&mut self) {
        let close = self.phase.closes_for_good();
        self.set_phase(Phase::AwaitingHello);
        self.timers.set(Timer::Handshake, self.now + self.config.handshake_timeout);
        if close {
            self.start_close(CloseFrame::CLOSING, Closing::Graceful);
        }
    }
}

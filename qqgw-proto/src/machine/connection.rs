//! The facts of one connection, from the attempt that asks for it to its end.

use core::time::Duration;

use crate::limiter::IdentifySlot;
use crate::time::Instant;
use crate::token::Secret;

/// Facts about the current connection; the default between connections.
#[derive(Debug, Default)]
pub(super) struct Connection {
    /// `QQBot {token}`, taken when the connection was asked for.
    pub(super) authorization: Secret,
    pub(super) plan: Plan,
    /// The IDENTIFY slot taken before connecting; given back if no IDENTIFY is sent.
    pub(super) slot: Option<IdentifySlot>,
    /// The IDENTIFY or RESUME of the plan was sent.
    pub(super) sent_auth: bool,
    /// READY or RESUMED received.
    pub(super) authenticated: bool,
    /// When READY, RESUMED or a replayed event was first received: the session moves.
    pub(super) progress: Option<Instant>,
    /// HELLO's interval, clamped; `None` before HELLO.
    pub(super) heartbeat_interval: Option<Duration>,
    /// When the unacknowledged heartbeat was sent.
    pub(super) pending_ack: Option<Instant>,
    /// A frame arrived since the last heartbeat was sent: proof of life as good as an ACK.
    pub(super) heard_since_beat: bool,
}

/// How a connection authenticates once HELLO arrives.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plan {
    #[default]
    Identify,
    Resume,
}

impl Connection {
    /// A connection asked for with `authorization`, to authenticate as `plan` says.
    pub(super) fn new(authorization: Secret, plan: Plan) -> Self {
        Self { authorization, plan, ..Self::default() }
    }

    /// A RESUME was sent on it.
    pub(super) fn resumed(&self) -> bool {
        self.plan == Plan::Resume && self.sent_auth
    }

    /// An IDENTIFY was sent on it and no READY came: QQ may have started a session this
    /// machine never saw.
    pub(super) fn identify_unanswered(&self) -> bool {
        self.plan == Plan::Identify && self.sent_auth && !self.authenticated
    }

    /// A heartbeat is still unacknowledged and no frame came since it was sent: the link
    /// may be dead.
    pub(super) fn is_silent(&self) -> bool {
        self.pending_ack.is_some() && !self.heard_since_beat
    }
}

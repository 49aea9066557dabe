//! The machine's phases: [`State`], as users and metrics see them, and [`Phase`], the
//! same with each phase's data, as the machine keeps it.

/// Where a [`GatewayMachine`](crate::GatewayMachine) is in a connection's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// No connection; waiting for the reconnect delay (backoff or jitter) to pass.
    Disconnected,
    /// Waiting for an access token (after [`Output::RefreshToken`](crate::Output::RefreshToken)).
    AwaitingToken,
    /// Waiting for the identify pacer: for its answer to
    /// [`PacerRequest::Acquire`](crate::PacerRequest::Acquire), or for the wait it asked for.
    AwaitingIdentifySlot,
    /// Opening a connection (after [`Output::Connect`](crate::Output::Connect)).
    Connecting,
    /// Connected, waiting for HELLO.
    AwaitingHello,
    /// IDENTIFY sent, waiting for READY.
    Identifying,
    /// RESUME sent, receiving replayed events until RESUMED.
    Resuming,
    /// READY or RESUMED received: events flow.
    Active,
    /// The machine closed the connection and waits for the transport to confirm.
    Closing,
    /// Stopped for good, after a fatal error or a graceful close.
    Terminated,
}

impl State {
    /// Every state, in declaration order (see [`index`](Self::index)).
    pub const ALL: [State; 10] = [
        State::Disconnected,
        State::AwaitingToken,
        State::AwaitingIdentifySlot,
        State::Connecting,
        State::AwaitingHello,
        State::Identifying,
        State::Resuming,
        State::Active,
        State::Closing,
        State::Terminated,
    ];

    /// This state's position in [`State::ALL`].
    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Whether a WebSocket connection is open (or being opened or closed) in this state.
    #[must_use]
    pub const fn has_connection(self) -> bool {
        matches!(
            self,
            State::Connecting
                | State::AwaitingHello
                | State::Identifying
                | State::Resuming
                | State::Active
                | State::Closing
        )
    }
}

/// What the machine is doing, with what only that phase knows. Each variant is the
/// [`State`] of the same name, its public face ([`Phase::state`]); the data lives in the
/// variants so that none outlives its phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Disconnected,
    AwaitingToken,
    /// `asked` while the pacer's answer to
    /// [`PacerRequest::Acquire`](crate::PacerRequest::Acquire) is awaited; a slot granted
    /// otherwise is given back.
    AwaitingIdentifySlot {
        asked: bool,
    },
    /// `close_when_open` once a graceful close waits for the connection to open, to close
    /// it then.
    Connecting {
        close_when_open: bool,
    },
    AwaitingHello,
    Identifying,
    Resuming,
    Active,
    /// The machine sent a close frame, for this reason, and awaits the server's answer.
    Closing(Closing),
    Terminated,
}

/// Why the machine closes a connection itself: what follows once it is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closing {
    /// Stop for good: [`GatewayMachine::close`](crate::GatewayMachine::close).
    Graceful,
    /// QQ asked for a reconnect (op 7): reconnect and RESUME.
    ReconnectRequested,
    /// QQ refused the session (op 9), allowing a RESUME or not: reconnect.
    InvalidSession { resumable: bool },
}

impl Phase {
    /// The public face of this phase.
    pub(super) const fn state(&self) -> State {
        match self {
            Phase::Disconnected => State::Disconnected,
            Phase::AwaitingToken => State::AwaitingToken,
            Phase::AwaitingIdentifySlot { .. } => State::AwaitingIdentifySlot,
            Phase::Connecting { .. } => State::Connecting,
            Phase::AwaitingHello => State::AwaitingHello,
            Phase::Identifying => State::Identifying,
            Phase::Resuming => State::Resuming,
            Phase::Active => State::Active,
            Phase::Closing(_) => State::Closing,
            Phase::Terminated => State::Terminated,
        }
    }

    /// Whether a connection is open: frames may arrive on it.
    pub(super) const fn is_open(&self) -> bool {
        self.state().has_connection() && !matches!(self, Phase::Connecting { .. })
    }

    /// Whether a graceful close is under way: the machine stops once the connection is
    /// gone, whether it was closing it or still waiting for it to open.
    pub(super) const fn closes_for_good(&self) -> bool {
        matches!(self, Phase::Closing(Closing::Graceful) | Phase::Connecting { close_when_open: true })
    }
}

//! The machine's coarse states, as users and metrics see them.

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

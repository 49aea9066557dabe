//! The gateway's opcodes: the one place that names them.

/// The `op` of a gateway or webhook frame.
///
/// | op | name | direction |
/// |---|---|---|
/// | 0 | [`Dispatch`](Self::Dispatch) | server → client (WebSocket and webhook) |
/// | 1 | [`Heartbeat`](Self::Heartbeat) | client → server |
/// | 2 | [`Identify`](Self::Identify) | client → server |
/// | 6 | [`Resume`](Self::Resume) | client → server |
/// | 7 | [`Reconnect`](Self::Reconnect) | server → client |
/// | 9 | [`InvalidSession`](Self::InvalidSession) | server → client |
/// | 10 | [`Hello`](Self::Hello) | server → client |
/// | 11 | [`HeartbeatAck`](Self::HeartbeatAck) | server → client |
/// | 12 | [`HttpCallbackAck`](Self::HttpCallbackAck) | bot → platform (webhook reply) |
/// | 13 | [`CallbackValidation`](Self::CallbackValidation) | platform → bot (webhook) |
///
/// Opcodes 3, 4, 5 and 8 are unused by QQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpCode {
    /// An event, named by `t`, numbered by `s`, with its data in `d`.
    Dispatch = 0,
    /// A heartbeat; `d` is the last sequence number received, or `null`.
    Heartbeat = 1,
    /// Start a new session.
    Identify = 2,
    /// Resume an existing session.
    Resume = 6,
    /// The server asks the client to reconnect and resume.
    Reconnect = 7,
    /// The session is invalid; `d == true` means it may still be resumed.
    InvalidSession = 9,
    /// First frame on a connection; `d.heartbeat_interval` in milliseconds.
    Hello = 10,
    /// Acknowledges a heartbeat.
    HeartbeatAck = 11,
    /// The body a webhook endpoint answers a delivery with.
    HttpCallbackAck = 12,
    /// Webhook callback-address validation.
    CallbackValidation = 13,
}

impl OpCode {
    /// The opcode for a wire value, if QQ uses it.
    #[must_use]
    pub const fn from_u64(op: u64) -> Option<Self> {
        Some(match op {
            0 => Self::Dispatch,
            1 => Self::Heartbeat,
            2 => Self::Identify,
            6 => Self::Resume,
            7 => Self::Reconnect,
            9 => Self::InvalidSession,
            10 => Self::Hello,
            11 => Self::HeartbeatAck,
            12 => Self::HttpCallbackAck,
            13 => Self::CallbackValidation,
            _ => return None,
        })
    }

    /// The wire value.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

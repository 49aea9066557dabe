//! The gateway's opcodes: the one place that names them.

/// The one opcode table: every `op` qqgw names, with its number, who sends it, and what it
/// means. [`OpCode`], its variants' docs, [`OpCode::from_u64`] and the table in
/// `OpCode`'s docs are all generated from it; a new opcode is one row.
macro_rules! opcodes {
    ($( $(#[$doc:meta])* $name:ident = $op:literal, $direction:literal; )*) => {
        /// The `op` of a gateway or webhook frame.
        ///
        /// | op | name | direction |
        /// |---|---|---|
        $(
            #[doc = concat!("| ", $op, " | [`", stringify!($name), "`](Self::", stringify!($name), ") | ", $direction, " |")]
        )*
        ///
        /// Opcodes 3, 4, 5 and 8 are unused by QQ.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum OpCode {
            $(
                $(#[$doc])*
                #[doc = ""]
                #[doc = concat!("Op ", $op, ", ", $direction, ".")]
                $name = $op,
            )*
        }

        impl OpCode {
            /// The opcode for a wire value, if QQ uses it.
            #[must_use]
            pub const fn from_u64(op: u64) -> Option<Self> {
                match op {
                    $($op => Some(Self::$name),)*
                    _ => None,
                }
            }
        }

        #[cfg(test)]
        const ALL: &[OpCode] = &[$(OpCode::$name),*];
    };
}

opcodes! {
    /// An event, named by `t`, numbered by `s`, with its data in `d`.
    Dispatch = 0, "server → client (WebSocket and webhook)";
    /// A heartbeat; `d` is the last sequence number received, or `null`.
    Heartbeat = 1, "client → server";
    /// Start a new session.
    Identify = 2, "client → server";
    /// Resume an existing session.
    Resume = 6, "client → server";
    /// The server asks the client to reconnect and resume.
    Reconnect = 7, "server → client";
    /// The session is invalid; `d == true` means it may still be resumed.
    InvalidSession = 9, "server → client";
    /// First frame on a connection; `d.heartbeat_interval` in milliseconds.
    Hello = 10, "server → client";
    /// Acknowledges a heartbeat.
    HeartbeatAck = 11, "server → client";
    /// The body a webhook endpoint answers a delivery with.
    HttpCallbackAck = 12, "bot → platform (webhook reply)";
    /// Webhook callback-address validation.
    CallbackValidation = 13, "platform → bot (webhook)";
}

impl OpCode {
    /// The wire value.
    #[must_use]
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_reads_back_from_its_wire_value() {
        for &op in ALL {
            assert_eq!(OpCode::from_u64(u64::from(op.as_u8())), Some(op));
        }
        let named: Vec<u8> = ALL.iter().map(|op| op.as_u8()).collect();
        assert!(named.windows(2).all(|w| w[0] < w[1]), "{named:?}");
        for unused in [3, 4, 5, 8, 14, 255, 256, u64::MAX] {
            assert_eq!(OpCode::from_u64(unused), None, "{unused}");
        }
    }
}

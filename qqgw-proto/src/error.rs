//! Errors, split by whose fault they are.
//!
//! - [`UsageError`](crate::UsageError) (beside [`Input`](crate::Input), whose names it
//!   quotes): the caller misused the API; returned as `Err`, nothing changes.
//! - [`DecodeError`]: the peer sent something unusable; emitted as
//!   [`Event::DecodeFailed`](crate::Event::DecodeFailed) and the connection goes on.
//! - [`FatalError`]: the gateway connection cannot go on; emitted exactly once as
//!   [`Event::Fatal`](crate::Event::Fatal), and it is the last event.

use crate::close::CloseCode;

/// How much of a bad frame an error quotes.
const SNIPPET_CHARS: usize = 64;

/// The peer sent a frame the machine could not use. The connection goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame is not a JSON object of the gateway's envelope shape.
    #[error("invalid frame JSON ({message}): {snippet}")]
    Json {
        /// What serde_json reported.
        message: String,
        /// The start of the frame, at most 64 characters.
        snippet: String,
    },
    /// A binary frame that is not UTF-8 text.
    #[error("binary frame of {len} bytes is not UTF-8 text")]
    Binary {
        /// The frame's length in bytes.
        len: usize,
    },
    /// An opcode QQ does not use, or one only a client sends.
    #[error("unexpected opcode {op}")]
    UnexpectedOpcode {
        /// The opcode received.
        op: u64,
    },
    /// A dispatch (op 0) without an event name `t`.
    #[error("dispatch without an event name (seq {seq:?})")]
    DispatchWithoutName {
        /// Its sequence number, if any.
        seq: Option<u64>,
    },
    /// A dispatch (op 0) without data `d`.
    #[error("dispatch {name} without data (seq {seq:?})")]
    DispatchWithoutData {
        /// The event name.
        name: String,
        /// Its sequence number, if any.
        seq: Option<u64>,
    },
    /// HELLO without a usable `heartbeat_interval`;
    /// [`DEFAULT_HEARTBEAT_INTERVAL`](crate::DEFAULT_HEARTBEAT_INTERVAL) is used.
    #[error("HELLO without a usable heartbeat_interval ({snippet}); using {} s", crate::incoming::DEFAULT_HEARTBEAT_INTERVAL.as_secs())]
    InvalidHello {
        /// The start of HELLO's data.
        snippet: String,
    },
    /// A dispatch before HELLO, when no session can exist yet; ignored.
    #[error("dispatch {name} before HELLO was ignored")]
    DispatchBeforeHello {
        /// The event name.
        name: String,
    },
    /// A second HELLO on one connection; ignored.
    #[error("a second HELLO on the same connection was ignored")]
    UnexpectedHello,
    /// A dispatch whose sequence number cannot follow the last one: zero, a step back,
    /// or a jump of more than [`MAX_SEQ_STEP`](crate::MAX_SEQ_STEP). The event is still
    /// delivered (if its id is new), but the RESUME point stays where it was.
    #[error("implausible sequence number {seq} after {last:?}; the resume point stays")]
    ImplausibleSeq {
        /// The sequence number received.
        seq: u64,
        /// The last plausible one, if any.
        last: Option<u64>,
    },
    /// READY without a `session_id`: the session cannot be resumed later.
    #[error("READY without a session_id ({snippet})")]
    InvalidReady {
        /// The start of READY's data.
        snippet: String,
    },
}

impl DecodeError {
    pub(crate) fn json(error: &serde_json::Error, text: &str) -> Self {
        Self::Json { message: error.to_string(), snippet: snippet(text) }
    }
}

/// The first 64 characters of `text`, with `…` when cut.
pub(crate) fn snippet(text: &str) -> String {
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}

/// Why the machine stopped for good. Emitted once, as the last event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FatalError {
    /// QQ closed the connection with a code after which neither RESUME nor IDENTIFY can
    /// succeed (see [`CloseCode::action`]).
    #[error("gateway closed with {code} ({}): {reason}", code.description())]
    Closed {
        /// The close code.
        code: CloseCode,
        /// The close frame's reason text, as sent.
        reason: String,
    },
    /// The token endpoint rejected the bot's credentials.
    #[error("access token request rejected (code {code}): {message}")]
    CredentialsRejected {
        /// QQ's error code, e.g. `100016` for an invalid AppID or secret.
        code: i64,
        /// QQ's message.
        message: String,
    },
}

/// Why no access token could be had; told to the machine with
/// [`Input::TokenFailed`](crate::Input::TokenFailed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// QQ rejected the credentials: a code in
    /// [`CREDENTIAL_REJECTIONS`](crate::CREDENTIAL_REJECTIONS) (wrong AppID or secret, the
    /// bot is gone). Fatal: retrying cannot help.
    #[error("token endpoint rejected the credentials (code {code}): {message}")]
    Rejected {
        /// QQ's error code.
        code: i64,
        /// QQ's message.
        message: String,
    },
    /// The request failed for a reason that may pass (network, HTTP 429 or 5xx, QQ's
    /// `100001` too many requests or any other code, a body that could not be read). The
    /// machine retries with backoff. The text never quotes the endpoint's body.
    #[error("no access token: {0}")]
    Unavailable(String),
}

/// A [`Config`](crate::Config) that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The gateway URL is empty.
    #[error("the gateway URL is empty")]
    EmptyUrl,
    /// No intents: QQ would deliver nothing.
    #[error("no intents: the gateway would deliver no events")]
    NoIntents,
    /// The restored session belongs to another shard.
    #[error("the session belongs to shard {session} but the machine is shard {config}")]
    SessionShardMismatch {
        /// The session's shard.
        session: crate::ShardId,
        /// The configured shard.
        config: crate::ShardId,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_cuts_on_char_boundaries() {
        let long = "频".repeat(100);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), 65);
        assert!(s.ends_with('…'));
        assert_eq!(snippet("short"), "short");
    }
}

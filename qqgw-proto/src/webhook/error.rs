//! Why a callback was refused, and what HTTP status says so.

use crate::error::DecodeError;

/// The AppSecret is empty, so no webhook key can be derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the AppSecret is empty; no webhook key can be derived from it")]
pub struct EmptySecret;

/// Why a callback request was rejected.
///
/// [`status`](Self::status) is the HTTP status to answer with: 401 when the request is not
/// provably from QQ (signature or timestamp problems), 400 when it is but its body is
/// unusable, 413 when the body is too large to look at. The `Display` text is for logs:
/// it may quote the server's clock, so it is never sent ([`body`](Self::body) is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// No `X-Signature-Ed25519` header on a request that must be signed.
    #[error("the request has no X-Signature-Ed25519 header")]
    MissingSignature,
    /// An `X-Signature-Ed25519` header but no `X-Signature-Timestamp` header.
    #[error("the request has no X-Signature-Timestamp header")]
    MissingTimestamp,
    /// `X-Signature-Ed25519` is not 128 hex digits.
    #[error("X-Signature-Ed25519 is not 128 hex digits")]
    BadSignatureEncoding,
    /// The signature's last byte has any of its top three bits set, which no valid Ed25519
    /// signature has.
    #[error("X-Signature-Ed25519 is not a canonical Ed25519 signature")]
    NonCanonicalSignature,
    /// The signature does not match the timestamp and body under the bot's key.
    #[error("the signature does not match the timestamp and body")]
    BadSignature,
    /// `X-Signature-Timestamp` is not Unix seconds (1 to 20 ASCII digits).
    #[error("X-Signature-Timestamp is not Unix seconds: {snippet:?}")]
    BadTimestamp {
        /// The start of the header's value, at most 64 characters.
        snippet: String,
    },
    /// `X-Signature-Timestamp` is further from the current time than the tolerance allows:
    /// a replayed or badly delayed request, or a wrong clock.
    #[error("timestamp {timestamp} is more than {tolerance_secs} s away from now ({now})")]
    StaleTimestamp {
        /// The request's timestamp, Unix seconds.
        timestamp: u64,
        /// The current time the caller gave, Unix seconds.
        now: u64,
        /// The tolerance, in seconds.
        tolerance_secs: u64,
    },
    /// The body is larger than the configured maximum; it was not looked at.
    #[error("the body of {len} bytes exceeds the limit of {max} bytes")]
    BodyTooLarge {
        /// The body's length in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The body is not a usable callback: not UTF-8, not a JSON envelope, an op 0 without
    /// `t` or `d`, or an op 13 without a string `plain_token` and an `event_ts`.
    #[error("malformed callback body: {0}")]
    Malformed(DecodeError),
    /// A well-formed envelope with an opcode QQ does not send to webhooks (only 0 and 13
    /// are).
    #[error("opcode {op} is not a webhook callback")]
    UnexpectedOpcode {
        /// The opcode received.
        op: u64,
    },
    /// An unsigned op 13 whose `plain_token` or `event_ts` holds characters that could make
    /// the answer's signature pass for the signature of some other callback; it is not
    /// answered. See the [module docs](super#is-op-13-signed).
    #[error("an unsigned op 13 with a plain_token or event_ts outside the safe characters was not signed")]
    UnsafeValidation,
    /// A signed event older than the oldest delivery the [`ReplayGuard`](super::ReplayGuard)
    /// still remembers (its memory ran full): whether it is a replay cannot be told.
    #[error("the event was signed before the oldest delivery still remembered; a replay cannot be ruled out")]
    ReplayUnverifiable,
}

impl WebhookError {
    /// The HTTP status to answer with: 401, 400 or 413.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::BodyTooLarge { .. } => 413,
            Self::Malformed(_) | Self::UnexpectedOpcode { .. } => 400,
            Self::MissingSignature
            | Self::MissingTimestamp
            | Self::BadSignatureEncoding
            | Self::NonCanonicalSignature
            | Self::BadSignature
            | Self::BadTimestamp { .. }
            | Self::StaleTimestamp { .. }
            | Self::UnsafeValidation
            | Self::ReplayUnverifiable => 401,
        }
    }

    /// A short, stable name for the error, e.g. `"bad_signature"`: the `error` field of the
    /// rejection body, and a good metrics label.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MissingTimestamp => "missing_timestamp",
            Self::BadSignatureEncoding => "bad_signature_encoding",
            Self::NonCanonicalSignature => "non_canonical_signature",
            Self::BadSignature => "bad_signature",
            Self::BadTimestamp { .. } => "bad_timestamp",
            Self::StaleTimestamp { .. } => "stale_timestamp",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::Malformed(_) => "malformed",
            Self::UnexpectedOpcode { .. } => "unexpected_opcode",
            Self::UnsafeValidation => "unsafe_validation",
            Self::ReplayUnverifiable => "replay_unverifiable",
        }
    }

    /// The JSON body of the rejection, which says nothing about the server's state:
    /// `{"error":"unauthorized"}` for every 401 (which check failed, and the server's clock,
    /// stay private), `{"error":"body_too_large"}` for 413, and `{"error":"<code>"}` for a
    /// 400 (only a request signed by QQ gets that far). Log [`code`](Self::code) and the
    /// error's `Display` instead.
    #[must_use]
    pub fn body(&self) -> String {
        let public = match self.status() {
            401 => "unauthorized",
            _ => self.code(),
        };
        format!(r#"{{"error":"{public}"}}"#)
    }
}

impl From<DecodeError> for WebhookError {
    fn from(error: DecodeError) -> Self {
        Self::Malformed(error)
    }
}

//! The adapter's errors.

use qqgw_proto::{ApiError, FatalError, TokenError};

/// Why a [`Client`](crate::Client) could not start or a shard stopped.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No access token: the credentials were rejected, or the endpoint is unreachable.
    #[error("access token: {0}")]
    Token(#[from] TokenError),
    /// An HTTP request failed before an answer (DNS, TCP, TLS, timeout).
    #[error("HTTP request failed: {0}")]
    Http(String),
    /// QQ's API answered with an error (or an unreadable body).
    #[error("QQ API answered HTTP {status}: {error}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// QQ's error.
        error: ApiError,
    },
    /// More shards were asked for than QQ lets the bot start today.
    #[error("{shards} shards need {shards} sessions but QQ allows {remaining} more today")]
    SessionLimit {
        /// Shards to start.
        shards: u32,
        /// Sessions QQ still allows.
        remaining: u32,
    },
    /// The shard configuration cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A shard stopped for good (a fatal close code, or rejected credentials).
    #[error("shard {shard} stopped: {error}")]
    Fatal {
        /// The shard.
        shard: qqgw_proto::ShardId,
        /// Why.
        error: FatalError,
    },
}

impl Error {
    /// Whether the error is one the bot's configuration or QQ's verdict caused, so that
    /// retrying as-is cannot help (bad credentials, fatal close codes, shard limits).
    #[must_use]
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Token(TokenError::Rejected { .. })
                | Self::SessionLimit { .. }
                | Self::Config(_)
                | Self::Fatal { .. }
        ) || matches!(self, Self::Api { status, .. } if (400..500).contains(status))
    }
}

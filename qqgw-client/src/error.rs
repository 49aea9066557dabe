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
    /// An endpoint is not TLS (`http://` or `ws://`, or another scheme), and the config
    /// does not [allow insecure endpoints](crate::ConfigBuilder::allow_insecure): the
    /// AppSecret or the access token would cross the network in clear text.
    #[error(
        "refusing the {endpoint} {url:?}: it is not {expected}, so credentials would cross the network \
         unencrypted (for a local mock, use ConfigBuilder::allow_insecure(true) or QQ_BOT_ALLOW_INSECURE=1)"
    )]
    InsecureEndpoint {
        /// Which endpoint: `"API base"`, `"token URL"` or `"gateway URL"`.
        endpoint: &'static str,
        /// The URL, as configured or as `/gateway/bot` gave it.
        url: String,
        /// The scheme it needs: `"https://"` or `"wss://"`.
        expected: &'static str,
    },
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
                | Self::InsecureEndpoint { .. }
                | Self::Fatal { .. }
        ) || matches!(self, Self::Api { status, .. } if (400..500).contains(status))
    }
}

/// Refuses `url` unless it starts with `secure` (`"https://"` or `"wss://"`, in any case),
/// or with `insecure` when `allow_insecure`.
pub(crate) fn require_tls(
    endpoint: &'static str,
    url: &str,
    secure: &'static str,
    insecure: &'static str,
    allow_insecure: bool,
) -> Result<(), Error> {
    let has = |scheme: &str| url.get(..scheme.len()).is_some_and(|head| head.eq_ignore_ascii_case(scheme));
    if has(secure) || (allow_insecure && has(insecure)) {
        Ok(())
    } else {
        Err(Error::InsecureEndpoint { endpoint, url: url.to_owned(), expected: secure })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tls_endpoints_pass_unless_insecure_ones_are_allowed() {
        let check = |url, allow| require_tls("API base", url, "https://", "http://", allow);
        assert!(check("https://api.sgroup.qq.com", false).is_ok());
        assert!(check("HTTPS://api.sgroup.qq.com", false).is_ok());
        assert!(check("http://127.0.0.1:9", true).is_ok());
        for (url, allow) in
            [("http://api.sgroup.qq.com", false), ("ftp://x", true), ("", true), ("ws://x", true)]
        {
            let Err(error) = check(url, allow) else { panic!("{url} passed") };
            assert!(error.is_fatal());
            let text = error.to_string();
            assert!(text.contains("https://") && text.contains("allow_insecure"), "{text}");
        }
        let gateway = |url, allow| require_tls("gateway URL", url, "wss://", "ws://", allow);
        assert!(gateway("wss://api.sgroup.qq.com/websocket/", false).is_ok());
        assert!(gateway("ws://api.sgroup.qq.com/websocket/", false).is_err());
        assert!(gateway("ws://127.0.0.1:9/websocket/", true).is_ok());
    }
}

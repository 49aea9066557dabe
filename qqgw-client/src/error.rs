//! The adapter's errors.

use core::fmt;

use qqgw_proto::{ApiError, CloseCode, FatalError, Intents, TokenError};

/// Why a bot could not start or a shard stopped.
///
/// Its `Display` is one line meant for the person running the bot: what failed, which URL
/// or setting it concerns, and what to check. It never contains the AppSecret or an access
/// token. Print it with `{}` (or return it from `main` through a type that does).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// No access token: the credentials were rejected, or the token URL is unreachable
    /// (the message of [`TokenError::Unavailable`] names the URL).
    Token(TokenError),
    /// An HTTP request failed before an answer (DNS, TCP, TLS, timeout). The text names
    /// the request and its URL.
    Http(String),
    /// QQ's API answered with an error (or an unreadable body).
    Api {
        /// The request, e.g. `GET https://api.bot.qq.com/gateway/bot`.
        url: String,
        /// The HTTP status.
        status: u16,
        /// QQ's error.
        error: Box<ApiError>,
    },
    /// More shards were asked for than QQ lets the bot start today.
    SessionLimit {
        /// Shards to start.
        shards: u32,
        /// Sessions QQ still allows.
        remaining: u32,
    },
    /// The shard configuration cannot work.
    Config(String),
    /// The [`SessionStore`](crate::SessionStore) could not load the sessions to resume.
    Store(crate::StoreError),
    /// An endpoint is not TLS (`http://` or `ws://`, or another scheme), and the config
    /// does not [allow insecure endpoints](crate::ConfigBuilder::allow_insecure): the
    /// AppSecret or the access token would cross the network in clear text.
    InsecureEndpoint {
        /// Which endpoint: `"API base"`, `"token URL"` or `"gateway URL"`.
        endpoint: &'static str,
        /// The URL, as configured or as `/gateway/bot` gave it.
        url: String,
        /// The scheme it needs: `"https://"` or `"wss://"`.
        expected: &'static str,
    },
    /// A shard stopped for good (a fatal close code, or rejected credentials).
    Fatal {
        /// The shard.
        shard: qqgw_proto::ShardId,
        /// Why.
        error: FatalError,
        /// The intents the shard IDENTIFYed with (what a 4013 or 4014 refused).
        intents: Intents,
    },
}

impl From<TokenError> for Error {
    fn from(error: TokenError) -> Self {
        Self::Token(error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(TokenError::Rejected { code, message }) => write!(
                f,
                "QQ rejected the bot's AppID and AppSecret (code {code}: {message}); \
                 check QQ_BOT_APP_ID and QQ_BOT_SECRET against the QQ bot console"
            ),
            Self::Token(error) => write!(f, "{error}"),
            Self::Http(message) => write!(f, "{message}"),
            Self::Api { url, status, error } => {
                write!(f, "{url} answered HTTP {status}: ")?;
                match error.code {
                    0 => write!(f, "{}", error.message)?,
                    code => write!(f, "QQ error {code}: {}", error.message)?,
                }
                if let Some(trace) = &error.trace_id {
                    write!(f, " [trace id {trace}]")?;
                }
                if *status == 401 {
                    write!(f, "; the access token was refused, is QQ_BOT_API_BASE the right environment?")?;
                }
                Ok(())
            }
            Self::SessionLimit { shards, remaining } => write!(
                f,
                "{shards} shards need {shards} new sessions but QQ allows {remaining} more today; \
                 run fewer shards (QQ_BOT_SHARDS) or wait for the daily limit to reset"
            ),
            Self::Config(message) => write!(f, "invalid configuration: {message}"),
            Self::InsecureEndpoint { endpoint, url, expected } => write!(
                f,
                "refusing the {endpoint} {url:?}: it is not {expected}, so credentials would cross the \
                 network unencrypted (for a local mock, use ConfigBuilder::allow_insecure(true) or \
                 QQ_BOT_ALLOW_INSECURE=1)"
            ),
            Self::Store(error) => write!(
                f,
                "{error}; fix or remove the file (QQ_BOT_SESSION_FILE) to start without the saved sessions"
            ),
            Self::Fatal { shard, error, intents } => {
                write!(f, "shard {shard} stopped: {error}")?;
                if let FatalError::Closed {
                    code: CloseCode::INVALID_INTENTS | CloseCode::DISALLOWED_INTENTS,
                    ..
                } = error
                {
                    write!(
                        f,
                        "; the bot asked for intents {} ({}): ask QQ to grant them to the bot, \
                         or leave out those it lacks (QQ_BOT_INTENTS)",
                        intents.names(),
                        intents.bits()
                    )?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Fatal { error, .. } => Some(error),
            _ => None,
        }
    }
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
    use qqgw_proto::ShardId;

    #[test]
    fn a_refused_intent_names_the_intents_asked_for() {
        let error = Error::Fatal {
            shard: ShardId::ONE,
            error: FatalError::Closed {
                code: CloseCode::DISALLOWED_INTENTS,
                reason: "disallowed intents".into(),
            },
            intents: Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT,
        };
        assert_eq!(
            error.to_string(),
            "shard [0, 1] stopped: gateway closed with 4014 (intents not permitted): disallowed intents; \
             the bot asked for intents GUILDS | GUILD_MEMBERS | GROUP_AND_C2C_EVENT | PUBLIC_GUILD_MESSAGES \
             (1107296259): ask QQ to grant them to the bot, or leave out those it lacks (QQ_BOT_INTENTS)"
        );
    }

    /// The README's Troubleshooting section quotes these errors as qqgw prints them.
    #[test]
    fn the_readme_quotes_the_errors_as_printed() {
        let readme = include_str!("../../README.md");
        let readme: String = readme.split_whitespace().collect::<Vec<_>>().join(" ");
        let intents = crate::Config::from_lookup(|name| match name {
            "QQ_BOT_APP_ID" | "QQ_BOT_SECRET" => Some("x".into()),
            "QQ_BOT_INTENTS" => Some("GUILDS|GROUP_MESSAGES".into()),
            _ => None,
        });
        let printed = [
            crate::Config::from_lookup(|_| None).err().map(|e| e.to_string()).unwrap_or_default(),
            intents.err().map(|e| e.to_string()).unwrap_or_default(),
            Error::Token(TokenError::Rejected { code: 100_016, message: "invalid appid or secret".into() })
                .to_string(),
            Error::Fatal {
                shard: ShardId::ONE,
                error: FatalError::Closed {
                    code: CloseCode::DISALLOWED_INTENTS,
                    reason: "intents not permitted".into(),
                },
                intents: Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT,
            }
            .to_string(),
            require_tls("API base", "http://127.0.0.1:41234", "https://", "http://", false)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
        ];
        for message in printed {
            assert!(!message.is_empty());
            assert!(readme.contains(&format!("`{message}`")), "the README does not quote: {message}");
        }
    }

    #[test]
    fn token_errors_say_it_once() {
        let rejected =
            Error::Token(TokenError::Rejected { code: 100_016, message: "invalid appid or secret".into() });
        assert_eq!(
            rejected.to_string(),
            "QQ rejected the bot's AppID and AppSecret (code 100016: invalid appid or secret); \
             check QQ_BOT_APP_ID and QQ_BOT_SECRET against the QQ bot console"
        );
        let unavailable =
            Error::Token(TokenError::Unavailable("POST http://127.0.0.1:9/t failed: refused".into()));
        assert_eq!(unavailable.to_string().matches("access token").count(), 1, "{unavailable}");
    }

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

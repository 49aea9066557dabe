//! The bot's configuration: credentials, endpoints, intents, shards and limits.

use core::time::Duration;
use std::env;
use std::fmt;

use std::sync::Arc;

use qqgw_proto::{API_BASE, Backoff, Credentials, Intents, Session, ShardId, TOKEN_URL};

use crate::pacer::IdentifyPacer;
use crate::store::SessionStore;

/// Which shards this process runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Shards {
    /// As many as `GET /gateway/bot` recommends, all in this process. The default.
    #[default]
    Recommended,
    /// Shards `ids` of `total` (e.g. `0..2` of `4` here, `2..4` in another process).
    Range {
        /// The shard ids to run.
        ids: core::ops::Range<u32>,
        /// The bot's shard count.
        total: u32,
    },
}

impl Shards {
    /// Exactly one shard.
    #[must_use]
    pub fn one(shard: ShardId) -> Self {
        Self::Range { ids: shard.id()..shard.id() + 1, total: shard.total() }
    }

    /// Parses `QQ_BOT_SHARDS`: `"4"` (all of four), `"1/4"` (shard 1 of four) or `"0-1/4"`
    /// (shards 0 and 1 of four).
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_tokio::Shards;
    ///
    /// assert_eq!(Shards::parse("0-1/4"), Some(Shards::Range { ids: 0..2, total: 4 }));
    /// assert_eq!(Shards::parse("3"), Some(Shards::Range { ids: 0..3, total: 3 }));
    /// assert_eq!(Shards::parse("4/4"), None);
    /// ```
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (ids, total) = match text.split_once('/') {
            Some((ids, total)) => (ids, total.trim().parse::<u32>().ok()?),
            None => {
                let total = text.parse::<u32>().ok()?;
                return (total > 0).then_some(Self::Range { ids: 0..total, total });
            }
        };
        let (first, last) = match ids.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?),
            None => {
                let id = ids.trim().parse::<u32>().ok()?;
                (id, id)
            }
        };
        (first <= last && last < total).then_some(Self::Range { ids: first..last + 1, total })
    }
}

/// Everything a `Client` needs. Built with [`Config::builder`] or
/// [`Config::from_env`]; every setting has a documented default.
#[derive(Clone)]
pub struct Config {
    pub(crate) credentials: Credentials,
    pub(crate) api_base: String,
    pub(crate) token_url: String,
    pub(crate) intents: Intents,
    pub(crate) shards: Shards,
    pub(crate) sessions: Vec<Session>,
    pub(crate) event_buffer: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) reconnect_jitter: Duration,
    pub(crate) store: Option<Arc<dyn SessionStore>>,
    pub(crate) pacer: Option<Arc<dyn IdentifyPacer>>,
    pub(crate) handler_concurrency: usize,
    pub(crate) manual_ack: bool,
    pub(crate) receipts: bool,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) allow_insecure: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("credentials", &self.credentials)
            .field("api_base", &self.api_base)
            .field("token_url", &self.token_url)
            .field("intents", &self.intents)
            .field("shards", &self.shards)
            .field("sessions", &self.sessions.len())
            .field("event_buffer", &self.event_buffer)
            .field("session_store", &self.store.is_some())
            .field("identify_pacer", &self.pacer.is_some())
            .field("handler_concurrency", &self.handler_concurrency)
            .field("manual_ack", &self.manual_ack)
            .field("receipts", &self.receipts)
            .field("allow_insecure", &self.allow_insecure)
            .finish_non_exhaustive()
    }
}

/// A setting that cannot work, or a missing environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required environment variable is not set.
    #[error(
        "environment variable {0} is not set; a bot needs QQ_BOT_APP_ID and QQ_BOT_SECRET \
         (the AppID and AppSecret in the QQ bot console)"
    )]
    MissingEnv(&'static str),
    /// `QQ_BOT_INTENTS` names an intent that does not exist.
    #[error("QQ_BOT_INTENTS: {name:?} is not an intent; give a number or names joined by | from: {valid}")]
    UnknownIntent {
        /// The name that is not an intent.
        name: String,
        /// Every valid name, joined by ` | `.
        valid: String,
    },
    /// An environment variable has a value that cannot be read.
    #[error("environment variable {name} has an unreadable value {value:?}: {expected}")]
    InvalidEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

impl Config {
    /// A builder for the bot with this AppID and AppSecret.
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_tokio::{Config, Intents};
    ///
    /// let config = Config::builder("102012345", "app-secret")
    ///     .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
    ///     .api_base(qqgw_tokio::LEGACY_API_BASE)
    ///     .build();
    /// assert!(!format!("{config:?}").contains("app-secret"));
    /// ```
    pub fn builder(app_id: impl Into<String>, secret: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder(Config {
            credentials: Credentials::new(app_id, secret),
            api_base: API_BASE.to_owned(),
            token_url: TOKEN_URL.to_owned(),
            intents: Intents::non_privileged(),
            shards: Shards::Recommended,
            sessions: Vec::new(),
            event_buffer: DEFAULT_EVENT_BUFFER,
            connect_timeout: Duration::from_secs(10),
            http_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            reconnect_jitter: qqgw_proto::DEFAULT_RECONNECT_JITTER,
            store: None,
            pacer: None,
            handler_concurrency: DEFAULT_HANDLER_CONCURRENCY,
            manual_ack: false,
            receipts: true,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            allow_insecure: false,
        })
    }

    /// A config from the environment:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `QQ_BOT_APP_ID` | the AppID | required |
    /// | `QQ_BOT_SECRET` | the AppSecret | required |
    /// | `QQ_BOT_API_BASE` | the OpenAPI base | [`API_BASE`](crate::API_BASE) |
    /// | `QQ_BOT_TOKEN_URL` | the token endpoint | [`TOKEN_URL`](crate::TOKEN_URL) |
    /// | `QQ_BOT_INTENTS` | a number, or names joined by `\|` or `,` in any case (`GUILDS\|PUBLIC_GUILD_MESSAGES\|GROUP_AND_C2C_EVENT`); group and C2C messages need `GROUP_AND_C2C_EVENT` | [`Intents::non_privileged`] (guild events only) |
    /// | `QQ_BOT_SHARDS` | `4`, `1/4` or `0-1/4` (see [`Shards::parse`]) | as `/gateway/bot` says |
    /// | `QQ_BOT_SESSION_FILE` | a [`FileStore`](crate::FileStore) path: sessions survive restarts and crashes | none |
    /// | `QQ_BOT_ALLOW_INSECURE` | `1` or `true`: allow `http://` and `ws://` endpoints (a local mock); see [`ConfigBuilder::allow_insecure`] | off |
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a missing credential or an unreadable value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read through `get` instead of the
    /// process environment: from a file, a secret store, or a test's map.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use qqgw_client::Config;
    ///
    /// let vars = HashMap::from([("QQ_BOT_APP_ID", "102000000"), ("QQ_BOT_SECRET", "s"), ("QQ_BOT_INTENTS", "guilds,interaction")]);
    /// let config = Config::from_lookup(|name| vars.get(name).map(|v| v.to_string())).unwrap();
    /// assert_eq!(config.app_id(), "102000000");
    /// ```
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let app_id =
            get("QQ_BOT_APP_ID").filter(|v| !v.is_empty()).ok_or(ConfigError::MissingEnv("QQ_BOT_APP_ID"))?;
        let secret =
            get("QQ_BOT_SECRET").filter(|v| !v.is_empty()).ok_or(ConfigError::MissingEnv("QQ_BOT_SECRET"))?;
        let mut builder = Self::builder(app_id, secret);
        if let Some(base) = get("QQ_BOT_API_BASE").filter(|v| !v.is_empty()) {
            builder = builder.api_base(base);
        }
        if let Some(url) = get("QQ_BOT_TOKEN_URL").filter(|v| !v.is_empty()) {
            builder = builder.token_url(url);
        }
        if let Some(value) = get("QQ_BOT_INTENTS").filter(|v| !v.is_empty()) {
            builder = builder.intents(parse_intents(&value)?);
        }
        if let Some(value) = get("QQ_BOT_ALLOW_INSECURE").filter(|v| !v.is_empty()) {
            let allow = match value.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => {
                    return Err(ConfigError::InvalidEnv {
                        name: "QQ_BOT_ALLOW_INSECURE",
                        value: value.clone(),
                        expected: "1 or 0 (true or false)",
                    });
                }
            };
            builder = builder.allow_insecure(allow);
        }
        if let Some(value) = get("QQ_BOT_SHARDS").filter(|v| !v.is_empty()) {
            let shards = Shards::parse(&value).ok_or(ConfigError::InvalidEnv {
                name: "QQ_BOT_SHARDS",
                value: value.clone(),
                expected: "N, ID/N or FIRST-LAST/N",
            })?;
            builder = builder.shards(shards);
        }
        if let Some(path) = get("QQ_BOT_SESSION_FILE").filter(|v| !v.is_empty()) {
            builder = builder.session_store(crate::FileStore::new(path));
        }
        Ok(builder.build())
    }

    /// The AppID.
    #[must_use]
    pub fn app_id(&self) -> &str {
        self.credentials.app_id()
    }

    /// The intents sent in IDENTIFY.
    #[must_use]
    pub fn intents(&self) -> Intents {
        self.intents
    }

    /// Which shards this process runs.
    #[must_use]
    pub fn shards(&self) -> &Shards {
        &self.shards
    }

    /// A builder holding this config, to change some of it (e.g. a config read by
    /// [`from_env`](Self::from_env), given more settings).
    ///
    /// ```
    /// use qqgw_client::{Config, Shards};
    ///
    /// let config = Config::builder("102000000", "s").build();
    /// let config = config.into_builder().shards(Shards::parse("0-1/4").unwrap()).build();
    /// assert_eq!(config.shards(), &Shards::Range { ids: 0..2, total: 4 });
    /// ```
    pub fn into_builder(self) -> ConfigBuilder {
        ConfigBuilder(self)
    }
}

fn parse_intents(value: &str) -> Result<Intents, ConfigError> {
    value.parse().map_err(|error: qqgw_proto::UnknownIntent| ConfigError::UnknownIntent {
        name: error.name,
        valid: Intents::all().names(),
    })
}

/// Builds a [`Config`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// The OpenAPI base, for `GET /gateway/bot`. Default: [`API_BASE`](crate::API_BASE)
    /// (`https://api.bot.qq.com`, the one host of QQ's 2026 docs). Others:
    /// [`LEGACY_API_BASE`](crate::LEGACY_API_BASE) (the 2024 host),
    /// [`SANDBOX_API_BASE`](crate::SANDBOX_API_BASE), or a mock's.
    pub fn api_base(mut self, base: impl Into<String>) -> Self {
        self.0.api_base = base.into().trim_end_matches('/').to_owned();
        self
    }

    /// The access-token endpoint. Default: [`TOKEN_URL`](crate::TOKEN_URL).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.0.token_url = url.into();
        self
    }

    /// The intents: which events QQ sends. Default: [`Intents::non_privileged`], guild
    /// events only. **Group and C2C messages need
    /// [`Intents::GROUP_AND_C2C_EVENT`]**: `Intents::non_privileged() |
    /// Intents::GROUP_AND_C2C_EVENT`. Each [`EventHandler`](crate::EventHandler) callback
    /// names the intent its event needs; asking for one QQ has not granted the bot ends
    /// the shard with close code 4014.
    pub fn intents(mut self, intents: Intents) -> Self {
        self.0.intents = intents;
        self
    }

    /// Which shards to run. Default: [`Shards::Recommended`].
    pub fn shards(mut self, shards: Shards) -> Self {
        self.0.shards = shards;
        self
    }

    /// Sessions saved by an earlier run (what `Client::shutdown` or `Client::run`
    /// returned), to RESUME instead of IDENTIFY. Each goes to the shard it names. Default: none.
    pub fn sessions(mut self, sessions: impl IntoIterator<Item = Session>) -> Self {
        self.0.sessions = sessions.into_iter().collect();
        self
    }

    /// How many events each shard buffers for a slow consumer. When the buffer is full
    /// the shard stops reading its socket (heartbeats go on); if the consumer lags for
    /// longer than a heartbeat interval QQ's ACKs go unread, the connection is recycled
    /// and the session resumed, and QQ replays what was not read. Nothing is lost and
    /// memory stays bounded. Default: [`DEFAULT_EVENT_BUFFER`] (1024).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.0.event_buffer = events.max(1);
        self
    }

    /// How long opening a WebSocket connection may take. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.0.connect_timeout = timeout;
        self
    }

    /// How long an HTTP request (token, `/gateway/bot`) may take. Default: 10 s.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.0.http_timeout = timeout;
        self
    }

    /// Backoff for connection attempts that end before READY or RESUMED; see
    /// [`qqgw_proto::ConfigBuilder::backoff`]. Default: [`Backoff::default`].
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.0.backoff = backoff;
        self
    }

    /// The most an instant reconnect is delayed at random; see
    /// [`qqgw_proto::ConfigBuilder::reconnect_jitter`]. Default:
    /// [`DEFAULT_RECONNECT_JITTER`](qqgw_proto::DEFAULT_RECONNECT_JITTER) (20 ms).
    pub fn reconnect_jitter(mut self, jitter: Duration) -> Self {
        self.0.reconnect_jitter = jitter;
        self
    }

    /// Where each shard keeps its session and handled checkpoint across restarts; see
    /// [`SessionStore`]. With one, a bot that stops — gracefully or by a crash — and
    /// starts again within QQ's resume window RESUMEs and loses nothing. Sessions given
    /// with [`sessions`](Self::sessions) take precedence. Default: none (a restart
    /// IDENTIFYs afresh).
    pub fn session_store(mut self, store: impl SessionStore) -> Self {
        self.0.store = Some(Arc::new(store));
        self
    }

    /// Who paces this client's IDENTIFYs; see [`IdentifyPacer`]. Give every process
    /// running shards of one bot the same shared pacer, so that together they keep
    /// QQ's `max_concurrency` per 5 s. Default: a [`LocalPacer`](crate::LocalPacer) of
    /// this client's own, from `GET /gateway/bot`'s `session_start_limit`.
    pub fn identify_pacer(mut self, pacer: impl IdentifyPacer) -> Self {
        self.0.pacer = Some(Arc::new(pacer));
        self
    }

    /// How many [`EventHandler`](crate::EventHandler) callbacks `Client::run` runs at once
    /// across the bot. Events of one conversation (a group, a C2C user, a channel, a
    /// guild) always run one after another, in order; different conversations run side
    /// by side, so one slow reply (a language model taking seconds) does not hold up
    /// everyone else. `1` handles every event in turn. Default:
    /// [`DEFAULT_HANDLER_CONCURRENCY`] (32).
    pub fn handler_concurrency(mut self, callbacks: usize) -> Self {
        self.0.handler_concurrency = callbacks.max(1);
        self
    }

    /// Whether events taken from `Client::take_events` are acknowledged by the
    /// application itself, with [`ShardEvent::ack`](crate::ShardEvent::ack), once
    /// handled. Default: `false`: an event counts as handled when the stream hands out
    /// the next one (or ends). `Client::run` acknowledges each event when its callback
    /// returns, whatever this says.
    pub fn manual_ack(mut self, manual: bool) -> Self {
        self.0.manual_ack = manual;
        self
    }

    /// For the benchmarks only, which measure what receipts cost: `false` turns them off,
    /// so that an event counts as handled once received and a crash may lose the events
    /// being handled. Not part of the API; the default, `true`, is the only setting the
    /// guarantees hold for.
    #[doc(hidden)]
    pub fn receipts(mut self, on: bool) -> Self {
        self.0.receipts = on;
        self
    }

    /// How long a graceful close waits for buffered and in-flight events to be handled
    /// (and their checkpoint saved) before it gives up on them. Default:
    /// [`DEFAULT_SHUTDOWN_TIMEOUT`] (10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.0.shutdown_timeout = timeout;
        self
    }

    /// With `true`, plaintext endpoints are used: an `http://` API base or token URL, and
    /// a `ws://` gateway URL from `/gateway/bot`. For a mock on loopback only — over them
    /// the AppSecret and the access token cross the network unencrypted. Default `false`:
    /// [`Client::connect`](crate::Client::connect) refuses them with
    /// [`Error::InsecureEndpoint`](crate::Error::InsecureEndpoint).
    pub fn allow_insecure(mut self, allow: bool) -> Self {
        self.0.allow_insecure = allow;
        self
    }

    /// The configuration.
    #[must_use]
    pub fn build(self) -> Config {
        self.0
    }
}

/// The default of [`ConfigBuilder::handler_concurrency`]: a chat bot's callbacks mostly
/// wait on the network (replies, a language model), so a few dozen conversations served
/// at once cost little and keep everyone's answers coming; order within each
/// conversation is kept whatever the number.
pub const DEFAULT_HANDLER_CONCURRENCY: usize = 32;

/// How many events each shard buffers for its consumer by default
/// ([`ConfigBuilder::event_buffer`]).
pub const DEFAULT_EVENT_BUFFER: usize = 1024;

/// How long a graceful close waits for the events being handled by default
/// ([`ConfigBuilder::shutdown_timeout`]).
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn from_env_reads_every_variable() {
        let config = Config::from_lookup(lookup(&[
            ("QQ_BOT_APP_ID", "1"),
            ("QQ_BOT_SECRET", "s"),
            ("QQ_BOT_API_BASE", "http://127.0.0.1:9/"),
            ("QQ_BOT_TOKEN_URL", "http://127.0.0.1:9/app/getAppAccessToken"),
            ("QQ_BOT_INTENTS", "GUILDS | GROUP_AND_C2C_EVENT"),
            ("QQ_BOT_SHARDS", "1/2"),
            ("QQ_BOT_ALLOW_INSECURE", "1"),
        ]))
        .unwrap();
        assert_eq!(config.api_base, "http://127.0.0.1:9");
        assert!(config.allow_insecure);
        assert_eq!(config.intents, Intents::GUILDS | Intents::GROUP_AND_C2C_EVENT);
        assert_eq!(config.shards, Shards::Range { ids: 1..2, total: 2 });
    }

    #[test]
    fn the_readme_and_the_docs_list_every_variable_from_env_reads() {
        let asked = std::cell::RefCell::new(std::collections::BTreeSet::new());
        let _ = Config::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_owned());
            Some(match name {
                "QQ_BOT_SHARDS" => "1".to_owned(),
                "QQ_BOT_ALLOW_INSECURE" => "0".to_owned(),
                "QQ_BOT_INTENTS" => "GUILDS".to_owned(),
                _ => "x".to_owned(),
            })
        });
        let asked = asked.into_inner();
        let strip = |names: &std::collections::BTreeSet<String>| -> std::collections::BTreeSet<String> {
            names.iter().filter_map(|n| n.strip_prefix("QQ_BOT_")).map(str::to_owned).collect()
        };
        let rows = |text: &str, prefix: &str| -> std::collections::BTreeSet<String> {
            text.lines()
                .filter_map(|line| {
                    line.trim_start().strip_prefix(prefix)?.split('`').next().map(str::to_owned)
                })
                .collect()
        };
        assert_eq!(rows(include_str!("../../README.md"), "| `QQ_BOT_"), strip(&asked), "the README's table");
        assert_eq!(
            rows(include_str!("config.rs"), "/// | `QQ_BOT_"),
            strip(&asked),
            "Config::from_env's table"
        );
    }

    #[test]
    fn from_env_errors_are_clear() {
        assert_eq!(Config::from_lookup(lookup(&[])).unwrap_err(), ConfigError::MissingEnv("QQ_BOT_APP_ID"));
        let err = Config::from_lookup(lookup(&[
            ("QQ_BOT_APP_ID", "1"),
            ("QQ_BOT_SECRET", "s"),
            ("QQ_BOT_INTENTS", "NOPE"),
        ]));
        let message = err.unwrap_err().to_string();
        assert!(message.starts_with("QQ_BOT_INTENTS: \"NOPE\" is not an intent"), "{message}");
        for (name, _) in Intents::all().iter_names() {
            assert!(message.contains(name), "{name} missing from {message}");
        }
        assert_eq!(parse_intents("1107296259"), Ok(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT));
        let missing = Config::from_lookup(lookup(&[("QQ_BOT_APP_ID", "1")])).unwrap_err().to_string();
        assert!(missing.starts_with("environment variable QQ_BOT_SECRET is not set"), "{missing}");
        let err = Config::from_lookup(lookup(&[
            ("QQ_BOT_APP_ID", "1"),
            ("QQ_BOT_SECRET", "s"),
            ("QQ_BOT_ALLOW_INSECURE", "maybe"),
        ]));
        assert!(matches!(err, Err(ConfigError::InvalidEnv { name: "QQ_BOT_ALLOW_INSECURE", .. })));
        let secure = Config::from_lookup(lookup(&[("QQ_BOT_APP_ID", "1"), ("QQ_BOT_SECRET", "s")])).unwrap();
        assert!(!secure.allow_insecure, "TLS only unless told otherwise");
    }
}

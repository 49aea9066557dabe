//! A machine's configuration, built with documented defaults.

use core::time::Duration;

use crate::backoff::Backoff;
use crate::error::ConfigError;
use crate::incoming::{MAX_HEARTBEAT_INTERVAL, MIN_HEARTBEAT_INTERVAL};
use crate::intents::Intents;
use crate::session::Session;
use crate::shard::ShardId;

/// The default of [`ConfigBuilder::reconnect_jitter`]: tens of milliseconds, enough to
/// spread shards, too little to notice.
pub const DEFAULT_RECONNECT_JITTER: Duration = Duration::from_millis(20);

/// Everything a [`GatewayMachine`](crate::GatewayMachine) needs to know up front.
///
/// Built with [`Config::builder`]; see [`ConfigBuilder`] for each setting and its default.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) url: String,
    pub(crate) intents: Intents,
    pub(crate) shard: ShardId,
    pub(crate) session: Option<Session>,
    pub(crate) backoff: Backoff,
    pub(crate) reconnect_jitter: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) min_heartbeat_interval: Duration,
    pub(crate) seed: u64,
    pub(crate) manual_ack: bool,
}

impl Config {
    /// A builder for a machine connecting to `url` (the `url` that `GET /gateway/bot`
    /// returned, taken verbatim) with `intents`.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use qqgw_proto::{Config, Intents, ShardId};
    ///
    /// let config = Config::builder("wss://api.sgroup.qq.com/websocket/", Intents::non_privileged())
    ///     .shard(ShardId::new(0, 2).unwrap())
    ///     .handshake_timeout(Duration::from_secs(10))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.shard(), ShardId::new(0, 2).unwrap());
    /// ```
    pub fn builder(url: impl Into<String>, intents: Intents) -> ConfigBuilder {
        ConfigBuilder(Config {
            url: url.into(),
            intents,
            shard: ShardId::ONE,
            session: None,
            backoff: Backoff::default(),
            reconnect_jitter: DEFAULT_RECONNECT_JITTER,
            handshake_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(1),
            min_heartbeat_interval: MIN_HEARTBEAT_INTERVAL,
            seed: 0,
            manual_ack: false,
        })
    }

    /// The gateway URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The intents sent in IDENTIFY.
    #[must_use]
    pub fn intents(&self) -> Intents {
        self.intents
    }

    /// The shard.
    #[must_use]
    pub fn shard(&self) -> ShardId {
        self.shard
    }
}

/// Builds a [`Config`]. Every setter documents its default.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// The shard `[id, total]` sent in IDENTIFY. Default: [`ShardId::ONE`] (`[0, 1]`).
    pub fn shard(mut self, shard: ShardId) -> Self {
        self.0.shard = shard;
        self
    }

    /// A session to RESUME on the first connection, e.g. one saved before a restart.
    /// Default: none (the first connection IDENTIFYs).
    pub fn session(mut self, session: Session) -> Self {
        self.0.session = Some(session);
        self
    }

    /// Backoff for attempts that end before READY or RESUMED (see the
    /// [reconnect policy](crate::GatewayMachine#reconnects)).
    /// Default: [`Backoff::default`].
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.0.backoff = backoff;
        self
    }

    /// The most an instant reconnect (any fault after READY or RESUMED) is delayed at
    /// random, so that shards do not reconnect in lockstep. The draw comes from
    /// [`seed`](Self::seed). Default: [`DEFAULT_RECONNECT_JITTER`] (20 ms).
    pub fn reconnect_jitter(mut self, jitter: Duration) -> Self {
        self.0.reconnect_jitter = jitter;
        self
    }

    /// How long a new connection may take from open to READY, RESUMED or the first
    /// replayed event before the machine abandons it (and backs off). Default: 30 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.0.handshake_timeout = timeout;
        self
    }

    /// How long the machine waits for the server to answer its close frame (op 7, a
    /// non-resumable op 9, a graceful close) before it abandons the socket. A zombie is
    /// never waited on. Default: 1 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.0.close_timeout = timeout;
        self
    }

    /// The shortest heartbeat interval taken from HELLO; a shorter one is raised to it,
    /// so a broken server cannot make the client beat in a tight loop. Default:
    /// [`MIN_HEARTBEAT_INTERVAL`] (50 ms).
    pub fn min_heartbeat_interval(mut self, floor: Duration) -> Self {
        self.0.min_heartbeat_interval = floor.min(MAX_HEARTBEAT_INTERVAL);
        self
    }

    /// The seed of the jitter generator. Adapters draw one per shard from the operating
    /// system, so that bots and shards do not reconnect in step; tests pass a fixed one to
    /// replay a run exactly. Default: 0.
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }

    /// Whether the application acknowledges each event itself once handled
    /// ([`Input::Handled`](crate::Input::Handled) with [`Dispatch::ack`](crate::Dispatch::ack)),
    /// so that the [checkpoint](crate::GatewayMachine::checkpoint) — and the session saved
    /// for a restart — counts only handled events. Reconnects within the process still
    /// RESUME from the last event received. Default: `false`: an event counts as handled
    /// once emitted.
    ///
    /// The same setting as `qqgw_client::ConfigBuilder::manual_ack`, one layer down: the
    /// adapters always set it here, and acknowledge for the application unless it asks to
    /// do so itself.
    pub fn manual_ack(mut self, ack: bool) -> Self {
        self.0.manual_ack = ack;
        self
    }

    /// The configuration.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an empty URL, empty intents, or a session of another shard.
    pub fn build(self) -> Result<Config, ConfigError> {
        let config = self.0;
        if config.url.trim().is_empty() {
            return Err(ConfigError::EmptyUrl);
        }
        if config.intents.is_empty() {
            return Err(ConfigError::NoIntents);
        }
        if let Some(session) = &config.session {
            if session.shard != config.shard {
                return Err(ConfigError::SessionShardMismatch {
                    session: session.shard,
                    config: config.shard,
                });
            }
        }
        Ok(config)
    }
}

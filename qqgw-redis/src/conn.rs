//! The connection every type of this crate shares: every call bounded in time, a
//! connection that timed out replaced, the server's settings checked at start.

use core::future::Future;
use core::time::Duration;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures_util::future::{BoxFuture, Either, FutureExt, select};
use qqgw_client::Runtime;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{Error, Keys};

/// Default [`RedisConfig::response_timeout`]: 2 s.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Default [`RedisConfig::connect_timeout`]: 2 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default [`RedisConfig::tcp_keepalive`]: probes after 5 s idle.
pub const DEFAULT_TCP_KEEPALIVE: Duration = Duration::from_secs(5);
/// Default [`RedisConfig::tcp_user_timeout`]: 10 s.
pub const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection to Redis behaves; every field has a default.
///
/// # Examples
///
/// A Redis with a 1 s answer time and eviction knowingly allowed:
///
/// ```no_run
/// use std::time::Duration;
/// use qqgw_redis::{Keys, Redis, RedisConfig};
///
/// # async fn run() -> Result<(), qqgw_redis::Error> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let config = RedisConfig {
///     response_timeout: Duration::from_secs(1),
///     allow_eviction: true,
///     ..RedisConfig::default()
/// };
/// let redis = Redis::connect_with(&qqgw_tokio::Tokio, client, Keys::for_app("102012345"), config).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// How long one call (a command, a script, a pipeline) may take, reconnection
    /// included, before it fails with [`Error::Timeout`]; callers with a deadline of their
    /// own (a lease about to lapse) give it less. After a timeout the connection is
    /// replaced: a request that got no answer would otherwise take the answer of the next
    /// one. Default [`DEFAULT_RESPONSE_TIMEOUT`] (2 s).
    pub response_timeout: Duration,
    /// How long opening a connection may take. Default [`DEFAULT_CONNECT_TIMEOUT`] (2 s).
    pub connect_timeout: Duration,
    /// TCP keepalive: probes start after this long without traffic (then every second,
    /// three of them), so a connection whose peer vanished is dropped by the kernel.
    /// `None` leaves the system's setting. Default [`DEFAULT_TCP_KEEPALIVE`] (5 s).
    pub tcp_keepalive: Option<Duration>,
    /// `TCP_USER_TIMEOUT` (Linux): data unacknowledged this long drops the connection,
    /// instead of after ~15 minutes of retransmissions. `None` leaves the system's
    /// setting. Default [`DEFAULT_TCP_USER_TIMEOUT`] (10 s).
    pub tcp_user_timeout: Option<Duration>,
    /// Start even though Redis may evict keys (`maxmemory-policy` other than
    /// `noeviction`). An evicted lease lets a second process run a shard; an evicted
    /// session or stream loses events. Default `false`: refused at start.
    pub allow_eviction: bool,
    /// Refuse to start unless Redis persists its data (`appendonly yes`). Default
    /// `false`; without persistence a restart of Redis loses the streams and sessions
    /// (reported as gaps, see the crate docs).
    pub require_persistence: bool,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tcp_keepalive: Some(DEFAULT_TCP_KEEPALIVE),
            tcp_user_timeout: Some(DEFAULT_TCP_USER_TIMEOUT),
            allow_eviction: false,
            require_persistence: false,
        }
    }
}

/// The runtime's clock and timers, without its type.
pub(crate) trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

struct RuntimeClock<R>(R);

impl<R: Runtime> Clock for RuntimeClock<R> {
    fn now(&self) -> Instant {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let runtime = self.0.clone();
        async move { runtime.sleep(duration).await }.boxed()
    }
}

/// `future`'s result, or [`Error::Timeout`] after `limit` on `clock`.
async fn bounded<T>(
    clock: &dyn Clock,
    what: &'static str,
    limit: Duration,
    future: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, Error> {
    let future = core::pin::pin!(future);
    match select(future, clock.sleep(limit)).await {
        Either::Left((result, _)) => Ok(result?),
        Either::Right(_) => Err(Error::Timeout { what, after: limit }),
    }
}

/// One Redis connection that is replaced when a call on it times out.
pub(crate) struct Link {
    client: redis::Client,
    manager: ConnectionManagerConfig,
    connect_timeout: Duration,
    response_timeout: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<LinkState>,
}

struct LinkState {
    /// The connection calls use; `None` once a call on it timed out, until the next call
    /// opens another.
    current: Option<ConnectionManager>,
    /// The last connection opened (the current one, or the one that timed out).
    latest: ConnectionManager,
    /// Counts the connections opened, so that a timeout drops only the one it hit.
    generation: u64,
}

impl Link {
    async fn open(
        client: redis::Client,
        config: &RedisConfig,
        response_timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let mut tcp = redis::io::tcp::TcpSettings::default().set_nodelay(true);
        if let Some(idle) = config.tcp_keepalive {
            let keepalive = redis::io::tcp::socket2::TcpKeepalive::new()
                .with_time(idle)
                .with_interval(Duration::from_secs(1));
            #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
            let keepalive = keepalive.with_retries(3);
            tcp = tcp.set_keepalive(keepalive);
        }
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
        if let Some(timeout) = config.tcp_user_timeout {
            tcp = tcp.set_user_timeout(timeout);
        }
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(config.connect_timeout)
            .set_response_timeout(response_timeout)
            .set_number_of_retries(1)
            .set_max_delay(500)
            .set_tcp_settings(tcp);
        let opening = client.get_connection_manager_with_config(manager.clone());
        let first = bounded(&*clock, "connecting", config.connect_timeout * 2, opening).await?;
        Ok(Self {
            client,
            manager,
            connect_timeout: config.connect_timeout,
            response_timeout,
            clock,
            state: Mutex::new(LinkState { current: Some(first.clone()), latest: first, generation: 1 }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection and its generation, opened first if the last one was dropped.
    async fn current(&self, limit: Duration) -> Result<(ConnectionManager, u64), Error> {
        let current = {
            let state = self.state();
            state.current.clone().map(|current| (current, state.generation))
        };
        if let Some(current) = current {
            return Ok(current);
        }
        let opening = self.client.get_connection_manager_with_config(self.manager.clone());
        let opened =
            bounded(&*self.clock, "connecting", limit.min(self.connect_timeout * 2), opening).await?;
        let mut state = self.state();
        // Another call may have opened one meanwhile: the first stays.
        let current = match state.current.clone() {
            Some(current) => current,
            None => {
                state.generation += 1;
                state.current = Some(opened.clone());
                state.latest = opened.clone();
                opened
            }
        };
        Ok((current, state.generation))
    }

    /// Drops the connection of `generation` (if it is still the current one): the next
    /// call opens another.
    fn drop_connection(&self, generation: u64) {
        let mut state = self.state();
        if state.generation == generation && state.current.take().is_some() {
            tracing::warn!("redis: a call timed out; the connection is replaced");
        }
    }

    /// Runs `call` on the connection within `limit` (the response timeout when `None`).
    pub(crate) async fn run<T, F, Fut>(
        &self,
        what: &'static str,
        limit: Option<Duration>,
        call: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let limit = limit.unwrap_or(self.response_timeout);
        let started = self.clock.now();
        let (connection, generation) = self.current(limit).await?;
        let left = limit.saturating_sub(self.clock.now().saturating_duration_since(started));
        let result = bounded(&*self.clock, what, left.max(Duration::from_millis(1)), call(connection)).await;
        match result {
            Err(Error::Timeout { .. }) => {
                self.drop_connection(generation);
                Err(Error::Timeout { what, after: limit })
            }
            Err(Error::Redis(error)) if error.is_timeout() => {
                self.drop_connection(generation);
                Err(Error::Timeout { what, after: limit })
            }
            result => result,
        }
    }

    fn latest(&self) -> ConnectionManager {
        self.state().latest.clone()
    }
}

struct Shared {
    keys: Keys,
    config: RedisConfig,
    link: Link,
    clock: Arc<dyn Clock>,
}

/// A connection to the Redis of one bot, and the bot's [`Keys`]. Cheap to clone; clones
/// share the connection.
///
/// Every call this crate makes has a deadline ([`RedisConfig::response_timeout`], or less
/// when the caller must be done sooner), read on the clock of the [`Runtime`] the
/// connection was made with; a connection on which a call timed out is replaced by a new
/// one. At start it checks that Redis is one this crate can keep its promises on (see
/// [`connect`](Self::connect)).
///
/// Its `Debug` shows neither the URL nor a password.
#[derive(Clone)]
pub struct Redis {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Redis {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Redis")
            .field("keys", &self.shared.keys)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects to the Redis at `url` (`redis://host:port/db`, `redis+unix:///path`) for
    /// the bot whose keys are `keys`, with the default [`RedisConfig`]; deadlines are read
    /// on `runtime`'s clock.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if the URL is not one or Redis cannot be reached;
    /// [`Error::UnsafeSettings`] if Redis may evict keys (`maxmemory-policy` other than
    /// `noeviction`), is a Redis Cluster, or — with
    /// [`require_persistence`](RedisConfig::require_persistence) — does not persist.
    pub async fn connect<R: Runtime>(runtime: &R, url: &str, keys: Keys) -> Result<Self, Error> {
        Self::connect_with(runtime, redis::Client::open(url)?, keys, RedisConfig::default()).await
    }

    /// As [`connect`](Self::connect), with a client built elsewhere (TLS, credentials)
    /// and settings of your own.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_with<R: Runtime>(
        runtime: &R,
        client: redis::Client,
        keys: Keys,
        config: RedisConfig,
    ) -> Result<Self, Error> {
        let clock: Arc<dyn Clock> = Arc::new(RuntimeClock(runtime.clone()));
        let link = Link::open(client, &config, config.response_timeout, Arc::clone(&clock)).await?;
        let redis = Self { shared: Arc::new(Shared { keys, config, link, clock }) };
        redis.check_settings().await?;
        Ok(redis)
    }

    /// Refuses a Redis that may evict keys, a Redis Cluster, and (if asked) one that does
    /// not persist.
    async fn check_settings(&self) -> Result<(), Error> {
        let info: String = self
            .run("INFO", None, |mut c| async move {
                redis::cmd("INFO").arg("memory").arg("persistence").arg("cluster").query_async(&mut c).await
            })
            .await?;
        let field = |name: &str| {
            info.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':')).map(str::trim)
        };
        if field("cluster_enabled") == Some("1") {
            return Err(Error::UnsafeSettings {
                setting: "cluster_enabled",
                found: "1".into(),
                fix: "qqgw-redis does not support Redis Cluster (its scripts use several keys of a shard, \
                      and its connection is to one node): use one primary, with replicas and Sentinel \
                      for failover"
                    .into(),
            });
        }
        if let Some(policy) = field("maxmemory_policy").filter(|p| *p != "noeviction") {
            if self.shared.config.allow_eviction {
                tracing::warn!(policy, "redis may evict keys: leases, sessions and streams can vanish");
            } else {
                return Err(Error::UnsafeSettings {
                    setting: "maxmemory-policy",
                    found: policy.to_owned(),
                    fix: "Redis may evict leases (two processes then run one shard), sessions and stream \
                          entries (events lost); set `maxmemory-policy noeviction` (`CONFIG SET \
                          maxmemory-policy noeviction` and in redis.conf), or set \
                          RedisConfig::allow_eviction to accept the risk"
                        .into(),
                });
            }
        }
        if self.shared.config.require_persistence && field("aof_enabled") != Some("1") {
            return Err(Error::UnsafeSettings {
                setting: "appendonly",
                found: "no".into(),
                fix: "RedisConfig::require_persistence asks for the append-only file; set `appendonly yes` \
                      (`CONFIG SET appendonly yes` and in redis.conf)"
                    .into(),
            });
        }
        Ok(())
    }

    /// The bot's keys.
    #[must_use]
    pub fn keys(&self) -> &Keys {
        &self.shared.keys
    }

    /// The settings the connection was made with.
    #[must_use]
    pub fn config(&self) -> &RedisConfig {
        &self.shared.config
    }

    /// The shared connection, for commands of your own. They run without this crate's
    /// deadlines; the connection is the latest one opened (after a timeout of one of this
    /// crate's calls, the next call replaces it).
    #[must_use]
    pub fn connection(&self) -> ConnectionManager {
        self.shared.link.latest()
    }

    /// The client the connection was made with.
    #[must_use]
    pub fn client(&self) -> &redis::Client {
        &self.shared.link.client
    }

    /// Runs `call` on the shared connection within `limit` (the response timeout when
    /// `None`); `what` names it in a timeout error.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        what: &'static str,
        limit: Option<Duration>,
        call: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.shared.link.run(what, limit, call).await
    }

    /// A connection of its own (for blocking reads), whose calls may take up to `response`.
    pub(crate) async fn dedicated(&self, response: Duration) -> Result<Link, Error> {
        Link::open(self.client().clone(), &self.shared.config, response, Arc::clone(&self.shared.clock)).await
    }

    /// The runtime's now.
    pub(crate) fn now(&self) -> Instant {
        self.shared.clock.now()
    }

    /// Completes `duration` from now, on the runtime's timers.
    pub(crate) fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.shared.clock.sleep(duration)
    }
}

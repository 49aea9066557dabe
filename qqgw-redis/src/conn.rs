//! The connection every type of this crate shares.

use core::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{Error, Keys};

/// How long one Redis command may take before it fails (and is retried by its caller).
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to the Redis of one bot: a [`ConnectionManager`](https://docs.rs/redis/0.32/redis/aio/struct.ConnectionManager.html) (one multiplexed
/// connection that reconnects by itself) and the bot's [`Keys`]. Cheap to clone; clones
/// share the connection.
///
/// Its `Debug` shows neither the URL nor a password.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    keys: Keys,
}

impl core::fmt::Debug for Redis {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Redis").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects to the Redis at `url` (`redis://host:port/db`, `redis+unix:///path`) for
    /// the bot whose keys are `keys`.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if the URL is not one, or Redis cannot be reached.
    pub async fn connect(url: &str, keys: Keys) -> Result<Self, Error> {
        Self::with_client(redis::Client::open(url)?, keys).await
    }

    /// As [`connect`](Self::connect), with a client built elsewhere (TLS, credentials).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn with_client(client: redis::Client, keys: Keys) -> Result<Self, Error> {
        let conn = Self::manager(&client, DEFAULT_RESPONSE_TIMEOUT).await?;
        Ok(Self { client, conn, keys })
    }

    pub(crate) async fn manager(
        client: &redis::Client,
        response: Duration,
    ) -> Result<ConnectionManager, Error> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(response)
            .set_number_of_retries(2)
            .set_max_delay(500);
        Ok(client.get_connection_manager_with_config(config).await?)
    }

    /// The bot's keys.
    #[must_use]
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The shared connection, for commands of your own.
    #[must_use]
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The client the connection was made with (for connections of their own, such as a
    /// worker's blocking reads).
    #[must_use]
    pub fn client(&self) -> &redis::Client {
        &self.client
    }
}

//! Sessions in Redis: the [`SessionStore`] of a shard, fenced by its lease.

use core::time::Duration;
use qqgw_client::{SessionStore, StoreError, StoreFuture};
use qqgw_proto::{Session, ShardId};
use redis::AsyncCommands;

use crate::lease::{FencingToken, millis};
use crate::scripts::{SessionClear, SessionSave};
use crate::{Error, Redis};

/// How long a saved session is kept after its last save: 1 day. QQ resumes a session for
/// far less than that; an older one only makes the shard try a RESUME that QQ refuses,
/// after which it IDENTIFYs afresh and reports the gap (`session_lost`).
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// A [`SessionStore`] in Redis: each shard's session — id and handled checkpoint — in the
/// hash `<prefix>:session:<id>/<total>`, expiring [`DEFAULT_SESSION_TTL`] (configurable)
/// after its last save.
///
/// It is a shared replacement of `FileStore`, for a client that handles its own events.
/// Given a fencing token ([`fenced`](Self::fenced)), every save and clear is a script that
/// first checks the token is still the shard's current one: a process that lost the
/// shard's lease (paused, partitioned) gets [`Error::Fenced`] and cannot overwrite the new
/// owner's checkpoint. Within one session the checkpoint never moves back.
///
/// Do not give it to a client whose events go to a [`StreamSink`](crate::StreamSink): the
/// sink writes the session itself, with each entry, and two writers race (a client's
/// clear could land before the sink's gap for the lost session). [`Cluster`](crate::Cluster)
/// lets the sink write and gives its clients no store that writes; see
/// [`StreamSink::recover`](crate::StreamSink::recover).
///
/// # Examples
///
/// ```no_run
/// use qqgw_redis::{Keys, Redis, RedisSessionStore};
///
/// # async fn run() -> Result<(), qqgw_redis::Error> {
/// let redis = Redis::connect(&qqgw_tokio::Tokio, "redis://127.0.0.1:6379", Keys::for_app("102012345")).await?;
/// let config = qqgw_client::Config::builder("102012345", "secret")
///     .session_store(RedisSessionStore::new(redis))
///     .build();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisSessionStore {
    redis: Redis,
    ttl: Duration,
    fence: Option<FencingToken>,
}

impl RedisSessionStore {
    /// A store without fencing, sessions kept [`DEFAULT_SESSION_TTL`].
    #[must_use]
    pub fn new(redis: Redis) -> Self {
        Self { redis, ttl: DEFAULT_SESSION_TTL, fence: None }
    }

    /// How long a session is kept after its last save.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// This store, writing only while `token` is the current fencing token of the shard
    /// it writes (see [`Lease::token`](crate::Lease::token)).
    #[must_use]
    pub fn fenced(mut self, token: FencingToken) -> Self {
        self.fence = Some(token);
        self
    }

    /// The session saved for `shard`, if any.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`], or [`Error::Decode`] for a hash this crate did not write.
    pub async fn load_session(&self, shard: ShardId) -> Result<Option<Session>, Error> {
        let key = self.redis.keys().session(shard);
        let read = key.clone();
        let (id, seq): (Option<String>, Option<String>) = self
            .redis
            .run("session load", None, |mut c| async move { c.hget(&read, &["id", "seq"]).await })
            .await?;
        let (Some(id), Some(seq)) = (id, seq) else { return Ok(None) };
        let seq = seq.parse::<u64>().map_err(|e| Error::Decode { key, reason: format!("seq: {e}") })?;
        Ok(Some(Session::new(id, seq, shard)))
    }

    /// Saves `session`.
    ///
    /// # Errors
    ///
    /// [`Error::Redis`], or [`Error::Fenced`] if the store's fencing token is no longer
    /// the shard's.
    pub async fn save_session(&self, session: &Session) -> Result<(), Error> {
        let shard = session.shard;
        let keys = self.redis.keys();
        let save = SessionSave {
            session: &keys.session(shard),
            fence: &keys.fence(shard),
            token: &self.fence.as_ref().map(ToString::to_string).unwrap_or_default(),
            id: &session.id,
            seq: session.seq,
            shard: &format!("{}/{}", shard.id(), shard.total()),
            ttl_ms: millis(self.ttl),
        }
        .invocation();
        let written: i64 = self
            .redis
            .run("session save", None, |mut c| async move { save.invoke_async(&mut c).await })
            .await?;
        self.check(shard, written)
    }

    /// Forgets the session of `shard`.
    ///
    /// # Errors
    ///
    /// As [`save_session`](Self::save_session).
    pub async fn clear_session(&self, shard: ShardId) -> Result<(), Error> {
        let keys = self.redis.keys();
        let clear = SessionClear {
            session: &keys.session(shard),
            fence: &keys.fence(shard),
            token: &self.fence.as_ref().map(ToString::to_string).unwrap_or_default(),
        }
        .invocation();
        let cleared: i64 = self
            .redis
            .run("session clear", None, |mut c| async move { clear.invoke_async(&mut c).await })
            .await?;
        self.check(shard, cleared)
    }

    fn check(&self, shard: ShardId, result: i64) -> Result<(), Error> {
        match (result, &self.fence) {
            (-1, Some(token)) => Err(Error::Fenced { shard, token: token.clone() }),
            _ => Ok(()),
        }
    }
}

impl SessionStore for RedisSessionStore {
    fn load(&self, shard: ShardId) -> StoreFuture<'_, Option<Session>> {
        Box::pin(async move { self.load_session(shard).await.map_err(|e| StoreError(e.to_string())) })
    }

    fn save(&self, session: Session) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.save_session(&session).await.map_err(|e| StoreError(e.to_string())) })
    }

    fn clear(&self, shard: ShardId) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.clear_session(shard).await.map_err(|e| StoreError(e.to_string())) })
    }
}

//! The resumable part of a connection, serde-able for restarts.

/// What RESUME needs: the session id, the last sequence number delivered, and the shard.
///
/// Keep it across process restarts to resume instead of identifying afresh: get it from
/// [`Event::Closed`](crate::Event::Closed), store it, and hand it back. Driving the
/// machine yourself, it comes from `GatewayMachine::session` and goes back through
/// `qqgw_proto::ConfigBuilder::session`; with an adapter (`qqgw-tokio`,
/// `qqgw-async-std`), `Client::shutdown` and `Client::run` return every shard's, and
/// `ConfigBuilder::sessions` takes them back. QQ keeps a session resumable only for a
/// short, undocumented time.
///
/// # Examples
///
/// ```
/// use qqgw_proto::{Session, ShardId};
///
/// let session = Session::new("082ee18c-0be3-491b-9d8b-fbd95c51673a", 1337, ShardId::ONE);
/// let json = serde_json::to_string(&session).unwrap();
/// assert_eq!(json, r#"{"id":"082ee18c-0be3-491b-9d8b-fbd95c51673a","seq":1337,"shard":[0,1]}"#);
/// assert_eq!(serde_json::from_str::<Session>(&json).unwrap(), session);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// The session id from READY.
    pub id: String,
    /// The last sequence number delivered; 0 when none was (as QQ's RESUME writes it).
    pub seq: u64,
    /// The shard the session belongs to.
    pub shard: crate::ShardId,
}

impl Session {
    /// A session.
    #[must_use]
    pub fn new(id: impl Into<String>, seq: u64, shard: crate::ShardId) -> Self {
        Self { id: id.into(), seq, shard }
    }

    /// A session whose last delivered event is `seq`, if any.
    pub(crate) fn at(id: impl Into<String>, seq: Option<u64>, shard: crate::ShardId) -> Self {
        Self::new(id, seq.unwrap_or(0), shard)
    }

    /// The last sequence number delivered: `None` when none was (`seq` is 0).
    ///
    /// ```
    /// use qqgw_proto::{Session, ShardId};
    ///
    /// assert_eq!(Session::new("s", 0, ShardId::ONE).last_seq(), None);
    /// assert_eq!(Session::new("s", 7, ShardId::ONE).last_seq(), Some(7));
    /// ```
    #[must_use]
    pub fn last_seq(&self) -> Option<u64> {
        (self.seq != 0).then_some(self.seq)
    }
}

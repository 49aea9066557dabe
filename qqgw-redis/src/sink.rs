//! Events into Redis Streams, with the checkpoint in the same step.

use qqgw_client::ShardEvent;
use qqgw_proto::{Dispatch, Event, Session, ShardId};
use redis::{ScriptInvocation, Value};

use crate::RedisSessionStore;
use crate::entry::{self, Entry, FIELD_GAP};
use crate::lease::{FencingToken, millis};
use crate::scripts::Publish;
use crate::store::DEFAULT_SESSION_TTL;
use crate::worker::Item;
use crate::{Error, Redis};

/// Default [`StreamSink::max_len`]: each shard's stream keeps about 100,000 events.
pub const DEFAULT_MAX_LEN: u64 = 100_000;

/// Appends a shard's events to its Redis Stream, `<prefix>:stream:<id>/<total>`, and
/// moves the shard's checkpoint past each in the same atomic step (one Lua script:
/// fencing check, `XADD`, checkpoint write). A crash between receiving an event and
/// publishing it leaves the checkpoint before it, so the RESUME after the crash gets it
/// again; a crash after leaves both written. Nothing is skipped.
///
/// Streams are bounded to `max_len` entries ([`DEFAULT_MAX_LEN`]), trimmed a tenth (at
/// most 100 entries) at a time with `XTRIM MINID`, so a stream holds between `max_len`
/// and `max_len` + 100 entries. Entries trimmed before a consumer group read them are lost
/// to it; the sink reports that in the stream (a `"trimmed"` [`Gap`] naming the group),
/// and the group's workers hand it to `session_lost`. Size `max_len` for the longest
/// outage of your workers (events per second × seconds).
#[derive(Debug, Clone)]
pub struct StreamSink {
    redis: Redis,
    shard: ShardId,
    fence: Option<FencingToken>,
    max_len: u64,
    session_ttl: core::time::Duration,
    /// The session events belong to, as far as the sink has seen (from the stored one,
    /// then each READY).
    session: Option<String>,
    /// The last sequence number published in that session.
    last_seq: Option<u64>,
}

/// A gap the sink reports in the stream: events that may never arrive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Gap {
    /// `"session_lost"` (QQ refused the RESUME: events after `after` may be missing),
    /// `"seq_jump"` (the sequence numbers jumped from `after` to `next`) or `"trimmed"`
    /// (the stream's bound trimmed entries the consumer group `group` had not read).
    pub kind: String,
    /// The session concerned.
    #[serde(default)]
    pub session: Option<String>,
    /// The last event handled before the gap (0 when not known).
    #[serde(default)]
    pub after: u64,
    /// The first event after it, when known.
    #[serde(default)]
    pub next: Option<u64>,
    /// For `"trimmed"`: the consumer group that lost entries (other groups ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

impl Gap {
    /// [`kind`](Self::kind): QQ refused the RESUME; events after `after` may be missing.
    pub const SESSION_LOST: &'static str = "session_lost";
    /// [`kind`](Self::kind): the sequence numbers jumped from `after` to `next`.
    pub const SEQ_JUMP: &'static str = "seq_jump";
    /// [`kind`](Self::kind): the stream's bound trimmed entries the consumer group
    /// `group` had not read.
    pub const TRIMMED: &'static str = "trimmed";
    /// [`kind`](Self::kind): the session's checkpoint is gone from Redis (expired,
    /// evicted, deleted) while its events never ended; events after `after` may be
    /// missing. Found when a shard starts.
    pub const UNKNOWN: &'static str = "unknown";

    /// Whether this gap ends its session: no event of it comes after.
    #[must_use]
    pub fn ends_session(&self) -> bool {
        matches!(self.kind.as_str(), Self::SESSION_LOST | Self::UNKNOWN)
    }
}

/// How far back a shard's stream is searched, at start, for its last session.
const TAIL_SEARCH: usize = 256;

impl StreamSink {
    /// A sink for `shard`, without fencing (a single process).
    #[must_use]
    pub fn new(redis: Redis, shard: ShardId) -> Self {
        Self {
            redis,
            shard,
            fence: None,
            max_len: DEFAULT_MAX_LEN,
            session_ttl: DEFAULT_SESSION_TTL,
            session: None,
            last_seq: None,
        }
    }

    /// Writes only while `token` is the shard's current fencing token.
    #[must_use]
    pub fn fenced(mut self, token: FencingToken) -> Self {
        self.fence = Some(token);
        self
    }

    /// The approximate bound of the stream (see the type's docs). Default
    /// [`DEFAULT_MAX_LEN`].
    #[must_use]
    pub fn max_len(mut self, entries: u64) -> Self {
        self.max_len = entries.max(1);
        self
    }

    /// How long the checkpoint is kept after its last write. Default
    /// [`DEFAULT_SESSION_TTL`].
    #[must_use]
    pub fn session_ttl(mut self, ttl: core::time::Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Starts from the stored session (the one the shard will RESUME).
    #[must_use]
    pub fn resuming(mut self, session: Option<&Session>) -> Self {
        self.session = session.map(|s| s.id.clone());
        self.last_seq = session.map(|s| s.seq);
        self
    }

    /// The shard.
    #[must_use]
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// Finds where the shard's events stand in Redis, when a shard starts: returns the
    /// stored checkpoint, which the shard RESUMEs from (the sink goes on from it too).
    ///
    /// Without one, the last session in the stream is looked at: if it never ended (no
    /// `session_lost` gap after its events) its checkpoint was lost — expired, evicted or
    /// deleted — and QQ cannot be asked to replay it, so an [`UNKNOWN`](Gap::UNKNOWN) gap
    /// reports its events after the last one in the stream as possibly missing. The shard
    /// then IDENTIFYs.
    ///
    /// With this sink the only writer of the session (what [`Cluster`](crate::Cluster)
    /// does), give the client the returned session
    /// ([`ConfigBuilder::sessions`](qqgw_client::ConfigBuilder::sessions)) and no session
    /// store that writes.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub async fn recover(&mut self) -> Result<Option<Session>, Error> {
        let stored = RedisSessionStore::new(self.redis.clone()).load_session(self.shard).await?;
        self.session = stored.as_ref().map(|s| s.id.clone());
        self.last_seq = stored.as_ref().map(|s| s.seq);
        if stored.is_none() {
            if let Some((session, after)) = self.unended_session().await? {
                let gap =
                    Gap { kind: Gap::UNKNOWN.into(), session: Some(session), after, next: None, group: None };
                let invocation = self.plan_gap(&gap, true)?;
                let answer = self
                    .redis
                    .run("publish", None, |mut c| async move { invocation.invoke_async(&mut c).await })
                    .await?;
                self.interpret(answer)?;
            }
        }
        Ok(stored)
    }

    /// The last session of the stream and its last sequence number, if it never ended.
    async fn unended_session(&self) -> Result<Option<(String, u64)>, Error> {
        let mut tail = redis::cmd("XREVRANGE");
        tail.arg(self.redis.keys().stream(self.shard)).arg("+").arg("-").arg("COUNT").arg(TAIL_SEARCH);
        let tail: redis::streams::StreamRangeReply =
            self.redis.run("XREVRANGE", None, |mut c| async move { tail.query_async(&mut c).await }).await?;
        let mut last: Option<(String, u64)> = None;
        for entry in &tail.ids {
            let decoded = entry::decode(self.shard, entry);
            match (decoded.item, decoded.session.filter(|s| !s.is_empty())) {
                (Item::Gap(gap), _) if gap.ends_session() => break,
                (Item::Event(event), Some(session)) => match &mut last {
                    None => last = Some((session, event.seq().unwrap_or(0))),
                    Some((known, seq)) if *known == session => *seq = (*seq).max(event.seq().unwrap_or(0)),
                    Some(_) => break,
                },
                _ => {}
            }
        }
        Ok(last)
    }

    /// Appends `dispatch` and moves the checkpoint to it; returns the stream entry id.
    /// READY starts a new session. A jump in sequence numbers is reported first, as a gap
    /// entry.
    ///
    /// # Errors
    ///
    /// [`Error::Fenced`] if another process owns the shard now; [`Error::Redis`] if Redis
    /// cannot be reached (nothing was written: publish again).
    pub async fn publish(&mut self, dispatch: &Dispatch) -> Result<String, Error> {
        let mut out = Vec::new();
        self.plan_dispatch(dispatch, &mut out)?;
        let mut last = String::new();
        for invocation in out {
            let answer = self
                .redis
                .run("publish", None, |mut c| async move { invocation.invoke_async(&mut c).await })
                .await?;
            last = self.interpret(answer)?;
        }
        Ok(last)
    }

    /// Reports that the session was lost: events after `session.seq` may never arrive.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub async fn session_lost(&mut self, session: &Session) -> Result<String, Error> {
        let mut out = Vec::new();
        self.plan_session_lost(session, &mut out)?;
        let mut last = String::new();
        for invocation in out {
            let answer = self
                .redis
                .run("publish", None, |mut c| async move { invocation.invoke_async(&mut c).await })
                .await?;
            last = self.interpret(answer)?;
        }
        Ok(last)
    }

    /// Publishes the dispatches and lost sessions among `events`, in order, in one round
    /// trip (a pipeline of the scripts, each atomic). Returns how many of `events`, from
    /// the first, are done — published, or with nothing to publish — and the error that
    /// stopped the others. After an error the others may or may not be in the stream:
    /// publish them again (a duplicate is dropped by the workers).
    pub async fn publish_events(&mut self, events: &[ShardEvent]) -> (usize, Option<Error>) {
        let mut invocations = Vec::new();
        // For each event, how many invocations must succeed for it (and those before) to be done.
        let mut needs = Vec::with_capacity(events.len());
        let mut stopped = None;
        for event in events {
            let result = match &event.event {
                Event::Dispatch(dispatch) => self.plan_dispatch(dispatch, &mut invocations),
                Event::SessionLost(session) => self.plan_session_lost(session, &mut invocations),
                _ => Ok(()),
            };
            if let Err(error) = result {
                stopped = Some(error);
                break;
            }
            needs.push(invocations.len());
        }
        let mut succeeded = 0;
        if !invocations.is_empty() {
            let mut pipe = redis::pipe();
            pipe.load_script(Publish::script()).ignore();
            for invocation in &invocations {
                pipe.invoke_script(invocation);
            }
            let published = self
                .redis
                .run("publish", None, |mut c| async move { pipe.query_async::<Vec<Value>>(&mut c).await })
                .await;
            match published {
                Ok(answers) => {
                    for answer in answers {
                        if let Err(error) = self.interpret(answer) {
                            stopped = Some(error);
                            break;
                        }
                        succeeded += 1;
                    }
                }
                Err(error) => stopped = Some(error),
            }
        }
        (needs.iter().take_while(|&&n| n <= succeeded).count(), stopped)
    }

    fn plan_dispatch(
        &mut self,
        dispatch: &Dispatch,
        out: &mut Vec<ScriptInvocation<'static>>,
    ) -> Result<(), Error> {
        if dispatch.name() == "READY" {
            self.session = dispatch.ready_session_id();
            self.last_seq = None;
        }
        if let (Some(seq), Some(last)) = (dispatch.seq(), self.last_seq) {
            if seq > last + 1 {
                let gap = Gap {
                    kind: Gap::SEQ_JUMP.into(),
                    session: self.session.clone(),
                    after: last,
                    next: Some(seq),
                    group: None,
                };
                out.push(self.plan_gap(&gap, false)?);
            }
        }
        let session = self.session.as_deref().unwrap_or("");
        let fields = self.encode(Entry::Event { dispatch, session })?;
        out.push(self.invocation(&fields, dispatch.seq(), false));
        if let Some(seq) = dispatch.seq() {
            self.last_seq = Some(self.last_seq.map_or(seq, |last| last.max(seq)));
        }
        Ok(())
    }

    fn plan_session_lost(
        &mut self,
        session: &Session,
        out: &mut Vec<ScriptInvocation<'static>>,
    ) -> Result<(), Error> {
        let gap = Gap {
            kind: Gap::SESSION_LOST.into(),
            session: Some(session.id.clone()),
            after: session.seq,
            next: None,
            group: None,
        };
        out.push(self.plan_gap(&gap, true)?);
        self.session = None;
        self.last_seq = None;
        Ok(())
    }

    /// A gap entry; one that `ends_session` deletes the checkpoint in the same step.
    fn plan_gap(&self, gap: &Gap, ends_session: bool) -> Result<ScriptInvocation<'static>, Error> {
        tracing::warn!(shard = %self.shard, ?gap, "gap in the events");
        Ok(self.invocation(&self.encode(Entry::Gap(gap))?, None, ends_session))
    }

    fn encode(&self, entry: Entry<'_>) -> Result<entry::Fields, Error> {
        let writer = self.fence.as_ref().map(ToString::to_string).unwrap_or_default();
        entry::encode(entry, &writer)
            .map_err(|e| Error::Decode { key: self.redis.keys().stream(self.shard), reason: e.to_string() })
    }

    fn invocation(
        &self,
        fields: &[(&'static str, String)],
        seq: Option<u64>,
        ends_session: bool,
    ) -> ScriptInvocation<'static> {
        let keys = self.redis.keys();
        let shard = self.shard;
        Publish {
            session: &keys.session(shard),
            fence: &keys.fence(shard),
            stream: &keys.stream(shard),
            trimmed: &keys.trimmed(shard),
            token: &self.fence.as_ref().map(ToString::to_string).unwrap_or_default(),
            id: self.session.as_deref().unwrap_or(""),
            seq: &match (&self.session, seq) {
                (Some(_), Some(seq)) => seq.to_string(),
                _ => String::new(),
            },
            shard: &format!("{}/{}", shard.id(), shard.total()),
            ttl_ms: millis(self.session_ttl),
            max_len: self.max_len,
            ends_session: if ends_session { "1" } else { "" },
            gap_field: FIELD_GAP,
            fields,
        }
        .invocation()
    }

    fn interpret(&self, answer: Value) -> Result<String, Error> {
        match (answer, &self.fence) {
            (Value::BulkString(id), _) => Ok(String::from_utf8_lossy(&id).into_owned()),
            (Value::SimpleString(id), _) => Ok(id),
            (Value::Int(-1), Some(token)) => Err(Error::Fenced { shard: self.shard, token: token.clone() }),
            (other, _) => Err(Error::Decode {
                key: self.redis.keys().stream(self.shard),
                reason: format!("XADD answered {other:?}"),
            }),
        }
    }
}

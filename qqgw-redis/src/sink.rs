//! Events into Redis Streams, with the checkpoint in the same step.

use qqgw_client::ShardEvent;
use qqgw_proto::{Dispatch, Event, Session, ShardId};
use redis::{AsyncCommands, Value};

use crate::RedisSessionStore;
use crate::entry::{self, Entry};
use crate::lease::{FencingToken, millis};
use crate::scripts::Publish;
use crate::store::DEFAULT_SESSION_TTL;
use crate::worker::Item;
use crate::{Error, Redis};

/// Default [`StreamSink::max_len`]: each shard's stream keeps about 100,000 events.
pub const DEFAULT_MAX_LEN: u64 = 100_000;

/// Appends a shard's events to its Redis Stream, `<prefix>:stream:<id>/<total>`, and
/// moves the shard's checkpoint past each in the same atomic step (one Lua script per
/// batch of events: fencing check, then for each event the checkpoint compared, `XADD`,
/// the checkpoint moved). A crash between receiving an event and
/// publishing it leaves the checkpoint before it, so the RESUME after the crash gets it
/// again; a crash after leaves both written. Nothing is skipped.
///
/// **Rollback detection.** Each write is a compare-and-set: it goes through only if the
/// checkpoint in Redis is the one this sink last wrote (or found with
/// [`recover`](Self::recover)). A checkpoint that is not means Redis lost writes — a crash
/// with `appendfsync everysec`, a failover to a replica that lagged — and the write fails
/// with [`Error::RolledBack`], naming the checkpoint Redis kept: restart the shard's
/// client from it, so that QQ replays what was lost. If Redis lost the whole session (its
/// checkpoint is gone or another one's), the sink first reports it as a
/// [`ROLLED_BACK`](Gap::ROLLED_BACK) gap, from the last of its events still in the stream.
/// A sink started without `recover` takes the checkpoint it finds at its first write.
///
/// Streams are bounded to `max_len` entries ([`DEFAULT_MAX_LEN`]), trimmed a tenth (at
/// most 100 entries) at a time with `XTRIM MINID`, so a stream holds between `max_len`
/// and `max_len` + 100 entries. Entries trimmed before a consumer group read them are lost
/// to it: the sink records the last entry it trimmed, and a [`Worker`](crate::Worker)
/// whose group had not read that far reports a `"trimmed"` [`Gap`] before the first entry
/// after them. Size `max_len` for the longest outage of your workers (events per second ×
/// seconds).
#[derive(Debug, Clone)]
pub struct StreamSink {
    redis: Redis,
    shard: ShardId,
    fence: Option<FencingToken>,
    max_len: u64,
    session_ttl: core::time::Duration,
    position: Position,
    /// After a publish whose answer was lost: the positions it may have reached in Redis.
    uncertain: Vec<Position>,
    /// When the events being published were received (ms since the Unix epoch).
    received_at: u64,
}

/// Where a sink stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Position {
    /// The session events belong to, as far as the sink has seen (from the stored one,
    /// then each READY).
    session: Option<String>,
    /// The last sequence number published in that session.
    last_seq: Option<u64>,
    /// The checkpoint in Redis as this sink last wrote or found it; `None` before the
    /// first write of a sink started without [`StreamSink::recover`] (the first write then
    /// takes whatever it finds).
    written: Option<Option<Session>>,
}

impl Position {
    /// The checkpoint after the entries published so far.
    fn checkpoint(&self, shard: ShardId) -> Option<Session> {
        let id = self.session.clone()?;
        Some(Session::new(id, self.last_seq.unwrap_or(0), shard))
    }
}

/// What an entry does to the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Leaves it (a gap that is not a session's end).
    Keep,
    /// Moves it to the sink's position (an event).
    Move,
    /// Deletes it (the session ended).
    End,
}

/// How a publish script answered.
enum Answer {
    Written(String),
    Fenced,
    /// The checkpoint in Redis was not the expected one: it is this.
    Mismatch(Option<Session>),
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
    /// missing. Without a `session`: an IDENTIFY was sent whose READY never reached the
    /// stream (its process died or was cut off first), so a session Redis never heard of
    /// may have started, and its events may be missing. Found when a shard starts.
    pub const UNKNOWN: &'static str = "unknown";
    /// [`kind`](Self::kind): Redis lost its latest writes, this session's checkpoint
    /// with them, so QQ cannot be asked to replay it; events after `after` (the last of
    /// the session still in the stream) may be missing.
    pub const ROLLED_BACK: &'static str = "rolled_back";

    /// Whether this gap ends its session: no event of it comes after.
    #[must_use]
    pub fn ends_session(&self) -> bool {
        matches!(self.kind.as_str(), Self::SESSION_LOST | Self::UNKNOWN | Self::ROLLED_BACK)
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
            position: Position::default(),
            uncertain: Vec::new(),
            received_at: 0,
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

    /// Starts from `session` (the one the shard will RESUME). The first write takes the
    /// checkpoint it finds in Redis; [`recover`](Self::recover) instead reads it first,
    /// so that even the first write detects a rollback.
    #[must_use]
    pub fn resuming(mut self, session: Option<&Session>) -> Self {
        self.position = Position {
            session: session.map(|s| s.id.clone()),
            last_seq: session.map(|s| s.seq),
            written: None,
        };
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
        self.position = Position {
            session: stored.as_ref().map(|s| s.id.clone()),
            last_seq: stored.as_ref().map(|s| s.seq),
            written: Some(stored.clone()),
        };
        self.uncertain.clear();
        if stored.is_none() {
            if let Some((session, after)) = self.unended_session().await? {
                let gap =
                    Gap { kind: Gap::UNKNOWN.into(), session: Some(session), after, next: None, group: None };
                self.publish_gap(&gap).await?;
            }
        }
        // An IDENTIFY was granted whose READY never reached the stream: the process that
        // sent it died, or was cut off, before writing it. A session may have started
        // that Redis never heard of, its events with it.
        let identifying = self.redis.keys().identifying(self.shard);
        let granted: Option<String> =
            self.redis.run("GET", None, |mut c| async move { c.get(&identifying).await }).await?;
        if granted.is_some() {
            let gap = Gap { kind: Gap::UNKNOWN.into(), session: None, after: 0, next: None, group: None };
            self.publish_gap_clearing(&gap, true).await?;
        }
        Ok(stored)
    }

    /// The last session of the stream and its last sequence number, if it never ended.
    async fn unended_session(&self) -> Result<Option<(String, u64)>, Error> {
        let mut last: Option<(String, u64)> = None;
        for decoded in self.tail().await? {
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

    /// The highest sequence number of `session` among the last entries of the stream.
    async fn last_seq_in_stream(&self, session: &str) -> Result<u64, Error> {
        Ok(self
            .tail()
            .await?
            .into_iter()
            .filter(|decoded| decoded.session.as_deref() == Some(session))
            .filter_map(|decoded| match decoded.item {
                Item::Event(event) => event.seq(),
                _ => None,
            })
            .max()
            .unwrap_or(0))
    }

    /// The last [`TAIL_SEARCH`] entries of the stream, newest first.
    async fn tail(&self) -> Result<Vec<entry::Decoded>, Error> {
        let mut tail = redis::cmd("XREVRANGE");
        tail.arg(self.redis.keys().stream(self.shard)).arg("+").arg("-").arg("COUNT").arg(TAIL_SEARCH);
        let tail: redis::streams::StreamRangeReply =
            self.redis.run("XREVRANGE", None, |mut c| async move { tail.query_async(&mut c).await }).await?;
        Ok(tail.ids.iter().map(|entry| entry::decode(self.shard, entry)).collect())
    }

    /// Appends `dispatch` and moves the checkpoint to it; returns the stream entry id.
    /// READY starts a new session. A jump in sequence numbers is reported first, as a gap
    /// entry.
    ///
    /// # Errors
    ///
    /// [`Error::Fenced`] if another process owns the shard now; [`Error::RolledBack`] if
    /// Redis lost writes (restart the shard from the checkpoint it names);
    /// [`Error::Redis`] or [`Error::Timeout`] if Redis cannot be reached (publish again).
    pub async fn publish(&mut self, dispatch: &Dispatch) -> Result<String, Error> {
        self.received_at = unix_millis(std::time::SystemTime::now());
        self.publish_items(&[Publishable::Dispatch(dispatch)]).await
    }

    /// Reports that the session was lost: events after `session.seq` may never arrive.
    /// The checkpoint is deleted in the same step.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish).
    pub async fn session_lost(&mut self, session: &Session) -> Result<String, Error> {
        self.publish_items(&[Publishable::SessionLost(session)]).await
    }

    async fn publish_items(&mut self, items: &[Publishable<'_>]) -> Result<String, Error> {
        let (_, last, error) = self.publish_all(items).await;
        match error {
            Some(error) => Err(error),
            None => Ok(last.unwrap_or_default()),
        }
    }

    /// Publishes the dispatches and lost sessions among `events`, in order, in one round
    /// trip (one script call for the batch, atomic). Returns how many of `events`, from
    /// the first, are done — published, or with nothing to publish — and the error that
    /// stopped the others. After [`Error::Redis`] or [`Error::Timeout`] the others may or
    /// may not be in the stream: publish them again (a duplicate is dropped by the
    /// workers). After [`Error::Fenced`] or [`Error::RolledBack`], stop: the shard must
    /// start again from what Redis holds.
    pub async fn publish_events(&mut self, events: &[ShardEvent]) -> (usize, Option<Error>) {
        self.publish_events_received(events, std::time::SystemTime::now()).await
    }

    /// [`publish_events`](Self::publish_events) of events received at `received_at`
    /// (their entries' `received_at`), e.g. when they were taken from the connection.
    pub async fn publish_events_received(
        &mut self,
        events: &[ShardEvent],
        received_at: std::time::SystemTime,
    ) -> (usize, Option<Error>) {
        self.received_at = unix_millis(received_at);
        // Which item each event is, if it has one.
        let mut items = Vec::with_capacity(events.len());
        let mut of_event = Vec::with_capacity(events.len());
        for event in events {
            match &event.event {
                Event::Dispatch(dispatch) => items.push(Publishable::Dispatch(dispatch)),
                Event::SessionLost(session) => items.push(Publishable::SessionLost(session)),
                _ => {}
            }
            of_event.push(items.len());
        }
        let (done, _, error) = self.publish_all(&items).await;
        (of_event.iter().take_while(|&&n| n <= done).count(), error)
    }

    /// Publishes `items`; returns how many are done, the last entry id and the error that
    /// stopped the others.
    async fn publish_all(&mut self, items: &[Publishable<'_>]) -> (usize, Option<String>, Option<Error>) {
        let mut adopted = false;
        'publish: loop {
            let start = self.position.clone();
            let mut planned_entries: Vec<Planned> = Vec::new();
            // After each invocation: the sink's position, and how many items are done.
            let mut after: Vec<(Position, usize)> = Vec::new();
            let mut planned = 0;
            let mut stopped = None;
            for item in items {
                let planning = match item {
                    Publishable::Dispatch(dispatch) => {
                        self.plan_dispatch(dispatch, &mut planned_entries, &mut after)
                    }
                    Publishable::SessionLost(session) => {
                        self.plan_session_lost(session, &mut planned_entries, &mut after)
                    }
                };
                if let Err(error) = planning {
                    stopped = Some(error);
                    break;
                }
                planned += 1;
                if let Some(last) = after.last_mut() {
                    last.1 = planned;
                }
            }
            self.position = start;
            if planned_entries.is_empty() {
                return (planned, None, stopped);
            }
            let published = self.run_publish(planned_entries).await;
            let answers = match published {
                Ok(answers) => answers,
                Err(error) => {
                    // Some may have been written: the next publish recognises them.
                    self.uncertain = after.into_iter().map(|(position, _)| position).collect();
                    return (0, None, Some(error));
                }
            };
            let (mut done, mut last) = (0, None);
            for (answer, (position, items_done)) in answers.into_iter().zip(after) {
                match self.interpret(answer) {
                    Ok(Answer::Written(entry)) => {
                        self.position = position;
                        done = items_done;
                        last = Some(entry);
                    }
                    Ok(Answer::Fenced) => {
                        stopped = self.fence.clone().map(|token| Error::Fenced { shard: self.shard, token });
                        break;
                    }
                    Ok(Answer::Mismatch(stored)) => {
                        // A publish whose answer was lost had gone through: no rollback,
                        // go on from where it got to.
                        let expected = Some(stored.clone());
                        let ours = self.uncertain.iter().find(|p| p.written == expected).cloned();
                        if let (Some(ours), false, None) = (ours, adopted, &last) {
                            tracing::debug!(shard = %self.shard, "a publish whose answer was lost had gone through");
                            self.position = ours;
                            self.uncertain.clear();
                            adopted = true;
                            continue 'publish;
                        }
                        stopped = Some(self.rolled_back(stored).await);
                        break;
                    }
                    Err(error) => {
                        stopped = Some(error);
                        break;
                    }
                }
            }
            self.uncertain.clear();
            return (done, last, stopped);
        }
    }

    /// Redis does not hold the checkpoint this sink wrote, but `stored`: it lost writes.
    /// If the whole session went with them, reports it (a `rolled_back` gap); then the
    /// sink stands where Redis does.
    async fn rolled_back(&mut self, stored: Option<Session>) -> Error {
        let written = self.position.written.clone().flatten();
        tracing::warn!(shard = %self.shard, ?written, ?stored, "redis lost writes: the checkpoint went back");
        self.position = Position {
            session: stored.as_ref().map(|s| s.id.clone()),
            last_seq: stored.as_ref().map(|s| s.seq),
            written: Some(stored.clone()),
        };
        let lost = written.as_ref().filter(|w| stored.as_ref().is_none_or(|s| s.id != w.id));
        if let Some(lost) = lost {
            let reported = async {
                let after = self.last_seq_in_stream(&lost.id).await?;
                let gap = Gap {
                    kind: Gap::ROLLED_BACK.into(),
                    session: Some(lost.id.clone()),
                    after,
                    next: None,
                    group: None,
                };
                self.publish_gap(&gap).await
            };
            if let Err(error) = reported.await {
                tracing::error!(shard = %self.shard, %error, session = %lost.id, "could not report the session redis lost");
            }
        }
        Error::RolledBack { shard: self.shard, stored, written }
    }

    /// Writes `gap` alone, the checkpoint left as it is.
    async fn publish_gap(&mut self, gap: &Gap) -> Result<(), Error> {
        self.publish_gap_clearing(gap, false).await
    }

    /// Writes `gap` alone, the checkpoint left as it is; with `clears_identifying`, the
    /// record of an IDENTIFY granted to the shard goes in the same step.
    async fn publish_gap_clearing(&mut self, gap: &Gap, clears_identifying: bool) -> Result<(), Error> {
        tracing::warn!(shard = %self.shard, ?gap, "gap in the events");
        crate::metrics::gap(self.shard, &gap.kind);
        let fields = self.encode(Entry::Gap(gap))?;
        let planned = self.plan_entry(fields, Step::Keep, clears_identifying);
        let answer = self.run_publish(vec![planned]).await?.into_iter().next().unwrap_or(Value::Nil);
        match self.interpret(answer)? {
            Answer::Written(_) => Ok(()),
            Answer::Fenced => Err(Error::Fenced {
                shard: self.shard,
                token: self.fence.clone().ok_or_else(|| self.unexpected("fenced without a token"))?,
            }),
            Answer::Mismatch(stored) => Err(Error::RolledBack {
                shard: self.shard,
                stored,
                written: self.position.written.clone().flatten(),
            }),
        }
    }

    fn plan_dispatch(
        &mut self,
        dispatch: &Dispatch,
        out: &mut Vec<Planned>,
        after: &mut Vec<(Position, usize)>,
    ) -> Result<(), Error> {
        if dispatch.name() == "READY" {
            self.position.session = dispatch.ready_session_id();
            self.position.last_seq = None;
        }
        if let (Some(seq), Some(last)) = (dispatch.seq(), self.position.last_seq) {
            if seq > last + 1 {
                let gap = Gap {
                    kind: Gap::SEQ_JUMP.into(),
                    session: self.position.session.clone(),
                    after: last,
                    next: Some(seq),
                    group: None,
                };
                out.push(self.plan_gap(&gap, Step::Keep)?);
                after.push((self.position.clone(), 0));
            }
        }
        let session = self.position.session.as_deref().unwrap_or("");
        let fields = self.encode(Entry::Event { dispatch, session, received_at: self.received_at })?;
        if let Some(seq) = dispatch.seq() {
            self.position.last_seq = Some(self.position.last_seq.map_or(seq, |last| last.max(seq)));
        }
        out.push(self.plan_entry(fields, Step::Move, dispatch.name() == "READY"));
        after.push((self.position.clone(), 0));
        Ok(())
    }

    fn plan_session_lost(
        &mut self,
        session: &Session,
        out: &mut Vec<Planned>,
        after: &mut Vec<(Position, usize)>,
    ) -> Result<(), Error> {
        let gap = Gap {
            kind: Gap::SESSION_LOST.into(),
            session: Some(session.id.clone()),
            after: session.seq,
            next: None,
            group: None,
        };
        out.push(self.plan_gap(&gap, Step::End)?);
        self.position.session = None;
        self.position.last_seq = None;
        self.position.written = Some(None);
        after.push((self.position.clone(), 0));
        Ok(())
    }

    /// A gap entry.
    fn plan_gap(&mut self, gap: &Gap, step: Step) -> Result<Planned, Error> {
        tracing::warn!(shard = %self.shard, ?gap, "gap in the events");
        crate::metrics::gap(self.shard, &gap.kind);
        let fields = self.encode(Entry::Gap(gap))?;
        Ok(self.plan_entry(fields, step, false))
    }

    /// Writes `entries` in one script call (atomic), in one round trip; the script's
    /// answers, one per entry written, ending at the first that was not.
    async fn run_publish(&self, entries: Vec<Planned>) -> Result<Vec<Value>, Error> {
        let keys = self.redis.keys();
        let shard = self.shard;
        let entries: Vec<String> = entries.into_iter().flat_map(|planned| planned.0).collect();
        let invocation = Publish {
            session: &keys.session(shard),
            fence: &keys.fence(shard),
            stream: &keys.stream(shard),
            trimmed: &keys.trimmed(shard),
            identifying: &keys.identifying(shard),
            token: &self.fence.as_ref().map(ToString::to_string).unwrap_or_default(),
            shard: &format!("{}/{}", shard.id(), shard.total()),
            ttl_ms: millis(self.session_ttl),
            max_len: self.max_len,
            entries: &entries,
        }
        .invocation();
        // EVALSHA; on NOSCRIPT (the script never ran) the script is loaded and called again.
        let answers: Value = self
            .redis
            .run("publish", None, |mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        match answers {
            Value::Array(answers) => Ok(answers),
            other => Err(self.unexpected(&format!("the publish script answered {other:?}"))),
        }
    }

    fn encode(&self, entry: Entry<'_>) -> Result<entry::Fields, Error> {
        let writer = self.fence.as_ref().map(ToString::to_string).unwrap_or_default();
        entry::encode(entry, self.shard, &writer)
            .map_err(|e| Error::Decode { key: self.redis.keys().stream(self.shard), reason: e.to_string() })
    }

    /// One entry of a publish: it expects the checkpoint this sink has written so far,
    /// and leaves the sink's position as written. `clears_identifying`: the entry is the
    /// READY of the IDENTIFY recorded for the shard (or reports its loss).
    fn plan_entry(&mut self, fields: entry::Fields, step: Step, clears_identifying: bool) -> Planned {
        let (expected_id, expected_seq) = match &self.position.written {
            None => (None, String::new()),
            Some(None) => (Some(String::new()), String::new()),
            Some(Some(written)) => (Some(written.id.clone()), written.seq.to_string()),
        };
        let checkpoint = match step {
            Step::Move => self.position.checkpoint(self.shard),
            Step::Keep | Step::End => None,
        };
        let flag = |on: bool| if on { "1" } else { "" }.to_owned();
        let mut strings = Vec::with_capacity(8 + fields.len() * 2);
        strings.extend([
            flag(expected_id.is_some()),
            expected_id.unwrap_or_default(),
            expected_seq,
            checkpoint.as_ref().map_or_else(String::new, |c| c.id.clone()),
            checkpoint.as_ref().map(|c| c.seq.to_string()).unwrap_or_default(),
            flag(step == Step::End),
            flag(clears_identifying),
            (fields.len() * 2).to_string(),
        ]);
        for (name, value) in fields {
            strings.push(name.to_owned());
            strings.push(value);
        }
        match step {
            Step::Move => self.position.written = Some(checkpoint),
            Step::End => self.position.written = Some(None),
            Step::Keep => {}
        }
        Planned(strings)
    }

    fn unexpected(&self, what: &str) -> Error {
        Error::Decode { key: self.redis.keys().stream(self.shard), reason: what.to_owned() }
    }

    fn interpret(&self, answer: Value) -> Result<Answer, Error> {
        let Value::Array(answer) = answer else {
            return Err(self.unexpected(&format!("the publish script answered {answer:?}")));
        };
        let text = |value: Option<&Value>| match value {
            Some(Value::BulkString(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Some(Value::SimpleString(text)) => Some(text.clone()),
            _ => None,
        };
        match answer.first() {
            Some(Value::Int(1)) => Ok(Answer::Written(text(answer.get(1)).unwrap_or_default())),
            Some(Value::Int(-1)) if self.fence.is_some() => Ok(Answer::Fenced),
            Some(Value::Int(-2)) => {
                let id = text(answer.get(1)).unwrap_or_default();
                let seq = text(answer.get(2)).unwrap_or_default();
                if id.is_empty() {
                    return Ok(Answer::Mismatch(None));
                }
                let seq = seq.parse().map_err(|_| self.unexpected(&format!("checkpoint seq {seq:?}")))?;
                Ok(Answer::Mismatch(Some(Session::new(id, seq, self.shard))))
            }
            _ => Err(self.unexpected(&format!("the publish script answered {answer:?}"))),
        }
    }
}

/// Milliseconds since the Unix epoch (0 for a clock before it).
pub(crate) fn unix_millis(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One entry of a publish, as the publish script takes it: `expect`, `expected_id`,
/// `expected_seq`, `id`, `seq`, `ends_session`, `clears_identifying`, the count of the
/// entry's field strings, then its field names and values.
struct Planned(Vec<String>);

/// What a sink publishes.
#[derive(Debug, Clone, Copy)]
enum Publishable<'a> {
    Dispatch(&'a Dispatch),
    SessionLost(&'a Session),
}

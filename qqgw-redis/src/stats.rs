//! How the shards' streams stand: length, and per consumer group what it has not read or
//! not acknowledged.

use qqgw_proto::ShardId;
use redis::Value;

use crate::metrics::MAX_GROUPS;
use crate::{Error, Redis};

/// A shard's stream, as [`stream_stats`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStats {
    /// The shard.
    pub shard: ShardId,
    /// Entries in the stream (`XLEN`).
    pub length: u64,
    /// Its consumer groups, by name (at most [`MAX_GROUPS`]).
    pub groups: Vec<GroupStats>,
}

/// A consumer group of a stream (`XINFO GROUPS`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupStats {
    /// The group's name.
    pub name: String,
    /// Entries not yet read by the group (Redis's `lag`; `None` when Redis cannot tell,
    /// e.g. after entries were deleted from the middle of the stream).
    pub lag: Option<u64>,
    /// Entries read by a consumer of the group and not acknowledged.
    pub pending: u64,
}

/// Looks at the streams of `shards` in one round trip (`XLEN`, `XINFO GROUPS`), and records
/// the numbers as the metrics `qqgw_stream_length`, `qqgw_stream_consumer_lag` and
/// `qqgw_stream_consumer_pending` (feature `metrics`). A stream that does not exist has
/// length 0 and no groups.
///
/// # Errors
///
/// [`Error::Redis`] or [`Error::Timeout`] if Redis cannot be reached.
pub async fn stream_stats(
    redis: &Redis,
    shards: impl IntoIterator<Item = ShardId>,
) -> Result<Vec<StreamStats>, Error> {
    let shards: Vec<ShardId> = shards.into_iter().collect();
    let mut pipe = redis::pipe();
    for &shard in &shards {
        let key = redis.keys().stream(shard);
        pipe.cmd("XLEN").arg(&key);
        // XINFO GROUPS fails on a missing key: EXISTS first, read together.
        pipe.cmd("EVAL")
            .arg("if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('XINFO', 'GROUPS', KEYS[1]) end return {}")
            .arg(1)
            .arg(&key);
    }
    let answers: Vec<Value> =
        redis.run("stream stats", None, |mut c| async move { pipe.query_async(&mut c).await }).await?;
    let mut out = Vec::with_capacity(shards.len());
    let mut answers = answers.into_iter();
    for shard in shards {
        let length = match answers.next() {
            Some(Value::Int(n)) => u64::try_from(n).unwrap_or(0),
            _ => 0,
        };
        let mut groups: Vec<GroupStats> = match answers.next() {
            Some(Value::Array(groups)) => groups.iter().filter_map(group).collect(),
            _ => Vec::new(),
        };
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        groups.truncate(MAX_GROUPS);
        crate::metrics::stream_sample(shard, length, &groups);
        out.push(StreamStats { shard, length, groups });
    }
    Ok(out)
}

/// One group of `XINFO GROUPS`: a flat list of names and values (a map in RESP3).
fn group(value: &Value) -> Option<GroupStats> {
    let pairs: Vec<(&Value, &Value)> = match value {
        Value::Array(flat) => flat.chunks(2).filter_map(|p| Some((p.first()?, p.get(1)?))).collect(),
        Value::Map(map) => map.iter().map(|(k, v)| (k, v)).collect(),
        _ => return None,
    };
    let text = |v: &Value| match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    let number = |v: &Value| match v {
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    };
    let (mut name, mut lag, mut pending) = (None, None, 0);
    for (key, value) in pairs {
        match text(key).as_deref() {
            Some("name") => name = text(value),
            Some("lag") => lag = number(value),
            Some("pending") => pending = number(value).unwrap_or(0),
            _ => {}
        }
    }
    Some(GroupStats { name: name?, lag, pending })
}

//! Shard identity and the guild → shard rule.

use core::fmt;

/// One shard of a bot: `[id, total]` on the wire, as in IDENTIFY's `shard` field.
///
/// Serializes as the two-element array QQ uses. `id < total` always holds.
///
/// # Examples
///
/// ```
/// use qqgw_proto::ShardId;
///
/// let shard = ShardId::new(2, 4).unwrap();
/// assert_eq!(shard.to_string(), "[2, 4]");
/// assert_eq!(serde_json::to_string(&shard).unwrap(), "[2,4]");
/// assert!(ShardId::new(4, 4).is_none());
/// assert_eq!(ShardId::default(), ShardId::ONE);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(into = "[u32; 2]", try_from = "[u32; 2]")]
pub struct ShardId {
    id: u32,
    total: u32,
}

impl ShardId {
    /// `[0, 1]`: the single shard of a bot that does not shard.
    pub const ONE: Self = Self { id: 0, total: 1 };

    /// Shard `id` of `total`, or `None` unless `id < total`.
    #[must_use]
    pub const fn new(id: u32, total: u32) -> Option<Self> {
        if id < total { Some(Self { id, total }) } else { None }
    }

    /// This shard's index.
    #[must_use]
    pub const fn id(self) -> u32 {
        self.id
    }

    /// How many shards the bot runs.
    #[must_use]
    pub const fn total(self) -> u32 {
        self.total
    }

    /// Whether this shard receives the events of `guild_id` (see [`shard_for_guild`]).
    #[must_use]
    pub const fn has_guild(self, guild_id: u64) -> bool {
        shard_for_guild(guild_id, self.total) == self.id
    }
}

impl Default for ShardId {
    /// [`ShardId::ONE`].
    fn default() -> Self {
        Self::ONE
    }
}

impl fmt::Debug for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShardId[{}, {}]", self.id, self.total)
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.id, self.total)
    }
}

impl From<ShardId> for [u32; 2] {
    fn from(shard: ShardId) -> Self {
        [shard.id, shard.total]
    }
}

impl TryFrom<[u32; 2]> for ShardId {
    type Error = InvalidShard;

    fn try_from([id, total]: [u32; 2]) -> Result<Self, InvalidShard> {
        Self::new(id, total).ok_or(InvalidShard { id, total })
    }
}

/// A `[id, total]` pair with `id >= total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard [{id}, {total}]: the id must be below the total")]
pub struct InvalidShard {
    /// The shard id given.
    pub id: u32,
    /// The shard count given.
    pub total: u32,
}

/// The shard that receives a guild's events: `(guild_id >> 22) % shards`.
///
/// Guild ids arrive as decimal strings; parse them as `u64` first. With `shards == 0`
/// the answer is `0`. Group and C2C events carry openids, not guild ids, and QQ does not
/// document how it spreads them over shards.
///
/// # Examples
///
/// ```
/// use qqgw_proto::shard_for_guild;
///
/// let guild: u64 = "5233096270906057162".parse().unwrap();
/// assert_eq!(shard_for_guild(guild, 4), ((guild >> 22) % 4) as u32);
/// assert_eq!(shard_for_guild(guild, 1), 0);
/// ```
#[must_use]
pub const fn shard_for_guild(guild_id: u64, shards: u32) -> u32 {
    if shards == 0 {
        return 0;
    }
    // The remainder is below `shards`, so it fits in u32.
    ((guild_id >> 22) % shards as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_round_trip_and_rejects_bad_pairs() {
        let shard: ShardId = serde_json::from_str("[1,3]").unwrap_or_default();
        assert_eq!((shard.id(), shard.total()), (1, 3));
        assert!(serde_json::from_str::<ShardId>("[3,3]").is_err());
        assert!(serde_json::from_str::<ShardId>("[0,0]").is_err());
    }

    #[test]
    fn guild_rule() {
        assert_eq!(shard_for_guild(5 << 22, 3), 2);
        assert_eq!(shard_for_guild(u64::MAX, 0), 0);
        assert!(ShardId::new(2, 3).is_some_and(|s| s.has_guild(5 << 22)));
    }
}

//! READY and RESUMED.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::User;
use super::de;

/// The data of READY.
///
/// The gateway machine reads `session_id` itself; this model is for handlers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Ready {
    /// The protocol version (1).
    #[serde(deserialize_with = "de::num")]
    pub version: Option<i64>,
    /// The session id, for RESUME.
    #[serde(deserialize_with = "de::text")]
    pub session_id: Option<String>,
    /// The bot itself.
    pub user: Option<User>,
    /// The shard as QQ echoes it. QQ's own example shows `[0, 0]` for shard 0 of 4: do not
    /// trust it; the shard that was configured is [`Dispatch::shard`](crate::Dispatch::shard).
    pub shard: Option<[u64; 2]>,
}

/// The data of RESUMED: nothing. QQ sends `""`; any value is accepted and discarded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Resumed;

impl<'de> Deserialize<'de> for Resumed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::ignore(deserializer).map(|()| Self)
    }
}

/// Serialized as QQ sends it: `""`.
impl Serialize for Resumed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("")
    }
}

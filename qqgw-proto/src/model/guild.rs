//! Guilds (频道), channels (子频道), members and users.

use serde::{Deserialize, Serialize};

use super::Timestamp;
use super::de;

/// A guild-side user: a message author, a mention, a member's user, the bot itself in
/// READY.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct User {
    /// The user id (may exceed `i64`).
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The display name.
    #[serde(deserialize_with = "de::text")]
    pub username: Option<String>,
    /// The avatar URL.
    #[serde(deserialize_with = "de::text")]
    pub avatar: Option<String>,
    /// Whether the user is a bot.
    #[serde(deserialize_with = "de::flag")]
    pub bot: Option<bool>,
    /// The user's openid across the developer's QQ applications, when bound.
    #[serde(deserialize_with = "de::text")]
    pub union_openid: Option<String>,
    /// The account bound through `union_openid`, when any.
    #[serde(deserialize_with = "de::text")]
    pub union_user_account: Option<String>,
}

/// A guild member: `member` inside a guild message (joined_at, nick, roles), and the
/// data of GUILD_MEMBER_ADD / GUILD_MEMBER_UPDATE / GUILD_MEMBER_REMOVE (which add
/// `guild_id`, `user` and `op_user_id`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Member {
    /// The guild, in member events.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The user, in member events (a message carries it as `author` instead).
    pub user: Option<User>,
    /// The nickname in this guild (often `""`).
    #[serde(deserialize_with = "de::text")]
    pub nick: Option<String>,
    /// Role ids (`"1"` everyone, `"2"` admin, `"4"` owner, `"5"` channel admin, or custom).
    #[serde(deserialize_with = "de::text_list")]
    pub roles: Vec<String>,
    /// When the user joined the guild. The docs warn it is not normalized.
    pub joined_at: Option<Timestamp>,
    /// Who made the change, in member events.
    #[serde(deserialize_with = "de::text")]
    pub op_user_id: Option<String>,
}

/// A guild: the data of GUILD_CREATE / GUILD_UPDATE / GUILD_DELETE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Guild {
    /// The guild id.
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The guild name.
    #[serde(deserialize_with = "de::text")]
    pub name: Option<String>,
    /// The icon URL (not normalized, per the docs).
    #[serde(deserialize_with = "de::text")]
    pub icon: Option<String>,
    /// The owner's user id.
    #[serde(deserialize_with = "de::text")]
    pub owner_id: Option<String>,
    /// Whether the bot is the owner.
    #[serde(deserialize_with = "de::flag")]
    pub owner: Option<bool>,
    /// The number of members.
    #[serde(deserialize_with = "de::num")]
    pub member_count: Option<u64>,
    /// The member limit.
    #[serde(deserialize_with = "de::num")]
    pub max_members: Option<u64>,
    /// The description.
    #[serde(deserialize_with = "de::text")]
    pub description: Option<String>,
    /// When the bot joined the guild.
    pub joined_at: Option<Timestamp>,
    /// Who made the change.
    #[serde(deserialize_with = "de::text")]
    pub op_user_id: Option<String>,
}

/// A channel (子频道): the data of CHANNEL_CREATE / CHANNEL_UPDATE / CHANNEL_DELETE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Channel {
    /// The channel id.
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The guild it belongs to.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The name.
    #[serde(deserialize_with = "de::text")]
    pub name: Option<String>,
    /// The channel type (0 text, 2 voice, 4 group, 10005 live, 10006 application, 10007
    /// forum, …).
    #[serde(rename = "type", deserialize_with = "de::num")]
    pub kind: Option<i64>,
    /// The sub-type of a text channel (0 chat, 1 announcement, 2 guide, 3 team up).
    #[serde(deserialize_with = "de::num")]
    pub sub_type: Option<i64>,
    /// Sort position.
    #[serde(deserialize_with = "de::num")]
    pub position: Option<i64>,
    /// The parent category id.
    #[serde(deserialize_with = "de::text")]
    pub parent_id: Option<String>,
    /// The creator's user id.
    #[serde(deserialize_with = "de::text")]
    pub owner_id: Option<String>,
    /// Visibility (0 public, 1 admins only, 2 admins and chosen members).
    #[serde(deserialize_with = "de::num")]
    pub private_type: Option<i64>,
    /// Who may speak (1 everyone, 2 admins and chosen members).
    #[serde(deserialize_with = "de::num")]
    pub speak_permission: Option<i64>,
    /// The application id of an application channel.
    #[serde(deserialize_with = "de::text")]
    pub application_id: Option<String>,
    /// The bot's permissions in the channel (a decimal bit set as a string).
    #[serde(deserialize_with = "de::text")]
    pub permissions: Option<String>,
    /// Who made the change.
    #[serde(deserialize_with = "de::text")]
    pub op_user_id: Option<String>,
}

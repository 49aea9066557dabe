//! Group (群) and C2C (single chat) events, addressed by openid.

use serde::{Deserialize, Serialize};

use super::de;
use super::{Attachment, MessageReference, Timestamp};

/// A C2C (single chat) message: the data of C2C_MESSAGE_CREATE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct C2cMessage {
    /// The message id (`ROBOT1.0_…`). The same message may be pushed twice: dedupe on it.
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The text.
    #[serde(deserialize_with = "de::text")]
    pub content: Option<String>,
    /// When it was sent.
    pub timestamp: Option<Timestamp>,
    /// The sender.
    pub author: Option<C2cAuthor>,
    /// Attached files.
    #[serde(deserialize_with = "de::list")]
    pub attachments: Vec<Attachment>,
    /// Where the message came from.
    pub message_scene: Option<MessageScene>,
    /// The message type (0 text, …).
    #[serde(deserialize_with = "de::num")]
    pub message_type: Option<i64>,
    /// Rich elements of the message, kept as raw JSON (their shape is undocumented).
    #[serde(deserialize_with = "de::list")]
    pub msg_elements: Vec<serde_json::Value>,
    /// The message this one quotes.
    pub message_reference: Option<MessageReference>,
}

/// The sender of a C2C message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct C2cAuthor {
    /// The user's id as QQ gives it (equal to `user_openid` in practice).
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The user's openid for this bot: where replies go.
    #[serde(deserialize_with = "de::text")]
    pub user_openid: Option<String>,
    /// The user's openid across the developer's applications.
    #[serde(deserialize_with = "de::text")]
    pub union_openid: Option<String>,
}

/// A group message: the data of GROUP_AT_MESSAGE_CREATE and GROUP_MESSAGE_CREATE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GroupMessage {
    /// The message id (`ROBOT1.0_…`). The same message may be pushed twice: dedupe on it.
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The text; where the bot was @-mentioned it starts with a space.
    #[serde(deserialize_with = "de::text")]
    pub content: Option<String>,
    /// When it was sent.
    pub timestamp: Option<Timestamp>,
    /// The group (same value as `group_openid`).
    #[serde(deserialize_with = "de::text")]
    pub group_id: Option<String>,
    /// The group's openid for this bot: where replies go.
    #[serde(deserialize_with = "de::text")]
    pub group_openid: Option<String>,
    /// The sender.
    pub author: Option<GroupAuthor>,
    /// The members mentioned.
    #[serde(deserialize_with = "de::list")]
    pub mentions: Vec<GroupMention>,
    /// Attached files.
    #[serde(deserialize_with = "de::list")]
    pub attachments: Vec<Attachment>,
    /// Where the message came from.
    pub message_scene: Option<MessageScene>,
    /// The message type (0 text, …).
    #[serde(deserialize_with = "de::num")]
    pub message_type: Option<i64>,
    /// Rich elements of the message, kept as raw JSON (their shape is undocumented).
    #[serde(deserialize_with = "de::list")]
    pub msg_elements: Vec<serde_json::Value>,
    /// The message this one quotes.
    pub message_reference: Option<MessageReference>,
}

/// The sender of a group message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GroupAuthor {
    /// The member's id as QQ gives it (equal to `member_openid` in practice).
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The member's openid in this group for this bot.
    #[serde(deserialize_with = "de::text")]
    pub member_openid: Option<String>,
    /// The member's openid across the developer's applications.
    #[serde(deserialize_with = "de::text")]
    pub union_openid: Option<String>,
    /// Whether the sender is a bot (2026 frames).
    #[serde(deserialize_with = "de::flag")]
    pub bot: Option<bool>,
    /// `member`, `admin` or `owner` (2026 frames).
    #[serde(deserialize_with = "de::text")]
    pub member_role: Option<String>,
}

/// A mention inside a group message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GroupMention {
    /// `single` for one member, `all` for everyone.
    #[serde(deserialize_with = "de::text")]
    pub scope: Option<String>,
    /// The member's id.
    #[serde(deserialize_with = "de::text")]
    pub id: Option<String>,
    /// The member's openid.
    #[serde(deserialize_with = "de::text")]
    pub member_openid: Option<String>,
    /// The display name.
    #[serde(deserialize_with = "de::text")]
    pub username: Option<String>,
    /// Whether the member is a bot.
    #[serde(deserialize_with = "de::flag")]
    pub bot: Option<bool>,
    /// Whether the mention is of this bot.
    #[serde(deserialize_with = "de::flag")]
    pub is_you: Option<bool>,
}

/// Where a group or C2C message came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MessageScene {
    /// The source, e.g. `default`.
    #[serde(deserialize_with = "de::text")]
    pub source: Option<String>,
    /// Extra `key=value` strings.
    #[serde(deserialize_with = "de::text_list")]
    pub ext: Vec<String>,
}

/// The data of GROUP_ADD_ROBOT, GROUP_DEL_ROBOT, GROUP_MSG_REJECT and GROUP_MSG_RECEIVE:
/// the bot joined or left a group, or a group turned its proactive messages off or on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GroupRobotEvent {
    /// The group.
    #[serde(deserialize_with = "de::text")]
    pub group_openid: Option<String>,
    /// The member who did it.
    #[serde(deserialize_with = "de::text")]
    pub op_member_openid: Option<String>,
    /// When (integer Unix seconds in practice).
    pub timestamp: Option<Timestamp>,
}

/// The data of GROUP_MEMBER_ADD / GROUP_MEMBER_REMOVE (undocumented by QQ; seen in
/// NoneBot, 2026).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct GroupMemberEvent {
    /// The group.
    #[serde(deserialize_with = "de::text")]
    pub group_openid: Option<String>,
    /// The member who joined or left.
    #[serde(deserialize_with = "de::text")]
    pub member_openid: Option<String>,
    /// When (integer Unix seconds in practice).
    pub timestamp: Option<Timestamp>,
}

/// The data of FRIEND_ADD, FRIEND_DEL, C2C_MSG_REJECT and C2C_MSG_RECEIVE: a user added
/// or removed the bot, or turned its proactive messages off or on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct FriendEvent {
    /// The user's openid.
    #[serde(deserialize_with = "de::text")]
    pub openid: Option<String>,
    /// When (integer Unix seconds in practice).
    pub timestamp: Option<Timestamp>,
    /// The user's nickname, when sent (SDK-seen, undocumented).
    #[serde(deserialize_with = "de::text")]
    pub nick: Option<String>,
    /// The user's avatar URL, when sent (SDK-seen, undocumented).
    #[serde(deserialize_with = "de::text")]
    pub avatar: Option<String>,
}

/// The data of SUBSCRIBE_MESSAGE_STATUS: a user or group changed its consent to a
/// subscription-message template. Shape from the botgo SDK; QQ's docs are silent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SubscribeMessageStatus {
    /// The group, for a group subscription.
    #[serde(deserialize_with = "de::text")]
    pub group_openid: Option<String>,
    /// The user, for a personal subscription.
    #[serde(deserialize_with = "de::text")]
    pub openid: Option<String>,
    /// One entry per template whose consent changed.
    #[serde(deserialize_with = "de::list")]
    pub result: Vec<SubscribeTemplateResult>,
}

/// One template's consent in [`SubscribeMessageStatus`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SubscribeTemplateResult {
    /// The template id (a number in botgo; kept as text).
    #[serde(deserialize_with = "de::text")]
    pub template_id: Option<String>,
    /// The developer's own template id.
    #[serde(deserialize_with = "de::text")]
    pub custom_template_id: Option<String>,
    /// 1 allowed, 2 refused.
    #[serde(deserialize_with = "de::num")]
    pub op: Option<i64>,
    /// The subscription id.
    #[serde(deserialize_with = "de::text")]
    pub subscribe_id: Option<String>,
    /// When the subscription was made.
    pub subscribe_ts: Option<Timestamp>,
    /// When it last changed.
    pub update_ts: Option<Timestamp>,
}

/// The data of ENTER_AIO: a user opened the bot's chat window. Undocumented by QQ; the
/// shape is a guess from third-party SDKs (`user_openid`, `from_source`), plus a
/// `timestamp` like the other lifecycle events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EnterAio {
    /// The user's openid.
    #[serde(deserialize_with = "de::text")]
    pub user_openid: Option<String>,
    /// Where the user came from.
    #[serde(deserialize_with = "de::text")]
    pub from_source: Option<String>,
    /// When.
    pub timestamp: Option<Timestamp>,
}

//! Guild and direct messages, their deletion, reactions and audits.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::de as tolerant;
use super::{Member, Timestamp, User};

/// A guild-side message: the data of AT_MESSAGE_CREATE, MESSAGE_CREATE and
/// DIRECT_MESSAGE_CREATE, and the partial `message` of the delete events.
///
/// Mentions appear in `content` as `<@!user_id>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Message {
    /// The message id (hex, starting `08…`).
    #[serde(deserialize_with = "tolerant::text")]
    pub id: Option<String>,
    /// The channel it was sent in.
    #[serde(deserialize_with = "tolerant::text")]
    pub channel_id: Option<String>,
    /// The guild; for a direct message, the DM's own guild id.
    #[serde(deserialize_with = "tolerant::text")]
    pub guild_id: Option<String>,
    /// The text.
    #[serde(deserialize_with = "tolerant::text")]
    pub content: Option<String>,
    /// When it was sent.
    pub timestamp: Option<Timestamp>,
    /// When it was last edited.
    pub edited_timestamp: Option<Timestamp>,
    /// Whether it mentions everyone.
    #[serde(deserialize_with = "tolerant::flag")]
    pub mention_everyone: Option<bool>,
    /// The sender.
    pub author: Option<User>,
    /// The sender's membership (joined_at, nick, roles).
    pub member: Option<Member>,
    /// The users it mentions.
    #[serde(deserialize_with = "tolerant::list")]
    pub mentions: Vec<User>,
    /// Attached files.
    #[serde(deserialize_with = "tolerant::list")]
    pub attachments: Vec<Attachment>,
    /// Embeds.
    #[serde(deserialize_with = "tolerant::list")]
    pub embeds: Vec<Embed>,
    /// An ark (template) message.
    pub ark: Option<Ark>,
    /// Sequence in the channel (deprecated by QQ in favour of `seq_in_channel`).
    #[serde(deserialize_with = "tolerant::num")]
    pub seq: Option<u64>,
    /// Sequence in the channel, as a string.
    #[serde(deserialize_with = "tolerant::text")]
    pub seq_in_channel: Option<String>,
    /// The message this one quotes.
    pub message_reference: Option<MessageReference>,
    /// `true` on direct messages.
    #[serde(deserialize_with = "tolerant::flag")]
    pub direct_message: Option<bool>,
    /// On a direct message, the guild the conversation was started from.
    #[serde(deserialize_with = "tolerant::text")]
    pub src_guild_id: Option<String>,
}

/// A file attached to a message (guild, group or C2C).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Attachment {
    /// The attachment id.
    #[serde(deserialize_with = "tolerant::text")]
    pub id: Option<String>,
    /// Where to download it (guild attachments sometimes lack the scheme).
    #[serde(deserialize_with = "tolerant::text")]
    pub url: Option<String>,
    /// The MIME type, e.g. `image/png`.
    #[serde(deserialize_with = "tolerant::text")]
    pub content_type: Option<String>,
    /// The file name.
    #[serde(deserialize_with = "tolerant::text")]
    pub filename: Option<String>,
    /// The size in bytes.
    #[serde(deserialize_with = "tolerant::num")]
    pub size: Option<u64>,
    /// Image width in pixels.
    #[serde(deserialize_with = "tolerant::num")]
    pub width: Option<u64>,
    /// Image height in pixels.
    #[serde(deserialize_with = "tolerant::num")]
    pub height: Option<u64>,
    /// For voice messages in groups/C2C: a WAV rendition.
    #[serde(deserialize_with = "tolerant::text")]
    pub voice_wav_url: Option<String>,
    /// For voice messages in groups/C2C: QQ's speech-to-text.
    #[serde(deserialize_with = "tolerant::text")]
    pub asr_refer_text: Option<String>,
}

/// An embed in a guild message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Embed {
    /// The title.
    #[serde(deserialize_with = "tolerant::text")]
    pub title: Option<String>,
    /// The description.
    #[serde(deserialize_with = "tolerant::text")]
    pub description: Option<String>,
    /// The notification text shown in the message list.
    #[serde(deserialize_with = "tolerant::text")]
    pub prompt: Option<String>,
    /// The thumbnail.
    pub thumbnail: Option<EmbedThumbnail>,
    /// The fields.
    #[serde(deserialize_with = "tolerant::list")]
    pub fields: Vec<EmbedField>,
}

/// An embed's thumbnail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EmbedThumbnail {
    /// The image URL.
    #[serde(deserialize_with = "tolerant::text")]
    pub url: Option<String>,
}

/// One field of an embed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EmbedField {
    /// The field's text.
    #[serde(deserialize_with = "tolerant::text")]
    pub name: Option<String>,
}

/// An ark (template) message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Ark {
    /// The template id.
    #[serde(deserialize_with = "tolerant::num")]
    pub template_id: Option<i64>,
    /// The template's key/values.
    #[serde(deserialize_with = "tolerant::list")]
    pub kv: Vec<ArkKv>,
}

/// One key/value of an ark.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ArkKv {
    /// The key.
    #[serde(deserialize_with = "tolerant::text")]
    pub key: Option<String>,
    /// The value.
    #[serde(deserialize_with = "tolerant::text")]
    pub value: Option<String>,
    /// Nested objects (lists in list templates).
    #[serde(deserialize_with = "tolerant::list")]
    pub obj: Vec<ArkObj>,
}

/// A nested ark object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ArkObj {
    /// Its key/values.
    #[serde(deserialize_with = "tolerant::list")]
    pub obj_kv: Vec<ArkObjKv>,
}

/// A key/value of a nested ark object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ArkObjKv {
    /// The key.
    #[serde(deserialize_with = "tolerant::text")]
    pub key: Option<String>,
    /// The value.
    #[serde(deserialize_with = "tolerant::text")]
    pub value: Option<String>,
}

/// The message a message quotes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MessageReference {
    /// The quoted message's id.
    #[serde(deserialize_with = "tolerant::text")]
    pub message_id: Option<String>,
    /// Whether sending should go on if the quoted message cannot be fetched.
    #[serde(deserialize_with = "tolerant::flag")]
    pub ignore_get_message_error: Option<bool>,
}

/// The data of MESSAGE_DELETE, PUBLIC_MESSAGE_DELETE and DIRECT_MESSAGE_DELETE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MessageDelete {
    /// The deleted message (partial: usually ids, author and timestamp).
    pub message: Option<Message>,
    /// Who deleted it (usually only `id`).
    pub op_user: Option<User>,
}

/// The data of MESSAGE_REACTION_ADD / MESSAGE_REACTION_REMOVE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Reaction {
    /// Who reacted.
    #[serde(deserialize_with = "tolerant::text")]
    pub user_id: Option<String>,
    /// The guild.
    #[serde(deserialize_with = "tolerant::text")]
    pub guild_id: Option<String>,
    /// The channel.
    #[serde(deserialize_with = "tolerant::text")]
    pub channel_id: Option<String>,
    /// What was reacted to.
    pub target: Option<ReactionTarget>,
    /// The emoji.
    pub emoji: Option<Emoji>,
}

/// The object a reaction is on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ReactionTarget {
    /// The target's id.
    #[serde(deserialize_with = "tolerant::text")]
    pub id: Option<String>,
    /// What kind of object it is.
    #[serde(rename = "type")]
    pub kind: Option<ReactionTargetType>,
}

/// The kind of object a reaction is on.
///
/// The docs say an integer (0 message, 1 post, 2 comment, 3 reply); captured frames use
/// the strings `ReactionTargetType_MSG`, `_FEED`, `_COMMNENT` (sic) and `_REPLY`. Both are
/// read; anything else is [`Other`](Self::Other), holding the value's text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReactionTargetType {
    /// A message (`0`, `ReactionTargetType_MSG`).
    Message,
    /// A forum post (`1`, `ReactionTargetType_FEED`).
    Post,
    /// A comment (`2`, `ReactionTargetType_COMMNENT`, also the corrected spelling).
    Comment,
    /// A reply (`3`, `ReactionTargetType_REPLY`).
    Reply,
    /// A value qqgw does not know, as its text.
    Other(String),
}

impl ReactionTargetType {
    /// The documented integer code, for the known kinds.
    #[must_use]
    pub fn code(&self) -> Option<u8> {
        match self {
            Self::Message => Some(0),
            Self::Post => Some(1),
            Self::Comment => Some(2),
            Self::Reply => Some(3),
            Self::Other(_) => None,
        }
    }

    fn from_code(code: i64) -> Self {
        match code {
            0 => Self::Message,
            1 => Self::Post,
            2 => Self::Comment,
            3 => Self::Reply,
            other => Self::Other(other.to_string()),
        }
    }

    fn from_text(text: &str) -> Self {
        match text {
            "ReactionTargetType_MSG" => Self::Message,
            "ReactionTargetType_FEED" => Self::Post,
            "ReactionTargetType_COMMNENT" | "ReactionTargetType_COMMENT" => Self::Comment,
            "ReactionTargetType_REPLY" => Self::Reply,
            other => match other.trim().parse::<i64>() {
                Ok(code) => Self::from_code(code),
                Err(_) => Self::Other(other.to_owned()),
            },
        }
    }
}

/// Known kinds are serialized as the documented integer, [`Other`](Self::Other) as its text.
impl Serialize for ReactionTargetType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Other(text) => serializer.serialize_str(text),
            known => serializer.serialize_u8(known.code().unwrap_or_default()),
        }
    }
}

impl<'de> Deserialize<'de> for ReactionTargetType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TargetTypeVisitor)
    }
}

struct TargetTypeVisitor;

impl Visitor<'_> for TargetTypeVisitor {
    type Value = ReactionTargetType;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a reaction target type (integer or ReactionTargetType_* string)")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(ReactionTargetType::from_code(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v)
            .map_or_else(|_| ReactionTargetType::Other(v.to_string()), ReactionTargetType::from_code))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(ReactionTargetType::Other(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(ReactionTargetType::from_text(v))
    }
}

/// An emoji of a reaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Emoji {
    /// The emoji id (a string, e.g. `"89"`).
    #[serde(deserialize_with = "tolerant::text")]
    pub id: Option<String>,
    /// 1 system emoji, 2 Unicode emoji.
    #[serde(rename = "type", deserialize_with = "tolerant::num")]
    pub kind: Option<i64>,
}

/// The data of MESSAGE_AUDIT_PASS / MESSAGE_AUDIT_REJECT: the outcome of QQ's review of a
/// message the bot sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MessageAudit {
    /// The audit id returned when the message was sent.
    #[serde(deserialize_with = "tolerant::text")]
    pub audit_id: Option<String>,
    /// The message id, once it passed.
    #[serde(deserialize_with = "tolerant::text")]
    pub message_id: Option<String>,
    /// The guild.
    #[serde(deserialize_with = "tolerant::text")]
    pub guild_id: Option<String>,
    /// The channel.
    #[serde(deserialize_with = "tolerant::text")]
    pub channel_id: Option<String>,
    /// When the audit finished.
    pub audit_time: Option<Timestamp>,
    /// When the message was created.
    pub create_time: Option<Timestamp>,
    /// The message's sequence in the channel, once it passed.
    #[serde(deserialize_with = "tolerant::text")]
    pub seq_in_channel: Option<String>,
}

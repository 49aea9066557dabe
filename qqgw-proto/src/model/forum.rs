//! Forum events: the private-domain family (FORUM_*) and the public one (OPEN_FORUM_*).
//!
//! QQ's event pages only name these events; the shapes follow the official SDKs (botgo
//! `dto/forum.go`, botpy `types/forum.py`) and QQ's audit-result example, which sends
//! `author_id` as a number, so every id here also accepts numbers.

use serde::{Deserialize, Serialize};

use super::Timestamp;
use super::de;

/// The data of FORUM_THREAD_CREATE / FORUM_THREAD_UPDATE / FORUM_THREAD_DELETE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Thread {
    /// The guild.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The forum channel.
    #[serde(deserialize_with = "de::text")]
    pub channel_id: Option<String>,
    /// The author's user id.
    #[serde(deserialize_with = "de::text")]
    pub author_id: Option<String>,
    /// The thread itself.
    pub thread_info: Option<ThreadInfo>,
}

/// A forum thread (主题).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// The thread id.
    #[serde(deserialize_with = "de::text")]
    pub thread_id: Option<String>,
    /// The title: rich-text JSON, kept as text (an embedded object becomes its JSON text).
    #[serde(deserialize_with = "de::text_or_json")]
    pub title: Option<String>,
    /// The body: rich-text JSON, kept as text (an embedded object becomes its JSON text).
    #[serde(deserialize_with = "de::text_or_json")]
    pub content: Option<String>,
    /// When it was published.
    pub date_time: Option<Timestamp>,
}

/// The data of FORUM_POST_CREATE / FORUM_POST_DELETE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Post {
    /// The guild.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The forum channel.
    #[serde(deserialize_with = "de::text")]
    pub channel_id: Option<String>,
    /// The author's user id.
    #[serde(deserialize_with = "de::text")]
    pub author_id: Option<String>,
    /// The post itself.
    pub post_info: Option<PostInfo>,
}

/// A post (帖子, a comment on a thread).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PostInfo {
    /// The thread it belongs to.
    #[serde(deserialize_with = "de::text")]
    pub thread_id: Option<String>,
    /// The post id.
    #[serde(deserialize_with = "de::text")]
    pub post_id: Option<String>,
    /// The body: rich-text JSON, kept as text.
    #[serde(deserialize_with = "de::text_or_json")]
    pub content: Option<String>,
    /// When it was published.
    pub date_time: Option<Timestamp>,
}

/// The data of FORUM_REPLY_CREATE / FORUM_REPLY_DELETE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Reply {
    /// The guild.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The forum channel.
    #[serde(deserialize_with = "de::text")]
    pub channel_id: Option<String>,
    /// The author's user id.
    #[serde(deserialize_with = "de::text")]
    pub author_id: Option<String>,
    /// The reply itself.
    pub reply_info: Option<ReplyInfo>,
}

/// A reply (回复, an answer to a post).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ReplyInfo {
    /// The thread it belongs to.
    #[serde(deserialize_with = "de::text")]
    pub thread_id: Option<String>,
    /// The post it answers.
    #[serde(deserialize_with = "de::text")]
    pub post_id: Option<String>,
    /// The reply id.
    #[serde(deserialize_with = "de::text")]
    pub reply_id: Option<String>,
    /// The body: rich-text JSON, kept as text.
    #[serde(deserialize_with = "de::text_or_json")]
    pub content: Option<String>,
    /// When it was published.
    pub date_time: Option<Timestamp>,
}

/// The data of FORUM_PUBLISH_AUDIT_RESULT: the review outcome of something the bot
/// published in a forum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ForumAuditResult {
    /// The publishing task id.
    #[serde(deserialize_with = "de::text")]
    pub task_id: Option<String>,
    /// The guild.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The forum channel.
    #[serde(deserialize_with = "de::text")]
    pub channel_id: Option<String>,
    /// The author's user id (a number in QQ's own example).
    #[serde(deserialize_with = "de::text")]
    pub author_id: Option<String>,
    /// The thread, when a thread was published.
    #[serde(deserialize_with = "de::text")]
    pub thread_id: Option<String>,
    /// The post, when a post was published.
    #[serde(deserialize_with = "de::text")]
    pub post_id: Option<String>,
    /// The reply, when a reply was published.
    #[serde(deserialize_with = "de::text")]
    pub reply_id: Option<String>,
    /// What was published: 1 thread, 2 post, 3 reply.
    #[serde(rename = "type", deserialize_with = "de::num")]
    pub kind: Option<i64>,
    /// 0 passed; anything else failed.
    #[serde(deserialize_with = "de::num")]
    pub result: Option<i64>,
    /// Why it failed.
    #[serde(deserialize_with = "de::text")]
    pub err_msg: Option<String>,
    /// When.
    pub date_time: Option<Timestamp>,
}

/// The data of the public-domain forum events (OPEN_FORUM_THREAD_*, OPEN_FORUM_POST_*,
/// OPEN_FORUM_REPLY_*): only who did something where, never the content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OpenForumEvent {
    /// The guild.
    #[serde(deserialize_with = "de::text")]
    pub guild_id: Option<String>,
    /// The forum channel.
    #[serde(deserialize_with = "de::text")]
    pub channel_id: Option<String>,
    /// The author's user id.
    #[serde(deserialize_with = "de::text")]
    pub author_id: Option<String>,
}

//! Typed models of the gateway's events.
//!
//! Every event name QQ documents has an [`EventKind`] and a model; a [`Dispatch`] becomes
//! a [`TypedEvent`] in one call, [`TypedEvent::from_dispatch`]. The facts tying a name to
//! its kind, its intent and its model live in one table in this module, so the name
//! list, the intent check and the parser cannot drift apart.
//!
//! The models are tolerant of what QQ really sends: every scalar field is an `Option`
//! (QQ promises almost nothing), lists default to empty, unknown fields are ignored, ids
//! are `String` (some exceed `i64`; numbers are accepted and kept as their digits),
//! counts may arrive as numeric strings, timestamps are RFC 3339 text or Unix seconds
//! ([`Timestamp`]), and a reaction's target type is an integer or a string
//! ([`ReactionTargetType`]).
//!
//! A model that still fails to parse loses nothing: [`TypedEvent::from_dispatch`] only
//! borrows the [`Dispatch`], so the raw event stays available next to the
//! [`ModelError`], which names the event and carries serde's message. Names qqgw does
//! not know become [`TypedEvent::Unknown`], their data likewise left in the dispatch.
//!
//! # Examples
//!
//! ```
//! use qqgw_proto::model::{EventKind, TypedEvent};
//! use qqgw_proto::{Dispatch, Intents, ShardId};
//!
//! let frame = r#"{"op":0,"s":46,"t":"GROUP_AT_MESSAGE_CREATE","id":"GROUP_AT_MESSAGE_CREATE:qbk6",
//!     "d":{"id":"ROBOT1.0_pM4x","content":" /签到","group_openid":"CFFD",
//!          "author":{"member_openid":"E76A"},"timestamp":"2025-09-08T23:13:34+08:00"}}"#;
//! let dispatch = Dispatch::from_frame(frame, ShardId::ONE)?;
//!
//! match TypedEvent::from_dispatch(&dispatch) {
//!     Ok(TypedEvent::GroupAtMessageCreate(msg)) => {
//!         assert_eq!(msg.content.as_deref(), Some(" /签到"));
//!         assert_eq!(msg.group_openid.as_deref(), Some("CFFD"));
//!         let sent = msg.timestamp.as_ref().and_then(|t| t.unix_seconds());
//!         assert_eq!(sent, Some(1_757_344_414));
//!     }
//!     Ok(TypedEvent::Unknown(name)) => println!("new event {name}: {}", dispatch.data()),
//!     Ok(other) => println!("unhandled {}", other.name()),
//!     // The raw event is still here, next to the error.
//!     Err(error) => eprintln!("{error}; raw data: {}", dispatch.data()),
//! }
//!
//! // Which intent does a handler need, and are the handled events covered?
//! let handled = [EventKind::GroupAtMessageCreate, EventKind::AtMessageCreate, EventKind::Ready];
//! assert_eq!(EventKind::from_name("AT_MESSAGE_CREATE"), EventKind::AtMessageCreate);
//! assert_eq!(Intents::for_event(&handled[0]), Some(Intents::GROUP_AND_C2C_EVENT));
//! assert_eq!(
//!     Intents::non_privileged().uncovered(&handled),
//!     vec![EventKind::GroupAtMessageCreate]
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::{Dispatch, Intents};

mod audio;
pub(crate) mod de;
mod forum;
mod group;
mod guild;
mod interaction;
mod message;
mod session;
mod timestamp;

pub use audio::{AudioAction, AudioLiveMember};
pub use forum::{ForumAuditResult, OpenForumEvent, Post, PostInfo, Reply, ReplyInfo, Thread, ThreadInfo};
pub use group::{
    C2cAuthor, C2cMessage, EnterAio, FriendEvent, GroupAuthor, GroupMemberEvent, GroupMention, GroupMessage,
    GroupRobotEvent, MessageScene, SubscribeMessageStatus, SubscribeTemplateResult,
};
pub use guild::{Channel, Guild, Member, User};
pub use interaction::{Interaction, InteractionData, InteractionResolved};
pub use message::{
    Ark, ArkKv, ArkObj, ArkObjKv, Attachment, Embed, EmbedField, EmbedThumbnail, Emoji, Message,
    MessageAudit, MessageDelete, MessageReference, Reaction, ReactionTarget, ReactionTargetType,
};
pub use session::{Ready, Resumed};
pub use timestamp::Timestamp;

/// The intent of one table row: `none` or the name of an [`Intents`] constant.
macro_rules! intent_of {
    (none) => {
        None
    };
    ($bit:ident) => {
        Some(Intents::$bit)
    };
}

/// The docs of one table row's intent.
macro_rules! intent_doc {
    (none) => {
        "Always delivered; needs no intent."
    };
    ($bit:ident) => {
        concat!("Needs [`Intents::", stringify!($bit), "`].")
    };
}

/// Builds the event types from the rows of [`event_table!`]:
/// `NAME => Variant(Model) method, INTENT, "what it is";`.
/// It generates [`EventKind`] (with its name and intent mappings) and [`TypedEvent`]
/// (with the parse from a dispatch). Nothing else lists event names.
macro_rules! events {
    ($( $name:ident => $variant:ident($model:ident) $method:ident, $intent:ident, $doc:literal; )*) => {
        /// The kind of a dispatched event: one variant per event name QQ documents, and
        /// [`Unknown`](Self::Unknown) for any other name.
        ///
        /// Each variant's docs give the event name and the intent that delivers it.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum EventKind {
            $(
                #[doc = concat!("`", stringify!($name), "`: ", $doc, "\n\n", intent_doc!($intent))]
                $variant,
            )*
            /// An event name qqgw does not know, as received.
            Unknown(Box<str>),
        }

        impl EventKind {
            /// Every known kind, in the order of QQ's intents table.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];

            /// The event name, as in the frame's `t`.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => stringify!($name),)*
                    Self::Unknown(name) => name,
                }
            }

            /// The kind of an event name; names qqgw does not know (matched exactly,
            /// case included) are [`Unknown`](Self::Unknown).
            #[must_use]
            pub fn from_name(name: &str) -> Self {
                match name {
                    $(stringify!($name) => Self::$variant,)*
                    other => Self::Unknown(other.into()),
                }
            }

            /// The name of a known event as a `&'static str` (so a dispatch need not
            /// allocate it), `None` for names qqgw does not know.
            pub(crate) fn static_name(name: &str) -> Option<&'static str> {
                match name {
                    $(stringify!($name) => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// The intent whose bit delivers this event, or `None` for READY and RESUMED
            /// (always delivered) and for unknown events (not known).
            #[must_use]
            pub fn intent(&self) -> Option<Intents> {
                match self {
                    $(Self::$variant => intent_of!($intent),)*
                    Self::Unknown(_) => None,
                }
            }

            /// The name of the model type its data parses into, e.g. `"Message"`
            /// (`"-"` for unknown events).
            #[must_use]
            pub fn model_name(&self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($model),)*
                    Self::Unknown(_) => "-",
                }
            }
        }

        /// A dispatched event with its data parsed into the event's model.
        ///
        /// Made by [`TypedEvent::from_dispatch`]; the variants mirror [`EventKind`].
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum TypedEvent {
            $(
                #[doc = concat!("`", stringify!($name), "`: ", $doc)]
                $variant($model),
            )*
            /// An event name qqgw does not know. Its data is in the [`Dispatch`].
            Unknown(Box<str>),
        }

        impl TypedEvent {
            /// Parses a dispatch's data into the model of its event.
            ///
            /// The dispatch is only borrowed: whatever the outcome, the raw event stays
            /// with the caller, so a model error never loses the event.
            ///
            /// # Errors
            ///
            /// [`ModelError::Data`] if the data does not fit the event's model (e.g. a
            /// string where an object was expected). Unknown event names are not errors.
            pub fn from_dispatch(dispatch: &Dispatch) -> Result<Self, ModelError> {
                let data = dispatch.data().get();
                match EventKind::from_name(dispatch.name()) {
                    $(EventKind::$variant => parse::<$model>(data, EventKind::$variant).map(Self::$variant),)*
                    EventKind::Unknown(name) => Ok(Self::Unknown(name)),
                }
            }

            /// The kind of this event.
            #[must_use]
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Self::$variant(_) => EventKind::$variant,)*
                    Self::Unknown(name) => EventKind::Unknown(name.clone()),
                }
            }

            /// The event name, as in the frame's `t`.
            #[must_use]
            pub fn name(&self) -> &str {
                match self {
                    $(Self::$variant(_) => stringify!($name),)*
                    Self::Unknown(name) => name,
                }
            }
        }
    };
}

/// The one table of events, handed to a macro of yours.
///
/// `event_table!(my_macro)` expands to `my_macro! { ROWS }`, one row per event name QQ
/// documents:
///
/// ```text
/// NAME => Variant(Model) method, INTENT, "what it is";
/// ```
///
/// where `Model` is a type of [`qqgw_proto::model`](crate::model) (bring them into scope
/// where `my_macro` expands), `method` is the lowercase event name, and `INTENT` is the
/// name of an [`Intents`](crate::Intents) constant or `none`. This crate builds
/// [`EventKind`] and [`TypedEvent`] from it; runtime adapters build their
/// per-event handler callbacks from it, so that no event can be missed.
///
/// # Examples
///
/// ```
/// macro_rules! names {
///     ($( $name:ident => $variant:ident($model:ident) $method:ident, $intent:ident, $doc:literal; )*) => {
///         [$(stringify!($method)),*]
///     };
/// }
/// let methods = qqgw_proto::event_table!(names);
/// assert!(methods.contains(&"group_at_message_create"));
/// assert_eq!(methods.len(), qqgw_proto::model::EventKind::ALL.len());
/// ```
#[macro_export]
macro_rules! event_table {
    ($callback:ident) => {
        $callback! {
            READY => Ready(Ready) ready, none, "the session is established.";
            RESUMED => Resumed(Resumed) resumed, none, "a RESUME succeeded and missed events were replayed.";

            GUILD_CREATE => GuildCreate(Guild) guild_create, GUILDS, "the bot joined a guild.";
            GUILD_UPDATE => GuildUpdate(Guild) guild_update, GUILDS, "a guild changed.";
            GUILD_DELETE => GuildDelete(Guild) guild_delete, GUILDS, "the bot left or was removed from a guild.";
            CHANNEL_CREATE => ChannelCreate(Channel) channel_create, GUILDS, "a channel was created.";
            CHANNEL_UPDATE => ChannelUpdate(Channel) channel_update, GUILDS, "a channel changed.";
            CHANNEL_DELETE => ChannelDelete(Channel) channel_delete, GUILDS, "a channel was deleted.";

            GUILD_MEMBER_ADD => GuildMemberAdd(Member) guild_member_add, GUILD_MEMBERS, "a user joined a guild.";
            GUILD_MEMBER_UPDATE => GuildMemberUpdate(Member) guild_member_update, GUILD_MEMBERS, "a member changed.";
            GUILD_MEMBER_REMOVE => GuildMemberRemove(Member) guild_member_remove, GUILD_MEMBERS, "a member left a guild.";

            MESSAGE_CREATE => MessageCreate(Message) message_create, GUILD_MESSAGES, "any message in a guild channel (private-domain bots).";
            MESSAGE_DELETE => MessageDelete(MessageDelete) message_delete, GUILD_MESSAGES, "a guild message was deleted (private-domain bots).";

            MESSAGE_REACTION_ADD => MessageReactionAdd(Reaction) message_reaction_add, GUILD_MESSAGE_REACTIONS, "a reaction was added.";
            MESSAGE_REACTION_REMOVE => MessageReactionRemove(Reaction) message_reaction_remove, GUILD_MESSAGE_REACTIONS, "a reaction was removed.";

            DIRECT_MESSAGE_CREATE => DirectMessageCreate(Message) direct_message_create, DIRECT_MESSAGE, "a direct message in a guild context.";
            DIRECT_MESSAGE_DELETE => DirectMessageDelete(MessageDelete) direct_message_delete, DIRECT_MESSAGE, "a direct message was deleted.";

            OPEN_FORUM_THREAD_CREATE => OpenForumThreadCreate(OpenForumEvent) open_forum_thread_create, OPEN_FORUMS_EVENT, "a thread was created in a public-domain forum.";
            OPEN_FORUM_THREAD_UPDATE => OpenForumThreadUpdate(OpenForumEvent) open_forum_thread_update, OPEN_FORUMS_EVENT, "a thread was edited in a public-domain forum.";
            OPEN_FORUM_THREAD_DELETE => OpenForumThreadDelete(OpenForumEvent) open_forum_thread_delete, OPEN_FORUMS_EVENT, "a thread was deleted in a public-domain forum.";
            OPEN_FORUM_POST_CREATE => OpenForumPostCreate(OpenForumEvent) open_forum_post_create, OPEN_FORUMS_EVENT, "a post was made in a public-domain forum.";
            OPEN_FORUM_POST_DELETE => OpenForumPostDelete(OpenForumEvent) open_forum_post_delete, OPEN_FORUMS_EVENT, "a post was deleted in a public-domain forum.";
            OPEN_FORUM_REPLY_CREATE => OpenForumReplyCreate(OpenForumEvent) open_forum_reply_create, OPEN_FORUMS_EVENT, "a reply was made in a public-domain forum.";
            OPEN_FORUM_REPLY_DELETE => OpenForumReplyDelete(OpenForumEvent) open_forum_reply_delete, OPEN_FORUMS_EVENT, "a reply was deleted in a public-domain forum.";

            AUDIO_OR_LIVE_CHANNEL_MEMBER_ENTER => AudioOrLiveChannelMemberEnter(AudioLiveMember) audio_or_live_channel_member_enter, AUDIO_OR_LIVE_CHANNEL_MEMBER, "a user entered a voice or live channel.";
            AUDIO_OR_LIVE_CHANNEL_MEMBER_EXIT => AudioOrLiveChannelMemberExit(AudioLiveMember) audio_or_live_channel_member_exit, AUDIO_OR_LIVE_CHANNEL_MEMBER, "a user left a voice or live channel.";

            ENTER_AIO => EnterAio(EnterAio) enter_aio, ENTER_AIO, "a user opened the bot's chat window (undocumented; shape guessed).";

            GROUP_MEMBER_ADD => GroupMemberAdd(GroupMemberEvent) group_member_add, GROUP_MEMBERS, "a member joined a group (undocumented; seen in SDKs).";
            GROUP_MEMBER_REMOVE => GroupMemberRemove(GroupMemberEvent) group_member_remove, GROUP_MEMBERS, "a member left a group (undocumented; seen in SDKs).";

            C2C_MESSAGE_CREATE => C2cMessageCreate(C2cMessage) c2c_message_create, GROUP_AND_C2C_EVENT, "a user sent the bot a single-chat message.";
            FRIEND_ADD => FriendAdd(FriendEvent) friend_add, GROUP_AND_C2C_EVENT, "a user added the bot.";
            FRIEND_DEL => FriendDel(FriendEvent) friend_del, GROUP_AND_C2C_EVENT, "a user removed the bot.";
            C2C_MSG_REJECT => C2cMsgReject(FriendEvent) c2c_msg_reject, GROUP_AND_C2C_EVENT, "a user turned the bot's proactive messages off.";
            C2C_MSG_RECEIVE => C2cMsgReceive(FriendEvent) c2c_msg_receive, GROUP_AND_C2C_EVENT, "a user turned the bot's proactive messages on.";
            GROUP_AT_MESSAGE_CREATE => GroupAtMessageCreate(GroupMessage) group_at_message_create, GROUP_AND_C2C_EVENT, "a group message that @-mentions the bot.";
            GROUP_MESSAGE_CREATE => GroupMessageCreate(GroupMessage) group_message_create, GROUP_AND_C2C_EVENT, "any group message (gray feature; seen in SDKs).";
            GROUP_ADD_ROBOT => GroupAddRobot(GroupRobotEvent) group_add_robot, GROUP_AND_C2C_EVENT, "the bot was added to a group.";
            GROUP_DEL_ROBOT => GroupDelRobot(GroupRobotEvent) group_del_robot, GROUP_AND_C2C_EVENT, "the bot was removed from a group.";
            GROUP_MSG_REJECT => GroupMsgReject(GroupRobotEvent) group_msg_reject, GROUP_AND_C2C_EVENT, "a group turned the bot's proactive messages off.";
            GROUP_MSG_RECEIVE => GroupMsgReceive(GroupRobotEvent) group_msg_receive, GROUP_AND_C2C_EVENT, "a group turned the bot's proactive messages on.";
            SUBSCRIBE_MESSAGE_STATUS => SubscribeMessageStatus(SubscribeMessageStatus) subscribe_message_status, GROUP_AND_C2C_EVENT, "consent to a subscription-message template changed (seen in SDKs).";

            INTERACTION_CREATE => InteractionCreate(Interaction) interaction_create, INTERACTION, "a button or quick menu was clicked.";

            MESSAGE_AUDIT_PASS => MessageAuditPass(MessageAudit) message_audit_pass, MESSAGE_AUDIT, "a message the bot sent passed review.";
            MESSAGE_AUDIT_REJECT => MessageAuditReject(MessageAudit) message_audit_reject, MESSAGE_AUDIT, "a message the bot sent failed review.";

            FORUM_THREAD_CREATE => ForumThreadCreate(Thread) forum_thread_create, FORUMS_EVENT, "a forum thread was created (private-domain bots).";
            FORUM_THREAD_UPDATE => ForumThreadUpdate(Thread) forum_thread_update, FORUMS_EVENT, "a forum thread was edited (private-domain bots).";
            FORUM_THREAD_DELETE => ForumThreadDelete(Thread) forum_thread_delete, FORUMS_EVENT, "a forum thread was deleted (private-domain bots).";
            FORUM_POST_CREATE => ForumPostCreate(Post) forum_post_create, FORUMS_EVENT, "a forum post was made (private-domain bots).";
            FORUM_POST_DELETE => ForumPostDelete(Post) forum_post_delete, FORUMS_EVENT, "a forum post was deleted (private-domain bots).";
            FORUM_REPLY_CREATE => ForumReplyCreate(Reply) forum_reply_create, FORUMS_EVENT, "a forum reply was made (private-domain bots).";
            FORUM_REPLY_DELETE => ForumReplyDelete(Reply) forum_reply_delete, FORUMS_EVENT, "a forum reply was deleted (private-domain bots).";
            FORUM_PUBLISH_AUDIT_RESULT => ForumPublishAuditResult(ForumAuditResult) forum_publish_audit_result, FORUMS_EVENT, "the review of something the bot published in a forum finished.";

            AUDIO_START => AudioStart(AudioAction) audio_start, AUDIO_ACTION, "audio playback started.";
            AUDIO_FINISH => AudioFinish(AudioAction) audio_finish, AUDIO_ACTION, "audio playback finished.";
            AUDIO_ON_MIC => AudioOnMic(AudioAction) audio_on_mic, AUDIO_ACTION, "the bot went on the mic.";
            AUDIO_OFF_MIC => AudioOffMic(AudioAction) audio_off_mic, AUDIO_ACTION, "the bot went off the mic.";

            AT_MESSAGE_CREATE => AtMessageCreate(Message) at_message_create, PUBLIC_GUILD_MESSAGES, "a guild message that @-mentions the bot.";
            PUBLIC_MESSAGE_DELETE => PublicMessageDelete(MessageDelete) public_message_delete, PUBLIC_GUILD_MESSAGES, "a message that @-mentioned the bot was deleted.";

        }
    };
}

crate::event_table!(events);

fn parse<T: serde::de::DeserializeOwned>(data: &str, event: EventKind) -> Result<T, ModelError> {
    serde_json::from_str(data).map_err(|error| ModelError::Data { event, message: error.to_string() })
}

impl EventKind {
    /// Whether `intents` delivers this event: `true` when the event needs no intent
    /// (READY, RESUMED) or its bit is set; `false` for unknown events, whose intent
    /// cannot be known.
    #[must_use]
    pub fn is_covered_by(&self, intents: Intents) -> bool {
        match (self, self.intent()) {
            (Self::Unknown(_), _) => false,
            (_, None) => true,
            (_, Some(needed)) => intents.contains(needed),
        }
    }
}

impl fmt::Display for EventKind {
    /// The event name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = std::convert::Infallible;

    /// [`EventKind::from_name`]; never fails.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_name(name))
    }
}

impl From<&str> for EventKind {
    fn from(name: &str) -> Self {
        Self::from_name(name)
    }
}

/// Serialized as the event name.
impl serde::Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Self::from_name(&name))
    }
}

impl Intents {
    /// The intent that delivers events of `kind`, or `None` if none is needed (READY,
    /// RESUMED) or the event is unknown. Same as [`EventKind::intent`].
    #[must_use]
    pub fn for_event(kind: &EventKind) -> Option<Intents> {
        kind.intent()
    }

    /// The union of the intents the given events need: what to IDENTIFY with to receive
    /// them all.
    #[must_use]
    pub fn for_events<'a>(kinds: impl IntoIterator<Item = &'a EventKind>) -> Intents {
        kinds.into_iter().filter_map(EventKind::intent).fold(Intents::empty(), Intents::union)
    }

    /// The events among `kinds` that these intents do not deliver, in the order given.
    /// Unknown events are listed too, since no intent is known to cover them.
    ///
    /// Adapters can call it with the kinds their user has handlers for, to warn about
    /// handlers that can never fire.
    #[must_use]
    pub fn uncovered<'a>(self, kinds: impl IntoIterator<Item = &'a EventKind>) -> Vec<EventKind> {
        kinds.into_iter().filter(|kind| !kind.is_covered_by(self)).cloned().collect()
    }
}

/// An event's data did not fit its model.
///
/// The [`Dispatch`] it came from is left untouched, so the raw event can be delivered
/// alongside this error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// serde could not read the data as the event's model.
    #[error("{event} data does not fit its model: {message}")]
    Data {
        /// The event.
        event: EventKind,
        /// serde_json's message (with line and column).
        message: String,
    },
}

impl ModelError {
    /// The event whose data failed to parse.
    #[must_use]
    pub fn event(&self) -> &EventKind {
        match self {
            Self::Data { event, .. } => event,
        }
    }
}

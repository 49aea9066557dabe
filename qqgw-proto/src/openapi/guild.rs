//! Guild (频道) administration (QQ-API.md §13): channels, members, roles,
//! permissions, mutes, announcements, pins, schedules, reactions, audio and forums.

use std::borrow::Cow;

use serde::Serialize;

use super::request::{Check, EmptyObject, Parts, RequestError, request};
use super::response::model;
use crate::model::{Member, Thread, Timestamp, User};

/// Declares the three reaction requests, which share the path
/// `/channels/{channel_id}/messages/{message_id}/reactions/{type}/{id}`.
macro_rules! reaction_request {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct $name {
            /// Path parameter `{channel_id}`.
            pub channel_id: String,
            /// Path parameter `{message_id}`.
            pub message_id: String,
            /// Path parameter `{type}`: 1 system emoji, 2 emoji.
            pub emoji_type: u32,
            /// Path parameter `{id}`: the emoji id (for type 2, the emoji itself).
            pub emoji_id: String,
            /// Query `cookie` (listing only): from the previous page.
            pub cookie: Option<String>,
            /// Query `limit` (listing only): default 20, at most 50, first page only.
            pub limit: Option<u32>,
        }

        impl $name {
            #[doc = concat!("A [`", stringify!($name), "`] request.")]
            #[must_use]
            pub fn new(
                channel_id: impl Into<String>,
                message_id: impl Into<String>,
                emoji_type: u32,
                emoji_id: impl Into<String>,
            ) -> Self {
                Self {
                    channel_id: channel_id.into(),
                    message_id: message_id.into(),
                    emoji_type,
                    emoji_id: emoji_id.into(),
                    cookie: None,
                    limit: None,
                }
            }
        }

        impl Parts for $name {
            fn path_params(&self) -> Vec<Cow<'_, str>> {
                vec![
                    Cow::Borrowed(self.channel_id.as_str()),
                    Cow::Borrowed(self.message_id.as_str()),
                    Cow::Owned(self.emoji_type.to_string()),
                    Cow::Borrowed(self.emoji_id.as_str()),
                ]
            }

            fn query(&self) -> Vec<(&'static str, String)> {
                let mut query = Vec::new();
                query.extend(self.cookie.clone().map(|c| ("cookie", c)));
                query.extend(self.limit.map(|l| ("limit", l.to_string())));
                query
            }
        }
    )*};
}

reaction_request! {
    /// `PUT …/reactions/{type}/{id}`: react to a guild message.
    AddReaction;
    /// `DELETE …/reactions/{type}/{id}`: remove the bot's own reaction.
    RemoveReaction;
    /// `GET …/reactions/{type}/{id}`: the users who reacted, a page at a time
    /// (set `cookie` and `limit` directly).
    GetReactionUsers;
}

request! {
    /// `GET /guilds/{guild_id}`.
    GetGuild { guild_id };
}
request! {
    /// `GET /guilds/{guild_id}/channels`.
    ListChannels { guild_id };
}
request! {
    /// `POST /guilds/{guild_id}/channels` (private-domain, guild admin).
    CreateChannel { guild_id } body ChannelSpec;
}
request! {
    /// `GET /channels/{channel_id}`.
    GetChannel { channel_id };
}
request! {
    /// `PATCH /channels/{channel_id}` (private-domain, guild admin).
    UpdateChannel { channel_id } body ChannelSpec;
}
request! {
    /// `DELETE /channels/{channel_id}` (irreversible).
    DeleteChannel { channel_id };
}
request! {
    /// `GET /channels/{channel_id}/online_nums` (voice and live channels).
    GetOnlineNums { channel_id };
}
request! {
    /// `GET /guilds/{guild_id}/members` (private-domain): pages may repeat members;
    /// stop on an empty page.
    ListGuildMembers { guild_id }
    query {
        /// The last `user.id` of the previous page, `0` first.
        after: String,
        /// 1 to 400 (QQ's default 1).
        limit: u32,
    };
}
request! {
    /// `GET /guilds/{guild_id}/roles/{role_id}/members` (private-domain).
    ListRoleMembers { guild_id, role_id }
    query {
        /// `0` first, then `next`.
        start_index: String,
        /// 1 to 400 (QQ's default 1).
        limit: u32,
    };
}
request! {
    /// `GET /guilds/{guild_id}/members/{user_id}`.
    GetGuildMember { guild_id, user_id };
}
request! {
    /// `DELETE /guilds/{guild_id}/members/{user_id}` (private-domain; admins cannot be
    /// removed).
    RemoveGuildMember { guild_id, user_id } body MemberRemovalOptions;
}
request! {
    /// `GET /guilds/{guild_id}/roles`.
    ListRoles { guild_id };
}
request! {
    /// `POST /guilds/{guild_id}/roles` (guild admin).
    CreateRole { guild_id } body RoleSpec;
}
request! {
    /// `PATCH /guilds/{guild_id}/roles/{role_id}` (guild admin): unset fields stay.
    UpdateRole { guild_id, role_id } body RoleSpec;
}
request! {
    /// `DELETE /guilds/{guild_id}/roles/{role_id}` (guild admin).
    DeleteRole { guild_id, role_id };
}
request! {
    /// `PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}` (guild admin); role 5
    /// (channel admin) needs the channel in the body.
    AddMemberRole { guild_id, user_id, role_id } body MemberRoleChannel;
}
request! {
    /// `DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}` (guild admin).
    RemoveMemberRole { guild_id, user_id, role_id } body MemberRoleChannel;
}
request! {
    /// `GET /channels/{channel_id}/members/{user_id}/permissions`.
    GetMemberPermissions { channel_id, user_id };
}
request! {
    /// `PUT /channels/{channel_id}/members/{user_id}/permissions`.
    SetMemberPermissions { channel_id, user_id } body PermissionChange;
}
request! {
    /// `GET /channels/{channel_id}/roles/{role_id}/permissions`.
    GetRolePermissions { channel_id, role_id };
}
request! {
    /// `PUT /channels/{channel_id}/roles/{role_id}/permissions`.
    SetRolePermissions { channel_id, role_id } body PermissionChange;
}
request! {
    /// `GET /guilds/{guild_id}/api_permission`.
    ListApiPermissions { guild_id };
}
request! {
    /// `POST /guilds/{guild_id}/api_permission/demand`: posts an authorisation link
    /// (at most 3 a day per guild).
    DemandApiPermission { guild_id } body PermissionDemand;
}
request! {
    /// `GET /guilds/{guild_id}/message/setting`.
    GetMessageSetting { guild_id };
}
request! {
    /// `PATCH /guilds/{guild_id}/mute`: everyone, or the members of `user_ids`.
    MuteGuild { guild_id } body MuteSpec;
}
request! {
    /// `PATCH /guilds/{guild_id}/members/{user_id}/mute`.
    MuteMember { guild_id, user_id } body MuteSpec;
}
request! {
    /// `POST /guilds/{guild_id}/announces`.
    CreateAnnounce { guild_id } body AnnounceSpec;
}
request! {
    /// `DELETE /guilds/{guild_id}/announces/{message_id}` (`all` skips the id check).
    DeleteAnnounce { guild_id, message_id };
}
request! {
    /// `PUT /channels/{channel_id}/pins/{message_id}` (at most 20 per channel).
    PinMessage { channel_id, message_id };
}
request! {
    /// `DELETE /channels/{channel_id}/pins/{message_id}` (`all` removes every pin).
    UnpinMessage { channel_id, message_id };
}
request! {
    /// `GET /channels/{channel_id}/pins`.
    GetPins { channel_id };
}
request! {
    /// `GET /channels/{channel_id}/schedules`. QQ's example sends `since` as a body of
    /// a GET; qqgw sends it as a query.
    ListSchedules { channel_id }
    query {
        /// Unix milliseconds: schedules ending after it (QQ's default: today's).
        since: u64,
    };
}
request! {
    /// `GET /channels/{channel_id}/schedules/{schedule_id}`.
    GetSchedule { channel_id, schedule_id };
}
request! {
    /// `POST /channels/{channel_id}/schedules` (guild admin; 10 a day per admin, 100 per
    /// guild).
    CreateSchedule { channel_id } body ScheduleBody;
}
request! {
    /// `PATCH /channels/{channel_id}/schedules/{schedule_id}` (guild admin).
    UpdateSchedule { channel_id, schedule_id } body ScheduleBody;
}
request! {
    /// `DELETE /channels/{channel_id}/schedules/{schedule_id}` (guild admin).
    DeleteSchedule { channel_id, schedule_id };
}
request! {
    /// `POST /channels/{channel_id}/audio` (audio bots).
    ControlAudio { channel_id } body AudioControl;
}
request! {
    /// `PUT /channels/{channel_id}/mic` (body `{}`).
    JoinMic { channel_id } body EmptyObject;
}
request! {
    /// `DELETE /channels/{channel_id}/mic` (body `{}`).
    LeaveMic { channel_id } body EmptyObject;
}
request! {
    /// `GET /channels/{channel_id}/threads` (private-domain).
    ListThreads { channel_id };
}
request! {
    /// `GET /channels/{channel_id}/threads/{thread_id}` (private-domain).
    GetThread { channel_id, thread_id };
}
request! {
    /// `PUT /channels/{channel_id}/threads` (private-domain).
    CreateThread { channel_id } body NewThread;
}
request! {
    /// `DELETE /channels/{channel_id}/threads/{thread_id}` (private-domain).
    DeleteThread { channel_id, thread_id };
}

impl JoinMic {
    /// Takes the microphone in `channel_id`.
    #[must_use]
    pub fn of(channel_id: impl Into<String>) -> Self {
        Self::new(channel_id, EmptyObject {})
    }
}

impl LeaveMic {
    /// Leaves the microphone in `channel_id`.
    #[must_use]
    pub fn of(channel_id: impl Into<String>) -> Self {
        Self::new(channel_id, EmptyObject {})
    }
}

/// The body of [`CreateChannel`] and [`UpdateChannel`]: only the fields set are sent
/// (a PATCH takes `name`, `position`, `parent_id`, `private_type`, `speak_permission`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChannelSpec {
    /// The name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 0 text, 2 voice, 4 group, 10005 live, 10006 application, 10007 forum.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<u32>,
    /// Text channels: 0 chat, 1 announcement, 2 guide, 3 gaming.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<u32>,
    /// Sort position (at least 2 for groups of type 4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// The parent group's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// 0 public, 1 owner and admins, 2 owner, admins and listed members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_type: Option<u32>,
    /// The listed members of `private_type` 2.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub private_user_ids: Vec<String>,
    /// 1 everyone, 2 owner, admins and listed members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speak_permission: Option<u32>,
    /// An application channel's application id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
}

impl ChannelSpec {
    /// A channel named `name` of type `kind`.
    #[must_use]
    pub fn new(name: impl Into<String>, kind: u32) -> Self {
        Self { name: Some(name.into()), kind: Some(kind), ..Self::default() }
    }
}

impl Check for ChannelSpec {}

/// The body of [`RemoveGuildMember`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemberRemovalOptions {
    /// Also blacklist the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_blacklist: Option<bool>,
    /// Delete the user's messages of the last 3, 7, 15 or 30 days, or -1 for all
    /// (QQ's default 0: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_history_msg_days: Option<i32>,
}

impl MemberRemovalOptions {
    /// Remove, keep the messages, do not blacklist.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl Check for MemberRemovalOptions {
    fn check(&self) -> Result<(), RequestError> {
        match self.delete_history_msg_days {
            None | Some(-1 | 0 | 3 | 7 | 15 | 30) => Ok(()),
            Some(other) => Err(RequestError::invalid(
                "delete_history_msg_days",
                format_args!("{other}: one of 3, 7, 15, 30, -1 or 0"),
            )),
        }
    }
}

/// The body of [`CreateRole`] and [`UpdateRole`]: at least one field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RoleSpec {
    /// The name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ARGB as a decimal number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<u32>,
    /// 1 lists the role's members separately (sent as an integer, as the field table
    /// says, not as the string of QQ's example).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hoist: Option<u8>,
}

impl RoleSpec {
    /// A role named `name`.
    #[must_use]
    pub fn named(name: impl Into<String>) -> Self {
        Self { name: Some(name.into()), ..Self::default() }
    }
}

impl Check for RoleSpec {
    fn check(&self) -> Result<(), RequestError> {
        if self.name.is_none() && self.color.is_none() && self.hoist.is_none() {
            return Err(RequestError::invalid("name", "at least one of name, color, hoist"));
        }
        Ok(())
    }
}

/// The body of [`AddMemberRole`] and [`RemoveMemberRole`]: `{"channel": {"id": …}}`
/// for role 5 (channel admin), else `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemberRoleChannel {
    /// The channel a channel-admin role applies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelRef>,
}

impl MemberRoleChannel {
    /// No channel (`{}`): any role but 5.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// The channel of a channel-admin role (5).
    #[must_use]
    pub fn channel(id: impl Into<String>) -> Self {
        Self { channel: Some(ChannelRef { id: id.into() }) }
    }
}

impl Check for MemberRoleChannel {}

/// `{"id": …}` of a channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ChannelRef {
    /// The channel id.
    pub id: String,
}

/// The body of the permission-setting routes: bit sets as decimal strings (1 view, 2
/// manage, 4 speak; a bit in both is removed; "manage" cannot be changed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PermissionChange {
    /// Bits to grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add: Option<String>,
    /// Bits to take away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove: Option<String>,
}

impl PermissionChange {
    /// Grants `add` and takes `remove` (bit sets).
    #[must_use]
    pub fn new(add: u64, remove: u64) -> Self {
        Self { add: Some(add.to_string()), remove: Some(remove.to_string()) }
    }
}

impl Check for PermissionChange {}

/// The body of [`DemandApiPermission`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PermissionDemand {
    /// The channel the link is posted in.
    pub channel_id: String,
    /// The API asked for.
    pub api_identify: ApiIdentify,
    /// Why.
    pub desc: String,
}

impl PermissionDemand {
    /// Ask in `channel_id` for `method path`, explained by `desc`.
    #[must_use]
    pub fn new(
        channel_id: impl Into<String>,
        method: impl Into<String>,
        path: impl Into<String>,
        desc: impl Into<String>,
    ) -> Self {
        Self {
            channel_id: channel_id.into(),
            api_identify: ApiIdentify {
                path: Some(path.into()),
                method: Some(method.into()),
                ..ApiIdentify::default()
            },
            desc: desc.into(),
        }
    }
}

impl Check for PermissionDemand {}

/// The body of the mute routes: an absolute end or a duration, `"0"` lifts the mute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MuteSpec {
    /// End of the mute, Unix seconds as a string (wins over `mute_seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mute_end_timestamp: Option<String>,
    /// Duration in seconds, as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mute_seconds: Option<String>,
    /// [`MuteGuild`] only: mute these members instead of everyone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<String>,
}

impl MuteSpec {
    /// Mute for `seconds` (0 lifts the mute).
    #[must_use]
    pub fn seconds(seconds: u64) -> Self {
        Self { mute_seconds: Some(seconds.to_string()), ..Self::default() }
    }

    /// Mute until `unix_seconds`.
    #[must_use]
    pub fn until(unix_seconds: u64) -> Self {
        Self { mute_end_timestamp: Some(unix_seconds.to_string()), ..Self::default() }
    }

    /// Lift the mute.
    #[must_use]
    pub fn lift() -> Self {
        Self::seconds(0)
    }

    /// Only these members ([`MuteGuild`]).
    #[must_use]
    pub fn users(mut self, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.user_ids = ids.into_iter().map(Into::into).collect();
        self
    }
}

impl Check for MuteSpec {
    fn check(&self) -> Result<(), RequestError> {
        if self.mute_end_timestamp.is_none() && self.mute_seconds.is_none() {
            return Err(RequestError::invalid("mute_seconds", "mute_end_timestamp or mute_seconds"));
        }
        Ok(())
    }
}

/// The body of [`CreateAnnounce`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AnnounceSpec {
    /// A message to announce (with `channel_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The message's channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// 0 member announcement, 1 welcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announces_type: Option<u8>,
    /// Recommended channels (replaces the list; at most 3).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recommend_channels: Vec<RecommendChannel>,
}

impl AnnounceSpec {
    /// Announce the message `message_id` of `channel_id`.
    #[must_use]
    pub fn message(channel_id: impl Into<String>, message_id: impl Into<String>) -> Self {
        Self { message_id: Some(message_id.into()), channel_id: Some(channel_id.into()), ..Self::default() }
    }
}

impl Check for AnnounceSpec {
    fn check(&self) -> Result<(), RequestError> {
        if self.message_id.is_some() && self.channel_id.is_none() {
            return Err(RequestError::invalid("channel_id", "required with message_id"));
        }
        if self.recommend_channels.len() > 3 {
            return Err(RequestError::invalid("recommend_channels", "at most 3 (501016)"));
        }
        Ok(())
    }
}

/// The body of [`CreateSchedule`] and [`UpdateSchedule`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ScheduleBody {
    /// The schedule (without `id` when creating).
    pub schedule: Schedule,
}

impl ScheduleBody {
    /// Wraps a schedule.
    #[must_use]
    pub fn new(schedule: Schedule) -> Self {
        Self { schedule }
    }
}

impl Check for ScheduleBody {}

/// The body of [`ControlAudio`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AudioControl {
    /// The audio URL (status 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_url: Option<String>,
    /// The status text (status 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// 0 start, 1 pause, 2 resume, 3 stop.
    pub status: u8,
}

impl AudioControl {
    /// Start playing `audio_url`.
    #[must_use]
    pub fn play(audio_url: impl Into<String>, text: impl Into<String>) -> Self {
        Self { audio_url: Some(audio_url.into()), text: Some(text.into()), status: 0 }
    }

    /// Pause (1), resume (2) or stop (3).
    #[must_use]
    pub fn status(status: u8) -> Self {
        Self { audio_url: None, text: None, status }
    }
}

impl Check for AudioControl {}

/// The body of [`CreateThread`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NewThread {
    /// The title.
    pub title: String,
    /// The content, in `format`.
    pub content: String,
    /// 1 text, 2 HTML, 3 markdown, 4 JSON rich text.
    pub format: u8,
}

impl NewThread {
    /// A thread of `content` in `format`.
    #[must_use]
    pub fn new(title: impl Into<String>, content: impl Into<String>, format: u8) -> Self {
        Self { title: title.into(), content: content.into(), format }
    }
}

impl Check for NewThread {}

model! {
    /// The users who reacted, a page.
    ReactionUsers {
        /// The users (`id`, `username`, `avatar`).
        users: Vec<User> => "crate::model::de::list",
        /// The next page's cookie.
        cookie: Option<String> => "crate::model::de::text",
        /// Whether this is the last page.
        is_end: Option<bool> => "crate::model::de::flag",
    }

    /// How many users are in a voice or live channel.
    OnlineNums {
        /// The count.
        online_nums: Option<u64> => "crate::model::de::num",
    }

    /// A page of a role's members.
    RoleMemberPage {
        /// The members.
        data: Vec<Member> => "crate::model::de::list",
        /// The next page's `start_index`.
        next: Option<String> => "crate::model::de::text",
    }

    /// A guild's roles.
    GuildRoles {
        /// The guild.
        guild_id: Option<String> => "crate::model::de::text",
        /// The roles.
        roles: Vec<Role> => "crate::model::de::list",
        /// How many roles the guild may have.
        role_num_limit: Option<u64> => "crate::model::de::num",
    }

    /// A guild role (身份组). Default ids: 1 everyone, 2 admin, 4 owner, 5 channel admin.
    Role {
        /// The id.
        id: Option<String> => "crate::model::de::text",
        /// The name.
        name: Option<String> => "crate::model::de::text",
        /// ARGB as a decimal number.
        color: Option<u64> => "crate::model::de::num",
        /// 1: members listed separately.
        hoist: Option<i64> => "crate::model::de::num",
        /// How many members have it.
        number: Option<u64> => "crate::model::de::num",
        /// How many members may have it.
        member_limit: Option<u64> => "crate::model::de::num",
    }

    /// What creating or changing a role answers.
    RoleAnswer {
        /// The guild (changes only).
        guild_id: Option<String> => "crate::model::de::text",
        /// The role's id.
        role_id: Option<String> => "crate::model::de::text",
        /// The role.
        role: Option<Role>,
    }

    /// A member's or role's permissions in a channel.
    ChannelPermissions {
        /// The channel.
        channel_id: Option<String> => "crate::model::de::text",
        /// The member (member permissions).
        user_id: Option<String> => "crate::model::de::text",
        /// The role (role permissions).
        role_id: Option<String> => "crate::model::de::text",
        /// The bit set as a decimal string (1 view, 2 manage, 4 speak).
        permissions: Option<String> => "crate::model::de::text",
    }

    /// The APIs the bot may call in a guild.
    ApiPermissions {
        /// One per API.
        apis: Vec<ApiPermission> => "crate::model::de::list",
    }

    /// An API and whether the bot may call it.
    ApiPermission {
        /// The path.
        path: Option<String> => "crate::model::de::text",
        /// The method.
        method: Option<String> => "crate::model::de::text",
        /// What it does.
        desc: Option<String> => "crate::model::de::text",
        /// 1 = authorised.
        auth_status: Option<i64> => "crate::model::de::num",
    }

    /// An API, by path and method.
    ApiIdentify {
        /// The path.
        path: Option<String> => "crate::model::de::text",
        /// The method.
        method: Option<String> => "crate::model::de::text",
    }

    /// What asking for an API permission answers.
    ApiPermissionDemand {
        /// The guild.
        guild_id: Option<String> => "crate::model::de::text",
        /// The channel the link was posted in.
        channel_id: Option<String> => "crate::model::de::text",
        /// The API.
        api_identify: Option<ApiIdentify>,
        /// The link's title.
        title: Option<String> => "crate::model::de::text",
        /// The link's text.
        desc: Option<String> => "crate::model::de::text",
    }

    /// A guild's speech settings.
    MessageSetting {
        /// Whether DMs to members are disabled (a boolean, or a string in the 2024 model).
        disable_create_dm: Option<bool> => "crate::model::de::flag",
        /// Whether active pushes are disabled.
        disable_push_msg: Option<bool> => "crate::model::de::flag",
        /// The channels active pushes may go to.
        channel_ids: Vec<String> => "crate::model::de::text_list",
        /// How many channels may receive pushes.
        channel_push_max_num: Option<u64> => "crate::model::de::num",
    }

    /// What a mute answers: the members muted (batch), or nothing (HTTP 204).
    MutedUsers {
        /// The members muted.
        user_ids: Vec<String> => "crate::model::de::text_list",
    }

    /// A guild announcement.
    Announce {
        /// The guild.
        guild_id: Option<String> => "crate::model::de::text",
        /// The message's channel.
        channel_id: Option<String> => "crate::model::de::text",
        /// The message.
        message_id: Option<String> => "crate::model::de::text",
        /// 0 member announcement, 1 welcome.
        announces_type: Option<i64> => "crate::model::de::num",
        /// The recommended channels.
        recommend_channels: Vec<RecommendChannel> => "crate::model::de::list",
    }

    /// A recommended channel of an announcement.
    RecommendChannel {
        /// The channel.
        channel_id: Option<String> => "crate::model::de::text",
        /// Why it is recommended.
        introduce: Option<String> => "crate::model::de::text",
    }

    /// A channel's pinned messages.
    PinsMessage {
        /// The guild.
        guild_id: Option<String> => "crate::model::de::text",
        /// The channel.
        channel_id: Option<String> => "crate::model::de::text",
        /// Every pinned message, after the call.
        message_ids: Vec<String> => "crate::model::de::text_list",
    }

    /// A schedule (日程).
    Schedule {
        /// The id.
        id: Option<String> => "crate::model::de::text",
        /// The name.
        name: Option<String> => "crate::model::de::text",
        /// The description.
        description: Option<String> => "crate::model::de::text",
        /// Start, Unix milliseconds as a string.
        start_timestamp: Option<String> => "crate::model::de::text",
        /// End, Unix milliseconds as a string.
        end_timestamp: Option<String> => "crate::model::de::text",
        /// Who created it.
        creator: Option<Member>,
        /// The channel to jump to when it starts.
        jump_channel_id: Option<String> => "crate::model::de::text",
        /// 0 none, 1 at start, 2/3/4/5 = 5/15/30/60 minutes before (a string).
        remind_type: Option<String> => "crate::model::de::text",
    }

    /// A forum channel's threads.
    ThreadPage {
        /// The threads.
        threads: Vec<Thread> => "crate::model::de::list",
        /// 1 (or true) on the last page.
        is_finish: Option<bool> => "crate::model::de::flag",
    }

    /// One forum thread.
    ThreadAnswer {
        /// The thread.
        thread: Option<Thread>,
    }

    /// What posting a thread answers.
    ThreadCreated {
        /// The posting task's id.
        task_id: Option<String> => "crate::model::de::text",
        /// When (Unix seconds as a string).
        create_time: Option<Timestamp>,
    }
}

impl Schedule {
    /// A schedule named `name` from `start_ms` to `end_ms` (Unix milliseconds).
    #[must_use]
    pub fn new(name: impl Into<String>, start_ms: u64, end_ms: u64) -> Self {
        Self {
            name: Some(name.into()),
            start_timestamp: Some(start_ms.to_string()),
            end_timestamp: Some(end_ms.to_string()),
            ..Self::default()
        }
    }
}

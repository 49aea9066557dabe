//! The one route table: every route of QQ's 2026 OpenAPI, with its method, path
//! template, typed request and response, and where QQ-API.md documents it.

use std::fmt;

use super::bot::*;
use super::group::*;
use super::guild::*;
use super::message::*;
use super::request::{Endpoint, HttpRequest, RequestError, build};
use super::response::{Empty, List, WithExtra};
use super::stream::*;
use super::upload::*;
use crate::GatewayInfo;
use crate::model::{Channel, Guild, Member, Message, User};

/// An HTTP method QQ's API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// The method's name as sent on the wire, e.g. `"GET"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// The method of a name, matched exactly (`"GET"`, not `"get"`).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds [`Route`] and the [`Endpoint`] impls from the rows of the table below:
/// `Name = METHOD "template" => Response, "§", "rate", "needs", "what it does";`.
/// The request type of a row is the type of the same name.
macro_rules! routes {
    ($( $name:ident = $method:ident $path:literal => $resp:ty, $sec:literal, $rate:literal, $needs:literal, $doc:literal; )*) => {
        /// A route of QQ's OpenAPI: one variant per method and path of the 2026
        /// documentation (QQ-API.md §3), each named like its request type.
        ///
        /// Generated, with [`ALL`](Self::ALL), [`method`](Self::method),
        /// [`template`](Self::template), [`doc`](Self::doc) and the [`Endpoint`] impl of
        /// every request type, from one table in `openapi/route.rs`. Paths are relative to
        /// the API base ([`API_BASE`](crate::API_BASE)). "Rate" is the figure of QQ's page
        /// ("—" none stated); "Needs" names a permission class of QQ-API.md §2.4.
        ///
        /// | route | method | path | what it does | rate | needs | QQ-API.md |
        /// |---|---|---|---|---|---|---|
        $(
            #[doc = concat!("| [`", stringify!($name), "`](Route::", stringify!($name), ") | ", stringify!($method), " | `", $path, "` | ", $doc, " | ", $rate, " | ", $needs, " | §", $sec, " |")]
        )*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Route {
            $(
                #[doc = concat!("`", stringify!($method), " ", $path, "`: ", $doc, " (QQ-API.md §", $sec, "). Request: [`", stringify!($name), "`].")]
                $name,
            )*
        }

        impl Route {
            /// Every route, in the order of QQ-API.md §3.
            pub const ALL: &'static [Route] = &[$(Route::$name),*];

            /// The HTTP method.
            #[must_use]
            pub const fn method(self) -> Method {
                match self {
                    $(Self::$name => method!($method),)*
                }
            }

            /// The path template with the docs' own parameter names, e.g.
            /// `/v2/users/{user_openid}/messages`.
            #[must_use]
            pub const fn template(self) -> &'static str {
                match self {
                    $(Self::$name => $path,)*
                }
            }

            /// One line on what the route does.
            #[must_use]
            pub const fn doc(self) -> &'static str {
                match self {
                    $(Self::$name => $doc,)*
                }
            }

            /// The route's name, also the name of its request type, e.g. `"GetGuild"`.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$name => stringify!($name),)*
                }
            }

            /// The section of QQ-API.md that documents it, e.g. `"5.1"`.
            #[must_use]
            pub const fn section(self) -> &'static str {
                match self {
                    $(Self::$name => $sec,)*
                }
            }

            /// The rate limit QQ's page states, e.g. `"100 QPS"`; `"—"` when none is stated.
            #[must_use]
            pub const fn rate(self) -> &'static str {
                match self {
                    $(Self::$name => $rate,)*
                }
            }

            /// The permission class or precondition (QQ-API.md §2.4); `"—"` for none.
            #[must_use]
            pub const fn needs(self) -> &'static str {
                match self {
                    $(Self::$name => $needs,)*
                }
            }
        }

        $(
            impl Endpoint for $name {
                const ROUTE: Route = Route::$name;
                type Response = $resp;

                fn request(&self) -> Result<HttpRequest, RequestError> {
                    build(Route::$name, self)
                }
            }
        )*
    };
}

macro_rules! method {
    (GET) => {
        Method::Get
    };
    (POST) => {
        Method::Post
    };
    (PUT) => {
        Method::Put
    };
    (PATCH) => {
        Method::Patch
    };
    (DELETE) => {
        Method::Delete
    };
}

routes! {
    // §5, §6, §8: messages.
    SendC2cMessage = POST "/v2/users/{user_openid}/messages" => MessageSent, "5.1", "100 QPS", "—", "send a message to a user (C2C)";
    SendC2cStream = POST "/v2/users/{user_openid}/stream_messages" => MessageSent, "6", "50 QPS", "passive anchor or `is_wakeup`", "send one chunk of a streamed C2C message";
    RecallC2cMessage = DELETE "/v2/users/{user_openid}/messages/{message_id}" => Empty, "8", "10 QPS", "own message, ≤ 2 min", "recall a message sent to a user";
    SendGroupMessage = POST "/v2/groups/{group_openid}/messages" => MessageSent, "5.2", "100 QPS", "—", "send a message to a QQ group";
    RecallGroupMessage = DELETE "/v2/groups/{group_openid}/messages/{message_id}" => Empty, "8", "10 QPS", "own message, or group admin", "recall a message in a QQ group";
    // §7: rich media.
    UploadC2cFile = POST "/v2/users/{user_openid}/files" => FileUploaded, "7.2", "50 QPS", "—", "upload media for a user by URL, or merge a chunked upload";
    PrepareC2cUpload = POST "/v2/users/{user_id}/upload_prepare" => UploadPrepared, "7.3", "10 QPS", "—", "start a chunked upload for a user";
    FinishC2cUploadPart = POST "/v2/users/{user_id}/upload_part_finish" => Empty, "7.4", "10 QPS", "—", "report one uploaded part of a user's chunked upload";
    UploadGroupFile = POST "/v2/groups/{group_openid}/files" => FileUploaded, "7.2", "50 QPS", "—", "upload media for a group by URL, or merge a chunked upload";
    PrepareGroupUpload = POST "/v2/groups/{group_id}/upload_prepare" => UploadPrepared, "7.3", "10 QPS", "—", "start a chunked upload for a group";
    FinishGroupUploadPart = POST "/v2/groups/{group_id}/upload_part_finish" => Empty, "7.4", "10 QPS", "—", "report one uploaded part of a group's chunked upload";
    // §5.3, §5.4, §8: guild channels and DMs.
    SendChannelMessage = POST "/channels/{channel_id}/messages" => WithExtra<Message>, "5.3", "5 msg/s per channel", "send permission; bot online on gateway", "send a message to a guild channel";
    RecallChannelMessage = DELETE "/channels/{channel_id}/messages/{message_id}" => Empty, "8", "—", "private-domain", "recall a message in a guild channel";
    CreateDmSession = POST "/users/@me/dms" => DmSession, "5.4", "—", "shared guild", "open a guild direct-message session";
    SendDmMessage = POST "/dms/{guild_id}/messages" => WithExtra<Message>, "5.4", "—", "DM session", "send a guild direct message";
    RecallDmMessage = DELETE "/dms/{guild_id}/messages/{message_id}" => Empty, "8", "—", "private-domain, own DM", "recall a guild direct message";
    // §13.9: reactions.
    AddReaction = PUT "/channels/{channel_id}/messages/{message_id}/reactions/{type}/{id}" => Empty, "13.9", "—", "—", "react to a guild message";
    RemoveReaction = DELETE "/channels/{channel_id}/messages/{message_id}/reactions/{type}/{id}" => Empty, "13.9", "—", "—", "remove the bot's reaction";
    GetReactionUsers = GET "/channels/{channel_id}/messages/{message_id}/reactions/{type}/{id}" => ReactionUsers, "13.9", "—", "—", "list the users who reacted";
    // §9, §10, §11.
    AckInteraction = PUT "/interactions/{interaction_id}" => Empty, "9", "50 QPS", "—", "answer a button or menu interaction";
    GetMe = GET "/users/@me" => WithExtra<User>, "10.1", "50 QPS", "—", "the bot's own profile";
    GetMyGuilds = GET "/users/@me/guilds" => List<WithExtra<Guild>>, "10.2", "50 QPS", "—", "the guilds the bot is in";
    GenerateUrlLink = POST "/v2/generate_url_link" => UrlLink, "10.3", "50 QPS", "—", "a share link for adding the bot as a friend";
    GetMenu = GET "/v2/menu" => MenuAnswer, "11.1", "30 QPM", "—", "the global C2C custom menu";
    SetMenu = PUT "/v2/menu" => Version, "11.1", "5 QPM", "—", "replace the global C2C custom menu";
    ListPanels = GET "/v2/panels" => PanelPage, "11.2", "30 QPM", "—", "list command panels";
    CreatePanel = POST "/v2/panels" => PanelCreated, "11.2", "10 QPM", "≤ 20 panels per bot", "create a command panel";
    GetPanel = GET "/v2/panels/{panel_id}" => PanelRecord, "11.2", "30 QPM", "—", "one command panel";
    UpdatePanel = PUT "/v2/panels/{panel_id}" => Version, "11.2", "10 QPM", "—", "replace a command panel's items";
    DeletePanel = DELETE "/v2/panels/{panel_id}" => Empty, "11.2", "10 QPM", "—", "delete a command panel";
    SetPanelTargets = PUT "/v2/panels/{panel_id}/target" => Empty, "11.2", "60 QPM", "—", "add or remove a panel's users or groups";
    // §12: QQ groups.
    GetGroupInfo = GET "/v2/groups/{group_openid}/info" => GroupInfo, "12.1", "30 QPM", "whitelist (11253)", "a group's name, description and size";
    GetGroupBotState = GET "/v2/groups/{group_openid}/bot_state" => GroupBotState, "12.1", "30 QPM", "whitelist (11253)", "the bot's role and settings in a group";
    ListJoinRequests = GET "/v2/groups/{group_openid}/join_request_list" => JoinRequestPage, "12.2", "30 QPM", "group admin", "pending requests to join a group";
    ReviewJoinRequest = POST "/v2/groups/{group_openid}/approval_join_request/{member_openid}" => Empty, "12.2", "60 QPM", "group admin", "approve or decline a join request";
    GetGroupMuteSetting = GET "/v2/groups/{group_openid}/restrict_chat_setting" => GroupMuteSetting, "12.4", "30 QPM", "group admin", "a group's mute rules and muted members";
    SetGroupMemberMutes = POST "/v2/groups/{group_openid}/restrict_chat_setting" => Empty, "12.4", "60 QPM", "group admin", "mute, re-time or unmute group members";
    ListJoinStrategies = GET "/v2/groups/join_approval_strategy" => StrategyPage, "12.3", "60 QPM", "—", "the bot's automatic join-approval strategies";
    CreateJoinStrategy = POST "/v2/groups/join_approval_strategy" => StrategyState, "12.3", "60 QPM", "≤ 20 strategies per bot", "create a join-approval strategy";
    UpdateJoinStrategy = PATCH "/v2/groups/join_approval_strategy/{strategy_id}" => StrategyState, "12.3", "60 QPM", "—", "change a join-approval strategy";
    DeleteJoinStrategy = DELETE "/v2/groups/join_approval_strategy/{strategy_id}" => Empty, "12.3", "60 QPM", "—", "delete a join-approval strategy";
    ExecuteJoinStrategy = POST "/v2/groups/join_approval_strategy/{strategy_id}/execute" => Empty, "12.3", "60 QPM", "—", "apply a strategy to the pending requests now";
    EditStrategyWhitelist = POST "/v2/groups/join_approval_strategy/{strategy_id}/whitelist_users" => WhitelistUpdated, "12.3", "60 QPM", "—", "add or remove QQ numbers of a strategy's whitelist";
    ListGroupMembers = GET "/v2/groups/{group_openid}/members" => GroupMemberPage, "12.5", "60 QPM", "invite-only", "a page of a group's members";
    GetGroupMember = GET "/v2/groups/{group_openid}/members/{member_openid}" => GroupMember, "12.5", "30 QPM", "invite-only", "one group member";
    RemoveGroupMembers = POST "/v2/groups/{group_openid}/batch_remove_members" => MembersRemoved, "12.5", "30 QPM", "invite-only", "remove up to 20 members from a group";
    ListGroupBlacklist = GET "/v2/groups/{group_openid}/member_blacklist" => BlacklistPage, "12.6", "30 QPM", "invite-only", "a page of a group's blacklist";
    EditGroupBlacklist = POST "/v2/groups/{group_openid}/member_blacklist" => BlacklistEdited, "12.6", "60 QPM", "invite-only", "add users to or remove them from a group's blacklist";
    // §13: guild administration.
    GetGuild = GET "/guilds/{guild_id}" => WithExtra<Guild>, "13.1", "50 QPS", "—", "one guild";
    ListChannels = GET "/guilds/{guild_id}/channels" => List<WithExtra<Channel>>, "13.2", "50 QPS", "—", "a guild's channels";
    CreateChannel = POST "/guilds/{guild_id}/channels" => WithExtra<Channel>, "13.2", "50 QPS", "private-domain, guild admin", "create a channel";
    GetChannel = GET "/channels/{channel_id}" => WithExtra<Channel>, "13.2", "50 QPS", "—", "one channel";
    UpdateChannel = PATCH "/channels/{channel_id}" => WithExtra<Channel>, "13.2", "50 QPS", "private-domain, guild admin", "change a channel";
    DeleteChannel = DELETE "/channels/{channel_id}" => Empty, "13.2", "50 QPS", "private-domain, guild admin", "delete a channel";
    GetOnlineNums = GET "/channels/{channel_id}/online_nums" => OnlineNums, "13.3", "—", "—", "how many users are in a voice or live channel";
    ListGuildMembers = GET "/guilds/{guild_id}/members" => List<WithExtra<Member>>, "13.3", "—", "private-domain", "a page of a guild's members";
    ListRoleMembers = GET "/guilds/{guild_id}/roles/{role_id}/members" => RoleMemberPage, "13.3", "—", "private-domain", "a page of a role's members";
    GetGuildMember = GET "/guilds/{guild_id}/members/{user_id}" => WithExtra<Member>, "13.3", "—", "—", "one guild member";
    RemoveGuildMember = DELETE "/guilds/{guild_id}/members/{user_id}" => Empty, "13.3", "—", "private-domain, kick permission", "remove a member from a guild";
    ListRoles = GET "/guilds/{guild_id}/roles" => GuildRoles, "13.4", "—", "—", "a guild's roles";
    CreateRole = POST "/guilds/{guild_id}/roles" => RoleAnswer, "13.4", "—", "guild admin", "create a role";
    UpdateRole = PATCH "/guilds/{guild_id}/roles/{role_id}" => RoleAnswer, "13.4", "—", "guild admin", "change a role";
    DeleteRole = DELETE "/guilds/{guild_id}/roles/{role_id}" => Empty, "13.4", "—", "guild admin", "delete a role";
    AddMemberRole = PUT "/guilds/{guild_id}/members/{user_id}/roles/{role_id}" => Empty, "13.4", "—", "guild admin", "give a member a role";
    RemoveMemberRole = DELETE "/guilds/{guild_id}/members/{user_id}/roles/{role_id}" => Empty, "13.4", "—", "guild admin", "take a role from a member";
    GetMemberPermissions = GET "/channels/{channel_id}/members/{user_id}/permissions" => ChannelPermissions, "13.5", "—", "guild admin", "a member's permissions in a channel";
    SetMemberPermissions = PUT "/channels/{channel_id}/members/{user_id}/permissions" => Empty, "13.5", "—", "guild admin", "change a member's permissions in a channel";
    GetRolePermissions = GET "/channels/{channel_id}/roles/{role_id}/permissions" => ChannelPermissions, "13.5", "—", "guild admin", "a role's permissions in a channel";
    SetRolePermissions = PUT "/channels/{channel_id}/roles/{role_id}/permissions" => Empty, "13.5", "—", "guild admin", "change a role's permissions in a channel";
    ListApiPermissions = GET "/guilds/{guild_id}/api_permission" => ApiPermissions, "13.6", "—", "—", "the APIs the bot may call in a guild";
    DemandApiPermission = POST "/guilds/{guild_id}/api_permission/demand" => ApiPermissionDemand, "13.6", "3 links/day per guild", "—", "ask the guild's admins to authorise an API";
    GetMessageSetting = GET "/guilds/{guild_id}/message/setting" => MessageSetting, "13.7", "—", "—", "a guild's speech settings";
    MuteGuild = PATCH "/guilds/{guild_id}/mute" => MutedUsers, "13.7", "—", "guild admin", "mute everyone, or a batch of members, in a guild";
    MuteMember = PATCH "/guilds/{guild_id}/members/{user_id}/mute" => Empty, "13.7", "—", "guild admin", "mute one guild member";
    CreateAnnounce = POST "/guilds/{guild_id}/announces" => Announce, "13.8", "—", "—", "create a guild announcement";
    DeleteAnnounce = DELETE "/guilds/{guild_id}/announces/{message_id}" => Empty, "13.8", "—", "—", "delete a guild announcement";
    PinMessage = PUT "/channels/{channel_id}/pins/{message_id}" => PinsMessage, "13.8", "≤ 20 pins per channel", "—", "pin a message";
    UnpinMessage = DELETE "/channels/{channel_id}/pins/{message_id}" => Empty, "13.8", "—", "—", "unpin a message";
    GetPins = GET "/channels/{channel_id}/pins" => PinsMessage, "13.8", "—", "—", "a channel's pinned messages";
    ListSchedules = GET "/channels/{channel_id}/schedules" => List<Schedule>, "13.8", "—", "—", "a schedule channel's events";
    GetSchedule = GET "/channels/{channel_id}/schedules/{schedule_id}" => Schedule, "13.8", "—", "—", "one schedule";
    CreateSchedule = POST "/channels/{channel_id}/schedules" => Schedule, "13.8", "10/day per admin, 100/day per guild", "guild admin", "create a schedule";
    UpdateSchedule = PATCH "/channels/{channel_id}/schedules/{schedule_id}" => Schedule, "13.8", "—", "guild admin", "change a schedule";
    DeleteSchedule = DELETE "/channels/{channel_id}/schedules/{schedule_id}" => Empty, "13.8", "—", "guild admin", "delete a schedule";
    ControlAudio = POST "/channels/{channel_id}/audio" => Empty, "13.10", "—", "audio bots (apply)", "play, pause, resume or stop audio in a voice channel";
    JoinMic = PUT "/channels/{channel_id}/mic" => Empty, "13.10", "—", "audio bots (apply)", "take the microphone in a voice channel";
    LeaveMic = DELETE "/channels/{channel_id}/mic" => Empty, "13.10", "—", "audio bots (apply)", "leave the microphone in a voice channel";
    ListThreads = GET "/channels/{channel_id}/threads" => ThreadPage, "13.11", "—", "private-domain", "a forum channel's threads";
    GetThread = GET "/channels/{channel_id}/threads/{thread_id}" => ThreadAnswer, "13.11", "—", "private-domain", "one forum thread";
    CreateThread = PUT "/channels/{channel_id}/threads" => ThreadCreated, "13.11", "—", "private-domain", "post a forum thread";
    DeleteThread = DELETE "/channels/{channel_id}/threads/{thread_id}" => Empty, "13.11", "—", "private-domain", "delete a forum thread";
    // §14: gateway discovery.
    GetGateway = GET "/gateway" => GatewayInfo, "14", "2 QPM, 10 QPM burst", "—", "the WebSocket gateway URL";
    GetGatewayBot = GET "/gateway/bot" => GatewayInfo, "14", "—", "—", "the gateway URL, recommended shards and session start limit";
}

impl fmt::Display for Route {
    /// `METHOD template`, e.g. `POST /v2/users/{user_openid}/messages`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method(), self.template())
    }
}

impl Route {
    /// Whether sending the same request twice does no more than sending it once: every
    /// `GET`, `PUT`, `PATCH` and `DELETE`, and the `POST`s that set state rather than
    /// create it (reporting an uploaded part, member mutes, list edits, running a
    /// join strategy). A client may repeat such a request after an answer that leaves
    /// open whether QQ acted on it; a send is repeatable only with its `msg_seq`
    /// ([`HttpRequest::repeatable`](super::HttpRequest::repeatable)).
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::openapi::Route;
    ///
    /// assert!(Route::GetGuild.idempotent() && Route::AckInteraction.idempotent());
    /// assert!(Route::FinishGroupUploadPart.idempotent());
    /// assert!(!Route::SendGroupMessage.idempotent() && !Route::CreateChannel.idempotent());
    /// ```
    #[must_use]
    pub const fn idempotent(self) -> bool {
        match self.method() {
            Method::Get | Method::Put | Method::Patch | Method::Delete => true,
            Method::Post => matches!(
                self,
                Self::FinishC2cUploadPart
                    | Self::FinishGroupUploadPart
                    | Self::SetGroupMemberMutes
                    | Self::EditStrategyWhitelist
                    | Self::EditGroupBlacklist
                    | Self::ExecuteJoinStrategy
            ),
        }
    }

    /// The names of the template's parameters, in order, e.g. `["user_openid",
    /// "message_id"]`.
    #[must_use]
    pub fn params(self) -> Vec<&'static str> {
        segments(self.template()).filter_map(param_name).collect()
    }

    /// The path of this route with `params` (in template order) put in, each
    /// percent-encoded so that no value can change the path: only `A-Z a-z 0-9 - _ ~ .`
    /// stay, a value `.` or `..` becomes `%2E` or `%2E%2E`.
    ///
    /// # Errors
    ///
    /// [`RequestError::EmptyParam`] for an empty or missing parameter (it would make
    /// `//`); extra parameters are ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::openapi::Route;
    ///
    /// assert_eq!(Route::GetGuildMember.path(&["1", "a/b"])?, "/guilds/1/members/a%2Fb");
    /// assert_eq!(Route::GetGuild.path(&[".."])?, "/guilds/%2E%2E");
    /// assert!(Route::GetGuild.path(&[""]).is_err());
    /// # Ok::<(), qqgw_proto::openapi::RequestError>(())
    /// ```
    pub fn path(self, params: &[impl AsRef<str>]) -> Result<String, RequestError> {
        let mut values = params.iter();
        let template = self.template();
        let mut path = String::with_capacity(template.len() + 32);
        for segment in template.split('/').skip(1) {
            path.push('/');
            match param_name(segment) {
                Some(name) => match values.next().map(AsRef::as_ref) {
                    Some(value) if !value.is_empty() => encode_segment_into(&mut path, value),
                    _ => return Err(RequestError::EmptyParam { route: self, name }),
                },
                None => path.push_str(segment),
            }
        }
        Ok(path)
    }

    /// The route a request addresses, and its path parameters percent-decoded, in
    /// template order: what a server dispatches on.
    ///
    /// `path` is the request's path without the query (a `?…` suffix is ignored). A
    /// literal segment of a template wins over a parameter, so `/users/@me/guilds` is
    /// never read as a parameter `@me`. A parameter must be non-empty and decode to
    /// UTF-8; a malformed escape (`%G1`, a lone `%`) matches nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::openapi::Route;
    ///
    /// let (route, params) = Route::recognize("DELETE", "/v2/groups/G%2F1/messages/M").unwrap();
    /// assert_eq!(route, Route::RecallGroupMessage);
    /// assert_eq!(params, ["G/1", "M"]);
    /// assert_eq!(Route::recognize("GET", "/v2/groups/join_approval_strategy").unwrap().0,
    ///            Route::ListJoinStrategies);
    /// assert_eq!(Route::recognize("GET", "/nowhere"), None);
    /// ```
    #[must_use]
    pub fn recognize(method: &str, path: &str) -> Option<(Route, Vec<String>)> {
        let method = Method::from_name(method)?;
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let given: Vec<&str> = segments(path).collect();
        let mut best: Option<(u128, Route, Vec<String>)> = None;
        for &route in Self::ALL {
            if route.method() != method {
                continue;
            }
            let Some((shape, params)) = match_template(route.template(), &given) else { continue };
            if best.as_ref().is_none_or(|(best_shape, ..)| shape > *best_shape) {
                best = Some((shape, route, params));
            }
        }
        best.map(|(_, route, params)| (route, params))
    }
}

/// The segments of a path: what lies between its slashes, after the leading one.
fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.strip_prefix('/').unwrap_or(path).split('/')
}

/// `Some("name")` for a `{name}` template segment.
fn param_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

/// Matches path segments against a template: the decoded parameters, and a shape in
/// which every literal segment sets a bit, the first segment the highest, so that the
/// larger shape is the route whose first literal comes earliest.
fn match_template(template: &str, given: &[&str]) -> Option<(u128, Vec<String>)> {
    let parts: Vec<&str> = segments(template).collect();
    if parts.len() != given.len() || parts.len() > 127 {
        return None;
    }
    let mut shape = 0u128;
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(given) {
        shape <<= 1;
        if param_name(part).is_some() {
            if segment.is_empty() {
                return None;
            }
            params.push(percent_decode(segment)?);
        } else if percent_decode(segment)? == *part {
            shape |= 1;
        } else {
            return None;
        }
    }
    Some((shape, params))
}

/// Appends `value` percent-encoded: only `A-Z a-z 0-9 - _ ~ .` stay as they are; every
/// other byte, UTF-8 bytes of non-ASCII text included, becomes `%XX`.
pub(crate) fn percent_encode_into(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~' | b'.') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            for nibble in [byte >> 4, byte & 0xF] {
                out.push(char::from(HEX.get(usize::from(nibble)).copied().unwrap_or(b'0')));
            }
        }
    }
}

/// Appends a path segment: percent-encoded, and `.` and `..` (which a client or server
/// would resolve as dot segments) as `%2E` and `%2E%2E`.
pub(crate) fn encode_segment_into(out: &mut String, value: &str) {
    match value {
        "." => out.push_str("%2E"),
        ".." => out.push_str("%2E%2E"),
        _ => percent_encode_into(out, value),
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let (&hi, tail) = tail.split_first()?;
            let (&lo, tail) = tail.split_first()?;
            let hex = |b: u8| char::from(b).to_digit(16);
            let value = hex(hi)? * 16 + hex(lo)?;
            bytes.push(u8::try_from(value).ok()?);
            rest = tail;
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_bytes() {
        let mut out = String::new();
        percent_encode_into(&mut out, "aZ9-_~. /?#%@:é");
        assert_eq!(out, "aZ9-_~.%20%2F%3F%23%25%40%3A%C3%A9");
        for (value, encoded) in [(".", "%2E"), ("..", "%2E%2E"), ("...", "..."), ("a.b", "a.b")] {
            let mut out = String::new();
            encode_segment_into(&mut out, value);
            assert_eq!(out, encoded);
            assert_eq!(percent_decode(&out).as_deref(), Some(value));
        }
        assert_eq!(percent_decode("%G1"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn literals_win_over_parameters() {
        let (route, params) = Route::recognize("GET", "/users/@me/guilds").unwrap();
        assert_eq!((route, params.len()), (Route::GetMyGuilds, 0));
        let (route, params) =
            Route::recognize("POST", "/v2/groups/join_approval_strategy/S/whitelist_users").unwrap();
        assert_eq!((route, params), (Route::EditStrategyWhitelist, vec!["S".to_owned()]));
        let (route, _) = Route::recognize("POST", "/v2/groups/join_approval_strategy").unwrap();
        assert_eq!(route, Route::CreateJoinStrategy);
        let (route, params) = Route::recognize("POST", "/v2/groups/G/messages?x=1").unwrap();
        assert_eq!((route, params), (Route::SendGroupMessage, vec!["G".to_owned()]));
        assert_eq!(Route::recognize("POST", "/v2/groups//messages"), None);
        assert_eq!(Route::recognize("GET", "/v2/groups/G/messages"), None);
        assert_eq!(Route::recognize("post", "/v2/groups/G/messages"), None);
    }
}

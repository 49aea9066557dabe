//! The typed methods, grouped as QQ's docs group the routes: the bot's own on [`Api`],
//! and one handle per thing a route acts on. Each method is one route of the table in
//! [`openapi::Route`](crate::openapi::Route); its docs name it.

use qqgw_proto::GatewayInfo;
use qqgw_proto::model::{Channel as ChannelModel, Guild as GuildModel, Member, User as UserModel};
use qqgw_proto::openapi::*;

use super::message::{Media, Outgoing, ReplyTo, Sent, Target};
use super::stream::MessageStream;
use super::upload::{Upload, UploadSource};
use super::{Api, CallError};

type Result<T> = core::result::Result<T, CallError>;

impl Api {
    /// `GET /users/@me`: the bot's own profile.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call), for this and every typed method.
    pub async fn me(&self) -> Result<WithExtra<UserModel>> {
        self.call(&GetMe::new()).await
    }

    /// `GET /users/@me/guilds`: the guilds the bot is in, the first 100 (page on with
    /// `call(&GetMyGuilds::new().after(last_id))`).
    pub async fn guilds(&self) -> Result<List<WithExtra<GuildModel>>> {
        self.call(&GetMyGuilds::new()).await
    }

    /// `POST /v2/generate_url_link`: a link for adding the bot as a friend;
    /// `callback_data` (at most 32 characters) comes back on `FRIEND_ADD`.
    pub async fn share_link(&self, callback_data: &str) -> Result<UrlLink> {
        self.call(&GenerateUrlLink::new(UrlLinkRequest::new(callback_data))).await
    }

    /// `GET /v2/menu`: the global C2C custom menu.
    pub async fn menu(&self) -> Result<MenuAnswer> {
        self.call(&GetMenu::new()).await
    }

    /// `PUT /v2/menu`: replaces the global C2C custom menu (at most 10 items).
    pub async fn set_menu(&self, menu: Menu) -> Result<Version> {
        self.call(&SetMenu::new(MenuUpdate::new(menu))).await
    }

    /// `GET /v2/panels?scope=…`: the command panels of `scope` (`c2c`, `group`,
    /// `channel` or `dm`), newest first; `cursor` is the last page's `next_cursor`.
    pub async fn panels(&self, scope: &str, cursor: Option<&str>) -> Result<PanelPage> {
        let mut request = ListPanels::new(scope);
        request.cursor = cursor.map(str::to_owned);
        self.call(&request).await
    }

    /// `POST /v2/panels`: creates a command panel (at most 20 per bot: tag yours in
    /// `remark` and [update](Panel::update) it rather than create one per start).
    pub async fn create_panel(&self, panel: NewPanel) -> Result<PanelCreated> {
        self.call(&CreatePanel::new(panel)).await
    }

    /// The command panel `panel_id`.
    #[must_use]
    pub fn panel(&self, panel_id: impl Into<String>) -> Panel {
        Panel { api: self.clone(), id: panel_id.into() }
    }

    /// `GET /v2/groups/join_approval_strategy`: the bot's join-approval strategies;
    /// `cursor` is the last page's `next_cursor`.
    pub async fn join_strategies(&self, cursor: Option<&str>) -> Result<StrategyPage> {
        let mut request = ListJoinStrategies::new();
        request.cursor = cursor.map(str::to_owned);
        self.call(&request).await
    }

    /// `POST /v2/groups/join_approval_strategy`: creates a join-approval strategy (at
    /// most 20 per bot).
    pub async fn create_join_strategy(&self, strategy: NewStrategy) -> Result<StrategyState> {
        self.call(&CreateJoinStrategy::new(strategy)).await
    }

    /// The join-approval strategy `strategy_id`.
    #[must_use]
    pub fn join_strategy(&self, strategy_id: impl Into<String>) -> JoinStrategy {
        JoinStrategy { api: self.clone(), id: strategy_id.into() }
    }

    /// `GET /gateway`: the WebSocket URL.
    pub async fn gateway(&self) -> Result<GatewayInfo> {
        self.call(&GetGateway::new()).await
    }

    /// `GET /gateway/bot`: the WebSocket URL, recommended shards and session start limit.
    pub async fn gateway_bot(&self) -> Result<GatewayInfo> {
        self.call(&GetGatewayBot::new()).await
    }

    /// `POST /users/@me/dms`: opens a guild DM with `recipient_id`, a member of
    /// `source_guild_id`; send into it with [`dm`](Self::dm) and the answer's `guild_id`.
    pub async fn create_dm(&self, recipient_id: &str, source_guild_id: &str) -> Result<DmSession> {
        self.call(&CreateDmSession::new(DmRequest::new(recipient_id, source_guild_id))).await
    }

    /// The interaction (button click, quick menu) `interaction_id`: `d.id` of
    /// `INTERACTION_CREATE` (in a handler, [`Context::ack`](crate::Context::ack) finds it).
    #[must_use]
    pub fn interaction(&self, interaction_id: impl Into<String>) -> Interaction {
        Interaction { api: self.clone(), id: interaction_id.into() }
    }

    /// The guild `guild_id`: its channels, members, roles, permissions, mutes and
    /// announcements.
    #[must_use]
    pub fn guild(&self, guild_id: impl Into<String>) -> Guild {
        Guild { api: self.clone(), id: guild_id.into() }
    }

    /// The guild channel `channel_id`: messages, pins, schedules, reactions,
    /// permissions, audio and forum threads.
    #[must_use]
    pub fn channel(&self, channel_id: impl Into<String>) -> Channel {
        Channel { api: self.clone(), id: channel_id.into() }
    }

    /// The QQ group `group_openid`: messages, uploads, members, join requests, mutes
    /// and its blacklist.
    #[must_use]
    pub fn group(&self, group_openid: impl Into<String>) -> Group {
        Group { api: self.clone(), id: group_openid.into() }
    }

    /// The C2C chat with `user_openid`: messages, streaming, typing and uploads.
    #[must_use]
    pub fn user(&self, user_openid: impl Into<String>) -> User {
        User { api: self.clone(), id: user_openid.into() }
    }

    /// The guild DM session `guild_id` (of `DIRECT_MESSAGE_CREATE` or
    /// [`create_dm`](Self::create_dm)).
    #[must_use]
    pub fn dm(&self, guild_id: impl Into<String>) -> Dm {
        Dm { api: self.clone(), id: guild_id.into() }
    }
}

/// An interaction to answer: [`Api::interaction`].
#[derive(Debug, Clone)]
pub struct Interaction {
    api: Api,
    id: String,
}

impl Interaction {
    /// `PUT /interactions/{interaction_id}`: answers a button click (event type 11) or a
    /// C2C quick-menu click (type 12) with `code`, which the user's client shows
    /// ([`InteractionCode::Success`] or a failure). QQ waits about 3 seconds, once per
    /// interaction; without an answer the user's QQ spins and then shows a failure.
    /// Replying with a message is separate (a passive reply to the event).
    ///
    /// # Errors
    ///
    /// As [`Api::call`]; 630001–630008 ([`ErrorKind::Param`](super::ErrorKind::Param))
    /// for a bad or foreign interaction id.
    pub async fn ack(&self, code: InteractionCode) -> Result<()> {
        self.api.call(&AckInteraction::new(self.id.as_str(), InteractionAck::new(code))).await?;
        Ok(())
    }
}

/// A command panel: [`Api::panel`].
#[derive(Debug, Clone)]
pub struct Panel {
    api: Api,
    id: String,
}

impl Panel {
    /// `GET /v2/panels/{panel_id}`.
    ///
    /// # Errors
    ///
    /// As [`Api::call`], for this and every method of the handle.
    pub async fn get(&self) -> Result<PanelRecord> {
        self.api.call(&GetPanel::new(self.id.as_str())).await
    }

    /// `PUT /v2/panels/{panel_id}`: replaces the items and remark, keeps the targets.
    pub async fn update(&self, panel: qqgw_proto::openapi::Panel) -> Result<Version> {
        self.api.call(&UpdatePanel::new(self.id.as_str(), PanelUpdate::new(panel))).await
    }

    /// `DELETE /v2/panels/{panel_id}`.
    pub async fn delete(&self) -> Result<()> {
        self.api.call(&DeletePanel::new(self.id.as_str())).await.map(drop)
    }

    /// `PUT /v2/panels/{panel_id}/target`: adds or removes users or groups of a
    /// `specific` panel.
    pub async fn set_targets(&self, targets: PanelTargets) -> Result<()> {
        self.api.call(&SetPanelTargets::new(self.id.as_str(), targets)).await.map(drop)
    }
}

/// A join-approval strategy: [`Api::join_strategy`].
#[derive(Debug, Clone)]
pub struct JoinStrategy {
    api: Api,
    id: String,
}

impl JoinStrategy {
    /// `PATCH /v2/groups/join_approval_strategy/{strategy_id}`: only the fields set change.
    ///
    /// # Errors
    ///
    /// As [`Api::call`], for this and every method of the handle.
    pub async fn update(&self, patch: StrategyPatch) -> Result<StrategyState> {
        self.api.call(&UpdateJoinStrategy::new(self.id.as_str(), patch)).await
    }

    /// `DELETE /v2/groups/join_approval_strategy/{strategy_id}`.
    pub async fn delete(&self) -> Result<()> {
        self.api.call(&DeleteJoinStrategy::new(self.id.as_str())).await.map(drop)
    }

    /// `POST …/{strategy_id}/execute`: applies the strategy to the pending requests
    /// (QQ does it in the background, in about 10 minutes).
    pub async fn execute(&self) -> Result<()> {
        self.api.call(&ExecuteJoinStrategy::of(self.id.as_str())).await.map(drop)
    }

    /// `POST …/{strategy_id}/whitelist_users`: adds or removes QQ numbers.
    pub async fn edit_whitelist(&self, edit: WhitelistEdit) -> Result<WhitelistUpdated> {
        self.api.call(&EditStrategyWhitelist::new(self.id.as_str(), edit)).await
    }
}

/// A guild: [`Api::guild`].
#[derive(Debug, Clone)]
pub struct Guild {
    api: Api,
    id: String,
}

impl Guild {
    /// `GET /guilds/{guild_id}`.
    ///
    /// # Errors
    ///
    /// As [`Api::call`], for this and every method of the handle.
    pub async fn get(&self) -> Result<WithExtra<GuildModel>> {
        self.api.call(&GetGuild::new(self.id.as_str())).await
    }

    /// `GET /guilds/{guild_id}/channels`.
    pub async fn channels(&self) -> Result<List<WithExtra<ChannelModel>>> {
        self.api.call(&ListChannels::new(self.id.as_str())).await
    }

    /// `POST /guilds/{guild_id}/channels` (private-domain, guild admin).
    pub async fn create_channel(&self, spec: ChannelSpec) -> Result<WithExtra<ChannelModel>> {
        self.api.call(&CreateChannel::new(self.id.as_str(), spec)).await
    }

    /// `GET /guilds/{guild_id}/members?after=…&limit=…` (private-domain): a page of up
    /// to `limit` (1–400) members after the user id `after` (`"0"` first). Pages may
    /// repeat members; stop at an empty page.
    pub async fn members(&self, after: &str, limit: u32) -> Result<List<WithExtra<Member>>> {
        self.api.call(&ListGuildMembers::new(self.id.as_str()).after(after).limit(limit)).await
    }

    /// `GET /guilds/{guild_id}/roles/{role_id}/members` (private-domain): a page from
    /// `start_index` (`"0"` first, then the answer's `next`).
    pub async fn role_members(&self, role_id: &str, start_index: &str, limit: u32) -> Result<RoleMemberPage> {
        let request = ListRoleMembers::new(self.id.as_str(), role_id).start_index(start_index).limit(limit);
        self.api.call(&request).await
    }

    /// `GET /guilds/{guild_id}/members/{user_id}`.
    pub async fn member(&self, user_id: &str) -> Result<WithExtra<Member>> {
        self.api.call(&GetGuildMember::new(self.id.as_str(), user_id)).await
    }

    /// `DELETE /guilds/{guild_id}/members/{user_id}` (private-domain, kick permission).
    pub async fn remove_member(&self, user_id: &str, options: MemberRemovalOptions) -> Result<()> {
        self.api.call(&RemoveGuildMember::new(self.id.as_str(), user_id, options)).await.map(drop)
    }

    /// `GET /guilds/{guild_id}/roles`.
    pub async fn roles(&self) -> Result<GuildRoles> {
        self.api.call(&ListRoles::new(self.id.as_str())).await
    }

    /// `POST /guilds/{guild_id}/roles` (guild admin).
    pub async fn create_role(&self, spec: RoleSpec) -> Result<RoleAnswer> {
        self.api.call(&CreateRole::new(self.id.as_str(), spec)).await
    }

    /// `PATCH /guilds/{guild_id}/roles/{role_id}` (guild admin): unset fields stay.
    pub async fn update_role(&self, role_id: &str, spec: RoleSpec) -> Result<RoleAnswer> {
        self.api.call(&UpdateRole::new(self.id.as_str(), role_id, spec)).await
    }

    /// `DELETE /guilds/{guild_id}/roles/{role_id}` (guild admin).
    pub async fn delete_role(&self, role_id: &str) -> Result<()> {
        self.api.call(&DeleteRole::new(self.id.as_str(), role_id)).await.map(drop)
    }

    /// `PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}` (guild admin); role 5
    /// (channel admin) needs [`MemberRoleChannel::channel`].
    pub async fn add_member_role(
        &self,
        user_id: &str,
        role_id: &str,
        channel: MemberRoleChannel,
    ) -> Result<()> {
        self.api.call(&AddMemberRole::new(self.id.as_str(), user_id, role_id, channel)).await.map(drop)
    }

    /// `DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}` (guild admin).
    pub async fn remove_member_role(
        &self,
        user_id: &str,
        role_id: &str,
        channel: MemberRoleChannel,
    ) -> Result<()> {
        self.api.call(&RemoveMemberRole::new(self.id.as_str(), user_id, role_id, channel)).await.map(drop)
    }

    /// `GET /guilds/{guild_id}/api_permission`: the APIs the bot may call here.
    pub async fn api_permissions(&self) -> Result<ApiPermissions> {
        self.api.call(&ListApiPermissions::new(self.id.as_str())).await
    }

    /// `POST /guilds/{guild_id}/api_permission/demand`: asks the guild's admins to
    /// authorise an API (at most 3 links a day per guild).
    pub async fn demand_api_permission(&self, demand: PermissionDemand) -> Result<ApiPermissionDemand> {
        self.api.call(&DemandApiPermission::new(self.id.as_str(), demand)).await
    }

    /// `GET /guilds/{guild_id}/message/setting`: the guild's speech settings.
    pub async fn message_setting(&self) -> Result<MessageSetting> {
        self.api.call(&GetMessageSetting::new(self.id.as_str())).await
    }

    /// `PATCH /guilds/{guild_id}/mute`: mutes everyone, or the members of
    /// [`MuteSpec::users`] (guild admin); [`MuteSpec::lift`] ends it.
    pub async fn mute(&self, spec: MuteSpec) -> Result<MutedUsers> {
        self.api.call(&MuteGuild::new(self.id.as_str(), spec)).await
    }

    /// `PATCH /guilds/{guild_id}/members/{user_id}/mute` (guild admin).
    pub async fn mute_member(&self, user_id: &str, spec: MuteSpec) -> Result<()> {
        self.api.call(&MuteMember::new(self.id.as_str(), user_id, spec)).await.map(drop)
    }

    /// `POST /guilds/{guild_id}/announces`: a guild announcement.
    pub async fn announce(&self, spec: AnnounceSpec) -> Result<Announce> {
        self.api.call(&CreateAnnounce::new(self.id.as_str(), spec)).await
    }

    /// `DELETE /guilds/{guild_id}/announces/{message_id}` (`"all"` removes every one).
    pub async fn delete_announce(&self, message_id: &str) -> Result<()> {
        self.api.call(&DeleteAnnounce::new(self.id.as_str(), message_id)).await.map(drop)
    }
}

/// A guild channel: [`Api::channel`].
#[derive(Debug, Clone)]
pub struct Channel {
    api: Api,
    id: String,
}

impl Channel {
    /// `GET /channels/{channel_id}`.
    ///
    /// # Errors
    ///
    /// As [`Api::call`], for this and every method of the handle.
    pub async fn get(&self) -> Result<WithExtra<ChannelModel>> {
        self.api.call(&GetChannel::new(self.id.as_str())).await
    }

    /// `PATCH /channels/{channel_id}` (private-domain, guild admin).
    pub async fn update(&self, spec: ChannelSpec) -> Result<WithExtra<ChannelModel>> {
        self.api.call(&UpdateChannel::new(self.id.as_str(), spec)).await
    }

    /// `DELETE /channels/{channel_id}` (private-domain, guild admin; irreversible).
    pub async fn delete(&self) -> Result<()> {
        self.api.call(&DeleteChannel::new(self.id.as_str())).await.map(drop)
    }

    /// `POST /channels/{channel_id}/messages`: as [`Api::send`] to [`Target::Channel`].
    pub async fn send(&self, message: impl Into<Outgoing>) -> Result<Sent> {
        self.api.send(&Target::Channel(self.id.clone()), message).await
    }

    /// `DELETE /channels/{channel_id}/messages/{message_id}` (private-domain);
    /// `hide_tip` hides the grey "message recalled" tip.
    pub async fn recall(&self, message_id: &str, hide_tip: bool) -> Result<()> {
        let request = RecallChannelMessage::new(self.id.as_str(), message_id).hidetip(hide_tip);
        self.api.call(&request).await.map(drop)
    }

    /// `GET /channels/{channel_id}/online_nums`: users in a voice or live channel.
    pub async fn online_nums(&self) -> Result<OnlineNums> {
        self.api.call(&GetOnlineNums::new(self.id.as_str())).await
    }

    /// `GET /channels/{channel_id}/members/{user_id}/permissions`.
    pub async fn member_permissions(&self, user_id: &str) -> Result<ChannelPermissions> {
        self.api.call(&GetMemberPermissions::new(self.id.as_str(), user_id)).await
    }

    /// `PUT /channels/{channel_id}/members/{user_id}/permissions`.
    pub async fn set_member_permissions(&self, user_id: &str, change: PermissionChange) -> Result<()> {
        self.api.call(&SetMemberPermissions::new(self.id.as_str(), user_id, change)).await.map(drop)
    }

    /// `GET /channels/{channel_id}/roles/{role_id}/permissions`.
    pub async fn role_permissions(&self, role_id: &str) -> Result<ChannelPermissions> {
        self.api.call(&GetRolePermissions::new(self.id.as_str(), role_id)).await
    }

    /// `PUT /channels/{channel_id}/roles/{role_id}/permissions`.
    pub async fn set_role_permissions(&self, role_id: &str, change: PermissionChange) -> Result<()> {
        self.api.call(&SetRolePermissions::new(self.id.as_str(), role_id, change)).await.map(drop)
    }

    /// `GET /channels/{channel_id}/pins`.
    pub async fn pins(&self) -> Result<PinsMessage> {
        self.api.call(&GetPins::new(self.id.as_str())).await
    }

    /// `PUT /channels/{channel_id}/pins/{message_id}` (at most 20 per channel).
    pub async fn pin(&self, message_id: &str) -> Result<PinsMessage> {
        self.api.call(&PinMessage::new(self.id.as_str(), message_id)).await
    }

    /// `DELETE /channels/{channel_id}/pins/{message_id}` (`"all"` removes every pin).
    pub async fn unpin(&self, message_id: &str) -> Result<()> {
        self.api.call(&UnpinMessage::new(self.id.as_str(), message_id)).await.map(drop)
    }

    /// `GET /channels/{channel_id}/schedules`: those ending after `since` (Unix
    /// milliseconds; QQ's default: today's).
    pub async fn schedules(&self, since: Option<u64>) -> Result<List<Schedule>> {
        let mut request = ListSchedules::new(self.id.as_str());
        request.since = since;
        self.api.call(&request).await
    }

    /// `GET /channels/{channel_id}/schedules/{schedule_id}`.
    pub async fn schedule(&self, schedule_id: &str) -> Result<Schedule> {
        self.api.call(&GetSchedule::new(self.id.as_str(), schedule_id)).await
    }

    /// `POST /channels/{channel_id}/schedules` (guild admin; 10 a day per admin).
    pub async fn create_schedule(&self, schedule: Schedule) -> Result<Schedule> {
        self.api.call(&CreateSchedule::new(self.id.as_str(), ScheduleBody::new(schedule))).await
    }

    /// `PATCH /channels/{channel_id}/schedules/{schedule_id}` (guild admin).
    pub async fn update_schedule(&self, schedule_id: &str, schedule: Schedule) -> Result<Schedule> {
        let request = UpdateSchedule::new(self.id.as_str(), schedule_id, ScheduleBody::new(schedule));
        self.api.call(&request).await
    }

    /// `DELETE /channels/{channel_id}/schedules/{schedule_id}` (guild admin).
    pub async fn delete_schedule(&self, schedule_id: &str) -> Result<()> {
        self.api.call(&DeleteSchedule::new(self.id.as_str(), schedule_id)).await.map(drop)
    }

    /// `PUT …/messages/{message_id}/reactions/{type}/{id}`: reacts to a message with
    /// emoji `emoji_id` of `emoji_type` (1 system emoji, 2 emoji).
    pub async fn react(&self, message_id: &str, emoji_type: u32, emoji_id: &str) -> Result<()> {
        let request = AddReaction::new(self.id.as_str(), message_id, emoji_type, emoji_id);
        self.api.call(&request).await.map(drop)
    }

    /// `DELETE …/messages/{message_id}/reactions/{type}/{id}`: removes the bot's reaction.
    pub async fn unreact(&self, message_id: &str, emoji_type: u32, emoji_id: &str) -> Result<()> {
        let request = RemoveReaction::new(self.id.as_str(), message_id, emoji_type, emoji_id);
        self.api.call(&request).await.map(drop)
    }

    /// `GET …/messages/{message_id}/reactions/{type}/{id}`: who reacted, a page at a
    /// time (`cookie` of the last page).
    pub async fn reactions(
        &self,
        message_id: &str,
        emoji_type: u32,
        emoji_id: &str,
        cookie: Option<&str>,
    ) -> Result<ReactionUsers> {
        let mut request = GetReactionUsers::new(self.id.as_str(), message_id, emoji_type, emoji_id);
        request.cookie = cookie.map(str::to_owned);
        self.api.call(&request).await
    }

    /// `POST /channels/{channel_id}/audio`: plays, pauses, resumes or stops audio
    /// (audio bots).
    pub async fn audio(&self, control: AudioControl) -> Result<()> {
        self.api.call(&ControlAudio::new(self.id.as_str(), control)).await.map(drop)
    }

    /// `PUT /channels/{channel_id}/mic`: takes the microphone (audio bots).
    pub async fn join_mic(&self) -> Result<()> {
        self.api.call(&JoinMic::of(self.id.as_str())).await.map(drop)
    }

    /// `DELETE /channels/{channel_id}/mic`: leaves the microphone (audio bots).
    pub async fn leave_mic(&self) -> Result<()> {
        self.api.call(&LeaveMic::of(self.id.as_str())).await.map(drop)
    }

    /// `GET /channels/{channel_id}/threads` (private-domain): a forum's threads.
    pub async fn threads(&self) -> Result<ThreadPage> {
        self.api.call(&ListThreads::new(self.id.as_str())).await
    }

    /// `GET /channels/{channel_id}/threads/{thread_id}` (private-domain).
    pub async fn thread(&self, thread_id: &str) -> Result<ThreadAnswer> {
        self.api.call(&GetThread::new(self.id.as_str(), thread_id)).await
    }

    /// `PUT /channels/{channel_id}/threads` (private-domain): posts a thread.
    pub async fn create_thread(&self, thread: NewThread) -> Result<ThreadCreated> {
        self.api.call(&CreateThread::new(self.id.as_str(), thread)).await
    }

    /// `DELETE /channels/{channel_id}/threads/{thread_id}` (private-domain).
    pub async fn delete_thread(&self, thread_id: &str) -> Result<()> {
        self.api.call(&DeleteThread::new(self.id.as_str(), thread_id)).await.map(drop)
    }
}

/// A guild DM session: [`Api::dm`].
#[derive(Debug, Clone)]
pub struct Dm {
    api: Api,
    id: String,
}

impl Dm {
    /// `POST /dms/{guild_id}/messages`: as [`Api::send`] to [`Target::Dm`].
    ///
    /// # Errors
    ///
    /// As [`Api::send`].
    pub async fn send(&self, message: impl Into<Outgoing>) -> Result<Sent> {
        self.api.send(&Target::Dm(self.id.clone()), message).await
    }

    /// `DELETE /dms/{guild_id}/messages/{message_id}` (private-domain, the bot's own);
    /// `hide_tip` hides the "message recalled" tip.
    ///
    /// # Errors
    ///
    /// As [`Api::call`].
    pub async fn recall(&self, message_id: &str, hide_tip: bool) -> Result<()> {
        let request = RecallDmMessage::new(self.id.as_str(), message_id).hidetip(hide_tip);
        self.api.call(&request).await.map(drop)
    }
}

/// A QQ group: [`Api::group`].
#[derive(Debug, Clone)]
pub struct Group {
    api: Api,
    id: String,
}

impl Group {
    /// `POST /v2/groups/{group_openid}/messages`: as [`Api::send`] to [`Target::Group`].
    ///
    /// # Errors
    ///
    /// As [`Api::call`], for this and every method of the handle.
    pub async fn send(&self, message: impl Into<Outgoing>) -> Result<Sent> {
        self.api.send(&Target::Group(self.id.clone()), message).await
    }

    /// `DELETE /v2/groups/{group_openid}/messages/{message_id}`: the bot's own within
    /// 2 minutes; a group-admin bot also members' messages.
    pub async fn recall(&self, message_id: &str) -> Result<()> {
        self.api.call(&RecallGroupMessage::new(self.id.as_str(), message_id)).await.map(drop)
    }

    /// `POST /v2/groups/{group_openid}/files`: QQ fetches `url`; the [`Media`] works in
    /// groups only.
    pub async fn upload(&self, file_type: FileType, url: &str) -> Result<Media> {
        self.api.upload(&Target::Group(self.id.clone()), file_type, url).await
    }

    /// A chunked upload of a local file or bytes (`upload_prepare`, the parts in
    /// parallel, `upload_part_finish`, then `files`): see [`Upload`].
    #[must_use]
    pub fn upload_file(&self, file_type: FileType, name: &str, source: UploadSource) -> Upload {
        Upload::new(self.api.clone(), Target::Group(self.id.clone()), file_type, name, source)
    }

    /// `GET /v2/groups/{group_openid}/info` (whitelisted bots).
    pub async fn info(&self) -> Result<GroupInfo> {
        self.api.call(&GetGroupInfo::new(self.id.as_str())).await
    }

    /// `GET /v2/groups/{group_openid}/bot_state`: whether the group takes active
    /// messages and whether the bot is admin (whitelisted bots).
    pub async fn bot_state(&self) -> Result<GroupBotState> {
        self.api.call(&GetGroupBotState::new(self.id.as_str())).await
    }

    /// `GET /v2/groups/{group_openid}/join_request_list` (group admin); `cursor` is
    /// the last page's `next_cursor`.
    pub async fn join_requests(&self, cursor: Option<&str>) -> Result<JoinRequestPage> {
        let mut request = ListJoinRequests::new(self.id.as_str());
        request.cursor = cursor.map(str::to_owned);
        self.api.call(&request).await
    }

    /// `POST /v2/groups/{group_openid}/approval_join_request/{member_openid}` (group
    /// admin): [`JoinReview::approve`] or [`JoinReview::decline`].
    pub async fn review_join_request(&self, member_openid: &str, review: JoinReview) -> Result<()> {
        self.api.call(&ReviewJoinRequest::new(self.id.as_str(), member_openid, review)).await.map(drop)
    }

    /// `GET /v2/groups/{group_openid}/restrict_chat_setting` (group admin): mute rules
    /// and muted members.
    pub async fn mute_setting(&self) -> Result<GroupMuteSetting> {
        self.api.call(&GetGroupMuteSetting::new(self.id.as_str())).await
    }

    /// `POST /v2/groups/{group_openid}/restrict_chat_setting` (group admin): mutes,
    /// re-times or unmutes up to 10 members.
    pub async fn set_mutes(&self, mutes: MemberMutes) -> Result<()> {
        self.api.call(&SetGroupMemberMutes::new(self.id.as_str(), mutes)).await.map(drop)
    }

    /// `GET /v2/groups/{group_openid}/members` (invite-only): a page of up to 30.
    pub async fn members(&self, cursor: Option<&str>) -> Result<GroupMemberPage> {
        let mut request = ListGroupMembers::new(self.id.as_str());
        request.cursor = cursor.map(str::to_owned);
        self.api.call(&request).await
    }

    /// `GET /v2/groups/{group_openid}/members/{member_openid}` (invite-only).
    pub async fn member(&self, member_openid: &str) -> Result<GroupMember> {
        self.api.call(&GetGroupMember::new(self.id.as_str(), member_openid)).await
    }

    /// `POST /v2/groups/{group_openid}/batch_remove_members` (invite-only): up to 20.
    pub async fn remove_members(&self, removal: MemberRemoval) -> Result<MembersRemoved> {
        self.api.call(&RemoveGroupMembers::new(self.id.as_str(), removal)).await
    }

    /// `GET /v2/groups/{group_openid}/member_blacklist` (invite-only).
    pub async fn blacklist(&self, cursor: Option<&str>) -> Result<BlacklistPage> {
        let mut request = ListGroupBlacklist::new(self.id.as_str());
        request.cursor = cursor.map(str::to_owned);
        self.api.call(&request).await
    }

    /// `POST /v2/groups/{group_openid}/member_blacklist` (invite-only): check
    /// `fail_openids` even on success.
    pub async fn edit_blacklist(&self, edit: BlacklistEdit) -> Result<BlacklistEdited> {
        self.api.call(&EditGroupBlacklist::new(self.id.as_str(), edit)).await
    }
}

/// A C2C chat: [`Api::user`].
#[derive(Debug, Clone)]
pub struct User {
    api: Api,
    id: String,
}

impl User {
    /// `POST /v2/users/{user_openid}/messages`: as [`Api::send`] to [`Target::User`].
    ///
    /// # Errors
    ///
    /// As [`Api::call`], for this and every method of the handle.
    pub async fn send(&self, message: impl Into<Outgoing>) -> Result<Sent> {
        self.api.send(&Target::User(self.id.clone()), message).await
    }

    /// `DELETE /v2/users/{user_openid}/messages/{message_id}`: the bot's own, within 2
    /// minutes.
    pub async fn recall(&self, message_id: &str) -> Result<()> {
        self.api.call(&RecallC2cMessage::new(self.id.as_str(), message_id)).await.map(drop)
    }

    /// `POST /v2/users/{user_openid}/files`: QQ fetches `url`; the [`Media`] works in
    /// C2C chats only.
    pub async fn upload(&self, file_type: FileType, url: &str) -> Result<Media> {
        self.api.upload(&Target::User(self.id.clone()), file_type, url).await
    }

    /// A chunked upload of a local file or bytes for this chat: see [`Upload`].
    #[must_use]
    pub fn upload_file(&self, file_type: FileType, name: &str, source: UploadSource) -> Upload {
        Upload::new(self.api.clone(), Target::User(self.id.clone()), file_type, name, source)
    }

    /// A streamed answer to the received message `msg_id`
    /// (`POST /v2/users/{user_openid}/stream_messages`): see [`MessageStream`]. It takes
    /// one of the message's replies (one `msg_seq`).
    #[must_use]
    pub fn stream(&self, msg_id: &str) -> MessageStream {
        MessageStream::new(self.api.clone(), self.id.clone(), ReplyTo::Message(msg_id.to_owned()))
    }

    /// A streamed answer to the event `event_id` (an `INTERACTION_CREATE`, say).
    #[must_use]
    pub fn stream_to_event(&self, event_id: &str) -> MessageStream {
        MessageStream::new(self.api.clone(), self.id.clone(), ReplyTo::Event(event_id.to_owned()))
    }

    /// Shows "typing…" in the chat for `seconds` (at most 60), as a reply to `msg_id`
    /// ([`Outgoing::typing`]); it costs one of the message's replies.
    pub async fn typing(&self, msg_id: &str, seconds: u8) -> Result<Sent> {
        self.send(Outgoing::typing(seconds).reply_to(ReplyTo::Message(msg_id.to_owned()))).await
    }
}

//! QQ-group management (QQ-API.md §12): group info, the bot's state, join requests,
//! join-approval strategies, mutes, members and the blacklist.

use serde::Serialize;

use super::request::{Check, EmptyObject, RequestError, request};
use super::response::model;
use crate::model::Timestamp;

/// `add` or `del`, the operation of list-editing bodies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ListOp {
    /// `add`.
    #[default]
    Add,
    /// `del`.
    Del,
}

/// The body of [`ReviewJoinRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct JoinReview {
    /// `approve` or `decline`.
    pub op: &'static str,
    /// From [`ListJoinRequests`] or the `GROUP_JOIN_REQUEST` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_request_id: Option<String>,
    /// Decline only: the reason shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
    /// Decline only: also blacklist the user (QQ's default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_to_member_blacklist: Option<bool>,
}

impl JoinReview {
    /// Approve the request.
    #[must_use]
    pub fn approve(join_request_id: impl Into<String>) -> Self {
        Self { op: "approve", join_request_id: Some(join_request_id.into()), ..Self::default() }
    }

    /// Decline the request, with an optional reason.
    #[must_use]
    pub fn decline(join_request_id: impl Into<String>, reason: Option<String>, blacklist: bool) -> Self {
        Self {
            op: "decline",
            join_request_id: Some(join_request_id.into()),
            reject_reason: reason,
            add_to_member_blacklist: Some(blacklist),
        }
    }
}

impl Check for JoinReview {}

/// The most members one mute request should carry: QQ's pages say 20 (2026-09) and 10
/// (earlier); 10 satisfies both.
pub const MAX_MUTES_PER_CALL: usize = 10;

/// The body of [`SetGroupMemberMutes`]: at most [`MAX_MUTES_PER_CALL`] members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemberMutes {
    /// The changes.
    pub members: Vec<MemberMute>,
}

impl MemberMutes {
    /// The given changes.
    #[must_use]
    pub fn new(members: impl IntoIterator<Item = MemberMute>) -> Self {
        Self { members: members.into_iter().collect() }
    }
}

impl Check for MemberMutes {
    fn check(&self) -> Result<(), RequestError> {
        if self.members.len() > MAX_MUTES_PER_CALL {
            return Err(RequestError::invalid(
                "members",
                format_args!("{} members, at most {MAX_MUTES_PER_CALL} per call", self.members.len()),
            ));
        }
        Ok(())
    }
}

/// One member's mute change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemberMute {
    /// `add`, `update` or `del`.
    pub op: &'static str,
    /// The member.
    pub member_openid: String,
    /// RFC 3339 end of the mute (at most 30 days ahead); `""` with `del`.
    pub mute_expire_at: String,
}

impl MemberMute {
    /// Mute until `until` (RFC 3339).
    #[must_use]
    pub fn add(member_openid: impl Into<String>, until: impl Into<String>) -> Self {
        Self { op: "add", member_openid: member_openid.into(), mute_expire_at: until.into() }
    }

    /// Change the end of a mute.
    #[must_use]
    pub fn update(member_openid: impl Into<String>, until: impl Into<String>) -> Self {
        Self { op: "update", member_openid: member_openid.into(), mute_expire_at: until.into() }
    }

    /// Unmute now.
    #[must_use]
    pub fn remove(member_openid: impl Into<String>) -> Self {
        Self { op: "del", member_openid: member_openid.into(), mute_expire_at: String::new() }
    }
}

/// The groups of a strategy: openids, or raw QQ group numbers (exactly one kind).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StrategyGroups {
    /// `group_openids`.
    Openids(Vec<String>),
    /// `group_ids`: QQ group numbers.
    Numbers(Vec<u64>),
}

impl StrategyGroups {
    fn check(&self) -> Result<(), RequestError> {
        let len = match self {
            Self::Openids(ids) => ids.len(),
            Self::Numbers(ids) => ids.len(),
        };
        if len > 100 {
            return Err(RequestError::invalid("group_openids", format_args!("{len} groups, at most 100")));
        }
        Ok(())
    }
}

impl Serialize for StrategyGroups {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Self::Openids(ids) => map.serialize_entry("group_openids", ids)?,
            Self::Numbers(ids) => map.serialize_entry("group_ids", ids)?,
        }
        map.end()
    }
}

/// The body of [`CreateJoinStrategy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NewStrategy {
    /// The groups (at most 100).
    #[serde(flatten)]
    pub groups: StrategyGroups,
    /// `on` (QQ's default) or `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enable: Option<String>,
    /// RFC 3339 expiry (QQ's default: one year).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<String>,
    /// A note, at most 255 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
}

impl NewStrategy {
    /// A strategy for `groups`, with QQ's defaults.
    #[must_use]
    pub fn new(groups: StrategyGroups) -> Self {
        Self { groups, is_enable: None, expire_at: None, remark: None }
    }
}

impl Check for NewStrategy {
    fn check(&self) -> Result<(), RequestError> {
        self.groups.check()
    }
}

/// The body of [`UpdateJoinStrategy`]: only the fields set change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StrategyPatch {
    /// `on` or `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_enable: Option<String>,
    /// RFC 3339 expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<String>,
    /// A note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// Add or remove groups (in the id form the strategy was created with).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_action: Option<GroupAction>,
}

impl Check for StrategyPatch {}

/// `group_action` of a [`StrategyPatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct GroupAction {
    /// `add` or `del`.
    pub op: ListOp,
    /// The groups.
    #[serde(flatten)]
    pub groups: StrategyGroups,
}

impl GroupAction {
    /// Add or remove `groups`.
    #[must_use]
    pub fn new(op: ListOp, groups: StrategyGroups) -> Self {
        Self { op, groups }
    }
}

/// The body of [`EditStrategyWhitelist`]: QQ numbers as strings, at most 10,000 a call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct WhitelistEdit {
    /// `add` or `del`.
    pub op: ListOp,
    /// QQ numbers.
    pub whitelist_users: Vec<String>,
}

impl WhitelistEdit {
    /// Add or remove QQ numbers.
    #[must_use]
    pub fn new(op: ListOp, users: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { op, whitelist_users: users.into_iter().map(Into::into).collect() }
    }
}

impl Check for WhitelistEdit {
    fn check(&self) -> Result<(), RequestError> {
        if self.whitelist_users.len() > 10_000 {
            return Err(RequestError::invalid("whitelist_users", "at most 10000 per call"));
        }
        Ok(())
    }
}

/// The body of [`RemoveGroupMembers`]: at most 20 members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemberRemoval {
    /// The members.
    pub member_openids: Vec<String>,
    /// Also blacklist them (QQ's default false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_to_member_blacklist: Option<bool>,
}

impl MemberRemoval {
    /// Remove `members`.
    #[must_use]
    pub fn new(members: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { member_openids: members.into_iter().map(Into::into).collect(), add_to_member_blacklist: None }
    }
}

impl Check for MemberRemoval {
    fn check(&self) -> Result<(), RequestError> {
        check_openids("member_openids", &self.member_openids)
    }
}

/// The body of [`EditGroupBlacklist`]: at most 20 members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BlacklistEdit {
    /// `add` (only users not in the group) or `del`.
    pub op: ListOp,
    /// The users.
    pub member_openids: Vec<String>,
}

impl BlacklistEdit {
    /// Add or remove users.
    #[must_use]
    pub fn new(op: ListOp, members: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { op, member_openids: members.into_iter().map(Into::into).collect() }
    }
}

impl Check for BlacklistEdit {
    fn check(&self) -> Result<(), RequestError> {
        check_openids("member_openids", &self.member_openids)
    }
}

/// A required list of 1 to 20 openids.
pub(crate) fn check_openids(field: &'static str, ids: &[String]) -> Result<(), RequestError> {
    if ids.is_empty() || ids.len() > 20 {
        return Err(RequestError::invalid(field, format_args!("{} ids, 1 to 20", ids.len())));
    }
    Ok(())
}

request! {
    /// `GET /v2/groups/{group_openid}/info` (whitelisted bots).
    GetGroupInfo { group_openid };
}
request! {
    /// `GET /v2/groups/{group_openid}/bot_state`: whether active sends can succeed and
    /// whether the bot is admin (whitelisted bots).
    GetGroupBotState { group_openid };
}
request! {
    /// `GET /v2/groups/{group_openid}/join_request_list` (bot must be group admin).
    /// QQ lists the parameters as a body of a GET; qqgw sends them as a query.
    ListJoinRequests { group_openid }
    query {
        /// Empty on the first page, then `next_cursor`.
        cursor: String,
        /// Page size, default 20, at most 50.
        limit: u32,
    };
}
request! {
    /// `POST /v2/groups/{group_openid}/approval_join_request/{member_openid}`.
    ReviewJoinRequest { group_openid, member_openid } body JoinReview;
}
request! {
    /// `GET /v2/groups/{group_openid}/restrict_chat_setting`.
    GetGroupMuteSetting { group_openid };
}
request! {
    /// `POST /v2/groups/{group_openid}/restrict_chat_setting`: member mutes (at most
    /// 30 days; ordinary members only).
    SetGroupMemberMutes { group_openid } body MemberMutes;
}
request! {
    /// `GET /v2/groups/join_approval_strategy`.
    ListJoinStrategies {}
    query {
        /// Empty on the first page, then `next_cursor`.
        cursor: String,
        /// Page size, default 20, at most 50.
        limit: u32,
    };
}
request! {
    /// `POST /v2/groups/join_approval_strategy` (at most 20 strategies per bot).
    CreateJoinStrategy {} body NewStrategy;
}
request! {
    /// `PATCH /v2/groups/join_approval_strategy/{strategy_id}`.
    UpdateJoinStrategy { strategy_id } body StrategyPatch;
}
request! {
    /// `DELETE /v2/groups/join_approval_strategy/{strategy_id}`.
    DeleteJoinStrategy { strategy_id };
}
request! {
    /// `POST /v2/groups/join_approval_strategy/{strategy_id}/execute` (body `{}`):
    /// scans the pending requests asynchronously, in about 10 minutes.
    ExecuteJoinStrategy { strategy_id } body EmptyObject;
}
request! {
    /// `POST /v2/groups/join_approval_strategy/{strategy_id}/whitelist_users`.
    EditStrategyWhitelist { strategy_id } body WhitelistEdit;
}
request! {
    /// `GET /v2/groups/{group_openid}/members` (invite-only): at most 30 a page.
    ListGroupMembers { group_openid }
    query {
        /// Empty on the first page, then `next_cursor`.
        cursor: String,
    };
}
request! {
    /// `GET /v2/groups/{group_openid}/members/{member_openid}` (invite-only).
    GetGroupMember { group_openid, member_openid };
}
request! {
    /// `POST /v2/groups/{group_openid}/batch_remove_members` (invite-only).
    RemoveGroupMembers { group_openid } body MemberRemoval;
}
request! {
    /// `GET /v2/groups/{group_openid}/member_blacklist` (invite-only).
    ListGroupBlacklist { group_openid }
    query {
        /// Empty on the first page, then `next_cursor`.
        cursor: String,
        /// Page size, default 20, at most 100.
        limit: u32,
    };
}
request! {
    /// `POST /v2/groups/{group_openid}/member_blacklist` (invite-only). Check
    /// `fail_openids` even on success.
    EditGroupBlacklist { group_openid } body BlacklistEdit;
}

impl ExecuteJoinStrategy {
    /// Executes the strategy `strategy_id`.
    #[must_use]
    pub fn of(strategy_id: impl Into<String>) -> Self {
        Self::new(strategy_id, EmptyObject {})
    }
}

model! {
    /// `GET …/info`.
    GroupInfo {
        /// The group.
        group_openid: Option<String> => "crate::model::de::text",
        /// Its name.
        group_name: Option<String> => "crate::model::de::text",
        /// Its description.
        group_finger_memo: Option<String> => "crate::model::de::text",
        /// Its category.
        group_class_text: Option<String> => "crate::model::de::text",
        /// Its tags.
        group_tags: Vec<String> => "crate::model::de::text_list",
        /// How many members it has.
        group_member_num: Option<u64> => "crate::model::de::num",
    }

    /// `GET …/bot_state`.
    GroupBotState {
        /// The bot's own member openid.
        member_openid: Option<String> => "crate::model::de::text",
        /// When the bot joined.
        joined_at: Option<Timestamp>,
        /// Whether the group accepts active messages.
        allow_proactive_msg: Option<bool> => "crate::model::de::flag",
        /// `all`, `only_mention` or `mention_and_context`.
        recv_msg_setting: Option<String> => "crate::model::de::text",
        /// `member`, `admin` or `owner`.
        member_role: Option<String> => "crate::model::de::text",
    }

    /// A page of join requests.
    JoinRequestPage {
        /// The requests.
        list: Vec<JoinRequest> => "crate::model::de::list",
        /// The next page's cursor; empty on the last page.
        next_cursor: Option<String> => "crate::model::de::text",
    }

    /// A request to join a group (also the body of `GROUP_JOIN_REQUEST`).
    JoinRequest {
        /// Its id, for [`JoinReview`].
        join_request_id: Option<String> => "crate::model::de::text",
        /// Security hints (`warning_tips`, `top_tips`), as sent.
        risk_tips: Option<serde_json::Value>,
        /// The user's cross-app openid.
        union_openid: Option<String> => "crate::model::de::text",
        /// The user's member openid.
        member_openid: Option<String> => "crate::model::de::text",
        /// The user's name.
        username: Option<String> => "crate::model::de::text",
        /// When the request was made.
        apply_at: Option<Timestamp>,
        /// `self_apply` or `invited`.
        apply_source: Option<String> => "crate::model::de::text",
        /// Who invited the user.
        invited_by: Option<String> => "crate::model::de::text",
        /// Whether the user is a bot.
        bot: Option<bool> => "crate::model::de::flag",
        /// The verification answers, as sent (`method`, `verify_message`,
        /// `review_qa_list`).
        verify_info: Option<serde_json::Value>,
    }

    /// A group's mute rules and muted members.
    GroupMuteSetting {
        /// The whole-group rule (`mode`, `schedule_rules`, `recurring_rules`), as sent.
        global_rule: Option<serde_json::Value>,
        /// The members muted now.
        members: Vec<MutedMember> => "crate::model::de::list",
    }

    /// A muted group member.
    MutedMember {
        /// The member.
        member_openid: Option<String> => "crate::model::de::text",
        /// When the mute ends.
        mute_expire_at: Option<Timestamp>,
        /// The member's name.
        username: Option<String> => "crate::model::de::text",
        /// The member's cross-app openid.
        union_openid: Option<String> => "crate::model::de::text",
    }

    /// A page of join-approval strategies.
    StrategyPage {
        /// The active strategies, newest first.
        strategies: Vec<Strategy> => "crate::model::de::list",
        /// The next page's cursor; empty on the last page.
        next_cursor: Option<String> => "crate::model::de::text",
    }

    /// A join-approval strategy.
    Strategy {
        /// Its id.
        strategy_id: Option<String> => "crate::model::de::text",
        /// Its groups, by openid.
        group_openids: Vec<String> => "crate::model::de::text_list",
        /// Its groups, by (masked) number.
        group_ids: Vec<String> => "crate::model::de::text_list",
        /// How many whitelisted users (an estimate).
        whitelist_user_count: Option<u64> => "crate::model::de::num",
        /// `on` or `off`.
        is_enable: Option<String> => "crate::model::de::text",
        /// When it expires.
        expire_at: Option<Timestamp>,
        /// When it was created.
        created_at: Option<Timestamp>,
        /// When it last changed.
        updated_at: Option<Timestamp>,
        /// Its note.
        remark: Option<String> => "crate::model::de::text",
    }

    /// What creating or changing a strategy answers.
    StrategyState {
        /// The strategy (creation only).
        strategy_id: Option<String> => "crate::model::de::text",
        /// `on` or `off`.
        is_enable: Option<String> => "crate::model::de::text",
        /// When it expires.
        expire_at: Option<Timestamp>,
    }

    /// What editing a whitelist answers.
    WhitelistUpdated {
        /// The strategy.
        strategy_id: Option<String> => "crate::model::de::text",
        /// How many whitelisted users now (an estimate).
        whitelist_user_count: Option<u64> => "crate::model::de::num",
        /// When.
        updated_at: Option<Timestamp>,
    }

    /// A page of group members.
    GroupMemberPage {
        /// The members.
        members: Vec<GroupMember> => "crate::model::de::list",
        /// The next page's cursor; empty on the last page.
        next_cursor: Option<String> => "crate::model::de::text",
    }

    /// A member of a QQ group.
    GroupMember {
        /// The member's openid.
        member_openid: Option<String> => "crate::model::de::text",
        /// The member's name.
        username: Option<String> => "crate::model::de::text",
        /// `member`, `owner` or `admin`.
        member_role: Option<String> => "crate::model::de::text",
        /// Whether the member is a bot.
        bot: Option<bool> => "crate::model::de::flag",
        /// When the member joined.
        joined_at: Option<Timestamp>,
        /// The member's cross-app openid.
        union_openid: Option<String> => "crate::model::de::text",
    }

    /// What a batch removal answers.
    MembersRemoved {
        /// `"success"`.
        remove_members_result: Option<String> => "crate::model::de::text",
        /// The members that could not be blacklisted.
        add_to_member_blacklist_fail_openids: Vec<String> => "crate::model::de::text_list",
    }

    /// A page of a group's blacklist.
    BlacklistPage {
        /// The blacklisted users.
        users: Vec<BlacklistedUser> => "crate::model::de::list",
        /// The next page's cursor; empty on the last page.
        next_cursor: Option<String> => "crate::model::de::text",
    }

    /// A blacklisted user.
    BlacklistedUser {
        /// The user's cross-app openid.
        union_openid: Option<String> => "crate::model::de::text",
        /// The user's member openid.
        member_openid: Option<String> => "crate::model::de::text",
        /// The user's name.
        username: Option<String> => "crate::model::de::text",
        /// When the user was blacklisted.
        banned_at: Option<Timestamp>,
        /// Whether the user is a bot.
        bot: Option<bool> => "crate::model::de::flag",
    }

    /// What editing a blacklist answers.
    BlacklistEdited {
        /// The users that could not be added or removed.
        fail_openids: Vec<String> => "crate::model::de::text_list",
    }
}

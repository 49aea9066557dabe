//! QQ's whole HTTP OpenAPI as data: every route, its typed request and response, and
//! QQ's error codes. No IO: bring any HTTP client.
//!
//! - **Routes.** [`Route`] has one variant per method and path of QQ's 2026
//!   documentation (93, listed with their rate limits and permission classes in
//!   [`Route`]'s docs), generated from one table, with [`Route::recognize`] for a server
//!   that dispatches on them.
//! - **Requests.** Each route has a request type of the same name (e.g.
//!   [`SendGroupMessage`] for [`Route::SendGroupMessage`]) implementing [`Endpoint`]:
//!   [`Endpoint::request`] gives an [`HttpRequest`] (method, encoded path and query,
//!   JSON body), [`Endpoint::parse_response`] reads the answer. Path parameters are
//!   percent-encoded so that no id can change the path (only `A-Z a-z 0-9 - _ ~ .`
//!   stay; `.` and `..` become `%2E` and `%2E%2E`; an empty one is refused). Bodies
//!   follow QQ's field tables; unset optional fields are not sent. Rules QQ documents
//!   crisply (keyboard size, exclusive fields, list lengths) are checked when the
//!   request is built, so a call that cannot succeed is not made.
//! - **Responses.** Tolerant like the event models in [`model`](crate::model): every
//!   scalar is an `Option`, ids are `String` (numbers accepted), counts may arrive as
//!   strings, timestamps are [`Timestamp`](crate::model::Timestamp)s, lists QQ answers
//!   bare are read from either a bare array or an object holding one ([`List`]).
//!   **Unknown fields are kept**: every response model has `extra`, the fields it does
//!   not name, as QQ sent them (models shared with events come wrapped in
//!   [`WithExtra`]). Successes without content (204, empty, `{}`) are [`Empty`].
//! - **Errors.** Every non-2xx answer, and every 2xx answer whose body holds a non-zero
//!   `err_code`/`code`, is an [`ApiError`]: code, QQ's message, trace id, audit id, and
//!   from the one code table ([`ERROR_CODES`]) its [`ErrorKind`] and what [`Retry`] is
//!   safe.
//! - **Hard flows.** [`C2cStream`] paces a streamed C2C message; [`UploadPlan`] checks a
//!   chunked upload's parts against the file and carries its concurrency and retries.
//!
//! The API base is [`API_BASE`](crate::API_BASE) (`https://api.bot.qq.com`, QQ's 2026
//! host); [`LEGACY_API_BASE`](crate::LEGACY_API_BASE) and
//! [`SANDBOX_API_BASE`](crate::SANDBOX_API_BASE) are the older hosts.
//!
//! # Examples
//!
//! A complete blocking client in ten lines, with `ureq`:
//!
//! ```no_run
//! use qqgw_proto::openapi::{Button, Endpoint, ErrorKind, Keyboard, Markdown, MessageBody, SendGroupMessage};
//! use qqgw_proto::API_BASE;
//!
//! fn call<E: Endpoint>(agent: &ureq::Agent, token: &str, endpoint: &E) -> Result<E::Response, Box<dyn std::error::Error>> {
//!     let request = endpoint.request()?;
//!     let builder = ureq::http::Request::builder()
//!         .method(request.method.as_str())
//!         .uri(request.url(API_BASE))
//!         .header("Authorization", format!("QQBot {token}"))
//!         .header("Content-Type", request.content_type.unwrap_or("application/json"));
//!     let mut response = match request.body {
//!         Some(body) => agent.run(builder.body(body)?)?,
//!         None => agent.run(builder.body(())?)?,
//!     };
//!     let trace = response.headers().get("X-Tps-trace-ID").and_then(|v| v.to_str().ok()).map(str::to_owned);
//!     let body = response.body_mut().read_to_vec()?;
//!     Ok(E::parse_response(response.status().as_u16(), trace.as_deref(), &body)?)
//! }
//!
//! let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
//! let token = "access token";
//! let reply = MessageBody::markdown(Markdown::text("**pong**"))
//!     .keyboard(Keyboard::rows([[Button::callback("again", "Again", "ping")]]))
//!     .reply_to("ROBOT1.0_received")
//!     .msg_seq(1);
//! let sent = call(&agent, token, &SendGroupMessage::new("GROUP_OPENID", reply))?;
//! println!("sent {:?}, quote it as {:?}", sent.id, sent.ext_info.and_then(|e| e.ref_idx));
//!
//! // QQ's errors carry what to do about them.
//! let error = SendGroupMessage::parse_response(400, Some("t"), br#"{"err_code":40034128,"message":"expired"}"#)
//!     .unwrap_err();
//! assert_eq!(error.kind(), ErrorKind::Reply);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A server (such as a mock of QQ) dispatches on the same table:
//!
//! ```
//! use qqgw_proto::openapi::{Endpoint, RecallC2cMessage, Route};
//!
//! let request = RecallC2cMessage::new("user/1", "ROBOT1.0_x").request()?;
//! assert_eq!(request.path, "/v2/users/user%2F1/messages/ROBOT1.0_x");
//! let (route, params) = Route::recognize(request.method.as_str(), &request.path).unwrap();
//! assert_eq!((route, params), (Route::RecallC2cMessage, vec!["user/1".to_owned(), "ROBOT1.0_x".to_owned()]));
//! # Ok::<(), qqgw_proto::openapi::RequestError>(())
//! ```

mod bot;
mod codes;
mod error;
mod group;
mod guild;
mod message;
mod request;
mod response;
mod route;
mod stream;
mod upload;

pub use bot::{
    CreatePanel, DeletePanel, GenerateUrlLink, GetGateway, GetGatewayBot, GetMe, GetMenu, GetMyGuilds,
    GetPanel, ListPanels, Menu, MenuAnswer, MenuItem, MenuSwitch, MenuUpdate, NewPanel, Panel, PanelCreated,
    PanelItem, PanelPage, PanelRecord, PanelTargets, PanelUpdate, SetMenu, SetPanelTargets, UpdatePanel,
    UrlLink, UrlLinkRequest, Version,
};
pub use codes::{ERROR_CODES, ErrorCode};
pub use error::{ApiError, ErrorKind, MESSAGE_MAX_CHARS, Retry};
pub use group::{
    BlacklistEdit, BlacklistEdited, BlacklistPage, BlacklistedUser, CreateJoinStrategy, DeleteJoinStrategy,
    EditGroupBlacklist, EditStrategyWhitelist, ExecuteJoinStrategy, GetGroupBotState, GetGroupInfo,
    GetGroupMember, GetGroupMuteSetting, GroupAction, GroupBotState, GroupInfo, GroupMember, GroupMemberPage,
    GroupMuteSetting, JoinRequest, JoinRequestPage, JoinReview, ListGroupBlacklist, ListGroupMembers,
    ListJoinRequests, ListJoinStrategies, ListOp, MAX_MUTES_PER_CALL, MemberMute, MemberMutes, MemberRemoval,
    MembersRemoved, MutedMember, NewStrategy, RemoveGroupMembers, ReviewJoinRequest, SetGroupMemberMutes,
    Strategy, StrategyGroups, StrategyPage, StrategyPatch, StrategyState, UpdateJoinStrategy, WhitelistEdit,
    WhitelistUpdated,
};
pub use guild::{
    AddMemberRole, AddReaction, Announce, AnnounceSpec, ApiIdentify, ApiPermission, ApiPermissionDemand,
    ApiPermissions, AudioControl, ChannelPermissions, ChannelRef, ChannelSpec, ControlAudio, CreateAnnounce,
    CreateChannel, CreateRole, CreateSchedule, CreateThread, DeleteAnnounce, DeleteChannel, DeleteRole,
    DeleteSchedule, DeleteThread, DemandApiPermission, GetChannel, GetGuild, GetGuildMember,
    GetMemberPermissions, GetMessageSetting, GetOnlineNums, GetPins, GetReactionUsers, GetRolePermissions,
    GetSchedule, GetThread, GuildRoles, JoinMic, LeaveMic, ListApiPermissions, ListChannels,
    ListGuildMembers, ListRoleMembers, ListRoles, ListSchedules, ListThreads, MemberRemovalOptions,
    MemberRoleChannel, MessageSetting, MuteGuild, MuteMember, MuteSpec, MutedUsers, NewThread, OnlineNums,
    PermissionChange, PermissionDemand, PinMessage, PinsMessage, ReactionUsers, RecommendChannel,
    RemoveGuildMember, RemoveMemberRole, RemoveReaction, Role, RoleAnswer, RoleMemberPage, RoleSpec,
    Schedule, ScheduleBody, SetMemberPermissions, SetRolePermissions, ThreadAnswer, ThreadCreated,
    ThreadPage, UnpinMessage, UpdateChannel, UpdateRole, UpdateSchedule,
};
pub use message::{
    AckInteraction, Action, ActionType, Button, ButtonStyle, CreateDmSession, DmRequest, DmSession, ExtInfo,
    GuildMessageBody, InputNotify, InteractionAck, InteractionCode, Keyboard, KeyboardContent, KeyboardRow,
    MAX_INPUT_SECONDS, MAX_KEYBOARD_ROWS, MAX_ROW_BUTTONS, Markdown, MarkdownParam, Media, MessageBody,
    MessageSent, Modal, MsgType, Permission, RecallC2cMessage, RecallChannelMessage, RecallDmMessage,
    RecallGroupMessage, Reference, RenderData, SendC2cMessage, SendChannelMessage, SendDmMessage,
    SendGroupMessage,
};
pub use request::{EmptyObject, Endpoint, HttpRequest, RequestError};
pub(crate) use response::parse as parse_body;
pub use response::{Empty, Extra, List, WithExtra};
pub use route::{Method, Route};
pub use stream::{
    C2cStream, DEFAULT_STREAM_INTERVAL, STREAM_FINISHED, STREAM_GENERATING, SendC2cStream, StreamChunk,
    StreamContent, StreamState,
};
pub use upload::{
    DEFAULT_RETRY_DELAY, DEFAULT_RETRY_TIMEOUT, DEFAULT_UPLOAD_CONCURRENCY, FileType, FileUpload,
    FileUploaded, FinishC2cUploadPart, FinishGroupUploadPart, MAX_UPLOAD_BYTES, MAX_UPLOAD_CONCURRENCY,
    MD5_10M_BYTES, PlanError, PlannedPart, PrepareC2cUpload, PrepareGroupUpload, UploadC2cFile, UploadConfig,
    UploadGroupFile, UploadPart, UploadPartFinish, UploadPlan, UploadPrepare, UploadPrepared,
};

//! QQ's OpenAPI as a model: the state behind every route of
//! [`qqgw_proto::openapi::Route`], and the answers QQ gives.
//!
//! [`OpenApi`] is a value: feed it a request with the time —
//! [`handle(now, method, path, authorized, body)`](OpenApi::handle) — and it answers as
//! QQ would, status, headers and body, after changing its state. It dispatches with
//! [`Route::recognize`], checks what QQ checks (the method, the token, required fields,
//! QQ-API.md's limits and rules: reply windows and counts, `msg_seq` de-duplication,
//! active-message permission, keyboards, stream indices, upload parts, recall windows,
//! the ACK's deadline, menus and panels…) and answers with QQ's codes from the code
//! table ([`ERROR_CODES`](qqgw_proto::openapi::ERROR_CODES)), each body
//! `{"code", "err_code", "message", "trace_id"}` with an `X-Tps-trace-ID` header. Every
//! call is recorded ([`calls`](OpenApi::calls)) so that a test asserts what a bot did.
//!
//! The world is open where QQ's ids cannot be checked by a bot (any group or user openid
//! exists), and learnt where they can: guilds, channels, members and DMs come from the
//! events the gateway side reports ([`dispatched`](OpenApi::dispatched)) or from
//! seeding ([`add_guild`](OpenApi::add_guild), [`add_channel`](OpenApi::add_channel),
//! [`add_member`](OpenApi::add_member)). Chunked uploads hand out presigned URLs under
//! [`ApiConfig::upload_base`]; a server serves `PUT {upload_base}/{upload_id}/{index}`
//! by passing it to `handle` like any other request.
//!
//! # Examples
//!
//! ```
//! use qqgw_fake::openapi::{ApiConfig, OpenApi};
//! use qqgw_proto::Instant;
//!
//! let mut qq = OpenApi::new(ApiConfig::default());
//! qq.dispatched("GROUP_AT_MESSAGE_CREATE", "GROUP_AT_MESSAGE_CREATE:1",
//!     r#"{"id":"M1","group_openid":"G","content":"hi"}"#, Instant::ZERO);
//! let reply = br#"{"msg_type":0,"content":"hello","msg_id":"M1","msg_seq":1}"#;
//! let answer = qq.handle(Instant::ZERO, "POST", "/v2/groups/G/messages", true, reply);
//! assert_eq!(answer.status, 200);
//! // The same msg_seq again is de-duplicated, with QQ's code.
//! let again = qq.handle(Instant::ZERO, "POST", "/v2/groups/G/messages", true, reply);
//! assert_eq!((again.status, again.code()), (400, Some(40054005)));
//! assert_eq!(qq.calls().len(), 2);
//! ```

mod admin;
mod messages;

use core::time::Duration;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use qqgw_proto::Instant;
use qqgw_proto::openapi::{ErrorCode, Route};
use serde_json::{Value, json};

/// What the model is told about QQ's rules and the bot; QQ's documented figures by default.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiConfig {
    /// The bot's user id (`GET /users/@me`, authors of its guild messages).
    pub bot_user_id: String,
    /// The bot's name.
    pub bot_name: String,
    /// How long a group, guild channel or DM message or event can be replied to: 5 min.
    pub reply_window: Duration,
    /// How long a C2C message or event can be replied to: 60 min.
    pub c2c_reply_window: Duration,
    /// Replies per group message: 5.
    pub group_max_replies: u32,
    /// Replies per C2C message: 4 (QQ-API.md §17.2).
    pub c2c_max_replies: u32,
    /// Whether users and groups allow active (unprompted) messages; refused with
    /// 40034105 otherwise. Default false, as QQ answers a bot nobody opted in for.
    pub allow_active_messages: bool,
    /// Active messages per recipient per day: 1,000 (40034100 beyond).
    pub active_per_day: u32,
    /// How long an interaction can be acknowledged: 3 s, once.
    pub ack_deadline: Duration,
    /// How long the bot's own C2C and group messages can be recalled: less than 2 min.
    pub recall_window: Duration,
    /// Whether the bot is a private-domain bot (guild recall, members, threads,
    /// channel management); 11253 otherwise. Default true.
    pub private_domain: bool,
    /// Whether the bot is admin in guilds and groups (roles, mutes, join requests,
    /// members' messages); 11282 otherwise. Default true.
    pub admin: bool,
    /// Whether the bot is on QQ's whitelist for the invite-only routes (group info,
    /// members, blacklist); 11253 otherwise. Default true.
    pub whitelisted: bool,
    /// Where presigned upload URLs point: `{upload_base}/{upload_id}/{index}`. A server
    /// sets its own address here.
    pub upload_base: String,
    /// The part size of chunked uploads: 10 MiB, as QQ's example.
    pub upload_block_size: u64,
    /// `upload_config` of `upload_prepare`: parts at once (default 3).
    pub upload_concurrency: u32,
    /// `upload_config.retry_delay` in seconds (QQ's default 1).
    pub upload_retry_delay: u64,
    /// The most chunks of one stream (40054015 beyond); QQ states none, 10,000 here.
    pub max_stream_chunks: u32,
    /// The gateway URL `GET /gateway` answers.
    pub gateway_url: String,
    /// `shards` of `GET /gateway/bot`.
    pub shards: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            bot_user_id: "6158788878435714165".into(),
            bot_name: "qqgw-bot".into(),
            reply_window: Duration::from_secs(5 * 60),
            c2c_reply_window: Duration::from_secs(60 * 60),
            group_max_replies: 5,
            c2c_max_replies: 4,
            allow_active_messages: false,
            active_per_day: 1000,
            ack_deadline: Duration::from_secs(3),
            recall_window: Duration::from_secs(120),
            private_domain: true,
            admin: true,
            whitelisted: true,
            upload_base: "https://cos.example/presigned".into(),
            upload_block_size: 10 * 1024 * 1024,
            upload_concurrency: 3,
            upload_retry_delay: 1,
            max_stream_chunks: 10_000,
            gateway_url: "wss://api.sgroup.qq.com/websocket/".into(),
            shards: 1,
        }
    }
}

/// QQ's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// Headers: `Content-Type`, `X-Tps-trace-ID`, and `Retry-After` when rate limited.
    pub headers: Vec<(&'static str, String)>,
    /// The body (JSON; empty for 204).
    pub body: Vec<u8>,
}

impl Answer {
    /// QQ's error code of the answer, if it is an error.
    #[must_use]
    pub fn code(&self) -> Option<i64> {
        let value: Value = serde_json::from_slice(&self.body).ok()?;
        value.get("err_code").and_then(Value::as_i64).filter(|c| *c != 0)
    }

    /// The body as JSON (`null` when empty or not JSON).
    #[must_use]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One request the model answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Call {
    /// When it came.
    pub at: Instant,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path as sent, query included.
    pub path: String,
    /// The route it addressed; `None` for a presigned upload or an unknown path.
    pub route: Option<Route>,
    /// The path parameters, decoded.
    pub params: Vec<String>,
    /// The JSON body (`null` if none or not JSON; a presigned part's size and MD5
    /// instead of its bytes).
    pub body: Value,
    /// The status answered.
    pub status: u16,
    /// QQ's error code answered, if any.
    pub code: Option<i64>,
    /// The answer's body as JSON (`null` for none).
    pub answer: Value,
}

/// A fault scripted on the next calls.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fault {
    /// HTTP 429, 22009, with a `Retry-After` if given.
    RateLimit(Option<u64>),
    /// HTTP 500, 50055002.
    Fail,
    /// Any status and code.
    Refuse(u16, i64),
}

/// Which calls a scripted fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// Message sends and uploads (`…/messages`, `…/files`, streams).
    Sends,
    /// Every route.
    All,
}

/// Where a message lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Place {
    Group(String),
    User(String),
    Channel(String),
    Dm(String),
}

/// Something a passive reply may anchor on: a received message or an event.
#[derive(Debug, Clone)]
pub(crate) struct Anchor {
    pub(crate) at: Instant,
    pub(crate) c2c: bool,
    pub(crate) group: bool,
    pub(crate) replies: u32,
    pub(crate) expired: bool,
}

/// A message in a chat: the bot's, or a member's the gateway delivered.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    pub(crate) at: Instant,
    pub(crate) place: Place,
    pub(crate) by_bot: bool,
    pub(crate) recalled: bool,
}

/// A streamed C2C message, as QQ holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stream {
    /// The user it is sent to.
    pub user_openid: String,
    /// The text so far.
    pub text: String,
    /// The `index` of every chunk accepted, in order.
    pub indices: Vec<u32>,
    /// How many final chunks (`input_state` 10) were accepted: 1 for a stream ended once.
    pub ended: u32,
}

/// One part of a chunked upload, as QQ holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadPartState {
    /// Its offset in the file.
    pub offset: u64,
    /// Its size.
    pub len: u64,
    /// How many PUTs reached its presigned URL (failed ones included).
    pub puts: u32,
    /// The MD5 (hex) of the bytes stored, once a PUT succeeded.
    pub md5: Option<String>,
    /// Whether `upload_part_finish` reported it.
    pub finished: bool,
}

/// A chunked upload, as QQ holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadState {
    /// `group:{openid}` or `user:{openid}`.
    pub scene: String,
    /// `file_size` announced.
    pub size: u64,
    /// The parts.
    pub parts: Vec<UploadPartState>,
    /// Whether `files` merged it.
    pub merged: bool,
}

/// QQ's OpenAPI as a value: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct OpenApi {
    pub(crate) config: ApiConfig,
    pub(crate) guilds: BTreeMap<String, Value>,
    pub(crate) channels: BTreeMap<String, Value>,
    /// Guild id → user id → member.
    pub(crate) members: BTreeMap<String, BTreeMap<String, Value>>,
    /// Guild id → role id → role.
    pub(crate) roles: BTreeMap<String, BTreeMap<String, Value>>,
    pub(crate) dms: BTreeMap<String, Value>,
    /// Group openid → member openid → member.
    pub(crate) group_members: BTreeMap<String, BTreeMap<String, Value>>,
    pub(crate) blacklists: BTreeMap<String, BTreeMap<String, Value>>,
    pub(crate) mutes: BTreeMap<String, BTreeMap<String, Value>>,
    pub(crate) join_requests: BTreeMap<String, BTreeMap<String, Value>>,
    pub(crate) strategies: BTreeMap<String, Value>,
    pub(crate) pins: BTreeMap<String, Vec<String>>,
    pub(crate) schedules: BTreeMap<String, BTreeMap<String, Value>>,
    pub(crate) reactions: HashSet<(String, String, String)>,
    pub(crate) threads: BTreeMap<String, BTreeMap<String, Value>>,
    pub(crate) announces: BTreeMap<String, Value>,
    pub(crate) demands: BTreeMap<String, u32>,
    pub(crate) menu: Option<Value>,
    pub(crate) menu_version: i64,
    pub(crate) panels: BTreeMap<String, Value>,
    pub(crate) anchors: HashMap<String, Anchor>,
    pub(crate) seqs: HashSet<(String, u64)>,
    pub(crate) messages: HashMap<String, StoredMessage>,
    /// The last time each C2C user wrote, and whether a wakeup was sent since.
    pub(crate) user_activity: HashMap<String, (Instant, bool)>,
    pub(crate) active_sent: HashMap<(String, u64), u32>,
    pub(crate) interactions: HashMap<String, (Instant, bool)>,
    pub(crate) streams: BTreeMap<String, Stream>,
    pub(crate) uploads: BTreeMap<String, UploadState>,
    /// `file_info` → the scene it was uploaded for.
    pub(crate) files: HashMap<String, String>,
    faults: VecDeque<(Scope, Fault)>,
    part_failures: u32,
    pub(crate) next_id: u64,
    calls: Vec<Call>,
}

/// An answer being built: status and JSON body (`None` for an empty body).
pub(crate) type Reply = (u16, Option<Value>);

/// QQ's error answer for `code`, its message from the code table.
pub(crate) fn fail(status: u16, code: i64) -> Reply {
    let message = ErrorCode::lookup(code).map_or("error", |row| row.meaning);
    (status, Some(json!({"code": code, "err_code": code, "message": message})))
}

/// The generic "request body invalid" (12002) with a reason.
pub(crate) fn invalid(reason: &str) -> Reply {
    (
        400,
        Some(json!({"code": 12002, "err_code": 12002, "message": format!("request body invalid: {reason}")})),
    )
}

pub(crate) fn ok(value: Value) -> Reply {
    (200, Some(value))
}

pub(crate) fn no_content() -> Reply {
    (204, None)
}

impl OpenApi {
    /// A model with no state but `config`.
    #[must_use]
    pub fn new(config: ApiConfig) -> Self {
        Self {
            config,
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            members: BTreeMap::new(),
            roles: BTreeMap::new(),
            dms: BTreeMap::new(),
            group_members: BTreeMap::new(),
            blacklists: BTreeMap::new(),
            mutes: BTreeMap::new(),
            join_requests: BTreeMap::new(),
            strategies: BTreeMap::new(),
            pins: BTreeMap::new(),
            schedules: BTreeMap::new(),
            reactions: HashSet::new(),
            threads: BTreeMap::new(),
            announces: BTreeMap::new(),
            demands: BTreeMap::new(),
            menu: None,
            menu_version: 0,
            panels: BTreeMap::new(),
            anchors: HashMap::new(),
            seqs: HashSet::new(),
            messages: HashMap::new(),
            user_activity: HashMap::new(),
            active_sent: HashMap::new(),
            interactions: HashMap::new(),
            streams: BTreeMap::new(),
            uploads: BTreeMap::new(),
            files: HashMap::new(),
            faults: VecDeque::new(),
            part_failures: 0,
            next_id: 0,
            calls: Vec::new(),
        }
    }

    /// The rules it runs with.
    #[must_use]
    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// Changes the rules (e.g. [`ApiConfig::upload_base`] once a server knows its address).
    pub fn config_mut(&mut self) -> &mut ApiConfig {
        &mut self.config
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    // ---- what the gateway side reports ------------------------------------------------

    /// Notes an event the gateway dispatched, so that replies to it can be checked: its
    /// id (an `event_id` anchor) and, for a message, `d.id` (a `msg_id` anchor), with the
    /// scene's window and count; an interaction to acknowledge; and the guilds, channels,
    /// members, groups and DMs `d` names.
    pub fn dispatched(&mut self, name: &str, event_id: &str, d: &str, now: Instant) {
        let d: Value = serde_json::from_str(d).unwrap_or(Value::Null);
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let c2c = name.starts_with("C2C_") || name == "FRIEND_ADD" || d.get("user_openid").is_some();
        let group = name.starts_with("GROUP_") || d.get("group_openid").is_some();
        let anchor = Anchor { at: now, c2c, group: group && !c2c, replies: 0, expired: false };
        self.anchors.insert(event_id.to_owned(), anchor.clone());
        let message_event = name.ends_with("MESSAGE_CREATE");
        if name == "INTERACTION_CREATE" {
            if let Some(id) = text(&d, "id") {
                self.interactions.insert(id, (now, false));
            }
        } else if let (true, Some(id)) = (message_event, text(&d, "id")) {
            self.anchors.insert(id.clone(), anchor);
            let place = if name.starts_with("C2C_") {
                let user = d.pointer("/author/user_openid").and_then(Value::as_str).unwrap_or_default();
                self.user_activity.insert(user.to_owned(), (now, false));
                Some(Place::User(user.to_owned()))
            } else if name.starts_with("GROUP_") {
                text(&d, "group_openid").map(Place::Group)
            } else if name.starts_with("DIRECT_MESSAGE") {
                text(&d, "guild_id").map(Place::Dm)
            } else {
                text(&d, "channel_id").map(Place::Channel)
            };
            if let Some(place) = place {
                self.messages.insert(id, StoredMessage { at: now, place, by_bot: false, recalled: false });
            }
        }
        if name.starts_with("DIRECT_MESSAGE") {
            if let Some(guild) = text(&d, "guild_id") {
                let dm = json!({"guild_id": guild, "channel_id": text(&d, "channel_id")});
                self.dms.insert(guild, dm);
            }
        } else if let Some(guild) = text(&d, "guild_id") {
            self.add_guild(&guild, "guild");
            if let Some(channel) = text(&d, "channel_id") {
                if !self.channels.contains_key(&channel) {
                    self.add_channel(&guild, &channel, "channel", 0);
                }
            }
            if let Some(user) = d.pointer("/author/id").and_then(Value::as_str) {
                self.add_member(&guild, user, "member");
            }
        }
        if let (Some(group), Some(member)) =
            (text(&d, "group_openid"), d.pointer("/author/member_openid").and_then(Value::as_str))
        {
            let entry =
                json!({"member_openid": member, "username": member, "member_role": "member", "bot": false});
            self.group_members.entry(group).or_default().entry(member.to_owned()).or_insert(entry);
        }
        if name == "GROUP_JOIN_REQUEST" {
            if let (Some(group), Some(request)) = (text(&d, "group_openid"), text(&d, "join_request_id")) {
                self.join_requests.entry(group).or_default().insert(request, d.clone());
            }
        }
    }

    /// Ends the reply window of every message and event dispatched so far.
    pub fn expire_replies(&mut self) {
        self.anchors.values_mut().for_each(|a| a.expired = true);
    }

    // ---- seeding ----------------------------------------------------------------------

    /// Adds a guild (kept if it exists), with QQ's default roles.
    pub fn add_guild(&mut self, id: &str, name: &str) {
        if self.guilds.contains_key(id) {
            return;
        }
        let guild = json!({"id": id, "name": name, "icon": "", "owner_id": "1", "owner": false,
            "member_count": 1, "max_members": 1000, "description": "", "joined_at": "2026-01-01T00:00:00+08:00"});
        self.guilds.insert(id.to_owned(), guild);
        let roles = [("1", "everyone"), ("2", "admin"), ("4", "owner"), ("5", "channel admin")];
        let roles = roles
            .iter()
            .map(|(rid, rname)| {
                let role = json!({"id": rid, "name": rname, "color": 0, "hoist": 0, "number": 0, "member_limit": 1000});
                ((*rid).to_owned(), role)
            })
            .collect();
        self.roles.insert(id.to_owned(), roles);
        let bot = self.config.bot_user_id.clone();
        let bot_name = self.config.bot_name.clone();
        let member = json!({"user": {"id": bot, "username": bot_name, "bot": true}, "nick": "", "roles": ["2"],
            "joined_at": "2026-01-01T00:00:00+08:00"});
        self.members.entry(id.to_owned()).or_default().insert(bot, member);
    }

    /// Adds a channel of `kind` (0 text, 2 voice, 4 group, 10005 live, 10006
    /// application, 10007 forum) to a guild (added too if missing).
    pub fn add_channel(&mut self, guild: &str, id: &str, name: &str, kind: u32) {
        self.add_guild(guild, "guild");
        let channel = json!({"id": id, "guild_id": guild, "name": name, "type": kind, "sub_type": 0,
            "position": 1, "parent_id": "", "owner_id": "", "private_type": 0, "speak_permission": 1});
        self.channels.insert(id.to_owned(), channel);
    }

    /// Adds a guild member (kept if it exists).
    pub fn add_member(&mut self, guild: &str, user_id: &str, name: &str) {
        self.add_guild(guild, "guild");
        let member = json!({"user": {"id": user_id, "username": name, "bot": false}, "nick": name,
            "roles": ["1"], "joined_at": "2026-01-01T00:00:00+08:00"});
        self.members.entry(guild.to_owned()).or_default().entry(user_id.to_owned()).or_insert(member);
    }

    /// Adds a guild DM session (as `POST /users/@me/dms` or a `DIRECT_MESSAGE_CREATE`
    /// would), by the DM's `guild_id`.
    pub fn add_dm(&mut self, guild_id: &str) {
        let dm = json!({"guild_id": guild_id, "channel_id": format!("{guild_id}-channel")});
        self.dms.insert(guild_id.to_owned(), dm);
    }

    /// Adds a member to a QQ group with `role` (`member`, `admin` or `owner`).
    pub fn add_group_member(&mut self, group: &str, member_openid: &str, role: &str) {
        let member = json!({"member_openid": member_openid, "username": member_openid, "member_role": role,
            "bot": false, "joined_at": "2026-01-01T00:00:00+08:00"});
        self.group_members.entry(group.to_owned()).or_default().insert(member_openid.to_owned(), member);
    }

    // ---- scripted faults --------------------------------------------------------------

    /// The next `n` calls in `scope` are answered HTTP 429 with 22009, and
    /// `Retry-After: {seconds}` if given (replacing rate limits scripted before; 0 ends
    /// them).
    pub fn rate_limit(&mut self, scope: Scope, n: u32, retry_after: Option<u64>) {
        self.faults.retain(|(_, fault)| !matches!(fault, Fault::RateLimit(_)));
        self.faults.extend((0..n).map(|_| (scope, Fault::RateLimit(retry_after))));
    }

    /// The next `n` calls in `scope` are answered HTTP 500 with 50055002 (replacing
    /// failures scripted before; 0 ends them).
    pub fn fail(&mut self, scope: Scope, n: u32) {
        self.faults.retain(|(_, fault)| *fault != Fault::Fail);
        self.faults.extend((0..n).map(|_| (scope, Fault::Fail)));
    }

    /// The next `n` calls in `scope` are refused with `status` and `code` (a 304023 or
    /// 304024 carries `data.message_audit.audit_id`).
    pub fn refuse(&mut self, scope: Scope, n: u32, status: u16, code: i64) {
        self.faults.extend((0..n).map(|_| (scope, Fault::Refuse(status, code))));
    }

    /// The next `n` PUTs to presigned upload URLs are answered HTTP 500.
    pub fn fail_upload_parts(&mut self, n: u32) {
        self.part_failures = n;
    }

    // ---- observation ------------------------------------------------------------------

    /// Every call so far, in order.
    #[must_use]
    pub fn calls(&self) -> &[Call] {
        &self.calls
    }

    /// The calls so far, removed from the model (a server moves them to its record).
    pub fn take_calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.calls)
    }

    /// A stream by its `stream_msg_id`.
    #[must_use]
    pub fn stream(&self, stream_msg_id: &str) -> Option<&Stream> {
        self.streams.get(stream_msg_id)
    }

    /// Every stream, by `stream_msg_id`.
    #[must_use]
    pub fn streams(&self) -> &BTreeMap<String, Stream> {
        &self.streams
    }

    /// A chunked upload by its `upload_id`.
    #[must_use]
    pub fn upload(&self, upload_id: &str) -> Option<&UploadState> {
        self.uploads.get(upload_id)
    }

    /// Whether the bot acknowledged the interaction `id` (`d.id` of `INTERACTION_CREATE`).
    #[must_use]
    pub fn acked(&self, interaction_id: &str) -> bool {
        self.interactions.get(interaction_id).is_some_and(|(_, acked)| *acked)
    }

    // ---- the routes -------------------------------------------------------------------

    /// Answers one request as QQ would: `path` with its query, `authorized` whether its
    /// `Authorization: QQBot …` token is valid (the server checks it), `body` as sent.
    pub fn handle(
        &mut self,
        now: Instant,
        method: &str,
        path: &str,
        authorized: bool,
        body: &[u8],
    ) -> Answer {
        let (bare, query) = path.split_once('?').unwrap_or((path, ""));
        let query = parse_query(query);
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let recognized = Route::recognize(method, bare);
        let presigned = self.presigned(method, bare);
        let mut retry_after = None;
        let (status, answer) = if let Some((upload, index)) = &presigned {
            self.store_part(upload, *index, body)
        } else if let Some((route, params)) = &recognized {
            if authorized {
                match self.fault(*route) {
                    Some(Fault::RateLimit(after)) => {
                        retry_after = after;
                        fail(429, 22009)
                    }
                    Some(Fault::Fail) => fail(500, 50055002),
                    Some(Fault::Refuse(status, code)) => {
                        let (status, mut answer) = fail(status, code);
                        if let (true, Some(Value::Object(fields))) =
                            (matches!(code, 304023 | 304024), &mut answer)
                        {
                            fields.insert(
                                "data".into(),
                                json!({"message_audit": {"audit_id": "mock-audit-1"}}),
                            );
                        }
                        (status, answer)
                    }
                    None => self.route(now, *route, params, &query, json.as_ref()),
                }
            } else {
                fail(401, 11244)
            }
        } else if Route::ALL.iter().any(|r| Route::recognize(r.method().as_str(), bare).is_some()) {
            (405, Some(json!({"code": 405, "err_code": 405, "message": "method not allowed"})))
        } else {
            (404, Some(json!({"code": 404, "err_code": 404, "message": "no such API"})))
        };
        let trace = format!("mock-trace-{}", self.next());
        let mut answer = answer;
        if let Some(Value::Object(fields)) = &mut answer {
            if fields.contains_key("err_code") {
                fields.insert("trace_id".into(), json!(trace));
            }
        }
        let code = answer.as_ref().and_then(|a| a.get("err_code")).and_then(Value::as_i64);
        let recorded_body = match presigned {
            Some(_) => json!({"size": body.len(), "md5": md5_hex(body)}),
            None => json.clone().unwrap_or(Value::Null),
        };
        let (route, params) = recognized.map_or((None, Vec::new()), |(r, p)| (Some(r), p));
        self.calls.push(Call {
            at: now,
            method: method.to_owned(),
            path: path.to_owned(),
            route,
            params,
            body: recorded_body,
            status,
            code,
            answer: answer.clone().unwrap_or(Value::Null),
        });
        let mut headers = vec![("Content-Type", "application/json".to_owned()), ("X-Tps-trace-ID", trace)];
        if let Some(after) = retry_after {
            headers.push(("Retry-After", after.to_string()));
        }
        let body = answer.map(|a| a.to_string().into_bytes()).unwrap_or_default();
        Answer { status, headers, body }
    }

    /// The scripted fault for the next call of `route`, if one applies.
    fn fault(&mut self, route: Route) -> Option<Fault> {
        let (scope, _) = self.faults.front()?;
        let applies = match scope {
            Scope::All => true,
            Scope::Sends => messages::is_send(route),
        };
        if applies { self.faults.pop_front().map(|(_, fault)| fault) } else { None }
    }

    /// `PUT {upload_base path}/{upload_id}/{index}`: the upload and part, if `path` is one.
    fn presigned(&self, method: &str, path: &str) -> Option<(String, u32)> {
        if method != "PUT" {
            return None;
        }
        let base = self
            .config
            .upload_base
            .split("://")
            .nth(1)
            .and_then(|rest| rest.find('/').and_then(|at| rest.get(at..)));
        let rest = path.strip_prefix(base.unwrap_or("/presigned"))?.strip_prefix('/')?;
        let (upload, index) = rest.split_once('/')?;
        Some((upload.to_owned(), index.parse().ok()?))
    }

    fn store_part(&mut self, upload: &str, index: u32, body: &[u8]) -> Reply {
        let failing = self.part_failures > 0;
        let Some(part) = self.uploads.get_mut(upload).and_then(|u| u.parts.get_mut(index as usize)) else {
            return (404, Some(json!({"message": "no such upload part"})));
        };
        part.puts += 1;
        if failing {
            self.part_failures -= 1;
            return (500, Some(json!({"message": "scripted part failure"})));
        }
        if body.len() as u64 != part.len {
            return (
                400,
                Some(json!({"message": format!("part {index} is {} bytes, not {}", body.len(), part.len)})),
            );
        }
        part.md5 = Some(md5_hex(body));
        (200, None)
    }

    fn route(
        &mut self,
        now: Instant,
        route: Route,
        params: &[String],
        query: &Query,
        body: Option<&Value>,
    ) -> Reply {
        if let Some(reply) = self.messages(now, route, params, query, body) {
            return reply;
        }
        if let Some(reply) = self.admin(now, route, params, query, body) {
            return reply;
        }
        (
            501,
            Some(
                json!({"code": 501, "err_code": 501, "message": format!("the model has no handler for {route}")}),
            ),
        )
    }
}

/// A request's query parameters, decoded.
pub(crate) type Query = BTreeMap<String, String>;

fn parse_query(query: &str) -> Query {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

/// Percent-decoding, lenient: a malformed escape stays as it is.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (byte, hex) {
            (b'%', Some(value)) => {
                out.push(value);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3339 text for a model instant (counted from 2026-09-01T00:00:00+08:00).
pub(crate) fn timestamp(now: Instant) -> String {
    let seconds = now.as_millis() / 1000;
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    format!("2026-09-{:02}T{:02}:{:02}:{:02}+08:00", 1 + days % 28, rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests;

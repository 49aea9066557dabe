//! The OpenAPI table: every route builds its request and reads an answer, paths cannot
//! be changed by ids, and QQ's error bodies are read as one error type.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeSet, HashSet};

use proptest::prelude::{Just, any, prop_assert, prop_assert_eq, prop_oneof, proptest};
use proptest::strategy::Strategy as _;
use qqgw_proto::openapi::*;
use serde_json::{Value, json};

/// A value changed by `f`: how a test sets fields of a `#[non_exhaustive]` body.
fn with<T>(mut value: T, f: impl FnOnce(&mut T)) -> T {
    f(&mut value);
    value
}

/// Builds `request`, checks its route, method, path and body, and reads `answer` (as
/// HTTP 200) into the route's response.
fn check<E: Endpoint>(
    seen: &mut BTreeSet<Route>,
    request: E,
    path: &str,
    body: Option<Value>,
    answer: &str,
) -> E::Response {
    let http = request.request().unwrap_or_else(|e| panic!("{}: {e}", E::ROUTE));
    assert_eq!(http.route, E::ROUTE);
    assert_eq!(http.method, E::ROUTE.method());
    assert_eq!(http.path, path, "{}", E::ROUTE);
    let sent = http.body.as_deref().map(|b| serde_json::from_slice::<Value>(b).unwrap());
    assert_eq!(sent, body, "{}", E::ROUTE);
    assert_eq!(http.content_type.is_some(), http.body.is_some());
    let bare = path.split('?').next().unwrap();
    let (route, _) = Route::recognize(http.method.as_str(), bare).unwrap();
    assert_eq!(route, E::ROUTE);
    assert!(seen.insert(E::ROUTE), "{} tested twice", E::ROUTE);
    E::parse_response(200, None, answer.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_route_builds_its_request_and_reads_its_answer() {
    let s = &mut BTreeSet::new();

    // §5, §6, §8: messages.
    let sent = check(
        s,
        SendC2cMessage::new("U1", MessageBody::text("hi").reply_to("ROBOT1.0_m").msg_seq(2)),
        "/v2/users/U1/messages",
        Some(json!({"msg_type": 0, "content": "hi", "msg_id": "ROBOT1.0_m", "msg_seq": 2})),
        r#"{"id":"ROBOT1.0_s","timestamp":"2026-09-01T10:00:00+08:00","ext_info":{"ref_idx":"REFIDX_1"}}"#,
    );
    assert_eq!(sent.id.as_deref(), Some("ROBOT1.0_s"));
    assert_eq!(sent.ext_info.unwrap().ref_idx.as_deref(), Some("REFIDX_1"));
    let chunk = with(StreamChunk::default(), |c| {
        c.input_mode = Some("replace".into());
        c.input_state = Some(1);
        c.index = Some(0);
        c.content_type = Some("markdown".into());
        c.content_raw = Some("Thinking".into());
        c.msg_id = Some("ROBOT1.0_m".into());
        c.msg_seq = Some(1);
    });
    let first = check(
        s,
        SendC2cStream::new("U1", chunk),
        "/v2/users/U1/stream_messages",
        Some(json!({"input_mode":"replace","input_state":1,"index":0,"content_type":"markdown",
            "content_raw":"Thinking","msg_id":"ROBOT1.0_m","msg_seq":1})),
        r#"{"id":"a1b2","timestamp":1757000000,"remain_msg_len":"12"}"#,
    );
    assert_eq!((first.id.as_deref(), first.remain_msg_len), (Some("a1b2"), Some(12)));
    check(s, RecallC2cMessage::new("U1", "ROBOT1.0_s"), "/v2/users/U1/messages/ROBOT1.0_s", None, "");
    let group = MessageBody::markdown(Markdown::template("tpl").param("name", ["a", "b"]))
        .keyboard(Keyboard::template("kb"))
        .reply_to_event("GROUP_ADD_ROBOT:1");
    check(
        s,
        SendGroupMessage::new("G1", group),
        "/v2/groups/G1/messages",
        Some(json!({"msg_type": 2, "markdown": {"custom_template_id": "tpl",
            "params": [{"key": "name", "values": ["a", "b"]}]},
            "keyboard": {"id": "kb"}, "event_id": "GROUP_ADD_ROBOT:1"})),
        r#"{"id":"ROBOT1.0_g","timestamp":"2026-09-01T10:00:00+08:00"}"#,
    );
    check(s, RecallGroupMessage::new("G1", "M"), "/v2/groups/G1/messages/M", None, "{}");

    // §7: uploads.
    let uploaded = check(
        s,
        UploadC2cFile::new("U1", FileUpload::url(FileType::Image, "https://x/a.png")),
        "/v2/users/U1/files",
        Some(json!({"file_type": 1, "url": "https://x/a.png", "srv_send_msg": false})),
        r#"{"file_uuid":"f","file_info":"INFO","ttl":"3600"}"#,
    );
    assert_eq!((uploaded.file_info.as_deref(), uploaded.ttl), (Some("INFO"), Some(3600)));
    let md5 = "0123456789abcdef0123456789abcdef";
    let sha1 = "0123456789abcdef0123456789abcdef01234567";
    let prepared = check(
        s,
        PrepareC2cUpload::new("U1", UploadPrepare::new(FileType::File, 20, "a.bin", md5, sha1, md5)),
        "/v2/users/U1/upload_prepare",
        Some(
            json!({"file_type": 4, "file_size": "20", "file_name": "a.bin", "md5": md5, "sha1": sha1, "md5_10m": md5}),
        ),
        r#"{"upload_id":"up","block_size":"10485760","parts":[{"index":0,"presigned_url":"https://cos/0","block_size":20}],
            "upload_config":{"concurrency":2,"retry_timeout":300,"retry_delay":1}}"#,
    );
    assert_eq!((prepared.block_size, prepared.parts.len()), (Some(10_485_760), 1));
    check(
        s,
        FinishC2cUploadPart::new("U1", UploadPartFinish::new("up", 0, 20, md5)),
        "/v2/users/U1/upload_part_finish",
        Some(json!({"upload_id": "up", "part_index": 0, "block_size": "20", "md5": md5})),
        "{}",
    );
    check(
        s,
        UploadGroupFile::new("G1", FileUpload::merge(FileType::Video, "up").file_name("v.mp4")),
        "/v2/groups/G1/files",
        Some(
            json!({"file_type": 2, "url": "", "srv_send_msg": false, "file_name": "v.mp4", "upload_id": "up"}),
        ),
        r#"{"file_uuid":"f","file_info":"INFO","ttl":0,"raw_url":"https://cos/raw"}"#,
    );
    check(
        s,
        PrepareGroupUpload::new("G1", UploadPrepare::new(FileType::Voice, 5, "a.silk", md5, sha1, md5)),
        "/v2/groups/G1/upload_prepare",
        Some(
            json!({"file_type": 3, "file_size": "5", "file_name": "a.silk", "md5": md5, "sha1": sha1, "md5_10m": md5}),
        ),
        r#"{"upload_id":"up","block_size":5,"parts":[],"concurrency":"3"}"#,
    );
    check(
        s,
        FinishGroupUploadPart::new("G1", UploadPartFinish::new("up", 1, 5, md5)),
        "/v2/groups/G1/upload_part_finish",
        Some(json!({"upload_id": "up", "part_index": 1, "block_size": "5", "md5": md5})),
        "",
    );

    // §5.3, §5.4: guild channels and DMs.
    let message = check(
        s,
        SendChannelMessage::new("C1", GuildMessageBody::text("pong").reply_to("08a")),
        "/channels/C1/messages",
        Some(json!({"content": "pong", "msg_id": "08a"})),
        r#"{"id":"08b","channel_id":"C1","guild_id":"G","content":"pong","timestamp":"2026-09-01T10:00:00+08:00",
            "author":{"id":"1","bot":true},"seq_in_channel":"7","new_field":{"x":1}}"#,
    );
    assert_eq!((message.id.as_deref(), message.extra["new_field"]["x"].as_i64()), (Some("08b"), Some(1)));
    check(
        s,
        RecallChannelMessage::new("C1", "08b").hidetip(true),
        "/channels/C1/messages/08b?hidetip=true",
        None,
        "",
    );
    let dm = check(
        s,
        CreateDmSession::new(DmRequest::new("USER", "GUILD")),
        "/users/@me/dms",
        Some(json!({"recipient_id": "USER", "source_guild_id": "GUILD"})),
        r#"{"guild_id":"DMG","channel_id":"DMC","create_time":"1757000000"}"#,
    );
    assert_eq!(dm.create_time.unwrap().unix_seconds(), Some(1_757_000_000));
    check(
        s,
        SendDmMessage::new("DMG", GuildMessageBody::image("https://x/a.png")),
        "/dms/DMG/messages",
        Some(json!({"image": "https://x/a.png"})),
        r#"{"id":"08c"}"#,
    );
    check(s, RecallDmMessage::new("DMG", "08c"), "/dms/DMG/messages/08c", None, "");

    // §13.9 reactions.
    check(s, AddReaction::new("C1", "08b", 1, "4"), "/channels/C1/messages/08b/reactions/1/4", None, "");
    check(
        s,
        RemoveReaction::new("C1", "08b", 2, "👍"),
        "/channels/C1/messages/08b/reactions/2/%F0%9F%91%8D",
        None,
        "",
    );
    let mut users = GetReactionUsers::new("C1", "08b", 1, "4");
    users.cookie = Some("next page".into());
    users.limit = Some(50);
    let page = check(
        s,
        users,
        "/channels/C1/messages/08b/reactions/1/4?cookie=next%20page&limit=50",
        None,
        r#"{"users":[{"id":"1","username":"a","avatar":"u"}],"cookie":"c","is_end":false}"#,
    );
    assert_eq!((page.users.len(), page.is_end), (1, Some(false)));

    // §9, §10, §11.
    check(s, AckInteraction::success("i-1"), "/interactions/i-1", Some(json!({"code": 0})), "{}");
    let me = check(
        s,
        GetMe::new(),
        "/users/@me",
        None,
        r#"{"id":"1","username":"bot","avatar":"u","bot":true,"share_url":"https://s","welcome_msg":"hi"}"#,
    );
    assert_eq!((me.username.as_deref(), me.extra["share_url"].as_str()), (Some("bot"), Some("https://s")));
    let guilds = check(
        s,
        GetMyGuilds::new().after("100").limit(100u32),
        "/users/@me/guilds?after=100&limit=100",
        None,
        r#"[{"id":"1","name":"g","owner":false,"joined_at":"2026-01-01T00:00:00+08:00","member_count":5}]"#,
    );
    assert_eq!(guilds[0].member_count, Some(5));
    let link = check(
        s,
        GenerateUrlLink::new(UrlLinkRequest::new("from-web")),
        "/v2/generate_url_link",
        Some(json!({"callback_data": "from-web"})),
        r#"{"url":"https://qun.qq.com/x"}"#,
    );
    assert_eq!(link.link(), Some("https://qun.qq.com/x"));
    let menu = check(
        s,
        GetMenu::new(),
        "/v2/menu",
        None,
        r#"{"version":3,"menu":{"items":[{"name":"Help","type":"send_message","send_message":"/help"}]}}"#,
    );
    assert_eq!(menu.menu.unwrap().items[0].kind.as_deref(), Some("send_message"));
    check(
        s,
        SetMenu::new(MenuUpdate::new(Menu::new([MenuItem::send_message("Help", "/help")]))),
        "/v2/menu",
        Some(json!({"menu": {"items": [{"name": "Help", "type": "send_message", "send_message": "/help"}]}})),
        r#"{"version":4}"#,
    );
    let panels = check(
        s,
        ListPanels::new("c2c").limit(20),
        "/v2/panels?scope=c2c&limit=20",
        None,
        r#"{"records":[{"panel_id":"p","scope":"c2c","target_type":"all","panel":{"items":[{"name":"/ask","type":"command"}]},
            "created_at":"2026-09-01T10:00:00+08:00","version":1}],"next_cursor":"","is_end":true}"#,
    );
    assert_eq!(panels.records[0].panel.as_ref().unwrap().items.len(), 1);
    check(
        s,
        CreatePanel::new(NewPanel::new("group", Panel::new([PanelItem::command("/ask", "ask me")]))),
        "/v2/panels",
        Some(
            json!({"scope": "group", "panel": {"items": [{"name": "/ask", "desc": "ask me", "type": "command"}]}}),
        ),
        r#"{"panel_id":"p"}"#,
    );
    check(s, GetPanel::new("p"), "/v2/panels/p", None, r#"{"panel_id":"p","user_openids":["U1"]}"#);
    check(
        s,
        UpdatePanel::new("p", PanelUpdate::new(Panel::new([PanelItem::link("Docs", "read", "https://x")]))),
        "/v2/panels/p",
        Some(
            json!({"panel": {"items": [{"name": "Docs", "desc": "read", "type": "link", "link": "https://x"}]}}),
        ),
        r#"{"version":2}"#,
    );
    check(s, DeletePanel::new("p"), "/v2/panels/p", None, "");
    check(
        s,
        SetPanelTargets::new("p", PanelTargets::users(ListOp::Add, ["U1"])),
        "/v2/panels/p/target",
        Some(json!({"op": "add", "user_openids": ["U1"]})),
        "{}",
    );

    // §12: QQ groups.
    let info = check(
        s,
        GetGroupInfo::new("G1"),
        "/v2/groups/G1/info",
        None,
        r#"{"group_openid":"G1","group_name":"n","group_tags":["a"],"group_member_num":"42"}"#,
    );
    assert_eq!(info.group_member_num, Some(42));
    let state = check(
        s,
        GetGroupBotState::new("G1"),
        "/v2/groups/G1/bot_state",
        None,
        r#"{"member_openid":"B","allow_proactive_msg":true,"recv_msg_setting":"all","member_role":"admin"}"#,
    );
    assert_eq!(state.allow_proactive_msg, Some(true));
    let requests = check(
        s,
        ListJoinRequests::new("G1").cursor("").limit(50u32),
        "/v2/groups/G1/join_request_list?cursor=&limit=50",
        None,
        r#"{"list":[{"join_request_id":"j","member_openid":"M","apply_source":"self_apply",
            "verify_info":{"method":"verify_message","verify_message":"hi"}}],"next_cursor":"n"}"#,
    );
    assert_eq!(requests.list[0].join_request_id.as_deref(), Some("j"));
    check(
        s,
        ReviewJoinRequest::new("G1", "M", JoinReview::decline("j", Some("no".into()), true)),
        "/v2/groups/G1/approval_join_request/M",
        Some(
            json!({"op": "decline", "join_request_id": "j", "reject_reason": "no", "add_to_member_blacklist": true}),
        ),
        "{}",
    );
    let mutes = check(
        s,
        GetGroupMuteSetting::new("G1"),
        "/v2/groups/G1/restrict_chat_setting",
        None,
        r#"{"global_rule":{"mode":"none"},"members":[{"member_openid":"M","mute_expire_at":"2026-09-02T10:00:00+08:00"}]}"#,
    );
    assert_eq!(mutes.members.len(), 1);
    check(
        s,
        SetGroupMemberMutes::new(
            "G1",
            MemberMutes::new([MemberMute::add("M", "2026-09-02T10:00:00+08:00"), MemberMute::remove("N")]),
        ),
        "/v2/groups/G1/restrict_chat_setting",
        Some(
            json!({"members": [{"op": "add", "member_openid": "M", "mute_expire_at": "2026-09-02T10:00:00+08:00"},
            {"op": "del", "member_openid": "N", "mute_expire_at": ""}]}),
        ),
        "",
    );
    let strategies = check(
        s,
        ListJoinStrategies::new(),
        "/v2/groups/join_approval_strategy",
        None,
        r#"{"strategies":[{"strategy_id":"st","group_ids":["10****499"],"whitelist_user_count":3,"is_enable":"on"}],"next_cursor":""}"#,
    );
    assert_eq!(strategies.strategies[0].group_ids, ["10****499"]);
    check(
        s,
        CreateJoinStrategy::new(NewStrategy::new(StrategyGroups::Numbers(vec![123]))),
        "/v2/groups/join_approval_strategy",
        Some(json!({"group_ids": [123]})),
        r#"{"strategy_id":"st","is_enable":"on","expire_at":"2027-09-01T00:00:00+08:00"}"#,
    );
    let patch = with(StrategyPatch::default(), |p| {
        p.is_enable = Some("off".into());
        p.group_action = Some(GroupAction::new(ListOp::Del, StrategyGroups::Openids(vec!["G1".into()])));
    });
    check(
        s,
        UpdateJoinStrategy::new("st", patch),
        "/v2/groups/join_approval_strategy/st",
        Some(json!({"is_enable": "off", "group_action": {"op": "del", "group_openids": ["G1"]}})),
        r#"{"is_enable":"off"}"#,
    );
    check(s, DeleteJoinStrategy::new("st"), "/v2/groups/join_approval_strategy/st", None, "");
    check(
        s,
        ExecuteJoinStrategy::of("st"),
        "/v2/groups/join_approval_strategy/st/execute",
        Some(json!({})),
        "{}",
    );
    check(
        s,
        EditStrategyWhitelist::new("st", WhitelistEdit::new(ListOp::Add, ["10001"])),
        "/v2/groups/join_approval_strategy/st/whitelist_users",
        Some(json!({"op": "add", "whitelist_users": ["10001"]})),
        r#"{"strategy_id":"st","whitelist_user_count":"1","updated_at":"2026-09-01T10:00:00+08:00"}"#,
    );
    let members = check(
        s,
        ListGroupMembers::new("G1").cursor("c"),
        "/v2/groups/G1/members?cursor=c",
        None,
        r#"{"members":[{"member_openid":"M","member_role":"owner","bot":false}],"next_cursor":""}"#,
    );
    assert_eq!(members.members[0].member_role.as_deref(), Some("owner"));
    check(s, GetGroupMember::new("G1", "M"), "/v2/groups/G1/members/M", None, r#"{"member_openid":"M"}"#);
    check(
        s,
        RemoveGroupMembers::new("G1", MemberRemoval::new(["M"])),
        "/v2/groups/G1/batch_remove_members",
        Some(json!({"member_openids": ["M"]})),
        r#"{"remove_members_result":"success","add_to_member_blacklist_fail_openids":[]}"#,
    );
    check(
        s,
        ListGroupBlacklist::new("G1").limit(100u32),
        "/v2/groups/G1/member_blacklist?limit=100",
        None,
        r#"{"users":[{"member_openid":"M","banned_at":"2026-09-01T10:00:00+08:00"}],"next_cursor":""}"#,
    );
    let edited = check(
        s,
        EditGroupBlacklist::new("G1", BlacklistEdit::new(ListOp::Add, ["M"])),
        "/v2/groups/G1/member_blacklist",
        Some(json!({"op": "add", "member_openids": ["M"]})),
        r#"{"fail_openids":["M"]}"#,
    );
    assert_eq!(edited.fail_openids, ["M"]);

    // §13: guilds.
    check(s, GetGuild::new("1"), "/guilds/1", None, r#"{"id":"1","name":"g","max_members":"300"}"#);
    let channels = check(
        s,
        ListChannels::new("1"),
        "/guilds/1/channels",
        None,
        r#"{"channels":[{"id":"c","type":0,"name":"talk"},{"id":"d","type":"4"}]}"#,
    );
    assert_eq!(channels.iter().map(|c| c.kind).collect::<Vec<_>>(), [Some(0), Some(4)]);
    check(
        s,
        CreateChannel::new("1", ChannelSpec::new("talk", 0)),
        "/guilds/1/channels",
        Some(json!({"name": "talk", "type": 0})),
        r#"{"id":"c","name":"talk"}"#,
    );
    check(s, GetChannel::new("c"), "/channels/c", None, r#"{"id":"c","permissions":"6"}"#);
    check(
        s,
        UpdateChannel::new("c", with(ChannelSpec::default(), |c| c.position = Some(3))),
        "/channels/c",
        Some(json!({"position": 3})),
        r#"{"id":"c","position":3}"#,
    );
    check(s, DeleteChannel::new("c"), "/channels/c", None, "");
    let online = check(s, GetOnlineNums::new("c"), "/channels/c/online_nums", None, r#"{"online_nums":7}"#);
    assert_eq!(online.online_nums, Some(7));
    let guild_members = check(
        s,
        ListGuildMembers::new("1").after("0").limit(400u32),
        "/guilds/1/members?after=0&limit=400",
        None,
        r#"[{"user":{"id":"u"},"nick":"","roles":["1",4],"joined_at":"2026-01-01T00:00:00+08:00"}]"#,
    );
    assert_eq!(guild_members[0].roles, ["1", "4"]);
    let role_members = check(
        s,
        ListRoleMembers::new("1", "5").start_index("0").limit(10u32),
        "/guilds/1/roles/5/members?start_index=0&limit=10",
        None,
        r#"{"data":[{"user":{"id":"u"}}],"next":"10"}"#,
    );
    assert_eq!(role_members.next.as_deref(), Some("10"));
    check(s, GetGuildMember::new("1", "u"), "/guilds/1/members/u", None, r#"{"user":{"id":"u"},"nick":"n"}"#);
    check(
        s,
        RemoveGuildMember::new(
            "1",
            "u",
            with(MemberRemovalOptions::new(), |o| {
                o.add_blacklist = Some(true);
                o.delete_history_msg_days = Some(-1);
            }),
        ),
        "/guilds/1/members/u",
        Some(json!({"add_blacklist": true, "delete_history_msg_days": -1})),
        "",
    );
    let roles = check(
        s,
        ListRoles::new("1"),
        "/guilds/1/roles",
        None,
        r#"{"guild_id":"1","roles":[{"id":"1","name":"all","color":4278245297,"hoist":0,"number":"12"}],"role_num_limit":"32"}"#,
    );
    assert_eq!((roles.roles[0].number, roles.role_num_limit), (Some(12), Some(32)));
    check(
        s,
        CreateRole::new("1", with(RoleSpec::named("mods"), |r| r.hoist = Some(1))),
        "/guilds/1/roles",
        Some(json!({"name": "mods", "hoist": 1})),
        r#"{"role_id":"10","role":{"id":"10","name":"mods","hoist":"1"}}"#,
    );
    check(
        s,
        UpdateRole::new("1", "10", with(RoleSpec::default(), |r| r.color = Some(1))),
        "/guilds/1/roles/10",
        Some(json!({"color": 1})),
        r#"{"guild_id":"1","role_id":"10","role":{"id":"10"}}"#,
    );
    check(s, DeleteRole::new("1", "10"), "/guilds/1/roles/10", None, "");
    check(
        s,
        AddMemberRole::new("1", "u", "5", MemberRoleChannel::channel("c")),
        "/guilds/1/members/u/roles/5",
        Some(json!({"channel": {"id": "c"}})),
        "",
    );
    check(
        s,
        RemoveMemberRole::new("1", "u", "10", MemberRoleChannel::none()),
        "/guilds/1/members/u/roles/10",
        Some(json!({})),
        "",
    );
    check(
        s,
        GetMemberPermissions::new("c", "u"),
        "/channels/c/members/u/permissions",
        None,
        r#"{"channel_id":"c","user_id":"u","permissions":"7"}"#,
    );
    check(
        s,
        SetMemberPermissions::new("c", "u", PermissionChange::new(4, 1)),
        "/channels/c/members/u/permissions",
        Some(json!({"add": "4", "remove": "1"})),
        "",
    );
    check(
        s,
        GetRolePermissions::new("c", "10"),
        "/channels/c/roles/10/permissions",
        None,
        r#"{"channel_id":"c","role_id":"10","permissions":"1"}"#,
    );
    check(
        s,
        SetRolePermissions::new("c", "10", PermissionChange::new(1, 0)),
        "/channels/c/roles/10/permissions",
        Some(json!({"add": "1", "remove": "0"})),
        "",
    );
    let apis = check(
        s,
        ListApiPermissions::new("1"),
        "/guilds/1/api_permission",
        None,
        r#"{"apis":[{"path":"/guilds/{guild_id}/members/{user_id}","method":"DELETE","desc":"kick","auth_status":1}]}"#,
    );
    assert_eq!(apis.apis[0].auth_status, Some(1));
    check(
        s,
        DemandApiPermission::new(
            "1",
            PermissionDemand::new("c", "GET", "/guilds/{guild_id}/members", "list"),
        ),
        "/guilds/1/api_permission/demand",
        Some(
            json!({"channel_id": "c", "api_identify": {"path": "/guilds/{guild_id}/members", "method": "GET"}, "desc": "list"}),
        ),
        r#"{"guild_id":"1","channel_id":"c","api_identify":{"path":"/x","method":"GET"},"title":"t","desc":"d"}"#,
    );
    let setting = check(
        s,
        GetMessageSetting::new("1"),
        "/guilds/1/message/setting",
        None,
        r#"{"disable_create_dm":"false","disable_push_msg":true,"channel_ids":["c"],"channel_push_max_num":3}"#,
    );
    assert_eq!((setting.disable_create_dm, setting.disable_push_msg), (Some(false), Some(true)));
    let muted = check(
        s,
        MuteGuild::new("1", MuteSpec::seconds(60).users(["u"])),
        "/guilds/1/mute",
        Some(json!({"mute_seconds": "60", "user_ids": ["u"]})),
        r#"{"user_ids":["u"]}"#,
    );
    assert_eq!(muted.user_ids, ["u"]);
    check(
        s,
        MuteMember::new("1", "u", MuteSpec::until(1_757_000_000)),
        "/guilds/1/members/u/mute",
        Some(json!({"mute_end_timestamp": "1757000000"})),
        "",
    );
    check(
        s,
        CreateAnnounce::new("1", AnnounceSpec::message("c", "08b")),
        "/guilds/1/announces",
        Some(json!({"message_id": "08b", "channel_id": "c"})),
        r#"{"guild_id":"1","channel_id":"c","message_id":"08b","announces_type":0}"#,
    );
    check(s, DeleteAnnounce::new("1", "all"), "/guilds/1/announces/all", None, "");
    let pins = check(
        s,
        PinMessage::new("c", "08b"),
        "/channels/c/pins/08b",
        None,
        r#"{"guild_id":"1","channel_id":"c","message_ids":["08b"]}"#,
    );
    assert_eq!(pins.message_ids, ["08b"]);
    check(s, UnpinMessage::new("c", "all"), "/channels/c/pins/all", None, "");
    check(s, GetPins::new("c"), "/channels/c/pins", None, r#"{"message_ids":[]}"#);
    let schedules = check(
        s,
        ListSchedules::new("c").since(1_757_000_000_000u64),
        "/channels/c/schedules?since=1757000000000",
        None,
        r#"[{"id":"s","name":"meet","start_timestamp":"1757000000000","end_timestamp":1757003600000,"remind_type":"1"}]"#,
    );
    assert_eq!(schedules[0].end_timestamp.as_deref(), Some("1757003600000"));
    check(s, GetSchedule::new("c", "s"), "/channels/c/schedules/s", None, r#"{"id":"s"}"#);
    check(
        s,
        CreateSchedule::new("c", ScheduleBody::new(Schedule::new("meet", 1, 2))),
        "/channels/c/schedules",
        Some(json!({"schedule": {"name": "meet", "start_timestamp": "1", "end_timestamp": "2"}})),
        r#"{"id":"s","name":"meet"}"#,
    );
    check(
        s,
        UpdateSchedule::new("c", "s", ScheduleBody::new(Schedule::new("meet", 1, 3))),
        "/channels/c/schedules/s",
        Some(json!({"schedule": {"name": "meet", "start_timestamp": "1", "end_timestamp": "3"}})),
        r#"{"id":"s"}"#,
    );
    check(s, DeleteSchedule::new("c", "s"), "/channels/c/schedules/s", None, "");
    check(
        s,
        ControlAudio::new("c", AudioControl::play("https://x/a.mp3", "playing")),
        "/channels/c/audio",
        Some(json!({"audio_url": "https://x/a.mp3", "text": "playing", "status": 0})),
        "{}",
    );
    check(s, JoinMic::of("c"), "/channels/c/mic", Some(json!({})), "{}");
    check(s, LeaveMic::of("c"), "/channels/c/mic", Some(json!({})), "{}");
    let threads = check(
        s,
        ListThreads::new("c"),
        "/channels/c/threads",
        None,
        r#"{"threads":[{"guild_id":"1","channel_id":"c","author_id":"u","thread_info":{"thread_id":"t","title":"T"}}],"is_finish":1}"#,
    );
    assert_eq!((threads.threads.len(), threads.is_finish), (1, Some(true)));
    check(s, GetThread::new("c", "t"), "/channels/c/threads/t", None, r#"{"thread":{"author_id":"u"}}"#);
    check(
        s,
        CreateThread::new("c", NewThread::new("T", "body", 3)),
        "/channels/c/threads",
        Some(json!({"title": "T", "content": "body", "format": 3})),
        r#"{"task_id":"k","create_time":"1757000000"}"#,
    );
    check(s, DeleteThread::new("c", "t"), "/channels/c/threads/t", None, "");

    // §14: gateway.
    let gateway =
        check(s, GetGateway::new(), "/gateway", None, r#"{"url":"wss://api.sgroup.qq.com/websocket/"}"#);
    assert_eq!(gateway.shards, 1);
    let bot = check(
        s,
        GetGatewayBot::new(),
        "/gateway/bot",
        None,
        r#"{"url":"wss://x/","shards":2,"session_start_limit":{"total":1000,"remaining":999,"reset_after":1,"max_concurrency":1}}"#,
    );
    assert_eq!(bot.shards, 2);

    let missing: Vec<_> = Route::ALL.iter().filter(|r| !s.contains(r)).collect();
    assert!(missing.is_empty(), "routes without a test: {missing:?}");
    assert_eq!(s.len(), 93);
}

#[test]
fn the_table_holds_93_routes_each_documented_unique_and_recognized() {
    assert_eq!(Route::ALL.len(), 93);
    let mut pairs = HashSet::new();
    let mut names = HashSet::new();
    for &route in Route::ALL {
        assert!(
            !route.doc().is_empty() && !route.section().is_empty() && !route.rate().is_empty(),
            "{route}"
        );
        assert!(pairs.insert((route.method(), route.template())), "{route} twice");
        assert!(names.insert(route.name()), "{} twice", route.name());
        assert!(route.template().starts_with('/'));
        assert!(!route.template().contains("webhook"), "deprecated route {route}");
        let params: Vec<String> = route.params().iter().map(|p| format!("{p}-Ω/x")).collect();
        let path = route.path(&params).unwrap();
        assert_eq!(Route::recognize(route.method().as_str(), &path), Some((route, params)), "{route}");
        if !route.params().is_empty() {
            let empty = vec![String::new(); route.params().len()];
            assert!(matches!(route.path(&empty), Err(RequestError::EmptyParam { .. })));
        }
    }
    let docs_table = Route::ALL.iter().filter(|r| r.template() == "/users/@me/guilds").count();
    assert_eq!(docs_table, 1);
}

#[test]
fn an_empty_id_is_refused_not_sent() {
    let error = SendGroupMessage::new("", MessageBody::text("x")).request().unwrap_err();
    assert_eq!(error, RequestError::EmptyParam { route: Route::SendGroupMessage, name: "group_openid" });
    assert!(RecallC2cMessage::new("u", "").request().is_err());
}

proptest! {
    #[test]
    fn no_id_changes_the_path(
        route in proptest::sample::select(Route::ALL.to_vec()),
        ids in proptest::collection::vec(
            prop_oneof![
                "\\PC{1,12}",
                Just(".".to_owned()),
                Just("..".to_owned()),
                Just("a/../b".to_owned()),
                Just("?x=1#f".to_owned()),
                Just("%2F%".to_owned()),
                Just("@me".to_owned()),
                Just("多语言 ids".to_owned()),
            ],
            4,
        ),
    ) {
        let ids = &ids[..route.params().len()];
        let path = route.path(ids).unwrap();
        prop_assert!(path.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#')));
        prop_assert!(!path.split('/').any(|s| s == "." || s == ".."));
        let (found, params) = Route::recognize(route.method().as_str(), &path).unwrap();
        prop_assert_eq!(found, route);
        prop_assert_eq!(params, ids.to_vec());
    }

    #[test]
    fn typed_requests_keep_their_ids(user in "\\PC{1,20}", message in "\\PC{1,20}") {
        let request = RecallC2cMessage::new(user.clone(), message.clone()).request().unwrap();
        let (route, params) = Route::recognize(request.method.as_str(), &request.path).unwrap();
        prop_assert_eq!(route, Route::RecallC2cMessage);
        prop_assert_eq!(params, vec![user.clone(), message]);
        let request = SendC2cMessage::new(user.clone(), MessageBody::text("x")).request().unwrap();
        prop_assert_eq!(Route::recognize("POST", &request.path), Some((Route::SendC2cMessage, vec![user])));
    }

    #[test]
    fn any_body_parses_or_errs_without_panicking(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = SendC2cMessage::parse_response(status, Some("t"), &body);
        let _ = ListChannels::parse_response(status, None, &body);
        let _ = RecallC2cMessage::parse_response(status, None, &body);
        let error = ApiError::from_response(None, status, Some("trace"), &body);
        prop_assert!(error.message.chars().count() <= MESSAGE_MAX_CHARS + 1);
        prop_assert!(!error.to_string().contains('\n'));
    }
}

#[test]
fn error_bodies_err_code_first_then_code() {
    let both = br#"{"code":11,"err_code":40034005,"message":"expired","trace_id":"body-trace"}"#;
    let error = SendC2cMessage::parse_response(400, Some("header-trace"), both).unwrap_err();
    assert_eq!((error.code, error.trace_id.as_deref()), (40034005, Some("body-trace")));
    assert_eq!((error.status, error.route), (Some(400), Some(Route::SendC2cMessage)));
    let code_only = br#"{"code":22009,"message":"slow down"}"#;
    let error = SendGroupMessage::parse_response(429, Some("header-trace"), code_only).unwrap_err();
    assert_eq!((error.code, error.trace_id.as_deref()), (22009, Some("header-trace")));
    assert_eq!((error.kind(), error.retry()), (ErrorKind::Rate, Retry::Backoff));
    let zero_err_code = br#"{"err_code":0,"code":304027,"message":"m"}"#;
    assert_eq!(SendChannelMessage::parse_response(400, None, zero_err_code).unwrap_err().code, 304027);
    let string_code = br#"{"err_code":"11243","message":"m"}"#;
    assert_eq!(GetMe::parse_response(401, None, string_code).unwrap_err().retry(), Retry::RefreshToken);
}

#[test]
fn a_2xx_body_with_a_code_is_an_error_and_carries_the_audit_id() {
    let audit = br#"{"code":304023,"message":"push message is waiting for audit","data":{"message_audit":{"audit_id":"A-1"}}}"#;
    let error = SendChannelMessage::parse_response(202, None, audit).unwrap_err();
    assert_eq!((error.code, error.audit_id.as_deref()), (304023, Some("A-1")));
    assert!(error.is_audit());
    assert_eq!(error.kind(), ErrorKind::Audit);
    assert!(error.to_string().contains("audit id A-1"), "{error}");
    let ok_with_zero = br#"{"err_code":0,"id":"x"}"#;
    assert_eq!(SendC2cMessage::parse_response(200, None, ok_with_zero).unwrap().id.as_deref(), Some("x"));
}

#[test]
fn bodies_that_are_not_json_become_bounded_errors() {
    let html = format!(
        "<html><head><title>502 Bad Gateway</title></head>\n<body>{}</body></html>",
        "x".repeat(5000)
    );
    let error = GetGuild::parse_response(502, Some("t-502"), html.as_bytes()).unwrap_err();
    assert_eq!((error.code, error.status), (0, Some(502)));
    assert_eq!((error.kind(), error.retry()), (ErrorKind::Transient, Retry::Later));
    assert!(error.message.starts_with("<html>"));
    assert!(error.message.chars().count() <= MESSAGE_MAX_CHARS + 1);
    let line = error.to_string();
    assert!(
        !line.contains('\n') && line.contains("t-502") && line.starts_with("GET /guilds/{guild_id}:"),
        "{line}"
    );
    let garbage = GetGuild::parse_response(200, None, b"not json").unwrap_err();
    assert!(garbage.message.starts_with("unreadable answer"), "{garbage}");
    let wrong_shape = GetGuild::parse_response(200, None, b"[1,2]").unwrap_err();
    assert_eq!(wrong_shape.code, 0);
    let huge_message = format!(r#"{{"code":1,"message":"{}"}}"#, "长".repeat(10_000));
    let error = GetGuild::parse_response(400, None, huge_message.as_bytes()).unwrap_err();
    assert_eq!(error.message.chars().count(), MESSAGE_MAX_CHARS + 1);
}

#[test]
fn no_content_successes_are_empty() {
    for (status, body) in [(204, ""), (200, ""), (200, "{}"), (200, " \n"), (200, r#"{"extra":1}"#)] {
        assert_eq!(
            DeleteChannel::parse_response(status, None, body.as_bytes()),
            Ok(Empty),
            "{status} {body:?}"
        );
    }
    assert!(DeleteChannel::parse_response(404, None, b"").is_err());
    // A 204 to a batch mute reads as no muted users.
    assert!(MuteGuild::parse_response(204, None, b"").unwrap().user_ids.is_empty());
}

#[test]
fn one_error_per_class() {
    let cases = [
        (11241, ErrorKind::Auth, Retry::Never),
        (11244, ErrorKind::Auth, Retry::RefreshToken),
        (11253, ErrorKind::Permission, Retry::Never),
        (40034102, ErrorKind::Permission, Retry::Never),
        (40034105, ErrorKind::Permission, Retry::Never),
        (20028, ErrorKind::Rate, Retry::Backoff),
        (40034100, ErrorKind::Quota, Retry::Never),
        (40034128, ErrorKind::Reply, Retry::Never),
        (40034005, ErrorKind::Reply, Retry::Never),
        (304103, ErrorKind::Reply, Retry::Never),
        (304027, ErrorKind::Reply, Retry::Never),
        (40054005, ErrorKind::Dedup, Retry::Never),
        (40034029, ErrorKind::Param, Retry::Never),
        (40034006, ErrorKind::Content, Retry::Never),
        (40034004, ErrorKind::Media, Retry::Later),
        (40054016, ErrorKind::Target, Retry::Never),
        (50055002, ErrorKind::Transient, Retry::Later),
        (304024, ErrorKind::Audit, Retry::Never),
        (40064004, ErrorKind::Recall, Retry::Never),
        (610013, ErrorKind::Rate, Retry::Backoff),
        (610002, ErrorKind::Permission, Retry::Never),
        (501004, ErrorKind::Transient, Retry::Later),
        (501005, ErrorKind::Param, Retry::Never),
    ];
    for (code, kind, retry) in cases {
        let body = format!(r#"{{"err_code":{code},"message":"m"}}"#);
        let error = SendC2cMessage::parse_response(400, None, body.as_bytes()).unwrap_err();
        assert_eq!((error.kind(), error.retry()), (kind, retry), "{code}");
    }
    // Unknown codes fall back on the status.
    for (status, kind, retry) in [
        (401, ErrorKind::Auth, Retry::RefreshToken),
        (429, ErrorKind::Rate, Retry::Backoff),
        (500, ErrorKind::Transient, Retry::Later),
        (504, ErrorKind::Transient, Retry::Later),
        (400, ErrorKind::Other, Retry::Never),
    ] {
        let error = GetMe::parse_response(status, None, br#"{"code":987654321}"#).unwrap_err();
        assert_eq!((error.kind(), error.retry()), (kind, retry), "{status}");
    }
}

#[test]
fn the_code_table_covers_the_codes_the_client_classifies() {
    for code in [
        20028, 22009, 1100100, 304027, 40054005, 40034024, 304026, 304028, 40034102, 40034105, 304045,
        304050, 11253, 11254, 11264, 11265, 304003, 304023, 304024, 1100101, 50006, 50037, 50057, 11241,
        11243, 11244, 304018,
    ] {
        assert!(ErrorCode::lookup(code).is_some(), "{code}");
    }
    assert!(ERROR_CODES.len() > 200);
}

#[test]
fn message_bodies_refuse_what_qq_refuses() {
    let too_many_rows = MessageBody::text("x").keyboard(Keyboard::rows(
        (0..6).map(|i| vec![Button::callback(format!("b{i}"), "B", "d")]).collect::<Vec<_>>(),
    ));
    let error = SendC2cMessage::new("U", too_many_rows).request().unwrap_err();
    assert!(error.to_string().contains("40034029"), "{error}");
    let wide = Keyboard::rows([(0..6).map(|i| Button::callback(format!("b{i}"), "B", "d"))]);
    assert!(wide.validate().is_err());
    let twice = Keyboard::rows([[Button::callback("a", "A", "1"), Button::callback("a", "B", "2")]]);
    assert!(twice.validate().is_err());
    let full = (0..5).map(|r| (0..5).map(move |c| Button::command(format!("{r}.{c}"), "A", "/x")));
    assert!(Keyboard::rows(full).validate().is_ok());

    let both = MessageBody::text("x").reply_to("m").reply_to_event("e");
    assert!(SendC2cMessage::new("U", both).request().is_err());
    let wakeup = MessageBody::text("x").wakeup();
    assert!(SendC2cMessage::new("U", wakeup.clone()).request().is_ok());
    assert!(SendC2cMessage::new("U", wakeup.clone().reply_to("m")).request().is_err());
    assert!(SendGroupMessage::new("G", wakeup).request().is_err());
    assert!(SendC2cMessage::new("U", MessageBody::input_notify(60).reply_to("m")).request().is_ok());
    assert!(SendC2cMessage::new("U", MessageBody::input_notify(61)).request().is_err());
    assert!(SendGroupMessage::new("G", MessageBody::input_notify(5)).request().is_err());
    let text_and_markdown =
        with(MessageBody::markdown(Markdown::text("y")), |b| b.content = Some("x".into()));
    assert!(SendC2cMessage::new("U", text_and_markdown).request().is_err());
    assert!(SendChannelMessage::new("C", GuildMessageBody::default()).request().is_err());
}

#[test]
fn a_custom_keyboard_serializes_as_qq_documents_it() {
    let keyboard = Keyboard::rows([[
        Button::callback("ok", "OK", "data")
            .style(ButtonStyle::Blue)
            .group_id("g")
            .modal(Modal::new("Sure?")),
        Button::command("ask", "Ask", "/ask")
            .enter(true)
            .reply(true)
            .permission(Permission::Users(vec!["u".into()])),
        Button::link("web", "Web", "https://x").style(ButtonStyle::Other(4)).unsupport_tips("update QQ"),
    ]]);
    let body =
        MessageBody::markdown(Markdown::text("**hi**").force_verify_image_resource(true)).keyboard(keyboard);
    let json = serde_json::to_value(&body).unwrap();
    assert_eq!(
        json,
        json!({
            "msg_type": 2,
            "markdown": {"content": "**hi**", "force_verify_image_resource": true},
            "keyboard": {"content": {"rows": [{"buttons": [
                {"id": "ok", "render_data": {"label": "OK", "visited_label": "OK", "style": 1},
                 "action": {"type": 1, "permission": {"type": 2}, "data": "data"},
                 "group_id": "g", "modal": {"content": "Sure?"}},
                {"id": "ask", "render_data": {"label": "Ask", "visited_label": "Ask", "style": 0},
                 "action": {"type": 2, "permission": {"type": 0, "specify_user_ids": ["u"]}, "data": "/ask",
                            "enter": true, "reply": true}},
                {"id": "web", "render_data": {"label": "Web", "visited_label": "Web", "style": 4},
                 "action": {"type": 0, "permission": {"type": 2}, "data": "https://x", "unsupport_tips": "update QQ"}}
            ]}]}}
        })
    );
    let media = serde_json::to_value(MessageBody::media("INFO").quote("REFIDX_9")).unwrap();
    assert_eq!(
        media,
        json!({"msg_type": 7, "media": {"file_info": "INFO"}, "message_reference": {"message_id": "REFIDX_9"}})
    );
    let notify = serde_json::to_value(MessageBody::input_notify(10).reply_to("m")).unwrap();
    assert_eq!(
        notify,
        json!({"msg_type": 6, "input_notify": {"input_type": 1, "input_second": 10}, "msg_id": "m"})
    );
    let guild = serde_json::to_value(GuildMessageBody::text("x").quote("08a", true)).unwrap();
    assert_eq!(
        guild,
        json!({"content": "x", "message_reference": {"message_id": "08a", "ignore_get_message_error": true}})
    );
}

#[test]
fn the_api_base_is_the_2026_host() {
    assert_eq!(qqgw_proto::API_BASE, "https://api.bot.qq.com");
    assert_eq!(qqgw_proto::LEGACY_API_BASE, "https://api.sgroup.qq.com");
    let request = GetGatewayBot::new().request().unwrap();
    assert_eq!(request.url(qqgw_proto::API_BASE), "https://api.bot.qq.com/gateway/bot");
    assert_eq!(request.url("http://127.0.0.1:8080/"), "http://127.0.0.1:8080/gateway/bot");
}

/// Drives a stream on a virtual clock: a push every 7 ms, QQ answering each chunk 120 ms
/// after it was sent.
#[test]
fn a_thousand_pushes_stream_in_order_paced_and_finish_once() {
    use core::time::Duration;
    use qqgw_proto::Instant;

    let mut stream = C2cStream::reply_to("U", "ROBOT1.0_m").msg_seq(3);
    let mut now = Instant::ZERO;
    let mut chunks: Vec<(Instant, StreamChunk)> = Vec::new();
    let mut answer_at: Option<Instant> = None;
    let mut pushed = String::new();
    let mut pushes = 0;
    while !stream.is_closed() {
        if pushes < 1000 && now.as_millis() >= pushes * 7 {
            let piece = format!("w{pushes} ");
            assert!(stream.push(&piece));
            pushed.push_str(&piece);
            pushes += 1;
            if pushes == 1000 {
                stream.finish();
                assert!(!stream.push("late"));
            }
        }
        if answer_at.is_some_and(|at| at <= now) {
            answer_at = None;
            let body = if chunks.len() == 1 { r#"{"id":"S"}"# } else { "{}" };
            stream.handle_response(now, SendC2cStream::parse_response(200, None, body.as_bytes()));
        }
        if let Some(request) = stream.poll_request(now) {
            assert!(answer_at.is_none(), "two chunks in flight");
            let http = request.request().unwrap();
            assert_eq!(http.path, "/v2/users/U/stream_messages");
            chunks.push((now, request.body));
            answer_at = Some(now + Duration::from_millis(120));
        }
        if let Some(at) = stream.poll_timeout() {
            assert!(at >= now || answer_at.is_none());
        }
        now += Duration::from_millis(1);
        assert!(now.as_millis() < 60_000, "the stream never finished");
    }
    assert!(matches!(stream.state(), StreamState::Finished));
    assert!(chunks.len() > 2);
    let mut previous = String::new();
    for (i, (at, chunk)) in chunks.iter().enumerate() {
        assert_eq!(chunk.index, Some(u32::try_from(i).unwrap()));
        assert_eq!(chunk.msg_seq, Some(3));
        assert_eq!(chunk.msg_id.as_deref(), Some("ROBOT1.0_m"));
        assert_eq!(chunk.input_mode.as_deref(), Some("replace"));
        assert_eq!(chunk.stream_msg_id.is_some(), i > 0);
        let text = chunk.content_raw.clone().unwrap();
        assert!(text.starts_with(&previous), "chunk {i} rewrites delivered text");
        previous = text;
        if i > 0 {
            assert!(at.saturating_duration_since(chunks[i - 1].0) >= DEFAULT_STREAM_INTERVAL);
        }
        let last = i == chunks.len() - 1;
        assert_eq!(chunk.input_state, Some(if last { STREAM_FINISHED } else { STREAM_GENERATING }));
    }
    assert_eq!(previous, pushed);
    assert_eq!(stream.delivered(), pushed);
    assert_eq!(stream.poll_request(now), None);
}

#[test]
fn a_stream_stops_at_the_first_error_and_closes_with_a_newline_when_nothing_is_left() {
    use qqgw_proto::Instant;

    let now = Instant::ZERO;
    let mut stream = C2cStream::reply_to_event("U", "C2C_MSG_RECEIVE:1").content(StreamContent::Text);
    stream.finish();
    let only = stream.poll_request(now).unwrap().body;
    assert_eq!((only.index, only.input_state, only.content_raw.as_deref()), (Some(0), Some(10), Some("\n")));
    assert_eq!(
        (only.event_id.as_deref(), only.content_type.as_deref()),
        (Some("C2C_MSG_RECEIVE:1"), Some("text"))
    );
    stream.handle_response(now, SendC2cStream::parse_response(200, None, br#"{"id":"S"}"#));
    assert!(stream.is_closed());

    let mut failing = C2cStream::reply_to("U", "m").wakeup(true);
    failing.push("a");
    assert_eq!(failing.poll_request(now).unwrap().body.is_wakeup, Some(true));
    let refused = SendC2cStream::parse_response(400, None, br#"{"err_code":40034128,"message":"spent"}"#);
    failing.handle_response(now, refused);
    failing.push("b");
    failing.finish();
    assert!(matches!(failing.state(), StreamState::Failed(e) if e.code == 40034128));
    assert_eq!((failing.poll_request(Instant::MAX), failing.poll_timeout()), (None, None));

    let mut no_id = C2cStream::reply_to("U", "m");
    no_id.push("a");
    no_id.poll_request(now).unwrap();
    no_id.handle_response(now, SendC2cStream::parse_response(200, None, b"{}"));
    assert!(matches!(no_id.state(), StreamState::Failed(_)));
}

/// An `upload_prepare` answer for `size` bytes in parts of `block`, each part's size
/// given or not as `given` says, in the order `order`.
fn prepare_answer(size: u64, block: u64, given: &[bool], order: &[usize], as_strings: bool) -> String {
    let count = usize::try_from(size.div_ceil(block)).unwrap();
    let parts: Vec<Value> = order
        .iter()
        .filter(|&&i| i < count)
        .map(|&i| {
            let len = block.min(size - block * i as u64);
            let mut part = json!({"index": i, "presigned_url": format!("https://cos/{i}")});
            if given.get(i).copied().unwrap_or(true) {
                part["block_size"] = if as_strings { json!(len.to_string()) } else { json!(len) };
            }
            part
        })
        .collect();
    let block = if as_strings { json!(block.to_string()) } else { json!(block) };
    json!({"upload_id": "up", "block_size": block, "parts": parts, "concurrency": 4}).to_string()
}

proptest! {
    #[test]
    fn any_valid_upload_plan_tiles_the_file(
        block in 1u64..=20_000_000,
        count in 1usize..=40,
        last_fraction in 1u64..=1000,
        given in proptest::collection::vec(any::<bool>(), 40),
        order in Just((0..40).collect::<Vec<usize>>()).prop_shuffle(),
        as_strings in any::<bool>(),
    ) {
        let last = (block * last_fraction).div_ceil(1000).max(1);
        let size = block * (count as u64 - 1) + last;
        let answer = prepare_answer(size, block, &given, &order, as_strings);
        let prepared = PrepareC2cUpload::parse_response(200, None, answer.as_bytes()).unwrap();
        let plan = prepared.plan(size).unwrap();
        prop_assert_eq!(plan.parts.len(), count);
        prop_assert_eq!(plan.concurrency, 4);
        let mut offset = 0;
        for (i, part) in plan.parts.iter().enumerate() {
            prop_assert_eq!(part.index as usize, i);
            prop_assert_eq!(part.offset, offset);
            prop_assert!(part.len > 0);
            prop_assert_eq!(&part.presigned_url, &format!("https://cos/{i}"));
            offset += part.len;
        }
        prop_assert_eq!(offset, size);
        // The same answer for a file one byte longer or shorter is refused, unless the
        // last part's size is unstated and it can grow or shrink within a block.
        let last_stated = given.get(count - 1).copied().unwrap_or(true);
        prop_assert_eq!(prepared.plan(size + 1).is_ok(), !last_stated && last < block);
        prop_assert_eq!(prepared.plan(size - 1).is_ok(), !last_stated && last > 1);
    }
}

#[test]
fn upload_plans_that_do_not_fit_are_refused() {
    let plan = |answer: &str, size: u64| {
        PrepareGroupUpload::parse_response(200, None, answer.as_bytes()).unwrap().plan(size)
    };
    let good = r#"{"upload_id":"up","block_size":5,"parts":[{"index":0,"presigned_url":"u0"},{"index":1,"presigned_url":"u1"}]}"#;
    let ok = plan(good, 8).unwrap();
    assert_eq!((ok.concurrency, ok.retry_timeout.as_secs(), ok.retry_delay.as_secs()), (1, 300, 1));
    for (answer, size) in [
        (good, 11),
        (good, 5),
        (r#"{"block_size":5,"parts":[{"index":0,"presigned_url":"u"}]}"#, 5),
        (r#"{"upload_id":"up","block_size":5,"parts":[{"index":1,"presigned_url":"u"}]}"#, 5),
        (
            r#"{"upload_id":"up","block_size":5,"parts":[{"index":0,"presigned_url":"u"},{"index":0,"presigned_url":"u"}]}"#,
            10,
        ),
        (r#"{"upload_id":"up","block_size":5,"parts":[{"index":0}]}"#, 5),
        (r#"{"upload_id":"up","parts":[{"index":0,"presigned_url":"u"}]}"#, 5),
        (r#"{"upload_id":"up","block_size":5,"parts":[{"index":0,"presigned_url":"u","block_size":0}]}"#, 5),
        (r#"{"upload_id":"up","block_size":5,"parts":[]}"#, 5),
        (good, 0),
    ] {
        assert!(plan(answer, size).is_err(), "{answer} for {size} bytes");
    }
    let nested = r#"{"upload_id":"up","block_size":"5","parts":[{"index":"0","presigned_url":"u","block_size":"5"}],
        "upload_config":{"concurrency":"1000","retry_timeout":"60","retry_delay":2},"concurrency":3}"#;
    let settings = plan(nested, 5).unwrap();
    assert_eq!(
        (settings.concurrency, settings.retry_timeout.as_secs(), settings.retry_delay.as_secs()),
        (16, 60, 2)
    );
    let body =
        serde_json::to_value(settings.part_finish(&settings.parts[0], "0123456789abcdef0123456789abcdef"))
            .unwrap();
    assert_eq!(
        body,
        json!({"upload_id": "up", "part_index": 0, "block_size": "5", "md5": "0123456789abcdef0123456789abcdef"})
    );
    let merge = serde_json::to_value(settings.merge(FileType::Image).send_now(false)).unwrap();
    assert_eq!(merge, json!({"file_type": 1, "url": "", "srv_send_msg": false, "upload_id": "up"}));
    let prepare = UploadPrepare::new(FileType::File, 0, "x", "0".repeat(32), "0".repeat(40), "0".repeat(32));
    assert!(PrepareC2cUpload::new("U", prepare).request().is_err());
    let bad_hash = UploadPrepare::new(FileType::File, 1, "x", "xyz", "0".repeat(40), "0".repeat(32));
    assert!(PrepareC2cUpload::new("U", bad_hash).request().is_err());
}

#[test]
fn only_idempotent_routes_and_deduplicated_replies_are_repeatable() {
    let reply = MessageBody::text("x").reply_to("M");
    let repeatable = |request: &HttpRequest| request.repeatable;
    assert!(!repeatable(&SendGroupMessage::new("G", reply.clone()).request().unwrap()));
    assert!(repeatable(&SendGroupMessage::new("G", reply.msg_seq(1)).request().unwrap()));
    assert!(!repeatable(
        &SendC2cMessage::new("U", MessageBody::text("active").msg_seq(1)).request().unwrap()
    ));
    assert!(!repeatable(
        &SendChannelMessage::new("C", GuildMessageBody::text("x").reply_to("M")).request().unwrap()
    ));
    assert!(repeatable(&GetGuild::new("G").request().unwrap()));
    assert!(repeatable(&AckInteraction::success("I").request().unwrap()));
    assert!(repeatable(
        &FinishGroupUploadPart::new(
            "G",
            UploadPartFinish::new("u", 0, 1, "0123456789abcdef0123456789abcdef")
        )
        .request()
        .unwrap()
    ));
    for &route in Route::ALL {
        if route.method() != Method::Post {
            assert!(route.idempotent(), "{route}");
        }
    }
}

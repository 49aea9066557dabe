//! The whole OpenAPI through the client against the mock: every route once, as QQ would
//! receive it and as the client reads the answer; every class of QQ's errors with the
//! retries the code table allows; interaction ACKs and recalls.

use std::collections::BTreeSet;
use std::time::Duration;

use qqgw_client::api::{
    CallError, ErrorKind, FileType, InteractionCode, Outgoing, ReplyTo, Retry, RetryPolicy, Target,
};
use qqgw_client::model::Interaction as InteractionEvent;
use qqgw_client::openapi::*;
use qqgw_client::{Api, Client, Context, EventHandler, Intents, Runtime};
use qqgw_mock::{MockGateway, Record};
use serde_json::json;

use super::{WAIT, bounded, config, mock, mock_with, started, stop};

/// Checks the call the mock received last: its route, method, path, token and body.
fn last_call(record: &Record, route: Route, path: &str) -> serde_json::Value {
    let call = record.api_calls.last().expect("a call");
    assert_eq!(call.route, Some(route), "{call:?}");
    assert_eq!(call.method, route.method().as_str());
    assert_eq!(call.path, path, "{route}");
    assert!(call.authorization.as_deref().is_some_and(|a| a.starts_with("QQBot ")), "{route}");
    if call.body.is_object() {
        assert_eq!(call.content_type.as_deref(), Some("application/json"), "{route}");
    }
    assert!(call.accepted(), "{route}: {} {:?}", call.status, call.answer);
    call.body.clone()
}

pub(crate) async fn every_route_is_called_as_qq_documents_and_its_answer_read<R: Runtime + Default>() {
    // Boxed: ninety-odd awaits make a future too large for a small test thread's stack.
    bounded::<R, _>(
        WAIT,
        Box::pin(async {
            let mock = mock_with(|c| c.allow_active_messages = true);
            let (client, events) = started::<R>(&mock, config(&mock).build()).await;
            let api = client.api();
            let seen = &mut BTreeSet::new();
            // Calls `$call`, checks the request the mock got, returns the typed answer.
            macro_rules! check {
                ($route:ident, $path:expr, $call:expr) => {{
                    let answer = $call.await.unwrap_or_else(|e| panic!("{}: {e}", Route::$route));
                    let body = last_call(&mock.record(), Route::$route, &$path);
                    assert!(seen.insert(Route::$route), "{} twice", Route::$route);
                    (answer, body)
                }};
            }
            mock.openapi(|qq| {
                qq.add_channel("G1", "C1", "general", 0);
                qq.add_member("G1", "U9", "nine");
                qq.add_group_member("GR", "M2", "member");
            });
            mock.dispatch(
                0,
                "C2C_MESSAGE_CREATE",
                json!({"id": "CM", "content": "x", "author": {"user_openid": "U1"}}),
            );
            mock.dispatch(
                0,
                "GROUP_AT_MESSAGE_CREATE",
                json!({"id": "GM", "group_openid": "GR", "content": "x"}),
            );
            // An interaction, as the gateway would report it (the bot lacks INTERACTION), with
            // all the time it needs to be acknowledged.
            mock.openapi(|qq| {
                qq.config_mut().ack_deadline = Duration::from_secs(3600);
                qq.dispatched(
                    "INTERACTION_CREATE",
                    "INTERACTION_CREATE:1",
                    r#"{"id":"I1","type":11}"#,
                    qqgw_proto::Instant::ZERO,
                );
            });
            mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
            let user = api.user("U1");
            let group = api.group("GR");
            let guild = api.guild("G1");
            let channel = api.channel("C1");

            // Messages, streams, recall (§5, §6, §8).
            let (sent, body) = check!(
                SendC2cMessage,
                "/v2/users/U1/messages",
                user.send(Outgoing::text("hi").reply_to(ReplyTo::Message("CM".into())))
            );
            assert_eq!(body, json!({"msg_type": 0, "content": "hi", "msg_id": "CM", "msg_seq": 1}));
            assert!(sent.ref_idx.as_deref().is_some_and(|r| r.starts_with("REFIDX_")));
            let c2c_id = sent.id.unwrap();
            let mut stream = user.stream("CM").interval(Duration::ZERO);
            stream.push("streamed").await.unwrap();
            let body = last_call(&mock.record(), Route::SendC2cStream, "/v2/users/U1/stream_messages");
            assert_eq!(
                (body["index"].clone(), body["input_mode"].clone(), body["msg_seq"].clone()),
                (json!(0), json!("replace"), json!(2))
            );
            stream.finish().await.unwrap();
            seen.insert(Route::SendC2cStream);
            check!(RecallC2cMessage, format!("/v2/users/U1/messages/{c2c_id}"), user.recall(&c2c_id));
            let (sent, _) = check!(SendGroupMessage, "/v2/groups/GR/messages", group.send("active"));
            check!(
                RecallGroupMessage,
                format!("/v2/groups/GR/messages/{}", sent.id.unwrap()),
                group.recall(&api_id(&mock))
            );
            let (sent, body) =
                check!(SendChannelMessage, "/channels/C1/messages", channel.send("to the channel"));
            assert_eq!(body, json!({"content": "to the channel"}));
            let channel_msg = sent.id.unwrap();
            check!(
                RecallChannelMessage,
                format!("/channels/C1/messages/{channel_msg}?hidetip=true"),
                channel.recall(&channel_msg, true)
            );
            let (dm, body) = check!(CreateDmSession, "/users/@me/dms", api.create_dm("U9", "G1"));
            assert_eq!(body, json!({"recipient_id": "U9", "source_guild_id": "G1"}));
            let dm = api.dm(dm.guild_id.unwrap());
            let (sent, _) = check!(SendDmMessage, format!("/dms/{}/messages", dm_id(&mock)), dm.send("psst"));
            let dm_msg = sent.id.unwrap();
            check!(
                RecallDmMessage,
                format!("/dms/{}/messages/{dm_msg}?hidetip=false", dm_id(&mock)),
                dm.recall(&dm_msg, false)
            );

            // Uploads (§7): by URL, and chunked.
            let (media, body) =
                check!(UploadC2cFile, "/v2/users/U1/files", user.upload(FileType::Image, "https://x/a.png"));
            assert_eq!(body, json!({"file_type": 1, "url": "https://x/a.png", "srv_send_msg": false}));
            assert!(media.file_info.starts_with("FILEINFO_user:U1"));
            check!(UploadGroupFile, "/v2/groups/GR/files", group.upload(FileType::Video, "https://x/a.mp4"));
            for (target, prepare, finish) in [
                ("users/U1", Route::PrepareC2cUpload, Route::FinishC2cUploadPart),
                ("groups/GR", Route::PrepareGroupUpload, Route::FinishGroupUploadPart),
            ] {
                let source = qqgw_client::api::UploadSource::bytes(vec![7u8; 1000]);
                let mut upload = if target.starts_with("users") {
                    user.upload_file(FileType::File, "a.bin", source)
                } else {
                    group.upload_file(FileType::File, "a.bin", source)
                };
                upload.run().await.unwrap();
                let record = mock.record();
                let prepared = record.calls_of(prepare);
                assert_eq!(prepared[0].path, format!("/v2/{target}/upload_prepare"));
                assert_eq!(prepared[0].body["file_size"], json!("1000"));
                assert_eq!(prepared[0].body["md5"].as_str().map(str::len), Some(32));
                let finished = record.calls_of(finish);
                assert_eq!(finished[0].body["part_index"], json!(0));
                assert!(finished[0].accepted());
                let put = record.api_calls.iter().find(|c| c.method == "PUT" && c.route.is_none()).unwrap();
                assert_eq!(put.authorization, None, "the token never goes to a presigned URL");
                seen.extend([prepare, finish]);
            }

            // Reactions (§13.9).
            check!(AddReaction, "/channels/C1/messages/M1/reactions/1/4", channel.react("M1", 1, "4"));
            let (users, _) = check!(
                GetReactionUsers,
                "/channels/C1/messages/M1/reactions/1/4",
                channel.reactions("M1", 1, "4", None)
            );
            assert_eq!(users.users.len(), 1);
            check!(RemoveReaction, "/channels/C1/messages/M1/reactions/1/4", channel.unreact("M1", 1, "4"));

            // §9, §10, §11, §14.
            check!(AckInteraction, "/interactions/I1", api.interaction("I1").ack(InteractionCode::Success));
            let (me, _) = check!(GetMe, "/users/@me", api.me());
            assert_eq!(me.id.as_deref(), Some(mock.config().bot_user_id.as_str()));
            assert!(me.extra.contains_key("share_url"), "unknown fields are kept");
            let (guilds, _) = check!(GetMyGuilds, "/users/@me/guilds", api.guilds());
            assert!(guilds.iter().any(|g| g.id.as_deref() == Some("G1")));
            let (link, body) = check!(GenerateUrlLink, "/v2/generate_url_link", api.share_link("from-docs"));
            assert_eq!((body, link.link().is_some()), (json!({"callback_data": "from-docs"}), true));
            let menu = Menu::new([
                MenuItem::send_message("help", "/help"),
                MenuItem::link("docs", "https://bot.q.qq.com"),
            ]);
            let (version, _) = check!(SetMenu, "/v2/menu", api.set_menu(menu));
            let (got, _) = check!(GetMenu, "/v2/menu", api.menu());
            assert_eq!((got.version, got.menu.map(|m| m.items.len())), (version.version, Some(2)));
            let panel = qqgw_client::openapi::Panel::new([PanelItem::command("/roll", "roll a die")]);
            let mut new_panel = NewPanel::new("group", panel.clone());
            new_panel.target_type = Some("specific".into());
            let (created, _) = check!(CreatePanel, "/v2/panels", api.create_panel(new_panel));
            let id = created.panel_id.unwrap();
            let (page, _) = check!(ListPanels, "/v2/panels?scope=group", api.panels("group", None));
            assert_eq!(page.records.len(), 1);
            check!(GetPanel, format!("/v2/panels/{id}"), api.panel(&id).get());
            check!(UpdatePanel, format!("/v2/panels/{id}"), api.panel(&id).update(panel));
            check!(
                SetPanelTargets,
                format!("/v2/panels/{id}/target"),
                api.panel(&id).set_targets(PanelTargets::groups(ListOp::Add, ["GR"]))
            );
            check!(DeletePanel, format!("/v2/panels/{id}"), api.panel(&id).delete());
            let (gateway, _) = check!(GetGateway, "/gateway", api.gateway());
            assert_eq!(gateway.url, mock.gateway_url());
            let (bot, _) = check!(GetGatewayBot, "/gateway/bot", api.gateway_bot());
            assert_eq!(bot.shards, 1);

            // §12: QQ groups.
            check!(GetGroupInfo, "/v2/groups/GR/info", group.info());
            let (state, _) = check!(GetGroupBotState, "/v2/groups/GR/bot_state", group.bot_state());
            assert_eq!(state.allow_proactive_msg, Some(true));
            mock.openapi(|qq| {
                qq.dispatched(
                    "GROUP_JOIN_REQUEST",
                    "E-J1",
                    r#"{"group_openid":"GR","join_request_id":"J1"}"#,
                    qqgw_proto::Instant::ZERO,
                )
            });
            let (requests, _) =
                check!(ListJoinRequests, "/v2/groups/GR/join_request_list", group.join_requests(None));
            assert_eq!(requests.list.len(), 1);
            check!(
                ReviewJoinRequest,
                "/v2/groups/GR/approval_join_request/M3",
                group.review_join_request("M3", JoinReview::approve("J1"))
            );
            check!(
                SetGroupMemberMutes,
                "/v2/groups/GR/restrict_chat_setting",
                group.set_mutes(MemberMutes::new([MemberMute::add("M2", "2026-09-02T00:00:00+08:00")]))
            );
            let (mutes, _) =
                check!(GetGroupMuteSetting, "/v2/groups/GR/restrict_chat_setting", group.mute_setting());
            assert_eq!(mutes.members.len(), 1);
            let (strategy, body) = check!(
                CreateJoinStrategy,
                "/v2/groups/join_approval_strategy",
                api.create_join_strategy(NewStrategy::new(StrategyGroups::Openids(vec!["GR".into()])))
            );
            assert_eq!(body, json!({"group_openids": ["GR"]}));
            let sid = strategy.strategy_id.unwrap();
            check!(ListJoinStrategies, "/v2/groups/join_approval_strategy", api.join_strategies(None));
            check!(
                UpdateJoinStrategy,
                format!("/v2/groups/join_approval_strategy/{sid}"),
                api.join_strategy(&sid).update(StrategyPatch::default())
            );
            let (whitelist, _) = check!(
                EditStrategyWhitelist,
                format!("/v2/groups/join_approval_strategy/{sid}/whitelist_users"),
                api.join_strategy(&sid).edit_whitelist(WhitelistEdit::new(ListOp::Add, ["10001", "10002"]))
            );
            assert_eq!(whitelist.whitelist_user_count, Some(2));
            check!(
                ExecuteJoinStrategy,
                format!("/v2/groups/join_approval_strategy/{sid}/execute"),
                api.join_strategy(&sid).execute()
            );
            check!(
                DeleteJoinStrategy,
                format!("/v2/groups/join_approval_strategy/{sid}"),
                api.join_strategy(&sid).delete()
            );
            let (members, _) = check!(ListGroupMembers, "/v2/groups/GR/members", group.members(None));
            assert!(members.members.len() >= 2);
            check!(GetGroupMember, "/v2/groups/GR/members/M2", group.member("M2"));
            check!(
                RemoveGroupMembers,
                "/v2/groups/GR/batch_remove_members",
                group.remove_members(MemberRemoval::new(["M2"]))
            );
            let (edited, _) = check!(
                EditGroupBlacklist,
                "/v2/groups/GR/member_blacklist",
                group.edit_blacklist(BlacklistEdit::new(ListOp::Add, ["M9"]))
            );
            assert!(edited.fail_openids.is_empty());
            let (blacklist, _) =
                check!(ListGroupBlacklist, "/v2/groups/GR/member_blacklist", group.blacklist(None));
            assert_eq!(blacklist.users.len(), 1);

            // §13: guilds.
            let (g, _) = check!(GetGuild, "/guilds/G1", guild.get());
            assert_eq!(g.id.as_deref(), Some("G1"));
            let (created, body) = check!(
                CreateChannel,
                "/guilds/G1/channels",
                guild.create_channel(ChannelSpec::new("news", 0))
            );
            assert_eq!(body, json!({"name": "news", "type": 0}));
            let c2 = created.id.clone().unwrap();
            let (channels, _) = check!(ListChannels, "/guilds/G1/channels", guild.channels());
            assert_eq!(channels.len(), 2);
            check!(GetChannel, format!("/channels/{c2}"), api.channel(&c2).get());
            let mut rename = ChannelSpec::default();
            rename.name = Some("renamed".into());
            let (renamed, _) =
                check!(UpdateChannel, format!("/channels/{c2}"), api.channel(&c2).update(rename));
            assert_eq!(renamed.name.as_deref(), Some("renamed"));
            check!(DeleteChannel, format!("/channels/{c2}"), api.channel(&c2).delete());
            check!(GetOnlineNums, "/channels/C1/online_nums", channel.online_nums());
            check!(ListGuildMembers, "/guilds/G1/members?after=0&limit=10", guild.members("0", 10));
            let (role, body) =
                check!(CreateRole, "/guilds/G1/roles", guild.create_role(RoleSpec::named("helpers")));
            assert_eq!(body, json!({"name": "helpers"}));
            let rid = role.role_id.unwrap();
            check!(
                UpdateRole,
                format!("/guilds/G1/roles/{rid}"),
                guild.update_role(&rid, RoleSpec::named("helpers!"))
            );
            check!(
                AddMemberRole,
                format!("/guilds/G1/members/U9/roles/{rid}"),
                guild.add_member_role("U9", &rid, MemberRoleChannel::none())
            );
            let (page, _) = check!(
                ListRoleMembers,
                format!("/guilds/G1/roles/{rid}/members?start_index=0&limit=10"),
                guild.role_members(&rid, "0", 10)
            );
            assert_eq!(page.data.len(), 1);
            check!(
                RemoveMemberRole,
                format!("/guilds/G1/members/U9/roles/{rid}"),
                guild.remove_member_role("U9", &rid, MemberRoleChannel::none())
            );
            let (roles, _) = check!(ListRoles, "/guilds/G1/roles", guild.roles());
            assert_eq!(roles.roles.len(), 5);
            check!(DeleteRole, format!("/guilds/G1/roles/{rid}"), guild.delete_role(&rid));
            check!(GetGuildMember, "/guilds/G1/members/U9", guild.member("U9"));
            check!(
                GetMemberPermissions,
                "/channels/C1/members/U9/permissions",
                channel.member_permissions("U9")
            );
            check!(
                SetMemberPermissions,
                "/channels/C1/members/U9/permissions",
                channel.set_member_permissions("U9", PermissionChange::new(4, 0))
            );
            check!(GetRolePermissions, "/channels/C1/roles/1/permissions", channel.role_permissions("1"));
            check!(
                SetRolePermissions,
                "/channels/C1/roles/1/permissions",
                channel.set_role_permissions("1", PermissionChange::new(0, 4))
            );
            let (apis, _) = check!(ListApiPermissions, "/guilds/G1/api_permission", guild.api_permissions());
            assert!(!apis.apis.is_empty());
            check!(
                DemandApiPermission,
                "/guilds/G1/api_permission/demand",
                guild.demand_api_permission(PermissionDemand::new(
                    "C1",
                    "GET",
                    "/guilds/{guild_id}/members",
                    "to greet"
                ))
            );
            check!(GetMessageSetting, "/guilds/G1/message/setting", guild.message_setting());
            let (muted, _) =
                check!(MuteGuild, "/guilds/G1/mute", guild.mute(MuteSpec::seconds(60).users(["U9"])));
            assert_eq!(muted.user_ids, ["U9"]);
            check!(MuteMember, "/guilds/G1/members/U9/mute", guild.mute_member("U9", MuteSpec::lift()));
            check!(CreateAnnounce, "/guilds/G1/announces", guild.announce(AnnounceSpec::message("C1", "M1")));
            check!(DeleteAnnounce, "/guilds/G1/announces/M1", guild.delete_announce("M1"));
            let (pins, _) = check!(PinMessage, "/channels/C1/pins/M1", channel.pin("M1"));
            assert_eq!(pins.message_ids, ["M1"]);
            check!(GetPins, "/channels/C1/pins", channel.pins());
            check!(UnpinMessage, "/channels/C1/pins/all", channel.unpin("all"));
            let (schedule, _) = check!(
                CreateSchedule,
                "/channels/C1/schedules",
                channel.create_schedule(Schedule::new("meet", 1_000, 2_000))
            );
            let sid = schedule.id.unwrap();
            check!(GetSchedule, format!("/channels/C1/schedules/{sid}"), channel.schedule(&sid));
            check!(
                UpdateSchedule,
                format!("/channels/C1/schedules/{sid}"),
                channel.update_schedule(&sid, Schedule::new("meet", 1_000, 3_000))
            );
            let (schedules, _) =
                check!(ListSchedules, "/channels/C1/schedules?since=0", channel.schedules(Some(0)));
            assert_eq!(schedules.len(), 1);
            check!(DeleteSchedule, format!("/channels/C1/schedules/{sid}"), channel.delete_schedule(&sid));
            check!(
                ControlAudio,
                "/channels/C1/audio",
                channel.audio(AudioControl::play("https://x/a.mp3", "song"))
            );
            check!(JoinMic, "/channels/C1/mic", channel.join_mic());
            check!(LeaveMic, "/channels/C1/mic", channel.leave_mic());
            let (thread, _) = check!(
                CreateThread,
                "/channels/C1/threads",
                channel.create_thread(NewThread::new("t", "body", 1))
            );
            let tid = thread.task_id.unwrap();
            let (threads, _) = check!(ListThreads, "/channels/C1/threads", channel.threads());
            assert_eq!(threads.threads.len(), 1);
            check!(GetThread, format!("/channels/C1/threads/{tid}"), channel.thread(&tid));
            check!(DeleteThread, format!("/channels/C1/threads/{tid}"), channel.delete_thread(&tid));
            check!(
                RemoveGuildMember,
                "/guilds/G1/members/U9",
                guild.remove_member("U9", MemberRemovalOptions::new())
            );

            let missing: Vec<Route> = Route::ALL.iter().copied().filter(|r| !seen.contains(r)).collect();
            assert!(missing.is_empty(), "routes not called: {missing:?}");
            stop(client, events).await.unwrap();
        }),
    )
    .await;
}

/// The id of the last message the bot sent, as the mock answered it.
fn api_id(mock: &MockGateway) -> String {
    let record = mock.record();
    let call = record.api_calls.iter().rev().find(|c| c.is_message() && c.accepted()).unwrap();
    call.answer["id"].as_str().unwrap().to_owned()
}

/// The guild id of the DM session the bot opened.
fn dm_id(mock: &MockGateway) -> String {
    let record = mock.record();
    let call = record.calls_of(Route::CreateDmSession).pop().unwrap().clone();
    call.answer["guild_id"].as_str().unwrap().to_owned()
}

pub(crate) async fn every_error_class_is_recognised_and_retried_as_the_table_says<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let api = Api::new(R::default(), &config(&mock).build()).unwrap().with_retry(RetryPolicy::new(
            3,
            Duration::from_millis(1),
            Duration::from_millis(5),
        ));
        mock.openapi(|qq| qq.add_channel("G1", "C1", "general", 0));
        // One code of each class, the first of the table.
        let mut kinds = BTreeSet::new();
        for row in ERROR_CODES {
            if !kinds.insert(row.kind) {
                continue;
            }
            let calls = mock.record().api_calls.len();
            mock.openapi(|qq| qq.refuse(qqgw_mock::Scope::All, 1, 400, row.first));
            // A GET is repeatable: whatever the table allows happens.
            let result = api.channel("C1").get().await;
            let made = mock.record().api_calls.len() - calls;
            match row.retry {
                Retry::Never => {
                    let error = result.unwrap_err();
                    assert_eq!(
                        (error.kind(), error.code(), made),
                        (Some(row.kind), Some(row.first), 1),
                        "{error}"
                    );
                    assert!(error.trace_id().is_some_and(|t| t.starts_with("mock-trace-")), "{error}");
                }
                _ => {
                    result.unwrap_or_else(|e| panic!("{} ({:?}) was not retried: {e}", row.first, row.retry));
                    assert_eq!(made, 2, "{}: one retry", row.first);
                }
            }
        }
        assert!(kinds.len() >= 12, "{kinds:?}");
        // A send that may have gone through is not repeated after a server error.
        mock.openapi(|qq| qq.refuse(qqgw_mock::Scope::All, 1, 500, 50055002));
        let calls = mock.record().api_calls.len();
        let error = api.channel("C1").send("once").await.unwrap_err();
        assert_eq!((error.kind(), mock.record().api_calls.len() - calls), (Some(ErrorKind::Transient), 1));
        // Rate limits honour Retry-After (0 here) and stop after the policy's retries.
        mock.openapi(|qq| qq.rate_limit(qqgw_mock::Scope::All, 10, Some(0)));
        let calls = mock.record().api_calls.len();
        let error = api.me().await.unwrap_err();
        assert_eq!((error.kind(), mock.record().api_calls.len() - calls), (Some(ErrorKind::Rate), 4));
        mock.openapi(|qq| qq.rate_limit(qqgw_mock::Scope::All, 0, None));
        // A request QQ would refuse is not sent.
        let bad = Outgoing::markdown(Markdown::text("x")).content("and text");
        let calls = mock.record().api_calls.len();
        assert!(matches!(api.group("G").send(bad).await, Err(CallError::Request(_))));
        assert_eq!(mock.record().api_calls.len(), calls);
    })
    .await;
}

/// Acknowledges every click, answers it with a message, and acknowledges again (refused).
struct Buttons;

impl EventHandler for Buttons {
    async fn interaction_create(&self, ctx: Context, _click: InteractionEvent) {
        ctx.ack(InteractionCode::Success).await.unwrap();
        let again = ctx.ack(InteractionCode::Success).await.unwrap_err();
        assert_eq!(again.code(), Some(630001));
        ctx.reply_to_event(&Target::Group("GR".into()), "clicked").await.unwrap();
    }
}

pub(crate) async fn a_handler_acks_an_interaction_in_one_line<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        // QQ's 3 s, widened so that a loaded test machine cannot miss it: the deadline is
        // not what this checks.
        mock.openapi(|qq| qq.config_mut().ack_deadline = Duration::from_secs(60));
        let intents = Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT | Intents::INTERACTION;
        let client = Client::<R>::connect(config(&mock).intents(intents).build()).await.unwrap();
        let shutdown = client.shutdown_handle();
        let run = async { client.run(Buttons).await };
        let script = async {
            mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
            mock.dispatch(
                0,
                "INTERACTION_CREATE",
                json!({"id": "CLICK-1", "type": 11, "chat_type": 1,
                "group_openid": "GR", "data": {"resolved": {"button_data": "go"}}}),
            );
            let record = mock.wait_until(|r| r.messages_sent().len() == 1, WAIT).await.unwrap();
            shutdown.close();
            record
        };
        let (sessions, record) = futures_util::join!(run, script);
        sessions.unwrap();
        let acks = record.calls_of(Route::AckInteraction);
        assert_eq!(acks.iter().map(|a| a.status).collect::<Vec<_>>(), [200, 400]);
        assert_eq!(
            (acks[0].path.as_str(), acks[0].body.clone()),
            ("/interactions/CLICK-1", json!({"code": 0}))
        );
        assert!(mock.openapi(|qq| qq.acked("CLICK-1")));
        let reply = record.messages_sent()[0];
        assert!(reply.event_id().is_some_and(|e| e.starts_with("INTERACTION_CREATE:")), "{reply:?}");
    })
    .await;
}

pub(crate) async fn recall_works_in_the_four_places_once<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock_with(|c| c.allow_active_messages = true);
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        mock.openapi(|qq| {
            qq.add_channel("G1", "C1", "general", 0);
            qq.add_dm("D1");
        });
        let api = client.api();
        for target in [
            Target::Group("GR".into()),
            Target::User("U1".into()),
            Target::Channel("C1".into()),
            Target::Dm("D1".into()),
        ] {
            let sent = api.send(&target, "oops").await.unwrap();
            let id = sent.id.unwrap();
            api.recall(&target, &id).await.unwrap();
            let again = api.recall(&target, &id).await.unwrap_err();
            assert_eq!(again.kind(), Some(ErrorKind::Param), "{target:?}: {again}");
        }
        // Someone else's message, without admin rights, and a passed window.
        mock.openapi(|qq| qq.config_mut().admin = false);
        mock.dispatch(
            0,
            "GROUP_AT_MESSAGE_CREATE",
            json!({"id": "THEIRS", "group_openid": "GR", "content": "x"}),
        );
        let error = api.group("GR").recall("THEIRS").await.unwrap_err();
        assert_eq!(error.code(), Some(40062003));
        mock.openapi(|qq| qq.config_mut().recall_window = Duration::ZERO);
        let sent = api.group("GR").send("late").await.unwrap();
        let late = api.group("GR").recall(sent.id.as_deref().unwrap()).await.unwrap_err();
        assert_eq!((late.kind(), late.code()), (Some(ErrorKind::Recall), Some(40064004)));
        stop(client, events).await.unwrap();
    })
    .await;
}

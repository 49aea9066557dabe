//! Sending: every endpoint, every class of QQ's refusals, and an echo bot end to end,
//! against the mock's OpenAPI.

use std::time::Duration;

use qqgw_client::api::{
    Button, ErrorKind, FileType, Keyboard, Markdown, Outgoing, ReplyTo, Replyable, RetryPolicy, Target,
};
use qqgw_client::model::{C2cMessage, GroupMessage, Message};
use qqgw_client::{Api, Client, Context, EventHandler, Intents, Runtime};
use qqgw_mock::MockGateway;
use serde_json::json;

use super::{WAIT, bounded, config, mock, mock_with, started, stop};

/// Quick retries, so that the tests of retried refusals stay short.
fn quick(api: Api) -> Api {
    api.with_retry(RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(20)))
}

/// Dispatches a group @-message and a C2C message with known ids.
fn messages(mock: &MockGateway, n: u32) {
    mock.dispatch(
        0,
        "GROUP_AT_MESSAGE_CREATE",
        json!({"id": format!("G-MSG-{n}"), "group_openid": "GROUP1", "content": format!(" hello {n}"),
               "author": {"member_openid": "M1"}}),
    );
    mock.dispatch(
        0,
        "C2C_MESSAGE_CREATE",
        json!({"id": format!("C-MSG-{n}"), "content": format!("hi {n}"), "author": {"user_openid": "USER1"}}),
    );
}

/// The README's echo bot.
struct Echo;

impl EventHandler for Echo {
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        let text = msg.content.clone().unwrap_or_default();
        ctx.reply(&msg, text.trim()).await.unwrap();
    }

    async fn c2c_message_create(&self, ctx: Context, msg: C2cMessage) {
        let text = msg.content.clone().unwrap_or_default();
        // Two replies to one message: msg_seq 1 and 2.
        ctx.reply(&msg, text.as_str()).await.unwrap();
        ctx.reply(&msg, format!("({} again)", text)).await.unwrap();
    }
}

pub(crate) async fn an_echo_bot_replies_with_the_message_id_and_the_next_msg_seq<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let client = Client::<R>::connect(config(&mock).build()).await.unwrap();
        let shutdown = client.shutdown_handle();
        let run = async { client.run(Echo).await };
        let script = async {
            mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
            messages(&mock, 1);
            let record = mock.wait_until(|r| r.messages_sent().len() == 3, WAIT).await.unwrap();
            shutdown.close();
            record
        };
        let (sessions, record) = futures_util::join!(run, script);
        sessions.unwrap();
        let sent = record.messages_sent();
        let group = sent.iter().find(|s| s.path == "/v2/groups/GROUP1/messages").unwrap();
        assert_eq!(
            (group.msg_id(), group.msg_seq(), group.content()),
            (Some("G-MSG-1"), Some(1), Some("hello 1"))
        );
        assert_eq!(group.msg_type(), Some(0));
        let c2c: Vec<_> = sent.iter().filter(|s| s.path == "/v2/users/USER1/messages").collect();
        assert_eq!(
            c2c.iter().map(|s| (s.msg_id(), s.msg_seq())).collect::<Vec<_>>(),
            [(Some("C-MSG-1"), Some(1)), (Some("C-MSG-1"), Some(2))]
        );
        assert_eq!(c2c[0].content(), Some("hi 1"));
        assert!(record.sends().iter().all(|s| s.accepted()), "{:?}", record.sends());
        // One token for the gateway and every reply.
        assert_eq!(record.token_requests.len(), 1);
    })
    .await;
}

pub(crate) async fn concurrent_replies_to_one_message_never_reuse_a_msg_seq<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        messages(&mock, 1);
        let api = client.api();
        let msg: GroupMessage =
            serde_json::from_value(json!({"id": "G-MSG-1", "group_openid": "GROUP1", "content": "x"}))
                .unwrap();
        let replies = (0..5).map(|i| {
            let api = api.clone();
            let msg = msg.clone();
            async move { api.reply(&msg, format!("reply {i}")).await }
        });
        let results = futures_util::future::join_all(replies).await;
        let mut seqs: Vec<u32> = results.into_iter().map(|r| r.unwrap().msg_seq.unwrap()).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        let record = mock.record();
        assert_eq!(record.messages_sent().len(), 5);
        assert!(record.sends().iter().all(|s| s.code.is_none()), "{:?}", record.sends());
        // QQ's sixth reply is refused: the limit is five per message.
        let error = msg.reply(&api, "sixth").await.unwrap_err();
        assert_eq!(error.kind(), Some(ErrorKind::Reply), "{error}");
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn every_endpoint_sends_what_qq_documents<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        messages(&mock, 1);
        mock.dispatch(
            0,
            "AT_MESSAGE_CREATE",
            json!({"id": "CH-MSG-1", "channel_id": "CHAN1", "guild_id": "GUILD1", "content": "hey"}),
        );
        mock.dispatch(
            0,
            "DIRECT_MESSAGE_CREATE",
            json!({"id": "DM-MSG-1", "channel_id": "DMCH", "guild_id": "DMGUILD", "content": "psst"}),
        );
        // The DM event needs DIRECT_MESSAGE, which the bot did not ask for: the session
        // is known to QQ anyway.
        mock.openapi(|qq| qq.add_dm("DMGUILD"));
        let api = client.api();
        let group = Target::Group("GROUP1".into());
        let user = Target::User("USER1".into());

        // Group: upload, then media quoting the message.
        let media = api.upload(&group, FileType::Image, "https://example.com/a.png").await.unwrap();
        assert!(media.file_info.starts_with("FILEINFO_"), "{media:?}");
        let sent = api
            .send(&group, Outgoing::media(media.clone()).reply_to(ReplyTo::Message("G-MSG-1".into())))
            .await
            .unwrap();
        assert!(sent.id.as_deref().is_some_and(|id| id.starts_with("ROBOT1.0_")));
        // C2C: markdown with a keyboard; a user upload.
        api.send(
            &user,
            Outgoing::markdown(Markdown::text("**hi**"))
                .keyboard(Keyboard::template("KB"))
                .reply_to(ReplyTo::Message("C-MSG-1".into())),
        )
        .await
        .unwrap();
        api.upload(&user, FileType::Voice, "https://example.com/a.silk").await.unwrap();
        // Guild channel: an embed, replying; a DM: an active ark.
        let channel_msg: Message =
            serde_json::from_value(json!({"id": "CH-MSG-1", "channel_id": "CHAN1", "guild_id": "GUILD1"}))
                .unwrap();
        let embed: qqgw_client::model::Embed = serde_json::from_value(json!({"title": "T"})).unwrap();
        api.reply(&channel_msg, Outgoing::embed(&embed)).await.unwrap();
        let ark: qqgw_client::model::Ark = serde_json::from_value(json!({"template_id": 23})).unwrap();
        api.send(&Target::Dm("DMGUILD".into()), Outgoing::ark(&ark)).await.unwrap();
        // Media has no upload in guilds.
        assert!(api.upload(&Target::Channel("CHAN1".into()), FileType::Image, "https://x").await.is_err());

        // Markdown with a keyboard in a group, as the README shows it: no content.
        let menu = Outgoing::markdown(Markdown::text("**Pick one**"))
            .keyboard(Keyboard::rows([[
                Button::callback("a", "A", "pick:a"),
                Button::callback("b", "B", "pick:b"),
            ]]))
            .reply_to(ReplyTo::Message("G-MSG-1".into()));
        api.send(&group, menu).await.unwrap();

        let record = mock.record();
        let paths: Vec<&str> = record.sends().iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/v2/groups/GROUP1/files",
                "/v2/groups/GROUP1/messages",
                "/v2/users/USER1/messages",
                "/v2/users/USER1/files",
                "/channels/CHAN1/messages",
                "/dms/DMGUILD/messages",
                "/v2/groups/GROUP1/messages",
            ]
        );
        assert!(record.sends().iter().all(|s| s.accepted()), "{:?}", record.sends());
        let s = record.sends();
        assert_eq!(
            s[0].body,
            json!({"file_type": 1, "url": "https://example.com/a.png", "srv_send_msg": false})
        );
        assert_eq!(s[1].msg_type(), Some(7));
        assert_eq!(s[1].body["media"], json!({"file_info": media.file_info}));
        assert_eq!((s[1].msg_id(), s[1].msg_seq()), (Some("G-MSG-1"), Some(1)));
        assert_eq!(s[2].msg_type(), Some(2));
        assert_eq!(s[2].body["keyboard"], json!({"id": "KB"}));
        assert_eq!(s[3].body["file_type"], json!(3));
        assert_eq!(s[4].body["embed"]["title"], json!("T"));
        assert_eq!(s[4].msg_id(), Some("CH-MSG-1"));
        assert_eq!(s[4].msg_seq(), None, "guild messages have no msg_seq");
        assert_eq!(s[5].body["ark"]["template_id"], json!(23));
        assert_eq!(s[5].msg_id(), None);
        assert_eq!((s[6].msg_type(), s[6].content(), s[6].msg_seq()), (Some(2), None, Some(2)));
        assert_eq!(
            s[6].body["keyboard"]["content"]["rows"][0]["buttons"][1]["action"]["data"],
            json!("pick:b")
        );
        assert!(s.iter().all(|c| c.authorization.as_deref().is_some_and(|a| a.starts_with("QQBot "))));
        assert!(s.iter().all(|c| c.content_type.as_deref() == Some("application/json")));
        stop(client, events).await.unwrap();
    })
    .await;
}

/// A DM reply from a handler goes to `/dms/{guild_id}`, an event reply quotes `event_id`.
struct Guild;

impl EventHandler for Guild {
    async fn direct_message_create(&self, ctx: Context, msg: Message) {
        ctx.reply(&msg, "dm reply").await.unwrap();
    }

    async fn group_add_robot(&self, ctx: Context, event: qqgw_client::model::GroupRobotEvent) {
        let group = Target::Group(event.group_openid.clone().unwrap_or_default());
        ctx.reply_to_event(&group, "thanks for adding me").await.unwrap();
    }
}

pub(crate) async fn handlers_reply_in_dms_and_to_events<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let intents = Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT | Intents::DIRECT_MESSAGE;
        let client = Client::<R>::connect(config(&mock).intents(intents).build()).await.unwrap();
        let shutdown = client.shutdown_handle();
        let run = async { client.run(Guild).await };
        let script = async {
            mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
            mock.dispatch(
                0,
                "DIRECT_MESSAGE_CREATE",
                json!({"id": "DM-1", "channel_id": "DMCH", "guild_id": "DMGUILD", "content": "psst"}),
            );
            mock.dispatch(0, "GROUP_ADD_ROBOT", json!({"group_openid": "GROUP9", "op_member_openid": "M"}));
            let record = mock.wait_until(|r| r.messages_sent().len() == 2, WAIT).await.unwrap();
            shutdown.close();
            record
        };
        let (sessions, record) = futures_util::join!(run, script);
        sessions.unwrap();
        let sends = record.sends();
        let dm = sends.iter().find(|s| s.path == "/dms/DMGUILD/messages").unwrap();
        assert_eq!((dm.msg_id(), dm.content()), (Some("DM-1"), Some("dm reply")));
        let event = sends.iter().find(|s| s.path == "/v2/groups/GROUP9/messages").unwrap();
        assert!(event.event_id().is_some_and(|id| id.starts_with("GROUP_ADD_ROBOT:")), "{event:?}");
        assert_eq!(event.msg_seq(), Some(1));
        assert!(record.sends().iter().all(|s| s.accepted()), "{:?}", record.sends());
    })
    .await;
}

pub(crate) async fn each_refusal_is_typed_and_only_transient_ones_are_retried<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        messages(&mock, 1);
        let api = quick(client.api());
        let group = Target::Group("GROUP1".into());
        let reply = |seq: Option<u32>| {
            let m = Outgoing::text("x").reply_to(ReplyTo::Message("G-MSG-1".into()));
            match seq {
                Some(seq) => m.msg_seq(seq),
                None => m,
            }
        };
        let kind = |r: Result<_, qqgw_client::CallError>| r.unwrap_err().kind();
        let sends = || mock.record().sends().len();

        // 429 twice, then accepted: three requests for one send.
        mock.rate_limit_sends(2);
        let before = sends();
        api.send(&group, reply(Some(10))).await.unwrap();
        assert_eq!(sends() - before, 3);
        // A 500, then accepted, with the same msg_seq.
        mock.fail_sends(1);
        let before = sends();
        let sent = api.send(&group, reply(None)).await.unwrap();
        let record = mock.record();
        let sends_now = record.sends();
        let tries = &sends_now[before..];
        assert_eq!(tries.iter().map(|s| s.status).collect::<Vec<_>>(), [500, 200]);
        assert_eq!(tries[0].msg_seq(), tries[1].msg_seq());
        assert_eq!(tries[1].msg_seq(), sent.msg_seq.map(u64::from));
        // Rate limited beyond the bound: 1 + 3 retries, then the error.
        mock.rate_limit_sends(10);
        let before = sends();
        assert_eq!(kind(api.send(&group, reply(None)).await), Some(ErrorKind::Rate));
        assert_eq!(sends() - before, 4);
        mock.rate_limit_sends(0);
        // A msg_seq used before: refused once, not retried.
        let before = sends();
        assert_eq!(kind(api.send(&group, reply(Some(10))).await), Some(ErrorKind::Dedup));
        assert_eq!(sends() - before, 1);
        // No permission, and a message held for review, are not retried.
        mock.refuse_sends(1, 400, 11253);
        assert_eq!(kind(api.send(&group, reply(None)).await), Some(ErrorKind::Permission));
        mock.refuse_sends(1, 202, 304023);
        let error = api.send(&Target::Channel("CHAN1".into()), "audited").await.unwrap_err();
        assert_eq!((error.kind(), error.audit_id()), (Some(ErrorKind::Audit), Some("mock-audit-1")));
        // Active group messages are refused where the group did not allow them.
        let error = api.send(&group, "active").await.unwrap_err();
        assert_eq!((error.kind(), error.code()), (Some(ErrorKind::Permission), Some(40034105)));
        // A guild message may have gone through: a 5xx is not retried.
        mock.fail_sends(1);
        let before = sends();
        assert_eq!(
            kind(api.send(&Target::Channel("CHAN1".into()), "once").await),
            Some(ErrorKind::Transient)
        );
        assert_eq!(sends() - before, 1);
        // A message QQ never sent cannot be replied to.
        let unknown = Outgoing::text("x").reply_to(ReplyTo::Message("NOPE".into()));
        assert_eq!(kind(api.send(&group, unknown).await), Some(ErrorKind::Reply));
        // An expired token: refused once, a fresh one fetched, the send goes through.
        let tokens = mock.record().token_requests.len();
        mock.expire_tokens();
        api.send(&group, reply(None)).await.unwrap();
        let record = mock.record();
        assert_eq!(record.token_requests.len(), tokens + 1);
        let last_two: Vec<u16> = record.sends().iter().rev().take(2).map(|s| s.status).collect();
        assert_eq!(last_two, [200, 401]);
        // The reply window passes.
        mock.expire_replies();
        let error = api.send(&group, reply(None)).await.unwrap_err();
        assert_eq!(error.kind(), Some(ErrorKind::Reply), "{error}");
        assert!(!format!("{error} {error:?} {api:?}").contains("QQBot"), "no token in errors");
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn a_send_only_api_fetches_its_own_token_and_refuses_plaintext<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock_with(|c| c.allow_active_messages = true);
        let insecure = config(&mock).allow_insecure(false).build();
        assert!(matches!(
            Api::new(R::default(), &insecure),
            Err(qqgw_client::Error::InsecureEndpoint { .. })
        ));
        let api = Api::new(R::default(), &config(&mock).build()).unwrap();
        let first = api.send(&Target::User("U".into()), "active 1").await.unwrap();
        api.send(&Target::User("U".into()), "active 2").await.unwrap();
        assert_eq!(first.msg_seq, None, "active messages carry no msg_seq");
        let record = mock.record();
        assert_eq!(record.token_requests.len(), 1);
        assert_eq!(record.messages_sent().len(), 2);
        // Media must come from an upload for the same kind of chat.
        let foreign = qqgw_client::api::Media::from_file_info("F");
        let error = api.send(&Target::User("U".into()), Outgoing::media(foreign)).await.unwrap_err();
        assert_eq!((error.kind(), error.code()), (Some(ErrorKind::Media), Some(304080)));
        let media = api.user("U").upload(FileType::Image, "https://example.com/a.png").await.unwrap();
        api.send(&Target::User("U".into()), Outgoing::media(media)).await.unwrap();
        assert_eq!(mock.record().messages_sent()[2].body["msg_type"], json!(7));
    })
    .await;
}

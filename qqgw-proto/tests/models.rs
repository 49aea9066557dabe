//! The typed event models against the shared fixture frames, QQ's intents table, and
//! the inconsistent forms QQ is known to send.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;

use proptest::prelude::*;
use qqgw_proto::model::{EventKind, ModelError, ReactionTargetType, Timestamp, TypedEvent};
use qqgw_proto::{Dispatch, Intents, ShardId};
use serde_json::Value;
use serde_json::value::RawValue;

fn frames_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/frames"))
}

fn fixture(name: &str) -> Dispatch {
    let path = frames_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Dispatch::from_frame(&text, ShardId::ONE).unwrap()
}

fn typed(name: &str) -> TypedEvent {
    TypedEvent::from_dispatch(&fixture(name)).unwrap()
}

/// A dispatch named `name` whose data is the JSON text `data`.
fn dispatch(name: &str, data: &str) -> Dispatch {
    let raw = RawValue::from_string(data.to_owned()).unwrap();
    Dispatch::new(name, Some(1), None, ShardId::ONE, raw)
}

fn parse(name: &str, data: &str) -> Result<TypedEvent, ModelError> {
    TypedEvent::from_dispatch(&dispatch(name, data))
}

fn secs(ts: Option<&Timestamp>) -> Option<i64> {
    ts.and_then(Timestamp::unix_seconds)
}

/// QQ's intents table (QQ-GATEWAY.md §6), written out independently of the model table.
const SECTION_6: &[(&str, Option<Intents>)] = &[
    ("READY", None),
    ("RESUMED", None),
    ("GUILD_CREATE", Some(Intents::GUILDS)),
    ("GUILD_UPDATE", Some(Intents::GUILDS)),
    ("GUILD_DELETE", Some(Intents::GUILDS)),
    ("CHANNEL_CREATE", Some(Intents::GUILDS)),
    ("CHANNEL_UPDATE", Some(Intents::GUILDS)),
    ("CHANNEL_DELETE", Some(Intents::GUILDS)),
    ("GUILD_MEMBER_ADD", Some(Intents::GUILD_MEMBERS)),
    ("GUILD_MEMBER_UPDATE", Some(Intents::GUILD_MEMBERS)),
    ("GUILD_MEMBER_REMOVE", Some(Intents::GUILD_MEMBERS)),
    ("MESSAGE_CREATE", Some(Intents::GUILD_MESSAGES)),
    ("MESSAGE_DELETE", Some(Intents::GUILD_MESSAGES)),
    ("MESSAGE_REACTION_ADD", Some(Intents::GUILD_MESSAGE_REACTIONS)),
    ("MESSAGE_REACTION_REMOVE", Some(Intents::GUILD_MESSAGE_REACTIONS)),
    ("DIRECT_MESSAGE_CREATE", Some(Intents::DIRECT_MESSAGE)),
    ("DIRECT_MESSAGE_DELETE", Some(Intents::DIRECT_MESSAGE)),
    ("OPEN_FORUM_THREAD_CREATE", Some(Intents::OPEN_FORUMS_EVENT)),
    ("OPEN_FORUM_THREAD_UPDATE", Some(Intents::OPEN_FORUMS_EVENT)),
    ("OPEN_FORUM_THREAD_DELETE", Some(Intents::OPEN_FORUMS_EVENT)),
    ("OPEN_FORUM_POST_CREATE", Some(Intents::OPEN_FORUMS_EVENT)),
    ("OPEN_FORUM_POST_DELETE", Some(Intents::OPEN_FORUMS_EVENT)),
    ("OPEN_FORUM_REPLY_CREATE", Some(Intents::OPEN_FORUMS_EVENT)),
    ("OPEN_FORUM_REPLY_DELETE", Some(Intents::OPEN_FORUMS_EVENT)),
    ("AUDIO_OR_LIVE_CHANNEL_MEMBER_ENTER", Some(Intents::AUDIO_OR_LIVE_CHANNEL_MEMBER)),
    ("AUDIO_OR_LIVE_CHANNEL_MEMBER_EXIT", Some(Intents::AUDIO_OR_LIVE_CHANNEL_MEMBER)),
    ("ENTER_AIO", Some(Intents::ENTER_AIO)),
    ("GROUP_MEMBER_ADD", Some(Intents::GROUP_MEMBERS)),
    ("GROUP_MEMBER_REMOVE", Some(Intents::GROUP_MEMBERS)),
    ("C2C_MESSAGE_CREATE", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("FRIEND_ADD", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("FRIEND_DEL", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("C2C_MSG_REJECT", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("C2C_MSG_RECEIVE", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("GROUP_AT_MESSAGE_CREATE", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("GROUP_MESSAGE_CREATE", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("GROUP_ADD_ROBOT", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("GROUP_DEL_ROBOT", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("GROUP_MSG_REJECT", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("GROUP_MSG_RECEIVE", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("SUBSCRIBE_MESSAGE_STATUS", Some(Intents::GROUP_AND_C2C_EVENT)),
    ("INTERACTION_CREATE", Some(Intents::INTERACTION)),
    ("MESSAGE_AUDIT_PASS", Some(Intents::MESSAGE_AUDIT)),
    ("MESSAGE_AUDIT_REJECT", Some(Intents::MESSAGE_AUDIT)),
    ("FORUM_THREAD_CREATE", Some(Intents::FORUMS_EVENT)),
    ("FORUM_THREAD_UPDATE", Some(Intents::FORUMS_EVENT)),
    ("FORUM_THREAD_DELETE", Some(Intents::FORUMS_EVENT)),
    ("FORUM_POST_CREATE", Some(Intents::FORUMS_EVENT)),
    ("FORUM_POST_DELETE", Some(Intents::FORUMS_EVENT)),
    ("FORUM_REPLY_CREATE", Some(Intents::FORUMS_EVENT)),
    ("FORUM_REPLY_DELETE", Some(Intents::FORUMS_EVENT)),
    ("FORUM_PUBLISH_AUDIT_RESULT", Some(Intents::FORUMS_EVENT)),
    ("AUDIO_START", Some(Intents::AUDIO_ACTION)),
    ("AUDIO_FINISH", Some(Intents::AUDIO_ACTION)),
    ("AUDIO_ON_MIC", Some(Intents::AUDIO_ACTION)),
    ("AUDIO_OFF_MIC", Some(Intents::AUDIO_ACTION)),
    ("AT_MESSAGE_CREATE", Some(Intents::PUBLIC_GUILD_MESSAGES)),
    ("PUBLIC_MESSAGE_DELETE", Some(Intents::PUBLIC_GUILD_MESSAGES)),
];

// ---------------------------------------------------------------------------------------
// Fixtures

#[test]
fn every_dispatch_fixture_parses_into_its_kind() {
    let mut seen = 0;
    for entry in std::fs::read_dir(frames_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["op"] != 0 {
            continue;
        }
        let dispatch = Dispatch::from_frame(&text, ShardId::ONE).unwrap();
        let event =
            TypedEvent::from_dispatch(&dispatch).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(event.name(), dispatch.name(), "{}", path.display());
        assert_eq!(event.kind(), EventKind::from_name(dispatch.name()));
        seen += 1;
    }
    // READY, RESUMED, ten documented events and the unknown one.
    assert_eq!(seen, 13);
}

#[test]
fn ready() {
    let TypedEvent::Ready(ready) = typed("READY") else { panic!("not READY") };
    assert_eq!(ready.version, Some(1));
    assert_eq!(ready.session_id.as_deref(), Some("082ee18c-0be3-491b-9d8b-fbd95c51673a"));
    let user = ready.user.unwrap();
    assert_eq!(user.id.as_deref(), Some("6158788878435714165"));
    assert_eq!(user.username.as_deref(), Some("群pro测试机器人"));
    assert_eq!(user.bot, Some(true));
    assert_eq!(ready.shard, Some([0, 0]));
}

#[test]
fn resumed_from_the_empty_string() {
    let d = fixture("RESUMED");
    assert_eq!(d.data().get(), r#""""#);
    assert!(matches!(TypedEvent::from_dispatch(&d), Ok(TypedEvent::Resumed(_))));
    // An object (or anything else) is fine too.
    for data in ["{}", r#"{"x":1}"#, "null", "0"] {
        assert!(matches!(parse("RESUMED", data), Ok(TypedEvent::Resumed(_))), "{data}");
    }
}

#[test]
fn guild_create() {
    let TypedEvent::GuildCreate(guild) = typed("GUILD_CREATE") else { panic!() };
    assert_eq!(guild.id.as_deref(), Some("5233096270906057162"));
    assert_eq!(guild.name.as_deref(), Some("频道名称"));
    assert_eq!(guild.description.as_deref(), Some("频道介绍"));
    assert_eq!(guild.owner_id.as_deref(), Some("11528069550601428493"));
    assert_eq!(guild.op_user_id.as_deref(), Some("11528069550601428493"));
    assert_eq!(guild.member_count, Some(17));
    assert_eq!(guild.max_members, Some(300));
    assert!(guild.icon.unwrap().ends_with("311cfc87ce394c62b7c9f0508658cf25.png"));
    // 2021-10-21T11:20:18+08:00
    assert_eq!(secs(guild.joined_at.as_ref()), Some(1_634_786_418));
    assert_eq!(guild.owner, None);
}

#[test]
fn at_message_create() {
    let TypedEvent::AtMessageCreate(msg) = typed("AT_MESSAGE_CREATE") else { panic!() };
    assert_eq!(msg.id.as_deref(), Some("08cac39bf6d0aaeccf4810bcaae7d801380248cee6f8a406"));
    assert_eq!(msg.channel_id.as_deref(), Some("454677820"));
    assert_eq!(msg.guild_id.as_deref(), Some("5233096270906057162"));
    assert_eq!(msg.content.as_deref(), Some("<@!6158788878435714165> /天气 深圳"));
    assert_eq!(msg.seq, Some(101));
    assert_eq!(msg.seq_in_channel.as_deref(), Some("101"));
    // 2024-05-20T15:14:58+08:00
    assert_eq!(secs(msg.timestamp.as_ref()), Some(1_716_189_298));
    assert_eq!(msg.timestamp.as_ref().unwrap().as_text(), Some("2024-05-20T15:14:58+08:00"));

    let author = msg.author.unwrap();
    assert_eq!(author.id.as_deref(), Some("11528069550601428493"));
    assert_eq!(author.username.as_deref(), Some("小明"));
    assert_eq!(author.bot, Some(false));
    assert!(author.avatar.unwrap().starts_with("http://thirdqq.qlogo.cn/"));

    let member = msg.member.unwrap();
    assert_eq!(member.nick.as_deref(), Some(""));
    assert_eq!(member.roles, ["1"]);
    assert_eq!(secs(member.joined_at.as_ref()), Some(1_618_216_482));

    assert_eq!(msg.mentions.len(), 1);
    assert_eq!(msg.mentions[0].id.as_deref(), Some("6158788878435714165"));
    assert_eq!(msg.mentions[0].bot, Some(true));
    assert!(msg.attachments.is_empty() && msg.embeds.is_empty());
    assert_eq!((msg.ark, msg.message_reference, msg.direct_message), (None, None, None));
}

#[test]
fn message_create() {
    let TypedEvent::MessageCreate(msg) = typed("MESSAGE_CREATE") else { panic!() };
    assert_eq!(msg.content.as_deref(), Some("今晚八点开黑"));
    assert_eq!(msg.member.unwrap().roles, ["1", "4"]);
    assert_eq!(msg.seq, Some(102));
    assert_eq!(secs(msg.timestamp.as_ref()), Some(1_716_189_363));
    assert!(msg.mentions.is_empty());
}

#[test]
fn direct_message_create() {
    let TypedEvent::DirectMessageCreate(msg) = typed("DIRECT_MESSAGE_CREATE") else { panic!() };
    assert_eq!(msg.direct_message, Some(true));
    assert_eq!(msg.guild_id.as_deref(), Some("8163871283724553234"));
    assert_eq!(msg.src_guild_id.as_deref(), Some("5233096270906057162"));
    assert_eq!(msg.channel_id.as_deref(), Some("1659394"));
    assert_eq!(msg.content.as_deref(), Some("你好，机器人"));
    let member = msg.member.unwrap();
    assert_eq!(member.nick, None);
    assert!(member.roles.is_empty());
    assert_eq!(secs(member.joined_at.as_ref()), secs(msg.timestamp.as_ref()));
}

#[test]
fn c2c_message_create() {
    let TypedEvent::C2cMessageCreate(msg) = typed("C2C_MESSAGE_CREATE") else { panic!() };
    assert!(msg.id.as_deref().unwrap().starts_with("ROBOT1.0_kQ3"));
    assert_eq!(msg.content.as_deref(), Some("帮我查一下明天的天气"));
    let author = msg.author.unwrap();
    assert_eq!(author.user_openid.as_deref(), Some("98A58ADB883A82F3EDCA2A5904B771AA"));
    assert_eq!(author.union_openid, author.id);
    assert_eq!(msg.message_scene.unwrap().source.as_deref(), Some("default"));
    assert_eq!(msg.message_type, Some(0));
    // 2025-05-14T21:29:29+08:00
    assert_eq!(secs(msg.timestamp.as_ref()), Some(1_747_229_369));
}

#[test]
fn group_at_message_create() {
    let TypedEvent::GroupAtMessageCreate(msg) = typed("GROUP_AT_MESSAGE_CREATE") else { panic!() };
    assert_eq!(msg.content.as_deref(), Some(" /签到"));
    assert_eq!(msg.group_openid.as_deref(), Some("CFFDCCFEE6E05C2B55A6579820565387"));
    assert_eq!(msg.group_id, msg.group_openid);
    let author = msg.author.unwrap();
    assert_eq!(author.member_openid.as_deref(), Some("E76A336E66207703B5EDEFD5B99AF7BE"));
    assert_eq!((author.bot, author.member_role), (None, None));
    assert!(msg.mentions.is_empty());
    assert_eq!(secs(msg.timestamp.as_ref()), Some(1_757_344_414));
}

#[test]
fn guild_member_add() {
    let TypedEvent::GuildMemberAdd(member) = typed("GUILD_MEMBER_ADD") else { panic!() };
    assert_eq!(member.guild_id.as_deref(), Some("5233096270906057162"));
    assert_eq!(member.op_user_id.as_deref(), Some("11528069550601428493"));
    assert_eq!(member.roles, ["1"]);
    let user = member.user.unwrap();
    assert_eq!(user.id.as_deref(), Some("144115218182563108"));
    assert_eq!(user.username.as_deref(), Some("新成员"));
    // 2024-05-20T16:02:44+08:00
    assert_eq!(secs(member.joined_at.as_ref()), Some(1_716_192_164));
}

#[test]
fn message_reaction_add_with_string_target_type() {
    let TypedEvent::MessageReactionAdd(reaction) = typed("MESSAGE_REACTION_ADD") else { panic!() };
    assert_eq!(reaction.user_id.as_deref(), Some("11528069550601428493"));
    assert_eq!(reaction.channel_id.as_deref(), Some("454677820"));
    let target = reaction.target.unwrap();
    assert_eq!(target.id.as_deref(), Some("08cac39bf6d0aaeccf4810bcaae7d801380248cee6f8a406"));
    assert_eq!(target.kind, Some(ReactionTargetType::Message));
    let emoji = reaction.emoji.unwrap();
    assert_eq!((emoji.id.as_deref(), emoji.kind), (Some("89"), Some(1)));
}

#[test]
fn interaction_create() {
    let TypedEvent::InteractionCreate(it) = typed("INTERACTION_CREATE") else { panic!() };
    assert_eq!(it.id.as_deref(), Some("30540ff7-9d8f-4737-83f1-e116ce6afa8b"));
    assert_eq!((it.kind, it.chat_type, it.version), (Some(11), Some(1), Some(1)));
    assert_eq!(it.scene.as_deref(), Some("group"));
    assert_eq!(it.application_id.as_deref(), Some("102012345"));
    assert_eq!(it.group_member_openid.as_deref(), Some("E76A336E66207703B5EDEFD5B99AF7BE"));
    let data = it.data.unwrap();
    assert_eq!(data.kind, Some(11));
    let resolved = data.resolved.unwrap();
    assert_eq!(resolved.button_id.as_deref(), Some("21"));
    assert_eq!(resolved.button_data.as_deref(), Some("sign_in"));
    assert_eq!(resolved.user_id, None);
    assert_eq!(secs(it.timestamp.as_ref()), Some(1_757_344_442));
}

#[test]
fn group_add_robot_with_unix_timestamp() {
    let TypedEvent::GroupAddRobot(ev) = typed("GROUP_ADD_ROBOT") else { panic!() };
    assert_eq!(ev.group_openid.as_deref(), Some("CFFDCCFEE6E05C2B55A6579820565387"));
    assert_eq!(ev.op_member_openid.as_deref(), Some("E76A336E66207703B5EDEFD5B99AF7BE"));
    assert_eq!(ev.timestamp, Some(Timestamp::Unix(1_699_240_248)));
}

#[test]
fn unknown_future_event() {
    let d = fixture("UNKNOWN_FUTURE_EVENT");
    let event = TypedEvent::from_dispatch(&d).unwrap();
    assert_eq!(event, TypedEvent::Unknown("FUTURE_EXAMPLE_EVENT_CREATE".into()));
    assert_eq!(event.kind(), EventKind::Unknown("FUTURE_EXAMPLE_EVENT_CREATE".into()));
    assert_eq!(event.kind().intent(), None);
    // The data is still in the dispatch.
    assert!(d.data().get().contains("\"ratio\": 0.75"));
}

// ---------------------------------------------------------------------------------------
// Names and intents

#[test]
fn kinds_match_section_6_exactly() {
    assert_eq!(EventKind::ALL.len(), SECTION_6.len());
    for &(name, intent) in SECTION_6 {
        let kind = EventKind::from_name(name);
        assert!(!matches!(kind, EventKind::Unknown(_)), "{name} is unknown");
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.intent(), intent, "{name}");
        assert_eq!(Intents::for_event(&kind), intent, "{name}");
        assert!(EventKind::ALL.contains(&kind), "{name}");
    }
}

#[test]
fn every_kind_round_trips_its_name() {
    for kind in EventKind::ALL {
        assert_eq!(&EventKind::from_name(kind.as_str()), kind);
        assert_eq!(kind.to_string(), kind.as_str());
        assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind.clone()));
        let json = serde_json::to_string(kind).unwrap();
        assert_eq!(&serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        assert_ne!(kind.model_name(), "-");
        // Every intent named in the table is a single documented bit.
        if let Some(bit) = kind.intent() {
            assert_eq!(bit.bits().count_ones(), 1, "{kind}");
            assert!(Intents::all().contains(bit));
        }
    }
    let mut names: Vec<_> = EventKind::ALL.iter().map(EventKind::as_str).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), EventKind::ALL.len(), "duplicate names");
}

#[test]
fn unknown_names() {
    for name in ["FUTURE_EVENT", "at_message_create", "", " READY", "THREAD_CREATE"] {
        let kind = EventKind::from_name(name);
        assert_eq!(kind, EventKind::Unknown(name.into()));
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.intent(), None);
        assert_eq!(kind.model_name(), "-");
        assert!(!kind.is_covered_by(Intents::all()));
    }
}

#[test]
fn coverage_of_handled_kinds() {
    let handled = [
        EventKind::Ready,
        EventKind::Resumed,
        EventKind::AtMessageCreate,
        EventKind::GroupAtMessageCreate,
        EventKind::InteractionCreate,
        EventKind::GuildMemberAdd,
        EventKind::from_name("SOMETHING_NEW"),
    ];
    let intents = Intents::non_privileged() | Intents::INTERACTION;
    assert_eq!(
        intents.uncovered(&handled),
        [EventKind::GroupAtMessageCreate, EventKind::from_name("SOMETHING_NEW")]
    );
    assert_eq!(
        Intents::for_events(&handled),
        Intents::PUBLIC_GUILD_MESSAGES
            | Intents::GROUP_AND_C2C_EVENT
            | Intents::INTERACTION
            | Intents::GUILD_MEMBERS
    );
    assert!(Intents::empty().uncovered(&[EventKind::Ready, EventKind::Resumed]).is_empty());
    assert_eq!(Intents::for_events(EventKind::ALL), Intents::all());
}

// ---------------------------------------------------------------------------------------
// Tolerance

#[test]
fn every_kind_accepts_an_empty_object() {
    for kind in EventKind::ALL {
        let event = parse(kind.as_str(), "{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&event.kind(), kind);
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let data = r#"{"id":"1","content":"hi","brand_new":{"nested":[1,2,3]},"another":null,
        "author":{"id":"2","future_flag":true},"member":{"roles":["1"],"extra":7}}"#;
    let TypedEvent::AtMessageCreate(msg) = parse("AT_MESSAGE_CREATE", data).unwrap() else { panic!() };
    assert_eq!(msg.content.as_deref(), Some("hi"));
    assert_eq!(msg.author.unwrap().id.as_deref(), Some("2"));

    // Every fixture still parses to the same model with extra fields everywhere.
    for name in ["GUILD_CREATE", "INTERACTION_CREATE", "C2C_MESSAGE_CREATE", "READY"] {
        let d = fixture(name);
        let mut value: Value = serde_json::from_str(d.data().get()).unwrap();
        value["zz_unknown"] = serde_json::json!({"a": [1, "b", null]});
        let padded = parse(name, &value.to_string()).unwrap();
        assert_eq!(padded, TypedEvent::from_dispatch(&d).unwrap(), "{name}");
    }
}

#[test]
fn nulls_read_as_absent() {
    let data = r#"{"id":null,"content":null,"timestamp":null,"author":null,"mentions":null,
        "attachments":null,"embeds":null,"ark":null,"seq":null,"member":{"roles":null}}"#;
    let TypedEvent::MessageCreate(msg) = parse("MESSAGE_CREATE", data).unwrap() else { panic!() };
    assert_eq!((msg.id, msg.content, msg.timestamp, msg.seq), (None, None, None, None));
    assert!(msg.mentions.is_empty() && msg.attachments.is_empty() && msg.embeds.is_empty());
    assert!(msg.member.unwrap().roles.is_empty());
}

#[test]
fn ids_and_counts_accept_numbers_and_strings() {
    // QQ's own forum audit example sends author_id as a number.
    let data = r#"{"task_id":"t1","guild_id":5233096270906057162,"author_id":144115218182563108,
        "type":"1","result":0,"err_msg":"","date_time":"2021-12-20T19:00:00+08:00"}"#;
    let TypedEvent::ForumPublishAuditResult(audit) = parse("FORUM_PUBLISH_AUDIT_RESULT", data).unwrap()
    else {
        panic!()
    };
    assert_eq!(audit.guild_id.as_deref(), Some("5233096270906057162"));
    assert_eq!(audit.author_id.as_deref(), Some("144115218182563108"));
    assert_eq!((audit.kind, audit.result), (Some(1), Some(0)));

    // Ids beyond i64 survive as text, in either form.
    let data = r#"{"id":11528069550601428493,"member_count":"17","max_members":300.0,"owner":1}"#;
    let TypedEvent::GuildUpdate(guild) = parse("GUILD_UPDATE", data).unwrap() else { panic!() };
    assert_eq!(guild.id.as_deref(), Some("11528069550601428493"));
    assert_eq!((guild.member_count, guild.max_members), (Some(17), Some(300)));
    assert_eq!(guild.owner, Some(true));

    // Role ids as numbers.
    let TypedEvent::GuildMemberUpdate(m) = parse("GUILD_MEMBER_UPDATE", r#"{"roles":[1,"4",null]}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(m.roles, ["1", "4"]);

    // Attachments with numeric-string sizes (seen on group/C2C files).
    let data = r#"{"attachments":[{"content_type":"image/png","size":"2048","width":"10",
        "height":20,"url":"https://x/y.png","filename":"y.png"}]}"#;
    let TypedEvent::C2cMessageCreate(msg) = parse("C2C_MESSAGE_CREATE", data).unwrap() else { panic!() };
    let a = &msg.attachments[0];
    assert_eq!((a.size, a.width, a.height), (Some(2048), Some(10), Some(20)));
    assert_eq!(a.content_type.as_deref(), Some("image/png"));
}

#[test]
fn reaction_target_type_in_every_form() {
    let cases = [
        ("0", ReactionTargetType::Message),
        ("1", ReactionTargetType::Post),
        ("2", ReactionTargetType::Comment),
        ("3", ReactionTargetType::Reply),
        (r#""ReactionTargetType_MSG""#, ReactionTargetType::Message),
        (r#""ReactionTargetType_FEED""#, ReactionTargetType::Post),
        (r#""ReactionTargetType_COMMNENT""#, ReactionTargetType::Comment),
        (r#""ReactionTargetType_REPLY""#, ReactionTargetType::Reply),
        (r#""2""#, ReactionTargetType::Comment),
        ("9", ReactionTargetType::Other("9".into())),
        (r#""ReactionTargetType_NEW""#, ReactionTargetType::Other("ReactionTargetType_NEW".into())),
    ];
    for (json, want) in cases {
        let data = format!(r#"{{"target":{{"id":"x","type":{json}}}}}"#);
        let TypedEvent::MessageReactionRemove(r) = parse("MESSAGE_REACTION_REMOVE", &data).unwrap() else {
            panic!()
        };
        assert_eq!(r.target.unwrap().kind, Some(want), "{json}");
    }
}

#[test]
fn timestamps_in_every_form() {
    let cases = [
        (r#""2024-05-20T15:14:58+08:00""#, Some(1_716_189_298)),
        (r#""2024-05-20T07:14:58.250Z""#, Some(1_716_189_298)),
        ("1716189298", Some(1_716_189_298)),
        (r#""1716189298""#, Some(1_716_189_298)),
        (r#""""#, None),
        (r#""not a time""#, None),
    ];
    for (json, want) in cases {
        for name in ["GROUP_DEL_ROBOT", "FRIEND_ADD", "GROUP_MEMBER_ADD", "ENTER_AIO"] {
            let data = format!(r#"{{"timestamp":{json}}}"#);
            let event = parse(name, &data).unwrap_or_else(|e| panic!("{name} {json}: {e}"));
            let ts = match event {
                TypedEvent::GroupDelRobot(e) => e.timestamp,
                TypedEvent::FriendAdd(e) => e.timestamp,
                TypedEvent::GroupMemberAdd(e) => e.timestamp,
                TypedEvent::EnterAio(e) => e.timestamp,
                other => panic!("{other:?}"),
            };
            assert_eq!(secs(ts.as_ref()), want, "{name} {json}");
        }
    }
    // Guild messages with a Unix timestamp are read too.
    let TypedEvent::MessageCreate(msg) =
        parse("MESSAGE_CREATE", r#"{"timestamp":1716189298,"edited_timestamp":""}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(secs(msg.timestamp.as_ref()), Some(1_716_189_298));
    assert_eq!(msg.edited_timestamp, Some(Timestamp::Text(String::new())));
}

#[test]
fn models_without_fixtures() {
    let TypedEvent::MessageDelete(del) = parse(
        "MESSAGE_DELETE",
        r#"{"message":{"id":"08ab","channel_id":"1","author":{"id":"2"}},"op_user":{"id":"3"}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(del.message.unwrap().id.as_deref(), Some("08ab"));
    assert_eq!(del.op_user.unwrap().id.as_deref(), Some("3"));

    let TypedEvent::ForumThreadCreate(thread) = parse(
        "FORUM_THREAD_CREATE",
        r#"{"guild_id":"1","channel_id":"2","author_id":"3","thread_info":{"thread_id":"B_1",
            "title":"{\"paragraphs\":[]}","content":{"paragraphs":[{"elems":[]}]},
            "date_time":"2022-01-10T11:00:00+08:00"}}"#,
    )
    .unwrap() else {
        panic!()
    };
    let info = thread.thread_info.unwrap();
    assert_eq!(info.title.as_deref(), Some(r#"{"paragraphs":[]}"#));
    assert_eq!(info.content.as_deref(), Some(r#"{"paragraphs":[{"elems":[]}]}"#));
    assert_eq!(secs(info.date_time.as_ref()), Some(1_641_783_600));

    let TypedEvent::ForumReplyDelete(reply) =
        parse("FORUM_REPLY_DELETE", r#"{"reply_info":{"thread_id":"B_1","post_id":"c_2","reply_id":"r_3"}}"#)
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(reply.reply_info.unwrap().reply_id.as_deref(), Some("r_3"));

    let TypedEvent::OpenForumPostCreate(open) =
        parse("OPEN_FORUM_POST_CREATE", r#"{"guild_id":"1","channel_id":"2","author_id":"3"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(open.author_id.as_deref(), Some("3"));

    let TypedEvent::AudioOrLiveChannelMemberEnter(m) = parse(
        "AUDIO_OR_LIVE_CHANNEL_MEMBER_ENTER",
        r#"{"guild_id":"1","channel_id":"2","channel_type":5,"user_id":"3"}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(m.channel_type, Some(5));

    let TypedEvent::AudioStart(a) =
        parse("AUDIO_START", r#"{"audio_url":"https://a/b.mp3","text":"song"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!(a.text.as_deref(), Some("song"));

    let TypedEvent::MessageAuditReject(audit) = parse(
        "MESSAGE_AUDIT_REJECT",
        r#"{"audit_id":"a1","audit_time":"2022-01-10T11:00:00+08:00","create_time":"2022-01-10T10:59:59+08:00"}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(audit.audit_id.as_deref(), Some("a1"));
    assert_eq!(secs(audit.create_time.as_ref()), Some(1_641_783_599));

    let TypedEvent::SubscribeMessageStatus(sub) = parse(
        "SUBSCRIBE_MESSAGE_STATUS",
        r#"{"openid":"U1","result":[{"template_id":1001,"op":1,"subscribe_id":"s","subscribe_ts":1700000000}]}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(sub.result[0].template_id.as_deref(), Some("1001"));
    assert_eq!(sub.result[0].op, Some(1));
    assert_eq!(secs(sub.result[0].subscribe_ts.as_ref()), Some(1_700_000_000));

    let TypedEvent::ChannelCreate(ch) =
        parse("CHANNEL_CREATE", r#"{"id":"9","type":10007,"name":"论坛","op_user_id":"1"}"#).unwrap()
    else {
        panic!()
    };
    assert_eq!((ch.kind, ch.name.as_deref()), (Some(10007), Some("论坛")));

    let TypedEvent::GroupMessageCreate(gm) = parse(
        "GROUP_MESSAGE_CREATE",
        r#"{"mentions":[{"scope":"all"},{"scope":"single","member_openid":"M","is_you":true,"bot":true}],
            "author":{"member_openid":"A","bot":false,"member_role":"admin"},
            "message_scene":{"source":"default","ext":["ref_msg_idx=1"]}}"#,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(gm.mentions[1].is_you, Some(true));
    assert_eq!(gm.author.unwrap().member_role.as_deref(), Some("admin"));
    assert_eq!(gm.message_scene.unwrap().ext, ["ref_msg_idx=1"]);
}

#[test]
fn a_bad_model_keeps_the_raw_event() {
    let d = dispatch("GUILD_CREATE", r#""""#);
    let err = TypedEvent::from_dispatch(&d).unwrap_err();
    let ModelError::Data { event, message } = &err else { panic!() };
    assert_eq!(event, &EventKind::GuildCreate);
    assert_eq!(err.event(), &EventKind::GuildCreate);
    assert!(message.contains("invalid type"), "{message}");
    assert!(err.to_string().starts_with("GUILD_CREATE"), "{err}");
    // The dispatch is untouched and can be delivered with the error.
    assert_eq!(d.data().get(), r#""""#);

    // A wrong type deep inside is an error too, naming the event.
    let err = parse("AT_MESSAGE_CREATE", r#"{"author":{"bot":"maybe"}}"#).unwrap_err();
    assert_eq!(err.event(), &EventKind::AtMessageCreate);
}

#[test]
fn models_serialize_and_parse_back() {
    for name in [
        "AT_MESSAGE_CREATE",
        "C2C_MESSAGE_CREATE",
        "GROUP_AT_MESSAGE_CREATE",
        "GUILD_CREATE",
        "GUILD_MEMBER_ADD",
        "INTERACTION_CREATE",
        "MESSAGE_REACTION_ADD",
        "GROUP_ADD_ROBOT",
        "READY",
        "RESUMED",
    ] {
        let event = typed(name);
        let json = match &event {
            TypedEvent::AtMessageCreate(m) => serde_json::to_string(m),
            TypedEvent::C2cMessageCreate(m) => serde_json::to_string(m),
            TypedEvent::GroupAtMessageCreate(m) => serde_json::to_string(m),
            TypedEvent::GuildCreate(m) => serde_json::to_string(m),
            TypedEvent::GuildMemberAdd(m) => serde_json::to_string(m),
            TypedEvent::InteractionCreate(m) => serde_json::to_string(m),
            TypedEvent::MessageReactionAdd(m) => serde_json::to_string(m),
            TypedEvent::GroupAddRobot(m) => serde_json::to_string(m),
            TypedEvent::Ready(m) => serde_json::to_string(m),
            TypedEvent::Resumed(m) => serde_json::to_string(m),
            other => panic!("{other:?}"),
        }
        .unwrap();
        assert_eq!(parse(name, &json).unwrap(), event, "{name}: {json}");
    }
}

// ---------------------------------------------------------------------------------------
// Robustness

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("2024-05-20T15:14:58+08:00"),
            Just("ReactionTargetType_MSG"),
            Just("1699240248"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let keys = prop_oneof![
        "[a-z_]{1,10}",
        prop_oneof![
            Just("id"),
            Just("content"),
            Just("timestamp"),
            Just("author"),
            Just("member"),
            Just("mentions"),
            Just("attachments"),
            Just("roles"),
            Just("target"),
            Just("type"),
            Just("data"),
            Just("resolved"),
            Just("user"),
            Just("message"),
            Just("thread_info"),
            Just("result"),
            Just("shard"),
            Just("size"),
        ]
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_data_never_panics(data in arb_json()) {
        let text = data.to_string();
        for kind in EventKind::ALL.iter().cloned().chain([EventKind::from_name("NOPE")]) {
            let d = dispatch(kind.as_str(), &text);
            match TypedEvent::from_dispatch(&d) {
                Ok(event) => prop_assert_eq!(event.kind(), kind),
                Err(err) => prop_assert_eq!(err.event(), &kind),
            }
        }
    }

    #[test]
    fn arbitrary_objects_never_panic(
        data in prop::collection::btree_map("[a-z_]{1,12}", arb_json(), 0..10)
    ) {
        let text = Value::Object(data.into_iter().collect()).to_string();
        for kind in EventKind::ALL {
            let _ = TypedEvent::from_dispatch(&dispatch(kind.as_str(), &text));
        }
    }
}

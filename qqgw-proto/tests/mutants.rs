//! Tests written to catch the mutants `cargo mutants` made of the machine, close-code,
//! backoff and pacing code that no other test noticed (see `fuzz/README.md`): each pins
//! down a documented behaviour that was not checked exactly before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use qqgw_proto::CloseCode;

/// The two codes with a predicate of their own, and no other.
#[test]
fn only_4009_is_a_rotation_and_only_4008_a_rate_limit() {
    use qqgw_proto::CloseCode;

    for code in [1000, 4000, 4004, 4006, 4007, 4008, 4009, 4900, 4914] {
        assert_eq!(CloseCode(code).is_rotation(), code == 4009, "{code}");
        assert_eq!(CloseCode(code).is_rate_limit(), code == 4008, "{code}");
    }
}

/// Every description in `CloseCode::description`'s table, and the formats that show it.
#[test]
fn close_code_descriptions_and_formats() {
    let table = [
        (1000, "normal closure"),
        (1001, "going away"),
        (1006, "connection dropped"),
        (1011, "transport closure"),
        (4000, "reconnecting"),
        (4001, "invalid opcode"),
        (4002, "invalid payload"),
        (4003, "unknown gateway code"),
        (4004, "authentication failed"),
        (4005, "unknown gateway code"),
        (4006, "session id invalid, cannot resume"),
        (4007, "invalid seq"),
        (4008, "payloads sent too fast"),
        (4009, "session timed out"),
        (4010, "invalid shard"),
        (4011, "too many guilds, shard the bot"),
        (4012, "invalid version"),
        (4013, "invalid intents"),
        (4014, "intents not permitted"),
        (4015, "unknown gateway code"),
        (4899, "unknown gateway code"),
        (4900, "internal error"),
        (4913, "internal error"),
        (4914, "bot taken offline, sandbox only"),
        (4915, "bot banned"),
        (4916, "unknown gateway code"),
        (4999, "unknown gateway code"),
        (5000, "transport closure"),
    ];
    for (code, description) in table {
        assert_eq!(CloseCode(code).description(), description, "{code}");
    }
    assert_eq!(format!("{:?}", CloseCode(4009)), "CloseCode(4009 session timed out)");
    assert_eq!(CloseCode(4009).to_string(), "4009");
    assert_eq!(CloseCode::from(4914), CloseCode::BOT_OFFLINE);
}

/// After the daily reset, `remaining` starts over and the next reset is a day later.
#[test]
fn the_identify_budget_resets_daily() {
    use qqgw_proto::{IdentifyLimiter, Instant, SessionStartLimit};

    assert_eq!(SessionStartLimit::default().reset_after, 86_400_000);
    let limit = SessionStartLimit { total: 2, remaining: 0, reset_after: 1_000, max_concurrency: 10 };
    let limiter = IdentifyLimiter::new(limit, Instant::ZERO);
    // Acquires and sends at once.
    let take = |at: u64| {
        limiter.try_acquire(Instant::from_millis(at)).map(|slot| limiter.sent(slot, Instant::from_millis(at)))
    };
    assert_eq!(take(999), Err(Instant::from_millis(1_000)));
    assert_eq!(take(1_000), Ok(()));
    assert_eq!(take(1_001), Ok(()));
    assert_eq!(limiter.remaining(), 0);
    assert_eq!(take(1_002), Err(Instant::from_millis(1_000 + 86_400_000)));
}

// ---------------------------------------------------------------------------------------
// The machine, driven by hand.

use core::time::Duration;

use qqgw_proto::{
    AccessToken, Config, DisconnectCause, Event, GatewayMachine, Input, Instant, Intents, Output, State,
};

mod common;
use common::drain;

fn config() -> Config {
    Config::builder("wss://m/", Intents::non_privileged()).reconnect_jitter(Duration::ZERO).build().unwrap()
}

/// A machine at time zero, connected and handed HELLO (its IDENTIFY not yet drained).
fn helloed() -> (Instant, GatewayMachine) {
    let now = Instant::ZERO;
    let mut m = GatewayMachine::new(config(), now);
    drain(&mut m, now, &|| Some(Input::Connected));
    m.handle_input(now, Input::Text(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#)).unwrap();
    (now, m)
}

/// A transport that reports the connection closed before it ever opened: a failed connect.
#[test]
fn closed_while_connecting_counts_as_a_failed_connect() {
    let now = Instant::ZERO;
    let mut m = GatewayMachine::new(config(), now);
    let d = drain(&mut m, now, &|| Some(Input::Closed(None)));
    assert_eq!(d.connects, 1);
    assert_eq!(m.state(), State::Disconnected);
    assert_eq!(m.metrics().connect_failures, 1);
    match d.events.as_slice() {
        [Event::Disconnected(d)] => assert_eq!(d.cause, DisconnectCause::ConnectFailed),
        other => panic!("{other:?}"),
    }
}

/// `close()` while the machine is already closing (after op 7, before the transport
/// confirmed) sends no second close frame, and the confirmation ends the machine.
#[test]
fn close_while_closing_turns_the_reconnect_into_the_end() {
    let (now, mut m) = helloed();
    drain(&mut m, now, &|| None);
    assert!(!m.is_ready());
    m.handle_input(now, Input::Text(r#"{"op":0,"s":1,"t":"READY","d":{"session_id":"s"}}"#)).unwrap();
    drain(&mut m, now, &|| None);
    assert!(m.is_ready());
    m.handle_input(now, Input::Text(r#"{"op":7}"#)).unwrap();
    assert!(matches!(m.poll_output(), Output::Close(_)));
    assert!(matches!(m.poll_output(), Output::Sleep(_)));
    assert_eq!(m.state(), State::Closing);
    assert!(!m.is_ready());
    m.close(now).unwrap();
    assert!(matches!(m.poll_output(), Output::Sleep(Some(_))), "a second close frame");
    assert!(matches!(m.next_timer(), Some((qqgw_proto::Timer::Close, _))), "only the close is waited on");
    assert!(!m.can_reconnect());
    m.handle_input(now, Input::Closed(None)).unwrap();
    let d = drain(&mut m, now, &|| None);
    assert_eq!(d.connects, 0);
    match d.events.as_slice() {
        [Event::Closed(Some(session))] => assert_eq!((session.id.as_str(), session.seq), ("s", 1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(m.state(), State::Terminated);
}

/// `next_timer` names the timer behind `poll_timeout`.
#[test]
fn next_timer_names_the_deadline() {
    use qqgw_proto::Timer;

    let now = Instant::ZERO;
    let mut m = GatewayMachine::new(config(), now);
    drain(&mut m, now, &|| Some(Input::Connected));
    assert_eq!(m.next_timer(), Some((Timer::Handshake, Instant::from_millis(30_000))));
    m.handle_input(now, Input::Text(r#"{"op":10,"d":{"heartbeat_interval":1000}}"#)).unwrap();
    drain(&mut m, now, &|| None);
    assert_eq!(m.next_timer(), Some((Timer::Heartbeat, Instant::from_millis(1_000))));
    m.handle_input(now, Input::ConnectFailed).unwrap_err();
    m.handle_input(now, Input::Closed(None)).unwrap();
    drain(&mut m, now, &|| None);
    let (timer, at) = m.next_timer().unwrap();
    assert_eq!(timer, Timer::Reconnect);
    assert_eq!(m.poll_timeout(), Some(at));
}

/// The getters of what the machine was configured with.
#[test]
fn shard_and_intents_getters() {
    use qqgw_proto::ShardId;

    let shard = ShardId::new(1, 2).unwrap();
    let intents = Intents::PUBLIC_GUILD_MESSAGES | Intents::GUILDS;
    let config = Config::builder("wss://m/", intents).shard(shard).build().unwrap();
    let m = GatewayMachine::new(config, Instant::ZERO);
    assert_eq!(m.shard(), shard);
    assert_eq!(m.intents(), intents);
}

/// A token delivered already expired (or expiring this very instant) is not used, and
/// is not asked for again at once: the attempt backs off.
#[test]
fn a_token_delivered_expired_backs_off() {
    let now = Instant::from_millis(1_000);
    let mut m = GatewayMachine::new(config(), now);
    assert!(matches!(m.poll_output(), Output::RefreshToken));
    m.handle_input(now, Input::Token(AccessToken::new("t", now))).unwrap();
    let d = drain(&mut m, now, &|| None);
    assert_eq!(d.connects, 0);
    match d.events.as_slice() {
        [Event::Disconnected(d)] => {
            assert!(matches!(d.cause, DisconnectCause::TokenUnavailable(_)), "{d:?}");
            assert!(d.at > now);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.state(), State::Disconnected);
    assert_eq!(m.metrics().token_refreshes, 1);
}

/// Every counter of a scripted session.
#[test]
fn metrics_of_a_scripted_session() {
    use qqgw_fake::Harness;
    use qqgw_proto::CloseCode;

    let sec = Duration::from_secs(1);
    let mut h = Harness::new(config());
    h.run_for(sec);
    h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
    h.run_for(Duration::from_secs(46)); // one heartbeat, acknowledged
    h.gateway.send_raw(r#"{"op":0,"s":2,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:2","d":{}}"#); // a replay
    h.gateway.dispatch_as("AT_MESSAGE_CREATE", "AT_MESSAGE_CREATE:2", "{}"); // QQ pushes it again: a duplicate
    h.gateway.send_raw("garbage");
    h.run_for(sec);
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.run_for(sec);
    h.gateway.refuse_connects = 1;
    h.gateway.drop_connection();
    // RESUMED was progress: the drop reconnects at once, that connect is refused and
    // backs off (4–5 s), and then the RESUME goes through.
    h.run_for(Duration::from_secs(10));

    let m = h.machine.metrics();
    let counts = [
        ("connects", m.connects),
        ("connect_failures", m.connect_failures),
        ("identifies", m.identifies),
        ("resumes", m.resumes),
        ("readies", m.readies),
        ("resumed", m.resumed),
        ("heartbeats_sent", m.heartbeats_sent),
        ("heartbeats_acked", m.heartbeats_acked),
        ("zombies", m.zombies),
        ("disconnects", m.disconnects),
        ("token_refreshes", m.token_refreshes),
        ("events", m.events),
        ("replays_dropped", m.replays_dropped),
        ("duplicates_dropped", m.duplicates_dropped),
        ("decode_failures", m.decode_failures),
    ];
    let expected = [
        ("connects", 4), // IDENTIFY; RESUME after the 4009; refused after the drop; RESUME
        ("connect_failures", 1),
        ("identifies", 1),
        ("resumes", 2),
        ("readies", 1),
        ("resumed", 2),
        ("heartbeats_sent", 1),
        ("heartbeats_acked", 1),
        ("zombies", 0),
        ("disconnects", 3), // the 4009, the drop, the refused connect
        ("token_refreshes", 1),
        ("events", 4), // READY, the message, RESUMED twice
        ("replays_dropped", 1),
        ("duplicates_dropped", 1),
        ("decode_failures", 1),
    ];
    assert_eq!(counts, expected);
    let total: Duration = State::ALL.iter().map(|&state| m.time_in(state)).sum();
    assert_eq!(total, h.now.saturating_duration_since(Instant::ZERO));
    assert!(m.time_in(State::Active) > Duration::from_secs(45));
    assert!(m.time_in(State::Disconnected) >= Duration::from_secs(4), "the backoff after a refused connect");
}

/// READY is progress: the backoff count starts over without waiting for a heartbeat, so
/// a drop right after it reconnects at once.
#[test]
fn ready_resets_the_backoff_count_without_waiting_for_a_heartbeat() {
    use qqgw_fake::{FakeGateway, Harness};

    let mut gateway = FakeGateway::default();
    gateway.refuse_connects = 1;
    let mut h = Harness::with_gateway(config(), gateway);
    h.run_for(Duration::from_secs(6)); // refused, 4–5 s of backoff, then READY
    assert!(h.machine.is_ready());
    h.gateway.drop_connection();
    h.run_for(Duration::from_millis(1));
    let Some((at, Event::Disconnected(d))) =
        h.events.iter().rev().find(|(_, e)| matches!(e, Event::Disconnected(_)))
    else {
        panic!("{:?}", h.events)
    };
    assert_eq!(d.cause, DisconnectCause::Dropped);
    assert_eq!(d.at, *at, "no backoff after READY");
}

/// Heartbeat round trips: the last, the mean, and the last five, over six of them.
#[test]
fn latency_keeps_the_last_five_round_trips() {
    let mut m = GatewayMachine::new(config(), Instant::ZERO);
    drain(&mut m, Instant::ZERO, &|| Some(Input::Connected));
    m.handle_input(Instant::ZERO, Input::Text(r#"{"op":10,"d":{"heartbeat_interval":1000}}"#)).unwrap();
    m.handle_input(Instant::ZERO, Input::Text(r#"{"op":0,"s":1,"t":"READY","d":{"session_id":"s"}}"#))
        .unwrap();
    drain(&mut m, Instant::ZERO, &|| None);
    for i in 1..=6u64 {
        let beat = Instant::from_millis(i * 1_000);
        m.handle_timeout(beat);
        let d = drain(&mut m, beat, &|| None);
        assert_eq!(d.sent, [r#"{"op":1,"d":1}"#]);
        let ack = Instant::from_millis(i * 1_000 + i * 10);
        m.handle_input(ack, Input::Text(r#"{"op":11}"#)).unwrap();
        assert_eq!(m.latency().last(), Some(Duration::from_millis(i * 10)));
    }
    let latency = m.latency();
    assert_eq!(latency.count(), 6);
    assert_eq!(latency.average(), Some(Duration::from_millis(35)));
    let mut recent: Vec<u128> = latency.recent().map(|d| d.as_millis()).collect();
    recent.sort_unstable();
    assert_eq!(recent, [20, 30, 40, 50, 60]);
    assert_eq!(latency.sent_at(), Some(Instant::from_millis(6_000)));
    assert_eq!(latency.acked_at(), Some(Instant::from_millis(6_060)));
}

/// A refused input is named in the error.
#[test]
fn a_refused_input_is_named() {
    use qqgw_proto::UsageError;

    let mut m = GatewayMachine::new(config(), Instant::ZERO);
    let refused = [
        (Input::Connected, "Connected"),
        (Input::ConnectFailed, "ConnectFailed"),
        (Input::Text("{}"), "Text"),
        (Input::Binary(b"{}"), "Binary"),
        (Input::Closed(None), "Closed"),
    ];
    for (input, name) in refused {
        let error = m.handle_input(Instant::ZERO, input).unwrap_err();
        assert_eq!(error, UsageError::UnexpectedInput { input: name, state: State::AwaitingToken });
    }
    drain(&mut m, Instant::ZERO, &|| None);
    let error =
        m.handle_input(Instant::ZERO, Input::TokenFailed(qqgw_proto::TokenError::Unavailable("x".into())));
    assert_eq!(error, Err(UsageError::UnexpectedInput { input: "TokenFailed", state: State::Connecting }));
}

/// An IDENTIFY whose connection ends before READY is a lost session with no id, and the
/// `sessions_lost` counter counts it.
#[test]
fn an_unanswered_identify_counts_as_a_lost_session() {
    let (now, mut m) = helloed();
    let d = drain(&mut m, now, &|| None);
    assert!(d.sent.iter().any(|frame| frame.starts_with(r#"{"op":2"#)), "{:?}", d.sent);
    m.handle_input(now, Input::Closed(None)).unwrap();
    let d = drain(&mut m, now, &|| None);
    match d.events.as_slice() {
        [Event::SessionLost(lost), Event::Disconnected(_)] => {
            assert_eq!((lost.id.as_str(), lost.seq), ("", 0))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.metrics().sessions_lost, 1);
}

/// Which ends of a connection adapters may log as routine: QQ's rotation (op 7, 4009)
/// and its answers (op 9), and nothing else.
#[test]
fn routine_disconnects_are_qqs_rotation_and_answers() {
    use qqgw_proto::CloseFrame;

    let routine = [
        DisconnectCause::ReconnectRequested,
        DisconnectCause::InvalidSession { resumable: true },
        DisconnectCause::InvalidSession { resumable: false },
        DisconnectCause::Closed(CloseFrame::new(CloseCode::SESSION_TIMED_OUT, "")),
    ];
    let trouble = [
        DisconnectCause::Closed(CloseFrame::new(CloseCode::RATE_LIMITED, "")),
        DisconnectCause::Closed(CloseFrame::new(CloseCode::NORMAL, "")),
        DisconnectCause::Dropped,
        DisconnectCause::ConnectFailed,
        DisconnectCause::Zombie,
        DisconnectCause::HandshakeTimeout,
        DisconnectCause::TokenUnavailable("down".into()),
    ];
    for cause in routine {
        assert!(cause.is_routine(), "{cause:?}");
    }
    for cause in trouble {
        assert!(!cause.is_routine(), "{cause:?}");
    }
}

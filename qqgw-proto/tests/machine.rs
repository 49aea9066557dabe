//! One test per behaviour of the machine, on a virtual clock against the fake gateway.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use core::time::Duration;

use qqgw_fake::{FakeGateway, Harness, TokenPolicy};
use qqgw_proto::{
    AccessToken, CloseAction, CloseCode, Config, ConfigBuilder, DecodeError, DisconnectCause, Event,
    FatalError, GatewayMachine, IdentifyLimiter, IdentifySlot, Input, Instant, Intents, Output, PacerAnswer,
    PacerRequest, Reconnect, Session, SessionStartLimit, ShardId, State, UsageError,
};

const SEC: Duration = Duration::from_secs(1);

fn builder() -> ConfigBuilder {
    Config::builder("wss://fake.invalid/websocket/", Intents::non_privileged())
        .reconnect_jitter(Duration::ZERO)
}

/// A fake gateway with some settings changed.
fn gateway(set: impl FnOnce(&mut FakeGateway)) -> FakeGateway {
    let mut gateway = FakeGateway::default();
    set(&mut gateway);
    gateway
}

fn harness() -> Harness {
    Harness::new(builder().build().unwrap())
}

/// A harness whose gateway beats every `interval`.
fn harness_beating(interval: Duration) -> Harness {
    let gateway = gateway(|g| g.heartbeat_interval = interval);
    Harness::with_gateway(builder().build().unwrap(), gateway)
}

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

fn disconnects(h: &Harness) -> Vec<(Instant, DisconnectCause, Reconnect, Instant)> {
    h.events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Disconnected(d) => Some((*t, d.cause.clone(), d.next, d.at)),
            _ => None,
        })
        .collect()
}

fn decode_failures(h: &Harness) -> Vec<DecodeError> {
    h.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::DecodeFailed(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

fn fatal(h: &Harness) -> Option<FatalError> {
    h.events.iter().find_map(|(_, e)| match e {
        Event::Fatal(f) => Some(f.clone()),
        _ => None,
    })
}

fn seqs(h: &Harness) -> Vec<u64> {
    h.dispatches().filter_map(qqgw_proto::Dispatch::seq).collect()
}

#[test]
fn happy_path_identifies_with_the_documented_fields() {
    let config =
        Config::builder("wss://fake.invalid/", Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
            .shard(ShardId::new(1, 2).unwrap())
            .build()
            .unwrap();
    let mut h = Harness::new(config);
    h.run_for(SEC);

    assert!(h.machine.is_ready());
    assert_eq!(h.machine.state(), State::Active);
    assert_eq!(h.machine.session_id(), Some(h.gateway.record.sessions[0].as_str()));
    assert_eq!(h.machine.last_sequence(), Some(1));
    assert_eq!(h.gateway.record.connects, [ms(0)]);
    let (_, identify) = &h.gateway.record.identifies[0];
    let d: serde_json::Value = serde_json::from_str(identify).unwrap();
    // A token QQ issued, in QQ's `QQBot {token}` form.
    let token = d["token"].as_str().unwrap();
    let now = h.now;
    assert!(token.starts_with("QQBot ") && h.gateway.qq().token_valid(token, now), "{token}");
    assert_eq!(d["intents"], 1_107_296_259u32);
    assert_eq!(d["shard"], serde_json::json!([1, 2]));
    assert!(d["properties"]["$os"].is_string());
    assert_eq!(h.dispatch_names(), ["READY"]);
    assert_eq!(h.dispatches().next().unwrap().shard(), ShardId::new(1, 2).unwrap());

    h.gateway.dispatch("AT_MESSAGE_CREATE", r#"{"content":"hi"}"#);
    h.run_for(SEC);
    let last = h.dispatches().last().unwrap();
    assert_eq!(
        (last.name(), last.seq(), last.id()),
        ("AT_MESSAGE_CREATE", Some(2), Some("AT_MESSAGE_CREATE:2"))
    );
    assert_eq!(last.data().get(), r#"{"content":"hi"}"#);
    let m = h.machine.metrics();
    assert_eq!((m.connects, m.identifies, m.readies, m.events), (1, 1, 1, 2));
}

#[test]
fn heartbeats_follow_hellos_interval_and_carry_the_last_seq() {
    let mut h = harness_beating(Duration::from_millis(41_250));
    h.run_for(Duration::from_secs(130));
    let beats = &h.gateway.record.heartbeats;
    let times: Vec<u64> = beats.iter().map(|(t, _)| t.as_millis()).collect();
    assert_eq!(times, [41_250, 82_500, 123_750]);
    assert!(beats.iter().all(|(_, d)| *d == Some(1)), "{beats:?}");
    assert_eq!(h.machine.heartbeat_interval(), Duration::from_millis(41_250));

    h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
    h.run_for(Duration::from_secs(41));
    assert_eq!(h.gateway.record.heartbeats.last().unwrap().1, Some(2));
    assert_eq!(h.machine.metrics().heartbeats_acked, 4);
    assert_eq!(h.machine.latency().count(), 4);
    assert_eq!(h.machine.latency().last(), Some(Duration::ZERO));
}

#[test]
fn first_heartbeat_before_any_dispatch_sends_null_and_latency_is_measured() {
    let config = builder().build().unwrap();
    let mut now = ms(0);
    let mut m = GatewayMachine::new(config, now);
    assert!(matches!(m.poll_output(), Output::RefreshToken));
    m.handle_input(now, Input::Token(AccessToken::new("t", now + Duration::from_secs(7200)))).unwrap();
    assert!(matches!(m.poll_output(), Output::Pacer(PacerRequest::Acquire)));
    assert!(matches!(m.poll_output(), Output::Sleep(None)), "waits for the pacer");
    m.handle_input(now, GRANTED).unwrap();
    assert!(matches!(m.poll_output(), Output::Connect(url) if url == "wss://fake.invalid/websocket/"));
    assert!(matches!(m.poll_output(), Output::Sleep(None)));
    // No heartbeat before HELLO, however long it takes.
    m.handle_input(now, Input::Connected).unwrap();
    assert!(matches!(m.poll_output(), Output::Sleep(Some(t)) if t == ms(30_000)), "handshake timeout");
    m.handle_input(now, Input::Text(r#"{"op":10,"d":{"heartbeat_interval":5000}}"#)).unwrap();
    assert!(matches!(m.poll_output(), Output::Send(f) if f.starts_with(r#"{"op":2,"#)));
    assert!(matches!(m.poll_output(), Output::Pacer(PacerRequest::Sent(IdentifySlot(0)))));
    assert!(matches!(m.poll_output(), Output::Sleep(Some(t)) if t == ms(5_000)));
    now = ms(5_000);
    m.handle_timeout(now);
    assert!(matches!(m.poll_output(), Output::Send(f) if f == r#"{"op":1,"d":null}"#));
    now = ms(5_120);
    m.handle_input(now, Input::Text(r#"{"op":11}"#)).unwrap();
    assert_eq!(m.latency().last(), Some(Duration::from_millis(120)));
    assert_eq!(m.latency().sent_at(), Some(ms(5_000)));
    assert_eq!(m.latency().acked_at(), Some(ms(5_120)));
}

#[test]
fn absurd_hello_intervals_are_clamped_or_replaced() {
    for (hello, expected) in [
        (r#"{"op":10,"d":{"heartbeat_interval":1}}"#, Duration::from_millis(50)),
        (r#"{"op":10,"d":{"heartbeat_interval":99999999999}}"#, Duration::from_secs(600)),
        (r#"{"op":10,"d":{"heartbeat_interval":0}}"#, Duration::from_secs(45)),
        (r#"{"op":10,"d":{}}"#, Duration::from_secs(45)),
        (r#"{"op":10}"#, Duration::from_secs(45)),
    ] {
        let mut m = connected(builder().build().unwrap(), ms(9_999_999));
        m.handle_input(ms(0), Input::Text(hello)).unwrap();
        assert_eq!(m.heartbeat_interval(), expected, "{hello}");
        let invalid = expected == Duration::from_secs(45);
        assert_eq!(m.metrics().decode_failures, u64::from(invalid), "{hello}");
    }
}

#[test]
fn the_heartbeat_floor_is_a_config_value() {
    let config = builder().min_heartbeat_interval(Duration::from_secs(5)).build().unwrap();
    let mut m = connected(config, ms(9_999_999));
    m.handle_input(ms(0), Input::Text(r#"{"op":10,"d":{"heartbeat_interval":100}}"#)).unwrap();
    assert_eq!(m.heartbeat_interval(), Duration::from_secs(5), "a server cannot make us beat faster");
}

#[test]
fn zombie_connection_is_abandoned_without_a_handshake_and_resumed_at_once() {
    let mut h = harness_beating(Duration::from_secs(10));
    h.run_for(Duration::from_secs(15));
    h.gateway.ack_heartbeats = false;
    h.run_for(Duration::from_secs(20));
    // Beat at 20 s unanswered and nothing heard since; at 30 s the next is due: zombie.
    // A dead peer is not asked to close: the socket is dropped.
    assert!(h.gateway.record.client_closes.is_empty());
    assert_eq!(h.gateway.record.abandoned, [ms(30_000)]);
    let d = disconnects(&h);
    assert_eq!(d.len(), 1);
    assert_eq!((d[0].0, d[0].1.clone(), d[0].2), (ms(30_000), DisconnectCause::Zombie, Reconnect::Resume));
    assert_eq!(h.gateway.record.connects, [ms(0), ms(30_000)]);
    assert_eq!(h.gateway.record.resumes, [(ms(30_000), h.gateway.record.sessions[0].clone(), 1)]);
    assert_eq!(h.machine.metrics().zombies, 1);
    assert!(h.machine.is_ready());
}

#[test]
fn zombie_after_ready_reconnects_at_once_even_before_any_ack() {
    let gateway = gateway(|g| {
        g.heartbeat_interval = Duration::from_secs(10);
        g.ack_heartbeats = false;
    });
    let mut h = Harness::with_gateway(builder().seed(3).build().unwrap(), gateway);
    h.run_for(Duration::from_secs(21));
    let d = disconnects(&h);
    assert_eq!(d[0].1, DisconnectCause::Zombie);
    assert_eq!(d[0].0, ms(20_000));
    assert_eq!(d[0].3, d[0].0, "READY was progress: no backoff");
}

#[test]
fn frames_arriving_prove_an_unacknowledged_link_alive() {
    let mut h = harness_beating(Duration::from_secs(10));
    h.run_for(SEC);
    h.gateway.ack_heartbeats = false;
    // A long replay read slowly: the ACKs sit behind it, but frames keep coming.
    for _ in 0..10 {
        h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
        h.run_for(Duration::from_secs(4));
    }
    assert_eq!(h.machine.metrics().zombies, 0, "frames since the beat: alive");
    assert!(h.gateway.record.heartbeats.len() >= 3);
    // Then silence: one interval after the first unanswered beat with no frame since.
    let silent_from = h.now;
    h.run_for(Duration::from_secs(25));
    let d = disconnects(&h);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].1, DisconnectCause::Zombie);
    assert!(d[0].0.saturating_duration_since(silent_from) <= Duration::from_secs(20), "{d:?}");
}

#[test]
fn a_heartbeat_qq_asks_for_rearms_the_beat_timer() {
    let mut m = ready(builder().build().unwrap(), ms(9_999_999), 10000, ms(10));
    // QQ asks for a beat 100 ms before ours was due; its ACK is on the way.
    m.handle_input(ms(9_900), Input::Text(r#"{"op":1,"d":null}"#)).unwrap();
    let sent = drain(&mut m);
    assert!(sent.iter().any(|o| matches!(o, Output::Send(f) if f.starts_with(r#"{"op":1"#))));
    assert_eq!(m.next_timer(), Some((qqgw_proto::Timer::Heartbeat, ms(19_900))));
    m.handle_timeout(ms(10_000));
    assert!(drain(&mut m).is_empty(), "no false zombie at the old deadline");
    m.handle_input(ms(10_050), Input::Text(r#"{"op":11}"#)).unwrap();
    assert_eq!(m.metrics().zombies, 0);
}

/// Every output up to the next Sleep.
fn drain(m: &mut GatewayMachine) -> Vec<Output> {
    std::iter::from_fn(|| match m.poll_output() {
        Output::Sleep(_) => None,
        o => Some(o),
    })
    .collect()
}

#[test]
fn session_rotation_4009_resumes_and_delivers_every_event_exactly_once() {
    let mut h = harness();
    h.run_for(SEC);
    for i in 0..3 {
        h.gateway.dispatch("AT_MESSAGE_CREATE", &format!(r#"{{"n":{i}}}"#));
    }
    h.run_for(SEC);
    let closed_at = h.now;
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    let missed: Vec<u64> =
        (0..4).map(|i| h.gateway.dispatch("AT_MESSAGE_CREATE", &format!(r#"{{"n":{}}}"#, 3 + i))).collect();
    h.run_for(SEC);

    assert_eq!(h.gateway.record.resumes.len(), 1);
    assert_eq!(h.gateway.record.resumes[0].2, 4, "RESUME carries the last seq delivered");
    assert_eq!(h.gateway.record.identifies.len(), 1);
    // Instant reconnect: 4009 is QQ's rotation.
    assert_eq!(h.gateway.record.connects.len(), 2);
    assert_eq!(h.gateway.record.connects[1], closed_at);
    let n: Vec<u64> = h
        .dispatches()
        .filter(|d| d.name() == "AT_MESSAGE_CREATE")
        .map(|d| d.parse::<serde_json::Value>().unwrap()["n"].as_u64().unwrap())
        .collect();
    assert_eq!(n, [0, 1, 2, 3, 4, 5, 6]);
    let s = seqs(&h);
    assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
    assert!(missed.iter().all(|m| s.contains(m)));
    assert_eq!(h.dispatch_names().last(), Some(&"RESUMED"));
}

#[test]
fn replayed_and_repeated_frames_are_dropped_and_counted() {
    let mut h = harness();
    h.run_for(SEC);
    h.gateway.dispatch("AT_MESSAGE_CREATE", "{}"); // s = 2
    h.gateway.dispatch("AT_MESSAGE_CREATE", "{}"); // s = 3
    h.run_for(SEC);
    // A server that replays from the start after a RESUME, and pushes one event twice.
    h.gateway.send_raw(r#"{"op":0,"s":2,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:2","d":{}}"#);
    h.gateway.send_raw(r#"{"op":0,"s":3,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:3","d":{}}"#);
    h.gateway.send_raw(r#"{"op":0,"s":9,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:3","d":{}}"#);
    h.gateway.send_raw(r#"{"op":0,"s":10,"t":"AT_MESSAGE_CREATE","id":"AT_MESSAGE_CREATE:10","d":{}}"#);
    h.run_for(SEC);
    assert_eq!(seqs(&h), [1, 2, 3, 10]);
    let m = h.machine.metrics();
    assert_eq!((m.replays_dropped, m.duplicates_dropped, m.events), (2, 1, 4));
    assert_eq!(h.machine.last_sequence(), Some(10));
}

#[test]
fn op7_sends_a_close_and_resumes_at_once() {
    let mut h = harness();
    h.run_for(SEC);
    h.gateway.request_reconnect();
    h.run_for(SEC);
    assert_eq!(h.gateway.record.client_closes.len(), 1);
    assert_eq!(h.gateway.record.client_closes[0].code, CloseCode(4000));
    assert_eq!(disconnects(&h)[0].1, DisconnectCause::ReconnectRequested);
    assert_eq!(h.gateway.record.connects, [ms(0), ms(1_000)]);
    assert_eq!(h.gateway.record.resumes.len(), 1);
    assert!(h.machine.is_ready());
}

#[test]
fn op9_true_resumes() {
    let mut h = harness();
    h.run_for(SEC);
    h.gateway.invalidate_session(true);
    h.run_for(Duration::from_secs(10));
    assert_eq!(disconnects(&h)[0].1, DisconnectCause::InvalidSession { resumable: true });
    assert_eq!(disconnects(&h)[0].2, Reconnect::Resume);
    assert_eq!(h.gateway.record.resumes.len(), 1);
    assert_eq!(h.gateway.record.identifies.len(), 1);
}

#[test]
fn op9_false_identifies_afresh_after_the_pacing_window() {
    let mut h = harness();
    h.run_for(SEC);
    h.gateway.invalidate_session(false);
    h.run_for(Duration::from_secs(10));
    assert_eq!(h.gateway.record.client_closes[0].code, CloseCode::NORMAL);
    assert_eq!(disconnects(&h)[0].2, Reconnect::Identify);
    assert!(h.gateway.record.resumes.is_empty());
    let ids: Vec<u64> = h.gateway.record.identifies.iter().map(|(t, _)| t.as_millis()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[1] - ids[0] >= 5_000, "IDENTIFYs paced: {ids:?}");
    assert_eq!(h.machine.session_id(), Some(h.gateway.record.sessions[1].as_str()));
}

#[test]
fn every_close_code_of_the_table_and_an_unknown_one() {
    let table = [
        (4001, CloseAction::Fatal),
        (4002, CloseAction::Fatal),
        (4006, CloseAction::Identify),
        (4007, CloseAction::Identify),
        (4008, CloseAction::Resume),
        (4009, CloseAction::Resume),
        (4010, CloseAction::Fatal),
        (4011, CloseAction::Fatal),
        (4012, CloseAction::Fatal),
        (4013, CloseAction::Fatal),
        (4014, CloseAction::Fatal),
        (4900, CloseAction::Identify),
        (4905, CloseAction::Identify),
        (4913, CloseAction::Identify),
        (4914, CloseAction::Fatal),
        (4915, CloseAction::Fatal),
        (4004, CloseAction::RefreshToken),
        (4321, CloseAction::Identify),
        (1006, CloseAction::Resume),
    ];
    for (code, action) in table {
        let mut h = harness();
        h.run_for(Duration::from_secs(50)); // one ACK: healthy
        h.gateway.close(CloseCode(code));
        h.run_for(Duration::from_secs(60));
        let r = &h.gateway.record;
        match action {
            CloseAction::Fatal => {
                assert_eq!(r.connects.len(), 1, "{code}: no retry after a fatal code");
                let Some(FatalError::Closed { code: c, .. }) = fatal(&h) else {
                    panic!("{code}: no fatal event")
                };
                assert_eq!(c, CloseCode(code));
                assert!(matches!(h.events.last(), Some((_, Event::Fatal(_)))), "{code}: fatal is last");
                assert_eq!(h.machine.state(), State::Terminated);
                assert!(!h.machine.can_reconnect());
            }
            CloseAction::Resume | CloseAction::RefreshToken => {
                assert_eq!((r.resumes.len(), r.identifies.len()), (1, 1), "{code}");
                assert!(h.machine.is_ready(), "{code}");
            }
            CloseAction::Identify => {
                assert_eq!((r.resumes.len(), r.identifies.len()), (0, 2), "{code}");
                assert!(h.machine.is_ready(), "{code}");
            }
        }
        assert_eq!(r.tokens, if action == CloseAction::RefreshToken { 2 } else { 1 }, "{code}");
    }
}

#[test]
fn rate_limit_4008_waits_at_least_the_initial_backoff() {
    let mut h = harness();
    h.run_for(Duration::from_secs(50));
    h.gateway.close(CloseCode::RATE_LIMITED);
    h.run_for(Duration::from_secs(60));
    let d = disconnects(&h);
    assert!(d[0].3.saturating_duration_since(d[0].0) >= Duration::from_secs(5));
    assert_eq!(h.gateway.record.resumes.len(), 1);
}

#[test]
fn auth_failure_4004_fetches_a_new_token_then_resumes() {
    let mut h = harness();
    h.run_for(Duration::from_secs(50));
    h.gateway.close(CloseCode::AUTHENTICATION_FAILED);
    h.run_for(Duration::from_secs(60));
    assert_eq!(h.gateway.record.tokens, 2);
    assert_eq!(h.gateway.record.resumes.len(), 1);
    assert_eq!(h.machine.metrics().token_refreshes, 2);
}

#[test]
fn a_token_about_to_expire_is_replaced_before_resume() {
    let gateway = gateway(|g| g.token_policy = TokenPolicy::Valid(Duration::from_secs(300)));
    let mut h = Harness::with_gateway(builder().build().unwrap(), gateway);
    h.run_for(Duration::from_secs(250)); // 50 s left on the token: inside the refresh margin
    assert_eq!(h.gateway.record.tokens, 1);
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.run_for(SEC);
    assert_eq!(h.gateway.record.tokens, 2, "a fresh token before RESUME");
    assert_eq!(h.gateway.record.resumes.len(), 1);
    // The same again once the token has fully expired.
    h.run_for(Duration::from_secs(400));
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.run_for(SEC);
    assert_eq!(h.gateway.record.tokens, 3);
    assert_eq!(h.gateway.record.resumes.len(), 2);
}

#[test]
fn rejected_credentials_are_fatal_without_a_connection() {
    let gateway = gateway(|g| g.token_policy = TokenPolicy::Rejected);
    let mut h = Harness::with_gateway(builder().build().unwrap(), gateway);
    h.run_for(Duration::from_secs(600));
    assert!(h.gateway.record.connects.is_empty());
    assert_eq!(h.machine.metrics().token_refreshes, 1, "no retry storm");
    assert!(matches!(fatal(&h), Some(FatalError::CredentialsRejected { code: 100_016, .. })));
    assert_eq!(h.events.len(), 1);
    let err = h.machine.handle_input(h.now, Input::Connected);
    assert_eq!(err, Err(UsageError::Terminated));
}

#[test]
fn unavailable_tokens_are_retried_with_backoff() {
    let gateway = gateway(|g| g.token_policy = TokenPolicy::Unavailable);
    let mut h = Harness::with_gateway(builder().build().unwrap(), gateway);
    h.run_for(Duration::from_secs(30)); // asks at 0, ~5, ~15
    assert_eq!(h.machine.metrics().token_refreshes, 3);
    assert!(disconnects(&h).iter().all(|d| matches!(d.1, DisconnectCause::TokenUnavailable(_))));
    h.gateway.token_policy = TokenPolicy::Valid(Duration::from_secs(7200));
    h.run_for(Duration::from_secs(40));
    assert!(h.machine.is_ready());
}

#[test]
fn a_failed_renewal_goes_on_with_the_token_still_held() {
    // A token inside its renewal window (expires in 30 s): the reconnect asks for a new
    // one, QQ rate-limits the request, and the old one is used at once.
    let mut m = ready(builder().build().unwrap(), ms(30_000), 45000, ms(5));
    m.handle_input(ms(1_000), Input::Closed(Some(qqgw_proto::CloseFrame::new(4009, "")))).unwrap();
    m.handle_timeout(ms(1_020));
    assert!(drain(&mut m).iter().any(|o| matches!(o, Output::RefreshToken)));
    let busy = qqgw_proto::TokenError::Unavailable("code 100001: too many requests".into());
    m.handle_input(ms(1_030), Input::TokenFailed(busy.clone())).unwrap();
    let out = drain(&mut m);
    assert!(matches!(&out[0], Output::Emit(Event::TokenRefreshFailed(e)) if *e == busy), "{out:?}");
    assert!(matches!(&out[1], Output::Connect(_)), "{out:?}");
    // A token expiring the very instant its renewal fails is not used: back off, with
    // the endpoint's reason.
    let mut m = ready(builder().build().unwrap(), ms(30_000), 45000, ms(5));
    m.handle_input(ms(30_000), Input::Closed(Some(qqgw_proto::CloseFrame::new(4009, "")))).unwrap();
    assert!(drain(&mut m).iter().any(|o| matches!(o, Output::RefreshToken)));
    m.handle_input(ms(30_000), Input::TokenFailed(busy.clone())).unwrap();
    let out = drain(&mut m);
    assert!(!out.iter().any(|o| matches!(o, Output::Emit(Event::TokenRefreshFailed(_)))), "{out:?}");
    let reason = "code 100001: too many requests".to_owned();
    assert!(
        out.iter().any(|o| matches!(o, Output::Emit(Event::Disconnected(d))
            if d.cause == DisconnectCause::TokenUnavailable(reason.clone()))),
        "{out:?}"
    );
    // Past its expiry, a failed renewal backs off instead (and is no fatal).
    let mut m = GatewayMachine::new(builder().build().unwrap(), ms(0));
    m.handle_input(ms(0), Input::TokenFailed(busy)).unwrap();
    let out = drain(&mut m);
    assert!(
        out.iter().any(|o| matches!(o, Output::Emit(Event::Disconnected(d)) if d.at >= ms(4_000))),
        "{out:?}"
    );
    assert_ne!(m.state(), State::Terminated);
}

#[test]
fn garbage_frames_are_reported_and_survived() {
    let mut h = harness();
    h.run_for(SEC);
    h.gateway.send_raw("not json");
    h.gateway.send_raw(r#"{"op":3,"d":{}}"#);
    h.gateway.send_raw(r#"{"op":0,"s":2,"t":"AT_MESSAGE_CREATE"}"#);
    h.gateway.send_raw(r#"{"op":0,"s":3,"d":{}}"#);
    h.gateway.send_raw(r#"{"op":10,"d":{"heartbeat_interval":1}}"#);
    h.gateway.send_raw(r#"[1,2,3]"#);
    h.gateway.send_raw(r#"{"op":0,"s":"x","t":"A","d":{}}"#);
    h.run_for(SEC);
    let now = h.now;
    h.machine.handle_input(now, Input::Binary(&[0xff, 0xfe, 0x00])).unwrap();
    h.machine.handle_input(now, Input::Binary(br#"{"op":11}"#)).unwrap();
    h.gateway.send_raw(r#"{"op":0,"s":4,"t":"AT_MESSAGE_CREATE","d":{}}"#);
    h.run_for(SEC);

    let failures = decode_failures(&h);
    assert_eq!(failures.len(), 8, "{failures:?}");
    assert!(matches!(failures[0], DecodeError::Json { .. }));
    assert!(matches!(failures[1], DecodeError::UnexpectedOpcode { op: 3 }));
    assert!(matches!(failures[2], DecodeError::DispatchWithoutData { .. }));
    assert!(matches!(failures[3], DecodeError::DispatchWithoutName { seq: Some(3) }));
    assert!(matches!(failures[4], DecodeError::UnexpectedHello));
    assert!(matches!(failures[7], DecodeError::Binary { len: 3 }));
    assert!(h.machine.is_ready());
    assert_eq!(h.machine.heartbeat_interval(), Duration::from_secs(45), "a second HELLO changes nothing");
    // The garbage dispatches advanced the sequence; the next event still arrives.
    assert_eq!(seqs(&h), [1, 4]);
    assert_eq!(h.machine.metrics().decode_failures, 8);
}

#[test]
fn unknown_events_are_emitted_not_dropped() {
    let mut h = harness();
    h.run_for(SEC);
    let frame = std::fs::read_to_string(fixture("UNKNOWN_FUTURE_EVENT")).unwrap();
    h.gateway.send_raw(frame);
    h.run_for(SEC);
    let d = h.dispatches().last().unwrap();
    assert_eq!(d.name(), "FUTURE_EXAMPLE_EVENT_CREATE");
    assert_eq!(d.seq(), Some(51));
    assert!(d.data().get().contains(r#""labels": ["a", "b"]"#));
}

#[test]
fn backoff_grows_caps_jitters_and_resets_after_progress() {
    let gateway = gateway(|g| g.refuse_connects = 7);
    let mut h = Harness::with_gateway(builder().seed(11).build().unwrap(), gateway);
    h.run_for(Duration::from_secs(300));
    let c = &h.gateway.record.connects;
    assert_eq!(c.len(), 8);
    let gaps: Vec<u64> = c.windows(2).map(|w| w[1].as_millis() - w[0].as_millis()).collect();
    let nominal = [5_000, 10_000, 20_000, 40_000, 40_000, 40_000, 40_000];
    for (gap, nominal) in gaps.iter().zip(nominal) {
        assert!(*gap <= nominal && *gap >= nominal - nominal / 5, "{gaps:?}");
    }
    assert!(h.machine.is_ready());
    // READY was progress; the next failures start from 5 s again.
    h.gateway.refuse_connects = 1;
    h.gateway.drop_connection();
    let dropped_at = h.now;
    h.run_for(Duration::from_secs(20));
    let c = &h.gateway.record.connects;
    assert_eq!(c.len(), 10);
    assert_eq!(c[8], dropped_at, "a connection that made progress reconnects at once");
    let gap = c[9].as_millis() - c[8].as_millis();
    assert!((4_000..=5_000).contains(&gap), "{gap}");
}

#[test]
fn a_configured_reconnect_jitter_is_bounded() {
    let seen = rotation_waits(|seed| builder().reconnect_jitter(SEC).seed(seed));
    assert!(seen.iter().all(|&wait| wait <= 1_000), "{seen:?}");
    assert!(seen.len() > 10, "jitter spreads reconnects: {seen:?}");
}

/// How long machines of 40 seeds wait to reconnect after a rotation at 1 s (one
/// entry per distinct wait, in milliseconds).
fn rotation_waits(config: impl Fn(u64) -> ConfigBuilder) -> std::collections::BTreeSet<u64> {
    (0..40)
        .map(|seed| {
            let mut h = Harness::new(config(seed).build().unwrap());
            h.run_for(SEC);
            h.gateway.close(CloseCode::SESSION_TIMED_OUT);
            h.run_for(Duration::from_secs(2));
            h.gateway.record.connects[1].as_millis() - 1_000
        })
        .collect()
}

#[test]
fn three_shards_share_one_identify_limiter() {
    let limiter = IdentifyLimiter::new(SessionStartLimit::default(), ms(0));
    let mut shards: Vec<Harness> = (0..3)
        .map(|i| {
            let config = builder().shard(ShardId::new(i, 3).unwrap()).build().unwrap();
            Harness::new(config).with_pacer(limiter.clone())
        })
        .collect();
    for step in 0..=300 {
        for h in &mut shards {
            h.run_until(ms(step * 100));
        }
    }
    let mut times: Vec<u64> =
        shards.iter().flat_map(|h| h.gateway.record.identifies.iter().map(|(t, _)| t.as_millis())).collect();
    times.sort_unstable();
    assert_eq!(times, [0, 5_000, 10_000]);
    assert!(shards.iter().all(|h| h.machine.is_ready()));
    assert_eq!(limiter.remaining(), 997);
    // Each waited in AwaitingIdentifySlot, not connected.
    assert_eq!(shards[2].machine.metrics().time_in(State::AwaitingIdentifySlot), Duration::from_secs(10));
}

#[test]
fn identify_waits_for_the_daily_reset_when_remaining_is_spent() {
    let limit = SessionStartLimit { total: 1000, remaining: 0, reset_after: 3_600_000, max_concurrency: 1 };
    let mut h = harness().with_pacer(IdentifyLimiter::new(limit, ms(0)));
    h.run_for(Duration::from_secs(3_599));
    assert!(h.gateway.record.connects.is_empty());
    assert_eq!(h.machine.state(), State::AwaitingIdentifySlot);
    h.run_for(Duration::from_secs(2));
    assert!(h.machine.is_ready());
}

/// Drains `m`, returning its outputs but the final `Sleep`.
fn outputs(m: &mut GatewayMachine) -> Vec<Output> {
    let mut out = Vec::new();
    loop {
        match m.poll_output() {
            Output::Sleep(_) => return out,
            o => out.push(o),
        }
    }
}

/// The pacer's answer when an IDENTIFY may go at once.
const GRANTED: Input<'static> = Input::Pacer(PacerAnswer::Granted(IdentifySlot(0)));

/// A machine for `config` at 0 ms, its token valid until `token_expires`, its IDENTIFY
/// slot granted and its connection open.
fn connected(config: Config, token_expires: Instant) -> GatewayMachine {
    let mut m = GatewayMachine::new(config, ms(0));
    m.handle_input(ms(0), Input::Token(AccessToken::new("t", token_expires))).unwrap();
    m.handle_input(ms(0), GRANTED).unwrap();
    m.handle_input(ms(0), Input::Connected).unwrap();
    m
}

/// [`connected`], then HELLO with `interval_ms` at 0 ms and READY (session `s`, s 1) at
/// `ready_at`, drained.
fn ready(config: Config, token_expires: Instant, interval_ms: u64, ready_at: Instant) -> GatewayMachine {
    let mut m = connected(config, token_expires);
    let hello = format!(r#"{{"op":10,"d":{{"heartbeat_interval":{interval_ms}}}}}"#);
    m.handle_input(ms(0), Input::Text(&hello)).unwrap();
    m.handle_input(ready_at, Input::Text(r#"{"op":0,"s":1,"t":"READY","d":{"session_id":"s"}}"#)).unwrap();
    drain(&mut m);
    m
}

fn token(now: Instant) -> Input<'static> {
    Input::Token(AccessToken::new("t", now + Duration::from_secs(7_200)))
}

#[test]
fn an_identify_asks_the_pacer_before_connecting_and_reports_the_slot_sent() {
    let mut m = GatewayMachine::new(builder().build().unwrap(), ms(0));
    assert!(matches!(outputs(&mut m)[..], [Output::RefreshToken]));
    m.handle_input(ms(0), token(ms(0))).unwrap();
    assert!(matches!(outputs(&mut m)[..], [Output::Pacer(PacerRequest::Acquire)]));
    assert_eq!(m.state(), State::AwaitingIdentifySlot);
    // No slot yet: ask again when told.
    m.handle_input(ms(10), Input::Pacer(PacerAnswer::Deferred(Duration::from_millis(990)))).unwrap();
    assert!(outputs(&mut m).is_empty());
    assert_eq!(m.poll_timeout(), Some(ms(1_000)));
    m.handle_timeout(ms(1_000));
    assert!(matches!(outputs(&mut m)[..], [Output::Pacer(PacerRequest::Acquire)]));
    m.handle_input(ms(1_000), Input::Pacer(PacerAnswer::Granted(IdentifySlot(7)))).unwrap();
    assert!(matches!(outputs(&mut m)[..], [Output::Connect(_)]));
    m.handle_input(ms(1_100), Input::Connected).unwrap();
    m.handle_input(ms(1_200), Input::Text(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#)).unwrap();
    let out = outputs(&mut m);
    assert!(
        matches!(&out[..], [Output::Send(identify), Output::Pacer(PacerRequest::Sent(IdentifySlot(7)))]
        if identify.starts_with(r#"{"op":2"#)),
        "{out:?}"
    );
}

#[test]
fn a_slot_not_used_is_released() {
    let granted = |m: &mut GatewayMachine| {
        m.handle_input(ms(0), token(ms(0))).unwrap();
        outputs(m);
        m.handle_input(ms(0), Input::Pacer(PacerAnswer::Granted(IdentifySlot(1)))).unwrap();
        assert!(matches!(outputs(m)[..], [Output::Connect(_)]));
    };
    // The connection fails before HELLO.
    let mut m = GatewayMachine::new(builder().build().unwrap(), ms(0));
    granted(&mut m);
    m.handle_input(ms(5), Input::ConnectFailed).unwrap();
    assert!(
        outputs(&mut m).iter().any(|o| matches!(o, Output::Pacer(PacerRequest::Release(IdentifySlot(1)))))
    );
    // The machine closes while connecting.
    let mut m = GatewayMachine::new(builder().build().unwrap(), ms(0));
    granted(&mut m);
    m.close(ms(5)).unwrap();
    m.handle_input(ms(6), Input::Connected).unwrap();
    m.handle_input(ms(7), Input::Closed(None)).unwrap();
    let out = outputs(&mut m);
    assert!(
        out.iter().any(|o| matches!(o, Output::Pacer(PacerRequest::Release(IdentifySlot(1))))),
        "{out:?}"
    );
    assert_eq!(m.state(), State::Terminated);
    // A slot granted after the machine stopped goes straight back.
    let mut m = GatewayMachine::new(builder().build().unwrap(), ms(0));
    m.handle_input(ms(0), token(ms(0))).unwrap();
    outputs(&mut m);
    m.close(ms(1)).unwrap();
    outputs(&mut m);
    assert_eq!(m.state(), State::Terminated);
    m.handle_input(ms(2), Input::Pacer(PacerAnswer::Granted(IdentifySlot(9)))).unwrap();
    assert!(matches!(outputs(&mut m)[..], [Output::Pacer(PacerRequest::Release(IdentifySlot(9)))]));
    // An answer nobody asked for changes nothing: no output, no timer.
    m.handle_input(ms(3), Input::Pacer(PacerAnswer::Deferred(Duration::from_secs(1)))).unwrap();
    assert!(outputs(&mut m).is_empty());
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_resume_unanswered_twice_falls_back_to_identify() {
    let config = builder().handshake_timeout(Duration::from_secs(10)).build().unwrap();
    let mut h = Harness::new(config);
    h.run_for(Duration::from_secs(50));
    h.gateway.ignore_resumes = 2;
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.run_for(Duration::from_secs(60));
    let r = &h.gateway.record;
    assert_eq!(r.resumes.len(), 2);
    assert_eq!(r.identifies.len(), 2);
    let d = disconnects(&h);
    assert_eq!(
        d.iter().map(|d| d.2).collect::<Vec<_>>(),
        [Reconnect::Resume, Reconnect::Resume, Reconnect::Identify]
    );
    assert_eq!(h.machine.session_id(), Some(h.gateway.record.sessions[1].as_str()));
}

#[test]
fn closes_and_drops_before_resumed_are_not_refusals() {
    let mut h = harness();
    h.run_for(Duration::from_secs(50));
    h.gateway.refuse_resumes = 3;
    h.gateway.refuse_resumes_with = Some(CloseCode::SESSION_TIMED_OUT);
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.run_for(Duration::from_secs(120));
    let r = &h.gateway.record;
    assert_eq!(r.resumes.len(), 4, "4009 means resume is fine: the session is kept");
    assert_eq!(r.identifies.len(), 1);
    assert_eq!(h.machine.session_id(), Some(h.gateway.record.sessions[0].as_str()));
    assert!(h.machine.is_ready());
    // They were failures, though: each waited longer than the last.
    let d = disconnects(&h);
    let waits: Vec<u64> = d.iter().map(|d| d.3.as_millis() - d.0.as_millis()).collect();
    assert!(waits[0] <= 20 && waits[1] >= 4_000 && waits[2] >= 8_000 && waits[3] >= 16_000, "{waits:?}");
}

#[test]
fn a_replay_under_way_is_progress_not_a_refused_resume() {
    let session = qqgw_proto::Session::new("s-1", 10, ShardId::ONE);
    let config = builder().session(session).handshake_timeout(Duration::from_secs(1)).build().unwrap();
    let mut m = connected(config, ms(9_999_999));
    m.handle_input(ms(0), Input::Text(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#)).unwrap();
    drain(&mut m);
    // The replay trickles in for far longer than the handshake timeout.
    for s in 11..40u64 {
        let t = ms(s * 200);
        let frame = format!(r#"{{"op":0,"s":{s},"t":"AT_MESSAGE_CREATE","id":"C:{s}","d":{{}}}}"#);
        m.handle_input(t, Input::Text(&frame)).unwrap();
        m.handle_timeout(t);
        assert!(
            drain(&mut m).iter().all(|o| matches!(o, Output::Emit(Event::Dispatch(_)))),
            "only events at {t:?}"
        );
    }
    assert_eq!(m.state(), State::Resuming);
    m.handle_input(ms(8_000), Input::Text(r#"{"op":0,"t":"RESUMED","d":""}"#)).unwrap();
    assert!(m.is_ready());
    assert_eq!(m.last_sequence(), Some(39));
    assert_eq!(m.metrics().events, 30);
}

#[test]
fn handshake_timeout_abandons_the_socket_and_backs_off() {
    let config = builder().handshake_timeout(Duration::from_secs(10)).build().unwrap();
    let mut m = connected(config, ms(9_999_999));
    drain(&mut m);
    m.handle_timeout(ms(10_000));
    assert!(matches!(m.poll_output(), Output::Abandon));
    assert!(matches!(m.poll_output(), Output::Pacer(PacerRequest::Release(IdentifySlot(0)))));
    let Output::Emit(Event::Disconnected(d)) = m.poll_output() else { panic!() };
    assert_eq!(d.cause, DisconnectCause::HandshakeTimeout);
    assert!(d.at >= ms(14_000) && d.at <= ms(15_000), "{d:?}");
}

#[test]
fn an_unanswered_close_is_abandoned_after_the_close_timeout() {
    let config = builder().close_timeout(Duration::from_millis(300)).build().unwrap();
    let mut m = ready(config, ms(9_999_999), 45000, ms(5));
    m.handle_input(ms(1_000), Input::Text(r#"{"op":7}"#)).unwrap();
    assert!(matches!(m.poll_output(), Output::Close(f) if f.code == CloseCode(4000)));
    assert_eq!(m.next_timer(), Some((qqgw_proto::Timer::Close, ms(1_300))));
    m.handle_timeout(ms(1_300));
    assert!(matches!(m.poll_output(), Output::Abandon));
    let Output::Emit(Event::Disconnected(d)) = m.poll_output() else { panic!() };
    assert_eq!(d.cause, DisconnectCause::ReconnectRequested);
    assert_eq!(d.next, Reconnect::Resume);
    assert!(d.at <= ms(1_320), "progress was made: at once ({d:?})");
}

#[test]
fn faults_after_progress_reconnect_at_once_and_never_grow_the_backoff() {
    let mut h = harness_beating(Duration::from_secs(10));
    h.run_for(SEC);
    let mut faults = Vec::new();
    for i in 0..4 {
        faults.push(h.now);
        match i % 4 {
            0 => h.gateway.close(CloseCode::SESSION_TIMED_OUT),
            1 => h.gateway.request_reconnect(),
            2 => h.gateway.drop_connection(),
            _ => h.gateway.close(CloseCode(4907)),
        }
        // Each fault comes before any heartbeat was acknowledged on the connection.
        h.run_for(Duration::from_secs(4));
    }
    let c = &h.gateway.record.connects;
    assert_eq!(c.len(), 5);
    for (fault, connect) in faults.iter().zip(&c[1..]) {
        assert!(connect.saturating_duration_since(*fault) <= Duration::from_millis(20), "{faults:?} {c:?}");
    }
    assert!(h.machine.is_ready());
}

#[test]
fn connections_that_lived_past_the_flap_window_never_wait_for_the_budget() {
    let mut h = harness();
    h.run_for(SEC);
    let mut faults = Vec::new();
    for _ in 0..12 {
        h.run_for(qqgw_proto::FLAP_WINDOW + Duration::from_millis(100));
        faults.push(h.now);
        h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    }
    h.run_for(SEC);
    let c = &h.gateway.record.connects;
    assert_eq!(c.len(), 13);
    for (fault, connect) in faults.iter().zip(&c[1..]) {
        assert!(connect.saturating_duration_since(*fault) <= Duration::from_millis(20), "{faults:?} {c:?}");
    }
}

#[test]
fn a_rotation_before_ready_is_a_failure_that_backs_off() {
    for frame in [r#"{"op":7}"#, "4009"] {
        let mut m = connected(builder().build().unwrap(), ms(9_999_999));
        m.handle_input(ms(0), Input::Text(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#)).unwrap();
        drain(&mut m);
        if frame == "4009" {
            m.handle_input(ms(10), Input::Closed(Some(qqgw_proto::CloseFrame::new(4009, "")))).unwrap();
        } else {
            m.handle_input(ms(10), Input::Text(frame)).unwrap();
            drain(&mut m);
            m.handle_input(ms(12), Input::Closed(None)).unwrap();
        }
        let d = drain(&mut m)
            .into_iter()
            .find_map(|o| match o {
                Output::Emit(Event::Disconnected(d)) => Some(d),
                _ => None,
            })
            .unwrap();
        assert!(d.at >= ms(4_000), "{frame}: {d:?}");
    }
}

#[test]
fn a_storm_of_rotations_right_after_every_resumed_is_paced_and_then_forgotten() {
    let mut h = harness();
    h.run_for(SEC);
    let start = h.now;
    // For a minute, QQ asks for a reconnect the moment each connection is ready.
    while h.now < start + Duration::from_secs(60) {
        if h.machine.is_ready() {
            h.gateway.request_reconnect();
        }
        h.run_for(Duration::from_millis(10));
    }
    let during = h.gateway.record.connects.iter().filter(|&&t| t > start).count();
    assert!(during <= 30, "{during} connections in a minute");
    assert!(during >= 20, "paced, not stopped: {during}");
    assert!(h.gateway.record.identifies.len() == 1, "the session was kept");
    let in_20s = h
        .gateway
        .record
        .connects
        .iter()
        .filter(|&&t| t > start && t <= start + Duration::from_secs(20))
        .count();
    assert!(in_20s <= 12, "{in_20s} in the first 20 s");
    // Calm again: after a quiet while, a fault reconnects at once.
    h.run_for(Duration::from_secs(30));
    let fault = h.now;
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.run_for(SEC);
    let last = *h.gateway.record.connects.last().unwrap();
    assert!(last.saturating_duration_since(fault) <= Duration::from_millis(20), "{last:?} after {fault:?}");
}

#[test]
fn jitter_is_drawn_from_the_seed_and_small_by_default() {
    let seen =
        rotation_waits(|seed| Config::builder("wss://fake.invalid/", Intents::non_privileged()).seed(seed));
    assert!(seen.iter().all(|&wait| wait <= 20), "{seen:?}");
    assert!(seen.len() > 5, "different seeds, different delays: {seen:?}");
}

#[test]
fn an_absurd_seq_neither_silences_the_session_nor_moves_the_resume_point() {
    let mut h = harness();
    h.run_for(SEC);
    h.gateway.send_raw(r#"{"op":0,"s":18446744073709551615,"t":"AT_MESSAGE_CREATE","id":"big","d":{}}"#);
    h.run_for(SEC);
    for n in 2..5 {
        h.gateway.send_raw(format!(r#"{{"op":0,"s":{n},"t":"AT_MESSAGE_CREATE","id":"m{n}","d":{{}}}}"#));
    }
    h.run_for(SEC);
    assert_eq!(h.machine.metrics().events, 5, "READY, the odd one and three more");
    assert_eq!(h.machine.last_sequence(), Some(4));
    assert!(decode_failures(&h).contains(&DecodeError::ImplausibleSeq { seq: u64::MAX, last: Some(1) }));
}

#[test]
fn seq_zero_and_steps_back_do_not_drop_new_events() {
    let mut h = harness();
    h.run_for(SEC);
    h.gateway.send_raw(r#"{"op":0,"s":5,"t":"AT_MESSAGE_CREATE","id":"a","d":{}}"#);
    h.gateway.send_raw(r#"{"op":0,"s":0,"t":"AT_MESSAGE_CREATE","id":"b","d":{}}"#);
    h.gateway.send_raw(r#"{"op":0,"s":3,"t":"AT_MESSAGE_CREATE","id":"c","d":{}}"#);
    // Without an id, seq is all there is: an old one is a replay.
    h.gateway.send_raw(r#"{"op":0,"s":4,"t":"AT_MESSAGE_CREATE","d":{}}"#);
    h.gateway.send_raw(r#"{"op":0,"s":6,"t":"AT_MESSAGE_CREATE","d":{}}"#);
    h.run_for(SEC);
    let ids: Vec<Option<&str>> = h.dispatches().skip(1).map(qqgw_proto::Dispatch::id).collect();
    assert_eq!(ids, [Some("a"), Some("b"), Some("c"), None]);
    assert_eq!(h.machine.last_sequence(), Some(6));
    let failures = decode_failures(&h);
    assert!(failures.contains(&DecodeError::ImplausibleSeq { seq: 0, last: Some(5) }), "{failures:?}");
    assert!(failures.contains(&DecodeError::ImplausibleSeq { seq: 3, last: Some(5) }), "{failures:?}");
    assert_eq!(h.machine.metrics().replays_dropped, 1);
}

#[test]
fn a_repeated_seq_is_implausible_and_the_largest_step_is_not() {
    let mut h = harness();
    h.run_for(SEC);
    // READY was s 1: a step of exactly MAX_SEQ_STEP is plausible, the same s again is not.
    let far = 1 + qqgw_proto::MAX_SEQ_STEP;
    h.gateway.send_raw(format!(r#"{{"op":0,"s":{far},"t":"AT_MESSAGE_CREATE","id":"a","d":{{}}}}"#));
    h.gateway.send_raw(format!(r#"{{"op":0,"s":{far},"t":"AT_MESSAGE_CREATE","id":"b","d":{{}}}}"#));
    h.run_for(SEC);
    assert_eq!(h.machine.last_sequence(), Some(far));
    assert_eq!(decode_failures(&h), [DecodeError::ImplausibleSeq { seq: far, last: Some(far) }]);
    assert_eq!(h.dispatch_names().len(), 3, "both events delivered, by id");
}

#[test]
fn unhandled_events_past_the_bound_are_counted() {
    let config = builder().manual_ack(true).build().unwrap();
    let mut h = Harness::new(config);
    h.run_for(SEC);
    for _ in 0..qqgw_proto::MAX_UNACKED {
        h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
    }
    h.run_for(SEC);
    assert_eq!(h.machine.metrics().unacked_overflows, 1, "READY and the events: one past the bound");
}

#[test]
fn graceful_close_returns_the_session_and_stops() {
    let mut h = harness();
    h.run_for(SEC);
    h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
    h.run_for(SEC);
    h.machine.close(h.now).unwrap();
    h.run_for(Duration::from_secs(600));
    assert_eq!(h.gateway.record.client_closes[0].code, CloseCode(4000));
    assert_eq!(h.gateway.record.connects.len(), 1, "no reconnect after a graceful close");
    let Some((_, Event::Closed(Some(session)))) = h.events.last() else { panic!("{:?}", h.events.last()) };
    assert_eq!(session, &Session::new(h.gateway.record.sessions[0].as_str(), 2, ShardId::ONE));
    assert_eq!(h.machine.state(), State::Terminated);
    assert_eq!(h.machine.close(h.now), Err(UsageError::Terminated));
}

#[test]
fn graceful_close_while_disconnected_or_connecting() {
    // While waiting to reconnect: at once, no connection.
    let gateway = gateway(|g| g.refuse_connects = 5);
    let mut h = Harness::with_gateway(builder().build().unwrap(), gateway);
    h.run_for(SEC);
    h.machine.close(h.now).unwrap();
    h.run_for(Duration::from_secs(100));
    assert_eq!(h.gateway.record.connects.len(), 1);
    assert!(matches!(h.events.last(), Some((_, Event::Closed(None)))));

    // While a connection is being opened: it is closed as soon as it opens.
    let mut m = GatewayMachine::new(builder().build().unwrap(), ms(0));
    assert!(matches!(m.poll_output(), Output::RefreshToken));
    m.handle_input(ms(0), Input::Token(AccessToken::new("t", ms(9_999_999)))).unwrap();
    assert!(matches!(m.poll_output(), Output::Pacer(PacerRequest::Acquire)));
    m.handle_input(ms(0), GRANTED).unwrap();
    assert!(matches!(m.poll_output(), Output::Connect(_)));
    m.close(ms(1)).unwrap();
    assert!(!m.can_reconnect());
    m.handle_input(ms(2), Input::Connected).unwrap();
    assert!(matches!(m.poll_output(), Output::Close(_)));
    m.handle_input(ms(3), Input::Closed(None)).unwrap();
    assert!(matches!(m.poll_output(), Output::Pacer(PacerRequest::Release(IdentifySlot(0)))));
    assert!(matches!(m.poll_output(), Output::Emit(Event::Closed(None))));
    assert_eq!(m.state(), State::Terminated);
}

#[test]
fn a_session_restored_from_serde_is_resumed() {
    let saved = serde_json::to_string(&Session::new("restored-1", 77, ShardId::ONE)).unwrap();
    let session: Session = serde_json::from_str(&saved).unwrap();
    let mut gateway = FakeGateway::default();
    // The fake knows the session as if from before the restart.
    gateway.dispatch("X", "{}");
    let config = builder().session(session).build().unwrap();
    let mut h = Harness::with_gateway(config, gateway);
    h.run_for(Duration::from_secs(10));
    assert_eq!(h.gateway.record.resumes, [(ms(0), "restored-1".to_owned(), 77)]);
    // The fake did not know it: op 9 false, and the machine identifies afresh.
    assert_eq!(h.gateway.record.identifies.len(), 1);
    assert!(h.machine.is_ready());
}

#[test]
fn a_session_of_another_shard_is_refused() {
    let err =
        builder().shard(ShardId::new(1, 2).unwrap()).session(Session::new("s", 1, ShardId::ONE)).build();
    assert!(matches!(err, Err(qqgw_proto::ConfigError::SessionShardMismatch { .. })));
    assert!(matches!(Config::builder(" ", Intents::GUILDS).build(), Err(qqgw_proto::ConfigError::EmptyUrl)));
    assert!(matches!(
        Config::builder("ws://x", Intents::empty()).build(),
        Err(qqgw_proto::ConfigError::NoIntents)
    ));
}

#[test]
fn inputs_out_of_place_are_usage_errors_that_change_nothing() {
    let mut m = GatewayMachine::new(builder().build().unwrap(), ms(0));
    assert!(matches!(m.poll_output(), Output::RefreshToken));
    for input in [Input::Connected, Input::Text("{}"), Input::Closed(None), Input::ConnectFailed] {
        let err = m.handle_input(ms(0), input).unwrap_err();
        assert!(matches!(err, UsageError::UnexpectedInput { state: State::AwaitingToken, .. }), "{err}");
    }
    assert_eq!(m.state(), State::AwaitingToken);
    assert!(matches!(m.poll_output(), Output::Sleep(None)));
}

#[test]
fn time_going_backwards_is_clamped() {
    let mut h = harness();
    h.run_for(Duration::from_secs(100));
    let before = h.machine.poll_timeout().unwrap();
    h.machine.handle_timeout(ms(1));
    h.machine.handle_input(ms(2), Input::Text(r#"{"op":11}"#)).unwrap();
    assert_eq!(h.machine.poll_timeout(), Some(before));
    assert!(before > h.now);
}

#[test]
fn metrics_count_time_in_each_state() {
    let mut h = harness_beating(Duration::from_secs(10));
    h.run_for(Duration::from_secs(100));
    let m = h.machine.metrics();
    assert_eq!(m.time_in(State::Active), Duration::from_secs(100));
    assert_eq!(m.heartbeats_sent, 10);
    assert_eq!(m.heartbeats_acked, 10);
    let total: Duration = State::ALL.iter().map(|&state| m.time_in(state)).sum();
    assert_eq!(total, Duration::from_secs(100));
}

#[test]
fn tokens_are_redacted_in_debug() {
    let token = AccessToken::new("super-secret-token", ms(5));
    let mut m = GatewayMachine::new(builder().build().unwrap(), ms(0));
    m.handle_input(ms(0), Input::Token(token.clone())).unwrap();
    let all = format!("{token:?} {m:?} {:?}", Input::Token(token.clone()));
    assert!(!all.contains("super-secret-token"), "{all}");
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/frames").join(format!("{name}.json"))
}

#[test]
fn every_fixture_decodes_and_every_dispatch_fixture_flows_through_the_machine() {
    let dir = fixture("HELLO").parent().unwrap().to_owned();
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    assert!(names.len() >= 22, "{dir:?}");
    let mut h = harness();
    h.run_for(SEC);
    let mut dispatches = 0;
    for path in &names {
        let text = std::fs::read_to_string(path).unwrap();
        let env = qqgw_proto::fuzzing::Envelope::parse(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        if env.op == 0 {
            let d = qqgw_proto::Dispatch::from_frame(&text, ShardId::ONE).unwrap();
            assert_eq!(Some(d.name()), env.t.as_deref());
            if !matches!(d.name(), "READY" | "RESUMED") {
                dispatches += 1;
                // Give each its own fresh seq so none counts as a replay.
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                let mut value = value;
                value["s"] = serde_json::json!(100 + dispatches);
                h.gateway.send_raw(value.to_string());
            }
        }
    }
    h.run_for(SEC);
    assert_eq!(h.machine.metrics().events, 1 + dispatches);
    assert!(decode_failures(&h).is_empty());
}

/// The keys of `value`, recursively, as `a.b` paths.
fn key_paths(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    if let serde_json::Value::Object(map) = value {
        for (key, inner) in map {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            key_paths(inner, &path, out);
            out.push(path);
        }
    }
    out.sort();
}

/// The first frame with opcode `op` the machine sends after HELLO.
fn sent_after_hello(config: Config, op: u8) -> serde_json::Value {
    let mut m = connected(config, ms(9_999_999));
    m.handle_input(ms(0), Input::Text(r#"{"op":10,"d":{"heartbeat_interval":5000}}"#)).unwrap();
    loop {
        match m.poll_output() {
            Output::Send(frame) => {
                let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
                if value["op"] == op {
                    return value;
                }
            }
            Output::Sleep(_) => panic!("no op {op} sent"),
            _ => {}
        }
    }
}

#[test]
fn identify_and_resume_carry_exactly_the_fields_of_the_fixture_frames() {
    for (name, op, config) in [
        ("IDENTIFY", 2, builder().build().unwrap()),
        ("RESUME", 6, builder().session(qqgw_proto::Session::new("s-1", 7, ShardId::ONE)).build().unwrap()),
    ] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sent = sent_after_hello(config, op);
        let (mut want, mut got) = (Vec::new(), Vec::new());
        key_paths(&expected, "", &mut want);
        key_paths(&sent, "", &mut got);
        assert_eq!(got, want, "{name}: {sent}");
        assert!(sent["d"]["token"].as_str().unwrap().starts_with("QQBot "), "{name}");
    }
}

// ----- the handled checkpoint -----

fn acking() -> Harness {
    Harness::new(builder().manual_ack(true).build().unwrap())
}

/// The receipts of the dispatches emitted so far named `name`.
fn acks(h: &Harness, name: &str) -> Vec<qqgw_proto::Ack> {
    h.dispatches().filter(|d| d.name() == name).filter_map(qqgw_proto::Dispatch::ack).collect()
}

#[test]
fn the_saved_session_counts_handled_events_up_to_the_low_watermark() {
    let mut h = acking();
    h.run_for(SEC);
    for n in 0..4 {
        h.gateway.dispatch("AT_MESSAGE_CREATE", &format!(r#"{{"n":{n}}}"#)); // s = 2..=5
    }
    h.run_for(SEC);
    let ready = acks(&h, "READY");
    let msgs = acks(&h, "AT_MESSAGE_CREATE");
    assert_eq!(msgs.iter().map(|a| a.seq()).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert_eq!(h.machine.checkpoint(), Some(0), "nothing handled yet");
    assert_eq!(h.machine.unacked(), 5);
    let now = h.now;
    for ack in [ready[0], msgs[1], msgs[2]] {
        h.machine.handle_input(now, Input::Handled(ack)).unwrap();
    }
    assert_eq!(h.machine.checkpoint(), Some(1), "2 is not handled: 3 and 4 wait behind it");
    assert_eq!(h.machine.session().unwrap().seq, 1);
    h.machine.handle_input(now, Input::Handled(msgs[0])).unwrap();
    assert_eq!(h.machine.checkpoint(), Some(4));
    assert_eq!(h.machine.last_sequence(), Some(5), "received is another matter");
    // An in-process reconnect resumes from what was received, not what was handled.
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.run_for(SEC);
    assert_eq!(h.gateway.record.resumes.last().unwrap().2, 5);
}

#[test]
fn a_restart_resumes_from_the_checkpoint_and_gets_the_unhandled_events_again() {
    let mut h = acking();
    h.run_for(SEC);
    for n in 0..3 {
        h.gateway.dispatch("AT_MESSAGE_CREATE", &format!(r#"{{"n":{n}}}"#)); // s = 2, 3, 4
    }
    h.run_for(SEC);
    let now = h.now;
    let handled: Vec<_> =
        acks(&h, "READY").into_iter().chain(acks(&h, "AT_MESSAGE_CREATE").into_iter().take(1)).collect();
    for ack in handled {
        h.machine.handle_input(now, Input::Handled(ack)).unwrap();
    }
    // The process dies here: all that is kept is what was saved.
    let saved = h.machine.session().unwrap();
    assert_eq!(saved.seq, 2);
    let mut gateway = std::mem::take(&mut h.gateway);
    gateway.drop_connection();
    let config = builder().manual_ack(true).session(saved).build().unwrap();
    let mut restarted = Harness::with_gateway(config, gateway);
    restarted.run_for(SEC);
    assert_eq!(restarted.gateway.record.resumes.last().unwrap().2, 2);
    let replayed: Vec<u64> =
        restarted.dispatches().filter(|d| d.name() == "AT_MESSAGE_CREATE").filter_map(|d| d.seq()).collect();
    assert_eq!(replayed, [3, 4], "at least once: what was not handled comes again");
}

#[test]
fn a_lost_session_is_reported_with_its_checkpoint() {
    let mut h = acking();
    h.run_for(SEC);
    h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
    h.run_for(SEC);
    let ready = acks(&h, "READY")[0];
    let now = h.now;
    h.machine.handle_input(now, Input::Handled(ready)).unwrap();
    h.gateway.invalidate_session(false);
    h.run_for(Duration::from_secs(10));
    let lost: Vec<&qqgw_proto::Session> = h
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::SessionLost(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(
        (lost[0].id.as_str(), lost[0].seq),
        (h.gateway.record.sessions[0].as_str(), 1),
        "the event after READY was never handled"
    );
    assert_eq!(h.machine.metrics().sessions_lost, 1);
    assert_eq!(h.machine.session_id(), Some(h.gateway.record.sessions[1].as_str()));
}

#[test]
fn receipts_of_a_lost_session_do_not_move_the_next_one() {
    let mut h = acking();
    h.run_for(SEC);
    h.gateway.dispatch("AT_MESSAGE_CREATE", "{}"); // s = 2 of session 1
    h.run_for(SEC);
    let old = acks(&h, "AT_MESSAGE_CREATE")[0];
    h.gateway.invalidate_session(false);
    h.run_for(Duration::from_secs(10));
    h.gateway.dispatch("AT_MESSAGE_CREATE", "{}"); // s = 2 of session 2
    h.run_for(SEC);
    let now = h.now;
    h.machine.handle_input(now, Input::Handled(old)).unwrap();
    assert_eq!(h.machine.checkpoint(), Some(0), "an old receipt with the same seq counts for nothing");
}

#[test]
fn while_reading_is_paused_silence_is_no_zombie_and_the_handshake_waits() {
    let mut h = harness_beating(Duration::from_secs(10));
    h.run_for(SEC);
    let now = h.now;
    h.machine.handle_input(now, Input::ReadPaused(true)).unwrap();
    h.gateway.ack_heartbeats = false;
    h.run_for(Duration::from_secs(60));
    assert_eq!(h.machine.metrics().zombies, 0, "an unread socket proves nothing");
    assert!(h.machine.is_ready());
    let now = h.now;
    h.machine.handle_input(now, Input::ReadPaused(false)).unwrap();
    h.run_for(Duration::from_secs(25));
    assert_eq!(h.machine.metrics().zombies, 1, "reading again, silence counts");

    // A RESUME whose READY sits unread behind a lagging consumer is not timed out.
    let config = builder().handshake_timeout(Duration::from_secs(5)).build().unwrap();
    let mut m = connected(config, ms(9_999_999));
    m.handle_input(ms(1), Input::ReadPaused(true)).unwrap();
    drain(&mut m);
    m.handle_timeout(ms(5_000));
    assert!(drain(&mut m).is_empty());
    m.handle_input(ms(6_000), Input::ReadPaused(false)).unwrap();
    m.handle_timeout(ms(10_000));
    assert!(matches!(m.poll_output(), Output::Abandon));
}

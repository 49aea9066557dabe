//! Properties over random input sequences: whatever the network and the clock do, the
//! machine keeps its invariants.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use core::time::Duration;

use proptest::prelude::*;
use qqgw_proto::{
    AccessToken, CloseCode, CloseFrame, Config, Event, GatewayMachine, Input, Instant, Intents, Output,
    State, TokenError,
};

#[derive(Debug, Clone)]
enum Step {
    Advance(u64),
    Connected,
    ConnectFailed,
    Token { valid_secs: u64 },
    TokenFailed { rejected: bool },
    Frame(String),
    Binary(Vec<u8>),
    Closed(Option<u16>),
    Close,
}

fn frame() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..200_000).prop_map(|ms| format!(r#"{{"op":10,"d":{{"heartbeat_interval":{ms}}}}}"#)),
        Just(r#"{"op":11}"#.to_owned()),
        Just(r#"{"op":1,"d":null}"#.to_owned()),
        Just(r#"{"op":7}"#.to_owned()),
        any::<bool>().prop_map(|b| format!(r#"{{"op":9,"d":{b}}}"#)),
        (0u64..50, 0u8..3).prop_map(|(s, n)| format!(
            r#"{{"op":0,"s":{s},"t":"READY","d":{{"session_id":"s{n}","user":{{"id":"1"}}}}}}"#
        )),
        (0u64..50).prop_map(|s| format!(r#"{{"op":0,"s":{s},"t":"RESUMED","d":""}}"#)),
        (0u64..50, 0u64..20, "[A-Z_]{1,12}")
            .prop_map(|(s, id, t)| format!(r#"{{"op":0,"s":{s},"t":"{t}","id":"{t}:{id}","d":{{"x":1}}}}"#)),
        "[a-z{}\\[\\]\":,0-9 ]{0,40}",
        (any::<u64>(), proptest::option::of(any::<i64>())).prop_map(|(op, s)| match s {
            Some(s) => format!(r#"{{"op":{op},"s":{s},"d":{{}}}}"#),
            None => format!(r#"{{"op":{op}}}"#),
        }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop_oneof![0u64..100, 0u64..60_000, 0u64..3_600_000].prop_map(Step::Advance),
        3 => Just(Step::Connected),
        1 => Just(Step::ConnectFailed),
        2 => prop_oneof![0u64..120, 120u64..10_000].prop_map(|valid_secs| Step::Token { valid_secs }),
        1 => any::<bool>().prop_map(|rejected| Step::TokenFailed { rejected }),
        8 => frame().prop_map(Step::Frame),
        1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Step::Binary),
        2 => proptest::option::of(prop_oneof![Just(4009u16), Just(4004), Just(4006), Just(4902), Just(4914), Just(1006), any::<u16>()]).prop_map(Step::Closed),
        1 => Just(Step::Close),
    ]
}

/// What the checker knows about the connection and the session.
#[derive(Default)]
struct Observed {
    now: u64,
    hello_seen: bool,
    auths_on_connection: u32,
    last_seq_in_session: Option<u64>,
    terminal_events: u32,
    outputs_after_terminal: u32,
}

fn is_op(frame: &str, op: u8) -> bool {
    frame.starts_with(&format!(r#"{{"op":{op},"#))
}

fn drain(m: &mut GatewayMachine, seen: &mut Observed) -> Result<(), TestCaseError> {
    for _ in 0..10_000 {
        match m.poll_output() {
            Output::Sleep(deadline) => {
                if let Some(at) = deadline {
                    prop_assert!(at.as_millis() > seen.now, "sleep until {at:?}, not after now {}", seen.now);
                }
                if seen.terminal_events > 0 {
                    prop_assert_eq!(deadline, None);
                    prop_assert_eq!(m.state(), State::Terminated);
                }
                return Ok(());
            }
            output if seen.terminal_events > 0 => {
                seen.outputs_after_terminal += 1;
                prop_assert!(false, "output after the terminal event: {output:?}");
            }
            Output::Connect(_) => {
                seen.hello_seen = false;
                seen.auths_on_connection = 0;
            }
            Output::Send(frame) => {
                if is_op(&frame, 1) {
                    prop_assert!(seen.hello_seen, "heartbeat before HELLO");
                }
                if is_op(&frame, 2) || is_op(&frame, 6) {
                    seen.auths_on_connection += 1;
                    prop_assert!(seen.auths_on_connection <= 1, "two IDENTIFY/RESUME on one connection");
                }
                if is_op(&frame, 2) {
                    seen.last_seq_in_session = None;
                }
            }
            Output::Close(_) => {
                // The adapter contract: report the close once the socket is gone.
                m.handle_input(Instant::from_millis(seen.now), Input::Closed(None)).unwrap();
            }
            Output::Emit(Event::Dispatch(d)) => match d.name() {
                "READY" => seen.last_seq_in_session = d.seq(),
                "RESUMED" => {}
                _ => {
                    if let Some(s) = d.seq() {
                        if let Some(last) = seen.last_seq_in_session {
                            prop_assert!(s > last, "seq {s} after {last}");
                        }
                        seen.last_seq_in_session = Some(s);
                    }
                }
            },
            Output::Emit(Event::Fatal(_) | Event::Closed(_)) => seen.terminal_events += 1,
            Output::Emit(_) | Output::RefreshToken => {}
            other => prop_assert!(false, "unknown output {other:?}"),
        }
    }
    prop_assert!(false, "the machine did not settle");
    Ok(())
}

fn run(steps: &[Step], seed: u64) -> Result<(), TestCaseError> {
    let config = Config::builder("wss://fake/", Intents::non_privileged()).seed(seed).build().unwrap();
    let mut m = GatewayMachine::new(config, Instant::ZERO);
    let mut seen = Observed::default();
    drain(&mut m, &mut seen)?;
    for step in steps {
        let now = Instant::from_millis(seen.now);
        let result = match step {
            Step::Advance(ms) => {
                seen.now += ms;
                m.handle_timeout(Instant::from_millis(seen.now));
                Ok(())
            }
            Step::Connected => m.handle_input(now, Input::Connected),
            Step::ConnectFailed => m.handle_input(now, Input::ConnectFailed),
            Step::Token { valid_secs } => m.handle_input(
                now,
                Input::Token(AccessToken::new("t", now + Duration::from_secs(*valid_secs))),
            ),
            Step::TokenFailed { rejected } => m.handle_input(
                now,
                Input::TokenFailed(if *rejected {
                    TokenError::Rejected { code: 1, message: String::new() }
                } else {
                    TokenError::Unavailable(String::new())
                }),
            ),
            Step::Frame(text) => {
                let state = m.state();
                let result = m.handle_input(now, Input::Text(text));
                if result.is_ok() && state == State::AwaitingHello && is_op(text, 10) {
                    seen.hello_seen = true;
                }
                result
            }
            Step::Binary(bytes) => m.handle_input(now, Input::Binary(bytes)),
            Step::Closed(code) => {
                let frame = code.map(|c| CloseFrame::new(CloseCode(c), "x"));
                m.handle_input(now, Input::Closed(frame))
            }
            Step::Close => m.close(now),
        };
        if result.is_err() {
            // Refused input changes nothing: nothing new to drain.
            prop_assert!(
                matches!(m.poll_output(), Output::Sleep(_)),
                "{step:?} was refused but produced output"
            );
            continue;
        }
        drain(&mut m, &mut seen)?;
    }
    prop_assert!(seen.terminal_events <= 1);
    if seen.terminal_events == 1 {
        prop_assert_eq!(m.state(), State::Terminated);
        prop_assert!(!m.can_reconnect());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_input_sequence(steps in proptest::collection::vec(step(), 1..150), seed in any::<u64>()) {
        run(&steps, seed)?;
    }
}

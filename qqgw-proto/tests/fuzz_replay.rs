//! Replays every committed fuzz seed and crash input (`fuzz/seeds/<target>/**`) through
//! the functions the fuzz targets call, on stable Rust, so that whatever the fuzzer once
//! found stays fixed.
//!
//! The seeds are built from the shared frame fixtures by the ignored test
//! `regenerate_seeds` (see `fuzz/README.md`); crash inputs go to
//! `fuzz/seeds/<target>/regressions/` by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use qqgw_proto::State;
use qqgw_proto::fuzzing::{self, Script, flags, op};

mod common;
use common::files_under;

/// A fuzz target's logic.
type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("envelope", fuzzing::envelope),
    ("machine", fuzzing::machine),
    ("typed_event", fuzzing::typed_event),
    ("webhook", fuzzing::webhook),
];

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds")
}

#[test]
fn every_seed_and_crash_input_passes() {
    let mut failures = Vec::new();
    for (target, run) in TARGETS {
        let mut files = files_under(&seeds_dir().join(target));
        files.sort();
        assert!(files.len() >= 10, "only {} seeds for {target} under {:?}", files.len(), seeds_dir());
        for file in files {
            let data = fs::read(&file).unwrap();
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failures.push(file);
            }
        }
    }
    assert!(failures.is_empty(), "these inputs fail: {failures:#?}");
}

// ---------------------------------------------------------------------------------------
// The seeds

fn fixtures() -> Vec<(String, String)> {
    let dir = std::env::var_os("QQGW_FIXTURES")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/frames"), PathBuf::from);
    let mut files = files_under(&dir);
    files.sort();
    assert!(!files.is_empty(), "no fixtures under {dir:?}; set QQGW_FIXTURES");
    files
        .into_iter()
        .map(|f| (f.file_stem().unwrap().to_string_lossy().into_owned(), fs::read_to_string(&f).unwrap()))
        .collect()
}

/// Compact JSON, as QQ sends frames.
fn compact(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text).map_or_else(|_| text.to_owned(), |v| v.to_string())
}

/// Sessions scripted from the fixtures: the happy path, a rotation, a RECONNECT, an
/// INVALID_SESSION, a fatal close, a restart with a saved session, and the adapter played
/// step by step.
fn machine_seeds(frames: &[(String, String)]) -> Vec<(String, Vec<u8>)> {
    let frame = |name: &str| compact(&frames.iter().find(|(n, _)| n == name).unwrap().1);
    let dispatches: Vec<String> = frames
        .iter()
        .filter(|(n, t)| !matches!(n.as_str(), "READY" | "RESUMED") && t.contains("\"op\": 0"))
        .map(|(_, t)| compact(t))
        .collect();
    let auto = flags::AUTO | flags::NO_JITTER;
    let mut seeds = Vec::new();

    // IDENTIFY, READY, every dispatch, heartbeats, then a graceful close.
    let mut s = Script::new(auto, 1).replies(3);
    for d in &dispatches {
        s = s.text(d);
    }
    s = s.step(op::WAKE, &[]).replies(1).step(op::WAKE, &[]).step(op::CLOSE, &[]);
    seeds.push(("happy_path".to_owned(), s.into_bytes()));

    // Rotation (4009), RESUME, RESUMED; a RECONNECT; an INVALID_SESSION.
    let mut s =
        Script::new(auto, 2).replies(3).text(&frame("AT_MESSAGE_CREATE")).step(op::WAKE, &[]).replies(1);
    s = s.step(op::CLOSED, &[13]).replies(2).text(&frame("RESUMED")).text(&frame("RECONNECT")).replies(2);
    s = s.text(&frame("INVALID_SESSION")).replies(3).text(&frame("GROUP_AT_MESSAGE_CREATE"));
    seeds.push(("rotation_reconnect_invalid".to_owned(), s.into_bytes()));

    // A fatal close after READY.
    let s = Script::new(auto, 3).replies(3).text(&frame("C2C_MESSAGE_CREATE")).step(op::CLOSED, &[21]);
    seeds.push(("fatal_close".to_owned(), s.into_bytes()));

    // A saved session resumed, refused twice, then IDENTIFY.
    let mut s = Script::new(auto | flags::RESTORED_SESSION, 40).replies(2).text(&frame("INVALID_SESSION"));
    s = s.step(op::WAKE, &[]).replies(2).step(op::DROPPED, &[]).step(op::WAKE, &[]).replies(3);
    seeds.push(("restored_session".to_owned(), s.into_bytes()));

    // The adapter played step by step, closes reported late, frames arriving meanwhile.
    let mut s = Script::new(flags::DEFER_CLOSE, 4)
        .step(op::TOKEN, &[3])
        .step(op::CONNECTED, &[])
        .text(&frame("HELLO"))
        .text(&frame("READY"));
    s = s.text(&frame("AT_MESSAGE_CREATE")).text(&frame("RECONNECT")).text(&frame("MESSAGE_CREATE"));
    s = s.step(op::DROPPED, &[]).step(op::WAKE, &[]).step(op::CONNECT_FAILED, &[]).step(op::WAKE, &[]);
    s = s.step(op::TOKEN_FAILED, &[0]).step(op::WAKE, &[]).step(op::TOKEN, &[3]).step(op::CONNECTED, &[]);
    s = s.text(&frame("HELLO")).text(&frame("RESUMED")).step(op::CLOSE, &[]).step(op::DROPPED, &[]);
    seeds.push(("manual_adapter".to_owned(), s.into_bytes()));

    // The identify limiter and short handshakes.
    let s =
        Script::new(auto | flags::TIGHT_LIMITER | flags::SHORT_HANDSHAKE | (2 << flags::BACKOFF_SHIFT), 50)
            .replies(1)
            .step(op::WAKE, &[])
            .replies(3)
            .step(op::CLOSED, &[10])
            .step(op::TICK_LARGE, &0x0010_0000u32.to_le_bytes())
            .replies(3);
    seeds.push(("limiter_handshake".to_owned(), s.into_bytes()));

    // Each fixture on its own after READY.
    for (name, text) in frames {
        let s = Script::new(auto, 5).replies(3).text(&compact(text)).step(op::FRAME, &[8, 0, 3, 2]);
        seeds.push((format!("after_ready_{name}"), s.into_bytes()));
    }
    seeds
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = seeds_dir().join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), data).unwrap();
}

/// Rebuilds `fuzz/seeds/{envelope,typed_event,machine,webhook}/` from the shared frame fixtures
/// (`QQGW_FIXTURES`, by default the repository's `fixtures/frames`).
/// Crash inputs under `regressions/` are left alone.
#[test]
#[ignore = "writes fuzz/seeds; run by hand when the fixtures change"]
fn regenerate_seeds() {
    let frames = fixtures();
    for (name, text) in &frames {
        write("envelope", &format!("{name}.json"), text.as_bytes());
        write("envelope", &format!("{name}.min.json"), compact(text).as_bytes());
        write("typed_event", &format!("{name}.json"), compact(text).as_bytes());
        // The selector form: an event picked by the first byte, `d` after it.
        if let Some(d) =
            serde_json::from_str::<serde_json::Value>(text).ok().and_then(|v| v.get("d").cloned())
        {
            let pick = (0..=u8::MAX).find(|&b| fuzzing::event_name(b) == name.as_str()).unwrap_or(255);
            let mut data = vec![pick];
            data.extend_from_slice(d.to_string().as_bytes());
            write("typed_event", &format!("{name}.d"), &data);
        }
    }
    for (name, data) in machine_seeds(&frames) {
        write("machine", &name, &data);
    }
    for (name, data) in webhook_seeds(&frames) {
        write("webhook", &name, &data);
    }
}

/// Callbacks: every fixture as a signed body (mode 0) and signed and retried (mode 2);
/// the validation fixture unsigned with made-up headers (mode 1).
fn webhook_seeds(frames: &[(String, String)]) -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (name, text) in frames {
        for (mode, suffix) in [(0u8, "signed"), (2, "retried")] {
            let mut data = vec![mode];
            data.extend_from_slice(compact(text).as_bytes());
            seeds.push((format!("{name}.{suffix}"), data));
        }
    }
    let validation = &frames.iter().find(|(n, _)| n == "WEBHOOK_VALIDATION").unwrap().1;
    let mut unsigned = vec![1u8];
    unsigned.extend_from_slice(b"00ff\x001725442341\x00");
    unsigned.extend_from_slice(compact(validation).as_bytes());
    seeds.push(("WEBHOOK_VALIDATION.unsigned".to_owned(), unsigned));
    seeds
}

// ---------------------------------------------------------------------------------------
// The driver reaches what the seeds are meant to reach.

#[test]
fn scripted_replies_reach_ready_and_resume() {
    let driver =
        fuzzing::run_machine(&Script::new(flags::AUTO | flags::NO_JITTER, 0).replies(3).into_bytes());
    assert_eq!(driver.machine.state(), State::Active);
    assert_eq!(driver.machine.session_id(), Some("fuzz-1"));

    let s = Script::new(flags::AUTO | flags::NO_JITTER, 0).replies(3).step(op::FRAME, &[8, 0, 3, 2]);
    let s = s.step(op::CLOSED, &[13]).replies(2);
    let driver = fuzzing::run_machine(&s.into_bytes());
    assert_eq!(driver.machine.state(), State::Active);
    assert_eq!(driver.machine.session_id(), Some("fuzz-1"));
    assert_eq!(driver.machine.last_sequence(), Some(3));
}

#[test]
fn scripted_adapter_and_fatal_close_end_the_machine() {
    let s =
        Script::new(0, 0).step(op::TOKEN, &[3]).step(op::CONNECTED, &[]).replies(3).step(op::CLOSED, &[21]);
    let driver = fuzzing::run_machine(&s.into_bytes());
    assert!(driver.is_terminated());
    assert_eq!(driver.machine.state(), State::Terminated);
}

// ---------------------------------------------------------------------------------------
// Findings of the fuzzer, as plain tests too.

/// serde's derive read an envelope from a JSON array of its fields; a frame is an object.
#[test]
fn an_array_is_not_an_envelope() {
    for text in ["[2 ]", r#"[0,1,"READY",null,{"session_id":"x"}]"#, " \n[10]"] {
        assert!(fuzzing::Envelope::parse(text).is_err(), "{text}");
    }
    assert!(fuzzing::Envelope::parse(" \r\n\t{\"op\":11}").is_ok());
}

/// At the end of the clock a deadline cannot be later than now: the machine re-armed its
/// timers at `Instant::MAX` and fired them again without end (with an adapter answering
/// at once).
#[test]
fn the_end_of_the_clock_does_not_spin() {
    use core::time::Duration;
    use qqgw_proto::testing::{Driver, DriverOptions};
    use qqgw_proto::{Config, Instant, Intents};

    let config = Config::builder("wss://fuzz/", Intents::non_privileged()).build().unwrap();
    let options = DriverOptions { auto: true, defer_close: false, liveness: true };
    let mut driver = Driver::new(config, Instant::ZERO, options);
    driver.reply().unwrap().unwrap(); // HELLO
    driver.reply().unwrap().unwrap(); // READY
    assert_eq!(driver.tick(Duration::MAX), Instant::MAX);
    assert_eq!(driver.machine.poll_timeout(), None);
    driver.tick(Duration::from_secs(1));
    assert!(!driver.is_terminated());
}

/// With a zero backoff, an adapter that reports a failed connection from inside the drain
/// (which the drain contract allows) made the machine retry there for ever; a failed
/// attempt now waits at least 1 ms.
#[test]
fn a_zero_backoff_does_not_retry_inside_the_drain() {
    use core::time::Duration;
    use qqgw_proto::{Backoff, Config, GatewayMachine, Input, Instant, Intents};

    let zero = Backoff { initial: Duration::ZERO, max: Duration::ZERO };
    let config = Config::builder("wss://fuzz/", Intents::non_privileged()).backoff(zero).build().unwrap();
    let now = Instant::from_millis(10);
    let mut machine = GatewayMachine::new(config, now);
    let drained = common::drain(&mut machine, now, &|| Some(Input::ConnectFailed));
    assert_eq!(drained.connects, 1, "retrying inside the drain");
    assert_eq!(drained.deadline, Some(Instant::from_millis(11)));
}

//! Per-frame cost of the `GatewayMachine` on dispatch frames, side by side in one run with
//! the floor (the borrowed [`Envelope`] parse) and with parsing into `serde_json::Value`,
//! plus heap allocations per frame counted by a counting global allocator.
//!
//! Run with `cargo bench -p qqgw-proto --bench frames`. Prints one table; see BENCHMARKS.md.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss
)]

use std::alloc::System;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use core::time::Duration;
use qqgw_proto::fuzzing::Envelope;
use qqgw_proto::{
    AccessToken, Config, Dispatch, Event, GatewayMachine, IdentifySlot, Input, Instant, Intents, Output,
    PacerAnswer, PacerRequest, ShardId,
};
use serde_json::Value;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Timed samples per method and workload; the median is reported.
const SAMPLES: usize = 31;
/// Frames fed before the timed ones, so the id-dedup window (1024 ids) is full and the
/// machine is in its steady state.
const WARMUP_FRAMES: usize = 2048;

/// A dispatch template: event name, the fixture's event id and the compact data.
struct Template {
    name: String,
    id: String,
    data: String,
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/frames"))
}

/// The op 0 fixtures other than READY and RESUMED (which the machine treats specially).
fn fixture_templates() -> Vec<Template> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("the repository's fixtures/frames folder")
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
        if frame["op"] != 0 || matches!(frame["t"].as_str(), Some("READY" | "RESUMED")) {
            continue;
        }
        let (Some(name), Some(id)) = (frame["t"].as_str(), frame["id"].as_str()) else { continue };
        out.push(Template { name: name.into(), id: id.into(), data: frame["d"].to_string() });
    }
    assert!(out.len() >= 8, "expected the dispatch fixtures, found {}", out.len());
    out
}

/// A group @-message whose content is about `size` bytes of mixed CJK, ASCII, quotes and
/// newlines (so a full parse has escapes to undo).
fn large_message(size: usize) -> Template {
    let unit = "今天天气不错，来签到 /天气 深圳 \"quoted\" and a\nnew line, emoji 🎉 ";
    let mut content = String::new();
    while content.len() < size {
        content.push_str(unit);
    }
    let data = serde_json::json!({
        "author": {
            "id": "E76A336E66207703B5EDEFD5B99AF7BE",
            "member_openid": "E76A336E66207703B5EDEFD5B99AF7BE",
            "union_openid": "E76A336E66207703B5EDEFD5B99AF7BE"
        },
        "content": content,
        "group_id": "CFFDCCFEE6E05C2B55A6579820565387",
        "group_openid": "CFFDCCFEE6E05C2B55A6579820565387",
        "id": "ROBOT1.0_pM4xQe.Tb8WvZ3nRkLs-7YcAfGhJ2dUoEiK9qN0wXr5BmVt1CyHa.PLD6gSjFu3zO.kW-I2eQ4NxTpRbMv8aY!",
        "message_scene": {"source": "default"},
        "message_type": 0,
        "timestamp": "2025-09-08T23:13:34+08:00"
    });
    Template {
        name: "GROUP_AT_MESSAGE_CREATE".into(),
        id: "GROUP_AT_MESSAGE_CREATE:qbk6uxm6egyn5kt0bvnyylp7liq5928e104pz0ef3ni2yet5s394r7mm1hk26w2r".into(),
        data: data.to_string(),
    }
}

/// Compact frames from `picks` (indices into `templates`), with sequence numbers from
/// `first_seq` and ids made unique by replacing their last 8 characters with a counter.
fn frames(templates: &[Template], picks: &[usize], first_seq: u64, tag: u32) -> Vec<String> {
    picks
        .iter()
        .enumerate()
        .map(|(i, &pick)| {
            let t = &templates[pick];
            let stem = &t.id[..t.id.len() - 8];
            let s = first_seq + i as u64;
            format!(r#"{{"op":0,"s":{s},"t":"{}","id":"{stem}{tag:02x}{i:06x}","d":{}}}"#, t.name, t.data)
        })
        .collect()
}

struct Workload {
    label: String,
    warmup: Vec<String>,
    timed: Vec<String>,
}

impl Workload {
    fn new(
        label: impl Into<String>,
        templates: &[Template],
        pick: impl Fn(usize) -> usize,
        n: usize,
    ) -> Self {
        let warm_picks: Vec<usize> = (0..WARMUP_FRAMES).map(&pick).collect();
        let picks: Vec<usize> = (0..n).map(&pick).collect();
        let warmup = frames(templates, &warm_picks, 2, 0);
        let timed = frames(templates, &picks, 2 + WARMUP_FRAMES as u64, 1);
        Self { label: label.into(), warmup, timed }
    }

    fn mean_len(&self) -> usize {
        self.timed.iter().map(String::len).sum::<usize>() / self.timed.len()
    }
}

/// A machine in the Active state (token, connected, HELLO, READY), with `warmup` fed.
fn active_machine(warmup: &[String]) -> GatewayMachine {
    let now = Instant::ZERO;
    let config =
        Config::builder("wss://bench.invalid/websocket/", Intents::non_privileged()).build().unwrap();
    let mut machine = GatewayMachine::new(config, now);
    let drain = |machine: &mut GatewayMachine| loop {
        match machine.poll_output() {
            Output::RefreshToken => {
                let token = AccessToken::new("token", now + Duration::from_secs(7200));
                machine.handle_input(now, Input::Token(token)).unwrap();
            }
            Output::Pacer(PacerRequest::Acquire) => {
                let slot = PacerAnswer::Granted(IdentifySlot(0));
                machine.handle_input(now, Input::Pacer(slot)).unwrap();
            }
            Output::Connect(_) => machine.handle_input(now, Input::Connected).unwrap(),
            Output::Sleep(_) => break,
            _ => {}
        }
    };
    drain(&mut machine);
    machine.handle_input(now, Input::Text(r#"{"op":10,"d":{"heartbeat_interval":45000}}"#)).unwrap();
    drain(&mut machine);
    let ready = r#"{"op":0,"s":1,"t":"READY","d":{"version":1,"session_id":"bench-session","user":{"id":"1","username":"bench","bot":true},"shard":[0,1]}}"#;
    machine.handle_input(now, Input::Text(ready)).unwrap();
    drain(&mut machine);
    assert!(machine.is_ready());
    let delivered = feed_machine(&mut machine, warmup);
    assert_eq!(delivered, warmup.len(), "every warm-up frame is delivered");
    machine
}

/// The measured machine path: one `handle_input` and the drain until `Sleep`; returns
/// how many dispatches came out.
fn feed_machine(machine: &mut GatewayMachine, frames: &[String]) -> usize {
    let now = Instant::ZERO;
    let mut delivered = 0;
    for frame in frames {
        machine.handle_input(now, Input::Text(frame)).unwrap();
        loop {
            match machine.poll_output() {
                Output::Emit(Event::Dispatch(d)) => {
                    black_box(&d);
                    delivered += 1;
                }
                Output::Sleep(_) => break,
                other => {
                    let _ = black_box(other);
                }
            }
        }
    }
    delivered
}

fn feed_floor(frames: &[String]) -> usize {
    let mut n = 0;
    for frame in frames {
        let env = Envelope::parse(frame).unwrap();
        black_box(&env);
        n += usize::from(env.op == 0);
    }
    n
}

fn feed_value(frames: &[String]) -> usize {
    let mut n = 0;
    for frame in frames {
        let value: Value = serde_json::from_str(frame).unwrap();
        black_box(&value);
        n += usize::from(value["op"] == 0);
    }
    n
}

fn feed_dispatch(frames: &[String]) -> usize {
    let mut n = 0;
    for frame in frames {
        let d = Dispatch::from_frame(frame, ShardId::ONE).unwrap();
        black_box(&d);
        n += 1;
    }
    n
}

#[inline(never)]
fn count_floor(frames: &[String]) -> usize {
    feed_floor(frames)
}

#[inline(never)]
fn count_machine(machine: &mut GatewayMachine, frames: &[String]) -> usize {
    feed_machine(machine, frames)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Floor,
    Value,
    Dispatch,
    Machine,
}

const METHODS: [Method; 4] = [Method::Floor, Method::Value, Method::Dispatch, Method::Machine];

/// One timed pass; the machine's setup (and warm-up) is outside the timing.
fn run(method: Method, w: &Workload) -> StdDuration {
    let (elapsed, n) = match method {
        Method::Machine => {
            let mut machine = active_machine(&w.warmup);
            let start = StdInstant::now();
            let n = feed_machine(&mut machine, &w.timed);
            (start.elapsed(), n)
        }
        Method::Floor => {
            let start = StdInstant::now();
            let n = feed_floor(&w.timed);
            (start.elapsed(), n)
        }
        Method::Value => {
            let start = StdInstant::now();
            let n = feed_value(&w.timed);
            (start.elapsed(), n)
        }
        Method::Dispatch => {
            let start = StdInstant::now();
            let n = feed_dispatch(&w.timed);
            (start.elapsed(), n)
        }
    };
    assert_eq!(n, w.timed.len(), "every frame went through");
    elapsed
}

/// Heap allocations (and bytes) per frame of one pass, the machine in steady state.
fn allocations(method: Method, w: &Workload) -> (f64, f64) {
    let mut machine = active_machine(&w.warmup);
    let region = Region::new(GLOBAL);
    match method {
        Method::Machine => black_box(feed_machine(&mut machine, &w.timed)),
        Method::Floor => black_box(feed_floor(&w.timed)),
        Method::Value => black_box(feed_value(&w.timed)),
        Method::Dispatch => black_box(feed_dispatch(&w.timed)),
    };
    let change = region.change();
    let n = w.timed.len() as f64;
    (change.allocations as f64 / n, change.bytes_allocated as f64 / n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported, everything runs.
    let templates = fixture_templates();
    let fixtures = templates.len();
    let mut all = templates;
    all.push(large_message(2 * 1024));
    all.push(large_message(16 * 1024));
    let (large2, large16) = (fixtures, fixtures + 1);

    let workloads = [
        // 90 % fixture events in turn, 8 % 2 KiB and 2 % 16 KiB messages.
        Workload::new(
            "mix: fixtures 90%, 2 KiB 8%, 16 KiB 2%",
            &all,
            |i| match i % 50 {
                0..=3 => large2,
                4 => large16,
                k => k % fixtures,
            },
            4096,
        ),
        Workload::new(format!("fixtures only ({fixtures} events)"), &all, |i| i % fixtures, 4096),
        Workload::new("2 KiB group messages", &all, |_| large2, 2048),
        Workload::new("16 KiB group messages", &all, |_| large16, 512),
    ];

    if let Some(which) = std::env::var_os("QQGW_BENCH_COUNT") {
        // One pass of the floor and one of the steady-state machine over one workload
        // (0–3), each in a function of its own, for an instruction counter:
        // `QQGW_BENCH_COUNT=0 valgrind --tool=callgrind --toggle-collect='*count_*' …`.
        let w = &workloads[which.to_str().and_then(|s| s.parse::<usize>().ok()).unwrap_or(0)];
        let mut machine = active_machine(&w.warmup);
        black_box(count_floor(&w.timed));
        black_box(count_machine(&mut machine, &w.timed));
        println!("{}: {} frames", w.label, w.timed.len());
        return;
    }
    if std::env::var_os("QQGW_BENCH_PROFILE").is_some() {
        // Only the machine on the mix, for a profiler: `QQGW_BENCH_PROFILE=1 perf record …`.
        let w = &workloads[0];
        let start = StdInstant::now();
        while start.elapsed() < StdDuration::from_secs(5) {
            black_box(run(Method::Machine, w));
        }
        return;
    }
    println!(
        "frames: {SAMPLES} samples per cell, median ns/frame; machine warmed with {WARMUP_FRAMES} frames"
    );
    println!();
    println!(
        "| workload | bytes/frame | floor: Envelope | serde_json::Value | Dispatch::from_frame | machine | machine/floor | Value/floor | machine/Value |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut alloc_rows = Vec::new();
    for w in &workloads {
        for method in METHODS {
            black_box(run(method, w)); // warm caches and the branch predictor
        }
        let mut samples: [Vec<f64>; 4] = Default::default();
        for round in 0..SAMPLES {
            // Interleaved, and the order rotated, so that noise hits every method alike.
            for k in 0..METHODS.len() {
                let m = (k + round) % METHODS.len();
                let elapsed = run(METHODS[m], w);
                samples[m].push(elapsed.as_nanos() as f64 / w.timed.len() as f64);
            }
        }
        let [floor, value, dispatch, machine] = samples.map(median);
        println!(
            "| {} | {} | {floor:.0} | {value:.0} | {dispatch:.0} | {machine:.0} | {:.2}× | {:.2}× | {:.2}× |",
            w.label,
            w.mean_len(),
            machine / floor,
            value / floor,
            machine / value,
        );
        alloc_rows.push((w.label.clone(), METHODS.map(|m| allocations(m, w))));
    }
    println!();
    println!("allocations per frame (bytes per frame), machine in steady state:");
    println!();
    println!("| workload | floor: Envelope | serde_json::Value | Dispatch::from_frame | machine |");
    println!("|---|---:|---:|---:|---:|");
    for (label, cells) in alloc_rows {
        let cell = |(n, b): (f64, f64)| format!("{n:.2} ({b:.0} B)");
        println!(
            "| {label} | {} | {} | {} | {} |",
            cell(cells[0]),
            cell(cells[1]),
            cell(cells[2]),
            cell(cells[3])
        );
    }
}

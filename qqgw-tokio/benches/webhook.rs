//! The webhook endpoint's cost against the Ed25519 verification it cannot avoid, and its
//! latency, over loopback.
//!
//! ```text
//! cargo bench -p qqgw-tokio --features webhook --bench webhook [-- limit|latency]
//! ```
//!
//! Section `limit` ("the webhook at the verification limit") prints side by side, for the
//! same signed callbacks (`QQGW_BENCH_WEBHOOK_EVENTS`, default 8,000 — a few seconds;
//! 100,000 for steadier figures — bodies of ~184 bytes), events per CPU-second of the thread doing the work:
//!
//! 1. Ed25519 `verify_strict` alone, on the decoded signature and `timestamp ‖ body`;
//! 2. the sans-IO step alone: `Webhook::check` (headers, signature, envelope and dispatch
//!    decoding) and `VerifiedEvent::admit` (the replay check), one thread;
//! 3. the whole HTTP path: `WebhookServer` on a current-thread runtime in a thread of its
//!    own (one core), 16 keep-alive connections posting the callbacks (signed beforehand,
//!    from another thread), every event delivered to a consumer on the server's runtime
//!    that acks it; once answered when queued (the default), once with
//!    `ack_after_handled`. The server thread's CPU time (user and kernel, from
//!    `/proc/…/schedstat`) is what the rate is per; heap allocations are counted for the
//!    whole process (the client allocates nothing per request).
//!
//! Section `latency` prints the latency of a legitimate event (connect, POST, 200), one
//! every 5 ms, p50/p99, with no other load, and the same while the endpoint is abused:
//! 400 slowloris connections, 8 keep-alive connections sending forged signatures as fast
//! as they are answered, and 8 sending unsigned requests that declare 1 MB bodies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::alloc::System;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, VerifyingKey};
use futures_util::StreamExt;
use qqgw_proto::webhook::{Checked, Webhook, WebhookKey, WebhookRequest};
use qqgw_tokio::webhook::WebhookServer;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SECRET: &str = "DG5g3B4j9X2KOErG";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn body(id: &str) -> String {
    format!(
        r#"{{"op":0,"id":"{id}","t":"GROUP_AT_MESSAGE_CREATE","d":{{"id":"{id}","content":"hi","group_openid":"CFFD","author":{{"member_openid":"E76A"}},"timestamp":"2024-09-04T17:12:21+08:00"}}}}"#
    )
}

fn request(body: &str, signature: &str, timestamp: &str, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!(
        "POST /qqbot/callback HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{connection}X-Signature-Ed25519: {signature}\r\n\
         X-Signature-Timestamp: {timestamp}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn signed(key: &WebhookKey, id: &str, close: bool) -> Vec<u8> {
    let body = body(id);
    let ts = now().to_string();
    request(&body, &key.sign_callback(&ts, body.as_bytes()), &ts, close)
}

/// Reads one response; its status, or `None` when the connection ends first.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u16> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let status = head.get(9..12)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..end + 4 + length);
            return Some(status);
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A running server: its address, the events its consumer has acked, the path of its
/// thread's `schedstat`, and a handle that stops it when dropped.
struct Server {
    addr: SocketAddr,
    delivered: Arc<AtomicU64>,
    schedstat: String,
    _stop: std::sync::mpsc::Sender<()>,
}

/// Starts a server on a current-thread runtime in its own thread, with a consumer that
/// acks and counts events.
fn server(webhook: Webhook, ack_after_handled: bool) -> Server {
    let delivered = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&delivered);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let thread =
            std::fs::read_link("/proc/thread-self").map(|p| p.display().to_string()).unwrap_or_default();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let mut builder = WebhookServer::builder(webhook).queue(65_536);
            if ack_after_handled {
                builder = builder.ack_after_handled(Duration::from_secs(3));
            }
            let (server, mut events) = builder.bind("127.0.0.1:0").await.unwrap();
            addr_tx.send((server.local_addr(), thread)).unwrap();
            tokio::spawn(async move {
                while let Some(event) = events.next().await {
                    event.ack();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
            tokio::task::spawn_blocking(move || stop_rx.recv().ok()).await.unwrap();
            drop(server);
        });
    });
    let (addr, thread) = addr_rx.recv().unwrap();
    Server { addr, delivered, schedstat: format!("/proc/{thread}/schedstat"), _stop: stop_tx }
}

/// Time on a CPU, user and kernel, from a `schedstat` file (its first field, ns).
fn schedstat(path: &str) -> Duration {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    schedstat("/proc/thread-self/schedstat")
}

/// The CPU time of all the process's threads alive now.
fn process_cpu() -> Duration {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .map(|task| schedstat(&format!("{}/schedstat", task.path().display())))
                .sum()
        })
        .unwrap_or_default()
}

/// Reads one response without allocating; its status, or `None` when the connection
/// ends first.
async fn read_lean(stream: &mut TcpStream, buf: &mut [u8], filled: &mut usize) -> Option<u16> {
    loop {
        let data = &buf[..*filled];
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = &data[..end];
            let status = std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()?;
            let length: usize = head
                .split(|&b| b == b'\n')
                .find_map(|line| {
                    let colon = line.iter().position(|&b| b == b':')?;
                    line[..colon]
                        .eq_ignore_ascii_case(b"content-length")
                        .then(|| std::str::from_utf8(&line[colon + 1..]).ok()?.trim().parse().ok())?
                })
                .unwrap_or(0);
            let whole = end + 4 + length;
            while *filled < whole {
                let n = stream.read(&mut buf[*filled..]).await.ok()?;
                if n == 0 {
                    return None;
                }
                *filled += n;
            }
            buf.copy_within(whole..*filled, 0);
            *filled -= whole;
            return Some(status);
        }
        let n = stream.read(&mut buf[*filled..]).await.ok()?;
        if n == 0 {
            return None;
        }
        *filled += n;
    }
}

/// Callbacks signed once for the whole section: timestamp, body, signature (hex).
struct Signed {
    timestamp: String,
    bodies: Vec<String>,
    signatures: Vec<String>,
}

impl Signed {
    fn new(key: &WebhookKey, n: usize) -> Self {
        let timestamp = now().to_string();
        let bodies: Vec<String> = (0..n).map(|i| body(&format!("L:{i}"))).collect();
        let signatures = bodies.iter().map(|body| key.sign_callback(&timestamp, body.as_bytes())).collect();
        Self { timestamp, bodies, signatures }
    }
}

/// One measured run: events, wall time, CPU time of the thread(s) doing the work, and
/// heap allocations.
struct Sample {
    events: usize,
    wall: Duration,
    cpu: Duration,
    allocations: usize,
}

impl Sample {
    fn per_cpu_second(&self) -> f64 {
        self.events as f64 / self.cpu.as_secs_f64()
    }

    fn micros_each(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.events as f64
    }

    fn allocations_each(&self) -> f64 {
        self.allocations as f64 / self.events as f64
    }
}

/// Ed25519 `verify_strict` alone, on what the signature covers, one thread.
fn verify_alone(key: &WebhookKey, signed: &Signed) -> Sample {
    let verifying = VerifyingKey::from_bytes(&key.public_key()).unwrap();
    let inputs: Vec<(Vec<u8>, Signature)> = signed
        .bodies
        .iter()
        .zip(&signed.signatures)
        .map(|(body, hex)| {
            let message = [signed.timestamp.as_bytes(), body.as_bytes()].concat();
            let bytes: Vec<u8> =
                (0..64).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
            (message, Signature::from_slice(&bytes).unwrap())
        })
        .collect();
    let region = Region::new(GLOBAL);
    let (started, cpu) = (Instant::now(), thread_cpu());
    for (message, signature) in &inputs {
        verifying.verify_strict(message, signature).unwrap();
    }
    let (cpu, wall) = (thread_cpu() - cpu, started.elapsed());
    Sample { events: inputs.len(), wall, cpu, allocations: region.change().allocations }
}

/// `Webhook::check` + `VerifiedEvent::admit`, no HTTP, one thread.
fn check_alone(key: &WebhookKey, signed: &Signed) -> Sample {
    let webhook = Webhook::new(key.clone()).with_replay_memory(signed.bodies.len().max(65_536));
    let mut guard = webhook.replay_guard();
    let region = Region::new(GLOBAL);
    let (started, cpu) = (Instant::now(), thread_cpu());
    for (body, signature) in signed.bodies.iter().zip(&signed.signatures) {
        let request = WebhookRequest {
            signature: Some(signature),
            timestamp: Some(&signed.timestamp),
            body: body.as_bytes(),
            unix_now: Some(now()),
        };
        let Checked::Event(event) = webhook.check(request) else { panic!() };
        assert_eq!(event.admit(&mut guard).status, 200);
    }
    let (cpu, wall) = (thread_cpu() - cpu, started.elapsed());
    Sample { events: signed.bodies.len(), wall, cpu, allocations: region.change().allocations }
}

/// The whole HTTP path: 16 keep-alive connections post every callback to a server on one
/// core, whose consumer acks each event. CPU is the server thread's.
async fn http_path(key: &WebhookKey, signed: &Signed, ack_after_handled: bool) -> (Sample, Duration) {
    let webhook = Webhook::new(key.clone()).with_replay_memory(signed.bodies.len().max(65_536));
    let server = server(webhook, ack_after_handled);
    let connections = 16;
    let mut batches: Vec<Vec<Vec<u8>>> = vec![Vec::new(); connections];
    for (i, (body, signature)) in signed.bodies.iter().zip(&signed.signatures).enumerate() {
        batches[i % connections].push(request(body, signature, &signed.timestamp, false));
    }
    let mut streams = Vec::new();
    for _ in 0..connections {
        let stream = TcpStream::connect(server.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        streams.push(stream);
    }
    let region = Region::new(GLOBAL);
    let (started, cpu, all) = (Instant::now(), schedstat(&server.schedstat), process_cpu());
    let mut tasks = Vec::new();
    for (batch, mut stream) in batches.into_iter().zip(streams) {
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut filled = 0;
            for request in &batch {
                stream.write_all(request).await.unwrap();
                assert_eq!(read_lean(&mut stream, &mut buf, &mut filled).await, Some(200));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let total = signed.bodies.len() as u64;
    while server.delivered.load(Ordering::Relaxed) < total {
        tokio::task::yield_now().await;
    }
    let wall = started.elapsed();
    let cpu = schedstat(&server.schedstat) - cpu;
    let all = process_cpu() - all;
    let allocations = region.change().allocations;
    (Sample { events: signed.bodies.len(), wall, cpu, allocations }, all)
}

fn limit(key: &WebhookKey) {
    let n: usize =
        std::env::var("QQGW_BENCH_WEBHOOK_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(8_000);
    let signed = Signed::new(key, n);
    let body_len = signed.bodies.iter().map(String::len).sum::<usize>() / n;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "the webhook at the verification limit: {n} signed callbacks, bodies of ~{body_len} bytes; load average {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let verify = verify_alone(key, &signed);
    let check = check_alone(key, &signed);
    let clients = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (queued, queued_all) = clients.block_on(http_path(key, &signed, false));
    let (handled, handled_all) = clients.block_on(http_path(key, &signed, true));
    let row = |what: &str, sample: &Sample, extra: String| {
        println!(
            "  {what:<58} {:>8.0} events/CPU-s  {:>6.1} µs/event  {:>5.2}× verify  {:>5.1} allocs/event  ({:.0} events/s wall{extra})",
            sample.per_cpu_second(),
            sample.micros_each(),
            sample.micros_each() / verify.micros_each(),
            sample.allocations_each(),
            sample.events as f64 / sample.wall.as_secs_f64(),
        );
    };
    row("ed25519 verify_strict alone, 1 thread", &verify, String::new());
    row("Webhook::check + admit (sans-IO), 1 thread", &check, String::new());
    let busy = |sample: &Sample, all: Duration| {
        format!(
            "; server thread {:.0} % busy; whole process {:.1} µs/event",
            100.0 * sample.cpu.as_secs_f64() / sample.wall.as_secs_f64(),
            all.as_secs_f64() * 1e6 / sample.events as f64
        )
    };
    row("HTTP path, answered when queued, server thread", &queued, busy(&queued, queued_all));
    row("HTTP path, ack_after_handled, server thread", &handled, busy(&handled, handled_all));
}
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// One legitimate event every 5 ms on a new connection, `n` of them; sorted latencies.
async fn legit_latencies(addr: SocketAddr, key: &WebhookKey, prefix: &str, n: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let request = signed(key, &format!("{prefix}:{i}"), true);
        let started = Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        stream.write_all(&request).await.unwrap();
        let mut buf = Vec::new();
        assert_eq!(read_response(&mut stream, &mut buf).await, Some(200), "{prefix}:{i}");
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies.sort_unstable();
    latencies
}

async fn latency(key: &WebhookKey, abuse: bool) {
    let server = server(Webhook::new(key.clone()), false);
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let forged_count = Arc::new(AtomicU64::new(0));
    let mut attackers = Vec::new();
    if abuse {
        for _ in 0..400 {
            let stop = Arc::clone(&stop);
            attackers.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut stream) = TcpStream::connect(addr).await else { continue };
                    let _ = stream.write_all(b"POST / HTTP/1.1\r\nHost: bot\r\n").await;
                    let mut buf = [0u8; 64];
                    while !stop.load(Ordering::Relaxed) {
                        tokio::select! {
                            read = stream.read(&mut buf) => if matches!(read, Ok(0) | Err(_)) { break },
                            () = tokio::time::sleep(Duration::from_millis(500)) => {
                                if stream.write_all(b"X-Drip: a\r\n").await.is_err() { break }
                            }
                        }
                    }
                }
            }));
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        for c in 0..8u64 {
            let (stop, count) = (Arc::clone(&stop), Arc::clone(&forged_count));
            attackers.push(tokio::spawn(async move {
                let body = body("forged");
                // Well formed (128 hex digits, canonical) but wrong: verified, then refused.
                let mut signature = format!("{c:016x}").repeat(8);
                signature.replace_range(126.., "0f");
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut stream) = TcpStream::connect(addr).await else { continue };
                    let mut buf = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let request = request(&body, &signature, &now().to_string(), false);
                        if stream.write_all(&request).await.is_err()
                            || read_response(&mut stream, &mut buf).await.is_none()
                        {
                            break;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for _ in 0..8 {
            let (stop, count) = (Arc::clone(&stop), Arc::clone(&forged_count));
            attackers.push(tokio::spawn(async move {
                let head = b"POST / HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n";
                let filler = vec![b'x'; 16 << 10];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut stream) = TcpStream::connect(addr).await else { continue };
                    let _ = stream.write_all(head).await;
                    let _ = stream.write_all(&filler).await;
                    let mut buf = Vec::new();
                    if read_response(&mut stream, &mut buf).await.is_some() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let before = forged_count.load(Ordering::Relaxed);
    let started = Instant::now();
    let latencies = legit_latencies(addr, key, if abuse { "abused" } else { "quiet" }, 1_000).await;
    let attack_rate =
        (forged_count.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.abort();
    }
    let label = if abuse { "under abuse" } else { "no other load" };
    println!(
        "legitimate event latency, {label}: p50 {}, p99 {}, max {}{}",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0)),
        if abuse { format!(" (while refusing {attack_rate:.0} abusive requests/s)") } else { String::new() }
    );
}

fn main() {
    let key = WebhookKey::from_secret(SECRET).unwrap();
    let sections: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let run = |name: &str| sections.is_empty() || sections.iter().any(|s| s == name);
    if run("limit") {
        limit(&key);
    }
    if run("latency") {
        let clients =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        clients.block_on(async {
            latency(&key, false).await;
            latency(&key, true).await;
        });
    }
}

//! Events through the `qqgw-gateway` binary to a worker: events per second, and the
//! latency from the mock QQ's dispatch to the worker's `XREADGROUP`.
//!
//! The mock QQ runs in this process, the gateway as its own process (the release build
//! beside this example), a redis-server of the bench's own on a free loopback port; the
//! worker is a thread here, reading and acknowledging as a consumer group member does
//! (batches of up to 500, `XACK` per batch). Each event carries the time it was
//! dispatched, on this process's clock, which the worker reads it on too.
//!
//! ```sh
//! cargo build --release -p qqgw-gateway --bins --examples
//! target/release/examples/bench
//! ```
//!
//! Knobs (env): `QQGW_BENCH_EVENTS` (20000, the unpaced run), `QQGW_BENCH_PACED_RATE`
//! (2000 events a second) and `QQGW_BENCH_PACED_EVENTS` (4000).
#![allow(
    missing_docs,
    unreachable_pub,
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation
)]

#[path = "../../qqgw-redis/tests/common/redis_server.rs"]
mod redis_server;

use std::io::Read;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use qqgw_mock::{MockConfig, MockGateway, SessionStartLimit};
use redis_server::{RedisServer, free_port};
use serde_json::{Value, json};

const STREAM_GROUP: &str = "bench";

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64
}

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    epoch();
    let gateway_bin =
        std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("qqgw-gateway");
    assert!(
        gateway_bin.exists(),
        "{} missing: build it first (cargo build --release -p qqgw-gateway --bins --examples)",
        gateway_bin.display()
    );
    let events = knob("QQGW_BENCH_EVENTS", 20_000);
    let paced_rate = knob("QQGW_BENCH_PACED_RATE", 2_000);
    let paced_events = knob("QQGW_BENCH_PACED_EVENTS", 4_000);

    let redis = RedisServer::start();
    let mock = MockGateway::start_in_thread(MockConfig {
        shards: 1,
        session_start_limit: SessionStartLimit {
            total: 1000,
            remaining: 1000,
            reset_after: 86_400_000,
            max_concurrency: 1,
        },
        ..MockConfig::default()
    })
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let log = std::env::temp_dir().join(format!("qqgw-gateway-bench-{}.log", std::process::id()));
    let mut gateway = Gateway(
        Command::new(&gateway_bin)
            .env_clear()
            .envs(mock.bot_env(&["GROUP_AT_MESSAGE_CREATE"]))
            .env("QQ_BOT_SHARDS", "1")
            .env("QQGW_REDIS_URL", redis.url())
            .env("QQGW_LISTEN", &listen)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&listen, "/readyz") != Some(200) {
        assert!(
            Instant::now() < deadline,
            "not ready in 30 s: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let stream = format!("qqgw:{}:stream:0/1", mock.config().app_id);
    let mut conn = redis.sync();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg(STREAM_GROUP)
        .arg("$")
        .arg("MKSTREAM")
        .query(&mut conn)
        .unwrap();

    println!(
        "qqgw-gateway bench: 1 shard, release build, mock QQ in process, redis-server {} on loopback",
        redis_version(&mut conn)
    );
    println!("| run | events | events/s (dispatch → worker) | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    // A warm-up, not reported.
    run(&mock, &redis, &stream, "warm", 1_000, None);
    let (rate, lat) = run(&mock, &redis, &stream, "unpaced", events, None);
    report("unpaced (as fast as the mock sends)", events, rate, &lat);
    let (rate, lat) = run(&mock, &redis, &stream, "paced", paced_events, Some(paced_rate));
    report(&format!("paced at {paced_rate}/s"), paced_events, rate, &lat);

    // Nothing lost, nothing twice, nothing out of place.
    let errors = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!errors.contains("ERROR"), "the gateway logged errors:\n{errors}");
    gateway.stop();
    let _ = std::fs::remove_file(&log);
}

struct Gateway(Child);

impl Gateway {
    fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let status = self.0.wait().unwrap();
        assert!(status.success(), "the gateway exited with {status}");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Dispatches `n` events (paced at `rate` a second, or as fast as the mock takes them)
/// while a worker thread reads them; returns events a second (first dispatch to last
/// read) and each event's latency in microseconds.
fn run(
    mock: &MockGateway,
    redis: &RedisServer,
    stream: &str,
    tag: &str,
    n: u64,
    rate: Option<u64>,
) -> (f64, Vec<u64>) {
    let worker = {
        let mut conn = redis.sync();
        let (stream, tag) = (stream.to_owned(), tag.to_owned());
        std::thread::spawn(move || worker(&mut conn, &stream, &tag, n))
    };
    let start = Instant::now();
    for i in 0..n {
        if let Some(rate) = rate {
            let at = start + Duration::from_secs_f64(i as f64 / rate as f64);
            while Instant::now() < at {
                std::thread::sleep(
                    at.saturating_duration_since(Instant::now()).min(Duration::from_millis(1)),
                );
            }
        }
        let d = json!({
            "id": format!("{tag}-{i}"),
            "group_openid": "GROUP_OPENID",
            "content": "bench",
            "author": {"member_openid": "MEMBER"},
            "timestamp": "2026-12-06T12:00:00+08:00",
            "sent_us": now_us(),
        });
        assert!(mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", d) > 0, "no session");
    }
    let (last, latencies) = worker.join().unwrap();
    let seconds = last.duration_since(start).as_secs_f64();
    (n as f64 / seconds, latencies)
}

/// Reads `n` events of run `tag` as a member of the group, acknowledging each batch;
/// returns when the last was read and every latency (µs).
fn worker(conn: &mut redis::Connection, stream: &str, tag: &str, n: u64) -> (Instant, Vec<u64>) {
    let mut latencies = Vec::with_capacity(n as usize);
    let mut seen = std::collections::HashSet::new();
    let prefix = format!("{tag}-");
    let deadline = Instant::now() + Duration::from_secs(120);
    while (latencies.len() as u64) < n {
        assert!(Instant::now() < deadline, "{} of {n} events in 120 s", latencies.len());
        let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(STREAM_GROUP)
            .arg("bench-worker")
            .arg("COUNT")
            .arg(500)
            .arg("BLOCK")
            .arg(1000)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query(conn)
            .unwrap();
        let read_at = now_us();
        let mut ids = Vec::new();
        for key in reply.keys {
            for entry in key.ids {
                if let Some(redis::Value::BulkString(event)) = entry.map.get("event") {
                    let event: Value = serde_json::from_slice(event).unwrap();
                    let d = &event["d"];
                    let id = d["id"].as_str().unwrap_or_default();
                    if id.starts_with(&prefix) {
                        assert!(seen.insert(id.to_owned()), "{id} twice");
                        latencies.push(read_at.saturating_sub(d["sent_us"].as_u64().unwrap()));
                    }
                }
                ids.push(entry.id);
            }
        }
        if !ids.is_empty() {
            let _: u64 = redis::cmd("XACK").arg(stream).arg(STREAM_GROUP).arg(&ids).query(conn).unwrap();
        }
    }
    (Instant::now(), latencies)
}

fn report(run: &str, n: u64, rate: f64, latencies: &[u64]) {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
    println!("| {run} | {n} | {rate:.0} | {} | {} | {} |", ms(at(0.5)), ms(at(0.99)), ms(at(1.0)));
}

fn redis_version(conn: &mut redis::Connection) -> String {
    let info: String = redis::cmd("INFO").arg("server").query(conn).unwrap();
    info.lines().find_map(|l| l.strip_prefix("redis_version:")).unwrap_or("?").trim().to_owned()
}

fn get(addr: &str, path: &str) -> Option<u16> {
    use std::io::Write;
    let mut stream = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split(' ').nth(1)?.parse().ok()
}

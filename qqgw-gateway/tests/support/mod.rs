//! The binary as a process, a redis-server and the mock QQ, for the end-to-end tests.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../qqgw-redis/tests/common/redis_server.rs"]
pub mod redis_server;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use qqgw_mock::{MockConfig, MockGateway, SessionStartLimit};
use serde_json::Value;

pub use redis_server::{RedisServer, free_port, signal};

/// Polls `condition` every 20 ms until it holds; panics with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A mock QQ recommending `shards` shards, with fast heartbeats, every shard allowed to
/// IDENTIFY at once.
pub fn mock(shards: u32) -> MockGateway {
    MockGateway::start_in_thread(MockConfig {
        heartbeat_interval: Duration::from_millis(500),
        shards,
        session_start_limit: SessionStartLimit {
            total: 1000,
            remaining: 1000,
            reset_after: 86_400_000,
            max_concurrency: shards,
        },
        ..MockConfig::default()
    })
    .unwrap()
}

/// A running `qqgw-gateway`, killed on drop; its stderr in a file.
pub struct Gateway {
    pub child: Option<Child>,
    pub listen: String,
    pub log: PathBuf,
}

impl Gateway {
    /// Starts the binary against `mock` and `redis`, with `extra` variables.
    pub fn start(mock: &MockGateway, redis: &RedisServer, extra: &[(&str, &str)]) -> Self {
        Self::start_with(mock.bot_env(&["GROUP_AT_MESSAGE_CREATE"]), redis, extra)
    }

    /// Starts the binary with the bot's variables `bot` (no mock: webhook mode), `redis`
    /// and `extra` variables.
    pub fn start_with<K, V>(
        bot: impl IntoIterator<Item = (K, V)>,
        redis: &RedisServer,
        extra: &[(&str, &str)],
    ) -> Self
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        let listen = format!("127.0.0.1:{}", free_port());
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let log = std::env::temp_dir().join(format!("qqgw-gateway-test-{}-{n}.log", std::process::id()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_qqgw-gateway"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(bot)
            .env("QQGW_REDIS_URL", redis.url())
            .env("QQGW_LISTEN", &listen)
            .env("QQGW_SAMPLE_EVERY", "200ms")
            .env("RUST_LOG", "info,qqgw_client=debug")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = command.spawn().expect("start qqgw-gateway");
        Self { child: Some(child), listen, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// `GET path`: the status and the body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(&self.listen, path)
    }

    /// Waits for `/readyz` to answer 200.
    pub fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((200, _)) = self.get("/readyz") {
                return;
            }
            if Instant::now() > deadline {
                panic!("/readyz not 200 within {limit:?}: {:?}\n{}", self.get("/readyz"), self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to end, within `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "qqgw-gateway did not exit within {limit:?}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The metrics scraped from `/metrics`: each series (name and labels, as written) to
    /// its value.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let (status, body) = self.get("/metrics").expect("/metrics answers");
        assert_eq!(status, 200);
        parse_metrics(&body)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- qqgw-gateway's log\n{}", self.logs());
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A plain HTTP/1.0 GET on loopback, bounded by a timeout.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Prometheus text: each series line to its value.
pub fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The metric names of scraped series (`_bucket`, `_sum` and `_count` of a histogram
/// folded into its name).
pub fn metric_names(series: &BTreeMap<String, f64>) -> BTreeSet<String> {
    series
        .keys()
        .map(|s| {
            let name = s.split('{').next().unwrap_or(s);
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name)
                .to_owned()
        })
        .collect()
}

/// The value of the series `name{labels}` (labels as `k="v"` joined by `,`, in the
/// exporter's order), 0 when absent.
pub fn value(series: &BTreeMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    series
        .iter()
        .filter(|(s, _)| {
            s.split('{').next() == Some(name)
                && labels.iter().all(|(k, v)| s.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| *v)
        .sum()
}

/// A synchronous connection to `redis`.
pub fn conn(redis: &RedisServer) -> redis::Connection {
    redis.sync()
}

/// Every entry of `stream`, as field maps with their entry ids.
pub fn entries(conn: &mut redis::Connection, stream: &str) -> Vec<(String, HashMap<String, String>)> {
    let reply: redis::streams::StreamRangeReply =
        redis::cmd("XRANGE").arg(stream).arg("-").arg("+").query(conn).unwrap();
    reply
        .ids
        .iter()
        .map(|e| {
            let fields =
                e.map.iter().map(|(k, v)| (k.clone(), redis::from_redis_value(v).unwrap())).collect();
            (e.id.clone(), fields)
        })
        .collect()
}

/// The stream key of shard `id` of `total` for the mock's bot.
pub fn stream_key(mock: &MockGateway, id: u32, total: u32) -> String {
    format!("qqgw:{}:stream:{id}/{total}", mock.config().app_id)
}

/// Validates entries against the stream format's JSON Schema (and the JSON inside them
/// against its definitions).
pub fn validate(entries: &[(String, HashMap<String, String>)]) {
    let schema: Value =
        serde_json::from_str(include_str!("../../../qqgw-redis/schema/stream-entry.v1.json")).unwrap();
    let entry = jsonschema::validator_for(&schema).unwrap();
    let event = jsonschema::validator_for(&schema["$defs"]["event"]).unwrap();
    let gap = jsonschema::validator_for(&schema["$defs"]["gap"]).unwrap();
    for (id, fields) in entries {
        let instance = serde_json::to_value(fields).unwrap();
        let errors: Vec<String> = entry.iter_errors(&instance).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "entry {id} {fields:?}: {errors:?}");
        if let Some(text) = fields.get("event") {
            let json: Value = serde_json::from_str(text).unwrap();
            assert!(event.is_valid(&json), "entry {id}: event {json}");
        }
        if let Some(text) = fields.get("gap") {
            let json: Value = serde_json::from_str(text).unwrap();
            assert!(gap.is_valid(&json), "entry {id}: gap {json}");
        }
    }
}

/// The event ids in `entries`, in order.
pub fn event_ids(entries: &[(String, HashMap<String, String>)]) -> Vec<String> {
    entries.iter().filter_map(|(_, f)| f.get("id").filter(|id| !id.is_empty()).cloned()).collect()
}

/// Dispatches `n` group @-messages on `shard`; returns their event ids (from the frames'
/// `id`, which the mock makes) — found by their `d.id`, `msg-<shard>-<tag>-<i>`.
pub fn burst(mock: &MockGateway, shard: u32, tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let d = serde_json::json!({
                "id": format!("msg-{shard}-{tag}-{i}"),
                "group_openid": "GROUP_OPENID",
                "content": format!(" hi {i}"),
                "author": {"member_openid": "MEMBER"},
                "timestamp": "2026-12-06T12:00:00+08:00",
            });
            let seq = mock.dispatch(shard, "GROUP_AT_MESSAGE_CREATE", d);
            assert!(seq > 0, "shard {shard} has no session");
            format!("msg-{shard}-{tag}-{i}")
        })
        .collect()
}

/// The `d.id` of each event entry.
pub fn message_ids(entries: &[(String, HashMap<String, String>)]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|(_, f)| {
            let event: Value = serde_json::from_str(f.get("event")?).ok()?;
            event["d"]["id"].as_str().map(str::to_owned)
        })
        .collect()
}

/// The metric names in the PromQL expressions of a Grafana dashboard: every `qqgw_…`
/// identifier, with a histogram's `_bucket`, `_sum` or `_count` folded.
pub fn metrics_queried(dashboard: &str) -> BTreeSet<String> {
    let json: serde_json::Value = serde_json::from_str(dashboard).unwrap();
    let mut exprs = Vec::new();
    collect(&json, &mut exprs);
    assert!(!exprs.is_empty(), "no PromQL in the dashboard");
    let mut names = BTreeSet::new();
    for expr in exprs {
        let mut rest = expr.as_str();
        while let Some(at) = rest.find("qqgw_") {
            let tail = &rest[at..];
            let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
            let name = &tail[..end];
            let name =
                ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            names.insert(name.to_owned());
            rest = &tail[end..];
        }
    }
    names
}

fn collect(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

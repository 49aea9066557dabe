//! A bot across processes, on one machine: the mock QQ, a redis-server, 3 gateway
//! processes sharing 4 shards, 2 worker processes. One gateway process is killed
//! (SIGKILL) mid-stream; its shards are taken over and RESUMEd, and the tally shows that
//! nothing was lost.
//!
//! ```text
//! cargo run -p qqgw-redis --example cluster               # the whole show
//! cargo run -p qqgw-redis --example cluster -- --no-kill  # throughput and latency only
//! cargo run -p qqgw-redis --example cluster -- --baseline # the same events, one process, no Redis
//! ```
//!
//! `EX_EVENTS` (8000) events are sent, at `EX_RATE` (2000) a second; `EX_RATE=0` sends
//! them all at once, for the most events a second the path takes.
//!
//! Needs `redis-server` on `PATH` (`apt-get install -y redis-server`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "../tests/common/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use qqgw_client::{Context, EventHandler, ShardId};
use qqgw_mock::{MockConfig, MockGateway, SessionStartLimit};
use qqgw_redis::{Cluster, ClusterConfig, Keys, Redis, Worker, WorkerConfig};
use redis::AsyncCommands;

const SHARDS: u32 = 4;
const LEASE_TTL: Duration = Duration::from_secs(3);
const TALLY: &str = "example:tally";
const LATENCIES: &str = "example:latency";

fn micros_now() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_micros()).unwrap_or(0)
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn events() -> u64 {
    env_or("EX_EVENTS", 8_000)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// Exits once stdin closes: no child outlives the example.
fn exit_with_parent() {
    std::thread::spawn(|| {
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        std::process::exit(0);
    });
}

fn bot_config() -> qqgw_client::ConfigBuilder {
    qqgw_client::Config::builder(env("EX_APP_ID"), env("EX_SECRET"))
        .api_base(env("EX_API_BASE"))
        .token_url(env("EX_TOKEN_URL"))
        .allow_insecure(true)
}

async fn gateway(owned: &str) {
    let (a, b) = owned.split_once('-').unwrap();
    let redis =
        Redis::connect(&qqgw_tokio::Tokio, &env("EX_REDIS"), Keys::for_app(&env("EX_APP_ID"))).await.unwrap();
    let mut config = ClusterConfig::new(SHARDS, a.parse().unwrap()..b.parse().unwrap())
        .with_takeover()
        .lease_ttl(LEASE_TTL);
    config.poll = Duration::from_millis(100);
    config.session_start_limit.max_concurrency = SHARDS;
    let _cluster = Cluster::start(qqgw_tokio::Tokio, redis, bot_config(), config);
    std::future::pending::<()>().await;
}

/// Counts each event it handles, with its latency from the mock's dispatch; a task
/// writes the counts to Redis every 20 ms (one round trip for many events, so the
/// counting does not slow the worker down).
#[derive(Clone, Default)]
struct Counter {
    pending: std::sync::Arc<std::sync::Mutex<Vec<(String, u64)>>>,
}

impl EventHandler for Counter {
    async fn unknown_event(&self, ctx: Context) {
        #[derive(serde::Deserialize)]
        struct Data {
            t: u64,
        }
        let latency = ctx.dispatch().parse::<Data>().map(|d| micros_now().saturating_sub(d.t)).unwrap_or(0);
        let key = format!("{}:{}", ctx.shard().id(), ctx.seq().unwrap_or(0));
        self.pending.lock().unwrap().push((key, latency));
    }
}

async fn worker(name: &str) {
    let redis =
        Redis::connect(&qqgw_tokio::Tokio, &env("EX_REDIS"), Keys::for_app(&env("EX_APP_ID"))).await.unwrap();
    let shards = (0..SHARDS).filter_map(|id| ShardId::new(id, SHARDS));
    let config = WorkerConfig {
        consumer: name.into(),
        claim_idle: Duration::from_secs(2),
        block: Duration::from_millis(200),
        ..WorkerConfig::default()
    };
    let counter = Counter::default();
    let flush = counter.clone();
    let mut conn = redis.connection();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let counts = std::mem::take(&mut *flush.pending.lock().unwrap());
            if counts.is_empty() {
                continue;
            }
            let mut pipe = redis::pipe();
            for (key, latency) in counts {
                pipe.hincr(TALLY, key, 1).ignore().rpush(LATENCIES, latency).ignore();
            }
            let _: Result<(), _> = pipe.query_async(&mut conn).await;
        }
    });
    let worker = Worker::new(redis.clone(), shards, config).await.unwrap();
    worker.run(&qqgw_tokio::Tokio, &counter, std::future::pending()).await;
}

struct Children(Vec<(String, Child)>);

impl Children {
    fn spawn(&mut self, name: &str, args: &[&str], env: &[(&str, String)]) {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(args).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::piped());
        if std::env::var_os("EX_CHILD_LOGS").is_none() {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        self.0.push((name.to_owned(), command.spawn().unwrap()));
    }

    fn kill(&mut self, name: &str) {
        if let Some(i) = self.0.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.0.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    Duration::from_micros(sorted[i.min(sorted.len() - 1)])
}

fn mock_config() -> MockConfig {
    MockConfig {
        heartbeat_interval: Duration::from_secs(1),
        shards: SHARDS,
        session_start_limit: SessionStartLimit {
            total: 1000,
            remaining: 1000,
            reset_after: 86_400_000,
            max_concurrency: SHARDS,
        },
        ..MockConfig::default()
    }
}

/// Sends the events at `EX_RATE` a second (a tick a millisecond), round-robin over the
/// shards; calls `halfway` once half are out. Returns their `(shard, seq)`.
async fn generate(mock: &MockGateway, mut halfway: impl FnMut()) -> Vec<(u32, u64)> {
    let (total, per_tick) = (events(), env_or("EX_RATE", 2_000) / 1_000);
    let mut sent = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    for n in 0..total {
        if per_tick > 0 && n % per_tick == 0 {
            tick.tick().await;
        }
        if n == total / 2 {
            halfway();
        }
        let shard = u32::try_from(n % u64::from(SHARDS)).unwrap();
        let seq = mock.dispatch(shard, "EXAMPLE_EVENT", serde_json::json!({ "n": n, "t": micros_now() }));
        sent.push((shard, seq));
    }
    sent
}

async fn baseline() {
    #[derive(Clone)]
    struct Local(std::sync::Arc<std::sync::Mutex<Vec<u64>>>);
    impl EventHandler for Local {
        async fn unknown_event(&self, ctx: Context) {
            #[derive(serde::Deserialize)]
            struct Data {
                t: u64,
            }
            if let Ok(d) = ctx.dispatch().parse::<Data>() {
                self.0.lock().unwrap().push(micros_now().saturating_sub(d.t));
            }
        }
    }
    let mock = MockGateway::start(mock_config()).await.unwrap();
    let config = qqgw_client::Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .allow_insecure(true)
        .build();
    let client = qqgw_tokio::Client::connect(config).await.unwrap();
    let stop = client.shutdown_handle();
    let local = Local(std::sync::Arc::default());
    let handler = local.clone();
    let run = tokio::spawn(async move { client.run(handler).await });
    mock.wait_until(|r| (0..SHARDS).all(|s| r.connected(s)), Duration::from_secs(30)).await.unwrap();
    let started = Instant::now();
    generate(&mock, || {}).await;
    while (local.0.lock().unwrap().len() as u64) < events() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    stop.close();
    let _ = run.await;
    let mut latencies = local.0.lock().unwrap().clone();
    latencies.sort_unstable();
    println!(
        "baseline, one process, no Redis: {} events in {elapsed:.2?} ({:.0} events/s)",
        events(),
        events() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency dispatch → handler: p50 {:.2?}, p99 {:.2?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}

async fn orchestrate(kill: bool) -> bool {
    let server = redis_server::RedisServer::start();
    let mock = MockGateway::start(mock_config()).await.unwrap();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app(&mock.config().app_id))
        .await
        .unwrap();
    let env = vec![
        ("EX_REDIS", server.url()),
        ("EX_APP_ID", mock.config().app_id.clone()),
        ("EX_SECRET", mock.config().secret.clone()),
        ("EX_API_BASE", mock.api_base()),
        ("EX_TOKEN_URL", mock.token_url()),
    ];
    let mut children = Children(Vec::new());
    for (name, owned) in [("gateway-1", "0-2"), ("gateway-2", "2-3"), ("gateway-3", "3-4")] {
        children.spawn(name, &["gateway", owned], &env);
    }
    for name in ["worker-1", "worker-2"] {
        children.spawn(name, &["worker", name], &env);
    }
    println!("3 gateway processes (shards 0-1, 2, 3 of {SHARDS}), 2 workers, redis at {}", server.url());
    mock.wait_until(|r| (0..SHARDS).all(|s| r.connected(s)), Duration::from_secs(30)).await.unwrap();

    let started = Instant::now();
    let mut killed_at = None;
    let resumes_before = mock.record().resumes().len();
    let sent = generate(&mock, || {
        if kill {
            println!("killing gateway-1 (shards 0 and 1) with SIGKILL, mid-stream");
            children.kill("gateway-1");
            killed_at = Some(Instant::now());
        }
    })
    .await;
    let takeover = match killed_at {
        Some(at) => {
            mock.wait_until(
                |r| r.resumes().len() >= resumes_before + 2 && (0..SHARDS).all(|s| r.connected(s)),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
            Some(at.elapsed())
        }
        None => None,
    };
    // Every event sent, handled by a worker: poll the tally.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut conn = redis.connection();
    loop {
        let handled: u64 = conn.hlen(TALLY).await.unwrap();
        if handled >= events() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let tally: std::collections::HashMap<String, u64> = conn.hgetall(TALLY).await.unwrap();
    let mut latencies: Vec<u64> = conn.lrange(LATENCIES, 0, -1).await.unwrap();
    latencies.sort_unstable();
    let handled =
        sent.iter().filter(|(shard, seq)| tally.contains_key(&format!("{shard}:{seq}"))).count() as u64;
    let deliveries: u64 = tally.values().sum();
    let lost = events() - handled;
    println!();
    println!("events generated      {}", events());
    println!("events handled        {handled}");
    println!("handled more than once {}", deliveries - tally.len() as u64);
    println!("lost                  {lost}");
    if let Some(takeover) = takeover {
        println!("takeover (kill → both shards RESUMEd elsewhere) {takeover:.2?} (lease TTL {LEASE_TTL:?})");
    }
    println!(
        "throughput gateway → stream → worker: {:.0} events/s ({} in {elapsed:.2?})",
        events() as f64 / elapsed.as_secs_f64(),
        events()
    );
    println!(
        "latency dispatch → worker handler: p50 {:.2?}, p99 {:.2?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    let record = mock.record();
    println!(
        "IDENTIFYs {}, RESUMEs {}, pacing violations {}",
        record.identifies().len(),
        record.resumes().len(),
        record.pacing_violations.len()
    );
    lost == 0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    match args.first().map(String::as_str) {
        Some("gateway") => {
            exit_with_parent();
            runtime.block_on(gateway(&args[1]));
        }
        Some("worker") => {
            exit_with_parent();
            runtime.block_on(worker(&args[1]));
        }
        Some("--baseline") => runtime.block_on(baseline()),
        other => {
            let ok = runtime.block_on(orchestrate(other != Some("--no-kill")));
            if !ok {
                std::process::exit(1);
            }
        }
    }
}

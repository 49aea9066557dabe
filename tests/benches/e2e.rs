//! End-to-end benchmarks against the loopback mock gateway: throughput and latency into a
//! handler on the tokio and async-std adapters, resident memory of 1,000 idle shards, and
//! recovery times (4009 rotation, zombie detection).
//!
//! Run with `cargo bench -p qqgw-mock --bench e2e`; pass section names (`throughput`,
//! `scale`, `recovery`) after `--` to run only those. Prints tables; see BENCHMARKS.md.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation
)]

use std::future::Future;
use std::io::{BufRead, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use qqgw_client::model::GroupMessage;
use qqgw_client::{Client, Config, Context, EventHandler, Intents, Runtime, ShutdownHandle};
use qqgw_mock::{MockConfig, MockGateway};
use qqgw_proto::{Backoff, SessionStartLimit};
use serde_json::Value;

/// The shared clock of send and receive timestamps (nanoseconds since it).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

// ---- /proc ------------------------------------------------------------------------

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime, in ticks, of a /proc stat line.
fn stat_ticks(stat: &str) -> u64 {
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the line; `rest` starts at field 3.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn process_ticks() -> u64 {
    stat_ticks(&std::fs::read_to_string("/proc/self/stat").unwrap())
}

fn thread_ticks_named(name: &str) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            total += std::fs::read_to_string(task.path().join("stat")).map(|s| stat_ticks(&s)).unwrap_or(0);
        }
    }
    total
}

fn this_thread_ticks() -> u64 {
    stat_ticks(&std::fs::read_to_string("/proc/thread-self/stat").unwrap())
}

/// Resident memory of this process, in bytes (`/proc/self/statm`, 4 KiB pages).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

// ---- helpers ----------------------------------------------------------------------

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fmt_us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1e3)
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn client_config(mock_api: &str, mock_token: &str, app_id: &str, secret: &str) -> qqgw_client::ConfigBuilder {
    Config::builder(app_id.to_owned(), secret.to_owned())
        .api_base(mock_api.to_owned())
        .token_url(mock_token.to_owned())
        // The mock serves plain http:// and ws:// on loopback.
        .allow_insecure(true)
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        .reconnect_jitter(Duration::ZERO)
        .backoff(Backoff { initial: Duration::from_millis(100), max: Duration::from_millis(400) })
}

/// The machine's default timings (jitter, backoff, close handshake): only the endpoints
/// are the mock's.
fn default_config_for(mock: &MockGateway) -> qqgw_client::ConfigBuilder {
    let c = mock.config();
    Config::builder(c.app_id.clone(), c.secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        .allow_insecure(true)
}

fn config_for(mock: &MockGateway) -> qqgw_client::ConfigBuilder {
    let c = mock.config();
    client_config(&mock.api_base(), &mock.token_url(), &c.app_id, &c.secret)
}

/// The data of the GROUP_AT_MESSAGE_CREATE fixture (a realistic ~500-byte event).
fn group_message_data() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/frames/GROUP_AT_MESSAGE_CREATE.json");
    let frame: Value =
        std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_else(
            || serde_json::json!({"d": {"author": {"member_openid": "E76A"}, "group_openid": "CFFD"}}),
        );
    frame["d"].clone()
}

/// A handler that records, for each group @-message, the time from the mock's send
/// (a timestamp in `content`) to the callback, and closes the client after `expect`.
struct Probe {
    expect: usize,
    seen: AtomicUsize,
    latencies: Mutex<Vec<u64>>,
    arrivals: Mutex<Vec<(u64, Instant)>>,
    done_at: Mutex<Option<Instant>>,
    shutdown: OnceLock<ShutdownHandle>,
}

impl Probe {
    fn new(expect: usize) -> Arc<Self> {
        Arc::new(Self {
            expect,
            seen: AtomicUsize::new(0),
            latencies: Mutex::new(Vec::with_capacity(expect.min(1 << 20))),
            arrivals: Mutex::new(Vec::new()),
            done_at: Mutex::new(None),
            shutdown: OnceLock::new(),
        })
    }
}

#[derive(Clone)]
struct Handler(Arc<Probe>);

impl EventHandler for Handler {
    async fn group_at_message_create(&self, _ctx: Context, msg: GroupMessage) {
        let probe = &self.0;
        let now = now_ns();
        if let Some(sent) = msg.content.as_deref().and_then(|c| c.trim().parse::<u64>().ok()) {
            probe.latencies.lock().unwrap().push(now.saturating_sub(sent));
            probe.arrivals.lock().unwrap().push((sent, Instant::now()));
        }
        let seen = probe.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if seen == probe.expect {
            *probe.done_at.lock().unwrap() = Some(Instant::now());
            if let Some(handle) = probe.shutdown.get() {
                handle.close();
            }
        }
    }
}

// ---- throughput -------------------------------------------------------------------

struct Throughput {
    label: String,
    load: String,
    events: usize,
    wall: Duration,
    client_ticks: u64,
    mock_ticks: u64,
    latencies: Vec<u64>,
}

/// Sends `n` group @-messages (at `rate` a second, or as fast as the mock takes them)
/// into a client on runtime `R` and measures until the handler has seen the last.
async fn throughput<R: Runtime + Default>(label: &str, n: usize, rate: Option<f64>) -> Throughput {
    throughput_with::<R>(label, n, rate, Variant::Default).await
}

/// What a throughput row changes from the default config.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Receipts on, `handler_concurrency` 32, no store.
    Default,
    /// Every checkpoint saved to a [`qqgw_client::FileStore`].
    FileStore,
    /// Receipts off and one callback at a time: what the guarantees cost is the
    /// difference to `Default`.
    Plain,
}

/// The same, with a variant of the config.
async fn throughput_with<R: Runtime + Default>(
    label: &str,
    n: usize,
    rate: Option<f64>,
    variant: Variant,
) -> Throughput {
    let store = variant == Variant::FileStore;
    let mock = Arc::new(MockGateway::start_in_thread(MockConfig::default()).unwrap());
    let mut config = config_for(&mock);
    if variant == Variant::Plain {
        config = config.receipts(false).handler_concurrency(1);
    }
    let file = std::env::temp_dir().join(format!("qqgw-bench-{}.json", std::process::id()));
    if store {
        let _ = std::fs::remove_file(&file);
        config = config.session_store(qqgw_client::FileStore::new(&file));
    }
    let client = Client::<R>::connect(config.build()).await.unwrap();
    mock.wait_until(|r| r.connected(0), Duration::from_secs(10)).await.unwrap();
    let probe = Probe::new(n);
    probe.shutdown.set(client.shutdown_handle()).ok().unwrap();
    let template = group_message_data();

    let (process0, mock0) = (process_ticks(), thread_ticks_named("qqgw-mock"));
    let start = Instant::now();
    let producer = {
        let mock = Arc::clone(&mock);
        std::thread::Builder::new().name("bench-producer".into()).spawn(move || {
            let ticks = this_thread_ticks();
            let start = Instant::now();
            for i in 0..n {
                if let Some(rate) = rate {
                    if i % 8 == 0 {
                        let due = start + Duration::from_secs_f64(i as f64 / rate);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                }
                let mut d = template.clone();
                d["content"] = Value::String(now_ns().to_string());
                mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", d);
            }
            this_thread_ticks() - ticks
        })
    };
    let producer = producer.unwrap();
    client.run(Handler(Arc::clone(&probe))).await.unwrap();
    let end = probe.done_at.lock().unwrap().unwrap_or_else(Instant::now);
    let producer_ticks = producer.join().unwrap();
    let (process1, mock1) = (process_ticks(), thread_ticks_named("qqgw-mock"));
    let mock_ticks = mock1 - mock0;
    let mut latencies = std::mem::take(&mut *probe.latencies.lock().unwrap());
    latencies.sort_unstable();
    assert_eq!(probe.seen.load(Ordering::Relaxed), n, "every event reached the handler");
    Throughput {
        label: label.into(),
        load: rate.map_or_else(|| "blast".to_owned(), |r| format!("paced {r:.0}/s")),
        events: n,
        wall: end - start,
        client_ticks: (process1 - process0).saturating_sub(mock_ticks + producer_ticks),
        mock_ticks: mock_ticks + producer_ticks,
        latencies,
    }
}

fn print_throughput(rows: &[Throughput]) {
    println!(
        "| adapter | load | events | events/s (wall) | client CPU/event | client events/s per CPU-second | mock+producer CPU/event | latency p50 | p99 | max |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let n = r.events as f64;
        let client_cpu = r.client_ticks as f64 / TICKS_PER_SEC;
        let mock_cpu = r.mock_ticks as f64 / TICKS_PER_SEC;
        println!(
            "| {} | {} | {} | {:.0} | {:.2} µs | {:.0} | {:.2} µs | {} | {} | {} |",
            r.label,
            r.load,
            r.events,
            n / r.wall.as_secs_f64(),
            client_cpu / n * 1e6,
            n / client_cpu,
            mock_cpu / n * 1e6,
            fmt_us(percentile(&r.latencies, 0.5)),
            fmt_us(percentile(&r.latencies, 0.99)),
            fmt_us(r.latencies.last().copied().unwrap_or(0)),
        );
    }
}

fn tokio_block_on<F: Future>(f: F) -> F::Output {
    // One thread: the client's shards, the handler and the IO all run on it.
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn async_std_block_on<F: Future>(f: F) -> F::Output {
    // One executor thread for the client's tasks (plus async-io's reactor thread).
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        async_global_executor::init_with_config(
            async_global_executor::GlobalExecutorConfig::default()
                .with_min_threads(1)
                .with_max_threads(1)
                .with_thread_name_fn(|| "client-exec".into()),
        );
    });
    async_std::task::block_on(f)
}

fn section_throughput(n: usize, paced: f64) {
    println!("## throughput: {n} GROUP_AT_MESSAGE_CREATE events (~750-byte frames) into a handler");
    println!();
    let paced_n = (paced * 2.0) as usize;
    // The file store's row and the rows without receipts sit between rows of the
    // default config, so that the noise of the run shows and falls on all alike.
    let plain = "receipts and concurrency off";
    let rows = vec![
        tokio_block_on(throughput::<qqgw_tokio::Tokio>("tokio (current_thread)", n, None)),
        tokio_block_on(throughput_with::<qqgw_tokio::Tokio>(
            &format!("tokio (current_thread), {plain}"),
            n,
            None,
            Variant::Plain,
        )),
        tokio_block_on(throughput_with::<qqgw_tokio::Tokio>(
            "tokio (current_thread), file store",
            n,
            None,
            Variant::FileStore,
        )),
        tokio_block_on(throughput::<qqgw_tokio::Tokio>("tokio (current_thread), again", n, None)),
        async_std_block_on(throughput::<qqgw_async_std::AsyncIo>("async-std (1 executor thread)", n, None)),
        async_std_block_on(throughput_with::<qqgw_async_std::AsyncIo>(
            &format!("async-std (1 executor thread), {plain}"),
            n,
            None,
            Variant::Plain,
        )),
        async_std_block_on(throughput::<qqgw_async_std::AsyncIo>(
            "async-std (1 executor thread), again",
            n,
            None,
        )),
        tokio_block_on(throughput::<qqgw_tokio::Tokio>("tokio (current_thread)", paced_n, Some(paced))),
        async_std_block_on(throughput::<qqgw_async_std::AsyncIo>(
            "async-std (1 executor thread)",
            paced_n,
            Some(paced),
        )),
    ];
    print_throughput(&rows);
    println!();
    let per_event = |i: usize| rows[i].client_ticks as f64 / rows[i].events as f64;
    let mean = |a: usize, b: usize| f64::midpoint(per_event(a), per_event(b));
    println!("client CPU per event, ratios within this run:");
    println!();
    println!("- tokio, default ÷ {plain}: {:.2}", mean(0, 3) / per_event(1));
    println!("- tokio, file store ÷ no store: {:.2}", per_event(2) / mean(0, 3));
    println!("- async-std, default ÷ {plain}: {:.2}", mean(4, 6) / per_event(5));
    println!();
}

// ---- scale ------------------------------------------------------------------------

/// The child process's side: a mock with `shards` shards, its addresses on stdout, until
/// stdin closes.
fn mock_server(shards: u32) {
    let config = MockConfig {
        shards,
        session_start_limit: SessionStartLimit {
            total: shards,
            remaining: shards,
            reset_after: 86_400_000,
            max_concurrency: shards,
        },
        ..MockConfig::default()
    };
    let mock = MockGateway::start_in_thread(config).unwrap();
    let c = mock.config();
    println!("{} {} {} {}", mock.api_base(), mock.token_url(), c.app_id, c.secret);
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// The soft limit on open files (`Max open files` of /proc/self/limits).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn section_scale(shards: u32) {
    println!("## scale: {shards} idle shards against a mock in another process");
    println!();
    if let Some(limit) = open_files_limit().filter(|&l| l < u64::from(shards) + 64) {
        println!(
            "skipped: {shards} shards need more open files than the limit of {limit}; run `ulimit -n 4096` first"
        );
        println!();
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["mock-server", &shards.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let parts: Vec<&str> = line.split_whitespace().collect();
    let config = client_config(parts[0], parts[1], parts[2], parts[3]).build();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let before = rss_bytes();
    let start = Instant::now();
    let (client, ready_after) = rt.block_on(async {
        let client = Client::<qqgw_tokio::Tokio>::connect(config).await.unwrap();
        while !client.shards().iter().all(|s| s.is_ready()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(start.elapsed() < Duration::from_secs(120), "shards not ready in time");
        }
        let ready_after = start.elapsed();
        // Let the first heartbeats go by too (the interval is the default 45 s: none yet).
        tokio::time::sleep(Duration::from_secs(1)).await;
        (client, ready_after)
    });
    let after = rss_bytes();
    let per_shard = (after.saturating_sub(before)) as f64 / f64::from(shards);
    println!("| shards | ready after | RSS before | RSS with all READY | RSS per shard |");
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {shards} | {:.2} s | {:.1} MiB | {:.1} MiB | {:.1} KiB |",
        ready_after.as_secs_f64(),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per_shard / 1024.0
    );
    println!();
    rt.block_on(async { client.shutdown().await.ok() });
    drop(rt);
    drop(child.stdin.take());
    let _ = child.wait();
}

// ---- recovery ---------------------------------------------------------------------

fn section_recovery(rounds: usize) {
    println!("## recovery ({rounds} rounds each, tokio adapter, default config)");
    println!();
    tokio_block_on(async {
        // 4009: close, then an event sent while the client is away; time to the handler.
        let mock = MockGateway::start_in_thread(MockConfig::default()).unwrap();
        let client = Client::<qqgw_tokio::Tokio>::connect(default_config_for(&mock).build()).await.unwrap();
        mock.wait_until(|r| r.connected(0), Duration::from_secs(10)).await.unwrap();
        let probe = Probe::new(usize::MAX);
        let handle = client.shutdown_handle();
        let run = tokio::spawn(client.run(Handler(Arc::clone(&probe))));
        let data = group_message_data();
        let mut times = Vec::new();
        for round in 0..rounds {
            let resumes = mock.record().resumes().len();
            let start = Instant::now();
            mock.close(0, 4009);
            let mut d = data.clone();
            let sent = now_ns();
            d["content"] = Value::String(sent.to_string());
            mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", d);
            let arrived = loop {
                let found = probe.arrivals.lock().unwrap().iter().find(|(s, _)| *s == sent).map(|a| a.1);
                if let Some(at) = found {
                    break at;
                }
                assert!(start.elapsed() < Duration::from_secs(10), "round {round}: the replay never came");
                tokio::time::sleep(Duration::from_micros(200)).await;
            };
            times.push((arrived - start).as_secs_f64());
            mock.wait_until(|r| r.resumes().len() > resumes && r.connected(0), Duration::from_secs(10))
                .await
                .unwrap();
            // Past the flap window: each rotation is an isolated fault, as QQ's are.
            tokio::time::sleep(qqgw_proto::FLAP_WINDOW + Duration::from_millis(100)).await;
        }
        handle.close();
        run.await.unwrap().unwrap();
        times.sort_by(f64::total_cmp);
        let max = times.last().copied().unwrap_or(0.0);
        println!("| scenario | median | max |");
        println!("|---|---:|---:|");
        println!(
            "| 4009 close → first replayed event in the handler | {} | {} |",
            fmt_ms(Duration::from_secs_f64(median(&mut times))),
            fmt_ms(Duration::from_secs_f64(max))
        );
    });
    for interval in [Duration::from_millis(200), Duration::from_secs(1)] {
        tokio_block_on(zombie(interval, rounds.min(5)));
    }
    println!();
}

/// Turns the connection into a silent zombie (no ACKs, no close reply, TCP left open)
/// and times until the client has replaced it: from the first unacknowledged
/// heartbeat, and from the moment the peer went silent.
async fn zombie(interval: Duration, rounds: usize) {
    let mock =
        MockGateway::start_in_thread(MockConfig { heartbeat_interval: interval, ..MockConfig::default() })
            .unwrap();
    let client = Client::<qqgw_tokio::Tokio>::connect(default_config_for(&mock).build()).await.unwrap();
    mock.wait_until(|r| r.connected(0), Duration::from_secs(10)).await.unwrap();
    let (mut from_beat, mut from_withhold, mut to_close) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        // A connection that has beaten once, then silence from an arbitrary phase of the
        // heartbeat cycle.
        let healthy = |r: &qqgw_mock::Record| {
            let opened = r.connections.last().map(|c| c.opened_at);
            r.heartbeats_of(0).any(|h| opened.is_some_and(|o| h.0 > o))
        };
        mock.wait_until(healthy, interval * 3).await.unwrap();
        tokio::time::sleep(interval.mul_f64(0.37)).await;
        let conns = mock.record().connections.len();
        let start = std::time::Instant::now();
        mock.zombie(0);
        let record = mock
            .wait_until(|r| r.connections.len() > conns, interval * 4 + Duration::from_secs(5))
            .await
            .unwrap();
        let opened = record.connections.last().unwrap().opened_at;
        let first_unacked = record.heartbeats_of(0).map(|h| h.0).find(|&t| t >= start).unwrap();
        if let Some(closed) = record.connections.get(conns - 1).and_then(|c| c.closed_at) {
            to_close.push((closed - first_unacked).as_secs_f64());
        }
        from_beat.push((opened - first_unacked).as_secs_f64());
        from_withhold.push((opened - start).as_secs_f64());
        mock.wait_until(|r| r.connected(0), Duration::from_secs(10)).await.unwrap();
    }
    client.shutdown().await.ok();
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!(
        "| zombie at {} ms heartbeat: first unACKed heartbeat → zombie socket dropped | {} | {} |",
        interval.as_millis(),
        fmt_ms(Duration::from_secs_f64(median(&mut to_close.clone()))),
        fmt_ms(Duration::from_secs_f64(max(&to_close)))
    );
    println!(
        "| zombie at {} ms heartbeat: first unACKed heartbeat → new connection | {} | {} |",
        interval.as_millis(),
        fmt_ms(Duration::from_secs_f64(median(&mut from_beat.clone()))),
        fmt_ms(Duration::from_secs_f64(max(&from_beat)))
    );
    println!(
        "| zombie at {} ms heartbeat: peer goes silent → new connection | {} | {} |",
        interval.as_millis(),
        fmt_ms(Duration::from_secs_f64(median(&mut from_withhold.clone()))),
        fmt_ms(Duration::from_secs_f64(max(&from_withhold)))
    );
}

// ---- main -------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("mock-server") {
        return mock_server(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000));
    }
    let _ = epoch();
    let sections: Vec<&str> = args.iter().map(String::as_str).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| sections.is_empty() || sections.contains(&name);
    let env =
        |name: &str, default: usize| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!("e2e: {cpus} CPUs visible; CPU times from /proc at 10 ms resolution");
    println!();
    // Scale first, in a process that has not yet held the other sections' buffers.
    if wanted("scale") {
        section_scale(env("QQGW_BENCH_SHARDS", 1000) as u32);
    }
    if wanted("throughput") {
        section_throughput(env("QQGW_BENCH_EVENTS", 200_000), env("QQGW_BENCH_PACED_RATE", 20_000) as f64);
    }
    if wanted("recovery") {
        section_recovery(env("QQGW_BENCH_ROUNDS", 20));
    }
}

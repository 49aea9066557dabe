//! The fault suite: real `redis-server` processes and gateway processes, faults injected
//! while events flow, and the verdict that every event reached a worker or lies inside a
//! reported gap. Each fault runs `QQGW_REDIS_FAULT_RUNS` times (a few by default); every
//! test prints a `fault-suite |` line with its figures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::children::{self, Children, ROLE};
use common::handler::Tally;
use common::ledger::{self, Ledger};
use common::redis_server::RedisServer;
use futures_util::StreamExt;
use qqgw_mock::{MockConfig, MockGateway};
use qqgw_proto::ShardId;
use qqgw_redis::{Cluster, ClusterConfig, Keys, Redis, Worker, WorkerConfig};

/// A gateway process: runs `QQGW_OWNED` (`a-b`) of `QQGW_TOTAL` shards, leases of
/// `QQGW_LEASE_MS`, with takeover if `QQGW_TAKEOVER` is set; until killed or orphaned.
#[test]
fn child_gateway() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    children::exit_with_parent();
    if std::env::var_os("QQGW_REDIS_CHILD_LOGS").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter("info,qqgw_redis=debug")
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let total: u32 = children::var("QQGW_TOTAL").parse().unwrap();
        let owned = children::var("QQGW_OWNED");
        let (a, b) = owned.split_once('-').unwrap();
        let redis = Redis::connect(
            &qqgw_tokio::Tokio,
            &children::var("QQGW_REDIS"),
            Keys::for_app(&children::var("QQGW_APP_ID")),
        )
        .await
        .unwrap();
        let bot = qqgw_client::Config::builder(children::var("QQGW_APP_ID"), children::var("QQGW_SECRET"))
            .api_base(children::var("QQGW_API_BASE"))
            .token_url(children::var("QQGW_TOKEN_URL"))
            .allow_insecure(true)
            .reconnect_jitter(Duration::from_millis(10));
        let lease = Duration::from_millis(children::var("QQGW_LEASE_MS").parse().unwrap());
        let mut config = ClusterConfig::new(total, a.parse().unwrap()..b.parse().unwrap()).lease_ttl(lease);
        if let Ok(n) = std::env::var("QQGW_MAX_CONCURRENCY") {
            config.session_start_limit.max_concurrency = n.parse().unwrap();
        }
        if std::env::var_os("QQGW_TAKEOVER").is_some() {
            config = config.with_takeover();
            config.takeover_after = Some(Duration::ZERO);
        }
        config.poll = Duration::from_millis(50);
        let _cluster = Cluster::start(qqgw_tokio::Tokio, redis, bot, config);
        std::future::pending::<()>().await;
    });
}

fn gateway_env(
    mock: &MockGateway,
    redis_url: &str,
    owned: &str,
    lease: Duration,
) -> Vec<(&'static str, String)> {
    vec![
        ("QQGW_TOTAL", mock.config().shards.to_string()),
        ("QQGW_OWNED", owned.to_owned()),
        ("QQGW_REDIS", redis_url.to_owned()),
        ("QQGW_APP_ID", mock.config().app_id.clone()),
        ("QQGW_SECRET", mock.config().secret.clone()),
        ("QQGW_API_BASE", mock.api_base()),
        ("QQGW_TOKEN_URL", mock.token_url()),
        ("QQGW_LEASE_MS", lease.as_millis().to_string()),
    ]
}

async fn mock(shards: u32) -> MockGateway {
    MockGateway::start(MockConfig {
        heartbeat_interval: Duration::from_millis(300),
        shards,
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// The verdict, with the gaps read from the streams.
fn judge(
    ledger: &Ledger,
    tally: &Tally,
    conn: &mut redis::Connection,
    keys: &Keys,
    shards: u32,
) -> ledger::Verdict {
    let gaps = ledger::stream_gaps(conn, keys, shards);
    ledger.verdict(tally, &gaps)
}

/// Polls `check` every 10 ms until it yields, for at most `limit`.
async fn poll<T>(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A worker of every shard of `mock` feeding `tally`, until stopped or dropped.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<qqgw_redis::WorkerStats>,
}

impl Running {
    async fn stop(self) {
        drop(self.stop);
        self.task.await.unwrap();
    }
}

async fn worker(url: &str, mock: &MockGateway, tally: &Tally) -> Running {
    let redis = Redis::connect(&qqgw_tokio::Tokio, url, Keys::for_app(&mock.config().app_id)).await.unwrap();
    let total = mock.config().shards;
    let config = WorkerConfig {
        consumer: "faults".into(),
        block: Duration::from_millis(100),
        claim_idle: Duration::from_millis(500),
        ..WorkerConfig::default()
    };
    let worker =
        Worker::new(redis, (0..total).filter_map(|id| ShardId::new(id, total)), config).await.unwrap();
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handler = tally.clone();
    let task =
        tokio::spawn(
            async move { worker.run(&qqgw_tokio::Tokio, &handler, async { drop(stop_rx.await) }).await },
        );
    Running { stop, task }
}

/// The current session of `shard`, once the mock has one with an open connection.
async fn session_of(mock: &MockGateway, shard: u32, limit: Duration) -> String {
    poll("a connected session", limit, async || mock.session_id(shard).filter(|_| mock.connected(shard)))
        .await
}

/// Events sent right before QQ drops the session.
const BURST: usize = 300;

/// The session hash's deletion races nothing: the process is killed the moment its
/// shard's session hash is deleted (a keyspace notification), and the lost session is
/// still reported, every time — the gap and the deletion are one script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_as_its_session_hash_is_deleted_the_lost_session_is_still_reported() {
    let runs = ledger::runs(3);
    let server = RedisServer::start();
    let mock = mock(1).await;
    let url = server.url();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Kgx")
        .query(&mut server.sync())
        .unwrap();
    let keys = Keys::for_app(&mock.config().app_id);
    let mut gaps_conn = server.sync();
    let shard = ShardId::ONE;
    let tally = Tally::default();
    let _worker = worker(&url, &mock, &tally).await;
    let lease = Duration::from_millis(1000);
    let mut processes = Children::new();
    let mut ledger = Ledger::default();
    processes.spawn("gateway-0", "child_gateway", &gateway_env(&mock, &url, "0-1", lease));
    for run in 0..runs {
        let session = session_of(&mock, 0, Duration::from_secs(30)).await;
        // Watch the session hash, then make QQ drop the session right after a burst: the
        // gap waits behind the burst's events while the session is gone already.
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.subscribe(format!("__keyspace@0__:{}", keys.session(shard))).await.unwrap();
        for _ in 0..BURST {
            ledger.dispatch(&mock, 0);
        }
        assert_eq!(mock.invalid_session(0, false), 1);
        let mut messages = pubsub.on_message();
        let deleted = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(message) = messages.next().await {
                if message.get_payload::<String>().ok().as_deref() == Some("del") {
                    return;
                }
            }
        })
        .await;
        assert!(deleted.is_ok(), "run {run}: the session hash was never deleted");
        processes.kill(&format!("gateway-{run}"));
        drop(messages);
        // The slot the killed process may have been granted would hold its bucket for the
        // slot timeout: give it back, as that timeout would.
        clear_granted_slots(&server, &keys);

        processes.spawn(
            &format!("gateway-{}", run + 1),
            "child_gateway",
            &gateway_env(&mock, &url, "0-1", lease),
        );
        poll("the lost session reported", Duration::from_secs(20), async || {
            tally.gaps().iter().any(|(_, lost)| lost.id == session).then_some(())
        })
        .await;
    }
    session_of(&mock, 0, Duration::from_secs(30)).await;
    for _ in 0..5 {
        ledger.dispatch(&mock, 0);
    }
    poll("the last events handled", Duration::from_secs(10), async || {
        (judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards).handled == ledger.sent().len())
            .then_some(())
    })
    .await;
    let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
    ledger::report("session hash deleted, process killed", runs, &verdict);
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
    assert!(verdict.gaps >= runs, "a gap every time: {verdict:?}");
}

/// Takes the granted-but-unsent IDENTIFY slots out of every pacer bucket.
fn clear_granted_slots(server: &RedisServer, keys: &Keys) {
    let mut conn = server.sync();
    for bucket in 0..4 {
        let key = keys.pacer_bucket(bucket);
        let members: Vec<String> = redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query(&mut conn).unwrap();
        for member in members.iter().filter(|m| m.starts_with("g:")) {
            let _: () = redis::cmd("ZREM").arg(&key).arg(member).query(&mut conn).unwrap();
        }
    }
}

/// The session hash vanishes (expired, evicted, deleted) while the shard is down: the
/// next start reports the session's events after the last one in the stream as a gap
/// (`unknown`) before it IDENTIFYs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_hash_gone_while_the_shard_was_down_is_reported_at_the_next_start() {
    let server = RedisServer::start();
    let mock = mock(1).await;
    let url = server.url();
    let keys = Keys::for_app(&mock.config().app_id);
    let mut gaps_conn = server.sync();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &url, Keys::for_app(&mock.config().app_id)).await.unwrap();
    let tally = Tally::default();
    let _worker = worker(&url, &mock, &tally).await;
    let bot = qqgw_client::Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .allow_insecure(true);
    let mut ledger = Ledger::default();
    let first = Cluster::start(qqgw_tokio::Tokio, redis.clone(), bot.clone(), ClusterConfig::new(1, 0..1));
    let session = session_of(&mock, 0, Duration::from_secs(10)).await;
    let mut last = 0;
    for _ in 0..10 {
        last = ledger.dispatch(&mock, 0).unwrap();
    }
    poll("the events handled", Duration::from_secs(10), async || {
        (tally.distinct() == ledger.sent().len()).then_some(())
    })
    .await;
    first.shutdown().await;
    // Events QQ sends meanwhile stay in the session, for a RESUME that will never come.
    for _ in 0..5 {
        ledger.dispatch(&mock, 0);
    }
    let _: () = redis::cmd("DEL").arg(redis.keys().session(ShardId::ONE)).query(&mut server.sync()).unwrap();

    let second = Cluster::start(qqgw_tokio::Tokio, redis.clone(), bot, ClusterConfig::new(1, 0..1));
    let lost = poll("the unknown gap", Duration::from_secs(20), async || {
        tally.gaps().into_iter().find(|(_, lost)| lost.id == session)
    })
    .await;
    assert_eq!(lost.1.seq, last, "the gap starts after the last event in the stream");
    let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
    ledger::report("session hash gone while down", 1, &verdict);
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
    assert_eq!(verdict.covered, 5, "exactly the events sent while down: {verdict:?}");
    second.shutdown().await;
}

/// A process dies between its IDENTIFY and writing READY's entry (cut off from Redis, or
/// killed): the session QQ started is unknown to Redis. The slot's grant was recorded for
/// the shard, so the next start reports it (a gap without a session), and the events of
/// that session are inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_ready_never_reached_redis_is_reported_at_the_next_start() {
    let server = RedisServer::start();
    let mock = mock(1).await;
    let url = server.url();
    let keys = Keys::for_app(&mock.config().app_id);
    let mut gaps_conn = server.sync();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &url, keys.clone()).await.unwrap();
    let tally = Tally::default();
    let _worker = worker(&url, &mock, &tally).await;
    let shard = ShardId::ONE;
    let first = Cluster::start(qqgw_tokio::Tokio, redis.clone(), bot(&mock), ClusterConfig::new(1, 0..1));
    let session = session_of(&mock, 0, Duration::from_secs(10)).await;
    poll("READY in the stream, the grant's record gone with it", Duration::from_secs(10), async || {
        let recorded: bool = redis::cmd("EXISTS").arg(keys.identifying(shard)).query(&mut gaps_conn).unwrap();
        (checkpoint(&mut gaps_conn, &keys, shard).is_some() && !recorded).then_some(())
    })
    .await;
    first.shutdown().await;
    // As if READY's entry had never been written: the session's entries and checkpoint
    // gone, the grant still recorded. QQ sends on in the session meanwhile.
    let mut rollback = redis::pipe();
    for row in rows(&mut gaps_conn, &keys.stream(shard)).iter().filter(|r| r.session == session) {
        rollback.cmd("XDEL").arg(keys.stream(shard)).arg(&row.id).ignore();
    }
    rollback.del(keys.session(shard)).ignore().set(keys.identifying(shard), "1").ignore();
    let _: () = rollback.query(&mut gaps_conn).unwrap();
    let mut ledger = Ledger::default();
    for _ in 0..5 {
        ledger.dispatch(&mock, 0);
    }

    let second = Cluster::start(qqgw_tokio::Tokio, redis, bot(&mock), ClusterConfig::new(1, 0..1));
    poll("the gap without a session", Duration::from_secs(20), async || {
        tally.gaps().into_iter().find(|(_, lost)| lost.id.is_empty())
    })
    .await;
    let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, 1);
    ledger::report("READY never written", 1, &verdict);
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
    assert_eq!(verdict.covered, 5, "{verdict:?}");
    second.shutdown().await;
}

fn bot(mock: &MockGateway) -> qqgw_client::ConfigBuilder {
    qqgw_client::Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .allow_insecure(true)
        .reconnect_jitter(Duration::from_millis(10))
}

/// One entry of a shard's stream, as the tests look at it.
#[derive(Debug)]
struct Row {
    id: String,
    session: String,
    seq: Option<u64>,
}

fn rows(conn: &mut redis::Connection, key: &str) -> Vec<Row> {
    let reply: redis::streams::StreamRangeReply =
        redis::cmd("XRANGE").arg(key).arg("-").arg("+").query(conn).unwrap();
    reply
        .ids
        .iter()
        .map(|entry| Row {
            id: entry.id.clone(),
            session: entry.get::<String>(qqgw_redis::FIELD_SESSION).unwrap_or_default(),
            seq: entry
                .get::<String>(qqgw_redis::FIELD_EVENT)
                .and_then(|line| serde_json::from_str::<serde_json::Value>(&line).ok()?.get("seq")?.as_u64()),
        })
        .collect()
}

/// The checkpoint Redis holds for `shard`, as (session, seq).
fn checkpoint(conn: &mut redis::Connection, keys: &Keys, shard: ShardId) -> Option<(String, u64)> {
    let (id, seq): (Option<String>, Option<u64>) =
        redis::cmd("HMGET").arg(keys.session(shard)).arg("id").arg("seq").query(conn).unwrap();
    Some((id?, seq?))
}

/// How Redis loses its latest writes, in the emulated rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rollback {
    /// The last events and the checkpoint go back: QQ replays.
    Replayed,
    /// The same, and QQ refuses the RESUME: a `session_lost` gap.
    Refused,
    /// The whole session goes (its READY, its events, its checkpoint): a `rolled_back` gap.
    SessionGone,
}

/// Redis loses its latest writes — emulated, deterministically: the shard's last events
/// are deleted from the stream and its checkpoint set back (or the whole session deleted)
/// while the gateway runs on, sure of what it wrote. Its next write finds the checkpoint
/// behind: it RESUMEs from what Redis kept and QQ replays (or the loss is a reported gap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_losing_its_latest_writes_is_detected_and_replayed_or_reported_emulated() {
    let runs = ledger::runs(3);
    let server = RedisServer::start();
    let mock = mock(1).await;
    let url = server.url();
    let keys = Keys::for_app(&mock.config().app_id);
    let mut gaps_conn = server.sync();
    let shard = ShardId::ONE;
    let redis = Redis::connect(&qqgw_tokio::Tokio, &url, keys.clone()).await.unwrap();
    let tally = Tally::default();
    let cluster = Cluster::start(qqgw_tokio::Tokio, redis, bot(&mock), ClusterConfig::new(1, 0..1));
    let mut ledger = Ledger::default();
    let mut conn = server.sync();
    let mut gaps_expected = 0;
    for run in 0..runs {
        let kind = [Rollback::Replayed, Rollback::Refused, Rollback::SessionGone][run % 3];
        let session = session_of(&mock, 0, Duration::from_secs(30)).await;
        // No worker reads the events that are about to be lost: only a replay can bring
        // them (or a gap report them).
        let mut last = 0;
        for _ in 0..20 {
            last = ledger.dispatch(&mock, 0).unwrap();
        }
        poll("the checkpoint at the last event", Duration::from_secs(10), async || {
            (checkpoint(&mut conn, &keys, shard) == Some((session.clone(), last))).then_some(())
        })
        .await;

        // The rollback, in one transaction while the gateway is idle.
        let kept = last - 5 - (run as u64 % 5);
        let stream = rows(&mut conn, &keys.stream(shard));
        let mut rollback = redis::pipe();
        rollback.atomic();
        for row in stream.iter().filter(|r| r.session == session) {
            let lost = match kind {
                Rollback::SessionGone => true,
                _ => row.seq.is_some_and(|seq| seq > kept),
            };
            if lost {
                rollback.cmd("XDEL").arg(keys.stream(shard)).arg(&row.id).ignore();
            }
        }
        match kind {
            Rollback::SessionGone => rollback.del(keys.session(shard)).ignore(),
            _ => rollback.hset(keys.session(shard), "seq", kept).ignore(),
        };
        let _: () = rollback.query(&mut conn).unwrap();
        if kind == Rollback::Refused {
            mock.refuse_resumes(0, 1);
        }
        let running = worker(&url, &mock, &tally).await;

        // QQ goes on: the gateway's next write finds the checkpoint behind.
        for _ in 0..5 {
            ledger.dispatch(&mock, 0);
        }
        let expected_after = if kind == Rollback::SessionGone { 0 } else { kept };
        if kind != Rollback::Replayed {
            gaps_expected += 1;
            let gap = poll("the gap", Duration::from_secs(20), async || {
                tally.gaps().into_iter().find(|(_, lost)| lost.id == session)
            })
            .await;
            assert_eq!(
                gap.1.seq, expected_after,
                "run {run} ({kind:?}): the gap starts where Redis's copy ends"
            );
        }
        session_of(&mock, 0, Duration::from_secs(30)).await;
        for _ in 0..5 {
            ledger.dispatch(&mock, 0);
        }
        poll("every event handled or in a gap", Duration::from_secs(30), async || {
            let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
            (verdict.lost.is_empty()).then_some(())
        })
        .await;
        running.stop().await;
    }
    let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
    ledger::report("rollback, emulated", runs, &verdict);
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
    // A gap for each session QQ could not replay; besides, at most jumps over a single
    // sequence number: a RESUMED's (QQ numbers it, and never replays it).
    let gaps = ledger::stream_gaps(&mut gaps_conn, &keys, 1).gaps;
    let ends = gaps.iter().filter(|(_, gap)| gap.ends_session()).count();
    assert_eq!(ends, gaps_expected, "{gaps:?}");
    assert!(gaps.iter().all(|(_, gap)| gap.ends_session() || gap.next == Some(gap.after + 2)), "{gaps:?}");
    cluster.shutdown().await;
}

/// Events still being published when Redis dies.
const IN_FLIGHT: usize = 200;

/// `kill -9` of a redis-server with `appendfsync everysec` right after a burst, and a
/// restart from its append-only file — on odd runs with the file's tail cut off too, as
/// an operating system crash loses what was not yet synced. Whatever Redis lost, the
/// gateway finds its checkpoint behind, and QQ replays it (or the loss is reported).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_with_appendfsync_everysec_loses_no_event_silently() {
    let runs = ledger::runs(3);
    let mut server = RedisServer::start_with(common::redis_server::Persistence::AofEverySec, &[]);
    let mock = mock(1).await;
    let url = server.url();
    let keys = Keys::for_app(&mock.config().app_id);
    let mut gaps_conn = server.sync();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &url, keys.clone()).await.unwrap();
    let tally = Tally::default();
    let _worker = worker(&url, &mock, &tally).await;
    let cluster = Cluster::start(qqgw_tokio::Tokio, redis, bot(&mock), ClusterConfig::new(1, 0..1));
    let mut ledger = Ledger::default();
    let mut rolled_back = 0;
    for run in 0..runs {
        session_of(&mock, 0, Duration::from_secs(30)).await;
        let mut first = None;
        for _ in 0..IN_FLIGHT {
            first = first.or(ledger.dispatch(&mock, 0));
        }
        // Killed mid-burst: once some of it is written.
        let first = first.unwrap();
        let mut conn = server.sync();
        poll("part of the burst written", Duration::from_secs(10), async || {
            checkpoint(&mut conn, &keys, ShardId::ONE).is_some_and(|(_, seq)| seq >= first + 20).then_some(())
        })
        .await;
        let resumes = mock.record().resumes().len();
        server.kill();
        if run % 2 == 1 {
            if let Some(tail) = server.aof_tail() {
                let len = std::fs::metadata(&tail).unwrap().len();
                let cut = (len / 2).min(20_000 + 10_000 * run as u64);
                std::fs::OpenOptions::new().write(true).open(&tail).unwrap().set_len(len - cut).unwrap();
            }
        }
        server.start_again();
        gaps_conn = server.sync();
        // QQ goes on meanwhile.
        for _ in 0..10 {
            ledger.dispatch(&mock, 0);
        }
        poll("every event handled or in a gap", Duration::from_secs(30), async || {
            judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards).lost.is_empty().then_some(())
        })
        .await;
        // A rollback found makes the gateway RESUME from what Redis kept.
        if mock.record().resumes().len() > resumes {
            rolled_back += 1;
        }
    }
    let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
    ledger::report("kill -9, appendfsync everysec", runs, &verdict);
    println!(
        "fault-suite | kill -9, appendfsync everysec | runs where redis came back behind (the gateway RESUMEd): {rolled_back}"
    );
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
    cluster.shutdown().await;
}

/// The primary dies mid-stream and a replica that lagged (its replication link silently
/// stopped forwarding while the last events were written) is promoted (`REPLICAOF NO
/// ONE`); gateways and workers are pointed at it (a proxy, as a service address would
/// be). The replica lacks the last writes: the gateway finds its checkpoint behind and QQ
/// replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_promoted_after_the_primary_dies_loses_no_event_silently() {
    let runs = ledger::runs(3);
    let mut primary = RedisServer::start();
    let proxy = common::proxy::Proxy::start(primary.addr()).await;
    let mock = mock(1).await;
    let keys = Keys::for_app(&mock.config().app_id);
    let mut gaps_conn = primary.sync();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &proxy.url(), keys.clone()).await.unwrap();
    let tally = Tally::default();
    let _worker = worker(&proxy.url(), &mock, &tally).await;
    let cluster = Cluster::start(qqgw_tokio::Tokio, redis, bot(&mock), ClusterConfig::new(1, 0..1));
    let mut ledger = Ledger::default();
    for run in 0..runs {
        session_of(&mock, 0, Duration::from_secs(30)).await;
        let link = common::proxy::Proxy::start(primary.addr()).await;
        let replica = RedisServer::replica_of(link.addr());
        for _ in 0..20 {
            ledger.dispatch(&mock, 0);
        }
        poll("the events handled", Duration::from_secs(10), async || {
            (judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards).handled
                == ledger.sent().len())
            .then_some(())
        })
        .await;
        // The replica falls behind; the primary takes a burst, then dies.
        link.cut(true);
        let mut last = 0;
        for _ in 0..IN_FLIGHT {
            last = ledger.dispatch(&mock, 0).unwrap();
        }
        poll("the burst in the primary", Duration::from_secs(10), async || {
            checkpoint(&mut primary.sync(), &keys, ShardId::ONE)
                .is_some_and(|(_, seq)| seq == last)
                .then_some(())
        })
        .await;
        primary.kill();
        drop(link);
        let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query(&mut replica.sync()).unwrap();
        let promoted = checkpoint(&mut replica.sync(), &keys, ShardId::ONE);
        assert!(
            promoted.as_ref().is_none_or(|(_, seq)| *seq < last),
            "run {run}: the replica lagged: {promoted:?}"
        );
        proxy.point_at(replica.addr());
        proxy.close_all();
        primary = replica;
        gaps_conn = primary.sync();
        for _ in 0..10 {
            ledger.dispatch(&mock, 0);
        }
        poll("every event handled or in a gap", Duration::from_secs(30), async || {
            judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards).lost.is_empty().then_some(())
        })
        .await;
    }
    let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
    ledger::report("failover to a lagging replica", runs, &verdict);
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
    cluster.shutdown().await;
}

/// The writer of each entry of a shard's stream, oldest first.
fn writers(conn: &mut redis::Connection, key: &str) -> Vec<String> {
    let reply: redis::streams::StreamRangeReply =
        redis::cmd("XRANGE").arg(key).arg("-").arg("+").query(conn).unwrap();
    reply.ids.iter().map(|entry| entry.get::<String>(qqgw_redis::FIELD_WRITER).unwrap_or_default()).collect()
}

/// No two processes held one shard's QQ connection at once: per shard, each connection the
/// mock saw closed before the next one opened.
fn assert_one_connection_at_a_time(mock: &MockGateway) {
    let record = mock.record();
    for shard in 0..mock.config().shards {
        let mut connections: Vec<_> = record.connections.iter().filter(|c| c.shard == Some(shard)).collect();
        connections.sort_by_key(|c| c.opened_at);
        for pair in connections.windows(2) {
            let closed = pair[0].closed_at.expect("only the last connection of a shard may still be open");
            assert!(
                closed <= pair[1].opened_at,
                "shard {shard}: a connection opened {:?} before the previous one closed",
                closed - pair[1].opened_at
            );
        }
    }
}

/// A gateway stopped (`SIGSTOP`) past its lease, then continued: another process has taken
/// its shard meanwhile, and it writes nothing after the new owner's first write — every
/// write it still tries is fenced — and closes its QQ connection as soon as it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_stopped_past_its_lease_writes_nothing_after_the_new_owner() {
    let runs = ledger::runs(3);
    let server = RedisServer::start();
    let mock = mock(1).await;
    let url = server.url();
    let keys = Keys::for_app(&mock.config().app_id);
    let mut gaps_conn = server.sync();
    let lease = Duration::from_millis(1500);
    let tally = Tally::default();
    let _worker = worker(&url, &mock, &tally).await;
    let mut ledger = Ledger::default();
    let mut processes = Children::new();
    let mut conn = server.sync();
    let mut env = gateway_env(&mock, &url, "0-1", lease);
    env.push(("QQGW_TAKEOVER", "1".into()));
    processes.spawn("gateway-0", "child_gateway", &env);
    for run in 0..runs {
        session_of(&mock, 0, Duration::from_secs(30)).await;
        // The running gateway, and another one ready to take over.
        processes.spawn(&format!("gateway-{}", run + 1), "child_gateway", &env);
        for _ in 0..10 {
            ledger.dispatch(&mock, 0);
        }
        poll("the events handled", Duration::from_secs(10), async || {
            (judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards).handled
                == ledger.sent().len())
            .then_some(())
        })
        .await;
        let old: String = redis::cmd("GET").arg(keys.fence(ShardId::ONE)).query(&mut conn).unwrap();
        let stopped = processes.pid(&format!("gateway-{run}"));
        common::redis_server::signal(stopped, "STOP");
        // Events keep coming while it is stopped; the new owner RESUMEs and gets them.
        let new = poll("another process takes the shard", Duration::from_secs(15), async || {
            ledger.dispatch(&mock, 0);
            let fence: String = redis::cmd("GET").arg(keys.fence(ShardId::ONE)).query(&mut conn).unwrap();
            (fence != old).then_some(fence)
        })
        .await;
        poll("the new owner's first write", Duration::from_secs(15), async || {
            ledger.dispatch(&mock, 0);
            writers(&mut conn, &keys.stream(ShardId::ONE)).contains(&new).then_some(())
        })
        .await;
        let continued = Instant::now();
        common::redis_server::signal(stopped, "CONT");
        // It runs again while events flow (to the new owner).
        for _ in 0..20 {
            ledger.dispatch(&mock, 0);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        poll("every event handled", Duration::from_secs(15), async || {
            judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards).lost.is_empty().then_some(())
        })
        .await;
        let stream = writers(&mut conn, &keys.stream(ShardId::ONE));
        let first_new = stream.iter().position(|w| *w == new).unwrap();
        let late = stream[first_new..].iter().filter(|w| **w == old).count();
        assert_eq!(
            late, 0,
            "run {run}: the stopped gateway wrote {late} entries after the new owner's first"
        );
        // Its QQ connection is closed soon after it runs again.
        let record = mock.record();
        let open_before: Vec<_> =
            record.connections.iter().filter(|c| c.shard == Some(0) && c.opened_at < continued).collect();
        poll("the stopped gateway's QQ connection closed", Duration::from_secs(5), async || {
            let record = mock.record();
            let still_open = record
                .connections
                .iter()
                .filter(|c| c.shard == Some(0) && c.opened_at < continued && c.closed_at.is_none())
                .filter(|c| {
                    Some(c.opened_at)
                        != record.connections.iter().filter(|c| c.shard == Some(0)).map(|c| c.opened_at).max()
                })
                .count();
            (still_open == 0).then_some(())
        })
        .await;
        assert!(!open_before.is_empty());
        processes.kill(&format!("gateway-{run}"));
    }
    let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
    ledger::report("gateway SIGSTOPped past its lease", runs, &verdict);
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
}

/// A gateway and a worker behind a proxy that silently stops forwarding (a half-open
/// connection to Redis), another gateway on a direct path. The cut-off gateway closes its
/// QQ connection before its lease can lapse; the other takes the shard over, never while
/// the first still holds it. Once the proxy forwards again, the worker and the gateway are
/// back within 15 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_half_open_connection_a_gateway_gives_its_shard_up_in_time_and_both_recover() {
    let runs = ledger::runs(3);
    let server = RedisServer::start();
    let mock = MockGateway::start(MockConfig {
        heartbeat_interval: Duration::from_millis(300),
        shards: 2,
        session_start_limit: qqgw_mock::SessionStartLimit {
            total: 1000,
            remaining: 1000,
            reset_after: 86_400_000,
            max_concurrency: 2,
        },
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let url = server.url();
    let keys = Keys::for_app(&mock.config().app_id);
    let mut gaps_conn = server.sync();
    let lease = Duration::from_millis(3000);
    let mut ledger = Ledger::default();
    let tally = Tally::default();
    let mut processes = Children::new();
    let mut recoveries = Vec::new();
    for run in 0..runs {
        let proxy = common::proxy::Proxy::start(server.addr()).await;
        let running = worker(&proxy.url(), &mock, &tally).await;
        let mut behind = gateway_env(&mock, &proxy.url(), "0-1", lease);
        behind.extend([("QQGW_TAKEOVER", "1".into()), ("QQGW_MAX_CONCURRENCY", "2".into())]);
        let mut direct = gateway_env(&mock, &url, "1-2", lease);
        direct.extend([("QQGW_TAKEOVER", "1".into()), ("QQGW_MAX_CONCURRENCY", "2".into())]);
        processes.spawn(&format!("behind-{run}"), "child_gateway", &behind);
        let taken = mock.record().connections.len();
        poll("shard 0 run from behind the proxy", Duration::from_secs(30), async || {
            let record = mock.record();
            record.connections[taken..]
                .iter()
                .any(|c| c.shard == Some(0) && c.closed_at.is_none())
                .then_some(())
        })
        .await;
        processes.spawn(&format!("direct-{run}"), "child_gateway", &direct);
        session_of(&mock, 1, Duration::from_secs(30)).await;
        poll("both shards up, their sessions in Redis", Duration::from_secs(30), async || {
            let mut stored = |shard| {
                let stored = checkpoint(&mut gaps_conn, &keys, ShardId::new(shard, 2).unwrap());
                stored.is_some_and(|(id, _)| Some(id) == mock.session_id(shard))
            };
            (mock.connected(0) && mock.connected(1) && stored(0) && stored(1)).then_some(())
        })
        .await;
        let resumes = mock.record().resumes().len();

        proxy.cut(true);
        // QQ goes on while the proxy is cut: the direct gateway takes shard 0 over.
        poll("shard 0 taken over", lease * 2 + Duration::from_secs(10), async || {
            ledger.dispatch(&mock, 0);
            ledger.dispatch(&mock, 1);
            tokio::time::sleep(Duration::from_millis(20)).await;
            (mock.record().resumes().len() > resumes && mock.connected(0)).then_some(())
        })
        .await;
        proxy.cut(false);
        let forwarded = Instant::now();
        // The direct gateway dies: the one behind the proxy must take both shards.
        processes.kill(&format!("direct-{run}"));
        for _ in 0..20 {
            ledger.dispatch(&mock, 0);
            ledger.dispatch(&mock, 1);
        }
        poll("the worker and the gateway back", Duration::from_secs(15) + lease, async || {
            let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
            (verdict.lost.is_empty() && mock.connected(0) && mock.connected(1)).then_some(())
        })
        .await;
        recoveries.push(forwarded.elapsed());
        assert_one_connection_at_a_time(&mock);
        processes.kill(&format!("behind-{run}"));
        running.stop().await;
    }
    let verdict = judge(&ledger, &tally, &mut gaps_conn, &keys, mock.config().shards);
    ledger::report("half-open connection to redis", runs, &verdict);
    println!(
        "fault-suite | half-open connection to redis | back after the proxy forwarded again: {recoveries:?}"
    );
    assert!(verdict.lost.is_empty(), "lost: {:?}", verdict.lost);
    assert_one_connection_at_a_time(&mock);
}

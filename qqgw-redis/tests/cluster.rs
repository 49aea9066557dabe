//! Gateway processes sharing a bot's shards through Redis, against the mock QQ: child
//! processes of this test binary, killed with SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::children::{self, Children, ROLE};
use common::redis_server::RedisServer;
use qqgw_mock::{MockConfig, MockGateway};
use qqgw_proto::ShardId;
use qqgw_redis::{Cluster, ClusterConfig, Keys, Redis};

const LEASE_TTL: Duration = Duration::from_millis(2000);

/// A gateway process: runs `QQGW_OWNED` (`a-b`) of `QQGW_TOTAL` shards with takeover,
/// until it is killed or its parent goes.
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
        let owned = a.parse().unwrap()..b.parse().unwrap();
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
        let mut config = ClusterConfig::new(total, owned).with_takeover().lease_ttl(LEASE_TTL);
        config.poll = Duration::from_millis(100);
        if let Ok(n) = std::env::var("QQGW_MAX_CONCURRENCY") {
            config.session_start_limit.max_concurrency = n.parse().unwrap();
        }
        let _cluster = Cluster::start(qqgw_tokio::Tokio, redis, bot, config);
        std::future::pending::<()>().await;
    });
}

fn gateway_env(
    mock: &MockGateway,
    server: &RedisServer,
    total: u32,
    owned: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("QQGW_TOTAL", total.to_string()),
        ("QQGW_OWNED", owned.to_owned()),
        ("QQGW_REDIS", server.url()),
        ("QQGW_APP_ID", mock.config().app_id.clone()),
        ("QQGW_SECRET", mock.config().secret.clone()),
        ("QQGW_API_BASE", mock.api_base()),
        ("QQGW_TOKEN_URL", mock.token_url()),
    ]
}

/// The sequence numbers of the events in `shard`'s stream (READY's included).
async fn stream_seqs(redis: &Redis, shard: ShardId) -> Vec<u64> {
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(redis.keys().stream(shard))
        .arg("-")
        .arg("+")
        .query_async(&mut redis.connection())
        .await
        .unwrap();
    entries
        .ids
        .iter()
        .filter_map(|e| e.get::<String>(qqgw_redis::FIELD_EVENT))
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(&line).ok()?.get("seq")?.as_u64())
        .collect()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_gateways_shards_are_resumed_by_another_within_the_lease_ttl_and_nothing_is_lost() {
    let server = RedisServer::start();
    let mock = MockGateway::start(MockConfig {
        heartbeat_interval: Duration::from_millis(300),
        shards: 2,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app(&mock.config().app_id))
        .await
        .unwrap();
    let mut processes = Children::new();
    processes.spawn("a", "child_gateway", &gateway_env(&mock, &server, 2, "0-1"));
    processes.spawn("b", "child_gateway", &gateway_env(&mock, &server, 2, "1-2"));
    mock.wait_until(|r| r.connected(0) && r.connected(1), Duration::from_secs(20)).await.unwrap();

    let (s0, s1) = (ShardId::new(0, 2).unwrap(), ShardId::new(1, 2).unwrap());
    let mut sent = BTreeSet::new();
    for n in 0..50 {
        sent.insert(mock.dispatch(0, "TEST_EVENT", serde_json::json!({ "n": n })));
        mock.dispatch(1, "TEST_EVENT", serde_json::json!({ "n": n }));
    }
    let last = *sent.last().unwrap();
    poll("shard 0's events in its stream", Duration::from_secs(10), async || {
        stream_seqs(&redis, s0).await.contains(&last).then_some(())
    })
    .await;

    // Crash the process that runs shard 0, then keep QQ talking to the shard.
    let killed_at = Instant::now();
    processes.kill("a");
    for n in 50..100 {
        sent.insert(mock.dispatch(0, "TEST_EVENT", serde_json::json!({ "n": n })));
    }
    let resumes_before = mock.record().resumes().len();
    let record = mock
        .wait_until(
            |r| r.resumes().len() > resumes_before && r.connected(0),
            LEASE_TTL + Duration::from_secs(5),
        )
        .await
        .unwrap();
    let takeover = killed_at.elapsed();
    assert!(takeover <= LEASE_TTL + Duration::from_secs(1), "RESUMEd after {takeover:?}");
    assert_eq!(record.readies(0), 1, "shard 0 was RESUMEd, never IDENTIFYed again");
    let last = *sent.last().unwrap();
    poll("every event of shard 0 in its stream", Duration::from_secs(10), async || {
        let seqs: BTreeSet<u64> = stream_seqs(&redis, s0).await.into_iter().collect();
        seqs.contains(&last).then_some(())
    })
    .await;
    let seqs: BTreeSet<u64> = stream_seqs(&redis, s0).await.into_iter().collect();
    let missing: Vec<u64> = sent.difference(&seqs).copied().collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    assert!(stream_seqs(&redis, s1).await.len() >= 51, "shard 1 kept running");
    assert!(record.protocol_errors.is_empty(), "{:?}", record.protocol_errors);
    // Only one process ever ran each shard at a time: the mock saw no two open connections
    // of one shard.
    for shard in [0, 1] {
        let open =
            record.connections.iter().filter(|c| c.shard == Some(shard) && c.closed_at.is_none()).count();
        assert!(open <= 1, "shard {shard}: {open} open connections");
    }
    println!("takeover after SIGKILL: {takeover:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_never_identify_faster_than_qq_allows_together() {
    let server = RedisServer::start();
    let limit = qqgw_mock::SessionStartLimit {
        total: 1000,
        remaining: 1000,
        reset_after: 86_400_000,
        max_concurrency: 2,
    };
    let mock = MockGateway::start(MockConfig {
        heartbeat_interval: Duration::from_millis(300),
        shards: 4,
        session_start_limit: limit,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let mut processes = Children::new();
    for (name, owned) in [("a", "0-2"), ("b", "2-3"), ("c", "3-4")] {
        let mut env = gateway_env(&mock, &server, 4, owned);
        env.push(("QQGW_MAX_CONCURRENCY", "2".into()));
        processes.spawn(name, "child_gateway", &env);
    }
    // Four IDENTIFYs, two buckets: two windows of 5 s at least.
    let record = mock.wait_until(|r| (0..4).all(|s| r.connected(s)), Duration::from_secs(30)).await.unwrap();
    assert_eq!(record.identifies().len(), 4);
    assert!(record.pacing_violations.is_empty(), "{:?}", record.pacing_violations);
    // The mock counts IDENTIFYs from their arrival: no 5 s holds more than two.
    let mut opened: Vec<Instant> =
        record.connections.iter().filter(|c| c.ready).map(|c| c.opened_at).collect();
    opened.sort();
    for pair in opened.windows(3) {
        assert!(
            pair[2] - pair[0] >= Duration::from_millis(4_900),
            "three IDENTIFYs within {:?}",
            pair[2] - pair[0]
        );
    }
}

#[tokio::test]
async fn a_cluster_shuts_down_and_releases_its_leases_for_the_next_process() {
    let server = RedisServer::start();
    let mock = MockGateway::start(MockConfig {
        heartbeat_interval: Duration::from_millis(300),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let keys = Keys::for_app(&mock.config().app_id);
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), keys).await.unwrap();
    let bot = qqgw_client::Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .allow_insecure(true);
    let first = Cluster::start(qqgw_tokio::Tokio, redis.clone(), bot.clone(), ClusterConfig::new(1, 0..1));
    mock.wait_until(|r| r.connected(0), Duration::from_secs(10)).await.unwrap();
    let seq = mock.dispatch(0, "TEST_EVENT", serde_json::json!({}));
    let shard = ShardId::ONE;
    poll("the event in the stream", Duration::from_secs(10), async || {
        stream_seqs(&redis, shard).await.contains(&seq).then_some(())
    })
    .await;
    assert_eq!(first.running(), vec![shard]);
    // A second process for the same shard waits while the first holds it.
    let second = Cluster::start(qqgw_tokio::Tokio, redis.clone(), bot, ClusterConfig::new(1, 0..1));
    first.shutdown().await;
    let lease: Option<String> =
        redis::cmd("GET").arg(redis.keys().lease(shard)).query_async(&mut redis.connection()).await.unwrap();
    assert!(lease.is_none() || second.running() == vec![shard], "released at shutdown");
    // The second takes the shard at once and RESUMEs it.
    mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), Duration::from_secs(10)).await.unwrap();
    poll("the second process runs the shard", Duration::from_secs(5), async || {
        (second.running() == vec![shard]).then_some(())
    })
    .await;
    second.shutdown().await;
}

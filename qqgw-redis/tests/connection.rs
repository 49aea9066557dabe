//! The connection to Redis: settings refused at start, calls bounded in time, and a
//! half-open connection (a proxy that silently stops forwarding) replaced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::handler::Tally;
use common::proxy::Proxy;
use common::redis_server::{Persistence, RedisServer};
use qqgw_proto::{Dispatch, Session, ShardId};
use qqgw_redis::{Error, Keys, Redis, RedisConfig, RedisSessionStore, StreamSink, Worker, WorkerConfig};
use serde_json::value::RawValue;

async fn connect(url: &str, config: RedisConfig) -> Result<Redis, Error> {
    let client = redis::Client::open(url).unwrap();
    Redis::connect_with(&qqgw_tokio::Tokio, client, Keys::for_app("1"), config).await
}

#[tokio::test]
async fn an_evicting_redis_is_refused_at_start_naming_the_setting_and_the_fix() {
    let server = RedisServer::start_with(Persistence::None, &["--maxmemory-policy", "allkeys-lru"]);
    let error = connect(&server.url(), RedisConfig::default()).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::UnsafeSettings { setting: "maxmemory-policy", .. }), "{text}");
    assert!(text.contains("allkeys-lru"), "{text}");
    assert!(text.contains("maxmemory-policy noeviction"), "names the fix: {text}");
    assert!(text.contains("allow_eviction"), "names the opt-out: {text}");
    // Knowingly allowed: it starts.
    connect(&server.url(), RedisConfig { allow_eviction: true, ..RedisConfig::default() }).await.unwrap();
}

#[tokio::test]
async fn a_redis_cluster_node_is_refused_at_start() {
    let server = RedisServer::start_with(Persistence::None, &["--cluster-enabled", "yes"]);
    let error = connect(&server.url(), RedisConfig::default()).await.unwrap_err();
    assert!(matches!(error, Error::UnsafeSettings { setting: "cluster_enabled", .. }), "{error}");
    assert!(error.to_string().contains("does not support Redis Cluster"), "{error}");
}

#[tokio::test]
async fn persistence_asked_for_and_missing_is_refused_at_start() {
    let server = RedisServer::start();
    let config = RedisConfig { require_persistence: true, ..RedisConfig::default() };
    let error = connect(&server.url(), config.clone()).await.unwrap_err();
    assert!(error.to_string().contains("appendonly yes"), "{error}");
    let persistent = RedisServer::start_with_aof();
    connect(&persistent.url(), config).await.unwrap();
}

#[tokio::test]
async fn a_half_open_connection_fails_each_call_within_its_deadline_and_is_replaced() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.addr()).await;
    let config = RedisConfig { response_timeout: Duration::from_millis(300), ..RedisConfig::default() };
    let redis = connect(&proxy.url(), config).await.unwrap();
    let store = RedisSessionStore::new(redis.clone());
    let shard = |id| ShardId::new(id, 8).unwrap();
    store.save_session(&Session::new("before", 1, shard(0))).await.unwrap();

    proxy.cut(true);
    for id in 1..4 {
        let asked = Instant::now();
        let error = store.save_session(&Session::new("lost", 1, shard(id))).await.unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        assert!(asked.elapsed() < Duration::from_secs(2), "bounded: {:?}", asked.elapsed());
    }
    proxy.cut(false);

    // Back within a few calls, and every answer is the answer to its own question: the
    // requests lost while cut took no later answers with them.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match store.load_session(shard(0)).await {
            Ok(Some(session)) => {
                assert_eq!(session, Session::new("before", 1, shard(0)));
                break;
            }
            Ok(None) => panic!("the session saved before the cut is gone"),
            Err(_) => assert!(Instant::now() < deadline, "no answer 15 s after the proxy forwards again"),
        }
    }
    for id in 0..8 {
        store.save_session(&Session::new(format!("s{id}"), u64::from(id), shard(id))).await.unwrap();
    }
    for id in 0..8 {
        let loaded = store.load_session(shard(id)).await.unwrap();
        assert_eq!(loaded, Some(Session::new(format!("s{id}"), u64::from(id), shard(id))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_behind_a_half_open_connection_handles_everything_once_it_forwards_again() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.addr()).await;
    let direct = connect(&server.url(), RedisConfig::default()).await.unwrap();
    let config = RedisConfig { response_timeout: Duration::from_millis(500), ..RedisConfig::default() };
    let behind = connect(&proxy.url(), config).await.unwrap();
    let s = ShardId::ONE;
    let worker_config = WorkerConfig {
        consumer: "behind".into(),
        block: Duration::from_millis(200),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(behind, [s], worker_config).await.unwrap();
    let tally = Tally::default();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handler = tally.clone();
    let task =
        tokio::spawn(
            async move { worker.run(&qqgw_tokio::Tokio, &handler, async { drop(stop_rx.await) }).await },
        );
    let mut sink = StreamSink::new(direct, s).resuming(Some(&Session::new("sess-1", 1, s)));
    let event = |seq: u64| {
        let data = RawValue::from_string(format!(r#"{{"n":{seq}}}"#)).unwrap();
        Dispatch::new("TEST_EVENT", Some(seq), Some(format!("E:{seq}").into()), s, data)
    };
    for seq in 2..=11 {
        sink.publish(&event(seq)).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while tally.distinct() < 10 {
        assert!(Instant::now() < deadline, "{} handled before the cut", tally.distinct());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.cut(true);
    for seq in 12..=61 {
        sink.publish(&event(seq)).await.unwrap();
    }
    // Long enough for reads and acknowledgements to time out.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled = tally.distinct();
    proxy.cut(false);
    let forwarded = Instant::now();
    while tally.distinct() < 60 {
        assert!(
            forwarded.elapsed() < Duration::from_secs(15),
            "{} of 60 handled 15 s after the proxy forwards again",
            tally.distinct()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "worker back {:?} after the proxy forwarded again ({stalled} handled while cut)",
        forwarded.elapsed()
    );
    drop(stop_tx);
    task.await.unwrap();
    assert_eq!(tally.twice(), 0);
}

/// A publish that Redis carried out but whose answer was lost (the connection went
/// half-open on the way back): the next publish finds the checkpoint ahead of what the
/// sink knows it wrote, recognises its own write, and goes on — no rollback is reported.
#[tokio::test]
async fn a_publish_whose_answer_was_lost_is_recognised_as_the_sinks_own_write() {
    let server = RedisServer::start();
    let proxy = Proxy::start(server.addr()).await;
    let config = RedisConfig { response_timeout: Duration::from_millis(300), ..RedisConfig::default() };
    let redis = connect(&proxy.url(), config).await.unwrap();
    let s = ShardId::ONE;
    let mut sink = StreamSink::new(redis.clone(), s);
    assert_eq!(sink.recover().await.unwrap(), None);
    let event = |seq: u64| {
        let data = RawValue::from_string(format!(r#"{{"n":{seq}}}"#)).unwrap();
        Dispatch::new("TEST_EVENT", Some(seq), Some(format!("E:{seq}").into()), s, data)
    };
    let ready = Dispatch::new(
        "READY",
        Some(1),
        None,
        s,
        RawValue::from_string(r#"{"session_id":"sess-1","version":1}"#.into()).unwrap(),
    );
    sink.publish(&ready).await.unwrap();
    sink.publish(&event(2)).await.unwrap();

    proxy.cut_answers(true);
    let error = sink.publish(&event(3)).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    proxy.cut_answers(false);
    let direct = connect(&server.url(), RedisConfig::default()).await.unwrap();
    let stored = RedisSessionStore::new(direct.clone()).load_session(s).await.unwrap();
    assert_eq!(stored, Some(Session::new("sess-1", 3, s)), "Redis did write it");

    // Published again (as the gateway does after an error): no RolledBack, and on it goes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match sink.publish(&event(3)).await {
            Ok(_) => break,
            Err(error) => {
                assert!(!error.is_rolled_back(), "its own write taken for a rollback: {error}");
                assert!(Instant::now() < deadline, "{error}");
            }
        }
    }
    sink.publish(&event(4)).await.unwrap();
    let stored = RedisSessionStore::new(direct).load_session(s).await.unwrap();
    assert_eq!(stored, Some(Session::new("sess-1", 4, s)));
}

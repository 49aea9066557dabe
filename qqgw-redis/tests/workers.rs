//! A worker process killed with SIGKILL holding events it read but did not acknowledge:
//! another worker claims them and handles them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::children::{self, Children, ROLE};
use common::handler::Tally;
use common::redis_server::RedisServer;
use qqgw_client::Context;
use qqgw_proto::{Session, ShardId};
use qqgw_redis::{Keys, Redis, StreamSink, Worker, WorkerConfig};

const CLAIM_IDLE: Duration = Duration::from_millis(500);

fn shard() -> ShardId {
    ShardId::new(0, 1).unwrap()
}

fn config(consumer: &str) -> WorkerConfig {
    WorkerConfig {
        consumer: consumer.into(),
        block: Duration::from_millis(100),
        claim_idle: CLAIM_IDLE,
        ..WorkerConfig::default()
    }
}

/// A handler that never returns: its worker reads events and never acknowledges them.
struct Stuck;

impl qqgw_client::EventHandler for Stuck {
    async fn unknown_event(&self, _ctx: Context) {
        std::future::pending::<()>().await;
    }
}

/// A worker process whose handler hangs, until it is killed.
#[test]
fn child_stuck_worker() {
    if std::env::var_os(ROLE).is_none() {
        return;
    }
    children::exit_with_parent();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let redis = Redis::connect(&qqgw_tokio::Tokio, &children::var("QQGW_REDIS"), Keys::for_app("1"))
            .await
            .unwrap();
        let worker = Worker::new(redis, [shard()], config("stuck")).await.unwrap();
        worker.run(&qqgw_tokio::Tokio, &Stuck, std::future::pending()).await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_processs_pending_events_are_claimed_and_handled_by_another() {
    let server = RedisServer::start();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap();
    let s = shard();
    let mut sink = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    for seq in 2..=31 {
        let data = serde_json::value::RawValue::from_string(format!(r#"{{"n":{seq}}}"#)).unwrap();
        let dispatch = qqgw_proto::Dispatch::new(
            "TEST_EVENT",
            Some(seq),
            Some(format!("TEST_EVENT:{seq}").into()),
            s,
            data,
        );
        sink.publish(&dispatch).await.unwrap();
    }
    let mut processes = Children::new();
    processes.spawn("stuck", "child_stuck_worker", &[("QQGW_REDIS", server.url())]);
    // Wait until the child has read every event (all pending to it), then crash it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // No group yet until the child has started.
        let pending = redis::cmd("XPENDING")
            .arg(redis.keys().stream(s))
            .arg("workers")
            .query_async::<(u64, redis::Value, redis::Value, redis::Value)>(&mut redis.connection())
            .await
            .map_or(0, |p| p.0);
        if pending == 30 {
            break;
        }
        assert!(Instant::now() < deadline, "the child read {pending} of 30");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    processes.kill("stuck");

    let tally = Tally::default();
    let survivor = Worker::new(redis.clone(), [s], config("survivor")).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handler = tally.clone();
    let task = tokio::spawn(async move {
        survivor.run(&qqgw_tokio::Tokio, &handler, async { drop(stop_rx.await) }).await
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while tally.distinct() < 30 {
        assert!(Instant::now() < deadline, "handled {} of 30", tally.distinct());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stop_tx);
    let stats = task.await.unwrap();
    assert_eq!(stats.reclaimed, 30, "{stats:?}");
    assert_eq!(tally.twice(), 0);
    let expected: Vec<String> = (2..=31).map(|seq| format!("TEST_EVENT:{seq}")).collect();
    assert_eq!(tally.order(), expected, "claimed back in stream order");
}

#[test]
fn default_worker_names_differ_for_every_worker_even_with_one_pid() {
    let names: std::collections::BTreeSet<String> =
        (0..100).map(|_| qqgw_redis::WorkerConfig::default().consumer).collect();
    assert_eq!(names.len(), 100, "unique within a process, so across PID-1 containers too");
    let name = names.first().unwrap();
    assert!(name.contains(&format!("-{}-", std::process::id())), "host, pid, nonce: {name}");
}

/// A handler that says when it starts, and waits for the test's word before it returns.
struct Gated {
    started: std::sync::Arc<tokio::sync::Notify>,
    gate: std::sync::Arc<tokio::sync::Notify>,
    tally: Tally,
}

impl qqgw_client::EventHandler for Gated {
    async fn unknown_event(&self, ctx: Context) {
        self.started.notify_one();
        self.gate.notified().await;
        qqgw_client::EventHandler::unknown_event(&self.tally, ctx).await;
    }
}

/// Redis goes away while a batch is being handled: its acknowledgement keeps failing, and
/// the worker still stops when told (the entries stay pending and come back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stops_when_told_even_while_its_acknowledgements_keep_failing() {
    let mut server = RedisServer::start();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap();
    let s = shard();
    let mut sink = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    let data = serde_json::value::RawValue::from_string("{}".into()).unwrap();
    sink.publish(&qqgw_proto::Dispatch::new("TEST_EVENT", Some(2), Some("TEST_EVENT:2".into()), s, data))
        .await
        .unwrap();
    let worker = Worker::new(redis, [s], config("w")).await.unwrap();
    let (started, gate) = (std::sync::Arc::default(), std::sync::Arc::new(tokio::sync::Notify::new()));
    let tally = Tally::default();
    let handler = Gated {
        started: std::sync::Arc::clone(&started),
        gate: std::sync::Arc::clone(&gate),
        tally: tally.clone(),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task =
        tokio::spawn(
            async move { worker.run(&qqgw_tokio::Tokio, &handler, async { drop(stop_rx.await) }).await },
        );
    // The event is being handled; Redis dies; the handler returns.
    let started: std::sync::Arc<tokio::sync::Notify> = started;
    tokio::time::timeout(Duration::from_secs(10), started.notified()).await.expect("the event handed out");
    server.kill();
    let deadline = Instant::now() + Duration::from_secs(10);
    gate.notify_one();
    while tally.distinct() < 1 {
        assert!(Instant::now() < deadline, "never handled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stop_tx);
    let stats =
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("the worker stopped").unwrap();
    assert_eq!(stats.handled, 1);
}

/// The consumers of the group, by name, with how many entries each has pending.
async fn consumers(redis: &Redis) -> Vec<(String, u64)> {
    let reply: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(redis.keys().stream(shard()))
        .arg("workers")
        .query_async(&mut redis.connection())
        .await
        .unwrap();
    reply
        .iter()
        .map(|c| {
            let name: String = redis::from_redis_value(&c["name"]).unwrap();
            let pending: u64 = redis::from_redis_value(&c["pending"]).unwrap();
            (name, pending)
        })
        .collect()
}

/// Workers that died leave consumers in the group: those with nothing pending are removed
/// once idle past `consumer_expiry`; one with pending entries stays until they are claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_consumers_are_removed_from_the_group_once_nothing_is_pending() {
    let server = RedisServer::start();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap();
    let s = shard();
    let mut sink = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    let event = |seq: u64| {
        let data = serde_json::value::RawValue::from_string("{}".into()).unwrap();
        qqgw_proto::Dispatch::new("TEST_EVENT", Some(seq), Some(format!("TEST_EVENT:{seq}").into()), s, data)
    };
    sink.publish(&event(2)).await.unwrap();
    // One died after handling everything, one with an entry pending.
    let mut clean = Worker::new(redis.clone(), [s], config("clean")).await.unwrap();
    let batch = clean.next_batch().await.unwrap();
    clean.ack(&batch).await.unwrap();
    drop(clean);
    sink.publish(&event(3)).await.unwrap();
    let mut dirty = Worker::new(redis.clone(), [s], config("dirty")).await.unwrap();
    assert_eq!(dirty.next_batch().await.unwrap().len(), 1);
    drop(dirty);

    let expiry = Duration::from_millis(200);
    let survivor = WorkerConfig { consumer_expiry: expiry, ..config("survivor") };
    let tally = Tally::default();
    let worker = Worker::new(redis.clone(), [s], survivor).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handler = tally.clone();
    let task =
        tokio::spawn(
            async move { worker.run(&qqgw_tokio::Tokio, &handler, async { drop(stop_rx.await) }).await },
        );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let names: Vec<String> = consumers(&redis).await.into_iter().map(|(name, _)| name).collect();
        if names == ["survivor"] {
            break;
        }
        assert!(Instant::now() < deadline, "dead consumers left: {names:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The dirty one went only once its entry was claimed: handled, not dropped with it.
    while tally.distinct() < 1 {
        assert!(Instant::now() < deadline, "the dead consumer's pending entry was lost");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(stop_tx);
    task.await.unwrap();
    assert_eq!(tally.handled().get("TEST_EVENT:3"), Some(&1));
}

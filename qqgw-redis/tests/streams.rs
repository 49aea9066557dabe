//! The stream sink and workers against a real redis-server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::handler::Tally;
use common::redis_server::RedisServer;
use qqgw_proto::{Dispatch, Session, ShardId};
use qqgw_redis::{Item, Keys, Lease, Redis, RedisSessionStore, StreamSink, Worker, WorkerConfig};
use serde_json::value::RawValue;

async fn redis(server: &RedisServer) -> Redis {
    Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("102000000")).await.expect("connect")
}

fn shard(id: u32) -> ShardId {
    ShardId::new(id, 2).unwrap()
}

fn event(shard: ShardId, seq: u64) -> Dispatch {
    let data = RawValue::from_string(format!(r#"{{"n":{seq}}}"#)).unwrap();
    Dispatch::new(
        "TEST_EVENT",
        Some(seq),
        Some(format!("TEST_EVENT:{}-{seq}", shard.id()).into()),
        shard,
        data,
    )
}

fn ready(shard: ShardId, session: &str) -> Dispatch {
    let data = RawValue::from_string(format!(r#"{{"session_id":"{session}","version":1}}"#)).unwrap();
    Dispatch::new("READY", Some(1), None, shard, data)
}

fn config(consumer: &str) -> WorkerConfig {
    WorkerConfig {
        consumer: consumer.into(),
        block: Duration::from_millis(100),
        claim_idle: Duration::from_millis(300),
        ..WorkerConfig::default()
    }
}

/// Runs `worker` on `tally` until `done` holds for it (polled), within `limit`.
async fn work_until(worker: Worker, tally: &Tally, limit: Duration, done: impl Fn(&Tally) -> bool) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handler = tally.clone();
    let task =
        tokio::spawn(
            async move { worker.run(&qqgw_tokio::Tokio, &handler, async { drop(stop_rx.await) }).await },
        );
    let deadline = Instant::now() + limit;
    while !done(tally) {
        assert!(Instant::now() < deadline, "not done within {limit:?}: {} handled", tally.distinct());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(stop_tx);
    task.await.unwrap();
}

#[tokio::test]
async fn published_events_reach_a_worker_in_order_with_the_checkpoint_moved_in_the_same_step() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(0);
    let lease = Lease::try_acquire(&redis, s, Duration::from_secs(30)).await.unwrap().unwrap();
    let mut sink = StreamSink::new(redis.clone(), s).fenced(lease.token().clone());
    sink.publish(&ready(s, "sess-1")).await.unwrap();
    for seq in 2..=50 {
        sink.publish(&event(s, seq)).await.unwrap();
    }
    let store = RedisSessionStore::new(redis.clone());
    assert_eq!(store.load_session(s).await.unwrap(), Some(Session::new("sess-1", 50, s)));

    let tally = Tally::default();
    let worker = Worker::new(redis.clone(), [s], config("w1")).await.unwrap();
    work_until(worker, &tally, Duration::from_secs(10), |t| t.distinct() == 49).await;
    let expected: Vec<String> = (2..=50).map(|seq| format!("TEST_EVENT:0-{seq}")).collect();
    assert_eq!(tally.order(), expected, "in order, once each");
    let pending: (u64, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(redis.keys().stream(s))
        .arg("workers")
        .query_async(&mut redis.connection())
        .await
        .unwrap();
    assert_eq!(pending.0, 0, "everything acknowledged");
}

#[tokio::test]
async fn a_fenced_sink_writes_nothing_neither_event_nor_checkpoint() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(1);
    let old = Lease::try_acquire(&redis, s, Duration::from_millis(50)).await.unwrap().unwrap();
    let mut old_sink = StreamSink::new(redis.clone(), s).fenced(old.token().clone());
    old_sink.publish(&ready(s, "sess-1")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let new = loop {
        if let Some(lease) = Lease::try_acquire(&redis, s, Duration::from_secs(30)).await.unwrap() {
            break lease;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let error = old_sink.publish(&event(s, 2)).await.unwrap_err();
    assert!(error.is_fenced(), "{error}");
    let len: u64 =
        redis::cmd("XLEN").arg(redis.keys().stream(s)).query_async(&mut redis.connection()).await.unwrap();
    assert_eq!(len, 1, "only READY is in the stream");
    let mut new_sink = StreamSink::new(redis.clone(), s)
        .fenced(new.token().clone())
        .resuming(Some(&Session::new("sess-1", 1, s)));
    new_sink.publish(&event(s, 2)).await.unwrap();
    let store = RedisSessionStore::new(redis.clone());
    assert_eq!(store.load_session(s).await.unwrap(), Some(Session::new("sess-1", 2, s)));
}

#[tokio::test]
async fn a_killed_workers_pending_events_are_claimed_and_handled_by_another() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(0);
    let mut sink = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    for seq in 2..=21 {
        sink.publish(&event(s, seq)).await.unwrap();
    }
    // The first worker reads a batch and dies before acknowledging it.
    let mut dying = Worker::new(redis.clone(), [s], config("dying")).await.unwrap();
    let read = dying.next_batch().await.unwrap();
    assert_eq!(read.len(), 20);
    drop(dying);

    let tally = Tally::default();
    let survivor = Worker::new(redis.clone(), [s], config("survivor")).await.unwrap();
    work_until(survivor, &tally, Duration::from_secs(10), |t| t.distinct() == 20).await;
    assert_eq!(tally.twice(), 0);
}

#[tokio::test]
async fn duplicates_in_the_stream_are_dropped_by_event_id() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(0);
    let mut sink = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    for seq in 2..=11 {
        sink.publish(&event(s, seq)).await.unwrap();
    }
    // A replay puts the same events in again (as after a crash of the gateway or Redis).
    let mut replay = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    for seq in 2..=11 {
        replay.publish(&event(s, seq)).await.unwrap();
    }
    let mut worker = Worker::new(redis.clone(), [s], config("w")).await.unwrap();
    let mut handled = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while worker.stats().duplicates < 10 {
        assert!(Instant::now() < deadline, "{:?}", worker.stats());
        let batch = worker.next_batch().await.unwrap();
        handled.extend(batch.iter().filter_map(|d| match &d.item {
            Item::Event(e) => e.id().map(str::to_owned),
            _ => None,
        }));
        worker.ack(&batch).await.unwrap();
    }
    assert_eq!(handled.len(), 10, "{handled:?}");
}

#[tokio::test]
async fn a_lost_session_and_a_sequence_jump_reach_the_worker_as_gaps() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(0);
    let mut sink = StreamSink::new(redis.clone(), s);
    sink.publish(&ready(s, "sess-1")).await.unwrap();
    sink.publish(&event(s, 2)).await.unwrap();
    sink.publish(&event(s, 5)).await.unwrap();
    sink.session_lost(&Session::new("sess-1", 5, s)).await.unwrap();
    let tally = Tally::default();
    let worker = Worker::new(redis.clone(), [s], config("w")).await.unwrap();
    work_until(worker, &tally, Duration::from_secs(10), |t| t.gaps().len() == 2 && t.distinct() == 2).await;
    let gaps = tally.gaps();
    assert_eq!(gaps[0].1, Session::new("sess-1", 2, s), "the jump from 2 to 5");
    assert_eq!(gaps[1].1, Session::new("sess-1", 5, s), "the lost session");
    assert_eq!(
        tally.order(),
        ["TEST_EVENT:0-2", "gap:2", "TEST_EVENT:0-5", "gap:5"],
        "each where it is in the stream"
    );
}

#[tokio::test]
async fn redis_restarted_mid_stream_with_aof_loses_nothing_and_duplicates_are_dropped() {
    let mut server = RedisServer::start_with_aof();
    let redis = redis(&server).await;
    let s = shard(0);
    let tally = Tally::default();
    let worker = Worker::new(redis.clone(), [s], config("w")).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handler = tally.clone();
    let task =
        tokio::spawn(
            async move { worker.run(&qqgw_tokio::Tokio, &handler, async { drop(stop_rx.await) }).await },
        );

    let mut sink = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    let mut seq = 2;
    // Publishes until Redis takes each event (the gateway's loop does the same).
    async fn publish(sink: &mut StreamSink, s: ShardId, seq: u64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Err(error) = sink.publish(&event(s, seq)).await {
            assert!(Instant::now() < deadline, "redis never came back: {error}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    while seq <= 100 {
        publish(&mut sink, s, seq).await;
        seq += 1;
    }
    server.restart();
    // After the restart QQ replays from the checkpoint: publish a stretch again, then more.
    let checkpoint = RedisSessionStore::new(redis.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    let resumed_from = loop {
        match checkpoint.load_session(s).await {
            Ok(Some(session)) => break session.seq,
            Ok(None) => panic!("the checkpoint was lost with the restart"),
            Err(_) => {
                assert!(Instant::now() < deadline, "redis never came back");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(resumed_from, 100, "with appendfsync always every acknowledged write is back");
    for replayed in 90..=100 {
        publish(&mut sink, s, replayed).await;
    }
    for more in 101..=150 {
        publish(&mut sink, s, more).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while tally.distinct() < 149 {
        assert!(Instant::now() < deadline, "handled {} of 149", tally.distinct());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Entries whose delivery was cut by the restart are pending: the worker claims them
    // back, and drops them as duplicates, until nothing is left unacknowledged.
    loop {
        let pending: (u64, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
            .arg(redis.keys().stream(s))
            .arg("workers")
            .query_async(&mut redis.connection())
            .await
            .unwrap();
        let unread: Option<u64> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(redis.keys().stream(s))
            .query_async::<Vec<std::collections::HashMap<String, redis::Value>>>(&mut redis.connection())
            .await
            .ok()
            .and_then(|groups| match groups.first()?.get("lag")? {
                redis::Value::Int(lag) => u64::try_from(*lag).ok(),
                _ => None,
            });
        if pending.0 == 0 && unread == Some(0) {
            break;
        }
        assert!(Instant::now() < deadline, "{} entries still pending, {unread:?} unread", pending.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stop_tx);
    let stats = task.await.unwrap();
    assert_eq!(tally.distinct(), 149, "nothing lost");
    assert_eq!(tally.twice(), 0, "duplicates dropped by id: {stats:?}");
    assert!(stats.duplicates >= 11, "the replayed stretch was dropped: {stats:?}");
}

#[tokio::test]
async fn a_batch_is_published_in_one_round_trip_and_a_fenced_one_reports_none_done() {
    use qqgw_client::{Event, ShardEvent};
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(0);
    let lease = Lease::try_acquire(&redis, s, Duration::from_secs(30)).await.unwrap().unwrap();
    let mut sink = StreamSink::new(redis.clone(), s).fenced(lease.token().clone());
    let mut batch = vec![ShardEvent::new(s, Event::Dispatch(ready(s, "sess-1")))];
    batch.extend((2..=40).map(|seq| ShardEvent::new(s, Event::Dispatch(event(s, seq)))));
    batch.push(ShardEvent::new(s, Event::SessionLost(Session::new("sess-1", 40, s))));
    // An event with nothing to publish (a disconnection) counts as done with the others.
    batch
        .push(ShardEvent::new(s, Event::TokenRefreshFailed(qqgw_proto::TokenError::Unavailable("x".into()))));
    assert_eq!(sink.publish_events(&batch).await.0, batch.len());
    let len: u64 =
        redis::cmd("XLEN").arg(redis.keys().stream(s)).query_async(&mut redis.connection()).await.unwrap();
    assert_eq!(len, 41, "READY, 39 events, the gap");
    assert_eq!(
        RedisSessionStore::new(redis.clone()).load_session(s).await.unwrap(),
        None,
        "the lost session's gap ended the session in the same step"
    );

    // Another process takes over: the old sink's whole batch is refused.
    let _: () = redis::cmd("SET")
        .arg(redis.keys().fence(s))
        .arg("99:another-owner")
        .query_async(&mut redis.connection())
        .await
        .unwrap();
    let more: Vec<ShardEvent> =
        (41..=45).map(|seq| ShardEvent::new(s, Event::Dispatch(event(s, seq)))).collect();
    let (done, error) = sink.publish_events(&more).await;
    assert_eq!(done, 0);
    assert!(error.is_some_and(|e| e.is_fenced()));
    let len: u64 =
        redis::cmd("XLEN").arg(redis.keys().stream(s)).query_async(&mut redis.connection()).await.unwrap();
    assert_eq!(len, 41);
}

#[tokio::test]
async fn with_shared_dedup_a_duplicate_is_dropped_by_whichever_worker_gets_it() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(0);
    let mut sink = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    for seq in 2..=11 {
        sink.publish(&event(s, seq)).await.unwrap();
    }
    let shared = |name: &str| WorkerConfig { shared_dedup: Some(Duration::from_secs(60)), ..config(name) };
    let first = Tally::default();
    let a = Worker::new(redis.clone(), [s], shared("a")).await.unwrap();
    work_until(a, &first, Duration::from_secs(10), |t| t.distinct() == 10).await;
    // The same events again (a replay); a worker that never saw them gets them.
    let mut replay = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    for seq in 2..=11 {
        replay.publish(&event(s, seq)).await.unwrap();
    }
    let mut b = Worker::new(redis.clone(), [s], shared("b")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while b.stats().duplicates < 10 {
        assert!(Instant::now() < deadline, "{:?}", b.stats());
        let batch = b.next_batch().await.unwrap();
        assert!(batch.is_empty(), "a duplicate was handed out: {batch:?}");
    }
}

#[tokio::test]
async fn entries_trimmed_before_a_group_read_them_are_reported_to_that_group_once() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(0);
    // Two groups on one stream bounded to 20 entries; "slow" reads nothing meanwhile.
    let mut fast =
        Worker::new(redis.clone(), [s], WorkerConfig { group: "fast".into(), ..config("f") }).await.unwrap();
    let slow =
        Worker::new(redis.clone(), [s], WorkerConfig { group: "slow".into(), ..config("s") }).await.unwrap();
    let mut sink =
        StreamSink::new(redis.clone(), s).max_len(20).resuming(Some(&Session::new("sess-1", 1, s)));
    let mut fast_events = 0;
    for seq in 2..=401 {
        sink.publish(&event(s, seq)).await.unwrap();
        // "fast" keeps up: it loses nothing and sees no gap, not even the other group's.
        for delivery in fast.next_batch().await.unwrap() {
            match &delivery.item {
                Item::Event(_) => fast_events += 1,
                other => panic!("fast got {other:?}"),
            }
            fast.ack(&[delivery]).await.unwrap();
        }
    }
    assert_eq!(fast_events, 400);
    let len: u64 =
        redis::cmd("XLEN").arg(redis.keys().stream(s)).query_async(&mut redis.connection()).await.unwrap();
    assert!((20..=23).contains(&len), "bounded: {len}");
    let tally = Tally::default();
    work_until(slow, &tally, Duration::from_secs(10), |t| {
        !t.gaps().is_empty() && t.order().iter().any(|e| e == "TEST_EVENT:0-401")
    })
    .await;
    assert_eq!(tally.gaps().len(), 1, "one report for one falling-behind: {:?}", tally.order());
    assert!(tally.distinct() <= 23, "most were trimmed: {}", tally.distinct());
    // Where the entries were lost: before the first one after them, not after newer ones.
    let order = tally.order();
    assert_eq!(order.first().map(String::as_str), Some("gap:0"), "{order:?}");
    let seqs: Vec<u64> = order[1..].iter().map(|e| e.rsplit('-').next().unwrap().parse().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] + 1 == w[1]), "the rest, in order, without holes: {seqs:?}");
}

#[tokio::test]
async fn a_consumer_group_redis_lost_is_created_again_and_nothing_is_handled_twice() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let s = shard(0);
    let mut sink = StreamSink::new(redis.clone(), s).resuming(Some(&Session::new("sess-1", 1, s)));
    for seq in 2..=11 {
        sink.publish(&event(s, seq)).await.unwrap();
    }
    let mut worker = Worker::new(redis.clone(), [s], config("w")).await.unwrap();
    let mut handled = Vec::new();
    let take = async |worker: &mut Worker, handled: &mut Vec<String>| {
        let batch = worker.next_batch().await?;
        handled.extend(batch.iter().filter_map(|d| match &d.item {
            Item::Event(e) => e.id().map(str::to_owned),
            _ => None,
        }));
        worker.ack(&batch).await
    };
    while handled.len() < 10 {
        take(&mut worker, &mut handled).await.unwrap();
    }
    // Redis comes back without the group (a restart without persistence, say).
    let _: () = redis::cmd("XGROUP")
        .arg("DESTROY")
        .arg(redis.keys().stream(s))
        .arg("workers")
        .query_async(&mut redis.connection())
        .await
        .unwrap();
    for seq in 12..=16 {
        sink.publish(&event(s, seq)).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while handled.len() < 15 {
        assert!(Instant::now() < deadline, "{handled:?}");
        take(&mut worker, &mut handled).await.unwrap();
    }
    let distinct: std::collections::BTreeSet<&String> = handled.iter().collect();
    assert_eq!(distinct.len(), 15);
    assert_eq!(handled.len(), 15, "the stream read again from its start; the first ten dropped by id");
}

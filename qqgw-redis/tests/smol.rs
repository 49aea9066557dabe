//! The same Redis pieces on smol (the runtime of `qqgw-async-std`), with no tokio runtime
//! anywhere in the process's threads that run them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use common::handler::Tally;
use common::redis_server::RedisServer;
use qqgw_proto::{Dispatch, PacerAnswer, Session, SessionStartLimit, ShardId};
use qqgw_redis::{Keys, Lease, Redis, RedisPacer, RedisSessionStore, StreamSink, Worker, WorkerConfig};
use serde_json::value::RawValue;

#[test]
fn leases_fenced_sessions_streams_workers_and_the_pacer_run_on_smol() {
    let server = RedisServer::start();
    smol::block_on(async {
        let redis =
            Redis::connect(&qqgw_async_std::AsyncIo, &server.url(), Keys::for_app("1")).await.unwrap();
        let s = ShardId::ONE;
        let lease = Lease::try_acquire(&redis, s, Duration::from_secs(30)).await.unwrap().unwrap();
        let store = RedisSessionStore::new(redis.clone()).fenced(lease.token().clone());
        store.save_session(&Session::new("sess-1", 1, s)).await.unwrap();
        let mut sink = StreamSink::new(redis.clone(), s)
            .fenced(lease.token().clone())
            .resuming(Some(&Session::new("sess-1", 1, s)));
        for seq in 2..=11 {
            let data = RawValue::from_string(format!(r#"{{"n":{seq}}}"#)).unwrap();
            sink.publish(&Dispatch::new("TEST_EVENT", Some(seq), Some(format!("E:{seq}").into()), s, data))
                .await
                .unwrap();
        }
        assert_eq!(store.load_session(s).await.unwrap(), Some(Session::new("sess-1", 11, s)));
        let pacer = RedisPacer::new(redis.clone(), SessionStartLimit::default());
        assert!(matches!(pacer.acquire(s).await.unwrap(), PacerAnswer::Granted(_)));

        let tally = Tally::default();
        let config = WorkerConfig { block: Duration::from_millis(100), ..WorkerConfig::default() };
        let worker = Worker::new(redis.clone(), [s], config).await.unwrap();
        let done = tally.clone();
        let stop = async move {
            while done.distinct() < 10 {
                smol::Timer::after(Duration::from_millis(5)).await;
            }
        };
        let run = worker.run(&qqgw_async_std::AsyncIo, &tally, stop);
        let stats = futures_util::FutureExt::fuse(run);
        let timeout = futures_util::FutureExt::fuse(smol::Timer::after(Duration::from_secs(20)));
        futures_util::pin_mut!(stats, timeout);
        futures_util::select! {
            stats = stats => assert_eq!(stats.handled, 10),
            _ = timeout => panic!("the worker did not finish on smol: {} handled", tally.distinct()),
        }
        assert!(lease.release(&redis).await.unwrap());
    });
}

#[test]
fn a_cluster_runs_a_shard_on_the_async_io_runtime() {
    use qqgw_redis::{Cluster, ClusterConfig};
    let server = RedisServer::start();
    let mock = qqgw_mock::MockGateway::start_in_thread(qqgw_mock::MockConfig {
        heartbeat_interval: Duration::from_millis(300),
        ..qqgw_mock::MockConfig::default()
    })
    .unwrap();
    smol::block_on(async {
        let redis =
            Redis::connect(&qqgw_async_std::AsyncIo, &server.url(), Keys::for_app(&mock.config().app_id))
                .await
                .unwrap();
        let bot = qqgw_client::Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
            .api_base(mock.api_base())
            .token_url(mock.token_url())
            .allow_insecure(true);
        let cluster =
            Cluster::start(qqgw_async_std::AsyncIo, redis.clone(), bot, ClusterConfig::new(1, 0..1));
        mock.wait_until(|r| r.connected(0), Duration::from_secs(10)).await.unwrap();
        let seq = mock.dispatch(0, "TEST_EVENT", serde_json::json!({}));
        let store = RedisSessionStore::new(redis.clone());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.load_session(ShardId::ONE).await.unwrap().is_none_or(|s| s.seq < seq) {
            assert!(std::time::Instant::now() < deadline, "the checkpoint never reached {seq}");
            smol::Timer::after(Duration::from_millis(10)).await;
        }
        assert_eq!(cluster.running(), vec![ShardId::ONE]);
        cluster.shutdown().await;
        let lease: Option<String> = redis::cmd("GET")
            .arg(redis.keys().lease(ShardId::ONE))
            .query_async(&mut redis.connection())
            .await
            .unwrap();
        assert_eq!(lease, None, "released at shutdown");
    });
}

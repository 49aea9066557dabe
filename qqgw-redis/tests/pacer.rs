//! The identify pacer in Redis, one process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use common::redis_server::RedisServer;
use qqgw_proto::{PacerAnswer, SessionStartLimit, ShardId};
use qqgw_redis::{Keys, Redis, RedisPacer};

fn shard(id: u32) -> ShardId {
    ShardId::new(id, 4).unwrap()
}

fn limit(max_concurrency: u32, remaining: u32) -> SessionStartLimit {
    SessionStartLimit { total: 1000, remaining, reset_after: 86_400_000, max_concurrency }
}

async fn pacer(server: &RedisServer, limit: SessionStartLimit) -> RedisPacer {
    RedisPacer::new(
        Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap(),
        limit,
    )
}

fn wait(answer: PacerAnswer) -> Duration {
    match answer {
        PacerAnswer::Deferred(wait) => wait,
        PacerAnswer::Granted(slot) => panic!("granted {slot:?}"),
    }
}

#[tokio::test]
async fn one_identify_per_bucket_per_window_counted_from_the_send() {
    let server = RedisServer::start();
    let pacer = pacer(&server, limit(2, 1000)).await;
    let PacerAnswer::Granted(slot) = pacer.acquire(shard(0)).await.unwrap() else { panic!() };
    // Same bucket (0 % 2 == 2 % 2): granted but not sent yet, so ask again soon.
    let soon = wait(pacer.acquire(shard(2)).await.unwrap());
    assert!(soon <= Duration::from_millis(500), "{soon:?}");
    // The other bucket is free.
    assert!(matches!(pacer.acquire(shard(1)).await.unwrap(), PacerAnswer::Granted(_)));
    // Sent: the window runs 5 s from now.
    pacer.sent(shard(0), slot).await.unwrap();
    let later = wait(pacer.acquire(shard(2)).await.unwrap());
    assert!(later > Duration::from_millis(4_500) && later <= Duration::from_secs(5), "{later:?}");
}

#[tokio::test]
async fn a_released_slot_frees_its_bucket_and_its_share_of_the_day() {
    let server = RedisServer::start();
    let pacer = pacer(&server, limit(1, 1)).await;
    let PacerAnswer::Granted(slot) = pacer.acquire(shard(0)).await.unwrap() else { panic!() };
    pacer.release(shard(0), slot).await.unwrap();
    let PacerAnswer::Granted(slot) = pacer.acquire(shard(1)).await.unwrap() else { panic!("released") };
    pacer.sent(shard(1), slot).await.unwrap();
    // The day's only session is spent: wait for the reset, a day away.
    let day = wait(pacer.acquire(shard(2)).await.unwrap());
    assert!(day > Duration::from_secs(86_000), "{day:?}");
}

#[tokio::test]
async fn a_slot_granted_to_a_holder_that_crashed_expires_by_itself() {
    let server = RedisServer::start();
    let crashed = pacer(&server, limit(1, 1000)).await.slot_timeout(Duration::from_millis(200));
    let other = pacer(&server, limit(1, 1000)).await;
    assert!(matches!(crashed.acquire(shard(0)).await.unwrap(), PacerAnswer::Granted(_)));
    drop(crashed);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match other.acquire(shard(1)).await.unwrap() {
            PacerAnswer::Granted(_) => break,
            PacerAnswer::Deferred(wait) => {
                assert!(wait <= Duration::from_millis(500), "{wait:?}");
                assert!(std::time::Instant::now() < deadline, "the slot never expired");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[tokio::test]
async fn an_unreachable_redis_defers_rather_than_grants() {
    let server = RedisServer::start();
    let pacer = pacer(&server, limit(1, 1000)).await;
    drop(server);
    let now = std::time::Instant::now();
    let answer =
        qqgw_client::IdentifyPacer::handle(&pacer, shard(0), qqgw_proto::PacerRequest::Acquire, now).await;
    assert_eq!(answer, Some(PacerAnswer::Deferred(qqgw_redis::UNREACHABLE_RETRY)));
}

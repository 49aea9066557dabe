//! Leases, fencing and the session store against a real redis-server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use common::redis_server::RedisServer;
use qqgw_client::SessionStore;
use qqgw_proto::{Session, ShardId};
use qqgw_redis::{Error, Keys, Lease, Redis, RedisSessionStore};

async fn redis(server: &RedisServer) -> Redis {
    Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("102000000")).await.expect("connect")
}

fn shard(id: u32) -> ShardId {
    ShardId::new(id, 4).expect("shard")
}

#[tokio::test]
async fn a_lease_has_one_holder_and_each_acquisition_a_newer_fencing_token() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let ttl = Duration::from_secs(30);
    let first = Lease::try_acquire(&redis, shard(0), ttl).await.unwrap().expect("a free lease");
    // Held: nobody else gets it, however many try.
    for _ in 0..10 {
        assert!(Lease::try_acquire(&redis, shard(0), ttl).await.unwrap().is_none());
    }
    // Another shard's lease is independent.
    let other = Lease::try_acquire(&redis, shard(1), ttl).await.unwrap().expect("shard 1 is free");
    assert!(first.renew(&redis).await.unwrap());
    let first_token = first.token().clone();
    assert!(first.release(&redis).await.unwrap());
    let second = Lease::try_acquire(&redis, shard(0), ttl).await.unwrap().expect("released");
    assert!(second.token().counter() > first_token.counter(), "{} after {first_token}", second.token());
    assert!(other.release(&redis).await.unwrap());
}

#[tokio::test]
async fn concurrent_acquirers_get_the_lease_once() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let tries = (0..32).map(|_| {
        let redis = redis.clone();
        tokio::spawn(async move { Lease::try_acquire(&redis, shard(2), Duration::from_secs(30)).await })
    });
    let mut winners = 0;
    for task in tries {
        if task.await.unwrap().unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn an_expired_lease_goes_to_the_next_and_the_old_owner_can_neither_renew_nor_release_it() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let old = Lease::try_acquire(&redis, shard(0), Duration::from_millis(100)).await.unwrap().unwrap();
    // Poll until it expired and another process took it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let new = loop {
        if let Some(lease) = Lease::try_acquire(&redis, shard(0), Duration::from_secs(30)).await.unwrap() {
            break lease;
        }
        assert!(std::time::Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(!old.renew(&redis).await.unwrap(), "renewing a lease now held by another");
    assert!(!old.release(&redis).await.unwrap(), "releasing a lease now held by another");
    assert!(new.renew(&redis).await.unwrap(), "the new owner keeps it");
}

#[tokio::test]
async fn fencing_rejects_a_stale_owners_checkpoint_write() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let old = Lease::try_acquire(&redis, shard(0), Duration::from_millis(50)).await.unwrap().unwrap();
    let old_store = RedisSessionStore::new(redis.clone()).fenced(old.token().clone());
    old_store.save_session(&Session::new("s-1", 10, shard(0))).await.unwrap();

    // The old owner pauses past its lease; a new owner takes over and moves on.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let new = loop {
        if let Some(lease) = Lease::try_acquire(&redis, shard(0), Duration::from_secs(30)).await.unwrap() {
            break lease;
        }
        assert!(std::time::Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let new_store = RedisSessionStore::new(redis.clone()).fenced(new.token().clone());
    assert_eq!(new_store.load_session(shard(0)).await.unwrap(), Some(Session::new("s-1", 10, shard(0))));
    new_store.save_session(&Session::new("s-1", 20, shard(0))).await.unwrap();

    // The old owner wakes up and writes: refused, naming the fencing.
    let error = old_store.save_session(&Session::new("s-1", 15, shard(0))).await.unwrap_err();
    assert!(matches!(&error, Error::Fenced { token, .. } if token == old.token()), "{error}");
    assert!(error.to_string().contains("fenc"), "{error}");
    // Through the SessionStore trait too, and clear is fenced as well.
    let error = SessionStore::save(&old_store, Session::new("s-2", 1, shard(0))).await.unwrap_err();
    assert!(error.to_string().contains("fenced"), "{error}");
    assert!(old_store.clear_session(shard(0)).await.unwrap_err().is_fenced());
    assert_eq!(new_store.load_session(shard(0)).await.unwrap(), Some(Session::new("s-1", 20, shard(0))));
}

#[tokio::test]
async fn the_store_keeps_sessions_never_moves_back_within_one_and_forgets_on_clear() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let store = RedisSessionStore::new(redis.clone()).ttl(Duration::from_secs(60));
    assert_eq!(store.load(shard(3)).await.unwrap(), None);
    store.save(Session::new("s-a", 7, shard(3))).await.unwrap();
    store.save(Session::new("s-a", 5, shard(3))).await.unwrap();
    assert_eq!(store.load(shard(3)).await.unwrap(), Some(Session::new("s-a", 7, shard(3))));
    // A new session replaces the old whatever its seq.
    store.save(Session::new("s-b", 1, shard(3))).await.unwrap();
    assert_eq!(store.load(shard(3)).await.unwrap(), Some(Session::new("s-b", 1, shard(3))));
    // A TTL is set.
    let ttl: i64 = redis::cmd("PTTL")
        .arg(redis.keys().session(shard(3)))
        .query_async(&mut redis.connection())
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    store.clear(shard(3)).await.unwrap();
    assert_eq!(store.load(shard(3)).await.unwrap(), None);
}

/// Redis loses its latest writes — the acquisition of the current owner among them — and
/// the shard's counter goes back: the next owner draws the very counter the current owner
/// holds. The nonce tells them apart: the stale owner is fenced, the new one writes.
#[tokio::test]
async fn a_counter_rolled_back_by_redis_draws_a_token_the_stale_owner_cannot_pass_with() {
    let server = RedisServer::start();
    let redis = redis(&server).await;
    let ttl = Duration::from_secs(30);
    let before = Lease::try_acquire(&redis, shard(0), ttl).await.unwrap().unwrap();
    assert!(before.release(&redis).await.unwrap());
    let fence: String =
        redis::cmd("GET").arg(redis.keys().fence(shard(0))).query(&mut server.sync()).unwrap();

    let stale = Lease::try_acquire(&redis, shard(0), ttl).await.unwrap().unwrap();
    let stale_store = RedisSessionStore::new(redis.clone()).fenced(stale.token().clone());
    stale_store.save_session(&Session::new("s-1", 10, shard(0))).await.unwrap();

    // The rollback: the lease and the fence as they were before `stale` acquired.
    let _: () = redis::pipe()
        .del(redis.keys().lease(shard(0)))
        .set(redis.keys().fence(shard(0)), &fence)
        .query(&mut server.sync())
        .unwrap();
    let new = Lease::try_acquire(&redis, shard(0), ttl).await.unwrap().unwrap();
    assert_eq!(new.token().counter(), stale.token().counter(), "the same counter, drawn twice");
    assert_ne!(new.token(), stale.token(), "and still two tokens");

    let new_store = RedisSessionStore::new(redis.clone()).fenced(new.token().clone());
    new_store.save_session(&Session::new("s-1", 12, shard(0))).await.unwrap();
    let error = stale_store.save_session(&Session::new("s-1", 20, shard(0))).await.unwrap_err();
    assert!(matches!(&error, Error::Fenced { token, .. } if token == stale.token()), "{error}");
    assert_eq!(new_store.load_session(shard(0)).await.unwrap(), Some(Session::new("s-1", 12, shard(0))));
}

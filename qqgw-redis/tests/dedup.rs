//! Webhook receivers behind a load balancer: QQ's retries reach either instance, and
//! each event is handled once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::Duration;

use common::handler::Tally;
use common::redis_server::RedisServer;
use qqgw_client::{Event, ShardEvent, event_channel};
use qqgw_proto::{Dispatch, ShardId};
use qqgw_redis::{Claim, EventDedup, Keys, Redis};
use serde_json::value::RawValue;

fn event(n: u32) -> Event {
    let data = RawValue::from_string(format!(r#"{{"n":{n}}}"#)).unwrap();
    Event::Dispatch(Dispatch::new(
        "TEST_EVENT",
        None,
        Some(format!("TEST_EVENT:{n}").into()),
        ShardId::ONE,
        data,
    ))
}

#[tokio::test]
async fn two_instances_receiving_qqs_retries_handle_each_event_once() {
    let server = RedisServer::start();
    // Two instances: two connections, one scope.
    let a = EventDedup::new(
        Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap(),
        "webhook",
    );
    let b = EventDedup::new(
        Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap(),
        "webhook",
    );
    let tally = Tally::default();
    let (mut to_a, events_a) = event_channel(64);
    let (mut to_b, events_b) = event_channel(64);
    let (handler_a, handler_b) = (tally.clone(), tally.clone());
    let run_a = tokio::spawn(async move { a.run_handler(events_a, &handler_a).await });
    let run_b = tokio::spawn(async move { b.run_handler(events_b, &handler_b).await });
    // 200 events; QQ delivers each to one instance and retries it (up to 3 times) at
    // either, as if the first answer were late. A delivery not acknowledged (the event
    // was being handled elsewhere) is retried until it is, as QQ would.
    let mut deliveries = Vec::new();
    for n in 0..200u32 {
        for attempt in 0..(1 + n % 3) {
            deliveries.push((n, (n + attempt) % 2 == 0));
        }
    }
    let mut retried = 0;
    while !deliveries.is_empty() {
        let mut answers = Vec::new();
        for &(n, to_a_first) in &deliveries {
            let (delivery, done) = ShardEvent::with_receipt(ShardId::ONE, event(n));
            assert!(if to_a_first { to_a.send(delivery).await } else { to_b.send(delivery).await });
            answers.push(done);
        }
        let mut again = Vec::new();
        for (delivery, done) in deliveries.into_iter().zip(answers) {
            if !tokio::time::timeout(Duration::from_secs(10), done).await.unwrap() {
                again.push(delivery);
            }
        }
        retried += again.len();
        assert!(retried < 1000, "deliveries keep being refused");
        deliveries = again;
    }
    drop((to_a, to_b));
    let (a, b) = (run_a.await.unwrap(), run_b.await.unwrap());
    assert_eq!(tally.distinct(), 200);
    assert_eq!(tally.twice(), 0, "each event handled once: {a:?} {b:?}");
    assert_eq!(a.0 + b.0, 200);
    assert_eq!(a.1 + b.1, (0..200u64).map(|n| n % 3).sum::<u64>() + retried as u64);
}

#[tokio::test]
async fn a_claim_that_was_never_done_lapses_so_a_later_retry_is_handled() {
    let server = RedisServer::start();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap();
    let crashed = EventDedup::new(redis.clone(), "webhook").claim_ttl(Duration::from_millis(100));
    let other = EventDedup::new(redis, "webhook");
    assert_eq!(crashed.claim("E:1").await.unwrap(), Claim::First);
    assert_eq!(other.claim("E:1").await.unwrap(), Claim::Busy, "claimed is not done");
    // The claimer died before handling it: the claim lapses.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while other.claim("E:1").await.unwrap() == Claim::Busy {
        assert!(std::time::Instant::now() < deadline, "the claim never lapsed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    other.done("E:1").await.unwrap();
    assert_eq!(crashed.claim("E:1").await.unwrap(), Claim::Done, "done is remembered");
}

/// Two webhook endpoints (`qqgw-tokio`'s `WebhookServer`) behind a load balancer: QQ
/// POSTs each event to one and retries it at the other; with `EventDedup` in front of the
/// handler, each event is handled once in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_webhook_servers_getting_qqs_retries_handle_each_event_once() {
    use qqgw_proto::webhook::WebhookKey;
    use qqgw_tokio::webhook::{Webhook, WebhookServer};
    const SECRET: &str = "naOC0ocQE3shWLAfffVLB1rhYPG7";
    let server = RedisServer::start();
    let tally = Tally::default();
    let mut urls = Vec::new();
    let mut instances = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (http, events) =
            WebhookServer::bind("127.0.0.1:0", Webhook::from_secret(SECRET).unwrap()).await.unwrap();
        urls.push(format!("http://{}/", http.local_addr()));
        instances.push(http);
        let dedup = EventDedup::new(
            Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap(),
            "webhook",
        );
        let handler = tally.clone();
        runs.push(tokio::spawn(async move { dedup.run_handler(events, &handler).await }));
    }
    let key = WebhookKey::from_secret(SECRET).unwrap();
    let mut deliveries = 0u64;
    for n in 0..30u32 {
        let body = format!(r#"{{"op":0,"s":{n},"t":"TEST_EVENT","id":"TEST_EVENT:{n}","d":{{"n":{n}}}}}"#);
        // The first delivery at one instance, the retries (a new timestamp each) at either.
        for attempt in 0..(1 + n % 3) {
            let url = urls[((n + attempt) % 2) as usize].clone();
            let timestamp =
                (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
                    + u64::from(attempt))
                .to_string();
            let signature = key.sign_callback(&timestamp, body.as_bytes());
            let body = body.clone();
            let status = tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent =
                    ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
                agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .header("X-Signature-Ed25519", &signature)
                    .header("X-Signature-Timestamp", &timestamp)
                    .send(body)
                    .unwrap()
                    .status()
                    .as_u16()
            })
            .await
            .unwrap();
            assert_eq!(status, 200);
            deliveries += 1;
        }
    }
    // Every delivery accepted: the servers stop, their streams end, the runs report.
    drop(instances);
    let mut totals = (0, 0);
    for run in runs {
        let (handled, dropped) = tokio::time::timeout(Duration::from_secs(20), run).await.unwrap().unwrap();
        totals = (totals.0 + handled, totals.1 + dropped);
    }
    assert_eq!(tally.distinct(), 30);
    assert_eq!(tally.twice(), 0, "each event handled once: {totals:?}");
    assert_eq!(totals.0, 30);
    // What a server's own replay memory did not drop (a retry at the same instance), the
    // shared claim did.
    assert!(totals.0 + totals.1 <= deliveries, "{totals:?} of {deliveries}");
    assert!(totals.1 > 0, "retries reached the other instance and were dropped there: {totals:?}");
}

const SECRET: &str = "naOC0ocQE3shWLAfffVLB1rhYPG7";

/// POSTs `body` to `url` signed as QQ would, now; the status.
async fn deliver(url: &str, body: &str) -> u16 {
    use qqgw_proto::webhook::WebhookKey;
    let key = WebhookKey::from_secret(SECRET).unwrap();
    let timestamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let signature = key.sign_callback(&timestamp, body.as_bytes());
    let (url, body) = (url.to_owned(), body.to_owned());
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Signature-Ed25519", &signature)
            .header("X-Signature-Timestamp", &timestamp)
            .send(body)
            .unwrap()
            .status()
            .as_u16()
    })
    .await
    .unwrap()
}

/// A handler that never returns.
struct Hung;

impl qqgw_client::EventHandler for Hung {
    async fn unknown_event(&self, _ctx: qqgw_client::Context) {
        std::future::pending::<()>().await;
    }
}

/// Two webhook servers behind a load balancer; the first takes an event and its handler
/// hangs, then the instance dies. QQ's retries at the other are answered 503 while the
/// dead instance's claim holds — never 200, which would make QQ stop — and once the claim
/// lapses the event is handled there, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_is_not_answered_200_while_another_instance_has_only_claimed_the_event() {
    use qqgw_tokio::webhook::{Webhook, WebhookServer};
    let server = RedisServer::start();
    let claim_ttl = Duration::from_millis(600);
    let instance = async |handler: Option<Tally>| {
        let (http, events) = WebhookServer::builder(Webhook::from_secret(SECRET).unwrap())
            .ack_after_handled(Duration::from_millis(500))
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap();
        let dedup = EventDedup::new(redis, "webhook").claim_ttl(claim_ttl);
        let run = tokio::spawn(async move {
            match handler {
                Some(tally) => dedup.run_handler(events, &tally).await,
                None => dedup.run_handler(events, &Hung).await,
            }
        });
        (format!("http://{}/", http.local_addr()), http, run)
    };
    let tally = Tally::default();
    let (url_a, http_a, run_a) = instance(None).await;
    let (url_b, http_b, run_b) = instance(Some(tally.clone())).await;
    let body = r#"{"op":0,"s":1,"t":"TEST_EVENT","id":"TEST_EVENT:hung","d":{"n":1}}"#;

    // The first delivery, at the instance whose handler hangs: not answered 200.
    assert_eq!(deliver(&url_a, body).await, 503, "not handled in time");
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("1")).await.unwrap();
    let claim = redis.keys().claim("webhook", "TEST_EVENT:hung");
    let claimed: bool = redis::cmd("EXISTS").arg(&claim).query(&mut server.sync()).unwrap();
    assert!(claimed, "the hung handler's instance holds the claim");
    // QQ's retries reach the other instance while the claim is held (and renewed).
    for _ in 0..3 {
        assert_eq!(deliver(&url_b, body).await, 503, "a claim is not a handled event");
        tokio::time::sleep(claim_ttl / 2).await;
    }
    assert_eq!(tally.distinct(), 0);

    // The first instance dies: its claim lapses, and a retry is handled at the other.
    run_a.abort();
    drop(http_a);
    let died = std::time::Instant::now();
    let mut refused = 0;
    loop {
        match deliver(&url_b, body).await {
            200 => break,
            503 => refused += 1,
            other => panic!("answered {other}"),
        }
        assert!(died.elapsed() < Duration::from_secs(10), "never handled after the claim lapsed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(died.elapsed() >= claim_ttl / 2, "handled before the claim could lapse ({refused} refused)");
    assert_eq!(deliver(&url_b, body).await, 200, "a retry of a handled event is a duplicate");
    assert_eq!(deliver(&url_b, body).await, 200);
    drop(http_b);
    let (handled, dropped) = run_b.await.unwrap();
    assert_eq!(tally.handled().get("TEST_EVENT:hung"), Some(&1), "handled exactly once");
    assert_eq!(handled, 1);
    assert!(dropped >= 3 + 2, "{dropped}");
}

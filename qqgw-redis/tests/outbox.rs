//! The outbox against a real redis-server and the mock QQ: every entry answered once,
//! QQ's errors written back, nothing executed twice by id, a dead gateway's requests
//! taken over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::redis_server::RedisServer;
use qqgw_mock::{MockConfig, MockGateway};
use qqgw_redis::redis::AsyncCommands;
use qqgw_redis::{Keys, Outbox, OutboxConfig, Redis};
use serde_json::{Value, json};

async fn setup(server: &RedisServer) -> (Redis, MockGateway, qqgw_client::Api) {
    let mock = MockGateway::start(MockConfig { allow_active_messages: true, ..MockConfig::default() })
        .await
        .unwrap();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app(&mock.config().app_id))
        .await
        .unwrap();
    let config = qqgw_client::Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .allow_insecure(true)
        .build();
    let api = qqgw_client::Api::new(qqgw_tokio::Tokio, &config).unwrap();
    (redis, mock, api)
}

fn config() -> OutboxConfig {
    let mut config = OutboxConfig::default();
    config.block = Duration::from_millis(100);
    config.request_timeout = Duration::from_millis(2_000);
    config.claim_idle = Duration::from_millis(4_000);
    config.max_bytes = 4096;
    config.drain = Duration::from_secs(5);
    config
}

/// Runs `outbox` until `done` holds (polled), within 20 s.
async fn run_until(outbox: Outbox, done: impl AsyncFnMut() -> bool) -> qqgw_redis::OutboxStats {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task =
        tokio::spawn(async move { outbox.run(&qqgw_tokio::Tokio, async { drop(stop_rx.await) }).await });
    let mut done = done;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done().await {
        assert!(Instant::now() < deadline, "not done within 20 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stop_tx);
    task.await.unwrap()
}

fn send(text: &str) -> String {
    json!({"op": "send", "target": {"type": "group", "id": "GROUP1"}, "message": {"content": text}})
        .to_string()
}

async fn results(
    conn: &mut qqgw_redis::redis::aio::ConnectionManager,
    keys: &Keys,
) -> Vec<HashMap<String, String>> {
    let reply: qqgw_redis::redis::streams::StreamRangeReply =
        conn.xrange_all(keys.outbox_results()).await.unwrap();
    reply
        .ids
        .iter()
        .map(|entry| {
            entry
                .map
                .iter()
                .map(|(k, v)| (k.clone(), qqgw_redis::redis::from_redis_value::<String>(v).unwrap()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn every_entry_is_answered_once_and_an_id_is_executed_once() {
    let server = RedisServer::start();
    let (redis, mock, api) = setup(&server).await;
    let keys = redis.keys().clone();
    let mut conn = redis.connection();
    let outbox = keys.outbox();
    let mut add =
        async |fields: &[(&str, String)]| -> String { conn.xadd(&outbox, "*", fields).await.unwrap() };
    let ok_1 = add(&[("v", "1".into()), ("id", "req-1".into()), ("request", send("one"))]).await;
    let ok_2 = add(&[("v", "1".into()), ("id", "req-2".into()), ("request", send("two"))]).await;
    let again = add(&[("v", "1".into()), ("id", "req-1".into()), ("request", send("one again"))]).await;
    let no_id = add(&[("v", "1".into()), ("request", send("no id"))]).await;
    let bad_id = add(&[("id", "a b".into()), ("request", send("bad id"))]).await;
    let newer = add(&[("v", "2".into()), ("id", "req-v2".into()), ("request", send("v2"))]).await;
    let unreadable = add(&[("id", "req-junk".into()), ("request", "{not json".into())]).await;
    let big = add(&[("id", "req-big".into()), ("request", send(&"x".repeat(5000)))]).await;
    let refused = add(&[
        ("id", "req-reply".into()),
        (
            "request",
            json!({"op": "send", "target": {"type": "group", "id": "GROUP1"}, "reply_to": {"message": "NO-SUCH-MSG"},
                   "message": {"content": "late"}})
            .to_string(),
        ),
    ])
    .await;
    let entries = [&ok_1, &ok_2, &again, &no_id, &bad_id, &newer, &unreadable, &big, &refused];

    let outbox = Outbox::new(redis.clone(), api, config()).await.unwrap();
    let mut check = redis.connection();
    let stream = keys.outbox();
    let stats = run_until(outbox, async || {
        let len: u64 = check.xlen(&stream).await.unwrap();
        len == 0
    })
    .await;

    // One answer per distinct entry, none for the repeated id; the stream is empty.
    let answers = results(&mut conn, &keys).await;
    let by_entry: HashMap<&str, Value> = answers
        .iter()
        .map(|a| (a["entry"].as_str(), serde_json::from_str::<Value>(&a["result"]).unwrap()))
        .collect();
    assert_eq!(answers.len(), entries.len() - 1, "{answers:#?}");
    assert!(!by_entry.contains_key(again.as_str()), "a repeated id is answered once");
    for entry in entries.iter().filter(|e| ***e != again) {
        assert!(by_entry.contains_key(entry.as_str()), "entry {entry} unanswered: {answers:#?}");
    }
    let outcome = |entry: &str| by_entry[entry]["error"]["outcome"].as_str().unwrap_or("ok").to_owned();
    assert_eq!(by_entry[ok_1.as_str()]["ok"], json!(true));
    assert_eq!(by_entry[ok_2.as_str()]["ok"], json!(true));
    assert_eq!(outcome(&no_id), "invalid");
    assert_eq!(outcome(&bad_id), "invalid");
    assert_eq!(outcome(&newer), "invalid");
    assert_eq!(outcome(&unreadable), "invalid");
    assert_eq!(outcome(&big), "too_large");
    // QQ's refusal, with its code and trace id, and never a token.
    let error = &by_entry[refused.as_str()]["error"];
    assert_eq!(error["outcome"], json!("reply"), "{error}");
    assert!(error["code"].as_i64().is_some_and(|c| c > 0), "{error}");
    assert!(error["trace_id"].as_str().is_some(), "{error}");
    for answer in &answers {
        assert!(!answer["result"].contains("QQBot"), "a token in {answer:?}");
        assert!(!answer["result"].contains(&mock.config().secret), "the secret in {answer:?}");
    }
    // The answer under the id, with a TTL; the message reached QQ once.
    let kept: String = conn.get(keys.outbox_result("req-1")).await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&kept).unwrap()["entry"], json!(ok_1));
    let ttl: i64 = conn.pttl(keys.outbox_result("req-1")).await.unwrap();
    assert!(ttl > 0);
    // Executed side by side: in either order.
    let mut sent: Vec<String> =
        mock.record().messages_sent().iter().filter_map(|c| c.content().map(str::to_owned)).collect();
    sent.sort();
    assert_eq!(sent, ["one", "two"], "executed once each, the repeated id not at all");
    // The unreadable request is answered by the executor, the other refusals by the script.
    assert_eq!((stats.executed, stats.refused), (4, 4), "{stats:?}");
}

#[tokio::test]
async fn requests_a_dead_gateway_read_are_taken_over_and_answered() {
    let server = RedisServer::start();
    let (redis, mock, api) = setup(&server).await;
    let keys = redis.keys().clone();
    let mut conn = redis.connection();
    let _: String = conn
        .xadd(keys.outbox(), "*", &[("id", "req-dead"), ("request", send("left behind").as_str())])
        .await
        .unwrap();
    // A gateway read it (it is pending to "dead") and died before answering.
    let _: Value = qqgw_redis::redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(keys.outbox())
        .arg("gateways")
        .arg("0")
        .query_async::<qqgw_redis::redis::Value>(&mut conn)
        .await
        .map(|_| Value::Null)
        .unwrap();
    let _: qqgw_redis::redis::Value = qqgw_redis::redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("gateways")
        .arg("dead")
        .arg("STREAMS")
        .arg(keys.outbox())
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();

    let started = Instant::now();
    let outbox = Outbox::new(redis.clone(), api, config()).await.unwrap();
    let mut check = redis.connection();
    let key = keys.outbox_result("req-dead");
    let stats = run_until(outbox, async || check.exists(&key).await.unwrap()).await;
    assert!(started.elapsed() >= Duration::from_secs(4), "taken over only once idle past claim_idle");
    assert_eq!(stats.reclaimed, 1);
    assert_eq!(mock.record().messages_sent().len(), 1);
}

//! Entries written to a real Redis, validated against the stream format's JSON Schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::redis_server::RedisServer;
use qqgw_proto::{Dispatch, Session, ShardId};
use qqgw_redis::redis::AsyncCommands;
use qqgw_redis::{Keys, Lease, Redis, StreamSink};
use serde_json::Value;
use serde_json::value::RawValue;

/// Validates `entries` (field maps of a stream) against the schema, and the JSON in their
/// `event` and `gap` fields against its definitions; panics naming what does not fit.
pub fn validate(entries: &[HashMap<String, String>]) {
    let schema: Value = serde_json::from_str(include_str!("../schema/stream-entry.v1.json")).unwrap();
    let entry = jsonschema::validator_for(&schema).unwrap();
    let event = jsonschema::validator_for(&schema["$defs"]["event"]).unwrap();
    let gap = jsonschema::validator_for(&schema["$defs"]["gap"]).unwrap();
    for fields in entries {
        let instance = serde_json::to_value(fields).unwrap();
        let errors: Vec<String> = entry.iter_errors(&instance).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{fields:?}: {errors:?}");
        if let Some(text) = fields.get("event") {
            let json: Value = serde_json::from_str(text).unwrap();
            assert!(event.is_valid(&json), "event {json}");
            assert_eq!(json["type"], fields["type"]);
            assert_eq!(json["id"].as_str().unwrap_or(""), fields["id"]);
            assert_eq!(json["seq"].as_u64().map(|s| s.to_string()).unwrap_or_default(), fields["seq"]);
        }
        if let Some(text) = fields.get("gap") {
            let json: Value = serde_json::from_str(text).unwrap();
            assert!(gap.is_valid(&json), "gap {json}");
        }
    }
}

#[tokio::test]
async fn events_and_gaps_written_by_the_sink_fit_the_schema() {
    let server = RedisServer::start();
    let redis = Redis::connect(&qqgw_tokio::Tokio, &server.url(), Keys::for_app("102000000")).await.unwrap();
    let shard = ShardId::new(1, 2).unwrap();
    let lease = Lease::try_acquire(&redis, shard, Duration::from_secs(30)).await.unwrap().unwrap();
    let mut sink = StreamSink::new(redis.clone(), shard).fenced(lease.token().clone());
    let data = |json: &str| RawValue::from_string(json.into()).unwrap();
    sink.publish(&Dispatch::new("READY", Some(1), None, shard, data(r#"{"session_id":"s-1","version":1}"#)))
        .await
        .unwrap();
    sink.publish(&Dispatch::new(
        "GROUP_AT_MESSAGE_CREATE",
        Some(2),
        Some("G:1".into()),
        shard,
        data(r#"{"content":"hi","n":[1,{"x":null}]}"#),
    ))
    .await
    .unwrap();
    // A jump in sequence numbers: a seq_jump gap before the event.
    sink.publish(&Dispatch::new("X_EVENT", Some(5), Some("X:5".into()), shard, data(r#""text""#)))
        .await
        .unwrap();
    sink.publish(&Dispatch::new("RESUMED", None, None, shard, data(r#""""#))).await.unwrap();
    sink.session_lost(&Session::new("s-1", 5, shard)).await.unwrap();

    let mut conn = redis.connection();
    let reply: qqgw_redis::redis::streams::StreamRangeReply =
        conn.xrange_all(redis.keys().stream(shard)).await.unwrap();
    let entries: Vec<HashMap<String, String>> = reply
        .ids
        .iter()
        .map(|e| {
            e.map.iter().map(|(k, v)| (k.clone(), qqgw_redis::redis::from_redis_value(v).unwrap())).collect()
        })
        .collect();
    assert_eq!(entries.len(), 6, "{entries:#?}");
    assert_eq!(entries.iter().filter(|e| e.contains_key("gap")).count(), 2);
    validate(&entries);

    // The schema refuses what the format is not.
    let schema: Value = serde_json::from_str(include_str!("../schema/stream-entry.v1.json")).unwrap();
    let entry = jsonschema::validator_for(&schema).unwrap();
    let event = entries.iter().find(|e| e.contains_key("event")).unwrap();
    for (field, bad) in [("seq", "x"), ("shard", "1"), ("v", "2"), ("received_at", "")] {
        let mut broken = event.clone();
        broken.insert(field.into(), bad.into());
        assert!(!entry.is_valid(&serde_json::to_value(&broken).unwrap()), "{field}={bad:?} passed");
    }
    let mut neither = event.clone();
    neither.remove("event");
    assert!(!entry.is_valid(&serde_json::to_value(&neither).unwrap()));
}

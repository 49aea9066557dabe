//! The binary end to end: the real `qqgw-gateway` process against the mock QQ and a
//! redis-server of the test's own, on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const LIMIT: Duration = Duration::from_secs(30);

/// The metrics the README's table says the binary exports in `mode` (`gateway` or
/// `webhook`), once events, a gap and an outbox request went through.
fn documented_for(mode: &str) -> BTreeSet<String> {
    let readme = include_str!("../README.md");
    let table = readme.split("## Metrics").nth(1).unwrap();
    table
        .lines()
        .filter(|l| l.starts_with("| `qqgw_"))
        .filter(|l| l.split('|').nth(5).is_some_and(|c| c.contains(mode)))
        .map(|l| l.split('`').nth(1).unwrap().to_owned())
        .collect()
}

#[test]
fn a_burst_a_gap_a_reply_metrics_and_a_graceful_stop() {
    let redis = RedisServer::start();
    let mock = mock(2);
    let mut conn = conn(&redis);
    let mut gateway = Gateway::start(&mock, &redis, &[("QQ_BOT_SHARDS", "2")]);
    assert_eq!(wait_get(&gateway, "/healthz").0, 200, "alive before ready");
    gateway.wait_ready(LIMIT);

    // A consumer group, as a worker has: its lag is a metric.
    for shard in 0..2 {
        let _: () = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream_key(&mock, shard, 2))
            .arg("workers")
            .arg("0")
            .arg("MKSTREAM")
            .query(&mut conn)
            .unwrap_or(());
    }

    // A scripted burst on both shards reaches the streams, in order, in the format.
    let sent: Vec<Vec<String>> = (0..2).map(|shard| burst(&mock, shard, "a", 100)).collect();
    for shard in 0..2u32 {
        let key = stream_key(&mock, shard, 2);
        wait_for("the burst in the stream", LIMIT, || message_ids(&entries(&mut conn, &key)).len() >= 100);
        let all = entries(&mut conn, &key);
        validate(&all);
        assert_eq!(message_ids(&all), sent[shard as usize], "shard {shard}: every event, in order");
        let ready = &all[0].1;
        assert_eq!(
            (ready["type"].as_str(), ready["shard"].as_str()),
            ("READY", format!("{shard}/2").as_str())
        );
    }

    // Op 9: the session is lost; a gap entry says so, then a new READY.
    let before = mock.record().identifies().len();
    mock.invalid_session(0, false);
    let key0 = stream_key(&mock, 0, 2);
    wait_for("a session_lost gap after op 9", LIMIT, || {
        entries(&mut conn, &key0)
            .iter()
            .any(|(_, f)| f.get("gap").is_some_and(|g| g.contains("session_lost")))
    });
    wait_for("a new session", LIMIT, || mock.record().identifies().len() > before && mock.connected(0));
    wait_for("READY after the gap", LIMIT, || {
        let all = entries(&mut conn, &key0);
        let gap = all.iter().position(|(_, f)| f.contains_key("gap")).unwrap();
        all[gap..].iter().any(|(_, f)| f.get("type").map(String::as_str) == Some("READY"))
    });
    validate(&entries(&mut conn, &key0));

    // A reply through the outbox reaches QQ with the gateway's token and msg_seq 1, and
    // its answer is written back.
    let request = json!({
        "op": "send",
        "target": {"type": "group", "id": "GROUP_OPENID"},
        "reply_to": {"message": "msg-1-a-7"},
        "message": {"content": "echo: hi 7"},
    });
    let outbox = format!("qqgw:{}:outbox", mock.config().app_id);
    let _: String = redis::cmd("XADD")
        .arg(&outbox)
        .arg("*")
        .arg("v")
        .arg("1")
        .arg("id")
        .arg("reply-7")
        .arg("request")
        .arg(request.to_string())
        .query(&mut conn)
        .unwrap();
    let result_key = format!("qqgw:{}:outbox:result:reply-7", mock.config().app_id);
    wait_for("the outbox's answer", LIMIT, || {
        redis::cmd("EXISTS").arg(&result_key).query::<bool>(&mut conn).unwrap()
    });
    let answer: Value =
        serde_json::from_str(&redis::cmd("GET").arg(&result_key).query::<String>(&mut conn).unwrap())
            .unwrap();
    // The request (the JSON inside the entry's `request`) and the answer, in the format.
    let request_schema: Value =
        serde_json::from_str(include_str!("../../qqgw-redis/schema/outbox-request.v1.json")).unwrap();
    let requests =
        jsonschema::validator_for(&json!({"$ref": "#/$defs/request", "$defs": request_schema["$defs"]}))
            .unwrap();
    let answers = jsonschema::validator_for(
        &serde_json::from_str(include_str!("../../qqgw-redis/schema/outbox-result.v1.json")).unwrap(),
    )
    .unwrap();
    assert!(requests.is_valid(&request), "the test's request is one of the format");
    assert!(!requests.is_valid(&json!({"op": "send"})), "the request schema checks");
    assert!(answers.is_valid(&answer), "{answer}");
    assert_eq!(answer["ok"], json!(true), "{answer}");
    assert_eq!(answer["result"]["msg_seq"], json!(1), "{answer}");
    let record = mock.record();
    let sent_reply = record.messages_sent();
    assert_eq!(sent_reply.len(), 1);
    assert_eq!(
        (sent_reply[0].content(), sent_reply[0].msg_id(), sent_reply[0].msg_seq()),
        (Some("echo: hi 7"), Some("msg-1-a-7"), Some(1))
    );

    // /metrics: every metric the README says the gateway exports, with the values the
    // mock's script implies.
    wait_for("heartbeats and a stream sample", LIMIT, || {
        let m = gateway.metrics();
        value(&m, "qqgw_heartbeat_latency_seconds_count", &[]) > 0.0
            && value(&m, "qqgw_stream_consumer_lag", &[("group", "workers")]) > 0.0
    });
    let metrics = gateway.metrics();
    let names = metric_names(&metrics);
    let documented = documented_for("gateway");
    assert!(documented.len() >= 18, "{documented:?}");
    let missing: Vec<_> = documented.difference(&names).collect();
    assert!(missing.is_empty(), "documented but not exported: {missing:?}\n{metrics:#?}");
    for shard in ["0/2", "1/2"] {
        let received = value(
            &metrics,
            "qqgw_events_received_total",
            &[("shard", shard), ("type", "GROUP_AT_MESSAGE_CREATE")],
        );
        assert_eq!(received, 100.0, "shard {shard}");
        let handled = value(
            &metrics,
            "qqgw_events_handled_total",
            &[("shard", shard), ("type", "GROUP_AT_MESSAGE_CREATE")],
        );
        assert_eq!(handled, 100.0, "shard {shard}");
        assert_eq!(value(&metrics, "qqgw_shard_ready", &[("shard", shard)]), 1.0);
    }
    assert_eq!(value(&metrics, "qqgw_sessions_lost_total", &[("shard", "0/2")]), 1.0);
    assert_eq!(
        value(&metrics, "qqgw_sessions_started_total", &[("shard", "0/2"), ("kind", "identify")]),
        2.0
    );
    assert_eq!(
        value(&metrics, "qqgw_reconnects_total", &[("shard", "0/2"), ("cause", "invalid_session")]),
        1.0
    );
    assert_eq!(value(&metrics, "qqgw_stream_gaps_total", &[("shard", "0/2"), ("kind", "session_lost")]), 1.0);
    assert_eq!(value(&metrics, "qqgw_outbox_requests_total", &[("op", "send"), ("outcome", "ok")]), 1.0);
    assert_eq!(value(&metrics, "qqgw_cluster_shards_running", &[]), 2.0);
    // The dashboard queries only what is exported.
    let dashboard = include_str!("../dashboards/qqgw-gateway.json");
    let queried = metrics_queried(dashboard);
    let unexported: Vec<_> = queried.difference(&names).collect();
    assert!(unexported.is_empty(), "the dashboard queries {unexported:?}, which /metrics does not have");
    // No secret in the logs or the metrics.
    let secret = mock.config().secret.clone();
    assert!(!gateway.logs().contains(&secret) && !format!("{metrics:?}").contains(&secret));
    assert!(gateway.logs().contains("session="), "the shard's span names its session");

    // SIGTERM mid-burst: exit 0, and nothing lost: what was received is in the stream,
    // the rest comes with the RESUME of the next start.
    let late = burst(&mock, 1, "b", 200);
    signal(gateway.pid(), "TERM");
    let status = gateway.wait_exit(LIMIT);
    assert_eq!(status.code(), Some(0), "SIGTERM ends the gateway with 0\n{}", gateway.logs());
    let resumes = mock.record().resumes().len();
    let again = Gateway::start(&mock, &redis, &[("QQ_BOT_SHARDS", "2")]);
    again.wait_ready(LIMIT);
    let key1 = stream_key(&mock, 1, 2);
    wait_for("every late event in the stream", LIMIT, || {
        let ids: BTreeSet<String> = message_ids(&entries(&mut conn, &key1)).into_iter().collect();
        late.iter().all(|id| ids.contains(id))
    });
    assert!(mock.record().resumes().len() >= resumes + 2, "both shards RESUMEd after the graceful stop");
    let all = entries(&mut conn, &key1);
    validate(&all);
    assert!(!all.iter().any(|(_, f)| f.contains_key("gap")), "no gap on shard 1: nothing lost");
    let ids = message_ids(&all);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 300, "every event of shard 1 once ({} entries)", ids.len());
}

/// `GET path`, retried until the server answers.
fn wait_get(gateway: &Gateway, path: &str) -> (u16, String) {
    let mut answer = None;
    wait_for("the HTTP server", LIMIT, || {
        answer = gateway.get(path);
        answer.is_some()
    });
    answer.unwrap()
}

#[test]
fn a_killed_gateway_s_shard_is_taken_over_and_nothing_is_lost() {
    let redis = RedisServer::start();
    let mock = mock(2);
    let mut conn = conn(&redis);
    let fast = [("QQGW_LEASE_TTL", "2s")];
    let mut a = Gateway::start(&mock, &redis, &[("QQ_BOT_SHARDS", "0/2"), fast[0]]);
    let b = Gateway::start(&mock, &redis, &[("QQ_BOT_SHARDS", "1/2"), fast[0]]);
    a.wait_ready(LIMIT);
    b.wait_ready(LIMIT);

    let mut sent = burst(&mock, 0, "a", 100);
    signal(a.pid(), "KILL");
    let _ = a.wait_exit(LIMIT);
    sent.extend(burst(&mock, 0, "b", 100));
    let key0 = stream_key(&mock, 0, 2);
    wait_for("shard 0's events, after the takeover", LIMIT, || {
        let ids: BTreeSet<String> = message_ids(&entries(&mut conn, &key0)).into_iter().collect();
        sent.iter().all(|id| ids.contains(id))
    });
    let all = entries(&mut conn, &key0);
    validate(&all);
    let writers: BTreeSet<&str> =
        all.iter().filter_map(|(_, f)| f.get("writer").map(String::as_str)).collect();
    assert!(writers.len() >= 2, "written by both gateways: {writers:?}");
    assert!(!all.iter().any(|(_, f)| f.contains_key("gap")), "taken over by RESUME: no gap");
    assert!(!mock.record().resumes().is_empty(), "b took shard 0 over by RESUME");
    // Readiness is sampled: b reports the shard it took over once it has seen it READY.
    let mut last = None;
    wait_for("b ready with both shards", LIMIT, || {
        last = b.get("/readyz");
        last.as_ref().is_some_and(|(status, body)| *status == 200 && body.contains("[0, 1]"))
    });
    assert!(last.is_some_and(|(_, body)| body.starts_with("ready: shards [0, 1] of 2")));
}

#[test]
fn a_fatal_answer_of_qq_ends_the_gateway_with_its_reason() {
    let redis = RedisServer::start();
    // Credentials rejected.
    let rejecting = mock(1);
    rejecting.reject_credentials(true);
    let mut gateway = Gateway::start(&rejecting, &redis, &[("QQ_BOT_SHARDS", "1")]);
    let status = gateway.wait_exit(LIMIT);
    assert_eq!(status.code(), Some(1));
    let last = gateway.logs().lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("qqgw-gateway: QQ rejected the bot's AppID and AppSecret (code 100016"),
        "{last}"
    );

    // Intents QQ does not grant: 4014.
    let strict = qqgw_mock::MockGateway::start_in_thread(qqgw_mock::MockConfig {
        allowed_intents: qqgw_client::Intents::non_privileged().bits(),
        ..qqgw_mock::MockConfig::default()
    })
    .unwrap();
    let mut gateway = Gateway::start(&strict, &redis, &[("QQ_BOT_SHARDS", "1"), ("QQGW_PREFIX", "strict")]);
    let status = gateway.wait_exit(LIMIT);
    assert_eq!(status.code(), Some(1));
    let last = gateway.logs().lines().last().unwrap_or_default().to_owned();
    assert!(last.starts_with("qqgw-gateway: shard [0, 1] stopped: gateway closed with 4014"), "{last}");
    assert!(last.contains("QQ_BOT_INTENTS"), "{last}");

    // A bad setting: exit 2, before anything starts.
    let mut gateway = Gateway::start(&strict, &redis, &[("QQ_BOT_INTENTS", "NOPE")]);
    assert_eq!(gateway.wait_exit(LIMIT).code(), Some(2));
    assert!(gateway.logs().contains("QQ_BOT_INTENTS: \"NOPE\" is not an intent"));
}

#[test]
fn json_logs_carry_the_shard_and_its_session() {
    let redis = RedisServer::start();
    let mock = mock(1);
    let gateway = Gateway::start(&mock, &redis, &[("QQ_BOT_SHARDS", "1"), ("QQGW_LOG_FORMAT", "json")]);
    gateway.wait_ready(LIMIT);
    let session = mock.session_id(0).unwrap();
    wait_for("a log line in the shard's span with its session", LIMIT, || {
        gateway.logs().lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).any(|line| {
            line["spans"].as_array().is_some_and(|spans| {
                spans
                    .iter()
                    .any(|s| s["name"] == "shard" && s["shard"] == "0/1" && s["session"] == json!(session))
            })
        })
    });
    let lines: Vec<Value> =
        gateway.logs().lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    assert!(!lines.is_empty());
}

/// Webhook mode: QQ's signed callbacks, posted to two instances, reach shard 0's stream
/// in the same format, once each, a retry at the other instance included.
#[test]
fn webhook_callbacks_reach_the_stream_once_across_instances() {
    const SECRET: &str = "DG5g3B4j9X2KOErG";
    const APP_ID: &str = "102012345";
    let redis = RedisServer::start();
    let mut conn = conn(&redis);
    let bot = [("QQ_BOT_APP_ID", APP_ID), ("QQ_BOT_SECRET", SECRET)];
    let start = || {
        let hook = format!("127.0.0.1:{}", free_port());
        let gateway = Gateway::start_with(bot, &redis, &[("QQGW_WEBHOOK", &hook)]);
        gateway.wait_ready(LIMIT);
        (gateway, format!("http://{hook}/qqbot/callback"))
    };
    let (a, url_a) = start();
    let (b, url_b) = start();
    assert_eq!(a.get("/readyz").unwrap().0, 200);

    let key = format!("qqgw:{APP_ID}:stream:0/1");
    // A consumer group, as a worker has: its lag is a metric.
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&key)
        .arg("workers")
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut conn)
        .unwrap();

    let frames: Vec<String> = (0..20).map(|i| webhook_frame(i, "")).collect();
    for (i, frame) in frames.iter().enumerate() {
        let url = if i % 2 == 0 { &url_a } else { &url_b };
        let (status, body) = post_signed(url, SECRET, frame, unix_now());
        assert_eq!((status, body.as_str()), (200, r#"{"op":12,"d":0}"#), "event {i}");
    }
    // QQ retries event 0 at the other instance: acknowledged, not published again.
    let (status, _) = post_signed(&url_b, SECRET, &frames[0], unix_now() + 1);
    assert_eq!(status, 200);
    // A forged one is refused.
    let forged = webhook_frame(99, "");
    let (status, _) = post_signed(&url_a, "not the secret", &forged, unix_now());
    assert_eq!(status, 401);

    // 200 is answered once the event is in the stream: it is there now.
    let all = entries(&mut conn, &key);
    validate(&all);
    let expected: Vec<String> = (0..20).map(|i| format!("msg-webhook-{i}")).collect();
    assert_eq!(message_ids(&all), expected, "each event once, in the order QQ sent them");
    let (_, first) = &all[0];
    assert_eq!(
        (first["type"].as_str(), first["shard"].as_str(), first["id"].as_str()),
        ("GROUP_AT_MESSAGE_CREATE", "0/1", "GROUP_AT_MESSAGE_CREATE:webhook-0")
    );
    assert!(!all.iter().any(|(_, f)| f.contains_key("gap")), "callbacks have no sequence to jump");
    assert!(all.iter().all(|(_, f)| f["seq"].is_empty() && f["session"].is_empty()), "{all:?}");

    // The webhook mode's metrics, as documented, with what was sent.
    let documented = documented_for("webhook");
    wait_for("a stream sample on both", LIMIT, || {
        [&a, &b].iter().all(|g| {
            let m = g.metrics();
            value(&m, "qqgw_stream_length", &[("shard", "0/1")]) >= 20.0
                && value(&m, "qqgw_stream_consumer_lag", &[("shard", "0/1"), ("group", "workers")]) >= 20.0
        })
    });
    let (ma, mb) = (a.metrics(), b.metrics());
    for (name, metrics) in [("a", &ma), ("b", &mb)] {
        let names = metric_names(metrics);
        let missing: Vec<_> = documented.difference(&names).collect();
        assert!(missing.is_empty(), "{name}: documented but not exported: {missing:?}\n{metrics:#?}");
    }
    let sum = |label: &[(&str, &str)], name: &str| value(&ma, name, label) + value(&mb, name, label);
    let group = [("shard", "0/1"), ("type", "GROUP_AT_MESSAGE_CREATE")];
    assert_eq!(sum(&group, "qqgw_events_received_total"), 21.0, "20 events and a retry");
    assert_eq!(sum(&group, "qqgw_events_handled_total"), 20.0);
    assert_eq!(sum(&[("outcome", "first")], "qqgw_webhook_dedup_total"), 20.0);
    assert_eq!(value(&mb, "qqgw_webhook_dedup_total", &[("outcome", "done")]), 1.0);
    let accepted = [("result", "accepted"), ("reason", "event")];
    assert_eq!(sum(&accepted, "qqgw_webhook_requests_total"), 21.0);
    assert_eq!(
        value(&ma, "qqgw_webhook_requests_total", &[("result", "refused"), ("reason", "bad_signature")]),
        1.0
    );
    assert_eq!(value(&ma, "qqgw_stream_consumer_lag", &[("shard", "0/1"), ("group", "workers")]), 20.0);
}

/// A group @-message callback: event id `GROUP_AT_MESSAGE_CREATE:webhook-<i>`, message id
/// `msg-webhook-<i>`.
fn webhook_frame(i: usize, content: &str) -> String {
    json!({
        "op": 0,
        "s": i + 1,
        "t": "GROUP_AT_MESSAGE_CREATE",
        "id": format!("GROUP_AT_MESSAGE_CREATE:webhook-{i}"),
        "d": {
            "id": format!("msg-webhook-{i}"),
            "group_openid": "GROUP_OPENID",
            "content": content,
            "author": {"member_openid": "MEMBER"},
            "timestamp": "2026-12-06T12:00:00+08:00",
        },
    })
    .to_string()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// POSTs `body` signed with `secret`'s key at `timestamp`, as QQ does.
fn post_signed(url: &str, secret: &str, body: &str, timestamp: u64) -> (u16, String) {
    let key = qqgw_proto::webhook::WebhookKey::from_secret(secret).unwrap();
    let timestamp = timestamp.to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let mut response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "QQBot-Callback")
        .header("X-Signature-Ed25519", key.sign_callback(&timestamp, body.as_bytes()))
        .header("X-Signature-Timestamp", &timestamp)
        .header("X-Signature-Method", "Ed25519")
        .header("X-Bot-Appid", "102012345")
        .send(body)
        .unwrap();
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}

//! End-to-end: the tokio adapter against the loopback mock gateway, over real sockets on
//! 127.0.0.1. Every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use qqgw_mock::{MockConfig, MockGateway};
use qqgw_proto::{Backoff, CloseCode, FatalError, TokenError};
use qqgw_tokio::model::Message;
use qqgw_tokio::{
    Client, Config, ConfigBuilder, Context, Error, Event, EventHandler, Events, Intents, Shards,
};

const WAIT: Duration = Duration::from_secs(10);
const HEARTBEAT: Duration = Duration::from_millis(100);

/// Runs a test body with a hard time limit.
async fn bounded<F: Future<Output = ()>>(limit: Duration, body: F) {
    tokio::time::timeout(limit, body).await.expect("the test ran out of time");
}

async fn mock_with(set: impl FnOnce(&mut MockConfig)) -> MockGateway {
    let mut config = MockConfig { heartbeat_interval: HEARTBEAT, ..MockConfig::default() };
    set(&mut config);
    MockGateway::start(config).await.unwrap()
}

async fn mock() -> MockGateway {
    mock_with(|_| {}).await
}

fn config(mock: &MockGateway) -> ConfigBuilder {
    Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        .reconnect_jitter(Duration::ZERO)
        .backoff(Backoff { initial: Duration::from_millis(100), max: Duration::from_millis(400) })
}

/// Events until `n` dispatches other than READY/RESUMED arrived (or time is up).
async fn collect(events: &mut Events, n: usize) -> Vec<qqgw_tokio::Dispatch> {
    let mut out = Vec::new();
    while out.len() < n {
        let Some(event) = tokio::time::timeout(WAIT, events.next()).await.expect("events stopped coming")
        else {
            break;
        };
        if let Event::Dispatch(d) = event.event {
            if !matches!(d.name(), "READY" | "RESUMED") {
                out.push(d);
            }
        }
    }
    out
}

async fn started(mock: &MockGateway, config: Config) -> (Client, Events) {
    let mut client = Client::connect(config).await.unwrap();
    let events = client.take_events().unwrap();
    mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
    (client, events)
}

#[tokio::test]
async fn happy_path_heartbeats_at_hellos_interval() {
    bounded(WAIT, async {
        let mock = mock().await;
        let (client, mut events) = started(&mock, config(&mock).build()).await;
        let record = mock.wait_until(|r| r.heartbeats_of(0).count() >= 5, WAIT).await.unwrap();
        let beats: Vec<_> = record.heartbeats_of(0).collect();
        for pair in beats.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(gap >= Duration::from_millis(80) && gap <= Duration::from_millis(250), "{gap:?}");
        }
        assert!(beats.iter().all(|b| b.2 == Some(1)), "d is READY's seq: {beats:?}");
        let identify = record.identifies()[0];
        assert_eq!(identify.shard(), Some([0, 1]));
        assert_eq!(
            identify.intents(),
            Some((Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT).bits())
        );
        assert!(identify.token().starts_with("QQBot "));

        mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({"content": "hi"}));
        let got = collect(&mut events, 1).await;
        assert_eq!(got[0].name(), "AT_MESSAGE_CREATE");
        let shard = &client.shards()[0];
        assert!(shard.is_ready());
        assert_eq!(shard.last_sequence(), Some(2));
        assert!(shard.session_id().is_some());
        assert!(shard.latency().count() >= 4);
        assert!(record.protocol_errors.is_empty(), "{:?}", record.protocol_errors);
        let sessions = client.shutdown().await.unwrap();
        assert_eq!(sessions.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn rotation_4009_resumes_and_delivers_every_event_once() {
    bounded(WAIT, async {
        let mock = mock().await;
        let (client, mut events) = started(&mock, config(&mock).build()).await;
        for i in 0..5 {
            mock.dispatch(0, "C2C_MESSAGE_CREATE", serde_json::json!({ "n": i }));
        }
        let mut got = collect(&mut events, 5).await;
        mock.close(0, 4009);
        for i in 5..10 {
            mock.dispatch(0, "C2C_MESSAGE_CREATE", serde_json::json!({ "n": i }));
        }
        mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), WAIT).await.unwrap();
        for i in 10..15 {
            mock.dispatch(0, "C2C_MESSAGE_CREATE", serde_json::json!({ "n": i }));
        }
        got.extend(collect(&mut events, 10).await);
        let n: Vec<u64> =
            got.iter().map(|d| d.parse::<serde_json::Value>().unwrap()["n"].as_u64().unwrap()).collect();
        assert_eq!(n, (0..15).collect::<Vec<_>>());
        let record = mock.record();
        assert_eq!(record.identifies().len(), 1);
        assert_eq!(record.resumes()[0].seq(), Some(6), "RESUME carries the last seq");
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn op7_reconnects_and_resumes() {
    bounded(WAIT, async {
        let mock = mock().await;
        let (client, _events) = started(&mock, config(&mock).build()).await;
        mock.reconnect(0);
        let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), WAIT).await.unwrap();
        assert_eq!(record.connections[0].close_code_sent_by_client, Some(4000));
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn op9_false_identifies_afresh() {
    bounded(Duration::from_secs(20), async {
        let mock = mock().await;
        let (client, _events) = started(&mock, config(&mock).build()).await;
        mock.invalid_session(0, false);
        let record = mock
            .wait_until(|r| r.identifies().len() == 2 && r.connected(0), Duration::from_secs(15))
            .await
            .unwrap();
        assert!(record.resumes().is_empty());
        assert!(record.pacing_violations.is_empty(), "{:?}", record.pacing_violations);
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn zombie_connection_is_replaced_within_two_intervals() {
    bounded(WAIT, async {
        let mock = mock().await;
        let (client, _events) = started(&mock, config(&mock).build()).await;
        mock.wait_until(|r| r.heartbeats_of(0).count() >= 2, WAIT).await.unwrap();
        let since = std::time::Instant::now();
        mock.withhold_acks(0, true);
        let record = mock.wait_until(|r| r.resumes().len() == 1, WAIT).await.unwrap();
        let took = since.elapsed();
        assert!(took <= HEARTBEAT * 2 + Duration::from_millis(150), "zombie replaced after {took:?}");
        mock.withhold_acks(0, false);
        mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
        assert_eq!(record.connections[0].close_code_sent_by_client, Some(4000));
        assert_eq!(client.shards()[0].metrics().zombies, 1);
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn fatal_close_codes_stop_after_one_connection() {
    for code in [4914, 4915, 4013] {
        bounded(WAIT, async {
            let mock = mock().await;
            let (client, mut events) = started(&mock, config(&mock).build()).await;
            mock.close(0, code);
            let mut fatal = None;
            while let Some(event) = events.next().await {
                if let Event::Fatal(error) = event.event {
                    fatal = Some(error);
                }
            }
            assert!(
                matches!(fatal, Some(FatalError::Closed { code: c, .. }) if c == CloseCode(code)),
                "{code}"
            );
            let error = client.shutdown().await.unwrap_err();
            assert!(error.is_fatal());
            assert!(error.to_string().contains(&code.to_string()), "{error}");
            tokio::time::sleep(HEARTBEAT * 3).await; // nothing reconnects
            assert_eq!(mock.record().connections.len(), 1, "{code}");
        })
        .await;
    }
}

#[tokio::test]
async fn auth_failure_4004_fetches_a_new_token() {
    bounded(WAIT, async {
        let mock = mock().await;
        let (client, _events) = started(&mock, config(&mock).build()).await;
        let before = mock.record().token_requests.len();
        mock.close(0, 4004);
        let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), WAIT).await.unwrap();
        assert!(record.token_requests.len() > before);
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn rejected_credentials_are_a_clear_error_without_retries() {
    bounded(WAIT, async {
        let mock = mock().await;
        let config = Config::builder(mock.config().app_id.clone(), "wrong-secret")
            .api_base(mock.api_base())
            .token_url(mock.token_url())
            .build();
        let error = Client::connect(config).await.unwrap_err();
        assert!(matches!(error, Error::Token(TokenError::Rejected { code: 100_016, .. })), "{error}");
        assert!(error.is_fatal());
        tokio::time::sleep(Duration::from_millis(300)).await;
        let record = mock.record();
        assert_eq!(record.token_requests.len(), 1);
        assert!(record.connections.is_empty());
    })
    .await;
}

#[tokio::test]
async fn an_expired_token_is_replaced_before_resuming() {
    bounded(WAIT, async {
        let mock = mock_with(|c| c.token_lifetime = Duration::from_secs(2)).await;
        let (client, _events) = started(&mock, config(&mock).build()).await;
        tokio::time::sleep(Duration::from_millis(2_300)).await;
        mock.close(0, 4009);
        let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), WAIT).await.unwrap();
        let first = record.identifies()[0].token().to_owned();
        assert_ne!(record.resumes()[0].token(), first, "RESUME used a fresh token");
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn garbage_is_survived_and_unknown_events_delivered() {
    bounded(WAIT, async {
        let mock = mock().await;
        let (client, mut events) = started(&mock, config(&mock).build()).await;
        mock.send_raw(0, "not json at all");
        mock.send_raw(0, r#"{"op":3}"#);
        mock.send_binary(0, &[0xff, 0x00, 0x13]);
        mock.dispatch(0, "FUTURE_EXAMPLE_EVENT_CREATE", serde_json::json!({"payload": {"count": 3}}));
        let mut decode_failures = 0;
        let mut unknown = None;
        while unknown.is_none() {
            let event = tokio::time::timeout(WAIT, events.next()).await.unwrap().unwrap();
            match event.event {
                Event::DecodeFailed(_) => decode_failures += 1,
                Event::Dispatch(d) if d.name() == "FUTURE_EXAMPLE_EVENT_CREATE" => unknown = Some(d),
                _ => {}
            }
        }
        assert_eq!(decode_failures, 3);
        assert_eq!(unknown.unwrap().data().get(), r#"{"payload":{"count":3}}"#);
        assert!(client.shards()[0].is_ready());
        assert_eq!(mock.record().connections.len(), 1);
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn three_shards_identify_five_seconds_apart() {
    bounded(Duration::from_secs(30), async {
        let mock = mock_with(|c| c.shards = 3).await;
        let client = Client::connect(config(&mock).build()).await.unwrap();
        assert_eq!(client.shards().len(), 3);
        let record =
            mock.wait_until(|r| (0..3).all(|s| r.connected(s)), Duration::from_secs(20)).await.unwrap();
        let mut times: Vec<_> = record
            .connections
            .iter()
            .filter(|c| c.auth.as_ref().is_some_and(|a| a.is_identify()))
            .map(|c| c.opened_at)
            .collect();
        times.sort();
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(4_900), "{:?}", pair[1] - pair[0]);
        }
        assert!(record.pacing_violations.is_empty());
        let mut shards: Vec<_> = record.identifies().iter().filter_map(|a| a.shard()).collect();
        shards.sort_unstable();
        assert_eq!(shards, [[0, 3], [1, 3], [2, 3]]);
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_burst_of_20000_events_arrives_exactly_once_through_a_small_buffer() {
    bounded(Duration::from_secs(60), async {
        let mock = mock_with(|c| c.heartbeat_interval = Duration::from_secs(5)).await;
        let (client, mut events) = started(&mock, config(&mock).event_buffer(64).build()).await;
        mock.burst(0, 20_000, "GROUP_AT_MESSAGE_CREATE");
        let got = collect(&mut events, 20_000).await;
        let seqs: Vec<u64> = got.iter().filter_map(qqgw_tokio::Dispatch::seq).collect();
        assert_eq!(seqs.len(), 20_000);
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, none twice, none missing");
        client.shutdown().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn graceful_shutdown_returns_sessions_and_a_new_client_resumes_them() {
    bounded(WAIT, async {
        let mock = mock().await;
        let (client, mut events) = started(&mock, config(&mock).build()).await;
        mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({}));
        collect(&mut events, 1).await;
        let sessions = client.shutdown().await.unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].seq, 2);
        mock.wait_until(|r| !r.connected(0), WAIT).await.unwrap();
        mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({"while": "away"}));

        let restored: Vec<qqgw_proto::Session> =
            serde_json::from_str(&serde_json::to_string(&sessions).unwrap()).unwrap();
        let mut client = Client::connect(config(&mock).sessions(restored).build()).await.unwrap();
        let mut events = client.take_events().unwrap();
        let got = collect(&mut events, 1).await;
        assert_eq!(got[0].data().get(), r#"{"while":"away"}"#);
        let record = mock.record();
        assert_eq!(record.identifies().len(), 1);
        assert_eq!(record.resumes()[0].session_id(), Some(sessions[0].id.as_str()));
        client.shutdown().await.unwrap();
    })
    .await;
}

/// Counts the callbacks the handler API made, by method name.
#[derive(Clone, Default)]
struct Counting(Arc<Mutex<BTreeMap<&'static str, u32>>>);

impl Counting {
    fn count(&self, method: &'static str) {
        *self.0.lock().unwrap().entry(method).or_default() += 1;
    }
}

macro_rules! counting_handler {
    ($( $name:ident => $variant:ident($model:ident) $method:ident, $intent:ident, $doc:literal; )*) => {
        impl EventHandler for Counting {
            $(
                async fn $method(&self, _ctx: Context, _event: qqgw_tokio::model::$model) {
                    self.count(stringify!($method));
                }
            )*
            async fn unknown_event(&self, _ctx: Context) {
                self.count("unknown_event");
            }
        }
    };
}
qqgw_proto::event_table!(counting_handler);

#[tokio::test]
async fn every_documented_event_reaches_its_callback() {
    bounded(WAIT, async {
        let mock = mock().await;
        let client = Client::connect(config(&mock).build()).await.unwrap();
        let stop = client.shutdown_handle();
        let counting = Counting::default();
        let running = tokio::spawn(client.run(counting.clone()));
        mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
        let kinds: Vec<_> = qqgw_tokio::model::EventKind::ALL
            .iter()
            .filter(|k| !matches!(k.as_str(), "READY" | "RESUMED"))
            .collect();
        for kind in &kinds {
            mock.dispatch(0, kind.as_str(), serde_json::json!({}));
        }
        mock.dispatch(0, "SOMETHING_NEW", serde_json::json!({}));
        let expected = kinds.len() + 2; // + READY + unknown
        while counting.0.lock().unwrap().values().sum::<u32>() < u32::try_from(expected).unwrap() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.close();
        running.await.unwrap().unwrap();
        let counts = counting.0.lock().unwrap().clone();
        for kind in &kinds {
            let method = kind.as_str().to_lowercase();
            assert_eq!(counts.get(method.as_str()), Some(&1), "{method}");
        }
        assert_eq!(counts.get("ready"), Some(&1));
        assert_eq!(counts.get("unknown_event"), Some(&1));
    })
    .await;
}

/// A handler that takes its time.
struct Slow;

impl EventHandler for Slow {
    async fn at_message_create(&self, _ctx: Context, _msg: Message) {
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

#[tokio::test]
async fn a_slow_handler_does_not_delay_heartbeats() {
    bounded(WAIT, async {
        let mock = mock().await;
        let client = Client::connect(config(&mock).event_buffer(2).build()).await.unwrap();
        let stop = client.shutdown_handle();
        let running = tokio::spawn(client.run(Slow));
        mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
        let start = std::time::Instant::now();
        for _ in 0..3 {
            mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({}));
        }
        let record =
            mock.wait_until(|r| r.heartbeats_of(0).filter(|h| h.0 > start).count() >= 8, WAIT).await.unwrap();
        let beats: Vec<_> = record.heartbeats_of(0).filter(|h| h.0 > start).collect();
        for pair in beats.windows(2) {
            assert!(
                pair[1].0 - pair[0].0 <= Duration::from_millis(250),
                "heartbeat delayed: {:?}",
                pair[1].0 - pair[0].0
            );
        }
        assert_eq!(record.connections.len(), 1, "no reconnect was needed");
        stop.close();
        running.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn explicit_shard_ranges_run_only_those_shards() {
    bounded(WAIT, async {
        let mock = mock_with(|c| c.shards = 4).await;
        let config = config(&mock).shards(Shards::Range { ids: 2..3, total: 4 }).build();
        let client = Client::connect(config).await.unwrap();
        assert_eq!(client.shards().len(), 1);
        let record = mock.wait_until(|r| r.connected(2), WAIT).await.unwrap();
        assert_eq!(record.identifies()[0].shard(), Some([2, 4]));
        client.shutdown().await.unwrap();
    })
    .await;
}

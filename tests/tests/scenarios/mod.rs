//! End-to-end scenarios: an adapter against the loopback mock gateway, over real sockets
//! on 127.0.0.1. Each is generic over the adapter's runtime and bounded in time;
//! `tokio.rs`, `async_std.rs` and `smol.rs` run all of them with [`runtime_tests!`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use qqgw_client::model::Message;
use qqgw_client::{
    Client, Config, ConfigBuilder, Context, Error, Event, EventHandler, Events, Intents, Runtime, Shards,
};
use qqgw_mock::{MockConfig, MockGateway};
use qqgw_proto::{Backoff, CloseCode, FatalError, TokenError};

mod api;
mod chaos;
mod delivery;
mod send;
mod stream;
pub(crate) use api::{
    a_handler_acks_an_interaction_in_one_line, every_error_class_is_recognised_and_retried_as_the_table_says,
    every_route_is_called_as_qq_documents_and_its_answer_read, recall_works_in_the_four_places_once,
};
pub(crate) use chaos::{
    a_storm_of_op7_after_every_resumed_is_paced_and_keeps_the_session,
    chaos_soak_loses_nothing_and_recovers_within_two_seconds,
};
pub(crate) use delivery::{
    a_hundred_conversations_run_side_by_side_each_in_order,
    a_slow_handler_reading_a_5000_event_replay_loses_nothing_and_never_identifies,
};
pub(crate) use send::{
    a_send_only_api_fetches_its_own_token_and_refuses_plaintext,
    an_echo_bot_replies_with_the_message_id_and_the_next_msg_seq,
    concurrent_replies_to_one_message_never_reuse_a_msg_seq,
    each_refusal_is_typed_and_only_transient_ones_are_retried, every_endpoint_sends_what_qq_documents,
    handlers_reply_in_dms_and_to_events,
};
pub(crate) use stream::{
    a_64_mib_upload_in_parts_survives_a_failed_part_and_resumes,
    a_dropped_stream_is_closed_in_the_background, a_thousand_chunk_stream_arrives_in_order_and_ends_once,
};

const WAIT: Duration = Duration::from_secs(10);
const HEARTBEAT: Duration = Duration::from_millis(100);

/// Runs every scenario as a `#[test]` on one runtime: `runtime_tests!(Runtime, block_on)`
/// where `block_on` runs a future to completion on that runtime.
#[macro_export]
macro_rules! runtime_tests {
    ($runtime:ty, $block_on:path) => {
        $crate::runtime_tests!(@each $runtime, $block_on,
            happy_path_heartbeats_at_hellos_interval,
            rotation_4009_resumes_and_delivers_every_event_once,
            op7_reconnects_and_resumes,
            op9_false_identifies_afresh,
            zombie_connection_is_replaced_within_two_intervals,
            fatal_close_codes_stop_after_one_connection,
            auth_failure_4004_fetches_a_new_token,
            rejected_credentials_are_a_clear_error_without_retries,
            unreachable_endpoints_are_named_in_the_error,
            refused_intents_are_named_in_the_error,
            plaintext_endpoints_are_refused_unless_allowed,
            an_expired_token_is_replaced_before_resuming,
            garbage_is_survived_and_unknown_events_delivered,
            three_shards_identify_five_seconds_apart,
            a_burst_of_20000_events_arrives_exactly_once_through_a_small_buffer,
            graceful_shutdown_returns_sessions_and_a_new_client_resumes_them,
            every_documented_event_reaches_its_callback,
            a_slow_handler_does_not_delay_heartbeats,
            explicit_shard_ranges_run_only_those_shards,
            chaos_soak_loses_nothing_and_recovers_within_two_seconds,
            a_storm_of_op7_after_every_resumed_is_paced_and_keeps_the_session,
            a_slow_handler_reading_a_5000_event_replay_loses_nothing_and_never_identifies,
            a_hundred_conversations_run_side_by_side_each_in_order,
            an_echo_bot_replies_with_the_message_id_and_the_next_msg_seq,
            concurrent_replies_to_one_message_never_reuse_a_msg_seq,
            every_endpoint_sends_what_qq_documents,
            handlers_reply_in_dms_and_to_events,
            each_refusal_is_typed_and_only_transient_ones_are_retried,
            a_send_only_api_fetches_its_own_token_and_refuses_plaintext,
            every_route_is_called_as_qq_documents_and_its_answer_read,
            every_error_class_is_recognised_and_retried_as_the_table_says,
            a_handler_acks_an_interaction_in_one_line,
            recall_works_in_the_four_places_once,
            a_thousand_chunk_stream_arrives_in_order_and_ends_once,
            a_dropped_stream_is_closed_in_the_background,
            a_64_mib_upload_in_parts_survives_a_failed_part_and_resumes,
        );
    };
    (@each $runtime:ty, $block_on:path, $($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                $block_on(scenarios::$name::<$runtime>());
            }
        )*
    };
}

/// Sleeps on the runtime `R`.
async fn sleep<R: Runtime + Default>(duration: Duration) {
    R::default().sleep_until(std::time::Instant::now() + duration).await;
}

/// `future`'s output, or `None` after `limit`, on the runtime `R`.
async fn within<R: Runtime + Default, T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    let timer = sleep::<R>(limit);
    futures_util::pin_mut!(future, timer);
    match futures_util::future::select(future, timer).await {
        futures_util::future::Either::Left((value, _)) => Some(value),
        futures_util::future::Either::Right(_) => None,
    }
}

/// Runs a test body with a hard time limit.
async fn bounded<R: Runtime + Default, F: Future<Output = ()>>(limit: Duration, body: F) {
    within::<R, _>(limit, body).await.expect("the test ran out of time");
}

fn mock_with(set: impl FnOnce(&mut MockConfig)) -> MockGateway {
    let mut config = MockConfig { heartbeat_interval: HEARTBEAT, ..MockConfig::default() };
    set(&mut config);
    MockGateway::start_in_thread(config).unwrap()
}

fn mock() -> MockGateway {
    mock_with(|_| {})
}

fn config(mock: &MockGateway) -> ConfigBuilder {
    Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        // The mock serves plain http:// and ws:// on loopback.
        .allow_insecure(true)
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        .reconnect_jitter(Duration::ZERO)
        .backoff(Backoff { initial: Duration::from_millis(100), max: Duration::from_millis(400) })
}

/// Events until `n` dispatches other than READY/RESUMED arrived (or time is up).
async fn collect<R: Runtime + Default>(events: &mut Events, n: usize) -> Vec<qqgw_client::Dispatch> {
    let mut out = Vec::new();
    while out.len() < n {
        let Some(event) = within::<R, _>(WAIT, events.next()).await.expect("events stopped coming") else {
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

/// Stops a client the way a consumer that is done does: its stream goes, then the
/// client closes (which otherwise waits for the consumer to finish what it took).
async fn stop<R: Runtime>(client: Client<R>, events: Events) -> Result<Vec<qqgw_proto::Session>, Error> {
    drop(events);
    client.shutdown().await
}

async fn started<R: Runtime + Default>(mock: &MockGateway, config: Config) -> (Client<R>, Events) {
    let mut client = Client::<R>::connect(config).await.unwrap();
    let events = client.take_events().unwrap();
    mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
    (client, events)
}

pub(crate) async fn happy_path_heartbeats_at_hellos_interval<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, mut events) = started::<R>(&mock, config(&mock).build()).await;
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
        let got = collect::<R>(&mut events, 1).await;
        assert_eq!(got[0].name(), "AT_MESSAGE_CREATE");
        let shard = &client.shards()[0];
        assert!(shard.is_ready());
        assert_eq!(shard.last_sequence(), Some(2));
        assert!(shard.session_id().is_some());
        assert!(shard.latency().count() >= 4);
        assert!(record.protocol_errors.is_empty(), "{:?}", record.protocol_errors);
        let sessions = stop(client, events).await.unwrap();
        assert_eq!(sessions.len(), 1);
    })
    .await;
}

pub(crate) async fn rotation_4009_resumes_and_delivers_every_event_once<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, mut events) = started::<R>(&mock, config(&mock).build()).await;
        for i in 0..5 {
            mock.dispatch(0, "C2C_MESSAGE_CREATE", serde_json::json!({ "n": i }));
        }
        let mut got = collect::<R>(&mut events, 5).await;
        mock.close(0, 4009);
        for i in 5..10 {
            mock.dispatch(0, "C2C_MESSAGE_CREATE", serde_json::json!({ "n": i }));
        }
        mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), WAIT).await.unwrap();
        for i in 10..15 {
            mock.dispatch(0, "C2C_MESSAGE_CREATE", serde_json::json!({ "n": i }));
        }
        got.extend(collect::<R>(&mut events, 10).await);
        let n: Vec<u64> =
            got.iter().map(|d| d.parse::<serde_json::Value>().unwrap()["n"].as_u64().unwrap()).collect();
        assert_eq!(n, (0..15).collect::<Vec<_>>());
        let record = mock.record();
        assert_eq!(record.identifies().len(), 1);
        assert_eq!(record.resumes()[0].seq(), Some(6), "RESUME carries the last seq");
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn op7_reconnects_and_resumes<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        mock.reconnect(0);
        let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), WAIT).await.unwrap();
        assert_eq!(record.connections[0].close_code_sent_by_client, Some(4000));
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn op9_false_identifies_afresh<R: Runtime + Default>() {
    bounded::<R, _>(Duration::from_secs(20), async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        mock.invalid_session(0, false);
        let record = mock
            .wait_until(|r| r.identifies().len() == 2 && r.connected(0), Duration::from_secs(15))
            .await
            .unwrap();
        assert!(record.resumes().is_empty());
        assert!(record.pacing_violations.is_empty(), "{:?}", record.pacing_violations);
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn zombie_connection_is_replaced_within_two_intervals<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        mock.wait_until(|r| r.heartbeats_of(0).count() >= 2, WAIT).await.unwrap();
        let since = std::time::Instant::now();
        // A dead peer: no ACKs, no answer to a close, the TCP connection left open.
        mock.zombie(0);
        let record = mock.wait_until(|r| r.resumes().len() == 1, WAIT).await.unwrap();
        let took = since.elapsed();
        assert!(took <= HEARTBEAT * 2 + Duration::from_millis(150), "zombie replaced after {took:?}");
        mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
        // Nobody is asked to close a dead link: the socket is dropped.
        assert_eq!(record.connections[0].close_code_sent_by_client, None);
        assert_eq!(client.shards()[0].metrics().zombies, 1);
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn fatal_close_codes_stop_after_one_connection<R: Runtime + Default>() {
    for code in [4914, 4915, 4013] {
        bounded::<R, _>(WAIT, async {
            let mock = mock();
            let (client, mut events) = started::<R>(&mock, config(&mock).build()).await;
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
            let error = stop(client, events).await.unwrap_err();
            assert!(error.is_fatal());
            assert!(error.to_string().contains(&code.to_string()), "{error}");
            sleep::<R>(HEARTBEAT * 3).await; // nothing reconnects
            assert_eq!(mock.record().connections.len(), 1, "{code}");
        })
        .await;
    }
}

pub(crate) async fn auth_failure_4004_fetches_a_new_token<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        let before = mock.record().token_requests.len();
        mock.close(0, 4004);
        let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), WAIT).await.unwrap();
        assert!(record.token_requests.len() > before);
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn plaintext_endpoints_are_refused_unless_allowed<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let plain = || {
            Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
                .api_base(mock.api_base())
                .token_url(mock.token_url())
        };
        let error = Client::<R>::connect(plain().build()).await.unwrap_err();
        assert!(
            matches!(error, Error::InsecureEndpoint { endpoint: "token URL", expected: "https://", .. }),
            "{error}"
        );
        assert!(error.is_fatal());
        assert!(error.to_string().contains("allow_insecure"), "the error says how to opt in: {error}");
        // Refused before a byte was sent: the secret never crossed the network.
        let record = mock.record();
        assert!(record.token_requests.is_empty() && record.connections.is_empty());
        // An explicit opt-in connects.
        let client = Client::<R>::connect(plain().allow_insecure(true).build()).await.unwrap();
        assert_eq!(mock.record().token_requests.len(), 1);
        client.shutdown().await.unwrap();
    })
    .await;
}

pub(crate) async fn rejected_credentials_are_a_clear_error_without_retries<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let config = Config::builder(mock.config().app_id.clone(), "wrong-secret")
            .api_base(mock.api_base())
            .token_url(mock.token_url())
            .allow_insecure(true)
            .build();
        let error = Client::<R>::connect(config).await.unwrap_err();
        assert!(matches!(error, Error::Token(TokenError::Rejected { code: 100_016, .. })), "{error}");
        assert!(error.is_fatal());
        sleep::<R>(Duration::from_millis(300)).await;
        let record = mock.record();
        assert_eq!(record.token_requests.len(), 1);
        assert!(record.connections.is_empty());
    })
    .await;
}

/// A loopback URL nothing listens on: a port the OS gave out and took back.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

pub(crate) async fn unreachable_endpoints_are_named_in_the_error<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        // An unreachable or rate-limited token endpoint is retried, never the end of the
        // start: only rejected credentials are.
        let token_url = format!("{}/app/getAppAccessToken", closed_port_url());
        let start = Client::<R>::connect(config(&mock).token_url(token_url.clone()).build());
        assert!(within::<R, _>(Duration::from_millis(500), start).await.is_none(), "still retrying");
        mock.rate_limit_token_requests(2);
        let client = Client::<R>::connect(config(&mock).build()).await.unwrap();
        let limited = mock
            .record()
            .token_requests
            .iter()
            .filter(|t| matches!(t.outcome, qqgw_mock::TokenOutcome::RateLimited))
            .count();
        assert_eq!(limited, 2);
        client.shutdown().await.unwrap();

        let api_base = closed_port_url();
        let error = Client::<R>::connect(config(&mock).api_base(api_base.clone()).build()).await.unwrap_err();
        assert!(matches!(error, Error::Http(_)), "{error:?}");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("GET {api_base}/gateway/bot (on the API base) failed: ")),
            "{message}"
        );
        let token = mock.record().token_requests.iter().find_map(|t| match &t.outcome {
            qqgw_mock::TokenOutcome::Issued { token, .. } => Some(token.clone()),
            _ => None,
        });
        assert!(!message.contains(&token.unwrap()), "{message}");
    })
    .await;
}

pub(crate) async fn refused_intents_are_named_in_the_error<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock_with(|c| c.allowed_intents = Intents::non_privileged().bits());
        let client = Client::<R>::connect(config(&mock).build()).await.unwrap();
        let error = client.run(Counting::default()).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "shard [0, 1] stopped: gateway closed with 4014 (intents not permitted): intents not permitted; \
             the bot asked for intents GUILDS | GUILD_MEMBERS | GROUP_AND_C2C_EVENT | PUBLIC_GUILD_MESSAGES \
             (1107296259): ask QQ to grant them to the bot, or leave out those it lacks (QQ_BOT_INTENTS)"
        );
    })
    .await;
}

pub(crate) async fn an_expired_token_is_replaced_before_resuming<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock_with(|c| c.token_lifetime = Duration::from_secs(2));
        let (client, events) = started::<R>(&mock, config(&mock).build()).await;
        sleep::<R>(Duration::from_millis(2_300)).await;
        mock.close(0, 4009);
        let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), WAIT).await.unwrap();
        let first = record.identifies()[0].token().to_owned();
        assert_ne!(record.resumes()[0].token(), first, "RESUME used a fresh token");
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn garbage_is_survived_and_unknown_events_delivered<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, mut events) = started::<R>(&mock, config(&mock).build()).await;
        mock.send_raw(0, "not json at all");
        mock.send_raw(0, r#"{"op":3}"#);
        mock.send_binary(0, &[0xff, 0x00, 0x13]);
        mock.dispatch(0, "FUTURE_EXAMPLE_EVENT_CREATE", serde_json::json!({"payload": {"count": 3}}));
        let mut decode_failures = 0;
        let mut unknown = None;
        while unknown.is_none() {
            let event = within::<R, _>(WAIT, events.next()).await.unwrap().unwrap();
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
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn three_shards_identify_five_seconds_apart<R: Runtime + Default>() {
    bounded::<R, _>(Duration::from_secs(30), async {
        let mock = mock_with(|c| c.shards = 3);
        let client = Client::<R>::connect(config(&mock).build()).await.unwrap();
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

pub(crate) async fn a_burst_of_20000_events_arrives_exactly_once_through_a_small_buffer<
    R: Runtime + Default,
>() {
    bounded::<R, _>(Duration::from_secs(60), async {
        let mock = mock_with(|c| c.heartbeat_interval = Duration::from_secs(5));
        let (client, mut events) = started::<R>(&mock, config(&mock).event_buffer(64).build()).await;
        mock.burst(0, 20_000, "GROUP_AT_MESSAGE_CREATE");
        let got = collect::<R>(&mut events, 20_000).await;
        let seqs: Vec<u64> = got.iter().filter_map(qqgw_client::Dispatch::seq).collect();
        assert_eq!(seqs.len(), 20_000);
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, none twice, none missing");
        stop(client, events).await.unwrap();
    })
    .await;
}

pub(crate) async fn graceful_shutdown_returns_sessions_and_a_new_client_resumes_them<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let (client, mut events) = started::<R>(&mock, config(&mock).build()).await;
        mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({}));
        collect::<R>(&mut events, 1).await;
        let sessions = stop(client, events).await.unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].seq, 2);
        mock.wait_until(|r| !r.connected(0), WAIT).await.unwrap();
        mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({"while": "away"}));

        let restored: Vec<qqgw_proto::Session> =
            serde_json::from_str(&serde_json::to_string(&sessions).unwrap()).unwrap();
        let mut client = Client::<R>::connect(config(&mock).sessions(restored).build()).await.unwrap();
        let mut events = client.take_events().unwrap();
        let got = collect::<R>(&mut events, 1).await;
        assert_eq!(got[0].data().get(), r#"{"while":"away"}"#);
        let record = mock.record();
        assert_eq!(record.identifies().len(), 1);
        assert_eq!(record.resumes()[0].session_id(), Some(sessions[0].id.as_str()));
        stop(client, events).await.unwrap();
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
                async fn $method(&self, _ctx: Context, _event: qqgw_client::model::$model) {
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

pub(crate) async fn every_documented_event_reaches_its_callback<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        // The mock sends only what the intents cover: ask for every event.
        let client = Client::<R>::connect(config(&mock).intents(Intents::all()).build()).await.unwrap();
        let stop = client.shutdown_handle();
        let counting = Counting::default();
        let script = async {
            mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
            let kinds: Vec<_> = qqgw_client::model::EventKind::ALL
                .iter()
                .filter(|k| !matches!(k.as_str(), "READY" | "RESUMED"))
                .collect();
            for kind in &kinds {
                mock.dispatch(0, kind.as_str(), serde_json::json!({}));
            }
            mock.dispatch(0, "SOMETHING_NEW", serde_json::json!({}));
            let expected = kinds.len() + 2; // + READY + unknown
            while counting.0.lock().unwrap().values().sum::<u32>() < u32::try_from(expected).unwrap() {
                sleep::<R>(Duration::from_millis(10)).await;
            }
            stop.close();
            kinds
        };
        let (run, kinds) = futures_util::future::join(client.run(counting.clone()), script).await;
        run.unwrap();
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
struct Slow<R>(R);

impl<R: Runtime + Default> EventHandler for Slow<R> {
    async fn at_message_create(&self, _ctx: Context, _msg: Message) {
        sleep::<R>(Duration::from_millis(400)).await;
    }
}

pub(crate) async fn a_slow_handler_does_not_delay_heartbeats<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock();
        let client = Client::<R>::connect(config(&mock).event_buffer(2).build()).await.unwrap();
        let stop = client.shutdown_handle();
        let script = async {
            mock.wait_until(|r| r.connected(0), WAIT).await.unwrap();
            let start = std::time::Instant::now();
            for _ in 0..3 {
                mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({}));
            }
            let record = mock
                .wait_until(|r| r.heartbeats_of(0).filter(|h| h.0 > start).count() >= 8, WAIT)
                .await
                .unwrap();
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
        };
        let (run, ()) = futures_util::future::join(client.run(Slow(R::default())), script).await;
        run.unwrap();
    })
    .await;
}

pub(crate) async fn explicit_shard_ranges_run_only_those_shards<R: Runtime + Default>() {
    bounded::<R, _>(WAIT, async {
        let mock = mock_with(|c| c.shards = 4);
        let config = config(&mock).shards(Shards::Range { ids: 2..3, total: 4 }).build();
        let client = Client::<R>::connect(config).await.unwrap();
        assert_eq!(client.shards().len(), 1);
        let record = mock.wait_until(|r| r.connected(2), WAIT).await.unwrap();
        assert_eq!(record.identifies()[0].shard(), Some([2, 4]));
        client.shutdown().await.unwrap();
    })
    .await;
}

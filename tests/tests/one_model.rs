//! One model of QQ behind every fake: a fact of QQ changed in `qqgw_fake::QqConfig` shows
//! in the mock server, the simulation and the virtual-clock fake gateway at once, since
//! each is a transport over `qqgw_fake::Qq`. The fact here is how QQ numbers RESUMED,
//! on which QQ's documents and its servers disagree.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use futures_util::StreamExt;
use qqgw_client::{Config, Event, Intents};
use qqgw_fake::{FakeGateway, Harness, QqConfig, ResumedSeq};
use qqgw_mock::{MockConfig, MockGateway};
use qqgw_proto::CloseCode;

const WAIT: Duration = Duration::from_secs(10);

/// The `s` of the RESUMED a machine got from the fake gateway after a rotation.
fn harness_resumed_seq(resumed_seq: ResumedSeq) -> Option<u64> {
    let config = qqgw_proto::Config::builder("wss://fake/", Intents::non_privileged())
        .reconnect_jitter(Duration::ZERO)
        .build()
        .unwrap();
    let gateway = FakeGateway::new(QqConfig { resumed_seq, ..QqConfig::default() });
    let mut h = Harness::with_gateway(config, gateway);
    h.run_for(Duration::from_secs(1));
    h.gateway.close(CloseCode::SESSION_TIMED_OUT);
    h.run_for(Duration::from_secs(1));
    let resumed = h.dispatches().find(|d| d.name() == "RESUMED").expect("a RESUMED");
    resumed.seq()
}

/// The `s` of the RESUMED a whole client got from the mock server after a rotation.
fn mock_resumed_seq(resumed_seq: ResumedSeq) -> Option<u64> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        tokio::time::timeout(WAIT, async {
            let mock = MockGateway::start(MockConfig {
                heartbeat_interval: Duration::from_millis(200),
                resumed_seq,
                ..MockConfig::default()
            })
            .await
            .unwrap();
            let config = Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
                .api_base(mock.api_base())
                .token_url(mock.token_url())
                .allow_insecure(true)
                .reconnect_jitter(Duration::ZERO)
                .build();
            let mut client = qqgw_tokio::Client::connect(config).await.unwrap();
            let mut events = client.take_events().unwrap();
            let mut seq = None;
            while let Some(event) = events.next().await {
                match event.event {
                    Event::Dispatch(d) if d.name() == "READY" => drop(mock.close(0, 4009)),
                    Event::Dispatch(d) if d.name() == "RESUMED" => {
                        seq = d.seq();
                        break;
                    }
                    _ => {}
                }
            }
            drop(events);
            client.shutdown().await.unwrap();
            seq
        })
        .await
        .expect("a RESUMED in time")
    })
}

/// How many RESUMEDs of a day of simulated faults carried a number, of how many RESUMEs.
fn simulated_resumed(resumed_seq: ResumedSeq) -> (u64, u64) {
    let mut config = qqgw_sim::SimConfig::new(3, 2, 1);
    config.qq.resumed_seq = resumed_seq;
    let summary = qqgw_sim::run(&config);
    (summary.resumed_numbered, summary.resumes)
}

#[test]
fn how_qq_numbers_resumed_is_one_fact_for_every_fake() {
    assert_eq!(QqConfig::default().resumed_seq, ResumedSeq::Next, "the model's default");

    // QQ numbers RESUMED: every fake shows it.
    assert!(harness_resumed_seq(ResumedSeq::Next).is_some());
    assert!(mock_resumed_seq(ResumedSeq::Next).is_some());
    let (numbered, resumes) = simulated_resumed(ResumedSeq::Next);
    assert!(resumes > 0 && numbered > 0, "{numbered} of {resumes}");

    // Changed in the model, it changes in every fake at once.
    assert_eq!(harness_resumed_seq(ResumedSeq::None), None);
    assert_eq!(mock_resumed_seq(ResumedSeq::None), None);
    let (numbered, resumes) = simulated_resumed(ResumedSeq::None);
    assert!(resumes > 0, "the simulated day had RESUMEs");
    assert_eq!(numbered, 0);
}

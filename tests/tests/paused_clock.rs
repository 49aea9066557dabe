//! A whole `Client` on tokio's paused clock: every deadline the client computes is read
//! from the runtime (`Runtime::now`), so hours of a bot's life pass in a moment, with the
//! mock on the same runtime and real sockets on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use qqgw_client::{Config, Intents};
use qqgw_mock::{MockConfig, MockGateway};

#[tokio::test(start_paused = true)]
async fn three_hours_of_heartbeats_on_a_paused_clock() {
    let started = std::time::Instant::now();
    // QQ's own heartbeat interval: 45 s.
    let mock = MockGateway::start(MockConfig::default()).await.unwrap();
    let config = Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .allow_insecure(true)
        .intents(Intents::non_privileged())
        .build();
    let client = qqgw_tokio::Client::connect(config).await.unwrap();
    let virtual_start = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
    let record = mock.record();
    let beats = record.heartbeats_of(0).count();
    // One heartbeat every 45 s of virtual time: 240 in three hours.
    assert!((235..=241).contains(&beats), "{beats} heartbeats");
    assert_eq!(record.connections.len(), 1, "no heartbeat was missed, no link taken for dead");
    assert!(record.protocol_errors.is_empty(), "{:?}", record.protocol_errors);
    assert!(client.shards()[0].is_ready());
    assert!(tokio::time::Instant::now() - virtual_start >= Duration::from_secs(3 * 3600));
    client.shutdown().await.unwrap();
    // Three hours of the bot's time took real seconds: the clock was the runtime's.
    assert!(started.elapsed() < Duration::from_secs(120), "took {:?}", started.elapsed());
}

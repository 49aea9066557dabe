//! What a bot's log shows, read from a subscriber as an operator would see it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use qqgw_client::{Config, Event, Intents};
use qqgw_mock::{MockConfig, MockGateway};

const WAIT: Duration = Duration::from_secs(10);

/// Every log line written, for the test to read.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_new_session_after_op9_is_named_once_per_line() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_env_filter("qqgw_client=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        tokio::time::timeout(WAIT, async {
            let mock = MockGateway::start(MockConfig {
                heartbeat_interval: Duration::from_millis(200),
                ..MockConfig::default()
            })
            .await
            .unwrap();
            let config = Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
                .api_base(mock.api_base())
                .token_url(mock.token_url())
                .intents(Intents::non_privileged())
                .allow_insecure(true)
                .reconnect_jitter(Duration::ZERO)
                .build();
            let mut client = qqgw_tokio::Client::connect(config).await.unwrap();
            let mut events = client.take_events().unwrap();
            let mut readies = 0;
            while let Some(event) = events.next().await {
                if matches!(&event.event, Event::Dispatch(d) if d.name() == "READY") {
                    readies += 1;
                    if readies == 2 {
                        break;
                    }
                    // Not resumable: the shard IDENTIFYs again and gets a second session.
                    mock.invalid_session(0, false);
                }
            }
            drop(events);
            client.shutdown().await.unwrap();
        })
        .await
        .expect("the test ran out of time");
    });
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let ready: Vec<&str> = log.lines().filter(|l| l.contains(" ready ")).collect();
    assert_eq!(ready.len(), 2, "{log}");
    for line in log.lines() {
        assert!(line.matches("session=").count() <= 1, "{line}");
    }
    assert_ne!(ready[0].split("session=").nth(1), ready[1].split("session=").nth(1), "{log}");
}

//! What a bot's log shows, read from a subscriber as an operator would see it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qqgw_client::model::{Message, Ready};
use qqgw_client::{Config, Context, EventHandler, Intents, ShutdownHandle};
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

/// A handler that asks the mock for a non-resumable op 9 after its first READY, sends
/// one message after the second, and closes the client once that message is handled.
struct Bot {
    mock: Arc<MockGateway>,
    stop: Mutex<Option<ShutdownHandle>>,
    readies: Mutex<u32>,
}

impl EventHandler for Bot {
    async fn ready(&self, _ctx: Context, _ready: Ready) {
        let mut readies = self.readies.lock().unwrap();
        *readies += 1;
        if *readies == 1 {
            // Not resumable: the shard IDENTIFYs again and gets a second session.
            self.mock.invalid_session(0, false);
        } else {
            self.mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({"id": "M1", "content": "hi"}));
        }
    }

    async fn at_message_create(&self, _ctx: Context, _msg: Message) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            stop.close();
        }
    }
}

#[test]
fn each_session_each_event_and_each_loss_is_one_line() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_env_filter("qqgw_client=debug")
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
            let mock = Arc::new(mock);
            let config = Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
                .api_base(mock.api_base())
                .token_url(mock.token_url())
                .intents(Intents::non_privileged())
                .allow_insecure(true)
                .reconnect_jitter(Duration::ZERO)
                .build();
            let client = qqgw_tokio::Client::connect(config).await.unwrap();
            let bot = Bot { mock, stop: Mutex::new(Some(client.shutdown_handle())), readies: Mutex::new(0) };
            client.run(bot).await.unwrap();
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
    // READY says what the bot asked for: a session without the events one expects is
    // explained by its intents.
    assert!(ready[0].contains("intents=GUILDS | GUILD_MEMBERS | PUBLIC_GUILD_MESSAGES"), "{log}");
    // The lost session is one warning; the op 9 that lost it is routine.
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("session lost"), "{log}");
    // Each event is one debug line naming it.
    let event = log.lines().find(|l| l.contains("name=\"AT_MESSAGE_CREATE\"")).expect(&log);
    assert!(
        event.contains("DEBUG") && event.contains("seq=") && event.contains("id=") && event.contains("shard"),
        "{event}"
    );
}

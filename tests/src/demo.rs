//! The `demo` example of both adapters: a bot against this mock, with a session rotation
//! and a zombie connection, that must lose and duplicate nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use qqgw_client::model::{C2cMessage, GroupMessage, Message, Ready, Resumed};
use qqgw_client::{Client, Config, Context, Disconnect, EventHandler, Intents, Runtime, ShardId};
use tracing::info;

use crate::{MockConfig, MockGateway};

/// What the demo saw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DemoReport {
    /// Messages the mock sent.
    pub sent: usize,
    /// Distinct messages the bot handled.
    pub handled: usize,
    /// Messages the bot handled more than once.
    pub duplicated: usize,
    /// Connections opened.
    pub connects: u64,
    /// RESUMEs sent.
    pub resumes: u64,
    /// Zombie connections detected.
    pub zombies: u64,
}

impl DemoReport {
    /// Whether every message arrived exactly once and the zombie was caught.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.handled == self.sent && self.duplicated == 0 && self.zombies == 1
    }
}

/// Replies (in the log) to every message, and counts what it saw.
#[derive(Clone, Default)]
struct Bot {
    seen: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl Bot {
    fn reply(&self, ctx: &Context, kind: &str, content: Option<String>) {
        let id = ctx.event_id().unwrap_or("?").to_owned();
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner).entry(id).or_default() += 1;
        info!(seq = ?ctx.seq(), "reply to {kind} message {:?}: 收到!", content.unwrap_or_default());
    }
}

impl EventHandler for Bot {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        info!(session = ?ready.session_id, "bot is ready");
    }
    async fn resumed(&self, _ctx: Context, _resumed: Resumed) {
        info!("bot resumed its session");
    }
    async fn at_message_create(&self, ctx: Context, msg: Message) {
        self.reply(&ctx, "guild", msg.content);
    }
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        self.reply(&ctx, "group", msg.content);
    }
    async fn c2c_message_create(&self, ctx: Context, msg: C2cMessage) {
        self.reply(&ctx, "private", msg.content);
    }
    async fn disconnected(&self, shard: ShardId, disconnect: Disconnect) {
        info!(%shard, cause = ?disconnect.cause, next = ?disconnect.next, "the bot saw its connection end");
    }
}

/// Runs the demo on the runtime `R` and prints a summary to stdout.
///
/// # Errors
///
/// If the mock cannot start, the bot cannot connect, or a step does not happen in time.
pub async fn run<R: Runtime + Default>() -> Result<DemoReport, Box<dyn std::error::Error + Send + Sync>> {
    if std::env::var_os("QQ_BOT_APP_ID").is_some() && std::env::var_os("QQ_BOT_SECRET").is_some() {
        println!("QQ_BOT_APP_ID and QQ_BOT_SECRET are set, but this demo always runs against the mock.");
        println!("To connect to QQ with them, run the `tail` example of your adapter.");
    }
    let interval = Duration::from_millis(500);
    let mock =
        MockGateway::start_in_thread(MockConfig { heartbeat_interval: interval, ..MockConfig::default() })?;
    let config = Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        // The mock serves plain http:// and ws:// on loopback.
        .allow_insecure(true)
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        .reconnect_jitter(Duration::from_millis(100))
        .build();
    let client = Client::<R>::connect(config).await?;
    let runtime = client.runtime().clone();
    let shard = client.shards().first().cloned().ok_or("the mock announces one shard")?;
    let stop = client.shutdown_handle();
    let bot = Bot::default();

    let script = async {
        let wait = Duration::from_secs(10);
        mock.wait_until(|r| r.readies(0) == 1, wait).await?;
        let mut sent = 0;
        for text in ["<@!bot> /天气 深圳", "<@!bot> hello"] {
            mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({ "content": text }));
            sent += 1;
        }
        mock.wait_until(|r| r.heartbeats_of(0).count() > 0, wait).await?;

        println!("--- QQ rotates the session (close 4009); two events are sent while the bot is away");
        mock.close(0, 4009);
        mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", serde_json::json!({ "content": " /签到" }));
        mock.dispatch(0, "C2C_MESSAGE_CREATE", serde_json::json!({ "content": "在吗" }));
        sent += 2;
        let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), wait).await?;

        println!("--- the connection turns zombie: QQ stops acknowledging heartbeats");
        // Once the new connection is healthy (a heartbeat acknowledged), stop answering.
        let beats = record.heartbeats_of(0).count();
        mock.wait_until(|r| r.heartbeats_of(0).count() > beats, wait).await?;
        runtime.sleep(Duration::from_millis(50)).await;
        mock.withhold_acks(0, true);
        mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({ "content": "<@!bot> still there?" }));
        sent += 1;
        mock.wait_until(|r| r.resumes().len() == 2, wait).await?;
        mock.withhold_acks(0, false);
        mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", serde_json::json!({ "content": " /again" }));
        sent += 1;
        mock.wait_until(|r| r.connected(0), wait).await?;
        runtime.sleep(interval).await;

        println!("--- graceful shutdown");
        stop.close();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(sent)
    };
    let (sessions, sent) = futures_util::future::join(client.run(bot.clone()), script).await;
    let (sessions, sent) = (sessions?, sent?);

    let metrics = shard.metrics();
    let seen = bot.seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let report = DemoReport {
        sent,
        handled: seen.len(),
        duplicated: seen.values().filter(|&&n| n > 1).count(),
        connects: metrics.connects,
        resumes: metrics.resumes,
        zombies: metrics.zombies,
    };
    println!();
    println!("summary");
    println!(
        "  messages sent by QQ: {}, handled by the bot: {} ({} twice)",
        sent, report.handled, report.duplicated
    );
    println!(
        "  connections {}, IDENTIFY {}, RESUME {}, zombies {}, replays dropped {}",
        metrics.connects, metrics.identifies, metrics.resumes, metrics.zombies, metrics.replays_dropped
    );
    println!("  heartbeats sent {}, acknowledged {}", metrics.heartbeats_sent, metrics.heartbeats_acked);
    println!("  session kept for a restart: {:?}", sessions.first().map(|s| (&s.id, s.seq)));
    if report.ok() {
        println!("  every event delivered exactly once");
    }
    Ok(report)
}

//! A bot against the embedded mock QQ gateway: no credentials, no network.
//!
//! It answers messages in the log, lives through a session rotation (close 4009) and a
//! zombie connection (heartbeats no longer acknowledged) while events keep coming, and
//! shows that every event arrived exactly once.
//!
//! ```text
//! cargo run -p qqgw-tokio --example demo
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qqgw_mock::{MockConfig, MockGateway};
use qqgw_tokio::model::{C2cMessage, GroupMessage, Message, Ready, Resumed};
use qqgw_tokio::{Client, Config, Context, Disconnect, EventHandler, Intents, ShardId};
use tracing::info;

/// Replies (in the log) to every message, and counts what it saw.
#[derive(Clone, Default)]
struct Bot {
    seen: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl Bot {
    fn saw(&self, ctx: &Context) {
        let id = ctx.event_id().unwrap_or("?").to_owned();
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default() += 1;
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
        self.saw(&ctx);
        info!(seq = ?ctx.seq(), "reply to guild message {:?}: 收到!", msg.content.unwrap_or_default());
    }
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        self.saw(&ctx);
        info!(seq = ?ctx.seq(), "reply to group message {:?}: 收到!", msg.content.unwrap_or_default());
    }
    async fn c2c_message_create(&self, ctx: Context, msg: C2cMessage) {
        self.saw(&ctx);
        info!(seq = ?ctx.seq(), "reply to private message {:?}: 收到!", msg.content.unwrap_or_default());
    }
    async fn disconnected(&self, shard: ShardId, disconnect: Disconnect) {
        info!(%shard, cause = ?disconnect.cause, next = ?disconnect.next, "the bot saw its connection end");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,qqgw_mock=warn".into()),
        )
        .with_target(false)
        .init();
    if std::env::var_os("QQ_BOT_APP_ID").is_some() && std::env::var_os("QQ_BOT_SECRET").is_some() {
        println!("QQ_BOT_APP_ID and QQ_BOT_SECRET are set, but this demo always runs against the mock.");
        println!("To connect to QQ with them, run: cargo run -p qqgw-tokio --example tail");
    }

    let interval = Duration::from_millis(500);
    let mock =
        MockGateway::start(MockConfig { heartbeat_interval: interval, ..MockConfig::default() }).await?;
    let config = Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        .reconnect_jitter(Duration::from_millis(100))
        .build();
    let client = Client::connect(config).await?;
    let shard = client.shards().first().cloned().ok_or("the mock announces one shard")?;
    let stop = client.shutdown_handle();
    let bot = Bot::default();
    let running = tokio::spawn(client.run(bot.clone()));
    let wait = Duration::from_secs(10);

    mock.wait_until(|r| r.readies(0) == 1, wait).await?;
    let mut sent = 0;
    for text in ["<@!bot> /天气 深圳", "<@!bot> hello"] {
        mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({ "content": text }));
        sent += 1;
    }
    mock.wait_until(|r| r.heartbeats.iter().any(|h| h.1 == 0), wait).await?;

    println!("--- QQ rotates the session (close 4009); two events are sent while the bot is away");
    mock.close(0, 4009);
    mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", serde_json::json!({ "content": " /签到" }));
    mock.dispatch(0, "C2C_MESSAGE_CREATE", serde_json::json!({ "content": "在吗" }));
    sent += 2;
    mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), wait).await?;

    println!("--- the connection turns zombie: QQ stops acknowledging heartbeats");
    let before = shard.metrics().heartbeats_acked;
    while shard.metrics().heartbeats_acked == before {
        tokio::time::sleep(Duration::from_millis(20)).await; // let the new connection become healthy
    }
    mock.withhold_acks(0, true);
    mock.dispatch(0, "AT_MESSAGE_CREATE", serde_json::json!({ "content": "<@!bot> still there?" }));
    sent += 1;
    mock.wait_until(|r| r.resumes().len() == 2, wait).await?;
    mock.withhold_acks(0, false);
    mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", serde_json::json!({ "content": " /again" }));
    sent += 1;
    mock.wait_until(|r| r.connected(0) && r.readies(0) == 1, wait).await?;
    tokio::time::sleep(interval).await;

    println!("--- graceful shutdown");
    stop.close();
    let sessions = running.await??;
    let metrics = shard.metrics();
    let seen = bot.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let twice = seen.values().filter(|&&n| n > 1).count();
    println!();
    println!("summary");
    println!("  messages sent by QQ: {sent}, handled by the bot: {} ({} twice)", seen.len(), twice);
    println!(
        "  connections {}, IDENTIFY {}, RESUME {}, zombies {}, replays dropped {}",
        metrics.connects, metrics.identifies, metrics.resumes, metrics.zombies, metrics.replays_dropped
    );
    println!("  heartbeats sent {}, acknowledged {}", metrics.heartbeats_sent, metrics.heartbeats_acked);
    println!("  session kept for a restart: {:?}", sessions.first().map(|s| (&s.id, s.seq)));
    if seen.len() != sent || twice > 0 || metrics.zombies != 1 {
        eprintln!("demo failed: events were lost or duplicated, or no zombie was detected");
        std::process::exit(1);
    }
    println!("  every event delivered exactly once");
    Ok(())
}

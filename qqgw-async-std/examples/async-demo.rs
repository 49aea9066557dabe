//! A bot that prints the messages it gets, on async-std (the adapter runs unchanged on
//! smol too), against a mock QQ gateway on 127.0.0.1: no credentials, no network.
//!
//! ```text
//! cargo run -p qqgw-async-std --example async-demo
//! ```
//!
//! The bot is the part to copy: an [`EventHandler`] with one callback per kind of message,
//! each answering with [`Context::reply`], and the five lines of `main` that configure and
//! connect it. The rest plays QQ: the mock
//! sends messages, rotates the session (close 4009) while two more are on their way, and
//! then stops acknowledging heartbeats (a zombie connection). The bot's output is on
//! stdout, qqgw's log on stderr (`RUST_LOG=debug` for more).
//!
//! The demo exits 0 only if every message reached the bot exactly once and the zombie was
//! caught; else 1. The replies the mock accepted are listed at the end.

use std::collections::HashMap;
use std::error::Error;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_std::channel::{Receiver, Sender, unbounded};
use qqgw_async_std::api::Replyable;
use qqgw_async_std::model::{C2cMessage, GroupMessage, Message, Ready};
use qqgw_async_std::{Client, Config, Context, Disconnect, EventHandler, Intents, ShardId, ShutdownHandle};
use qqgw_mock::{MockConfig, MockGateway};
use serde_json::json;
use tracing_subscriber::EnvFilter;

/// The bot. It prints every message and answers it where it came from: `ctx.reply` quotes
/// the message's id as `msg_id` (with the next `msg_seq` in groups and C2C chats).
///
/// It also counts the messages by id, so that the demo can tell whether one was lost or
/// delivered twice.
#[derive(Clone)]
struct Bot {
    seen: Arc<Mutex<HashMap<String, u32>>>,
    handled: Sender<()>,
}

impl Bot {
    async fn on_message<M: Replyable>(
        &self,
        ctx: &Context,
        place: &str,
        msg: &M,
        id: Option<String>,
        content: Option<String>,
    ) {
        let id = id.unwrap_or_default();
        let content = content.unwrap_or_default();
        println!("{place}: {content:?} (msg_id {id}, seq {:?})", ctx.seq());
        match ctx.reply(msg, format!("收到: {}", content.trim())).await {
            Ok(sent) => {
                let seq = sent.msg_seq.map(|s| format!(", msg_seq {s}")).unwrap_or_default();
                println!("  ↳ replied \"收到: {}\" (msg_id {id}{seq})", content.trim());
            }
            Err(error) => println!("  ↳ no reply: {error}"),
        }
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner).entry(id).or_default() += 1;
        let _ = self.handled.try_send(());
    }

    fn handled(&self) -> usize {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl EventHandler for Bot {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        println!("ready, session {}", ready.session_id.unwrap_or_default());
    }

    /// A message that @-mentions the bot in a guild channel (PUBLIC_GUILD_MESSAGES).
    async fn at_message_create(&self, ctx: Context, msg: Message) {
        self.on_message(&ctx, "guild channel", &msg, msg.id.clone(), msg.content.clone()).await;
    }

    /// A message that @-mentions the bot in a QQ group (GROUP_AND_C2C_EVENT).
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        self.on_message(&ctx, "group", &msg, msg.id.clone(), msg.content.clone()).await;
    }

    /// A private message to the bot (GROUP_AND_C2C_EVENT).
    async fn c2c_message_create(&self, ctx: Context, msg: C2cMessage) {
        self.on_message(&ctx, "private chat", &msg, msg.id.clone(), msg.content.clone()).await;
    }

    async fn disconnected(&self, shard: ShardId, disconnect: Disconnect) {
        println!("shard {shard} lost its connection ({:?}); qqgw reconnects", disconnect.cause);
    }
}

#[async_std::main]
async fn main() -> ExitCode {
    // qqgw logs through `tracing`: without a subscriber its warnings go nowhere. Colours
    // only on a terminal.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,qqgw_mock=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    // The mock runs on its own thread (it is built on tokio).
    let mock = MockGateway::start_in_thread(MockConfig {
        heartbeat_interval: Duration::from_millis(500),
        ..MockConfig::default()
    })?;

    // What a bot does, pointed at the mock instead of QQ (with real credentials:
    // `Config::from_env()?`).
    let config = Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        // The embedded mock speaks plain HTTP and WebSocket on loopback.
        .allow_insecure(true)
        .build();
    let client = Client::connect(config).await?;
    let shard = client.shards().first().cloned().ok_or("the mock announces one shard")?;
    let stop = client.shutdown_handle();
    let (handled, handled_rx) = unbounded();
    let bot = Bot { seen: Arc::default(), handled };

    let (sessions, sent) =
        futures_util::future::join(client.run(bot.clone()), play_qq(&mock, &bot, &handled_rx, stop)).await;
    let (sessions, sent) = (sessions?, sent?);

    let metrics = shard.metrics();
    let seen = bot.seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let twice = seen.values().filter(|&&n| n > 1).count();
    println!();
    println!("messages sent by QQ: {sent}, handled by the bot: {} ({twice} twice)", seen.len());
    println!(
        "connections {}, IDENTIFY {}, RESUME {}, zombies {}, replays dropped {}",
        metrics.connects, metrics.identifies, metrics.resumes, metrics.zombies, metrics.replays_dropped
    );
    println!("session kept for a restart: {:?}", sessions.first().map(|s| (&s.id, s.seq)));
    let replies = mock.record().messages_sent().len();
    println!("replies QQ (the mock) accepted: {replies} of {sent}");
    if seen.len() != sent || twice > 0 {
        return Err(format!("{sent} messages sent, {} handled, {twice} twice", seen.len()).into());
    }
    if metrics.zombies != 1 {
        return Err(format!("the zombie connection was not caught ({} zombies)", metrics.zombies).into());
    }
    println!("every message arrived exactly once");
    Ok(())
}

/// QQ's side, scripted on the mock: messages, a session rotation, a zombie connection,
/// then a graceful shutdown. Returns how many messages it sent.
async fn play_qq(
    mock: &MockGateway,
    bot: &Bot,
    handled: &Receiver<()>,
    stop: ShutdownHandle,
) -> Result<usize, Box<dyn Error>> {
    let wait = Duration::from_secs(10);
    let mut sent = 0;
    let mut send = |event: &str, content: &str| {
        sent += 1;
        let id = format!("msg-{sent}");
        // Where each kind of message says it came from, as QQ's do: a reply goes there.
        let d = json!({
            "id": id, "content": content, "channel_id": "channel-1", "guild_id": "guild-1",
            "group_openid": "group-1", "author": {"id": "1234", "user_openid": "user-1", "member_openid": "member-1"},
        });
        mock.dispatch(0, event, d);
    };
    mock.wait_until(|r| r.readies(0) == 1, wait).await?;
    send("AT_MESSAGE_CREATE", "<@!bot> /天气 深圳");
    send("GROUP_AT_MESSAGE_CREATE", " /签到");
    mock.wait_until(|r| r.heartbeats_of(0).count() > 0, wait).await?;

    eprintln!("--- QQ rotates the session (close 4009); two messages are sent while the bot is away");
    mock.close(0, 4009);
    send("C2C_MESSAGE_CREATE", "在吗");
    send("AT_MESSAGE_CREATE", "<@!bot> hello");
    let record = mock.wait_until(|r| r.resumes().len() == 1 && r.connected(0), wait).await?;

    eprintln!("--- the connection turns zombie: QQ stops acknowledging heartbeats");
    // Once the new connection is healthy (a heartbeat answered), stop answering.
    let beats = record.heartbeats_of(0).count();
    mock.wait_until(|r| r.heartbeats_of(0).count() > beats, wait).await?;
    async_std::task::sleep(Duration::from_millis(50)).await;
    mock.withhold_acks(0, true);
    send("AT_MESSAGE_CREATE", "<@!bot> still there?");
    mock.wait_until(|r| r.resumes().len() == 2, wait).await?;
    mock.withhold_acks(0, false);
    send("GROUP_AT_MESSAGE_CREATE", " /again");

    // Shut down once the bot has handled every message.
    async_std::future::timeout(wait, async { while bot.handled() < sent && handled.recv().await.is_ok() {} })
        .await
        .map_err(|_| format!("the bot handled {} of {sent} messages", bot.handled()))?;
    eprintln!("--- graceful shutdown");
    stop.close();
    Ok(sent)
}

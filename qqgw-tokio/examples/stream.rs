//! An AI-style bot that streams a long answer into a C2C chat, the way chat bots answer
//! on QQ — against a mock QQ on 127.0.0.1, no credentials, no network.
//!
//! ```text
//! cargo run -p qqgw-tokio --example stream
//! ```
//!
//! The bot is the part to copy: for each private message it shows "typing…", opens a
//! [`MessageStream`](qqgw_tokio::api::MessageStream) with `ctx.stream(&msg)`, pushes the
//! answer into it as it is "generated" (here, word by word from a canned text; in real
//! life, from a language model's token stream) and finishes it. qqgw keeps QQ's rules:
//! chunk numbering, the stream id, one chunk at most every 500 ms (text pushed meanwhile
//! rides on the next), the final chunk that ends the message, and — if the handler
//! returns early — closing the message anyway. With real credentials, replace the mock
//! with `Config::from_env()?` and ask for `GROUP_AND_C2C_EVENT`.

use std::error::Error;
use std::time::Duration;

use qqgw_mock::{MockConfig, MockGateway};
use qqgw_tokio::api::CallError;
use qqgw_tokio::model::C2cMessage;
use qqgw_tokio::openapi::Route;
use qqgw_tokio::{Client, Config, Context, EventHandler, Intents};
use serde_json::json;

const ANSWER: &str = "QQ streams a C2C answer in chunks: each one carries the whole text so far, \
    so a chunk lost on the way costs nothing, and the last one tells QQ the message is complete. \
    A language model writes a few words at a time; the stream sends at most one chunk every \
    half second, with whatever was written meanwhile, so the user sees the answer grow at \
    reading speed without the bot ever hitting QQ's rate limit.";

/// The bot.
struct Assistant;

impl Assistant {
    async fn answer(ctx: &Context, msg: &C2cMessage) -> Result<(), CallError> {
        ctx.typing(msg, 10).await?; // "typing…" while the model warms up
        let mut stream = ctx.stream(msg);
        for word in ANSWER.split_inclusive(' ') {
            tokio::time::sleep(Duration::from_millis(40)).await; // the model "thinking"
            stream.push(word).await?;
        }
        stream.finish().await
    }
}

impl EventHandler for Assistant {
    async fn c2c_message_create(&self, ctx: Context, msg: C2cMessage) {
        if let Err(error) = Self::answer(&ctx, &msg).await {
            eprintln!("no answer: {error}");
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mock = MockGateway::start(MockConfig::default()).await?;
    let config = Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        .allow_insecure(true) // the embedded mock speaks plain HTTP on loopback
        .build();
    let client = Client::connect(config).await?;
    let stop = client.shutdown_handle();
    let wait = Duration::from_secs(30);
    let (sessions, streamed) = tokio::join!(client.run(Assistant), async {
        mock.wait_until(|r| r.readies(0) == 1, wait).await?;
        mock.dispatch(
            0,
            "C2C_MESSAGE_CREATE",
            json!({"id": "msg-1", "content": "how does streaming work?",
            "author": {"user_openid": "user-1"}}),
        );
        // Done once the final chunk (input_state 10) was accepted.
        let last = |c: &&qqgw_mock::ApiCall| c.accepted() && c.body.get("input_state") == Some(&json!(10));
        mock.wait_until(|r| r.calls_of(Route::SendC2cStream).iter().any(last), wait).await?;
        stop.close();
        Ok::<_, Box<dyn Error>>(mock.openapi(|qq| qq.streams().values().next().cloned()))
    });
    sessions?;
    let stream = streamed?.ok_or("no stream ended")?;
    println!("the user saw {} chunks grow into:\n\n{}", stream.indices.len(), stream.text.trim_end());
    if stream.text.trim_end() != ANSWER || stream.ended != 1 {
        return Err("the streamed text is not the answer".into());
    }
    Ok(())
}

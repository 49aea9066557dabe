//! A button bot: a markdown message with buttons, and every click acknowledged in one
//! line — against a mock QQ on 127.0.0.1, no credentials, no network.
//!
//! ```text
//! cargo run -p qqgw-tokio --example buttons
//! ```
//!
//! The bot is the part to copy. An @-mention in a group is answered with a markdown poll
//! and two callback buttons (markdown goes without `content`); a click arrives as
//! `INTERACTION_CREATE`, which the bot acknowledges with `ctx.ack` at once (QQ waits about
//! 3 seconds, then the user's QQ shows a failure), and then answers with a message
//! replying to the click's event. With real credentials, replace the mock with
//! `Config::from_env()?` and ask for `GROUP_AND_C2C_EVENT | INTERACTION`.
//!
//! The rest plays QQ: an @-mention, two clicks. The example exits 0 once both clicks
//! were acknowledged and answered.

use std::error::Error;
use std::time::Duration;

use qqgw_mock::{MockConfig, MockGateway};
use qqgw_tokio::api::{Button, ButtonStyle, InteractionCode, Keyboard, Markdown, Outgoing, Target};
use qqgw_tokio::model::{GroupMessage, Interaction};
use qqgw_tokio::openapi::Route;
use qqgw_tokio::{Client, Config, Context, EventHandler, Intents};
use serde_json::json;

/// The bot.
struct Poll;

impl EventHandler for Poll {
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        let poll =
            Outgoing::markdown(Markdown::text("**Lunch?**\n\nPick one:")).keyboard(Keyboard::rows([[
                Button::callback("noodles", "Noodles", "vote:noodles").style(ButtonStyle::Blue),
                Button::callback("rice", "Rice", "vote:rice"),
            ]]));
        if let Err(error) = ctx.reply(&msg, poll).await {
            eprintln!("no poll: {error}");
        }
    }

    async fn interaction_create(&self, ctx: Context, click: Interaction) {
        // First the ACK: the user's QQ stops spinning.
        if let Err(error) = ctx.ack(InteractionCode::Success).await {
            eprintln!("no ack: {error}");
            return;
        }
        let choice = click.data.and_then(|d| d.resolved).and_then(|r| r.button_data).unwrap_or_default();
        let (Some(group), Some(member)) = (click.group_openid, click.group_member_openid) else { return };
        let answer =
            format!("<qqbot-at-user id=\"{member}\" /> voted {}", choice.trim_start_matches("vote:"));
        if let Err(error) = ctx.reply_to_event(&Target::Group(group), answer).await {
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
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT | Intents::INTERACTION)
        .allow_insecure(true) // the embedded mock speaks plain HTTP on loopback
        .build();
    let client = Client::connect(config).await?;
    let stop = client.shutdown_handle();
    let (sessions, played) = tokio::join!(client.run(Poll), async {
        let played = play_qq(&mock).await;
        stop.close();
        played
    });
    sessions?;
    played?;
    let record = mock.record();
    for call in &record.api_calls {
        println!("{} {} → {} {}", call.method, call.path, call.status, call.body);
    }
    println!("both clicks acknowledged and answered");
    Ok(())
}

/// QQ's side: an @-mention, then two members click.
async fn play_qq(mock: &MockGateway) -> Result<(), Box<dyn Error>> {
    let wait = Duration::from_secs(10);
    mock.wait_until(|r| r.readies(0) == 1, wait).await?;
    mock.dispatch(
        0,
        "GROUP_AT_MESSAGE_CREATE",
        json!({"id": "msg-1", "group_openid": "group-1",
        "content": " lunch", "author": {"member_openid": "alice"}}),
    );
    mock.wait_until(|r| r.messages_sent().len() == 1, wait).await?;
    for (id, member, data) in [("click-1", "alice", "vote:noodles"), ("click-2", "bob", "vote:rice")] {
        mock.dispatch(
            0,
            "INTERACTION_CREATE",
            json!({"id": id, "type": 11, "chat_type": 1, "scene": "group",
            "group_openid": "group-1", "group_member_openid": member,
            "data": {"type": 11, "resolved": {"button_data": data, "button_id": data}}}),
        );
    }
    let record = mock.wait_until(|r| r.messages_sent().len() == 3, wait).await?;
    let acks = record.calls_of(Route::AckInteraction);
    if acks.len() != 2 || !acks.iter().all(|a| a.accepted()) {
        return Err(format!("acks: {acks:?}").into());
    }
    Ok(())
}

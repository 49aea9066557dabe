//! The `tail` command of the adapters' examples: every dispatch as one JSON line.

use std::io::Write;

use futures_util::StreamExt;
use qqgw_proto::Event;

use crate::client::Client;
use crate::config::Config;
use crate::runtime::Runtime;

/// Connects a bot configured by `config` and prints every dispatch of its shards (READY
/// and RESUMED included) to `out`, one JSON object per line with the keys `shard`, `seq`,
/// `type`, `id` and `d` (see [`Dispatch`](qqgw_proto::Dispatch)'s `Serialize`), until
/// every shard has stopped. SIGINT or SIGTERM closes the shards gracefully
/// ([`Client::close_on_signal`]) and the remaining lines are printed. A closed `out` (e.g.
/// `| head`) ends it quietly.
///
/// This is the `tail` example of both adapters.
///
/// # Errors
///
/// A one-line reason if the bot cannot start (bad credentials, `/gateway/bot` failing) or
/// a shard stopped for good (a fatal close code).
pub async fn tail<R: Runtime + Default>(config: Config, out: &mut impl Write) -> Result<(), String> {
    let mut client = Client::<R>::connect(config).await.map_err(|e| e.to_string())?;
    let mut events = client.take_events().ok_or("the events were already taken")?;
    client.close_on_signal();
    let mut fatal = None;
    while let Some(event) = events.next().await {
        match event.event {
            Event::Dispatch(dispatch) => {
                let line = serde_json::to_string(&dispatch).map_err(|e| e.to_string())?;
                if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                    client.shutdown_handle().close();
                    break;
                }
            }
            Event::Fatal(error) => fatal = Some(format!("shard {}: {error}", event.shard)),
            _ => {}
        }
    }
    drop(events);
    let result = client.shutdown().await;
    // The client's error says more than the event (a refused intent names the intents).
    match (result, fatal) {
        (Err(error), _) => Err(error.to_string()),
        (Ok(_), Some(reason)) => Err(reason),
        (Ok(_), None) => Ok(()),
    }
}

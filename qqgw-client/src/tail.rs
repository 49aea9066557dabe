//! The `tail` command of the adapters' examples: every dispatch as one JSON line.

use std::io::Write;

use futures_util::{FutureExt, StreamExt};
use qqgw_proto::Event;

use crate::client::Client;
use crate::config::Config;
use crate::handoff::AckBatch;
use crate::runtime::Runtime;

/// Connects a bot configured by `config` and prints every dispatch of its shards (READY
/// and RESUMED included) to `out`, one JSON object per line with the keys `shard`, `seq`,
/// `type`, `id` and `d` (see [`Dispatch`](qqgw_proto::Dispatch)'s `Serialize`), until
/// every shard has stopped. SIGINT or SIGTERM closes the shards gracefully
/// ([`Client::close_on_signal`]) and the remaining lines are printed. A closed `out` (e.g.
/// `| head`) ends it quietly.
///
/// The lines of the events already waiting are written together and flushed once; an
/// event counts as handled — its shard's checkpoint, what a restart resumes from, may
/// move past it — only once its line is flushed.
///
/// This is the `tail` example of both adapters.
///
/// # Errors
///
/// A one-line reason if the bot cannot start (bad credentials, `/gateway/bot` failing) or
/// a shard stopped for good (a fatal close code).
pub async fn tail<R: Runtime + Default>(mut config: Config, out: &mut impl Write) -> Result<(), String> {
    // An event counts as handled once its line is flushed: receipts go back by hand,
    // after each flush.
    config.manual_ack = true;
    let mut client = Client::<R>::connect(config).await.map_err(|e| e.to_string())?;
    let mut events = client.take_events().ok_or("the events were already taken")?;
    client.close_on_signal();
    let mut fatal = None;
    // The lines of the events taken, their receipts, and the receipts' way back.
    let mut lines = Vec::with_capacity(BATCH_BYTES);
    let mut receipts = Vec::new();
    let mut acks = AckBatch::default();
    let mut ended = false;
    while !ended {
        // Wait for an event, then take every one already waiting (up to a batch): their
        // lines are written with one write and one flush.
        let mut next = events.next().await;
        let mut taken = 0;
        while let Some(mut event) = next.take() {
            receipts.extend(event.take_receipt());
            match event.event {
                Event::Dispatch(dispatch) => {
                    serde_json::to_writer(&mut lines, &dispatch).map_err(|e| e.to_string())?;
                    lines.push(b'\n');
                }
                Event::Fatal(error) => fatal = Some(format!("shard {}: {error}", event.shard)),
                _ => {}
            }
            taken += 1;
            if taken >= BATCH_EVENTS || lines.len() >= BATCH_BYTES {
                break;
            }
            next = match events.next().now_or_never() {
                Some(Some(event)) => Some(event),
                Some(None) => {
                    ended = true;
                    None
                }
                None => None,
            };
        }
        ended |= taken == 0;
        if !lines.is_empty() && out.write_all(&lines).and_then(|()| out.flush()).is_err() {
            // A closed `out`: nothing printed counts as handled.
            client.shutdown_handle().close();
            break;
        }
        lines.clear();
        receipts.drain(..).for_each(|receipt| acks.add(receipt));
        acks.flush();
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

/// The most events whose lines are written with one write and one flush.
const BATCH_EVENTS: usize = 1024;
/// The most bytes of lines written with one write (a batch ends after the line that
/// passes it).
const BATCH_BYTES: usize = 256 * 1024;

//! Running handler callbacks side by side while each conversation keeps its order.

use std::collections::{HashSet, VecDeque};

use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use qqgw_proto::Event;

use crate::event::ShardEvent;
use crate::handler::{EventHandler, route};

/// What an event's order is kept within: the chat it belongs to, or its shard — as a
/// hash, so that keeping track of thousands of chats allocates nothing. Two chats whose
/// hashes collide are merely served one after the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Conversation(u64);

/// The ids that name a chat, in the order they are looked for: a QQ group, a guild
/// channel (or DM session), a C2C user, a guild.
const CHAT_KEYS: [&str; 5] = ["group_openid", "channel_id", "user_openid", "openid", "guild_id"];

impl Conversation {
    /// The conversation of `event`, found by scanning the event's raw data for the first
    /// id that names a chat (no second parse of the data).
    pub(crate) fn of(event: &ShardEvent) -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let chat = match &event.event {
            Event::Dispatch(dispatch) => {
                let text = dispatch.data().get();
                CHAT_KEYS.iter().enumerate().find_map(|(kind, key)| Some((kind, string_field(text, key)?)))
            }
            _ => None,
        };
        match chat {
            Some((kind, id)) => (kind, id).hash(&mut hasher),
            None => (usize::MAX, event.shard.id(), event.shard.total()).hash(&mut hasher),
        }
        Self(hasher.finish())
    }
}

/// The string value of the first `"key": "value"` in `json`, if its value is a plain
/// string (QQ's ids have no escapes).
fn string_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = json;
    loop {
        let at = rest.find(key)?;
        let before = rest.get(..at)?;
        let after = rest.get(at + key.len()..)?;
        rest = after;
        if !before.ends_with('"') || !after.starts_with('"') {
            continue;
        }
        let value = after.get(1..)?.trim_start().strip_prefix(':')?.trim_start();
        let Some(value) = value.strip_prefix('"') else { continue };
        let end = value.find('"')?;
        let id = value.get(..end)?;
        if !id.is_empty() && !id.contains('\\') {
            return Some(id);
        }
    }
}

/// Hands every event of `events` to its callback of `handler`, up to `concurrency`
/// callbacks at once, until the stream ends and every callback has returned.
///
/// Events of one conversation — a group, a C2C user, a guild channel or DM, a guild —
/// run one after another in the order they came; events of different conversations run
/// side by side. Each event is acknowledged (see [`ShardEvent::ack`]) when its callback
/// returns, so a shard's checkpoint only ever counts finished events. At most
/// `2 × concurrency` events are taken from the stream ahead of their turn.
pub async fn run_handler_concurrently<H: EventHandler>(
    events: impl Stream<Item = ShardEvent>,
    handler: &H,
    concurrency: usize,
) {
    let concurrency = concurrency.max(1);
    futures_util::pin_mut!(events);
    let mut running: FuturesUnordered<Pin<Box<dyn Future<Output = Conversation> + Send + '_>>> =
        FuturesUnordered::new();
    let mut busy: HashSet<Conversation> = HashSet::new();
    let mut waiting: VecDeque<(Conversation, ShardEvent)> = VecDeque::new();
    let mut ended = false;
    let mut timings = crate::metrics::Handling::default();
    loop {
        start_ready(&mut waiting, &mut busy, &mut running, handler, concurrency, &mut timings);
        if ended && running.is_empty() && waiting.is_empty() {
            return;
        }
        let room = !ended && waiting.len() < concurrency;
        let step = core::future::poll_fn(|cx| {
            if let Poll::Ready(Some(done)) = running.poll_next_unpin(cx) {
                return Poll::Ready(Step::Done(done));
            }
            if room {
                if let Poll::Ready(next) = events.as_mut().poll_next(cx) {
                    return Poll::Ready(Step::Next(next));
                }
            }
            Poll::Pending
        })
        .await;
        match step {
            Step::Done(conversation) => {
                busy.remove(&conversation);
            }
            Step::Next(Some(event)) => waiting.push_back((Conversation::of(&event), event)),
            Step::Next(None) => ended = true,
        }
    }
}

enum Step {
    Done(Conversation),
    Next(Option<ShardEvent>),
}

/// Starts waiting events, oldest first, whose conversation is idle and has no older
/// event waiting, while there is room.
fn start_ready<'h, H: EventHandler>(
    waiting: &mut VecDeque<(Conversation, ShardEvent)>,
    busy: &mut HashSet<Conversation>,
    running: &mut FuturesUnordered<Pin<Box<dyn Future<Output = Conversation> + Send + 'h>>>,
    handler: &'h H,
    concurrency: usize,
    timings: &mut crate::metrics::Handling,
) {
    let mut skipped: HashSet<Conversation> = HashSet::new();
    let mut i = 0;
    while running.len() < concurrency && i < waiting.len() {
        let startable = waiting.get(i).is_some_and(|(c, _)| !busy.contains(c) && !skipped.contains(c));
        if !startable {
            if let Some(&(c, _)) = waiting.get(i) {
                skipped.insert(c);
            }
            i += 1;
            continue;
        }
        let Some((conversation, mut event)) = waiting.remove(i) else { break };
        busy.insert(conversation);
        let receipt = event.take_receipt();
        let timing = timings.start(&event);
        running.push(Box::pin(async move {
            route(handler, event).await;
            timing.done();
            if let Some(receipt) = receipt {
                receipt.ack();
            }
            conversation
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qqgw_proto::{Dispatch, ShardId};
    use serde_json::value::RawValue;

    fn event(name: &str, data: &str) -> ShardEvent {
        let raw = RawValue::from_string(data.to_owned()).unwrap();
        ShardEvent::new(ShardId::ONE, Event::Dispatch(Dispatch::new(name, Some(1), None, ShardId::ONE, raw)))
    }

    #[test]
    fn conversations_are_read_from_the_ids_that_name_a_chat() {
        let of = |data: &str| Conversation::of(&event("X", data));
        let group = of(r#"{"group_openid":"G","author":{"member_openid":"M"}}"#);
        assert_eq!(group, of(r#"{"author":{"member_openid":"N"}, "group_openid" : "G"}"#));
        assert_ne!(group, of(r#"{"group_openid":"H"}"#));
        assert_eq!(of(r#"{"author":{"user_openid":"U"},"content":"hi"}"#), of(r#"{"user_openid":"U"}"#));
        assert_eq!(of(r#"{"channel_id":"C","guild_id":"X"}"#), of(r#"{"channel_id":"C"}"#));
        assert_ne!(of(r#"{"channel_id":"C"}"#), of(r#"{"guild_id":"C"}"#), "a channel is not a guild");
        let shard = of("{}");
        assert_eq!(shard, of(r#""""#));
        assert_eq!(shard, of(r#"{"content":"group_openid"}"#), "a value is no key");
        assert_eq!(shard, of(r#"{"group_openid":7}"#));
    }

    #[test]
    fn string_fields_are_found_whatever_the_spacing() {
        assert_eq!(string_field(r#"{"a":"1","b" :  "2"}"#, "b"), Some("2"));
        assert_eq!(string_field(r#"{"ab":"1","b":"2"}"#, "b"), Some("2"));
        assert_eq!(string_field(r#"{"b":"x\"y"}"#, "b"), None);
        assert_eq!(string_field(r#"{"b":"#, "b"), None);
    }
}

//! Running handler callbacks side by side while each conversation keeps its order.

use std::collections::{HashSet, VecDeque};

use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use qqgw_proto::{Dispatch, Event, ShardId};
use serde::Deserialize;

use crate::handler::{EventHandler, route};
use crate::shard::ShardEvent;

/// What an event's order is kept within: the chat it belongs to, or its shard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Conversation {
    /// A QQ group (`group_openid`).
    Group(String),
    /// A guild channel or a guild DM session (`channel_id`).
    Channel(String),
    /// A one-to-one chat with a user (their openid).
    User(String),
    /// A guild (`guild_id`), for guild events without a channel.
    Guild(String),
    /// Anything else: in order per shard.
    Shard(ShardId),
}

impl Conversation {
    /// The conversation of `event`: read from the event's data, without parsing more of
    /// it than the few ids that name a chat.
    pub(crate) fn of(event: &ShardEvent) -> Self {
        let Event::Dispatch(dispatch) = &event.event else { return Self::Shard(event.shard) };
        Self::of_dispatch(dispatch).unwrap_or(Self::Shard(event.shard))
    }

    fn of_dispatch(dispatch: &Dispatch) -> Option<Self> {
        #[derive(Deserialize)]
        struct Author {
            user_openid: Option<String>,
        }
        #[derive(Deserialize)]
        struct Ids {
            group_openid: Option<String>,
            channel_id: Option<String>,
            guild_id: Option<String>,
            openid: Option<String>,
            user_openid: Option<String>,
            author: Option<Author>,
        }
        let ids: Ids = dispatch.parse().ok()?;
        let user = ids.author.and_then(|a| a.user_openid).or(ids.user_openid).or(ids.openid);
        ids.group_openid
            .map(Self::Group)
            .or(ids.channel_id.map(Self::Channel))
            .or(user.map(Self::User))
            .or(ids.guild_id.map(Self::Guild))
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
    loop {
        start_ready(&mut waiting, &mut busy, &mut running, handler, concurrency);
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
) {
    let mut skipped: HashSet<Conversation> = HashSet::new();
    let mut i = 0;
    while running.len() < concurrency && i < waiting.len() {
        let startable = waiting.get(i).is_some_and(|(c, _)| !busy.contains(c) && !skipped.contains(c));
        if !startable {
            if let Some((c, _)) = waiting.get(i) {
                skipped.insert(c.clone());
            }
            i += 1;
            continue;
        }
        let Some((conversation, mut event)) = waiting.remove(i) else { break };
        busy.insert(conversation.clone());
        let receipt = event.take_receipt();
        running.push(Box::pin(async move {
            route(handler, event).await;
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
    use serde_json::value::RawValue;

    fn event(name: &str, data: &str) -> ShardEvent {
        let raw = RawValue::from_string(data.to_owned()).unwrap();
        ShardEvent::new(ShardId::ONE, Event::Dispatch(Dispatch::new(name, Some(1), None, ShardId::ONE, raw)))
    }

    #[test]
    fn conversations_are_read_from_the_ids_that_name_a_chat() {
        let cases = [
            (r#"{"group_openid":"G","author":{"member_openid":"M"}}"#, Conversation::Group("G".into())),
            (r#"{"author":{"user_openid":"U"},"content":"hi"}"#, Conversation::User("U".into())),
            (r#"{"channel_id":"C","guild_id":"X"}"#, Conversation::Channel("C".into())),
            (r#"{"guild_id":"X","op_user_id":"1"}"#, Conversation::Guild("X".into())),
            (r#"{"openid":"F"}"#, Conversation::User("F".into())),
            (r#"{}"#, Conversation::Shard(ShardId::ONE)),
            (r#""""#, Conversation::Shard(ShardId::ONE)),
        ];
        for (data, expected) in cases {
            assert_eq!(Conversation::of(&event("X", data)), expected, "{data}");
        }
    }
}

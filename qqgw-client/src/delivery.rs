//! Running handler callbacks side by side while each conversation keeps its order.

use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use futures_util::stream::Stream;
use qqgw_proto::Event;

use crate::event::{Receipt, ShardEvent};
use crate::handler::{EventHandler, route};
use crate::handoff::{AckBatch, Woken};

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
        let chat = match &event.event {
            Event::Dispatch(dispatch) => {
                let text = dispatch.data().get();
                CHAT_KEYS.iter().enumerate().find_map(|(kind, key)| Some((kind, string_field(text, key)?)))
            }
            _ => None,
        };
        Self(match chat {
            Some((kind, id)) => chat_hash(kind as u64, id.as_bytes()),
            None => {
                let shard = u64::from(event.shard.id()) << 32 | u64::from(event.shard.total());
                chat_hash(u64::MAX, &shard.to_le_bytes())
            }
        })
    }
}

/// A well-mixed 64-bit hash of a chat id (a 64 × 64 → 128-bit multiply folded per 8
/// bytes): a collision only serves two chats one after the other.
fn chat_hash(kind: u64, id: &[u8]) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    fn fold(a: u64, b: u64) -> u64 {
        let product = u128::from(a) * u128::from(b);
        (product as u64) ^ ((product >> 64) as u64)
    }
    let mut h = kind ^ P0;
    for chunk in id.chunks(8) {
        let mut word = [0u8; 8];
        word.iter_mut().zip(chunk).for_each(|(to, from)| *to = *from);
        h = fold(h ^ u64::from_le_bytes(word), P1);
    }
    fold(h ^ id.len() as u64, P0)
}

/// The hasher of sets of [`Conversation`]s, which are hashes already.
#[derive(Debug, Clone, Copy, Default)]
struct Rehash(u64);

impl Hasher for Rehash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Conversations = HashSet<Conversation, BuildHasherDefault<Rehash>>;

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
    futures_util::pin_mut!(events);
    let mut runner = Runner::new(concurrency.max(1), |event| route(handler, event));
    core::future::poll_fn(|cx| runner.poll(cx, events.as_mut())).await;
}

/// A callback under way, in a slot that is reused for the next one: a callback that
/// returns at its first poll (most do) costs no allocation and no wake-up.
struct Slot<F> {
    future: Pin<Box<Option<F>>>,
    conversation: Conversation,
    receipt: Option<Receipt>,
    /// The metrics' timing of the callback (nothing without the feature `metrics`).
    timing: Option<crate::metrics::Timing>,
}

struct Runner<F, M> {
    start: M,
    concurrency: usize,
    slots: Vec<Slot<F>>,
    /// Which slots' callbacks were woken, and each slot's waker.
    woken: Arc<Woken>,
    wakers: Vec<Waker>,
    /// Slots without a callback.
    free: Vec<usize>,
    running: usize,
    /// Conversations with a callback under way.
    busy: Conversations,
    /// Events taken from the stream, oldest first, with their conversation.
    waiting: VecDeque<(Conversation, ShardEvent)>,
    /// Scratch of `start_ready`: conversations with an older event still waiting.
    skipped: Conversations,
    /// Receipts of finished callbacks, sent back a batch at a time.
    acks: AckBatch,
    /// Counts the events handed over and times their callbacks.
    timings: crate::metrics::Handling,
    ended: bool,
}

impl<F: Future<Output = ()>, M: FnMut(ShardEvent) -> F> Runner<F, M> {
    fn new(concurrency: usize, start: M) -> Self {
        let (woken, wakers) = Woken::idle(concurrency);
        Self {
            start,
            concurrency,
            slots: Vec::new(),
            woken,
            wakers,
            free: Vec::new(),
            running: 0,
            busy: Conversations::default(),
            waiting: VecDeque::new(),
            skipped: Conversations::default(),
            acks: AckBatch::default(),
            timings: crate::metrics::Handling::default(),
            ended: false,
        }
    }

    /// Runs until the stream has ended and every callback has returned.
    fn poll<S: Stream<Item = ShardEvent>>(
        &mut self,
        cx: &mut Context<'_>,
        mut events: Pin<&mut S>,
    ) -> Poll<()> {
        loop {
            let mut progress = false;
            while let Some(slot) = self.woken.next(cx) {
                progress |= self.poll_slot(slot);
            }
            progress |= self.start_ready();
            while !self.ended && self.waiting.len() < self.concurrency {
                match events.as_mut().poll_next(cx) {
                    Poll::Ready(Some(event)) => self.waiting.push_back((Conversation::of(&event), event)),
                    Poll::Ready(None) => self.ended = true,
                    Poll::Pending => break,
                }
                progress = true;
            }
            if self.ended && self.running == 0 && self.waiting.is_empty() {
                self.acks.flush();
                return Poll::Ready(());
            }
            if !progress {
                // Nothing more to do now: what finished is acknowledged before waiting.
                self.acks.flush();
                return Poll::Pending;
            }
        }
    }

    /// Polls the callback in `slot`; true if it finished.
    fn poll_slot(&mut self, index: usize) -> bool {
        let (Some(slot), Some(waker)) = (self.slots.get_mut(index), self.wakers.get(index)) else {
            return false;
        };
        let Some(future) = slot.future.as_mut().as_pin_mut() else { return false };
        if future.poll(&mut Context::from_waker(waker)).is_pending() {
            return false;
        }
        slot.future.set(None);
        if let Some(timing) = slot.timing.take() {
            timing.done();
        }
        self.busy.remove(&slot.conversation);
        if let Some(receipt) = slot.receipt.take() {
            self.acks.add(receipt);
        }
        self.free.push(index);
        self.running -= 1;
        true
    }

    /// Starts waiting events, oldest first, whose conversation is idle and has no older
    /// event waiting, while there is room; each is polled at once. True if any started.
    fn start_ready(&mut self) -> bool {
        let mut started = false;
        self.skipped.clear();
        let mut i = 0;
        while self.running < self.concurrency && i < self.waiting.len() {
            let Some(&(conversation, _)) = self.waiting.get(i) else { break };
            if self.busy.contains(&conversation) || self.skipped.contains(&conversation) {
                self.skipped.insert(conversation);
                i += 1;
                continue;
            }
            let Some((conversation, mut event)) = self.waiting.remove(i) else { break };
            let receipt = event.take_receipt();
            let timing = self.timings.start(&event);
            let future = (self.start)(event);
            let index = match self.free.pop() {
                Some(index) => index,
                None => {
                    self.slots.push(Slot {
                        future: Box::pin(None),
                        conversation,
                        receipt: None,
                        timing: None,
                    });
                    self.slots.len() - 1
                }
            };
            if let Some(slot) = self.slots.get_mut(index) {
                slot.future.set(Some(future));
                slot.conversation = conversation;
                slot.receipt = receipt;
                slot.timing = Some(timing);
            }
            self.busy.insert(conversation);
            self.running += 1;
            started = true;
            self.poll_slot(index);
        }
        started
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

    /// The callbacks run in the delivery's slots count as handled and are timed, per type.
    #[cfg(feature = "metrics")]
    #[test]
    fn handled_events_are_counted_and_timed() {
        use std::collections::BTreeMap;
        use std::sync::Mutex;

        use metrics::{Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder};
        use metrics::{SharedString, Unit};

        type Values = Arc<Mutex<BTreeMap<String, Vec<f64>>>>;
        struct Series(String, Values);
        impl CounterFn for Series {
            fn increment(&self, value: u64) {
                self.1.lock().unwrap().entry(self.0.clone()).or_default().push(value as f64);
            }
            fn absolute(&self, _: u64) {}
        }
        impl HistogramFn for Series {
            fn record(&self, value: f64) {
                self.1.lock().unwrap().entry(self.0.clone()).or_default().push(value);
            }
        }
        struct Recording(Values);
        impl Recording {
            fn series(&self, key: &Key) -> Arc<Series> {
                let labels: Vec<String> =
                    key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
                Arc::new(Series(format!("{}{{{}}}", key.name(), labels.join(",")), Arc::clone(&self.0)))
            }
        }
        impl Recorder for Recording {
            fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
            fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
            fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
            fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
                Counter::from_arc(self.series(key))
            }
            fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
                Gauge::noop()
            }
            fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
                Histogram::from_arc(self.series(key))
            }
        }

        struct Quiet;
        impl crate::EventHandler for Quiet {}

        let values = Values::default();
        let recorder = Recording(Arc::clone(&values));
        let events = vec![
            event("GROUP_AT_MESSAGE_CREATE", r#"{"group_openid":"G"}"#),
            event("GROUP_AT_MESSAGE_CREATE", r#"{"group_openid":"H"}"#),
            event("C2C_MESSAGE_CREATE", r#"{"author":{"user_openid":"U"}}"#),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        metrics::with_local_recorder(&recorder, || {
            runtime.block_on(run_handler_concurrently(futures_util::stream::iter(events), &Quiet, 2));
        });
        let values = values.lock().unwrap();
        let total = |name: &str| values.get(name).map_or(0.0, |v| v.iter().sum::<f64>());
        let count = |name: &str| values.get(name).map_or(0, Vec::len);
        let handled = "qqgw_events_handled_total";
        assert_eq!(total(&format!("{handled}{{shard=0/1,type=GROUP_AT_MESSAGE_CREATE}}")), 2.0, "{values:?}");
        assert_eq!(total(&format!("{handled}{{shard=0/1,type=C2C_MESSAGE_CREATE}}")), 1.0, "{values:?}");
        assert_eq!(count("qqgw_handler_duration_seconds{type=GROUP_AT_MESSAGE_CREATE}"), 2, "{values:?}");
        assert_eq!(count("qqgw_handler_duration_seconds{type=C2C_MESSAGE_CREATE}"), 1, "{values:?}");
    }

    #[test]
    fn string_fields_are_found_whatever_the_spacing() {
        assert_eq!(string_field(r#"{"a":"1","b" :  "2"}"#, "b"), Some("2"));
        assert_eq!(string_field(r#"{"ab":"1","b":"2"}"#, "b"), Some("2"));
        assert_eq!(string_field(r#"{"b":"x\"y"}"#, "b"), None);
        assert_eq!(string_field(r#"{"b":"#, "b"), None);
    }
}

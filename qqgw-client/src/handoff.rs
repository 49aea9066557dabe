//! What crosses between a shard's task and its consumer, in batches: events out, receipts
//! back, and the wake-ups that say a batch is there.
//!
//! Events go out through a [`channel`]: the shard's task moves every event it has ready
//! under one lock and wakes the consumer once; the consumer takes everything waiting
//! under one lock into a buffer of its own and hands it out from there without locking.
//! Receipts come back through an [`AckInbox`]: the consumer adds a batch under one lock,
//! and only the first receipt of a batch wakes the shard's task. So under load a lock, a
//! wake-up and no allocation per batch, not per event.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use core::task::{Context, Poll, Waker};

use futures_util::task::AtomicWaker;
use qqgw_proto::Ack;

use crate::event::{Receipt, ShardEvent};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A bounded queue of one shard's events, from its task to its consumer.
pub(crate) fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue { events: VecDeque::new(), receiver_gone: false, sender_gone: false }),
        consumer: AtomicWaker::new(),
        producer: AtomicWaker::new(),
        capacity: capacity.max(1),
    });
    (Sender(Arc::clone(&shared)), Receiver { shared, local: VecDeque::new() })
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// The consumer, waiting for events.
    consumer: AtomicWaker,
    /// The shard's task, waiting for room.
    producer: AtomicWaker,
    capacity: usize,
}

#[derive(Debug)]
struct Queue {
    events: VecDeque<ShardEvent>,
    receiver_gone: bool,
    sender_gone: bool,
}

/// The shard's task's end of a [`channel`].
#[derive(Debug)]
pub(crate) struct Sender(Arc<Shared>);

impl Sender {
    /// Moves events from the front of `outbox` while the queue has room, under one lock,
    /// and wakes the consumer once. False if the consumer is gone (the events stay).
    pub(crate) fn send_from(&self, outbox: &mut VecDeque<ShardEvent>) -> bool {
        if outbox.is_empty() {
            return !self.is_closed();
        }
        let moved = {
            let mut queue = lock(&self.0.queue);
            if queue.receiver_gone {
                return false;
            }
            let room = self.0.capacity.saturating_sub(queue.events.len()).min(outbox.len());
            queue.events.extend(outbox.drain(..room));
            room
        };
        if moved > 0 {
            self.0.consumer.wake();
        }
        true
    }

    /// Ready with `true` once the queue has room, `false` if the consumer is gone.
    pub(crate) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<bool> {
        self.0.producer.register(cx.waker());
        let queue = lock(&self.0.queue);
        if queue.receiver_gone {
            Poll::Ready(false)
        } else if queue.events.len() < self.0.capacity {
            Poll::Ready(true)
        } else {
            Poll::Pending
        }
    }

    /// Whether the consumer is gone.
    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.0.queue).receiver_gone
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        lock(&self.0.queue).sender_gone = true;
        self.0.consumer.wake();
    }
}

/// The consumer's end of a [`channel`].
#[derive(Debug)]
pub(crate) struct Receiver {
    shared: Arc<Shared>,
    /// The batch taken last, handed out from here without the lock.
    local: VecDeque<ShardEvent>,
}

impl Receiver {
    /// The next event: from the batch taken last, else everything the queue holds is
    /// taken as the next batch. `None` once the shard's task is gone and all is taken.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<ShardEvent>> {
        if let Some(event) = self.local.pop_front() {
            return Poll::Ready(Some(event));
        }
        if let Some(next) = self.take_batch() {
            return Poll::Ready(next);
        }
        self.shared.consumer.register(cx.waker());
        // Whatever came between the look and the registration.
        match self.take_batch() {
            Some(next) => Poll::Ready(next),
            None => Poll::Pending,
        }
    }

    /// Whether events of the last batch wait to be handed out.
    pub(crate) fn has_buffered(&self) -> bool {
        !self.local.is_empty()
    }

    /// Swaps the queue's events into `local` and hands out the first; `Some(None)` at the
    /// end, `None` if nothing waits.
    fn take_batch(&mut self) -> Option<Option<ShardEvent>> {
        let taken = {
            let mut queue = lock(&self.shared.queue);
            if queue.events.is_empty() {
                return queue.sender_gone.then_some(None);
            }
            core::mem::swap(&mut queue.events, &mut self.local);
            self.local.len()
        };
        // The task waits for room only once the queue was full.
        if taken >= self.shared.capacity {
            self.shared.producer.wake();
        }
        Some(self.local.pop_front())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let events = {
            let mut queue = lock(&self.shared.queue);
            queue.receiver_gone = true;
            core::mem::take(&mut queue.events)
        };
        drop(events); // outside the lock: their receipts are dropped, not acknowledged
        self.shared.producer.wake();
    }
}

/// Receipts of one shard's handled events, on their way back to its task.
#[derive(Debug, Default)]
pub(crate) struct AckInbox {
    acks: Mutex<Vec<Ack>>,
    task: AtomicWaker,
}

impl AckInbox {
    /// Adds receipts; the first of a batch wakes the task, which takes them all at once.
    pub(crate) fn push(&self, acks: impl IntoIterator<Item = Ack>) {
        let first = {
            let mut inbox = lock(&self.acks);
            let was_empty = inbox.is_empty();
            inbox.extend(acks);
            was_empty && !inbox.is_empty()
        };
        if first {
            self.task.wake();
        }
    }

    /// Ready once receipts wait; they are swapped into `into` (which should be empty).
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, into: &mut Vec<Ack>) -> Poll<()> {
        if self.take(into) {
            return Poll::Ready(());
        }
        self.task.register(cx.waker());
        if self.take(into) { Poll::Ready(()) } else { Poll::Pending }
    }

    /// Swaps waiting receipts into `into`; false if there were none.
    pub(crate) fn take(&self, into: &mut Vec<Ack>) -> bool {
        let mut inbox = lock(&self.acks);
        if inbox.is_empty() {
            return false;
        }
        core::mem::swap(&mut *inbox, into);
        true
    }
}

/// Receipts gathered by a consumer and sent back a batch at a time: one lock and at most
/// one wake-up per shard and batch.
#[derive(Debug, Default)]
pub(crate) struct AckBatch {
    /// The shard of the receipts gathered, and their acks.
    to: Option<Arc<AckInbox>>,
    acks: Vec<Ack>,
}

/// How many receipts a batch gathers before it is sent anyway.
const ACK_BATCH: usize = 64;

impl AckBatch {
    /// Adds a receipt; a receipt of another shard, or a full batch, sends the batch first.
    /// Receipts of other sources (a webhook's) are acknowledged at once.
    pub(crate) fn add(&mut self, receipt: Receipt) {
        match receipt.into_shard() {
            Ok((ack, to)) => {
                let same = self.to.as_ref().is_some_and(|current| Arc::ptr_eq(current, &to));
                if !same || self.acks.len() >= ACK_BATCH {
                    self.flush();
                    self.to = Some(to);
                }
                self.acks.push(ack);
            }
            Err(other) => other.ack(),
        }
    }

    /// Sends what was gathered.
    pub(crate) fn flush(&mut self) {
        if let Some(to) = &self.to {
            if !self.acks.is_empty() {
                to.push(self.acks.drain(..));
            }
        }
    }
}

impl Drop for AckBatch {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Which of several sources were woken, without an allocation per wake-up: each source
/// polls with a [`Waker`] of its own, made once, that queues its index and wakes the one
/// task that polls them all.
#[derive(Debug)]
pub(crate) struct Woken {
    ready: Mutex<VecDeque<usize>>,
    /// Per source: queued and not yet taken, so that a source is queued once.
    queued: Vec<AtomicBool>,
    task: AtomicWaker,
}

struct SourceWaker {
    index: usize,
    woken: Arc<Woken>,
}

impl std::task::Wake for SourceWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.queue(self.index);
        self.woken.task.wake();
    }
}

impl Woken {
    /// `sources` sources, each queued once to start with; and a waker for each.
    pub(crate) fn new(sources: usize) -> (Arc<Self>, Vec<Waker>) {
        Self::with(sources, true)
    }

    /// `sources` sources, none queued; and a waker for each.
    pub(crate) fn idle(sources: usize) -> (Arc<Self>, Vec<Waker>) {
        Self::with(sources, false)
    }

    fn with(sources: usize, queued: bool) -> (Arc<Self>, Vec<Waker>) {
        let ready = if queued { (0..sources).collect() } else { VecDeque::new() };
        let woken = Arc::new(Self {
            ready: Mutex::new(ready),
            queued: (0..sources).map(|_| AtomicBool::new(queued)).collect(),
            task: AtomicWaker::new(),
        });
        let wakers = (0..sources)
            .map(|index| Waker::from(Arc::new(SourceWaker { index, woken: Arc::clone(&woken) })))
            .collect();
        (woken, wakers)
    }

    /// Queues `index` to be polled (once, however often it is woken).
    pub(crate) fn queue(&self, index: usize) {
        if let Some(flag) = self.queued.get(index) {
            if !flag.swap(true, Ordering::AcqRel) {
                lock(&self.ready).push_back(index);
            }
        }
    }

    /// The next source to poll; registers `cx` to be woken when one is queued.
    pub(crate) fn next(&self, cx: &mut Context<'_>) -> Option<usize> {
        self.task.register(cx.waker());
        let index = lock(&self.ready).pop_front()?;
        if let Some(flag) = self.queued.get(index) {
            flag.store(false, Ordering::Release);
        }
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::task::noop_waker_ref;
    use qqgw_proto::{Event, ShardId};

    fn event() -> ShardEvent {
        ShardEvent::new(ShardId::ONE, Event::Closed(None))
    }

    #[test]
    fn events_cross_in_batches_within_the_bound() {
        let (tx, mut rx) = channel(3);
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut outbox: VecDeque<ShardEvent> = (0..5).map(|_| event()).collect();
        assert!(tx.send_from(&mut outbox));
        assert_eq!(outbox.len(), 2, "three fit");
        assert_eq!(tx.poll_room(&mut cx), Poll::Pending);
        assert!(matches!(rx.poll_next(&mut cx), Poll::Ready(Some(_))));
        assert!(rx.has_buffered(), "the batch was taken whole");
        assert_eq!(tx.poll_room(&mut cx), Poll::Ready(true));
        assert!(tx.send_from(&mut outbox));
        assert!(outbox.is_empty());
        for _ in 0..4 {
            assert!(matches!(rx.poll_next(&mut cx), Poll::Ready(Some(_))));
        }
        assert!(rx.poll_next(&mut cx).is_pending());
        drop(tx);
        assert!(matches!(rx.poll_next(&mut cx), Poll::Ready(None)));
    }

    #[test]
    fn a_dropped_consumer_closes_the_channel() {
        let (tx, rx) = channel(2);
        drop(rx);
        let mut outbox: VecDeque<ShardEvent> = (0..1).map(|_| event()).collect();
        assert!(!tx.send_from(&mut outbox));
        assert!(tx.is_closed());
        assert_eq!(tx.poll_room(&mut Context::from_waker(noop_waker_ref())), Poll::Ready(false));
    }

    #[test]
    fn receipts_come_back_in_one_batch() {
        let inbox = AckInbox::default();
        let mut taken = Vec::new();
        let mut cx = Context::from_waker(noop_waker_ref());
        assert!(inbox.poll_take(&mut cx, &mut taken).is_pending());
        let acks = receipts_of_three_events();
        inbox.push(acks.iter().copied().take(2));
        inbox.push(acks.iter().copied().skip(2));
        assert!(inbox.poll_take(&mut cx, &mut taken).is_ready());
        assert_eq!(taken, acks);
        assert!(inbox.poll_take(&mut cx, &mut Vec::new()).is_pending());
    }

    /// The receipts of READY and two events, from a machine with receipts on.
    fn receipts_of_three_events() -> Vec<Ack> {
        let config = qqgw_proto::Config::builder("wss://fake/", qqgw_proto::Intents::non_privileged())
            .manual_ack(true)
            .build()
            .unwrap();
        let mut h = qqgw_fake::Harness::new(config);
        h.run_for(core::time::Duration::from_secs(1));
        h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
        h.gateway.dispatch("AT_MESSAGE_CREATE", "{}");
        h.run_for(core::time::Duration::from_millis(10));
        let acks: Vec<Ack> = h.dispatches().filter_map(qqgw_proto::Dispatch::ack).collect();
        assert_eq!(acks.len(), 3);
        acks
    }

    #[test]
    fn each_source_is_queued_once_until_taken() {
        let (woken, wakers) = Woken::new(3);
        let mut cx = Context::from_waker(noop_waker_ref());
        assert_eq!(
            [woken.next(&mut cx), woken.next(&mut cx), woken.next(&mut cx)],
            [Some(0), Some(1), Some(2)]
        );
        assert_eq!(woken.next(&mut cx), None);
        wakers[2].wake_by_ref();
        wakers[2].wake_by_ref();
        wakers[0].wake_by_ref();
        assert_eq!([woken.next(&mut cx), woken.next(&mut cx), woken.next(&mut cx)], [Some(2), Some(0), None]);
    }
}

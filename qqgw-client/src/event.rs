//! What a consumer receives: an event with its shard, and the receipt that tells the
//! event's source it was handled.

use std::sync::{Arc, Mutex, PoisonError};

use core::future::Future;
use core::pin::Pin;
use core::task::Poll;

use futures_channel::oneshot;
use qqgw_proto::{Ack, Event, ShardId};

use crate::handoff::AckInbox;

/// An event from one shard.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShardEvent {
    /// The shard it came from.
    pub shard: ShardId,
    /// The event.
    pub event: Event,
    receipt: Option<Receipt>,
    /// The bot's API, for the handler's [`Context`](crate::Context).
    api: Option<crate::api::Api>,
}

/// Two shard events are equal when their shard and event are.
impl PartialEq for ShardEvent {
    fn eq(&self, other: &Self) -> bool {
        self.shard == other.shard && self.event == other.event
    }
}

impl ShardEvent {
    /// An event from `shard`.
    #[must_use]
    pub fn new(shard: ShardId, event: Event) -> Self {
        Self::with(shard, event, None)
    }

    pub(crate) fn with(shard: ShardId, event: Event, receipt: Option<Receipt>) -> Self {
        Self { shard, event, receipt, api: None }
    }

    /// This event with the API its handler's [`Context`](crate::Context) replies through
    /// (events from a [`Client`](crate::Client) carry its API already; give one to events
    /// from another source, such as a webhook).
    #[must_use]
    pub fn with_api(mut self, api: crate::api::Api) -> Self {
        self.api = Some(api);
        self
    }

    pub(crate) fn set_api(&mut self, api: &crate::api::Api) {
        if self.api.is_none() {
            self.api = Some(api.clone());
        }
    }

    /// The API the event's handler replies through, if it came with one.
    #[must_use]
    pub fn api(&self) -> Option<&crate::api::Api> {
        self.api.as_ref()
    }

    /// An event from another source (a webhook endpoint) whose handling its source
    /// awaits: the returned [`Handled`] resolves when the event is acknowledged — by
    /// [`run_handler`](crate::run_handler) when its callback returns, or by
    /// [`ack`](Self::ack).
    pub fn with_receipt(shard: ShardId, event: Event) -> (Self, Handled) {
        let (done, handled) = oneshot::channel();
        let receipt = Receipt(Target::Signal(Arc::new(Mutex::new(Some(done)))));
        (Self { shard, event, receipt: Some(receipt), api: None }, Handled(handled))
    }

    /// Tells the shard this event is handled, so that its checkpoint — what a restart
    /// RESUMEs from — may move past it. Needed only with
    /// [`ConfigBuilder::manual_ack`](crate::ConfigBuilder::manual_ack); a second call, or a
    /// call for an event that needs none (READY's kin without a sequence number, webhook
    /// events), does nothing.
    pub fn ack(&self) {
        if let Some(receipt) = &self.receipt {
            receipt.ack();
        }
    }

    /// The event's receipt, to acknowledge it later from elsewhere (another task).
    #[must_use]
    pub fn receipt(&self) -> Option<&Receipt> {
        self.receipt.as_ref()
    }

    pub(crate) fn take_receipt(&mut self) -> Option<Receipt> {
        self.receipt.take()
    }
}

/// The receipt of one event: [`ack`](Self::ack) it once the event is handled. Cheap to
/// clone and to send to another task.
#[derive(Debug, Clone)]
pub struct Receipt(Target);

#[derive(Debug, Clone)]
enum Target {
    /// A gateway event: its shard moves its checkpoint.
    Shard { ack: Ack, to: Arc<AckInbox> },
    /// An event whose source awaits its handling.
    Signal(Arc<Mutex<Option<oneshot::Sender<()>>>>),
}

impl Receipt {
    /// The receipt of a gateway event: its shard moves the checkpoint.
    pub(crate) fn shard(ack: Ack, to: Arc<AckInbox>) -> Self {
        Self(Target::Shard { ack, to })
    }

    /// A gateway event's receipt and its shard's inbox, to be sent in a batch; any other
    /// receipt back.
    pub(crate) fn into_shard(self) -> Result<(Ack, Arc<AckInbox>), Self> {
        match self.0 {
            Target::Shard { ack, to } => Ok((ack, to)),
            other => Err(Self(other)),
        }
    }

    /// Tells the event's source it is handled. A second call does nothing.
    pub fn ack(&self) {
        match &self.0 {
            // A shard that has stopped needs no receipt.
            Target::Shard { ack, to } => to.push([*ack]),
            Target::Signal(done) => {
                if let Some(done) = done.lock().unwrap_or_else(PoisonError::into_inner).take() {
                    let _ = done.send(());
                }
            }
        }
    }
}

/// Resolves when the event of [`ShardEvent::with_receipt`] is acknowledged: `true`, or
/// `false` if it was dropped unacknowledged (nobody will handle it).
#[derive(Debug)]
#[must_use = "a future does nothing unless polled"]
pub struct Handled(oneshot::Receiver<()>);

impl Future for Handled {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> Poll<bool> {
        Pin::new(&mut self.0).poll(cx).map(|r| r.is_ok())
    }
}

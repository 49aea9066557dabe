//! The callback API: one method per event QQ documents, generated from the event table
//! of `qqgw-proto`, so that no event can be missed by a misspelt match arm.

use core::future::Future;

use qqgw_proto::model::*;
use qqgw_proto::{DecodeError, Disconnect, Dispatch, Event, FatalError, Session, ShardId, TokenError};

use crate::api::{
    Api, CallError, InteractionCode, MessageStream, Outgoing, ReplyTo, Replyable, Sent, Target,
};
use crate::event::ShardEvent;

/// What every callback gets besides its event: where it came from, the raw dispatch, and
/// the bot's [`Api`] to answer with ([`reply`](Self::reply)).
#[derive(Debug, Clone)]
pub struct Context {
    dispatch: Dispatch,
    api: Option<Api>,
}

impl Context {
    /// The shard the event arrived on.
    #[must_use]
    pub fn shard(&self) -> ShardId {
        self.dispatch.shard()
    }

    /// The event id (`"<T>:<opaque>"`). A passive reply to an event that is not a
    /// message (a member joining, the bot added to a group, an interaction) quotes it as
    /// `event_id`; a reply to a message quotes the message's own `id` as `msg_id`
    /// instead.
    #[must_use]
    pub fn event_id(&self) -> Option<&str> {
        self.dispatch.id()
    }

    /// The event's sequence number.
    #[must_use]
    pub fn seq(&self) -> Option<u64> {
        self.dispatch.seq()
    }

    /// The event name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.dispatch.name()
    }

    /// The event as received, with its raw data.
    #[must_use]
    pub fn dispatch(&self) -> &Dispatch {
        &self.dispatch
    }

    /// The bot's API for sending (the [`Client`](crate::Client)'s, sharing its token);
    /// `None` only for events given to [`run_handler`](crate::run_handler) without one.
    #[must_use]
    pub fn api(&self) -> Option<&Api> {
        self.api.as_ref()
    }

    /// Replies to `msg` where it came from — a group, a C2C chat, a guild channel or a DM
    /// — quoting its id as `msg_id`, with the next `msg_seq` for it (so several replies
    /// to one message never collide). `reply` is text or an [`Outgoing`].
    ///
    /// ```no_run
    /// use qqgw_tokio::model::GroupMessage;
    /// use qqgw_tokio::{Context, EventHandler};
    ///
    /// struct Echo;
    ///
    /// impl EventHandler for Echo {
    ///     async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
    ///         let text = msg.content.clone().unwrap_or_default();
    ///         if let Err(error) = ctx.reply(&msg, text.trim()).await {
    ///             eprintln!("no reply: {error}");
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Api::send`]; [`CallError::NoReplyTarget`] if the message lacks its id or chat,
    /// [`CallError::NoApi`] if the event came without an API.
    pub async fn reply<M: Replyable + ?Sized>(
        &self,
        msg: &M,
        reply: impl Into<Outgoing>,
    ) -> Result<Sent, CallError> {
        let api = self.api.as_ref().ok_or(CallError::NoApi)?;
        let (target, id) = msg.reply_target_in(self.name())?;
        api.send(&target, reply.into().reply_to(ReplyTo::Message(id))).await
    }

    /// Replies in `target` to this event, quoting its id as `event_id` (for events that
    /// are not messages: `INTERACTION_CREATE`, `FRIEND_ADD`, `GROUP_ADD_ROBOT`,
    /// `C2C_MSG_RECEIVE`, `GROUP_MSG_RECEIVE`, guild member, reaction and forum events).
    ///
    /// # Errors
    ///
    /// As [`reply`](Self::reply); [`CallError::NoReplyTarget`] if the event has no id.
    pub async fn reply_to_event(
        &self,
        target: &Target,
        reply: impl Into<Outgoing>,
    ) -> Result<Sent, CallError> {
        let api = self.api.as_ref().ok_or(CallError::NoApi)?;
        let id = self.event_id().ok_or(CallError::NoReplyTarget("event id"))?.to_owned();
        api.send(target, reply.into().reply_to(ReplyTo::Event(id))).await
    }

    /// Answers this `INTERACTION_CREATE` (a button click, a C2C quick-menu click) with
    /// `code`: QQ waits about 3 seconds, once per interaction; unanswered, the user's QQ
    /// spins and then shows a failure. Ack first, then do the work (a reply to the
    /// click is a separate passive message: [`reply_to_event`](Self::reply_to_event)).
    ///
    /// ```no_run
    /// use qqgw_tokio::api::InteractionCode;
    /// use qqgw_tokio::model::Interaction;
    /// use qqgw_tokio::{Context, EventHandler};
    ///
    /// struct Buttons;
    ///
    /// impl EventHandler for Buttons {
    ///     async fn interaction_create(&self, ctx: Context, click: Interaction) {
    ///         if let Err(error) = ctx.ack(InteractionCode::Success).await {
    ///             eprintln!("no ack: {error}");
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Interaction::ack`](crate::api::Interaction::ack);
    /// [`CallError::NoReplyTarget`] if the event has no `d.id`.
    pub async fn ack(&self, code: InteractionCode) -> Result<(), CallError> {
        let api = self.api.as_ref().ok_or(CallError::NoApi)?;
        let id = self.interaction_id().ok_or(CallError::NoReplyTarget("interaction id (d.id)"))?;
        api.interaction(id).ack(code).await
    }

    /// `d.id` of the event: an interaction's id, which [`ack`](Self::ack) answers.
    fn interaction_id(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Id {
            id: Option<serde_json::Value>,
        }
        match self.dispatch.parse::<Id>().ok()?.id? {
            serde_json::Value::String(id) if !id.is_empty() => Some(id),
            serde_json::Value::Number(id) => Some(id.to_string()),
            _ => None,
        }
    }

    /// A streamed answer to the C2C message `msg` ([`MessageStream`]): push text into it
    /// as it is produced, then finish it.
    ///
    /// ```no_run
    /// # use qqgw_tokio::{Context, model::C2cMessage, api::CallError};
    /// # async fn answer(ctx: Context, msg: C2cMessage) -> Result<(), CallError> {
    /// let mut s = ctx.stream(&msg);
    /// s.push("Hello").await?;
    /// s.push(", world").await?;
    /// s.finish().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Without an API or the message's ids, the stream's first call fails with
    /// [`CallError::NoApi`] or [`CallError::NoReplyTarget`].
    #[must_use]
    pub fn stream(&self, msg: &C2cMessage) -> MessageStream {
        let Some(api) = &self.api else { return MessageStream::failed(CallError::NoApi) };
        match msg.reply_target() {
            Ok((Target::User(user), id)) => api.user(user).stream(&id),
            Ok(_) => MessageStream::failed(CallError::NoReplyTarget("C2C chat")),
            Err(error) => MessageStream::failed(error),
        }
    }

    /// Shows "typing…" to the author of the C2C message `msg` for `seconds` (at most
    /// 60); it costs one of the message's 4 replies.
    ///
    /// # Errors
    ///
    /// As [`reply`](Self::reply).
    pub async fn typing(&self, msg: &C2cMessage, seconds: u8) -> Result<Sent, CallError> {
        self.reply(msg, Outgoing::typing(seconds)).await
    }
}

/// Something that went wrong with one event or one shard; the bot goes on unless it is
/// [`EventError::Fatal`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EventError {
    /// An event's data did not fit its model. The raw event is here, whole.
    Model {
        /// The event as received.
        dispatch: Box<Dispatch>,
        /// What did not fit.
        error: ModelError,
    },
    /// QQ sent a frame that could not be used.
    Decode {
        /// The shard.
        shard: ShardId,
        /// What was wrong.
        error: DecodeError,
    },
    /// A shard stopped for good.
    Fatal {
        /// The shard.
        shard: ShardId,
        /// Why.
        error: FatalError,
    },
    /// Renewing the access token failed; the shard goes on with the one it holds.
    Token {
        /// The shard.
        shard: ShardId,
        /// Why.
        error: TokenError,
    },
}

impl core::fmt::Display for EventError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Model { error, .. } => write!(f, "{error}"),
            Self::Decode { shard, error } => write!(f, "shard {shard}: {error}"),
            Self::Fatal { shard, error } => write!(f, "shard {shard} stopped: {error}"),
            Self::Token { shard, error } => {
                write!(f, "shard {shard}: {error}; going on with the current token")
            }
        }
    }
}

impl std::error::Error for EventError {}

macro_rules! handler {
    ($( $name:ident => $variant:ident($model:ident) $method:ident, $intent:ident, $doc:literal; )*) => {
        /// A bot's event callbacks, in the shape botrs users know: one method per event
        /// QQ documents, named after the event (`AT_MESSAGE_CREATE` →
        /// [`at_message_create`](Self::at_message_create)), plus
        /// [`unknown_event`](Self::unknown_event), [`error`](Self::error) and
        /// [`disconnected`](Self::disconnected). Every method has a default that does
        /// nothing; implement the ones you need, with `async fn`.
        ///
        /// Callbacks of one shard run one at a time, in the order QQ sent the events;
        /// shards run theirs concurrently. A slow callback never delays heartbeats: it
        /// only fills the shard's event buffer (see
        /// [`ConfigBuilder::event_buffer`](crate::ConfigBuilder::event_buffer)).
        ///
        /// # Examples
        ///
        /// ```no_run
        /// use qqgw_tokio::model::{GroupMessage, Message, Ready};
        /// use qqgw_tokio::{Client, Config, Context, EventHandler};
        ///
        /// struct Bot;
        ///
        /// impl EventHandler for Bot {
        ///     async fn ready(&self, _ctx: Context, ready: Ready) {
        ///         println!("ready as {:?}", ready.user.and_then(|u| u.username));
        ///     }
        ///     async fn at_message_create(&self, ctx: Context, msg: Message) {
        ///         // A reply quotes the message's id as `msg_id`.
        ///         println!("{:?} said {:?} (msg_id {:?}, seq {:?})", msg.author, msg.content, msg.id, ctx.seq());
        ///     }
        ///     async fn group_at_message_create(&self, _ctx: Context, msg: GroupMessage) {
        ///         println!("group {:?}: {:?}", msg.group_openid, msg.content);
        ///     }
        /// }
        ///
        /// # async fn run() -> Result<(), qqgw_tokio::Error> {
        /// let client = Client::connect(Config::from_env().expect("credentials")).await?;
        /// let sessions = client.run(Bot).await?;
        /// # Ok(()) }
        /// ```
        pub trait EventHandler: Send + Sync + 'static {
            $(
                #[doc = concat!("`", stringify!($name), "`: ", $doc, "\n\n", handler!(@intent $intent))]
                fn $method(&self, ctx: Context, event: $model) -> impl Future<Output = ()> + Send {
                    let _ = (ctx, event);
                    async {}
                }
            )*

            /// An event qqgw has no model for (a name QQ added after this release). The
            /// raw data is in [`Context::dispatch`].
            fn unknown_event(&self, ctx: Context) -> impl Future<Output = ()> + Send {
                let _ = ctx;
                async {}
            }

            /// An event that could not be used, or a shard that stopped. The default logs
            /// it at `warn` (`error` for fatal ones).
            fn error(&self, error: EventError) -> impl Future<Output = ()> + Send {
                match &error {
                    EventError::Fatal { .. } => tracing::error!(%error, "event error"),
                    _ => tracing::warn!(%error, "event error"),
                }
                async {}
            }

            /// A shard's connection ended and it is reconnecting (the shard has logged it
            /// already).
            fn disconnected(&self, shard: ShardId, disconnect: Disconnect) -> impl Future<Output = ()> + Send {
                let _ = (shard, disconnect);
                async {}
            }

            /// A shard's session could not be resumed (QQ refused the RESUME, or the saved
            /// session was too old): events QQ sent after `session.seq`, the last one
            /// handled, may never arrive. The shard IDENTIFYs afresh. Also called with an
            /// empty `session.id` when an IDENTIFY got no READY: the events of a session QQ
            /// may have started are lost (see [`Event::SessionLost`]). The shard has logged
            /// it already, at `warn`.
            fn session_lost(&self, shard: ShardId, session: Session) -> impl Future<Output = ()> + Send {
                let _ = (shard, session);
                async {}
            }
        }

        /// Hands one event to its callback.
        pub(crate) async fn route<H: EventHandler>(handler: &H, event: ShardEvent) {
            let shard = event.shard;
            let api = event.api().cloned();
            let dispatch = match event.event {
                Event::Dispatch(dispatch) => dispatch,
                Event::Disconnected(d) => return handler.disconnected(shard, d).await,
                Event::SessionLost(session) => return handler.session_lost(shard, session).await,
                Event::DecodeFailed(error) => return handler.error(EventError::Decode { shard, error }).await,
                Event::Fatal(error) => return handler.error(EventError::Fatal { shard, error }).await,
                Event::TokenRefreshFailed(error) => {
                    return handler.error(EventError::Token { shard, error }).await;
                }
                _ => return,
            };
            match TypedEvent::from_dispatch(&dispatch) {
                $(Ok(TypedEvent::$variant(e)) => handler.$method(Context { dispatch, api }, e).await,)*
                Ok(_) => handler.unknown_event(Context { dispatch, api }).await,
                Err(error) => handler.error(EventError::Model { dispatch: Box::new(dispatch), error }).await,
            }
        }
    };
    (@intent none) => { "Always delivered." };
    (@intent $bit:ident) => { concat!("Needs [`Intents::", stringify!($bit), "`](crate::Intents::", stringify!($bit), ").") };
}

qqgw_proto::event_table!(handler);

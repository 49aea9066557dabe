//! A streamed C2C answer as a value a handler writes into: [`MessageStream`], the IO
//! around `qqgw-proto`'s pure [`C2cStream`].

use core::time::Duration;

use qqgw_proto::openapi::{ApiError, C2cStream, Retry, StreamContent, StreamState};

use super::message::ReplyTo;
use super::{Api, CallError};

/// How many chunks in a row may go without a usable answer before a stream gives up.
const MAX_LOST: u32 = 3;

/// A streamed answer in a C2C chat (`stream_messages`, QQ-API.md §6): the message grows
/// on the user's screen as the bot writes into it, the way AI chat bots answer. Made by
/// [`Context::stream`](crate::Context::stream) or [`User::stream`](super::User::stream).
///
/// [`push`](Self::push) appends text; [`finish`](Self::finish) sends the final chunk
/// (without it QQ leaves the message "generating", then rolls it back). QQ's rules are
/// kept by `qqgw-proto`'s [`C2cStream`]: chunks numbered from 0, the `stream_msg_id` of
/// the first answer on every later chunk, one `msg_seq` for all, at most one chunk per
/// [`interval`](Self::interval) (500 ms by default; text pushed meanwhile goes with the
/// next chunk), never two in flight, each chunk carrying the whole text so far
/// (`replace` mode, so a chunk lost on the way costs nothing). A chunk without a usable
/// answer (no connection, a server error) is sent again with the next, up to 3 in a
/// row. Once QQ refuses a chunk, every call returns that error and nothing more is sent.
/// Dropped unfinished (a handler returning early with `?`), the stream still tries to
/// close the message, in the background.
///
/// Streaming is C2C only, and needs the message (or event) it answers: it takes one of
/// its 4 replies, within its 60 minutes.
///
/// # Examples
///
/// ```no_run
/// use qqgw_tokio::model::C2cMessage;
/// use qqgw_tokio::{Context, EventHandler};
///
/// struct Ai;
///
/// impl EventHandler for Ai {
///     async fn c2c_message_create(&self, ctx: Context, msg: C2cMessage) {
///         let mut answer = ctx.stream(&msg);
///         let result = async {
///             for word in ["Thinking", "…", " the answer", " is 42."] {
///                 answer.push(word).await?; // from a language model, in real life
///             }
///             answer.finish().await
///         };
///         if let Err(error) = result.await {
///             eprintln!("stream failed: {error}");
///         }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct MessageStream {
    api: Option<Api>,
    state: C2cStream,
    /// Why the stream cannot go on, when not QQ's refusal (kept in the state).
    error: Option<CallError>,
    lost: u32,
    /// Set on the copy a dropped stream closes in the background, which must not try
    /// again when it is dropped in turn (say, by a runtime shutting down).
    closing: bool,
}

impl MessageStream {
    pub(crate) fn new(api: Api, user_openid: String, anchor: ReplyTo) -> Self {
        let seq = api.next_seq(&anchor).unwrap_or(1);
        let state = match anchor {
            ReplyTo::Event(id) => C2cStream::reply_to_event(user_openid, id),
            ReplyTo::Message(id) => C2cStream::reply_to(user_openid, id),
            ReplyTo::None => C2cStream::reply_to(user_openid, String::new()),
        };
        Self { api: Some(api), state: state.msg_seq(seq), error: None, lost: 0, closing: false }
    }

    /// A stream that fails at once with `error` (a message that cannot be answered).
    pub(crate) fn failed(error: CallError) -> Self {
        Self { api: None, state: C2cStream::reply_to("", ""), error: Some(error), lost: 0, closing: false }
    }

    /// Sets the shortest time between two chunks (default 500 ms; clients report 0.5–1 s
    /// working well, the route allows 50 a second).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        let state = core::mem::replace(&mut self.state, C2cStream::reply_to("", ""));
        self.state = state.interval(interval);
        self
    }

    /// Sets how QQ reads the text (default markdown).
    #[must_use]
    pub fn content(mut self, content: StreamContent) -> Self {
        let state = core::mem::replace(&mut self.state, C2cStream::reply_to("", ""));
        self.state = state.content(content);
        self
    }

    /// Appends `text` and, if the interval since the last chunk has passed, sends a chunk
    /// with everything so far (waiting for QQ's answer); otherwise the text goes with the
    /// next one.
    ///
    /// # Errors
    ///
    /// QQ's refusal of a chunk ([`ErrorKind::Reply`](super::ErrorKind::Reply) for a spent
    /// or expired anchor, …), or why no chunk could be sent; the same error on every
    /// later call.
    pub async fn push(&mut self, text: impl AsRef<str>) -> Result<(), CallError> {
        self.check()?;
        self.state.push(text.as_ref());
        let api = self.api.clone().ok_or(CallError::NoApi)?;
        if let Some(chunk) = self.state.poll_request(api.now()) {
            self.send(&api, chunk).await;
        }
        self.check()
    }

    /// Waits until every text pushed so far is delivered (pacing included).
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub async fn flush(&mut self) -> Result<(), CallError> {
        self.check()?;
        let api = self.api.clone().ok_or(CallError::NoApi)?;
        while self.state.poll_timeout().is_some() {
            self.step(&api).await;
            self.check()?;
        }
        Ok(())
    }

    /// Ends the message: sends what is pending and the final chunk (`input_state` 10),
    /// waiting for QQ's answers.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub async fn finish(mut self) -> Result<(), CallError> {
        self.check()?;
        let api = self.api.clone().ok_or(CallError::NoApi)?;
        self.state.finish();
        while !self.state.is_closed() {
            self.step(&api).await;
            self.check()?;
        }
        Ok(())
    }

    /// The stream's id (QQ's answer to the first chunk), once there is one.
    #[must_use]
    pub fn stream_msg_id(&self) -> Option<&str> {
        self.state.stream_msg_id()
    }

    /// The text QQ acknowledged so far.
    #[must_use]
    pub fn delivered(&self) -> &str {
        self.state.delivered()
    }

    /// Sends the next chunk if one may go now, else sleeps until one may.
    async fn step(&mut self, api: &Api) {
        if let Some(chunk) = self.state.poll_request(api.now()) {
            self.send(api, chunk).await;
        } else if let Some(at) = self.state.poll_timeout() {
            api.sleep_until(at).await;
        } else if !self.state.is_closed() {
            // Nothing to send and not closed: cannot happen with a chunk in flight
            // awaited; end rather than spin.
            self.fail(CallError::Request(qqgw_proto::openapi::RequestError::Body(
                "the stream has nothing to send".into(),
            )));
        }
    }

    async fn send(&mut self, api: &Api, chunk: qqgw_proto::openapi::SendC2cStream) {
        let answer = api.call(&chunk).await;
        let now = api.now();
        match answer {
            Ok(sent) => {
                self.lost = 0;
                self.state.handle_response(now, Ok(sent));
            }
            Err(CallError::Qq(error)) if error.retry() == Retry::Later && self.lost < MAX_LOST => {
                self.lost += 1;
                self.state.lost(now);
            }
            Err(CallError::Http { .. }) if self.lost < MAX_LOST => {
                self.lost += 1;
                self.state.lost(now);
            }
            Err(CallError::Qq(error)) => self.state.handle_response(now, Err(*error)),
            Err(other) => self.fail(other),
        }
    }

    fn fail(&mut self, error: CallError) {
        let now = self.api.as_ref().map_or(qqgw_proto::Instant::ZERO, Api::now);
        self.state.lost(now);
        self.state.handle_response(now, Err(ApiError::new(0, "the stream was abandoned")));
        self.error = Some(error);
    }

    fn check(&self) -> Result<(), CallError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        match self.state.state() {
            StreamState::Failed(error) => Err(CallError::Qq(Box::new(error.clone()))),
            _ => Ok(()),
        }
    }
}

impl Drop for MessageStream {
    /// An unfinished stream is closed in the background: what was pushed, and the final
    /// chunk. A stream that never sent a chunk, failed, or was finished needs nothing.
    fn drop(&mut self) {
        let Some(api) = self.api.take() else { return };
        if self.closing
            || self.error.is_some()
            || self.state.is_closed()
            || self.state.stream_msg_id().is_none()
        {
            return;
        }
        let mut rest = Self {
            api: Some(api.clone()),
            state: self.state.clone(),
            error: None,
            lost: self.lost,
            closing: true,
        };
        // A chunk whose answer was never awaited (a cancelled push) counts as lost.
        rest.state.lost(api.now());
        api.spawn(async move {
            if let Err(error) = rest.finish().await {
                tracing::debug!(%error, "closing a dropped stream failed");
            }
        });
    }
}

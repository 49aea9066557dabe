//! C2C streaming (QQ-API.md §6): the `stream_messages` body.

use core::time::Duration;

use serde::Serialize;

use super::error::ApiError;
use super::message::MessageSent;
use super::request::{Check, RequestError, request};
use crate::Instant;

/// `input_state` of a chunk: 1 while generating.
pub const STREAM_GENERATING: u8 = 1;
/// `input_state` of the last chunk: generation finished. Without it the message stays
/// "generating" or is rolled back.
pub const STREAM_FINISHED: u8 = 10;

/// One chunk of a streamed C2C message, the body of [`SendC2cStream`]. Every field is
/// optional in QQ's table; unset ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StreamChunk {
    /// `append` (QQ's default: the text is added) or `replace` (the text is the whole
    /// message so far and must extend what was delivered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_mode: Option<String>,
    /// [`STREAM_GENERATING`] or [`STREAM_FINISHED`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_state: Option<u8>,
    /// The chunk number, from 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// `text` or `markdown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The chunk's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_raw: Option<String>,
    /// Passive anchor: the received C2C message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<String>,
    /// Passive anchor: an event id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Absent on the first chunk; then the `id` the first answer returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_msg_id: Option<String>,
    /// De-duplication sequence (the same on every chunk in QQ's example).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_seq: Option<u32>,
    /// Do not check the validity window of `msg_id`/`event_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_wakeup: Option<bool>,
}

impl Check for StreamChunk {
    fn check(&self) -> Result<(), RequestError> {
        if self.msg_id.is_some() && self.event_id.is_some() {
            return Err(RequestError::invalid("msg_id", "either msg_id or event_id, not both"));
        }
        Ok(())
    }
}

request! {
    /// `POST /v2/users/{user_openid}/stream_messages`: one chunk of a streamed C2C
    /// message. [`C2cStream`] drives a whole stream.
    SendC2cStream { user_openid } body StreamChunk;
}

/// The pause [`C2cStream`] keeps between two chunks unless told otherwise: clients
/// report 500 ms to 1 s working well; the route allows 50 QPS.
pub const DEFAULT_STREAM_INTERVAL: Duration = Duration::from_millis(500);

/// How a streamed message's text is read: markdown (QQ's example) or plain text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamContent {
    /// `markdown`.
    #[default]
    Markdown,
    /// `text`.
    Text,
}

impl StreamContent {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Markdown => "markdown",
            Self::Text => "text",
        }
    }
}

/// Where a stream stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamState {
    /// Text may still be pushed.
    Open,
    /// [`C2cStream::finish`] was called; the final chunk is pending or in flight.
    Finishing,
    /// The final chunk was delivered.
    Finished,
    /// QQ refused a chunk (or answered without the stream's id); nothing more is sent.
    Failed(ApiError),
}

/// A streamed C2C message (QQ-API.md §6) as a pure value: it owns the
/// `stream_msg_id`, the next `index`, the text delivered so far, the `msg_seq` and the
/// passive anchor, and decides when the next chunk may go. No IO and no clock: every
/// call takes the caller's `now`.
///
/// The stream uses `replace` mode: every chunk carries the whole text so far, which
/// always extends what was delivered (text is only ever appended), so QQ's rule that a
/// delivered prefix may not change (`40007`) holds, and a client that dropped a chunk
/// still ends with the full text. Pending text is coalesced: at most one chunk per
/// interval ([`DEFAULT_STREAM_INTERVAL`]), never two in flight (the first answer's `id`
/// is needed by every later chunk). [`finish`](Self::finish) queues the final
/// `input_state: 10` chunk, which QQ needs to end the message; with no new text it
/// carries a `"\n"` more (a client fix reported in QQ-API.md §6.5). After an error or the
/// final chunk, nothing more is sent. All chunks share one `msg_seq`, as in QQ's
/// example.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use qqgw_proto::Instant;
/// use qqgw_proto::openapi::{C2cStream, Endpoint, SendC2cStream};
///
/// let mut stream = C2cStream::reply_to("USER_OPENID", "ROBOT1.0_received");
/// let mut now = Instant::ZERO;
/// stream.push("Thinking");
/// let first = stream.poll_request(now).unwrap(); // index 0, no stream_msg_id yet
/// assert!(stream.poll_request(now).is_none()); // one chunk in flight at a time
/// // … send `first.request()?` with any HTTP client, then report the answer:
/// let answer = SendC2cStream::parse_response(200, None, br#"{"id":"stream-1"}"#);
/// stream.handle_response(now, answer);
///
/// stream.push(". Done.");
/// stream.finish();
/// assert_eq!(stream.poll_timeout(), Some(now + Duration::from_millis(500)));
/// now += Duration::from_millis(500);
/// let last = stream.poll_request(now).unwrap();
/// assert_eq!(last.body.input_state, Some(10));
/// assert_eq!(last.body.content_raw.as_deref(), Some("Thinking. Done."));
/// assert_eq!(last.body.stream_msg_id.as_deref(), Some("stream-1"));
/// stream.handle_response(now, SendC2cStream::parse_response(200, None, b"{}"));
/// assert!(stream.is_closed());
/// # Ok::<(), qqgw_proto::openapi::RequestError>(())
/// ```
#[derive(Debug, Clone)]
pub struct C2cStream {
    user_openid: String,
    msg_id: Option<String>,
    event_id: Option<String>,
    is_wakeup: bool,
    msg_seq: u32,
    content: StreamContent,
    interval: Duration,
    stream_msg_id: Option<String>,
    next_index: u32,
    /// Every byte pushed; `text[..delivered]` was acknowledged by QQ.
    text: String,
    delivered: usize,
    /// The length of the text the chunk in flight carries, and whether it is the final one.
    in_flight: Option<(usize, bool)>,
    last_sent: Option<Instant>,
    state: StreamState,
}

impl C2cStream {
    fn new(user_openid: String, msg_id: Option<String>, event_id: Option<String>) -> Self {
        Self {
            user_openid,
            msg_id,
            event_id,
            is_wakeup: false,
            msg_seq: 1,
            content: StreamContent::Markdown,
            interval: DEFAULT_STREAM_INTERVAL,
            stream_msg_id: None,
            next_index: 0,
            text: String::new(),
            delivered: 0,
            in_flight: None,
            last_sent: None,
            state: StreamState::Open,
        }
    }

    /// A stream answering the received C2C message `msg_id` (a passive reply; streaming
    /// without one fails).
    #[must_use]
    pub fn reply_to(user_openid: impl Into<String>, msg_id: impl Into<String>) -> Self {
        Self::new(user_openid.into(), Some(msg_id.into()), None)
    }

    /// A stream answering the event `event_id`.
    #[must_use]
    pub fn reply_to_event(user_openid: impl Into<String>, event_id: impl Into<String>) -> Self {
        Self::new(user_openid.into(), None, Some(event_id.into()))
    }

    /// Sets `is_wakeup`: QQ does not check the anchor's validity window.
    #[must_use]
    pub fn wakeup(mut self, wakeup: bool) -> Self {
        self.is_wakeup = wakeup;
        self
    }

    /// Sets the `msg_seq` every chunk carries (default 1).
    #[must_use]
    pub fn msg_seq(mut self, seq: u32) -> Self {
        self.msg_seq = seq;
        self
    }

    /// Sets the shortest time between two chunks (default [`DEFAULT_STREAM_INTERVAL`]).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets how the text is read (default markdown).
    #[must_use]
    pub fn content(mut self, content: StreamContent) -> Self {
        self.content = content;
        self
    }

    /// Appends text to the message. Returns `false`, and drops the text, once the
    /// stream is finishing, finished or failed.
    pub fn push(&mut self, text: &str) -> bool {
        if self.state != StreamState::Open {
            return false;
        }
        self.text.push_str(text);
        true
    }

    /// Ends the message: the next [`poll_request`](Self::poll_request) that pacing
    /// allows is the final chunk (`input_state: 10`) with all the text.
    pub fn finish(&mut self) {
        if self.state == StreamState::Open {
            self.state = StreamState::Finishing;
        }
    }

    /// The next chunk to send, if one may go at `now`: none while a chunk is in flight,
    /// before the interval since the last one has passed, when there is nothing new
    /// (unless finishing), or once the stream is closed.
    pub fn poll_request(&mut self, now: Instant) -> Option<SendC2cStream> {
        if self.in_flight.is_some() || self.poll_timeout().is_none_or(|at| at > now) {
            return None;
        }
        let last = self.state == StreamState::Finishing;
        if last && self.text.len() == self.delivered {
            // Nothing new for the closing chunk: a newline, as clients found QQ needs.
            self.text.push('\n');
        }
        let chunk = StreamChunk {
            input_mode: Some("replace".to_owned()),
            input_state: Some(if last { STREAM_FINISHED } else { STREAM_GENERATING }),
            index: Some(self.next_index),
            content_type: Some(self.content.as_str().to_owned()),
            content_raw: Some(self.text.clone()),
            msg_id: self.msg_id.clone(),
            event_id: self.event_id.clone(),
            stream_msg_id: self.stream_msg_id.clone(),
            msg_seq: Some(self.msg_seq),
            is_wakeup: self.is_wakeup.then_some(true),
        };
        self.next_index = self.next_index.saturating_add(1);
        self.in_flight = Some((self.text.len(), last));
        self.last_sent = Some(now);
        Some(SendC2cStream::new(self.user_openid.clone(), chunk))
    }

    /// Reports QQ's answer to the chunk in flight. The first answer's `id` becomes the
    /// `stream_msg_id` of every later chunk; an error (or a first answer without an id)
    /// fails the stream. An answer with no chunk in flight is ignored.
    pub fn handle_response(&mut self, now: Instant, answer: Result<MessageSent, ApiError>) {
        let _ = now;
        let Some((sent, last)) = self.in_flight.take() else { return };
        if matches!(self.state, StreamState::Finished | StreamState::Failed(_)) {
            return;
        }
        match answer {
            Ok(sent_message) => {
                if self.stream_msg_id.is_none() {
                    match sent_message.id.filter(|id| !id.is_empty()) {
                        Some(id) => self.stream_msg_id = Some(id),
                        None => {
                            self.state =
                                StreamState::Failed(ApiError::new(0, "the first chunk's answer has no id"));
                            return;
                        }
                    }
                }
                self.delivered = sent;
                if last {
                    self.state = StreamState::Finished;
                }
            }
            Err(error) => self.state = StreamState::Failed(error),
        }
    }

    /// Reports that the chunk in flight got no usable answer — the connection failed, a
    /// server error left open whether QQ took it, or the caller gave up waiting — so
    /// that the stream can go on. The chunk counts as undelivered: the next one carries
    /// the whole text again (replace mode), with the next `index`, so nothing is lost
    /// if QQ took it or not. A lost first chunk is sent again as the first (index 0, the
    /// same `msg_seq`: if QQ did take it, it refuses the copy with `40054005` and the
    /// stream fails rather than open twice). Nothing happens without a chunk in flight.
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::Instant;
    /// use qqgw_proto::openapi::{C2cStream, Endpoint, SendC2cStream};
    ///
    /// let mut stream = C2cStream::reply_to("U", "M").interval(core::time::Duration::ZERO);
    /// stream.push("a");
    /// let first = stream.poll_request(Instant::ZERO).unwrap();
    /// stream.lost(Instant::ZERO);
    /// let again = stream.poll_request(Instant::ZERO).unwrap();
    /// assert_eq!((again.body.index, again.body.content_raw.as_deref()), (Some(0), Some("a")));
    /// # let _ = first;
    /// ```
    pub fn lost(&mut self, now: Instant) {
        let _ = now;
        if self.in_flight.take().is_none() || self.is_closed() {
            return;
        }
        if self.stream_msg_id.is_none() {
            self.next_index = 0;
        }
    }

    /// When the next chunk may go: `None` while a chunk is in flight, when there is
    /// nothing to send, or once the stream is closed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pending = self.text.len() > self.in_flight.map_or(self.delivered, |(sent, _)| sent);
        let wants = match self.state {
            StreamState::Open => pending,
            StreamState::Finishing => true,
            StreamState::Finished | StreamState::Failed(_) => false,
        };
        if !wants || self.in_flight.is_some() {
            return None;
        }
        Some(self.last_sent.map_or(Instant::ZERO, |at| at + self.interval))
    }

    /// Where the stream stands.
    #[must_use]
    pub fn state(&self) -> &StreamState {
        &self.state
    }

    /// Whether nothing more will be sent (finished or failed).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state, StreamState::Finished | StreamState::Failed(_))
    }

    /// The stream's id, once the first chunk was answered.
    #[must_use]
    pub fn stream_msg_id(&self) -> Option<&str> {
        self.stream_msg_id.as_deref()
    }

    /// The text QQ acknowledged so far.
    #[must_use]
    pub fn delivered(&self) -> &str {
        self.text.get(..self.delivered).unwrap_or_default()
    }
}

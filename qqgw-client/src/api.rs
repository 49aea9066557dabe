//! Sending: QQ's OpenAPI for messages, on the token the shards use.
//!
//! One [`Api`] per bot, cheap to clone: [`Client::api`](crate::Client::api),
//! [`Context::api`](crate::Context::api), or [`Api::new`] for a bot that only sends.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use qqgw_proto::model::{Ark, C2cMessage, Embed, GroupMessage, Message};
use qqgw_proto::{AccessToken, Instant, TokenError};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::error::Error;
use crate::http::Http;
use crate::http::Tokens;
use crate::runtime::Clock;
use crate::runtime::Runtime;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// An HTTP answer: status, body and QQ's trace id.
type Answer = Result<(u16, Vec<u8>, Option<String>), String>;
type SeqMap = Mutex<(HashMap<String, Arc<AtomicU32>>, VecDeque<String>)>;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// A group, by `group_openid`: `POST /v2/groups/{group_openid}/messages`.
    Group(String),
    /// A user's C2C chat, by `openid`: `POST /v2/users/{openid}/messages`.
    User(String),
    /// A guild text channel, by `channel_id`: `POST /channels/{channel_id}/messages`.
    Channel(String),
    /// A guild direct-message session, by its `guild_id` (the one on
    /// `DIRECT_MESSAGE_CREATE`): `POST /dms/{guild_id}/messages`.
    Dm(String),
}

impl Target {
    fn messages_path(&self) -> String {
        match self {
            Self::Group(id) => format!("/v2/groups/{}/messages", segment(id)),
            Self::User(id) => format!("/v2/users/{}/messages", segment(id)),
            Self::Channel(id) => format!("/channels/{}/messages", segment(id)),
            Self::Dm(id) => format!("/dms/{}/messages", segment(id)),
        }
    }

    /// Group and C2C chats use QQ's v2 API (`msg_type`, `msg_seq`, media uploads).
    fn is_v2(&self) -> bool {
        matches!(self, Self::Group(_) | Self::User(_))
    }
}

/// An id in a path: QQ's ids are alphanumeric; anything else is percent-encoded so that an
/// id can never change the path.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a message answers: nothing (an active message), a received message (passive,
/// `msg_id`), or an event (passive, `event_id`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReplyTo {
    /// An active message. QQ ended active C2C and group messages on 2025-04-21; expect
    /// [`SendErrorKind::ActiveRefused`] there.
    #[default]
    None,
    /// A reply to the message with this `id` (C2C/group/guild message events).
    Message(String),
    /// A reply to the event with this id (the gateway payload's `id`): for
    /// `INTERACTION_CREATE`, `C2C_MSG_RECEIVE`, `FRIEND_ADD`, `GROUP_ADD_ROBOT`,
    /// `GROUP_MSG_RECEIVE` and guild member, reaction and forum events.
    Event(String),
}

/// A message to send: text, markdown (with a keyboard), ark, embed or media, and what it
/// answers.
///
/// `msg_seq` is managed by [`Api`]: replies to one message or event are numbered 1, 2, …
/// in the order they are sent, however many tasks reply at once. Set it yourself with
/// [`msg_seq`](Self::msg_seq) only to resend a message QQ may have received (QQ refuses the
/// second with [`SendErrorKind::DuplicateSeq`]).
///
/// # Examples
///
/// ```
/// use qqgw_tokio::api::{Outgoing, ReplyTo};
///
/// let text = Outgoing::text("pong").reply_to(ReplyTo::Message("ROBOT1.0_abc".into()));
/// let md = Outgoing::markdown(serde_json::json!({"content": "**bold**"}))
///     .keyboard(serde_json::json!({"id": "123_template"}));
/// # let _ = (text, md);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outgoing {
    content: Option<String>,
    kind: Kind,
    keyboard: Option<Value>,
    image: Option<String>,
    reply: ReplyTo,
    msg_seq: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq)]
enum Kind {
    #[default]
    Text,
    Markdown(Value),
    Ark(Value),
    Embed(Value),
    Media(Media),
}

impl Outgoing {
    /// Plain text (`msg_type` 0).
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self { content: Some(content.into()), ..Self::default() }
    }

    /// Markdown (`msg_type` 2): `{"content": "…"}` or
    /// `{"custom_template_id": "…", "params": [{"key": "…", "values": ["…"]}]}`. Invitation
    /// only on QQ's side; may carry a [`keyboard`](Self::keyboard).
    #[must_use]
    pub fn markdown(markdown: Value) -> Self {
        Self { kind: Kind::Markdown(markdown), ..Self::default() }
    }

    /// An ark template message (`msg_type` 3).
    #[must_use]
    pub fn ark(ark: &Ark) -> Self {
        Self { kind: Kind::Ark(serde_json::to_value(ark).unwrap_or(Value::Null)), ..Self::default() }
    }

    /// An embed (`msg_type` 4). QQ documents it for guild channels; its embed page says it
    /// is not open in C2C and groups.
    #[must_use]
    pub fn embed(embed: &Embed) -> Self {
        Self { kind: Kind::Embed(serde_json::to_value(embed).unwrap_or(Value::Null)), ..Self::default() }
    }

    /// Rich media (`msg_type` 7) from [`Api::upload`]; C2C and groups only.
    #[must_use]
    pub fn media(media: Media) -> Self {
        Self { kind: Kind::Media(media), ..Self::default() }
    }

    /// Text alongside markdown, ark, embed or media (QQ requires some for groups).
    #[must_use]
    pub fn content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }

    /// A keyboard: `{"id": "…"}` (a template) or `{"content": {"rows": […]}}`; with markdown.
    #[must_use]
    pub fn keyboard(mut self, keyboard: Value) -> Self {
        self.keyboard = Some(keyboard);
        self
    }

    /// An image URL (guild channels and DMs only; QQ re-hosts it).
    #[must_use]
    pub fn image(mut self, url: impl Into<String>) -> Self {
        self.image = Some(url.into());
        self
    }

    /// What this message answers.
    #[must_use]
    pub fn reply_to(mut self, reply: ReplyTo) -> Self {
        self.reply = reply;
        self
    }

    /// A fixed `msg_seq` instead of the next one (to resend the same message).
    #[must_use]
    pub fn msg_seq(mut self, seq: u32) -> Self {
        self.msg_seq = Some(seq);
        self
    }

    /// The JSON body for `target` with `seq`.
    fn body(&self, target: &Target, seq: Option<u32>) -> Value {
        let mut body = Map::new();
        let mut put = |k: &str, v: Value| {
            body.insert(k.to_owned(), v);
        };
        let (msg_type, object) = match &self.kind {
            Kind::Text => (0, None),
            Kind::Markdown(v) => (2, Some(("markdown", v))),
            Kind::Ark(v) => (3, Some(("ark", v))),
            Kind::Embed(v) => (4, Some(("embed", v))),
            Kind::Media(_) => (7, None),
        };
        if let Some((key, value)) = object {
            put(key, value.clone());
        }
        let content = match (&self.kind, &self.content) {
            // QQ's docs: media needs a non-empty content (a known bug on their side).
            (Kind::Media(_), None) => Some(" ".to_owned()),
            (_, c) => c.clone(),
        };
        if let Some(content) = content {
            put("content", Value::String(content));
        }
        if let Some(keyboard) = &self.keyboard {
            put("keyboard", keyboard.clone());
        }
        if target.is_v2() {
            put("msg_type", json!(msg_type));
            if let Kind::Media(m) = &self.kind {
                put("media", json!({"file_info": m.file_info}));
            }
            if let Some(seq) = seq {
                put("msg_seq", json!(seq));
            }
        } else if let Some(image) = &self.image {
            put("image", Value::String(image.clone()));
        }
        match &self.reply {
            ReplyTo::None => {}
            ReplyTo::Message(id) => put("msg_id", Value::String(id.clone())),
            ReplyTo::Event(id) => put("event_id", Value::String(id.clone())),
        }
        Value::Object(body)
    }
}

impl From<&str> for Outgoing {
    fn from(text: &str) -> Self {
        Self::text(text)
    }
}

impl From<String> for Outgoing {
    fn from(text: String) -> Self {
        Self::text(text)
    }
}

/// An uploaded file, for [`Outgoing::media`]: the answer of `POST …/files`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Media {
    /// What `media.file_info` carries.
    pub file_info: String,
    /// QQ's id of the file.
    pub file_uuid: Option<String>,
    /// Seconds it stays usable (0: long-lived).
    pub ttl: Option<u64>,
}

impl Media {
    /// Media from a `file_info` kept from an earlier upload (reusable across chats of the
    /// same kind: group uploads for groups, user uploads for C2C).
    #[must_use]
    pub fn from_file_info(file_info: impl Into<String>) -> Self {
        Self { file_info: file_info.into(), file_uuid: None, ttl: None }
    }
}

/// The kind of a file to upload (`file_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileType {
    /// png or jpg (1).
    Image,
    /// mp4 (2).
    Video,
    /// silk (3).
    Voice,
}

/// What QQ answered to a send.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Sent {
    /// The new message's id.
    pub id: Option<String>,
    /// The `msg_seq` it was sent with (C2C and group replies).
    pub msg_seq: Option<u32>,
    /// QQ's whole answer (its `timestamp` is a number or a string, depending on the API).
    pub raw: Value,
}

/// What went wrong, as a class to act on; QQ's code is in [`SendError::Qq`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// HTTP 429, or codes 20028, 22009, 1100100: sending too fast. Retried with backoff
    /// before it reaches you.
    RateLimited,
    /// The reply window has passed (group and guild 5 min, C2C 60 min per QQ's docs):
    /// 304027, or a message saying the `msg_id` expired. Send an active message instead
    /// (where QQ still allows it), or nothing.
    ReplyExpired,
    /// The same (`msg_id`/`event_id`, `msg_seq`) pair was sent before (40054005). A
    /// retried send that QQ had received already ends here: the message is out.
    DuplicateSeq,
    /// More replies to one message than QQ allows (5 for C2C and groups).
    ReplyLimit,
    /// The message or event replied to is unknown or not this bot's (40034024, 304026,
    /// 304028).
    InvalidReply,
    /// An active message was refused (40034102, 40034105, 304045–304050): QQ ended active
    /// C2C and group messages in 2025, and limits guild ones.
    ActiveRefused,
    /// No permission for this API or chat, or the bot is banned (11253, 11254, 11264,
    /// 11265, 304003 for an unregistered URL in the content).
    NoPermission,
    /// The message is held for review (304023, 304024); the verdict arrives as a
    /// `MESSAGE_AUDIT` event with [`SendError::audit_id`].
    Audit,
    /// The content was refused: sensitive (1100101), empty (50006), or an invalid combination
    /// (50037, 50057).
    Content,
    /// The token was refused (HTTP 401, 11241, 11243, 11244). Retried once with a fresh
    /// token before it reaches you.
    Auth,
    /// The bot is not online on the gateway (304018).
    Offline,
    /// HTTP 5xx. Retried with backoff before it reaches you (the same `msg_seq`, so QQ
    /// drops a copy it already took).
    Server,
    /// Anything else QQ answered.
    Other,
}

impl SendErrorKind {
    /// The class of QQ's answer `code`/`message` under HTTP `status`.
    #[must_use]
    pub fn of(status: u16, code: Option<i64>, message: &str) -> Self {
        match code {
            Some(20028 | 22009 | 1100100) => Self::RateLimited,
            Some(304027) => Self::ReplyExpired,
            Some(40054005) => Self::DuplicateSeq,
            Some(40034024 | 304026 | 304028) => Self::InvalidReply,
            Some(40034102 | 40034105 | 304045..=304050) => Self::ActiveRefused,
            Some(11253 | 11254 | 11264 | 11265 | 304003) => Self::NoPermission,
            Some(304023 | 304024) => Self::Audit,
            Some(1100101 | 50006 | 50037 | 50057) => Self::Content,
            Some(11241 | 11243 | 11244) => Self::Auth,
            Some(304018) => Self::Offline,
            _ if message.contains("过期") || message.contains("expired") => Self::ReplyExpired,
            _ if message.contains("exceed limit") => Self::ReplyLimit,
            _ if status == 429 => Self::RateLimited,
            _ if status == 401 => Self::Auth,
            _ if status >= 500 => Self::Server,
            _ => Self::Other,
        }
    }
}

/// Why a send failed. Its `Display` names the request and QQ's code and message; it never
/// contains the access token or the AppSecret.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SendError {
    /// QQ refused: its `{code, message}` and HTTP status.
    Qq {
        /// The class to act on.
        kind: SendErrorKind,
        /// The HTTP status.
        status: u16,
        /// QQ's `code` (or `err_code`), if the body had one.
        code: Option<i64>,
        /// QQ's `message`.
        message: String,
        /// QQ's `trace_id` (or the `X-Tps-trace-ID` header), to quote to QQ's support.
        trace_id: Option<String>,
        /// For [`SendErrorKind::Audit`]: `data.message_audit.audit_id`.
        audit_id: Option<String>,
        /// The request, e.g. `POST /v2/groups/G/messages`.
        request: String,
    },
    /// No answer: DNS, TCP, TLS or a timeout (the text says which).
    Http(String),
    /// No access token.
    Token(TokenError),
    /// Nothing to reply to: the message lacks the id or chat a reply needs.
    NoReplyTarget(&'static str),
    /// The event came without an [`Api`] (one built by hand and given to
    /// [`run_handler`](crate::run_handler)): attach one with [`ShardEvent::with_api`](crate::ShardEvent::with_api).
    NoApi,
}

impl SendError {
    /// The class of a refusal by QQ; `None` for transport and token failures.
    #[must_use]
    pub fn kind(&self) -> Option<SendErrorKind> {
        match self {
            Self::Qq { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// QQ's audit id for a message held for review.
    #[must_use]
    pub fn audit_id(&self) -> Option<&str> {
        match self {
            Self::Qq { audit_id, .. } => audit_id.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Qq { kind, status, code, message, trace_id, request, .. } => {
                write!(f, "{request}: QQ answered HTTP {status}")?;
                if let Some(code) = code {
                    write!(f, ", code {code}")?;
                }
                write!(f, " ({kind:?}): {message}")?;
                if let Some(trace) = trace_id {
                    write!(f, " [trace {trace}]")?;
                }
                Ok(())
            }
            Self::Http(e) => write!(f, "sending failed before an answer: {e}"),
            Self::Token(e) => write!(f, "no access token to send with: {e}"),
            Self::NoReplyTarget(what) => write!(f, "cannot reply: the event has no {what}"),
            Self::NoApi => write!(f, "cannot reply: this event came without an API client"),
        }
    }
}

impl std::error::Error for SendError {}

/// How a send is retried: HTTP 429 and 5xx (and QQ's rate-limit codes) up to `max_retries`
/// times, waiting `base_delay`, then twice as long each time up to `max_delay`; a refused
/// token once, with a fresh one. Nothing else is retried: QQ's other refusals would repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub max_retries: u32,
    /// The first wait.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// `max_retries` retries, waiting from `base_delay` up to `max_delay`.
    #[must_use]
    pub fn new(max_retries: u32, base_delay: Duration, max_delay: Duration) -> Self {
        Self { max_retries, base_delay, max_delay }
    }

    fn delay(&self, retry: u32) -> Duration {
        self.base_delay.saturating_mul(1u32 << retry.min(16)).min(self.max_delay)
    }
}

/// Three retries, from 500 ms to 4 s.
impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new(3, Duration::from_millis(500), Duration::from_secs(4))
    }
}

/// Counters of `msg_seq` per replied message or event: each reply takes the next number,
/// atomically. The oldest counters are forgotten past `capacity` (QQ's reply windows are
/// minutes, so only a bot replying to more than `capacity` messages within one window could
/// see a number again).
pub(crate) struct Seqs {
    capacity: usize,
    /// The counters, and their keys oldest first.
    inner: SeqMap,
}

impl Seqs {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), inner: Mutex::new((HashMap::new(), VecDeque::new())) }
    }

    pub(crate) fn next(&self, key: &str) -> u32 {
        let counter = {
            let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let (map, order) = &mut *guard;
            if let Some(counter) = map.get(key) {
                Arc::clone(counter)
            } else {
                while map.len() >= self.capacity {
                    match order.pop_front() {
                        Some(old) => map.remove(&old),
                        None => break,
                    };
                }
                let counter = Arc::new(AtomicU32::new(0));
                map.insert(key.to_owned(), Arc::clone(&counter));
                order.push_back(key.to_owned());
                counter
            }
        };
        counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).0.len()
    }
}

/// How many messages' `msg_seq` counters an [`Api`] keeps.
pub const MSG_SEQ_CAPACITY: usize = 65_536;

/// What an [`Api`] needs from the adapter, without its runtime type.
trait Link: Send + Sync {
    fn token(&self, rejected: Option<Instant>) -> BoxFuture<'_, Result<(AccessToken, Instant), TokenError>>;
    fn post(&self, url: String, authorization: String, body: String) -> BoxFuture<'_, Answer>;
    fn sleep(&self, delay: Duration) -> BoxFuture<'_, ()>;
}

struct RuntimeLink<R> {
    runtime: R,
    http: Http<R>,
    tokens: Arc<Tokens<R>>,
}

impl<R: Runtime> Link for RuntimeLink<R> {
    fn token(&self, rejected: Option<Instant>) -> BoxFuture<'_, Result<(AccessToken, Instant), TokenError>> {
        Box::pin(self.tokens.current(rejected))
    }

    fn post(&self, url: String, authorization: String, body: String) -> BoxFuture<'_, Answer> {
        Box::pin(self.http.post_json(url, authorization, body))
    }

    fn sleep(&self, delay: Duration) -> BoxFuture<'_, ()> {
        Box::pin(self.runtime.sleep(delay))
    }
}

struct Inner {
    link: Box<dyn Link>,
    api_base: Arc<str>,
    seqs: Seqs,
}

/// QQ's OpenAPI for sending, sharing the access token of the bot's shards: one token
/// for the whole bot, sent as `Authorization: QQBot {token}` and renewed by the same
/// cache. Cheap to clone; every clone shares the token and the `msg_seq` counters.
///
/// Sends go to the config's [API base](crate::ConfigBuilder::api_base) (production,
/// [the 2024 host](crate::LEGACY_API_BASE) or [sandbox](crate::SANDBOX_API_BASE)), over
/// TLS unless the config [allows insecure endpoints](crate::ConfigBuilder::allow_insecure).
///
/// # Examples
///
/// ```no_run
/// use qqgw_tokio::api::{Outgoing, ReplyTo, Target};
/// use qqgw_tokio::{Client, Config};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::connect(Config::from_env()?).await?;
/// let api = client.api();
/// let reply = Outgoing::text("hello").reply_to(ReplyTo::Message("ROBOT1.0_x".into()));
/// let sent = api.send(&Target::Group("GROUP_OPENID".into()), reply).await?;
/// println!("sent {:?} with msg_seq {:?}", sent.id, sent.msg_seq);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
    retry: RetryPolicy,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("api_base", &self.inner.api_base)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// An API client of its own, for a bot that sends without a gateway; its token cache
    /// is its own (a [`Client`](crate::Client)'s [`api`](crate::Client::api) shares the
    /// shards').
    ///
    /// # Errors
    ///
    /// [`Error::InsecureEndpoint`] for an `http://` API base or token URL the config does
    /// not allow.
    pub fn new<R: Runtime>(runtime: R, config: &Config) -> Result<Self, Error> {
        let http = Http::for_config(runtime.clone(), config)?;
        let tokens = Arc::new(Tokens::new(http.clone(), Clock::new(&runtime)));
        Ok(Self::from_parts(runtime, http, tokens, &config.api_base))
    }

    pub(crate) fn from_parts<R: Runtime>(
        runtime: R,
        http: Http<R>,
        tokens: Arc<Tokens<R>>,
        api_base: &str,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                link: Box::new(RuntimeLink { runtime, http, tokens }),
                api_base: api_base.into(),
                seqs: Seqs::new(MSG_SEQ_CAPACITY),
            }),
            retry: RetryPolicy::default(),
        }
    }

    /// This handle with another retry policy (the token and counters stay shared).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sends `message` to `target`. A reply (to a message or event) takes the next
    /// `msg_seq` of what it answers, unless the message fixes one.
    ///
    /// # Errors
    ///
    /// [`SendError::Qq`] if QQ refused (see [`SendErrorKind`]; HTTP 429, 5xx and QQ's
    /// rate-limit codes are retried first, a refused token once); [`SendError::Http`] if
    /// no answer came — not retried, as QQ may have taken the message (to resend safely,
    /// fix the `msg_seq` with [`Outgoing::msg_seq`] before the first try: QQ refuses a
    /// second copy with [`SendErrorKind::DuplicateSeq`]); [`SendError::Token`] without a
    /// token.
    pub async fn send(&self, target: &Target, message: impl Into<Outgoing>) -> Result<Sent, SendError> {
        let message = message.into();
        let seq = match (&message.reply, message.msg_seq) {
            (_, Some(seq)) => Some(seq),
            (ReplyTo::Message(id), None) if target.is_v2() => Some(self.inner.seqs.next(&format!("m:{id}"))),
            (ReplyTo::Event(id), None) if target.is_v2() => Some(self.inner.seqs.next(&format!("e:{id}"))),
            _ => None,
        };
        let body = message.body(target, seq);
        let raw = self.post(&target.messages_path(), &body).await?;
        let id = raw.get("id").and_then(Value::as_str).map(str::to_owned);
        Ok(Sent { id, msg_seq: seq, raw })
    }

    /// Uploads the file at `url` for a group or C2C chat (`POST /v2/groups/{id}/files`,
    /// `/v2/users/{id}/files`, `srv_send_msg: false`); send the result with
    /// [`Outgoing::media`].
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); [`SendError::NoReplyTarget`] for a guild target (QQ has no
    /// uploads there: send an [`image`](Outgoing::image) URL).
    pub async fn upload(&self, target: &Target, file_type: FileType, url: &str) -> Result<Media, SendError> {
        let path = match target {
            Target::Group(id) => format!("/v2/groups/{}/files", segment(id)),
            Target::User(id) => format!("/v2/users/{}/files", segment(id)),
            _ => return Err(SendError::NoReplyTarget("group or C2C chat (uploads are v2 only)")),
        };
        let file_type = match file_type {
            FileType::Image => 1,
            FileType::Video => 2,
            FileType::Voice => 3,
        };
        let body = json!({"file_type": file_type, "url": url, "srv_send_msg": false});
        let raw = self.post(&path, &body).await?;
        let text = |k: &str| raw.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(Media {
            file_info: text("file_info").unwrap_or_default(),
            file_uuid: text("file_uuid"),
            ttl: raw.get("ttl").and_then(Value::as_u64),
        })
    }

    /// Replies to a received message where it came from: a group, C2C chat, guild channel
    /// or DM. `message` may be text or an [`Outgoing`].
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); [`SendError::NoReplyTarget`] if the message lacks its id
    /// or chat.
    pub async fn reply<M: Replyable + ?Sized>(
        &self,
        to: &M,
        message: impl Into<Outgoing>,
    ) -> Result<Sent, SendError> {
        let (target, id) = to.reply_target()?;
        self.send(&target, message.into().reply_to(ReplyTo::Message(id))).await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, SendError> {
        let url = format!("{}{path}", self.inner.api_base);
        let request = format!("POST {path}");
        let body = body.to_string();
        let mut rejected = None;
        let mut retries = 0;
        loop {
            let (token, fetched) = self.inner.link.token(rejected).await.map_err(SendError::Token)?;
            let answer = self.inner.link.post(url.clone(), token.authorization(), body.clone()).await;
            let error = match answer {
                Ok((status @ 200..=299, bytes, trace)) => match parse(status, &bytes, trace, &request) {
                    Ok(value) => return Ok(value),
                    Err(error) => return Err(error),
                },
                Ok((status, bytes, trace)) => match parse(status, &bytes, trace, &request) {
                    Ok(_) => qq_error(status, None, String::new(), None, None, &request),
                    Err(error) => error,
                },
                Err(e) => SendError::Http(format!("{request}: {e}")),
            };
            match error.kind() {
                Some(SendErrorKind::Auth) if rejected.is_none() => {
                    rejected = Some(fetched);
                    continue;
                }
                Some(SendErrorKind::RateLimited | SendErrorKind::Server)
                    if retries < self.retry.max_retries => {}
                _ => return Err(error),
            }
            let delay = self.retry.delay(retries);
            retries += 1;
            tracing::debug!(%error, retry_in = ?delay, "send failed; retrying");
            self.inner.link.sleep(delay).await;
        }
    }
}

fn qq_error(
    status: u16,
    code: Option<i64>,
    message: String,
    trace_id: Option<String>,
    audit_id: Option<String>,
    request: &str,
) -> SendError {
    SendError::Qq {
        kind: SendErrorKind::of(status, code, &message),
        status,
        code,
        message,
        trace_id,
        audit_id,
        request: request.to_owned(),
    }
}

/// QQ's answer: a JSON object, or an error if it carries a non-zero `code` (audits come
/// back that way under HTTP 2xx) or the status is not 2xx.
fn parse(status: u16, bytes: &[u8], trace: Option<String>, request: &str) -> Result<Value, SendError> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(_) if (200..300).contains(&status) => {
                return Err(qq_error(status, None, "the answer is not JSON".into(), trace, None, request));
            }
            Err(_) => Value::Object(Map::new()),
        }
    };
    let code =
        value.get("code").or_else(|| value.get("err_code")).and_then(Value::as_i64).filter(|c| *c != 0);
    if (200..300).contains(&status) && code.is_none() {
        return Ok(value);
    }
    let message =
        value.get("message").and_then(Value::as_str).unwrap_or_default().chars().take(500).collect();
    let trace_id = value.get("trace_id").and_then(Value::as_str).map(str::to_owned).or(trace);
    let audit_id = value.pointer("/data/message_audit/audit_id").and_then(Value::as_str).map(str::to_owned);
    Err(qq_error(status, code, message, trace_id, audit_id, request))
}

/// A received message that can be replied to: where the reply goes and the `msg_id` it
/// quotes. Implemented for [`GroupMessage`], [`C2cMessage`] and [`Message`] (a guild
/// channel message; [`DirectMessage`] wraps one from `DIRECT_MESSAGE_CREATE`).
pub trait Replyable {
    /// The chat to answer in and the id of the message answered.
    ///
    /// # Errors
    ///
    /// [`SendError::NoReplyTarget`] if the message lacks either.
    fn reply_target(&self) -> Result<(Target, String), SendError>;

    /// The same for a message that arrived as event `event` (a guild [`Message`] from
    /// `DIRECT_MESSAGE_CREATE` is answered in the DM).
    ///
    /// # Errors
    ///
    /// As [`reply_target`](Self::reply_target).
    fn reply_target_in(&self, event: &str) -> Result<(Target, String), SendError> {
        let _ = event;
        self.reply_target()
    }

    /// botrs's shape, `msg.reply(&api, "text")`: the same as [`Api::reply`]. A guild
    /// [`Message`] is answered in its channel; wrap one from `DIRECT_MESSAGE_CREATE` in
    /// [`DirectMessage`] (or use [`Context::reply`](crate::Context::reply), which knows).
    ///
    /// ```no_run
    /// use qqgw_tokio::api::Replyable;
    /// # async fn f(api: qqgw_tokio::Api, msg: qqgw_tokio::model::C2cMessage) -> Result<(), qqgw_tokio::SendError> {
    /// msg.reply(&api, "pong").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Api::reply`].
    fn reply(
        &self,
        api: &Api,
        message: impl Into<Outgoing>,
    ) -> impl Future<Output = Result<Sent, SendError>> + Send {
        let target = self.reply_target();
        let message = message.into();
        let api = api.clone();
        async move {
            let (target, id) = target?;
            api.send(&target, message.reply_to(ReplyTo::Message(id))).await
        }
    }
}

impl Replyable for GroupMessage {
    fn reply_target(&self) -> Result<(Target, String), SendError> {
        let group = self.group_openid.clone().ok_or(SendError::NoReplyTarget("group_openid"))?;
        let id = self.id.clone().ok_or(SendError::NoReplyTarget("message id"))?;
        Ok((Target::Group(group), id))
    }
}

impl Replyable for C2cMessage {
    fn reply_target(&self) -> Result<(Target, String), SendError> {
        let user = self
            .author
            .as_ref()
            .and_then(|a| a.user_openid.clone().or_else(|| a.id.clone()))
            .ok_or(SendError::NoReplyTarget("author.user_openid"))?;
        let id = self.id.clone().ok_or(SendError::NoReplyTarget("message id"))?;
        Ok((Target::User(user), id))
    }
}

impl Replyable for Message {
    fn reply_target(&self) -> Result<(Target, String), SendError> {
        let channel = self.channel_id.clone().ok_or(SendError::NoReplyTarget("channel_id"))?;
        let id = self.id.clone().ok_or(SendError::NoReplyTarget("message id"))?;
        Ok((Target::Channel(channel), id))
    }

    fn reply_target_in(&self, event: &str) -> Result<(Target, String), SendError> {
        if event.starts_with("DIRECT_MESSAGE") {
            DirectMessage(self).reply_target()
        } else {
            self.reply_target()
        }
    }
}

/// A guild direct message (the [`Message`] of `DIRECT_MESSAGE_CREATE`): replies go to
/// `/dms/{guild_id}/messages`.
#[derive(Debug, Clone, Copy)]
pub struct DirectMessage<'a>(pub &'a Message);

impl Replyable for DirectMessage<'_> {
    fn reply_target(&self) -> Result<(Target, String), SendError> {
        let guild = self.0.guild_id.clone().ok_or(SendError::NoReplyTarget("guild_id"))?;
        let id = self.0.id.clone().ok_or(SendError::NoReplyTarget("message id"))?;
        Ok((Target::Dm(guild), id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bodies_follow_the_api_of_the_target() {
        let reply = Outgoing::text("hi").reply_to(ReplyTo::Message("M".into()));
        assert_eq!(
            reply.body(&Target::Group("G".into()), Some(2)),
            json!({"content": "hi", "msg_type": 0, "msg_seq": 2, "msg_id": "M"})
        );
        assert_eq!(reply.body(&Target::Channel("C".into()), None), json!({"content": "hi", "msg_id": "M"}));
        let media = Outgoing::media(Media::from_file_info("F")).reply_to(ReplyTo::Event("E".into()));
        assert_eq!(
            media.body(&Target::User("U".into()), Some(1)),
            json!({"content": " ", "msg_type": 7, "media": {"file_info": "F"}, "msg_seq": 1, "event_id": "E"})
        );
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert_eq!(Target::Group("a/../b?x".into()).messages_path(), "/v2/groups/a%2F..%2Fb%3Fx/messages");
    }

    #[test]
    fn errors_are_classed_by_code_then_status() {
        assert_eq!(SendErrorKind::of(400, Some(40054005), ""), SendErrorKind::DuplicateSeq);
        assert_eq!(SendErrorKind::of(400, None, "回复消息msg_id已过期"), SendErrorKind::ReplyExpired);
        assert_eq!(SendErrorKind::of(429, None, ""), SendErrorKind::RateLimited);
        assert_eq!(SendErrorKind::of(503, None, ""), SendErrorKind::Server);
        assert_eq!(SendErrorKind::of(400, Some(40034102), ""), SendErrorKind::ActiveRefused);
    }

    #[test]
    fn audits_under_2xx_are_errors_with_their_id() {
        let body = br#"{"code":304023,"message":"push message is waiting for audit","data":{"message_audit":{"audit_id":"A"}}}"#;
        let error = parse(202, body, None, "POST /x").unwrap_err();
        assert_eq!((error.kind(), error.audit_id()), (Some(SendErrorKind::Audit), Some("A")));
    }

    #[test]
    fn seq_counters_are_bounded() {
        let seqs = Seqs::new(3);
        for key in ["a", "b", "c", "d", "e"] {
            assert_eq!(seqs.next(key), 1);
        }
        assert_eq!(seqs.len(), 3);
        assert_eq!(seqs.next("e"), 2);
    }

    proptest! {
        #[test]
        fn concurrent_replies_never_share_a_seq(threads in 2usize..8, per_thread in 1usize..40, keys in 1usize..4) {
            let seqs = Arc::new(Seqs::new(MSG_SEQ_CAPACITY));
            let handles: Vec<_> = (0..threads).map(|t| {
                let seqs = Arc::clone(&seqs);
                std::thread::spawn(move || {
                    (0..per_thread).map(|i| {
                        let key = format!("m:{}", (t + i) % keys);
                        let seq = seqs.next(&key);
                        (key, seq)
                    }).collect::<Vec<_>>()
                })
            }).collect();
            let mut seen = std::collections::HashSet::new();
            let mut total = 0;
            for handle in handles {
                for pair in handle.join().unwrap() {
                    prop_assert!(seen.insert(pair.clone()), "msg_seq reused: {:?}", pair);
                    total += 1;
                }
            }
            // Every key's numbers are 1..=n without gaps.
            for k in 0..keys {
                let key = format!("m:{k}");
                let n = seen.iter().filter(|(x, _)| *x == key).count();
                for s in 1..=n {
                    prop_assert!(seen.contains(&(key.clone(), u32::try_from(s).unwrap())));
                }
            }
            prop_assert_eq!(total, threads * per_thread);
        }
    }
}

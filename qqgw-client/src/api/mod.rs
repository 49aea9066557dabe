//! QQ's whole OpenAPI, on the token the shards use: every route of `qqgw-proto`'s
//! route table, sent with retries only where QQ's code table says they are safe.
//!
//! One [`Api`] per bot, cheap to clone: [`Client::api`](crate::Client::api),
//! [`Context::api`](crate::Context::api), or [`Api::new`] for a bot that only calls.
//!
//! | to… | call |
//! |---|---|
//! | reply to a message or event | [`Context::reply`](crate::Context::reply), [`Api::reply`], [`Context::reply_to_event`](crate::Context::reply_to_event) |
//! | send anywhere | [`Api::send`] with a [`Target`] and an [`Outgoing`] (text, [`Markdown`] with a [`Keyboard`], media, ark, embed, typing) |
//! | recall | [`Api::recall`] (group, C2C, channel, DM) |
//! | answer a button click | [`Context::ack`](crate::Context::ack), [`Interaction::ack`] |
//! | stream an answer into a C2C chat | [`Context::stream`](crate::Context::stream), [`User::stream`] → [`MessageStream`] |
//! | upload a file of any size | [`Group::upload_file`], [`User::upload_file`] → [`Upload`] (chunked, parallel, resumable) |
//! | manage a guild, channel, group, menu, panels… | [`Api::guild`], [`Api::channel`], [`Api::group`], [`Api::user`], [`Api::dm`], [`Api::panel`], [`Api::join_strategy`] and the methods of [`Api`] |
//! | call any route, typed | [`Api::call`] with a request of [`openapi`](crate::openapi) |
//!
//! # Retries
//!
//! Every call follows QQ's code table ([`ERROR_CODES`](crate::openapi::ERROR_CODES)):
//! a refused token ([`Retry::RefreshToken`]) is retried once with a fresh token; a rate
//! limit ([`Retry::Backoff`]) after the `Retry-After` QQ sent (at most
//! [`RetryPolicy::max_retry_after`]) or a doubling backoff; a server-side failure
//! ([`Retry::Later`]) and a call without an answer only if the request is repeatable
//! ([`HttpRequest::repeatable`](crate::openapi::HttpRequest::repeatable): an idempotent
//! route, or a reply carrying its `msg_seq`, whose copy QQ refuses as a duplicate). Both
//! bounded by [`RetryPolicy::max_retries`]. Everything else reaches you at once.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use qqgw_proto::openapi::{ApiError, Endpoint, HttpRequest};
use qqgw_proto::{AccessToken, Instant, TokenError};

use crate::config::Config;
use crate::error::Error;
use crate::http::{Answer, Http, Tokens, Wire};
use crate::runtime::{Clock, Runtime};

mod error;
mod message;
mod scoped;
mod stream;
mod upload;

pub use error::CallError;
pub use message::{DirectMessage, Media, Outgoing, ReplyTo, Replyable, Sent, Target};
pub use qqgw_proto::openapi::{
    Button, ButtonStyle, ErrorKind, FileType, InteractionCode, Keyboard, Markdown, Retry, StreamContent,
};
pub use scoped::{Channel, Dm, Group, Guild, Interaction, JoinStrategy, Panel, User};
pub use stream::MessageStream;
pub use upload::{Progress, Upload, UploadSource};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// How a route's answer is read: [`Endpoint::parse_response`].
type Parse<T> = fn(u16, Option<&str>, &[u8]) -> Result<T, ApiError>;
type SeqMap = Mutex<(HashMap<String, Arc<AtomicU32>>, VecDeque<String>)>;

/// How calls are retried (see the [module docs](self)): at most `max_retries` retries,
/// waiting `base_delay`, then twice as long each time up to `max_delay`, or the
/// `Retry-After` QQ asked for if it is at most `max_retry_after` (a longer one ends the
/// call with QQ's error). A refused token is retried once besides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub max_retries: u32,
    /// The first wait.
    pub base_delay: Duration,
    /// The longest wait of the doubling backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// `max_retries` retries, waiting from `base_delay` up to `max_delay`; a
    /// `Retry-After` of up to 30 s is honoured.
    #[must_use]
    pub fn new(max_retries: u32, base_delay: Duration, max_delay: Duration) -> Self {
        Self { max_retries, base_delay, max_delay, max_retry_after: Duration::from_secs(30) }
    }

    /// The same with another longest `Retry-After`.
    #[must_use]
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    fn delay(&self, retry: u32) -> Duration {
        self.base_delay.saturating_mul(1u32 << retry.min(16)).min(self.max_delay)
    }
}

/// Three retries, from 500 ms to 4 s; `Retry-After` up to 30 s.
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
    fn send(&self, wire: Wire) -> BoxFuture<'_, Result<Answer, String>>;
    fn now(&self) -> Instant;
    fn sleep_until(&self, at: Instant) -> BoxFuture<'_, ()>;
    fn spawn(&self, task: BoxFuture<'static, ()>);
    fn blocking(&self, f: Box<dyn FnOnce() + Send>) -> BoxFuture<'_, ()>;
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

    fn send(&self, wire: Wire) -> BoxFuture<'_, Result<Answer, String>> {
        Box::pin(self.http.send(wire))
    }

    fn now(&self) -> Instant {
        self.tokens.now()
    }

    fn sleep_until(&self, at: Instant) -> BoxFuture<'_, ()> {
        Box::pin(self.runtime.sleep_until(self.tokens.deadline(at)))
    }

    fn spawn(&self, task: BoxFuture<'static, ()>) {
        self.runtime.spawn(task);
    }

    fn blocking(&self, f: Box<dyn FnOnce() + Send>) -> BoxFuture<'_, ()> {
        let done = self.runtime.spawn_blocking(f);
        Box::pin(async move {
            let _ = done.await;
        })
    }
}

struct Inner {
    link: Box<dyn Link>,
    api_base: Arc<str>,
    seqs: Seqs,
    allow_insecure: bool,
}

/// QQ's OpenAPI, sharing the access token of the bot's shards: one token for the whole
/// bot, sent as `Authorization: QQBot {token}` and renewed by the same cache. Cheap to
/// clone; every clone shares the token and the `msg_seq` counters.
///
/// Calls go to the config's [API base](crate::ConfigBuilder::api_base) (QQ's 2026 host
/// by default, [the 2024 host](crate::LEGACY_API_BASE) or the
/// [sandbox](crate::SANDBOX_API_BASE) if configured), over TLS unless the config
/// [allows insecure endpoints](crate::ConfigBuilder::allow_insecure). The methods are
/// grouped as QQ's docs group the routes: the bot's own ([`me`](Self::me),
/// [`guilds`](Self::guilds), menus, panels, join strategies…), and one handle per thing
/// a route acts on ([`guild`](Self::guild), [`channel`](Self::channel),
/// [`group`](Self::group), [`user`](Self::user), [`dm`](Self::dm),
/// [`interaction`](Self::interaction)…). [`call`](Self::call) sends any request of
/// [`openapi`](crate::openapi). Retries: see the [module docs](self).
///
/// # Examples
///
/// ```no_run
/// use qqgw_tokio::api::{Button, Keyboard, Markdown, Outgoing, ReplyTo, Target};
/// use qqgw_tokio::openapi::ListChannels;
/// use qqgw_tokio::{Client, Config};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::connect(Config::from_env()?).await?;
/// let api = client.api();
/// println!("I am {:?}", api.me().await?.username);
/// // Markdown with a button, as a reply (in a group, markdown goes without `content`).
/// let menu = Outgoing::markdown(Markdown::text("**Pick one**"))
///     .keyboard(Keyboard::rows([[Button::callback("go", "Go", "go")]]))
///     .reply_to(ReplyTo::Message("ROBOT1.0_x".into()));
/// let sent = api.group("GROUP_OPENID").send(menu).await?;
/// api.recall(&Target::Group("GROUP_OPENID".into()), sent.id.as_deref().unwrap_or_default()).await?;
/// // Any route, typed, with the same token and retries.
/// for channel in api.call(&ListChannels::new("GUILD_ID")).await? {
///     println!("{:?}", channel.name);
/// }
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
    /// An API client of its own, for a bot that calls without a gateway; its token cache
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
        let allow_insecure = http.allow_insecure();
        Self {
            inner: Arc::new(Inner {
                link: Box::new(RuntimeLink { runtime, http, tokens }),
                api_base: api_base.trim_end_matches('/').into(),
                seqs: Seqs::new(MSG_SEQ_CAPACITY),
                allow_insecure,
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

    /// The retry policy of this handle.
    #[must_use]
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Calls any route: builds `request` ([`Endpoint::request`]), sends it with the
    /// bot's token and reads QQ's answer into the route's typed response, retrying only
    /// where QQ's code table says it is safe (see the [module docs](self)).
    ///
    /// ```no_run
    /// use qqgw_tokio::openapi::{GetGroupBotState, RoleSpec, CreateRole};
    /// # async fn f(api: qqgw_tokio::Api) -> Result<(), qqgw_tokio::api::CallError> {
    /// let state = api.call(&GetGroupBotState::new("GROUP_OPENID")).await?;
    /// println!("may send actively: {:?}", state.allow_proactive_msg);
    /// let role = api.call(&CreateRole::new("GUILD_ID", RoleSpec::named("helpers"))).await?;
    /// println!("new role {:?}", role.role_id);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`CallError::Request`] if the request breaks a rule QQ documents (it is not
    /// sent); [`CallError::Qq`] with QQ's error; [`CallError::Http`] without an answer;
    /// [`CallError::Token`] without a token.
    pub fn call<E: Endpoint>(
        &self,
        request: &E,
    ) -> impl Future<Output = Result<E::Response, CallError>> + Send + 'static
    where
        E::Response: Send + 'static,
    {
        let built = request.request();
        let api = self.clone();
        async move { api.execute(built?, E::parse_response).await }
    }

    /// Sends `request` and parses the answer with `parse`, retrying as the module docs
    /// say; counts the call in the metrics.
    async fn execute<T>(&self, request: HttpRequest, parse: Parse<T>) -> Result<T, CallError> {
        let (route, started) = (request.route.name(), self.now());
        let result = self.execute_retrying(request, parse).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(CallError::Qq(error)) => error.kind().as_str(),
            Err(CallError::Http { .. }) => "no_answer",
            Err(CallError::Token(_)) => "no_token",
            Err(_) => "not_sent",
        };
        crate::metrics::api_call(route, outcome, self.now().saturating_duration_since(started));
        result
    }

    async fn execute_retrying<T>(&self, request: HttpRequest, parse: Parse<T>) -> Result<T, CallError> {
        let url = request.url(&self.inner.api_base);
        let route = request.route;
        let mut rejected = None;
        let mut retries = 0;
        loop {
            let (token, fetched) = self.inner.link.token(rejected).await?;
            let wire = Wire {
                method: request.method.as_str(),
                url: url.clone(),
                authorization: Some(token.authorization()),
                content_type: request.content_type,
                body: request.body.clone(),
            };
            let answer = self.inner.link.send(wire).await;
            let delay = match answer {
                Ok(answer) => {
                    let error = match parse(answer.status, answer.trace_id.as_deref(), &answer.body) {
                        Ok(value) => return Ok(value),
                        Err(error) => error,
                    };
                    match error.retry() {
                        Retry::RefreshToken if rejected.is_none() => {
                            tracing::debug!(%error, "token refused; retrying with a fresh one");
                            rejected = Some(fetched);
                            continue;
                        }
                        Retry::Backoff if retries < self.retry.max_retries => match answer.retry_after {
                            Some(after) if after > self.retry.max_retry_after => return Err(error.into()),
                            Some(after) => after,
                            None => self.retry.delay(retries),
                        },
                        Retry::Later if request.repeatable && retries < self.retry.max_retries => {
                            self.retry.delay(retries)
                        }
                        _ => return Err(error.into()),
                    }
                }
                Err(message) if request.repeatable && retries < self.retry.max_retries => {
                    tracing::debug!(%route, message, "no answer; repeating the call");
                    self.retry.delay(retries)
                }
                Err(message) => return Err(CallError::Http { request: route.to_string(), message }),
            };
            retries += 1;
            tracing::debug!(%route, retry_in = ?delay, retries, "retrying");
            self.sleep(delay).await;
        }
    }

    /// The bot's clock, as stream pacing reads it.
    pub(crate) fn now(&self) -> Instant {
        self.inner.link.now()
    }

    pub(crate) async fn sleep(&self, delay: Duration) {
        let at = self.now() + delay;
        self.inner.link.sleep_until(at).await;
    }

    pub(crate) async fn sleep_until(&self, at: Instant) {
        self.inner.link.sleep_until(at).await;
    }

    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.inner.link.spawn(Box::pin(task));
    }

    /// Runs `f` on the runtime's blocking threads and returns what it returned (`None`
    /// if the runtime dropped it).
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = futures_channel::oneshot::channel();
        self.inner
            .link
            .blocking(Box::new(move || {
                let _ = tx.send(f());
            }))
            .await;
        rx.await.ok()
    }

    /// An HTTP request outside QQ's API (a presigned upload URL): no token, no retries.
    pub(crate) async fn send_raw(&self, wire: Wire) -> Result<Answer, String> {
        self.inner.link.send(wire).await
    }

    pub(crate) fn allow_insecure(&self) -> bool {
        self.inner.allow_insecure
    }

    /// The next `msg_seq` of replies to `reply`, or `None` for an active message.
    pub(crate) fn next_seq(&self, reply: &ReplyTo) -> Option<u32> {
        match reply {
            ReplyTo::None => None,
            ReplyTo::Message(id) => Some(self.inner.seqs.next(&format!("m:{id}"))),
            ReplyTo::Event(id) => Some(self.inner.seqs.next(&format!("e:{id}"))),
        }
    }
}

#[cfg(test)]
mod tests;

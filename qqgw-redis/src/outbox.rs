//! Replies from any language: requests written by workers to a Redis Stream, executed
//! with the bot's own token, answered where the worker can read them.

use core::future::Future;
use core::pin::Pin;
use core::time::Duration;

use futures_util::future::{Either, select};
use futures_util::stream::{FuturesUnordered, StreamExt};
use qqgw_client::api::{
    Button, ButtonStyle, CallError, InteractionCode, Keyboard, Markdown, Media, Outgoing, ReplyTo, Sent,
    Target,
};
use qqgw_client::{Api, Runtime};
use redis::Value;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::conn::Link;
use crate::lease::millis;
use crate::scripts::{OutboxAnswer, OutboxTake};
use crate::sink::unix_millis;
use crate::{Error, Redis};

/// Settings of an [`Outbox`]; every one has a default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutboxConfig {
    /// The consumer group the gateways read the outbox in. Default `"gateways"`.
    pub group: String,
    /// This gateway's name in the group. Default: [`default_consumer_name`](crate::default_consumer_name).
    pub consumer: String,
    /// Requests executed at once. Default 16.
    pub concurrency: usize,
    /// The bound of the outbox stream: past it, the oldest requests read are refused
    /// (`outbox_full`) without being executed. Default 10,000.
    pub max_len: u64,
    /// The largest entry taken, in bytes (field names and values); larger ones are
    /// refused (`too_large`). Default 64 KiB.
    pub max_bytes: u64,
    /// Requests older than this when read (by their entry id, on Redis's clock) are
    /// refused (`expired`): QQ's reply windows are 5 minutes in groups. Default 5 minutes.
    pub max_age: Duration,
    /// How long one request may take, QQ's retries included; then it is answered
    /// `timeout` (QQ may or may not have acted on it). Default 30 s.
    pub request_timeout: Duration,
    /// Requests another gateway read and has not answered for this long — it died — are
    /// taken over and executed again. At least twice `request_timeout`. Default 70 s.
    pub claim_idle: Duration,
    /// How long an answer is kept under its request id, and a repeated id recognised.
    /// Default 1 hour.
    pub result_ttl: Duration,
    /// The bound of the results stream. Default 10,000.
    pub results_max_len: u64,
    /// How long to wait for new requests in one read. Default 1 s.
    pub block: Duration,
    /// On stop, how long requests under way may take to be answered. Default 10 s.
    pub drain: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            group: "gateways".into(),
            consumer: crate::default_consumer_name(),
            concurrency: 16,
            max_len: 10_000,
            max_bytes: 64 << 10,
            max_age: Duration::from_secs(5 * 60),
            request_timeout: Duration::from_secs(30),
            claim_idle: Duration::from_secs(70),
            result_ttl: Duration::from_secs(60 * 60),
            results_max_len: 10_000,
            block: Duration::from_secs(1),
            drain: Duration::from_secs(10),
        }
    }
}

/// What an [`Outbox`] did, in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxStats {
    /// Requests executed and answered with QQ's result (success or QQ's error).
    pub executed: u64,
    /// Requests answered without being executed: invalid, too large, expired, refused
    /// for room.
    pub refused: u64,
    /// Requests taken over from a gateway that died before answering them.
    pub reclaimed: u64,
}

/// Executes the requests workers write to the outbox stream, `<prefix>:outbox`, with the
/// bot's [`Api`] — its token, retries and `msg_seq` counters — so that workers in any
/// language reply without ever holding the AppSecret or a token; and answers each one
/// under its request id.
///
/// A request is an entry with the fields `v` (`"1"`), `id` (the request id, chosen by the
/// worker: 1 to 128 of `A-Z a-z 0-9 _ . : -`) and `request` (a JSON object: `STREAMS.md`
/// and `schema/outbox-request.v1.json` describe it). Its answer, a JSON object with `ok`
/// and `result` or `error` (QQ's code, message and trace id; never a token), is kept for
/// [`OutboxConfig::result_ttl`] at `<prefix>:outbox:result:<id>` and appended to
/// `<prefix>:outbox:results` (fields `id`, `entry`, `result`), where a worker can wait
/// for it with `XREAD BLOCK`.
///
/// **Every entry is answered once.** A request that cannot be executed (no valid id, a
/// newer format version, too large, older than [`OutboxConfig::max_age`], the stream
/// over [`OutboxConfig::max_len`]) is answered at once, in the script that reads it. An
/// executed one is answered, its entry acknowledged and deleted, in one script. A request
/// id seen again while its answer is kept is not executed again: the first answer stands.
///
/// **Execution is at least once.** A gateway that dies after QQ took a request but before
/// its answer was written leaves the entry pending; another gateway (or this one,
/// restarted) takes it over after [`OutboxConfig::claim_idle`] and executes it again.
/// A reply whose `msg_seq` the worker fixed is then refused by QQ as a duplicate
/// (40054005, `dedup`) instead of being sent twice.
///
/// Bounded: at most [`OutboxConfig::concurrency`] requests at once, each within
/// [`OutboxConfig::request_timeout`]; the stream, the results stream and every answer
/// are bounded in size or time.
pub struct Outbox {
    redis: Redis,
    api: Api,
    config: OutboxConfig,
    /// A connection of its own for the blocking wait.
    waiter: Link,
    stats: OutboxStats,
}

impl core::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Outbox")
            .field("config", &self.config)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A request taken from the stream.
#[derive(Debug, Clone)]
struct Taken {
    entry: String,
    id: String,
    request: String,
}

/// A request's answer, to write.
#[derive(Debug, Clone)]
struct Answer {
    entry: String,
    id: String,
    op: &'static str,
    outcome: &'static str,
    result: String,
    taken_at: std::time::Instant,
}

type Running<'a> = FuturesUnordered<Pin<Box<dyn Future<Output = Answer> + Send + 'a>>>;

impl Outbox {
    /// An outbox executor with `api` (the bot's: [`Client::api`](qqgw_client::Client::api)
    /// or [`Api::new`]).
    ///
    /// # Errors
    ///
    /// [`Error::Redis`] if Redis cannot be reached.
    pub async fn new(redis: Redis, api: Api, mut config: OutboxConfig) -> Result<Self, Error> {
        config.concurrency = config.concurrency.max(1);
        config.claim_idle = config.claim_idle.max(config.request_timeout * 2);
        let waiter = redis.dedicated(config.block + redis.config().response_timeout).await?;
        Ok(Self { redis, api, config, waiter, stats: OutboxStats::default() })
    }

    /// What it did so far.
    #[must_use]
    pub fn stats(&self) -> OutboxStats {
        self.stats
    }

    /// Executes requests until `stop` resolves; then lets those under way finish and be
    /// answered (within [`OutboxConfig::drain`]) and returns what it did. Redis failures
    /// are logged and retried.
    pub async fn run<R: Runtime>(mut self, runtime: &R, stop: impl Future<Output = ()>) -> OutboxStats {
        futures_util::pin_mut!(stop);
        let mut running: Running<'_> = FuturesUnordered::new();
        let mut unanswered: Vec<Answer> = Vec::new();
        let mut last_id = String::from("$");
        let mut last_claim: Option<std::time::Instant> = None;
        let mut stopping = false;
        loop {
            if !unanswered.is_empty() {
                self.write_answers(runtime, &mut unanswered).await;
            }
            let free = self.config.concurrency.saturating_sub(running.len() + unanswered.len());
            let mut took = 0;
            if !stopping && free > 0 {
                let now = runtime.now();
                let claim_due =
                    last_claim.is_none_or(|at| now.duration_since(at) >= self.config.claim_idle / 4);
                let mode = if claim_due { "claim" } else { "new" };
                if claim_due {
                    last_claim = Some(now);
                }
                match self.take(mode, free).await {
                    Ok((taken, last)) => {
                        last_id = last;
                        took = taken.len();
                        if mode == "claim" {
                            self.stats.reclaimed += taken.len() as u64;
                            if !taken.is_empty() {
                                tracing::info!(
                                    requests = taken.len(),
                                    "outbox: took over requests a gateway left unanswered"
                                );
                            }
                        }
                        for taken in taken {
                            running.push(Box::pin(execute(
                                runtime,
                                self.api.clone(),
                                self.config.request_timeout,
                                taken,
                            )));
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "outbox: reading failed; retrying");
                        let pause = runtime.sleep(Duration::from_millis(200));
                        if let Either::Right(_) = select(core::pin::pin!(pause), stop.as_mut()).await {
                            stopping = true;
                        }
                        continue;
                    }
                }
            }
            crate::metrics::outbox_in_flight(running.len());
            if stopping {
                return self.drain(runtime, running, unanswered).await;
            }
            if took > 0 || !unanswered.is_empty() {
                // More may be waiting; answers are written first.
                if let Some(Some(answer)) = running.next().now_or_never() {
                    unanswered.push(answer);
                }
                continue;
            }
            // Wait for an answer, a new request (while there is room) or the stop.
            let room = self.config.concurrency > running.len();
            let wait_new = async {
                if room {
                    let _ = self.wait_for_new(&last_id).await;
                } else {
                    core::future::pending::<()>().await;
                }
            };
            let next = async {
                match running.next().await {
                    Some(answer) => Some(answer),
                    None => core::future::pending().await,
                }
            };
            let (next, wait_new) = (core::pin::pin!(next), core::pin::pin!(wait_new));
            let woke = select(select(next, wait_new), stop.as_mut()).await;
            match woke {
                Either::Left((Either::Left((answer, _)), _)) => unanswered.extend(answer),
                Either::Left((Either::Right(((), _)), _)) => {}
                Either::Right(_) => stopping = true,
            }
        }
    }

    /// Lets the requests under way finish and be answered, within the drain time.
    async fn drain<R: Runtime>(
        mut self,
        runtime: &R,
        mut running: Running<'_>,
        mut unanswered: Vec<Answer>,
    ) -> OutboxStats {
        let deadline = runtime.now() + self.config.drain;
        loop {
            if !unanswered.is_empty() {
                self.write_answers(runtime, &mut unanswered).await;
            }
            if running.is_empty() && unanswered.is_empty() {
                break;
            }
            let limit = runtime.sleep_until(deadline);
            let next = async {
                match running.next().await {
                    Some(answer) => Some(answer),
                    None => {
                        // Only answers to write: a pause before trying again.
                        runtime.sleep(Duration::from_millis(100)).await;
                        None
                    }
                }
            };
            let woke = match select(core::pin::pin!(next), core::pin::pin!(limit)).await {
                Either::Left((answer, _)) => Some(answer),
                Either::Right(_) => None,
            };
            match woke {
                Some(answer) => unanswered.extend(answer),
                None => {
                    tracing::warn!(
                        requests = running.len() + unanswered.len(),
                        "outbox stopped with requests unanswered: another gateway takes them over"
                    );
                    break;
                }
            }
        }
        crate::metrics::outbox_in_flight(0);
        self.stats
    }

    /// Takes requests (`mode` `"new"` or `"claim"`), up to `count` to execute.
    async fn take(&mut self, mode: &str, count: usize) -> Result<(Vec<Taken>, String), Error> {
        let keys = self.redis.keys();
        let take = OutboxTake {
            outbox: &keys.outbox(),
            results: &keys.outbox_results(),
            prefix: keys.prefix(),
            group: &self.config.group,
            consumer: &self.config.consumer,
            mode,
            count,
            max_len: self.config.max_len,
            max_bytes: self.config.max_bytes,
            max_age_ms: millis(self.config.max_age),
            claim_idle_ms: millis(self.config.claim_idle),
            claim_ttl_ms: millis(self.config.claim_idle),
            result_ttl_ms: millis(self.config.result_ttl),
            results_max_len: self.config.results_max_len,
        }
        .invocation();
        let answer: Value = self
            .redis
            .run("outbox take", None, |mut c| async move { take.invoke_async(&mut c).await })
            .await?;
        let unexpected =
            || Error::Decode { key: keys.outbox(), reason: format!("the take script answered {answer:?}") };
        let Value::Array(parts) = &answer else { return Err(unexpected()) };
        let [Value::Array(taken), last, Value::Array(refused)] = parts.as_slice() else {
            return Err(unexpected());
        };
        for outcome in refused {
            let outcome: String = redis::from_redis_value(outcome).unwrap_or_default();
            let outcome = ["invalid", "too_large", "expired", "outbox_full"]
                .into_iter()
                .find(|known| *known == outcome)
                .unwrap_or("invalid");
            self.stats.refused += 1;
            crate::metrics::outbox_answered("unread", outcome, Duration::ZERO);
        }
        let last: String = redis::from_redis_value(last).unwrap_or_else(|_| "$".into());
        let taken = taken
            .iter()
            .filter_map(|t| {
                let (entry, id, request): (String, String, String) = redis::from_redis_value(t).ok()?;
                Some(Taken { entry, id, request })
            })
            .collect();
        if let Ok(length) = self.outbox_length().await {
            crate::metrics::outbox_length(length);
        }
        Ok((taken, last))
    }

    async fn outbox_length(&self) -> Result<u64, Error> {
        let key = self.redis.keys().outbox();
        self.redis
            .run("XLEN", None, |mut c| async move { redis::cmd("XLEN").arg(&key).query_async(&mut c).await })
            .await
    }

    /// Waits up to [`OutboxConfig::block`] for an entry after `last_id`.
    async fn wait_for_new(&self, last_id: &str) -> Result<(), Error> {
        let mut wait = redis::cmd("XREAD");
        wait.arg("BLOCK").arg(millis(self.config.block)).arg("COUNT").arg(1).arg("STREAMS");
        wait.arg(self.redis.keys().outbox()).arg(last_id);
        let _: Value =
            self.waiter.run("XREAD", None, |mut c| async move { wait.query_async(&mut c).await }).await?;
        Ok(())
    }

    /// Writes the answers, in one round trip; those that could not be written stay.
    async fn write_answers<R: Runtime>(&mut self, runtime: &R, answers: &mut Vec<Answer>) {
        let keys = self.redis.keys();
        let mut pipe = redis::pipe();
        pipe.load_script(OutboxAnswer::script()).ignore();
        for answer in answers.iter() {
            let invocation = OutboxAnswer {
                outbox: &keys.outbox(),
                results: &keys.outbox_results(),
                prefix: keys.prefix(),
                group: &self.config.group,
                entry: &answer.entry,
                id: &answer.id,
                result: &answer.result,
                result_ttl_ms: millis(self.config.result_ttl),
                results_max_len: self.config.results_max_len,
            }
            .invocation();
            pipe.invoke_script(&invocation);
        }
        let written: Result<Vec<i64>, Error> = self
            .redis
            .run("outbox answer", None, |mut c| async move { pipe.query_async(&mut c).await })
            .await;
        match written {
            Ok(_) => {
                for answer in answers.drain(..) {
                    self.stats.executed += 1;
                    let took = runtime.now().saturating_duration_since(answer.taken_at);
                    crate::metrics::outbox_answered(answer.op, answer.outcome, took);
                    tracing::debug!(id = %answer.id, op = answer.op, outcome = answer.outcome, "outbox: answered");
                }
            }
            Err(error) => {
                tracing::warn!(%error, answers = answers.len(), "outbox: could not write answers; retrying");
                self.redis.sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

use futures_util::FutureExt;

/// Executes one request, within `timeout`; its answer.
async fn execute<R: Runtime>(runtime: &R, api: Api, timeout: Duration, taken: Taken) -> Answer {
    let taken_at = runtime.now();
    let (op, outcome, result) = match serde_json::from_str::<Request>(&taken.request) {
        Err(error) => {
            let message = format!("unreadable request: {error}");
            ("invalid", "invalid", Err(json!({"outcome": "invalid", "message": message})))
        }
        Ok(request) => {
            let op = request.op();
            let call = core::pin::pin!(request.execute(&api));
            let limit = core::pin::pin!(runtime.sleep(timeout));
            match select(call, limit).await {
                Either::Left((Ok(value), _)) => (op, "ok", Ok(value)),
                Either::Left((Err(failure), _)) => {
                    let outcome = failure.outcome();
                    (op, outcome, Err(failure.to_json()))
                }
                Either::Right(_) => (
                    op,
                    "timeout",
                    Err(json!({
                        "outcome": "timeout",
                        "message": format!("no answer within {timeout:?}; QQ may or may not have acted on it"),
                    })),
                ),
            }
        }
    };
    let answered_at = unix_millis(std::time::SystemTime::now());
    let mut body =
        json!({"v": 1, "id": taken.id, "entry": taken.entry, "op": op, "answered_at": answered_at});
    match result {
        Ok(value) => {
            set(&mut body, "ok", json!(true));
            set(&mut body, "result", value);
        }
        Err(error) => {
            set(&mut body, "ok", json!(false));
            set(&mut body, "error", error);
        }
    }
    Answer { entry: taken.entry, id: taken.id, op, outcome, result: body.to_string(), taken_at }
}

/// Sets `key` of the JSON object `body` (a no-op on anything else).
fn set(body: &mut Json, key: &str, value: Json) {
    if let Some(object) = body.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
}

/// A request of the outbox, format version 1 (`schema/outbox-request.v1.json`).
// One a request, parsed and executed at once, never stored in numbers: the size of
// `Send` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    /// Sends a message (a reply when `reply_to` is given).
    Send {
        target: TargetSpec,
        #[serde(default)]
        reply_to: Option<ReplySpec>,
        // Boxed: by far the largest of the requests.
        message: Box<MessageSpec>,
    },
    /// Recalls a message.
    Recall { target: TargetSpec, message_id: String },
    /// Answers a button click.
    Ack {
        interaction_id: String,
        #[serde(default)]
        code: u8,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
struct TargetSpec {
    #[serde(rename = "type")]
    kind: TargetKind,
    id: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum TargetKind {
    Group,
    User,
    Channel,
    Dm,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ReplySpec {
    /// The message replied to (`msg_id`).
    Message(String),
    /// The event replied to (`event_id`).
    Event(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageSpec {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    markdown: Option<MarkdownSpec>,
    #[serde(default)]
    keyboard: Option<KeyboardSpec>,
    #[serde(default)]
    media: Option<MediaSpec>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    typing: Option<u8>,
    #[serde(default)]
    quote: Option<String>,
    #[serde(default)]
    wakeup: bool,
    #[serde(default)]
    msg_seq: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkdownSpec {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    params: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyboardSpec {
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    rows: Vec<Vec<ButtonSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ButtonSpec {
    id: String,
    label: String,
    action: ButtonAction,
    data: String,
    #[serde(default)]
    style: Option<u8>,
    #[serde(default)]
    visited_label: Option<String>,
    #[serde(default)]
    enter: Option<bool>,
    #[serde(default)]
    reply: Option<bool>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ButtonAction {
    Callback,
    Command,
    Link,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MediaSpec {
    file_info: String,
}

/// Why a request failed: QQ's answer, or none.
enum Failure {
    Call(CallError),
    Invalid(String),
}

impl Failure {
    fn outcome(&self) -> &'static str {
        match self {
            Self::Call(CallError::Qq(error)) => error.kind().as_str(),
            Self::Call(CallError::Http { .. }) => "no_answer",
            Self::Call(CallError::Token(_)) => "no_token",
            Self::Call(_) => "not_sent",
            Self::Invalid(_) => "invalid",
        }
    }

    /// The error as a worker reads it: QQ's code, message, HTTP status and trace id, and
    /// the one-line text (which names the route, never the token).
    fn to_json(&self) -> Json {
        match self {
            Self::Call(error) => {
                let mut body = json!({"outcome": self.outcome(), "message": error.to_string()});
                if let Some(qq) = error.api_error() {
                    set(&mut body, "code", json!(qq.code));
                    set(&mut body, "qq_message", json!(qq.message));
                    set(&mut body, "status", json!(qq.status));
                    set(&mut body, "trace_id", json!(qq.trace_id));
                    if let Some(audit) = &qq.audit_id {
                        set(&mut body, "audit_id", json!(audit));
                    }
                }
                body
            }
            Self::Invalid(message) => json!({"outcome": "invalid", "message": message}),
        }
    }
}

impl Request {
    fn op(&self) -> &'static str {
        match self {
            Self::Send { .. } => "send",
            Self::Recall { .. } => "recall",
            Self::Ack { .. } => "ack",
        }
    }

    async fn execute(self, api: &Api) -> Result<Json, Failure> {
        match self {
            Self::Send { target, reply_to, message } => {
                let mut outgoing = message.outgoing().map_err(Failure::Invalid)?;
                if let Some(reply) = reply_to {
                    outgoing = outgoing.reply_to(match reply {
                        ReplySpec::Message(id) => ReplyTo::Message(id),
                        ReplySpec::Event(id) => ReplyTo::Event(id),
                    });
                }
                let sent = api.send(&target.target(), outgoing).await.map_err(Failure::Call)?;
                Ok(sent_json(&sent))
            }
            Self::Recall { target, message_id } => {
                api.recall(&target.target(), &message_id).await.map_err(Failure::Call)?;
                Ok(json!({}))
            }
            Self::Ack { interaction_id, code } => {
                let code = match code {
                    0 => InteractionCode::Success,
                    1 => InteractionCode::Failed,
                    2 => InteractionCode::TooFrequent,
                    3 => InteractionCode::Duplicate,
                    4 => InteractionCode::NoPermission,
                    5 => InteractionCode::AdminOnly,
                    other => return Err(Failure::Invalid(format!("interaction code {other} is not 0 to 5"))),
                };
                api.interaction(interaction_id).ack(code).await.map_err(Failure::Call)?;
                Ok(json!({}))
            }
        }
    }
}

impl TargetSpec {
    fn target(&self) -> Target {
        let id = self.id.clone();
        match self.kind {
            TargetKind::Group => Target::Group(id),
            TargetKind::User => Target::User(id),
            TargetKind::Channel => Target::Channel(id),
            TargetKind::Dm => Target::Dm(id),
        }
    }
}

impl MessageSpec {
    /// The message; a combination the builder cannot express is refused here, one QQ
    /// refuses is refused by the [`Api`] before it is sent.
    fn outgoing(self) -> Result<Outgoing, String> {
        let kinds = [self.markdown.is_some(), self.media.is_some(), self.typing.is_some()];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err("a message is one of markdown, media or typing".into());
        }
        let mut outgoing = if let Some(markdown) = self.markdown {
            let markdown = match (markdown.content, markdown.template) {
                (Some(content), None) => Markdown::text(content),
                (None, Some(template)) => {
                    markdown.params.into_iter().fold(Markdown::template(template), |m, (k, v)| m.param(k, v))
                }
                _ => return Err("markdown has either content or a template".into()),
            };
            let mut outgoing = Outgoing::markdown(markdown);
            if let Some(content) = self.content {
                outgoing = outgoing.content(content);
            }
            outgoing
        } else if let Some(media) = self.media {
            let mut outgoing = Outgoing::media(Media::from_file_info(media.file_info));
            if let Some(content) = self.content {
                outgoing = outgoing.content(content);
            }
            outgoing
        } else if let Some(seconds) = self.typing {
            Outgoing::typing(seconds)
        } else {
            Outgoing::text(self.content.ok_or("a message needs content, markdown, media or typing")?)
        };
        if let Some(keyboard) = self.keyboard {
            outgoing = outgoing.keyboard(keyboard.keyboard()?);
        }
        if let Some(image) = self.image {
            outgoing = outgoing.image(image);
        }
        if let Some(quote) = self.quote {
            outgoing = outgoing.quote(quote);
        }
        if self.wakeup {
            outgoing = outgoing.wakeup();
        }
        if let Some(seq) = self.msg_seq {
            outgoing = outgoing.msg_seq(seq);
        }
        Ok(outgoing)
    }
}

impl KeyboardSpec {
    fn keyboard(self) -> Result<Keyboard, String> {
        match (self.template, self.rows.is_empty()) {
            (Some(template), true) => Ok(Keyboard::template(template)),
            (None, false) => Ok(Keyboard::rows(self.rows.into_iter().map(|row| {
                row.into_iter().map(|b| {
                    let mut button = match b.action {
                        ButtonAction::Callback => Button::callback(b.id, b.label, b.data),
                        ButtonAction::Command => Button::command(b.id, b.label, b.data),
                        ButtonAction::Link => Button::link(b.id, b.label, b.data),
                    };
                    button = match b.style {
                        Some(0) | None => button,
                        Some(1) => button.style(ButtonStyle::Blue),
                        Some(other) => button.style(ButtonStyle::Other(other)),
                    };
                    if let Some(label) = b.visited_label {
                        button = button.visited_label(label);
                    }
                    if let Some(enter) = b.enter {
                        button = button.enter(enter);
                    }
                    if let Some(reply) = b.reply {
                        button = button.reply(reply);
                    }
                    button
                })
            }))),
            _ => Err("a keyboard has either a template or rows".into()),
        }
    }
}

fn sent_json(sent: &Sent) -> Json {
    json!({
        "id": sent.id,
        "msg_seq": sent.msg_seq,
        "timestamp": sent.timestamp.as_ref().map(ToString::to_string),
        "ref_idx": sent.ref_idx,
    })
}

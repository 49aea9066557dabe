//! Webhook (HTTP callback) delivery: QQ POSTs each event to your HTTPS endpoint instead of
//! pushing it down a WebSocket.
//!
//! Like the rest of the crate this does no IO: hand [`Webhook::handle`] the two signature
//! headers and the raw body of each request, answer with the status and body it returns,
//! and take the event out of its [`Outcome`]. It works with any web server.
//!
//! # Webhook or gateway?
//!
//! QQ presents webhooks as the successor of the WebSocket gateway: it announced in 2024
//! that WebSocket delivery would be phased out, new bots may only be configurable for
//! webhooks, and QQ's own docs steer bots to them. The gateway still works for many bots
//! and needs no public server. Choose the webhook when
//!
//! - your bot is configured (or can only be configured) for callbacks in the QQ
//!   management console, or
//! - you already run a public HTTPS server: QQ only calls HTTPS URLs on ports 80, 443,
//!   8080 or 8443.
//!
//! A webhook has no connection to keep: no heartbeats, sessions, RESUME, shards or
//! IDENTIFY limits, and no access token is needed to *receive* events (sending messages
//! still needs one). Event types are picked in the console; intents do not apply. Each
//! event arrives as exactly the same [`Dispatch`] the gateway emits — same name, id and
//! data, `seq` if QQ sent one (it often does not), stamped with the shard you configure
//! (default [`ShardId::ONE`]) — so one event handler serves both.
//!
//! # What a callback is
//!
//! Every request is a JSON envelope signed by QQ with the bot's [`WebhookKey`], an Ed25519
//! key derived from the AppSecret. The headers that matter are `X-Signature-Ed25519` (128
//! hex digits) and `X-Signature-Timestamp` (Unix seconds); the signature covers the
//! timestamp header followed by the raw body. [`Webhook::handle`] answers:
//!
//! | request | status | body | [`Outcome`] |
//! |---|---|---|---|
//! | op 13, address validation | 200 | `{"plain_token":…,"signature":…}` | [`Validated`](Outcome::Validated) |
//! | op 0, a new event | 200 | `{"op":12,"d":0}` | [`Dispatch`](Outcome::Dispatch) |
//! | op 0, an event already delivered | 200 | `{"op":12,"d":0}` | [`Duplicate`](Outcome::Duplicate) |
//! | bad or missing signature, stale timestamp | 401 | `{"error":"unauthorized"}` | [`Rejected`](Outcome::Rejected) |
//! | signed, but not a usable callback | 400 | `{"error":"<code>"}` | [`Rejected`](Outcome::Rejected) |
//! | body over the size limit (1 MiB) | 413 | `{"error":"body_too_large"}` | [`Rejected`](Outcome::Rejected) |
//!
//! Every 401 has the same body: the answer tells a prober nothing — not which check
//! failed, not the server's clock. The precise reason is in the [`Outcome`], for logs
//! and metrics ([`WebhookError::code`]).
//!
//! # Replays and retries
//!
//! QQ retries a delivery that got no timely 200 (up to three times, with the same event
//! `id`). A repeat is answered 200, so that QQ stops, but not delivered again. The 200
//! goes out as soon as the event is decoded: handle it after answering, and do not make QQ
//! wait.
//!
//! Timestamps further than 300 s (configurable) from the `unix_now` you pass are rejected,
//! and every event delivered is remembered by a [`ReplayGuard`] until its timestamp has
//! left that window (counted on QQ's signed timestamps, so a step of your clock moves
//! nothing) — so a captured request can never be delivered twice, however many events
//! came in between. The guard's memory is bounded (65,536 events by default,
//! [`Webhook::with_replay_memory`]); when it is full, requests signed before the oldest
//! event it still remembers are refused. Pass `None` as `unix_now` to skip the timestamp
//! check, e.g. on a machine without a trustworthy clock: then only that bound applies.
//!
//! # op 13 is verified
//!
//! The answer to an op 13 signs `event_ts ‖ plain_token` with the same key QQ signs
//! callbacks with (as `timestamp ‖ body`). Answering an unsigned op 13 would let anyone
//! obtain a valid signature for a forged event, by choosing `event_ts` as the timestamp
//! and `plain_token` as the forged body. QQ signs its validation requests in practice (its
//! own demo and Go SDK refuse unsigned ones), so by default an op 13 must carry a valid
//! signature like every other callback; one without gets
//! [`WebhookError::MissingSignature`] (401).
//!
//! [`Webhook::allow_unsigned_validation`] is the opt-in for an endpoint behind a proxy
//! that strips the signature headers. Even then an unsigned op 13 is answered only if
//! `event_ts` is 1 to 20 ASCII digits and `plain_token` is 1 to 128 characters from
//! `A-Z a-z 0-9 - _ . ~ + / =` (QQ's tokens are alphanumeric). No callback body can be made
//! of those characters — a body must be a JSON object, and `{` is not among them — so such
//! an answer is useless for forgery. Other unsigned op 13s get
//! [`WebhookError::UnsafeValidation`] (401).
//!
//! # Servers with many threads
//!
//! [`Webhook::handle`] takes `&mut self` for its replay memory. A concurrent server
//! should not hold a lock while the signature is verified: split the work with
//! [`Webhook::check`] (`&self`: every check, the signature included) and a
//! [`ReplayGuard`] behind a short lock (only [`ReplayGuard::admit`], a hash-map lookup).
//! [`Webhook::check_headers`] checks the headers alone, so a server can refuse a request
//! before reading its body.
//!
//! # Examples
//!
//! ```
//! use qqgw_proto::webhook::{Outcome, Webhook, WebhookKey, WebhookRequest};
//!
//! let key = WebhookKey::from_secret("DG5g3B4j9X2KOErG")?; // the bot's AppSecret
//! let mut webhook = Webhook::new(key.clone());
//!
//! // What QQ would send (signed here with the key itself, as QQ does):
//! let body = br#"{"op":0,"id":"GROUP_ADD_ROBOT:31b4","t":"GROUP_ADD_ROBOT","d":{"group_openid":"CFFD"}}"#;
//! let signature = key.sign_callback("1725442341", body);
//! let headers = [
//!     ("Content-Type", "application/json"),
//!     ("x-signature-ed25519", signature.as_str()),
//!     ("X-Signature-Timestamp", "1725442341"),
//! ];
//! let now = Some(1_725_442_345); // the current Unix time, in seconds
//!
//! let response = webhook.handle(WebhookRequest::from_headers(headers, body, now));
//! assert_eq!((response.status, response.body.as_str()), (200, r#"{"op":12,"d":0}"#));
//! let Outcome::Dispatch(event) = response.outcome else { panic!("not an event") };
//! assert_eq!((event.name(), event.id()), ("GROUP_ADD_ROBOT", Some("GROUP_ADD_ROBOT:31b4")));
//!
//! // QQ retries: answered 200 again, but not delivered twice.
//! let again = webhook.handle(WebhookRequest::from_headers(headers, body, now));
//! assert!(matches!(again.outcome, Outcome::Duplicate { .. }) && again.status == 200);
//!
//! // A forged or altered request is turned away, with nothing said about why.
//! let forged = br#"{"op":0,"id":"GROUP_ADD_ROBOT:31b5","t":"GROUP_ADD_ROBOT","d":{"group_openid":"EVIL"}}"#;
//! let response = webhook.handle(WebhookRequest::from_headers(headers, forged, now));
//! assert_eq!((response.status, response.body.as_str()), (401, r#"{"error":"unauthorized"}"#));
//! # Ok::<(), qqgw_proto::webhook::EmptySecret>(())
//! ```
//!
//! The same with a lock held only for the replay check:
//!
//! ```
//! use std::sync::Mutex;
//! use qqgw_proto::webhook::{Admission, Checked, Webhook, WebhookKey, WebhookRequest};
//!
//! let key = WebhookKey::from_secret("DG5g3B4j9X2KOErG")?;
//! let webhook = Webhook::new(key.clone()); // shared, e.g. in an Arc
//! let guard = Mutex::new(webhook.replay_guard());
//!
//! let body = br#"{"op":0,"id":"E:1","t":"E","d":{}}"#;
//! let signature = key.sign_callback("1725442341", body);
//! let request = WebhookRequest { signature: Some(&signature), timestamp: Some("1725442341"), body, unix_now: Some(1_725_442_341) };
//! match webhook.check(request) {
//!     Checked::Event(event) => {
//!         let admission = guard.lock().unwrap().admit(&event.ticket);
//!         assert_eq!(admission, Admission::New); // deliver event.dispatch, answer 200
//!     }
//!     Checked::Answer(response) => panic!("{response:?}"),
//! }
//! # Ok::<(), qqgw_proto::webhook::EmptySecret>(())
//! ```

mod error;
mod key;
mod replay;

use std::borrow::Cow;
use std::fmt;

use core::time::Duration;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::dispatch::Dispatch;
use crate::envelope::Envelope;
use crate::error::{DecodeError, snippet};
use crate::opcode::OpCode;
use crate::shard::ShardId;

pub use error::{EmptySecret, WebhookError};
pub use key::WebhookKey;
pub use replay::{Admission, DEFAULT_REPLAY_MEMORY, ReplayGuard, ReplayTicket};

/// The header holding the signature: 128 hex digits.
pub const SIGNATURE_HEADER: &str = "X-Signature-Ed25519";
/// The header holding the signing time, Unix seconds; the signature covers it.
pub const TIMESTAMP_HEADER: &str = "X-Signature-Timestamp";
/// The `Content-Type` of every body [`Webhook::handle`] returns.
pub const CONTENT_TYPE: &str = "application/json";
/// The op 12 body that acknowledges a delivery.
pub const ACK_BODY: &str = r#"{"op":12,"d":0}"#;
/// The body of the `503` answering a retry of an event still being handled.
pub const IN_PROGRESS_BODY: &str = r#"{"error":"in_progress"}"#;
/// The default largest body [`Webhook`] looks at: 1 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 1 << 20;
/// The default distance allowed between a request's timestamp and the current time.
pub const DEFAULT_TIMESTAMP_TOLERANCE: Duration = Duration::from_secs(300);

/// Longest `plain_token` an unsigned op 13 may carry.
const MAX_UNSIGNED_TOKEN: usize = 128;
/// Longest timestamp, in digits (`u64::MAX` has 20).
const MAX_TIMESTAMP_DIGITS: usize = 20;

/// The op 12 body that acknowledges a delivery: `{"op":12,"d":0}` ([`ACK_BODY`]).
#[must_use]
pub fn ack_body() -> &'static str {
    ACK_BODY
}

/// One callback request: the two signature headers, the raw body, and the current time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookRequest<'a> {
    /// The `X-Signature-Ed25519` header, if present.
    pub signature: Option<&'a str>,
    /// The `X-Signature-Timestamp` header, if present, exactly as received.
    pub timestamp: Option<&'a str>,
    /// The raw request body, exactly as received.
    pub body: &'a [u8],
    /// The current Unix time in seconds, to reject stale timestamps; `None` skips that
    /// check.
    pub unix_now: Option<u64>,
}

impl<'a> WebhookRequest<'a> {
    /// A request from all its headers (names in any case), its body and the current Unix
    /// time in seconds. The first `X-Signature-Ed25519` and `X-Signature-Timestamp` count;
    /// all other headers are ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use qqgw_proto::webhook::WebhookRequest;
    ///
    /// let headers = [("x-signature-timestamp", "1725442341"), ("X-SIGNATURE-ED25519", "ab12")];
    /// let request = WebhookRequest::from_headers(headers, b"{}", None);
    /// assert_eq!((request.signature, request.timestamp), (Some("ab12"), Some("1725442341")));
    /// ```
    #[must_use]
    pub fn from_headers<I>(headers: I, body: &'a [u8], unix_now: Option<u64>) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut request = Self { body, unix_now, ..Self::default() };
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(SIGNATURE_HEADER) {
                request.signature = request.signature.or(Some(value));
            } else if name.eq_ignore_ascii_case(TIMESTAMP_HEADER) {
                request.timestamp = request.timestamp.or(Some(value));
            }
        }
        request
    }
}

/// What to answer a callback with, and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// The HTTP status: 200, or 400/401/413 for a rejection.
    pub status: u16,
    /// The JSON body (send it with `Content-Type: application/json`, [`CONTENT_TYPE`]).
    pub body: String,
    /// What the request was.
    pub outcome: Outcome,
}

/// What a callback turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// An op 13 callback-address validation, answered with the signed `plain_token`.
    Validated {
        /// The `plain_token` QQ sent.
        plain_token: String,
    },
    /// A new event, to hand to the application.
    Dispatch(Dispatch),
    /// An event already delivered (QQ retried it); answered 200 so that QQ stops.
    Duplicate {
        /// The event id (empty for an event without one, recognised by its signature).
        id: String,
    },
    /// An event delivered and not handled yet (QQ retried it meanwhile); answered `503`
    /// so that QQ retries later: its handling may still fail.
    InProgress {
        /// The event id (empty for an event without one, recognised by its signature).
        id: String,
    },
    /// The request was refused; the response carries the error's status.
    Rejected(WebhookError),
}

/// What [`Webhook::check`] made of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Answer with this: a validation, or a rejection. Nothing to deliver.
    Answer(WebhookResponse),
    /// A signed event, every check passed but the replay check: admit its
    /// [`ticket`](VerifiedEvent::ticket) to a [`ReplayGuard`], and deliver it if new.
    Event(VerifiedEvent),
}

/// A signed, fresh, well-formed event, not yet checked against replays.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedEvent {
    /// The event.
    pub dispatch: Dispatch,
    /// What identifies this delivery to a [`ReplayGuard`].
    pub ticket: ReplayTicket,
}

impl VerifiedEvent {
    /// Admits the event to `guard` and makes the answer: a 200 with the event if it is
    /// new, a 200 without if it is a repeat, a 503 if it is a repeat of an event still
    /// being handled, a 401 if the guard cannot tell.
    #[must_use = "the response must be sent back to QQ"]
    pub fn admit(self, guard: &mut ReplayGuard) -> WebhookResponse {
        match guard.admit(&self.ticket) {
            Admission::New => WebhookResponse {
                status: 200,
                body: ACK_BODY.to_owned(),
                outcome: Outcome::Dispatch(self.dispatch),
            },
            Admission::Duplicate => WebhookResponse {
                status: 200,
                body: ACK_BODY.to_owned(),
                outcome: Outcome::Duplicate { id: self.dispatch.id().unwrap_or_default().to_owned() },
            },
            Admission::InProgress => WebhookResponse {
                status: 503,
                body: IN_PROGRESS_BODY.to_owned(),
                outcome: Outcome::InProgress { id: self.dispatch.id().unwrap_or_default().to_owned() },
            },
            Admission::Forgotten => WebhookResponse::rejected(WebhookError::ReplayUnverifiable),
        }
    }
}

impl WebhookResponse {
    /// The answer to a refused request.
    #[must_use]
    pub fn rejected(error: WebhookError) -> Self {
        Self { status: error.status(), body: error.body(), outcome: Outcome::Rejected(error) }
    }
}

/// A bot's webhook endpoint, without the HTTP: checks each callback, answers it, and turns
/// events into [`Dispatch`]es. See the [module docs](self) for the rules and an example.
///
/// It remembers the events delivered (see [`ReplayGuard`]), so use one `Webhook` for all
/// requests of a bot. On a multi-threaded server, share it and use [`check`](Self::check)
/// with a [`ReplayGuard`] behind a lock rather than putting the whole `Webhook` behind one.
pub struct Webhook {
    key: WebhookKey,
    shard: ShardId,
    replay: ReplayGuard,
    replay_memory: usize,
    max_body_size: usize,
    tolerance_secs: u64,
    allow_unsigned_validation: bool,
}

impl Webhook {
    /// An endpoint for the bot with this key, with the defaults: shard [`ShardId::ONE`],
    /// bodies up to 1 MiB, timestamps within ±300 s, 65,536 events remembered against
    /// replays, op 13 validations answered only when signed.
    #[must_use]
    pub fn new(key: WebhookKey) -> Self {
        let tolerance_secs = DEFAULT_TIMESTAMP_TOLERANCE.as_secs();
        Self {
            key,
            shard: ShardId::ONE,
            replay: ReplayGuard::new(DEFAULT_REPLAY_MEMORY, tolerance_secs),
            replay_memory: DEFAULT_REPLAY_MEMORY,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            tolerance_secs,
            allow_unsigned_validation: false,
        }
    }

    /// An endpoint for the bot with this AppSecret (see [`WebhookKey::from_secret`]).
    ///
    /// # Errors
    ///
    /// [`EmptySecret`] if `secret` is empty.
    pub fn from_secret(secret: &str) -> Result<Self, EmptySecret> {
        WebhookKey::from_secret(secret).map(Self::new)
    }

    /// Stamps the dispatches with `shard` instead of [`ShardId::ONE`].
    #[must_use]
    pub fn with_shard(mut self, shard: ShardId) -> Self {
        self.shard = shard;
        self
    }

    /// Rejects bodies longer than `max` bytes (default [`DEFAULT_MAX_BODY_SIZE`]) with 413.
    #[must_use]
    pub fn with_max_body_size(mut self, max: usize) -> Self {
        self.max_body_size = max;
        self
    }

    /// Rejects timestamps further than `tolerance` from `unix_now` (default
    /// [`DEFAULT_TIMESTAMP_TOLERANCE`]; whole seconds count). Events are remembered
    /// against replays for as long.
    #[must_use]
    pub fn with_timestamp_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance_secs = tolerance.as_secs();
        self.replay = self.replay_guard();
        self
    }

    /// Remembers at most `events` deliveries against replays (default
    /// [`DEFAULT_REPLAY_MEMORY`], 65,536; about 64 bytes each). See [`ReplayGuard`] for
    /// what happens when more arrive within one timestamp window.
    #[must_use]
    pub fn with_replay_memory(mut self, events: usize) -> Self {
        self.replay_memory = events.max(1);
        self.replay = self.replay_guard();
        self
    }

    /// With `true` (the default), op 13 validations must be signed like every other
    /// callback; `false` is [`allow_unsigned_validation(true)`](Self::allow_unsigned_validation).
    #[must_use]
    pub fn require_signed_validation(mut self, required: bool) -> Self {
        self.allow_unsigned_validation = !required;
        self
    }

    /// Opt-in, for an endpoint behind a proxy that strips the signature headers: with
    /// `true`, an op 13 without `X-Signature-Ed25519` is answered — but only if its
    /// `plain_token` cannot be a callback body (see the
    /// [module docs](self#op-13-is-verified)). Default `false`: unsigned op 13s are
    /// refused with 401, as QQ signs them.
    #[must_use]
    pub fn allow_unsigned_validation(mut self, allowed: bool) -> Self {
        self.allow_unsigned_validation = allowed;
        self
    }

    /// The largest body accepted, in bytes (a server can stop reading past it).
    #[must_use]
    pub fn max_body_size(&self) -> usize {
        self.max_body_size
    }

    /// The bot's key.
    #[must_use]
    pub fn key(&self) -> &WebhookKey {
        &self.key
    }

    /// A new, empty [`ReplayGuard`] with this endpoint's memory and timestamp tolerance,
    /// for a server that uses [`check`](Self::check).
    #[must_use]
    pub fn replay_guard(&self) -> ReplayGuard {
        ReplayGuard::new(self.replay_memory, self.tolerance_secs)
    }

    /// Checks and answers one callback request. Never panics, whatever the input.
    ///
    /// This is [`check`](Self::check) followed by [`VerifiedEvent::admit`] with the
    /// endpoint's own [`ReplayGuard`].
    #[must_use = "the response must be sent back to QQ"]
    pub fn handle(&mut self, request: WebhookRequest<'_>) -> WebhookResponse {
        match self.check(request) {
            Checked::Answer(response) => response,
            Checked::Event(event) => event.admit(&mut self.replay),
        }
    }

    /// Every check of [`handle`](Self::handle) but the replay check, without `&mut`:
    /// the signature is verified here, so a concurrent server calls this outside any lock.
    /// Never panics, whatever the input.
    #[must_use = "the request must be answered"]
    pub fn check(&self, request: WebhookRequest<'_>) -> Checked {
        match self.process(request) {
            Ok(Processed::Answer(body, outcome)) => {
                Checked::Answer(WebhookResponse { status: 200, body, outcome })
            }
            Ok(Processed::Event(event)) => Checked::Event(event),
            Err(error) => Checked::Answer(WebhookResponse::rejected(error)),
        }
    }

    /// The checks that need only the headers: the signature and timestamp headers are
    /// present (or the request may be an unsigned op 13 and that is
    /// [allowed](Self::allow_unsigned_validation)), the timestamp is fresh Unix seconds, the
    /// signature is 128 hex digits of a canonical signature, and `content_length` (if
    /// known) is within the limit. A server calls this before reading the body, so that a
    /// request that cannot pass costs it no body; [`check`](Self::check) repeats these
    /// checks, so skipping this is safe.
    ///
    /// # Errors
    ///
    /// The [`WebhookError`] the request would get from [`check`](Self::check).
    pub fn check_headers(
        &self,
        signature: Option<&str>,
        timestamp: Option<&str>,
        content_length: Option<u64>,
        unix_now: Option<u64>,
    ) -> Result<(), WebhookError> {
        if let Some(len) = content_length {
            if len > self.max_body_size as u64 {
                return Err(WebhookError::BodyTooLarge {
                    len: usize::try_from(len).unwrap_or(usize::MAX),
                    max: self.max_body_size,
                });
            }
        }
        match (signature, timestamp) {
            (Some(signature), Some(timestamp)) => {
                self.fresh_timestamp(timestamp, unix_now)?;
                key::check_signature_encoding(signature)
            }
            (Some(_), None) => Err(WebhookError::MissingTimestamp),
            (None, _) if self.allow_unsigned_validation => Ok(()),
            (None, _) => Err(WebhookError::MissingSignature),
        }
    }

    /// The 200 body and outcome of a request, or the event to admit, or why it is refused.
    fn process(&self, request: WebhookRequest<'_>) -> Result<Processed, WebhookError> {
        let body = request.body;
        if body.len() > self.max_body_size {
            return Err(WebhookError::BodyTooLarge { len: body.len(), max: self.max_body_size });
        }
        let signed = match (request.signature, request.timestamp) {
            (Some(signature), Some(timestamp)) => {
                let seconds = self.fresh_timestamp(timestamp, request.unix_now)?;
                self.key.verify(signature, timestamp, body)?;
                Some((signature, seconds))
            }
            (Some(_), None) => return Err(WebhookError::MissingTimestamp),
            (None, _) if !self.allow_unsigned_validation => return Err(WebhookError::MissingSignature),
            (None, _) => None,
        };
        // Nothing about an unsigned body is reported but the missing signature, unless it
        // is an op 13 (the one request that may come unsigned, when allowed).
        let unauthenticated =
            |error: WebhookError| if signed.is_some() { error } else { WebhookError::MissingSignature };
        let text = std::str::from_utf8(body)
            .map_err(|_| unauthenticated(DecodeError::Binary { len: body.len() }.into()))?;
        let envelope = Envelope::parse(text).map_err(|e| unauthenticated(e.into()))?;
        match (OpCode::from_u64(envelope.op), signed) {
            (Some(OpCode::CallbackValidation), _) => self.validate(&envelope, signed.is_some()),
            (Some(OpCode::Dispatch), Some((signature, seconds))) => {
                let dispatch = Dispatch::from_envelope(&envelope, self.shard)?;
                // An event without an id is recognised by its signature, which covers the
                // timestamp and the whole body: an exact replay is still caught.
                let identity = dispatch.id().unwrap_or(signature);
                let ticket = ReplayTicket::new(identity, seconds, request.unix_now);
                Ok(Processed::Event(VerifiedEvent { dispatch, ticket }))
            }
            _ => Err(unauthenticated(WebhookError::UnexpectedOpcode { op: envelope.op })),
        }
    }

    /// The timestamp header as Unix seconds, if it is that and within the tolerance.
    fn fresh_timestamp(&self, timestamp: &str, unix_now: Option<u64>) -> Result<u64, WebhookError> {
        let seconds = Some(timestamp)
            .filter(|t| is_digits(t, MAX_TIMESTAMP_DIGITS))
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| WebhookError::BadTimestamp { snippet: snippet(timestamp) })?;
        if let Some(now) = unix_now {
            if seconds.abs_diff(now) > self.tolerance_secs {
                return Err(WebhookError::StaleTimestamp {
                    timestamp: seconds,
                    now,
                    tolerance_secs: self.tolerance_secs,
                });
            }
        }
        Ok(seconds)
    }

    /// Answers an op 13.
    fn validate(&self, envelope: &Envelope<'_>, signed: bool) -> Result<Processed, WebhookError> {
        #[derive(Deserialize)]
        struct Validation<'a> {
            #[serde(borrow)]
            plain_token: Cow<'a, str>,
            #[serde(borrow)]
            event_ts: &'a RawValue,
        }
        let data = envelope.d.map_or("null", RawValue::get);
        let validation: Validation<'_> =
            serde_json::from_str(data).map_err(|e| DecodeError::json(&e, data))?;
        let raw_ts = validation.event_ts.get();
        let event_ts: Cow<'_, str> = if is_digits(raw_ts, usize::MAX) {
            // An older revision of QQ's docs showed a number (milliseconds).
            Cow::Borrowed(raw_ts)
        } else {
            serde_json::from_str::<String>(raw_ts).map(Cow::Owned).map_err(|e| DecodeError::json(&e, data))?
        };
        let plain_token = validation.plain_token;
        let safe = is_digits(&event_ts, MAX_TIMESTAMP_DIGITS) && is_safe_token(&plain_token);
        if !(signed || safe) {
            return Err(WebhookError::UnsafeValidation);
        }
        let body = self.key.validation_body(&plain_token, &event_ts);
        Ok(Processed::Answer(body, Outcome::Validated { plain_token: plain_token.into_owned() }))
    }
}

/// What [`Webhook::process`] made of a request that passed.
enum Processed {
    /// A 200 with this body.
    Answer(String, Outcome),
    /// An event for the replay check.
    Event(VerifiedEvent),
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("key", &self.key)
            .field("shard", &self.shard)
            .field("max_body_size", &self.max_body_size)
            .field("tolerance_secs", &self.tolerance_secs)
            .field("replay_memory", &self.replay_memory)
            .field("allow_unsigned_validation", &self.allow_unsigned_validation)
            .finish_non_exhaustive()
    }
}

/// 1 to `max` ASCII digits.
fn is_digits(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// A `plain_token` safe to sign unauthenticated: 1 to 128 characters, none of which can
/// start a JSON object (see the module docs).
fn is_safe_token(token: &str) -> bool {
    (1..=MAX_UNSIGNED_TOKEN).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b))
}

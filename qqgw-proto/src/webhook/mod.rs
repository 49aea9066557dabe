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
//! | bad or missing signature or timestamp | 401 | `{"error":…,"message":…}` | [`Rejected`](Outcome::Rejected) |
//! | signed, but not a usable callback | 400 | `{"error":…,"message":…}` | [`Rejected`](Outcome::Rejected) |
//! | body over the size limit (1 MiB) | 413 | `{"error":…,"message":…}` | [`Rejected`](Outcome::Rejected) |
//!
//! QQ retries a delivery that got no timely 200 (up to three times, with the same event
//! `id`). Events are de-duplicated by `id` over the last 1024 ids, exactly as the gateway
//! machine does, and a repeat is still answered 200 so that QQ stops retrying. The 200
//! goes out as soon as the event is decoded: handle it after answering, and do not make QQ
//! wait.
//!
//! Timestamps further than 300 s (configurable) from the `unix_now` you pass are rejected,
//! which with the de-duplication stops replays of captured requests. Pass `None` to skip
//! the check, e.g. on a machine without a trustworthy clock.
//!
//! # Is op 13 signed?
//!
//! QQ's docs are unclear: their example validation request carries no signature headers,
//! while the official Go SDK verifies every callback before looking at the opcode. An
//! unsigned op 13 cannot simply be answered, because the answer signs
//! `event_ts ‖ plain_token` with the same key QQ signs callbacks with: answering any
//! unsigned op 13 would let anyone obtain a valid signature for a forged event, by choosing
//! `event_ts` as the timestamp and `plain_token` as the forged body.
//!
//! qqgw therefore, by default:
//!
//! - verifies an op 13 that carries `X-Signature-Ed25519`, like any other callback, and
//!   answers it if the signature is good;
//! - answers an op 13 without that header only if `event_ts` is 1 to 20 ASCII digits and
//!   `plain_token` is 1 to 128 characters from `A-Z a-z 0-9 - _ . ~ + / =` (QQ's tokens
//!   are alphanumeric). No callback body can be made of those characters — a body must be
//!   a JSON object, and `{` is not among them — so such an answer is useless for forgery.
//!   Other unsigned op 13s get [`WebhookError::UnsafeValidation`] (401).
//!
//! [`Webhook::require_signed_validation`] turns unsigned op 13s away altogether, should
//! QQ turn out to always sign them.
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
//! // A forged or altered request is turned away.
//! let forged = br#"{"op":0,"id":"GROUP_ADD_ROBOT:31b5","t":"GROUP_ADD_ROBOT","d":{"group_openid":"EVIL"}}"#;
//! let response = webhook.handle(WebhookRequest::from_headers(headers, forged, now));
//! assert_eq!(response.status, 401);
//! # Ok::<(), qqgw_proto::webhook::EmptySecret>(())
//! ```

mod error;
mod key;

use std::borrow::Cow;
use std::fmt;

use core::time::Duration;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::dispatch::Dispatch;
use crate::envelope::Envelope;
use crate::error::{DecodeError, snippet};
use crate::machine::dedup::RecentIds;
use crate::opcode::OpCode;
use crate::shard::ShardId;

pub use error::{EmptySecret, WebhookError};
pub use key::WebhookKey;

/// The header holding the signature: 128 hex digits.
pub const SIGNATURE_HEADER: &str = "X-Signature-Ed25519";
/// The header holding the signing time, Unix seconds; the signature covers it.
pub const TIMESTAMP_HEADER: &str = "X-Signature-Timestamp";
/// The `Content-Type` of every body [`Webhook::handle`] returns.
pub const CONTENT_TYPE: &str = "application/json";
/// The op 12 body that acknowledges a delivery.
pub const ACK_BODY: &str = r#"{"op":12,"d":0}"#;
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
        /// The event id.
        id: String,
    },
    /// The request was refused; the response carries the error's status.
    Rejected(WebhookError),
}

/// A bot's webhook endpoint, without the HTTP: checks each callback, answers it, and turns
/// events into [`Dispatch`]es. See the [module docs](self) for the rules and an example.
///
/// It remembers the ids of recent events, so use one `Webhook` for all requests of a bot
/// (behind a mutex if your server is multi-threaded).
pub struct Webhook {
    key: WebhookKey,
    shard: ShardId,
    recent_ids: RecentIds,
    max_body_size: usize,
    tolerance_secs: u64,
    require_signed_validation: bool,
}

impl Webhook {
    /// An endpoint for the bot with this key, with the defaults: shard [`ShardId::ONE`],
    /// bodies up to 1 MiB, timestamps within ±300 s, unsigned op 13 answered when safe.
    #[must_use]
    pub fn new(key: WebhookKey) -> Self {
        Self {
            key,
            shard: ShardId::ONE,
            recent_ids: RecentIds::default(),
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            tolerance_secs: DEFAULT_TIMESTAMP_TOLERANCE.as_secs(),
            require_signed_validation: false,
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
    /// [`DEFAULT_TIMESTAMP_TOLERANCE`]; whole seconds count).
    #[must_use]
    pub fn with_timestamp_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance_secs = tolerance.as_secs();
        self
    }

    /// With `true`, op 13 validations must be signed like every other callback; by default
    /// unsigned ones are answered when that is safe (see the [module docs](self#is-op-13-signed)).
    #[must_use]
    pub fn require_signed_validation(mut self, required: bool) -> Self {
        self.require_signed_validation = required;
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

    /// Checks and answers one callback request. Never panics, whatever the input.
    #[must_use = "the response must be sent back to QQ"]
    pub fn handle(&mut self, request: WebhookRequest<'_>) -> WebhookResponse {
        match self.process(request) {
            Ok((body, outcome)) => WebhookResponse { status: 200, body, outcome },
            Err(error) => WebhookResponse {
                status: error.status(),
                body: error.body(),
                outcome: Outcome::Rejected(error),
            },
        }
    }

    /// The 200 body and outcome of a request, or why it is refused.
    fn process(&mut self, request: WebhookRequest<'_>) -> Result<(String, Outcome), WebhookError> {
        let body = request.body;
        if body.len() > self.max_body_size {
            return Err(WebhookError::BodyTooLarge { len: body.len(), max: self.max_body_size });
        }
        let signed = match (request.signature, request.timestamp) {
            (Some(signature), Some(timestamp)) => {
                self.authenticate(signature, timestamp, body, request.unix_now)?;
                true
            }
            (Some(_), None) => return Err(WebhookError::MissingTimestamp),
            (None, _) if self.require_signed_validation => return Err(WebhookError::MissingSignature),
            (None, _) => false,
        };
        // Nothing about an unsigned body is reported but the missing signature, unless it
        // is an op 13 (the one request that may come unsigned).
        let unauthenticated =
            |error: WebhookError| if signed { error } else { WebhookError::MissingSignature };
        let text = std::str::from_utf8(body)
            .map_err(|_| unauthenticated(DecodeError::Binary { len: body.len() }.into()))?;
        let envelope = Envelope::parse(text).map_err(|e| unauthenticated(e.into()))?;
        match OpCode::from_u64(envelope.op) {
            Some(OpCode::CallbackValidation) => self.validate(&envelope, signed),
            Some(OpCode::Dispatch) if signed => self.dispatch(&envelope),
            _ => Err(unauthenticated(WebhookError::UnexpectedOpcode { op: envelope.op })),
        }
    }

    /// Checks the timestamp's form and age, then the signature.
    fn authenticate(
        &self,
        signature: &str,
        timestamp: &str,
        body: &[u8],
        unix_now: Option<u64>,
    ) -> Result<(), WebhookError> {
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
        self.key.verify(signature, timestamp, body)
    }

    /// Answers an op 13.
    fn validate(&self, envelope: &Envelope<'_>, signed: bool) -> Result<(String, Outcome), WebhookError> {
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
        Ok((body, Outcome::Validated { plain_token: plain_token.into_owned() }))
    }

    /// Decodes an op 0 and drops repeats.
    fn dispatch(&mut self, envelope: &Envelope<'_>) -> Result<(String, Outcome), WebhookError> {
        let dispatch = Dispatch::from_envelope(envelope, self.shard)?;
        if let Some(id) = dispatch.id() {
            if !self.recent_ids.insert(id) {
                return Ok((ACK_BODY.to_owned(), Outcome::Duplicate { id: id.to_owned() }));
            }
        }
        Ok((ACK_BODY.to_owned(), Outcome::Dispatch(dispatch)))
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("key", &self.key)
            .field("shard", &self.shard)
            .field("max_body_size", &self.max_body_size)
            .field("tolerance_secs", &self.tolerance_secs)
            .field("require_signed_validation", &self.require_signed_validation)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The de-duplication window, without the signatures (slow in debug builds).
    #[test]
    fn remembers_the_last_1024_ids_like_the_machine() {
        let mut webhook = Webhook::from_secret("secret").unwrap();
        let mut deliver = |i: usize| {
            let text = format!(r#"{{"op":0,"id":"E:{i}","t":"E","d":{{}}}}"#);
            let envelope = Envelope::parse(&text).unwrap();
            webhook.dispatch(&envelope).unwrap().1
        };
        for i in 0..=1024 {
            assert!(matches!(deliver(i), Outcome::Dispatch(_)), "{i}");
        }
        assert_eq!(deliver(1024), Outcome::Duplicate { id: "E:1024".into() });
        assert!(matches!(deliver(0), Outcome::Dispatch(_)), "the oldest id is forgotten");
    }
}

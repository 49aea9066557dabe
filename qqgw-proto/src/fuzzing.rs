//! The logic of the fuzz targets in `fuzz/` (hidden feature `fuzzing`).
//!
//! Each target in `fuzz/fuzz_targets/` is a few lines calling one function here, and the
//! stable test `tests/fuzz_replay.rs` runs every committed seed and crash input through
//! the same functions, so whatever the fuzzer once found stays a regression test in CI.
//!
//! - [`envelope`]: arbitrary bytes as a frame: [`Envelope::parse`] and
//!   [`Dispatch::from_frame`] must agree with a plain JSON parse of the same text.
//! - [`typed_event`]: arbitrary `d` (or a whole frame) through
//!   [`TypedEvent::from_dispatch`]: no panic, and the result names the dispatch's event.
//! - [`machine`]: arbitrary bytes decoded into a sequence of steps (frames valid, mutated
//!   and junk; closes with any code; ticks of any size; tokens; connection reports; a
//!   graceful close) that a [`Driver`] feeds to a [`GatewayMachine`](crate::GatewayMachine), checking the
//!   invariants after every step.
//! - [`webhook`] (feature `webhook`): arbitrary bytes as one callback from the internet,
//!   signed or not, through a webhook endpoint: only documented answers, nothing unsigned
//!   admitted, a retry answered as a duplicate.
//!
//! # Panics
//!
//! Asserting is this module's job: its functions panic when the library breaks one of the
//! invariants they check, and only then (or when the library itself panics, which is a
//! finding too). No input makes them panic otherwise.
#![allow(clippy::panic)]

use core::time::Duration;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::backoff::Backoff;
use crate::close::{CloseCode, CloseFrame};
use crate::config::Config;
use crate::dispatch::Dispatch;
use crate::error::TokenError;
use crate::intents::Intents;
use crate::limiter::{IdentifyLimiter, SessionStartLimit};
use crate::model::{EventKind, TypedEvent};
use crate::opcode::OpCode;
use crate::session::Session;
use crate::shard::ShardId;
use crate::testing::frames;
use crate::testing::strategy::Step;
use crate::testing::{Driver, DriverOptions};
use crate::time::Instant;

/// A frame's envelope, as the machine parses it: crate-private but for this module, for
/// the fuzz targets, their replay test and the frames bench (whose floor it is).
pub use crate::envelope::Envelope;

/// The most steps [`machine`] decodes from one input (bounds the time of one run).
pub const MAX_STEPS: usize = 4_096;

// ---------------------------------------------------------------------------------------
// webhook

/// The secret of the endpoint [`webhook`] runs (any non-empty one would do).
#[cfg(feature = "webhook")]
const WEBHOOK_SECRET: &str = "qqgw-fuzz-secret";

/// Feeds `data` to a webhook endpoint as one callback from the internet. The first byte
/// says how the rest is sent: bit 0 clear, as a body signed with the endpoint's own key
/// (what QQ could send: the decoding behind the signature check is reached); bit 0 set,
/// split at the first two NUL bytes into the signature header, the timestamp header and
/// the body (what anyone could send). Bit 1 sends the same request again, as QQ's retry.
///
/// # Panics
///
/// When the answer is not one the endpoint documents (200 with a validation, an event or
/// a duplicate; 503 for an event still being handled; 400, 401 or 413 with a rejection),
/// when an unsigned event is admitted, or when the retry of an admitted event is admitted
/// again.
#[cfg(feature = "webhook")]
pub fn webhook(data: &[u8]) {
    use crate::webhook::{Outcome, Webhook, WebhookRequest, WebhookResponse};

    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(mut endpoint) = Webhook::from_secret(WEBHOOK_SECRET) else { return };
    let signed = mode & 1 == 0;
    let (signature, timestamp, body) = if signed {
        let timestamp = "1725442341";
        (endpoint.key().sign_callback(timestamp, rest), timestamp.to_owned(), rest)
    } else {
        let mut parts = rest.splitn(3, |&b| b == 0);
        let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
        let (signature, timestamp) = (text(), text());
        (signature, timestamp, parts.next().unwrap_or_default())
    };
    let headers =
        [("X-Signature-Ed25519", signature.as_str()), ("X-Signature-Timestamp", timestamp.as_str())];
    let check = |response: &WebhookResponse| match (&response.outcome, response.status) {
        (Outcome::Rejected(_), 400 | 401 | 413) => {}
        (Outcome::Validated { .. } | Outcome::Dispatch(_) | Outcome::Duplicate { .. }, 200) => {}
        (Outcome::InProgress { .. }, 503) => {}
        (outcome, status) => panic!("answered HTTP {status} with {outcome:?}"),
    };
    let first = endpoint.handle(WebhookRequest::from_headers(headers, body, None));
    check(&first);
    if !signed {
        assert!(!matches!(first.outcome, Outcome::Dispatch(_)), "an unsigned event was admitted: {first:?}");
    }
    if mode & 2 != 0 {
        let again = endpoint.handle(WebhookRequest::from_headers(headers, body, None));
        check(&again);
        if matches!(first.outcome, Outcome::Dispatch(_)) {
            assert!(
                matches!(again.outcome, Outcome::Duplicate { .. }),
                "a retry was admitted again: {again:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// envelope

/// Parses `data` as a frame and checks that the envelope, the dispatch and a plain
/// `serde_json::Value` parse of the same text agree.
///
/// # Panics
///
/// When they disagree, or an error message quotes more than a snippet of the frame.
pub fn envelope(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else { return };
    let parsed = Envelope::parse(text);
    let dispatch = Dispatch::from_frame(text, ShardId::ONE);
    let env = match parsed {
        Ok(env) => env,
        Err(error) => {
            assert!(dispatch.is_err(), "a dispatch from a frame whose envelope failed: {text:?}");
            // Errors quote a snippet of the frame, never all of it.
            let message = error.to_string();
            assert!(message.len() <= 1_024, "an error message of {} bytes", message.len());
            return;
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        // serde_json skips the keys the envelope ignores without checking what a `Value`
        // cannot hold (numbers beyond f64 like `1E999`, lone surrogates like `"\udbfd"`);
        // nothing to compare then.
        Err(_) => return,
    };
    assert_eq!(value.get("op").and_then(Value::as_u64), Some(env.op), "op of {text:?}");
    let s = value.get("s").filter(|s| !s.is_null());
    assert_eq!(s.and_then(Value::as_u64), env.s, "s of {text:?}");
    assert_eq!(s.is_some(), env.s.is_some(), "s of {text:?}");
    let t = value.get("t").and_then(Value::as_str);
    assert_eq!(t, env.t.as_deref(), "t of {text:?}");
    let id = value.get("id").and_then(Value::as_str);
    assert_eq!(id, env.id.as_deref(), "id of {text:?}");
    let d = value.get("d").filter(|d| !d.is_null());
    match (d, env.d) {
        (None, None) => {}
        (Some(d), Some(raw)) => {
            let reparsed: Result<Value, _> = serde_json::from_str(raw.get());
            assert_eq!(reparsed.ok().as_ref(), Some(d), "d of {text:?}");
        }
        (d, raw) => panic!("d of {text:?}: JSON says {d:?}, the envelope {raw:?}"),
    }
    let complete = env.op == 0 && env.t.is_some() && env.d.is_some();
    match dispatch {
        Ok(dispatch) => {
            assert!(complete, "a dispatch from an incomplete op 0 frame: {text:?}");
            assert_eq!(Some(dispatch.name()), env.t.as_deref());
            assert_eq!(dispatch.seq(), env.s);
            assert_eq!(dispatch.id(), env.id.as_deref());
            assert_eq!(Some(dispatch.data().get()), env.d.map(RawValue::get));
            assert!(dispatch.parse::<Value>().is_ok(), "a dispatch whose data is not JSON: {text:?}");
            let debug = format!("{dispatch:?}");
            assert!(debug.len() <= 1_024 + dispatch.name().len() + dispatch.id().map_or(0, str::len));
        }
        Err(error) => {
            assert!(!complete, "no dispatch from a complete op 0 frame ({error}): {text:?}");
            assert!(error.to_string().len() <= 1_024 + env.t.as_deref().map_or(0, str::len));
        }
    }
}

// ---------------------------------------------------------------------------------------
// typed events

/// The event name [`typed_event`] uses for the selector byte `pick`: every known kind,
/// then an unknown name.
#[must_use]
pub fn event_name(pick: u8) -> &'static str {
    let all: &'static [EventKind] = EventKind::ALL;
    all.get(usize::from(pick) % (all.len() + 1)).map_or("UNKNOWN_FUTURE_EVENT", EventKind::as_str)
}

/// Decodes arbitrary data as a typed event: `data` is either a whole frame (when it starts
/// with `{`) or a selector byte naming the event (see [`event_name`]) followed by `d`.
///
/// # Panics
///
/// When the typed event does not name the dispatch's event, or a parse error names another.
pub fn typed_event(data: &[u8]) {
    let dispatch = match data.split_first() {
        Some((b'{', _)) => {
            let Ok(text) = core::str::from_utf8(data) else { return };
            match Dispatch::from_frame(text, ShardId::ONE) {
                Ok(dispatch) => dispatch,
                Err(_) => return,
            }
        }
        Some((&pick, d)) => {
            let Ok(d) = core::str::from_utf8(d) else { return };
            let Ok(raw) = RawValue::from_string(d.to_owned()) else { return };
            Dispatch::new(event_name(pick), Some(1), None, ShardId::ONE, raw)
        }
        None => return,
    };
    let kind = EventKind::from_name(dispatch.name());
    match TypedEvent::from_dispatch(&dispatch) {
        Ok(event) => {
            assert_eq!(event.name(), dispatch.name());
            assert_eq!(event.kind(), kind);
        }
        Err(error) => {
            assert_eq!(error.event(), &kind, "{error}");
            assert!(!matches!(kind, EventKind::Unknown(_)), "an unknown event failed to parse: {error}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// the machine

/// The first byte of a [`machine`] input: how to configure the machine and play the adapter.
pub mod flags {
    /// [`DriverOptions::auto`](crate::testing::DriverOptions::auto).
    pub const AUTO: u8 = 1;
    /// [`DriverOptions::defer_close`](crate::testing::DriverOptions::defer_close).
    pub const DEFER_CLOSE: u8 = 2;
    /// Start with a session to RESUME (seq = the seed byte).
    pub const RESTORED_SESSION: u8 = 4;
    /// No reconnect jitter.
    pub const NO_JITTER: u8 = 8;
    /// A handshake timeout of 10 ms × the seed byte (zero included).
    pub const SHORT_HANDSHAKE: u8 = 16;
    /// A tight identify limiter: one IDENTIFY per window, one left until a reset in 60 s.
    pub const TIGHT_LIMITER: u8 = 32;
    /// The backoff, from the top two bits: default, zero, 1–10 ms, or the longest there is.
    pub const BACKOFF_SHIFT: u8 = 6;
}

/// The step opcodes of a [`machine`] input (one byte each, taken modulo [`op::COUNT`]).
pub mod op {
    /// Tick by a byte of milliseconds.
    pub const TICK_SMALL: u8 = 0;
    /// Tick by 16 × a little-endian `u16` of milliseconds.
    pub const TICK_MEDIUM: u8 = 1;
    /// Tick by a little-endian `u32` of milliseconds.
    pub const TICK_LARGE: u8 = 2;
    /// Tick by a little-endian `u64` of milliseconds (saturating).
    pub const TICK_ANY: u8 = 3;
    /// Move the clock to the machine's next deadline.
    pub const WAKE: u8 = 4;
    /// Report `Connected`.
    pub const CONNECTED: u8 = 5;
    /// Report `ConnectFailed`.
    pub const CONNECT_FAILED: u8 = 6;
    /// Report `Closed(None)`.
    pub const DROPPED: u8 = 7;
    /// Report `Closed(Some(code))`: a byte picks one of 24 codes of QQ's table, or (≥ 24)
    /// the next little-endian `u16` is the code.
    pub const CLOSED: u8 = 8;
    /// Report a token; a byte picks its lifetime.
    pub const TOKEN: u8 = 9;
    /// Report a token failure; a byte's low bit says whether it is a rejection.
    pub const TOKEN_FAILED: u8 = 10;
    /// `close()`.
    pub const CLOSE: u8 = 11;
    /// The next answer a well-behaved QQ owes.
    pub const REPLY: u8 = 12;
    /// A valid server frame from a template (see [`TEMPLATES`](super::TEMPLATES)).
    pub const FRAME: u8 = 13;
    /// A template frame with byte mutations.
    pub const MUTATED: u8 = 14;
    /// Raw text: a little-endian `u16` length, then the bytes (binary if not UTF-8).
    pub const TEXT: u8 = 15;
    /// A binary frame: a byte length, then the bytes.
    pub const BINARY: u8 = 16;
    /// How many opcodes there are.
    pub const COUNT: u8 = 17;
}

/// How many server frame templates [`op::FRAME`] picks from.
pub const TEMPLATES: u8 = 12;

/// Close codes worth picking often. Part of the fuzz input format, not of the close-code
/// table: the committed seeds and regressions pick by index, so this list keeps its order.
const CODES: [u16; 24] = [
    1000, 1001, 1006, 1011, 4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 4009, 4010, 4011, 4012,
    4013, 4014, 4900, 4913, 4914, 4915, 4999,
];

/// Arbitrary bytes as a decoding source; reads past the end give zeros.
#[derive(Debug)]
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u8(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

/// Drives a machine with the steps decoded from `data` (see [`flags`] and [`op`]),
/// checking the [`Driver`]'s invariants after every step.
///
/// # Panics
///
/// When the machine breaks an invariant.
pub fn machine(data: &[u8]) {
    drop(run_machine(data));
}

/// [`machine`], returning the driver at the end for a closer look.
///
/// # Panics
///
/// When the machine breaks an invariant.
pub fn run_machine(data: &[u8]) -> Driver {
    let mut c = Cursor(data);
    let flags = c.u8();
    let seed = c.u8();
    let endless_backoff = flags >> flags::BACKOFF_SHIFT == 3;
    let options = DriverOptions {
        auto: flags & flags::AUTO != 0,
        defer_close: flags & flags::DEFER_CLOSE != 0,
        liveness: !endless_backoff,
    };
    let mut builder = Config::builder("wss://fuzz/", Intents::non_privileged()).seed(u64::from(seed));
    if flags & flags::RESTORED_SESSION != 0 {
        builder = builder.session(Session::new("restored", u64::from(seed), ShardId::ONE));
    }
    if flags & flags::NO_JITTER != 0 {
        builder = builder.reconnect_jitter(Duration::ZERO);
    }
    if flags & flags::SHORT_HANDSHAKE != 0 {
        builder = builder.handshake_timeout(Duration::from_millis(10 * u64::from(seed)));
    }
    let mut limit = SessionStartLimit::default();
    if flags & flags::TIGHT_LIMITER != 0 {
        limit = SessionStartLimit { total: 2, remaining: 1, reset_after: 60_000, max_concurrency: 1 };
    }
    let ms = Duration::from_millis;
    builder = builder.backoff(match flags >> flags::BACKOFF_SHIFT {
        0 => Backoff::default(),
        1 => Backoff { initial: Duration::ZERO, max: Duration::ZERO },
        2 => Backoff { initial: ms(1), max: ms(10) },
        _ => Backoff { initial: Duration::MAX, max: Duration::MAX },
    });
    let Ok(config) = builder.build() else { panic!("the fuzz config is valid") };
    let mut driver =
        Driver::with_pacer(config, Instant::ZERO, options, IdentifyLimiter::new(limit, Instant::ZERO));

    for _ in 0..MAX_STEPS {
        let Some(step) = c.next() else { break };
        let step = decode_step(step, &mut driver, &mut c);
        // Refusals are checked by the driver; whether one happens is the input's business.
        let _ = driver.step(&step);
        driver.take_log();
    }
    driver
}

/// The [`Step`] that opcode `op` and the bytes after it stand for. Frames built from a
/// template read the driver's server side (its sequence numbers, its sessions).
fn decode_step(op: u8, driver: &mut Driver, c: &mut Cursor<'_>) -> Step {
    let ms = Duration::from_millis;
    match op % op::COUNT {
        op::TICK_SMALL => Step::Tick(ms(u64::from(c.u8()))),
        op::TICK_MEDIUM => Step::Tick(ms(16 * u64::from(c.u16()))),
        op::TICK_LARGE => Step::Tick(ms(u64::from(c.u32()))),
        op::TICK_ANY => Step::Tick(ms(c.u64())),
        op::WAKE => Step::Wake,
        op::CONNECTED => Step::Connected,
        op::CONNECT_FAILED => Step::ConnectFailed,
        op::DROPPED => Step::Closed(None),
        op::CLOSED => {
            let pick = c.u8();
            let code = match CODES.get(usize::from(pick)) {
                Some(&code) => code,
                None => c.u16(),
            };
            let code = CloseCode(code);
            Step::Closed(Some(CloseFrame::new(code, code.description())))
        }
        op::TOKEN => Step::Token(match c.u8() % 6 {
            0 => Duration::ZERO,
            1 => Duration::from_secs(30),
            2 => Duration::from_secs(61),
            3 => Duration::from_secs(7200),
            4 => ms(u64::from(c.u32())),
            _ => Duration::MAX,
        }),
        op::TOKEN_FAILED => Step::TokenFailed(if c.u8() & 1 == 0 {
            TokenError::Unavailable("503".into())
        } else {
            TokenError::Rejected { code: 100_016, message: "invalid appid or secret".into() }
        }),
        op::CLOSE => Step::Close,
        op::REPLY => Step::Reply,
        op::FRAME => Step::Text(template(driver, c)),
        op::MUTATED => {
            let mut bytes = template(driver, c).into_bytes();
            for _ in 0..=c.u8() % 4 {
                mutate(&mut bytes, c);
            }
            frame_step(bytes)
        }
        op::TEXT => {
            let len = usize::from(c.u16());
            frame_step(c.take(len).to_vec())
        }
        _ => {
            let len = usize::from(c.u8());
            Step::Binary(c.take(len).to_vec())
        }
    }
}

/// A frame as text if it is UTF-8, else binary.
fn frame_step(bytes: Vec<u8>) -> Step {
    match String::from_utf8(bytes) {
        Ok(text) => Step::Text(text),
        Err(error) => Step::Binary(error.into_bytes()),
    }
}

/// A byte-level change: truncate, overwrite, insert or delete at a position.
fn mutate(bytes: &mut Vec<u8>, c: &mut Cursor<'_>) {
    let kind = c.u8();
    let at = c.u16();
    let byte = c.u8();
    crate::mutate::edit(bytes, kind, at, byte);
}

/// A sequence number as the server might send it: the next one, a repeat, an older one,
/// none, a small one, or any.
fn seq(driver: &mut Driver, c: &mut Cursor<'_>) -> Option<u64> {
    match c.u8() % 6 {
        0 => Some(driver.next_seq()),
        1 => Some(driver.server_seq()),
        2 => Some(driver.server_seq().saturating_sub(u64::from(c.u8() % 8))),
        3 => None,
        4 => Some(u64::from(c.u8())),
        _ => Some(c.u64()),
    }
}

/// A well-formed frame QQ might send (see [`TEMPLATES`]).
fn template(driver: &mut Driver, c: &mut Cursor<'_>) -> String {
    match c.u8() % TEMPLATES {
        0 => {
            let interval = match c.u8() % 4 {
                0 => c.u32().to_string(),
                1 => c.u64().to_string(),
                2 => "0".to_owned(),
                _ => r#""45000""#.to_owned(),
            };
            frames::hello(interval)
        }
        1 => frames::heartbeat_ack(),
        2 => frames::heartbeat_request(),
        3 => frames::reconnect(),
        4 => frames::invalid_session(c.u8() & 1 == 0),
        5 => driver.ready_frame(),
        6 => {
            let s = seq(driver, c);
            frames::ready(&format!("s{}", c.u8() % 4), s)
        }
        7 => frames::resumed(seq(driver, c)),
        8 | 9 => {
            let s = seq(driver, c);
            let name = event_name(c.u8());
            let id = match c.u8() % 4 {
                0 => None,
                1 => Some(format!("{name}:{}", c.u8() % 8)),
                _ => Some(format!("{name}:{}", driver.server_seq())),
            };
            frames::dispatch(name, s, id.as_deref(), r#"{"content":"hi","id":"m1"}"#)
        }
        10 => {
            // Incomplete dispatches: no name, no data, null data.
            let s = seq(driver, c).map_or_else(|| "null".to_owned(), |s| s.to_string());
            let op = OpCode::Dispatch.as_u8();
            match c.u8() % 3 {
                0 => format!(r#"{{"op":{op},"s":{s},"d":{{}}}}"#),
                1 => format!(r#"{{"op":{op},"s":{s},"t":"AT_MESSAGE_CREATE"}}"#),
                _ => format!(r#"{{"op":{op},"s":{s},"t":"AT_MESSAGE_CREATE","d":null}}"#),
            }
        }
        _ => frames::with_op(u64::from(c.u8())),
    }
}

/// Builds [`machine`] inputs step by step, for seeds and regression tests.
#[derive(Debug, Clone)]
pub struct Script(Vec<u8>);

impl Script {
    /// A script starting with the [`flags`] byte and the seed byte.
    #[must_use]
    pub fn new(flags: u8, seed: u8) -> Self {
        Self(vec![flags, seed])
    }

    /// Appends one step opcode and its argument bytes.
    #[must_use]
    pub fn step(mut self, op: u8, args: &[u8]) -> Self {
        self.0.push(op);
        self.0.extend_from_slice(args);
        self
    }

    /// Ticks by `ms` milliseconds.
    #[must_use]
    pub fn tick(self, ms: u32) -> Self {
        self.step(op::TICK_LARGE, &ms.to_le_bytes())
    }

    /// A raw text frame (cut at 65 535 bytes).
    #[must_use]
    pub fn text(self, text: &str) -> Self {
        let bytes = text.as_bytes();
        let bytes = bytes.get(..usize::from(u16::MAX)).unwrap_or(bytes);
        let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        self.step(op::TEXT, &len.to_le_bytes()).step_bytes(bytes)
    }

    /// Replies `n` times.
    #[must_use]
    pub fn replies(mut self, n: usize) -> Self {
        for _ in 0..n {
            self = self.step(op::REPLY, &[]);
        }
        self
    }

    fn step_bytes(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    /// The input bytes.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

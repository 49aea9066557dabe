//! [proptest] generators of everything a [`GatewayMachine`] can be told: QQ's frames
//! (valid, mutated and junk), closes with any code, ticks of the clock, the adapter's
//! reports and tokens, and a graceful close.
//!
//! A [`Step`] is one such thing; [`Step::apply`] tells it to a machine. Property tests of
//! your own feed random [`steps`] to a machine, drain it after each, hand its events to
//! your bot, and check what must always hold; proptest shrinks a failing sequence to a
//! short one. Build narrower generators from the pieces ([`server_frame`],
//! [`close_code`], [`tick`], …) to steer the inputs.
//!
//! # Examples
//!
//! A bot that answers every `AT_MESSAGE_CREATE` it sees once, and never answers the same
//! message twice, whatever the network does:
//!
//! ```
//! use std::collections::HashSet;
//! use proptest::prelude::*;
//! use proptest::test_runner::TestRunner;
//! use qqgw_proto::testing::strategy::{self, Step};
//! use qqgw_proto::{AccessToken, Config, Event, GatewayMachine, Input, Instant, Intents, Output};
//!
//! /// The bot under test: replies to each message by its event id.
//! #[derive(Default)]
//! struct Bot {
//!     replied: Vec<String>,
//! }
//!
//! impl Bot {
//!     fn on_event(&mut self, event: &Event) {
//!         if let Event::Dispatch(d) = event {
//!             if d.name() == "AT_MESSAGE_CREATE" {
//!                 self.replied.push(d.id().unwrap_or_default().to_owned());
//!             }
//!         }
//!     }
//! }
//!
//! fn run(steps: &[Step]) -> Result<(), TestCaseError> {
//!     let config = Config::builder("wss://fake/", Intents::PUBLIC_GUILD_MESSAGES).build().unwrap();
//!     let mut now = Instant::ZERO;
//!     let mut machine = GatewayMachine::new(config, now);
//!     let mut bot = Bot::default();
//!     for step in steps {
//!         if step.apply(&mut machine, &mut now).is_err() {
//!             continue; // refused: it does not fit the machine's state, nothing changed
//!         }
//!         // The adapter's side of the drain contract; the steps play the network.
//!         loop {
//!             match machine.poll_output() {
//!                 Output::Emit(event) => bot.on_event(&event),
//!                 Output::Close(_) => machine.handle_input(now, Input::Closed(None)).unwrap(),
//!                 Output::Sleep(_) => break,
//!                 _ => {}
//!             }
//!         }
//!     }
//!     let distinct: HashSet<_> = bot.replied.iter().filter(|id| !id.is_empty()).collect();
//!     let with_id = bot.replied.iter().filter(|id| !id.is_empty()).count();
//!     prop_assert_eq!(distinct.len(), with_id, "a message answered twice");
//!     Ok(())
//! }
//!
//! let mut runner = TestRunner::default();
//! runner.run(&strategy::steps(1..100), |steps| run(&steps)).unwrap();
//! ```
//!
//! [proptest]: https://docs.rs/proptest

use core::time::Duration;

use proptest::prelude::*;

use super::frames;
use crate::UsageError;
use crate::close::{CloseCode, CloseFrame};
use crate::error::TokenError;
use crate::model::EventKind;
use crate::time::Instant;
use crate::token::AccessToken;
use crate::{GatewayMachine, Input};

/// One thing that happens to a machine: the network, the clock, the adapter or the
/// application acting.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Step {
    /// Time passes: [`GatewayMachine::handle_timeout`] at `now + duration`.
    Tick(Duration),
    /// The clock jumps to the machine's next deadline, if any, and the machine is told.
    Wake,
    /// [`Input::Connected`].
    Connected,
    /// [`Input::ConnectFailed`].
    ConnectFailed,
    /// [`Input::Closed`]: QQ closed with a frame, or the connection dropped (`None`).
    Closed(Option<CloseFrame<'static>>),
    /// [`Input::Token`]: a token living this long from now.
    Token(Duration),
    /// [`Input::TokenFailed`].
    TokenFailed(TokenError),
    /// [`Input::Text`]: a frame from QQ.
    Text(String),
    /// [`Input::Binary`].
    Binary(Vec<u8>),
    /// [`GatewayMachine::close`].
    Close,
    /// The answer a well-behaved QQ owes next (HELLO, READY, RESUMED, an ACK). Only a
    /// [`Driver`](super::Driver) keeps track of them; elsewhere nothing happens.
    Reply,
}

impl Step {
    /// The input this step tells the machine at `now`, or `None` for [`Tick`](Self::Tick),
    /// [`Wake`](Self::Wake), [`Close`](Self::Close) and [`Reply`](Self::Reply).
    #[must_use]
    pub fn input(&self, now: Instant) -> Option<Input<'_>> {
        Some(match self {
            Step::Connected => Input::Connected,
            Step::ConnectFailed => Input::ConnectFailed,
            Step::Closed(frame) => Input::Closed(frame.clone()),
            Step::Token(lifetime) => Input::Token(AccessToken::new("token", now + *lifetime)),
            Step::TokenFailed(error) => Input::TokenFailed(error.clone()),
            Step::Text(text) => Input::Text(text),
            Step::Binary(bytes) => Input::Binary(bytes),
            Step::Tick(_) | Step::Wake | Step::Close | Step::Reply => return None,
        })
    }

    /// Tells `machine` this step, moving `now` for [`Tick`](Self::Tick) and
    /// [`Wake`](Self::Wake) ([`Reply`](Self::Reply) does nothing here). Drain
    /// [`GatewayMachine::poll_output`] afterwards.
    ///
    /// # Errors
    ///
    /// The machine's [`UsageError`] when it refuses the input (nothing changed then).
    pub fn apply(&self, machine: &mut GatewayMachine, now: &mut Instant) -> Result<(), UsageError> {
        match self {
            Step::Tick(by) => {
                *now += *by;
                machine.handle_timeout(*now);
                Ok(())
            }
            Step::Wake => {
                if let Some(at) = machine.poll_timeout() {
                    *now = (*now).max(at);
                    machine.handle_timeout(*now);
                }
                Ok(())
            }
            Step::Close => machine.close(*now),
            step => match step.input(*now) {
                Some(input) => machine.handle_input(*now, input),
                None => Ok(()),
            },
        }
    }
}

/// Close codes: mostly QQ's own (every code of [`CloseCode::KNOWN`] and one of each range
/// of [`CloseCode::action`]'s table), sometimes any `u16`.
pub fn close_code() -> impl Strategy<Value = CloseCode> + Clone {
    let mut known = CloseCode::KNOWN.to_vec();
    known.extend(crate::close::UNNAMED_CODES.map(CloseCode));
    prop_oneof![4 => proptest::sample::select(known), 1 => any::<u16>().prop_map(CloseCode)]
}

/// Close frames: a [`close_code`] with a short reason.
pub fn close_frame() -> impl Strategy<Value = CloseFrame<'static>> + Clone {
    (close_code(), "[a-z ]{0,12}").prop_map(|(code, reason)| CloseFrame::new(code, reason))
}

/// HELLO (op 10): usually a usable interval (QQ's 45 s, short ones, out-of-range ones),
/// sometimes a missing or malformed one.
pub fn hello() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => Just(45_000u64).prop_map(Some),
        3 => (1u64..2_000).prop_map(Some),
        1 => any::<u64>().prop_map(Some),
        1 => Just(None),
    ]
    .prop_map(|interval| match interval {
        Some(ms) => frames::hello(ms),
        None => frames::hello(r#""soon""#),
    })
}

/// READY: one of a few session ids, a small sequence number (or none).
pub fn ready() -> impl Strategy<Value = String> + Clone {
    (0u8..3, proptest::option::weighted(0.9, 0u64..64))
        .prop_map(|(n, s)| frames::ready(&format!("session-{n}"), s))
}

/// RESUMED, with `d` the empty string as QQ sends it.
pub fn resumed() -> impl Strategy<Value = String> + Clone {
    proptest::option::weighted(0.9, 0u64..64).prop_map(frames::resumed)
}

/// Names of events: every kind qqgw knows but READY and RESUMED, and unknown ones.
pub fn event_name() -> impl Strategy<Value = String> + Clone {
    let known: Vec<String> = EventKind::ALL
        .iter()
        .map(EventKind::as_str)
        .filter(|name| !matches!(*name, "READY" | "RESUMED"))
        .map(str::to_owned)
        .collect();
    prop_oneof![6 => proptest::sample::select(known), 1 => "[A-Z_]{1,16}"]
}

/// Dispatches (op 0) other than READY and RESUMED: small sequence numbers (so some are
/// replays), ids from a small set (so some are pushed twice), data an object or not.
pub fn dispatch() -> impl Strategy<Value = String> + Clone {
    let data = prop_oneof![
        Just(r#"{"id":"m1","content":"hi","author":{"id":"1"}}"#),
        Just("{}"),
        Just(r#""text""#),
        Just("[1,2]"),
    ];
    (event_name(), proptest::option::weighted(0.9, 0u64..64), proptest::option::weighted(0.8, 0u8..16), data)
        .prop_map(|(name, s, id, d)| {
            let id = id.map(|n| format!("{name}:{n}"));
            frames::dispatch(&name, s, id.as_deref(), d)
        })
}

/// The frames that are not dispatches: heartbeat ACK, heartbeat request, RECONNECT and
/// INVALID_SESSION (resumable or not).
pub fn control_frame() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => Just(frames::heartbeat_ack()),
        1 => Just(frames::heartbeat_request()),
        1 => Just(frames::reconnect()),
        1 => any::<bool>().prop_map(frames::invalid_session),
    ]
}

/// Well-formed frames QQ sends, weighted towards dispatches.
pub fn server_frame() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        2 => hello(),
        2 => ready(),
        1 => resumed(),
        6 => dispatch(),
        4 => control_frame(),
    ]
}

/// Frames no gateway should send: not JSON, JSON but not an envelope, opcodes QQ does not
/// send, dispatches without a name or data, fields of the wrong type.
pub fn junk_frame() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        "[a-z{}\\[\\]\":,0-9 ]{0,40}",
        Just(String::new()),
        Just("null".to_owned()),
        Just("[]".to_owned()),
        any::<u64>().prop_map(frames::with_op),
        (0u64..64).prop_map(|s| format!(r#"{{"op":0,"s":{s},"d":{{}}}}"#)),
        (0u64..64).prop_map(|s| format!(r#"{{"op":0,"s":{s},"t":"AT_MESSAGE_CREATE"}}"#)),
        Just(r#"{"op":0,"s":-1,"t":"X","d":{}}"#.to_owned()),
        Just(r#"{"op":"0","t":"X","d":{}}"#.to_owned()),
        Just(r#"{"op":0,"t":"X","d":{},"d":{}}"#.to_owned()),
    ]
}

/// [`server_frame`]s with a few bytes truncated, replaced, inserted or removed.
pub fn mutated_frame() -> impl Strategy<Value = String> + Clone {
    (server_frame(), proptest::collection::vec((0u8..4, any::<u16>(), any::<u8>()), 1..4)).prop_map(
        |(frame, edits)| {
            let mut bytes = frame.into_bytes();
            for (kind, at, byte) in edits {
                crate::mutate::edit(&mut bytes, kind, at, byte);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        },
    )
}

/// Any frame: mostly well-formed, some mutated, some junk.
pub fn frame() -> impl Strategy<Value = String> + Clone {
    prop_oneof![8 => server_frame(), 1 => mutated_frame(), 1 => junk_frame()]
}

/// Ticks of the clock: milliseconds, seconds, minutes and hours.
pub fn tick() -> impl Strategy<Value = Duration> + Clone {
    prop_oneof![
        2 => (0u64..100).prop_map(Duration::from_millis),
        3 => (0u64..60_000).prop_map(Duration::from_millis),
        1 => (0u64..86_400_000).prop_map(Duration::from_millis),
    ]
}

/// What the network and the clock do: frames, binary frames, closes and drops, ticks and
/// jumps to the next deadline.
pub fn server_step() -> impl Strategy<Value = Step> + Clone {
    prop_oneof![
        10 => frame().prop_map(Step::Text),
        1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Step::Binary),
        2 => proptest::option::weighted(0.8, close_frame()).prop_map(Step::Closed),
        3 => tick().prop_map(Step::Tick),
        3 => Just(Step::Wake),
    ]
}

/// What an adapter reports: connections opened or failed, tokens (some already expired
/// or about to) and token failures (some fatal).
pub fn adapter_step() -> impl Strategy<Value = Step> + Clone {
    let lifetime = prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_secs(30)),
        Just(Duration::from_secs(7_200)),
        (0u64..100_000).prop_map(Duration::from_secs),
    ];
    let failure = prop_oneof![
        3 => Just(TokenError::Unavailable("503".into())),
        1 => Just(TokenError::Rejected { code: 100_016, message: "invalid appid or secret".into() }),
    ];
    prop_oneof![
        4 => Just(Step::Connected),
        1 => Just(Step::ConnectFailed),
        3 => lifetime.prop_map(Step::Token),
        1 => failure.prop_map(Step::TokenFailed),
    ]
}

/// Any step: the network, the clock, the adapter, and now and then a graceful close.
pub fn step() -> impl Strategy<Value = Step> + Clone {
    prop_oneof![16 => server_step(), 8 => adapter_step(), 1 => Just(Step::Close)]
}

/// Sequences of [`step`]s, of a length in `len`.
pub fn steps(len: impl Into<proptest::collection::SizeRange>) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(step(), len)
}

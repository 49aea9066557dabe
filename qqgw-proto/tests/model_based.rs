//! A model-based property test: a small reference model of what the machine must do —
//! whether a session is known, its last sequence number, whether a connection is open
//! and in which phase, whether the machine has stopped, which deadline comes next — run
//! side by side with the real machine over random sequences of what the network, the
//! clock and the application do (the generators of `qqgw_proto::testing::strategy`).
//! After every step the model's predictions (accepted or refused, every frame sent,
//! every event emitted, state, session, sequence, next deadline) must match what the
//! machine did; proptest shrinks a mismatch to a short sequence.
//!
//! The machine runs under a config that makes time all but exact (no reconnect jitter, a
//! backoff of 4 ms doubling to 64 ms whose random fifth the model predicts as a range, a
//! generous identify limiter; the storm budget of instant reconnects is modelled exactly) and a driver that plays an adapter answering at once
//! (connections open, tokens arrive, closes are confirmed), checking the invariants of
//! `qqgw_proto::testing::Driver` as well.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashSet;

use core::time::Duration;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde::Deserialize;
use serde_json::value::RawValue;

use qqgw_proto::testing::strategy::{self, Step};
use qqgw_proto::testing::{Driver, DriverOptions};
use qqgw_proto::{
    Backoff, CloseFrame, Config, Event, IdentifyLimiter, Instant, Intents, Output, Reconnect,
    SessionStartLimit, State,
};

/// The backoff: 4 ms doubling to 64 ms, less up to a fifth at random.
const BACKOFF_INITIAL_MS: u64 = 4;
const BACKOFF_MAX_MS: u64 = 64;
const HANDSHAKE_MS: u64 = 30_000;
const DEFAULT_HEARTBEAT_MS: u64 = 45_000;
const MIN_HEARTBEAT_MS: u64 = 50;

/// The model's storm budget: instant reconnects, four in a row, then one per 3 s.
#[derive(Debug)]
struct Storm {
    tokens: u64,
    /// When the last token was gained, or when a borrowed one comes due.
    refilled_at: u64,
}

impl Storm {
    fn take(&mut self, now: u64) -> u64 {
        let gained = now.saturating_sub(self.refilled_at) / 3_000;
        if self.tokens + gained >= 4 {
            (self.tokens, self.refilled_at) = (4, now);
        } else if gained > 0 {
            (self.tokens, self.refilled_at) = (self.tokens + gained, self.refilled_at + gained * 3_000);
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            return 0;
        }
        self.refilled_at += 3_000;
        self.refilled_at - now
    }
}

/// An identify pacer that never makes anyone wait.
fn generous_pacer() -> IdentifyLimiter {
    let limit = SessionStartLimit {
        total: u32::MAX,
        remaining: u32::MAX,
        reset_after: u64::MAX,
        max_concurrency: 1024,
    };
    IdentifyLimiter::new(limit, Instant::ZERO)
}

fn config() -> Config {
    Config::builder("wss://model/", Intents::non_privileged())
        .reconnect_jitter(Duration::ZERO)
        .backoff(Backoff {
            initial: Duration::from_millis(BACKOFF_INITIAL_MS),
            max: Duration::from_millis(BACKOFF_MAX_MS),
        })
        .handshake_timeout(Duration::from_millis(HANDSHAKE_MS))
        .build()
        .unwrap()
}

/// What can be seen of the machine's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Obs {
    Connect,
    Identify,
    Resume {
        session: String,
        seq: u64,
    },
    Heartbeat(Option<u64>),
    Close(u16),
    Abandon,
    Dispatch(String, Option<u64>),
    DecodeFailed,
    /// The next attempt at `at`, or for a prediction anywhere in `at - jitter..=at`.
    Disconnected {
        resume: bool,
        at: u64,
        jitter: u64,
    },
    Fatal,
    Closed(Option<(String, u64)>),
    SessionLost(String, u64),
}

fn observe(output: Output) -> Option<Obs> {
    Some(match output {
        Output::Connect(_) => Obs::Connect,
        Output::Send(text) => {
            #[derive(Deserialize)]
            struct Sent {
                op: u8,
                d: serde_json::Value,
            }
            let sent: Sent = serde_json::from_str(&text).unwrap();
            match sent.op {
                1 => Obs::Heartbeat(sent.d.as_u64()),
                2 => Obs::Identify,
                6 => Obs::Resume {
                    session: sent.d["session_id"].as_str().unwrap().to_owned(),
                    seq: sent.d["seq"].as_u64().unwrap(),
                },
                op => panic!("sent op {op}: {text}"),
            }
        }
        Output::Close(frame) => Obs::Close(frame.code.0),
        Output::Abandon => Obs::Abandon,
        Output::Emit(Event::Dispatch(d)) => Obs::Dispatch(d.name().to_owned(), d.seq()),
        Output::Emit(Event::DecodeFailed(_)) => Obs::DecodeFailed,
        Output::Emit(Event::Disconnected(d)) => {
            Obs::Disconnected { resume: d.next == Reconnect::Resume, at: d.at.as_millis(), jitter: 0 }
        }
        Output::Emit(Event::Fatal(_)) => Obs::Fatal,
        Output::Emit(Event::Closed(s)) => Obs::Closed(s.map(|s| (s.id, s.seq))),
        Output::Emit(Event::SessionLost(s)) => Obs::SessionLost(s.id, s.seq),
        Output::Emit(other) => panic!("unexpected event {other:?}"),
        Output::RefreshToken | Output::Pacer(_) | Output::Sleep(_) => return None,
    })
}

/// The reference model's idea of where the machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No connection; the next attempt is due at `reconnect_at`.
    Waiting,
    AwaitingHello,
    Identifying,
    Resuming,
    Active,
    Terminated,
}

impl Phase {
    fn state(self) -> State {
        match self {
            Phase::Waiting => State::Disconnected,
            Phase::AwaitingHello => State::AwaitingHello,
            Phase::Identifying => State::Identifying,
            Phase::Resuming => State::Resuming,
            Phase::Active => State::Active,
            Phase::Terminated => State::Terminated,
        }
    }

    fn connected(self) -> bool {
        matches!(self, Phase::AwaitingHello | Phase::Identifying | Phase::Resuming | Phase::Active)
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy)]
enum Cause {
    Closed(u16),
    Dropped,
    Reconnect,
    Invalid { resumable: bool },
    Zombie,
    HandshakeTimeout,
}

/// What QQ's close-code table says to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Resume,
    Identify,
    RefreshToken,
    Fatal,
}

fn action(code: u16) -> Action {
    match code {
        4001 | 4002 | 4010..=4014 | 4914 | 4915 => Action::Fatal,
        4004 => Action::RefreshToken,
        4000 | 4008 | 4009 => Action::Resume,
        4000..=4999 => Action::Identify,
        _ => Action::Resume,
    }
}

/// The frame as the model reads it: a JSON object with a numeric `op`, and where present
/// an unsigned `s`, string `t` and `id`, and a non-null `d`.
#[derive(Deserialize)]
struct Frame<'a> {
    op: u64,
    s: Option<u64>,
    #[serde(borrow)]
    t: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    d: Option<&'a RawValue>,
}

#[derive(Debug)]
struct Model {
    now: u64,
    phase: Phase,
    session: Option<String>,
    seq: Option<u64>,
    /// The current connection was opened to RESUME.
    plan_resume: bool,
    sent_auth: bool,
    /// When READY, RESUMED or a replayed event first came on this connection.
    progress: Option<u64>,
    failures: u32,
    resume_refusals: u32,
    heartbeat_interval: u64,
    pending_ack: bool,
    heard_since_beat: bool,
    storm: Storm,
    reconnect_at: Option<u64>,
    heartbeat_at: Option<u64>,
    handshake_at: Option<u64>,
    seen_ids: HashSet<String>,
    out: Vec<Obs>,
}

impl Model {
    fn new() -> Self {
        let mut model = Model {
            now: 0,
            phase: Phase::Waiting,
            session: None,
            seq: None,
            plan_resume: false,
            sent_auth: false,
            progress: None,
            failures: 0,
            resume_refusals: 0,
            heartbeat_interval: DEFAULT_HEARTBEAT_MS,
            pending_ack: false,
            heard_since_beat: false,
            storm: Storm { tokens: 4, refilled_at: 0 },
            reconnect_at: None,
            heartbeat_at: None,
            handshake_at: None,
            seen_ids: HashSet::new(),
            out: Vec::new(),
        };
        model.begin_attempt();
        model
    }

    fn next_deadline(&self) -> Option<u64> {
        [self.reconnect_at, self.heartbeat_at, self.handshake_at].into_iter().flatten().min()
    }

    /// Applies a step; whether the machine must accept it.
    fn step(&mut self, step: &Step) -> bool {
        if self.phase == Phase::Terminated {
            if let Step::Tick(by) = step {
                self.now = self.now.saturating_add(u64::try_from(by.as_millis()).unwrap());
            }
            return matches!(step, Step::Tick(_) | Step::Wake);
        }
        match step {
            Step::Tick(by) => {
                self.now = self.now.saturating_add(u64::try_from(by.as_millis()).unwrap());
                self.fire_timers();
            }
            Step::Wake => {
                if let Some(at) = self.next_deadline() {
                    self.now = at;
                    self.fire_timers();
                }
            }
            Step::Close => {
                if self.phase.connected() {
                    self.out.push(Obs::Close(4000));
                }
                self.finish_graceful();
            }
            Step::Closed(frame) if self.phase.connected() => {
                let cause =
                    frame.as_ref().map_or(Cause::Dropped, |f: &CloseFrame<'_>| Cause::Closed(f.code.0));
                self.connection_ended(cause);
                self.fire_timers();
            }
            Step::Text(text) if self.phase.connected() => {
                self.on_text(text);
                self.fire_timers();
            }
            Step::Binary(bytes) if self.phase.connected() => {
                match core::str::from_utf8(bytes) {
                    Ok(text) => self.on_text(text),
                    Err(_) => self.out.push(Obs::DecodeFailed),
                }
                self.fire_timers();
            }
            // Frames and closes with no connection; the adapter's own reports, which the
            // driver makes at once, are never due when a step comes.
            _ => return false,
        }
        true
    }

    fn begin_attempt(&mut self) {
        self.reconnect_at = None;
        self.plan_resume = self.session.is_some();
        self.sent_auth = false;
        self.progress = None;
        self.pending_ack = false;
        self.out.push(Obs::Connect);
        // The adapter reports the connection open at once.
        self.phase = Phase::AwaitingHello;
        self.handshake_at = Some(self.now + HANDSHAKE_MS);
    }

    fn on_text(&mut self, text: &str) {
        self.heard_since_beat = true;
        let is_object = text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{');
        let frame = match serde_json::from_str::<Frame<'_>>(text) {
            Ok(frame) if is_object => frame,
            _ => return self.out.push(Obs::DecodeFailed),
        };
        match frame.op {
            0 if self.phase == Phase::AwaitingHello => self.out.push(Obs::DecodeFailed),
            0 => self.on_dispatch(&frame),
            1 if self.phase != Phase::AwaitingHello => {
                self.send_heartbeat();
                self.heartbeat_at = Some(self.now + self.heartbeat_interval);
            }
            1 => {}
            7 => self.start_close(4000, Cause::Reconnect),
            9 => {
                let resumable = frame.d.is_some_and(|d| d.get() == "true");
                self.start_close(if resumable { 4000 } else { 1000 }, Cause::Invalid { resumable });
            }
            10 => self.on_hello(frame.d),
            11 => self.pending_ack = false,
            _ => self.out.push(Obs::DecodeFailed),
        }
    }

    fn on_hello(&mut self, d: Option<&RawValue>) {
        if self.phase != Phase::AwaitingHello {
            return self.out.push(Obs::DecodeFailed);
        }
        #[derive(Deserialize)]
        struct Hello {
            heartbeat_interval: u64,
        }
        let interval =
            d.and_then(|d| serde_json::from_str::<Hello>(d.get()).ok()).map(|h| h.heartbeat_interval);
        self.heartbeat_interval = match interval {
            Some(ms) if ms > 0 => ms.clamp(MIN_HEARTBEAT_MS, 600_000),
            _ => {
                self.out.push(Obs::DecodeFailed);
                DEFAULT_HEARTBEAT_MS
            }
        };
        self.heartbeat_at = Some(self.now + self.heartbeat_interval);
        match (&self.session, self.plan_resume) {
            (Some(session), true) => {
                self.out.push(Obs::Resume { session: session.clone(), seq: self.seq.unwrap_or(0) });
                self.phase = Phase::Resuming;
            }
            _ => {
                self.forget_session();
                self.plan_resume = false;
                self.out.push(Obs::Identify);
                self.phase = Phase::Identifying;
            }
        }
        self.sent_auth = true;
    }

    fn on_dispatch(&mut self, frame: &Frame<'_>) {
        let (Some(name), Some(d)) = (frame.t.as_deref(), frame.d) else {
            // QQ counts a dispatch as delivered even when it cannot be used.
            if let Some(s) = frame.s {
                self.note_seq(s, false);
            }
            return self.out.push(Obs::DecodeFailed);
        };
        if self.phase == Phase::Resuming {
            self.on_progress();
        }
        match name {
            "READY" => {
                #[derive(Deserialize)]
                struct Ready {
                    session_id: String,
                }
                self.session = serde_json::from_str::<Ready>(d.get()).ok().map(|r| r.session_id);
                if self.session.is_none() {
                    self.out.push(Obs::DecodeFailed);
                }
                self.seq = None;
                self.on_authenticated();
                if let Some(s) = frame.s {
                    self.note_seq(s, true);
                }
                self.deliver(name, frame.s);
            }
            "RESUMED" => {
                self.on_authenticated();
                if let Some(s) = frame.s {
                    if self.seq.is_none_or(|last| s > last) {
                        self.note_seq(s, true);
                    }
                }
                self.deliver(name, frame.s);
            }
            _ => {
                let old = matches!((frame.s, self.seq), (Some(s), Some(last)) if s <= last);
                let seen = match frame.id.as_deref() {
                    Some(id) => !self.seen_ids.insert(id.to_owned()),
                    None => old,
                };
                if seen {
                    if let (false, Some(s)) = (old, frame.s) {
                        self.note_seq(s, false); // pushed twice
                    }
                    return;
                }
                if let Some(s) = frame.s {
                    self.note_seq(s, true);
                }
                self.deliver(name, frame.s);
            }
        }
    }

    fn deliver(&mut self, name: &str, s: Option<u64>) {
        self.out.push(Obs::Dispatch(name.to_owned(), s));
    }

    /// One step after the last, at most 2^20; from none, 1 to 2^20.
    fn note_seq(&mut self, s: u64, report: bool) {
        let plausible = match self.seq {
            Some(last) => s > last && s - last <= 1 << 20,
            None => (1..=1 << 20).contains(&s),
        };
        if plausible {
            self.seq = Some(s);
        } else if report {
            self.out.push(Obs::DecodeFailed);
        }
    }

    fn on_authenticated(&mut self) {
        self.phase = Phase::Active;
        self.on_progress();
    }

    fn on_progress(&mut self) {
        if self.progress.is_none() {
            self.progress = Some(self.now);
            self.failures = 0;
            self.resume_refusals = 0;
            self.handshake_at = None;
        }
    }

    fn send_heartbeat(&mut self) {
        self.out.push(Obs::Heartbeat(self.seq));
        self.pending_ack = true;
        self.heard_since_beat = false;
    }

    fn forget_session(&mut self) {
        if let Some(id) = self.session.take() {
            self.out.push(Obs::SessionLost(id, self.seq.unwrap_or(0)));
        }
        self.session = None;
        self.seq = None;
        self.resume_refusals = 0;
    }

    /// The machine closes, and the adapter confirms at once.
    fn start_close(&mut self, code: u16, cause: Cause) {
        self.out.push(Obs::Close(code));
        self.connection_ended(cause);
    }

    /// The machine drops the socket; nothing to confirm.
    fn abandon(&mut self, cause: Cause) {
        self.out.push(Obs::Abandon);
        self.connection_ended(cause);
    }

    fn connection_ended(&mut self, cause: Cause) {
        self.heartbeat_at = None;
        self.handshake_at = None;
        self.pending_ack = false;
        let resumed = self.plan_resume && self.sent_auth;
        let unseen = self.identify_unanswered();
        self.sent_auth = false;
        let mut forget = false;
        let mut refused = false;
        let mut rate_limited = false;
        match cause {
            Cause::Closed(code) => {
                match action(code) {
                    Action::Fatal => return self.stop(Obs::Fatal),
                    Action::Identify => forget = true,
                    Action::Resume | Action::RefreshToken => {}
                }
                rate_limited = code == 4008;
            }
            Cause::Invalid { resumable } => {
                forget = !resumable;
                refused = resumed && self.progress.is_none();
            }
            Cause::HandshakeTimeout => refused = resumed && self.progress.is_none(),
            Cause::Reconnect | Cause::Dropped | Cause::Zombie => {}
        }
        let answered = matches!(cause, Cause::Invalid { .. });
        if unseen && !answered {
            self.out.push(Obs::SessionLost(String::new(), 0));
        }
        let immediate = (self.progress.is_some() || answered) && !rate_limited;
        if refused {
            self.resume_refusals += 1;
            forget |= self.resume_refusals >= 2;
        }
        if forget {
            self.forget_session();
        }
        let (delay, jitter) = if immediate {
            // A connection that lived 2 s past its progress is no flap.
            match self.progress {
                Some(at) if self.now - at >= 2_000 => (0, 0),
                _ => (self.storm.take(self.now), 0),
            }
        } else {
            self.failures += 1;
            let nominal = (BACKOFF_INITIAL_MS << (self.failures - 1).min(20)).min(BACKOFF_MAX_MS);
            (nominal, nominal / 5)
        };
        let at = self.now + delay;
        // The check replaces `reconnect_at` with the instant the machine drew.
        self.out.push(Obs::Disconnected { resume: self.session.is_some(), at, jitter });
        self.phase = Phase::Waiting;
        if delay == 0 {
            self.begin_attempt();
        } else {
            self.reconnect_at = Some(at);
        }
    }

    /// An IDENTIFY went out on this connection and no READY came back: QQ may have
    /// started a session never seen.
    fn identify_unanswered(&self) -> bool {
        !self.plan_resume && self.sent_auth && self.progress.is_none()
    }

    fn finish_graceful(&mut self) {
        if self.identify_unanswered() {
            self.out.push(Obs::SessionLost(String::new(), 0));
        }
        let session = self.session.clone().map(|id| (id, self.seq.unwrap_or(0)));
        self.stop(Obs::Closed(session));
    }

    fn stop(&mut self, last: Obs) {
        self.reconnect_at = None;
        self.heartbeat_at = None;
        self.handshake_at = None;
        self.out.push(last);
        self.phase = Phase::Terminated;
    }

    /// Fires every timer due at now, earliest first (ties: reconnect, heartbeat,
    /// handshake), all at now.
    fn fire_timers(&mut self) {
        loop {
            let due = [(0, self.reconnect_at), (1, self.heartbeat_at), (2, self.handshake_at)]
                .into_iter()
                .filter_map(|(timer, at)| at.map(|at| (at, timer)))
                .min();
            let Some((at, timer)) = due else { return };
            if at > self.now {
                return;
            }
            match timer {
                0 => self.begin_attempt(),
                1 if self.pending_ack && !self.heard_since_beat => {
                    self.heartbeat_at = None;
                    self.abandon(Cause::Zombie);
                }
                1 => {
                    self.send_heartbeat();
                    self.heartbeat_at = Some(self.now + self.heartbeat_interval);
                }
                _ => {
                    self.handshake_at = None;
                    self.abandon(Cause::HandshakeTimeout);
                }
            }
        }
    }
}

/// A step of the test: one of the published steps, or the answer a well-behaved QQ owes
/// (HELLO, READY, RESUMED, ACK), to reach the deeper states often.
#[derive(Debug, Clone)]
enum Transition {
    Step(Step),
    Reply,
}

fn transition() -> impl Strategy<Value = Transition> {
    prop_oneof![
        12 => strategy::server_step().prop_map(Transition::Step),
        6 => Just(Transition::Reply),
        1 => Just(Transition::Step(Step::Close)),
    ]
}

fn apply(driver: &mut Driver, step: &Step) -> bool {
    let now = driver.now();
    match step {
        Step::Tick(by) => {
            driver.tick(*by);
            true
        }
        Step::Wake => {
            driver.wake();
            true
        }
        Step::Close => driver.close().is_ok(),
        step => driver.input(step.input(now).unwrap()).is_ok(),
    }
}

fn check(driver: &mut Driver, model: &mut Model, what: &dyn core::fmt::Debug) -> Result<(), TestCaseError> {
    let seen: Vec<Obs> = driver.take_log().into_iter().filter_map(observe).collect();
    let mut predicted = core::mem::take(&mut model.out);
    // The backoff's jitter is drawn from the machine's generator: the model predicts its
    // range, then takes the machine's draw.
    for (seen, predicted) in seen.iter().zip(predicted.iter_mut()) {
        if let (Obs::Disconnected { at: drawn, .. }, Obs::Disconnected { at, jitter, .. }) =
            (seen, &mut *predicted)
        {
            prop_assert!((*at - *jitter..=*at).contains(drawn), "{seen:?} for {predicted:?} after {what:?}");
            if model.reconnect_at == Some(*at) {
                model.reconnect_at = Some(*drawn);
            }
            (*at, *jitter) = (*drawn, 0);
        }
    }
    prop_assert_eq!(seen, predicted, "outputs after {:?}", what);
    let m = &driver.machine;
    prop_assert_eq!(m.state(), model.phase.state(), "state after {:?}", what);
    prop_assert_eq!(m.session_id(), model.session.as_deref(), "session after {:?}", what);
    prop_assert_eq!(m.last_sequence(), model.seq, "seq after {:?}", what);
    prop_assert_eq!(
        m.poll_timeout().map(Instant::as_millis),
        model.next_deadline(),
        "deadline after {:?}",
        what
    );
    prop_assert_eq!(driver.now().as_millis(), model.now);
    prop_assert_eq!(m.can_reconnect(), model.phase != Phase::Terminated);
    Ok(())
}

fn run(transitions: &[Transition]) -> Result<(), TestCaseError> {
    let options = DriverOptions { auto: true, defer_close: false, liveness: true };
    let mut driver = Driver::with_pacer(config(), Instant::ZERO, options, generous_pacer());
    let mut model = Model::new();
    check(&mut driver, &mut model, &"start")?;
    for transition in transitions {
        let step = match transition {
            Transition::Step(step) => step.clone(),
            Transition::Reply => match driver.pop_reply() {
                Some(text) => Step::Text(text),
                None => continue,
            },
        };
        let predicted = model.step(&step);
        let accepted = apply(&mut driver, &step);
        prop_assert_eq!(accepted, predicted, "accepted {:?}", step);
        check(&mut driver, &mut model, &step)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_machine_does_what_the_model_says(transitions in proptest::collection::vec(transition(), 1..150)) {
        run(&transitions)?;
    }
}

/// The model itself reaches the states it is meant to compare (a guard against a test
/// that passes because it never gets anywhere).
#[test]
fn the_model_test_reaches_every_phase() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut phases = HashSet::new();
    let mut resumes = 0;
    for _ in 0..200 {
        let transitions =
            proptest::collection::vec(transition(), 50..100).new_tree(&mut runner).unwrap().current();
        let mut model = Model::new();
        let mut replies = Driver::with_pacer(
            config(),
            Instant::ZERO,
            DriverOptions { auto: true, ..DriverOptions::default() },
            generous_pacer(),
        );
        for t in &transitions {
            let step = match t {
                Transition::Step(step) => step.clone(),
                Transition::Reply => match replies.pop_reply() {
                    Some(text) => Step::Text(text),
                    None => continue,
                },
            };
            model.step(&step);
            apply(&mut replies, &step);
            resumes += model.out.iter().filter(|o| matches!(o, Obs::Resume { .. })).count();
            model.out.clear();
            replies.take_log();
            phases.insert(model.phase.state());
        }
    }
    for state in [
        State::Disconnected,
        State::AwaitingHello,
        State::Identifying,
        State::Resuming,
        State::Active,
        State::Terminated,
    ] {
        assert!(phases.contains(&state), "never reached {state:?}: {phases:?}");
    }
    assert!(resumes > 10, "only {resumes} RESUMEs");
}

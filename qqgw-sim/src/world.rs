//! The run: a discrete-event scheduler on a virtual clock, each shard's adapter (the
//! machine and the shard task's sans-IO policy), the consumer, the session store, the
//! fault schedule — and the checks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;

use core::time::Duration;
use qqgw_client::policy::{ReadGate, SaveSchedule, TokenCache};
use qqgw_client::{DEFAULT_EVENT_BUFFER, DEFAULT_HANDLER_CONCURRENCY, DEFAULT_SHUTDOWN_TIMEOUT};
use qqgw_fake::{ConnId, Note, PacingKind, Qq, QqConfig, Refusal, ResumeRefusal, Target, TokenOutcome};
use qqgw_proto::{
    Ack, Backoff, CloseAction, CloseCode, CloseFrame, Config, DisconnectCause, Event, GatewayMachine,
    IDENTIFY_WINDOW, IdentifyLimiter, Input, Instant, Intents, MAX_SEQ_STEP, OpCode, Output, PacerAnswer,
    STORM_BURST, STORM_REFILL, Session, ShardId, State, TokenError,
};

use crate::config::{MINUTE, SimConfig};
use crate::ledger::{Breach, Ledger};
use crate::net::{Msg, Net};
use crate::rng::Rng;
use crate::summary::Summary;

/// The most outputs one drain may take.
const MAX_OUTPUTS_PER_DRAIN: usize = 100_000;
/// No faults, restarts or new traffic in the last part of a run, so that every event
/// generated can be handled before the end.
const QUIET: Duration = Duration::from_secs(20 * 60);
/// The largest burst of events at once.
const MAX_BURST: u64 = 2_000;
/// How many steps the failure report shows.
const TRACE: usize = 48;
/// How many steps of each shard the failure report shows.
const SHARD_TRACE: usize = 12;
/// The event every shard's traffic is made of.
const EVENT: &str = "AT_MESSAGE_CREATE";

/// Something the scheduler does at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ev {
    /// A shard's adapter wakes: a timer of its machine, or a save, is due.
    Wake(usize),
    /// QQ generates the next event of a shard.
    Traffic(usize),
    /// Frames of a connection may be read.
    Pump(ConnId),
    /// A connection attempt ends.
    Connected {
        shard: usize,
        epoch: u64,
        attempt: u64,
    },
    /// The token endpoint answers.
    TokenReply {
        shard: usize,
        epoch: u64,
        attempt: u64,
    },
    /// The consumer finished the event at the front of its queue.
    Handled {
        shard: usize,
        epoch: u64,
    },
    /// QQ rotates the session of a connection.
    Rotate(ConnId),
    Fault(usize, Fault),
    TokenOutage,
    TokenRateLimit,
    Restart,
    /// The process stops now: gracefully, or by a crash.
    Stop {
        graceful: bool,
    },
    /// A graceful shutdown must have ended by now.
    ShutdownCheck(u64),
    ProcessStart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    Zombie,
    Drop,
    RefuseResume,
    Junk,
    Close,
    Implausible,
    Slow,
    Burst,
    Flap,
}

/// The discrete-event queue on the virtual clock.
#[derive(Debug, Default)]
pub(crate) struct Sched {
    pub(crate) now: Instant,
    order: u64,
    heap: BinaryHeap<Reverse<(Instant, u64, Ev)>>,
}

impl Sched {
    pub(crate) fn at(&mut self, at: Instant, ev: Ev) {
        self.order += 1;
        self.heap.push(Reverse((at.max(self.now), self.order, ev)));
    }

    fn after(&mut self, delay: Duration, ev: Ev) {
        self.at(self.now + delay, ev);
    }
}

/// An event waiting for the consumer: its place in the ledger, and its receipt.
#[derive(Debug)]
struct Item {
    key: Option<(u32, u64)>,
    ack: Option<Ack>,
}

#[derive(Debug, Clone, Copy)]
struct Down {
    since: Instant,
    disturbed: bool,
}

/// QQ's counts of what it did, from its notes.
#[derive(Debug, Default, Clone)]
struct QqStats {
    identifies: u64,
    resumes: u64,
    resumes_refused: u64,
    resumable_op9: u64,
    flaps: u64,
    resumes_expired: u64,
    resumes_too_old: u64,
    tokens_issued: u64,
    replayed: u64,
    /// IDENTIFYs over `max_concurrency` whose window held one of an earlier process: a
    /// restarted process cannot know of it (its pacer starts from `/gateway/bot`).
    pacing_across_restart: u64,
}

/// One shard's adapter: the machine and what `qqgw-client`'s shard task keeps beside it.
#[derive(Debug, Default)]
struct Bot {
    machine: Option<GatewayMachine>,
    deadline: Option<Instant>,
    /// The socket held: open, or closing.
    conn: Option<ConnId>,
    attempt: u64,
    pending_connect: Option<u64>,
    pending_token: Option<u64>,
    token_fetched: Option<Instant>,
    /// Events handed to the consumer (its buffer, and the one being handled).
    queue: VecDeque<Item>,
    busy: bool,
    /// When reading pauses for the consumer: the client's, with its defaults.
    gate: ReadGate,
    /// When the session is saved: the client's.
    schedule: SaveSchedule,
    save_due: Option<Instant>,
    /// Whether the adapter reads the socket now (the gate's last word).
    reading: bool,
    /// A stopped machine waits for its consumer until then.
    finishing: Option<Instant>,
    slow_until: Instant,
    active: bool,
    down: Option<Down>,
    /// Connection attempts of the last minute, and whether each was an instant reconnect.
    connects: VecDeque<(Instant, bool)>,
    /// The next attempt is an instant reconnect.
    next_is_instant: bool,
    /// The last `now` the machine was told (a receipt tells none: `Input::Handled` is
    /// taken in any state and fires no timer).
    told: Instant,
    /// The wake-up in the scheduler.
    armed: Option<Instant>,
    /// The pacer deferred an IDENTIFY for the daily budget since the last recovery.
    waits_for_budget: bool,
}

impl Bot {
    fn wake(&self) -> Option<Instant> {
        self.machine.as_ref()?;
        let min = |a: Option<Instant>, b: Option<Instant>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        min(min(self.deadline, self.save_due), self.finishing)
    }
}

/// A session QQ started, as the simulation numbers them.
#[derive(Debug, Clone, Copy)]
struct Started {
    shard: usize,
    created: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Step {
    at: Instant,
    shard: usize,
    what: &'static str,
    detail: u64,
}

struct World {
    cfg: SimConfig,
    sched: Sched,
    rng: Rng,
    /// QQ's model, and the network to it.
    net: Net,
    /// The sessions QQ started, numbered in order; by QQ's session id.
    sessions: Vec<Started>,
    session_index: HashMap<String, u32>,
    /// When each IDENTIFY QQ accepted arrived, and the process that sent it.
    identify_log: VecDeque<(Instant, u64)>,
    /// Until when each shard flaps.
    flap_until: Vec<Instant>,
    /// QQ's counts of what it did.
    stats: QqStats,
    bots: Vec<Bot>,
    /// The session store: all that survives a restart.
    store: Vec<Option<Session>>,
    epoch: u64,
    up: bool,
    /// A graceful shutdown is under way.
    stopping: bool,
    limiter: IdentifyLimiter,
    token_cache: TokenCache,
    outage_until: Instant,
    rate_limited_until: Instant,
    ledger: Ledger,
    summary: Summary,
    trace: VecDeque<Step>,
    shard_trace: Vec<VecDeque<Step>>,
    quiet_at: Instant,
    end: Instant,
}

/// Runs the simulation `config` describes and checks, as it goes and at the end:
///
/// - every event QQ generated was handled at least once, or lies inside a gap reported
///   with `Event::SessionLost` (one with no id for a session whose READY never reached
///   the machine), or belongs to such a session of a process that crashed before it could
///   report it (counted in [`Summary::lost_unseen`]); exactly once, except for events handled after the
///   session store's last save before a crash (at most once more per crash);
/// - QQ saw no IDENTIFY beyond `max_concurrency` per [`IDENTIFY_WINDOW`] (within one
///   process: a restarted one cannot know its predecessor's) nor past the daily
///   `remaining`, no RESUME past its sequence numbers, no expired token, no frame it
///   could not read;
/// - no shard connected more than `1 + STORM_BURST + 60 s / STORM_REFILL` times in any
///   60 s (the storm budget);
/// - every undisturbed recovery took at most the bound in [`Summary::recovery_bound`];
/// - no `Event::Fatal`, no input refused, every `Sleep` later than now, every drain
///   finite, the consumer's queue and the machine's unacknowledged events bounded by
///   the read pause, and every shard ready at the end.
///
/// # Panics
///
/// On a breach, with the seed, the command that replays it, and the last steps.
#[must_use]
pub fn run(config: &SimConfig) -> Summary {
    let mut world = World::new(config.clone());
    world.run();
    world.summary
}

fn between(rng: &mut Rng, lo: Duration, hi: Duration) -> Duration {
    let (lo, hi) = (lo.as_millis() as u64, hi.as_millis() as u64);
    Duration::from_millis(lo + rng.up_to(hi.saturating_sub(lo)))
}

/// Exponentially distributed with this mean.
fn exp(rng: &mut Rng, mean: Duration) -> Duration {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let x = -(1.0 - u).ln() * mean.as_secs_f64();
    Duration::from_millis((x * 1000.0).min(1e15) as u64 + 1)
}

fn chance(rng: &mut Rng, permille: u64) -> bool {
    rng.up_to(999) < permille
}

fn cause_name(cause: &DisconnectCause) -> &'static str {
    match cause {
        DisconnectCause::Closed(frame) if frame.code.is_rotation() => "close 4009",
        DisconnectCause::Closed(frame) => match frame.code.action() {
            CloseAction::Identify => "close (identify)",
            CloseAction::RefreshToken => "close (token)",
            _ if frame.code.is_rate_limit() => "close 4008",
            _ => "close (resume)",
        },
        DisconnectCause::Dropped => "dropped",
        DisconnectCause::ConnectFailed => "connect failed",
        DisconnectCause::ReconnectRequested => "op 7",
        DisconnectCause::InvalidSession { resumable: true } => "op 9 true",
        DisconnectCause::InvalidSession { resumable: false } => "op 9 false",
        DisconnectCause::Zombie => "zombie",
        DisconnectCause::HandshakeTimeout => "handshake timeout",
        DisconnectCause::TokenUnavailable(_) => "no token",
        _ => "other",
    }
}

impl World {
    fn new(cfg: SimConfig) -> Self {
        let now = Instant::ZERO;
        let shards = cfg.shards.max(1) as usize;
        let end = now + cfg.duration;
        let quiet_at = now + cfg.duration.saturating_sub(QUIET);
        let maxc = u64::from(cfg.qq.session_start_limit.max_concurrency.max(1));
        let waves = (shards as u64).div_ceil(maxc) + 1;
        let recovery_bound =
            IDENTIFY_WINDOW * waves as u32 + STORM_REFILL * STORM_BURST + Backoff::default().max;
        let summary = Summary {
            seed: cfg.seed,
            shards: shards as u32,
            simulated: cfg.duration,
            recovery_bound,
            ..Summary::default()
        };
        let qq = QqConfig { shards: shards as u32, ..cfg.qq.clone() };
        Self {
            sched: Sched::default(),
            rng: Rng::new(cfg.seed),
            net: Net::new(Qq::new(qq, cfg.seed, now)),
            sessions: Vec::new(),
            session_index: HashMap::new(),
            identify_log: VecDeque::new(),
            flap_until: vec![now; shards],
            stats: QqStats::default(),
            bots: (0..shards).map(|_| Bot::default()).collect(),
            store: vec![None; shards],
            epoch: 0,
            up: false,
            stopping: false,
            limiter: IdentifyLimiter::new(cfg.qq.session_start_limit, now),
            token_cache: TokenCache::default(),
            outage_until: now,
            rate_limited_until: now,
            ledger: Ledger::default(),
            summary,
            trace: VecDeque::with_capacity(TRACE),
            shard_trace: vec![VecDeque::with_capacity(SHARD_TRACE); shards],
            quiet_at,
            end,
            cfg,
        }
    }

    fn now(&self) -> Instant {
        self.sched.now
    }

    fn note(&mut self, shard: usize, what: &'static str, detail: u64) {
        if self.trace.len() == TRACE {
            self.trace.pop_front();
        }
        let step = Step { at: self.now(), shard, what, detail };
        self.trace.push_back(step);
        if let Some(mine) = self.shard_trace.get_mut(shard) {
            if mine.len() == SHARD_TRACE {
                mine.pop_front();
            }
            mine.push_back(step);
        }
    }

    fn fault(&mut self, kind: &'static str) {
        *self.summary.faults.entry(kind).or_insert(0) += 1;
    }

    #[allow(clippy::panic)]
    fn fail(&self, what: impl fmt::Display) -> ! {
        let mut trace = String::new();
        for step in &self.trace {
            trace.push_str(&format!("  {} shard {} {} {}\n", step.at, step.shard, step.what, step.detail));
        }
        for (i, steps) in self.shard_trace.iter().enumerate() {
            trace.push_str(&format!("shard {i}'s last steps:\n"));
            for step in steps {
                trace.push_str(&format!("  {} {} {}\n", step.at, step.what, step.detail));
            }
        }
        panic!(
            "simulation failed (seed {seed}) at {now}: {what}\nreplay: {replay}\nlast steps:\n{trace}",
            seed = self.cfg.seed,
            now = self.now(),
            replay = self.cfg.replay_command(),
        );
    }

    // ----- the run -----

    fn run(&mut self) {
        let shards = self.bots.len();
        let f = self.cfg.faults.clone();
        for shard in 0..shards {
            let gap = exp(&mut self.rng, self.cfg.event_every);
            self.sched.after(gap, Ev::Traffic(shard));
            for (fault, every) in [
                (Fault::Zombie, f.zombie),
                (Fault::Drop, f.drop),
                (Fault::RefuseResume, f.refuse_resume),
                (Fault::Junk, f.junk),
                (Fault::Close, f.close),
                (Fault::Implausible, f.implausible_seq),
                (Fault::Slow, f.slow_consumer),
                (Fault::Burst, f.burst),
                (Fault::Flap, f.flapping),
            ] {
                if let Some(every) = every {
                    let at = exp(&mut self.rng, every);
                    self.sched.after(at, Ev::Fault(shard, fault));
                }
            }
        }
        for (ev, every) in [
            (Ev::TokenOutage, f.token_outage),
            (Ev::TokenRateLimit, f.token_rate_limit),
            (Ev::Restart, f.restart),
        ] {
            if let Some(every) = every {
                let at = exp(&mut self.rng, every);
                self.sched.after(at, ev);
            }
        }
        self.start_process();
        while let Some(Reverse((at, _, ev))) = self.sched.heap.pop() {
            if at > self.end {
                break;
            }
            if at < self.now() {
                self.fail(format!("time went back to {at}"));
            }
            self.sched.now = at;
            match ev {
                Ev::Wake(i) if self.bots[i].armed == Some(at) => {
                    self.bots[i].armed = None;
                    self.summary.steps += 1;
                    self.bot_wake(i);
                }
                Ev::Wake(_) => {} // re-armed since
                ev => {
                    self.summary.steps += 1;
                    self.handle(ev);
                }
            }
            self.read_notes();
        }
        self.sched.now = self.end;
        self.finish();
    }

    fn finish(&mut self) {
        let closing = self.ledger.close();
        if closing.silently_lost > 0 {
            let (s, seq) = closing.first_silent.unwrap_or_default();
            let started = self.sessions.get(s as usize).copied();
            let (shard, created) = started.map_or((0, Instant::ZERO), |x| (x.shard, x.created));
            let last = self.net.qq.last_seq(shard as u32);
            self.fail(format!(
                "{} events were never handled and no gap covers them (the first: session S{s} of shard {shard}, READY at {created}, seq {seq}, QQ's live session at {last:?})",
                closing.silently_lost,
            ));
        }
        for (i, bot) in self.bots.iter().enumerate() {
            let state = bot.machine.as_ref().map(GatewayMachine::state);
            if self.up && state != Some(State::Active) && !bot.waits_for_budget {
                self.fail(format!("shard {i} is not ready at the end: {state:?}"));
            }
        }
        if self.summary.duplicates > self.summary.duplicate_bound {
            self.fail("more duplicates than the crashes explain");
        }
        let s = &mut self.summary;
        s.events_generated = self.ledger.generated;
        s.events_handled = self.ledger.handled;
        s.duplicates = self.ledger.duplicates;
        s.lost_in_gaps = closing.lost_in_gaps;
        s.lost_unseen = closing.lost_unseen;
        let stats = &self.stats;
        s.identifies = stats.identifies;
        s.resumes = stats.resumes;
        s.replayed = stats.replayed;
        s.tokens.0 = stats.tokens_issued;
        s.pacing_across_restart = stats.pacing_across_restart;
        s.expired_tokens = self.net.auth_failures;
        s.max_queues.0 = self.net.max_queue;
        s.recoveries.sort();
        for (kind, n) in [
            ("refused resume", stats.resumes_refused),
            ("op 9 true to a resume", stats.resumable_op9),
            ("closed right after READY/RESUMED", stats.flaps),
            ("expired session", stats.resumes_expired),
            ("replay buffer exceeded", stats.resumes_too_old),
        ] {
            if n > 0 {
                s.faults.insert(kind, n);
            }
        }
        let replay_capacity = self.net.qq.config().replay_capacity as u64;
        if self.net.max_queue as u64 > replay_capacity + 4 * MAX_BURST {
            self.fail(format!("a connection queued {} frames", self.net.max_queue));
        }
    }

    fn handle(&mut self, ev: Ev) {
        let quiet = self.now() >= self.quiet_at;
        match ev {
            Ev::Traffic(shard) => {
                if !quiet {
                    self.generate(shard);
                    let gap = exp(&mut self.rng, self.cfg.event_every);
                    self.sched.after(gap, Ev::Traffic(shard));
                }
            }
            Ev::Pump(id) => self.pump(id),
            Ev::Connected { shard, epoch, attempt } => self.connected(shard, epoch, attempt),
            Ev::TokenReply { shard, epoch, attempt } => self.token_reply(shard, epoch, attempt),
            Ev::Handled { shard, epoch } => {
                if epoch == self.epoch {
                    self.consumer_done(shard);
                }
            }
            Ev::Rotate(id) => {
                if !quiet && self.rotate(id) {
                    let shard = self.net.links.get(&id).map_or(0, |l| l.shard);
                    self.note(shard, "rotate", id as u64);
                    self.fault("rotation");
                }
            }
            Ev::Fault(shard, fault) => {
                if !quiet {
                    self.inject(shard, fault);
                }
            }
            Ev::TokenOutage | Ev::TokenRateLimit => {
                if !quiet {
                    self.token_trouble(ev);
                }
            }
            Ev::Restart => {
                if !quiet {
                    let graceful = self.rng.up_to(1) == 0;
                    if self.rng.up_to(1) == 0 {
                        // Under load: events in flight everywhere when the process stops.
                        for shard in 0..self.bots.len() {
                            for _ in 0..50 + self.rng.up_to(250) {
                                self.generate(shard);
                            }
                        }
                        let delay = Duration::from_millis(self.rng.up_to(1_500));
                        self.sched.after(delay, Ev::Stop { graceful });
                    } else {
                        self.stop(graceful);
                    }
                    if let Some(every) = self.cfg.faults.restart {
                        let at = exp(&mut self.rng, every);
                        self.sched.after(at, Ev::Restart);
                    }
                }
            }
            Ev::Stop { graceful } => self.stop(graceful),
            Ev::ShutdownCheck(epoch) => {
                if epoch == self.epoch && self.bots.iter().any(|b| b.machine.is_some()) {
                    self.fail("a graceful shutdown did not end within 60 s");
                }
            }
            Ev::ProcessStart => self.start_process(),
            Ev::Wake(_) => {}
        }
    }

    /// QQ generates the next event of `shard`'s live session, with an id that names the
    /// session (as this simulation numbers them) and its sequence number.
    fn generate(&mut self, shard: usize) {
        let qq = &self.net.qq;
        let Some(s) = qq.session_id(shard as u32).and_then(|id| self.session_index.get(id).copied()) else {
            return;
        };
        let seq = qq.last_seq(shard as u32).unwrap_or(0) + 1;
        let id = event_id(s, seq);
        match self.net.qq.dispatch(shard as u32, EVENT, Some(&id), r#"{"content":"hi"}"#) {
            Some(sent) if sent.seq == seq => self.ledger.generated(s, seq),
            Some(sent) => self.fail(format!("QQ numbered event {id} {}", sent.seq)),
            None => self.fail(format!("QQ did not send event {id}")),
        }
        self.net.carry_out(&mut self.sched);
    }

    /// QQ rotates the session of connection `id`: op 7, or a close with 4009. Whether it
    /// still serves a session.
    fn rotate(&mut self, id: ConnId) -> bool {
        if !self.net.is_open(id) || self.net.qq.shard_of(id).is_none() {
            return false;
        }
        if self.rng.up_to(1) == 0 {
            self.net.qq.reconnect(Target::Conn(id));
        } else {
            self.net.qq.close(Target::Conn(id), CloseCode::SESSION_TIMED_OUT);
        }
        self.net.carry_out(&mut self.sched);
        true
    }

    // ----- faults -----

    fn inject(&mut self, shard: usize, fault: Fault) {
        let f = &self.cfg.faults;
        let every = match fault {
            Fault::Zombie => f.zombie,
            Fault::Drop => f.drop,
            Fault::RefuseResume => f.refuse_resume,
            Fault::Junk => f.junk,
            Fault::Close => f.close,
            Fault::Implausible => f.implausible_seq,
            Fault::Slow => f.slow_consumer,
            Fault::Burst => f.burst,
            Fault::Flap => f.flapping,
        };
        if let Some(every) = every {
            let at = exp(&mut self.rng, every);
            self.sched.after(at, Ev::Fault(shard, fault));
        }
        let conn = self.bots[shard].conn;
        let now = self.now();
        let done = match (fault, conn) {
            (Fault::Zombie, Some(id)) => (self.net.qq.silence(now, Target::Conn(id)) > 0).then_some("zombie"),
            (Fault::Drop, Some(id)) => {
                (self.net.qq.drop_connection(Target::Conn(id)) > 0).then_some("tcp drop")
            }
            (Fault::RefuseResume, _) => {
                // The next RESUME: one in five told to come again (op 9 true), the rest
                // refused for good.
                let refusal = match self.rng.up_to(4) {
                    4 => Refusal::InvalidSession { resumable: true },
                    0 => Refusal::InvalidSession { resumable: false },
                    1 => Refusal::Close(CloseCode::INVALID_SESSION),
                    2 => Refusal::Close(CloseCode::INVALID_SEQ),
                    _ => {
                        let span =
                            u64::from(CloseCode::INTERNAL_ERROR_LAST.0 - CloseCode::INTERNAL_ERROR_FIRST.0);
                        let code = CloseCode::INTERNAL_ERROR_FIRST.0
                            + u16::try_from(self.rng.up_to(span)).unwrap_or(0);
                        Refusal::Close(CloseCode(code))
                    }
                };
                self.net.qq.refuse_resumes(Target::Shard(shard as u32), refusal, 1);
                None // counted when a RESUME is refused
            }
            (Fault::Junk, Some(id)) => {
                let sent = match self.rng.up_to(4) {
                    4 => {
                        self.net
                            .qq
                            .send_raw(Target::Conn(id), &qqgw_proto::testing::frames::heartbeat_request())
                            > 0
                    }
                    0 => self.net.qq.send_raw(Target::Conn(id), "{\"op\":") > 0,
                    1 => {
                        self.net.qq.send_raw(Target::Conn(id), &qqgw_proto::testing::frames::with_op(42)) > 0
                    }
                    2 => {
                        let frame = format!(r#"{{"op":{},"s":"x","t":7}}"#, OpCode::Dispatch.as_u8());
                        self.net.qq.send_raw(Target::Conn(id), &frame) > 0
                    }
                    _ => self.net.send_binary(&mut self.sched, id, vec![0xff, 0xfe, 0x00]),
                };
                sent.then_some("junk frame")
            }
            (Fault::Close, Some(id)) => {
                let codes: Vec<CloseCode> =
                    CloseCode::KNOWN.iter().copied().filter(|c| c.action() != CloseAction::Fatal).collect();
                let code = codes[self.rng.up_to(codes.len() as u64 - 1) as usize];
                self.note(shard, "close code", u64::from(code.0));
                (self.net.qq.close(Target::Conn(id), code) > 0).then_some("close by QQ")
            }
            (Fault::Implausible, Some(id)) => {
                let last = self.net.qq.last_seq(shard as u32).unwrap_or(0);
                let seq = match self.rng.up_to(2) {
                    0 => 0,
                    1 => last + MAX_SEQ_STEP + 1 + self.rng.up_to(1 << 30),
                    _ => u64::MAX - self.rng.up_to(1000),
                };
                let n = self.summary.faults.get("implausible s").copied().unwrap_or(0);
                let frame = format!(
                    r#"{{"op":{},"s":{seq},"t":"AT_MESSAGE_CREATE","id":"B{shard}-{n}","d":{{}}}}"#,
                    OpCode::Dispatch.as_u8()
                );
                (self.net.qq.send_raw(Target::Conn(id), &frame) > 0).then_some("implausible s")
            }
            (Fault::Slow, _) if self.up => {
                let lasting = between(&mut self.rng, MINUTE, 10 * MINUTE);
                self.bots[shard].slow_until = now + lasting;
                Some("slow consumer")
            }
            (Fault::Flap, _) => {
                let lasting = between(&mut self.rng, MINUTE, 5 * MINUTE);
                self.flap_until[shard] = now + lasting;
                self.net.qq.flap(shard as u32, now + lasting);
                if let Some(id) = conn {
                    self.net.qq.close(Target::Conn(id), CloseCode::SESSION_TIMED_OUT);
                }
                Some("flapping")
            }
            (Fault::Burst, _) => {
                let n = 100 + self.rng.up_to(MAX_BURST - 100);
                for _ in 0..n {
                    self.generate(shard);
                }
                Some("burst")
            }
            _ => None,
        };
        self.net.carry_out(&mut self.sched);
        if let Some(kind) = done {
            self.note(shard, kind, 0);
            self.fault(kind);
            if !matches!(fault, Fault::Burst | Fault::Zombie | Fault::Drop) {
                self.disturb(shard);
            }
            if matches!(fault, Fault::Zombie | Fault::Drop) {
                self.disturb(shard); // a second fault on a shard still recovering
            }
        }
    }

    /// A recovery under way on this shard met another fault.
    fn disturb(&mut self, shard: usize) {
        if let Some(down) = self.bots[shard].down.as_mut() {
            down.disturbed = true;
        }
    }

    fn token_trouble(&mut self, ev: Ev) {
        let f = &self.cfg.faults;
        let now = self.now();
        let (every, kind) = if ev == Ev::TokenOutage {
            let lasting = between(&mut self.rng, Duration::from_secs(30), 15 * MINUTE);
            self.outage_until = self.outage_until.max(now + lasting);
            (f.token_outage, "token outage")
        } else {
            let lasting = between(&mut self.rng, Duration::from_secs(5), 2 * MINUTE);
            self.rate_limited_until = self.rate_limited_until.max(now + lasting);
            (f.token_rate_limit, "token rate limit")
        };
        if let Some(every) = every {
            let at = exp(&mut self.rng, every);
            self.sched.after(at, ev);
        }
        self.note(usize::MAX, kind, 0);
        self.fault(kind);
    }

    // ----- the process -----

    fn start_process(&mut self) {
        self.epoch += 1;
        self.up = true;
        self.stopping = false;
        let now = self.now();
        self.note(usize::MAX, "process start", self.epoch);
        // A new process reads session_start_limit from /gateway/bot.
        let limit = self.net.qq.session_start_limit(now);
        let limit = self.cfg.pacer_limit.unwrap_or(limit);
        self.limiter = IdentifyLimiter::new(limit, now);
        self.token_cache = TokenCache::default();
        for i in 0..self.bots.len() {
            let shard = ShardId::new(i as u32, self.bots.len() as u32)
                .unwrap_or_else(|| self.fail("a shard id out of range"));
            let mut builder = Config::builder("wss://sim.invalid/websocket/", Intents::non_privileged())
                .shard(shard)
                .seed(self.rng.next_u64())
                .manual_ack(true);
            if let Some(session) = self.store[i].clone() {
                builder = builder.session(session);
            }
            let config = builder.build().unwrap_or_else(|e| self.fail(format!("config: {e}")));
            self.bots[i] = Bot {
                machine: Some(GatewayMachine::new(config, now)),
                told: now,
                schedule: SaveSchedule::new(self.store[i].clone()),
                down: Some(Down { since: now, disturbed: false }),
                // A new process has a new storm budget: its connections are counted afresh.
                ..Bot::default()
            };
            self.settle(i);
        }
    }

    fn stop(&mut self, graceful: bool) {
        if !self.up || self.stopping {
            return;
        }
        let now = self.now();
        self.note(usize::MAX, if graceful { "shutdown" } else { "crash" }, self.epoch);
        if graceful {
            self.summary.restarts.0 += 1;
            self.fault("restart (graceful)");
            self.stopping = true;
            for i in 0..self.bots.len() {
                if let Some(machine) = self.bots[i].machine.as_mut() {
                    let _ = machine.close(now);
                    self.bots[i].told = now;
                    self.settle(i);
                }
            }
            self.sched.after(MINUTE, Ev::ShutdownCheck(self.epoch));
        } else {
            self.summary.restarts.1 += 1;
            self.fault("restart (crash)");
            for i in 0..self.bots.len() {
                if let Some((s, seq)) =
                    self.store[i].as_ref().and_then(|x| Some((*self.session_index.get(&x.id)?, x.seq)))
                {
                    self.summary.duplicate_bound += self.ledger.crash(s, seq);
                }
                let bot = &mut self.bots[i];
                bot.machine = None;
                bot.queue.clear();
                bot.conn = None;
                bot.down = None;
                bot.active = false;
            }
            self.process_down();
        }
    }

    fn process_down(&mut self) {
        let now = self.now();
        self.net.process_died(now, self.epoch);
        self.up = false;
        let downtime = if chance(&mut self.rng, 100) {
            between(&mut self.rng, 6 * MINUTE, 10 * MINUTE)
        } else {
            between(&mut self.rng, Duration::from_secs(1), Duration::from_secs(30))
        };
        self.sched.after(downtime, Ev::ProcessStart);
    }

    /// A machine that stopped hands its consumer the rest and saves its session, as the
    /// adapter's `finish` does.
    fn finish_bot(&mut self, i: usize) {
        let now = self.now();
        self.save(i);
        let bot = &mut self.bots[i];
        bot.machine = None;
        bot.queue.clear();
        bot.busy = false;
        bot.finishing = None;
        bot.down = None;
        bot.active = false;
        if let Some(id) = bot.conn.take() {
            self.net.abandoned(now, id);
        }
        self.note(i, "stopped", 0);
        if self.bots.iter().all(|b| b.machine.is_none()) {
            self.process_down();
        }
    }

    // ----- one shard's adapter -----

    fn bot_wake(&mut self, i: usize) {
        let now = self.now();
        let bot = &mut self.bots[i];
        if bot.finishing.is_some_and(|at| at <= now) {
            return self.finish_bot(i);
        }
        if bot.save_due.is_some_and(|at| at <= now) {
            self.save(i);
        }
        let bot = &mut self.bots[i];
        if bot.deadline.is_some_and(|at| at <= now) {
            bot.deadline = None;
            if let Some(machine) = bot.machine.as_mut() {
                let timer = machine.next_timer().map_or(0, |(t, _)| t as u64);
                machine.handle_timeout(now);
                bot.told = now;
                self.note(i, "timer", timer);
            }
        }
        self.settle(i);
    }

    /// Drains the machine, then tells it whether reading pauses, as the adapter's run
    /// loop does after every wake-up; then saves the session if due, and plans the next
    /// wake-up.
    fn settle(&mut self, i: usize) {
        self.settle_machine(i);
        let bot = &mut self.bots[i];
        let wake = bot.wake();
        if wake != bot.armed {
            bot.armed = wake;
            if let Some(at) = wake {
                self.sched.at(at, Ev::Wake(i));
            }
        }
    }

    fn settle_machine(&mut self, i: usize) {
        let now = self.now();
        loop {
            self.drain(i);
            let bot = &mut self.bots[i];
            let Some(machine) = bot.machine.as_mut() else { return };
            if machine.state() == State::Terminated {
                break;
            }
            // The events the consumer's buffer has no room for wait in the adapter.
            let waiting = bot.queue.len().saturating_sub(DEFAULT_EVENT_BUFFER + DEFAULT_HANDLER_CONCURRENCY);
            let (reading, tell) = bot.gate.update(machine, bot.conn.is_some(), waiting);
            bot.reading = reading;
            let Some(paused) = tell else { break };
            bot.told = now;
            if let Err(e) = machine.handle_input(now, Input::ReadPaused(paused)) {
                self.fail(format!("shard {i}: ReadPaused refused: {e}"));
            }
            if let (false, Some(id)) = (paused, bot.conn) {
                self.sched.at(now, Ev::Pump(id));
            }
            self.note(i, "read paused", u64::from(paused));
        }
        let bot = &mut self.bots[i];
        let Some(machine) = bot.machine.as_ref() else { return };
        let bound = bot.gate.max_in_flight() + 1;
        if machine.unacked() > bound || bot.queue.len() > bound + 1 {
            let (unacked, queued) = (machine.unacked(), bot.queue.len());
            self.fail(format!(
                "shard {i}: {unacked} events unacknowledged, {queued} queued: reading did not pause"
            ));
        }
        self.summary.max_queues.1 = self.summary.max_queues.1.max(bot.queue.len());
        if machine.state() == State::Terminated {
            if bot.finishing.is_none() {
                bot.finishing = Some(now + DEFAULT_SHUTDOWN_TIMEOUT);
            }
            if bot.queue.is_empty() {
                self.finish_bot(i);
            }
            return;
        }
        self.schedule_save(i);
        if self.bots[i].save_due.is_some_and(|at| at <= now) {
            self.save(i);
        }
    }

    fn drain(&mut self, i: usize) {
        for _ in 0..MAX_OUTPUTS_PER_DRAIN {
            let now = self.now();
            let Some(machine) = self.bots[i].machine.as_mut() else { return };
            match machine.poll_output() {
                Output::Sleep(at) => {
                    // Later than the last `now` the machine was told. A drain with nothing
                    // told since (after a receipt, say) may find a deadline due now: the
                    // adapter's sleep then ends at once, and `handle_timeout` must move it.
                    let told = self.bots[i].told;
                    if at.is_some_and(|at| at <= told) {
                        self.fail(format!("shard {i}: Sleep({at:?}) is not after the last now told, {told}"));
                    }
                    self.bots[i].deadline = at;
                    return;
                }
                Output::Connect(_) => self.connect(i),
                Output::Send(text) => {
                    if let Some(id) = self.bots[i].conn {
                        self.net.client_text(&mut self.sched, id, &text);
                        self.read_notes();
                    }
                }
                Output::Close(frame) => self.close(i, frame),
                Output::Abandon => {
                    if let Some(id) = self.bots[i].conn.take() {
                        self.net.abandoned(now, id);
                    }
                    self.note(i, "abandon", 0);
                }
                Output::Emit(event) => self.on_event(i, event),
                Output::RefreshToken => self.refresh_token(i),
                // The adapter's LocalPacer: one limiter for the process, answered at once.
                Output::Pacer(request) => {
                    let shard = machine.shard();
                    if let Some(answer) = self.limiter.handle(shard, request, now) {
                        self.note(i, "pacer", 0);
                        if matches!(answer, PacerAnswer::Deferred(_)) && self.limiter.remaining() == 0 {
                            // Waiting for the daily reset is no slow recovery.
                            self.disturb(i);
                            self.bots[i].waits_for_budget = true;
                        }
                        self.input(i, Input::Pacer(answer));
                    }
                }
            }
        }
        self.fail(format!("shard {i}: a drain did not end within {MAX_OUTPUTS_PER_DRAIN} outputs"));
    }

    fn input(&mut self, i: usize, input: Input<'_>) {
        let now = self.now();
        let bot = &mut self.bots[i];
        let Some(machine) = bot.machine.as_mut() else { return };
        // An adapter stops driving a machine once it has stopped: an answer still in
        // flight then (a token asked for before a graceful close) goes nowhere.
        if machine.state() == State::Terminated {
            return;
        }
        let name = input_name(&input);
        bot.told = now;
        if let Err(e) = machine.handle_input(now, input) {
            self.fail(format!("shard {i}: input {name} refused: {e}"));
        }
    }

    fn connect(&mut self, i: usize) {
        let now = self.now();
        let bot = &mut self.bots[i];
        bot.attempt += 1;
        bot.pending_connect = Some(bot.attempt);
        let attempt = bot.attempt;
        // The storm budget paces the instant reconnects (a Disconnected naming a next
        // attempt sooner than the least backoff step); attempts after a backoff come on
        // top, at most one per least backoff step.
        let least_backoff = Backoff::default().initial * 4 / 5;
        let instant = core::mem::take(&mut bot.next_is_instant);
        let instants = usize::from(instant) + bot.connects.iter().filter(|&&(_, instant)| instant).count();
        bot.connects.push_back((now, instant));
        while bot.connects.front().is_some_and(|&(at, _)| at + MINUTE <= now) {
            bot.connects.pop_front();
        }
        let per_minute = bot.connects.len();
        let instants = bot.connects.iter().filter(|&&(_, instant)| instant).count().min(instants);
        self.summary.connects += 1;
        self.summary.max_connects_per_minute = self.summary.max_connects_per_minute.max(per_minute);
        self.summary.max_instant_reconnects_per_minute =
            self.summary.max_instant_reconnects_per_minute.max(instants);
        let storm = 1 + STORM_BURST as usize + (MINUTE.as_millis() / STORM_REFILL.as_millis()) as usize;
        let total = storm + (MINUTE.as_millis() / least_backoff.as_millis()) as usize;
        if instants > storm || per_minute > total {
            let times: Vec<String> = self.bots[i]
                .connects
                .iter()
                .map(|(at, instant)| format!("{at}{}", if *instant { "" } else { " (after backoff)" }))
                .collect();
            self.fail(format!(
                "shard {i}: {per_minute} connection attempts in 60 s, {instants} of them instant reconnects, over the storm budget's {storm} (and {total} in all): at {}",
                times.join(", ")
            ));
        }
        self.note(i, "connect", attempt);
        let delay = between(&mut self.rng, Duration::from_millis(20), Duration::from_millis(500));
        self.sched.after(delay, Ev::Connected { shard: i, epoch: self.epoch, attempt });
    }

    fn connected(&mut self, i: usize, epoch: u64, attempt: u64) {
        if epoch != self.epoch || self.bots[i].pending_connect != Some(attempt) {
            return;
        }
        self.bots[i].pending_connect = None;
        let input = if self.now() < self.quiet_at
            && chance(&mut self.rng, self.cfg.faults.connect_refused_permille)
        {
            self.fault("connect refused");
            self.disturb(i);
            self.note(i, "connect refused", attempt);
            Input::ConnectFailed
        } else {
            match self.net.open(&mut self.sched, &mut self.rng, i, self.epoch) {
                Some(id) => {
                    self.bots[i].conn = Some(id);
                    self.note(i, "connected", id as u64);
                    Input::Connected
                }
                None => self.fail("QQ refused a connection it was not told to refuse"),
            }
        };
        self.input(i, input);
        self.settle(i);
    }

    fn close(&mut self, i: usize, frame: CloseFrame<'static>) {
        self.note(i, "close", u64::from(frame.code.0));
        match self.bots[i].conn {
            Some(id) => self.net.client_close(&mut self.sched, id, frame),
            None => self.input(i, Input::Closed(None)),
        }
    }

    fn refresh_token(&mut self, i: usize) {
        let now = self.now();
        self.summary.tokens.1 += 1;
        let bot = &mut self.bots[i];
        if let Some((token, fetched)) = self.token_cache.for_shard(bot.token_fetched, now) {
            bot.token_fetched = Some(fetched);
            return self.input(i, Input::Token(token));
        }
        bot.attempt += 1;
        bot.pending_token = Some(bot.attempt);
        let attempt = bot.attempt;
        let delay = between(&mut self.rng, Duration::from_millis(30), Duration::from_millis(400));
        self.sched.after(delay, Ev::TokenReply { shard: i, epoch: self.epoch, attempt });
    }

    fn token_reply(&mut self, i: usize, epoch: u64, attempt: u64) {
        if epoch != self.epoch || self.bots[i].pending_token != Some(attempt) {
            return;
        }
        let now = self.now();
        self.bots[i].pending_token = None;
        let input = if now < self.outage_until || now < self.rate_limited_until {
            self.disturb(i);
            let why = if now < self.outage_until { "HTTP 503" } else { "HTTP 429" };
            self.note(i, "token failed", 0);
            Input::TokenFailed(TokenError::Unavailable(why.into()))
        } else {
            match self.net.qq.issue_token(now) {
                Ok(token) => {
                    self.token_cache.store(token.clone(), now);
                    self.bots[i].token_fetched = Some(now);
                    self.note(i, "token", token.expires_at().as_millis());
                    Input::Token(token)
                }
                Err(error) => Input::TokenFailed(error),
            }
        };
        self.input(i, input);
        self.settle(i);
    }

    fn pump(&mut self, id: ConnId) {
        let Some(i) = self.net.links.get(&id).map(|l| l.shard) else { return };
        let now = self.now();
        loop {
            let bot = &self.bots[i];
            if bot.conn != Some(id) || !bot.reading || bot.machine.is_none() {
                return;
            }
            let Some(msg) = self.net.pop_ready(id, now) else { break };
            self.deliver(i, id, msg);
        }
        if let Some(at) = self.net.next_ready(id) {
            if at > now {
                self.sched.at(at, Ev::Pump(id));
            }
        }
    }

    fn deliver(&mut self, i: usize, id: ConnId, msg: Msg) {
        let now = self.now();
        match msg {
            Msg::Text(text) => self.input(i, Input::Text(&text)),
            Msg::Binary(bytes) => self.input(i, Input::Binary(&bytes)),
            Msg::Close(frame) => {
                self.note(i, "closed by QQ", u64::from(frame.code.0));
                self.bots[i].conn = None;
                self.net.abandoned(now, id);
                self.input(i, Input::Closed(Some(frame)));
            }
            Msg::Drop => {
                self.note(i, "dropped", 0);
                self.bots[i].conn = None;
                self.net.abandoned(now, id);
                self.input(i, Input::Closed(None));
            }
        }
        self.settle(i);
    }

    fn on_event(&mut self, i: usize, event: Event) {
        let now = self.now();
        match event {
            Event::Dispatch(d) => {
                if d.shard().id() as usize != i {
                    self.fail(format!("shard {i} emitted a dispatch of shard {}", d.shard()));
                }
                if d.name() == "RESUMED" && d.seq().is_some() {
                    self.summary.resumed_numbered += 1;
                }
                let key = match (d.name(), d.id()) {
                    ("READY" | "RESUMED", _) => {
                        if d.name() == "READY" {
                            let id = self.bots[i].machine.as_ref().and_then(GatewayMachine::session_id);
                            if let Some(&s) = id.and_then(|id| self.session_index.get(id)) {
                                self.ledger.ready_seen(s);
                            }
                        }
                        self.recovered(i);
                        None
                    }
                    (_, Some(id)) if id.starts_with('B') => None,
                    (_, Some(id)) => match parse_event_id(id) {
                        Some(key) => Some(key),
                        None => self.fail(format!("shard {i} emitted an event QQ never sent: {id}")),
                    },
                    (name, None) => self.fail(format!("shard {i} emitted an event without an id: {name}")),
                };
                let bot = &mut self.bots[i];
                bot.queue.push_back(Item { key, ack: d.ack() });
                if !bot.busy {
                    self.start_consumer(i);
                }
            }
            Event::Disconnected(d) => {
                *self.summary.disconnects.entry(cause_name(&d.cause)).or_insert(0) += 1;
                if d.at < now {
                    self.fail(format!("shard {i}: Disconnected names a next attempt in the past: {}", d.at));
                }
                self.note(i, "disconnected", d.at.as_millis());
                let bot = &mut self.bots[i];
                bot.next_is_instant =
                    d.at.saturating_duration_since(now) < Backoff::default().initial * 4 / 5;
                if bot.active {
                    bot.active = false;
                    bot.down = Some(Down { since: now, disturbed: false });
                }
            }
            Event::SessionLost(session) if session.id.is_empty() => {
                // An IDENTIFY got no READY: a session QQ may have started is lost.
                self.summary.gaps += 1;
                self.note(i, "unseen session lost", 0);
                self.ledger.unseen_gap(i);
            }
            Event::SessionLost(session) => {
                self.summary.gaps += 1;
                self.note(i, "session lost", session.seq);
                match self.session_index.get(&session.id) {
                    Some(&s) => self.ledger.gap(s, session.seq),
                    None => self.fail(format!("shard {i} lost a session QQ never gave: {}", session.id)),
                }
            }
            Event::DecodeFailed(_) => self.summary.decode_failures += 1,
            Event::TokenRefreshFailed(_) => self.note(i, "token renewal failed", 0),
            Event::Fatal(error) => self.fail(format!("shard {i} stopped for good: {error}")),
            Event::Closed(_) => self.note(i, "closed", 0),
            _ => {}
        }
    }

    fn recovered(&mut self, i: usize) {
        let now = self.now();
        let remaining = self.net.qq.session_start_limit(now).remaining;
        let bot = &mut self.bots[i];
        bot.active = true;
        bot.waits_for_budget = false;
        let Some(down) = bot.down.take() else { return };
        let took = now.saturating_duration_since(down.since);
        let flapping = self.flap_until[i] > down.since;
        let disturbed = down.disturbed || bot.slow_until > down.since || remaining == 0 || flapping;
        if disturbed {
            let (n, max) = &mut self.summary.disturbed_recoveries;
            *n += 1;
            *max = (*max).max(took);
        } else {
            self.summary.recoveries.push(took);
            if took > self.summary.recovery_bound {
                self.fail(format!(
                    "shard {i}: recovery took {took:?}, over the bound {:?}",
                    self.summary.recovery_bound
                ));
            }
        }
    }

    // ----- the consumer -----

    fn start_consumer(&mut self, i: usize) {
        let now = self.now();
        let bot = &mut self.bots[i];
        bot.busy = true;
        let took = if bot.slow_until > now {
            between(&mut self.rng, Duration::from_millis(200), Duration::from_secs(3))
        } else {
            Duration::from_millis(self.rng.up_to(1))
        };
        self.sched.after(took, Ev::Handled { shard: i, epoch: self.epoch });
    }

    fn consumer_done(&mut self, i: usize) {
        let Some(item) = self.bots[i].queue.pop_front() else {
            self.bots[i].busy = false;
            return;
        };
        if let Some((s, seq)) = item.key {
            if let Err(breach) = self.ledger.handled(s, seq) {
                let what = match breach {
                    Breach::Duplicate { session, seq, times } => {
                        format!("event S{session}-{seq} handled {times} times with no crash to explain it")
                    }
                    Breach::Unknown { session, seq } => format!("event S{session}-{seq} was never generated"),
                };
                self.fail(format!("shard {i}: {what}"));
            }
        }
        if let Some(ack) = item.ack {
            // Accepted in any state, after the machine stopped included.
            self.input_handled(i, ack);
        }
        self.bots[i].schedule.handled(1);
        if self.bots[i].queue.is_empty() {
            self.bots[i].busy = false;
        } else {
            self.start_consumer(i);
        }
        self.settle(i);
    }

    fn input_handled(&mut self, i: usize, ack: Ack) {
        let now = self.now();
        if let Some(machine) = self.bots[i].machine.as_mut() {
            if let Err(e) = machine.handle_input(now, Input::Handled(ack)) {
                self.fail(format!("shard {i}: a receipt was refused: {e}"));
            }
        }
    }

    // ----- what QQ saw -----

    /// Checks and counts what QQ's model noted since the last look.
    fn read_notes(&mut self) {
        while let Some((conn, note)) = self.net.notes.pop_front() {
            let now = self.now();
            let epoch = self.net.links.get(&conn).map_or(self.epoch, |l| l.epoch);
            match note {
                Note::Token { outcome: TokenOutcome::Issued { fresh: true, .. }, .. } => {
                    self.stats.tokens_issued += 1;
                }
                Note::Identify { .. } => self.stats.identifies += 1,
                Note::Resume { session_id, .. } => {
                    self.stats.resumes += 1;
                    if !self.session_index.contains_key(&session_id) {
                        self.fail(format!("a shard resumed a session QQ never gave it: {session_id}"));
                    }
                }
                Note::Attached { shard, session_id, ready, replayed, .. } => {
                    let shard = shard as usize;
                    let s = if ready {
                        let s = u32::try_from(self.sessions.len()).unwrap_or(u32::MAX);
                        self.sessions.push(Started { shard, created: now });
                        self.session_index.insert(session_id, s);
                        self.ledger.new_session(s, shard);
                        self.identify_log.push_back((now, epoch));
                        s
                    } else {
                        self.session_index.get(&session_id).copied().unwrap_or(u32::MAX)
                    };
                    self.stats.replayed += replayed;
                    if self.flap_until.get(shard).is_some_and(|&until| now < until) {
                        self.stats.flaps += 1;
                    }
                    self.note(shard, if ready { "identify" } else { "resume" }, u64::from(s));
                    if let Some(every) = self.cfg.faults.rotation {
                        let at = between(&mut self.rng, every * 5 / 6, every * 7 / 6);
                        self.sched.after(at, Ev::Rotate(conn));
                    }
                }
                Note::Pacing { shard, kind: PacingKind::Concurrency { max_concurrency, .. }, .. } => {
                    while self.identify_log.front().is_some_and(|&(at, _)| at + IDENTIFY_WINDOW <= now) {
                        self.identify_log.pop_front();
                    }
                    if self.identify_log.iter().any(|&(_, e)| e != epoch) {
                        self.stats.pacing_across_restart += 1;
                    } else {
                        let log: Vec<u64> = self.identify_log.iter().map(|(at, _)| at.as_millis()).collect();
                        self.fail(format!(
                            "QQ saw a rule broken: shard {shard}: IDENTIFY at {now} over max_concurrency {max_concurrency} (window holds IDENTIFYs at {log:?} ms)"
                        ));
                    }
                }
                Note::Pacing { shard, kind: PacingKind::Exhausted, .. } => {
                    self.fail(format!(
                        "QQ saw a rule broken: shard {shard}: IDENTIFY at {now} with the daily budget spent"
                    ));
                }
                Note::ProtocolError { shard, reason, frame, .. } => {
                    self.fail(format!("QQ saw a rule broken: shard {shard:?}: {reason}: {frame}"));
                }
                Note::ResumeRefused { why, .. } => match why {
                    ResumeRefusal::Scripted(Refusal::InvalidSession { resumable: true }) => {
                        self.stats.resumable_op9 += 1;
                    }
                    ResumeRefusal::Scripted(_) => self.stats.resumes_refused += 1,
                    ResumeRefusal::Expired => self.stats.resumes_expired += 1,
                    ResumeRefusal::Forgotten => self.stats.resumes_too_old += 1,
                    _ => {}
                },
                _ => {}
            }
        }
    }

    // ----- the session store -----

    /// The adapter's cadence ([`SaveSchedule`]): when the next save is due.
    fn schedule_save(&mut self, i: usize) {
        let now = self.now();
        let bot = &mut self.bots[i];
        let Some(machine) = bot.machine.as_ref() else { return };
        bot.save_due = bot.schedule.poll(machine, now);
    }

    /// Saves what the schedule says is due (or, at a stop, whatever changed).
    fn save(&mut self, i: usize) {
        let now = self.now();
        let bot = &mut self.bots[i];
        let Some(machine) = bot.machine.as_ref() else { return };
        let write = if bot.finishing.is_some() || machine.state() == State::Terminated {
            bot.schedule.take_final(machine)
        } else {
            bot.schedule.take_due(machine, now)
        };
        bot.save_due = None;
        if let Some(session) = write {
            self.store[i] = session.clone();
            bot.schedule.saved(session, now);
            self.summary.saves += 1;
        }
    }
}

/// The kind of an input, for a failure's message.
fn input_name(input: &Input<'_>) -> &'static str {
    match input {
        Input::Connected => "Connected",
        Input::ConnectFailed => "ConnectFailed",
        Input::Text(_) => "Text",
        Input::Binary(_) => "Binary",
        Input::Closed(_) => "Closed",
        Input::Token(_) => "Token",
        Input::TokenFailed(_) => "TokenFailed",
        Input::Pacer(_) => "Pacer",
        Input::Handled(_) => "Handled",
        Input::ReadPaused(_) => "ReadPaused",
        _ => "an input",
    }
}

/// The id of event `seq` of the session this simulation numbers `s`.
fn event_id(s: u32, seq: u64) -> String {
    format!("E{s}-{seq}")
}

/// The session and sequence number an event id names.
fn parse_event_id(id: &str) -> Option<(u32, u64)> {
    let (session, seq) = id.strip_prefix('E')?.split_once('-')?;
    Some((session.parse().ok()?, seq.parse().ok()?))
}

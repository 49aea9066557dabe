//! Deterministic simulation of a whole bot against a simulated QQ.
//!
//! [`run`] drives N [`GatewayMachine`]s exactly as the adapters do — the drain contract,
//! timers, a shared token cache, one shared identify pacer, a consumer that acknowledges
//! each event ([`Input::Handled`]) and pauses reading when it lags ([`Input::ReadPaused`]),
//! a session store saved on the adapter's cadence (200 ms / 1,000 events, and at close) —
//! against a simulated QQ that keeps sessions, sequence numbers and replay buffers per
//! shard, enforces `session_start_limit`, issues tokens that expire, and injects faults
//! from a seeded schedule:
//!
//! | fault | how often (default) |
//! |---|---|
//! | rotation: op 7 or close 4009 | every 30 min ± 5 min per connection |
//! | zombie: QQ goes silent | every 12 h per shard |
//! | TCP drop (frames in flight lost) | every 6 h per shard |
//! | refused RESUME: op 9 `false`, 4006, 4007, 4900–4913 (or op 9 `true`) | every 8 h per shard (the next RESUME), and any RESUME of a session idle past 5 min |
//! | connection refused | 1 % of connects |
//! | token endpoint outage / rate limit | every 24 h each, for 30 s–15 min / 5 s–2 min |
//! | implausible `s` | every 12 h per shard |
//! | junk frames (bad JSON, unknown op, binary, op 1 from QQ) | every 6 h per shard |
//! | a close with a non-fatal code of the table (4008, 4004, 4006, 4900–4913, …) | every 12 h per shard |
//! | slow consumer (1–10 min of 0.2–3 s per event) | every 24 h per shard |
//! | event bursts (100–2,000 at once) | every 24 h per shard |
//! | flapping: for 1–5 min every connection closed (4009) right after READY or RESUMED | every 24 h per shard |
//! | process restart, graceful or crash (keeps only the session store), half of them under a burst on every shard | every 3 days |
//!
//! There is no IO, no thread and no real time: one discrete-event scheduler on a virtual
//! [`Instant`] clock, and all randomness from one seeded generator, so a seed reproduces a
//! run exactly. Invariants are checked as the run goes and at its end (see [`run`]); a
//! breach panics with the seed, the command that replays it, and the last steps.
//!
//! # Examples
//!
//! ```
//! use qqgw_proto::testing::sim::{self, SimConfig};
//!
//! let summary = sim::run(&SimConfig::new(7, 2, 1));
//! assert!(summary.events_generated > 0);
//! assert_eq!(
//!     summary.events_handled + summary.lost_in_gaps + summary.lost_unseen,
//!     summary.events_generated + summary.duplicates
//! );
//! println!("{summary}");
//! ```
#![allow(clippy::indexing_slicing)] // shard indices are below the shard count by construction

mod ledger;
mod qq;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fmt;

use core::time::Duration;

use crate::backoff::Backoff;
use crate::close::{CloseAction, CloseCode, CloseFrame};
use crate::config::Config;
use crate::dispatch::Ack;
use crate::error::TokenError;
use crate::intents::Intents;
use crate::limiter::{IDENTIFY_WINDOW, IdentifyLimiter, PacerAnswer, SessionStartLimit};
use crate::opcode::OpCode;
use crate::rng::Rng;
use crate::session::Session;
use crate::shard::ShardId;
use crate::time::Instant;
use crate::token::AccessToken;
use crate::{
    DisconnectCause, Event, GatewayMachine, Input, MAX_SEQ_STEP, Output, STORM_BURST, STORM_REFILL, State,
};

use ledger::{Breach, Ledger};
use qq::{Msg, Qq};

/// The adapter's least time between two saves of a shard's session.
const SAVE_EVERY: Duration = Duration::from_millis(200);
/// The adapter saves at once after this many handled events.
const SAVE_AFTER_EVENTS: u64 = 1_000;
/// A token another shard fetched this recently is reused (the adapter's token cache).
const TOKEN_REUSE: Duration = Duration::from_secs(5);
/// How long a graceful close waits for the consumer (the adapter's default).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Events handed to the consumer and not yet handled, at most, before reading pauses.
const MAX_IN_FLIGHT: usize = 64;
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
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// How often each fault is injected: the mean time between two (exponentially
/// distributed), per shard unless said otherwise. `None` turns a fault off.
#[derive(Debug, Clone)]
pub struct Faults {
    /// QQ goes silent on a shard's connection.
    pub zombie: Option<Duration>,
    /// A shard's TCP connection drops; frames in flight are lost.
    pub drop: Option<Duration>,
    /// A shard's next RESUME is refused (op 9 `false`, 4006, 4007 or 4900–4913).
    pub refuse_resume: Option<Duration>,
    /// Junk frames: bad JSON, an unknown op, a binary frame (and QQ asking for a
    /// heartbeat, op 1).
    pub junk: Option<Duration>,
    /// QQ closes a shard's connection with a code of the close-code table that is not
    /// fatal (4008 and 4004 included); one whose action is IDENTIFY ends the session.
    pub close: Option<Duration>,
    /// A dispatch with an implausible `s` (zero, or a jump past `MAX_SEQ_STEP`).
    pub implausible_seq: Option<Duration>,
    /// The shard's consumer slows down (0.2–3 s per event for 1–10 min).
    pub slow_consumer: Option<Duration>,
    /// A burst of 100–2,000 events.
    pub burst: Option<Duration>,
    /// For 1–5 min QQ closes each of the shard's connections (4009) right after READY
    /// or RESUMED: the storm budget must pace the reconnects.
    pub flapping: Option<Duration>,
    /// The token endpoint fails (HTTP 5xx) for 30 s–15 min; for the whole bot.
    pub token_outage: Option<Duration>,
    /// The token endpoint rate-limits (HTTP 429) for 5 s–2 min; for the whole bot.
    pub token_rate_limit: Option<Duration>,
    /// The process restarts, gracefully or by a crash (half each); for the whole bot.
    pub restart: Option<Duration>,
    /// Connection attempts refused, per thousand.
    pub connect_refused_permille: u64,
    /// QQ rotates each connection's session after this long, ± a sixth.
    pub rotation: Option<Duration>,
}

impl Faults {
    /// Every fault `factor` times as often (rotation and refused connects included).
    #[must_use]
    pub fn more_often(self, factor: u32) -> Self {
        let factor = factor.max(1);
        let div = |d: Option<Duration>| d.map(|d| d / factor);
        Self {
            zombie: div(self.zombie),
            drop: div(self.drop),
            refuse_resume: div(self.refuse_resume),
            junk: div(self.junk),
            close: div(self.close),
            implausible_seq: div(self.implausible_seq),
            slow_consumer: div(self.slow_consumer),
            burst: div(self.burst),
            flapping: div(self.flapping),
            token_outage: div(self.token_outage),
            token_rate_limit: div(self.token_rate_limit),
            restart: div(self.restart),
            connect_refused_permille: (self.connect_refused_permille * u64::from(factor)).min(500),
            rotation: div(self.rotation),
        }
    }

    /// No faults at all: QQ only generates events.
    #[must_use]
    pub fn none() -> Self {
        Self {
            zombie: None,
            drop: None,
            refuse_resume: None,
            junk: None,
            close: None,
            implausible_seq: None,
            slow_consumer: None,
            burst: None,
            flapping: None,
            token_outage: None,
            token_rate_limit: None,
            restart: None,
            connect_refused_permille: 0,
            rotation: None,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            zombie: Some(12 * HOUR),
            drop: Some(6 * HOUR),
            refuse_resume: Some(8 * HOUR),
            junk: Some(6 * HOUR),
            close: Some(12 * HOUR),
            implausible_seq: Some(12 * HOUR),
            slow_consumer: Some(24 * HOUR),
            burst: Some(24 * HOUR),
            flapping: Some(24 * HOUR),
            token_outage: Some(24 * HOUR),
            token_rate_limit: Some(24 * HOUR),
            restart: Some(72 * HOUR),
            connect_refused_permille: 10,
            rotation: Some(30 * MINUTE),
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed of every random choice of the run.
    pub seed: u64,
    /// How many shards the bot runs (one machine each, one process).
    pub shards: u32,
    /// Simulated time.
    pub duration: Duration,
    /// The mean time between two events QQ generates for a shard (besides bursts).
    pub event_every: Duration,
    /// QQ's `session_start_limit` at the start.
    pub limit: SessionStartLimit,
    /// What the bot's identify pacer is told instead of QQ's answer, to check that the
    /// simulation notices a pacer that breaks QQ's rule. Default: none (QQ's).
    pub pacer_limit: Option<SessionStartLimit>,
    /// The fault schedule.
    pub faults: Faults,
}

impl SimConfig {
    /// `shards` shards for `days` simulated days with the default faults, an event every
    /// 60 s per shard on average (and the bursts), and QQ's documented `session_start_limit` (1,000 a day, one per 5 s).
    #[must_use]
    pub fn new(seed: u64, shards: u32, days: u32) -> Self {
        Self {
            seed,
            shards,
            duration: Duration::from_secs(u64::from(days) * 24 * 3600),
            event_every: Duration::from_secs(60),
            limit: SessionStartLimit::default(),
            pacer_limit: None,
            faults: Faults::default(),
        }
    }
}

impl SimConfig {
    /// The command that replays this run with the `simulate` example (for the settings
    /// the example takes; others are named after it).
    #[must_use]
    pub fn replay_command(&self) -> String {
        let days = self.duration.as_secs().div_ceil(86_400);
        let mut command = format!(
            "cargo run -p qqgw-proto --features testing --example simulate -- --seed {} --days {days} --shards {}",
            self.seed, self.shards
        );
        let default = SimConfig::new(self.seed, self.shards, 1);
        if self.event_every != default.event_every {
            command.push_str(&format!(" --event-every {}", self.event_every.as_secs_f64()));
        }
        if (self.limit.total, self.limit.remaining) != (default.limit.total, default.limit.remaining) {
            command.push_str(&format!(" --budget {}", self.limit.total));
        }
        if self.limit.max_concurrency != default.limit.max_concurrency {
            command.push_str(&format!(" --concurrency {}", self.limit.max_concurrency));
        }
        if self.faults.restart != default.faults.restart {
            let hours = self.faults.restart.map_or(f64::INFINITY, |d| d.as_secs_f64() / 3600.0);
            command.push_str(&format!(" --restart-hours {hours}"));
        }
        let chaos = (1..=1000).find(|&f| self.faults.zombie == default.faults.clone().more_often(f).zombie);
        if let Some(factor) = chaos.filter(|&f| f > 1) {
            command.push_str(&format!(" --chaos {factor}"));
        }
        if self.pacer_limit.is_some() || self.duration.as_secs() % 86_400 != 0 {
            command.push_str(" (and the test's other settings)");
        }
        command
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The seed.
    pub seed: u64,
    /// Shards.
    pub shards: u32,
    /// Simulated time.
    pub simulated: Duration,
    /// Scheduler steps taken.
    pub steps: u64,
    /// Events QQ generated (READY and RESUMED not counted).
    pub events_generated: u64,
    /// Events the application handled, duplicates included.
    pub events_handled: u64,
    /// Events handled a second time (only after a crash, from what was in flight).
    pub duplicates: u64,
    /// The most duplicates all crashes together could cause: events handled after the
    /// session store's last save.
    pub duplicate_bound: u64,
    /// Gaps reported (`Event::SessionLost`).
    pub gaps: u64,
    /// Events never handled, each inside a reported gap.
    pub lost_in_gaps: u64,
    /// Events never handled of sessions whose READY never reached the machine and whose
    /// loss no gap event reports: the process stopped (a crash) between IDENTIFY and
    /// READY, so no machine lived to report it. A connection that ends between them is
    /// reported (`Event::SessionLost` with no id) and its events count in
    /// [`lost_in_gaps`](Self::lost_in_gaps).
    pub lost_unseen: u64,
    /// Faults injected (or taking effect), by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Disconnections, by cause.
    pub disconnects: BTreeMap<&'static str, u64>,
    /// Recovery times (a connection's end, or the process start, to READY or RESUMED)
    /// with no other fault meanwhile, sorted.
    pub recoveries: Vec<Duration>,
    /// Recoveries disturbed by another fault (a token outage, a refused connect, a slow
    /// consumer, a second fault), and the longest of them.
    pub disturbed_recoveries: (u64, Duration),
    /// The bound every undisturbed recovery kept.
    pub recovery_bound: Duration,
    /// IDENTIFYs QQ received.
    pub identifies: u64,
    /// RESUMEs QQ received.
    pub resumes: u64,
    /// Events QQ replayed on RESUMEs.
    pub replayed: u64,
    /// Connection attempts.
    pub connects: u64,
    /// The most connection attempts of one shard in any 60 s.
    pub max_connects_per_minute: usize,
    /// The most instant reconnects (paced by the storm budget, not by backoff) of one
    /// shard in any 60 s.
    pub max_instant_reconnects_per_minute: usize,
    /// Tokens the endpoint issued, and token requests the shards made.
    pub tokens: (u64, u64),
    /// IDENTIFYs over `max_concurrency` just after a restart, which a new process's
    /// pacer cannot know of (allowed, counted).
    pub pacing_across_restart: u64,
    /// Decode failures the machines reported (junk, implausible `s`).
    pub decode_failures: u64,
    /// Sessions saved to the store.
    pub saves: u64,
    /// IDENTIFYs and RESUMEs QQ closed with 4004 because their token had expired.
    pub expired_tokens: u64,
    /// Process restarts: graceful, crashes.
    pub restarts: (u64, u64),
    /// The most frames queued on one connection, and the most events waiting for a consumer.
    pub max_queues: (usize, usize),
}

impl Summary {
    fn percentile(&self, p: usize) -> Duration {
        let n = self.recoveries.len();
        if n == 0 {
            return Duration::ZERO;
        }
        self.recoveries.get((n * p / 100).min(n - 1)).copied().unwrap_or_default()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.simulated.as_secs_f64() / 86_400.0;
        writeln!(f, "seed {}: {} shards × {days:.1} days, {} steps", self.seed, self.shards, self.steps)?;
        writeln!(
            f,
            "events: {} generated, {} handled, {} duplicates (bound {}), {} lost in {} reported gaps, {} lost with a READY never received, 0 lost otherwise",
            self.events_generated,
            self.events_handled,
            self.duplicates,
            self.duplicate_bound,
            self.lost_in_gaps,
            self.gaps,
            self.lost_unseen
        )?;
        let faults: Vec<String> = self.faults.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(f, "faults: {}", faults.join(", "))?;
        let causes: Vec<String> = self.disconnects.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(f, "disconnects: {}", causes.join(", "))?;
        writeln!(
            f,
            "recoveries: {} undisturbed, p50 {:.3}s, p99 {:.3}s, max {:.3}s (bound {}s); {} disturbed, max {:.3}s",
            self.recoveries.len(),
            self.percentile(50).as_secs_f64(),
            self.percentile(99).as_secs_f64(),
            self.recoveries.last().copied().unwrap_or_default().as_secs_f64(),
            self.recovery_bound.as_secs(),
            self.disturbed_recoveries.0,
            self.disturbed_recoveries.1.as_secs_f64()
        )?;
        writeln!(
            f,
            "sessions: {} IDENTIFYs, {} RESUMEs ({} events replayed), {} connects (max {}/min/shard, {} of them instant), {} over-pacing IDENTIFYs across restarts",
            self.identifies,
            self.resumes,
            self.replayed,
            self.connects,
            self.max_connects_per_minute,
            self.max_instant_reconnects_per_minute,
            self.pacing_across_restart
        )?;
        write!(
            f,
            "tokens: {} issued, {} requested, {} expired when used; {} decode failures; {} saves; restarts {} graceful, {} crashes; max queues {} frames, {} events",
            self.tokens.0,
            self.tokens.1,
            self.expired_tokens,
            self.decode_failures,
            self.saves,
            self.restarts.0,
            self.restarts.1,
            self.max_queues.0,
            self.max_queues.1
        )
    }
}

/// Something the scheduler does at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    /// A shard's adapter wakes: a timer of its machine, or a save, is due.
    Wake(usize),
    /// QQ generates the next event of a shard.
    Traffic(usize),
    /// Frames of a connection may be read.
    Pump(u64),
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
    Rotate(u64),
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
enum Fault {
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
struct Sched {
    now: Instant,
    order: u64,
    heap: BinaryHeap<Reverse<(Instant, u64, Ev)>>,
}

impl Sched {
    fn at(&mut self, at: Instant, ev: Ev) {
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

/// One shard's adapter: the machine and what `qqgw-client`'s shard task keeps beside it.
#[derive(Debug, Default)]
struct Bot {
    machine: Option<GatewayMachine>,
    deadline: Option<Instant>,
    /// The socket held: open, or closing.
    conn: Option<u64>,
    attempt: u64,
    pending_connect: Option<u64>,
    pending_token: Option<u64>,
    token_fetched: Option<Instant>,
    queue: VecDeque<Item>,
    busy: bool,
    read_paused: bool,
    saved: Option<Session>,
    save_due: Option<Instant>,
    last_save: Option<Instant>,
    handled_since_save: u64,
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
    qq: Qq,
    bots: Vec<Bot>,
    /// The session store: all that survives a restart.
    store: Vec<Option<Session>>,
    epoch: u64,
    up: bool,
    /// A graceful shutdown is under way.
    stopping: bool,
    limiter: IdentifyLimiter,
    token_cache: Option<(AccessToken, Instant)>,
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
    }
}

impl World {
    fn new(cfg: SimConfig) -> Self {
        let now = Instant::ZERO;
        let shards = cfg.shards.max(1) as usize;
        let end = now + cfg.duration;
        let quiet_at = now + cfg.duration.saturating_sub(QUIET);
        let maxc = u64::from(cfg.limit.max_concurrency.max(1));
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
        Self {
            sched: Sched::default(),
            rng: Rng::new(cfg.seed),
            qq: Qq::new(shards, cfg.limit, now),
            bots: (0..shards).map(|_| Bot::default()).collect(),
            store: vec![None; shards],
            epoch: 0,
            up: false,
            stopping: false,
            limiter: IdentifyLimiter::new(cfg.limit, now),
            token_cache: None,
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
            if let Some(v) = self.qq.violations.first() {
                self.fail(format!("QQ saw a rule broken: {v}"));
            }
        }
        self.sched.now = self.end;
        self.finish();
    }

    fn finish(&mut self) {
        let closing = self.ledger.close();
        if closing.silently_lost > 0 {
            let (s, seq) = closing.first_silent.unwrap_or_default();
            let (shard, created) =
                self.qq.sessions.get(s as usize).map_or((0, Instant::ZERO), |x| (x.shard, x.created));
            self.fail(format!(
                "{} events were never handled and no gap covers them (the first: session S{s} of shard {shard}, READY at {created}, seq {seq}, QQ at {})",
                closing.silently_lost,
                self.qq.seq_of(s)
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
        s.identifies = self.qq.stats.identifies;
        s.resumes = self.qq.stats.resumes;
        s.replayed = self.qq.stats.replayed;
        s.tokens.0 = self.qq.stats.tokens_issued;
        s.pacing_across_restart = self.qq.stats.pacing_across_restart;
        s.expired_tokens = self.qq.stats.auth_failures;
        s.max_queues.0 = self.qq.stats.max_queue;
        s.recoveries.sort();
        for (kind, n) in [
            ("refused resume", self.qq.stats.resumes_refused),
            ("op 9 true to a resume", self.qq.stats.resumable_op9),
            ("closed right after READY/RESUMED", self.qq.stats.flaps),
            ("expired session", self.qq.stats.resumes_expired),
            ("replay buffer exceeded", self.qq.stats.resumes_too_old),
        ] {
            if n > 0 {
                s.faults.insert(kind, n);
            }
        }
        if self.qq.stats.max_queue as u64 > qq::REPLAY_CAP + 4 * MAX_BURST {
            self.fail(format!("a connection queued {} frames", self.qq.stats.max_queue));
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
                if !quiet && self.qq.rotate(&mut self.sched, &mut self.rng, id) {
                    let shard = self.qq.conns.get(&id).map_or(0, |c| c.shard);
                    self.note(shard, "rotate", id);
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

    fn generate(&mut self, shard: usize) {
        if let Some((s, seq)) = self.qq.generate(&mut self.sched, shard) {
            self.ledger.generated(s, seq);
        }
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
            (Fault::Zombie, Some(id)) => self.qq.zombify(now, id).then_some("zombie"),
            (Fault::Drop, Some(id)) => self.qq.drop_conn(&mut self.sched, id).then_some("tcp drop"),
            (Fault::RefuseResume, _) => {
                self.qq.refuse_next_resume[shard] = true;
                None // counted when a RESUME is refused
            }
            (Fault::Junk, Some(id)) => {
                let msg = match self.rng.up_to(4) {
                    4 => Msg::Text(format!(r#"{{"op":{},"d":null}}"#, OpCode::Heartbeat.as_u8())),
                    0 => Msg::Text("{\"op\":".to_owned()),
                    1 => Msg::Text(r#"{"op":42,"d":null}"#.to_owned()),
                    2 => Msg::Text(format!(r#"{{"op":{},"s":"x","t":7}}"#, OpCode::Dispatch.as_u8())),
                    _ => Msg::Binary(vec![0xff, 0xfe, 0x00]),
                };
                self.qq.send_raw(&mut self.sched, id, msg).then_some("junk frame")
            }
            (Fault::Close, Some(id)) => {
                let codes: Vec<CloseCode> =
                    CloseCode::KNOWN.iter().copied().filter(|c| c.action() != CloseAction::Fatal).collect();
                let code = codes[self.rng.up_to(codes.len() as u64 - 1) as usize];
                self.note(shard, "close code", u64::from(code.0));
                self.qq.close_conn(&mut self.sched, id, code).then_some("close by QQ")
            }
            (Fault::Implausible, Some(id)) => {
                let last = self.qq.live_session(shard).map_or(0, |s| self.qq.seq_of(s));
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
                self.qq.send_raw(&mut self.sched, id, Msg::Text(frame)).then_some("implausible s")
            }
            (Fault::Slow, _) if self.up => {
                let lasting = between(&mut self.rng, MINUTE, 10 * MINUTE);
                self.bots[shard].slow_until = now + lasting;
                Some("slow consumer")
            }
            (Fault::Flap, _) => {
                let lasting = between(&mut self.rng, MINUTE, 5 * MINUTE);
                self.qq.flap_until[shard] = now + lasting;
                if let Some(id) = conn {
                    self.qq.close_conn(&mut self.sched, id, CloseCode::SESSION_TIMED_OUT);
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
        let limit = self.qq.session_start_limit(now);
        let limit = self.cfg.pacer_limit.unwrap_or(limit);
        self.limiter = IdentifyLimiter::new(limit, now);
        self.token_cache = None;
        for i in 0..self.bots.len() {
            let shard = ShardId::new(i as u32, self.bots.len() as u32)
                .unwrap_or_else(|| self.fail("a shard id out of range"));
            let mut builder = Config::builder("wss://sim.invalid/websocket/", Intents::non_privileged())
                .shard(shard)
                .seed(self.rng.next_u64())
                .ack_handled(true);
            if let Some(session) = self.store[i].clone() {
                builder = builder.session(session);
            }
            let config = builder.build().unwrap_or_else(|e| self.fail(format!("config: {e}")));
            self.bots[i] = Bot {
                machine: Some(GatewayMachine::new(config, now)),
                told: now,
                saved: self.store[i].clone(),
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
                    self.store[i].as_ref().and_then(|x| Some((qq::parse_session_id(&x.id)?, x.seq)))
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
        self.qq.process_died(now, self.epoch);
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
            self.qq.abandoned(id, now);
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
            let closing = machine.state() == State::Closing;
            let keeps_up = bot.queue.len() < MAX_IN_FLIGHT && machine.unacked() < MAX_IN_FLIGHT;
            let reading = bot.conn.is_some() && (keeps_up || closing);
            let paused = bot.conn.is_some() && !reading;
            if paused == bot.read_paused {
                break;
            }
            bot.read_paused = paused;
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
        if machine.unacked() > MAX_IN_FLIGHT + 1 || bot.queue.len() > MAX_IN_FLIGHT + 1 {
            let (unacked, queued) = (machine.unacked(), bot.queue.len());
            self.fail(format!(
                "shard {i}: {unacked} events unacknowledged, {queued} queued: reading did not pause"
            ));
        }
        self.summary.max_queues.1 = self.summary.max_queues.1.max(bot.queue.len());
        if machine.state() == State::Terminated {
            if bot.finishing.is_none() {
                bot.finishing = Some(now + SHUTDOWN_TIMEOUT);
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
                        let started =
                            self.qq.client_text(&mut self.sched, &mut self.rng, id, &text, self.epoch);
                        if let Some((s, identified)) = started {
                            if identified {
                                self.ledger.new_session(s, i);
                            }
                            self.note(i, if identified { "identify" } else { "resume" }, u64::from(s));
                            if let Some(every) = self.cfg.faults.rotation {
                                let at = between(&mut self.rng, every * 5 / 6, every * 7 / 6);
                                self.sched.after(at, Ev::Rotate(id));
                            }
                        }
                    }
                }
                Output::Close(frame) => self.close(i, frame),
                Output::Abandon => {
                    if let Some(id) = self.bots[i].conn.take() {
                        self.qq.abandoned(id, now);
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
        let name = input.name();
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
            let id = self.qq.open(&mut self.sched, &mut self.rng, i, self.epoch);
            self.bots[i].conn = Some(id);
            self.note(i, "connected", id);
            Input::Connected
        };
        self.input(i, input);
        self.settle(i);
    }

    fn close(&mut self, i: usize, frame: CloseFrame<'static>) {
        self.note(i, "close", u64::from(frame.code.0));
        match self.bots[i].conn {
            Some(id) => self.qq.client_close(&mut self.sched, id, frame),
            None => self.input(i, Input::Closed(None)),
        }
    }

    fn refresh_token(&mut self, i: usize) {
        let now = self.now();
        self.summary.tokens.1 += 1;
        let bot = &mut self.bots[i];
        if let Some((token, fetched)) = &self.token_cache {
            let newer = bot.token_fetched.is_none_or(|held| *fetched > held);
            if newer && now.saturating_duration_since(*fetched) < TOKEN_REUSE && token.expires_at() > now {
                bot.token_fetched = Some(*fetched);
                let token = token.clone();
                return self.input(i, Input::Token(token));
            }
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
            let token = self.qq.issue_token(now);
            self.token_cache = Some((token.clone(), now));
            self.bots[i].token_fetched = Some(now);
            self.note(i, "token", token.expires_at().as_millis());
            Input::Token(token)
        };
        self.input(i, input);
        self.settle(i);
    }

    fn pump(&mut self, id: u64) {
        let Some(i) = self.qq.conns.get(&id).map(|c| c.shard) else { return };
        let now = self.now();
        loop {
            let bot = &self.bots[i];
            if bot.conn != Some(id) || bot.read_paused || bot.machine.is_none() {
                return;
            }
            let Some(msg) = self.qq.pop_ready(id, now) else { break };
            self.deliver(i, id, msg);
        }
        if let Some(at) = self.qq.next_ready(id) {
            if at > now {
                self.sched.at(at, Ev::Pump(id));
            }
        }
    }

    fn deliver(&mut self, i: usize, id: u64, msg: Msg) {
        let now = self.now();
        match msg {
            Msg::Text(text) => self.input(i, Input::Text(&text)),
            Msg::Binary(bytes) => self.input(i, Input::Binary(&bytes)),
            Msg::Close(frame) => {
                self.note(i, "closed by QQ", u64::from(frame.code.0));
                self.bots[i].conn = None;
                self.qq.finished(id, now);
                self.input(i, Input::Closed(Some(frame)));
            }
            Msg::Drop => {
                self.note(i, "dropped", 0);
                self.bots[i].conn = None;
                self.qq.finished(id, now);
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
                let key = match (d.name(), d.id()) {
                    ("READY" | "RESUMED", _) => {
                        if d.name() == "READY" {
                            let id = self.bots[i].machine.as_ref().and_then(GatewayMachine::session_id);
                            if let Some(s) = id.and_then(qq::parse_session_id) {
                                self.ledger.ready_seen(s);
                            }
                        }
                        self.recovered(i);
                        None
                    }
                    (_, Some(id)) if id.starts_with('B') => None,
                    (_, Some(id)) => match qq::parse_event_id(id) {
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
                match qq::parse_session_id(&session.id) {
                    Some(s) => self.ledger.gap(s, session.seq),
                    None => self.fail(format!("shard {i} lost a session QQ never gave: {}", session.id)),
                }
            }
            Event::DecodeFailed(_) => self.summary.decode_failures += 1,
            Event::TokenRefreshFailed(_) => self.note(i, "token renewal failed", 0),
            Event::Fatal(error) => self.fail(format!("shard {i} stopped for good: {error}")),
            Event::Closed(_) => self.note(i, "closed", 0),
        }
    }

    fn recovered(&mut self, i: usize) {
        let now = self.now();
        let remaining = self.qq.remaining(now);
        let bot = &mut self.bots[i];
        bot.active = true;
        bot.waits_for_budget = false;
        let Some(down) = bot.down.take() else { return };
        let took = now.saturating_duration_since(down.since);
        let flapping = self.qq.flap_until[i] > down.since;
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
        self.bots[i].handled_since_save += 1;
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

    // ----- the session store -----

    /// The adapter's cadence: once the session differs from the one saved, at most every
    /// [`SAVE_EVERY`], at once after [`SAVE_AFTER_EVENTS`] handled events.
    fn schedule_save(&mut self, i: usize) {
        let now = self.now();
        let bot = &mut self.bots[i];
        let Some(machine) = bot.machine.as_ref() else { return };
        let saved = bot.saved.as_ref().map(|s| (s.id.as_str(), s.last_seq()));
        let current = machine.session_id().map(|id| (id, machine.checkpoint()));
        if bot.save_due.is_some() || saved == current {
            return;
        }
        let due = match bot.last_save {
            Some(last) if bot.handled_since_save < SAVE_AFTER_EVENTS => (last + SAVE_EVERY).max(now),
            _ => now,
        };
        bot.save_due = Some(due);
    }

    fn save(&mut self, i: usize) {
        let now = self.now();
        let bot = &mut self.bots[i];
        bot.save_due = None;
        let Some(machine) = bot.machine.as_ref() else { return };
        let session = machine.session();
        if session == bot.saved {
            return;
        }
        self.store[i] = session.clone();
        bot.saved = session;
        bot.last_save = Some(now);
        bot.handled_since_save = 0;
        self.summary.saves += 1;
    }
}

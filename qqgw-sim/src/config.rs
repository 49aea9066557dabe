//! What to simulate: the bot, QQ's budget, and how often each fault strikes.

use core::time::Duration;

use qqgw_fake::QqConfig;
use qqgw_proto::SessionStartLimit;

pub(crate) const MINUTE: Duration = Duration::from_secs(60);
pub(crate) const HOUR: Duration = Duration::from_secs(3600);

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
    /// The facts QQ's model follows ([`QqConfig`]): QQ's documented values by default —
    /// the heartbeat interval, token lifetime, replay buffer, resume window, how RESUMED is
    /// numbered, and `session_start_limit` (1,000 IDENTIFYs a day, one per 5 s). Its
    /// `shards` is this run's [`shards`](Self::shards).
    pub qq: QqConfig,
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
            qq: QqConfig { shards, ..QqConfig::default() },
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
            "cargo run -p qqgw-sim --example simulate -- --seed {} --days {days} --shards {}",
            self.seed, self.shards
        );
        let default = SimConfig::new(self.seed, self.shards, 1);
        if self.event_every != default.event_every {
            command.push_str(&format!(" --event-every {}", self.event_every.as_secs_f64()));
        }
        let (limit, default_limit) = (self.qq.session_start_limit, default.qq.session_start_limit);
        if (limit.total, limit.remaining) != (default_limit.total, default_limit.remaining) {
            command.push_str(&format!(" --budget {}", limit.total));
        }
        if limit.max_concurrency != default_limit.max_concurrency {
            command.push_str(&format!(" --concurrency {}", limit.max_concurrency));
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

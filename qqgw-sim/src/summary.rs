//! What a run did.

use std::collections::BTreeMap;
use std::fmt;

use core::time::Duration;

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
    /// RESUMEDs that carried a sequence number (QQ's model decides:
    /// [`QqConfig::resumed_seq`](qqgw_fake::QqConfig::resumed_seq)).
    pub resumed_numbered: u64,
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
    pub(crate) fn percentile(&self, p: usize) -> Duration {
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

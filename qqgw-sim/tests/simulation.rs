//! The deterministic simulation of a whole bot (`qqgw_sim`): 16 shards
//! for a simulated month, every seed that once found a bug, and checks that the
//! simulation's own checks bite.
//!
//! Knobs for long runs (the defaults are what CI runs):
//!
//! - `QQGW_SIM_DAYS`: simulated days of the 16-shard run (default 30);
//! - `QQGW_SIM_SEEDS`: how many seeds `random_seeds` runs, from `QQGW_SIM_SEED` (default 1000) on
//!   (default 0);
//!
//! ```sh
//! QQGW_SIM_SEEDS=20 QQGW_SIM_DAYS=7 cargo test --release -p qqgw-sim --test simulation -- random_seeds --nocapture
//! ```
//!
//! A failing run panics with its seed and the command that replays it; add the seed to
//! `REGRESSIONS` once the bug is fixed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use core::time::Duration;

use qqgw_proto::SessionStartLimit;
use qqgw_sim::{self as sim, Faults, SimConfig};

/// A run that once found a bug: its seed and the settings that differ from the default.
struct Regression {
    seed: u64,
    shards: u32,
    days: u32,
    /// `session_start_limit`'s daily total and `max_concurrency`.
    budget: Option<(u32, u32)>,
    restart_hours: Option<u64>,
    /// Every fault this many times as often.
    chaos: Option<u32>,
    /// Mean seconds between two events of a shard.
    event_every: Option<u64>,
}

/// Every run that found a bug (see fuzz/README.md's findings).
const REGRESSIONS: &[Regression] = &[
    // Finding 2 (the checker's): shards waiting for the daily IDENTIFY budget were taken
    // for slow recoveries, and one still waiting at the end for a shard that never got ready.
    Regression {
        seed: 1,
        shards: 4,
        days: 2,
        budget: Some((12, 1)),
        restart_hours: Some(3),
        chaos: None,
        event_every: None,
    },
    // Finding 1 (a gap no event reports): QQ went silent right after taking an IDENTIFY,
    // so its READY never arrived; the machine timed the handshake out and IDENTIFYed
    // again, and the events QQ had sent in the first session were lost with no
    // Event::SessionLost, since the machine never learnt that session's id. Fixed: the
    // machine reports an IDENTIFY without READY as a lost session with no id
    // (`unseen_sessions_are_reported`).
    Regression {
        seed: 9,
        shards: 4,
        days: 1,
        budget: None,
        restart_hours: None,
        chaos: Some(20),
        event_every: None,
    },
    // Finding 3 (the checker's): a restarted process's machines start with a full storm
    // budget, so the minute around a restart under flapping held 26 instant reconnects of
    // two processes. The budget is counted per process.
    Regression {
        seed: 10,
        shards: 4,
        days: 1,
        budget: None,
        restart_hours: Some(1),
        chaos: Some(10),
        event_every: None,
    },
    // Finding 6 (the checker's): a token asked for before a graceful restart was answered
    // after the machine had stopped, and the refusal taken for a breach. An adapter stops
    // driving a stopped machine; so does the simulation now.
    Regression {
        seed: 91064,
        shards: 8,
        days: 2,
        budget: None,
        restart_hours: Some(1),
        chaos: Some(30),
        event_every: Some(5),
    },
];

impl Regression {
    fn config(&self) -> SimConfig {
        let mut config = SimConfig::new(self.seed, self.shards, self.days);
        if let Some((total, max_concurrency)) = self.budget {
            config.qq.session_start_limit = SessionStartLimit {
                total,
                remaining: total,
                max_concurrency,
                ..SessionStartLimit::default()
            };
        }
        if let Some(factor) = self.chaos {
            config.faults = config.faults.more_often(factor);
        }
        if let Some(hours) = self.restart_hours {
            config.faults.restart = Some(Duration::from_secs(hours * 3600));
        }
        if let Some(secs) = self.event_every {
            config.event_every = Duration::from_secs(secs);
        }
        config
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn check(summary: &sim::Summary) {
    println!("{summary}");
    assert!(summary.events_generated > 0);
    assert_eq!(
        summary.events_handled + summary.lost_in_gaps + summary.lost_unseen,
        summary.events_generated + summary.duplicates,
        "every event handled once, or lost in a reported gap or with a READY never received, plus the duplicates"
    );
    assert!(summary.duplicates <= summary.duplicate_bound);
}

#[test]
fn sixteen_shards_for_a_month() {
    let days = u32::try_from(env("QQGW_SIM_DAYS", 30)).unwrap();
    let summary = sim::run(&SimConfig::new(1, 16, days));
    check(&summary);
    assert!(summary.recoveries.len() > 100, "{summary}");
    assert!(summary.gaps > 0 && summary.identifies > 16, "sessions were lost and re-identified: {summary}");
}

#[test]
fn regression_seeds() {
    for regression in REGRESSIONS {
        check(&sim::run(&regression.config()));
    }
}

#[test]
fn unseen_sessions_are_reported() {
    // An IDENTIFY whose READY never arrived: the events of the session QQ started are
    // lost, and reported as a lost session with no id.
    let summary = sim::run(&REGRESSIONS[1].config());
    check(&summary);
    assert_eq!(summary.lost_unseen, 0, "{summary}");
    assert!(summary.lost_in_gaps > 0, "{summary}");
}

#[test]
fn random_seeds() {
    let first = env("QQGW_SIM_SEED", 1000);
    let days = u32::try_from(env("QQGW_SIM_DAYS", 30)).unwrap();
    for seed in first..first + env("QQGW_SIM_SEEDS", 0) {
        check(&sim::run(&SimConfig::new(seed, 16, days)));
    }
}

#[test]
fn a_seed_replays_its_run_exactly() {
    let config = SimConfig::new(42, 4, 2);
    assert_eq!(sim::run(&config), sim::run(&config));
    let other = sim::run(&SimConfig { seed: 43, ..config.clone() });
    assert_ne!(sim::run(&config).events_generated, other.events_generated);
}

#[test]
fn crashes_and_a_tight_budget() {
    // Restarts every few hours, 8 shards that IDENTIFY two at a time, 60 a day.
    let mut config = SimConfig::new(7, 8, 4);
    config.faults.restart = Some(Duration::from_secs(4 * 3600));
    config.qq.session_start_limit =
        SessionStartLimit { total: 60, remaining: 60, reset_after: 86_400_000, max_concurrency: 2 };
    let summary = sim::run(&config);
    check(&summary);
    assert!(summary.restarts.0 + summary.restarts.1 >= 10, "{summary}");
}

#[test]
fn no_faults_means_no_gaps() {
    let mut config = SimConfig::new(3, 4, 2);
    config.faults = Faults::none();
    let summary = sim::run(&config);
    check(&summary);
    assert_eq!((summary.gaps, summary.duplicates, summary.identifies), (0, 0, 4), "{summary}");
}

#[test]
#[should_panic(expected = "over max_concurrency")]
fn a_pacer_that_breaks_the_rule_is_caught() {
    let mut config = SimConfig::new(5, 16, 1);
    config.pacer_limit = Some(SessionStartLimit { max_concurrency: 16, ..SessionStartLimit::default() });
    let _ = sim::run(&config);
}

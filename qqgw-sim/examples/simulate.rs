//! Runs the deterministic simulation of a whole bot (`qqgw_sim`) and prints
//! what it did.
//!
//! ```sh
//! cargo run --release -p qqgw-sim --example simulate -- --seed 7 --days 30 --shards 16
//! ```
//!
//! `--seeds N` runs N seeds from `--seed` on (a failing one panics with its seed and the
//! command that replays it); `--event-every S` sets the mean seconds between two events
//! of a shard (default 60); `--budget N` and `--concurrency C` set QQ's
//! `session_start_limit` (default 1000 a day, 1 per 5 s); `--restart-hours H` the mean time
//! between two process restarts (default 72); `--chaos F` makes every fault F times as
//! frequent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use core::time::Duration;
use qqgw_sim::{self as sim, SimConfig};

const USAGE: &str = "usage: simulate [--seed N] [--seeds N] [--days D] [--shards S] [--event-every SECS] \
                     [--budget N] [--concurrency C] [--restart-hours H] [--chaos F]";

/// Prints `message` and the usage to stderr and exits with status 2.
fn usage_error(message: &str) -> ! {
    eprintln!("simulate: {message}\n{USAGE}");
    std::process::exit(2);
}

/// The value after `flag`, parsed.
fn value<T: core::str::FromStr>(flag: &str, args: &mut impl Iterator<Item = String>) -> T {
    let Some(text) = args.next() else { usage_error(&format!("{flag} needs a value")) };
    text.parse().unwrap_or_else(|_| usage_error(&format!("{flag}: not a number: {text}")))
}

fn main() {
    let mut seed = 1u64;
    let mut seeds = 1u64;
    let mut days = 30u32;
    let mut shards = 16u32;
    let mut event_every = None;
    let (mut budget, mut concurrency, mut restart_hours, mut chaos) = (None, None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let args = &mut args;
        match arg.as_str() {
            "--seed" => seed = value(&arg, args),
            "--seeds" => seeds = value(&arg, args),
            "--days" => days = value(&arg, args),
            "--shards" => shards = value(&arg, args),
            "--event-every" => event_every = Some(value::<f64>(&arg, args)),
            "--budget" => budget = Some(value::<u32>(&arg, args)),
            "--concurrency" => concurrency = Some(value::<u32>(&arg, args)),
            "--chaos" => chaos = Some(value::<u32>(&arg, args)),
            "--restart-hours" => restart_hours = Some(value::<f64>(&arg, args)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => usage_error(&format!("unknown argument {other}")),
        }
    }
    let (mut simulated, mut wall) = (Duration::ZERO, Duration::ZERO);
    for seed in seed..seed + seeds {
        let mut config = SimConfig::new(seed, shards, days);
        if let Some(every) = event_every {
            config.event_every = Duration::from_secs_f64(every);
        }
        if let Some(factor) = chaos {
            config.faults = config.faults.more_often(factor);
        }
        if let Some(total) = budget {
            let limit = &mut config.qq.session_start_limit;
            (limit.total, limit.remaining) = (total, total);
        }
        if let Some(c) = concurrency {
            config.qq.session_start_limit.max_concurrency = c;
        }
        if let Some(hours) = restart_hours {
            config.faults.restart = Some(Duration::from_secs_f64(hours * 3600.0));
        }
        let started = Instant::now();
        let summary = sim::run(&config);
        let took = started.elapsed();
        println!("{summary}");
        println!(
            "wall {:.2}s: {:.0}× real time ({:.0} shard-seconds per second)\n",
            took.as_secs_f64(),
            summary.simulated.as_secs_f64() / took.as_secs_f64(),
            summary.simulated.as_secs_f64() * f64::from(shards) / took.as_secs_f64()
        );
        simulated += summary.simulated;
        wall += took;
    }
    if seeds > 1 {
        println!(
            "{seeds} seeds: {:.1} simulated days in {:.2}s wall: {:.0}× real time",
            simulated.as_secs_f64() / 86_400.0,
            wall.as_secs_f64(),
            simulated.as_secs_f64() / wall.as_secs_f64()
        );
    }
}

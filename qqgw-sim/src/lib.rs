//! A deterministic simulation of a whole qqgw bot against the model of QQ, for simulated
//! months.
//!
//! [`run`] drives N [`GatewayMachine`]s exactly as `qqgw-client`'s shard task does — the
//! drain contract, timers, and the task's own sans-IO policy (`qqgw_client::policy`): the
//! shared [`TokenCache`], the [`ReadGate`] that pauses reading when the consumer lags
//! (tell the machine [`Input::ReadPaused`]), the [`SaveSchedule`] of the session store
//! (200 ms / 1,000 events, and at close), with the client's defaults; one identify pacer
//! per process; a consumer that acknowledges each event ([`Input::Handled`]). QQ is
//! [`qqgw_fake::Qq`], the model behind qqgw's mock server and fake gateway — sessions,
//! sequence numbers and replay buffers, `session_start_limit`, tokens that expire — over a
//! simulated network with a latency per connection, with faults from a seeded schedule:
//!
//! | fault | how often (default) |
//! |---|---|
//! | rotation: op 7 or close 4009 | every 30 min ± 5 min per connection |
//! | zombie: QQ goes silent | every 12 h per shard |
//! | TCP drop (frames in flight lost) | every 6 h per shard |
//! | refused RESUME: op 9 `false`, 4006, 4007, 4900–4913 (or op 9 `true`) | every 8 h per shard (the next RESUME), and any RESUME of a session idle past QQ's resume window |
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
//! use qqgw_sim::SimConfig;
//!
//! let summary = qqgw_sim::run(&SimConfig::new(7, 2, 1));
//! assert!(summary.events_generated > 0);
//! assert_eq!(
//!     summary.events_handled + summary.lost_in_gaps + summary.lost_unseen,
//!     summary.events_generated + summary.duplicates
//! );
//! println!("{summary}");
//! ```
//!
//! [`Instant`]: qqgw_proto::Instant
//! [`GatewayMachine`]: qqgw_proto::GatewayMachine
//! [`Input::ReadPaused`]: qqgw_proto::Input::ReadPaused
//! [`Input::Handled`]: qqgw_proto::Input::Handled
//! [`TokenCache`]: qqgw_client::policy::TokenCache
//! [`ReadGate`]: qqgw_client::policy::ReadGate
//! [`SaveSchedule`]: qqgw_client::policy::SaveSchedule
#![forbid(unsafe_code)]
// A simulation panics to fail its test, with the seed that replays it; shard indices are
// below the shard count by construction.
#![allow(clippy::panic, clippy::indexing_slicing)]

mod config;
mod ledger;
mod net;
mod rng;
mod summary;
mod world;

pub use config::{Faults, SimConfig};
pub use summary::Summary;
pub use world::run;

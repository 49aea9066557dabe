//! The decisions a shard's task makes besides the protocol's, as sans-IO values: when to
//! save the session ([`SaveSchedule`]), when to stop reading for a lagging consumer
//! ([`ReadGate`]), and when a token fetched for one shard serves another
//! ([`TokenCache`]).
//!
//! The task that drives a shard (`Client`'s) holds the IO — the socket, the store, the
//! HTTP call — and asks these values what to do; so does qqgw's deterministic simulation,
//! which drives a whole bot on a virtual clock with the same code. Each takes the time as
//! a [`qqgw_proto::Instant`] on the caller's clock and never reads one.

mod read_gate;
mod save;
mod token_cache;

pub use read_gate::ReadGate;
pub use save::{SAVE_AFTER_EVENTS, SAVE_EVERY, SaveSchedule};
pub use token_cache::{API_TOKEN_MARGIN, TOKEN_REUSE, TokenCache};

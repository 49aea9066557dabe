//! The sans-IO protocol core of the QQ Bot gateway.
#![forbid(unsafe_code)]

mod close;
mod dispatch;
mod envelope;
mod error;
mod intents;
mod machine;
pub mod model;
mod opcode;
mod shard;
mod time;

pub use close::{CloseAction, CloseCode, CloseFrame};
pub use dispatch::Dispatch;
pub use envelope::Envelope;
pub use error::{ConfigError, DecodeError, FatalError, TokenError, UsageError};
pub use intents::Intents;
pub use machine::State;
pub use opcode::OpCode;
pub use shard::{InvalidShard, ShardId, shard_for_guild};
pub use time::Instant;

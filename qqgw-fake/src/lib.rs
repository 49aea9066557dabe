#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod config;
mod harness;
mod ids;
pub mod openapi;
mod output;
mod qq;
mod script;
mod session;
mod tokens;

pub use config::{QqConfig, ResumedSeq};
pub use harness::{FakeGateway, Harness, Record, TokenPolicy};
pub use output::{ConnId, Note, Output, PacingKind, ResumeRefusal, TokenOutcome};
pub use qq::{Qq, Refusal, Target};
pub use script::Dispatched;

//! The tokio runtime adapter of qqgw (in development).
//!
//! This crate will drive [`qqgw_proto::GatewayMachine`] on tokio. Until its adapter lands
//! it only re-exports the protocol core.
#![forbid(unsafe_code)]

pub use qqgw_proto as proto;

//! What tests of the machine, and of bots built on it, need from the protocol crate
//! (feature `testing`): the frames QQ's gateway sends ([`frames`]), proptest generators of
//! everything a server and an adapter can do ([`strategy`]), and a driver that plays the
//! adapter and checks the machine's invariants after every step ([`Driver`]), which the
//! fuzz target and the property tests share.
//!
//! The model of QQ itself, and the virtual-clock harness that runs a machine against it
//! (`Harness`, `FakeGateway`), are in the `qqgw-fake` crate, behind every fake qqgw has:
//! the mock server and the simulation too.
//!
//! # Examples
//!
//! A property test of your own over the published generators:
//!
//! ```
//! use proptest::prelude::*;
//! use qqgw_proto::testing::strategy;
//!
//! proptest!(|(steps in proptest::collection::vec(strategy::server_step(), 1..20))| {
//!     prop_assert!(!steps.is_empty());
//! });
//! ```
//!
//! The driver is test code: it panics, failing the test, when the machine breaks an
//! invariant.
#![allow(clippy::panic)]

mod driver;
pub mod frames;
pub mod strategy;

pub use driver::{AUTO_TOKEN_LIFETIME, Driver, DriverOptions, LIVENESS_HORIZON, MAX_OUTPUTS_PER_DRAIN};

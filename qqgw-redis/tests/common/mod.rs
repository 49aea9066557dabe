//! Helpers shared by the integration tests (each test binary uses some of them).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod children;
pub mod handler;
pub mod ledger;
pub mod proxy;
pub mod redis_server;

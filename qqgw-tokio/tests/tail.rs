//! The `tail` example as a user runs it, against the mock gateway.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[macro_use]
#[path = "../../tests/support/tail_check.rs"]
mod tail_check;

tail_tests!("tail");

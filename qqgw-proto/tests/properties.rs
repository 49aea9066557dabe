//! Properties over random input sequences: whatever the network, the clock and the
//! adapter do, the machine keeps its invariants.
//!
//! The steps come from the published generators (`qqgw_proto::testing::strategy`) mixed
//! with the answers a well-behaved QQ would give, and `qqgw_proto::testing::Driver` —
//! the same checker the `machine` fuzz target uses — asserts the invariants after every
//! step: no wake-up in the past, no heartbeat before HELLO, one IDENTIFY/RESUME per
//! connection, seqs increasing within a session, nothing after the single terminal event,
//! refused input changing nothing, every drain settling.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use qqgw_proto::testing::strategy::{self, Step};
use qqgw_proto::testing::{Driver, DriverOptions};
use qqgw_proto::{Config, Instant, Intents};

/// Steps mixed with the answers QQ owes (HELLO, READY, RESUMED, ACK).
fn steps() -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(prop_oneof![3 => strategy::step(), 2 => Just(Step::Reply)], 1..150)
}

fn run(steps: &[Step], seed: u64, options: DriverOptions) {
    let config = Config::builder("wss://fake/", Intents::non_privileged()).seed(seed).build().unwrap();
    let mut driver = Driver::new(config, Instant::ZERO, options);
    for step in steps {
        // Refusals are checked by the driver; whether one happens is the steps' business.
        let _ = driver.step(step);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The adapter's reports (connected, tokens, closes) come as steps, in any order.
    #[test]
    fn invariants_hold_for_any_input_sequence(steps in steps(), seed in any::<u64>()) {
        run(&steps, seed, DriverOptions::default());
    }

    /// An adapter that answers connects and token requests at once, so that sessions
    /// get far, with closes confirmed late.
    #[test]
    fn invariants_hold_with_a_prompt_adapter(steps in steps(), seed in any::<u64>()) {
        run(&steps, seed, DriverOptions { auto: true, defer_close: true, liveness: true });
    }
}

//! Properties over random input sequences: whatever the network, the clock and the
//! adapter do, the machine keeps its invariants.
//!
//! The steps come from the published generators (`qqgw_proto::testing::strategy`) mixed
//! with the answers a well-behaved QQ would give, and `qqgw_proto::fuzzing::Driver` —
//! the same checker the `machine` fuzz target uses — asserts the invariants after every
//! step: no wake-up in the past, no heartbeat before HELLO, one IDENTIFY/RESUME per
//! connection, seqs increasing within a session, nothing after the single terminal event,
//! refused input changing nothing, every drain settling.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use qqgw_proto::fuzzing::{Driver, Options};
use qqgw_proto::testing::strategy::{self, Step};
use qqgw_proto::{Config, Instant, Intents};

#[derive(Debug, Clone)]
enum Move {
    Step(Step),
    /// The answer QQ owes (HELLO, READY, RESUMED, ACK), if any.
    Reply,
}

fn moves() -> impl Strategy<Value = Vec<Move>> {
    proptest::collection::vec(
        prop_oneof![3 => strategy::step().prop_map(Move::Step), 2 => Just(Move::Reply)],
        1..150,
    )
}

fn run(moves: &[Move], seed: u64, options: Options) {
    let config = Config::builder("wss://fake/", Intents::non_privileged()).seed(seed).build().unwrap();
    let mut driver = Driver::new(config, Instant::ZERO, options);
    for m in moves {
        let now = driver.now();
        match m {
            Move::Reply => {
                let _ = driver.reply();
            }
            Move::Step(Step::Tick(by)) => {
                driver.tick(*by);
            }
            Move::Step(Step::Wake) => {
                driver.wake();
            }
            Move::Step(Step::Close) => {
                let _ = driver.close();
            }
            Move::Step(step) => {
                if let Some(input) = step.input(now) {
                    let _ = driver.input(input);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The adapter's reports (connected, tokens, closes) come as steps, in any order.
    #[test]
    fn invariants_hold_for_any_input_sequence(moves in moves(), seed in any::<u64>()) {
        run(&moves, seed, Options::default());
    }

    /// An adapter that answers connects and token requests at once, so that sessions
    /// get far, with closes confirmed late.
    #[test]
    fn invariants_hold_with_a_prompt_adapter(moves in moves(), seed in any::<u64>()) {
        run(&moves, seed, Options { auto: true, defer_close: true, liveness: true });
    }
}

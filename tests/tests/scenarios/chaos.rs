//! Clustered faults against the client with the machine's default timings: a seeded plan
//! of every fault QQ has been seen to produce, one every 1.5–4 s, while events flow.
//!
//! `QQGW_SOAK_SECS` sets the length (default 60 s), `QQGW_SOAK_SEED` the plan.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use qqgw_client::{Client, Config, Event, Intents, Runtime};
use qqgw_mock::MockGateway;

use super::{bounded, mock_with, sleep};

/// The faults of the plan. Each cycle of the plan has every one of them once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Rotation4009,
    Reconnect7,
    Zombie,
    TcpDrop,
    JunkFrame,
    /// The RESUME after a 4009 is refused with op 9 `false`: the client IDENTIFYs anew.
    InvalidSessionOnResume,
    /// The token endpoint answers `100001` to the next renewals; a 4009 makes the client
    /// reconnect with the token it holds.
    TokenRateLimited,
}

const FAULTS: [Fault; 7] = [
    Fault::Rotation4009,
    Fault::Reconnect7,
    Fault::Zombie,
    Fault::InvalidSessionOnResume,
    Fault::TcpDrop,
    Fault::JunkFrame,
    Fault::TokenRateLimited,
];

/// The machine's own timings: only the endpoints are the mock's.
fn default_config(mock: &MockGateway) -> qqgw_client::Config {
    Config::builder(mock.config().app_id.clone(), mock.config().secret.clone())
        .api_base(mock.api_base())
        .token_url(mock.token_url())
        .intents(Intents::non_privileged() | Intents::GROUP_AND_C2C_EVENT)
        .allow_insecure(true)
        .build()
}

/// The longest a fault may keep events from the handler.
const RECOVERY: Duration = Duration::from_secs(2);
const EVENT_EVERY: Duration = Duration::from_millis(20);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// SplitMix64: the plan's randomness, from the seed alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The plan: (pause before the fault, fault). Every cycle shuffles the faults but keeps
/// the op 9 one in the middle, so that its re-IDENTIFY never waits for the 5 s pacing of
/// the one before (the first IDENTIFY included).
fn plan(seed: u64, length: Duration) -> Vec<(Duration, Fault)> {
    let mut rng = Rng(seed);
    let mut plan = Vec::new();
    let mut total = Duration::ZERO;
    while total < length {
        let mut cycle: Vec<Fault> =
            FAULTS.iter().copied().filter(|f| *f != Fault::InvalidSessionOnResume).collect();
        for i in (1..cycle.len()).rev() {
            let j = usize::try_from(rng.next() % (i as u64 + 1)).unwrap();
            cycle.swap(i, j);
        }
        cycle.insert(3, Fault::InvalidSessionOnResume);
        for fault in cycle {
            let pause = Duration::from_millis(1_500 + rng.next() % 2_500);
            total += pause;
            if total >= length {
                break;
            }
            plan.push((pause, fault));
        }
    }
    plan
}

#[derive(Default)]
struct Tally {
    /// Events generated (`n` → when), and how often each was handled.
    generated: BTreeMap<u64, Instant>,
    handled: BTreeMap<u64, u32>,
    /// When each event was handled, in order.
    handled_at: Vec<Instant>,
}

pub(crate) async fn chaos_soak_loses_nothing_and_recovers_within_two_seconds<R: Runtime + Default>() {
    let secs = env_u64("QQGW_SOAK_SECS", 60);
    let seed = env_u64("QQGW_SOAK_SEED", 17);
    let plan = plan(seed, Duration::from_secs(secs));
    bounded::<R, _>(Duration::from_secs(secs + 60), async move {
        let mock = mock_with(|c| {
            c.heartbeat_interval = Duration::from_millis(500);
            // Tokens live 90 s, so past their first 30 s every reconnect renews them.
            c.token_lifetime = Duration::from_secs(90);
        });
        let config = default_config(&mock);
        let mut client = Client::<R>::connect(config).await.unwrap();
        let mut events = client.take_events().unwrap();
        let shard = client.shards()[0].clone();
        let tally = Arc::new(Mutex::new(Tally::default()));
        let (paused, done) = (AtomicBool::new(false), AtomicBool::new(false));

        let consume = async {
            while let Some(event) = events.next().await {
                if let Event::Dispatch(d) = event.event {
                    if d.name() == "GROUP_AT_MESSAGE_CREATE" {
                        let n = d.parse::<serde_json::Value>().unwrap()["n"].as_u64().unwrap();
                        let mut tally = tally.lock().unwrap();
                        *tally.handled.entry(n).or_default() += 1;
                        tally.handled_at.push(Instant::now());
                    }
                }
            }
        };
        let generate = async {
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                if !paused.load(Ordering::SeqCst) {
                    let s = mock.dispatch(0, "GROUP_AT_MESSAGE_CREATE", serde_json::json!({ "n": n }));
                    if s > 0 {
                        tally.lock().unwrap().generated.insert(n, Instant::now());
                        n += 1;
                    }
                }
                sleep::<R>(EVENT_EVERY).await;
            }
        };
        let inject = async {
            let mut injected = Vec::new();
            for (pause, fault) in &plan {
                sleep::<R>(*pause).await;
                // Every planned fault is injected: on a live session.
                wait_for::<R>(|| shard.is_ready(), "the shard to be ready").await;
                let at = Instant::now();
                inject_fault::<R>(&mock, *fault, &paused, &tally, &shard).await;
                injected.push((*fault, at));
            }
            // Events go on long enough to see the last fault's recovery.
            sleep::<R>(RECOVERY + Duration::from_secs(1)).await;
            done.store(true, Ordering::SeqCst);
            // Everything generated is handled before the client stops.
            wait_for::<R>(
                || {
                    let t = tally.lock().unwrap();
                    t.generated.keys().all(|n| t.handled.contains_key(n))
                },
                "every event to be handled",
            )
            .await;
            injected
        };
        let stop = async {
            let injected = inject.await;
            let sessions = client.shutdown().await.unwrap();
            (injected, sessions)
        };
        let ((injected, _sessions), (), ()) = futures_util::join!(stop, consume, generate);

        let tally = tally.lock().unwrap();
        let lost: Vec<&u64> = tally.generated.keys().filter(|n| !tally.handled.contains_key(n)).collect();
        let twice: Vec<(&u64, &u32)> = tally.handled.iter().filter(|(_, c)| **c > 1).collect();
        assert!(lost.is_empty(), "lost {} of {}: {lost:?}", lost.len(), tally.generated.len());
        assert!(twice.is_empty(), "handled more than once: {twice:?}");
        assert_eq!(injected.len(), plan.len(), "every planned fault was injected");
        let mut recoveries = Vec::new();
        for (fault, at) in &injected {
            // Recovery: from the fault to the next event handled.
            let next = tally.handled_at.iter().find(|t| *t > at).copied();
            let took = next.map_or(Duration::MAX, |t| t - *at);
            recoveries.push((took, *fault));
        }
        recoveries.sort();
        let worst = recoveries.last().copied();
        eprintln!(
            "chaos soak: seed {seed}, {} faults, {} events, recovery p50 {:?}, max {worst:?}",
            injected.len(),
            tally.generated.len(),
            recoveries.get(recoveries.len() / 2).map(|r| r.0),
        );
        assert!(worst.is_none_or(|(took, _)| took <= RECOVERY), "recoveries: {recoveries:?}");
    })
    .await;
}

async fn inject_fault<R: Runtime + Default>(
    mock: &MockGateway,
    fault: Fault,
    paused: &AtomicBool,
    tally: &Mutex<Tally>,
    shard: &qqgw_client::Shard,
) {
    match fault {
        Fault::Rotation4009 => {
            mock.close(0, 4009);
        }
        Fault::Reconnect7 => {
            mock.reconnect(0);
        }
        Fault::Zombie => {
            mock.zombie(0);
        }
        Fault::TcpDrop => {
            mock.drop_connection(0);
        }
        Fault::JunkFrame => {
            mock.send_raw(0, "{\"op\":0,\"s\":");
        }
        Fault::TokenRateLimited => {
            mock.rate_limit_token_requests(2);
            mock.close(0, 4009);
        }
        Fault::InvalidSessionOnResume => {
            // A new session cannot replay the old one's events: let the client catch up
            // first, and hold new events until the new session is ready.
            paused.store(true, Ordering::SeqCst);
            wait_for::<R>(
                || {
                    let t = tally.lock().unwrap();
                    t.generated.keys().all(|n| t.handled.contains_key(n))
                },
                "the client to catch up",
            )
            .await;
            let identifies = shard.metrics().identifies;
            mock.refuse_resumes(0, 1);
            mock.close(0, 4009);
            wait_for::<R>(|| shard.metrics().identifies > identifies && shard.is_ready(), "a new session")
                .await;
            paused.store(false, Ordering::SeqCst);
        }
    }
}

/// Polls `condition` every 5 ms for at most 10 s.
async fn wait_for<R: Runtime + Default>(mut condition: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep::<R>(Duration::from_millis(5)).await;
    }
}

pub(crate) async fn a_storm_of_op7_after_every_resumed_is_paced_and_keeps_the_session<
    R: Runtime + Default,
>() {
    bounded::<R, _>(Duration::from_secs(40), async {
        let mock = mock_with(|c| c.heartbeat_interval = Duration::from_secs(5));
        let config = default_config(&mock);
        let client = Client::<R>::connect(config).await.unwrap();
        let shard = client.shards()[0].clone();
        wait_for::<R>(|| shard.is_ready(), "READY").await;
        let start = Instant::now();
        let before = shard.metrics().connects;
        // For 20 s, QQ asks for a reconnect the moment each connection is ready.
        while start.elapsed() < Duration::from_secs(20) {
            if shard.is_ready() && mock.connected(0) {
                let connects = shard.metrics().connects;
                mock.reconnect(0);
                wait_for::<R>(|| shard.metrics().connects > connects, "the reconnect").await;
            }
            sleep::<R>(Duration::from_millis(2)).await;
        }
        let m = shard.metrics();
        let connections = m.connects - before;
        assert!(connections <= 12, "{connections} connections in 20 s");
        assert!(connections >= 6, "paced, not stopped: {connections}");
        assert_eq!(m.identifies, 1, "the session was kept");
        client.shutdown().await.unwrap();
    })
    .await;
}

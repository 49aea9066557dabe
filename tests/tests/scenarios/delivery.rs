//! Delivery to the end of a handler: slow handlers, a long replay, many conversations.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qqgw_client::model::GroupMessage;
use qqgw_client::{Client, Context, EventHandler, Runtime};

use super::{bounded, config, mock_with, sleep};

/// `(group, n)` of every event handled, in the order the callbacks finished.
type Handled = Arc<Mutex<Vec<(String, u64)>>>;

/// Sleeps `delay` in every group message callback, then notes `(group, n)`.
struct Slow<R> {
    delay: Duration,
    handled: Handled,
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime + Default> EventHandler for Slow<R> {
    async fn group_at_message_create(&self, ctx: Context, msg: GroupMessage) {
        sleep::<R>(self.delay).await;
        let n = ctx.dispatch().parse::<serde_json::Value>().unwrap()["n"].as_u64().unwrap();
        self.handled.lock().unwrap().push((msg.group_openid.unwrap_or_default(), n));
    }
}

fn slow<R>(delay: Duration) -> (Slow<R>, Handled) {
    let handled = Arc::new(Mutex::new(Vec::new()));
    (Slow { delay, handled: Arc::clone(&handled), runtime: PhantomData }, handled)
}

/// Polls `done` every 10 ms for at most `limit`.
async fn until<R: Runtime + Default>(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        sleep::<R>(Duration::from_millis(10)).await;
    }
    true
}

pub(crate) async fn a_slow_handler_reading_a_5000_event_replay_loses_nothing_and_never_identifies<
    R: Runtime + Default,
>() {
    bounded::<R, _>(Duration::from_secs(60), async {
        let mock = mock_with(|c| c.heartbeat_interval = Duration::from_millis(100));
        let client = Client::<R>::connect(config(&mock).event_buffer(64).handler_concurrency(100).build())
            .await
            .unwrap();
        let shard = client.shards()[0].clone();
        let stop = client.shutdown_handle();
        let (handler, handled) = slow::<R>(Duration::from_millis(50));
        let run = async { client.run(handler).await.unwrap() };
        let script = async {
            assert!(until::<R>(Duration::from_secs(10), || shard.is_ready()).await);
            // The link dies; meanwhile QQ queues 5,000 events for the RESUME to replay, read
            // by a consumer doing a few hundred a second (the ACKs wait behind them).
            mock.zombie(0);
            for n in 0..5_000u64 {
                let group = format!("G{}", n % 100);
                mock.dispatch(
                    0,
                    "GROUP_AT_MESSAGE_CREATE",
                    serde_json::json!({"group_openid": group, "n": n}),
                );
            }
            let all = until::<R>(Duration::from_secs(40), || handled.lock().unwrap().len() >= 5_000).await;
            assert!(all, "handled {} of 5000", handled.lock().unwrap().len());
            stop.close();
        };
        let (_, ()) = futures_util::join!(run, script);
        let record = mock.record();
        assert_eq!(record.identifies().len(), 1, "the session was never given up");
        assert!(!record.resumes().is_empty());
        let m = shard.metrics();
        assert_eq!(m.zombies, 1, "only the planted zombie: a lagging consumer is no dead link");
        let handled = handled.lock().unwrap();
        let distinct: std::collections::BTreeSet<u64> = handled.iter().map(|h| h.1).collect();
        assert_eq!(distinct.len(), 5_000, "every event, once");
        assert_eq!(handled.len(), 5_000);
    })
    .await;
}

pub(crate) async fn a_hundred_conversations_run_side_by_side_each_in_order<R: Runtime + Default>() {
    bounded::<R, _>(Duration::from_secs(60), async {
        let mock = mock_with(|c| c.heartbeat_interval = Duration::from_secs(1));
        let client = Client::<R>::connect(config(&mock).handler_concurrency(64).build()).await.unwrap();
        let shard = client.shards()[0].clone();
        let stop = client.shutdown_handle();
        let delay = Duration::from_millis(200);
        let (handler, handled) = slow::<R>(delay);
        const EVENTS: u64 = 1_600;
        let run = async { client.run(handler).await.unwrap() };
        let script = async {
            assert!(until::<R>(Duration::from_secs(10), || shard.is_ready()).await);
            let start = Instant::now();
            for n in 0..EVENTS {
                let group = format!("G{}", n % 100);
                mock.dispatch(
                    0,
                    "GROUP_AT_MESSAGE_CREATE",
                    serde_json::json!({"group_openid": group, "n": n}),
                );
            }
            let all =
                until::<R>(Duration::from_secs(40), || handled.lock().unwrap().len() as u64 >= EVENTS).await;
            assert!(all);
            let took = start.elapsed();
            stop.close();
            took
        };
        let (_, took) = futures_util::join!(run, script);
        // One at a time, 1,600 events of 200 ms take 320 s.
        let speedup = (delay * EVENTS as u32).as_secs_f64() / took.as_secs_f64();
        eprintln!("100 conversations, 64 at once: {EVENTS} events in {took:?}, {speedup:.0}x one at a time");
        assert!(speedup >= 50.0, "{speedup:.1}x");
        let mut per_group: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (group, n) in handled.lock().unwrap().iter() {
            per_group.entry(group.clone()).or_default().push(*n);
        }
        assert_eq!(per_group.len(), 100);
        for (group, ns) in per_group {
            assert_eq!(ns.len(), 16, "{group}");
            assert!(ns.windows(2).all(|w| w[0] < w[1]), "{group} out of order: {ns:?}");
        }
    })
    .await;
}

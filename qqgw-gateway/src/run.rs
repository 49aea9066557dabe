//! The service: the gateway (a `Cluster` of shards) or a webhook endpoint, the outbox,
//! the samplers, and an orderly end.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use qqgw_client::api::CallError;
use qqgw_client::metrics::{EVENTS_HANDLED, EVENTS_RECEIVED, EventCounter};
use qqgw_client::{Api, Config, Dispatch, Event, Runtime, ShardId, Shards};
use qqgw_redis::{Claim, Cluster, ClusterConfig, EventDedup, Keys, Outbox, OutboxConfig, Redis, StreamSink};
use qqgw_tokio::Tokio;
use qqgw_tokio::webhook::{Webhook, WebhookServer};

use crate::cli::Args;
use crate::http::{self, Health, Readiness};

/// How the process ends, when not with 0.
#[derive(Debug)]
pub(crate) struct Exit {
    /// The exit code: 1 when QQ stopped the bot or Redis cannot be used, 2 for a setting.
    pub(crate) code: u8,
    /// One line.
    pub(crate) reason: String,
}

impl Exit {
    fn setting(reason: impl Into<String>) -> Self {
        Self { code: 2, reason: reason.into() }
    }

    fn fatal(reason: impl Into<String>) -> Self {
        Self { code: 1, reason: reason.into() }
    }
}

/// The histograms' buckets, in seconds: from half a millisecond (a Redis round trip on
/// loopback) to 30 s (an API call with its retries).
const BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How long a graceful end may take before the process exits anyway.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

pub(crate) async fn run(args: Args) -> Result<(), Exit> {
    // The QQ_BOT_* variables, read by the client's one list of them.
    let env: HashMap<String, String> =
        std::env::vars().filter(|(name, _)| name.starts_with("QQ_BOT_")).collect();
    let config =
        Config::from_lookup(|name| env.get(name).cloned()).map_err(|e| Exit::setting(e.to_string()))?;
    if env.contains_key("QQ_BOT_SESSION_FILE") {
        tracing::warn!("QQ_BOT_SESSION_FILE is ignored: the gateway keeps sessions in Redis");
    }

    let metrics = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| Exit::fatal(format!("cannot install the metrics recorder: {e}")))?;
    qqgw_client::metrics::describe();
    qqgw_redis::metrics::describe();
    qqgw_tokio::webhook_metrics::describe();
    let readiness = Arc::new(Mutex::new(Readiness { ready: false, detail: "starting".into() }));
    let (listener, local) = http::bind(args.listen)
        .await
        .map_err(|e| Exit::setting(format!("cannot listen on {} (QQGW_LISTEN): {e}", args.listen)))?;
    tracing::info!(%local, "serving /metrics, /healthz and /readyz");
    http::serve(listener, Health { metrics: metrics.clone(), readiness: Arc::clone(&readiness) });

    let keys = args.prefix.as_deref().map_or_else(|| Keys::for_app(config.app_id()), Keys::with_prefix);
    let redis = Redis::connect(&Tokio, &args.redis_url, keys)
        .await
        .map_err(|e| Exit::fatal(format!("redis at {} (QQGW_REDIS_URL): {e}", redact(&args.redis_url))))?;
    tracing::info!(redis = %redact(&args.redis_url), prefix = redis.keys().prefix(), "redis connected");

    match args.webhook {
        Some(addr) => webhook(&args, addr, config, &env, redis, metrics, readiness).await,
        None => gateway(&args, config, redis, metrics, readiness).await,
    }
}

/// The gateway: this process's shards under leases, the outbox, until a signal or a
/// fatal answer of QQ.
async fn gateway(
    args: &Args,
    config: Config,
    redis: Redis,
    metrics: PrometheusHandle,
    readiness: Arc<Mutex<Readiness>>,
) -> Result<(), Exit> {
    let api = Api::new(Tokio, &config).map_err(|e| Exit::setting(e.to_string()))?;
    let (total, owned) = match config.shards() {
        Shards::Range { ids, total } => (*total, ids.clone()),
        _ => {
            let info = api.gateway_bot().await.map_err(|e| Exit::fatal(call_reason(e)))?;
            let total = info.shards.max(1);
            (total, 0..total)
        }
    };
    let mut cluster_config = ClusterConfig::new(total, owned.clone()).lease_ttl(args.lease_ttl);
    cluster_config.takeover = args.takeover;
    cluster_config.max_len = args.stream_max_len;
    tracing::info!(total, owned = ?owned, takeover = args.takeover, "starting the shards");
    let mut cluster = Cluster::start(Tokio, redis.clone(), config.into_builder(), cluster_config);

    let (outbox_stop, outbox_task) = if args.outbox {
        let mut outbox_config = OutboxConfig::default();
        outbox_config.concurrency = args.outbox_concurrency;
        outbox_config.max_len = args.outbox_max_len;
        let outbox = Outbox::new(redis.clone(), api.clone(), outbox_config)
            .await
            .map_err(|e| Exit::fatal(format!("the outbox cannot start: {e}")))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move { outbox.run(&Tokio, async { drop(stopped.await) }).await });
        (Some(stop), Some(task))
    } else {
        (None, None)
    };

    let shards: Vec<ShardId> = (0..total).filter_map(|id| ShardId::new(id, total)).collect();
    let samplers = [
        tokio::spawn(watch_readiness(cluster.view(), owned, total, args.ready_grace, Arc::clone(&readiness))),
        tokio::spawn(sample_streams(redis.clone(), shards, args.sample_every, metrics)),
    ];

    let ended = tokio::select! {
        () = stop_signal() => Ok(()),
        error = cluster.fatal() => Err(Exit::fatal(error.to_string())),
    };
    for sampler in samplers {
        sampler.abort();
    }
    *readiness.lock().unwrap_or_else(PoisonError::into_inner) =
        Readiness { ready: false, detail: "stopping".into() };
    if ended.is_ok() {
        tracing::info!(
            "stop signal: closing the shards gracefully, publishing what was received, answering the outbox"
        );
        exit_on_second_signal();
    }
    let drained = async {
        if let Some(stop) = outbox_stop {
            let _ = stop.send(());
        }
        cluster.shutdown().await;
        if let Some(task) = outbox_task {
            if let Ok(stats) = task.await {
                tracing::info!(?stats, "outbox stopped");
            }
        }
    };
    if tokio::time::timeout(DRAIN_LIMIT, drained).await.is_err() {
        tracing::warn!(limit = ?DRAIN_LIMIT, "the shards did not all close in time");
    }
    tracing::info!("stopped");
    ended
}

/// The webhook endpoint: QQ's signed callbacks, deduplicated across instances, into the
/// stream of shard 0, until a signal.
async fn webhook(
    args: &Args,
    addr: std::net::SocketAddr,
    config: Config,
    env: &HashMap<String, String>,
    redis: Redis,
    metrics: PrometheusHandle,
    readiness: Arc<Mutex<Readiness>>,
) -> Result<(), Exit> {
    let secret = env.get("QQ_BOT_SECRET").cloned().unwrap_or_default();
    let webhook = Webhook::from_secret(&secret).map_err(|e| Exit::setting(format!("QQ_BOT_SECRET: {e}")))?;
    let mut builder = WebhookServer::builder(webhook).ack_after_handled(Duration::from_millis(2_500));
    if let Some(path) = &args.webhook_path {
        builder = builder.path(path.clone());
    }
    let (server, mut events) = builder
        .bind(addr)
        .await
        .map_err(|e| Exit::setting(format!("cannot listen on {addr} (--webhook): {e}")))?;
    let total = match config.shards() {
        Shards::Range { total, .. } => *total,
        _ => 1,
    };
    let shard = ShardId::new(0, total).unwrap_or(ShardId::ONE);
    tracing::info!(addr = %server.local_addr(), %shard, "webhook endpoint listening");
    *readiness.lock().unwrap_or_else(PoisonError::into_inner) =
        Readiness { ready: true, detail: format!("ready: webhook on {}", server.local_addr()) };
    let sampler = tokio::spawn(sample_streams(redis.clone(), vec![shard], args.sample_every, metrics));

    let publishing = async {
        let dedup = EventDedup::new(redis.clone(), "webhook");
        let mut sink = StreamSink::new(redis.clone(), shard).max_len(args.stream_max_len);
        let (mut received, mut handled) =
            (EventCounter::new(EVENTS_RECEIVED), EventCounter::new(EVENTS_HANDLED));
        while let Some(event) = events.next().await {
            let Event::Dispatch(dispatch) = &event.event else {
                event.ack();
                continue;
            };
            received.add(shard, dispatch.name(), 1);
            let id = dispatch.id().map(str::to_owned);
            let claimed = match &id {
                Some(id) => match dedup.claim(id).await {
                    Ok(Claim::Done) => {
                        event.ack();
                        continue;
                    }
                    // Being handled by another instance: not acknowledged, QQ retries.
                    Ok(Claim::Busy) => continue,
                    Ok(_) => true,
                    Err(error) => {
                        tracing::warn!(%error, "dedup unavailable; publishing the event anyway");
                        false
                    }
                },
                None => false,
            };
            // Without `seq` (STREAMS.md): callbacks have no session, and their `s` is no
            // order the sink could check — QQ retries, and each instance sees a share.
            let dispatch = Dispatch::new(
                dispatch.name(),
                None,
                id.as_deref().map(Into::into),
                shard,
                dispatch.data().to_owned(),
            );
            let published = tokio::time::timeout(Duration::from_secs(2), sink.publish(&dispatch)).await;
            match (published, &id) {
                (Ok(Ok(_)), id) => {
                    if let (Some(id), true) = (id, claimed) {
                        if let Err(error) = dedup.done(id).await {
                            tracing::warn!(%error, "could not mark the event handled");
                        }
                    }
                    handled.add(shard, dispatch.name(), 1);
                    event.ack();
                }
                (failed, id) => {
                    tracing::warn!(?failed, "publishing failed: QQ retries the event");
                    if let (Some(id), true) = (id, claimed) {
                        let _ = dedup.release(id).await;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = stop_signal() => {}
        () = publishing => {}
    }
    sampler.abort();
    *readiness.lock().unwrap_or_else(PoisonError::into_inner) =
        Readiness { ready: false, detail: "stopping".into() };
    tracing::info!("stop signal: the webhook endpoint closes; QQ retries what it did not see answered");
    drop(server);
    Ok(())
}

/// Resolves at SIGTERM or SIGINT (never, if they cannot be listened for).
async fn stop_signal() {
    if let Err(error) = Tokio.stop_signal().await {
        tracing::warn!(%error, "cannot listen for SIGTERM or SIGINT");
        core::future::pending::<()>().await;
    }
}

/// A second signal ends the process at once.
fn exit_on_second_signal() {
    tokio::spawn(async {
        stop_signal().await;
        tracing::warn!("second stop signal: stopping at once");
        std::process::exit(130);
    });
}

/// Keeps `/readyz` current: ready when every shard of `owned` runs here and each shard
/// running here is READY, or was READY within `grace` (it is RESUMing).
async fn watch_readiness(
    view: qqgw_redis::ClusterView,
    owned: Range<u32>,
    total: u32,
    grace: Duration,
    readiness: Arc<Mutex<Readiness>>,
) {
    let mut last_ready: BTreeMap<u32, Instant> = BTreeMap::new();
    loop {
        let now = Instant::now();
        let shards = view.shards();
        for shard in shards.iter().filter(|s| s.is_ready()) {
            last_ready.insert(shard.id().id(), now);
        }
        let running: Vec<u32> = shards.iter().map(|s| s.id().id()).collect();
        let missing: Vec<u32> = owned.clone().filter(|id| !running.contains(id)).collect();
        let unready: Vec<u32> = shards
            .iter()
            .filter(|s| !s.is_ready())
            .map(|s| s.id().id())
            .filter(|id| last_ready.get(id).is_none_or(|at| now.duration_since(*at) > grace))
            .collect();
        let ready = missing.is_empty() && unready.is_empty();
        let detail = if ready {
            format!("ready: shards {running:?} of {total} READY")
        } else {
            format!("not ready: shards {missing:?} of {total} not running here, {unready:?} not READY")
        };
        *readiness.lock().unwrap_or_else(PoisonError::into_inner) = Readiness { ready, detail };
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Samples the streams' length and consumer lag every `every`, and keeps the histograms'
/// windows moving.
async fn sample_streams(redis: Redis, shards: Vec<ShardId>, every: Duration, metrics: PrometheusHandle) {
    loop {
        if let Err(error) = qqgw_redis::stream_stats(&redis, shards.iter().copied()).await {
            tracing::debug!(%error, "stream stats unavailable");
        }
        metrics.run_upkeep();
        tokio::time::sleep(every).await;
    }
}

/// The one-line reason of a failed call at start: the client's words for a token refused.
fn call_reason(error: CallError) -> String {
    match error {
        CallError::Token(token) => qqgw_client::Error::Token(token).to_string(),
        other => other.to_string(),
    }
}

/// The URL without a password (`redis://user:***@host`).
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_redis_password_is_never_shown() {
        assert_eq!(super::redact("redis://:hunter2@10.0.0.1:6379/0"), "redis://:***@10.0.0.1:6379/0");
        assert_eq!(super::redact("redis://u:p@h"), "redis://u:***@h");
        assert_eq!(super::redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}

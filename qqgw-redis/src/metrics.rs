//! This crate's metrics, through the [`metrics`](https://docs.rs/metrics) facade: names,
//! descriptions and label sets once ([`METRICS`]), and the functions the call sites use.
//! Recorded only with the feature `metrics`; without it they do nothing. Describe them
//! with [`describe`] after installing an exporter.
//!
//! Labels are bounded: `shard` is `<id>/<total>`, `group` a consumer group of a stream
//! (the first [`MAX_GROUPS`] of each stream, by name), `kind` a gap kind of
//! [`Gap`](crate::Gap) (`other` for any other), `op` and `outcome` names from the
//! [`Outbox`](crate::Outbox)'s fixed lists.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `qqgw_redis_publish_duration_seconds` | histogram | `shard` | one round trip publishing a batch of events (entries and checkpoint) |
//! | `qqgw_stream_gaps_total` | counter | `shard`, `kind` | gap entries written into a shard's stream |
//! | `qqgw_stream_length` | gauge | `shard` | entries in a shard's stream (sampled) |
//! | `qqgw_stream_consumer_lag` | gauge | `shard`, `group` | entries of a shard's stream a consumer group has not read yet (sampled) |
//! | `qqgw_stream_consumer_pending` | gauge | `shard`, `group` | entries a consumer group read and has not acknowledged (sampled) |
//! | `qqgw_cluster_shards_running` | gauge | | shards this process runs under a lease |
//! | `qqgw_webhook_dedup_total` | counter | `outcome` | claims of webhook events across instances: `first`, `done` (a retry of a handled event), `busy` (being handled elsewhere) |
//! | `qqgw_outbox_requests_total` | counter | `op`, `outcome` | outbox requests answered, by operation and outcome (`ok`, a class of QQ's code table, `no_answer`, `no_token`, `not_sent`, `invalid`, `too_large`, `expired`, `outbox_full`, `timeout`) |
//! | `qqgw_outbox_request_duration_seconds` | histogram | `op` | from reading an outbox request to its answer |
//! | `qqgw_outbox_in_flight` | gauge | | outbox requests being executed |
//! | `qqgw_outbox_length` | gauge | | entries in the outbox stream (sampled) |

use qqgw_client::metrics::{MetricDef, MetricKind};
use qqgw_proto::ShardId;

/// `qqgw_redis_publish_duration_seconds`.
pub const PUBLISH_DURATION: &str = "qqgw_redis_publish_duration_seconds";
/// `qqgw_stream_gaps_total`.
pub const STREAM_GAPS: &str = "qqgw_stream_gaps_total";
/// `qqgw_stream_length`.
pub const STREAM_LENGTH: &str = "qqgw_stream_length";
/// `qqgw_stream_consumer_lag`.
pub const STREAM_CONSUMER_LAG: &str = "qqgw_stream_consumer_lag";
/// `qqgw_stream_consumer_pending`.
pub const STREAM_CONSUMER_PENDING: &str = "qqgw_stream_consumer_pending";
/// `qqgw_cluster_shards_running`.
pub const SHARDS_RUNNING: &str = "qqgw_cluster_shards_running";
/// `qqgw_webhook_dedup_total`.
pub const WEBHOOK_DEDUP: &str = "qqgw_webhook_dedup_total";
/// `qqgw_outbox_requests_total`.
pub const OUTBOX_REQUESTS: &str = "qqgw_outbox_requests_total";
/// `qqgw_outbox_request_duration_seconds`.
pub const OUTBOX_REQUEST_DURATION: &str = "qqgw_outbox_request_duration_seconds";
/// `qqgw_outbox_in_flight`.
pub const OUTBOX_IN_FLIGHT: &str = "qqgw_outbox_in_flight";
/// `qqgw_outbox_length`.
pub const OUTBOX_LENGTH: &str = "qqgw_outbox_length";

/// The most consumer groups of one stream given metrics of their own.
pub const MAX_GROUPS: usize = 16;

/// Every metric this crate records.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: PUBLISH_DURATION,
        kind: MetricKind::Histogram,
        labels: &["shard"],
        help: "One round trip publishing a batch of events and their checkpoint to Redis, in seconds.",
    },
    MetricDef {
        name: STREAM_GAPS,
        kind: MetricKind::Counter,
        labels: &["shard", "kind"],
        help: "Gap entries written into a shard's stream.",
    },
    MetricDef {
        name: STREAM_LENGTH,
        kind: MetricKind::Gauge,
        labels: &["shard"],
        help: "Entries in a shard's stream.",
    },
    MetricDef {
        name: STREAM_CONSUMER_LAG,
        kind: MetricKind::Gauge,
        labels: &["shard", "group"],
        help: "Entries of a shard's stream a consumer group has not read yet.",
    },
    MetricDef {
        name: STREAM_CONSUMER_PENDING,
        kind: MetricKind::Gauge,
        labels: &["shard", "group"],
        help: "Entries a consumer group read and has not acknowledged.",
    },
    MetricDef {
        name: SHARDS_RUNNING,
        kind: MetricKind::Gauge,
        labels: &[],
        help: "Shards this process runs under a lease.",
    },
    MetricDef {
        name: WEBHOOK_DEDUP,
        kind: MetricKind::Counter,
        labels: &["outcome"],
        help: "Claims of webhook events across instances: first, done (a retry of a handled event), busy.",
    },
    MetricDef {
        name: OUTBOX_REQUESTS,
        kind: MetricKind::Counter,
        labels: &["op", "outcome"],
        help: "Outbox requests answered, by operation and outcome.",
    },
    MetricDef {
        name: OUTBOX_REQUEST_DURATION,
        kind: MetricKind::Histogram,
        labels: &["op"],
        help: "From reading an outbox request to its answer, in seconds.",
    },
    MetricDef {
        name: OUTBOX_IN_FLIGHT,
        kind: MetricKind::Gauge,
        labels: &[],
        help: "Outbox requests being executed.",
    },
    MetricDef {
        name: OUTBOX_LENGTH,
        kind: MetricKind::Gauge,
        labels: &[],
        help: "Entries in the outbox stream.",
    },
];

/// Gives every metric of [`METRICS`] its description in the installed recorder. Does
/// nothing without the feature `metrics`.
pub fn describe() {
    qqgw_client::metrics::describe_all(METRICS);
}

/// The handles of one shard's publisher, registered when it starts.
#[derive(Debug)]
pub(crate) struct Publisher {
    #[cfg(feature = "metrics")]
    duration: metrics::Histogram,
    handled: qqgw_client::metrics::EventCounter,
}

impl Publisher {
    pub(crate) fn new(shard: ShardId) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = shard;
        Self {
            #[cfg(feature = "metrics")]
            duration: metrics::histogram!(PUBLISH_DURATION, "shard" => qqgw_client::metrics::shard_label(shard)),
            handled: qqgw_client::metrics::EventCounter::new(qqgw_client::metrics::EVENTS_HANDLED),
        }
    }

    /// A publish round trip took `elapsed`.
    pub(crate) fn published(&self, elapsed: core::time::Duration) {
        #[cfg(feature = "metrics")]
        self.duration.record(elapsed.as_secs_f64());
        #[cfg(not(feature = "metrics"))]
        let _ = elapsed;
    }

    /// `event` is in the stream and acknowledged.
    pub(crate) fn handled(&mut self, event: &qqgw_client::ShardEvent) {
        if let qqgw_proto::Event::Dispatch(dispatch) = &event.event {
            self.handled.add(event.shard, dispatch.name(), 1);
        }
    }
}

/// A gap of `kind` was written into `shard`'s stream.
pub(crate) fn gap(shard: ShardId, kind: &str) {
    #[cfg(feature = "metrics")]
    {
        use crate::Gap;
        let kind = [Gap::SESSION_LOST, Gap::SEQ_JUMP, Gap::TRIMMED, Gap::UNKNOWN, Gap::ROLLED_BACK]
            .into_iter()
            .find(|known| *known == kind)
            .unwrap_or("other");
        metrics::counter!(STREAM_GAPS, "shard" => qqgw_client::metrics::shard_label(shard), "kind" => kind)
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (shard, kind);
}

/// This process runs `n` shards.
pub(crate) fn shards_running(n: usize) {
    #[cfg(feature = "metrics")]
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(SHARDS_RUNNING).set(n as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}

/// A webhook event's claim found `outcome`.
pub(crate) fn dedup(outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(WEBHOOK_DEDUP, "outcome" => outcome).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = outcome;
}

/// An outbox request of `op` was answered with `outcome`, `elapsed` after it was read.
pub(crate) fn outbox_answered(op: &'static str, outcome: &'static str, elapsed: core::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(OUTBOX_REQUESTS, "op" => op, "outcome" => outcome).increment(1);
        metrics::histogram!(OUTBOX_REQUEST_DURATION, "op" => op).record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (op, outcome, elapsed);
}

/// `n` outbox requests are being executed.
pub(crate) fn outbox_in_flight(n: usize) {
    #[cfg(feature = "metrics")]
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(OUTBOX_IN_FLIGHT).set(n as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}

/// The outbox stream holds `n` entries.
pub(crate) fn outbox_length(n: u64) {
    #[cfg(feature = "metrics")]
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!(OUTBOX_LENGTH).set(n as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = n;
}

/// A sample of `shard`'s stream: its length, and per consumer group its lag and pending
/// entries.
pub(crate) fn stream_sample(shard: ShardId, length: u64, groups: &[crate::GroupStats]) {
    #[cfg(feature = "metrics")]
    #[allow(clippy::cast_precision_loss)]
    {
        let label = qqgw_client::metrics::shard_label(shard);
        metrics::gauge!(STREAM_LENGTH, "shard" => label.clone()).set(length as f64);
        for group in groups.iter().take(MAX_GROUPS) {
            let labels = [("shard", label.clone()), ("group", group.name.clone())];
            if let Some(lag) = group.lag {
                metrics::gauge!(STREAM_CONSUMER_LAG, &labels).set(lag as f64);
            }
            metrics::gauge!(STREAM_CONSUMER_PENDING, &labels).set(group.pending as f64);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (shard, length, groups);
}

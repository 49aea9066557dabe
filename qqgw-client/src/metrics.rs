//! The client's metrics, through the [`metrics`](https://docs.rs/metrics) facade: the
//! names, descriptions and label sets of every metric this crate records, in one place
//! ([`METRICS`]), and the handles its call sites use.
//!
//! Recorded only with the feature `metrics` (off by default); without it every function
//! here does nothing and costs nothing. Install any exporter of the facade
//! (`metrics-exporter-prometheus`, say) before starting the client, then call
//! [`describe`] once to give each metric its description. Handles are registered when a
//! shard starts (and at first sight of an event type), so per event nothing is formatted
//! or allocated.
//!
//! Labels are bounded: `shard` is `<id>/<total>` of the bot's shards, `type` an event name
//! of QQ's documented table (`unknown` for any other, so a server cannot make up label
//! values), `cause` a variant of [`DisconnectCause`](qqgw_proto::DisconnectCause), `code`
//! a documented close code (or `other`), `route` a route name of QQ's OpenAPI table,
//! `outcome` `ok` or a class of its error code table. No user, group or message id is ever a label.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `qqgw_events_received_total` | counter | `shard`, `type` | dispatches received from QQ (READY and RESUMED included) |
//! | `qqgw_events_handled_total` | counter | `shard`, `type` | events whose handling finished: a handler's callback returned, or (gateway) the event is in its stream |
//! | `qqgw_handler_duration_seconds` | histogram | `type` | how long a handler's callback ran |
//! | `qqgw_reconnects_total` | counter | `shard`, `cause`, `code` | connections that ended and are reconnected, by cause |
//! | `qqgw_sessions_started_total` | counter | `shard`, `kind` | sessions begun (`kind="identify"`, READY) or resumed (`kind="resume"`, RESUMED) |
//! | `qqgw_sessions_lost_total` | counter | `shard` | sessions QQ would not resume: their later events may be missing (a gap) |
//! | `qqgw_heartbeat_latency_seconds` | histogram | `shard` | heartbeat round trips |
//! | `qqgw_unacked_events` | gauge | `shard` | events handed out and not yet handled |
//! | `qqgw_shard_ready` | gauge | `shard` | 1 while the shard's connection is authenticated and events flow, else 0 |
//! | `qqgw_api_requests_total` | counter | `route`, `outcome` | OpenAPI calls, by route and outcome (`ok`, a class of QQ's code table such as `reply` or `rate`, `no_answer`, `no_token`, `not_sent`) |
//! | `qqgw_api_request_duration_seconds` | histogram | `route` | OpenAPI calls, retries included |

#[cfg(feature = "metrics")]
use std::collections::HashMap;

use qqgw_proto::{Event, GatewayMachine, ShardId};

/// What kind of metric a [`MetricDef`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of values (durations, in seconds).
    Histogram,
}

/// One metric: its name, kind, labels and description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// The name, by Prometheus's conventions (`_total` for counters, base units).
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The label names.
    pub labels: &'static [&'static str],
    /// What it measures.
    pub help: &'static str,
}

/// `qqgw_events_received_total`.
pub const EVENTS_RECEIVED: &str = "qqgw_events_received_total";
/// `qqgw_events_handled_total`.
pub const EVENTS_HANDLED: &str = "qqgw_events_handled_total";
/// `qqgw_handler_duration_seconds`.
pub const HANDLER_DURATION: &str = "qqgw_handler_duration_seconds";
/// `qqgw_reconnects_total`.
pub const RECONNECTS: &str = "qqgw_reconnects_total";
/// `qqgw_sessions_started_total`.
pub const SESSIONS_STARTED: &str = "qqgw_sessions_started_total";
/// `qqgw_sessions_lost_total`.
pub const SESSIONS_LOST: &str = "qqgw_sessions_lost_total";
/// `qqgw_heartbeat_latency_seconds`.
pub const HEARTBEAT_LATENCY: &str = "qqgw_heartbeat_latency_seconds";
/// `qqgw_unacked_events`.
pub const UNACKED_EVENTS: &str = "qqgw_unacked_events";
/// `qqgw_shard_ready`.
pub const SHARD_READY: &str = "qqgw_shard_ready";
/// `qqgw_api_requests_total`.
pub const API_REQUESTS: &str = "qqgw_api_requests_total";
/// `qqgw_api_request_duration_seconds`.
pub const API_REQUEST_DURATION: &str = "qqgw_api_request_duration_seconds";

/// Every metric this crate records.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: EVENTS_RECEIVED,
        kind: MetricKind::Counter,
        labels: &["shard", "type"],
        help: "Dispatches received from QQ (READY and RESUMED included).",
    },
    MetricDef {
        name: EVENTS_HANDLED,
        kind: MetricKind::Counter,
        labels: &["shard", "type"],
        help: "Events whose handling finished: a handler returned, or the event is in its stream.",
    },
    MetricDef {
        name: HANDLER_DURATION,
        kind: MetricKind::Histogram,
        labels: &["type"],
        help: "How long a handler's callback ran, in seconds.",
    },
    MetricDef {
        name: RECONNECTS,
        kind: MetricKind::Counter,
        labels: &["shard", "cause", "code"],
        help: "Connections that ended and are reconnected, by cause (and close code).",
    },
    MetricDef {
        name: SESSIONS_STARTED,
        kind: MetricKind::Counter,
        labels: &["shard", "kind"],
        help: "Sessions begun by IDENTIFY (kind=identify) or resumed (kind=resume).",
    },
    MetricDef {
        name: SESSIONS_LOST,
        kind: MetricKind::Counter,
        labels: &["shard"],
        help: "Sessions QQ would not resume: their later events may be missing.",
    },
    MetricDef {
        name: HEARTBEAT_LATENCY,
        kind: MetricKind::Histogram,
        labels: &["shard"],
        help: "Heartbeat round trips, in seconds.",
    },
    MetricDef {
        name: UNACKED_EVENTS,
        kind: MetricKind::Gauge,
        labels: &["shard"],
        help: "Events handed out and not yet handled.",
    },
    MetricDef {
        name: SHARD_READY,
        kind: MetricKind::Gauge,
        labels: &["shard"],
        help: "1 while the shard's connection is authenticated and events flow, else 0.",
    },
    MetricDef {
        name: API_REQUESTS,
        kind: MetricKind::Counter,
        labels: &["route", "outcome"],
        help: "OpenAPI calls by route and outcome (ok, a class of QQ's code table, no_answer, no_token, not_sent).",
    },
    MetricDef {
        name: API_REQUEST_DURATION,
        kind: MetricKind::Histogram,
        labels: &["route"],
        help: "OpenAPI calls, retries included, in seconds.",
    },
];

/// Gives every metric of [`METRICS`] its description and unit, in the recorder installed
/// now. Call it once, after installing the exporter. Does nothing without the feature
/// `metrics`.
pub fn describe() {
    describe_all(METRICS);
}

/// Describes `metrics` (the [`METRICS`] of any qqgw crate) in the installed recorder.
/// Does nothing without the feature `metrics`.
pub fn describe_all(metrics: &[MetricDef]) {
    #[cfg(feature = "metrics")]
    for metric in metrics {
        let unit = metric.name.ends_with("_seconds").then_some(metrics::Unit::Seconds);
        match (metric.kind, unit) {
            (MetricKind::Counter, _) => metrics::describe_counter!(metric.name, metric.help),
            (MetricKind::Gauge, _) => metrics::describe_gauge!(metric.name, metric.help),
            (MetricKind::Histogram, Some(unit)) => {
                metrics::describe_histogram!(metric.name, unit, metric.help)
            }
            (MetricKind::Histogram, None) => metrics::describe_histogram!(metric.name, metric.help),
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = metrics;
}

/// The label value of an event name: the name if QQ documents it, else `"unknown"`.
#[must_use]
pub fn type_label(name: &str) -> &'static str {
    qqgw_proto::model::EventKind::ALL
        .iter()
        .map(qqgw_proto::model::EventKind::as_str)
        .find(|known| *known == name)
        .unwrap_or("unknown")
}

/// The label value of a shard: `<id>/<total>`.
#[must_use]
pub fn shard_label(shard: ShardId) -> String {
    format!("{}/{}", shard.id(), shard.total())
}

/// The most event names whose handles one cache keeps; names past it share `unknown`'s.
#[cfg(feature = "metrics")]
const TYPE_CACHE: usize = 256;

/// Counters of one metric per (shard, event type), registered at first sight: counting an
/// event costs a hash lookup, no allocation. For the call sites of other crates that
/// count events ([`EVENTS_HANDLED`] once an event is published, say).
#[derive(Debug, Default)]
pub struct EventCounter {
    #[cfg(feature = "metrics")]
    name: &'static str,
    #[cfg(feature = "metrics")]
    counters: HashMap<ShardId, HashMap<Box<str>, metrics::Counter>>,
}

impl EventCounter {
    /// A cache of counters of the metric `name` (one with labels `shard` and `type`).
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        #[cfg(feature = "metrics")]
        return Self { name, counters: HashMap::new() };
        #[cfg(not(feature = "metrics"))]
        {
            let _ = name;
            Self {}
        }
    }

    /// Adds `n` to the counter of `shard` and the event `name`.
    pub fn add(&mut self, shard: ShardId, name: &str, n: u64) {
        #[cfg(feature = "metrics")]
        self.counter(shard, name).increment(n);
        #[cfg(not(feature = "metrics"))]
        let _ = (shard, name, n);
    }

    /// The counter of `shard` and the event `name`, registered at first sight.
    #[cfg(feature = "metrics")]
    pub(crate) fn counter(&mut self, shard: ShardId, name: &str) -> metrics::Counter {
        let of_shard = self.counters.entry(shard).or_default();
        if let Some(counter) = of_shard.get(name) {
            return counter.clone();
        }
        let label = type_label(name);
        // Names QQ does not document share one counter, looked up under `unknown` once
        // the cache is full: a server cannot grow it.
        if label == "unknown" {
            if let Some(counter) = of_shard.get("unknown").cloned() {
                if of_shard.len() < TYPE_CACHE {
                    of_shard.insert(name.into(), counter.clone());
                }
                return counter;
            }
        }
        let counter = metrics::counter!(self.name, "shard" => shard_label(shard), "type" => label);
        of_shard.insert(label.into(), counter.clone());
        if label == "unknown" && of_shard.len() < TYPE_CACHE {
            of_shard.insert(name.into(), counter.clone());
        }
        counter
    }
}

/// The metrics of one shard's task: its handles, registered when the shard starts.
#[derive(Debug)]
pub(crate) struct ShardMetrics {
    #[cfg(feature = "metrics")]
    inner: live::Shard,
}

impl ShardMetrics {
    pub(crate) fn new(shard: ShardId) -> Self {
        #[cfg(feature = "metrics")]
        return Self { inner: live::Shard::new(shard) };
        #[cfg(not(feature = "metrics"))]
        {
            let _ = shard;
            Self {}
        }
    }

    /// An event the machine emitted.
    #[inline]
    pub(crate) fn event(&mut self, event: &Event) {
        #[cfg(feature = "metrics")]
        self.inner.event(event);
        #[cfg(not(feature = "metrics"))]
        let _ = event;
    }

    /// A heartbeat acknowledged after `rtt`.
    #[inline]
    pub(crate) fn heartbeat(&self, rtt: Option<core::time::Duration>) {
        #[cfg(feature = "metrics")]
        if let Some(rtt) = rtt {
            self.inner.heartbeat.record(rtt.as_secs_f64());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = rtt;
    }

    /// The machine's state after a step.
    #[inline]
    pub(crate) fn status(&self, machine: &GatewayMachine) {
        #[cfg(feature = "metrics")]
        {
            #[allow(clippy::cast_precision_loss)]
            self.inner.unacked.set(machine.unacked() as f64);
            self.inner.ready.set(if machine.state() == qqgw_proto::State::Active { 1.0 } else { 0.0 });
        }
        #[cfg(not(feature = "metrics"))]
        let _ = machine;
    }
}

/// Times handler callbacks and counts the events they finish, per event type.
#[derive(Debug, Default)]
pub(crate) struct Handling {
    #[cfg(feature = "metrics")]
    handled: Option<EventCounter>,
    #[cfg(feature = "metrics")]
    durations: HashMap<&'static str, metrics::Histogram>,
}

/// One callback being timed: [`done`](Self::done) when it returns.
#[derive(Debug)]
#[must_use]
pub(crate) struct Timing {
    /// When it started, its type's histogram, and the counter of handled events it
    /// counts in once it returns.
    #[cfg(feature = "metrics")]
    started: Option<(std::time::Instant, metrics::Histogram, metrics::Counter)>,
}

impl Handling {
    /// A callback of `event` starts.
    #[inline]
    pub(crate) fn start(&mut self, event: &crate::ShardEvent) -> Timing {
        #[cfg(feature = "metrics")]
        {
            let Event::Dispatch(dispatch) = &event.event else { return Timing { started: None } };
            let handled = self
                .handled
                .get_or_insert_with(|| EventCounter::new(EVENTS_HANDLED))
                .counter(event.shard, dispatch.name());
            let label = type_label(dispatch.name());
            let histogram = self
                .durations
                .entry(label)
                .or_insert_with(|| metrics::histogram!(HANDLER_DURATION, "type" => label))
                .clone();
            // The wall time of the user's callback, for an operator's histogram, not a
            // deadline: the runner (`run_handler_concurrently`, public) has no runtime.
            Timing { started: Some((std::time::Instant::now(), histogram, handled)) }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = event;
            Timing {}
        }
    }
}

impl Timing {
    /// The callback returned.
    #[inline]
    pub(crate) fn done(self) {
        #[cfg(feature = "metrics")]
        if let Some((started, histogram, handled)) = self.started {
            histogram.record(started.elapsed().as_secs_f64());
            handled.increment(1);
        }
    }
}

/// Records an OpenAPI call of `route` that ended with `outcome` after `elapsed`.
pub(crate) fn api_call(route: &'static str, outcome: &'static str, elapsed: core::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!(API_REQUESTS, "route" => route, "outcome" => outcome).increment(1);
        metrics::histogram!(API_REQUEST_DURATION, "route" => route).record(elapsed.as_secs_f64());
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (route, outcome, elapsed);
}

#[cfg(feature = "metrics")]
mod live {
    use super::{
        EVENTS_RECEIVED, EventCounter, HEARTBEAT_LATENCY, RECONNECTS, SESSIONS_LOST, SESSIONS_STARTED,
        SHARD_READY, UNACKED_EVENTS, shard_label,
    };
    use qqgw_proto::{CloseCode, DisconnectCause, Event, ShardId};

    #[derive(Debug)]
    pub(super) struct Shard {
        shard: ShardId,
        label: String,
        received: EventCounter,
        identified: metrics::Counter,
        resumed: metrics::Counter,
        lost: metrics::Counter,
        pub(super) heartbeat: metrics::Histogram,
        pub(super) unacked: metrics::Gauge,
        pub(super) ready: metrics::Gauge,
    }

    impl Shard {
        pub(super) fn new(shard: ShardId) -> Self {
            let label = shard_label(shard);
            Self {
                shard,
                received: EventCounter::new(EVENTS_RECEIVED),
                identified: metrics::counter!(SESSIONS_STARTED, "shard" => label.clone(), "kind" => "identify"),
                resumed: metrics::counter!(SESSIONS_STARTED, "shard" => label.clone(), "kind" => "resume"),
                lost: metrics::counter!(SESSIONS_LOST, "shard" => label.clone()),
                heartbeat: metrics::histogram!(HEARTBEAT_LATENCY, "shard" => label.clone()),
                unacked: metrics::gauge!(UNACKED_EVENTS, "shard" => label.clone()),
                ready: metrics::gauge!(SHARD_READY, "shard" => label.clone()),
                label,
            }
        }

        pub(super) fn event(&mut self, event: &Event) {
            match event {
                Event::Dispatch(dispatch) => {
                    self.received.add(self.shard, dispatch.name(), 1);
                    match dispatch.name() {
                        "READY" => self.identified.increment(1),
                        "RESUMED" => self.resumed.increment(1),
                        _ => {}
                    }
                }
                Event::SessionLost(_) => self.lost.increment(1),
                // Rare: the labels are made here, not kept.
                Event::Disconnected(disconnect) => {
                    let (cause, code) = cause_labels(&disconnect.cause);
                    metrics::counter!(RECONNECTS, "shard" => self.label.clone(), "cause" => cause, "code" => code)
                        .increment(1);
                }
                _ => {}
            }
        }
    }

    /// The `cause` and `code` labels of a disconnect: the code only for a documented one.
    fn cause_labels(cause: &DisconnectCause) -> (&'static str, String) {
        match cause {
            DisconnectCause::Closed(frame) => {
                let code = if CloseCode::KNOWN.contains(&frame.code) {
                    frame.code.0.to_string()
                } else {
                    "other".to_owned()
                };
                ("closed", code)
            }
            DisconnectCause::Dropped => ("dropped", String::new()),
            DisconnectCause::ConnectFailed => ("connect_failed", String::new()),
            DisconnectCause::ReconnectRequested => ("reconnect_requested", String::new()),
            DisconnectCause::InvalidSession { resumable: true } => {
                ("invalid_session_resumable", String::new())
            }
            DisconnectCause::InvalidSession { resumable: false } => ("invalid_session", String::new()),
            DisconnectCause::Zombie => ("zombie", String::new()),
            DisconnectCause::HandshakeTimeout => ("handshake_timeout", String::new()),
            DisconnectCause::TokenUnavailable(_) => ("token_unavailable", String::new()),
            #[allow(unreachable_patterns)]
            _ => ("other", String::new()),
        }
    }
}

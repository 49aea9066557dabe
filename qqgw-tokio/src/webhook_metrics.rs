//! This crate's metrics, through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`; without it these do nothing): the webhook server's accepted and refused
//! requests. Names and labels once, in [`METRICS`]; handles registered once, so a request
//! costs no allocation for its metric.
//!
//! | metric | type | labels | what |
//! |---|---|---|---|
//! | `qqgw_webhook_requests_total` | counter | `result`, `reason` | requests answered: `result="accepted"` (`reason` `event`, `duplicate` or `validation`) or `result="refused"` with the reason the server names in its answer (`unauthorized`, `queue_full`, `in_progress`, `too_large`, …; `other` for any other) |
//!
//! Kept apart from the client's [`metrics`](crate::metrics) module, which this crate
//! re-exports.

use qqgw_client::metrics::{MetricDef, MetricKind};

/// `qqgw_webhook_requests_total`.
pub const WEBHOOK_REQUESTS: &str = "qqgw_webhook_requests_total";

/// Every metric this crate records.
pub const METRICS: &[MetricDef] = &[MetricDef {
    name: WEBHOOK_REQUESTS,
    kind: MetricKind::Counter,
    labels: &["result", "reason"],
    help: "Webhook requests answered, accepted (event, duplicate, validation) or refused by reason.",
}];

/// Gives every metric of [`METRICS`] its description in the installed recorder. Does
/// nothing without the feature `metrics`.
pub fn describe() {
    qqgw_client::metrics::describe_all(METRICS);
}

/// The reasons a refusal is counted under (the codes of the server's answers), and
/// `other`.
#[cfg(feature = "metrics")]
const REASONS: &[&str] = &[
    // qqgw_proto::webhook::WebhookError::code
    "missing_signature",
    "missing_timestamp",
    "bad_signature_encoding",
    "non_canonical_signature",
    "bad_signature",
    "bad_timestamp",
    "stale_timestamp",
    "body_too_large",
    "malformed",
    "unexpected_opcode",
    "unsafe_validation",
    "replay_unverifiable",
    // the server's own
    "method_not_allowed",
    "not_found",
    "unsupported_media_type",
    "timeout",
    "bad_request",
    "queue_full",
    "no_consumer",
    "in_progress",
    "not_handled_in_time",
    "body_memory_full",
    "other",
];

#[cfg(feature = "metrics")]
fn handles() -> &'static Handles {
    static HANDLES: std::sync::OnceLock<Handles> = std::sync::OnceLock::new();
    HANDLES.get_or_init(|| Handles {
        accepted: ["event", "duplicate", "validation"]
            .map(|reason| metrics::counter!(WEBHOOK_REQUESTS, "result" => "accepted", "reason" => reason)),
        refused: REASONS
            .iter()
            .map(|reason| {
                (*reason, metrics::counter!(WEBHOOK_REQUESTS, "result" => "refused", "reason" => *reason))
            })
            .collect(),
    })
}

#[cfg(feature = "metrics")]
struct Handles {
    accepted: [metrics::Counter; 3],
    refused: Vec<(&'static str, metrics::Counter)>,
}

/// A request was accepted: an event delivered (`0`), a duplicate acknowledged (`1`), a
/// validation answered (`2`).
#[cfg(feature = "webhook")]
pub(crate) fn webhook_accepted(kind: usize) {
    #[cfg(feature = "metrics")]
    if let Some(counter) = handles().accepted.get(kind) {
        counter.increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// A request was refused with `reason`.
#[cfg(feature = "webhook")]
pub(crate) fn webhook_refused(reason: &str) {
    #[cfg(feature = "metrics")]
    {
        let refused = &handles().refused;
        let counter = refused.iter().find(|(r, _)| *r == reason).or_else(|| refused.last());
        if let Some((_, counter)) = counter {
            counter.increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

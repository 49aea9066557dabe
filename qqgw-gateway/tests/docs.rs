//! The README's metrics table is the metrics the crates define, name, type and labels;
//! the dashboard queries only metrics of that table the binary exports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use qqgw_client::metrics::{MetricDef, MetricKind};
use support::metrics_queried;

const README: &str = include_str!("../README.md");
const DASHBOARD: &str = include_str!("../dashboards/qqgw-gateway.json");

/// Each row of the README's metrics table: name to (type, labels, exported by).
fn table() -> BTreeMap<String, (String, Vec<String>, String)> {
    let section = README.split("## Metrics").nth(1).expect("a Metrics section");
    section
        .lines()
        .filter(|l| l.starts_with("| `qqgw_"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            let labels = cells[3]
                .split(',')
                .map(|l| l.trim().trim_matches('`').to_owned())
                .filter(|l| !l.is_empty())
                .collect();
            (name, (cells[2].to_owned(), labels, cells[5].to_owned()))
        })
        .collect()
}

fn defined() -> Vec<MetricDef> {
    [qqgw_client::metrics::METRICS, qqgw_redis::metrics::METRICS, qqgw_tokio::webhook_metrics::METRICS]
        .concat()
}

#[test]
fn the_readme_table_is_every_metric_defined_with_its_type_and_labels() {
    let table = table();
    let defined = defined();
    assert_eq!(table.len(), defined.len(), "one row per metric: {:?}", table.keys().collect::<Vec<_>>());
    for metric in defined {
        let (kind, labels, _) =
            table.get(metric.name).unwrap_or_else(|| panic!("{} not in the README", metric.name));
        let expected = match metric.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        };
        assert_eq!(kind, expected, "{}", metric.name);
        assert_eq!(labels, &metric.labels.to_vec(), "{}: the README's labels", metric.name);
        assert!(metric.name.starts_with("qqgw_"));
        let suffix_ok = match metric.kind {
            MetricKind::Counter => metric.name.ends_with("_total"),
            MetricKind::Histogram => metric.name.ends_with("_seconds"),
            MetricKind::Gauge => !metric.name.ends_with("_total"),
        };
        assert!(suffix_ok, "{}: Prometheus's naming (counters _total, durations _seconds)", metric.name);
        // (`group` is a consumer group of Redis: 16 a stream at most are sampled.)
        for label in metric.labels {
            assert!(
                !["user", "message", "openid", "id", "channel", "guild", "group_openid"].contains(label),
                "{}: an unbounded label {label}",
                metric.name
            );
        }
    }
}

#[test]
fn the_dashboard_queries_only_metrics_the_binary_exports() {
    let table = table();
    let exported: BTreeSet<&str> = table
        .iter()
        .filter(|(_, (_, _, by))| by.contains("gateway") || by.contains("webhook"))
        .map(|(name, _)| name.as_str())
        .collect();
    let queried = metrics_queried(DASHBOARD);
    assert!(queried.len() >= 10, "{queried:?}");
    let unknown: Vec<_> = queried.iter().filter(|q| !exported.contains(q.as_str())).collect();
    assert!(unknown.is_empty(), "the dashboard queries {unknown:?}, which the binary does not export");
    // (The end-to-end tests scrape the running binary and find each of them.)
}

//! Figures of deliveries to the ERP: how many attempts failed and why, how many were retried
//! and dead-lettered, and the ERP's last error, per tenant and route. During an ERP outage
//! these are what moves: nothing is delivered, and without them `/metrics` would stay silent.
//!
//! The delivery loops record every failed attempt here (through [`crate::erp`]'s drain
//! reports); `/metrics` encodes them as a [`Collector`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

use super::{counters, gauges};

/// Longest reason kept as the last error: a label, not a log line.
const MAX_REASON_CHARS: usize = 200;

/// Why an attempt failed, as the retry policy judged it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    /// The ERP asked to slow down; retried after its wait.
    Throttled,
    /// Worth another try (a timeout, a 5xx, a transient error); retried with backoff until the
    /// policy gives up.
    Transient,
    /// The ERP refused it for good; dead-lettered.
    Refused,
}

impl FailureKind {
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Throttled => "throttled",
            FailureKind::Transient => "transient",
            FailureKind::Refused => "refused",
        }
    }
}

/// One failed delivery attempt and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedDelivery {
    pub tenant: String,
    /// `webhook`, or the ERP plugin's name.
    pub route: String,
    pub kind: FailureKind,
    pub reason: String,
    /// Unix milliseconds.
    pub at: i64,
    /// Scheduled again (`true`) or dead-lettered (`false`).
    pub retried: bool,
}

#[derive(Clone, Debug, Default)]
struct RouteFigures {
    failed: BTreeMap<FailureKind, u64>,
    retried: u64,
    dead_lettered: u64,
    /// Kind, reason and when, of the latest failure.
    last_error: Option<(FailureKind, String, i64)>,
}

/// The host's delivery figures, shared by every tenant's delivery loop.
#[derive(Debug, Default)]
pub struct Deliveries {
    routes: Mutex<BTreeMap<(String, String), RouteFigures>>,
}

impl Deliveries {
    /// Counts failed attempts (a drain's, in the order they happened).
    pub fn record<'a>(&self, failures: impl IntoIterator<Item = &'a FailedDelivery>) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        for f in failures {
            let r = routes.entry((f.tenant.clone(), f.route.clone())).or_default();
            *r.failed.entry(f.kind).or_default() += 1;
            if f.retried {
                r.retried += 1;
            } else {
                r.dead_lettered += 1;
            }
            let reason: String = f.reason.chars().take(MAX_REASON_CHARS).collect();
            r.last_error = Some((f.kind, reason, f.at));
        }
    }

    /// A tenant removed: its figures go with it.
    pub fn forget(&self, tenant: &str) {
        self.routes.lock().unwrap_or_else(|p| p.into_inner()).retain(|(t, _), _| t != tenant);
    }
}

impl Collector for Deliveries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let route = |(tenant, route): &(String, String)| [("tenant", tenant.clone()), ("route", route.clone())];
        counters(
            &mut encoder,
            "wharf_deliveries_failed",
            "Delivery attempts to the ERP that failed, by tenant, route and kind (throttled, transient, refused).",
            routes.iter().flat_map(|(key, r)| {
                r.failed.iter().map(move |(kind, n)| {
                    let [t, r] = route(key);
                    ([t, r, ("kind", kind.name().to_owned())], *n)
                })
            }),
        )?;
        counters(
            &mut encoder,
            "wharf_deliveries_retried",
            "Failed deliveries scheduled again (after a backoff or the ERP's throttle).",
            routes.iter().map(|(key, r)| (route(key), r.retried)),
        )?;
        counters(
            &mut encoder,
            "wharf_deliveries_dead_lettered",
            "Deliveries dead-lettered: the ERP refused them, or the retry policy gave up.",
            routes.iter().map(|(key, r)| (route(key), r.dead_lettered)),
        )?;
        let last: Vec<_> = routes.iter().filter_map(|(key, r)| r.last_error.as_ref().map(|e| (key, e))).collect();
        let mut info = encoder.encode_descriptor(
            "wharf_erp_last_error",
            "The ERP's last error per route: its kind and reason (truncated to 200 characters).",
            None,
            MetricType::Info,
        )?;
        for ((tenant, route), (kind, reason, _)) in &last {
            let labels = [
                ("tenant", tenant.as_str()),
                ("route", route.as_str()),
                ("kind", kind.name()),
                ("reason", reason.as_str()),
            ];
            info.encode_info(&labels)?;
        }
        gauges(
            &mut encoder,
            "wharf_erp_last_error_timestamp_seconds",
            "When the ERP's last error per route happened, in Unix seconds.",
            last.iter().map(|(key, (_, _, at))| (route(key), *at as f64 / 1000.0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_by_kind_and_keep_the_last_error() {
        let d = std::sync::Arc::new(Deliveries::default());
        let failure = |kind, reason: &str, at, retried| FailedDelivery {
            tenant: "acme".into(),
            route: "webhook".into(),
            kind,
            reason: reason.into(),
            at,
            retried,
        };
        d.record(&[
            failure(FailureKind::Transient, "503 Service Unavailable", 1_000, true),
            failure(FailureKind::Transient, "timed out", 2_000, true),
            failure(FailureKind::Refused, "400 \"bad\" order", 3_000, false),
        ]);
        let out = super::super::tests::render_one(d.clone());
        let has = |line: &str| assert!(out.contains(line), "{line} in\n{out}");
        has("wharf_deliveries_failed_total{tenant=\"acme\",route=\"webhook\",kind=\"transient\"} 2\n");
        has("wharf_deliveries_failed_total{tenant=\"acme\",route=\"webhook\",kind=\"refused\"} 1\n");
        has("wharf_deliveries_retried_total{tenant=\"acme\",route=\"webhook\"} 2\n");
        has("wharf_deliveries_dead_lettered_total{tenant=\"acme\",route=\"webhook\"} 1\n");
        has(
            "wharf_erp_last_error_info{tenant=\"acme\",route=\"webhook\",kind=\"refused\",reason=\"400 \\\"bad\\\" order\"} 1\n",
        );
        has("wharf_erp_last_error_timestamp_seconds{tenant=\"acme\",route=\"webhook\"} 3.0\n");
        d.forget("acme");
        assert!(!super::super::tests::render_one(d).contains("acme"));
    }
}

//! Figures of plugin calls for `/metrics`: how many, how many failed and how, and how long they
//! took, per tenant, plugin and operation. The sandbox records every call here; the API renders
//! them through the scrape's registry (see [`super`]).
//!
//! Kept in plain maps behind a lock, and encoded as a [`Collector`] at scrape time, rather
//! than as the registry's own atomic families: the host also reads them back per tenant
//! (`usage`: calls, CPU), which the registry's families cannot answer.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use super::counters;
use crate::error::CallError;
use crate::model::Operation;

/// Upper bounds of the call latency buckets, in seconds: from a cached describe (about a
/// millisecond) to the default call deadline (five seconds, `limits::DEFAULT_DEADLINE`).
pub const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Labels {
    tenant: String,
    plugin: String,
    /// The version that served: during a swap or a canary, both versions' figures show.
    version: String,
    operation: &'static str,
}

#[derive(Clone, Debug, Default)]
struct Figures {
    calls: u64,
    errors: BTreeMap<&'static str, u64>,
    /// Cumulative counts per bucket of [`LATENCY_BUCKETS`], as Prometheus wants them.
    buckets: [u64; LATENCY_BUCKETS.len()],
    seconds: f64,
    quota_wait_seconds: f64,
    cpu: Duration,
    cpu_wait: Duration,
}

/// What one finished call took.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spent {
    /// From admission to the answer, quota wait excluded.
    pub took: Duration,
    /// Waited at admission on the tenant's quota (its CPU budget included).
    pub quota_wait: Duration,
    /// CPU time the call used: polled on the sandbox's threads, and host work done for it on
    /// the blocking pool.
    pub cpu: Duration,
    /// Waited at admission on the tenant's CPU debt, plus pauses while running in debt.
    pub cpu_wait: Duration,
}

/// A failure's labels in `wharf_shop_call_errors_total`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ShopErrorLabels {
    tenant: String,
    shop: String,
    plugin: String,
    operation: &'static str,
    /// [`CallError::cause_kind`]: the plugin's own kind when the plugin said why.
    kind: &'static str,
}

/// Who made a call, with what.
pub struct CallLabels<'a> {
    pub tenant: &'a str,
    /// The shop the call was for: its failures are counted per shop too.
    pub shop: &'a str,
    pub plugin: &'a str,
    pub version: &'a str,
    pub operation: Operation,
}

/// The host's call figures; one per sandbox, shared by every call.
#[derive(Debug, Default)]
pub struct Metrics {
    figures: Mutex<BTreeMap<Labels, Figures>>,
    /// Plugin log lines dropped over their shop's log budget, by (tenant, plugin).
    logs_dropped: Mutex<BTreeMap<(String, String), u64>>,
    /// Failed calls by shop and cause, so an operator sees which shop fails and why.
    shop_errors: Mutex<BTreeMap<ShopErrorLabels, u64>>,
}

impl Metrics {
    /// One finished call, with its error when it failed.
    pub fn record(&self, call: &CallLabels<'_>, spent: Spent, error: Option<&CallError>) {
        if let Some(e) = error {
            let labels = ShopErrorLabels {
                tenant: call.tenant.to_owned(),
                shop: call.shop.to_owned(),
                plugin: call.plugin.to_owned(),
                operation: call.operation.name(),
                kind: e.cause_kind(),
            };
            *self.shop_errors.lock().unwrap_or_else(|p| p.into_inner()).entry(labels).or_default() += 1;
        }
        let error = error.map(CallError::kind);
        let labels = Labels {
            tenant: call.tenant.to_owned(),
            plugin: call.plugin.to_owned(),
            version: call.version.to_owned(),
            operation: call.operation.name(),
        };
        let mut figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        let f = figures.entry(labels).or_default();
        f.calls += 1;
        if let Some(kind) = error {
            *f.errors.entry(kind).or_default() += 1;
        }
        let seconds = spent.took.as_secs_f64();
        for (bound, count) in LATENCY_BUCKETS.iter().zip(f.buckets.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        f.seconds += seconds;
        f.quota_wait_seconds += spent.quota_wait.as_secs_f64();
        f.cpu += spent.cpu;
        f.cpu_wait += spent.cpu_wait;
    }

    /// `n` lines a plugin logged for `tenant` were dropped over the shop's log budget.
    pub fn log_lines_dropped(&self, tenant: &str, plugin: &str, n: u64) {
        let mut dropped = self.logs_dropped.lock().unwrap_or_else(|p| p.into_inner());
        *dropped.entry((tenant.to_owned(), plugin.to_owned())).or_default() += n;
    }

    /// Log lines dropped for `tenant` so far.
    pub fn log_lines_dropped_of(&self, tenant: &str) -> u64 {
        let dropped = self.logs_dropped.lock().unwrap_or_else(|p| p.into_inner());
        dropped.iter().filter(|((t, _), _)| t == tenant).map(|(_, n)| n).sum()
    }

    /// Calls recorded for `tenant` so far.
    pub fn calls_of(&self, tenant: &str) -> u64 {
        let figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        figures.iter().filter(|(l, _)| l.tenant == tenant).map(|(_, f)| f.calls).sum()
    }

    /// CPU time `tenant`'s calls used so far, and time they waited on its CPU budget.
    pub fn cpu_of(&self, tenant: &str) -> (Duration, Duration) {
        let figures = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        figures
            .iter()
            .filter(|(l, _)| l.tenant == tenant)
            .fold((Duration::ZERO, Duration::ZERO), |(u, w), (_, f)| (u + f.cpu, w + f.cpu_wait))
    }
}

impl Collector for Metrics {
    /// Each family whole, one after the other: calls, failures (by plugin, then by shop and
    /// cause), latency, then the per-tenant sums and dropped log lines.
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let figures = self.figures.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let labels = |l: &Labels| {
            [
                ("tenant", l.tenant.clone()),
                ("plugin", l.plugin.clone()),
                ("version", l.version.clone()),
                ("operation", l.operation.to_owned()),
            ]
        };
        counters(
            &mut encoder,
            "wharf_plugin_calls",
            "Plugin calls finished, by tenant, plugin and operation.",
            figures.iter().map(|(l, f)| (labels(l), f.calls)),
        )?;
        counters(
            &mut encoder,
            "wharf_plugin_call_errors",
            "Plugin calls that failed, by kind of failure.",
            figures.iter().flat_map(|(l, f)| {
                f.errors.iter().map(move |(kind, n)| {
                    let [t, p, v, o] = labels(l);
                    ([t, p, v, o, ("kind", (*kind).to_owned())], *n)
                })
            }),
        )?;
        let by_shop = self.shop_errors.lock().unwrap_or_else(|p| p.into_inner()).clone();
        counters(
            &mut encoder,
            "wharf_shop_call_errors",
            "Plugin calls that failed, by shop and cause: the plugin's own error kind (auth, transient, \
             rate_limited, invalid_input, not_found, unsupported, platform) or the host's (deadline, trap, panic, \
             memory_limit, output_too_large, contract_violation, invalid_record, host).",
            by_shop.iter().map(|(l, n)| {
                let ShopErrorLabels { tenant, shop, plugin, operation, kind } = l;
                let labels = [
                    ("tenant", tenant.as_str()),
                    ("shop", shop.as_str()),
                    ("plugin", plugin.as_str()),
                    ("operation", *operation),
                    ("kind", *kind),
                ];
                (labels, *n)
            }),
        )?;
        let mut latency = encoder.encode_descriptor(
            "wharf_plugin_call_seconds",
            "Plugin call latency, quota wait excluded.",
            None,
            MetricType::Histogram,
        )?;
        for (l, f) in &figures {
            // The registry's encoder takes each bucket's own count and adds them up itself.
            let mut below = 0;
            let mut buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
                .iter()
                .zip(f.buckets)
                .map(|(bound, cumulative)| {
                    let own = cumulative - below;
                    below = cumulative;
                    (*bound, own)
                })
                .collect();
            buckets.push((f64::INFINITY, f.calls - below));
            let labels = labels(l);
            latency.encode_family(&labels)?.encode_histogram::<NoLabelSet>(f.seconds, f.calls, &buckets, None)?;
        }
        let mut per_tenant: BTreeMap<&str, (f64, Duration, Duration)> = BTreeMap::new();
        for (l, f) in &figures {
            let sums = per_tenant.entry(&l.tenant).or_default();
            sums.0 += f.quota_wait_seconds;
            sums.1 += f.cpu;
            sums.2 += f.cpu_wait;
        }
        let tenant = |t: &str| [("tenant", t.to_owned())];
        counters(
            &mut encoder,
            "wharf_tenant_quota_wait_seconds",
            "Time calls waited on their tenant's quota.",
            per_tenant.iter().map(|(t, (waited, _, _))| (tenant(t), *waited)),
        )?;
        counters(
            &mut encoder,
            "wharf_tenant_cpu_seconds",
            "CPU time the tenant's plugin calls used, on the sandbox's threads and in host work done for them.",
            per_tenant.iter().map(|(t, (_, cpu, _))| (tenant(t), cpu.as_secs_f64())),
        )?;
        counters(
            &mut encoder,
            "wharf_tenant_cpu_wait_seconds",
            "Time the tenant's calls waited at admission or paused while running, over its CPU budget.",
            per_tenant.iter().map(|(t, (_, _, waited))| (tenant(t), waited.as_secs_f64())),
        )?;
        let dropped = self.logs_dropped.lock().unwrap_or_else(|p| p.into_inner()).clone();
        counters(
            &mut encoder,
            "wharf_plugin_log_lines_dropped",
            "Plugin log lines dropped over their shop's log budget.",
            dropped
                .iter()
                .map(|((tenant, plugin), n)| ([("tenant", tenant.as_str()), ("plugin", plugin.as_str())], *n)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Failure;
    use crate::model::ConnectorError;

    #[test]
    fn calls_render_as_counters_and_a_cumulative_histogram() {
        let m = std::sync::Arc::new(Metrics::default());
        let call = |tenant, plugin, operation| CallLabels { tenant, shop: "s1", plugin, version: "1.0.0", operation };
        let failed = |cause| CallError {
            plugin: "taobao".into(),
            version: "1.0.0".into(),
            operation: Operation::PullOrders,
            cause,
        };
        let spent = |took, quota_wait, cpu, cpu_wait| Spent {
            took: Duration::from_millis(took),
            quota_wait: Duration::from_millis(quota_wait),
            cpu: Duration::from_millis(cpu),
            cpu_wait: Duration::from_millis(cpu_wait),
        };
        m.record(&call("acme", "taobao", Operation::PullOrders), spent(3, 0, 2, 0), None);
        m.record(
            &call("acme", "taobao", Operation::PullOrders),
            spent(300, 20, 250, 10),
            Some(&failed(Failure::Deadline(Duration::from_secs(5)))),
        );
        let auth = failed(Failure::Plugin(ConnectorError::Auth { message: "expired".into() }));
        m.record(&call("acme", "taobao", Operation::PullOrders), spent(1, 0, 1, 0), Some(&auth));
        m.record(&call("beta", "jd", Operation::PushStock), spent(1, 0, 1, 0), None);
        let out = super::super::tests::render_one(m.clone());
        assert!(out.contains("wharf_plugin_calls_total{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\"} 3"), "{out}");
        assert!(out.contains("wharf_plugin_call_errors_total{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",kind=\"deadline\"} 1"));
        assert!(out.contains("wharf_plugin_call_errors_total{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",kind=\"plugin_error\"} 1"));
        assert!(out.contains("wharf_shop_call_errors_total{tenant=\"acme\",shop=\"s1\",plugin=\"taobao\",operation=\"pull-orders\",kind=\"auth\"} 1"), "{out}");
        assert!(out.contains("wharf_shop_call_errors_total{tenant=\"acme\",shop=\"s1\",plugin=\"taobao\",operation=\"pull-orders\",kind=\"deadline\"} 1"));
        assert!(out.contains("wharf_plugin_call_seconds_bucket{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",le=\"0.005\"} 2"));
        assert!(out.contains("wharf_plugin_call_seconds_bucket{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",le=\"0.5\"} 3"));
        assert!(out.contains("wharf_plugin_call_seconds_bucket{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",le=\"+Inf\"} 3"));
        assert!(out.contains("wharf_tenant_quota_wait_seconds_total{tenant=\"acme\"} 0.02"));
        assert!(out.contains("wharf_tenant_cpu_seconds_total{tenant=\"acme\"} 0.253"), "{out}");
        assert!(out.contains("wharf_tenant_cpu_wait_seconds_total{tenant=\"acme\"} 0.01"));
        assert!(out.contains("wharf_tenant_cpu_seconds_total{tenant=\"beta\"} 0.001"));
        assert_eq!(m.cpu_of("acme"), (Duration::from_millis(253), Duration::from_millis(10)));
        assert_eq!(m.calls_of("acme"), 3);
    }
}

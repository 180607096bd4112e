//! Figures of plugin calls for `/metrics`: how many, how many failed and how, and how long they
//! took, per tenant, plugin and operation. The sandbox records every call here; the API renders
//! them as Prometheus text.
//!
//! Hand-written rather than a metrics crate: a handful of counters and one histogram family,
//! rendered on request, need no registry, no global state and no macro.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

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

/// Who made a call, with what.
pub struct CallLabels<'a> {
    pub tenant: &'a str,
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
}

impl Metrics {
    /// One finished call: `error` is the failure's kind (`CallError::kind`) when it failed.
    pub fn record(&self, call: &CallLabels<'_>, spent: Spent, error: Option<&'static str>) {
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

    /// Appends the Prometheus text of every figure to `out`.
    pub fn render(&self, out: &mut String) {
        let figures = self.figures.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let labels = |l: &Labels| {
            format!(
                "tenant=\"{}\",plugin=\"{}\",version=\"{}\",operation=\"{}\"",
                escape(&l.tenant),
                escape(&l.plugin),
                escape(&l.version),
                l.operation
            )
        };
        let _ =
            writeln!(out, "# HELP wharf_plugin_calls_total Plugin calls finished, by tenant, plugin and operation.");
        let _ = writeln!(out, "# TYPE wharf_plugin_calls_total counter");
        for (l, f) in &figures {
            let _ = writeln!(out, "wharf_plugin_calls_total{{{}}} {}", labels(l), f.calls);
        }
        let _ = writeln!(out, "# HELP wharf_plugin_call_errors_total Plugin calls that failed, by kind of failure.");
        let _ = writeln!(out, "# TYPE wharf_plugin_call_errors_total counter");
        for (l, f) in &figures {
            for (kind, n) in &f.errors {
                let _ = writeln!(out, "wharf_plugin_call_errors_total{{{},kind=\"{kind}\"}} {n}", labels(l));
            }
        }
        let _ = writeln!(out, "# HELP wharf_plugin_call_seconds Plugin call latency, quota wait excluded.");
        let _ = writeln!(out, "# TYPE wharf_plugin_call_seconds histogram");
        for (l, f) in &figures {
            for (bound, count) in LATENCY_BUCKETS.iter().zip(f.buckets) {
                let _ = writeln!(out, "wharf_plugin_call_seconds_bucket{{{},le=\"{bound}\"}} {count}", labels(l));
            }
            let _ = writeln!(out, "wharf_plugin_call_seconds_bucket{{{},le=\"+Inf\"}} {}", labels(l), f.calls);
            let _ = writeln!(out, "wharf_plugin_call_seconds_sum{{{}}} {}", labels(l), f.seconds);
            let _ = writeln!(out, "wharf_plugin_call_seconds_count{{{}}} {}", labels(l), f.calls);
        }
        let _ =
            writeln!(out, "# HELP wharf_tenant_quota_wait_seconds_total Time calls waited on their tenant's quota.");
        let _ = writeln!(out, "# TYPE wharf_tenant_quota_wait_seconds_total counter");
        let mut per_tenant: BTreeMap<&str, (f64, Duration, Duration)> = BTreeMap::new();
        for (l, f) in &figures {
            let sums = per_tenant.entry(&l.tenant).or_default();
            sums.0 += f.quota_wait_seconds;
            sums.1 += f.cpu;
            sums.2 += f.cpu_wait;
        }
        for (tenant, (seconds, _, _)) in &per_tenant {
            let _ = writeln!(out, "wharf_tenant_quota_wait_seconds_total{{tenant=\"{}\"}} {seconds}", escape(tenant));
        }
        let _ = writeln!(
            out,
            "# HELP wharf_tenant_cpu_seconds_total CPU time the tenant's plugin calls used, on the sandbox's threads \
             and in host work done for them."
        );
        let _ = writeln!(out, "# TYPE wharf_tenant_cpu_seconds_total counter");
        for (tenant, (_, cpu, _)) in &per_tenant {
            let seconds = cpu.as_secs_f64();
            let _ = writeln!(out, "wharf_tenant_cpu_seconds_total{{tenant=\"{}\"}} {seconds}", escape(tenant));
        }
        let _ = writeln!(
            out,
            "# HELP wharf_tenant_cpu_wait_seconds_total Time the tenant's calls waited at admission or paused while \
             running, over its CPU budget."
        );
        let _ = writeln!(out, "# TYPE wharf_tenant_cpu_wait_seconds_total counter");
        for (tenant, (_, _, waited)) in &per_tenant {
            let seconds = waited.as_secs_f64();
            let _ = writeln!(out, "wharf_tenant_cpu_wait_seconds_total{{tenant=\"{}\"}} {seconds}", escape(tenant));
        }
        let dropped = self.logs_dropped.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let _ = writeln!(
            out,
            "# HELP wharf_plugin_log_lines_dropped_total Plugin log lines dropped over their shop's log budget."
        );
        let _ = writeln!(out, "# TYPE wharf_plugin_log_lines_dropped_total counter");
        for ((tenant, plugin), n) in dropped {
            let _ = writeln!(
                out,
                "wharf_plugin_log_lines_dropped_total{{tenant=\"{}\",plugin=\"{}\"}} {n}",
                escape(&tenant),
                escape(&plugin)
            );
        }
    }
}

/// A label value as Prometheus text wants it.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_render_as_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        let call = |tenant, plugin, operation| CallLabels { tenant, plugin, version: "1.0.0", operation };
        let spent = |took, quota_wait, cpu, cpu_wait| Spent {
            took: Duration::from_millis(took),
            quota_wait: Duration::from_millis(quota_wait),
            cpu: Duration::from_millis(cpu),
            cpu_wait: Duration::from_millis(cpu_wait),
        };
        m.record(&call("acme", "taobao", Operation::PullOrders), spent(3, 0, 2, 0), None);
        m.record(&call("acme", "taobao", Operation::PullOrders), spent(300, 20, 250, 10), Some("deadline"));
        m.record(&call("beta", "jd", Operation::PushStock), spent(1, 0, 1, 0), None);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("wharf_plugin_calls_total{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\"} 2"), "{out}");
        assert!(out.contains("wharf_plugin_call_errors_total{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",kind=\"deadline\"} 1"));
        assert!(out.contains("wharf_plugin_call_seconds_bucket{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",le=\"0.005\"} 1"));
        assert!(out.contains("wharf_plugin_call_seconds_bucket{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",le=\"0.5\"} 2"));
        assert!(out.contains("wharf_plugin_call_seconds_bucket{tenant=\"acme\",plugin=\"taobao\",version=\"1.0.0\",operation=\"pull-orders\",le=\"+Inf\"} 2"));
        assert!(out.contains("wharf_tenant_quota_wait_seconds_total{tenant=\"acme\"} 0.02"));
        assert!(out.contains("wharf_tenant_cpu_seconds_total{tenant=\"acme\"} 0.252"), "{out}");
        assert!(out.contains("wharf_tenant_cpu_wait_seconds_total{tenant=\"acme\"} 0.01"));
        assert!(out.contains("wharf_tenant_cpu_seconds_total{tenant=\"beta\"} 0.001"));
        assert_eq!(m.cpu_of("acme"), (Duration::from_millis(252), Duration::from_millis(10)));
        assert_eq!(m.calls_of("acme"), 2);
        assert_eq!(escape("a\"b"), "a\\\"b");
    }
}

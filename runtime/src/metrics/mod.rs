//! What `/metrics` shows, and how it is written.
//!
//! Three sources, behind one registry:
//!
//! - [`calls`]: the sandbox's figures of plugin calls (counts, failures by plugin and by shop
//!   and cause, latency, CPU), recorded as calls finish;
//! - [`deliveries`]: the delivery loops' figures of the ERP (failed attempts by kind, retries,
//!   dead letters, the last error per route), recorded as drains settle;
//! - [`Scrape`]: figures read at scrape time from the scheduler's progress and the store (per
//!   shop: orders, queues, quarantine; per tenant: calls in flight, quotas, stored bytes).
//!
//! Each source is a [`Collector`]; [`render`] registers the three in a fresh [`Registry`] per
//! scrape and encodes it with `prometheus-client`'s Prometheus text encoder (version 0.0.4).
//! Going through the crate rather than writing text by hand is what keeps the exposition
//! valid: one HELP and TYPE per family, each family's samples together, label values
//! escaped. A hand-written `/metrics` once declared two families back to back and then
//! interleaved their samples, which a strict parser reads as three families, two untyped.
//! The Prometheus text format rather than OpenMetrics: it is what every scraper and script
//! reads, and the names Wharf has always shown (`…_total` counters) stay as they were.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub mod calls;
pub mod deliveries;

pub use calls::{CallLabels, LATENCY_BUCKETS, Metrics, Spent};
pub use deliveries::{Deliveries, FailedDelivery, FailureKind};

/// The `Content-Type` of what [`render`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The whole exposition: the three sources, each family whole, in this order.
pub fn render(scrape: Scrape, calls: Arc<Metrics>, deliveries: Arc<Deliveries>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    registry.register_collector(Box::new(calls));
    registry.register_collector(Box::new(deliveries));
    let mut out = String::new();
    // Writing to a String cannot fail, and the collectors fail only when their writer does.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

/// One shop's figures, as `/metrics` shows them.
#[derive(Clone, Debug, Default)]
pub struct ShopRow {
    pub tenant: String,
    pub shop: String,
    pub pulled: u64,
    pub delivered: u64,
    pub pushed: u64,
    pub pending: u64,
    pub dead_lettered: u64,
    pub quarantined: u64,
    pub auth_failed: bool,
}

/// Quarantined records of one shop, module and field.
#[derive(Clone, Debug, Default)]
pub struct QuarantinedRow {
    pub tenant: String,
    pub shop: String,
    pub module: String,
    pub field: String,
    pub records: u64,
}

/// One tenant's use of its quota, and the quota.
#[derive(Clone, Debug, Default)]
pub struct TenantRow {
    pub tenant: String,
    pub calls_in_flight: u64,
    pub quota_concurrent_calls: u64,
    pub stored_bytes: u64,
    pub quota_stored_bytes: u64,
    pub quota_cpu_millis_per_second: u64,
}

/// Figures read at scrape time (the API gathers them from the scheduler and the store).
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    pub shops: Vec<ShopRow>,
    pub quarantined: Vec<QuarantinedRow>,
    pub tenants: Vec<TenantRow>,
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let shop = |s: &ShopRow| [("tenant", s.tenant.clone()), ("shop", s.shop.clone())];
        type PerShop = fn(&ShopRow) -> u64;
        let per_shop: [(&str, MetricType, &str, PerShop); 7] = [
            ("wharf_orders_pulled", MetricType::Counter, "Order versions stored (new and changed) since start.", |s| {
                s.pulled
            }),
            ("wharf_orders_delivered", MetricType::Counter, "Order versions the ERP took since start.", |s| {
                s.delivered
            }),
            ("wharf_updates_pushed", MetricType::Counter, "Updates the platform confirmed since start.", |s| s.pushed),
            ("wharf_queue_depth", MetricType::Gauge, "Deliveries and updates still owed, per shop.", |s| s.pending),
            ("wharf_dead_letters", MetricType::Gauge, "Deliveries and updates parked with a reason.", |s| {
                s.dead_lettered
            }),
            ("wharf_quarantined", MetricType::Gauge, "Records the plugin could not map, set aside, per shop.", |s| {
                s.quarantined
            }),
            (
                "wharf_shop_auth_failed",
                MetricType::Gauge,
                "1 while the platform refuses the shop's credentials (nothing is pulled).",
                |s| u64::from(s.auth_failed),
            ),
        ];
        for (name, kind, help, value) in per_shop {
            let samples = self.shops.iter().map(|s| (shop(s), value(s)));
            match kind {
                MetricType::Counter => counters(&mut encoder, name, help, samples)?,
                _ => gauges(&mut encoder, name, help, samples)?,
            }
        }
        // The same records by the field that failed, so an operator sees what is wrong at a glance.
        gauges(
            &mut encoder,
            "wharf_quarantined_by_field",
            "Records set aside, per shop, module and field that failed.",
            self.quarantined.iter().map(|q| {
                let labels = [
                    ("tenant", q.tenant.as_str()),
                    ("shop", q.shop.as_str()),
                    ("module", q.module.as_str()),
                    ("field", q.field.as_str()),
                ];
                (labels, q.records)
            }),
        )?;
        type PerTenant = fn(&TenantRow) -> u64;
        let per_tenant: [(&str, &str, PerTenant); 5] = [
            ("wharf_tenant_calls_in_flight", "Plugin calls of the tenant running now.", |t| t.calls_in_flight),
            ("wharf_tenant_quota_concurrent_calls", "The tenant's cap on plugin calls in flight.", |t| {
                t.quota_concurrent_calls
            }),
            (
                "wharf_tenant_stored_bytes",
                "What the tenant keeps in the store (orders, deliveries and updates owed, dead letters, quarantine).",
                |t| t.stored_bytes,
            ),
            (
                "wharf_tenant_quota_stored_bytes",
                "The tenant's cap on stored bytes (quota.stored_mib); at it, new orders and updates are refused.",
                |t| t.quota_stored_bytes,
            ),
            ("wharf_tenant_quota_cpu_millis_per_second", "The tenant's CPU budget, in milliseconds per second.", |t| {
                t.quota_cpu_millis_per_second
            }),
        ];
        for (name, help, value) in per_tenant {
            gauges(&mut encoder, name, help, self.tenants.iter().map(|t| ([("tenant", t.tenant.as_str())], value(t))))?;
        }
        Ok(())
    }
}

/// Writes one counter family whole: its HELP and TYPE, then every sample. `name` without
/// `_total`: the encoder adds it.
pub(crate) fn counters<L: EncodeLabelSet, N: EncodeCounterValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, N)>,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in samples {
        family.encode_family(&labels)?.encode_counter::<NoLabelSet, N, f64>(&value, None)?;
    }
    Ok(())
}

/// Writes one gauge family whole: its HELP and TYPE, then every sample.
pub(crate) fn gauges<L: EncodeLabelSet, N: EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, N)>,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        family.encode_family(&labels)?.encode_gauge(&value)?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One collector's exposition alone.
    pub fn render_one(collector: impl Collector) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(collector));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn every_family_is_declared_once_and_whole() {
        let shops =
            ["a", "b"].map(|s| ShopRow { tenant: "t\"1".into(), shop: s.into(), pulled: 3, ..Default::default() });
        let tenants = ["t1", "t2"].map(|t| TenantRow {
            tenant: t.into(),
            calls_in_flight: 1,
            quota_concurrent_calls: 4,
            ..Default::default()
        });
        let scrape = Scrape { shops: shops.to_vec(), quarantined: vec![], tenants: tenants.to_vec() };
        let out = render(scrape, Arc::default(), Arc::default());
        assert!(out.contains("wharf_orders_pulled_total{tenant=\"t\\\"1\",shop=\"a\"} 3\n"), "{out}");
        assert!(out.contains("wharf_tenant_quota_concurrent_calls{tenant=\"t2\"} 4\n"), "{out}");
        // The families the old text interleaved: each declared once, its samples right after.
        let lines: Vec<&str> = out.lines().collect();
        for name in ["wharf_tenant_calls_in_flight", "wharf_tenant_quota_concurrent_calls"] {
            let at = lines.iter().position(|l| *l == format!("# TYPE {name} gauge")).unwrap();
            assert!(lines[at + 1].starts_with(&format!("{name}{{tenant=\"t1\"}}")), "{out}");
            assert!(lines[at + 2].starts_with(&format!("{name}{{tenant=\"t2\"}}")), "{out}");
            assert_eq!(out.matches(&format!("# TYPE {name} ")).count(), 1);
        }
    }
}

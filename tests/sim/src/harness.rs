//! The one face every simulated marketplace shows the conformance suite.
//!
//! The suite (`wharf_runtime::conformance`) runs every marketplace plugin through the same
//! scenarios; it knows nothing of TOP, JOS, 抖店 or ECShop. Each simulator implements
//! [`Marketplace`]: how to configure the plugin for it, what it holds (as the canonical JSON
//! the plugin must produce, so the comparison is field by field), and its fault knobs.

use std::collections::BTreeMap;

use serde_json::Value;

/// Orders a conformance run seeds unless told otherwise: enough for several pages at the
/// page size each simulator's [`Marketplace::config`] sets.
pub const DEFAULT_CONFORMANCE_ORDERS: usize = 120;

/// How to build a simulator for a conformance run.
#[derive(Clone, Debug)]
pub struct HarnessOptions {
    /// Orders in the shop.
    pub orders: usize,
    /// Everything generated derives from it.
    pub seed: u64,
}

impl Default for HarnessOptions {
    fn default() -> Self {
        Self { orders: DEFAULT_CONFORMANCE_ORDERS, seed: 20_261_124 }
    }
}

/// A push the simulator can check: the operation, its input as `wharf plugin call --input`
/// takes it (a JSON list of canonical records), and a check of the simulator's state after.
pub struct PushCase {
    /// `push-stock`, `push-logistics`, …
    pub operation: String,
    pub input: Value,
    /// `Err(why)` when the simulator's state does not show the push.
    pub check: Box<dyn Fn() -> Result<(), String> + Send + Sync>,
}

/// A simulated marketplace, driven by the conformance suite.
pub trait Marketplace: Send + Sync {
    /// The platform the plugin's `describe` must name (`"jd"`).
    fn platform(&self) -> &str;
    /// The plugin's config for this simulator: its endpoint, app key, and a page size small
    /// enough that [`Marketplace::window`] spans several pages.
    fn config(&self) -> BTreeMap<String, String>;
    /// The plugin's secrets (app secret, access token…), as the host would hold them.
    fn secrets(&self) -> BTreeMap<String, String>;
    /// What the operator grants the plugin: `127.0.0.1:<port>`.
    fn grant(&self) -> String;
    /// The simulator's clock, UTC ms.
    fn now_ms(&self) -> i64;
    /// A window `[from, to)` (UTC ms) holding every order in the shop.
    fn window(&self) -> (i64, i64);
    /// The canonical JSON of every order modified in `[from, to)` as the plugin must map it for
    /// shop `shop_id`: snake_case, RFC 3339 instants, absent fields omitted (what
    /// `wharf plugin call` prints).
    fn expected_orders(&self, shop_id: &str, from: i64, to: i64) -> Vec<Value>;
    /// Moves one order to a different status and stamps it modified now; returns its id.
    fn change_order(&self) -> String;
    /// Whether this platform's order ids exceed 2^53 (the suite then checks one such id came
    /// through digit for digit).
    fn has_big_ids(&self) -> bool;
    /// After `calls` more calls, refuse calls as the platform does when throttling, for
    /// `ban_secs`.
    fn throttle(&self, calls: u32, ban_secs: u64);
    /// Refuse the plugin's credentials from now on, as the platform does for an expired or
    /// wrong token.
    fn revoke_credentials(&self);
    /// Break a money field of an order in the answers that carry orders (the next answer's,
    /// or every listing's first order until [`Marketplace::clear_faults`] where a listing
    /// carries whole orders: a walk may drop a listing to halve its chunk, and the broken order
    /// must still reach a page it keeps); returns the JSON key broken, which the plugin's
    /// rejected record (or, for a 0.1.0 plugin, its `invalid_input`) must name in its `field`.
    fn malform_next_order(&self) -> String;
    /// Clears every fault.
    fn clear_faults(&self);
    /// The pushes this simulator can check (one per push the platform supports).
    fn push_cases(&self) -> Vec<PushCase>;
}

/// Absent fields are omitted in the canonical JSON: removes `null`s, recursively, so an
/// expectation can be written with `Option`s.
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// RFC 3339 UTC with milliseconds only when there are some, as the canonical JSON prints
/// instants (`2026-11-11T00:00:05Z`).
pub fn rfc3339(ms: i64) -> String {
    let dt = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    if ms.rem_euclid(1000) == 0 {
        dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// Starts the simulator of `platform` for a conformance run.
pub fn start(platform: &str, options: &HarnessOptions) -> anyhow::Result<Box<dyn Marketplace>> {
    match platform {
        "taobao" => Ok(Box::new(crate::taobao::TaobaoSim::for_conformance(options)?)),
        "jd" => Ok(Box::new(crate::jd::JdSim::spawn(crate::jd::JdConfig {
            orders: options.orders,
            seed: options.seed,
            ..Default::default()
        })?)),
        "douyin" => Ok(Box::new(crate::douyin::DouyinSim::spawn(crate::douyin::DouyinConfig {
            orders: options.orders,
            seed: options.seed,
            ..Default::default()
        })?)),
        "ecshop" => Ok(Box::new(crate::ecshop::EcshopSim::for_conformance(options)?)),
        other => anyhow::bail!("no simulator for platform {other:?}; simulated: {}", SIMULATED.join(", ")),
    }
}

/// The platforms [`start`] knows.
pub const SIMULATED: &[&str] = &["taobao", "jd", "douyin", "ecshop"];

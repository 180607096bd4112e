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
    /// The cases of the rules every plugin follows (canonical-model.md, "Rules every plugin
    /// follows"), written from the platform's documented field meanings (platforms.md), not
    /// from this simulator's generator. None by default: the suite skips the rule group.
    fn rule_cases(&self) -> Vec<RuleCase> {
        Vec::new()
    }
    /// Serves these platform-shaped order documents exactly as given, beside the generated
    /// shop: its listing (by the documents' own modification time and status) and detail
    /// answers carry them untouched until [`Marketplace::clear_raw`]. `Err` when a document
    /// lacks what the platform needs to list it (its id or times).
    fn serve_raw(&self, docs: &[Value]) -> Result<(), String> {
        let _ = docs;
        Err(format!("the {} simulator cannot serve raw orders", self.platform()))
    }
    /// Stops serving the documents of [`Marketplace::serve_raw`].
    fn clear_raw(&self) {}
}

/// How long before the simulator's "now" a rule case's documents were modified: well before
/// every generated order (the simulators generate at most [`MAX_GENERATED_SPAN_MS`] back), so
/// the case's window holds its own documents and nothing else.
pub const RULE_CASE_AGE_MS: i64 = 10 * 86_400_000;
/// The longest span back from "now" any simulator generates orders over (three days).
pub const MAX_GENERATED_SPAN_MS: i64 = 3 * 86_400_000;
/// Half the width of a rule case's window around its documents' times.
pub const RULE_CASE_HALF_WINDOW_MS: i64 = 30 * 60_000;

/// The instant (UTC ms, whole seconds) a rule case's documents are modified at, for a
/// simulator whose clock reads `now_ms`; a case's documents use it and the following seconds.
pub fn rule_case_at(now_ms: i64) -> i64 {
    (now_ms - RULE_CASE_AGE_MS) / 1000 * 1000
}

/// One case of a rule every plugin follows: platform documents served as they are, and the
/// canonical facts the rule names, which the plugin's pull must give.
#[derive(Clone, Debug)]
pub struct RuleCase {
    /// The rule, as canonical-model.md names it: `status`, `platform_status`,
    /// `receiver privacy`, `line money`, `one bad record`.
    pub rule: &'static str,
    /// What the case shows (`JD PAUSE is held`).
    pub name: String,
    /// The platform's order documents, as its API (or, for ECShop, its tables) holds them:
    /// what [`Marketplace::serve_raw`] takes.
    pub raw: Vec<Value>,
    /// The window `[from, to)` (UTC ms) that holds exactly these documents.
    pub window: (i64, i64),
    /// Per order the pull must map: the canonical JSON facts the rule names, `order_id`
    /// included; a subset of the order (objects compare key by key, lists item by item, `null`
    /// means absent, and an object against a string reads the string as JSON text, as
    /// `privacy_ref` is).
    pub orders: Vec<Value>,
    /// The orders the pull must set aside as rejected: their own id and a text the rejected
    /// record's `field` contains.
    pub rejected: Vec<(String, String)>,
    /// Texts (ciphertexts) no field of the mapped orders may hold but `receiver.privacy_ref`.
    pub never_shown: Vec<String>,
    /// Receiver data (plaintext, ciphertexts) no rejected record's excerpt may hold: the rule
    /// says the excerpt comes with receiver data masked.
    pub excerpt_hides: Vec<String>,
}

impl RuleCase {
    /// A case whose documents all map, with these facts.
    pub fn new(
        rule: &'static str,
        name: impl Into<String>,
        window: (i64, i64),
        raw: Vec<Value>,
        orders: Vec<Value>,
    ) -> Self {
        let (rejected, never_shown, excerpt_hides) = (Vec::new(), Vec::new(), Vec::new());
        Self { rule, name: name.into(), raw, window, orders, rejected, never_shown, excerpt_hides }
    }

    /// The order `id` must be set aside, its record's `field` naming `field`.
    pub fn rejecting(mut self, id: impl Into<String>, field: impl Into<String>) -> Self {
        self.rejected.push((id.into(), field.into()));
        self
    }

    /// These receiver texts must not appear in a rejected record's excerpt.
    pub fn hiding_in_excerpts(mut self, texts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.excerpt_hides.extend(texts.into_iter().map(Into::into));
        self
    }

    /// These texts must appear nowhere in the mapped orders but in `receiver.privacy_ref`.
    pub fn never_showing(mut self, texts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.never_shown.extend(texts.into_iter().map(Into::into));
        self
    }
}

/// The window of a rule case whose documents are modified from `at` on.
pub fn rule_case_window(at: i64) -> (i64, i64) {
    (at - RULE_CASE_HALF_WINDOW_MS, at + RULE_CASE_HALF_WINDOW_MS)
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

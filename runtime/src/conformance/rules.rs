//! Rule scenarios: the rules every plugin follows (canonical-model.md, "Rules every plugin
//! follows") checked case by case. Each simulator offers its platform's cases
//! ([`wharf_sim::Marketplace::rule_cases`]): order documents written from the platform's
//! documented field meanings and served as they are, with the canonical facts the rule names.
//! The suite serves a case's documents, pulls its window and compares only those facts, so a
//! case holds every plugin of the platform to the platform's documents, not to our generators.

use std::collections::BTreeSet;

use serde_json::Value;
use wharf_sim::{Marketplace, RuleCase};

use super::platform::{pull_window, shop};
use super::{Check, Outcome};
use crate::model::{Order, Rejected};
use crate::{Plugin, Shop};

/// The scenario name of the group when there is nothing to run.
const GROUP: &str = "rule cases";

pub(super) async fn run(plugin: &Plugin, sim: &dyn Marketplace) -> Vec<Check> {
    let cases = sim.rule_cases();
    if cases.is_empty() {
        return vec![Check { scenario: GROUP.into(), outcome: Outcome::Skip("the simulator offers no rule cases".into()) }];
    }
    let shop = shop(sim);
    let mut checks = Vec::with_capacity(cases.len());
    for case in &cases {
        let outcome = run_case(plugin, &shop, sim, case).await;
        sim.clear_raw();
        checks.push(Check { scenario: format!("rule {}: {}", case.rule, case.name), outcome });
    }
    checks
}

async fn run_case(plugin: &Plugin, shop: &Shop, sim: &dyn Marketplace, case: &RuleCase) -> Outcome {
    if let Err(why) = sim.serve_raw(&case.raw) {
        return Outcome::Fail(format!("the simulator cannot serve the case: {why}"));
    }
    let (from, to) = case.window;
    match pull_window(plugin, shop, from, to).await {
        Err(e) => Outcome::Fail(format!("pulling the case's window failed: {e}")),
        Ok((orders, rejected, _)) => judge(case, &orders, &rejected),
    }
}

/// Every expected order came with the rule's facts, every expected rejection came by its own
/// id naming its field, and nothing else came.
fn judge(case: &RuleCase, orders: &[Order], rejected: &[Rejected]) -> Outcome {
    let want_orders: BTreeSet<&str> = case.orders.iter().filter_map(|o| o["order_id"].as_str()).collect();
    let want_rejected: BTreeSet<&str> = case.rejected.iter().map(|(id, _)| id.as_str()).collect();
    let got_orders: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
    let got_rejected: Vec<&str> = rejected.iter().map(|r| r.id.as_str()).collect();
    if got_orders.iter().copied().collect::<BTreeSet<_>>() != want_orders
        || got_orders.len() != want_orders.len()
        || got_rejected.iter().copied().collect::<BTreeSet<_>>() != want_rejected
        || got_rejected.len() != want_rejected.len()
    {
        return Outcome::Fail(format!(
            "expected orders {want_orders:?} and rejected {want_rejected:?}, got orders {got_orders:?} and rejected {}",
            rejected.iter().map(|r| format!("{} ({}: {})", r.id, r.field, r.reason)).collect::<Vec<_>>().join(", ")
        ));
    }
    for (id, field) in &case.rejected {
        if let Some(r) = rejected.iter().find(|r| &r.id == id && !r.field.contains(field.as_str())) {
            return Outcome::Fail(format!("order {id} was set aside naming field {:?}, expected one naming `{field}`", r.field));
        }
    }
    for want in &case.orders {
        let Some(id) = want["order_id"].as_str() else {
            return Outcome::Fail(format!("the case's expected order has no order_id: {want}"));
        };
        let Some(order) = orders.iter().find(|o| o.order_id == id) else { continue };
        let got = serde_json::to_value(order).unwrap_or(Value::Null);
        if let Some(diff) = differs("", want, Some(&got)) {
            return Outcome::Fail(format!("order {id}: {diff}"));
        }
        for text in &case.never_shown {
            if let Some(path) = shows(&got, "", text) {
                return Outcome::Fail(format!("order {id} shows the ciphertext {text:?} at {path}"));
            }
        }
        if case.rule == "line money"
            && let Some(why) = line_money(order)
        {
            return Outcome::Fail(format!("order {id}: {why}"));
        }
    }
    Outcome::Pass
}

/// Where `got` differs from the facts in `want`: objects key by key (`null` is absent), lists
/// item by item, an object against a string reads the string as JSON text.
fn differs(path: &str, want: &Value, got: Option<&Value>) -> Option<String> {
    match (want, got) {
        (Value::Null, None | Some(Value::Null)) => None,
        (Value::Object(w), Some(Value::String(text))) => match serde_json::from_str::<Value>(text) {
            Ok(parsed) => differs(path, want, Some(&parsed)),
            Err(_) => Some(format!("{path}: expected JSON text holding {}, got {text:?}", Value::Object(w.clone()))),
        },
        (Value::Object(w), Some(Value::Object(g))) => w.iter().find_map(|(k, v)| {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            differs(&p, v, g.get(k))
        }),
        (Value::Array(w), Some(Value::Array(g))) if w.len() == g.len() => {
            w.iter().zip(g).enumerate().find_map(|(i, (a, b))| differs(&format!("{path}[{i}]"), a, Some(b)))
        }
        (Value::Array(w), Some(Value::Array(g))) => Some(format!("{path}: expected {} items, got {}", w.len(), g.len())),
        (_, Some(g)) if g == want => None,
        (_, got) => Some(format!("{path}: expected {want}, got {}", got.map_or_else(|| "absent".to_owned(), Value::to_string))),
    }
}

/// The path of a string in `v` holding `text`, skipping `receiver.privacy_ref`.
fn shows(v: &Value, path: &str, text: &str) -> Option<String> {
    match v {
        Value::String(s) if s.contains(text) => Some(path.to_owned()),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if p == "receiver.privacy_ref" { None } else { shows(v, &p, text) }
        }),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| shows(v, &format!("{path}[{i}]"), text)),
        _ => None,
    }
}

/// The line money rule on every line: discount ≥ 0 and `line_total = unit_price × quantity −
/// discount`.
fn line_money(order: &Order) -> Option<String> {
    order.lines.iter().find_map(|l| {
        let gross = l.unit_price.checked_mul(i64::from(l.quantity))?;
        if l.discount < 0 || l.unit_price < 0 {
            Some(format!("line {}: unit price {} and discount {} must not be negative", l.line_id, l.unit_price, l.discount))
        } else if gross - l.discount != l.line_total {
            Some(format!(
                "line {}: {} × {} − {} = {}, but line_total is {}",
                l.line_id,
                l.unit_price,
                l.quantity,
                l.discount,
                gross - l.discount,
                l.line_total
            ))
        } else {
            None
        }
    })
}

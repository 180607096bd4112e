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
        return vec![Check {
            scenario: GROUP.into(),
            outcome: Outcome::Skip("the simulator offers no rule cases".into()),
        }];
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
            return Outcome::Fail(format!(
                "order {id} was set aside naming field {:?}, expected one naming `{field}`",
                r.field
            ));
        }
    }
    for r in rejected {
        let excerpt = r.excerpt.as_deref().unwrap_or_default();
        if let Some(text) = case.excerpt_hides.iter().find(|t| excerpt.contains(t.as_str())) {
            return Outcome::Fail(format!("order {} was set aside with receiver data {text:?} in its excerpt", r.id));
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
        (Value::Array(w), Some(Value::Array(g))) => {
            Some(format!("{path}: expected {} items, got {}", w.len(), g.len()))
        }
        (_, Some(g)) if g == want => None,
        (_, got) => {
            Some(format!("{path}: expected {want}, got {}", got.map_or_else(|| "absent".to_owned(), Value::to_string)))
        }
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
            Some(format!(
                "line {}: unit price {} and discount {} must not be negative",
                l.line_id, l.unit_price, l.discount
            ))
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CIPHERTEXT: &str = "##AAAA*BBBB#1##";

    /// An order as a plugin might map it: held, a ciphertext in `privacy_ref` only, one line
    /// of 2 × 50.00 with 3.00 off.
    fn order(id: &str) -> Order {
        serde_json::from_value(json!({
            "platform": "douyin", "shop_id": "s1", "order_id": id, "status": "held", "platform_status": "PAUSE",
            "refund_status": "none", "created_at": "2026-11-11T00:00:00Z", "updated_at": "2026-11-11T00:00:00Z",
            "currency": "CNY", "goods_total": 10000, "shipping_fee": 0, "discount_total": 300, "paid_total": 9700,
            "receiver": {"name": "张*", "masked": true, "privacy_ref": format!("{{\"name\":\"{CIPHERTEXT}\"}}")},
            "lines": [{"line_id": "l1", "title": "T", "quantity": 2, "unit_price": 5000, "discount": 300,
                       "line_total": 9700, "refund_status": "none"}],
        }))
        .unwrap()
    }

    fn case(rule: &'static str, facts: Vec<Value>) -> RuleCase {
        RuleCase::new(rule, "test", (0, 1), Vec::new(), facts)
    }

    fn rejected(id: &str, field: &str) -> Rejected {
        Rejected { id: id.into(), field: field.into(), reason: "bad".into(), excerpt: None }
    }

    #[test]
    fn the_facts_the_rule_names_are_compared_and_nothing_else() {
        let facts = json!({"order_id": "1", "status": "held", "receiver": {"name": "张*", "phone": null,
            "privacy_ref": {"name": CIPHERTEXT}}});
        assert_eq!(judge(&case("status", vec![facts]), &[order("1")], &[]), Outcome::Pass);
        let wrong = judge(&case("status", vec![json!({"order_id": "1", "status": "paid"})]), &[order("1")], &[]);
        assert!(matches!(&wrong, Outcome::Fail(why) if why.contains("status: expected \"paid\"")), "{wrong:?}");
        let absent = judge(
            &case("receiver privacy", vec![json!({"order_id": "1", "receiver": {"name": null}})]),
            &[order("1")],
            &[],
        );
        assert!(matches!(absent, Outcome::Fail(_)), "a shown name is not absent");
    }

    #[test]
    fn a_ciphertext_outside_privacy_ref_fails() {
        let shown = case("receiver privacy", vec![json!({"order_id": "1"})]).never_showing([CIPHERTEXT]);
        assert_eq!(judge(&shown, &[order("1")], &[]), Outcome::Pass);
        let mut leaky = order("1");
        leaky.receiver.as_mut().unwrap().address = Some(CIPHERTEXT.into());
        let outcome = judge(&shown, &[leaky], &[]);
        assert!(matches!(&outcome, Outcome::Fail(why) if why.contains("receiver.address")), "{outcome:?}");
    }

    #[test]
    fn line_money_must_add_up() {
        let money = case("line money", vec![json!({"order_id": "1"})]);
        assert_eq!(judge(&money, &[order("1")], &[]), Outcome::Pass);
        let mut off = order("1");
        off.lines[0].line_total = 10000;
        assert!(matches!(judge(&money, &[off], &[]), Outcome::Fail(_)));
    }

    #[test]
    fn the_bad_record_comes_aside_by_its_own_id_and_every_other_order_comes() {
        let page = case("one bad record", vec![json!({"order_id": "1"}), json!({"order_id": "3"})])
            .rejecting("2", "sum_amount");
        let good = [order("1"), order("3")];
        assert_eq!(judge(&page, &good, &[rejected("2", "sku_order_list[0].sum_amount")]), Outcome::Pass);
        assert!(matches!(judge(&page, &good, &[rejected("2", "pay_amount")]), Outcome::Fail(_)), "names its field");
        assert!(matches!(judge(&page, &good[..1], &[rejected("2", "sum_amount")]), Outcome::Fail(_)), "nothing lost");
        assert!(matches!(judge(&page, &good, &[]), Outcome::Fail(_)), "not mapped silently");
        let leaky =
            Rejected { excerpt: Some(format!("{{\"consignee\":\"{CIPHERTEXT}\"}}")), ..rejected("2", "sum_amount") };
        let hidden = page.clone().hiding_in_excerpts([CIPHERTEXT]);
        assert!(matches!(judge(&hidden, &good, &[leaky]), Outcome::Fail(_)), "receiver data masked in the excerpt");
        let twice = [order("1"), order("3"), order("3")];
        assert!(matches!(judge(&page, &twice, &[rejected("2", "sum_amount")]), Outcome::Fail(_)), "nothing twice");
    }
}

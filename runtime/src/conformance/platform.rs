//! Platform scenarios: the plugin against a simulator, compared with its ground truth.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use wharf_sim::Marketplace;

use super::{Check, Outcome};
use crate::capability::credentials::Secrets;
use crate::capability::grants::HostGrants;
use crate::error::CallError;
use crate::model::{ConnectorError, ItemResult, Operation, Order, Rejected, TimeWindow, Timestamp};
use crate::sandbox::{Call, Reply};
use crate::{Plugin, Shop};

/// The shop id orders are stamped with in the suite.
const SHOP_ID: &str = "conformance-shop";
/// Pages one window may take before the suite calls the plugin stuck.
const MAX_PAGES: usize = 10_000;
/// 2^53: ids above it do not survive a trip through an f64.
const F64_EXACT_LIMIT: u64 = 1 << 53;
/// How long the simulator keeps refusing a throttled plugin, in seconds.
const THROTTLE_SECS: u64 = 2;

pub(super) async fn run(plugin: &Plugin, sim: &dyn Marketplace) -> Vec<Check> {
    let shop = shop(sim);
    let mut checks = Vec::new();
    let mut push = |scenario: &str, outcome: Outcome| checks.push(Check { scenario: scenario.to_owned(), outcome });

    let d = plugin.descriptor();
    push(
        "describe names the platform",
        if d.platform == sim.platform() {
            Outcome::Pass
        } else {
            Outcome::Fail(format!("describe says platform {:?}, the simulator is {:?}", d.platform, sim.platform()))
        },
    );
    if !d.operations.contains(&Operation::PullOrders) {
        push("window: all orders, once", Outcome::Skip("pull-orders not declared".into()));
        return checks;
    }

    let (from, to) = sim.window();
    let pulled = pull_all(plugin, &shop, from, to).await;
    let (orders, pages) = match pulled {
        Ok(v) => v,
        Err(e) => {
            push("window: all orders, once", Outcome::Fail(format!("pulling the window failed: {e}")));
            return checks;
        }
    };
    let expected = sim.expected_orders(SHOP_ID, from, to);
    push("window: all orders, once", window_outcome(&orders, &expected, pages));
    push("orders equal the platform's", fields_outcome(&orders, &expected));
    push("amounts add up", amounts_outcome(&orders));
    push(
        "big ids survive",
        if !sim.has_big_ids() {
            Outcome::Skip("this platform's ids fit in 53 bits".into())
        } else {
            let big = expected
                .iter()
                .filter_map(|o| o["order_id"].as_str())
                .filter(|id| id.parse::<u64>().is_ok_and(|n| n > F64_EXACT_LIMIT))
                .collect::<Vec<_>>();
            let got: BTreeSet<&str> = orders.iter().map(|o| o.order_id.as_str()).collect();
            match big.iter().find(|id| !got.contains(**id)) {
                _ if big.is_empty() => Outcome::Fail("the simulator holds no id above 2^53".into()),
                Some(missing) => {
                    Outcome::Fail(format!("order {missing} (> 2^53) did not come through digit for digit"))
                }
                None => Outcome::Pass,
            }
        },
    );

    push("changed order comes back changed", changed_outcome(plugin, &shop, sim).await);

    sim.throttle(0, THROTTLE_SECS);
    let outcome = match pull_small(plugin, &shop, sim).await {
        Err(e) => match e.connector_error() {
            Some(ConnectorError::RateLimited { retry_after_ms, .. }) if *retry_after_ms > 0 => Outcome::Pass,
            _ => Outcome::Fail(format!("expected rate_limited with a delay, got {e}")),
        },
        Ok(_) => Outcome::Fail("a throttled pull succeeded".into()),
    };
    sim.clear_faults();
    push("throttling is rate_limited with a delay", outcome);

    sim.revoke_credentials();
    let outcome = match pull_small(plugin, &shop, sim).await {
        Err(e) => match e.connector_error() {
            Some(ConnectorError::Auth { .. }) => Outcome::Pass,
            _ => Outcome::Fail(format!("expected auth, got {e}")),
        },
        Ok(_) => Outcome::Fail("a pull with revoked credentials succeeded".into()),
    };
    sim.clear_faults();
    push("bad credentials are auth", outcome);

    // An order with a broken field is set aside alone, by its own id, naming the field;
    // every other order of the window still comes (contract 0.2: one bad record is one bad
    // record). A 0.1.0 plugin can only fail the call, naming the field.
    let key = sim.malform_next_order();
    let (from, to) = sim.window();
    let all = sim.expected_orders(SHOP_ID, from, to).len();
    let outcome = match pull_window(plugin, &shop, from, to).await {
        Err(e) => match e.connector_error() {
            Some(ConnectorError::InvalidInput { field, .. }) if field.contains(&key) && d.wit_version == "0.1.0" => {
                Outcome::Pass
            }
            _ => {
                Outcome::Fail(format!("expected the order with a broken `{key}` set aside, got the call failing: {e}"))
            }
        },
        Ok((orders, rejected, _)) => set_aside_outcome(&orders, &rejected, &key, all),
    };
    sim.clear_faults();
    push("a malformed order is set aside, the rest flow", outcome);

    for case in sim.push_cases() {
        let scenario = format!("{} changes the platform", case.operation);
        let Some(op) = Operation::parse(&case.operation) else {
            push(&scenario, Outcome::Fail(format!("the simulator offers an unknown operation {}", case.operation)));
            continue;
        };
        if !d.operations.contains(&op) {
            push(&scenario, Outcome::Skip(format!("{} not declared", case.operation)));
            continue;
        }
        let outcome = match Call::push(op, case.input.clone()) {
            Err(e) => Outcome::Fail(format!("the simulator's input does not parse: {e}")),
            Ok(call) => match plugin.call(&shop, call).await {
                Ok(Reply::Items(items)) => match items.iter().enumerate().find_map(|(i, r)| match r {
                    ItemResult::Error(e) => Some((i, e)),
                    ItemResult::Ok(_) => None,
                }) {
                    Some((i, e)) => Outcome::Fail(format!("item {i} failed: {e}")),
                    None => match (case.check)() {
                        Ok(()) => Outcome::Pass,
                        Err(why) => Outcome::Fail(format!("the push answered ok but {why}")),
                    },
                },
                Ok(other) => Outcome::Fail(format!("expected item results, got {other:?}")),
                Err(e) => Outcome::Fail(e.to_string()),
            },
        };
        push(&scenario, outcome);
    }
    checks
}

pub(super) fn shop(sim: &dyn Marketplace) -> Shop {
    Shop::new("conformance", SHOP_ID)
        .with_config(sim.config())
        .with_secrets(Secrets::new(sim.secrets()))
        .with_grants(HostGrants::new([sim.grant()]))
}

fn window(from: i64, to: i64) -> TimeWindow {
    TimeWindow { from: Timestamp(from), to: Timestamp(to) }
}

/// Every order in `[from, to)`, following cursors; and the number of pages.
async fn pull_all(plugin: &Plugin, shop: &Shop, from: i64, to: i64) -> Result<(Vec<Order>, usize), CallError> {
    pull_window(plugin, shop, from, to).await.map(|(orders, _, pages)| (orders, pages))
}

/// Every page of the window: the orders, the records set aside, and how many pages.
pub(super) async fn pull_window(
    plugin: &Plugin,
    shop: &Shop,
    from: i64,
    to: i64,
) -> Result<(Vec<Order>, Vec<Rejected>, usize), CallError> {
    let mut cursor = None;
    let (mut orders, mut rejected) = (Vec::new(), Vec::new());
    let mut pages = 0;
    loop {
        let reply = plugin.call(shop, Call::PullOrders { window: window(from, to), cursor: cursor.clone() }).await?;
        let Reply::OrderPage(page) = reply else { unreachable!("pull-orders answers an order page") };
        pages += 1;
        orders.extend(page.orders);
        rejected.extend(page.rejected);
        if page.next_cursor.is_none() || pages >= MAX_PAGES || page.next_cursor == cursor {
            return Ok((orders, rejected, pages));
        }
        cursor = page.next_cursor;
    }
}

/// One pull of the whole window, to trigger a fault (the first answer carries orders).
async fn pull_small(plugin: &Plugin, shop: &Shop, sim: &dyn Marketplace) -> Result<(Vec<Order>, usize), CallError> {
    let (from, to) = sim.window();
    pull_all(plugin, shop, from, to).await
}

/// Each broken order set aside by its own id, naming the broken field, and every other order
/// of the window come: nothing lost, nothing twice.
fn set_aside_outcome(orders: &[Order], rejected: &[Rejected], key: &str, all: usize) -> Outcome {
    if rejected.is_empty() {
        return Outcome::Fail(format!("a body with a broken `{key}` was accepted"));
    }
    if let Some(r) = rejected.iter().find(|r| !r.field.contains(key) || r.id.is_empty() || r.id.contains('[')) {
        return Outcome::Fail(format!("expected a rejected record naming `{key}` by the order's own id, got {r:?}"));
    }
    let set_aside: BTreeSet<&str> = rejected.iter().map(|r| r.id.as_str()).collect();
    if let Some(both) = orders.iter().find(|o| set_aside.contains(o.order_id.as_str())) {
        return Outcome::Fail(format!("order {} came both mapped and set aside", both.order_id));
    }
    if orders.len() + set_aside.len() != all {
        return Outcome::Fail(format!(
            "{} orders came and {} were set aside, of {all} in the window",
            orders.len(),
            set_aside.len()
        ));
    }
    Outcome::Pass
}

fn window_outcome(orders: &[Order], expected: &[Value], pages: usize) -> Outcome {
    let mut seen = BTreeSet::new();
    let dups: Vec<&str> = orders.iter().map(|o| o.order_id.as_str()).filter(|id| !seen.insert(*id)).collect();
    let want: BTreeSet<&str> = expected.iter().filter_map(|o| o["order_id"].as_str()).collect();
    let missing: Vec<&&str> = want.difference(&seen).take(5).collect();
    let extra: Vec<&&str> = seen.difference(&want).take(5).collect();
    if expected.is_empty() {
        return Outcome::Fail("the simulator holds no orders in its window".into());
    }
    if !dups.is_empty() || !missing.is_empty() || !extra.is_empty() {
        return Outcome::Fail(format!(
            "{} orders expected, {} pulled over {pages} pages; duplicates {dups:?}, missing {missing:?}, unexpected {extra:?}",
            want.len(),
            orders.len()
        ));
    }
    if pages < 2 {
        return Outcome::Fail(format!("{} orders came in {pages} page: the window must span several", orders.len()));
    }
    Outcome::Pass
}

fn fields_outcome(orders: &[Order], expected: &[Value]) -> Outcome {
    let by_id: BTreeMap<&str, &Order> = orders.iter().map(|o| (o.order_id.as_str(), o)).collect();
    let mut problems = Vec::new();
    for want in expected {
        let Some(id) = want["order_id"].as_str() else { continue };
        let Some(order) = by_id.get(id) else { continue };
        let mut got = serde_json::to_value(order).unwrap_or(Value::Null);
        let mut want = want.clone();
        wharf_sim::harness::strip_nulls(&mut got);
        wharf_sim::harness::strip_nulls(&mut want);
        if let Some(diff) = first_difference("", &want, &got) {
            problems.push(format!("order {id}: {diff}"));
        }
    }
    match problems.len() {
        0 => Outcome::Pass,
        n => Outcome::Fail(format!("{n} orders differ; first: {}", problems[0])),
    }
}

/// The first path where `got` differs from `want`, with both values.
fn first_difference(path: &str, want: &Value, got: &Value) -> Option<String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for key in w.keys().chain(g.keys()).collect::<BTreeSet<_>>() {
                let p = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match (w.get(key), g.get(key)) {
                    (Some(a), Some(b)) => {
                        if let Some(d) = first_difference(&p, a, b) {
                            return Some(d);
                        }
                    }
                    (a, b) => return Some(format!("{p}: expected {}, got {}", show(a), show(b))),
                }
            }
            None
        }
        (Value::Array(w), Value::Array(g)) if w.len() == g.len() => {
            w.iter().zip(g).enumerate().find_map(|(i, (a, b))| first_difference(&format!("{path}[{i}]"), a, b))
        }
        _ if want == got => None,
        _ => Some(format!("{path}: expected {want}, got {got}")),
    }
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "absent".to_owned(), Value::to_string)
}

fn amounts_outcome(orders: &[Order]) -> Outcome {
    for o in orders {
        let lines: i64 = o.lines.iter().map(|l| l.unit_price * i64::from(l.quantity)).sum();
        if lines + o.shipping_fee - o.discount_total != o.paid_total {
            return Outcome::Fail(format!(
                "order {}: lines {lines} + shipping {} − discounts {} ≠ paid {}",
                o.order_id, o.shipping_fee, o.discount_total, o.paid_total
            ));
        }
        if lines != o.goods_total {
            return Outcome::Fail(format!(
                "order {}: lines sum to {lines}, goods_total is {}",
                o.order_id, o.goods_total
            ));
        }
    }
    Outcome::Pass
}

async fn changed_outcome(plugin: &Plugin, shop: &Shop, sim: &dyn Marketplace) -> Outcome {
    let before = sim.now_ms();
    let id = sim.change_order();
    let after = sim.now_ms() + 2_000;
    let from = before - 2_000;
    let want = sim.expected_orders(SHOP_ID, from, after);
    let Some(want) = want.iter().find(|o| o["order_id"] == id.as_str()) else {
        return Outcome::Fail(format!("the simulator's changed order {id} is not in [{from}, {after})"));
    };
    match pull_all(plugin, shop, from, after).await {
        Err(e) => Outcome::Fail(format!("pulling after the change failed: {e}")),
        Ok((orders, _)) => match orders.iter().find(|o| o.order_id == id) {
            None => Outcome::Fail(format!("order {id} changed at the platform but did not come back")),
            Some(o) => {
                let got = serde_json::to_value(o).unwrap_or(Value::Null);
                if got["status"] == want["status"] && got["updated_at"] == want["updated_at"] {
                    Outcome::Pass
                } else {
                    Outcome::Fail(format!(
                        "order {id}: expected status {} updated_at {}, got {} {}",
                        want["status"], want["updated_at"], got["status"], got["updated_at"]
                    ))
                }
            }
        },
    }
}

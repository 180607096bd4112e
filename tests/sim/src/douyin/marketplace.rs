//! [`DouyinSim`] as the conformance suite drives it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::expect::expected_order;
use super::render::{CARRIERS, order_id};
use super::{DouyinSim, Shared};
use crate::faults::Malform;
use crate::harness::{Marketplace, PushCase, RuleCase, rfc3339};
use crate::raw::{self, RawOrder};
use crate::serve::lock;
use crate::shop::Stage;

/// Orders per listing page in a conformance run: small, so the suite's 120 orders take
/// several pages (抖店 allows 1..=100).
pub const CONFORMANCE_PAGE_SIZE: u32 = 20;

/// The money field a malformation breaks: the first order's `pay_amount`.
const MALFORMED_KEY: &str = "pay_amount";

impl Marketplace for DouyinSim {
    fn platform(&self) -> &str {
        "douyin"
    }

    fn config(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("endpoint".to_owned(), self.endpoint()),
            ("app_key".to_owned(), self.shared.config.app_key.clone()),
            ("sign_method".to_owned(), "hmac-sha256".to_owned()),
            ("page_size".to_owned(), CONFORMANCE_PAGE_SIZE.to_string()),
        ])
    }

    fn secrets(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app_secret".to_owned(), self.shared.config.app_secret.clone()),
            ("access_token".to_owned(), self.shared.config.access_token.clone()),
        ])
    }

    fn grant(&self) -> String {
        self.served.addr().to_string()
    }

    fn now_ms(&self) -> i64 {
        DouyinSim::now_ms(self)
    }

    /// 19 digits.
    fn has_big_ids(&self) -> bool {
        true
    }

    fn change_order(&self) -> String {
        // A shop always has orders in a conformance run; an empty one has nothing to change.
        self.change_one().unwrap_or_default()
    }

    /// From the start of the generated span to a second past the clock, so orders changed
    /// since (stamped with the clock) are inside too.
    fn window(&self) -> (i64, i64) {
        let from = self.shared.generated_at_ms - self.shared.config.modified_span_ms;
        (from, self.now_ms() / 1000 * 1000 + 2000)
    }

    fn expected_orders(&self, shop_id: &str, from: i64, to: i64) -> Vec<Value> {
        let shop = lock(&self.shared.shop);
        let mut orders: Vec<_> = shop.modified_in(from, to).collect();
        orders.sort_by_key(|o| std::cmp::Reverse((o.updated_ms, o.order_no)));
        orders.into_iter().map(|o| expected_order(&shop, o, shop_id)).collect()
    }

    fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    fn malform_next_order(&self) -> String {
        lock(&self.shared.faults).malform_next(u32::MAX, Malform::field(MALFORMED_KEY, "\"12.5元\""));
        MALFORMED_KEY.to_owned()
    }

    fn revoke_credentials(&self) {
        lock(&self.shared.faults).revoke_credentials(true);
    }

    fn throttle(&self, calls: u32, ban_secs: u64) {
        lock(&self.shared.faults).throttle(calls, ban_secs);
    }

    fn rule_cases(&self) -> Vec<RuleCase> {
        super::rules::cases(self.shared.clock.now_ms())
    }

    fn serve_raw(&self, docs: &[Value]) -> Result<(), String> {
        let read = |doc: &Value| -> Result<RawOrder, String> {
            let secs = |key: &str| {
                let t = raw::required(doc, key)?;
                t.parse::<i64>()
                    .map(|s| s * 1000)
                    .map_err(|_| format!("raw shop order: `{key}` {t:?} is not Unix seconds"))
            };
            Ok(RawOrder {
                id: raw::required(doc, "order_id")?,
                status: raw::required(doc, "order_status")?,
                created_ms: secs("create_time")?,
                updated_ms: secs("update_time")?,
                doc: doc.clone(),
            })
        };
        let read: Vec<RawOrder> = docs.iter().map(read).collect::<Result<_, _>>()?;
        lock(&self.shared.raw).extend(read);
        Ok(())
    }

    fn clear_raw(&self) {
        lock(&self.shared.raw).clear();
    }

    fn push_cases(&self) -> Vec<PushCase> {
        let shop = lock(&self.shared.shop);
        let mut cases = Vec::new();
        if let Some(sku) = shop.skus.first() {
            let product = &shop.products[sku.product];
            let quantity = sku.stock + 17;
            let outer = sku.outer_sku_id.clone();
            let update = |q: i64, version: u64| json!({"outer_sku_id": outer, "product_id": product.product_no.to_string(), "quantity": q, "version": version});
            // The same version twice is a retry: 抖店 refuses the repeated idempotent_id and
            // keeps the first value.
            cases.push(PushCase {
                operation: "push-stock".to_owned(),
                input: json!([update(quantity, 41), update(quantity + 5, 41)]),
                check: stock_check(self.shared.clone(), outer.clone(), quantity),
            });
        }
        if let Some(order) = shop.orders.iter().find(|o| o.stage == Stage::Paid && o.shipment.is_none()) {
            let id = order_id(order.order_no);
            let tracking = format!("ZT{}", order.order_no % 1_000_000_000_000);
            cases.push(PushCase {
                operation: "push-logistics".to_owned(),
                input: json!([{"order_id": id, "carrier_code": CARRIERS[0], "tracking_no": tracking, "shipped_at": rfc3339(self.now_ms() / 1000 * 1000)}]),
                check: shipment_check(self.shared.clone(), order.order_no, tracking),
            });
        }
        cases
    }
}

fn stock_check(shared: Arc<Shared>, outer: String, want: i64) -> Box<dyn Fn() -> Result<(), String> + Send + Sync> {
    Box::new(move || match lock(&shared.shop).sku_by_outer_id(&outer).map(|s| s.stock) {
        Some(stock) if stock == want => Ok(()),
        other => Err(format!("SKU {outer}: expected stock {want}, the simulator holds {other:?}")),
    })
}

fn shipment_check(
    shared: Arc<Shared>,
    order_no: u64,
    tracking: String,
) -> Box<dyn Fn() -> Result<(), String> + Send + Sync> {
    Box::new(move || {
        let shop = lock(&shared.shop);
        let order = shop.orders.iter().find(|o| o.order_no == order_no).ok_or("the order is gone")?;
        let want = Some((CARRIERS[0].to_owned(), tracking.clone()));
        if order.stage == Stage::Shipped && order.shipment == want {
            Ok(())
        } else {
            Err(format!(
                "order {order_no}: expected shipped with {want:?}, got {:?} with {:?}",
                order.stage, order.shipment
            ))
        }
    })
}

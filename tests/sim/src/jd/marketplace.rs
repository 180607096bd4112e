//! [`JdSim`] as the conformance suite sees it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::render::{WAIT_SELLER_STOCK_OUT, order_state};
use super::{JdSim, Shared};
use crate::faults::Malform;
use crate::harness::{Marketplace, PushCase, RuleCase, rfc3339};
use crate::raw::{self, RawOrder};
use crate::serve::lock;
use crate::shop::Stage;
use crate::taobao::parse_gmt8;

/// Small enough that the whole shop spans several pages (and the plugin halves chunks).
const CONFORMANCE_PAGE_SIZE: &str = "20";
/// The money field broken by [`Marketplace::malform_next_order`]; every `orderInfo` has it.
const MALFORMED_FIELD: &str = "orderPayment";
/// The carrier and waybill of the logistics push case: 顺丰 (platforms.md).
const PUSH_CARRIER: &str = "467";
const PUSH_WAYBILL: &str = "SF1400000000001";
/// What the stock push case adds to the SKU's stock, so the new value differs from the old.
const PUSH_STOCK_DELTA: i64 = 17;

impl Marketplace for JdSim {
    fn platform(&self) -> &str {
        "jd"
    }

    fn config(&self) -> BTreeMap<String, String> {
        let cfg = self.config();
        owned([
            ("endpoint", self.endpoint()),
            ("app_key", cfg.app_key.clone()),
            ("page_size", CONFORMANCE_PAGE_SIZE.to_owned()),
        ])
    }

    fn secrets(&self) -> BTreeMap<String, String> {
        let cfg = self.config();
        owned([("app_secret", cfg.app_secret.clone()), ("access_token", cfg.access_token.clone())])
    }

    fn grant(&self) -> String {
        self.addr().to_string()
    }

    fn now_ms(&self) -> i64 {
        JdSim::now_ms(self)
    }

    fn window(&self) -> (i64, i64) {
        let from = self.shared.generated_at_ms - self.config().modified_span_ms - 1000;
        (from, (self.now_ms() / 1000 + 2) * 1000)
    }

    fn expected_orders(&self, shop_id: &str, from: i64, to: i64) -> Vec<Value> {
        JdSim::expected_orders(self, shop_id, from, to)
    }

    fn change_order(&self) -> String {
        self.change_one().unwrap_or_default()
    }

    fn has_big_ids(&self) -> bool {
        true
    }

    fn throttle(&self, calls: u32, ban_secs: u64) {
        self.faults().throttle(calls, ban_secs);
    }

    fn revoke_credentials(&self) {
        self.faults().revoke_credentials(true);
    }

    fn malform_next_order(&self) -> String {
        self.faults().malform_next(u32::MAX, Malform::field(MALFORMED_FIELD, "\"12.3.4\""));
        MALFORMED_FIELD.to_owned()
    }

    fn clear_faults(&self) {
        self.faults().clear();
    }

    fn rule_cases(&self) -> Vec<RuleCase> {
        super::rules::cases(self.now_ms())
    }

    fn serve_raw(&self, docs: &[Value]) -> Result<(), String> {
        let read = |doc: &Value| -> Result<RawOrder, String> {
            let time = |key: &str| {
                let t = raw::required(doc, key)?;
                parse_gmt8(&t).ok_or_else(|| format!("raw orderInfo: `{key}` {t:?} is not yyyy-MM-dd HH:mm:ss"))
            };
            Ok(RawOrder {
                id: raw::required(doc, "orderId")?,
                status: raw::required(doc, "orderState")?,
                created_ms: time("orderStartTime")?,
                updated_ms: time("modified")?,
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
        let shop = self.shop();
        let mut cases = Vec::new();
        if let Some(sku) = shop.skus.first() {
            let target = sku.stock + PUSH_STOCK_DELTA;
            let (sku_id, shared) = (sku.sku_no, self.shared.clone());
            cases.push(PushCase {
                operation: "push-stock".to_owned(),
                input: json!([{
                    "outer_sku_id": sku.outer_sku_id,
                    "product_id": shop.products[sku.product].product_no.to_string(),
                    "sku_id": sku_id.to_string(),
                    "quantity": target,
                    "version": 1,
                }]),
                check: Box::new(move || stock_is(&shared, sku_id, target)),
            });
        }
        // The newest such order: its id is beyond 2^53.
        if let Some(order) = shop.orders.iter().rev().find(|o| order_state(o) == Some(WAIT_SELLER_STOCK_OUT)) {
            let (order_no, shared) = (order.order_no, self.shared.clone());
            cases.push(PushCase {
                operation: "push-logistics".to_owned(),
                input: json!([{
                    "order_id": order_no.to_string(),
                    "carrier_code": PUSH_CARRIER,
                    "tracking_no": PUSH_WAYBILL,
                    "shipped_at": rfc3339(self.now_ms() / 1000 * 1000),
                }]),
                check: Box::new(move || shipped(&shared, order_no)),
            });
        }
        cases
    }
}

fn owned<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn stock_is(shared: &Arc<Shared>, sku_id: u64, want: i64) -> Result<(), String> {
    let shop = lock(&shared.shop);
    match shop.skus.iter().find(|s| s.sku_no == sku_id) {
        Some(s) if s.stock == want => Ok(()),
        Some(s) => Err(format!("sku {sku_id}: stock is {}, expected {want}", s.stock)),
        None => Err(format!("sku {sku_id} is gone")),
    }
}

fn shipped(shared: &Arc<Shared>, order_no: u64) -> Result<(), String> {
    let shop = lock(&shared.shop);
    let order =
        shop.orders.iter().find(|o| o.order_no == order_no).ok_or_else(|| format!("order {order_no} is gone"))?;
    let want = Some((PUSH_CARRIER.to_owned(), PUSH_WAYBILL.to_owned()));
    if order.stage == Stage::Shipped && order.shipment == want {
        Ok(())
    } else {
        Err(format!(
            "order {order_no}: stage {:?}, shipment {:?}; expected Shipped with {want:?}",
            order.stage, order.shipment
        ))
    }
}

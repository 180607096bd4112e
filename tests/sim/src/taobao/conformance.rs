//! The TOP simulator as the conformance suite drives it.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::gateway::lock;
use super::wire::parse_gmt8;
use super::{Malform, SimConfig, TaobaoSim, canonical_order};
use crate::harness::{HarnessOptions, Marketplace, PushCase, RuleCase, rfc3339};
use crate::raw::{self, RawOrder};

/// Trades per listing page in a conformance run: small, so the window spans several pages.
const CONFORMANCE_PAGE_SIZE: u32 = 20;
/// What the suite's stock push sets.
const PUSHED_STOCK: u32 = 77;
/// The waybill the suite's logistics push sends.
const PUSHED_WAYBILL: &str = "ZJS0000CONFORMANCE";

impl TaobaoSim {
    /// A simulator for a conformance run: `options.orders` trades modified over the last day.
    pub fn for_conformance(options: &HarnessOptions) -> anyhow::Result<Self> {
        Self::spawn_blocking_runtime(SimConfig {
            orders: options.orders,
            seed: options.seed,
            modified_span_ms: 86_400_000,
            ..SimConfig::default()
        })
    }
}

impl Marketplace for TaobaoSim {
    fn platform(&self) -> &str {
        "taobao"
    }

    fn config(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("endpoint".to_owned(), self.endpoint()),
            ("app_key".to_owned(), self.config().app_key.clone()),
            ("page_size".to_owned(), CONFORMANCE_PAGE_SIZE.to_string()),
        ])
    }

    fn secrets(&self) -> BTreeMap<String, String> {
        let cfg = self.config();
        BTreeMap::from([("app_secret".to_owned(), cfg.app_secret.clone()), ("session".to_owned(), cfg.session.clone())])
    }

    fn grant(&self) -> String {
        self.addr().to_string()
    }

    fn now_ms(&self) -> i64 {
        TaobaoSim::now_ms(self)
    }

    fn window(&self) -> (i64, i64) {
        let now = TaobaoSim::now_ms(self);
        (now - self.config().modified_span_ms - 1_000, now + 1_000)
    }

    fn expected_orders(&self, shop_id: &str, from: i64, to: i64) -> Vec<Value> {
        self.trades_modified_in(from, to).iter().map(|t| canonical_order(t, shop_id)).collect()
    }

    fn change_order(&self) -> String {
        self.change_orders(1).first().map(u64::to_string).unwrap_or_default()
    }

    fn has_big_ids(&self) -> bool {
        true
    }

    fn throttle(&self, calls: u32, ban_secs: u64) {
        self.set_throttle(calls, ban_secs);
    }

    fn revoke_credentials(&self) {
        self.expire_session();
    }

    fn malform_next_order(&self) -> String {
        self.malform_next(1, Malform::bad_payment());
        "payment".to_owned()
    }

    fn clear_faults(&self) {
        lock(&self.shared.knobs).clear();
    }

    fn rule_cases(&self) -> Vec<RuleCase> {
        super::rules::cases(TaobaoSim::now_ms(self))
    }

    fn serve_raw(&self, docs: &[Value]) -> Result<(), String> {
        let read = |doc: &Value| -> Result<RawOrder, String> {
            let time = |key: &str| {
                let t = raw::required(doc, key)?;
                parse_gmt8(&t).ok_or_else(|| format!("raw trade: `{key}` {t:?} is not yyyy-MM-dd HH:mm:ss"))
            };
            Ok(RawOrder {
                id: raw::required(doc, "tid")?,
                status: raw::required(doc, "status")?,
                created_ms: time("created")?,
                updated_ms: time("modified")?,
                doc: doc.clone(),
            })
        };
        let read: Vec<RawOrder> = docs.iter().map(read).collect::<Result<_, _>>()?;
        self.state_mut().raw.extend(read);
        Ok(())
    }

    fn clear_raw(&self) {
        self.state_mut().raw.clear();
    }

    fn push_cases(&self) -> Vec<PushCase> {
        let mut cases = Vec::new();
        let items = self.items();
        if let Some((item, sku)) = items.iter().find_map(|i| i.skus.first().map(|s| (i.clone(), s.clone()))) {
            let shared = self.shared.clone();
            let (num_iid, sku_id) = (item.num_iid, sku.sku_id);
            cases.push(PushCase {
                operation: "push-stock".into(),
                input: json!([{
                    "outer_sku_id": sku.outer_id.clone().unwrap_or_default(),
                    "product_id": num_iid.to_string(),
                    "sku_id": sku_id.to_string(),
                    "quantity": PUSHED_STOCK,
                    "version": 1,
                }]),
                check: Box::new(move || {
                    let state = shared.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match state.item(num_iid).and_then(|i| i.sku(sku_id)).map(|s| s.quantity) {
                        Some(q) if q == i64::from(PUSHED_STOCK) => Ok(()),
                        other => {
                            Err(format!("sku {sku_id} of item {num_iid} has stock {other:?}, expected {PUSHED_STOCK}"))
                        }
                    }
                }),
            });
        }
        if let Some((item, sku)) =
            items.iter().find_map(|i| i.skus.iter().find(|s| s.outer_id.is_some()).map(|s| (i.clone(), s.clone())))
        {
            let shared = self.shared.clone();
            let (num_iid, sku_id) = (item.num_iid, sku.sku_id);
            let price = sku.price + 100;
            cases.push(PushCase {
                operation: "push-prices".into(),
                input: json!([{
                    "outer_sku_id": sku.outer_id.clone().unwrap_or_default(),
                    "product_id": num_iid.to_string(),
                    "currency": "CNY",
                    "prices": [{"kind": "default", "amount": price}],
                }]),
                check: Box::new(move || {
                    let state = shared.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match state.item(num_iid).and_then(|i| i.sku(sku_id)).map(|s| s.price) {
                        Some(p) if p == price => Ok(()),
                        other => Err(format!("sku {sku_id} of item {num_iid} has price {other:?}, expected {price}")),
                    }
                }),
            });
        }
        if let Some(item) = items.iter().find(|i| i.listed) {
            let shared = self.shared.clone();
            let num_iid = item.num_iid;
            cases.push(PushCase {
                operation: "push-listing".into(),
                input: json!([{"product_id": num_iid.to_string(), "listed": false}]),
                check: Box::new(move || {
                    let state = shared.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match state.item(num_iid).map(|i| i.listed) {
                        Some(false) => Ok(()),
                        other => Err(format!("item {num_iid} listed: {other:?}, expected delisted")),
                    }
                }),
            });
        }
        if let Some(trade) = self.trades().into_iter().find(|t| t.status.can_ship()) {
            let shared = self.shared.clone();
            let tid = trade.tid;
            cases.push(PushCase {
                operation: "push-logistics".into(),
                input: json!([{
                    "order_id": tid.to_string(),
                    "carrier_code": "ZJS",
                    "tracking_no": PUSHED_WAYBILL,
                    "shipped_at": rfc3339(TaobaoSim::now_ms(self) / 1000 * 1000),
                }]),
                check: Box::new(move || {
                    let state = shared.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if state.shipments().iter().any(|s| s.tid == tid && s.out_sid == PUSHED_WAYBILL) {
                        Ok(())
                    } else {
                        Err(format!("trade {tid} has no shipment with waybill {PUSHED_WAYBILL}"))
                    }
                }),
            });
        }
        cases
    }
}

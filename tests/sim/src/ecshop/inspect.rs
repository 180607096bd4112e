//! Reading back what the bridge wrote, for push checks and end-to-end tests: lots, goods,
//! delivery orders, order actions and customer mappings, in ECShop's own terms.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::php::Database;

/// A lot on sale (`ecs_wharf_goods_lot` with `delivery_rec_id` 0), or one sent with a
/// delivery line.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LotRow {
    pub batch_no: String,
    pub produced_on: Option<String>,
    pub expires_on: Option<String>,
    pub quantity: i64,
}

/// An `ecs_goods` row, prices in fen.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct GoodsRecord {
    pub goods_id: i64,
    pub goods_sn: String,
    pub goods_name: String,
    pub goods_number: i64,
    pub shop_price: i64,
    pub market_price: i64,
    pub is_on_sale: i64,
    pub cat_id: i64,
    pub goods_brief: String,
}

/// One `ecs_delivery_goods` row with the lot it left with (if the ERP named one).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct DeliveryLine {
    pub rec_id: i64,
    pub goods_id: i64,
    pub product_id: i64,
    /// The code the line was shipped under: product_sn for a product, else goods_sn.
    pub sn: String,
    pub send_number: i64,
    pub batch_no: Option<String>,
    pub produced_on: Option<String>,
    pub expires_on: Option<String>,
}

/// An `ecs_delivery_order` row with its lines.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Delivery {
    pub delivery_id: i64,
    pub delivery_sn: String,
    pub status: i64,
    pub action_user: String,
    #[serde(default)]
    pub lines: Vec<DeliveryLine>,
}

/// An `ecs_order_action` row.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct OrderAction {
    pub action_user: String,
    pub order_status: i64,
    pub shipping_status: i64,
    pub pay_status: i64,
    pub action_note: String,
    /// Stored seconds (Unix seconds in the simulator, whose time_offset is 0).
    pub log_time: i64,
}

/// An `ecs_wharf_customer` row.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CustomerRow {
    pub user_id: i64,
    pub erp_customer_code: String,
    pub credit_code: String,
    pub name: String,
}

/// An order's three status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct OrderCodes {
    pub order_status: i64,
    pub shipping_status: i64,
    pub pay_status: i64,
}

/// Reads the simulated shop's database.
#[derive(Clone, Debug)]
pub struct Inspector {
    db: Database,
}

fn rows<T: for<'de> Deserialize<'de>>(rows: Vec<Map<String, Value>>) -> anyhow::Result<Vec<T>> {
    rows.into_iter().map(|r| Ok(serde_json::from_value(Value::Object(r))?)).collect()
}

impl Inspector {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    fn query<T: for<'de> Deserialize<'de>>(&self, sql: &str, params: Vec<Value>) -> anyhow::Result<Vec<T>> {
        rows(self.db.query(sql, params)?)
    }

    /// The lots on sale of the product whose product_sn is `sn`, else of the goods whose
    /// goods_sn is, by batch_no.
    pub fn lots_of(&self, sn: &str) -> anyhow::Result<Vec<LotRow>> {
        self.query(
            "SELECT l.batch_no, l.produced_on, l.expires_on, l.quantity FROM ecs_wharf_goods_lot l \
             WHERE l.delivery_rec_id = 0 AND ( \
               l.product_id IN (SELECT product_id FROM ecs_products WHERE product_sn = ?) \
               OR (l.product_id = 0 AND l.goods_id IN (SELECT goods_id FROM ecs_goods WHERE goods_sn = ?))) \
             ORDER BY l.batch_no",
            vec![json!(sn), json!(sn)],
        )
    }

    /// The goods (not deleted) whose goods_sn is `goods_sn`: one, or none, unless something
    /// made a duplicate.
    pub fn goods_by_sn(&self, goods_sn: &str) -> anyhow::Result<Vec<GoodsRecord>> {
        self.query(
            "SELECT goods_id, goods_sn, goods_name, goods_number, CAST(ROUND(shop_price * 100) AS INTEGER) AS shop_price, \
             CAST(ROUND(market_price * 100) AS INTEGER) AS market_price, is_on_sale, cat_id, goods_brief \
             FROM ecs_goods WHERE goods_sn = ? AND is_delete = 0 ORDER BY goods_id",
            vec![json!(goods_sn)],
        )
    }

    /// The delivery orders of order `order_sn`, oldest first, each with its lines.
    pub fn deliveries_of(&self, order_sn: &str) -> anyhow::Result<Vec<Delivery>> {
        let mut deliveries: Vec<Delivery> = self.query(
            "SELECT delivery_id, delivery_sn, status, action_user FROM ecs_delivery_order WHERE order_sn = ? ORDER BY delivery_id",
            vec![json!(order_sn)],
        )?;
        for delivery in &mut deliveries {
            delivery.lines = self.query(
                "SELECT d.rec_id, d.goods_id, d.product_id, \
                 CASE WHEN d.product_id > 0 THEN d.product_sn ELSE d.goods_sn END AS sn, d.send_number, \
                 l.batch_no, l.produced_on, l.expires_on \
                 FROM ecs_delivery_goods d LEFT JOIN ecs_wharf_goods_lot l ON l.delivery_rec_id = d.rec_id \
                 WHERE d.delivery_id = ? ORDER BY d.rec_id",
                vec![json!(delivery.delivery_id)],
            )?;
        }
        Ok(deliveries)
    }

    /// The action rows of order `order_sn`, oldest first.
    pub fn order_actions(&self, order_sn: &str) -> anyhow::Result<Vec<OrderAction>> {
        self.query(
            "SELECT a.action_user, a.order_status, a.shipping_status, a.pay_status, a.action_note, a.log_time \
             FROM ecs_order_action a JOIN ecs_order_info o ON o.order_id = a.order_id \
             WHERE o.order_sn = ? ORDER BY a.action_id",
            vec![json!(order_sn)],
        )
    }

    /// The three status codes of order `order_sn`.
    pub fn order_codes(&self, order_sn: &str) -> anyhow::Result<OrderCodes> {
        let found: Vec<OrderCodes> = self.query(
            "SELECT order_status, shipping_status, pay_status FROM ecs_order_info WHERE order_sn = ?",
            vec![json!(order_sn)],
        )?;
        found.into_iter().next().ok_or_else(|| anyhow::anyhow!("no order {order_sn}"))
    }

    /// Per line of order `order_sn` (by rec_id): (ordered, sent).
    pub fn sent_of(&self, order_sn: &str) -> anyhow::Result<Vec<(i64, i64)>> {
        let found = self.db.query(
            "SELECT g.goods_number, g.send_number FROM ecs_order_goods g JOIN ecs_order_info o ON o.order_id = g.order_id \
             WHERE o.order_sn = ? ORDER BY g.rec_id",
            vec![json!(order_sn)],
        )?;
        Ok(found
            .iter()
            .map(|r| (r["goods_number"].as_i64().unwrap_or(-1), r["send_number"].as_i64().unwrap_or(-1)))
            .collect())
    }

    /// The mapping of ERP customer `erp_customer_code`, if any.
    pub fn customer_mapping(&self, erp_customer_code: &str) -> anyhow::Result<Option<CustomerRow>> {
        let found: Vec<CustomerRow> = self.query(
            "SELECT user_id, erp_customer_code, credit_code, name FROM ecs_wharf_customer WHERE erp_customer_code = ?",
            vec![json!(erp_customer_code)],
        )?;
        Ok(found.into_iter().next())
    }
}

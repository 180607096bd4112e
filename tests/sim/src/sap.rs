//! A simulator of an SAP S/4HANA system as Wharf's SAP plugin sees it: SAP Gateway's OData v2
//! APIs and an IDoc-over-HTTP endpoint, on loopback.
//!
//! [`SapSim`] serves ([`gateway`]) `API_SALES_ORDER_SRV/A_SalesOrder` (reads, with the
//! document flow `to_SubsequentProcFlowDoc`, and deep-insert creates behind Basic auth and the
//! CSRF handshake), `API_MATERIAL_STOCK_SRV/A_MatlStkInAcctMod`,
//! `API_OUTBOUND_DELIVERY_SRV;v=0002/A_OutbDeliveryHeader` (with `to_DeliveryDocumentItem`;
//! also one by key, `A_OutbDeliveryHeader('80000001')`), `API_CUSTOMER_RETURN_SRV/A_CustomerReturn`
//! and `API_CREDIT_MEMO_REQUEST_SRV/A_CreditMemoRequest` (reads, and deep-insert creates with
//! reference to a sales order, checked as [`create::refund_document`] says), and
//! `/sap/bc/idoc_xml`. Reads take
//! `$filter` (comparisons, `and`, `or`, `not`: [`filter`]), `$select` (with `nav/Property`
//! paths), `$expand`, `$orderby`, `$top`, `$skip`, `$inlinecount=allpages` and
//! `$format=json`, and page server-side at [`SapConfig::page_cap`] rows with `__next` links
//! ([`odata`]). They hold to SAP's published metadata (`tests/sim/sap-edmx/`, [`edmx`]): a
//! `$filter` on a property SAP marks `sap:filterable="false"` (or an `$orderby` on one marked
//! `sap:sortable="false"`) is refused with 400 as a Gateway enforcing the flags would, and
//! `Edm.Decimal` values are served padded to their declared scale. A second sales order with
//! an existing `PurchaseOrderByCustomer` is refused ([`create`]), so a plugin that is not
//! idempotent is caught.
//!
//! The system is seeded ([`model::seed`]): materials with stock over plants, storage
//! locations and batches (and rows a plugin must leave out: quality inspection, blocked,
//! sales-order stock), six sales orders with deliveries covering full, partial and
//! batch-split shipments, goods issue not posted, tracking not entered, another company's
//! sales area, and an order Wharf did not push. Tests ship what the plugin pushed with
//! [`SapSim::ship`]. Ground truth comes typed ([`SapSim::sales_orders`],
//! [`SapSim::idocs`], [`SapSim::stock`], [`SapSim::deliveries`], the after-sales documents
//! [`SapSim::customer_returns`], [`SapSim::credit_memo_requests`] and
//! [`SapSim::refund_documents_for_after_sale`]) and as the canonical JSON the
//! plugin must pull ([`SapSim::expected_stock`], [`SapSim::expected_shipments`],
//! [`SapSim::expected_logistics`]); faults come from [`Faults`] plus SAP's own
//! ([`SapSim::expire_csrf_tokens`], [`SapSim::lose_next_create_answers`],
//! [`SapSim::refuse_next_create`]).
//!
//! ```no_run
//! use wharf_sim::sap::{SapConfig, SapSim};
//! let sim = SapSim::spawn(SapConfig::default())?;
//! let config = sim.plugin_config(); // endpoint, sap_client, sales area, sold_to…
//! sim.faults().throttle(20, 2);
//! # let _ = config;
//! # anyhow::Ok(())
//! ```

pub mod create;
pub mod edmx;
pub mod expect;
pub mod filter;
pub mod gateway;
pub mod model;
pub mod odata;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, ensure};
use serde_json::{Value, json};

use crate::faults::Faults;
use crate::rng::SimRng;
use crate::serve::{Clock, Served, lock, wall_ms};

pub use gateway::{IDOC_PATH, basic_authorization};
pub use model::{
    Batch, Condition, Delivery, DeliveryItem, PriceRecord, ReceivedIdoc, RefundCategory, RefundDocument, RefundItem,
    SalesOrder, SalesOrderItem, StockRow, order_id_of,
};
pub use odata::SapError;

/// The customers (sold-to parties) the seeded system knows.
pub const CUSTOMERS: &[&str] = &["C0001", "C0002", "C0100"];
/// The service material a shipping fee may be booked on.
pub const FREIGHT_MATERIAL: &str = "FREIGHT";

/// The number of the first customer return created.
pub const FIRST_CUSTOMER_RETURN: u64 = 60_000_000;
/// The number of the first credit memo request created.
pub const FIRST_CREDIT_MEMO_REQUEST: u64 = 70_000_000;
/// The refund condition type [`SapSim::plugin_config`] sets (`refund_condition_type`).
pub const REFUND_CONDITION_TYPE: &str = "ZRFD";

/// How to build the simulated system.
#[derive(Clone, Debug)]
pub struct SapConfig {
    /// The communication user and password Basic auth must carry.
    pub user: String,
    pub password: String,
    /// The SAP client (`sap-client`, and part of the session cookie's name).
    pub sap_client: String,
    /// The system id (part of the session cookie's name).
    pub system_id: String,
    pub seed: u64,
    /// Material numbers (the merchant SKU codes); empty: `FG-0001`… `FG-0008`.
    pub materials: Vec<String>,
    /// Rows per answer at most (SAP Gateway's server-side paging); more come with `__next`.
    pub page_cap: usize,
    /// The system's zone, minutes east of UTC (dates and times are local in SAP).
    pub utc_offset_minutes: i32,
    /// "Now" at start (UTC ms); `None`: the wall clock.
    pub now_ms: Option<i64>,
    pub first_sales_order: u64,
    pub first_delivery: u64,
}

impl Default for SapConfig {
    fn default() -> Self {
        Self {
            user: "WHARF_COMM".into(),
            password: "sap-sim-Passw0rd!".into(),
            sap_client: "100".into(),
            system_id: "S4H".into(),
            seed: 20_261_126,
            materials: Vec::new(),
            page_cap: 1_000,
            utc_offset_minutes: 8 * 60,
            now_ms: None,
            first_sales_order: 1_000_000,
            first_delivery: 80_000_000,
        }
    }
}

/// The simulated system's data and SAP-specific knobs.
pub(crate) struct State {
    /// Material → base unit.
    pub materials: BTreeMap<String, String>,
    pub customers: Vec<String>,
    pub sales_areas: Vec<(String, String, String)>,
    pub sales_orders: Vec<SalesOrder>,
    pub next_sales_order: u64,
    pub stock: Vec<StockRow>,
    pub batches: Vec<Batch>,
    pub deliveries: Vec<Delivery>,
    pub next_delivery: u64,
    pub prices: Vec<PriceRecord>,
    pub idocs: Vec<ReceivedIdoc>,
    pub next_docnum: u64,
    /// Customer returns and credit memo requests, in creation order.
    pub refund_documents: Vec<RefundDocument>,
    pub next_customer_return: u64,
    pub next_credit_memo_request: u64,
    /// Session id → CSRF token.
    pub sessions: BTreeMap<String, String>,
    pub next_session: u64,
    /// Creates that succeed but answer 504 (the answer is lost on the way back).
    pub lose_create_answers: u32,
    /// Errors the next creates answer instead of creating.
    pub refuse_creates: VecDeque<SapError>,
}

pub(crate) struct Shared {
    pub config: SapConfig,
    pub clock: Clock,
    pub state: Mutex<State>,
    pub faults: Mutex<Faults>,
    /// Requests per `"<METHOD> <last path segment>"` (refused ones included).
    pub calls: Mutex<BTreeMap<String, u64>>,
}

/// Where [`SapSim::set_order_status`] moves a sales order, named after the canonical ERP
/// status the plugin must derive from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErpStage {
    /// Created and untouched (only stamps the order changed).
    Accepted,
    /// The availability check confirmed nothing (`ConfdDelivQtyInOrderQtyUnit` 0).
    OutOfStock,
    /// A delivery exists (created for the whole order when there is none), picking started.
    Picking,
    /// Picked and packed.
    Packed,
    /// Goods issue posted on the order's deliveries.
    Shipped,
    /// Goods issue and proof of delivery.
    Signed,
    /// Every item rejected.
    Cancelled,
}

/// One line of a shipment [`SapSim::ship`] creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipLine {
    pub material: String,
    /// Whole units; with `batches`, their sum.
    pub quantity: u32,
    /// `(batch, quantity)`: none for a material without batches, one for a batch, several
    /// for a batch split.
    pub batches: Vec<(String, u32)>,
}

/// A running SAP simulator; stops when dropped.
pub struct SapSim {
    shared: Arc<Shared>,
    served: Served,
}

impl SapSim {
    /// Seeds the system and serves it on loopback (on a runtime of its own).
    pub fn spawn(config: SapConfig) -> anyhow::Result<Self> {
        ensure!(
            !config.user.is_empty() && !config.password.is_empty(),
            "SapConfig.user and .password must not be empty"
        );
        ensure!(
            config.sap_client.len() == 3 && config.sap_client.bytes().all(|b| b.is_ascii_digit()),
            "SapConfig.sap_client must be three digits"
        );
        ensure!(config.page_cap > 0, "SapConfig.page_cap must be at least 1");
        let now = config.now_ms.unwrap_or_else(wall_ms) / 1000 * 1000;
        let materials: Vec<String> = if config.materials.is_empty() {
            (1..=8).map(|i| format!("FG-{i:04}")).collect()
        } else {
            config.materials.clone()
        };
        let mut rng = SimRng::new(config.seed).fork(41);
        let seeded = model::seed(&mut rng, &materials, config.first_sales_order, config.first_delivery, now);
        let mut units: BTreeMap<String, String> = materials.iter().map(|m| (m.clone(), "EA".to_owned())).collect();
        units.insert(FREIGHT_MATERIAL.to_owned(), "EA".to_owned());
        let state = State {
            materials: units,
            customers: CUSTOMERS.iter().map(|c| (*c).to_owned()).collect(),
            sales_areas: model::SALES_AREAS
                .iter()
                .map(|(o, c, d)| ((*o).to_owned(), (*c).to_owned(), (*d).to_owned()))
                .collect(),
            next_sales_order: config.first_sales_order + seeded.sales_orders.len() as u64,
            sales_orders: seeded.sales_orders,
            stock: seeded.stock,
            batches: seeded.batches,
            next_delivery: config.first_delivery + seeded.deliveries.len() as u64,
            deliveries: seeded.deliveries,
            prices: seeded.prices,
            idocs: Vec::new(),
            next_docnum: 0,
            refund_documents: Vec::new(),
            next_customer_return: FIRST_CUSTOMER_RETURN,
            next_credit_memo_request: FIRST_CREDIT_MEMO_REQUEST,
            sessions: BTreeMap::new(),
            next_session: 0,
            lose_create_answers: 0,
            refuse_creates: VecDeque::new(),
        };
        let shared = Arc::new(Shared {
            clock: Clock::new(now),
            config,
            state: Mutex::new(state),
            faults: Mutex::new(Faults::default()),
            calls: Mutex::new(BTreeMap::new()),
        });
        let served = Served::spawn("sap-sim", gateway::router(shared.clone()))?;
        Ok(Self { shared, served })
    }

    /// `http://127.0.0.1:PORT`: the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.served.addr())
    }

    /// The plugin's `idoc_endpoint`.
    pub fn idoc_endpoint(&self) -> String {
        format!("{}{IDOC_PATH}", self.endpoint())
    }

    /// What the operator grants: `127.0.0.1:<port>`.
    pub fn grant(&self) -> String {
        self.served.addr().to_string()
    }

    pub fn config(&self) -> &SapConfig {
        &self.shared.config
    }

    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// The plugin's config for this system (OData mode), tenant sales area `1000/10/00`,
    /// sold-to `C0001`, a page size small enough to page through the seeded data.
    pub fn plugin_config(&self) -> BTreeMap<String, String> {
        [
            ("endpoint", self.endpoint()),
            ("sap_client", self.shared.config.sap_client.clone()),
            ("sales_org", "1000".to_owned()),
            ("distribution_channel", "10".to_owned()),
            ("division", "00".to_owned()),
            ("sold_to", "C0001".to_owned()),
            ("page_size", "5".to_owned()),
            ("price_condition_retail", "ZSRP".to_owned()),
            ("price_condition_region", "ZRGP".to_owned()),
            ("price_condition_customer_group", "ZCPG".to_owned()),
            ("refund_condition_type", REFUND_CONDITION_TYPE.to_owned()),
            ("utc_offset_minutes", self.shared.config.utc_offset_minutes.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// [`SapSim::plugin_config`] in IDoc mode.
    pub fn idoc_plugin_config(&self) -> BTreeMap<String, String> {
        let mut config = self.plugin_config();
        config.insert("mode".into(), "idoc".into());
        config.insert("idoc_endpoint".into(), self.idoc_endpoint());
        config.insert("idoc_sender_partner".into(), "WHARF".into());
        config.insert(
            "idoc_receiver_partner".into(),
            format!("{}CLNT{}", self.shared.config.system_id, self.shared.config.sap_client),
        );
        config
    }

    /// The plugin's secrets.
    pub fn plugin_secrets(&self) -> BTreeMap<String, String> {
        [("sap_user", &self.shared.config.user), ("sap_password", &self.shared.config.password)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect()
    }

    /// Paid canonical orders (JSON, as `wharf plugin call push-orders` takes them) of the
    /// simulator's materials, ids from `first_id` on: amounts add up, some lines discounted,
    /// some orders with a shipping fee.
    pub fn sample_orders(&self, count: usize, first_id: u64) -> Vec<Value> {
        let materials: Vec<String> =
            lock(&self.shared.state).materials.keys().filter(|m| *m != FREIGHT_MATERIAL).cloned().collect();
        let mut rng = SimRng::new(self.shared.config.seed).fork(43 + first_id);
        let now = self.now_ms() / 1000 * 1000;
        (0..count as u64)
            .map(|i| {
                let lines: Vec<Value> = (0..1 + rng.below(3))
                    .map(|l| {
                        let (quantity, price) = (rng.range(1, 4), rng.range(100, 20_000));
                        let discount = if rng.percent(30) { rng.range(1, price / 10 + 2) } else { 0 };
                        json!({"line_id": format!("{}{l}", first_id + i), "outer_sku_id": materials[rng.below(materials.len() as u64) as usize],
                               "title": "复方板蓝根颗粒 10g*20袋 & <sample>", "quantity": quantity, "unit_price": price,
                               "discount": discount, "line_total": price * quantity - discount, "refund_status": "none"})
                    })
                    .collect();
                let goods: i64 = lines.iter().map(|l| l["unit_price"].as_i64().unwrap_or(0) * l["quantity"].as_i64().unwrap_or(0)).sum();
                let line_discounts: i64 = lines.iter().map(|l| l["discount"].as_i64().unwrap_or(0)).sum();
                let shipping = if rng.percent(50) { rng.range(5, 15) * 100 } else { 0 };
                json!({
                    "platform": "taobao", "shop_id": "default", "order_id": (first_id + i).to_string(), "status": "paid",
                    "platform_status": "WAIT_SELLER_SEND_GOODS", "refund_status": "none",
                    "created_at": crate::harness::rfc3339(now - 3_600_000), "paid_at": crate::harness::rfc3339(now - 3_000_000),
                    "updated_at": crate::harness::rfc3339(now - 3_000_000), "currency": "CNY",
                    "goods_total": goods, "shipping_fee": shipping, "discount_total": line_discounts,
                    "paid_total": goods + shipping - line_discounts,
                    "receiver": {"name": "张*", "phone": "138****5678", "province": "广东省", "city": "深圳市", "district": "南山区",
                                 "address": "科技园路**号", "postcode": "518000", "masked": true, "privacy_ref": "oaid-sample"},
                    "lines": lines,
                })
            })
            .collect()
    }

    // --- ground truth ---

    /// Every sales order, seeded ones first, in creation order.
    pub fn sales_orders(&self) -> Vec<SalesOrder> {
        lock(&self.shared.state).sales_orders.clone()
    }

    pub fn sales_order(&self, number: &str) -> Option<SalesOrder> {
        lock(&self.shared.state).sales_orders.iter().find(|o| o.sales_order == number).cloned()
    }

    /// The sales orders with `PurchaseOrderByCustomer` = `po` (more than one would mean a
    /// client created twice; the simulator refuses that, so at most one).
    pub fn sales_orders_for_po(&self, po: &str) -> Vec<SalesOrder> {
        lock(&self.shared.state).sales_orders.iter().filter(|o| o.purchase_order == po).cloned().collect()
    }

    /// The sales orders of platform order `order_id`: its `PurchaseOrderByCustomer` is the
    /// order id itself or the plugin's key for it, `<shop prefix>-<order id>`
    /// ([`order_id_of`]). Two shops that share an order id have one each.
    pub fn sales_orders_for_order(&self, order_id: &str) -> Vec<SalesOrder> {
        lock(&self.shared.state)
            .sales_orders
            .iter()
            .filter(|o| !o.purchase_order.is_empty() && order_id_of(&o.purchase_order) == order_id)
            .cloned()
            .collect()
    }

    /// Every customer return created (`API_CUSTOMER_RETURN_SRV`), in creation order.
    pub fn customer_returns(&self) -> Vec<RefundDocument> {
        self.refund_documents(RefundCategory::CustomerReturn)
    }

    /// Every credit memo request created (`API_CREDIT_MEMO_REQUEST_SRV`), in creation order.
    pub fn credit_memo_requests(&self) -> Vec<RefundDocument> {
        self.refund_documents(RefundCategory::CreditMemoRequest)
    }

    fn refund_documents(&self, category: RefundCategory) -> Vec<RefundDocument> {
        lock(&self.shared.state).refund_documents.iter().filter(|d| d.category == category).cloned().collect()
    }

    /// The customer returns and credit memo requests of after-sale `after_sale_id`: their
    /// `PurchaseOrderByCustomer` is the plugin's key for it, `<shop prefix>-<after-sale id>`
    /// (or the bare id). More than one would mean a client created twice.
    pub fn refund_documents_for_after_sale(&self, after_sale_id: &str) -> Vec<RefundDocument> {
        lock(&self.shared.state)
            .refund_documents
            .iter()
            .filter(|d| !d.purchase_order.is_empty() && order_id_of(&d.purchase_order) == after_sale_id)
            .cloned()
            .collect()
    }

    pub fn idocs(&self) -> Vec<ReceivedIdoc> {
        lock(&self.shared.state).idocs.clone()
    }

    pub fn stock(&self) -> Vec<StockRow> {
        lock(&self.shared.state).stock.clone()
    }

    pub fn batches(&self) -> Vec<Batch> {
        lock(&self.shared.state).batches.clone()
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.shared.state).deliveries.clone()
    }

    /// The stock updates the plugin must pull (without `version`), by material.
    pub fn expected_stock(&self, plant: Option<&str>) -> Vec<Value> {
        expect::stock(&lock(&self.shared.state), plant)
    }

    /// The shipment details the plugin must pull for sales organisation `sales_org` (`1000`
    /// in [`SapSim::plugin_config`]) and `window` `[from, to)` (UTC ms) of the sales orders'
    /// `LastChangeDateTime`, by sales order, then delivery.
    pub fn expected_shipments(&self, sales_org: &str, window: Option<(i64, i64)>) -> Vec<Value> {
        expect::shipments(&lock(&self.shared.state), sales_org, window)
    }

    /// The logistics the plugin must pull, as [`SapSim::expected_shipments`].
    pub fn expected_logistics(&self, sales_org: &str, window: Option<(i64, i64)>) -> Vec<Value> {
        expect::logistics(&lock(&self.shared.state), sales_org, window)
    }

    /// The lot syncs the plugin must pull (in `plant`, or all plants), by material.
    pub fn expected_lots(&self, plant: Option<&str>) -> Vec<Value> {
        expect::lots(&lock(&self.shared.state), plant)
    }

    /// The price updates the plugin must pull now for the sales area `sales_org` /
    /// `distribution_channel` (`1000`/`10` in [`SapSim::plugin_config`]) with the condition
    /// types of [`SapSim::plugin_config`] (`PR00`, `ZSRP`, `ZRGP` by `Region`, `ZCPG`).
    pub fn expected_prices(&self, sales_org: &str, distribution_channel: &str) -> Vec<Value> {
        expect::prices(
            &lock(&self.shared.state),
            sales_org,
            distribution_channel,
            self.now_ms(),
            self.shared.config.utc_offset_minutes,
        )
    }

    /// The ERP statuses the plugin must pull for `sales_org` and `window` `[from, to)` of
    /// `LastChangeDateTime` (UTC ms), in sales order order.
    pub fn expected_erp_statuses(&self, sales_org: &str, window: Option<(i64, i64)>) -> Vec<Value> {
        expect::erp_statuses(&lock(&self.shared.state), sales_org, window)
    }

    /// Requests per `"<METHOD> <last path segment>"` (`"POST A_SalesOrder"`), refused ones
    /// included.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.calls).clone()
    }

    pub fn call_count(&self, key: &str) -> u64 {
        lock(&self.shared.calls).get(key).copied().unwrap_or(0)
    }

    // --- knobs ---

    /// Throttling (429 with `Retry-After`), revoked credentials (401), front-end failures and
    /// malformed bodies.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.shared.faults)
    }

    /// Ends every session: the next write with an old token is refused with 403.
    pub fn expire_csrf_tokens(&self) {
        lock(&self.shared.state).sessions.clear();
    }

    /// The next `n` creates succeed but answer 504, as when the answer is lost on the way.
    pub fn lose_next_create_answers(&self, n: u32) {
        lock(&self.shared.state).lose_create_answers = n;
    }

    /// The next create is refused with this error (e.g. a credit block) and creates nothing.
    pub fn refuse_next_create(&self, error: SapError) {
        lock(&self.shared.state).refuse_creates.push_back(error);
    }

    /// Adds (or replaces) a stock row; `quantity` in thousandths of the base unit.
    pub fn set_stock(&self, row: StockRow) {
        let mut state = lock(&self.shared.state);
        state.materials.entry(row.material.clone()).or_insert_with(|| row.unit.clone());
        let same = |r: &StockRow| {
            (
                r.material.as_str(),
                r.plant.as_str(),
                r.storage_location.as_str(),
                r.batch.as_str(),
                r.stock_type.as_str(),
                r.special_stock.as_str(),
            ) == (
                row.material.as_str(),
                row.plant.as_str(),
                row.storage_location.as_str(),
                row.batch.as_str(),
                row.stock_type.as_str(),
                row.special_stock.as_str(),
            )
        };
        match state.stock.iter_mut().find(|r| same(r)) {
            Some(r) => *r = row,
            None => state.stock.push(row),
        }
    }

    /// Adds a material with its base unit to the material master.
    pub fn add_material(&self, material: &str, unit: &str) {
        lock(&self.shared.state).materials.insert(material.to_owned(), unit.to_owned());
    }

    /// Delivers `lines` of sales order `sales_order` now: goods issue posted, tracking number
    /// and carrier set when given. A line with several batches is a batch split (a main item
    /// and one sub-item per batch). Returns the delivery number.
    pub fn ship(
        &self,
        sales_order: &str,
        lines: &[ShipLine],
        tracking: Option<(&str, &str)>,
    ) -> anyhow::Result<String> {
        let now = self.now_ms() / 1000 * 1000;
        let mut state = lock(&self.shared.state);
        let Some(order) = state.sales_orders.iter().find(|o| o.sales_order == sales_order).cloned() else {
            bail!("no sales order {sales_order}");
        };
        let mut items = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            let Some(order_item) = order.items.iter().find(|i| i.material == line.material) else {
                bail!("sales order {sales_order} has no item of {}", line.material);
            };
            let batch_total: u32 = line.batches.iter().map(|(_, q)| q).sum();
            ensure!(
                line.batches.is_empty() || batch_total == line.quantity,
                "batches of {} add up to {batch_total}, not {}",
                line.material,
                line.quantity
            );
            let main = DeliveryItem {
                item: format!("{:06}", (n + 1) * 10),
                material: line.material.clone(),
                batch: if line.batches.len() == 1 { line.batches[0].0.clone() } else { String::new() },
                quantity: i64::from(line.quantity) * 1000,
                unit: order_item.unit.clone(),
                sales_order: sales_order.to_owned(),
                sales_order_item: order_item.item.clone(),
                batch_split_of: "000000".into(),
            };
            let splits: Vec<DeliveryItem> = if line.batches.len() > 1 {
                line.batches
                    .iter()
                    .enumerate()
                    .map(|(k, (batch, q))| DeliveryItem {
                        item: format!("{}", 900_001 + n * 100 + k),
                        batch: batch.clone(),
                        quantity: i64::from(*q) * 1000,
                        batch_split_of: main.item.clone(),
                        ..main.clone()
                    })
                    .collect()
            } else {
                Vec::new()
            };
            items.push(main);
            items.extend(splits);
        }
        let number = state.next_delivery.to_string();
        state.next_delivery += 1;
        state.deliveries.push(Delivery {
            delivery: number.clone(),
            sales_org: order.sales_org.clone(),
            sold_to: order.sold_to.clone(),
            goods_issued_ms: Some(now),
            created_ms: now,
            last_change_ms: now,
            bill_of_lading: tracking.map(|(t, _)| t.to_owned()).unwrap_or_default(),
            means_of_transport: tracking.map(|(_, c)| c.to_owned()).unwrap_or_default(),
            picking: "C".into(),
            packing: String::new(),
            pod: String::new(),
            items,
        });
        // Goods issue updates the order's delivery status, which stamps it changed.
        if let Some(o) = state.sales_orders.iter_mut().find(|o| o.sales_order == sales_order) {
            o.last_change_ms = now;
        }
        Ok(number)
    }

    /// Sets a delivery's tracking number and carrier, stamping it changed now.
    pub fn set_tracking(&self, delivery: &str, tracking_no: &str, carrier: &str) -> anyhow::Result<()> {
        let now = self.now_ms();
        let mut state = lock(&self.shared.state);
        let Some(d) = state.deliveries.iter_mut().find(|d| d.delivery == delivery) else {
            bail!("no delivery {delivery}");
        };
        d.bill_of_lading = tracking_no.to_owned();
        d.means_of_transport = carrier.to_owned();
        d.last_change_ms = now;
        Ok(())
    }

    /// Moves the sales order whose `PurchaseOrderByCustomer` is `po` (or, when none is, the
    /// one sales order of platform order `po`, see [`SapSim::sales_orders_for_order`]) to
    /// `stage` now (see [`ErpStage`]), stamping it (and the deliveries it touches) changed.
    /// Delivery stages apply to every delivery of the order; one for the whole order is
    /// created when it has none (goods issue on it makes it a shipment too, without tracking).
    pub fn set_order_status(&self, po: &str, stage: ErpStage) -> anyhow::Result<()> {
        let now = self.now_ms() / 1000 * 1000;
        let mut guard = lock(&self.shared.state);
        let state = &mut *guard;
        let exact = state.sales_orders.iter().position(|o| o.purchase_order == po && !po.is_empty());
        let index = match exact {
            Some(i) => i,
            None => {
                let of_order: Vec<usize> = (0..state.sales_orders.len())
                    .filter(|&i| {
                        let number = &state.sales_orders[i].purchase_order;
                        !number.is_empty() && order_id_of(number) == po
                    })
                    .collect();
                match of_order[..] {
                    [i] => i,
                    [] => bail!("no sales order with purchase order {po:?}"),
                    _ => bail!("several sales orders of order {po:?} (shops share the id): name the purchase order"),
                }
            }
        };
        let order = &mut state.sales_orders[index];
        order.last_change_ms = now;
        let number = order.sales_order.clone();
        match stage {
            ErpStage::Accepted => return Ok(()),
            ErpStage::OutOfStock => {
                order.items.iter_mut().for_each(|i| i.confirmed = 0);
                return Ok(());
            }
            ErpStage::Cancelled => {
                order.rejected = true;
                return Ok(());
            }
            _ => {}
        }
        let has_delivery = state.deliveries.iter().any(|d| d.items.iter().any(|i| i.sales_order == number));
        if !has_delivery {
            let items = order
                .items
                .iter()
                .map(|i| DeliveryItem {
                    item: i.item.clone(),
                    material: i.material.clone(),
                    batch: String::new(),
                    quantity: i.quantity,
                    unit: i.unit.clone(),
                    sales_order: number.clone(),
                    sales_order_item: i.item.clone(),
                    batch_split_of: "000000".into(),
                })
                .collect();
            let delivery = state.next_delivery.to_string();
            state.next_delivery += 1;
            state.deliveries.push(Delivery {
                delivery,
                sales_org: order.sales_org.clone(),
                sold_to: order.sold_to.clone(),
                goods_issued_ms: None,
                created_ms: now,
                last_change_ms: now,
                bill_of_lading: String::new(),
                means_of_transport: String::new(),
                picking: "A".into(),
                packing: String::new(),
                pod: String::new(),
                items,
            });
        }
        for d in state.deliveries.iter_mut().filter(|d| d.items.iter().any(|i| i.sales_order == number)) {
            d.last_change_ms = now;
            match stage {
                ErpStage::Picking => d.picking = "B".into(),
                ErpStage::Packed => {
                    d.picking = "C".into();
                    d.packing = "C".into();
                }
                _ => {
                    d.picking = "C".into();
                    d.goods_issued_ms.get_or_insert(now);
                    if stage == ErpStage::Signed {
                        d.pod = "C".into();
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds (or replaces, by `record`) a pricing condition record.
    pub fn set_price(&self, price: PriceRecord) {
        let mut state = lock(&self.shared.state);
        state.prices.retain(|p| p.record != price.record);
        state.prices.push(price);
    }

    pub fn prices(&self) -> Vec<PriceRecord> {
        lock(&self.shared.state).prices.clone()
    }

    /// Adds batch master data (dates `YYYY-MM-DD`).
    pub fn add_batch(&self, batch: Batch) {
        lock(&self.shared.state).batches.push(batch);
    }

    // --- talking to the gateway directly ---

    /// Runs one request through the gateway without HTTP.
    pub fn handle_raw(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> gateway::Answer {
        let mut map = axum::http::HeaderMap::new();
        for (k, v) in headers {
            if let (Ok(k), Ok(v)) = (k.parse::<axum::http::HeaderName>(), v.parse()) {
                map.append(k, v);
            }
        }
        self.shared.handle(method, path, query, &map, body)
    }
}

#[cfg(test)]
mod tests;

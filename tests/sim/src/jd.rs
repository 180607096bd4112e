//! A simulator of JD's open platform (JOS, 京东宙斯) gateway, for Wharf's end-to-end and
//! conformance tests.
//!
//! [`JdSim`] serves `/routerjson` on a random loopback port ([`crate::serve`]). System
//! parameters (`method`, `app_key`, `access_token`, `timestamp`, `v`, `sign`) may come in the
//! query, the form body or both; the method's own parameters are one JSON string,
//! `360buy_param_json`. The gateway checks them as JOS does (platforms.md, [`gateway`]): the app
//! key, the timestamp (`yyyy-MM-dd HH:mm:ss` or `yyyy-MM-dd HH:mm:ss.SSSZ`, GMT+8, within
//! [`DEFAULT_TIMESTAMP_TOLERANCE_MS`]), `v=2.0`, the md5 signature over the sorted system
//! params plus `360buy_param_json`, and the access token.
//!
//! It serves a [`Shop`] generated from a seed in JOS's words ([`render`]): `orderInfo` with
//! order ids beyond 2^53, yuan strings, GMT+8 times, `orderState`, a consignee whose name and
//! address are ciphertexts and whose phones are masked (`136*******5`), and `itemInfoList`
//! with `itemTotal` as a string. Orders awaiting payment are not shown: JOS lists POP orders
//! to the seller once paid ([`render::order_state`]). The methods ([`methods`]) are
//! `jingdong.pop.order.search`, `jingdong.pop.order.get`,
//! `jingdong.stock.write.updateSkuStock` and `jingdong.pop.order.shipment`, and the
//! after-sales of [`after_sale`] (refund applications and service orders), and receiver
//! decryption with its access log ([`decrypt`]), answered in
//! `<method>_responce` envelopes with JOS's `apiResult`; refusals are `error_response`s
//! ([`error`], where the UNSURE codes live). Faults come from [`Faults`]. Searches and gets
//! are answered from `orderInfo` texts rendered at start and listings kept sorted, both
//! renewed as the shop changes (`cache`), so a benchmark measures Wharf, not the simulator.
//!
//! [`JdSim`] implements [`crate::Marketplace`]; [`expect`] holds the canonical orders the JD
//! plugin must produce, computed from the shop itself, not from the wire.
//!
//! ```no_run
//! use wharf_sim::jd::{JdConfig, JdSim};
//! let sim = JdSim::spawn(JdConfig { orders: 200, ..JdConfig::default() })?;
//! let endpoint = sim.endpoint(); // http://127.0.0.1:PORT/routerjson
//! sim.faults().throttle(50, 3);
//! # let _ = endpoint;
//! # anyhow::Ok(())
//! ```

pub mod after_sale;
mod cache;
pub mod decrypt;
pub mod error;
pub mod expect;
pub mod gateway;
mod marketplace;
pub mod methods;
pub mod render;
mod rules;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::ensure;

use self::cache::{OrderInfoCache, Watched};
use crate::faults::Faults;
use crate::privacy::{DecryptCall, PlainReceiver};
use crate::raw::RawOrder;
use crate::rng::SimRng;
use crate::serve::{Clock, Served, lock, wall_ms};
use crate::shop::{
    AfterSale, AfterSaleAction, AfterSaleError, AfterSaleKind, Catalog, Order, SellerAction, Shop, ShopParams, Sku,
};

pub use decrypt::LogUpload;
pub use error::JosError;
pub use gateway::ROUTER_PATH;
pub use methods::{METHODS, ORDER_GET, ORDER_SEARCH, ORDER_SHIPMENT, UPDATE_SKU_STOCK, response_key};

/// JOS refuses a `timestamp` further than this from its clock. Its error table says six
/// minutes for code 8 ("京东API服务端允许客户端请求时间误差为6分钟"); TOP allows ten.
pub const DEFAULT_TIMESTAMP_TOLERANCE_MS: i64 = 6 * 60 * 1000;
/// Orders are modified within the last three days unless told otherwise (what an incremental
/// sync usually looks at).
pub const DEFAULT_MODIFIED_SPAN_MS: i64 = 3 * 86_400 * 1000;
/// The first order number: just below 2^53 (9 007 199 254 740 992), so every order after the
/// first few has an id a JSON parser that goes through `f64` corrupts. (Real JD order ids are
/// 12 digits; the point here is the parser.) The shop's line numbers (`order_no * 10 + i`)
/// still fit `u64`.
pub const FIRST_ORDER_NO: u64 = 9_007_199_254_740_000;
/// A cap that keeps a mistyped order count from eating the machine's memory.
pub const MAX_ORDERS: usize = 1_000_000;

/// How order ids are written in `orderInfo`.
///
/// UNSURE: JOS's Java domain types `orderId` as a string and most captured answers quote it;
/// some JOS answers carry ids as bare numbers. The default is numbers, the harder case for a
/// client (it must not read them through `f64`); [`OrderIds::Strings`] is the other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OrderIds {
    #[default]
    Numbers,
    Strings,
}

/// How to build the simulated shop and gateway.
#[derive(Clone, Debug)]
pub struct JdConfig {
    pub orders: usize,
    /// Everything generated derives from it.
    pub seed: u64,
    /// The simulator's "now" at start (UTC ms); `None`: the wall clock. Orders are modified in
    /// `[now − modified_span_ms, now]`. Request timestamps are checked against the wall clock,
    /// since plugins stamp with the real time.
    pub now_ms: Option<i64>,
    pub modified_span_ms: i64,
    pub order_ids: OrderIds,
    pub app_key: String,
    pub app_secret: String,
    /// The seller's access token every request must carry.
    pub access_token: String,
    pub timestamp_tolerance_ms: i64,
    /// After-sales the shop holds at start, on random paid orders (drawn from a stream of
    /// their own, so the orders are the same whatever the count).
    pub after_sales: usize,
}

impl Default for JdConfig {
    fn default() -> Self {
        Self {
            orders: 100,
            seed: 20_261_125,
            now_ms: None,
            modified_span_ms: DEFAULT_MODIFIED_SPAN_MS,
            order_ids: OrderIds::Numbers,
            app_key: "JDSIMAPPKEY0000000000000000000001".into(),
            app_secret: "jd-sim-app-secret".into(),
            access_token: "jd-sim-access-token".into(),
            timestamp_tolerance_ms: DEFAULT_TIMESTAMP_TOLERANCE_MS,
            after_sales: 0,
        }
    }
}

/// One accepted `jingdong.stock.write.updateSkuStock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockWrite {
    pub sku_id: u64,
    pub stock_num: i64,
    /// The warehouse (`storeId`), when the call named one.
    pub store_id: Option<u64>,
}

/// Everything the server and the test-facing handle share.
pub(crate) struct Shared {
    pub config: JdConfig,
    pub clock: Clock,
    /// The "now" the shop was generated at (UTC ms, whole seconds).
    pub generated_at_ms: i64,
    /// Watched, so the cached listings know when to rebuild ([`cache`]).
    pub shop: Mutex<Watched<Shop>>,
    /// The shop's `orderInfo`s as sent; locked after `shop` (and `raw`), never before.
    pub order_infos: Mutex<OrderInfoCache>,
    pub faults: Mutex<Faults>,
    pub stock_writes: Mutex<Vec<StockWrite>>,
    /// Requests per `method` parameter (refused ones included; none counts under "").
    pub calls: Mutex<BTreeMap<String, u64>>,
    /// `orderInfo` documents served as given beside the shop ([`crate::raw`]).
    pub raw: Mutex<Vec<RawOrder>>,
    /// Draws new after-sales and their steps.
    pub after_sale_rng: Mutex<SimRng>,
    /// Every refund application audit applied, in order.
    pub seller_actions: Mutex<Vec<SellerAction>>,
    /// Every `jingdong.jos.order.oaid.decrypt` call, in order.
    pub decrypt_calls: Mutex<Vec<DecryptCall>>,
    /// Every accepted `jingdong.security.orderinfo.log.upload`, in order.
    pub log_uploads: Mutex<Vec<LogUpload>>,
}

/// The random stream after-sales are drawn from (apart from the shop's).
const AFTER_SALE_STREAM: u64 = 31;

/// A running JOS simulator; stops when dropped.
pub struct JdSim {
    shared: Arc<Shared>,
    served: Served,
}

impl JdSim {
    /// Generates the shop and serves it on loopback (on a runtime of its own, so it works from
    /// sync and async callers alike).
    pub fn spawn(config: JdConfig) -> anyhow::Result<Self> {
        Self::spawn_selling(config, None)
    }

    /// Like [`JdSim::spawn`], the shop selling `catalog` (shared with other simulators, so
    /// they agree on the merchant's SKU codes) instead of a catalogue of its own.
    pub fn spawn_with_catalog(config: JdConfig, catalog: &Catalog) -> anyhow::Result<Self> {
        ensure!(!catalog.skus.is_empty(), "the catalog has no SKUs to sell");
        Self::spawn_selling(config, Some(catalog))
    }

    fn spawn_selling(config: JdConfig, catalog: Option<&Catalog>) -> anyhow::Result<Self> {
        for (name, value) in
            [("app_key", &config.app_key), ("app_secret", &config.app_secret), ("access_token", &config.access_token)]
        {
            ensure!(!value.is_empty(), "JdConfig.{name} must not be empty");
        }
        ensure!(config.orders <= MAX_ORDERS, "JdConfig.orders must be at most {MAX_ORDERS}, got {}", config.orders);
        ensure!(
            config.modified_span_ms >= 1000,
            "JdConfig.modified_span_ms must be at least 1000, got {}",
            config.modified_span_ms
        );
        let generated_at_ms = config.now_ms.unwrap_or_else(wall_ms) / 1000 * 1000;
        let params = ShopParams {
            seed: config.seed,
            orders: config.orders,
            now_ms: generated_at_ms,
            modified_span_ms: config.modified_span_ms,
            first_order_no: FIRST_ORDER_NO,
        };
        let mut shop = match catalog {
            Some(catalog) => Shop::generate_with_catalog(&params, catalog),
            None => Shop::generate(&params),
        };
        let mut after_sale_rng = SimRng::new(config.seed).fork(AFTER_SALE_STREAM);
        shop.generate_after_sales(&mut after_sale_rng, config.after_sales, generated_at_ms);
        let shop = Watched::new(shop);
        let mut order_infos = OrderInfoCache::new(config.order_ids);
        order_infos.warm(&shop);
        let shared = Arc::new(Shared {
            config,
            clock: Clock::new(generated_at_ms),
            generated_at_ms,
            shop: Mutex::new(shop),
            order_infos: Mutex::new(order_infos),
            faults: Mutex::new(Faults::default()),
            stock_writes: Mutex::new(Vec::new()),
            calls: Mutex::new(BTreeMap::new()),
            raw: Mutex::new(Vec::new()),
            after_sale_rng: Mutex::new(after_sale_rng),
            seller_actions: Mutex::new(Vec::new()),
            decrypt_calls: Mutex::new(Vec::new()),
            log_uploads: Mutex::new(Vec::new()),
        });
        let served = Served::spawn("jd-sim", gateway::router(shared.clone()))?;
        Ok(Self { shared, served })
    }

    /// `http://127.0.0.1:PORT/routerjson`: the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{ROUTER_PATH}", self.served.addr())
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.served.addr()
    }

    pub fn config(&self) -> &JdConfig {
        &self.shared.config
    }

    /// The simulator's clock (UTC ms).
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    // --- ground truth ---

    /// The shop as it is now (orders awaiting payment included, though JOS does not show them).
    pub fn shop(&self) -> Shop {
        lock(&self.shared.shop).clone()
    }

    /// The order whose JD id is `order_id`.
    pub fn order(&self, order_id: &str) -> Option<Order> {
        let no: u64 = order_id.parse().ok()?;
        lock(&self.shared.shop).orders.iter().find(|o| o.order_no == no).cloned()
    }

    /// The SKU whose JD `skuId` is `sku_id`.
    pub fn sku(&self, sku_id: u64) -> Option<Sku> {
        lock(&self.shared.shop).skus.iter().find(|s| s.sku_no == sku_id).cloned()
    }

    /// Every accepted stock write, in order.
    pub fn stock_writes(&self) -> Vec<StockWrite> {
        lock(&self.shared.stock_writes).clone()
    }

    /// The canonical JSON the JD plugin must produce for every order JOS shows that was
    /// modified in `[from, to)`, newest first.
    pub fn expected_orders(&self, shop_id: &str, from: i64, to: i64) -> Vec<serde_json::Value> {
        let shop = lock(&self.shared.shop);
        let mut orders: Vec<&Order> = shop.modified_in(from, to).collect();
        orders.sort_by_key(|o| std::cmp::Reverse((o.updated_ms, o.order_no)));
        orders.into_iter().filter_map(|o| expect::expected_order(&shop, o, shop_id)).collect()
    }

    /// Requests received per `method` parameter (refused ones included).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.calls).clone()
    }

    pub fn call_count(&self, method: &str) -> u64 {
        lock(&self.shared.calls).get(method).copied().unwrap_or(0)
    }

    // --- knobs ---

    /// The fault state (throttle, revoked token, HTTP failures, malformed bodies), answered in
    /// JOS's words.
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.shared.faults)
    }

    /// Moves the order modified longest ago to its next stage, stamped now; its JD id. An
    /// order that would go back to awaiting payment (which JOS does not show) goes on to paid,
    /// so the change stays visible.
    pub fn change_one(&self) -> Option<String> {
        let now = self.now_ms() / 1000 * 1000;
        let mut shop = lock(&self.shared.shop);
        let no = shop.change_one(now)?;
        let order = shop.order_mut(no)?;
        if render::order_state(order).is_none() {
            order.stage = order.stage.next();
            order.paid_ms = order.paid_ms.or(Some(now));
        }
        Some(no.to_string())
    }

    /// A buyer pays a new order at `now_ms` (UTC ms; whole seconds are kept); its JD id.
    pub fn add_paid_order(&self, rng: &mut SimRng, now_ms: i64) -> String {
        lock(&self.shared.shop).add_paid_order(rng, now_ms).to_string()
    }

    // --- receiver decryption ---

    /// The receiver of order `order_id` as `jingdong.jos.order.oaid.decrypt` answers it
    /// (plaintext ground truth, for checking answers and scanning for leaks).
    pub fn plaintext_receiver(&self, order_id: &str) -> Option<PlainReceiver> {
        let no: u64 = order_id.parse().ok()?;
        lock(&self.shared.shop).orders.iter().find(|o| o.order_no == no).map(decrypt::plaintext)
    }

    /// Every decrypt call answered (refused ones too), in order.
    pub fn decrypt_calls(&self) -> Vec<DecryptCall> {
        lock(&self.shared.decrypt_calls).clone()
    }

    /// Every access log uploaded, in order.
    pub fn log_uploads(&self) -> Vec<LogUpload> {
        lock(&self.shared.log_uploads).clone()
    }

    /// The orders decrypted that no later log upload names (JD requires each access logged):
    /// empty when every decrypt was logged back.
    pub fn decrypts_not_logged(&self) -> Vec<String> {
        let uploads = self.log_uploads();
        self.decrypt_calls()
            .iter()
            .flat_map(|c| c.items.iter().filter(|i| i.ok).map(move |i| (c.at_ms, i.order_id.clone())))
            .filter(|(at, id)| !uploads.iter().any(|u| u.at_ms >= *at && u.order_ids.contains(id)))
            .map(|(_, id)| id)
            .collect()
    }

    // --- after-sales ---

    /// Every after-sale, in the order opened (ground truth): refunds before shipping are JD's
    /// refund applications, the rest its service orders ([`after_sale`]).
    pub fn after_sales(&self) -> Vec<AfterSale> {
        lock(&self.shared.shop).after_sales.clone()
    }

    /// The after-sale whose JD `id` (refund application) or `serviceId` is `id`.
    pub fn after_sale(&self, id: u64) -> Option<AfterSale> {
        lock(&self.shared.shop).after_sale(id).cloned()
    }

    /// Every `replyRefund` the simulator applied, in order.
    pub fn seller_actions(&self) -> Vec<SellerAction> {
        lock(&self.shared.seller_actions).clone()
    }

    /// The buyer opens an after-sale of `kind` on order `order_id` now (lines, amounts and
    /// reason from the simulator's after-sale stream; a paid order not shipped gets a refund
    /// application, see [`Shop::add_after_sale`]); its id.
    pub fn add_after_sale(&self, order_id: &str, kind: AfterSaleKind) -> Option<u64> {
        let no: u64 = order_id.parse().ok()?;
        let now = self.now_ms();
        let mut rng = lock(&self.shared.after_sale_rng);
        lock(&self.shared.shop).add_after_sale(&mut rng, no, kind, now)
    }

    /// Opens an after-sale on a random order now (a paid one not shipped when `intercept`); its
    /// id.
    pub fn open_random_after_sale(&self, intercept: bool) -> Option<u64> {
        let now = self.now_ms();
        let mut rng = lock(&self.shared.after_sale_rng);
        lock(&self.shared.shop).open_random_after_sale(&mut rng, now, intercept)
    }

    /// Moves one open after-sale one natural step now; its id.
    pub fn advance_after_sale(&self) -> Option<u64> {
        let now = self.now_ms();
        let mut rng = lock(&self.shared.after_sale_rng);
        lock(&self.shared.shop).advance_after_sale(&mut rng, now)
    }

    /// Takes `action` on after-sale `id` now, as the buyer, JD or the seller at the console
    /// would.
    pub fn act_on_after_sale(&self, id: u64, action: &AfterSaleAction) -> Result<AfterSale, AfterSaleError> {
        let now = self.now_ms();
        lock(&self.shared.shop).act_on_after_sale(id, action, now).cloned()
    }

    // --- talking to the gateway directly ---

    /// The query string and form body a correct client sends for `method` with `params` (the
    /// business JSON), signed and stamped with the wall clock in `yyyy-MM-dd HH:mm:ss`.
    pub fn signed_request(&self, method: &str, params: &serde_json::Value) -> (String, String) {
        gateway::signed_request(&self.shared.config, method, params, &crate::taobao::gmt8(wall_ms()))
    }

    /// Runs one request through the gateway without HTTP: `(status, body)`.
    pub fn handle_raw(&self, query: &str, body: &str) -> (u16, String) {
        self.shared.handle(Some(query), body.as_bytes())
    }

    /// [`JdSim::signed_request`] then [`JdSim::handle_raw`]: the body, parsed.
    pub fn call(&self, method: &str, params: &serde_json::Value) -> serde_json::Value {
        let (query, body) = self.signed_request(method, params);
        let (_, text) = self.handle_raw(&query, &body);
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }
}

#[cfg(test)]
mod tests;

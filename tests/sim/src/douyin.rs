//! A simulator of the 抖店 (Douyin shop) open API, for Wharf's end-to-end and conformance tests.
//!
//! [`DouyinSim`] serves `POST /<method with dots → slashes>` on a random loopback port (see
//! [`crate::serve`]) with the system parameters in the query (`app_key`, `method`,
//! `timestamp`, `v`, `sign_method`, `sign`, `access_token`) and the method's own parameters as
//! the JSON body `param_json`. It checks them as 抖店 does (platforms.md): the app key, the
//! timestamp's skew, that `param_json` is compact JSON with sorted keys, the signature
//! (hmac-sha256 or md5 of `secret + pattern + secret`, lowercase hex), and the access token.
//!
//! It serves a [`Shop`] generated from a seed, in 抖店's words (`render`, see [`shop_order`]): 19-digit order ids
//! as JSON strings, amounts in fen, Unix-second times, `order_status` + `main_status`, and
//! receivers as ciphertexts plus masked display values. The methods are `order.searchList`,
//! `order.orderDetail`, `sku.syncStock` (idempotent by `idempotent_id`) and
//! `order.logisticsAdd` (`methods`), and the after-sales of [`after_sale`]: `afterSale.List`,
//! `afterSale.Detail` and `afterSale.operate` over the shop's [`AfterSale`]s (none unless
//! [`DouyinConfig::after_sales`] or [`DouyinSim::add_after_sale`] opens some), and
//! `order.batchDecrypt` ([`decrypt`]), every call recorded. Faults come from [`crate::faults::Faults`] and are
//! answered in 抖店's error codes (`error`, where the UNSURE codes live: [`DyError`], [`codes`]).
//!
//! [`DouyinSim`] implements [`crate::Marketplace`]; `expect` ([`expected_order`]) holds the
//! canonical orders the Douyin plugin must produce, computed from the shop itself, not from
//! the wire.

pub mod after_sale;
pub mod decrypt;
mod error;
mod expect;
mod gateway;
mod marketplace;
mod methods;
mod render;
mod rules;
mod sign;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::bail;

use crate::faults::Faults;
use crate::privacy::{DecryptCall, PlainReceiver};
use crate::raw::RawOrder;
use crate::rng::SimRng;
use crate::serve::{Clock, Served, lock, wall_ms};
use crate::shop::{
    AfterSale, AfterSaleAction, AfterSaleError, AfterSaleKind, Catalog, SellerAction, Shop, ShopParams, UploadedInvoice,
};

pub use error::{DyError, codes};
pub use expect::expected_order;
pub use gateway::{API_VERSION, path_of};
pub use methods::{INVOICE_UPLOAD, LOGISTICS_ADD, METHODS, ORDER_DETAIL, SEARCH_LIST, SYNC_STOCK};
pub use render::{CARRIERS, order_id, shop_order, sku_order_id, statuses};
pub use sign::{SignMethod, sign, sign_pattern, sorted_compact};

/// 抖店 rejects a `timestamp` this far from its clock (UNSURE: the platform documents no
/// figure we could find; ten minutes is TOP's, and what 抖店's SDKs tolerate in practice).
pub const DEFAULT_TIMESTAMP_TOLERANCE_MS: i64 = 10 * 60 * 1000;
/// Orders are modified within the last three days unless told otherwise (what an incremental
/// sync usually looks at).
pub const DEFAULT_MODIFIED_SPAN_MS: i64 = 3 * 86_400 * 1000;
/// The first order number: 19 digits like 抖店's parent order ids, and small enough that the
/// shop's line numbers (`order_no * 10 + i`) still fit `u64` (see [`render::sku_order_id`]).
pub const FIRST_ORDER_NO: u64 = 1_692_000_000_000_000_000;
/// The random stream after-sales are drawn from (apart from the shop's).
const AFTER_SALE_STREAM: u64 = 31;
/// A cap that keeps a mistyped order count from eating the machine's memory.
pub const MAX_ORDERS: usize = 1_000_000;

/// How to build the simulated shop and gateway.
#[derive(Clone, Debug)]
pub struct DouyinConfig {
    /// The shop: how many orders, generated from `seed`, modified within `modified_span_ms`
    /// before `now_ms` (UTC; `None` is the wall clock, where the simulator's clock starts).
    pub orders: usize,
    pub seed: u64,
    pub now_ms: Option<i64>,
    pub modified_span_ms: i64,
    /// The app: its key (抖店's are 19 digits) and secret, and the shop's access token every
    /// request must carry.
    pub app_key: String,
    pub app_secret: String,
    pub access_token: String,
    /// How far a request's `timestamp` may be from the wall clock (plugins stamp with the
    /// real time, whatever `now_ms` says).
    pub timestamp_tolerance_ms: i64,
    /// After-sales the shop holds at start, on random paid orders (drawn from a stream of
    /// their own, so the orders are the same whatever the count).
    pub after_sales: usize,
}

impl Default for DouyinConfig {
    fn default() -> Self {
        Self {
            app_key: "7000000000000000001".into(),
            app_secret: "douyin-sim-secret".into(),
            access_token: "dy-sim-access-token".into(),
            seed: 20_261_124,
            orders: 100,
            now_ms: None,
            modified_span_ms: DEFAULT_MODIFIED_SPAN_MS,
            timestamp_tolerance_ms: DEFAULT_TIMESTAMP_TOLERANCE_MS,
            after_sales: 0,
        }
    }
}

impl DouyinConfig {
    fn validate(&self) -> anyhow::Result<()> {
        for (name, v) in
            [("app_key", &self.app_key), ("app_secret", &self.app_secret), ("access_token", &self.access_token)]
        {
            if v.is_empty() {
                bail!("DouyinConfig.{name} must not be empty");
            }
        }
        if self.orders > MAX_ORDERS {
            bail!("DouyinConfig.orders must be at most {MAX_ORDERS}, got {}", self.orders);
        }
        if self.modified_span_ms < 1000 {
            bail!("DouyinConfig.modified_span_ms must be at least 1000 ms, got {}", self.modified_span_ms);
        }
        Ok(())
    }
}

/// Which answer envelope the gateway writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Envelope {
    /// `{"log_id","code":10000,"msg","sub_code","sub_msg","data"}`.
    #[default]
    Current,
    /// `{"err_no":0,"message","data"}`, what older apps still get.
    Legacy,
}

/// Everything the server and the test-facing handle share.
pub(crate) struct Shared {
    pub config: DouyinConfig,
    pub clock: Clock,
    /// The "now" the shop was generated at (UTC ms).
    pub generated_at_ms: i64,
    pub shop: Mutex<Shop>,
    pub faults: Mutex<Faults>,
    /// `idempotent_id`s of the `sku.syncStock` calls applied.
    pub applied: Mutex<std::collections::HashSet<String>>,
    pub envelope: Mutex<Envelope>,
    pub calls: Mutex<BTreeMap<String, u64>>,
    pub log_seq: std::sync::atomic::AtomicU64,
    /// Shop orders served as given beside the shop ([`crate::raw`]).
    pub raw: Mutex<Vec<RawOrder>>,
    /// Draws new after-sales and their steps.
    pub after_sale_rng: Mutex<SimRng>,
    /// Every `afterSale.operate` action applied, in order.
    pub seller_actions: Mutex<Vec<SellerAction>>,
    /// Every `order.batchDecrypt` call, in order.
    pub decrypt_calls: Mutex<Vec<DecryptCall>>,
    /// Every invoice `order.invoiceUpload` accepted, in order.
    pub invoices: Mutex<Vec<UploadedInvoice>>,
}

/// A running 抖店 simulator; stops when dropped.
pub struct DouyinSim {
    shared: Arc<Shared>,
    served: Served,
}

impl DouyinSim {
    /// Generates the shop and serves it on loopback (on a runtime of its own).
    pub fn spawn(config: DouyinConfig) -> anyhow::Result<Self> {
        Self::spawn_selling(config, None)
    }

    /// Like [`DouyinSim::spawn`], the shop selling `catalog` (shared with other simulators, so
    /// they agree on the merchant's SKU codes) instead of a catalogue of its own.
    pub fn spawn_with_catalog(config: DouyinConfig, catalog: &Catalog) -> anyhow::Result<Self> {
        if catalog.skus.is_empty() {
            bail!("the catalog has no SKUs to sell");
        }
        Self::spawn_selling(config, Some(catalog))
    }

    fn spawn_selling(config: DouyinConfig, catalog: Option<&Catalog>) -> anyhow::Result<Self> {
        config.validate()?;
        let now_ms = config.now_ms.unwrap_or_else(wall_ms) / 1000 * 1000;
        let (seed, orders, modified_span_ms) = (config.seed, config.orders, config.modified_span_ms);
        let params = ShopParams { seed, orders, now_ms, modified_span_ms, first_order_no: FIRST_ORDER_NO };
        let mut shop = match catalog {
            Some(catalog) => Shop::generate_with_catalog(&params, catalog),
            None => Shop::generate(&params),
        };
        let mut after_sale_rng = SimRng::new(seed).fork(AFTER_SALE_STREAM);
        shop.generate_after_sales(&mut after_sale_rng, config.after_sales, now_ms);
        let shared = Arc::new(Shared {
            config,
            clock: Clock::new(now_ms),
            generated_at_ms: now_ms,
            shop: Mutex::new(shop),
            faults: Mutex::new(Faults::default()),
            applied: Mutex::new(Default::default()),
            envelope: Mutex::new(Envelope::Current),
            calls: Mutex::new(BTreeMap::new()),
            log_seq: std::sync::atomic::AtomicU64::new(1),
            raw: Mutex::new(Vec::new()),
            after_sale_rng: Mutex::new(after_sale_rng),
            seller_actions: Mutex::new(Vec::new()),
            invoices: Mutex::new(Vec::new()),
            decrypt_calls: Mutex::new(Vec::new()),
        });
        let served = Served::spawn("douyin-sim", gateway::router(shared.clone()))?;
        Ok(Self { shared, served })
    }

    /// `http://127.0.0.1:PORT`: the plugin's `endpoint` (methods are paths below it).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.served.addr())
    }

    /// What the simulator was built from.
    pub fn config(&self) -> &DouyinConfig {
        &self.shared.config
    }

    // --- ground truth ---

    /// Reads the shop as it is now, e.g. `sim.with_shop(|s| s.sku_by_outer_id("SKU-0001-1").map(|k| k.stock))`.
    pub fn with_shop<T>(&self, read: impl FnOnce(&Shop) -> T) -> T {
        read(&lock(&self.shared.shop))
    }

    /// A copy of the shop as it is now.
    pub fn shop(&self) -> Shop {
        self.with_shop(Shop::clone)
    }

    /// The simulator's clock (UTC ms).
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// Requests received per `method` query parameter (refused ones included).
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.calls).clone()
    }

    pub fn call_count(&self, method: &str) -> u64 {
        lock(&self.shared.calls).get(method).copied().unwrap_or(0)
    }

    // --- knobs ---

    /// The fault state; see [`Faults`] (throttle, revoked token, HTTP failures, malformed
    /// bodies), answered in 抖店's codes.
    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        lock(&self.shared.faults)
    }

    /// Answers with the older `{"err_no","message","data"}` envelope from now on (or not).
    pub fn set_envelope(&self, envelope: Envelope) {
        *lock(&self.shared.envelope) = envelope;
    }

    /// Moves the order modified longest ago to its next stage, stamped now; its 抖店 id.
    pub fn change_one(&self) -> Option<String> {
        let now = self.now_ms();
        lock(&self.shared.shop).change_one(now).map(order_id)
    }

    /// A buyer pays a new order at `now_ms` (UTC ms; whole seconds are kept); its 抖店 id.
    pub fn add_paid_order(&self, rng: &mut SimRng, now_ms: i64) -> String {
        order_id(lock(&self.shared.shop).add_paid_order(rng, now_ms))
    }

    // --- receiver decryption ---

    /// The receiver of shop order `order_id` as `order.batchDecrypt` answers it (plaintext
    /// ground truth, for checking answers and scanning for leaks).
    pub fn plaintext_receiver(&self, order_id: &str) -> Option<PlainReceiver> {
        let no: u64 = order_id.parse().ok()?;
        lock(&self.shared.shop).orders.iter().find(|o| o.order_no == no).map(decrypt::plaintext)
    }

    /// Every `order.batchDecrypt` call answered (refused ones too), in order.
    pub fn decrypt_calls(&self) -> Vec<DecryptCall> {
        lock(&self.shared.decrypt_calls).clone()
    }

    // --- after-sales ---

    /// Every after-sale, in the order opened (ground truth).
    pub fn after_sales(&self) -> Vec<AfterSale> {
        lock(&self.shared.shop).after_sales.clone()
    }

    /// The after-sale whose 抖店 `aftersale_id` is `id`.
    pub fn after_sale(&self, id: &str) -> Option<AfterSale> {
        let id: u64 = id.parse().ok()?;
        lock(&self.shared.shop).after_sale(id).cloned()
    }

    /// Every `afterSale.operate` action the simulator applied, in order.
    pub fn seller_actions(&self) -> Vec<SellerAction> {
        lock(&self.shared.seller_actions).clone()
    }

    /// Every invoice `order.invoiceUpload` accepted, in order (ground truth for
    /// `push-invoices`: the order and the file URL, all 抖店 takes).
    pub fn invoices(&self) -> Vec<UploadedInvoice> {
        lock(&self.shared.invoices).clone()
    }

    /// The buyer opens an after-sale of `kind` on the shop order `order_id` now (lines, amounts
    /// and reason from the simulator's after-sale stream; a paid order not shipped gets a
    /// refund before shipping, see [`Shop::add_after_sale`]); its `aftersale_id`.
    pub fn add_after_sale(&self, order_id: &str, kind: AfterSaleKind) -> Option<String> {
        let no: u64 = order_id.parse().ok()?;
        let now = self.now_ms();
        let mut rng = lock(&self.shared.after_sale_rng);
        lock(&self.shared.shop).add_after_sale(&mut rng, no, kind, now).map(|id| id.to_string())
    }

    /// Opens an after-sale on a random order now (a paid one not shipped when `intercept`);
    /// its `aftersale_id`.
    pub fn open_random_after_sale(&self, intercept: bool) -> Option<String> {
        let now = self.now_ms();
        let mut rng = lock(&self.shared.after_sale_rng);
        lock(&self.shared.shop).open_random_after_sale(&mut rng, now, intercept).map(|id| id.to_string())
    }

    /// Moves one open after-sale one natural step now (the buyer ships the return, the refund
    /// is paid…); its `aftersale_id`.
    pub fn advance_after_sale(&self) -> Option<String> {
        let now = self.now_ms();
        let mut rng = lock(&self.shared.after_sale_rng);
        lock(&self.shared.shop).advance_after_sale(&mut rng, now).map(|id| id.to_string())
    }

    /// Takes `action` on after-sale `id` now, as the buyer, the platform or the seller at the
    /// console would.
    pub fn act_on_after_sale(&self, id: &str, action: &AfterSaleAction) -> Result<AfterSale, AfterSaleError> {
        let no: u64 = id.parse().map_err(|_| AfterSaleError::NotFound(0))?;
        let now = self.now_ms();
        lock(&self.shared.shop).act_on_after_sale(no, action, now).cloned()
    }

    /// Runs one request through the gateway without HTTP: `(status, body)`. `query` is the
    /// URL's query string, `body` the raw `param_json`.
    pub fn handle_raw(&self, path: &str, query: &str, body: &[u8]) -> (u16, String) {
        let reply = self.shared.handle(path, query, None, body);
        (reply.status, reply.body)
    }

    /// The query string and body a correct client sends for `method` with `params`, signed
    /// with `sign_method` and stamped with the wall clock.
    pub fn signed_request(
        &self,
        method: &str,
        params: &serde_json::Value,
        sign_method: SignMethod,
    ) -> (String, String) {
        let cfg = &self.shared.config;
        let param_json = sorted_compact(params);
        let timestamp = (wall_ms() / 1000).to_string();
        let signature =
            sign(sign_method, &cfg.app_secret, &sign_pattern(&cfg.app_key, method, &param_json, &timestamp));
        let query = crate::taobao::encode_pairs([
            ("app_key", cfg.app_key.as_str()),
            ("method", method),
            ("timestamp", timestamp.as_str()),
            ("v", API_VERSION),
            ("sign_method", sign_method.as_str()),
            ("sign", signature.as_str()),
            ("access_token", cfg.access_token.as_str()),
        ]);
        (query, param_json)
    }
}

#[cfg(test)]
mod tests;

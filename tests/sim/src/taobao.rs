//! A simulator of the Taobao Open Platform (TOP) gateway, for Wharf's end-to-end tests and
//! benchmarks.
//!
//! [`TaobaoSim`] serves `POST /router/rest` on a random loopback port, checks system
//! parameters and signatures exactly as TOP does (platforms.md), and answers the methods the
//! Taobao plugin uses (the mapping contract in context.md) from a seeded, generated shop. The
//! shop is kept as typed ground truth ([`SimTrade`], [`SimItem`], [`SimShipment`]) so tests
//! compare canonical output with it directly, and faults (throttling, session expiry, HTTP
//! errors, malformed bodies, orders changing under a pull) are knobs a test turns at run
//! time. Refunds (`taobao.refunds.receive.get`, `taobao.refund.get`, `taobao.rp.refund.review`,
//! `taobao.rp.returngoods.agree` / `.refuse`) are served from [`refunds`], none unless
//! [`SimConfig::after_sales`] or [`TaobaoSim::add_after_sale`] opens some.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use wharf_sim::taobao::{SimConfig, TaobaoSim};
//! let sim = TaobaoSim::start(SimConfig { orders: 500, seed: 7, ..SimConfig::default() }).await?;
//! let endpoint = sim.endpoint(); // http://127.0.0.1:PORT/router/rest
//! # let _ = endpoint;
//! sim.set_throttle(100, 12);
//! let truth = sim.trades();
//! # let _ = truth;
//! # Ok(()) }
//! ```

mod canonical;
mod conformance;
pub mod decrypt;
mod error;
mod form;
mod gateway;
mod generate;
mod invoices;
mod knobs;
mod methods;
mod model;
pub mod refunds;
mod render;
mod rules;
mod sign;
mod state;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use canonical::canonical_order;
pub use error::TopError;
pub use form::{Params, encode_pairs};
pub use knobs::Malform;
pub use methods::{
    FULLINFO_GET, INCREMENT_GET, ITEM_SELLER_GET, LOGISTICS_OFFLINE_SEND, METHODS, QUANTITY_UPDATE, SKU_PRICE_UPDATE,
    UPDATE_DELISTING, UPDATE_LISTING, response_root,
};
pub use model::{RefundStatus, SimInvoice, SimItem, SimOrder, SimReceiver, SimShipment, SimSku, SimTrade, TradeStatus};
pub use sign::{SignMethod, sign, sign_message};
pub use state::CARRIER_CODES;
pub use wire::{gmt8, parse_gmt8, parse_yuan, yuan};

use crate::privacy::{DecryptCall, PlainReceiver};
use crate::rng::SimRng;
use crate::shop::{AfterSale, AfterSaleAction, AfterSaleError, AfterSaleKind, Catalog, SellerAction, UploadedInvoice};
use gateway::{Shared, SimClock, lock, wall_ms};
use generate::{GenParams, generate, generate_selling, items_from_catalog, new_paid_trade};
use state::State;

/// TOP allows about ten minutes between a request's `timestamp` and its own clock
/// (platforms.md).
pub const DEFAULT_TIMESTAMP_TOLERANCE_MS: i64 = 10 * 60 * 1000;
/// Trades are modified within the last three days before "now" unless told otherwise (the
/// window an incremental sync usually looks at).
pub const DEFAULT_MODIFIED_SPAN_MS: i64 = 3 * 86_400 * 1000;
/// A cap that keeps a mistyped order count from eating the machine's memory (about 2 KB per
/// generated trade).
pub const MAX_ORDERS: usize = 2_000_000;
/// The random stream refunds are drawn from (apart from the shop's).
const AFTER_SALE_STREAM: u64 = 31;
/// How long a stopping server waits for open connections before it drops them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Worker threads of the runtime [`TaobaoSim::spawn_blocking_runtime`] owns; the CI machine
/// has two cores.
const OWN_RUNTIME_WORKERS: usize = 2;

/// How to build the simulated shop and gateway.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub app_key: String,
    pub app_secret: String,
    /// The seller session token requests must carry.
    pub session: String,
    /// Everything generated derives from it (with `now_ms` and the counts).
    pub seed: u64,
    /// Number of trades.
    pub orders: usize,
    /// Number of catalog items; `None`: `orders / 20` clamped to 20..=2000.
    pub items: Option<usize>,
    /// The simulator's "now" at start (UTC ms); `None`: the wall clock. Trades are modified in
    /// `[now − modified_span_ms, now]`, and the simulator's clock runs on from here (changes
    /// made by knobs and pushes are stamped with it). Requests' `timestamp` is always checked
    /// against the wall clock, since plugins stamp with the real time.
    pub now_ms: Option<i64>,
    pub modified_span_ms: i64,
    /// Allowed skew between a request's `timestamp` and the wall clock.
    pub timestamp_tolerance_ms: i64,
    /// Write `tid`/`oid`/`num_iid`/`sku_id` as JSON strings instead of numbers.
    pub ids_as_strings: bool,
    /// Refunds the shop holds at start, on random paid trades (drawn from a stream of their
    /// own, so the trades are generated the same whatever the count).
    pub after_sales: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            app_key: "12345678".into(),
            app_secret: "helloworld".into(),
            session: "6100sim0session0token".into(),
            seed: 20_261_111,
            orders: 100,
            items: None,
            now_ms: None,
            modified_span_ms: DEFAULT_MODIFIED_SPAN_MS,
            timestamp_tolerance_ms: DEFAULT_TIMESTAMP_TOLERANCE_MS,
            ids_as_strings: false,
            after_sales: 0,
        }
    }
}

impl SimConfig {
    fn validate(&self) -> anyhow::Result<()> {
        for (name, v) in [("app_key", &self.app_key), ("app_secret", &self.app_secret), ("session", &self.session)] {
            if v.is_empty() {
                bail!("SimConfig.{name} must not be empty");
            }
        }
        if self.orders > MAX_ORDERS {
            bail!("SimConfig.orders must be at most {MAX_ORDERS}, got {}", self.orders);
        }
        if self.items == Some(0) {
            bail!("SimConfig.items must be at least 1 (trades need items to sell)");
        }
        if self.modified_span_ms < 1000 {
            bail!("SimConfig.modified_span_ms must be at least 1000 ms, got {}", self.modified_span_ms);
        }
        if self.timestamp_tolerance_ms < 0 {
            bail!("SimConfig.timestamp_tolerance_ms must be >= 0, got {}", self.timestamp_tolerance_ms);
        }
        Ok(())
    }

    fn item_count(&self) -> usize {
        // About one product per twenty orders, within what a small-to-mid shop lists.
        self.items.unwrap_or_else(|| (self.orders / 20).clamp(20, 2000))
    }
}

enum Server {
    /// A task on the caller's runtime.
    Task(tokio::task::JoinHandle<()>),
    /// A thread owning its own runtime.
    Thread(std::thread::JoinHandle<()>),
}

/// A running TOP gateway simulator. Stops when dropped or on [`TaobaoSim::shutdown`].
pub struct TaobaoSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<Server>,
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, stop: oneshot::Receiver<()>) {
    let (stopping_tx, stopping_rx) = oneshot::channel::<()>();
    let server = axum::serve(listener, gateway::router(shared)).with_graceful_shutdown(async move {
        // A dropped sender also means stop.
        let _ = stop.await;
        let _ = stopping_tx.send(());
    });
    let deadline = async {
        let _ = stopping_rx.await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server => {
            if let Err(e) = r {
                tracing::warn!(error = %e, "taobao sim: server stopped with an error");
            }
        }
        () = deadline => tracing::debug!("taobao sim: connections still open at shutdown; dropping them"),
    }
}

async fn bind() -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr().context("reading the bound address")?;
    Ok((listener, addr))
}

fn build_shared(config: SimConfig) -> anyhow::Result<Arc<Shared>> {
    build_shared_selling(config, None)
}

fn build_shared_selling(config: SimConfig, catalog: Option<&Catalog>) -> anyhow::Result<Arc<Shared>> {
    config.validate()?;
    let now_ms = config.now_ms.unwrap_or_else(wall_ms);
    let params = GenParams {
        seed: config.seed,
        orders: config.orders,
        items: config.item_count(),
        now_ms,
        modified_span_ms: config.modified_span_ms,
    };
    let generated = match catalog {
        Some(catalog) => {
            if catalog.skus.is_empty() {
                bail!("the catalog has no SKUs to sell");
            }
            generate_selling(&params, items_from_catalog(catalog, now_ms))
        }
        None => generate(&params),
    };
    let change_rng = crate::rng::SimRng::new(config.seed).fork(3);
    let mut state = State::new(generated, change_rng);
    state.after_sale_rng = crate::rng::SimRng::new(config.seed).fork(AFTER_SALE_STREAM);
    let mut rng = state.after_sale_rng.clone();
    state.generate_refunds(&mut rng, config.after_sales, now_ms);
    state.after_sale_rng = rng;
    Ok(Arc::new(Shared::new(config, SimClock::new(now_ms), state)))
}

impl TaobaoSim {
    /// Generates the shop and serves it on the current tokio runtime.
    pub async fn start(config: SimConfig) -> anyhow::Result<Self> {
        let shared = build_shared(config)?;
        let (listener, addr) = bind().await?;
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, shared.clone(), stop_rx));
        Ok(Self { shared, addr, stop: Some(stop), server: Some(Server::Task(task)) })
    }

    /// Like [`TaobaoSim::start`], but the server runs on its own runtime in its own thread,
    /// for callers without a runtime (tests that run the `wharf` binary as a subprocess).
    pub fn spawn_blocking_runtime(config: SimConfig) -> anyhow::Result<Self> {
        Self::spawn_own_runtime(build_shared(config)?)
    }

    /// [`TaobaoSim::spawn_blocking_runtime`] from async code: started on the blocking pool, since
    /// starting waits for the server's own runtime to listen.
    pub async fn spawn_from_async(config: SimConfig) -> anyhow::Result<Self> {
        tokio::task::spawn_blocking(move || Self::spawn_blocking_runtime(config)).await?
    }

    /// Like [`TaobaoSim::spawn_blocking_runtime`], the shop selling `catalog` (shared with
    /// other simulators, so they agree on the merchant's SKU codes: one item per product, the
    /// SKUs' codes as `outer_id`) instead of a catalogue of its own; `config.items` is unused.
    pub fn spawn_with_catalog(config: SimConfig, catalog: &Catalog) -> anyhow::Result<Self> {
        Self::spawn_own_runtime(build_shared_selling(config, Some(catalog))?)
    }

    fn spawn_own_runtime(shared: Arc<Shared>) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<SocketAddr>>();
        let (stop, stop_rx) = oneshot::channel();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name("taobao-sim".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(OWN_RUNTIME_WORKERS)
                    .thread_name("taobao-sim-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::new(e).context("building the simulator's runtime")));
                        return;
                    }
                };
                rt.block_on(async move {
                    match bind().await {
                        Ok((listener, addr)) => {
                            let _ = ready_tx.send(Ok(addr));
                            serve(listener, for_thread, stop_rx).await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                rt.shutdown_timeout(SHUTDOWN_GRACE);
            })
            .context("spawning the simulator thread")?;
        let addr = ready_rx.recv().context("the simulator thread ended before it was ready")??;
        Ok(Self { shared, addr, stop: Some(stop), server: Some(Server::Thread(thread)) })
    }

    /// `http://127.0.0.1:PORT/router/rest`: the plugin's `endpoint` config value.
    pub fn endpoint(&self) -> String {
        format!("http://{}{}", self.addr, gateway::REST_PATH)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// The simulator's clock (UTC ms): the configured "now" plus the time since start.
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// Stops the server and waits (briefly) for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(Server::Task(task)) => {
                let _ = tokio::time::timeout(SHUTDOWN_GRACE * 2, task).await;
            }
            Some(Server::Thread(thread)) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            None => {}
        }
    }

    fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.shared.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.shared.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    // --- ground truth ---

    /// All trades as they are now, newest `modified` first (ties: larger tid first).
    pub fn trades(&self) -> Vec<SimTrade> {
        self.state().trades_newest_first().cloned().collect()
    }

    pub fn trade(&self, tid: u64) -> Option<SimTrade> {
        self.state().trade(tid).cloned()
    }

    /// The trades a pull of the window `[from_ms, to_ms)` should return, newest first.
    pub fn trades_modified_in(&self, from_ms: i64, to_ms: i64) -> Vec<SimTrade> {
        if to_ms <= from_ms {
            return Vec::new();
        }
        self.state().modified_between(from_ms, to_ms - 1).cloned().collect()
    }

    pub fn items(&self) -> Vec<SimItem> {
        self.state().items().to_vec()
    }

    pub fn item(&self, num_iid: u64) -> Option<SimItem> {
        self.state().item(num_iid).cloned()
    }

    /// The stock of one SKU.
    pub fn sku_stock(&self, num_iid: u64, sku_id: u64) -> Option<i64> {
        self.state().item(num_iid)?.sku(sku_id).map(|s| s.quantity)
    }

    /// The SKU whose merchant code is `outer_id`, with its item's `num_iid`.
    pub fn sku_by_outer_id(&self, outer_id: &str) -> Option<(u64, SimSku)> {
        self.state().items().iter().find_map(|i| i.sku_by_outer_id(outer_id).map(|s| (i.num_iid, s.clone())))
    }

    /// Every `taobao.logistics.offline.send` accepted, in order.
    pub fn shipments(&self) -> Vec<SimShipment> {
        self.state().shipments().to_vec()
    }

    // --- call counters ---

    /// Requests received per `method` parameter (all of them, refused ones included; a
    /// request without `method` counts under "").
    pub fn calls(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.calls).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn call_count(&self, method: &str) -> u64 {
        lock(&self.shared.calls).get(method).copied().unwrap_or(0)
    }

    pub fn total_calls(&self) -> u64 {
        lock(&self.shared.calls).values().sum()
    }

    pub fn reset_calls(&self) {
        lock(&self.shared.calls).clear();
    }

    // --- knobs ---

    /// Let `n_calls` more calls through, then refuse every call for `ban_seconds` with TOP
    /// code 7 ("This ban will last for N more seconds"); then the budget refills and the
    /// cycle repeats until [`TaobaoSim::clear_throttle`].
    pub fn set_throttle(&self, n_calls: u32, ban_seconds: u64) {
        lock(&self.shared.knobs).set_throttle(n_calls, Duration::from_secs(ban_seconds));
    }

    pub fn clear_throttle(&self) {
        lock(&self.shared.knobs).clear_throttle();
    }

    /// From now on the configured session is refused: code 27 "Invalid session", sub_code
    /// "session-expired".
    pub fn expire_session(&self) {
        lock(&self.shared.knobs).session_expired = true;
    }

    pub fn restore_session(&self) {
        lock(&self.shared.knobs).session_expired = false;
    }

    /// The next `n` requests get HTTP `status` with an HTML body (before any checks).
    pub fn fail_next(&self, n: u32, status: u16) {
        lock(&self.shared.knobs).fail_next(n, status);
    }

    /// The next `n` requests that pass the system checks get `error` instead of their result.
    pub fn error_next(&self, n: u32, error: TopError) {
        lock(&self.shared.knobs).error_next(n, error);
    }

    /// The next `n` successful responses the malformation applies to are broken (see
    /// [`Malform`]).
    pub fn malform_next(&self, n: u32, kind: Malform) {
        lock(&self.shared.knobs).malform_next(None, n, kind);
    }

    /// Like [`TaobaoSim::malform_next`], only for responses of `method`.
    pub fn malform_next_for(&self, method: &str, n: u32, kind: Malform) {
        lock(&self.shared.knobs).malform_next(Some(method), n, kind);
    }

    /// Moves `k` trades one lifecycle step (paid, shipped, finished...) with
    /// `modified = now` so a later incremental pull sees them; returns their tids. Trades
    /// already over are only picked when there are not enough open ones; they get a new
    /// `seller_memo` instead of a new status.
    pub fn change_orders(&self, k: usize) -> Vec<u64> {
        let now = self.now_ms();
        self.state_mut().change_orders(k, now)
    }

    /// A buyer pays a new trade at `now_ms` (UTC ms; whole seconds are kept): waiting for the
    /// seller to ship, sold from the shop's items. Its tid.
    pub fn add_paid_trade(&self, rng: &mut SimRng, now_ms: i64) -> u64 {
        let mut state = self.state_mut();
        let trade = new_paid_trade(rng, state.items(), state.trade_ids().collect::<Vec<_>>(), now_ms);
        let tid = trade.tid;
        state.insert_trade(trade);
        tid
    }

    /// Moves the trade modified longest ago one lifecycle step with `modified = now` (a new
    /// `seller_memo` when it is over), leaving the newest trades alone; its tid.
    pub fn change_oldest(&self) -> Option<u64> {
        let now = self.now_ms();
        self.state_mut().change_oldest(now)
    }

    // --- refunds (after-sales) ---

    /// Every refund, in the order opened (ground truth; TOP's words in [`refunds`]).
    pub fn refunds(&self) -> Vec<AfterSale> {
        self.state().refunds().to_vec()
    }

    pub fn refund(&self, refund_id: u64) -> Option<AfterSale> {
        self.state().refunds().iter().find(|a| a.id == refund_id).cloned()
    }

    /// Every refund action taken through the API (review, return goods agree/refuse), in order.
    pub fn seller_actions(&self) -> Vec<SellerAction> {
        self.state().seller_actions.clone()
    }

    /// Every invoice `alibaba.einvoice.core.inv.upload` accepted, in order (ground truth for
    /// `push-invoices`).
    pub fn invoices(&self) -> Vec<UploadedInvoice> {
        self.state().invoices.clone()
    }

    /// The buyer opens a refund of `kind` on one sub-order of trade `tid` now (the sub-order,
    /// amounts and reason from the simulator's refund stream; a trade not shipped gets a
    /// refund before shipping); its `refund_id`.
    pub fn add_after_sale(&self, tid: u64, kind: AfterSaleKind) -> Option<u64> {
        let now = self.now_ms();
        let mut state = self.state_mut();
        let mut rng = state.after_sale_rng.clone();
        let id = state.add_refund(&mut rng, tid, kind, now);
        state.after_sale_rng = rng;
        id
    }

    /// Opens a refund on a random trade now (one waiting to be shipped when `intercept`); its
    /// `refund_id`.
    pub fn open_random_after_sale(&self, intercept: bool) -> Option<u64> {
        let now = self.now_ms();
        let mut state = self.state_mut();
        let mut rng = state.after_sale_rng.clone();
        let id = state.open_random_refund(&mut rng, now, intercept);
        state.after_sale_rng = rng;
        id
    }

    /// Moves one open refund one natural step now (the buyer ships the goods back…); its id.
    pub fn advance_after_sale(&self) -> Option<u64> {
        let now = self.now_ms();
        let mut state = self.state_mut();
        let mut rng = state.after_sale_rng.clone();
        let id = state.advance_refund(&mut rng, now);
        state.after_sale_rng = rng;
        id
    }

    /// Takes `action` on refund `refund_id` now, as the buyer, TOP or the seller at the console
    /// would.
    pub fn act_on_after_sale(&self, refund_id: u64, action: &AfterSaleAction) -> Result<AfterSale, AfterSaleError> {
        let now = self.now_ms();
        self.state_mut().act_on_refund(refund_id, action, now)
    }

    // --- receiver decryption ---

    /// The receiver behind trade `tid`'s OAID, as `taobao.top.oaid.decrypt` answers it
    /// (plaintext ground truth, for checking answers and scanning for leaks).
    pub fn plaintext_receiver(&self, tid: u64) -> Option<PlainReceiver> {
        self.state().trade(tid).and_then(decrypt::plaintext)
    }

    /// Every `taobao.top.oaid.decrypt` call answered (refused ones too), in order.
    pub fn decrypt_calls(&self) -> Vec<DecryptCall> {
        self.state().decrypt_calls.clone()
    }

    // --- building requests (for tests that talk to the gateway directly) ---

    /// A complete, signed urlencoded body for `method` with `params`, stamped with the wall
    /// clock, as a correct client would send it.
    pub fn signed_body(&self, method: &str, params: &[(&str, &str)], sign_method: SignMethod) -> String {
        let cfg = &self.shared.config;
        let timestamp = gmt8(wall_ms());
        let mut all: Vec<(&str, &str)> = vec![
            ("method", method),
            ("app_key", &cfg.app_key),
            ("session", &cfg.session),
            ("timestamp", &timestamp),
            ("v", "2.0"),
            ("format", "json"),
            ("sign_method", sign_method.as_str()),
        ];
        all.extend_from_slice(params);
        let signature = sign(all.iter().copied(), &cfg.app_secret, sign_method);
        all.push(("sign", &signature));
        encode_pairs(all)
    }

    /// Runs one request through the gateway without HTTP: `(status, body)`. For unit tests
    /// and for benchmarks that want to measure the simulator itself.
    pub fn handle_raw(&self, body: &str) -> (u16, String) {
        let reply = self.shared.handle(None, body.as_bytes());
        (reply.status, reply.body)
    }
}

impl Drop for TaobaoSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // A task on the caller's runtime finishes by itself; a thread is joined so the port
        // and the runtime are gone when drop returns.
        if let Some(Server::Thread(thread)) = self.server.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;

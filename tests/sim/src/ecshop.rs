//! The ECShop simulator: the real bridge (`plugins/ecshop/bridge/wharf-bridge.php`) served by
//! `php -S` over ECShop's tables, in SQLite or in MariaDB, behind a small Rust reverse proxy.
//!
//! ECShop has no API of its own; Wharf's ECShop plugin talks to the bridge merchants install.
//! So this simulator runs that very script, not an imitation: a temporary directory gets the
//! bridge, its config and a database seeded from a [`Shop`](crate::shop::Shop) (through `php`,
//! see [`php`]). The database is SQLite made from the bridge's `schema.sql` by default
//! ([`Backend::Sqlite`]), or, with [`Backend::MariaDb`], a MariaDB server of the simulator's
//! own ([`mariadb`]) holding ECShop's MySQL tables (`schema.mysql.sql`), which the bridge
//! reaches over the server's socket as its own user with the grants its README lists. The
//! proxy in front plays the shop's
//! web front end: throttling (429 + `Retry-After`), failures (5xx) and broken bodies come from
//! it ([`Faults`]); revoked credentials are the bridge's own 401, after the simulator changes
//! the token the bridge expects.
//!
//! Needs `php` with pdo_sqlite on PATH (or `WHARF_SIM_PHP`), and for MariaDB also pdo_mysql and
//! Debian's `mariadb-server`; [`EcshopSim::start`] says how to install them when missing.
//!
//! ```no_run
//! use wharf_sim::ecshop::{EcshopConfig, EcshopSim};
//! use wharf_sim::Marketplace;
//! let sim = EcshopSim::start(EcshopConfig { orders: 50, ..EcshopConfig::default() })?;
//! let endpoint = sim.endpoint(); // http://127.0.0.1:PORT/wharf-bridge.php
//! let (from, to) = sim.window();
//! let expected = sim.expected_orders("s1", from, to);
//! # let _ = (endpoint, expected);
//! # anyhow::Ok(())
//! ```

mod cases;
pub mod inspect;
pub mod mariadb;
pub mod model;
pub mod php;
pub mod proxy;
mod rules;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::faults::{Faults, Malform};
use crate::harness::{HarnessOptions, Marketplace, PushCase, RuleCase, rfc3339};
use crate::rng::SimRng;
use crate::serve::{Clock, Served, lock, wall_ms};
use crate::shop::{Catalog, Shop, ShopParams};

use inspect::Inspector;
use mariadb::MariaDb;
use model::Model;
use php::Database;
use proxy::{Answer, Proxy};

/// The bridge, its schema and the runner, built into the simulator so it runs from anywhere.
const BRIDGE_PHP: &str = include_str!("../../../plugins/ecshop/bridge/wharf-bridge.php");
const SCHEMA_SQL: &str = include_str!("../../../plugins/ecshop/bridge/schema.sql");
const SCHEMA_MYSQL_SQL: &str = include_str!("../../../plugins/ecshop/bridge/schema.mysql.sql");
/// The bridge's README: on MariaDB, the bridge's account gets the grants it lists.
const BRIDGE_README: &str = include_str!("../../../plugins/ecshop/bridge/README.md");
const RUNNER_PHP: &str = include_str!("../fixtures/ecshop/sql-runner.php");

/// The bridge's file name under the served directory; the plugin's `endpoint` ends with it.
pub const BRIDGE_FILE: &str = "wharf-bridge.php";
const BRIDGE_CONFIG_FILE: &str = "wharf-bridge.config.php";
/// The secret the plugin sends as `X-Wharf-Token`.
pub const TOKEN_SECRET: &str = "bridge_token";
/// Orders change within the last three days unless told otherwise, like the other simulators.
pub const DEFAULT_MODIFIED_SPAN_MS: i64 = 3 * 86_400 * 1000;
/// Small enough that a conformance window spans several pages of 120 orders.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// ECShop's `order_id` is mediumint(8): numbers start low.
const FIRST_ORDER_NO: u64 = 1_000;
/// The bridge's reads (the proxy counts every other action as a write).
const READS: &[&str] = &["ping", "orders", "order", "back_orders", "back_order"];
/// The bridge's writes that answer with the order they changed (`{"order": {...}}`).
const ORDER_WRITES: &[&str] = &["ship", "shipment", "erp_status"];
/// What ERP statuses do in this shop (the plugin's `erp_status.<code>` config): `signed`
/// completes the order; the others only add a tracking line.
pub const ERP_STATUS_CONFIG: &[(&str, &str)] = &[("erp_status.signed", "move:completed")];
/// The key [`Marketplace::malform_next_order`] breaks: every order carries it.
const MALFORMED_KEY: &str = "goods_amount";

/// The database under the bridge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file from the bridge's `schema.sql` (needs only php-sqlite3).
    #[default]
    Sqlite,
    /// A MariaDB server of the simulator's own with ECShop's MySQL tables
    /// (`schema.mysql.sql`), as a real shop has them.
    MariaDb,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::MariaDb => "mariadb",
        }
    }
}

/// The MariaDB database the simulator makes, and the bridge's account in it.
const MARIADB_DATABASE: &str = "ecshop";
const MARIADB_BRIDGE_USER: &str = "wharf";

/// How to build the simulated shop.
#[derive(Clone, Debug)]
pub struct EcshopConfig {
    pub seed: u64,
    pub orders: usize,
    /// The shop's "now" (UTC ms); `None`: the wall clock. Keep it near the wall clock: the
    /// bridge stamps shipments with PHP's `time()`.
    pub now_ms: Option<i64>,
    /// Orders change in `[now − span, now]`.
    pub modified_span_ms: i64,
    /// The `page_size` [`Marketplace::config`] hands the plugin.
    pub page_size: u32,
    /// The database under the bridge.
    pub backend: Backend,
}

impl Default for EcshopConfig {
    fn default() -> Self {
        Self {
            seed: 20_261_124,
            orders: 100,
            now_ms: None,
            modified_span_ms: DEFAULT_MODIFIED_SPAN_MS,
            page_size: DEFAULT_PAGE_SIZE,
            backend: Backend::default(),
        }
    }
}

impl From<&HarnessOptions> for EcshopConfig {
    fn from(options: &HarnessOptions) -> Self {
        Self { seed: options.seed, orders: options.orders, ..Self::default() }
    }
}

/// A temporary directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> anyhow::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name =
            format!("wharf-ecshop-sim-{}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), wall_ms());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(path.join("www")).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the bridge logs in to its database (its config's `dsn`, `user`, `password`).
#[derive(Clone, Debug)]
struct BridgeLogin {
    dsn: String,
    user: Option<String>,
    password: Option<String>,
}

/// What the simulator's handle and its proxy share.
struct Shared {
    model: Mutex<Model>,
    faults: Arc<Mutex<Faults>>,
    db: Database,
    bridge_login: BridgeLogin,
    config_file: PathBuf,
    token: String,
    clock: Clock,
    /// The oldest change time the shop started with (UTC ms).
    first_change_ms: i64,
    page_size: u32,
    /// Successful bridge writes per action (`stock`, `ship`…).
    writes: Mutex<BTreeMap<String, u64>>,
    /// `ecs_order_info.order_id`s of the raw orders written ([`Marketplace::serve_raw`]).
    raw_ids: Mutex<Vec<i64>>,
}

impl Shared {
    /// Writes the bridge's config with `token` (atomically: the bridge reads it on every
    /// request).
    fn write_bridge_config(&self, token: &str) -> anyhow::Result<()> {
        let php_string = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        let php_value = |s: &Option<String>| s.as_deref().map_or_else(|| "null".to_owned(), php_string);
        let login = &self.bridge_login;
        let text = format!(
            "<?php\n// Written by wharf-sim's ECShop simulator.\nreturn array(\n    'token' => {},\n    'dsn' => {},\n    'user' => {},\n    'password' => {},\n    'prefix' => 'ecs_',\n);\n",
            php_string(token),
            php_string(&login.dsn),
            php_value(&login.user),
            php_value(&login.password),
        );
        let temporary = self.config_file.with_extension("php.tmp");
        std::fs::write(&temporary, text).with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, &self.config_file)
            .with_context(|| format!("replacing {}", self.config_file.display()))
    }
}

/// A running ECShop simulator; stops PHP (and MariaDB) and removes its files when dropped.
pub struct EcshopSim {
    // Dropped in this order: the proxy, then PHP, then MariaDB, then the files.
    proxy: Served,
    server: php::Server,
    shared: Arc<Shared>,
    mariadb: Option<MariaDb>,
    backend: Backend,
    dir: Scratch,
}

impl EcshopSim {
    /// Generates the shop, writes the database, starts `php -S` and the proxy.
    pub fn start(config: EcshopConfig) -> anyhow::Result<Self> {
        Self::start_selling(config, None)
    }

    /// Like [`EcshopSim::start`], the shop selling `catalog` (shared with other simulators, so
    /// they agree on the merchant's SKU codes) instead of a catalogue of its own.
    pub fn start_with_catalog(config: EcshopConfig, catalog: &Catalog) -> anyhow::Result<Self> {
        anyhow::ensure!(!catalog.skus.is_empty(), "the catalog has no SKUs to sell");
        Self::start_selling(config, Some(catalog))
    }

    fn start_selling(config: EcshopConfig, catalog: Option<&Catalog>) -> anyhow::Result<Self> {
        php::check_installed()?;
        anyhow::ensure!(
            config.modified_span_ms >= 1000,
            "EcshopConfig.modified_span_ms must be at least 1000, got {}",
            config.modified_span_ms
        );
        anyhow::ensure!(
            (1..=100).contains(&config.page_size),
            "EcshopConfig.page_size must be in 1..=100 (the bridge's bounds), got {}",
            config.page_size
        );
        let now_ms = config.now_ms.unwrap_or_else(wall_ms);
        // Running from here: the shop's clock keeps pace with PHP's time() while the database
        // starts (seconds, for MariaDB).
        let clock = Clock::new(now_ms);
        let params = ShopParams {
            seed: config.seed,
            orders: config.orders,
            now_ms,
            modified_span_ms: config.modified_span_ms,
            first_order_no: FIRST_ORDER_NO,
        };
        let shop = match catalog {
            Some(catalog) => Shop::generate_with_catalog(&params, catalog),
            None => Shop::generate(&params),
        };
        let first_change_ms = shop.orders.iter().map(|o| o.updated_ms).min().unwrap_or(now_ms);
        let model = Model::new(shop);

        let dir = Scratch::create()?;
        let www = dir.0.join("www");
        let runner = dir.0.join("sql-runner.php");
        std::fs::write(www.join(BRIDGE_FILE), BRIDGE_PHP).context("writing the bridge")?;
        std::fs::write(&runner, RUNNER_PHP).context("writing the SQL runner")?;
        let mut rng = SimRng::new(config.seed).fork(23);
        let token = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        let (db, bridge_login, mariadb) = match config.backend {
            Backend::Sqlite => {
                let db = Database::sqlite(runner, dir.0.join("ecshop.db"));
                db.run(Some(SCHEMA_SQL), &model.seed_statements()).context("seeding the ECShop database")?;
                let login = BridgeLogin { dsn: db.dsn().to_owned(), user: None, password: None };
                (db, login, None)
            }
            Backend::MariaDb => {
                let password = format!("{:016x}", rng.next_u64());
                let (db, login, server) = start_mariadb(runner, &model, &password)?;
                (db, login, Some(server))
            }
        };

        let shared = Arc::new(Shared {
            model: Mutex::new(model),
            faults: Arc::new(Mutex::new(Faults::default())),
            db,
            bridge_login,
            config_file: www.join(BRIDGE_CONFIG_FILE),
            token,
            clock,
            first_change_ms,
            page_size: config.page_size,
            writes: Mutex::new(BTreeMap::new()),
            raw_ids: Mutex::new(Vec::new()),
        });
        shared.write_bridge_config(&shared.token)?;
        let server = php::Server::start(&www, &dir.0.join("php.log"))?;

        let observer = Arc::clone(&shared);
        let proxy = Arc::new(Proxy {
            upstream: server.addr(),
            faults: Arc::clone(&shared.faults),
            observe: Box::new(move |action, body| {
                if !READS.contains(&action) {
                    *lock(&observer.writes).entry(action.to_owned()).or_default() += 1;
                }
                if ORDER_WRITES.contains(&action)
                    && let Some(order) = body.get("order")
                {
                    lock(&observer.model).apply_order(order);
                }
            }),
        });
        let proxy = Served::spawn("ecshop-sim", proxy::router(proxy))?;
        Ok(Self { proxy, server, shared, mariadb, backend: config.backend, dir })
    }

    /// The simulator a conformance run uses: [`HarnessOptions`]' orders and seed, the
    /// defaults otherwise.
    pub fn for_conformance(options: &HarnessOptions) -> anyhow::Result<Self> {
        Self::start(EcshopConfig::from(options))
    }

    /// `http://127.0.0.1:PORT/wharf-bridge.php`: the plugin's `endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/{BRIDGE_FILE}", self.proxy.addr())
    }

    /// The proxy, where the plugin connects.
    pub fn addr(&self) -> SocketAddr {
        self.proxy.addr()
    }

    /// `php -S` itself, behind the proxy (no faults there).
    pub fn bridge_addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The token the bridge expects (the plugin's `bridge_token` secret).
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The directory holding the served bridge, its config, the database and `php.log`.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// The shop's database, to read back what pushes wrote.
    pub fn database(&self) -> &Database {
        &self.shared.db
    }

    /// The database under the bridge.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The MariaDB server under the bridge ([`Backend::MariaDb`]).
    pub fn mariadb(&self) -> Option<&MariaDb> {
        self.mariadb.as_ref()
    }

    /// Reads back what pushes wrote: lots, goods, delivery orders, order actions, customers.
    pub fn inspector(&self) -> Inspector {
        Inspector::new(self.shared.db.clone())
    }

    /// The shop as the simulator holds it now (the orders' stages, times and shipments follow
    /// changes and shipments).
    pub fn shop(&self) -> Shop {
        lock(&self.shared.model).shop.clone()
    }

    /// The shop laid out in ECShop's terms (goods, products, status codes).
    pub fn model(&self) -> Model {
        lock(&self.shared.model).clone()
    }

    /// The fault knobs of the proxy (HTTP failures, throttling, malformed bodies).
    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        lock(&self.shared.faults)
    }

    /// Breaks the next `n` successful bodies `kind` applies to.
    pub fn malform_next(&self, n: u32, kind: Malform) {
        self.faults().malform_next(n, kind);
    }

    /// The next `n` requests get HTTP `status` from the proxy.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.faults().fail_next(n, status);
    }

    /// Successful bridge writes per action (`stock`, `ship`, `shipment`…), as the proxy saw
    /// them pass.
    pub fn writes(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.writes).clone()
    }

    /// A buyer pays a new order at `now_ms` (UTC ms; whole seconds are kept), written to the
    /// database as ECShop's checkout does; its `order_sn`.
    pub fn add_paid_order(&self, rng: &mut SimRng, now_ms: i64) -> anyhow::Result<String> {
        let mut model = lock(&self.shared.model);
        let (i, statements) = model.add_paid_order(rng, now_ms);
        self.shared.db.run(None, &statements).context("writing a new order")?;
        Ok(model.states[i].order_sn.clone())
    }

    /// The shop's back orders as the after-sales Wharf must read from them (ground truth, like
    /// the other simulators' `after_sales()`): see [`Model::after_sales`]. Ids are `back_id`s.
    pub fn after_sales(&self) -> Vec<crate::shop::AfterSale> {
        lock(&self.shared.model).after_sales()
    }

    /// ECShop's admin marks a shipped or completed order returned now ([`Model::return_one`]):
    /// the order becomes returned and a back order is written; its `back_id`, or `None` when
    /// no order has shipped.
    pub fn return_order(&self) -> anyhow::Result<Option<u64>> {
        let mut model = lock(&self.shared.model);
        let Some((i, statements)) = model.return_one(self.now_ms()) else {
            return Ok(None);
        };
        self.shared.db.run(None, &statements).context("writing a return")?;
        Ok(model.backs.iter().find(|b| b.order == i).map(|b| b.back_id))
    }

    /// One request through the proxy with the right token, as the plugin sends it:
    /// `query` like `action=orders&since=1&until=2`, `body` a JSON object for writes.
    pub fn request(&self, query: &str, body: Option<&Value>) -> anyhow::Result<Answer> {
        let mut headers = vec![("X-Wharf-Token".to_owned(), self.shared.token.clone())];
        let target = format!("/{BRIDGE_FILE}?{query}");
        match body {
            None => proxy::send(self.addr(), "GET", &target, &headers, &[]),
            Some(body) => {
                headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
                proxy::send(self.addr(), "POST", &target, &headers, body.to_string().as_bytes())
            }
        }
    }
}

impl Marketplace for EcshopSim {
    fn platform(&self) -> &str {
        model::PLATFORM
    }

    fn config(&self) -> BTreeMap<String, String> {
        let mut config = BTreeMap::from([
            ("endpoint".to_owned(), self.endpoint()),
            ("page_size".to_owned(), self.shared.page_size.to_string()),
        ]);
        config.extend(ERP_STATUS_CONFIG.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        config
    }

    fn secrets(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(TOKEN_SECRET.to_owned(), self.shared.token.clone())])
    }

    fn grant(&self) -> String {
        self.addr().to_string()
    }

    fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    fn window(&self) -> (i64, i64) {
        // Whole seconds around every change time, now included (changes are stamped now).
        (self.shared.first_change_ms / 1000 * 1000 - 1000, (self.now_ms() / 1000 + 2) * 1000)
    }

    fn expected_orders(&self, shop_id: &str, from: i64, to: i64) -> Vec<Value> {
        let model = lock(&self.shared.model);
        model.changed_in(from, to).into_iter().map(|i| model.expected(i, shop_id)).collect()
    }

    fn change_order(&self) -> String {
        let mut model = lock(&self.shared.model);
        let Some((i, statements)) = model.change_one(self.now_ms()) else {
            return String::new();
        };
        if let Err(e) = self.shared.db.run(None, &statements) {
            // The trait cannot fail; a test comparing orders will show the difference.
            tracing::error!(error = %format!("{e:#}"), "ecshop sim: writing a changed order failed");
        }
        model.states[i].order_sn.clone()
    }

    fn has_big_ids(&self) -> bool {
        false
    }

    fn throttle(&self, calls: u32, ban_secs: u64) {
        self.faults().throttle(calls, ban_secs);
    }

    fn revoke_credentials(&self) {
        // The bridge's own 401: it now expects another token.
        let revoked = format!("{}-revoked", self.shared.token);
        if let Err(e) = self.shared.write_bridge_config(&revoked) {
            tracing::error!(error = %format!("{e:#}"), "ecshop sim: revoking the token failed");
        }
    }

    fn malform_next_order(&self) -> String {
        self.malform_next(u32::MAX, Malform::field(MALFORMED_KEY, "\"abc\""));
        MALFORMED_KEY.to_owned()
    }

    fn clear_faults(&self) {
        self.faults().clear();
        if let Err(e) = self.shared.write_bridge_config(&self.shared.token) {
            tracing::error!(error = %format!("{e:#}"), "ecshop sim: restoring the token failed");
        }
    }

    fn rule_cases(&self) -> Vec<RuleCase> {
        rules::cases(self.now_ms())
    }

    /// An ECShop order is rows of its tables: each document is `{"order_info": {column:
    /// value…}, "order_goods": [{…}…], "order_action": [{…}…]}` (ECShop's table names without
    /// the `ecs_` prefix), written into the database the bridge reads.
    fn serve_raw(&self, docs: &[Value]) -> Result<(), String> {
        let mut statements = Vec::new();
        let mut ids = Vec::new();
        for doc in docs {
            let info =
                doc.get("order_info").ok_or_else(|| format!("a raw ECShop order needs `order_info`, got {doc}"))?;
            ids.push(
                info.get("order_id")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| format!("order_info needs a numeric order_id: {info}"))?,
            );
            statements.push(rules::insert("ecs_order_info", info)?);
            for (key, table) in [("order_goods", "ecs_order_goods"), ("order_action", "ecs_order_action")] {
                for row in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
                    statements.push(rules::insert(table, row)?);
                }
            }
        }
        self.shared.db.run(None, &statements).map_err(|e| format!("writing the raw orders: {e:#}"))?;
        lock(&self.shared.raw_ids).extend(ids);
        Ok(())
    }

    fn clear_raw(&self) {
        let ids = std::mem::take(&mut *lock(&self.shared.raw_ids));
        if ids.is_empty() {
            return;
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let params: Vec<Value> = ids.iter().map(|&id| json!(id)).collect();
        let statements: Vec<_> = ["ecs_order_goods", "ecs_order_action", "ecs_order_info"]
            .into_iter()
            .map(|table| {
                php::Statement::once(format!("DELETE FROM {table} WHERE order_id IN ({marks})"), params.clone())
            })
            .collect();
        if let Err(e) = self.shared.db.run(None, &statements) {
            tracing::error!(error = %format!("{e:#}"), "ecshop sim: removing the raw orders failed");
        }
    }

    fn push_cases(&self) -> Vec<PushCase> {
        let model = lock(&self.shared.model);
        let mut cases = push_cases(&model, &self.shared.db, self.now_ms());
        cases.extend(cases::cases(&model, &self.inspector(), self.now_ms()));
        cases
    }
}

/// Starts MariaDB with ECShop's MySQL tables seeded from `model`, and the bridge's own account
/// (`wharf`, `password`) with the grants the bridge's README gives it. The runner works as
/// `root` over TCP; the bridge comes over the socket, as from a shop's own machine.
fn start_mariadb(runner: PathBuf, model: &Model, password: &str) -> anyhow::Result<(Database, BridgeLogin, MariaDb)> {
    php::check_extension("pdo_mysql", mariadb::INSTALL_HINT)?;
    let server = MariaDb::start().context("starting MariaDB for the ECShop simulator")?;
    let admin = Database::mysql(runner.clone(), server.tcp_dsn(""), mariadb::ROOT_USER, "");
    admin
        .run(Some(&format!("CREATE DATABASE {MARIADB_DATABASE} DEFAULT CHARACTER SET utf8;")), &[])
        .context("creating the ECShop database")?;
    let db = Database::mysql(runner, server.tcp_dsn(MARIADB_DATABASE), mariadb::ROOT_USER, "");
    db.run(Some(SCHEMA_MYSQL_SQL), &model.seed_statements()).context("seeding the ECShop database")?;
    let mut account = format!("CREATE USER '{MARIADB_BRIDGE_USER}'@'localhost' IDENTIFIED BY '{password}';\n");
    for grant in readme_grants(BRIDGE_README) {
        account.push_str(&grant.replace("ecshop.", &format!("{MARIADB_DATABASE}.")));
        account.push('\n');
    }
    db.run(Some(&account), &[]).context("creating the bridge's account with the README's grants")?;
    let login = BridgeLogin {
        dsn: server.socket_dsn(MARIADB_DATABASE),
        user: Some(MARIADB_BRIDGE_USER.to_owned()),
        password: Some(password.to_owned()),
    };
    Ok((db, login, server))
}

/// The `GRANT … TO 'wharf'@'localhost';` statements of the README's "Least privilege" block.
fn readme_grants(readme: &str) -> Vec<String> {
    let mut grants = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines().map(str::trim) {
        if line.starts_with("GRANT ") {
            current = Some(String::new());
        }
        if let Some(grant) = current.as_mut() {
            grant.push_str(line);
            grant.push(' ');
            if line.ends_with(';') {
                grants.push(grant.trim().to_owned());
                current = None;
            }
        }
    }
    grants
}

/// One case per push the bridge supports, each checked by reading the database back.
fn push_cases(model: &Model, db: &Database, now_ms: i64) -> Vec<PushCase> {
    let mut cases = Vec::new();
    let skus = &model.shop.skus;
    let single: Vec<usize> = (0..skus.len()).filter(|&s| model.places[s].product_id.is_none()).collect();
    let with_product: Vec<usize> = (0..skus.len()).filter(|&s| model.places[s].product_id.is_some()).collect();
    let (Some(&goods_sku), Some(&product_sku)) = (single.first(), with_product.first()) else {
        return cases;
    };

    // Stock: a goods without products, and a product (whose goods then holds the sum).
    let goods_stock = skus[goods_sku].stock + 11;
    let product_stock = skus[product_sku].stock + 13;
    let goods_sn = skus[goods_sku].outer_sku_id.clone();
    let product_sn = skus[product_sku].outer_sku_id.clone();
    let parent_goods = model.places[product_sku].goods_id;
    let check_db = db.clone();
    cases.push(PushCase {
        operation: "push-stock".into(),
        input: json!([
            {"outer_sku_id": goods_sn, "quantity": goods_stock, "version": 1},
            {"outer_sku_id": product_sn, "sku_id": model.places[product_sku].product_id.map(|p| p.to_string()), "quantity": product_stock, "version": 1},
        ]),
        check: Box::new(move || {
            expect_int(&check_db, "SELECT goods_number FROM ecs_goods WHERE goods_sn = ?", vec![json!(goods_sn)], goods_stock)?;
            expect_int(&check_db, "SELECT product_number FROM ecs_products WHERE product_sn = ?", vec![json!(product_sn)], product_stock)?;
            let sum = scalar(&check_db, "SELECT SUM(product_number) FROM ecs_products WHERE goods_id = ?", vec![json!(parent_goods)])?;
            expect_int(&check_db, "SELECT goods_number FROM ecs_goods WHERE goods_id = ?", vec![json!(parent_goods)], sum)
        }),
    });

    // Price: a goods' shop_price.
    let price = skus[goods_sku].price + 101;
    let price_sn = skus[goods_sku].outer_sku_id.clone();
    let check_db = db.clone();
    cases.push(PushCase {
        operation: "push-prices".into(),
        input: json!([{"outer_sku_id": price_sn, "currency": "CNY", "prices": [{"kind": "default", "amount": price}]}]),
        check: Box::new(move || {
            expect_int(
                &check_db,
                "SELECT CAST(ROUND(shop_price * 100) AS INTEGER) FROM ecs_goods WHERE goods_sn = ?",
                vec![json!(price_sn)],
                price,
            )
        }),
    });

    // Listing: off sale by code, and by goods id.
    let listing_sn = skus[*single.last().unwrap_or(&goods_sku)].outer_sku_id.clone();
    let check_db = db.clone();
    cases.push(PushCase {
        operation: "push-listing".into(),
        input: json!([
            {"outer_sku_id": listing_sn, "listed": false},
            {"product_id": parent_goods.to_string(), "listed": false},
        ]),
        check: Box::new(move || {
            expect_int(&check_db, "SELECT is_on_sale FROM ecs_goods WHERE goods_sn = ?", vec![json!(listing_sn)], 0)?;
            expect_int(&check_db, "SELECT is_on_sale FROM ecs_goods WHERE goods_id = ?", vec![json!(parent_goods)], 0)
        }),
    });

    // Logistics: a paid order, not yet shipped.
    let paid = model.by_stage().get("paid").and_then(|v| v.first().copied());
    if let Some(i) = paid {
        let order_sn = model.states[i].order_sn.clone();
        let tracking_no = format!("SF{:011}", model.shop.orders[i].order_no);
        let carrier = "顺丰速运".to_owned();
        let check_db = db.clone();
        cases.push(PushCase {
            operation: "push-logistics".into(),
            input: json!([{"order_id": order_sn, "carrier_code": carrier, "tracking_no": tracking_no, "shipped_at": rfc3339(now_ms / 1000 * 1000)}]),
            check: Box::new(move || {
                let rows = check_db
                    .query("SELECT shipping_status, invoice_no, shipping_name FROM ecs_order_info WHERE order_sn = ?", vec![json!(order_sn)])
                    .map_err(|e| format!("{e:#}"))?;
                let row = rows.first().ok_or_else(|| format!("order {order_sn} is gone"))?;
                let got = (row["shipping_status"].as_i64(), row["invoice_no"].as_str(), row["shipping_name"].as_str());
                if got != (Some(1), Some(tracking_no.as_str()), Some(carrier.as_str())) {
                    return Err(format!("order {order_sn}: expected shipped with {tracking_no} by {carrier}, got {row:?}"));
                }
                let logged = scalar(&check_db, "SELECT COUNT(*) FROM ecs_order_action a JOIN ecs_order_info o ON o.order_id = a.order_id WHERE o.order_sn = ? AND a.action_user = 'wharf'", vec![json!(order_sn)])?;
                if logged == 0 {
                    return Err(format!("order {order_sn}: no ecs_order_action row by wharf"));
                }
                Ok(())
            }),
        });
    }
    cases
}

fn scalar(db: &Database, sql: &str, params: Vec<Value>) -> Result<i64, String> {
    db.scalar(sql, params).map_err(|e| format!("{e:#}"))
}

fn expect_int(db: &Database, sql: &str, params: Vec<Value>, expected: i64) -> Result<(), String> {
    let got = scalar(db, sql, params.clone())?;
    if got == expected { Ok(()) } else { Err(format!("{sql} {params:?}: expected {expected}, got {got}")) }
}

#[cfg(test)]
mod tests;

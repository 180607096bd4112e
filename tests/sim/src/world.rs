//! A live simulated world: every marketplace simulator and the SAP simulator on loopback,
//! selling one shared catalogue, with traffic running through them, for `wharf sandbox` and
//! end-to-end tests.
//!
//! [`World::start`] generates one [`Catalog`] and hands it to each marketplace simulator and
//! (as its material master) to the SAP simulator, so every marketplace SKU's `outer_sku_id`
//! is a material in SAP: an order pushed to SAP is accepted, and SAP stock maps back to
//! marketplace SKUs. Every simulator runs on the wall clock, so an engine pulling by
//! `updated_at` windows up to "now" sees what the traffic makes.
//!
//! [`World::start_traffic`] runs, every [`TICK`], deterministically from the seed:
//! - new paid orders in each marketplace at [`WorldOptions::orders_per_second`], stamped now;
//! - status changes of the orders modified longest ago, at
//!   [`WorldOptions::changes_per_second`] (new orders stay paid until the engine ships them);
//! - a warehouse behind SAP: every sales order pushed by a client (one with a purchase order
//!   number) that is older than [`WorldOptions::ship_after_ms`] and has no delivery gets an
//!   outbound delivery for all of it, goods issue posted, with a carrier (one of
//!   [`ERP_CARRIERS`]) and tracking number, and its stock is taken out; so logistics flow back;
//! - stock changes of random materials at [`WorldOptions::stock_changes_per_second`];
//! - after-sales at [`WorldOptions::after_sales_per_second`] in each marketplace but ECShop:
//!   new ones on random orders (every third on a paid order not yet shipped: a refund before
//!   shipping, which the warehouse must intercept), and as many steps of open ones (the seller
//!   agrees at the console, the buyer ships the return back, the refund is paid…).
//!
//! ```no_run
//! use wharf_sim::world::{World, WorldOptions};
//! let world = World::start(WorldOptions { platforms: vec!["jd".into(), "douyin".into()], ..WorldOptions::default() })?;
//! let shops = world.shops(); // plugin, config, secrets, hosts per marketplace
//! let traffic = world.start_traffic();
//! std::thread::sleep(std::time::Duration::from_secs(5));
//! println!("{:?}", world.stats());
//! traffic.stop();
//! # let _ = shops;
//! # anyhow::Ok(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use serde::Serialize;

use crate::douyin::{DouyinConfig, DouyinSim};
use crate::ecshop::{EcshopConfig, EcshopSim};
use crate::harness::Marketplace;
use crate::jd::{JdConfig, JdSim};
use crate::rng::SimRng;
use crate::sap::{FREIGHT_MATERIAL, SapConfig, SapSim, ShipLine, StockRow};
use crate::serve::{lock, wall_ms};
use crate::shop::Catalog;
use crate::taobao::{SimConfig, TaobaoSim};

/// The marketplaces a world can run, in the order it starts and drives them.
pub const PLATFORMS: &[&str] = &["taobao", "jd", "douyin", "ecshop"];
/// How often the traffic acts.
pub const TICK: Duration = Duration::from_millis(200);
/// The ERP carrier codes (SAP `MeansOfTransport`) the warehouse ships with, and each
/// marketplace's code for them: Taobao's `company_code` ([`crate::taobao::CARRIER_CODES`]),
/// JD's `logiCoprId` ([`crate::jd::render::CARRIERS`]), 抖店's `company`
/// ([`crate::douyin::CARRIERS`]), and ECShop's carrier name (ECShop has no codes). `SF` is
/// also what the SAP simulator's seeded deliveries use.
pub const ERP_CARRIERS: &[(&str, [(&str, &str); 4])] = &[
    ("SF", [("taobao", "SF"), ("jd", "467"), ("douyin", "shunfeng"), ("ecshop", "顺丰速运")]),
    ("ZTO", [("taobao", "ZTO"), ("jd", "1499"), ("douyin", "zhongtong"), ("ecshop", "中通快递")]),
    ("YTO", [("taobao", "YTO"), ("jd", "463"), ("douyin", "yuantong"), ("ecshop", "圆通快递")]),
    ("STO", [("taobao", "STO"), ("jd", "470"), ("douyin", "shentong"), ("ecshop", "申通快递")]),
    ("YUNDA", [("taobao", "YUNDA"), ("jd", "1327"), ("douyin", "yunda"), ("ecshop", "韵达快递")]),
];
/// The page size each marketplace plugin gets: the plugins' own default (their ranges are
/// 1..=100), rather than the conformance configs' small pages.
pub const MARKETPLACE_PAGE_SIZE: u32 = 50;
/// The SAP plugin's page size: its own default (`DEFAULT_PAGE_SIZE` in plugins/sap).
pub const ERP_PAGE_SIZE: u32 = 100;
/// The sales organisation the SAP plugin is configured for ([`SapSim::plugin_config`]); the
/// warehouse ships only its orders.
const ERP_SALES_ORG: &str = "1000";
/// Where the warehouse takes stock from and where stock changes land when a material has no
/// stock row yet (the SAP simulator's first plant and storage location).
const WAREHOUSE_PLANT: &str = "1000";
const WAREHOUSE_STORAGE_LOCATION: &str = "0001";
/// A stock change sets a quantity in whole units up to this (the SAP seed's own range).
const MAX_STOCK_UNITS: i64 = 300;
/// Sales orders SAP's quantities are in thousandths of the unit.
const MILLI: i64 = 1000;

/// How to build a world.
#[derive(Clone, Debug)]
pub struct WorldOptions {
    /// A subset of [`PLATFORMS`]; `ecshop` is skipped (see [`World::skipped`]) when `php` is
    /// missing.
    pub platforms: Vec<String>,
    /// New paid orders per second, in each marketplace.
    pub orders_per_second: f64,
    /// Everything generated and every traffic decision derives from it.
    pub seed: u64,
    /// Orders each marketplace holds at start (modified over the last three days).
    pub orders: usize,
    /// Products in the shared catalogue (two or three SKUs each).
    pub products: usize,
    /// Status changes per second, in each marketplace.
    pub changes_per_second: f64,
    /// Materials whose SAP stock changes per second.
    pub stock_changes_per_second: f64,
    /// The warehouse ships a sales order once it is this old (ms).
    pub ship_after_ms: i64,
    /// After-sales opened per second in each marketplace (ECShop excepted), and as many steps
    /// of open ones; 0 (the default) opens none.
    pub after_sales_per_second: f64,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            platforms: PLATFORMS.iter().map(|p| (*p).to_owned()).collect(),
            orders_per_second: 0.5,
            seed: 20_261_201,
            orders: 40,
            products: 6,
            changes_per_second: 0.2,
            stock_changes_per_second: 1.0,
            ship_after_ms: 2_000,
            after_sales_per_second: 0.0,
        }
    }
}

impl WorldOptions {
    fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            !self.platforms.is_empty(),
            "WorldOptions.platforms must name at least one of {}",
            PLATFORMS.join(", ")
        );
        let mut seen = BTreeSet::new();
        for p in &self.platforms {
            ensure!(
                PLATFORMS.contains(&p.as_str()),
                "WorldOptions.platforms: no simulator for {p:?}; expected some of {}",
                PLATFORMS.join(", ")
            );
            ensure!(seen.insert(p.as_str()), "WorldOptions.platforms names {p:?} twice");
        }
        for (name, rate) in [
            ("orders_per_second", self.orders_per_second),
            ("changes_per_second", self.changes_per_second),
            ("stock_changes_per_second", self.stock_changes_per_second),
            ("after_sales_per_second", self.after_sales_per_second),
        ] {
            ensure!(rate.is_finite() && rate >= 0.0, "WorldOptions.{name} must be a finite number >= 0, got {rate}");
        }
        ensure!(self.products >= 1, "WorldOptions.products must be at least 1");
        ensure!(self.ship_after_ms >= 0, "WorldOptions.ship_after_ms must be >= 0, got {}", self.ship_after_ms);
        Ok(())
    }
}

/// One marketplace shop of the demo tenant: what to install and configure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorldShop {
    pub platform: String,
    /// The plugin to run (named after the platform).
    pub plugin: String,
    /// A shop id for the tenant (`<platform>-demo`).
    pub shop_id: String,
    /// The plugin's config: endpoint, app key, page size…
    pub config: BTreeMap<String, String>,
    /// Secret name → value, as the host holds them.
    pub secrets: BTreeMap<String, String>,
    /// `host:port`s to grant the plugin.
    pub hosts: Vec<String>,
}

/// A Wharf configuration file and its secrets file, as text.
#[derive(Clone, Debug)]
pub struct WharfConfig {
    pub toml: String,
    pub secrets: String,
}

/// The tenant's ERP: the SAP simulator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorldErp {
    /// `sap`.
    pub plugin: String,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub hosts: Vec<String>,
}

/// What happened in one marketplace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlatformStats {
    /// New orders the traffic made.
    pub orders_created: u64,
    /// Orders the traffic changed.
    pub orders_changed: u64,
    /// Stock writes the marketplace received (calls of its stock method; ECShop: successful
    /// bridge writes).
    pub stock_writes: u64,
    /// Shipments (logistics uploads) the marketplace accepted.
    pub shipments: u64,
    /// After-sales the traffic opened (intercepts included).
    pub after_sales_opened: u64,
    /// Of those, refunds before shipping on paid orders not yet shipped.
    pub intercepts_opened: u64,
    /// Steps the traffic took on open after-sales.
    pub after_sales_advanced: u64,
}

/// What happened in SAP.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SapStats {
    /// Sales orders created by clients (beyond the seeded ones).
    pub sales_orders: u64,
    /// Outbound deliveries the warehouse made.
    pub deliveries: u64,
    /// Stock rows the traffic changed (deliveries' stock taken out not counted).
    pub stock_changes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorldStats {
    /// By platform, the running ones only.
    pub platforms: BTreeMap<String, PlatformStats>,
    pub sap: SapStats,
}

/// Everything the world and its traffic share.
struct Inner {
    options: WorldOptions,
    catalog: Catalog,
    taobao: Option<TaobaoSim>,
    jd: Option<JdSim>,
    douyin: Option<DouyinSim>,
    ecshop: Option<EcshopSim>,
    sap: SapSim,
    skipped: Vec<(String, String)>,
    seeded_sales_orders: usize,
    /// Platform → (orders created, orders changed) by the traffic.
    counts: Mutex<BTreeMap<String, (u64, u64)>>,
    /// Platform → (after-sales opened, intercepts opened, after-sale steps) by the traffic.
    after_sale_counts: Mutex<BTreeMap<String, (u64, u64, u64)>>,
    deliveries: AtomicU64,
    stock_changes: AtomicU64,
}

/// The running simulators; they stop when the world (and any [`Traffic`]) is dropped.
pub struct World {
    inner: Arc<Inner>,
}

/// A per-purpose seed derived from the world's.
fn seed_for(seed: u64, stream: u64) -> u64 {
    SimRng::new(seed).fork(stream).next_u64()
}

impl World {
    /// Generates the catalogue and starts the SAP simulator and each marketplace simulator
    /// named in `options` (each serving on `127.0.0.1:<ephemeral port>` on its own thread).
    pub fn start(options: WorldOptions) -> anyhow::Result<World> {
        options.validate()?;
        let seed = options.seed;
        let catalog = Catalog::generate(seed_for(seed, 1), options.products);
        let sap = SapSim::spawn(SapConfig {
            seed: seed_for(seed, 2),
            materials: catalog.outer_sku_ids(),
            ..SapConfig::default()
        })
        .context("starting the SAP simulator")?;
        let wants = |p: &str| options.platforms.iter().any(|x| x == p);
        let orders = options.orders;
        let taobao = wants("taobao")
            .then(|| {
                TaobaoSim::spawn_with_catalog(
                    SimConfig { orders, seed: seed_for(seed, 10), ..SimConfig::default() },
                    &catalog,
                )
                .context("starting the Taobao simulator")
            })
            .transpose()?;
        let jd = wants("jd")
            .then(|| {
                JdSim::spawn_with_catalog(
                    JdConfig { orders, seed: seed_for(seed, 11), ..JdConfig::default() },
                    &catalog,
                )
                .context("starting the JD simulator")
            })
            .transpose()?;
        let douyin = wants("douyin")
            .then(|| {
                DouyinSim::spawn_with_catalog(
                    DouyinConfig { orders, seed: seed_for(seed, 12), ..DouyinConfig::default() },
                    &catalog,
                )
                .context("starting the Douyin simulator")
            })
            .transpose()?;
        let mut skipped = Vec::new();
        let ecshop = if !wants("ecshop") {
            None
        } else if let Err(e) = crate::ecshop::php::check_installed() {
            skipped.push(("ecshop".to_owned(), format!("{e:#}")));
            None
        } else {
            Some(
                EcshopSim::start_with_catalog(
                    EcshopConfig { orders, seed: seed_for(seed, 13), ..EcshopConfig::default() },
                    &catalog,
                )
                .context("starting the ECShop simulator")?,
            )
        };
        let seeded_sales_orders = sap.sales_orders().len();
        Ok(World {
            inner: Arc::new(Inner {
                options,
                catalog,
                taobao,
                jd,
                douyin,
                ecshop,
                sap,
                skipped,
                seeded_sales_orders,
                counts: Mutex::new(BTreeMap::new()),
                after_sale_counts: Mutex::new(BTreeMap::new()),
                deliveries: AtomicU64::new(0),
                stock_changes: AtomicU64::new(0),
            }),
        })
    }

    pub fn options(&self) -> &WorldOptions {
        &self.inner.options
    }

    /// The catalogue every simulator sells (SAP's materials are its `outer_sku_id`s).
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The running marketplaces, in [`PLATFORMS`] order.
    pub fn platforms(&self) -> Vec<String> {
        self.inner.marketplaces().into_iter().map(|(p, _)| p.to_owned()).collect()
    }

    /// One shop per running marketplace, in [`PLATFORMS`] order.
    pub fn shops(&self) -> Vec<WorldShop> {
        self.inner
            .marketplaces()
            .into_iter()
            .map(|(platform, m)| {
                let mut config = m.config();
                config.insert("page_size".to_owned(), MARKETPLACE_PAGE_SIZE.to_string());
                WorldShop {
                    platform: platform.to_owned(),
                    plugin: platform.to_owned(),
                    shop_id: format!("{platform}-demo"),
                    config,
                    secrets: m.secrets(),
                    hosts: vec![m.grant()],
                }
            })
            .collect()
    }

    /// The ERP route: the SAP plugin in OData mode against the SAP simulator.
    pub fn erp(&self) -> WorldErp {
        let sap = &self.inner.sap;
        let mut config = sap.plugin_config();
        config.insert("page_size".to_owned(), ERP_PAGE_SIZE.to_string());
        WorldErp { plugin: "sap".to_owned(), config, secrets: sap.plugin_secrets(), hosts: vec![sap.grant()] }
    }

    /// ERP carrier code → platform → the platform's carrier code, for the running
    /// marketplaces, covering every carrier the SAP simulator's deliveries name.
    pub fn carriers(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let running = self.platforms();
        ERP_CARRIERS
            .iter()
            .map(|(erp, codes)| {
                let per_platform = codes
                    .iter()
                    .filter(|(p, _)| running.iter().any(|r| r == p))
                    .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
                    .collect();
                ((*erp).to_owned(), per_platform)
            })
            .collect()
    }

    /// Platforms asked for but not running, and why.
    pub fn skipped(&self) -> Vec<(String, String)> {
        self.inner.skipped.clone()
    }

    /// Starts the traffic on a thread of its own; it runs until the [`Traffic`] is stopped or
    /// dropped.
    pub fn start_traffic(&self) -> Traffic {
        let (stop, stopped) = mpsc::channel::<()>();
        let inner = Arc::clone(&self.inner);
        let thread = std::thread::Builder::new()
            .name("world-traffic".into())
            .spawn(move || run_traffic(&inner, &stopped))
            .map_err(|e| tracing::error!(error = %e, "world: could not start the traffic thread"))
            .ok();
        Traffic { stop: Some(stop), thread }
    }

    /// Counts so far.
    pub fn stats(&self) -> WorldStats {
        let inner = &self.inner;
        let counts = lock(&inner.counts).clone();
        let mut platforms = BTreeMap::new();
        for platform in self.platforms() {
            let (orders_created, orders_changed) = counts.get(&platform).copied().unwrap_or_default();
            let (stock_writes, shipments) = inner.received(&platform);
            let (after_sales_opened, intercepts_opened, after_sales_advanced) =
                lock(&inner.after_sale_counts).get(&platform).copied().unwrap_or_default();
            platforms.insert(
                platform,
                PlatformStats {
                    orders_created,
                    orders_changed,
                    stock_writes,
                    shipments,
                    after_sales_opened,
                    intercepts_opened,
                    after_sales_advanced,
                },
            );
        }
        let sales_orders = inner.sap.sales_orders().len().saturating_sub(inner.seeded_sales_orders) as u64;
        WorldStats {
            platforms,
            sap: SapStats {
                sales_orders,
                deliveries: inner.deliveries.load(Ordering::Relaxed),
                stock_changes: inner.stock_changes.load(Ordering::Relaxed),
            },
        }
    }

    pub fn sap(&self) -> &SapSim {
        &self.inner.sap
    }

    pub fn taobao(&self) -> Option<&TaobaoSim> {
        self.inner.taobao.as_ref()
    }

    pub fn jd(&self) -> Option<&JdSim> {
        self.inner.jd.as_ref()
    }

    pub fn douyin(&self) -> Option<&DouyinSim> {
        self.inner.douyin.as_ref()
    }

    pub fn ecshop(&self) -> Option<&EcshopSim> {
        self.inner.ecshop.as_ref()
    }

    /// The marketplace simulator of `platform`, through the conformance face (expected
    /// orders, windows, faults).
    pub fn marketplace(&self, platform: &str) -> Option<&dyn Marketplace> {
        self.inner.marketplaces().into_iter().find(|(p, _)| *p == platform).map(|(_, m)| m)
    }

    /// A Wharf configuration for this world: one tenant with a shop per marketplace and the
    /// SAP plugin as its ERP route, every module on `every` (e.g. "1s"), data in `data_dir`,
    /// plugins from `plugin_dir`; the secrets go to a separate file (returned as its text),
    /// referenced as `file:<shop>_<name>` from the configuration.
    pub fn wharf_config(
        &self,
        tenant: &str,
        data_dir: &Path,
        plugin_dir: &Path,
        secrets_file: &Path,
        every: &str,
    ) -> WharfConfig {
        use std::fmt::Write as _;
        let q = |s: &str| format!("{s:?}");
        let table = |m: &BTreeMap<String, String>| {
            m.iter().map(|(k, v)| format!("{} = {}", q(k), q(v))).collect::<Vec<_>>().join(", ")
        };
        let mut toml = String::new();
        let mut secrets = String::new();
        // The API on any free loopback port: a world never collides with a running Wharf.
        // The plugins are this repository's own builds: trust the folder to grant the host names
        // they declare. The simulators are on loopback, which only a grant of the address reaches:
        // each shop is granted its simulator's `127.0.0.1:<port>`.
        let _ = writeln!(
            toml,
            "listen = \"127.0.0.1:0\"\ndata_dir = {}\nplugin_dir = {}\nsecrets_file = {}\ngrant_plugin_dir_hosts = true\n",
            q(&data_dir.display().to_string()),
            q(&plugin_dir.display().to_string()),
            q(&secrets_file.display().to_string())
        );
        let grants = |hosts: &[String]| hosts.iter().map(|h| q(h)).collect::<Vec<_>>().join(", ");
        let mut refs = |owner: &str, m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            m.iter()
                .map(|(name, value)| {
                    let key = format!("{owner}_{name}").replace('-', "_");
                    let _ = writeln!(secrets, "{key} = {}", q(value));
                    (name.clone(), format!("file:{key}"))
                })
                .collect()
        };
        for shop in self.shops() {
            let credentials = refs(&shop.shop_id, &shop.secrets);
            let _ = writeln!(
                toml,
                "[[tenants.{tenant}.shops]]\nid = {}\nplatform = {}\nplugin = {}\nconfig = {{ {} }}\ncredentials = {{ {} }}\ngrants = [{}]\n",
                q(&shop.shop_id),
                q(&shop.platform),
                q(&shop.plugin),
                table(&shop.config),
                table(&credentials),
                grants(&shop.hosts)
            );
        }
        let erp = self.erp();
        let credentials = refs("erp", &erp.secrets);
        let _ = writeln!(
            toml,
            "[tenants.{tenant}.erp]\nplugin = {}\nconfig = {{ {} }}\ncredentials = {{ {} }}\ngrants = [{}]\n",
            q(&erp.plugin),
            table(&erp.config),
            table(&credentials),
            grants(&erp.hosts)
        );
        let _ = writeln!(toml, "[tenants.{tenant}.schedule]");
        for module in [
            "orders",
            "after_sales",
            "stock",
            "prices",
            "lots",
            "listing",
            "products",
            "customers",
            "logistics",
            "shipments",
            "erp_status",
            "invoices",
        ] {
            let _ = writeln!(toml, "{module} = {}", q(every));
        }
        for (code, platforms) in self.carriers() {
            let _ = writeln!(
                toml,
                "\n[tenants.{tenant}.carriers.{}]\n{}",
                q(&code),
                platforms.iter().map(|(p, c)| format!("{p} = {}", q(c))).collect::<Vec<_>>().join("\n")
            );
        }
        WharfConfig { toml, secrets }
    }

    /// What [`World::shops`], [`World::erp`], [`World::carriers`] and [`World::skipped`]
    /// say, as one JSON object (what `world-sim` prints).
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "shops": self.shops(),
            "erp": self.erp(),
            "carriers": self.carriers(),
            "skipped": self.skipped().into_iter().map(|(p, why)| serde_json::json!({"platform": p, "reason": why})).collect::<Vec<_>>(),
        })
    }
}

impl Inner {
    fn marketplaces(&self) -> Vec<(&'static str, &dyn Marketplace)> {
        let mut out: Vec<(&'static str, &dyn Marketplace)> = Vec::new();
        if let Some(s) = &self.taobao {
            out.push(("taobao", s));
        }
        if let Some(s) = &self.jd {
            out.push(("jd", s));
        }
        if let Some(s) = &self.douyin {
            out.push(("douyin", s));
        }
        if let Some(s) = &self.ecshop {
            out.push(("ecshop", s));
        }
        out
    }

    /// (stock writes, shipments) `platform` received.
    fn received(&self, platform: &str) -> (u64, u64) {
        match platform {
            "taobao" => self
                .taobao
                .as_ref()
                .map_or((0, 0), |s| (s.call_count(crate::taobao::QUANTITY_UPDATE), s.shipments().len() as u64)),
            "jd" => self.jd.as_ref().map_or((0, 0), |s| {
                let shipped = s.shop().orders.iter().filter(|o| o.shipment.is_some()).count();
                (s.stock_writes().len() as u64, shipped as u64)
            }),
            "douyin" => self.douyin.as_ref().map_or((0, 0), |s| {
                let shipped = s.with_shop(|shop| shop.orders.iter().filter(|o| o.shipment.is_some()).count());
                (s.call_count(crate::douyin::SYNC_STOCK), shipped as u64)
            }),
            "ecshop" => self.ecshop.as_ref().map_or((0, 0), |s| {
                let writes = s.writes();
                (writes.get("stock").copied().unwrap_or(0), writes.get("ship").copied().unwrap_or(0))
            }),
            _ => (0, 0),
        }
    }

    fn count(&self, platform: &str, created: u64, changed: u64) {
        let mut counts = lock(&self.counts);
        let entry = counts.entry(platform.to_owned()).or_default();
        entry.0 += created;
        entry.1 += changed;
    }

    /// One new paid order in `platform`, stamped `now_ms`.
    fn create_order(&self, platform: &str, rng: &mut SimRng, now_ms: i64) -> anyhow::Result<()> {
        match platform {
            "taobao" => {
                if let Some(s) = &self.taobao {
                    s.add_paid_trade(rng, now_ms);
                }
            }
            "jd" => {
                if let Some(s) = &self.jd {
                    s.add_paid_order(rng, now_ms);
                }
            }
            "douyin" => {
                if let Some(s) = &self.douyin {
                    s.add_paid_order(rng, now_ms);
                }
            }
            "ecshop" => {
                if let Some(s) = &self.ecshop {
                    s.add_paid_order(rng, now_ms)?;
                }
            }
            other => bail!("no simulator for {other:?}"),
        }
        self.count(platform, 1, 0);
        Ok(())
    }

    /// Moves the order of `platform` modified longest ago one step, stamped now.
    fn change_order(&self, platform: &str) {
        let changed = match platform {
            "taobao" => self.taobao.as_ref().and_then(TaobaoSim::change_oldest).is_some(),
            "jd" => self.jd.as_ref().and_then(JdSim::change_one).is_some(),
            "douyin" => self.douyin.as_ref().and_then(DouyinSim::change_one).is_some(),
            "ecshop" => self.ecshop.as_ref().is_some_and(|s| !s.change_order().is_empty()),
            _ => false,
        };
        if changed {
            self.count(platform, 0, 1);
        }
    }

    /// Opens an after-sale on a random order of `platform` (a refund before shipping on a paid
    /// order not shipped when `intercept`); whether one was opened.
    fn open_after_sale(&self, platform: &str, intercept: bool) -> bool {
        let opened = match platform {
            "taobao" => self.taobao.as_ref().and_then(|s| s.open_random_after_sale(intercept)).is_some(),
            "jd" => self.jd.as_ref().and_then(|s| s.open_random_after_sale(intercept)).is_some(),
            "douyin" => self.douyin.as_ref().and_then(|s| s.open_random_after_sale(intercept)).is_some(),
            _ => false,
        };
        if opened {
            let mut counts = lock(&self.after_sale_counts);
            let entry = counts.entry(platform.to_owned()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(intercept);
        }
        opened
    }

    /// Moves one open after-sale of `platform` one step.
    fn advance_after_sale(&self, platform: &str) {
        let advanced = match platform {
            "taobao" => self.taobao.as_ref().and_then(TaobaoSim::advance_after_sale).is_some(),
            "jd" => self.jd.as_ref().and_then(JdSim::advance_after_sale).is_some(),
            "douyin" => self.douyin.as_ref().and_then(DouyinSim::advance_after_sale).is_some(),
            _ => false,
        };
        if advanced {
            lock(&self.after_sale_counts).entry(platform.to_owned()).or_default().2 += 1;
        }
    }

    /// Sets the unrestricted stock of one random material (one of its rows) to a random
    /// quantity.
    fn change_stock(&self, rng: &mut SimRng) {
        let materials = self.catalog.outer_sku_ids();
        let material = rng.pick(&materials).clone();
        let rows: Vec<StockRow> =
            self.sap.stock().into_iter().filter(|r| r.material == material && unrestricted(r)).collect();
        let mut row = if rows.is_empty() {
            StockRow {
                batch: self.first_batch(&material).unwrap_or_default(),
                material,
                plant: WAREHOUSE_PLANT.into(),
                storage_location: WAREHOUSE_STORAGE_LOCATION.into(),
                stock_type: "01".into(),
                special_stock: String::new(),
                unit: "EA".into(),
                quantity: 0,
            }
        } else {
            rng.pick(&rows).clone()
        };
        row.quantity = rng.range(0, MAX_STOCK_UNITS) * MILLI;
        self.sap.set_stock(row);
        self.stock_changes.fetch_add(1, Ordering::Relaxed);
    }

    fn first_batch(&self, material: &str) -> Option<String> {
        self.sap.batches().into_iter().find(|b| b.material == material).map(|b| b.batch)
    }

    /// Ships every client sales order of the tenant's sales area older than
    /// `ship_after_ms` that has no delivery yet; `done` remembers the ones handled.
    fn run_warehouse(&self, rng: &mut SimRng, done: &mut BTreeSet<String>) {
        let now = self.sap.now_ms();
        let delivered: BTreeSet<String> =
            self.sap.deliveries().into_iter().flat_map(|d| d.items.into_iter().map(|i| i.sales_order)).collect();
        for order in self.sap.sales_orders() {
            if order.purchase_order.is_empty()
                || order.rejected
                || order.sales_org != ERP_SALES_ORG
                || order.created_ms > now - self.options.ship_after_ms
                || delivered.contains(&order.sales_order)
                || done.contains(&order.sales_order)
            {
                continue;
            }
            done.insert(order.sales_order.clone());
            let lines: Vec<ShipLine> = order
                .items
                .iter()
                .filter(|i| i.material != FREIGHT_MATERIAL && i.quantity >= MILLI)
                .map(|i| {
                    let quantity = u32::try_from(i.quantity / MILLI).unwrap_or(u32::MAX);
                    let batches = self.first_batch(&i.material).map(|b| vec![(b, quantity)]).unwrap_or_default();
                    ShipLine { material: i.material.clone(), quantity, batches }
                })
                .collect();
            if lines.is_empty() {
                continue;
            }
            let (carrier, _) = *rng.pick(ERP_CARRIERS);
            let tracking = format!("{carrier}{:012}", rng.below(1_000_000_000_000));
            match self.sap.ship(&order.sales_order, &lines, Some((&tracking, carrier))) {
                Ok(_) => {
                    self.deliveries.fetch_add(1, Ordering::Relaxed);
                    for line in &lines {
                        self.take_stock(line);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), sales_order = %order.sales_order, "world: shipping failed")
                }
            }
        }
    }

    /// Takes a shipped line out of the warehouse's stock (its batch's row, or the material's
    /// fullest unrestricted row in the warehouse plant), never below zero.
    fn take_stock(&self, line: &ShipLine) {
        let batch = line.batches.first().map(|(b, _)| b.as_str()).unwrap_or("");
        let row = self
            .sap
            .stock()
            .into_iter()
            .filter(|r| {
                r.material == line.material && unrestricted(r) && r.plant == WAREHOUSE_PLANT && r.batch == batch
            })
            .max_by_key(|r| r.quantity);
        if let Some(mut row) = row {
            row.quantity = (row.quantity - i64::from(line.quantity) * MILLI).max(0);
            self.sap.set_stock(row);
        }
    }
}

/// Own unrestricted stock: what the SAP plugin reports.
fn unrestricted(r: &StockRow) -> bool {
    r.stock_type == "01" && r.special_stock.is_empty()
}

/// Fractional events per tick add up here, so a rate below one per tick still happens at the
/// right average pace, the same way on every run.
#[derive(Default)]
struct Pace(f64);

impl Pace {
    /// How many events are due this tick at `per_second`.
    fn due(&mut self, per_second: f64) -> u32 {
        self.0 += per_second * TICK.as_secs_f64();
        let whole = self.0.floor();
        self.0 -= whole;
        whole as u32
    }
}

fn run_traffic(inner: &Inner, stopped: &mpsc::Receiver<()>) {
    let root = SimRng::new(inner.options.seed).fork(100);
    let platforms: Vec<&'static str> = inner.marketplaces().into_iter().map(|(p, _)| p).collect();
    let mut rngs: Vec<SimRng> = (0..platforms.len())
        .map(|i| root.fork(PLATFORMS.iter().position(|p| *p == platforms[i]).unwrap_or(i) as u64))
        .collect();
    let mut new_orders: Vec<Pace> = platforms.iter().map(|_| Pace::default()).collect();
    let mut changes: Vec<Pace> = platforms.iter().map(|_| Pace::default()).collect();
    let mut after_sales: Vec<Pace> = platforms.iter().map(|_| Pace::default()).collect();
    let mut opened: Vec<u64> = platforms.iter().map(|_| 0).collect();
    let mut stock = Pace::default();
    let mut stock_rng = root.fork(50);
    let mut warehouse_rng = root.fork(51);
    let mut shipped = BTreeSet::new();
    let started = Instant::now();
    for tick in 1u32.. {
        let wait = (started + TICK * tick).saturating_duration_since(Instant::now());
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = wall_ms();
        for (i, platform) in platforms.iter().enumerate() {
            for _ in 0..new_orders[i].due(inner.options.orders_per_second) {
                if let Err(e) = inner.create_order(platform, &mut rngs[i], now) {
                    tracing::warn!(error = %format!("{e:#}"), %platform, "world: creating an order failed");
                }
            }
            for _ in 0..changes[i].due(inner.options.changes_per_second) {
                inner.change_order(platform);
            }
            for _ in 0..after_sales[i].due(inner.options.after_sales_per_second) {
                inner.advance_after_sale(platform);
                // Every third one an intercept; if no order fits, a plain one.
                let intercept = opened[i].is_multiple_of(3);
                if inner.open_after_sale(platform, intercept) || (intercept && inner.open_after_sale(platform, false)) {
                    opened[i] += 1;
                }
            }
        }
        for _ in 0..stock.due(inner.options.stock_changes_per_second) {
            inner.change_stock(&mut stock_rng);
        }
        inner.run_warehouse(&mut warehouse_rng, &mut shipped);
    }
}

/// The world's traffic; stops when dropped or on [`Traffic::stop`].
pub struct Traffic {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    /// Stops the traffic and waits for the tick under way to finish.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;

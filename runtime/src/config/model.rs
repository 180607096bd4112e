//! The configuration as the host uses it: validated, typed, secrets resolved.
//!
//! Nothing here can be wrong in a way the file could be: every value was checked when the
//! file was loaded, and every default is a named constant below.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::secrets::{Secret, SecretMap, SecretRef};

/// Where the store lives when `data_dir` is not set, relative to the config file's folder:
/// next to the file that declares the tenants, so two configurations never share a store.
pub const DEFAULT_DATA_DIR: &str = "data";

/// Where the store's state is kept (`store` in the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreLocation {
    /// Embedded sled in this folder (the default: `data_dir`), for one node.
    Sled(PathBuf),
    /// A PostgreSQL database, shared by every node of a cluster (`postgres://user@host:port/db`).
    Postgres(String),
}

impl std::fmt::Display for StoreLocation {
    /// The location as logs may show it: a password in the URL is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sled(dir) => write!(f, "sled:{}", dir.display()),
            StoreLocation::Postgres(url) => match url::Url::parse(url) {
                Ok(mut u) if u.password().is_some() => {
                    let _ = u.set_password(Some("********"));
                    write!(f, "{u}")
                }
                _ => write!(f, "{url}"),
            },
        }
    }
}

/// Where `.wasm` plugins are looked for when `plugin_dir` is not set, relative to the config
/// file's folder.
pub const DEFAULT_PLUGIN_DIR: &str = "plugins";

/// Address of the HTTP API when `listen` is not set. Loopback, so a fresh install exposes
/// nothing to the network; the port is arbitrary, picked away from the usual development ports
/// (3000, 8000, 8080) so it rarely collides.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7380));

/// Log format when `log_format` is not set: text reads well in a terminal; services that ship
/// logs set `json`.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;

/// Whether a shop runs when `enabled` is not set. A declared shop is meant to run;
/// `enabled = false` keeps its declaration (and its store state) while pausing it.
pub const DEFAULT_SHOP_ENABLED: bool = true;

/// Longest tenant id, shop id or platform name. They are parts of store keys, idempotency keys
/// and log fields; 64 is far more than any real name needs and keeps those bounded.
pub const MAX_NAME_LEN: usize = 64;

/// Shortest interval a schedule accepts. Below a second a module would start its next run
/// while platforms still answer the last one, and platform quotas are counted per second or
/// per minute, so a shorter interval only buys throttling.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Longest interval a schedule accepts. A module that should run less than weekly is better
/// switched `off` and run by hand; in practice a longer value is a typo ("100h" for "100m").
pub const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);

/// New and changed orders: the module merchants watch, since the warehouse cannot pick an
/// order the ERP has not seen. 30 s keeps "paid" → "in the ERP" well under a minute for
/// two calls per shop per minute at most when nothing changed.
pub const DEFAULT_ORDERS_INTERVAL: Interval = Interval::Every(Duration::from_secs(30));
/// Stock: every minute, because stale stock is what oversells during a promotion.
pub const DEFAULT_STOCK_INTERVAL: Interval = Interval::Every(Duration::from_secs(60));
/// Prices change by decision, not by the minute: five minutes.
pub const DEFAULT_PRICE_INTERVAL: Interval = Interval::Every(Duration::from_secs(5 * 60));
/// Lots change when goods are received or a lot sells out: fifteen minutes.
pub const DEFAULT_BATCHES_INTERVAL: Interval = Interval::Every(Duration::from_secs(15 * 60));
/// Listing and delisting are operator actions that should show soon: five minutes.
pub const DEFAULT_LISTING_INTERVAL: Interval = Interval::Every(Duration::from_secs(5 * 60));
/// New products wait for platform review anyway: fifteen minutes.
pub const DEFAULT_PRODUCTS_INTERVAL: Interval = Interval::Every(Duration::from_secs(15 * 60));
/// Customer mappings change rarely: hourly.
pub const DEFAULT_CUSTOMERS_INTERVAL: Interval = Interval::Every(Duration::from_secs(3600));
/// Tracking numbers: every minute, since platforms hold sellers to a shipping deadline and the
/// buyer sees "shipped" only once the number is uploaded.
pub const DEFAULT_LOGISTICS_INTERVAL: Interval = Interval::Every(Duration::from_secs(60));
/// Shipment details (lines and lots actually sent) follow logistics and are not urgent: five
/// minutes.
pub const DEFAULT_SHIPMENTS_INTERVAL: Interval = Interval::Every(Duration::from_secs(5 * 60));
/// ERP statuses mostly add tracking lines for the buyer: five minutes.
pub const DEFAULT_ERP_STATUS_INTERVAL: Interval = Interval::Every(Duration::from_secs(5 * 60));

/// What an ERP status does to the platform order when the tenant's table does not say.
/// Only `signed` moves the order (to `completed`, the canonical model's example): the buyer
/// has the goods. Everything else adds a tracking line and nothing more; in particular
/// `shipped` does not mark the order shipped (the logistics module does that, with the
/// tracking number the platform requires), and `cancelled` cancels nothing (cancelling a paid
/// marketplace order is a refund, which a merchant turns on deliberately).
pub const DEFAULT_ERP_STATUS_ACTIONS: [(ErpStatus, StatusAction); ErpStatus::ALL.len()] = [
    (ErpStatus::Accepted, StatusAction::Note),
    (ErpStatus::Picking, StatusAction::Note),
    (ErpStatus::Packed, StatusAction::Note),
    (ErpStatus::OutOfStock, StatusAction::Note),
    (ErpStatus::Shipped, StatusAction::Note),
    (ErpStatus::Signed, StatusAction::Move(OrderStatus::Completed)),
    (ErpStatus::Cancelled, StatusAction::Note),
];

/// Plugin calls per second one tenant may start, all its shops and its ERP together, when its
/// `quota` does not say. Well above what a tenant of a few dozen shops needs on its schedule
/// (the sync benchmark's 100-shop tenant makes about 400 calls/s at full tilt), so the default
/// only stops a runaway, never normal work.
pub const DEFAULT_QUOTA_CALLS_PER_SECOND: u32 = 1_000;
/// Plugin calls one tenant may have running at once. 64 of the engine's 1,000 pooled instances
/// (see `engine::POOL_COMPONENT_INSTANCES`) lets fifteen busy tenants run flat out side by side.
pub const DEFAULT_QUOTA_CONCURRENT_CALLS: u32 = 64;
/// Linear memory one call of the tenant may grow to: the host's per-call default.
pub const DEFAULT_QUOTA_MEMORY_MIB: u32 = (crate::limits::DEFAULT_MEMORY_BYTES >> 20) as u32;
/// CPU time one tenant's plugin calls may use per second, in milliseconds: one core's worth.
/// The Taobao plugin maps about 11,600 orders per second of CPU (BENCHMARKS.md, issue 2), and
/// the sync benchmark's 100-shop tenant pulls about 3,600 orders/s, a third of a core; so the
/// default never slows normal work, while one runaway tenant leaves the other cores of a host
/// of two or more to the rest.
pub const DEFAULT_QUOTA_CPU_MILLIS_PER_SECOND: u32 = 1_000;

/// What one tenant may keep in the store (orders, deliveries and updates owed, dead letters,
/// quarantined records; see `store::usage`), in MiB. A tenant of a few dozen shops keeps some
/// 100,000 orders of about 2 KB each, 200 MB with its queues; ten times that leaves room for
/// years of orders and a long ERP outage, while a runaway plugin (one grew the store by 350 MB
/// in 40 s) is stopped within minutes, before it fills the host's disk for every tenant.
pub const DEFAULT_QUOTA_STORED_MIB: u32 = 2_048;

/// What one tenant may use of the host, so that one noisy tenant cannot starve the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Quota {
    pub calls_per_second: u32,
    pub concurrent_calls: u32,
    pub memory_mib: u32,
    pub cpu_millis_per_second: u32,
    pub stored_mib: u32,
}

impl Quota {
    /// [`Quota::stored_mib`] in bytes.
    pub fn stored_bytes(&self) -> u64 {
        u64::from(self.stored_mib) << 20
    }
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            calls_per_second: DEFAULT_QUOTA_CALLS_PER_SECOND,
            concurrent_calls: DEFAULT_QUOTA_CONCURRENT_CALLS,
            memory_mib: DEFAULT_QUOTA_MEMORY_MIB,
            cpu_millis_per_second: DEFAULT_QUOTA_CPU_MILLIS_PER_SECOND,
            stored_mib: DEFAULT_QUOTA_STORED_MIB,
        }
    }
}

/// A whole, valid configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The store's folder (absolute, or relative to the working directory when the caller
    /// gave a relative base).
    pub data_dir: PathBuf,
    /// Where the state is kept: sled in `data_dir` unless `store` names another place. On
    /// PostgreSQL, `data_dir` still holds the master key receivers are sealed with and the
    /// plugins' files, which every node must share.
    pub store: StoreLocation,
    pub plugin_dir: PathBuf,
    /// The secrets file the references were resolved against, if any.
    pub secrets_file: Option<PathBuf>,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    /// Refuse plugin versions without an ed25519 signature by one of `trusted_keys`.
    pub require_signed_plugins: bool,
    /// Public keys (base64) whose signatures admit a plugin version.
    pub trusted_keys: Vec<String>,
    /// The operator trusts what lands in `plugin_dir`: a new plugin's first file there is
    /// granted the host names it declares (never an address). Off by default: a file dropped
    /// there is admitted but serves only once the operator grants its hosts.
    pub grant_plugin_dir_hosts: bool,
    /// The operator means to start a host with nothing to run: no tenant in the file and none
    /// made over the API yet (they are to be made over it). Off by default: `wharf serve`
    /// refuses such a host, which is far more often a wrong file or `data_dir` than a wish.
    pub allow_empty: bool,
    /// By tenant id.
    pub tenants: BTreeMap<String, Tenant>,
}

impl Config {
    pub fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.get(id)
    }

    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        self.tenants.values()
    }

    /// Every shop of every tenant, enabled or not.
    pub fn shops(&self) -> impl Iterator<Item = (&Tenant, &ShopConfig)> {
        self.tenants.values().flat_map(|tenant| tenant.shops.iter().map(move |shop| (tenant, shop)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// One merchant: its shops, its ERP and how they are kept in step.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: String,
    /// In the order of the file; ids are unique within the tenant.
    pub shops: Vec<ShopConfig>,
    pub erp: ErpRoute,
    pub schedule: Schedule,
    pub carriers: CarrierTable,
    pub erp_status: ErpStatusTable,
    pub quota: Quota,
}

impl Tenant {
    pub fn shop(&self, id: &str) -> Option<&ShopConfig> {
        self.shops.iter().find(|shop| shop.id == id)
    }

    pub fn enabled_shops(&self) -> impl Iterator<Item = &ShopConfig> {
        self.shops.iter().filter(|shop| shop.enabled)
    }
}

/// One marketplace shop of a tenant.
#[derive(Clone, Debug)]
pub struct ShopConfig {
    pub id: String,
    /// The marketplace (`taobao`, `jd`, …); canonical orders carry it.
    pub platform: String,
    /// The plugin that talks to it, one of the available plugin names.
    pub plugin: String,
    /// Non-secret settings the plugin reads through its `config` import.
    pub config: BTreeMap<String, String>,
    /// The plugin's secret names and where their values came from.
    pub credentials: BTreeMap<String, SecretRef>,
    /// The same names, resolved. Never enters the sandbox.
    pub secrets: SecretMap,
    pub enabled: bool,
    /// Hosts this shop's plugin may reach besides the plugin's grants (`name`, `name:port`, or
    /// an address such as `127.0.0.1:8080`, the only way to a loopback or private address).
    pub grants: Vec<String>,
}

/// How orders reach the tenant's ERP and ERP changes reach Wharf.
#[derive(Clone, Debug)]
pub enum ErpRoute {
    /// An ERP plugin that Wharf calls both ways.
    Plugin(ErpPlugin),
    /// Wharf pushes orders to the ERP's URL, signed with a shared secret.
    Webhook(WebhookRoute),
    /// The ERP pulls orders from Wharf's API and acknowledges them.
    Pull,
}

#[derive(Clone, Debug)]
pub struct ErpPlugin {
    pub plugin: String,
    pub config: BTreeMap<String, String>,
    pub credentials: BTreeMap<String, SecretRef>,
    pub secrets: SecretMap,
    /// Hosts the ERP plugin may reach besides the plugin's grants, as for a shop.
    pub grants: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct WebhookRoute {
    /// An `http` or `https` URL with a host and no user name or password in it.
    pub url: url::Url,
    pub secret_ref: SecretRef,
    /// The HMAC key deliveries are signed with.
    pub secret: Secret,
    /// Secrets deliveries are also signed with while the ERP moves to `secret` (Standard
    /// Webhooks' key rotation), oldest last.
    pub previous: Vec<(SecretRef, Secret)>,
}

/// The sync modules of the canonical model, each with its own schedule and switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Module {
    Orders,
    Stock,
    Price,
    Batches,
    Listing,
    Products,
    Customers,
    Logistics,
    Shipments,
    ErpStatus,
}

impl Module {
    pub const ALL: [Module; 10] = [
        Module::Orders,
        Module::Stock,
        Module::Price,
        Module::Batches,
        Module::Listing,
        Module::Products,
        Module::Customers,
        Module::Logistics,
        Module::Shipments,
        Module::ErpStatus,
    ];

    /// The name used in the file (`[tenants.x.schedule]` keys) and in logs.
    pub const fn name(self) -> &'static str {
        match self {
            Module::Orders => "orders",
            Module::Stock => "stock",
            Module::Price => "price",
            Module::Batches => "batches",
            Module::Listing => "listing",
            Module::Products => "products",
            Module::Customers => "customers",
            Module::Logistics => "logistics",
            Module::Shipments => "shipments",
            Module::ErpStatus => "erp_status",
        }
    }

    pub fn from_name(name: &str) -> Option<Module> {
        Module::ALL.into_iter().find(|m| m.name() == name)
    }

    pub const fn default_interval(self) -> Interval {
        match self {
            Module::Orders => DEFAULT_ORDERS_INTERVAL,
            Module::Stock => DEFAULT_STOCK_INTERVAL,
            Module::Price => DEFAULT_PRICE_INTERVAL,
            Module::Batches => DEFAULT_BATCHES_INTERVAL,
            Module::Listing => DEFAULT_LISTING_INTERVAL,
            Module::Products => DEFAULT_PRODUCTS_INTERVAL,
            Module::Customers => DEFAULT_CUSTOMERS_INTERVAL,
            Module::Logistics => DEFAULT_LOGISTICS_INTERVAL,
            Module::Shipments => DEFAULT_SHIPMENTS_INTERVAL,
            Module::ErpStatus => DEFAULT_ERP_STATUS_INTERVAL,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How often a module runs for each shop of a tenant, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Off,
    Every(Duration),
}

impl Interval {
    /// Reads `"30s"`, `"5m"`, `"1h"` or `"off"`: a whole number and one unit, within
    /// [`MIN_INTERVAL`]..=[`MAX_INTERVAL`].
    pub fn parse(text: &str) -> Result<Interval, String> {
        const EXPECTED: &str =
            "expected a whole number and a unit (s, m or h) like \"30s\", \"5m\" or \"1h\", or \"off\"";
        if text == "off" {
            return Ok(Interval::Off);
        }
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let seconds_per_unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            _ => return Err(format!("{EXPECTED}; got {text:?}")),
        };
        if number.is_empty() {
            return Err(format!("{EXPECTED}; got {text:?}"));
        }
        let seconds = number.parse::<u64>().ok().and_then(|n| n.checked_mul(seconds_per_unit));
        let every = match seconds {
            Some(0) => return Err("zero; write \"off\" to switch the module off".to_owned()),
            Some(s) => Duration::from_secs(s),
            None => Duration::MAX,
        };
        if every < MIN_INTERVAL {
            return Err(format!("{text:?} is shorter than the minimum of {}", Interval::Every(MIN_INTERVAL)));
        }
        if every > MAX_INTERVAL {
            return Err(format!(
                "{text:?} is longer than the maximum of {}; write \"off\" to switch the module off",
                Interval::Every(MAX_INTERVAL)
            ));
        }
        Ok(Interval::Every(every))
    }

    /// The period, or `None` when off.
    pub fn every(self) -> Option<Duration> {
        match self {
            Interval::Off => None,
            Interval::Every(d) => Some(d),
        }
    }
}

/// The form [`Interval::parse`] reads, in the largest whole unit.
impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = match self {
            Interval::Off => return f.write_str("off"),
            // Only `Schedule::set` can make one; parse never does.
            Interval::Every(d) if d.subsec_nanos() != 0 => return write!(f, "{d:?}"),
            Interval::Every(d) => d.as_secs(),
        };
        match secs {
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

/// Every module's interval for one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    intervals: [Interval; Module::ALL.len()],
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { intervals: Module::ALL.map(Module::default_interval) }
    }
}

impl Schedule {
    pub fn get(&self, module: Module) -> Interval {
        self.intervals[module.index()]
    }

    pub fn set(&mut self, module: Module, interval: Interval) {
        self.intervals[module.index()] = interval;
    }

    pub fn iter(&self) -> impl Iterator<Item = (Module, Interval)> + '_ {
        Module::ALL.into_iter().map(|m| (m, self.get(m)))
    }
}

/// ERP carrier code → platform → that platform's carrier code. The ERP knows one code per
/// carrier (`SF`); each marketplace has its own (Taobao `SF`, JD `467`), and a logistics upload
/// must use the platform's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CarrierTable {
    codes: BTreeMap<String, BTreeMap<String, String>>,
}

impl CarrierTable {
    /// The platform's code for the ERP's carrier, if the table has it.
    pub fn platform_code(&self, erp_code: &str, platform: &str) -> Option<&str> {
        self.codes.get(erp_code)?.get(platform).map(String::as_str)
    }

    /// ERP carrier codes with their per-platform codes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, String>)> {
        self.codes.iter().map(|(code, platforms)| (code.as_str(), platforms))
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn insert(&mut self, erp_code: String, platforms: BTreeMap<String, String>) {
        self.codes.insert(erp_code, platforms);
    }
}

/// An order status an ERP reports (canonical model, "ERP order status").
pub use crate::model::ErpStatusCode as ErpStatus;

pub use crate::model::OrderStatus;

/// Whether an ERP status may move a platform order to `status`. An ERP acts after payment,
/// so it can never make an order unpaid or merely paid again; and only the platform holds an
/// order.
pub const fn reachable_from_erp(status: OrderStatus) -> bool {
    !matches!(status, OrderStatus::Unpaid | OrderStatus::Paid | OrderStatus::Held)
}

/// What one ERP status does on the marketplace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusAction {
    /// `move:<status>`: move the platform order to this canonical status.
    Move(OrderStatus),
    /// `note`: only add a tracking line ("order accepted, picking").
    Note,
}

impl StatusAction {
    pub const MOVE_PREFIX: &str = "move:";
    pub const NOTE: &str = "note";

    /// Reads `note` or `move:<status>`, where the status is one an ERP can reach.
    pub fn parse(text: &str) -> Result<StatusAction, String> {
        if text == Self::NOTE {
            return Ok(StatusAction::Note);
        }
        let reachable: Vec<&str> =
            OrderStatus::ALL.into_iter().filter(|s| reachable_from_erp(*s)).map(OrderStatus::name).collect();
        let Some(target) = text.strip_prefix(Self::MOVE_PREFIX) else {
            return Err(format!(
                "expected \"note\" or \"move:<status>\" with a status among {}; got {text:?}",
                reachable.join(", ")
            ));
        };
        match OrderStatus::from_name(target) {
            Some(status) if reachable_from_erp(status) => Ok(StatusAction::Move(status)),
            Some(status) => {
                Err(format!("an ERP status cannot move an order back to {status}; use one of {}", reachable.join(", ")))
            }
            None => Err(format!("no order status named {target:?}; use one of {}", reachable.join(", "))),
        }
    }
}

impl fmt::Display for StatusAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusAction::Move(status) => write!(f, "{}{status}", Self::MOVE_PREFIX),
            StatusAction::Note => f.write_str(Self::NOTE),
        }
    }
}

/// ERP status → action, for every status (the tenant's table over
/// [`DEFAULT_ERP_STATUS_ACTIONS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErpStatusTable {
    actions: [StatusAction; ErpStatus::ALL.len()],
}

impl Default for ErpStatusTable {
    fn default() -> Self {
        let mut actions = [StatusAction::Note; ErpStatus::ALL.len()];
        for (status, action) in DEFAULT_ERP_STATUS_ACTIONS {
            actions[status as usize] = action;
        }
        ErpStatusTable { actions }
    }
}

impl ErpStatusTable {
    pub fn action(&self, status: ErpStatus) -> StatusAction {
        self.actions[status as usize]
    }

    pub fn set(&mut self, status: ErpStatus, action: StatusAction) {
        self.actions[status as usize] = action;
    }

    pub fn iter(&self) -> impl Iterator<Item = (ErpStatus, StatusAction)> + '_ {
        ErpStatus::ALL.into_iter().map(|s| (s, self.action(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_and_print_back() {
        for (text, secs) in
            [("30s", 30), ("5m", 300), ("1h", 3600), ("90s", 90), ("120m", 7200), ("168h", 7 * 24 * 3600)]
        {
            let interval = Interval::parse(text).unwrap();
            assert_eq!(interval.every(), Some(Duration::from_secs(secs)), "{text}");
        }
        assert_eq!(Interval::parse("off"), Ok(Interval::Off));
        assert_eq!(Interval::parse("90s").unwrap().to_string(), "90s");
        assert_eq!(Interval::parse("120m").unwrap().to_string(), "2h");
        assert_eq!(Interval::parse("60s").unwrap().to_string(), "1m");
        assert_eq!(Interval::Off.to_string(), "off");
    }

    #[test]
    fn bad_intervals_say_what_is_expected() {
        let expected = "expected a whole number and a unit (s, m or h) like \"30s\", \"5m\" or \"1h\", or \"off\"";
        for bad in ["", "5", "s", "5 m", " 5m", "5min", "1.5h", "-5m", "5M", "Off", "1d"] {
            assert_eq!(Interval::parse(bad), Err(format!("{expected}; got {bad:?}")), "{bad}");
        }
        assert_eq!(Interval::parse("0s"), Err("zero; write \"off\" to switch the module off".into()));
        assert_eq!(
            Interval::parse("169h"),
            Err("\"169h\" is longer than the maximum of 168h; write \"off\" to switch the module off".into())
        );
        assert!(Interval::parse("99999999999999999999h").unwrap_err().contains("longer than the maximum"));
        assert!(Interval::parse("18446744073709551615h").unwrap_err().contains("longer than the maximum"));
    }

    #[test]
    fn every_module_has_a_name_and_a_default() {
        for module in Module::ALL {
            assert_eq!(Module::from_name(module.name()), Some(module));
            assert!(module.default_interval().every().is_some(), "{module}");
            assert_eq!(Schedule::default().get(module), module.default_interval());
        }
        assert_eq!(Module::from_name("erp_status"), Some(Module::ErpStatus));
        assert_eq!(Module::from_name("ordrs"), None);
        let defaults = Module::ALL.map(|m| m.default_interval().every().unwrap());
        assert!(defaults.iter().all(|d| (MIN_INTERVAL..=MAX_INTERVAL).contains(d)));
    }

    #[test]
    fn status_actions_parse() {
        assert_eq!(StatusAction::parse("note"), Ok(StatusAction::Note));
        assert_eq!(StatusAction::parse("move:completed"), Ok(StatusAction::Move(OrderStatus::Completed)));
        assert_eq!(StatusAction::parse("move:partially_shipped").unwrap().to_string(), "move:partially_shipped");
        assert_eq!(
            StatusAction::parse("move:paid"),
            Err("an ERP status cannot move an order back to paid; use one of partially_shipped, shipped, completed, cancelled, closed".into())
        );
        assert_eq!(
            StatusAction::parse("move:done"),
            Err("no order status named \"done\"; use one of partially_shipped, shipped, completed, cancelled, closed"
                .into())
        );
        assert_eq!(
            StatusAction::parse("complete"),
            Err("expected \"note\" or \"move:<status>\" with a status among partially_shipped, shipped, completed, cancelled, closed; got \"complete\"".into())
        );
    }

    #[test]
    fn the_default_status_table_moves_only_signed() {
        let table = ErpStatusTable::default();
        for status in ErpStatus::ALL {
            assert_eq!(ErpStatus::from_name(status.name()), Some(status));
            let expected = if status == ErpStatus::Signed {
                StatusAction::Move(OrderStatus::Completed)
            } else {
                StatusAction::Note
            };
            assert_eq!(table.action(status), expected, "{status}");
        }
    }

    #[test]
    fn carrier_codes_are_looked_up_per_platform() {
        let mut table = CarrierTable::default();
        table.insert("SF".into(), BTreeMap::from([("taobao".into(), "SF".into()), ("jd".into(), "467".into())]));
        assert_eq!(table.platform_code("SF", "jd"), Some("467"));
        assert_eq!(table.platform_code("SF", "douyin"), None);
        assert_eq!(table.platform_code("ZTO", "jd"), None);
    }
}

//! The configuration as the host uses it: validated, typed, secrets resolved.
//!
//! Nothing here can be wrong in a way the file could be: every value was checked when the
//! file was loaded, and every default is a named constant below.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use serde::Deserialize;

use super::secrets::{Secret, SecretMap, SecretRef};
pub use crate::model::modules::{Interval, MAX_INTERVAL, MIN_INTERVAL, Module};

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
    /// Settings written in an older spelling that is still read (a module's former name):
    /// `wharf serve` logs each at WARN, so the file is fixed before the spelling goes.
    pub deprecated: Vec<super::Problem>,
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
    /// The language its staff read: spreadsheet templates come with headers in it.
    pub language: crate::model::Language,
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
    /// Events per POST: 1 sends each order alone (the first shape); more sends a `batch`
    /// event holding up to that many, each with its own idempotency key
    /// ([`crate::erp::webhook::BATCH_EVENT`]).
    pub batch: usize,
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
        self.intervals[module as usize]
    }

    pub fn set(&mut self, module: Module, interval: Interval) {
        self.intervals[module as usize] = interval;
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

//! The commands and their flags, as clap reads them: what a user types.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{ArgGroup, Subcommand, ValueEnum};
use wharf_runtime::model::{Module, OrderStatus, Timestamp};

/// Where `wharf serve` listens unless its config says otherwise (the default `listen`).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7380";

/// Which server, as whom. Global flags: given anywhere on the command line, before the command
/// or after any of its subcommands.
#[derive(clap::Args, Debug, Clone, Default, PartialEq)]
pub struct Server {
    /// The Wharf server's base URL [default: $WHARF_SERVER, else http://127.0.0.1:7380].
    #[arg(long = "server", id = "server", value_name = "URL", global = true)]
    pub(super) url: Option<String>,
    /// Bearer token: the operator's or one scoped to a tenant [default: $WHARF_TOKEN].
    #[arg(long = "token", id = "token", value_name = "TOKEN", global = true)]
    pub(super) token: Option<String>,
}

impl Server {
    pub(super) fn url(&self) -> String {
        self.url.clone().or_else(|| env("WHARF_SERVER")).unwrap_or_else(|| DEFAULT_SERVER.to_owned())
    }

    pub(super) fn token(&self) -> Option<String> {
        self.token.clone().or_else(|| env("WHARF_TOKEN"))
    }
}

/// An environment variable, unset when empty.
pub(super) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The server's commands that sit beside `plugin`, `serve` and `sandbox`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Tenants: list, show, create, update, delete (changes need the operator's token).
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// A tenant's shops: list, show, add, update, remove.
    Shop {
        #[command(subcommand)]
        command: ShopCommand,
    },
    /// API tokens scoped to one tenant (operator only).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Turn a shop's modules or a SKU's pushes on and off; list switches and holds.
    Switch {
        #[command(subcommand)]
        command: SwitchCommand,
    },
    /// Set a SKU's stock by hand on every shop for a while (automatic stock waits meanwhile).
    Hold {
        #[command(subcommand)]
        command: HoldCommand,
    },
    /// Dead letters: deliveries to the ERP and pushes to shops that gave up.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Records a plugin could not map, set aside with their reason: list, retry, discard.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Updates waiting for a shop's platform ids of their SKU (no order has shown it yet): list, purge.
    Waiting {
        #[command(subcommand)]
        command: WaitingCommand,
    },
    /// Each shop's figures since start and its state (`auth_failed` with the platform's words).
    Progress {
        /// The tenant.
        tenant: String,
    },
    /// Stored orders that cannot be read back (every listing skips them): list, discard.
    Unreadable {
        #[command(subcommand)]
        command: UnreadableCommand,
    },
    /// A tenant's orders as the ERP sees them (unsynced ones unless --sync says otherwise).
    Orders {
        /// The tenant.
        tenant: String,
        #[command(flatten)]
        filter: OrderFilter,
        /// Continue from a previous page's `next_cursor`.
        #[arg(long, conflicts_with = "all_pages")]
        cursor: Option<String>,
        /// Follow `next_cursor` to the end and print every order in one list.
        #[arg(long)]
        all_pages: bool,
    },
    /// A tenant's after-sales as the ERP sees them (unsynced ones; --intercept for the parcels to stop).
    AfterSales {
        /// The tenant.
        tenant: String,
        #[command(flatten)]
        filter: AfterSaleFilter,
        /// Continue from a previous page's `next_cursor`.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Plaintext receivers of orders, for printing waybills (a token granted decrypt; audited).
    Receivers {
        /// The tenant.
        tenant: String,
        /// The shop the orders are from.
        #[arg(long)]
        shop: String,
        /// An order id; repeat for more (at most 100).
        #[arg(long = "order", value_name = "ORDER_ID", required = true)]
        orders: Vec<String>,
        /// Why, for the audit.
        #[arg(long)]
        reason: String,
        /// waybill, delivery or after_sale.
        #[arg(long, default_value = "waybill", value_parser = ["waybill", "delivery", "after_sale"])]
        purpose: String,
    },
    /// The tenant's audit: who changed what, who decrypted which receivers and why.
    Audit {
        /// The tenant.
        tenant: String,
        /// The last this many entries (1–1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Acknowledge orders the ERP has taken: FILE is `[{"platform","shop_id","order_id","version"}]`.
    Ack {
        /// The tenant.
        tenant: String,
        /// JSON array of acknowledgements.
        #[arg(long)]
        file: PathBuf,
    },
    /// Send updates for a tenant's shops: FILE is one canonical record or an array of them.
    Push {
        /// The tenant.
        tenant: String,
        /// What the records are.
        #[arg(value_parser = modules(|m| m.spec().push.is_some()))]
        kind: Module,
        /// JSON record or array of records.
        #[arg(long)]
        file: PathBuf,
    },
    /// Import a spreadsheet of updates; prints the row report. Exit 1 when any row is rejected
    /// (then nothing is applied).
    Import {
        /// The tenant.
        tenant: String,
        /// What the rows are.
        #[arg(value_parser = modules(|m| m.spec().sheet))]
        kind: Module,
        /// The .xlsx file (start from `wharf import-template`).
        file: PathBuf,
    },
    /// Download data as a spreadsheet.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Download an empty import sheet with the header row the server expects.
    ImportTemplate {
        /// The tenant (templates are served under a tenant, for tenant tokens).
        tenant: String,
        /// What the sheet imports.
        #[arg(value_parser = modules(|m| m.spec().sheet))]
        kind: Module,
        /// Where to write the .xlsx file.
        #[arg(long)]
        out: PathBuf,
        /// The header row's language: zh (Chinese headers, the default) or en (field names).
        #[arg(long, value_parser = ["zh", "en"])]
        lang: Option<String>,
    },
}

/// A module's name among those `fits` keeps, as `crate::model::modules` spells it; a former
/// spelling is read too, with a warning on stderr (the API would answer it with one as well).
fn modules(fits: fn(Module) -> bool) -> impl TypedValueParser<Value = Module> {
    let values = Module::ALL
        .into_iter()
        .filter(move |m| fits(*m))
        .map(|m| PossibleValue::new(m.name()).aliases(m.spec().aliases.iter().copied()));
    PossibleValuesParser::new(values).map(|name| {
        let named = Module::named(&name).expect("the possible values are the table's names");
        if let Some(message) = named.deprecation() {
            eprintln!("wharf: warning: {message}");
        }
        named.module
    })
}

/// `wharf plugin …` commands added beside the local inspect/call/test/new.
#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Upload a plugin to the server (operator only). Sends FILE.wasm.sig as its signature when
    /// that file exists and --signature is not given.
    Upload {
        /// The plugin, e.g. target/plugins/taobao.wasm.
        file: PathBuf,
        /// File holding the base64 signature (`wharf plugin sign` writes one).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Make this version the active one (a plugin's first version always is).
        #[arg(long)]
        activate: bool,
        /// Also let the plugin reach this host (`name` or `name:port`); repeat for more.
        #[arg(long = "grant", value_name = "HOST")]
        grants: Vec<String>,
    },
    /// List the server's plugins: active and previous version, versions, pins, grants.
    List,
    /// One plugin, with the descriptor of its active version.
    Show { name: String },
    /// Every uploaded version of a plugin: sha256, when, where from, who signed it.
    Versions { name: String },
    /// Make VERSION the active version for every tenant without a pin.
    Activate { name: String, version: String },
    /// Go back to the previously active version.
    Rollback { name: String },
    /// Keep TENANT on VERSION whatever is active.
    Pin { name: String, tenant: String, version: String },
    /// Let TENANT follow the active version again.
    Unpin { name: String, tenant: String },
    /// Set the hosts the plugin may reach (replaces the list; it must keep the hosts its serving versions declare).
    Grant {
        name: String,
        /// `name` or `name:port`.
        #[arg(required = true, value_name = "HOST")]
        hosts: Vec<String>,
    },
    /// Make an ed25519 key pair for signing plugins (local). With --out, writes PREFIX.key
    /// (mode 0600, never overwritten) and PREFIX.pub; otherwise prints both.
    Keygen {
        /// Path prefix of the two files.
        #[arg(long, value_name = "PREFIX")]
        out: Option<PathBuf>,
    },
    /// Sign a plugin file with a secret key (local); writes the base64 signature.
    Sign {
        /// The plugin to sign.
        file: PathBuf,
        /// The secret key file (`wharf plugin keygen --out PREFIX` wrote PREFIX.key).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signature [default: FILE.sig, e.g. taobao.wasm.sig].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Every tenant the token may see (secrets shown by name only).
    List,
    /// One tenant's document.
    Show { tenant: String },
    /// Create a tenant from a JSON document (api-spec: tenants and shops).
    Create {
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace a tenant's document; credentials left out keep their stored values.
    Update {
        tenant: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete a tenant.
    Delete { tenant: String },
}

#[derive(Subcommand, Debug)]
pub enum ShopCommand {
    /// A tenant's shops.
    List { tenant: String },
    /// One shop.
    Show { tenant: String, shop: String },
    /// Add a shop from a JSON document.
    Add {
        tenant: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Replace a shop's document.
    Update {
        tenant: String,
        shop: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Remove a shop.
    Remove { tenant: String, shop: String },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for TENANT; it is shown once.
    Create {
        tenant: String,
        /// What the token is for, e.g. erp.
        #[arg(long)]
        name: String,
        /// Grant it decrypting receivers for waybills (`wharf receivers`); every use is audited.
        #[arg(long)]
        decrypt: bool,
    },
    /// TENANT's tokens, by id and name (never the tokens themselves).
    List { tenant: String },
    /// Revoke one of TENANT's tokens by its id (from `token list`): it stops working at once.
    Revoke { tenant: String, id: String },
}

#[derive(Subcommand, Debug)]
pub enum SwitchCommand {
    /// Turn one module (orders, after_sales, stock, prices, lots, listing, products, customers, logistics, shipments, erp_status) of one shop on or off.
    Module {
        tenant: String,
        shop: String,
        #[arg(value_parser = modules(|_| true))]
        module: Module,
        state: OnOff,
    },
    /// Turn pushing a SKU's stock, prices or listing on or off in every shop.
    Sku {
        tenant: String,
        sku: String,
        #[arg(value_parser = modules(|m| m.spec().per_sku))]
        kind: Module,
        state: OnOff,
    },
    /// Every switch and hold of a tenant.
    List { tenant: String },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand, Debug)]
pub enum HoldCommand {
    /// Show QUANTITY as the SKU's stock on every shop until a time; the ERP's figures wait.
    #[command(group(ArgGroup::new("when").required(true).args(["until", "for"])))]
    Set {
        tenant: String,
        sku: String,
        /// The stock every shop shows meanwhile.
        #[arg(long)]
        quantity: u64,
        /// When the hold ends (RFC 3339, e.g. 2026-11-12T00:00:00+08:00).
        #[arg(long, id = "until", value_parser = rfc3339_ms, value_name = "RFC3339")]
        until: Option<i64>,
        /// How long the hold lasts from now: a whole number and s, m, h or d (e.g. 2h).
        #[arg(long = "for", id = "for", value_parser = duration_ms, value_name = "DURATION")]
        lasting: Option<i64>,
        /// Why, for whoever reads the switches later.
        #[arg(long)]
        note: Option<String>,
    },
    /// End a hold now.
    Release { tenant: String, sku: String },
}

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// A tenant's dead letters, by queue.
    List { tenant: String },
    /// Put dead letters back in their queue: one (QUEUE ID) or all (--all [--queue Q]).
    Replay {
        tenant: String,
        /// The queue the dead letter is in.
        #[arg(value_enum, required_unless_present = "all", conflicts_with = "all")]
        queue: Option<Queue>,
        /// The dead letter's id, as `wharf dlq list` shows it.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Replay every dead letter (of --queue only, if given).
        #[arg(long)]
        all: bool,
        /// With --all: only this queue.
        #[arg(long = "queue", id = "only", value_enum, requires = "all", value_name = "QUEUE")]
        only: Option<Queue>,
    },
    /// Drop a dead letter for good, saying why.
    Discard {
        tenant: String,
        /// The queue the dead letter is in.
        #[arg(value_enum)]
        queue: Queue,
        /// The dead letter's id, as `wharf dlq list` shows it.
        id: String,
        /// Why it is dropped (the server records it).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum QuarantineCommand {
    /// A tenant's quarantined records with their reasons (of one shop with --shop).
    List {
        tenant: String,
        #[arg(long)]
        shop: Option<String>,
    },
    /// Fetch a quarantined order again in the shop's next round; it flows if it maps now.
    Retry {
        tenant: String,
        shop: String,
        /// The record's own platform id, as `wharf quarantine list` shows it.
        id: String,
        /// The module it came in (`orders`, or an ERP feed).
        #[arg(long, default_value = "orders")]
        module: String,
    },
    /// Drop a quarantined record for good, saying why.
    Discard {
        tenant: String,
        shop: String,
        id: String,
        #[arg(long, default_value = "orders")]
        module: String,
        /// Why it is dropped (the server records it).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum WaitingCommand {
    /// One page of a tenant's waiting updates, by shop, SKU and age.
    List {
        tenant: String,
        #[arg(long)]
        shop: Option<String>,
        /// The merchant's SKU code (outer_sku_id).
        #[arg(long)]
        sku: Option<String>,
        /// Updates per page, 1 to 1000 (the server refuses others).
        #[arg(long)]
        limit: Option<usize>,
        /// Continue from a previous page's `next_cursor`.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Drop waiting updates for good (of --shop, --sku, both, or --all), saying why.
    Purge {
        tenant: String,
        #[arg(long, conflicts_with = "all")]
        shop: Option<String>,
        #[arg(long, conflicts_with = "all")]
        sku: Option<String>,
        /// Every waiting update of the tenant.
        #[arg(long, required_unless_present_any = ["shop", "sku"])]
        all: bool,
        /// Why they are dropped (the server records it).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum UnreadableCommand {
    /// A tenant's unreadable stored orders, with why each cannot be read.
    List { tenant: String },
    /// Remove one (never a readable order), saying why; its next sighting stores it afresh.
    Discard {
        tenant: String,
        platform: String,
        shop: String,
        id: String,
        /// Why it is dropped (the server records it).
        #[arg(long)]
        reason: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    Deliveries,
    Pushes,
}

impl Queue {
    pub(super) fn name(self) -> &'static str {
        match self {
            Queue::Deliveries => "deliveries",
            Queue::Pushes => "pushes",
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// A tenant's orders as .xlsx (the filters of `wharf orders`).
    Orders {
        tenant: String,
        /// Where to write the .xlsx file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        filter: OrderFilter,
    },
    /// A tenant's after-sales as .xlsx (the filters of `wharf after-sales`), to answer them by
    /// hand: the answers go back with `wharf import <tenant> after_sales`.
    AfterSales {
        tenant: String,
        /// Where to write the .xlsx file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        filter: AfterSaleFilter,
    },
}

/// The after-sale filters of `after-sales` and `export after-sales`
/// (api-spec: GET /v1/tenants/{t}/after-sales).
#[derive(clap::Args, Debug, Clone, Default, PartialEq)]
pub struct AfterSaleFilter {
    /// Only those that ask the warehouse to stop the parcel.
    #[arg(long)]
    intercept: bool,
    /// Every sync state, not only unsynced.
    #[arg(long)]
    any_sync: bool,
    /// Only this shop's.
    #[arg(long)]
    shop: Option<String>,
}

impl AfterSaleFilter {
    /// The query parameters, in a fixed order.
    pub(super) fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        query.extend(self.intercept.then(|| ("intercept", "true".to_owned())));
        query.extend(self.any_sync.then(|| ("any_sync", "true".to_owned())));
        query.extend(self.shop.clone().map(|s| ("shop_id", s)));
        query
    }
}

/// The order filters of `orders` and `export orders` (api-spec: GET /v1/tenants/{t}/orders).
#[derive(clap::Args, Debug, Clone, Default, PartialEq)]
pub struct OrderFilter {
    /// ERP sync state [server default: unsynced].
    #[arg(long, value_enum)]
    sync: Option<SyncFilter>,
    /// Only orders in this status.
    #[arg(long, value_parser = order_status)]
    status: Option<String>,
    /// Only orders updated at or after this instant (RFC 3339).
    #[arg(long, value_parser = rfc3339_ms, value_name = "RFC3339")]
    from: Option<i64>,
    /// Only orders updated before this instant (RFC 3339).
    #[arg(long, value_parser = rfc3339_ms, value_name = "RFC3339")]
    to: Option<i64>,
    /// Only orders from this platform, e.g. taobao.
    #[arg(long)]
    platform: Option<String>,
    /// Only orders of this shop id.
    #[arg(long = "shop", value_name = "SHOP")]
    shop_id: Option<String>,
    /// Only this order id.
    #[arg(long)]
    order_id: Option<String>,
    /// Orders per page, 1 to 1000 (the server refuses others).
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncFilter {
    Unsynced,
    Synced,
    Any,
}

impl OrderFilter {
    pub(super) fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        match self.sync {
            Some(SyncFilter::Unsynced) => q.push(("sync", "unsynced".to_owned())),
            Some(SyncFilter::Synced) => q.push(("sync", "synced".to_owned())),
            Some(SyncFilter::Any) => q.push(("any_sync", "true".to_owned())),
            None => {}
        }
        let text = [
            ("status", &self.status),
            ("platform", &self.platform),
            ("shop_id", &self.shop_id),
            ("order_id", &self.order_id),
        ];
        let numbers = [
            ("updated_from", self.from.map(|ms| Timestamp(ms).to_string())),
            ("updated_to", self.to.map(|ms| Timestamp(ms).to_string())),
            ("limit", self.limit.map(|n| n.to_string())),
        ];
        q.extend(text.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))));
        q.extend(numbers.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        q
    }
}

pub(super) fn order_status(text: &str) -> Result<String, String> {
    match OrderStatus::from_name(text) {
        Some(s) => Ok(s.name().to_owned()),
        None => {
            let known: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.name()).collect();
            Err(format!("expected one of {}", known.join(", ")))
        }
    }
}

/// An RFC 3339 instant as the UTC milliseconds the API takes.
pub(super) fn rfc3339_ms(text: &str) -> Result<i64, String> {
    Timestamp::parse_rfc3339(text).map(Timestamp::millis)
}

/// `90s`, `30m`, `2h`, `7d` as milliseconds.
pub(super) fn duration_ms(text: &str) -> Result<i64, String> {
    let expected = "expected a whole number and a unit (s, m, h or d) like 90s, 30m, 2h or 7d";
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{expected}; got {text:?}")),
    };
    let n: i64 = number.parse().map_err(|_| format!("{expected}; got {text:?}"))?;
    match n.checked_mul(unit_ms) {
        Some(0) => Err("a hold of zero length; use `wharf hold release` to end one".to_owned()),
        Some(ms) => Ok(ms),
        None => Err(format!("{text:?} is too long")),
    }
}

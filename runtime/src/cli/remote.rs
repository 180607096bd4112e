//! Commands that drive a running `wharf serve` through its HTTP API, and the local key tools for
//! signed plugins.
//!
//! Each command maps to one route of the API (`request` below, a pure function, so the mapping
//! is tested without a server), `Remote` sends it, and the server's JSON answer is printed as is.
//! An HTTP error prints the server's error object plus its `status` on stderr and exits
//! [`EXIT_CALL`]; a server that cannot be reached exits [`EXIT_HOST`]; a bad argument or input
//! file exits [`EXIT_USAGE`].

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgGroup, Subcommand, ValueEnum};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;
use wharf_runtime::model::{OrderStatus, Timestamp};
use wharf_runtime::registry::signature::{self, SignatureError};

use super::{EXIT_CALL, EXIT_HOST, EXIT_USAGE};

/// Where `wharf serve` listens unless its config says otherwise (the default `listen`).
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7380";
/// A server on the same host or LAN accepts at once; after this long it is down or unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One request end to end: an upload compiles and validates the plugin and a large sheet is
/// checked row by row, both well under this on the 2-core machines Wharf targets.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Pages `orders --all-pages` follows before deciding the server is looping.
const MAX_ORDER_PAGES: usize = 100_000;
/// The header an upload carries its signature in (api-spec: plugins).
const SIGNATURE_HEADER: &str = "X-Wharf-Signature";
const JSON_TYPE: &str = "application/json";
const WASM_TYPE: &str = "application/wasm";
const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

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
    fn url(&self) -> String {
        self.url.clone().or_else(|| env("WHARF_SERVER")).unwrap_or_else(|| DEFAULT_SERVER.to_owned())
    }

    fn token(&self) -> Option<String> {
        self.token.clone().or_else(|| env("WHARF_TOKEN"))
    }
}

/// An environment variable, unset when empty.
fn env(name: &str) -> Option<String> {
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
        #[arg(value_parser = UPDATE_KINDS)]
        kind: String,
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
        #[arg(value_parser = IMPORT_KINDS)]
        kind: String,
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
        #[arg(value_parser = IMPORT_KINDS)]
        kind: String,
        /// Where to write the .xlsx file.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Kinds `POST /v1/tenants/{t}/updates/{kind}` takes (api-spec: ERP side).
const UPDATE_KINDS: [&str; 9] =
    ["stock", "prices", "lots", "listing", "products", "customers", "logistics", "shipments", "erp-status"];
/// Kinds `POST /v1/tenants/{t}/imports/{kind}` takes (api-spec: ERP side).
const IMPORT_KINDS: [&str; 5] = ["stock", "prices", "lots", "products", "customers"];

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
    },
}

#[derive(Subcommand, Debug)]
pub enum SwitchCommand {
    /// Turn one module (orders, stock, price, batches, listing, products, customers, logistics, shipments, erp_status) of one shop on or off.
    Module { tenant: String, shop: String, module: String, state: OnOff },
    /// Turn pushing a SKU's stock, price or listing on or off in every shop.
    Sku { tenant: String, sku: String, kind: SkuKind, state: OnOff },
    /// Every switch and hold of a tenant.
    List { tenant: String },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOff {
    On,
    Off,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkuKind {
    Stock,
    Price,
    Listing,
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
    fn name(self) -> &'static str {
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
    fn query(&self) -> Vec<(&'static str, String)> {
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

fn order_status(text: &str) -> Result<String, String> {
    match OrderStatus::from_name(text) {
        Some(s) => Ok(s.name().to_owned()),
        None => {
            let known: Vec<&str> = OrderStatus::ALL.iter().map(|s| s.name()).collect();
            Err(format!("expected one of {}", known.join(", ")))
        }
    }
}

/// An RFC 3339 instant as the UTC milliseconds the API takes.
fn rfc3339_ms(text: &str) -> Result<i64, String> {
    Timestamp::parse_rfc3339(text).map(Timestamp::millis)
}

/// `90s`, `30m`, `2h`, `7d` as milliseconds.
fn duration_ms(text: &str) -> Result<i64, String> {
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

/// One call to the API, before any file is read.
#[derive(Debug, Clone, PartialEq)]
struct Request {
    method: Method,
    /// Segments after the base URL, unescaped (`Remote` escapes them).
    path: Vec<String>,
    query: Vec<(&'static str, String)>,
    body: Body,
    answer: Answer,
}

/// What a request sends.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    Empty,
    Json(Value),
    /// A JSON file, checked to be JSON before it is sent.
    JsonFile(PathBuf),
    Xlsx(PathBuf),
    /// A plugin, with the file its signature is in.
    Wasm {
        file: PathBuf,
        signature: Option<SignatureFile>,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct SignatureFile {
    path: PathBuf,
    /// Given with --signature (so it must exist), rather than found beside the plugin.
    required: bool,
}

/// What to do with a successful answer.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// Print the JSON.
    Json,
    /// Write the bytes to this file.
    SaveTo(PathBuf),
    /// A sheet import: a 422 carries the row report too.
    ImportReport,
    /// An order page: follow `next_cursor` to the end.
    AllOrderPages,
}

impl Request {
    fn new(method: Method, path: &[&str]) -> Self {
        Request {
            method,
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: Body::Empty,
            answer: Answer::Json,
        }
    }

    fn get(path: &[&str]) -> Self {
        Request::new(Method::GET, path)
    }

    fn post(path: &[&str], body: Body) -> Self {
        Request { body, ..Request::new(Method::POST, path) }
    }

    fn put(path: &[&str], body: Body) -> Self {
        Request { body, ..Request::new(Method::PUT, path) }
    }

    fn delete(path: &[&str]) -> Self {
        Request::new(Method::DELETE, path)
    }

    fn query(mut self, query: Vec<(&'static str, String)>) -> Self {
        self.query = query;
        self
    }

    fn answer(mut self, answer: Answer) -> Self {
        self.answer = answer;
        self
    }

    /// The full URL under `base` (which may carry a path prefix of its own).
    fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(&self.path);
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        url
    }
}

fn on(state: OnOff) -> Body {
    Body::Json(json!({"on": state == OnOff::On}))
}

impl Command {
    /// The API call this command makes; `now_ms` places `--for` holds in time.
    fn request(&self, now_ms: i64) -> Result<Request, RemoteError> {
        const V1: &str = "v1";
        const TENANTS: &str = "tenants";
        Ok(match self {
            Command::Tenant { command, .. } => match command {
                TenantCommand::List => Request::get(&[V1, TENANTS]),
                TenantCommand::Show { tenant } => Request::get(&[V1, TENANTS, tenant]),
                TenantCommand::Create { file } => Request::post(&[V1, TENANTS], Body::JsonFile(file.clone())),
                TenantCommand::Update { tenant, file } => {
                    Request::put(&[V1, TENANTS, tenant], Body::JsonFile(file.clone()))
                }
                TenantCommand::Delete { tenant } => Request::delete(&[V1, TENANTS, tenant]),
            },
            Command::Shop { command, .. } => match command {
                ShopCommand::List { tenant } => Request::get(&[V1, TENANTS, tenant, "shops"]),
                ShopCommand::Show { tenant, shop } => Request::get(&[V1, TENANTS, tenant, "shops", shop]),
                ShopCommand::Add { tenant, file } => {
                    Request::post(&[V1, TENANTS, tenant, "shops"], Body::JsonFile(file.clone()))
                }
                ShopCommand::Update { tenant, shop, file } => {
                    Request::put(&[V1, TENANTS, tenant, "shops", shop], Body::JsonFile(file.clone()))
                }
                ShopCommand::Remove { tenant, shop } => Request::delete(&[V1, TENANTS, tenant, "shops", shop]),
            },
            Command::Token { command: TokenCommand::Create { tenant, name }, .. } => {
                Request::post(&[V1, TENANTS, tenant, "tokens"], Body::Json(json!({ "name": name })))
            }
            Command::Switch { command, .. } => match command {
                SwitchCommand::Module { tenant, shop, module, state } => {
                    Request::put(&[V1, TENANTS, tenant, "shops", shop, "modules", module], on(*state))
                }
                SwitchCommand::Sku { tenant, sku, kind, state } => {
                    let kind = match kind {
                        SkuKind::Stock => "stock",
                        SkuKind::Price => "price",
                        SkuKind::Listing => "listing",
                    };
                    Request::put(&[V1, TENANTS, tenant, "skus", sku, kind], on(*state))
                }
                SwitchCommand::List { tenant } => Request::get(&[V1, TENANTS, tenant, "switches"]),
            },
            Command::Hold { command, .. } => match command {
                HoldCommand::Set { tenant, sku, quantity, until, lasting, note } => {
                    let until = match (until, lasting) {
                        (Some(until), _) => *until,
                        (None, Some(ms)) => now_ms.saturating_add(*ms),
                        (None, None) => return Err(RemoteError::Usage("hold set needs --until or --for".to_owned())),
                    };
                    if until <= now_ms {
                        return Err(RemoteError::Usage(format!(
                            "--until {} is not in the future (now is {})",
                            Timestamp(until),
                            Timestamp(now_ms)
                        )));
                    }
                    let mut body = json!({"quantity": quantity, "until": Timestamp(until)});
                    if let Some(note) = note {
                        body["note"] = json!(note);
                    }
                    Request::put(&[V1, TENANTS, tenant, "holds", sku], Body::Json(body))
                }
                HoldCommand::Release { tenant, sku } => Request::delete(&[V1, TENANTS, tenant, "holds", sku]),
            },
            Command::Dlq { command, .. } => match command {
                DlqCommand::List { tenant } => Request::get(&[V1, TENANTS, tenant, "dead-letters"]),
                DlqCommand::Replay { tenant, all: true, only, .. } => {
                    let body = only.map_or(Body::Empty, |q| Body::Json(json!({"queue": q.name()})));
                    Request::post(&[V1, TENANTS, tenant, "dead-letters", "replay"], body)
                }
                DlqCommand::Replay { tenant, queue: Some(queue), id: Some(id), .. } => {
                    Request::post(&[V1, TENANTS, tenant, "dead-letters", queue.name(), id, "replay"], Body::Empty)
                }
                DlqCommand::Replay { .. } => {
                    return Err(RemoteError::Usage("dlq replay needs QUEUE ID, or --all".to_owned()));
                }
                DlqCommand::Discard { tenant, queue, id, reason } => Request::post(
                    &[V1, TENANTS, tenant, "dead-letters", queue.name(), id, "discard"],
                    Body::Json(json!({ "reason": reason })),
                ),
            },
            Command::Quarantine { command, .. } => match command {
                QuarantineCommand::List { tenant, shop } => Request::get(&[V1, TENANTS, tenant, "quarantine"])
                    .query(shop.clone().map(|s| ("shop", s)).into_iter().collect()),
                QuarantineCommand::Retry { tenant, shop, id, module } => {
                    Request::post(&[V1, TENANTS, tenant, "quarantine", shop, module, id, "retry"], Body::Empty)
                }
                QuarantineCommand::Discard { tenant, shop, id, module, reason } => Request::post(
                    &[V1, TENANTS, tenant, "quarantine", shop, module, id, "discard"],
                    Body::Json(json!({ "reason": reason })),
                ),
            },
            Command::Waiting { command } => match command {
                WaitingCommand::List { tenant, shop, sku, limit, cursor } => {
                    let query = [("shop", shop.clone()), ("sku", sku.clone()), ("limit", limit.map(|l| l.to_string()))]
                        .into_iter()
                        .chain([("cursor", cursor.clone())])
                        .filter_map(|(k, v)| v.map(|v| (k, v)))
                        .collect();
                    Request::get(&[V1, TENANTS, tenant, "updates", "waiting"]).query(query)
                }
                WaitingCommand::Purge { tenant, shop, sku, all, reason } => {
                    let mut body = json!({"reason": reason});
                    for (k, v) in [("shop", shop), ("sku", sku)] {
                        if let Some(v) = v {
                            body[k] = json!(v);
                        }
                    }
                    if *all {
                        body["all"] = json!(true);
                    }
                    Request::post(&[V1, TENANTS, tenant, "updates", "waiting", "purge"], Body::Json(body))
                }
            },
            Command::Progress { tenant } => Request::get(&[V1, TENANTS, tenant, "progress"]),
            Command::Unreadable { command } => match command {
                UnreadableCommand::List { tenant } => Request::get(&[V1, TENANTS, tenant, "orders", "unreadable"]),
                UnreadableCommand::Discard { tenant, platform, shop, id, reason } => Request::post(
                    &[V1, TENANTS, tenant, "orders", "unreadable", platform, shop, id, "discard"],
                    Body::Json(json!({ "reason": reason })),
                ),
            },
            Command::Orders { tenant, filter, cursor, all_pages, .. } => {
                let mut query = filter.query();
                query.extend(cursor.clone().map(|c| ("cursor", c)));
                let answer = if *all_pages { Answer::AllOrderPages } else { Answer::Json };
                Request::get(&[V1, TENANTS, tenant, "orders"]).query(query).answer(answer)
            }
            Command::Ack { tenant, file, .. } => {
                Request::post(&[V1, TENANTS, tenant, "orders", "ack"], Body::JsonFile(file.clone()))
            }
            Command::Push { tenant, kind, file, .. } => {
                Request::post(&[V1, TENANTS, tenant, "updates", kind], Body::JsonFile(file.clone()))
            }
            Command::Import { tenant, kind, file, .. } => {
                Request::post(&[V1, TENANTS, tenant, "imports", kind], Body::Xlsx(file.clone()))
                    .answer(Answer::ImportReport)
            }
            Command::Export { command: ExportCommand::Orders { tenant, out, filter }, .. } => {
                Request::get(&[V1, TENANTS, tenant, "orders.xlsx"])
                    .query(filter.query())
                    .answer(Answer::SaveTo(out.clone()))
            }
            Command::ImportTemplate { tenant, kind, out, .. } => {
                Request::get(&[V1, TENANTS, tenant, "imports", kind, "template.xlsx"])
                    .answer(Answer::SaveTo(out.clone()))
            }
        })
    }
}

impl PluginCommand {
    /// The API call of a remote command; `None` for the local keygen and sign.
    fn request(&self) -> Option<Request> {
        const PLUGINS: [&str; 2] = ["v1", "plugins"];
        let at = |rest: &[&str]| -> Vec<String> { PLUGINS.iter().chain(rest).map(|s| (*s).to_owned()).collect() };
        let with_path = |mut r: Request, rest: &[&str]| {
            r.path = at(rest);
            r
        };
        Some(match self {
            PluginCommand::Upload { file, signature, activate, grants } => {
                let signature = match signature {
                    Some(path) => SignatureFile { path: path.clone(), required: true },
                    None => SignatureFile { path: with_suffix(file, ".sig"), required: false },
                };
                let mut query = Vec::new();
                if *activate {
                    query.push(("activate", "true".to_owned()));
                }
                if !grants.is_empty() {
                    query.push(("grant", grants.join(",")));
                }
                let body = Body::Wasm { file: file.clone(), signature: Some(signature) };
                Request::post(&PLUGINS, body).query(query)
            }
            PluginCommand::List => Request::get(&PLUGINS),
            PluginCommand::Show { name } => with_path(Request::get(&[]), &[name]),
            PluginCommand::Versions { name } => with_path(Request::get(&[]), &[name, "versions"]),
            PluginCommand::Activate { name, version } => {
                let body = Body::Json(json!({ "version": version }));
                with_path(Request::post(&[], body), &[name, "activate"])
            }
            PluginCommand::Rollback { name } => with_path(Request::post(&[], Body::Empty), &[name, "rollback"]),
            PluginCommand::Pin { name, tenant, version } => {
                let body = Body::Json(json!({ "version": version }));
                with_path(Request::put(&[], body), &[name, "pins", tenant])
            }
            PluginCommand::Unpin { name, tenant } => with_path(Request::delete(&[]), &[name, "pins", tenant]),
            PluginCommand::Grant { name, hosts } => {
                let body = Body::Json(json!({ "hosts": hosts }));
                with_path(Request::put(&[], body), &[name, "grants"])
            }
            PluginCommand::Keygen { .. } | PluginCommand::Sign { .. } => return None,
        })
    }
}

/// `path` with `suffix` added to its file name: `a/taobao.wasm` + `.sig` → `a/taobao.wasm.sig`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Why a remote command failed; each kind has its exit code.
#[derive(Debug, thiserror::Error)]
enum RemoteError {
    /// A bad argument, input file or output path.
    #[error("{0}")]
    Usage(String),
    /// The server answered with an error: its JSON plus the status.
    #[error("{body}")]
    Http { body: Value },
    /// A sheet import was refused row by row: the report goes to stdout too.
    #[error("{body}")]
    Rejected { body: Value },
    /// No answer from the server, or one this command cannot read.
    #[error("{0}")]
    Host(String),
}

impl RemoteError {
    /// Prints the failure as the CLI does everywhere: one JSON object on stderr.
    fn exit(self) -> ExitCode {
        let (line, code) = match self {
            RemoteError::Usage(message) => (json!({"error": "usage", "message": message}), EXIT_USAGE),
            RemoteError::Http { body } => (body, EXIT_CALL),
            RemoteError::Rejected { body } => {
                print_json(&body);
                let status = body.get("status").cloned().unwrap_or(json!(422));
                let message = body.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| {
                    let rows = body.get("rows").and_then(Value::as_array);
                    let refused = rows.map_or(0, |r| r.iter().filter(|r| r["accepted"] == json!(false)).count());
                    format!(
                        "the sheet was rejected ({refused} rows refused; the report is on stdout); nothing was applied"
                    )
                });
                (json!({"error": "rejected", "status": status, "message": message}), EXIT_CALL)
            }
            RemoteError::Host(message) => (json!({"error": "host", "message": message}), EXIT_HOST),
        };
        eprintln!("{line}");
        ExitCode::from(code)
    }
}

/// The error object of a failed answer: the server's JSON with `status` added, or one made from
/// a body that is not JSON (a proxy's page, a framework's plain-text rejection).
fn http_error(status: StatusCode, bytes: &[u8]) -> Value {
    let kind = match status.as_u16() {
        400 => "invalid_input".to_owned(),
        401 => "unauthorized".to_owned(),
        403 => "forbidden".to_owned(),
        404 => "not_found".to_owned(),
        409 => "conflict".to_owned(),
        422 => "rejected".to_owned(),
        code => format!("http_{code}"),
    };
    let mut body = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => {
            let text = String::from_utf8_lossy(bytes).trim().to_owned();
            let message =
                if text.is_empty() { status.canonical_reason().unwrap_or("no message").to_owned() } else { text };
            json!({ "message": message })
        }
    };
    if body.get("error").is_none() {
        body["error"] = json!(kind);
    }
    body["status"] = json!(status.as_u16());
    body
}

/// A client of one Wharf server.
struct Remote {
    base: Url,
    token: Option<String>,
    client: reqwest::Client,
}

/// A successful answer.
struct Reply {
    status: StatusCode,
    bytes: Vec<u8>,
}

impl Remote {
    fn new(server: &Server) -> Result<Self, RemoteError> {
        let text = server.url();
        let base = Url::parse(&text).map_err(|e| RemoteError::Usage(format!("--server {text:?} is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(RemoteError::Usage(format!("--server {text:?}: expected an http:// or https:// URL")));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| RemoteError::Host(format!("cannot start an HTTP client: {}", chain(&e))))?;
        Ok(Remote { base, token: server.token(), client })
    }

    /// Sends `request`; a non-2xx answer is [`RemoteError::Http`].
    async fn send(&self, request: &Request) -> Result<Reply, RemoteError> {
        let url = request.url(&self.base);
        let mut builder = self.client.request(request.method.clone(), url.clone());
        if let Some(token) = &self.token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some((content_type, bytes)) = body_bytes(&request.body)? {
            builder = builder.header(CONTENT_TYPE, content_type).body(bytes);
        }
        if let Body::Wasm { signature: Some(file), .. } = &request.body
            && let Some(signature) = read_signature(file)?
        {
            builder = builder.header(SIGNATURE_HEADER, signature);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| RemoteError::Host(format!("cannot reach the Wharf server at {}: {}", self.base, chain(&e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| RemoteError::Host(format!("reading the answer of {} {url}: {}", request.method, chain(&e))))?
            .to_vec();
        if !status.is_success() {
            return Err(RemoteError::Http { body: http_error(status, &bytes) });
        }
        Ok(Reply { status, bytes })
    }

    /// Sends `request` and reads its JSON answer; an empty answer (204) is `{"status": 204}`.
    async fn json(&self, request: &Request) -> Result<Value, RemoteError> {
        let reply = self.send(request).await?;
        if reply.bytes.is_empty() {
            return Ok(json!({ "status": reply.status.as_u16() }));
        }
        serde_json::from_slice(&reply.bytes).map_err(|e| {
            RemoteError::Host(format!(
                "{} {} answered {} with a body that is not JSON: {e}",
                request.method,
                request.url(&self.base),
                reply.status
            ))
        })
    }

    /// Carries out `request` and says what to print.
    async fn perform(&self, request: &Request) -> Result<Value, RemoteError> {
        match &request.answer {
            Answer::Json => self.json(request).await,
            Answer::SaveTo(path) => {
                let reply = self.send(request).await?;
                std::fs::write(path, &reply.bytes)
                    .map_err(|e| RemoteError::Usage(format!("cannot write {}: {e}", path.display())))?;
                Ok(json!({"written": path, "bytes": reply.bytes.len()}))
            }
            Answer::ImportReport => match self.json(request).await {
                Err(RemoteError::Http { body }) if body.get("rows").is_some() => Err(RemoteError::Rejected { body }),
                other => other,
            },
            Answer::AllOrderPages => self.all_order_pages(request).await,
        }
    }

    async fn all_order_pages(&self, first: &Request) -> Result<Value, RemoteError> {
        let mut orders: Vec<Value> = Vec::new();
        let mut page_request = first.clone();
        for _ in 0..MAX_ORDER_PAGES {
            let mut page = self.json(&page_request).await?;
            match page.get_mut("orders").map(Value::take) {
                Some(Value::Array(more)) => orders.extend(more),
                _ => return Err(RemoteError::Host(format!("an order page without an `orders` list: {page}"))),
            }
            let next = match page.get("next_cursor") {
                None | Some(Value::Null) => return Ok(json!({"orders": orders, "next_cursor": null})),
                Some(Value::String(c)) => c.clone(),
                Some(other) => return Err(RemoteError::Host(format!("next_cursor is not a string: {other}"))),
            };
            let previous = page_request.query.iter().find(|(k, _)| *k == "cursor").map(|(_, v)| v);
            if previous == Some(&next) {
                return Err(RemoteError::Host(format!("the server gave the same cursor {next:?} twice; stopping")));
            }
            page_request = first.clone();
            page_request.query.push(("cursor", next));
        }
        Err(RemoteError::Host(format!("more than {MAX_ORDER_PAGES} pages of orders; stopping")))
    }
}

/// An error and its causes on one line (reqwest's own message omits the cause, e.g. "refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, RemoteError> {
    std::fs::read(path).map_err(|e| RemoteError::Usage(format!("cannot read {what} {}: {e}", path.display())))
}

/// The content type and bytes a body sends, if any.
fn body_bytes(body: &Body) -> Result<Option<(&'static str, Vec<u8>)>, RemoteError> {
    Ok(match body {
        Body::Empty => None,
        Body::Json(value) => {
            Some((JSON_TYPE, serde_json::to_vec(value).map_err(|e| RemoteError::Usage(e.to_string()))?))
        }
        Body::JsonFile(path) => {
            let bytes = read(path, "--file")?;
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                return Err(RemoteError::Usage(format!("--file {} is not valid JSON: {e}", path.display())));
            }
            Some((JSON_TYPE, bytes))
        }
        Body::Xlsx(path) => Some((XLSX_TYPE, read(path, "sheet")?)),
        Body::Wasm { file, .. } => Some((WASM_TYPE, read(file, "plugin")?)),
    })
}

/// The signature text to send: trimmed, and only when the file is there (or was asked for).
fn read_signature(file: &SignatureFile) -> Result<Option<String>, RemoteError> {
    if !file.required && !file.path.exists() {
        return Ok(None);
    }
    let bytes = read(&file.path, "--signature")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| RemoteError::Usage(format!("signature {} is not base64 text", file.path.display())))?;
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)) {
        return Err(RemoteError::Usage(format!(
            "signature {} is not base64 text (what `wharf plugin sign` writes)",
            file.path.display()
        )));
    }
    Ok(Some(text.to_owned()))
}

fn print_json(value: &Value) {
    // A closed pipe (`… | head`) is the reader's choice, not a failure to report.
    let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn finish(outcome: Result<Value, RemoteError>) -> ExitCode {
    match outcome {
        Ok(value) => {
            print_json(&value);
            ExitCode::SUCCESS
        }
        Err(e) => e.exit(),
    }
}

/// Runs one of the server commands.
pub async fn run(command: Command, server: &Server) -> ExitCode {
    let now_ms = Timestamp::now().millis();
    let outcome = async {
        let request = command.request(now_ms)?;
        Remote::new(server)?.perform(&request).await
    };
    finish(outcome.await)
}

/// Runs one of the `plugin` commands of this module.
pub async fn run_plugin(command: PluginCommand, server: &Server) -> ExitCode {
    let outcome = match (&command, command.request()) {
        (_, Some(request)) => match Remote::new(server) {
            Ok(remote) => remote.perform(&request).await,
            Err(e) => Err(e),
        },
        (PluginCommand::Keygen { out }, None) => keygen(out.as_deref()),
        (PluginCommand::Sign { file, key, out }, None) => sign(file, key, out.as_deref()),
        (_, None) => unreachable!("only keygen and sign are local"),
    };
    finish(outcome)
}

fn key_error(e: SignatureError, file: Option<&Path>) -> RemoteError {
    match (e, file) {
        (SignatureError::Randomness(m), _) => RemoteError::Host(m),
        (e, Some(file)) => RemoteError::Usage(format!("{}: {e}", file.display())),
        (e, None) => RemoteError::Usage(e.to_string()),
    }
}

/// `wharf plugin keygen`.
fn keygen(out: Option<&Path>) -> Result<Value, RemoteError> {
    let pair = signature::generate().map_err(|e| key_error(e, None))?;
    let Some(prefix) = out else {
        return Ok(json!({"secret": pair.secret, "public": pair.public, "key_id": pair.key_id}));
    };
    let (secret_file, public_file) = (with_suffix(prefix, ".key"), with_suffix(prefix, ".pub"));
    for file in [&secret_file, &public_file] {
        if file.exists() {
            return Err(RemoteError::Usage(format!("{} exists; not overwriting a key", file.display())));
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = |options: &std::fs::OpenOptions, file: &Path, text: &str| {
        options
            .open(file)
            .and_then(|mut f| writeln!(f, "{text}"))
            .map_err(|e| RemoteError::Usage(format!("cannot write {}: {e}", file.display())))
    };
    write(&options, &secret_file, &pair.secret)?;
    let mut public_options = std::fs::OpenOptions::new();
    public_options.write(true).create_new(true);
    write(&public_options, &public_file, &pair.public)?;
    Ok(json!({"public": pair.public, "key_id": pair.key_id, "secret_file": secret_file, "public_file": public_file}))
}

/// `wharf plugin sign`.
fn sign(file: &Path, key: &Path, out: Option<&Path>) -> Result<Value, RemoteError> {
    let secret = String::from_utf8(read(key, "--key")?)
        .map_err(|_| RemoteError::Usage(format!("--key {} is not base64 text", key.display())))?;
    let wasm = read(file, "plugin")?;
    let signature = signature::sign(&secret, &wasm).map_err(|e| key_error(e, Some(key)))?;
    let public = signature::public_key(&secret).map_err(|e| key_error(e, Some(key)))?;
    let key_id = signature::key_id(&public).map_err(|e| key_error(e, Some(key)))?;
    let out = out.map_or_else(|| with_suffix(file, ".sig"), Path::to_path_buf);
    std::fs::write(&out, format!("{signature}\n"))
        .map_err(|e| RemoteError::Usage(format!("cannot write {}: {e}", out.display())))?;
    Ok(json!({"signature": signature, "key_id": key_id, "written": out}))
}

#[cfg(test)]
mod tests {
    use super::super::{Args, Command as Top, PluginCommand as TopPlugin};
    use super::*;
    use clap::Parser as _;

    /// 2026-11-11T00:00:00Z.
    const NOW: i64 = 1_794_355_200_000;

    fn base() -> Url {
        Url::parse(DEFAULT_SERVER).unwrap()
    }

    /// The server and request of a command line.
    fn request(argv: &[&str]) -> Result<(Server, Request), RemoteError> {
        let args = Args::try_parse_from(std::iter::once("wharf").chain(argv.iter().copied()))
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        match args.command {
            Top::Remote(c) => Ok((args.server, c.request(NOW)?)),
            Top::Plugin(TopPlugin::Registry(c)) => Ok((args.server, c.request().expect("a remote plugin command"))),
            other => panic!("not a remote command: {other:?}"),
        }
    }

    /// Method, URL and body of a command line.
    fn call(argv: &[&str]) -> (Method, String, Body) {
        let (_, r) = request(argv).unwrap();
        (r.method.clone(), r.url(&base()).to_string(), r.body)
    }

    const API: &str = "http://127.0.0.1:7380";

    #[test]
    fn plugin_commands_map_to_plugin_routes() {
        let (method, url, body) =
            call(&["plugin", "upload", "t/taobao.wasm", "--activate", "--grant", "a.com", "--grant", "b:81"]);
        assert_eq!(
            (method, url.as_str()),
            (Method::POST, &*format!("{API}/v1/plugins?activate=true&grant=a.com%2Cb%3A81"))
        );
        let sig = SignatureFile { path: "t/taobao.wasm.sig".into(), required: false };
        assert_eq!(body, Body::Wasm { file: "t/taobao.wasm".into(), signature: Some(sig) });

        let (_, url, body) = call(&["plugin", "upload", "x.wasm", "--signature", "s.b64"]);
        assert_eq!(url, format!("{API}/v1/plugins"));
        let sig = SignatureFile { path: "s.b64".into(), required: true };
        assert_eq!(body, Body::Wasm { file: "x.wasm".into(), signature: Some(sig) });

        let cases: [(&[&str], Method, &str, Body); 8] = [
            (&["plugin", "list"], Method::GET, "/v1/plugins", Body::Empty),
            (&["plugin", "show", "taobao"], Method::GET, "/v1/plugins/taobao", Body::Empty),
            (&["plugin", "versions", "taobao"], Method::GET, "/v1/plugins/taobao/versions", Body::Empty),
            (
                &["plugin", "activate", "taobao", "1.1.0"],
                Method::POST,
                "/v1/plugins/taobao/activate",
                Body::Json(json!({"version": "1.1.0"})),
            ),
            (&["plugin", "rollback", "taobao"], Method::POST, "/v1/plugins/taobao/rollback", Body::Empty),
            (
                &["plugin", "pin", "taobao", "acme", "1.0.0"],
                Method::PUT,
                "/v1/plugins/taobao/pins/acme",
                Body::Json(json!({"version": "1.0.0"})),
            ),
            (&["plugin", "unpin", "taobao", "acme"], Method::DELETE, "/v1/plugins/taobao/pins/acme", Body::Empty),
            (
                &["plugin", "grant", "taobao", "eco.taobao.com", "127.0.0.1:8080"],
                Method::PUT,
                "/v1/plugins/taobao/grants",
                Body::Json(json!({"hosts": ["eco.taobao.com", "127.0.0.1:8080"]})),
            ),
        ];
        for (argv, method, path, body) in cases {
            assert_eq!(call(argv), (method, format!("{API}{path}"), body), "{argv:?}");
        }
    }

    #[test]
    fn tenant_side_commands_map_to_their_routes() {
        let file = |p: &str| Body::JsonFile(p.into());
        let cases: Vec<(&[&str], Method, &str, Body)> = vec![
            (&["tenant", "list"], Method::GET, "/v1/tenants", Body::Empty),
            (&["tenant", "show", "acme"], Method::GET, "/v1/tenants/acme", Body::Empty),
            (&["progress", "acme"], Method::GET, "/v1/tenants/acme/progress", Body::Empty),
            (&["tenant", "create", "--file", "t.json"], Method::POST, "/v1/tenants", file("t.json")),
            (&["tenant", "update", "acme", "--file", "t.json"], Method::PUT, "/v1/tenants/acme", file("t.json")),
            (&["tenant", "delete", "acme"], Method::DELETE, "/v1/tenants/acme", Body::Empty),
            (&["shop", "list", "acme"], Method::GET, "/v1/tenants/acme/shops", Body::Empty),
            (&["shop", "add", "acme", "--file", "s.json"], Method::POST, "/v1/tenants/acme/shops", file("s.json")),
            (
                &["shop", "update", "acme", "tb", "--file", "s.json"],
                Method::PUT,
                "/v1/tenants/acme/shops/tb",
                file("s.json"),
            ),
            (&["shop", "remove", "acme", "tb"], Method::DELETE, "/v1/tenants/acme/shops/tb", Body::Empty),
            (
                &["token", "create", "acme", "--name", "erp"],
                Method::POST,
                "/v1/tenants/acme/tokens",
                Body::Json(json!({"name": "erp"})),
            ),
            (
                &["switch", "module", "acme", "tb", "stock", "off"],
                Method::PUT,
                "/v1/tenants/acme/shops/tb/modules/stock",
                Body::Json(json!({"on": false})),
            ),
            (
                &["switch", "sku", "acme", "SKU-1", "price", "on"],
                Method::PUT,
                "/v1/tenants/acme/skus/SKU-1/price",
                Body::Json(json!({"on": true})),
            ),
            (&["switch", "list", "acme"], Method::GET, "/v1/tenants/acme/switches", Body::Empty),
            (&["hold", "release", "acme", "SKU-1"], Method::DELETE, "/v1/tenants/acme/holds/SKU-1", Body::Empty),
            (&["dlq", "list", "acme"], Method::GET, "/v1/tenants/acme/dead-letters", Body::Empty),
            (&["quarantine", "list", "acme"], Method::GET, "/v1/tenants/acme/quarantine", Body::Empty),
            (&["waiting", "list", "acme"], Method::GET, "/v1/tenants/acme/updates/waiting", Body::Empty),
            (
                &["waiting", "purge", "acme", "--shop", "tb", "--sku", "FG-1", "--reason", "discontinued"],
                Method::POST,
                "/v1/tenants/acme/updates/waiting/purge",
                Body::Json(json!({"shop": "tb", "sku": "FG-1", "reason": "discontinued"})),
            ),
            (
                &["waiting", "purge", "acme", "--all", "--reason", "old import"],
                Method::POST,
                "/v1/tenants/acme/updates/waiting/purge",
                Body::Json(json!({"all": true, "reason": "old import"})),
            ),
            (&["unreadable", "list", "acme"], Method::GET, "/v1/tenants/acme/orders/unreadable", Body::Empty),
            (
                &["unreadable", "discard", "acme", "taobao", "tb", "7", "--reason", "year 10000"],
                Method::POST,
                "/v1/tenants/acme/orders/unreadable/taobao/tb/7/discard",
                Body::Json(json!({"reason": "year 10000"})),
            ),
            (
                &["quarantine", "retry", "acme", "dy-1", "6920000000000000001"],
                Method::POST,
                "/v1/tenants/acme/quarantine/dy-1/orders/6920000000000000001/retry",
                Body::Empty,
            ),
            (
                &["quarantine", "discard", "acme", "dy-1", "69", "--reason", "test order"],
                Method::POST,
                "/v1/tenants/acme/quarantine/dy-1/orders/69/discard",
                Body::Json(json!({"reason": "test order"})),
            ),
            (
                &["dlq", "replay", "acme", "pushes", "17"],
                Method::POST,
                "/v1/tenants/acme/dead-letters/pushes/17/replay",
                Body::Empty,
            ),
            (&["dlq", "replay", "acme", "--all"], Method::POST, "/v1/tenants/acme/dead-letters/replay", Body::Empty),
            (
                &["dlq", "replay", "acme", "--all", "--queue", "deliveries"],
                Method::POST,
                "/v1/tenants/acme/dead-letters/replay",
                Body::Json(json!({"queue": "deliveries"})),
            ),
            (
                &["dlq", "discard", "acme", "deliveries", "3", "--reason", "ERP has it"],
                Method::POST,
                "/v1/tenants/acme/dead-letters/deliveries/3/discard",
                Body::Json(json!({"reason": "ERP has it"})),
            ),
            (&["ack", "acme", "--file", "a.json"], Method::POST, "/v1/tenants/acme/orders/ack", file("a.json")),
            (
                &["push", "acme", "erp-status", "--file", "u.json"],
                Method::POST,
                "/v1/tenants/acme/updates/erp-status",
                file("u.json"),
            ),
            (
                &["import", "acme", "stock", "s.xlsx"],
                Method::POST,
                "/v1/tenants/acme/imports/stock",
                Body::Xlsx("s.xlsx".into()),
            ),
            (
                &["import-template", "acme", "prices", "--out", "p.xlsx"],
                Method::GET,
                "/v1/tenants/acme/imports/prices/template.xlsx",
                Body::Empty,
            ),
        ];
        for (argv, method, path, body) in cases {
            assert_eq!(call(argv), (method, format!("{API}{path}"), body), "{argv:?}");
        }
        let (_, r) = request(&["import", "acme", "stock", "s.xlsx"]).unwrap();
        assert_eq!(r.answer, Answer::ImportReport);
        let (_, r) = request(&["import-template", "acme", "prices", "--out", "p.xlsx"]).unwrap();
        assert_eq!(r.answer, Answer::SaveTo("p.xlsx".into()));
    }

    #[test]
    fn holds_carry_utc_ms() {
        let (_, r) =
            request(&["hold", "set", "acme", "SKU-1", "--quantity", "5", "--for", "2h", "--note", "launch"]).unwrap();
        assert_eq!(r.method, Method::PUT);
        assert_eq!(r.url(&base()).path(), "/v1/tenants/acme/holds/SKU-1");
        assert_eq!(r.body, Body::Json(json!({"quantity": 5, "until": Timestamp(NOW + 7_200_000), "note": "launch"})));

        let (_, r) =
            request(&["hold", "set", "acme", "SKU-1", "--quantity", "0", "--until", "2026-11-12T08:00:00+08:00"])
                .unwrap();
        assert_eq!(r.body, Body::Json(json!({"quantity": 0, "until": Timestamp(NOW + 86_400_000)})));

        let past =
            request(&["hold", "set", "acme", "S", "--quantity", "1", "--until", "2026-11-10T00:00:00Z"]).unwrap_err();
        assert!(past.to_string().contains("not in the future"), "{past}");
    }

    #[test]
    fn order_filters_become_the_query() {
        let (_, r) = request(&[
            "orders",
            "acme",
            "--sync",
            "any",
            "--status",
            "paid",
            "--from",
            "2026-11-11T00:00:00Z",
            "--to",
            "2026-11-11T08:00:00+08:00",
            "--shop",
            "tb",
            "--order-id",
            "42",
            "--limit",
            "50",
            "--all-pages",
        ])
        .unwrap();
        assert_eq!(
            r.url(&base()).as_str(),
            format!(
                "{API}/v1/tenants/acme/orders?any_sync=true&status=paid&shop_id=tb&order_id=42&updated_from=2026-11-11T00%3A00%3A00Z&updated_to=2026-11-11T00%3A00%3A00Z&limit=50"
            )
        );
        assert_eq!(r.answer, Answer::AllOrderPages);

        let (_, r) = request(&["orders", "acme", "--sync", "synced", "--cursor", "c1"]).unwrap();
        assert_eq!(r.url(&base()).query(), Some("sync=synced&cursor=c1"));
        assert_eq!(r.answer, Answer::Json);

        let (_, r) = request(&["export", "orders", "acme", "--out", "o.xlsx", "--status", "shipped"]).unwrap();
        assert_eq!(r.url(&base()).as_str(), format!("{API}/v1/tenants/acme/orders.xlsx?status=shipped"));
        assert_eq!(r.answer, Answer::SaveTo("o.xlsx".into()));
    }

    #[test]
    fn ids_are_escaped_and_a_base_path_is_kept() {
        let (_, r) = request(&["shop", "show", "a/b", "x y%"]).unwrap();
        assert_eq!(r.url(&base()).path(), "/v1/tenants/a%2Fb/shops/x%20y%25");
        let prefixed = Url::parse("https://wharf.example/api/").unwrap();
        assert_eq!(r.url(&prefixed).as_str(), "https://wharf.example/api/v1/tenants/a%2Fb/shops/x%20y%25");
    }

    #[test]
    fn server_and_token_go_before_or_after_the_subcommand() {
        let (server, _) = request(&["tenant", "--server", "http://h:1", "list", "--token", "t0"]).unwrap();
        assert_eq!((server.url.as_deref(), server.token.as_deref()), (Some("http://h:1"), Some("t0")));
        let (server, _) = request(&["plugin", "list", "--server", "http://h:2"]).unwrap();
        assert_eq!(server.url.as_deref(), Some("http://h:2"));
        let (server, _) = request(&["orders", "acme"]).unwrap();
        assert_eq!(server, Server::default());
        // Before the command too, as `wharf --server URL --token T tenant list`.
        let (server, _) = request(&["--server", "http://h:3", "--token", "t3", "tenant", "list"]).unwrap();
        assert_eq!((server.url.as_deref(), server.token.as_deref()), (Some("http://h:3"), Some("t3")));
        let (server, _) = request(&["--token", "t4", "plugin", "--server", "http://h:4", "versions", "jd"]).unwrap();
        assert_eq!((server.url.as_deref(), server.token.as_deref()), (Some("http://h:4"), Some("t4")));
        assert!(Remote::new(&Server { url: Some("ftp://x".into()), token: None }).is_err());
    }

    #[test]
    fn clap_refuses_incomplete_or_contradictory_commands() {
        let bad: [&[&str]; 11] = [
            &["dlq", "replay", "acme"],
            &["dlq", "replay", "acme", "pushes"],
            &["dlq", "replay", "acme", "pushes", "1", "--all"],
            &["dlq", "replay", "acme", "--queue", "pushes"],
            &["dlq", "discard", "acme", "outbox", "1", "--reason", "x"],
            &["hold", "set", "acme", "S", "--quantity", "1"],
            &["hold", "set", "acme", "S", "--quantity", "1", "--for", "2h", "--until", "2026-11-12T00:00:00Z"],
            &["hold", "set", "acme", "S", "--quantity", "1", "--for", "2 hours"],
            &["orders", "acme", "--status", "sent"],
            &["orders", "acme", "--from", "yesterday"],
            &["switch", "sku", "acme", "S", "prices", "off"],
        ];
        for argv in bad {
            let argv: Vec<&str> = std::iter::once("wharf").chain(argv.iter().copied()).collect();
            assert!(Args::try_parse_from(&argv).is_err(), "{argv:?} should not parse");
        }
        let e = Args::try_parse_from(["wharf", "orders", "acme", "--status", "sent"]).unwrap_err().to_string();
        assert!(e.contains("unpaid, paid"), "{e}");
        // The local plugin commands still parse as before.
        assert!(Args::try_parse_from(["wharf", "plugin", "inspect", "x.wasm"]).is_ok());
        assert!(Args::try_parse_from(["wharf", "plugin", "keygen", "--out", "k"]).is_ok());
    }

    #[test]
    fn clap_definition_is_consistent() {
        <Args as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("90s"), Ok(90_000));
        assert_eq!(duration_ms("2h"), Ok(7_200_000));
        assert_eq!(duration_ms("7d"), Ok(604_800_000));
        assert!(duration_ms("0m").unwrap_err().contains("release"));
        assert!(duration_ms("2").unwrap_err().contains("expected a whole number and a unit"));
        assert!(duration_ms("h").is_err());
        assert!(duration_ms("99999999999999999d").unwrap_err().contains("too long"));
    }

    #[test]
    fn http_errors_keep_the_servers_words_and_add_the_status() {
        let body = http_error(StatusCode::CONFLICT, br#"{"error":"conflict","message":"exists"}"#);
        assert_eq!(body, json!({"error": "conflict", "message": "exists", "status": 409}));
        let body = http_error(StatusCode::BAD_REQUEST, b"Failed to deserialize query string\n");
        assert_eq!(
            body,
            json!({"error": "invalid_input", "message": "Failed to deserialize query string", "status": 400})
        );
        let body = http_error(StatusCode::BAD_GATEWAY, b"");
        assert_eq!(body, json!({"error": "http_502", "message": "Bad Gateway", "status": 502}));
        let rows = br#"{"error":"rejected","applied":false,"rows":[{"row":2,"accepted":false}]}"#;
        assert_eq!(http_error(StatusCode::UNPROCESSABLE_ENTITY, rows)["status"], json!(422));
    }

    #[test]
    fn keygen_and_sign_write_files_that_verify() {
        let dir = std::env::temp_dir().join(format!("wharf-keygen-{}-{}", std::process::id(), NOW));
        std::fs::create_dir_all(&dir).unwrap();
        let prefix = dir.join("release");
        let made = keygen(Some(&prefix)).unwrap();
        let secret_file = dir.join("release.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(keygen(Some(&prefix)).unwrap_err().to_string().contains("not overwriting"));

        let wasm = dir.join("p.wasm");
        std::fs::write(&wasm, b"\0asm plugin").unwrap();
        let signed = sign(&wasm, &secret_file, None).unwrap();
        assert_eq!(signed["key_id"], made["key_id"]);
        let text = std::fs::read_to_string(dir.join("p.wasm.sig")).unwrap();
        let public = std::fs::read_to_string(dir.join("release.pub")).unwrap();
        let trusted = signature::TrustedKeys::parse(&[public]).unwrap();
        assert_eq!(json!(trusted.verify(b"\0asm plugin", &text).unwrap()), made["key_id"]);

        let found = SignatureFile { path: dir.join("p.wasm.sig"), required: false };
        assert_eq!(read_signature(&found).unwrap().as_deref(), Some(text.trim()));
        let absent = SignatureFile { path: dir.join("none.sig"), required: false };
        assert_eq!(read_signature(&absent).unwrap(), None);
        assert!(read_signature(&SignatureFile { required: true, ..absent }).is_err());

        let bad = sign(&wasm, &wasm, None).unwrap_err().to_string();
        assert!(bad.contains("p.wasm"), "{bad}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

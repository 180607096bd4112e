//! Loading plugins and calling them, one fresh store per call.
//!
//! A [`Sandbox`] owns the engine, one linker per contract version and world, and the HTTP
//! client. [`Sandbox::load`] compiles (or fetches from the cache) a component, finds which
//! contract it was built against from the name of the interface it exports, pre-instantiates
//! it, and asks it to `describe` itself. [`Plugin::call`] then instantiates from the pool into a
//! new store for every call, so nothing survives from one call, shop or tenant to the next,
//! and maps every way a call can fail onto a typed [`Failure`].
//!
//! WASI is linked deny-all: no preopened directories, no environment, no arguments, no
//! sockets, no name lookup; stdout and stderr are captured into `tracing`.

pub mod boundary;
mod contract;
pub(crate) mod cpu;
mod state;
mod v0_1_0;
mod v0_2_0;
mod v0_3_0;
mod v0_4_0;

use crate::capability::credentials::{self, Secrets};
use crate::capability::http;
use crate::engine::Engine;
use crate::error::{CallError, Failure, LoadError};
use crate::limits::Limits;
use crate::metrics::{CallLabels, Metrics, Spent};
use crate::model::*;
use crate::shop::Shop;
use state::{CallState, DeadlineExceeded};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::Store;
use wasmtime::component::Component;

/// The runtime plugin calls run on (see [`cpu`]). The sync loops are spawned on it, so each of
/// their calls is polled where it is awaited instead of being handed to another thread and
/// back; the HTTP API and the deliveries stay on the runtime of whoever started them.
pub fn runtime() -> &'static tokio::runtime::Handle {
    cpu::runtime().handle()
}

/// Contract versions this host can load, newest first.
pub const SUPPORTED_CONTRACTS: &[&str] = &[v0_4_0::CONTRACT, v0_3_0::CONTRACT, v0_2_0::CONTRACT, v0_1_0::CONTRACT];

/// The linkers of every contract version this host loads.
struct Linkers {
    v0_4_0: v0_4_0::Linkers,
    v0_3_0: v0_3_0::Linkers,
    v0_2_0: v0_2_0::Linkers,
    v0_1_0: v0_1_0::Linkers,
}

impl Linkers {
    fn new(engine: &Engine) -> Result<Self, LoadError> {
        Ok(Linkers {
            v0_4_0: v0_4_0::Linkers::new(engine)?,
            v0_3_0: v0_3_0::Linkers::new(engine)?,
            v0_2_0: v0_2_0::Linkers::new(engine)?,
            v0_1_0: v0_1_0::Linkers::new(engine)?,
        })
    }

    /// Pre-instantiates `component` for the contract version it exports, newest first.
    fn bind(&self, component: &Component, exports: &[String]) -> Result<Bindings, LoadError> {
        if let Some(b) = self.v0_4_0.bind(component, exports)? {
            return Ok(Bindings::V0_4_0(b));
        }
        if let Some(b) = self.v0_3_0.bind(component, exports)? {
            return Ok(Bindings::V0_3_0(b));
        }
        if let Some(b) = self.v0_2_0.bind(component, exports)? {
            return Ok(Bindings::V0_2_0(b));
        }
        if let Some(b) = self.v0_1_0.bind(component, exports)? {
            return Ok(Bindings::V0_1_0(b));
        }
        let worlds = ["marketplace-connector", "erp-connector"];
        Err(LoadError::UnsupportedContract {
            supported: SUPPORTED_CONTRACTS
                .iter()
                .flat_map(|v| worlds.map(|w| format!("wharf:connector/{w}@{v}")))
                .collect::<Vec<_>>()
                .join(", "),
            found: if exports.is_empty() { "nothing".into() } else { exports.join(", ") },
        })
    }
}

/// A plugin pre-instantiated with the bindings of the contract version it was built against;
/// each version converts into the one model.
#[derive(Clone)]
enum Bindings {
    V0_4_0(v0_4_0::Bindings),
    V0_3_0(v0_3_0::Bindings),
    V0_2_0(v0_2_0::Bindings),
    V0_1_0(v0_1_0::Bindings),
}

impl Bindings {
    fn role(&self) -> Role {
        match self {
            Bindings::V0_4_0(b) => b.role(),
            Bindings::V0_3_0(b) => b.role(),
            Bindings::V0_2_0(b) => b.role(),
            Bindings::V0_1_0(b) => b.role(),
        }
    }

    fn contract(&self) -> &'static str {
        match self {
            Bindings::V0_4_0(b) => b.contract(),
            Bindings::V0_3_0(b) => b.contract(),
            Bindings::V0_2_0(b) => b.contract(),
            Bindings::V0_1_0(b) => b.contract(),
        }
    }

    /// Whether pages of this contract carry `rejected` records (0.2 and later).
    fn rejects(&self) -> bool {
        !matches!(self, Bindings::V0_1_0(_))
    }

    async fn run(&self, store: &mut Store<CallState>, call: Call) -> Result<Result<Reply, ConnectorError>, Outcome> {
        match self {
            Bindings::V0_4_0(b) => b.run(store, call).await,
            Bindings::V0_3_0(b) => b.run(store, call).await,
            Bindings::V0_2_0(b) => b.run(store, call).await,
            Bindings::V0_1_0(b) => b.run(store, call).await,
        }
    }
}

/// Time past the deadline the host waits for a call stuck in a host import to unwind before
/// abandoning it; wasm itself is interrupted by the epoch within one tick.
const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// Bytes of lifted reply (wasmtime's host-side form of the records) allowed per byte of the
/// reply's canonical JSON. A lifted record costs the size of its Rust struct (24 bytes per
/// string or list field) plus its strings' bytes, which stays below its JSON with keys and
/// quotes; four times leaves room for records of mostly empty fields.
const LIFTED_BYTES_PER_OUTPUT_BYTE: usize = 4;

/// Headroom for a request's URL and headers beside its body.
const REQUEST_HEAD_BYTES: usize = 1 << 20;

/// Wasmtime's hostcall fuel: the most bytes one guest-to-host transfer may make the host
/// allocate (an import's arguments, or a call's reply as it is lifted). Wasmtime's default is
/// 128 MiB; the host needs no more than the largest reply it accepts
/// ([`Limits::output_bytes`], lifted) or the largest request it sends
/// ([`credentials::MAX_FILLED_BYTES`]).
fn hostcall_fuel(limits: &Limits) -> usize {
    let reply = limits.output_bytes.saturating_mul(LIFTED_BYTES_PER_OUTPUT_BYTE);
    reply.max(credentials::MAX_FILLED_BYTES + REQUEST_HEAD_BYTES)
}

/// One operation with its input, as the host asks it.
#[derive(Clone, Debug)]
pub enum Call {
    Describe,
    PullOrders {
        window: TimeWindow,
        cursor: Option<String>,
    },
    GetOrder {
        order_id: String,
    },
    PushStock(Vec<StockUpdate>),
    PushPrices(Vec<PriceUpdate>),
    PushLots(Vec<LotSync>),
    PushListing(Vec<ListingChange>),
    PushProducts(Vec<Product>),
    PushCustomers(Vec<CustomerMapping>),
    PushLogistics(Vec<Logistics>),
    PushShipments(Vec<ShipmentDetail>),
    PushErpStatus(Vec<ErpStatus>),
    PushOrders(Vec<Order>),
    PullStock(PullRequest),
    PullPrices(PullRequest),
    PullLots(PullRequest),
    PullProducts(PullRequest),
    PullCustomers(PullRequest),
    PullLogistics(PullRequest),
    PullShipments(PullRequest),
    PullErpStatus(PullRequest),
    PullAfterSales {
        window: TimeWindow,
        cursor: Option<String>,
    },
    GetAfterSale {
        after_sale_id: String,
    },
    PushAfterSaleActions(Vec<AfterSaleAction>),
    /// Plaintext comes back: the caller returns it to whoever asked and keeps it nowhere.
    DecryptReceivers {
        purpose: DecryptPurpose,
        refs: Vec<ReceiverRef>,
    },
    PushInvoices(Vec<InvoiceUpload>),
    PushAfterSales(Vec<AfterSale>),
    PullInvoices(PullRequest),
}

impl Call {
    /// The push `operation` with its input in the canonical JSON form (a list of records), as
    /// the CLI and the conformance suite take it; an error for a malformed input or an
    /// operation that is not a push.
    pub fn push(operation: Operation, input: serde_json::Value) -> Result<Call, serde_json::Error> {
        use serde_json::from_value as parse;
        Ok(match operation {
            Operation::PushStock => Call::PushStock(parse(input)?),
            Operation::PushPrices => Call::PushPrices(parse(input)?),
            Operation::PushLots => Call::PushLots(parse(input)?),
            Operation::PushListing => Call::PushListing(parse(input)?),
            Operation::PushProducts => Call::PushProducts(parse(input)?),
            Operation::PushCustomers => Call::PushCustomers(parse(input)?),
            Operation::PushLogistics => Call::PushLogistics(parse(input)?),
            Operation::PushShipments => Call::PushShipments(parse(input)?),
            Operation::PushErpStatus => Call::PushErpStatus(parse(input)?),
            Operation::PushOrders => Call::PushOrders(parse(input)?),
            Operation::PushAfterSaleActions => Call::PushAfterSaleActions(parse(input)?),
            Operation::PushInvoices => Call::PushInvoices(parse(input)?),
            Operation::PushAfterSales => Call::PushAfterSales(parse(input)?),
            other => {
                return Err(serde::de::Error::custom(format!("{} is not a push", other.name())));
            }
        })
    }

    /// The ERP pull `operation` with `request`; `None` for an operation that is not one.
    pub fn pull(operation: Operation, request: PullRequest) -> Option<Call> {
        Some(match operation {
            Operation::PullStock => Call::PullStock(request),
            Operation::PullPrices => Call::PullPrices(request),
            Operation::PullLots => Call::PullLots(request),
            Operation::PullProducts => Call::PullProducts(request),
            Operation::PullCustomers => Call::PullCustomers(request),
            Operation::PullLogistics => Call::PullLogistics(request),
            Operation::PullShipments => Call::PullShipments(request),
            Operation::PullErpStatus => Call::PullErpStatus(request),
            Operation::PullInvoices => Call::PullInvoices(request),
            _ => return None,
        })
    }

    pub fn operation(&self) -> Operation {
        match self {
            Call::Describe => Operation::Describe,
            Call::PullOrders { .. } => Operation::PullOrders,
            Call::GetOrder { .. } => Operation::GetOrder,
            Call::PushStock(_) => Operation::PushStock,
            Call::PushPrices(_) => Operation::PushPrices,
            Call::PushLots(_) => Operation::PushLots,
            Call::PushListing(_) => Operation::PushListing,
            Call::PushProducts(_) => Operation::PushProducts,
            Call::PushCustomers(_) => Operation::PushCustomers,
            Call::PushLogistics(_) => Operation::PushLogistics,
            Call::PushShipments(_) => Operation::PushShipments,
            Call::PushErpStatus(_) => Operation::PushErpStatus,
            Call::PushOrders(_) => Operation::PushOrders,
            Call::PullStock(_) => Operation::PullStock,
            Call::PullPrices(_) => Operation::PullPrices,
            Call::PullLots(_) => Operation::PullLots,
            Call::PullProducts(_) => Operation::PullProducts,
            Call::PullCustomers(_) => Operation::PullCustomers,
            Call::PullLogistics(_) => Operation::PullLogistics,
            Call::PullShipments(_) => Operation::PullShipments,
            Call::PullErpStatus(_) => Operation::PullErpStatus,
            Call::PullAfterSales { .. } => Operation::PullAfterSales,
            Call::GetAfterSale { .. } => Operation::GetAfterSale,
            Call::PushAfterSaleActions(_) => Operation::PushAfterSaleActions,
            Call::DecryptReceivers { .. } => Operation::DecryptReceivers,
            Call::PushInvoices(_) => Operation::PushInvoices,
            Call::PushAfterSales(_) => Operation::PushAfterSales,
            Call::PullInvoices(_) => Operation::PullInvoices,
        }
    }
}

/// What a successful call returns; serializes to the canonical JSON of its content.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
#[expect(
    clippy::large_enum_variant,
    reason = "a reply is made once per call and moved to its caller; boxing the order would allocate on every call"
)]
pub enum Reply {
    Descriptor(Descriptor),
    OrderPage(OrderPage),
    Order(Order),
    Items(Vec<ItemResult>),
    OrderPushes(Vec<OrderPushResult>),
    Stock(Page<StockUpdate>),
    Prices(Page<PriceUpdate>),
    Lots(Page<LotSync>),
    Products(Page<Product>),
    Customers(Page<CustomerMapping>),
    Logistics(Page<Logistics>),
    Shipments(Page<ShipmentDetail>),
    ErpStatuses(Page<ErpStatus>),
    AfterSales(Page<AfterSale>),
    AfterSale(AfterSale),
    /// One answer per reference, in order. Plaintext: never stored, never logged.
    Decrypted(Vec<Result<PlainReceiver, ConnectorError>>),
    Invoices(Page<InvoiceUpload>),
}

/// The engine, the linkers and the shared HTTP client: what every plugin call runs on.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<SandboxInner>,
}

struct SandboxInner {
    engine: Engine,
    limits: Limits,
    http: http::Client,
    linkers: Linkers,
    metrics: Arc<Metrics>,
}

impl Sandbox {
    /// A sandbox with `limits` for every call; `cache_dir` keeps compiled components.
    pub fn new(limits: Limits, cache_dir: Option<std::path::PathBuf>) -> Result<Self, LoadError> {
        Sandbox::with_http(limits, cache_dir, http::Client::new())
    }

    /// A sandbox whose plugins' HTTP goes through `http` (a recorded transport, say).
    pub fn with_http(
        limits: Limits,
        cache_dir: Option<std::path::PathBuf>,
        http: http::Client,
    ) -> Result<Self, LoadError> {
        let engine = Engine::new(limits.memory_bytes, cache_dir)?;
        let linkers = Linkers::new(&engine)?;
        Ok(Sandbox { inner: Arc::new(SandboxInner { engine, limits, http, linkers, metrics: Arc::default() }) })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Figures of every call made through this sandbox.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Loads a plugin from a `.wasm` file.
    pub async fn load_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let wasm = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_owned(), source })?;
        self.load(&wasm).await
    }

    /// Compiles (or fetches from the cache), links and describes a plugin.
    pub async fn load(&self, wasm: &[u8]) -> Result<Plugin, LoadError> {
        let engine = self.inner.engine.clone();
        let wasm_owned = wasm.to_vec();
        // Compilation is CPU-bound and can take seconds: keep it off the async workers.
        let (component, sha256) = tokio::task::spawn_blocking(move || engine.component(&wasm_owned))
            .await
            .map_err(|e| LoadError::InvalidComponent(format!("compilation task failed: {e}")))??;
        let exports = export_names(&self.inner.engine, &component);
        let bindings = self.inner.linkers.bind(&component, &exports)?;
        let mut plugin =
            Plugin { sandbox: self.clone(), bindings, sha256, descriptor: Arc::new(placeholder_descriptor()) };
        let describe_shop = Shop::new("wharf", "describe");
        let descriptor = match plugin.call(&describe_shop, Call::Describe).await {
            Ok(Reply::Descriptor(d)) => d,
            Ok(other) => unreachable!("describe answered {other:?}"),
            Err(e) => return Err(LoadError::Describe(Box::new(e))),
        };
        validate_descriptor(&descriptor, plugin.bindings.role(), plugin.bindings.contract())?;
        plugin.descriptor = Arc::new(descriptor);
        Ok(plugin)
    }
}

/// A loaded plugin, ready to be called. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    sandbox: Sandbox,
    bindings: Bindings,
    sha256: String,
    descriptor: Arc<Descriptor>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.descriptor.name)
            .field("version", &self.descriptor.version)
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl Plugin {
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// The sha256 of the plugin's wasm bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The sandbox it runs in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The contract version the plugin was built against.
    pub fn contract(&self) -> &'static str {
        self.bindings.contract()
    }

    /// Runs one operation for `shop` in a fresh instance, within the sandbox's limits.
    pub async fn call(&self, shop: &Shop, call: Call) -> Result<Reply, CallError> {
        let limits = self.sandbox.inner.limits.clone();
        self.call_with_limits(shop, call, &limits).await
    }

    /// [`Plugin::call`] with limits of its own (a tenant's quota, say); memory is capped at
    /// the engine's pool size whatever `limits` says.
    /// Calls with `limits`, after the shop's tenant quota admits the call (its memory cap wins
    /// when lower), on the sandbox's own threads (see [`cpu`]), and records the call's figures,
    /// its CPU time among them.
    pub async fn call_with_limits(&self, shop: &Shop, call: Call, limits: &Limits) -> Result<Reply, CallError> {
        let operation = call.operation();
        let admission = match &shop.quota {
            Some(quota) => Some(quota.admit().await),
            None => None,
        };
        let limits = match &shop.quota {
            Some(quota) if quota.memory_bytes() < limits.memory_bytes => {
                Limits { memory_bytes: quota.memory_bytes(), ..limits.clone() }
            }
            _ => limits.clone(),
        };
        let started = Instant::now();
        let meter = cpu::Meter::new(shop.quota.clone());
        let task = {
            let (plugin, shop) = (self.clone(), shop.clone());
            let ends = Instant::now() + limits.deadline + DEADLINE_GRACE;
            let call = async move { plugin.call_admitted(&shop, call, &limits).await };
            // The caller's span and subscriber go with it, so its logs land where the caller's do.
            let call = tracing::Instrument::in_current_span(cpu::Metered::new(call, meter.clone(), ends));
            let call = tracing::instrument::WithSubscriber::with_current_subscriber(call);
            if cpu::on_sandbox_thread() {
                // Already where calls run (a sync loop): polled here, no hand-off.
                cpu::CatchPanic(Box::pin(call)).await
            } else {
                cpu::AbortOnDrop(cpu::runtime().spawn(call)).await.map_err(|e| format!("the call's task failed: {e}"))
            }
        };
        let outcome = task.unwrap_or_else(|failed| {
            Err(CallError {
                plugin: self.descriptor.name.clone(),
                version: self.descriptor.version.clone(),
                operation,
                cause: Failure::Host(failed),
            })
        });
        let labels = CallLabels {
            tenant: &shop.tenant,
            shop: &shop.shop_id,
            plugin: &self.descriptor.name,
            version: &self.descriptor.version,
            operation,
        };
        let spent = Spent {
            took: started.elapsed(),
            quota_wait: admission.as_ref().map_or(Duration::ZERO, |a| a.waited),
            cpu: meter.used(),
            cpu_wait: admission.as_ref().map_or(Duration::ZERO, |a| a.cpu_waited) + meter.paused(),
        };
        self.sandbox.inner.metrics.record(&labels, spent, outcome.as_ref().err());
        outcome
    }

    async fn call_admitted(&self, shop: &Shop, call: Call, limits: &Limits) -> Result<Reply, CallError> {
        let operation = call.operation();
        let fail = |cause: Failure| CallError {
            plugin: self.descriptor.name.clone(),
            version: self.descriptor.version.clone(),
            operation,
            cause,
        };
        if let Some(role) = operation.role()
            && role != self.bindings.role()
        {
            return Err(fail(Failure::Contract(format!(
                "`{operation}` belongs to the {role:?} world; this plugin is a {:?} plugin",
                self.bindings.role()
            ))));
        }

        let started = Instant::now();
        let deadline = started + limits.deadline;
        let state = CallState::new(
            shop.clone(),
            operation,
            self.descriptor.clone(),
            self.sandbox.inner.http.clone(),
            limits,
            deadline,
        );
        let mut store = Store::new(self.sandbox.inner.engine.wasmtime(), state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(hostcall_fuel(limits));
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            if Instant::now() >= ctx.data().deadline {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                // Yield so the executor can run other calls, then check again next tick.
                Ok(wasmtime::UpdateDeadline::Yield(1))
            }
        });

        let run = self.bindings.run(&mut store, call);
        let outcome = match tokio::time::timeout(limits.deadline + DEADLINE_GRACE, run).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Outcome::Deadline),
        };
        let state = store.into_data();
        let dropped = state.flush_stdio(&self.descriptor.name);
        if dropped > 0 {
            self.sandbox.inner.metrics.log_lines_dropped(&shop.tenant, &self.descriptor.name, dropped);
            tracing::warn!(
                tenant = %shop.tenant, shop = %shop.shop_id, plugin = %self.descriptor.name, dropped,
                "plugin log lines dropped over the shop's log budget"
            );
        }

        let mut reply = match outcome {
            Ok(Ok(reply)) => reply,
            Ok(Err(plugin_error)) => {
                return Err(fail(Failure::Plugin(boundary::printable_error(scrubbed(plugin_error, &shop.secrets)))));
            }
            Err(Outcome::Deadline) => return Err(fail(Failure::Deadline(limits.deadline))),
            Err(Outcome::Contract(reason)) => return Err(fail(Failure::Contract(reason))),
            Err(Outcome::Wasmtime(error)) => {
                return Err(fail(classify(error, &state, limits, started.elapsed())));
            }
        };
        check_records(&mut reply, self.bindings.rejects()).map_err(|e| fail(Failure::InvalidRecord(e)))?;
        check_reply(&reply, shop, &self.descriptor).map_err(|r| fail(Failure::Contract(r)))?;
        let size = json_size(&reply);
        if size > limits.output_bytes {
            return Err(fail(Failure::OutputTooLarge { size, limit: limits.output_bytes }));
        }
        Ok(reply)
    }
}

/// How a call ended when it did not return normally.
enum Outcome {
    Deadline,
    Contract(String),
    Wasmtime(wasmtime::Error),
}

impl From<wasmtime::Error> for Outcome {
    fn from(e: wasmtime::Error) -> Self {
        Outcome::Wasmtime(e)
    }
}

/// Maps a wasmtime error onto what went wrong, using what the store saw.
fn classify(error: wasmtime::Error, state: &CallState, limits: &Limits, elapsed: Duration) -> Failure {
    if error.is::<DeadlineExceeded>() || elapsed >= limits.deadline {
        return Failure::Deadline(limits.deadline);
    }
    if state.limiter.hit() {
        return Failure::MemoryLimit { limit: state.limiter.limit() };
    }
    let trap = error.downcast_ref::<wasmtime::Trap>().copied();
    // A Rust panic aborts, which is an `unreachable` trap; only then is stderr read for the
    // panic's message. A plugin that prints "panicked at" and traps otherwise (or returns)
    // did not panic.
    if matches!(trap, Some(wasmtime::Trap::UnreachableCodeReached)) {
        return Failure::Panic(
            state.panic_message().unwrap_or_else(|| "the plugin aborted (unreachable executed)".into()),
        );
    }
    match trap {
        Some(wasmtime::Trap::StackOverflow) => Failure::Trap("stack overflow (recursion too deep)".into()),
        // Rust and C guests keep a shadow stack at the bottom of linear memory; running past
        // it wraps to the top of the address space, so deep recursion surfaces as this.
        Some(wasmtime::Trap::MemoryOutOfBounds) => Failure::Trap(
            "out of bounds memory access (in Rust plugins, usually a stack overflow from recursion too deep)".into(),
        ),
        Some(wasmtime::Trap::AllocationTooLarge) => Failure::MemoryLimit { limit: state.limiter.limit() },
        Some(trap) => Failure::Trap(format!("{trap}")),
        None if error.to_string().contains("instance") && error.to_string().contains("limit") => {
            Failure::Host(format!("{error:#}"))
        }
        None => Failure::Trap(format!("{error:#}")),
    }
}

/// Checks every record of the reply at the boundary (see [`boundary`]): from contract 0.2 a
/// bad record of a page moves to the page's `rejected`; otherwise it fails the call.
fn check_records(reply: &mut Reply, rejects: bool) -> Result<(), boundary::RecordError> {
    use boundary::Checked;
    match reply {
        Reply::OrderPage(p) => boundary::page(&mut p.orders, &mut p.rejected, rejects),
        Reply::Order(o) => o.check(),
        Reply::Stock(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::Prices(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::Lots(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::Products(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::Customers(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::Logistics(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::Shipments(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::ErpStatuses(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::AfterSales(p) => boundary::page(&mut p.items, &mut p.rejected, rejects),
        Reply::AfterSale(a) => a.check(),
        Reply::Descriptor(_) | Reply::Items(_) | Reply::OrderPushes(_) | Reply::Decrypted(_) | Reply::Invoices(_) => {
            Ok(())
        }
    }
}

/// A plugin's error with every secret form scrubbed from its text: it is logged and stored,
/// and a plugin that came by a secret must not publish it that way.
fn scrubbed(error: ConnectorError, secrets: &Secrets) -> ConnectorError {
    let s = |text: String| secrets.scrub_str(&text);
    match error {
        ConnectorError::Auth { message } => ConnectorError::Auth { message: s(message) },
        ConnectorError::RateLimited { retry_after_ms, message } => {
            ConnectorError::RateLimited { retry_after_ms, message: s(message) }
        }
        ConnectorError::InvalidInput { field, reason } => {
            ConnectorError::InvalidInput { field: s(field), reason: s(reason) }
        }
        ConnectorError::NotFound { message } => ConnectorError::NotFound { message: s(message) },
        ConnectorError::Unsupported { operation } => ConnectorError::Unsupported { operation: s(operation) },
        ConnectorError::Platform { code, message } => ConnectorError::Platform { code: s(code), message: s(message) },
        ConnectorError::Transient { reason } => ConnectorError::Transient { reason: s(reason) },
    }
}

/// Checks what a plugin returned against what the contract promises, beyond types.
fn check_reply(reply: &Reply, shop: &Shop, descriptor: &Descriptor) -> Result<(), String> {
    let check_order = |o: &Order, at: &str| -> Result<(), String> {
        if o.order_id.is_empty() {
            return Err(format!("{at}: order_id is empty"));
        }
        if o.shop_id != shop.shop_id {
            return Err(format!(
                "{at} (order {}): shop_id is {:?}, but the call was for shop {:?}",
                o.order_id, o.shop_id, shop.shop_id
            ));
        }
        if o.platform != descriptor.platform {
            return Err(format!(
                "{at} (order {}): platform is {:?}, but the plugin describes platform {:?}",
                o.order_id, o.platform, descriptor.platform
            ));
        }
        if o.currency.len() != 3 || !o.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("{at} (order {}): currency {:?} is not an ISO 4217 code", o.order_id, o.currency));
        }
        Ok(())
    };
    let check_after_sale = |a: &AfterSale, at: &str| -> Result<(), String> {
        if a.shop_id != shop.shop_id || a.platform != descriptor.platform {
            return Err(format!(
                "{at} (after-sale {}): shop_id {:?} and platform {:?}, but the call was for shop {:?} of platform {:?}",
                a.after_sale_id, a.shop_id, a.platform, shop.shop_id, descriptor.platform
            ));
        }
        Ok(())
    };
    match reply {
        Reply::OrderPage(page) => {
            for (i, o) in page.orders.iter().enumerate() {
                check_order(o, &format!("orders[{i}]"))?;
            }
            Ok(())
        }
        Reply::Order(o) => check_order(o, "order"),
        Reply::AfterSales(page) => {
            for (i, a) in page.items.iter().enumerate() {
                check_after_sale(a, &format!("items[{i}]"))?;
            }
            Ok(())
        }
        Reply::AfterSale(a) => check_after_sale(a, "after-sale"),
        _ => Ok(()),
    }
}

fn validate_descriptor(d: &Descriptor, role: Role, contract: &str) -> Result<(), LoadError> {
    let bad = |reason: String| LoadError::BadDescriptor { plugin: d.name.clone(), version: d.version.clone(), reason };
    let is_name = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    if !is_name(&d.name) {
        return Err(bad(format!("name {:?} must be non-empty lowercase letters, digits, - or _", d.name)));
    }
    if !is_name(&d.platform) {
        return Err(bad(format!("platform {:?} must be non-empty lowercase letters, digits, - or _", d.platform)));
    }
    let parts: Vec<&str> = d.version.split(['.', '-', '+']).collect();
    if parts.len() < 3 || !parts[..3].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad(format!("version {:?} is not semver (MAJOR.MINOR.PATCH)", d.version)));
    }
    if d.role != role {
        return Err(bad(format!("describes role {:?} but exports the {role:?} world", d.role)));
    }
    if d.wit_version != contract {
        return Err(bad(format!("says wit-version {:?} but exports the {contract} contract", d.wit_version)));
    }
    for op in &d.operations {
        if op.role().is_some_and(|r| r != role) {
            return Err(bad(format!("lists operation `{op}`, which is not part of the {role:?} world")));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for key in &d.config_keys {
        if key.name.is_empty() || !names.insert(key.name.as_str()) {
            return Err(bad(format!("config key {:?} is empty or declared twice", key.name)));
        }
        if key.secret && key.default_value.is_some() {
            return Err(bad(format!("secret config key {:?} must not have a default value", key.name)));
        }
    }
    for host in &d.http_hosts {
        if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
            return Err(bad(format!("http host {host:?} must be a bare `name` or `name:port`")));
        }
    }
    Ok(())
}

fn placeholder_descriptor() -> Descriptor {
    Descriptor {
        name: "(loading)".into(),
        version: "0.0.0".into(),
        platform: String::new(),
        role: Role::Marketplace,
        wit_version: String::new(),
        operations: Vec::new(),
        http_hosts: Vec::new(),
        config_keys: Vec::new(),
        batch_limits: Vec::new(),
    }
}

fn export_names(engine: &Engine, component: &Component) -> Vec<String> {
    component.component_type().exports(engine.wasmtime()).map(|(name, _)| name.to_owned()).collect()
}

/// Bytes of the reply's canonical JSON, counted without building it.
fn json_size(reply: &Reply) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, reply);
    counter.0
}

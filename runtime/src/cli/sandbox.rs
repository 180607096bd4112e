//! `wharf sandbox`: Wharf working on a fresh machine, in one command.
//!
//! It starts a simulator of every marketplace built so far and a simulated SAP on loopback,
//! all selling one catalogue, with live traffic (new orders, status changes, stock changes, a
//! warehouse that ships); writes a configuration for a demo tenant with a shop per platform
//! and SAP as its ERP; and runs the same engine as `wharf serve` on it, printing what flows.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use wharf_runtime::model::{AfterSaleAction, AfterSaleDecision, AfterSaleKind, AfterSaleStatus, Timestamp};
use wharf_runtime::store::orders::MAX_PAGE_SIZE;
use wharf_runtime::store::{AfterSaleQuery, Scope};
use wharf_runtime::sync::intake::Update;
use wharf_runtime::sync::scheduler::Control;
use wharf_runtime::sync::scheduler::{Options, Progress, ShopState};
use wharf_sim::world::{PLATFORMS, World, WorldOptions, WorldStats};

use super::serve::{self, every, shutdown_signal};
use super::{EXIT_HOST, EXIT_USAGE};

/// The demo tenant's id.
const TENANT: &str = "demo";
/// Every module runs each second: the shortest schedule a configuration accepts, so a
/// visitor sees changes as they happen.
const SCHEDULE: &str = "1s";
/// The ERP plugin the sandbox routes orders to.
const ERP_PLUGIN: &str = "sap";
/// Where the workspace this binary was built from keeps built plugins (the tests' build
/// script installs them there too).
const WORKSPACE_PLUGINS: &str = "target/plugins";
/// How long the engine may take to finish its calls in flight once `--for` is up, before the
/// sandbox stops without waiting (the store is crash-safe: `tests/tests/serve.rs` kills a
/// serve with SIGKILL). Two SAP deep inserts; a longer wait is what made `--for` overrun.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// The cargo profile plugins are built with (see the workspace Cargo.toml).
const PLUGIN_PROFILE: &str = "plugin";
const WASM_TARGET: &str = "wasm32-wasip2";

#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// Where to keep the sandbox's data, configuration and secrets (default: a new folder
    /// under the system's temporary folder).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where the plugins are (default: the workspace's target/plugins, built on first use).
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Marketplaces to simulate, comma-separated (ECShop needs php-cli with pdo_sqlite).
    #[arg(long, value_delimiter = ',', default_values_t = PLATFORMS.iter().map(|p| p.to_string()))]
    platforms: Vec<String>,
    /// New orders per second in each shop.
    #[arg(long, default_value_t = 2.0)]
    orders_per_second: f64,
    /// Stop after this long (e.g. 30s, 2m) instead of waiting for Ctrl-C.
    #[arg(long = "for")]
    run_for: Option<String>,
    /// How often the progress view is printed, e.g. 2s.
    #[arg(long, default_value = "2s")]
    view_every: String,
}

pub async fn sandbox(args: SandboxArgs, log_json: bool, cache_dir: Option<PathBuf>) -> ExitCode {
    let fail = |what: &str, e: anyhow::Error, code: u8| {
        eprintln!("{}", json!({"error": what, "message": format!("{e:#}")}));
        ExitCode::from(code)
    };
    let parse = |flag: &str, text: &str| every(text).map_err(|e| anyhow::anyhow!("{flag}: {e}"));
    let (run_for, view_every) =
        match (args.run_for.as_deref().map(|t| parse("--for", t)).transpose(), parse("--view-every", &args.view_every))
        {
            (Ok(r), Ok(v)) => (r.flatten(), v.unwrap_or(Duration::from_secs(2))),
            (Err(e), _) | (_, Err(e)) => return fail("usage", e, EXIT_USAGE),
        };
    // The view shows what flows and what was dead-lettered; details go to the log at the
    // level WHARF_LOG asks for (errors only by default, so the view stays readable).
    super::init_tracing(log_json, "error");
    let dir = args.dir.clone().unwrap_or_else(|| {
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        std::env::temp_dir().join(format!("wharf-sandbox-{stamp}"))
    });
    let plugin_dir = match plugins(args.plugin_dir.as_deref(), &args.platforms) {
        Ok(d) => d,
        Err(e) => return fail("plugins", e, EXIT_HOST),
    };
    println!("Starting the simulators ({} and SAP) on 127.0.0.1 …", args.platforms.join(", "));
    let options = WorldOptions {
        platforms: args.platforms.clone(),
        orders_per_second: args.orders_per_second,
        // About one order in ten gets an after-sale (every third of them before shipping).
        after_sales_per_second: args.orders_per_second / 10.0,
        ..WorldOptions::default()
    };
    let world = match tokio::task::spawn_blocking(move || World::start(options)).await {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return fail("simulators", e, EXIT_HOST),
        Err(e) => return fail("simulators", e.into(), EXIT_HOST),
    };
    for (platform, why) in world.skipped() {
        println!("  {platform}: skipped ({why})");
    }
    let config_path = match write_config(&world, &dir, &plugin_dir) {
        Ok(p) => p,
        Err(e) => return fail("sandbox", e, EXIT_HOST),
    };
    let options = Options {
        tick: Duration::from_millis(100),
        progress_every: None,
        settle: Duration::from_secs(1),
        ..Options::default()
    };
    let where_cached = cache_dir.as_ref().map(|d| format!(" in {}", d.display())).unwrap_or_default();
    println!(
        "Loading the plugins (compiled for this machine on first use, a few seconds each, then cached{where_cached}) …"
    );
    let loading = Instant::now();
    let prepared = match serve::prepare(&config_path, cache_dir, options).await {
        Ok(p) => p,
        Err(e) => return fail("config", e, EXIT_HOST),
    };
    println!("Ready in {:.1}s.", loading.elapsed().as_secs_f64());
    let data_dir = prepared.config.data_dir.clone();
    let secrets_path = dir.join(SECRETS_FILE);
    let wharf = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "wharf".into());
    println!(
        "Demo tenant `{TENANT}`: {} shops, orders → SAP; stock, lots, prices, logistics, shipments, statuses ← SAP; \
         after-sales kept for the ERP to read.",
        world.shops().len()
    );
    println!("Data:          {}", data_dir.display());
    println!("Configuration: {}", config_path.display());
    println!(
        "Secrets:       {} (the shops' and SAP's credentials; the configuration names them as file:KEY)",
        secrets_path.display()
    );
    println!(
        "Serve it yourself (with the simulators gone, the shops will fail to connect):\n  \
         WHARF_OPERATOR_TOKEN=$(openssl rand -hex 32) {wharf} serve --config {}",
        config_path.display()
    );
    match run_for {
        Some(d) => println!("Stops by itself {} after the first view, or on Ctrl-C.\n", humanize(d)),
        None => println!("Stop with Ctrl-C.\n"),
    }
    println!("{LEGEND}\n");

    // The console over the same API `wharf serve` answers, on a free loopback port, with a
    // token of the demo tenant's: the visitor watches the traffic in a browser.
    match console(&prepared).await {
        Ok((url, token)) => println!("Console:       {url} (sign in with the demo tenant's token {token})"),
        Err(e) => println!("Console:       not served ({e:#})"),
    }
    let traffic = world.start_traffic();
    let progress = prepared.scheduler.progress();
    let store = prepared.scheduler.store().clone();
    let control = prepared.scheduler.control();
    let mut merchant = Merchant::default();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        let _ = stop_rx.await;
    };
    let mut engine = tokio::spawn(prepared.scheduler.run(stop));
    let started = Instant::now();
    // `--for` is the time traffic flows: counted from here, and the engine gets at most
    // STOP_GRACE after it to finish its calls.
    let deadline = run_for.map(|d| started + d);
    let until = async move {
        match deadline {
            Some(at) => tokio::select! { _ = tokio::time::sleep_until(at.into()) => {}, _ = shutdown_signal() => {} },
            None => shutdown_signal().await,
        }
    };
    tokio::pin!(until);
    let mut early: Option<Result<anyhow::Result<()>, tokio::task::JoinError>> = None;
    loop {
        tokio::select! {
            _ = &mut until => break,
            done = &mut engine => { early = Some(done.map(|r| r.map_err(anyhow::Error::from))); break }
            _ = tokio::time::sleep(view_every) => {
                merchant.answer(&control);
                print_view(started.elapsed(), &progress, &store, &world.stats(), merchant.answered);
            }
        }
    }
    let _ = stop_tx.send(());
    traffic.stop();
    let outcome = match early {
        Some(done) => Some(done),
        None => match tokio::time::timeout(STOP_GRACE, &mut engine).await {
            Ok(done) => Some(done.map(|r| r.map_err(anyhow::Error::from))),
            Err(_) => {
                engine.abort();
                None
            }
        },
    };
    print_view(started.elapsed(), &progress, &store, &world.stats(), merchant.answered);
    if outcome.is_none() {
        println!("\nCalls still in flight were cut short to stop on time (the store is crash-safe; nothing is lost).");
    }
    println!("\nStopped. The data stays in {} (delete the folder to forget it).", dir.display());
    let _ = tokio::task::spawn_blocking(move || drop(world)).await;
    match outcome {
        None | Some(Ok(Ok(()))) => ExitCode::SUCCESS,
        Some(Ok(Err(e))) => fail("store", e, EXIT_HOST),
        Some(Err(e)) => fail("engine", e.into(), EXIT_HOST),
    }
}

/// Serves the API and its console on a free loopback port for the sandbox's lifetime; the URL
/// and a new token of the demo tenant's.
async fn console(prepared: &serve::Prepared) -> anyhow::Result<(String, String)> {
    let control = prepared.scheduler.control();
    let token = control.store().tokens().create("sandbox-console", Scope::Tenant(TENANT.to_owned()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding a loopback port")?;
    let url = format!("http://{}{}", listener.local_addr()?, wharf_runtime::console::PATH);
    let api = wharf_runtime::api::Api::new(control, None).with_config_tenants(prepared.config.tenants.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, api.router()).await;
    });
    Ok((url, token))
}

/// "40s", "2m", "1m30s": a duration as the visitor wrote it.
fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// What the view's columns mean, printed once above the first table.
const LEGEND: &str = "\
Wharf's figures (left), per shop since start: pulled = order versions stored; delivered = order versions \
SAP took;
  pushed = updates the shop took (stock, prices, lots, tracking, statuses); pending = deliveries and updates \
waiting;
  dead = updates the platform refused for good (WHARF_LOG=warn shows why).
The simulators' own figures (right): new orders = orders buyers placed; stock = stock writes the shop got; \
shipped = parcels sent.
SAP (simulated): sales orders Wharf created there, deliveries its warehouse shipped, stock changes it made.";

/// The secrets file the sandbox writes beside its configuration.
const SECRETS_FILE: &str = "secrets.toml";

fn write_config(world: &World, dir: &Path, plugin_dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (config, secrets) = (dir.join("wharf.toml"), dir.join(SECRETS_FILE));
    let files = world.wharf_config(TENANT, &dir.join("data"), plugin_dir, &secrets, SCHEDULE);
    std::fs::write(&config, files.toml).with_context(|| format!("writing {}", config.display()))?;
    std::fs::write(&secrets, files.secrets).with_context(|| format!("writing {}", secrets.display()))?;
    Ok(config)
}

/// The demo merchant: agrees every after-sale the buyers request (a refund, or the return
/// before it), through the same intake as `POST …/updates/after_sales`, so the sandbox shows
/// answers going out to the platforms and the after-sales moving on.
#[derive(Default)]
struct Merchant {
    seen: std::collections::HashSet<String>,
    answered: usize,
}

impl Merchant {
    fn answer(&mut self, control: &Control) {
        let Some(intake) = control.intake(TENANT) else { return };
        let query = AfterSaleQuery {
            any_sync: true,
            status: Some(AfterSaleStatus::Requested),
            limit: Some(MAX_PAGE_SIZE),
            ..Default::default()
        };
        let Ok(page) = intake.store.after_sales().query(TENANT, &query) else { return };
        let actions: Vec<AfterSaleAction> = page
            .after_sales
            .into_iter()
            .map(|s| s.after_sale)
            .filter(|a| self.seen.insert(a.after_sale_id.clone()))
            .map(|a| AfterSaleAction {
                decision: match a.kind {
                    AfterSaleKind::ReturnAndRefund | AfterSaleKind::Exchange | AfterSaleKind::Repair => {
                        AfterSaleDecision::AgreeReturn
                    }
                    _ => AfterSaleDecision::AgreeRefund,
                },
                after_sale_id: a.after_sale_id,
                order_id: a.order_id,
                reason: None,
                refund_version: a.refund_version,
            })
            .collect();
        if actions.is_empty() {
            return;
        }
        let n = actions.len();
        if intake.submit(&Update::AfterSaleActions(actions), Timestamp::now()).is_ok() {
            self.answered += n;
        }
    }
}

fn print_view(
    elapsed: Duration,
    progress: &Progress,
    store: &wharf_runtime::store::Store,
    world: &WorldStats,
    answered: usize,
) {
    const WHARF: &str = "───────────────── Wharf ─────────────────";
    const SIMULATORS: &str = "───── the simulators ─────";
    println!("── {:>4}s ────────────────────────────────────────────────────────────────────────", elapsed.as_secs());
    println!("{:<14} {WHARF}   {SIMULATORS}", "");
    println!(
        "{:<14} {:>6} {:>10} {:>8} {:>8} {:>5}   {:>10} {:>6} {:>8}",
        "shop", "pulled", "delivered", "pushed", "pending", "dead", "new orders", "stock", "shipped"
    );
    let mut total = [0u64; 8];
    let mut refused = Vec::new();
    if let Ok(shops) = progress.snapshot(store) {
        for p in shops {
            if p.state == ShopState::AuthFailed {
                refused.push(format!(
                    "{}: the platform refuses its credentials ({})",
                    p.shop,
                    p.auth_error.clone().unwrap_or_default()
                ));
            }
            let platform = p.shop.trim_end_matches("-demo");
            let w = world.platforms.get(platform).cloned().unwrap_or_default();
            let row = [
                p.pulled as u64,
                p.delivered as u64,
                p.pushed as u64,
                p.pending as u64,
                p.dead_lettered as u64,
                w.orders_created,
                w.stock_writes,
                w.shipments,
            ];
            for (sum, n) in total.iter_mut().zip(row) {
                *sum += n;
            }
            print_row(&p.shop, row);
        }
    }
    print_row("all shops", total);
    for line in refused {
        println!("{line}");
    }
    println!(
        "SAP (simulated): {} sales orders from Wharf, {} deliveries shipped, {} stock changes",
        world.sap.sales_orders, world.sap.deliveries, world.sap.stock_changes
    );
    let (opened, intercepts) =
        world.platforms.values().fold((0, 0), |(o, i), p| (o + p.after_sales_opened, i + p.intercepts_opened));
    let query = AfterSaleQuery { any_sync: true, limit: Some(MAX_PAGE_SIZE), ..Default::default() };
    let stored = store.after_sales().query(TENANT, &query).map(|p| p.after_sales).unwrap_or_default();
    let stop = stored.iter().filter(|s| s.intercept).count();
    println!(
        "After-sales: {} in Wharf ({stop} flagged to stop the parcel; the ERP reads them at GET …/after-sales), \
         {opened} opened on the platforms ({intercepts} before shipping), {answered} agreed by the demo merchant",
        stored.len()
    );
}

fn print_row(name: &str, n: [u64; 8]) {
    println!(
        "{:<14} {:>6} {:>10} {:>8} {:>8} {:>5}   {:>10} {:>6} {:>8}",
        name, n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7]
    );
}

/// The folder holding a `.wasm` of every plugin the sandbox runs, building them from the
/// workspace this binary came from when they are missing.
fn plugins(given: Option<&Path>, platforms: &[String]) -> anyhow::Result<PathBuf> {
    let mut names: Vec<&str> = platforms.iter().map(String::as_str).collect();
    names.push(ERP_PLUGIN);
    let missing = |dir: &Path| {
        names.iter().filter(|n| !dir.join(format!("{n}.wasm")).is_file()).map(|n| n.to_string()).collect::<Vec<_>>()
    };
    if let Some(dir) = given {
        let gone = missing(dir);
        if !gone.is_empty() {
            bail!(
                "{} has no {}",
                dir.display(),
                gone.iter().map(|n| format!("{n}.wasm")).collect::<Vec<_>>().join(", ")
            );
        }
        return Ok(dir.to_path_buf());
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("the runtime crate has no parent folder")?;
    let dir = workspace.join(WORKSPACE_PLUGINS);
    let gone = missing(&dir);
    if gone.is_empty() {
        return Ok(dir);
    }
    if !workspace.join("plugins").is_dir() {
        bail!("no plugins in {} and no workspace to build them from; give --plugin-dir", dir.display());
    }
    println!(
        "Building the plugins ({}) to WebAssembly, once: a minute or two on a first build (cargo shows its progress) …",
        gone.join(", ")
    );
    ensure_wasm_target(workspace)?;
    let wasm_target_dir = workspace.join("target/wasm");
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(workspace)
        .args(["build", "--locked", "--target", WASM_TARGET, "--profile", PLUGIN_PROFILE, "--target-dir"])
        .arg(&wasm_target_dir);
    for name in &gone {
        cargo.args(["-p", &format!("wharf-plugin-{name}")]);
    }
    let status = cargo.status().context("running cargo to build the plugins")?;
    if !status.success() {
        bail!("building the plugins failed ({status})");
    }
    std::fs::create_dir_all(&dir)?;
    for name in &gone {
        let built = wasm_target_dir
            .join(WASM_TARGET)
            .join(PLUGIN_PROFILE)
            .join(format!("wharf_plugin_{}.wasm", name.replace('-', "_")));
        std::fs::copy(&built, dir.join(format!("{name}.wasm")))
            .with_context(|| format!("installing {}", built.display()))?;
    }
    Ok(dir)
}

/// Adds the wasm target with rustup when this toolchain lacks it: rust-toolchain.toml lists it,
/// but rustup adds listed targets only when it installs the toolchain, and the demo is to need
/// nothing but the toolchain.
fn ensure_wasm_target(workspace: &Path) -> anyhow::Result<()> {
    let libdir = Command::new("rustc")
        .current_dir(workspace)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .output()
        .context("running rustc")?;
    if libdir.status.success() && Path::new(String::from_utf8_lossy(&libdir.stdout).trim()).is_dir() {
        return Ok(());
    }
    println!("Adding the {WASM_TARGET} Rust target the plugins are built for (rustup target add {WASM_TARGET}) …");
    let status = Command::new("rustup")
        .current_dir(workspace)
        .args(["target", "add", WASM_TARGET])
        .status()
        .context("running rustup (install the target by hand: rustup target add wasm32-wasip2)")?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed ({status})");
    }
    Ok(())
}

//! Commands, argument parsing and JSON in/out. Results go to stdout as canonical JSON; every
//! failure goes to stderr as one JSON object with a non-zero exit code.

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use wharf_runtime::capability::credentials::{self, Secrets};
use wharf_runtime::capability::grants::HostGrants;
use wharf_runtime::engine::default_cache_dir;
use wharf_runtime::limits::Limits;
use wharf_runtime::model::{Operation, PullRequest, Role, TimeWindow, Timestamp};
use wharf_runtime::{Call, CallError, Plugin, Reply, Sandbox, Shop};
use wharf_runtime::{conformance, scaffold};

mod remote;
#[cfg(feature = "simulators")]
mod sandbox;
mod serve;

#[cfg(feature = "simulators")]
use sandbox::SandboxArgs;

/// `wharf sandbox` in a build without the simulators: whatever it is given, it says how to get
/// a build that has them.
#[cfg(not(feature = "simulators"))]
#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _given: Vec<String>,
}

/// What a build without the `simulators` feature (a production build) answers to the commands
/// that need them.
#[cfg(not(feature = "simulators"))]
fn without_simulators(command: &str) -> String {
    format!(
        "`{command}` needs the platform simulators, which this build of wharf leaves out (a production \
         build: `cargo build --release -p wharf-runtime`); in a Wharf checkout, `cargo run --bin wharf -- …` \
         from the root has them, or build with `--features wharf-runtime/simulators`"
    )
}

/// The plugin's call failed (its error is on stderr as JSON).
pub const EXIT_CALL: u8 = 1;
/// The command line or an input file is wrong.
pub const EXIT_USAGE: u8 = 2;
/// The plugin could not be loaded, or the host could not start.
pub const EXIT_HOST: u8 = 3;

/// Pages `pull-*` follows before deciding a plugin is looping.
const MAX_PAGES: usize = 100_000;

#[derive(Parser, Debug)]
#[command(name = "wharf", version, about = "Docks marketplaces to ERPs through sandboxed wasm connector plugins")]
pub struct Args {
    /// Log as JSON lines instead of text (logs go to stderr; filter with WHARF_LOG).
    #[arg(long, global = true)]
    log_json: bool,
    /// Where compiled plugins are cached (default: $WHARF_CACHE_DIR or ~/.cache/wharf/components).
    #[arg(long, global = true)]
    cache_dir: Option<PathBuf>,
    /// The server and token the remote commands use (`--server`, `--token`), anywhere on the line.
    #[command(flatten)]
    server: remote::Server,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Work with plugin files.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Run every tenant of a configuration: orders to the ERPs, updates back to the shops,
    /// until Ctrl-C or SIGTERM (calls in flight finish, the store is flushed).
    Serve(serve::ServeArgs),
    /// Show Wharf working: simulators of every marketplace and a simulated SAP on loopback,
    /// a demo tenant with a shop per platform, and the engine running between them.
    Sandbox(SandboxArgs),
    #[command(flatten)]
    Remote(remote::Command),
}

#[derive(Subcommand, Debug)]
enum PluginCommand {
    /// Print the plugin's `describe` as JSON.
    Inspect {
        /// The plugin, e.g. target/plugins/taobao.wasm.
        file: PathBuf,
    },
    /// Run one operation for real and print its canonical result as JSON.
    Call(CallArgs),
    /// Run the conformance suite on a plugin and print a scenario table; exit 1 on a failure.
    ///
    /// The contract scenarios need only the plugin. With --sim, the platform scenarios run
    /// against that platform's simulator on loopback.
    Test {
        /// The plugin, e.g. target/plugins/jd.wasm.
        file: PathBuf,
        /// Also run the platform scenarios against this simulator: taobao, jd, douyin, ecshop.
        #[arg(long)]
        sim: Option<String>,
        /// Orders the simulator holds [default: the conformance set's].
        #[arg(long)]
        orders: Option<usize>,
    },
    /// Write a new plugin crate that builds to wasm and passes the contract scenarios.
    New {
        /// The platform's name: lowercase letters, digits and '-'.
        name: String,
        /// marketplace or erp.
        #[arg(long, value_parser = ["marketplace", "erp"])]
        role: String,
        /// Where to write it (default: plugins/<name> when run in a Wharf checkout, else ./<name>).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The wharf-sdk crate a plugin outside the workspace depends on (default: the SDK
        /// this wharf was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    #[command(flatten)]
    Registry(remote::PluginCommand),
}

#[derive(clap::Args, Debug)]
struct CallArgs {
    /// The plugin, e.g. target/plugins/taobao.wasm.
    file: PathBuf,
    /// The operation's WIT name: pull-orders, get-order, push-stock, push-orders, pull-stock, …
    operation: String,
    /// JSON object of the shop's non-secret config (string values).
    #[arg(long)]
    config: Option<PathBuf>,
    /// JSON object of the shop's secrets (string values); the plugin never sees them.
    #[arg(long)]
    secrets: Option<PathBuf>,
    /// JSON input of the operation (see README).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Return the first page only instead of following `next_cursor` to the end.
    #[arg(long)]
    one_page: bool,
    /// The shop id orders are stamped with.
    #[arg(long, default_value = "default")]
    shop: String,
    /// The tenant, for logs.
    #[arg(long, default_value = "cli")]
    tenant: String,
    /// Also grant this host (`name` or `name:port`; an address such as `127.0.0.1:8080` to let
    /// the plugin reach a loopback or private address). The plugin's declared hosts are
    /// granted already; a URL in --config grants nothing.
    #[arg(long = "allow-host")]
    allow_hosts: Vec<String>,
    /// Wall-clock deadline of one call, in milliseconds.
    #[arg(long)]
    deadline_ms: Option<u64>,
}

/// Logs to stderr, as JSON lines or text, at `default_level` unless WHARF_LOG says otherwise.
/// Text is coloured only when stderr is a terminal: a log file or a pipe gets plain text.
pub fn init_tracing(json: bool, default_level: &str) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("WHARF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// A failure of the command, printed as JSON on stderr.
enum Failed {
    Usage(anyhow::Error),
    Load(anyhow::Error),
    Call(CallError),
}

pub async fn run(args: Args) -> ExitCode {
    let cache_dir = args.cache_dir.clone().or_else(default_cache_dir);
    match args.command {
        Command::Serve(serve) => return serve::serve(serve, args.log_json, cache_dir).await,
        #[cfg(feature = "simulators")]
        Command::Sandbox(sandbox) => return sandbox::sandbox(sandbox, args.log_json, cache_dir).await,
        #[cfg(not(feature = "simulators"))]
        Command::Sandbox(_) => {
            eprintln!("{}", json!({"error": "usage", "message": without_simulators("wharf sandbox")}));
            return ExitCode::from(EXIT_USAGE);
        }
        Command::Plugin(_) | Command::Remote(_) => {}
    }
    init_tracing(args.log_json, "warn");
    let outcome = match args.command {
        Command::Serve(_) | Command::Sandbox(_) => unreachable!("run above"),
        Command::Remote(command) => return remote::run(command, &args.server).await,
        Command::Plugin(PluginCommand::Registry(command)) => return remote::run_plugin(command, &args.server).await,
        Command::Plugin(PluginCommand::Inspect { file }) => inspect(&file, cache_dir).await.map(Some),
        Command::Plugin(PluginCommand::Call(call)) => call_plugin(call, cache_dir).await,
        Command::Plugin(PluginCommand::Test { file, sim, orders }) => {
            return test_plugin(&file, sim.as_deref(), orders, cache_dir).await;
        }
        Command::Plugin(PluginCommand::New { name, role, dir, sdk }) => {
            new_plugin(&name, &role, dir, sdk.as_deref()).map(Some)
        }
    };
    match outcome {
        // Printed already, page by page.
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(value)) => {
            // A closed pipe (`… | head`) is the reader's choice, not a failure to report.
            let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&value).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(Failed::Usage(e)) => {
            eprintln!("{}", json!({"error": "usage", "message": format!("{e:#}")}));
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failed::Load(e)) => {
            eprintln!("{}", json!({"error": "load", "message": format!("{e:#}")}));
            ExitCode::from(EXIT_HOST)
        }
        Err(Failed::Call(e)) => {
            eprintln!("{}", e.to_json());
            ExitCode::from(EXIT_CALL)
        }
    }
}

/// `wharf plugin test`: the table on stdout; exit 0 when nothing failed.
async fn test_plugin(file: &Path, sim: Option<&str>, orders: Option<usize>, cache_dir: Option<PathBuf>) -> ExitCode {
    let fail = |error: &str, message: String, code: u8| {
        eprintln!("{}", json!({"error": error, "message": message}));
        ExitCode::from(code)
    };
    let wasm = match std::fs::read(file) {
        Ok(w) => w,
        Err(e) => return fail("load", format!("cannot read {}: {e}", file.display()), EXIT_HOST),
    };
    #[cfg(not(feature = "simulators"))]
    let simulator: Option<Box<conformance::Simulator>> = match (sim, orders) {
        (None, None) => None,
        _ => return fail("usage", without_simulators("wharf plugin test --sim"), EXIT_USAGE),
    };
    #[cfg(feature = "simulators")]
    let simulator = match sim {
        None => None,
        Some(platform) => {
            let mut options = conformance::HarnessOptions::default();
            options.orders = orders.unwrap_or(options.orders);
            // The simulators run on threads of their own; starting one blocks briefly.
            let platform = platform.to_owned();
            match tokio::task::spawn_blocking(move || conformance::start_simulator(&platform, &options)).await {
                Ok(Ok(s)) => Some(s),
                Ok(Err(e)) => return fail("usage", format!("{e:#}"), EXIT_USAGE),
                Err(e) => return fail("host", e.to_string(), EXIT_HOST),
            }
        }
    };
    let report = conformance::run(&wasm, simulator.as_deref(), cache_dir).await;
    if let Some(s) = simulator {
        let _ = tokio::task::spawn_blocking(move || drop(s)).await;
    }
    match report {
        Err(e) => fail("load", format!("loading {}: {e}", file.display()), EXIT_HOST),
        Ok(report) => {
            let _ = write!(std::io::stdout(), "{}", conformance::Report::table(std::slice::from_ref(&report)));
            if report.passed() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_CALL) }
        }
    }
}

/// `wharf plugin new`.
fn new_plugin(name: &str, role: &str, dir: Option<PathBuf>, sdk: Option<&Path>) -> Result<Value, Failed> {
    let role = if role == "erp" { Role::Erp } else { Role::Marketplace };
    let dir = dir.unwrap_or_else(|| {
        if Path::new("plugins").is_dir() && Path::new("sdk/Cargo.toml").is_file() {
            Path::new("plugins").join(name)
        } else {
            PathBuf::from(name)
        }
    });
    let made = scaffold::new_plugin(name, role, &dir, sdk).map_err(|e| Failed::Usage(e.into()))?;
    let wasm_name = made.crate_name.replace('-', "_");
    let next = if made.in_workspace {
        format!(
            "cargo test --workspace builds it to target/plugins/{name}.wasm; then: wharf plugin test target/plugins/{name}.wasm"
        )
    } else {
        format!(
            "cd {} && cargo build --target wasm32-wasip2 --release && wharf plugin test target/wasm32-wasip2/release/{wasm_name}.wasm",
            made.dir.display()
        )
    };
    Ok(json!({"created": made.dir, "crate": made.crate_name, "in_workspace": made.in_workspace, "next": next}))
}

async fn load(file: &Path, limits: Limits, cache_dir: Option<PathBuf>) -> Result<Plugin, Failed> {
    let sandbox = Sandbox::new(limits, cache_dir).map_err(|e| Failed::Load(e.into()))?;
    sandbox.load_file(file).await.map_err(|e| Failed::Load(anyhow!(e).context(format!("loading {}", file.display()))))
}

async fn inspect(file: &Path, cache_dir: Option<PathBuf>) -> Result<Value, Failed> {
    let plugin = load(file, Limits::default(), cache_dir).await?;
    let mut v = serde_json::to_value(plugin.descriptor()).map_err(|e| Failed::Load(e.into()))?;
    v["sha256"] = json!(plugin.sha256());
    Ok(v)
}

fn read_json(path: Option<&Path>, what: &str) -> Result<Option<Value>, Failed> {
    let Some(path) = path else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --{what} {}", path.display()))
        .map_err(Failed::Usage)?;
    serde_json::from_str(&text)
        .with_context(|| format!("--{what} {} is not valid JSON", path.display()))
        .map(Some)
        .map_err(Failed::Usage)
}

fn string_map(value: Option<Value>, what: &str) -> Result<BTreeMap<String, String>, Failed> {
    let Some(value) = value else { return Ok(BTreeMap::new()) };
    let Value::Object(map) = value else {
        return Err(Failed::Usage(anyhow!("--{what} must be a JSON object of strings")));
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            other => Err(Failed::Usage(anyhow!("--{what}: `{k}` must be a string, got {other}"))),
        })
        .collect()
}

fn required_input(input: Option<Value>, operation: Operation) -> Result<Value, Failed> {
    input.ok_or_else(|| Failed::Usage(anyhow!("`{operation}` needs --input <file.json>")))
}

fn parse_input<T: serde::de::DeserializeOwned>(input: Option<Value>, operation: Operation) -> Result<T, Failed> {
    serde_json::from_value(required_input(input, operation)?)
        .map_err(|e| Failed::Usage(anyhow!("--input is not a valid `{operation}` input: {e}")))
}

#[derive(serde::Deserialize)]
struct WindowInput {
    from: String,
    to: String,
    #[serde(default)]
    cursor: Option<String>,
}

#[derive(serde::Deserialize)]
struct OrderIdInput {
    order_id: String,
}

/// A pull's pages printed as they arrive, as the one document the whole pull is
/// (`{"orders": [...], "next_cursor": …}`, pretty-printed), so the CLI holds one page at a time
/// however long the pull: 40 pages of a large shop once took 2 GB held whole. A pull that fails
/// part way still closes the document, with `next_cursor` where to resume; the failure goes to
/// stderr and the exit code as always.
struct Pages<W: std::io::Write> {
    out: W,
    empty: bool,
    /// stdout is gone (`… | head`): the reader has what it wanted; stop pulling.
    closed: bool,
}

impl<W: std::io::Write> Pages<W> {
    fn open(out: W, key: &str) -> Self {
        let mut pages = Pages { out, empty: true, closed: false };
        pages.write(&format!("{{\n  {}: [", json!(key)));
        pages
    }

    fn write(&mut self, text: &str) {
        if !self.closed && self.out.write_all(text.as_bytes()).is_err() {
            self.closed = true;
        }
    }

    /// One item, indented to its place in the list.
    fn item(&mut self, item: &impl serde::Serialize) {
        let text =
            serde_json::to_string_pretty(item).unwrap_or_else(|e| json!({"unprintable": e.to_string()}).to_string());
        let sep = if self.empty { "\n    " } else { ",\n    " };
        self.empty = false;
        // JSON strings never hold a raw newline: every line break is the printer's.
        self.write(&format!("{sep}{}", text.replace('\n', "\n    ")));
    }

    /// The end of a page: what is printed reaches the reader now.
    fn page_done(&mut self) {
        if !self.closed && self.out.flush().is_err() {
            self.closed = true;
        }
    }

    fn close(mut self, next_cursor: Option<&str>) -> W {
        let end = if self.empty { "]" } else { "\n  ]" };
        self.write(&format!("{end},\n  \"next_cursor\": {}\n}}\n", json!(next_cursor)));
        self.page_done();
        self.out
    }
}

/// Hosts of URL values in the operator's config (a custom endpoint, a sandbox gateway).
async fn call_plugin(args: CallArgs, cache_dir: Option<PathBuf>) -> Result<Option<Value>, Failed> {
    let operation = Operation::parse(&args.operation).ok_or_else(|| {
        let names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
        Failed::Usage(anyhow!("unknown operation `{}`; one of: {}", args.operation, names.join(", ")))
    })?;
    let config = string_map(read_json(args.config.as_deref(), "config")?, "config")?;
    let secrets = string_map(read_json(args.secrets.as_deref(), "secrets")?, "secrets")?;
    if let Some(name) = secrets.iter().find(|(_, v)| !credentials::long_enough(v)).map(|(k, _)| k) {
        return Err(Failed::Usage(anyhow!(
            "secret `{name}` in --secrets is shorter than {} characters; a value that short would be scrubbed \
             wherever it occurs by chance in an answer, so it is refused",
            credentials::MIN_SECRET_CHARS
        )));
    }
    let input = read_json(args.input.as_deref(), "input")?;

    let mut limits = Limits::default();
    if let Some(ms) = args.deadline_ms {
        limits.deadline = std::time::Duration::from_millis(ms);
    }
    let plugin = load(&args.file, limits, cache_dir).await?;
    let descriptor = plugin.descriptor();

    for key in descriptor.config_keys.iter().filter(|k| k.required) {
        let present = if key.secret { secrets.contains_key(&key.name) } else { config.contains_key(&key.name) };
        if !present {
            let flag = if key.secret { "--secrets" } else { "--config" };
            return Err(Failed::Usage(anyhow!(
                "plugin {} needs {} `{}` ({}) in {flag}",
                descriptor.name,
                if key.secret { "secret" } else { "config key" },
                key.name,
                key.description
            )));
        }
    }

    let mut grants: Vec<String> = descriptor.http_hosts.clone();
    grants.extend(args.allow_hosts.iter().cloned());
    let shop = Shop::new(args.tenant.clone(), args.shop.clone())
        .with_config(config)
        .with_secrets(Secrets::new(secrets))
        .with_grants(HostGrants::new(grants));

    let window = |input: Option<Value>| -> Result<(TimeWindow, Option<String>), Failed> {
        let w: WindowInput = parse_input(input, operation)?;
        let from = Timestamp::parse_rfc3339(&w.from).map_err(|e| Failed::Usage(anyhow!("input.from: {e}")))?;
        let to = Timestamp::parse_rfc3339(&w.to).map_err(|e| Failed::Usage(anyhow!("input.to: {e}")))?;
        if to <= from {
            return Err(Failed::Usage(anyhow!("input.to ({to}) must be after input.from ({from})")));
        }
        Ok((TimeWindow { from, to }, w.cursor))
    };

    let call = |c: Call| {
        let plugin = plugin.clone();
        let shop = shop.clone();
        async move { plugin.call(&shop, c).await.map_err(Failed::Call) }
    };
    let to_json = |r: Reply| serde_json::to_value(r).map_err(|e| Failed::Load(e.into()));

    match operation {
        Operation::Describe => to_json(call(Call::Describe).await?).map(Some),
        Operation::PullOrders => {
            let (window, mut cursor) = window(input)?;
            let mut pages = Pages::open(std::io::BufWriter::new(std::io::stdout()), "orders");
            for _ in 0..MAX_PAGES {
                let page = match call(Call::PullOrders { window, cursor: cursor.clone() }).await {
                    Ok(Reply::OrderPage(page)) => page,
                    Ok(_) => unreachable!("pull-orders answers an order page"),
                    Err(e) => {
                        pages.close(cursor.as_deref());
                        return Err(e);
                    }
                };
                for order in &page.orders {
                    pages.item(order);
                }
                pages.page_done();
                if page.next_cursor.is_some() && page.next_cursor == cursor {
                    pages.close(cursor.as_deref());
                    return Err(Failed::Usage(anyhow!(
                        "plugin returned the cursor it was given ({:?}); it would loop forever",
                        cursor
                    )));
                }
                cursor = page.next_cursor;
                if cursor.is_none() || args.one_page || pages.closed {
                    break;
                }
            }
            pages.close(cursor.as_deref());
            Ok(None)
        }
        Operation::GetOrder => {
            let OrderIdInput { order_id } = parse_input(input, operation)?;
            to_json(call(Call::GetOrder { order_id }).await?).map(Some)
        }
        Operation::PushStock
        | Operation::PushPrices
        | Operation::PushLots
        | Operation::PushListing
        | Operation::PushProducts
        | Operation::PushCustomers
        | Operation::PushLogistics
        | Operation::PushShipments
        | Operation::PushErpStatus
        | Operation::PushOrders => {
            let push = Call::push(operation, required_input(input, operation)?)
                .map_err(|e| Failed::Usage(anyhow!("--input is not a valid `{operation}` input: {e}")))?;
            to_json(call(push).await?).map(Some)
        }
        pull => {
            let mut request: PullRequest = match input {
                Some(v) => parse_input(Some(v), operation)?,
                None => PullRequest::default(),
            };
            let make = |r: PullRequest| Call::pull(pull, r).expect("every other operation is a pull");
            let mut pages = Pages::open(std::io::BufWriter::new(std::io::stdout()), "items");
            for _ in 0..MAX_PAGES {
                let page = match call(make(request.clone())).await.and_then(to_json) {
                    Ok(page) => page,
                    Err(e) => {
                        pages.close(request.cursor.as_deref());
                        return Err(e);
                    }
                };
                if let Some(Value::Array(v)) = page.get("items") {
                    for item in v {
                        pages.item(item);
                    }
                }
                pages.page_done();
                let next = page.get("next_cursor").and_then(Value::as_str).map(str::to_owned);
                if next.is_some() && next == request.cursor {
                    pages.close(request.cursor.as_deref());
                    return Err(Failed::Usage(anyhow!(
                        "plugin returned the cursor it was given; it would loop forever"
                    )));
                }
                request.cursor = next;
                if request.cursor.is_none() || args.one_page || pages.closed {
                    break;
                }
            }
            pages.close(request.cursor.as_deref());
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the pages print is the document the whole pull was printed as before.
    #[test]
    fn pages_print_the_whole_document_one_item_at_a_time() {
        let items = [json!({"order_id": "1", "lines": [{"sku": "a\nb"}], "empty": {}}), json!("two"), json!([])];
        let mut pages = Pages::open(Vec::new(), "orders");
        for item in &items {
            pages.item(item);
            pages.page_done();
        }
        let printed = String::from_utf8(pages.close(Some("c-2"))).unwrap();
        let whole = json!({"orders": items, "next_cursor": "c-2"});
        assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), whole);
        let pretty = serde_json::to_string_pretty(&json!({"orders": items})).unwrap();
        assert!(printed.starts_with(pretty.trim_end_matches("\n}")), "{printed}");

        let printed = String::from_utf8(Pages::open(Vec::new(), "items").close(None)).unwrap();
        assert_eq!(printed, "{\n  \"items\": [],\n  \"next_cursor\": null\n}\n");
    }
}

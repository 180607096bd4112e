//! A victim tenant's throughput beside each hostile attacker, through `wharf serve` (issue 13; a
//! bench binary; figures go to BENCHMARKS.md).
//!
//! One `wharf serve` per attack: the victim tenant has [`VICTIM_SHOPS`] Taobao shops on the
//! simulator, pulling orders every second; the attacker tenant has [`ATTACKER_SHOPS`] shops
//! running the hostile plugin in one mode (`none`: no attacker tenant, the baseline). Once the
//! victim has pulled all its orders (or after [`WARM_UP`]), for [`MEASURE`]: the victim's plugin
//! calls finished per second and failed (`/metrics`), its orders pulled by the end, `/healthz`
//! asked every [`HEALTHZ_EVERY`] (p50, p99, max), the attacker's calls and serve's peak RSS;
//! then the victim's last error in each run where it had one.
//!
//! Run: `cargo build --locked --bin wharf && cargo bench --locked -p wharf-tests --bench hostile
//! [-- MODE...]` (the modes to run; all of [`MODES`] by default).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use wharf_sim::Marketplace;
use wharf_sim::taobao::{SimConfig, TaobaoSim};
use wharf_tests::figures::percentile;
use wharf_tests::process::{ServeProcess, free_port, metric_sum};

/// The victim's shops; each pulls once a second (the shortest schedule), so with no attacker
/// the victim makes a little under this many calls per second.
const VICTIM_SHOPS: usize = 4;
/// Shops running the attack at once (the starvation run used eight).
const ATTACKER_SHOPS: usize = 4;
/// The victim's orders on its simulator (one page per shop).
const VICTIM_ORDERS: usize = 20;
/// How long the victim gets to pull all its orders before the measurement starts anyway (an
/// attacker that starves it keeps it from ever getting there).
const WARM_UP: Duration = Duration::from_secs(10);
/// How long each attack is measured, after the warm-up.
const MEASURE: Duration = Duration::from_secs(6);
/// How long serve gets to stop after SIGTERM before it is killed (a loop finishes its round).
const STOP_GRACE: Duration = Duration::from_secs(3);
/// Pause between two `/healthz` requests.
const HEALTHZ_EVERY: Duration = Duration::from_millis(50);
/// Longest a `/healthz` is waited for; a request that takes longer counts at this figure.
const HEALTHZ_TIMEOUT: Duration = Duration::from_secs(30);
const OPERATOR: &str = "wharf_hostile_bench_operator";

/// Every mode of the hostile plugin that `pull-orders` runs, after the baseline.
const MODES: [&str; 20] = [
    "none",
    "loop",
    "memory",
    "recursion",
    "huge-output",
    "big-output",
    "panic",
    "poison-instant",
    "poison-id",
    "poison-money",
    "poison-duplicate",
    "log-flood",
    "log-forge",
    "fake-panic",
    "placeholder-flood",
    "echo-encodings",
    "secret-elsewhere",
    "secret-bytes",
    "undeclared-host",
    "env",
];

/// A credential as long as the one the placeholder flood used (1,720 characters).
fn long_secret() -> String {
    "L0ng-credential/".repeat(1_720 / 16 + 1)[..1_720].to_owned()
}

/// A loopback server answering every request with what it received.
async fn echo_server() -> String {
    let app = axum::Router::new().fallback(|req: axum::extract::Request| async move {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
        format!("{} {:?} {}", parts.uri, parts.headers, String::from_utf8_lossy(&body))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// One run's configuration: the victim, and the attacker in `mode` unless it is `none`.
fn config(port: u16, sim: &TaobaoSim, echo: &str, unreachable: &str, mode: &str) -> String {
    let q = |s: &str| format!("{s:?}");
    let table =
        |m: &BTreeMap<String, String>| m.iter().map(|(k, v)| format!("{} = {}", q(k), q(v))).collect::<Vec<_>>();
    let mut toml = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nplugin_dir = {}\nsecrets_file = \"secrets.toml\"\n\
         grant_plugin_dir_hosts = true\nlog_format = \"json\"\n\n",
        q(&wharf_tests::plugins::plugin_dir().display().to_string())
    );
    let sim_config: BTreeMap<String, String> = Marketplace::config(sim);
    for i in 0..VICTIM_SHOPS {
        let _ = writeln!(
            toml,
            "[[tenants.victim.shops]]\nid = \"tb{i}\"\nplatform = \"taobao\"\nplugin = \"taobao\"\nconfig = {{ {} }}\n\
             credentials = {{ app_secret = \"file:victim_app_secret\", session = \"file:victim_session\" }}\n\
             grants = [{}]\n",
            table(&sim_config).join(", "),
            q(&Marketplace::grant(sim))
        );
    }
    toml.push_str("[tenants.victim.pull]\n[tenants.victim.schedule]\norders = \"1s\"\n\n");
    if mode == "none" {
        return toml;
    }
    let mut shop = BTreeMap::from([("mode".to_owned(), mode.to_owned())]);
    let mut grants = Vec::new();
    let mut secret = "attacker_app_secret";
    match mode {
        "placeholder-flood" | "echo-encodings" | "secret-bytes" => {
            shop.insert("echo_url".into(), format!("http://{echo}/echo"));
            grants.push(q(echo));
            if mode == "placeholder-flood" {
                secret = "attacker_long_secret";
            }
            if mode == "secret-bytes" {
                let needle = "attacker/Secret+that must never leak".bytes().map(|b| format!("{:02x}", b ^ 0x5A));
                shop.insert("needle_xor".into(), needle.collect());
            }
        }
        "secret-elsewhere" => {
            shop.insert("target".into(), echo.to_owned());
            grants.push(q(echo));
        }
        "undeclared-host" => {
            shop.insert("target".into(), unreachable.to_owned());
        }
        _ => {}
    }
    for i in 0..ATTACKER_SHOPS {
        let _ = writeln!(
            toml,
            "[[tenants.attacker.shops]]\nid = \"h{i}\"\nplatform = \"hostile\"\nplugin = \"hostile\"\nconfig = {{ {} }}\n\
             credentials = {{ app_secret = \"file:{secret}\", app_user = \"file:attacker_app_user\" }}\ngrants = [{}]\n",
            table(&shop).join(", "),
            grants.join(", ")
        );
    }
    toml.push_str("[tenants.attacker.pull]\n[tenants.attacker.schedule]\norders = \"1s\"\n");
    toml
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One measured run.
struct Figures {
    calls_per_second: f64,
    failed: f64,
    healthz: Vec<Duration>,
    attacker_calls: f64,
    peak_rss_mib: u64,
    /// Orders the victim's shops had pulled at the end, of `VICTIM_SHOPS × VICTIM_ORDERS`.
    orders: u64,
    /// The last error of one of the victim's shops, if any had one.
    last_error: Option<String>,
}

async fn run(mode: &str, sim: &TaobaoSim, echo: &str, unreachable: &str, root: &std::path::Path) -> Figures {
    let dir = root.join(mode);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    std::fs::write(dir.join("wharf.toml"), config(port, sim, echo, unreachable, mode)).unwrap();
    let secrets = [
        ("victim_app_secret", sim.config().app_secret.clone()),
        ("victim_session", sim.config().session.clone()),
        ("attacker_app_secret", "attacker/Secret+that must never leak".to_owned()),
        ("attacker_app_user", "WHARF_BENCH_USER".to_owned()),
        ("attacker_long_secret", long_secret()),
    ];
    let secrets: String = secrets.iter().map(|(k, v)| format!("{k} = {v:?}\n")).collect();
    std::fs::write(dir.join("secrets.toml"), secrets).unwrap();
    let mut serve = ServeProcess::spawn(&dir.join("wharf.toml"), &dir.join("serve.log"), OPERATOR, 50);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let request = http.get(format!("{base}{path}")).bearer_auth(OPERATOR).timeout(HEALTHZ_TIMEOUT);
        async move {
            match request.send().await {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            }
        }
    };
    // Warm-up: every victim shop has pulled every order, or the attacker keeps it from that.
    let started = Instant::now();
    let pulled = |progress: &str| -> u64 {
        let progress: serde_json::Value = serde_json::from_str(progress).unwrap_or_default();
        progress["shops"].as_array().into_iter().flatten().filter_map(|s| s["pulled"].as_u64()).sum()
    };
    while pulled(&get("/v1/tenants/victim/progress").await) < (VICTIM_SHOPS * VICTIM_ORDERS) as u64
        && started.elapsed() < WARM_UP
    {
        assert!(serve.alive(), "{mode}: serve exited:\n{}", serve.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = |metrics: &str| metric_sum(metrics, "wharf_plugin_calls_total", &["tenant=\"victim\""]);
    let failed = |metrics: &str| metric_sum(metrics, "wharf_plugin_call_errors_total", &["tenant=\"victim\""]);
    let before = get("/metrics").await;
    let started = Instant::now();
    let mut healthz = Vec::new();
    while started.elapsed() < MEASURE {
        let asked = Instant::now();
        let answered = http.get(format!("{base}/healthz")).timeout(HEALTHZ_TIMEOUT).send().await.is_ok();
        healthz.push(if answered { asked.elapsed() } else { HEALTHZ_TIMEOUT });
        tokio::time::sleep(HEALTHZ_EVERY).await;
    }
    let after = get("/metrics").await;
    let progress = get("/v1/tenants/victim/progress").await;
    let orders = pulled(&progress);
    let last_error = serde_json::from_str::<serde_json::Value>(&progress).ok().and_then(|p| {
        let shops = p["shops"].as_array()?.clone();
        shops.iter().find_map(|s| s["last_error"].as_str().map(str::to_owned))
    });
    let seconds = started.elapsed().as_secs_f64();
    healthz.sort();
    let figures = Figures {
        calls_per_second: (calls(&after) - calls(&before)) / seconds,
        failed: failed(&after) - failed(&before),
        healthz,
        attacker_calls: metric_sum(&after, "wharf_plugin_calls_total", &["tenant=\"attacker\""]),
        peak_rss_mib: serve.peak_rss_bytes().unwrap_or(0) >> 20,
        orders,
        last_error,
    };
    assert!(serve.alive(), "{mode}: serve died:\n{}", serve.log());
    tokio::task::spawn_blocking(move || serve.stop(STOP_GRACE)).await.unwrap();
    figures
}

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let modes: Vec<&str> =
        MODES.iter().copied().filter(|m| wanted.is_empty() || wanted.iter().any(|w| w == m)).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let sim = TaobaoSim::spawn_from_async(SimConfig {
                orders: VICTIM_ORDERS,
                seed: 13,
                modified_span_ms: 3_600_000,
                app_secret: "victim/App+Secret=Qx7-bench".to_owned(),
                session: "6100victim/Session+Token=Lm9-bench".to_owned(),
                ..SimConfig::default()
            }).await.unwrap();
        let echo = echo_server().await;
        let unreachable = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let unreachable_addr = unreachable.local_addr().unwrap().to_string();
        let root = std::env::temp_dir().join(format!("wharf-hostile-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        println!(
            "\n## Victim beside each attacker: {VICTIM_SHOPS} victim shops, {ATTACKER_SHOPS} attacker shops, {} s each",
            MEASURE.as_secs()
        );
        println!(
            "\n| attacker | victim calls/s | victim failed calls | victim orders pulled | /healthz p50 | p99 | max | attacker calls | serve peak RSS |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        let mut errors = Vec::new();
        for mode in modes {
            let f = run(mode, &sim, &echo, &unreachable_addr, &root).await;
            println!(
                "| {mode} | {:.2} | {} | {}/{} | {} | {} | {} | {} | {} MiB |",
                f.calls_per_second,
                f.failed,
                f.orders,
                VICTIM_SHOPS * VICTIM_ORDERS,
                ms(percentile(&f.healthz, 0.5)),
                ms(percentile(&f.healthz, 0.99)),
                ms(percentile(&f.healthz, 1.0)),
                f.attacker_calls,
                f.peak_rss_mib
            );
            errors.extend(f.last_error.map(|e| format!("- {mode}: {e}")));
        }
        if !errors.is_empty() {
            println!("\nThe victim's last error, where it had one:\n{}", errors.join("\n"));
        }
        drop(unreachable);
        let _ = std::fs::remove_dir_all(&root);
    });
}

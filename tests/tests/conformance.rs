//! The conformance suite over every marketplace plugin, each against its platform's
//! simulator, with the plugin × scenario table printed; and a freshly scaffolded plugin
//! through the contract scenarios.

use std::path::Path;
use std::process::Command;

use wharf_runtime::conformance::{self, HarnessOptions, Report};
use wharf_tests::plugins::{cache_dir, plugin_dir, plugin_path, wharf_bin};

/// Every marketplace plugin of the repository, with the simulator it runs against.
const MARKETPLACES: &[&str] = &["taobao", "jd", "douyin", "ecshop"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_marketplace_plugin_passes_the_suite() {
    let mut reports = Vec::new();
    for platform in MARKETPLACES {
        let wasm = std::fs::read(plugin_path(platform)).expect("plugin built");
        let options = HarnessOptions::default();
        let name = platform.to_string();
        let sim = tokio::task::spawn_blocking(move || conformance::start_simulator(&name, &options))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("starting the {platform} simulator: {e:#}"));
        let report = conformance::run(&wasm, Some(sim.as_ref()), Some(cache_dir())).await.expect("plugin loads");
        tokio::task::spawn_blocking(move || drop(sim)).await.unwrap();
        reports.push(report);
    }
    let table = Report::table(&reports);
    println!("{table}");
    assert!(reports.iter().all(Report::passed), "conformance failures:\n{table}");
}

/// `wharf plugin new` outside the workspace writes a crate, marketplace or ERP, that builds to
/// wasm as it is and passes `wharf plugin test` (the contract scenarios).
#[test]
fn scaffolded_plugins_build_and_pass_the_contract_scenarios() {
    let wharf = wharf_bin();
    // Under the target dir: inside the repository (its toolchain file applies) but its own
    // workspace; the build dir persists between runs so rebuilding is quick.
    let root = plugin_dir().join("../scaffold-test");
    let target = root.join("target");
    for (name, role) in [("acme-mall", "marketplace"), ("acme-erp", "erp")] {
        let dir = root.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        let out =
            Command::new(&wharf).args(["plugin", "new", name, "--role", role, "--dir"]).arg(&dir).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(said["crate"], format!("wharf-plugin-{name}"));

        let build = Command::new(env!("CARGO"))
            .current_dir(&dir)
            .args(["build", "--target", "wasm32-wasip2", "--release", "--quiet"])
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        assert!(
            build.status.success(),
            "the {role} scaffold must build as is:\n{}",
            String::from_utf8_lossy(&build.stderr)
        );
        let wasm = target.join(format!("wasm32-wasip2/release/wharf_plugin_{}.wasm", name.replace('-', "_")));
        assert!(Path::new(&wasm).is_file());

        let test = Command::new(&wharf)
            .args(["plugin", "test"])
            .arg(&wasm)
            .env("WHARF_CACHE_DIR", cache_dir())
            .output()
            .unwrap();
        let table = String::from_utf8_lossy(&test.stdout);
        println!("{table}");
        assert!(test.status.success(), "{table}\n{}", String::from_utf8_lossy(&test.stderr));
        assert!(table.contains("unsupported operations") && table.contains("pass"), "{table}");
    }
}

/// `wharf plugin call <plugin>.wasm pull-orders` as an operator runs it, against each
/// simulator: stdout is the canonical orders, equal to the simulator's truth.
#[test]
fn the_cli_pulls_canonical_orders_from_every_simulator() {
    let wharf = wharf_bin();
    let dir = plugin_dir().join("../cli-pull-test");
    std::fs::create_dir_all(&dir).unwrap();
    for platform in MARKETPLACES {
        let sim = conformance::start_simulator(platform, &HarnessOptions { orders: 40, ..Default::default() })
            .unwrap_or_else(|e| panic!("starting the {platform} simulator: {e:#}"));
        let write = |name: &str, v: &serde_json::Value| {
            let p = dir.join(format!("{platform}-{name}.json"));
            std::fs::write(&p, v.to_string()).unwrap();
            p
        };
        let (from, to) = sim.window();
        let ts = |ms: i64| wharf_sim::harness::rfc3339(ms);
        let config = write("config", &serde_json::to_value(sim.config()).unwrap());
        let secrets = write("secrets", &serde_json::to_value(sim.secrets()).unwrap());
        let input = write("window", &serde_json::json!({"from": ts(from), "to": ts(to)}));
        let out = Command::new(&wharf)
            .args(["plugin", "call"])
            .arg(plugin_path(platform))
            .args(["pull-orders", "--shop", "cli-shop", "--allow-host", &sim.grant()])
            .arg("--config")
            .arg(&config)
            .arg("--secrets")
            .arg(&secrets)
            .arg("--input")
            .arg(&input)
            .env("WHARF_CACHE_DIR", cache_dir())
            .output()
            .unwrap();
        assert!(out.status.success(), "{platform}: {}", String::from_utf8_lossy(&out.stderr));
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut got: Vec<serde_json::Value> = printed["orders"].as_array().expect("orders").clone();
        let mut want = sim.expected_orders("cli-shop", from, to);
        for v in got.iter_mut().chain(want.iter_mut()) {
            wharf_sim::harness::strip_nulls(v);
        }
        let id = |v: &serde_json::Value| v["order_id"].as_str().unwrap_or_default().to_owned();
        got.sort_by_key(id);
        want.sort_by_key(id);
        assert_eq!(got.len(), want.len(), "{platform}: order count (a record refused at the boundary is not printed)");
        assert!(got == want, "{platform}: the CLI's orders differ from the simulator's truth");
        drop(sim);
    }
}

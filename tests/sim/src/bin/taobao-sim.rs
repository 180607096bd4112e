//! Runs the TOP simulator on loopback until interrupted, and writes what `wharf plugin call`
//! needs to talk to it: `config.json`, `secrets.json`, `window.json`, the push inputs it can
//! check, and `expected.json` (the canonical orders the Taobao plugin must print for the
//! window, for shop SHOP).
//!
//! `cargo run -p wharf-sim --bin taobao-sim -- [ORDERS] [OUT_DIR] [SHOP]` (defaults: 200,
//! `target/taobao-sim`, `default`); `--help` says so.

use anyhow::Context;
use wharf_sim::Marketplace;
use wharf_sim::command_line::{Usage, call_line};
use wharf_sim::harness::rfc3339;
use wharf_sim::taobao::{SimConfig, TaobaoSim};

const USAGE: Usage = Usage {
    name: "taobao-sim",
    about: "Runs the Taobao (TOP) simulator on loopback until Ctrl-C.",
    default_orders: 200,
    default_out: "target/taobao-sim",
    takes_shop: true,
    flags: &[],
    details: "Writes config.json, secrets.json, window.json, one push-*.json per push it checks, and \
              expected.json (the orders the plugin must print) into OUT_DIR, and prints the \
              `wharf plugin call` lines to run.",
};

fn main() -> anyhow::Result<()> {
    let args = USAGE.args();
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

    let sim = TaobaoSim::spawn_blocking_runtime(SimConfig { orders: args.orders, ..SimConfig::default() })?;
    let write = |name: &str, value: serde_json::Value| -> anyhow::Result<std::path::PathBuf> {
        let path = out.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(&value)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let config = write("config.json", serde_json::to_value(Marketplace::config(&sim))?)?;
    let secrets = write("secrets.json", serde_json::to_value(Marketplace::secrets(&sim))?)?;
    let (from, to) = Marketplace::window(&sim);
    let window = write("window.json", serde_json::json!({"from": rfc3339(from), "to": rfc3339(to), "cursor": null}))?;
    let expected = write("expected.json", serde_json::Value::Array(sim.expected_orders(&args.shop, from, to)))?;
    let mut pushes = Vec::new();
    for case in Marketplace::push_cases(&sim) {
        pushes.push((case.operation.clone(), write(&format!("{}.json", case.operation), case.input)?));
    }

    println!("TOP simulator with {} orders at {}", args.orders, sim.endpoint());
    println!("pull them (compare with {}) with:", expected.display());
    println!("  {}", call_line("taobao", "pull-orders", &config, &secrets, &window, &args.shop));
    if !pushes.is_empty() {
        println!("push:");
    }
    for (operation, input) in &pushes {
        println!("  {}", call_line("taobao", operation, &config, &secrets, input, &args.shop));
    }
    println!("Ctrl-C stops it.");
    loop {
        std::thread::park();
    }
}

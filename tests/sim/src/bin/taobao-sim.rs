//! Runs the TOP simulator on loopback until interrupted, and writes the files
//! `wharf plugin call` needs to pull from it: `config.json`, `secrets.json`, `window.json`.
//!
//! `cargo run -p wharf-sim --bin taobao-sim -- [ORDERS] [OUT_DIR]` (defaults: 200, `target/taobao-sim`)

use anyhow::Context;
use wharf_sim::taobao::{SimConfig, TaobaoSim};

/// Orders in the simulated shop when none are asked for.
const DEFAULT_ORDERS: usize = 200;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let orders = match args.next() {
        Some(n) => n.parse().with_context(|| format!("ORDERS must be a number, got {n:?}"))?,
        None => DEFAULT_ORDERS,
    };
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/taobao-sim".into()));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let sim = TaobaoSim::spawn_blocking_runtime(SimConfig { orders, ..SimConfig::default() })?;
    let cfg = sim.config();
    let write = |name: &str, value: serde_json::Value| -> anyhow::Result<std::path::PathBuf> {
        let path = out.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(&value)?)?;
        Ok(path)
    };
    let config = write("config.json", serde_json::json!({"endpoint": sim.endpoint(), "app_key": cfg.app_key, "sign_method": "md5"}))?;
    let secrets = write("secrets.json", serde_json::json!({"app_secret": cfg.app_secret, "session": cfg.session}))?;
    let now = chrono::DateTime::from_timestamp_millis(sim.now_ms() + 1000).context("clock")?;
    let from = now - chrono::Duration::milliseconds(cfg.modified_span_ms + 2000);
    let window = write(
        "window.json",
        serde_json::json!({"from": from.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "to": now.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "cursor": null}),
    )?;
    println!("TOP simulator with {orders} orders at {}", sim.endpoint());
    println!("pull them with:");
    println!(
        "  target/debug/wharf plugin call target/plugins/taobao.wasm pull-orders --config {} --secrets {} --input {}",
        config.display(),
        secrets.display(),
        window.display()
    );
    println!("Ctrl-C stops it.");
    loop {
        std::thread::park();
    }
}

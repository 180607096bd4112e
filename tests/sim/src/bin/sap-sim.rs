//! Runs the SAP simulator on loopback until interrupted, and writes what `wharf plugin call`
//! needs to talk to it: `config.json` (OData mode), `config-idoc.json` (IDoc mode),
//! `secrets.json`, `orders.json` (paid canonical orders of the simulator's materials for
//! `push-orders`), `pull.json` (an ERP pull request without a window), and the canonical
//! JSON the plugin must pull: `expected-stock.json`, `expected-shipments.json`,
//! `expected-logistics.json`.
//!
//! `cargo run -p wharf-sim --bin sap-sim -- [ORDERS] [OUT_DIR]` (defaults: 3, `target/sap-sim`);
//! `--help` says so.

use anyhow::Context;
use serde_json::{Value, json};
use wharf_sim::command_line::{DEFAULT_SHOP, Usage, call_line};
use wharf_sim::sap::{SapConfig, SapSim};

const USAGE: Usage = Usage {
    name: "sap-sim",
    about: "Runs the SAP S/4HANA simulator (OData and IDoc over HTTP) on loopback until Ctrl-C.",
    default_orders: 3,
    default_out: "target/sap-sim",
    takes_shop: false,
    flags: &[],
    details: "Writes config.json (OData), config-idoc.json (IDoc), secrets.json, orders.json (ORDERS paid \
              orders for push-orders), pull.json and expected-stock.json, expected-shipments.json, \
              expected-logistics.json into OUT_DIR, and prints the `wharf plugin call` lines to run.",
};
/// The first platform order id of `orders.json` (13 digits, like an ECShop or Taobao id).
const FIRST_ORDER_ID: u64 = 4_200_000_000_001;

fn main() -> anyhow::Result<()> {
    let args = USAGE.args();
    let (orders, out) = (args.orders, args.out.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let sim = SapSim::spawn(SapConfig::default())?;
    let write = |name: &str, value: Value| -> anyhow::Result<std::path::PathBuf> {
        let path = out.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(&value)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let config = write("config.json", serde_json::to_value(sim.plugin_config())?)?;
    let config_idoc = write("config-idoc.json", serde_json::to_value(sim.idoc_plugin_config())?)?;
    let secrets = write("secrets.json", serde_json::to_value(sim.plugin_secrets())?)?;
    let input = write("orders.json", Value::Array(sim.sample_orders(orders, FIRST_ORDER_ID)))?;
    let pull = write("pull.json", json!({"window": null, "cursor": null}))?;
    let sales_org = sim.plugin_config().get("sales_org").cloned().unwrap_or_default();
    write("expected-stock.json", Value::Array(sim.expected_stock(None)))?;
    write("expected-shipments.json", Value::Array(sim.expected_shipments(&sales_org, None)))?;
    write("expected-logistics.json", Value::Array(sim.expected_logistics(&sales_org, None)))?;

    println!("SAP simulator at {} (IDoc endpoint {})", sim.endpoint(), sim.idoc_endpoint());
    let call = |operation: &str, config: &std::path::Path, input: &std::path::Path| {
        println!("  {}", call_line("sap", operation, config, &secrets, input, DEFAULT_SHOP));
    };
    println!("push orders (twice: the second answers already_exists), in IDoc mode, and pull:");
    call("push-orders", &config, &input);
    call("push-orders", &config_idoc, &input);
    for operation in ["pull-stock", "pull-shipments", "pull-logistics"] {
        call(operation, &config, &pull);
    }
    println!("compare with {}/expected-*.json. Ctrl-C stops it.", out.display());
    loop {
        std::thread::park();
    }
}

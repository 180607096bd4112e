//! Serves the real ECShop bridge over a simulated shop until Ctrl-C (or SIGTERM), then stops
//! PHP and removes the shop's files.
//!
//! `cargo run -p wharf-sim --bin ecshop-sim -- [--mariadb] [ORDERS] [OUT_DIR] [SHOP]` (defaults:
//! 200, `target/ecshop-sim`, `default`). OUT_DIR receives what `wharf plugin call` takes
//! (`config.json`, `secrets.json`, `window.json`, one `push-*.json` per push the simulator
//! checks) and `expected.json`, the canonical orders the plugin must print for the window as
//! shop SHOP. Needs php-cli and php-sqlite3; with `--mariadb`, the shop's database is a MariaDB
//! server of its own with ECShop's MySQL tables instead of SQLite, which also needs
//! mariadb-server and php-mysql.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{Value, json};
use wharf_sim::Marketplace;
use wharf_sim::command_line::{Usage, call_line};
use wharf_sim::ecshop::{Backend, EcshopConfig, EcshopSim};
use wharf_sim::harness::rfc3339;

/// The flag that puts the shop on MariaDB.
const MARIADB_FLAG: &str = "--mariadb";

const USAGE: Usage = Usage {
    name: "ecshop-sim",
    about: "Serves the real ECShop bridge (php -S) over a simulated shop until Ctrl-C or SIGTERM.",
    default_orders: 200,
    default_out: "target/ecshop-sim",
    takes_shop: true,
    flags: &[(MARIADB_FLAG, "the shop's tables in a MariaDB server of its own (needs mariadb-server, php-mysql)")],
    details: "Needs php-cli and php-sqlite3 (tests/setup installs them). Writes config.json, secrets.json, \
              window.json, one push-*.json per push it checks, and expected.json into OUT_DIR, and prints the \
              `wharf plugin call` lines to run.",
};

fn save(dir: &Path, name: &str, value: &Value) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value)?).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn main() -> anyhow::Result<()> {
    let args = USAGE.args();
    let backend = if args.has(MARIADB_FLAG) { Backend::MariaDb } else { Backend::Sqlite };
    let (orders, out, shop) = (args.orders, args.out.clone(), args.shop.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let sim = EcshopSim::start(EcshopConfig { orders, backend, ..EcshopConfig::default() })?;

    let (from, to) = sim.window();
    let config = save(&out, "config.json", &json!(sim.config()))?;
    let secrets = save(&out, "secrets.json", &json!(sim.secrets()))?;
    let mut inputs = vec![(
        "pull-orders".to_owned(),
        save(&out, "window.json", &json!({"from": rfc3339(from), "to": rfc3339(to), "cursor": null}))?,
    )];
    for case in sim.push_cases() {
        let file = save(&out, &format!("{}.json", case.operation), &case.input)?;
        inputs.push((case.operation, file));
    }
    let expected = save(&out, "expected.json", &Value::Array(sim.expected_orders(&shop, from, to)))?;

    println!(
        "ECShop bridge with {orders} orders at {} (php -S at {}, files in {})",
        sim.endpoint(),
        sim.bridge_addr(),
        sim.dir().display()
    );
    if let Some(server) = sim.mariadb() {
        println!(
            "the shop's MariaDB: mariadb --no-defaults --socket={} -u root ecshop (or 127.0.0.1:{})",
            server.socket().display(),
            server.addr().port()
        );
    }
    println!("try it:   curl -H 'X-Wharf-Token: {}' '{}?action=ping'", sim.token(), sim.endpoint());
    println!("the plugin (pull-orders prints what {} holds):", expected.display());
    for (operation, input) in &inputs {
        println!("  {}", call_line("ecshop", operation, &config, &secrets, input, &shop));
    }
    println!("Ctrl-C stops it.");

    // Wait on a runtime of our own so SIGTERM, too, ends in `drop(sim)`: PHP stops and the
    // shop's files go.
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    })?;
    drop(sim);
    Ok(())
}

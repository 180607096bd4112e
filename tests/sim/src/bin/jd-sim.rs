//! Runs the JOS simulator on loopback until interrupted, and writes what `wharf plugin call`
//! needs to talk to it: `config.json`, `secrets.json`, `window.json`, the push inputs
//! `push-stock.json` and `push-logistics.json`, and `expected.json` (the canonical orders the
//! JD plugin must print for the window, for shop `SHOP`).
//!
//! `cargo run -p wharf-sim --bin jd-sim -- [ORDERS] [OUT_DIR] [SHOP]` (defaults: 200,
//! `target/jd-sim`, `default`); `--help` says so.

use anyhow::Context;
use wharf_sim::Marketplace;
use wharf_sim::command_line::{Usage, call_line};
use wharf_sim::harness::rfc3339;
use wharf_sim::jd::{JdConfig, JdSim};

const USAGE: Usage = Usage {
    name: "jd-sim",
    about: "Runs the JD (JOS) simulator on loopback until Ctrl-C.",
    default_orders: 200,
    default_out: "target/jd-sim",
    takes_shop: true,
    flags: &[],
    details: "Writes config.json, secrets.json, window.json, push-stock.json, push-logistics.json and \
              expected.json into OUT_DIR and prints the `wharf plugin call` lines to run. Faults on \
              stdin, one a line: throttle <calls> <secs> | revoke | fail <n> <status> | malform | change | clear.",
};

fn main() -> anyhow::Result<()> {
    let args = USAGE.args();
    let (orders, out, shop_id) = (args.orders, args.out.clone(), args.shop.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let sim = JdSim::spawn(JdConfig { orders, ..JdConfig::default() })?;
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
    write("expected.json", serde_json::Value::Array(sim.expected_orders(&shop_id, from, to)))?;
    let mut pushes = Vec::new();
    for case in Marketplace::push_cases(&sim) {
        pushes.push((case.operation.clone(), write(&format!("{}.json", case.operation), case.input)?));
    }

    println!("JOS simulator with {orders} orders at {}", sim.endpoint());
    println!("pull them (compare with {}) with:", out.join("expected.json").display());
    let call = |operation: &str, input: &std::path::Path| {
        println!("  {}", call_line("jd", operation, &config, &secrets, input, &shop_id));
    };
    call("pull-orders", &window);
    println!("push:");
    for (operation, input) in &pushes {
        call(operation, input);
    }
    println!("Ctrl-C stops it. Writes the simulator accepts are printed below as they happen.");
    println!("faults on stdin, one a line: {COMMANDS}");
    std::thread::scope(|s| {
        s.spawn(|| commands(&sim));
        watch(&sim)
    })
}

const COMMANDS: &str = "throttle <calls> <secs> | revoke | fail <n> <status> | malform | change | clear";

/// Applies the fault commands read from stdin until it closes.
fn commands(sim: &JdSim) {
    for line in std::io::stdin().lines().map_while(Result::ok) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
        let done = match (words.first().copied(), number(1), number(2)) {
            (Some("throttle"), Some(calls), Some(secs)) => {
                Marketplace::throttle(sim, u32::try_from(calls).unwrap_or(u32::MAX), secs);
                format!("throttled after {calls} calls for {secs} s")
            }
            (Some("revoke"), ..) => {
                Marketplace::revoke_credentials(sim);
                "access token revoked".to_owned()
            }
            (Some("fail"), Some(n), Some(status)) => {
                sim.faults().fail_next(u32::try_from(n).unwrap_or(u32::MAX), u16::try_from(status).unwrap_or(500));
                format!("the next {n} calls get HTTP {status}")
            }
            (Some("malform"), ..) => {
                format!("the next orders answer has a broken {}", Marketplace::malform_next_order(sim))
            }
            (Some("change"), ..) => format!("order {} changed", Marketplace::change_order(sim)),
            (Some("clear"), ..) => {
                Marketplace::clear_faults(sim);
                "faults cleared".to_owned()
            }
            _ => format!("unknown command {line:?}; expected {COMMANDS}"),
        };
        println!("{done}");
    }
}

/// How often the ground truth is checked for writes to print.
const WATCH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Prints every stock write and shipment the simulator accepts, as ground truth to compare a
/// push with; runs until the process is stopped.
fn watch(sim: &JdSim) -> ! {
    let shipped = |sim: &JdSim| -> Vec<(u64, (String, String))> {
        sim.shop().orders.into_iter().filter_map(|o| o.shipment.map(|s| (o.order_no, s))).collect()
    };
    let (mut writes_seen, mut shipped_seen) = (0, shipped(sim));
    loop {
        std::thread::sleep(WATCH_INTERVAL);
        let writes = sim.stock_writes();
        for w in &writes[writes_seen..] {
            let stock = sim.sku(w.sku_id).map(|s| s.stock);
            println!(
                "stock write: skuId {} stockNum {} storeId {:?} -> sku stock now {stock:?}",
                w.sku_id, w.stock_num, w.store_id
            );
        }
        writes_seen = writes.len();
        let now = shipped(sim);
        for (order_no, (carrier, waybill)) in now.iter().filter(|s| !shipped_seen.contains(s)) {
            println!("shipment: order {order_no} logiCoprId {carrier} logiNo {waybill}");
        }
        shipped_seen = now;
    }
}

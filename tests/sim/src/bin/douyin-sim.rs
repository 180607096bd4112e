//! Runs the 抖店 simulator on loopback until interrupted, and writes the files
//! `wharf plugin call` needs to talk to it: `config.json`, `secrets.json`, `window.json`,
//! the pushes it can check (`push-stock.json`, `push-logistics.json`), and the ground truth
//! `expected.json` (the canonical orders of the window, for shop `SHOP`).
//!
//! `cargo run -p wharf-sim --bin douyin-sim -- [ORDERS] [OUT_DIR] [SHOP]` (defaults: 200,
//! `target/douyin-sim`, `default`, the shop `wharf plugin call` stamps unless `--shop`).
//!
//! Lines on stdin: `expected` rewrites `expected.json` (after pushes or changes), `change`
//! moves one order to its next stage, `check` runs the push checks; faults: `throttle CALLS
//! SECS`, `revoke`, `malform`, `fail STATUS`, `legacy` (the older envelope), `clear`; `quit`
//! stops.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use wharf_sim::Marketplace;
use wharf_sim::command_line::{Usage, call_line};
use wharf_sim::douyin::{DouyinConfig, DouyinSim, Envelope};
use wharf_sim::harness::rfc3339;

const USAGE: Usage = Usage {
    name: "douyin-sim",
    about: "Runs the Douyin (抖店) simulator on loopback until Ctrl-C or `quit`.",
    default_orders: 200,
    default_out: "target/douyin-sim",
    takes_shop: true,
    flags: &[],
    details: "Writes config.json, secrets.json, window.json, push-stock.json, push-logistics.json and \
              expected.json into OUT_DIR and prints the `wharf plugin call` line to run. Lines on stdin: \
              expected, change, check, throttle CALLS SECS, revoke, malform, fail STATUS, legacy, clear, quit.",
};

fn write(dir: &Path, name: &str, value: &serde_json::Value) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn write_expected(sim: &DouyinSim, dir: &Path, shop: &str) -> anyhow::Result<PathBuf> {
    let (from, to) = sim.window();
    write(dir, "expected.json", &serde_json::Value::Array(sim.expected_orders(shop, from, to)))
}

fn main() -> anyhow::Result<()> {
    let args = USAGE.args();
    let (orders, out, shop) = (args.orders, args.out.clone(), args.shop.clone());
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let sim = DouyinSim::spawn(DouyinConfig { orders, ..DouyinConfig::default() })?;
    let config = write(&out, "config.json", &serde_json::to_value(Marketplace::config(&sim))?)?;
    let secrets = write(&out, "secrets.json", &serde_json::to_value(sim.secrets())?)?;
    let (from, to) = sim.window();
    let window =
        write(&out, "window.json", &serde_json::json!({"from": rfc3339(from), "to": rfc3339(to), "cursor": null}))?;
    let cases = sim.push_cases();
    for case in &cases {
        write(&out, &format!("{}.json", case.operation), &case.input)?;
    }
    let expected = write_expected(&sim, &out, &shop)?;

    println!("抖店 simulator with {orders} orders at {}", sim.endpoint());
    println!("ground truth for shop {shop:?}: {}", expected.display());
    println!("pull them with:");
    println!("  {}", call_line("douyin", "pull-orders", &config, &secrets, &window, &shop));
    println!("stdin: expected, change, check, throttle CALLS SECS, revoke, malform, fail STATUS, legacy, clear, quit");

    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
        match words.as_slice() {
            ["expected"] => println!("wrote {}", write_expected(&sim, &out, &shop)?.display()),
            ["change"] => println!("changed order {}", sim.change_order()),
            ["check"] => {
                for case in &cases {
                    println!("{}: {:?}", case.operation, (case.check)());
                }
            }
            ["throttle", _, _] => match (number(1), number(2)) {
                (Some(calls), Some(secs)) => sim.throttle(calls.try_into().unwrap_or(u32::MAX), secs),
                _ => println!("throttle takes two numbers: CALLS SECS"),
            },
            ["revoke"] => sim.revoke_credentials(),
            ["malform"] => println!("breaking the next {}", sim.malform_next_order()),
            ["fail", _] => match number(1).and_then(|s| u16::try_from(s).ok()) {
                Some(status) => sim.faults().fail_next(1, status),
                None => println!("fail takes an HTTP status"),
            },
            ["legacy"] => sim.set_envelope(Envelope::Legacy),
            ["clear"] => {
                sim.clear_faults();
                sim.set_envelope(Envelope::Current);
            }
            ["quit"] => return Ok(()),
            [] => {}
            _ => println!("unknown command {line:?}"),
        }
    }
    // Stdin closed (run in the background): serve until killed.
    loop {
        std::thread::park();
    }
}

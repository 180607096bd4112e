//! Runs a simulated world (every marketplace simulator and the SAP simulator sharing one
//! catalogue, with traffic) on loopback until killed, and prints one JSON line on stdout:
//! `{"shops": [{platform, plugin, shop_id, config, secrets, hosts}…], "erp": {plugin, config,
//! secrets, hosts}, "carriers": {ERP code: {platform: code}}, "skipped": [{platform, reason}]}`.
//! Stats go to stderr every [`STATS_EVERY`].
//!
//! `cargo run -p wharf-sim --bin world-sim -- [--platforms taobao,jd,douyin,ecshop]
//! [--orders-per-second 0.5] [--seed N] [--orders 40]`

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context, bail};
use wharf_sim::world::{World, WorldOptions};

const HELP: &str = "Runs every marketplace simulator and a simulated SAP sharing one catalogue, with traffic, until \
killed; prints one JSON line describing the shops and the ERP, then stats on stderr.

Usage: cargo run -p wharf-sim --bin world-sim -- [--platforms taobao,jd,douyin,ecshop] [--orders-per-second 0.5] \
[--seed N] [--orders 40]";

/// How often the stats line goes to stderr.
const STATS_EVERY: Duration = Duration::from_secs(10);

fn parse_args() -> anyhow::Result<WorldOptions> {
    let mut options = WorldOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            "--platforms" => {
                options.platforms = value()?.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect();
            }
            "--orders-per-second" => {
                let v = value()?;
                options.orders_per_second =
                    v.parse().with_context(|| format!("--orders-per-second must be a number, got {v:?}"))?;
            }
            "--seed" => {
                let v = value()?;
                options.seed = v.parse().with_context(|| format!("--seed must be a whole number, got {v:?}"))?;
            }
            "--orders" => {
                let v = value()?;
                options.orders = v.parse().with_context(|| format!("--orders must be a whole number, got {v:?}"))?;
            }
            other => bail!("unknown argument {other:?}; expected --platforms, --orders-per-second, --seed or --orders"),
        }
    }
    Ok(options)
}

fn main() -> anyhow::Result<()> {
    let world = World::start(parse_args()?)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", world.describe()).context("writing to stdout")?;
    out.flush().context("flushing stdout")?;
    drop(out);
    let _traffic = world.start_traffic();
    loop {
        std::thread::sleep(STATS_EVERY);
        eprintln!("{}", serde_json::to_string(&world.stats())?);
    }
}

//! The simulator binaries' command line, one grammar for all of them:
//! `<platform>-sim [--help] [FLAGS] [ORDERS] [OUT_DIR] [SHOP]`, and the `wharf plugin call`
//! lines they print, written so they run as printed.
//!
//! `--help` (or `-h`) prints the usage instead of being read as an order count; an unknown
//! flag or an ORDERS that is not a number is an error that names it. The printed commands use
//! the `wharf` binary and the plugins of the build the simulator comes from, by absolute path
//! (so they run from any folder), give the files by absolute path, and add `--shop` only when
//! SHOP is not the one `wharf plugin call` stamps anyway.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The shop id `wharf plugin call` stamps orders with unless given `--shop`.
pub const DEFAULT_SHOP: &str = "default";

/// What one simulator binary takes.
pub struct Usage {
    /// The binary's name, e.g. `jd-sim`.
    pub name: &'static str,
    /// One line: what it runs.
    pub about: &'static str,
    pub default_orders: usize,
    /// Relative to the current folder, e.g. `target/jd-sim`.
    pub default_out: &'static str,
    /// Whether a third argument names the shop the expected orders are stamped with.
    pub takes_shop: bool,
    /// Flags besides `--help`: (flag, what it does).
    pub flags: &'static [(&'static str, &'static str)],
    /// What it writes into OUT_DIR and what it reads on stdin, for `--help`.
    pub details: &'static str,
}

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub orders: usize,
    /// Absolute.
    pub out: PathBuf,
    pub shop: String,
    /// The flags of [`Usage::flags`] that were given.
    pub flags: Vec<String>,
}

impl Args {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

impl Usage {
    /// The text `--help` prints.
    pub fn help(&self) -> String {
        let mut text = format!("{}\n\nUsage: cargo run -p wharf-sim --bin {} --", self.about, self.name);
        for (flag, _) in self.flags {
            text.push_str(&format!(" [{flag}]"));
        }
        text.push_str(" [ORDERS] [OUT_DIR]");
        if self.takes_shop {
            text.push_str(" [SHOP]");
        }
        text.push_str(&format!(
            "\n\n  ORDERS    orders in the simulated shop (default {})\n  OUT_DIR   where the files for `wharf plugin call` go (default {})\n",
            self.default_orders, self.default_out
        ));
        if self.takes_shop {
            text.push_str(&format!("  SHOP      the shop id expected.json is stamped with (default {DEFAULT_SHOP})\n"));
        }
        for (flag, what) in self.flags {
            text.push_str(&format!("  {flag:<9} {what}\n"));
        }
        text.push_str("  -h, --help  this text\n");
        if !self.details.is_empty() {
            text.push('\n');
            text.push_str(self.details);
            text.push('\n');
        }
        text
    }

    /// Reads `args` (without the program name). `Ok(None)`: `--help` was asked for.
    pub fn parse(&self, args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Args>> {
        let mut flags = Vec::new();
        let mut positional = Vec::new();
        for arg in args {
            if arg == "--help" || arg == "-h" {
                return Ok(None);
            }
            if arg.starts_with('-') && arg.parse::<f64>().is_err() {
                if self.flags.iter().any(|(f, _)| *f == arg) {
                    flags.push(arg);
                    continue;
                }
                bail!("{}: unknown flag {arg:?} (see {} --help)", self.name, self.name);
            }
            positional.push(arg);
        }
        let most = if self.takes_shop { 3 } else { 2 };
        if positional.len() > most {
            bail!("{}: too many arguments {:?} (see {} --help)", self.name, &positional[most..], self.name);
        }
        let orders = match positional.first() {
            None => self.default_orders,
            Some(n) => n.parse().with_context(|| {
                format!("{}: ORDERS must be a whole number, got {n:?} (see {} --help)", self.name, self.name)
            })?,
        };
        let out = PathBuf::from(positional.get(1).map_or(self.default_out, String::as_str));
        let out = std::path::absolute(&out).with_context(|| format!("{}: OUT_DIR {}", self.name, out.display()))?;
        let shop = positional.get(2).cloned().unwrap_or_else(|| DEFAULT_SHOP.to_owned());
        Ok(Some(Args { orders, out, shop, flags }))
    }

    /// Parses the process's arguments; on `--help` prints the usage and exits 0, on a bad
    /// argument prints the error and exits 2.
    pub fn args(&self) -> Args {
        match self.parse(std::env::args().skip(1)) {
            Ok(Some(args)) => args,
            Ok(None) => {
                print!("{}", self.help());
                std::process::exit(0)
            }
            Err(e) => {
                eprintln!("{e:#}");
                std::process::exit(2)
            }
        }
    }
}

/// The build folder (`target/debug`) this simulator binary runs from, where cargo put `wharf`
/// beside it; `<target>/plugins` holds the plugins the tests' build script installs.
fn build_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(Path::to_path_buf)
}

/// The `wharf` binary to print: the one beside this simulator when it is built, else the path
/// `cargo build` puts it at under the current folder.
pub fn wharf_bin() -> PathBuf {
    let name = format!("wharf{}", std::env::consts::EXE_SUFFIX);
    build_dir().map(|d| d.join(&name)).filter(|p| p.is_file()).unwrap_or_else(|| Path::new("target/debug").join(name))
}

/// The plugin `<target>/plugins/<name>.wasm` of this build.
pub fn plugin(name: &str) -> PathBuf {
    let file = format!("{name}.wasm");
    build_dir()
        .and_then(|d| d.parent().map(|t| t.join("plugins").join(&file)))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| Path::new("target/plugins").join(file))
}

/// One `wharf plugin call` line, runnable as printed.
pub fn call_line(
    plugin_name: &str,
    operation: &str,
    config: &Path,
    secrets: &Path,
    input: &Path,
    shop: &str,
) -> String {
    let mut line = format!(
        "{} plugin call {} {operation} --config {} --secrets {} --input {}",
        wharf_bin().display(),
        plugin(plugin_name).display(),
        config.display(),
        secrets.display(),
        input.display()
    );
    for host in simulator_hosts(config) {
        line.push_str(&format!(" --allow-host {host}"));
    }
    if shop != DEFAULT_SHOP {
        line.push_str(&format!(" --shop {shop}"));
    }
    line
}

/// The `host:port` of every `http://` URL in the plugin config at `config`: the simulator's own
/// loopback address, which the host grants only by address (`--allow-host`), as an operator
/// would; a URL in the config grants nothing by itself.
fn simulator_hosts(config: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(config) else { return Vec::new() };
    let Ok(serde_json::Value::Object(values)) = serde_json::from_str(&text) else { return Vec::new() };
    let mut hosts: Vec<String> = values
        .values()
        .filter_map(|v| v.as_str()?.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?']).next().unwrap_or(rest).to_owned())
        .filter(|h| !h.is_empty())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    const USAGE: Usage = Usage {
        name: "x-sim",
        about: "X",
        default_orders: 200,
        default_out: "target/x-sim",
        takes_shop: true,
        flags: &[("--mariadb", "on MariaDB")],
        details: "",
    };

    fn parse(args: &[&str]) -> anyhow::Result<Option<Args>> {
        USAGE.parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn help_is_help_not_an_order_count() {
        assert_eq!(parse(&["--help"]).unwrap(), None);
        assert_eq!(parse(&["50", "-h"]).unwrap(), None);
        assert!(USAGE.help().contains("[--mariadb] [ORDERS] [OUT_DIR] [SHOP]"), "{}", USAGE.help());
    }

    #[test]
    fn positions_default_and_flags_go_anywhere() {
        let a = parse(&[]).unwrap().unwrap();
        assert_eq!((a.orders, a.shop.as_str(), a.flags.len()), (200, DEFAULT_SHOP, 0));
        assert!(a.out.is_absolute() && a.out.ends_with("target/x-sim"), "{}", a.out.display());
        let a = parse(&["7", "--mariadb", "out", "tb-1"]).unwrap().unwrap();
        assert_eq!((a.orders, a.shop.as_str()), (7, "tb-1"));
        assert!(a.has("--mariadb") && a.out.ends_with("out"));
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = parse(&["--verbose"]).unwrap_err().to_string();
        assert!(e.contains("unknown flag \"--verbose\"") && e.contains("--help"), "{e}");
        let e = format!("{:#}", parse(&["many"]).unwrap_err());
        assert!(e.contains("ORDERS must be a whole number, got \"many\""), "{e}");
        assert!(parse(&["1", "a", "b", "c"]).is_err());
    }

    #[test]
    fn printed_calls_add_the_shop_only_when_it_is_not_the_default() {
        let p = Path::new("/tmp/c.json");
        let line = call_line("jd", "pull-orders", p, p, p, DEFAULT_SHOP);
        assert!(!line.contains("--shop"), "{line}");
        assert!(line.contains("plugin call ") && line.contains("jd.wasm pull-orders"), "{line}");
        assert!(call_line("jd", "pull-orders", p, p, p, "jd-1").ends_with(" --shop jd-1"));
    }
}

//! The conformance suite: every marketplace plugin through the same scenarios, like Airbyte's
//! acceptance tests, so a plugin author knows where they stand with one command
//! (`wharf plugin test <file.wasm> [--sim <platform>]`) and CI holds every plugin to it.
//!
//! Three groups of scenarios:
//! - **contract** ([`contract`]): need nothing but the plugin. `describe` is sane; every
//!   operation it does not declare answers `unsupported`; a declared `pull-orders` turns a
//!   platform 5xx into `transient` and a garbage body into a typed error, never a trap.
//!   A freshly scaffolded plugin passes them.
//! - **platform** ([`platform`]): against a simulator ([`wharf_sim::Marketplace`]): a window
//!   of N orders over several pages gives exactly N orders equal to the simulator's truth;
//!   a changed order comes back changed; amounts add up; big ids survive; throttling, bad
//!   credentials and malformed bodies give the right typed errors; each push changes the
//!   simulator's state.
//! - **rules** ([`rules`]): the rules every plugin follows (canonical-model.md, "Rules every
//!   plugin follows": status, `platform_status`, receiver privacy, line money, one bad
//!   record), case by case: the simulator serves order documents written from the platform's
//!   documented field meanings exactly as given ([`wharf_sim::Marketplace::serve_raw`]), and
//!   the plugin's pull must give the facts the rule names (`rule status: JD PAUSE is held`).
//!
//! [`Report::table`] prints plugin × scenario.

mod contract;
#[cfg(feature = "simulators")]
mod platform;
#[cfg(feature = "simulators")]
mod rules;

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::error::LoadError;
use crate::limits::Limits;

/// How one scenario went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Why it failed: what was expected, what came.
    Fail(String),
    /// Why it did not apply (the plugin does not declare the operation, no simulator).
    Skip(String),
}

/// One scenario's result.
#[derive(Clone, Debug)]
pub struct Check {
    pub scenario: String,
    pub outcome: Outcome,
}

/// The results of one plugin.
#[derive(Clone, Debug)]
pub struct Report {
    /// `name version` of the plugin.
    pub plugin: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// No scenario failed.
    pub fn passed(&self) -> bool {
        !self.checks.iter().any(|c| matches!(c.outcome, Outcome::Fail(_)))
    }

    pub fn failures(&self) -> impl Iterator<Item = (&str, &str)> {
        self.checks.iter().filter_map(|c| match &c.outcome {
            Outcome::Fail(why) => Some((c.scenario.as_str(), why.as_str())),
            _ => None,
        })
    }

    /// A plugin × scenario table of reports (`pass`, `FAIL`, `skip`), then every failure's
    /// reason.
    pub fn table(reports: &[Report]) -> String {
        let mut scenarios: Vec<&str> = Vec::new();
        for r in reports {
            for c in &r.checks {
                if !scenarios.contains(&c.scenario.as_str()) {
                    scenarios.push(&c.scenario);
                }
            }
        }
        let first_width = scenarios.iter().map(|s| s.len()).max().unwrap_or(8).max("scenario".len());
        let widths: Vec<usize> = reports.iter().map(|r| r.plugin.len().max(4)).collect();
        let mut out = String::new();
        let _ = write!(out, "{:<first_width$}", "scenario");
        for (r, w) in reports.iter().zip(&widths) {
            let _ = write!(out, " | {:<w$}", r.plugin);
        }
        out.push('\n');
        out.push_str(&"-".repeat(first_width));
        for w in &widths {
            out.push_str("-+-");
            out.push_str(&"-".repeat(*w));
        }
        out.push('\n');
        for s in &scenarios {
            let _ = write!(out, "{s:<first_width$}");
            for (r, w) in reports.iter().zip(&widths) {
                let cell = match r.checks.iter().find(|c| c.scenario == *s).map(|c| &c.outcome) {
                    Some(Outcome::Pass) => "pass",
                    Some(Outcome::Fail(_)) => "FAIL",
                    Some(Outcome::Skip(_)) => "skip",
                    None => "-",
                };
                let _ = write!(out, " | {cell:<w$}");
            }
            out.push('\n');
        }
        for r in reports {
            for (scenario, why) in r.failures() {
                let _ = writeln!(out, "FAIL {} / {scenario}: {why}", r.plugin);
            }
        }
        out
    }
}

/// Runs the suite over the plugin in `wasm`: the contract scenarios always, the platform
/// scenarios when `sim` is given. Only a plugin that cannot load at all is an `Err`.
pub async fn run(wasm: &[u8], sim: Option<&Simulator>, cache_dir: Option<PathBuf>) -> Result<Report, LoadError> {
    let limits = Limits::default();
    let contract = contract::Contract::new(limits.clone(), cache_dir.clone(), wasm).await?;
    let plugin = contract.plugin();
    let name = format!("{} {}", plugin.descriptor().name, plugin.descriptor().version);
    let mut checks = contract.run().await;
    match sim {
        #[cfg(not(feature = "simulators"))]
        Some(never) => match *never {},
        #[cfg(feature = "simulators")]
        Some(sim) => {
            let sandbox = crate::Sandbox::new(limits, cache_dir)?;
            let plugin: crate::Plugin = sandbox.load(wasm).await?;
            checks.extend(platform::run(&plugin, sim).await);
            if plugin.descriptor().operations.contains(&crate::model::Operation::PullOrders) {
                checks.extend(rules::run(&plugin, sim).await);
            }
        }
        None => checks.push(Check {
            scenario: "platform scenarios".into(),
            outcome: Outcome::Skip("no simulator given (--sim <platform>)".into()),
        }),
    }
    Ok(Report { plugin: name, checks })
}

/// A platform simulator the platform scenarios run against.
#[cfg(feature = "simulators")]
pub type Simulator = dyn wharf_sim::Marketplace;
/// A build without the `simulators` feature (a production build) has no simulator to give:
/// only the contract scenarios run.
#[cfg(not(feature = "simulators"))]
pub enum Simulator {}

#[cfg(feature = "simulators")]
pub use wharf_sim::HarnessOptions;
#[cfg(feature = "simulators")]
pub use wharf_sim::harness::{SIMULATED, start as start_simulator};

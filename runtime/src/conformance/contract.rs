//! Contract scenarios: what every plugin must do whatever its platform, checked with a
//! recorded HTTP transport (no network, no simulator).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Check, Outcome};
use crate::capability::credentials::Secrets;
use crate::capability::grants::HostGrants;
use crate::capability::http::{Client, Response};
use crate::error::{Failure, LoadError};
use crate::limits::Limits;
use crate::model::{ConnectorError, DecryptPurpose, Operation, Role, TimeWindow, Timestamp};
use crate::sandbox::Call;
use crate::{Plugin, Sandbox, Shop};

/// The contract versions this host speaks.
const SUPPORTED_WIT: &[&str] = crate::sandbox::SUPPORTED_CONTRACTS;
/// What the canned transport answers for a non-secret config value that looks like a URL
/// key: a loopback address nothing listens on, so a plugin that bypassed the transport
/// would fail loudly rather than reach the internet.
const CANNED_ENDPOINT: &str = "http://127.0.0.1:9/contract";
const CANNED_HOST: &str = "127.0.0.1:9";
/// A day of orders: any window will do, the transport answers the same whatever is asked.
const DAY_MS: i64 = 86_400_000;
/// 2026-11-11T00:00:00Z, a fixed window start.
const WINDOW_START_MS: i64 = 1_794_355_200_000;

/// What the recorded transport answers.
#[derive(Clone)]
enum Canned {
    Status(u16, &'static str),
}

pub(super) struct Contract {
    plugin: Plugin,
    canned: Arc<Mutex<Canned>>,
}

impl Contract {
    pub async fn new(limits: Limits, cache_dir: Option<PathBuf>, wasm: &[u8]) -> Result<Self, LoadError> {
        let canned = Arc::new(Mutex::new(Canned::Status(503, "Service Unavailable")));
        let answer = canned.clone();
        let client = Client::recorded(Arc::new(move |_request| {
            let Canned::Status(status, body) = answer.lock().unwrap_or_else(PoisonError::into_inner).clone();
            Ok(Response {
                status,
                headers: vec![("content-type".into(), "text/html".into())],
                body: body.as_bytes().to_vec(),
            })
        }));
        let sandbox = Sandbox::with_http(limits, cache_dir, client)?;
        let plugin = sandbox.load(wasm).await?;
        Ok(Self { plugin, canned })
    }

    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    pub async fn run(&self) -> Vec<Check> {
        let mut checks = vec![check("describe", describe(&self.plugin))];
        checks.push(check("unsupported operations", self.unsupported().await));
        let declares_pull = self.plugin.descriptor().operations.contains(&Operation::PullOrders);
        for (scenario, status, body, want) in [
            ("platform 5xx is transient", 503, "Service Unavailable", Want::Transient),
            ("garbage body is a typed error", 200, "<html>502 Bad Gateway</html>", Want::Typed),
        ] {
            let outcome = if declares_pull {
                *self.canned.lock().unwrap_or_else(PoisonError::into_inner) = Canned::Status(status, body);
                self.pull_expecting(want).await
            } else {
                Outcome::Skip("pull-orders not declared".into())
            };
            checks.push(check(scenario, outcome));
        }
        checks
    }

    /// A shop with every required key set to something plausible, every secret present.
    fn shop(&self) -> Shop {
        let d = self.plugin.descriptor();
        let mut config = BTreeMap::new();
        let mut secrets = Vec::new();
        for key in &d.config_keys {
            let name = key.name.to_ascii_lowercase();
            let is_url = name.contains("endpoint") || name.contains("url");
            if key.secret {
                secrets.push((key.name.clone(), format!("contract-{}", key.name)));
            } else if is_url {
                // Even a defaulted endpoint is pointed at the canned transport's address.
                config.insert(key.name.clone(), CANNED_ENDPOINT.to_owned());
            } else if key.required || key.default_value.is_none() {
                config.insert(key.name.clone(), format!("contract-{}", key.name));
            }
        }
        let mut grants: Vec<String> = d.http_hosts.clone();
        grants.push(CANNED_HOST.to_owned());
        Shop::new("conformance", "contract-shop")
            .with_config(config)
            .with_secrets(Secrets::new(secrets))
            .with_grants(HostGrants::new(grants))
    }

    async fn unsupported(&self) -> Outcome {
        let d = self.plugin.descriptor();
        let shop = self.shop();
        let mut problems = Vec::new();
        for op in role_operations(d.role) {
            if d.operations.contains(&op) {
                continue;
            }
            let Some(call) = empty_call(op) else { continue };
            match self.plugin.call(&shop, call).await {
                Err(e) => match e.connector_error() {
                    Some(ConnectorError::Unsupported { operation }) if operation == op.name() => {}
                    Some(ConnectorError::Unsupported { operation }) => problems.push(format!(
                        "{} answered unsupported naming `{operation}`, expected `{}`",
                        op.name(),
                        op.name()
                    )),
                    _ => problems.push(format!("{} is not declared but answered: {e}", op.name())),
                },
                Ok(_) => problems.push(format!("{} is not declared but succeeded", op.name())),
            }
        }
        if problems.is_empty() { Outcome::Pass } else { Outcome::Fail(problems.join("; ")) }
    }

    async fn pull_expecting(&self, want: Want) -> Outcome {
        let call = Call::PullOrders {
            window: TimeWindow { from: Timestamp(WINDOW_START_MS), to: Timestamp(WINDOW_START_MS + DAY_MS) },
            cursor: None,
        };
        match self.plugin.call(&self.shop(), call).await {
            Ok(_) => Outcome::Fail(format!("{} succeeded on a canned failure", want.describe())),
            Err(e) => match (&e.cause, want) {
                (Failure::Plugin(ConnectorError::Transient { .. }), Want::Transient) => Outcome::Pass,
                (Failure::Plugin(ConnectorError::InvalidInput { field, .. }), Want::Typed) if !field.is_empty() => {
                    Outcome::Pass
                }
                (Failure::Plugin(ConnectorError::Platform { .. } | ConnectorError::Transient { .. }), Want::Typed) => {
                    Outcome::Pass
                }
                _ => Outcome::Fail(format!("expected {}, got {e}", want.describe())),
            },
        }
    }
}

#[derive(Clone, Copy)]
enum Want {
    Transient,
    Typed,
}

impl Want {
    fn describe(self) -> &'static str {
        match self {
            Want::Transient => "a `transient` error",
            Want::Typed => "a typed error (`invalid_input` naming a field, `platform` or `transient`)",
        }
    }
}

fn check(scenario: &str, outcome: Outcome) -> Check {
    Check { scenario: scenario.to_owned(), outcome }
}

/// `describe` is sane: names, a supported contract version, no duplicate operations or keys,
/// only operations of its role, hosts as bare `host[:port]`.
fn describe(plugin: &Plugin) -> Outcome {
    let d = plugin.descriptor();
    let mut problems = Vec::new();
    if d.name.trim().is_empty() || d.platform.trim().is_empty() {
        problems.push("name and platform must not be empty".to_owned());
    }
    if !d.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_') {
        problems.push(format!("name {:?} should be lowercase ascii, digits, - or _", d.name));
    }
    if !SUPPORTED_WIT.contains(&d.wit_version.as_str()) {
        problems.push(format!("wit-version {:?} is not one of {SUPPORTED_WIT:?}", d.wit_version));
    }
    if d.version.split('.').count() < 3
        || !d.version.split('.').take(3).all(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()))
    {
        problems.push(format!("version {:?} is not semver (x.y.z)", d.version));
    }
    let mut seen = BTreeSet::new();
    for op in &d.operations {
        if !seen.insert(op.name()) {
            problems.push(format!("operation {} listed twice", op.name()));
        }
        if *op != Operation::Describe && !role_operations(d.role).any(|r| r == *op) {
            problems.push(format!("operation {} is not one of a {:?} plugin's", op.name(), d.role));
        }
    }
    let mut keys = BTreeSet::new();
    for key in &d.config_keys {
        if !keys.insert(key.name.as_str()) {
            problems.push(format!("config key {} listed twice", key.name));
        }
        if key.secret && key.default_value.is_some() {
            problems.push(format!("secret {} must not have a default value", key.name));
        }
    }
    for host in &d.http_hosts {
        if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
            problems.push(format!("http host {host:?} must be a bare host or host:port"));
        }
    }
    if problems.is_empty() { Outcome::Pass } else { Outcome::Fail(problems.join("; ")) }
}

/// The operations of `role`'s world, as the model assigns them ([`Operation::role`]).
pub(super) fn role_operations(role: Role) -> impl Iterator<Item = Operation> {
    Operation::ALL.into_iter().filter(move |op| op.role() == Some(role))
}

/// The operation with an empty or minimal input.
fn empty_call(op: Operation) -> Option<Call> {
    use crate::model::PullRequest;
    let window = TimeWindow { from: Timestamp(WINDOW_START_MS), to: Timestamp(WINDOW_START_MS + DAY_MS) };
    let request = PullRequest { window: Some(window), cursor: None };
    match op {
        Operation::Describe => None,
        Operation::PullOrders => Some(Call::PullOrders { window, cursor: None }),
        Operation::GetOrder => Some(Call::GetOrder { order_id: "1".into() }),
        Operation::PullAfterSales => Some(Call::PullAfterSales { window, cursor: None }),
        Operation::GetAfterSale => Some(Call::GetAfterSale { after_sale_id: "1".into() }),
        Operation::DecryptReceivers => {
            Some(Call::DecryptReceivers { purpose: DecryptPurpose::Waybill, refs: Vec::new() })
        }
        // Every push, with an empty list; every ERP pull, over the window.
        op => Call::push(op, serde_json::Value::Array(Vec::new())).ok().or_else(|| Call::pull(op, request)),
    }
}

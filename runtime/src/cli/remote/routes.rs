//! Which API call each command makes: a pure function of the parsed command, so the mapping
//! is tested without a server.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use url::Url;
use wharf_runtime::api::operations::{Discard, HoldBody, OnOff as Switch, Purge, ReplayAll};
use wharf_runtime::api::plugins::{GrantBody, VersionBody};
use wharf_runtime::api::receivers::{DecryptRequest, OrderRef};
use wharf_runtime::api::tenants::NewToken;
use wharf_runtime::model::Timestamp;

use super::args::*;
use super::client::*;

/// One call to the API, before any file is read.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Request {
    pub(super) method: Method,
    /// Segments after the base URL, unescaped (`Remote` escapes them).
    pub(super) path: Vec<String>,
    pub(super) query: Vec<(&'static str, String)>,
    pub(super) body: Body,
    pub(super) answer: Answer,
}

/// What a request sends.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Body {
    Empty,
    Json(Value),
    /// A JSON file, checked to be JSON before it is sent.
    JsonFile(PathBuf),
    Xlsx(PathBuf),
    /// A plugin, with the file its signature is in.
    Wasm {
        file: PathBuf,
        signature: Option<SignatureFile>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct SignatureFile {
    pub(super) path: PathBuf,
    /// Given with --signature (so it must exist), rather than found beside the plugin.
    pub(super) required: bool,
}

/// What to do with a successful answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Answer {
    /// Print the JSON.
    Json,
    /// Write the bytes to this file.
    SaveTo(PathBuf),
    /// A sheet import: a 422 carries the row report too.
    ImportReport,
    /// An order page: follow `next_cursor` to the end.
    AllOrderPages,
}

impl Request {
    pub(super) fn new(method: Method, path: &[&str]) -> Self {
        Request {
            method,
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: Body::Empty,
            answer: Answer::Json,
        }
    }

    pub(super) fn get(path: &[&str]) -> Self {
        Request::new(Method::GET, path)
    }

    pub(super) fn post(path: &[&str], body: Body) -> Self {
        Request { body, ..Request::new(Method::POST, path) }
    }

    pub(super) fn put(path: &[&str], body: Body) -> Self {
        Request { body, ..Request::new(Method::PUT, path) }
    }

    pub(super) fn delete(path: &[&str]) -> Self {
        Request::new(Method::DELETE, path)
    }

    pub(super) fn query(mut self, query: Vec<(&'static str, String)>) -> Self {
        self.query = query;
        self
    }

    pub(super) fn answer(mut self, answer: Answer) -> Self {
        self.answer = answer;
        self
    }

    /// The full URL under `base` (which may carry a path prefix of its own).
    pub(super) fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(&self.path);
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        url
    }
}

/// A JSON body of one of the API's own request types, so a field the server does not read
/// cannot be sent.
pub(super) fn json<T: Serialize>(body: &T) -> Body {
    Body::Json(serde_json::to_value(body).expect("request bodies serialize"))
}

pub(super) fn on(state: OnOff) -> Body {
    json(&Switch { on: state == OnOff::On })
}

impl Command {
    /// The API call this command makes; `now_ms` places `--for` holds in time.
    pub(super) fn request(&self, now_ms: i64) -> Result<Request, RemoteError> {
        const V1: &str = "v1";
        const TENANTS: &str = "tenants";
        Ok(match self {
            Command::Tenant { command, .. } => match command {
                TenantCommand::List => Request::get(&[V1, TENANTS]),
                TenantCommand::Show { tenant } => Request::get(&[V1, TENANTS, tenant]),
                TenantCommand::Create { file } => Request::post(&[V1, TENANTS], Body::JsonFile(file.clone())),
                TenantCommand::Update { tenant, file } => {
                    Request::put(&[V1, TENANTS, tenant], Body::JsonFile(file.clone()))
                }
                TenantCommand::Delete { tenant } => Request::delete(&[V1, TENANTS, tenant]),
            },
            Command::Shop { command, .. } => match command {
                ShopCommand::List { tenant } => Request::get(&[V1, TENANTS, tenant, "shops"]),
                ShopCommand::Show { tenant, shop } => Request::get(&[V1, TENANTS, tenant, "shops", shop]),
                ShopCommand::Add { tenant, file } => {
                    Request::post(&[V1, TENANTS, tenant, "shops"], Body::JsonFile(file.clone()))
                }
                ShopCommand::Update { tenant, shop, file } => {
                    Request::put(&[V1, TENANTS, tenant, "shops", shop], Body::JsonFile(file.clone()))
                }
                ShopCommand::Remove { tenant, shop } => Request::delete(&[V1, TENANTS, tenant, "shops", shop]),
            },
            Command::Token { command: TokenCommand::Create { tenant, name, decrypt }, .. } => Request::post(
                &[V1, TENANTS, tenant, "tokens"],
                json(&NewToken { name: name.clone(), decrypt: *decrypt }),
            ),
            Command::Token { command: TokenCommand::List { tenant }, .. } => {
                Request::get(&[V1, TENANTS, tenant, "tokens"])
            }
            Command::Token { command: TokenCommand::Revoke { tenant, id }, .. } => {
                Request::delete(&[V1, TENANTS, tenant, "tokens", id])
            }
            Command::Switch { command, .. } => match command {
                SwitchCommand::Module { tenant, shop, module, state } => {
                    Request::put(&[V1, TENANTS, tenant, "shops", shop, "modules", module.name()], on(*state))
                }
                SwitchCommand::Sku { tenant, sku, kind, state } => {
                    Request::put(&[V1, TENANTS, tenant, "skus", sku, kind.name()], on(*state))
                }
                SwitchCommand::List { tenant } => Request::get(&[V1, TENANTS, tenant, "switches"]),
            },
            Command::Hold { command, .. } => match command {
                HoldCommand::Set { tenant, sku, quantity, until, lasting, note } => {
                    let until = match (until, lasting) {
                        (Some(until), _) => *until,
                        (None, Some(ms)) => now_ms.saturating_add(*ms),
                        (None, None) => return Err(RemoteError::Usage("hold set needs --until or --for".to_owned())),
                    };
                    if until <= now_ms {
                        return Err(RemoteError::Usage(format!(
                            "--until {} is not in the future (now is {})",
                            Timestamp(until),
                            Timestamp(now_ms)
                        )));
                    }
                    let quantity = u32::try_from(*quantity).map_err(|_| {
                        RemoteError::Usage(format!("--quantity {quantity} is more than a hold takes ({})", u32::MAX))
                    })?;
                    let body = HoldBody { quantity, until: Timestamp(until), note: note.clone(), sku: None };
                    Request::put(&[V1, TENANTS, tenant, "holds", sku], json(&body))
                }
                HoldCommand::Release { tenant, sku } => Request::delete(&[V1, TENANTS, tenant, "holds", sku]),
            },
            Command::Dlq { command, .. } => match command {
                DlqCommand::List { tenant } => Request::get(&[V1, TENANTS, tenant, "dead-letters"]),
                DlqCommand::Replay { tenant, all: true, only, .. } => {
                    let body = only.map_or(Body::Empty, |q| json(&ReplayAll { queue: Some(q.name().to_owned()) }));
                    Request::post(&[V1, TENANTS, tenant, "dead-letters", "replay"], body)
                }
                DlqCommand::Replay { tenant, queue: Some(queue), id: Some(id), .. } => {
                    Request::post(&[V1, TENANTS, tenant, "dead-letters", queue.name(), id, "replay"], Body::Empty)
                }
                DlqCommand::Replay { .. } => {
                    return Err(RemoteError::Usage("dlq replay needs QUEUE ID, or --all".to_owned()));
                }
                DlqCommand::Discard { tenant, queue, id, reason } => Request::post(
                    &[V1, TENANTS, tenant, "dead-letters", queue.name(), id, "discard"],
                    json(&Discard { reason: reason.clone() }),
                ),
            },
            Command::Quarantine { command, .. } => match command {
                QuarantineCommand::List { tenant, shop } => Request::get(&[V1, TENANTS, tenant, "quarantine"])
                    .query(shop.clone().map(|s| ("shop", s)).into_iter().collect()),
                QuarantineCommand::Retry { tenant, shop, id, module } => {
                    Request::post(&[V1, TENANTS, tenant, "quarantine", shop, module, id, "retry"], Body::Empty)
                }
                QuarantineCommand::Discard { tenant, shop, id, module, reason } => Request::post(
                    &[V1, TENANTS, tenant, "quarantine", shop, module, id, "discard"],
                    json(&Discard { reason: reason.clone() }),
                ),
            },
            Command::Waiting { command } => match command {
                WaitingCommand::List { tenant, shop, sku, limit, cursor } => {
                    let query = [("shop", shop.clone()), ("sku", sku.clone()), ("limit", limit.map(|l| l.to_string()))]
                        .into_iter()
                        .chain([("cursor", cursor.clone())])
                        .filter_map(|(k, v)| v.map(|v| (k, v)))
                        .collect();
                    Request::get(&[V1, TENANTS, tenant, "updates", "waiting"]).query(query)
                }
                WaitingCommand::Purge { tenant, shop, sku, all, reason } => {
                    let body = Purge { shop: shop.clone(), sku: sku.clone(), all: *all, reason: reason.clone() };
                    Request::post(&[V1, TENANTS, tenant, "updates", "waiting", "purge"], json(&body))
                }
            },
            Command::Progress { tenant } => Request::get(&[V1, TENANTS, tenant, "progress"]),
            Command::Unreadable { command } => match command {
                UnreadableCommand::List { tenant } => Request::get(&[V1, TENANTS, tenant, "orders", "unreadable"]),
                UnreadableCommand::Discard { tenant, platform, shop, id, reason } => Request::post(
                    &[V1, TENANTS, tenant, "orders", "unreadable", platform, shop, id, "discard"],
                    json(&Discard { reason: reason.clone() }),
                ),
            },
            Command::Orders { tenant, filter, cursor, all_pages, .. } => {
                let mut query = filter.query();
                query.extend(cursor.clone().map(|c| ("cursor", c)));
                let answer = if *all_pages { Answer::AllOrderPages } else { Answer::Json };
                Request::get(&[V1, TENANTS, tenant, "orders"]).query(query).answer(answer)
            }
            Command::AfterSales { tenant, filter, cursor } => {
                let mut query = filter.query();
                query.extend(cursor.clone().map(|c| ("cursor", c)));
                Request::get(&[V1, TENANTS, tenant, "after-sales"]).query(query)
            }
            Command::Receivers { tenant, shop, orders, reason, purpose } => {
                let purpose = serde_json::from_value(serde_json::Value::String(purpose.clone()))
                    .expect("clap keeps to the purposes the model reads");
                let orders = orders.iter().map(|o| OrderRef { shop_id: shop.clone(), order_id: o.clone() }).collect();
                Request::post(
                    &[V1, TENANTS, tenant, "receivers", "decrypt"],
                    json(&DecryptRequest { orders, purpose, reason: reason.clone() }),
                )
            }
            Command::Audit { tenant, limit } => {
                Request::get(&[V1, TENANTS, tenant, "audit"]).query(vec![("limit", limit.to_string())])
            }
            Command::Ack { tenant, file, .. } => {
                Request::post(&[V1, TENANTS, tenant, "orders", "ack"], Body::JsonFile(file.clone()))
            }
            Command::Push { tenant, kind, file, .. } => {
                Request::post(&[V1, TENANTS, tenant, "updates", kind.name()], Body::JsonFile(file.clone()))
            }
            Command::Import { tenant, kind, file, .. } => {
                Request::post(&[V1, TENANTS, tenant, "imports", kind.name()], Body::Xlsx(file.clone()))
                    .answer(Answer::ImportReport)
            }
            Command::Export { command: ExportCommand::Orders { tenant, out, filter }, .. } => {
                Request::get(&[V1, TENANTS, tenant, "orders.xlsx"])
                    .query(filter.query())
                    .answer(Answer::SaveTo(out.clone()))
            }
            Command::Export { command: ExportCommand::AfterSales { tenant, out, filter }, .. } => {
                Request::get(&[V1, TENANTS, tenant, "after-sales.xlsx"])
                    .query(filter.query())
                    .answer(Answer::SaveTo(out.clone()))
            }
            Command::ImportTemplate { tenant, kind, out, lang, .. } => {
                Request::get(&[V1, TENANTS, tenant, "imports", kind.name(), "template.xlsx"])
                    .query(lang.clone().map(|l| ("lang", l)).into_iter().collect())
                    .answer(Answer::SaveTo(out.clone()))
            }
        })
    }
}

impl PluginCommand {
    /// The API call of a remote command; `None` for the local keygen and sign.
    pub(super) fn request(&self) -> Option<Request> {
        const PLUGINS: [&str; 2] = ["v1", "plugins"];
        let at = |rest: &[&str]| -> Vec<String> { PLUGINS.iter().chain(rest).map(|s| (*s).to_owned()).collect() };
        let with_path = |mut r: Request, rest: &[&str]| {
            r.path = at(rest);
            r
        };
        Some(match self {
            PluginCommand::Upload { file, signature, activate, grants } => {
                let signature = match signature {
                    Some(path) => SignatureFile { path: path.clone(), required: true },
                    None => SignatureFile { path: with_suffix(file, ".sig"), required: false },
                };
                let mut query = Vec::new();
                if *activate {
                    query.push(("activate", "true".to_owned()));
                }
                if !grants.is_empty() {
                    query.push(("grant", grants.join(",")));
                }
                let body = Body::Wasm { file: file.clone(), signature: Some(signature) };
                Request::post(&PLUGINS, body).query(query)
            }
            PluginCommand::List => Request::get(&PLUGINS),
            PluginCommand::Show { name } => with_path(Request::get(&[]), &[name]),
            PluginCommand::Versions { name } => with_path(Request::get(&[]), &[name, "versions"]),
            PluginCommand::Activate { name, version } => {
                let body = json(&VersionBody { version: version.clone() });
                with_path(Request::post(&[], body), &[name, "activate"])
            }
            PluginCommand::Rollback { name } => with_path(Request::post(&[], Body::Empty), &[name, "rollback"]),
            PluginCommand::Pin { name, tenant, version } => {
                let body = json(&VersionBody { version: version.clone() });
                with_path(Request::put(&[], body), &[name, "pins", tenant])
            }
            PluginCommand::Unpin { name, tenant } => with_path(Request::delete(&[]), &[name, "pins", tenant]),
            PluginCommand::Grant { name, hosts } => {
                let body = json(&GrantBody { hosts: hosts.clone() });
                with_path(Request::put(&[], body), &[name, "grants"])
            }
            PluginCommand::Keygen { .. } | PluginCommand::Sign { .. } => return None,
        })
    }
}

/// `path` with `suffix` added to its file name: `a/taobao.wasm` + `.sig` → `a/taobao.wasm.sig`.
pub(super) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

//! From the text of the file to a [`Config`]: every check, every problem at its path.
//!
//! The walk never stops at a problem. Each part is read as far as it can be, problems are
//! collected, and a [`Config`] is only assembled when there were none, so a half-checked
//! configuration can never reach the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::SECRETS_ENV;
use super::document::{self, Deferred, Entry, Node, Record, index_path, key_path, string_table, type_name};
use super::error::{ConfigErrors, Problem, Problems};
use super::model::*;
use super::secrets::{Resolver, Secret, SecretMap, SecretRef, SecretsFile, SecretsSource};
use crate::erp::webhook::MAX_BATCH;
use crate::model::Language;

// The fixed-shape tables of the file, as serde reads them. Every field is optional so that a
// missing one is reported with an example of what to write; tables read entry by entry are
// `Deferred`: serde only admits their key, so their fields are never read.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "Deferred fields only admit their key")]
struct RootRecord {
    data_dir: Option<String>,
    store: Option<String>,
    plugin_dir: Option<String>,
    secrets_file: Option<String>,
    listen: Option<String>,
    log_format: Option<LogFormat>,
    require_signed_plugins: Option<bool>,
    trusted_keys: Option<Vec<String>>,
    grant_plugin_dir_hosts: Option<bool>,
    allow_empty: Option<bool>,
    tenants: Deferred,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "Deferred fields only admit their key")]
struct TenantRecord {
    shops: Deferred,
    erp: Deferred,
    webhook: Deferred,
    pull: Deferred,
    schedule: Deferred,
    carriers: Deferred,
    erp_status: Deferred,
    quota: Deferred,
    language: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaRecord {
    calls_per_second: Option<u32>,
    concurrent_calls: Option<u32>,
    memory_mib: Option<u32>,
    cpu_millis_per_second: Option<u32>,
    stored_mib: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "Deferred fields only admit their key")]
struct ShopRecord {
    id: Option<String>,
    platform: Option<String>,
    plugin: Option<String>,
    config: Deferred,
    credentials: Deferred,
    enabled: Option<bool>,
    grants: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "Deferred fields only admit their key")]
struct ErpRecord {
    plugin: Option<String>,
    config: Deferred,
    credentials: Deferred,
    grants: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookRecord {
    url: Option<String>,
    secret: Option<String>,
    previous_secrets: Option<Vec<String>>,
    batch: Option<usize>,
}

/// `pull = {}`: nothing to set yet, but a key written there is still refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PullRecord {}

/// The ERP routes, in the order messages list them.
const ROUTES: [&str; 3] = ["erp", "webhook", "pull"];

fn check_plugin(name: &str, path: &str, available: &[String], problems: &mut Problems) {
    if !available.iter().any(|p| p == name) {
        let list = if available.is_empty() { "none".to_owned() } else { available.join(", ") };
        problems.push(path, format!("no plugin named {name:?} (available: {list})"));
    }
}

/// Every plugin `tenants` name that is not in `available`, at its path.
pub(crate) fn check_plugins<'t>(
    tenants: impl Iterator<Item = &'t Tenant>,
    available: &[String],
) -> Result<(), ConfigErrors> {
    let mut problems = Problems::default();
    for tenant in tenants {
        let path = key_path("tenants", &tenant.id);
        for (i, shop) in tenant.shops.iter().enumerate() {
            check_plugin(
                &shop.plugin,
                &format!("{}.plugin", index_path(&key_path(&path, "shops"), i)),
                available,
                &mut problems,
            );
        }
        if let ErpRoute::Plugin(erp) = &tenant.erp {
            check_plugin(&erp.plugin, &key_path(&key_path(&path, "erp"), "plugin"), available, &mut problems);
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.into_errors()) }
}

/// The names of the plugins available in a plugin folder, or why the folder cannot be read.
pub(crate) type PluginNames<'a> = dyn Fn(&Path) -> Result<Vec<String>, String> + 'a;

/// What a configuration is checked against, besides its own text.
pub(crate) struct Inputs<'a> {
    /// Relative paths in the file are relative to this (the config file's folder).
    pub(crate) base_dir: &'a Path,
    /// The names of the available plugins, given the configured plugin folder; `None` leaves
    /// plugin names unchecked (the host checks them against its registry once it is open).
    pub(crate) plugins: Option<&'a PluginNames<'a>>,
    pub(crate) env: &'a dyn Fn(&str) -> Option<String>,
}

/// Checks `text` and builds the configuration, or returns every problem found.
pub(crate) fn build(text: &str, inputs: &Inputs<'_>) -> Result<Config, ConfigErrors> {
    let mut problems = Problems::default();
    let Some(doc) = document::parse(text, &mut problems) else {
        return Err(problems.into_errors());
    };
    let Some(root) = document::record::<RootRecord>(&doc, String::new(), &mut problems) else {
        return Err(problems.into_errors());
    };
    let fields = &root.fields;

    let data_dir = folder(&root, "data_dir", &fields.data_dir, DEFAULT_DATA_DIR, inputs.base_dir, &mut problems);
    let store = match fields.store.as_deref() {
        None => StoreLocation::Sled(data_dir.clone()),
        Some(text) => match text.split_once(':') {
            Some(("sled", dir)) if !dir.is_empty() => StoreLocation::Sled(inputs.base_dir.join(dir)),
            Some(("postgres" | "postgresql", _)) if url::Url::parse(text).is_ok_and(|u| u.has_host()) => {
                StoreLocation::Postgres(text.to_owned())
            }
            _ => {
                problems.push(
                    root.path_of("store"),
                    "expected \"sled:<folder>\" or \"postgres://user@host:port/database\"; omit it for sled in data_dir"
                        .to_owned(),
                );
                StoreLocation::Sled(data_dir.clone())
            }
        },
    };
    let plugin_dir =
        folder(&root, "plugin_dir", &fields.plugin_dir, DEFAULT_PLUGIN_DIR, inputs.base_dir, &mut problems);
    let listen = match &fields.listen {
        None => DEFAULT_LISTEN,
        Some(text) => text.parse::<SocketAddr>().unwrap_or_else(|_| {
            problems.push(root.path_of("listen"), format!("expected an IP address and port like \"{DEFAULT_LISTEN}\" (host names are not resolved); got {text:?}"));
            DEFAULT_LISTEN
        }),
    };
    let log_format = fields.log_format.unwrap_or(DEFAULT_LOG_FORMAT);

    let plugins = match inputs.plugins.map(|list| list(&plugin_dir)) {
        None => None,
        Some(Ok(mut names)) => {
            names.sort();
            names.dedup();
            Some(names)
        }
        Some(Err(message)) => {
            problems.push(root.path_of("plugin_dir"), message);
            None
        }
    };

    let (secrets_file, source) = secrets_source(&root, inputs, &mut problems);

    let mut checker =
        Checker { problems, deprecated: Vec::new(), plugins, resolver: Resolver { env: inputs.env, file: source } };
    let tenants = checker.tenants(&root);

    if !checker.problems.is_empty() {
        return Err(checker.problems.into_errors());
    }
    Ok(Config {
        data_dir,
        store,
        plugin_dir,
        secrets_file,
        listen,
        log_format,
        require_signed_plugins: fields.require_signed_plugins.unwrap_or(false),
        trusted_keys: fields.trusted_keys.clone().unwrap_or_default(),
        grant_plugin_dir_hosts: fields.grant_plugin_dir_hosts.unwrap_or(false),
        allow_empty: fields.allow_empty.unwrap_or(false),
        tenants,
        deprecated: checker.deprecated,
    })
}

/// The secrets file, if one is named, and what references resolve against. The environment
/// names the file at run time, so it wins over the file's own setting. A file that cannot be
/// used is reported here, once, at the setting that named it.
fn secrets_source(
    root: &Record<'_, '_, RootRecord>,
    inputs: &Inputs<'_>,
    problems: &mut Problems,
) -> (Option<PathBuf>, SecretsSource) {
    let (path, setting) = match (inputs.env)(SECRETS_ENV).filter(|p| !p.is_empty()) {
        Some(path) => (PathBuf::from(path), SECRETS_ENV.to_owned()),
        None => match root.fields.secrets_file.as_deref() {
            None => return (None, SecretsSource::None),
            Some("") => {
                problems.push(root.path_of("secrets_file"), "empty; omit it when there is no secrets file");
                return (None, SecretsSource::None);
            }
            Some(path) => (inputs.base_dir.join(path), root.path_of("secrets_file")),
        },
    };
    let source = match SecretsFile::read(&path) {
        Ok(file) => SecretsSource::Loaded(file),
        Err(messages) => {
            for message in messages {
                problems.push(&setting, message);
            }
            SecretsSource::Broken
        }
    };
    (Some(path), source)
}

/// A folder setting, resolved against the config file's folder.
fn folder<T>(
    root: &Record<'_, '_, T>,
    key: &str,
    value: &Option<String>,
    default: &str,
    base: &Path,
    problems: &mut Problems,
) -> PathBuf {
    match value.as_deref() {
        None => base.join(default),
        Some("") => {
            problems.push(root.path_of(key), format!("empty; omit it for the default {default:?}"));
            base.join(default)
        }
        Some(path) => base.join(path),
    }
}

/// What the shops of one tenant seen so far tell about the next.
struct SeenShops {
    /// Shop id → index of the first shop with it.
    first_index: BTreeMap<String, usize>,
    /// The tenant's platforms, `None` once a shop's platform is unknown (so the carrier table
    /// is not checked against an incomplete set).
    platforms: Option<BTreeSet<String>>,
}

/// The walk below the globals: its problems, and what it checks names and references against.
struct Checker<'a> {
    problems: Problems,
    /// Older spellings read (see [`Config::deprecated`]).
    deprecated: Vec<Problem>,
    /// `None` when the plugin folder could not be listed (already reported): plugin names are
    /// then not checked, rather than all reported missing.
    plugins: Option<Vec<String>>,
    resolver: Resolver<'a>,
}

impl Checker<'_> {
    fn tenants(&mut self, root: &Record<'_, '_, RootRecord>) -> BTreeMap<String, Tenant> {
        let path = root.path_of("tenants");
        let mut tenants = BTreeMap::new();
        let table = match root.node("tenants").map(|n| n.get_ref()) {
            Some(value) => match value.as_table() {
                Some(table) => table,
                None => {
                    self.problems.push(path, format!("expected a table of tenants, found {}", type_name(value)));
                    return tenants;
                }
            },
            // A host may start with no tenants: the operator adds them over the API.
            None => return tenants,
        };
        for (id, node) in table {
            let id = id.get_ref().as_ref();
            let tenant_path = key_path(&path, id);
            if let Err(message) = check_name(id, "tenant id") {
                self.problems.push(&tenant_path, message);
            }
            if let Some(tenant) = self.tenant(id, node, tenant_path) {
                tenants.insert(id.to_owned(), tenant);
            }
        }
        tenants
    }

    fn tenant(&mut self, id: &str, node: &Node<'_>, path: String) -> Option<Tenant> {
        let record = document::record::<TenantRecord>(node, path, &mut self.problems)?;
        let (shops, platforms) = self.shops(&record);
        let erp = self.route(&record);
        let schedule = match record.node("schedule") {
            Some(node) => self.schedule(node, &record.path_of("schedule")),
            None => Schedule::default(),
        };
        let carriers = match record.node("carriers") {
            Some(node) => self.carriers(node, &record.path_of("carriers"), platforms.as_ref()),
            None => CarrierTable::default(),
        };
        let erp_status = match record.node("erp_status") {
            Some(node) => self.erp_status(node, &record.path_of("erp_status")),
            None => ErpStatusTable::default(),
        };
        let quota = match record.node("quota") {
            Some(node) => self.quota(node, record.path_of("quota")),
            None => Quota::default(),
        };
        let language = match record.fields.language.as_deref() {
            None => Language::default(),
            Some(code) => Language::parse(code).unwrap_or_else(|| {
                self.problems.push(record.path_of("language"), format!("expected \"zh\" or \"en\", got {code:?}"));
                Language::default()
            }),
        };
        Some(Tenant { id: id.to_owned(), shops, erp: erp?, schedule, carriers, erp_status, quota, language })
    }

    /// The tenant's shops, and the set of their platforms when every shop's platform is known
    /// (so the carrier table can be checked against it without false alarms).
    fn shops(&mut self, tenant: &Record<'_, '_, TenantRecord>) -> (Vec<ShopConfig>, Option<BTreeSet<String>>) {
        let path = tenant.path_of("shops");
        let none = format!("no shops; declare at least one [[{path}]] table");
        let Some(node) = tenant.node("shops") else {
            self.problems.push(path, none);
            return (Vec::new(), None);
        };
        let Some(items) = node.get_ref().as_array() else {
            self.problems
                .push(&path, format!("expected an array of tables ([[{path}]]), found {}", type_name(node.get_ref())));
            return (Vec::new(), None);
        };
        if items.is_empty() {
            self.problems.push(&path, none);
        }
        let mut shops = Vec::with_capacity(items.len());
        let mut seen = SeenShops { first_index: BTreeMap::new(), platforms: Some(BTreeSet::new()) };
        for (i, item) in items.iter().enumerate() {
            let shop_path = index_path(&path, i);
            match document::record::<ShopRecord>(item, shop_path, &mut self.problems) {
                Some(record) => shops.extend(self.shop(&record, i, &path, &mut seen)),
                None => seen.platforms = None,
            }
        }
        (shops, seen.platforms)
    }

    /// One shop, element `index` of the tenant's `shops` (at `shops_path`).
    fn shop(
        &mut self,
        record: &Record<'_, '_, ShopRecord>,
        index: usize,
        shops_path: &str,
        seen: &mut SeenShops,
    ) -> Option<ShopConfig> {
        let fields = &record.fields;
        let id = record.required("id", &fields.id, "id = \"tb-main\"", &mut self.problems);
        if let Some(id) = id {
            let id_path = record.path_of("id");
            if let Err(message) = check_name(id, "shop id") {
                self.problems.push(&id_path, message);
            }
            match seen.first_index.get(id) {
                Some(first) => {
                    let first = index_path(shops_path, *first);
                    self.problems.push(id_path, format!("duplicate shop id {id:?} (first at {first})"));
                }
                None => {
                    seen.first_index.insert(id.clone(), index);
                }
            }
        }
        let example = "platform = \"taobao\"";
        let platform = record.required("platform", &fields.platform, example, &mut self.problems);
        match platform.map(|p| (p, check_name(p, "platform name"))) {
            Some((p, Ok(()))) => {
                if let Some(set) = seen.platforms.as_mut() {
                    set.insert(p.clone());
                }
            }
            Some((_, Err(message))) => {
                self.problems.push(record.path_of("platform"), message);
                seen.platforms = None;
            }
            None => seen.platforms = None,
        }
        let example = "plugin = \"taobao\"";
        let plugin = record.required("plugin", &fields.plugin, example, &mut self.problems);
        if let Some(plugin) = plugin {
            self.check_plugin(plugin, &record.path_of("plugin"));
        }
        let config = self.plugin_config(record.node("config"), &record.path_of("config"));
        let (credentials, secrets) =
            self.credentials(record.node("credentials"), &record.path_of("credentials"), &config);
        let grants = self.grants(fields.grants.as_deref(), &record.path_of("grants"));
        Some(ShopConfig {
            id: id?.clone(),
            platform: platform?.clone(),
            plugin: plugin?.clone(),
            config,
            credentials,
            secrets,
            enabled: fields.enabled.unwrap_or(DEFAULT_SHOP_ENABLED),
            grants,
        })
    }

    /// A plugin's own `grants`: each `name`, `name:port`, or an address with or without port.
    fn grants(&mut self, entries: Option<&[String]>, path: &str) -> Vec<String> {
        let entries = entries.unwrap_or_default();
        for (i, entry) in entries.iter().enumerate() {
            let ok = url::Url::parse(&format!("http://{entry}/")).is_ok_and(|u| {
                u.host_str().is_some() && u.path() == "/" && u.username().is_empty() && u.query().is_none()
            }) && !entry.contains('/')
                && !entry.contains('@');
            if !ok {
                self.problems.push(
                    index_path(path, i),
                    format!("{entry:?} is not a host: write `name`, `name:port` or `127.0.0.1:8080`"),
                );
            }
        }
        entries.to_vec()
    }

    fn check_plugin(&mut self, name: &str, path: &str) {
        if let Some(available) = &self.plugins {
            check_plugin(name, path, available, &mut self.problems);
        }
    }

    fn plugin_config(&mut self, node: Option<&Node<'_>>, path: &str) -> BTreeMap<String, String> {
        let Some(node) = node else {
            return BTreeMap::new();
        };
        string_table(node, path, &mut self.problems).into_iter().map(|e| (e.key, e.value)).collect()
    }

    /// A plugin's secret names with their references, and the resolved values.
    fn credentials(
        &mut self,
        node: Option<&Node<'_>>,
        path: &str,
        config: &BTreeMap<String, String>,
    ) -> (BTreeMap<String, SecretRef>, SecretMap) {
        let mut references = BTreeMap::new();
        let mut secrets = SecretMap::default();
        let Some(node) = node else {
            return (references, secrets);
        };
        for Entry { key, value, path } in string_table(node, path, &mut self.problems) {
            if !is_secret_name(&key) {
                self.problems.push(
                    &path,
                    "a secret name is ASCII letters, digits, '_' or '-' (the plugin asks for it by that name)",
                );
                continue;
            }
            if config.contains_key(&key) {
                self.problems
                    .push(&path, format!("{key:?} is also set in config; a name is either configuration or a secret"));
            }
            if let Some((reference, secret)) = self.secret(&value, &path) {
                // The message names the reference, never the value or its length.
                if !crate::capability::credentials::long_enough(secret.expose()) {
                    self.problems.push(
                        &path,
                        format!(
                            "the secret {reference} is shorter than {} characters; every answer is scrubbed of every \
                             secret, and a value that short would also be scrubbed where it occurs by chance, so it \
                             is refused (use a longer credential)",
                            crate::capability::credentials::MIN_SECRET_CHARS
                        ),
                    );
                    continue;
                }
                references.insert(key.clone(), reference);
                secrets.insert(key, secret);
            }
        }
        (references, secrets)
    }

    /// Reads one secret reference and resolves it.
    fn secret(&mut self, text: &str, path: &str) -> Option<(SecretRef, Secret)> {
        let reference = SecretRef::parse(text).map_err(|message| self.problems.push(path, message)).ok()?;
        match self.resolver.resolve(&reference) {
            Ok(secret) => Some((reference, secret)),
            Err(Some(message)) => {
                self.problems.push(path, message);
                None
            }
            Err(None) => None,
        }
    }

    /// A webhook secret: any reference, and a `whsec_` value must hold base64 after its prefix.
    fn webhook_secret(&mut self, text: &str, path: &str) -> Option<(SecretRef, Secret)> {
        let (reference, secret) = self.secret(text, path)?;
        if let Err(message) = crate::erp::webhook::standard_key(secret.expose().as_bytes()) {
            self.problems.push(path, message);
            return None;
        }
        Some((reference, secret))
    }

    fn route(&mut self, tenant: &Record<'_, '_, TenantRecord>) -> Option<ErpRoute> {
        let present: Vec<&str> = ROUTES.into_iter().filter(|key| tenant.node(key).is_some()).collect();
        // Each route given is checked, even when there are two: both may need fixing.
        let mut routes = Vec::new();
        if let Some(node) = tenant.node("erp") {
            routes.push(self.erp_plugin(node, tenant.path_of("erp")));
        }
        if let Some(node) = tenant.node("webhook") {
            routes.push(self.webhook(node, tenant.path_of("webhook")));
        }
        if let Some(node) = tenant.node("pull") {
            routes.push(
                document::record::<PullRecord>(node, tenant.path_of("pull"), &mut self.problems)
                    .map(|_| ErpRoute::Pull),
            );
        }
        if present.len() != 1 {
            let found = if present.is_empty() { "none".to_owned() } else { present.join(", ") };
            self.problems.push(&tenant.path, format!("exactly one of {} (found {found})", ROUTES.join(", ")));
            return None;
        }
        routes.pop().flatten()
    }

    fn erp_plugin(&mut self, node: &Node<'_>, path: String) -> Option<ErpRoute> {
        let record = document::record::<ErpRecord>(node, path, &mut self.problems)?;
        let plugin = record.required("plugin", &record.fields.plugin, "plugin = \"sap\"", &mut self.problems);
        if let Some(plugin) = plugin {
            self.check_plugin(plugin, &record.path_of("plugin"));
        }
        let config = self.plugin_config(record.node("config"), &record.path_of("config"));
        let (credentials, secrets) =
            self.credentials(record.node("credentials"), &record.path_of("credentials"), &config);
        let grants = self.grants(record.fields.grants.as_deref(), &record.path_of("grants"));
        Some(ErpRoute::Plugin(ErpPlugin { plugin: plugin?.clone(), config, credentials, secrets, grants }))
    }

    fn webhook(&mut self, node: &Node<'_>, path: String) -> Option<ErpRoute> {
        let record = document::record::<WebhookRecord>(node, path, &mut self.problems)?;
        let url = record.required(
            "url",
            &record.fields.url,
            "url = \"https://erp.example.com/wharf/orders\"",
            &mut self.problems,
        );
        let url = url.and_then(|url| match webhook_url(url) {
            Ok(url) => Some(url),
            Err(message) => {
                self.problems.push(record.path_of("url"), message);
                None
            }
        });
        let secret = record.required(
            "secret",
            &record.fields.secret,
            "secret = \"env:WHARF_ERP_WEBHOOK_SECRET\"",
            &mut self.problems,
        );
        let secret = secret.and_then(|text| self.webhook_secret(text, &record.path_of("secret")));
        let mut previous = Vec::new();
        for (i, text) in record.fields.previous_secrets.iter().flatten().enumerate() {
            previous.extend(self.webhook_secret(text, &format!("{}[{i}]", record.path_of("previous_secrets"))));
        }
        let batch = match record.fields.batch {
            None => 1,
            Some(n) if (1..=MAX_BATCH).contains(&n) => n,
            Some(n) => {
                let message = format!("events per POST: 1 (one event, the first shape) to {MAX_BATCH}; got {n}");
                self.problems.push(record.path_of("batch"), message);
                1
            }
        };
        let (secret_ref, secret) = secret?;
        Some(ErpRoute::Webhook(WebhookRoute { url: url?, secret_ref, secret, previous, batch }))
    }

    fn quota(&mut self, node: &Node<'_>, path: String) -> Quota {
        let mut quota = Quota::default();
        let Some(record) = document::record::<QuotaRecord>(node, path, &mut self.problems) else {
            return quota;
        };
        let max_mib = (crate::limits::DEFAULT_MEMORY_BYTES >> 20) as u32;
        let fields = [
            ("calls_per_second", record.fields.calls_per_second, &mut quota.calls_per_second, u32::MAX),
            (
                "concurrent_calls",
                record.fields.concurrent_calls,
                &mut quota.concurrent_calls,
                crate::engine::POOL_COMPONENT_INSTANCES,
            ),
            ("memory_mib", record.fields.memory_mib, &mut quota.memory_mib, max_mib),
            ("cpu_millis_per_second", record.fields.cpu_millis_per_second, &mut quota.cpu_millis_per_second, u32::MAX),
            ("stored_mib", record.fields.stored_mib, &mut quota.stored_mib, u32::MAX),
        ];
        for (key, value, slot, max) in fields {
            match value {
                Some(0) => {
                    self.problems.push(record.path_of(key), "zero would stop the tenant; remove the shops to do that")
                }
                Some(v) if v > max => {
                    self.problems.push(record.path_of(key), format!("at most {max} on this host; got {v}"))
                }
                Some(v) => *slot = v,
                None => {}
            }
        }
        quota
    }

    /// Keys are module names ([`Module::named`]): an older spelling is read, and noted in
    /// [`Config::deprecated`].
    fn schedule(&mut self, node: &Node<'_>, path: &str) -> Schedule {
        let mut schedule = Schedule::default();
        for entry in string_table(node, path, &mut self.problems) {
            let Some(named) = Module::named(&entry.key) else {
                let message = format!("unknown module (modules: {})", Module::names(Module::ALL));
                self.problems.push(entry.path, message);
                continue;
            };
            if let Some(message) = named.deprecation() {
                self.deprecated.push(Problem::new(&entry.path, message));
            }
            match Interval::parse(&entry.value) {
                Ok(interval) => schedule.set(named.module, interval),
                Err(message) => self.problems.push(entry.path, message),
            }
        }
        schedule
    }

    fn carriers(&mut self, node: &Node<'_>, path: &str, platforms: Option<&BTreeSet<String>>) -> CarrierTable {
        let mut carriers = CarrierTable::default();
        let Some(table) = node.get_ref().as_table() else {
            self.problems
                .push(path, format!("expected a table of ERP carrier codes, found {}", type_name(node.get_ref())));
            return carriers;
        };
        for (erp_code, codes) in table {
            let erp_code = erp_code.get_ref().as_ref();
            let code_path = key_path(path, erp_code);
            if erp_code.trim().is_empty() {
                self.problems.push(&code_path, "empty ERP carrier code");
            }
            let mut by_platform = BTreeMap::new();
            for Entry { key: platform, value: code, path } in string_table(codes, &code_path, &mut self.problems) {
                if let Some(known) = platforms.filter(|known| !known.contains(&platform)) {
                    let list: Vec<&str> = known.iter().map(String::as_str).collect();
                    self.problems.push(
                        &path,
                        format!("no shop of this tenant is on platform {platform:?} (platforms: {})", list.join(", ")),
                    );
                }
                if code.trim().is_empty() {
                    self.problems.push(&path, "empty carrier code");
                }
                by_platform.insert(platform, code);
            }
            carriers.insert(erp_code.to_owned(), by_platform);
        }
        carriers
    }

    fn erp_status(&mut self, node: &Node<'_>, path: &str) -> ErpStatusTable {
        let mut table = ErpStatusTable::default();
        let names = ("ERP status", "statuses");
        for (status, action) in
            self.closed_table(node, path, names, &ErpStatus::ALL, ErpStatus::name, StatusAction::parse)
        {
            table.set(status, action);
        }
        table
    }

    /// Reads a table whose keys come from a closed set (`all`, named `what.0`, plural
    /// `what.1` in messages) and whose values `parse` reads; each bad entry is one problem.
    fn closed_table<K: Copy, V>(
        &mut self,
        node: &Node<'_>,
        path: &str,
        what: (&str, &str),
        all: &[K],
        name: fn(K) -> &'static str,
        parse: fn(&str) -> Result<V, String>,
    ) -> Vec<(K, V)> {
        let mut read = Vec::new();
        for entry in string_table(node, path, &mut self.problems) {
            let Some(key) = all.iter().copied().find(|k| name(*k) == entry.key) else {
                let names: Vec<&str> = all.iter().map(|k| name(*k)).collect();
                let (one, many) = what;
                self.problems.push(entry.path, format!("unknown {one} ({many}: {})", names.join(", ")));
                continue;
            };
            match parse(&entry.value) {
                Ok(value) => read.push((key, value)),
                Err(message) => self.problems.push(entry.path, message),
            }
        }
        read
    }
}

/// Tenant ids, shop ids and platform names become parts of store keys, idempotency keys
/// (`tenant:platform:shop:order`) and log fields, so they are kept to a set that needs no
/// quoting anywhere and cannot contain the `:` separator.
fn check_name(name: &str, what: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(format!("invalid {what} {name:?}: use 1 to {MAX_NAME_LEN} of a-z, 0-9, '_' and '-'")) }
}

/// Secret names travel in `{{secret:NAME}}` placeholders and `{{secret-basic:USER,PASSWORD}}`,
/// so they may not contain `}`, `,` or `:`.
fn is_secret_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The webhook's URL: http(s), with a host, and no credentials in it (they would be a secret
/// in the main file). The URL itself is never repeated: its query may carry a token.
fn webhook_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|_| "not an http(s) URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("not an http(s) URL".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("has a user name or password in it; the ERP authenticates deliveries by their signature, with secret = \"env:NAME\"".to_owned());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLUGINS: [&str; 3] = ["jd", "taobao", "sap"];

    fn env(name: &str) -> Option<String> {
        match name {
            "WHARF_TB_APP_SECRET" => Some("tb-app-secret-value".into()),
            "WHARF_TB_SESSION" => Some("tb-session-value".into()),
            "WHARF_JD_SECRET" => Some("jd-secret-value".into()),
            "WHARF_HOOK" => Some("hook-secret-value".into()),
            "WHARF_HOOK_OLD" => Some("whsec_b2xkLWhvb2stc2VjcmV0".into()),
            "WHARF_HOOK_BAD" => Some("whsec_not base64!".into()),
            "WHARF_EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn check(text: &str) -> Result<Config, ConfigErrors> {
        let plugins = |_: &Path| Ok(PLUGINS.iter().map(|p| p.to_string()).collect());
        build(text, &Inputs { base_dir: Path::new("/etc/wharf"), plugins: Some(&plugins), env: &env })
    }

    /// The problems of `text`, one `path: message` string each.
    fn problems(text: &str) -> Vec<String> {
        match check(text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.problems.iter().map(ToString::to_string).collect(),
        }
    }

    const SHOP: &str = r#"
[[tenants.acme.shops]]
id = "tb-main"
platform = "taobao"
plugin = "taobao"
config = { app_key = "12345" }
credentials = { app_secret = "env:WHARF_TB_APP_SECRET", session = "env:WHARF_TB_SESSION" }
"#;

    /// A valid tenant with one shop and a pull route, then `extra`.
    fn acme(extra: &str) -> String {
        format!("{SHOP}\n[tenants.acme.pull]\n{extra}")
    }

    #[test]
    fn a_minimal_config_gets_documented_defaults() {
        let config = check(&acme("")).unwrap();
        assert_eq!(config.data_dir, Path::new("/etc/wharf/data"));
        assert_eq!(config.plugin_dir, Path::new("/etc/wharf/plugins"));
        assert_eq!(config.listen, DEFAULT_LISTEN);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.secrets_file, None);
        let tenant = config.tenant("acme").unwrap();
        assert!(matches!(tenant.erp, ErpRoute::Pull));
        assert_eq!(tenant.schedule, Schedule::default());
        assert_eq!(tenant.erp_status, ErpStatusTable::default());
        assert!(tenant.carriers.is_empty());
        let shop = tenant.shop("tb-main").unwrap();
        assert!(shop.enabled);
        assert_eq!(shop.config["app_key"], "12345");
        assert_eq!(shop.credentials["session"], SecretRef::Env("WHARF_TB_SESSION".into()));
        assert_eq!(shop.secrets.get("session").unwrap().expose(), "tb-session-value");
        assert!(!format!("{config:?}").contains("tb-session-value"), "Debug leaks a secret");
    }

    #[test]
    fn an_unknown_plugin_lists_the_available_ones() {
        let text = acme("").replace("plugin = \"taobao\"", "plugin = \"jdd\"");
        assert_eq!(
            problems(&text),
            ["tenants.acme.shops[0].plugin: no plugin named \"jdd\" (available: jd, sap, taobao)"]
        );
    }

    #[test]
    fn a_literal_secret_is_refused_without_echoing_it() {
        let text = acme("").replace("env:WHARF_TB_APP_SECRET", "0123456789abcdef");
        assert_eq!(
            problems(&text),
            ["tenants.acme.shops[0].credentials.app_secret: literal secret; write \"env:NAME\" or \"file:KEY\""]
        );
    }

    #[test]
    fn missing_environment_variables_are_named() {
        let text =
            acme("").replace("WHARF_TB_SESSION", "WHARF_TB_SESION").replace("WHARF_TB_APP_SECRET", "WHARF_EMPTY");
        assert_eq!(
            problems(&text),
            [
                "tenants.acme.shops[0].credentials.app_secret: env var WHARF_EMPTY is set but empty",
                "tenants.acme.shops[0].credentials.session: env var WHARF_TB_SESION is not set",
            ]
        );
    }

    #[test]
    fn a_file_reference_needs_a_secrets_file() {
        let text = acme("").replace("env:WHARF_TB_SESSION", "file:acme_tb_session");
        assert_eq!(
            problems(&text),
            [
                "tenants.acme.shops[0].credentials.session: \"file:acme_tb_session\" needs a secrets file; name one with WHARF_SECRETS or secrets_file"
            ]
        );
    }

    #[test]
    fn exactly_one_erp_route() {
        assert_eq!(problems(SHOP), ["tenants.acme: exactly one of erp, webhook, pull (found none)"]);
        let both = format!(
            "{SHOP}\n[tenants.acme.pull]\n[tenants.acme.webhook]\nurl = \"https://erp.example.com/in\"\nsecret = \"env:WHARF_HOOK\"\n"
        );
        assert_eq!(problems(&both), ["tenants.acme: exactly one of erp, webhook, pull (found webhook, pull)"]);
    }

    #[test]
    fn webhook_routes_are_checked() {
        let hook =
            |url: &str, secret: &str| format!("{SHOP}\n[tenants.acme.webhook]\nurl = {url:?}\nsecret = {secret:?}\n");
        let config = check(&hook("https://erp.example.com/in?x=1", "env:WHARF_HOOK")).unwrap();
        let ErpRoute::Webhook(route) = &config.tenant("acme").unwrap().erp else { panic!("not a webhook") };
        assert_eq!(route.url.as_str(), "https://erp.example.com/in?x=1");
        assert_eq!(route.secret.expose(), "hook-secret-value");
        assert_eq!(route.secret_ref.to_string(), "env:WHARF_HOOK");
        assert_eq!(route.batch, 1, "one event per POST unless asked");
        let batched = |n: i64| format!("{}batch = {n}\n", hook("https://erp.example.com/in", "env:WHARF_HOOK"));
        let config = check(&batched(50)).unwrap();
        let ErpRoute::Webhook(route) = &config.tenant("acme").unwrap().erp else { panic!("not a webhook") };
        assert_eq!(route.batch, 50);
        for n in [0, MAX_BATCH as i64 + 1] {
            let expected = format!(
                "tenants.acme.webhook.batch: events per POST: 1 (one event, the first shape) to {MAX_BATCH}; got {n}"
            );
            assert_eq!(problems(&batched(n)), [expected], "{n}");
        }

        for bad in ["erp.example.com/in", "ftp://erp.example.com/in", "file:///tmp/x", "https://"] {
            assert_eq!(
                problems(&hook(bad, "env:WHARF_HOOK")),
                ["tenants.acme.webhook.url: not an http(s) URL"],
                "{bad}"
            );
        }
        assert_eq!(
            problems(&hook("https://erp:pw@erp.example.com/in", "hunter2")),
            [
                "tenants.acme.webhook.url: has a user name or password in it; the ERP authenticates deliveries by their signature, with secret = \"env:NAME\"",
                "tenants.acme.webhook.secret: literal secret; write \"env:NAME\" or \"file:KEY\"",
            ]
        );
        assert_eq!(
            problems(&format!("{SHOP}\n[tenants.acme.webhook]\n")),
            [
                "tenants.acme.webhook.url: required; for example url = \"https://erp.example.com/wharf/orders\"",
                "tenants.acme.webhook.secret: required; for example secret = \"env:WHARF_ERP_WEBHOOK_SECRET\"",
            ]
        );
    }

    #[test]
    fn webhook_secrets_rotate_and_a_whsec_secret_must_be_base64() {
        let hook = |extra: &str| {
            format!(
                "{SHOP}\n[tenants.acme.webhook]\nurl = \"https://erp.example.com/in\"\nsecret = \"env:WHARF_HOOK\"\n{extra}"
            )
        };
        let config = check(&hook("previous_secrets = [\"env:WHARF_HOOK_OLD\"]\n")).unwrap();
        let ErpRoute::Webhook(route) = &config.tenant("acme").unwrap().erp else { panic!("not a webhook") };
        assert_eq!(route.previous.len(), 1);
        assert_eq!(route.previous[0].1.expose(), "whsec_b2xkLWhvb2stc2VjcmV0");
        assert_eq!(
            problems(&hook("previous_secrets = [\"env:WHARF_HOOK_OLD\", \"env:WHARF_HOOK_BAD\"]\n")),
            [
                "tenants.acme.webhook.previous_secrets[1]: starts with `whsec_` but the rest is not base64: Invalid symbol 32, offset 3."
            ]
        );
    }

    #[test]
    fn erp_plugin_routes_are_checked_like_shops() {
        let text = format!(
            "{SHOP}\n[tenants.acme.erp]\nplugin = \"sapp\"\nconfig = {{ client = \"100\" }}\ncredentials = {{ password = \"pw\", user = \"env:WHARF_SAP_USER\" }}\n"
        );
        assert_eq!(
            problems(&text),
            [
                "tenants.acme.erp.plugin: no plugin named \"sapp\" (available: jd, sap, taobao)",
                "tenants.acme.erp.credentials.password: literal secret; write \"env:NAME\" or \"file:KEY\"",
                "tenants.acme.erp.credentials.user: env var WHARF_SAP_USER is not set",
            ]
        );
        let text = format!(
            "{SHOP}\n[tenants.acme.erp]\nplugin = \"sap\"\nconfig = {{ client = \"100\" }}\ncredentials = {{ password = \"env:WHARF_HOOK\" }}\n"
        );
        let config = check(&text).unwrap();
        let ErpRoute::Plugin(erp) = &config.tenant("acme").unwrap().erp else { panic!("not a plugin route") };
        assert_eq!((erp.plugin.as_str(), erp.config["client"].as_str()), ("sap", "100"));
        assert_eq!(erp.secrets.get("password").unwrap().expose(), "hook-secret-value");
    }

    #[test]
    fn duplicate_shop_ids_point_at_the_first() {
        let text = format!("{SHOP}{SHOP}{}\n[tenants.acme.pull]\n", SHOP.replace("tb-main", "tb-2"));
        let text = text.replacen("id = \"tb-2\"", "id = \"tb-main\"", 1);
        assert_eq!(
            problems(&text),
            [
                "tenants.acme.shops[1].id: duplicate shop id \"tb-main\" (first at tenants.acme.shops[0])",
                "tenants.acme.shops[2].id: duplicate shop id \"tb-main\" (first at tenants.acme.shops[0])"
            ]
        );
    }

    #[test]
    fn names_are_restricted() {
        let text =
            acme("").replace("tenants.acme", "tenants.\"Acme Corp\"").replace("id = \"tb-main\"", "id = \"TB:main\"");
        assert_eq!(
            problems(&text),
            [
                "tenants.\"Acme Corp\": invalid tenant id \"Acme Corp\": use 1 to 64 of a-z, 0-9, '_' and '-'",
                "tenants.\"Acme Corp\".shops[0].id: invalid shop id \"TB:main\": use 1 to 64 of a-z, 0-9, '_' and '-'",
            ]
        );
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert_eq!(problems(&acme("").replace("tenants.acme", &format!("tenants.{long}"))).len(), 1);
        assert!(problems(&acme("").replace("tenants.acme", &format!("tenants.{}", &long[1..]))).is_empty());
    }

    #[test]
    fn unknown_keys_are_reported_everywhere_at_once() {
        let text = format!(
            "colour = 1\n{}\n[tenants.acme.pull]\nsize = 2\nmode = \"fast\"\n",
            SHOP.replace("plugin = ", "extra = 1\nplugin = ")
        );
        let found = problems(&text);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert_eq!(
            found[0],
            "colour: unknown field `colour`, expected one of `data_dir`, `store`, `plugin_dir`, `secrets_file`, `listen`, `log_format`, `require_signed_plugins`, `trusted_keys`, `grant_plugin_dir_hosts`, `allow_empty`, `tenants`"
        );
        assert_eq!(
            found[1],
            "tenants.acme.shops[0].extra: unknown field `extra`, expected one of `id`, `platform`, `plugin`, `config`, `credentials`, `enabled`, `grants`"
        );
        assert_eq!(found[2], "tenants.acme.pull.mode: unknown field `mode`, there are no fields");
        assert_eq!(found[3], "tenants.acme.pull.size: unknown field `size`, there are no fields");
    }

    #[test]
    fn a_misspelt_table_is_an_unknown_key_of_its_parent() {
        let text = acme("").replace("[[tenants.acme.shops]]", "[[tenants.acme.shop]]");
        let found = problems(&text);
        assert!(found[0].starts_with("tenants.acme.shop: unknown field `shop`, expected one of `shops`"), "{found:#?}");
        assert_eq!(found[1], "tenants.acme.shops: no shops; declare at least one [[tenants.acme.shops]] table");
    }

    #[test]
    fn wrong_types_are_reported_at_their_keys() {
        let text = acme("")
            .replace("id = \"tb-main\"", "id = \"tb-main\"\nenabled = \"yes\"")
            .replace("app_key = \"12345\"", "app_key = 12345, page_size = 50");
        assert_eq!(
            problems(&format!("listen = 7380\nlog_format = \"xml\"\n{text}")),
            [
                "listen: invalid type: integer `7380`, expected a string",
                "log_format: unknown variant `xml`, expected `text` or `json`",
                "tenants.acme.shops[0].enabled: invalid type: string \"yes\", expected a boolean",
                "tenants.acme.shops[0].config.app_key: expected a string, found an integer",
                "tenants.acme.shops[0].config.page_size: expected a string, found an integer",
            ]
        );
        assert_eq!(problems("tenants = 3\n"), ["tenants: expected a table of tenants, found an integer"]);
        assert_eq!(
            problems("[tenants.acme]\nshops = {}\npull = {}\n"),
            ["tenants.acme.shops: expected an array of tables ([[tenants.acme.shops]]), found a table"]
        );
    }

    #[test]
    fn globals_are_checked() {
        let text = format!("listen = \"localhost:80\"\ndata_dir = \"\"\n{}", acme(""));
        assert_eq!(
            problems(&text),
            [
                "data_dir: empty; omit it for the default \"data\"",
                "listen: expected an IP address and port like \"127.0.0.1:7380\" (host names are not resolved); got \"localhost:80\"",
            ]
        );
        let config = check(&format!(
            "data_dir = \"/var/lib/wharf\"\nplugin_dir = \"p\"\nlisten = \"[::]:9000\"\nlog_format = \"json\"\n{}",
            acme("")
        ))
        .unwrap();
        assert_eq!(config.data_dir, Path::new("/var/lib/wharf"));
        assert_eq!(config.plugin_dir, Path::new("/etc/wharf/p"));
        assert_eq!(config.listen.to_string(), "[::]:9000");
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(check("").unwrap().tenants.is_empty(), "tenants may all come over the API");
    }

    #[test]
    fn the_store_is_sled_in_data_dir_unless_named() {
        let store = |line: &str| check(&format!("data_dir = \"/var/lib/wharf\"\n{line}{}", acme(""))).map(|c| c.store);
        assert_eq!(store("").unwrap(), StoreLocation::Sled("/var/lib/wharf".into()));
        assert_eq!(store("store = \"sled:state\"\n").unwrap(), StoreLocation::Sled("/etc/wharf/state".into()));
        let url = "postgres://wharf:s3cret@db.internal:5432/wharf";
        let pg = store(&format!("store = \"{url}\"\n")).unwrap();
        assert_eq!(pg, StoreLocation::Postgres(url.into()));
        assert_eq!(pg.to_string(), "postgres://wharf:********@db.internal:5432/wharf", "no password in logs");
        assert_eq!(
            problems(&format!("store = \"mysql://x\"\n{}", acme(""))),
            [
                "store: expected \"sled:<folder>\" or \"postgres://user@host:port/database\"; omit it for sled in data_dir"
            ]
        );
    }

    #[test]
    fn a_tenant_language_is_zh_or_en() {
        let base =
            "[[tenants.acme.shops]]\nid = \"tb\"\nplatform = \"taobao\"\nplugin = \"taobao\"\n[tenants.acme.pull]\n";
        let parse = |extra: &str| {
            let text = format!("[tenants.acme]\n{extra}\n{base}");
            build(&text, &Inputs { base_dir: Path::new("."), plugins: None, env: &|_| None })
        };
        assert_eq!(parse("").unwrap().tenants["acme"].language, Language::Chinese);
        assert_eq!(parse("language = \"en\"").unwrap().tenants["acme"].language, Language::English);
        let errors = parse("language = \"fr\"").unwrap_err().to_string();
        assert!(errors.contains("tenants.acme.language: expected \"zh\" or \"en\", got \"fr\""), "{errors}");
    }

    #[test]
    fn schedules_are_checked() {
        let text = acme(
            "[tenants.acme.schedule]\norders = \"10s\"\nstock = \"off\"\nordrs = \"1m\"\nprice = \"5 min\"\nlisting = 60\n",
        );
        assert_eq!(
            problems(&text),
            [
                "tenants.acme.schedule.listing: expected a string, found an integer",
                "tenants.acme.schedule.ordrs: unknown module (modules: orders, after_sales, stock, prices, lots, listing, products, customers, logistics, shipments, erp_status, invoices)",
                "tenants.acme.schedule.price: expected a whole number and a unit (s, m or h) like \"30s\", \"5m\" or \"1h\", or \"off\"; got \"5 min\"",
            ]
        );
        let config = check(&acme("[tenants.acme.schedule]\norders = \"10s\"\nstock = \"off\"\n")).unwrap();
        let schedule = config.tenant("acme").unwrap().schedule;
        assert_eq!(schedule.get(Module::Orders), Interval::Every(std::time::Duration::from_secs(10)));
        assert_eq!(schedule.get(Module::Stock), Interval::Off);
        assert_eq!(schedule.get(Module::Prices), Module::Prices.default_interval());
        assert!(config.deprecated.is_empty());
    }

    #[test]
    fn a_former_module_name_is_read_and_noted() {
        let config = check(&acme("[tenants.acme.schedule]\nprice = \"10m\"\nlots = \"1h\"\n")).unwrap();
        let schedule = config.tenant("acme").unwrap().schedule;
        assert_eq!(schedule.get(Module::Prices), Interval::Every(std::time::Duration::from_secs(600)));
        assert_eq!(schedule.get(Module::Lots), Interval::Every(std::time::Duration::from_secs(3600)));
        let noted: Vec<String> = config.deprecated.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            noted,
            [
                "tenants.acme.schedule.price: `price` is the former name of the `prices` module: write `prices` (`price` is read until the next release)"
            ]
        );
    }

    #[test]
    fn carrier_tables_are_checked_against_the_tenants_platforms() {
        let text = acme(
            "[tenants.acme.carriers.SF]\ntaobao = \"SF\"\ntaobo = \"SF\"\n[tenants.acme.carriers.ZTO]\ntaobao = \"\"\n[tenants.acme.carriers]\nYTO = \"x\"\n",
        );
        assert_eq!(
            problems(&text),
            [
                "tenants.acme.carriers.SF.taobo: no shop of this tenant is on platform \"taobo\" (platforms: taobao)",
                "tenants.acme.carriers.YTO: expected a table, found a string",
                "tenants.acme.carriers.ZTO.taobao: empty carrier code",
            ]
        );
        let config = check(&acme("[tenants.acme.carriers.SF]\ntaobao = \"SF\"\n")).unwrap();
        assert_eq!(config.tenant("acme").unwrap().carriers.platform_code("SF", "taobao"), Some("SF"));
    }

    #[test]
    fn erp_status_tables_are_checked() {
        let text = acme(
            "[tenants.acme.erp_status]\nsigned = \"move:completed\"\nshipped = \"move:shipped\"\ndelivered = \"note\"\npacked = \"move:paid\"\n",
        );
        assert_eq!(
            problems(&text),
            [
                "tenants.acme.erp_status.delivered: unknown ERP status (statuses: accepted, picking, packed, out_of_stock, shipped, signed, cancelled)",
                "tenants.acme.erp_status.packed: an ERP status cannot move an order back to paid; use one of partially_shipped, shipped, completed, cancelled, closed",
            ]
        );
        let config =
            check(&acme("[tenants.acme.erp_status]\nshipped = \"move:shipped\"\nsigned = \"note\"\n")).unwrap();
        let table = config.tenant("acme").unwrap().erp_status;
        assert_eq!(table.action(ErpStatus::Shipped), StatusAction::Move(OrderStatus::Shipped));
        assert_eq!(table.action(ErpStatus::Signed), StatusAction::Note);
        assert_eq!(table.action(ErpStatus::Accepted), StatusAction::Note);
    }

    #[test]
    fn credentials_names_and_config_collisions() {
        let text = acme("")
            .replace("app_key = \"12345\"", "app_key = \"12345\", session = \"x\"")
            .replace("app_secret =", "\"app:secret\" =");
        assert_eq!(
            problems(&text),
            [
                "tenants.acme.shops[0].credentials.\"app:secret\": a secret name is ASCII letters, digits, '_' or '-' (the plugin asks for it by that name)",
                "tenants.acme.shops[0].credentials.session: \"session\" is also set in config; a name is either configuration or a secret",
            ]
        );
    }

    #[test]
    fn missing_shop_fields_show_an_example() {
        let text = "[[tenants.acme.shops]]\nenabled = false\n[tenants.acme.pull]\n";
        assert_eq!(
            problems(text),
            [
                "tenants.acme.shops[0].id: required; for example id = \"tb-main\"",
                "tenants.acme.shops[0].platform: required; for example platform = \"taobao\"",
                "tenants.acme.shops[0].plugin: required; for example plugin = \"taobao\"",
            ]
        );
    }

    #[test]
    fn an_unlistable_plugin_dir_is_one_problem_not_one_per_shop() {
        let plugins = |dir: &Path| Err(format!("cannot list {}: not found", dir.display()));
        let errors =
            build(&acme(""), &Inputs { base_dir: Path::new("/w"), plugins: Some(&plugins), env: &env }).unwrap_err();
        assert_eq!(errors.to_string(), "plugin_dir: cannot list /w/plugins: not found");
    }

    #[test]
    fn every_problem_of_a_bad_file_at_once() {
        let text = r#"
listen = "0.0.0.0"
bogus = true

[tenants.acme]
erp_status = { delivered = "note" }

[[tenants.acme.shops]]
id = "tb-main"
platform = "taobao"
plugin = "taobao"
credentials = { app_secret = "hunter2", session = "env:WHARF_TB_SESSION" }

[[tenants.acme.shops]]
id = "jd-main"
platform = "jd"
plugin = "jdd"
credentials = { secret = "env:WHARF_JD_SECRET" }

[[tenants.acme.shops]]
id = "tb-main"
platform = "taobao"
plugin = "taobao"

[tenants.acme.webhook]
url = "erp.example.com"
secret = "env:WHARF_HOOK"

[tenants.acme.schedule]
orders = "0s"

[tenants."Beta"]
shops = []
"#;
        let found = problems(text);
        let expected = [
            "bogus: unknown field `bogus`",
            "listen: expected an IP address and port",
            "tenants.Beta: invalid tenant id \"Beta\"",
            "tenants.Beta.shops: no shops; declare at least one [[tenants.Beta.shops]] table",
            "tenants.Beta: exactly one of erp, webhook, pull (found none)",
            "tenants.acme.shops[0].credentials.app_secret: literal secret",
            "tenants.acme.shops[1].plugin: no plugin named \"jdd\" (available: jd, sap, taobao)",
            "tenants.acme.shops[2].id: duplicate shop id \"tb-main\" (first at tenants.acme.shops[0])",
            "tenants.acme.webhook.url: not an http(s) URL",
            "tenants.acme.schedule.orders: zero; write \"off\" to switch the module off",
            "tenants.acme.erp_status.delivered: unknown ERP status",
        ];
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        for (found, expected) in found.iter().zip(expected) {
            assert!(found.starts_with(expected), "{found:?} should start with {expected:?}");
        }
        assert!(!found.iter().any(|p| p.contains("hunter2")));
    }
}

//! The plugin registry: which versions of which plugins this host holds, which version serves
//! each tenant, and how a new version gets in.
//!
//! A version gets in by upload or by a file dropped into the watched folder, and only after it
//! passed [`Registry::admit`]: the component compiles and links against a contract this host
//! supports, `describe` answers sanely (and keeps the name's role and platform), and, when the
//! operator requires it, an ed25519 signature by a trusted key covers its bytes. It serves only
//! once every host it declares is granted to that plugin name by the operator: an upload whose
//! hosts are not granted is refused; a file dropped into the folder is kept, awaiting the grant
//! (the folder grants nothing by itself, unless the operator said to trust it: then the host
//! names a new plugin declares, never addresses; see [`Policy::grant_folder_hosts`]).
//!
//! Serving is a lookup: [`Registry::plugin`] hands out the version pinned for the tenant, else
//! the active one. A [`Plugin`] is a cheap handle on a compiled, pre-linked component; a call
//! keeps its handle to the end. So activation (and roll back, the same swap) is one pointer
//! change under a lock: calls already running finish on the old version, the next call starts
//! on the new one, and no call fails because of the swap.
//!
//! The wasm of every admitted version is kept in `<data_dir>/plugins/<name>/<version>.wasm`
//! and the records in the store, so a restart serves what served before; compiled components
//! come from the engine's cache, so that restart takes milliseconds per plugin.

mod folder;
pub mod signature;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::model::{Descriptor, Timestamp};
use crate::store::{Store, StoreError};
use crate::{Plugin, Sandbox};

pub use folder::{FolderWatch, WATCH_EVERY};
pub use signature::TrustedKeys;

/// Where admitted wasm is kept, inside the data folder.
pub const BLOBS_DIR: &str = "plugins";

/// How a version arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Upload,
    Folder,
}

/// One admitted version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub version: String,
    pub sha256: String,
    pub uploaded_at: Timestamp,
    pub source: Source,
    /// The key id of the trusted key whose signature covered it.
    pub signed_by: Option<String>,
}

/// What the store keeps per plugin name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    versions: BTreeMap<String, VersionInfo>,
    active: String,
    previous: Option<String>,
    /// Tenant → version, for canaries.
    pins: BTreeMap<String, String>,
    /// Hosts (`name` or `name:port`) the operator let this plugin reach.
    grants: BTreeSet<String>,
    /// A version from the folder that serves once the operator grants the hosts it declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    awaiting_grant: Option<String>,
}

impl Record {
    /// The SHA-256 of `version`'s wasm, as admitted (empty for a version it does not list).
    fn sha256(&self, version: &str) -> &str {
        self.versions.get(version).map_or("", |v| v.sha256.as_str())
    }
}

/// A plugin name as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub name: String,
    pub active: String,
    pub previous: Option<String>,
    pub versions: Vec<String>,
    pub pins: BTreeMap<String, String>,
    pub grants: Vec<String>,
    /// A version from the folder waiting for the operator to grant the hosts it declares (the
    /// name serves nothing until then if it is its first version: `active` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting_grant: Option<String>,
}

/// What an upload did (`Registry::admit`): the version, whether it serves, its descriptor.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Admitted {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// Whether it serves now.
    pub active: bool,
    /// `true` when these very bytes were admitted before (nothing changed).
    pub known: bool,
    /// Declared hosts the operator has not granted: the version waits for them to serve.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub awaiting_grant: Vec<String>,
    pub descriptor: Descriptor,
}

/// What the operator requires of a new version.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Refuse versions without a valid signature by one of `trusted`.
    pub require_signed: bool,
    pub trusted: TrustedKeys,
    /// The operator trusts the watched folder: a new plugin's first file there is granted the
    /// host names it declares. Never an address (`127.0.0.1`, `169.254.169.254`, `localhost`):
    /// those only an explicit grant gives.
    pub grant_folder_hosts: bool,
}

/// Why the registry said no.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The version failed validation; it never served.
    #[error("rejected: {0}")]
    Rejected(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("plugin file {path}: {reason}")]
    Files { path: PathBuf, reason: String },
}

/// A new version as it arrives.
pub struct Candidate<'a> {
    pub wasm: &'a [u8],
    /// Base64 ed25519 signature of `wasm`.
    pub signature: Option<&'a str>,
    pub source: Source,
    /// Hosts the operator grants along with this upload.
    pub grant: &'a [String],
    /// Serve it at once (a name's first version always does).
    pub activate: bool,
}

struct Entry {
    record: Record,
    /// Versions compiled and ready: the active, previous and pinned ones at least.
    loaded: HashMap<String, Plugin>,
    descriptor: Descriptor,
}

/// The registry; cheap to clone, shared by the API, the scheduler and the folder watch.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    sandbox: Sandbox,
    /// `None` for a registry that only lives in memory (tools, tests).
    store: Option<Store>,
    blobs: Option<PathBuf>,
    policy: Policy,
    entries: RwLock<BTreeMap<String, Entry>>,
    /// One admission or activation at a time, so two uploads of one name cannot interleave.
    changes: tokio::sync::Mutex<()>,
}

impl Registry {
    /// A registry of already loaded plugins, by the names given, in memory only; each is
    /// granted the hosts it declares.
    pub fn fixed(sandbox: Sandbox, plugins: &HashMap<String, Plugin>) -> Self {
        let entries = plugins
            .iter()
            .map(|(name, plugin)| {
                let d = plugin.descriptor().clone();
                let info = VersionInfo {
                    version: d.version.clone(),
                    sha256: plugin.sha256().to_owned(),
                    uploaded_at: Timestamp::now(),
                    source: Source::Folder,
                    signed_by: None,
                };
                let record = Record {
                    versions: BTreeMap::from([(d.version.clone(), info)]),
                    active: d.version.clone(),
                    grants: d.http_hosts.iter().cloned().collect(),
                    ..Record::default()
                };
                let loaded = HashMap::from([(d.version.clone(), plugin.clone())]);
                (name.clone(), Entry { record, loaded, descriptor: d })
            })
            .collect();
        Registry::with(sandbox, None, None, Policy::default(), entries)
    }

    /// The registry kept in `store` with wasm under `data_dir`: every name's active, previous
    /// and pinned versions are loaded (from the engine's cache when compiled before).
    pub async fn open(sandbox: Sandbox, store: Store, data_dir: &Path, policy: Policy) -> Result<Self, RegistryError> {
        let blobs = data_dir.join(BLOBS_DIR);
        let mut entries = BTreeMap::new();
        for (name, record) in store.plugins().all::<Record>()? {
            let mut loaded = HashMap::new();
            for version in wanted(&record) {
                let plugin =
                    load_blob(&sandbox, &blobs, Some((&store, record.sha256(version))), &name, version).await?;
                loaded.insert(version.clone(), plugin);
            }
            let shown = record.awaiting_grant.as_ref().filter(|_| record.active.is_empty()).unwrap_or(&record.active);
            let Some(plugin) = loaded.get(shown) else { continue };
            let descriptor = plugin.descriptor().clone();
            entries.insert(name, Entry { record, loaded, descriptor });
        }
        Ok(Registry::with(sandbox, Some(store), Some(blobs), policy, entries))
    }

    fn with(
        sandbox: Sandbox,
        store: Option<Store>,
        blobs: Option<PathBuf>,
        policy: Policy,
        entries: BTreeMap<String, Entry>,
    ) -> Self {
        Registry {
            inner: Arc::new(Inner {
                sandbox,
                store,
                blobs,
                policy,
                entries: RwLock::new(entries),
                changes: Default::default(),
            }),
        }
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.inner.sandbox
    }

    /// The version of `name` that serves `tenant`: its pin, else the active one.
    pub fn plugin(&self, name: &str, tenant: &str) -> Option<Plugin> {
        let entries = self.read();
        let entry = entries.get(name)?;
        let version = entry.record.pins.get(tenant).unwrap_or(&entry.record.active);
        entry.loaded.get(version).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// The hosts granted to `name`.
    pub fn grants(&self, name: &str) -> Vec<String> {
        self.read().get(name).map(|e| e.record.grants.iter().cloned().collect()).unwrap_or_default()
    }

    pub fn list(&self) -> Vec<Summary> {
        self.read().iter().map(|(name, e)| summary(name, &e.record)).collect()
    }

    /// One name's summary and the descriptor of its active version.
    pub fn show(&self, name: &str) -> Result<(Summary, Descriptor), RegistryError> {
        let entries = self.read();
        let e = entries.get(name).ok_or_else(|| no_plugin(name))?;
        Ok((summary(name, &e.record), e.descriptor.clone()))
    }

    pub fn versions(&self, name: &str) -> Result<Vec<VersionInfo>, RegistryError> {
        let entries = self.read();
        let e = entries.get(name).ok_or_else(|| no_plugin(name))?;
        Ok(e.record.versions.values().cloned().collect())
    }

    /// Validates `candidate` and, when it passes, keeps it (and serves it if asked or first).
    pub async fn admit(&self, candidate: Candidate<'_>) -> Result<Admitted, RegistryError> {
        let _one_at_a_time = self.inner.changes.lock().await;
        let signed_by = self.check_signature(candidate.wasm, candidate.signature)?;
        let plugin = self.inner.sandbox.load(candidate.wasm).await.map_err(|e| rejected_load(&e))?;
        let d = plugin.descriptor().clone();
        let sha256 = plugin.sha256().to_owned();
        let existing = self.read().get(&d.name).map(|e| (e.record.clone(), e.descriptor.clone()));

        if let Some((record, active)) = &existing {
            if let Some(known) = record.versions.get(&d.version) {
                if known.sha256 != sha256 {
                    return Err(RegistryError::Conflict(format!(
                        "{} {} is already registered with other bytes (sha256 {}); give the new build a new version",
                        d.name, d.version, known.sha256
                    )));
                }
                // Known bytes asked to serve (a file dropped again, say) are activated, once
                // their hosts are granted.
                let missing = ungranted(&d, &record.grants);
                if candidate.activate && record.active != d.version && missing.is_empty() {
                    self.activate_unlocked(&d.name, &d.version).await?;
                }
                let active = missing.is_empty() && (candidate.activate || record.active == d.version);
                return Ok(Admitted {
                    name: d.name.clone(),
                    version: d.version.clone(),
                    sha256,
                    active,
                    known: true,
                    awaiting_grant: missing,
                    descriptor: d,
                });
            }
            if active.role != d.role || active.platform != d.platform {
                return Err(RegistryError::Rejected(format!(
                    "{} {} is a {:?} plugin for {}, but the registered versions are a {:?} plugin for {}",
                    d.name, d.version, d.role, d.platform, active.role, active.platform
                )));
            }
        }
        check_hosts(&d)?;
        let mut grants: BTreeSet<String> = existing.as_ref().map(|(r, _)| r.grants.clone()).unwrap_or_default();
        grants.extend(candidate.grant.iter().cloned());
        if existing.is_none()
            && candidate.source == Source::Folder
            && candidate.grant.is_empty()
            && self.inner.policy.grant_folder_hosts
        {
            // The operator said the folder is trusted: the names it declares, never an address.
            grants.extend(d.http_hosts.iter().filter(|h| !names_an_address(h)).cloned());
        }
        let missing = ungranted(&d, &grants);
        // A file in the folder is kept until the operator grants; an upload is answered now.
        let awaiting = !missing.is_empty() && candidate.source == Source::Folder;
        if !missing.is_empty() && !awaiting {
            return Err(RegistryError::Rejected(format!(
                "{} {} declares hosts the operator has not granted: {}; grant them (upload with grant=…, or PUT /v1/plugins/{}/grants) first",
                d.name,
                d.version,
                missing.iter().map(|h| h.as_str()).collect::<Vec<_>>().join(", "),
                d.name
            )));
        }

        self.keep_blob(&d.name, &d.version, &sha256, candidate.wasm)?;
        let info = VersionInfo {
            version: d.version.clone(),
            sha256: sha256.clone(),
            uploaded_at: Timestamp::now(),
            source: candidate.source,
            signed_by,
        };
        // A name that serves nothing yet (new, or its only version awaits a grant) serves this.
        let serving_nothing = existing.as_ref().is_none_or(|(r, _)| r.active.is_empty());
        let activate = !awaiting && (candidate.activate || serving_nothing);
        let mut entries = self.write();
        let entry = entries.entry(d.name.clone()).or_insert_with(|| Entry {
            // A first version awaiting its grant leaves the name serving nothing.
            record: Record { active: if awaiting { String::new() } else { d.version.clone() }, ..Record::default() },
            loaded: HashMap::new(),
            descriptor: d.clone(),
        });
        let mut record = entry.record.clone();
        record.versions.insert(d.version.clone(), info);
        record.grants = grants;
        if activate && record.active != d.version {
            let previous = std::mem::replace(&mut record.active, d.version.clone());
            record.previous = Some(previous).filter(|p| !p.is_empty());
        }
        if awaiting {
            record.awaiting_grant = Some(d.version.clone());
        } else if activate {
            record.awaiting_grant = None;
        }
        self.persist(&d.name, &record)?;
        entry.record = record;
        entry.loaded.insert(d.version.clone(), plugin);
        if activate {
            entry.descriptor = d.clone();
        }
        if awaiting {
            tracing::warn!(
                plugin = %d.name, version = %d.version, sha256 = %sha256, hosts = %missing.join(", "),
                "plugin version admitted from the folder; it serves once the operator grants the hosts it declares (wharf plugin grant)"
            );
        } else {
            tracing::info!(plugin = %d.name, version = %d.version, sha256 = %sha256, active = activate, "plugin version admitted");
        }
        Ok(Admitted {
            name: d.name.clone(),
            version: d.version.clone(),
            sha256,
            active: activate,
            known: false,
            awaiting_grant: missing,
            descriptor: d,
        })
    }

    /// Serves `version` of `name` from the next call on; returns (active, previous).
    pub async fn activate(&self, name: &str, version: &str) -> Result<(String, Option<String>), RegistryError> {
        let _one_at_a_time = self.inner.changes.lock().await;
        self.activate_unlocked(name, version).await
    }

    async fn activate_unlocked(&self, name: &str, version: &str) -> Result<(String, Option<String>), RegistryError> {
        let plugin = self.ready(name, version).await?;
        let mut entries = self.write();
        let entry = entries.get_mut(name).ok_or_else(|| no_plugin(name))?;
        let mut record = entry.record.clone();
        if record.active != version {
            let previous = std::mem::replace(&mut record.active, version.to_owned());
            record.previous = Some(previous).filter(|p| !p.is_empty());
        }
        if record.awaiting_grant.as_deref() == Some(version) {
            record.awaiting_grant = None;
        }
        self.persist(name, &record)?;
        entry.record = record;
        entry.descriptor = plugin.descriptor().clone();
        entry.loaded.insert(version.to_owned(), plugin);
        tracing::info!(plugin = %name, version, previous = ?entry.record.previous, "plugin version activated");
        Ok((entry.record.active.clone(), entry.record.previous.clone()))
    }

    /// Serves the previously active version again (the same swap as [`Registry::activate`]).
    pub async fn rollback(&self, name: &str) -> Result<(String, Option<String>), RegistryError> {
        let previous = {
            let entries = self.read();
            let entry = entries.get(name).ok_or_else(|| no_plugin(name))?;
            entry.record.previous.clone().ok_or_else(|| {
                RegistryError::Conflict(format!(
                    "{name} has no previous version to roll back to (active: {})",
                    entry.record.active
                ))
            })?
        };
        self.activate(name, &previous).await
    }

    /// Serves `version` to `tenant` whatever the active version is (a canary).
    pub async fn pin(&self, name: &str, tenant: &str, version: &str) -> Result<(), RegistryError> {
        let _one_at_a_time = self.inner.changes.lock().await;
        let plugin = self.ready(name, version).await?;
        self.update(name, |record| {
            record.pins.insert(tenant.to_owned(), version.to_owned());
        })?;
        if let Some(entry) = self.write().get_mut(name) {
            entry.loaded.insert(version.to_owned(), plugin);
        }
        Ok(())
    }

    /// `true` when `tenant` had a pin on `name`.
    pub async fn unpin(&self, name: &str, tenant: &str) -> Result<bool, RegistryError> {
        let _one_at_a_time = self.inner.changes.lock().await;
        let mut had = false;
        self.update(name, |record| had = record.pins.remove(tenant).is_some())?;
        Ok(had)
    }

    /// Sets the hosts `name` may reach. A host a registered version declares cannot be taken
    /// away while that version is active or pinned.
    pub async fn set_grants(&self, name: &str, hosts: Vec<String>) -> Result<Vec<String>, RegistryError> {
        let _one_at_a_time = self.inner.changes.lock().await;
        let needed: Vec<String> = {
            let entries = self.read();
            let entry = entries.get(name).ok_or_else(|| no_plugin(name))?;
            let serving: BTreeSet<&String> =
                std::iter::once(&entry.record.active).chain(entry.record.pins.values()).collect();
            serving
                .into_iter()
                .filter_map(|v| entry.loaded.get(v))
                .flat_map(|p| p.descriptor().http_hosts.clone())
                .filter(|h| !hosts.contains(h))
                .collect()
        };
        if !needed.is_empty() {
            return Err(RegistryError::Conflict(format!(
                "{name}: a serving version needs {}; activate a version that does not before taking the grant away",
                needed.join(", ")
            )));
        }
        let mut out = Vec::new();
        let mut awaiting = None;
        self.update(name, |record| {
            record.grants = hosts.into_iter().collect();
            out = record.grants.iter().cloned().collect();
            awaiting = record.awaiting_grant.clone();
        })?;
        // A version from the folder serves once what it declares is granted.
        if let Some(version) = awaiting {
            let declared = self.read().get(name).and_then(|e| e.loaded.get(&version)).map(|p| p.descriptor().clone());
            if let Some(d) = declared
                && ungranted(&d, &out.iter().cloned().collect()).is_empty()
            {
                self.activate_unlocked(name, &version).await?;
            }
        }
        Ok(out)
    }

    fn check_signature(&self, wasm: &[u8], signature: Option<&str>) -> Result<Option<String>, RegistryError> {
        let policy = &self.inner.policy;
        match signature {
            None if policy.require_signed => Err(RegistryError::Rejected(
                "this host requires signed plugins; send the ed25519 signature of the .wasm (X-Wharf-Signature, or a .sig file beside it)".into(),
            )),
            None => Ok(None),
            Some(_) if policy.trusted.is_empty() && !policy.require_signed => Ok(None),
            Some(sig) => policy
                .trusted
                .verify(wasm, sig)
                .map(Some)
                .map_err(|e| RegistryError::Rejected(format!("signature: {e}"))),
        }
    }

    /// `version` of `name`, compiled and ready (loaded from its kept wasm if need be), and
    /// granted every host it declares: a version that is not never serves.
    async fn ready(&self, name: &str, version: &str) -> Result<Plugin, RegistryError> {
        let plugin = self.loaded_or_load(name, version).await?;
        let missing =
            ungranted(plugin.descriptor(), &self.read().get(name).map(|e| e.record.grants.clone()).unwrap_or_default());
        if !missing.is_empty() {
            return Err(RegistryError::Conflict(format!(
                "{name} {version} declares hosts the operator has not granted: {}; grant them first (PUT /v1/plugins/{name}/grants)",
                missing.join(", ")
            )));
        }
        Ok(plugin)
    }

    async fn loaded_or_load(&self, name: &str, version: &str) -> Result<Plugin, RegistryError> {
        let known = {
            let entries = self.read();
            let entry = entries.get(name).ok_or_else(|| no_plugin(name))?;
            if !entry.record.versions.contains_key(version) {
                return Err(RegistryError::NotFound(format!(
                    "{name} has no version {version} (versions: {})",
                    entry.record.versions.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            entry.loaded.get(version).cloned()
        };
        match known {
            Some(plugin) => Ok(plugin),
            None => {
                let blobs = self
                    .inner
                    .blobs
                    .as_ref()
                    .ok_or_else(|| RegistryError::NotFound(format!("{name} {version} is not loaded")))?;
                let sha256 = self.read().get(name).map(|e| e.record.sha256(version).to_owned()).unwrap_or_default();
                let shared = self.inner.store.as_ref().map(|s| (s, sha256.as_str()));
                load_blob(&self.inner.sandbox, blobs, shared, name, version).await
            }
        }
    }

    fn update(&self, name: &str, change: impl FnOnce(&mut Record)) -> Result<(), RegistryError> {
        let mut entries = self.write();
        let entry = entries.get_mut(name).ok_or_else(|| no_plugin(name))?;
        let mut record = entry.record.clone();
        change(&mut record);
        self.persist(name, &record)?;
        entry.record = record;
        Ok(())
    }

    fn persist(&self, name: &str, record: &Record) -> Result<(), RegistryError> {
        if let Some(store) = &self.inner.store {
            store.plugins().put(name, record)?;
        }
        Ok(())
    }

    fn keep_blob(&self, name: &str, version: &str, sha256: &str, wasm: &[u8]) -> Result<(), RegistryError> {
        let Some(blobs) = &self.inner.blobs else { return Ok(()) };
        if let Some(store) = self.inner.store.as_ref().filter(|s| s.is_shared()) {
            store.plugins().put_blob(sha256, wasm)?;
        }
        let path = blobs.join(name).join(format!("{version}.wasm"));
        write_file(&path, wasm)
            .map_err(|reason| RegistryError::Files { path: path.clone(), reason: reason.to_string() })
    }

    /// The store's records read again: versions another node admitted, activated, rolled
    /// back, pinned or granted serve here from the next call on. The names whose grants
    /// changed (their tenants must start again with them).
    pub async fn refresh(&self) -> Result<Vec<String>, RegistryError> {
        let (Some(store), Some(blobs)) = (&self.inner.store, &self.inner.blobs) else { return Ok(Vec::new()) };
        let _one_at_a_time = self.inner.changes.lock().await;
        let mut regranted = Vec::new();
        for (name, record) in store.plugins().all::<Record>()? {
            let (mut loaded, old_grants) = match self.read().get(&name) {
                Some(e) if e.record == record => continue,
                Some(e) => (e.loaded.clone(), Some(e.record.grants.clone())),
                None => (HashMap::new(), None),
            };
            for version in wanted(&record) {
                if !loaded.contains_key(version) {
                    let shared = Some((store, record.sha256(version)));
                    let plugin = load_blob(&self.inner.sandbox, blobs, shared, &name, version).await?;
                    loaded.insert(version.clone(), plugin);
                }
            }
            let shown = record.awaiting_grant.as_ref().filter(|_| record.active.is_empty()).unwrap_or(&record.active);
            let Some(plugin) = loaded.get(shown) else { continue };
            let descriptor = plugin.descriptor().clone();
            if old_grants.is_some_and(|g| g != record.grants) {
                regranted.push(name.clone());
            }
            tracing::info!(plugin = %name, active = %record.active, "plugin changed on another node; serving it here too");
            self.write().insert(name, Entry { record, loaded, descriptor });
        }
        Ok(regranted)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>> {
        self.inner.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Entry>> {
        self.inner.entries.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn summary(name: &str, r: &Record) -> Summary {
    Summary {
        name: name.to_owned(),
        active: r.active.clone(),
        previous: r.previous.clone(),
        versions: r.versions.keys().cloned().collect(),
        pins: r.pins.clone(),
        grants: r.grants.iter().cloned().collect(),
        awaiting_grant: r.awaiting_grant.clone(),
    }
}

/// The hosts `d` declares that `grants` lacks.
fn ungranted(d: &Descriptor, grants: &BTreeSet<String>) -> Vec<String> {
    d.http_hosts.iter().filter(|h| !grants.contains(*h)).cloned().collect()
}

/// Whether a declared host (`name` or `name:port`) is an address rather than a name: an IP
/// literal, or `localhost` and its subdomains, which always resolve to loopback.
pub fn names_an_address(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name =
        host.rsplit_once(':').map_or(host, |(n, p)| if p.bytes().all(|b| b.is_ascii_digit()) { n } else { host });
    let name = name.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    name.parse::<std::net::IpAddr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
        || name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The versions of `record` kept loaded: active, previous, pinned, awaiting a grant.
fn wanted(record: &Record) -> BTreeSet<&String> {
    std::iter::once(&record.active)
        .chain(&record.previous)
        .chain(record.pins.values())
        .chain(&record.awaiting_grant)
        .filter(|v| !v.is_empty())
        .collect()
}

/// Writes `wasm` at `path` whole or not at all (a temporary file, synced, then renamed), so
/// nodes sharing the folder never read half a file.
fn write_file(path: &Path, wasm: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("plugin.wasm");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, wasm)?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all())?;
    std::fs::rename(&tmp, path)
}

fn no_plugin(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("no plugin named {name:?}"))
}

fn rejected_load(e: &LoadError) -> RegistryError {
    RegistryError::Rejected(e.to_string())
}

/// Declared hosts must be bare `name` or `name:port`: a URL or a wildcard would make a grant
/// mean something other than what the operator read.
fn check_hosts(d: &Descriptor) -> Result<(), RegistryError> {
    for host in &d.http_hosts {
        let (name, port) = host.split_once(':').map_or((host.as_str(), None), |(n, p)| (n, Some(p)));
        let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
        if !name_ok || !port_ok {
            return Err(RegistryError::Rejected(format!(
                "{} {} declares the http host {host:?}; expected `name` or `name:port`",
                d.name, d.version
            )));
        }
    }
    Ok(())
}

/// Loads `name` `version` from its file; on a shared store (`store` is the registry's, with
/// the version's `sha256`), a file this node does not have yet (another node admitted the
/// version) is fetched from the store first.
async fn load_blob(
    sandbox: &Sandbox,
    blobs: &Path,
    shared: Option<(&Store, &str)>,
    name: &str,
    version: &str,
) -> Result<Plugin, RegistryError> {
    let path = blobs.join(name).join(format!("{version}.wasm"));
    if let Some((store, sha256)) = shared.filter(|(store, _)| store.is_shared() && !path.exists()) {
        let files = |reason: String| RegistryError::Files { path: path.clone(), reason };
        let wasm = store
            .plugins()
            .blob(sha256)?
            .ok_or_else(|| files(format!("not in the shared store either (sha256 {sha256})")))?;
        write_file(&path, &wasm).map_err(|e| files(e.to_string()))?;
    }
    let plugin = sandbox
        .load_file(&path)
        .await
        .map_err(|e| RegistryError::Files { path: path.clone(), reason: e.to_string() })?;
    if plugin.descriptor().name != name || plugin.descriptor().version != version {
        return Err(RegistryError::Files {
            path,
            reason: format!("describes itself as {} {}", plugin.descriptor().name, plugin.descriptor().version),
        });
    }
    Ok(plugin)
}

#[cfg(test)]
mod tests {
    use super::names_an_address;

    #[test]
    fn a_trusted_folder_grants_names_never_addresses() {
        for address in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "169.254.169.254",
            "[::1]:9000",
            "::1",
            "localhost",
            "LOCALHOST:80",
            "api.localhost",
            "10.0.0.1:443",
        ] {
            assert!(names_an_address(address), "{address}");
        }
        for name in ["eco.taobao.com", "gw.api.taobao.com:443", "api-1.example"] {
            assert!(!names_an_address(name), "{name}");
        }
    }
}

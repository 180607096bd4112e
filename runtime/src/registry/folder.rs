//! The watched folder: dropping `<anything>.wasm` into it (with its signature as
//! `<anything>.wasm.sig` when signatures are required) admits that version and serves it, as
//! an upload with `activate=true` would, once every host it declares is granted. The folder
//! grants nothing by itself (a file there may come from anyone who can write to it): a version
//! whose hosts are not granted waits until the operator grants them (`wharf plugin grant`).
//!
//! A restart is not a drop: the files the folder holds as the host starts change nothing
//! that was decided before ([`FolderWatch::scan_at_start`]).
//!
//! Polled rather than notified: polling works the same on every filesystem (network mounts and
//! container volumes included, where change notifications often never arrive), and a scan of a
//! few files a second costs nothing next to one plugin call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::{Admitted, Candidate, Registry, RegistryError, Source};
use crate::config::PLUGIN_EXTENSION;

/// How often the folder is scanned. A second makes a drop serve "at once" to a person at a
/// terminal; a file must also look the same on two scans in a row, so one still being copied
/// is never read half-written.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// What a file looked like: its length and modification time.
type Look = (u64, Option<SystemTime>);

/// The state of one watched folder.
pub struct FolderWatch {
    dir: PathBuf,
    /// Files handled (admitted or refused), as they looked then.
    done: HashMap<PathBuf, Look>,
    /// Files seen changing, as they looked at the last scan.
    settling: HashMap<PathBuf, Look>,
}

impl FolderWatch {
    pub fn new(dir: &Path) -> Self {
        FolderWatch { dir: dir.to_owned(), done: HashMap::new(), settling: HashMap::new() }
    }

    /// Admits every `.wasm` file not handled yet in its current form, and serves it (a drop
    /// into the folder is an upload with `activate`). With `settled_only`, a file is taken only
    /// once it looked the same on the previous scan (a copy may be under way).
    pub async fn scan(
        &mut self,
        registry: &Registry,
        settled_only: bool,
    ) -> Vec<(PathBuf, Result<Admitted, RegistryError>)> {
        self.scan_with(registry, settled_only, true).await
    }

    /// The scan as the host starts, taking every file at once. The files there are not new
    /// drops: a version the registry holds already changes nothing (what served before the
    /// restart serves after it, whatever the operator activated, pinned or rolled back since),
    /// and one it does not know is admitted without serving, unless its name serves nothing
    /// yet; `wharf plugin activate` serves it.
    pub async fn scan_at_start(&mut self, registry: &Registry) -> Vec<(PathBuf, Result<Admitted, RegistryError>)> {
        self.scan_with(registry, false, false).await
    }

    async fn scan_with(
        &mut self,
        registry: &Registry,
        settled_only: bool,
        activate: bool,
    ) -> Vec<(PathBuf, Result<Admitted, RegistryError>)> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return out };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == PLUGIN_EXTENSION) && p.is_file())
            .collect();
        files.sort();
        for path in files {
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let look = (meta.len(), meta.modified().ok());
            if self.done.get(&path) == Some(&look) {
                continue;
            }
            if settled_only && self.settling.insert(path.clone(), look) != Some(look) {
                continue;
            }
            self.settling.remove(&path);
            self.done.insert(path.clone(), look);
            let outcome = match std::fs::read(&path) {
                Ok(wasm) => {
                    let signature = std::fs::read_to_string(signature_path(&path)).ok();
                    let candidate = Candidate {
                        wasm: &wasm,
                        signature: signature.as_deref().map(str::trim),
                        source: Source::Folder,
                        grant: &[],
                        activate,
                    };
                    registry.admit(candidate).await
                }
                Err(e) => Err(RegistryError::Files { path: path.clone(), reason: e.to_string() }),
            };
            match &outcome {
                Ok(a) if a.known => {}
                Ok(a) if a.active => {
                    tracing::info!(file = %path.display(), plugin = %a.name, version = %a.version, "plugin from the watched folder serves now")
                }
                Ok(a) if a.awaiting_grant.is_empty() && !activate => tracing::info!(
                    file = %path.display(), plugin = %a.name, version = %a.version,
                    "plugin from the watched folder admitted at start-up, not serving (the version that served before does); serve it with `wharf plugin activate`"
                ),
                Ok(a) => {
                    tracing::info!(file = %path.display(), plugin = %a.name, version = %a.version, "plugin from the watched folder admitted, not serving")
                }
                Err(e) => tracing::error!(file = %path.display(), error = %e, "plugin in the watched folder refused"),
            }
            out.push((path, outcome));
        }
        out
    }

    /// Scans every [`WATCH_EVERY`] until `stop` turns true.
    pub async fn run(mut self, registry: Registry, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(WATCH_EVERY) => {}
            }
            self.scan(&registry, true).await;
        }
    }
}

/// Where a file's detached signature is looked for.
pub fn signature_path(wasm: &Path) -> PathBuf {
    let mut name = wasm.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

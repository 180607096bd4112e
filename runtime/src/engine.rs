//! The one wasmtime `Engine` of a host process, and its on-disk cache of compiled components.
//!
//! Instances come from a pooling allocator (instantiation in microseconds, memory reused
//! between calls), and a background thread advances the epoch so that every store can check
//! its deadline while wasm runs. Compiling a component takes seconds; the cache keys the
//! compiled artifact by the wasm's sha256 and the engine's compatibility hash, so a restart, or
//! a second load of the same bytes, skips it.

use crate::error::LoadError;
use crate::limits::EPOCH_TICK;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wasmtime::component::Component;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Component instances alive at once across the process (concurrent calls). Each call holds
/// one for its duration; 1,000 covers a large multi-tenant host without reserving more address
/// space than a 64-bit process can spare.
pub const POOL_COMPONENT_INSTANCES: u32 = 1_000;

/// A Rust wasip2 component links a handful of core modules (the program, wit-component's
/// shims and fixups); 8 per component is ample.
pub const POOL_CORE_INSTANCES_PER_COMPONENT: u32 = 8;

/// Guest stack for async calls. Deep recursion traps cleanly (stack overflow) well inside it.
pub const ASYNC_STACK_BYTES: usize = 2 << 20;

/// Bytes of each pooled memory and table reset with `memset` and kept resident when an instance
/// is freed, rather than returned to the kernel (whose `madvise` costs page faults and TLB
/// shootdowns on the next call). Measured on the fresh-instance benchmark: 1 MiB is slower
/// (the `memset` of the whole region dominates); see BENCHMARKS.md for this value.
pub const POOL_KEEP_RESIDENT_BYTES: usize = 64 << 10;

/// Wasm stack a call may use before the engine traps with a stack overflow.
pub const MAX_WASM_STACK_BYTES: usize = 1 << 20;

/// Set to `1` to have the engine write `/tmp/perf-<pid>.map`, so that `perf report` names the
/// plugins' JIT-compiled functions (the profiles in BENCHMARKS.md); off by default, since the
/// file grows with every component compiled or loaded.
pub const PERF_MAP_ENV: &str = "WHARF_PERF_MAP";

/// The shared engine.
#[derive(Clone)]
pub struct Engine {
    inner: wasmtime::Engine,
    cache_dir: Option<PathBuf>,
    /// Held for its `Drop`: the epoch thread lives as long as some handle does.
    _ticker: Arc<Ticker>,
}

/// Stops the epoch thread when the last engine handle goes.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Engine {
    /// An engine whose instances may each grow memory to `max_memory_bytes`; `cache_dir`
    /// holds compiled components (`None` compiles every time).
    pub fn new(max_memory_bytes: usize, cache_dir: Option<PathBuf>) -> Result<Self, LoadError> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_COMPONENT_INSTANCES)
            .total_core_instances(POOL_COMPONENT_INSTANCES * POOL_CORE_INSTANCES_PER_COMPONENT)
            .total_memories(POOL_COMPONENT_INSTANCES * 2)
            .total_tables(POOL_COMPONENT_INSTANCES * POOL_CORE_INSTANCES_PER_COMPONENT)
            .total_stacks(POOL_COMPONENT_INSTANCES)
            .max_core_instances_per_component(POOL_CORE_INSTANCES_PER_COMPONENT * 4)
            .max_memory_size(max_memory_bytes)
            .linear_memory_keep_resident(POOL_KEEP_RESIDENT_BYTES)
            .table_keep_resident(POOL_KEEP_RESIDENT_BYTES);

        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK_BYTES)
            .async_stack_size(ASYNC_STACK_BYTES)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if std::env::var_os(PERF_MAP_ENV).is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let inner = wasmtime::Engine::new(&config)
            .map_err(|e| LoadError::InvalidComponent(format!("engine configuration: {e:#}")))?;

        let stop = Arc::new(AtomicBool::new(false));
        let weak = inner.weak();
        let thread_stop = stop.clone();
        std::thread::Builder::new()
            .name("wharf-epoch".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread");

        Ok(Engine { inner, cache_dir, _ticker: Arc::new(Ticker { stop }) })
    }

    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner
    }

    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// Compiles `wasm`, or loads its compiled form from the cache.
    pub fn component(&self, wasm: &[u8]) -> Result<(Component, String), LoadError> {
        let sha256 = hex::encode(Sha256::digest(wasm));
        let Some(dir) = &self.cache_dir else {
            return Ok((self.compile(wasm)?, sha256));
        };
        let path = dir.join(format!("{sha256}-{:016x}.cwasm", self.compatibility_hash()));
        // Read into memory rather than `deserialize_file`: a mapped file rewritten in place
        // by anyone else would bring the host down with SIGBUS.
        if let Ok(bytes) = std::fs::read(&path) {
            // SAFETY: the file was written by `Component::serialize` of an engine with this
            // compatibility hash (it is in the name), into a directory only the host writes;
            // wasmtime checks the header and the engine settings before using it.
            match unsafe { Component::deserialize(&self.inner, &bytes) } {
                Ok(component) => return Ok((component, sha256)),
                Err(e) => tracing::warn!(path = %path.display(), "recompiling a stale cache entry: {e:#}"),
            }
        }
        let component = self.compile(wasm)?;
        // The cache only saves time: failing to write it is logged, never a failed load.
        if let Err(reason) = write_atomically(dir, &path, &component) {
            tracing::warn!(path = %path.display(), "could not cache the compiled component: {reason}");
        }
        Ok((component, sha256))
    }

    fn compile(&self, wasm: &[u8]) -> Result<Component, LoadError> {
        Component::new(&self.inner, wasm).map_err(|e| LoadError::InvalidComponent(format!("{e:#}")))
    }

    fn compatibility_hash(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.inner.precompile_compatibility_hash().hash(&mut hasher);
        hasher.finish()
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("cache_dir", &self.cache_dir).finish_non_exhaustive()
    }
}

/// Writes the compiled form beside its final name, then renames it into place, so a crash or a
/// concurrent load (another task, another process) never sees a truncated artifact.
fn write_atomically(dir: &Path, path: &Path, component: &Component) -> Result<(), String> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let bytes = component.serialize().map_err(|e| format!("{e:#}"))?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let unique = NEXT.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp-{}-{unique}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        e.to_string()
    })
}

/// Where compiled components go by default: `$WHARF_CACHE_DIR`, else the user's cache folder.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WHARF_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("wharf").join("components"))
}

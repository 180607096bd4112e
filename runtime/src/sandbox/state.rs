//! What one call's store holds: a deny-all WASI context, the memory limiter, and the shop and
//! limits the host capabilities consult. Built fresh for every call and dropped after it.

use crate::capability::grants::HostGrants;
use crate::capability::http;
use crate::capability::log;
use crate::limits::Limits;
use crate::model::{Descriptor, Operation};
use crate::shop::Shop;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Raised by the epoch callback when the call's wall-clock deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("the call's deadline passed")]
pub struct DeadlineExceeded;

/// Most table elements a call may grow to; Rust components use a few hundred.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Denies memory growth past the call's limit and remembers that it did, so the failure that
/// follows (a trap, usually an abort in the guest's allocator) is reported as a memory limit.
pub struct MemoryLimiter {
    limit: usize,
    hit: bool,
}

impl MemoryLimiter {
    pub fn hit(&self) -> bool {
        self.hit
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    pub limiter: MemoryLimiter,
    pub shop: Shop,
    /// The operation this call serves (rate limits are per shop and operation).
    pub operation: Operation,
    pub descriptor: Arc<Descriptor>,
    pub http: http::Client,
    pub limits: Limits,
    pub deadline: Instant,
    /// Log lines of this call dropped over the shop's budget.
    pub log_dropped: u64,
    /// The hosts the shop's secrets may be filled in for ([`HostGrants::for_secrets`]): worked
    /// out at the call's first request, since most calls of a plugin that makes none (and
    /// `describe`) would pay for it for nothing (a tenth of a fresh call's time).
    secret_hosts: std::sync::OnceLock<HostGrants>,
}

impl CallState {
    pub fn new(
        shop: Shop,
        operation: Operation,
        descriptor: Arc<Descriptor>,
        http: http::Client,
        limits: &Limits,
        deadline: Instant,
    ) -> Self {
        let stdout = MemoryOutputPipe::new(limits.stdio_bytes);
        let stderr = MemoryOutputPipe::new(limits.stdio_bytes);
        // Deny-all: the builder starts with no preopens, no env, no args, no stdin; network
        // access is switched off explicitly since sockets are allowed by default.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            stdout,
            stderr,
            limiter: MemoryLimiter { limit: limits.memory_bytes, hit: false },
            shop,
            operation,
            descriptor,
            http,
            limits: limits.clone(),
            deadline,
            log_dropped: 0,
            secret_hosts: std::sync::OnceLock::new(),
        }
    }

    /// The hosts the shop's secrets may be filled in for.
    pub fn secret_hosts(&self) -> &HostGrants {
        self.secret_hosts.get_or_init(|| HostGrants::for_secrets(&self.descriptor, &self.shop.config))
    }

    /// Traps once the call's deadline has passed: checked when a host import returns, since
    /// the epoch deadline only interrupts wasm.
    pub fn check_deadline(&self) -> wasmtime::Result<()> {
        if Instant::now() >= self.deadline {
            return Err(wasmtime::Error::new(DeadlineExceeded));
        }
        Ok(())
    }

    /// What is left of the call's deadline.
    pub fn time_left(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Sends what the plugin printed to the logs (scrubbed of secrets), within the shop's budget;
    /// answers how many lines of the call were dropped, its log calls' included.
    pub fn flush_stdio(&self, plugin: &str) -> u64 {
        let scrubbed = |pipe: &MemoryOutputPipe| self.shop.secrets.scrub(pipe.contents().to_vec());
        self.log_dropped
            + log::emit_stdio(&self.shop, plugin, "stdout", &scrubbed(&self.stdout))
            + log::emit_stdio(&self.shop, plugin, "stderr", &scrubbed(&self.stderr))
    }

    /// The message a Rust panic printed before trapping. Only read once the trap says the
    /// guest aborted (see `classify`): what stderr says never decides that a call panicked.
    /// It is the plugin's text, so it comes escaped and cut like a log line.
    pub fn panic_message(&self) -> Option<String> {
        let stderr = self.shop.secrets.scrub(self.stderr.contents().to_vec());
        let text = String::from_utf8_lossy(&stderr);
        let at = text.find("panicked at")?;
        let rest = &text[at..];
        // `panicked at src/lib.rs:10:5:\nmessage\nnote: ...`
        let message: Vec<&str> = rest.lines().skip(1).take_while(|l| !l.starts_with("note:")).collect();
        let location = rest.lines().next().unwrap_or("").trim_end_matches(':');
        let text = format!("{} ({location})", message.join(" ").trim());
        Some(log::printable(&text, log::MAX_MESSAGE_BYTES))
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

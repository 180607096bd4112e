//! What one plugin call may use. Every number is a named default an operator can override.

use std::time::Duration;

/// Linear memory a call may grow to. 64 MiB holds a page of a few hundred fully mapped orders
/// with room to spare (a 100-order Taobao page maps in well under 8 MiB), while 1,000 pooled
/// instances still fit in a modest host.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;

/// Wall-clock budget of one call, host HTTP included. TOP answers in tens of milliseconds;
/// five seconds covers a page of `trade.fullinfo.get` calls on a slow day and still lets the
/// scheduler notice a stuck plugin quickly.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// Largest answer a call may return, measured as its canonical JSON. A page of 100 orders is
/// around 200 KiB; 8 MiB leaves room for bulk push results without letting one call flood
/// the store.
pub const DEFAULT_OUTPUT_BYTES: usize = 8 << 20;

/// Largest HTTP response body a plugin may receive. Platform pages are far below this.
pub const DEFAULT_HTTP_RESPONSE_BYTES: usize = 16 << 20;

/// Timeout of one HTTP request when the plugin asks for none (always capped by the call's
/// remaining deadline).
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes of stdout/stderr kept per call for the logs; beyond it, writes fail.
pub const DEFAULT_STDIO_BYTES: usize = 64 << 10;

/// Requests per second one shop may send to one platform host. TOP's default app quota is in
/// this range; platform throttling (`rate_limited`) slows a shop further.
pub const DEFAULT_SHOP_REQUESTS_PER_SECOND: u32 = 50;

/// How long a request waits for a rate-limit token before the host answers `rate-limited`.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_millis(250);

/// How often the engine's epoch advances; the granularity of deadline checks inside wasm.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The limits of one call.
#[derive(Clone, Debug)]
pub struct Limits {
    pub memory_bytes: usize,
    pub deadline: Duration,
    pub output_bytes: usize,
    pub http_response_bytes: usize,
    pub http_timeout: Duration,
    pub stdio_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            deadline: DEFAULT_DEADLINE,
            output_bytes: DEFAULT_OUTPUT_BYTES,
            http_response_bytes: DEFAULT_HTTP_RESPONSE_BYTES,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            stdio_bytes: DEFAULT_STDIO_BYTES,
        }
    }
}

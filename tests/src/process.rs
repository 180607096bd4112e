//! `wharf serve` as a child process, for the tests and benchmarks that need the real host
//! around the sandbox: its own tokio runtime, its log, its memory as the kernel counts it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::plugins::{cache_dir, wharf_bin};

/// A free loopback port to put in a configuration's `listen` (bound, read and released: the
/// kernel does not hand it out again at once).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("the bound address").port()
}

/// A running `wharf serve`, killed when dropped.
pub struct ServeProcess {
    child: Child,
    log: PathBuf,
}

impl ServeProcess {
    /// Starts `wharf serve --config <config>` with `operator` as its operator token, the compiled
    /// plugin cache the tests share, no progress lines, and loops that look for work every
    /// `tick_ms`; its log (stderr, level info) goes to `log`, appended.
    pub fn spawn(config: &Path, log: &Path, operator: &str, tick_ms: u64) -> ServeProcess {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("opening the serve log {}: {e}", log.display()));
        let child = Command::new(wharf_bin())
            .args(["--cache-dir", cache_dir().to_str().unwrap(), "serve", "--config", config.to_str().unwrap()])
            .args(["--progress-every", "off", "--tick-ms", &tick_ms.to_string()])
            .env("WHARF_LOG", "info")
            .env("WHARF_OPERATOR_TOKEN", operator)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("wharf serve starts");
        ServeProcess { child, log: log.to_owned() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (it has not exited or been killed).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What the process has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory now (`VmRSS`), in bytes; `None` off Linux or once the process is gone.
    pub fn rss_bytes(&self) -> Option<u64> {
        self.status_bytes("VmRSS:")
    }

    /// The most resident memory the process has had since it started (`VmHWM`), in bytes.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        self.status_bytes("VmHWM:")
    }

    fn status_bytes(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib * 1024)
    }

    /// Stops it as an operator does (SIGTERM: calls in flight finish, the store is flushed),
    /// killing it if it has not exited within `grace`. The exit status, `None` when killed.
    pub fn stop(mut self, grace: Duration) -> Option<ExitStatus> {
        self.terminate(grace)
    }

    /// [`ServeProcess::stop`], keeping the handle (its log stays readable).
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        wharf_sim::serve::terminate(&mut self.child, grace)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sums the samples of metric `name` in `/metrics` text whose labels contain every one of
/// `labels` (0 when none does).
pub fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>()
        + 0.0 // an empty sum is -0.0
}

/// CPU time (user and system) process `pid` has used so far; zero once it is gone.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return Duration::ZERO };
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th, in clock ticks (USER_HZ, 100 on Linux).
    let after = stat.rsplit(')').next().unwrap_or("");
    let ticks: u64 = after.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

//! Serving a simulator's router on loopback, on a runtime of its own.
//!
//! Every simulator runs its HTTP server on its own thread and tokio runtime, so it works the
//! same from an async test, a blocking test that runs the `wharf` binary as a subprocess, or
//! the CLI's conformance run; and a test's runtime shutting down never takes the platform
//! away mid-call.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::Router;
use tokio::sync::oneshot;

/// How long a stopping server waits for open connections before it drops them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Worker threads of a simulator's runtime; the CI machine has two cores.
const WORKERS: usize = 2;

/// A router being served on `127.0.0.1:<port>`; stops when dropped.
pub struct Served {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// Binds a free loopback port and serves `router` there until dropped.
    pub fn spawn(name: &str, router: Router) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<anyhow::Result<SocketAddr>>();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let thread_name = name.to_owned();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(WORKERS)
                    .thread_name(format!("{thread_name}-worker"))
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::new(e).context("building the simulator's runtime")));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(anyhow::Error::new(e).context("binding 127.0.0.1:0")));
                            return;
                        }
                    };
                    match listener.local_addr() {
                        Ok(addr) => {
                            let _ = ready_tx.send(Ok(addr));
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(anyhow::Error::new(e).context("reading the bound address")));
                            return;
                        }
                    }
                    let (stopping_tx, stopping_rx) = oneshot::channel::<()>();
                    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                        let _ = stopping_tx.send(());
                    });
                    let deadline = async {
                        let _ = stopping_rx.await;
                        tokio::time::sleep(SHUTDOWN_GRACE).await;
                    };
                    tokio::select! {
                        r = server => if let Err(e) = r {
                            tracing::warn!(error = %e, sim = %thread_name, "simulator stopped with an error");
                        },
                        () = deadline => {}
                    }
                });
                rt.shutdown_timeout(SHUTDOWN_GRACE);
            })
            .context("spawning the simulator thread")?;
        let addr = ready_rx.recv().context("the simulator thread ended before it was ready")??;
        Ok(Self { addr, stop: Some(stop), thread: Some(thread) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A simulator's clock: starts at the configured "now" (UTC ms) and runs at wall speed.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base_ms: i64,
    started: Instant,
}

impl Clock {
    pub fn new(base_ms: i64) -> Self {
        Self { base_ms, started: Instant::now() }
    }

    /// A clock reading the wall clock.
    pub fn wall() -> Self {
        Self::new(wall_ms())
    }

    pub fn now_ms(&self) -> i64 {
        self.base_ms + self.started.elapsed().as_millis() as i64
    }
}

/// The wall clock, UTC ms.
pub fn wall_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Locks ignoring poison: a panicking test thread must not take the simulator down with it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Stops a server process as an operator does: SIGTERM, so it stops what it started and
/// removes its files, then waits up to `grace` for it to exit and kills it if it has not. Its
/// exit status, `None` when it had to be killed.
pub fn terminate(child: &mut std::process::Child, grace: std::time::Duration) -> Option<std::process::ExitStatus> {
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let until = std::time::Instant::now() + grace;
    while std::time::Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

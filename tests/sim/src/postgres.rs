//! A throwaway PostgreSQL server for tests: Debian's `postgres` on a cluster of its own
//! (`initdb`) in a temporary directory, listening on a free loopback port and on a unix socket
//! in that directory, with the superuser `wharf` (trust: no password) and a database `wharf`.
//! One server holds as many databases as its tests want ([`Postgres::create_database`]).
//! Dropping the handle stops the server and removes the directory, on a panic too.
//!
//! Run as root (CI containers, this machine), `initdb` and the server run as the unprivileged
//! `nobody`, since both refuse to run as root and, unlike `mariadbd`, have no `--user`: the
//! child drops to `nobody` itself between fork and exec (std's `CommandExt::uid`/`gid`, which
//! also clears the supplementary groups), so the process held is the postmaster itself.
//! `runuser` and `su` would stay in between as a parent waiting on a PAM session, and killing
//! them would orphan the server. Otherwise everything runs as the user running the test.
//!
//! ```no_run
//! use wharf_sim::postgres::Postgres;
//! let server = Postgres::start()?;
//! server.create_database("orders")?;
//! let url = server.url_for("orders"); // postgres://wharf@127.0.0.1:<port>/orders
//! # let _ = url;
//! # anyhow::Ok(())
//! ```

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::throwaway::{RunAs, TempDir, tail, unprivileged_user};

/// The lines of the server's log an error shows.
const LOG_ERRORS: &[&str] = &["FATAL", "PANIC", "ERROR"];

/// How to get the server, said with every failure to find it.
pub const INSTALL_HINT: &str = "the tests on PostgreSQL start Debian's PostgreSQL server: \
     run .ci/run, which installs it, or apt-get install -y postgresql";
/// The superuser [`Postgres::start`] creates (`initdb -U`), trusted without a password over
/// TCP and the socket.
pub const SUPERUSER: &str = "wharf";
/// The database [`Postgres::start`] creates, which [`Postgres::url`] names.
pub const DATABASE: &str = "wharf";
/// The unprivileged account the server runs as when the test runs as root.
/// Debian installs each major version's server in `<this>/<major>/bin`, off PATH (its
/// `pg_wrapper` puts only the clients there); the highest major wins.
const DEBIAN_VERSIONS_DIR: &str = "/usr/lib/postgresql";
/// Server settings for tests: tests hold kilobytes, and several servers run at once.
const SERVER_SETTINGS: &[&str] = &[
    // The default is 128MB per server; 16MB still holds a test's tables whole (the floor is
    // 2 × max_connections pages, 1.6MB).
    "shared_buffers=16MB",
    // The default, said outright: initdb lowers it on a machine short of shared memory, and
    // tests holding a connection pool each need room.
    "max_connections=100",
    // Both the defaults, said outright: durability tests rely on a commit reaching the disk,
    // so nobody is to turn them off for speed here.
    "fsync=on",
    "synchronous_commit=on",
];
/// `initdb` writes the template databases (about a second idle; longer on a busy machine).
const INITDB_TIMEOUT: Duration = Duration::from_secs(120);
/// From start to accepting connections (under 100ms when idle).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// `createdb` copies `template1` (about 100ms when idle).
const CREATEDB_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an immediate shutdown may take before the server is killed (it takes ~20ms).
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Ports tried when another process takes the one picked between probing and binding.
const START_ATTEMPTS: usize = 3;
/// The server's socket in its socket directory, with the longest port.
const LONGEST_SOCKET_NAME: &str = ".s.PGSQL.65535";
/// NAMEDATALEN − 1: PostgreSQL truncates longer names, with only a NOTICE.
const MAX_DATABASE_NAME: usize = 63;
/// `postmaster.pid` holds the server's pid on its first line and, since PostgreSQL 10, its
/// state on the eighth (0-based 7), `ready` once it accepts connections: what `pg_ctl -w`
/// waits for, and unlike a TCP connect it does not pass while the server is still starting.
const PID_FILE_STATUS_LINE: usize = 7;
const PID_FILE_READY: &str = "ready";

/// A running PostgreSQL server; stopped, and its directory removed, when dropped.
pub struct Postgres {
    child: Child,
    binaries: Binaries,
    /// Removed after the server is stopped (fields drop after [`Drop::drop`]).
    dir: TempDir,
    port: u16,
}

impl Postgres {
    /// Initialises a cluster and starts a server on it with the database [`DATABASE`]; ready
    /// for connections when this returns. Fails with [`INSTALL_HINT`] when the binaries are
    /// missing.
    pub fn start() -> anyhow::Result<Self> {
        let binaries = Binaries::find(&search_dirs())?;
        let run_as = unprivileged_user()?;
        let dir = TempDir::create("postgres", LONGEST_SOCKET_NAME, run_as.as_ref())?;
        initdb(&binaries.initdb, &dir.0, run_as.as_ref())?;
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            match start_server(&binaries.postgres, &dir.0, run_as.as_ref())? {
                Started::Running(child, port) => {
                    let server = Self { child, binaries, dir, port };
                    server.create_database(DATABASE)?;
                    return Ok(server);
                }
                Started::PortTaken(log) => last_log = log,
            }
        }
        bail!("postgres found each of {START_ATTEMPTS} free ports taken by the time it bound them: {last_log}")
    }

    /// The loopback TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The loopback TCP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `postgres://wharf@127.0.0.1:<port>/wharf`: the database [`Postgres::start`] created.
    pub fn url(&self) -> String {
        url(self.port, DATABASE)
    }

    /// A URL for `database` on this server, as [`SUPERUSER`] (create it first with
    /// [`Postgres::create_database`]).
    pub fn url_for(&self, database: &str) -> String {
        url(self.port, database)
    }

    /// Creates an empty database `name` (from `template1`), so that each test can have its own
    /// on one server. Safe to call from several threads at once.
    pub fn create_database(&self, name: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            !name.is_empty() && name.len() <= MAX_DATABASE_NAME && !name.contains('\0'),
            "a database name takes 1 to {MAX_DATABASE_NAME} bytes and no NUL, not {name:?}"
        );
        let mut command = command(&self.binaries.createdb, None);
        // -w: never prompt for a password (there is none); `--`: a name may start with '-'.
        command
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", SUPERUSER, "-w", "--", name])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().with_context(|| format!("running {}", self.binaries.createdb.display()))?;
        let status = wait(&mut child, "createdb", CREATEDB_TIMEOUT)?;
        if !status.success() {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            bail!("createdb {name:?} exited with {status}: {}", stderr.trim());
        }
        Ok(())
    }

    /// The server's directory: `data/` (the cluster), the unix socket (`.s.PGSQL.<port>`, so
    /// the directory is also libpq's `host`), `initdb.log`, `server.log`.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// What the server logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("server.log")).unwrap_or_default()
    }

    /// Stops the server and removes its directory; dropping the handle does the same, and
    /// stopping again does nothing.
    ///
    /// An immediate shutdown (SIGQUIT), then SIGKILL if it has not exited within a few seconds.
    /// Not the smart shutdown of SIGTERM, which waits for every client to disconnect (a pool
    /// a test still holds would keep it up), nor the fast one of SIGINT: both write a shutdown
    /// checkpoint that syncs every file (a second here) of a directory about to be removed.
    /// Immediate still ends the backends and removes the shared memory, which SIGKILL alone
    /// would leave behind.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-QUIT", &self.child.id().to_string()]).status();
            let until = Instant::now() + STOP_GRACE;
            while Instant::now() < until && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        self.dir.remove();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `postgres://wharf@127.0.0.1:<port>/<database>`, the name percent-encoded.
fn url(port: u16, database: &str) -> String {
    let mut encoded = String::with_capacity(database.len());
    for byte in database.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("postgres://{SUPERUSER}@127.0.0.1:{port}/{encoded}")
}

/// The programs, the server's two from one directory (one version).
struct Binaries {
    initdb: PathBuf,
    postgres: PathBuf,
    /// From the same directory when there (Debian's client package puts it there too), else
    /// from PATH.
    createdb: PathBuf,
}

impl Binaries {
    fn find(dirs: &[PathBuf]) -> anyhow::Result<Self> {
        let Some(dir) = dirs.iter().find(|d| executable(&d.join("initdb")) && executable(&d.join("postgres"))) else {
            bail!(
                "no PostgreSQL server (initdb and postgres side by side) in {DEBIAN_VERSIONS_DIR}/*/bin or on PATH; {INSTALL_HINT}"
            );
        };
        let createdb = std::iter::once(dir)
            .chain(dirs)
            .map(|d| d.join("createdb"))
            .find(|p| executable(p))
            .with_context(|| format!("no createdb next to {} or on PATH; {INSTALL_HINT}", dir.display()))?;
        Ok(Self { initdb: dir.join("initdb"), postgres: dir.join("postgres"), createdb })
    }
}

/// Debian's version directories, highest major first, then PATH.
fn search_dirs() -> Vec<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(DEBIAN_VERSIONS_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            // "15", or "9.6" before PostgreSQL 10.
            let version = name.split('.').map(str::parse).collect::<Result<Vec<u32>, _>>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    let path = std::env::var_os("PATH").unwrap_or_default();
    versions.into_iter().map(|(_, dir)| dir).chain(std::env::split_paths(&path)).collect()
}

fn executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A command for one of the programs: run from `/`, no stdin, none of libpq's and the
/// server's PG* variables of the caller (PGDATA, PGHOST, PGPORT, PGUSER, PGOPTIONS…), as
/// `run_as` when given.
fn command(program: &Path, run_as: Option<&RunAs>) -> Command {
    let mut command = Command::new(program);
    command.current_dir("/").stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.as_encoded_bytes().starts_with(b"PG") {
            command.env_remove(name);
        }
    }
    if let Some(user) = run_as {
        command.uid(user.uid).gid(user.gid);
    }
    command
}

/// Waits for `child` to exit, killing it after `timeout`.
fn wait(child: &mut Child, what: &str, timeout: Duration) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().with_context(|| format!("waiting for {what}"))? {
            return Ok(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `initdb` of `dir/data`: the superuser [`SUPERUSER`] trusted over TCP and the socket, UTF-8
/// in the C locale (the same sorting and messages on every machine), without syncing its
/// files (the server syncs what it writes; a test does not outlive a crash of the machine).
fn initdb(initdb: &Path, dir: &Path, run_as: Option<&RunAs>) -> anyhow::Result<()> {
    let log = dir.join("initdb.log");
    let log_file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = command(initdb, run_as);
    command
        .arg(format!("--pgdata={}", dir.join("data").display()))
        .arg(format!("--username={SUPERUSER}"))
        .args(["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
        .stdout(log_file.try_clone().context("the initdb log")?)
        .stderr(log_file);
    let mut child = command.spawn().with_context(|| format!("running {}; {INSTALL_HINT}", initdb.display()))?;
    let status = wait(&mut child, "initdb", INITDB_TIMEOUT)?;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        bail!("{} exited with {status}: {}", initdb.display(), tail(&text, LOG_ERRORS));
    }
    Ok(())
}

enum Started {
    Running(Child, u16),
    /// Another process took the port between probing and binding; the server's log.
    PortTaken(String),
}

/// Starts the server on a free port and waits until it accepts connections.
fn start_server(postgres: &Path, dir: &Path, run_as: Option<&RunAs>) -> anyhow::Result<Started> {
    let port =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).context("finding a free port")?.port();
    let data = dir.join("data");
    let log = dir.join("server.log");
    let log_file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = command(postgres, run_as);
    // -k: the socket in the server's own directory; -h: TCP on loopback only.
    command
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
        .arg("-k")
        .arg(dir)
        .args(SERVER_SETTINGS.iter().flat_map(|setting| ["-c", setting]))
        .stdout(Stdio::null())
        .stderr(log_file);
    let mut child = command.spawn().with_context(|| format!("starting {}; {INSTALL_HINT}", postgres.display()))?;
    let pid_file = data.join("postmaster.pid");
    let started = Instant::now();
    loop {
        if ready(&pid_file, child.id()) {
            return Ok(Started::Running(child, port));
        }
        if let Some(status) = child.try_wait().context("watching postgres")? {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Address already in use") {
                return Ok(Started::PortTaken(tail(&text, LOG_ERRORS)));
            }
            bail!("{} on port {port} exited with {status}: {}", postgres.display(), tail(&text, LOG_ERRORS));
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            bail!(
                "{} on port {port} did not accept connections within {START_TIMEOUT:?}: {}",
                postgres.display(),
                tail(&text, LOG_ERRORS)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `postmaster.pid` says the server `pid` accepts connections.
fn ready(pid_file: &Path, pid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(pid_file) else { return false };
    let lines: Vec<&str> = text.lines().collect();
    lines.first().is_some_and(|l| l.trim() == pid.to_string())
        && lines.get(PID_FILE_STATUS_LINE).is_some_and(|l| l.trim() == PID_FILE_READY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_server_says_how_to_install_it() {
        let err = Binaries::find(&[PathBuf::from("/nonexistent/wharf-no-such-postgres")]).err().unwrap();
        assert!(format!("{err:#}").contains("run .ci/run"), "{err:#}");
        assert!(format!("{err:#}").contains("apt-get install -y postgresql"), "{err:#}");
    }

    #[test]
    fn urls() {
        assert_eq!(url(5433, "wharf"), "postgres://wharf@127.0.0.1:5433/wharf");
        assert_eq!(url(5433, "t-1_a.b~"), "postgres://wharf@127.0.0.1:5433/t-1_a.b~");
        assert_eq!(url(5433, "a b/é"), "postgres://wharf@127.0.0.1:5433/a%20b%2F%C3%A9");
    }

    /// `select current_database()` through psql at `url`.
    fn current_database(server: &Postgres, url: &str) -> String {
        let psql = server.binaries.createdb.with_file_name("psql");
        let output = command(&psql, None)
            // -X: no ~/.psqlrc; -A -t: the bare value.
            .args(["-X", "-A", "-t", "-w", "-c", "select current_database()", url])
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", psql.display()));
        assert!(output.status.success(), "psql {url}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// Two real servers started at once, each in its own directory on its own port; databases
    /// created from several threads; each server goes away with its files, on a panic too.
    #[test]
    fn two_servers_at_once_with_databases_of_their_own() {
        let (mut a, b) = std::thread::scope(|s| {
            let a = s.spawn(Postgres::start);
            let b = s.spawn(Postgres::start);
            (a.join().unwrap().expect("starting PostgreSQL"), b.join().unwrap().expect("starting PostgreSQL"))
        });
        assert_ne!(a.port(), b.port());
        assert_ne!(a.dir(), b.dir());
        assert!(a.dir().join(format!(".s.PGSQL.{}", a.port())).exists(), "the socket is in the directory");
        if let Some(user) = unprivileged_user().unwrap() {
            let status = std::fs::read_to_string(format!("/proc/{}/status", a.child.id())).unwrap();
            let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
            assert_eq!(uid.split_whitespace().nth(1), Some(user.uid.to_string().as_str()), "{uid}");
            let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
            assert_eq!(groups.trim(), "Groups:", "root's groups are dropped");
        }

        std::thread::scope(|s| {
            for name in ["second", "third", "-dash"] {
                let a = &a;
                s.spawn(move || a.create_database(name).unwrap_or_else(|e| panic!("{e:#}")));
            }
        });
        assert_eq!(current_database(&a, &a.url()), "wharf");
        for name in ["second", "third", "-dash"] {
            assert_eq!(current_database(&a, &a.url_for(name)), name);
        }
        assert_eq!(current_database(&b, &b.url()), "wharf");
        let err = a.create_database("second").unwrap_err();
        assert!(format!("{err:#}").contains("already exists"), "{err:#}");
        assert!(a.create_database(&"x".repeat(MAX_DATABASE_NAME + 1)).is_err());

        let a_dir = a.dir().to_owned();
        a.stop();
        assert!(matches!(a.child.try_wait(), Ok(Some(_))), "the server exited");
        assert!(!a_dir.exists(), "{} outlived its server", a_dir.display());
        a.stop();

        let b_dir = b.dir().to_owned();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _server = b;
            panic!("a test fails while its server runs");
        }));
        assert!(panicked.is_err());
        assert!(!b_dir.exists(), "{} outlived its server", b_dir.display());
    }
}

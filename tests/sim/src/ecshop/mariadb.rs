//! A throwaway MariaDB server for tests: Debian's `mariadbd` on a data directory of its own in
//! a temporary directory, listening on a unix socket there and on a free loopback port, with
//! `root` (no password) over both. Dropping the handle kills the server and removes the
//! directory, on a panic too.
//!
//! Run as root (CI containers, this machine), the server runs as the unprivileged `nobody`
//! (`--user=nobody`, the directory handed to it), since `mariadbd` refuses to run as root;
//! otherwise as the user running the test.
//!
//! ```no_run
//! use wharf_sim::ecshop::mariadb::MariaDb;
//! let server = MariaDb::start()?;
//! let dsn = server.tcp_dsn("mysql"); // for PDO, as `root` with an empty password
//! # let _ = dsn;
//! # anyhow::Ok(())
//! ```

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::throwaway::{RunAs, TempDir, UNPRIVILEGED_USER, tail, unprivileged_user};

/// How to get the server, said with every failure to find it.
pub const INSTALL_HINT: &str = "the ECShop tests on MariaDB start Debian's MariaDB server and reach it from PHP: \
     run .ci/run, which installs them, or apt-get install -y mariadb-server php-mysql";
/// The account [`MariaDb::start`] leaves usable, with an empty password, over the socket
/// (`root@localhost`) and over TCP (`root@127.0.0.1`).
pub const ROOT_USER: &str = "root";
/// The unprivileged account the server runs as when the test runs as root.
/// The server, by the names Debian's packages (and older ones) give it.
const SERVER_NAMES: &[&str] = &["mariadbd", "mysqld"];
const INSTALL_DB_NAMES: &[&str] = &["mariadb-install-db", "mysql_install_db"];
/// Where Debian puts them when `sbin` is not on PATH.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/usr/libexec"];
/// A small InnoDB: tests hold kilobytes (the defaults write a 96 MiB redo log per server).
const INNODB_OPTIONS: &[&str] = &[
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=8M",
    // Containers may forbid io_uring (Docker's seccomp profile does); tests need no async I/O.
    "--innodb-use-native-aio=0",
];
/// `mariadb-install-db` writes the system tables (a few seconds; longer on a busy machine).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(120);
/// From start to accepting connections (well under a second when idle).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Ports tried when another process takes the one picked between probing and binding.
const START_ATTEMPTS: usize = 3;

/// A running MariaDB server; killed, and its directory removed, when dropped.
pub struct MariaDb {
    child: Child,
    /// Removed after the server is killed (fields drop after [`Drop::drop`]).
    dir: TempDir,
    socket: PathBuf,
    port: u16,
}

impl MariaDb {
    /// Initialises a data directory and starts a server on it; ready for connections when this
    /// returns. Fails with [`INSTALL_HINT`] when the binaries are missing.
    pub fn start() -> anyhow::Result<Self> {
        let server = find(SERVER_NAMES)?;
        let install_db = find(INSTALL_DB_NAMES)?;
        let run_as = unprivileged_user()?;
        let dir = TempDir::create("mariadb", "mysqld.sock", run_as.as_ref())?;
        install(&install_db, &dir.0, run_as.as_ref())?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match start_server(&server, &dir.0, run_as.as_ref()) {
                Ok((child, socket, port)) => {
                    return Ok(Self { child, dir, socket, port });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("mariadbd did not start")))
    }

    /// The unix socket (in the server's directory).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The loopback TCP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The server's directory: `data/`, `error.log`, the socket.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// A PDO data source for `database` over TCP (no database when empty).
    pub fn tcp_dsn(&self, database: &str) -> String {
        dsn(&format!("host=127.0.0.1;port={}", self.port), database)
    }

    /// A PDO data source for `database` over the unix socket, as `host=localhost` reaches a
    /// shop's local server (no database when empty).
    pub fn socket_dsn(&self, database: &str) -> String {
        dsn(&format!("unix_socket={}", self.socket.display()), database)
    }

    /// What the server logged so far (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        // A throwaway server: nothing to flush, so no need to wait for a clean shutdown.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `dir` goes next, with everything the server wrote.
    }
}

fn dsn(location: &str, database: &str) -> String {
    if database.is_empty() {
        format!("mysql:{location};charset=utf8")
    } else {
        format!("mysql:{location};dbname={database};charset=utf8")
    }
}

/// The first of `names` on PATH or in the usual directories.
fn find(names: &[&str]) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain(EXTRA_DIRS.iter().map(PathBuf::from)).collect();
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(name);
            if candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0) {
                return Ok(candidate);
            }
        }
    }
    bail!("none of {} is installed (looked on PATH and in {}); {INSTALL_HINT}", names.join(", "), EXTRA_DIRS.join(", "))
}

/// The options `mariadb-install-db` and the server share: where the data and the temporary
/// files go (a tmpdir of its own: servers sharing /tmp clash over their temporary tables'
/// names), and a small InnoDB.
fn common_options(dir: &Path) -> Vec<String> {
    let mut options =
        vec![format!("--datadir={}", dir.join("data").display()), format!("--tmpdir={}", dir.join("tmp").display())];
    options.extend(INNODB_OPTIONS.iter().map(|o| (*o).to_owned()));
    options
}

/// `mariadb-install-db`: the system tables, `root` with normal password authentication (not
/// unix_socket, which would tie it to the OS user), no test database.
fn install(install_db: &Path, dir: &Path, run_as: Option<&RunAs>) -> anyhow::Result<()> {
    let tmp = dir.join("tmp");
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    if let Some(user) = run_as {
        std::os::unix::fs::chown(&tmp, Some(user.uid), Some(user.gid))
            .with_context(|| format!("handing {} to {UNPRIVILEGED_USER}", tmp.display()))?;
    }
    let log = dir.join("install.log");
    let log_file = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(install_db);
    // --no-defaults must come first: no my.cnf of the machine's applies.
    command
        .arg("--no-defaults")
        .args(common_options(dir))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
    if run_as.is_some() {
        command.arg(format!("--user={UNPRIVILEGED_USER}"));
    }
    let mut child = command
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().context("the install log")?)
        .stderr(log_file)
        .spawn()
        .with_context(|| format!("running {}; {INSTALL_HINT}", install_db.display()))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for mariadb-install-db")? {
            break status;
        }
        if started.elapsed() > INSTALL_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{} did not finish within {INSTALL_TIMEOUT:?}", install_db.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        bail!("{} exited with {status}: {}", install_db.display(), tail(&text, &["ERROR"]));
    }
    Ok(())
}

/// Starts the server on a free port; (child, socket, port) once it accepts connections.
fn start_server(server: &Path, dir: &Path, run_as: Option<&RunAs>) -> anyhow::Result<(Child, PathBuf, u16)> {
    let port =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).context("finding a free port")?.port();
    let socket = dir.join("mysqld.sock");
    let error_log = dir.join("error.log");
    let _ = std::fs::remove_file(&error_log);
    let mut command = Command::new(server);
    command
        .arg("--no-defaults")
        .args(common_options(dir))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
        .arg(format!("--log-error={}", error_log.display()))
        .arg(format!("--port={port}"))
        // Networking on, but on loopback only; no DNS lookups of clients.
        .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
        // A test's writes need not survive a crash of the machine.
        .arg("--innodb-flush-log-at-trx-commit=2");
    if run_as.is_some() {
        command.arg(format!("--user={UNPRIVILEGED_USER}"));
    }
    let mut child = command
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}; {INSTALL_HINT}", server.display()))?;
    let started = Instant::now();
    loop {
        // The socket appears once the server accepts connections; TCP is bound by then.
        if UnixStream::connect(&socket).is_ok()
            && TcpStream::connect_timeout(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)), Duration::from_millis(200))
                .is_ok()
        {
            return Ok((child, socket, port));
        }
        if let Some(status) = child.try_wait().context("watching mariadbd")? {
            let log = std::fs::read_to_string(&error_log).unwrap_or_default();
            bail!("{} on port {port} exited with {status}: {}", server.display(), tail(&log, &["ERROR"]));
        }
        if started.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{} on port {port} did not accept connections within {START_TIMEOUT:?}", server.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_server_says_how_to_install_it() {
        let err = find(&["wharf-no-such-mariadbd"]).unwrap_err();
        assert!(format!("{err:#}").contains("run .ci/run"), "{err:#}");
        assert!(format!("{err:#}").contains("apt-get install -y mariadb-server php-mysql"), "{err:#}");
    }

    #[test]
    fn data_sources() {
        assert_eq!(
            dsn("host=127.0.0.1;port=3307", "ecshop"),
            "mysql:host=127.0.0.1;port=3307;dbname=ecshop;charset=utf8"
        );
        assert_eq!(dsn("unix_socket=/tmp/x.sock", ""), "mysql:unix_socket=/tmp/x.sock;charset=utf8");
    }

    /// Starts and stops a real server: the directory goes with it, on a panic too.
    #[test]
    fn a_server_starts_and_goes_away_with_its_files() {
        let server = MariaDb::start().expect("starting MariaDB");
        let dir = server.dir().to_owned();
        assert!(server.socket().starts_with(&dir));
        TcpStream::connect(server.addr()).expect("the loopback port accepts");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _server = server;
            panic!("a test fails while its server runs");
        }));
        assert!(panicked.is_err());
        assert!(!dir.exists(), "{} outlived its server", dir.display());
    }
}

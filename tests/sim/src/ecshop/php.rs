//! The PHP side of the ECShop simulator: finding `php`, running SQL through it, and serving the
//! bridge with its built-in web server.
//!
//! The simulator keeps no database library of its own: seeding, changes and read-backs go
//! through `php sql-runner.php` (tests/sim/fixtures/ecshop), the same PDO the bridge uses, on
//! SQLite or on MariaDB.

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Map, Value, json};

/// How to get what the simulator needs, said once for every failure to find it.
pub const INSTALL_HINT: &str = "the ECShop simulator runs the real bridge with PHP: install php-cli php-sqlite3 \
     (Debian/Ubuntu: apt-get install -y php-cli php-sqlite3)";
/// The PHP binary; `WHARF_SIM_PHP` may name another.
const PHP_ENV: &str = "WHARF_SIM_PHP";
const DEFAULT_PHP: &str = "php";
/// How long `php -S` may take to accept connections (it starts in milliseconds; CI machines
/// under load are slower).
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports tried when another process takes the one picked between probing and binding.
const SERVER_START_ATTEMPTS: usize = 3;

/// The PHP binary to run.
pub fn binary() -> String {
    std::env::var(PHP_ENV).ok().filter(|p| !p.is_empty()).unwrap_or_else(|| DEFAULT_PHP.to_owned())
}

/// Checks that PHP runs and has pdo_sqlite, with the install hint when not.
pub fn check_installed() -> anyhow::Result<()> {
    check_extension_at(&binary(), "pdo_sqlite", INSTALL_HINT)
}

/// Checks that PHP runs and has the PDO driver `extension` (`pdo_mysql`, say), with `hint`
/// when not.
pub fn check_extension(extension: &str, hint: &str) -> anyhow::Result<()> {
    check_extension_at(&binary(), extension, hint)
}

fn check_extension_at(php: &str, extension: &str, hint: &str) -> anyhow::Result<()> {
    let output = Command::new(php)
        .args(["-r", &format!("echo extension_loaded('{extension}') ? 'yes' : 'no';")])
        .output()
        .with_context(|| format!("running `{php}` failed; {hint}"))?;
    if !output.status.success() {
        bail!("`{php} -r` exited with {}: {}; {hint}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    if output.stdout != b"yes" {
        bail!("`{php}` has no {extension} extension; {hint}");
    }
    Ok(())
}

/// One SQL statement for the runner: `sql` with `?` parameters, run once per row of `rows`
/// (once without parameters when `rows` is empty).
pub struct Statement {
    pub sql: String,
    pub rows: Vec<Vec<Value>>,
}

impl Statement {
    pub fn once(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Self { sql: sql.into(), rows: vec![params] }
    }

    pub fn many(sql: impl Into<String>, rows: Vec<Vec<Value>>) -> Self {
        Self { sql: sql.into(), rows }
    }
}

/// A database and the runner script that reaches it: a SQLite file, or a MySQL (MariaDB)
/// database by PDO data source and login.
#[derive(Clone, Debug)]
pub struct Database {
    runner: PathBuf,
    dsn: String,
    user: Option<String>,
    password: Option<String>,
    file: Option<PathBuf>,
}

impl Database {
    /// The SQLite database in `file`.
    pub fn sqlite(runner: PathBuf, file: PathBuf) -> Self {
        Self { runner, dsn: format!("sqlite:{}", file.display()), user: None, password: None, file: Some(file) }
    }

    /// The MySQL (MariaDB) database PDO reaches with `dsn` (`mysql:host=…;dbname=…`) as `user`.
    pub fn mysql(runner: PathBuf, dsn: String, user: &str, password: &str) -> Self {
        Self { runner, dsn, user: Some(user.to_owned()), password: Some(password.to_owned()), file: None }
    }

    /// The SQLite file; `None` on MySQL.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The PDO data source.
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    /// Runs `schema` (if any, statement by statement) and then `statements` in one transaction;
    /// per statement, the rows its last run fetched.
    pub fn run(&self, schema: Option<&str>, statements: &[Statement]) -> anyhow::Result<Vec<Vec<Map<String, Value>>>> {
        let request = json!({
            "dsn": self.dsn,
            "user": self.user,
            "password": self.password,
            "schema": schema,
            "statements": statements.iter().map(|s| {
                // A statement with no rows at all still runs once.
                let rows = if s.rows.is_empty() { vec![Vec::new()] } else { s.rows.clone() };
                json!({"sql": s.sql, "rows": rows})
            }).collect::<Vec<_>>(),
        });
        let php = binary();
        let mut child = Command::new(&php)
            .arg(&self.runner)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running `{php}`; {INSTALL_HINT}"))?;
        child
            .stdin
            .take()
            .context("the runner's stdin")?
            .write_all(request.to_string().as_bytes())
            .context("writing the runner's request")?;
        let output = child.wait_with_output().context("waiting for the runner")?;
        if !output.status.success() {
            bail!("the SQL runner failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
        }
        let answer: Value = serde_json::from_slice(&output.stdout).with_context(|| {
            format!("the SQL runner answered non-JSON: {}", String::from_utf8_lossy(&output.stdout))
        })?;
        let results =
            answer.get("results").and_then(Value::as_array).context("the SQL runner's answer has no results")?;
        Ok(results
            .iter()
            .map(|rows| rows.as_array().into_iter().flatten().filter_map(|r| r.as_object().cloned()).collect())
            .collect())
    }

    /// The rows one query fetches.
    pub fn query(&self, sql: &str, params: Vec<Value>) -> anyhow::Result<Vec<Map<String, Value>>> {
        let mut results = self.run(None, &[Statement::once(sql, params)])?;
        Ok(results.pop().unwrap_or_default())
    }

    /// The integer in the first column of the first row `sql` fetches (MySQL hands out
    /// DECIMAL values, such as a SUM, as strings: one of digits counts).
    pub fn scalar(&self, sql: &str, params: Vec<Value>) -> anyhow::Result<i64> {
        let rows = self.query(sql, params)?;
        let value = rows.first().and_then(|r| r.values().next()).with_context(|| format!("{sql}: no rows"))?;
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
            .with_context(|| format!("{sql}: expected an integer, got {value}"))
    }
}

/// `php -S` serving a directory on loopback; killed when dropped.
pub struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Serves `docroot`, logging requests and PHP errors to `log`.
    pub fn start(docroot: &Path, log: &Path) -> anyhow::Result<Self> {
        let mut last_error = None;
        for _ in 0..SERVER_START_ATTEMPTS {
            match Self::start_once(docroot, log) {
                Ok(server) => return Ok(server),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("php -S did not start")))
    }

    fn start_once(docroot: &Path, log: &Path) -> anyhow::Result<Self> {
        // Ask the kernel for a free port, then hand it to PHP (which cannot take port 0).
        let addr = TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).context("finding a free port")?;
        let log_file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let php = binary();
        let mut child = Command::new(&php)
            // The bridge reads its config file on every request; a cached copy would hide a
            // changed token for up to opcache.revalidate_freq. The built-in server is the
            // `cli-server` SAPI, which `opcache.enable_cli` does not cover: switch both off.
            .args(["-d", "opcache.enable=0", "-d", "opcache.enable_cli=0", "-d", "display_errors=stderr", "-S"])
            .arg(addr.to_string())
            .arg("-t")
            .arg(docroot)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().context("the php log")?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting `{php} -S`; {INSTALL_HINT}"))?;
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(Self { child, addr });
            }
            if let Some(status) = child.try_wait().context("watching php -S")? {
                let log_text = std::fs::read_to_string(log).unwrap_or_default();
                bail!("php -S on {addr} exited with {status}: {}", log_text.trim());
            }
            if started.elapsed() > SERVER_START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("php -S on {addr} did not accept connections within {SERVER_START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_php_says_what_to_install() {
        let err = check_extension_at("/nonexistent/php", "pdo_sqlite", INSTALL_HINT).unwrap_err();
        assert!(format!("{err:#}").contains("install php-cli php-sqlite3"), "{err:#}");
    }
}

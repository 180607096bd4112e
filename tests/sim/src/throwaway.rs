//! What the tests' throwaway servers ([`crate::postgres`], [`crate::ecshop::mariadb`]) share:
//! the unprivileged account they run as when the test runs as root (both servers refuse to
//! run as root), a directory of their own that is removed with them, and the lines of their
//! logs worth putting in an error.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;

use crate::serve::wall_ms;

/// The unprivileged account a server runs as when the test runs as root.
pub const UNPRIVILEGED_USER: &str = "nobody";
/// sun_path holds 108 bytes with its terminating NUL.
pub const MAX_SOCKET_PATH: usize = 107;
/// Lines of a log an error shows when the log names no error.
const TAIL_LINES: usize = 15;

/// An account to run a server as: `nobody` (uid, gid) when this process is root, else none.
#[derive(Clone, Copy, Debug)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// [`UNPRIVILEGED_USER`] when this process is root, else `None` (the server runs as us).
pub fn unprivileged_user() -> anyhow::Result<Option<RunAs>> {
    // /proc/self belongs to the process's effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    let entry = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&UNPRIVILEGED_USER) && fields.len() > 3)
        .with_context(|| {
            format!("running as root, the test server needs the unprivileged user {UNPRIVILEGED_USER}, which /etc/passwd lacks")
        })?;
    Ok(Some(RunAs { uid: entry[2].parse().context("nobody's uid")?, gid: entry[3].parse().context("nobody's gid")? }))
}

/// A server's directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new directory `wharf-<kind>-…` under the temporary folder (under /tmp when a server
    /// running as `run_as` could not reach the usual one), handed to `run_as`; refused when
    /// the server's socket `socket_name` in it would not fit a unix socket's path.
    pub fn create(kind: &str, socket_name: &str, run_as: Option<&RunAs>) -> anyhow::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        // The server, as nobody, must reach its directory; /tmp always lets it.
        let base = if run_as.is_some() && !traversable_by_others(&base) { PathBuf::from("/tmp") } else { base };
        let name =
            format!("wharf-{kind}-{}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed), wall_ms());
        let path = base.join(name);
        let socket_len = path.join(socket_name).as_os_str().len();
        anyhow::ensure!(
            socket_len <= MAX_SOCKET_PATH,
            "the socket path under {} is {socket_len} bytes, more than a unix socket takes ({MAX_SOCKET_PATH}); set TMPDIR to a shorter directory",
            base.display()
        );
        std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        let dir = Self(path);
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("setting the mode of {}", dir.0.display()))?;
        if let Some(user) = run_as {
            std::os::unix::fs::chown(&dir.0, Some(user.uid), Some(user.gid))
                .with_context(|| format!("handing {} to {UNPRIVILEGED_USER}", dir.0.display()))?;
        }
        Ok(dir)
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Whether every directory from / down to `dir` lets other users through.
pub fn traversable_by_others(dir: &Path) -> bool {
    dir.ancestors().all(|d| d.metadata().is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// What a log says went wrong, for an error message: its lines at one of `levels`, else its
/// last lines.
pub fn tail(text: &str, levels: &[&str]) -> String {
    let errors: Vec<&str> = text.lines().filter(|l| levels.iter().any(|level| l.contains(level))).collect();
    if !errors.is_empty() {
        return errors.join("\n");
    }
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

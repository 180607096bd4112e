//! The store a benchmark runs on, picked on its command line after `--` (`--store sled` or
//! `--store postgres`): sled in a fresh directory of its own, or a fresh database of its own on
//! one throwaway PostgreSQL server ([`wharf_sim::postgres::Postgres`], on loopback on this
//! machine) that the bench starts once, with the sealing key in a fresh directory. Also the
//! benches' arguments: flags taking a value, and the names of the parts to run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use wharf_runtime::store::Store;
use wharf_sim::postgres::Postgres;

/// The flag picking the backend: `sled` (the default) or `postgres`.
pub const STORE_FLAG: &str = "--store";
/// What `cargo bench` itself passes to a bench with `harness = false`.
const CARGO_BENCH_FLAG: &str = "--bench";

/// A bench's arguments: flags with a value (`--store postgres` or `--store=postgres`), and
/// the rest, the names of the parts to run. Any other flag is refused (a typo would otherwise
/// silently measure something else), but for the `--bench` cargo adds.
pub struct Args {
    values: BTreeMap<String, String>,
    names: Vec<String>,
}

impl Args {
    /// The process's arguments; `valued` are the flags that take a value (with their dashes).
    pub fn parse(valued: &[&str]) -> Self {
        Self::from_iter(std::env::args().skip(1), valued)
    }

    pub fn from_iter(args: impl IntoIterator<Item = String>, valued: &[&str]) -> Self {
        let mut values = BTreeMap::new();
        let mut names = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if let Some((flag, value)) = arg.split_once('=').filter(|(flag, _)| valued.contains(flag)) {
                values.insert(flag.to_owned(), value.to_owned());
            } else if valued.contains(&arg.as_str()) {
                let value = args.next().unwrap_or_else(|| panic!("{arg} takes a value"));
                values.insert(arg, value);
            } else if arg.starts_with('-') {
                assert!(arg == CARGO_BENCH_FLAG, "unknown flag {arg}: this bench takes {}", valued.join(", "));
            } else {
                names.push(arg);
            }
        }
        Args { values, names }
    }

    pub fn value(&self, flag: &str) -> Option<&str> {
        self.values.get(flag).map(String::as_str)
    }

    /// `flag`'s value as a count within `range`, when given; a bench given another stops and
    /// says what it takes.
    pub fn count(&self, flag: &str, range: std::ops::RangeInclusive<usize>) -> Option<usize> {
        self.value(flag).map(|n| {
            n.parse::<usize>()
                .ok()
                .filter(|n| range.contains(n))
                .unwrap_or_else(|| panic!("{flag} {n}: a count from {} to {}", range.start(), range.end()))
        })
    }

    /// The parts named.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether part `name` runs: every part when none is named.
    pub fn wanted(&self, name: &str) -> bool {
        self.names.is_empty() || self.names.iter().any(|n| n == name)
    }

    /// The backend [`STORE_FLAG`] names, sled without it.
    pub fn backend(&self) -> Backend {
        match self.value(STORE_FLAG) {
            None | Some("sled") => Backend::Sled,
            Some("postgres") => Backend::Postgres,
            Some(other) => panic!("{STORE_FLAG} {other}: the stores are sled and postgres"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sled,
    Postgres,
}

/// Where a bench's stores are made; on PostgreSQL, the server, stopped when this is dropped.
pub struct Stores {
    bench: String,
    server: Option<Arc<Postgres>>,
}

impl Stores {
    /// The stores of bench `bench` (which names their directories and databases); on
    /// PostgreSQL, starts the server.
    pub async fn start(backend: Backend, bench: &str) -> Self {
        let server = match backend {
            Backend::Sled => None,
            Backend::Postgres => Some(Arc::new(
                tokio::task::spawn_blocking(Postgres::start)
                    .await
                    .unwrap()
                    .unwrap_or_else(|e| panic!("starting PostgreSQL: {e:#}")),
            )),
        };
        Stores { bench: bench.to_owned(), server }
    }

    /// The backend, for a bench's header line.
    pub fn describe(&self) -> &'static str {
        match self.server {
            None => "sled on disk",
            Some(_) => "PostgreSQL on loopback",
        }
    }

    /// A fresh, empty store for the run `label` (unique within the bench).
    pub async fn open(&self, label: &str) -> BenchStore {
        let dir = std::env::temp_dir().join(format!("wharf-bench-{}-{}-{label}", self.bench, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let Some(server) = self.server.clone() else {
            let store = Store::open(&dir).unwrap_or_else(|e| panic!("opening sled in {}: {e}", dir.display()));
            return BenchStore { store, url: None, dir };
        };
        let database = format!("{}-{label}", self.bench);
        let url = server.url_for(&database);
        std::fs::create_dir_all(&dir).unwrap();
        tokio::task::spawn_blocking(move || server.create_database(&database))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e:#}"));
        let store = open_postgres(&url, &dir).await;
        BenchStore { store, url: Some(url), dir }
    }
}

/// A store of its own (the first node's handle on it); its directory (sled's, or the sealing
/// key's) is removed when dropped.
pub struct BenchStore {
    pub store: Store,
    /// On PostgreSQL, the database's URL.
    url: Option<String>,
    dir: PathBuf,
}

impl BenchStore {
    /// Another node's own handle on the same store, opened as another `wharf serve` of a
    /// cluster opens it: the same database and sealing key, its own connections (and, in a
    /// scheduler, its own node id). PostgreSQL only: sled has one node.
    pub async fn open_node(&self) -> Store {
        let url = self.url.as_deref().expect("more nodes than one need PostgreSQL");
        open_postgres(url, &self.dir).await
    }

    /// Where it is: sled's directory, or the database's URL.
    pub fn location(&self) -> String {
        match &self.url {
            Some(url) => url.clone(),
            None => self.dir.display().to_string(),
        }
    }
}

impl Drop for BenchStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn open_postgres(url: &str, key_dir: &std::path::Path) -> Store {
    let (url, key_dir) = (url.to_owned(), key_dir.to_owned());
    tokio::task::spawn_blocking(move || Store::open_postgres(&url, &key_dir))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("opening the store on PostgreSQL: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Args {
        Args::from_iter(line.split_whitespace().map(str::to_owned), &[STORE_FLAG, "--nodes"])
    }

    #[test]
    fn flag_values_are_not_part_names() {
        let a = args("one --store postgres --nodes=2 latency --bench");
        assert_eq!(a.names(), ["one", "latency"]);
        assert_eq!(a.backend(), Backend::Postgres);
        assert_eq!(a.value("--nodes"), Some("2"));
        assert!(a.wanted("one") && !a.wanted("many"));
        let none = args("--bench --store sled");
        assert!(none.names().is_empty() && none.wanted("many"));
        assert_eq!(none.backend(), Backend::Sled);
        assert_eq!(args("").backend(), Backend::Sled);
    }

    #[test]
    #[should_panic(expected = "unknown flag --node")]
    fn a_mistyped_flag_is_refused() {
        args("--node 2");
    }
}

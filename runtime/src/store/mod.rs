//! Durable state, on sled (embedded, one node) or PostgreSQL (a cluster), behind one interface.
//!
//! The books below are written once against [`backend`], an ordered key-value store of named
//! trees with transactions across trees; which engine keeps them is the operator's choice
//! (`store` in the configuration). One tree per concern:
//! - [`orders`]: canonical orders per tenant with a version and an ERP sync state;
//! - [`after_sales`]: after-sales the same way, each flagged when its parcel must be stopped;
//! - [`pii`]: receivers sealed at rest with a key per tenant;
//! - [`outbox`]: deliveries owed to ERPs, their retries, and the dead-letter queue;
//! - [`cursors`]: where each shop's streams stand;
//! - [`switches`]: module switches, per-SKU overrides, manual holds;
//! - [`pushes`]: updates owed to marketplaces (latest per item, stock versions), their dead letters;
//! - [`quarantine`]: records a plugin could not map, set aside with their reason;
//! - [`catalog`]: each shop's platform ids for the merchant's SKU codes, learned from orders;
//! - [`tokens`]: API tokens, hashed, operator-wide or scoped to a tenant;
//! - [`tenants`]: tenants made over the API, as sealed documents;
//! - [`plugins`]: the plugin registry's versions, activations, pins and grants;
//! - [`audit`]: who changed a switch, a hold, a dead letter, and when;
//! - [`usage`]: what each tenant stores, in bytes, counted as it is written, and its quota.
//!
//! Keys are `tenant \0 …` so every read of a tenant is a prefix scan that cannot see another
//! tenant's rows. What the loops read often (due deliveries and updates, unsynced orders,
//! updates waiting for platform ids, dead letters) is a range read of an index tree kept in
//! the same transaction as the data it indexes; see [`INDEX_SCHEMA`].

pub mod after_sales;
pub mod audit;
pub mod backend;
pub mod catalog;
pub mod commit;
pub mod cursors;
pub mod orders;
pub mod outbox;
pub mod pii;
pub mod plugins;
pub mod pushes;
pub mod quarantine;
pub mod switches;
pub mod tenants;
pub mod tokens;
pub mod usage;
pub mod wakeups;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use backend::Db;

pub use after_sales::{AfterSaleBook, AfterSaleKey, AfterSaleQuery, AfterSaleQueryPage, StoredAfterSale};
pub use audit::{Audit, AuditEntry};
pub use catalog::{Catalog, PlatformSku};
pub use cursors::{Cursors, StreamCursor};
pub use orders::{
    AckOutcome, OrderBook, OrderKey, OrderQuery, OrderQueryPage, StoredOrder, SyncState, Unreadable, Upsert,
};
pub use outbox::{Carries, DeadLetter, Delivery, Outbox, Recorded};
pub use plugins::PluginBook;
pub use pushes::{DeadPush, NewPush, Offer, Push, Pushes, Sent, WaitingFilter, WaitingPage};
pub use quarantine::{Quarantine, Quarantined};
pub use switches::{Gate, Hold, SwitchList, Switches};
pub use tenants::TenantBook;
pub use tokens::{Holder, Scope, Tokens};
pub use usage::Usage;
pub use wakeups::Wakeups;

/// How long [`Store::open`] waits for a lock a just-closed store is releasing: sled's default
/// flush interval is 500 ms; four of them leave margin on a loaded machine.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long reopening a database that failed waits for the store calls in flight on it to end
/// (each takes milliseconds; one that holds on longer makes the reopen wait for the next try,
/// [`commit::RECOVERY_PROBE_EVERY`] later, rather than keep every other call waiting).
pub const REOPEN_WAIT: Duration = Duration::from_secs(1);

/// What the probe writes and syncs in the data folder before a failed database is reopened:
/// one segment of sled's log (sled's default `segment_size`), the unit its log grows by, so a
/// disk that takes the probe takes sled's next write.
pub const PROBE_BYTES: usize = 512 * 1024;

/// The probe's file, beside the database.
const PROBE_FILE: &str = "write-probe.tmp";

/// Where [`Store::next_version`] keeps the last version it issued (in the default tree).
const VERSION_CLOCK: &[u8] = b"version_clock";
/// Where the store records which indexes it keeps (in the default tree).
const SCHEMA_KEY: &[u8] = b"index_schema";
/// Where a shared database keeps the fingerprint of the master key its receivers are sealed
/// with (in the default tree; see [`Store::open_postgres`]).
const KEY_FINGERPRINT: &[u8] = b"master_key_fingerprint";
/// 1: due-time indexes of deliveries and updates, the waiting-for-ids index of updates, the
/// count of updates queued per shop, the unsynced index of orders, and the dead letters by
/// tenant. A store without the marker (new,
/// or written by an older host) has them built on open.
pub const INDEX_SCHEMA: u64 = 1;

/// The environment variable that puts [`Store::temporary`] on a PostgreSQL database (a URL).
pub const TEST_POSTGRES_ENV: &str = "WHARF_TEST_POSTGRES";

/// What can go wrong below the store's interface.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O: {0}")]
    Sled(#[from] sled::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// A write made for work whose lease this node no longer holds (another node took it
    /// over): refused, so two nodes never both write for one shop.
    #[error("lease `{lease}` is no longer this node's: the write is refused (another node runs this work now)")]
    Fenced { lease: String },
    #[error("store tree `{tree}` holds an unreadable value at {key:?}: {reason}")]
    Corrupt { tree: &'static str, key: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "tenant `{tenant}` stores {stored_bytes} bytes, at or over its quota of {} MiB (quota.stored_mib): new orders, \
         updates and imports are refused until deliveries and updates owed are taken, dead letters are discarded, \
         or the quota is raised",
        quota_bytes >> 20
    )]
    OverQuota { tenant: String, stored_bytes: u64, quota_bytes: u64 },
    /// The write may be in memory but is not on disk, so it is not kept.
    #[error("the store cannot write to disk: {0}")]
    NotDurable(String),
}

impl StoreError {
    /// The disk (full, failing) rather than the data: the host recovers once it writes again.
    pub fn is_unwritable(&self) -> bool {
        matches!(self, StoreError::NotDurable(_) | StoreError::Sled(sled::Error::Io(_)))
    }
}

impl<E: Into<StoreError>> From<sled::transaction::TransactionError<E>> for StoreError {
    fn from(e: sled::transaction::TransactionError<E>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e.into(),
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// The host's durable state; cheap to clone (every clone is the same store).
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    /// Where the database lives; `None` for a temporary store (never reopened).
    dir: Option<PathBuf>,
    sealer: pii::Sealer,
    /// The tenants' stored quotas, kept across a reopen (see [`Usage`]).
    quotas: usage::Quotas,
    /// The open database and its trees. Swapped whole when a database that failed is reopened
    /// (see [`commit`]); every store call holds the one it started on until it is done.
    books: RwLock<Arc<Books>>,
    commit: Arc<commit::Commit>,
    /// The loops waiting for due work, kept across a reopen like the quotas.
    wakeups: Wakeups,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.commit.close();
    }
}

/// One open database and its trees.
struct Books {
    db: Db,
    /// A stand-in in memory while reopening the database failed: reads find nothing and no
    /// flush succeeds, so nothing is acknowledged or sent until the real one is back.
    stand_in: bool,
    orders: OrderBook,
    after_sales: AfterSaleBook,
    outbox: Outbox,
    cursors: Cursors,
    switches: Switches,
    pushes: Pushes,
    audit: Audit,
    catalog: Catalog,
    quarantine: Quarantine,
    tokens: Tokens,
    tenants: TenantBook,
    plugins: PluginBook,
    usage: Usage,
}

impl Books {
    /// The books of `db`; `quotas` are the tenants' stored quotas, shared by every database
    /// the store opens (they come from the configuration, not the disk).
    fn new(
        db: Db,
        sealer: pii::Sealer,
        stand_in: bool,
        quotas: usage::Quotas,
        wakeups: &Wakeups,
    ) -> Result<Self, StoreError> {
        let usage = Usage::open(&db, quotas)?;
        let tenants = TenantBook::new(db.open_tree(tenants::TREE)?, sealer.clone());
        let plugins = PluginBook::new(db.open_tree(plugins::TREE)?, db.open_tree(plugins::BLOBS)?);
        let orders = OrderBook::new(
            db.open_tree(orders::TREE)?,
            db.open_tree(orders::UNSYNCED)?,
            db.open_tree(orders::VERSIONS)?,
            sealer,
            usage.clone(),
        );
        let after_sales =
            AfterSaleBook::new(db.open_tree(after_sales::TREE)?, db.open_tree(after_sales::UNSYNCED)?, usage.clone());
        let outbox = Outbox::new(&db, usage.clone(), wakeups.clone())?;
        let cursors = Cursors::new(db.open_tree(cursors::TREE)?);
        let switches = Switches::new(db.open_tree(switches::TREE)?);
        let pushes = Pushes::new(&db, usage.clone(), wakeups.clone())?;
        let audit = Audit::new(&db)?;
        let catalog = Catalog::new(db.open_tree(catalog::TREE)?, pushes.clone());
        let quarantine = Quarantine::new(db.open_tree(quarantine::TREE)?, usage.clone());
        let tokens = Tokens::new(db.open_tree(tokens::TREE)?);
        let books = Books {
            db,
            stand_in,
            orders,
            after_sales,
            outbox,
            cursors,
            switches,
            pushes,
            audit,
            catalog,
            quarantine,
            tokens,
            tenants,
            plugins,
            usage,
        };
        books.migrate()?;
        Ok(books)
    }

    /// Brings a store written by an older host up to [`INDEX_SCHEMA`]: builds the indexes it
    /// did not keep, once, then records the schema so later opens skip this.
    fn migrate(&self) -> Result<(), StoreError> {
        let at = self
            .db
            .default_tree()
            .get(SCHEMA_KEY)?
            .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
            .map_or(0, u64::from_be_bytes);
        if at >= INDEX_SCHEMA {
            return Ok(());
        }
        let started = std::time::Instant::now();
        self.orders.rebuild_index()?;
        self.outbox.rebuild_indexes()?;
        self.pushes.rebuild_indexes()?;
        self.db.default_tree().insert(SCHEMA_KEY, &INDEX_SCHEMA.to_be_bytes())?;
        self.db.flush()?;
        if !self.db.was_recovered() && at == 0 {
            return Ok(()); // a new store: nothing was there to index
        }
        tracing::info!(from = at, to = INDEX_SCHEMA, ms = started.elapsed().as_millis() as u64, "store indexes built");
        Ok(())
    }
}

/// One of the store's books, as a store call uses it. It keeps the database it belongs to
/// open, so hold it for a call, not longer: a database that failed is reopened only once no
/// handle on it is left.
pub struct Held<T: 'static> {
    books: Arc<Books>,
    pick: fn(&Books) -> &T,
}

impl<T> std::ops::Deref for Held<T> {
    type Target = T;

    fn deref(&self) -> &T {
        (self.pick)(&self.books)
    }
}

/// Opens the sled database in `dir`, waiting up to [`LOCK_WAIT`] for a lock this process is
/// releasing (a store closed a moment ago, or a failed database being reopened).
fn open_db(dir: &Path) -> Result<Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled::open(dir) {
            Ok(db) => return Ok(Db::Sled(db)),
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether the data folder takes a write of [`PROBE_BYTES`], synced, again.
fn probe(dir: &Path) -> Result<(), String> {
    use std::io::Write as _;
    let path = dir.join(PROBE_FILE);
    let written = std::fs::File::create(&path).and_then(|mut f| {
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&path);
    written.map_err(|e| format!("the data folder {} takes no writes yet: {e}", dir.display()))
}

impl Shared {
    fn current(&self) -> Arc<Books> {
        self.books.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Flushes the open database, now, on this thread.
    fn flush_now(&self) -> Result<(), StoreError> {
        let books = self.current();
        if books.stand_in {
            return Err(StoreError::NotDurable("the database could not be reopened yet".into()));
        }
        books.db.flush()?;
        Ok(())
    }

    /// Replaces a database that failed with the same one read back from disk, once the disk
    /// takes writes again. Every flush waited on until then fails (their writes went to the
    /// failed database); store calls wait meanwhile, for as long as sled's recovery takes.
    fn reopen(&self, commit: &commit::Commit) -> Result<(), String> {
        // A database server keeps its own state: once it answers again, so does the store.
        if let Db::Postgres(db) = &self.current().db {
            return db.ping().map_err(|e| e.to_string());
        }
        let Some(dir) = &self.dir else { return Err("a temporary store is never reopened".into()) };
        probe(dir)?;
        let mut slot = self.books.write().unwrap_or_else(|p| p.into_inner());
        let deadline = std::time::Instant::now() + REOPEN_WAIT;
        while Arc::strong_count(&slot) > 1 {
            if std::time::Instant::now() >= deadline {
                return Err(format!("store calls still hold the failed database after {REOPEN_WAIT:?}"));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        commit.fail_everything_so_far("the store could not write to disk; this write was lost when it was reopened");
        let stand_in = || -> Result<Books, String> {
            let db = sled::Config::new().temporary(true).open().map_err(|e| e.to_string())?;
            Books::new(Db::Sled(db), self.sealer.clone(), true, self.quotas.clone(), &self.wakeups)
                .map_err(|e| e.to_string())
        };
        // The failed database must be closed (its file lock released) before it opens again.
        *slot = Arc::new(stand_in()?);
        let reopened =
            open_db(dir).and_then(|db| Books::new(db, self.sealer.clone(), false, self.quotas.clone(), &self.wakeups));
        match reopened {
            Ok(books) => {
                *slot = Arc::new(books);
                Ok(())
            }
            Err(e) => Err(format!("reopening the store in {} failed: {e}", dir.display())),
        }
    }
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    ///
    /// A store closed a moment ago by this same process may still hold its file lock until
    /// sled's background flusher notices (one flush interval); opening waits up to
    /// [`LOCK_WAIT`] for it rather than failing a restart.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = open_db(dir)?;
        Self::with(Some(dir.to_owned()), db, pii::Sealer::in_dir(dir)?)
    }

    /// A store that lives in memory only, for tests; or, when [`TEST_POSTGRES_ENV`] names a
    /// PostgreSQL database, in a schema of its own there, so the same tests run on both
    /// backends (`tests/run` runs the store's and the engine's tests again that way).
    pub fn temporary() -> Result<Self, StoreError> {
        if let Ok(url) = std::env::var(TEST_POSTGRES_ENV) {
            let db = Db::Postgres(backend::postgres::Db::open_temporary(&url)?);
            return Self::with(None, db, pii::Sealer::random());
        }
        Self::with(None, Db::Sled(sled::Config::new().temporary(true).open()?), pii::Sealer::random())
    }

    /// Opens the store on the PostgreSQL database at `url` (migrated first), shared with the
    /// other nodes of a cluster. Receivers are sealed with the master key in `key_dir`, which
    /// every node must share: the database remembers a fingerprint of the key it was first
    /// opened with and refuses a node with another one (it could not read what the others
    /// sealed).
    pub fn open_postgres(url: &str, key_dir: &Path) -> Result<Self, StoreError> {
        let db = Db::Postgres(backend::postgres::Db::open(url)?);
        let sealer = pii::Sealer::in_dir(key_dir)?;
        let fingerprint = sealer.fingerprint();
        let bookkeeping = db.default_tree();
        match bookkeeping.get(KEY_FINGERPRINT)? {
            None => {
                bookkeeping.insert(KEY_FINGERPRINT, &fingerprint[..])?;
            }
            Some(known) if known.as_ref() == fingerprint.as_slice() => {}
            Some(_) => {
                return Err(StoreError::Invalid(format!(
                    "the master key in {} ({}) is not the one this database's receivers are sealed with: \
                     copy that file from the data_dir of a node already on this database",
                    key_dir.display(),
                    pii::KEY_FILE
                )));
            }
        }
        Self::with(None, db, sealer)
    }

    /// Whether other nodes share this store (PostgreSQL): what they change, this node must
    /// read again rather than keep in memory.
    pub fn is_shared(&self) -> bool {
        matches!(self.shared.current().db, Db::Postgres(_))
    }

    /// The database under the books (for the cluster's leases).
    pub fn database(&self) -> Db {
        self.shared.current().db.clone()
    }

    fn with(dir: Option<PathBuf>, db: Db, sealer: pii::Sealer) -> Result<Self, StoreError> {
        let quotas = usage::Quotas::default();
        let wakeups = Wakeups::default();
        let books = Books::new(db, sealer.clone(), false, quotas.clone(), &wakeups)?;
        let commit = commit::Commit::new();
        let books = RwLock::new(Arc::new(books));
        let shared = Arc::new(Shared { dir, sealer, quotas, books, commit: commit.clone(), wakeups });
        commit::spawn(commit, Arc::downgrade(&shared));
        Ok(Store { shared })
    }

    fn held<T>(&self, pick: fn(&Books) -> &T) -> Held<T> {
        Held { books: self.shared.current(), pick }
    }

    pub fn orders(&self) -> Held<OrderBook> {
        self.held(|b| &b.orders)
    }

    pub fn after_sales(&self) -> Held<AfterSaleBook> {
        self.held(|b| &b.after_sales)
    }

    pub fn outbox(&self) -> Held<Outbox> {
        self.held(|b| &b.outbox)
    }

    pub fn cursors(&self) -> Held<Cursors> {
        self.held(|b| &b.cursors)
    }

    pub fn switches(&self) -> Held<Switches> {
        self.held(|b| &b.switches)
    }

    /// The signals of the loops that wait for due work ([`wakeups`]).
    pub fn wakeups(&self) -> &Wakeups {
        &self.shared.wakeups
    }

    pub fn pushes(&self) -> Held<Pushes> {
        self.held(|b| &b.pushes)
    }

    /// What each tenant stores, and its quota.
    pub fn usage(&self) -> Held<Usage> {
        self.held(|b| &b.usage)
    }

    pub fn tokens(&self) -> Held<Tokens> {
        self.held(|b| &b.tokens)
    }

    pub fn catalog(&self) -> Held<Catalog> {
        self.held(|b| &b.catalog)
    }

    pub fn quarantine(&self) -> Held<Quarantine> {
        self.held(|b| &b.quarantine)
    }

    pub fn tenants(&self) -> Held<TenantBook> {
        self.held(|b| &b.tenants)
    }

    pub fn plugins(&self) -> Held<PluginBook> {
        self.held(|b| &b.plugins)
    }

    pub fn audit(&self) -> Held<Audit> {
        self.held(|b| &b.audit)
    }

    /// A number no earlier call returned, growing across restarts: the arrival order of
    /// updates whose sender gave them no version.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        self.shared.current().db.generate_id()
    }

    /// The version of an update whose sender gave none: the time it arrived in UTC
    /// milliseconds, or one more than the last such version when that is later (two in the
    /// same millisecond, or a clock stepped back). Time-based, like the versions ERPs such as
    /// SAP give their stock (the pull's time), so a figure typed in by hand and a figure the
    /// ERP sends later compare by when they were made.
    pub fn next_version(&self, now_ms: i64) -> Result<u64, StoreError> {
        let now = u64::try_from(now_ms).unwrap_or_default();
        let issued = self.shared.current().db.default_tree().update_and_fetch(VERSION_CLOCK, |old| {
            let last = old.and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_be_bytes);
            Some(now.max(last + 1).to_be_bytes().to_vec())
        })?;
        Ok(issued.and_then(|b| <[u8; 8]>::try_from(&b[..]).ok()).map_or(now, u64::from_be_bytes))
    }

    /// The open database, for tests that write below the books.
    #[cfg(test)]
    pub(crate) fn db(&self) -> Db {
        self.shared.current().db.clone()
    }

    /// Waits until everything written so far is on disk, on this thread.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.shared.flush_now()
    }

    /// Resolves once everything written before this call is on disk (a group commit: see
    /// [`commit`]), or with [`StoreError::NotDurable`] when it could not be written. What the
    /// host acknowledges, or sends to an ERP, waits for this first. The flush runs on the
    /// store's own thread, never on an async worker.
    pub fn durable(&self) -> impl Future<Output = Result<(), StoreError>> + Send + 'static {
        let commit = self.shared.commit.clone();
        let ticket = commit.ticket();
        async move { commit.wait(ticket).await }
    }

    /// [`Store::durable`] for code already off the async workers: blocks the thread.
    pub fn durable_blocking(&self) -> Result<(), StoreError> {
        let commit = &self.shared.commit;
        commit.wait_blocking(commit.ticket())
    }

    /// Why the store cannot write now (the last flush failed, and the disk has not taken a
    /// write since); `None` while it writes.
    pub fn unwritable(&self) -> Option<String> {
        self.shared.commit.unwritable()
    }
}

/// The keys of unreadable records already logged: each is logged once per process, not at
/// every query that skips it.
#[derive(Clone, Default)]
pub(crate) struct LoggedOnce(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<Vec<u8>>>>);

impl LoggedOnce {
    /// Whether `key` is seen for the first time (and so worth a log line).
    pub(crate) fn first(&self, key: &[u8]) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(key.to_vec())
    }
}

/// `parts` joined with NUL, the separator no id may contain.
pub(crate) fn key(parts: &[&str]) -> Result<Vec<u8>, StoreError> {
    if let Some(bad) = parts.iter().find(|p| p.contains('\0')) {
        return Err(StoreError::Invalid(format!("key part {bad:?} contains a NUL byte")));
    }
    Ok(parts.join("\0").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OrderStatus, Timestamp};
    use crate::store::orders::tests::order;

    /// A data dir written before the indexes existed: its queues, letters and unsynced orders
    /// are found by the indexes once it is opened.
    #[test]
    fn a_store_without_indexes_gets_them_on_open() {
        let dir = std::env::temp_dir().join(format!("wharf-store-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = Store::open(&dir).unwrap();
            store.record_order("acme", &order("1", OrderStatus::Paid, 0), Timestamp(0), Some("webhook")).unwrap();
            store.record_order("acme", &order("2", OrderStatus::Paid, 0), Timestamp(0), Some("webhook")).unwrap();
            let k = OrderKey::of(&order("2", OrderStatus::Paid, 0));
            assert_eq!(store.orders().ack("acme", &k, 1).unwrap(), AckOutcome::Synced);
            let d = store.outbox().due("acme", "webhook", 0, 10).unwrap().remove(0);
            store.outbox().dead_letter(&d, "400", 1).unwrap();
            let new = |sku| NewPush {
                tenant: "acme",
                shop: "tb",
                module: "stock",
                item: sku,
                record: serde_json::json!({"outer_sku_id": sku, "quantity": 1}),
                version: Some(1),
            };
            store.pushes().offer(new("A"), 0).unwrap();
            store.pushes().offer(new("B"), 0).unwrap();
            // What an older host left: no index trees, no schema marker.
            for tree in [
                orders::UNSYNCED,
                outbox::DUE,
                outbox::DEAD_BY_TENANT,
                pushes::DUE,
                pushes::WAITING,
                pushes::DEAD_BY_TENANT,
                pushes::COUNTS,
            ] {
                assert!(store.db().drop_tree(tree).unwrap(), "{tree}");
            }
            store.db().default_tree().remove(SCHEMA_KEY).unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(
            store.db().default_tree().get(SCHEMA_KEY).unwrap().as_deref(),
            Some(&INDEX_SCHEMA.to_be_bytes()[..])
        );
        assert_eq!(store.pushes().due("acme", "tb", "stock", 0, 10).unwrap().len(), 2);
        assert_eq!(store.pushes().pending_count("acme", "tb").unwrap(), 2);
        assert_eq!(store.outbox().dead_letters("acme").unwrap().len(), 1);
        assert_eq!(store.outbox().due("acme", "webhook", 0, 10).unwrap().len(), 1);
        let unsynced = store.orders().query("acme", &OrderQuery::default()).unwrap();
        assert_eq!(unsynced.orders.iter().map(|o| o.order.order_id.as_str()).collect::<Vec<_>>(), ["1"]);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

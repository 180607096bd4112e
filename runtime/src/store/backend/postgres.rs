//! The store's trees on PostgreSQL, for clusters: every node opens the same database.
//!
//! One table holds every tree (`wharf_kv`: tree, key, value; keys compare bytewise, as in
//! sled), so each book means on PostgreSQL exactly what it means on sled. A transaction across
//! keys runs `SERIALIZABLE`, retried on a serialization failure the way sled retries a
//! conflicting transaction, so two nodes writing one key behave as two threads do on sled; a
//! write of one key outside a transaction is one atomic statement (or row lock and write).
//! A commit is durable when it returns (`synchronous_commit` as the server has it, on by
//! default), so the store's group commit has nothing to wait for.
//!
//! The store's interface is synchronous (sled answers in microseconds). The `postgres`
//! client runs a runtime of its own, which cannot run on tokio's workers; so each call runs
//! on a small pool of threads of this database's own, each with its own connection, and the
//! caller waits for it as it waits for a disk.
//!
//! The schema is migrated on open, under an advisory lock, so nodes starting together apply
//! each migration once; a database migrated by a newer host is refused rather than guessed at.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, IsolationLevel, NoTls, Statement};

use super::{Bytes, Fence, TxError, TxResult, current_fence};
use crate::store::StoreError;

/// The tree the store keeps its own bookkeeping in (sled's default tree).
pub const DEFAULT_TREE: &str = "";

/// Connections (and threads) per node: store calls are short, and a tenant's loops make one
/// at a time, so a few serve hundreds of shops; PostgreSQL's default `max_connections` (100)
/// leaves room for a dozen nodes.
pub const POOL_CONNECTIONS: usize = 8;

/// Rows a range read fetches first, and the most it fetches at once: most reads take the
/// first few entries of an index (`due`, `take(limit)`), a few walk a whole tree; doubling
/// from small to large keeps both cheap.
const FIRST_PAGE: i64 = 64;
const MAX_PAGE: i64 = 1024;

/// How often a transaction that keeps meeting other writers runs again before the call
/// fails (sled retries without bound; a bound turns a livelock into an error that says so).
const CONFLICT_RETRIES: u32 = 100;

/// How long connecting may take before the database counts as unreachable: a server on the
/// same network answers in milliseconds; a host that drops packets would otherwise hold a
/// store call for the system's TCP timeout (minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The isolation of a write to one key (or one tree's clear) outside a transaction: one
/// statement, or a row locked then written, is atomic under read committed, and writers of one
/// hot key (a tenant's stored-bytes figure) queue on its row lock instead of failing each
/// other's serialization and retrying. Transactions across keys are `SERIALIZABLE`.
const ONE_KEY: IsolationLevel = IsolationLevel::ReadCommitted;

/// The advisory lock nodes take to migrate one at a time ("wharf" in ASCII).
const MIGRATION_LOCK: i64 = 0x77_6861_7266;

/// The schema, one migration per step, applied in order and recorded in `wharf_schema`.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "the store's trees, and the id sequence",
        // A new database keeps the store's indexes and per-tenant figures from its first write,
        // so it is marked as having them (`index_schema` 1, `stored_bytes` counted): nodes
        // starting together never rebuild them under each other's writes.
        "CREATE TABLE wharf_kv (tree text NOT NULL, key bytea NOT NULL, value bytea NOT NULL, PRIMARY KEY (tree, key));
         CREATE SEQUENCE wharf_ids;
         INSERT INTO wharf_kv VALUES ('', 'index_schema', '\\x0000000000000001'::bytea);
         INSERT INTO wharf_kv VALUES ('stored_bytes', '\\xff'::bytea || 'counted'::bytea, '\\x01'::bytea);",
    ),
    (
        2,
        "leases on work (a shop's loops, a tenant's deliveries), with fencing tokens",
        "CREATE TABLE wharf_leases (name text PRIMARY KEY, owner text NOT NULL, token bigint NOT NULL,
             expires_at timestamptz NOT NULL);",
    ),
];

const GET: &str = "SELECT value FROM wharf_kv WHERE tree = $1 AND key = $2";
/// Several keys of one tree in one round trip.
const GET_MANY: &str = "SELECT key, value FROM wharf_kv WHERE tree = $1 AND key = ANY($2)";
const GET_FOR_UPDATE: &str = "SELECT value FROM wharf_kv WHERE tree = $1 AND key = $2 FOR UPDATE";
/// Writes and hands back what it replaced: the CTE reads the row as it was before the upsert.
const INSERT: &str = "WITH old AS (SELECT value FROM wharf_kv WHERE tree = $1 AND key = $2),
     up AS (INSERT INTO wharf_kv (tree, key, value) VALUES ($1, $2, $3)
            ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value)
     SELECT value FROM old";
const REMOVE: &str = "DELETE FROM wharf_kv WHERE tree = $1 AND key = $2 RETURNING value";
/// A transaction's writes to one tree, sent at its commit (keys sorted, each once).
const UPSERT_MANY: &str =
    "INSERT INTO wharf_kv (tree, key, value) SELECT $1::text, k, v FROM unnest($2::bytea[], $3::bytea[]) AS w(k, v)
     ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value";
const REMOVE_MANY: &str = "DELETE FROM wharf_kv WHERE tree = $1 AND key = ANY($2)";
const NEXT_ID: &str = "SELECT nextval('wharf_ids')";
const FENCE_CHECK: &str =
    "SELECT 1 FROM wharf_leases WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > now() FOR SHARE";

thread_local! {
    /// The connection of this pool thread (each thread belongs to one database's pool).
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

struct Connection {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl Connection {
    /// Connects, or says the database cannot be reached: a server down or unreachable is the
    /// store not taking writes now (`/readyz` says so), not a fault of the data.
    fn open(url: &str) -> Result<Self, StoreError> {
        let mut config: postgres::Config =
            url.parse().map_err(|e| StoreError::Invalid(format!("the store's PostgreSQL URL: {e}")))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let client =
            config.connect(NoTls).map_err(|e| StoreError::NotDurable(format!("PostgreSQL cannot be reached: {e}")))?;
        Ok(Connection { client, statements: HashMap::new() })
    }
}

/// A prepared statement for `sql` on this connection, prepared once.
fn prepared(
    client: &mut impl postgres::GenericClient,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, postgres::Error> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql)?;
    cache.insert(sql.to_owned(), s.clone());
    Ok(s)
}

/// A conflict with another writer (run again) or anything else (give up).
fn tx_error(e: postgres::Error) -> TxError {
    match e.code() {
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            TxError::Conflict
        }
        _ => TxError::Abort(store_error(e)),
    }
}

pub(crate) fn store_error(e: postgres::Error) -> StoreError {
    // Class 53 (insufficient resources: disk full, out of memory) and a lost connection are
    // the database not taking writes now, as a full disk is for sled.
    let unwritable =
        e.is_closed() || e.code().is_some_and(|c| c.code().starts_with("53") || c.code().starts_with("08"));
    if unwritable { StoreError::NotDurable(format!("PostgreSQL: {e}")) } else { StoreError::Postgres(e.to_string()) }
}

/// Runs `op`, which waits for the database. On a worker of a multi-threaded tokio runtime (the
/// sync loops run on the sandbox's, where plugin calls run), the worker's other tasks move to
/// another thread meanwhile: a round trip blocks its caller, not the calls queued behind it
/// (with them blocked, half of a hundred shops' first calls ran out their deadline).
fn waiting<R>(op: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(op),
        _ => op(),
    }
}

/// One PostgreSQL database, shared by every node; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    pool: rayon::ThreadPool,
}

impl Db {
    /// Connects to `url` (`postgres://user@host:port/db`), migrates the schema, and starts
    /// the pool of connections.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(POOL_CONNECTIONS)
            .thread_name(|i| format!("wharf-pg-{i}"))
            // Closed while the thread is whole: a client dropped with the thread's locals would
            // run its runtime after the runtime's own locals are gone.
            .exit_handler(|_| CONNECTION.with(|c| drop(c.borrow_mut().take())))
            .build()
            .map_err(|e| StoreError::Invalid(format!("starting the PostgreSQL pool: {e}")))?;
        let db = Db { inner: Arc::new(Inner { url: url.to_owned(), pool }) };
        db.run(|c| migrate(&mut c.client))?;
        Ok(db)
    }

    /// A database of its own inside the one at `url`: a new schema, every connection's
    /// `search_path`; for tests, so each gets empty trees on one server. Left behind when
    /// dropped (the test's server is thrown away whole).
    pub fn open_temporary(url: &str) -> Result<Self, StoreError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let schema = format!("wharf_t{}_{n}_{}", std::process::id(), nanos % 1_000_000_000);
        // On a thread of its own: the client's runtime cannot start on one of tokio's.
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    Connection::open(url)?.client.batch_execute(&format!("CREATE SCHEMA {schema}")).map_err(store_error)
                })
                .join()
                .unwrap_or_else(|_| Err(StoreError::Postgres("creating a test schema panicked".into())))
        })?;
        let separator = if url.contains('?') { '&' } else { '?' };
        Self::open(&format!("{url}{separator}options=-c%20search_path%3D{schema}"))
    }

    pub fn open_tree(&self, name: &str) -> Tree {
        Tree { db: self.clone(), name: Arc::from(name) }
    }

    /// Runs `op` on a pool thread's connection (opened, or opened again after it broke).
    fn run<R: Send>(&self, op: impl FnOnce(&mut Connection) -> Result<R, StoreError> + Send) -> Result<R, StoreError> {
        let url = &self.inner.url;
        waiting(|| {
            self.inner.pool.install(|| {
                CONNECTION.with(|cell| match cell.try_borrow_mut() {
                    Ok(mut slot) => {
                        if slot.as_ref().is_none_or(|c| c.client.is_closed()) {
                            *slot = Some(Connection::open(url)?);
                        }
                        let connection = slot.as_mut().expect("opened above");
                        let result = op(connection);
                        if connection.client.is_closed() {
                            *slot = None; // the next call connects again
                        }
                        result
                    }
                    // A call made from inside a transaction's body on this thread: a connection of
                    // its own, outside the transaction (as a plain call inside a sled transaction).
                    Err(_) => op(&mut Connection::open(url)?),
                })
            })
        })
    }

    /// Runs `body` in a transaction at `isolation`, again after each serialization failure,
    /// with the task's [`Fence`] checked (and held) first.
    fn write<R: Send>(
        &self,
        isolation: IsolationLevel,
        body: impl Fn(&mut postgres::Transaction<'_>, &mut HashMap<String, Statement>) -> TxResult<R> + Send + Sync,
    ) -> Result<R, StoreError> {
        let fence = current_fence();
        self.run(move |c| {
            let mut attempt = 0;
            loop {
                let result = (|| {
                    let mut tx = c.client.build_transaction().isolation_level(isolation).start().map_err(tx_error)?;
                    if let Some(fence) = &fence {
                        check_fence(&mut tx, &mut c.statements, fence)?;
                    }
                    let r = body(&mut tx, &mut c.statements)?;
                    tx.commit().map_err(tx_error)?;
                    Ok(r)
                })();
                match result {
                    Ok(r) => return Ok(r),
                    Err(TxError::Abort(e)) => return Err(e),
                    Err(TxError::Conflict) if attempt < CONFLICT_RETRIES => {
                        attempt += 1;
                        // Let the other writer finish: a little longer each time, up to 50 ms.
                        std::thread::sleep(Duration::from_micros(500 * u64::from(attempt.min(100))));
                    }
                    Err(TxError::Conflict) => {
                        return Err(StoreError::Postgres(format!(
                            "a transaction met other writers {CONFLICT_RETRIES} times in a row"
                        )));
                    }
                }
            }
        })
    }

    /// [`super::Transactional::transaction`] on this database.
    pub fn transaction<R: Send>(
        &self,
        body: impl Fn(&Tx<'_, '_>) -> TxResult<R> + Send + Sync,
    ) -> Result<R, StoreError> {
        self.write(IsolationLevel::Serializable, |tx, statements| {
            let tx = Tx::new(tx, statements);
            let r = body(&tx)?;
            tx.flush()?;
            Ok(r)
        })
    }

    /// Whether the database answers now: what the store's commit thread asks instead of a
    /// flush (each commit was durable already), so `/readyz` turns 503 while the database is
    /// away and 200 once it is back.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.run(|c| c.client.simple_query("SELECT 1").map(drop).map_err(store_error))
    }

    pub fn generate_id(&self) -> Result<u64, StoreError> {
        self.run(|c| {
            let s = prepared(&mut c.client, &mut c.statements, NEXT_ID).map_err(store_error)?;
            let id: i64 = c.client.query_one(&s, &[]).map_err(store_error)?.get(0);
            Ok(id as u64)
        })
    }

    /// Takes lease `name` for `owner` for `ttl` when it is free, expired, or `owner`'s
    /// already; its new fencing token, or `None` while another owner holds it. The database's
    /// clock decides expiry, so nodes' clocks need not agree.
    pub fn acquire_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<Option<i64>, StoreError> {
        let ms = ttl.as_millis() as f64;
        self.run(|c| {
            let row = c
                .client
                .query_opt(
                    "INSERT INTO wharf_leases (name, owner, token, expires_at)
                     VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
                     ON CONFLICT (name) DO UPDATE
                        SET owner = EXCLUDED.owner, token = wharf_leases.token + 1, expires_at = EXCLUDED.expires_at
                        WHERE wharf_leases.expires_at < now() OR wharf_leases.owner = EXCLUDED.owner
                     RETURNING token",
                    &[&name, &owner, &ms],
                )
                .map_err(store_error)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    /// Extends lease `name` held by `owner` with `token`; `false` when it is no longer held
    /// (expired, or taken over), in which case the work it covers must stop.
    pub fn renew_lease(&self, name: &str, owner: &str, token: i64, ttl: Duration) -> Result<bool, StoreError> {
        let ms = ttl.as_millis() as f64;
        self.run(|c| {
            let n = c
                .client
                .execute(
                    "UPDATE wharf_leases SET expires_at = now() + $4 * interval '1 millisecond'
                     WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > now()",
                    &[&name, &owner, &token, &ms],
                )
                .map_err(store_error)?;
            Ok(n == 1)
        })
    }

    /// Extends every live lease `owner` holds, in one statement; the leases renewed, with
    /// their tokens. A lease missing from the answer is no longer `owner`'s.
    pub fn renew_leases(&self, owner: &str, ttl: Duration) -> Result<HashMap<String, i64>, StoreError> {
        let ms = ttl.as_millis() as f64;
        self.run(|c| {
            let rows = c
                .client
                .query(
                    "UPDATE wharf_leases SET expires_at = now() + $2 * interval '1 millisecond'
                     WHERE owner = $1 AND expires_at > now() RETURNING name, token",
                    &[&owner, &ms],
                )
                .map_err(store_error)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// Gives lease `name` up at once (a graceful stop), so another node need not wait for it
    /// to expire.
    pub fn release_lease(&self, name: &str, owner: &str, token: i64) -> Result<(), StoreError> {
        self.run(|c| {
            c.client
                .execute(
                    "UPDATE wharf_leases SET expires_at = now() - interval '1 millisecond'
                     WHERE name = $1 AND owner = $2 AND token = $3",
                    &[&name, &owner, &token],
                )
                .map_err(store_error)?;
            Ok(())
        })
    }

    /// Every lease and its owner, live or not: `(name, owner, token, live)`.
    pub fn leases(&self) -> Result<Vec<(String, String, i64, bool)>, StoreError> {
        self.run(|c| {
            let rows = c
                .client
                .query("SELECT name, owner, token, expires_at > now() FROM wharf_leases ORDER BY name", &[])
                .map_err(store_error)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
        })
    }
}

fn check_fence(
    tx: &mut postgres::Transaction<'_>,
    statements: &mut HashMap<String, Statement>,
    fence: &Fence,
) -> TxResult<()> {
    let Some(token) = fence.token() else {
        return Err(TxError::Abort(StoreError::Fenced { lease: fence.lease.clone() }));
    };
    let s = prepared(tx, statements, FENCE_CHECK).map_err(tx_error)?;
    match tx.query_opt(&s, &[&fence.lease, &fence.owner, &token]).map_err(tx_error)? {
        Some(_) => Ok(()),
        None => {
            fence.set(None);
            Err(TxError::Abort(StoreError::Fenced { lease: fence.lease.clone() }))
        }
    }
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(store_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(store_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS wharf_schema (version integer PRIMARY KEY, description text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .map_err(store_error)?;
    let at: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM wharf_schema", &[]).map_err(store_error)?.get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if at > known {
        return Err(StoreError::Invalid(format!(
            "the database's schema is at version {at}, written by a newer Wharf; this host knows up to {known}: \
             run the newer version, or restore the database from before it"
        )));
    }
    for (version, description, sql) in MIGRATIONS.iter().filter(|m| m.0 > at) {
        tx.batch_execute(sql).map_err(store_error)?;
        tx.execute("INSERT INTO wharf_schema (version, description) VALUES ($1, $2)", &[version, description])
            .map_err(store_error)?;
        tracing::info!(version, description, "PostgreSQL schema migrated");
    }
    tx.commit().map_err(store_error)
}

/// A key of one tree: (tree, key).
type Slot = (String, Vec<u8>);

/// A transaction in progress, shared by the trees taking part in it.
///
/// Writes are not sent as they are made: the transaction keeps what each key it has read or
/// written holds now, answers reads of those keys itself, and sends every write at commit,
/// one statement per tree for the upserts and one for the removals. A settle of 100
/// deliveries was five round trips per delivery on a server that shares the host's cores; it is
/// now a handful per batch (with [`TxTree::prefetch`] for the keys it reads). Nothing changes
/// for the other writers: the writes still commit together, or not at all, under
/// `SERIALIZABLE`.
pub struct Tx<'t, 'c> {
    inner: RefCell<(&'t mut postgres::Transaction<'c>, &'t mut HashMap<String, Statement>)>,
    /// What each key read or written holds as this transaction sees it (`None`: absent).
    known: RefCell<HashMap<Slot, Option<Bytes>>>,
    /// The keys written, each with the value it ends with, in key order (the order writes
    /// reach the server, so two transactions writing the same keys lock them in one order).
    written: RefCell<BTreeMap<Slot, Option<Bytes>>>,
}

impl<'t, 'c> Tx<'t, 'c> {
    fn new(tx: &'t mut postgres::Transaction<'c>, statements: &'t mut HashMap<String, Statement>) -> Self {
        Tx { inner: RefCell::new((tx, statements)), known: RefCell::default(), written: RefCell::default() }
    }
}

impl Tx<'_, '_> {
    pub fn tree<'a>(&'a self, name: &'a str) -> TxTree<'a> {
        TxTree { tx: self, name }
    }

    /// Runs `run` with `sql` prepared (once per connection) on this transaction.
    fn with_statement<T>(
        &self,
        sql: &str,
        run: impl FnOnce(&mut postgres::Transaction<'_>, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> TxResult<T> {
        let mut guard = self.inner.borrow_mut();
        let (tx, statements) = &mut *guard;
        let s = prepared(*tx, statements, sql).map_err(tx_error)?;
        run(tx, &s).map_err(tx_error)
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> TxResult<Vec<postgres::Row>> {
        self.with_statement(sql, |tx, s| tx.query(s, params))
    }

    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> TxResult<u64> {
        self.with_statement(sql, |tx, s| tx.execute(s, params))
    }

    fn get(&self, tree: &str, key: &[u8]) -> TxResult<Option<Bytes>> {
        let slot = (tree.to_owned(), key.to_vec());
        if let Some(value) = self.known.borrow().get(&slot) {
            return Ok(value.clone());
        }
        let value = bytes_of(self.query(GET, &[&tree, &key])?.into_iter().next());
        self.known.borrow_mut().insert(slot, value.clone());
        Ok(value)
    }

    /// Reads the keys not known yet in one round trip.
    fn prefetch(&self, tree: &str, keys: &[&[u8]]) -> TxResult<()> {
        let missing: Vec<&[u8]> = {
            let known = self.known.borrow();
            keys.iter().copied().filter(|k| !known.contains_key(&(tree.to_owned(), k.to_vec()))).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let rows = self.query(GET_MANY, &[&tree, &missing])?;
        let mut known = self.known.borrow_mut();
        for key in &missing {
            known.insert((tree.to_owned(), key.to_vec()), None);
        }
        for (key, value) in key_values(rows) {
            known.insert((tree.to_owned(), key), Some(value));
        }
        Ok(())
    }

    /// Sets `key` to `value` (`None`: removes it) as of this transaction, sent at commit.
    fn write(&self, tree: &str, key: &[u8], value: Option<Bytes>) {
        let slot = (tree.to_owned(), key.to_vec());
        self.known.borrow_mut().insert(slot.clone(), value.clone());
        self.written.borrow_mut().insert(slot, value);
    }

    /// Sends the writes: per tree, one upsert of every key set and one delete of every key
    /// removed.
    fn flush(&self) -> TxResult<()> {
        let written = std::mem::take(&mut *self.written.borrow_mut());
        let mut trees: BTreeMap<&str, TreeWrites<'_>> = BTreeMap::new();
        for ((tree, key), value) in &written {
            let writes = trees.entry(tree.as_str()).or_default();
            match value {
                Some(value) => {
                    writes.keys.push(key.as_slice());
                    writes.values.push(value.as_ref());
                }
                None => writes.removed.push(key.as_slice()),
            }
        }
        for (tree, TreeWrites { keys, values, removed }) in trees {
            if !keys.is_empty() {
                self.execute(UPSERT_MANY, &[&tree, &keys, &values])?;
            }
            if !removed.is_empty() {
                self.execute(REMOVE_MANY, &[&tree, &removed])?;
            }
        }
        Ok(())
    }

    fn next_id(&self) -> TxResult<u64> {
        let row = self.query(NEXT_ID, &[])?.into_iter().next().expect("nextval returns a row");
        Ok(row.get::<_, i64>(0) as u64)
    }
}

/// One tree's share of a commit: the keys set (with their values) and the keys removed.
#[derive(Default)]
struct TreeWrites<'a> {
    keys: Vec<&'a [u8]>,
    values: Vec<&'a [u8]>,
    removed: Vec<&'a [u8]>,
}

/// Type-erased access to a transaction, so a tree's view needs one lifetime, not two.
trait TxAccess {
    fn get(&self, tree: &str, key: &[u8]) -> TxResult<Option<Bytes>>;
    fn prefetch(&self, tree: &str, keys: &[&[u8]]) -> TxResult<()>;
    fn write(&self, tree: &str, key: &[u8], value: Option<Bytes>);
    fn next_id(&self) -> TxResult<u64>;
}

impl TxAccess for Tx<'_, '_> {
    fn get(&self, tree: &str, key: &[u8]) -> TxResult<Option<Bytes>> {
        Tx::get(self, tree, key)
    }

    fn prefetch(&self, tree: &str, keys: &[&[u8]]) -> TxResult<()> {
        Tx::prefetch(self, tree, keys)
    }

    fn write(&self, tree: &str, key: &[u8], value: Option<Bytes>) {
        Tx::write(self, tree, key, value)
    }

    fn next_id(&self) -> TxResult<u64> {
        Tx::next_id(self)
    }
}

/// One tree inside a transaction.
pub struct TxTree<'a> {
    tx: &'a dyn TxAccess,
    name: &'a str,
}

/// The `(key, value)` pairs of rows read by [`GET_MANY`].
fn key_values(rows: Vec<postgres::Row>) -> impl Iterator<Item = (Vec<u8>, Bytes)> {
    rows.into_iter().map(|r| (r.get(0), Bytes::from(r.get::<_, Vec<u8>>(1))))
}

fn bytes_of(row: Option<postgres::Row>) -> Option<Bytes> {
    row.map(|r| Bytes::from(r.get::<_, Vec<u8>>(0)))
}

impl TxTree<'_> {
    pub fn get(&self, key: &[u8]) -> TxResult<Option<Bytes>> {
        self.tx.get(self.name, key)
    }

    /// Reads `keys` in one round trip, so that the transaction's reads of them cost none.
    pub fn prefetch(&self, keys: &[&[u8]]) -> TxResult<()> {
        self.tx.prefetch(self.name, keys)
    }

    pub fn insert(&self, key: &[u8], value: &[u8]) -> TxResult<Option<Bytes>> {
        let old = self.tx.get(self.name, key)?;
        self.tx.write(self.name, key, Some(Bytes::from(value)));
        Ok(old)
    }

    pub fn remove(&self, key: &[u8]) -> TxResult<Option<Bytes>> {
        let old = self.tx.get(self.name, key)?;
        self.tx.write(self.name, key, None);
        Ok(old)
    }

    /// Removes `key` without reading what was there.
    pub fn discard(&self, key: &[u8]) {
        self.tx.write(self.name, key, None);
    }

    pub fn generate_id(&self) -> TxResult<u64> {
        self.tx.next_id()
    }
}

/// What [`Tree::update_and_fetch`] makes of a value (`None`: absent).
pub type Update<'a> = dyn Fn(Option<&[u8]>) -> Option<Vec<u8>> + Send + Sync + 'a;

/// One tree, outside any transaction: each write is a transaction of its own.
#[derive(Clone)]
pub struct Tree {
    db: Db,
    name: Arc<str>,
}

impl Tree {
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        let name = &*self.name;
        self.db.run(|c| {
            let s = prepared(&mut c.client, &mut c.statements, GET).map_err(store_error)?;
            Ok(bytes_of(c.client.query_opt(&s, &[&name, &key]).map_err(store_error)?))
        })
    }

    /// The values at `keys`, in their order, read in one round trip.
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let name = &*self.name;
        let rows = self.db.run(|c| {
            let s = prepared(&mut c.client, &mut c.statements, GET_MANY).map_err(store_error)?;
            c.client.query(&s, &[&name, &keys]).map_err(store_error)
        })?;
        // A key may be asked for twice (two versions of one order owed): each gets the value.
        let found: HashMap<Vec<u8>, Bytes> = key_values(rows).collect();
        Ok(keys.iter().map(|k| found.get(*k).cloned()).collect())
    }

    pub fn insert(&self, key: &[u8], value: &[u8]) -> Result<Option<Bytes>, StoreError> {
        let name = &*self.name;
        self.db.write(ONE_KEY, |tx, statements| {
            let s = prepared(tx, statements, INSERT).map_err(tx_error)?;
            Ok(bytes_of(tx.query_opt(&s, &[&name, &key, &value]).map_err(tx_error)?))
        })
    }

    pub fn remove(&self, key: &[u8]) -> Result<Option<Bytes>, StoreError> {
        let name = &*self.name;
        self.db.write(ONE_KEY, |tx, statements| {
            let s = prepared(tx, statements, REMOVE).map_err(tx_error)?;
            Ok(bytes_of(tx.query_opt(&s, &[&name, &key]).map_err(tx_error)?))
        })
    }

    pub fn update_and_fetch(&self, key: &[u8], f: &Update<'_>) -> Result<Option<Bytes>, StoreError> {
        let name = &*self.name;
        self.db.write(ONE_KEY, |tx, statements| {
            let get = prepared(tx, statements, GET_FOR_UPDATE).map_err(tx_error)?;
            let old = bytes_of(tx.query_opt(&get, &[&name, &key]).map_err(tx_error)?);
            let new = f(old.as_deref());
            match &new {
                Some(v) => {
                    let s = prepared(tx, statements, INSERT).map_err(tx_error)?;
                    tx.query_opt(&s, &[&name, &key, v]).map_err(tx_error)?;
                }
                None => {
                    let s = prepared(tx, statements, REMOVE).map_err(tx_error)?;
                    tx.query_opt(&s, &[&name, &key]).map_err(tx_error)?;
                }
            }
            Ok(new.map(Bytes::from))
        })
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    pub fn len(&self) -> Result<usize, StoreError> {
        let name = &*self.name;
        self.db.run(|c| {
            let n: i64 = c
                .client
                .query_one("SELECT count(*) FROM wharf_kv WHERE tree = $1", &[&name])
                .map_err(store_error)?
                .get(0);
            Ok(n as usize)
        })
    }

    pub fn clear(&self) -> Result<(), StoreError> {
        let name = &*self.name;
        self.db.write(ONE_KEY, |tx, _| {
            tx.execute("DELETE FROM wharf_kv WHERE tree = $1", &[&name]).map_err(tx_error)?;
            Ok(())
        })
    }

    pub fn range(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Iter {
        Iter {
            tree: self.clone(),
            lo,
            hi,
            front: VecDeque::new(),
            back: VecDeque::new(),
            front_page: FIRST_PAGE,
            back_page: FIRST_PAGE,
            front_done: false,
            back_done: false,
        }
    }

    /// Up to `limit` entries between `lo` and `hi`, from the low end or the high end.
    fn page(
        &self,
        lo: &Bound<Vec<u8>>,
        hi: &Bound<Vec<u8>>,
        descending: bool,
        limit: i64,
    ) -> Result<Vec<(Bytes, Bytes)>, StoreError> {
        let mut sql = String::from("SELECT key, value FROM wharf_kv WHERE tree = $1");
        let name = &*self.name;
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&name];
        let (lo_key, hi_key) = (bound_key(lo), bound_key(hi));
        if let Some(k) = &lo_key {
            params.push(k);
            let op = if matches!(lo, Bound::Included(_)) { ">=" } else { ">" };
            sql.push_str(&format!(" AND key {op} ${}", params.len()));
        }
        if let Some(k) = &hi_key {
            params.push(k);
            let op = if matches!(hi, Bound::Included(_)) { "<=" } else { "<" };
            sql.push_str(&format!(" AND key {op} ${}", params.len()));
        }
        sql.push_str(if descending { " ORDER BY key DESC" } else { " ORDER BY key" });
        sql.push_str(&format!(" LIMIT {limit}"));
        self.db.run(|c| {
            let s = prepared(&mut c.client, &mut c.statements, &sql).map_err(store_error)?;
            let rows = c.client.query(&s, &params).map_err(store_error)?;
            Ok(rows
                .into_iter()
                .map(|r| (Bytes::from(r.get::<_, Vec<u8>>(0)), Bytes::from(r.get::<_, Vec<u8>>(1))))
                .collect())
        })
    }
}

fn bound_key(b: &Bound<Vec<u8>>) -> Option<&[u8]> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k),
        Bound::Unbounded => None,
    }
}

/// A range read a page at a time, from either end: each end remembers the last key it
/// handed out, so the two ends never hand out one entry twice.
pub struct Iter {
    tree: Tree,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    front: VecDeque<(Bytes, Bytes)>,
    back: VecDeque<(Bytes, Bytes)>,
    front_page: i64,
    back_page: i64,
    front_done: bool,
    back_done: bool,
}

fn above(key: &[u8], lo: &Bound<Vec<u8>>) -> bool {
    match lo {
        Bound::Included(l) => key >= l.as_slice(),
        Bound::Excluded(l) => key > l.as_slice(),
        Bound::Unbounded => true,
    }
}

fn below(key: &[u8], hi: &Bound<Vec<u8>>) -> bool {
    match hi {
        Bound::Included(h) => key <= h.as_slice(),
        Bound::Excluded(h) => key < h.as_slice(),
        Bound::Unbounded => true,
    }
}

impl Iterator for Iter {
    type Item = Result<(Bytes, Bytes), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.front.pop_front() {
                if !below(&k, &self.hi) {
                    self.front.clear();
                    self.front_done = true;
                    return None;
                }
                self.lo = Bound::Excluded(k.to_vec());
                return Some(Ok((k, v)));
            }
            if self.front_done {
                return None;
            }
            match self.tree.page(&self.lo, &self.hi, false, self.front_page) {
                Ok(rows) => {
                    self.front_done = (rows.len() as i64) < self.front_page;
                    self.front_page = (self.front_page * 2).min(MAX_PAGE);
                    self.front.extend(rows);
                }
                Err(e) => {
                    self.front_done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((k, v)) = self.back.pop_front() {
                if !above(&k, &self.lo) {
                    self.back.clear();
                    self.back_done = true;
                    return None;
                }
                self.hi = Bound::Excluded(k.to_vec());
                return Some(Ok((k, v)));
            }
            if self.back_done {
                return None;
            }
            match self.tree.page(&self.lo, &self.hi, true, self.back_page) {
                Ok(rows) => {
                    self.back_done = (rows.len() as i64) < self.back_page;
                    self.back_page = (self.back_page * 2).min(MAX_PAGE);
                    self.back.extend(rows);
                }
                Err(e) => {
                    self.back_done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

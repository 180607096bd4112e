//! The seam under the books: an ordered key-value store of named trees, with transactions
//! across trees, on one of two engines chosen by configuration:
//!
//! - [`sled`](::sled), embedded, the default (`store = "sled:<dir>"`, or `data_dir`): one
//!   process owns the folder; durability comes from the group commit in [`super::commit`];
//! - PostgreSQL ([`postgres`], `store = "postgres://…"`): the database operators already run
//!   and back up, shared by every node of a cluster; each commit is durable when it returns,
//!   and writes made for a shop carry the shop's lease ([`Fence`]) so a node that lost it
//!   cannot write afterwards.
//!
//! The books ([`super::orders`], [`super::outbox`], …) are written once against this
//! interface; it mirrors the part of sled's API they use (trees, range reads in key order,
//! transactions that are retried on conflict), so what a book means does not depend on
//! where it is kept.

pub mod postgres;

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::StoreError;

/// Keys and values as the engines hand them back (sled's cheap-to-clone bytes).
pub type Bytes = sled::IVec;

/// One open database.
#[derive(Clone)]
pub enum Db {
    Sled(sled::Db),
    Postgres(postgres::Db),
}

/// One tree of a database: keys in byte order.
#[derive(Clone)]
pub enum Tree {
    Sled(sled::Tree),
    Postgres(postgres::Tree),
}

/// Why a transaction's body stopped: its own error, or a conflict with another writer
/// (the body runs again, on the state that writer left).
#[derive(Debug)]
pub enum TxError {
    Abort(StoreError),
    Conflict,
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Abort(e)
    }
}

/// What a transaction's body returns.
pub type TxResult<T> = Result<T, TxError>;

/// A tree as a transaction sees it: reads see the transaction's own writes; nothing is
/// visible to others until the body returns `Ok`.
pub enum TxTree<'a> {
    Sled(&'a sled::transaction::TransactionalTree),
    Postgres(postgres::TxTree<'a>),
}

fn sled_tx_error(e: sled::transaction::UnabortableTransactionError) -> TxError {
    match e {
        sled::transaction::UnabortableTransactionError::Conflict => TxError::Conflict,
        sled::transaction::UnabortableTransactionError::Storage(e) => TxError::Abort(StoreError::Sled(e)),
    }
}

impl TxTree<'_> {
    pub fn get(&self, key: impl AsRef<[u8]>) -> TxResult<Option<Bytes>> {
        match self {
            TxTree::Sled(t) => t.get(key).map_err(sled_tx_error),
            TxTree::Postgres(t) => t.get(key.as_ref()),
        }
    }

    /// Writes `value` at `key`; what it replaced.
    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl Into<Bytes>) -> TxResult<Option<Bytes>> {
        match self {
            TxTree::Sled(t) => t.insert(key.as_ref(), value.into()).map_err(sled_tx_error),
            TxTree::Postgres(t) => t.insert(key.as_ref(), &value.into()),
        }
    }

    /// Removes `key`; what was there.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> TxResult<Option<Bytes>> {
        match self {
            TxTree::Sled(t) => t.remove(key.as_ref()).map_err(sled_tx_error),
            TxTree::Postgres(t) => t.remove(key.as_ref()),
        }
    }

    /// Removes `key`, not asking what was there: on PostgreSQL a removal sent with the commit's
    /// others rather than a round trip of its own.
    pub fn discard(&self, key: impl AsRef<[u8]>) -> TxResult<()> {
        match self {
            TxTree::Sled(t) => t.remove(key.as_ref()).map(drop).map_err(sled_tx_error),
            TxTree::Postgres(t) => {
                t.discard(key.as_ref());
                Ok(())
            }
        }
    }

    /// Reads `keys` ahead, so the transaction's reads of them cost nothing more: one round trip
    /// for them all on PostgreSQL; nothing on sled, which reads in microseconds.
    pub fn prefetch(&self, keys: &[&[u8]]) -> TxResult<()> {
        match self {
            TxTree::Sled(_) => Ok(()),
            TxTree::Postgres(t) => t.prefetch(keys),
        }
    }

    /// A number no earlier call returned (not rolled back with the transaction).
    pub fn generate_id(&self) -> TxResult<u64> {
        match self {
            TxTree::Sled(t) => t.generate_id().map_err(|e| TxError::Abort(StoreError::Sled(e))),
            TxTree::Postgres(t) => t.generate_id(),
        }
    }
}

/// Trees that take part in one transaction together: `(&a, &b).transaction(|(a, b)| …)`.
/// The body may run more than once (after a conflict), so it must not have effects outside
/// the trees.
pub trait Transactional {
    type View<'a>;

    fn transaction<R: Send>(
        &self,
        body: impl Fn(&Self::View<'_>) -> TxResult<R> + Send + Sync,
    ) -> Result<R, StoreError>;
}

macro_rules! view_type {
    ($_t:ident, $ty:ty) => {
        $ty
    };
}

macro_rules! transactional {
    ($($t:ident : $i:tt),+) => {
        impl<'t> Transactional for ($(view_type!($t, &'t Tree),)+) {
            type View<'a> = ($(view_type!($t, TxTree<'a>),)+);

            fn transaction<R: Send>(
                &self,
                body: impl Fn(&Self::View<'_>) -> TxResult<R> + Send + Sync,
            ) -> Result<R, StoreError> {
                match self.0 {
                    Tree::Sled(_) => {
                        use sled::Transactional as _;
                        let trees = ($(self.$i.as_sled()?,)+);
                        let done = trees.transaction(|views| {
                            let ($($t,)+) = views;
                            body(&($(TxTree::Sled($t),)+)).map_err(|e| match e {
                                TxError::Abort(e) => sled::transaction::ConflictableTransactionError::Abort(e),
                                TxError::Conflict => sled::transaction::ConflictableTransactionError::Conflict,
                            })
                        });
                        done.map_err(StoreError::from)
                    }
                    Tree::Postgres(first) => {
                        let names = [$(self.$i.postgres_name()?,)+];
                        first.db().transaction(|tx| {
                            let mut names = names.iter();
                            $(let $t = TxTree::Postgres(tx.tree(names.next().expect("one name per tree")));)+
                            body(&($($t,)+))
                        })
                    }
                }
            }
        }
    };
}

transactional!(a: 0);
transactional!(a: 0, b: 1);
transactional!(a: 0, b: 1, c: 2);
transactional!(a: 0, b: 1, c: 2, d: 3);
transactional!(a: 0, b: 1, c: 2, d: 3, e: 4);
transactional!(a: 0, b: 1, c: 2, d: 3, e: 4, f: 5);
transactional!(a: 0, b: 1, c: 2, d: 3, e: 4, f: 5, g: 6);
transactional!(a: 0, b: 1, c: 2, d: 3, e: 4, f: 5, g: 6, h: 7);

impl Db {
    pub fn open_tree(&self, name: &str) -> Result<Tree, StoreError> {
        Ok(match self {
            Db::Sled(db) => Tree::Sled(db.open_tree(name)?),
            Db::Postgres(db) => Tree::Postgres(db.open_tree(name)),
        })
    }

    /// The database's own tree, for the store's bookkeeping (schema, clocks).
    pub fn default_tree(&self) -> Tree {
        match self {
            Db::Sled(db) => Tree::Sled(sled::Tree::clone(db)),
            Db::Postgres(db) => Tree::Postgres(db.open_tree(postgres::DEFAULT_TREE)),
        }
    }

    /// A number no earlier call returned, growing across restarts (and across nodes).
    pub fn generate_id(&self) -> Result<u64, StoreError> {
        match self {
            Db::Sled(db) => Ok(db.generate_id()?),
            Db::Postgres(db) => db.generate_id(),
        }
    }

    /// Everything written so far on disk. PostgreSQL's commits are durable when they return,
    /// so there it only checks that the database answers.
    pub fn flush(&self) -> Result<(), StoreError> {
        match self {
            Db::Sled(db) => db.flush().map(drop).map_err(StoreError::from),
            Db::Postgres(db) => db.ping(),
        }
    }

    /// Whether the database held data before it was opened.
    pub fn was_recovered(&self) -> bool {
        match self {
            Db::Sled(db) => db.was_recovered(),
            Db::Postgres(_) => true,
        }
    }

    /// Removes tree `name` and everything in it; `false` when there was none.
    pub fn drop_tree(&self, name: &str) -> Result<bool, StoreError> {
        match self {
            Db::Sled(db) => Ok(db.drop_tree(name)?),
            Db::Postgres(db) => {
                let tree = db.open_tree(name);
                let had = tree.len()? > 0;
                tree.clear()?;
                Ok(had)
            }
        }
    }
}

impl Tree {
    fn as_sled(&self) -> Result<&sled::Tree, StoreError> {
        match self {
            Tree::Sled(t) => Ok(t),
            Tree::Postgres(_) => Err(StoreError::Invalid("a transaction mixes trees of two databases".into())),
        }
    }

    fn postgres_name(&self) -> Result<&str, StoreError> {
        match self {
            Tree::Postgres(t) => Ok(t.name()),
            Tree::Sled(_) => Err(StoreError::Invalid("a transaction mixes trees of two databases".into())),
        }
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, StoreError> {
        match self {
            Tree::Sled(t) => Ok(t.get(key)?),
            Tree::Postgres(t) => t.get(key.as_ref()),
        }
    }

    /// The values at `keys`, in their order: on PostgreSQL one round trip for them all.
    pub fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>, StoreError> {
        match self {
            Tree::Sled(t) => keys.iter().map(|k| Ok(t.get(k)?)).collect(),
            Tree::Postgres(t) => t.get_many(keys),
        }
    }

    /// Writes `value` at `key`; what it replaced.
    pub fn insert(&self, key: impl AsRef<[u8]>, value: impl Into<Bytes>) -> Result<Option<Bytes>, StoreError> {
        match self {
            Tree::Sled(t) => Ok(t.insert(key, value)?),
            Tree::Postgres(t) => t.insert(key.as_ref(), &value.into()),
        }
    }

    /// Removes `key`; what was there.
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, StoreError> {
        match self {
            Tree::Sled(t) => Ok(t.remove(key)?),
            Tree::Postgres(t) => t.remove(key.as_ref()),
        }
    }

    /// Replaces the value at `key` with what `f` makes of it (`None` removes it), atomically;
    /// the new value.
    pub fn update_and_fetch(
        &self,
        key: impl AsRef<[u8]>,
        f: impl Fn(Option<&[u8]>) -> Option<Vec<u8>> + Send + Sync,
    ) -> Result<Option<Bytes>, StoreError> {
        match self {
            Tree::Sled(t) => Ok(t.update_and_fetch(key, f)?),
            Tree::Postgres(t) => t.update_and_fetch(key.as_ref(), &f),
        }
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Iter {
        match self {
            Tree::Sled(t) => Iter::Sled(t.iter()),
            Tree::Postgres(t) => Iter::Postgres(t.range(Bound::Unbounded, Bound::Unbounded)),
        }
    }

    /// The entries with keys in `range`, in key order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        match self {
            Tree::Sled(t) => Iter::Sled(t.range(range)),
            Tree::Postgres(t) => {
                let owned = |b: Bound<&K>| match b {
                    Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
                    Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
                    Bound::Unbounded => Bound::Unbounded,
                };
                Iter::Postgres(t.range(owned(range.start_bound()), owned(range.end_bound())))
            }
        }
    }

    /// The entries whose keys start with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        match self {
            Tree::Sled(t) => Iter::Sled(t.scan_prefix(prefix)),
            Tree::Postgres(t) => {
                let prefix = prefix.as_ref().to_vec();
                let end = prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
                Iter::Postgres(t.range(Bound::Included(prefix), end))
            }
        }
    }

    /// How many entries the tree holds (a count, not a cached figure: for tests and tools).
    pub fn len(&self) -> Result<usize, StoreError> {
        match self {
            Tree::Sled(t) => Ok(t.len()),
            Tree::Postgres(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    pub fn clear(&self) -> Result<(), StoreError> {
        match self {
            Tree::Sled(t) => Ok(t.clear()?),
            Tree::Postgres(t) => t.clear(),
        }
    }

    /// This tree's writes on disk (see [`Db::flush`]).
    pub fn flush(&self) -> Result<(), StoreError> {
        match self {
            Tree::Sled(t) => t.flush().map(drop).map_err(StoreError::from),
            Tree::Postgres(_) => Ok(()),
        }
    }
}

/// The first key after every key that starts with `prefix`; `None` when there is none
/// (the prefix is all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Entries of a tree in key order, read lazily (PostgreSQL: a page at a time), from either end.
pub enum Iter {
    Sled(sled::Iter),
    Postgres(postgres::Iter),
}

impl Iter {
    pub fn keys(self) -> impl DoubleEndedIterator<Item = Result<Bytes, StoreError>> {
        self.map(|e| e.map(|(k, _)| k))
    }

    pub fn values(self) -> impl DoubleEndedIterator<Item = Result<Bytes, StoreError>> {
        self.map(|e| e.map(|(_, v)| v))
    }
}

impl Iterator for Iter {
    type Item = Result<(Bytes, Bytes), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Sled(i) => i.next().map(|e| e.map_err(StoreError::from)),
            Iter::Postgres(i) => i.next(),
        }
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Sled(i) => i.next_back().map(|e| e.map_err(StoreError::from)),
            Iter::Postgres(i) => i.next_back(),
        }
    }
}

/// A lease a node holds on some work (a shop's loops, a tenant's deliveries), as the writes
/// made for that work carry it: on PostgreSQL every such write checks, in its own
/// transaction, that the lease is still this node's with this token, so a node that lost
/// the lease (paused, partitioned, slow) cannot write after another took over.
#[derive(Debug)]
pub struct Fence {
    pub lease: String,
    pub owner: String,
    /// The token of the lease while held; [`Fence::NOT_HELD`] while not.
    token: AtomicI64,
}

impl Fence {
    pub const NOT_HELD: i64 = -1;

    pub fn new(lease: String, owner: String) -> Arc<Self> {
        Arc::new(Fence { lease, owner, token: AtomicI64::new(Self::NOT_HELD) })
    }

    pub fn token(&self) -> Option<i64> {
        Some(self.token.load(Ordering::SeqCst)).filter(|t| *t != Self::NOT_HELD)
    }

    pub fn set(&self, token: Option<i64>) {
        self.token.store(token.unwrap_or(Self::NOT_HELD), Ordering::SeqCst);
    }
}

tokio::task_local! {
    /// The lease the running task writes under (see [`fenced`]).
    static FENCE: Arc<Fence>;
}

/// Runs `work` with every store write it makes carrying `fence`.
pub async fn fenced<F: Future>(fence: Arc<Fence>, work: F) -> F::Output {
    FENCE.scope(fence, work).await
}

/// The fence of the task this thread is running, if any.
pub(crate) fn current_fence() -> Option<Arc<Fence>> {
    FENCE.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_at_the_next_key_that_does_not_start_with_it() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    /// On PostgreSQL a transaction keeps its writes until it commits: its own reads must
    /// still see them, a key read ahead must read as it is, and the writes must land together
    /// or not at all (the same test runs on sled, where the engine does all of this itself).
    #[test]
    fn a_transaction_reads_its_own_writes_and_they_land_together_or_not_at_all() {
        let store = crate::store::Store::temporary().unwrap();
        let db = store.db();
        let (a, b) = (db.open_tree("tx-a").unwrap(), db.open_tree("tx-b").unwrap());
        a.insert(b"1", &b"one"[..]).unwrap();
        a.insert(b"2", &b"two"[..]).unwrap();
        b.insert(b"x", &b"index"[..]).unwrap();

        let seen = (&a, &b)
            .transaction(|(a, b)| {
                a.prefetch(&[&b"1"[..], &b"2"[..], &b"3"[..]])?;
                let mut seen = vec![a.get(b"1")?, a.get(b"3")?];
                // Replaced, removed, discarded, written new, each read back as it now is.
                seen.push(a.insert(b"1", &b"uno"[..])?);
                seen.push(a.get(b"1")?);
                seen.push(a.remove(b"2")?);
                seen.push(a.get(b"2")?);
                b.discard(b"x")?;
                seen.push(b.get(b"x")?);
                seen.push(a.insert(b"3", &b"tres"[..])?);
                seen.push(a.insert(b"3", &b"drei"[..])?);
                // A key removed and then written again ends written.
                b.discard(b"y")?;
                b.insert(b"y", &b"again"[..])?;
                Ok(seen)
            })
            .unwrap();
        let text = |v: Option<Bytes>| v.map(|v| String::from_utf8(v.to_vec()).unwrap());
        assert_eq!(
            seen.into_iter().map(text).collect::<Vec<_>>(),
            [Some("one"), None, Some("one"), Some("uno"), Some("two"), None, None, None, Some("tres")]
                .map(|s| s.map(str::to_owned))
        );
        assert_eq!(text(a.get(b"1").unwrap()).as_deref(), Some("uno"));
        assert_eq!(a.get(b"2").unwrap(), None);
        assert_eq!(text(a.get(b"3").unwrap()).as_deref(), Some("drei"));
        assert_eq!(b.get(b"x").unwrap(), None);
        assert_eq!(text(b.get(b"y").unwrap()).as_deref(), Some("again"));

        // A body that fails after writing leaves every tree as it was.
        let failed = (&a, &b).transaction(|(a, b)| -> TxResult<()> {
            a.insert(b"1", &b"lost"[..])?;
            b.discard(b"y")?;
            Err(TxError::Abort(StoreError::Invalid("stop".into())))
        });
        assert!(failed.is_err());
        assert_eq!(text(a.get(b"1").unwrap()).as_deref(), Some("uno"));
        assert_eq!(text(b.get(b"y").unwrap()).as_deref(), Some("again"));
    }
}

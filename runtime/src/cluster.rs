//! Several `wharf serve` nodes on one PostgreSQL database: which node runs which work.
//!
//! Work comes in pieces: a shop's loops (orders in, updates out) and a tenant's ERP loops
//! (deliveries, ERP pulls). Each piece is owned by one node at a time through a lease in the
//! database (owner, expiry, fencing token). A node runs a piece only while it holds the lease,
//! renews it every [`RENEW_EVERY`], and gives it back on a graceful stop; a node that dies
//! stops renewing, and another takes the piece over once the lease expires ([`LEASE_TTL`]).
//! Every write made for the piece carries the lease ([`Fence`]): a node that lost it (paused,
//! partitioned, slow to notice) has its writes refused, so two nodes never both write for one
//! shop, whatever their clocks say (expiry is read off the database's clock).
//!
//! Any node answers the API for any tenant: the API's writes are transactions of their own,
//! serialized by the database like any two writers.
//!
//! On sled there is one node, so every lease is held from the start and nothing is checked.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use crate::retry::sleep_or_stop;
use crate::store::Store;
use crate::store::backend::{self, Db, Fence};

/// How long a lease lasts unless renewed: how long a dead node's shops wait before another
/// node resumes them. Fifteen seconds is a few schedule ticks, far below any platform's
/// tolerance for a late pull, and far above a GC-free process's worst pause.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often a held lease is renewed: a third of [`LEASE_TTL`], so two renewals in a row can
/// fail (a slow database, a blip) before the lease is lost.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How often a node tries to take a lease another node holds: a free lease (its owner died
/// or stopped) is taken at most this long after it expires.
pub const ACQUIRE_EVERY: Duration = Duration::from_secs(1);

/// This node, as the leases know it. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    node: Arc<str>,
    /// `None` on sled: one node, every lease held.
    db: Option<backend::postgres::Db>,
    /// The leases this node holds, renewed together by a thread of their own.
    held: Arc<Held>,
}

/// Leases held, by name: the token, the fence the work writes under, and how to tell the
/// work the lease is lost.
#[derive(Default)]
struct Held(Mutex<HashMap<String, HeldLease>>);

/// A held lease's token, the fence its work writes under, and the work's stop.
type HeldLease = (i64, Arc<Fence>, Arc<Notify>);

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HeldLease>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Renews every lease in `held` every [`RENEW_EVERY`], in one statement, on a thread of its
/// own: renewals must not wait behind the async workers (busy with store calls under load) or
/// a lease expires while its node is merely slow. A lease not renewed (expired, or taken over)
/// is lost: its fence stops its writes and its work is told to stop. Ends when the cluster is
/// dropped.
fn spawn_renewer(db: backend::postgres::Db, node: Arc<str>, held: std::sync::Weak<Held>) {
    let spawned = std::thread::Builder::new().name("wharf-leases".into()).spawn(move || {
        let mut renewed_at = Instant::now();
        loop {
            std::thread::sleep(RENEW_EVERY);
            let Some(held) = held.upgrade() else { return };
            if held.lock().is_empty() {
                renewed_at = Instant::now();
                continue;
            }
            let lost: Vec<(String, String)> = match db.renew_leases(&node, LEASE_TTL) {
                Ok(renewed) => {
                    renewed_at = Instant::now();
                    let leases = held.lock();
                    let gone: Vec<String> = leases
                        .iter()
                        .filter(|(name, (token, _, _))| renewed.get(*name) != Some(token))
                        .map(|(name, _)| name.clone())
                        .collect();
                    gone.into_iter().map(|name| (name, "another node holds it, or it expired".to_owned())).collect()
                }
                // Not renewed: by this node's clock the leases may still run a while, but
                // once the last renewal is a lease's length ago, another node may hold them.
                Err(e) if renewed_at.elapsed() + RENEW_EVERY >= LEASE_TTL => {
                    let why = format!("not renewed for {:?}: {e}", renewed_at.elapsed());
                    held.lock().keys().map(|name| (name.clone(), why.clone())).collect()
                }
                Err(e) => {
                    warn!(error = %e, "renewing this node's leases failed; trying again");
                    Vec::new()
                }
            };
            let mut leases = held.lock();
            for (name, why) in lost {
                if let Some((token, fence, stop)) = leases.remove(&name) {
                    fence.set(None);
                    warn!(lease = %name, node = %node, token, reason = %why, "lease lost: this node stops the work");
                    stop.notify_one();
                }
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "the lease renewer could not start: leases held here will expire");
    }
}

impl Cluster {
    /// The cluster `store` is part of, with a node id of its own (host, process, and a random
    /// part, so a restarted node never mistakes its old incarnation's leases for its own).
    pub fn of(store: &Store) -> Self {
        let db = match store.database() {
            Db::Postgres(db) => Some(db),
            Db::Sled(_) => None,
        };
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_default();
        let random: u32 = rand_u32();
        let node: Arc<str> = Arc::from(format!("{host}:{}:{random:08x}", std::process::id()));
        let held = Arc::new(Held::default());
        if let Some(db) = &db {
            spawn_renewer(db.clone(), node.clone(), Arc::downgrade(&held));
        }
        Cluster { node, db, held }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether other nodes may share the work (the store is PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.db.is_some()
    }

    /// Runs the work `start` makes whenever this node holds lease `name`, until `stop`: takes
    /// the lease (waiting while another node holds it), runs the work with its writes fenced,
    /// renews the lease meanwhile, and drops the work the moment the lease is lost (its writes
    /// would be refused anyway), then waits to take it again. The work ends by itself on
    /// `stop`; the lease is then given back so another node need not wait for it to expire.
    pub async fn run_leased<F, W>(&self, name: String, mut stop: watch::Receiver<bool>, mut start: F)
    where
        F: FnMut() -> W,
        W: Future<Output = ()>,
    {
        let Some(db) = &self.db else {
            start().await;
            return;
        };
        let fence = Fence::new(name.clone(), self.node.to_string());
        loop {
            let token = loop {
                match db.acquire_lease(&name, &self.node, LEASE_TTL) {
                    Ok(Some(token)) => break token,
                    Ok(None) => {}
                    Err(e) => warn!(lease = %name, error = %e, "taking a lease failed; trying again"),
                }
                if sleep_or_stop(&mut stop, ACQUIRE_EVERY).await {
                    return;
                }
            };
            fence.set(Some(token));
            let lost = Arc::new(Notify::new());
            self.held.lock().insert(name.clone(), (token, fence.clone(), lost.clone()));
            info!(lease = %name, node = %self.node, token, "lease taken: this node runs the work");
            let work = backend::fenced(fence.clone(), start());
            tokio::select! {
                () = work => {
                    self.held.lock().remove(&name);
                    fence.set(None);
                    if let Err(e) = db.release_lease(&name, &self.node, token) {
                        warn!(lease = %name, error = %e, "giving the lease back failed; it expires by itself");
                    }
                    return;
                }
                () = lost.notified() => {} // the renewer said why, and fenced it
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

/// A random number for node ids (not a secret: only unique among a cluster's restarts).
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreError, TEST_POSTGRES_ENV};

    /// A node whose lease another node took over cannot write for that work any more, even
    /// though it still believes it holds the lease (paused, partitioned): its write carries
    /// the old token and is refused in its own transaction. Runs where `tests/run` puts the
    /// store on PostgreSQL (leases need a shared store).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_that_lost_its_lease_cannot_write_for_its_work() {
        if std::env::var(TEST_POSTGRES_ENV).is_err() {
            return; // sled: one node, nothing to fence
        }
        let store = Store::temporary().unwrap();
        let Db::Postgres(db) = store.database() else { panic!("a PostgreSQL store") };
        let lease = "shop/acme/tb1";
        let short = Duration::from_millis(100);
        let a = Fence::new(lease.into(), "node-a".into());
        a.set(db.acquire_lease(lease, "node-a", short).unwrap());
        assert_eq!(db.acquire_lease(lease, "node-b", LEASE_TTL).unwrap(), None, "held by node a");
        let cursor = crate::store::StreamCursor { watermark: crate::model::Timestamp(1), in_window: None };
        let write = |fence: &Arc<Fence>, watermark: i64| {
            let (store, cursor) = (
                store.clone(),
                crate::store::StreamCursor { watermark: crate::model::Timestamp(watermark), ..cursor.clone() },
            );
            backend::fenced(fence.clone(), async move { store.cursors().put("acme", "tb1", "orders", &cursor) })
        };
        write(&a, 1).await.expect("node a writes while it holds the lease");

        tokio::time::sleep(short * 2).await; // node a is paused past its lease
        let b = Fence::new(lease.into(), "node-b".into());
        let token_b = db.acquire_lease(lease, "node-b", LEASE_TTL).unwrap();
        assert!(token_b > a.token(), "a takeover issues a newer token");
        b.set(token_b);
        write(&b, 2).await.expect("node b writes under its lease");

        let refused = write(&a, 3).await;
        assert!(matches!(refused, Err(StoreError::Fenced { .. })), "{refused:?}");
        assert_eq!(a.token(), None, "node a now knows it lost the lease");
        assert!(!db.renew_lease(lease, "node-a", 1, LEASE_TTL).unwrap(), "and cannot renew it");
        let kept = store.cursors().get("acme", "tb1", "orders").unwrap().unwrap();
        assert_eq!(kept.watermark.0, 2, "what node b wrote stands");
    }
}

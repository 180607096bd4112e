//! Group commit: writers wait for the disk together, and a store that cannot write recovers.
//!
//! sled keeps writes in memory and flushes them on its own every 500 ms, so a write it has
//! taken is not yet on disk. Whatever the host acknowledges (an API answer, an order version
//! sent to an ERP) must be: the writer asks [`super::Store::durable`] and waits. One thread,
//! the committer, does the flushing: a waiter is released by the first flush that *started*
//! after it asked (so after its write), and every waiter that arrived meanwhile shares that
//! flush. Many writers cost one flush, not one each, and no async worker ever blocks on the
//! disk.
//!
//! When a flush fails (a full disk, say), sled marks its database failed for good: every later
//! write and flush fails too, even once the disk has room again. The committer notes why
//! ([`super::Store::unwritable`], which `/readyz` reports), answers every waiter with the
//! failure, and, every [`RECOVERY_PROBE_EVERY`], checks whether the disk takes a write again; once
//! it does, it reopens the database in the process (see `Shared::reopen`), which reads back
//! what was on disk, and the store works again by itself. Writes that were not on disk are
//! lost, and they were never acknowledged: every waiter whose write went to the failed
//! database is answered with an error.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::{Shared, StoreError};

/// How often the committer flushes when no one waits: sled's own flush interval (its
/// `flush_every_ms` default), so a store that cannot write is noticed within it even when no
/// writer is waiting.
pub const IDLE_FLUSH_EVERY: Duration = Duration::from_millis(500);

/// While the store cannot write, how often it checks whether the disk takes writes again (and
/// how soon a waiter is answered meanwhile: at once, with the reason).
pub const RECOVERY_PROBE_EVERY: Duration = Duration::from_secs(1);

/// The waiters' side and the committer's side of the group commit.
pub(super) struct Commit {
    state: Mutex<State>,
    /// The committer waits here for work.
    wake: Condvar,
    /// Blocking waiters wait here for their flush.
    done: Condvar,
    /// Async waiters watch the last finished flush.
    finished: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    /// The highest flush a waiter needs.
    requested: u64,
    /// The last flush started; flushes are numbered from 1.
    started: u64,
    /// The last flush finished.
    finished: u64,
    /// The last flush that failed, and why: a waiter whose flush is this one or an earlier one
    /// still being waited on gets the failure.
    failed: Option<(u64, String)>,
    /// Why the store cannot write now; `None` while it can.
    unwritable: Option<String>,
    /// Every handle on the store is gone: the committer stops.
    closed: bool,
}

impl Commit {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Commit {
            state: Mutex::default(),
            wake: Condvar::new(),
            done: Condvar::new(),
            finished: tokio::sync::watch::Sender::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The flush that will cover every write made before this call: the next one to start.
    pub(super) fn ticket(&self) -> u64 {
        let mut state = self.lock();
        let ticket = state.started + 1;
        if state.requested < ticket {
            state.requested = ticket;
            self.wake.notify_one();
        }
        ticket
    }

    /// Waits for flush `ticket` to finish, off any async worker.
    pub(super) async fn wait(&self, ticket: u64) -> Result<(), StoreError> {
        let mut finished = self.finished.subscribe();
        // The sender lives as long as `self`: this cannot fail.
        let _ = finished.wait_for(|f| *f >= ticket).await;
        self.outcome(&self.lock(), ticket)
    }

    /// Waits for flush `ticket` to finish, blocking the thread.
    pub(super) fn wait_blocking(&self, ticket: u64) -> Result<(), StoreError> {
        let mut state = self.lock();
        while state.finished < ticket {
            state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        self.outcome(&state, ticket)
    }

    fn outcome(&self, state: &State, ticket: u64) -> Result<(), StoreError> {
        match &state.failed {
            Some((failed, why)) if *failed >= ticket => Err(StoreError::NotDurable(why.clone())),
            _ => Ok(()),
        }
    }

    pub(super) fn unwritable(&self) -> Option<String> {
        self.lock().unwritable.clone()
    }

    /// The store is gone: the committer answers who still waits and stops.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// Starts a flush; `None` once closed.
    fn start(&self, wait: Duration) -> Option<u64> {
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            let now = Instant::now();
            if state.requested > state.started || now >= deadline {
                break;
            }
            state = self.wake.wait_timeout(state, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        state.started += 1;
        Some(state.started)
    }

    fn finish(&self, number: u64, result: Result<(), String>) {
        let mut state = self.lock();
        state.finished = state.finished.max(number);
        match result {
            Ok(()) => state.unwritable = None,
            Err(why) => {
                if state.unwritable.is_none() {
                    tracing::error!(error = %why, "the store cannot write: writes are refused and /readyz answers 503 until the disk takes writes again");
                }
                state.unwritable = Some(why.clone());
                state.failed = Some((number, why));
            }
        }
        drop(state);
        self.done.notify_all();
        self.finished.send_replace(number);
    }

    /// Fails every flush waited on so far without flushing: what those waiters wrote went to a
    /// database that is about to be replaced. Called with no handle on that database left, so
    /// no write to it can still be on its way to a waiter.
    pub(super) fn fail_everything_so_far(&self, why: &str) {
        let mut state = self.lock();
        state.started += 1;
        let number = state.started;
        state.finished = number;
        state.failed = Some((number, why.to_owned()));
        drop(state);
        self.done.notify_all();
        self.finished.send_replace(number);
    }

    /// The database was reopened: flushes go to it again (the next one tells whether it writes).
    fn writable_again(&self) {
        self.lock().unwritable = None;
    }

    /// The store was dropped: whoever still waits is told their write may not be on disk. A
    /// closed store is not a broken one, so nothing is logged unless someone was waiting.
    fn close_out(&self) {
        let mut state = self.lock();
        let waiting = state.requested > state.finished;
        let number = state.started.max(state.requested);
        state.started = number;
        state.finished = number;
        if waiting {
            let why = "the store was closed before this write reached the disk";
            tracing::warn!(
                reason = why,
                "writes still waited for the disk when the store closed: they are not acknowledged"
            );
            state.failed = Some((number, why.to_owned()));
        }
        drop(state);
        self.done.notify_all();
        self.finished.send_replace(number);
    }
}

/// The committer: flushes when asked (and every [`IDLE_FLUSH_EVERY`] anyway), and while the
/// store cannot write, tries every [`RECOVERY_PROBE_EVERY`] to make it write again.
pub(super) fn spawn(commit: Arc<Commit>, shared: Weak<Shared>) {
    let spawned = std::thread::Builder::new().name("wharf-store-commit".into()).spawn({
        let commit = commit.clone();
        move || run(&commit, &shared)
    });
    if let Err(e) = spawned {
        // Without its thread nothing would ever answer a waiter: answer them all now.
        commit.finish(u64::MAX, Err(format!("the store's commit thread could not start: {e}")));
    }
}

fn run(commit: &Commit, shared: &Weak<Shared>) {
    let mut last_try: Option<Instant> = None;
    loop {
        let unwritable = commit.unwritable();
        let wait = if unwritable.is_some() { RECOVERY_PROBE_EVERY } else { IDLE_FLUSH_EVERY };
        if unwritable.is_some() && last_try.is_none_or(|t| t.elapsed() >= RECOVERY_PROBE_EVERY) {
            last_try = Some(Instant::now());
            let Some(store) = shared.upgrade() else { break };
            match store.reopen(commit) {
                Ok(()) => {
                    commit.writable_again();
                    tracing::info!(
                        "the store takes writes again (the disk has room, or the database answers) and serves"
                    );
                }
                Err(why) => tracing::debug!(reason = %why, "the store cannot write yet"),
            }
        }
        let Some(number) = commit.start(wait) else { break };
        let result = match commit.unwritable() {
            // Until it is reopened, a failed database fails every flush: answer at once.
            Some(why) => Err(why),
            None => match shared.upgrade() {
                Some(store) => store.flush_now().map_err(|e| e.to_string()),
                None => break,
            },
        };
        commit.finish(number, result);
    }
    commit.close_out();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{Books, Store, StoreError};

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("wharf-commit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn closing_tells_waiting_writers_and_calls_nothing_broken() {
        use super::Commit;
        let quiet = Commit::new();
        quiet.close_out();
        assert_eq!(quiet.unwritable(), None, "a closed store is not an unwritable one");

        let busy = Commit::new();
        let ticket = busy.ticket();
        busy.close_out();
        assert!(matches!(busy.wait_blocking(ticket), Err(StoreError::NotDurable(_))), "not acknowledged");
        assert_eq!(busy.unwritable(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_waiting_together_are_all_answered_and_their_writes_are_kept() {
        let dir = temp_dir("together");
        let store = Store::open(&dir).unwrap();
        let mut writers = tokio::task::JoinSet::new();
        for i in 0..64u32 {
            let store = store.clone();
            writers.spawn(async move {
                store.audit().record("acme", &entry(i)).unwrap();
                store.durable().await
            });
        }
        while let Some(answer) = writers.join_next().await {
            answer.unwrap().unwrap();
        }
        let blocking = store.clone();
        tokio::task::spawn_blocking(move || blocking.durable_blocking()).await.unwrap().unwrap();
        assert_eq!(store.unwritable(), None);
        drop(store);
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.audit().recent("acme", 100).unwrap().len(), 64);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A database that cannot be flushed (here: the stand-in left when reopening failed) makes
    /// every wait fail with the reason, and the store says it cannot write; the committer then
    /// reopens the database from disk by itself, and what was on disk is there again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_that_cannot_write_says_so_and_recovers_by_itself() {
        let dir = temp_dir("recovers");
        let store = Store::open(&dir).unwrap();
        store.audit().record("acme", &entry(1)).unwrap();
        store.durable().await.unwrap();
        {
            let db = sled::Config::new().temporary(true).open().unwrap();
            let stand_in = Books::new(
                crate::store::backend::Db::Sled(db),
                store.shared.sealer.clone(),
                true,
                store.shared.quotas.clone(),
                &store.shared.wakeups,
            )
            .unwrap();
            *store.shared.books.write().unwrap() = Arc::new(stand_in);
        }
        match store.durable().await {
            Err(StoreError::NotDurable(why)) => assert!(why.contains("reopened"), "{why}"),
            other => panic!("a stand-in is not durable: {other:?}"),
        }
        assert!(store.unwritable().is_some());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while store.unwritable().is_some() || store.durable().await.is_err() {
            assert!(std::time::Instant::now() < deadline, "the store did not recover: {:?}", store.unwritable());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(store.audit().recent("acme", 10).unwrap(), vec![entry(1)], "what was on disk is back");
        store.audit().record("acme", &entry(2)).unwrap();
        store.durable().await.unwrap();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_temporary_store_commits_too() {
        let store = Store::temporary().unwrap();
        store.audit().record("acme", &entry(1)).unwrap();
        store.durable().await.unwrap();
    }

    fn entry(n: u32) -> super::super::AuditEntry {
        super::super::AuditEntry {
            at: crate::model::Timestamp(1_794_355_200_000),
            actor: "test".into(),
            action: "switch.module".into(),
            detail: serde_json::json!({ "n": n }),
        }
    }
}

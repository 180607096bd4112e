//! Who to wake when the store queues work that is due.
//!
//! Each shop's outbound loop and each tenant's delivery loop would otherwise look at their due
//! indexes every tick whether or not anything was queued: cheap for one shop, but ten thousand
//! idle tenants spent more than a core doing it (the `tenants` bench). So the store signals a
//! loop when it makes something due for it (an update offered, woken or replayed; an order or
//! after-sale owed to the ERP), and an idle loop sleeps until signalled or until its backstop
//! tick, which catches what the store cannot signal: retries coming due, and work another node
//! queued on a shared database.
//!
//! A signal is a [`Notify`] permit: one sent while the loop is busy is kept, so the loop's next
//! wait returns at once and nothing queued meanwhile waits for the backstop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Whose signal: a shop's outbound loop, or a tenant's delivery loop (`shop` = `None`).
type Key = (String, Option<String>);

/// The signals of every loop that listens, shared by the store's views. Cheap to clone.
#[derive(Clone, Default)]
pub struct Wakeups {
    loops: Arc<Mutex<HashMap<Key, Arc<Notify>>>>,
}

impl Wakeups {
    /// The signal of `shop`'s outbound loop.
    pub fn shop(&self, tenant: &str, shop: &str) -> Arc<Notify> {
        self.listen((tenant.to_owned(), Some(shop.to_owned())))
    }

    /// The signal of `tenant`'s delivery loop.
    pub fn deliveries(&self, tenant: &str) -> Arc<Notify> {
        self.listen((tenant.to_owned(), None))
    }

    fn listen(&self, key: Key) -> Arc<Notify> {
        self.lock().entry(key).or_default().clone()
    }

    /// Signals `shop`'s outbound loop, if one listens.
    pub(crate) fn wake_shop(&self, tenant: &str, shop: &str) {
        if let Some(n) = self.lock().get(&(tenant.to_owned(), Some(shop.to_owned()))) {
            n.notify_one();
        }
    }

    /// Signals `tenant`'s delivery loop, if one listens.
    pub(crate) fn wake_deliveries(&self, tenant: &str) {
        if let Some(n) = self.lock().get(&(tenant.to_owned(), None)) {
            n.notify_one();
        }
    }

    /// Drops the signals of `tenant`'s loops once they have stopped (a tenant deleted or
    /// changed), so a host whose tenants come and go keeps none of those gone.
    pub fn forget(&self, tenant: &str) {
        self.lock().retain(|(t, _), _| t != tenant);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Notify>>> {
        // A panic while holding the map leaves it whole (every operation is one insert or read).
        self.loops.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_signal_sent_while_the_loop_is_busy_is_kept_for_its_next_wait() {
        let wakeups = Wakeups::default();
        let (shop, deliveries) = (wakeups.shop("acme", "tb"), wakeups.deliveries("acme"));
        wakeups.wake_shop("acme", "tb");
        wakeups.wake_shop("beta", "tb"); // nobody listens: nothing happens
        tokio::time::timeout(Duration::from_secs(1), shop.notified()).await.expect("the kept permit");
        let waited = tokio::time::timeout(Duration::from_millis(50), deliveries.notified()).await;
        assert!(waited.is_err(), "the delivery loop was not signalled");
        wakeups.wake_deliveries("acme");
        tokio::time::timeout(Duration::from_secs(1), deliveries.notified()).await.expect("signalled");
        wakeups.forget("acme");
        assert!(wakeups.lock().is_empty(), "a stopped tenant's signals are dropped");
    }
}

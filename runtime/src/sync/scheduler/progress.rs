//! The live figures the loops keep per shop, and what `/metrics`, the API and the progress
//! lines make of them with what the store holds.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tracing::{info, warn};

use crate::model::Timestamp;
use crate::store::{Store, StoreError};

/// Whether a shop is working, as progress lines, `/metrics` and the API show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShopState {
    /// Pulling as scheduled (a transient failure or a throttle is still `ok`).
    #[default]
    Ok,
    /// The platform refused the shop's credentials: nothing is pulled until they are fixed.
    /// Tries again with a growing wait (up to [`AUTH_BACKOFF_CAP`](super::AUTH_BACKOFF_CAP)), and at once when the
    /// shop's credentials are updated.
    AuthFailed,
    /// The tenant stores as much as its quota allows (`quota.stored_mib`): new orders and
    /// updates are refused until what is owed drains, dead letters are discarded, or the quota
    /// is raised. Everything else goes on.
    OverQuota,
}

impl ShopState {
    pub fn name(self) -> &'static str {
        match self {
            ShopState::Ok => "ok",
            ShopState::AuthFailed => "auth_failed",
            ShopState::OverQuota => "over_quota",
        }
    }
}

/// One shop's figures since start (pending and dead letters are read from the store).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ShopProgress {
    pub tenant: String,
    pub shop: String,
    /// Order versions stored (new and changed).
    pub pulled: usize,
    /// Order versions the ERP has.
    pub delivered: usize,
    /// Updates the platform confirmed.
    pub pushed: usize,
    /// Deliveries and updates still owed.
    pub pending: usize,
    pub dead_lettered: usize,
    /// Records the plugin could not map, set aside with their reason.
    pub quarantined: usize,
    pub last_error: Option<String>,
    pub state: ShopState,
    /// With `auth_failed`: the platform's own words, when it began, and the next try.
    pub auth_error: Option<String>,
    pub auth_failed_since: Option<Timestamp>,
    pub next_try: Option<Timestamp>,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) pulled: usize,
    pub(super) delivered: usize,
    pub(super) pushed: usize,
    pub(super) last_error: Option<String>,
    pub(super) auth: Option<AuthFailure>,
}

/// The platform refused a shop's credentials.
#[derive(Clone)]
pub(super) struct AuthFailure {
    pub(super) message: String,
    pub(super) since: Timestamp,
    pub(super) next_try: Timestamp,
}

/// Live figures, shared by the loops and whoever shows them.
#[derive(Clone, Default)]
pub struct Progress {
    pub(super) inner: Arc<Mutex<BTreeMap<(String, String), Counters>>>,
    /// Failed deliveries to the ERP, per tenant and route, for `/metrics`.
    pub(super) deliveries: Arc<crate::metrics::Deliveries>,
}

impl Progress {
    pub(super) fn with(&self, tenant: &str, shop: &str, f: impl FnOnce(&mut Counters)) {
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(map.entry((tenant.to_owned(), shop.to_owned())).or_default());
    }

    pub(super) fn forget(&self, tenant: &str) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).retain(|(t, _), _| t != tenant);
        self.deliveries.forget(tenant);
    }

    /// Failed deliveries to the ERP, per tenant and route.
    pub fn deliveries(&self) -> &Arc<crate::metrics::Deliveries> {
        &self.deliveries
    }

    /// Every shop's figures, with what is pending and dead-lettered read from `store`.
    pub fn snapshot(&self, store: &Store) -> Result<Vec<ShopProgress>, StoreError> {
        type Figures = (usize, usize, usize, Option<String>, Option<AuthFailure>);
        let counters: Vec<((String, String), Figures)> = {
            let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            map.iter()
                .map(|(k, c)| (k.clone(), (c.pulled, c.delivered, c.pushed, c.last_error.clone(), c.auth.clone())))
                .collect()
        };
        let mut deliveries: HashMap<String, HashMap<String, usize>> = HashMap::new();
        let mut over_quota: HashMap<String, bool> = HashMap::new();
        let mut out = Vec::new();
        let mut dead_by_tenant: HashMap<String, Vec<String>> = HashMap::new();
        for ((tenant, shop), (pulled, delivered, pushed, last_error, auth)) in counters {
            let dead = dead_by_tenant.entry(tenant.clone()).or_insert_with(|| {
                let mut shops: Vec<String> = store
                    .outbox()
                    .dead_letters(&tenant)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| l.delivery.key.shop_id)
                    .collect();
                shops.extend(store.pushes().dead_letters(&tenant).unwrap_or_default().into_iter().map(|l| l.push.shop));
                shops
            });
            if !deliveries.contains_key(&tenant) {
                deliveries.insert(tenant.clone(), store.outbox().pending_by_shop(&tenant)?);
            }
            let owed = deliveries[&tenant].get(&shop).copied().unwrap_or(0);
            let over = *over_quota.entry(tenant.clone()).or_insert_with(|| store.usage().admit(&tenant).is_err());
            let state = match (&auth, over) {
                (Some(_), _) => ShopState::AuthFailed,
                (None, true) => ShopState::OverQuota,
                (None, false) => ShopState::Ok,
            };
            out.push(ShopProgress {
                pending: owed + store.pushes().pending_count(&tenant, &shop)?,
                dead_lettered: dead.iter().filter(|s| **s == shop).count(),
                quarantined: store.quarantine().list(&tenant, Some(&shop))?.len(),
                tenant,
                shop,
                pulled,
                delivered,
                pushed,
                last_error,
                state,
                auth_error: auth.as_ref().map(|a| a.message.clone()),
                auth_failed_since: auth.as_ref().map(|a| a.since),
                next_try: auth.map(|a| a.next_try),
            });
        }
        Ok(out)
    }
}

pub(super) fn log_progress(progress: &Progress, store: &Store) {
    match progress.snapshot(store) {
        Ok(shops) => {
            for p in shops {
                info!(
                    target: "wharf::progress",
                    tenant = %p.tenant, shop = %p.shop, state = p.state.name(), pulled = p.pulled, delivered = p.delivered,
                    pushed = p.pushed, pending = p.pending, dead_lettered = p.dead_lettered,
                    auth_error = p.auth_error.as_deref().unwrap_or(""),
                    "progress"
                );
            }
        }
        Err(e) => warn!(error = %e, "cannot read progress from the store"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(message: &str, since: i64) -> AuthFailure {
        AuthFailure { message: message.to_owned(), since: Timestamp(since), next_try: Timestamp(since + 30_000) }
    }

    fn of<'a>(shops: &'a [ShopProgress], tenant: &str, shop: &str) -> &'a ShopProgress {
        shops.iter().find(|p| p.tenant == tenant && p.shop == shop).expect("shop in the snapshot")
    }

    #[test]
    fn each_shop_counts_alone_and_a_refused_shop_shows_the_platforms_words() {
        let store = Store::temporary().unwrap();
        let progress = Progress::default();
        progress.with("t", "tb", |c| c.pulled += 3);
        progress.with("t", "tb", |c| c.delivered += 2);
        progress.with("t", "jd", |c| c.auth = Some(refused("session expired (27)", 1_000)));
        progress.with("u", "tb", |c| c.last_error = Some("timed out".to_owned()));
        let shops = progress.snapshot(&store).unwrap();
        assert_eq!(shops.len(), 3);
        let tb = of(&shops, "t", "tb");
        assert_eq!((tb.pulled, tb.delivered, tb.state), (3, 2, ShopState::Ok));
        let jd = of(&shops, "t", "jd");
        assert_eq!(jd.state, ShopState::AuthFailed);
        assert_eq!(jd.auth_error.as_deref(), Some("session expired (27)"));
        assert_eq!((jd.auth_failed_since, jd.next_try), (Some(Timestamp(1_000)), Some(Timestamp(31_000))));
        assert_eq!(of(&shops, "u", "tb").last_error.as_deref(), Some("timed out"), "a transient failure is still ok");
        assert_eq!(of(&shops, "u", "tb").state, ShopState::Ok);
    }

    #[test]
    fn a_tenant_over_its_quota_shows_on_every_shop_but_a_refused_one_says_why_first() {
        let store = Store::temporary().unwrap();
        store.usage().set_quota("t", Some(0));
        let progress = Progress::default();
        progress.with("t", "tb", |_| {});
        progress.with("t", "jd", |c| c.auth = Some(refused("invalid session", 0)));
        progress.with("u", "tb", |_| {});
        let shops = progress.snapshot(&store).unwrap();
        assert_eq!(of(&shops, "t", "tb").state, ShopState::OverQuota);
        assert_eq!(of(&shops, "t", "jd").state, ShopState::AuthFailed, "credentials are fixed first");
        assert_eq!(of(&shops, "u", "tb").state, ShopState::Ok, "another tenant's quota is its own");
    }

    #[test]
    fn a_removed_tenant_leaves_no_figures_behind() {
        let store = Store::temporary().unwrap();
        let progress = Progress::default();
        progress.with("t", "tb", |c| c.pushed += 1);
        progress.with("u", "tb", |c| c.pushed += 1);
        progress.forget("t");
        let shops = progress.snapshot(&store).unwrap();
        assert_eq!(shops.iter().map(|p| p.tenant.as_str()).collect::<Vec<_>>(), ["u"]);
    }

    #[test]
    fn state_names_are_the_ones_the_api_sends() {
        for state in [ShopState::Ok, ShopState::AuthFailed, ShopState::OverQuota] {
            assert_eq!(serde_json::to_value(state).unwrap(), state.name());
        }
    }
}

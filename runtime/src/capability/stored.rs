//! `stored` (contract 0.4.0): which versions of the calling shop's orders the host already
//! stores, so a plugin re-reading an overlap fetches in full only what changed.
//!
//! A shop's loops read each window from a little before the last one ended (late rows), so a
//! busy Taobao shop re-fetched every trade of that overlap, one `fullinfo` call each, out of
//! its platform quota (issue 18: about 90 calls per two-second round in a live test). The
//! answer is only `updated-at` instants of the shop's own orders, which the plugin could read
//! from the platform anyway: nothing of another shop or tenant, nothing secret.

use crate::shop::Shop;
use crate::store::{OrderKey, Store, StoreError};

/// The most ids one question may carry (the contract says so: `wit/since_v0.4.0/stored.wit`):
/// ten of the largest listing pages (TOP's and JOS's `page_size` top out at 100), and a bound
/// on what one call makes the store read.
pub const MAX_IDS: usize = 1_000;

/// What the host stores, as the `stored` import asks it; [`Store`] in a running host.
pub trait Stored: Send + Sync {
    /// The `updated_at` (UTC ms) of the newest stored version of each of `order_ids`, in order.
    fn order_versions(
        &self,
        tenant: &str,
        platform: &str,
        shop_id: &str,
        order_ids: &[String],
    ) -> Result<Vec<Option<i64>>, StoreError>;
}

/// A shop prints its store as no more than that it has one.
impl std::fmt::Debug for dyn Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stored")
    }
}

impl Stored for Store {
    fn order_versions(
        &self,
        tenant: &str,
        platform: &str,
        shop_id: &str,
        order_ids: &[String],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let keys: Vec<OrderKey> = order_ids
            .iter()
            .map(|id| OrderKey { platform: platform.to_owned(), shop_id: shop_id.to_owned(), order_id: id.clone() })
            .collect();
        let asked: Vec<(&str, &OrderKey)> = keys.iter().map(|k| (tenant, k)).collect();
        Ok(self.orders().get_many(&asked)?.into_iter().map(|o| o.map(|o| o.order.updated_at.millis())).collect())
    }
}

/// Why the host could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error("stored.order-versions asked for {asked} ids; the contract allows at most {MAX_IDS} per call")]
    TooMany { asked: usize },
    #[error("the host's store could not be read: {0}")]
    Store(#[from] StoreError),
}

/// The stored versions of `order_ids` of `shop` (of `platform`, the plugin's). A shop the host
/// keeps nothing for (a tool's, a test's) stores nothing: every answer is `None`.
pub fn order_versions(shop: &Shop, platform: &str, order_ids: &[String]) -> Result<Vec<Option<i64>>, StoredError> {
    if order_ids.len() > MAX_IDS {
        return Err(StoredError::TooMany { asked: order_ids.len() });
    }
    match &shop.stored {
        None => Ok(vec![None; order_ids.len()]),
        Some(stored) => Ok(stored.order_versions(&shop.tenant, platform, &shop.shop_id, order_ids)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OrderStatus, Timestamp};
    use crate::store::orders::tests::order;
    use std::sync::Arc;

    const T: i64 = 1_794_355_200_000;

    /// A plugin learns the versions of its own shop's orders and of nothing else: the same ids
    /// in another shop, another tenant or another platform are `None`.
    #[test]
    fn a_shop_learns_its_own_orders_versions_and_nothing_of_anyone_else() {
        let store = Store::temporary().unwrap();
        store.orders().upsert("acme", &order("1", OrderStatus::Paid, T), Timestamp(T)).unwrap();
        let mut newer = order("1", OrderStatus::Shipped, T + 5_000);
        store.orders().upsert("acme", &newer, Timestamp(T + 5_000)).unwrap();
        newer.order_id = "2".into();
        newer.shop_id = "s2".into();
        store.orders().upsert("acme", &newer, Timestamp(T)).unwrap();
        store.orders().upsert("globex", &order("3", OrderStatus::Paid, T), Timestamp(T)).unwrap();

        let ids: Vec<String> = ["1", "2", "3", "4"].map(String::from).into();
        let shop = Shop::new("acme", "s1").with_stored(Arc::new(store.clone()));
        assert_eq!(order_versions(&shop, "taobao", &ids).unwrap(), [Some(T + 5_000), None, None, None]);
        assert_eq!(order_versions(&shop, "jd", &ids).unwrap(), [None; 4]);
        let other_tenant = Shop::new("globex", "s1").with_stored(Arc::new(store.clone()));
        assert_eq!(order_versions(&other_tenant, "taobao", &ids).unwrap(), [None, None, Some(T), None]);
        // A shop the host keeps nothing for (a tool's) answers that it stores nothing.
        assert_eq!(order_versions(&Shop::new("acme", "s1"), "taobao", &ids).unwrap(), [None; 4]);
    }

    #[test]
    fn more_ids_than_the_contract_allows_are_refused() {
        let shop = Shop::new("acme", "s1").with_stored(Arc::new(Store::temporary().unwrap()));
        let ids = vec!["1".to_owned(); MAX_IDS + 1];
        let refused = order_versions(&shop, "taobao", &ids).unwrap_err();
        assert!(matches!(refused, StoredError::TooMany { asked } if asked == MAX_IDS + 1), "{refused}");
        assert_eq!(order_versions(&shop, "taobao", &ids[..MAX_IDS]).unwrap().len(), MAX_IDS);
        // The limit is the contract's: the WIT says the same number.
        assert!(include_str!("../../../wit/since_v0.4.0/stored.wit").contains("At most\n    /// 1,000 ids"));
    }
}

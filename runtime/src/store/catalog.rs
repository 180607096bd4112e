//! Which platform product and SKU each merchant SKU code is, per shop, as learned from the
//! shop's own orders.
//!
//! ERPs speak `outer_sku_id` only; most platforms' push APIs want their own ids (Taobao's
//! `num_iid` + `sku_id`, JD's `skuId`). Every order line that carries all three teaches the
//! host the mapping, so an ERP's stock for `FG-001` reaches the right listing without the
//! operator typing ids in.
//!
//! Learning a SKU's ids makes the shop's updates that waited for them due again (see
//! [`super::Pushes::wake_sku`]).

use serde::{Deserialize, Serialize};

use super::backend::Tree;
use super::{Pushes, StoreError, key};
use crate::model::Order;

pub(super) const TREE: &str = "catalog";

/// A platform's ids for one merchant SKU code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSku {
    #[serde(default)]
    pub product_id: Option<String>,
    #[serde(default)]
    pub sku_id: Option<String>,
}

/// The catalogue tree.
#[derive(Clone)]
pub struct Catalog {
    tree: Tree,
    pushes: Pushes,
}

impl Catalog {
    pub(super) fn new(tree: Tree, pushes: Pushes) -> Self {
        Self { tree, pushes }
    }

    /// Remembers the ids of every line of `order` that has them (writes only what changed),
    /// and wakes the updates that waited for ids it learned.
    pub fn learn(&self, tenant: &str, order: &Order) -> Result<(), StoreError> {
        for line in &order.lines {
            let Some(outer) = line.outer_sku_id.as_deref().filter(|s| !s.is_empty()) else { continue };
            let known = |id: &Option<String>| id.clone().filter(|s| !s.is_empty());
            let ids = PlatformSku { product_id: known(&line.product_id), sku_id: known(&line.sku_id) };
            if ids.product_id.is_none() && ids.sku_id.is_none() {
                continue;
            }
            let k = key(&[tenant, &order.shop_id, outer])?;
            let v = serde_json::to_vec(&ids).map_err(|e| StoreError::Invalid(e.to_string()))?;
            if self.tree.get(&k)?.as_deref() != Some(&v[..]) {
                self.tree.insert(k, v)?;
                let woken = self.pushes.wake_sku(tenant, &order.shop_id, outer)?;
                if woken > 0 {
                    tracing::info!(tenant, shop = %order.shop_id, sku = outer, woken, "learned the platform's ids of a SKU; its waiting updates are due");
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, tenant: &str, shop: &str, outer_sku_id: &str) -> Result<Option<PlatformSku>, StoreError> {
        let k = key(&[tenant, shop, outer_sku_id])?;
        self.tree
            .get(&k)?
            .map(|v| {
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    tree: TREE,
                    key: format!("{tenant}/{shop}/{outer_sku_id}"),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }
}

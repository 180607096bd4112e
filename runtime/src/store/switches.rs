//! Sync switches, per-SKU overrides, manual holds, and stock versions (canonical model, "Sync
//! switches"; seed 002 §3).
//!
//! - A module switch per (tenant, shop, module) pauses that module: what arrives meanwhile is
//!   still stored, and flows when the switch is back on. Switches are on unless turned off.
//! - A per-SKU override turns stock, price or listing sync off for one SKU of a tenant.
//! - A manual hold sets a SKU's stock by hand until an end time; automatic stock updates for
//!   that SKU are kept back until then, so the manual value is not overwritten (the operator
//!   who raised stock for a day against negative selling).
//!
//! Stock versions (an older update never overwrites a newer) live with the queue of pushes,
//! [`super::pushes`], since they are decided per shop as updates are queued and confirmed.

use serde::{Deserialize, Serialize};

use super::backend::Tree;
use super::{StoreError, key};
use crate::model::{Module, Timestamp};

pub(super) const TREE: &str = "switches";

/// A manual stock value and until when it wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hold {
    pub quantity: u32,
    pub until: Timestamp,
    pub note: Option<String>,
}

/// Whether an automatic update may go out now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    Send,
    /// The shop's module switch is off: keep the update for later.
    ModuleOff,
    /// The SKU's override is off for this kind of sync.
    SkuOff,
    /// A manual hold is in force: the update is kept back until it ends.
    Held(Hold),
}

/// What `Switches::list` finds: only what is off, since on is the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SwitchList {
    pub modules_off: Vec<ModuleOff>,
    pub skus_off: Vec<SkuOff>,
    pub holds: Vec<HeldSku>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ModuleOff {
    pub shop: String,
    pub module: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SkuOff {
    pub sku: String,
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HeldSku {
    pub sku: String,
    #[serde(flatten)]
    pub hold: Hold,
}

/// The name operators know a module by, from the one the store keys it by.
fn named(stored: &str) -> String {
    Module::from_stored(stored).map_or(stored, |m| m.name()).to_owned()
}

/// The switches tree. Keys: `m \0 tenant \0 shop \0 module`, `s \0 tenant \0 sku \0 kind`,
/// `h \0 tenant \0 sku`.
#[derive(Clone)]
pub struct Switches {
    tree: Tree,
}

fn corrupt(k: &[u8], e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { tree: TREE, key: String::from_utf8_lossy(k).replace('\0', "/"), reason: e.to_string() }
}

impl Switches {
    pub(super) fn new(tree: Tree) -> Self {
        Self { tree }
    }

    fn flag(&self, k: &[u8]) -> Result<bool, StoreError> {
        Ok(self.tree.get(k)?.is_none_or(|v| v.as_ref() != b"off"))
    }

    fn set_flag(&self, k: Vec<u8>, on: bool) -> Result<(), StoreError> {
        if on {
            self.tree.remove(k)?;
        } else {
            self.tree.insert(k, &b"off"[..])?;
        }
        Ok(())
    }

    /// Turns `module` of a shop on or off.
    pub fn set_module(&self, tenant: &str, shop: &str, module: Module, on: bool) -> Result<(), StoreError> {
        self.set_flag(key(&["m", tenant, shop, module.stored()])?, on)
    }

    pub fn module_on(&self, tenant: &str, shop: &str, module: Module) -> Result<bool, StoreError> {
        self.flag(&key(&["m", tenant, shop, module.stored()])?)
    }

    /// Turns one module's sync of one SKU (by `outer_sku_id`) on or off, for every shop of the
    /// tenant: only the modules whose [`Spec::per_sku`](crate::model::modules::Spec::per_sku) says so.
    pub fn set_sku(&self, tenant: &str, sku: &str, module: Module, on: bool) -> Result<(), StoreError> {
        if !module.spec().per_sku {
            let known = Module::names(Module::per_sku());
            return Err(StoreError::Invalid(format!("`{module}` cannot be switched per SKU ({known} can)")));
        }
        self.set_flag(key(&["s", tenant, sku, module.stored()])?, on)
    }

    pub fn sku_on(&self, tenant: &str, sku: &str, module: Module) -> Result<bool, StoreError> {
        self.flag(&key(&["s", tenant, sku, module.stored()])?)
    }

    /// Holds a SKU's stock at a manual value until `hold.until`.
    pub fn hold(&self, tenant: &str, sku: &str, hold: &Hold) -> Result<(), StoreError> {
        let v = serde_json::to_vec(hold).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.tree.insert(key(&["h", tenant, sku])?, v)?;
        Ok(())
    }

    pub fn release(&self, tenant: &str, sku: &str) -> Result<(), StoreError> {
        self.tree.remove(key(&["h", tenant, sku])?)?;
        Ok(())
    }

    /// What is switched off for `tenant` (everything else is on), and its holds.
    pub fn list(&self, tenant: &str) -> Result<SwitchList, StoreError> {
        let mut out = SwitchList::default();
        for prefix in ["m", "s", "h"] {
            for entry in self.tree.scan_prefix(key(&[prefix, tenant, ""])?) {
                let (k, v) = entry?;
                let parts: Vec<String> =
                    k.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
                match (prefix, parts.as_slice()) {
                    ("m", [_, _, shop, module]) => {
                        out.modules_off.push(ModuleOff { shop: shop.clone(), module: named(module) })
                    }
                    ("s", [_, _, sku, kind]) => out.skus_off.push(SkuOff { sku: sku.clone(), kind: named(kind) }),
                    ("h", [_, _, sku]) => {
                        let hold: Hold = serde_json::from_slice(&v).map_err(|e| corrupt(&k, e))?;
                        out.holds.push(HeldSku { sku: sku.clone(), hold });
                    }
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// The hold in force at `now`, if any (an expired one is not).
    pub fn hold_at(&self, tenant: &str, sku: &str, now: Timestamp) -> Result<Option<Hold>, StoreError> {
        let k = key(&["h", tenant, sku])?;
        let Some(v) = self.tree.get(&k)? else { return Ok(None) };
        let hold: Hold = serde_json::from_slice(&v).map_err(|e| corrupt(&k, e))?;
        Ok((now < hold.until).then_some(hold))
    }

    /// Whether an automatic `kind` update for `sku` of `shop` may go out at `now`. The module
    /// switch is looked at first, then the SKU override, then (stock only) a hold.
    pub fn gate(&self, tenant: &str, shop: &str, sku: &str, kind: Module, now: Timestamp) -> Result<Gate, StoreError> {
        if !self.module_on(tenant, shop, kind)? {
            return Ok(Gate::ModuleOff);
        }
        if !self.sku_on(tenant, sku, kind)? {
            return Ok(Gate::SkuOff);
        }
        if kind == Module::Stock
            && let Some(hold) = self.hold_at(tenant, sku, now)?
        {
            return Ok(Gate::Held(hold));
        }
        Ok(Gate::Send)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    const T: i64 = 1_794_355_200_000;

    #[test]
    fn modules_and_skus_are_on_until_turned_off() {
        let store = Store::temporary().unwrap();
        let s = store.switches();
        assert_eq!(s.gate("acme", "tb-1", "SKU-1", Module::Stock, Timestamp(T)).unwrap(), Gate::Send);
        s.set_module("acme", "tb-1", Module::Stock, false).unwrap();
        assert_eq!(s.gate("acme", "tb-1", "SKU-1", Module::Stock, Timestamp(T)).unwrap(), Gate::ModuleOff);
        assert_eq!(s.gate("acme", "jd-1", "SKU-1", Module::Stock, Timestamp(T)).unwrap(), Gate::Send, "per shop");
        assert_eq!(s.gate("acme", "tb-1", "SKU-1", Module::Prices, Timestamp(T)).unwrap(), Gate::Send, "per module");
        s.set_module("acme", "tb-1", Module::Stock, true).unwrap();
        s.set_sku("acme", "SKU-1", Module::Prices, false).unwrap();
        assert_eq!(s.gate("acme", "tb-1", "SKU-1", Module::Prices, Timestamp(T)).unwrap(), Gate::SkuOff);
        assert_eq!(s.gate("other", "tb-1", "SKU-1", Module::Prices, Timestamp(T)).unwrap(), Gate::Send, "per tenant");
    }

    #[test]
    fn switches_are_keyed_by_the_first_names_and_listed_by_the_current_ones() {
        let store = Store::temporary().unwrap();
        let s = store.switches();
        s.set_sku("acme", "SKU-1", Module::Prices, false).unwrap();
        s.set_module("acme", "tb-1", Module::Lots, false).unwrap();
        // A store written by the first release reads on: its keys are these.
        assert!(s.tree.get(key(&["s", "acme", "SKU-1", "price"]).unwrap()).unwrap().is_some());
        assert!(s.tree.get(key(&["m", "acme", "tb-1", "batches"]).unwrap()).unwrap().is_some());
        let list = s.list("acme").unwrap();
        assert_eq!(list.skus_off, [SkuOff { sku: "SKU-1".into(), kind: "prices".into() }]);
        assert_eq!(list.modules_off, [ModuleOff { shop: "tb-1".into(), module: "lots".into() }]);
        let err = s.set_sku("acme", "SKU-1", Module::Lots, false).unwrap_err().to_string();
        assert!(err.contains("stock, prices, listing"), "{err}");
    }

    #[test]
    fn a_hold_keeps_automatic_stock_back_until_it_ends() {
        let store = Store::temporary().unwrap();
        let s = store.switches();
        let hold = Hold { quantity: 500, until: Timestamp(T + 86_400_000), note: Some("promo day".into()) };
        s.hold("acme", "SKU-1", &hold).unwrap();
        assert_eq!(s.gate("acme", "tb-1", "SKU-1", Module::Stock, Timestamp(T)).unwrap(), Gate::Held(hold.clone()));
        assert_eq!(
            s.gate("acme", "tb-1", "SKU-1", Module::Prices, Timestamp(T)).unwrap(),
            Gate::Send,
            "holds are stock only"
        );
        assert_eq!(
            s.gate("acme", "tb-1", "SKU-1", Module::Stock, Timestamp(T + 86_400_000)).unwrap(),
            Gate::Send,
            "ended"
        );
        s.release("acme", "SKU-1").unwrap();
        assert_eq!(s.hold_at("acme", "SKU-1", Timestamp(T)).unwrap(), None);
    }
}

//! ERP → marketplace updates entering the host, from ERP plugins' pulls and from the API.
//!
//! Each record is queued for every shop of the tenant it concerns (a SKU's stock for every
//! shop whose plugin can push stock; a tracking number for the shop that holds the order),
//! in the store, before the sender hears back: what was acknowledged is never lost. Switches,
//! SKU overrides and holds are applied when updates leave ([`super::outbound`]), so switching
//! a module off pauses it without losing what arrives meanwhile.

use serde::Serialize;
use std::sync::Arc;

use crate::model::{
    AfterSaleAction, CustomerMapping, ErpStatus, InvoiceUpload, ListingChange, Logistics, LotSync, Module, Operation,
    PriceUpdate, Product, ShipmentDetail, StockUpdate, Timestamp,
};
use crate::store::{AuditEntry, Hold, NewPush, Offer, OrderKey, Store, StoreError};

/// The queue of manual stock values (holds), apart from automatic stock so that neither
/// replaces the other.
pub const HOLD_QUEUE: &str = "hold";

/// A batch of updates of one kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    Stock(Vec<StockUpdate>),
    Prices(Vec<PriceUpdate>),
    Lots(Vec<LotSync>),
    Listing(Vec<ListingChange>),
    Products(Vec<Product>),
    Customers(Vec<CustomerMapping>),
    Logistics(Vec<Logistics>),
    Shipments(Vec<ShipmentDetail>),
    ErpStatus(Vec<ErpStatus>),
    /// The merchant's answers to after-sales (agree, refuse, confirm the return).
    AfterSaleActions(Vec<AfterSaleAction>),
    /// Invoices the merchant issued, to upload to their orders.
    Invoices(Vec<InvoiceUpload>),
}

impl Update {
    /// The module it belongs to: its queue, its switch and its push come from the table.
    pub fn module(&self) -> Module {
        match self {
            Update::Stock(_) => Module::Stock,
            Update::Prices(_) => Module::Prices,
            Update::Lots(_) => Module::Lots,
            Update::Listing(_) => Module::Listing,
            Update::Products(_) => Module::Products,
            Update::Customers(_) => Module::Customers,
            Update::Logistics(_) => Module::Logistics,
            Update::Shipments(_) => Module::Shipments,
            Update::ErpStatus(_) => Module::ErpStatus,
            Update::AfterSaleActions(_) => Module::AfterSales,
            Update::Invoices(_) => Module::Invoices,
        }
    }

    /// The marketplace operation that delivers it.
    pub fn operation(&self) -> Operation {
        self.module().spec().push.expect("every update's module goes out to the shops")
    }

    pub fn len(&self) -> usize {
        match self {
            Update::Stock(v) => v.len(),
            Update::Prices(v) => v.len(),
            Update::Lots(v) => v.len(),
            Update::Listing(v) => v.len(),
            Update::Products(v) => v.len(),
            Update::Customers(v) => v.len(),
            Update::Logistics(v) => v.len(),
            Update::Shipments(v) => v.len(),
            Update::ErpStatus(v) => v.len(),
            Update::AfterSaleActions(v) => v.len(),
            Update::Invoices(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each record as (item key, scope, version, JSON); `Err` names what is missing.
    fn records(&self) -> Vec<Result<Record, String>> {
        fn json<T: Serialize>(r: &T) -> serde_json::Value {
            serde_json::to_value(r).expect("canonical records serialize")
        }
        fn non_empty(field: &str, value: &str) -> Result<(), String> {
            if value.is_empty() { Err(format!("`{field}` is empty; expected the merchant's code")) } else { Ok(()) }
        }
        let sku = |sku: &str, version: Option<u64>, record| {
            non_empty("outer_sku_id", sku).map(|()| Record {
                item: sku.to_owned(),
                scope: Scope::AllShops,
                version,
                record,
            })
        };
        // An order can ship in several parcels and deliveries, and pass through several
        // statuses: each is its own update, so a second one never replaces the first unsent.
        let order = |id: &str, part: &str, record| {
            non_empty("order_id", id).map(|()| Record {
                item: format!("{id}#{part}"),
                scope: Scope::OrderShop(id.to_owned()),
                version: None,
                record,
            })
        };
        match self {
            Update::Stock(v) => v.iter().map(|r| sku(&r.outer_sku_id, Some(r.version), json(r))).collect(),
            Update::Prices(v) => v.iter().map(|r| sku(&r.outer_sku_id, None, json(r))).collect(),
            Update::Lots(v) => v.iter().map(|r| sku(&r.outer_sku_id, None, json(r))).collect(),
            Update::Listing(v) => v
                .iter()
                .map(|r| match r.outer_sku_id.as_deref().or(r.product_id.as_deref()).filter(|s| !s.is_empty()) {
                    Some(item) => {
                        Ok(Record { item: item.to_owned(), scope: Scope::AllShops, version: None, record: json(r) })
                    }
                    None => Err("a listing change needs `outer_sku_id` or `product_id`".to_owned()),
                })
                .collect(),
            Update::Products(v) => v
                .iter()
                .map(|r| {
                    non_empty("erp_product_id", &r.erp_product_id).map(|()| Record {
                        item: r.erp_product_id.clone(),
                        scope: Scope::AllShops,
                        version: None,
                        record: json(r),
                    })
                })
                .collect(),
            Update::Customers(v) => v
                .iter()
                .map(|r| {
                    non_empty("erp_customer_code", &r.erp_customer_code).map(|()| Record {
                        item: r.erp_customer_code.clone(),
                        scope: Scope::AllShops,
                        version: None,
                        record: json(r),
                    })
                })
                .collect(),
            Update::Logistics(v) => v.iter().map(|r| order(&r.order_id, &r.tracking_no, json(r))).collect(),
            Update::Shipments(v) => v.iter().map(|r| order(&r.order_id, &digest(&json(&r.lines)), json(r))).collect(),
            Update::ErpStatus(v) => v.iter().map(|r| order(&r.order_id, r.erp_status.name(), json(r))).collect(),
            // One answer per after-sale and decision: a second answer of the same kind replaces
            // an unsent first; a refusal without its reason never leaves.
            Update::AfterSaleActions(v) => v
                .iter()
                .map(|r| {
                    r.check()?;
                    non_empty("after_sale_id", &r.after_sale_id)?;
                    let decision = json(&r.decision);
                    order(
                        &r.order_id,
                        &format!("{}#{}", r.after_sale_id, decision.as_str().unwrap_or_default()),
                        json(r),
                    )
                })
                .collect(),
            // One upload per invoice number on its order: a corrected invoice (红冲 and
            // reissued) has a number of its own and goes as its own upload.
            Update::Invoices(v) => v
                .iter()
                .map(|r| {
                    r.check()?;
                    order(&r.order_id, &format!("invoice#{}", r.invoice_no), json(r))
                })
                .collect(),
        }
    }
}

/// A short, stable name for a record's content (hex of the first 8 bytes of its SHA-256).
fn digest(value: &serde_json::Value) -> String {
    use sha2::Digest as _;
    let bytes = serde_json::to_vec(value).expect("JSON serializes");
    hex::encode(&sha2::Sha256::digest(&bytes)[..8])
}

struct Record {
    item: String,
    scope: Scope,
    /// Stock's version (0: none given).
    version: Option<u64>,
    record: serde_json::Value,
}

enum Scope {
    /// SKU-level data: every shop that can take it.
    AllShops,
    /// Order-level data: the shop the order (by id) came from.
    OrderShop(String),
}

/// A shop updates can go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub shop_id: String,
    pub platform: String,
    /// What its plugin declares it can do.
    pub operations: Vec<Operation>,
}

/// A record refused as a whole, by its position in the batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    pub index: usize,
    pub reason: String,
}

/// What a submission did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// (record, shop) pairs queued.
    pub queued: usize,
    /// Pairs the platform already has as they are.
    pub unchanged: usize,
    /// Pairs older than what is queued or confirmed (stock versions).
    pub stale: usize,
    /// Pairs not queued because the shop's plugin cannot push this kind of record.
    pub unsupported: usize,
    /// Pairs the platform already refused as they are (see the dead letters).
    pub refused: usize,
    pub rejected: Vec<Rejected>,
}

/// One tenant's door for ERP → marketplace updates; cheap to clone.
#[derive(Clone)]
pub struct Intake {
    pub store: Store,
    pub tenant: String,
    /// The tenant's shops as they run now.
    pub shops: Arc<[Target]>,
}

impl Intake {
    /// Queues `update` for the shops it concerns. Refused whole when the tenant is at its
    /// stored quota ([`StoreError::OverQuota`]); a call taken under it is taken whole, so the
    /// quota may be passed by one call (at most `api::erp::MAX_RECORDS_PER_UPDATE` records).
    pub fn submit(&self, update: &Update, now: Timestamp) -> Result<Report, StoreError> {
        self.store.usage().admit(&self.tenant)?;
        let mut report = Report::default();
        let operation = update.operation();
        for (index, record) in update.records().into_iter().enumerate() {
            let record = match record {
                Ok(r) => r,
                Err(reason) => {
                    report.rejected.push(Rejected { index, reason });
                    continue;
                }
            };
            let shops: Vec<&Target> = match record.scope {
                Scope::AllShops => self.shops.iter().collect(),
                Scope::OrderShop(ref order_id) => {
                    let holding = self.shops_holding(order_id)?;
                    if holding.is_empty() {
                        report.rejected.push(Rejected {
                            index,
                            reason: format!(
                                "order `{order_id}` is not an order of any shop of tenant `{}`",
                                self.tenant
                            ),
                        });
                        continue;
                    }
                    holding
                }
            };
            // One version for every shop, so "older than" means the same thing everywhere.
            let version = match record.version {
                Some(0) => Some(self.store.next_version(now.0)?),
                other => other,
            };
            for shop in shops {
                if !shop.operations.contains(&operation) {
                    report.unsupported += 1;
                    continue;
                }
                let offer = NewPush {
                    tenant: &self.tenant,
                    shop: &shop.shop_id,
                    module: update.module().stored(),
                    item: &record.item,
                    record: record.record.clone(),
                    version,
                };
                match self.store.pushes().offer(offer, now.0)? {
                    Offer::Queued => report.queued += 1,
                    Offer::Unchanged => report.unchanged += 1,
                    Offer::Stale => report.stale += 1,
                    Offer::Refused => report.refused += 1,
                }
            }
        }
        Ok(report)
    }

    fn shops_holding(&self, order_id: &str) -> Result<Vec<&Target>, StoreError> {
        let mut out = Vec::new();
        for shop in self.shops.iter() {
            let key = OrderKey {
                platform: shop.platform.clone(),
                shop_id: shop.shop_id.clone(),
                order_id: order_id.to_owned(),
            };
            if self.store.orders().get(&self.tenant, &key)?.is_some() {
                out.push(shop);
            }
        }
        Ok(out)
    }

    /// Sets a SKU's stock by hand until `hold.until`: the manual value goes to every shop that
    /// can take stock, automatic updates are kept back meanwhile, and the last automatic value
    /// is owed again so the platforms return to the ERP's figure when the hold ends.
    pub fn hold(&self, sku: &str, hold: &Hold, actor: &str, now: Timestamp) -> Result<Report, StoreError> {
        self.store.switches().hold(&self.tenant, sku, hold)?;
        let mut report = Report::default();
        let version = self.store.next_version(now.0)?;
        let record = serde_json::to_value(StockUpdate {
            outer_sku_id: sku.to_owned(),
            product_id: None,
            sku_id: None,
            quantity: hold.quantity,
            warehouse: None,
            version,
        })
        .expect("stock updates serialize");
        for shop in self.shops.iter().filter(|s| s.operations.contains(&Operation::PushStock)) {
            let offer = NewPush {
                tenant: &self.tenant,
                shop: &shop.shop_id,
                module: HOLD_QUEUE,
                item: sku,
                record: record.clone(),
                version: Some(version),
            };
            match self.store.pushes().offer(offer, now.0)? {
                Offer::Queued => report.queued += 1,
                Offer::Unchanged => report.unchanged += 1,
                Offer::Stale => report.stale += 1,
                Offer::Refused => report.refused += 1,
            }
            self.store.pushes().offer_confirmed_again(
                &self.tenant,
                &shop.shop_id,
                Module::Stock.stored(),
                sku,
                now.0,
            )?;
        }
        self.audit(actor, "hold.set", serde_json::json!({"sku": sku, "hold": hold}), now)?;
        Ok(report)
    }

    /// Ends a SKU's hold now; kept-back automatic stock flows again.
    pub fn release(&self, sku: &str, actor: &str, now: Timestamp) -> Result<(), StoreError> {
        self.store.switches().release(&self.tenant, sku)?;
        self.wake(Module::Stock, sku, now)?;
        self.audit(actor, "hold.release", serde_json::json!({"sku": sku}), now)
    }

    /// Makes what was kept back for a SKU due now.
    fn wake(&self, module: Module, sku: &str, now: Timestamp) -> Result<(), StoreError> {
        for shop in self.shops.iter() {
            self.store.pushes().wake(&self.tenant, &shop.shop_id, module.stored(), sku, now.0)?;
        }
        Ok(())
    }

    /// Turns a module of a shop on or off.
    pub fn switch_module(
        &self,
        shop: &str,
        module: Module,
        on: bool,
        actor: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.store.switches().set_module(&self.tenant, shop, module, on)?;
        let detail = serde_json::json!({"shop": shop, "module": module.name(), "on": on});
        self.audit(actor, "switch.module", detail, now)
    }

    /// Turns one module's sync of one SKU on or off (the modules [`Module::per_sku`] lists).
    pub fn switch_sku(&self, sku: &str, kind: Module, on: bool, actor: &str, now: Timestamp) -> Result<(), StoreError> {
        self.store.switches().set_sku(&self.tenant, sku, kind, on)?;
        if on {
            self.wake(kind, sku, now)?;
        }
        self.audit(actor, "switch.sku", serde_json::json!({"sku": sku, "kind": kind.name(), "on": on}), now)
    }

    fn audit(&self, actor: &str, action: &str, detail: serde_json::Value, now: Timestamp) -> Result<(), StoreError> {
        self.store
            .audit()
            .record(&self.tenant, &AuditEntry { at: now, actor: actor.to_owned(), action: action.to_owned(), detail })
    }
}

//! What the simulated SAP system holds, typed (the ground truth tests compare with), how it
//! is seeded, and how it is rendered as OData entities.

use serde_json::{Value, json};

use super::odata::{EntitySet, date, date_of, metadata, quantity, time_of};
use crate::rng::SimRng;

/// A manual pricing element as created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub condition_type: String,
    /// Minor units (hundredths) of the order's currency: a rate per unit for price conditions,
    /// an absolute amount otherwise.
    pub amount: i64,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalesOrderItem {
    /// `000010`.
    pub item: String,
    pub material: String,
    /// Thousandths of `unit`.
    pub quantity: i64,
    /// What the availability check confirmed (`ConfdDelivQtyInOrderQtyUnit`), thousandths.
    pub confirmed: i64,
    pub unit: String,
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalesOrder {
    pub sales_order: String,
    pub order_type: String,
    pub sales_org: String,
    pub distribution_channel: String,
    pub division: String,
    pub sold_to: String,
    /// `PurchaseOrderByCustomer`; empty when the order did not come with one.
    pub purchase_order: String,
    pub currency: String,
    pub requested_delivery_ms: Option<i64>,
    pub created_ms: i64,
    /// `LastChangeDateTime`: stamped by changes and by subsequent documents.
    pub last_change_ms: i64,
    /// Every item rejected (`OverallSDDocumentRejectionSts` C): the order is cancelled.
    pub rejected: bool,
    pub items: Vec<SalesOrderItem>,
    pub conditions: Vec<Condition>,
}

/// Condition types whose amount is a rate per unit (the rest are absolute amounts).
pub const PRICE_CONDITION_TYPES: &[&str] = &["PR00", "PPR0"];

impl SalesOrderItem {
    /// Net value in minor units: price conditions × quantity, plus absolute conditions.
    pub fn net(&self) -> i64 {
        self.conditions
            .iter()
            .map(|c| {
                if PRICE_CONDITION_TYPES.contains(&c.condition_type.as_str()) {
                    c.amount * self.quantity / 1000
                } else {
                    c.amount
                }
            })
            .sum()
    }
}

impl SalesOrder {
    /// Items plus header conditions, in minor units.
    pub fn net(&self) -> i64 {
        self.items.iter().map(SalesOrderItem::net).sum::<i64>() + self.conditions.iter().map(|c| c.amount).sum::<i64>()
    }
}

/// One row of `A_MatlStkInAcctMod`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockRow {
    pub material: String,
    pub plant: String,
    pub storage_location: String,
    /// Empty for materials not managed in batches.
    pub batch: String,
    /// `01` unrestricted, `02` quality inspection, `07` blocked.
    pub stock_type: String,
    /// Empty for own stock; `E` sales-order stock, `K` consignment…
    pub special_stock: String,
    pub unit: String,
    /// Thousandths of `unit`.
    pub quantity: i64,
}

/// Batch master data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub material: String,
    pub batch: String,
    /// `YYYY-MM-DD`.
    pub produced_on: String,
    pub expires_on: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryItem {
    /// `000010`; batch split sub-items are `900001`…
    pub item: String,
    pub material: String,
    pub batch: String,
    /// Thousandths of `unit`.
    pub quantity: i64,
    pub unit: String,
    pub sales_order: String,
    pub sales_order_item: String,
    /// The main item of a batch split, `000000` otherwise.
    pub batch_split_of: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub delivery: String,
    pub sales_org: String,
    pub sold_to: String,
    /// When goods issue was posted; `None` while it is not.
    pub goods_issued_ms: Option<i64>,
    pub created_ms: i64,
    pub last_change_ms: i64,
    /// `BillOfLading`: the carrier's waybill number; empty when not known yet.
    pub bill_of_lading: String,
    /// `MeansOfTransport`: the carrier; empty when not known yet.
    pub means_of_transport: String,
    /// `OverallPickingStatus`, `OverallPackingStatus`, `OverallProofOfDeliveryStatus`:
    /// `""` not relevant, `A` not yet, `B` partly, `C` completely.
    pub picking: String,
    pub packing: String,
    pub pod: String,
    pub items: Vec<DeliveryItem>,
}

/// A sales pricing condition record with its one validity period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceRecord {
    /// `ConditionRecord`, 10 digits.
    pub record: String,
    pub condition_type: String,
    pub material: String,
    pub sales_org: String,
    pub distribution_channel: String,
    /// Empty unless the record is one customer's.
    pub customer: String,
    pub customer_price_group: String,
    pub region: String,
    /// `YYYY-MM-DD`, both inclusive.
    pub valid_from: String,
    pub valid_to: String,
    /// Minor units (hundredths) per `per` thousandths of `unit`.
    pub rate: i64,
    pub currency: String,
    /// Thousandths of `unit` the rate is for (1000: per one unit).
    pub per: i64,
    pub unit: String,
    pub deleted: bool,
}

/// One IDoc received on the IDoc-over-HTTP endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedIdoc {
    /// The IDoc number the simulator assigned (16 digits).
    pub docnum: String,
    pub xml: String,
    pub content_type: String,
    pub received_ms: i64,
}

pub const SALES_ORDER_SET: EntitySet = EntitySet {
    name: "A_SalesOrder",
    type_name: "API_SALES_ORDER_SRV.A_SalesOrderType",
    properties: &[
        "SalesOrder",
        "SalesOrderType",
        "SalesOrganization",
        "DistributionChannel",
        "OrganizationDivision",
        "SoldToParty",
        "PurchaseOrderByCustomer",
        "TransactionCurrency",
        "RequestedDeliveryDate",
        "CreationDate",
        "TotalNetAmount",
        "OverallSDProcessStatus",
        "OverallTotalDeliveryStatus",
        "OverallSDDocumentRejectionSts",
        "LastChangeDateTime",
    ],
    navigation: &[
        (
            "to_Item",
            &[
                "SalesOrder",
                "SalesOrderItem",
                "Material",
                "RequestedQuantity",
                "RequestedQuantityUnit",
                "ConfdDelivQtyInOrderQtyUnit",
                "NetAmount",
                "TransactionCurrency",
            ],
        ),
        (
            "to_PricingElement",
            &["SalesOrder", "PricingProcedureCounter", "ConditionType", "ConditionRateValue", "ConditionCurrency"],
        ),
        (
            "to_SubsequentProcFlowDoc",
            &[
                "SalesOrder",
                "DocRelationshipUUID",
                "SubsequentDocument",
                "SubsequentDocumentCategory",
                "ProcessFlowLevel",
                "CreationDate",
                "LastChangeDate",
            ],
        ),
    ],
};

/// `SubsequentDocumentCategory` of an outbound delivery, and of the goods movement (material
/// document) its goods issue posts.
pub const CATEGORY_DELIVERY: &str = "J";
pub const CATEGORY_GOODS_MOVEMENT: &str = "R";

pub const STOCK_SET: EntitySet = EntitySet {
    name: "A_MatlStkInAcctMod",
    type_name: "API_MATERIAL_STOCK_SRV.A_MatlStkInAcctModType",
    properties: &[
        "Material",
        "Plant",
        "StorageLocation",
        "Batch",
        "Supplier",
        "Customer",
        "WBSElementInternalID",
        "SDDocument",
        "SDDocumentItem",
        "InventorySpecialStockType",
        "InventoryStockType",
        "MaterialBaseUnit",
        "MatlWrhsStkQtyInMatlBaseUnit",
    ],
    navigation: &[],
};

pub const DELIVERY_ITEM_PROPERTIES: &[&str] = &[
    "DeliveryDocument",
    "DeliveryDocumentItem",
    "Material",
    "Batch",
    "ActualDeliveryQuantity",
    "DeliveryQuantityUnit",
    "ReferenceSDDocument",
    "ReferenceSDDocumentItem",
    "ReferenceSDDocumentCategory",
    "HigherLvlItmOfBatSpltItm",
    "ManufactureDate",
    "ShelfLifeExpirationDate",
    "Plant",
    "GoodsMovementStatus",
];

pub const DELIVERY_SET: EntitySet = EntitySet {
    name: "A_OutbDeliveryHeader",
    type_name: "API_OUTBOUND_DELIVERY_SRV.A_OutbDeliveryHeaderType",
    properties: &[
        "DeliveryDocument",
        "DeliveryDocumentType",
        "SalesOrganization",
        "SoldToParty",
        "ShipToParty",
        "ShippingPoint",
        "OverallGoodsMovementStatus",
        "OverallPickingStatus",
        "OverallPackingStatus",
        "OverallProofOfDeliveryStatus",
        "ActualGoodsMovementDate",
        "ActualGoodsMovementTime",
        "CreationDate",
        "CreationTime",
        "LastChangeDate",
        "BillOfLading",
        "MeansOfTransport",
        "DeliveryDocumentBySupplier",
        "ShippingCondition",
    ],
    navigation: &[("to_DeliveryDocumentItem", DELIVERY_ITEM_PROPERTIES)],
};

pub const DELIVERY_ITEM_SET: EntitySet = EntitySet {
    name: "A_OutbDeliveryItem",
    type_name: "API_OUTBOUND_DELIVERY_SRV.A_OutbDeliveryItemType",
    properties: DELIVERY_ITEM_PROPERTIES,
    navigation: &[],
};

pub const BATCH_SET: EntitySet = EntitySet {
    name: "A_Batch",
    type_name: "API_BATCH_SRV.A_BatchType",
    properties: &[
        "Material",
        "BatchIdentifyingPlant",
        "Batch",
        "ManufactureDate",
        "ShelfLifeExpirationDate",
        "BatchIsMarkedForDeletion",
    ],
    navigation: &[],
};

pub const PRICE_RECORD_PROPERTIES: &[&str] = &[
    "ConditionRecord",
    "ConditionType",
    "ConditionValidityStartDate",
    "ConditionValidityEndDate",
    "ConditionRateValue",
    "ConditionRateValueUnit",
    "ConditionQuantity",
    "ConditionQuantityUnit",
    "ConditionIsDeleted",
];

pub const PRICE_RECORD_SET: EntitySet = EntitySet {
    name: "A_SlsPrcgConditionRecord",
    type_name: "API_SLSPRICINGCONDITIONRECORD_SRV.A_SlsPrcgConditionRecordType",
    properties: PRICE_RECORD_PROPERTIES,
    navigation: &[],
};

pub const PRICE_VALIDITY_SET: EntitySet = EntitySet {
    name: "A_SlsPrcgCndnRecdValidity",
    type_name: "API_SLSPRICINGCONDITIONRECORD_SRV.A_SlsPrcgCndnRecdValidityType",
    properties: &[
        "ConditionRecord",
        "ConditionValidityEndDate",
        "ConditionValidityStartDate",
        "ConditionType",
        "SalesOrganization",
        "DistributionChannel",
        "Customer",
        "CustomerPriceGroup",
        "Region",
        "SalesDistrict",
        "Material",
    ],
    navigation: &[("to_SlsPrcgConditionRecord", PRICE_RECORD_PROPERTIES)],
};

/// The platform order id a `PurchaseOrderByCustomer` stands for, read the way the SAP plugin
/// reads its own keys back (its `key` module): `<prefix>-<order id>` with a derived prefix
/// (two upper-case letters or digits, then 8 upper-case hex digits, as in `TB3CAEFEF1-1001`)
/// is the order id; any other number is itself. Prefixes an operator configures are not
/// known here: [`super::SapSim::plugin_config`] sets none.
pub fn order_id_of(purchase_order: &str) -> &str {
    let derived = |head: &str| {
        let b = head.as_bytes();
        b.len() == 10
            && b[..2].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && b[2..].iter().all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
    };
    match purchase_order.split_once('-') {
        Some((head, rest)) if !rest.is_empty() && derived(head) => rest,
        _ => purchase_order,
    }
}

/// Hundredths as a two-decimal amount.
pub fn amount(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

/// `OverallTotalDeliveryStatus` of an order: `A` nothing in a delivery, `B` part, `C` all.
pub fn delivery_status(o: &SalesOrder, deliveries: &[Delivery]) -> &'static str {
    let delivered = |item: &SalesOrderItem| -> i64 {
        deliveries
            .iter()
            .flat_map(|d| &d.items)
            .filter(|i| {
                i.sales_order == o.sales_order
                    && i.sales_order_item == item.item
                    && matches!(i.batch_split_of.as_str(), "" | "000000")
            })
            .map(|i| i.quantity)
            .sum()
    };
    let amounts: Vec<(i64, i64)> = o.items.iter().map(|i| (delivered(i), i.quantity)).collect();
    if amounts.iter().all(|(d, _)| *d == 0) {
        "A"
    } else if amounts.iter().all(|(d, q)| d >= q) {
        "C"
    } else {
        "B"
    }
}

pub fn render_sales_order(base: &str, o: &SalesOrder, deliveries: &[Delivery], offset: i32) -> Value {
    let key = format!("'{}'", o.sales_order);
    let items: Vec<Value> = o
        .items
        .iter()
        .map(|i| {
            json!({"SalesOrder": o.sales_order, "SalesOrderItem": i.item, "Material": i.material,
                   "RequestedQuantity": quantity(i.quantity), "RequestedQuantityUnit": i.unit,
                   "ConfdDelivQtyInOrderQtyUnit": quantity(i.confirmed),
                   "NetAmount": amount(i.net()), "TransactionCurrency": o.currency})
        })
        .collect();
    let conditions: Vec<Value> = o
        .conditions
        .iter()
        .enumerate()
        .map(|(n, c)| {
            json!({"SalesOrder": o.sales_order, "PricingProcedureCounter": format!("{:03}", n + 1), "ConditionType": c.condition_type,
                   "ConditionRateValue": amount(c.amount), "ConditionCurrency": c.currency})
        })
        .collect();
    // The document flow: each delivery of the order's items, and the goods movement of each
    // one whose goods issue is posted (numbers sorted: the order SAP lists them in is not
    // documented).
    let mut flow: Vec<(String, &str, i64)> = Vec::new();
    for d in deliveries.iter().filter(|d| d.items.iter().any(|i| i.sales_order == o.sales_order)) {
        flow.push((d.delivery.clone(), CATEGORY_DELIVERY, d.created_ms));
        if let Some(issued) = d.goods_issued_ms {
            flow.push((format!("49{}", d.delivery), CATEGORY_GOODS_MOVEMENT, issued));
        }
    }
    flow.sort();
    let flow: Vec<Value> = flow
        .into_iter()
        .enumerate()
        .map(|(n, (document, category, at))| {
            json!({"SalesOrder": o.sales_order, "DocRelationshipUUID": format!("00000000-0000-0000-0000-{:012}", n + 1),
                   "SubsequentDocument": document, "SubsequentDocumentCategory": category, "ProcessFlowLevel": "01",
                   "CreationDate": date_of(at, offset), "LastChangeDate": date_of(at, offset)})
        })
        .collect();
    json!({
        "__metadata": metadata(base, &SALES_ORDER_SET, &key),
        "SalesOrder": o.sales_order, "SalesOrderType": o.order_type, "SalesOrganization": o.sales_org,
        "DistributionChannel": o.distribution_channel, "OrganizationDivision": o.division, "SoldToParty": o.sold_to,
        "PurchaseOrderByCustomer": o.purchase_order, "TransactionCurrency": o.currency,
        "RequestedDeliveryDate": o.requested_delivery_ms.map(date), "CreationDate": date_of(o.created_ms, offset),
        "TotalNetAmount": amount(o.net()),
        "OverallSDProcessStatus": if o.rejected { "C" } else { delivery_status(o, deliveries) },
        "OverallTotalDeliveryStatus": delivery_status(o, deliveries),
        "OverallSDDocumentRejectionSts": if o.rejected { "C" } else { "A" },
        "LastChangeDateTime": format!("/Date({}+0000)/", o.last_change_ms),
        "to_Item": {"results": items}, "to_PricingElement": {"results": conditions},
        "to_SubsequentProcFlowDoc": {"results": flow},
    })
}

pub fn render_stock(base: &str, r: &StockRow) -> Value {
    let key = format!(
        "Material='{}',Plant='{}',StorageLocation='{}',Batch='{}',InventoryStockType='{}',InventorySpecialStockType='{}'",
        r.material, r.plant, r.storage_location, r.batch, r.stock_type, r.special_stock
    );
    let sales_order_stock = r.special_stock == "E";
    json!({
        "__metadata": metadata(base, &STOCK_SET, &key),
        "Material": r.material, "Plant": r.plant, "StorageLocation": r.storage_location, "Batch": r.batch,
        "Supplier": "", "Customer": "", "WBSElementInternalID": "00000000",
        "SDDocument": if sales_order_stock { "1000000" } else { "" },
        "SDDocumentItem": if sales_order_stock { "000010" } else { "000000" },
        "InventorySpecialStockType": r.special_stock, "InventoryStockType": r.stock_type,
        "MaterialBaseUnit": r.unit, "MatlWrhsStkQtyInMatlBaseUnit": quantity(r.quantity),
    })
}

/// A delivery item, as `A_OutbDeliveryItem` or under its header.
pub fn render_delivery_item(base: &str, d: &Delivery, i: &DeliveryItem, batches: &[Batch]) -> Value {
    let batch = batches.iter().find(|b| b.material == i.material && b.batch == i.batch && !i.batch.is_empty());
    json!({
        "__metadata": metadata(base, &DELIVERY_ITEM_SET, &format!("DeliveryDocument='{}',DeliveryDocumentItem='{}'", d.delivery, i.item)),
        "DeliveryDocument": d.delivery, "DeliveryDocumentItem": i.item, "Material": i.material, "Batch": i.batch,
        "ActualDeliveryQuantity": quantity(i.quantity), "DeliveryQuantityUnit": i.unit,
        "ReferenceSDDocument": i.sales_order, "ReferenceSDDocumentItem": i.sales_order_item,
        "ReferenceSDDocumentCategory": "C", "HigherLvlItmOfBatSpltItm": i.batch_split_of,
        "ManufactureDate": batch.and_then(|b| calendar(&b.produced_on)), "ShelfLifeExpirationDate": batch.and_then(|b| calendar(&b.expires_on)),
        "Plant": "1000", "GoodsMovementStatus": if d.goods_issued_ms.is_some() { "C" } else { "A" },
    })
}

pub fn render_delivery(base: &str, d: &Delivery, batches: &[Batch], offset: i32) -> Value {
    let key = format!("'{}'", d.delivery);
    let issued = d.goods_issued_ms.is_some();
    let items: Vec<Value> = d.items.iter().map(|i| render_delivery_item(base, d, i, batches)).collect();
    json!({
        "__metadata": metadata(base, &DELIVERY_SET, &key),
        "DeliveryDocument": d.delivery, "DeliveryDocumentType": "LF", "SalesOrganization": d.sales_org,
        "SoldToParty": d.sold_to, "ShipToParty": d.sold_to, "ShippingPoint": "1000",
        "OverallGoodsMovementStatus": if issued { "C" } else { "A" }, "OverallPickingStatus": d.picking,
        "OverallPackingStatus": d.packing, "OverallProofOfDeliveryStatus": d.pod,
        "ActualGoodsMovementDate": d.goods_issued_ms.map(|ms| date_of(ms, offset)),
        "ActualGoodsMovementTime": d.goods_issued_ms.map_or_else(|| "PT00H00M00S".to_owned(), |ms| time_of(ms, offset)),
        "CreationDate": date_of(d.created_ms, offset), "CreationTime": time_of(d.created_ms, offset),
        "LastChangeDate": date_of(d.last_change_ms, offset),
        "BillOfLading": d.bill_of_lading, "MeansOfTransport": d.means_of_transport,
        "DeliveryDocumentBySupplier": "", "ShippingCondition": "01",
        "to_DeliveryDocumentItem": {"results": items},
    })
}

/// `/Date(ms)/` of midnight UTC of a `YYYY-MM-DD` date.
fn calendar(text: &str) -> Option<String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| date(d.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis()))
}

pub fn render_batch(base: &str, b: &Batch) -> Value {
    json!({
        "__metadata": metadata(base, &BATCH_SET, &format!("Material='{}',BatchIdentifyingPlant='',Batch='{}'", b.material, b.batch)),
        "Material": b.material, "BatchIdentifyingPlant": "", "Batch": b.batch,
        "ManufactureDate": calendar(&b.produced_on), "ShelfLifeExpirationDate": calendar(&b.expires_on),
        "BatchIsMarkedForDeletion": false,
    })
}

pub fn render_price_record(base: &str, p: &PriceRecord) -> Value {
    json!({
        "__metadata": metadata(base, &PRICE_RECORD_SET, &format!("'{}'", p.record)),
        "ConditionRecord": p.record, "ConditionType": p.condition_type,
        "ConditionValidityStartDate": calendar(&p.valid_from), "ConditionValidityEndDate": calendar(&p.valid_to),
        "ConditionRateValue": format!("{}0000000", amount(p.rate)), "ConditionRateValueUnit": p.currency,
        "ConditionQuantity": quantity(p.per), "ConditionQuantityUnit": p.unit, "ConditionIsDeleted": p.deleted,
    })
}

pub fn render_price_validity(base: &str, p: &PriceRecord) -> Value {
    json!({
        "__metadata": metadata(base, &PRICE_VALIDITY_SET, &format!("ConditionRecord='{}',ConditionValidityEndDate=datetime'{}T00:00:00'", p.record, p.valid_to)),
        "ConditionRecord": p.record, "ConditionType": p.condition_type,
        "ConditionValidityStartDate": calendar(&p.valid_from), "ConditionValidityEndDate": calendar(&p.valid_to),
        "SalesOrganization": p.sales_org, "DistributionChannel": p.distribution_channel, "Customer": p.customer,
        "CustomerPriceGroup": p.customer_price_group, "Region": p.region, "SalesDistrict": "", "Material": p.material,
        "to_SlsPrcgConditionRecord": render_price_record(base, p),
    })
}

/// What [`seed`] builds.
pub struct Seeded {
    pub stock: Vec<StockRow>,
    pub batches: Vec<Batch>,
    pub sales_orders: Vec<SalesOrder>,
    pub deliveries: Vec<Delivery>,
    pub prices: Vec<PriceRecord>,
}

/// Condition types of the seeded prices: the default price, the suggested retail price, region
/// group and customer group prices (as [`super::SapSim::plugin_config`] configures them).
pub const PRICE_LIST_CONDITION_TYPES: &[&str] = &["PR00", "ZSRP", "ZRGP", "ZCPG"];

/// Prices for `materials`, valid today (in any zone) unless said otherwise: PR00 for each, a
/// suggested retail price for every second, a region group (`GD`) and customer group (`02`)
/// price for every third; and records a pull must leave out: expired and future PR00 records,
/// one customer's PR00, another sales organisation's, a deleted one, an unconfigured type.
pub fn seed_prices(materials: &[String], now_ms: i64) -> Vec<PriceRecord> {
    let today = chrono::DateTime::from_timestamp_millis(now_ms).map(|t| t.date_naive()).unwrap_or_default();
    let days = |n: i64| (today + chrono::TimeDelta::days(n)).to_string();
    let mut prices: Vec<PriceRecord> = Vec::new();
    let mut add = |material: &str, condition_type: &str, rate: i64, tweak: &dyn Fn(&mut PriceRecord)| {
        let mut p = PriceRecord {
            record: format!("{:010}", 1_000 + prices.len()),
            condition_type: condition_type.into(),
            material: material.into(),
            sales_org: SALES_AREAS[0].0.into(),
            distribution_channel: SALES_AREAS[0].1.into(),
            customer: String::new(),
            customer_price_group: String::new(),
            region: String::new(),
            valid_from: days(-30),
            valid_to: "9999-12-31".into(),
            rate,
            currency: "CNY".into(),
            per: 1_000,
            unit: "EA".into(),
            deleted: false,
        };
        tweak(&mut p);
        prices.push(p);
    };
    let same = &|_: &mut PriceRecord| {};
    for (m, material) in materials.iter().enumerate() {
        let base = 1_000 + 250 * m as i64;
        add(material, "PR00", base, same);
        add(material, "PR00", base - 100, &|p| p.valid_to = days(-31));
        add(material, "PR00", base + 100, &|p| p.valid_from = days(2));
        add(material, "PR00", base - 50, &|p| p.customer = "C0001".into());
        add(material, "PR00", base - 70, &|p| p.sales_org = SALES_AREAS[1].0.into());
        if m % 2 == 0 {
            add(material, "ZSRP", base * 2, &|p| p.per = 10_000);
        }
        if m % 3 == 0 {
            add(material, "ZRGP", base + 30, &|p| p.region = "GD".into());
            add(material, "ZCPG", base - 20, &|p| p.customer_price_group = "02".into());
            add(material, "ZCPG", base - 40, &|p| {
                p.customer_price_group = "03".into();
                p.deleted = true;
            });
            add(material, "ZXX1", base, same);
        }
    }
    prices
}

/// Sales areas the seeded system knows: the tenant's, and a second company's whose deliveries
/// a plugin must not report.
pub const SALES_AREAS: &[(&str, &str, &str)] = &[("1000", "10", "00"), ("2000", "10", "00")];
/// Plants and storage locations stock is spread over.
pub const PLANTS: &[&str] = &["1000", "2000"];
const STORAGE_LOCATIONS: &[&str] = &["0001", "0002"];

/// Stock for `materials` (every second one managed in batches), with quality-inspection,
/// blocked and sales-order stock rows a plugin must leave out; six sales orders with
/// deliveries covering the cases a plugin must tell apart.
pub fn seed(
    rng: &mut SimRng,
    materials: &[String],
    first_sales_order: u64,
    first_delivery: u64,
    now_ms: i64,
) -> Seeded {
    let mut stock = Vec::new();
    let mut batches = Vec::new();
    for (m, material) in materials.iter().enumerate() {
        let batch_names: Vec<String> = if m % 2 == 1 {
            (1..=1 + rng.below(3)).map(|b| format!("B{:02}{:04}", 25, m * 10 + b as usize)).collect()
        } else {
            vec![String::new()]
        };
        for batch in &batch_names {
            if !batch.is_empty() {
                let produced = chrono::NaiveDate::from_ymd_opt(2025, 1 + rng.below(6) as u32, 1 + rng.below(28) as u32)
                    .unwrap_or_default();
                let expires = produced + chrono::Days::new(730);
                batches.push(Batch {
                    material: material.clone(),
                    batch: batch.clone(),
                    produced_on: produced.to_string(),
                    expires_on: expires.to_string(),
                });
            }
            for plant in PLANTS {
                for sloc in STORAGE_LOCATIONS {
                    if rng.percent(70) {
                        stock.push(StockRow {
                            material: material.clone(),
                            plant: (*plant).to_owned(),
                            storage_location: (*sloc).to_owned(),
                            batch: batch.clone(),
                            stock_type: "01".into(),
                            special_stock: String::new(),
                            unit: "EA".into(),
                            quantity: rng.range(0, 300) * 1000,
                        });
                    }
                }
            }
        }
        for (stock_type, special) in [("02", ""), ("07", ""), ("01", "E")] {
            if rng.percent(40) {
                stock.push(StockRow {
                    material: material.clone(),
                    plant: "1000".into(),
                    storage_location: "0001".into(),
                    batch: batch_names[0].clone(),
                    stock_type: stock_type.into(),
                    special_stock: special.into(),
                    unit: "EA".into(),
                    quantity: rng.range(1, 50) * 1000,
                });
            }
        }
    }

    let day = 86_400_000;
    let mut sales_orders = Vec::new();
    let mut deliveries = Vec::new();
    let pick = |rng: &mut SimRng| materials[rng.below(materials.len() as u64) as usize].clone();
    // Cases: 0 shipped in full; 1 two partial shipments, one with a batch split; 2 goods issue
    // not posted; 3 no tracking number yet; 4 another company's sales area; 5 no purchase order
    // number (an order Wharf did not push).
    for case in 0..6u64 {
        let sales_order = (first_sales_order + case).to_string();
        let (po, area) = match case {
            4 => (format!("{}", 3_100_000_000_000 + case), SALES_AREAS[1]),
            5 => (String::new(), SALES_AREAS[0]),
            _ => (format!("{}", 3_100_000_000_000 + case), SALES_AREAS[0]),
        };
        let created_ms = (now_ms - 2 * day - rng.range(0, day)) / 1000 * 1000;
        let materials_of_order = [pick(rng), pick(rng)];
        let items: Vec<SalesOrderItem> = materials_of_order
            .iter()
            .enumerate()
            .map(|(i, material)| SalesOrderItem {
                item: format!("{:06}", (i + 1) * 10),
                material: material.clone(),
                quantity: rng.range(2, 6) * 1000,
                confirmed: 0,
                unit: "EA".into(),
                conditions: vec![Condition {
                    condition_type: "PR00".into(),
                    amount: rng.range(500, 9_000),
                    currency: "CNY".into(),
                }],
            })
            .collect();
        let order = SalesOrder {
            sales_order: sales_order.clone(),
            order_type: "OR".into(),
            sales_org: area.0.into(),
            distribution_channel: area.1.into(),
            division: area.2.into(),
            sold_to: "C0001".into(),
            purchase_order: po,
            currency: "CNY".into(),
            requested_delivery_ms: Some(created_ms / day * day),
            created_ms,
            last_change_ms: created_ms,
            rejected: false,
            items: items.into_iter().map(|i| SalesOrderItem { confirmed: i.quantity, ..i }).collect(),
            conditions: Vec::new(),
        };
        let shipped_ms = (now_ms - day - rng.range(0, day / 2)) / 1000 * 1000;
        let mut deliver = |items: Vec<DeliveryItem>, issued: bool, tracking: bool| {
            let number = (first_delivery + deliveries.len() as u64).to_string();
            deliveries.push(Delivery {
                delivery: number.clone(),
                sales_org: order.sales_org.clone(),
                sold_to: order.sold_to.clone(),
                goods_issued_ms: issued.then_some(shipped_ms),
                created_ms: shipped_ms - 3_600_000,
                last_change_ms: shipped_ms,
                bill_of_lading: if tracking {
                    format!("SF{}", 1_000_000_000 + deliveries.len() as u64 * 7_919)
                } else {
                    String::new()
                },
                means_of_transport: if tracking { "SF".into() } else { String::new() },
                picking: "C".into(),
                packing: String::new(),
                pod: String::new(),
                items,
            });
        };
        let full_item = |i: &SalesOrderItem, n: usize, qty: i64| DeliveryItem {
            item: format!("{:06}", (n + 1) * 10),
            material: i.material.clone(),
            batch: batches.iter().find(|b| b.material == i.material).map(|b| b.batch.clone()).unwrap_or_default(),
            quantity: qty,
            unit: i.unit.clone(),
            sales_order: sales_order.clone(),
            sales_order_item: i.item.clone(),
            batch_split_of: "000000".into(),
        };
        match case {
            // Shipped in full, with tracking.
            0 | 4 | 5 => {
                deliver(order.items.iter().enumerate().map(|(n, i)| full_item(i, n, i.quantity)).collect(), true, true)
            }
            // Two partial shipments; the second splits its item over two batches.
            1 => {
                let first = &order.items[0];
                deliver(vec![full_item(first, 0, 1000)], true, true);
                let rest = first.quantity - 1000;
                let mut main = full_item(first, 0, rest);
                main.batch = String::new();
                let split = |n: u32, qty: i64, batch: &str| DeliveryItem {
                    item: format!("{}", 900_000 + n),
                    batch: batch.to_owned(),
                    quantity: qty,
                    batch_split_of: main.item.clone(),
                    ..main.clone()
                };
                let items = vec![main.clone(), split(1, 1000, "B25SPLIT1"), split(2, rest - 1000, "B25SPLIT2")];
                deliver(items, true, true);
            }
            // Picked, goods issue not posted yet.
            2 => deliver(vec![full_item(&order.items[0], 0, order.items[0].quantity)], false, false),
            // Goods issued, tracking number not entered yet.
            _ => deliver(vec![full_item(&order.items[1], 1, order.items[1].quantity)], true, false),
        }
        let mut order = order;
        order.last_change_ms = order.last_change_ms.max(shipped_ms);
        sales_orders.push(order);
    }
    let prices = seed_prices(materials, now_ms);
    Seeded { stock, batches, sales_orders, deliveries, prices }
}

/// Which after-sales document: a customer return (`API_CUSTOMER_RETURN_SRV`) or a credit memo
/// request (`API_CREDIT_MEMO_REQUEST_SRV`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundCategory {
    CustomerReturn,
    CreditMemoRequest,
}

impl RefundCategory {
    pub fn set(self) -> EntitySet {
        match self {
            Self::CustomerReturn => CUSTOMER_RETURN_SET,
            Self::CreditMemoRequest => CREDIT_MEMO_REQUEST_SET,
        }
    }

    /// The key property (`CustomerReturn`), and the prefix of the type, item and date ones.
    pub fn name(self) -> &'static str {
        match self {
            Self::CustomerReturn => "CustomerReturn",
            Self::CreditMemoRequest => "CreditMemoRequest",
        }
    }

    /// The document date property (`CustomerReturnDate`, `CreditMemoRequestDate`).
    pub fn date_property(self) -> String {
        format!("{}Date", self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundItem {
    /// `000010`.
    pub item: String,
    pub material: String,
    /// Thousandths of `unit`.
    pub quantity: i64,
    pub unit: String,
    /// `ReferenceSDDocumentItem` of the header's reference; empty without one.
    pub reference_item: String,
    pub conditions: Vec<Condition>,
}

/// A customer return or credit memo request as created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundDocument {
    pub category: RefundCategory,
    /// `CustomerReturn` / `CreditMemoRequest`: the document number.
    pub number: String,
    /// `CustomerReturnType` / `CreditMemoRequestType` (`CBAR`, `CR`).
    pub document_type: String,
    pub sales_org: String,
    pub distribution_channel: String,
    pub division: String,
    pub sold_to: String,
    pub purchase_order: String,
    pub currency: String,
    /// `ReferenceSDDocument`: the sales order it refers to.
    pub reference: String,
    /// `SDDocumentReason`; empty when none.
    pub reason: String,
    pub document_date_ms: Option<i64>,
    pub created_ms: i64,
    pub items: Vec<RefundItem>,
    pub conditions: Vec<Condition>,
}

impl RefundDocument {
    /// Net value in minor units: every condition is an absolute amount (the refund's shares).
    pub fn net(&self) -> i64 {
        self.items.iter().flat_map(|i| &i.conditions).chain(&self.conditions).map(|c| c.amount).sum()
    }
}

pub const CUSTOMER_RETURN_SET: EntitySet = EntitySet {
    name: "A_CustomerReturn",
    type_name: "API_CUSTOMER_RETURN_SRV.A_CustomerReturnType",
    properties: &[
        "CustomerReturn",
        "CustomerReturnType",
        "SalesOrganization",
        "DistributionChannel",
        "OrganizationDivision",
        "SoldToParty",
        "PurchaseOrderByCustomer",
        "TransactionCurrency",
        "SDDocumentReason",
        "ReferenceSDDocument",
        "CustomerReturnDate",
        "CreationDate",
        "TotalNetAmount",
    ],
    navigation: &[(
        "to_Item",
        &[
            "CustomerReturn",
            "CustomerReturnItem",
            "Material",
            "RequestedQuantity",
            "RequestedQuantityUnit",
            "ReferenceSDDocument",
            "ReferenceSDDocumentItem",
            "NetAmount",
            "TransactionCurrency",
        ],
    )],
};

pub const CREDIT_MEMO_REQUEST_SET: EntitySet = EntitySet {
    name: "A_CreditMemoRequest",
    type_name: "API_CREDIT_MEMO_REQUEST_SRV.A_CreditMemoRequestType",
    properties: &[
        "CreditMemoRequest",
        "CreditMemoRequestType",
        "SalesOrganization",
        "DistributionChannel",
        "OrganizationDivision",
        "SoldToParty",
        "PurchaseOrderByCustomer",
        "TransactionCurrency",
        "SDDocumentReason",
        "ReferenceSDDocument",
        "CreditMemoRequestDate",
        "CreationDate",
        "TotalNetAmount",
    ],
    navigation: &[(
        "to_Item",
        &[
            "CreditMemoRequest",
            "CreditMemoRequestItem",
            "Material",
            "RequestedQuantity",
            "RequestedQuantityUnit",
            "ReferenceSDDocument",
            "ReferenceSDDocumentItem",
            "NetAmount",
            "TransactionCurrency",
        ],
    )],
};

pub fn render_refund_document(base: &str, d: &RefundDocument, offset: i32) -> Value {
    let name = d.category.name();
    let items: Vec<Value> = d
        .items
        .iter()
        .map(|i| {
            json!({name: d.number, format!("{name}Item"): i.item, "Material": i.material,
                   "RequestedQuantity": quantity(i.quantity), "RequestedQuantityUnit": i.unit,
                   "ReferenceSDDocument": if i.reference_item.is_empty() { "" } else { d.reference.as_str() },
                   "ReferenceSDDocumentItem": i.reference_item,
                   "NetAmount": amount(i.conditions.iter().map(|c| c.amount).sum()), "TransactionCurrency": d.currency})
        })
        .collect();
    json!({
        "__metadata": metadata(base, &d.category.set(), &format!("'{}'", d.number)),
        name: d.number, format!("{name}Type"): d.document_type, "SalesOrganization": d.sales_org,
        "DistributionChannel": d.distribution_channel, "OrganizationDivision": d.division, "SoldToParty": d.sold_to,
        "PurchaseOrderByCustomer": d.purchase_order, "TransactionCurrency": d.currency,
        "SDDocumentReason": d.reason, "ReferenceSDDocument": d.reference,
        d.category.date_property(): d.document_date_ms.map(date), "CreationDate": date_of(d.created_ms, offset),
        "TotalNetAmount": amount(d.net()),
        "to_Item": {"results": items},
    })
}

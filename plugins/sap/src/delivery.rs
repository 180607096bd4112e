//! `pull-shipments` and `pull-logistics`: goods-issued outbound deliveries from
//! `API_OUTBOUND_DELIVERY_SRV`.
//!
//! A delivery (`A_OutbDeliveryHeader` with `to_DeliveryDocumentItem`) counts once its goods
//! issue is posted (`OverallGoodsMovementStatus` `C`): only then has something left the
//! warehouse. Its items point at the sales order they ship (`ReferenceSDDocument`, category
//! `C`), whose `PurchaseOrderByCustomer` is the key this plugin pushed it under (the shop's
//! prefix and the platform order id, [`crate::key`]); sales
//! orders are looked up in batches. Items of sales orders without a purchase order number
//! (not pushed by Wharf) are left out.
//!
//! - Shipment details: one per delivery and order, with the items actually delivered
//!   (`Material`, `ActualDeliveryQuantity` in whole units, `Batch`, `ManufactureDate`,
//!   `ShelfLifeExpirationDate`). Two deliveries for one order are two partial shipments. In a
//!   batch split the main item carries the total and its sub-items
//!   (`HigherLvlItmOfBatSpltItm`) the batches: the main item is left out so nothing counts
//!   twice.
//! - Logistics: one per delivery and order, with the tracking number and carrier from the
//!   header fields named in `tracking_field` / `carrier_field` (see
//!   [`crate::settings::DEFAULT_TRACKING_FIELD`], where the UNSURE choice lives) and the goods
//!   issue date and time as `shipped_at`. A delivery without them yet is left out (and
//!   logged); it is reported when a later pull sees it changed.
//!
//! The window selects deliveries by `LastChangeDate`, which SAP keeps as a date only: the
//! days the window touches (in the SAP system's zone) are asked, so a delivery changed on a
//! day two windows share is reported by both, and consumers must take a repeat as the same
//! shipment. Deliveries are restricted to the tenant's sales organisation. Pages are ordered
//! by delivery number with a key-set cursor (`DeliveryDocument gt '<last>'`).

use std::collections::BTreeMap;

use serde_json::Value;
use wharf_sdk::json::Node;
use wharf_sdk::time;
use wharf_sdk::types::{
    ConnectorError, Logistics, LogisticsPage, PullRequest, ShipmentDetail, ShipmentLine,
    ShipmentPage,
};

use crate::odata::{self, Client, Failure, Query};
use crate::sales_order;
use crate::settings::Settings;
use crate::transport::Transport;

pub const SERVICE: &str = "API_OUTBOUND_DELIVERY_SRV;v=0002";
pub const ENTITY_SET: &str = "A_OutbDeliveryHeader";
pub const ITEMS: &str = "to_DeliveryDocumentItem";
/// `OverallGoodsMovementStatus`: C = completely processed (goods issue posted).
pub const GOODS_ISSUED: &str = "C";
/// `ReferenceSDDocumentCategory` of a sales order.
pub const SALES_ORDER_CATEGORY: &str = "C";
const HEADER_FIELDS: &[&str] = &[
    "DeliveryDocument",
    "SalesOrganization",
    "OverallGoodsMovementStatus",
    "ActualGoodsMovementDate",
    "ActualGoodsMovementTime",
    "LastChangeDate",
];
const ITEM_FIELDS: &[&str] = &[
    "DeliveryDocument",
    "DeliveryDocumentItem",
    "Material",
    "Batch",
    "ActualDeliveryQuantity",
    "DeliveryQuantityUnit",
    "ReferenceSDDocument",
    "ReferenceSDDocumentCategory",
    "HigherLvlItmOfBatSpltItm",
    "ManufactureDate",
    "ShelfLifeExpirationDate",
];
/// Cursors this module writes: `delivery1:<last delivery of the previous page>`.
pub const CURSOR_PREFIX: &str = "delivery1:";
/// Sales orders asked per lookup: 20 `or`-ed clauses keep the URL near 1 KB, well inside
/// SAP's (and proxies') URL limits.
pub const SALES_ORDERS_PER_LOOKUP: usize = 20;

/// One delivery as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub document: String,
    pub goods_issued_ms: Option<i64>,
    pub tracking_no: Option<String>,
    pub carrier: Option<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub item: String,
    pub material: String,
    pub batch: Option<String>,
    pub quantity: u32,
    pub sales_order: Option<String>,
    pub batch_split_of: Option<String>,
    pub produced_on: Option<String>,
    pub expires_on: Option<String>,
}

/// One page of deliveries, and the platform order id of each sales order they ship.
struct Page {
    deliveries: Vec<Delivery>,
    purchase_orders: BTreeMap<String, String>,
    next_cursor: Option<String>,
}

/// The `$select` of headers with their items.
fn select(settings: &Settings) -> String {
    let mut fields: Vec<String> = HEADER_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    for extra in [&settings.tracking_field, &settings.carrier_field] {
        if !fields.contains(extra) {
            fields.push(extra.clone());
        }
    }
    fields.extend(ITEM_FIELDS.iter().map(|f| format!("{ITEMS}/{f}")));
    fields.join(",")
}

/// The goods issue instant: `ActualGoodsMovementDate` (a date) at `ActualGoodsMovementTime`
/// in the SAP system's zone.
fn goods_issue_ms(header: &Node<'_>, offset_minutes: i32) -> Result<Option<i64>, ConnectorError> {
    let Some(date) = odata::opt_date(header, "ActualGoodsMovementDate")? else {
        return Ok(None);
    };
    let seconds = match header.opt_str("ActualGoodsMovementTime")? {
        None => 0,
        Some(t) => odata::time_of_day(&t)
            .map_err(|reason| header.error_at("ActualGoodsMovementTime", reason))?,
    };
    let midnight = time::calendar_date_to_ms(&date)
        .map_err(|e| header.error_at("ActualGoodsMovementDate", e.to_string()))?;
    Ok(Some(
        midnight + i64::from(seconds) * 1_000 - i64::from(offset_minutes) * 60_000,
    ))
}

/// Reads one header with its items.
pub fn parse_delivery(
    value: &Value,
    path: String,
    settings: &Settings,
) -> Result<Delivery, ConnectorError> {
    let header = Node::root(value, path);
    let document = header.str("DeliveryDocument")?;
    let items_node = header.required(ITEMS)?;
    let items_node = match items_node.field("results") {
        Some(results) => results,
        None => items_node,
    };
    let mut items = Vec::new();
    for item in items_node.elements()? {
        let category = item.opt_str("ReferenceSDDocumentCategory")?;
        let sales_order = item.opt_str("ReferenceSDDocument")?.filter(|_| {
            category
                .as_deref()
                .is_none_or(|c| c == SALES_ORDER_CATEGORY)
        });
        let thousandths = odata::quantity_thousandths(&item, "ActualDeliveryQuantity")?;
        let quantity = odata::whole_units(thousandths)
            .map_err(|reason| item.error_at("ActualDeliveryQuantity", reason))?;
        items.push(Item {
            item: item.str("DeliveryDocumentItem")?,
            material: item.str("Material")?,
            batch: item.opt_str("Batch")?,
            quantity,
            sales_order,
            batch_split_of: item
                .opt_str("HigherLvlItmOfBatSpltItm")?
                .filter(|h| !h.trim_start_matches('0').is_empty()),
            produced_on: odata::opt_date(&item, "ManufactureDate")?,
            expires_on: odata::opt_date(&item, "ShelfLifeExpirationDate")?,
        });
    }
    Ok(Delivery {
        goods_issued_ms: goods_issue_ms(&header, settings.utc_offset_minutes)?,
        tracking_no: header
            .opt_str(&settings.tracking_field)?
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()),
        carrier: header
            .opt_str(&settings.carrier_field)?
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty()),
        document,
        items,
    })
}

/// The platform order id (from `PurchaseOrderByCustomer`, see [`crate::key`]) of each of
/// `sales_orders` that has one.
fn purchase_orders<T: Transport>(
    client: &mut Client<'_, T>,
    sales_orders: &[String],
) -> Result<BTreeMap<String, String>, Failure> {
    let mut found = BTreeMap::new();
    for chunk in sales_orders.chunks(SALES_ORDERS_PER_LOOKUP) {
        let query = Query::new()
            .with(
                "$filter",
                odata::any_eq("SalesOrder", chunk.iter().map(String::as_str)),
            )
            .with("$select", "SalesOrder,PurchaseOrderByCustomer")
            .with("$top", chunk.len().to_string());
        let answer = client.get(sales_order::SERVICE, sales_order::ENTITY_SET, &query)?;
        for (i, row) in answer.results.iter().enumerate() {
            let node = Node::root(row, format!("{}.d.results[{i}]", sales_order::ENTITY_SET));
            if let Some(po) = node.opt_str("PurchaseOrderByCustomer")? {
                let order_id = client.settings().po_prefixes.order_id(&po).to_owned();
                found.insert(node.str("SalesOrder")?, order_id);
            }
        }
    }
    Ok(found)
}

/// One page of goods-issued deliveries of the tenant's sales organisation.
fn page<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
) -> Result<Page, ConnectorError> {
    let after = odata::cursor_key(request.cursor.as_deref(), CURSOR_PREFIX)?;
    let mut filter = vec![
        odata::eq("OverallGoodsMovementStatus", GOODS_ISSUED),
        odata::eq("SalesOrganization", &settings.header.sales_org),
    ];
    if let Some(window) = &request.window {
        odata::check_window(window)?;
        let first = time::ms_to_calendar_date(window.from, settings.utc_offset_minutes);
        let last = time::ms_to_calendar_date(window.to - 1, settings.utc_offset_minutes);
        filter.push(format!("LastChangeDate ge {}", odata::date_literal(&first)));
        filter.push(format!("LastChangeDate le {}", odata::date_literal(&last)));
    }
    if let Some(document) = &after {
        filter.push(format!("DeliveryDocument gt {}", odata::literal(document)));
    }
    let query = Query::new()
        .with("$filter", odata::all(&filter))
        .with("$select", select(settings))
        .with("$expand", ITEMS)
        .with("$orderby", "DeliveryDocument")
        .with("$top", settings.page_size.to_string())
        .with("$inlinecount", "allpages");
    let mut client = Client::new(transport, settings);
    let answer = client.get(SERVICE, ENTITY_SET, &query)?;
    let mut deliveries = Vec::with_capacity(answer.results.len());
    for (i, row) in answer.results.iter().enumerate() {
        deliveries.push(parse_delivery(
            row,
            format!("{ENTITY_SET}.d.results[{i}]"),
            settings,
        )?);
    }
    let more = match answer.count {
        Some(count) => count > deliveries.len() as u64,
        None => answer.next.is_some() || deliveries.len() == settings.page_size as usize,
    };
    let next_cursor = match deliveries.last() {
        Some(last) if more => Some(format!("{CURSOR_PREFIX}{}", last.document)),
        _ => None,
    };
    let mut sales_orders: Vec<String> = deliveries
        .iter()
        .flat_map(|d| d.items.iter().filter_map(|i| i.sales_order.clone()))
        .collect();
    sales_orders.sort();
    sales_orders.dedup();
    let purchase_orders = purchase_orders(&mut client, &sales_orders)?;
    Ok(Page {
        deliveries,
        purchase_orders,
        next_cursor,
    })
}

/// The platform order id of each item Wharf pushed, grouped per order in item order; batch
/// split main items are left out.
fn lines_by_order<'d>(
    delivery: &'d Delivery,
    purchase_orders: &BTreeMap<String, String>,
) -> Vec<(String, Vec<&'d Item>)> {
    let split_mains: Vec<&str> = delivery
        .items
        .iter()
        .filter_map(|i| i.batch_split_of.as_deref())
        .collect();
    let mut groups: Vec<(String, Vec<&Item>)> = Vec::new();
    for item in &delivery.items {
        if split_mains.contains(&item.item.as_str()) || item.quantity == 0 {
            continue;
        }
        let Some(po) = item
            .sales_order
            .as_ref()
            .and_then(|so| purchase_orders.get(so))
        else {
            continue;
        };
        match groups.iter_mut().find(|(order, _)| order == po) {
            Some((_, items)) => items.push(item),
            None => groups.push((po.clone(), vec![item])),
        }
    }
    groups
}

pub fn pull_shipments<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
) -> Result<ShipmentPage, ConnectorError> {
    let page = page(transport, settings, request)?;
    let mut items = Vec::new();
    for delivery in &page.deliveries {
        for (order_id, lines) in lines_by_order(delivery, &page.purchase_orders) {
            items.push(ShipmentDetail {
                order_id,
                lines: lines
                    .into_iter()
                    .map(|i| ShipmentLine {
                        outer_sku_id: i.material.clone(),
                        quantity: i.quantity,
                        batch_no: i.batch.clone(),
                        produced_on: i.produced_on.clone(),
                        expires_on: i.expires_on.clone(),
                    })
                    .collect(),
            });
        }
    }
    Ok(ShipmentPage {
        items,
        next_cursor: page.next_cursor,
    })
}

pub fn pull_logistics<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
) -> Result<LogisticsPage, ConnectorError> {
    let page = page(transport, settings, request)?;
    let mut items = Vec::new();
    for delivery in &page.deliveries {
        let orders = lines_by_order(delivery, &page.purchase_orders);
        if orders.is_empty() {
            continue;
        }
        let (Some(tracking_no), Some(carrier_code), Some(shipped_at)) = (
            &delivery.tracking_no,
            &delivery.carrier,
            delivery.goods_issued_ms,
        ) else {
            transport.note("goods-issued delivery without tracking number, carrier or goods issue time; left for a later pull", &[
                ("delivery", delivery.document.clone()),
                ("tracking_field", settings.tracking_field.clone()),
                ("carrier_field", settings.carrier_field.clone()),
            ]);
            continue;
        };
        for (order_id, _) in orders {
            items.push(Logistics {
                order_id,
                carrier_code: carrier_code.clone(),
                tracking_no: tracking_no.clone(),
                shipped_at,
            });
        }
    }
    Ok(LogisticsPage {
        items,
        next_cursor: page.next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};
    use serde_json::json;
    use wharf_sdk::types::TimeWindow;

    fn item(n: &str, material: &str, qty: &str, batch: &str, so: &str, split_of: &str) -> Value {
        json!({"DeliveryDocument": "80000001", "DeliveryDocumentItem": n, "Material": material, "Batch": batch,
               "ActualDeliveryQuantity": qty, "DeliveryQuantityUnit": "EA", "ReferenceSDDocument": so,
               "ReferenceSDDocumentCategory": "C", "HigherLvlItmOfBatSpltItm": split_of,
               "ManufactureDate": if batch.is_empty() { Value::Null } else { json!("/Date(1735689600000)/") },
               "ShelfLifeExpirationDate": if batch.is_empty() { Value::Null } else { json!("/Date(1798761600000)/") }})
    }

    fn header(document: &str, tracking: &str, items: Vec<Value>) -> Value {
        json!({"DeliveryDocument": document, "SalesOrganization": "1000", "OverallGoodsMovementStatus": "C",
               "ActualGoodsMovementDate": "/Date(1748563200000)/", "ActualGoodsMovementTime": "PT14H30M00S",
               "LastChangeDate": "/Date(1748563200000)/", "BillOfLading": tracking, "MeansOfTransport": "SF",
               "to_DeliveryDocumentItem": {"results": items}})
    }

    fn answers(
        headers: Vec<Value>,
        count: u64,
        orders: &str,
    ) -> Vec<Result<wharf_sdk::http::Response, ConnectorError>> {
        vec![
            json(
                200,
                &json!({"d": {"results": headers, "__count": count.to_string()}}).to_string(),
            ),
            json(200, orders),
        ]
    }

    const ORDERS: &str = r#"{"d":{"results":[{"SalesOrder":"100","PurchaseOrderByCustomer":"T-1"},{"SalesOrder":"101","PurchaseOrderByCustomer":"T-2"},{"SalesOrder":"102","PurchaseOrderByCustomer":""}]}}"#;

    fn deliveries() -> Vec<Value> {
        vec![
            header(
                "80000001",
                "SF1001",
                vec![
                    item("000010", "FG-001", "3.000", "", "100", "000000"),
                    item("900001", "FG-001", "2.000", "B1", "100", "000010"),
                    item("900002", "FG-001", "1.000", "B2", "100", "000010"),
                    item("000020", "FG-002", "1.000", "", "101", ""),
                    item("000030", "FG-009", "1.000", "", "102", ""),
                ],
            ),
            header(
                "80000002",
                "",
                vec![item("000010", "FG-002", "1", "", "101", "")],
            ),
        ]
    }

    #[test]
    fn shipments_split_per_order_without_counting_batch_splits_twice() {
        let s = settings(&[("page_size", "2")]);
        let mut t = Scripted::answering(answers(deliveries(), 3, ORDERS));
        let request = PullRequest {
            window: Some(TimeWindow {
                from: 1_748_563_200_000,
                to: 1_748_649_600_000,
            }),
            cursor: Some("delivery1:80000000".into()),
        };
        let page = pull_shipments(&mut t, &s, &request).unwrap();
        type Lines = Vec<(String, u32, Option<String>)>;
        let summary: Vec<(String, Lines)> = page
            .items
            .iter()
            .map(|d| {
                (
                    d.order_id.clone(),
                    d.lines
                        .iter()
                        .map(|l| (l.outer_sku_id.clone(), l.quantity, l.batch_no.clone()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "T-1".to_owned(),
                    vec![
                        ("FG-001".to_owned(), 2, Some("B1".to_owned())),
                        ("FG-001".to_owned(), 1, Some("B2".to_owned()))
                    ]
                ),
                ("T-2".to_owned(), vec![("FG-002".to_owned(), 1, None)]),
                ("T-2".to_owned(), vec![("FG-002".to_owned(), 1, None)]),
            ]
        );
        assert_eq!(
            page.items[0].lines[0].produced_on.as_deref(),
            Some("2025-01-01")
        );
        assert_eq!(
            page.items[0].lines[0].expires_on.as_deref(),
            Some("2027-01-01")
        );
        assert_eq!(page.next_cursor.as_deref(), Some("delivery1:80000002"));
        let url = t.url(0);
        assert!(url.starts_with("https://my-s4.example.com/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/A_OutbDeliveryHeader?"), "{url}");
        assert!(
            url.contains(
                "$filter=OverallGoodsMovementStatus eq 'C' and SalesOrganization eq '1000' \
                 and LastChangeDate ge datetime'2025-05-30T00:00:00' and LastChangeDate le datetime'2025-05-31T00:00:00' \
                 and DeliveryDocument gt '80000000'"
            ),
            "{url}"
        );
        assert!(url.contains("$expand=to_DeliveryDocumentItem&$orderby=DeliveryDocument&$top=2&$inlinecount=allpages"), "{url}");
        assert!(
            url.contains(
                ",BillOfLading,MeansOfTransport,to_DeliveryDocumentItem/DeliveryDocument,"
            ),
            "{url}"
        );
        assert!(
            t.url(1).contains(
                "$filter=(SalesOrder eq '100' or SalesOrder eq '101' or SalesOrder eq '102')"
            ),
            "{}",
            t.url(1)
        );
    }

    #[test]
    fn logistics_need_a_tracking_number() {
        let s = settings(&[]);
        let mut t = Scripted::answering(answers(deliveries(), 2, ORDERS));
        let page = pull_logistics(
            &mut t,
            &s,
            &PullRequest {
                window: None,
                cursor: None,
            },
        )
        .unwrap();
        // 2025-05-30 14:30 in Shanghai = 06:30 UTC.
        let shipped_at = 1_748_563_200_000 + (6 * 3_600 + 30 * 60) * 1_000;
        assert_eq!(
            page.items,
            vec![
                Logistics {
                    order_id: "T-1".into(),
                    carrier_code: "SF".into(),
                    tracking_no: "SF1001".into(),
                    shipped_at
                },
                Logistics {
                    order_id: "T-2".into(),
                    carrier_code: "SF".into(),
                    tracking_no: "SF1001".into(),
                    shipped_at
                },
            ]
        );
        assert_eq!(page.next_cursor, None);
        assert_eq!(t.notes.len(), 1);
        assert!(!t.url(0).contains("LastChangeDate ge"));
    }

    #[test]
    fn other_header_fields_can_carry_tracking() {
        let s = settings(&[
            ("tracking_field", "DeliveryDocumentBySupplier"),
            ("carrier_field", "ShippingCondition"),
        ]);
        assert!(
            select(&s).contains("LastChangeDate,DeliveryDocumentBySupplier,ShippingCondition,to_")
        );
    }

    #[test]
    fn bad_rows_and_cursors_are_named() {
        let s = settings(&[]);
        let mut bad = deliveries();
        bad[0]["to_DeliveryDocumentItem"]["results"][3]["ActualDeliveryQuantity"] = json!("1.500");
        let mut t = Scripted::answering(answers(bad, 2, ORDERS));
        match pull_shipments(
            &mut t,
            &s,
            &PullRequest {
                window: None,
                cursor: None,
            },
        ) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(
                    f.field,
                    "A_OutbDeliveryHeader.d.results[0].to_DeliveryDocumentItem.results[3].ActualDeliveryQuantity"
                )
            }
            other => panic!("{other:?}"),
        }
        let mut t = Scripted::default();
        assert!(matches!(
            pull_shipments(&mut t, &s, &PullRequest { window: None, cursor: Some("stock1:x".into()) }),
            Err(ConnectorError::InvalidInput(f)) if f.field == "cursor"
        ));
    }
}

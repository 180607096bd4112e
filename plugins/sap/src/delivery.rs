//! `pull-shipments` and `pull-logistics`: goods-issued outbound deliveries from
//! `API_OUTBOUND_DELIVERY_SRV;v=0002`, reached through the sales orders Wharf pushed.
//!
//! SAP's metadata lets no property of a delivery be filtered on, so deliveries are found the
//! way [`crate::flow`] describes: the sales orders of the tenant's sales organisation with a
//! `PurchaseOrderByCustomer`, changed in the window (`LastChangeDateTime`, `[from, to)`),
//! page by page with a key-set cursor (`SalesOrder gt '<last>'`), and the outbound deliveries
//! in their document flow, each read by key (`A_OutbDeliveryHeader('<number>')` with
//! `to_DeliveryDocumentItem`). A delivery counts once its goods issue is posted
//! (`OverallGoodsMovementStatus` `C`: only then has something left the warehouse) and it
//! belongs to the tenant's sales organisation; both are checked on what was read. Of a
//! delivery, an order is reported the items that ship it (`ReferenceSDDocument` = the sales
//! order, category `C`); a delivery shipping several orders is reported with each of them.
//! The order is named by its platform order id, read back from its key ([`crate::key`]).
//!
//! - Shipment details: one per order and delivery, with the items actually delivered
//!   (`Material`, `ActualDeliveryQuantity` in whole units, `Batch`, `ManufactureDate`,
//!   `ShelfLifeExpirationDate`). Two deliveries for one order are two partial shipments. In a
//!   batch split the main item carries the total and its sub-items
//!   (`HigherLvlItmOfBatSpltItm`) the batches: the main item is left out so nothing counts
//!   twice.
//! - Logistics: one per order and delivery, with the tracking number and carrier from the
//!   header fields named in `tracking_field` / `carrier_field` (see
//!   [`crate::settings::DEFAULT_TRACKING_FIELD`], where the UNSURE choice lives) and the goods
//!   issue date and time as `shipped_at`. A delivery without them yet is left out (and
//!   logged); it is reported when a later pull sees its order changed (UNSURE, see
//!   [`crate::flow`]: a tracking number entered after goods issue does not change the order).
//!
//! A delivery that cannot be read (a missing field, a quantity that is not a whole number of
//! units, an unreadable date) is rejected, named by its delivery number, and what it shipped
//! is not reported; the other deliveries of the page, also of the same orders, are. A sales
//! order row that cannot be read is rejected by [`crate::flow`].
//!
//! Pages follow sales orders (in number order; each order's deliveries in number order), so
//! a sales order changed in two overlapping windows is reported by both, and consumers must
//! take a repeat as the same shipment.

use std::collections::BTreeMap;

use serde_json::Value;
use wharf_sdk::json::Node;
use wharf_sdk::reject;
use wharf_sdk::time;
use wharf_sdk::types::{
    ConnectorError, Logistics, LogisticsPage, PullRequest, Rejected, ShipmentDetail, ShipmentLine, ShipmentPage,
};

use crate::flow::{self, ChangedOrder};
use crate::odata::{self, Client, Query};
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
/// Cursors this module writes: `delivery2:<last sales order of the previous page>`.
pub const CURSOR_PREFIX: &str = "delivery2:";
/// Cursors of earlier versions, which walked deliveries: one the host saved before an upgrade
/// restarts its window from the first page (repeats are harmless), rather than failing the
/// stream for good.
pub const OLD_CURSOR_PREFIX: &str = "delivery1:";

/// One delivery as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub document: String,
    pub sales_org: Option<String>,
    /// `OverallGoodsMovementStatus` is `C`.
    pub goods_issued: bool,
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

/// The `$select` of a header with its items.
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
        Some(t) => odata::time_of_day(&t).map_err(|reason| header.error_at("ActualGoodsMovementTime", reason))?,
    };
    let midnight =
        time::calendar_date_to_ms(&date).map_err(|e| header.error_at("ActualGoodsMovementDate", e.to_string()))?;
    Ok(Some(midnight + i64::from(seconds) * 1_000 - i64::from(offset_minutes) * 60_000))
}

/// Reads one header with its items.
pub fn parse_delivery(value: &Value, path: String, settings: &Settings) -> Result<Delivery, ConnectorError> {
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
        let sales_order = item
            .opt_str("ReferenceSDDocument")?
            .filter(|_| category.as_deref().is_none_or(|c| c == SALES_ORDER_CATEGORY));
        let thousandths = odata::quantity_thousandths(&item, "ActualDeliveryQuantity")?;
        let quantity =
            odata::whole_units(thousandths).map_err(|reason| item.error_at("ActualDeliveryQuantity", reason))?;
        items.push(Item {
            item: item.str("DeliveryDocumentItem")?,
            material: item.str("Material")?,
            batch: item.opt_str("Batch")?,
            quantity,
            sales_order,
            batch_split_of: item.opt_str("HigherLvlItmOfBatSpltItm")?.filter(|h| !h.trim_start_matches('0').is_empty()),
            produced_on: odata::opt_date(&item, "ManufactureDate")?,
            expires_on: odata::opt_date(&item, "ShelfLifeExpirationDate")?,
        });
    }
    Ok(Delivery {
        sales_org: header.opt_str("SalesOrganization")?,
        goods_issued: header.opt_str("OverallGoodsMovementStatus")?.as_deref() == Some(GOODS_ISSUED),
        goods_issued_ms: goods_issue_ms(&header, settings.utc_offset_minutes)?,
        tracking_no: header.opt_str(&settings.tracking_field)?.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
        carrier: header.opt_str(&settings.carrier_field)?.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()),
        document,
        items,
    })
}

/// What one order of a page shipped: its platform order id and, per goods-issued delivery of
/// the tenant's sales organisation (in number order), the items that ship it.
struct Shipped {
    order_id: String,
    deliveries: Vec<(Delivery, Vec<Item>)>,
}

/// The items of `delivery` that ship `sales_order`, in item order; batch split main items and
/// empty items are left out.
fn lines_of(delivery: &Delivery, sales_order: &str) -> Vec<Item> {
    let split_mains: Vec<&str> = delivery.items.iter().filter_map(|i| i.batch_split_of.as_deref()).collect();
    delivery
        .items
        .iter()
        .filter(|i| {
            i.sales_order.as_deref() == Some(sales_order) && !split_mains.contains(&i.item.as_str()) && i.quantity > 0
        })
        .cloned()
        .collect()
}

/// One page of changed orders with what their deliveries shipped.
struct Page {
    shipped: Vec<Shipped>,
    /// Sales orders and deliveries that could not be read.
    rejected: Vec<Rejected>,
    next_cursor: Option<String>,
}

/// One page of changed orders with what their deliveries shipped (see the module docs).
fn page<T: Transport>(
    client: &mut Client<'_, T>,
    settings: &Settings,
    request: &PullRequest,
) -> Result<Page, ConnectorError> {
    let restarted;
    let request = match request.cursor.as_deref() {
        Some(old) if old.starts_with(OLD_CURSOR_PREFIX) => {
            client.note(
                "a cursor of an earlier version (deliveries by number): the window starts again",
                &[("cursor", old.to_owned())],
            );
            restarted = PullRequest { window: request.window, cursor: None };
            &restarted
        }
        _ => request,
    };
    let page = flow::changed_orders(client, request, CURSOR_PREFIX, &[], &[])?;
    let query = Query::new().with("$select", select(settings)).with("$expand", ITEMS);
    let headers = flow::read_deliveries(client, &page.orders, &query)?;
    let mut deliveries: BTreeMap<&str, Delivery> = BTreeMap::new();
    let mut rejected = page.rejected;
    for (number, header) in &headers {
        let read = parse_delivery(header, flow::delivery_path(number), settings);
        let delivery = match reject::settle(number, Some(header), read, &[])? {
            Ok(delivery) => delivery,
            Err(r) => {
                rejected.push(r);
                continue;
            }
        };
        let ours = delivery.sales_org.as_deref() == Some(settings.header.sales_org.as_str());
        if delivery.goods_issued && ours {
            deliveries.insert(number, delivery);
        }
    }
    let shipped = page
        .orders
        .iter()
        .map(|order: &ChangedOrder| Shipped {
            order_id: settings.po_prefixes.order_id(&order.purchase_order).to_owned(),
            deliveries: order
                .deliveries
                .iter()
                .filter_map(|d| deliveries.get(d.as_str()))
                .map(|d| (d.clone(), lines_of(d, &order.number)))
                .filter(|(_, lines)| !lines.is_empty())
                .collect(),
        })
        .collect();
    Ok(Page { shipped, rejected, next_cursor: page.next_cursor })
}

pub fn pull_shipments<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
) -> Result<ShipmentPage, ConnectorError> {
    let mut client = Client::new(transport, settings);
    let page = page(&mut client, settings, request)?;
    let mut items = Vec::new();
    for order in page.shipped {
        for (_, lines) in order.deliveries {
            items.push(ShipmentDetail {
                order_id: order.order_id.clone(),
                lines: lines
                    .into_iter()
                    .map(|i| ShipmentLine {
                        outer_sku_id: i.material,
                        quantity: i.quantity,
                        batch_no: i.batch,
                        produced_on: i.produced_on,
                        expires_on: i.expires_on,
                    })
                    .collect(),
            });
        }
    }
    Ok(ShipmentPage { items, rejected: page.rejected, next_cursor: page.next_cursor })
}

pub fn pull_logistics<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
) -> Result<LogisticsPage, ConnectorError> {
    let mut client = Client::new(transport, settings);
    let page = page(&mut client, settings, request)?;
    let mut items = Vec::new();
    for order in page.shipped {
        for (delivery, _) in order.deliveries {
            let (Some(tracking_no), Some(carrier_code), Some(shipped_at)) =
                (delivery.tracking_no, delivery.carrier, delivery.goods_issued_ms)
            else {
                client.note(
                    "goods-issued delivery without tracking number, carrier or goods issue time; left for a later pull",
                    &[
                        ("delivery", delivery.document.clone()),
                        ("tracking_field", settings.tracking_field.clone()),
                        ("carrier_field", settings.carrier_field.clone()),
                    ],
                );
                continue;
            };
            items.push(Logistics { order_id: order.order_id.clone(), carrier_code, tracking_no, shipped_at });
        }
    }
    Ok(LogisticsPage { items, rejected: page.rejected, next_cursor: page.next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::tests::flow;
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
               "BillOfLading": tracking, "MeansOfTransport": "SF",
               "to_DeliveryDocumentItem": {"results": items}})
    }

    fn order(number: &str, po: &str, deliveries: &[&str]) -> Value {
        json!({"SalesOrder": number, "PurchaseOrderByCustomer": po, "to_SubsequentProcFlowDoc": flow(deliveries)})
    }

    /// Orders 100 (T-1: delivery 80000001), 101 (T-2, keyed for its shop: 80000001 and
    /// 80000002) and 103 (T-3: 80000003, goods issue not posted); delivery 80000001 ships
    /// 100 with a batch split and 101 too.
    fn answers(count: u64) -> Vec<Result<wharf_sdk::http::Response, ConnectorError>> {
        let orders = vec![
            order("100", "T-1", &["80000001"]),
            order("101", "TB3CAEFEF1-T-2", &["80000002", "80000001"]),
            order("103", "T-3", &["80000003"]),
        ];
        let mut not_issued = header("80000003", "SF1003", vec![item("000010", "FG-003", "1.000", "", "103", "")]);
        not_issued["OverallGoodsMovementStatus"] = json!("B");
        let one = |v: Value| json(200, &json!({ "d": v }).to_string());
        vec![
            json(200, &json!({"d": {"results": orders, "__count": count.to_string()}}).to_string()),
            one(header(
                "80000001",
                "SF1001",
                vec![
                    item("000010", "FG-001", "3.000", "", "100", "000000"),
                    item("900001", "FG-001", "2.000", "B1", "100", "000010"),
                    item("900002", "FG-001", "1.000", "B2", "100", "000010"),
                    item("000020", "FG-002", "1.000", "", "101", ""),
                    item("000030", "FG-009", "1.000", "", "102", ""),
                ],
            )),
            one(header("80000002", "", vec![item("000010", "FG-002", "1", "", "101", "")])),
            one(not_issued),
        ]
    }

    #[test]
    fn shipments_per_order_without_counting_batch_splits_twice() {
        let s = settings(&[("page_size", "3")]);
        let mut t = Scripted::answering(answers(4));
        let request = PullRequest {
            window: Some(TimeWindow { from: 1_748_563_200_000, to: 1_748_649_600_000 }),
            cursor: Some("delivery2:099".into()),
        };
        let page = pull_shipments(&mut t, &s, &request).unwrap();
        type Lines = Vec<(String, u32, Option<String>)>;
        let summary: Vec<(String, Lines)> = page
            .items
            .iter()
            .map(|d| {
                (
                    d.order_id.clone(),
                    d.lines.iter().map(|l| (l.outer_sku_id.clone(), l.quantity, l.batch_no.clone())).collect(),
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
        assert_eq!(page.items[0].lines[0].produced_on.as_deref(), Some("2025-01-01"));
        assert_eq!(page.items[0].lines[0].expires_on.as_deref(), Some("2027-01-01"));
        assert_eq!(page.next_cursor.as_deref(), Some("delivery2:103"));
        let url = t.url(0);
        assert!(
            url.starts_with("https://my-s4.example.com/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder?"),
            "{url}"
        );
        assert!(
            url.contains(
                "$filter=SalesOrganization eq '1000' and PurchaseOrderByCustomer ne '' \
                 and LastChangeDateTime ge datetimeoffset'2025-05-30T00:00:00.000Z' \
                 and LastChangeDateTime lt datetimeoffset'2025-05-31T00:00:00.000Z' and SalesOrder gt '099'&"
            ),
            "{url}"
        );
        // Each delivery once, by key, with its items: no $filter or $orderby on a delivery.
        for (call, document) in [(1, "80000001"), (2, "80000002"), (3, "80000003")] {
            let url = t.url(call);
            assert!(
                url.starts_with(&format!(
                    "https://my-s4.example.com/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/A_OutbDeliveryHeader('{document}')?$select="
                )),
                "{url}"
            );
            assert!(
                url.contains(",BillOfLading,MeansOfTransport,to_DeliveryDocumentItem/DeliveryDocument,")
                    && url.contains("&$expand=to_DeliveryDocumentItem&")
                    && !url.contains("$filter")
                    && !url.contains("$orderby"),
                "{url}"
            );
        }
        assert_eq!(t.sent.len(), 4);
    }

    #[test]
    fn logistics_need_a_tracking_number() {
        let s = settings(&[]);
        let mut t = Scripted::answering(answers(3));
        let page = pull_logistics(&mut t, &s, &PullRequest { window: None, cursor: None }).unwrap();
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
        assert_eq!(t.notes.len(), 1, "80000002 has no tracking number yet");
        assert!(!t.url(0).contains("LastChangeDateTime ge"));
    }

    #[test]
    fn other_header_fields_can_carry_tracking() {
        let s = settings(&[("tracking_field", "DeliveryDocumentBySupplier"), ("carrier_field", "ShippingCondition")]);
        assert!(select(&s).contains("ActualGoodsMovementTime,DeliveryDocumentBySupplier,ShippingCondition,to_"));
    }

    #[test]
    fn deliveries_of_another_sales_organisation_are_left_out() {
        let s = settings(&[]);
        let mut answers = answers(3);
        let mut other = header("80000001", "SF1001", vec![item("000010", "FG-001", "1", "", "100", "")]);
        other["SalesOrganization"] = json!("2000");
        answers[1] = json(200, &json!({ "d": other }).to_string());
        let mut t = Scripted::answering(answers);
        let page = pull_shipments(&mut t, &s, &PullRequest { window: None, cursor: None }).unwrap();
        assert_eq!(page.items.iter().map(|i| i.order_id.as_str()).collect::<Vec<_>>(), ["T-2"]);
    }

    #[test]
    fn bad_rows_and_cursors_are_named() {
        let s = settings(&[]);
        let mut answers = answers(3);
        let mut bad = header("80000001", "SF1001", vec![item("000010", "FG-001", "1", "", "100", "")]);
        bad["to_DeliveryDocumentItem"]["results"][0]["ActualDeliveryQuantity"] = json!("1.500");
        answers[1] = json(200, &json!({ "d": bad }).to_string());
        let mut t = Scripted::answering(answers.clone());
        let all = PullRequest { window: None, cursor: None };
        let page = pull_shipments(&mut t, &s, &all).unwrap();
        // 80000001 is set aside; 80000002 still ships T-2.
        let shipped: Vec<&str> = page.items.iter().map(|i| i.order_id.as_str()).collect();
        assert_eq!(shipped, ["T-2"]);
        let [r] = &page.rejected[..] else { panic!("{:?}", page.rejected) };
        assert_eq!(
            (r.id.as_str(), r.field.as_str()),
            ("80000001", "A_OutbDeliveryHeader('80000001').to_DeliveryDocumentItem.results[0].ActualDeliveryQuantity")
        );
        assert!(r.reason.contains("whole number"), "{}", r.reason);
        assert!(r.excerpt.as_deref().is_some_and(|e| e.contains("1.500")), "{r:?}");
        assert_eq!(page.next_cursor, None);
        let mut t = Scripted::answering(answers);
        let page = pull_logistics(&mut t, &s, &all).unwrap();
        assert!(page.items.is_empty(), "{:?}", page.items);
        assert_eq!(page.rejected.len(), 1);
        assert_eq!(page.rejected[0].id, "80000001");
        let mut t = Scripted::default();
        assert!(matches!(
            pull_shipments(&mut t, &s, &PullRequest { window: None, cursor: Some("stock1:x".into()) }),
            Err(ConnectorError::InvalidInput(f)) if f.field == "cursor"
        ));
        // A cursor saved by an earlier version restarts the window.
        let mut t = Scripted::answering(self::answers(3));
        let old = PullRequest { window: None, cursor: Some("delivery1:80000001".into()) };
        assert_eq!(pull_shipments(&mut t, &s, &old).unwrap().items.len(), 3);
        assert!(!t.url(0).contains("SalesOrder gt"), "{}", t.url(0));
        assert_eq!(t.notes.len(), 1);
    }
}

//! `pull-erp-status`: where each order Wharf pushed stands in SAP, as a canonical ERP status.
//!
//! The walk is [`crate::flow`]'s: `API_SALES_ORDER_SRV/A_SalesOrder` of the tenant's sales
//! organisation that carry a `PurchaseOrderByCustomer` (the key the order was pushed under,
//! whose platform order id is reported: [`crate::key`]), changed in the window
//! (`LastChangeDateTime`, `[from, to)` exactly), with their items and document flow; the
//! outbound deliveries the flow names are read by key for their header statuses (SAP's
//! metadata lets no delivery property be filtered on). Each order then gets one
//! [`ErpStatus`]: the strongest status its evidence supports, by [`RULES`], at
//! `LastChangeDateTime`, with a note naming the document and field that decided it.
//!
//! An order is one record: one whose row cannot be read (an unknown status value, an
//! unreadable quantity or change time), or one of whose deliveries cannot be (an unknown
//! status value: deciding without it could report a weaker status), is rejected, named by its
//! `SalesOrder`, with the offending field; the other orders of the page get their status.
//!
//! UNSURE: this relies on SAP stamping the sales order's `LastChangeDateTime` when subsequent
//! documents (deliveries, goods issue, POD) update its status; if a system does not, those
//! moves surface with the order's next change (shipments and logistics rely on it too).

use std::collections::BTreeMap;

use serde_json::Value;
use wharf_sdk::json::Node;
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, ErpStatus, ErpStatusCode, ErpStatusPage, PullRequest, Rejected};

use crate::flow::{self, ChangedOrder};
use crate::odata::{self, Client, Query};
use crate::sales_order;
use crate::settings::Settings;
use crate::transport::Transport;

/// Cursors this module writes: `status1:<last sales order of the previous page>`.
pub const CURSOR_PREFIX: &str = "status1:";

/// Where a piece of evidence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A sales order header field.
    Order,
    /// A sales order item (the only item evidence is a shortfall, see [`SHORT`]).
    Item,
    /// The header of any outbound delivery of the order.
    Delivery,
}

/// The value item evidence `ConfdDelivQtyInOrderQtyUnit` has when the availability check
/// confirmed less than was ordered.
pub const SHORT: &str = "less than requested";

/// Evidence → canonical status, strongest first: the first rule some evidence of an order
/// matches decides; an order no rule matches is `accepted` (SAP holds it: it was taken).
///
/// SAP status fields are `""` (not relevant), `A` (not yet processed), `B` (partly) and `C`
/// (completely). UNSURE, all in this one table:
/// - `OverallSDDocumentRejectionSts` C (every item rejected) is how a cancelled order shows.
/// - POD (`OverallProofOfDeliveryStatus` C on a delivery) is the buyer's signature; only
///   deliveries relevant for POD have it.
/// - Goods issue posted (`OverallGoodsMovementStatus` C) on any delivery is `shipped`, even
///   when other items are still open (a partial shipment).
/// - Packing complete (`OverallPackingStatus` C) is `packed`; a delivery in any picking state,
///   or an order whose items are in deliveries (`OverallTotalDeliveryStatus` B/C) when the
///   delivery is not readable, is `picking`.
/// - `out_of_stock`: an item whose confirmed quantity (`ConfdDelivQtyInOrderQtyUnit`, from the
///   availability check) is below the requested quantity, while nothing is in a delivery yet.
pub const RULES: &[(Source, &str, &str, ErpStatusCode)] = &[
    (Source::Order, "OverallSDDocumentRejectionSts", "C", ErpStatusCode::Cancelled),
    (Source::Delivery, "OverallProofOfDeliveryStatus", "C", ErpStatusCode::Signed),
    (Source::Delivery, "OverallGoodsMovementStatus", "C", ErpStatusCode::Shipped),
    (Source::Delivery, "OverallPackingStatus", "C", ErpStatusCode::Packed),
    (Source::Delivery, "OverallPickingStatus", "C", ErpStatusCode::Picking),
    (Source::Delivery, "OverallPickingStatus", "B", ErpStatusCode::Picking),
    (Source::Delivery, "OverallPickingStatus", "A", ErpStatusCode::Picking),
    (Source::Order, "OverallTotalDeliveryStatus", "C", ErpStatusCode::Picking),
    (Source::Order, "OverallTotalDeliveryStatus", "B", ErpStatusCode::Picking),
    (Source::Item, "ConfdDelivQtyInOrderQtyUnit", SHORT, ErpStatusCode::OutOfStock),
];

/// The values an SAP status field may take; anything else is `invalid_input`.
pub const STATUS_VALUES: &[&str] = &["", "A", "B", "C"];
const ORDER_FIELDS: &[&str] =
    &["OverallSDProcessStatus", "OverallTotalDeliveryStatus", "OverallSDDocumentRejectionSts"];
const DELIVERY_FIELDS: &[&str] =
    &["OverallPickingStatus", "OverallPackingStatus", "OverallGoodsMovementStatus", "OverallProofOfDeliveryStatus"];

/// One piece of evidence: where, which field, what value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fact {
    source: Source,
    document: String,
    property: &'static str,
    value: String,
}

/// A sales order as read, with its order and item evidence.
#[derive(Debug, Clone)]
struct SalesOrder {
    number: String,
    purchase_order: String,
    changed_ms: i64,
    facts: Vec<Fact>,
}

/// A status field, checked against [`STATUS_VALUES`] (null is `""`).
fn status_field(node: &Node<'_>, key: &str) -> Result<String, ConnectorError> {
    let value = node.opt_str(key)?.unwrap_or_default();
    if STATUS_VALUES.contains(&value.as_str()) {
        return Ok(value);
    }
    Err(node.error_at(key, format!("expected one of \"\", \"A\", \"B\", \"C\", got {value:?}")).into())
}

fn parse_order(row: &Value, path: String) -> Result<SalesOrder, ConnectorError> {
    let node = Node::root(row, path);
    let number = node.str("SalesOrder")?;
    let changed = node.str("LastChangeDateTime")?;
    let changed_ms = time::odata_to_ms(&changed).map_err(|e| node.error_at("LastChangeDateTime", e.to_string()))?;
    let label = format!("sales order {number}");
    let mut facts = Vec::new();
    for key in ORDER_FIELDS {
        facts.push(Fact {
            source: Source::Order,
            document: label.clone(),
            property: key,
            value: status_field(&node, key)?,
        });
    }
    for item in node.required(sales_order::ITEMS)?.required("results")?.elements()? {
        let requested = odata::quantity_thousandths(&item, "RequestedQuantity")?;
        let confirmed = odata::quantity_thousandths(&item, "ConfdDelivQtyInOrderQtyUnit")?;
        if confirmed < requested {
            facts.push(Fact {
                source: Source::Item,
                document: format!("{label} item {}", item.str("SalesOrderItem")?),
                property: "ConfdDelivQtyInOrderQtyUnit",
                value: SHORT.to_owned(),
            });
        }
    }
    Ok(SalesOrder { number, purchase_order: node.str("PurchaseOrderByCustomer")?, changed_ms, facts })
}

/// The delivery evidence of each order of the page: its deliveries' header statuses, each
/// delivery read once by key ([`flow::read_deliveries`]); an order one of whose deliveries
/// cannot be read is rejected, with that delivery's field and excerpt.
fn delivery_facts<T: Transport>(
    client: &mut Client<'_, T>,
    orders: &[ChangedOrder],
) -> Result<BTreeMap<String, Mapped<Vec<Fact>>>, ConnectorError> {
    let select = format!("DeliveryDocument,{}", DELIVERY_FIELDS.join(","));
    let headers = flow::read_deliveries(client, orders, &Query::new().with("$select", select))?;
    let mut facts_of_delivery: BTreeMap<&str, Mapped<Vec<Fact>>> = BTreeMap::new();
    for (document, header) in &headers {
        let node = Node::root(header, flow::delivery_path(document));
        let facts = DELIVERY_FIELDS
            .iter()
            .map(|key| {
                Ok(Fact {
                    source: Source::Delivery,
                    document: format!("delivery {document}"),
                    property: key,
                    value: status_field(&node, key)?,
                })
            })
            .collect();
        facts_of_delivery.insert(document, reject::settle(document, Some(header), facts, &[])?);
    }
    let mut facts_of_order = BTreeMap::new();
    for order in orders {
        let mut facts = Ok(Vec::new());
        for delivery in &order.deliveries {
            match (&mut facts, facts_of_delivery.get(delivery.as_str())) {
                (Ok(all), Some(Ok(more))) => all.extend(more.iter().cloned()),
                (Ok(_), Some(Err(bad))) => facts = Err(Rejected { id: order.number.clone(), ..bad.clone() }),
                _ => {}
            }
        }
        facts_of_order.insert(order.number.clone(), facts);
    }
    Ok(facts_of_order)
}

/// The status [`RULES`] give `facts`, and the note naming the deciding evidence.
fn decide(number: &str, facts: &[Fact]) -> (ErpStatusCode, String) {
    for (source, property, value, status) in RULES {
        if let Some(fact) = facts.iter().find(|f| f.source == *source && f.property == *property && f.value == *value) {
            return (*status, format!("{}: {property} {value}", fact.document));
        }
    }
    (ErpStatusCode::Accepted, format!("sales order {number}: created"))
}

/// One page of ERP statuses.
pub fn pull_erp_status<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
) -> Result<ErpStatusPage, ConnectorError> {
    let mut select = vec!["LastChangeDateTime"];
    select.extend(ORDER_FIELDS);
    let items = ["SalesOrderItem", "RequestedQuantity", "ConfdDelivQtyInOrderQtyUnit"]
        .map(|f| format!("{}/{f}", sales_order::ITEMS));
    select.extend(items.iter().map(String::as_str));
    let mut client = Client::new(transport, settings);
    let page = flow::changed_orders(&mut client, request, CURSOR_PREFIX, &select, &[sales_order::ITEMS])?;
    let mut rejected = page.rejected;
    let mut orders = Vec::with_capacity(page.orders.len());
    for changed in &page.orders {
        let read = parse_order(&changed.row, changed.path.clone());
        match reject::settle(&changed.number, Some(&changed.row), read, &[])? {
            Ok(order) => orders.push(order),
            Err(r) => rejected.push(r),
        }
    }
    let mut deliveries = delivery_facts(&mut client, &page.orders)?;
    let mut items = Vec::with_capacity(orders.len());
    for mut order in orders {
        match deliveries.remove(&order.number).unwrap_or(Ok(Vec::new())) {
            Ok(facts) => order.facts.extend(facts),
            Err(r) => {
                rejected.push(r);
                continue;
            }
        }
        let (erp_status, note) = decide(&order.number, &order.facts);
        items.push(ErpStatus {
            order_id: settings.po_prefixes.order_id(&order.purchase_order).to_owned(),
            erp_status,
            at: order.changed_ms,
            note: Some(note),
        });
    }
    Ok(ErpStatusPage { items, rejected, next_cursor: page.next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};
    use serde_json::json;
    use wharf_sdk::types::TimeWindow;

    fn order(number: &str, po: &str, rejection: &str, delivery: &str, confirmed: &str) -> Value {
        json!({"SalesOrder": number, "PurchaseOrderByCustomer": po,
               "LastChangeDateTime": "/Date(1748563200000+0000)/",
               "OverallSDProcessStatus": "A", "OverallTotalDeliveryStatus": delivery,
               "OverallSDDocumentRejectionSts": rejection,
               "to_Item": {"results": [{"SalesOrderItem": "000010", "RequestedQuantity": "2.000",
                                        "ConfdDelivQtyInOrderQtyUnit": confirmed}]},
               "to_SubsequentProcFlowDoc": {"results": []}})
    }

    fn with_deliveries(mut order: Value, deliveries: &[&str]) -> Value {
        order["to_SubsequentProcFlowDoc"] = crate::flow::tests::flow(deliveries);
        order
    }

    fn header(document: &str, picking: &str, packing: &str, goods: &str, pod: &str) -> Value {
        json!({"DeliveryDocument": document, "OverallPickingStatus": picking, "OverallPackingStatus": packing,
               "OverallGoodsMovementStatus": goods, "OverallProofOfDeliveryStatus": pod})
    }

    fn results(rows: Vec<Value>, count: Option<usize>) -> Result<wharf_sdk::http::Response, ConnectorError> {
        let mut d = json!({"results": rows});
        if let Some(count) = count {
            d["__count"] = json!(count.to_string());
        }
        json(200, &json!({ "d": d }).to_string())
    }

    fn one(header: Value) -> Result<wharf_sdk::http::Response, ConnectorError> {
        json(200, &json!({ "d": header }).to_string())
    }

    #[test]
    fn each_order_gets_its_strongest_status() {
        let s = settings(&[("page_size", "6"), ("po_prefix_by_shop", r#"{"ecshop:main": "EC"}"#)]);
        let orders = vec![
            order("1", "T-1", "A", "A", "2.000"),
            order("2", "TB3CAEFEF1-T-2", "C", "A", "2.000"),
            // Padded to the declared scale, as a Gateway may send it.
            order("3", "EC-T-3", "A", "A", "0.00000"),
            with_deliveries(order("4", "T-4", "A", "C", "2.000"), &["80"]),
            with_deliveries(order("5", "T-5", "A", "C", "2.000"), &["82", "81"]),
            with_deliveries(order("6", "T-6", "A", "B", "2.000"), &["83"]),
        ];
        let mut t = Scripted::answering(vec![
            results(orders, Some(7)),
            one(header("80", "C", "", "C", "")),
            one(header("81", "C", "C", "A", "")),
            one(header("82", "C", "", "C", "C")),
            one(header("83", "B", "", "A", "")),
        ]);
        let request =
            PullRequest { window: Some(TimeWindow { from: 1_748_563_200_000, to: 1_748_649_600_000 }), cursor: None };
        let page = pull_erp_status(&mut t, &s, &request).unwrap();
        let got: Vec<(&str, ErpStatusCode, Option<&str>)> =
            page.items.iter().map(|i| (i.order_id.as_str(), i.erp_status, i.note.as_deref())).collect();
        assert_eq!(
            got,
            [
                ("T-1", ErpStatusCode::Accepted, Some("sales order 1: created")),
                ("T-2", ErpStatusCode::Cancelled, Some("sales order 2: OverallSDDocumentRejectionSts C")),
                (
                    "T-3",
                    ErpStatusCode::OutOfStock,
                    Some("sales order 3 item 000010: ConfdDelivQtyInOrderQtyUnit less than requested")
                ),
                ("T-4", ErpStatusCode::Shipped, Some("delivery 80: OverallGoodsMovementStatus C")),
                ("T-5", ErpStatusCode::Signed, Some("delivery 82: OverallProofOfDeliveryStatus C")),
                ("T-6", ErpStatusCode::Picking, Some("delivery 83: OverallPickingStatus B")),
            ]
        );
        assert_eq!(page.items[0].at, 1_748_563_200_000);
        assert_eq!(page.next_cursor.as_deref(), Some("status1:6"));
        let url = t.url(0);
        assert!(
            url.contains(
                "A_SalesOrder?$filter=SalesOrganization eq '1000' and PurchaseOrderByCustomer ne '' \
                 and LastChangeDateTime ge datetimeoffset'2025-05-30T00:00:00.000Z' \
                 and LastChangeDateTime lt datetimeoffset'2025-05-31T00:00:00.000Z'&$select=SalesOrder,\
                 PurchaseOrderByCustomer,LastChangeDateTime,OverallSDProcessStatus,OverallTotalDeliveryStatus,\
                 OverallSDDocumentRejectionSts,to_Item/SalesOrderItem,to_Item/RequestedQuantity,\
                 to_Item/ConfdDelivQtyInOrderQtyUnit,to_SubsequentProcFlowDoc/SubsequentDocument,\
                 to_SubsequentProcFlowDoc/SubsequentDocumentCategory&$expand=to_Item,to_SubsequentProcFlowDoc\
                 &$orderby=SalesOrder&$top=6&$inlinecount=allpages"
            ),
            "{url}"
        );
        // Deliveries by key, each once: no $filter on a delivery property.
        for (call, document) in [(1, "80"), (2, "81"), (3, "82"), (4, "83")] {
            assert!(
                t.url(call).contains(&format!(
                    "A_OutbDeliveryHeader('{document}')?$select=DeliveryDocument,OverallPickingStatus,"
                )) && !t.url(call).contains("$filter"),
                "{}",
                t.url(call)
            );
        }
        assert_eq!(t.sent.len(), 5);
    }

    /// `(id, field)` of each rejected order.
    fn rejected(page: &ErpStatusPage) -> Vec<(&str, &str)> {
        page.rejected.iter().map(|r| (r.id.as_str(), r.field.as_str())).collect()
    }

    #[test]
    fn an_order_with_a_bad_value_is_rejected_and_the_others_get_their_status() {
        let s = settings(&[("page_size", "4")]);
        let mut unreadable_time = order("2", "T-2", "A", "A", "2.000");
        unreadable_time["LastChangeDateTime"] = json!("20250530");
        let orders = vec![
            order("1", "T-1", "X", "A", "2.000"),
            unreadable_time,
            with_deliveries(order("3", "T-3", "A", "C", "2.000"), &["80"]),
            with_deliveries(order("4", "T-4", "A", "C", "2.000"), &["81"]),
        ];
        let mut t = Scripted::answering(vec![
            results(orders, Some(5)),
            one(header("80", "C", "", "Z", "")),
            one(header("81", "C", "", "C", "")),
        ]);
        let request = PullRequest { window: None, cursor: Some("status1:0".into()) };
        let page = pull_erp_status(&mut t, &s, &request).unwrap();
        assert!(t.url(0).contains("and SalesOrder gt '0'&"), "{}", t.url(0));
        let got: Vec<(&str, ErpStatusCode)> = page.items.iter().map(|i| (i.order_id.as_str(), i.erp_status)).collect();
        assert_eq!(got, [("T-4", ErpStatusCode::Shipped)]);
        assert_eq!(
            rejected(&page),
            [
                ("1", "A_SalesOrder.d.results[0].OverallSDDocumentRejectionSts"),
                ("2", "A_SalesOrder.d.results[1].LastChangeDateTime"),
                ("3", "A_OutbDeliveryHeader('80').OverallGoodsMovementStatus"),
            ]
        );
        assert!(page.rejected[0].reason.contains("\"X\""), "{:?}", page.rejected);
        let delivery = page.rejected[2].excerpt.as_deref().unwrap_or_default();
        assert!(delivery.contains(r#""DeliveryDocument":"80""#), "{delivery}");
        // The page advances past the rejected orders.
        assert_eq!(page.next_cursor.as_deref(), Some("status1:4"));
        let mut t = Scripted::default();
        let backwards = PullRequest { window: Some(TimeWindow { from: 2, to: 1 }), cursor: None };
        assert!(matches!(
            pull_erp_status(&mut t, &s, &backwards),
            Err(ConnectorError::InvalidInput(f)) if f.field == "window"
        ));
    }
}

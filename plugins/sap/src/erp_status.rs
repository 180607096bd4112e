//! `pull-erp-status`: where each order Wharf pushed stands in SAP, as a canonical ERP status.
//!
//! The walk goes over `API_SALES_ORDER_SRV/A_SalesOrder` of the tenant's sales organisation
//! that carry a `PurchaseOrderByCustomer` (the key the order was pushed under, whose platform
//! order id is reported: [`crate::key`]), changed in the window
//! (`LastChangeDateTime`, a UTC timestamp: `[from, to)` exactly), ordered by sales order
//! number with a key-set cursor (`SalesOrder gt '<last>'`). For the orders of a page, the
//! outbound deliveries are found through their items (`A_OutbDeliveryItem` by
//! `ReferenceSDDocument`) and their headers read (`A_OutbDeliveryHeader` statuses). Each order
//! then gets one [`ErpStatus`]: the strongest status its evidence supports, by [`RULES`], at
//! `LastChangeDateTime`, with a note naming the document and field that decided it.
//!
//! UNSURE: this relies on SAP stamping the sales order's `LastChangeDateTime` when subsequent
//! documents (deliveries, goods issue, POD) update its status; if a system does not, those
//! moves surface with the order's next change (`pull-logistics` reports goods issue anyway).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use wharf_sdk::json::Node;
use wharf_sdk::time;
use wharf_sdk::types::{ConnectorError, ErpStatus, ErpStatusCode, ErpStatusPage, PullRequest};

use crate::delivery;
use crate::keyset;
use crate::odata::{self, Client, Query};
use crate::sales_order;
use crate::settings::Settings;
use crate::transport::Transport;

/// Cursors this module writes: `status1:<last sales order of the previous page>`.
pub const CURSOR_PREFIX: &str = "status1:";
pub const DELIVERY_ITEM_SET: &str = "A_OutbDeliveryItem";
/// Documents asked per lookup: 20 `or`-ed clauses keep the URL near 1 KB, well inside SAP's
/// (and proxies') URL limits.
pub const DOCUMENTS_PER_LOOKUP: usize = 20;

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
    (
        Source::Order,
        "OverallSDDocumentRejectionSts",
        "C",
        ErpStatusCode::Cancelled,
    ),
    (
        Source::Delivery,
        "OverallProofOfDeliveryStatus",
        "C",
        ErpStatusCode::Signed,
    ),
    (
        Source::Delivery,
        "OverallGoodsMovementStatus",
        "C",
        ErpStatusCode::Shipped,
    ),
    (
        Source::Delivery,
        "OverallPackingStatus",
        "C",
        ErpStatusCode::Packed,
    ),
    (
        Source::Delivery,
        "OverallPickingStatus",
        "C",
        ErpStatusCode::Picking,
    ),
    (
        Source::Delivery,
        "OverallPickingStatus",
        "B",
        ErpStatusCode::Picking,
    ),
    (
        Source::Delivery,
        "OverallPickingStatus",
        "A",
        ErpStatusCode::Picking,
    ),
    (
        Source::Order,
        "OverallTotalDeliveryStatus",
        "C",
        ErpStatusCode::Picking,
    ),
    (
        Source::Order,
        "OverallTotalDeliveryStatus",
        "B",
        ErpStatusCode::Picking,
    ),
    (
        Source::Item,
        "ConfdDelivQtyInOrderQtyUnit",
        SHORT,
        ErpStatusCode::OutOfStock,
    ),
];

/// The values an SAP status field may take; anything else is `invalid_input`.
pub const STATUS_VALUES: &[&str] = &["", "A", "B", "C"];
const ORDER_FIELDS: &[&str] = &[
    "OverallSDProcessStatus",
    "OverallTotalDeliveryStatus",
    "OverallSDDocumentRejectionSts",
];
const DELIVERY_FIELDS: &[&str] = &[
    "OverallPickingStatus",
    "OverallPackingStatus",
    "OverallGoodsMovementStatus",
    "OverallProofOfDeliveryStatus",
];

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
    Err(node
        .error_at(
            key,
            format!("expected one of \"\", \"A\", \"B\", \"C\", got {value:?}"),
        )
        .into())
}

fn parse_order(row: &Value, path: String) -> Result<SalesOrder, ConnectorError> {
    let node = Node::root(row, path);
    let number = node.str("SalesOrder")?;
    let changed = node.str("LastChangeDateTime")?;
    let changed_ms = time::odata_to_ms(&changed)
        .map_err(|e| node.error_at("LastChangeDateTime", e.to_string()))?;
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
    for item in node
        .required(sales_order::ITEMS)?
        .required("results")?
        .elements()?
    {
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
    Ok(SalesOrder {
        number,
        purchase_order: node.str("PurchaseOrderByCustomer")?,
        changed_ms,
        facts,
    })
}

/// The delivery evidence of each of `sales_orders`.
fn delivery_facts<T: Transport>(
    client: &mut Client<'_, T>,
    sales_orders: &[&str],
) -> Result<BTreeMap<String, Vec<Fact>>, ConnectorError> {
    let mut deliveries_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for chunk in sales_orders.chunks(DOCUMENTS_PER_LOOKUP) {
        let filter = [
            odata::any_eq("ReferenceSDDocument", chunk.iter().copied()),
            odata::eq(
                "ReferenceSDDocumentCategory",
                delivery::SALES_ORDER_CATEGORY,
            ),
        ];
        let rows = keyset::read_all(
            client,
            delivery::SERVICE,
            DELIVERY_ITEM_SET,
            &filter,
            "DeliveryDocument,DeliveryDocumentItem,ReferenceSDDocument",
            "DeliveryDocument,DeliveryDocumentItem",
        )?;
        for (i, row) in rows.iter().enumerate() {
            let node = Node::root(row, format!("{DELIVERY_ITEM_SET}.d.results[{i}]"));
            deliveries_of
                .entry(node.str("ReferenceSDDocument")?)
                .or_default()
                .insert(node.str("DeliveryDocument")?);
        }
    }
    let documents: BTreeSet<&str> = deliveries_of
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    let documents: Vec<&str> = documents.into_iter().collect();
    let mut facts_of_delivery: BTreeMap<String, Vec<Fact>> = BTreeMap::new();
    let select = format!("DeliveryDocument,{}", DELIVERY_FIELDS.join(","));
    for chunk in documents.chunks(DOCUMENTS_PER_LOOKUP) {
        let filter = [odata::any_eq("DeliveryDocument", chunk.iter().copied())];
        let rows = keyset::read_all(
            client,
            delivery::SERVICE,
            delivery::ENTITY_SET,
            &filter,
            &select,
            "DeliveryDocument",
        )?;
        for (i, row) in rows.iter().enumerate() {
            let node = Node::root(row, format!("{}.d.results[{i}]", delivery::ENTITY_SET));
            let document = node.str("DeliveryDocument")?;
            let mut facts = Vec::new();
            for key in DELIVERY_FIELDS {
                facts.push(Fact {
                    source: Source::Delivery,
                    document: format!("delivery {document}"),
                    property: key,
                    value: status_field(&node, key)?,
                });
            }
            facts_of_delivery.insert(document, facts);
        }
    }
    Ok(deliveries_of
        .into_iter()
        .map(|(order, deliveries)| {
            let facts = deliveries
                .iter()
                .filter_map(|d| facts_of_delivery.get(d))
                .flatten()
                .cloned()
                .collect();
            (order, facts)
        })
        .collect())
}

/// The status [`RULES`] give `facts`, and the note naming the deciding evidence.
fn decide(number: &str, facts: &[Fact]) -> (ErpStatusCode, String) {
    for (source, property, value, status) in RULES {
        if let Some(fact) = facts
            .iter()
            .find(|f| f.source == *source && f.property == *property && f.value == *value)
        {
            return (*status, format!("{}: {property} {value}", fact.document));
        }
    }
    (
        ErpStatusCode::Accepted,
        format!("sales order {number}: created"),
    )
}

/// One page of ERP statuses.
pub fn pull_erp_status<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    request: &PullRequest,
) -> Result<ErpStatusPage, ConnectorError> {
    let after = odata::cursor_key(request.cursor.as_deref(), CURSOR_PREFIX)?;
    let mut filter = vec![
        odata::eq("SalesOrganization", &settings.header.sales_org),
        format!("PurchaseOrderByCustomer ne {}", odata::literal("")),
    ];
    if let Some(window) = &request.window {
        odata::check_window(window)?;
        filter.push(format!(
            "LastChangeDateTime ge {}",
            odata::datetimeoffset_literal(window.from)
        ));
        filter.push(format!(
            "LastChangeDateTime lt {}",
            odata::datetimeoffset_literal(window.to)
        ));
    }
    if let Some(order) = &after {
        filter.push(format!("SalesOrder gt {}", odata::literal(order)));
    }
    let mut select = vec![
        "SalesOrder",
        "PurchaseOrderByCustomer",
        "LastChangeDateTime",
    ];
    select.extend(ORDER_FIELDS);
    let items = [
        "SalesOrderItem",
        "RequestedQuantity",
        "ConfdDelivQtyInOrderQtyUnit",
    ]
    .map(|f| format!("{}/{f}", sales_order::ITEMS));
    let select = format!("{},{}", select.join(","), items.join(","));
    let query = Query::new()
        .with("$filter", odata::all(&filter))
        .with("$select", select)
        .with("$expand", sales_order::ITEMS)
        .with("$orderby", "SalesOrder")
        .with("$top", settings.page_size.to_string())
        .with("$inlinecount", "allpages");
    let mut client = Client::new(transport, settings);
    let answer = client.get(sales_order::SERVICE, sales_order::ENTITY_SET, &query)?;
    let mut orders = Vec::with_capacity(answer.results.len());
    for (i, row) in answer.results.iter().enumerate() {
        orders.push(parse_order(
            row,
            format!("{}.d.results[{i}]", sales_order::ENTITY_SET),
        )?);
    }
    let more = match answer.count {
        Some(count) => count > orders.len() as u64,
        None => answer.next.is_some() || orders.len() == settings.page_size as usize,
    };
    let next_cursor = match orders.last() {
        Some(last) if more => Some(format!("{CURSOR_PREFIX}{}", last.number)),
        _ => None,
    };
    let numbers: Vec<&str> = orders.iter().map(|o| o.number.as_str()).collect();
    let mut deliveries = delivery_facts(&mut client, &numbers)?;
    let items = orders
        .into_iter()
        .map(|mut order| {
            let order_id = settings
                .po_prefixes
                .order_id(&order.purchase_order)
                .to_owned();
            order
                .facts
                .extend(deliveries.remove(&order.number).unwrap_or_default());
            let (erp_status, note) = decide(&order.number, &order.facts);
            ErpStatus {
                order_id,
                erp_status,
                at: order.changed_ms,
                note: Some(note),
            }
        })
        .collect();
    Ok(ErpStatusPage { items, next_cursor })
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
                                        "ConfdDelivQtyInOrderQtyUnit": confirmed}]}})
    }

    fn header(document: &str, picking: &str, packing: &str, goods: &str, pod: &str) -> Value {
        json!({"DeliveryDocument": document, "OverallPickingStatus": picking, "OverallPackingStatus": packing,
               "OverallGoodsMovementStatus": goods, "OverallProofOfDeliveryStatus": pod})
    }

    fn results(
        rows: Vec<Value>,
        count: Option<usize>,
    ) -> Result<wharf_sdk::http::Response, ConnectorError> {
        let mut d = json!({"results": rows});
        if let Some(count) = count {
            d["__count"] = json!(count.to_string());
        }
        json(200, &json!({ "d": d }).to_string())
    }

    fn link(delivery: &str, order: &str) -> Value {
        json!({"DeliveryDocument": delivery, "DeliveryDocumentItem": "000010", "ReferenceSDDocument": order})
    }

    #[test]
    fn each_order_gets_its_strongest_status() {
        let s = settings(&[("page_size", "6")]);
        let orders = vec![
            order("1", "T-1", "A", "A", "2.000"),
            order("2", "T-2", "C", "A", "2.000"),
            order("3", "T-3", "A", "A", "0.000"),
            order("4", "T-4", "A", "C", "2.000"),
            order("5", "T-5", "A", "C", "2.000"),
            order("6", "T-6", "A", "B", "2.000"),
        ];
        let mut t = Scripted::answering(vec![
            results(orders, Some(7)),
            results(
                vec![
                    link("80", "4"),
                    link("81", "5"),
                    link("82", "5"),
                    link("83", "6"),
                ],
                None,
            ),
            results(
                vec![
                    header("80", "C", "", "C", ""),
                    header("81", "C", "C", "A", ""),
                    header("82", "C", "", "C", "C"),
                    header("83", "B", "", "A", ""),
                ],
                None,
            ),
        ]);
        let request = PullRequest {
            window: Some(TimeWindow {
                from: 1_748_563_200_000,
                to: 1_748_649_600_000,
            }),
            cursor: None,
        };
        let page = pull_erp_status(&mut t, &s, &request).unwrap();
        let got: Vec<(&str, ErpStatusCode, Option<&str>)> = page
            .items
            .iter()
            .map(|i| (i.order_id.as_str(), i.erp_status, i.note.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "T-1",
                    ErpStatusCode::Accepted,
                    Some("sales order 1: created")
                ),
                (
                    "T-2",
                    ErpStatusCode::Cancelled,
                    Some("sales order 2: OverallSDDocumentRejectionSts C")
                ),
                (
                    "T-3",
                    ErpStatusCode::OutOfStock,
                    Some(
                        "sales order 3 item 000010: ConfdDelivQtyInOrderQtyUnit less than requested"
                    )
                ),
                (
                    "T-4",
                    ErpStatusCode::Shipped,
                    Some("delivery 80: OverallGoodsMovementStatus C")
                ),
                (
                    "T-5",
                    ErpStatusCode::Signed,
                    Some("delivery 82: OverallProofOfDeliveryStatus C")
                ),
                (
                    "T-6",
                    ErpStatusCode::Picking,
                    Some("delivery 83: OverallPickingStatus B")
                ),
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
                 to_Item/ConfdDelivQtyInOrderQtyUnit&$expand=to_Item&$orderby=SalesOrder&$top=6&$inlinecount=allpages"
            ),
            "{url}"
        );
        assert!(
            t.url(1)
                .contains("A_OutbDeliveryItem?$filter=(ReferenceSDDocument eq '1' or "),
            "{}",
            t.url(1)
        );
        assert!(t.url(2).contains("A_OutbDeliveryHeader?$filter=(DeliveryDocument eq '80' or DeliveryDocument eq '81' or DeliveryDocument eq '82' or DeliveryDocument eq '83')&$select=DeliveryDocument,OverallPickingStatus,"), "{}", t.url(2));
    }

    #[test]
    fn bad_values_are_named() {
        let s = settings(&[]);
        let mut bad = order("1", "T-1", "X", "A", "2.000");
        let mut t = Scripted::answering(vec![results(vec![bad.clone()], None)]);
        let request = PullRequest {
            window: None,
            cursor: Some("status1:0".into()),
        };
        match pull_erp_status(&mut t, &s, &request) {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(
                    f.field,
                    "A_SalesOrder.d.results[0].OverallSDDocumentRejectionSts"
                );
                assert!(f.reason.contains("\"X\""), "{}", f.reason);
            }
            other => panic!("{other:?}"),
        }
        assert!(t.url(0).contains("and SalesOrder gt '0'&"), "{}", t.url(0));
        bad["OverallSDDocumentRejectionSts"] = json!("A");
        bad["LastChangeDateTime"] = json!("20250530");
        let mut t = Scripted::answering(vec![results(vec![bad], None)]);
        assert!(matches!(
            pull_erp_status(&mut t, &s, &PullRequest { window: None, cursor: None }),
            Err(ConnectorError::InvalidInput(f)) if f.field == "A_SalesOrder.d.results[0].LastChangeDateTime"
        ));
        let mut t = Scripted::default();
        let backwards = PullRequest {
            window: Some(TimeWindow { from: 2, to: 1 }),
            cursor: None,
        };
        assert!(matches!(
            pull_erp_status(&mut t, &s, &backwards),
            Err(ConnectorError::InvalidInput(f)) if f.field == "window"
        ));
    }
}

//! The sales orders Wharf pushed that changed in a window, and the outbound deliveries their
//! document flow names: how `pull-shipments`, `pull-logistics` and `pull-erp-status` reach
//! deliveries without a `$filter` SAP's metadata forbids.
//!
//! SAP's published metadata of `API_OUTBOUND_DELIVERY_SRV;v=0002` marks every property of
//! `A_OutbDeliveryHeader` and `A_OutbDeliveryItem` `sap:filterable="false"` and
//! `sap:sortable="false"`, and a Gateway may refuse a `$filter` or `$orderby` on them:
//! deliveries cannot be selected by goods movement status, sales organisation, change date,
//! number or the sales order they ship. `A_SalesOrder` marks none of the properties used here
//! so. So the walk goes over sales orders of the tenant's sales organisation that carry a
//! `PurchaseOrderByCustomer`, changed in the window (`LastChangeDateTime`, a UTC timestamp:
//! `[from, to)` exactly), ordered by number with a key-set cursor (`SalesOrder gt '<last>'`),
//! with their document flow expanded (`to_SubsequentProcFlowDoc`: the subsequent documents,
//! of which category `J` are outbound deliveries). Each delivery is then read by its key,
//! `A_OutbDeliveryHeader('<number>')`, and whatever a filter would have decided (goods issue
//! posted, sales organisation) is decided by the caller on what was read.
//!
//! A sales order row that cannot be read (no purchase order number, a document flow that is
//! not a list) is rejected, named by its `SalesOrder`, and the page goes on with the others;
//! the cursor still moves past it.
//!
//! UNSURE: this relies on SAP stamping the sales order's `LastChangeDateTime` when its
//! deliveries change its status (delivery created, goods issue, proof of delivery). A
//! delivery change that does not touch the order (a tracking number entered after goods
//! issue) surfaces with the order's next change; no filterable property reports it sooner.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use wharf_sdk::json::Node;
use wharf_sdk::reject;
use wharf_sdk::types::{ConnectorError, PullRequest, Rejected};

use crate::odata::{self, Client, Query};
use crate::sales_order;
use crate::transport::Transport;

/// The document flow of a sales order (navigation property).
pub const FLOW: &str = "to_SubsequentProcFlowDoc";
/// `SubsequentDocumentCategory` (SD document category) of an outbound delivery.
pub const DELIVERY_CATEGORY: &str = "J";

/// One sales order as read: its row (with what the caller selected), where it is in the
/// answer, its number, its purchase order number and its outbound deliveries.
#[derive(Debug, Clone)]
pub struct ChangedOrder {
    pub row: Value,
    pub path: String,
    pub number: String,
    pub purchase_order: String,
    /// Delivery numbers, ascending, once each.
    pub deliveries: Vec<String>,
}

/// One page of changed sales orders, the rows that could not be read, and the cursor of the
/// rest (`None` when done).
#[derive(Debug, Clone)]
pub struct Page {
    pub orders: Vec<ChangedOrder>,
    pub rejected: Vec<Rejected>,
    pub next_cursor: Option<String>,
}

/// The outbound deliveries in a sales order's document flow.
fn deliveries_of(node: &Node<'_>) -> Result<Vec<String>, ConnectorError> {
    let flow = node.required(FLOW)?;
    let flow = match flow.field("results") {
        Some(results) => results,
        None => flow,
    };
    let mut numbers = BTreeSet::new();
    for document in flow.elements()? {
        if document.opt_str("SubsequentDocumentCategory")?.as_deref() == Some(DELIVERY_CATEGORY)
            && let Some(number) = document.opt_str("SubsequentDocument")?
        {
            numbers.insert(number);
        }
    }
    Ok(numbers.into_iter().collect())
}

/// One page of the sales orders changed in `request`'s window (see the module docs), each
/// with `select` (besides its number, purchase order number and document flow) and
/// `expand`. Cursors are `<cursor_prefix><last sales order of the previous page>`.
pub fn changed_orders<T: Transport>(
    client: &mut Client<'_, T>,
    request: &PullRequest,
    cursor_prefix: &str,
    select: &[&str],
    expand: &[&str],
) -> Result<Page, ConnectorError> {
    let settings = client.settings();
    let after = odata::cursor_key(request.cursor.as_deref(), cursor_prefix)?;
    let mut filter = vec![
        odata::eq("SalesOrganization", &settings.header.sales_org),
        format!("PurchaseOrderByCustomer ne {}", odata::literal("")),
    ];
    if let Some(window) = &request.window {
        odata::check_window(window)?;
        filter.push(format!("LastChangeDateTime ge {}", odata::datetimeoffset_literal(window.from)));
        filter.push(format!("LastChangeDateTime lt {}", odata::datetimeoffset_literal(window.to)));
    }
    if let Some(order) = &after {
        filter.push(format!("SalesOrder gt {}", odata::literal(order)));
    }
    let mut fields: Vec<String> = vec!["SalesOrder".into(), "PurchaseOrderByCustomer".into()];
    for field in select {
        if !fields.iter().any(|f| f == field) {
            fields.push((*field).to_owned());
        }
    }
    fields.push(format!("{FLOW}/SubsequentDocument"));
    fields.push(format!("{FLOW}/SubsequentDocumentCategory"));
    let mut navigation: Vec<&str> = expand.to_vec();
    navigation.push(FLOW);
    let query = Query::new()
        .with("$filter", odata::all(&filter))
        .with("$select", fields.join(","))
        .with("$expand", navigation.join(","))
        .with("$orderby", "SalesOrder")
        .with("$top", settings.page_size.to_string())
        .with("$inlinecount", "allpages");
    let answer = client.get(sales_order::SERVICE, sales_order::ENTITY_SET, &query)?;
    let rows = answer.results.len();
    let more = answer.has_more(settings.page_size);
    let mut orders = Vec::with_capacity(rows);
    let mut rejected = Vec::new();
    let mut last_number = None;
    for (i, row) in answer.results.into_iter().enumerate() {
        let path = format!("{}.d.results[{i}]", sales_order::ENTITY_SET);
        let node = Node::root(&row, path.clone());
        let id = reject::record_id(&node, "SalesOrder");
        let read = read_order(&node);
        if let Ok(number) = node.str("SalesOrder") {
            last_number = Some(number);
        }
        match reject::settle(&id, Some(&row), read, &[])? {
            Ok((number, purchase_order, deliveries)) => {
                orders.push(ChangedOrder { row, path, number, purchase_order, deliveries })
            }
            Err(r) => rejected.push(r),
        }
    }
    let next_cursor = match last_number {
        _ if !more => None,
        Some(last) => Some(format!("{cursor_prefix}{last}")),
        None => {
            return Err(ConnectorError::platform(
                "paging",
                format!("no row of a page of {} has a readable SalesOrder to continue after", sales_order::ENTITY_SET),
            ));
        }
    };
    Ok(Page { orders, rejected, next_cursor })
}

/// A sales order row's number, purchase order number and deliveries.
fn read_order(node: &Node<'_>) -> Result<(String, String, Vec<String>), ConnectorError> {
    Ok((node.str("SalesOrder")?, node.str("PurchaseOrderByCustomer")?, deliveries_of(node)?))
}

/// Reads each of the deliveries `orders` name once, by key, with `query` (its `$select` and
/// `$expand`). A delivery SAP no longer has (404: deleted since the flow was read) is left
/// out and logged.
pub fn read_deliveries<T: Transport>(
    client: &mut Client<'_, T>,
    orders: &[ChangedOrder],
    query: &Query,
) -> Result<BTreeMap<String, Value>, ConnectorError> {
    let numbers: BTreeSet<&str> = orders.iter().flat_map(|o| o.deliveries.iter().map(String::as_str)).collect();
    let mut found = BTreeMap::new();
    for number in numbers {
        match client.get_entity(crate::delivery::SERVICE, crate::delivery::ENTITY_SET, number, query)? {
            Some(header) => {
                found.insert(number.to_owned(), header);
            }
            None => client.note(
                "a delivery in a sales order's document flow is not found; left out",
                &[("delivery", number.to_owned())],
            ),
        }
    }
    Ok(found)
}

/// Where a delivery read by key is blamed: `A_OutbDeliveryHeader('80000001')`.
pub fn delivery_path(number: &str) -> String {
    format!("{}({})", crate::delivery::ENTITY_SET, odata::literal(number))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json};
    use serde_json::json;
    use wharf_sdk::types::TimeWindow;

    /// The document flow of an order: deliveries, and a goods movement (category `R`) that
    /// is not one.
    pub fn flow(deliveries: &[&str]) -> Value {
        let mut documents: Vec<Value> =
            deliveries.iter().map(|d| json!({"SubsequentDocument": d, "SubsequentDocumentCategory": "J"})).collect();
        documents.push(json!({"SubsequentDocument": "4900000001", "SubsequentDocumentCategory": "R"}));
        json!({ "results": documents })
    }

    #[test]
    fn walks_changed_orders_and_their_deliveries() {
        let s = settings(&[("page_size", "2")]);
        let rows = json!({"d": {"__count": "3", "results": [
            {"SalesOrder": "1", "PurchaseOrderByCustomer": "T-1", FLOW: flow(&["81", "80", "81"])},
            {"SalesOrder": "2", "PurchaseOrderByCustomer": "T-2", FLOW: {"results": []}},
        ]}});
        let mut t = Scripted::answering(vec![json(200, &rows.to_string())]);
        let mut client = Client::new(&mut t, &s);
        let request = PullRequest {
            window: Some(TimeWindow { from: 1_748_563_200_000, to: 1_748_649_600_000 }),
            cursor: Some("x1:0".into()),
        };
        let page = changed_orders(&mut client, &request, "x1:", &["LastChangeDateTime"], &["to_Item"]).unwrap();
        assert_eq!(page.orders[0].deliveries, ["80", "81"]);
        assert!(page.orders[1].deliveries.is_empty());
        assert_eq!(page.next_cursor.as_deref(), Some("x1:2"));
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder?\
             $filter=SalesOrganization eq '1000' and PurchaseOrderByCustomer ne '' \
             and LastChangeDateTime ge datetimeoffset'2025-05-30T00:00:00.000Z' \
             and LastChangeDateTime lt datetimeoffset'2025-05-31T00:00:00.000Z' and SalesOrder gt '0'\
             &$select=SalesOrder,PurchaseOrderByCustomer,LastChangeDateTime,\
             to_SubsequentProcFlowDoc/SubsequentDocument,to_SubsequentProcFlowDoc/SubsequentDocumentCategory\
             &$expand=to_Item,to_SubsequentProcFlowDoc&$orderby=SalesOrder&$top=2&$inlinecount=allpages&$format=json"
        );

        let headers = vec![
            json(200, r#"{"d":{"DeliveryDocument":"80"}}"#),
            json(
                404,
                r#"{"error":{"code":"/IWBEP/CM_MGW_RT/021","message":{"lang":"en","value":"Resource not found"}}}"#,
            ),
        ];
        let mut t = Scripted::answering(headers);
        let mut client = Client::new(&mut t, &s);
        let query = Query::new().with("$select", "DeliveryDocument");
        let found = read_deliveries(&mut client, &page.orders, &query).unwrap();
        assert_eq!(found.keys().collect::<Vec<_>>(), ["80"]);
        assert_eq!(
            t.url(0),
            "https://my-s4.example.com/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002/\
             A_OutbDeliveryHeader('80')?$select=DeliveryDocument&$format=json"
        );
        assert!(t.url(1).contains("/A_OutbDeliveryHeader('81')?"));
        assert_eq!(t.notes, ["a delivery in a sales order's document flow is not found; left out"]);
    }

    #[test]
    fn an_order_that_cannot_be_read_is_rejected_and_the_page_goes_on() {
        let s = settings(&[("page_size", "3")]);
        let rows = json!({"d": {"results": [
            {"SalesOrder": "1", "PurchaseOrderByCustomer": "T-1", FLOW: {"results": 5}},
            {"SalesOrder": "2", "PurchaseOrderByCustomer": "T-2", FLOW: flow(&["80"])},
            {"SalesOrder": "3", FLOW: {"results": []}},
        ]}});
        let mut t = Scripted::answering(vec![json(200, &rows.to_string())]);
        let mut client = Client::new(&mut t, &s);
        let request = PullRequest { window: None, cursor: None };
        let page = changed_orders(&mut client, &request, "x1:", &[], &[]).unwrap();
        assert_eq!(page.orders.iter().map(|o| o.number.as_str()).collect::<Vec<_>>(), ["2"]);
        let rejected: Vec<(&str, &str)> = page.rejected.iter().map(|r| (r.id.as_str(), r.field.as_str())).collect();
        assert_eq!(
            rejected,
            [
                ("1", "A_SalesOrder.d.results[0].to_SubsequentProcFlowDoc.results"),
                ("3", "A_SalesOrder.d.results[2].PurchaseOrderByCustomer"),
            ]
        );
        // A full page: the next starts after the last order, rejected or not.
        assert_eq!(page.next_cursor.as_deref(), Some("x1:3"));
    }
}

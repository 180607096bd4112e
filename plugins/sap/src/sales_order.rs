//! `push-orders` over OData: `API_SALES_ORDER_SRV` deep inserts, idempotent by the customer
//! purchase order number, which names the shop ([`crate::key`]: `<prefix>-<order id>`).
//!
//! For each order: check it ([`Draft`]), look up `A_SalesOrder` by that key in
//! `PurchaseOrderByCustomer` (found → `already-exists`), else create it with one deep insert
//! (header, `to_Item`, pricing elements) → `created`. A create that fails for this order is
//! looked up once more before it is reported: a retry after a lost answer, or a second worker,
//! may have created it already, and then it is `already-exists`. Failures of one order are
//! that order's `failed`; no answer at all, refused credentials and throttling stop the call.

use serde_json::{Map, Value, json};
use wharf_sdk::json::Node;
use wharf_sdk::types::{ConnectorError, Order, OrderPushOutcome, OrderPushResult};

use crate::odata::{self, Client, Failure, Query};
use crate::order::{self, Draft, Item, Shipping};
use crate::settings::Settings;
use crate::transport::Transport;

pub const SERVICE: &str = "API_SALES_ORDER_SRV";
pub const ENTITY_SET: &str = "A_SalesOrder";
/// The items of a sales order (navigation property).
pub const ITEMS: &str = "to_Item";
/// A lookup asks for two so that a duplicate already in SAP shows up in the logs.
const LOOKUP_TOP: &str = "2";

/// The deep insert body of one order.
pub fn payload(draft: &Draft, settings: &Settings) -> Result<Value, ConnectorError> {
    let h = &settings.header;
    let pricing = settings.pricing.price_condition_type.as_deref();
    let mut items: Vec<Value> = draft.items.iter().map(|item| item_payload(draft, item, settings)).collect();
    let mut header_conditions = Vec::new();
    match &draft.shipping {
        None => {}
        Some(Shipping::Condition { condition_type, amount }) => {
            header_conditions.push(condition(draft, condition_type, *amount))
        }
        Some(Shipping::Item(item)) => items.push(item_payload(draft, item, settings)),
    }
    if pricing.is_some() && draft.order_adjustment != 0 {
        header_conditions.push(condition(draft, &settings.pricing.discount_condition_type, draft.order_adjustment));
    }
    let mut header = Map::new();
    header.insert("SalesOrderType".into(), json!(h.order_type));
    header.insert("SalesOrganization".into(), json!(h.sales_org));
    header.insert("DistributionChannel".into(), json!(h.distribution_channel));
    header.insert("OrganizationDivision".into(), json!(h.division));
    header.insert("SoldToParty".into(), json!(draft.sold_to));
    header.insert("PurchaseOrderByCustomer".into(), json!(draft.purchase_order));
    header.insert("TransactionCurrency".into(), json!(draft.currency));
    header.insert("RequestedDeliveryDate".into(), json!(draft.requested_delivery_odata()?));
    header.insert("to_Item".into(), json!({ "results": items }));
    if !header_conditions.is_empty() {
        header.insert("to_PricingElement".into(), json!({ "results": header_conditions }));
    }
    Ok(Value::Object(header))
}

fn item_payload(draft: &Draft, item: &Item, settings: &Settings) -> Value {
    let mut value = json!({
        "SalesOrderItem": item.number,
        "Material": item.material,
        "RequestedQuantity": item.quantity.to_string(),
        "RequestedQuantityUnit": item.unit,
    });
    if let Some(price_type) = settings.pricing.price_condition_type.as_deref() {
        let mut conditions = vec![condition(draft, price_type, item.unit_price)];
        if item.discount != 0 {
            conditions.push(condition(draft, &settings.pricing.discount_condition_type, -item.discount));
        }
        value["to_PricingElement"] = json!({ "results": conditions });
    }
    value
}

/// A manual pricing element: an amount of the order's currency (a rate per unit for price
/// conditions, an absolute amount for discounts and freight).
fn condition(draft: &Draft, condition_type: &str, amount: i64) -> Value {
    json!({
        "ConditionType": condition_type,
        "ConditionRateValue": draft.amount(amount),
        "ConditionCurrency": draft.currency,
    })
}

/// The sales order whose customer purchase order number is `po` (an order's key), if there is
/// one.
pub fn lookup<T: Transport>(client: &mut Client<'_, T>, po: &str) -> Result<Option<String>, Failure> {
    let query = Query::new()
        .with("$filter", odata::eq("PurchaseOrderByCustomer", po))
        .with("$select", "SalesOrder")
        .with("$top", LOOKUP_TOP);
    let found = client.get(SERVICE, ENTITY_SET, &query)?;
    let mut numbers = Vec::new();
    for (i, row) in found.results.iter().enumerate() {
        numbers.push(Node::root(row, format!("{ENTITY_SET}.d.results[{i}]")).str("SalesOrder")?);
    }
    if numbers.len() > 1 {
        client.note(
            "SAP already holds several sales orders for one purchase order number",
            &[("purchase_order", po.to_owned()), ("sales_orders", numbers.join(","))],
        );
    }
    Ok(numbers.into_iter().next())
}

fn push_one<T: Transport>(client: &mut Client<'_, T>, order: &Order) -> Result<OrderPushOutcome, Failure> {
    let settings = client.settings();
    let draft = Draft::from_order(order, settings)?;
    if let Some(existing) = lookup(client, &draft.purchase_order)? {
        return Ok(OrderPushOutcome::AlreadyExists(existing));
    }
    let body = payload(&draft, settings)?;
    match client.create(SERVICE, ENTITY_SET, &body) {
        Ok(created) => {
            let number = Node::root(&created, format!("{ENTITY_SET}.d")).str("SalesOrder")?;
            Ok(OrderPushOutcome::Created(number))
        }
        Err(failure) if failure.whole_call => Err(failure),
        Err(failure) => match lookup(client, &draft.purchase_order) {
            Ok(Some(existing)) => Ok(OrderPushOutcome::AlreadyExists(existing)),
            _ => Err(failure),
        },
    }
}

/// Pushes `orders` in order; one result each (see the module docs).
pub fn push_orders<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    orders: Vec<Order>,
) -> Result<Vec<OrderPushResult>, ConnectorError> {
    let mut client = Client::new(transport, settings);
    order::push_each(orders, |order| push_one(&mut client, order))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{line, order, two_line_order};
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json, token, with_headers};
    use wharf_sdk::http::Method;

    const EMPTY: &str = r#"{"d":{"results":[]}}"#;

    #[test]
    fn the_deep_insert_carries_header_items_and_conditions() {
        let o = two_line_order();
        let s = settings(&[]);
        let body = payload(&Draft::from_order(&o, &s).unwrap(), &s).unwrap();
        assert_eq!(
            body,
            json!({
                "SalesOrderType": "OR", "SalesOrganization": "1000", "DistributionChannel": "10",
                "OrganizationDivision": "00", "SoldToParty": "C0001", "PurchaseOrderByCustomer": "TB83B130B5-3012345678901",
                "TransactionCurrency": "CNY", "RequestedDeliveryDate": "/Date(1748563200000)/",
                "to_Item": {"results": [
                    {"SalesOrderItem": "000010", "Material": "FG-001", "RequestedQuantity": "2", "RequestedQuantityUnit": "EA",
                     "to_PricingElement": {"results": [
                        {"ConditionType": "PR00", "ConditionRateValue": "12.50", "ConditionCurrency": "CNY"},
                        {"ConditionType": "RB00", "ConditionRateValue": "-1.00", "ConditionCurrency": "CNY"}]}},
                    {"SalesOrderItem": "000020", "Material": "FG-002", "RequestedQuantity": "1", "RequestedQuantityUnit": "EA",
                     "to_PricingElement": {"results": [
                        {"ConditionType": "PR00", "ConditionRateValue": "9.99", "ConditionCurrency": "CNY"}]}}]},
                "to_PricingElement": {"results": [
                    {"ConditionType": "ZFRE", "ConditionRateValue": "8.00", "ConditionCurrency": "CNY"},
                    {"ConditionType": "RB00", "ConditionRateValue": "-0.50", "ConditionCurrency": "CNY"}]}
            })
        );
    }

    #[test]
    fn without_a_price_condition_sap_prices_the_items() {
        let o = order("1", vec![line(1, Some("FG-001"), 1, 100, 10)], 0, 5);
        let s = settings(&[
            ("price_condition_type", ""),
            ("shipping_fee_mode", "material"),
            ("shipping_material", "FREIGHT"),
        ]);
        let body = payload(&Draft::from_order(&o, &s).unwrap(), &s).unwrap();
        assert!(body.get("to_PricingElement").is_none(), "{body}");
        assert!(body["to_Item"]["results"][0].get("to_PricingElement").is_none());
    }

    #[test]
    fn creates_once_then_finds_it() {
        let s = settings(&[]);
        let orders = || vec![order("O'1", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0)];
        let mut t =
            Scripted::answering(vec![json(200, EMPTY), token("T"), json(201, r#"{"d":{"SalesOrder":"1000001"}}"#)]);
        let results = push_orders(&mut t, &s, orders()).unwrap();
        assert_eq!(results[0].outcome, OrderPushOutcome::Created("1000001".into()));
        assert!(
            t.url(0).contains("$filter=PurchaseOrderByCustomer eq 'TB83B130B5-O''1'&$select=SalesOrder&$top=2"),
            "{}",
            t.url(0)
        );
        assert_eq!(
            (t.method(2), t.body(2)["PurchaseOrderByCustomer"].as_str()),
            (Method::Post, Some("TB83B130B5-O'1"))
        );

        let mut t = Scripted::answering(vec![json(200, r#"{"d":{"results":[{"SalesOrder":"1000001"}]}}"#)]);
        let results = push_orders(&mut t, &s, orders()).unwrap();
        assert_eq!(results[0].outcome, OrderPushOutcome::AlreadyExists("1000001".into()));
        assert_eq!(t.sent.len(), 1, "no token fetched, nothing posted");
    }

    /// Order ids are unique per shop only: an ECShop order `1001` and a Taobao order `1001`
    /// are two sales orders, each created once however often it is pushed.
    #[test]
    fn two_shops_with_one_order_id_get_a_sales_order_each_once() {
        let s = settings(&[("po_prefix_by_shop", r#"{"ecshop:main": "EC"}"#)]);
        let of = |platform: &str, shop_id: &str| {
            let mut o = order("1001", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0);
            o.platform = platform.into();
            o.shop_id = shop_id.into();
            o
        };
        let orders = || vec![of("taobao", "tb-1"), of("ecshop", "main")];
        let taobao_key = "TB3CAEFEF1-1001";
        let lookup = |key: &str| format!("$filter=PurchaseOrderByCustomer eq '{key}'&$select=SalesOrder&$top=2");
        let mut t = Scripted::answering(vec![
            json(200, EMPTY),
            token("T"),
            json(201, r#"{"d":{"SalesOrder":"1000001"}}"#),
            json(200, EMPTY),
            json(201, r#"{"d":{"SalesOrder":"1000002"}}"#),
        ]);
        let first = push_orders(&mut t, &s, orders()).unwrap();
        assert_eq!(
            first.iter().map(|r| &r.outcome).collect::<Vec<_>>(),
            [&OrderPushOutcome::Created("1000001".into()), &OrderPushOutcome::Created("1000002".into())]
        );
        assert!(t.url(0).contains(&lookup(taobao_key)), "{}", t.url(0));
        assert_eq!(t.body(2)["PurchaseOrderByCustomer"].as_str(), Some(taobao_key));
        assert!(t.url(3).contains(&lookup("EC-1001")), "{}", t.url(3));
        assert_eq!(t.body(4)["PurchaseOrderByCustomer"].as_str(), Some("EC-1001"));
        assert_eq!(first.iter().map(|r| r.order_id.as_str()).collect::<Vec<_>>(), ["1001", "1001"]);

        // Sent again: each finds its own sales order by its own key, nothing is created.
        let mut t = Scripted::answering(vec![
            json(200, r#"{"d":{"results":[{"SalesOrder":"1000001"}]}}"#),
            json(200, r#"{"d":{"results":[{"SalesOrder":"1000002"}]}}"#),
        ]);
        let second = push_orders(&mut t, &s, orders()).unwrap();
        assert_eq!(
            second.iter().map(|r| &r.outcome).collect::<Vec<_>>(),
            [&OrderPushOutcome::AlreadyExists("1000001".into()), &OrderPushOutcome::AlreadyExists("1000002".into())]
        );
        assert!(t.url(0).contains(&lookup(taobao_key)));
        assert!(t.url(1).contains(&lookup("EC-1001")));
        assert_eq!(t.sent.len(), 2, "no token fetched, nothing posted");
    }

    #[test]
    fn a_key_too_long_for_sap_fails_its_order_only() {
        let s = settings(&[]);
        let long = "9".repeat(25);
        let mut t =
            Scripted::answering(vec![json(200, EMPTY), token("T"), json(201, r#"{"d":{"SalesOrder":"1000003"}}"#)]);
        let results = push_orders(
            &mut t,
            &s,
            vec![
                order(&long, vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0),
                order("2", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0),
            ],
        )
        .unwrap();
        assert_eq!(results[0].order_id, long);
        assert!(
            matches!(&results[0].outcome, OrderPushOutcome::Failed(ConnectorError::InvalidInput(f))
                if f.field == "order_id" && f.reason.contains("at most 35")),
            "{:?}",
            results[0].outcome
        );
        assert_eq!(results[1].outcome, OrderPushOutcome::Created("1000003".into()));
    }

    #[test]
    fn a_failed_create_that_exists_after_all_is_already_there() {
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![
            json(200, EMPTY),
            token("T"),
            json(504, "gateway timeout"),
            json(200, r#"{"d":{"results":[{"SalesOrder":"1000002"}]}}"#),
        ]);
        let results =
            push_orders(&mut t, &s, vec![order("1", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0)]).unwrap();
        assert_eq!(results[0].outcome, OrderPushOutcome::AlreadyExists("1000002".into()));
    }

    #[test]
    fn order_failures_stay_with_their_order() {
        let s = settings(&[]);
        let business =
            r#"{"error":{"code":"V1/382","message":{"lang":"en","value":"Material FG-404 does not exist"}}}"#;
        let mut t = Scripted::answering(vec![
            // order 2: lookup, token, refused, lookup again
            json(200, EMPTY),
            token("T"),
            json(400, business),
            json(200, EMPTY),
            // order 3: lookup, create (token kept)
            json(200, EMPTY),
            json(201, r#"{"d":{"SalesOrder":"1000003"}}"#),
        ]);
        let orders = vec![
            order("1", vec![line(1, Some("FG-001"), 1, 100, 0), line(2, None, 1, 100, 0)], 0, 0),
            order("2", vec![line(1, Some("FG-404"), 1, 100, 0)], 0, 0),
            order("3", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0),
        ];
        let results = push_orders(&mut t, &s, orders).unwrap();
        assert!(
            matches!(&results[0].outcome, OrderPushOutcome::Failed(ConnectorError::InvalidInput(f)) if f.field == "lines[1].outer_sku_id")
        );
        assert!(
            matches!(&results[1].outcome, OrderPushOutcome::Failed(ConnectorError::Platform(p)) if p.code == "V1/382")
        );
        assert_eq!(results[2].outcome, OrderPushOutcome::Created("1000003".into()));
        assert_eq!(results.iter().map(|r| r.order_id.as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
    }

    #[test]
    fn whole_call_errors_stop_the_batch() {
        let s = settings(&[]);
        let orders = || vec![order("1", vec![line(1, Some("FG-001"), 1, 100, 0)], 0, 0); 2];
        let mut t = Scripted::answering(vec![with_headers(401, &[], "Logon failed")]);
        assert!(matches!(push_orders(&mut t, &s, orders()), Err(ConnectorError::Auth(_))));
        let mut t = Scripted::answering(vec![Err(ConnectorError::transient("unreachable: connection refused"))]);
        assert!(matches!(push_orders(&mut t, &s, orders()), Err(ConnectorError::Transient(_))));
        let mut t =
            Scripted::answering(vec![json(200, EMPTY), token("T"), with_headers(429, &[("Retry-After", "2")], "")]);
        assert!(
            matches!(push_orders(&mut t, &s, orders()), Err(ConnectorError::RateLimited(r)) if r.retry_after_ms == 2_000)
        );
    }
}

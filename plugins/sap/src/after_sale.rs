//! `push-after-sales`: a marketplace after-sale becomes an S/4HANA customer return or credit
//! memo request, idempotent like sales orders.
//!
//! **Which document.** Where goods come back, SAP needs a customer return
//! (`API_CUSTOMER_RETURN_SRV`, `A_CustomerReturn` with `to_Item`; type `return_type`, `CBAR`
//! by default, advanced returns management): the returns delivery, the goods receipt and the
//! refund (credit memo) follow from it in SAP. Where only money goes back, a credit memo
//! request (`API_CREDIT_MEMO_REQUEST_SRV`, `A_CreditMemoRequest`; type
//! `credit_memo_request_type`, `CR` by default) is the document billing turns into a credit
//! memo. By kind:
//! - `return_and_refund`, `exchange`, `repair` → customer return;
//! - `refund_after_shipping` → customer return when the buyer sent goods back (a return
//!   waybill is known), else credit memo request;
//! - `refund_before_shipping`, `price_protection` → credit memo request;
//! - `reissue` (goods sent again) is neither: a free-of-charge subsequent delivery, which this
//!   plugin does not create; it fails with `invalid_input` on `kind`.
//!
//! **When.** A document is created once the merchant agreed: statuses `agreed`,
//! `awaiting_return`, `returned` and `refunded`. SAP integrators create the return order as
//! the authorisation to take goods back (the returns delivery is made from it) and the credit
//! memo request as the approved refund; a request the merchant may still refuse would leave
//! documents to reject by hand in SAP. `requested` fails with `invalid_input` on `status`
//! (pushed again once agreed). `refused` and `closed` create nothing: when the after-sale got a
//! document earlier it is reported `already-exists` (rejecting its items is left to SAP's
//! users, and a note says so); when not, `invalid_input` on `status`.
//!
//! **Idempotent.** The key is `PurchaseOrderByCustomer` = the shop's prefix and the
//! after-sale id ([`crate::key`], as orders: `<prefix>-<after_sale_id>`, CHAR 35). Each push
//! looks it up before creating, and a create that fails for this after-sale is looked up once
//! more (a retry after a lost answer, a second worker): found is `already-exists`, never a
//! second document. A `refund_after_shipping` is looked up in both sets, since a waybill known
//! later moves it from credit memo request to customer return. A newer `updated-at` of an
//! after-sale that already has a document is `already-exists` too, as for sales orders: the
//! document is not changed (SAP's users work on it once it exists).
//!
//! **Reference.** The document refers to the sales order pushed for the after-sale's order
//! (found by that order's key in `A_SalesOrder`): `ReferenceSDDocument` on the header and,
//! with `ReferenceSDDocumentItem`, on each item, so SAP copies prices and partners from it.
//! Its sold-to party and currency are the document's. No sales order yet is `not_found` (push
//! the order first; retried later). Each after-sale line is the order item of the same
//! material (`outer_sku_id`) with quantity left; a line without a quantity takes the item's
//! whole quantity, and an after-sale without lines the whole order.
//!
//! **Amounts.** With `refund_condition_type` set (a manual fixed-amount item condition the
//! tenant defines), each item carries its share of `refund_amount` (split by quantity, to the
//! fen) and `shipping_refund` goes as a header condition of `shipping_condition_type` (or an
//! item of `shipping_material`), so the document's net value is what the platform refunded.
//! Without it, SAP prices the items from the referenced sales order.
//!
//! One result per after-sale, in order; its `order-id` is the after-sale id.

use serde_json::{Map, Value, json};
use wharf_sdk::apportion::apportion;
use wharf_sdk::json::Node;
use wharf_sdk::money;
use wharf_sdk::time;
use wharf_sdk::types::{AfterSale, AfterSaleKind, AfterSaleStatus, ConnectorError, OrderPushOutcome, OrderPushResult};

use crate::odata::{self, Client, Failure, QUANTITY_DECIMALS, QUANTITY_SCALE, Query};
use crate::order::{self, CURRENCY_DECIMALS, item_number};
use crate::sales_order;
use crate::settings::{Settings, ShippingFee};
use crate::transport::Transport;

/// A lookup asks for two so that a duplicate already in SAP shows up in the logs.
const LOOKUP_TOP: &str = "2";

/// The SAP document an after-sale becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    CustomerReturn,
    CreditMemoRequest,
}

impl Document {
    pub fn service(self) -> &'static str {
        match self {
            Self::CustomerReturn => "API_CUSTOMER_RETURN_SRV",
            Self::CreditMemoRequest => "API_CREDIT_MEMO_REQUEST_SRV",
        }
    }

    pub fn entity_set(self) -> &'static str {
        match self {
            Self::CustomerReturn => "A_CustomerReturn",
            Self::CreditMemoRequest => "A_CreditMemoRequest",
        }
    }

    /// The key property: the document number.
    pub fn number(self) -> &'static str {
        match self {
            Self::CustomerReturn => "CustomerReturn",
            Self::CreditMemoRequest => "CreditMemoRequest",
        }
    }

    fn type_property(self) -> &'static str {
        match self {
            Self::CustomerReturn => "CustomerReturnType",
            Self::CreditMemoRequest => "CreditMemoRequestType",
        }
    }

    fn item_property(self) -> &'static str {
        match self {
            Self::CustomerReturn => "CustomerReturnItem",
            Self::CreditMemoRequest => "CreditMemoRequestItem",
        }
    }

    fn date_property(self) -> &'static str {
        match self {
            Self::CustomerReturn => "CustomerReturnDate",
            Self::CreditMemoRequest => "CreditMemoRequestDate",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::CustomerReturn => Self::CreditMemoRequest,
            Self::CreditMemoRequest => Self::CustomerReturn,
        }
    }
}

/// The kind as the canonical JSON names it (`refund_after_shipping`), the key of
/// `order_reason_by_kind`.
pub fn kind_name(kind: AfterSaleKind) -> &'static str {
    match kind {
        AfterSaleKind::RefundBeforeShipping => "refund_before_shipping",
        AfterSaleKind::RefundAfterShipping => "refund_after_shipping",
        AfterSaleKind::ReturnAndRefund => "return_and_refund",
        AfterSaleKind::Exchange => "exchange",
        AfterSaleKind::Reissue => "reissue",
        AfterSaleKind::PriceProtection => "price_protection",
        AfterSaleKind::Repair => "repair",
    }
}

/// Which document an after-sale becomes (see the module docs).
pub fn route(after_sale: &AfterSale) -> Result<Document, ConnectorError> {
    match after_sale.kind {
        AfterSaleKind::ReturnAndRefund | AfterSaleKind::Exchange | AfterSaleKind::Repair => {
            Ok(Document::CustomerReturn)
        }
        AfterSaleKind::RefundAfterShipping if after_sale.return_waybill.is_some() => Ok(Document::CustomerReturn),
        AfterSaleKind::RefundAfterShipping | AfterSaleKind::RefundBeforeShipping | AfterSaleKind::PriceProtection => {
            Ok(Document::CreditMemoRequest)
        }
        AfterSaleKind::Reissue => Err(ConnectorError::invalid_input(
            "kind",
            "expected a return or a refund; a reissue (goods sent again) is a free-of-charge \
             subsequent delivery in SAP, which this plugin does not create",
        )),
    }
}

/// Where an after-sale stands for SAP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The merchant has not answered yet: nothing to create.
    NotYet,
    /// Agreed: the document is due.
    Due,
    /// Refused or closed: nothing to create, an earlier document stays.
    Over,
}

pub fn stage(status: AfterSaleStatus) -> Stage {
    match status {
        AfterSaleStatus::Requested => Stage::NotYet,
        AfterSaleStatus::Agreed
        | AfterSaleStatus::AwaitingReturn
        | AfterSaleStatus::Returned
        | AfterSaleStatus::Refunded => Stage::Due,
        AfterSaleStatus::Refused | AfterSaleStatus::Closed => Stage::Over,
    }
}

/// One item of the referenced sales order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceItem {
    pub item: String,
    pub material: String,
    /// Thousandths of `unit`.
    pub quantity: i64,
    pub unit: String,
}

/// The sales order an after-sale refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub sales_order: String,
    pub sold_to: String,
    pub currency: String,
    pub items: Vec<ReferenceItem>,
}

/// The sales order whose `PurchaseOrderByCustomer` is `po` (the order's key), with its items.
pub fn reference<T: Transport>(client: &mut Client<'_, T>, po: &str) -> Result<Option<Reference>, Failure> {
    let set = sales_order::ENTITY_SET;
    let query = Query::new()
        .with("$filter", odata::eq("PurchaseOrderByCustomer", po))
        .with(
            "$select",
            "SalesOrder,SoldToParty,TransactionCurrency,to_Item/SalesOrderItem,to_Item/Material,\
             to_Item/RequestedQuantity,to_Item/RequestedQuantityUnit",
        )
        .with("$expand", sales_order::ITEMS)
        .with("$top", LOOKUP_TOP);
    let found = client.get(sales_order::SERVICE, set, &query)?;
    let Some(row) = found.results.first() else {
        return Ok(None);
    };
    let node = Node::root(row, format!("{set}.d.results[0]"));
    let mut items = Vec::new();
    for item in node.required(sales_order::ITEMS)?.required("results")?.elements()? {
        items.push(ReferenceItem {
            item: item.str("SalesOrderItem")?,
            material: item.str("Material")?,
            quantity: odata::quantity_thousandths(&item, "RequestedQuantity")?,
            unit: item.str("RequestedQuantityUnit")?,
        });
    }
    Ok(Some(Reference {
        sales_order: node.str("SalesOrder")?,
        sold_to: node.str("SoldToParty")?,
        currency: node.str("TransactionCurrency")?,
        items,
    }))
}

/// One item of the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// `000010`…
    pub number: String,
    pub material: String,
    /// Thousandths of `unit`.
    pub quantity: i64,
    pub unit: String,
    /// The sales order item it refers to; `None` for a shipping refund item.
    pub reference_item: Option<String>,
    /// Minor units of the refund on this item, when amounts are sent.
    pub amount: Option<i64>,
}

/// The after-sale's lines as items of the referenced sales order (see the module docs).
pub fn lines(after_sale: &AfterSale, reference: &Reference, settings: &Settings) -> Result<Vec<Line>, ConnectorError> {
    // What each sales order item has left to give back, in thousandths.
    let mut left: Vec<i64> = reference.items.iter().map(|i| i.quantity).collect();
    let mut picked: Vec<(usize, i64)> = Vec::new();
    if after_sale.lines.is_empty() {
        picked = reference.items.iter().enumerate().map(|(i, item)| (i, item.quantity)).collect();
    }
    for (n, line) in after_sale.lines.iter().enumerate() {
        let field = format!("lines[{n}].outer_sku_id");
        let Some(material) = line.outer_sku_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(ConnectorError::invalid_input(
                field,
                "expected the merchant SKU code (the SAP material of the order item), got none",
            ));
        };
        let wanted = match line.quantity {
            Some(0) => {
                return Err(ConnectorError::invalid_input(
                    format!("lines[{n}].quantity"),
                    "expected at least 1, got 0",
                ));
            }
            Some(q) => Some(i64::from(q) * QUANTITY_SCALE),
            None => None,
        };
        let found = reference
            .items
            .iter()
            .enumerate()
            .position(|(i, item)| item.material == material && left[i] > 0 && wanted.is_none_or(|w| w <= left[i]));
        let Some(i) = found else {
            let of_material: i64 = reference
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.material == material)
                .map(|(i, _)| left[i])
                .sum();
            return Err(if reference.items.iter().any(|it| it.material == material) {
                ConnectorError::invalid_input(
                    format!("lines[{n}].quantity"),
                    format!(
                        "expected at most what sales order {} has left of {material} ({}), got {:?}",
                        reference.sales_order,
                        money::format_minor_units(of_material, QUANTITY_DECIMALS),
                        line.quantity
                    ),
                )
            } else {
                ConnectorError::invalid_input(
                    field,
                    format!("expected a material of sales order {}'s items, got {material:?}", reference.sales_order),
                )
            });
        };
        let quantity = wanted.unwrap_or(left[i]);
        left[i] -= quantity;
        picked.push((i, quantity));
    }
    let shares = match settings.after_sales.refund_condition_type {
        Some(_) => {
            let weights: Vec<u64> = picked.iter().map(|(_, q)| q.unsigned_abs()).collect();
            apportion(after_sale.refund_amount, &weights).into_iter().map(Some).collect()
        }
        None => vec![None; picked.len()],
    };
    let mut out = Vec::with_capacity(picked.len() + 1);
    for (n, ((i, quantity), amount)) in picked.into_iter().zip(shares).enumerate() {
        let item = &reference.items[i];
        out.push(Line {
            number: item_number(n)?,
            material: item.material.clone(),
            quantity,
            unit: item.unit.clone(),
            reference_item: Some(item.item.clone()),
            amount,
        });
    }
    if settings.after_sales.refund_condition_type.is_some()
        && after_sale.shipping_refund != 0
        && let ShippingFee::Material(material) = &settings.shipping
    {
        out.push(Line {
            number: item_number(out.len())?,
            material: material.clone(),
            quantity: QUANTITY_SCALE,
            unit: settings.units.unit(material).to_owned(),
            reference_item: None,
            amount: Some(after_sale.shipping_refund),
        });
    }
    Ok(out)
}

/// The deep insert body of one document.
pub fn payload(
    document: Document,
    after_sale: &AfterSale,
    key: &str,
    reference: &Reference,
    lines: &[Line],
    settings: &Settings,
) -> Result<Value, ConnectorError> {
    let h = &settings.header;
    let a = &settings.after_sales;
    let decimals = wharf_sdk::status::lookup(CURRENCY_DECIMALS, &reference.currency, "currency")?;
    let condition = |condition_type: &str, amount: i64| {
        json!({
            "ConditionType": condition_type,
            "ConditionRateValue": money::format_minor_units(amount, decimals),
            "ConditionCurrency": reference.currency,
        })
    };
    let items: Vec<Value> = lines
        .iter()
        .map(|line| {
            let mut item = Map::new();
            item.insert(document.item_property().into(), json!(line.number));
            item.insert("Material".into(), json!(line.material));
            item.insert("RequestedQuantity".into(), json!(money::format_minor_units(line.quantity, QUANTITY_DECIMALS)));
            item.insert("RequestedQuantityUnit".into(), json!(line.unit));
            if let Some(reference_item) = &line.reference_item {
                item.insert("ReferenceSDDocument".into(), json!(reference.sales_order));
                item.insert("ReferenceSDDocumentItem".into(), json!(reference_item));
            }
            if let (Some(condition_type), Some(amount)) = (&a.refund_condition_type, line.amount) {
                item.insert("to_PricingElement".into(), json!({ "results": [condition(condition_type, amount)] }));
            }
            Value::Object(item)
        })
        .collect();
    let date = time::ms_to_calendar_date(after_sale.created_at, settings.utc_offset_minutes);
    let date_ms =
        time::calendar_date_to_ms(&date).map_err(|e| ConnectorError::invalid_input("created_at", e.to_string()))?;
    let type_code = match document {
        Document::CustomerReturn => &a.return_type,
        Document::CreditMemoRequest => &a.credit_memo_request_type,
    };
    let mut header = Map::new();
    header.insert(document.type_property().into(), json!(type_code));
    header.insert("SalesOrganization".into(), json!(h.sales_org));
    header.insert("DistributionChannel".into(), json!(h.distribution_channel));
    header.insert("OrganizationDivision".into(), json!(h.division));
    header.insert("SoldToParty".into(), json!(reference.sold_to));
    header.insert("PurchaseOrderByCustomer".into(), json!(key));
    header.insert("TransactionCurrency".into(), json!(reference.currency));
    header.insert("ReferenceSDDocument".into(), json!(reference.sales_order));
    header.insert(document.date_property().into(), json!(time::ms_to_odata(date_ms)));
    if let Some(reason) = a.order_reason_by_kind.get(kind_name(after_sale.kind)) {
        header.insert("SDDocumentReason".into(), json!(reason));
    }
    header.insert("to_Item".into(), json!({ "results": items }));
    if let (Some(_), ShippingFee::Condition(condition_type)) = (&a.refund_condition_type, &settings.shipping)
        && after_sale.shipping_refund != 0
    {
        header.insert(
            "to_PricingElement".into(),
            json!({ "results": [condition(condition_type, after_sale.shipping_refund)] }),
        );
    }
    Ok(Value::Object(header))
}

/// The document of `document`'s set whose `PurchaseOrderByCustomer` is `key`, if any.
pub fn lookup<T: Transport>(
    client: &mut Client<'_, T>,
    document: Document,
    key: &str,
) -> Result<Option<String>, Failure> {
    let query = Query::new()
        .with("$filter", odata::eq("PurchaseOrderByCustomer", key))
        .with("$select", document.number())
        .with("$top", LOOKUP_TOP);
    let found = client.get(document.service(), document.entity_set(), &query)?;
    let mut numbers = Vec::new();
    for (i, row) in found.results.iter().enumerate() {
        numbers.push(Node::root(row, format!("{}.d.results[{i}]", document.entity_set())).str(document.number())?);
    }
    if numbers.len() > 1 {
        client.note(
            "SAP already holds several documents for one after-sale",
            &[("purchase_order", key.to_owned()), ("documents", numbers.join(","))],
        );
    }
    Ok(numbers.into_iter().next())
}

/// The document an after-sale already has: in its own set, and for a `refund_after_shipping`
/// also in the other one.
fn existing<T: Transport>(
    client: &mut Client<'_, T>,
    after_sale: &AfterSale,
    document: Document,
    key: &str,
) -> Result<Option<String>, Failure> {
    if let Some(found) = lookup(client, document, key)? {
        return Ok(Some(found));
    }
    if after_sale.kind == AfterSaleKind::RefundAfterShipping {
        return lookup(client, document.other(), key);
    }
    Ok(None)
}

fn push_one<T: Transport>(client: &mut Client<'_, T>, after_sale: &AfterSale) -> Result<OrderPushOutcome, Failure> {
    let settings = client.settings();
    let key = settings.po_prefixes.key(
        &after_sale.platform,
        &after_sale.shop_id,
        &after_sale.after_sale_id,
        "after_sale_id",
    )?;
    let document = route(after_sale)?;
    let stage = stage(after_sale.status);
    if stage == Stage::NotYet {
        return Err(ConnectorError::invalid_input(
            "status",
            "expected an after-sale the merchant agreed to (agreed, awaiting_return, returned or \
             refunded), got requested: SAP gets its document once it is agreed",
        )
        .into());
    }
    if let Some(found) = existing(client, after_sale, document, &key)? {
        if stage == Stage::Over {
            client.note(
                "an after-sale with a document in SAP was refused or closed; reject the document's items in SAP",
                &[("after_sale_id", after_sale.after_sale_id.clone()), ("document", found.clone())],
            );
        }
        return Ok(OrderPushOutcome::AlreadyExists(found));
    }
    if stage == Stage::Over {
        return Err(ConnectorError::invalid_input(
            "status",
            format!(
                "expected an after-sale the merchant agreed to, got {:?} and no document in SAP: nothing to create",
                after_sale.status
            ),
        )
        .into());
    }
    let order_key =
        settings.po_prefixes.key(&after_sale.platform, &after_sale.shop_id, &after_sale.order_id, "order_id")?;
    let Some(reference) = reference(client, &order_key)? else {
        return Err(ConnectorError::not_found(format!(
            "the sales order of order {:?} (PurchaseOrderByCustomer {order_key:?}) is not in SAP yet: \
             push the order first",
            after_sale.order_id
        ))
        .into());
    };
    if reference.currency != after_sale.currency {
        return Err(ConnectorError::invalid_input(
            "currency",
            format!(
                "expected the currency of sales order {} ({}), got {:?}",
                reference.sales_order, reference.currency, after_sale.currency
            ),
        )
        .into());
    }
    let lines = lines(after_sale, &reference, settings)?;
    let body = payload(document, after_sale, &key, &reference, &lines, settings)?;
    match client.create(document.service(), document.entity_set(), &body) {
        Ok(created) => {
            let number = Node::root(&created, format!("{}.d", document.entity_set())).str(document.number())?;
            Ok(OrderPushOutcome::Created(number))
        }
        Err(failure) if failure.whole_call => Err(failure),
        Err(failure) => match lookup(client, document, &key) {
            Ok(Some(found)) => Ok(OrderPushOutcome::AlreadyExists(found)),
            _ => Err(failure),
        },
    }
}

/// Pushes `after_sales` in order; one result each, named by after-sale id (see the module
/// docs).
pub fn push_after_sales<T: Transport>(
    transport: &mut T,
    settings: &Settings,
    after_sales: Vec<AfterSale>,
) -> Result<Vec<OrderPushResult>, ConnectorError> {
    let mut client = Client::new(transport, settings);
    order::push_each_by(after_sales, |a| a.after_sale_id.clone(), |a| push_one(&mut client, a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::settings;
    use crate::transport::scripted::{Scripted, json, token, with_headers};
    use wharf_sdk::http::Method;
    use wharf_sdk::types::{AfterSaleLine, ReturnWaybill};

    const EMPTY: &str = r#"{"d":{"results":[]}}"#;
    /// The sales order of order `O1`: two items of FG-001 (2 EA, 1 EA) and one of FG-002.
    const SALES_ORDER: &str = r#"{"d":{"results":[{"SalesOrder":"1000001","SoldToParty":"C0002","TransactionCurrency":"CNY",
        "to_Item":{"results":[
            {"SalesOrderItem":"000010","Material":"FG-001","RequestedQuantity":"2.000","RequestedQuantityUnit":"EA"},
            {"SalesOrderItem":"000020","Material":"FG-002","RequestedQuantity":"3.000","RequestedQuantityUnit":"EA"}]}}]}}"#;

    fn after_sale(id: &str, kind: AfterSaleKind, status: AfterSaleStatus, lines: &[(&str, Option<u32>)]) -> AfterSale {
        AfterSale {
            platform: "taobao".into(),
            shop_id: "s1".into(),
            after_sale_id: id.into(),
            order_id: "O1".into(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, quantity))| AfterSaleLine {
                    line_id: format!("L{i}"),
                    outer_sku_id: Some((*sku).to_owned()),
                    quantity: *quantity,
                })
                .collect(),
            kind,
            status,
            platform_status: "WAIT_SELLER_AGREE".into(),
            currency: "CNY".into(),
            refund_amount: 1_001,
            shipping_refund: 800,
            reason: Some("不想要了".into()),
            return_waybill: None,
            created_at: 1_748_592_000_000,
            updated_at: 1_748_592_000_000,
            refund_version: None,
        }
    }

    fn returned(id: &str) -> AfterSale {
        after_sale(
            id,
            AfterSaleKind::ReturnAndRefund,
            AfterSaleStatus::Returned,
            &[("FG-002", Some(2)), ("FG-001", None)],
        )
    }

    fn key(s: &Settings, id: &str) -> String {
        s.po_prefixes.key("taobao", "s1", id, "after_sale_id").unwrap()
    }

    #[test]
    fn kinds_and_statuses_route_as_documented() {
        use AfterSaleKind as K;
        let of = |kind| route(&after_sale("R", kind, AfterSaleStatus::Agreed, &[]));
        for kind in [K::ReturnAndRefund, K::Exchange, K::Repair] {
            assert_eq!(of(kind).unwrap(), Document::CustomerReturn, "{kind:?}");
        }
        for kind in [K::RefundBeforeShipping, K::RefundAfterShipping, K::PriceProtection] {
            assert_eq!(of(kind).unwrap(), Document::CreditMemoRequest, "{kind:?}");
        }
        let mut sent_back = after_sale("R", K::RefundAfterShipping, AfterSaleStatus::Returned, &[]);
        sent_back.return_waybill = Some(ReturnWaybill { carrier: "SF".into(), tracking_no: "SF1".into() });
        assert_eq!(route(&sent_back).unwrap(), Document::CustomerReturn);
        assert!(matches!(of(K::Reissue), Err(ConnectorError::InvalidInput(f)) if f.field == "kind"));
        use AfterSaleStatus as S;
        assert_eq!(stage(S::Requested), Stage::NotYet);
        for s in [S::Agreed, S::AwaitingReturn, S::Returned, S::Refunded] {
            assert_eq!(stage(s), Stage::Due);
        }
        assert_eq!((stage(S::Refused), stage(S::Closed)), (Stage::Over, Stage::Over));
    }

    #[test]
    fn a_return_refers_to_the_sales_order_and_carries_the_refund() {
        let s =
            settings(&[("refund_condition_type", "ZRFD"), ("order_reason_by_kind", r#"{"return_and_refund": "101"}"#)]);
        let k = key(&s, "R1");
        let mut t = Scripted::answering(vec![
            json(200, EMPTY),
            json(200, SALES_ORDER),
            token("T"),
            json(201, r#"{"d":{"CustomerReturn":"60000001"}}"#),
        ]);
        let results = push_after_sales(&mut t, &s, vec![returned("R1")]).unwrap();
        assert_eq!(results[0].order_id, "R1");
        assert_eq!(results[0].outcome, OrderPushOutcome::Created("60000001".into()));
        assert!(
            t.url(0).contains(&format!(
                "/API_CUSTOMER_RETURN_SRV/A_CustomerReturn?$filter=PurchaseOrderByCustomer eq '{k}'&$select=CustomerReturn&$top=2"
            )),
            "{}",
            t.url(0)
        );
        let order_key = s.po_prefixes.key("taobao", "s1", "O1", "order_id").unwrap();
        assert!(
            t.url(1).contains(&format!("/A_SalesOrder?$filter=PurchaseOrderByCustomer eq '{order_key}'")),
            "{}",
            t.url(1)
        );
        assert!(t.url(1).contains("$expand=to_Item"), "{}", t.url(1));
        assert_eq!((t.method(3), t.header(3, "X-CSRF-Token")), (Method::Post, Some("T")));
        assert!(t.url(3).contains("/API_CUSTOMER_RETURN_SRV/A_CustomerReturn?"), "{}", t.url(3));
        assert_eq!(
            t.body(3),
            json!({
                "CustomerReturnType": "CBAR", "SalesOrganization": "1000", "DistributionChannel": "10",
                "OrganizationDivision": "00", "SoldToParty": "C0002", "PurchaseOrderByCustomer": k,
                "TransactionCurrency": "CNY", "ReferenceSDDocument": "1000001", "SDDocumentReason": "101",
                "CustomerReturnDate": "/Date(1748563200000)/",
                "to_Item": {"results": [
                    {"CustomerReturnItem": "000010", "Material": "FG-002", "RequestedQuantity": "2.000", "RequestedQuantityUnit": "EA",
                     "ReferenceSDDocument": "1000001", "ReferenceSDDocumentItem": "000020",
                     "to_PricingElement": {"results": [{"ConditionType": "ZRFD", "ConditionRateValue": "5.01", "ConditionCurrency": "CNY"}]}},
                    {"CustomerReturnItem": "000020", "Material": "FG-001", "RequestedQuantity": "2.000", "RequestedQuantityUnit": "EA",
                     "ReferenceSDDocument": "1000001", "ReferenceSDDocumentItem": "000010",
                     "to_PricingElement": {"results": [{"ConditionType": "ZRFD", "ConditionRateValue": "5.00", "ConditionCurrency": "CNY"}]}}]},
                "to_PricingElement": {"results": [{"ConditionType": "ZFRE", "ConditionRateValue": "8.00", "ConditionCurrency": "CNY"}]}
            })
        );
    }

    #[test]
    fn a_money_only_refund_is_a_credit_memo_request_priced_by_sap_by_default() {
        let s = settings(&[]);
        let refund = after_sale("R2", AfterSaleKind::PriceProtection, AfterSaleStatus::Agreed, &[]);
        let mut t = Scripted::answering(vec![
            json(200, EMPTY),
            json(200, SALES_ORDER),
            token("T"),
            json(201, r#"{"d":{"CreditMemoRequest":"70000001"}}"#),
        ]);
        let results = push_after_sales(&mut t, &s, vec![refund]).unwrap();
        assert_eq!(results[0].outcome, OrderPushOutcome::Created("70000001".into()));
        assert!(t.url(0).contains("/API_CREDIT_MEMO_REQUEST_SRV/A_CreditMemoRequest?$filter="), "{}", t.url(0));
        let body = t.body(3);
        assert_eq!(body["CreditMemoRequestType"], "CR");
        assert!(body.get("to_PricingElement").is_none() && body.get("SDDocumentReason").is_none(), "{body}");
        let items = body["to_Item"]["results"].as_array().unwrap();
        assert_eq!(items.len(), 2, "no lines: the whole order");
        assert_eq!(
            (items[1]["CreditMemoRequestItem"].as_str(), items[1]["RequestedQuantity"].as_str()),
            (Some("000020"), Some("3.000"))
        );
        assert!(items[0].get("to_PricingElement").is_none());
    }

    /// The create's answer is lost (504): the retry looks up, finds the return and reports it;
    /// a later push (even of a newer version) finds it at once and posts nothing.
    #[test]
    fn a_retry_after_a_lost_answer_never_creates_twice() {
        let s = settings(&[]);
        let found = r#"{"d":{"results":[{"CustomerReturn":"60000001"}]}}"#;
        let mut t = Scripted::answering(vec![
            json(200, EMPTY),
            json(200, SALES_ORDER),
            token("T"),
            json(504, "<html>504 Gateway Time-out</html>"),
            json(200, found),
        ]);
        let results = push_after_sales(&mut t, &s, vec![returned("R1")]).unwrap();
        assert_eq!(results[0].outcome, OrderPushOutcome::AlreadyExists("60000001".into()));
        let mut newer = returned("R1");
        newer.updated_at += 60_000;
        newer.status = AfterSaleStatus::Refunded;
        let mut t = Scripted::answering(vec![json(200, found)]);
        let results = push_after_sales(&mut t, &s, vec![newer]).unwrap();
        assert_eq!(results[0].outcome, OrderPushOutcome::AlreadyExists("60000001".into()));
        assert_eq!(t.sent.len(), 1, "no token fetched, nothing posted");
    }

    #[test]
    fn a_refund_after_shipping_is_found_in_either_set() {
        let s = settings(&[]);
        let refund = after_sale("R3", AfterSaleKind::RefundAfterShipping, AfterSaleStatus::Refunded, &[]);
        let mut t = Scripted::answering(vec![
            json(200, EMPTY),
            json(200, r#"{"d":{"results":[{"CustomerReturn":"60000009"}]}}"#),
        ]);
        let results = push_after_sales(&mut t, &s, vec![refund]).unwrap();
        assert_eq!(results[0].outcome, OrderPushOutcome::AlreadyExists("60000009".into()));
        assert!(t.url(0).contains("A_CreditMemoRequest?") && t.url(1).contains("A_CustomerReturn?"));
    }

    #[test]
    fn statuses_without_a_document_to_create_fail_their_after_sale_only() {
        let s = settings(&[]);
        let requested = after_sale("R4", AfterSaleKind::ReturnAndRefund, AfterSaleStatus::Requested, &[]);
        let refused = after_sale("R5", AfterSaleKind::ReturnAndRefund, AfterSaleStatus::Refused, &[]);
        let closed = after_sale("R6", AfterSaleKind::ReturnAndRefund, AfterSaleStatus::Closed, &[]);
        let reissue = after_sale("R7", AfterSaleKind::Reissue, AfterSaleStatus::Agreed, &[]);
        let mut t = Scripted::answering(vec![
            json(200, EMPTY),
            json(200, r#"{"d":{"results":[{"CustomerReturn":"60000002"}]}}"#),
        ]);
        let results = push_after_sales(&mut t, &s, vec![requested, refused, closed, reissue]).unwrap();
        let field = |i: usize| match &results[i].outcome {
            OrderPushOutcome::Failed(ConnectorError::InvalidInput(f)) => f.field.clone(),
            other => panic!("{i}: {other:?}"),
        };
        assert_eq!((field(0), field(1), field(3)), ("status".into(), "status".into(), "kind".into()));
        assert_eq!(results[2].outcome, OrderPushOutcome::AlreadyExists("60000002".into()));
        assert_eq!(t.sent.len(), 2, "requested and reissue ask SAP nothing");
        assert!(t.notes.iter().any(|n| n.contains("refused or closed")), "{:?}", t.notes);
    }

    #[test]
    fn refusals_map_to_their_after_sale() {
        let s = settings(&[]);
        let refused = r#"{"error":{"code":"V1/302","message":{"lang":"en","value":"Reference document 1000001 item 000020: quantity exceeded"}}}"#;
        let mut t = Scripted::answering(vec![
            // R1: SAP refuses, the lookup again finds nothing
            json(200, EMPTY),
            json(200, SALES_ORDER),
            token("T"),
            json(400, refused),
            json(200, EMPTY),
            // R8: no sales order for the order yet
            json(200, EMPTY),
            json(200, EMPTY),
            // R9: more than the order holds
            json(200, EMPTY),
            json(200, SALES_ORDER),
            // R10: a material the order does not have
            json(200, EMPTY),
            json(200, SALES_ORDER),
        ]);
        let too_many =
            after_sale("R9", AfterSaleKind::ReturnAndRefund, AfterSaleStatus::Agreed, &[("FG-001", Some(3))]);
        let other = after_sale("R10", AfterSaleKind::ReturnAndRefund, AfterSaleStatus::Agreed, &[("FG-777", Some(1))]);
        let results = push_after_sales(&mut t, &s, vec![returned("R1"), returned("R8"), too_many, other]).unwrap();
        assert!(
            matches!(&results[0].outcome, OrderPushOutcome::Failed(ConnectorError::Platform(p)) if p.code == "V1/302"),
            "{:?}",
            results[0].outcome
        );
        assert!(
            matches!(&results[1].outcome, OrderPushOutcome::Failed(ConnectorError::NotFound(m)) if m.contains("push the order first")),
            "{:?}",
            results[1].outcome
        );
        assert!(
            matches!(&results[2].outcome, OrderPushOutcome::Failed(ConnectorError::InvalidInput(f)) if f.field == "lines[0].quantity"),
            "{:?}",
            results[2].outcome
        );
        assert!(
            matches!(&results[3].outcome, OrderPushOutcome::Failed(ConnectorError::InvalidInput(f)) if f.field == "lines[0].outer_sku_id"),
            "{:?}",
            results[3].outcome
        );
        assert_eq!(t.sent.len(), 11);
    }

    #[test]
    fn whole_call_errors_stop_the_batch() {
        let s = settings(&[]);
        let mut t = Scripted::answering(vec![with_headers(401, &[], "Logon failed")]);
        assert!(matches!(
            push_after_sales(&mut t, &s, vec![returned("R1"), returned("R2")]),
            Err(ConnectorError::Auth(_))
        ));
    }
}

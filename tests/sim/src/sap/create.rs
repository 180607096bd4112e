//! Writes: the `A_SalesOrder` deep insert, and IDocs received over HTTP.
//!
//! The deep insert is checked as SAP checks it, as far as a client can tell: every property
//! must exist (SAP Gateway refuses unknown ones), the sales area, sold-to party, materials and
//! units must be known, quantities and amounts must be decimals, and (the point of the
//! exercise) a purchase order number already used for a sales order is refused, so a client
//! that creates twice is caught and a test can count sales orders per purchase order number.
//!
//! UNSURE: the message codes are plausible SD message classes (V1 sales, V4 purchase order
//! check, M3 material master), not captured from a real system.

use serde_json::{Map, Value};

use super::State;
use super::filter::odata_date_ms;
use super::model::{
    Condition, ReceivedIdoc, RefundCategory, RefundDocument, RefundItem, SALES_ORDER_SET, SalesOrder, SalesOrderItem,
};
use super::odata::{SapError, parse_decimal};

/// Header properties SAP computes, which a deep insert may not set.
const HEADER_READ_ONLY: &[&str] =
    &["SalesOrder", "CreationDate", "TotalNetAmount", "OverallSDProcessStatus", "to_SubsequentProcFlowDoc"];
/// Header properties a deep insert may set that reads do not show.
const HEADER_WRITE_ONLY: &[&str] = &["CustomerPurchaseOrderDate", "SalesOrderDate"];
const ITEM_WRITABLE: &[&str] = &[
    "SalesOrderItem",
    "Material",
    "RequestedQuantity",
    "RequestedQuantityUnit",
    "SalesOrderItemText",
    "to_PricingElement",
];
const CONDITION_WRITABLE: &[&str] =
    &["ConditionType", "ConditionRateValue", "ConditionCurrency", "ConditionQuantity", "ConditionQuantityUnit"];
/// `PurchaseOrderByCustomer` is CHAR 35.
const MAX_PO_CHARS: usize = 35;
/// Currencies the simulator prices in (two decimals each).
const CURRENCIES: &[&str] = &["CNY", "USD", "EUR", "HKD"];

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, SapError> {
    value.as_object().ok_or_else(|| SapError::bad_request(format!("{what}: expected a JSON object")))
}

/// Whether a deep insert may set header property `key`.
fn header_writable(key: &str) -> bool {
    let readable =
        SALES_ORDER_SET.properties.contains(&key) || SALES_ORDER_SET.navigation.iter().any(|(n, _)| *n == key);
    (readable && !HEADER_READ_ONLY.contains(&key)) || HEADER_WRITE_ONLY.contains(&key)
}

fn check_properties(map: &Map<String, Value>, allowed: impl Fn(&str) -> bool, entity: &str) -> Result<(), SapError> {
    match map.keys().find(|k| !allowed(k) && k.as_str() != "__metadata") {
        Some(k) => Err(SapError::bad_request(format!("Property '{k}' is invalid for entity type {entity}"))),
        None => Ok(()),
    }
}

fn text(map: &Map<String, Value>, key: &str) -> Result<Option<String>, SapError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(SapError::bad_request(format!("Property '{key}' expects an Edm.String, got {other}"))),
    }
}

fn required(map: &Map<String, Value>, key: &str, code: &str) -> Result<String, SapError> {
    text(map, key)?.ok_or_else(|| SapError::new(400, code, format!("Fill in all required entry fields: {key}")))
}

/// Edm.Decimal comes as a string in OData v2 JSON.
fn decimal(map: &Map<String, Value>, key: &str, scale: u32) -> Result<Option<i64>, SapError> {
    match text(map, key)? {
        None => Ok(None),
        Some(t) => parse_decimal(&t, scale).map(Some).ok_or_else(|| {
            SapError::bad_request(format!(
                "Property '{key}' has an invalid Edm.Decimal value {t:?} (at most {scale} decimals)"
            ))
        }),
    }
}

fn conditions(value: Option<&Value>, currency: &str, entity: &str) -> Result<Vec<Condition>, SapError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let results = object(value, "to_PricingElement")?
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| SapError::bad_request("to_PricingElement: expected {\"results\": [...]}"))?;
    let mut out = Vec::new();
    for c in results {
        let c = object(c, "to_PricingElement.results[]")?;
        check_properties(c, |k| CONDITION_WRITABLE.contains(&k), entity)?;
        let condition_type = required(c, "ConditionType", "V1/015")?;
        let amount = decimal(c, "ConditionRateValue", 2)?.ok_or_else(|| {
            SapError::new(400, "V1/015", format!("Condition {condition_type}: fill in ConditionRateValue"))
        })?;
        let condition_currency = text(c, "ConditionCurrency")?.unwrap_or_else(|| currency.to_owned());
        if condition_currency != currency {
            return Err(SapError::new(
                400,
                "V1/016",
                format!(
                    "Condition {condition_type}: currency {condition_currency} differs from the document's {currency}"
                ),
            ));
        }
        out.push(Condition { condition_type, amount, currency: condition_currency });
    }
    Ok(out)
}

/// Checks a deep insert body and creates the sales order numbered `number` at `now_ms`.
pub(crate) fn sales_order(state: &State, body: &[u8], number: String, now_ms: i64) -> Result<SalesOrder, SapError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| SapError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let header = object(&value, "A_SalesOrder")?;
    check_properties(header, header_writable, SALES_ORDER_SET.type_name)?;
    let order_type = required(header, "SalesOrderType", "V1/001")?;
    let sales_org = required(header, "SalesOrganization", "V1/001")?;
    let distribution_channel = required(header, "DistributionChannel", "V1/001")?;
    let division = required(header, "OrganizationDivision", "V1/001")?;
    if !state.sales_areas.iter().any(|(o, c, d)| *o == sales_org && *c == distribution_channel && *d == division) {
        return Err(SapError::new(
            400,
            "V1/316",
            format!("Sales area {sales_org}/{distribution_channel}/{division} is not defined"),
        ));
    }
    let sold_to = required(header, "SoldToParty", "V1/001")?;
    if !state.customers.contains(&sold_to) {
        return Err(SapError::new(
            400,
            "VP/102",
            format!(
                "Customer {sold_to} has not been created for sales area {sales_org} {distribution_channel} {division}"
            ),
        ));
    }
    let purchase_order = text(header, "PurchaseOrderByCustomer")?.unwrap_or_default();
    if purchase_order.chars().count() > MAX_PO_CHARS {
        return Err(SapError::bad_request(format!(
            "Property 'PurchaseOrderByCustomer' is longer than {MAX_PO_CHARS} characters"
        )));
    }
    if !purchase_order.is_empty()
        && let Some(existing) = state.sales_orders.iter().find(|o| o.purchase_order == purchase_order)
    {
        return Err(SapError::new(
            400,
            "V4/115",
            format!("Purchase order number {purchase_order} already exists in sales order {}", existing.sales_order),
        ));
    }
    let currency = text(header, "TransactionCurrency")?.unwrap_or_else(|| "CNY".to_owned());
    if !CURRENCIES.contains(&currency.as_str()) {
        return Err(SapError::new(400, "V1/017", format!("Currency {currency} is not supported")));
    }
    let requested_delivery_ms = match text(header, "RequestedDeliveryDate")? {
        None => None,
        Some(t) => Some(odata_date_ms(&t).ok_or_else(|| {
            SapError::bad_request(format!("Property 'RequestedDeliveryDate' has an invalid Edm.DateTime value {t:?}"))
        })?),
    };
    let item_values = header
        .get("to_Item")
        .and_then(|i| i.get("results"))
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| SapError::new(400, "V1/555", "The sales document has no items (to_Item.results is empty)"))?;
    let mut items = Vec::new();
    for (n, item) in item_values.iter().enumerate() {
        let item = object(item, "to_Item.results[]")?;
        check_properties(item, |k| ITEM_WRITABLE.contains(&k), "API_SALES_ORDER_SRV.A_SalesOrderItemType")?;
        let number = match text(item, "SalesOrderItem")? {
            None => format!("{:06}", (n + 1) * 10),
            Some(i) if i.len() <= 6 && i.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{:06}", i.parse::<u32>().unwrap_or(0))
            }
            Some(i) => {
                return Err(SapError::bad_request(format!("Property 'SalesOrderItem' has an invalid value {i:?}")));
            }
        };
        if items.iter().any(|i: &SalesOrderItem| i.item == number) {
            return Err(SapError::new(400, "V1/104", format!("Item {number} exists twice")));
        }
        let material = required(item, "Material", "V1/001")?;
        let Some(base_unit) = state.materials.get(&material) else {
            return Err(SapError::new(
                400,
                "M3/305",
                format!("The material {material} does not exist or is not activated"),
            ));
        };
        let quantity = decimal(item, "RequestedQuantity", 3)?.filter(|q| *q > 0).ok_or_else(|| {
            SapError::new(400, "V1/074", format!("Item {number}: enter a positive RequestedQuantity"))
        })?;
        let unit = text(item, "RequestedQuantityUnit")?.unwrap_or_else(|| base_unit.clone());
        if &unit != base_unit {
            return Err(SapError::new(
                400,
                "M3/122",
                format!("Item {number}: unit {unit} is not defined for material {material}"),
            ));
        }
        let conditions =
            conditions(item.get("to_PricingElement"), &currency, "API_SALES_ORDER_SRV.A_SalesOrderItemPrElementType")?;
        items.push(SalesOrderItem { item: number, material, quantity, confirmed: quantity, unit, conditions });
    }
    let conditions =
        conditions(header.get("to_PricingElement"), &currency, "API_SALES_ORDER_SRV.A_SalesOrderHeaderPrElementType")?;
    Ok(SalesOrder {
        sales_order: number,
        order_type,
        sales_org,
        distribution_channel,
        division,
        sold_to,
        purchase_order,
        currency,
        requested_delivery_ms,
        created_ms: now_ms,
        last_change_ms: now_ms,
        rejected: false,
        items,
        conditions,
    })
}

/// Checks the deep insert of a customer return or credit memo request and creates it,
/// numbered `number`, at `now_ms`. As SAP with reference to a sales order: the reference must
/// exist and belong to the sold-to party and currency; each item's reference item must exist
/// with the same material and unit, and the quantities of all documents of this category
/// referring to it may not exceed its quantity. A second document of the category with the
/// same `PurchaseOrderByCustomer` is refused, so a client that creates twice is caught.
///
/// UNSURE: the message codes (V1 sales, V4 purchase order check) are plausible, not captured
/// from a real system; a real system may only warn about a repeated purchase order number.
pub(crate) fn refund_document(
    state: &State,
    category: RefundCategory,
    body: &[u8],
    number: String,
    now_ms: i64,
) -> Result<RefundDocument, SapError> {
    let name = category.name();
    let set = category.set();
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| SapError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let header = object(&value, set.name)?;
    let type_property = format!("{name}Type");
    let date_property = category.date_property();
    let header_writable = |k: &str| {
        k == type_property
            || k == date_property
            || [
                "SalesOrganization",
                "DistributionChannel",
                "OrganizationDivision",
                "SoldToParty",
                "PurchaseOrderByCustomer",
                "TransactionCurrency",
                "SDDocumentReason",
                "ReferenceSDDocument",
                "to_Item",
                "to_PricingElement",
            ]
            .contains(&k)
    };
    check_properties(header, header_writable, set.type_name)?;
    let document_type = required(header, &type_property, "V1/001")?;
    let sales_org = required(header, "SalesOrganization", "V1/001")?;
    let distribution_channel = required(header, "DistributionChannel", "V1/001")?;
    let division = required(header, "OrganizationDivision", "V1/001")?;
    if !state.sales_areas.iter().any(|(o, c, d)| *o == sales_org && *c == distribution_channel && *d == division) {
        return Err(SapError::new(
            400,
            "V1/316",
            format!("Sales area {sales_org}/{distribution_channel}/{division} is not defined"),
        ));
    }
    let sold_to = required(header, "SoldToParty", "V1/001")?;
    if !state.customers.contains(&sold_to) {
        return Err(SapError::new(400, "VP/102", format!("Customer {sold_to} has not been created")));
    }
    let purchase_order = text(header, "PurchaseOrderByCustomer")?.unwrap_or_default();
    if purchase_order.chars().count() > MAX_PO_CHARS {
        return Err(SapError::bad_request(format!(
            "Property 'PurchaseOrderByCustomer' is longer than {MAX_PO_CHARS} characters"
        )));
    }
    let earlier: Vec<&RefundDocument> = state.refund_documents.iter().filter(|d| d.category == category).collect();
    if !purchase_order.is_empty()
        && let Some(existing) = earlier.iter().find(|d| d.purchase_order == purchase_order)
    {
        return Err(SapError::new(
            400,
            "V4/115",
            format!("Purchase order number {purchase_order} already exists in document {}", existing.number),
        ));
    }
    let reference = required(header, "ReferenceSDDocument", "V1/001")?;
    let Some(order) = state.sales_orders.iter().find(|o| o.sales_order == reference) else {
        return Err(SapError::new(400, "V1/302", format!("Reference document {reference} does not exist")));
    };
    if order.sold_to != sold_to {
        return Err(SapError::new(
            400,
            "V1/303",
            format!("Sold-to party {sold_to} differs from {} of reference document {reference}", order.sold_to),
        ));
    }
    let currency = text(header, "TransactionCurrency")?.unwrap_or_else(|| order.currency.clone());
    if currency != order.currency {
        return Err(SapError::new(
            400,
            "V1/017",
            format!("Currency {currency} differs from {} of reference document {reference}", order.currency),
        ));
    }
    let document_date_ms = match text(header, &date_property)? {
        None => None,
        Some(t) => Some(odata_date_ms(&t).ok_or_else(|| {
            SapError::bad_request(format!("Property '{date_property}' has an invalid Edm.DateTime value {t:?}"))
        })?),
    };
    let item_values = header
        .get("to_Item")
        .and_then(|i| i.get("results"))
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(|| SapError::new(400, "V1/555", "The sales document has no items (to_Item.results is empty)"))?;
    let item_property = format!("{name}Item");
    let item_type = format!("{}.{name}ItemType", set.type_name.split('.').next().unwrap_or_default());
    let mut items: Vec<RefundItem> = Vec::new();
    for (n, item) in item_values.iter().enumerate() {
        let item = object(item, "to_Item.results[]")?;
        let writable = |k: &str| {
            k == item_property
                || [
                    "Material",
                    "RequestedQuantity",
                    "RequestedQuantityUnit",
                    "ReferenceSDDocument",
                    "ReferenceSDDocumentItem",
                    "to_PricingElement",
                ]
                .contains(&k)
        };
        check_properties(item, writable, &item_type)?;
        let number = match text(item, &item_property)? {
            None => format!("{:06}", (n + 1) * 10),
            Some(i) if i.len() <= 6 && i.bytes().all(|b| b.is_ascii_digit()) => {
                format!("{:06}", i.parse::<u32>().unwrap_or(0))
            }
            Some(i) => {
                return Err(SapError::bad_request(format!("Property '{item_property}' has an invalid value {i:?}")));
            }
        };
        if items.iter().any(|i| i.item == number) {
            return Err(SapError::new(400, "V1/104", format!("Item {number} exists twice")));
        }
        let material = required(item, "Material", "V1/001")?;
        let Some(base_unit) = state.materials.get(&material) else {
            return Err(SapError::new(
                400,
                "M3/305",
                format!("The material {material} does not exist or is not activated"),
            ));
        };
        let quantity = decimal(item, "RequestedQuantity", 3)?.filter(|q| *q > 0).ok_or_else(|| {
            SapError::new(400, "V1/074", format!("Item {number}: enter a positive RequestedQuantity"))
        })?;
        let unit = text(item, "RequestedQuantityUnit")?.unwrap_or_else(|| base_unit.clone());
        if &unit != base_unit {
            return Err(SapError::new(
                400,
                "M3/122",
                format!("Item {number}: unit {unit} is not defined for material {material}"),
            ));
        }
        let reference_item = match (text(item, "ReferenceSDDocument")?, text(item, "ReferenceSDDocumentItem")?) {
            (_, None) => String::new(),
            (Some(r), Some(_)) if r != reference => {
                return Err(SapError::new(
                    400,
                    "V1/302",
                    format!("Item {number}: reference document {r} differs from the header's {reference}"),
                ));
            }
            (_, Some(i)) => {
                let i = format!("{:06}", i.parse::<u32>().unwrap_or(0));
                let Some(referenced) = order.items.iter().find(|o| o.item == i) else {
                    return Err(SapError::new(
                        400,
                        "V1/302",
                        format!("Item {number}: reference item {i} does not exist in {reference}"),
                    ));
                };
                if referenced.material != material || referenced.unit != unit {
                    return Err(SapError::new(
                        400,
                        "V1/305",
                        format!(
                            "Item {number}: material {material} differs from {} of reference item {i}",
                            referenced.material
                        ),
                    ));
                }
                let before: i64 = earlier
                    .iter()
                    .filter(|d| d.reference == reference)
                    .flat_map(|d| &d.items)
                    .chain(items.iter())
                    .filter(|x| x.reference_item == i)
                    .map(|x| x.quantity)
                    .sum();
                if before + quantity > referenced.quantity {
                    return Err(SapError::new(
                        400,
                        "V1/306",
                        format!("Item {number}: quantity exceeds what is left of reference item {reference}/{i}"),
                    ));
                }
                i
            }
        };
        let conditions = conditions(item.get("to_PricingElement"), &currency, &format!("{item_type} pricing element"))?;
        items.push(RefundItem { item: number, material, quantity, unit, reference_item, conditions });
    }
    let conditions =
        conditions(header.get("to_PricingElement"), &currency, &format!("{} pricing element", set.type_name))?;
    Ok(RefundDocument {
        category,
        number,
        document_type,
        sales_org,
        distribution_channel,
        division,
        sold_to,
        purchase_order,
        currency,
        reference,
        reason: text(header, "SDDocumentReason")?.unwrap_or_default(),
        document_date_ms,
        created_ms: now_ms,
        items,
        conditions,
    })
}

/// Takes an ORDERS05 document: it must at least be one (root element, IDoc type); the XML is
/// kept as it came for tests to parse.
pub fn idoc(body: &[u8], content_type: &str, docnum: String, now_ms: i64) -> Result<ReceivedIdoc, SapError> {
    let xml = std::str::from_utf8(body).map_err(|_| SapError::new(400, "EA/200", "The IDoc is not UTF-8"))?;
    let trimmed = xml.trim_start_matches('\u{feff}').trim_start();
    let body_start = if trimmed.starts_with("<?xml") {
        trimmed.find("?>").map_or(trimmed, |i| trimmed[i + 2..].trim_start())
    } else {
        trimmed
    };
    if !body_start.starts_with("<ORDERS05>") || !xml.contains("<IDOCTYP>ORDERS05</IDOCTYP>") {
        return Err(SapError::new(400, "EA/201", "Expected an ORDERS05 IDoc (root <ORDERS05>, IDOCTYP ORDERS05)"));
    }
    Ok(ReceivedIdoc { docnum, xml: xml.to_owned(), content_type: content_type.to_owned(), received_ms: now_ms })
}

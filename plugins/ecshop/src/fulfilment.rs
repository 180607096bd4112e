//! What the ERP says about orders it fulfils: the goods it sent (`push-shipments`, with their
//! lots) and its own order statuses (`push-erp-status`).
//!
//! A shipment becomes an ECShop delivery order (发货单: `ecs_delivery_order` with its
//! `ecs_delivery_goods`), as the shop's admin makes one when it ships part of an order; the
//! bridge moves `send_number` on and marks the order partly shipped (shipping_status 4) until
//! every line is sent (1). ECShop has no lot column: the bridge keeps each delivery line's lot
//! in its own lot table (see `bridge/README.md`).
//!
//! An ERP status does what the tenant's `erp_status.<code>` setting says
//! ([`wharf_sdk::status::erp_action`]): a note only adds an `ecs_order_action` row ("picking:
//! …") at the ERP's time with the order's statuses unchanged; a move also sets the status
//! codes [`mapping::codes_for`] gives.

use serde_json::{Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::batch;
use wharf_sdk::json::Node;
use wharf_sdk::status::{self, ErpAction};
use wharf_sdk::time;
use wharf_sdk::types::{
    ConnectorError, ErpStatus, ErpStatusCode, FieldError, ItemResult, PushAck, ShipmentDetail, ShipmentLine,
};

use crate::mapping;
use crate::push::{MAX_SN_CHARS, text};

pub const SHIPMENT: &str = "shipment";
pub const ERP_STATUS: &str = "erp_status";

/// `ecs_order_info.order_sn` is varchar(20).
const MAX_ORDER_SN_CHARS: usize = 20;
/// `ecs_order_goods.send_number` is smallint(5) unsigned.
const MAX_QUANTITY: u32 = 65_535;
/// The bridge's lot table keeps `batch_no` in a varchar(60), like ECShop's codes.
pub(crate) const MAX_BATCH_NO_CHARS: usize = 60;
/// `ecs_order_action.action_note` is varchar(255); the ERP status and `: ` come first.
const MAX_ACTION_NOTE_CHARS: usize = 255;

/// An optional calendar date, checked here so that a bad one names its canonical field.
pub(crate) fn date(field: &str, value: Option<&str>) -> Result<Option<String>, ConnectorError> {
    match value {
        None => Ok(None),
        Some(text) => match time::parse_calendar_date(text) {
            Ok(_) => Ok(Some(text.to_owned())),
            Err(e) => Err(ConnectorError::invalid_input(field, e.to_string())),
        },
    }
}

/// The bridge body of one shipment line.
fn line_body(i: usize, line: &ShipmentLine) -> Result<Value, ConnectorError> {
    let field = |name: &str| format!("lines[{i}].{name}");
    let sn =
        text(&field("outer_sku_id"), &line.outer_sku_id, MAX_SN_CHARS, "the merchant code (goods_sn or product_sn)")?;
    if line.quantity == 0 || line.quantity > MAX_QUANTITY {
        return Err(ConnectorError::invalid_input(
            field("quantity"),
            format!("expected 1 to {MAX_QUANTITY} (ECShop's send_number is a smallint), got {}", line.quantity),
        ));
    }
    let batch_no = match line.batch_no.as_deref() {
        Some(b) => Some(text(&field("batch_no"), b, MAX_BATCH_NO_CHARS, "a lot number")?),
        None => None,
    };
    Ok(json!({
        "sn": sn,
        "quantity": line.quantity,
        "batch_no": batch_no,
        "produced_on": date(&field("produced_on"), line.produced_on.as_deref())?,
        "expires_on": date(&field("expires_on"), line.expires_on.as_deref())?,
    }))
}

/// The bridge body of one shipment.
pub fn shipment_body(detail: &ShipmentDetail) -> Result<Value, ConnectorError> {
    let order_sn = text("order_id", &detail.order_id, MAX_ORDER_SN_CHARS, "an ECShop order_sn")?;
    if detail.lines.is_empty() {
        return Err(ConnectorError::invalid_input("lines", "expected at least one line sent, got none"));
    }
    let lines = detail.lines.iter().enumerate().map(|(i, l)| line_body(i, l)).collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"order_sn": order_sn, "lines": lines}))
}

/// The bridge names a shipment line's code `sn`; the canonical record calls it `outer_sku_id`.
fn canonical_field(error: ConnectorError) -> ConnectorError {
    match error {
        ConnectorError::InvalidInput(FieldError { field, reason })
            if field.starts_with("lines[") && field.ends_with(".sn") =>
        {
            ConnectorError::invalid_input(format!("{}outer_sku_id", &field[..field.len() - 2]), reason)
        }
        other => other,
    }
}

pub fn push_shipments(api: &mut impl Api, details: Vec<ShipmentDetail>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(details, |detail| {
        let answer = api.call(SHIPMENT, &shipment_body(&detail)?).map_err(canonical_field)?;
        let node = Node::root(&answer, SHIPMENT);
        Ok(PushAck { platform_ref: Some(node.str("delivery_sn")?) })
    })
}

/// The bridge body of one ERP status, its action read from the shop's config by `action`.
pub fn erp_status_body(
    update: &ErpStatus,
    action: impl Fn(ErpStatusCode) -> Result<ErpAction, ConnectorError>,
) -> Result<Value, ConnectorError> {
    let order_sn = text("order_id", &update.order_id, MAX_ORDER_SN_CHARS, "an ECShop order_sn")?;
    if update.at < 0 {
        return Err(ConnectorError::invalid_input(
            "at",
            format!("expected an instant after 1970, got {} ms", update.at),
        ));
    }
    let code = status::erp_status_name(update.erp_status);
    if let Some(note) = update.note.as_deref() {
        let room = MAX_ACTION_NOTE_CHARS - code.chars().count() - 2;
        text("note", note, room, "a note")?;
    }
    let to = match action(update.erp_status)? {
        ErpAction::Note => Value::Null,
        ErpAction::Move(target) => {
            let Some(to) = mapping::codes_for(target) else {
                return Err(ConnectorError::invalid_input(
                    "erp_status",
                    format!("{code} moves the order to {target:?}, which ECShop has no state for"),
                ));
            };
            json!({"order_status": to.order_status, "shipping_status": to.shipping_status, "pay_status": to.pay_status})
        }
    };
    Ok(json!({
        "order_sn": order_sn,
        "erp_status": code,
        "at": time::ms_to_unix_seconds(update.at),
        "note": update.note,
        "move": to,
    }))
}

pub fn push_erp_status(
    api: &mut impl Api,
    updates: Vec<ErpStatus>,
    action: impl Fn(ErpStatusCode) -> Result<ErpAction, ConnectorError>,
) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        let answer = api.call(ERP_STATUS, &erp_status_body(&update, &action)?)?;
        let order = Node::root(&answer, ERP_STATUS).required("order")?;
        Ok(PushAck { platform_ref: Some(order.id("order_id")?) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::invalid_field;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::types::OrderStatus;

    fn line(sku: &str, quantity: u32, batch_no: Option<&str>, expires_on: Option<&str>) -> ShipmentLine {
        ShipmentLine {
            outer_sku_id: sku.into(),
            quantity,
            batch_no: batch_no.map(Into::into),
            produced_on: None,
            expires_on: expires_on.map(Into::into),
        }
    }

    fn detail(order_id: &str, lines: Vec<ShipmentLine>) -> ShipmentDetail {
        ShipmentDetail { order_id: order_id.into(), lines }
    }

    #[test]
    fn shipments_send_lines_with_lots() {
        let mut api = Scripted::answering(vec![
            Ok(
                json!({"order": {"order_id": 1001}, "delivery_id": 3, "delivery_sn": "20261124101010123456", "complete": false}),
            ),
            Err(ConnectorError::invalid_input("lines[1].sn", "order 2 has no line with code \"X\"")),
            Err(ConnectorError::not_found("no order with order_sn \"3\"")),
        ]);
        let results = push_shipments(
            &mut api,
            vec![
                detail(
                    "2026112401001",
                    vec![line("SKU-1", 2, Some("B1"), Some("2027-06-30")), line("SKU-2", 1, None, None)],
                ),
                detail("2", vec![line("SKU-1", 1, None, None), line("X", 1, None, None)]),
                detail("3", vec![line("SKU-1", 1, None, None)]),
                detail("4", vec![]),
                detail("5", vec![line("SKU-1", 0, None, None)]),
                detail("6", vec![line("SKU-1", 1, Some("B1"), Some("2027-02-30"))]),
                detail("7", vec![line("", 1, None, None)]),
            ],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("20261124101010123456"));
        assert_eq!(
            api.calls[0].1,
            json!({"order_sn": "2026112401001", "lines": [
                {"sn": "SKU-1", "quantity": 2, "batch_no": "B1", "produced_on": null, "expires_on": "2027-06-30"},
                {"sn": "SKU-2", "quantity": 1, "batch_no": null, "produced_on": null, "expires_on": null},
            ]})
        );
        assert_eq!(invalid_field(&results[1]), Some("lines[1].outer_sku_id"));
        assert!(matches!(&results[2], Err(ConnectorError::NotFound(m)) if m.contains('3')));
        assert_eq!(invalid_field(&results[3]), Some("lines"));
        assert_eq!(invalid_field(&results[4]), Some("lines[0].quantity"));
        assert_eq!(invalid_field(&results[5]), Some("lines[0].expires_on"));
        assert_eq!(invalid_field(&results[6]), Some("lines[0].outer_sku_id"));
        assert_eq!(api.calls.len(), 3);
    }

    fn erp(order_id: &str, code: ErpStatusCode, at: i64, note: Option<&str>) -> ErpStatus {
        ErpStatus { order_id: order_id.into(), erp_status: code, at, note: note.map(Into::into) }
    }

    /// A tenant whose `signed` completes the order and `out_of_stock` is misconfigured.
    fn tenant(code: ErpStatusCode) -> Result<ErpAction, ConnectorError> {
        let pairs = [("erp_status.signed", "move:completed"), ("erp_status.out_of_stock", "move:paid")];
        status::erp_action_in(code, |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn erp_statuses_note_or_move() {
        let answered = || Ok(json!({"order": {"order_id": 1001, "order_sn": "2026112401001"}, "moved": false}));
        let mut api = Scripted::answering(vec![answered(), answered()]);
        let results = push_erp_status(
            &mut api,
            vec![
                erp("2026112401001", ErpStatusCode::Picking, 1_795_392_000_999, Some("仓库A")),
                erp("2026112401001", ErpStatusCode::Signed, 1_795_392_100_000, None),
                erp("2026112401001", ErpStatusCode::OutOfStock, 1_795_392_100_000, None),
                erp("2026112401001", ErpStatusCode::Packed, -1, None),
                erp("2026112401001", ErpStatusCode::Packed, 0, Some(&"长".repeat(250))),
            ],
            tenant,
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("1001"));
        assert_eq!(
            api.calls[0].1,
            json!({"order_sn": "2026112401001", "erp_status": "picking", "at": 1_795_392_000, "note": "仓库A", "move": null})
        );
        let completed = mapping::codes_for(OrderStatus::Completed).unwrap();
        assert_eq!(
            api.calls[1].1["move"],
            json!({"order_status": completed.order_status, "shipping_status": 2, "pay_status": null})
        );
        assert_eq!(invalid_field(&results[2]), Some("config.erp_status.out_of_stock"));
        assert_eq!(invalid_field(&results[3]), Some("at"));
        assert_eq!(invalid_field(&results[4]), Some("note"));
        assert_eq!(api.calls.len(), 2);
    }
}

//! Platform status tables: from a platform's raw status to the canonical one.
//!
//! Every plugin has such tables (trade status, refund status, carrier codes); what they share
//! is the rule: a value not in the table is an error naming the field and the values known,
//! never a silent default, because a new platform status is exactly what an operator must
//! hear about.
//!
//! The other direction is here too: what an ERP status ([`ErpStatusCode`]) does to a
//! marketplace order. The host decides it per tenant and hands it to the plugin as config keys
//! `erp_status.<code>` ([`erp_action`]), so every marketplace plugin reads it the same way.

use crate::config;
use crate::error::field_error;
use crate::types::{ConfigKey, ConnectorError, ErpStatusCode, FieldError, OrderStatus, RefundStatus};

/// The entry of `table` for `value`; `invalid_input` on `field` when there is none.
pub fn lookup<T: Copy>(table: &[(&str, T)], value: &str, field: &str) -> Result<T, FieldError> {
    table.iter().find(|(k, _)| *k == value).map(|(_, v)| *v).ok_or_else(|| {
        let known: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
        field_error(field, format!("expected one of {}, got {value:?}", known.join(", ")))
    })
}

/// An order's refund status from its lines': any line requested → requested; else any
/// refunded → refunded; else none.
pub fn order_refund(lines: impl IntoIterator<Item = RefundStatus>) -> RefundStatus {
    let mut refunded = false;
    for status in lines {
        match status {
            RefundStatus::Requested => return RefundStatus::Requested,
            RefundStatus::Refunded => refunded = true,
            RefundStatus::None => {}
        }
    }
    if refunded { RefundStatus::Refunded } else { RefundStatus::None }
}

/// The config key prefix of ERP status actions: `erp_status.signed` = `move:completed`.
pub const ERP_STATUS_KEY_PREFIX: &str = "erp_status.";
/// The action value that only adds a tracking line; also what a missing key means.
pub const ERP_NOTE: &str = "note";
/// The action value prefix that moves the order: `move:<canonical status>`.
pub const ERP_MOVE_PREFIX: &str = "move:";

/// What an ERP status does to the marketplace order it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErpAction {
    /// Only a tracking line on the order ("picking").
    Note,
    /// Moves the order to this status, and adds the tracking line.
    Move(OrderStatus),
}

/// Every ERP status code with its config name (snake_case, as in the canonical JSON).
pub const ERP_STATUS_CODES: &[(&str, ErpStatusCode)] = &[
    ("accepted", ErpStatusCode::Accepted),
    ("picking", ErpStatusCode::Picking),
    ("packed", ErpStatusCode::Packed),
    ("out_of_stock", ErpStatusCode::OutOfStock),
    ("shipped", ErpStatusCode::Shipped),
    ("signed", ErpStatusCode::Signed),
    ("cancelled", ErpStatusCode::Cancelled),
];

/// The statuses an ERP status may move an order to. `unpaid` and `paid` are not among them:
/// payment happens on the marketplace, never in the ERP.
pub const ERP_MOVE_TARGETS: &[(&str, OrderStatus)] = &[
    ("partially_shipped", OrderStatus::PartiallyShipped),
    ("shipped", OrderStatus::Shipped),
    ("completed", OrderStatus::Completed),
    ("cancelled", OrderStatus::Cancelled),
    ("closed", OrderStatus::Closed),
];

/// The config name of an ERP status code (`out_of_stock`).
pub fn erp_status_name(code: ErpStatusCode) -> &'static str {
    ERP_STATUS_CODES.iter().find(|(_, c)| *c == code).map_or("unknown", |(name, _)| *name)
}

/// The config key saying what `code` does: `erp_status.<code>`.
pub fn erp_status_key(code: ErpStatusCode) -> String {
    format!("{ERP_STATUS_KEY_PREFIX}{}", erp_status_name(code))
}

/// The action of `code` from the calling shop's config (from the host): see [`erp_action_in`].
pub fn erp_action(code: ErpStatusCode) -> Result<ErpAction, ConnectorError> {
    erp_action_in(code, config::get)
}

/// The action of `code` as `get` (the host's `config::get`, or a map in tests) says:
/// `note`, or `move:<status>` with a status of [`ERP_MOVE_TARGETS`]. A missing or blank key
/// means `note`; anything else is `invalid_input` on `config.erp_status.<code>`.
pub fn erp_action_in(code: ErpStatusCode, get: impl Fn(&str) -> Option<String>) -> Result<ErpAction, ConnectorError> {
    let key = erp_status_key(code);
    let value = get(&key);
    let text = value.as_deref().map(str::trim).unwrap_or_default();
    if text.is_empty() || text == ERP_NOTE {
        return Ok(ErpAction::Note);
    }
    let refused = || {
        let targets: Vec<&str> = ERP_MOVE_TARGETS.iter().map(|(name, _)| *name).collect();
        ConnectorError::invalid_input(
            config::field(&key),
            format!(
                "expected {ERP_NOTE:?} or \"{ERP_MOVE_PREFIX}<status>\" with status one of {}, got {text:?}",
                targets.join(", ")
            ),
        )
    };
    let target = text.strip_prefix(ERP_MOVE_PREFIX).ok_or_else(refused)?;
    ERP_MOVE_TARGETS.iter().find(|(name, _)| *name == target).map(|(_, s)| ErpAction::Move(*s)).ok_or_else(refused)
}

/// The `erp_status.<code>` keys, each defaulting to `note`, for a marketplace plugin's
/// descriptor (so operators see them, and the host knows their default).
pub fn erp_status_config_keys() -> Vec<ConfigKey> {
    ERP_STATUS_CODES
        .iter()
        .map(|(name, code)| {
            ConfigKey::with_default(
                &erp_status_key(*code),
                &format!("What the ERP status `{name}` does to the order: `note` (a tracking line) or `move:<status>` (partially_shipped, shipped, completed, cancelled, closed)"),
                ERP_NOTE,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[(&str, OrderStatus)] = &[("1", OrderStatus::Unpaid), ("105", OrderStatus::Paid)];

    #[test]
    fn known_values_map_and_unknown_ones_name_the_field() {
        assert_eq!(lookup(TABLE, "105", "order_status").unwrap(), OrderStatus::Paid);
        let e = lookup(TABLE, "9", "data.shop_order_list[0].order_status").unwrap_err();
        assert_eq!(e.field, "data.shop_order_list[0].order_status");
        assert_eq!(e.reason, "expected one of 1, 105, got \"9\"");
    }

    #[test]
    fn refund_rollup() {
        use RefundStatus::*;
        assert_eq!(order_refund([None, Refunded, Requested]), Requested);
        assert_eq!(order_refund([None, Refunded]), Refunded);
        assert_eq!(order_refund([]), None);
    }

    fn config<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn erp_actions_come_from_config_and_default_to_a_note() {
        let pairs = [
            ("erp_status.signed", "move:completed"),
            ("erp_status.cancelled", " move:cancelled "),
            ("erp_status.picking", "note"),
            ("erp_status.packed", ""),
            ("erp_status.out_of_stock", "move:partially_shipped"),
        ];
        let action = |code| erp_action_in(code, config(&pairs)).unwrap();
        assert_eq!(action(ErpStatusCode::Signed), ErpAction::Move(OrderStatus::Completed));
        assert_eq!(action(ErpStatusCode::Cancelled), ErpAction::Move(OrderStatus::Cancelled));
        assert_eq!(action(ErpStatusCode::OutOfStock), ErpAction::Move(OrderStatus::PartiallyShipped));
        assert_eq!(action(ErpStatusCode::Picking), ErpAction::Note);
        assert_eq!(action(ErpStatusCode::Packed), ErpAction::Note);
        assert_eq!(action(ErpStatusCode::Accepted), ErpAction::Note, "a missing key is a note");
    }

    #[test]
    fn bad_erp_actions_name_their_key() {
        for bad in ["move:paid", "move:unpaid", "move:", "move:Completed", "moved:completed", "notes", "completed"] {
            match erp_action_in(ErpStatusCode::Shipped, config(&[("erp_status.shipped", bad)])) {
                Err(ConnectorError::InvalidInput(f)) => {
                    assert_eq!(f.field, "config.erp_status.shipped");
                    assert!(f.reason.contains(bad) && f.reason.contains("closed"), "{}", f.reason);
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_code_has_a_key_defaulting_to_note() {
        assert_eq!(erp_status_key(ErpStatusCode::OutOfStock), "erp_status.out_of_stock");
        let keys = erp_status_config_keys();
        assert_eq!(keys.len(), 7);
        assert!(keys.iter().all(|k| !k.required && !k.secret && k.default_value.as_deref() == Some("note")));
        assert_eq!(keys[6].name, "erp_status.cancelled");
    }
}

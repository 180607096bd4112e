//! Platform status tables: from a platform's raw status to the canonical one.
//!
//! Every plugin has such tables (trade status, refund status, carrier codes); what they share
//! is the rule: a value not in the table is an error naming the field and the values known,
//! never a silent default, because a new platform status is exactly what an operator must
//! hear about.

use crate::error::field_error;
use crate::types::{FieldError, RefundStatus};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::OrderStatus;

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
}

//! What every marketplace's after-sales and decrypt share (contract 0.3): the refusal that
//! needs a reason, the batch a decrypt may take, the platform status as sent, and virtual phone
//! numbers split into number and extension.
//!
//! The platforms' own codes (kinds, statuses, answer methods) stay in each plugin; the rules
//! here are the canonical model's ("Rules every plugin follows": After-sales, Decrypt).

use crate::types::{AfterSaleAction, AfterSaleDecision, ConnectorError, Operation};

/// Whether `decision` is a refusal, which the buyer is shown a reason for.
pub fn is_refusal(decision: AfterSaleDecision) -> bool {
    matches!(decision, AfterSaleDecision::RefuseRefund | AfterSaleDecision::RefuseReturn)
}

/// The reason of `action`, trimmed; a refusal without one is `invalid_input` on `reason` (the
/// host never sends one, but a plugin never forwards one either). Other decisions may carry
/// none.
pub fn reason(action: &AfterSaleAction) -> Result<Option<String>, ConnectorError> {
    let reason = action.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    if reason.is_none() && is_refusal(action.decision) {
        return Err(ConnectorError::invalid_input(
            "reason",
            format!("after-sale {}: a refusal needs a reason for the buyer, got none", action.after_sale_id),
        ));
    }
    Ok(reason)
}

/// The decision's canonical name (`refuse_return`), for errors.
pub fn decision_name(decision: AfterSaleDecision) -> &'static str {
    match decision {
        AfterSaleDecision::AgreeRefund => "agree_refund",
        AfterSaleDecision::RefuseRefund => "refuse_refund",
        AfterSaleDecision::AgreeReturn => "agree_return",
        AfterSaleDecision::RefuseReturn => "refuse_return",
        AfterSaleDecision::ConfirmReturned => "confirm_returned",
    }
}

/// `invalid_input` when a call of `operation` brings more than `max` items: the plugin declared
/// `max` as the operation's batch limit (the platform's own per-call limit) and the host splits
/// larger batches, so more is a caller's mistake, never split again here.
pub fn check_batch(operation: Operation, len: usize, max: u32) -> Result<(), ConnectorError> {
    if len > max as usize {
        return Err(ConnectorError::invalid_input(
            "refs",
            format!("{} takes at most {max} items per call (the declared batch limit), got {len}", operation.name()),
        ));
    }
    Ok(())
}

/// The platform status as sent, from several fields: `aftersale_type=0;aftersale_status=6`
/// (fields without a value are left out).
pub fn platform_status(fields: &[(&str, Option<String>)]) -> String {
    fields.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect::<Vec<_>>().join(";")
}

/// A virtual number as decrypted, `18877771111-123` (TOP) or `a-b` (抖店): the number and the
/// extension to dial, split at the last `-`, never glued together. Without a `-` (or with
/// nothing on one side of it) the whole text is the number.
pub fn split_phone(phone: &str) -> (String, Option<String>) {
    let phone = phone.trim();
    match phone.rsplit_once('-') {
        Some((number, extension)) if !number.is_empty() && !extension.is_empty() => {
            (number.to_owned(), Some(extension.to_owned()))
        }
        _ => (phone.to_owned(), None),
    }
}

/// A phone as decrypted, when the platform says whether it is virtual: a virtual one is split
/// by [`split_phone`], a real one (a landline `0571-88889999`) kept whole.
pub fn split_virtual_phone(phone: &str, is_virtual: bool) -> (String, Option<String>) {
    if is_virtual { split_phone(phone) } else { (phone.trim().to_owned(), None) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(decision: AfterSaleDecision, reason: Option<&str>) -> AfterSaleAction {
        AfterSaleAction {
            after_sale_id: "R1".into(),
            order_id: "O1".into(),
            decision,
            reason: reason.map(Into::into),
            refund_version: None,
        }
    }

    #[test]
    fn refusals_need_a_reason_and_others_do_not() {
        for d in [AfterSaleDecision::RefuseRefund, AfterSaleDecision::RefuseReturn] {
            for blank in [None, Some(""), Some("  ")] {
                match reason(&action(d, blank)) {
                    Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "reason"),
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(reason(&action(d, Some(" 已发货 "))).unwrap().as_deref(), Some("已发货"));
        }
        assert_eq!(reason(&action(AfterSaleDecision::AgreeRefund, None)).unwrap(), None);
        assert_eq!(decision_name(AfterSaleDecision::ConfirmReturned), "confirm_returned");
    }

    #[test]
    fn batches_past_the_limit_are_refused() {
        assert!(check_batch(Operation::DecryptReceivers, 20, 20).is_ok());
        match check_batch(Operation::DecryptReceivers, 21, 20) {
            Err(ConnectorError::InvalidInput(f)) => assert!(f.reason.contains("at most 20"), "{}", f.reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn platform_status_and_phones() {
        assert_eq!(
            platform_status(&[
                ("aftersale_type", Some("0".into())),
                ("x", None),
                ("aftersale_status", Some("6".into()))
            ]),
            "aftersale_type=0;aftersale_status=6"
        );
        assert_eq!(split_phone("18877771111-123"), ("18877771111".to_owned(), Some("123".to_owned())));
        assert_eq!(split_phone("13812345678"), ("13812345678".to_owned(), None));
        assert_eq!(split_phone("138-"), ("138-".to_owned(), None));
        assert_eq!(split_virtual_phone("0571-88889999", false), ("0571-88889999".to_owned(), None));
        assert_eq!(split_virtual_phone("17000001111-4567", true).1.as_deref(), Some("4567"));
    }
}

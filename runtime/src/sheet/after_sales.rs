//! After-sale answer sheets: one row per answer the merchant gives an after-sale, each an
//! [`AfterSaleAction`] pushed to the order's shop.
//!
//! | column | | takes |
//! |---|---|---|
//! | `after_sale_id` | required | the platform's after-sale (refund) id |
//! | `order_id` | required | the platform's order id |
//! | `decision` | required | `agree_refund`, `refuse_refund`, `agree_return`, `refuse_return`, `confirm_returned` |
//! | `reason` | to refuse | shown to the buyer |
//! | `refund_version` | | the after-sale's version the merchant answered (Taobao refuses older ones) |

use super::cell::Value;
use super::column::{Column, Form};
use super::rows::{Reject, Row, Rows, Seen, model_enum};
use crate::model::{AfterSaleAction, AfterSaleDecision};
use crate::sync::intake::Update;

const DECISIONS: &[&str] = &["agree_refund", "refuse_refund", "agree_return", "refuse_return", "confirm_returned"];

pub(super) const ABOUT: &str = "One row per answer to an after-sale (refund or return), pushed to the order's shop. An after-sale may have one answer of each decision per sheet; a refusal needs its reason.";

/// The Chinese header of each column (import reads either; a Chinese template writes these).
pub(super) const CHINESE: &[(&str, &str)] = &[
    ("after_sale_id", "售后单号"),
    ("order_id", "订单号"),
    ("decision", "处理"),
    ("reason", "理由"),
    ("refund_version", "退款版本号"),
];

pub(super) const COLUMNS: &[Column] = &[
    Column::required("after_sale_id", Form::Code, "The platform's after-sale (refund) id.", "120389123012"),
    Column::required("order_id", Form::Code, "The platform's order id.", "3817263548271635"),
    Column::required(
        "decision",
        Form::Choice(DECISIONS),
        "Agree or refuse the refund or the return, or confirm the returned goods arrived.",
        "agree_refund",
    ),
    Column::optional("reason", Form::Text, "Shown to the buyer; required to refuse.", "商品已发出，请收货后申请退货"),
    Column::optional(
        "refund_version",
        Form::Count,
        "The after-sale's version you answered (from the after-sales export); platforms that version after-sales refuse an answer to an older one.",
        "1733120000000",
    ),
];

#[derive(Default)]
pub(super) struct Sheet {
    actions: Vec<AfterSaleAction>,
    seen: Seen<(String, &'static str)>,
}

impl Rows for Sheet {
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let after_sale_id = row.must("after_sale_id", Value::code)?;
        let order_id = row.must("order_id", Value::code)?;
        let name = row.must("decision", |v| v.one_of(DECISIONS))?;
        if let Some(first) = self.seen.before((after_sale_id.clone(), name), row.number) {
            return Err(
                row.reject("decision", format!("{name} of after-sale {after_sale_id:?} is already on row {first}"))
            );
        }
        let decision: AfterSaleDecision = model_enum(name);
        let reason = row.may("reason", Value::text)?;
        if decision.needs_reason() && reason.is_none() {
            return Err(row.reject("reason", format!("required to {}: the buyer is told why", name.replace('_', " "))));
        }
        let refund_version = row.may("refund_version", |v| v.whole(0, u64::MAX))?;
        self.actions.push(AfterSaleAction { after_sale_id, order_id, decision, reason, refund_version });
        Ok(())
    }

    fn finish(self) -> Update {
        Update::AfterSaleActions(self.actions)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SheetKind;
    use super::super::fixture::{Cell, accepted, import, rejected, workbook};
    use super::*;

    #[test]
    fn answers_from_rows_and_a_refusal_needs_its_reason() {
        let rows: Vec<Vec<Cell>> = vec![
            ["After_Sale_Id", "order_id", "decision", "reason", "refund_version"].map(Cell::s).to_vec(),
            vec![Cell::n(120389123012.0), Cell::s("T1"), Cell::s("agree_refund"), Cell::Blank, Cell::n(3.0)],
            vec![Cell::s("R2"), Cell::s("T2"), Cell::s("refuse_return"), Cell::s("已超过退货期")],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::AfterSales, &workbook(&refs), 0);
        assert_eq!(accepted(&imported), vec![2, 3]);
        assert_eq!(
            imported.update,
            Some(Update::AfterSaleActions(vec![
                AfterSaleAction {
                    after_sale_id: "120389123012".into(),
                    order_id: "T1".into(),
                    decision: AfterSaleDecision::AgreeRefund,
                    reason: None,
                    refund_version: Some(3),
                },
                AfterSaleAction {
                    after_sale_id: "R2".into(),
                    order_id: "T2".into(),
                    decision: AfterSaleDecision::RefuseReturn,
                    reason: Some("已超过退货期".into()),
                    refund_version: None,
                },
            ]))
        );

        let mut bad = rows.clone();
        bad.push(vec![Cell::s("R3"), Cell::s("T3"), Cell::s("refuse_refund")]);
        bad.push(vec![Cell::s("R2"), Cell::s("T2"), Cell::s("REFUSE_RETURN"), Cell::s("again")]);
        bad.push(vec![Cell::s("R4"), Cell::s("T4"), Cell::s("refund")]);
        let refs: Vec<&[Cell]> = bad.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::AfterSales, &workbook(&refs), 0);
        assert_eq!(imported.update, None);
        assert_eq!(
            rejected(&imported),
            vec![
                (4, "D (reason)".into(), "reason: required to refuse refund: the buyer is told why".into()),
                (5, "C (decision)".into(), "decision: refuse_return of after-sale \"R2\" is already on row 3".into()),
                (
                    6,
                    "C (decision)".into(),
                    "decision: expected one of agree_refund, refuse_refund, agree_return, refuse_return, confirm_returned, got \"refund\"".into()
                ),
            ]
        );
    }
}

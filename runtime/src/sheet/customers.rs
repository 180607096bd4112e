//! Customer sheets: one row per ERP customer, each a [`CustomerMapping`].
//!
//! | column | | takes |
//! |---|---|---|
//! | `erp_customer_code` | required | the ERP's customer number; once per sheet |
//! | `name` | required | text |
//! | `credit_code` | | the unified social credit code (统一社会信用代码), the usual match key |
//! | `platform_customer_id` | | the platform's customer id, once matched |

use super::cell::Value;
use super::column::{Column, Form};
use super::rows::{Reject, Row, Rows, Seen};
use crate::model::CustomerMapping;
use crate::sync::intake::Update;

pub(super) const ABOUT: &str =
    "One row per ERP customer, to match platform buyers to ERP customer codes. A code may appear once per sheet.";

/// The Chinese header of each column (import reads either; a Chinese template writes these).
pub(super) const CHINESE: &[(&str, &str)] = &[
    ("erp_customer_code", "ERP客户编码"),
    ("name", "客户名称"),
    ("credit_code", "统一社会信用代码"),
    ("platform_customer_id", "平台客户ID"),
];

pub(super) const COLUMNS: &[Column] = &[
    Column::required("erp_customer_code", Form::Code, "The ERP's customer number.", "C000123"),
    Column::required("name", Form::Text, "The customer's name.", "某某大药房有限公司"),
    Column::optional(
        "credit_code",
        Form::Code,
        "The unified social credit code (统一社会信用代码), the usual match key.",
        "91310000MA1FL1234X",
    ),
    Column::optional("platform_customer_id", Form::Code, "The platform's customer id, once matched.", "2208765432"),
];

#[derive(Default)]
pub(super) struct Sheet {
    customers: Vec<CustomerMapping>,
    seen: Seen<String>,
}

impl Rows for Sheet {
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let erp_customer_code = row.must("erp_customer_code", Value::code)?;
        if let Some(first) = self.seen.before(erp_customer_code.clone(), row.number) {
            return Err(row.reject("erp_customer_code", format!("{erp_customer_code:?} is already on row {first}")));
        }
        let name = row.must("name", Value::text)?;
        let credit_code = row.may("credit_code", Value::code)?;
        let platform_customer_id = row.may("platform_customer_id", Value::code)?;
        self.customers.push(CustomerMapping { erp_customer_code, name, credit_code, platform_customer_id });
        Ok(())
    }

    fn finish(self) -> Update {
        Update::Customers(self.customers)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SheetKind;
    use super::super::fixture::{Cell, accepted, import, rejected, workbook};
    use super::*;

    #[test]
    fn customers_from_rows_and_duplicates_refused() {
        let rows: Vec<Vec<Cell>> = vec![
            ["Name", "ERP_Customer_Code", "platform_customer_id", "credit_code"].map(Cell::s).to_vec(),
            vec![Cell::s("甲药房"), Cell::n(123.0), Cell::n(2208765432.0), Cell::s("91310000MA1FL1234X")],
            vec![Cell::s("乙药房"), Cell::s("C2")],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Customers, &workbook(&refs), 0);
        assert_eq!(accepted(&imported), vec![2, 3]);
        assert_eq!(
            imported.update,
            Some(Update::Customers(vec![
                CustomerMapping {
                    erp_customer_code: "123".into(),
                    name: "甲药房".into(),
                    credit_code: Some("91310000MA1FL1234X".into()),
                    platform_customer_id: Some("2208765432".into()),
                },
                CustomerMapping {
                    erp_customer_code: "C2".into(),
                    name: "乙药房".into(),
                    credit_code: None,
                    platform_customer_id: None
                },
            ]))
        );

        let mut dup = rows.clone();
        dup.push(vec![Cell::s("丙"), Cell::s("123")]);
        let refs: Vec<&[Cell]> = dup.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Customers, &workbook(&refs), 0);
        assert_eq!(imported.update, None);
        assert_eq!(
            rejected(&imported),
            vec![(4, "B (erp_customer_code)".into(), "erp_customer_code: \"123\" is already on row 2".into())]
        );
    }
}

//! Stock sheets: one row per SKU, each a [`StockUpdate`].
//!
//! | column | | takes |
//! |---|---|---|
//! | `outer_sku_id` | required | the merchant's SKU code; once per sheet |
//! | `quantity` | required | a whole number >= 0 |
//! | `warehouse` | | text |
//! | `product_id`, `sku_id` | | the platform's ids, when known |
//! | `version` | | a whole number; blank takes the import's default version |
//!
//! A SKU's stock is one value however many warehouses hold it (the queue keeps one update per
//! SKU), so a SKU twice in one sheet is refused rather than letting the last row win.

use super::cell::Value;
use super::column::{Column, Form, OUTER_SKU_ID, PRODUCT_ID, SKU_ID};
use super::rows::{Reject, Row, Rows, Seen};
use crate::model::StockUpdate;
use crate::sync::intake::Update;

pub(super) const ABOUT: &str = "One row per SKU: the quantity on sale now. A SKU may appear once per sheet.";

/// The Chinese header of each column (import reads either; a Chinese template writes these).
pub(super) const CHINESE: &[(&str, &str)] = &[("quantity", "库存数量"), ("warehouse", "仓库"), ("version", "版本号")];

pub(super) const COLUMNS: &[Column] = &[
    OUTER_SKU_ID,
    Column::required("quantity", Form::Count, "Units on sale (with stock kept per lot, the sum of the lots).", "120"),
    Column::optional("warehouse", Form::Text, "The warehouse the quantity comes from, for the record.", "SH-01"),
    PRODUCT_ID,
    SKU_ID,
    Column::optional(
        "version",
        Form::Count,
        "The SKU's stock version: an update older than one already sent is dropped. Blank: the import's own version.",
        "1767225600000",
    ),
];

pub(super) struct Sheet {
    default_version: u64,
    updates: Vec<StockUpdate>,
    seen: Seen<String>,
}

impl Sheet {
    pub(super) fn new(default_version: u64) -> Self {
        Sheet { default_version, updates: Vec::new(), seen: Seen::default() }
    }
}

impl Rows for Sheet {
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let outer_sku_id = row.must("outer_sku_id", Value::code)?;
        if let Some(first) = self.seen.before(outer_sku_id.clone(), row.number) {
            return Err(row.reject(
                "outer_sku_id",
                format!("{outer_sku_id:?} is already on row {first}; a SKU's stock is one value"),
            ));
        }
        let quantity = row.must("quantity", |v| v.whole(0, u64::from(u32::MAX)))?;
        let warehouse = row.may("warehouse", Value::text)?;
        let product_id = row.may("product_id", Value::code)?;
        let sku_id = row.may("sku_id", Value::code)?;
        let version = row.may("version", |v| v.whole(0, u64::MAX))?.unwrap_or(self.default_version);
        let quantity = u32::try_from(quantity).map_err(|_| row.reject("quantity", "too large"))?;
        self.updates.push(StockUpdate { outer_sku_id, product_id, sku_id, quantity, warehouse, version });
        Ok(())
    }

    fn finish(self) -> Update {
        Update::Stock(self.updates)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{Cell, accepted, import, rejected, workbook};
    use super::super::{SheetError, SheetKind};
    use super::*;

    #[test]
    fn rows_become_stock_updates() {
        let book = workbook(&[
            &[
                Cell::s(" Quantity "),
                Cell::s("OUTER_SKU_ID"),
                Cell::s("note"),
                Cell::s("version"),
                Cell::s("warehouse"),
            ],
            &[Cell::n(5.0), Cell::s("A-1"), Cell::s("ignored"), Cell::Blank, Cell::s("SH")],
            &[],
            &[Cell::n(0.0), Cell::n(123456.0), Cell::Blank, Cell::n(42.0), Cell::Blank],
            &[Cell::Blank, Cell::Blank, Cell::s("only a note: skipped")],
        ]);
        let imported = import(SheetKind::Stock, &book, 7);
        assert_eq!(accepted(&imported), vec![2, 4]);
        let Some(Update::Stock(updates)) = imported.update else { panic!("{imported:?}") };
        assert_eq!(
            updates,
            vec![
                StockUpdate {
                    outer_sku_id: "A-1".into(),
                    product_id: None,
                    sku_id: None,
                    quantity: 5,
                    warehouse: Some("SH".into()),
                    version: 7
                },
                StockUpdate {
                    outer_sku_id: "123456".into(),
                    product_id: None,
                    sku_id: None,
                    quantity: 0,
                    warehouse: None,
                    version: 42
                },
            ]
        );
    }

    #[test]
    fn a_bad_row_applies_nothing_and_says_why() {
        let book = workbook(&[
            &[Cell::s("outer_sku_id"), Cell::s("sku_id"), Cell::s("quantity")],
            &[Cell::s("A-1"), Cell::Blank, Cell::n(5.0)],
            &[Cell::s("A-2"), Cell::Blank, Cell::n(-3.0)],
            &[Cell::s("A-3"), Cell::Blank, Cell::s("many")],
            &[Cell::s("A-1"), Cell::Blank, Cell::n(1.0)],
            &[Cell::Blank, Cell::Blank, Cell::n(1.0)],
            &[Cell::s("A-5"), Cell::n(1.5), Cell::n(1.0)],
            &[Cell::s("A-6"), Cell::Blank, Cell::n(2.5)],
            &[Cell::s("A-7"), Cell::Blank, Cell::n(5e9)],
        ]);
        let imported = import(SheetKind::Stock, &book, 0);
        assert_eq!(imported.update, None);
        assert_eq!(accepted(&imported), vec![2]);
        assert_eq!(
            rejected(&imported),
            vec![
                (3, "C (quantity)".into(), "quantity: expected a whole number from 0 to 4294967295, got \"-3\"".into()),
                (
                    4,
                    "C (quantity)".into(),
                    "quantity: expected a whole number from 0 to 4294967295, got \"many\"".into()
                ),
                (
                    5,
                    "A (outer_sku_id)".into(),
                    "outer_sku_id: \"A-1\" is already on row 2; a SKU's stock is one value".into()
                ),
                (6, "A (outer_sku_id)".into(), "outer_sku_id: required, but the cell is empty".into()),
                (7, "B (sku_id)".into(), "sku_id: expected a code (text or a whole number), got \"1.5\"".into()),
                (
                    8,
                    "C (quantity)".into(),
                    "quantity: expected a whole number from 0 to 4294967295, got \"2.5\"".into()
                ),
                (
                    9,
                    "C (quantity)".into(),
                    "quantity: expected a whole number from 0 to 4294967295, got \"5000000000\"".into()
                ),
            ]
        );
    }

    #[test]
    fn missing_required_column_is_a_sheet_error() {
        let book = workbook(&[&[Cell::s("outer_sku_id"), Cell::s("warehouse")], &[Cell::s("A"), Cell::s("B")]]);
        let err = super::super::import(SheetKind::Stock, &book, 0).unwrap_err();
        assert!(matches!(&err, SheetError::MissingColumns { missing, .. } if missing == "quantity"), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("outer_sku_id (required), quantity (required), warehouse, product_id, sku_id, version"),
            "{text}"
        );
    }
}

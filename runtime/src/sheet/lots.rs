//! Lot sheets: one row per lot on sale; the rows of one SKU become one [`LotSync`], which
//! replaces every lot the platform has for that SKU.
//!
//! | column | | takes |
//! |---|---|---|
//! | `outer_sku_id` | required | the merchant's SKU code |
//! | `batch_no` | required | the lot's number; once per SKU |
//! | `quantity` | required | a whole number >= 1 |
//! | `produced_on`, `expires_on` | | a date cell or `YYYY-MM-DD` text; expiry not before production |
//! | `product_id`, `sku_id` | | the platform's ids |
//!
//! A lot sync lists the lots currently on sale (stock > 0), so a lot with quantity 0 is refused
//! rather than sent: leaving it off the sheet is what removes it from the platform.

use super::cell::Value;
use super::column::{Column, Form, OUTER_SKU_ID, PRODUCT_ID_PER_SKU, SKU_ID_PER_SKU};
use super::rows::{Groups, Reject, Row, Rows, Seen};
use crate::model::{Lot, LotSync};
use crate::sync::intake::Update;

pub(super) const ABOUT: &str = "One row per lot on sale. The lots of a SKU in this sheet replace all its lots on the platforms: \
     list every lot on sale, and leave sold-out lots off.";

/// The Chinese header of each column (import reads either; a Chinese template writes these).
pub(super) const CHINESE: &[(&str, &str)] =
    &[("batch_no", "批号"), ("quantity", "数量"), ("produced_on", "生产日期"), ("expires_on", "有效期至")];

pub(super) const COLUMNS: &[Column] = &[
    OUTER_SKU_ID,
    Column::required("batch_no", Form::Code, "The lot (batch) number. A lot may appear once per SKU.", "B20260115"),
    Column::required("quantity", Form::PositiveCount, "Units of this lot on sale.", "40"),
    Column::optional("produced_on", Form::Date, "Production date.", "2026-01-15"),
    Column::optional("expires_on", Form::Date, "Expiry date; not before the production date.", "2028-01-14"),
    PRODUCT_ID_PER_SKU,
    SKU_ID_PER_SKU,
];

#[derive(Default)]
pub(super) struct Sheet {
    /// Lots per SKU, sharing product_id and sku_id.
    groups: Groups<Lot, 2>,
    seen: Seen<(String, String)>,
}

impl Rows for Sheet {
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let outer_sku_id = row.must("outer_sku_id", Value::code)?;
        let batch_no = row.must("batch_no", Value::code)?;
        if let Some(first) = self.seen.before((outer_sku_id.clone(), batch_no.clone()), row.number) {
            return Err(
                row.reject("batch_no", format!("lot {batch_no:?} of {outer_sku_id:?} is already on row {first}"))
            );
        }
        let quantity = row.must("quantity", |v| v.whole(0, u64::from(u32::MAX)))?;
        if quantity == 0 {
            return Err(
                row.reject("quantity", "a lot on sale has 1 or more, got \"0\"; leave sold-out lots off the sheet")
            );
        }
        let quantity = u32::try_from(quantity).map_err(|_| row.reject("quantity", "too large"))?;
        let produced_on = row.may("produced_on", Value::date)?;
        let expires_on = row.may("expires_on", Value::date)?;
        // `YYYY-MM-DD` compares as the dates do.
        if let (Some(produced), Some(expires)) = (&produced_on, &expires_on)
            && expires < produced
        {
            return Err(row.reject("expires_on", format!("{expires} is before produced_on {produced}")));
        }
        let product_id = row.may("product_id", Value::code)?;
        let sku_id = row.may("sku_id", Value::code)?;

        let lot = Lot { batch_no, produced_on, expires_on, quantity };
        self.groups.add(row, outer_sku_id, lot, [("product_id", product_id), ("sku_id", sku_id)])
    }

    fn finish(self) -> Update {
        Update::Lots(
            self.groups
                .into_groups()
                .into_iter()
                .map(|g| {
                    let [product_id, sku_id] = g.shared();
                    LotSync { product_id, sku_id, outer_sku_id: g.outer_sku_id, lots: g.items }
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::SheetKind;
    use super::super::fixture::{Cell, accepted, import, rejected, workbook};
    use super::*;

    fn header() -> Vec<Cell> {
        ["outer_sku_id", "batch_no", "quantity", "produced_on", "expires_on", "sku_id"].map(Cell::s).to_vec()
    }

    fn lot(batch: &str, produced: Option<&str>, expires: Option<&str>, quantity: u32) -> Lot {
        Lot {
            batch_no: batch.into(),
            produced_on: produced.map(Into::into),
            expires_on: expires.map(Into::into),
            quantity,
        }
    }

    #[test]
    fn lots_group_per_sku_with_dates_from_cells_and_text() {
        let rows: Vec<Vec<Cell>> = vec![
            header(),
            vec![
                Cell::s("A"),
                Cell::s("L1"),
                Cell::n(10.0),
                Cell::Date(2026, 1, 15),
                Cell::s("2028-01-14"),
                Cell::n(4987654321012.0),
            ],
            vec![Cell::s("B"), Cell::n(20260101.0), Cell::n(3.0)],
            vec![Cell::s("A"), Cell::s("L2"), Cell::s("5"), Cell::s("2026-02-01"), Cell::Date(2028, 2, 29)],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Lots, &workbook(&refs), 0);
        assert_eq!(accepted(&imported), vec![2, 3, 4]);
        let Some(Update::Lots(syncs)) = imported.update else { panic!("{imported:?}") };
        assert_eq!(
            syncs,
            vec![
                LotSync {
                    outer_sku_id: "A".into(),
                    product_id: None,
                    sku_id: Some("4987654321012".into()),
                    lots: vec![
                        lot("L1", Some("2026-01-15"), Some("2028-01-14"), 10),
                        lot("L2", Some("2026-02-01"), Some("2028-02-29"), 5)
                    ],
                },
                LotSync {
                    outer_sku_id: "B".into(),
                    product_id: None,
                    sku_id: None,
                    lots: vec![lot("20260101", None, None, 3)]
                },
            ]
        );
    }

    #[test]
    fn bad_lot_rows_are_named() {
        let rows: Vec<Vec<Cell>> = vec![
            header(),
            vec![Cell::s("A"), Cell::s("L1"), Cell::n(10.0), Cell::Blank, Cell::Blank, Cell::s("S1")],
            vec![Cell::s("A"), Cell::s("L1"), Cell::n(1.0)],
            vec![Cell::s("A"), Cell::s("L2"), Cell::n(0.0)],
            vec![Cell::s("A"), Cell::s("L3"), Cell::n(1.0), Cell::s("2026/01/15")],
            vec![Cell::s("A"), Cell::s("L4"), Cell::n(1.0), Cell::n(46023.0)],
            vec![Cell::s("A"), Cell::s("L5"), Cell::n(1.0), Cell::Date(2026, 3, 1), Cell::s("2026-02-28")],
            vec![Cell::s("A"), Cell::s("L6"), Cell::n(1.0), Cell::Blank, Cell::Blank, Cell::s("S2")],
            vec![Cell::s("A"), Cell::Blank, Cell::n(1.0)],
            vec![Cell::s("A"), Cell::s("L7"), Cell::n(1.0), Cell::Bool(true)],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Lots, &workbook(&refs), 0);
        assert_eq!(imported.update, None);
        assert_eq!(accepted(&imported), vec![2]);
        let date = "expected a date (a date cell, or text YYYY-MM-DD), got";
        let expect: Vec<(u32, String, String)> = vec![
            (3, "B (batch_no)".into(), "batch_no: lot \"L1\" of \"A\" is already on row 2".into()),
            (4, "C (quantity)".into(), "quantity: a lot on sale has 1 or more, got \"0\"; leave sold-out lots off the sheet".into()),
            (5, "D (produced_on)".into(), format!("produced_on: {date} \"2026/01/15\"")),
            (6, "D (produced_on)".into(), format!("produced_on: {date} \"46023\"; format the cell as a date")),
            (7, "E (expires_on)".into(), "expires_on: 2026-02-28 is before produced_on 2026-03-01".into()),
            (
                8,
                "F (sku_id)".into(),
                "sku_id: \"S2\" differs from \"S1\" on row 2 for the same outer_sku_id \"A\"; rows of one SKU must agree (or leave it blank)".into(),
            ),
            (9, "B (batch_no)".into(), "batch_no: required, but the cell is empty".into()),
            (10, "D (produced_on)".into(), format!("produced_on: {date} TRUE")),
        ];
        assert_eq!(rejected(&imported), expect);
    }
}

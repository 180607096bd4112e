//! Rows to records, and the report.
//!
//! Each kind's module takes one row at a time ([`Rows::take`]) and says why it refuses one;
//! this module walks the rows, writes the report and hands over the records only when no row
//! was refused.

use super::column::Column;
use super::reader::{self, Table};
use super::rows::{Reject, Row, Rows};
use super::{
    CellError, Imported, RowOutcome, SheetError, SheetKind, after_sales, customers, invoices, lots, prices, products,
    stock,
};

/// Reads the first sheet of `xlsx` as records of `kind`, with a report per data row.
/// `default_version` is the version of stock rows that leave `version` blank (0 lets the
/// intake give each its next version, as for any update without one).
pub fn import(kind: SheetKind, xlsx: &[u8], default_version: u64) -> Result<Imported, SheetError> {
    let columns = kind.columns();
    let table = reader::read(xlsx, columns, &|name| kind.chinese(name))?;
    Ok(match kind {
        SheetKind::Stock => walk(&table, columns, stock::Sheet::new(default_version)),
        SheetKind::Prices => walk(&table, columns, prices::Sheet::default()),
        SheetKind::Lots => walk(&table, columns, lots::Sheet::default()),
        SheetKind::Products => walk(&table, columns, products::Sheet::default()),
        SheetKind::Customers => walk(&table, columns, customers::Sheet::default()),
        SheetKind::Invoices => walk(&table, columns, invoices::Sheet::default()),
        SheetKind::AfterSales => walk(&table, columns, after_sales::Sheet::default()),
    })
}

fn walk(table: &Table, columns: &'static [Column], mut sheet: impl Rows) -> Imported {
    let mut outcomes = Vec::with_capacity(table.rows.len());
    for (&index, values) in &table.rows {
        let row = Row::new(index, columns, table, values);
        outcomes.push(match sheet.take(&row) {
            Ok(()) => RowOutcome { row: row.number, accepted: true, column: None, reason: None, errors: Vec::new() },
            Err(first) => {
                // The kind stops at the first problem; the cells of the other columns are
                // checked too, so one pass names every bad cell of the row.
                let others = row.cell_errors().into_iter().filter(|e| e.column != first.column);
                let errors: Vec<CellError> = std::iter::once(first.clone())
                    .chain(others)
                    .map(|Reject { column, reason }| CellError { column, reason })
                    .collect();
                let Reject { column, reason } = first;
                RowOutcome { row: row.number, accepted: false, column: Some(column), reason: Some(reason), errors }
            }
        });
    }
    let update = outcomes.iter().all(|o| o.accepted).then(|| sheet.finish());
    Imported { rows: outcomes, update }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{Cell, workbook};
    use super::super::{MAX_ROWS, template};
    use super::*;
    use crate::sync::intake::Update;

    #[test]
    fn garbage_is_an_unreadable_file_never_a_panic() {
        let mut inputs: Vec<Vec<u8>> =
            vec![Vec::new(), b"PK\x03\x04".to_vec(), b"not a spreadsheet".to_vec(), vec![0xff; 4096]];
        // Truncations and bit flips of a real workbook.
        let good = workbook(&[&[Cell::s("outer_sku_id"), Cell::s("quantity")], &[Cell::s("A"), Cell::n(1.0)]]);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for cut in (0..good.len()).step_by(97) {
            inputs.push(good[..cut].to_vec());
        }
        for _ in 0..200 {
            let mut flipped = good.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed % flipped.len() as u64) as usize;
                flipped[at] ^= (seed >> 32) as u8 | 1;
            }
            inputs.push(flipped);
        }
        for input in &inputs {
            for kind in SheetKind::ALL {
                // Any answer will do but a panic; most are errors.
                let _ = import(kind, input, 0);
            }
        }
        assert!(matches!(import(SheetKind::Stock, b"not a spreadsheet", 0), Err(SheetError::Unreadable(_))));
    }

    #[test]
    fn an_empty_workbook_or_header_row_is_a_sheet_error() {
        let empty = workbook(&[]);
        let err = import(SheetKind::Stock, &empty, 0).unwrap_err();
        assert!(matches!(err, SheetError::NoHeader { .. }), "{err}");
        assert!(err.to_string().contains("expected headers: outer_sku_id (required), quantity (required)"), "{err}");

        let header_in_row_2 = workbook(&[&[], &[Cell::s("outer_sku_id"), Cell::s("quantity")]]);
        assert!(matches!(import(SheetKind::Stock, &header_in_row_2, 0), Err(SheetError::NoHeader { .. })));

        let twice = workbook(&[&[Cell::s("outer_sku_id"), Cell::s("quantity"), Cell::s("Quantity ")]]);
        let err = import(SheetKind::Stock, &twice, 0).unwrap_err();
        assert_eq!(err.to_string(), "the header row names column `quantity` twice (B and C); keep one");
    }

    #[test]
    fn chinese_headers_read_and_every_bad_cell_of_a_row_is_named() {
        let rows: Vec<Vec<Cell>> = vec![
            vec![Cell::s("商家编码"), Cell::s("库存数量"), Cell::s("版本号")],
            vec![Cell::s("SKU-1"), Cell::n(5.0)],
            // No SKU, a negative quantity and a version that is no number: all three named.
            vec![Cell::Blank, Cell::n(-3.0), Cell::s("v2")],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Stock, &workbook(&refs), 0).unwrap();
        assert!(imported.rows[0].accepted, "{imported:?}");
        let bad = &imported.rows[1];
        let columns: Vec<&str> = bad.errors.iter().map(|e| e.column.as_str()).collect();
        assert_eq!(columns, ["A (outer_sku_id)", "B (quantity)", "C (version)"], "{bad:?}");
        assert_eq!(bad.column.as_deref(), Some("A (outer_sku_id)"));
        assert_eq!(bad.reason, Some(bad.errors[0].reason.clone()));
        assert!(bad.errors[2].reason.starts_with("version: expected a whole number"), "{bad:?}");
    }

    #[test]
    fn a_header_only_sheet_is_an_empty_update() {
        let only_header = workbook(&[&[Cell::s("erp_customer_code"), Cell::s("name")]]);
        let imported = import(SheetKind::Customers, &only_header, 0).unwrap();
        assert_eq!(imported, Imported { rows: Vec::new(), update: Some(Update::Customers(Vec::new())) });
        assert!(
            import(SheetKind::Customers, &template(SheetKind::Customers, crate::sheet::Language::Chinese), 0)
                .unwrap()
                .rows
                .is_empty()
        );
    }

    #[test]
    fn rows_beyond_the_limit_are_refused_and_far_cells_cost_nothing() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "outer_sku_id").unwrap();
        sheet.write_string(0, 1, "quantity").unwrap();
        sheet.write_string(1, 0, "A").unwrap();
        sheet.write_number(1, 1, 1.0).unwrap();
        // A cell at the far corner of an unknown column: ignored, and never laid out.
        sheet.write_string(1_048_575, 16_383, "far away").unwrap();
        let far = book.save_to_buffer().unwrap();
        let imported = import(SheetKind::Stock, &far, 0).unwrap();
        assert_eq!(imported.rows.len(), 1);
        assert!(imported.update.is_some());

        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "outer_sku_id").unwrap();
        sheet.write_string(0, 1, "quantity").unwrap();
        sheet.write_string(MAX_ROWS as u32, 0, "last").unwrap();
        sheet.write_string(MAX_ROWS as u32 + 1, 0, "one too many").unwrap();
        let err = import(SheetKind::Stock, &book.save_to_buffer().unwrap(), 0).unwrap_err();
        assert!(matches!(err, SheetError::TooManyRows { limit: MAX_ROWS, .. }), "{err}");
    }

    #[test]
    fn the_report_serializes_as_the_api_shows_it() {
        let ok = RowOutcome { row: 2, accepted: true, column: None, reason: None, errors: Vec::new() };
        assert_eq!(serde_json::to_value(&ok).unwrap(), serde_json::json!({"row": 2, "accepted": true}));
        let bad = RowOutcome {
            row: 3,
            accepted: false,
            column: Some("B (quantity)".into()),
            reason: Some("quantity: …".into()),
            errors: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&bad).unwrap(),
            serde_json::json!({"row": 3, "accepted": false, "column": "B (quantity)", "reason": "quantity: …"})
        );
        assert_eq!(SheetKind::from_name("lots"), Some(SheetKind::Lots));
        let sheets: Vec<crate::model::Module> =
            crate::model::Module::ALL.into_iter().filter(|m| m.spec().sheet).collect();
        assert_eq!(SheetKind::ALL.map(SheetKind::module).to_vec(), sheets, "the kinds are the table's sheets");
        assert_eq!(SheetKind::from_name("orders"), None);
        assert!(SheetKind::ALL.iter().all(|k| SheetKind::from_name(k.name()) == Some(*k)));
    }
}

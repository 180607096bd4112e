//! Workbooks for the tests, written with rust_xlsxwriter as an operator's Excel would.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use super::{Imported, SheetKind};

/// A cell to write.
#[derive(Clone, Debug)]
pub(super) enum Cell {
    Blank,
    Text(String),
    Number(f64),
    Bool(bool),
    /// A date cell (a number formatted as a date), year, month, day.
    Date(u16, u8, u8),
}

impl Cell {
    pub(super) fn s(text: &str) -> Cell {
        Cell::Text(text.to_owned())
    }

    pub(super) fn n(number: f64) -> Cell {
        Cell::Number(number)
    }
}

/// A workbook whose first sheet holds `rows` from row 1; blank cells are not written.
pub(super) fn workbook(rows: &[&[Cell]]) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (r, cells) in rows.iter().enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            let written = match cell {
                Cell::Blank => continue,
                Cell::Text(s) => sheet.write_string(r, c, s),
                Cell::Number(n) => sheet.write_number(r, c, *n),
                Cell::Bool(b) => sheet.write_boolean(r, c, *b),
                Cell::Date(y, m, d) => {
                    sheet.write_datetime_with_format(r, c, ExcelDateTime::from_ymd(*y, *m, *d).unwrap(), &date)
                }
            };
            written.unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

pub(super) fn import(kind: SheetKind, xlsx: &[u8], default_version: u64) -> Imported {
    super::import(kind, xlsx, default_version).unwrap()
}

pub(super) fn accepted(imported: &Imported) -> Vec<u32> {
    imported.rows.iter().filter(|r| r.accepted).map(|r| r.row).collect()
}

/// (row, column, reason) of each rejected row.
pub(super) fn rejected(imported: &Imported) -> Vec<(u32, String, String)> {
    imported
        .rows
        .iter()
        .filter(|r| !r.accepted)
        .map(|r| (r.row, r.column.clone().unwrap_or_default(), r.reason.clone().unwrap_or_default()))
        .collect()
}

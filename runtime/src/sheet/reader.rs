//! The workbook: its first sheet, the header row, and the data rows of the known columns.
//!
//! Cells are streamed, never laid out as a rectangle: a file with one cell in `A1` and one in
//! `XFD1048576` would otherwise ask for seventeen billion cells. Two passes over the sheet:
//! the first reads row 1 to learn which column holds which field, the second keeps only the
//! cells of those columns, so what is held is bounded by [`MAX_ROWS`] times the kind's columns
//! whatever else the file holds.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Reader as _, Xlsx, XlsxError};

use super::cell::Value;
use super::column::{Column, expected_headers, letters};
use super::{MAX_ROWS, SheetError, bounds};

/// Text the data rows may hold in the kind's columns, in bytes. A shared string is stored once
/// in the file but held once per cell here, so a small file could otherwise ask for gigabytes.
/// The largest real sheet, [`MAX_ROWS`] products with Chinese titles, makers and specs, holds
/// about 50 MiB.
pub const MAX_TEXT_BYTES: usize = 128 * 1024 * 1024;

/// What a row says of a formula cell with no cached value.
const UNCALCULATED: &str = "a formula with no calculated value (the file was saved without calculating it): open it in Excel or WPS and save it again, or paste the values";

/// The first sheet of a workbook, as the kind's columns.
#[derive(Debug)]
pub(super) struct Table {
    /// For each of the kind's columns, the sheet column holding it (0-based), if any.
    pub at: Vec<Option<u32>>,
    /// Data rows by 0-based sheet row (row 1 of the sheet is 0, the header), each with one
    /// value per kind column; rows with no value in any known column are absent.
    pub rows: BTreeMap<u32, Vec<Value>>,
}

impl Table {
    /// `C (quantity)`, or the bare name for a column the sheet does not have.
    pub(super) fn label(&self, columns: &[Column], index: usize) -> String {
        let name = columns.get(index).map_or("?", |c| c.name);
        match self.at.get(index).copied().flatten() {
            Some(col) => format!("{} ({name})", letters(col)),
            None => name.to_owned(),
        }
    }
}

/// Another header a column is known by (its Chinese one), by the column's name.
pub(super) type Aliases<'a> = &'a dyn Fn(&str) -> Option<&'static str>;

/// Reads the first sheet of `xlsx` as `columns`, each headed by its name or its alias.
pub(super) fn read(xlsx: &[u8], columns: &'static [Column], aliases: Aliases<'_>) -> Result<Table, SheetError> {
    read_within(xlsx, columns, aliases, MAX_TEXT_BYTES)
}

fn read_within(
    xlsx: &[u8],
    columns: &'static [Column],
    aliases: Aliases<'_>,
    max_text_bytes: usize,
) -> Result<Table, SheetError> {
    // calamine parses untrusted zip and XML; should it ever panic on a malformed file, that
    // is an unreadable file for the operator, not a failed request.
    catch_unwind(AssertUnwindSafe(|| read_unguarded(xlsx, columns, aliases, max_text_bytes)))
        .unwrap_or_else(|_| Err(SheetError::Unreadable("the file's contents could not be parsed".into())))
}

fn unreadable(e: XlsxError) -> SheetError {
    SheetError::Unreadable(e.to_string())
}

fn read_unguarded(
    xlsx: &[u8],
    columns: &'static [Column],
    aliases: Aliases<'_>,
    max_text_bytes: usize,
) -> Result<Table, SheetError> {
    bounds::check(xlsx)?;
    let mut book = Xlsx::new(Cursor::new(xlsx)).map_err(unreadable)?;
    let sheet = book.sheet_names().into_iter().next().ok_or(SheetError::NoSheet)?;
    let at = header(&mut book, &sheet, columns, aliases)?;

    // Which kind column each sheet column feeds.
    let feeds: BTreeMap<u32, usize> = at.iter().enumerate().filter_map(|(i, c)| c.map(|c| (c, i))).collect();
    let mut rows: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
    let mut text_bytes = 0usize;
    let mut cells = book.worksheet_cells_reader(&sheet).map_err(unreadable)?;
    while let Some(cell) = cells.next_cell_with_formula_metadata().map_err(unreadable)? {
        let (row, col) = cell.pos;
        let Some(&index) = feeds.get(&col) else { continue };
        if row == 0 {
            continue;
        }
        // A formula is read from the value Excel cached when it saved the file; a file saved
        // by a program that does not calculate has none, and the row says so rather than
        // reading the cell as blank.
        let uncalculated = cell.formula.is_some() && matches!(cell.value, calamine::DataRef::Empty);
        let value = if uncalculated { Value::Unusable(UNCALCULATED.to_owned()) } else { Value::from(cell.value) };
        if value.is_blank() {
            continue;
        }
        if row as usize > MAX_ROWS {
            return Err(SheetError::TooManyRows { limit: MAX_ROWS, last_row: MAX_ROWS + 1 });
        }
        if let Value::Text(text) = &value {
            text_bytes = text_bytes.saturating_add(text.len());
            if text_bytes > max_text_bytes {
                return Err(SheetError::TooMuchText { limit_mib: max_text_bytes >> 20 });
            }
        }
        rows.entry(row).or_insert_with(|| vec![Value::Empty; columns.len()])[index] = value;
    }
    Ok(Table { at, rows })
}

/// Row 1: which sheet column holds each of `columns` (headed by its name, in any case, or by
/// its alias).
fn header(
    book: &mut Xlsx<Cursor<&[u8]>>,
    sheet: &str,
    columns: &[Column],
    aliases: Aliases<'_>,
) -> Result<Vec<Option<u32>>, SheetError> {
    let mut at: Vec<Option<u32>> = vec![None; columns.len()];
    let mut any = false;
    let mut cells = book.worksheet_cells_reader(sheet).map_err(unreadable)?;
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        if row != 0 {
            continue;
        }
        let value = Value::from(cell.get_value().clone());
        if value.is_blank() {
            continue;
        }
        any = true;
        let Value::Text(text) = value else { continue };
        let name = text.trim().to_lowercase();
        let Some(index) =
            columns.iter().position(|c| c.name == name || aliases(c.name).is_some_and(|a| a == text.trim()))
        else {
            continue;
        };
        let name = columns[index].name.to_owned();
        match at[index] {
            Some(first) if first != col => {
                let (first, second) = (first.min(col), first.max(col));
                return Err(SheetError::DuplicateColumn { name, first: letters(first), second: letters(second) });
            }
            _ => at[index] = Some(col),
        }
    }
    let expected = expected_headers(columns);
    if !any {
        return Err(SheetError::NoHeader { sheet: sheet.to_owned(), expected });
    }
    let missing: Vec<&str> =
        columns.iter().zip(&at).filter(|(c, at)| c.required && at.is_none()).map(|(c, _)| c.name).collect();
    if !missing.is_empty() {
        return Err(SheetError::MissingColumns { missing: missing.join(", "), expected });
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{Cell, workbook};
    use super::super::stock;
    use super::*;

    /// `xlsx` with its part `name` changed by `edit`.
    fn rezip(xlsx: &[u8], name: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
        use std::io::{Read as _, Write as _};
        let mut zip = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
        let mut out = Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        for i in 0..zip.len() {
            let mut part = zip.by_index(i).unwrap();
            let part_name = part.name().unwrap().into_owned();
            let mut bytes = Vec::new();
            part.read_to_end(&mut bytes).unwrap();
            if part_name == name {
                bytes = edit(&String::from_utf8(bytes).unwrap()).into_bytes();
            }
            writer.start_file(part_name, zip::write::SimpleFileOptions::default()).unwrap();
            writer.write_all(&bytes).unwrap();
        }
        writer.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn a_formula_reads_as_its_cached_value_or_is_refused_without_one() {
        use rust_xlsxwriter::{Formula, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "outer_sku_id").unwrap();
        sheet.write_string(0, 1, "quantity").unwrap();
        sheet.write_string(1, 0, "A").unwrap();
        sheet.write_formula(1, 1, Formula::new("=2+3").set_result("5")).unwrap();
        sheet.write_string(2, 0, "B").unwrap();
        sheet.write_formula(2, 1, Formula::new("=2+3")).unwrap();
        // A program that does not calculate saves the formula alone: drop the second one's
        // cached value (rust_xlsxwriter writes 0) from the sheet's XML.
        let xlsx = rezip(&book.save_to_buffer().unwrap(), "xl/worksheets/sheet1.xml", |xml| {
            xml.replace("<f>2+3</f><v>0</v>", "<f>2+3</f>")
        });
        let table = read(&xlsx, stock::COLUMNS, &|_| None).unwrap();
        assert_eq!(table.rows[&1][1], Value::Number(5.0));
        assert!(matches!(&table.rows[&2][1], Value::Unusable(why) if why.contains("no calculated value")), "{table:?}");
    }

    #[test]
    fn text_held_is_bounded() {
        let long = "x".repeat(600);
        let rows: Vec<Vec<Cell>> = std::iter::once(vec![Cell::s("outer_sku_id"), Cell::s("quantity")])
            .chain((0..4).map(|_| vec![Cell::s(&long), Cell::n(1.0)]))
            .collect();
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let book = workbook(&refs);
        assert_eq!(read_within(&book, stock::COLUMNS, &|_| None, 2_400).unwrap().rows.len(), 4);
        assert!(matches!(read_within(&book, stock::COLUMNS, &|_| None, 2_399), Err(SheetError::TooMuchText { .. })));
    }
}

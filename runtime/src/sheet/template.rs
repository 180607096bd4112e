//! An empty sheet of a kind: the header row an import expects, and a `help` sheet.
//!
//! Code and text columns are formatted as text, so what the operator types or pastes stays
//! as typed: a 19-digit SKU id does not become `1.23457E+18`, a leading zero is kept.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::{Language, MAX_ROWS, SheetKind};

/// Name of the sheet that describes the columns.
pub const HELP_SHEET: &str = "help";
/// Width of a data column, in Excel's character units: a SKU code or a date fits.
const COLUMN_WIDTH: f64 = 18.0;
/// Widths of the help sheet's columns: name, Chinese header, required, accepts, meaning,
/// example.
const HELP_WIDTHS: [f64; 6] = [24.0, 16.0, 10.0, 48.0, 64.0, 22.0];

/// A workbook with the header row of `kind` in `language` on its first sheet and a `help`
/// sheet naming each column both ways (an import reads either).
pub fn template(kind: SheetKind, language: Language) -> Vec<u8> {
    // Everything written is fixed and within Excel's limits; the tests write every kind.
    write(kind, language).expect("a template workbook is always writable")
}

fn write(kind: SheetKind, language: Language) -> Result<Vec<u8>, XlsxError> {
    let columns = kind.columns();
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    let wrap = Format::new().set_text_wrap();
    let mut book = Workbook::new();

    let sheet = book.add_worksheet();
    sheet.set_name(kind.name())?;
    for (i, column) in columns.iter().enumerate() {
        let col = i as u16;
        let header = kind.header(column.name, language);
        sheet.write_string_with_format(0, col, header, &bold)?;
        sheet.set_column_width(col, COLUMN_WIDTH.max(header.len() as f64 + 2.0))?;
        if column.form.is_text() {
            sheet.set_column_format(col, &text)?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;

    let help = book.add_worksheet();
    help.set_name(HELP_SHEET)?;
    write_help(help, kind, &bold, &wrap)?;
    book.save_to_buffer()
}

fn write_help(help: &mut Worksheet, kind: SheetKind, bold: &Format, wrap: &Format) -> Result<(), XlsxError> {
    for (col, (title, width)) in
        ["column", "中文表头", "required", "accepts", "meaning", "example"].iter().zip(HELP_WIDTHS).enumerate()
    {
        help.write_string_with_format(0, col as u16, *title, bold)?;
        help.set_column_width(col as u16, width)?;
    }
    help.set_freeze_panes(1, 0)?;
    let mut row = 1;
    for column in kind.columns() {
        help.write_string(row, 0, column.name)?;
        help.write_string(row, 1, kind.header(column.name, Language::Chinese))?;
        help.write_string(row, 2, if column.required { "yes" } else { "" })?;
        help.write_string_with_format(row, 3, column.form.accepts(), wrap)?;
        help.write_string_with_format(row, 4, column.meaning, wrap)?;
        // Written as text even when it looks like a number, so it shows as the example is meant.
        help.write_string(row, 5, column.example)?;
        row += 1;
    }
    let notes = [
        kind.about().to_owned(),
        format!(
            "Row 1 of the first sheet holds the column names above (or their Chinese headers), in any order and any case; other columns are ignored. \
             Each further row is one record; rows blank in every column above are skipped. At most {MAX_ROWS} rows."
        ),
        "If any row is rejected nothing is applied: the report names each rejected row, its column and why; \
         fix those rows and import the file again."
            .to_owned(),
        format!(
            "Codes typed as numbers keep at most 15 digits in Excel; the {} sheet formats code columns as text.",
            kind.name()
        ),
    ];
    // Below the table, unwrapped: each note runs on across the empty cells to its right.
    row += 1;
    for note in notes {
        help.write_string(row, 0, note)?;
        row += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};
    use std::io::Cursor;

    #[test]
    fn every_template_has_its_headers_and_help_and_imports_as_empty() {
        for (kind, language) in
            SheetKind::ALL.into_iter().flat_map(|k| [(k, Language::English), (k, Language::Chinese)])
        {
            let bytes = template(kind, language);
            let mut book = Xlsx::new(Cursor::new(bytes.as_slice())).unwrap();
            assert_eq!(book.sheet_names(), vec![kind.name().to_owned(), HELP_SHEET.to_owned()]);
            let range = book.worksheet_range(kind.name()).unwrap();
            let headers: Vec<String> = range.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
            let names: Vec<String> = kind.columns().iter().map(|c| kind.header(c.name, language).to_owned()).collect();
            assert_eq!(headers, names);
            if language == Language::Chinese {
                // Every column has its own Chinese header, and no two share one.
                let unique: std::collections::BTreeSet<&String> = headers.iter().collect();
                assert_eq!(unique.len(), headers.len(), "{kind}: {headers:?}");
                assert!(headers.iter().all(|h| !h.is_ascii() || h == "SKU ID"), "{kind}: {headers:?}");
            }
            let help = book.worksheet_range(HELP_SHEET).unwrap();
            for (i, column) in kind.columns().iter().enumerate() {
                assert_eq!(help.get_value((i as u32 + 1, 0)), Some(&Data::String(column.name.into())));
            }
            let imported = super::super::import(kind, &bytes, 0).unwrap();
            assert!(imported.rows.is_empty());
            assert!(imported.update.as_ref().is_some_and(|u| u.is_empty()), "{kind}: {imported:?}");
        }
    }
}

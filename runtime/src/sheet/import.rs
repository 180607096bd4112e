//! Rows to records, and the report.
//!
//! Each kind's module takes one row at a time ([`Rows::take`]) and says why it refuses one;
//! this module walks the rows, writes the report and hands over the records only when no row
//! was refused. The duplicate check and the group agreement live here because several kinds
//! share them.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::Hash;

use super::cell::Value;
use super::column::Column;
use super::reader::{self, Table};
use super::{Imported, RowOutcome, SheetError, SheetKind, customers, lots, prices, products, stock};
use crate::sync::intake::Update;

/// Reads the first sheet of `xlsx` as records of `kind`, with a report per data row.
/// `default_version` is the version of stock rows that leave `version` blank (0 lets the
/// intake give each its next version, as for any update without one).
pub fn import(kind: SheetKind, xlsx: &[u8], default_version: u64) -> Result<Imported, SheetError> {
    let columns = kind.columns();
    let table = reader::read(xlsx, columns)?;
    Ok(match kind {
        SheetKind::Stock => walk(&table, columns, stock::Sheet::new(default_version)),
        SheetKind::Prices => walk(&table, columns, prices::Sheet::default()),
        SheetKind::Lots => walk(&table, columns, lots::Sheet::default()),
        SheetKind::Products => walk(&table, columns, products::Sheet::default()),
        SheetKind::Customers => walk(&table, columns, customers::Sheet::default()),
    })
}

fn walk(table: &Table, columns: &'static [Column], mut sheet: impl Rows) -> Imported {
    let mut outcomes = Vec::with_capacity(table.rows.len());
    for (&index, values) in &table.rows {
        let row = Row { number: index.saturating_add(1), columns, table, values };
        outcomes.push(match sheet.take(&row) {
            Ok(()) => RowOutcome { row: row.number, accepted: true, column: None, reason: None },
            Err(Reject { column, reason }) => {
                RowOutcome { row: row.number, accepted: false, column: Some(column), reason: Some(reason) }
            }
        });
    }
    let update = outcomes.iter().all(|o| o.accepted).then(|| sheet.finish());
    Imported { rows: outcomes, update }
}

/// A kind's reading of its rows.
pub(super) trait Rows {
    /// Takes one data row, or says why not. A refused row leaves no record behind (it may
    /// leave its key, so a later row with the same key is still named a duplicate).
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject>;

    /// The records of every row taken.
    fn finish(self) -> Update;
}

/// Why a row is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Reject {
    /// `C (quantity)`.
    pub column: String,
    /// `quantity: expected a whole number >= 0, got "-3"`.
    pub reason: String,
}

/// One data row, read by column name.
pub(super) struct Row<'a> {
    /// As Excel shows it.
    pub number: u32,
    columns: &'static [Column],
    table: &'a Table,
    values: &'a [Value],
}

impl Row<'_> {
    fn value(&self, name: &str) -> &Value {
        const BLANK: &Value = &Value::Empty;
        self.columns.iter().position(|c| c.name == name).and_then(|i| self.values.get(i)).unwrap_or(BLANK)
    }

    /// Refuses the row for `reason`, found in column `name`.
    pub(super) fn reject(&self, name: &str, reason: impl fmt::Display) -> Reject {
        let column = match self.columns.iter().position(|c| c.name == name) {
            Some(i) => self.table.label(self.columns, i),
            None => name.to_owned(),
        };
        Reject { column, reason: format!("{name}: {reason}") }
    }

    /// The cell of column `name` through `read`; blank is `None`.
    pub(super) fn may<T>(
        &self,
        name: &str,
        read: impl Fn(&Value) -> Result<Option<T>, String>,
    ) -> Result<Option<T>, Reject> {
        read(self.value(name)).map_err(|reason| self.reject(name, reason))
    }

    /// Like [`Row::may`], but a blank cell refuses the row.
    pub(super) fn must<T>(&self, name: &str, read: impl Fn(&Value) -> Result<Option<T>, String>) -> Result<T, Reject> {
        self.may(name, read)?.ok_or_else(|| self.reject(name, "required, but the cell is empty"))
    }
}

/// The row each key was first seen on, so that a second row with the same key is refused
/// naming the first.
pub(super) struct Seen<K>(HashMap<K, u32>);

impl<K> Default for Seen<K> {
    fn default() -> Self {
        Seen(HashMap::new())
    }
}

impl<K: Hash + Eq> Seen<K> {
    /// The row that had `key` before, or `None` after noting `row` as its first.
    pub(super) fn before(&mut self, key: K, row: u32) -> Option<u32> {
        match self.0.entry(key) {
            Entry::Occupied(e) => Some(*e.get()),
            Entry::Vacant(e) => {
                e.insert(row);
                None
            }
        }
    }
}

/// Rows gathered per SKU, in the order SKUs first appear, with `N` values the rows of a SKU
/// share (its platform ids, its currency): a record that carries them once per SKU (a price
/// update, a lot sync) cannot take two. Rows may leave a shared value blank; the ones that give
/// it must give the same.
pub(super) struct Groups<T, const N: usize> {
    groups: Vec<Group<T, N>>,
    /// Index into `groups` by SKU.
    by_sku: HashMap<String, usize>,
}

/// One SKU's rows.
pub(super) struct Group<T, const N: usize> {
    pub outer_sku_id: String,
    pub items: Vec<T>,
    /// Each shared value, with the row that gave it first.
    shared: [Option<(String, u32)>; N],
}

impl<T, const N: usize> Group<T, N> {
    /// The shared values, in the order [`Groups::add`] takes them.
    pub(super) fn shared(&self) -> [Option<String>; N] {
        std::array::from_fn(|i| self.shared[i].as_ref().map(|(v, _)| v.clone()))
    }
}

impl<T, const N: usize> Default for Groups<T, N> {
    fn default() -> Self {
        Groups { groups: Vec::new(), by_sku: HashMap::new() }
    }
}

impl<T, const N: usize> Groups<T, N> {
    /// Adds `item` to the rows of `sku`, with the values it gives for the shared columns
    /// (column name, value); refused, and nothing added, when one differs from an earlier row's.
    pub(super) fn add(
        &mut self,
        row: &Row<'_>,
        sku: String,
        item: T,
        given: [(&str, Option<String>); N],
    ) -> Result<(), Reject> {
        let index = self.by_sku.get(&sku).copied();
        if let Some(group) = index.and_then(|i| self.groups.get(i)) {
            for ((name, given), have) in given.iter().zip(&group.shared) {
                if let (Some((have, first)), Some(given)) = (have, given)
                    && have != given
                {
                    return Err(row.reject(
                        name,
                        format!(
                            "{given:?} differs from {have:?} on row {first} for the same outer_sku_id {sku:?}; \
                             rows of one SKU must agree (or leave it blank)"
                        ),
                    ));
                }
            }
        }
        let index = index.unwrap_or_else(|| {
            self.groups.push(Group {
                outer_sku_id: sku.clone(),
                items: Vec::new(),
                shared: std::array::from_fn(|_| None),
            });
            self.by_sku.insert(sku, self.groups.len() - 1);
            self.groups.len() - 1
        });
        if let Some(group) = self.groups.get_mut(index) {
            group.items.push(item);
            for ((_, given), have) in given.into_iter().zip(&mut group.shared) {
                if have.is_none() {
                    *have = given.map(|g| (g, row.number));
                }
            }
        }
        Ok(())
    }

    pub(super) fn into_groups(self) -> Vec<Group<T, N>> {
        self.groups
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{Cell, workbook};
    use super::super::{MAX_ROWS, template};
    use super::*;

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
    fn a_header_only_sheet_is_an_empty_update() {
        let only_header = workbook(&[&[Cell::s("erp_customer_code"), Cell::s("name")]]);
        let imported = import(SheetKind::Customers, &only_header, 0).unwrap();
        assert_eq!(imported, Imported { rows: Vec::new(), update: Some(Update::Customers(Vec::new())) });
        assert!(import(SheetKind::Customers, &template(SheetKind::Customers), 0).unwrap().rows.is_empty());
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
        let ok = RowOutcome { row: 2, accepted: true, column: None, reason: None };
        assert_eq!(serde_json::to_value(&ok).unwrap(), serde_json::json!({"row": 2, "accepted": true}));
        let bad = RowOutcome {
            row: 3,
            accepted: false,
            column: Some("B (quantity)".into()),
            reason: Some("quantity: …".into()),
        };
        assert_eq!(
            serde_json::to_value(&bad).unwrap(),
            serde_json::json!({"row": 3, "accepted": false, "column": "B (quantity)", "reason": "quantity: …"})
        );
        assert_eq!(SheetKind::from_name("lots"), Some(SheetKind::Lots));
        assert_eq!(SheetKind::from_name("orders"), None);
        assert!(SheetKind::ALL.iter().all(|k| SheetKind::from_name(k.name()) == Some(*k)));
    }
}

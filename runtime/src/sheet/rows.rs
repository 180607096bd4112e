//! Reading rows: what every kind's module uses to take its rows one at a time, refuse one
//! with the column and the reason, and check what several kinds check alike (a key seen
//! twice, the values the rows of one SKU must agree on).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::Hash;

use super::cell::Value;
use super::column::Column;
use super::reader::Table;
use crate::sync::intake::Update;

/// A kind's reading of its rows.
pub(super) trait Rows {
    /// Takes one data row, or says why not. A refused row leaves no record behind (it may
    /// leave its key, so a later row with the same key is still named a duplicate).
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject>;

    /// The records of every row taken.
    fn finish(self) -> Update;
}

/// A name a choice column read ([`Value::one_of`]) as the canonical enum it names: the
/// column's names are the model's JSON names, so this cannot fail for a name of the list.
pub(super) fn model_enum<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(serde_json::Value::from(name)).expect("a choice column's names are the model's")
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

impl<'a> Row<'a> {
    /// Sheet row `index` (0-based, as the reader keys them) of `table`, read by `columns`.
    pub(super) fn new(index: u32, columns: &'static [Column], table: &'a Table, values: &'a [Value]) -> Self {
        Row { number: index.saturating_add(1), columns, table, values }
    }

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

    /// What is wrong with each cell by its column's form alone (required and blank, or not what
    /// the column takes), for the report to name every bad cell of a row and not only the
    /// first one a kind stops at.
    pub(super) fn cell_errors(&self) -> Vec<Reject> {
        use super::column::Form;
        let mut out = Vec::new();
        for column in self.columns {
            let value = self.value(column.name);
            let problem = if value.is_blank() {
                column.required.then(|| "required, but the cell is empty".to_owned())
            } else {
                let read = match column.form {
                    Form::Code => value.code().map(drop),
                    Form::Text => value.text().map(drop),
                    Form::Count => value.whole(0, u64::MAX).map(drop),
                    Form::PositiveCount => value.whole(1, u64::MAX).map(drop),
                    Form::Money => value.money().map(drop),
                    Form::Date => value.date().map(drop),
                    Form::Flag => value.flag().map(drop),
                    Form::Choice(names) => value.one_of(names).map(drop),
                    Form::Currency => value.currency().map(drop),
                };
                read.err()
            };
            if let Some(reason) = problem {
                out.push(self.reject(column.name, reason));
            }
        }
        out
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

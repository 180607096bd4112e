//! Price sheets: one row per SKU and price kind; the rows of one SKU become one [`PriceUpdate`].
//!
//! | column | | takes |
//! |---|---|---|
//! | `outer_sku_id` | required | the merchant's SKU code |
//! | `kind` | required | `default`, `suggested_retail`, `region_group`, `customer_group` |
//! | `group_id` | for group kinds | the platform's region or customer group id; blank for the others |
//! | `amount` | required | yuan >= 0 with at most 2 decimals (`12.30` → 1230 fen) |
//! | `currency` | | three letters; blank is CNY |
//! | `product_id`, `sku_id` | | the platform's ids |
//!
//! A price update carries a SKU's currency and ids once, so the rows of one SKU must agree on
//! them (rows may leave them blank). A SKU with the same kind (and group) twice is refused: two
//! amounts for one price is a mistake to fix, not one to guess.

use super::cell::Value;
use super::column::{Column, Form, OUTER_SKU_ID, PRODUCT_ID_PER_SKU, SKU_ID_PER_SKU};
use super::rows::{Groups, Reject, Row, Rows, Seen};
use crate::model::{Price, PriceKind, PriceUpdate};
use crate::sync::intake::Update;

/// The price kinds of the canonical model, by their JSON names.
const KINDS: &[&str] = &["default", "suggested_retail", "region_group", "customer_group"];
/// What a price update's currency is when no row names one (the model's default).
const DEFAULT_CURRENCY: &str = "CNY";

pub(super) const ABOUT: &str = "One row per SKU and price kind; the rows of one SKU are sent together as its prices.";

/// The Chinese header of each column (import reads either; a Chinese template writes these).
pub(super) const CHINESE: &[(&str, &str)] =
    &[("kind", "价格类型"), ("group_id", "分组ID"), ("amount", "金额"), ("currency", "币种")];

pub(super) const COLUMNS: &[Column] = &[
    OUTER_SKU_ID,
    Column::required(
        "kind",
        Form::Choice(KINDS),
        "Which price: the selling price (default), the suggested retail price, or a region / customer group's price.",
        "default",
    ),
    Column::optional(
        "group_id",
        Form::Code,
        "The platform's group id: required for region_group and customer_group, blank for the other kinds.",
        "south",
    ),
    Column::required("amount", Form::Money, "The price in yuan.", "12.30"),
    Column::optional("currency", Form::Currency, "Blank is CNY. The rows of one SKU must agree.", "CNY"),
    PRODUCT_ID_PER_SKU,
    SKU_ID_PER_SKU,
];

#[derive(Default)]
pub(super) struct Sheet {
    /// Prices per SKU, sharing currency, product_id and sku_id.
    groups: Groups<Price, 3>,
    /// (SKU, kind name, group id): `PriceKind` itself is not hashable.
    seen: Seen<(String, &'static str, Option<String>)>,
}

impl Sheet {
    fn kind(row: &Row<'_>) -> Result<PriceKind, Reject> {
        let name = row.must("kind", |v| v.one_of(KINDS))?;
        let group_id = row.may("group_id", Value::code)?;
        let grouped = |make: fn(String) -> PriceKind| match group_id.clone() {
            Some(group_id) => Ok(make(group_id)),
            None => Err(row.reject("group_id", format!("required for kind {name}: the platform's group id"))),
        };
        let plain = |kind: PriceKind| match &group_id {
            Some(_) => Err(row.reject(
                "group_id",
                format!("only region_group and customer_group prices have a group; leave it blank for {name}"),
            )),
            None => Ok(kind),
        };
        match name {
            "default" => plain(PriceKind::Default),
            "suggested_retail" => plain(PriceKind::SuggestedRetail),
            "region_group" => grouped(|group_id| PriceKind::RegionGroup { group_id }),
            _ => grouped(|group_id| PriceKind::CustomerGroup { group_id }),
        }
    }
}

/// The kind's JSON name and group id.
fn parts(kind: &PriceKind) -> (&'static str, Option<String>) {
    match kind {
        PriceKind::Default => ("default", None),
        PriceKind::SuggestedRetail => ("suggested_retail", None),
        PriceKind::RegionGroup { group_id } => ("region_group", Some(group_id.clone())),
        PriceKind::CustomerGroup { group_id } => ("customer_group", Some(group_id.clone())),
    }
}

fn describe(kind: &PriceKind) -> String {
    match kind {
        PriceKind::Default => "a default price".into(),
        PriceKind::SuggestedRetail => "a suggested_retail price".into(),
        PriceKind::RegionGroup { group_id } => format!("a region_group price for group {group_id:?}"),
        PriceKind::CustomerGroup { group_id } => format!("a customer_group price for group {group_id:?}"),
    }
}

impl Rows for Sheet {
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let outer_sku_id = row.must("outer_sku_id", Value::code)?;
        let kind = Self::kind(row)?;
        let (name, group_id) = parts(&kind);
        if let Some(first) = self.seen.before((outer_sku_id.clone(), name, group_id), row.number) {
            return Err(row.reject(
                "kind",
                format!(
                    "{outer_sku_id:?} already has {} on row {first}; one row per SKU and price kind",
                    describe(&kind)
                ),
            ));
        }
        let amount = row.must("amount", Value::money)?;
        let currency = row.may("currency", Value::currency)?;
        let product_id = row.may("product_id", Value::code)?;
        let sku_id = row.may("sku_id", Value::code)?;

        let shared = [("currency", currency), ("product_id", product_id), ("sku_id", sku_id)];
        self.groups.add(row, outer_sku_id, Price { kind, amount }, shared)
    }

    fn finish(self) -> Update {
        Update::Prices(
            self.groups
                .into_groups()
                .into_iter()
                .map(|g| {
                    let [currency, product_id, sku_id] = g.shared();
                    PriceUpdate {
                        currency: currency.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned()),
                        product_id,
                        sku_id,
                        outer_sku_id: g.outer_sku_id,
                        prices: g.items,
                    }
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
        ["outer_sku_id", "kind", "group_id", "amount", "currency", "product_id"].map(Cell::s).to_vec()
    }

    fn row(sku: &str, kind: &str, group: &str, amount: Cell) -> Vec<Cell> {
        let text = |s: &str| if s.is_empty() { Cell::Blank } else { Cell::s(s) };
        vec![text(sku), text(kind), text(group), amount]
    }

    #[test]
    fn rows_of_a_sku_become_one_update_in_exact_fen() {
        let rows = [
            header(),
            row("A", "default", "", Cell::n(12.3)),
            row("B", "Default", "", Cell::s("5")),
            row("A", "region_group", "south", Cell::s("11.90")),
            row("A", "customer_group", "vip", Cell::n(0.1 + 0.2)),
            row("A", "region_group", "north", Cell::n(199.99)),
            {
                let mut r = row("A", "suggested_retail", "", Cell::n(15.0));
                r.extend([Cell::s("cny"), Cell::n(652341234567.0)]);
                r
            },
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Prices, &workbook(&refs), 0);
        assert_eq!(accepted(&imported), vec![2, 3, 4, 5, 6, 7]);
        let Some(Update::Prices(updates)) = imported.update else { panic!("{imported:?}") };
        let group = |id: &str| id.to_owned();
        assert_eq!(
            updates,
            vec![
                PriceUpdate {
                    outer_sku_id: "A".into(),
                    product_id: Some("652341234567".into()),
                    sku_id: None,
                    currency: "CNY".into(),
                    prices: vec![
                        Price { kind: PriceKind::Default, amount: 1230 },
                        Price { kind: PriceKind::RegionGroup { group_id: group("south") }, amount: 1190 },
                        Price { kind: PriceKind::CustomerGroup { group_id: group("vip") }, amount: 30 },
                        Price { kind: PriceKind::RegionGroup { group_id: group("north") }, amount: 19999 },
                        Price { kind: PriceKind::SuggestedRetail, amount: 1500 },
                    ],
                },
                PriceUpdate {
                    outer_sku_id: "B".into(),
                    product_id: None,
                    sku_id: None,
                    currency: "CNY".into(),
                    prices: vec![Price { kind: PriceKind::Default, amount: 500 }],
                },
            ]
        );
    }

    #[test]
    fn each_kind_of_bad_price_row_is_named() {
        let with = |mut r: Vec<Cell>, extra: &[Cell]| {
            r.extend_from_slice(extra);
            r
        };
        let rows = [
            header(),
            with(row("A", "default", "", Cell::n(1.0)), &[Cell::s("CNY"), Cell::s("P1")]),
            row("A", "default", "", Cell::n(2.0)),
            row("A", "regional", "", Cell::n(2.0)),
            row("A", "region_group", "", Cell::n(2.0)),
            row("A", "default", "x", Cell::n(2.0)),
            row("B", "default", "", Cell::s("12.345")),
            row("B", "suggested_retail", "", Cell::s("-1")),
            row("B", "region_group", "g", Cell::s("twelve")),
            with(row("A", "suggested_retail", "", Cell::n(3.0)), &[Cell::s("USD")]),
            with(row("A", "region_group", "g", Cell::n(3.0)), &[Cell::Blank, Cell::s("P2")]),
            with(row("C", "default", "", Cell::n(3.0)), &[Cell::s("yuan")]),
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Prices, &workbook(&refs), 0);
        assert_eq!(imported.update, None);
        assert_eq!(accepted(&imported), vec![2]);
        let got = rejected(&imported);
        let expect: &[(u32, &str, &str)] = &[
            (3, "B (kind)", "kind: \"A\" already has a default price on row 2; one row per SKU and price kind"),
            (
                4,
                "B (kind)",
                "kind: expected one of default, suggested_retail, region_group, customer_group, got \"regional\"",
            ),
            (5, "C (group_id)", "group_id: required for kind region_group: the platform's group id"),
            (
                6,
                "C (group_id)",
                "group_id: only region_group and customer_group prices have a group; leave it blank for default",
            ),
            (7, "D (amount)", "amount: expected at most 2 decimals (fen), got \"12.345\""),
            (8, "D (amount)", "amount: expected an amount >= 0, got \"-1\""),
            (9, "D (amount)", "amount: expected an amount in yuan like 12.30, got \"twelve\""),
            (
                10,
                "E (currency)",
                "currency: \"USD\" differs from \"CNY\" on row 2 for the same outer_sku_id \"A\"; rows of one SKU must agree (or leave it blank)",
            ),
            (
                11,
                "F (product_id)",
                "product_id: \"P2\" differs from \"P1\" on row 2 for the same outer_sku_id \"A\"; rows of one SKU must agree (or leave it blank)",
            ),
            (12, "E (currency)", "currency: expected a three-letter currency code like CNY, got \"yuan\""),
        ];
        let expect: Vec<(u32, String, String)> =
            expect.iter().map(|(r, c, m)| (*r, c.to_string(), m.to_string())).collect();
        assert_eq!(got, expect);
    }
}

//! The columns a kind of sheet reads: their header names and what they take.
//!
//! One table per kind (in its module) serves the reader (which headers to look for, which are
//! required), the template (the header row, code columns formatted as text) and the help sheet.

/// What a column's cells take; the help sheet says it in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
    /// An identifier: text, or a whole number of at most 15 digits (all Excel keeps).
    Code,
    /// Free text.
    Text,
    /// A whole number >= 0.
    Count,
    /// A whole number >= 1.
    PositiveCount,
    /// An amount in major units (yuan) with at most 2 decimals.
    Money,
    /// A calendar date.
    Date,
    /// Yes or no.
    Flag,
    /// One of a fixed list of names.
    Choice(&'static [&'static str]),
    /// Three letters.
    Currency,
}

impl Form {
    /// What the help sheet says a cell may hold.
    pub(super) fn accepts(self) -> String {
        match self {
            Form::Code => {
                "a code: text, or a whole number of at most 15 digits (longer codes: format the column as text)".into()
            }
            Form::Text => "text".into(),
            Form::Count => "a whole number >= 0".into(),
            Form::PositiveCount => "a whole number >= 1".into(),
            Form::Money => "an amount in yuan (major units) >= 0 with at most 2 decimals, like 12.30".into(),
            Form::Date => "a date cell, or text YYYY-MM-DD".into(),
            Form::Flag => "true or false (also yes/no, 1/0, 是/否); blank is false".into(),
            Form::Choice(names) => format!("one of: {}", names.join(", ")),
            Form::Currency => "an ISO 4217 code like CNY".into(),
        }
    }

    /// Whether the template formats the column as text, so that what is typed stays as typed
    /// (a long code does not turn into 1.23457E+18, a leading zero is kept).
    pub(super) fn is_text(self) -> bool {
        matches!(self, Form::Code | Form::Text | Form::Choice(_) | Form::Currency)
    }
}

/// One column of a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Column {
    /// The header: the canonical field's snake_case name.
    pub name: &'static str,
    pub required: bool,
    pub form: Form,
    /// What it means, and defaults, for the help sheet.
    pub meaning: &'static str,
    pub example: &'static str,
}

impl Column {
    pub(super) const fn required(name: &'static str, form: Form, meaning: &'static str, example: &'static str) -> Self {
        Column { name, required: true, form, meaning, example }
    }

    pub(super) const fn optional(name: &'static str, form: Form, meaning: &'static str, example: &'static str) -> Self {
        Column { name, required: false, form, meaning, example }
    }
}

/// The merchant's SKU code, the key of the SKU-level kinds.
pub(super) const OUTER_SKU_ID: Column = Column::required(
    "outer_sku_id",
    Form::Code,
    "The merchant's SKU code (商家编码), as on the platforms.",
    "SKU-10023",
);
/// The platform's ids of a SKU, for kinds with one row per SKU.
pub(super) const PRODUCT_ID: Column =
    Column::optional("product_id", Form::Code, "The platform's product id, when known.", "652341234567");
pub(super) const SKU_ID: Column =
    Column::optional("sku_id", Form::Code, "The platform's SKU id, when known.", "4987654321012");
/// The same, for kinds with several rows per SKU (see `import::Groups`).
pub(super) const PRODUCT_ID_PER_SKU: Column = Column {
    meaning: "The platform's product id, when known. The rows of one SKU must agree (or leave it blank).",
    ..PRODUCT_ID
};
pub(super) const SKU_ID_PER_SKU: Column = Column {
    meaning: "The platform's SKU id, when known. The rows of one SKU must agree (or leave it blank).",
    ..SKU_ID
};

/// Chinese headers of the columns several kinds share.
pub(super) const SHARED_CHINESE: &[(&str, &str)] =
    &[("outer_sku_id", "商家编码"), ("product_id", "商品ID"), ("sku_id", "SKU ID")];

/// The headers of `columns` as an error message lists them: `outer_sku_id (required), warehouse`.
pub(super) fn expected_headers(columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| if c.required { format!("{} (required)", c.name) } else { c.name.to_owned() })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The letters Excel shows for a 0-based column index: 0 → `A`, 26 → `AA`.
pub(super) fn letters(index: u32) -> String {
    let mut n = u64::from(index) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        out.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_are_excels() {
        assert_eq!(letters(0), "A");
        assert_eq!(letters(25), "Z");
        assert_eq!(letters(26), "AA");
        assert_eq!(letters(701), "ZZ");
        assert_eq!(letters(702), "AAA");
        assert_eq!(letters(16_383), "XFD");
        assert!(!letters(u32::MAX).is_empty());
    }
}

//! Operators' spreadsheets: `.xlsx` imports of ERP → marketplace records, and order exports.
//!
//! Not every merchant has an ERP that speaks to Wharf; those who do still fix things by hand.
//! An import turns the first sheet of a workbook into one [`Update`] of a kind (stock,
//! prices, lots, products, customer codes) and says, row by row, what was accepted and what was
//! rejected, naming the column and the reason in the operator's words. It is all or nothing:
//! [`Imported::update`] is `Some` only when every data row was accepted, so a sheet is never
//! half-applied and the operator fixes the rows the report names and imports the file again.
//!
//! The sheet's shape: row 1 holds the headers, the snake_case names of the canonical fields
//! (matched trimmed and case-insensitively, in any order; other columns are ignored); every
//! further row is one record, or one price / lot of a SKU for the kinds that group rows. Rows
//! blank in every known column are skipped. [`template`] writes the header row and a `help`
//! sheet describing each column; each kind's module lists its columns in its own docs.
//!
//! - `bounds`: the zip measured before it is parsed: unpacked size, shared strings, parts.
//! - `cell`: what a cell holds and the typed reads (codes, whole numbers, money, dates, flags).
//! - `reader`: the workbook: first sheet, header row, data rows, within [`MAX_ROWS`].
//! - `import`: rows to records, the report, duplicate keys, what the rows of one SKU share.
//! - `stock`, `prices`, `lots`, `products`, `customers`, `invoices`, `after_sales` (the
//!   merchant's answers): one module per kind: its columns, its rows.
//! - `template`: an empty sheet per kind, with help.
//! - `export`: orders and after-sales, with their lines, to a workbook.

mod after_sales;
mod bounds;
mod cell;
mod column;
mod customers;
mod export;
mod import;
mod invoices;
mod lots;
mod prices;
mod products;
mod reader;
mod rows;
mod stock;
mod template;

use serde::Serialize;

pub use crate::model::Language;
use crate::model::Module;
use crate::sync::intake::Update;
use column::Column;

pub use bounds::{MAX_PARTS, MAX_SHARED_STRINGS, MAX_SHARED_STRINGS_BYTES, MAX_UNCOMPRESSED_BYTES};
pub use export::{export_after_sales, export_orders};
pub use import::import;
pub use reader::MAX_TEXT_BYTES;
pub use template::template;

/// The most data rows one import reads. The API takes the workbook in one request and answers
/// with a line per row; 100 000 covers the whole SKU list of a large merchant in one file while
/// keeping the parsed rows (a few columns each) and the report within tens of megabytes.
pub const MAX_ROWS: usize = 100_000;

/// What a sheet holds: one of the modules whose [`Spec::sheet`] says operators import it
/// (a test holds the two equal). The enum is what the kinds' columns are matched on; its names
/// are the modules'.
///
/// [`Spec::sheet`]: crate::model::modules::Spec::sheet
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SheetKind {
    Stock,
    Prices,
    Lots,
    Products,
    Customers,
    Invoices,
    AfterSales,
}

impl SheetKind {
    pub const ALL: [SheetKind; 7] = [
        SheetKind::AfterSales,
        SheetKind::Stock,
        SheetKind::Prices,
        SheetKind::Lots,
        SheetKind::Products,
        SheetKind::Customers,
        SheetKind::Invoices,
    ];

    pub const fn module(self) -> Module {
        match self {
            SheetKind::Stock => Module::Stock,
            SheetKind::Prices => Module::Prices,
            SheetKind::Lots => Module::Lots,
            SheetKind::Products => Module::Products,
            SheetKind::Customers => Module::Customers,
            SheetKind::Invoices => Module::Invoices,
            SheetKind::AfterSales => Module::AfterSales,
        }
    }

    /// The module's name: the API path's and the template's sheet.
    pub const fn name(self) -> &'static str {
        self.module().name()
    }

    pub fn of(module: Module) -> Option<SheetKind> {
        SheetKind::ALL.into_iter().find(|k| k.module() == module)
    }

    pub fn from_name(name: &str) -> Option<SheetKind> {
        Module::from_name(name).and_then(SheetKind::of)
    }

    /// The columns the kind reads, in the order the template writes them.
    fn columns(self) -> &'static [Column] {
        match self {
            SheetKind::Stock => stock::COLUMNS,
            SheetKind::Prices => prices::COLUMNS,
            SheetKind::Lots => lots::COLUMNS,
            SheetKind::Products => products::COLUMNS,
            SheetKind::Customers => customers::COLUMNS,
            SheetKind::Invoices => invoices::COLUMNS,
            SheetKind::AfterSales => after_sales::COLUMNS,
        }
    }

    /// The Chinese header of the kind's column `name`.
    fn chinese(self, name: &str) -> Option<&'static str> {
        let own = match self {
            SheetKind::Stock => stock::CHINESE,
            SheetKind::Prices => prices::CHINESE,
            SheetKind::Lots => lots::CHINESE,
            SheetKind::Products => products::CHINESE,
            SheetKind::Customers => customers::CHINESE,
            SheetKind::Invoices => invoices::CHINESE,
            SheetKind::AfterSales => after_sales::CHINESE,
        };
        own.iter().chain(column::SHARED_CHINESE).find(|(n, _)| *n == name).map(|(_, zh)| *zh)
    }

    /// The header of column `name` in `language`.
    fn header(self, name: &'static str, language: Language) -> &'static str {
        match language {
            Language::English => name,
            Language::Chinese => self.chinese(name).unwrap_or(name),
        }
    }

    /// What the help sheet says about the kind as a whole.
    fn about(self) -> &'static str {
        match self {
            SheetKind::Stock => stock::ABOUT,
            SheetKind::Prices => prices::ABOUT,
            SheetKind::Lots => lots::ABOUT,
            SheetKind::Products => products::ABOUT,
            SheetKind::Customers => customers::ABOUT,
            SheetKind::Invoices => invoices::ABOUT,
            SheetKind::AfterSales => after_sales::ABOUT,
        }
    }
}

impl std::fmt::Display for SheetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What an import made of a workbook.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    /// One per non-blank data row, in sheet order.
    pub rows: Vec<RowOutcome>,
    /// Every row's records, only when every row was accepted (an empty update for a sheet
    /// with only its header row).
    pub update: Option<Update>,
}

/// What became of one data row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowOutcome {
    /// The row number as Excel shows it (the header is row 1).
    pub row: u32,
    pub accepted: bool,
    /// The column at fault, as `C (quantity)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every bad cell of a refused row, the one in `column` first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<CellError>,
}

/// One bad cell of a row: its column, as `C (quantity)`, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CellError {
    pub column: String,
    pub reason: String,
}

/// A workbook that cannot be read as a sheet of its kind at all. Problems of single rows are
/// not errors: they are [`RowOutcome`]s.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("not a readable .xlsx workbook: {0}")]
    Unreadable(String),
    #[error("the workbook has no worksheet")]
    NoSheet,
    #[error("row 1 of sheet `{sheet}` must hold the column headers, but it is empty; expected headers: {expected}")]
    NoHeader { sheet: String, expected: String },
    #[error("the header row (row 1) lacks the required column(s) {missing}; expected headers: {expected}")]
    MissingColumns { missing: String, expected: String },
    #[error("the header row names column `{name}` twice ({first} and {second}); keep one")]
    DuplicateColumn { name: String, first: String, second: String },
    #[error("the sheet has data beyond row {last_row}: one import takes at most {limit} data rows; split the file")]
    TooManyRows { limit: usize, last_row: usize },
    #[error("the sheet holds more than {limit_mib} MiB of text; split the file")]
    TooMuchText { limit_mib: usize },
    #[error(
        "the workbook unpacks to more than {limit_mib} MiB (reached in part `{part}`); one import takes at most that much: split the file"
    )]
    TooLarge { part: String, limit_mib: u64 },
    #[error("the workbook's shared strings unpack to more than {limit_mib} MiB; split the file")]
    SharedStringsTooLarge { limit_mib: u64 },
    #[error("the workbook holds (or declares) more than {limit} shared strings; split the file")]
    TooManySharedStrings { limit: u64 },
    #[error("the workbook holds more than {limit} parts; a spreadsheet has a few dozen")]
    TooManyParts { limit: usize },
    #[error("could not write the workbook: {0}")]
    Write(String),
}

impl SheetError {
    /// The bound a workbook went past, by the name the API's error reports (`limit`) and its
    /// figure (`max`, in the unit the name says); `None` for a workbook that is wrong rather
    /// than too big.
    pub fn limit(&self) -> Option<(&'static str, u64)> {
        Some(match self {
            SheetError::TooManyRows { limit, .. } => ("rows", *limit as u64),
            SheetError::TooMuchText { .. } => ("text_bytes", reader::MAX_TEXT_BYTES as u64),
            SheetError::TooLarge { .. } => ("uncompressed_bytes", bounds::MAX_UNCOMPRESSED_BYTES),
            SheetError::SharedStringsTooLarge { .. } => ("shared_strings_bytes", bounds::MAX_SHARED_STRINGS_BYTES),
            SheetError::TooManySharedStrings { limit } => ("shared_strings", *limit),
            SheetError::TooManyParts { limit } => ("parts", *limit as u64),
            _ => return None,
        })
    }
}

impl From<rust_xlsxwriter::XlsxError> for SheetError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        SheetError::Write(e.to_string())
    }
}

#[cfg(test)]
mod fixture;

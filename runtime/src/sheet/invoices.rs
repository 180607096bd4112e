//! Invoice sheets: one row per invoice the merchant issued, each an [`InvoiceUpload`] to its
//! order on the marketplace.
//!
//! | column | | takes |
//! |---|---|---|
//! | `order_id` | required | the platform's order id |
//! | `invoice_no` | required | 发票号码; once per order in a sheet |
//! | `kind` | required | `paper`, `electronic`, `vat_special` |
//! | `title` | required | 发票抬头, the buyer's name on the invoice |
//! | `tax_id` | for `vat_special` | the buyer's 纳税人识别号 |
//! | `invoice_code` | | 发票代码 (none on fully digital invoices, 全电发票) |
//! | `amount` | required | the total, tax included, in yuan |
//! | `issued_at` | required | 开票日期, the date on the invoice |
//! | `file_url` | | where the platform can fetch the pdf or ofd |
//! | `file_type` | | `pdf` or `ofd`; needs `file_url` |

use chrono::{FixedOffset, NaiveDate, TimeZone};

use super::cell::Value;
use super::column::{Column, Form};
use super::rows::{Reject, Row, Rows, Seen, model_enum};
use crate::model::{InvoiceFileType, InvoiceKind, InvoiceUpload, Timestamp};
use crate::sync::intake::Update;

const KINDS: &[&str] = &["paper", "electronic", "vat_special"];
const FILE_TYPES: &[&str] = &["pdf", "ofd"];
/// An invoice's date is a date in China, where the tax bureau issued it: China Standard Time,
/// UTC+8 all year (no daylight saving). The instant stored is that day's midnight there.
const CHINA_STANDARD_TIME_SECS: i32 = 8 * 3600;

pub(super) const ABOUT: &str = "One row per invoice the merchant issued, uploaded to its order on the platforms that take invoices (the others answer unsupported). An invoice number may appear once per order.";

/// The Chinese header of each column (import reads either; a Chinese template writes these).
pub(super) const CHINESE: &[(&str, &str)] = &[
    ("order_id", "订单号"),
    ("invoice_no", "发票号码"),
    ("kind", "发票类型"),
    ("title", "发票抬头"),
    ("tax_id", "纳税人识别号"),
    ("invoice_code", "发票代码"),
    ("amount", "价税合计"),
    ("issued_at", "开票日期"),
    ("file_url", "发票文件地址"),
    ("file_type", "文件类型"),
];

pub(super) const COLUMNS: &[Column] = &[
    Column::required("order_id", Form::Code, "The platform's order id.", "3817263548271635"),
    Column::required("invoice_no", Form::Code, "发票号码, the invoice number.", "24312000000012345678"),
    Column::required(
        "kind",
        Form::Choice(KINDS),
        "paper (纸质普票), electronic (电子普票) or vat_special (增值税专用发票).",
        "electronic",
    ),
    Column::required("title", Form::Text, "发票抬头: the buyer's name on the invoice.", "某某大药房有限公司"),
    Column::optional(
        "tax_id",
        Form::Code,
        "The buyer's taxpayer id (纳税人识别号); required for vat_special.",
        "91310000MA1FL1234X",
    ),
    Column::optional(
        "invoice_code",
        Form::Code,
        "发票代码; blank on fully digital invoices (全电发票).",
        "031002000111",
    ),
    Column::required("amount", Form::Money, "The invoice's total, tax included, in yuan.", "128.00"),
    Column::required("issued_at", Form::Date, "开票日期, the date on the invoice (a date in China).", "2026-11-30"),
    Column::optional(
        "file_url",
        Form::Text,
        "Where the platform fetches the invoice file, for platforms that take one.",
        "https://erp.example.com/invoices/24312000000012345678.pdf",
    ),
    Column::optional("file_type", Form::Choice(FILE_TYPES), "pdf or ofd; needs file_url.", "pdf"),
];

#[derive(Default)]
pub(super) struct Sheet {
    invoices: Vec<InvoiceUpload>,
    seen: Seen<(String, String)>,
}

/// Midnight of `date` (`YYYY-MM-DD`, as [`Value::date`] gives it) in China.
fn china_midnight(date: &str) -> Timestamp {
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("Value::date gives YYYY-MM-DD");
    let china = FixedOffset::east_opt(CHINA_STANDARD_TIME_SECS).expect("within a day");
    let midnight = china.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN)).single().expect("a fixed offset");
    Timestamp(midnight.timestamp_millis())
}

impl Rows for Sheet {
    fn take(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let order_id = row.must("order_id", Value::code)?;
        let invoice_no = row.must("invoice_no", Value::code)?;
        if let Some(first) = self.seen.before((order_id.clone(), invoice_no.clone()), row.number) {
            return Err(
                row.reject("invoice_no", format!("{invoice_no:?} of order {order_id:?} is already on row {first}"))
            );
        }
        let kind: InvoiceKind = model_enum(row.must("kind", |v| v.one_of(KINDS))?);
        let title = row.must("title", Value::text)?;
        let tax_id = row.may("tax_id", Value::code)?;
        if kind == InvoiceKind::VatSpecial && tax_id.is_none() {
            return Err(row.reject("tax_id", "required for a vat_special invoice: the buyer's taxpayer id"));
        }
        let invoice_code = row.may("invoice_code", Value::code)?;
        let amount = row.must("amount", Value::money)?;
        let issued_at = china_midnight(&row.must("issued_at", Value::date)?);
        let file_url = row.may("file_url", Value::text)?;
        let file_type = row.may("file_type", |v| v.one_of(FILE_TYPES))?.map(model_enum::<InvoiceFileType>);
        if file_type.is_some() && file_url.is_none() {
            return Err(row.reject("file_url", "required with file_type: where the platform fetches the file"));
        }
        self.invoices.push(InvoiceUpload {
            order_id,
            kind,
            title,
            tax_id,
            invoice_no,
            invoice_code,
            amount,
            issued_at,
            file_url,
            file_type,
        });
        Ok(())
    }

    fn finish(self) -> Update {
        Update::Invoices(self.invoices)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SheetKind;
    use super::super::fixture::{Cell, accepted, import, rejected, workbook};
    use super::*;

    fn header() -> Vec<Cell> {
        ["order_id", "invoice_no", "kind", "title", "tax_id", "amount", "issued_at", "file_url", "file_type"]
            .map(Cell::s)
            .to_vec()
    }

    #[test]
    fn invoices_from_rows_with_every_bad_row_named() {
        let rows: Vec<Vec<Cell>> = vec![
            header(),
            vec![
                Cell::s("T1"),
                Cell::s("24312000000012345678"),
                Cell::s("Electronic"),
                Cell::s("张三"),
                Cell::Blank,
                Cell::n(128.0),
                Cell::Date(2026, 11, 30),
                Cell::s("https://erp.example.com/i/1.pdf"),
                Cell::s("pdf"),
            ],
            // A VAT special invoice without the buyer's tax id.
            vec![
                Cell::s("T2"),
                Cell::s("9"),
                Cell::s("vat_special"),
                Cell::s("某公司"),
                Cell::Blank,
                Cell::n(1.0),
                Cell::s("2026-11-30"),
            ],
            // The same invoice of the same order twice.
            vec![
                Cell::s("T1"),
                Cell::s("24312000000012345678"),
                Cell::s("paper"),
                Cell::s("张三"),
                Cell::Blank,
                Cell::n(1.0),
                Cell::s("2026-11-30"),
            ],
            // A type without its file.
            vec![
                Cell::s("T3"),
                Cell::s("10"),
                Cell::s("paper"),
                Cell::s("李四"),
                Cell::Blank,
                Cell::n(1.0),
                Cell::s("2026-11-30"),
                Cell::Blank,
                Cell::s("ofd"),
            ],
        ];
        let refs: Vec<&[Cell]> = rows.iter().map(Vec::as_slice).collect();
        let imported = import(SheetKind::Invoices, &workbook(&refs), 0);
        assert_eq!(accepted(&imported), vec![2]);
        assert_eq!(imported.update, None, "all or nothing");
        assert_eq!(
            rejected(&imported),
            vec![
                (3, "E (tax_id)".into(), "tax_id: required for a vat_special invoice: the buyer's taxpayer id".into()),
                (
                    4,
                    "B (invoice_no)".into(),
                    "invoice_no: \"24312000000012345678\" of order \"T1\" is already on row 2".into()
                ),
                (
                    5,
                    "H (file_url)".into(),
                    "file_url: required with file_type: where the platform fetches the file".into()
                ),
            ]
        );

        let good: Vec<&[Cell]> = refs[..2].to_vec();
        let imported = import(SheetKind::Invoices, &workbook(&good), 0);
        let Some(Update::Invoices(invoices)) = imported.update else { panic!("{imported:?}") };
        assert_eq!(
            invoices,
            vec![InvoiceUpload {
                order_id: "T1".into(),
                kind: InvoiceKind::Electronic,
                title: "张三".into(),
                tax_id: None,
                invoice_no: "24312000000012345678".into(),
                invoice_code: None,
                amount: 12_800,
                // 2026-11-30 00:00 in China is 16:00 UTC the day before.
                issued_at: Timestamp::parse_rfc3339("2026-11-29T16:00:00Z").unwrap(),
                file_url: Some("https://erp.example.com/i/1.pdf".into()),
                file_type: Some(InvoiceFileType::Pdf),
            }]
        );
    }
}

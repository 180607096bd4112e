//! What every marketplace's `push-invoices` shares (contract 0.3.0): the checks a canonical
//! invoice passes before any call, the amount in yuan, the issue date as platforms write it,
//! and the failure when a platform wants the file's bytes but the invoice only names a URL.
//!
//! The platforms' own parameter names stay in each plugin (wit/README.md, "Invoices").

use crate::money;
use crate::time::{self, SHANGHAI_OFFSET_MINUTES};
use crate::types::{ConnectorError, InvoiceFileType, InvoiceKind, InvoiceUpload};

/// The kind's canonical name (`vat_special`), for errors.
pub fn kind_name(kind: InvoiceKind) -> &'static str {
    match kind {
        InvoiceKind::Paper => "paper",
        InvoiceKind::Electronic => "electronic",
        InvoiceKind::VatSpecial => "vat_special",
    }
}

/// `PDF` / `OFD`, as platforms name file types.
pub fn file_type_name(file_type: InvoiceFileType) -> &'static str {
    match file_type {
        InvoiceFileType::Pdf => "PDF",
        InvoiceFileType::Ofd => "OFD",
    }
}

/// `invalid_input` on `field`, naming the order.
pub fn invalid(invoice: &InvoiceUpload, field: &str, reason: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::invalid_input(
        field,
        format!("invoice {} of order {}: {reason}", invoice.invoice_no, invoice.order_id),
    )
}

/// What every platform needs: an order, a title, an invoice number and a positive amount
/// (a red, negative invoice is not an upload: the contract has none).
pub fn check(invoice: &InvoiceUpload) -> Result<(), ConnectorError> {
    if invoice.order_id.trim().is_empty() {
        return Err(invalid(invoice, "order_id", "expected the marketplace order id, got none"));
    }
    if invoice.invoice_no.trim().is_empty() {
        return Err(invalid(invoice, "invoice_no", "expected the invoice number (发票号码), got none"));
    }
    if invoice.title.trim().is_empty() {
        return Err(invalid(invoice, "title", "expected the buyer's title (发票抬头), got none"));
    }
    if invoice.amount <= 0 {
        return Err(invalid(invoice, "amount", format!("expected a positive amount in fen, got {}", invoice.amount)));
    }
    if invoice.tax_id.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(invalid(invoice, "tax_id", "expected a tax id or none, got an empty string"));
    }
    Ok(())
}

/// The amount, tax included, as a yuan string with two decimals (`"199.90"`).
pub fn amount_yuan(invoice: &InvoiceUpload) -> String {
    money::format_yuan(invoice.amount)
}

/// The issue date, `yyyy-MM-dd` in Asia/Shanghai.
pub fn issued_date(invoice: &InvoiceUpload) -> String {
    time::ms_to_calendar_date(invoice.issued_at, SHANGHAI_OFFSET_MINUTES)
}

/// Whether the title is a company's (it comes with a tax id); a person's otherwise.
pub fn is_company(invoice: &InvoiceUpload) -> bool {
    invoice.tax_id.is_some()
}

/// The tax id, trimmed.
pub fn tax_id(invoice: &InvoiceUpload) -> Option<String> {
    invoice.tax_id.as_deref().map(str::trim).map(str::to_owned)
}

/// The invoice code, trimmed; none (or blank) on a fully digital invoice (全电发票).
pub fn invoice_code(invoice: &InvoiceUpload) -> Option<String> {
    invoice.invoice_code.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned)
}

/// The failure of an invoice whose platform takes the file's content (`param`, base64) while
/// the canonical invoice only gives a URL: a plugin fetches only the hosts it declared, and an
/// ERP's file server is not one of them.
pub fn content_needed(invoice: &InvoiceUpload, platform: &str, param: &str) -> ConnectorError {
    let given = match &invoice.file_url {
        Some(url) => format!("only a URL ({url})"),
        None => "no file".to_owned(),
    };
    invalid(
        invoice,
        "file_url",
        format!(
            "{platform} takes the {} invoice's file content ({param}, base64), got {given}; this plugin cannot \
             fetch files from hosts it does not declare",
            kind_name(invoice.kind)
        ),
    )
}

/// The file URL an upload needs, or `invalid_input` on `file_url`.
pub fn file_url<'a>(invoice: &'a InvoiceUpload, platform: &str) -> Result<&'a str, ConnectorError> {
    match invoice.file_url.as_deref().map(str::trim) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => Ok(url),
        Some(url) => Err(invalid(invoice, "file_url", format!("expected an http(s) URL, got {url:?}"))),
        None => Err(invalid(invoice, "file_url", format!("{platform} takes the invoice's file, got no file_url"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice() -> InvoiceUpload {
        InvoiceUpload {
            order_id: "1001".into(),
            kind: InvoiceKind::Electronic,
            title: "杭州某某科技有限公司".into(),
            tax_id: Some("91330100MA2ABCDE1X".into()),
            invoice_no: "24330000000012345678".into(),
            invoice_code: None,
            amount: 19990,
            // 2024-05-31 23:30:00 UTC = 2024-06-01 07:30 in Shanghai.
            issued_at: 1_717_198_200_000,
            file_url: Some("https://files.example.com/i.pdf".into()),
            file_type: Some(InvoiceFileType::Pdf),
        }
    }

    fn field(e: ConnectorError) -> String {
        match e {
            ConnectorError::InvalidInput(f) => {
                assert!(f.reason.contains("order 1001"), "{}", f.reason);
                f.field
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn formats_amount_and_date() {
        let i = invoice();
        assert_eq!(amount_yuan(&i), "199.90");
        assert_eq!(issued_date(&i), "2024-06-01");
        assert!(is_company(&i));
        assert_eq!(invoice_code(&InvoiceUpload { invoice_code: Some(" ".into()), ..i.clone() }), None);
        assert_eq!(file_type_name(InvoiceFileType::Ofd), "OFD");
        assert_eq!(kind_name(InvoiceKind::VatSpecial), "vat_special");
    }

    #[test]
    fn checks_name_the_field_and_order() {
        assert!(check(&invoice()).is_ok());
        assert_eq!(field(check(&InvoiceUpload { title: " ".into(), ..invoice() }).unwrap_err()), "title");
        assert_eq!(field(check(&InvoiceUpload { amount: 0, ..invoice() }).unwrap_err()), "amount");
        assert_eq!(
            field(
                check(&InvoiceUpload { invoice_no: String::new(), order_id: "1001".into(), ..invoice() }).unwrap_err()
            ),
            "invoice_no"
        );
        assert_eq!(field(check(&InvoiceUpload { tax_id: Some(String::new()), ..invoice() }).unwrap_err()), "tax_id");
        assert_eq!(field(content_needed(&invoice(), "JD", "pdfInfo")), "file_url");
        assert_eq!(field(file_url(&InvoiceUpload { file_url: None, ..invoice() }, "抖店").unwrap_err()), "file_url");
        assert_eq!(
            field(file_url(&InvoiceUpload { file_url: Some("ftp://x".into()), ..invoice() }, "抖店").unwrap_err()),
            "file_url"
        );
        assert_eq!(file_url(&invoice(), "抖店").unwrap(), "https://files.example.com/i.pdf");
    }
}

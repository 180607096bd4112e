//! `push-invoices` over `order.invoiceUpload` (`/order/invoiceUpload`, 上传发票): the invoice
//! file of an order the buyer asked an invoice for, one call per invoice.
//!
//! Mapping (wit/README.md, "Invoices"): `order_id` = order id (the parent order),
//! `upload_file` = the file's URL, which 抖店 fetches itself (it takes either the file's bytes
//! as a multipart upload or a URL: the plugin sends the URL and so needs no file access). An
//! invoice without a file (a paper one) cannot be uploaded: that invoice's failure on
//! `file_url`. The invoice's number, code, amount, title and date do not travel: 抖店 reads
//! them from the file.
//!
//! UNSURE, kept here: the parameters are `order_id` and `upload_file` as integrators' SDKs
//! name them (op.jinritemai.com guide 150/812); whether newer versions of the method also take
//! `invoice_no` / `invoice_code` / `invoice_amount` could not be confirmed, so they are not
//! sent. The answer's `data` carries nothing the plugin reads; a refusal comes as the usual
//! `code` / `sub_code` envelope (an unknown order, a file 抖店 cannot read).

use serde_json::{Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::batch;
use wharf_sdk::invoice;
use wharf_sdk::types::{ConnectorError, InvoiceUpload, ItemResult, PushAck};

pub const INVOICE_UPLOAD: &str = "order.invoiceUpload";

/// The params of one upload, or the invoice's failure before any call.
pub fn upload_params(i: &InvoiceUpload) -> Result<Value, ConnectorError> {
    invoice::check(i)?;
    if !i.order_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invoice::invalid(
            i,
            "order_id",
            format!("expected a 抖店 order id (digits), got {:?}", i.order_id),
        ));
    }
    let url = invoice::file_url(i, "抖店")?;
    Ok(json!({"order_id": i.order_id, "upload_file": url}))
}

/// Uploads the invoices one by one.
pub fn push_invoices(api: &mut impl Api, invoices: Vec<InvoiceUpload>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(invoices, |i| {
        let params = upload_params(&i)?;
        api.call(INVOICE_UPLOAD, &params)?;
        Ok(PushAck { platform_ref: Some(i.invoice_no) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::types::{InvoiceFileType, InvoiceKind};

    fn electronic() -> InvoiceUpload {
        InvoiceUpload {
            order_id: "4987654321012345".into(),
            kind: InvoiceKind::Electronic,
            title: "张三".into(),
            tax_id: None,
            invoice_no: "24330000000012345678".into(),
            invoice_code: None,
            amount: 12900,
            issued_at: 1_717_198_200_000,
            file_url: Some("https://erp.example/i/1.pdf".into()),
            file_type: Some(InvoiceFileType::Pdf),
        }
    }

    #[test]
    fn maps_order_and_file_url() {
        let p = upload_params(&electronic()).unwrap();
        assert_eq!(p, json!({"order_id": "4987654321012345", "upload_file": "https://erp.example/i/1.pdf"}));
    }

    #[test]
    fn uploads_one_by_one_with_item_failures() {
        let mut api = Scripted::answering(vec![
            Ok(json!({})),
            Err(ConnectorError::platform("isv.business-failed:order-not-exist", "订单不存在")),
        ]);
        let paper = InvoiceUpload { kind: InvoiceKind::Paper, file_url: None, file_type: None, ..electronic() };
        let results = push_invoices(&mut api, vec![electronic(), paper, electronic()]).unwrap();
        assert_eq!(api.methods(), [INVOICE_UPLOAD, INVOICE_UPLOAD]);
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("24330000000012345678"));
        match &results[1] {
            Err(ConnectorError::InvalidInput(f)) => {
                assert_eq!(f.field, "file_url");
                assert!(f.reason.contains("order 4987654321012345"), "{}", f.reason);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&results[2], Err(ConnectorError::Platform(_))));
    }

    #[test]
    fn bad_input_and_whole_call_errors() {
        let bad = InvoiceUpload { order_id: "A1".into(), ..electronic() };
        assert!(matches!(upload_params(&bad), Err(ConnectorError::InvalidInput(f)) if f.field == "order_id"));
        let mut api = Scripted::answering(vec![Err(ConnectorError::rate_limited(1000, "slow"))]);
        assert!(matches!(push_invoices(&mut api, vec![electronic()]), Err(ConnectorError::RateLimited(_))));
    }
}

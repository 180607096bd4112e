//! `push-invoices` over `alibaba.einvoice.core.inv.upload` (发票中台-发票结果回传) with
//! `source=upload`: an invoice the merchant issued outside Alibaba's invoice platform, handed
//! to it for delivery to the buyer of order `platform_tid`. One call per invoice.
//!
//! Mapping (wit/README.md, "Invoices"):
//! - `platform_tid` = order id; `invoice_type` = `blue` (the contract uploads no red invoices);
//!   `invoice_kind` 0 electronic, 1 paper, 2 VAT special ([`invoice_kind`]);
//!   `business_type` 1 (company) when a tax id is given, else 0 (person);
//!   `payer_name` = title, `payer_register_no` = tax id; `invoice_no`, `invoice_code` (left out
//!   on a fully digital invoice); `invoice_amount` = amount in yuan (`"199.90"`);
//!   `invoice_date` = issue date `yyyy-MM-dd` in Beijing time.
//! - An electronic invoice must carry its file as content (`invoice_file_content`, base64, or
//!   `invoice_file_data`) with `invoice_file_type` PDF/OFD; the contract gives a URL only, so
//!   it is that invoice's failure on `file_url` ([`invoice::content_needed`]).
//! - A VAT special invoice needs the buyer's bank, account, phone and address
//!   (`payer_bank_name`, `payer_bank_account_id`, `payer_phone`, `payer_address`), which an
//!   invoice upload does not carry: that invoice's failure on `kind`.
//! - The answer is `{"is_success": true}`; `false` is the invoice's platform failure.
//!
//! UNSURE, kept here: `platform_code` ("业务平台Code, 由发票中台分配") is sent as [`PLATFORM_CODE`]
//! (`TB`, the code Alibaba's other invoice APIs use for Taobao); the seller's own tax id
//! (`payee_register_no`) is optional in the documentation and not sent; whether TOP checks the
//! amount against the order's payment is not documented (the simulator does not).

use serde_json::{Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::batch;
use wharf_sdk::invoice;
use wharf_sdk::json::Node;
use wharf_sdk::types::{ConnectorError, InvoiceKind, InvoiceUpload, ItemResult, PushAck};

use crate::top;

pub const INV_UPLOAD: &str = "alibaba.einvoice.core.inv.upload";
/// `source`: an invoice uploaded directly, for collection and delivery.
pub const SOURCE: &str = "upload";
/// UNSURE (see the module docs).
pub const PLATFORM_CODE: &str = "TB";

/// `invoice_kind`: 0 electronic, 1 paper (普票), 2 paper VAT special (专票).
pub fn invoice_kind(kind: InvoiceKind) -> u8 {
    match kind {
        InvoiceKind::Electronic => 0,
        InvoiceKind::Paper => 1,
        InvoiceKind::VatSpecial => 2,
    }
}

/// The params of one upload, or the invoice's failure before any call.
pub fn upload_params(i: &InvoiceUpload) -> Result<Value, ConnectorError> {
    invoice::check(i)?;
    if !i.order_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invoice::invalid(
            i,
            "order_id",
            format!("expected a Taobao trade id (digits), got {:?}", i.order_id),
        ));
    }
    match i.kind {
        InvoiceKind::Electronic => return Err(invoice::content_needed(i, "Taobao", "invoice_file_content")),
        InvoiceKind::VatSpecial => {
            return Err(invoice::invalid(
                i,
                "kind",
                "Taobao takes a VAT special invoice only with the buyer's bank, account, phone and address, \
                 which an invoice upload does not carry",
            ));
        }
        InvoiceKind::Paper => {}
    }
    let mut p = json!({
        "source": SOURCE,
        "platform_code": PLATFORM_CODE,
        "platform_tid": i.order_id,
        "invoice_type": "blue",
        "invoice_kind": invoice_kind(i.kind).to_string(),
        "business_type": if invoice::is_company(i) { "1" } else { "0" },
        "payer_name": i.title.trim(),
        "invoice_no": i.invoice_no.trim(),
        "invoice_amount": invoice::amount_yuan(i),
        "invoice_date": invoice::issued_date(i),
    });
    if let Some(tax_id) = invoice::tax_id(i) {
        p["payer_register_no"] = Value::String(tax_id);
    }
    if let Some(code) = invoice::invoice_code(i) {
        p["invoice_code"] = Value::String(code);
    }
    Ok(p)
}

/// Uploads the invoices one by one.
pub fn push_invoices(api: &mut impl Api, invoices: Vec<InvoiceUpload>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(invoices, |i| {
        let params = upload_params(&i)?;
        let response = api.call(INV_UPLOAD, &params)?;
        let root = Node::root(&response, top::response_key(INV_UPLOAD));
        if root.opt_bool("is_success")? != Some(true) {
            return Err(ConnectorError::platform(
                "is_success=false",
                format!("invoice {} of order {}: Taobao did not accept the upload", i.invoice_no, i.order_id),
            ));
        }
        Ok(PushAck { platform_ref: Some(i.invoice_no) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::types::InvoiceFileType;

    fn paper() -> InvoiceUpload {
        InvoiceUpload {
            order_id: "2001".into(),
            kind: InvoiceKind::Paper,
            title: "张三".into(),
            tax_id: None,
            invoice_no: "00004349".into(),
            invoice_code: Some("111100000001".into()),
            amount: 80008,
            issued_at: 1_717_198_200_000,
            file_url: None,
            file_type: None,
        }
    }

    fn field_of(r: &ItemResult) -> String {
        match r {
            Err(ConnectorError::InvalidInput(f)) => {
                assert!(f.reason.contains("order 2001"), "{}", f.reason);
                f.field.clone()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn maps_a_paper_invoice() {
        let p = upload_params(&paper()).unwrap();
        assert_eq!(p["platform_tid"], "2001");
        assert_eq!(p["invoice_amount"], "800.08");
        assert_eq!(p["invoice_date"], "2024-06-01");
        assert_eq!(p["invoice_kind"], "1");
        assert_eq!(p["business_type"], "0");
        assert_eq!(p["invoice_type"], "blue");
        assert_eq!(p["source"], "upload");
        assert_eq!(p["payer_name"], "张三");
        assert_eq!(p["invoice_code"], "111100000001");
        assert!(p.get("payer_register_no").is_none());
        let company = InvoiceUpload { tax_id: Some("91330100MA2ABCDE1X".into()), invoice_code: None, ..paper() };
        let p = upload_params(&company).unwrap();
        assert_eq!(
            (p["business_type"].as_str(), p["payer_register_no"].as_str()),
            (Some("1"), Some("91330100MA2ABCDE1X"))
        );
        assert!(p.get("invoice_code").is_none());
    }

    #[test]
    fn uploads_and_reads_the_answer() {
        let mut api = Scripted::answering(vec![Ok(json!({"is_success": true})), Ok(json!({"is_success": false}))]);
        let electronic = InvoiceUpload {
            kind: InvoiceKind::Electronic,
            file_url: Some("https://erp.example/i.pdf".into()),
            file_type: Some(InvoiceFileType::Pdf),
            ..paper()
        };
        let vat = InvoiceUpload { kind: InvoiceKind::VatSpecial, ..paper() };
        let results = push_invoices(&mut api, vec![paper(), electronic, vat, paper()]).unwrap();
        assert_eq!(api.methods(), [INV_UPLOAD, INV_UPLOAD]);
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("00004349"));
        assert_eq!(field_of(&results[1]), "file_url");
        assert_eq!(field_of(&results[2]), "kind");
        assert!(matches!(&results[3], Err(ConnectorError::Platform(p)) if p.message.contains("order 2001")));
    }

    #[test]
    fn bad_ids_and_whole_call_errors() {
        let mut api = Scripted::answering(vec![Err(ConnectorError::auth("session expired"))]);
        let bad = InvoiceUpload { order_id: "T-1".into(), ..paper() };
        match push_invoices(&mut api, vec![bad]).unwrap()[0].as_ref() {
            Err(ConnectorError::InvalidInput(f)) => assert_eq!(f.field, "order_id"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(push_invoices(&mut api, vec![paper()]), Err(ConnectorError::Auth(_))));
    }
}

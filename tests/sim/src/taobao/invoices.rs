//! `alibaba.einvoice.core.inv.upload` (发票中台-发票结果回传), as Alibaba documents it for
//! `source=upload`: an invoice issued outside the invoice platform, handed over for delivery
//! to the buyer of `platform_tid`.
//!
//! Checked as the documentation states: `source` one of `apply` / `async` / `upload` (only
//! `upload` is served here: `apply` needs an `apply_id`, `async` a `serial_no` the simulator
//! never issued); for `upload` the trade `platform_tid` must be the shop's; `invoice_type`
//! `blue` / `red`; `invoice_kind` 0 / 1 / 2; `business_type` 0 / 1, and a company title
//! (1) needs `payer_register_no`; `invoice_amount` a two-decimal yuan amount; `invoice_date`
//! `yyyy-MM-dd`; an electronic invoice (0) needs `invoice_file_type` PDF/OFD and the file
//! (`invoice_file_content` or `invoice_file_data`); a VAT special one (2) the buyer's bank,
//! account, phone and address. The answer is `{"is_success":true}`.
//!
//! UNSURE: the sub codes of the refusals (`isv.invalid-parameter`, `isv.trade-not-exist`)
//! follow TOP's general table; the invoice platform's own codes are not public. An invoice
//! number uploaded twice for the same trade is refused (`isv.invoice-duplicate`), our reading
//! of "归集" (collection).

use serde_json::json;

use super::error::TopError;
use super::methods::Call;
use super::state::State;
use super::wire::parse_yuan;
use crate::shop::{UploadedInvoice, is_calendar_date};

pub const INV_UPLOAD: &str = "alibaba.einvoice.core.inv.upload";

fn required<'p>(call: &'p Call<'_>, name: &str) -> Result<&'p str, TopError> {
    call.params.get(name).filter(|v| !v.is_empty()).ok_or_else(|| TopError::missing(name))
}

fn one_of<'p>(call: &'p Call<'_>, name: &str, allowed: &[&str]) -> Result<&'p str, TopError> {
    let v = required(call, name)?;
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(TopError::invalid(name, format!("{name} must be one of {allowed:?}, got {v:?}")))
    }
}

pub fn upload(state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let source = one_of(&call, "source", &["apply", "async", "upload"])?;
    if source != "upload" {
        return Err(TopError::remote(
            "isv.invalid-parameter",
            format!("source={source} needs an application this shop never made"),
        ));
    }
    let tid_text = required(&call, "platform_tid")?;
    let tid: u64 = tid_text
        .parse()
        .map_err(|_| TopError::invalid("platform_tid", format!("platform_tid must be a trade id, got {tid_text:?}")))?;
    if state.trade(tid).is_none() {
        return Err(TopError::remote("isv.trade-not-exist", format!("trade {tid} does not exist")));
    }
    one_of(&call, "invoice_type", &["blue", "red"])?;
    let kind = one_of(&call, "invoice_kind", &["0", "1", "2"])?;
    let business_type = one_of(&call, "business_type", &["0", "1"])?;
    let title = required(&call, "payer_name")?;
    let invoice_no = required(&call, "invoice_no")?;
    let amount_text = required(&call, "invoice_amount")?;
    let two_decimals = amount_text.split_once('.').is_some_and(|(_, f)| f.len() == 2);
    let amount = parse_yuan(amount_text).filter(|a| *a > 0 && two_decimals).ok_or_else(|| {
        TopError::invalid(
            "invoice_amount",
            format!("invoice_amount must be a positive amount with 2 decimals, got {amount_text:?}"),
        )
    })?;
    let date = required(&call, "invoice_date")?;
    if !is_calendar_date(date) {
        return Err(TopError::invalid("invoice_date", format!("invoice_date must be yyyy-MM-dd, got {date:?}")));
    }
    let tax_id = p.get("payer_register_no").filter(|v| !v.is_empty());
    if business_type == "1" || kind == "2" {
        let t = tax_id.ok_or_else(|| TopError::missing("payer_register_no"))?;
        if !(15..=20).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
            return Err(TopError::invalid(
                "payer_register_no",
                format!("payer_register_no must be 15-20 upper-case letters or digits, got {t:?}"),
            ));
        }
    }
    if kind == "0" {
        one_of(&call, "invoice_file_type", &["PDF", "OFD"])?;
        if p.get("invoice_file_content").is_none_or(str::is_empty)
            && p.get("invoice_file_data").is_none_or(str::is_empty)
        {
            return Err(TopError::missing("invoice_file_content"));
        }
    }
    if kind == "2" {
        for name in ["payer_bank_name", "payer_bank_account_id", "payer_phone", "payer_address"] {
            required(&call, name)?;
        }
    }
    let order_id = tid.to_string();
    if state.invoices.iter().any(|i| i.order_id == order_id && i.invoice_no.as_deref() == Some(invoice_no)) {
        return Err(TopError::remote(
            "isv.invoice-duplicate",
            format!("invoice {invoice_no} was already uploaded for trade {tid}"),
        ));
    }
    state.invoices.push(UploadedInvoice {
        order_id,
        kind: Some(kind.to_owned()),
        title: Some(title.to_owned()),
        tax_id: tax_id.map(str::to_owned),
        invoice_no: Some(invoice_no.to_owned()),
        invoice_code: p.get("invoice_code").filter(|v| !v.is_empty()).map(str::to_owned),
        amount_fen: Some(amount),
        issued_on: Some(date.to_owned()),
        file_url: None,
        received_at_ms: call.now_ms,
    });
    Ok(json!({"alibaba_einvoice_core_inv_upload_response": {"is_success": true}}).to_string())
}

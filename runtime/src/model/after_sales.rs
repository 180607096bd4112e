//! The records contract 0.3.0 added: after-sales and the merchant's answers to them, receivers
//! decrypted for a waybill, and invoices uploaded to the marketplace. Their meanings, and each
//! platform's codes mapped onto them, are in `wit/canonical-model.md`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{InvoiceKind, Money, Timestamp};

/// What the buyer asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterSaleKind {
    RefundBeforeShipping,
    RefundAfterShipping,
    ReturnAndRefund,
    Exchange,
    Reissue,
    PriceProtection,
    Repair,
}

/// Where an after-sale stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterSaleStatus {
    Requested,
    Agreed,
    AwaitingReturn,
    Returned,
    Refunded,
    Refused,
    Closed,
}

impl AfterSaleStatus {
    /// Still waiting on someone: the merchant, the buyer or the platform's refund.
    pub fn is_open(self) -> bool {
        !matches!(self, AfterSaleStatus::Refunded | AfterSaleStatus::Refused | AfterSaleStatus::Closed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AfterSaleLine {
    pub line_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_sku_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
}

/// The parcel the buyer sends back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReturnWaybill {
    pub carrier: String,
    pub tracking_no: String,
}

/// A refund, return, exchange, reissue, price protection or repair on an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AfterSale {
    pub platform: String,
    pub shop_id: String,
    pub after_sale_id: String,
    pub order_id: String,
    pub lines: Vec<AfterSaleLine>,
    pub kind: AfterSaleKind,
    pub status: AfterSaleStatus,
    pub platform_status: String,
    pub currency: String,
    #[schema(value_type = i64)]
    pub refund_amount: Money,
    #[schema(value_type = i64)]
    pub shipping_refund: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_waybill: Option<ReturnWaybill>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_version: Option<u64>,
}

/// The merchant's answer to an after-sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AfterSaleDecision {
    /// Refund without a return (or once the goods are back).
    AgreeRefund,
    /// Refuse; `reason` is shown to the buyer.
    RefuseRefund,
    /// Agree; the buyer sends the goods back.
    AgreeReturn,
    /// Refuse the return; `reason` is shown to the buyer.
    RefuseReturn,
    /// The returned goods arrived in order.
    ConfirmReturned,
}

impl AfterSaleDecision {
    pub fn needs_reason(self) -> bool {
        matches!(self, AfterSaleDecision::RefuseRefund | AfterSaleDecision::RefuseReturn)
    }
}

/// One answer, as queued and pushed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AfterSaleAction {
    pub after_sale_id: String,
    pub order_id: String,
    pub decision: AfterSaleDecision,
    /// Shown to the buyer; required to refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The `refund_version` the merchant answered; a platform that versions after-sales
    /// refuses an answer to an older one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_version: Option<u64>,
}

impl AfterSaleAction {
    /// What serde cannot say: a refusal carries its reason.
    pub fn check(&self) -> Result<(), String> {
        let blank = self.reason.as_deref().is_none_or(|r| r.trim().is_empty());
        if self.decision.needs_reason() && blank {
            return Err(format!("after-sale {}: a refusal needs a reason for the buyer", self.after_sale_id));
        }
        Ok(())
    }
}

/// Why a receiver is decrypted; the platform records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecryptPurpose {
    Waybill,
    Delivery,
    AfterSale,
}

/// An order's receiver reference, to decrypt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReceiverRef {
    pub order_id: String,
    pub privacy_ref: String,
}

/// A receiver in plaintext: returned to the caller that asked, kept nowhere. `Debug` prints
/// the order id only, so a stray `{:?}` in a log line cannot leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlainReceiver {
    pub order_id: String,
    pub name: String,
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    pub address: String,
}

impl std::fmt::Debug for PlainReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainReceiver").field("order_id", &self.order_id).finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceFileType {
    Pdf,
    Ofd,
}

/// An invoice the merchant issued, to upload to its order on the marketplace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceUpload {
    pub order_id: String,
    pub kind: InvoiceKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<String>,
    pub invoice_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_code: Option<String>,
    #[schema(value_type = i64)]
    pub amount: Money,
    pub issued_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<InvoiceFileType>,
}

impl InvoiceUpload {
    /// What serde cannot say: the fields a tax bureau's invoice always has, and a file that
    /// says what it is.
    pub fn check(&self) -> Result<(), String> {
        let who = format!("invoice {:?} of order {:?}", self.invoice_no, self.order_id);
        for (field, value) in [("order_id", &self.order_id), ("invoice_no", &self.invoice_no), ("title", &self.title)] {
            if value.trim().is_empty() {
                return Err(format!("{who}: `{field}` is empty"));
            }
        }
        if self.amount < 0 {
            return Err(format!("{who}: `amount` is {} fen; expected the invoice's total, >= 0", self.amount));
        }
        // A VAT special invoice (专票) is issued to a company, which the tax id identifies.
        if self.kind == InvoiceKind::VatSpecial && self.tax_id.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Err(format!("{who}: a VAT special invoice needs the buyer's `tax_id`"));
        }
        if self.file_type.is_some() && self.file_url.is_none() {
            return Err(format!("{who}: `file_type` without `file_url`; give the file's URL or drop the type"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_action_reads_strict_and_a_refusal_needs_its_reason() {
        let a: AfterSaleAction = serde_json::from_value(
            json!({"after_sale_id": "R1", "order_id": "O1", "decision": "refuse_refund", "reason": "已发货"}),
        )
        .unwrap();
        assert_eq!(a.decision, AfterSaleDecision::RefuseRefund);
        assert!(a.check().is_ok());
        let blank = AfterSaleAction { reason: Some(" ".into()), ..a };
        assert!(blank.check().unwrap_err().contains("needs a reason"));
        let e = serde_json::from_value::<AfterSaleAction>(
            json!({"after_sale_id": "R1", "order_id": "O1", "decision": "agree_refund", "note": "x"}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("note"), "{e}");
    }

    #[test]
    fn a_plain_receiver_never_debug_prints_its_plaintext() {
        let r = PlainReceiver {
            order_id: "O1".into(),
            name: "张三".into(),
            phone: "13800000000".into(),
            phone_extension: None,
            province: None,
            city: None,
            district: None,
            town: None,
            address: "某路1号".into(),
        };
        let s = format!("{r:?}");
        assert!(s.contains("O1") && !s.contains("张三") && !s.contains("1380"), "{s}");
    }
}

//! TOP refunds (退款 / 售后): `pull-after-sales` over `taobao.refunds.receive.get`,
//! `get-after-sale` over `taobao.refund.get`, and the merchant's answers over
//! `taobao.rp.refund.review` and `taobao.rp.returngoods.agree` / `.refuse`.
//!
//! Mapping (canonical-model.md, "Rules every plugin follows", After-sales, Taobao):
//! - `kind` from `dispute_type` ([`KINDS`]); `REFUND` with `has_good_return` is a return and
//!   refund; a plain `REFUND` is `refund_before_shipping` when the sub-order was not shipped
//!   ([`shipped`]) and `refund_after_shipping` otherwise.
//! - `status` from `status` ([`STATUSES`]); `platform_status` = `dispute_type=…;status=…` as sent.
//! - Money: `refund_fee` (yuan string) → fen, all of it in `refund_amount` (TOP does not split
//!   shipping out: `shipping_refund` is 0); it never exceeds `total_fee` (what was paid) when
//!   that is sent.
//! - One line: `oid`, `outer_id`, `num`. `return_waybill` from `company_name` + `sid`; times
//!   `created` / `modified` in Beijing time; `refund_version` kept, and sent back with every
//!   answer.
//!
//! The listing does not carry `refund_version`, `dispute_type` or `refund_phase`
//! (platforms.md: `taobao.refund.get` adds them), so a listed refund that lacks any of them is
//! read again with `taobao.refund.get` ([`Refunds::record`]); one whose detail is gone is
//! that refund's rejection, not the page's failure.
//!
//! UNSURE, kept here: the answers' parameters beyond `refund_id` / `refund_version` /
//! `refund_phase`: `taobao.rp.refund.review` takes `operator` ([`OPERATOR`]), `result`
//! (`true` / `false`) and `message` (the reason, required to refuse); `.returngoods.refuse`
//! takes the reason as `refuse_message`; each answers `{"is_success":true}`.

use serde_json::Value;
use wharf_sdk::after_sale::{self, decision_name};
use wharf_sdk::api::{Api, text_params};
use wharf_sdk::batch;
use wharf_sdk::json::Node;
use wharf_sdk::paging::{self, ListPage, Paging, Records};
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::status::lookup;
use wharf_sdk::time;
use wharf_sdk::types::{
    AfterSale, AfterSaleAction, AfterSaleDecision, AfterSaleKind, AfterSaleLine, AfterSalePage, AfterSaleStatus,
    ConnectorError, FieldError, ItemResult, PushAck, ReturnWaybill, TimeWindow,
};

use crate::mapping::{CURRENCY, PLATFORM};
use crate::top;

pub const REFUNDS_RECEIVE_GET: &str = "taobao.refunds.receive.get";
pub const REFUND_GET: &str = "taobao.refund.get";
pub const REFUND_REVIEW: &str = "taobao.rp.refund.review";
pub const RETURNGOODS_AGREE: &str = "taobao.rp.returngoods.agree";
pub const RETURNGOODS_REFUSE: &str = "taobao.rp.returngoods.refuse";

/// What the listing asks for.
pub const LIST_FIELDS: &str = "refund_id,tid,oid,total_fee,refund_fee,status,good_status,has_good_return,\
company_name,sid,reason,desc,created,modified,order_status,num,outer_id,refund_version,refund_phase,dispute_type";
/// What `taobao.refund.get` is asked for: the listing's fields (it adds the review's three).
pub const DETAIL_FIELDS: &str = LIST_FIELDS;
/// `refunds.receive.get` takes at most 100 rows a page.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Who the review names as its operator.
pub const OPERATOR: &str = "wharf";

/// TOP refunds page like trades: a day per query at most, pages from 1, `use_has_next`.
pub const PAGING: Paging =
    Paging { max_chunk_ms: paging::DAY_MS, min_halving_span_ms: 60 * 1_000, first_page: 1, max_listing_calls: 64 };

/// `dispute_type` → kind; `REFUND` is `None`: before or after shipping, or a return when
/// `has_good_return` ([`kind_of`]).
pub const KINDS: &[(&str, Option<AfterSaleKind>)] = &[
    ("REFUND", None),
    ("REFUND_AND_RETURN", Some(AfterSaleKind::ReturnAndRefund)),
    ("TMALL_EXCHANGE", Some(AfterSaleKind::Exchange)),
    ("TAOBAO_EXCHANGE", Some(AfterSaleKind::Exchange)),
    ("REPAIR", Some(AfterSaleKind::Repair)),
    ("RESHIPPING", Some(AfterSaleKind::Reissue)),
];

/// `status` → status.
pub const STATUSES: &[(&str, AfterSaleStatus)] = &[
    ("WAIT_SELLER_AGREE", AfterSaleStatus::Requested),
    ("WAIT_BUYER_RETURN_GOODS", AfterSaleStatus::AwaitingReturn),
    ("WAIT_SELLER_CONFIRM_GOODS", AfterSaleStatus::Returned),
    ("SELLER_REFUSE_BUYER", AfterSaleStatus::Refused),
    ("SUCCESS", AfterSaleStatus::Refunded),
    ("CLOSED", AfterSaleStatus::Closed),
];

/// The trade statuses (`order_status`) that say whether the goods had left: `Some(false)` not
/// shipped, `Some(true)` shipped; a status not named (a part shipped, closed) says nothing and
/// `good_status` decides ([`shipped`]).
pub const SHIPPED_BY_ORDER_STATUS: &[(&str, bool)] = &[
    ("TRADE_NO_CREATE_PAY", false),
    ("WAIT_BUYER_PAY", false),
    ("PAY_PENDING", false),
    ("WAIT_PRE_AUTH_CONFIRM", false),
    ("WAIT_SELLER_SEND_GOODS", false),
    ("PAID_FORBID_CONSIGN", false),
    ("WAIT_BUYER_CONFIRM_GOODS", true),
    ("TRADE_BUYER_SIGNED", true),
    ("TRADE_FINISHED", true),
];

/// Whether the sub-order had shipped: by `order_status` when it tells, else by `good_status`
/// (`BUYER_NOT_RECEIVED` is read as not shipped; UNSURE: TOP also says it of a parcel on its
/// way, which then reads as an interception: the safe side, kept here alone).
pub fn shipped(order_status: Option<&str>, good_status: Option<&str>) -> bool {
    if let Some(shipped) =
        order_status.and_then(|s| SHIPPED_BY_ORDER_STATUS.iter().find(|(k, _)| *k == s)).map(|(_, v)| *v)
    {
        return shipped;
    }
    good_status != Some("BUYER_NOT_RECEIVED")
}

/// The kind of a refund (see [`KINDS`]).
pub fn kind_of(r: &Node<'_>) -> Result<AfterSaleKind, FieldError> {
    let has_good_return = r.opt_bool("has_good_return")?.unwrap_or(false);
    let known = match r.opt_str("dispute_type")? {
        Some(dispute_type) => lookup(KINDS, &dispute_type, &r.path_of("dispute_type"))?,
        None => None,
    };
    Ok(match known {
        Some(kind) => kind,
        None if has_good_return => AfterSaleKind::ReturnAndRefund,
        None if shipped(r.opt_str("order_status")?.as_deref(), r.opt_str("good_status")?.as_deref()) => {
            AfterSaleKind::RefundAfterShipping
        }
        None => AfterSaleKind::RefundBeforeShipping,
    })
}

/// The receiver data a refund may carry, masked in a rejection's excerpt.
pub const PRIVATE_KEYS: &[&str] = &["buyer_nick", "receiver_name", "receiver_mobile", "address"];

/// One refund (the inside of `refund`, listed or read in full) → the canonical after-sale.
pub fn map_refund(r: &Node<'_>, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    let after_sale_id = r.id("refund_id")?;
    let status_text = r.str("status")?;
    let status = lookup(STATUSES, &status_text, &r.path_of("status"))?;
    let kind = kind_of(r)?;
    let refund_amount = r.money("refund_fee")?;
    if let Some(paid) = r.opt_money("total_fee")?
        && refund_amount > paid
    {
        return Err(r
            .error_at(
                "refund_fee",
                format!("expected at most what was paid (total_fee, {paid} fen), got {refund_amount} fen"),
            )
            .into());
    }
    let refund_version = match r.opt_id("refund_version")? {
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| r.error_at("refund_version", format!("expected a non-negative integer, got {v:?}")))?,
        ),
        None => None,
    };
    let quantity = if r.has("num") { Some(r.quantity("num")?) } else { None };
    let carrier = r.opt_str("company_name")?.unwrap_or_default();
    let return_waybill = r.opt_str("sid")?.map(|tracking_no| ReturnWaybill { carrier, tracking_no });
    Ok(AfterSale {
        platform: PLATFORM.to_owned(),
        shop_id: shop_id.to_owned(),
        after_sale_id,
        order_id: r.id("tid")?,
        lines: vec![AfterSaleLine { line_id: r.id("oid")?, outer_sku_id: r.opt_id("outer_id")?, quantity }],
        kind,
        status,
        platform_status: after_sale::platform_status(&[
            ("dispute_type", r.opt_str("dispute_type")?),
            ("status", Some(status_text)),
        ]),
        currency: CURRENCY.to_owned(),
        refund_amount,
        shipping_refund: 0,
        reason: r.opt_str("reason")?,
        return_waybill,
        created_at: r.shanghai_time("created")?,
        updated_at: r.shanghai_time("modified")?,
        refund_version,
    })
}

fn digits(field: &str, value: &str) -> Result<(), ConnectorError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            field,
            format!("expected a Taobao refund id (decimal digits), got {value:?}"),
        ));
    }
    Ok(())
}

/// One refund in full (the inside of `refund_get_response`'s `refund`).
fn fetch(api: &mut impl Api, refund_id: &str) -> Result<Value, ConnectorError> {
    digits("after_sale_id", refund_id)?;
    let response = api
        .call(REFUND_GET, &text_params(&[("refund_id", refund_id.to_owned()), ("fields", DETAIL_FIELDS.to_owned())]))?;
    Ok(Node::root(&response, top::response_key(REFUND_GET)).object("refund")?.value().clone())
}

/// One after-sale by its `refund_id`.
pub fn get_after_sale(api: &mut impl Api, refund_id: &str, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    let refund = fetch(api, refund_id)?;
    map_refund(&Node::root(&refund, "refund"), shop_id)
}

/// `taobao.refunds.receive.get` as the SDK's walk sees it: rows are the listed refunds.
pub struct Refunds<'a, A> {
    pub api: &'a mut A,
    pub shop_id: &'a str,
}

impl<A: Api> Records for Refunds<'_, A> {
    type Row = Value;
    type Record = AfterSale;

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.api.note(message, fields);
    }

    fn list(&mut self, first_ms: i64, last_ms: i64, page: u32, size: u32) -> Result<ListPage<Value>, ConnectorError> {
        let response = self.api.call(
            REFUNDS_RECEIVE_GET,
            &text_params(&[
                ("fields", LIST_FIELDS.to_owned()),
                ("start_modified", time::ms_to_shanghai(first_ms)),
                ("end_modified", time::ms_to_shanghai(last_ms)),
                ("page_no", page.to_string()),
                ("page_size", size.to_string()),
                ("use_has_next", "true".to_owned()),
            ]),
        )?;
        let root = Node::root(&response, top::response_key(REFUNDS_RECEIVE_GET));
        let rows = match root.opt_object("refunds")? {
            Some(refunds) => refunds.required("refund")?.elements()?.iter().map(|n| n.value().clone()).collect(),
            None => Vec::new(),
        };
        // `use_has_next` spares TOP counting: no total, dense chunks are halved.
        Ok(ListPage { rows, has_next: root.bool("has_next")?, total: None })
    }

    fn record(&mut self, listed: Value) -> Result<Mapped<AfterSale>, ConnectorError> {
        let id = reject::record_id(&Node::root(&listed, ""), "refund_id");
        let complete =
            ["refund_version", "dispute_type", "refund_phase"].iter().all(|k| Node::root(&listed, "").has(k));
        let refund = if complete {
            listed
        } else {
            match fetch(self.api, &id) {
                Ok(detail) => merge(listed, detail),
                Err(error) => return reject::rejection(&id, Some(&listed), error, PRIVATE_KEYS).map(Err),
            }
        };
        reject::settle(&id, Some(&refund), map_refund(&Node::root(&refund, ""), self.shop_id), PRIVATE_KEYS)
    }
}

/// The listed refund with the detail's fields over it.
fn merge(mut listed: Value, detail: Value) -> Value {
    if let (Value::Object(listed), Value::Object(detail)) = (&mut listed, detail) {
        listed.extend(detail);
    }
    listed
}

/// One page of after-sales modified in `window`; `page_size` capped at [`MAX_PAGE_SIZE`].
pub fn pull_after_sales(
    api: &mut impl Api,
    page_size: u32,
    shop_id: &str,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<AfterSalePage, ConnectorError> {
    paging::pull_after_sales(&PAGING, &mut Refunds { api, shop_id }, page_size.clamp(1, MAX_PAGE_SIZE), window, cursor)
}

/// An answer's form params.
pub type Params = Vec<(&'static str, String)>;

/// The method and params of one answer, given the refund's current `refund_phase`.
pub fn answer_params(action: &AfterSaleAction, refund_phase: &str) -> Result<(&'static str, Params), ConnectorError> {
    let reason = after_sale::reason(action)?;
    let version = action.refund_version.ok_or_else(|| {
        ConnectorError::invalid_input(
            "refund_version",
            format!(
                "after-sale {}: TOP answers name the refund_version they answer (from the pulled after-sale), got none",
                action.after_sale_id
            ),
        )
    })?;
    let mut params = vec![
        ("refund_id", action.after_sale_id.clone()),
        ("refund_phase", refund_phase.to_owned()),
        ("refund_version", version.to_string()),
    ];
    let method = match action.decision {
        AfterSaleDecision::AgreeRefund | AfterSaleDecision::ConfirmReturned | AfterSaleDecision::RefuseRefund => {
            let agree = action.decision != AfterSaleDecision::RefuseRefund;
            params.push(("operator", OPERATOR.to_owned()));
            params.push(("result", agree.to_string()));
            params.extend(reason.map(|r| ("message", r)));
            REFUND_REVIEW
        }
        AfterSaleDecision::AgreeReturn => {
            params.extend(reason.map(|r| ("remark", r)));
            RETURNGOODS_AGREE
        }
        AfterSaleDecision::RefuseReturn => {
            params.extend(reason.map(|r| ("refuse_message", r)));
            RETURNGOODS_REFUSE
        }
    };
    Ok((method, params))
}

/// The merchant's answers, one by one: the refund's `refund_phase` is read first
/// (`taobao.refund.get`), then the answer carries it and the `refund_version` answered.
pub fn push_after_sale_actions(
    api: &mut impl Api,
    actions: Vec<AfterSaleAction>,
) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(actions, |action| {
        digits("after_sale_id", &action.after_sale_id)?;
        // Checked before any call: a refusal without a reason, an answer without a version.
        answer_params(&action, "")?;
        let refund = fetch(api, &action.after_sale_id)?;
        let phase = Node::root(&refund, "refund").str("refund_phase")?;
        let (method, params) = answer_params(&action, &phase)?;
        let response = api.call(method, &text_params(&params))?;
        let root = Node::root(&response, top::response_key(method));
        if root.opt_bool("is_success")? == Some(false) {
            return Err(ConnectorError::platform(
                "is_success=false",
                format!(
                    "{} of refund {}: TOP answered is_success false",
                    decision_name(action.decision),
                    action.after_sale_id
                ),
            ));
        }
        Ok(PushAck { platform_ref: Some(action.after_sale_id) })
    })
}

#[cfg(test)]
mod tests;

//! 抖店 after-sales: `pull-after-sales` over `afterSale.List`, `get-after-sale` over
//! `afterSale.Detail`, and the merchant's answers over `afterSale.operate`.
//!
//! Mapping (canonical-model.md, "Rules every plugin follows", After-sales, Douyin):
//! - `kind` from `aftersale_type` ([`KINDS`]); `status` from `aftersale_status` and
//!   `refund_status` ([`status_of`]); `platform_status` all three as sent
//!   (`aftersale_type=0;aftersale_status=12;refund_status=3`).
//! - `refund_amount` = `refund_total_amount − refund_post_amount`, `shipping_refund` =
//!   `refund_post_amount` (fen). Neither may be negative, and the goods refunded never exceed
//!   what was paid for the SKU orders concerned, when the answer says (`related_order_info[].pay_amount`).
//! - `order_id` is the parent order (`order_info.shop_order_id`); `aftersale_info.order_id` is
//!   the SKU order, the line. Lines come from `order_info.related_order_info[]` (`sku_order_id`,
//!   `out_sku_id`, `aftersale_item_num`), else the one SKU order with `aftersale_num`.
//! - `return_waybill` from `return_logistics_company_name` + `return_logistics_code`; times
//!   Unix seconds.
//!
//! The walk is the SDK's ([`paging::pull_after_sales`]): chunks of at most a day asked by
//! `start_time` / `end_time` (inclusive Unix seconds) with `order_by=update_time`, newest first,
//! pages from 0, at most [`MAX_PAGE_SIZE`] rows; without `order_by=update_time` 抖店 filters
//! by creation time and changed rows are missed.
//!
//! UNSURE, kept here: the answer shapes around the documented fields, as 抖店's SDK names them:
//! a list is `data{items[{aftersale_info{…}, order_info{…}}], page, size, total, has_more}`, a
//! detail `data{process_info{after_sale_info{…}}, order_info{…}}`; `afterSale.operate` takes
//! `type` ([`operate_type`]) and `items[{aftersale_id, reason}]`; `order_by` is a list of
//! `"<field> <direction>"` (`["update_time desc"]`).

use serde_json::{Value, json};
use wharf_sdk::after_sale::{self, decision_name};
use wharf_sdk::api::Api;
use wharf_sdk::batch;
use wharf_sdk::json::Node;
use wharf_sdk::paging::{self, DAY_MS, ListPage, Paging, Records};
use wharf_sdk::reject::{self, Mapped};
use wharf_sdk::status::lookup;
use wharf_sdk::time;
use wharf_sdk::types::{
    AfterSale, AfterSaleAction, AfterSaleDecision, AfterSaleKind, AfterSaleLine, AfterSalePage, AfterSaleStatus,
    ConnectorError, FieldError, ItemResult, PushAck, ReturnWaybill, TimeWindow,
};

use crate::mapping::{CURRENCY, PLATFORM};

pub const AFTER_SALE_LIST: &str = "afterSale.List";
pub const AFTER_SALE_DETAIL: &str = "afterSale.Detail";
pub const AFTER_SALE_OPERATE: &str = "afterSale.operate";
/// `afterSale.List`'s largest page (platforms.md).
pub const MAX_PAGE_SIZE: u32 = 100;

/// 抖店's after-sale paging: pages from 0, a day per query, as for orders.
pub const PAGING: Paging =
    Paging { max_chunk_ms: DAY_MS, min_halving_span_ms: 60 * 1_000, first_page: 0, max_listing_calls: 64 };

/// `aftersale_type` → kind.
pub const KINDS: &[(&str, AfterSaleKind)] = &[
    ("0", AfterSaleKind::ReturnAndRefund),
    ("1", AfterSaleKind::RefundAfterShipping),
    ("2", AfterSaleKind::RefundBeforeShipping),
    ("3", AfterSaleKind::Exchange),
    ("6", AfterSaleKind::PriceProtection),
    ("7", AfterSaleKind::Reissue),
    ("8", AfterSaleKind::Repair),
];

/// `aftersale_status` → status; `None` for 12 and 14 (succeeded), which are `refunded` once
/// `refund_status` is 3 (done) and `agreed` before.
pub const STATUSES: &[(&str, Option<AfterSaleStatus>)] = &[
    ("6", Some(AfterSaleStatus::Requested)),
    ("7", Some(AfterSaleStatus::AwaitingReturn)),
    ("11", Some(AfterSaleStatus::Returned)),
    ("12", None),
    ("13", Some(AfterSaleStatus::Agreed)),
    ("14", None),
    ("27", Some(AfterSaleStatus::Refused)),
    ("28", Some(AfterSaleStatus::Closed)),
    ("29", Some(AfterSaleStatus::Refused)),
];

/// `refund_status` 3: the money went back.
pub const REFUND_DONE: &str = "3";

/// The after-sale keys whose values are receiver data, masked in a rejection's excerpt (抖店
/// puts the return address and the buyer's phone on some after-sales).
pub const PRIVATE_KEYS: &[&str] =
    &["post_receiver", "post_tel", "post_address", "receiver_name", "receiver_tel", "encrypt_post_tel"];

/// The status of `aftersale_status` with `refund_status` (canonical-model.md).
pub fn status_of(
    aftersale_status: &str,
    refund_status: Option<&str>,
    field: &str,
) -> Result<AfterSaleStatus, FieldError> {
    Ok(match lookup(STATUSES, aftersale_status, field)? {
        Some(status) => status,
        None if refund_status == Some(REFUND_DONE) => AfterSaleStatus::Refunded,
        None => AfterSaleStatus::Agreed,
    })
}

fn field_err(e: FieldError) -> ConnectorError {
    e.into()
}

/// One after-sale: `info` is `aftersale_info` (or a detail's `after_sale_info`), `order` the
/// `order_info` beside it.
pub fn map_after_sale(info: &Node<'_>, order: Option<&Node<'_>>, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    let after_sale_id = info.id("aftersale_id")?;
    let aftersale_type = info.id("aftersale_type")?;
    let aftersale_status = info.id("aftersale_status")?;
    let refund_status = info.opt_id("refund_status")?;
    let kind = lookup(KINDS, &aftersale_type, &info.path_of("aftersale_type"))?;
    let status = status_of(&aftersale_status, refund_status.as_deref(), &info.path_of("aftersale_status"))?;

    let total = info.fen("refund_total_amount")?;
    let post = info.opt_fen("refund_post_amount")?.unwrap_or(0);
    if post > total {
        return Err(info
            .error_at("refund_post_amount", format!("expected at most refund_total_amount ({total} fen), got {post}"))
            .into());
    }
    let refund_amount = total - post;

    let sku_order_id = info.id("order_id")?;
    let (order_id, lines, paid) = match order {
        Some(order) => {
            let order_id = order.id("shop_order_id")?;
            let mut lines = Vec::new();
            let mut paid = Some(0_i64);
            if let Some(related) = order.opt_array("related_order_info")? {
                for r in related.elements()? {
                    lines.push(AfterSaleLine {
                        line_id: r.id("sku_order_id")?,
                        outer_sku_id: r.opt_id("out_sku_id")?,
                        quantity: if r.has("aftersale_item_num") {
                            Some(r.quantity("aftersale_item_num")?)
                        } else {
                            None
                        },
                    });
                    paid = match (paid, r.opt_fen("pay_amount")?) {
                        (Some(sum), Some(p)) => sum.checked_add(p),
                        _ => None,
                    };
                }
            }
            // No bound from the lines when none is listed.
            let paid = if lines.is_empty() { None } else { paid };
            (order_id, lines, paid)
        }
        None => {
            return Err(info
                .error_at("order_info", "expected the after-sale's order_info with its shop_order_id, got none")
                .into());
        }
    };
    let lines = if lines.is_empty() {
        let quantity = if info.has("aftersale_num") { Some(info.quantity("aftersale_num")?) } else { None };
        vec![AfterSaleLine { line_id: sku_order_id, outer_sku_id: None, quantity }]
    } else {
        lines
    };
    if let Some(paid) = paid
        && refund_amount > paid
    {
        return Err(info
            .error_at(
                "refund_total_amount",
                format!(
                    "expected the goods refunded (refund_total_amount − refund_post_amount = {refund_amount} fen) \
                     to be at most what was paid for the SKU orders concerned ({paid} fen)"
                ),
            )
            .into());
    }

    let return_waybill = match (info.opt_str("return_logistics_code")?, info.opt_str("return_logistics_company_name")?)
    {
        (Some(tracking_no), carrier) => Some(ReturnWaybill { carrier: carrier.unwrap_or_default(), tracking_no }),
        (None, _) => None,
    };

    Ok(AfterSale {
        platform: PLATFORM.to_owned(),
        shop_id: shop_id.to_owned(),
        after_sale_id,
        order_id,
        lines,
        kind,
        status,
        platform_status: after_sale::platform_status(&[
            ("aftersale_type", Some(aftersale_type)),
            ("aftersale_status", Some(aftersale_status)),
            ("refund_status", refund_status),
        ]),
        currency: CURRENCY.to_owned(),
        refund_amount,
        shipping_refund: post,
        reason: info.opt_str("reason")?,
        return_waybill,
        created_at: info.unix_seconds("create_time").map_err(field_err)?,
        updated_at: info.unix_seconds("update_time").map_err(field_err)?,
        refund_version: None,
    })
}

/// One listed item (`{aftersale_info, order_info}`), mapped, or set aside with its
/// `aftersale_id` and a path inside the item (an index into the page would change from one
/// round to the next).
pub fn settle_item(listed: &Node<'_>, shop_id: &str) -> Result<Mapped<AfterSale>, ConnectorError> {
    let item = Node::root(listed.value(), "");
    let mapped = item.object("aftersale_info").map_err(ConnectorError::from).and_then(|info| {
        let order = item.opt_object("order_info")?;
        map_after_sale(&info, order.as_ref(), shop_id)
    });
    let id = match item.opt_object("aftersale_info") {
        Ok(Some(info)) => reject::record_id(&info, "aftersale_id"),
        _ => format!("{} (no readable aftersale_info.aftersale_id)", listed.path()),
    };
    reject::settle(&id, Some(item.value()), mapped, PRIVATE_KEYS)
}

/// `afterSale.List` as the SDK's walk sees it.
pub struct AfterSaleList<'a, A: Api> {
    pub api: &'a mut A,
    pub shop_id: &'a str,
}

impl<A: Api> Records for AfterSaleList<'_, A> {
    type Row = Mapped<AfterSale>;
    type Record = AfterSale;

    fn note(&mut self, message: &str, fields: &[(&str, String)]) {
        self.api.note(message, fields);
    }

    fn list(
        &mut self,
        first_ms: i64,
        last_ms: i64,
        page: u32,
        size: u32,
    ) -> Result<ListPage<Self::Row>, ConnectorError> {
        let params = json!({
            "start_time": time::ms_to_unix_seconds(first_ms),
            "end_time": time::ms_to_unix_seconds(last_ms),
            "order_by": ["update_time desc"],
            "page": page,
            "size": size,
        });
        let data = self.api.call(AFTER_SALE_LIST, &params)?;
        let root = Node::root(&data, "data");
        let items = match root.opt_array("items")? {
            Some(list) => list.elements()?,
            None => Vec::new(),
        };
        let total = if root.has("total") { Some(root.i64("total")?) } else { None };
        let has_next = match (root.opt_bool("has_more")?, total) {
            (Some(more), _) => more,
            (None, Some(total)) => (i64::from(page) + 1) * i64::from(size) < total,
            (None, None) => items.len() == size as usize,
        };
        Ok(ListPage {
            rows: items.iter().map(|item| settle_item(item, self.shop_id)).collect::<Result<_, _>>()?,
            has_next,
            total: total.and_then(|t| u64::try_from(t).ok()),
        })
    }

    fn record(&mut self, row: Mapped<AfterSale>) -> Result<Mapped<AfterSale>, ConnectorError> {
        Ok(row)
    }
}

/// One page of after-sales updated in `window`; `page_size` is the shop's, capped at
/// [`MAX_PAGE_SIZE`].
pub fn pull_after_sales(
    api: &mut impl Api,
    page_size: u32,
    shop_id: &str,
    window: &TimeWindow,
    cursor: Option<&str>,
) -> Result<AfterSalePage, ConnectorError> {
    let size = page_size.clamp(1, MAX_PAGE_SIZE);
    paging::pull_after_sales(&PAGING, &mut AfterSaleList { api, shop_id }, size, window, cursor)
}

fn digits(field: &str, value: &str, what: &str) -> Result<(), ConnectorError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(field, format!("expected {what} (decimal digits), got {value:?}")));
    }
    Ok(())
}

/// One after-sale by its id (`afterSale.Detail`).
pub fn get_after_sale(api: &mut impl Api, after_sale_id: &str, shop_id: &str) -> Result<AfterSale, ConnectorError> {
    digits("after_sale_id", after_sale_id, "a 抖店 after-sale id")?;
    let data = api.call(AFTER_SALE_DETAIL, &json!({"after_sale_id": after_sale_id}))?;
    let root = Node::root(&data, "data");
    let info = root.object("process_info")?.object("after_sale_info")?;
    let order = root.opt_object("order_info")?;
    map_after_sale(&info, order.as_ref(), shop_id)
}

/// `afterSale.operate`'s `type` for a decision. UNSURE (抖店's table as integrators copy it):
/// 101 agree to a refund only, 102 refuse it; 111 agree to a return, 112 refuse it; 201
/// confirm the returned goods (and refund). Agreeing to refund after the goods came back is the
/// confirmation too, which is what `agree_refund` on a return is.
pub fn operate_type(decision: AfterSaleDecision) -> u32 {
    match decision {
        AfterSaleDecision::AgreeRefund => 101,
        AfterSaleDecision::RefuseRefund => 102,
        AfterSaleDecision::AgreeReturn => 111,
        AfterSaleDecision::RefuseReturn => 112,
        AfterSaleDecision::ConfirmReturned => 201,
    }
}

/// The `afterSale.operate` params of one answer; a refusal without a reason is refused here.
pub fn operate_params(action: &AfterSaleAction) -> Result<Value, ConnectorError> {
    digits("after_sale_id", &action.after_sale_id, "a 抖店 after-sale id")?;
    let reason = after_sale::reason(action)?;
    let mut item = json!({"aftersale_id": action.after_sale_id});
    if let Some(reason) = reason {
        item["reason"] = Value::from(reason);
    }
    Ok(json!({"type": operate_type(action.decision), "items": [item]}))
}

/// The merchant's answers, one `afterSale.operate` per answer (an answer's error is its own).
pub fn push_after_sale_actions(
    api: &mut impl Api,
    actions: Vec<AfterSaleAction>,
) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(actions, |action| {
        let params = operate_params(&action)?;
        let data = api.call(AFTER_SALE_OPERATE, &params)?;
        // The item's own outcome, when 抖店 reports one per item.
        let root = Node::root(&data, "data");
        if let Some(items) = root.opt_array("items")? {
            for item in items.elements()? {
                let code = if item.has("status_code") { item.i64("status_code")? } else { 0 };
                if code != 0 {
                    let message = item.opt_str("status_msg")?.unwrap_or_default();
                    return Err(ConnectorError::platform(
                        code.to_string(),
                        format!("{} of after-sale {}: {message}", decision_name(action.decision), action.after_sale_id),
                    ));
                }
            }
        }
        Ok(PushAck { platform_ref: Some(action.after_sale_id) })
    })
}

#[cfg(test)]
mod tests;

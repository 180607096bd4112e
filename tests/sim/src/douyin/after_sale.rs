//! 抖店's after-sales: `afterSale.List`, `afterSale.Detail` and `afterSale.operate` over the
//! shop's [`AfterSale`]s.
//!
//! Codes (platforms.md, "After-sales"): `aftersale_type` 0 return and refund, 1 refund after
//! shipping, 2 refund before shipping, 3 exchange, 6 price protection, 7 reissue, 8 repair;
//! `aftersale_status` and `refund_status` from the neutral status by [`aftersale_status`] and
//! [`refund_status`]. Amounts are fen, times Unix seconds, ids strings (19 digits).
//!
//! The shape around the documented fields is UNSURE and kept here: a list answers
//! `data{items[{aftersale_info{…}, order_info{…}}], page, size, total, has_more}` and a detail
//! `data{process_info{after_sale_info{…}}, order_info{…}}`, as 抖店's SDK names them; an
//! after-sale on several SKU orders (a whole-order refund before shipping) is one after-sale
//! here whose `order_id` is its first SKU order, all of them in `order_info.related_order_info`
//! (抖店 opens one per SKU order). `afterSale.operate`'s `type` codes are in [`operation`].

use serde_json::{Value, json};

use super::error::DyError;
use super::methods::Params;
use super::render::{order_id, sku_order_id};
use crate::shop::{AfterSale, AfterSaleAction, AfterSaleKind, AfterSaleStatus, SellerAction, Shop};

pub const AFTER_SALE_LIST: &str = "afterSale.List";
pub const AFTER_SALE_DETAIL: &str = "afterSale.Detail";
pub const AFTER_SALE_OPERATE: &str = "afterSale.operate";
/// `afterSale.List`'s `size` bounds (platforms.md: ≤ 100).
pub const MAX_PAGE_SIZE: i64 = 100;

/// `aftersale_type` of a kind.
pub fn aftersale_type(kind: AfterSaleKind) -> u32 {
    match kind {
        AfterSaleKind::ReturnAndRefund => 0,
        AfterSaleKind::RefundAfterShipping => 1,
        AfterSaleKind::RefundBeforeShipping => 2,
        AfterSaleKind::Exchange => 3,
        AfterSaleKind::PriceProtection => 6,
        AfterSaleKind::Reissue => 7,
        AfterSaleKind::Repair => 8,
    }
}

/// `aftersale_status`: 6 awaiting the merchant (requested), 7 awaiting the buyer's return, 11
/// the merchant's second review (the goods came back), 12 succeeded (an agreed refund, paid or
/// on its way; a repair or reissue done), 14 an exchange succeeded, 27 the merchant refused the
/// request, 29 the merchant refused the returned goods, 28 closed (withdrawn).
pub fn aftersale_status(a: &AfterSale) -> u32 {
    match a.status {
        AfterSaleStatus::Requested => 6,
        AfterSaleStatus::AwaitingReturn => 7,
        AfterSaleStatus::Returned => 11,
        AfterSaleStatus::Agreed | AfterSaleStatus::Refunded => 12,
        AfterSaleStatus::Refused if a.return_waybill.is_some() => 29,
        AfterSaleStatus::Refused => 27,
        AfterSaleStatus::Closed if a.succeeded() && a.kind == AfterSaleKind::Exchange => 14,
        AfterSaleStatus::Closed if a.succeeded() => 12,
        AfterSaleStatus::Closed => 28,
    }
}

/// `refund_status`: 1 pending, 2 in progress (agreed, not paid), 3 done, 4 failed (refused or
/// withdrawn); 0 for the kinds that refund nothing (UNSURE: 抖店 documents no code for them).
pub fn refund_status(a: &AfterSale) -> u32 {
    if !a.kind.refunds_money() {
        return 0;
    }
    match a.status {
        AfterSaleStatus::Requested | AfterSaleStatus::AwaitingReturn | AfterSaleStatus::Returned => 1,
        AfterSaleStatus::Agreed => 2,
        AfterSaleStatus::Refunded => 3,
        AfterSaleStatus::Refused | AfterSaleStatus::Closed => 4,
    }
}

/// The 抖店 id of an after-sale.
pub fn after_sale_id(a: &AfterSale) -> String {
    a.id.to_string()
}

/// `aftersale_info` (`after_sale_info` in a detail).
pub fn after_sale_info(a: &AfterSale) -> Value {
    let (company, code) = a.return_waybill.clone().unwrap_or_default();
    json!({
        "aftersale_id": after_sale_id(a),
        "order_id": a.lines.first().map(|l| sku_order_id(l.line_no)).unwrap_or_default(),
        "aftersale_type": aftersale_type(a.kind),
        "aftersale_status": aftersale_status(a),
        "refund_status": refund_status(a),
        "refund_amount": a.refund_amount,
        "refund_post_amount": a.shipping_refund,
        "refund_total_amount": a.refund_total(),
        "return_logistics_code": code,
        "return_logistics_company_name": company,
        "reason": a.reason,
        "aftersale_num": a.lines.iter().map(|l| l.quantity).sum::<i64>(),
        "create_time": a.created_ms / 1000,
        "update_time": a.updated_ms / 1000,
    })
}

/// `order_info`: the shop order and the SKU orders concerned.
fn order_info(shop: &Shop, a: &AfterSale) -> Value {
    let order = shop.orders.iter().find(|o| o.order_no == a.order_no);
    let related: Vec<Value> = a
        .lines
        .iter()
        .map(|l| {
            let line = order.and_then(|o| o.lines.iter().find(|x| x.line_no == l.line_no));
            json!({
                "sku_order_id": sku_order_id(l.line_no),
                "sku_id": l.sku_no,
                "out_sku_id": l.outer_sku_id,
                "aftersale_item_num": l.quantity,
                "item_num": line.map_or(0, |x| x.quantity),
                "pay_amount": line.map_or(0, |x| x.line_total()),
                "refund_amount": l.refund,
            })
        })
        .collect();
    json!({"shop_order_id": order_id(a.order_no), "related_order_info": related})
}

/// `afterSale.List`: after-sales whose update time (with `order_by=update_time`) or create
/// time (without it, as 抖店 lists) is within the inclusive second bounds `start_time` and
/// `end_time`, newest first, `size` per page from page 0; optionally only those of `order_id`
/// (shop or SKU order), `aftersale_type` or `aftersale_status`.
pub fn list(shop: &Shop, p: &Params<'_>) -> Result<Value, DyError> {
    let size = p.required_int("size")?;
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(DyError::business_param(format!("size 须在 1 到 {MAX_PAGE_SIZE} 之间，收到 {size}")));
    }
    let page = p.int("page")?.unwrap_or(0);
    if page < 0 {
        return Err(DyError::business_param(format!("page 从 0 开始，收到 {page}")));
    }
    let by_update = match order_by(p)?.as_deref() {
        None | Some("create_time") => false,
        Some("update_time") => true,
        Some(other) => {
            return Err(DyError::business_param(format!("order_by 须为 create_time 或 update_time，收到 {other}")));
        }
    };
    let (start, end) = (p.int("start_time")?, p.int("end_time")?);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(DyError::business_param(format!("结束时间 {e} 早于开始时间 {s}")));
    }
    let order = p.text("order_id")?;
    let kind = p.int("aftersale_type")?;
    let status = p.int("aftersale_status")?;
    let time = |a: &AfterSale| if by_update { a.updated_ms / 1000 } else { a.created_ms / 1000 };
    let mut hits: Vec<&AfterSale> = shop
        .after_sales
        .iter()
        .filter(|a| start.is_none_or(|s| s <= time(a)) && end.is_none_or(|e| time(a) <= e))
        .filter(|a| {
            order
                .as_deref()
                .is_none_or(|o| order_id(a.order_no) == o || a.lines.iter().any(|l| sku_order_id(l.line_no) == o))
        })
        .filter(|a| kind.is_none_or(|k| i64::from(aftersale_type(a.kind)) == k))
        .filter(|a| status.is_none_or(|s| i64::from(aftersale_status(a)) == s))
        .collect();
    hits.sort_by_key(|a| std::cmp::Reverse((time(a), a.id)));
    let total = hits.len() as i64;
    let items: Vec<Value> = hits
        .into_iter()
        .skip((page * size) as usize)
        .take(size as usize)
        .map(|a| json!({"aftersale_info": after_sale_info(a), "order_info": order_info(shop, a)}))
        .collect();
    let has_more = (page + 1) * size < total;
    Ok(json!({"items": items, "page": page, "size": size, "total": total, "has_more": has_more}))
}

/// `order_by`: a field name, or 抖店's list form (`["update_time desc"]`).
fn order_by(p: &Params<'_>) -> Result<Option<String>, DyError> {
    match p.0.get("order_by") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.split_whitespace().next().unwrap_or_default().to_owned())),
        Some(Value::Array(list)) => {
            Ok(list.first().and_then(Value::as_str).and_then(|s| s.split_whitespace().next()).map(str::to_owned))
        }
        Some(other) => Err(DyError::business_param(format!("order_by 须为字符串，收到 {other}"))),
    }
}

fn find<'s>(shop: &'s Shop, id: &str) -> Result<&'s AfterSale, DyError> {
    shop.after_sales
        .iter()
        .find(|a| after_sale_id(a) == id)
        .ok_or_else(|| DyError::business_failed(format!("售后单 {id} 不存在")))
}

/// `afterSale.Detail`: one after-sale by `after_sale_id`.
pub fn detail(shop: &Shop, p: &Params<'_>) -> Result<Value, DyError> {
    let id = p.required_text("after_sale_id")?;
    let a = find(shop, &id)?;
    Ok(json!({"process_info": {"after_sale_info": after_sale_info(a)}, "order_info": order_info(shop, a)}))
}

/// What one `afterSale.operate` `type` does: the action, the kinds it is for, whether a
/// reason is required.
pub type Operation = (AfterSaleAction, fn(AfterSaleKind) -> bool, bool);

/// `afterSale.operate`'s `type` codes (UNSURE: 抖店's table as integrators copy it), what each
/// does and to which after-sales: (code, action, the kinds it is for, whether a reason is
/// required).
pub fn operation(code: i64) -> Option<Operation> {
    let refund_only = |k: AfterSaleKind| k.refunds_money() && !k.returns_goods();
    let with_goods = |k: AfterSaleKind| k.returns_goods();
    let reissue = |k: AfterSaleKind| k == AfterSaleKind::Reissue;
    Some(match code {
        // 同意仅退款 / 拒绝仅退款
        101 => (AfterSaleAction::Agree, refund_only, false),
        102 => (AfterSaleAction::Refuse, refund_only, true),
        // 同意退货（换货、维修）申请 / 拒绝
        111 => (AfterSaleAction::Agree, with_goods, false),
        112 => (AfterSaleAction::Refuse, with_goods, true),
        // 确认收货（并退款、换出、修好寄回）/ 拒绝收货
        201 => (AfterSaleAction::ConfirmReturn, with_goods, false),
        202 => (AfterSaleAction::Refuse, with_goods, true),
        // 同意补寄 / 拒绝补寄
        301 => (AfterSaleAction::Agree, reissue, false),
        302 => (AfterSaleAction::Refuse, reissue, true),
        _ => return None,
    })
}

/// `afterSale.operate`: `type` (see [`operation`]) on every after-sale of `items`
/// (`[{aftersale_id, reason}]`), all or none: an after-sale whose kind or status does not
/// allow it fails the call (50002) and nothing is applied. Each one done goes to `log`.
pub fn operate(shop: &mut Shop, log: &mut Vec<SellerAction>, p: &Params<'_>, now_ms: i64) -> Result<Value, DyError> {
    let code = p.required_int("type")?;
    let (action, fits, needs_reason) =
        operation(code).ok_or_else(|| DyError::business_param(format!("type {code} 不支持")))?;
    let items = match p.0.get("items") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return Err(DyError::business_param("items 须为非空数组")),
    };
    let mut todo = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(item) = item else {
            return Err(DyError::business_param(format!("items 的元素须为对象，收到 {item}")));
        };
        let item = Params(item);
        let id = item.required_text("aftersale_id")?;
        let reason = item.text("reason")?;
        if needs_reason && reason.is_none() {
            return Err(DyError::business_param(format!("售后单 {id}: 拒绝须填写 reason")));
        }
        let a = find(shop, &id)?;
        if !fits(a.kind) {
            return Err(DyError::business_failed(format!(
                "售后单 {id} 为 aftersale_type {}，不支持操作 type {code}",
                aftersale_type(a.kind)
            )));
        }
        if a.next_status(&action).is_err() {
            return Err(DyError::business_failed(format!(
                "售后单 {id} 当前状态 {} 不允许操作 type {code}",
                aftersale_status(a)
            )));
        }
        todo.push((a.id, id, reason));
    }
    let mut done = Vec::with_capacity(todo.len());
    for (no, id, reason) in todo {
        if let Err(e) = shop.act_on_after_sale(no, &action, now_ms) {
            return Err(DyError::business_failed(format!("售后单 {id}: {e}")));
        }
        log.push(SellerAction { after_sale_id: no, action: action.clone(), reason, at_ms: now_ms });
        done.push(json!({"aftersale_id": id, "status_code": 0, "status_msg": "success"}));
    }
    Ok(json!({"items": done}))
}

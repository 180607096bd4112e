//! The API methods the simulator serves: parameter checks, state changes and the success
//! bodies (shapes from platforms.md and the mapping contract in context.md).

use super::error::TopError;
use super::form::Params;
use super::model::TradeStatus;
use super::refunds;
use super::render::{FieldOverride, FieldSet, IdStyle, write_trade};
use super::state::State;
use super::wire::{Obj, parse_gmt8, parse_yuan};

pub const INCREMENT_GET: &str = "taobao.trades.sold.increment.get";
pub const FULLINFO_GET: &str = "taobao.trade.fullinfo.get";
pub const QUANTITY_UPDATE: &str = "taobao.item.quantity.update";
pub const SKU_PRICE_UPDATE: &str = "taobao.item.sku.price.update";
pub const ITEM_SELLER_GET: &str = "taobao.item.seller.get";
pub const UPDATE_LISTING: &str = "taobao.item.update.listing";
pub const UPDATE_DELISTING: &str = "taobao.item.update.delisting";
pub const LOGISTICS_OFFLINE_SEND: &str = "taobao.logistics.offline.send";

/// Every method the simulator knows; anything else is TOP code 22 "Invalid Method".
pub const METHODS: &[&str] = &[
    INCREMENT_GET,
    FULLINFO_GET,
    QUANTITY_UPDATE,
    SKU_PRICE_UPDATE,
    ITEM_SELLER_GET,
    UPDATE_LISTING,
    UPDATE_DELISTING,
    LOGISTICS_OFFLINE_SEND,
    refunds::REFUNDS_RECEIVE_GET,
    refunds::REFUND_GET,
    refunds::REFUND_REVIEW,
    refunds::RETURNGOODS_AGREE,
    refunds::RETURNGOODS_REFUSE,
    super::decrypt::OAID_DECRYPT,
    super::invoices::INV_UPLOAD,
];

/// The methods whose responses carry trades (and so can take a [`FieldOverride`]).
pub fn carries_trades(method: &str) -> bool {
    method == INCREMENT_GET || method == FULLINFO_GET
}

/// Whether `method` changes state (and so needs the write lock).
pub fn mutates(method: &str) -> bool {
    !matches!(method, INCREMENT_GET | FULLINFO_GET | ITEM_SELLER_GET) && !refunds::READS.contains(&method)
}

/// `taobao.trades.sold.increment.get` allows at most one day between start and end
/// (platforms.md).
const MAX_INCREMENT_SPAN_MS: i64 = 86_400_000;
/// `page_size` bounds and default of `taobao.trades.sold.increment.get` (platforms.md).
const MAX_PAGE_SIZE: u64 = 100;
const DEFAULT_PAGE_SIZE: u64 = 40;

/// What one business call gets besides its parameters.
pub struct Call<'a> {
    pub params: &'a Params,
    pub now_ms: i64,
    pub ids: IdStyle,
    /// A pending malformed-field knob; taken when the field is written.
    pub patch: &'a mut Option<FieldOverride>,
}

fn required<'p>(p: &'p Params, name: &str) -> Result<&'p str, TopError> {
    p.get(name).ok_or_else(|| TopError::missing(name))
}

fn parse_u64(p: &Params, name: &str) -> Result<Option<u64>, TopError> {
    p.get(name)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| TopError::invalid(name, format!("{name} must be a positive integer, got {v:?}")))
        })
        .transpose()
}

fn required_u64(p: &Params, name: &str) -> Result<u64, TopError> {
    parse_u64(p, name)?.ok_or_else(|| TopError::missing(name))
}

fn parse_i64(p: &Params, name: &str) -> Result<Option<i64>, TopError> {
    p.get(name)
        .map(|v| v.parse::<i64>().map_err(|_| TopError::invalid(name, format!("{name} must be an integer, got {v:?}"))))
        .transpose()
}

fn required_time(p: &Params, name: &str) -> Result<i64, TopError> {
    let v = required(p, name)?;
    parse_gmt8(v).ok_or_else(|| TopError::invalid(name, format!("{name} must be yyyy-MM-dd HH:mm:ss, got {v:?}")))
}

/// `{"<root>":{...}}` around what `body` writes into the inner object.
fn envelope(method: &str, body: impl FnOnce(&mut Obj<'_>)) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("{\"");
    out.push_str(&response_root(method));
    out.push_str("\":");
    let mut obj = Obj::open(&mut out);
    body(&mut obj);
    obj.close();
    out.push('}');
    out
}

/// The success root key: method without `taobao.`, dots → `_`, plus `_response`.
pub fn response_root(method: &str) -> String {
    let bare = method.strip_prefix("taobao.").unwrap_or(method);
    format!("{}_response", bare.replace('.', "_"))
}

/// Runs a read-only method.
pub fn read(method: &str, state: &State, call: Call<'_>) -> Result<String, TopError> {
    match method {
        INCREMENT_GET => increment_get(state, call),
        FULLINFO_GET => fullinfo_get(state, call),
        ITEM_SELLER_GET => item_seller_get(state, call),
        refunds::REFUNDS_RECEIVE_GET => refunds::receive_get(state, call),
        refunds::REFUND_GET => refunds::get(state, call),
        _ => Err(TopError::new(22, "Invalid Method").with_sub("isv.invalid-method", method.to_string())),
    }
}

/// Runs a method that changes state.
pub fn write(method: &str, state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    match method {
        QUANTITY_UPDATE => quantity_update(state, call),
        SKU_PRICE_UPDATE => sku_price_update(state, call),
        UPDATE_LISTING => update_listing(state, call, true),
        UPDATE_DELISTING => update_listing(state, call, false),
        LOGISTICS_OFFLINE_SEND => logistics_offline_send(state, call),
        refunds::REFUND_REVIEW => refunds::review(state, call),
        refunds::RETURNGOODS_AGREE => refunds::returngoods_agree(state, call),
        refunds::RETURNGOODS_REFUSE => refunds::returngoods_refuse(state, call),
        super::decrypt::OAID_DECRYPT => super::decrypt::decrypt(state, call),
        super::invoices::INV_UPLOAD => super::invoices::upload(state, call),
        _ => read(method, state, call),
    }
}

fn increment_get(state: &State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let fields = FieldSet::parse(required(p, "fields")?);
    if fields.is_empty() {
        return Err(TopError::invalid("fields", "fields names no trade field"));
    }
    let start = required_time(p, "start_modified")?;
    let end = required_time(p, "end_modified")?;
    if end < start {
        return Err(TopError::invalid("end_modified", "end_modified must not be before start_modified"));
    }
    if end - start > MAX_INCREMENT_SPAN_MS {
        return Err(TopError::invalid(
            "start_modified",
            "start_modified and end_modified must be at most one day apart",
        ));
    }
    let page_no = parse_u64(p, "page_no")?.unwrap_or(1);
    if page_no == 0 {
        return Err(TopError::invalid("page_no", "page_no starts at 1"));
    }
    let page_size = parse_u64(p, "page_size")?.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(TopError::invalid("page_size", format!("page_size must be 1..={MAX_PAGE_SIZE}, got {page_size}")));
    }
    let use_has_next = match p.get("use_has_next") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(TopError::invalid("use_has_next", format!("use_has_next must be true or false, got {v:?}")));
        }
    };
    let status = p
        .get("status")
        .map(|s| {
            TradeStatus::parse(s).ok_or_else(|| TopError::invalid("status", format!("unknown trade status {s:?}")))
        })
        .transpose()?;

    // The shop's trades and the raw documents, newest `modified` first (ties: larger tid).
    let mut matching: Vec<(i64, u64, Row<'_>)> = state
        .modified_between(start, end)
        .filter(|t| status.is_none_or(|s| t.status == s))
        .map(|t| (t.modified_ms, t.tid, Row::Shop(t)))
        .collect();
    if !state.raw.is_empty() {
        matching.extend(
            state
                .raw
                .iter()
                .filter(|r| (start..=end).contains(&r.updated_ms))
                .filter(|r| status.is_none_or(|s| r.status == s.as_str()))
                .map(|r| (r.updated_ms, r.number(), Row::Raw(&r.doc))),
        );
        matching.sort_by_key(|(modified, tid, _)| std::cmp::Reverse((*modified, *tid)));
    }
    let seen = matching.len() as u64;
    let skip = (page_no - 1).saturating_mul(page_size);
    let page: Vec<&Row<'_>> = matching
        .iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(page_size as usize)
        .map(|(_, _, r)| r)
        .collect();
    let (has_next, total) = if use_has_next { (skip + (page.len() as u64) < seen, None) } else { (false, Some(seen)) };
    let requested = required(p, "fields")?;
    Ok(envelope(INCREMENT_GET, |obj| {
        if !page.is_empty() {
            let out = obj.key("trades");
            out.push_str("{\"trade\":[");
            for (i, row) in page.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match row {
                    Row::Shop(t) => write_trade(out, t, &fields, call.ids, call.patch),
                    Row::Raw(doc) => out.push_str(&selected(doc, requested).to_string()),
                }
            }
            out.push_str("]}");
        }
        match total {
            Some(n) => obj.num("total_results", n),
            None => obj.bool("has_next", has_next),
        }
    }))
}

/// A listed trade: the shop's, or a raw document served as it is.
enum Row<'a> {
    Shop(&'a super::model::SimTrade),
    Raw(&'a serde_json::Value),
}

/// A raw trade document with the top-level fields `fields` asks for (`orders` and
/// `orders.<field>` keep the sub-orders as they are), as TOP answers only what was asked.
fn selected(doc: &serde_json::Value, fields: &str) -> serde_json::Value {
    let names: Vec<&str> = fields.split(',').map(str::trim).collect();
    let mut doc = doc.clone();
    if let Some(map) = doc.as_object_mut() {
        let asked =
            |k: &str| names.iter().any(|n| *n == k || n.strip_prefix(k).is_some_and(|rest| rest.starts_with('.')));
        map.retain(|k, _| asked(k));
    }
    doc
}

fn fullinfo_get(state: &State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let fields = FieldSet::parse(required(p, "fields")?);
    let tid = required_u64(p, "tid")?;
    if let Some(r) = state.raw.iter().find(|r| r.id == tid.to_string()) {
        let doc = selected(&r.doc, required(p, "fields")?);
        return Ok(envelope(FULLINFO_GET, |obj| obj.key("trade").push_str(&doc.to_string())));
    }
    let t =
        state.trade(tid).ok_or_else(|| TopError::remote("isv.trade-not-exist", format!("交易不存在: tid {tid}")))?;
    Ok(envelope(FULLINFO_GET, |obj| {
        write_trade(obj.key("trade"), t, &fields, call.ids, call.patch);
    }))
}

fn item_not_found(num_iid: u64) -> TopError {
    TopError::remote("isv.item-not-exist", format!("商品不存在: num_iid {num_iid}"))
}

fn quantity_update(state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let num_iid = required_u64(p, "num_iid")?;
    let quantity = parse_i64(p, "quantity")?.ok_or_else(|| TopError::missing("quantity"))?;
    let full = match p.get("type") {
        None | Some("1") => true,
        Some("2") => false,
        Some(v) => {
            return Err(TopError::invalid("type", format!("type must be 1 (full) or 2 (delta), got {v:?}")));
        }
    };
    if full && quantity < 0 {
        return Err(TopError::invalid("quantity", format!("a full quantity must be >= 0, got {quantity}")));
    }
    let sku_id = parse_u64(p, "sku_id")?;
    let outer_id = p.get("outer_id");
    let item = state.item_mut(num_iid).ok_or_else(|| item_not_found(num_iid))?;
    let apply = |old: i64| -> Result<i64, TopError> {
        let new = if full { quantity } else { old + quantity };
        if new < 0 {
            return Err(TopError::remote(
                "isv.item-quantity-item-update-service-error",
                format!("库存不能小于0: {old} + {quantity}"),
            ));
        }
        Ok(new)
    };
    let sku_index = match (sku_id, outer_id) {
        (Some(id), _) => Some(item.skus.iter().position(|s| s.sku_id == id).ok_or_else(|| {
            TopError::remote("isv.sku-not-exist", format!("SKU不存在: sku_id {id} of num_iid {num_iid}"))
        })?),
        (None, Some(o)) => match item.skus.iter().position(|s| s.outer_id.as_deref() == Some(o)) {
            Some(i) => Some(i),
            None if item.skus.is_empty() && item.outer_id.as_deref() == Some(o) => None,
            None => {
                return Err(TopError::remote(
                    "isv.sku-not-exist",
                    format!("SKU不存在: outer_id {o:?} of num_iid {num_iid}"),
                ));
            }
        },
        (None, None) if !item.skus.is_empty() => {
            return Err(TopError::remote(
                "isv.item-quantity-item-update-service-error",
                "商品有SKU，请指定sku_id或outer_id",
            ));
        }
        (None, None) => None,
    };
    let mut sku_out = None;
    match sku_index {
        Some(i) => {
            let new = apply(item.skus[i].quantity)?;
            item.skus[i].quantity = new;
            item.num = item.skus.iter().map(|s| s.quantity).sum();
            sku_out = Some((item.skus[i].sku_id, new));
        }
        None => item.num = apply(item.num)?,
    }
    item.modified_ms = call.now_ms;
    let item = &*item;
    Ok(envelope(QUANTITY_UPDATE, |obj| {
        let mut it = Obj::open(obj.key("item"));
        call.ids.write(&mut it, "num_iid", item.num_iid);
        it.num("num", item.num);
        it.time("modified", item.modified_ms);
        if let Some((sku_id, qty)) = sku_out {
            let out = it.key("skus");
            out.push_str("{\"sku\":[");
            let mut s = Obj::open(out);
            call.ids.write(&mut s, "sku_id", sku_id);
            s.num("quantity", qty);
            s.close();
            out.push_str("]}");
        }
        it.close();
    }))
}

fn sku_price_update(state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let num_iid = required_u64(p, "num_iid")?;
    let price_text = required(p, "price")?;
    let price = parse_yuan(price_text).ok_or_else(|| {
        TopError::invalid("price", format!("price must be yuan with at most 2 decimals, got {price_text:?}"))
    })?;
    if price <= 0 {
        return Err(TopError::invalid("price", format!("price must be greater than 0, got {price_text:?}")));
    }
    let properties = p.get("properties");
    let outer_id = p.get("outer_id");
    if properties.is_none() && outer_id.is_none() {
        return Err(TopError::missing("properties"));
    }
    let now = call.now_ms;
    let item = state.item_mut(num_iid).ok_or_else(|| item_not_found(num_iid))?;
    let sku = item
        .skus
        .iter_mut()
        .find(|s| match properties {
            Some(props) => s.properties == props,
            None => s.outer_id.as_deref() == outer_id,
        })
        .ok_or_else(|| {
            TopError::remote(
                "isv.sku-not-exist",
                format!("SKU不存在: {} of num_iid {num_iid}", properties.or(outer_id).unwrap_or_default()),
            )
        })?;
    sku.price = price;
    let (sku_id, properties) = (sku.sku_id, sku.properties.clone());
    item.price = item.skus.iter().map(|s| s.price).min().unwrap_or(price);
    item.modified_ms = now;
    Ok(envelope(SKU_PRICE_UPDATE, |obj| {
        let mut s = Obj::open(obj.key("sku"));
        call.ids.write(&mut s, "sku_id", sku_id);
        call.ids.write(&mut s, "num_iid", num_iid);
        s.str("properties", &properties);
        s.yuan("price", price);
        s.time("modified", now);
        s.close();
    }))
}

fn item_seller_get(state: &State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let fields = required(p, "fields")?;
    let num_iid = required_u64(p, "num_iid")?;
    let item = state.item(num_iid).ok_or_else(|| item_not_found(num_iid))?;
    Ok(envelope(ITEM_SELLER_GET, |obj| {
        let mut it = Obj::open(obj.key("item"));
        for f in fields.split(',').map(str::trim) {
            match f {
                "num_iid" => call.ids.write(&mut it, f, item.num_iid),
                "title" => it.str(f, &item.title),
                "num" => it.num(f, item.num),
                "price" => it.yuan(f, item.price),
                "approve_status" => it.str(f, if item.listed { "onsale" } else { "instock" }),
                "outer_id" => {
                    if let Some(o) = &item.outer_id {
                        it.str(f, o);
                    }
                }
                "modified" => it.time(f, item.modified_ms),
                "sku" | "skus" if !item.skus.is_empty() => {
                    let out = it.key("skus");
                    out.push_str("{\"sku\":[");
                    for (i, s) in item.skus.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let mut so = Obj::open(out);
                        call.ids.write(&mut so, "sku_id", s.sku_id);
                        so.str("properties", &s.properties);
                        so.str("properties_name", &s.properties_name);
                        so.num("quantity", s.quantity);
                        so.yuan("price", s.price);
                        if let Some(o) = &s.outer_id {
                            so.str("outer_id", o);
                        }
                        so.close();
                    }
                    out.push_str("]}");
                }
                _ => {}
            }
        }
        it.close();
    }))
}

fn update_listing(state: &mut State, call: Call<'_>, listed: bool) -> Result<String, TopError> {
    let p = call.params;
    let num_iid = required_u64(p, "num_iid")?;
    let num = if listed {
        let n = parse_i64(p, "num")?.ok_or_else(|| TopError::missing("num"))?;
        if n < 1 {
            return Err(TopError::invalid("num", format!("num must be greater than 0, got {n}")));
        }
        Some(n)
    } else {
        None
    };
    let item = state.item_mut(num_iid).ok_or_else(|| item_not_found(num_iid))?;
    item.listed = listed;
    // UNSURE: for an item with SKUs TOP keeps the SKU quantities; `num` only sets the stock of
    // an item without SKUs.
    if let (Some(n), true) = (num, item.skus.is_empty()) {
        item.num = n;
    }
    item.modified_ms = call.now_ms;
    let method = if listed { UPDATE_LISTING } else { UPDATE_DELISTING };
    Ok(envelope(method, |obj| {
        let mut it = Obj::open(obj.key("item"));
        call.ids.write(&mut it, "num_iid", num_iid);
        it.time("modified", call.now_ms);
        it.close();
    }))
}

fn logistics_offline_send(state: &mut State, call: Call<'_>) -> Result<String, TopError> {
    let p = call.params;
    let tid = required_u64(p, "tid")?;
    let out_sid = required(p, "out_sid")?;
    let company_code = required(p, "company_code")?;
    let split = match p.get("is_split") {
        None | Some("0") => false,
        Some("1") => true,
        Some(v) => {
            return Err(TopError::invalid("is_split", format!("is_split must be 0 or 1, got {v:?}")));
        }
    };
    let oids: Option<Vec<u64>> =
        if split {
            let raw = required(p, "sub_tid")?;
            let parsed: Result<Vec<u64>, _> = raw.split(',').map(|s| s.trim().parse::<u64>()).collect();
            Some(parsed.map_err(|_| {
                TopError::invalid("sub_tid", format!("sub_tid must be comma-separated oids, got {raw:?}"))
            })?)
        } else {
            None
        };
    state.ship(tid, out_sid, company_code, oids.as_deref(), call.now_ms)?;
    Ok(envelope(LOGISTICS_OFFLINE_SEND, |obj| {
        let mut s = Obj::open(obj.key("shipping"));
        s.bool("is_success", true);
        s.close();
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_roots() {
        assert_eq!(response_root(INCREMENT_GET), "trades_sold_increment_get_response");
        assert_eq!(response_root(FULLINFO_GET), "trade_fullinfo_get_response");
        assert_eq!(response_root(UPDATE_LISTING), "item_update_listing_response");
    }
}

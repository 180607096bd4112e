//! The 抖店 methods the simulator answers, over the shop: listing and reading orders, stock
//! and shipping.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::error::DyError;
use super::render::{self, CARRIERS};
use crate::raw::RawOrder;
use crate::shop::{Shop, Stage};

pub const SEARCH_LIST: &str = "order.searchList";
pub const ORDER_DETAIL: &str = "order.orderDetail";
pub const SYNC_STOCK: &str = "sku.syncStock";
pub const LOGISTICS_ADD: &str = "order.logisticsAdd";
pub const INVOICE_UPLOAD: &str = "order.invoiceUpload";
pub const METHODS: &[&str] = &[
    SEARCH_LIST,
    ORDER_DETAIL,
    SYNC_STOCK,
    LOGISTICS_ADD,
    super::after_sale::AFTER_SALE_LIST,
    super::after_sale::AFTER_SALE_DETAIL,
    super::after_sale::AFTER_SALE_OPERATE,
    super::decrypt::BATCH_DECRYPT,
    INVOICE_UPLOAD,
];

/// 抖店's bounds for `order.searchList` `size`.
pub const MAX_PAGE_SIZE: i64 = 100;

/// The parameters of one call, with typed reads that answer 抖店's errors.
pub struct Params<'a>(pub &'a Map<String, Value>);

impl Params<'_> {
    fn raw(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null() && *v != "")
    }

    /// An integer given as a JSON number or a string of digits (抖店's SDKs send both).
    pub fn int(&self, key: &str) -> Result<Option<i64>, DyError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(Value::String(s)) if s.parse::<i64>().is_ok() => Ok(s.parse().ok()),
            Some(other) => Err(DyError::business_param(format!("{key} 须为整数，收到 {other}"))),
        }
    }

    pub fn required_int(&self, key: &str) -> Result<i64, DyError> {
        self.int(key)?.ok_or_else(|| DyError::business_param(format!("缺少参数 {key}")))
    }

    /// Text, or the decimal text of a number (ids come either way).
    pub fn text(&self, key: &str) -> Result<Option<String>, DyError> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
            Some(other) => Err(DyError::business_param(format!("{key} 须为字符串，收到 {other}"))),
        }
    }

    pub fn required_text(&self, key: &str) -> Result<String, DyError> {
        self.text(key)?.ok_or_else(|| DyError::business_param(format!("缺少参数 {key}")))
    }

    pub fn bool(&self, key: &str) -> Result<bool, DyError> {
        match self.raw(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            Some(other) => Err(DyError::business_param(format!("{key} 须为布尔值，收到 {other}"))),
        }
    }
}

/// `order.searchList`: orders whose update (or create) time is within the inclusive second
/// bounds, newest first unless `order_asc`, `size` per page from page 0.
pub fn search_list(shop: &Shop, raw: &[RawOrder], p: &Params<'_>) -> Result<Value, DyError> {
    let size = p.required_int("size")?;
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(DyError::business_param(format!("size 须在 1 到 {MAX_PAGE_SIZE} 之间，收到 {size}")));
    }
    let page = p.int("page")?.unwrap_or(0);
    if page < 0 {
        return Err(DyError::business_param(format!("page 从 0 开始，收到 {page}")));
    }
    let by_update = p.int("update_time_start")?.is_some() || p.int("update_time_end")?.is_some();
    let (start, end) = if by_update {
        (p.int("update_time_start")?, p.int("update_time_end")?)
    } else {
        (p.int("create_time_start")?, p.int("create_time_end")?)
    };
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(DyError::business_param(format!("结束时间 {e} 早于开始时间 {s}")));
    }
    let order_by =
        p.text("order_by")?.unwrap_or_else(|| if by_update { "update_time" } else { "create_time" }.to_owned());
    let sort_by_update = match order_by.as_str() {
        "update_time" => true,
        "create_time" => false,
        other => {
            return Err(DyError::business_param(format!("order_by 须为 create_time 或 update_time，收到 {other}")));
        }
    };
    // Generated orders and raw documents alike: (created ms, updated ms, id, the row).
    let mut hits: Vec<(i64, i64, u64, Row<'_>)> = shop
        .orders
        .iter()
        .map(|o| (o.created_ms, o.updated_ms, o.order_no, Row::Shop(o)))
        .chain(raw.iter().map(|r| (r.created_ms, r.updated_ms, r.number(), Row::Raw(&r.doc))))
        .filter(|(created, updated, _, _)| {
            let secs = if by_update { updated / 1000 } else { created / 1000 };
            start.is_none_or(|s| s <= secs) && end.is_none_or(|e| secs <= e)
        })
        .collect();
    hits.sort_by_key(|(created, updated, no, _)| (if sort_by_update { *updated } else { *created }, *no));
    if !p.bool("order_asc")? {
        hits.reverse();
    }
    let total = hits.len();
    let rows: Vec<Value> = hits
        .into_iter()
        .skip((page * size) as usize)
        .take(size as usize)
        .map(|(_, _, _, row)| match row {
            Row::Shop(o) => render::shop_order(shop, o),
            Row::Raw(doc) => doc.clone(),
        })
        .collect();
    Ok(json!({"page": page, "size": size, "total": total, "shop_order_list": rows}))
}

/// A listed order: generated, or a raw document served as it is.
enum Row<'a> {
    Shop(&'a crate::shop::Order),
    Raw(&'a Value),
}

/// `order.orderDetail`: one shop order by `shop_order_id`.
pub fn order_detail(shop: &Shop, raw: &[RawOrder], p: &Params<'_>) -> Result<Value, DyError> {
    let id = p.required_text("shop_order_id")?;
    if let Some(r) = raw.iter().find(|r| r.id == id) {
        return Ok(json!({"shop_order_detail": r.doc}));
    }
    let order = find(shop, &id)?;
    Ok(json!({"shop_order_detail": render::shop_order(shop, order)}))
}

/// `order.invoiceUpload` (上传发票): the invoice file of an order, given as `upload_file`, a URL
/// 抖店 fetches (or the file's bytes as a multipart upload, which the simulator does not take).
/// The order must exist; a second upload replaces nothing here and is recorded again.
/// UNSURE: whether 抖店 refuses orders whose buyer asked no invoice is not documented; the
/// simulator accepts any order of the shop. `data` is `{}`.
pub fn invoice_upload(
    shop: &Shop,
    invoices: &mut Vec<crate::shop::UploadedInvoice>,
    p: &Params<'_>,
    now_ms: i64,
) -> Result<Value, DyError> {
    let id = p.required_text("order_id")?;
    let url = p.required_text("upload_file")?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(DyError::business_param(format!("upload_file 须为发票文件的 URL，收到 {url:?}")));
    }
    let order = find(shop, &id)?;
    invoices.push(crate::shop::UploadedInvoice {
        order_id: order.order_no.to_string(),
        kind: None,
        title: None,
        tax_id: None,
        invoice_no: None,
        invoice_code: None,
        amount_fen: None,
        issued_on: None,
        file_url: Some(url),
        received_at_ms: now_ms,
    });
    Ok(json!({}))
}

fn find<'s>(shop: &'s Shop, id: &str) -> Result<&'s crate::shop::Order, DyError> {
    id.parse::<u64>()
        .ok()
        .and_then(|no| shop.orders.iter().find(|o| o.order_no == no))
        .ok_or_else(|| DyError::business_failed(format!("订单 {id} 不存在")))
}

/// `sku.syncStock`: sets (or, `incremental`, adds to) a SKU's stock, found by `sku_id` or
/// `out_sku_id`; a repeated `idempotent_id` is refused and not applied again.
pub fn sync_stock(shop: &mut Shop, applied: &mut HashSet<String>, p: &Params<'_>) -> Result<Value, DyError> {
    let sku_index = match (p.int("sku_id")?, p.text("out_sku_id")?) {
        (Some(sku_id), _) => shop.skus.iter().position(|s| s.sku_no as i64 == sku_id),
        (None, Some(out)) => shop.skus.iter().position(|s| s.outer_sku_id == out),
        (None, None) => return Err(DyError::business_param("sku_id 与 out_sku_id 须二选一")),
    }
    .ok_or_else(|| DyError::business_failed("规格不存在"))?;
    if let Some(product_id) = p.text("product_id")? {
        let product = &shop.products[shop.skus[sku_index].product];
        if product.product_no.to_string() != product_id {
            return Err(DyError::business_failed(format!("规格不属于商品 {product_id}")));
        }
    }
    let stock_num = p.required_int("stock_num")?;
    let incremental = p.bool("incremental")?;
    if !incremental && stock_num < 0 {
        return Err(DyError::business_param(format!("stock_num 不能为负，收到 {stock_num}")));
    }
    if let Some(id) = p.text("idempotent_id")?
        && !applied.insert(id.clone())
    {
        return Err(DyError::invalid("isv.idempotent-id-existed", format!("幂等ID重复: {id}")));
    }
    let sku = &mut shop.skus[sku_index];
    sku.stock = if incremental { sku.stock + stock_num } else { stock_num };
    Ok(json!({}))
}

/// `order.logisticsAdd`: ships a paid (or partly shipped) order with a waybill.
pub fn logistics_add(shop: &mut Shop, p: &Params<'_>, now_ms: i64) -> Result<Value, DyError> {
    let id = p.required_text("order_id")?;
    let company = p.required_text("company_code")?;
    let waybill = p.required_text("logistics_code")?;
    if !CARRIERS.contains(&company.as_str()) {
        return Err(DyError::business_param(format!("物流公司编码 {company} 不存在")));
    }
    let no = find(shop, &id)?.order_no;
    let Some(order) = shop.order_mut(no) else {
        return Err(DyError::business_failed(format!("订单 {id} 不存在")));
    };
    if !matches!(order.stage, Stage::Paid | Stage::PartlyShipped) {
        return Err(DyError::business_failed(format!("订单 {id} 当前状态不可发货")));
    }
    order.stage = Stage::Shipped;
    order.shipment = Some((company, waybill));
    order.updated_ms = (now_ms / 1000 * 1000).max(order.updated_ms + 1000);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shop::ShopParams;

    fn shop() -> Shop {
        Shop::generate(&ShopParams {
            seed: 3,
            orders: 60,
            now_ms: 1_794_326_400_000,
            modified_span_ms: 86_400_000,
            first_order_no: 1_692_000_000_000_000_000,
        })
    }

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn search_list_pages_newest_updated_first_with_inclusive_bounds() {
        let s = shop();
        let newest = s.orders.iter().map(|o| o.updated_ms / 1000).max().unwrap();
        let oldest = s.orders.iter().map(|o| o.updated_ms / 1000).min().unwrap();
        let all =
            params(json!({"update_time_start": oldest, "update_time_end": newest.to_string(), "page": 0, "size": 100}));
        let v = search_list(&s, &[], &Params(&all)).unwrap();
        assert_eq!(v["total"], 60);
        let times: Vec<i64> =
            v["shop_order_list"].as_array().unwrap().iter().map(|o| o["update_time"].as_i64().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]));
        let p1 = params(json!({"update_time_start": oldest, "update_time_end": newest, "page": 1, "size": 25}));
        let v1 = search_list(&s, &[], &Params(&p1)).unwrap();
        assert_eq!(v1["shop_order_list"].as_array().unwrap().len(), 25);
        assert_eq!(v1["shop_order_list"][0]["order_id"], v["shop_order_list"][25]["order_id"]);
        let one = params(json!({"update_time_start": newest, "update_time_end": newest, "size": 10}));
        assert!(search_list(&s, &[], &Params(&one)).unwrap()["total"].as_u64().unwrap() >= 1);
        for bad in [json!({"size": 101}), json!({"size": 0}), json!({"size": "x"}), json!({"size": 5, "page": -1})] {
            assert_eq!(search_list(&s, &[], &Params(&params(bad))).unwrap_err().code, 40004);
        }
    }

    #[test]
    fn detail_finds_by_string_id() {
        let s = shop();
        let id = s.orders[3].order_no.to_string();
        let v = order_detail(&s, &[], &Params(&params(json!({"shop_order_id": id})))).unwrap();
        assert_eq!(v["shop_order_detail"]["order_id"], id);
        assert_eq!(order_detail(&s, &[], &Params(&params(json!({"shop_order_id": "1"})))).unwrap_err().code, 50002);
    }

    #[test]
    fn sync_stock_is_idempotent() {
        let mut s = shop();
        let mut applied = HashSet::new();
        let outer = s.skus[0].outer_sku_id.clone();
        let p = params(json!({"out_sku_id": outer, "stock_num": 7, "incremental": false, "idempotent_id": "a"}));
        sync_stock(&mut s, &mut applied, &Params(&p)).unwrap();
        assert_eq!(s.skus[0].stock, 7);
        let again = params(json!({"out_sku_id": outer, "stock_num": 9, "idempotent_id": "a"}));
        let e = sync_stock(&mut s, &mut applied, &Params(&again)).unwrap_err();
        assert_eq!(e.sub_code, "isv.idempotent-id-existed");
        assert_eq!(s.skus[0].stock, 7);
        let by_id = params(json!({"sku_id": s.skus[1].sku_no, "stock_num": 2, "incremental": true}));
        let before = s.skus[1].stock;
        sync_stock(&mut s, &mut applied, &Params(&by_id)).unwrap();
        assert_eq!(s.skus[1].stock, before + 2);
        let wrong_product = params(json!({"sku_id": s.skus[0].sku_no, "product_id": "1", "stock_num": 1}));
        assert_eq!(sync_stock(&mut s, &mut applied, &Params(&wrong_product)).unwrap_err().code, 50002);
    }

    #[test]
    fn logistics_ships_paid_orders_only() {
        let mut s = shop();
        let paid = s.orders.iter().find(|o| o.stage == Stage::Paid).unwrap().order_no;
        let unpaid = s.orders.iter().find(|o| o.stage == Stage::Unpaid).unwrap().order_no;
        let p = params(json!({"order_id": paid.to_string(), "company_code": "zhongtong", "logistics_code": "ZT1"}));
        logistics_add(&mut s, &Params(&p), 1_794_326_500_000).unwrap();
        let o = s.orders.iter().find(|o| o.order_no == paid).unwrap();
        assert_eq!((o.stage, o.shipment.clone()), (Stage::Shipped, Some(("zhongtong".into(), "ZT1".into()))));
        assert_eq!(o.updated_ms, 1_794_326_500_000);
        assert_eq!(logistics_add(&mut s, &Params(&p), 1_794_326_500_000).unwrap_err().code, 50002);
        let q = params(json!({"order_id": unpaid.to_string(), "company_code": "zhongtong", "logistics_code": "ZT2"}));
        assert_eq!(logistics_add(&mut s, &Params(&q), 0).unwrap_err().code, 50002);
        let r = params(json!({"order_id": paid.to_string(), "company_code": "nope", "logistics_code": "ZT3"}));
        assert_eq!(logistics_add(&mut s, &Params(&r), 0).unwrap_err().code, 40004);
    }

    #[test]
    fn invoice_upload_needs_a_known_order_and_a_url() {
        let s = shop();
        let mut got = Vec::new();
        let id = s.orders[0].order_no.to_string();
        let ok = params(json!({"order_id": id, "upload_file": "https://erp.example/i.pdf"}));
        assert_eq!(invoice_upload(&s, &mut got, &Params(&ok), 7).unwrap(), json!({}));
        assert_eq!(
            (got[0].order_id.as_str(), got[0].file_url.as_deref()),
            (id.as_str(), Some("https://erp.example/i.pdf"))
        );
        for bad in [
            json!({"order_id": "1", "upload_file": "https://erp.example/i.pdf"}),
            json!({"order_id": id, "upload_file": "i.pdf"}),
            json!({"order_id": id}),
        ] {
            assert!(invoice_upload(&s, &mut got, &Params(&params(bad.clone())), 7).is_err(), "{bad}");
        }
        assert_eq!(got.len(), 1);
    }
}

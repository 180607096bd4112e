//! Pushes through the bridge: stock, prices, listing and shipments, one bridge write per item
//! (the SDK's [`batch::each`]: a refused token or throttling stops the batch).
//!
//! ECShop addresses goods by the merchant's codes: a product (货品) by `product_sn`, a goods
//! without products by `goods_sn`; the bridge looks a code up in that order. Stock belongs to
//! products where a goods has them; price and the on-sale flag belong to goods (a product's
//! price is the goods' plus attribute prices), so the bridge refuses those for a product code
//! with its own 409, which comes back as that item's `platform` error.

use serde_json::{Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::batch;
use wharf_sdk::json::Node;
use wharf_sdk::money;
use wharf_sdk::price;
use wharf_sdk::types::{ConnectorError, ItemResult, ListingChange, Logistics, PriceUpdate, PushAck, StockUpdate};

use crate::mapping::CURRENCY;

pub const STOCK: &str = "stock";
pub const PRICE: &str = "price";
pub const LISTING: &str = "listing";
pub const SHIP: &str = "ship";

/// `ecs_goods.goods_number` and `ecs_products.product_number` are smallint(5) unsigned.
pub const MAX_STOCK: u32 = 65_535;
/// `shop_price` is decimal(10,2): below a hundred million yuan.
pub const MAX_PRICE_FEN: i64 = 9_999_999_999;
/// Column widths the bridge enforces too (`goods_sn` varchar(60), `invoice_no` varchar(255),
/// `shipping_name` varchar(120)); checked here so a bad item costs no request.
pub(crate) const MAX_SN_CHARS: usize = 60;
const MAX_INVOICE_NO_CHARS: usize = 255;
const MAX_SHIPPING_NAME_CHARS: usize = 120;

/// A text field that must be present and fit its column.
pub(crate) fn text<'a>(field: &str, value: &'a str, max_chars: usize, what: &str) -> Result<&'a str, ConnectorError> {
    let count = value.chars().count();
    if value.trim().is_empty() || count > max_chars {
        return Err(ConnectorError::invalid_input(
            field,
            format!("expected {what} of 1 to {max_chars} characters, got {value:?}"),
        ));
    }
    Ok(value)
}

/// The platform reference of a stock or price answer: the product's id, else the goods'.
pub(crate) fn goods_ref(action: &str, answer: &Value) -> Result<PushAck, ConnectorError> {
    let node = Node::root(answer, action);
    let product = node.opt_id("product_id")?;
    Ok(PushAck {
        platform_ref: match product {
            Some(p) => Some(p),
            None => node.opt_id("goods_id")?,
        },
    })
}

/// The bridge body of one stock update.
pub fn stock_body(update: &StockUpdate) -> Result<Value, ConnectorError> {
    let sn = text("outer_sku_id", &update.outer_sku_id, MAX_SN_CHARS, "the merchant code (goods_sn or product_sn)")?;
    if update.quantity > MAX_STOCK {
        return Err(ConnectorError::invalid_input(
            "quantity",
            format!("expected at most {MAX_STOCK} (ECShop keeps stock in a smallint), got {}", update.quantity),
        ));
    }
    Ok(json!({"sn": sn, "quantity": update.quantity}))
}

/// The bridge body of one price update: the default price as the goods' shop_price.
pub fn price_body(update: &PriceUpdate) -> Result<Value, ConnectorError> {
    let sn = text("outer_sku_id", &update.outer_sku_id, MAX_SN_CHARS, "the merchant code (goods_sn)")?;
    let amount = price::single_default(update, CURRENCY)?;
    if amount > MAX_PRICE_FEN {
        return Err(ConnectorError::invalid_input(
            "prices",
            format!("expected at most {MAX_PRICE_FEN} fen (decimal(10,2)), got {amount}"),
        ));
    }
    Ok(json!({"sn": sn, "shop_price": money::format_yuan(amount)}))
}

/// The bridge body of one listing change: by `product_id` (ECShop's goods_id) when given,
/// else by the merchant code.
pub fn listing_body(change: &ListingChange) -> Result<Value, ConnectorError> {
    if let Some(id) = change.product_id.as_deref().filter(|id| !id.is_empty()) {
        let goods_id: u32 = id.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            ConnectorError::invalid_input(
                "product_id",
                format!("expected an ECShop goods_id (a positive integer), got {id:?}"),
            )
        })?;
        return Ok(json!({"goods_id": goods_id, "on_sale": change.listed}));
    }
    match change.outer_sku_id.as_deref() {
        Some(sn) => Ok(
            json!({"sn": text("outer_sku_id", sn, MAX_SN_CHARS, "the goods' merchant code (goods_sn)")?, "on_sale": change.listed}),
        ),
        None => Err(ConnectorError::invalid_input(
            "product_id",
            "expected the goods_id or an outer_sku_id (goods_sn), got neither",
        )),
    }
}

/// The bridge body of one shipment: the waybill goes into ECShop's `invoice_no`, the carrier
/// into `shipping_name` (ECShop names carriers, it has no codes: the tenant's carrier table
/// maps the ERP's codes to the shop's names).
pub fn ship_body(update: &Logistics) -> Result<Value, ConnectorError> {
    Ok(json!({
        "order_sn": text("order_id", &update.order_id, 20, "an ECShop order_sn")?,
        "invoice_no": text("tracking_no", &update.tracking_no, MAX_INVOICE_NO_CHARS, "a waybill number")?,
        "shipping_name": text("carrier_code", &update.carrier_code, MAX_SHIPPING_NAME_CHARS, "the carrier's name in the shop (e.g. \"顺丰速运\")")?,
    }))
}

pub fn push_stock(api: &mut impl Api, updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| goods_ref(STOCK, &api.call(STOCK, &stock_body(&update)?)?))
}

pub fn push_prices(api: &mut impl Api, updates: Vec<PriceUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| goods_ref(PRICE, &api.call(PRICE, &price_body(&update)?)?))
}

pub fn push_listing(api: &mut impl Api, changes: Vec<ListingChange>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(changes, |change| goods_ref(LISTING, &api.call(LISTING, &listing_body(&change)?)?))
}

pub fn push_logistics(api: &mut impl Api, updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        let answer = api.call(SHIP, &ship_body(&update)?)?;
        let order = Node::root(&answer, SHIP).required("order")?;
        let shipped = order.i64("shipping_status")?;
        // 1 shipped; 2 received (a repeat of the waybill the buyer already signed for).
        if !matches!(shipped, 1 | 2) {
            return Err(ConnectorError::platform(
                "shipping_status",
                format!("the bridge answered shipping_status {shipped} for order {}", update.order_id),
            ));
        }
        Ok(PushAck { platform_ref: order.opt_str("invoice_no")? })
    })
}

/// The field an item's `invalid_input` names; `None` for any other result (for the pushes'
/// tests).
#[cfg(test)]
pub(crate) fn invalid_field(result: &ItemResult) -> Option<&str> {
    let Err(ConnectorError::InvalidInput(wharf_sdk::types::FieldError { field, .. })) = result else {
        return None;
    };
    Some(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::types::{Price, PriceKind};

    fn stock(outer: &str, quantity: u32) -> StockUpdate {
        StockUpdate {
            outer_sku_id: outer.into(),
            product_id: None,
            sku_id: None,
            quantity,
            warehouse: None,
            version: 1,
        }
    }

    #[test]
    fn stock_by_merchant_code() {
        let mut api = Scripted::answering(vec![
            Ok(json!({"sn": "SKU-1", "goods_id": 101, "product_id": 7, "quantity": 5, "goods_number": 9})),
            Ok(json!({"sn": "SKU-2", "goods_id": 102, "product_id": null, "quantity": 0, "goods_number": 0})),
            Err(ConnectorError::platform("has_products", "send their product_sn")),
        ]);
        let results = push_stock(
            &mut api,
            vec![stock("SKU-1", 5), stock("SKU-2", 0), stock(" ", 1), stock("SKU-3", 70_000), stock("SPU-1", 1)],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("7"));
        assert_eq!(results[1].as_ref().unwrap().platform_ref.as_deref(), Some("102"));
        assert_eq!(invalid_field(&results[2]), Some("outer_sku_id"));
        assert_eq!(invalid_field(&results[3]), Some("quantity"));
        assert!(matches!(&results[4], Err(ConnectorError::Platform(p)) if p.code == "has_products"));
        assert_eq!(api.methods(), ["stock", "stock", "stock"]);
        assert_eq!(api.calls[0].1, json!({"sn": "SKU-1", "quantity": 5}));
    }

    #[test]
    fn refused_tokens_and_throttling_stop_the_batch() {
        let mut api = Scripted::answering(vec![Err(ConnectorError::rate_limited(7_000, "HTTP 429"))]);
        assert!(matches!(
            push_stock(&mut api, vec![stock("A", 1), stock("B", 1)]),
            Err(ConnectorError::RateLimited(_))
        ));
        assert_eq!(api.calls.len(), 1);
        let mut api = Scripted::answering(vec![Err(ConnectorError::auth("wrong token"))]);
        assert!(matches!(push_stock(&mut api, vec![stock("A", 1)]), Err(ConnectorError::Auth(_))));
    }

    #[test]
    fn prices_send_the_default_as_shop_price() {
        let update = |prices: Vec<Price>| PriceUpdate {
            outer_sku_id: "SKU-1".into(),
            product_id: None,
            sku_id: None,
            currency: "CNY".into(),
            prices,
        };
        let default = |amount| Price { kind: PriceKind::Default, amount };
        let answer = || Ok(json!({"sn": "SKU-1", "goods_id": 101, "shop_price": "19.90"}));
        let mut api = Scripted::answering(vec![answer(), answer()]);
        let results = push_prices(
            &mut api,
            vec![
                update(vec![default(1990)]),
                update(vec![default(1990), Price { kind: PriceKind::RegionGroup("south".into()), amount: 1 }]),
                update(vec![default(MAX_PRICE_FEN + 1)]),
            ],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("101"));
        assert!(results[1].is_ok(), "a region price the shop does not keep is left out: {:?}", results[1]);
        assert_eq!(invalid_field(&results[2]), Some("prices"));
        assert_eq!(api.calls.len(), 2);
        assert_eq!(api.calls[0].1, json!({"sn": "SKU-1", "shop_price": "19.90"}));
    }

    #[test]
    fn listing_by_goods_id_or_code() {
        let mut api = Scripted::answering(vec![
            Ok(json!({"goods_id": 101, "goods_sn": "SPU-1", "is_on_sale": false})),
            Ok(json!({"goods_id": 102, "goods_sn": "SKU-2", "is_on_sale": true})),
        ]);
        let change = |outer: Option<&str>, product: Option<&str>, listed| ListingChange {
            outer_sku_id: outer.map(Into::into),
            product_id: product.map(Into::into),
            listed,
        };
        let results = push_listing(
            &mut api,
            vec![
                change(Some("ignored"), Some("101"), false),
                change(Some("SKU-2"), None, true),
                change(None, Some("x1"), true),
                change(None, None, true),
            ],
        )
        .unwrap();
        assert_eq!(api.calls[0].1, json!({"goods_id": 101, "on_sale": false}));
        assert_eq!(api.calls[1].1, json!({"sn": "SKU-2", "on_sale": true}));
        assert_eq!(results[1].as_ref().unwrap().platform_ref.as_deref(), Some("102"));
        assert_eq!(invalid_field(&results[2]), Some("product_id"));
        assert_eq!(invalid_field(&results[3]), Some("product_id"));
    }

    #[test]
    fn shipments() {
        let shipped = |status: i64| {
            Ok(
                json!({"order": {"order_sn": "2026112401234", "shipping_status": status, "invoice_no": "SF1"}, "changed": true}),
            )
        };
        let mut api = Scripted::answering(vec![shipped(1), shipped(0), Ok(json!({"changed": true}))]);
        let send = |order_id: &str, tracking_no: &str, carrier: &str| Logistics {
            order_id: order_id.into(),
            carrier_code: carrier.into(),
            tracking_no: tracking_no.into(),
            shipped_at: 0,
        };
        let results = push_logistics(
            &mut api,
            vec![
                send("2026112401234", "SF1", "顺丰速运"),
                send("2", "X", "申通快递"),
                send("3", "Y", "申通快递"),
                send("", "Z", "申通快递"),
                send("4", "W", ""),
                send("123456789012345678901", "V", "申通快递"),
            ],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("SF1"));
        assert_eq!(
            api.calls[0].1,
            json!({"order_sn": "2026112401234", "invoice_no": "SF1", "shipping_name": "顺丰速运"})
        );
        assert!(matches!(&results[1], Err(ConnectorError::Platform(p)) if p.code == "shipping_status"));
        assert_eq!(invalid_field(&results[2]), Some("ship.order"));
        assert_eq!(invalid_field(&results[3]), Some("order_id"));
        assert_eq!(invalid_field(&results[4]), Some("carrier_code"));
        assert_eq!(invalid_field(&results[5]), Some("order_id"));
        assert_eq!(api.calls.len(), 3);
    }
}

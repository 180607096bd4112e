//! Pushes to Taobao: stock, prices, listing and logistics, one TOP call (or two) per item.
//!
//! Each item gets its own result. An auth failure or throttling stops the batch and becomes
//! the call's error: every later item would fail the same way. When the host retries the
//! batch, stock, price and listing pushes set absolute values, so repeating the ones that went
//! through is harmless; a repeated logistics upload comes back as Taobao's own per-item error
//! for an order already shipped.

use serde_json::Value;
use wharf_sdk::json::Node;
use wharf_sdk::money;
use wharf_sdk::types::{ConnectorError, ItemResult, ListingChange, Logistics, PriceUpdate, PushAck, StockUpdate};

use wharf_sdk::api::{Api, text_params};
use wharf_sdk::batch;
use wharf_sdk::price;

use crate::top;

pub const QUANTITY_UPDATE: &str = "taobao.item.quantity.update";
pub const SKU_PRICE_UPDATE: &str = "taobao.item.sku.price.update";
pub const ITEM_SELLER_GET: &str = "taobao.item.seller.get";
pub const UPDATE_LISTING: &str = "taobao.item.update.listing";
pub const UPDATE_DELISTING: &str = "taobao.item.update.delisting";
pub const OFFLINE_SEND: &str = "taobao.logistics.offline.send";

/// `taobao.item.quantity.update` `type`: 1 sets the quantity (2 would add to it).
const QUANTITY_TYPE_FULL: &str = "1";
/// Taobao prices are yuan; other currencies cannot be pushed.
const CURRENCY: &str = "CNY";

/// The `num_iid` a push needs: the canonical `product_id`, a decimal id.
fn num_iid(product_id: Option<&str>) -> Result<String, ConnectorError> {
    match product_id {
        Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => Ok(id.to_owned()),
        Some(id) => Err(ConnectorError::invalid_input(
            "product_id",
            format!("expected a Taobao num_iid (decimal digits), got {id:?}"),
        )),
        None => Err(ConnectorError::invalid_input(
            "product_id",
            "expected the Taobao num_iid (Taobao addresses items by it), got none",
        )),
    }
}

fn required_text(field: &str, value: &str, what: &str) -> Result<(), ConnectorError> {
    if value.trim().is_empty() {
        return Err(ConnectorError::invalid_input(field, format!("expected {what}, got an empty string")));
    }
    Ok(())
}

/// The object `key` inside a success envelope, as a node named by its full path.
fn envelope_object<'a>(method: &str, response: &'a Value, key: &str) -> Result<Node<'a>, ConnectorError> {
    Ok(Node::root(response, top::response_key(method)).required(key)?)
}

/// Params of `taobao.item.quantity.update` for one stock update.
pub fn stock_params(update: &StockUpdate) -> Result<Vec<(&'static str, String)>, ConnectorError> {
    let mut params = vec![("num_iid", num_iid(update.product_id.as_deref())?)];
    match update.sku_id.as_deref().filter(|s| !s.is_empty()) {
        Some(sku_id) => params.push(("sku_id", sku_id.to_owned())),
        None => {
            required_text("outer_sku_id", &update.outer_sku_id, "a merchant SKU code when sku_id is absent")?;
            params.push(("outer_id", update.outer_sku_id.clone()));
        }
    }
    params.push(("quantity", update.quantity.to_string()));
    params.push(("type", QUANTITY_TYPE_FULL.to_owned()));
    Ok(params)
}

/// Params of `taobao.item.sku.price.update` for one price update: only the default price, in
/// yuan with two decimals.
pub fn price_params(update: &PriceUpdate) -> Result<Vec<(&'static str, String)>, ConnectorError> {
    let num_iid = num_iid(update.product_id.as_deref())?;
    let amount = price::single_default(update, CURRENCY)?;
    required_text("outer_sku_id", &update.outer_sku_id, "the merchant SKU code Taobao matches the SKU by")?;
    Ok(vec![("num_iid", num_iid), ("outer_id", update.outer_sku_id.clone()), ("price", money::format_yuan(amount))])
}

pub fn push_stock(api: &mut impl Api, updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        let params = stock_params(&update)?;
        let response = api.call(QUANTITY_UPDATE, &text_params(&params))?;
        let item = envelope_object(QUANTITY_UPDATE, &response, "item")?;
        Ok(PushAck { platform_ref: item.opt_id("num_iid")? })
    })
}

pub fn push_prices(api: &mut impl Api, updates: Vec<PriceUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        let params = price_params(&update)?;
        let response = api.call(SKU_PRICE_UPDATE, &text_params(&params))?;
        let sku = envelope_object(SKU_PRICE_UPDATE, &response, "sku")?;
        Ok(PushAck { platform_ref: sku.opt_id("sku_id")? })
    })
}

/// Listing puts the item's current stock on sale (`taobao.item.update.listing` wants `num`,
/// read first with `taobao.item.seller.get`); delisting takes it off.
pub fn push_listing(api: &mut impl Api, changes: Vec<ListingChange>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(changes, |change| {
        let num_iid = num_iid(change.product_id.as_deref())?;
        let (method, params) = if change.listed {
            let response =
                api.call(ITEM_SELLER_GET, &text_params(&[("num_iid", num_iid.clone()), ("fields", "num".to_owned())]))?;
            let num = envelope_object(ITEM_SELLER_GET, &response, "item")?.u32("num")?;
            (UPDATE_LISTING, vec![("num_iid", num_iid), ("num", num.to_string())])
        } else {
            (UPDATE_DELISTING, vec![("num_iid", num_iid)])
        };
        let response = api.call(method, &text_params(&params))?;
        Ok(PushAck { platform_ref: envelope_object(method, &response, "item")?.opt_id("num_iid")? })
    })
}

pub fn push_logistics(api: &mut impl Api, updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        if update.order_id.is_empty() || !update.order_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectorError::invalid_input(
                "order_id",
                format!("expected a Taobao tid (decimal digits), got {:?}", update.order_id),
            ));
        }
        required_text("tracking_no", &update.tracking_no, "a waybill number")?;
        required_text("carrier_code", &update.carrier_code, "a Taobao carrier code like \"ZJS\"")?;
        let response = api.call(
            OFFLINE_SEND,
            &text_params(&[
                ("tid", update.order_id.clone()),
                ("out_sid", update.tracking_no.clone()),
                ("company_code", update.carrier_code.clone()),
            ]),
        )?;
        let shipping = envelope_object(OFFLINE_SEND, &response, "shipping")?;
        if shipping.bool("is_success")? {
            Ok(PushAck { platform_ref: None })
        } else {
            Err(ConnectorError::platform(
                "shipping.is_success",
                format!("{OFFLINE_SEND} answered is_success=false for tid {}", update.order_id),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wharf_sdk::api::Scripted;
    use wharf_sdk::types::{FieldError, Price, PriceKind};

    fn stock(product_id: Option<&str>, sku_id: Option<&str>, outer: &str, quantity: u32) -> StockUpdate {
        StockUpdate {
            outer_sku_id: outer.to_owned(),
            product_id: product_id.map(str::to_owned),
            sku_id: sku_id.map(str::to_owned),
            quantity,
            warehouse: None,
            version: 1,
        }
    }

    fn invalid_field(result: &ItemResult) -> &str {
        match result {
            Err(ConnectorError::InvalidInput(FieldError { field, .. })) => field,
            other => panic!("expected invalid_input, got {other:?}"),
        }
    }

    #[test]
    fn stock_by_sku_or_outer_id() {
        let mut api = Scripted::answering(vec![
            Ok(json!({"item": {"num_iid": 612345678901u64, "num": 5}})),
            Ok(json!({"item": {"num_iid": 612345678902u64, "num": 0}})),
        ]);
        let results = push_stock(
            &mut api,
            vec![
                stock(Some("612345678901"), Some("4567"), "FG-1", 5),
                stock(None, None, "FG-2", 1),
                stock(Some("612345678902"), None, "FG-3", 0),
            ],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("612345678901"));
        assert_eq!(invalid_field(&results[1]), "product_id");
        assert!(results[2].is_ok());
        assert_eq!(api.methods(), [QUANTITY_UPDATE, QUANTITY_UPDATE]);
        assert_eq!(api.param(0, "sku_id").as_deref(), Some("4567"));
        assert_eq!(api.param(0, "outer_id").as_deref(), None);
        assert_eq!(api.param(0, "quantity").as_deref(), Some("5"));
        assert_eq!(api.param(0, "type").as_deref(), Some("1"));
        assert_eq!(api.param(1, "outer_id").as_deref(), Some("FG-3"));
        assert_eq!(api.param(1, "sku_id").as_deref(), None);
        assert_eq!(api.param(1, "num_iid").as_deref(), Some("612345678902"));
    }

    #[test]
    fn whole_call_errors_stop_the_batch_but_item_errors_do_not() {
        let mut api = Scripted::answering(vec![
            Err(ConnectorError::platform("15", "isv.item-not-exist")),
            Err(ConnectorError::rate_limited(12_000, "ban")),
        ]);
        let result = push_stock(
            &mut api,
            vec![stock(Some("1"), None, "A", 1), stock(Some("2"), None, "B", 1), stock(Some("3"), None, "C", 1)],
        );
        assert!(matches!(result, Err(ConnectorError::RateLimited(_))));
        assert_eq!(api.calls.len(), 2);
    }

    fn price_update(prices: Vec<Price>) -> PriceUpdate {
        PriceUpdate {
            outer_sku_id: "FG-1".into(),
            product_id: Some("612345678901".into()),
            sku_id: None,
            currency: "CNY".into(),
            prices,
        }
    }

    #[test]
    fn prices_only_default_kind() {
        let default = |amount| Price { kind: PriceKind::Default, amount };
        let answer = || Ok(json!({"sku": {"sku_id": 4567, "price": "19.90"}}));
        let mut api = Scripted::answering(vec![answer(), answer()]);
        let results = push_prices(
            &mut api,
            vec![
                price_update(vec![default(1990)]),
                price_update(vec![default(1990), Price { kind: PriceKind::RegionGroup("south".into()), amount: 1 }]),
                price_update(vec![]),
                price_update(vec![default(-1)]),
                PriceUpdate { currency: "USD".into(), ..price_update(vec![default(1)]) },
                PriceUpdate { product_id: None, ..price_update(vec![default(1)]) },
            ],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("4567"));
        assert!(results[1].is_ok(), "a region price Taobao does not keep is left out");
        assert_eq!(invalid_field(&results[2]), "prices");
        assert_eq!(invalid_field(&results[3]), "prices[0].amount");
        assert_eq!(invalid_field(&results[4]), "currency");
        assert_eq!(invalid_field(&results[5]), "product_id");
        assert_eq!(api.calls.len(), 2);
        assert_eq!(api.param(0, "price").as_deref(), Some("19.90"));
        assert_eq!(api.param(0, "outer_id").as_deref(), Some("FG-1"));
        assert_eq!(api.param(0, "num_iid").as_deref(), Some("612345678901"));
    }

    #[test]
    fn listing_reads_stock_then_lists_and_delisting_is_one_call() {
        let mut api = Scripted::answering(vec![
            Ok(json!({"item": {"num_iid": 11223344, "num": 7}})),
            Ok(json!({"item": {"num_iid": 11223344, "modified": "2026-11-11 00:00:00"}})),
            Ok(json!({"item": {"num_iid": 11223345, "modified": "2026-11-11 00:00:00"}})),
        ]);
        let change = |id: &str, listed| ListingChange { outer_sku_id: None, product_id: Some(id.into()), listed };
        let results = push_listing(
            &mut api,
            vec![
                change("11223344", true),
                change("11223345", false),
                ListingChange { outer_sku_id: Some("FG".into()), product_id: None, listed: true },
            ],
        )
        .unwrap();
        assert_eq!(api.methods(), [ITEM_SELLER_GET, UPDATE_LISTING, UPDATE_DELISTING]);
        assert_eq!(api.param(0, "fields").as_deref(), Some("num"));
        assert_eq!(api.param(1, "num").as_deref(), Some("7"));
        assert_eq!(api.param(2, "num_iid").as_deref(), Some("11223345"));
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("11223344"));
        assert!(results[1].is_ok());
        assert_eq!(invalid_field(&results[2]), "product_id");
    }

    #[test]
    fn logistics() {
        let mut api = Scripted::answering(vec![
            Ok(json!({"shipping": {"is_success": true}})),
            Ok(json!({"shipping": {"is_success": false}})),
            Ok(json!({})),
        ]);
        let send = |order_id: &str, tracking_no: &str| Logistics {
            order_id: order_id.into(),
            carrier_code: "ZJS".into(),
            tracking_no: tracking_no.into(),
            shipped_at: 0,
        };
        let results = push_logistics(
            &mut api,
            vec![
                send("3912345678901234567", "ZJS000111"),
                send("2", "X"),
                send("3", "Y"),
                send("x", "Z"),
                send("4", ""),
            ],
        )
        .unwrap();
        assert!(results[0].is_ok());
        assert_eq!(api.param(0, "tid").as_deref(), Some("3912345678901234567"));
        assert_eq!(api.param(0, "out_sid").as_deref(), Some("ZJS000111"));
        assert_eq!(api.param(0, "company_code").as_deref(), Some("ZJS"));
        assert!(matches!(&results[1], Err(ConnectorError::Platform(p)) if p.code == "shipping.is_success"));
        assert_eq!(invalid_field(&results[2]), "logistics_offline_send_response.shipping");
        assert_eq!(invalid_field(&results[3]), "order_id");
        assert_eq!(invalid_field(&results[4]), "tracking_no");
        assert_eq!(api.calls.len(), 3);
    }
}

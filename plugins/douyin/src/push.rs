//! Pushes to 抖店: stock (`sku.syncStock`) and logistics (`order.logisticsAdd`), one call per
//! item (the SDK's [`batch::each`]: auth failures and throttling stop the batch).
//!
//! A stock push sets the SKU's stock (`incremental` false) and carries an `idempotent_id`
//! derived from the update itself ([`idempotent_id`]), so when the host retries a batch 抖店
//! refuses the items already applied (`isv.idempotent-id-existed`), which
//! [`crate::openapi::parse_envelope`] answers as the success it was. A repeated logistics
//! upload gets 抖店's own per-item error for an order already shipped.

use serde_json::{Map, Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::batch;
use wharf_sdk::types::{ConnectorError, ItemResult, Logistics, PushAck, StockUpdate};

pub const SYNC_STOCK: &str = "sku.syncStock";
pub const LOGISTICS_ADD: &str = "order.logisticsAdd";

/// 抖店 ids (`product_id`, `sku_id`) are integers; they go into `param_json` as numbers.
fn numeric_id(field: &str, value: &str) -> Result<Value, ConnectorError> {
    value.parse::<u64>().map(Value::from).map_err(|_| {
        ConnectorError::invalid_input(field, format!("expected a 抖店 id (decimal digits), got {value:?}"))
    })
}

fn non_empty(field: &str, value: &str, what: &str) -> Result<(), ConnectorError> {
    if value.trim().is_empty() {
        return Err(ConnectorError::invalid_input(field, format!("expected {what}, got an empty string")));
    }
    Ok(())
}

/// The `idempotent_id` of a stock update: the merchant SKU code, the warehouse when given,
/// and the update's version. A retry of the same update carries the same id; a newer version
/// a new one.
pub fn idempotent_id(update: &StockUpdate) -> String {
    match update.warehouse.as_deref().filter(|w| !w.is_empty()) {
        Some(warehouse) => format!("wharf:{}:{warehouse}:{}", update.outer_sku_id, update.version),
        None => format!("wharf:{}:{}", update.outer_sku_id, update.version),
    }
}

/// `sku.syncStock` params of one update: the SKU by `sku_id` when known, else by
/// `out_sku_id`; the product when known.
pub fn stock_params(update: &StockUpdate) -> Result<Value, ConnectorError> {
    non_empty("outer_sku_id", &update.outer_sku_id, "the merchant SKU code")?;
    let mut params = Map::new();
    match update.sku_id.as_deref().filter(|s| !s.is_empty()) {
        Some(sku_id) => params.insert("sku_id".into(), numeric_id("sku_id", sku_id)?),
        None => params.insert("out_sku_id".into(), Value::from(update.outer_sku_id.clone())),
    };
    if let Some(product_id) = update.product_id.as_deref().filter(|s| !s.is_empty()) {
        params.insert("product_id".into(), numeric_id("product_id", product_id)?);
    }
    if let Some(warehouse) = update.warehouse.as_deref().filter(|w| !w.is_empty()) {
        params.insert("out_warehouse_id".into(), Value::from(warehouse));
    }
    params.insert("stock_num".into(), Value::from(update.quantity));
    params.insert("incremental".into(), Value::Bool(false));
    params.insert("idempotent_id".into(), Value::from(idempotent_id(update)));
    Ok(Value::Object(params))
}

/// `order.logisticsAdd` params of one upload.
pub fn logistics_params(update: &Logistics) -> Result<Value, ConnectorError> {
    if update.order_id.is_empty() || !update.order_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(
            "order_id",
            format!("expected a 抖店 order id (decimal digits), got {:?}", update.order_id),
        ));
    }
    non_empty("carrier_code", &update.carrier_code, "a 抖店 logistics company code like \"zhongtong\"")?;
    non_empty("tracking_no", &update.tracking_no, "the waybill number")?;
    Ok(json!({"order_id": update.order_id, "company_code": update.carrier_code, "logistics_code": update.tracking_no}))
}

pub fn push_stock(api: &mut impl Api, updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        api.call(SYNC_STOCK, &stock_params(&update)?)?;
        Ok(PushAck { platform_ref: None })
    })
}

/// The order id is the acknowledgement: 抖店 answers `logisticsAdd` with no data of note.
pub fn push_logistics(api: &mut impl Api, updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        api.call(LOGISTICS_ADD, &logistics_params(&update)?)?;
        Ok(PushAck { platform_ref: Some(update.order_id) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;

    fn stock(outer: &str, sku_id: Option<&str>, product_id: Option<&str>, version: u64) -> StockUpdate {
        StockUpdate {
            outer_sku_id: outer.into(),
            product_id: product_id.map(Into::into),
            sku_id: sku_id.map(Into::into),
            quantity: 12,
            warehouse: None,
            version,
        }
    }

    fn invalid_field(r: &ItemResult) -> &str {
        match r {
            Err(ConnectorError::InvalidInput(f)) => &f.field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stock_by_sku_id_or_merchant_code_with_a_stable_idempotent_id() {
        let mut api = Scripted::answering(vec![Ok(json!({})), Ok(json!({}))]);
        let results = push_stock(
            &mut api,
            vec![
                stock("SKU-1", Some("1768123456789"), Some("3556789012345678901"), 7),
                stock("SKU-2", None, None, 8),
                stock("SKU-3", Some("x1"), None, 9),
                stock("", None, None, 1),
            ],
        )
        .unwrap();
        assert!(results[0].is_ok() && results[1].is_ok());
        assert_eq!((invalid_field(&results[2]), invalid_field(&results[3])), ("sku_id", "outer_sku_id"));
        assert_eq!(api.methods(), [SYNC_STOCK, SYNC_STOCK]);
        assert_eq!(
            api.calls[0].1,
            json!({"sku_id": 1768123456789u64, "product_id": 3556789012345678901u64, "stock_num": 12, "incremental": false, "idempotent_id": "wharf:SKU-1:7"})
        );
        assert_eq!(api.calls[1].1["out_sku_id"], "SKU-2");
        assert!(api.calls[1].1.get("sku_id").is_none() && api.calls[1].1.get("product_id").is_none());
        let mut in_warehouse = stock("SKU-1", None, None, 7);
        in_warehouse.warehouse = Some("WH-1".into());
        assert_eq!(idempotent_id(&in_warehouse), "wharf:SKU-1:WH-1:7");
        assert_eq!(stock_params(&in_warehouse).unwrap()["out_warehouse_id"], "WH-1");
        assert_eq!(
            idempotent_id(&stock("SKU-1", Some("1"), None, 7)),
            "wharf:SKU-1:7",
            "the id does not depend on how the SKU is addressed"
        );
    }

    #[test]
    fn whole_call_errors_stop_the_batch_and_item_errors_do_not() {
        let mut api = Scripted::answering(vec![
            Err(ConnectorError::platform("50002", "规格不存在")),
            Err(ConnectorError::rate_limited(3_000, "限流")),
        ]);
        let e =
            push_stock(&mut api, vec![stock("A", None, None, 1), stock("B", None, None, 1), stock("C", None, None, 1)])
                .unwrap_err();
        assert!(matches!(e, ConnectorError::RateLimited(_)));
        assert_eq!(api.calls.len(), 2);
    }

    #[test]
    fn logistics() {
        let mut api = Scripted::answering(vec![Ok(json!({}))]);
        let ship = |order_id: &str, carrier: &str| Logistics {
            order_id: order_id.into(),
            carrier_code: carrier.into(),
            tracking_no: "ZT1".into(),
            shipped_at: 0,
        };
        let results = push_logistics(
            &mut api,
            vec![ship("6920001234567890123", "zhongtong"), ship("69x", "zhongtong"), ship("1", " ")],
        )
        .unwrap();
        assert_eq!(results[0].as_ref().unwrap().platform_ref.as_deref(), Some("6920001234567890123"));
        assert_eq!((invalid_field(&results[1]), invalid_field(&results[2])), ("order_id", "carrier_code"));
        assert_eq!(
            api.calls[0].1,
            json!({"order_id": "6920001234567890123", "company_code": "zhongtong", "logistics_code": "ZT1"})
        );
    }
}

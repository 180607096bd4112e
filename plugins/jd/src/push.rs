//! Pushes to JD: stock (`jingdong.stock.write.updateSkuStock`) and logistics
//! (`jingdong.pop.order.shipment`), one JOS call per item.
//!
//! JOS addresses stock by its own `skuId` and has no lookup by merchant code the plugin could
//! rely on, so a stock update must carry `sku_id` (the host knows it from the SKU's order
//! lines or a catalog; the contract says a plugin that needs it and gets none answers
//! `invalid_input`). `warehouse`, when given, is JD's numeric `storeId`. A logistics update's
//! `carrier_code` is JD's numeric `logiCoprId` (顺丰 467, 中通 1499…), which the tenant's
//! carrier table maps the ERP's codes to.
//!
//! Stock sets an absolute number, so repeating a batch is harmless; a repeated shipment comes
//! back as JD's own per-item refusal (the order is no longer waiting for shipment).

use serde_json::{Value, json};
use wharf_sdk::api::Api;
use wharf_sdk::json::Node;
use wharf_sdk::types::{ConnectorError, ItemResult, Logistics, PushAck, StockUpdate};

use crate::jos;
use wharf_sdk::batch;

pub const UPDATE_SKU_STOCK: &str = "jingdong.stock.write.updateSkuStock";
pub const ORDER_SHIPMENT: &str = "jingdong.pop.order.shipment";
/// Where the shipment's result sits inside its `_responce` (the stock write's is flat).
const SHIPMENT_RESULT: &str = "sopjosshipment_result";

/// A JD numeric id in a canonical field: digits that fit `u64` (JOS takes them as JSON
/// numbers).
fn numeric_id(field: &str, value: &str, what: &str) -> Result<u64, ConnectorError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::invalid_input(field, format!("expected {what} (decimal digits), got {value:?}")));
    }
    value
        .parse()
        .map_err(|_| ConnectorError::invalid_input(field, format!("expected {what} that fits 64 bits, got {value:?}")))
}

/// The `360buy_param_json` of one stock update.
pub fn stock_params(update: &StockUpdate) -> Result<Value, ConnectorError> {
    let sku_id = match update.sku_id.as_deref() {
        Some(id) => numeric_id("sku_id", id, "a JD skuId")?,
        None => {
            return Err(ConnectorError::invalid_input(
                "sku_id",
                format!("expected the JD skuId of {:?} (JD sets stock by skuId only), got none", update.outer_sku_id),
            ));
        }
    };
    let mut params = json!({"skuId": sku_id, "stockNum": update.quantity});
    if let Some(warehouse) = update.warehouse.as_deref() {
        params["storeId"] = json!(numeric_id("warehouse", warehouse, "a JD storeId")?);
    }
    Ok(params)
}

/// The `360buy_param_json` of one logistics update.
pub fn shipment_params(update: &Logistics) -> Result<Value, ConnectorError> {
    let order_id = numeric_id("order_id", &update.order_id, "a JD order id")?;
    numeric_id("carrier_code", &update.carrier_code, "a JD logiCoprId from the tenant's carrier table, like \"467\"")?;
    if update.tracking_no.trim().is_empty() {
        return Err(ConnectorError::invalid_input("tracking_no", "expected a waybill number, got an empty string"));
    }
    Ok(json!({"orderId": order_id, "logiCoprId": update.carrier_code, "logiNo": update.tracking_no}))
}

pub fn push_stock(api: &mut impl Api, updates: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        let params = stock_params(&update)?;
        let response = api.call(UPDATE_SKU_STOCK, &params)?;
        jos::business(Node::root(&response, jos::response_key(UPDATE_SKU_STOCK)))?;
        Ok(PushAck { platform_ref: update.sku_id })
    })
}

pub fn push_logistics(api: &mut impl Api, updates: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
    batch::each(updates, |update| {
        let params = shipment_params(&update)?;
        let response = api.call(ORDER_SHIPMENT, &params)?;
        jos::business(Node::root(&response, jos::response_key(ORDER_SHIPMENT)).required(SHIPMENT_RESULT)?)?;
        Ok(PushAck { platform_ref: None })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_sdk::api::Scripted;

    fn stock(sku_id: Option<&str>, warehouse: Option<&str>) -> StockUpdate {
        StockUpdate {
            outer_sku_id: "SKU-1".into(),
            product_id: None,
            sku_id: sku_id.map(Into::into),
            quantity: 12,
            warehouse: warehouse.map(Into::into),
            version: 3,
        }
    }

    fn logistics(order_id: &str, carrier: &str) -> Logistics {
        Logistics { order_id: order_id.into(), carrier_code: carrier.into(), tracking_no: "SF1".into(), shipped_at: 0 }
    }

    #[test]
    fn stock_goes_by_sku_id_as_numbers() {
        let ok = json!({"code": "0", "success": true});
        let refused = json!({"code": "0", "success": false, "errorCode": "10100002", "chineseErrCode": "SKU不存在"});
        let mut api = Scripted::answering(vec![Ok(ok), Ok(refused)]);
        let results = push_stock(
            &mut api,
            vec![
                stock(Some("10000104729"), Some("7")),
                stock(None, None),
                stock(Some("1"), None),
                stock(Some("1"), Some("main")),
            ],
        )
        .unwrap();
        assert_eq!(api.calls[0].1, json!({"skuId": 10000104729u64, "stockNum": 12, "storeId": 7}));
        assert_eq!(results[0], Ok(PushAck { platform_ref: Some("10000104729".into()) }));
        assert!(
            matches!(&results[1], Err(ConnectorError::InvalidInput(f)) if f.field == "sku_id" && f.reason.contains("SKU-1"))
        );
        assert!(matches!(&results[2], Err(ConnectorError::Platform(p)) if p.code == "10100002"));
        assert!(matches!(&results[3], Err(ConnectorError::InvalidInput(f)) if f.field == "warehouse"));
        assert_eq!(api.calls.len(), 2);
    }

    #[test]
    fn logistics_ships_by_order_and_carrier_and_stops_on_whole_call_errors() {
        let ok = json!({"code": "0", "sopjosshipment_result": {"success": true}});
        let refused = json!({"code": "0", "sopjosshipment_result": {"success": false, "errorCode": "10100001", "chineseErrCode": "物流公司不存在"}});
        let mut api = Scripted::answering(vec![Ok(ok), Ok(refused), Err(ConnectorError::auth("JOS error 19"))]);
        let big = "9007199254740993";
        let outcome = push_logistics(
            &mut api,
            vec![
                logistics(big, "467"),
                logistics("1", "9999"),
                logistics("2", "SF"),
                logistics("3", "467"),
                logistics("4", "467"),
            ],
        );
        assert!(matches!(outcome, Err(ConnectorError::Auth(_))), "{outcome:?}");
        assert_eq!(api.calls[0].1, json!({"orderId": 9_007_199_254_740_993u64, "logiCoprId": "467", "logiNo": "SF1"}));
        assert_eq!(api.calls[0].1.to_string(), r#"{"logiCoprId":"467","logiNo":"SF1","orderId":9007199254740993}"#);
        assert_eq!(api.calls.len(), 3, "the bad carrier code never left");

        let mut api = Scripted::answering(vec![]);
        let results = push_logistics(
            &mut api,
            vec![logistics("x1", "467"), Logistics { tracking_no: " ".into(), ..logistics("1", "467") }],
        )
        .unwrap();
        assert!(matches!(&results[0], Err(ConnectorError::InvalidInput(f)) if f.field == "order_id"));
        assert!(matches!(&results[1], Err(ConnectorError::InvalidInput(f)) if f.field == "tracking_no"));
    }
}

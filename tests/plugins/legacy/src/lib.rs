//! A marketplace plugin built against the frozen contract 0.1.0 (`wit/since_v0.1.0`), with the
//! raw bindings, the way a plugin published before 0.2 was built: the tests run it in the same
//! host as 0.2.0 plugins to show old plugins keep loading and their orders keep flowing.
//!
//! Its "platform" is its configuration: `orders` paid orders (`L1`, `L2`, …) of one line
//! each, all updated at `at_ms`. `pull-orders` lists those whose update falls in the window
//! (one page); `get-order` answers one of them.

wit_bindgen::generate!({ path: "../../../wit/since_v0.1.0", world: "marketplace" });

use exports::wharf::connector::marketplace_connector::Guest;
use wharf::connector::config;
use wharf::connector::types::{
    ConfigKey, ConnectorError, CustomerMapping, Descriptor, ErpStatus, FieldError, ItemResult, ListingChange,
    Logistics, LotSync, Operation, Order, OrderLine, OrderPage, OrderStatus, PriceUpdate, Product, RefundStatus, Role,
    ShipmentDetail, StockUpdate, TimeWindow,
};

/// The contract version its bindings come from.
const WIT_VERSION: &str = "0.1.0";
/// Each order's one line: 2 units at 19.90 yuan.
const UNIT_PRICE: i64 = 1_990;
const QUANTITY: u32 = 2;

struct Legacy;

#[cfg(target_arch = "wasm32")]
export!(Legacy);

fn key(name: &str, description: &str) -> ConfigKey {
    ConfigKey { name: name.into(), description: description.into(), secret: false, required: true, default_value: None }
}

fn setting(name: &str) -> Result<i64, ConnectorError> {
    let text = config::get(name).unwrap_or_default();
    text.parse().map_err(|_| {
        ConnectorError::InvalidInput(FieldError {
            field: name.into(),
            reason: format!("expected an integer, got {text:?}"),
        })
    })
}

fn order(n: i64, at_ms: i64) -> Order {
    let order_id = format!("L{n}");
    let total = UNIT_PRICE * i64::from(QUANTITY);
    Order {
        platform: "legacy".into(),
        shop_id: config::shop_id(),
        order_id: order_id.clone(),
        status: OrderStatus::Paid,
        platform_status: "PAID".into(),
        refund_status: RefundStatus::None,
        created_at: at_ms,
        paid_at: Some(at_ms),
        updated_at: at_ms,
        currency: "CNY".into(),
        goods_total: total,
        shipping_fee: 0,
        discount_total: 0,
        paid_total: total,
        buyer_id: None,
        buyer_nick: None,
        buyer_message: None,
        seller_memo: None,
        receiver: None,
        invoice: None,
        erp_customer_code: None,
        lines: vec![OrderLine {
            line_id: format!("{order_id}-1"),
            product_id: None,
            sku_id: None,
            outer_product_id: None,
            outer_sku_id: Some("FG-001".into()),
            title: "Legacy goods".into(),
            sku_properties: None,
            quantity: QUANTITY,
            unit_price: UNIT_PRICE,
            discount: 0,
            line_total: total,
            batch_no: None,
            refund_status: RefundStatus::None,
        }],
    }
}

fn unsupported<T>(operation: &str) -> Result<T, ConnectorError> {
    Err(ConnectorError::Unsupported(operation.into()))
}

impl Guest for Legacy {
    fn describe() -> Descriptor {
        Descriptor {
            name: "legacy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            platform: "legacy".into(),
            role: Role::Marketplace,
            wit_version: WIT_VERSION.into(),
            operations: vec![Operation::PullOrders, Operation::GetOrder],
            http_hosts: Vec::new(),
            config_keys: vec![
                key("orders", "How many orders the shop holds"),
                key("at_ms", "When they were all last updated (UTC ms)"),
            ],
        }
    }

    fn pull_orders(window: TimeWindow, _cursor: Option<String>) -> Result<OrderPage, ConnectorError> {
        let (count, at_ms) = (setting("orders")?, setting("at_ms")?);
        let orders = if window.from <= at_ms && at_ms < window.to {
            (1..=count).map(|n| order(n, at_ms)).collect()
        } else {
            Vec::new()
        };
        Ok(OrderPage { orders, next_cursor: None })
    }

    fn get_order(order_id: String) -> Result<Order, ConnectorError> {
        let (count, at_ms) = (setting("orders")?, setting("at_ms")?);
        match order_id.strip_prefix('L').and_then(|n| n.parse::<i64>().ok()) {
            Some(n) if (1..=count).contains(&n) => Ok(order(n, at_ms)),
            _ => Err(ConnectorError::NotFound(order_id)),
        }
    }

    fn push_stock(_: Vec<StockUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-stock")
    }
    fn push_prices(_: Vec<PriceUpdate>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-prices")
    }
    fn push_lots(_: Vec<LotSync>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-lots")
    }
    fn push_listing(_: Vec<ListingChange>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-listing")
    }
    fn push_products(_: Vec<Product>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-products")
    }
    fn push_customers(_: Vec<CustomerMapping>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-customers")
    }
    fn push_logistics(_: Vec<Logistics>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-logistics")
    }
    fn push_shipments(_: Vec<ShipmentDetail>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-shipments")
    }
    fn push_erp_status(_: Vec<ErpStatus>) -> Result<Vec<ItemResult>, ConnectorError> {
        unsupported("push-erp-status")
    }
}

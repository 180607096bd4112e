//! Modes that answer what the host must refuse at its boundary or keep out of its log: orders
//! with values the store, the API or an ERP could not handle, a flood of log lines, a line that
//! forges others, and a "panic" that is only text on stderr.

use crate::wharf::connector::config;
use crate::wharf::connector::log::{self, Level};
use crate::wharf::connector::types::{ConnectorError, Order, OrderPage, OrderStatus, RefundStatus};

/// 10000-01-01T00:00:00Z in Unix milliseconds: one past what RFC 3339 can write.
pub const YEAR_10000_MS: i64 = 253_402_300_800_000;
/// Lines mode `log-flood` writes in one call.
pub const FLOOD_LINES: usize = 5_000;

/// A sane order of the calling shop; each poison mode spoils one field of it.
fn order(id: &str) -> Order {
    Order {
        platform: "hostile".to_owned(),
        shop_id: config::shop_id(),
        order_id: id.to_owned(),
        status: OrderStatus::Paid,
        platform_status: "PAID".to_owned(),
        refund_status: RefundStatus::None,
        created_at: 1_794_355_200_000,
        paid_at: None,
        updated_at: 1_794_355_200_000,
        currency: "CNY".to_owned(),
        goods_total: 100,
        shipping_fee: 0,
        discount_total: 0,
        paid_total: 100,
        buyer_id: None,
        buyer_nick: None,
        buyer_message: None,
        seller_memo: None,
        receiver: None,
        invoice: None,
        erp_customer_code: None,
        lines: Vec::new(),
    }
}

fn page(orders: Vec<Order>) -> Result<OrderPage, ConnectorError> {
    Ok(OrderPage { orders, next_cursor: None })
}

/// Mode `poison-instant`: an order updated in year 10000.
pub fn instant() -> Result<OrderPage, ConnectorError> {
    page(vec![order("1"), Order { updated_at: YEAR_10000_MS, ..order("2") }])
}

/// Mode `poison-id`: a NUL inside an order id.
pub fn nul_id() -> Result<OrderPage, ConnectorError> {
    page(vec![order("1"), order("2\u{0}3")])
}

/// Mode `poison-money`: a paid total of `i64::MIN`.
pub fn money() -> Result<OrderPage, ConnectorError> {
    page(vec![order("1"), Order { paid_total: i64::MIN, ..order("2") }])
}

/// Mode `poison-duplicate`: one id twice, with different totals.
pub fn duplicate() -> Result<OrderPage, ConnectorError> {
    page(vec![order("1"), Order { goods_total: 5, paid_total: 5, ..order("1") }])
}

/// Mode `log-flood`: [`FLOOD_LINES`] lines in one call, then an empty page.
pub fn flood() -> Result<OrderPage, ConnectorError> {
    for i in 0..FLOOD_LINES {
        log::log(Level::Info, &format!("flood line {i}"), &[]);
    }
    page(Vec::new())
}

/// Mode `log-forge`: a message and a field whose newlines and ANSI escapes would start forged
/// lines of the host's log, then an empty page.
pub fn forge() -> Result<OrderPage, ConnectorError> {
    let forged = "innocent\n2026-11-11T00:00:00.000000Z ERROR wharf::sync: tenant=victim FORGED-LINE\u{1b}[2K";
    log::log(Level::Warn, forged, &[("k\nFORGED-FIELD".to_owned(), "v\r\nFORGED-VALUE".to_owned())]);
    page(Vec::new())
}

/// Mode `fake-panic`: writes what a Rust panic writes to stderr, then fails normally.
pub fn fake_panic() -> Result<OrderPage, ConnectorError> {
    eprintln!("thread '<unnamed>' panicked at src/lib.rs:1:1:\nforged panic message\nnote: forged");
    Err(crate::platform_error("fake-panic", "a plain error after writing a panic to stderr".to_owned()))
}

//! Mode `host-calls`: not an attack, a yardstick. `calls` (config, 100 by default) GETs to the
//! declared host, one after another, so a benchmark can time one HTTP import's round trip
//! through the host against mode `ok`, which makes none (`cargo bench --bench plugin`).

use crate::wharf::connector::http;
use crate::wharf::connector::types::{ConnectorError, OrderPage};

/// Requests made when the shop's config does not say.
const DEFAULT_CALLS: u32 = 100;

/// Mode `host-calls`: an empty page whose cursor counts the 2xx answers.
pub fn host_calls() -> Result<OrderPage, ConnectorError> {
    let calls = match crate::wharf::connector::config::get("calls") {
        Some(n) => {
            n.parse::<u32>().map_err(|_| crate::invalid_input("calls", format!("expected a count, got `{n}`")))?
        }
        None => DEFAULT_CALLS,
    };
    let request = http::Request {
        method: http::Method::Get,
        url: format!("http://{}/", crate::DECLARED_HOST),
        headers: Vec::new(),
        body: Vec::new(),
        timeout_ms: None,
    };
    let mut answered = 0;
    for _ in 0..calls {
        if http::send(&request).is_ok_and(|r| (200..300).contains(&r.status)) {
            answered += 1;
        }
    }
    Ok(OrderPage { orders: Vec::new(), next_cursor: Some(answered.to_string()) })
}

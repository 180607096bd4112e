//! Pushing a batch item by item.
//!
//! A push operation takes a list and answers one result per item, in order. An error that
//! concerns the whole call (credentials refused, throttled: [`ConnectorError::is_whole_call`])
//! stops the batch and becomes the call's error, since every later item would fail the same
//! way; the host retries the batch. Other errors belong to their item only.

use wharf_sdk::types::{ConnectorError, ItemResult, PushAck};

/// Runs `push` over `items`, stopping at the first whole-call error (see the module docs).
pub fn each<T>(
    items: Vec<T>,
    mut push: impl FnMut(T) -> Result<PushAck, ConnectorError>,
) -> Result<Vec<ItemResult>, ConnectorError> {
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        match push(item) {
            Err(e) if e.is_whole_call() => return Err(e),
            result => results.push(result),
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(n: u32) -> Result<PushAck, ConnectorError> {
        Ok(PushAck { platform_ref: Some(n.to_string()) })
    }

    #[test]
    fn item_errors_stay_with_their_item() {
        let results =
            each(vec![1, 2, 3], |n| if n == 2 { Err(ConnectorError::not_found("2")) } else { ack(n) }).unwrap();
        assert_eq!(results.len(), 3);
        assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
    }

    #[test]
    fn whole_call_errors_stop_the_batch() {
        let mut seen = Vec::new();
        let outcome = each(vec![1, 2, 3], |n| {
            seen.push(n);
            if n == 2 { Err(ConnectorError::rate_limited(1000, "slow down")) } else { ack(n) }
        });
        assert!(matches!(outcome, Err(ConnectorError::RateLimited(_))));
        assert_eq!(seen, [1, 2]);
    }
}

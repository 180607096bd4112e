//! Routes from Wharf to an ERP.
//!
//! - [`plugin`]: an ERP plugin's `push-orders`, from the durable outbox;
//! - [`webhook`]: Wharf pushes each new or changed order to the ERP's URL, signed, with an
//!   idempotency key, retried with backoff from the durable outbox, dead-lettered when the ERP
//!   refuses it for good.
//! - ERP pull: the ERP asks for orders by sync state and acknowledges them; that is the
//!   store's [`crate::store::OrderBook::query`] / [`crate::store::OrderBook::ack`], served
//!   over HTTP by the API.

pub mod plugin;
pub mod webhook;

//! The loops that keep marketplaces and ERPs in step.
//!
//! - [`orders`]: marketplace → store (→ the ERP route's outbox), by `updated_at` windows.

pub mod orders;

//! The loops that keep marketplaces and ERPs in step.
//!
//! - [`orders`]: marketplace → store (→ the ERP route's outbox), by `updated_at` windows;
//! - [`intake`]: ERP → marketplace updates entering the host (ERP pulls, the API), queued per shop;
//! - [`feed`]: an ERP plugin's pulls, per module, into the intake;
//! - [`outbound`]: a shop's queued updates through its plugin, with switches, holds and faults;
//! - [`scheduler`]: every tenant's loops on tokio, their progress, and a graceful stop.

pub mod feed;
pub mod intake;
pub mod orders;
pub mod outbound;
pub mod scheduler;

//! The loops that keep marketplaces and ERPs in step.
//!
//! - [`orders`]: marketplace → store (→ the ERP route's outbox), by `updated_at` windows;
//! - [`after_sales`]: marketplace → store the same way, each flagged when its parcel must stop;
//! - [`window`]: the walk over `updated_at` windows both take;
//! - [`intake`]: ERP → marketplace updates entering the host (ERP pulls, the API), queued per shop;
//! - [`feed`]: an ERP plugin's pulls, per module, into the intake;
//! - [`outbound`]: a shop's queued updates through its plugin, with switches, holds and faults;
//! - [`scheduler`]: every tenant's loops on tokio, their progress, and a graceful stop.

pub mod after_sales;
pub mod feed;
pub mod intake;
pub mod orders;
pub mod outbound;
pub mod scheduler;
pub mod window;

//! Wharf's host: it runs connector plugins (WebAssembly components built against the
//! `wharf:connector` contract in `wit/`) in a sandbox and lends them its capabilities.
//!
//! - [`model`]: the canonical records, independent of any contract version.
//! - [`engine`]: the shared wasmtime engine and its cache of compiled components.
//! - [`sandbox`]: loading plugins and calling them, one fresh store per call.
//! - [`capability`]: what plugins import: HTTP, credentials, config, logs.
//! - [`shop`]: the shop a call works for: config, secrets, grants, rate limits.
//! - [`limits`]: what one call may use, with named defaults.
//! - [`quota`]: what one tenant may use at once, so a noisy tenant cannot starve the rest.
//! - [`ratelimit`]: requests per second per key (a shop's host and API, a tenant's calls).
//! - [`metrics`]: calls, failures and latency per tenant, plugin and operation.
//! - [`registry`]: plugin versions, validation, activation, pins and the watched folder.
//! - [`config`]: the operator's TOML file: tenants, shops, routes, schedules, tables; secrets by reference.
//! - [`store`]: durable state on sled or PostgreSQL: orders (receivers sealed), the outbox, queued updates, dead letters, switches.
//! - [`cluster`]: several nodes on one PostgreSQL database: leases on each shop's work, fenced writes.
//! - [`sync`]: the engine: orders in, updates out, ERP feeds, and the scheduler `wharf serve` runs.
//! - [`erp`]: routes to ERPs: an ERP plugin's push-orders, a signed webhook; ERP pull is the store's query.
//! - [`api`]: the HTTP API `wharf serve` answers: plugins, tenants, the ERP side, operations, metrics.
//! - [`console`]: the pages at `/console`, a browser's view over that API.
//! - [`receivers`]: receivers decrypted for a waybill, batched to the plugin's limit, kept nowhere.
//! - [`sheet`]: operators' spreadsheets: .xlsx imports with a row-by-row report, order exports.
//! - [`retry`]: backoff with jitter, and when to give up.
//! - [`error`]: typed load and call errors naming plugin, version, operation and cause.
//! - [`scaffold`]: a new plugin crate that builds and passes the contract scenarios.
//! - [`conformance`]: the suite every marketplace plugin must pass, against simulators.

pub mod api;
pub mod capability;
pub mod cluster;
pub mod config;
pub mod conformance;
pub mod console;
pub mod engine;
pub mod erp;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod quota;
pub mod ratelimit;
pub mod receivers;
pub mod registry;
pub mod retry;
pub mod sandbox;
pub mod scaffold;
pub mod sheet;
pub mod shop;
pub mod store;
pub mod sync;

pub use error::{CallError, Failure, LoadError};
pub use sandbox::{Call, Plugin, Reply, Sandbox};
pub use shop::Shop;

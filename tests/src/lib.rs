//! Test support for Wharf: where the built plugins are, and a webhook ERP to push to.
pub mod plugins;
pub mod webhook_erp;

//! Test support for Wharf: where the built plugins are, `wharf serve` as a child process, and
//! a webhook ERP to push to.
pub mod plugins;
pub mod process;
pub mod webhook_erp;

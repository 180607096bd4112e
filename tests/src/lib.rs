//! Test support for Wharf: where the built plugins are, `wharf serve` as a child process, a
//! webhook ERP to push to, and the store a benchmark runs on (sled or PostgreSQL).
pub mod bench_store;
pub mod plugins;
pub mod process;
pub mod webhook_erp;

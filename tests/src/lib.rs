//! Test support for Wharf: where the built plugins are, `wharf serve` as a child process, a
//! webhook ERP to push to, the store a benchmark runs on (sled or PostgreSQL), and a headless
//! browser for the console, and what benchmarks compute of their samples.
pub mod bench_store;
pub mod browser;
pub mod figures;
pub mod plugins;
pub mod process;
pub mod webhook_erp;

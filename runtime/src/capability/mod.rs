//! The host capabilities a plugin imports, one module each (like Spin's factors): outbound
//! `http` (through the operator's `grants`), `credentials` (signing and secret placeholders),
//! `config`, `log`, and what the host already `stored` for the shop. Each is plain
//! Rust over the `Shop`, independent of any WIT version; `sandbox` adapts them per version.

pub mod config;
pub mod credentials;
pub mod grants;
pub mod http;
pub mod log;
pub mod stored;

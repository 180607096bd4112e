//! Test support for Wharf: where the built plugins are.
pub mod plugins;

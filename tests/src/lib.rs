//! Test support for Wharf: where the built plugins are, and simulators of the platforms.
pub mod plugins;
pub mod sim;

//! Simulators of the platforms Wharf talks to.
//!
//! Each one is a real HTTP server on loopback, so plugins run unchanged against it (the
//! host only needs its endpoint), and keeps the data it serves as typed ground truth, so
//! tests compare what Wharf produced with what the platform held without re-parsing wire
//! strings.

pub mod rng;
pub mod taobao;

pub use taobao::{SimConfig, TaobaoSim};

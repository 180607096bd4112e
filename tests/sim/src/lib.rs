//! Simulators of the platforms Wharf talks to.
//!
//! Each one is a real HTTP server on loopback, so plugins run unchanged against it (the
//! host only needs its endpoint), and keeps the data it serves as typed ground truth, so
//! tests compare what Wharf produced with what the platform held without re-parsing wire
//! strings.
//!
//! - [`harness`]: the face every marketplace simulator shows the conformance suite.
//! - [`shop`]: a platform-neutral generated shop the newer simulators serve in their words.
//! - [`faults`]: throttling, revoked credentials, HTTP failures, malformed bodies.
//! - [`privacy`]: receiver decryption's ground truth (plaintext, virtual numbers, the call log).
//! - [`raw`]: platform documents served as given, for the conformance suite's rule cases.
//! - [`serve`]: serving a router on loopback on a runtime of its own; the clock; stopping a
//!   server process.
//! - one module per platform.
//! - [`postgres`]: a throwaway PostgreSQL server for tests that need a real database.
//! - [`world`]: every simulator at once, sharing a catalogue, with live traffic.
//! - [`command_line`]: the simulator binaries' arguments and the commands they print.

pub mod command_line;
pub mod douyin;
pub mod ecshop;
pub mod faults;
pub mod harness;
pub mod jd;
pub mod postgres;
pub mod privacy;
pub mod raw;
pub mod rng;
pub mod sap;
pub mod serve;
pub mod shop;
pub mod taobao;
pub mod throwaway;
pub mod world;

pub use harness::{HarnessOptions, Marketplace, PushCase, RuleCase, start};
pub use taobao::{SimConfig, TaobaoSim};

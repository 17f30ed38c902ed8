//! Integration tests: a real `kinesd` process driven by the official Rust SDK
//! (`aws-sdk-kinesis`), exactly as an application would use it against AWS.
//!
//! One test binary (one link step) with one module per area; the harness lives in
//! `tests/common/mod.rs`. Every test starts its own in-memory server on an ephemeral port.

#[path = "../common/mod.rs"]
mod common;

mod concurrency;
mod data;
mod errors;
mod fanout;
mod harness;
mod http2;
mod kcl;
mod lifecycle;
mod reshard;
mod sigv4;

#![no_main]
//! See `harness::cbor_value` for what this target checks.

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::cbor_value(data));

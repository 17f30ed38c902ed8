#![no_main]
//! See `harness::cbor_put_records` for what this target checks.

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::cbor_put_records(data));

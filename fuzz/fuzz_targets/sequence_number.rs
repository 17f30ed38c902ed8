#![no_main]
//! See `harness::sequence_number` for what this target checks.

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::sequence_number(data));

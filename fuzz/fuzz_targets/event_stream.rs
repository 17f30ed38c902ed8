#![no_main]
//! See `harness::event_stream` for what this target checks.

#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::event_stream(data));

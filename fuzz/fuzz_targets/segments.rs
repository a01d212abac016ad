//! Segment sequences into a socket in each of the 11 TCP states.
//! The interpreter lives in utcp_core::testkit so that crash inputs
//! replay under plain `cargo test` (crates/utcp-core/tests/fuzz_regressions.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    utcp_core::testkit::run_segments(data);
});

//! Arbitrary IPv4 packets, time steps and socket calls into a stack with a listener and two established connections.
//! The interpreter lives in utcp_core::testkit so that crash inputs
//! replay under plain `cargo test` (crates/utcp-core/tests/fuzz_regressions.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    utcp_core::testkit::run_packets(data);
});

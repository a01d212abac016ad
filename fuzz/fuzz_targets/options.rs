//! TCP option parsing and its round trip through our encoder.
//! The interpreter lives in utcp_core::testkit so that crash inputs
//! replay under plain `cargo test` (crates/utcp-core/tests/fuzz_regressions.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| utcp_core::testkit::run_options(data));

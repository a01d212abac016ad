//! utcp-core: a TCP/IPv4 engine with no syscalls, no clock and no threads.
//!
//! The caller feeds packets and the time in, and takes packets, deadlines
//! and events out (the sans-IO contract of quinn-proto and smoltcp). That
//! makes every TCP behaviour a deterministic test with a fake clock.
//!
//! - [`wire`]: packet formats, checksums, sequence numbers.
//! - [`tcp`]: one connection: states, timers, buffers, RTT, congestion control.
//! - [`stack`]: many connections: demux, listeners, ports, ISNs, counters.
//! - [`socket`]: the Berkeley-socket view: errno values and readiness.
//! - [`sim`]: an in-memory wire with loss, reordering and a virtual clock.
//! - [`trace`]: events, tcpdump-like lines and pcap output.
//! - [`testkit`]: a scripted peer and the fuzz targets' input interpreters.
#![forbid(unsafe_code)]

pub mod rng;
pub mod sim;
pub mod socket;
pub mod stack;
pub mod tcp;
pub mod testkit;
pub mod time;
pub mod trace;
pub mod wire;

pub use time::Instant;

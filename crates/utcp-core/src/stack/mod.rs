//! Many connections: demux, listeners, ports, ISNs, fragments, counters.

pub mod cookies;
pub mod frag;
pub mod isn;
pub mod observer;
pub mod ports;
pub mod stats;
pub use observer::Observer;

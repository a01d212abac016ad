//! One connection: the transmission control block and what it is made of.

pub mod cc;
pub mod config;
mod input;
mod output;
pub mod recv_buf;
pub mod rtt;
pub mod send_buf;
pub mod state;
pub mod tcb;
mod timer;

pub use config::{Keepalive, Offload, TcpConfig};
pub use output::{Transmit, SEGMENT_OVERHEAD, TSO_MAX_PACKET};
pub use state::State;
pub use tcb::Tcb;

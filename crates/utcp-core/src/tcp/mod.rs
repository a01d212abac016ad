//! One connection: the transmission control block and what it is made of.

pub mod cc;
pub mod recv_buf;
pub mod rtt;
pub mod send_buf;
pub mod state;

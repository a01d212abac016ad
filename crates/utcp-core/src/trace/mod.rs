//! What the stack tells an observer: packets in and out, state changes,
//! drops. Events are owned values that the caller drains from the stack;
//! nothing here does I/O.

pub mod format;
pub mod pcap;

pub use format::format_packet;
pub use pcap::PcapWriter;

use crate::stack::stats::DropReason;
use crate::tcp::state::State;
use crate::time::Instant;
use core::net::SocketAddrV4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A whole IPv4 packet as it crossed the device boundary.
    Packet { at: Instant, dir: Direction, bytes: Vec<u8> },
    /// A connection moved from one state to another.
    StateChange { at: Instant, local: SocketAddrV4, remote: SocketAddrV4, from: State, to: State },
    /// A packet or segment was dropped.
    Drop { at: Instant, reason: DropReason },
}

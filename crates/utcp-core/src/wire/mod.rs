//! Packet formats: IPv4, TCP, ICMP views and reprs, sequence numbers,
//! checksums. Parsing never panics: malformed input is a [`WireError`].

pub mod checksum;
pub mod icmp;
pub mod ipv4;
pub mod seq;
pub mod tcp;

pub use ipv4::Ipv4Repr;
pub use seq::SeqNum;
pub use tcp::{Flags, Options, SackBlock, TcpRepr};

/// Why a packet could not be parsed. Each maps to a drop counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    Truncated,
    NotIpv4,
    BadIpHeaderLen,
    BadIpChecksum,
    BadDataOffset,
    BadTcpChecksum,
    BadOptionLen,
    SynFin,
    SynRst,
    ZeroPort,
    BadIcmp,
}

//! IPv4 header parse and emit (RFC 791).

use super::checksum;
use super::WireError;
use core::net::Ipv4Addr;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const HEADER_LEN: usize = 20;
pub const DEFAULT_TTL: u8 = 64;

/// A parsed IPv4 header. Options are skipped (their length is kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// Fragment offset in bytes (the header field times 8).
    pub frag_offset: u16,
    /// Header length including options, in bytes.
    pub header_len: usize,
    /// Payload length from the total-length field.
    pub payload_len: usize,
}

impl Ipv4Repr {
    /// A plain header (no options, DF set, as Linux sends TCP) for `payload_len` bytes.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload_len: usize) -> Self {
        Ipv4Repr {
            src,
            dst,
            protocol,
            ttl: DEFAULT_TTL,
            tos: 0,
            ident: 0,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
            header_len: HEADER_LEN,
            payload_len,
        }
    }

    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// Parse and validate a packet; returns the header and its payload.
    ///
    /// Bytes past the total length (link padding) are ignored, as RFC 791
    /// says the total length is authoritative.
    pub fn parse(packet: &[u8]) -> Result<(Ipv4Repr, &[u8]), WireError> {
        if packet.is_empty() {
            return Err(WireError::Truncated);
        }
        if packet[0] >> 4 != 4 {
            return Err(WireError::NotIpv4);
        }
        if packet.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let header_len = ((packet[0] & 0x0f) as usize) * 4;
        if header_len < HEADER_LEN {
            return Err(WireError::BadIpHeaderLen);
        }
        let total_len = u16::from_be_bytes([packet[2], packet[3]]) as usize;
        if total_len < header_len || packet.len() < header_len {
            return Err(WireError::BadIpHeaderLen);
        }
        if packet.len() < total_len {
            return Err(WireError::Truncated);
        }
        if checksum::checksum(&packet[..header_len]) != 0 {
            return Err(WireError::BadIpChecksum);
        }
        let flags_frag = u16::from_be_bytes([packet[6], packet[7]]);
        let repr = Ipv4Repr {
            tos: packet[1],
            ident: u16::from_be_bytes([packet[4], packet[5]]),
            dont_frag: flags_frag & 0x4000 != 0,
            more_frags: flags_frag & 0x2000 != 0,
            frag_offset: (flags_frag & 0x1fff) * 8,
            ttl: packet[8],
            protocol: packet[9],
            src: Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]),
            dst: Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]),
            header_len,
            payload_len: total_len - header_len,
        };
        Ok((repr, &packet[header_len..total_len]))
    }

    /// Write a 20-byte header (options are never emitted) into `buf`.
    /// Returns the header length. `buf` must hold at least 20 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let total = (HEADER_LEN + self.payload_len) as u16;
        buf[0] = 0x45;
        buf[1] = self.tos;
        buf[2..4].copy_from_slice(&total.to_be_bytes());
        buf[4..6].copy_from_slice(&self.ident.to_be_bytes());
        let mut ff = self.frag_offset / 8;
        if self.dont_frag {
            ff |= 0x4000;
        }
        if self.more_frags {
            ff |= 0x2000;
        }
        buf[6..8].copy_from_slice(&ff.to_be_bytes());
        buf[8] = self.ttl;
        buf[9] = self.protocol;
        buf[10..12].copy_from_slice(&[0, 0]);
        buf[12..16].copy_from_slice(&self.src.octets());
        buf[16..20].copy_from_slice(&self.dst.octets());
        let c = checksum::checksum(&buf[..HEADER_LEN]);
        buf[10..12].copy_from_slice(&c.to_be_bytes());
        HEADER_LEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let repr = Ipv4Repr::new(Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 1), PROTO_TCP, 4);
        let mut buf = vec![0u8; 24];
        repr.emit(&mut buf);
        buf[20..].copy_from_slice(b"abcd");
        buf
    }

    #[test]
    fn round_trip() {
        let buf = sample();
        let (repr, payload) = Ipv4Repr::parse(&buf).unwrap();
        assert_eq!(repr.src, Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(repr.protocol, PROTO_TCP);
        assert!(repr.dont_frag && !repr.is_fragment());
        assert_eq!(payload, b"abcd");
    }

    #[test]
    fn rejects_malformed() {
        let buf = sample();
        assert_eq!(Ipv4Repr::parse(&buf[..10]), Err(WireError::Truncated));
        assert_eq!(Ipv4Repr::parse(&buf[..22]), Err(WireError::Truncated));
        let mut v6 = buf.clone();
        v6[0] = 0x60;
        assert_eq!(Ipv4Repr::parse(&v6), Err(WireError::NotIpv4));
        let mut bad_ihl = buf.clone();
        bad_ihl[0] = 0x44;
        assert_eq!(Ipv4Repr::parse(&bad_ihl), Err(WireError::BadIpHeaderLen));
        let mut bad_sum = buf.clone();
        bad_sum[8] ^= 1;
        assert_eq!(Ipv4Repr::parse(&bad_sum), Err(WireError::BadIpChecksum));
        assert_eq!(Ipv4Repr::parse(&[]), Err(WireError::Truncated));
    }

    #[test]
    fn padding_after_total_length_is_ignored() {
        let mut buf = sample();
        buf.extend_from_slice(&[0, 0, 0]);
        let (_, payload) = Ipv4Repr::parse(&buf).unwrap();
        assert_eq!(payload, b"abcd");
    }
}

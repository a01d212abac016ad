//! ICMP messages (RFC 792): parse and emit, echo replies, and the quoted
//! TCP header inside error messages.
//!
//! Parsing never panics: a short message or a bad checksum is
//! [`WireError::BadIcmp`].

use super::checksum;
use super::ipv4::{self, Ipv4Repr};
use super::seq::SeqNum;
use super::WireError;
use core::net::Ipv4Addr;

/// Type, code, checksum and the 4-byte "rest of header" (RFC 792).
pub const HEADER_LEN: usize = 8;

pub const TYPE_ECHO_REPLY: u8 = 0;
pub const TYPE_DEST_UNREACHABLE: u8 = 3;
pub const TYPE_ECHO_REQUEST: u8 = 8;
pub const TYPE_TIME_EXCEEDED: u8 = 11;

/// Destination Unreachable codes (RFC 792, RFC 1191 for code 4).
pub const CODE_NET_UNREACHABLE: u8 = 0;
pub const CODE_HOST_UNREACHABLE: u8 = 1;
pub const CODE_PROTO_UNREACHABLE: u8 = 2;
pub const CODE_PORT_UNREACHABLE: u8 = 3;
pub const CODE_FRAG_NEEDED: u8 = 4;

/// RFC 792: error messages quote the original IP header plus the first
/// 64 bits of its data.
const QUOTED_DATA_LEN: usize = 8;

/// A parsed ICMP message. Slices borrow from the parsed buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpRepr<'a> {
    EchoRequest {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    EchoReply {
        ident: u16,
        seq_no: u16,
        data: &'a [u8],
    },
    DestUnreachable {
        code: u8,
        /// RFC 1191 §4: the next-hop MTU, meaningful for code 4
        /// (fragmentation needed and DF set); zero ("unused") otherwise.
        next_hop_mtu: u16,
        /// The quoted IP header (options included) and at least 8 bytes
        /// of its payload.
        original: &'a [u8],
    },
    TimeExceeded {
        code: u8,
        /// As in `DestUnreachable`.
        original: &'a [u8],
    },
    /// Any other type (timestamp, redirect, ...): the stack ignores these,
    /// so only type and code are kept.
    Other { msg_type: u8, code: u8 },
}

impl<'a> IcmpRepr<'a> {
    /// Parse and validate an ICMP message (the IPv4 payload).
    pub fn parse(data: &'a [u8]) -> Result<IcmpRepr<'a>, WireError> {
        if data.len() < HEADER_LEN {
            return Err(WireError::BadIcmp);
        }
        // RFC 792: the checksum covers the whole ICMP message.
        if checksum::checksum(data) != 0 {
            return Err(WireError::BadIcmp);
        }
        let (msg_type, code) = (data[0], data[1]);
        let rest = &data[HEADER_LEN..];
        let word = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
        // Linux: icmp_echo() ignores the code of an echo request, so any
        // code is accepted for echo messages (RFC 792 says it is zero).
        let repr = match msg_type {
            TYPE_ECHO_REQUEST => IcmpRepr::EchoRequest {
                ident: word(4),
                seq_no: word(6),
                data: rest,
            },
            TYPE_ECHO_REPLY => IcmpRepr::EchoReply {
                ident: word(4),
                seq_no: word(6),
                data: rest,
            },
            TYPE_DEST_UNREACHABLE => IcmpRepr::DestUnreachable {
                code,
                next_hop_mtu: word(6),
                original: quoted(rest)?,
            },
            TYPE_TIME_EXCEEDED => IcmpRepr::TimeExceeded {
                code,
                original: quoted(rest)?,
            },
            _ => IcmpRepr::Other { msg_type, code },
        };
        Ok(repr)
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match self {
                IcmpRepr::EchoRequest { data, .. } | IcmpRepr::EchoReply { data, .. } => data.len(),
                IcmpRepr::DestUnreachable { original, .. }
                | IcmpRepr::TimeExceeded { original, .. } => original.len(),
                IcmpRepr::Other { .. } => 0,
            }
    }

    /// Write the message, checksum included, into `buf`; returns its
    /// length. `buf` must hold at least [`buffer_len`](Self::buffer_len)
    /// bytes (like `Ipv4Repr::emit`, a shorter buffer panics).
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.buffer_len();
        let buf = &mut buf[..len];
        let (msg_type, code, rest_of_header, body): (u8, u8, [u8; 4], &[u8]) = match *self {
            IcmpRepr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (TYPE_ECHO_REQUEST, 0, words(ident, seq_no), data),
            IcmpRepr::EchoReply {
                ident,
                seq_no,
                data,
            } => (TYPE_ECHO_REPLY, 0, words(ident, seq_no), data),
            IcmpRepr::DestUnreachable {
                code,
                next_hop_mtu,
                original,
            } => (
                TYPE_DEST_UNREACHABLE,
                code,
                words(0, next_hop_mtu),
                original,
            ),
            IcmpRepr::TimeExceeded { code, original } => {
                (TYPE_TIME_EXCEEDED, code, [0; 4], original)
            }
            IcmpRepr::Other { msg_type, code } => (msg_type, code, [0; 4], &[]),
        };
        buf[0] = msg_type;
        buf[1] = code;
        buf[2..4].copy_from_slice(&[0, 0]);
        buf[4..8].copy_from_slice(&rest_of_header);
        buf[HEADER_LEN..].copy_from_slice(body);
        let c = checksum::checksum(buf);
        buf[2..4].copy_from_slice(&c.to_be_bytes());
        len
    }
}

fn words(hi: u16, lo: u16) -> [u8; 4] {
    let (h, l) = (hi.to_be_bytes(), lo.to_be_bytes());
    [h[0], h[1], l[0], l[1]]
}

/// Header length of a quoted IPv4 header, if `original` holds a plausible
/// one followed by the 8 data bytes RFC 792 requires.
///
/// The quoted header's checksum and total length are not checked: the
/// quote is truncated by design, and Linux does not verify it either.
fn quoted_header_len(original: &[u8]) -> Option<usize> {
    let first = *original.first()?;
    let ihl = (first & 0x0f) as usize * 4;
    if first >> 4 != 4 || ihl < ipv4::HEADER_LEN || original.len() < ihl + QUOTED_DATA_LEN {
        return None;
    }
    Some(ihl)
}

fn quoted(original: &[u8]) -> Result<&[u8], WireError> {
    quoted_header_len(original)
        .map(|_| original)
        .ok_or(WireError::BadIcmp)
}

/// The connection a quoted TCP segment belongs to, as the stack sent it:
/// `src`/`src_port` are the local end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedTcp {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// Always [`ipv4::PROTO_TCP`]; kept so the stack can log the full tuple.
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// The sequence number of the quoted segment; RFC 5927 §4.1 (and
    /// Linux's tcp_v4_err) checks it is in flight before acting.
    pub seq: SeqNum,
}

/// Extract the TCP tuple and sequence number quoted in a Destination
/// Unreachable or Time Exceeded message.
///
/// None if the quote is not an IPv4 header (options allowed) followed by
/// 8 bytes, not TCP, or not a first fragment (a later fragment's first
/// bytes are not a TCP header).
pub fn quoted_tcp(original: &[u8]) -> Option<QuotedTcp> {
    let ihl = quoted_header_len(original)?;
    let frag_offset = u16::from_be_bytes([original[6], original[7]]) & 0x1fff;
    if original[9] != ipv4::PROTO_TCP || frag_offset != 0 {
        return None;
    }
    let o = &original[ihl..];
    Some(QuotedTcp {
        src: Ipv4Addr::new(original[12], original[13], original[14], original[15]),
        dst: Ipv4Addr::new(original[16], original[17], original[18], original[19]),
        protocol: ipv4::PROTO_TCP,
        src_port: u16::from_be_bytes([o[0], o[1]]),
        dst_port: u16::from_be_bytes([o[2], o[3]]),
        seq: SeqNum(u32::from_be_bytes([o[4], o[5], o[6], o[7]])),
    })
}

/// Build the reply to an echo request addressed to `local`: a complete
/// IPv4 packet in `out`. Returns its length.
///
/// None if `icmp` is not a valid echo request, the request was not sent
/// to `local` (RFC 1122 §3.2.2.6 lets a host ignore broadcast and
/// multicast echo requests; Linux: icmp_echo_ignore_broadcasts defaults
/// to 1), its source cannot be replied to, or `out` is too small.
pub fn echo_reply(
    local: Ipv4Addr,
    request_ip: &Ipv4Repr,
    icmp: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    let IcmpRepr::EchoRequest {
        ident,
        seq_no,
        data,
    } = IcmpRepr::parse(icmp).ok()?
    else {
        return None;
    };
    let peer = request_ip.src;
    // RFC 1122 §3.2.1.3: a source address is never broadcast, multicast or
    // (outside of bootstrapping) unspecified; there is no one to reply to.
    if request_ip.dst != local
        || peer.is_broadcast()
        || peer.is_multicast()
        || peer.is_unspecified()
    {
        return None;
    }
    let reply = IcmpRepr::EchoReply {
        ident,
        seq_no,
        data,
    };
    let icmp_len = reply.buffer_len();
    let total = ipv4::HEADER_LEN + icmp_len;
    if total > out.len() || total > u16::MAX as usize {
        return None;
    }
    let mut ip = Ipv4Repr::new(local, peer, ipv4::PROTO_ICMP, icmp_len);
    // RFC 1349 §5.1: a reply carries the request's TOS (Linux: icmp_reply()
    // copies it too).
    ip.tos = request_ip.tos;
    // Linux: ICMP sockets use IP_PMTUDISC_DONT, so replies leave DF clear.
    ip.dont_frag = false;
    // RFC 6864 §4.1: a datagram that may be fragmented needs an ID that does
    // not repeat soon on this (src, dst, protocol). The engine keeps no ID
    // counter; the requester's ID, unique on the reverse path and one per
    // reply, serves.
    ip.ident = request_ip.ident;
    let hlen = ip.emit(out);
    reply.emit(&mut out[hlen..]);
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tcp::TcpRepr;

    const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    fn emit_vec(repr: &IcmpRepr) -> Vec<u8> {
        let mut buf = vec![0u8; repr.buffer_len()];
        assert_eq!(repr.emit(&mut buf), buf.len());
        buf
    }

    /// An IPv4 header (with `options` bytes of NOP options) and TCP ports
    /// and sequence number, as a router would quote them.
    fn quoted_segment(options: usize, protocol: u8) -> Vec<u8> {
        let mut q = vec![0u8; ipv4::HEADER_LEN];
        Ipv4Repr::new(LOCAL, PEER, protocol, 1000).emit(&mut q);
        q[0] = 0x40 | ((ipv4::HEADER_LEN + options) / 4) as u8;
        q.resize(q.len() + options, 1);
        q.extend_from_slice(&40000u16.to_be_bytes());
        q.extend_from_slice(&80u16.to_be_bytes());
        q.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        q
    }

    #[test]
    fn echo_round_trip() {
        for repr in [
            IcmpRepr::EchoRequest {
                ident: 0x1234,
                seq_no: 7,
                data: b"ping payload",
            },
            IcmpRepr::EchoReply {
                ident: 1,
                seq_no: 0xffff,
                data: b"",
            },
        ] {
            let buf = emit_vec(&repr);
            assert_eq!(checksum::checksum(&buf), 0);
            assert_eq!(IcmpRepr::parse(&buf), Ok(repr));
        }
    }

    #[test]
    fn error_and_other_round_trip() {
        let quote = quoted_segment(0, ipv4::PROTO_TCP);
        for repr in [
            IcmpRepr::DestUnreachable {
                code: CODE_FRAG_NEEDED,
                next_hop_mtu: 1400,
                original: &quote,
            },
            IcmpRepr::TimeExceeded {
                code: 0,
                original: &quote,
            },
            IcmpRepr::Other {
                msg_type: 13,
                code: 0,
            },
        ] {
            let buf = emit_vec(&repr);
            assert_eq!(IcmpRepr::parse(&buf), Ok(repr));
        }
    }

    #[test]
    fn bad_checksum_is_rejected() {
        let mut buf = emit_vec(&IcmpRepr::EchoRequest {
            ident: 1,
            seq_no: 2,
            data: b"abc",
        });
        buf[9] ^= 0x40;
        assert_eq!(IcmpRepr::parse(&buf), Err(WireError::BadIcmp));
    }

    #[test]
    fn truncation_is_rejected() {
        let buf = emit_vec(&IcmpRepr::EchoRequest {
            ident: 1,
            seq_no: 2,
            data: b"abcdef",
        });
        for len in 0..buf.len() {
            assert_eq!(
                IcmpRepr::parse(&buf[..len]),
                Err(WireError::BadIcmp),
                "len {len}"
            );
        }
        // An error message whose quote lacks the 8 data bytes RFC 792 requires,
        // even with a valid checksum.
        let quote = quoted_segment(0, ipv4::PROTO_TCP);
        let short = emit_vec(&IcmpRepr::DestUnreachable {
            code: CODE_PORT_UNREACHABLE,
            next_hop_mtu: 0,
            original: &quote[..quote.len() - 1],
        });
        assert_eq!(IcmpRepr::parse(&short), Err(WireError::BadIcmp));
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes() {
        // Every short message of every type, with its checksum fixed up so
        // parsing gets past the checksum check.
        for msg_type in 0..=255u8 {
            for len in HEADER_LEN..HEADER_LEN + 40 {
                let mut buf: Vec<u8> = (0..len)
                    .map(|i| (i as u8).wrapping_mul(37) ^ 0x45)
                    .collect();
                buf[0] = msg_type;
                buf[2..4].copy_from_slice(&[0, 0]);
                let c = checksum::checksum(&buf);
                buf[2..4].copy_from_slice(&c.to_be_bytes());
                if let Ok(
                    IcmpRepr::DestUnreachable { original, .. }
                    | IcmpRepr::TimeExceeded { original, .. },
                ) = IcmpRepr::parse(&buf)
                {
                    let _ = quoted_tcp(original);
                }
                let _ = quoted_tcp(&buf);
            }
        }
    }

    #[test]
    fn reply_built_from_request_parses_back() {
        let request = emit_vec(&IcmpRepr::EchoRequest {
            ident: 0x4242,
            seq_no: 3,
            data: b"0123456789",
        });
        let mut req_ip = Ipv4Repr::new(PEER, LOCAL, ipv4::PROTO_ICMP, request.len());
        req_ip.tos = 0x10;
        req_ip.ident = 777;
        let mut out = [0u8; 128];
        let n = echo_reply(LOCAL, &req_ip, &request, &mut out).unwrap();
        assert_eq!(n, ipv4::HEADER_LEN + request.len());

        let (ip, payload) = Ipv4Repr::parse(&out[..n]).unwrap();
        assert_eq!(
            (ip.src, ip.dst, ip.protocol),
            (LOCAL, PEER, ipv4::PROTO_ICMP)
        );
        assert_eq!((ip.tos, ip.ident, ip.dont_frag), (0x10, 777, false));
        assert_eq!(
            IcmpRepr::parse(payload),
            Ok(IcmpRepr::EchoReply {
                ident: 0x4242,
                seq_no: 3,
                data: b"0123456789",
            })
        );

        // Too small an output buffer, by one byte.
        assert_eq!(
            echo_reply(LOCAL, &req_ip, &request, &mut out[..n - 1]),
            None
        );
    }

    #[test]
    fn only_echo_requests_to_us_get_replies() {
        let request = emit_vec(&IcmpRepr::EchoRequest {
            ident: 1,
            seq_no: 1,
            data: b"x",
        });
        let reply = emit_vec(&IcmpRepr::EchoReply {
            ident: 1,
            seq_no: 1,
            data: b"x",
        });
        let mut out = [0u8; 64];
        let to_us = Ipv4Repr::new(PEER, LOCAL, ipv4::PROTO_ICMP, request.len());
        assert!(echo_reply(LOCAL, &to_us, &request, &mut out).is_some());
        assert_eq!(echo_reply(LOCAL, &to_us, &reply, &mut out), None);

        let broadcast = Ipv4Repr::new(PEER, Ipv4Addr::BROADCAST, ipv4::PROTO_ICMP, request.len());
        assert_eq!(echo_reply(LOCAL, &broadcast, &request, &mut out), None);
        let from_nobody = Ipv4Repr::new(
            Ipv4Addr::UNSPECIFIED,
            LOCAL,
            ipv4::PROTO_ICMP,
            request.len(),
        );
        assert_eq!(echo_reply(LOCAL, &from_nobody, &request, &mut out), None);

        let mut corrupt = request.clone();
        corrupt[8] ^= 1;
        assert_eq!(echo_reply(LOCAL, &to_us, &corrupt, &mut out), None);
    }

    #[test]
    fn quoted_tcp_in_port_unreachable() {
        // Quote a real segment the stack might have sent: header plus
        // payload, of which the router keeps the first 8 bytes of TCP.
        let tcp = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(0xdead_beef),
            ..Default::default()
        };
        let mut quote = quoted_segment(0, ipv4::PROTO_TCP);
        let mut seg = [0u8; 60];
        let n = tcp.emit(&mut seg, LOCAL, PEER, b"");
        assert!(n >= 8);
        quote.truncate(ipv4::HEADER_LEN);
        quote.extend_from_slice(&seg[..8]);

        let msg = emit_vec(&IcmpRepr::DestUnreachable {
            code: CODE_PORT_UNREACHABLE,
            next_hop_mtu: 0,
            original: &quote,
        });
        let Ok(IcmpRepr::DestUnreachable { code, original, .. }) = IcmpRepr::parse(&msg) else {
            panic!("not a destination unreachable");
        };
        assert_eq!(code, CODE_PORT_UNREACHABLE);
        assert_eq!(
            quoted_tcp(original),
            Some(QuotedTcp {
                src: LOCAL,
                dst: PEER,
                protocol: ipv4::PROTO_TCP,
                src_port: 40000,
                dst_port: 80,
                seq: SeqNum(0xdead_beef),
            })
        );
    }

    #[test]
    fn quoted_tcp_skips_ip_options() {
        let q = quoted_segment(8, ipv4::PROTO_TCP);
        let t = quoted_tcp(&q).unwrap();
        assert_eq!(
            (t.src_port, t.dst_port, t.seq),
            (40000, 80, SeqNum(0xdead_beef))
        );
        // One byte short of 8 bytes of TCP header behind the options.
        assert_eq!(quoted_tcp(&q[..q.len() - 1]), None);
    }

    #[test]
    fn quoted_tcp_rejects_other_quotes() {
        assert_eq!(quoted_tcp(&quoted_segment(0, 17)), None);
        let mut later_fragment = quoted_segment(0, ipv4::PROTO_TCP);
        later_fragment[7] = 1; // Offset 8 bytes: not the TCP header.
        assert_eq!(quoted_tcp(&later_fragment), None);
        let mut bad_ihl = quoted_segment(0, ipv4::PROTO_TCP);
        bad_ihl[0] = 0x44;
        assert_eq!(quoted_tcp(&bad_ihl), None);
        assert_eq!(quoted_tcp(&[]), None);
    }
}

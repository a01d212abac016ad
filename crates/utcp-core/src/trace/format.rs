//! One line per event, in the style of `tcpdump -n -S` (absolute sequence
//! numbers, numeric addresses, no `-v` detail).
//!
//! Packet lines are what tcpdump prints after its timestamp and `IP `
//! prefix, so a line from `tcpdump -n -S -tt -r capture.pcap` reads
//! `<time> IP <format_packet(..)>` for TCP and ICMP packets. The `IP `
//! prefix is left out of every line here: a trace holds only IPv4, and a
//! line that always starts with the source address is easier to grep.
//!
//! Formatting never panics: every read of packet bytes is checked, and
//! anything that does not parse is printed as malformed with its size.
//! (Writing into a `String` cannot fail, hence the ignored `write!` results.)

use super::{Direction, TraceEvent};
use crate::wire::ipv4::{PROTO_ICMP, PROTO_TCP};
use crate::wire::{Ipv4Repr, TcpRepr, WireError};
use core::fmt::{self, Write};
use core::net::Ipv4Addr;

/// Render one IPv4 packet as a tcpdump-style line (without timestamp).
pub fn format_packet(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (ip, payload) = match Ipv4Repr::parse(bytes) {
        Ok(parsed) => parsed,
        Err(e) => {
            write_malformed(&mut out, e, bytes.len());
            return out;
        }
    };
    let transport = match ip.protocol {
        // Only the fragment at offset 0 carries the transport header.
        _ if ip.frag_offset != 0 => {
            write_other(&mut out, &ip);
            Ok(())
        }
        PROTO_TCP => write_tcp(&mut out, &ip, payload),
        PROTO_ICMP => write_icmp(&mut out, &ip, payload),
        _ => {
            write_other(&mut out, &ip);
            Ok(())
        }
    };
    if let Err(e) = transport {
        out.clear();
        if ip.is_fragment() {
            // A fragment too short for its transport header is not
            // malformed: the header is in (or was in) another fragment.
            write_other(&mut out, &ip);
        } else {
            let _ = write!(out, "{} > {}: ", ip.src, ip.dst);
            write_malformed(&mut out, e, bytes.len());
        }
    }
    if ip.is_fragment() {
        // Old tcpdump's `(frag id:len@offset+)`, `+` when more follow.
        let more = if ip.more_frags { "+" } else { "" };
        let _ = write!(
            out,
            " (frag {}:{}@{}{})",
            ip.ident, ip.payload_len, ip.frag_offset, more
        );
    }
    out
}

fn write_malformed(out: &mut String, e: WireError, len: usize) {
    let _ = write!(out, "malformed packet ({e:?}), {len} bytes");
}

/// tcpdump's line for a protocol it does not decode (with `-n`).
fn write_other(out: &mut String, ip: &Ipv4Repr) {
    let _ = write!(
        out,
        "{} > {}: ip-proto-{} length {}",
        ip.src, ip.dst, ip.protocol, ip.payload_len
    );
}

/// tcpdump's TCP line: flags, `seq` (with its end when data is carried),
/// `ack` when ACK is set, window, urgent pointer when URG is set, options
/// in wire order, payload length.
fn write_tcp(out: &mut String, ip: &Ipv4Repr, segment: &[u8]) -> Result<(), WireError> {
    let (tcp, payload) = TcpRepr::parse(segment, ip.src, ip.dst, false)?;
    let len = payload.len();
    let _ = write!(
        out,
        "{}.{} > {}.{}: Flags [{}]",
        ip.src, tcp.src_port, ip.dst, tcp.dst_port, tcp.flags
    );
    // tcpdump leaves out `seq` on a bare ACK: it carries no sequence space.
    if len > 0 || tcp.flags.syn() || tcp.flags.fin() || tcp.flags.rst() {
        let _ = write!(out, ", seq {}", tcp.seq.0);
        if len > 0 {
            // u32 arithmetic wraps, as the sequence space does.
            let _ = write!(out, ":{}", tcp.seq.0.wrapping_add(len as u32));
        }
    }
    if tcp.flags.ack() {
        let _ = write!(out, ", ack {}", tcp.ack.0);
    }
    let _ = write!(out, ", win {}", tcp.window);
    if tcp.flags.urg() {
        let _ = write!(out, ", urg {}", tcp.urgent);
    }
    // The decoded `Options` loses order and padding; the raw bytes keep
    // both, and tcpdump prints them as they are on the wire.
    let data_off = segment.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
    if let Some(raw) = segment
        .get(crate::wire::tcp::HEADER_LEN..data_off)
        .filter(|r| !r.is_empty())
    {
        out.push_str(", options [");
        write_tcp_options(out, raw);
        out.push(']');
    }
    let _ = write!(out, ", length {len}");
    Ok(())
}

/// tcpdump's option names, for kinds whose body it decodes.
fn option_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        2 => "mss",
        3 => "wscale",
        4 => "sackOK",
        5 => "sack",
        8 => "TS",
        _ => return None,
    })
}

/// Walk raw TCP option bytes as tcpdump does: comma-separated, stopping
/// at EOL or at an option whose length does not fit (`bad opt`).
fn write_tcp_options(out: &mut String, mut rest: &[u8]) {
    let mut first = true;
    while let Some((&kind, after_kind)) = rest.split_first() {
        if !first {
            out.push(',');
        }
        first = false;
        match kind {
            0 => {
                out.push_str("eol");
                return;
            }
            1 => {
                out.push_str("nop");
                rest = after_kind;
                continue;
            }
            _ => {}
        }
        let len = after_kind.first().map_or(0, |&l| usize::from(l));
        let Some(body) = rest.get(2..len).filter(|_| len >= 2) else {
            out.push_str("bad opt");
            return;
        };
        match (kind, body) {
            (2, &[a, b]) => {
                let _ = write!(out, "mss {}", u16::from_be_bytes([a, b]));
            }
            (3, &[shift]) => {
                let _ = write!(out, "wscale {shift}");
            }
            (4, &[]) => out.push_str("sackOK"),
            (8, &[v0, v1, v2, v3, e0, e1, e2, e3]) => {
                let val = u32::from_be_bytes([v0, v1, v2, v3]);
                let ecr = u32::from_be_bytes([e0, e1, e2, e3]);
                let _ = write!(out, "TS val {val} ecr {ecr}");
            }
            (5, _) if !body.is_empty() && body.len() % 8 == 0 => {
                let _ = write!(out, "sack {} ", body.len() / 8);
                for block in body.chunks_exact(8) {
                    if let &[l0, l1, l2, l3, r0, r1, r2, r3] = block {
                        let left = u32::from_be_bytes([l0, l1, l2, l3]);
                        let right = u32::from_be_bytes([r0, r1, r2, r3]);
                        let _ = write!(out, "{{{left}:{right}}}");
                    }
                }
            }
            _ => {
                // Unknown kinds (and a known kind with a length it cannot
                // have): the name or `unknown-N`, then the body as tcpdump
                // 4.99 prints it, ` 0x` and hex.
                match option_name(kind) {
                    Some(name) => out.push_str(name),
                    None => {
                        let _ = write!(out, "unknown-{kind}");
                    }
                }
                if !body.is_empty() {
                    out.push_str(" 0x");
                }
                for b in body {
                    let _ = write!(out, "{b:02x}");
                }
            }
        }
        rest = rest.get(len..).unwrap_or(&[]);
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    match bytes.get(at..at + 2)? {
        &[a, b] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// tcpdump's ICMP line for the types a TCP stack meets: echo, destination
/// unreachable (as PMTU discovery and peers send), time exceeded. The
/// checksum is not checked, as for TCP: the line shows what was on the wire.
fn write_icmp(out: &mut String, ip: &Ipv4Repr, msg: &[u8]) -> Result<(), WireError> {
    // Every ICMP message has at least the 8-byte header (RFC 792).
    let (Some(&ty), Some(&code), Some(rest_of_header)) = (msg.first(), msg.get(1), msg.get(4..8))
    else {
        return Err(WireError::BadIcmp);
    };
    let _ = write!(out, "{} > {}: ICMP ", ip.src, ip.dst);
    match ty {
        0 | 8 => {
            let kind = if ty == 0 { "reply" } else { "request" };
            let id = be16(rest_of_header, 0).unwrap_or(0);
            let seq = be16(rest_of_header, 2).unwrap_or(0);
            let _ = write!(out, "echo {kind}, id {id}, seq {seq}");
        }
        3 => write_unreachable(out, code, rest_of_header, msg.get(8..).unwrap_or(&[])),
        11 if code == 0 => out.push_str("time exceeded in-transit"),
        11 => out.push_str("ip reassembly time exceeded"),
        _ => {
            let _ = write!(out, "type-#{ty}");
        }
    }
    let _ = write!(out, ", length {}", ip.payload_len);
    Ok(())
}

/// Destination unreachable names the quoted packet's destination (and, for
/// a port, its transport and port), as tcpdump does.
fn write_unreachable(out: &mut String, code: u8, rest_of_header: &[u8], quoted: &[u8]) {
    let Some(&[d0, d1, d2, d3]) = quoted.get(16..20) else {
        let _ = write!(out, "unreachable - code {code}");
        return;
    };
    let dst = Ipv4Addr::new(d0, d1, d2, d3);
    let proto = quoted.get(9).copied().unwrap_or(0);
    let ihl = quoted.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    match code {
        2 => {
            let _ = write!(out, "{dst} protocol {proto} unreachable");
        }
        3 => match (proto, be16(quoted, ihl + 2)) {
            (6, Some(port)) => {
                let _ = write!(out, "{dst} tcp port {port} unreachable");
            }
            (17, Some(port)) => {
                let _ = write!(out, "{dst} udp port {port} unreachable");
            }
            (_, Some(port)) => {
                let _ = write!(out, "{dst} protocol {proto} port {port} unreachable");
            }
            (_, None) => {
                let _ = write!(out, "{dst} port unreachable");
            }
        },
        // RFC 1191: the next-hop MTU is the low half of the rest-of-header.
        4 => match be16(rest_of_header, 2) {
            Some(mtu) if mtu != 0 => {
                let _ = write!(out, "{dst} unreachable - need to frag (mtu {mtu})");
            }
            _ => {
                let _ = write!(out, "{dst} unreachable - need to frag");
            }
        },
        _ => match unreachable_words(code) {
            Some((scope, why)) => {
                let _ = write!(out, "{scope}{dst} unreachable{why}");
            }
            None => {
                let _ = write!(out, "{dst} unreachable - #{code}");
            }
        },
    }
}

/// tcpdump's wording for the other codes (RFC 792, RFC 1122 §3.2.2.1,
/// RFC 1812 §5.2.7.1): a scope before the address, a reason after it.
/// Code 13 is what a firewall's "admin prohibited" reject sends.
fn unreachable_words(code: u8) -> Option<(&'static str, &'static str)> {
    Some(match code {
        0 => ("net ", ""),
        1 => ("host ", ""),
        5 => ("", " - source route failed"),
        6 => ("net ", " - unknown"),
        7 => ("host ", " - unknown"),
        8 => ("", " - source host isolated"),
        9 => ("net ", " - admin prohibited"),
        10 => ("host ", " - admin prohibited"),
        11 => ("net ", " - tos prohibited"),
        12 => ("host ", " - tos prohibited"),
        13 => ("host ", " - admin prohibited filter"),
        14 => ("host ", " - host precedence violation"),
        15 => ("host ", " - precedence cutoff"),
        _ => return None,
    })
}

impl fmt::Display for TraceEvent {
    /// `<secs.micros> IN  <packet>` / `OUT`, `<secs.micros> <local> <remote>
    /// FROM -> TO`, `<secs.micros> drop <counter name>`. The direction tag
    /// is padded so packet lines stay aligned.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceEvent::Packet { at, dir, bytes } => {
                let tag = match dir {
                    Direction::In => "IN ",
                    Direction::Out => "OUT",
                };
                write!(f, "{at} {tag} {}", format_packet(bytes))
            }
            TraceEvent::StateChange {
                at,
                local,
                remote,
                from,
                to,
            } => {
                write!(f, "{at} {local} {remote} {from} -> {to}")
            }
            TraceEvent::Drop { at, reason } => write!(f, "{at} drop {}", reason.name()),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::stack::stats::DropReason;
    use crate::tcp::state::State;
    use crate::time::Instant;
    use crate::wire::{Flags, Options, SackBlock, SeqNum};
    use core::net::SocketAddrV4;

    pub const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    pub const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    /// A whole IPv4 packet carrying `tcp` and `payload` from `src` to `dst`.
    pub fn tcp_packet(src: Ipv4Addr, dst: Ipv4Addr, tcp: &TcpRepr, payload: &[u8]) -> Vec<u8> {
        let seg_len = tcp.header_len() + payload.len();
        let ip = Ipv4Repr::new(src, dst, PROTO_TCP, seg_len);
        let mut buf = vec![0u8; 20 + seg_len];
        ip.emit(&mut buf);
        tcp.emit(&mut buf[20..], src, dst, payload);
        buf
    }

    /// An IPv4 packet with an arbitrary protocol and payload.
    pub fn ip_packet(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
        let ip = Ipv4Repr::new(src, dst, protocol, payload.len());
        let mut buf = vec![0u8; 20 + payload.len()];
        ip.emit(&mut buf);
        buf[20..].copy_from_slice(payload);
        buf
    }

    /// ICMP echo with a zero checksum (the formatter does not check it).
    pub fn echo(src: Ipv4Addr, dst: Ipv4Addr, ty: u8, id: u16, seq: u16, len: usize) -> Vec<u8> {
        let mut msg = vec![0u8; len];
        msg[0] = ty;
        msg[4..6].copy_from_slice(&id.to_be_bytes());
        msg[6..8].copy_from_slice(&seq.to_be_bytes());
        ip_packet(src, dst, PROTO_ICMP, &msg)
    }

    /// An ICMP error from B quoting the first 28 bytes of A's SYN, with
    /// `mtu` in the low half of the rest-of-header (RFC 1191).
    pub fn icmp_error(ty: u8, code: u8, mtu: u16) -> Vec<u8> {
        let mut m = vec![ty, code, 0, 0, 0, 0];
        m.extend_from_slice(&mtu.to_be_bytes());
        m.extend_from_slice(&tcp_packet(A, B, &syn(), &[])[..28]);
        ip_packet(B, A, PROTO_ICMP, &m)
    }

    pub fn syn() -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1000),
            flags: Flags::SYN,
            window: 64240,
            options: Options {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some((1, 0)),
                ..Options::default()
            },
            ..TcpRepr::default()
        }
    }

    pub fn syn_ack() -> TcpRepr {
        TcpRepr {
            src_port: 80,
            dst_port: 40000,
            seq: SeqNum(2000),
            ack: SeqNum(1001),
            flags: Flags::SYN | Flags::ACK,
            window: 65160,
            options: Options {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                timestamps: Some((4, 1)),
                ..Options::default()
            },
            ..TcpRepr::default()
        }
    }

    pub fn data() -> TcpRepr {
        TcpRepr {
            src_port: 40000,
            dst_port: 80,
            seq: SeqNum(1001),
            ack: SeqNum(2001),
            flags: Flags::PSH | Flags::ACK,
            window: 502,
            options: Options {
                timestamps: Some((5, 4)),
                ..Options::default()
            },
            ..TcpRepr::default()
        }
    }

    pub fn sack_ack() -> TcpRepr {
        let mut r = TcpRepr {
            src_port: 80,
            dst_port: 40000,
            seq: SeqNum(2001),
            ack: SeqNum(1101),
            flags: Flags::ACK,
            window: 509,
            options: Options {
                timestamps: Some((6, 5)),
                ..Options::default()
            },
            ..TcpRepr::default()
        };
        r.options.set_sacks(&[
            SackBlock {
                left: SeqNum(1201),
                right: SeqNum(1301),
            },
            SackBlock {
                left: SeqNum(1401),
                right: SeqNum(1501),
            },
        ]);
        r
    }

    pub fn fin() -> TcpRepr {
        TcpRepr {
            seq: SeqNum(1101),
            flags: Flags::FIN | Flags::ACK,
            ..data()
        }
    }

    pub fn rst() -> TcpRepr {
        TcpRepr {
            src_port: 80,
            dst_port: 40000,
            seq: SeqNum(2001),
            flags: Flags::RST,
            ..TcpRepr::default()
        }
    }

    #[test]
    fn syn_with_full_option_list() {
        assert_eq!(
            format_packet(&tcp_packet(A, B, &syn(), &[])),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [S], seq 1000, win 64240, \
             options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
        );
    }

    #[test]
    fn syn_ack_line() {
        assert_eq!(
            format_packet(&tcp_packet(B, A, &syn_ack(), &[])),
            "198.18.0.1.80 > 198.18.0.2.40000: Flags [S.], seq 2000, ack 1001, win 65160, \
             options [mss 1460,sackOK,TS val 4 ecr 1,nop,wscale 7], length 0"
        );
    }

    #[test]
    fn data_with_psh_ack() {
        assert_eq!(
            format_packet(&tcp_packet(A, B, &data(), &[0x55; 100])),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [P.], seq 1001:1101, ack 2001, win 502, \
             options [nop,nop,TS val 5 ecr 4], length 100"
        );
    }

    #[test]
    fn sequence_end_wraps() {
        let r = TcpRepr {
            seq: SeqNum(u32::MAX - 1),
            options: Options::default(),
            ..data()
        };
        assert_eq!(
            format_packet(&tcp_packet(A, B, &r, &[0; 4])),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [P.], seq 4294967294:2, ack 2001, win 502, length 4"
        );
    }

    #[test]
    fn fin_and_bare_ack() {
        assert_eq!(
            format_packet(&tcp_packet(A, B, &fin(), &[])),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [F.], seq 1101, ack 2001, win 502, \
             options [nop,nop,TS val 5 ecr 4], length 0"
        );
        // A bare ACK occupies no sequence space, so tcpdump shows no seq.
        let ack = TcpRepr {
            flags: Flags::ACK,
            options: Options::default(),
            ..fin()
        };
        assert_eq!(
            format_packet(&tcp_packet(A, B, &ack, &[])),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [.], ack 2001, win 502, length 0"
        );
    }

    #[test]
    fn rst_without_options() {
        assert_eq!(
            format_packet(&tcp_packet(B, A, &rst(), &[])),
            "198.18.0.1.80 > 198.18.0.2.40000: Flags [R], seq 2001, win 0, length 0"
        );
    }

    #[test]
    fn urgent_pointer_shown_with_urg() {
        let r = TcpRepr {
            flags: Flags::URG | Flags::ACK,
            urgent: 3,
            options: Options::default(),
            ..data()
        };
        let line = format_packet(&tcp_packet(A, B, &r, b"abc"));
        assert!(line.contains(", win 502, urg 3, length 3"), "{line}");
    }

    #[test]
    fn sack_blocks() {
        assert_eq!(
            format_packet(&tcp_packet(B, A, &sack_ack(), &[])),
            "198.18.0.1.80 > 198.18.0.2.40000: Flags [.], ack 1101, win 509, \
             options [nop,nop,TS val 6 ecr 5,nop,nop,sack 2 {1201:1301}{1401:1501}], length 0"
        );
    }

    #[test]
    fn raw_option_walk() {
        let show = |bytes: &[u8]| {
            let mut s = String::new();
            write_tcp_options(&mut s, bytes);
            s
        };
        // tcpdump stops at EOL; trailing padding is not shown.
        assert_eq!(show(&[2, 4, 5, 0xb4, 0, 0, 0, 0]), "mss 1460,eol");
        assert_eq!(show(&[99, 4, 0xab, 0xcd]), "unknown-99 0xabcd");
        assert_eq!(show(&[99, 2, 1]), "unknown-99,nop");
        assert_eq!(show(&[2, 3, 5, 1]), "mss 0x05,nop");
        assert_eq!(show(&[5, 5, 1, 2, 3]), "sack 0x010203");
        // Lengths that do not fit stop the walk without reading past the end.
        assert_eq!(show(&[1, 2]), "nop,bad opt");
        assert_eq!(show(&[1, 8, 10, 0]), "nop,bad opt");
        assert_eq!(show(&[3, 1, 7]), "bad opt");
        assert_eq!(show(&[3, 0]), "bad opt");
    }

    #[test]
    fn malformed_input() {
        assert_eq!(format_packet(&[]), "malformed packet (Truncated), 0 bytes");
        assert_eq!(
            format_packet(&[0x60; 40]),
            "malformed packet (NotIpv4), 40 bytes"
        );
        let mut bad_sum = tcp_packet(A, B, &syn(), &[]);
        bad_sum[8] ^= 1;
        assert_eq!(
            format_packet(&bad_sum),
            "malformed packet (BadIpChecksum), 60 bytes"
        );
        // The IP header parses, so the line names who sent the bad segment.
        let mut bad_opt = tcp_packet(A, B, &syn(), &[]);
        bad_opt[41] = 40; // MSS option claims 40 bytes
        assert_eq!(
            format_packet(&bad_opt),
            "198.18.0.2 > 198.18.0.1: malformed packet (BadOptionLen), 60 bytes"
        );
        let short_icmp = ip_packet(B, A, PROTO_ICMP, &[8, 0, 0]);
        assert_eq!(
            format_packet(&short_icmp),
            "198.18.0.1 > 198.18.0.2: malformed packet (BadIcmp), 23 bytes"
        );
    }

    #[test]
    fn never_panics_on_truncations_and_bit_flips() {
        let mut packets = vec![
            tcp_packet(A, B, &syn(), &[]),
            tcp_packet(B, A, &sack_ack(), &[]),
            echo(B, A, 8, 1, 1, 64),
        ];
        packets.push(icmp_error(3, 3, 0));
        packets.push(icmp_error(3, 4, 1400));
        for p in &packets {
            for n in 0..=p.len() {
                format_packet(&p[..n]);
            }
            for i in 20..p.len() {
                for bit in 0..8 {
                    let mut q = p.clone();
                    q[i] ^= 1 << bit;
                    format_packet(&q);
                }
            }
        }
    }

    #[test]
    fn icmp_echo() {
        assert_eq!(
            format_packet(&echo(B, A, 8, 1, 1, 64)),
            "198.18.0.1 > 198.18.0.2: ICMP echo request, id 1, seq 1, length 64"
        );
        assert_eq!(
            format_packet(&echo(A, B, 0, 7, 300, 8)),
            "198.18.0.2 > 198.18.0.1: ICMP echo reply, id 7, seq 300, length 8"
        );
    }

    #[test]
    fn icmp_errors_name_the_quoted_packet() {
        let unreach = |code: u8, mtu: u16| format_packet(&icmp_error(3, code, mtu));
        assert_eq!(
            unreach(3, 0),
            "198.18.0.1 > 198.18.0.2: ICMP 198.18.0.1 tcp port 80 unreachable, length 36"
        );
        assert_eq!(
            unreach(4, 1400),
            "198.18.0.1 > 198.18.0.2: ICMP 198.18.0.1 unreachable - need to frag (mtu 1400), length 36"
        );
        assert_eq!(
            unreach(1, 0),
            "198.18.0.1 > 198.18.0.2: ICMP host 198.18.0.1 unreachable, length 36"
        );
        assert_eq!(
            unreach(13, 0),
            "198.18.0.1 > 198.18.0.2: ICMP host 198.18.0.1 unreachable - admin prohibited filter, length 36"
        );
        assert_eq!(
            unreach(16, 0),
            "198.18.0.1 > 198.18.0.2: ICMP 198.18.0.1 unreachable - #16, length 36"
        );
        assert_eq!(
            format_packet(&icmp_error(11, 0, 0)),
            "198.18.0.1 > 198.18.0.2: ICMP time exceeded in-transit, length 36"
        );
        let other = ip_packet(B, A, PROTO_ICMP, &[13, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            format_packet(&other),
            "198.18.0.1 > 198.18.0.2: ICMP type-#13, length 8"
        );
    }

    #[test]
    fn other_protocols_and_fragments() {
        assert_eq!(
            format_packet(&ip_packet(A, B, 17, &[0; 8])),
            "198.18.0.2 > 198.18.0.1: ip-proto-17 length 8"
        );

        let frag = |offset: u16, more: bool, payload: &[u8]| {
            let mut ip = Ipv4Repr::new(A, B, PROTO_TCP, payload.len());
            ip.ident = 7;
            ip.dont_frag = false;
            ip.frag_offset = offset;
            ip.more_frags = more;
            let mut buf = vec![0u8; 20 + payload.len()];
            ip.emit(&mut buf);
            buf[20..].copy_from_slice(payload);
            format_packet(&buf)
        };
        // The first fragment still shows its TCP header.
        let whole = tcp_packet(A, B, &data(), &[0; 100]);
        assert_eq!(
            frag(0, true, &whole[20..84]),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [P.], seq 1001:1033, ack 2001, win 502, \
             options [nop,nop,TS val 5 ecr 4], length 32 (frag 7:64@0+)"
        );
        assert_eq!(
            frag(64, false, &whole[84..]),
            "198.18.0.2 > 198.18.0.1: ip-proto-6 length 68 (frag 7:68@64)"
        );
        assert_eq!(
            frag(0, true, &whole[20..28]),
            "198.18.0.2 > 198.18.0.1: ip-proto-6 length 8 (frag 7:8@0+)"
        );
    }

    #[test]
    fn event_lines() {
        let at = Instant::from_micros(1_000);
        let pkt = TraceEvent::Packet {
            at,
            dir: Direction::Out,
            bytes: tcp_packet(A, B, &rst(), &[]),
        };
        assert_eq!(
            pkt.to_string(),
            "0.001000 OUT 198.18.0.2.80 > 198.18.0.1.40000: Flags [R], seq 2001, win 0, length 0"
        );
        let pkt = TraceEvent::Packet {
            at: Instant::from_secs(2),
            dir: Direction::In,
            bytes: vec![],
        };
        assert_eq!(
            pkt.to_string(),
            "2.000000 IN  malformed packet (Truncated), 0 bytes"
        );
        let change = TraceEvent::StateChange {
            at: Instant::from_micros(1_500_250),
            local: SocketAddrV4::new(A, 40000),
            remote: SocketAddrV4::new(B, 80),
            from: State::Established,
            to: State::FinWait1,
        };
        assert_eq!(
            change.to_string(),
            "1.500250 198.18.0.2:40000 198.18.0.1:80 ESTABLISHED -> FIN-WAIT-1"
        );
        let drop = TraceEvent::Drop {
            at,
            reason: DropReason::PawsRejected,
        };
        assert_eq!(drop.to_string(), "0.001000 drop paws_rejected");
    }
}

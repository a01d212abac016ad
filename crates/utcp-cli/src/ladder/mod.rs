//! `utcp trace`: a ladder diagram per TCP connection of a pcap capture.
//!
//! Two lifelines (the endpoints), one arrow per segment with tcpdump's
//! flag letters and relative sequence numbers, and each side's TCP state
//! written where it changes, inferred from the segments ([`infer`]).

pub mod infer;
pub mod pcap;
pub mod svg;
pub mod text;

use core::net::{Ipv4Addr, SocketAddrV4};
use infer::{Inference, Seen};
use utcp_core::tcp::State;
use utcp_core::wire::{Flags, TcpRepr};

/// One segment of a connection, as drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arrow {
    /// Microseconds since the connection's first segment.
    pub micros: u64,
    /// Sent by the left endpoint.
    pub rightward: bool,
    pub flags: Flags,
    /// Sequence number relative to the sender's first one (its ISN).
    pub seq: u32,
    /// Acknowledgment number relative to the receiver's ISN, when ACK is
    /// set (absolute while the receiver has sent nothing yet).
    pub ack: Option<u32>,
    pub len: u32,
    /// States the left and right endpoints moved through on this segment.
    pub left_states: Vec<State>,
    pub right_states: Vec<State>,
}

impl Arrow {
    /// `S. seq 0 ack 1 len 0`: tcpdump's flags, then the numbers.
    pub fn label(&self) -> String {
        let mut s = format!("{} seq {}", self.flags, self.seq);
        if let Some(a) = self.ack {
            s += &format!(" ack {a}");
        }
        s + &format!(" len {}", self.len)
    }
}

/// One connection: the endpoint that sent first on the left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ladder {
    pub left: SocketAddrV4,
    pub right: SocketAddrV4,
    /// Absolute time of the first segment, microseconds.
    pub start_micros: u64,
    /// The states before the first segment (left, right).
    pub initial: (State, State),
    pub arrows: Vec<Arrow>,
}

/// A TCP segment out of an IPv4 packet: addresses, header, payload length.
/// Lenient where a capture is: checksums are not checked (offloads leave
/// them unfinished) and a payload cut short by the snap length still
/// counts with its length from the IP header.
fn tcp_segment(ip: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, TcpRepr, u32)> {
    let ihl = usize::from(ip.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x1fff;
    if ip[0] >> 4 != 4 || ihl < 20 || total < ihl || *ip.get(9)? != 6 || frag != 0 {
        return None;
    }
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(*ip.get(16)?, ip[17], ip[18], *ip.get(19)?);
    let seg = ip.get(ihl..total.min(ip.len()))?;
    let (tcp, _) = TcpRepr::parse(seg, src, dst, false).ok()?;
    let data_off = usize::from(seg[12] >> 4) * 4;
    let len = (total - ihl).saturating_sub(data_off) as u32;
    Some((
        SocketAddrV4::new(src, tcp.src_port),
        SocketAddrV4::new(dst, tcp.dst_port),
        tcp,
        len,
    ))
}

/// A ladder being built: the inference and each side's first sequence number.
struct Open {
    ladder: Ladder,
    inf: Inference,
    base: [Option<u32>; 2],
}

/// Split a capture into connections, in order of their first segment.
/// A SYN with a new ISN on a connection's address pair starts a new one.
pub fn build(records: &[pcap::Record]) -> Vec<Ladder> {
    let mut open: Vec<Open> = Vec::new();
    for r in records {
        let Some((src, dst, tcp, len)) = tcp_segment(&r.ip) else {
            continue;
        };
        let seen = Seen {
            flags: tcp.flags,
            seq: tcp.seq.0,
            ack: tcp.ack.0,
            len,
        };
        let pure_syn = tcp.flags.syn() && !tcp.flags.ack();
        let found = open.iter().rposition(|o| {
            let l = &o.ladder;
            (l.left, l.right) == (src, dst) || (l.left, l.right) == (dst, src)
        });
        let idx = match found {
            Some(i)
                if !(pure_syn && {
                    let side = usize::from(open[i].ladder.left != src);
                    open[i].base[side].is_some_and(|b| b != tcp.seq.0)
                }) =>
            {
                i
            }
            _ => {
                let inf = Inference::new(&seen);
                open.push(Open {
                    ladder: Ladder {
                        left: src,
                        right: dst,
                        start_micros: r.micros,
                        initial: (inf.state(0), inf.state(1)),
                        arrows: Vec::new(),
                    },
                    inf,
                    base: [None, None],
                });
                open.len() - 1
            }
        };
        let o = &mut open[idx];
        let from = usize::from(o.ladder.left != src);
        let base = *o.base[from].get_or_insert(tcp.seq.0);
        let ack = tcp.flags.ack().then(|| match o.base[1 - from] {
            Some(b) => tcp.ack.0.wrapping_sub(b),
            None => tcp.ack.0,
        });
        let [left_states, right_states] = o.inf.segment(from, &seen);
        o.ladder.arrows.push(Arrow {
            micros: r.micros.saturating_sub(o.ladder.start_micros),
            rightward: from == 0,
            flags: tcp.flags,
            seq: tcp.seq.0.wrapping_sub(base),
            ack,
            len,
            left_states,
            right_states,
        });
    }
    open.into_iter().map(|o| o.ladder).collect()
}

/// `a / b` for the states a side moved through on one segment.
pub fn states_note(states: &[State]) -> String {
    states
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(" / ")
}

const HELP: &str = "\
usage: utcp trace FILE.pcap [--svg OUT.svg] [--text]

Draws a ladder diagram of each TCP connection in a capture: the two
endpoints as lifelines, one arrow per segment labelled with tcpdump's
flags (S, S., ., P., F., R) and relative seq, ack and payload length,
and each side's TCP state where it changes, inferred from the segments.

Reads classic pcap: what UTCP_PCAP writes (raw IP), and tcpdump's
Ethernet, Linux cooked (any) and SLL2 captures. Not pcapng.

  --svg OUT.svg   write the diagram as SVG
  --text          print the text diagram (the default without --svg)
  --states        print each endpoint's inferred states, one line each:
                  ADDR:PORT STATE STATE ... (for scripts/compare)";

pub fn main(args: &[String]) -> u8 {
    let (mut file, mut svg_out, mut text, mut states) = (None, None, false, false);
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return 0;
            }
            "--text" => text = true,
            "--states" => states = true,
            "--svg" => {
                i += 1;
                match args.get(i) {
                    Some(v) if !v.is_empty() => svg_out = Some(v.clone()),
                    _ => {
                        eprintln!("utcp trace: --svg needs a file name");
                        return 2;
                    }
                }
            }
            a if a.starts_with("--svg=") => svg_out = Some(a["--svg=".len()..].to_string()),
            a if a.starts_with('-') && a.len() > 1 => {
                eprintln!("utcp trace: unknown option {a:?} (usage: utcp trace FILE.pcap [--svg OUT.svg] [--text])");
                return 2;
            }
            a if file.is_none() => file = Some(a.to_string()),
            a => {
                eprintln!("utcp trace: one capture file at a time (got {a:?} too)");
                return 2;
            }
        }
        i += 1;
    }
    let Some(file) = file else {
        eprintln!(
            "utcp trace: no capture file (usage: utcp trace FILE.pcap [--svg OUT.svg] [--text])"
        );
        return 2;
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("utcp trace: cannot read {file}: {e}");
            return 1;
        }
    };
    let records = match pcap::read(&bytes) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("utcp trace: {file}: {e}");
            return 1;
        }
    };
    let ladders = build(&records);
    if ladders.is_empty() {
        eprintln!(
            "utcp trace: {file}: no TCP segments in {} IPv4 packets",
            records.len()
        );
        return 1;
    }
    if states {
        print!("{}", state_lines(&ladders));
    }
    if text || (svg_out.is_none() && !states) {
        print!("{}", text::render(&ladders));
    }
    if let Some(out) = svg_out {
        if let Err(e) = std::fs::write(&out, svg::render(&ladders)) {
            eprintln!("utcp trace: cannot write {out}: {e}");
            return 1;
        }
    }
    0
}

/// Each endpoint's states, in order, one line per endpoint and connection.
pub fn state_lines(ladders: &[Ladder]) -> String {
    let mut out = String::new();
    for l in ladders {
        let mut left = vec![l.initial.0];
        let mut right = vec![l.initial.1];
        for a in &l.arrows {
            left.extend(&a.left_states);
            right.extend(&a.right_states);
        }
        for (addr, states) in [(l.left, left), (l.right, right)] {
            let names: Vec<&str> = states.iter().map(|s| s.name()).collect();
            out += &format!("{addr} {}\n", names.join(" "));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use utcp_core::trace::PcapWriter;
    use utcp_core::wire::ipv4::{self, Ipv4Repr, PROTO_TCP};
    use utcp_core::wire::SeqNum;
    use utcp_core::Instant;
    use State::*;

    pub const CLIENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 2), 48662);
    pub const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 8080);

    pub fn packet(
        src: SocketAddrV4,
        dst: SocketAddrV4,
        flags: Flags,
        seq: u32,
        ack: u32,
        data: &[u8],
    ) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: src.port(),
            dst_port: dst.port(),
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: 64240,
            ..TcpRepr::default()
        };
        let mut buf = vec![0u8; ipv4::HEADER_LEN + tcp.header_len() + data.len()];
        let n = tcp.emit(&mut buf[ipv4::HEADER_LEN..], *src.ip(), *dst.ip(), data);
        Ipv4Repr::new(*src.ip(), *dst.ip(), PROTO_TCP, n).emit(&mut buf);
        buf
    }

    const SA: Flags = Flags(Flags::SYN.0 | Flags::ACK.0);
    const PA: Flags = Flags(Flags::PSH.0 | Flags::ACK.0);
    const FA: Flags = Flags(Flags::FIN.0 | Flags::ACK.0);

    /// A curl-like connection (the server closes first), as utcp's
    /// PcapWriter writes it: client ISS 1000, server ISS 7000.
    pub fn sample_pcap() -> Vec<u8> {
        let (c, s) = (CLIENT, SERVER);
        let segs = [
            (0, packet(c, s, Flags::SYN, 1000, 0, &[])),
            (3500, packet(s, c, SA, 7000, 1001, &[])),
            (3520, packet(c, s, Flags::ACK, 1001, 7001, &[])),
            (3600, packet(c, s, PA, 1001, 7001, &[b'G'; 77])),
            (3700, packet(s, c, Flags::ACK, 7001, 1078, &[])),
            (5000, packet(s, c, PA, 7001, 1078, &[b'H'; 300])),
            (5100, packet(s, c, FA, 7301, 1078, &[])),
            (5200, packet(c, s, Flags::ACK, 1078, 7302, &[])),
            (5400, packet(c, s, FA, 1078, 7302, &[])),
            (5500, packet(s, c, Flags::ACK, 7302, 1079, &[])),
        ];
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for (us, p) in &segs {
            w.write_packet(Instant::from_micros(1_000_000 + us), p)
                .unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn a_connection_from_utcps_pcap() {
        let ladders = build(&pcap::read(&sample_pcap()).unwrap());
        assert_eq!(ladders.len(), 1);
        let l = &ladders[0];
        assert_eq!((l.left, l.right), (CLIENT, SERVER));
        assert_eq!(l.initial, (Closed, Listen));
        let labels: Vec<String> = l.arrows.iter().map(Arrow::label).collect();
        assert_eq!(
            labels,
            [
                "S seq 0 len 0",
                "S. seq 0 ack 1 len 0",
                ". seq 1 ack 1 len 0",
                "P. seq 1 ack 1 len 77",
                ". seq 1 ack 78 len 0",
                "P. seq 1 ack 78 len 300",
                "F. seq 301 ack 78 len 0",
                ". seq 78 ack 302 len 0",
                "F. seq 78 ack 302 len 0",
                ". seq 302 ack 79 len 0",
            ]
        );
        let dirs: Vec<bool> = l.arrows.iter().map(|a| a.rightward).collect();
        assert_eq!(
            dirs,
            [true, false, true, true, false, false, false, true, true, false]
        );
        assert_eq!(l.arrows[1].micros, 3500);
        let states: Vec<(String, String)> = l
            .arrows
            .iter()
            .map(|a| (states_note(&a.left_states), states_note(&a.right_states)))
            .collect();
        let want = [
            ("SYN-SENT", ""),
            ("ESTABLISHED", "SYN-RECEIVED"),
            ("", "ESTABLISHED"),
            ("", ""),
            ("", ""),
            ("", ""),
            ("CLOSE-WAIT", "FIN-WAIT-1"),
            ("", "FIN-WAIT-2"),
            ("LAST-ACK", "TIME-WAIT"),
            ("CLOSED", ""),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(states, want);
    }

    #[test]
    fn connections_are_split_by_address_and_by_new_syn() {
        let other = SocketAddrV4::new(*CLIENT.ip(), 40000);
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        for (i, p) in [
            packet(CLIENT, SERVER, Flags::SYN, 1000, 0, &[]),
            packet(other, SERVER, Flags::SYN, 5, 0, &[]),
            packet(
                SERVER,
                CLIENT,
                Flags(Flags::RST.0 | Flags::ACK.0),
                0,
                1001,
                &[],
            ),
            // The same port again, a new ISN: a new connection.
            packet(CLIENT, SERVER, Flags::SYN, 2000, 0, &[]),
            // A retransmission of it: the same connection.
            packet(CLIENT, SERVER, Flags::SYN, 2000, 0, &[]),
        ]
        .iter()
        .enumerate()
        {
            w.write_packet(Instant::from_micros(i as u64), p).unwrap();
        }
        let ladders = build(&pcap::read(&w.into_inner()).unwrap());
        let counts: Vec<(u16, usize)> = ladders
            .iter()
            .map(|l| (l.left.port(), l.arrows.len()))
            .collect();
        assert_eq!(counts, [(48662, 2), (40000, 1), (48662, 2)]);
        assert_eq!(ladders[0].arrows[1].label(), "R. seq 0 ack 1 len 0");
        assert_eq!(states_note(&ladders[0].arrows[1].left_states), "CLOSED");
    }

    #[test]
    fn non_tcp_and_fragments_are_skipped() {
        let mut p = packet(CLIENT, SERVER, Flags::SYN, 1, 0, &[]);
        assert!(tcp_segment(&p).is_some());
        p[9] = 17;
        assert!(tcp_segment(&p).is_none());
        let mut f = packet(CLIENT, SERVER, Flags::SYN, 1, 0, &[]);
        f[7] = 1;
        assert!(tcp_segment(&f).is_none());
        // A payload cut by the snap length keeps its length.
        let full = packet(CLIENT, SERVER, PA, 1, 1, &[0u8; 500]);
        let (_, _, _, len) = tcp_segment(&full[..100]).unwrap();
        assert_eq!(len, 500);
    }
}

//! Device offloads on the fake clock: segments larger than the MSS on
//! receive (GRO/GSO super-packets from a TUN with the virtio-net header),
//! checksums the device vouches for or completes, and TSO super-segments
//! on send, with losses retransmitted as ordinary MSS-sized segments.

mod common;
use common::*;
use core::time::Duration;
use utcp_core::stack::{DropReason, Offload, SocketId};
use utcp_core::wire::ipv4::{self, Ipv4Repr, PROTO_TCP};
use utcp_core::wire::{checksum, Flags, Options, SackBlock, SeqNum, TcpRepr};

const P: u32 = PEER_ISS + 1; // the peer's first data byte
const MSS: usize = 1460;

fn offloaded() -> Harness {
    Harness::with_config(|c| c.offload = Offload { checksum: true, tso: true })
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// A client connection with MSS 1460 and SACK, the peer's window 64 KiB
/// scaled by 2^4, so the congestion window is the limit.
fn established(h: &mut Harness) -> (SocketId, u32) {
    let opts = Options { mss: Some(MSS as u16), sack_permitted: true, window_scale: Some(4), ..Options::default() };
    h.established_client_with(opts)
}

/// The packet the peer's kernel would hand a TUN reader with NEEDS_CSUM:
/// the TCP checksum field holds only the pseudo-header sum.
fn partial_packet(tcp: &TcpRepr, data: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; ipv4::HEADER_LEN + tcp.header_len() + data.len()];
    let hlen = tcp.header_len();
    buf[ipv4::HEADER_LEN + hlen..].copy_from_slice(data);
    let n = tcp.emit_in_place_with(&mut buf[ipv4::HEADER_LEN..], PEER, LOCAL, data.len(), true);
    Ipv4Repr::new(PEER, LOCAL, PROTO_TCP, n).emit(&mut buf);
    buf
}

#[test]
fn a_segment_larger_than_the_mss_is_ordinary_data() {
    let mut h = Harness::new();
    let (_, c, iss) = h.established_server();
    let data = pattern(20 * MSS);
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).data(&data));
    // More than two full segments' worth arrived: ACKed at once.
    let ack = h.expect_one();
    assert_eq!((ack.flags(), ack.ack()), (Flags::ACK, P + data.len() as u32));
    assert_eq!(h.read_all(c), data);
}

#[test]
fn a_trusted_packet_is_not_summed_again_an_untrusted_one_is() {
    let mut h = Harness::new();
    let (_, c, iss) = h.established_server();
    let data = pattern(3 * MSS + 100);
    let tcp = seg(Flags::ACK).seq(P).ack(iss + 1).tcp;
    let pkt = partial_packet(&tcp, &data);
    h.send_raw(&pkt);
    assert_eq!(h.stack.stats().drops(DropReason::BadTcpChecksum), 1);
    assert!(h.read_all(c).is_empty());
    let now = h.now;
    h.stack.receive_trusted(now, &pkt);
    assert_eq!(h.read_all(c), data);
    assert_eq!(h.expect_one().ack(), P + data.len() as u32);
}

#[test]
fn tso_sends_one_super_segment_of_whole_mss_pieces_within_cwnd() {
    let mut h = offloaded();
    let (c, iss) = established(&mut h);
    let data = pattern(100_000);
    assert_eq!(h.stack.send(c, &data), Ok(data.len()));
    let out = h.transmits();
    // The initial window of ten segments (RFC 6928) goes as one packet.
    assert_eq!(out.len(), 1, "{:?}", out.iter().map(|(t, _)| t).collect::<Vec<_>>());
    let (t, pkt) = &out[0];
    assert_eq!(t.segment_size, Some(MSS as u16));
    assert!(t.partial_checksum);
    assert_eq!(t.len, ipv4::HEADER_LEN + 20 + 10 * MSS);
    let pieces = device(*t, pkt);
    assert_eq!(pieces.len(), 10);
    for (i, p) in pieces.iter().enumerate() {
        let (ip, payload) = Ipv4Repr::parse(p).unwrap();
        let (tcp, d) = TcpRepr::parse(payload, ip.src, ip.dst, true).unwrap();
        assert_eq!(tcp.seq, SeqNum(iss + 1) + i * MSS);
        assert_eq!(d, &data[i * MSS..(i + 1) * MSS]);
    }
    assert_eq!(h.stack.stats().segments_out, 2 + 10, "SYN, ACK, then ten wire segments");
    // Each ACK of two segments opens cwnd by two (slow start): the next
    // super-segment carries four.
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + 2 * MSS as u32));
    let out = h.transmits();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.len, ipv4::HEADER_LEN + 20 + 4 * MSS);
}

#[test]
fn tso_leaves_a_short_tail_to_its_own_segment() {
    let mut h = offloaded();
    let (c, iss) = established(&mut h);
    h.stack.set_nodelay(c, true).unwrap();
    let data = pattern(3 * MSS + 620);
    h.stack.send(c, &data).unwrap();
    let out = h.transmits();
    let sizes: Vec<_> = out.iter().map(|(t, _)| (t.len - 40, t.segment_size)).collect();
    assert_eq!(sizes, [(3 * MSS, Some(MSS as u16)), (620, None)]);
    // Only the last wire segment carries PSH, as with segments sent one by one.
    let segs = h_output_of(&out);
    assert_eq!(segs.iter().map(|s| s.flags().psh()).collect::<Vec<_>>(), [false, false, false, true]);
    assert_eq!(segs[3].seq(), iss + 1 + 3 * MSS as u32);
}

fn h_output_of(out: &[(utcp_core::stack::Transmit, Vec<u8>)]) -> Vec<Seg> {
    out.iter()
        .flat_map(|(t, p)| device(*t, p))
        .map(|p| {
            let (ip, payload) = Ipv4Repr::parse(&p).unwrap();
            let (tcp, d) = TcpRepr::parse(payload, ip.src, ip.dst, true).unwrap();
            Seg { tcp, data: d.to_vec() }
        })
        .collect()
}

#[test]
fn a_lost_piece_is_retransmitted_alone_as_one_mss_segment() {
    let mut h = offloaded();
    let (c, iss) = established(&mut h);
    h.stack.send(c, &pattern(100_000)).unwrap();
    assert_eq!(h.transmits().len(), 1);
    // The first piece is lost; the peer SACKs the others, one more each
    // time, until the third duplicate ACK (the first changed the window
    // from the SYN-ACK's unscaled one, so it is no duplicate).
    let base = SeqNum(iss + 1);
    let mut out = Vec::new();
    for k in 2..=5 {
        let sack = SackBlock { left: base + MSS, right: base + k * MSS };
        let mut o = Options::default();
        o.set_sacks(&[sack]);
        h.send(seg(Flags::ACK).seq(P).ack(iss + 1).opts(o));
        out.extend(h.transmits());
    }
    assert_eq!(h.stack.stats().fast_retransmits, 1);
    // Limited transmit (RFC 3042) let new data out, then the lost piece
    // went again, alone, as an ordinary segment.
    let (t, p) = out.iter().find(|(_, p)| seq_of(p) == iss + 1).unwrap();
    assert_eq!((t.segment_size, t.len - 40), (None, MSS));
    assert_eq!(h_output_of(&[(*t, p.clone())]).len(), 1);
}

/// The sequence number of the TCP segment in an IPv4 packet.
fn seq_of(p: &[u8]) -> u32 {
    u32::from_be_bytes([p[24], p[25], p[26], p[27]])
}

#[test]
fn after_a_timeout_go_back_n_resends_in_super_segments_up_to_snd_max_only() {
    let mut h = offloaded();
    let (c, iss) = established(&mut h);
    h.stack.send(c, &pattern(100_000)).unwrap();
    assert_eq!(h.transmits().len(), 1);
    // First the tail loss probe (RFC 8985 §7) ...
    h.advance(Duration::from_millis(500));
    let probe = h_output_of(&h.transmits());
    assert_eq!((probe.len(), h.stack.stats().tlp_probes), (1, 1));
    // ... then, unanswered, the timeout.
    let retrans_before = h.stack.stats().retransmits;
    h.advance(Duration::from_secs(1));
    assert_eq!(h.stack.stats().rto_expirations, 1);
    // cwnd is one segment after the timeout (RFC 5681 §3.1).
    let out = h.transmits();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0.segment_size, out[0].0.len - 40), (None, MSS));
    assert_eq!(h_output_of(&out)[0].seq(), iss + 1);
    // The ACK opens cwnd to two segments: two more of the lost ten go again
    // as one super-segment, counted as two retransmissions.
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + MSS as u32));
    let out = h.transmits();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0.segment_size, out[0].0.len - 40), (Some(MSS as u16), 2 * MSS));
    assert_eq!(h.stack.stats().retransmits - retrans_before, 3);
    // Near SND.MAX the super-segment stops there; new data goes apart.
    let mut segs = Vec::new();
    for acked in [3, 5] {
        h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + acked * MSS as u32));
        segs.extend(h_output_of(&h.transmits()));
    }
    let snd_max = iss + 1 + 10 * MSS as u32;
    assert!(segs.iter().any(|s| s.seq() + s.len() as u32 == snd_max));
    let stats = h.stack.stats();
    assert_eq!(stats.retransmits - retrans_before, 10, "each lost segment once");
}

#[test]
fn partial_checksums_complete_to_valid_segments() {
    let mut h = offloaded();
    let (c, _) = established(&mut h);
    h.stack.send(c, b"hello").unwrap();
    let out = h.transmits();
    assert_eq!(out.len(), 1);
    let (t, pkt) = &out[0];
    assert!(t.partial_checksum && t.segment_size.is_none());
    let (ip, payload) = Ipv4Repr::parse(pkt).unwrap();
    assert!(TcpRepr::parse(payload, ip.src, ip.dst, true).is_err());
    let field = u16::from_be_bytes([payload[16], payload[17]]);
    assert_eq!(field, !checksum::finish(checksum::pseudo_header(ip.src, ip.dst, PROTO_TCP, payload.len())));
    assert_eq!(h_output_of(&out)[0].data, b"hello");
}

/// A stack behind an offloading device: what it hands the device leaves
/// as the device would send it (checksums completed, super-segments cut).
struct Device {
    stack: utcp_core::stack::Stack,
    queue: std::collections::VecDeque<Vec<u8>>,
    super_segments: u64,
}

impl utcp_core::sim::Node for Device {
    fn receive(&mut self, now: utcp_core::Instant, packet: &[u8]) {
        self.stack.receive(now, packet)
    }
    fn poll_transmit(&mut self, now: utcp_core::Instant, buf: &mut [u8]) -> Option<usize> {
        if self.queue.is_empty() {
            let mut big = vec![0u8; 65536];
            let t = self.stack.transmit(now, &mut big)?;
            self.super_segments += t.segment_size.is_some() as u64;
            self.queue.extend(device(t, &big[..t.len]));
        }
        let p = self.queue.pop_front()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }
    fn poll_at(&self) -> Option<utcp_core::Instant> {
        if !self.queue.is_empty() {
            return Some(utcp_core::Instant::ZERO);
        }
        self.stack.poll_at()
    }
    fn handle_timeout(&mut self, now: utcp_core::Instant) {
        self.stack.handle_timeout(now)
    }
}

/// Two offloading stacks over a lossy, reordering wire move a megabyte
/// each way; every byte arrives in order, and super-segments were used.
#[test]
fn tso_pairs_survive_loss_and_reordering() {
    use core::net::{Ipv4Addr, SocketAddrV4};
    use utcp_core::sim::{Impairments, Sim};
    use utcp_core::stack::{Stack, StackConfig};
    use utcp_core::Instant;
    let (a_ip, b_ip) = (Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 1));
    let node = |ip, seed| {
        let mut cfg = StackConfig::new(ip);
        cfg.seed = seed;
        cfg.offload = Offload { checksum: true, tso: true };
        Device { stack: Stack::new(cfg), queue: Default::default(), super_segments: 0 }
    };
    for seed in 1..=4u64 {
        let imp = Impairments {
            loss: 0.02,
            reorder: 0.02,
            delay: Duration::from_millis(2),
            rate_bps: Some(1_000_000_000),
            ..Impairments::default()
        };
        let mut sim = Sim::new(node(a_ip, seed), node(b_ip, seed + 100), imp, imp, seed);
        let l = sim.b.stack.socket();
        sim.b.stack.bind(l, SocketAddrV4::new(b_ip, 80)).unwrap();
        sim.b.stack.listen(l, 4).unwrap();
        let c = sim.a.stack.socket();
        let now = sim.now;
        let _ = sim.a.stack.connect(now, c, SocketAddrV4::new(b_ip, 80));
        let mut server = None;
        assert!(sim.run_until(Instant::from_secs(10), |s| {
            server = server.or_else(|| s.b.stack.accept(l).ok().map(|(id, _)| id));
            server.is_some()
        }));
        let s_id = server.unwrap();
        let data = pattern(1 << 20);
        let (mut sent, mut got) = ([0usize; 2], [Vec::new(), Vec::new()]);
        let mut buf = vec![0u8; 65536];
        let ok = sim.run_until(Instant::from_secs(120), |s| {
            let now = s.now;
            if let Ok(n) = s.a.stack.send(c, &data[sent[0]..]) {
                sent[0] += n;
            }
            if let Ok(n) = s.b.stack.send(s_id, &data[sent[1]..]) {
                sent[1] += n;
            }
            while let Ok(n @ 1..) = s.b.stack.recv(now, s_id, &mut buf, false) {
                got[0].extend_from_slice(&buf[..n]);
            }
            while let Ok(n @ 1..) = s.a.stack.recv(now, c, &mut buf, false) {
                got[1].extend_from_slice(&buf[..n]);
            }
            got[0].len() == data.len() && got[1].len() == data.len()
        });
        assert!(ok, "seed {seed}: got {} and {} of {}", got[0].len(), got[1].len(), data.len());
        assert!(got[0] == data && got[1] == data, "seed {seed}: data differs");
        assert!(sim.a.super_segments > 0 && sim.b.super_segments > 0);
        assert!(sim.a.stack.stats().retransmits > 0, "seed {seed}: the loss was felt");
    }
}

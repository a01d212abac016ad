//! The receive path above the connections: closed ports (RFC 9293
//! §3.10.7.1), LISTEN (§3.10.7.2), backlog and SYN cookies, ISN and port
//! randomisation, ICMP, IPv4 fragments and malformed packets.

mod common;
use common::*;
use core::net::{Ipv4Addr, SocketAddrV4};
use utcp_core::socket::Errno;
use utcp_core::stack::DropReason;
use utcp_core::tcp::State;
use utcp_core::time::Instant;
use utcp_core::wire::checksum;
use utcp_core::wire::icmp::{self, IcmpRepr};
use utcp_core::wire::ipv4::{self, Ipv4Repr, PROTO_ICMP, PROTO_TCP};
use utcp_core::wire::{Flags, Options};

const MSS: Options = Options {
    mss: Some(1460),
    window_scale: None,
    sack_permitted: false,
    timestamps: None,
    sack_blocks: [utcp_core::wire::SackBlock { left: utcp_core::wire::SeqNum(0), right: utcp_core::wire::SeqNum(0) }; 4],
    sack_len: 0,
};

fn drops(h: &Harness, r: DropReason) -> u64 {
    h.stack.stats().drops(r)
}

/// A whole IPv4 packet from the peer carrying an ICMP message.
fn icmp_packet(msg: &IcmpRepr) -> Vec<u8> {
    let mut buf = vec![0u8; ipv4::HEADER_LEN + msg.buffer_len()];
    msg.emit(&mut buf[ipv4::HEADER_LEN..]);
    Ipv4Repr::new(PEER, LOCAL, PROTO_ICMP, msg.buffer_len()).emit(&mut buf);
    buf
}

/// The TCP bytes (header and payload) of a peer segment.
fn tcp_bytes(b: &SegBuilder) -> Vec<u8> {
    packet(PEER, LOCAL, &b.tcp, &b.data)[ipv4::HEADER_LEN..].to_vec()
}

/// One IPv4 fragment from the peer: `part` of a TCP datagram at byte `offset`.
fn fragment(ident: u16, offset: usize, part: &[u8], more: bool) -> Vec<u8> {
    let mut ip = Ipv4Repr::new(PEER, LOCAL, PROTO_TCP, part.len());
    ip.ident = ident;
    ip.dont_frag = false;
    ip.more_frags = more;
    ip.frag_offset = offset as u16;
    let mut buf = vec![0u8; ipv4::HEADER_LEN + part.len()];
    ip.emit(&mut buf);
    buf[ipv4::HEADER_LEN..].copy_from_slice(part);
    buf
}

/// Recompute the TCP checksum of a peer packet after editing it.
fn fix_tcp_checksum(pkt: &mut [u8]) {
    let tcp = &mut pkt[ipv4::HEADER_LEN..];
    tcp[16..18].copy_from_slice(&[0, 0]);
    let acc = checksum::pseudo_header(PEER, LOCAL, PROTO_TCP, tcp.len());
    let c = checksum::finish(checksum::sum(acc, tcp));
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
}

// ----- §3.10.7.1: CLOSED -----

#[test]
fn closed_port_syn_gets_rst_ack_seq_zero_ack_seg_seq_plus_len() {
    let mut h = Harness::new();
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    let rst = h.expect_one();
    assert_eq!(rst.flags(), Flags::RST | Flags::ACK);
    assert_eq!((rst.seq(), rst.ack()), (0, PEER_ISS + 1));
    assert_eq!((rst.tcp.src_port, rst.tcp.dst_port), (LOCAL_PORT, PEER_PORT));
    // No ACK, data and FIN: SEG.LEN counts both.
    h.send(seg(Flags::FIN).seq(PEER_ISS).data(b"abcd"));
    let rst = h.expect_one();
    assert_eq!(rst.flags(), Flags::RST | Flags::ACK);
    assert_eq!((rst.seq(), rst.ack()), (0, PEER_ISS + 5));
    assert_eq!(drops(&h, DropReason::NoSocket), 2);
}

#[test]
fn closed_port_ack_gets_rst_with_seq_seg_ack() {
    let mut h = Harness::new();
    h.send(seg(Flags::ACK).seq(PEER_ISS).ack(123_456).data(b"xyz"));
    let rst = h.expect_one();
    assert_eq!(rst.flags(), Flags::RST, "no ACK bit");
    assert_eq!(rst.seq(), 123_456);
    h.send(seg(Flags::FIN | Flags::ACK).seq(PEER_ISS).ack(777));
    assert_eq!(h.expect_one().seq(), 777);
}

#[test]
fn closed_port_rst_gets_nothing() {
    let mut h = Harness::new();
    h.send(seg(Flags::RST).seq(PEER_ISS));
    h.expect_none();
    h.send(seg(Flags::RST).seq(PEER_ISS).ack(99));
    h.expect_none();
    assert_eq!(h.stack.stats().rst_sent, 0);
}

// ----- §3.10.7.2: LISTEN -----

#[test]
fn listen_ignores_rst() {
    let mut h = Harness::new();
    let l = h.listener(4);
    h.send(seg(Flags::RST).seq(PEER_ISS));
    h.send(seg(Flags::RST).seq(PEER_ISS).ack(1));
    h.expect_none();
    assert_eq!(drops(&h, DropReason::ListenRst), 2);
    assert_eq!(h.state(l), State::Listen);
    assert_eq!(h.stack.connection_count(), 0);
}

#[test]
fn listen_answers_bare_ack_with_rst_seq_seg_ack() {
    let mut h = Harness::new();
    let l = h.listener(4);
    h.send(seg(Flags::ACK).seq(PEER_ISS).ack(4242));
    let rst = h.expect_one();
    assert_eq!(rst.flags(), Flags::RST);
    assert_eq!(rst.seq(), 4242);
    assert_eq!(h.state(l), State::Listen);
    assert_eq!(h.stack.accept(l), Err(Errno::EAGAIN));
}

// ----- backlog and SYN cookies -----

/// A full handshake from peer port `port` to the listener.
fn handshake(h: &mut Harness, port: u16) {
    h.send(seg(Flags::SYN).seq(PEER_ISS).ports(port, LOCAL_PORT).opts(MSS));
    let synack = h.expect_one();
    assert_eq!(synack.flags(), Flags::SYN | Flags::ACK, "port {port}");
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(synack.seq() + 1).ports(port, LOCAL_PORT));
    h.expect_none();
}

#[test]
fn accept_queue_holds_backlog_plus_one_then_syns_dropped() {
    let mut h = Harness::new();
    let l = h.listener(2);
    for port in 7001..=7003 {
        handshake(&mut h, port);
    }
    // Linux: sk_acceptq_is_full is `len > backlog`; a SYN then is dropped.
    h.send(seg(Flags::SYN).seq(PEER_ISS).ports(7004, LOCAL_PORT).opts(MSS));
    h.expect_none();
    assert_eq!(drops(&h, DropReason::AcceptQueueFull), 1);
    assert_eq!(h.stack.connection_count(), 3);
    for port in 7001..=7003 {
        assert_eq!(h.stack.accept(l).unwrap().1, SocketAddrV4::new(PEER, port));
    }
    assert_eq!(h.stack.accept(l), Err(Errno::EAGAIN));
    // Room again: the retransmitted SYN is answered.
    handshake(&mut h, 7004);
    assert!(h.stack.accept(l).is_ok());
}

#[test]
fn syn_queue_full_answers_with_cookie_and_its_ack_is_accepted() {
    let mut h = Harness::new();
    let l = h.listener(1);
    // Linux: the SYN queue is full at `len > backlog`, two children here.
    for port in [7001, 7003] {
        h.send(seg(Flags::SYN).seq(PEER_ISS).ports(port, LOCAL_PORT).opts(MSS));
        assert_eq!(h.expect_one().flags(), Flags::SYN | Flags::ACK);
    }
    assert_eq!(h.stack.connection_count(), 2);
    assert_eq!(h.stack.stats().syn_cookies_sent, 0);
    // The next SYN gets a stateless SYN-ACK: its ISN is the cookie.
    h.send(seg(Flags::SYN).seq(9000).ports(7002, LOCAL_PORT).opts(MSS));
    let synack = h.expect_one();
    assert_eq!(synack.flags(), Flags::SYN | Flags::ACK);
    assert_eq!(synack.ack(), 9001);
    assert_eq!(h.stack.stats().syn_cookies_sent, 1);
    assert_eq!(h.stack.connection_count(), 2, "no state kept for the cookie SYN");
    // The third ACK carries the cookie back: a connection, ready for accept().
    h.send(seg(Flags::ACK).seq(9001).ack(synack.seq() + 1).ports(7002, LOCAL_PORT));
    h.expect_none();
    assert_eq!(h.stack.stats().syn_cookies_accepted, 1);
    let (c, peer) = h.stack.accept(l).unwrap();
    assert_eq!(peer, SocketAddrV4::new(PEER, 7002));
    assert_eq!(h.state(c), State::Established);
    assert_eq!(h.stack.tcb(c).unwrap().iss().0, synack.seq());
    // And it carries data both ways.
    h.send(seg(Flags::ACK).seq(9001).ack(synack.seq() + 1).ports(7002, LOCAL_PORT).data(b"hi"));
    assert_eq!(h.read_all(c), b"hi");
    h.stack.send(c, b"yo").unwrap();
    let out = h.output();
    assert!(out.iter().any(|s| s.data == b"yo" && s.seq() == synack.seq() + 1), "{out:#?}");
}

#[test]
fn forged_ack_with_bad_cookie_gets_rst() {
    let mut h = Harness::new();
    let l = h.listener(0);
    // Backlog 0: one SYN-RECEIVED child fills the SYN queue.
    h.send(seg(Flags::SYN).seq(PEER_ISS).ports(7001, LOCAL_PORT).opts(MSS));
    h.expect_one();
    h.send(seg(Flags::SYN).seq(9000).ports(7002, LOCAL_PORT).opts(MSS));
    let cookie = h.expect_one().seq();
    assert_eq!(h.stack.stats().syn_cookies_sent, 1);
    // Off by one: not the cookie.
    h.send(seg(Flags::ACK).seq(9001).ack(cookie + 2).ports(7002, LOCAL_PORT));
    let rst = h.expect_one();
    assert_eq!(rst.flags(), Flags::RST);
    assert_eq!(rst.seq(), cookie + 2);
    // A guess for a SYN never sent.
    h.send(seg(Flags::ACK).seq(31337).ack(0xdead_beef).ports(7003, LOCAL_PORT));
    assert_eq!(h.expect_one().flags(), Flags::RST);
    assert_eq!(h.stack.stats().syn_cookies_accepted, 0);
    // Both count as failed cookies while cookies are in use.
    assert_eq!(h.stack.stats().drops(DropReason::BadSynCookie), 2);
    assert_eq!(h.stack.accept(l), Err(Errno::EAGAIN));
    assert_eq!(h.stack.connection_count(), 1);
}

// ----- RFC 6528 ISNs and RFC 6056 ports -----

fn not_sequential(v: &[u32], near: u32) -> bool {
    v.windows(2).all(|w| {
        let d = w[1].wrapping_sub(w[0]);
        d > near && d.wrapping_neg() > near
    })
}

#[test]
fn isns_of_consecutive_connections_are_not_sequential() {
    let mut h = Harness::new();
    h.listener(16);
    let mut isns = Vec::new();
    for port in 7001..=7006 {
        h.send(seg(Flags::SYN).seq(PEER_ISS).ports(port, LOCAL_PORT));
        isns.push(h.expect_one().seq());
    }
    // RFC 6528: a keyed hash of the 4-tuple, not a global counter.
    assert!(not_sequential(&isns, 1 << 20), "{isns:x?}");
    // Active opens too.
    let mut h = Harness::new();
    let mut isns = Vec::new();
    for port in 7001..=7006 {
        let c = h.stack.socket();
        let now = h.now;
        h.stack.connect(now, c, SocketAddrV4::new(PEER, port)).unwrap_err();
        isns.push(h.expect_one().seq());
    }
    assert!(not_sequential(&isns, 1 << 20), "{isns:x?}");
}

/// RFC 6191 across stacks: two stacks (two utcp processes) with the host's
/// secret and clock. The second starts 5 s later on the host's clock and
/// opens the same 4-tuple 0.5 s into its life: its SYN carries a higher
/// ISN and TSval than the first stack's, so a peer with the old connection
/// in TIME-WAIT takes it (Linux: tcp_timewait_state_process).
#[test]
fn stacks_sharing_the_host_secret_open_a_reused_tuple_above_the_old_one() {
    let secret = [0x5a; 16];
    let syn_at = |host_clock_us: u64, at: Instant| {
        let mut h = Harness::with_config(|c| {
            c.isn_secret = Some(secret);
            c.host_clock_us = host_clock_us;
            // Each stack has its own seed: only the secret is shared.
            c.seed = host_clock_us;
        });
        h.now = at;
        let (_, syn) = h.connect();
        (syn.seq(), syn.tcp.options.timestamps.expect("SYN has timestamps").0)
    };
    let (isn_a, ts_a) = syn_at(1_000_000, Instant::from_secs(1));
    let (isn_b, ts_b) = syn_at(5_000_000, Instant::from_millis(500));
    // 3.5 s apart on the host's clock: 56 M ticks of the 16 MHz ISN clock, 3500 ms of TSval.
    assert_eq!(isn_b.wrapping_sub(isn_a), 3_500_000 * 16);
    assert_eq!(ts_b.wrapping_sub(ts_a), 3500);
    // Without the shared secret the same tuple's ISN is unrelated.
    let mut h = Harness::with_config(|c| c.seed = 2);
    h.now = Instant::from_millis(500);
    let (_, syn) = h.connect();
    assert_ne!(syn.seq().wrapping_sub(isn_a), 3_500_000 * 16);
}

fn ephemeral_ports(h: &mut Harness, remotes: impl Iterator<Item = SocketAddrV4>) -> Vec<u32> {
    let mut ports = Vec::new();
    for r in remotes {
        let c = h.stack.socket();
        let now = h.now;
        assert_eq!(h.stack.connect(now, c, r), Err(Errno::EINPROGRESS));
        h.expect_one();
        ports.push(u32::from(h.stack.local_addr(c).unwrap().port()));
    }
    ports
}

#[test]
fn ephemeral_ports_to_different_destinations_are_not_sequential() {
    let mut h = Harness::new();
    let ports = ephemeral_ports(&mut h, (7001..=7006).map(|p| SocketAddrV4::new(PEER, p)));
    assert!(not_sequential(&ports, 16), "{ports:?}");
}

/// RFC 6056 Algorithm 4 alone hands one destination consecutive ports;
/// Linux (since 5.18, "tcp: add small random increments to the source
/// port") perturbs each step so they are not sequential.
#[test]
fn ephemeral_ports_to_one_destination_are_not_sequential() {
    let mut h = Harness::new();
    let peer = h.peer_addr();
    let ports = ephemeral_ports(&mut h, core::iter::repeat_n(peer, 8));
    let steps: Vec<u32> = ports.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    assert!(steps.iter().any(|&d| d != 1), "ports {ports:?}");
    assert!(steps.iter().all(|&d| d != 0), "ports {ports:?}");
}

// ----- ICMP -----

#[test]
fn icmp_echo_request_gets_echo_reply() {
    let mut h = Harness::new();
    let req = IcmpRepr::EchoRequest { ident: 0x1234, seq_no: 7, data: b"ping payload" };
    h.send_raw(&icmp_packet(&req));
    let out = h.output_raw();
    assert_eq!(out.len(), 1);
    let (ip, payload) = Ipv4Repr::parse(&out[0]).unwrap();
    assert_eq!((ip.src, ip.dst, ip.protocol), (LOCAL, PEER, PROTO_ICMP));
    assert_eq!(IcmpRepr::parse(payload), Ok(IcmpRepr::EchoReply { ident: 0x1234, seq_no: 7, data: b"ping payload" }));
    assert_eq!(h.stack.stats().icmp_echo_replies, 1);
}

#[test]
fn icmp_port_unreachable_for_our_syn_fails_connect_econnrefused() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    // RFC 792: the quote is our IP header and the first 8 bytes of the SYN.
    let ours = packet(LOCAL, PEER, &syn.tcp, &[]);
    let msg = IcmpRepr::DestUnreachable {
        code: icmp::CODE_PORT_UNREACHABLE,
        next_hop_mtu: 0,
        original: &ours[..ipv4::HEADER_LEN + 8],
    };
    h.send_raw(&icmp_packet(&msg));
    h.expect_none();
    assert_eq!(h.state(c), State::Closed);
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::ECONNREFUSED));
}

#[test]
fn icmp_unreachable_quoting_another_sequence_number_is_ignored() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    let mut forged = syn.tcp;
    forged.seq += 100_000;
    let quote = packet(LOCAL, PEER, &forged, &[]);
    let msg =
        IcmpRepr::DestUnreachable { code: icmp::CODE_PORT_UNREACHABLE, next_hop_mtu: 0, original: &quote[..28] };
    h.send_raw(&icmp_packet(&msg));
    assert_eq!(h.state(c), State::SynSent, "RFC 5927 §4.1: not in flight");
}

// ----- IPv4 fragments -----

#[test]
fn tcp_segment_in_ipv4_fragments_is_reassembled_and_delivered() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    let payload: Vec<u8> = (0..100u8).collect();
    let tcp = tcp_bytes(&seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(&payload));
    assert_eq!(tcp.len(), 120);
    // Out of order: last, first, middle.
    h.send_raw(&fragment(77, 96, &tcp[96..], false));
    h.send_raw(&fragment(77, 0, &tcp[..48], true));
    assert_eq!(h.stack.readable_bytes(c), 0);
    h.send_raw(&fragment(77, 48, &tcp[48..96], true));
    assert_eq!(h.stack.stats().frags_reassembled, 1);
    assert_eq!(h.read_all(c), payload);
    h.advance(core::time::Duration::from_secs(1));
    assert_eq!(h.expect_one().ack(), PEER_ISS + 1 + 100);
}

#[test]
fn overlapping_fragments_are_dropped_and_counted() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    let payload = [0x55u8; 100];
    let tcp = tcp_bytes(&seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(&payload));
    h.send_raw(&fragment(78, 0, &tcp[..48], true));
    h.send_raw(&fragment(78, 40, &tcp[40..96], true));
    assert_eq!(drops(&h, DropReason::FragOverlap), 1);
    h.send_raw(&fragment(78, 96, &tcp[96..], false));
    assert_eq!(h.stack.stats().frags_reassembled, 0);
    assert_eq!(h.stack.readable_bytes(c), 0);
    h.expect_none();
}

// ----- malformed packets -----

#[test]
fn malformed_packets_are_counted_by_reason_and_the_connection_survives() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client();
    let good = || seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(b"evil");
    let base = {
        let b = good();
        packet(PEER, LOCAL, &b.tcp, &b.data)
    };
    let mut cases: Vec<(DropReason, Vec<u8>)> = Vec::new();
    let mut p = base.clone();
    p[10] ^= 0xff; // IP header checksum
    cases.push((DropReason::BadIpChecksum, p));
    let mut p = base.clone();
    *p.last_mut().unwrap() ^= 0xff; // payload byte under the TCP checksum
    cases.push((DropReason::BadTcpChecksum, p));
    cases.push((DropReason::Truncated, base[..base.len() - 3].to_vec()));
    let mut p = base.clone();
    p[ipv4::HEADER_LEN + 12] = 4 << 4; // data offset 16 bytes
    fix_tcp_checksum(&mut p);
    cases.push((DropReason::BadDataOffset, p));
    let mut b = good();
    b.tcp.options = MSS;
    let mut p = packet(PEER, LOCAL, &b.tcp, &b.data);
    p[ipv4::HEADER_LEN + 21] = 0; // MSS option length 0
    fix_tcp_checksum(&mut p);
    cases.push((DropReason::BadOptionLen, p));
    let b = seg(Flags::SYN | Flags::FIN).seq(PEER_ISS + 1);
    cases.push((DropReason::SynFin, packet(PEER, LOCAL, &b.tcp, &b.data)));
    let mut p = base.clone();
    p[0] = 0x65; // version 6
    cases.push((DropReason::NotIpv4, p));
    let b = good();
    cases.push((DropReason::WrongDestination, packet(PEER, Ipv4Addr::new(198, 18, 0, 99), &b.tcp, &b.data)));

    for (reason, pkt) in &cases {
        let before = drops(&h, *reason);
        let total = h.stack.stats().total_drops();
        h.send_raw(pkt);
        assert_eq!(drops(&h, *reason), before + 1, "{reason:?}");
        assert_eq!(h.stack.stats().total_drops(), total + 1, "{reason:?} counted once");
        h.expect_none();
    }
    assert_eq!(h.state(c), State::Established);
    assert_eq!(h.stack.readable_bytes(c), 0);
    // The connection still works both ways.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(b"fine"));
    assert_eq!(h.read_all(c), b"fine");
    h.stack.send(c, b"ok").unwrap();
    let out = h.output();
    assert!(out.iter().any(|s| s.data == b"ok" && s.ack() == PEER_ISS + 5), "{out:#?}");
}

#[test]
fn cookie_ack_dropped_on_full_accept_queue_later_segments_reset_first_data_connects() {
    let mut h = Harness::new();
    let l = h.listener(1);
    let ts = Options { timestamps: Some((1000, 0)), window_scale: Some(10), sack_permitted: true, ..MSS };
    let mut synacks = Vec::new();
    for port in [7001, 7003] {
        h.send(seg(Flags::SYN).seq(PEER_ISS).ports(port, LOCAL_PORT).opts(ts));
        synacks.push(h.expect_one());
    }
    h.send(seg(Flags::SYN).seq(9000).ports(7002, LOCAL_PORT).opts(ts));
    let synack = h.expect_one();
    assert_eq!(h.stack.stats().syn_cookies_sent, 1);
    let tsval = synack.tcp.options.timestamps.unwrap().0;
    // The two SYN-RECEIVED children complete and fill the accept queue.
    for (port, sa) in [7001, 7003].into_iter().zip(&synacks) {
        let o = Options { timestamps: Some((1001, sa.tcp.options.timestamps.unwrap().0)), ..Options::default() };
        h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(sa.seq() + 1).ports(port, LOCAL_PORT).opts(o));
    }
    h.expect_none();
    // Linux: the cookie's ACK finds the accept queue full and is dropped.
    let ack_ts = Options { timestamps: Some((1001, tsval)), ..Options::default() };
    h.send(seg(Flags::ACK).seq(9001).ack(synack.seq() + 1).ports(7002, LOCAL_PORT).opts(ack_ts));
    h.expect_none();
    assert_eq!(drops(&h, DropReason::AcceptQueueFull), 1);
    // Linux: a later segment no longer starts at the client's ISN + 1, so
    // it cannot carry the cookie (cookie_v4_check fails) and is answered
    // as any ACK to a listener: with RST. A server that lets its accept
    // queue overflow under SYN cookies resets such clients, as Linux does.
    let later = Options { timestamps: Some((1002, tsval)), ..Options::default() };
    h.send(seg(Flags::ACK | Flags::FIN).seq(9001 + 1448).ack(synack.seq() + 1).ports(7002, LOCAL_PORT).opts(later));
    let rst = h.expect_one();
    assert_eq!((rst.flags(), rst.seq()), (Flags::RST, synack.seq() + 1));
    assert_eq!(drops(&h, DropReason::BadSynCookie), 1);
    h.stack.accept(l).unwrap();
    // The client's first data carries the cookie again: now there is room.
    let data_ts = Options { timestamps: Some((1003, tsval)), ..Options::default() };
    h.send(seg(Flags::ACK).seq(9001).ack(synack.seq() + 1).ports(7002, LOCAL_PORT).data(b"hi").opts(data_ts));
    let out = h.output();
    assert!(out.iter().all(|s| !s.flags().contains(Flags::RST)), "{out:#?}");
    assert_eq!(h.stack.stats().syn_cookies_accepted, 1);
}

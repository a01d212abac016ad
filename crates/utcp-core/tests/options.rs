//! TCP options and windows: MSS (RFC 9293 §3.7.1), window scale and
//! timestamps with PAWS (RFC 7323), SACK (RFC 2018), and the receive
//! window (RFC 9293 §3.8.6).

mod common;
use common::*;
use utcp_core::stack::{DropReason, SocketId};
use utcp_core::wire::ipv4;
use utcp_core::wire::{Flags, Options, SackBlock, SeqNum};

/// Everything a Linux peer offers in its SYN, with TSval `tsval`.
fn full(tsval: u32) -> Options {
    Options {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some((tsval, 0)),
        ..Options::default()
    }
}

fn mss_only(mss: u16) -> Options {
    Options { mss: Some(mss), ..Options::default() }
}

fn ts(val: u32, ecr: u32) -> Options {
    Options { timestamps: Some((val, ecr)), ..Options::default() }
}

fn sacks(blocks: &[(u32, u32)]) -> Options {
    let b: Vec<SackBlock> = blocks.iter().map(|&(l, r)| SackBlock { left: SeqNum(l), right: SeqNum(r) }).collect();
    let mut o = Options::default();
    o.set_sacks(&b);
    o
}

fn block_pairs(s: &Seg) -> Vec<(u32, u32)> {
    s.tcp.options.sacks().iter().map(|b| (b.left.0, b.right.0)).collect()
}

/// Active open, with a socket configured before connect().
fn connect_with(h: &mut Harness, f: impl FnOnce(&mut Harness, SocketId)) -> (SocketId, Seg) {
    let c = h.stack.socket();
    f(h, c);
    h.stack.bind(c, h.local_addr()).unwrap();
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(utcp_core::socket::Errno::EINPROGRESS));
    let syn = h.expect_one();
    (c, syn)
}

const P: u32 = PEER_ISS + 1; // the peer's first data byte

#[test]
fn syn_carries_mss_sackok_ts_nop_wscale7_in_linux_layout_and_window_64240() {
    let mut h = Harness::new();
    let c = h.stack.socket();
    h.stack.bind(c, h.local_addr()).unwrap();
    let now = h.now;
    let _ = h.stack.connect(now, c, h.peer_addr());
    let pkts = h.output_raw();
    assert_eq!(pkts.len(), 1);
    let tcp = &pkts[0][ipv4::HEADER_LEN..];
    assert_eq!(tcp[12] >> 4, 10, "40-byte header: 20 bytes of options");
    assert_eq!(tcp[13], 0x02, "SYN only");
    assert_eq!(u16::from_be_bytes([tcp[14], tcp[15]]), 64240);
    let opts = &tcp[20..40];
    assert_eq!(&opts[..4], &[2, 4, 0x05, 0xb4], "mss 1460");
    assert_eq!(&opts[4..8], &[4, 2, 8, 10], "sackOK then TS");
    assert_eq!(&opts[12..16], &[0, 0, 0, 0], "TSecr 0 in a SYN");
    assert_eq!(&opts[16..20], &[1, 3, 3, 7], "nop, wscale 7");
}

#[test]
fn mss_comes_from_the_mtu() {
    let mut h = Harness::with_config(|c| c.mtu = 9000);
    let (_, syn) = h.connect();
    assert_eq!(syn.tcp.options.mss, Some(8960));
}

#[test]
fn segments_are_clamped_to_peer_mss_minus_timestamp_bytes() {
    let mut h = Harness::with_config(|c| c.mtu = 9000);
    let (c, iss) = h.established_client_with(Options { timestamps: Some((100, 0)), ..mss_only(1000) });
    h.stack.set_nodelay(c, true).unwrap();
    h.stack.send(c, &[7u8; 3000]).unwrap();
    let out = h.output();
    let lens: Vec<usize> = out.iter().map(|s| s.len()).collect();
    assert_eq!(lens, [988, 988, 988, 36]);
    assert_eq!(out[1].seq(), iss + 1 + 988);
    assert_eq!(h.stack.tcp_info(c).unwrap().snd_mss, 988);
}

#[test]
fn no_mss_option_from_peer_means_536() {
    let mut h = Harness::new();
    let (c, _) = h.established_client_with(Options::default());
    h.stack.set_nodelay(c, true).unwrap();
    h.stack.send(c, &[1u8; 1200]).unwrap();
    let lens: Vec<usize> = h.output().iter().map(|s| s.len()).collect();
    assert_eq!(lens, [536, 536, 128]);
}

#[test]
fn window_scale_applies_both_ways_when_both_offer_it_but_never_in_syn() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    assert_eq!(syn.tcp.window, 64240, "SYN window is unscaled");
    // The SYN-ACK's window is not scaled either (RFC 7323 §2.2).
    let o = Options { window_scale: Some(2), ..mss_only(1460) };
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(syn.seq() + 1).opts(o).win(1000));
    let ack = h.expect_one();
    assert_eq!(h.stack.tcb(c).unwrap().peer_window(), 1000);
    // Ours: 256 KiB buffer >> 7.
    assert_eq!(ack.tcp.window, ((256 * 1024) >> 7) as u16);
    // Later windows from the peer are shifted by its 2.
    h.send(seg(Flags::ACK).seq(P).ack(syn.seq() + 1).win(1000));
    assert_eq!(h.stack.tcb(c).unwrap().peer_window(), 4000);
    assert_eq!(h.stack.tcp_info(c).unwrap().snd_wscale, 2);
    assert_eq!(h.stack.tcp_info(c).unwrap().rcv_wscale, 7);
}

#[test]
fn active_opener_window_is_its_buffer_whatever_the_peer_iss() {
    // The SYN's window edge was computed before the peer's ISN was known;
    // it must not survive into the connection (a random ISN made it look
    // ahead half the time, and the window then advertised 8 MiB).
    for iss in [PEER_ISS, 0x9000_0000, 0xffff_ff00, 0x8000_fb00] {
        let mut h = Harness::new();
        let (_, syn) = h.connect();
        let o = Options { window_scale: Some(2), ..mss_only(1460) };
        h.send(seg(Flags::SYN).seq(iss).ack(syn.seq() + 1).opts(o).win(1000));
        let ack = h.expect_one();
        assert_eq!(ack.tcp.window, ((256 * 1024) >> 7) as u16, "peer ISS {iss:#x}");
    }
}

#[test]
fn no_window_scale_unless_the_peer_offers_it() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(syn.seq() + 1).opts(mss_only(1460)).win(1000));
    let ack = h.expect_one();
    assert_eq!(ack.tcp.window, 65535, "256 KiB, unscaled, capped at 65535");
    h.send(seg(Flags::ACK).seq(P).ack(syn.seq() + 1).win(1000));
    assert_eq!(h.stack.tcb(c).unwrap().peer_window(), 1000);
    assert_eq!(h.stack.tcp_info(c).unwrap().rcv_wscale, 0);
}

#[test]
fn syn_ack_offers_options_only_if_the_syn_did() {
    let mut h = Harness::new();
    h.listener(8);
    h.send(seg(Flags::SYN).seq(PEER_ISS).opts(mss_only(1460)));
    let bare = h.expect_one();
    assert_eq!(bare.flags(), Flags::SYN | Flags::ACK);
    assert_eq!(bare.tcp.options, mss_only(1460));

    let mut h = Harness::new();
    h.listener(8);
    h.send(seg(Flags::SYN).seq(PEER_ISS).opts(full(777)));
    let o = h.expect_one().tcp.options;
    assert_eq!(o.mss, Some(1460));
    assert!(o.sack_permitted);
    assert_eq!(o.window_scale, Some(7));
    assert_eq!(o.timestamps.map(|t| t.1), Some(777), "TSecr echoes the SYN's TSval");
}

#[test]
fn tsecr_echoes_peer_tsval_and_ts_recent_updates_only_in_order() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client_with(full(1000));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).data(b"aaaa").opts(ts(1001, 0)));
    assert_eq!(h.expect_one().tcp.options.timestamps.unwrap().1, 1001);
    // Out of order (a hole of 4 bytes): the ACK still echoes 1001.
    h.send(seg(Flags::ACK).seq(P + 8).ack(iss + 1).data(b"cccc").opts(ts(1005, 0)));
    assert_eq!(h.expect_one().tcp.options.timestamps.unwrap().1, 1001);
    assert_eq!(h.stack.tcb(c).unwrap().ts_recent(), 1001);
    // The hole fills in order: its TSval is the one recorded.
    h.send(seg(Flags::ACK).seq(P + 4).ack(iss + 1).data(b"bbbb").opts(ts(1006, 0)));
    let ack = h.expect_one();
    assert_eq!(ack.ack(), P + 12);
    assert_eq!(ack.tcp.options.timestamps.unwrap().1, 1006);
}

#[test]
fn paws_drops_an_old_tsval_segment_and_acks() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client_with(full(1000));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).data(b"new!").opts(ts(2000, 0)));
    h.expect_one();
    h.send(seg(Flags::ACK).seq(P + 4).ack(iss + 1).data(b"old!").opts(ts(1500, 0)));
    let ack = h.expect_one();
    assert_eq!(ack.flags(), Flags::ACK);
    assert_eq!(ack.ack(), P + 4, "the old segment is not accepted");
    assert_eq!(h.stack.stats().drops(DropReason::PawsRejected), 1);
    assert_eq!(h.read_all(c), b"new!");
}

/// Linux: TCP_PAWS_WINDOW. A TSval one tick behind TS.Recent is not
/// "old" (RFC 7323 §5.3 R1 with Linux's slack): segments sent in the same
/// millisecond and reordered by a hair must not be thrown away.
#[test]
fn paws_lets_a_tsval_one_tick_behind_pass() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client_with(full(1000));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).data(b"new!").opts(ts(2000, 0)));
    h.expect_one();
    h.send(seg(Flags::ACK).seq(P + 4).ack(iss + 1).data(b"next").opts(ts(1999, 0)));
    assert_eq!(h.expect_one().ack(), P + 8);
    assert_eq!(h.stack.stats().drops(DropReason::PawsRejected), 0);
    assert_eq!(h.read_all(c), b"new!next");
    // TS.Recent does not move back (RFC 7323 §4.3: only SEG.TSval >= TS.Recent).
    assert_eq!(h.stack.tcb(c).unwrap().ts_recent(), 2000);
}

/// A duplicate that fails PAWS (the original, reordered behind the
/// sender's retransmission) is answered with a D-SACK block (RFC 2883;
/// Linux: tcp_send_dupack), so the sender learns the retransmission was
/// spurious.
#[test]
fn paws_rejected_duplicate_is_reported_in_a_dsack_block() {
    let mut h = Harness::new();
    let (_, iss) = h.established_client_with(full(1000));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).data(&[1; 100]).opts(ts(2000, 0)));
    h.expect_one();
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).data(&[1; 100]).opts(ts(1900, 0)));
    let ack = h.expect_one();
    assert_eq!(ack.ack(), P + 100);
    assert_eq!(block_pairs(&ack), [(P, P + 100)]);
    assert_eq!(h.stack.stats().drops(DropReason::PawsRejected), 1);
}

/// Linux: tcp_disordered_ack. A pure duplicate ACK that changes nothing,
/// with a TSval older than TS.Recent but within about an RTO, was merely
/// reordered: it passes PAWS and counts as a duplicate ACK.
#[test]
fn a_reordered_duplicate_ack_passes_paws() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client_with(full(1000));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).data(b"data").opts(ts(2000, 0)));
    h.expect_one();
    h.stack.send(c, &[5; 3000]).unwrap();
    assert_eq!(h.output().len(), 3);
    // A first duplicate ACK with a fresh TSval, then one sent before it.
    h.send(seg(Flags::ACK).seq(P + 4).ack(iss + 1).opts(ts(2010, 0)));
    h.send(seg(Flags::ACK).seq(P + 4).ack(iss + 1).opts(ts(2005, 0)));
    h.expect_none();
    assert_eq!(h.stack.stats().drops(DropReason::PawsRejected), 0);
    // The third duplicate starts fast retransmit (RFC 5681 §3.2): the
    // reordered one counted.
    h.send(seg(Flags::ACK).seq(P + 4).ack(iss + 1).opts(ts(2011, 0)));
    assert_eq!(h.expect_one().seq(), iss + 1);
    // Data that old is still rejected: it is no reordered ACK.
    h.send(seg(Flags::ACK).seq(P + 4).ack(iss + 1).data(b"late").opts(ts(2005, 0)));
    h.expect_one();
    assert_eq!(h.stack.stats().drops(DropReason::PawsRejected), 1);
}

#[test]
fn out_of_order_data_gets_immediate_ack_with_sack_blocks_most_recent_first() {
    let mut h = Harness::new();
    let (c, iss) = h.established_client_with(full(1000));
    // Leave the quick-ack phase so "immediate" is not just quick-ack.
    for i in 0..16u32 {
        h.send(seg(Flags::ACK).seq(P + i).ack(iss + 1).data(b"x").opts(ts(1000, 0)));
        h.expect_one();
    }
    let base = P + 16;
    h.send(seg(Flags::ACK).seq(base + 100).ack(iss + 1).data(&[1; 100]).opts(ts(1000, 0)));
    let a1 = h.expect_one();
    assert_eq!(a1.ack(), base);
    assert_eq!(block_pairs(&a1), [(base + 100, base + 200)]);
    h.send(seg(Flags::ACK).seq(base + 300).ack(iss + 1).data(&[2; 100]).opts(ts(1000, 0)));
    let a2 = h.expect_one();
    // RFC 2018 §4: the first block holds the segment that triggered the ACK.
    assert_eq!(block_pairs(&a2), [(base + 300, base + 400), (base + 100, base + 200)]);
    // Filling both holes removes every block.
    h.send(seg(Flags::ACK).seq(base).ack(iss + 1).data(&[0; 100]).opts(ts(1000, 0)));
    let a3 = h.expect_one();
    assert_eq!(block_pairs(&a3), [(base + 300, base + 400)]);
    h.send(seg(Flags::ACK).seq(base + 200).ack(iss + 1).data(&[0; 100]).opts(ts(1000, 0)));
    let a4 = h.expect_one();
    assert_eq!(a4.ack(), base + 400);
    assert!(block_pairs(&a4).is_empty());
    assert_eq!(h.read_all(c).len(), 416);
}

#[test]
fn fast_recovery_retransmits_only_the_holes_the_peer_did_not_sack() {
    let mut h = Harness::new();
    let o = Options { sack_permitted: true, ..mss_only(1000) };
    let (c, iss) = h.established_client_with(o);
    h.stack.send(c, &[9u8; 5000]).unwrap();
    assert_eq!(h.output().len(), 5);
    let una = iss + 1;
    // Segments 0 and 2 are lost; the peer SACKs 1, 3 and 4.
    h.send(seg(Flags::ACK).seq(P).ack(una).opts(sacks(&[(una + 1000, una + 2000)])));
    h.send(seg(Flags::ACK).seq(P).ack(una).opts(sacks(&[(una + 3000, una + 4000), (una + 1000, una + 2000)])));
    h.expect_none();
    h.send(seg(Flags::ACK).seq(P).ack(una).opts(sacks(&[(una + 3000, una + 5000), (una + 1000, una + 2000)])));
    let re: Vec<(u32, usize)> = h.output().iter().map(|s| (s.seq(), s.len())).collect();
    assert_eq!(re, [(una, 1000), (una + 2000, 1000)]);
}

#[test]
fn receive_window_shrinks_as_data_is_buffered_then_reopens_with_an_update() {
    let mut h = Harness::new();
    let (c, syn) = connect_with(&mut h, |h, c| h.stack.set_buffer_sizes(c, None, Some(4000)).unwrap());
    assert_eq!(syn.tcp.window, 2920, "4000 rounded down to whole MSS in the SYN");
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(syn.seq() + 1).opts(mss_only(1460)));
    assert_eq!(h.expect_one().tcp.window, 4000);
    let a = syn.seq() + 1;
    h.send(seg(Flags::ACK).seq(P).ack(a).data(&[1; 1000]));
    assert_eq!(h.expect_one().tcp.window, 3000);
    h.send(seg(Flags::ACK).seq(P + 1000).ack(a).data(&[2; 1460]));
    assert_eq!(h.expect_one().tcp.window, 1540);
    h.send(seg(Flags::ACK).seq(P + 2460).ack(a).data(&[3; 1540]));
    let full = h.expect_one();
    assert_eq!((full.ack(), full.tcp.window), (P + 4000, 0), "zero window when the buffer is full");
    // Beyond a zero window nothing is accepted.
    h.send(seg(Flags::ACK).seq(P + 4000).ack(a).data(&[4; 10]));
    assert_eq!(h.expect_one().ack(), P + 4000);
    assert_eq!(h.read_all(c).len(), 4000);
    let upd = h.expect_one();
    assert_eq!((upd.flags(), upd.ack(), upd.tcp.window), (Flags::ACK, P + 4000, 4000));
}

#[test]
fn full_sized_segments_fill_a_1500_byte_mtu() {
    for (opts, mss) in [(mss_only(1460), 1460), (full(1), 1448)] {
        let mut h = Harness::new();
        let (c, _) = h.established_client_with(opts);
        h.stack.send(c, &[3u8; 3000]).unwrap();
        let out = h.output();
        assert_eq!(out[0].len(), mss);
        let raw = utcp_core::wire::ipv4::HEADER_LEN + out[0].tcp.header_len() + out[0].len();
        assert_eq!(raw, 1500);
    }
}

#[test]
fn first_ack_window_is_the_buffer_whatever_the_peer_isn() {
    // The SYN's window edge was recorded before the peer's ISN was known;
    // for about half of all ISNs it then looked far ahead of RCV.NXT and
    // the ACK advertised 65535 << 7 (8 MiB) from a 256 KiB buffer.
    for iss in [PEER_ISS, 0, 0x7fff_0000, 0x8000_0000, 0xffff_f000] {
        let mut h = Harness::new();
        let (_c, syn) = h.connect();
        h.send(seg(Flags::SYN).seq(iss).ack(syn.seq() + 1).opts(full(1)).win(1000));
        let ack = h.expect_one();
        assert_eq!(ack.tcp.window, ((256 * 1024) >> 7) as u16, "peer ISN {iss:#x}");
    }
}

/// Found by fuzz/options (tests/fuzz-crashes/options/sack-shorter-second-
/// option): two SACK options, the second shorter. RFC 2018 §3 gives each
/// option (len - 2) / 8 blocks; the parse keeps the last option's blocks
/// only, with no stale block from the first left in the unused slots, so
/// the header re-encodes to the same options.
#[test]
fn a_shorter_second_sack_option_leaves_no_stale_blocks() {
    use utcp_core::wire::TcpRepr;
    let mut opts = vec![5u8, 26];
    for v in 1u32..=6 {
        opts.extend_from_slice(&v.to_be_bytes());
    }
    opts.extend_from_slice(&[5, 10, 0, 0, 0, 100, 0, 0, 0, 200]);
    opts.resize(40, 0);
    let tcp = utcp_core::wire::TcpRepr { src_port: 1, dst_port: 2, flags: Flags::ACK, ..Default::default() };
    let pkt = utcp_core::testkit::raw_packet(PEER, LOCAL, &tcp, &opts, &[]);
    let (t, _) = TcpRepr::parse(&pkt[20..], PEER, LOCAL, true).unwrap();
    assert_eq!(t.options, sacks(&[(100, 200)]));
    let mut o = sacks(&[(1, 2), (3, 4), (5, 6)]);
    o.set_sacks(&[SackBlock { left: SeqNum(7), right: SeqNum(8) }]);
    assert_eq!(o, sacks(&[(7, 8)]));
}

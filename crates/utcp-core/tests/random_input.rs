//! Random and mutated input never panics the stack, in any state: every
//! packet is either processed or dropped with a counted reason.

mod common;
use common::*;
use utcp_core::rng::Rng;
use utcp_core::wire::checksum;
use utcp_core::wire::ipv4::{Ipv4Repr, PROTO_TCP};
use utcp_core::wire::{Flags, Options, SeqNum, TcpRepr};

/// A segment from the peer with random flags, numbers near the live ones,
/// random options bytes and payload; checksums valid so it reaches TCP.
fn random_segment(rng: &mut Rng, base_seq: u32, base_ack: u32) -> Vec<u8> {
    let flags = Flags((rng.next_u32() & 0x3f) as u8);
    let near = |rng: &mut Rng, base: u32| base.wrapping_add((rng.below(200_000) as u32).wrapping_sub(100_000));
    let tcp = TcpRepr {
        src_port: PEER_PORT,
        dst_port: LOCAL_PORT,
        seq: SeqNum(if rng.chance(0.1) { rng.next_u32() } else { near(rng, base_seq) }),
        ack: SeqNum(if rng.chance(0.1) { rng.next_u32() } else { near(rng, base_ack) }),
        flags,
        window: rng.next_u32() as u16,
        options: Options::default(),
        ..TcpRepr::default()
    };
    let payload: Vec<u8> = (0..rng.below(1600)).map(|_| rng.next_u32() as u8).collect();
    let mut pkt = packet(PEER, LOCAL, &tcp, &payload);
    if rng.chance(0.5) {
        // Garbage options: grow the header by 4..40 bytes of random option bytes.
        let extra = 4 * (1 + rng.below(10) as usize);
        let opts: Vec<u8> = (0..extra).map(|_| rng.next_u32() as u8).collect();
        let mut t = pkt[20..40].to_vec();
        t[12] = (((20 + extra) / 4) as u8) << 4;
        t.extend_from_slice(&opts);
        t.extend_from_slice(&pkt[40..]);
        t[16] = 0;
        t[17] = 0;
        let acc = checksum::pseudo_header(PEER, LOCAL, PROTO_TCP, t.len());
        let c = checksum::finish(checksum::sum(acc, &t));
        t[16..18].copy_from_slice(&c.to_be_bytes());
        let mut p = vec![0u8; 20 + t.len()];
        Ipv4Repr::new(PEER, LOCAL, PROTO_TCP, t.len()).emit(&mut p);
        p[20..].copy_from_slice(&t);
        pkt = p;
    }
    if rng.chance(0.05) {
        // And sometimes damage the packet outright.
        let i = rng.below(pkt.len() as u64) as usize;
        pkt[i] ^= 1 << rng.below(8);
        pkt.truncate(rng.below(pkt.len() as u64 + 1) as usize);
    }
    pkt
}

fn hammer(h: &mut Harness, rng: &mut Rng, base_seq: u32, base_ack: u32, n: usize) {
    for i in 0..n {
        let pkt = random_segment(rng, base_seq, base_ack);
        h.send_raw(&pkt);
        h.output();
        if i % 50 == 0 {
            h.advance(core::time::Duration::from_millis(rng.below(5000)));
            h.output();
        }
    }
}

#[test]
fn random_segments_to_a_listener_and_connections_never_panic() {
    for seed in 0..20 {
        let mut rng = Rng::new(seed);
        let mut h = Harness::new();
        let (_l, c, iss) = h.established_server();
        h.stack.send(c, b"some data to have in flight").unwrap();
        h.output();
        hammer(&mut h, &mut rng, PEER_ISS + 1, iss + 1, 400);
        let now = h.now;
        let _ = h.stack.close(now, c, false);
        hammer(&mut h, &mut rng, PEER_ISS + 1, iss + 1, 200);
        // Whatever happened, the counters account for what was refused.
        assert!(h.stack.stats().segments_in > 0);
    }
}

#[test]
fn random_segments_to_a_connecting_client_never_panic() {
    for seed in 100..120 {
        let mut rng = Rng::new(seed);
        let mut h = Harness::new();
        let (_c, syn) = h.connect();
        hammer(&mut h, &mut rng, PEER_ISS, syn.seq() + 1, 300);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(7);
    let mut h = Harness::new();
    let _ = h.established_client();
    for _ in 0..5000 {
        let len = rng.below(120) as usize;
        let mut pkt: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        if len > 0 && rng.chance(0.7) {
            pkt[0] = 0x45;
        }
        h.send_raw(&pkt);
    }
    h.output();
    assert!(h.stack.stats().total_drops() > 4000);
}

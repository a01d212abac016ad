//! RFC 9293 §3.5: the three-way handshake, as the textbooks draw it.

mod common;
use common::*;
use utcp_core::tcp::State;
use utcp_core::wire::Flags;

#[test]
fn closed_to_syn_sent_to_established_on_syn_ack() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    assert_eq!(h.state(c), State::SynSent);
    let x = syn.seq();
    // SYN-ACK: seq = y, ack = x + 1.
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(x + 1));
    let ack = h.expect_one();
    // Third segment: ACK, seq = x + 1, ack = y + 1.
    assert_eq!(ack.flags(), Flags::ACK);
    assert_eq!(ack.seq(), x + 1);
    assert_eq!(ack.ack(), PEER_ISS + 1);
    assert_eq!(h.state(c), State::Established);
    assert_eq!(h.transitions(), ["CLOSED -> SYN-SENT", "SYN-SENT -> ESTABLISHED"]);
}

#[test]
fn listen_to_syn_received_to_established_on_ack() {
    let mut h = Harness::new();
    let l = h.listener(4);
    assert_eq!(h.state(l), State::Listen);
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    let synack = h.expect_one();
    assert_eq!(synack.flags(), Flags::SYN | Flags::ACK);
    assert_eq!(synack.ack(), PEER_ISS + 1);
    assert_eq!(h.stack.accept(l), Err(utcp_core::socket::Errno::EAGAIN), "not before the third ACK");
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(synack.seq() + 1));
    h.expect_none();
    let (c, _) = h.stack.accept(l).unwrap();
    assert_eq!(h.state(c), State::Established);
    assert_eq!(h.transitions(), ["LISTEN -> SYN-RECEIVED", "SYN-RECEIVED -> ESTABLISHED"]);
}

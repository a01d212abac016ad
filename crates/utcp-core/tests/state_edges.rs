//! RFC 9293 §3.3.2, Figure 5: one test per edge of the state diagram, and
//! the transitions the text of §3.5, §3.10 and RFC 5961 adds to it.
//!
//! Numbers follow the RFC's figures: our ISS is `iss` (the stack picks it),
//! the peer's is PEER_ISS. SYN and FIN each take one sequence number, so
//! after the handshake we send from iss+1 and the peer from PEER_ISS+1;
//! after the FINs, iss+2 and PEER_ISS+2.

mod common;
use common::*;
use core::time::Duration;
use utcp_core::socket::Errno;
use utcp_core::stack::SocketId;
use utcp_core::tcp::State;
use utcp_core::wire::Flags;

// ----- Local helpers -----

const FIN_ACK: Flags = Flags(Flags::FIN.0 | Flags::ACK.0);
const SYN_ACK: Flags = Flags(Flags::SYN.0 | Flags::ACK.0);
/// Linux TCP_TIMEWAIT_LEN, utcp's default 2*MSL.
const TWO_MSL: Duration = Duration::from_secs(60);

/// Assert a segment's flags, seq and ack.
#[track_caller]
fn check(s: &Seg, flags: Flags, seq: u32, ack: u32) {
    assert_eq!((s.flags(), s.seq(), s.ack()), (flags, seq, ack), "segment {s:#?}");
}

fn close(h: &mut Harness, id: SocketId) {
    let now = h.now;
    h.stack.close(now, id, false).unwrap();
}

/// ESTABLISHED (active open), trace cleared. Returns (socket, our ISS).
fn established(h: &mut Harness) -> (SocketId, u32) {
    let r = h.established_client();
    h.transitions();
    r
}

/// FIN-WAIT-1: we closed, our FIN <SEQ=iss+1> is out, unacknowledged.
fn fin_wait_1(h: &mut Harness) -> (SocketId, u32) {
    let (c, iss) = established(h);
    close(h, c);
    check(&h.expect_one(), FIN_ACK, iss + 1, PEER_ISS + 1);
    assert_eq!(h.transitions(), ["ESTABLISHED -> FIN-WAIT-1"]);
    (c, iss)
}

/// FIN-WAIT-2: the peer acknowledged our FIN.
fn fin_wait_2(h: &mut Harness) -> (SocketId, u32) {
    let (c, iss) = fin_wait_1(h);
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 2));
    h.expect_none();
    assert_eq!(h.transitions(), ["FIN-WAIT-1 -> FIN-WAIT-2"]);
    (c, iss)
}

/// CLOSING: the FINs crossed; our FIN is not yet acknowledged.
fn closing(h: &mut Harness) -> (SocketId, u32) {
    let (c, iss) = fin_wait_1(h);
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 1));
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    assert_eq!(h.transitions(), ["FIN-WAIT-1 -> CLOSING"]);
    (c, iss)
}

/// TIME-WAIT after FIN-WAIT-2 and the peer's FIN. Returns when it began.
fn time_wait(h: &mut Harness) -> (SocketId, u32) {
    let (c, iss) = fin_wait_2(h);
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 2));
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    assert_eq!(h.transitions(), ["FIN-WAIT-2 -> TIME-WAIT"]);
    (c, iss)
}

/// CLOSE-WAIT: the peer's FIN <SEQ=PEER_ISS+1> arrived and was acknowledged.
fn close_wait(h: &mut Harness) -> (SocketId, u32) {
    let (c, iss) = established(h);
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 1));
    check(&h.expect_one(), Flags::ACK, iss + 1, PEER_ISS + 2);
    assert_eq!(h.transitions(), ["ESTABLISHED -> CLOSE-WAIT"]);
    (c, iss)
}

/// LAST-ACK: we closed after the peer's FIN; our FIN <SEQ=iss+1> is out.
fn last_ack(h: &mut Harness) -> (SocketId, u32) {
    let (c, iss) = close_wait(h);
    close(h, c);
    check(&h.expect_one(), FIN_ACK, iss + 1, PEER_ISS + 2);
    assert_eq!(h.transitions(), ["CLOSE-WAIT -> LAST-ACK"]);
    (c, iss)
}

/// SYN-RECEIVED by simultaneous open: we sent SYN <SEQ=iss>, the peer's
/// SYN <SEQ=PEER_ISS> crossed it, we answered SYN,ACK.
fn simultaneous_syn_received(h: &mut Harness) -> (SocketId, u32) {
    let (c, syn) = h.connect();
    let iss = syn.seq();
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    check(&h.expect_one(), SYN_ACK, iss, PEER_ISS + 1);
    assert_eq!(h.state(c), State::SynReceived);
    h.transitions();
    (c, iss)
}

/// connect() again after a failure reports the error once (Linux).
fn connect_error(h: &mut Harness, c: SocketId) -> Errno {
    let now = h.now;
    let peer = h.peer_addr();
    h.stack.connect(now, c, peer).expect_err("the connection failed")
}

// ----- Figure 5: opening -----

#[test]
fn closed_to_listen_on_passive_open() {
    let mut h = Harness::new();
    let l = h.stack.socket();
    assert_eq!(h.state(l), State::Closed);
    h.stack.bind(l, h.local_addr()).unwrap();
    h.stack.listen(l, 4).unwrap();
    assert_eq!(h.state(l), State::Listen);
    h.expect_none();
}

#[test]
fn closed_to_syn_sent_on_active_open() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    // <SEQ=ISS><CTL=SYN>, nothing acknowledged.
    assert_eq!(syn.flags(), Flags::SYN);
    assert_eq!(syn.ack(), 0);
    assert_eq!(syn.len(), 0);
    assert_eq!(h.state(c), State::SynSent);
    assert_eq!(h.transitions(), ["CLOSED -> SYN-SENT"]);
}

#[test]
fn listen_to_syn_received_on_syn() {
    let mut h = Harness::new();
    let l = h.listener(4);
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    // <SEQ=ISS><ACK=RCV.NXT=SEG.SEQ+1><CTL=SYN,ACK>
    let synack = h.expect_one();
    check(&synack, SYN_ACK, synack.seq(), PEER_ISS + 1);
    assert_eq!(h.transitions(), ["LISTEN -> SYN-RECEIVED"]);
    assert_eq!(h.state(l), State::Listen, "the listener stays");
}

/// Figure 5's LISTEN --SEND/snd SYN--> SYN-SENT has no sockets-API
/// counterpart. Deliberately as Linux: send() on a listener is EPIPE and
/// connect() EISCONN; the listener stays and nothing is sent.
#[test]
fn listen_to_syn_sent_on_send() {
    let mut h = Harness::new();
    let l = h.listener(4);
    assert_eq!(h.stack.send(l, b"x"), Err(Errno::EPIPE));
    let (now, peer) = (h.now, h.peer_addr());
    assert_eq!(h.stack.connect(now, l, peer), Err(Errno::EISCONN));
    h.expect_none();
    assert_eq!(h.state(l), State::Listen);
}

#[test]
fn listen_to_closed_on_close() {
    let mut h = Harness::new();
    let l = h.listener(4);
    close(&mut h, l);
    assert_eq!(h.stack.state(l), None, "the TCB is deleted");
    // §3.10.7.1: the port is closed now, a SYN gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>.
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    check(&h.expect_one(), Flags::RST | Flags::ACK, 0, PEER_ISS + 1);
}

/// §3.10.7.2: in LISTEN an RST is ignored, an ACK gets <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn listen_stays_on_rst_and_resets_ack() {
    let mut h = Harness::new();
    let l = h.listener(4);
    h.send(seg(Flags::RST).seq(PEER_ISS));
    h.expect_none();
    h.send(seg(Flags::ACK).seq(PEER_ISS).ack(4242));
    check(&h.expect_one(), Flags::RST, 4242, 0);
    assert_eq!(h.state(l), State::Listen);
    assert!(h.transitions().is_empty());
}

#[test]
fn syn_sent_to_established_on_syn_ack() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    let iss = syn.seq();
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss + 1));
    // <SEQ=SND.NXT=ISS+1><ACK=RCV.NXT=IRS+1><CTL=ACK>
    check(&h.expect_one(), Flags::ACK, iss + 1, PEER_ISS + 1);
    assert_eq!(h.state(c), State::Established);
    assert_eq!(h.transitions(), ["CLOSED -> SYN-SENT", "SYN-SENT -> ESTABLISHED"]);
}

#[test]
fn syn_sent_to_syn_received_on_syn() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    let iss = syn.seq();
    h.transitions();
    // Simultaneous open (§3.5 Figure 7 line 3): a SYN without ACK.
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    // Line 5: <SEQ=ISS><ACK=IRS+1><CTL=SYN,ACK>, the same ISS again.
    check(&h.expect_one(), SYN_ACK, iss, PEER_ISS + 1);
    assert_eq!(h.state(c), State::SynReceived);
    assert_eq!(h.transitions(), ["SYN-SENT -> SYN-RECEIVED"]);
}

#[test]
fn syn_sent_to_closed_on_close() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    h.transitions();
    close(&mut h, c);
    // §3.10.4: delete the TCB; nothing is sent.
    h.expect_none();
    assert_eq!(h.transitions(), ["SYN-SENT -> CLOSED"]);
    // A late SYN,ACK finds no connection: <SEQ=SEG.ACK><CTL=RST>.
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(syn.seq() + 1));
    check(&h.expect_one(), Flags::RST, syn.seq() + 1, 0);
}

#[test]
fn syn_received_to_established_on_ack_of_syn() {
    let mut h = Harness::new();
    let l = h.listener(4);
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    let iss = h.expect_one().seq();
    h.transitions();
    // An ACK that does not cover our SYN is not acceptable: <SEQ=SEG.ACK><CTL=RST>.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss));
    check(&h.expect_one(), Flags::RST, iss, 0);
    assert!(h.transitions().is_empty());
    // SND.UNA < SEG.ACK =< SND.NXT: ESTABLISHED.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1));
    h.expect_none();
    assert_eq!(h.transitions(), ["SYN-RECEIVED -> ESTABLISHED"]);
    let (c, _) = h.stack.accept(l).unwrap();
    assert_eq!(h.state(c), State::Established);
}

// ----- Figure 5: closing -----

#[test]
fn syn_received_to_fin_wait_1_on_close() {
    let mut h = Harness::new();
    let (c, iss) = simultaneous_syn_received(&mut h);
    // §3.10.4: no data queued, so form a FIN, send it, enter FIN-WAIT-1
    // (Linux: tcp_close_state, SYN_RECV -> FIN_WAIT1 | TCP_ACTION_FIN).
    close(&mut h, c);
    assert_eq!(h.transitions(), ["SYN-RECEIVED -> FIN-WAIT-1"]);
    check(&h.expect_one(), FIN_ACK, iss + 1, PEER_ISS + 1);
    // The peer's ACK covers SYN and FIN: ISS+2.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 2));
    h.expect_none();
    assert_eq!(h.transitions(), ["FIN-WAIT-1 -> FIN-WAIT-2"]);
}

/// The same with our SYN,ACK lost: its timer resends SYN,ACK then FIN.
#[test]
fn syn_received_close_retransmits_syn_ack_and_fin() {
    let mut h = Harness::new();
    let (c, iss) = simultaneous_syn_received(&mut h);
    close(&mut h, c);
    check(&h.expect_one(), FIN_ACK, iss + 1, PEER_ISS + 1);
    let t0 = h.now;
    h.advance_to_next_timer();
    assert_eq!(h.now - t0, Duration::from_secs(1));
    let out = h.output();
    assert_eq!(out.len(), 2, "{out:#?}");
    check(&out[0], SYN_ACK, iss, PEER_ISS + 1);
    check(&out[1], FIN_ACK, iss + 1, PEER_ISS + 1);
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 2));
    assert_eq!(h.state(c), State::FinWait2);
}

#[test]
fn established_to_fin_wait_1_on_close() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    close(&mut h, c);
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>
    check(&h.expect_one(), FIN_ACK, iss + 1, PEER_ISS + 1);
    assert_eq!(h.state(c), State::FinWait1);
    assert_eq!(h.transitions(), ["ESTABLISHED -> FIN-WAIT-1"]);
}

#[test]
fn established_to_close_wait_on_fin() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 1));
    // The FIN takes one sequence number: ACK = PEER_ISS+2.
    check(&h.expect_one(), Flags::ACK, iss + 1, PEER_ISS + 2);
    assert_eq!(h.state(c), State::CloseWait);
    assert_eq!(h.transitions(), ["ESTABLISHED -> CLOSE-WAIT"]);
    let now = h.now;
    assert_eq!(h.stack.recv(now, c, &mut [0u8; 16], false), Ok(0), "end of stream");
}

#[test]
fn fin_wait_1_to_fin_wait_2_on_ack_of_fin() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    h.stack.send(c, b"hello").unwrap();
    check(&h.expect_one(), Flags::ACK | Flags::PSH, iss + 1, PEER_ISS + 1);
    close(&mut h, c);
    // The FIN follows the 5 data bytes.
    check(&h.expect_one(), FIN_ACK, iss + 6, PEER_ISS + 1);
    h.transitions();
    // Acknowledging the data but not the FIN is not enough.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 6));
    assert_eq!(h.state(c), State::FinWait1);
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 7));
    h.expect_none();
    assert_eq!(h.state(c), State::FinWait2);
    assert_eq!(h.transitions(), ["FIN-WAIT-1 -> FIN-WAIT-2"]);
}

#[test]
fn fin_wait_1_to_closing_on_fin() {
    let mut h = Harness::new();
    let (c, iss) = fin_wait_1(&mut h);
    // The peer's FIN acknowledges only our SYN, not our FIN.
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 1));
    // Figure 13 line 3: <SEQ=ISS+2><ACK=PEER_ISS+2><CTL=ACK>.
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    assert_eq!(h.state(c), State::Closing);
    assert_eq!(h.transitions(), ["FIN-WAIT-1 -> CLOSING"]);
}

#[test]
fn closing_to_time_wait_on_ack_of_fin() {
    let mut h = Harness::new();
    let (c, iss) = closing(&mut h);
    h.send(seg(Flags::ACK).seq(PEER_ISS + 2).ack(iss + 2));
    h.expect_none();
    assert_eq!(h.state(c), State::TimeWait);
    assert_eq!(h.transitions(), ["CLOSING -> TIME-WAIT"]);
}

/// Note 2 of Figure 5: FIN-WAIT-1 -> TIME-WAIT when the FIN arrives with
/// the ACK of ours. utcp, like Linux (tcp_rcv_state_process then
/// tcp_fin), passes through FIN-WAIT-2 within the same segment; both
/// traces are accepted, nothing in between is.
#[test]
fn fin_wait_1_to_time_wait_on_fin_ack() {
    let mut h = Harness::new();
    let (c, iss) = fin_wait_1(&mut h);
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 2));
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    assert_eq!(h.state(c), State::TimeWait);
    let t = h.transitions();
    let direct = t == ["FIN-WAIT-1 -> TIME-WAIT"];
    let via_fw2 = t == ["FIN-WAIT-1 -> FIN-WAIT-2", "FIN-WAIT-2 -> TIME-WAIT"];
    assert!(direct || via_fw2, "{t:?}");
}

#[test]
fn fin_wait_2_to_time_wait_on_fin() {
    let mut h = Harness::new();
    let (c, iss) = fin_wait_2(&mut h);
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 2));
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    assert_eq!(h.state(c), State::TimeWait);
    assert_eq!(h.transitions(), ["FIN-WAIT-2 -> TIME-WAIT"]);
}

#[test]
fn close_wait_to_last_ack_on_close() {
    let mut h = Harness::new();
    let (c, iss) = close_wait(&mut h);
    close(&mut h, c);
    check(&h.expect_one(), FIN_ACK, iss + 1, PEER_ISS + 2);
    assert_eq!(h.state(c), State::LastAck);
    assert_eq!(h.transitions(), ["CLOSE-WAIT -> LAST-ACK"]);
}

#[test]
fn last_ack_to_closed_on_ack_of_fin() {
    let mut h = Harness::new();
    let (_c, iss) = last_ack(&mut h);
    // An ACK of the peer's FIN only (a duplicate) changes nothing.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 2).ack(iss + 1));
    assert!(h.transitions().is_empty());
    h.send(seg(Flags::ACK).seq(PEER_ISS + 2).ack(iss + 2));
    h.expect_none();
    assert_eq!(h.transitions(), ["LAST-ACK -> CLOSED"]);
    // The TCB is gone: the next segment gets <SEQ=SEG.ACK><CTL=RST>.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 2).ack(iss + 2));
    check(&h.expect_one(), Flags::RST, iss + 2, 0);
}

#[test]
fn time_wait_to_closed_after_2msl() {
    let mut h = Harness::new();
    let (_c, iss) = time_wait(&mut h);
    h.advance(TWO_MSL - Duration::from_millis(1));
    assert!(h.transitions().is_empty(), "still in TIME-WAIT");
    h.advance(Duration::from_millis(1));
    assert_eq!(h.transitions(), ["TIME-WAIT -> CLOSED"]);
    h.expect_none();
    h.send(seg(Flags::ACK).seq(PEER_ISS + 2).ack(iss + 2));
    check(&h.expect_one(), Flags::RST, iss + 2, 0);
}

// ----- The text: resets -----

#[test]
fn syn_sent_to_closed_on_rst_ack() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    h.transitions();
    // The port is closed at the peer: <SEQ=0><ACK=ISS+1><CTL=RST,ACK>.
    h.send(seg(Flags::RST).seq(0).ack(syn.seq() + 1));
    h.expect_none();
    assert_eq!(h.state(c), State::Closed);
    assert_eq!(h.transitions(), ["SYN-SENT -> CLOSED"]);
    assert_eq!(connect_error(&mut h, c), Errno::ECONNREFUSED);
}

#[test]
fn syn_sent_ignores_rst_without_acceptable_ack() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    h.transitions();
    // No ACK: drop (§3.10.7.3 second check).
    h.send(seg(Flags::RST).seq(0));
    // An ACK that is not ours: drop, and never answer a reset.
    h.send(seg(Flags::RST).seq(0).ack(syn.seq() + 1000));
    h.expect_none();
    assert_eq!(h.state(c), State::SynSent);
    assert!(h.transitions().is_empty());
}

#[test]
fn syn_sent_resets_syn_ack_with_wrong_ack() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    let iss = syn.seq();
    // SEG.ACK > SND.NXT, then SEG.ACK =< ISS: <SEQ=SEG.ACK><CTL=RST>, stay.
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss + 5));
    check(&h.expect_one(), Flags::RST, iss + 5, 0);
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss));
    check(&h.expect_one(), Flags::RST, iss, 0);
    assert_eq!(h.state(c), State::SynSent);
    // The right SYN,ACK still completes the handshake.
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss + 1));
    check(&h.expect_one(), Flags::ACK, iss + 1, PEER_ISS + 1);
    assert_eq!(h.state(c), State::Established);
}

#[test]
fn syn_received_back_to_listen_on_rst() {
    let mut h = Harness::new();
    let l = h.listener(4);
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    let iss = h.expect_one().seq();
    h.transitions();
    h.send(seg(Flags::RST).seq(PEER_ISS + 1));
    h.expect_none();
    // The child disappears silently; the listener stays.
    assert_eq!(h.transitions(), ["SYN-RECEIVED -> CLOSED"]);
    assert_eq!(h.state(l), State::Listen);
    assert_eq!(h.stack.accept(l), Err(Errno::EAGAIN));
    // A late third ACK meets the listener: <SEQ=SEG.ACK><CTL=RST>.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1));
    check(&h.expect_one(), Flags::RST, iss + 1, 0);
    // And the listener takes new SYNs.
    h.send(seg(Flags::SYN).seq(PEER_ISS + 7));
    let s = h.expect_one();
    check(&s, SYN_ACK, s.seq(), PEER_ISS + 8);
}

#[test]
fn syn_received_to_closed_on_rst_after_simultaneous_open() {
    let mut h = Harness::new();
    let (c, _iss) = simultaneous_syn_received(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 1));
    h.expect_none();
    // An active open: "connection refused", CLOSED.
    assert_eq!(h.state(c), State::Closed);
    assert_eq!(h.transitions(), ["SYN-RECEIVED -> CLOSED"]);
    assert_eq!(connect_error(&mut h, c), Errno::ECONNREFUSED);
}

#[test]
fn established_to_closed_on_rst() {
    let mut h = Harness::new();
    let (c, _iss) = established(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 1));
    h.expect_none();
    assert_eq!(h.state(c), State::Closed);
    assert_eq!(h.transitions(), ["ESTABLISHED -> CLOSED"]);
    assert_eq!(h.stack.take_error(c), Ok(Some(Errno::ECONNRESET)));
}

#[test]
fn fin_wait_1_to_closed_on_rst() {
    let mut h = Harness::new();
    fin_wait_1(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 1));
    h.expect_none();
    assert_eq!(h.transitions(), ["FIN-WAIT-1 -> CLOSED"]);
}

#[test]
fn fin_wait_2_to_closed_on_rst() {
    let mut h = Harness::new();
    fin_wait_2(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 1));
    h.expect_none();
    assert_eq!(h.transitions(), ["FIN-WAIT-2 -> CLOSED"]);
}

/// Linux's tcp_reset reports EPIPE rather than ECONNRESET in CLOSE-WAIT.
#[test]
fn close_wait_to_closed_on_rst() {
    let mut h = Harness::new();
    let (c, _iss) = close_wait(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 2));
    h.expect_none();
    assert_eq!(h.state(c), State::Closed);
    assert_eq!(h.transitions(), ["CLOSE-WAIT -> CLOSED"]);
    assert_eq!(h.stack.take_error(c), Ok(Some(Errno::EPIPE)));
}

#[test]
fn closing_to_closed_on_rst() {
    let mut h = Harness::new();
    closing(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 2));
    h.expect_none();
    assert_eq!(h.transitions(), ["CLOSING -> CLOSED"]);
}

#[test]
fn last_ack_to_closed_on_rst() {
    let mut h = Harness::new();
    last_ack(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 2));
    h.expect_none();
    assert_eq!(h.transitions(), ["LAST-ACK -> CLOSED"]);
}

/// §3.10.7.4: RST in TIME-WAIT enters CLOSED (Linux with the default
/// tcp_rfc1337=0 does the same, TIME-WAIT assassination included).
#[test]
fn time_wait_to_closed_on_rst() {
    let mut h = Harness::new();
    time_wait(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 2));
    h.expect_none();
    assert_eq!(h.transitions(), ["TIME-WAIT -> CLOSED"]);
}

// ----- The text: ABORT and timeouts -----

#[test]
fn established_to_closed_on_abort() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    let now = h.now;
    h.stack.close(now, c, true).unwrap();
    // §3.10.5: <SEQ=SND.NXT><CTL=RST> (Linux adds ACK=RCV.NXT).
    check(&h.expect_one(), Flags::RST | Flags::ACK, iss + 1, PEER_ISS + 1);
    assert_eq!(h.transitions(), ["ESTABLISHED -> CLOSED"]);
}

#[test]
fn syn_sent_to_closed_after_syn_retries() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    let t0 = h.now;
    // Linux tcp_syn_retries=6: six retransmissions, 1+2+4+8+16+32 s apart.
    for _ in 0..6 {
        h.advance_to_next_timer();
        check(&h.expect_one(), Flags::SYN, syn.seq(), 0);
    }
    assert_eq!(h.state(c), State::SynSent);
    h.advance_to_next_timer();
    assert_eq!(h.now - t0, Duration::from_secs(127));
    h.expect_none();
    assert_eq!(h.state(c), State::Closed);
    assert_eq!(connect_error(&mut h, c), Errno::ETIMEDOUT);
}

/// Linux tcp_fin_timeout: an orphaned FIN-WAIT-2 (close(), not shutdown())
/// does not wait for the peer's FIN forever.
#[test]
fn fin_wait_2_to_closed_after_fin_timeout_when_orphaned() {
    let mut h = Harness::new();
    fin_wait_2(&mut h);
    h.advance(Duration::from_secs(60) - Duration::from_millis(1));
    assert!(h.transitions().is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.transitions(), ["FIN-WAIT-2 -> CLOSED"]);
}

// ----- The text: the scenarios of §3.5 and §3.6 -----

#[test]
fn simultaneous_open_four_segment_handshake() {
    let mut h = Harness::new();
    let (c, iss) = simultaneous_syn_received(&mut h);
    // Figure 7 line 6: the peer's SYN,ACK <SEQ=IRS><ACK=ISS+1> -> ESTABLISHED.
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss + 1));
    assert_eq!(h.state(c), State::Established);
    assert_eq!(h.transitions(), ["SYN-RECEIVED -> ESTABLISHED"]);
    // Nothing more is owed but, at most, a plain ACK of the peer's SYN.
    for s in h.output() {
        check(&s, Flags::ACK, iss + 1, PEER_ISS + 1);
    }
    // Data flows: <SEQ=ISS+1>.
    h.stack.send(c, b"x").unwrap();
    check(&h.expect_one(), Flags::ACK | Flags::PSH, iss + 1, PEER_ISS + 1);
}

#[test]
fn simultaneous_close_both_fins_cross() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    close(&mut h, c);
    check(&h.expect_one(), FIN_ACK, iss + 1, PEER_ISS + 1);
    // Figure 13: the peer's FIN was sent before ours arrived.
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 1));
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    // Then its ACK of our FIN.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 2).ack(iss + 2));
    h.expect_none();
    assert_eq!(h.state(c), State::TimeWait);
    assert_eq!(
        h.transitions(),
        ["ESTABLISHED -> FIN-WAIT-1", "FIN-WAIT-1 -> CLOSING", "CLOSING -> TIME-WAIT"]
    );
}

#[test]
fn lost_third_ack_server_retransmits_syn_ack() {
    let mut h = Harness::new();
    let l = h.listener(4);
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    let iss = h.expect_one().seq();
    // The peer's ACK is lost; after the initial RTO (1 s) the SYN,ACK again.
    let t0 = h.now;
    h.advance_to_next_timer();
    assert_eq!(h.now - t0, Duration::from_secs(1));
    check(&h.expect_one(), SYN_ACK, iss, PEER_ISS + 1);
    // The peer, ESTABLISHED, answers the duplicate SYN,ACK with an ACK.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1));
    h.expect_none();
    let (c, _) = h.stack.accept(l).unwrap();
    assert_eq!(h.state(c), State::Established);
    assert_eq!(h.transitions(), ["LISTEN -> SYN-RECEIVED", "SYN-RECEIVED -> ESTABLISHED"]);
}

#[test]
fn time_wait_restarts_2msl_on_retransmitted_fin() {
    let mut h = Harness::new();
    let (_c, iss) = time_wait(&mut h);
    h.advance(Duration::from_secs(30));
    // Our last ACK was lost: the peer's FIN again. ACK it, restart 2*MSL.
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 2));
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    h.advance(TWO_MSL - Duration::from_millis(1));
    assert!(h.transitions().is_empty(), "2*MSL counts from the retransmitted FIN");
    h.advance(Duration::from_millis(1));
    assert_eq!(h.transitions(), ["TIME-WAIT -> CLOSED"]);
}

/// The textbook arithmetic: ack = seq + len, SYN and FIN one each.
#[test]
fn seq_ack_arithmetic() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    // 10 bytes from the peer at IRS+1: ACK = IRS+1+10.
    h.send(seg(Flags::ACK).seq(PEER_ISS + 1).ack(iss + 1).data(&[7; 10]));
    check(&h.expect_one(), Flags::ACK, iss + 1, PEER_ISS + 11);
    assert_eq!(h.read_all(c), [7; 10]);
    // 5 bytes from us at ISS+1; the peer acknowledges ISS+6.
    h.stack.send(c, b"hello").unwrap();
    let data = h.expect_one();
    check(&data, Flags::ACK | Flags::PSH, iss + 1, PEER_ISS + 11);
    assert_eq!(data.data, b"hello");
    h.send(seg(Flags::ACK).seq(PEER_ISS + 11).ack(iss + 6));
    // Our FIN at ISS+6; the peer's FIN at IRS+11 acknowledges it: ISS+7.
    close(&mut h, c);
    check(&h.expect_one(), FIN_ACK, iss + 6, PEER_ISS + 11);
    h.send(seg(Flags::FIN).seq(PEER_ISS + 11).ack(iss + 7));
    check(&h.expect_one(), Flags::ACK, iss + 7, PEER_ISS + 12);
    assert_eq!(h.state(c), State::TimeWait);
}

// ----- RFC 5961 -----

#[test]
fn rst_in_window_not_at_rcv_nxt_gets_challenge_ack() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    h.send(seg(Flags::RST).seq(PEER_ISS + 1 + 100));
    // §3.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, and the connection lives.
    check(&h.expect_one(), Flags::ACK, iss + 1, PEER_ISS + 1);
    assert_eq!(h.state(c), State::Established);
    assert!(h.transitions().is_empty());
}

#[test]
fn rst_out_of_window_is_ignored() {
    let mut h = Harness::new();
    let (c, _iss) = established(&mut h);
    // Just below RCV.NXT, and far beyond the window.
    h.send(seg(Flags::RST).seq(PEER_ISS));
    h.send(seg(Flags::RST).seq(PEER_ISS + 1 + (1 << 30)));
    h.expect_none();
    assert_eq!(h.state(c), State::Established);
    assert!(h.transitions().is_empty());
}

#[test]
fn syn_in_established_gets_challenge_ack() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    // §4.2: in window or not, a SYN gets <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    h.send(seg(Flags::SYN).seq(PEER_ISS + 1 + 500));
    check(&h.expect_one(), Flags::ACK, iss + 1, PEER_ISS + 1);
    h.advance(Duration::from_secs(1)); // past the challenge-ACK rate limit
    h.send(seg(Flags::SYN).seq(PEER_ISS - 1000));
    check(&h.expect_one(), Flags::ACK, iss + 1, PEER_ISS + 1);
    assert_eq!(h.state(c), State::Established);
    assert!(h.transitions().is_empty());
}

// ----- TIME-WAIT reuse (Linux tcp_timewait_state_process) -----

/// TIME-WAIT on the listener's port: the server closed first.
fn server_time_wait(h: &mut Harness) -> (SocketId, u32) {
    let (l, c, iss) = h.established_server();
    close(h, c);
    check(&h.expect_one(), FIN_ACK, iss + 1, PEER_ISS + 1);
    h.send(seg(Flags::FIN).seq(PEER_ISS + 1).ack(iss + 2));
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    assert_eq!(h.state(c), State::TimeWait);
    h.transitions();
    (l, iss)
}

#[test]
fn time_wait_to_closed_on_syn_with_higher_seq() {
    let mut h = Harness::new();
    let (l, iss) = server_time_wait(&mut h);
    let new_isn = PEER_ISS + 100_000;
    h.send(seg(Flags::SYN).seq(new_isn));
    // The old connection ends; the listener answers with ISS = old SND.NXT + 65537.
    check(&h.expect_one(), SYN_ACK, iss + 2 + 65537, new_isn + 1);
    assert_eq!(h.transitions(), ["TIME-WAIT -> CLOSED", "LISTEN -> SYN-RECEIVED"]);
    h.send(seg(Flags::ACK).seq(new_isn + 1).ack(iss + 2 + 65538));
    let (c2, _) = h.stack.accept(l).unwrap();
    assert_eq!(h.state(c2), State::Established);
}

#[test]
fn time_wait_keeps_out_old_syn() {
    let mut h = Harness::new();
    let (l, iss) = server_time_wait(&mut h);
    // A SYN below RCV.NXT may be an old duplicate: ACK it, stay.
    h.send(seg(Flags::SYN).seq(PEER_ISS));
    check(&h.expect_one(), Flags::ACK, iss + 2, PEER_ISS + 2);
    assert!(h.transitions().is_empty());
    assert_eq!(h.stack.accept(l), Err(Errno::EAGAIN));
}

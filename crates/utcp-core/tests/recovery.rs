//! Loss recovery beyond RFC 5681/6582, on the fake clock: spurious
//! timeouts detected with timestamps (RFC 3522) and undone (RFC 4015), the
//! RTT samples a timeout must not give (RFC 7323 §4, RFC 6298 §3), lost
//! retransmissions found by RACK (RFC 8985 §6) and tail loss probes (§7).

mod common;
use common::*;
use core::time::Duration;
use utcp_core::socket::Errno;
use utcp_core::stack::SocketId;
use utcp_core::tcp::State;
use utcp_core::wire::{Flags, Options, SackBlock, SeqNum};

const P: u32 = PEER_ISS + 1; // the peer's first data byte
/// Payload per segment: MSS 1460 less the timestamp option.
const SMSS: u32 = 1448;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn ts(val: u32, ecr: u32) -> Options {
    Options { timestamps: Some((val, ecr)), ..Options::default() }
}

fn tsval(s: &Seg) -> u32 {
    s.tcp.options.timestamps.expect("timestamps are on").0
}

/// Active open with timestamps and SACK, the SYN-ACK `rtt` after the SYN:
/// SRTT = rtt, RTO = rtt + max(4 * rtt/2, 200 ms).
fn open(h: &mut Harness, rtt: Duration) -> (SocketId, u32) {
    open_with(h, rtt, true)
}

/// The same without SACK: no tail loss probe (RFC 8985 §7.2 needs SACK),
/// so a lost flight ends in the RTO.
fn open_with(h: &mut Harness, rtt: Duration, sack: bool) -> (SocketId, u32) {
    let c = h.stack.socket();
    h.stack.bind(c, h.local_addr()).unwrap();
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::EINPROGRESS));
    let syn = h.expect_one();
    h.advance(rtt);
    let o = Options { mss: Some(1460), sack_permitted: sack, timestamps: Some((7000, tsval(&syn))), ..Options::default() };
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(syn.seq() + 1).opts(o));
    assert_eq!(h.expect_one().flags(), Flags::ACK);
    assert_eq!(h.state(c), State::Established);
    (c, syn.seq())
}

/// Four segments out, their ACKs lost, the RTO (300 ms) resends the first
/// (on a connection opened without SACK, so no probe comes first).
/// Returns (ISS, TSval of the originals, TSval of the retransmission).
fn flight_then_timeout(h: &mut Harness, c: SocketId) -> (u32, u32) {
    h.stack.send(c, &[1; 4 * SMSS as usize]).unwrap();
    let out = h.output();
    assert_eq!(out.len(), 4);
    h.advance(ms(300));
    let re = h.expect_one();
    assert_eq!(re.seq(), out[0].seq(), "the RTO resends the first segment");
    assert_eq!(h.stack.tcb(c).unwrap().cwnd(), SMSS as usize, "RFC 5681 §3.1: LW = 1 SMSS");
    (tsval(&out[0]), tsval(&re))
}

/// RFC 3522 §3.2: the first ACK after the timeout echoes the originals'
/// TSval, older than the retransmission's, so the originals arrived and
/// only their ACKs were lost. RFC 4015 §4: cwnd and ssthresh come back and
/// the sender does not go back N over data the peer holds. The echo is no
/// RTT sample: it would measure the 300 ms timeout, not the path.
#[test]
fn a_spurious_timeout_is_detected_by_the_echoed_timestamp_and_undone() {
    let mut h = Harness::new();
    let (c, iss) = open_with(&mut h, ms(100), false);
    let (orig_ts, _) = flight_then_timeout(&mut h, c);
    h.advance(ms(100));
    // The peer held all four; its ACK of the duplicate echoes TS.Recent.
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + 2 * SMSS).opts(ts(7100, orig_ts)));
    h.expect_none(); // segments 3 and 4 are not sent again
    let tcb = h.stack.tcb(c).unwrap();
    assert_eq!(h.stack.stats().spurious_rtos, 1);
    // ssthresh <- pipe_prev (infinite before any loss); cwnd <- FlightSize
    // (2 segments) + min(bytes acked, IW).
    assert_eq!(tcb.ssthresh(), usize::MAX);
    assert_eq!(tcb.cwnd(), 4 * SMSS as usize);
    assert_eq!(tcb.rtt().srtt(), Some(ms(100)), "no sample of 400 ms");
    // The rest is acknowledged: nothing was retransmitted but the first.
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + 4 * SMSS).opts(ts(7101, orig_ts)));
    h.expect_none();
    assert_eq!(h.stack.stats().retransmits, 1);
}

/// The retransmission's own TSval echoed: the original was lost, the
/// timeout was real. The window stays collapsed, go-back-N goes on, and
/// the echo is a valid sample that ends the backoff (RFC 6298 §5.7).
#[test]
fn a_real_timeout_is_not_undone_and_its_echo_is_a_sample() {
    let mut h = Harness::new();
    let (c, iss) = open_with(&mut h, ms(100), false);
    let (_, re_ts) = flight_then_timeout(&mut h, c);
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + SMSS).opts(ts(7100, re_ts)));
    let out: Vec<u32> = h.output().iter().map(|s| s.seq()).collect();
    // Slow start from 1 SMSS: two segments for one acknowledged.
    assert_eq!(out, [iss + 1 + SMSS, iss + 1 + 2 * SMSS]);
    assert_eq!(h.stack.stats().spurious_rtos, 0);
    let tcb = h.stack.tcb(c).unwrap();
    assert_eq!(tcb.ssthresh(), 2 * SMSS as usize, "RFC 5681 eq. 4: max(FlightSize/2, 2*SMSS)");
    assert_eq!(tcb.rtt().backoff_count(), 0);
    assert_eq!(tcb.rtt().srtt(), Some(ms(100)));
}

/// After the timeout, an ACK that echoes a pre-timeout TSval but is not the
/// first (the first showed a real loss) still gives no RTT sample: the
/// peer echoes TS.Recent, and a retransmitted duplicate does not move it
/// (RFC 7323 §4.3), so the "RTT" would include the whole timeout.
#[test]
fn no_rtt_sample_from_an_echo_older_than_the_timeout() {
    let mut h = Harness::new();
    let (c, iss) = open_with(&mut h, ms(100), false);
    let (orig_ts, re_ts) = flight_then_timeout(&mut h, c);
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + SMSS).opts(ts(7100, re_ts)));
    h.output();
    let srtt = h.stack.tcb(c).unwrap().rtt().srtt();
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + 3 * SMSS).opts(ts(7200, orig_ts)));
    assert_eq!(h.stack.tcb(c).unwrap().rtt().srtt(), srtt, "a 500 ms echo is not a sample");
}

fn sacks(blocks: &[(u32, u32)]) -> Options {
    let b: Vec<SackBlock> = blocks.iter().map(|&(l, r)| SackBlock { left: SeqNum(l), right: SeqNum(r) }).collect();
    let mut o = Options::default();
    o.set_sacks(&b);
    o
}

/// The peer's duplicate ACK for `una` SACKing the segments `from..to`.
fn sack_ack(h: &mut Harness, una: u32, from: u32, to: u32) -> Vec<Seg> {
    let iss_data = una;
    h.send(seg(Flags::ACK).seq(P).ack(iss_data).opts(sacks(&[(una + from * SMSS, una + to * SMSS)])));
    h.output()
}

/// Twenty segments queued, ten sent (the initial window); segment 0 is
/// lost, the peer SACKs 1..=9 one by one: limited transmit sends 10 and
/// 11 (RFC 3042), the third duplicate the fast retransmit of 0, and new
/// segments follow as the window inflates (RFC 5681 §3.2 step 4). Returns SND.UNA and the segments sent after
/// the retransmission.
fn recovery_with_new_data(h: &mut Harness, c: SocketId, iss: u32) -> (u32, Vec<u32>) {
    let una = iss + 1;
    h.stack.send(c, &[3; 20 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 10);
    h.advance(ms(100));
    let mut after = Vec::new();
    let mut retransmitted = false;
    for k in 2..=10 {
        for s in sack_ack(h, una, 1, k) {
            if s.seq() == una {
                retransmitted = true;
            } else if retransmitted {
                after.push((s.seq() - una) / SMSS);
            }
        }
    }
    assert!(retransmitted, "fast retransmit at the third duplicate ACK");
    assert!(after.len() >= 3, "new segments went out during recovery: {after:?}");
    (una, after)
}

/// RFC 8985 §6.2 for a retransmission: three segments sent after the
/// fast retransmission are SACKed and it is not: it was lost too, and it
/// goes again now, not after an RTO (RFC 6675's NextSeg alone would never
/// send the hole twice).
#[test]
fn a_lost_fast_retransmission_is_sent_again_when_later_data_is_sacked() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let (una, after) = recovery_with_new_data(&mut h, c, iss);
    assert_eq!(&after[..3], &[12, 13, 14]);
    // 10 and 11 went out before the retransmission: their SACKs say
    // nothing about it; nor do two segments sent after it.
    let out = sack_ack(&mut h, una, 1, 14);
    assert!(out.iter().all(|s| s.seq() != una), "not yet: {out:?}");
    let out = sack_ack(&mut h, una, 1, 15);
    assert_eq!(out.first().map(|s| s.seq()), Some(una), "the hole goes again");
    assert_eq!(h.stack.stats().lost_retransmits, 1);
    assert_eq!(h.stack.stats().rto_expirations, 0);
}

/// RACK's time rule (RFC 8985 §6.2 step 5): one segment sent after the
/// retransmission is SACKed, and SRTT + SRTT/4 has passed since the
/// retransmission: reordering no longer explains its absence.
#[test]
fn a_lost_fast_retransmission_is_sent_again_after_an_rtt_and_a_quarter() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let (una, _) = recovery_with_new_data(&mut h, c, iss);
    // Segment 12's SACK comes an RTT after it went out (an instant SACK
    // would be an RTT sample of zero: RFC 6298 times SACKed segments too).
    h.advance(ms(100));
    let out = sack_ack(&mut h, una, 1, 13);
    assert!(out.iter().all(|s| s.seq() != una));
    h.advance(ms(24));
    let out = sack_ack(&mut h, una, 1, 13);
    assert!(out.iter().all(|s| s.seq() != una), "within the reordering window");
    h.advance(ms(1));
    let out = sack_ack(&mut h, una, 1, 13);
    assert_eq!(out.first().map(|s| s.seq()), Some(una));
    assert_eq!(h.stack.stats().rto_expirations, 0);
}

/// Five segments out, the first three acknowledged (SRTT 100 ms), the
/// last two lost. Returns SND.UNA after that ACK.
fn tail_of_two_lost(h: &mut Harness, c: SocketId, iss: u32) -> u32 {
    h.stack.send(c, &[4; 5 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 5);
    h.advance(ms(100));
    let una = iss + 1 + 3 * SMSS;
    h.send(seg(Flags::ACK).seq(P).ack(una));
    h.expect_none();
    una
}

/// RFC 8985 §7: a lost tail draws no duplicate ACKs. After PTO = 2*SRTT
/// (+2 ms, Linux) without an ACK, the last segment is sent again as a
/// probe; its SACK shows the segment before it lost, and fast recovery
/// repairs it, long before the 300 ms RTO.
#[test]
fn a_lost_tail_is_probed_after_two_srtt_and_recovered_without_a_timeout() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = tail_of_two_lost(&mut h, c, iss);
    let t = h.now;
    assert_eq!(h.advance_to_next_timer(), Some(t + ms(202)));
    let probe = h.expect_one();
    assert_eq!((probe.seq(), probe.len()), (una + SMSS, SMSS as usize), "the highest segment");
    assert_eq!(h.stack.stats().tlp_probes, 1);
    h.advance(ms(100));
    let out = sack_ack(&mut h, una, 1, 2);
    assert_eq!(out.first().map(|s| s.seq()), Some(una), "the hole below the probe is retransmitted");
    h.send(seg(Flags::ACK).seq(P).ack(una + 2 * SMSS));
    assert_eq!(h.stack.stats().rto_expirations, 0);
    assert_eq!(h.stack.tcb(c).unwrap().snd_una().0, una + 2 * SMSS);
}

/// RFC 8985 §7.4.2: the probe's ACK covers the whole tail with no D-SACK,
/// so the probe repaired a loss: a congestion signal, cwnd is reduced.
#[test]
fn a_probe_that_repaired_a_loss_reduces_the_window() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = tail_of_two_lost(&mut h, c, iss);
    h.advance_to_next_timer();
    h.expect_one();
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(una + 2 * SMSS));
    let tcb = h.stack.tcb(c).unwrap();
    assert_eq!(tcb.ssthresh(), tcb.cwnd());
    assert!(tcb.cwnd() < 10 * SMSS as usize, "cwnd {}", tcb.cwnd());
}

/// A D-SACK for the probe: the tail had arrived, the probe was a
/// duplicate, nothing was lost and cwnd stays (RFC 8985 §7.4.2, RFC 2883).
#[test]
fn a_probe_reported_as_duplicate_leaves_the_window_alone() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = tail_of_two_lost(&mut h, c, iss);
    h.advance_to_next_timer();
    let probe = h.expect_one();
    h.advance(ms(100));
    let end = una + 2 * SMSS;
    h.send(seg(Flags::ACK).seq(P).ack(end).opts(sacks(&[(probe.seq(), end)])));
    assert_eq!(h.stack.tcb(c).unwrap().ssthresh(), usize::MAX);
}

/// RFC 8985 §7.2: the probe timer starts when new data goes out, not only
/// on an ACK: a flight sent from idle whose every segment is lost is
/// probed after 2*SRTT + 2 ms (Linux), not left to the RTO.
#[test]
fn a_flight_sent_from_idle_is_probed_after_two_srtt() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    h.stack.send(c, &[6; 5 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 5);
    let t = h.now;
    assert_eq!(h.advance_to_next_timer(), Some(t + ms(202)));
    let probe = h.expect_one();
    assert_eq!(probe.seq(), iss + 1 + 4 * SMSS, "the highest segment");
    assert_eq!(h.stack.stats().rto_expirations, 0);
}

/// RFC 8985 §6.2-6.3: a segment sent after the first one was SACKed and
/// the first was not: once the reordering window (SRTT/4) has passed with
/// no ACK to tell, the reordering timer declares it lost and fast recovery
/// resends it, though one duplicate ACK is far from RFC 5681's three.
#[test]
fn a_hole_below_sacked_data_is_retransmitted_when_the_reordering_window_passes() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = iss + 1;
    h.stack.send(c, &[7; 2 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 2);
    h.advance(ms(100));
    assert!(sack_ack(&mut h, una, 1, 2).is_empty(), "one duplicate ACK: wait");
    let t = h.now;
    assert_eq!(h.advance_to_next_timer(), Some(t + ms(25)));
    let re = h.expect_one();
    assert_eq!((re.seq(), re.len()), (una, SMSS as usize));
    assert_eq!(h.stack.stats().fast_retransmits, 1);
    assert_eq!(h.stack.stats().rto_expirations, 0);
}

/// In recovery, a retransmission with one later segment SACKed and then
/// silence: the reordering timer fires SRTT + SRTT/4 after it went out
/// and sends it again (RFC 8985 §6.3), with no ACK to clock it out.
#[test]
fn a_lost_fast_retransmission_is_sent_again_by_the_reordering_timer() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let t_rexmit = h.now + ms(100);
    let (una, _) = recovery_with_new_data(&mut h, c, iss);
    h.advance(ms(100));
    let out = sack_ack(&mut h, una, 1, 13);
    assert!(out.iter().all(|s| s.seq() != una));
    assert_eq!(h.advance_to_next_timer(), Some(t_rexmit + ms(125)));
    assert_eq!(h.output().first().map(|s| s.seq()), Some(una));
    assert_eq!(h.stack.stats().lost_retransmits, 1);
}

/// RFC 6675 §5: with SACK the sender may have cwnd - pipe in flight, and
/// SACKed segments are not in the pipe. One ACK SACKing nine of ten
/// segments (the other duplicate ACKs lost) starts recovery with cwnd 5
/// and a pipe of the one hole: the retransmission and four new segments
/// go out, where counting duplicate ACKs (RFC 5681) allowed none.
#[test]
fn recovery_sends_cwnd_minus_pipe_with_sack_whatever_acks_were_lost() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = iss + 1;
    h.stack.send(c, &[8; 20 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 10);
    h.advance(ms(100));
    let out: Vec<u32> = sack_ack(&mut h, una, 1, 10).iter().map(|s| (s.seq() - una) / SMSS).collect();
    assert_eq!(out, [0, 10, 11, 12, 13]);
    assert_eq!(h.stack.tcb(c).unwrap().cwnd(), 5 * SMSS as usize);
}

/// RFC 6582 §3.2 step 2: after a recovery that ended with an ACK of
/// exactly everything sent when it began, the next loss starts a new one
/// at the third duplicate ACK (the ACK covers more than the highest
/// sequence number sent then), not an RTO later.
#[test]
fn a_loss_right_after_a_recovery_gets_fast_retransmit() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = iss + 1;
    h.stack.send(c, &[9; 12 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 10);
    h.advance(ms(100));
    // Segment 0 lost: recovery; its retransmission fills the hole.
    let first = sack_ack(&mut h, una, 1, 10);
    assert_eq!(first[0].seq(), una);
    h.advance(ms(100));
    // The full ACK: everything sent before the recovery (segments 0-9).
    let recover = una + 10 * SMSS;
    h.send(seg(Flags::ACK).seq(P).ack(recover));
    h.output();
    // The first segment after it (10) is lost; duplicates SACK 11.
    let mut re = Vec::new();
    for _ in 0..3 {
        h.send(seg(Flags::ACK).seq(P).ack(recover).opts(sacks(&[(recover + SMSS, recover + 2 * SMSS)])));
        re.extend(h.output().iter().map(|s| s.seq()));
    }
    assert!(re.contains(&recover), "fast retransmit of segment 10: {re:?}");
    assert_eq!(h.stack.stats().fast_retransmits, 2);
}

/// Linux: when the RTO comes before 2*SRTT (+200 ms for a lone segment),
/// the probe goes at the RTO's instant instead of the timeout, and it is
/// the last segment sent: here the bare FIN after "bye" (the kernel
/// comparison's passive_close shows the same packet).
#[test]
fn a_lone_fin_is_probed_at_the_rto_instant_as_the_last_segment() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    h.stack.send(c, b"bye").unwrap();
    assert_eq!(h.expect_one().data, b"bye");
    let now = h.now;
    h.stack.shutdown(now, c, utcp_core::stack::Shutdown::Write).unwrap();
    assert_eq!(h.expect_one().flags(), Flags::FIN | Flags::ACK);
    let t = h.now;
    assert_eq!(h.advance_to_next_timer(), Some(t + ms(300)));
    let probe = h.expect_one();
    assert_eq!((probe.flags(), probe.seq(), probe.len()), (Flags::FIN | Flags::ACK, iss + 4, 0));
    assert_eq!((h.stack.stats().tlp_probes, h.stack.stats().rto_expirations), (1, 0));
    // No answer: the RTO (re-armed by the probe) resends from SND.UNA.
    assert_eq!(h.advance_to_next_timer(), Some(t + ms(600)));
    assert_eq!(h.expect_one().data, b"bye");
    assert_eq!(h.stack.stats().rto_expirations, 1);
}

/// Ten segments out; the first is delayed (not lost), three duplicate
/// ACKs SACK 1..=3 and the fast retransmission goes out 100 ms after the
/// originals. Returns (SND.UNA, TSval of the originals, of the retransmission).
fn reordered_first_segment(h: &mut Harness, c: SocketId, iss: u32) -> (u32, u32, u32) {
    let una = iss + 1;
    h.stack.send(c, &[2; 10 * SMSS as usize]).unwrap();
    let out = h.output();
    assert_eq!(out.len(), 10);
    h.advance(ms(100));
    let mut re = None;
    for k in 2..=4 {
        re = re.or(sack_ack(h, una, 1, k).into_iter().find(|s| s.seq() == una));
    }
    let re = re.expect("fast retransmit at the third duplicate ACK");
    assert!(h.stack.tcb(c).unwrap().cwnd() < 10 * SMSS as usize);
    (una, tsval(&out[0]), tsval(&re))
}

/// RFC 3522 §3.2 applied to fast retransmit: the ACK that covers the
/// retransmitted segment echoes the original's TSval, so the original
/// arrived (it was reordered) and nothing was lost. Recovery ends and the
/// windows from before it come back (Linux: tcp_undo_cwnd_reduction).
#[test]
fn a_spurious_fast_retransmit_is_undone_when_the_echo_shows_the_original_arrived() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let (una, orig_ts, _) = reordered_first_segment(&mut h, c, iss);
    h.send(seg(Flags::ACK).seq(P).ack(una + 10 * SMSS).opts(ts(7100, orig_ts)));
    let tcb = h.stack.tcb(c).unwrap();
    assert_eq!(h.stack.stats().spurious_recoveries, 1);
    assert_eq!(tcb.ssthresh(), usize::MAX, "ssthresh as before the recovery");
    assert!(tcb.cwnd() >= 10 * SMSS as usize, "cwnd {}", tcb.cwnd());
}

/// The echo is the retransmission's own TSval: the original was lost, the
/// reduction stands.
#[test]
fn a_needed_fast_retransmit_is_not_undone() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let (una, _, re_ts) = reordered_first_segment(&mut h, c, iss);
    h.send(seg(Flags::ACK).seq(P).ack(una + 10 * SMSS).opts(ts(7100, re_ts)));
    let tcb = h.stack.tcb(c).unwrap();
    assert_eq!(h.stack.stats().spurious_recoveries, 0);
    assert_eq!(tcb.ssthresh(), 5 * SMSS as usize);
}

/// RFC 6298 §3 (Karn) for a SYN sent again, the timestamp echo included.
/// The first SYN is lost, the second goes after 1 s, and the SYN-ACK that
/// answers it was lost too: the peer's own timer sends it again a second
/// later. Its echo is the second SYN's TSval (Linux updates TS.Recent on
/// a retransmitted SYN) or the first's, and measured from either the
/// "RTT" is the timeouts, not the path. No sample: data starts with RFC
/// 6298 §5.7's 3 s RTO until its first sample, rather than with an SRTT
/// of 1 s that takes a hundred samples to decay.
#[test]
fn a_syn_ack_to_a_syn_sent_again_is_no_rtt_sample() {
    for echo_first in [false, true] {
        let mut h = Harness::new();
        let c = h.stack.socket();
        h.stack.bind(c, h.local_addr()).unwrap();
        let now = h.now;
        assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::EINPROGRESS));
        let syn = h.expect_one();
        h.advance(Duration::from_secs(1));
        let again = h.expect_one();
        assert_eq!((again.flags(), again.seq()), (Flags::SYN, syn.seq()));
        h.advance(Duration::from_secs(1));
        let ecr = if echo_first { tsval(&syn) } else { tsval(&again) };
        let o = Options { mss: Some(1460), sack_permitted: true, timestamps: Some((7000, ecr)), ..Options::default() };
        h.send(seg(Flags::SYN | Flags::ACK).seq(PEER_ISS).ack(syn.seq() + 1).opts(o));
        assert_eq!(h.expect_one().flags(), Flags::ACK);
        assert_eq!(h.state(c), State::Established);
        let tcb = h.stack.tcb(c).unwrap();
        assert_eq!(tcb.rtt().srtt(), None, "no sample of 1-2 s (echo of the first SYN: {echo_first})");
        assert_eq!(tcb.rtt().rto(), Duration::from_secs(3));
    }
}

/// Two timeouts in a row; the first retransmission arrived but its ACK
/// was lost. The peer's ACK of the second (a duplicate, which does not
/// move TS.Recent: RFC 7323 §4.3) echoes the first's TSval: measured from
/// it the "RTT" would be the lost ACK plus the backed-off 600 ms timer.
/// No sample (RFC 6298 §3): SRTT stays, and so does the backoff until a
/// real sample comes (§5.7). After a few such ACKs in a row the RTO had
/// grown to a minute at 20 % loss.
#[test]
fn no_rtt_sample_from_an_echo_of_an_earlier_timeout_retransmission() {
    let mut h = Harness::new();
    let (c, iss) = open_with(&mut h, ms(100), false);
    let (_, re_ts) = flight_then_timeout(&mut h, c);
    h.advance(ms(600));
    let re2 = h.expect_one();
    assert_eq!(re2.seq(), iss + 1, "the second timeout resends it again");
    assert!(tsval(&re2) > re_ts);
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + SMSS).opts(ts(7100, re_ts)));
    let tcb = h.stack.tcb(c).unwrap();
    assert_eq!(tcb.rtt().srtt(), Some(ms(100)), "no sample of 700 ms");
    assert_eq!(tcb.rtt().backoff_count(), 2);
    // An echo of the latest retransmission (or anything later) is one.
    h.output();
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1 + 2 * SMSS).opts(ts(7200, tsval(&re2))));
    assert_eq!(h.stack.tcb(c).unwrap().rtt().backoff_count(), 0);
}

/// RFC 6298 times one segment at a time; Linux (tcp_sacktag_one) also
/// takes the sample when that segment is SACKed rather than cumulatively
/// acknowledged, and retransmitting other segments does not spoil it
/// (Karn's rule is about the retransmitted one). Ten segments, the first
/// acknowledged after 100 ms; two new ones go, the first of them timed;
/// segment 1 was lost and the peer SACKs 2..=11 60 ms later: a sample of
/// 60 ms, SRTT = 7/8 * 100 + 1/8 * 60 = 95 ms.
#[test]
fn a_sacked_timed_segment_is_an_rtt_sample() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = iss + 1;
    h.stack.send(c, &[9; 20 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 10);
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(una + SMSS));
    let new: Vec<u32> = h.output().iter().map(|s| (s.seq() - una) / SMSS).collect();
    assert_eq!(new, [10, 11], "slow start: two for one");
    assert_eq!(h.stack.tcb(c).unwrap().rtt().srtt(), Some(ms(100)));
    h.advance(ms(60));
    h.send(seg(Flags::ACK).seq(P).ack(una + SMSS).opts(sacks(&[(una + 2 * SMSS, una + 12 * SMSS)])));
    assert_eq!(h.stack.tcb(c).unwrap().rtt().srtt(), Some(ms(95)));
}

/// Linux (tcp_cong_control): outside recovery cwnd grows by what an ACK
/// delivered, SACKed segments included. Ten segments out, the first
/// acknowledged and the third SACKed (the second is missing, not yet lost):
/// slow start counts both, cwnd 10 -> 12 segments (RFC 3465's L = 2).
#[test]
fn slow_start_counts_newly_sacked_segments() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = iss + 1;
    h.stack.send(c, &[5; 20 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 10);
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(una + SMSS).opts(sacks(&[(una + 2 * SMSS, una + 3 * SMSS)])));
    assert_eq!(h.stack.tcb(c).unwrap().cwnd(), 12 * SMSS as usize);
}

/// RFC 8985 §6.2 after a timeout (Linux runs RACK in TCP_CA_Loss,
/// tcp_identify_packet_loss). Four segments lost whole, the probe too;
/// the RTO resends segment 0, its ACK lets go-back-N resend 1 and 2, and
/// the peer SACKs 2 but not 1: the retransmission of 1 was lost as well
/// (2 went after it, and arrived).
/// Once SRTT + SRTT/4 has passed since it went out, the reordering timer
/// sends it again: no second, backed-off timeout (before: 600 ms).
#[test]
fn a_lost_go_back_n_retransmission_is_sent_again_without_a_second_timeout() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100));
    let una = iss + 1;
    h.stack.send(c, &[2; 4 * SMSS as usize]).unwrap();
    assert_eq!(h.output().len(), 4);
    h.advance_to_next_timer();
    assert_eq!(h.stack.stats().tlp_probes, 1);
    h.expect_one();
    h.advance_to_next_timer();
    assert_eq!(h.stack.stats().rto_expirations, 1);
    assert_eq!(h.expect_one().seq(), una);
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(una + SMSS));
    let out: Vec<u32> = h.output().iter().map(|s| (s.seq() - una) / SMSS).collect();
    assert_eq!(out, [1, 2]);
    let sent = h.now;
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(una + SMSS).opts(sacks(&[(una + 2 * SMSS, una + 3 * SMSS)])));
    let out: Vec<u32> = h.output().iter().map(|s| (s.seq() - una) / SMSS).collect();
    assert_eq!(out, [3], "the walk goes on (RFC 3042: a duplicate ACK lets one more go)");
    let srtt = h.stack.tcb(c).unwrap().rtt().srtt().unwrap();
    assert_eq!(h.advance_to_next_timer(), Some(sent + srtt + srtt / 4));
    let out = h.output();
    assert_eq!(out.first().map(|s| (s.seq() - una) / SMSS), Some(1), "segment 1 again");
    assert_eq!(h.stack.stats().rto_expirations, 1);
    assert_eq!(h.stack.stats().lost_retransmits, 1);
}

//! Timers on the fake clock: retransmission (RFC 6298), SYN and SYN-ACK
//! retries, delayed ACK and Nagle (RFC 9293 §3.7.4, §3.8.6.3), persist,
//! keep-alive, fast retransmit (RFC 5681/6582), TIME-WAIT and FIN-WAIT-2.

mod common;
use common::*;
use core::time::Duration;
use utcp_core::socket::Errno;
use utcp_core::stack::{Shutdown, SocketId};
use utcp_core::tcp::{Keepalive, State, TcpConfig};
use utcp_core::wire::{Flags, Options};
use utcp_core::Instant;

const P: u32 = PEER_ISS + 1; // the peer's first data byte

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn mss_only(mss: u16) -> Options {
    Options { mss: Some(mss), ..Options::default() }
}

/// Active open whose SYN-ACK arrives `rtt` after the SYN (one RTT sample),
/// on a socket configured with `f` before connect().
fn open(h: &mut Harness, rtt: Duration, opts: Options, f: impl FnOnce(&mut TcpConfig)) -> (SocketId, u32) {
    let c = h.stack.socket();
    f(h.stack.config_mut(c).unwrap());
    h.stack.bind(c, h.local_addr()).unwrap();
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::EINPROGRESS));
    let iss = h.expect_one().seq();
    h.advance(rtt);
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(iss + 1).opts(opts));
    assert_eq!(h.expect_one().flags(), Flags::ACK);
    assert_eq!(h.state(c), State::Established);
    (c, iss)
}

/// Established with a 100 ms RTT sample: RTO = 100 + max(4*50, 200) = 300 ms.
fn established(h: &mut Harness) -> (SocketId, u32) {
    open(h, ms(100), mss_only(1460), |_| {})
}

/// Run to the next deadline and return how long after `from` it was.
fn next_timer_after(h: &mut Harness, from: Instant) -> Duration {
    h.advance_to_next_timer().expect("a timer is running") - from
}

#[test]
fn rtt_sample_gives_rto_of_r_plus_max_of_4_rttvar_and_200ms() {
    for (r, rto) in [(100, 300), (200, 600), (20, 220)] {
        let mut h = Harness::new();
        let (c, _) = open(&mut h, ms(r), mss_only(1460), |_| {});
        let info = h.stack.tcp_info(c).unwrap();
        assert_eq!(info.rtt_us, r * 1000);
        assert_eq!(info.rto_us, rto * 1000, "R = {r} ms");
    }
}

#[test]
fn unacked_data_is_retransmitted_after_the_rto_then_with_exponential_backoff() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    h.stack.send(c, b"hello").unwrap();
    let t0 = h.now;
    assert_eq!(h.expect_one().seq(), iss + 1);
    for at in [300, 900, 2100, 4500] {
        assert_eq!(next_timer_after(&mut h, t0), ms(at));
        let r = h.expect_one();
        assert_eq!((r.seq(), r.data.as_slice()), (iss + 1, &b"hello"[..]));
    }
    assert_eq!(h.stack.tcp_info(c).unwrap().retransmits, 4);
}

#[test]
fn initial_rto_is_one_second_before_any_rtt_sample() {
    let mut h = Harness::new();
    let (_, syn) = h.connect();
    let t0 = h.now;
    assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(1));
    assert_eq!(h.expect_one().seq(), syn.seq());
}

#[test]
fn backoff_survives_an_ack_without_rtt_sample_and_collapses_on_a_valid_sample() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    h.stack.send(c, b"a").unwrap();
    h.expect_one();
    h.advance(ms(300));
    h.expect_one(); // retransmitted: RTO now 600 ms
                    // RFC 6298 §3/§5 (Karn): this ACK covers a retransmission, no sample,
                    // so the backed-off RTO stays for the next segment.
    h.advance(ms(50));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 2));
    h.stack.send(c, b"b").unwrap();
    h.expect_one();
    assert_eq!(h.stack.tcp_info(c).unwrap().rto_us, 600_000);
    // The ACK of "b" is a valid sample (100 ms): back to SRTT + 4*RTTVAR.
    h.advance(ms(100));
    h.send(seg(Flags::ACK).seq(P).ack(iss + 3));
    assert_eq!(h.stack.tcp_info(c).unwrap().rto_us, 300_000);
    h.stack.send(c, b"c").unwrap();
    let t2 = h.now;
    h.expect_one();
    assert_eq!(next_timer_after(&mut h, t2), ms(300));
}

#[test]
fn syn_is_retransmitted_at_1_2_4_8_16_32_s_then_connect_fails_with_etimedout() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    let t0 = h.now;
    for at in [1, 3, 7, 15, 31, 63] {
        assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(at));
        let s = h.expect_one();
        assert_eq!((s.flags(), s.seq()), (Flags::SYN, syn.seq()));
    }
    assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(127));
    h.expect_none();
    assert_eq!(h.state(c), State::Closed);
    let now = h.now;
    assert_eq!(h.stack.connect(now, c, h.peer_addr()), Err(Errno::ETIMEDOUT));
}

#[test]
fn syn_ack_is_retransmitted_five_times_then_the_child_disappears() {
    let mut h = Harness::new();
    let l = h.listener(8);
    h.send(seg(Flags::SYN).seq(PEER_ISS).opts(mss_only(1460)));
    let synack = h.expect_one();
    let t0 = h.now;
    for at in [1, 3, 7, 15, 31] {
        assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(at));
        let s = h.expect_one();
        assert_eq!((s.flags(), s.seq()), (Flags::SYN | Flags::ACK, synack.seq()));
    }
    assert_eq!(h.stack.connection_count(), 1);
    assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(63));
    h.expect_none();
    assert_eq!(h.stack.connection_count(), 0);
    assert_eq!(h.stack.accept(l), Err(Errno::EAGAIN));
}

/// Feed 16 one-byte segments, each acknowledged at once (Linux's quick-ack
/// phase); returns the next sequence number.
fn use_up_quickacks(h: &mut Harness, iss: u32) -> u32 {
    for i in 0..16 {
        h.send(seg(Flags::ACK).seq(P + i).ack(iss + 1).data(b"q"));
        assert_eq!(h.expect_one().ack(), P + i + 1, "quick ACK for segment {i}");
    }
    P + 16
}

#[test]
fn first_segments_are_acked_at_once_in_quickack_mode() {
    let mut h = Harness::new();
    let (_, iss) = established(&mut h);
    use_up_quickacks(&mut h, iss);
}

#[test]
fn a_small_in_order_segment_is_acked_after_40ms_once_quickacks_are_over() {
    let mut h = Harness::new();
    let (_, iss) = established(&mut h);
    let s = use_up_quickacks(&mut h, iss);
    h.send(seg(Flags::ACK).seq(s).ack(iss + 1).data(b"late"));
    h.expect_none();
    h.advance(ms(39));
    h.expect_none();
    h.advance(ms(1));
    let a = h.expect_one();
    assert_eq!((a.flags(), a.ack()), (Flags::ACK, s + 4));
}

#[test]
fn two_full_sized_segments_get_an_immediate_ack() {
    let mut h = Harness::new();
    let (_, iss) = established(&mut h);
    let s = use_up_quickacks(&mut h, iss);
    h.send(seg(Flags::ACK).seq(s).ack(iss + 1).data(&[1; 1460]));
    h.expect_none();
    h.send(seg(Flags::ACK).seq(s + 1460).ack(iss + 1).data(&[2; 1460]));
    assert_eq!(h.expect_one().ack(), s + 2920);
}

/// A runtime reads a batch of packets from its device and polls once
/// after it: the stack still owes, and sends, an ACK for every second
/// full-sized segment (RFC 9293 §3.8.6.3, RFC 5681 §4.2), each with the
/// acknowledgment number of its moment, not one ACK for the whole batch.
#[test]
fn a_batch_read_before_one_poll_gets_an_ack_per_two_full_segments() {
    let mut h = Harness::new();
    let (_, iss) = established(&mut h);
    let s = use_up_quickacks(&mut h, iss);
    for i in 0..9 {
        h.send(seg(Flags::ACK).seq(s + i * 1460).ack(iss + 1).data(&[i as u8; 1460]));
    }
    let acks: Vec<u32> = h.output().iter().map(|a| a.ack()).collect();
    assert_eq!(acks, [2, 4, 6, 8].map(|n| s + n * 1460), "one ACK per two segments, in order");
    // The ninth segment waits for its partner or the delayed-ACK timer.
    h.advance(ms(40));
    assert_eq!(h.expect_one().ack(), s + 9 * 1460);
}

/// Linux (tcp_event_data_recv): data after a silence longer than the RTO
/// means the sender waited for a timeout and starts again from one
/// segment: quick-ack mode again, so a lone segment is acknowledged at once
/// instead of after the delayed-ACK time (a lost delayed ACK would cost
/// the sender another, backed-off, timeout).
#[test]
fn data_after_a_silence_longer_than_the_rto_is_acked_at_once() {
    let mut h = Harness::new();
    let (_, iss) = established(&mut h);
    let s = use_up_quickacks(&mut h, iss);
    h.advance(Duration::from_secs(2));
    h.send(seg(Flags::ACK).seq(s).ack(iss + 1).data(b"again"));
    assert_eq!(h.expect_one().ack(), s + 5);
    h.send(seg(Flags::ACK).seq(s + 5).ack(iss + 1).data(b"more"));
    assert_eq!(h.expect_one().ack(), s + 9, "and for a while after");
}

/// Linux (tcp_data_queue, out of window: tcp_enter_quickack_mode): a
/// duplicate segment means our ACKs were lost or late; it is answered at
/// once (RFC 5681 §4.2), and so is the next in-order segment.
#[test]
fn a_duplicate_segment_turns_quick_acks_back_on() {
    let mut h = Harness::new();
    let (_, iss) = established(&mut h);
    let s = use_up_quickacks(&mut h, iss);
    h.send(seg(Flags::ACK).seq(s - 1).ack(iss + 1).data(b"q"));
    assert_eq!(h.expect_one().ack(), s, "the duplicate's ACK");
    h.send(seg(Flags::ACK).seq(s).ack(iss + 1).data(b"next"));
    assert_eq!(h.expect_one().ack(), s + 4, "no 40 ms delay");
}

/// Quick-ack mode (Linux: the first 16 segments) acknowledges every
/// segment of a batch, each with its own acknowledgment number.
#[test]
fn quickack_mode_acks_every_segment_of_a_batch() {
    let mut h = Harness::new();
    let (_, iss) = established(&mut h);
    for i in 0..4 {
        h.send(seg(Flags::ACK).seq(P + i * 100).ack(iss + 1).data(&[7; 100]));
    }
    let acks: Vec<u32> = h.output().iter().map(|a| a.ack()).collect();
    assert_eq!(acks, [1, 2, 3, 4].map(|n| P + n * 100));
}

/// Out-of-order segments in one batch each get their duplicate ACK
/// (RFC 5681 §4.2: "immediately"), so the sender counts its three.
#[test]
fn out_of_order_segments_of_a_batch_each_get_a_duplicate_ack() {
    let mut h = Harness::new();
    let (_, iss) = established(&mut h);
    let s = use_up_quickacks(&mut h, iss);
    for i in 1..5 {
        h.send(seg(Flags::ACK).seq(s + i * 1460).ack(iss + 1).data(&[1; 1460]));
    }
    let acks: Vec<u32> = h.output().iter().map(|a| a.ack()).collect();
    assert_eq!(acks, [s; 4]);
}

#[test]
fn nagle_holds_a_second_small_write_until_the_first_is_acked() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    h.stack.send(c, b"a").unwrap();
    assert_eq!(h.expect_one().data, b"a");
    h.stack.send(c, b"b").unwrap();
    h.stack.send(c, b"c").unwrap();
    h.expect_none();
    h.send(seg(Flags::ACK).seq(P).ack(iss + 2));
    let s = h.expect_one();
    assert_eq!((s.seq(), s.data.as_slice()), (iss + 2, &b"bc"[..]));
}

#[test]
fn nodelay_sends_each_small_write_at_once() {
    let mut h = Harness::new();
    let (c, _) = established(&mut h);
    h.stack.set_nodelay(c, true).unwrap();
    h.stack.send(c, b"a").unwrap();
    assert_eq!(h.expect_one().data, b"a");
    h.stack.send(c, b"b").unwrap();
    assert_eq!(h.expect_one().data, b"b");
}

#[test]
fn cork_holds_partial_segments_until_uncorked() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    h.stack.set_cork(c, true).unwrap();
    h.stack.send(c, &[1; 100]).unwrap();
    h.expect_none();
    h.stack.send(c, &[2; 1400]).unwrap();
    let full = h.expect_one();
    assert_eq!((full.seq(), full.len()), (iss + 1, 1460), "a full segment goes out");
    // Nothing is in flight once it is acknowledged; still corked, the
    // partial segment stays.
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1461));
    h.expect_none();
    h.advance(Duration::from_secs(1));
    h.expect_none();
    h.stack.set_cork(c, false).unwrap();
    let rest = h.expect_one();
    assert_eq!((rest.seq(), rest.len()), (iss + 1461, 40));
}

#[test]
fn zero_window_is_probed_with_snd_una_minus_1_backing_off_until_it_opens() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).win(0));
    h.stack.send(c, b"data").unwrap();
    h.expect_none();
    let t0 = h.now;
    for at in [300, 900, 2100] {
        assert_eq!(next_timer_after(&mut h, t0), ms(at));
        let p = h.expect_one();
        assert_eq!((p.flags(), p.seq(), p.len()), (Flags::ACK, iss, 0), "probe at {at} ms");
        h.send(seg(Flags::ACK).seq(P).ack(iss + 1).win(0));
        h.expect_none();
    }
    h.send(seg(Flags::ACK).seq(P).ack(iss + 1).win(1000));
    let d = h.expect_one();
    assert_eq!((d.seq(), d.data.as_slice()), (iss + 1, &b"data"[..]));
}

fn ka() -> Option<Keepalive> {
    Some(Keepalive { idle: Duration::from_secs(10), interval: Duration::from_secs(2), count: 3 })
}

#[test]
fn keepalive_probes_after_idle_and_an_answer_keeps_the_connection() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    let now = h.now;
    h.stack.set_keepalive(now, c, ka()).unwrap();
    let t0 = h.now;
    for round in 1..=3u64 {
        assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(10 * round));
        let p = h.expect_one();
        assert_eq!((p.flags(), p.seq(), p.len()), (Flags::ACK, iss, 0));
        h.send(seg(Flags::ACK).seq(P).ack(iss + 1));
        h.expect_none();
    }
    assert_eq!(h.state(c), State::Established);
}

#[test]
fn keepalive_gives_up_after_count_unanswered_probes_with_rst_and_etimedout() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    let now = h.now;
    h.stack.set_keepalive(now, c, ka()).unwrap();
    let t0 = h.now;
    for at in [10, 12, 14] {
        assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(at));
        assert_eq!(h.expect_one().seq(), iss);
    }
    assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(16));
    let rst = h.expect_one();
    assert!(rst.flags().rst());
    assert_eq!(rst.seq(), iss + 1);
    assert_eq!(h.state(c), State::Closed);
    assert_eq!(h.stack.take_error(c), Ok(Some(Errno::ETIMEDOUT)));
}

#[test]
fn third_duplicate_ack_triggers_fast_retransmit_and_partial_ack_retransmits_next_hole() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100), mss_only(1000), |_| {});
    h.stack.send(c, &[5; 5000]).unwrap();
    assert_eq!(h.output().len(), 5);
    let una = iss + 1;
    // Segments 0 and 2 are lost.
    h.send(seg(Flags::ACK).seq(P).ack(una));
    h.send(seg(Flags::ACK).seq(P).ack(una));
    h.expect_none();
    h.send(seg(Flags::ACK).seq(P).ack(una));
    let fr = h.expect_one();
    assert_eq!((fr.seq(), fr.len()), (una, 1000));
    // RFC 6582: the partial ACK (up to the second hole) retransmits it.
    h.send(seg(Flags::ACK).seq(P).ack(una + 2000));
    let re = h.expect_one();
    assert_eq!((re.seq(), re.len()), (una + 2000, 1000));
    assert_eq!(h.stack.stats().fast_retransmits, 1);
    assert_eq!(h.stack.stats().rto_expirations, 0);
}

/// Our FIN out, the peer's ACK and FIN in: TIME-WAIT.
fn into_time_wait(h: &mut Harness, c: SocketId, iss: u32) {
    let now = h.now;
    h.stack.shutdown(now, c, Shutdown::Write).unwrap();
    let fin = h.expect_one();
    assert!(fin.flags().fin());
    h.send(seg(Flags::FIN).seq(P).ack(iss + 2));
    h.expect_one();
    assert_eq!(h.state(c), State::TimeWait);
}

#[test]
fn time_wait_lasts_exactly_60_s() {
    let mut h = Harness::new();
    let (c, iss) = established(&mut h);
    into_time_wait(&mut h, c, iss);
    h.advance(Duration::from_secs(60) - Duration::from_micros(1));
    assert_eq!(h.state(c), State::TimeWait);
    h.advance(Duration::from_micros(1));
    assert_eq!(h.state(c), State::Closed);
}

#[test]
fn time_wait_length_is_configurable() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100), mss_only(1460), |cfg| cfg.time_wait = Duration::from_secs(5));
    into_time_wait(&mut h, c, iss);
    let t0 = h.now;
    assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(5));
    assert_eq!(h.state(c), State::Closed);
}

#[test]
fn orphaned_fin_wait_2_times_out_after_fin_wait2_timeout() {
    let mut h = Harness::new();
    let (c, iss) = open(&mut h, ms(100), mss_only(1460), |cfg| cfg.fin_wait2_timeout = Duration::from_secs(30));
    let now = h.now;
    h.stack.close(now, c, false).unwrap();
    assert!(h.expect_one().flags().fin());
    h.send(seg(Flags::ACK).seq(P).ack(iss + 2));
    h.expect_none();
    assert_eq!(h.stack.connection_count(), 1);
    h.advance(Duration::from_secs(30) - ms(1));
    h.expect_none();
    assert_eq!(h.stack.connection_count(), 1);
    h.advance(ms(1));
    assert!(h.expect_one().flags().rst());
    assert_eq!(h.stack.connection_count(), 0);
}

#[test]
fn data_rto_is_3_s_when_the_handshake_gave_no_rtt_sample() {
    let mut h = Harness::new();
    let (c, syn) = h.connect();
    h.advance(Duration::from_secs(1));
    assert_eq!(h.expect_one().seq(), syn.seq(), "SYN retransmitted");
    // The SYN-ACK answers a retransmitted SYN: no sample (Karn), so
    // RFC 6298 §5.7 says the RTO starts at 3 s (Linux: TCP_TIMEOUT_FALLBACK).
    h.send(seg(Flags::SYN).seq(PEER_ISS).ack(syn.seq() + 1).opts(mss_only(1460)));
    h.expect_one();
    h.stack.send(c, b"x").unwrap();
    let t0 = h.now;
    h.expect_one();
    assert_eq!(next_timer_after(&mut h, t0), Duration::from_secs(3));
    assert_eq!(h.expect_one().data, b"x");
}

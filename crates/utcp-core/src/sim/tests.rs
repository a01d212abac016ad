use super::*;
use crate::wire::ipv4::{Ipv4Repr, HEADER_LEN};
use core::net::Ipv4Addr;
use std::collections::VecDeque;

/// An experimental protocol number (RFC 3692), so toy packets are valid
/// IPv4 that no TCP code would take for its own.
const PROTO_TOY: u8 = 253;

/// A valid IPv4 packet of `size` bytes (at least 24) carrying `seq`.
fn toy_packet(seq: u32, size: usize) -> Vec<u8> {
    let size = size.max(HEADER_LEN + 4);
    let mut p = vec![0u8; size];
    let repr = Ipv4Repr::new(Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2), PROTO_TOY, size - HEADER_LEN);
    repr.emit(&mut p);
    p[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&seq.to_be_bytes());
    p
}

fn seq_of(p: &[u8]) -> u32 {
    p.get(HEADER_LEN..HEADER_LEN + 4).map_or(u32::MAX, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Sends `n` numbered packets of `size` bytes, one every `interval`
/// (zero: all at once), and records what comes back.
struct Sender {
    n: u32,
    sent: u32,
    size: usize,
    interval: Duration,
    next_at: Instant,
    got: Vec<(Instant, Vec<u8>)>,
}

impl Sender {
    fn new(n: u32, size: usize, interval: Duration) -> Self {
        Sender { n, sent: 0, size, interval, next_at: Instant::ZERO, got: Vec::new() }
    }
}

impl Node for Sender {
    fn receive(&mut self, now: Instant, packet: &[u8]) {
        self.got.push((now, packet.to_vec()));
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.sent >= self.n || now < self.next_at {
            return None;
        }
        let p = toy_packet(self.sent, self.size);
        buf[..p.len()].copy_from_slice(&p);
        self.sent += 1;
        self.next_at = now + self.interval;
        Some(p.len())
    }
    fn poll_at(&self) -> Option<Instant> {
        (self.sent < self.n).then_some(self.next_at)
    }
    fn handle_timeout(&mut self, _now: Instant) {}
}

/// Records what arrives and, if `echo`, sends each packet straight back.
#[derive(Default)]
struct Echo {
    echo: bool,
    got: Vec<(Instant, Vec<u8>)>,
    out: VecDeque<Vec<u8>>,
}

impl Node for Echo {
    fn receive(&mut self, now: Instant, packet: &[u8]) {
        self.got.push((now, packet.to_vec()));
        if self.echo {
            self.out.push_back(packet.to_vec());
        }
    }
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let p = self.out.pop_front()?;
        buf[..p.len()].copy_from_slice(&p);
        Some(p.len())
    }
    fn poll_at(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _now: Instant) {}
}

fn sink() -> Echo {
    Echo::default()
}

fn echo() -> Echo {
    Echo { echo: true, ..Echo::default() }
}

fn delay(ms: u64) -> Impairments {
    Impairments { delay: Duration::from_millis(ms), ..Impairments::default() }
}

fn seqs(got: &[(Instant, Vec<u8>)]) -> Vec<u32> {
    got.iter().map(|(_, p)| seq_of(p)).collect()
}

#[test]
fn delay_is_exact_on_the_virtual_clock() {
    let mut sim = Sim::new(Sender::new(1, 100, Duration::ZERO), echo(), delay(10), delay(3), 1);
    assert!(sim.run_until(Instant::from_secs(1), |s| !s.a.got.is_empty()));
    assert_eq!(sim.b.got[0].0, Instant::from_millis(10));
    assert_eq!(sim.a.got[0].0, Instant::from_millis(13));
    assert_eq!(sim.a.got[0].1, toy_packet(0, 100));
    assert_eq!(sim.now, Instant::from_millis(13));
    // Nothing left: the sim is idle and says so without moving the clock.
    assert!(!sim.step());
    assert_eq!(sim.now, Instant::from_millis(13));
}

#[test]
fn rate_serializes_back_to_back() {
    // 1250 bytes at 10 Mbit/s is 1 ms on the wire; plus 1 ms of delay.
    let imp = Impairments { rate_bps: Some(10_000_000), ..delay(1) };
    let mut sim = Sim::new(Sender::new(3, 1250, Duration::ZERO), sink(), imp, delay(1), 1);
    sim.run_for(Duration::from_secs(1));
    let times: Vec<_> = sim.b.got.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [2, 3, 4].map(Instant::from_millis));
    assert_eq!(sim.now, Instant::from_secs(1));
}

#[test]
fn rate_rounds_up_to_whole_microseconds() {
    // 100 bytes at 3 Mbit/s is 266.67 us: the link is busy until 267.
    let imp = Impairments { rate_bps: Some(3_000_000), ..Impairments::default() };
    let mut sim = Sim::new(Sender::new(2, 100, Duration::ZERO), sink(), imp, delay(0), 1);
    sim.run_for(Duration::from_millis(1));
    let times: Vec<_> = sim.b.got.iter().map(|(t, _)| t.as_micros()).collect();
    assert_eq!(times, [267, 534]);
}

#[test]
fn loss_rate_matches_with_a_fixed_seed() {
    // A burst of 10 000 needs room past the default 1000-packet limit.
    let imp = Impairments { loss: 0.1, queue_limit: 20_000, ..delay(1) };
    let mut sim = Sim::new(Sender::new(10_000, 40, Duration::ZERO), sink(), imp, delay(1), 7);
    sim.run_for(Duration::from_secs(1));
    let st = *sim.a_to_b.stats();
    assert_eq!(st.sent, 10_000);
    assert!((900..1100).contains(&st.lost), "{st:?}");
    assert_eq!(st.delivered + st.lost, st.sent);
    assert_eq!(sim.b.got.len() as u64, st.delivered);
    // Survivors keep their order.
    let s = seqs(&sim.b.got);
    assert!(s.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn dup_delivers_twice() {
    let all = Impairments { dup: 1.0, ..delay(1) };
    let mut sim = Sim::new(Sender::new(3, 40, Duration::ZERO), sink(), all, delay(1), 1);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(seqs(&sim.b.got), [0, 0, 1, 1, 2, 2]);
    assert_eq!(sim.a_to_b.stats().duplicated, 3);

    let some = Impairments { dup: 0.05, queue_limit: 20_000, ..delay(1) };
    let mut sim = Sim::new(Sender::new(10_000, 40, Duration::ZERO), sink(), some, delay(1), 2);
    sim.run_for(Duration::from_secs(1));
    let st = *sim.a_to_b.stats();
    assert!((400..600).contains(&st.duplicated), "{st:?}");
    assert_eq!(st.delivered, st.sent + st.duplicated);
}

#[test]
fn reorder_lets_later_packets_overtake() {
    let imp = Impairments { reorder: 0.2, reorder_delay: Duration::from_millis(5), ..delay(1) };
    let mut sim = Sim::new(Sender::new(1000, 40, Duration::from_micros(100)), sink(), imp, delay(1), 3);
    sim.run_for(Duration::from_secs(1));
    let st = *sim.a_to_b.stats();
    assert!((150..250).contains(&st.reordered), "{st:?}");
    assert_eq!(st.delivered, 1000);
    let s = seqs(&sim.b.got);
    let out_of_order = s.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(out_of_order >= 100, "{out_of_order}");
    let mut sorted = s.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
}

#[test]
fn jitter_alone_keeps_fifo() {
    let imp = Impairments { jitter: Duration::from_millis(5), ..delay(1) };
    let mut sim = Sim::new(Sender::new(1000, 40, Duration::from_micros(100)), sink(), imp, delay(1), 4);
    sim.run_for(Duration::from_secs(1));
    let s = seqs(&sim.b.got);
    assert_eq!(s, (0..1000).collect::<Vec<_>>());
    // The jitter is real: packets sent 100 us apart arrive unevenly, and
    // never earlier than the base delay.
    let gaps: Vec<u64> = sim.b.got.windows(2).map(|w| (w[1].0 - w[0].0).as_micros() as u64).collect();
    assert!(gaps.contains(&0) && gaps.iter().any(|&g| g > 1000), "{gaps:?}");
    assert!(sim.b.got.iter().enumerate().all(|(i, (t, _))| t.as_micros() >= 1000 + 100 * i as u64));
}

#[test]
fn corrupt_flips_exactly_one_bit_and_checksums_catch_header_hits() {
    let imp = Impairments { corrupt: 1.0, ..delay(1) };
    let mut sim = Sim::new(Sender::new(500, 60, Duration::ZERO), sink(), imp, delay(1), 5);
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.a_to_b.stats().corrupted, 500);
    let mut header_hits = 0;
    for (i, (_, got)) in sim.b.got.iter().enumerate() {
        let sent = toy_packet(i as u32, 60);
        let diff: Vec<usize> = (0..60).filter(|&j| got[j] != sent[j]).collect();
        assert_eq!(diff.len(), 1);
        assert_eq!((got[diff[0]] ^ sent[diff[0]]).count_ones(), 1);
        if diff[0] < HEADER_LEN {
            header_hits += 1;
            // A one-bit flip always breaks the ones'-complement sum, or
            // (in the version/length fields) the header's framing.
            assert!(Ipv4Repr::parse(got).is_err(), "byte {}", diff[0]);
        }
    }
    // The flips land anywhere: a third of these packets is header.
    assert!((120..220).contains(&header_hits), "{header_hits}");
}

#[test]
fn queue_limit_tail_drops() {
    let imp = Impairments { rate_bps: Some(1_000_000), queue_limit: 5, ..delay(1) };
    let mut sim = Sim::new(Sender::new(20, 125, Duration::ZERO), sink(), imp, delay(1), 6);
    sim.run_for(Duration::from_secs(1));
    let st = *sim.a_to_b.stats();
    assert_eq!((st.sent, st.queue_drops, st.delivered), (20, 15, 5));
    assert_eq!(seqs(&sim.b.got), [0, 1, 2, 3, 4]);
}

fn full_trace(seed: u64) -> (Vec<Captured>, LinkStats, LinkStats) {
    let imp = Impairments::parse("loss=5%,dup=5%,reorder=10%,corrupt=2%,delay=2ms,jitter=1ms,rate=100mbit").unwrap();
    let mut sim = Sim::new(Sender::new(2000, 200, Duration::from_micros(50)), echo(), imp, imp, seed);
    sim.capture = Some(Vec::new());
    sim.run_for(Duration::from_secs(2));
    (sim.capture.unwrap_or_default(), *sim.a_to_b.stats(), *sim.b_to_a.stats())
}

#[test]
fn same_seed_same_trace() {
    let (t1, ab1, ba1) = full_trace(42);
    let (t2, ab2, ba2) = full_trace(42);
    assert!(t1.len() > 3000);
    assert_eq!(t1, t2);
    assert_eq!((ab1, ba1), (ab2, ba2));
    assert!(ab1.lost > 0 && ab1.duplicated > 0 && ab1.reordered > 0 && ab1.corrupted > 0);
    // The directions draw from different seeds.
    assert_ne!(ab1.lost, ba1.lost);
    let (t3, _, _) = full_trace(43);
    assert_ne!(t1, t3);
}

#[test]
fn capture_records_deliveries_both_ways() {
    let mut sim = Sim::new(Sender::new(2, 40, Duration::ZERO), echo(), delay(1), delay(2), 1);
    sim.capture = Some(Vec::new());
    sim.run_for(Duration::from_millis(10));
    let c: Vec<_> =
        sim.capture.unwrap_or_default().into_iter().map(|c| (c.at.as_micros(), c.dir, seq_of(&c.bytes))).collect();
    assert_eq!(c, [(1000, Dir::AToB, 0), (1000, Dir::AToB, 1), (3000, Dir::BToA, 0), (3000, Dir::BToA, 1)]);
}

#[test]
fn zero_delay_delivers_in_the_same_instant() {
    let mut sim =
        Sim::new(Sender::new(3, 40, Duration::ZERO), echo(), Impairments::default(), Impairments::default(), 1);
    assert!(sim.run_until(Instant::from_secs(1), |s| s.a.got.len() == 3));
    assert_eq!(sim.now, Instant::ZERO);
}

#[test]
fn run_until_honours_the_deadline() {
    // Packets every 10 ms; stop at 25 ms: three sent, two delivered.
    let mut sim = Sim::new(Sender::new(100, 40, Duration::from_millis(10)), sink(), delay(1), delay(1), 1);
    assert!(!sim.run_until(Instant::from_millis(25), |s| s.b.got.len() == 100));
    assert_eq!(sim.now, Instant::from_millis(25));
    assert_eq!((sim.a.sent, sim.b.got.len()), (3, 3));
    // Events at exactly the deadline are processed.
    assert!(!sim.run_until(Instant::from_millis(30), |_| false));
    assert_eq!(sim.a.sent, 4);
    // A deadline already passed does nothing.
    assert!(!sim.run_until(Instant::from_millis(5), |_| false));
    assert_eq!(sim.now, Instant::from_millis(30));
}

/// A node whose timer is always in the past and that never clears it.
#[derive(Default)]
struct Stuck {
    fired: u64,
}

impl Node for Stuck {
    fn receive(&mut self, _now: Instant, _packet: &[u8]) {}
    fn poll_transmit(&mut self, _now: Instant, _buf: &mut [u8]) -> Option<usize> {
        None
    }
    fn poll_at(&self) -> Option<Instant> {
        Some(Instant::ZERO)
    }
    fn handle_timeout(&mut self, _now: Instant) {
        self.fired += 1;
    }
}

#[test]
fn a_timer_stuck_in_the_past_does_not_freeze_time() {
    let mut sim = Sim::new(Stuck::default(), sink(), delay(1), delay(1), 1);
    sim.run_for(Duration::from_millis(1));
    assert_eq!(sim.now, Instant::from_millis(1));
    // Once per microsecond, 0 through 1000 inclusive.
    assert_eq!(sim.a.fired, 1001);
}

#[test]
fn livelock_is_cut_by_max_steps() {
    // Two echoers bouncing one packet at zero delay never leave t = 0.
    let mut a = echo();
    a.out.push_back(toy_packet(0, 40));
    let mut sim = Sim::new(a, echo(), Impairments::default(), Impairments::default(), 1);
    sim.max_steps = 1000;
    assert!(!sim.run_until(Instant::from_secs(1), |_| false));
    assert_eq!(sim.now, Instant::ZERO);
    assert!(sim.b.got.len() >= 400, "{}", sim.b.got.len());
}

#[test]
fn partition_and_heal_with_set_impairments() {
    let mut sim = Sim::new(Sender::new(10, 40, Duration::from_millis(1)), sink(), delay(1), delay(1), 1);
    sim.a_to_b.set_impairments(Impairments { loss: 1.0, ..delay(1) });
    sim.run_for(Duration::from_micros(4500));
    assert!(sim.b.got.is_empty());
    sim.a_to_b.set_impairments(delay(1));
    sim.run_for(Duration::from_millis(20));
    assert_eq!(seqs(&sim.b.got), [5, 6, 7, 8, 9]);
    assert_eq!(sim.a_to_b.stats().lost, 5);
}

/// Claims a length longer than the buffer it was given.
struct Liar(bool);

impl Node for Liar {
    fn receive(&mut self, _now: Instant, _packet: &[u8]) {}
    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<usize> {
        let first = std::mem::replace(&mut self.0, false);
        first.then_some(buf.len() + 10)
    }
    fn poll_at(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _now: Instant) {}
}

#[test]
fn an_overlong_transmit_is_cut_not_a_panic() {
    let mut sim = Sim::new(Liar(true), sink(), delay(1), delay(1), 1);
    sim.run_for(Duration::from_millis(2));
    assert_eq!(sim.b.got.len(), 1);
    assert_eq!(sim.b.got[0].1.len(), MAX_PACKET);
}

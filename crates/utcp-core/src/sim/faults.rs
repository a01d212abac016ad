//! A fault injector for a device boundary: one [`Link`] per direction
//! between a network device and a stack, configured by the text form of
//! the runtime's `UTCP_FAULTS`.
//!
//! The caller owns the device and the clock: it hands each packet to the
//! link of its direction, takes due packets back with [`Link::pop_due`],
//! and wakes at [`Faults::next_delivery`] for the ones still held.

use super::{Impairments, Link, LinkStats};
use crate::rng::Rng;
use crate::time::Instant;

/// Impairments for each direction, and the seed of their randomness.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultSpec {
    /// Packets from the device to the stack.
    pub inbound: Impairments,
    /// Packets from the stack to the device.
    pub outbound: Impairments,
    pub seed: u64,
}

impl FaultSpec {
    /// The seed when the spec names none: a fixed one, so that two runs of
    /// the same spec draw the same faults for the same packet sequence.
    pub const DEFAULT_SEED: u64 = 1;

    /// Parse comma-separated items: the keys of [`Impairments::parse`],
    /// each optionally prefixed `in:` (packets the device delivers to the
    /// stack) or `out:` (packets the stack sends), and `seed=N`. A plain
    /// key applies to both directions; a prefixed one overrides it for its
    /// direction, wherever it stands. E.g.
    /// `loss=1%,out:loss=5%,delay=10ms,seed=7`.
    pub fn parse(s: &str) -> Result<FaultSpec, String> {
        let mut seed = None;
        let (mut both, mut inb, mut outb) = (Vec::new(), Vec::new(), Vec::new());
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            if let Some(rest) = item.strip_prefix("in:") {
                inb.push(rest.trim());
            } else if let Some(rest) = item.strip_prefix("out:") {
                outb.push(rest.trim());
            } else if key_of(item) == "seed" {
                if seed.is_some() {
                    return Err("seed: given more than once".into());
                }
                let v = item.split_once('=').map_or("", |(_, v)| v.trim());
                seed = Some(v.parse::<u64>().map_err(|_| format!("seed={v}: expected a whole number"))?);
            } else {
                both.push(item);
            }
        }
        // Each group alone first, so an error names the item as written
        // (with its prefix), not the merged list.
        Impairments::parse(&both.join(","))?;
        Impairments::parse(&inb.join(",")).map_err(|e| format!("in:{e}"))?;
        Impairments::parse(&outb.join(",")).map_err(|e| format!("out:{e}"))?;
        let merged = |own: &[&str]| {
            let own_keys: Vec<&str> = own.iter().map(|i| key_of(i)).collect();
            let items: Vec<&str> = both.iter().filter(|i| !own_keys.contains(&key_of(i))).chain(own).copied().collect();
            Impairments::parse(&items.join(","))
        };
        Ok(FaultSpec { inbound: merged(&inb)?, outbound: merged(&outb)?, seed: seed.unwrap_or(Self::DEFAULT_SEED) })
    }
}

fn key_of(item: &str) -> &str {
    item.split_once('=').map_or(item, |(k, _)| k).trim()
}

/// Both directions' links. A direction whose impairments do nothing has no
/// link, so its packets pass without a copy.
#[derive(Debug)]
pub struct Faults {
    pub inbound: Option<Link>,
    pub outbound: Option<Link>,
}

impl Faults {
    /// The directions get distinct seeds derived from `spec.seed`, so each
    /// one's faults are independent but replayable.
    pub fn new(spec: &FaultSpec) -> Faults {
        let mut seeds = Rng::new(spec.seed);
        let (seed_in, seed_out) = (seeds.next_u64(), seeds.next_u64());
        let link = |imp: Impairments, seed| (!imp.is_noop()).then(|| Link::new(imp, seed));
        Faults { inbound: link(spec.inbound, seed_in), outbound: link(spec.outbound, seed_out) }
    }

    /// When the earliest held packet of either direction is due.
    pub fn next_delivery(&self) -> Option<Instant> {
        let t = |l: &Option<Link>| l.as_ref().and_then(Link::next_delivery);
        match (t(&self.inbound), t(&self.outbound)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The counters of injected faults, one direction after the other:
    /// `in: loss 12 dup 3 reorder 4 corrupt 1 delay 0 queue_drop 0 out: off`.
    pub fn summary(&self) -> String {
        let dir = |name: &str, l: &Option<Link>| match l {
            None => format!("{name}: off"),
            Some(l) => {
                let LinkStats { sent, lost, queue_drops, duplicated, reordered, corrupted, delayed, .. } = *l.stats();
                format!(
                    "{name}: packets {sent} loss {lost} dup {duplicated} reorder {reordered} corrupt {corrupted} \
                     delay {delayed} queue_drop {queue_drops}"
                )
            }
        };
        format!("{} {}", dir("in", &self.inbound), dir("out", &self.outbound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::PROTO_TCP;
    use crate::wire::{Flags, Ipv4Repr, SeqNum, TcpRepr};
    use core::net::Ipv4Addr;
    use core::time::Duration;

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

    /// A valid TCP/IPv4 data segment whose sequence number is `seq`.
    fn segment(seq: u32) -> Vec<u8> {
        let payload = [0x5au8; 100];
        let tcp = TcpRepr {
            src_port: 80,
            dst_port: 40000,
            seq: SeqNum(seq),
            ack: SeqNum(1),
            flags: Flags::ACK,
            window: 1000,
            ..TcpRepr::default()
        };
        let len = tcp.header_len() + payload.len();
        let mut p = vec![0u8; 20 + len];
        Ipv4Repr::new(SRC, DST, PROTO_TCP, len).emit(&mut p);
        tcp.emit(&mut p[20..], SRC, DST, &payload);
        p
    }

    fn seq_of(p: &[u8]) -> u32 {
        u32::from_be_bytes([p[24], p[25], p[26], p[27]])
    }

    /// What the stack's receive path would say of a packet.
    fn parses(p: &[u8]) -> bool {
        Ipv4Repr::parse(p).is_ok_and(|(ip, seg)| TcpRepr::parse(seg, ip.src, ip.dst, true).is_ok())
    }

    fn inbound(spec: &str) -> Link {
        Faults::new(&FaultSpec::parse(spec).unwrap()).inbound.unwrap()
    }

    /// Send `n` segments at 100 µs intervals, popping what is due as the
    /// clock advances; every delivery with its time.
    fn run(link: &mut Link, n: u32) -> Vec<(Instant, Vec<u8>)> {
        let mut got = Vec::new();
        let mut now = Instant::ZERO;
        for i in 0..n + 1000 {
            if i < n {
                link.send(now, &segment(i));
            }
            while let Some(p) = link.pop_due(now) {
                got.push((now, p));
            }
            now += Duration::from_micros(100);
        }
        assert_eq!(link.in_flight(), 0);
        got
    }

    #[test]
    fn plain_keys_apply_both_ways_and_prefixed_ones_override() {
        let s = FaultSpec::parse("loss=5%,out:loss=20%,in:delay=10ms,dup=1%,seed=42").unwrap();
        assert_eq!(s.seed, 42);
        assert!((s.inbound.loss - 0.05).abs() < 1e-12);
        assert!((s.outbound.loss - 0.20).abs() < 1e-12);
        assert!((s.inbound.dup - 0.01).abs() < 1e-12 && (s.outbound.dup - 0.01).abs() < 1e-12);
        assert_eq!(s.inbound.delay, Duration::from_millis(10));
        assert_eq!(s.outbound.delay, Duration::ZERO);
        assert_eq!(FaultSpec::parse("").unwrap().seed, FaultSpec::DEFAULT_SEED);
        let f = Faults::new(&FaultSpec::parse("in:loss=1%").unwrap());
        assert!(f.inbound.is_some() && f.outbound.is_none());
        assert!(Faults::new(&FaultSpec::parse("limit=5,seed=3").unwrap()).inbound.is_none());
    }

    #[test]
    fn errors_name_the_item() {
        for (input, needle) in [
            ("loss=5x", "loss=5x"),
            ("in:loss=5x", "in:loss=5x"),
            ("out:bogus=1", "out:unknown key \"bogus\""),
            ("seed=x", "seed=x"),
            ("seed=1,seed=2", "seed"),
            ("in:loss=1%,in:loss=2%", "in:loss"),
        ] {
            let err = FaultSpec::parse(input).unwrap_err();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn ten_percent_loss_drops_about_a_tenth_and_replays() {
        let mut a = inbound("loss=10%,seed=9");
        let got = run(&mut a, 10_000);
        let lost = a.stats().lost;
        assert!((900..1100).contains(&lost), "{lost}");
        assert_eq!(got.len() as u64, 10_000 - lost);
        let mut b = inbound("loss=10%,seed=9");
        run(&mut b, 10_000);
        assert_eq!(b.stats().lost, lost);
        let mut c = inbound("loss=10%,seed=10");
        run(&mut c, 10_000);
        assert_ne!(c.stats().lost, lost);
    }

    #[test]
    fn reorder_delivers_later_packets_first() {
        let mut l = inbound("reorder=5%,reorder_delay=1ms,seed=2");
        let got = run(&mut l, 2000);
        let seqs: Vec<u32> = got.iter().map(|(_, p)| seq_of(p)).collect();
        let overtaken = seqs.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(l.stats().reordered > 50, "{:?}", l.stats());
        assert!(overtaken > 50, "{overtaken}");
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..2000).collect::<Vec<_>>());
    }

    #[test]
    fn delay_releases_at_the_right_time() {
        let mut f = Faults::new(&FaultSpec::parse("out:delay=10ms").unwrap());
        let link = f.outbound.as_mut().unwrap();
        let t0 = Instant::from_millis(5);
        link.send(t0, &segment(1));
        link.send(t0 + Duration::from_millis(1), &segment(2));
        let due = t0 + Duration::from_millis(10);
        assert_eq!(f.next_delivery(), Some(due));
        let link = f.outbound.as_mut().unwrap();
        assert!(link.pop_due(Instant::from_micros(due.as_micros() - 1)).is_none());
        assert_eq!(link.pop_due(due).map(|p| seq_of(&p)), Some(1));
        assert!(link.pop_due(due).is_none());
        assert_eq!(f.next_delivery(), Some(due + Duration::from_millis(1)));
        assert_eq!(f.outbound.as_ref().unwrap().stats().delayed, 2);
    }

    #[test]
    fn corrupt_flips_a_bit_that_the_checksums_catch() {
        let mut l = inbound("corrupt=100%,seed=4");
        let got = run(&mut l, 1000);
        assert_eq!(l.stats().corrupted, 1000);
        // Nothing is delayed, so the i-th delivery is the i-th segment.
        for (i, (_, p)) in got.iter().enumerate() {
            let sent = segment(i as u32);
            let flipped: u32 = p.iter().zip(&sent).map(|(a, b)| (a ^ b).count_ones()).sum();
            assert_eq!(flipped, 1);
            assert!(!parses(p), "segment {i}: a corrupted segment passed the checksums");
        }
        // The same segments uncorrupted do parse: the test's packets are valid.
        assert!(parses(&segment(7)));
    }

    #[test]
    fn summary_counts_each_fault() {
        let mut f = Faults::new(&FaultSpec::parse("in:loss=50%,in:dup=50%,seed=5").unwrap());
        run(f.inbound.as_mut().unwrap(), 100);
        let s = f.summary();
        let st = *f.inbound.as_ref().unwrap().stats();
        assert!(st.lost > 20 && st.duplicated > 10, "{st:?}");
        assert!(s.starts_with(&format!("in: packets 100 loss {} dup {} ", st.lost, st.duplicated)), "{s}");
        assert!(s.ends_with("out: off"), "{s}");
    }
}

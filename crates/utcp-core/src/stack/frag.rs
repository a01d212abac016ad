//! IPv4 fragment reassembly (RFC 791 §3.2, "Reassembly") with bounded
//! memory and a timeout.
//!
//! Each datagram being reassembled (a "set") has one contiguous buffer
//! sized to the furthest byte seen and a sorted list of the byte ranges
//! already filled, merged when they touch: RFC 815's hole list, kept as
//! its complement. The set is complete when the last fragment has fixed
//! the total length and a single range covers it.
//!
//! Every error drops the fragment and the whole set it belongs to: after
//! a malformed, conflicting or over-budget fragment the datagram can no
//! longer be reassembled correctly, and holding it would only spend the
//! byte budget until the timeout.

use super::stats::DropReason;
use crate::time::Instant;
use crate::wire::ipv4::{self, Ipv4Repr};
use core::net::Ipv4Addr;
use core::time::Duration;
use std::collections::BTreeMap;

/// RFC 791 §3.1: the total length field is 16 bits, so a datagram's
/// payload is at most 65535 minus a minimal header.
pub const MAX_PAYLOAD: usize = u16::MAX as usize - ipv4::HEADER_LEN;

/// Limits of a [`FragReassembler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragConfig {
    /// Reassembly buffer bytes held across all sets, holes included (they
    /// are allocated).
    pub max_bytes: usize,
    /// Datagrams being reassembled at once.
    pub max_sets: usize,
    /// Lifetime of a set, counted from its first fragment.
    pub timeout: Duration,
}

impl Default for FragConfig {
    fn default() -> Self {
        FragConfig {
            // Linux: net.ipv4.ipfrag_high_thresh defaults to 4 MiB.
            max_bytes: 4 << 20,
            max_sets: 64,
            // Linux: net.ipv4.ipfrag_time defaults to 30 s. RFC 791 §3.2
            // suggests 15 s as the initial timer setting.
            timeout: Duration::from_secs(30),
        }
    }
}

/// RFC 791 §3.2: fragments belong together when source, destination,
/// protocol and identification match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    ident: u16,
}

/// One datagram being reassembled.
#[derive(Debug)]
struct FragSet {
    /// Deadline: first fragment's arrival plus the timeout. Linux does not
    /// extend it when more fragments arrive, and neither do we.
    expires: Instant,
    /// RFC 791 §3.2: the reassembled datagram takes the header of the
    /// fragment at offset zero.
    first_header: Option<Ipv4Repr>,
    /// Payload length, known once the last fragment (MF clear) arrived.
    total: Option<usize>,
    data: Vec<u8>,
    /// Filled byte ranges `[start, end)`: sorted, disjoint, not touching.
    held: Vec<(usize, usize)>,
}

impl FragSet {
    /// The reassembled header and total length, once the last fragment
    /// fixed the total and one range covers it (so the offset-zero fragment,
    /// and its header, arrived too).
    fn completed(&self) -> Option<(Ipv4Repr, usize)> {
        match (self.first_header, self.total, self.held.as_slice()) {
            (Some(header), Some(total), [(0, end)]) if *end == total => Some((header, total)),
            _ => None,
        }
    }

    /// Record `[start, end)` as filled, merging it with the ranges it
    /// touches. The caller has checked it overlaps none.
    fn insert(&mut self, start: usize, end: usize) {
        let i = self.held.partition_point(|&(_, e)| e < start);
        let mut new = (start, end);
        let mut j = i;
        while let Some(&(s, e)) = self.held.get(j) {
            if s > end {
                break;
            }
            new = (new.0.min(s), new.1.max(e));
            j += 1;
        }
        self.held.splice(i..j, [new]);
    }
}

/// How a fragment relates to the data a set already holds.
enum Fit {
    /// Entirely new bytes.
    Fresh,
    /// Entirely inside one filled range.
    Duplicate,
    /// Partly over filled bytes.
    Overlap,
}

impl FragSet {
    fn fit(&self, start: usize, end: usize) -> Fit {
        // The first range ending after `start` is the only one that can
        // contain the fragment, and the only one to check for overlap: any
        // later range starts after it ends.
        let i = self.held.partition_point(|&(_, e)| e <= start);
        match self.held.get(i) {
            Some(&(s, e)) if s <= start && end <= e => Fit::Duplicate,
            Some(&(s, _)) if s < end => Fit::Overlap,
            _ => Fit::Fresh,
        }
    }
}

/// Reassembles IPv4 datagrams from fragments.
#[derive(Debug)]
pub struct FragReassembler {
    cfg: FragConfig,
    sets: BTreeMap<Key, FragSet>,
    /// Sum of `data.len()` over all sets.
    bytes: usize,
}

impl FragReassembler {
    pub fn new(cfg: FragConfig) -> Self {
        FragReassembler {
            cfg,
            sets: BTreeMap::new(),
            bytes: 0,
        }
    }

    /// Add one fragment (`ip` and its payload). Returns the whole datagram,
    /// its header taken from the offset-zero fragment with `more_frags`
    /// false, `frag_offset` 0 and `payload_len` the total, once every piece
    /// has arrived; `Ok(None)` while pieces are missing or when the
    /// fragment repeats bytes already held. A packet that is not a
    /// fragment is returned as is.
    ///
    /// On `Err` the fragment is dropped, and so is its set if one exists.
    ///
    /// Sets past their deadline are not swept here: the stack calls
    /// [`expire`](Self::expire) first so each is counted as a timeout.
    pub fn push(
        &mut self,
        now: Instant,
        ip: &Ipv4Repr,
        payload: &[u8],
    ) -> Result<Option<(Ipv4Repr, Vec<u8>)>, DropReason> {
        if !ip.is_fragment() {
            let mut whole = *ip;
            whole.payload_len = payload.len();
            return Ok(Some((whole, payload.to_vec())));
        }
        let key = Key {
            src: ip.src,
            dst: ip.dst,
            protocol: ip.protocol,
            ident: ip.ident,
        };
        let result = self.add(now, key, ip, payload);
        if result.is_err() {
            self.discard(&key);
        }
        result
    }

    fn add(
        &mut self,
        now: Instant,
        key: Key,
        ip: &Ipv4Repr,
        payload: &[u8],
    ) -> Result<Option<(Ipv4Repr, Vec<u8>)>, DropReason> {
        let start = ip.frag_offset as usize;
        let end = start + payload.len();
        let last = !ip.more_frags;
        if end > MAX_PAYLOAD {
            // RFC 791 §3.1: no datagram can extend this far (the "ping of
            // death" sends exactly such a fragment).
            return Err(DropReason::FragTooBig);
        }
        // Linux: ip_frag_queue() kills the queue on an empty fragment.
        // RFC 791 §3.2: every fragment but the last carries a multiple of
        // 8 bytes, or the next one (at an offset in 8-byte units) would
        // overlap it or leave a hole. Linux trims such a fragment to a
        // multiple of 8 instead; we treat it as malformed, one more
        // fragment that cannot fit the set, and count it as an overlap.
        if payload.is_empty() || (!last && !payload.len().is_multiple_of(8)) {
            return Err(DropReason::FragOverlap);
        }

        let growth = match self.sets.get(&key) {
            Some(set) => end.saturating_sub(set.data.len()),
            None => {
                if self.sets.len() >= self.cfg.max_sets {
                    return Err(DropReason::FragTableFull);
                }
                end
            }
        };
        // Linux: inet_frag_find() refuses fragments while memory is above
        // ipfrag_high_thresh; we refuse before exceeding the budget, so it
        // is a hard bound.
        if self.bytes + growth > self.cfg.max_bytes {
            return Err(DropReason::FragTableFull);
        }
        let timeout = self.cfg.timeout;
        let set = self.sets.entry(key).or_insert_with(|| FragSet {
            expires: now + timeout,
            first_header: None,
            total: None,
            data: Vec::new(),
            held: Vec::new(),
        });

        let held_end = set.held.last().map_or(0, |&(_, e)| e);
        if last {
            // Linux: ip_frag_queue() — a second last fragment with another
            // length, or data already held past this end, is corruption.
            if set.total.is_some_and(|t| t != end) || held_end > end {
                return Err(DropReason::FragOverlap);
            }
        } else if set.total.is_some_and(|t| end > t) {
            // Data past the end the last fragment fixed.
            return Err(DropReason::FragOverlap);
        }
        match set.fit(start, end) {
            // Linux: since the FragmentSmack fix (CVE-2018-5391),
            // inet_frag_queue_insert() drops the whole queue on any partial
            // overlap (RFC 5722 §4 does the same for IPv6) but silently
            // drops a fragment lying entirely within data already held,
            // keeping the queue: a duplicated packet is not an attack. The
            // bytes already held win; the duplicate's are not compared.
            Fit::Duplicate => return Ok(None),
            Fit::Overlap => return Err(DropReason::FragOverlap),
            Fit::Fresh => {}
        }

        if set.data.len() < end {
            // Exact, so `bytes` is what is really allocated.
            set.data.reserve_exact(end - set.data.len());
            set.data.resize(end, 0);
            self.bytes += growth;
        }
        set.data[start..end].copy_from_slice(payload);
        set.insert(start, end);
        if start == 0 {
            set.first_header = Some(*ip);
        }
        if last {
            set.total = Some(end);
        }
        let Some((mut header, total)) = set.completed() else {
            return Ok(None);
        };
        let data = core::mem::take(&mut set.data);
        self.discard(&key);
        self.bytes -= data.len();
        header.more_frags = false;
        header.frag_offset = 0;
        header.payload_len = total;
        Ok(Some((header, data)))
    }

    fn discard(&mut self, key: &Key) {
        if let Some(set) = self.sets.remove(key) {
            self.bytes -= set.data.len();
        }
    }

    /// Drop the sets whose deadline (first fragment plus the timeout) has
    /// come; returns how many, for the FragTimeout counter.
    ///
    /// RFC 791 §3.2 and RFC 1122 §3.3.2 would send an ICMP Time Exceeded
    /// (code 1) when the first fragment had arrived; the stack decides that.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.sets.len();
        let mut freed = 0;
        self.sets.retain(|_, set| {
            let keep = set.expires > now;
            if !keep {
                freed += set.data.len();
            }
            keep
        });
        self.bytes -= freed;
        before - self.sets.len()
    }

    /// The earliest deadline, when [`expire`](Self::expire) has work.
    pub fn poll_at(&self) -> Option<Instant> {
        self.sets.values().map(|s| s.expires).min()
    }

    /// Reassembly buffer bytes held now (never above `max_bytes`).
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Datagrams being reassembled now.
    pub fn sets(&self) -> usize {
        self.sets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const T0: Instant = Instant::ZERO;

    fn datagram(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// The header of the fragment `[offset, offset + len)` of datagram `ident`.
    fn frag_ip(ident: u16, offset: usize, len: usize, more: bool) -> Ipv4Repr {
        let mut ip = Ipv4Repr::new(SRC, DST, ipv4::PROTO_TCP, len);
        ip.ident = ident;
        ip.dont_frag = false;
        ip.more_frags = more;
        ip.frag_offset = offset as u16;
        ip
    }

    /// Cut `data` into fragments of `size` bytes (a multiple of 8).
    fn fragments(ident: u16, data: &[u8], size: usize) -> Vec<(Ipv4Repr, Vec<u8>)> {
        data.chunks(size)
            .enumerate()
            .map(|(i, c)| {
                let off = i * size;
                (
                    frag_ip(ident, off, c.len(), off + c.len() < data.len()),
                    c.to_vec(),
                )
            })
            .collect()
    }

    fn push(
        r: &mut FragReassembler,
        f: &(Ipv4Repr, Vec<u8>),
    ) -> Result<Option<(Ipv4Repr, Vec<u8>)>, DropReason> {
        r.push(T0, &f.0, &f.1)
    }

    /// Push all but the last of `frags`, checking nothing completes early,
    /// then return what the last one gives.
    fn push_all(r: &mut FragReassembler, frags: &[(Ipv4Repr, Vec<u8>)]) -> (Ipv4Repr, Vec<u8>) {
        let (final_frag, rest) = frags.split_last().unwrap();
        for f in rest {
            assert_eq!(push(r, f), Ok(None));
        }
        push(r, final_frag).unwrap().unwrap()
    }

    #[test]
    fn in_order() {
        let data = datagram(3000, 1);
        let mut frags = fragments(7, &data, 1480);
        frags[0].0.ttl = 9; // Only the first fragment's header is kept.
        let mut r = FragReassembler::new(FragConfig::default());
        let (ip, payload) = push_all(&mut r, &frags);
        assert_eq!(payload, data);
        assert_eq!((ip.src, ip.dst, ip.ident, ip.ttl), (SRC, DST, 7, 9));
        assert!(!ip.is_fragment());
        assert_eq!(ip.payload_len, 3000);
        assert_eq!((r.sets(), r.buffered_bytes(), r.poll_at()), (0, 0, None));
    }

    #[test]
    fn reverse_and_shuffled_order() {
        let data = datagram(1000, 2);
        let mut frags = fragments(1, &data, 96);
        frags.reverse();
        let mut r = FragReassembler::new(FragConfig::default());
        assert_eq!(push_all(&mut r, &frags).1, data);

        // Odd indices, then even ones: holes open and close in the middle.
        let frags = fragments(2, &data, 96);
        let order: Vec<_> = frags
            .iter()
            .skip(1)
            .step_by(2)
            .chain(frags.iter().step_by(2))
            .cloned()
            .collect();
        assert_eq!(push_all(&mut r, &order).1, data);
        assert_eq!(r.buffered_bytes(), 0);
    }

    #[test]
    fn interleaved_sets() {
        let a = datagram(200, 3);
        let b = datagram(136, 4);
        let fa = fragments(100, &a, 64);
        let mut fb = fragments(100, &b, 64);
        // Same ident, other protocol: a separate datagram (RFC 791 §3.2).
        for f in &mut fb {
            f.0.protocol = ipv4::PROTO_ICMP;
        }
        let mut r = FragReassembler::new(FragConfig::default());
        assert_eq!(push(&mut r, &fa[0]), Ok(None));
        assert_eq!(push(&mut r, &fb[2]), Ok(None));
        assert_eq!(push(&mut r, &fa[3]), Ok(None));
        assert_eq!(push(&mut r, &fb[0]), Ok(None));
        assert_eq!(r.sets(), 2);
        assert_eq!(push(&mut r, &fa[1]), Ok(None));
        let (ip, got) = push(&mut r, &fb[1]).unwrap().unwrap();
        assert_eq!((ip.protocol, got), (ipv4::PROTO_ICMP, b));
        let (ip, got) = push(&mut r, &fa[2]).unwrap().unwrap();
        assert_eq!((ip.protocol, got), (ipv4::PROTO_TCP, a));
        assert_eq!(r.sets(), 0);
    }

    #[test]
    fn duplicates_are_ignored() {
        let data = datagram(240, 5);
        let frags = fragments(3, &data, 80);
        let mut r = FragReassembler::new(FragConfig::default());
        assert_eq!(push(&mut r, &frags[0]), Ok(None));
        assert_eq!(push(&mut r, &frags[0]), Ok(None));
        assert_eq!(push(&mut r, &frags[2]), Ok(None));
        assert_eq!(push(&mut r, &frags[2]), Ok(None));
        // Inside held data but with other bytes: the first copy wins.
        let mut forged = frags[0].clone();
        forged.1 = vec![0xee; 80];
        assert_eq!(push(&mut r, &forged), Ok(None));
        let (_, got) = push(&mut r, &frags[1]).unwrap().unwrap();
        assert_eq!(got, data);
        // A duplicate after completion starts a new set, which times out.
        assert_eq!(push(&mut r, &frags[1]), Ok(None));
        assert_eq!(r.sets(), 1);
    }

    #[test]
    fn overlap_drops_the_set() {
        let data = datagram(240, 6);
        let frags = fragments(4, &data, 80);
        let mut r = FragReassembler::new(FragConfig::default());
        assert_eq!(push(&mut r, &frags[0]), Ok(None));
        assert_eq!(push(&mut r, &frags[2]), Ok(None));
        // [40, 120) straddles the end of the held [0, 80).
        let straddle = (frag_ip(4, 40, 80, true), data[40..120].to_vec());
        assert_eq!(push(&mut r, &straddle), Err(DropReason::FragOverlap));
        assert_eq!((r.sets(), r.buffered_bytes()), (0, 0));
        // The set is gone: the remaining piece starts a new, incomplete one.
        assert_eq!(push(&mut r, &frags[1]), Ok(None));

        // A fragment covering a held one and more is an overlap too.
        let mut r = FragReassembler::new(FragConfig::default());
        assert_eq!(push(&mut r, &frags[1]), Ok(None));
        let cover = (frag_ip(4, 0, 160, true), data[..160].to_vec());
        assert_eq!(push(&mut r, &cover), Err(DropReason::FragOverlap));
        assert_eq!(r.sets(), 0);
    }

    #[test]
    fn malformed_fragments_drop_the_set() {
        let mut r = FragReassembler::new(FragConfig::default());
        let first = (frag_ip(5, 0, 16, true), vec![1; 16]);
        assert_eq!(push(&mut r, &first), Ok(None));
        // A non-last fragment of 12 bytes.
        let odd = (frag_ip(5, 16, 12, true), vec![2; 12]);
        assert_eq!(push(&mut r, &odd), Err(DropReason::FragOverlap));
        assert_eq!(r.sets(), 0);

        assert_eq!(push(&mut r, &first), Ok(None));
        let empty = (frag_ip(5, 16, 0, false), vec![]);
        assert_eq!(push(&mut r, &empty), Err(DropReason::FragOverlap));
        assert_eq!(r.sets(), 0);
    }

    #[test]
    fn conflicting_ends_drop_the_set() {
        let mut r = FragReassembler::new(FragConfig::default());
        let last = (frag_ip(6, 64, 10, false), vec![3; 10]);
        assert_eq!(push(&mut r, &last), Ok(None));
        let other_last = (frag_ip(6, 64, 20, false), vec![3; 20]);
        assert_eq!(push(&mut r, &other_last), Err(DropReason::FragOverlap));
        assert_eq!(r.sets(), 0);

        // A fragment past the known end.
        assert_eq!(push(&mut r, &last), Ok(None));
        let beyond = (frag_ip(6, 80, 8, true), vec![4; 8]);
        assert_eq!(push(&mut r, &beyond), Err(DropReason::FragOverlap));
        assert_eq!(r.sets(), 0);

        // A last fragment ending before data already held.
        let middle = (frag_ip(6, 64, 16, true), vec![5; 16]);
        assert_eq!(push(&mut r, &middle), Ok(None));
        let short_last = (frag_ip(6, 8, 8, false), vec![6; 8]);
        assert_eq!(push(&mut r, &short_last), Err(DropReason::FragOverlap));
        assert_eq!((r.sets(), r.buffered_bytes()), (0, 0));
    }

    #[test]
    fn too_big() {
        let mut r = FragReassembler::new(FragConfig::default());
        let first = (frag_ip(8, 0, 1480, true), vec![0; 1480]);
        assert_eq!(push(&mut r, &first), Ok(None));
        // Ping of death: the last fragment ends at 65528 + 100.
        let pod = (frag_ip(8, 65528, 100, false), vec![0; 100]);
        assert_eq!(push(&mut r, &pod), Err(DropReason::FragTooBig));
        assert_eq!((r.sets(), r.buffered_bytes()), (0, 0));

        // Ending exactly at the limit is fine.
        let data = datagram(MAX_PAYLOAD, 9);
        let (ip, got) = push_all(&mut r, &fragments(9, &data, 8192));
        assert_eq!((ip.payload_len, got), (MAX_PAYLOAD, data));
        let over = (frag_ip(10, 65512, 8, false), vec![0; 8]);
        assert_eq!(push(&mut r, &over), Err(DropReason::FragTooBig));
    }

    #[test]
    fn timeout() {
        let cfg = FragConfig {
            timeout: Duration::from_secs(30),
            ..FragConfig::default()
        };
        let mut r = FragReassembler::new(cfg);
        let data = datagram(160, 10);
        let frags = fragments(11, &data, 80);
        assert_eq!(
            r.push(Instant::from_secs(1), &frags[0].0, &frags[0].1),
            Ok(None)
        );
        let other = (frag_ip(12, 0, 8, true), vec![0; 8]);
        assert_eq!(r.push(Instant::from_secs(5), &other.0, &other.1), Ok(None));
        // Later fragments do not push the deadline back.
        assert_eq!(r.push(Instant::from_secs(20), &other.0, &other.1), Ok(None));
        assert_eq!(r.poll_at(), Some(Instant::from_secs(31)));

        assert_eq!(r.expire(Instant::from_micros(31_000_000 - 1)), 0);
        assert_eq!(r.expire(Instant::from_secs(31)), 1);
        assert_eq!(r.poll_at(), Some(Instant::from_secs(35)));
        assert_eq!(r.buffered_bytes(), 8);
        assert_eq!(r.expire(Instant::from_secs(100)), 1);
        assert_eq!((r.sets(), r.buffered_bytes(), r.poll_at()), (0, 0, None));

        // The expired set's second half now starts an incomplete set.
        assert_eq!(
            r.push(Instant::from_secs(100), &frags[1].0, &frags[1].1),
            Ok(None)
        );
    }

    #[test]
    fn table_full() {
        let cfg = FragConfig {
            max_sets: 2,
            ..FragConfig::default()
        };
        let mut r = FragReassembler::new(cfg);
        let data = datagram(16, 11);
        let a = fragments(1, &data, 8);
        let b = fragments(2, &data, 8);
        let c = fragments(3, &data, 8);
        assert_eq!(push(&mut r, &a[0]), Ok(None));
        assert_eq!(push(&mut r, &b[0]), Ok(None));
        assert_eq!(push(&mut r, &c[0]), Err(DropReason::FragTableFull));
        assert_eq!(r.sets(), 2);
        // Existing sets still progress, freeing room.
        assert_eq!(push(&mut r, &a[1]).unwrap().unwrap().1, data);
        assert_eq!(push(&mut r, &c[0]), Ok(None));
    }

    #[test]
    fn memory_bounded() {
        let cfg = FragConfig {
            max_bytes: 10_000,
            max_sets: 1000,
            ..FragConfig::default()
        };
        let mut r = FragReassembler::new(cfg);
        // Tiny fragments far into their datagrams: each would allocate up to
        // its end, so the budget counts that, not the 8 bytes carried.
        let mut refused = 0;
        for ident in 0..100u16 {
            let f = (frag_ip(ident, 3000, 8, true), vec![0; 8]);
            match push(&mut r, &f) {
                Ok(None) => {}
                Err(DropReason::FragTableFull) => refused += 1,
                other => panic!("unexpected {other:?}"),
            }
            assert!(r.buffered_bytes() <= 10_000);
        }
        assert_eq!(r.sets(), 3);
        assert_eq!(r.buffered_bytes(), 3 * 3008);
        assert_eq!(refused, 97);

        // Growing an existing set past the budget drops it.
        let far = (frag_ip(0, 8000, 8, true), vec![0; 8]);
        assert_eq!(push(&mut r, &far), Err(DropReason::FragTableFull));
        assert_eq!((r.sets(), r.buffered_bytes()), (2, 2 * 3008));
    }

    #[test]
    fn not_a_fragment_passes_through() {
        let mut r = FragReassembler::new(FragConfig::default());
        let ip = Ipv4Repr::new(SRC, DST, ipv4::PROTO_TCP, 3);
        assert_eq!(r.push(T0, &ip, b"abc"), Ok(Some((ip, b"abc".to_vec()))));
        assert_eq!(r.sets(), 0);
    }

    #[test]
    fn never_panics_on_odd_fragments() {
        // Every offset class and length mix, with tight limits, checking the
        // byte count stays consistent.
        let cfg = FragConfig {
            max_bytes: 70_000,
            max_sets: 4,
            timeout: Duration::from_secs(1),
        };
        let mut r = FragReassembler::new(cfg);
        let mut x: u32 = 12345;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for step in 0..20_000u64 {
            let v = next();
            let offset = ((v & 0x1fff) * 8) as usize % 65536;
            let len = (next() % 80) as usize;
            let mut ip = frag_ip((v >> 16) as u16 % 6, 0, len, v & 0x8000_0000 != 0);
            ip.frag_offset = if v & 0x4000_0000 != 0 {
                offset as u16
            } else {
                (offset % 128) as u16 & !7
            };
            let now = Instant::from_millis(step);
            r.expire(now);
            if let Ok(Some((ip, data))) = r.push(now, &ip, &vec![7; len]) {
                assert_eq!(ip.payload_len, data.len());
            }
            let held: usize = r.sets.values().map(|s| s.data.len()).sum();
            assert_eq!(r.buffered_bytes(), held);
            assert!(held <= 70_000);
        }
    }
}

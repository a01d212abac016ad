//! The receive buffer: in-order bytes waiting for the application, plus a
//! bounded set of out-of-order ranges waiting for their holes to fill.
//!
//! # Offsets
//!
//! Two origins, neither a sequence number (the connection maps them):
//!
//! - Reading ([`RecvBuffer::read`], [`peek`](RecvBuffer::peek),
//!   [`discard`](RecvBuffer::discard)) starts at the *read head*, the next
//!   byte the application will see.
//! - Writing ([`RecvBuffer::write_at`]) and the out-of-order ranges
//!   ([`RecvBuffer::ooo_ranges`]) count from the first byte *after* the
//!   readable data, i.e. RCV.NXT: offset 0 is the next in-order byte. Bytes
//!   before RCV.NXT cannot be expressed; the connection trims them off a
//!   segment before calling `write_at`.
//!
//! ```text
//!  read head            RCV.NXT                          read head + capacity
//!      |<-- readable() -->|<------------- window() ------------->|
//!      |  in-order bytes  | hole | ooo range | hole | ooo range  |
//! ```
//!
//! # Window
//!
//! [`RecvBuffer::window`] is `capacity - readable`. Out-of-order bytes are
//! *not* subtracted: they already lie inside the window the connection
//! advertised, and the right edge RCV.NXT + window equals read head +
//! capacity, which arriving data never moves. Only reading moves it (right)
//! and only [`set_capacity`](RecvBuffer::set_capacity) can move it left, so
//! the buffer itself never shrinks an advertised window (RFC 9293
//! §3.8.6.2.2). Silly-window avoidance and window-scale rounding are the
//! connection's business.
//!
//! # Memory
//!
//! The byte storage grows lazily in powers of two up to the capacity, and
//! the out-of-order range table is allocated on the first hole. Neither is
//! freed automatically when the buffer drains: with no clock the buffer
//! cannot tell a pause between segments from idleness, and freeing on every
//! drain would allocate per segment for an application that reads each one
//! as it arrives. The connection calls [`RecvBuffer::release_if_empty`]
//! when the socket goes idle.

use super::send_buf::Ring;

/// Most out-of-order ranges held at once. Each costs a table entry and a
/// scan step per write; 32 is far more holes than a sane path produces,
/// and a peer that makes more is either broken or hostile.
pub const MAX_RANGES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The write would need a new out-of-order range and [`MAX_RANGES`] are
    /// in use; nothing was stored and the connection counts a drop.
    TooManyRanges,
}

/// What a [`RecvBuffer::write_at`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Bytes by which the readable region grew: how far RCV.NXT advances.
    /// Includes out-of-order bytes the write joined up to the in-order data.
    pub advanced: usize,
    /// Bytes of `data` accepted after trimming at the window, counting bytes
    /// the buffer already held (a retransmission is accepted, not dropped).
    pub stored: usize,
}

/// One out-of-order range, `start..end` relative to RCV.NXT.
#[derive(Clone, Copy, Debug)]
struct OooRange {
    start: usize,
    end: usize,
    /// When a write last touched it, for the SACK order of RFC 2018 §4.
    stamp: u64,
}

#[derive(Debug)]
pub struct RecvBuffer {
    ring: Ring,
    readable: usize,
    capacity: usize,
    /// Sorted by `start`; disjoint, never adjacent (touching ranges merge)
    /// and every `start >= 1` (a range reaching offset 0 is readable).
    ranges: Vec<OooRange>,
    /// Last stamp handed out; every live range has a distinct stamp because
    /// one write touches one contiguous span, which ends up in one range.
    clock: u64,
}

impl RecvBuffer {
    /// An empty buffer that will hold up to `capacity` bytes; allocates
    /// nothing until the first write.
    pub fn new(capacity: usize) -> Self {
        RecvBuffer {
            ring: Ring::default(),
            readable: 0,
            capacity,
            ranges: Vec::new(),
            clock: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes the limit (SO_RCVBUF). Held bytes, in order or not, are kept
    /// even beyond a smaller capacity; later writes are trimmed at the new
    /// right edge. Shrinking below what was advertised shrinks the window,
    /// which the connection should avoid (RFC 9293 §3.8.6.2.2).
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        if self.is_empty() && self.ring.allocated() > capacity {
            self.ring.release();
        }
    }

    /// Contiguous bytes the application can read now.
    pub fn readable(&self) -> usize {
        self.readable
    }

    /// Free space to advertise from RCV.NXT: `capacity - readable` (zero if
    /// a shrunk capacity is already exceeded). Out-of-order bytes are inside
    /// this window, not subtracted from it; see the module documentation.
    pub fn window(&self) -> usize {
        self.capacity.saturating_sub(self.readable)
    }

    /// Whether any out-of-order data waits for a hole to fill.
    pub fn has_ooo(&self) -> bool {
        !self.ranges.is_empty()
    }

    /// Bytes of backing storage allocated, for memory accounting.
    pub fn allocated(&self) -> usize {
        self.ring.allocated() + self.ranges.capacity() * core::mem::size_of::<OooRange>()
    }

    fn is_empty(&self) -> bool {
        self.readable == 0 && self.ranges.is_empty()
    }

    /// Stores `data` at `offset` bytes past RCV.NXT.
    ///
    /// Bytes at or beyond the window's right edge are trimmed. Bytes the
    /// buffer already holds are kept and only the gaps are filled, so a
    /// retransmission cannot overwrite data that may already have been
    /// SACKed. Touching or overlapping ranges merge; a range that reaches
    /// offset 0 becomes readable and is reported in
    /// [`WriteOutcome::advanced`].
    ///
    /// Fails, storing nothing, when the write would open a new out-of-order
    /// range while [`MAX_RANGES`] are in use. Writes that extend or fill
    /// existing ranges, or land in order, always succeed.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<WriteOutcome, RecvError> {
        let start = offset;
        let end = offset.saturating_add(data.len()).min(self.window());
        if start >= end {
            return Ok(WriteOutcome::default());
        }
        // ranges[first..last] overlap or touch start..end and merge with it.
        let first = self
            .ranges
            .iter()
            .position(|r| r.end >= start)
            .unwrap_or(self.ranges.len());
        let last = first
            + self.ranges[first..]
                .iter()
                .take_while(|r| r.start <= end)
                .count();
        if start > 0 && first == last && self.ranges.len() >= MAX_RANGES {
            return Err(RecvError::TooManyRanges);
        }

        // end <= window, so readable + end <= capacity.
        self.ring.ensure(self.readable + end, self.capacity);
        let base = self.readable;
        let mut cursor = start;
        for r in &self.ranges[first..last] {
            if r.start > cursor {
                self.ring
                    .copy_in(base + cursor, &data[cursor - start..r.start - start]);
            }
            cursor = cursor.max(r.end);
        }
        if cursor < end {
            self.ring
                .copy_in(base + cursor, &data[cursor - start..end - start]);
        }

        let merging = &self.ranges[first..last];
        let merged_start = merging.first().map_or(start, |r| r.start.min(start));
        let merged_end = merging.last().map_or(end, |r| r.end.max(end));
        let stored = end - start;
        if merged_start == 0 {
            // Every range starts past 0, so this write began at 0 and `first`
            // is 0: the merged span is readable and RCV.NXT moves past it.
            self.ranges.drain(..last);
            for r in &mut self.ranges {
                r.start -= merged_end;
                r.end -= merged_end;
            }
            self.readable += merged_end;
            return Ok(WriteOutcome {
                advanced: merged_end,
                stored,
            });
        }

        self.clock += 1;
        let merged = OooRange {
            start: merged_start,
            end: merged_end,
            stamp: self.clock,
        };
        if first == last {
            if self.ranges.capacity() == 0 {
                // One allocation for the table's whole life, not a few
                // doublings while a burst of losses opens holes.
                self.ranges.reserve_exact(MAX_RANGES);
            }
            self.ranges.insert(first, merged);
        } else {
            self.ranges[first] = merged;
            self.ranges.drain(first + 1..last);
        }
        Ok(WriteOutcome {
            advanced: 0,
            stored,
        })
    }

    /// Copies readable bytes into `out` without consuming them (MSG_PEEK).
    pub fn peek(&self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.readable);
        self.ring.copy_out(0, &mut out[..n]);
        n
    }

    /// Moves readable bytes into `out`; returns how many.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(out);
        self.discard(n)
    }

    /// Drops up to `n` readable bytes without copying them; returns how many.
    pub fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.readable);
        self.ring.advance(n);
        self.readable -= n;
        if self.is_empty() {
            self.ring.rewind();
        }
        n
    }

    /// Out-of-order ranges as `(start, end)` offsets past RCV.NXT, in SACK
    /// order (RFC 2018 §4): the range the most recent write touched first,
    /// then the others from most to least recently touched. A merged range
    /// counts as touched by the write that merged it.
    ///
    /// The RFC wants later blocks to repeat the most recently *reported*
    /// ones; receipt order is the buffer's stand-in, which the connection
    /// may refine. Each step scans the table (at most [`MAX_RANGES`]), and
    /// a SACK option holds at most four blocks, so no sorting is needed.
    pub fn ooo_ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut below = u64::MAX;
        core::iter::from_fn(move || {
            let r = self
                .ranges
                .iter()
                .filter(|r| r.stamp < below)
                .max_by_key(|r| r.stamp)?;
            below = r.stamp;
            Some((r.start, r.end))
        })
    }

    /// Frees the backing storage and range table if the buffer holds no
    /// data, so an idle socket costs only this struct. The connection calls
    /// it when the socket goes idle.
    pub fn release_if_empty(&mut self) {
        if self.is_empty() {
            self.ring.release();
            self.ranges = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn ok(advanced: usize, stored: usize) -> Result<WriteOutcome, RecvError> {
        Ok(WriteOutcome { advanced, stored })
    }

    fn ranges(b: &RecvBuffer) -> Vec<(usize, usize)> {
        b.ooo_ranges().collect()
    }

    fn read_all(b: &mut RecvBuffer) -> Vec<u8> {
        let mut out = vec![0; b.readable()];
        assert_eq!(b.read(&mut out), out.len());
        out
    }

    #[test]
    fn in_order() {
        let mut b = RecvBuffer::new(100);
        assert_eq!(b.allocated(), 0);
        assert_eq!(b.write_at(0, b"hello "), ok(6, 6));
        assert_eq!(b.write_at(0, b"world"), ok(5, 5));
        assert_eq!(b.readable(), 11);
        assert_eq!(b.window(), 89);
        assert!(!b.has_ooo());
        assert_eq!(read_all(&mut b), b"hello world");
        assert_eq!(b.window(), 100);
        assert_eq!(b.write_at(0, b""), ok(0, 0));
    }

    #[test]
    fn out_of_order_fills_holes() {
        let mut b = RecvBuffer::new(100);
        assert_eq!(b.write_at(10, b"klm"), ok(0, 3));
        assert_eq!(b.write_at(5, b"fgh"), ok(0, 3));
        assert_eq!(b.readable(), 0);
        assert!(b.has_ooo());
        assert_eq!(ranges(&b), [(5, 8), (10, 13)]);
        // Touching ranges merge into one.
        assert_eq!(b.write_at(8, b"ij"), ok(0, 2));
        assert_eq!(ranges(&b), [(5, 13)]);
        assert_eq!(b.write_at(0, b"abcde"), ok(13, 5));
        assert!(!b.has_ooo());
        assert_eq!(read_all(&mut b), b"abcdefghijklm");
    }

    #[test]
    fn ranges_stay_relative_to_rcv_nxt() {
        let mut b = RecvBuffer::new(100);
        b.write_at(6, b"gh").unwrap();
        b.write_at(10, b"kl").unwrap();
        // Advances by 3 without reaching the first range: both shift left.
        assert_eq!(b.write_at(0, b"abc"), ok(3, 3));
        assert_eq!(ranges(&b), [(7, 9), (3, 5)]);
        // Reading moves the read head, not RCV.NXT.
        assert_eq!(read_all(&mut b), b"abc");
        assert_eq!(ranges(&b), [(7, 9), (3, 5)]);
        assert_eq!(b.write_at(0, b"def"), ok(5, 3));
        assert_eq!(ranges(&b), [(2, 4)]);
        assert_eq!(b.write_at(0, b"ij"), ok(4, 2));
        assert_eq!(read_all(&mut b), b"defghijkl");
    }

    #[test]
    fn overlaps_and_duplicates_keep_existing_bytes() {
        let mut b = RecvBuffer::new(100);
        b.write_at(2, b"CD").unwrap();
        b.write_at(7, b"H").unwrap();
        b.write_at(10, b"KL").unwrap();
        // A duplicate inside a range is accepted and changes nothing.
        assert_eq!(b.write_at(2, b"xx"), ok(0, 2));
        assert_eq!(b.write_at(3, b"y"), ok(0, 1));
        // One write spanning several ranges fills only the gaps.
        assert_eq!(b.write_at(3, b"defghijk"), ok(0, 8));
        assert_eq!(ranges(&b), [(2, 12)]);
        assert_eq!(b.write_at(0, b"abcdefghijklmn"), ok(14, 14));
        assert_eq!(read_all(&mut b), b"abCDefgHijKLmn");
    }

    #[test]
    fn trims_at_capacity() {
        let mut b = RecvBuffer::new(10);
        assert_eq!(b.write_at(4, b"efghijklmnop"), ok(0, 6));
        assert_eq!(ranges(&b), [(4, 10)]);
        assert_eq!(b.write_at(10, b"z"), ok(0, 0));
        assert_eq!(b.write_at(usize::MAX, b"z"), ok(0, 0));
        assert_eq!(b.write_at(usize::MAX - 1, &[0; 5]), ok(0, 0));
        assert_eq!(b.write_at(0, b"abcdXXXXXXYY"), ok(10, 10));
        assert_eq!(b.window(), 0);
        assert_eq!(b.write_at(0, b"no room"), ok(0, 0));
        let mut out = [0u8; 4];
        assert_eq!(b.read(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(b.window(), 4);
        assert_eq!(b.write_at(0, b"qrstuv"), ok(4, 4));
        assert_eq!(read_all(&mut b), b"efghijqrst");
        assert!(b.allocated() <= 10 + MAX_RANGES * core::mem::size_of::<OooRange>());
    }

    #[test]
    fn window_ignores_out_of_order_bytes() {
        let mut b = RecvBuffer::new(1000);
        b.write_at(500, &[1; 400]).unwrap();
        // The right edge (RCV.NXT + window) stays at read head + capacity.
        assert_eq!(b.window(), 1000);
        b.write_at(0, &[0; 100]).unwrap();
        assert_eq!(b.window(), 900);
        b.write_at(0, &[0; 400]).unwrap();
        assert_eq!(b.readable(), 900);
        assert_eq!(b.window(), 100);
        assert_eq!(b.discard(300), 300);
        assert_eq!(b.window(), 400);
        assert_eq!(b.discard(usize::MAX), 600);
        assert_eq!(b.window(), 1000);
    }

    #[test]
    fn too_many_ranges() {
        let mut b = RecvBuffer::new(1000);
        for i in 0..MAX_RANGES {
            assert_eq!(b.write_at(2 * i + 1, &[i as u8]), ok(0, 1));
        }
        assert_eq!(ranges(&b).len(), MAX_RANGES);
        let first_sack = ranges(&b)[0];
        let before = b.allocated();
        // A new disjoint range is refused and stores nothing.
        assert_eq!(b.write_at(500, b"x"), Err(RecvError::TooManyRanges));
        assert_eq!(ranges(&b)[0], first_sack);
        assert_eq!(ranges(&b).len(), MAX_RANGES);
        assert_eq!(b.allocated(), before);
        // Extending or merging existing ranges, or writing in order, is fine.
        assert_eq!(b.write_at(2 * MAX_RANGES, b"x"), ok(0, 1));
        assert_eq!(b.write_at(2, b"y"), ok(0, 1));
        assert_eq!(ranges(&b).len(), MAX_RANGES - 1);
        assert_eq!(b.write_at(0, b"z"), ok(4, 1));
        assert_eq!(ranges(&b).len(), MAX_RANGES - 2);
        // A slot is free again.
        assert_eq!(b.write_at(500, b"x"), ok(0, 1));
    }

    #[test]
    fn sack_order_most_recent_first() {
        let mut b = RecvBuffer::new(1000);
        b.write_at(10, b"a").unwrap();
        b.write_at(20, b"b").unwrap();
        b.write_at(30, b"c").unwrap();
        assert_eq!(ranges(&b), [(30, 31), (20, 21), (10, 11)]);
        // A duplicate still makes its range the most recent (RFC 2018 §4).
        b.write_at(10, b"a").unwrap();
        assert_eq!(ranges(&b), [(10, 11), (30, 31), (20, 21)]);
        // A merged range takes the newest stamp.
        b.write_at(21, &[0; 9]).unwrap();
        assert_eq!(ranges(&b), [(20, 31), (10, 11)]);
        b.write_at(11, b"x").unwrap();
        assert_eq!(ranges(&b), [(10, 12), (20, 31)]);
        // A write trimmed to nothing touches nothing.
        b.write_at(2000, b"x").unwrap();
        assert_eq!(ranges(&b), [(10, 12), (20, 31)]);
        // Advancing RCV.NXT does not reorder what remains.
        b.write_at(0, &[0; 12]).unwrap();
        assert_eq!(ranges(&b), [(8, 19)]);
    }

    #[test]
    fn peek_does_not_consume() {
        let mut b = RecvBuffer::new(16);
        b.write_at(0, b"peekaboo").unwrap();
        let mut out = [0u8; 4];
        assert_eq!(b.peek(&mut out), 4);
        assert_eq!(&out, b"peek");
        assert_eq!(b.peek(&mut out), 4);
        assert_eq!(&out, b"peek");
        assert_eq!(b.readable(), 8);
        assert_eq!(b.read(&mut out), 4);
        assert_eq!(&out, b"peek");
        let mut big = [0u8; 32];
        assert_eq!(b.peek(&mut big), 4);
        assert_eq!(&big[..4], b"aboo");
        assert_eq!(b.read(&mut big), 4);
        assert_eq!(b.read(&mut big), 0);
        assert_eq!(b.peek(&mut big), 0);
    }

    #[test]
    fn shrinking_capacity_keeps_data() {
        let mut b = RecvBuffer::new(100);
        b.write_at(0, &[1; 60]).unwrap();
        b.write_at(20, &[3; 10]).unwrap();
        b.set_capacity(50);
        assert_eq!(b.window(), 0);
        assert_eq!(b.write_at(0, b"x"), ok(0, 0));
        assert_eq!(ranges(&b), [(20, 30)]);
        assert_eq!(b.discard(60), 60);
        assert_eq!(b.window(), 50);
        // Filling the hole joins the range kept across the shrink.
        assert_eq!(b.write_at(0, &[2; 20]), ok(30, 20));
        let all = read_all(&mut b);
        assert_eq!(&all[..20], &[2; 20]);
        assert_eq!(&all[20..], &[3; 10]);
        b.set_capacity(10);
        // Empty and oversized: the old storage goes at once.
        assert_eq!(b.ring.allocated(), 0);
    }

    #[test]
    fn release_only_when_empty() {
        let mut b = RecvBuffer::new(4096);
        b.write_at(0, &[1; 100]).unwrap();
        b.write_at(100, &[1; 100]).unwrap();
        b.discard(100);
        // Out-of-order data alone keeps the storage.
        b.release_if_empty();
        assert!(b.allocated() > 0);
        assert_eq!(b.write_at(0, &[1; 100]), ok(200, 100));
        assert_eq!(b.discard(400), 200);
        // Draining keeps the storage for the next segment.
        assert!(b.allocated() > 0);
        b.release_if_empty();
        assert_eq!(b.allocated(), 0);
        assert_eq!(b.write_at(0, b"again"), ok(5, 5));
        assert_eq!(read_all(&mut b), b"again");
    }

    #[test]
    fn wraparound_many_times() {
        let mut b = RecvBuffer::new(1000);
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        let mut seg = [0u8; 300];
        let mut out = [0u8; 700];
        for _ in 0..5_000 {
            // Two segments, the second arriving first.
            for c in seg.iter_mut() {
                *c = next_in;
                next_in = next_in.wrapping_add(1);
            }
            let (a, z) = seg.split_at(170);
            assert_eq!(b.write_at(170, z), ok(0, 130));
            assert_eq!(b.write_at(0, a), ok(300, 170));
            let n = b.read(&mut out[..b.readable().min(250)]);
            for &o in &out[..n] {
                assert_eq!(o, next_out);
                next_out = next_out.wrapping_add(1);
            }
            if b.readable() > 500 {
                let n = b.read(&mut out);
                for &o in &out[..n] {
                    assert_eq!(o, next_out);
                    next_out = next_out.wrapping_add(1);
                }
            }
        }
        assert_eq!(b.ring.allocated(), 1000);
    }

    /// Byte value and the stamp of the last write that covered it, from the
    /// read head.
    type Model = Vec<Option<(u8, u64)>>;

    fn model_readable(m: &Model) -> usize {
        m.iter().take_while(|b| b.is_some()).count()
    }

    /// Out-of-order runs past RCV.NXT, sorted by start, with their newest
    /// stamp.
    fn model_ranges(m: &Model) -> Vec<(usize, usize, u64)> {
        let nxt = model_readable(m);
        let mut out: Vec<(usize, usize, u64)> = Vec::new();
        for (i, b) in m.iter().enumerate().skip(nxt) {
            if let Some((_, s)) = *b {
                match out.last_mut() {
                    Some(r) if r.1 == i - nxt => {
                        r.1 += 1;
                        r.2 = r.2.max(s);
                    }
                    _ => out.push((i - nxt, i - nxt + 1, s)),
                }
            }
        }
        out
    }

    #[test]
    fn randomized_against_model() {
        let mut rng = Rng::new(0xb0f5);
        let mut cap = 2000usize;
        let mut b = RecvBuffer::new(cap);
        let mut m: Model = Vec::new();
        let mut data = vec![0u8; 400];
        let mut out = vec![0u8; 2500];
        let (mut refused, mut advanced_total) = (0, 0);
        for step in 0..50_000u64 {
            match rng.below(20) {
                0..=11 => {
                    let nxt = model_readable(&m);
                    // Alternate phases of ordinary segments and of tiny
                    // scattered ones that open many holes.
                    let scattered = (step / 1000) % 2 == 1;
                    let len = rng.below(if scattered { 4 } else { 80 }) as usize;
                    // Mostly near RCV.NXT so holes fill; sometimes far past
                    // the window.
                    let offset = if rng.chance(0.05) {
                        rng.below(4000) as usize
                    } else {
                        rng.below(cap.saturating_sub(nxt) as u64 / 2 + 1) as usize
                    };
                    rng.fill(&mut data[..len]);
                    let stored = len.min(cap.saturating_sub(nxt + offset));
                    let mut next = m.clone();
                    if next.len() < nxt + offset + stored {
                        next.resize(nxt + offset + stored, None);
                    }
                    for i in 0..stored {
                        let slot = &mut next[nxt + offset + i];
                        let byte = slot.map_or(data[i], |(old, _)| old);
                        *slot = Some((byte, step));
                    }
                    let got = b.write_at(offset, &data[..len]);
                    if model_ranges(&next).len() > MAX_RANGES {
                        assert_eq!(got, Err(RecvError::TooManyRanges), "step {step}");
                        refused += 1;
                    } else {
                        let advanced = model_readable(&next) - nxt;
                        assert_eq!(got, ok(advanced, stored), "step {step}");
                        advanced_total += advanced;
                        m = next;
                    }
                }
                12..=14 => {
                    let n = rng.below(600) as usize;
                    let got = b.read(&mut out[..n]);
                    let want = n.min(model_readable(&m));
                    assert_eq!(got, want, "step {step}");
                    for (o, mb) in out[..got].iter().zip(m.drain(..got)) {
                        assert_eq!(Some(*o), mb.map(|(v, _)| v), "step {step}");
                    }
                }
                15 | 16 => {
                    let n = rng.below(2500) as usize;
                    let got = b.peek(&mut out[..n]);
                    assert_eq!(got, n.min(model_readable(&m)));
                    for (o, mb) in out[..got].iter().zip(&m) {
                        assert_eq!(Some(*o), mb.map(|(v, _)| v), "step {step}");
                    }
                }
                17 => {
                    let n = rng.below(300) as usize;
                    let got = b.discard(n);
                    assert_eq!(got, n.min(model_readable(&m)));
                    m.drain(..got);
                }
                18 => {
                    if rng.chance(0.2) {
                        cap = 500 + rng.below(2000) as usize;
                        b.set_capacity(cap);
                    }
                }
                _ => b.release_if_empty(),
            }
            let nxt = model_readable(&m);
            assert_eq!(b.readable(), nxt, "step {step}");
            assert_eq!(b.window(), cap.saturating_sub(nxt));
            let mut want = model_ranges(&m);
            assert_eq!(b.has_ooo(), !want.is_empty());
            want.sort_by_key(|r| core::cmp::Reverse(r.2));
            let want: Vec<(usize, usize)> = want.iter().map(|r| (r.0, r.1)).collect();
            assert_eq!(ranges(&b), want, "step {step}");
            assert!(b.ring.allocated() <= 2500);
        }
        // The run exercised both the refusal and hole filling.
        assert!(refused > 0, "{refused}");
        assert!(advanced_total > 20_000, "{advanced_total}");
    }
}

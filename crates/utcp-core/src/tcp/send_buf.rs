//! The send buffer: bytes the application wrote that the peer has not yet
//! acknowledged, both in flight and unsent.
//!
//! Offsets count from the oldest unacknowledged byte (SND.UNA); the
//! connection maps them to sequence numbers, so nothing here knows about
//! [`SeqNum`](crate::wire::seq::SeqNum) or its wrap.
//!
//! # Memory
//!
//! The backing storage is allocated lazily and grows in powers of two up to
//! the capacity, so a socket that has only written a little holds a little.
//! It is *not* released automatically when the buffer drains: the buffer has
//! no clock and cannot tell the pause between two writes of a bulk transfer
//! from real idleness, and freeing there would put an allocation (and a
//! zero-fill) back on the per-write hot path. The connection, which knows
//! when a socket has gone idle, calls [`SendBuffer::release_if_empty`].

/// The smallest backing allocation: below this the bookkeeping of the
/// allocator costs more than the bytes saved.
const MIN_ALLOC: usize = 64;

/// A ring of bytes that grows lazily, shared by the send and receive buffers.
///
/// Positions are relative to `head`; the owner guarantees that every
/// position it touches is below the length it last passed to [`Ring::ensure`].
#[derive(Debug, Default)]
pub(super) struct Ring {
    storage: Vec<u8>,
    head: usize,
}

impl Ring {
    /// Bytes of backing storage currently allocated.
    pub(super) fn allocated(&self) -> usize {
        self.storage.len()
    }

    /// Makes room for positions `0..needed`, growing to the next power of two
    /// (at most `cap`, at least `needed`) so growth is amortised O(1) and
    /// happens at most log2(capacity) times per allocation.
    pub(super) fn ensure(&mut self, needed: usize, cap: usize) {
        let old_len = self.storage.len();
        if old_len >= needed {
            return;
        }
        let new_len = needed
            .checked_next_power_of_two()
            .unwrap_or(needed)
            .max(MIN_ALLOC)
            .min(cap)
            .max(needed);
        let mut grown = vec![0u8; new_len];
        // Unroll the ring so the head lands at index 0: the live bytes keep
        // their positions relative to the head.
        grown[..old_len - self.head].copy_from_slice(&self.storage[self.head..]);
        grown[old_len - self.head..old_len].copy_from_slice(&self.storage[..self.head]);
        self.storage = grown;
        self.head = 0;
    }

    /// The physical index of position `at`.
    fn index(&self, at: usize) -> usize {
        let len = self.storage.len();
        // `head < len` and `at <= len`, so one subtraction wraps it.
        let i = self.head + at;
        if i >= len {
            i - len
        } else {
            i
        }
    }

    /// Copies `data` to positions `at..at + data.len()`.
    pub(super) fn copy_in(&mut self, at: usize, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let i = self.index(at);
        let first = data.len().min(self.storage.len() - i);
        self.storage[i..i + first].copy_from_slice(&data[..first]);
        self.storage[..data.len() - first].copy_from_slice(&data[first..]);
    }

    /// Copies positions `at..at + out.len()` into `out`.
    pub(super) fn copy_out(&self, at: usize, out: &mut [u8]) {
        if out.is_empty() {
            return;
        }
        let i = self.index(at);
        let first = out.len().min(self.storage.len() - i);
        out[..first].copy_from_slice(&self.storage[i..i + first]);
        let rest = out.len() - first;
        out[first..].copy_from_slice(&self.storage[..rest]);
    }

    /// Drops positions `0..n`: position `n` becomes position 0.
    pub(super) fn advance(&mut self, n: usize) {
        if !self.storage.is_empty() {
            self.head = self.index(n);
        }
    }

    /// Called by the owner when it holds no bytes: restarting at index 0
    /// keeps the next writes in one piece instead of split at the wrap.
    pub(super) fn rewind(&mut self) {
        self.head = 0;
    }

    /// Frees the storage; the owner must hold no bytes.
    pub(super) fn release(&mut self) {
        self.storage = Vec::new();
        self.head = 0;
    }
}

/// A bounded ring of bytes written by the application and not yet
/// acknowledged. Offset 0 is the oldest unacknowledged byte (SND.UNA).
#[derive(Debug)]
pub struct SendBuffer {
    ring: Ring,
    len: usize,
    capacity: usize,
}

impl SendBuffer {
    /// An empty buffer that will hold up to `capacity` bytes; allocates
    /// nothing until the first write.
    pub fn new(capacity: usize) -> Self {
        SendBuffer {
            ring: Ring::default(),
            len: 0,
            capacity,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes the limit (SO_SNDBUF). Shrinking below [`len`](Self::len)
    /// keeps every byte, since they may already be in flight and must stay
    /// retransmittable; writes are refused until acknowledgements drain the
    /// buffer below the new limit.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        if self.len == 0 && self.ring.allocated() > capacity {
            self.ring.release();
        }
    }

    /// Bytes held: in flight plus unsent.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes [`push`](Self::push) would accept now.
    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.len)
    }

    /// Bytes of backing storage allocated, for memory accounting.
    pub fn allocated(&self) -> usize {
        self.ring.allocated()
    }

    /// Appends as much of `data` as fits and returns how many bytes that was
    /// (a short count is the caller's EAGAIN or partial write).
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n == 0 {
            return 0;
        }
        self.ring.ensure(self.len + n, self.capacity);
        self.ring.copy_in(self.len, &data[..n]);
        self.len += n;
        n
    }

    /// Copies bytes starting `offset` bytes after the oldest unacknowledged
    /// one into `out`, for a first transmission or a retransmission; returns
    /// how many were copied (0 when `offset` is at or beyond the end).
    pub fn read_at(&self, offset: usize, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len.saturating_sub(offset));
        self.ring.copy_out(offset, &mut out[..n]);
        n
    }

    /// Drops the `n` oldest bytes because the peer acknowledged them; more
    /// than [`len`](Self::len) empties the buffer.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.ring.advance(n);
        self.len -= n;
        if self.len == 0 {
            self.ring.rewind();
        }
    }

    /// Frees the backing storage if the buffer is empty, so an idle socket
    /// costs only this struct. The connection calls it when the socket goes
    /// idle; calling it between writes of a busy transfer only costs a
    /// reallocation on the next write.
    pub fn release_if_empty(&mut self) {
        if self.len == 0 {
            self.ring.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::collections::VecDeque;

    fn read_all(b: &SendBuffer) -> Vec<u8> {
        let mut out = vec![0; b.len()];
        assert_eq!(b.read_at(0, &mut out), b.len());
        out
    }

    #[test]
    fn new_allocates_nothing() {
        let b = SendBuffer::new(1 << 20);
        assert_eq!(b.allocated(), 0);
        assert!(b.is_empty());
        assert_eq!(b.free(), 1 << 20);
    }

    #[test]
    fn push_read_consume() {
        let mut b = SendBuffer::new(10);
        assert_eq!(b.push(b"hello"), 5);
        assert_eq!(b.push(b"world!!"), 5);
        assert_eq!(b.free(), 0);
        assert_eq!(b.push(b"x"), 0);
        assert_eq!(read_all(&b), b"helloworld");
        let mut out = [0u8; 4];
        assert_eq!(b.read_at(3, &mut out), 4);
        assert_eq!(&out, b"lowo");
        assert_eq!(b.read_at(8, &mut out), 2);
        assert_eq!(&out[..2], b"ld");
        assert_eq!(b.read_at(10, &mut out), 0);
        assert_eq!(b.read_at(usize::MAX, &mut out), 0);
        b.consume(6);
        assert_eq!(read_all(&b), b"orld");
        b.consume(usize::MAX);
        assert!(b.is_empty());
        assert_eq!(b.free(), 10);
    }

    #[test]
    fn grows_in_powers_of_two_up_to_capacity() {
        let mut b = SendBuffer::new(1000);
        b.push(&[1; 10]);
        assert_eq!(b.allocated(), MIN_ALLOC);
        b.push(&[2; 100]);
        assert_eq!(b.allocated(), 128);
        b.push(&[3; 500]);
        assert_eq!(b.allocated(), 1000);
        b.push(&[4; 500]);
        assert_eq!(b.len(), 1000);
        assert_eq!(b.allocated(), 1000);
        let all = read_all(&b);
        assert_eq!(&all[..10], &[1; 10]);
        assert_eq!(&all[10..110], &[2; 100]);
        assert_eq!(&all[110..610], &[3; 500]);
        assert_eq!(&all[610..], &[4; 390]);
    }

    #[test]
    fn growth_while_wrapped_keeps_order() {
        let mut b = SendBuffer::new(4096);
        let data: Vec<u8> = (0..=255).collect();
        b.push(&data[..60]);
        b.consume(50);
        // Wraps inside the 64-byte ring, then forces growth.
        b.push(&data[60..100]);
        b.push(&data[100..200]);
        assert_eq!(read_all(&b), &data[50..200]);
    }

    #[test]
    fn release_only_when_empty() {
        let mut b = SendBuffer::new(4096);
        b.push(&[7; 300]);
        b.release_if_empty();
        assert_eq!(b.allocated(), 512);
        b.consume(300);
        // Draining keeps the storage for the next write of a busy transfer.
        assert_eq!(b.allocated(), 512);
        b.release_if_empty();
        assert_eq!(b.allocated(), 0);
        assert_eq!(b.push(b"again"), 5);
        assert_eq!(read_all(&b), b"again");
    }

    #[test]
    fn shrinking_capacity_keeps_data_and_refuses_writes() {
        let mut b = SendBuffer::new(100);
        b.push(&[9; 80]);
        b.set_capacity(50);
        assert_eq!(b.len(), 80);
        assert_eq!(b.free(), 0);
        assert_eq!(b.push(b"no"), 0);
        assert_eq!(read_all(&b), vec![9; 80]);
        b.consume(40);
        assert_eq!(b.free(), 10);
        assert_eq!(b.push(&[1; 20]), 10);
        assert_eq!(b.len(), 50);
        let all = read_all(&b);
        assert_eq!(&all[..40], &[9; 40]);
        assert_eq!(&all[40..], &[1; 10]);
        b.consume(50);
        b.set_capacity(10);
        // Empty and oversized: the old storage goes at once.
        assert_eq!(b.allocated(), 0);
        b.set_capacity(1000);
        assert_eq!(b.push(&[2; 600]), 600);
    }

    #[test]
    fn zero_capacity_never_allocates() {
        let mut b = SendBuffer::new(0);
        assert_eq!(b.push(b"abc"), 0);
        b.consume(5);
        assert_eq!(b.read_at(0, &mut [0; 4]), 0);
        assert_eq!(b.allocated(), 0);
    }

    #[test]
    fn wraparound_many_times() {
        let mut b = SendBuffer::new(1000);
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        let mut chunk = [0u8; 333];
        for _ in 0..10_000 {
            for c in chunk.iter_mut() {
                *c = next_in;
                next_in = next_in.wrapping_add(1);
            }
            let n = b.push(&chunk);
            assert_eq!(n, 333);
            let mut out = [0u8; 333];
            assert_eq!(b.read_at(b.len() - 333, &mut out), 333);
            assert_eq!(out, chunk);
            let mut head = [0u8; 333];
            b.read_at(0, &mut head);
            for &h in &head {
                assert_eq!(h, next_out);
                next_out = next_out.wrapping_add(1);
            }
            b.consume(333);
        }
        assert_eq!(b.allocated(), 512);
    }

    #[test]
    fn randomized_against_vecdeque() {
        let mut rng = Rng::new(0x5e4d);
        let mut b = SendBuffer::new(3000);
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut cap = 3000usize;
        let mut scratch = vec![0u8; 5000];
        for step in 0..20_000 {
            match rng.below(10) {
                0..=3 => {
                    let n = rng.below(1500) as usize;
                    rng.fill(&mut scratch[..n]);
                    let took = b.push(&scratch[..n]);
                    assert_eq!(took, n.min(cap.saturating_sub(model.len())), "step {step}");
                    model.extend(&scratch[..took]);
                }
                4..=6 => {
                    let n = rng.below(1600) as usize;
                    b.consume(n);
                    model.drain(..n.min(model.len()));
                }
                7 | 8 => {
                    let off = rng.below(3200) as usize;
                    let n = rng.below(2000) as usize;
                    let got = b.read_at(off, &mut scratch[..n]);
                    let want: Vec<u8> = model.iter().skip(off).take(n).copied().collect();
                    assert_eq!(&scratch[..got], &want[..], "step {step}");
                }
                _ => {
                    if rng.chance(0.1) {
                        cap = rng.below(4000) as usize;
                        b.set_capacity(cap);
                    } else {
                        b.release_if_empty();
                    }
                }
            }
            assert_eq!(b.len(), model.len());
            assert_eq!(b.free(), cap.saturating_sub(model.len()));
            // Growth is capped by the largest capacity ever set.
            assert!(b.allocated() <= 4000);
        }
    }
}

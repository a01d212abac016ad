//! One direction of the simulated wire.

use super::Impairments;
use crate::rng::Rng;
use crate::time::Instant;
use core::time::Duration;
use std::collections::BTreeMap;

/// Emptied packet buffers kept for reuse: enough for a burst, small enough
/// not to pin memory after one.
const POOL_MAX: usize = 64;

/// What a link did, packet by packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets handed to [`Link::send`].
    pub sent: u64,
    /// Packets handed out by [`Link::pop_due`], duplicates included.
    pub delivered: u64,
    /// Dropped by the `loss` impairment.
    pub lost: u64,
    /// Tail-dropped because the link already held `queue_limit` packets.
    pub queue_drops: u64,
    /// Extra copies made by the `dup` impairment.
    pub duplicated: u64,
    /// Held back by `reorder_delay` (whether or not anything overtook them).
    pub reordered: u64,
    /// Had one bit flipped.
    pub corrupted: u64,
    /// Accepted packets delivered later than the instant they were sent
    /// (by delay, jitter, rate or reordering); a duplicate counts once.
    pub delayed: u64,
}

/// One direction of a wire: packets go in with [`send`](Link::send) and
/// come out of [`pop_due`](Link::pop_due) once their delivery time comes.
#[derive(Debug)]
pub struct Link {
    impairments: Impairments,
    rng: Rng,
    /// Held packets by (delivery time, arrival order): the counter breaks
    /// ties so equal times deliver in send order.
    held: BTreeMap<(Instant, u64), Vec<u8>>,
    next_id: u64,
    /// When the serializer finishes the last accepted packet.
    tx_free_at: Instant,
    /// Delivery time of the last in-order packet; later packets never
    /// deliver before it, so jitter cannot reorder.
    last_in_order: Instant,
    pool: Vec<Vec<u8>>,
    stats: LinkStats,
}

impl Link {
    pub fn new(impairments: Impairments, seed: u64) -> Link {
        Link {
            impairments,
            rng: Rng::new(seed),
            held: BTreeMap::new(),
            next_id: 0,
            tx_free_at: Instant::ZERO,
            last_in_order: Instant::ZERO,
            pool: Vec::new(),
            stats: LinkStats::default(),
        }
    }

    pub fn impairments(&self) -> &Impairments {
        &self.impairments
    }

    /// Change the impairments from now on (e.g. `loss: 1.0` to partition
    /// the path, then back to heal it). Packets already held keep their
    /// delivery times.
    pub fn set_impairments(&mut self, impairments: Impairments) {
        self.impairments = impairments;
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// Packets currently held (queued or propagating).
    pub fn in_flight(&self) -> usize {
        self.held.len()
    }

    /// Delivery time of the earliest held packet.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.held.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Put a packet on the wire at `now`, applying the impairments.
    ///
    /// Random draws happen in a fixed order (loss, corrupt, dup, jitter,
    /// reorder) so a seed replays exactly. Loss and tail drop happen on
    /// entry, as in netem, so a dropped packet takes no serialization time.
    pub fn send(&mut self, now: Instant, packet: &[u8]) {
        self.stats.sent += 1;
        let imp = self.impairments;
        if self.held.len() >= imp.queue_limit {
            self.stats.queue_drops += 1;
            return;
        }
        if self.rng.chance(imp.loss) {
            self.stats.lost += 1;
            return;
        }
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(packet);
        if self.rng.chance(imp.corrupt) && !buf.is_empty() {
            let bit = self.rng.below(buf.len() as u64 * 8);
            if let Some(byte) = buf.get_mut((bit / 8) as usize) {
                *byte ^= 1 << (bit % 8);
                self.stats.corrupted += 1;
            }
        }
        let dup = self.rng.chance(imp.dup);

        let tx_start = now.max(self.tx_free_at);
        let tx_done = tx_start + serialization_time(packet.len(), imp.rate_bps);
        self.tx_free_at = tx_done;
        let jitter_us = imp.jitter.as_micros().min(u64::MAX as u128) as u64;
        let jitter = match jitter_us {
            0 => Duration::ZERO,
            n => Duration::from_micros(self.rng.below(n)),
        };
        let mut at = (tx_done + imp.delay + jitter).max(self.last_in_order);
        self.last_in_order = at;
        // Added after `last_in_order` is recorded, so the packets behind
        // this one are not held back with it and overtake it.
        if self.rng.chance(imp.reorder) {
            at += imp.reorder_delay;
            self.stats.reordered += 1;
        }
        if at > now {
            self.stats.delayed += 1;
        }

        if dup {
            let mut copy = self.pool.pop().unwrap_or_default();
            copy.clear();
            copy.extend_from_slice(&buf);
            self.hold(at, buf);
            self.hold(at, copy);
            self.stats.duplicated += 1;
        } else {
            self.hold(at, buf);
        }
    }

    fn hold(&mut self, at: Instant, buf: Vec<u8>) {
        self.held.insert((at, self.next_id), buf);
        self.next_id += 1;
    }

    /// The next packet due at or before `now`, in delivery order. Hand the
    /// buffer back with [`recycle`](Link::recycle) to save an allocation.
    pub fn pop_due(&mut self, now: Instant) -> Option<Vec<u8>> {
        if self.next_delivery()? > now {
            return None;
        }
        let (_, buf) = self.held.pop_first()?;
        self.stats.delivered += 1;
        Some(buf)
    }

    /// Return a delivered packet's buffer for reuse.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        if self.pool.len() < POOL_MAX {
            self.pool.push(buf);
        }
    }
}

/// Time to clock `len` bytes out at `rate_bps`, rounded up to whole
/// microseconds (the clock's unit) so a busy link is never free early.
fn serialization_time(len: usize, rate_bps: Option<u64>) -> Duration {
    match rate_bps {
        Some(rate) if rate > 0 => {
            let bits = len as u128 * 8 * 1_000_000;
            let us = bits.div_ceil(rate as u128);
            Duration::from_micros(us.min(u64::MAX as u128) as u64)
        }
        _ => Duration::ZERO,
    }
}

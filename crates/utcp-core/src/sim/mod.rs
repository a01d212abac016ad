//! An in-memory wire between two nodes, with a virtual clock and seeded
//! impairments (loss, duplication, reordering, corruption, delay, jitter,
//! rate, queue limit).
//!
//! Everything is driven by [`Sim::step`]: no threads, no real time, and all
//! randomness comes from seeds, so a failing run replays bit for bit.

mod faults;
mod impair;
mod link;

pub use faults::{FaultSpec, Faults};
pub use impair::Impairments;
pub use link::{Link, LinkStats};

use crate::time::Instant;
use core::time::Duration;

/// Something with an IPv4 interface on the simulated wire: the TCP stack,
/// or a toy in tests. The same sans-IO shape as the stack's own API.
pub trait Node {
    /// One IPv4 packet arrives from the wire.
    fn receive(&mut self, now: Instant, packet: &[u8]);
    /// Next packet to put on the wire, written into `buf`; its length.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize>;
    /// When the node next needs `handle_timeout`, if ever.
    fn poll_at(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
}

/// Which way a packet crossed the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    AToB,
    BToA,
}

/// A packet as the receiving node got it (after impairments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Captured {
    pub at: Instant,
    pub dir: Dir,
    pub bytes: Vec<u8>,
}

/// Largest IPv4 packet: the size of the buffer handed to `poll_transmit`.
const MAX_PACKET: usize = 65_535;

/// Packets taken from one node in one step. A node that never stops
/// transmitting would otherwise hang the step; past this the rest waits
/// for the next step, at the same instant.
const MAX_BURST: usize = 1 << 16;

/// Default for [`Sim::max_steps`].
pub const DEFAULT_MAX_STEPS: u64 = 10_000_000;

/// Two nodes joined by two one-way links.
pub struct Sim<A: Node, B: Node> {
    pub a: A,
    pub b: B,
    /// The virtual clock. Starts at zero; only the sim moves it, and only
    /// forward.
    pub now: Instant,
    pub a_to_b: Link,
    pub b_to_a: Link,
    /// Set to `Some(Vec::new())` to record every delivered packet.
    pub capture: Option<Vec<Captured>>,
    /// Most steps one `run_until` / `run_for` call takes, so a livelock
    /// (two nodes ping-ponging at one instant forever) ends instead of
    /// hanging the test. Default [`DEFAULT_MAX_STEPS`].
    pub max_steps: u64,
    tx_buf: Vec<u8>,
    /// A node hit `MAX_BURST` and may have more to send at `now`.
    burst_cut: bool,
}

impl<A: Node, B: Node> Sim<A, B> {
    /// The two links get distinct seeds derived from `seed`, so each
    /// direction's impairments are independent but replayable.
    pub fn new(a: A, b: B, a_to_b: Impairments, b_to_a: Impairments, seed: u64) -> Self {
        let mut seeds = crate::rng::Rng::new(seed);
        let (seed_ab, seed_ba) = (seeds.next_u64(), seeds.next_u64());
        Sim {
            a,
            b,
            now: Instant::ZERO,
            a_to_b: Link::new(a_to_b, seed_ab),
            b_to_a: Link::new(b_to_a, seed_ba),
            capture: None,
            max_steps: DEFAULT_MAX_STEPS,
            tx_buf: vec![0; MAX_PACKET],
            burst_cut: false,
        }
    }

    /// Do everything due at `now`, then move `now` to the next event.
    /// Returns false, leaving `now` alone, when nothing is pending: no
    /// packet on either link and no node timer.
    pub fn step(&mut self) -> bool {
        self.process();
        match self.next_event() {
            Some(t) => {
                self.now = t;
                true
            }
            None => false,
        }
    }

    /// Step until `done` returns true, the clock would pass `deadline`, or
    /// `max_steps` steps. Returns whether `done` became true. `done` is
    /// checked before every step, so on success `now` is the instant it
    /// became true. Events at exactly `deadline` are processed; if `done`
    /// is still false when the sim goes idle or its next event is later,
    /// the clock moves to `deadline`, as time passes with nothing happening.
    pub fn run_until(&mut self, deadline: Instant, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        for _ in 0..self.max_steps {
            if done(self) {
                return true;
            }
            if self.now > deadline {
                return false;
            }
            self.process();
            match self.next_event() {
                Some(t) if t <= deadline => self.now = t,
                _ => {
                    // Asked before the clock jumps, so a caller that stops
                    // once idle sees the time its condition came true.
                    if done(self) {
                        return true;
                    }
                    self.now = self.now.max(deadline);
                    return done(self);
                }
            }
        }
        done(self)
    }

    /// Run for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let deadline = self.now + d;
        self.run_until(deadline, |_| false);
    }

    /// Deliver due packets, fire due timers, then collect what the nodes
    /// want to send, all at `now`. Transmits come last so that replies to
    /// this step's packets and timers leave in the same instant.
    fn process(&mut self) {
        let now = self.now;
        while let Some(pkt) = self.a_to_b.pop_due(now) {
            self.b.receive(now, &pkt);
            record(&mut self.capture, now, Dir::AToB, &pkt);
            self.a_to_b.recycle(pkt);
        }
        while let Some(pkt) = self.b_to_a.pop_due(now) {
            self.a.receive(now, &pkt);
            record(&mut self.capture, now, Dir::BToA, &pkt);
            self.b_to_a.recycle(pkt);
        }
        if self.a.poll_at().is_some_and(|t| t <= now) {
            self.a.handle_timeout(now);
        }
        if self.b.poll_at().is_some_and(|t| t <= now) {
            self.b.handle_timeout(now);
        }
        let cut_a = drain(&mut self.a, now, &mut self.tx_buf, &mut self.a_to_b);
        let cut_b = drain(&mut self.b, now, &mut self.tx_buf, &mut self.b_to_a);
        self.burst_cut = cut_a || cut_b;
    }

    /// When the next thing happens, given that `process` just ran at `now`.
    fn next_event(&self) -> Option<Instant> {
        let due_now = self.burst_cut
            || [&self.a_to_b, &self.b_to_a].iter().any(|l| l.next_delivery().is_some_and(|t| t <= self.now));
        if due_now {
            return Some(self.now);
        }
        let link = min_opt(self.a_to_b.next_delivery(), self.b_to_a.next_delivery());
        // `process` fired every timer due at `now`; one still due is a node
        // asking again for the same instant. Moving on by the clock's unit
        // keeps such a node from freezing time.
        let timer = min_opt(self.a.poll_at(), self.b.poll_at()).map(|t| t.max(self.now + Duration::from_micros(1)));
        min_opt(link, timer)
    }
}

/// Move a node's pending transmits onto its outgoing link. Returns true if
/// it stopped at `MAX_BURST` with possibly more to come.
fn drain<N: Node>(node: &mut N, now: Instant, buf: &mut [u8], link: &mut Link) -> bool {
    for _ in 0..MAX_BURST {
        let Some(len) = node.poll_transmit(now, buf) else {
            return false;
        };
        // A length past the buffer breaks the contract; sending the buffer
        // keeps the sim going and the receiver sees a truncated packet,
        // which its parser reports, rather than the sim panicking.
        link.send(now, &buf[..len.min(buf.len())]);
    }
    true
}

fn record(capture: &mut Option<Vec<Captured>>, at: Instant, dir: Dir, bytes: &[u8]) {
    if let Some(c) = capture {
        c.push(Captured { at, dir, bytes: bytes.to_vec() });
    }
}

fn min_opt(x: Option<Instant>, y: Option<Instant>) -> Option<Instant> {
    match (x, y) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
mod tests;

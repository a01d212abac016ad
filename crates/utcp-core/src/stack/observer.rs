//! Where counters and trace events go. The stack owns one and lends it to
//! each connection call, so a connection can count a drop or announce a state
//! change without knowing about the stack.

use super::stats::{DropReason, Stats};
use crate::tcp::state::State;
use crate::time::Instant;
use crate::trace::{Direction, TraceEvent};
use core::net::SocketAddrV4;

#[derive(Debug, Default)]
pub struct Observer {
    pub stats: Stats,
    /// Collect trace events (packets, state changes, drops) for the caller.
    pub tracing: bool,
    pub events: Vec<TraceEvent>,
}

impl Observer {
    pub fn drop(&mut self, now: Instant, reason: DropReason) {
        self.stats.count_drop(reason);
        if self.tracing {
            self.events.push(TraceEvent::Drop { at: now, reason });
        }
    }

    pub fn state_change(&mut self, now: Instant, local: SocketAddrV4, remote: SocketAddrV4, from: State, to: State) {
        if self.tracing {
            self.events.push(TraceEvent::StateChange { at: now, local, remote, from, to });
        }
    }

    pub fn packet(&mut self, now: Instant, dir: Direction, bytes: &[u8]) {
        match dir {
            Direction::In => self.stats.packets_in += 1,
            Direction::Out => self.stats.packets_out += 1,
        }
        if self.tracing {
            self.events.push(TraceEvent::Packet { at: now, dir, bytes: bytes.to_vec() });
        }
    }
}

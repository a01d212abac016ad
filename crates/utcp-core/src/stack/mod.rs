//! Many connections: demux by 4-tuple, listeners with SYN and accept
//! queues, ports, ISNs, fragments, ICMP, counters.
//!
//! [`Stack`] is the engine's top: packets in (`receive`), packets out
//! (`poll_transmit`), time (`poll_at`, `handle_timeout`), and the socket
//! calls (`socket`, `bind`, `connect`, ... in `api.rs`).

mod api;
pub mod cookies;
mod demux;
pub mod frag;
pub mod isn;
pub mod observer;
pub mod ports;
pub mod socket;
pub mod stats;

pub use api::{Shutdown, TcpInfo};
pub use observer::Observer;
pub use socket::SocketId;
pub use stats::{DropReason, Stats};

use crate::rng::Rng;
pub use crate::tcp::{Offload, Transmit};
use crate::tcp::{TcpConfig, SEGMENT_OVERHEAD, TSO_MAX_PACKET};
use crate::time::Instant;
use crate::trace::{Direction, TraceEvent};
use core::net::{Ipv4Addr, SocketAddrV4};
use socket::{Kind, Socket};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Stateless packets (RSTs for closed ports, cookie SYN-ACKs, ICMP
/// replies) waiting to go out; beyond this they are not generated.
const MAX_CONTROL_QUEUE: usize = 1024;

#[derive(Clone, Debug)]
pub struct StackConfig {
    /// The stack's own IPv4 address.
    pub addr: Ipv4Addr,
    /// The device MTU; our MSS is MTU - 40.
    pub mtu: usize,
    /// Defaults for new sockets.
    pub tcp: TcpConfig,
    /// Linux: tcp_syncookies=1, cookies only when a SYN queue overflows.
    pub syn_cookies: bool,
    /// Linux: somaxconn 4096 caps listen()'s backlog.
    pub max_backlog: usize,
    pub ephemeral_ports: core::ops::RangeInclusive<u16>,
    pub frag: frag::FragConfig,
    /// Seeds the ISN, port and cookie secrets: the runtime passes entropy,
    /// tests a constant.
    pub seed: u64,
    /// The ISN and timestamp secret, when it is shared beyond this stack
    /// (`None`: drawn from `seed`). With one secret and one clock
    /// ([`StackConfig::host_clock_us`]) in every stack of a host, as Linux
    /// has one net_secret per boot, a connection that reuses a 4-tuple
    /// from another process starts above the old one's ISN and TSval, so a
    /// peer still in TIME-WAIT takes its SYN (RFC 6191) instead of
    /// answering with an ACK and costing a SYN retransmission.
    pub isn_secret: Option<[u8; 16]>,
    /// Where this stack's clock (zero at its start) stands on the host's
    /// clock, in µs: ISNs and TSvals count on the host's clock.
    pub host_clock_us: u64,
    /// What the device does for us (checksums, TSO); read the packets
    /// with [`Stack::transmit`] when anything is on.
    pub offload: Offload,
}

impl StackConfig {
    pub fn new(addr: Ipv4Addr) -> StackConfig {
        StackConfig {
            addr,
            mtu: 1500,
            tcp: TcpConfig::default(),
            syn_cookies: true,
            max_backlog: 4096,
            ephemeral_ports: 32768..=60999,
            frag: frag::FragConfig::default(),
            seed: 0,
            isn_secret: None,
            host_clock_us: 0,
            offload: Offload::default(),
        }
    }

    /// The TCP defaults with the MSS this MTU allows.
    fn tcp_config(&self) -> TcpConfig {
        let mut tcp = self.tcp.clone();
        tcp.mss = (self.mtu.clamp(88, 65535) - 40) as u16;
        tcp.offload = self.offload;
        tcp
    }
}

pub struct Stack {
    cfg: StackConfig,
    tcp_defaults: TcpConfig,
    sockets: Vec<Option<Socket>>,
    free_ids: Vec<u32>,
    /// Connections by (local, remote). BTreeMap, not HashMap, here and in
    /// every map the stack keeps: an empty HashMap points at a static in
    /// the program image, and the preload library shares the stack between
    /// processes running different images (exec), where that address is
    /// not mapped.
    conns: BTreeMap<(SocketAddrV4, SocketAddrV4), SocketId>,
    /// Listeners by local port.
    listeners: BTreeMap<u16, Vec<SocketId>>,
    /// Sockets with output to poll, in order.
    dirty: VecDeque<SocketId>,
    /// Each connection's next timer, earliest first: one entry per
    /// socket, the one in its `scheduled` (O(log n) to move, O(1) to peek).
    timers: BTreeSet<(Instant, u32)>,
    control: VecDeque<Vec<u8>>,
    frags: frag::FragReassembler,
    isn: isn::IsnGenerator,
    ports: ports::EphemeralPorts,
    cookies: cookies::SynCookies,
    rng: Rng,
    /// Linux: the ISN for a connection that replaces a TIME-WAIT one is
    /// that connection's SND.NXT + 65537, so old segments stay old.
    tw_next_iss: Option<((SocketAddrV4, SocketAddrV4), crate::wire::SeqNum)>,
    /// When a listener last answered with a SYN cookie.
    last_cookie_sent: Option<Instant>,
    /// Sum of every socket's event counter moves (see `change_seq`).
    change_seq: u64,
    /// Sockets changed since the last `take_touched`, each once.
    touched: Vec<SocketId>,
    pub obs: Observer,
}

impl core::fmt::Debug for Stack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stack").field("addr", &self.cfg.addr).field("conns", &self.conns.len()).finish()
    }
}

impl Stack {
    pub fn new(cfg: StackConfig) -> Stack {
        let mut rng = Rng::new(cfg.seed);
        let mut key16 = || {
            let mut k = [0u8; 16];
            rng.fill(&mut k);
            k
        };
        let own = key16();
        let isn = isn::IsnGenerator::new(cfg.isn_secret.unwrap_or(own), cfg.host_clock_us);
        let ports = ports::EphemeralPorts::new(key16(), cfg.ephemeral_ports.clone(), 65536);
        let mut k32 = [0u8; 32];
        k32[..16].copy_from_slice(&key16());
        k32[16..].copy_from_slice(&key16());
        let cookies = cookies::SynCookies::new(k32);
        Stack {
            tcp_defaults: cfg.tcp_config(),
            frags: frag::FragReassembler::new(cfg.frag),
            cfg,
            sockets: Vec::new(),
            free_ids: Vec::new(),
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            dirty: VecDeque::new(),
            timers: BTreeSet::new(),
            control: VecDeque::new(),
            isn,
            ports,
            cookies,
            rng,
            tw_next_iss: None,
            last_cookie_sent: None,
            change_seq: 0,
            touched: Vec::new(),
            obs: Observer::default(),
        }
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.cfg.addr
    }

    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &Stats {
        &self.obs.stats
    }

    /// Turn trace events on or off; drain them with [`Stack::take_events`].
    pub fn set_tracing(&mut self, on: bool) {
        self.obs.tracing = on;
    }

    pub fn take_events(&mut self) -> Vec<TraceEvent> {
        core::mem::take(&mut self.obs.events)
    }

    /// Number of live connections (any state but CLOSED), TIME-WAIT included.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Connections whose close is under way (FIN-WAIT-1/2, CLOSING,
    /// LAST-ACK): what an exiting process gives a moment to finish.
    pub fn closing_count(&self) -> usize {
        use crate::tcp::State::*;
        let closing = |id: &SocketId| matches!(self.state(*id), Some(FinWait1 | FinWait2 | Closing | LastAck));
        self.conns.values().filter(|id| closing(id)).count()
    }

    /// Write the next outgoing IPv4 packet into `buf`, which should hold
    /// at least MTU bytes. Without offloads; see [`Stack::transmit`].
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        self.transmit(now, buf).map(|t| t.len)
    }

    /// Write the next outgoing IPv4 packet into `buf` and say what the
    /// device must do to it. With the TSO offload a buffer of
    /// [`TSO_MAX_PACKET`] bytes lets full-sized segments go out as one
    /// super-segment; trace events and pcap records show it as the one
    /// packet handed to the device, as tcpdump on a TSO interface does.
    pub fn transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        if let Some(p) = self.control.pop_front() {
            if p.len() <= buf.len() {
                buf[..p.len()].copy_from_slice(&p);
                self.obs.stats.segments_out += 1;
                self.obs.packet(now, Direction::Out, &p);
                // Built with full checksums (`queue_control`).
                return Some(Transmit { len: p.len(), segment_size: None, partial_checksum: false });
            }
            // The caller's buffer is smaller than the MTU (a misuse): keep
            // the packet for a call with room rather than lose it.
            self.control.push_front(p);
        }
        // Segments are at most MTU bytes whatever the caller's buffer,
        // unless the device cuts super-segments.
        let max = if self.cfg.offload.tso { TSO_MAX_PACKET } else { self.cfg.mtu.max(SEGMENT_OVERHEAD + 1) };
        let limit = buf.len().min(max);
        while let Some(&id) = self.dirty.front() {
            let Some(sock) = self.sockets.get_mut(id.index()).and_then(|s| s.as_mut()) else {
                self.dirty.pop_front();
                continue;
            };
            let sent = match &mut sock.kind {
                Kind::Conn(tcb) => tcb.poll_transmit(now, &mut buf[..limit], &mut self.obs),
                _ => None,
            };
            if sent.is_some() {
                return sent;
            }
            sock.dirty = false;
            self.dirty.pop_front();
            // Sending may have armed a timer (RTO, persist).
            self.schedule(id);
            self.reap(id);
        }
        None
    }

    /// The earliest time `handle_timeout` has work, if any. It may be
    /// early (a timer that moved later): `handle_timeout` then does nothing.
    pub fn poll_at(&self) -> Option<Instant> {
        if !self.control.is_empty() || !self.dirty.is_empty() {
            return Some(Instant::ZERO);
        }
        let conn = self.timers.first().map(|(t, _)| *t);
        [conn, self.frags.poll_at()].into_iter().flatten().min()
    }

    /// Keep a connection's entry in the timer set equal to its next
    /// timer. Output owed now is the dirty queue's business, not a timer.
    pub(crate) fn schedule(&mut self, id: SocketId) {
        let Some(sock) = self.sockets.get_mut(id.index()).and_then(|s| s.as_mut()) else { return };
        let next = sock.tcb().and_then(|t| t.next_timer());
        if sock.scheduled == next {
            return;
        }
        if let Some(old) = sock.scheduled.take() {
            self.timers.remove(&(old, id.0));
        }
        if let Some(t) = next {
            sock.scheduled = Some(t);
            self.timers.insert((t, id.0));
        }
    }

    /// Run the timers that are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired = self.frags.expire(now);
        for _ in 0..expired {
            self.obs.drop(now, DropReason::FragTimeout);
        }
        // Timers re-armed while running are scheduled after the loop, so a
        // timer that lands at `now` again cannot keep this loop going.
        let mut fired = Vec::new();
        while let Some(&(t, idx)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            let id = SocketId(idx);
            let Some(Some(sock)) = self.sockets.get_mut(idx as usize) else { continue };
            if sock.scheduled != Some(t) {
                continue; // left by a socket whose slot was reused
            }
            sock.scheduled = None;
            let Some(tcb) = sock.tcb_mut() else { continue };
            let before = tcb.state();
            tcb.handle_timeout(now, &mut self.obs);
            self.after_tcb(id, before);
            fired.push(id);
        }
        for id in fired {
            self.mark_dirty(id);
        }
    }

    fn alloc(&mut self, sock: Socket) -> SocketId {
        if let Some(i) = self.free_ids.pop() {
            self.sockets[i as usize] = Some(sock);
            SocketId(i)
        } else {
            self.sockets.push(Some(sock));
            SocketId(self.sockets.len() as u32 - 1)
        }
    }

    fn sock(&self, id: SocketId) -> Option<&Socket> {
        self.sockets.get(id.index()).and_then(|s| s.as_ref())
    }

    /// Every change to a socket goes through here or `tcb_obs`, which
    /// put it on the touched list: its readiness may have moved.
    fn sock_mut(&mut self, id: SocketId) -> Option<&mut Socket> {
        let s = self.sockets.get_mut(id.index()).and_then(|s| s.as_mut())?;
        if !s.touched {
            s.touched = true;
            self.touched.push(id);
        }
        Some(s)
    }

    /// A connection and the observer together (disjoint borrows of self).
    fn tcb_obs(&mut self, id: SocketId) -> Option<(&mut crate::tcp::Tcb, &mut Observer)> {
        let s = self.sockets.get_mut(id.index())?.as_mut()?;
        if !s.touched {
            s.touched = true;
            self.touched.push(id);
        }
        Some((s.tcb_mut()?, &mut self.obs))
    }

    /// The sockets that changed (a segment, a timer, a call) since the
    /// last call, each once, in no particular order: what an event loop
    /// over many sockets needs to look at, instead of all of them. A
    /// socket may be listed although its readiness did not move.
    pub fn take_touched(&mut self, mut f: impl FnMut(SocketId)) {
        let mut list = core::mem::take(&mut self.touched);
        for &id in &list {
            if let Some(Some(s)) = self.sockets.get_mut(id.index()) {
                s.touched = false;
            }
            f(id);
        }
        // Keep the allocation: this runs after every batch of work.
        list.clear();
        self.touched = list;
    }

    /// Something that may change readiness happened to `id` (see `event_seq`).
    fn bump_events(&mut self, id: SocketId) {
        self.change_seq = self.change_seq.wrapping_add(1);
        if let Some(s) = self.sock_mut(id) {
            s.events = s.events.wrapping_add(1);
        }
    }

    /// Moves whenever any socket's `event_seq` moves: a runtime that wakes
    /// blocked callers only when something may have become ready compares it.
    pub fn change_seq(&self) -> u64 {
        self.change_seq
    }

    fn mark_dirty(&mut self, id: SocketId) {
        if let Some(s) = self.sock_mut(id) {
            if !s.dirty {
                s.dirty = true;
                self.dirty.push_back(id);
            }
        }
        self.schedule(id);
    }

    /// Bookkeeping after a connection ran: move a child from the SYN queue
    /// to the accept queue, or forget a connection that reached CLOSED.
    fn after_tcb(&mut self, id: SocketId, before: crate::tcp::State) {
        use crate::tcp::State;
        let Some(sock) = self.sock_mut(id) else { return };
        let Some(tcb) = sock.tcb() else { return };
        let now_state = tcb.state();
        if now_state != before {
            sock.events = sock.events.wrapping_add(1);
            self.change_seq = self.change_seq.wrapping_add(1);
        }
        let Some(sock) = self.sock_mut(id) else { return };
        let parent = sock.parent;
        if before == State::SynReceived && now_state != State::SynReceived {
            if let Some(p) = parent {
                if let Some(ps) = self.sock_mut(p) {
                    if let Kind::Listener(l) = &mut ps.kind {
                        l.syn_queue = l.syn_queue.saturating_sub(1);
                        if now_state != State::Closed {
                            l.accept_queue.push_back(id);
                            ps.events = ps.events.wrapping_add(1);
                            self.change_seq = self.change_seq.wrapping_add(1);
                        }
                    }
                }
            }
        }
        if now_state == State::Closed {
            self.mark_dirty(id); // a final RST may be owed
        }
    }

    /// Free a CLOSED connection nobody holds: orphaned by close(), or a
    /// child that died before accept().
    fn reap(&mut self, id: SocketId) {
        let Some(sock) = self.sock(id) else { return };
        let Some(tcb) = sock.tcb() else { return };
        if !tcb.is_closed() || sock.dirty {
            return;
        }
        let key = (tcb.local, tcb.remote);
        let parent = sock.parent;
        let user_closed = sock.user_closed;
        if self.conns.get(&key) == Some(&id) {
            self.conns.remove(&key);
        }
        let in_accept_queue = parent.is_some_and(|p| {
            self.sock(p).and_then(|s| s.listener()).is_some_and(|l| l.accept_queue.contains(&id))
        });
        // An accepted-but-unclaimed child stays for accept(); a child that
        // never got there, or an orphan, goes.
        let unowned = user_closed || (parent.is_some() && !in_accept_queue);
        if unowned {
            self.sockets[id.index()] = None;
            self.free_ids.push(id.0);
        }
    }

    /// Queue a stateless packet (built into a fresh buffer).
    fn queue_control(&mut self, now: Instant, build: impl FnOnce(&mut [u8]) -> Option<usize>) {
        if self.control.len() >= MAX_CONTROL_QUEUE {
            return;
        }
        let mut buf = vec![0u8; self.cfg.mtu.max(SEGMENT_OVERHEAD + 64)];
        if let Some(n) = build(&mut buf) {
            buf.truncate(n);
            self.control.push_back(buf);
        }
        let _ = now;
    }
}

impl crate::sim::Node for Stack {
    fn receive(&mut self, now: Instant, packet: &[u8]) {
        Stack::receive(self, now, packet)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        Stack::poll_transmit(self, now, buf)
    }
    fn poll_at(&self) -> Option<Instant> {
        Stack::poll_at(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Stack::handle_timeout(self, now)
    }
}

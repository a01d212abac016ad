//! `UTCP_FAULTS`: the fault injector at the TUN boundary.
//!
//! Packets read from the device cross the inbound link of
//! [`utcp_core::sim::Faults`] before the stack sees them; packets the stack
//! sends cross the outbound link before the device gets them. So the
//! stack's trace and pcap show what it sent and what reached it, and the
//! kernel on the other side sees only what survived.
//!
//! Held packets (delay, jitter, reorder, rate) live in the shared [`State`],
//! so whichever stack thread of the program tree wakes first releases them;
//! [`poll_at`] folds their due time into the stack thread's poll timeout
//! and into the deadline a flush publishes, so a held packet wakes the
//! thread in time and nothing polls in a loop.

use super::config::{Config, LogLevel};
use super::State;
use crate::sys;
use utcp_core::sim::{Faults, Link, LinkStats};
use utcp_core::trace::format_packet;
use utcp_core::Instant;

/// The injector and whether to narrate its faults (`UTCP_TRACE=1`).
pub struct Injector {
    faults: Faults,
    trace: bool,
    /// Trace lines about outbound packets, printed by [`report`] after the
    /// stack's own lines for the same packets (which a flush reports only
    /// once they are sent), so a loss reads after the packet it hit.
    out_notes: String,
}

impl Injector {
    /// None without `UTCP_FAULTS`: the hooks then cost one branch.
    pub fn new(cfg: &Config) -> Option<Injector> {
        cfg.faults.as_ref().map(|spec| Injector { faults: Faults::new(spec), trace: cfg.trace, out_notes: String::new() })
    }
}

/// A packet read from the device: to the stack now, or through the
/// inbound link (with whatever of it is due at once).
pub fn receive(st: &mut State, now: Instant, pkt: &[u8], vnet_hdr: bool) {
    let State { stack, faults, .. } = st;
    match faults.as_mut().and_then(|f| f.faults.inbound.as_mut().map(|l| (l, f.trace))) {
        // No injector (the only case with the virtio-net header: faults
        // turn offload off, see `Config::from_env`).
        None => super::tun::deliver(stack, now, pkt, vnet_hdr),
        Some((link, trace)) => {
            // Printed at once: it comes before the stack's lines about
            // the packets that did get through.
            if let Some(note) = send(link, now, pkt, trace, "IN ") {
                sys::log(&note);
            }
            while let Some(p) = link.pop_due(now) {
                stack.receive(now, &p);
                link.recycle(p);
            }
        }
    }
}

/// A packet the stack sends: `write` puts it on the device, now or (for
/// a held packet) from a later [`release`].
pub fn transmit(inj: &mut Option<Injector>, now: Instant, pkt: &[u8], mut write: impl FnMut(&[u8])) {
    match inj.as_mut().and_then(|f| f.faults.outbound.as_mut().map(|l| (l, f.trace, &mut f.out_notes))) {
        None => write(pkt),
        Some((link, trace, notes)) => {
            if let Some(note) = send(link, now, pkt, trace, "OUT") {
                notes.push_str(&note);
            }
            while let Some(p) = link.pop_due(now) {
                write(&p);
                link.recycle(p);
            }
        }
    }
}

/// Hand out the held packets that are due: inbound ones to the stack,
/// outbound ones to `write`. True if any inbound packet reached the stack
/// (the caller then flushes what the stack made of it).
pub fn release(st: &mut State, now: Instant, mut write: impl FnMut(&[u8])) -> bool {
    let State { stack, faults, .. } = st;
    let Some(inj) = faults else { return false };
    if let Some(link) = &mut inj.faults.outbound {
        while let Some(p) = link.pop_due(now) {
            write(&p);
            link.recycle(p);
        }
    }
    let mut received = false;
    if let Some(link) = &mut inj.faults.inbound {
        while let Some(p) = link.pop_due(now) {
            stack.receive(now, &p);
            link.recycle(p);
            received = true;
        }
    }
    received
}

/// Print the trace lines about outbound packets (after the flush that
/// sent them reported the stack's events).
pub fn report(st: &mut State) {
    if let Some(inj) = &mut st.faults {
        if !inj.out_notes.is_empty() {
            sys::log(&inj.out_notes);
            inj.out_notes.clear();
        }
    }
}

/// When the stack thread must next wake: the stack's timer or the
/// earliest held packet, whichever comes first.
pub fn poll_at(st: &State) -> Option<Instant> {
    let held = st.faults.as_ref().and_then(|f| f.faults.next_delivery());
    match (st.stack.poll_at(), held) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// At exit, with `UTCP_LOG=info` or more: the stack's retransmission and
/// drop counters (what a loss experiment reads) and the faults injected.
pub fn exit_report(st: &State, cfg: &Config) {
    if cfg.log < LogLevel::Info {
        return;
    }
    // The stack's counters (drops by reason): the only way to see them
    // from outside (scripts/robust reads this line).
    sys::log(&format!("utcp: stats: {}\n", st.stack.stats()));
    if let Some(f) = &st.faults {
        sys::log(&format!("utcp: faults {}\n", f.faults.summary()));
    }
}

/// Put a packet on a link; with tracing, the line that says what the link
/// did to it, in the trace's own packet format, so a lost segment can be
/// matched with its retransmission further down.
fn send(link: &mut Link, now: Instant, pkt: &[u8], trace: bool, dir: &str) -> Option<String> {
    if !trace {
        link.send(now, pkt);
        return None;
    }
    let before: LinkStats = *link.stats();
    link.send(now, pkt);
    let after = link.stats();
    let what = if after.lost > before.lost {
        "lost"
    } else if after.queue_drops > before.queue_drops {
        "dropped (queue full)"
    } else if after.corrupted > before.corrupted {
        "corrupted"
    } else if after.duplicated > before.duplicated {
        "duplicated"
    } else if after.reordered > before.reordered {
        "held back"
    } else {
        // Plain delay happens to every packet: not worth a line each.
        return None;
    };
    Some(format!("utcp: {now} fault {dir} {what}: {}\n", format_packet(pkt)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fd::FdTable;
    use crate::runtime::epoll;
    use core::net::{Ipv4Addr, SocketAddrV4};
    use core::time::Duration;
    use utcp_core::stack::{Stack, StackConfig};

    const UTCP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const KERNEL: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    fn state(spec: &str) -> State {
        let cfg = Config::from_lookup(|k| (k == "UTCP_FAULTS").then(|| spec.to_string())).unwrap();
        let mut scfg = StackConfig::new(UTCP);
        scfg.seed = 11;
        State {
            stack: Stack::new(scfg),
            fds: FdTable::default(),
            epolls: epoll::Table::default(),
            pcap: None,
            buf: vec![0u8; 65536],
            procs: Vec::new(),
            woken_seq: 0,
            faults: Injector::new(&cfg),
        }
    }

    /// utcp (behind the injector, as the runtime drives it) sends `len`
    /// bytes to a plain stack playing the kernel; returns what arrived,
    /// the virtual time it took, and the state for its counters.
    fn transfer(spec: &str, len: usize) -> (Vec<u8>, Duration, State) {
        let mut st = state(spec);
        let mut kcfg = StackConfig::new(KERNEL);
        kcfg.seed = 12;
        let mut kernel = Stack::new(kcfg);
        let l = kernel.socket();
        kernel.bind(l, SocketAddrV4::new(KERNEL, 80)).unwrap();
        kernel.listen(l, 8).unwrap();
        let mut now = Instant::ZERO;
        let c = st.stack.socket();
        // Non-blocking, as the runtime connects: EINPROGRESS, then the handshake.
        let _ = st.stack.connect(now, c, SocketAddrV4::new(KERNEL, 80));
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let (mut sent, mut got, mut conn) = (0, Vec::new(), None);
        let mut wire = Vec::new(); // utcp -> kernel, this instant
        let mut buf = vec![0u8; 65536];
        for _ in 0..200_000 {
            if sent < len {
                if let Ok(n) = st.stack.send(c, &data[sent..]) {
                    sent += n;
                    if sent == len {
                        let _ = st.stack.close(now, c, false);
                    }
                }
            }
            // The runtime's flush, then the stack thread's timer round.
            let State { stack, buf: b, faults, .. } = &mut st;
            while let Some(n) = stack.poll_transmit(now, b) {
                transmit(faults, now, &b[..n], |p| wire.push(p.to_vec()));
            }
            release(&mut st, now, |p| wire.push(p.to_vec()));
            if st.stack.poll_at().is_some_and(|t| t <= now) {
                st.stack.handle_timeout(now);
            }
            for p in wire.drain(..) {
                kernel.receive(now, &p);
            }
            if kernel.poll_at().is_some_and(|t| t <= now) {
                kernel.handle_timeout(now);
            }
            if conn.is_none() {
                conn = kernel.accept(l).ok().map(|(id, _)| id);
            }
            if let Some(k) = conn {
                let mut chunk = [0u8; 65536];
                while let Ok(n @ 1..) = kernel.recv(now, k, &mut chunk, false) {
                    got.extend_from_slice(&chunk[..n]);
                }
            }
            while let Some(n) = kernel.poll_transmit(now, &mut buf) {
                receive(&mut st, now, &buf[..n], false);
            }
            if got.len() == len {
                break;
            }
            // Jump to the next thing to do, as the stack thread's poll does.
            let next = [poll_at(&st), kernel.poll_at()].into_iter().flatten().min();
            now = next.unwrap_or(now + Duration::from_millis(1)).max(now + Duration::from_micros(1));
        }
        assert_eq!(got.len(), len, "stalled: {} of {len} bytes", got.len());
        assert!(got == data, "bytes differ");
        (got, now.saturating_since(Instant::ZERO), st)
    }

    #[test]
    fn no_faults_means_no_injector() {
        assert!(state("").faults.is_none());
        let (_, t, st) = transfer("", 200_000);
        assert_eq!(st.stack.stats().retransmits, 0);
        assert!(t < Duration::from_millis(100), "{t:?}");
    }

    #[test]
    fn a_transfer_survives_every_fault_and_the_counters_show_them() {
        let (_, _, st) = transfer("loss=10%,dup=2%,reorder=5%,delay=2ms,jitter=1ms,corrupt=1%,seed=3", 300_000);
        let f = &st.faults.as_ref().unwrap().faults;
        for link in [f.inbound.as_ref().unwrap(), f.outbound.as_ref().unwrap()] {
            let s = link.stats();
            assert!(s.lost > 0 && s.delayed > 0, "{s:?}");
        }
        let out = f.outbound.as_ref().unwrap().stats();
        assert!(out.duplicated > 0 && out.reordered > 0 && out.corrupted > 0, "{out:?}");
        assert!(st.stack.stats().retransmits > 0);
        // A corrupted inbound packet is dropped by the stack's checksums.
        let inbound = f.inbound.as_ref().unwrap().stats();
        assert!(st.stack.stats().total_drops() >= inbound.corrupted);
    }

    #[test]
    fn a_held_packet_sets_the_wake_up_time() {
        let mut st = state("out:delay=10ms");
        let t0 = Instant::from_millis(3);
        let mut wrote = 0;
        transmit(&mut st.faults, t0, &[0x45; 40], |_| wrote += 1);
        assert_eq!(wrote, 0);
        let due = Instant::from_millis(13);
        assert_eq!(poll_at(&st), Some(due));
        assert!(!release(&mut st, Instant::from_micros(12_999), |_| wrote += 1));
        assert_eq!(wrote, 0);
        release(&mut st, due, |_| wrote += 1);
        assert_eq!((wrote, poll_at(&st)), (1, None));
    }
}

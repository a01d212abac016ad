//! epoll over utcp sockets, inside real kernel epoll instances.
//!
//! An epoll fd is always a real kernel epoll (epoll_create1 is not
//! touched), so kernel fds registered in it work natively. When a utcp
//! socket is first added to an epoll, utcp keeps, for that epoll, the
//! interest list of its utcp sockets (fd -> events, data, EPOLLET /
//! EPOLLONESHOT / EPOLLEXCLUSIVE) and registers in the kernel epoll one
//! private nonblocking eventfd (data = [`TAG`]) that is on the runtime's
//! waiter list while the epoll has utcp members: every stack event signals
//! it, which wakes a kernel epoll_wait on that epoll.
//!
//! epoll_wait: under the runtime lock, drain the eventfd and collect the
//! ready utcp entries (round-robin, so a short `maxevents` cannot starve
//! anyone) among the instance's candidates: the entries whose socket
//! changed since they were last looked at (`Stack::take_touched`, routed
//! through [`Table::watch`]), added or modified, or still ready
//! (level-triggered). So a wait costs what is ready, not the size of the
//! interest list (10,000 idle connections cost nothing); then a real epoll_pwait on the epoll for the kernel fds, with
//! timeout 0 if utcp entries were ready and the caller's remaining timeout
//! otherwise (an idle wait sleeps in the kernel). The private event is
//! dropped from the results; if it was all that came, check again.
//!
//! Triggering, per entry:
//! - level-triggered: reported whenever readiness & events != 0;
//! - edge-triggered: reported when readiness & events != 0 *and* the
//!   socket's `Stack::event_seq` moved since the last report (or it was
//!   never reported since ADD/MOD, which Linux also checks at once). The
//!   counter moves on every segment, timer, state change or accept-queue
//!   arrival, like the kernel's wakeup callbacks, so "read until EAGAIN,
//!   wait, a new arrival reports again" holds; it may report a little more
//!   often than Linux (e.g. on an ACK that frees no space), never less.
//! - EPOLLONESHOT: after one report the entry is disabled (nothing, not even
//!   EPOLLERR/EPOLLHUP, is reported) until EPOLL_CTL_MOD re-arms it.
//! - EPOLLEXCLUSIVE: accepted with Linux's checks; every waiter is woken.
//!
//! Entries are keyed by (fd, socket), as Linux keys them by (fd, file): the
//! last close of a socket removes it from every epoll; closing the epoll fd
//! drops its table (the close hook checks a lock-free bit first).

use super::{Runtime, State};
use crate::fd::MAX_FDS;
use crate::sys;
use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use core::ops::Bound;
use std::collections::{BTreeMap, BTreeSet};
use utcp_core::stack::SocketId;

pub type Res<T> = Result<T, c_int>;

/// The data of our private eventfd's registration ("utcp_evt").
pub const TAG: u64 = 0x7574_6370_5f65_7674;

const EPOLLIN: u32 = libc::EPOLLIN as u32;
const EPOLLOUT: u32 = libc::EPOLLOUT as u32;
const EPOLLERR: u32 = libc::EPOLLERR as u32;
const EPOLLHUP: u32 = libc::EPOLLHUP as u32;
const EPOLLET: u32 = libc::EPOLLET as u32;
const EPOLLONESHOT: u32 = libc::EPOLLONESHOT as u32;
const EPOLLEXCLUSIVE: u32 = libc::EPOLLEXCLUSIVE as u32;
const EPOLLWAKEUP: u32 = libc::EPOLLWAKEUP as u32;
/// Linux's EPOLLEXCLUSIVE_OK_BITS.
const EXCLUSIVE_OK: u32 = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// Flag bits, never readiness bits.
const FLAGS: u32 = EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP;

/// Which fds are epoll instances with a utcp table (lock-free, for close).
static TRACKED: [AtomicBool; MAX_FDS] = [const { AtomicBool::new(false) }; MAX_FDS];

fn tracked(fd: c_int) -> bool {
    fd >= 0 && (fd as usize) < MAX_FDS && TRACKED[fd as usize].load(Ordering::Acquire)
}

fn track(fd: c_int, on: bool) {
    if fd >= 0 && (fd as usize) < MAX_FDS {
        TRACKED[fd as usize].store(on, Ordering::Release);
    }
}

/// Does epoll_wait on `epfd` need utcp? Lock-free.
pub fn has_table(epfd: c_int) -> bool {
    tracked(epfd)
}

#[derive(Debug)]
struct Item {
    fd: c_int,
    id: SocketId,
    /// The interest, with EPOLLERR|EPOLLHUP always added (Linux).
    events: u32,
    data: u64,
    /// event_seq at the last report (edge-triggered); None: report if ready.
    last_seq: Option<u64>,
    /// EPOLLONESHOT fired; MOD re-arms.
    disabled: bool,
}

#[derive(Debug)]
struct Instance {
    efd: c_int,
    items: Vec<Item>,
    index: BTreeMap<(c_int, SocketId), usize>,
    /// Entries to look at in the next wait (see the module doc).
    cand: BTreeSet<(c_int, SocketId)>,
    /// The scan of candidates starts after this one (round-robin).
    after: Option<(c_int, SocketId)>,
    /// `efd` is on the runtime's waiter list.
    waiting: bool,
    /// Every other wait looks at the kernel fds first, so that a short
    /// `maxevents` starves neither side (Linux rotates its ready list).
    kernel_first: bool,
}

impl Instance {
    fn remove_at(&mut self, i: usize) {
        let it = self.items.swap_remove(i);
        self.index.remove(&(it.fd, it.id));
        self.cand.remove(&(it.fd, it.id));
        if let Some(moved) = self.items.get(i) {
            self.index.insert((moved.fd, moved.id), i);
        }
    }
}

/// The utcp side of every epoll instance that has (had) utcp members, of
/// every process sharing the stack: keyed by (pid, epoll fd), since fd
/// numbers and the private eventfds mean something in one process only.
/// A process sees and signals only its own instances.
#[derive(Debug, Default)]
pub struct Table {
    map: BTreeMap<(u32, c_int), Instance>,
    /// Socket -> the (pid, epoll fd, fd) entries for it, to route a
    /// touched socket to its entries and drop a closed one in O(log n).
    watch: BTreeMap<SocketId, Vec<(u32, c_int, c_int)>>,
}

impl Table {
    fn unwatch(&mut self, id: SocketId, who: (u32, c_int, c_int)) {
        if let Some(v) = self.watch.get_mut(&id) {
            v.retain(|w| *w != who);
            if v.is_empty() {
                self.watch.remove(&id);
            }
        }
    }

    /// Remove instance `k` and its entries from `watch`.
    fn remove_instance(&mut self, k: (u32, c_int)) -> Option<Instance> {
        let inst = self.map.remove(&k)?;
        for it in &inst.items {
            self.unwatch(it.id, (k.0, k.1, it.fd));
        }
        Some(inst)
    }
}

/// Make every entry whose socket changed since the last call a candidate
/// in its instance (of any process: the touched list is shared).
fn distribute(st: &mut State) {
    let State { stack, epolls, .. } = st;
    stack.take_touched(|id| {
        let Some(ws) = epolls.watch.get(&id) else { return };
        for &(pid, epfd, fd) in ws {
            if let Some(inst) = epolls.map.get_mut(&(pid, epfd)) {
                inst.cand.insert((fd, id));
            }
        }
    });
}

fn key(epfd: c_int) -> (u32, c_int) {
    (crate::fd::pid(), epfd)
}

fn rt() -> Res<&'static Runtime> {
    super::running().ok_or(libc::EBADF)
}

/// Put `inst`'s eventfd on this process's waiter list (or take it off).
/// Only for an instance of this process.
fn set_waiting(inst: &mut Instance, on: bool) {
    if on && !inst.waiting {
        super::waiter_add(inst.efd);
    } else if !on && inst.waiting {
        super::waiter_remove(inst.efd);
    }
    inst.waiting = on;
}

fn real_ctl(epfd: c_int, op: c_int, fd: c_int, ev: Option<&mut libc::epoll_event>) -> Res<()> {
    let p = ev.map_or(core::ptr::null_mut(), |e| e as *mut libc::epoll_event);
    // SAFETY: p is null or a valid epoll_event.
    let r = unsafe { libc::syscall(libc::SYS_epoll_ctl, epfd, op, fd, p) };
    if r < 0 {
        Err(sys::errno())
    } else {
        Ok(())
    }
}

/// epoll_ctl(2) with a utcp socket as the target. `ev` is None for a null
/// event pointer.
pub fn ctl(epfd: c_int, op: c_int, fd: c_int, ev: Option<(u32, u64)>) -> Res<()> {
    let rt = rt()?;
    let has_event = op == libc::EPOLL_CTL_ADD || op == libc::EPOLL_CTL_MOD;
    let (mut events, data) = match ev {
        Some(e) => e,
        None if has_event => return Err(libc::EFAULT),
        None => (0, 0),
    };
    if epfd == fd {
        return Err(libc::EINVAL);
    }
    let mut guard = rt.lock();
    let st: &mut State = &mut guard;
    let id = st.fds.get(fd).ok_or(libc::EBADF)?;
    if !st.epolls.map.contains_key(&key(epfd)) {
        // A bad epfd gives EBADF, a non-epoll one EINVAL; a real epoll
        // without utcp members ENOENT for MOD/DEL (the placeholder was
        // never added to it). The kernel answers all three.
        if op != libc::EPOLL_CTL_ADD {
            real_ctl(epfd, libc::EPOLL_CTL_DEL, fd, None)?;
            return Err(libc::ENOENT);
        }
    }
    if has_event {
        events |= EPOLLERR | EPOLLHUP;
        if events & EPOLLEXCLUSIVE != 0 && (op == libc::EPOLL_CTL_MOD || events & !EXCLUSIVE_OK != 0) {
            return Err(libc::EINVAL);
        }
    }
    match op {
        libc::EPOLL_CTL_ADD => {
            let inst = match st.epolls.map.entry(key(epfd)) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let efd = sys::eventfd(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)?;
                    let mut e = libc::epoll_event { events: EPOLLIN, u64: TAG };
                    if let Err(err) = real_ctl(epfd, libc::EPOLL_CTL_ADD, efd, Some(&mut e)) {
                        let _ = sys::close(efd);
                        return Err(err);
                    }
                    track(epfd, true);
                    v.insert(Instance {
                        efd,
                        items: Vec::new(),
                        index: BTreeMap::new(),
                        cand: BTreeSet::new(),
                        after: None,
                        waiting: false,
                        kernel_first: false,
                    })
                }
            };
            if inst.index.contains_key(&(fd, id)) {
                return Err(libc::EEXIST);
            }
            inst.index.insert((fd, id), inst.items.len());
            inst.items.push(Item { fd, id, events, data, last_seq: None, disabled: false });
            inst.cand.insert((fd, id));
            set_waiting(inst, true);
            st.epolls.watch.entry(id).or_default().push((key(epfd).0, epfd, fd));
            let inst = st.epolls.map.get_mut(&key(epfd)).ok_or(libc::ENOENT)?;
            // A thread already sleeping in epoll_wait checks the new member.
            sys::eventfd_signal(inst.efd);
            Ok(())
        }
        libc::EPOLL_CTL_MOD => {
            let Some(inst) = st.epolls.map.get_mut(&key(epfd)) else { return Err(libc::ENOENT) };
            let i = *inst.index.get(&(fd, id)).ok_or(libc::ENOENT)?;
            let it = &mut inst.items[i];
            if it.events & EPOLLEXCLUSIVE != 0 {
                return Err(libc::EINVAL);
            }
            it.events = events;
            it.data = data;
            it.last_seq = None;
            it.disabled = false;
            inst.cand.insert((fd, id));
            sys::eventfd_signal(inst.efd);
            Ok(())
        }
        libc::EPOLL_CTL_DEL => {
            let Some(inst) = st.epolls.map.get_mut(&key(epfd)) else { return Err(libc::ENOENT) };
            let i = *inst.index.get(&(fd, id)).ok_or(libc::ENOENT)?;
            inst.remove_at(i);
            if inst.items.is_empty() {
                set_waiting(inst, false);
            }
            st.epolls.unwatch(id, (key(epfd).0, epfd, fd));
            Ok(())
        }
        _ => Err(libc::EINVAL),
    }
}

/// The last close of socket `id` (fd `fd`): Linux drops a released file
/// from every epoll. A close that leaves other fds open keeps the entries.
pub fn socket_closed(st: &mut State, _fd: c_int, id: SocketId, last: bool) {
    if last {
        socket_gone(st, id);
    }
}

/// Socket `id` closed for good: it leaves every epoll of every process.
pub fn socket_gone(st: &mut State, id: SocketId) {
    let Some(ws) = st.epolls.watch.remove(&id) else { return };
    let me = crate::fd::pid();
    for (pid, epfd, fd) in ws {
        let Some(inst) = st.epolls.map.get_mut(&(pid, epfd)) else { continue };
        if let Some(&i) = inst.index.get(&(fd, id)) {
            inst.remove_at(i);
        }
        if inst.items.is_empty() && pid == me {
            set_waiting(inst, false);
        }
    }
}

/// Process `pid` is gone (or exiting): its epoll tables go. Its private
/// eventfds are closed only by itself.
/// This process exec'd: the old image's epoll instances are gone with it
/// (their eventfds were the old image's; nothing to close here).
pub fn forget_process(st: &mut State, pid: u32) {
    let keys: Vec<(u32, c_int)> = st.epolls.map.keys().filter(|k| k.0 == pid).copied().collect();
    for k in keys {
        st.epolls.remove_instance(k);
    }
}

pub fn process_gone(st: &mut State, pid: u32) {
    let me = crate::fd::pid();
    let keys: Vec<(u32, c_int)> = st.epolls.map.keys().filter(|k| k.0 == pid).copied().collect();
    for k in keys {
        if let Some(mut inst) = st.epolls.remove_instance(k) {
            if pid == me {
                set_waiting(&mut inst, false);
                let _ = sys::close(inst.efd);
            }
        }
    }
}

/// A kernel fd is being closed (or an epoll was just created with a
/// number we still had a table for). Lock-free unless it is an epoll of
/// ours; then its table and private eventfd go.
pub fn kernel_fd_closing(fd: c_int) {
    if !tracked(fd) {
        return;
    }
    let Some(rt) = super::running() else { return };
    let _g = sys::ErrnoGuard::new();
    let mut guard = rt.lock();
    let st: &mut State = &mut guard;
    if let Some(mut inst) = st.epolls.remove_instance(key(fd)) {
        set_waiting(&mut inst, false);
        let _ = sys::close(inst.efd);
    }
    track(fd, false);
}

/// Ready utcp entries into `out`, round-robin among the candidates.
fn collect(st: &mut State, epfd: c_int, out: &mut [libc::epoll_event]) -> usize {
    distribute(st);
    let State { epolls, stack, .. } = st;
    let Some(inst) = epolls.map.get_mut(&key(epfd)) else { return 0 };
    // The candidate after `k`, wrapping around.
    let next_of = |cand: &BTreeSet<(c_int, SocketId)>, k: Option<(c_int, SocketId)>| {
        let from = k.map_or(Bound::Unbounded, Bound::Excluded);
        cand.range((from, Bound::Unbounded)).next().or_else(|| cand.first()).copied()
    };
    let mut cur = next_of(&inst.cand, inst.after);
    let mut n = 0;
    // Each candidate present at the start is looked at once at most.
    for _ in 0..inst.cand.len() {
        let Some(k) = cur else { break };
        if n == out.len() {
            break;
        }
        let after = next_of(&inst.cand, Some(k));
        cur = after.filter(|a| *a != k);
        // Whether it stays a candidate: only a level-triggered entry that
        // is ready now (the next wait reports it again).
        let keep = match inst.index.get(&k) {
            None => false,
            Some(&i) => {
                let it = &mut inst.items[i];
                let mask = if it.disabled { 0 } else { stack.readiness(it.id).poll_mask() & it.events & !FLAGS };
                let mut report = mask != 0;
                if report && it.events & EPOLLET != 0 {
                    let seq = stack.event_seq(it.id);
                    report = it.last_seq != Some(seq);
                    it.last_seq = Some(seq);
                }
                if report {
                    if it.events & EPOLLONESHOT != 0 {
                        it.disabled = true;
                    }
                    out[n] = libc::epoll_event { events: mask, u64: it.data };
                    n += 1;
                    inst.after = Some(k);
                }
                report && it.events & (EPOLLET | EPOLLONESHOT) == 0
            }
        };
        if !keep {
            inst.cand.remove(&k);
        }
    }
    n
}

/// Drop our private event from the `k` results at `out[from..]`, keeping
/// the order of the rest; returns how many remain.
fn drop_tag(out: &mut [libc::epoll_event], from: usize, k: usize) -> usize {
    let mut kept = 0;
    for j in from..from + k {
        if out[j].u64 != TAG {
            out[from + kept] = out[j];
            kept += 1;
        }
    }
    kept
}

/// epoll_pwait without our hooks; `timeout_ms` < 0 blocks.
fn real_wait(epfd: c_int, out: &mut [libc::epoll_event], timeout_ms: c_int, mask: Option<&libc::sigset_t>) -> Res<usize> {
    let m = mask.map_or(core::ptr::null(), |m| m as *const libc::sigset_t);
    // SAFETY: out is a valid array of its length; m is null or a sigset.
    let r = unsafe { libc::syscall(libc::SYS_epoll_pwait, epfd, out.as_mut_ptr(), out.len() as c_int, timeout_ms, m, 8usize) };
    if r < 0 {
        Err(sys::errno())
    } else {
        Ok(r as usize)
    }
}

fn ms_until(rt: &Runtime, deadline: Option<utcp_core::Instant>) -> c_int {
    match deadline {
        None => -1,
        // Rounded up, so a wait never ends early and spins.
        Some(d) => d.saturating_since(rt.now()).as_micros().div_ceil(1000).min(i32::MAX as u128) as c_int,
    }
}

/// epoll_wait/epoll_pwait/epoll_pwait2 on an epoll with a utcp table.
/// `out` is the caller's array (maxevents > 0 checked by the caller);
/// `timeout` None blocks.
pub fn wait(epfd: c_int, out: &mut [libc::epoll_event], timeout: Option<Duration>, mask: Option<&libc::sigset_t>) -> Res<usize> {
    let rt = rt()?;
    let deadline = timeout.map(|t| rt.now() + t);
    let kernel_first = {
        let mut st = rt.lock();
        st.epolls.map.get_mut(&key(epfd)).is_some_and(|i| {
            i.kernel_first = !i.kernel_first;
            i.kernel_first
        })
    };
    if kernel_first {
        let k = real_wait(epfd, out, 0, mask)?;
        let k = drop_tag(out, 0, k);
        if k > 0 {
            let mut guard = rt.lock();
            let n = if k < out.len() { collect(&mut guard, epfd, &mut out[k..]) } else { 0 };
            return Ok(k + n);
        }
    }
    loop {
        let mut guard = rt.lock();
        let st: &mut State = &mut guard;
        let Some(efd) = st.epolls.map.get(&key(epfd)).map(|i| i.efd) else {
            // The table went (the last member's epoll was closed): the kernel alone.
            drop(guard);
            return real_wait(epfd, out, ms_until(rt, deadline), mask);
        };
        // Drained under the lock: a change after the check signals again.
        let _ = sys::eventfd_drain(efd);
        let n = collect(st, epfd, out);
        drop(guard);
        if n == out.len() {
            return Ok(n);
        }
        let wait_ms = if n > 0 { 0 } else { ms_until(rt, deadline) };
        let r = real_wait(epfd, &mut out[n..], wait_ms, mask);
        let k = match r {
            Ok(k) => k,
            Err(_) if n > 0 => 0,
            Err(e) => return Err(e),
        };
        let total = n + drop_tag(out, n, k);
        if total > 0 {
            return Ok(total);
        }
        // Only our event: a stack change; check again unless time is up.
        if deadline.is_some_and(|d| rt.now() >= d) {
            return Ok(0);
        }
    }
}

//! Event hooks: select, pselect and the epoll family. Semantics live in
//! `runtime::select` and `runtime::epoll`; calls that involve no utcp
//! socket go to the real function untouched. (`__fdelt_chk`, fortified
//! FD_SET's index check, needs nothing: utcp fds are real fd numbers.)

use super::{hook, ret};
use crate::fd::is_ours;
use crate::runtime::{epoll, select};
use core::ffi::c_int;
use core::time::Duration;
use libc::{epoll_event, fd_set, sigset_t, timespec, timeval};

/// Linux's EP_MAX_EVENTS.
const EP_MAX_EVENTS: c_int = (i32::MAX as usize / core::mem::size_of::<epoll_event>()) as c_int;

/// The sets as 64-bit words over the first `n` fds, if a utcp socket is in
/// them (None: forward to the real call).
///
/// # Safety
/// Each pointer is null or an fd_set bitmap covering `nfds` bits.
unsafe fn select_sets<'a>(nfds: c_int, r: *mut fd_set, w: *mut fd_set, e: *mut fd_set) -> Option<(usize, select::Sets<'a>)> {
    if nfds <= 0 {
        return None;
    }
    // The kernel reads no more than its fd table holds; the open-file
    // limit bounds that (and keeps us inside the caller's bitmaps).
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit.
    let cap = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 { lim.rlim_cur.clamp(64, i32::MAX as u64) as usize } else { 1024 };
    let n = (nfds as usize).min(cap);
    let words = n.div_ceil(64);
    let view = |p: *mut fd_set| -> Option<&'a mut [u64]> {
        // SAFETY: per the contract, `words` words of bitmap at p.
        (!p.is_null()).then(|| unsafe { core::slice::from_raw_parts_mut(p as *mut u64, words) })
    };
    let sets: select::Sets<'a> = [view(r), view(w), view(e)];
    let ro = [sets[0].as_deref(), sets[1].as_deref(), sets[2].as_deref()];
    select::has_ours(&ro, n).then_some((n, sets))
}

hook! {
    fn select(nfds: c_int, r: *mut fd_set, w: *mut fd_set, e: *mut fd_set, tv: *mut timeval) -> c_int; |real| {
        // SAFETY: the caller's fd_sets of nfds bits.
        let Some((n, mut sets)) = (unsafe { select_sets(nfds, r, w, e) }) else { return real()(nfds, r, w, e, tv) };
        let mut timeout = if tv.is_null() {
            None
        } else {
            // SAFETY: a non-null timeval from the caller.
            let t = unsafe { *tv };
            if t.tv_sec < 0 || t.tv_usec < 0 {
                return ret::<()>(Err(libc::EINVAL), |_| 0);
            }
            Some(Duration::from_secs(t.tv_sec as u64 + (t.tv_usec / 1_000_000) as u64) + Duration::from_micros((t.tv_usec % 1_000_000) as u64))
        };
        let zero = timeout == Some(Duration::ZERO);
        let r = select::select(n, &mut sets, &mut timeout, None);
        // Linux reports the time left (not for a zero timeout).
        if let (false, Some(left)) = (zero, timeout) {
            // SAFETY: the caller's timeval (non-null when timeout is Some).
            unsafe {
                (*tv).tv_sec = left.as_secs() as _;
                (*tv).tv_usec = left.subsec_micros() as _;
            }
        }
        ret(r, |n| n as c_int)
    }

    fn pselect(nfds: c_int, r: *mut fd_set, w: *mut fd_set, e: *mut fd_set, ts: *const timespec, mask: *const sigset_t) -> c_int; |real| {
        // SAFETY: the caller's fd_sets of nfds bits.
        let Some((n, mut sets)) = (unsafe { select_sets(nfds, r, w, e) }) else { return real()(nfds, r, w, e, ts, mask) };
        // SAFETY: null or the caller's timespec.
        let mut timeout = match unsafe { super::read_timespec(ts) } {
            Ok(t) => t,
            Err(e) => return ret::<()>(Err(e), |_| 0),
        };
        // SAFETY: null or the caller's sigset, applied atomically with the wait.
        let mask = unsafe { mask.as_ref() };
        ret(select::select(n, &mut sets, &mut timeout, mask), |n| n as c_int)
    }

    fn epoll_create(size: c_int) -> c_int; |real| {
        let fd = real()(size);
        // A number we still kept a table for (closed behind our back).
        epoll::kernel_fd_closing(fd);
        fd
    }

    fn epoll_create1(flags: c_int) -> c_int; |real| {
        let fd = real()(flags);
        epoll::kernel_fd_closing(fd);
        fd
    }

    fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, ev: *mut epoll_event) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(epfd, op, fd, ev);
        }
        let e = if ev.is_null() {
            None
        } else {
            // SAFETY: the caller's event (packed on x86_64: copied whole).
            let e = unsafe { core::ptr::read_unaligned(ev) };
            Some((e.events, e.u64))
        };
        ret(epoll::ctl(epfd, op, fd, e), |_| 0)
    }

    fn epoll_wait(epfd: c_int, evs: *mut epoll_event, maxevents: c_int, timeout: c_int) -> c_int; |real| {
        if !epoll::has_table(epfd) || evs.is_null() || maxevents <= 0 || maxevents > EP_MAX_EVENTS {
            return real()(epfd, evs, maxevents, timeout);
        }
        // SAFETY: the caller's array of maxevents entries.
        let out = unsafe { core::slice::from_raw_parts_mut(evs, maxevents as usize) };
        let t = (timeout >= 0).then(|| Duration::from_millis(timeout as u64));
        ret(epoll::wait(epfd, out, t, None), |n| n as c_int)
    }

    fn epoll_pwait(epfd: c_int, evs: *mut epoll_event, maxevents: c_int, timeout: c_int, mask: *const sigset_t) -> c_int; |real| {
        if !epoll::has_table(epfd) || evs.is_null() || maxevents <= 0 || maxevents > EP_MAX_EVENTS {
            return real()(epfd, evs, maxevents, timeout, mask);
        }
        // SAFETY: the caller's array of maxevents entries.
        let out = unsafe { core::slice::from_raw_parts_mut(evs, maxevents as usize) };
        let t = (timeout >= 0).then(|| Duration::from_millis(timeout as u64));
        // SAFETY: null or the caller's sigset.
        ret(epoll::wait(epfd, out, t, unsafe { mask.as_ref() }), |n| n as c_int)
    }

    fn epoll_pwait2(epfd: c_int, evs: *mut epoll_event, maxevents: c_int, ts: *const timespec, mask: *const sigset_t) -> c_int; |real| {
        if !epoll::has_table(epfd) || evs.is_null() || maxevents <= 0 || maxevents > EP_MAX_EVENTS {
            return real()(epfd, evs, maxevents, ts, mask);
        }
        // SAFETY: null or the caller's timespec.
        let t = match unsafe { super::read_timespec(ts) } {
            Ok(t) => t,
            Err(e) => return ret::<()>(Err(e), |_| 0),
        };
        // SAFETY: the caller's array of maxevents entries.
        let out = unsafe { core::slice::from_raw_parts_mut(evs, maxevents as usize) };
        // SAFETY: null or the caller's sigset.
        ret(epoll::wait(epfd, out, t, unsafe { mask.as_ref() }), |n| n as c_int)
    }
}

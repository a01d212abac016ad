//! select(2) and pselect(2) over fd_sets that mix utcp sockets and kernel
//! fds, with Linux's semantics.
//!
//! Like the kernel's `do_select`, a socket counts as readable when its poll
//! mask has POLLIN, POLLRDNORM, POLLRDBAND, POLLHUP or POLLERR; writable on
//! POLLOUT, POLLWRNORM, POLLWRBAND or POLLERR; exceptional on POLLPRI (never,
//! for utcp: it has no urgent data). utcp sockets are checked under the
//! runtime lock; the kernel fds go to one real `pselect6` together with this
//! thread's waiter eventfd, so nothing busy-waits: the stack signals the
//! eventfd after any change, and the loop checks again.
//!
//! The kernel fds keep their exact kernel semantics (including EBADF for a
//! closed fd in a set, and the signal mask of pselect applied atomically).

use super::Runtime;
use crate::sys;
use core::ffi::c_int;
use core::time::Duration;

/// POLLIN_SET, POLLOUT_SET, POLLEX_SET of fs/select.c.
const IN_SET: u32 = (libc::POLLIN | libc::POLLRDNORM | libc::POLLRDBAND | libc::POLLHUP | libc::POLLERR) as u32;
const OUT_SET: u32 = (libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND | libc::POLLERR) as u32;
const EX_SET: u32 = libc::POLLPRI as u32;
const SETS: [u32; 3] = [IN_SET, OUT_SET, EX_SET];

pub type Res<T> = Result<T, c_int>;

/// The three caller sets (read, write, except), each `None` for a null
/// pointer, as words of 64 bits (the kernel's `unsigned long` bitmaps).
pub type Sets<'a> = [Option<&'a mut [u64]>; 3];

fn bit(set: &[u64], fd: usize) -> bool {
    set.get(fd / 64).is_some_and(|w| w & (1u64 << (fd % 64)) != 0)
}

fn set_bit(set: &mut [u64], fd: usize) {
    if let Some(w) = set.get_mut(fd / 64) {
        *w |= 1u64 << (fd % 64);
    }
}

fn clear_bit(set: &mut [u64], fd: usize) {
    if let Some(w) = set.get_mut(fd / 64) {
        *w &= !(1u64 << (fd % 64));
    }
}

/// The caller's set limited to its first `n` bits.
fn request(set: &Option<&mut [u64]>, n: usize) -> Option<Vec<u64>> {
    let set = set.as_ref()?;
    let words = n.div_ceil(64);
    let mut v: Vec<u64> = set.iter().take(words).copied().collect();
    v.resize(words, 0);
    if !n.is_multiple_of(64) {
        if let Some(last) = v.last_mut() {
            *last &= (1u64 << (n % 64)) - 1;
        }
    }
    Some(v)
}

/// Does any of the first `n` fds in the sets name a utcp socket?
pub fn has_ours(sets: &[Option<&[u64]>; 3], n: usize) -> bool {
    let words = n.div_ceil(64);
    sets.iter().flatten().any(|set| {
        set.iter().take(words).enumerate().any(|(i, &w)| {
            let mut w = w;
            while w != 0 {
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                let fd = i * 64 + b;
                if fd < n && crate::fd::is_ours(fd as c_int) {
                    return true;
                }
            }
            false
        })
    })
}

/// pselect6 without our hooks: `ts` None waits forever.
fn pselect6(n: usize, sets: &mut [Option<Vec<u64>>; 3], ts: Option<Duration>, mask: Option<&libc::sigset_t>) -> Res<usize> {
    let t;
    let tp = match ts {
        None => core::ptr::null(),
        Some(d) => {
            t = libc::timespec { tv_sec: d.as_secs().min(i64::MAX as u64) as _, tv_nsec: d.subsec_nanos() as _ };
            &t as *const libc::timespec
        }
    };
    // The kernel's sigset argument: pointer and size (_NSIG / 8).
    let sig: [usize; 2] = [mask.map_or(0, |m| m as *const libc::sigset_t as usize), 8];
    let p = |s: &mut Option<Vec<u64>>| s.as_mut().map_or(core::ptr::null_mut(), |v| v.as_mut_ptr());
    let [r, w, e] = sets;
    let (rp, wp, ep) = (p(r), p(w), p(e));
    // SAFETY: each set pointer is null or a buffer of ceil(n/64) words; tp
    // is null or a timespec; sig is the kernel's {sigset pointer, size}.
    let rc = unsafe { libc::syscall(libc::SYS_pselect6, n, rp, wp, ep, tp, sig.as_ptr()) };
    if rc < 0 {
        Err(sys::errno())
    } else {
        Ok(rc as usize)
    }
}

fn rt() -> Res<&'static Runtime> {
    super::running().ok_or(libc::EBADF)
}

/// select over the first `n` fds of `sets`. `timeout` None blocks; on
/// return it holds the time left (select reports it back, pselect not).
/// On success the sets hold the ready fds and the result is their count;
/// on an error they are left as they were, as Linux does.
pub fn select(n: usize, sets: &mut Sets<'_>, timeout: &mut Option<Duration>, mask: Option<&libc::sigset_t>) -> Res<usize> {
    let rt = rt()?;
    let deadline = timeout.map(|t| rt.now() + t);
    let req: [Option<Vec<u64>>; 3] = [request(&sets[0], n), request(&sets[1], n), request(&sets[2], n)];
    let words = n.div_ceil(64);
    // utcp fds and, for each, which sets ask about it; the kernel keeps the rest.
    let mut ours: Vec<(usize, [bool; 3])> = Vec::new();
    let mut kreq = req.clone();
    for fd in 0..n {
        let asked = [0, 1, 2].map(|i| req[i].as_ref().is_some_and(|s| bit(s, fd)));
        if asked.iter().any(|a| *a) && crate::fd::is_ours(fd as c_int) {
            ours.push((fd, asked));
            for s in kreq.iter_mut().flatten() {
                clear_bit(s, fd);
            }
        }
    }
    let result = loop {
        let mut out: [Vec<u64>; 3] = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
        let mut count = 0usize;
        let mut st = rt.lock();
        // A utcp fd of the set closed under us: EBADF, as for any closed fd.
        if ours.iter().any(|(fd, _)| st.fds.get(*fd as c_int).is_none()) {
            break Err(libc::EBADF);
        }
        for &(fd, asked) in &ours {
            let Some(id) = st.fds.get(fd as c_int) else { continue };
            let m = st.stack.readiness(id).poll_mask();
            for i in 0..3 {
                if asked[i] && m & SETS[i] != 0 {
                    set_bit(&mut out[i], fd);
                    count += 1;
                }
            }
        }
        let efd = if count == 0 { rt.add_waiter(&mut st) } else { None };
        drop(st);
        let kn = efd.map_or(n, |e| n.max(e as usize + 1));
        let kwords = kn.div_ceil(64);
        let mut k = kreq.clone();
        for s in k.iter_mut().flatten() {
            s.resize(kwords, 0);
        }
        if let Some(e) = efd {
            set_bit(k[0].get_or_insert_with(|| vec![0u64; kwords]), e as usize);
        }
        let wait = if count > 0 {
            Some(Duration::ZERO)
        } else {
            deadline.map(|d| d.saturating_since(rt.now()))
        };
        let r = pselect6(kn, &mut k, wait, mask);
        if let Some(e) = efd {
            let mut st = rt.lock();
            rt.remove_waiter(&mut st, e);
            // Our eventfd is no answer to the caller (unless it asked, by mistake, about that number).
            if !req[0].as_ref().is_some_and(|s| bit(s, e as usize)) {
                if let Some(s) = k[0].as_mut() {
                    clear_bit(s, e as usize);
                }
            }
        }
        if let Err(e) = r {
            break Err(e);
        }
        for i in 0..3 {
            if let Some(s) = &k[i] {
                for (o, w) in out[i].iter_mut().zip(s.iter()) {
                    *o |= *w;
                }
            }
        }
        let count: usize = out.iter().flatten().map(|w| w.count_ones() as usize).sum();
        let expired = deadline.is_some_and(|d| rt.now() >= d);
        if count > 0 || expired {
            for i in 0..3 {
                if let Some(s) = sets[i].as_mut() {
                    for (d, w) in s.iter_mut().zip(out[i].iter()) {
                        *d = *w;
                    }
                }
            }
            break Ok(count);
        }
    };
    *timeout = deadline.map(|d| d.saturating_since(rt.now()));
    result
}

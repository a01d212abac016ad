//! Socket lifecycle hooks: socket, bind, listen, connect, accept, shutdown,
//! close, names, options, poll.

use super::{hook, inet6, ret};
use crate::fd::is_ours;
use crate::runtime::ops;
use core::ffi::{c_int, c_void};
use libc::{nfds_t, pollfd, size_t, sockaddr, socklen_t};

hook! {
    fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int; |real| {
        let kind = ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC);
        let tcp = protocol == 0 || protocol == libc::IPPROTO_TCP;
        if domain != libc::AF_INET || kind != libc::SOCK_STREAM || !tcp {
            return real()(domain, ty, protocol);
        }
        let nonblock = ty & libc::SOCK_NONBLOCK != 0;
        let cloexec = ty & libc::SOCK_CLOEXEC != 0;
        ret(ops::socket(nonblock, cloexec), |fd| fd)
    }

    fn bind(fd: c_int, a: *const sockaddr, len: socklen_t) -> c_int; |real| {
        // SAFETY: the caller passes an address of `len` bytes.
        match unsafe { route(fd, a, len, true) } {
            Ok(Some(sa)) => ret(ops::bind(fd, sa), |_| 0),
            Ok(None) => real()(fd, a, len),
            Err(e) => ret::<()>(Err(e), |_| 0),
        }
    }

    fn listen(fd: c_int, backlog: c_int) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd, backlog);
        }
        ret(ops::listen(fd, backlog), |_| 0)
    }

    fn connect(fd: c_int, a: *const sockaddr, len: socklen_t) -> c_int; |real| {
        // SAFETY: the caller passes an address of `len` bytes.
        match unsafe { route(fd, a, len, false) } {
            Ok(Some(sa)) => ret(ops::connect(fd, sa), |_| 0),
            Ok(None) => real()(fd, a, len),
            Err(e) => ret::<()>(Err(e), |_| 0),
        }
    }

    fn accept(fd: c_int, a: *mut sockaddr, len: *mut socklen_t) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd, a, len);
        }
        // SAFETY: the caller's address buffer, as for accept4.
        unsafe { accept_utcp(fd, a, len, 0) }
    }

    fn accept4(fd: c_int, a: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd, a, len, flags);
        }
        // SAFETY: the caller's address buffer.
        unsafe { accept_utcp(fd, a, len, flags) }
    }

    fn shutdown(fd: c_int, how: c_int) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd, how);
        }
        ret(ops::shutdown(fd, how), |_| 0)
    }

    fn close(fd: c_int) -> c_int; |real| {
        // The pass-through path takes no lock: close runs in signal handlers.
        if !is_ours(fd) {
            // Lock-free unless fd is an epoll with utcp members.
            crate::runtime::epoll::kernel_fd_closing(fd);
            return real()(fd);
        }
        ret(ops::close(fd), |_| 0)
    }

    fn getsockname(fd: c_int, a: *mut sockaddr, len: *mut socklen_t) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd, a, len);
        }
        // SAFETY: the caller's address buffer and its length.
        ret(ops::local_addr(fd).and_then(|sa| unsafe { inet6::write(fd, a, len, sa) }), |_| 0)
    }

    fn getpeername(fd: c_int, a: *mut sockaddr, len: *mut socklen_t) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd, a, len);
        }
        // SAFETY: the caller's address buffer and its length.
        ret(ops::peer_addr(fd).and_then(|sa| unsafe { inet6::write(fd, a, len, sa) }), |_| 0)
    }

    fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd, level, name, val, len);
        }
        if val.is_null() && len > 0 {
            return ret::<()>(Err(libc::EFAULT), |_| 0);
        }
        let v: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the caller passes `len` readable bytes at `val`.
            unsafe { core::slice::from_raw_parts(val as *const u8, len as usize) }
        };
        let r = crate::runtime::inet6::setsockopt(fd, level, name, v).unwrap_or_else(|| ops::setsockopt(fd, level, name, v));
        ret(r, |_| 0)
    }

    fn getsockopt(fd: c_int, level: c_int, name: c_int, val: *mut c_void, len: *mut socklen_t) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd, level, name, val, len);
        }
        if val.is_null() || len.is_null() {
            return ret::<()>(Err(libc::EFAULT), |_| 0);
        }
        // SAFETY: len points to the size of the caller's buffer at val.
        let out = unsafe { core::slice::from_raw_parts_mut(val as *mut u8, *len as usize) };
        // SAFETY: len is valid (checked non-null above).
        let r = crate::runtime::inet6::getsockopt(fd, level, name, out);
        ret(r.unwrap_or_else(|| ops::getsockopt(fd, level, name, out)), |n| { unsafe { *len = n as socklen_t }; 0 })
    }

    fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int; |real| {
        // SAFETY: the caller's array of nfds entries.
        match unsafe { poll_set(fds, nfds) } {
            Some(set) => ret(ops::poll(set, timeout), |n| n as c_int),
            None => real()(fds, nfds, timeout),
        }
    }

    fn __poll_chk(fds: *mut pollfd, nfds: nfds_t, timeout: c_int, fdslen: size_t) -> c_int; |real| {
        // SAFETY: as for poll; the size check stays with the real function.
        match unsafe { poll_set(fds, nfds) } {
            Some(set) if (nfds as usize).saturating_mul(core::mem::size_of::<pollfd>()) <= fdslen => {
                ret(ops::poll(set, timeout), |n| n as c_int)
            }
            _ => real()(fds, nfds, timeout, fdslen),
        }
    }

    fn ppoll(fds: *mut pollfd, nfds: nfds_t, tmo: *const libc::timespec, mask: *const libc::sigset_t) -> c_int; |real| {
        // SAFETY: the caller's array of nfds entries.
        let Some(set) = (unsafe { poll_set(fds, nfds) }) else { return real()(fds, nfds, tmo, mask) };
        // SAFETY: null or the caller's timespec.
        let timeout = match unsafe { super::read_timespec(tmo) } {
            Ok(None) => -1,
            Ok(Some(d)) => d.as_micros().div_ceil(1000).min(i32::MAX as u128) as c_int,
            Err(e) => return ret::<()>(Err(e), |_| 0),
        };
        // The mask is applied around the wait (not atomically with it, a
        // documented limit for utcp sockets in ppoll).
        let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
        if !mask.is_null() {
            // SAFETY: valid sigset pointers.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, mask, &mut old) };
        }
        let r = ret(ops::poll(set, timeout), |n| n as c_int);
        if !mask.is_null() {
            let _g = crate::sys::ErrnoGuard::new();
            // SAFETY: restoring the mask saved above.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()) };
        }
        r
    }
}

/// bind and connect: the address decides who serves the socket. An
/// AF_INET6 kernel socket given an address utcp serves becomes ours; a utcp
/// socket given a pass-through address becomes the kernel's. Ok(None): run
/// the real call on `fd`; Ok(Some): the utcp call with this address.
///
/// # Safety
/// `a` must be null or point to `len` readable bytes.
unsafe fn route(fd: c_int, a: *const sockaddr, len: socklen_t, binding: bool) -> Result<Option<core::net::SocketAddrV4>, c_int> {
    // SAFETY: per this function's contract.
    if !is_ours(fd) && !unsafe { inet6::adopt_kernel(fd, a, len, binding) }? {
        return Ok(None);
    }
    // SAFETY: as above.
    match unsafe { inet6::read(fd, a, len, binding) }? {
        Some(sa) if !ops::wants_kernel(sa) => Ok(Some(sa)),
        _ => {
            ops::convert_to_kernel(fd)?;
            Ok(None)
        }
    }
}

/// The poll set as a slice if it holds a utcp socket; None to forward.
///
/// # Safety
/// `fds` must point to `nfds` pollfd entries (or be null with nfds 0).
unsafe fn poll_set<'a>(fds: *mut pollfd, nfds: nfds_t) -> Option<&'a mut [pollfd]> {
    if fds.is_null() || nfds == 0 {
        return None;
    }
    // SAFETY: per the contract above.
    let set = unsafe { core::slice::from_raw_parts_mut(fds, nfds as usize) };
    set.iter().any(|p| is_ours(p.fd)).then_some(set)
}

/// # Safety
/// `a`/`len` must be null or the caller's valid address buffer.
unsafe fn accept_utcp(fd: c_int, a: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int {
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return ret::<()>(Err(libc::EINVAL), |_| 0);
    }
    let r = ops::accept(fd, flags & libc::SOCK_NONBLOCK != 0, flags & libc::SOCK_CLOEXEC != 0);
    // SAFETY: per this function's contract.
    ret(r.and_then(|(newfd, peer)| unsafe { inet6::write(newfd, a, len, peer) }.map(|_| newfd)), |fd| fd)
}

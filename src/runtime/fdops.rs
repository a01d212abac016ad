//! Calls about the descriptor rather than the connection: dup and its
//! relatives, close_range, fcntl, ioctl, sendfile. A utcp fd's placeholder
//! is a real kernel fd, so the kernel does the descriptor work (sharing of
//! O_NONBLOCK between dups, FD_CLOEXEC, lowest free number) and utcp only
//! keeps its table in step.

use super::ops::{self, id_of, rt, Res};
use crate::fd::{is_ours, MAX_FDS};
use crate::sys;
use core::ffi::c_int;

/// dup(2), F_DUPFD, F_DUPFD_CLOEXEC of a utcp fd: `make` duplicates the
/// placeholder; the new number refers to the same socket.
pub fn dup_with(fd: c_int, make: impl FnOnce() -> c_int) -> Res<c_int> {
    let rt = rt()?;
    let mut st = rt.lock();
    let id = id_of(&st, fd)?;
    let new = make();
    if new < 0 {
        return Err(sys::errno());
    }
    if new as usize >= MAX_FDS {
        let _ = sys::close(new);
        return Err(libc::EMFILE);
    }
    st.fds.insert(new, id);
    Ok(new)
}

/// dup2/dup3 where `old` or `new` is a utcp fd. The kernel replaces `new`
/// atomically (`make`); utcp then drops what `new` referred to (closing
/// that socket if it was the last reference) and records the new alias.
pub fn dup2_with(old: c_int, new: c_int, make: impl FnOnce() -> c_int) -> Res<c_int> {
    let rt = rt()?;
    let st = rt.lock();
    let old_id = st.fds.get(old);
    let r = make();
    if r < 0 {
        return Err(sys::errno());
    }
    let mut st = if is_ours(new) && old != new { ops::release(rt, st, new)? } else { st };
    if let Some(id) = old_id {
        if old != new {
            st.fds.insert(new, id);
        }
    }
    Ok(r)
}

/// close_range(2): utcp sockets in the range are released first; the
/// kernel then closes every fd, placeholders included. With
/// CLOSE_RANGE_CLOEXEC nothing closes now and the table stays.
pub fn close_range_with(first: u32, last: u32, flags: c_int, real: impl FnOnce() -> c_int) -> Res<c_int> {
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        if let Some(rt) = super::running() {
            let mut st = rt.lock();
            let hi = (last as usize).min(MAX_FDS - 1);
            for fd in (first as usize)..=hi {
                if is_ours(fd as c_int) {
                    st = ops::release(rt, st, fd as c_int)?;
                }
            }
        }
    }
    let r = real();
    if r < 0 {
        Err(sys::errno())
    } else {
        Ok(r)
    }
}

/// ioctl(2) requests a socket answers itself: FIONREAD (bytes to read),
/// SIOCOUTQ (bytes not yet acknowledged), SIOCOUTQNSD (bytes not yet sent).
/// None: forward to the placeholder (FIONBIO and FIOCLEX are generic and
/// work there; anything else gets the kernel's ENOTTY, as on a socket).
pub fn ioctl_value(fd: c_int, req: libc::c_ulong) -> Option<Res<c_int>> {
    const SIOCOUTQNSD: libc::c_ulong = 0x894b;
    let rt = match rt() {
        Ok(rt) => rt,
        Err(e) => return Some(Err(e)),
    };
    let st = rt.lock();
    let id = match id_of(&st, fd) {
        Ok(id) => id,
        Err(e) => return Some(Err(e)),
    };
    let v = match req {
        libc::FIONREAD => st.stack.readable_bytes(id),
        libc::TIOCOUTQ => st.stack.queued_bytes(id),
        SIOCOUTQNSD => st.stack.unsent_bytes(id),
        _ => return None,
    };
    Some(Ok(v.min(c_int::MAX as usize) as c_int))
}

/// sendfile(2) to a utcp socket: read the file and send, at most `count`
/// bytes; `offset` (if given) is read and advanced instead of the file
/// position. Blocking sockets send everything; nonblocking ones what fits.
pub fn sendfile(out: c_int, input: c_int, offset: Option<&mut i64>, count: usize) -> Res<usize> {
    if is_ours(input) {
        // Linux: the input must support mmap-like reads; a socket does not.
        return Err(libc::EINVAL);
    }
    let mut buf = vec![0u8; count.min(256 * 1024)];
    let mut done = 0usize;
    let mut pos = offset.as_ref().map(|o| **o);
    while done < count {
        let want = (count - done).min(buf.len());
        let n = match pos {
            // SAFETY: buf is valid for `want` bytes.
            Some(p) => unsafe { libc::syscall(libc::SYS_pread64, input, buf.as_mut_ptr(), want, p) },
            // SAFETY: as above.
            None => unsafe { libc::syscall(libc::SYS_read, input, buf.as_mut_ptr(), want) },
        };
        if n < 0 {
            if done > 0 {
                break;
            }
            return Err(sys::errno());
        }
        if n == 0 {
            break;
        }
        let n = n as usize;
        let sent = match ops::send(out, &[&buf[..n]], 0) {
            Ok(s) => s,
            Err(e) if done == 0 => return Err(e),
            Err(_) => 0,
        };
        done += sent;
        if let Some(p) = pos.as_mut() {
            *p += sent as i64;
        } else if sent < n {
            // Give back what was read but not sent (the file position
            // must end where the data sent ends).
            // SAFETY: lseek on the caller's fd.
            unsafe { libc::syscall(libc::SYS_lseek, input, -((n - sent) as i64), libc::SEEK_CUR) };
        }
        if sent < n {
            break;
        }
    }
    if let (Some(o), Some(p)) = (offset, pos) {
        *o = p;
    }
    Ok(done)
}

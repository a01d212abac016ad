//! Data hooks: read/write and the send/recv family, with their fortified
//! variants (`__read_chk` and friends jump straight into libc's internals,
//! bypassing a `read` hook, so they are hooked too).

use super::{addr, hook, ret_size};
use crate::fd::is_ours;
use crate::runtime::ops;
use core::ffi::{c_int, c_void};
use libc::{iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};

/// # Safety
/// `buf` must be valid for `len` bytes (or `len` is 0).
unsafe fn slice<'a>(buf: *const c_void, len: size_t) -> &'a [u8] {
    if len == 0 || buf.is_null() {
        &[]
    } else {
        // SAFETY: per the contract.
        unsafe { core::slice::from_raw_parts(buf as *const u8, len) }
    }
}

/// # Safety
/// `buf` must be valid for writes of `len` bytes (or `len` is 0).
unsafe fn slice_mut<'a>(buf: *mut c_void, len: size_t) -> &'a mut [u8] {
    if len == 0 || buf.is_null() {
        &mut []
    } else {
        // SAFETY: per the contract.
        unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, len) }
    }
}

/// # Safety
/// `iov` must point to `cnt` valid iovecs.
unsafe fn iovecs<'a>(iov: *const iovec, cnt: usize) -> Result<Vec<&'a [u8]>, c_int> {
    if cnt > libc::UIO_MAXIOV as usize {
        return Err(libc::EINVAL);
    }
    if cnt > 0 && iov.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: per the contract; each iovec describes caller memory.
    Ok((0..cnt).map(|i| unsafe { slice((*iov.add(i)).iov_base, (*iov.add(i)).iov_len) }).collect())
}

/// # Safety
/// `iov` must point to `cnt` valid iovecs of writable memory.
unsafe fn iovecs_mut<'a>(iov: *const iovec, cnt: usize) -> Result<Vec<&'a mut [u8]>, c_int> {
    if cnt > libc::UIO_MAXIOV as usize {
        return Err(libc::EINVAL);
    }
    if cnt > 0 && iov.is_null() {
        return Err(libc::EFAULT);
    }
    // SAFETY: per the contract.
    Ok((0..cnt).map(|i| unsafe { slice_mut((*iov.add(i)).iov_base, (*iov.add(i)).iov_len) }).collect())
}

/// recvfrom on TCP leaves the address unset: report length 0.
///
/// # Safety
/// `len` must be null or valid.
unsafe fn no_source(len: *mut socklen_t) {
    if !len.is_null() {
        // SAFETY: per the contract.
        unsafe { *len = 0 };
    }
}

hook! {
    fn read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, buf, n);
        }
        // SAFETY: the caller's buffer of n bytes.
        ret_size(ops::recv(fd, &mut [unsafe { slice_mut(buf, n) }], 0))
    }

    fn __read_chk(fd: c_int, buf: *mut c_void, n: size_t, buflen: size_t) -> ssize_t; |real| {
        if !is_ours(fd) || n > buflen {
            // The real one aborts on n > buflen, as fortification requires.
            return real()(fd, buf, n, buflen);
        }
        // SAFETY: the caller's buffer of n <= buflen bytes.
        ret_size(ops::recv(fd, &mut [unsafe { slice_mut(buf, n) }], 0))
    }

    fn write(fd: c_int, buf: *const c_void, n: size_t) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, buf, n);
        }
        // SAFETY: the caller's buffer of n bytes.
        ret_size(ops::send(fd, &[unsafe { slice(buf, n) }], 0))
    }

    fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, iov, cnt);
        }
        // SAFETY: the caller's iovec array.
        ret_size(unsafe { iovecs_mut(iov, cnt.max(0) as usize) }.and_then(|mut v| ops::recv(fd, &mut v, 0)))
    }

    fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, iov, cnt);
        }
        // SAFETY: the caller's iovec array.
        ret_size(unsafe { iovecs(iov, cnt.max(0) as usize) }.and_then(|v| ops::send(fd, &v, 0)))
    }

    fn recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, buf, n, flags);
        }
        // SAFETY: the caller's buffer of n bytes.
        ret_size(ops::recv(fd, &mut [unsafe { slice_mut(buf, n) }], flags))
    }

    fn __recv_chk(fd: c_int, buf: *mut c_void, n: size_t, buflen: size_t, flags: c_int) -> ssize_t; |real| {
        if !is_ours(fd) || n > buflen {
            return real()(fd, buf, n, buflen, flags);
        }
        // SAFETY: the caller's buffer of n <= buflen bytes.
        ret_size(ops::recv(fd, &mut [unsafe { slice_mut(buf, n) }], flags))
    }

    fn recvfrom(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, a: *mut sockaddr, len: *mut socklen_t) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, buf, n, flags, a, len);
        }
        // SAFETY: the caller's buffer of n bytes and address length.
        let r = ops::recv(fd, &mut [unsafe { slice_mut(buf, n) }], flags);
        if r.is_ok() && !a.is_null() {
            // SAFETY: the caller's address length.
            unsafe { no_source(len) };
        }
        ret_size(r)
    }

    fn __recvfrom_chk(fd: c_int, buf: *mut c_void, n: size_t, buflen: size_t, flags: c_int, a: *mut sockaddr, len: *mut socklen_t) -> ssize_t; |real| {
        if !is_ours(fd) || n > buflen {
            return real()(fd, buf, n, buflen, flags, a, len);
        }
        // SAFETY: the caller's buffer of n <= buflen bytes.
        let r = ops::recv(fd, &mut [unsafe { slice_mut(buf, n) }], flags);
        if r.is_ok() && !a.is_null() {
            // SAFETY: the caller's address length.
            unsafe { no_source(len) };
        }
        ret_size(r)
    }

    fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, msg, flags);
        }
        if msg.is_null() {
            return ret_size(Err(libc::EFAULT));
        }
        // SAFETY: the caller's msghdr and the iovecs it describes.
        let r = unsafe { iovecs_mut((*msg).msg_iov, (*msg).msg_iovlen) }.and_then(|mut v| ops::recv(fd, &mut v, flags));
        if r.is_ok() {
            // SAFETY: the caller's msghdr: no address, no control data, no flags.
            unsafe {
                (*msg).msg_namelen = 0;
                (*msg).msg_controllen = 0;
                (*msg).msg_flags = 0;
            }
        }
        ret_size(r)
    }

    fn send(fd: c_int, buf: *const c_void, n: size_t, flags: c_int) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, buf, n, flags);
        }
        // SAFETY: the caller's buffer of n bytes.
        ret_size(ops::send(fd, &[unsafe { slice(buf, n) }], flags))
    }

    fn sendto(fd: c_int, buf: *const c_void, n: size_t, flags: c_int, a: *const sockaddr, len: socklen_t) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, buf, n, flags, a, len);
        }
        // Linux ignores the address on a connected TCP socket.
        let _ = (a, len, addr::read);
        // SAFETY: the caller's buffer of n bytes.
        ret_size(ops::send(fd, &[unsafe { slice(buf, n) }], flags))
    }

    fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t; |real| {
        if !is_ours(fd) {
            return real()(fd, msg, flags);
        }
        if msg.is_null() {
            return ret_size(Err(libc::EFAULT));
        }
        // SAFETY: the caller's msghdr and the iovecs it describes.
        ret_size(unsafe { iovecs((*msg).msg_iov, (*msg).msg_iovlen) }.and_then(|v| ops::send(fd, &v, flags)))
    }
}

//! sockaddr_in6 in and out of C memory for AF_INET6 dual-stack sockets
//! (runtime/inet6.rs has the semantics).

use super::addr;
use crate::runtime::inet6::{adopt, as_v4, is_v6};
use core::ffi::c_int;
use core::net::{Ipv6Addr, SocketAddrV4};

/// Linux's shortest accepted sockaddr_in6 (SIN6_LEN_RFC2133: no scope id).
const SIN6_LEN_RFC2133: usize = 24;

/// An AF_INET6 address of at least SIN6_LEN_RFC2133 bytes, else None.
///
/// # Safety
/// `a` must be null or point to at least `len` readable bytes.
unsafe fn peek6(a: *const libc::sockaddr, len: libc::socklen_t) -> Option<(Ipv6Addr, u16)> {
    if a.is_null() || (len as usize) < SIN6_LEN_RFC2133 {
        return None;
    }
    // SAFETY: len covers the family field.
    if unsafe { (*a).sa_family } as c_int != libc::AF_INET6 {
        return None;
    }
    // SAFETY: len covers family, port, flowinfo and address (24 bytes);
    // the scope id after them is not read.
    let b = unsafe { core::slice::from_raw_parts(a as *const u8, SIN6_LEN_RFC2133) };
    let port = u16::from_be_bytes([b[2], b[3]]);
    let ip: [u8; 16] = b[8..24].try_into().ok()?;
    Some((Ipv6Addr::from(ip), port))
}

/// bind/connect on a kernel fd: Ok(true) if it just became a utcp socket
/// (an AF_INET6 socket given an IPv4 address utcp serves), Ok(false) to
/// forward the call. Cheap unless the address is AF_INET6.
///
/// # Safety
/// `a` must be null or point to at least `len` readable bytes.
pub unsafe fn adopt_kernel(fd: c_int, a: *const libc::sockaddr, len: libc::socklen_t, binding: bool) -> Result<bool, c_int> {
    // SAFETY: per the contract.
    let Some((ip, port)) = (unsafe { peek6(a, len) }) else { return Ok(false) };
    match as_v4(ip, binding) {
        Some(v4) => adopt(fd, SocketAddrV4::new(v4, port), binding),
        None => Ok(false),
    }
}

/// The address given to bind/connect on a utcp socket. An AF_INET socket
/// reads a sockaddr_in as before; an AF_INET6 one a sockaddr_in6, with
/// Ok(None) for an IPv6 address only the kernel can serve.
///
/// # Safety
/// `a` must be null or point to at least `len` readable bytes.
pub unsafe fn read(fd: c_int, a: *const libc::sockaddr, len: libc::socklen_t, binding: bool) -> Result<Option<SocketAddrV4>, c_int> {
    if !is_v6(fd) {
        // SAFETY: per the contract.
        return unsafe { addr::read(a, len) }.map(Some);
    }
    if a.is_null() {
        return Err(libc::EFAULT);
    }
    // Linux (inet6_bind, tcp_v6_connect): the length first, then the family.
    if (len as usize) < SIN6_LEN_RFC2133 {
        return Err(libc::EINVAL);
    }
    // SAFETY: per the contract, with len checked above.
    let Some((ip, port)) = (unsafe { peek6(a, len) }) else { return Err(libc::EAFNOSUPPORT) };
    Ok(as_v4(ip, binding).map(|v4| SocketAddrV4::new(v4, port)))
}

/// Write `sa` as the socket's family has it: a sockaddr_in, or for an
/// AF_INET6 socket a sockaddr_in6 holding `::ffff:a.b.c.d` (`::` for
/// 0.0.0.0), truncated to `*len` as the kernel does.
///
/// # Safety
/// `a`/`len` must be null or valid for the lengths they describe.
pub unsafe fn write(fd: c_int, a: *mut libc::sockaddr, len: *mut libc::socklen_t, sa: SocketAddrV4) -> Result<(), c_int> {
    if !is_v6(fd) {
        // SAFETY: per the contract.
        return unsafe { addr::write(a, len, sa) };
    }
    if a.is_null() {
        return Ok(());
    }
    if len.is_null() {
        return Err(libc::EFAULT);
    }
    let ip = if sa.ip().is_unspecified() { Ipv6Addr::UNSPECIFIED } else { sa.ip().to_ipv6_mapped() };
    // SAFETY: all-zero is a valid sockaddr_in6.
    let mut sin6: libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
    sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sin6.sin6_port = sa.port().to_be();
    sin6.sin6_addr.s6_addr = ip.octets();
    let full = core::mem::size_of::<libc::sockaddr_in6>();
    // SAFETY: len is non-null and points to the caller's buffer size.
    let room = unsafe { *len } as usize;
    let n = room.min(full);
    // SAFETY: the caller's buffer holds `room` >= n bytes; sin6 is `full` >= n bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(&sin6 as *const _ as *const u8, a as *mut u8, n);
        *len = full as libc::socklen_t;
    }
    Ok(())
}

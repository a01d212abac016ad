//! sockaddr in and out of C memory.

use core::ffi::c_int;
use core::net::{Ipv4Addr, SocketAddrV4};

/// Read an AF_INET address. EAFNOSUPPORT for other families (AF_INET6
/// support arrives with dual-stack), EINVAL for a short length.
///
/// # Safety
/// `addr` must be null or point to at least `len` readable bytes.
pub unsafe fn read(addr: *const libc::sockaddr, len: libc::socklen_t) -> Result<SocketAddrV4, c_int> {
    if addr.is_null() {
        return Err(libc::EFAULT);
    }
    if (len as usize) < core::mem::size_of::<libc::sa_family_t>() {
        return Err(libc::EINVAL);
    }
    // SAFETY: at least the family field is readable (checked above).
    let family = unsafe { (*addr).sa_family } as c_int;
    if family != libc::AF_INET {
        return Err(libc::EAFNOSUPPORT);
    }
    if (len as usize) < core::mem::size_of::<libc::sockaddr_in>() {
        return Err(libc::EINVAL);
    }
    // SAFETY: len covers a sockaddr_in; read_unaligned tolerates any alignment.
    let sin = unsafe { core::ptr::read_unaligned(addr as *const libc::sockaddr_in) };
    Ok(SocketAddrV4::new(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)), u16::from_be(sin.sin_port)))
}

/// Write `a` as a sockaddr_in, truncated to `*len` as the kernel does,
/// and set `*len` to the full size. Null `addr` writes nothing.
///
/// # Safety
/// `addr`/`len` must be null or valid for the lengths they describe.
pub unsafe fn write(addr: *mut libc::sockaddr, len: *mut libc::socklen_t, a: SocketAddrV4) -> Result<(), c_int> {
    if addr.is_null() {
        return Ok(());
    }
    if len.is_null() {
        return Err(libc::EFAULT);
    }
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr { s_addr: u32::from(*a.ip()).to_be() },
        sin_zero: [0; 8],
    };
    let full = core::mem::size_of::<libc::sockaddr_in>();
    // SAFETY: len is non-null and points to the caller's buffer size.
    let room = unsafe { *len } as usize;
    let n = room.min(full);
    // SAFETY: the caller's buffer holds `room` >= n bytes; sin is `full` >= n bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(&sin as *const _ as *const u8, addr as *mut u8, n);
        *len = full as libc::socklen_t;
    }
    Ok(())
}

//! AF_INET6 dual-stack.
//!
//! socket(AF_INET6, SOCK_STREAM) stays a kernel socket, so `::1` and real
//! IPv6 destinations work untouched (curl tries `::1` first for
//! `localhost`). It becomes a utcp socket, in place, when it turns out to
//! be about IPv4 that utcp serves:
//! - bind() to `::`, `::ffff:0.0.0.0` or `::ffff:<utcp address>` with
//!   IPV6_V6ONLY off (Linux's default), as iperf3 -s does;
//! - connect() to a v4-mapped address `::ffff:a.b.c.d` that is not a
//!   pass-through destination.
//!
//! The conversion is the reverse of `ops::convert_to_kernel`: a new
//! placeholder is dup3'ed onto the same number, keeping O_NONBLOCK and
//! FD_CLOEXEC, and the options the program set on the kernel socket are
//! read back and applied to the utcp one. The socket remembers that it is
//! AF_INET6 (`SockOpts::v6`): addresses go out as v4-mapped sockaddr_in6,
//! SO_DOMAIN says AF_INET6, and accepted children are AF_INET6 too.

use super::ops::{self, Res};
use super::Runtime;
use crate::fd::MAX_FDS;
use crate::sys;
use core::ffi::c_int;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};

/// The IPv4 meaning of an IPv6 address: `::` is 0.0.0.0 when binding,
/// `::ffff:a.b.c.d` is a.b.c.d. None: an IPv6 address proper (and `::`
/// as a destination, which Linux takes as `::1`).
pub fn as_v4(ip: Ipv6Addr, binding: bool) -> Option<Ipv4Addr> {
    if ip.is_unspecified() {
        return binding.then_some(Ipv4Addr::UNSPECIFIED);
    }
    ip.to_ipv4_mapped()
}

/// Is `fd` a utcp socket of family AF_INET6?
pub fn is_v6(fd: c_int) -> bool {
    let Some(rt) = super::running() else { return false };
    let mut st = rt.lock();
    match st.fds.get(fd) {
        Some(id) => st.fds.opts(id).v6,
        None => false,
    }
}

/// getsockopt(2) on a kernel fd, for an int option.
fn kopt(fd: c_int, level: c_int, name: c_int) -> Option<c_int> {
    let mut v: c_int = 0;
    let mut len: libc::socklen_t = 4;
    // SAFETY: v and len are valid for the call.
    let r = unsafe { libc::syscall(libc::SYS_getsockopt, fd, level, name, &mut v as *mut c_int, &mut len as *mut libc::socklen_t) };
    (r == 0).then_some(v)
}

/// getsockopt(2) on a kernel fd, raw bytes (at most 16).
fn kopt_bytes(fd: c_int, level: c_int, name: c_int, size: usize) -> Option<Vec<u8>> {
    let mut v = [0u8; 16];
    let mut len = size.min(16) as libc::socklen_t;
    // SAFETY: v holds 16 >= len bytes.
    let r = unsafe { libc::syscall(libc::SYS_getsockopt, fd, level, name, v.as_mut_ptr(), &mut len as *mut libc::socklen_t) };
    (r == 0).then(|| v[..(len as usize).min(16)].to_vec())
}

/// A kernel AF_INET6 TCP socket, not yet bound or connected, that also
/// takes IPv4 (IPV6_V6ONLY off).
fn unbound_dual_stack_tcp(fd: c_int) -> bool {
    if kopt(fd, libc::SOL_SOCKET, libc::SO_DOMAIN) != Some(libc::AF_INET6)
        || kopt(fd, libc::SOL_SOCKET, libc::SO_TYPE) != Some(libc::SOCK_STREAM)
        || kopt(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) != Some(libc::IPPROTO_TCP)
        || kopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) != Some(0)
    {
        return false;
    }
    // SAFETY: all-zero is a valid sockaddr_in6.
    let mut sa: libc::sockaddr_in6 = unsafe { core::mem::zeroed() };
    let mut len = core::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    // SAFETY: sa and len are valid for the call.
    let r = unsafe { libc::syscall(libc::SYS_getsockname, fd, &mut sa as *mut _, &mut len as *mut libc::socklen_t) };
    r == 0 && sa.sin6_port == 0
}

/// A kernel fd was given an AF_INET6 address whose IPv4 meaning is `v4`
/// (`::` reads as 0.0.0.0): make it a utcp socket if utcp serves that.
/// Ok(true) when converted (the caller goes on as for a utcp socket),
/// Ok(false) to leave it to the kernel.
pub fn adopt(fd: c_int, v4: SocketAddrV4, binding: bool) -> Res<bool> {
    let _g = sys::ErrnoGuard::new();
    if fd < 0 || fd as usize >= MAX_FDS || !unbound_dual_stack_tcp(fd) {
        return Ok(false);
    }
    // The stack starts here, as on the first AF_INET stream socket; a
    // stack that cannot start fails the call as socket() would.
    let rt = super::get().map_err(|_| libc::EACCES)?;
    let ip = *v4.ip();
    if rt.cfg.is_passthrough(ip) {
        return Ok(false);
    }
    let ours = if binding { ip.is_unspecified() || ip == rt.lock().stack.addr() } else { !ip.is_unspecified() };
    if !ours {
        return Ok(false);
    }
    convert_to_utcp(rt, fd)?;
    Ok(true)
}

/// Options a program may have set on the kernel socket before bind or
/// connect, as (level, name, value size).
const CARRIED: &[(c_int, c_int, usize)] = &[
    (libc::SOL_SOCKET, libc::SO_REUSEADDR, 4),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT, 4),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 4),
    (libc::SOL_SOCKET, libc::SO_LINGER, 8),
    (libc::SOL_SOCKET, libc::SO_RCVTIMEO, 16),
    (libc::SOL_SOCKET, libc::SO_SNDTIMEO, 16),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY, 4),
    (libc::IPPROTO_TCP, libc::TCP_CORK, 4),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 4),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 4),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 4),
    (libc::IPPROTO_TCP, libc::TCP_MAXSEG, 4),
];

/// The middle value of a tcp_rmem/tcp_wmem sysctl: a new socket's buffer.
fn sysctl_default(path: &core::ffi::CStr) -> Option<c_int> {
    let text = sys::read_file(path)?;
    String::from_utf8_lossy(&text).split_whitespace().nth(1)?.parse().ok()
}

/// The options of kernel socket `fd` that differ from a new socket's, as
/// setsockopt arguments.
fn carried_options(fd: c_int) -> Vec<(c_int, c_int, Vec<u8>)> {
    let mut out = Vec::new();
    for &(level, name, size) in CARRIED {
        let Some(v) = kopt_bytes(fd, level, name, size) else { continue };
        let int = v.get(..4).and_then(|b| b.try_into().ok()).map_or(0, c_int::from_ne_bytes);
        let default = match name {
            libc::TCP_KEEPIDLE => int == 7200,
            libc::TCP_KEEPINTVL => int == 75,
            libc::TCP_KEEPCNT => int == 9,
            libc::TCP_MAXSEG => int == 536 || int == 0,
            _ => v.iter().all(|b| *b == 0),
        };
        if !default {
            out.push((level, name, v));
        }
    }
    // Buffer sizes: only ones the program set (the kernel reports twice
    // what was set; a new socket has the sysctl's default).
    for (name, sysctl) in [(libc::SO_SNDBUF, c"/proc/sys/net/ipv4/tcp_wmem"), (libc::SO_RCVBUF, c"/proc/sys/net/ipv4/tcp_rmem")] {
        if let (Some(v), Some(d)) = (kopt(fd, libc::SOL_SOCKET, name), sysctl_default(sysctl)) {
            if v != d {
                out.push((libc::SOL_SOCKET, name, (v / 2).to_ne_bytes().to_vec()));
            }
        }
    }
    out
}

/// Replace kernel socket `fd` with a new utcp AF_INET6 socket at the same
/// number, keeping O_NONBLOCK, FD_CLOEXEC and the options set so far.
fn convert_to_utcp(rt: &Runtime, fd: c_int) -> Res<()> {
    let nonblock = ops::is_nonblocking(fd);
    // SAFETY: F_GETFD takes no argument.
    let cloexec = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFD) } & libc::FD_CLOEXEC as i64 != 0;
    let carried = carried_options(fd);
    {
        let mut st = rt.lock();
        let p = ops::placeholder(nonblock, cloexec)?;
        // SAFETY: dup3 of our placeholder onto the caller's socket, which
        // the kernel closes atomically; p is closed right after.
        let r = unsafe { libc::syscall(libc::SYS_dup3, p, fd, if cloexec { libc::O_CLOEXEC } else { 0 }) };
        let _ = sys::close(p);
        if r < 0 {
            return Err(sys::errno());
        }
        let id = st.stack.socket();
        st.fds.new_socket(fd, id);
        st.fds.opts(id).v6 = true;
    }
    for (level, name, v) in carried {
        let _ = ops::setsockopt(fd, level, name, &v);
    }
    Ok(())
}

/// getsockopt(2) answers that differ for a utcp AF_INET6 socket; None
/// for the common path (`ops::getsockopt`).
pub fn getsockopt(fd: c_int, level: c_int, name: c_int, out: &mut [u8]) -> Option<Res<usize>> {
    let v = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => libc::AF_INET6,
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => 0,
        (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => 0,
        (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) => 64,
        _ => return None,
    };
    if !is_v6(fd) {
        return None;
    }
    let b = v.to_ne_bytes();
    let n = out.len().min(4);
    out[..n].copy_from_slice(&b[..n]);
    Some(Ok(n))
}

/// setsockopt(2) at level IPPROTO_IPV6 on a utcp AF_INET6 socket; None
/// for the common path.
pub fn setsockopt(fd: c_int, level: c_int, name: c_int, val: &[u8]) -> Option<Res<()>> {
    if level != libc::IPPROTO_IPV6 || !is_v6(fd) {
        return None;
    }
    Some(match name {
        libc::IPV6_V6ONLY => {
            let Some(b) = val.get(..4) else { return Some(Err(libc::EINVAL)) };
            let on = b.iter().any(|x| *x != 0);
            // Linux: EINVAL once the socket has a local port.
            match ops::local_addr(fd) {
                Ok(a) if a.port() != 0 => Err(libc::EINVAL),
                Ok(_) if !on => Ok(()),
                // Unbound (a bind that failed) and now IPv6-only: only the
                // kernel can serve it.
                Ok(_) => ops::convert_to_kernel(fd).and_then(|_| {
                    // SAFETY: val is valid for its length; fd is a kernel socket now.
                    let r = unsafe { libc::syscall(libc::SYS_setsockopt, fd, level, name, val.as_ptr(), val.len() as libc::socklen_t) };
                    if r < 0 {
                        Err(sys::errno())
                    } else {
                        Ok(())
                    }
                }),
                Err(e) => Err(e),
            }
        }
        // Traffic class and hop limit change nothing utcp does (as IP_TOS).
        libc::IPV6_TCLASS | libc::IPV6_UNICAST_HOPS => Ok(()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_meaning_of_ipv6_addresses() {
        let mapped: Ipv6Addr = "::ffff:198.18.0.1".parse().unwrap();
        assert_eq!(as_v4(mapped, false), Some(Ipv4Addr::new(198, 18, 0, 1)));
        assert_eq!(as_v4(mapped, true), Some(Ipv4Addr::new(198, 18, 0, 1)));
        assert_eq!(as_v4(Ipv6Addr::UNSPECIFIED, true), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(as_v4(Ipv6Addr::UNSPECIFIED, false), None);
        assert_eq!(as_v4(Ipv6Addr::LOCALHOST, true), None);
        assert_eq!(as_v4("2001:db8::1".parse().unwrap(), false), None);
        // IPv4-compatible (deprecated) addresses are not v4-mapped.
        assert_eq!(as_v4("::198.18.0.1".parse().unwrap(), false), None);
    }
}

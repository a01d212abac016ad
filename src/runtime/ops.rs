//! What each socket call does on a utcp socket: the blocking rules, the
//! errno mapping, SIGPIPE. Safe code over slices; the hooks in
//! `preload/` turn C pointers into these arguments.

use super::{Guard, Runtime, State};
use crate::fd::{is_ours, SockOpts};
use crate::sys;
use core::ffi::c_int;
use core::net::SocketAddrV4;
use core::time::Duration;
use utcp_core::socket::Errno;
use utcp_core::stack::{Shutdown, SocketId};
use utcp_core::tcp::{Keepalive, State as TcpState};
use utcp_core::Instant;

pub type Res<T> = Result<T, c_int>;

pub(super) fn rt() -> Res<&'static Runtime> {
    running_or(libc::EBADF)
}

fn running_or(e: c_int) -> Res<&'static Runtime> {
    super::running().ok_or(e)
}

/// O_NONBLOCK lives on the placeholder fd: fcntl(F_SETFL), FIONBIO and
/// SOCK_NONBLOCK all set it there, so F_GETFL reports it for free.
pub fn is_nonblocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL takes no argument.
    let fl = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL) };
    fl >= 0 && (fl as c_int & libc::O_NONBLOCK) != 0
}

pub(super) fn id_of(st: &State, fd: c_int) -> Res<SocketId> {
    st.fds.get(fd).ok_or(libc::EBADF)
}

/// Run `op` until it stops saying EAGAIN (or forever-blocking ends by a
/// signal or a timeout). Flushes output after every attempt.
fn blocking<T>(
    rt: &Runtime,
    fd: c_int,
    nonblock: bool,
    timeout: Option<Duration>,
    mut op: impl FnMut(&mut State, SocketId, Instant) -> Result<T, Errno>,
) -> Res<T> {
    let mut st = rt.lock();
    let deadline = timeout.map(|t| rt.now() + t);
    loop {
        let id = id_of(&st, fd)?;
        let now = rt.now();
        let r = op(&mut st, id, now);
        rt.flush(&mut st);
        match r {
            Err(Errno::EAGAIN) if !nonblock => {
                let remaining = match deadline {
                    Some(d) if d <= rt.now() => return Err(libc::EAGAIN),
                    Some(d) => Some(d - rt.now()),
                    None => None,
                };
                let (g, w) = rt.wait(st, remaining);
                st = g;
                w?;
            }
            Err(e) => return Err(e.code()),
            Ok(v) => return Ok(v),
        }
    }
}

/// A new utcp socket: an eventfd placeholder carrying the fd number and
/// the O_NONBLOCK/FD_CLOEXEC flags.
pub fn socket(nonblock: bool, cloexec: bool) -> Res<c_int> {
    // The stack starts lazily, on the first AF_INET stream socket.
    let rt = super::get().map_err(|_| libc::EACCES)?;
    let mut st = rt.lock();
    let fd = placeholder(nonblock, cloexec)?;
    let id = st.stack.socket();
    st.fds.new_socket(fd, id);
    Ok(fd)
}

pub(super) fn placeholder(nonblock: bool, cloexec: bool) -> Res<c_int> {
    let mut flags = 0;
    if nonblock {
        flags |= libc::EFD_NONBLOCK;
    }
    if cloexec {
        flags |= libc::EFD_CLOEXEC;
    }
    let fd = sys::eventfd(flags)?;
    if fd as usize >= crate::fd::MAX_FDS {
        let _ = sys::close(fd);
        return Err(libc::EMFILE);
    }
    Ok(fd)
}

/// Whether `addr` belongs to the kernel rather than utcp (loopback by
/// default): such a socket is turned into a kernel socket in place.
pub fn wants_kernel(addr: SocketAddrV4) -> bool {
    running_or(0).is_ok_and(|rt| rt.cfg.is_passthrough(*addr.ip()))
}

/// Replace the placeholder at `fd` with a real kernel TCP socket, keeping
/// the number, O_NONBLOCK, FD_CLOEXEC and the options that matter.
/// Only for a socket that has not been bound or connected through utcp.
pub fn convert_to_kernel(fd: c_int) -> Res<()> {
    let rt = rt()?;
    let mut st = rt.lock();
    let id = id_of(&st, fd)?;
    if st.stack.state(id) != Some(TcpState::Closed) || st.stack.local_addr(id).is_ok_and(|a| a.port() != 0) {
        return Err(libc::EINVAL);
    }
    let mut ty = libc::SOCK_STREAM;
    if is_nonblocking(fd) {
        ty |= libc::SOCK_NONBLOCK;
    }
    let opts = *st.fds.opts(id);
    let k = sys::kernel_socket(if opts.v6 { libc::AF_INET6 } else { libc::AF_INET }, ty, 0)?;
    // SAFETY: F_GETFD takes no argument.
    let cloexec = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFD) } & libc::FD_CLOEXEC as i64 != 0;
    let setopt = |level: c_int, name: c_int, v: c_int| {
        // SAFETY: an int option value, valid for the call.
        unsafe { libc::syscall(libc::SYS_setsockopt, k, level, name, &v as *const c_int, 4) };
    };
    if opts.keepalive {
        setopt(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    }
    if st.stack.tcb(id).is_none() {
        let reuse = st.stack.reuse_flags(id);
        if reuse.0 {
            setopt(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1);
        }
        if reuse.1 {
            setopt(libc::SOL_SOCKET, libc::SO_REUSEPORT, 1);
        }
    }
    // SAFETY: dup3 onto an fd we own; k is closed right after.
    let r = unsafe { libc::syscall(libc::SYS_dup3, k, fd, if cloexec { libc::O_CLOEXEC } else { 0 }) };
    let _ = sys::close(k);
    if r < 0 {
        return Err(sys::errno());
    }
    if let Some((id, last)) = st.fds.remove(fd) {
        if last {
            let now = rt.now();
            let _ = st.stack.close(now, id, false);
        }
    }
    Ok(())
}

pub fn bind(fd: c_int, addr: SocketAddrV4) -> Res<()> {
    let rt = rt()?;
    let mut st = rt.lock();
    let id = id_of(&st, fd)?;
    st.stack.bind(id, addr).map_err(Errno::code)
}

pub fn listen(fd: c_int, backlog: c_int) -> Res<()> {
    let rt = rt()?;
    let mut st = rt.lock();
    let id = id_of(&st, fd)?;
    st.stack.listen(id, backlog).map_err(Errno::code)
}

/// connect(2): EINPROGRESS for a nonblocking socket; a blocking one waits
/// for the handshake and returns its result.
pub fn connect(fd: c_int, addr: SocketAddrV4) -> Res<()> {
    let rt = rt()?;
    let nonblock = is_nonblocking(fd);
    let mut first = true;
    let timeout = {
        let mut st = rt.lock();
        let id = id_of(&st, fd)?;
        st.fds.opts(id).sndtimeo
    };
    let r = blocking(rt, fd, nonblock, timeout, |st, id, now| {
        let r = st.stack.connect(now, id, addr);
        match r {
            // Blocking: the first call starts the handshake, later calls
            // see EALREADY until it ends; both mean "wait".
            Err(Errno::EINPROGRESS) if first && !nonblock => {
                first = false;
                Err(Errno::EAGAIN)
            }
            Err(Errno::EALREADY) if !first && !nonblock => Err(Errno::EAGAIN),
            other => other,
        }
    });
    // Linux: a blocking connect cut short by a timeout reports EINPROGRESS.
    if r == Err(libc::EAGAIN) && !nonblock {
        return Err(libc::EINPROGRESS);
    }
    r
}

/// accept4(2): a new placeholder fd for the next connection.
pub fn accept(fd: c_int, nonblock_new: bool, cloexec_new: bool) -> Res<(c_int, SocketAddrV4)> {
    let rt = rt()?;
    let nonblock = is_nonblocking(fd);
    let timeout = {
        let mut st = rt.lock();
        let id = id_of(&st, fd)?;
        st.fds.opts(id).rcvtimeo
    };
    let (child, peer) = blocking(rt, fd, nonblock, timeout, |st, id, _| st.stack.accept(id))?;
    let mut st = rt.lock();
    let newfd = match placeholder(nonblock_new, cloexec_new) {
        Ok(f) => f,
        Err(e) => {
            let now = rt.now();
            let _ = st.stack.close(now, child, true);
            rt.flush(&mut st);
            return Err(e);
        }
    };
    st.fds.new_socket(newfd, child);
    // Children of an AF_INET6 listener are AF_INET6 too.
    if let Some(l) = st.fds.get(fd) {
        st.fds.opts(child).v6 = st.fds.opts(l).v6;
    }
    Ok((newfd, peer))
}

fn raise_sigpipe() {
    // SAFETY: raise() signals the calling thread, as the kernel's EPIPE does.
    unsafe { libc::raise(libc::SIGPIPE) };
}

/// send/write/writev/sendmsg: `bufs` are the iovecs.
pub fn send(fd: c_int, bufs: &[&[u8]], flags: c_int) -> Res<usize> {
    let rt = rt()?;
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let nonblock = flags & libc::MSG_DONTWAIT != 0 || is_nonblocking(fd);
    let timeout = {
        let mut st = rt.lock();
        let id = id_of(&st, fd)?;
        st.fds.opts(id).sndtimeo
    };
    let mut done = 0usize;
    let r = blocking(rt, fd, nonblock, timeout, |st, id, _| {
        // Queue as much as fits, iovec by iovec.
        let mut skip = done;
        for b in bufs {
            if skip >= b.len() {
                skip -= b.len();
                continue;
            }
            match st.stack.send(id, &b[skip..]) {
                Ok(n) => {
                    done += n;
                    if n < b.len() - skip {
                        break;
                    }
                    skip = 0;
                }
                Err(e) if done > 0 && e == Errno::EAGAIN => break,
                Err(e) => return Err(e),
            }
        }
        // Blocking sends wait until everything is queued (Linux).
        if done < total && !nonblock {
            return Err(Errno::EAGAIN);
        }
        Ok(done)
    });
    match r {
        Ok(n) => Ok(n),
        Err(_) if done > 0 => Ok(done),
        Err(libc::EPIPE) => {
            if flags & libc::MSG_NOSIGNAL == 0 {
                raise_sigpipe();
            }
            Err(libc::EPIPE)
        }
        Err(e) => Err(e),
    }
}

/// recv/read/readv/recvmsg: `bufs` are the iovecs.
pub fn recv(fd: c_int, bufs: &mut [&mut [u8]], flags: c_int) -> Res<usize> {
    let rt = rt()?;
    let total: usize = bufs.iter().map(|b| b.len()).sum();
    let nonblock = flags & libc::MSG_DONTWAIT != 0 || is_nonblocking(fd);
    let peek = flags & libc::MSG_PEEK != 0;
    let waitall = flags & libc::MSG_WAITALL != 0 && !peek;
    let timeout = {
        let mut st = rt.lock();
        let id = id_of(&st, fd)?;
        st.fds.opts(id).rcvtimeo
    };
    let mut done = 0usize;
    let r = blocking(rt, fd, nonblock, timeout, |st, id, now| {
        let mut off = done;
        for b in bufs.iter_mut() {
            if off >= b.len() {
                off -= b.len();
                continue;
            }
            match st.stack.recv(now, id, &mut b[off..], peek) {
                // End of stream.
                Ok(0) => return Ok(done),
                Ok(n) => {
                    done += n;
                    if peek || n < b.len() - off {
                        break;
                    }
                    off = 0;
                }
                // Data already copied is returned; MSG_WAITALL on a blocking
                // socket waits for the rest.
                Err(Errno::EAGAIN) if done > 0 && waitall && !nonblock => return Err(Errno::EAGAIN),
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            }
        }
        if waitall && done < total && !nonblock {
            return Err(Errno::EAGAIN);
        }
        Ok(done)
    });
    match r {
        Err(_) if done > 0 => Ok(done),
        r => r,
    }
}

pub fn shutdown(fd: c_int, how: c_int) -> Res<()> {
    let rt = rt()?;
    let how = match how {
        libc::SHUT_RD => Shutdown::Read,
        libc::SHUT_WR => Shutdown::Write,
        libc::SHUT_RDWR => Shutdown::Both,
        _ => return Err(libc::EINVAL),
    };
    let mut st = rt.lock();
    let id = id_of(&st, fd)?;
    let now = rt.now();
    let r = st.stack.shutdown(now, id, how).map_err(Errno::code);
    rt.flush(&mut st);
    r
}

/// close(2) of a utcp fd: the last close closes the socket (FIN, or RST
/// under SO_LINGER 0 or with unread data); the placeholder goes too. With
/// SO_LINGER on and a timeout, close blocks until the FIN is acknowledged
/// or the time is up (Linux: sk_stream_wait_close, even when nonblocking).
pub fn close(fd: c_int) -> Res<()> {
    let rt = rt()?;
    let st = rt.lock();
    let st = release(rt, st, fd)?;
    drop(st);
    sys::close(fd).map(|_| ())
}

/// Forget `fd` as a reference to its socket, closing the socket when it
/// was the last (the placeholder fd itself is the caller's to close).
pub fn release<'a>(rt: &'a Runtime, mut st: Guard<'a>, fd: c_int) -> Res<Guard<'a>> {
    // Read SO_LINGER first: the closing path needs it after the last hold.
    let linger = st.fds.get(fd).map(|id| st.fds.opts(id).linger);
    let (id, last) = st.fds.remove(fd).ok_or(libc::EBADF)?;
    super::epoll::socket_closed(&mut st, fd, id, last);
    if !last {
        return Ok(st);
    }
    let linger = linger.flatten();
    let conn = st.stack.tcb(id).map(|t| (t.local, t.remote));
    let now = rt.now();
    let _ = st.stack.close(now, id, linger == Some(0));
    rt.flush(&mut st);
    if let (Some(secs), Some(key)) = (linger.filter(|s| *s > 0), conn) {
        let deadline = now + Duration::from_secs(secs as u64);
        loop {
            let sending = st.stack.tcb(id).is_some_and(|t| {
                (t.local, t.remote) == key && matches!(t.state(), TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck)
            });
            let now = rt.now();
            if !sending || now >= deadline {
                break;
            }
            let (g, w) = rt.wait(st, Some(deadline - now));
            st = g;
            if w == Err(libc::EINTR) {
                break;
            }
        }
    }
    Ok(st)
}

pub fn local_addr(fd: c_int) -> Res<SocketAddrV4> {
    let rt = rt()?;
    let st = rt.lock();
    st.stack.local_addr(id_of(&st, fd)?).map_err(Errno::code)
}

pub fn peer_addr(fd: c_int) -> Res<SocketAddrV4> {
    let rt = rt()?;
    let st = rt.lock();
    st.stack.peer_addr(id_of(&st, fd)?).map_err(Errno::code)
}

fn int_opt(val: &[u8]) -> Res<c_int> {
    let b: [u8; 4] = val.get(..4).and_then(|s| s.try_into().ok()).ok_or(libc::EINVAL)?;
    Ok(c_int::from_ne_bytes(b))
}

fn timeval_opt(val: &[u8]) -> Res<Option<Duration>> {
    if val.len() < 16 {
        return Err(libc::EINVAL);
    }
    let sec = i64::from_ne_bytes(val[..8].try_into().map_err(|_| libc::EINVAL)?);
    let usec = i64::from_ne_bytes(val[8..16].try_into().map_err(|_| libc::EINVAL)?);
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(libc::EDOM);
    }
    let d = Duration::from_secs(sec as u64) + Duration::from_micros(usec as u64);
    Ok((!d.is_zero()).then_some(d))
}

/// setsockopt(2) for the options real programs set (COMPAT.md). Unknown
/// ones get ENOPROTOOPT, logged once per (level, name).
pub fn setsockopt(fd: c_int, level: c_int, name: c_int, val: &[u8]) -> Res<()> {
    let rt = rt()?;
    let mut st = rt.lock();
    let id = id_of(&st, fd)?;
    let now = rt.now();
    let st = &mut *st;
    let ka = |o: &SockOpts| {
        o.keepalive.then(|| {
            let d = Keepalive::default();
            Keepalive {
                idle: o.keepidle.map_or(d.idle, |s| Duration::from_secs(s as u64)),
                interval: o.keepintvl.map_or(d.interval, |s| Duration::from_secs(s as u64)),
                count: o.keepcnt.unwrap_or(d.count),
            }
        })
    };
    let r = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => st.stack.set_reuse_addr(id, int_opt(val)? != 0),
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => st.stack.set_reuse_port(id, int_opt(val)? != 0),
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => {
            st.fds.opts(id).keepalive = int_opt(val)? != 0;
            let k = ka(st.fds.opts(id));
            st.stack.set_keepalive(now, id, k)
        }
        (libc::SOL_SOCKET, libc::SO_SNDBUF) | (libc::SOL_SOCKET, libc::SO_RCVBUF) => {
            // Linux doubles the value for bookkeeping overhead and has a floor.
            let v = (int_opt(val)?.max(0) as usize).saturating_mul(2);
            if name == libc::SO_SNDBUF {
                st.stack.set_buffer_sizes(id, Some(v.max(4608)), None)
            } else {
                st.stack.set_buffer_sizes(id, None, Some(v.max(2304)))
            }
        }
        (libc::SOL_SOCKET, libc::SO_LINGER) => {
            if val.len() < 8 {
                return Err(libc::EINVAL);
            }
            let on = int_opt(&val[..4])? != 0;
            let secs = int_opt(&val[4..8])?;
            st.fds.opts(id).linger = on.then_some(secs.max(0) as u32);
            Ok(())
        }
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => {
            st.fds.opts(id).rcvtimeo = timeval_opt(val)?;
            Ok(())
        }
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => {
            st.fds.opts(id).sndtimeo = timeval_opt(val)?;
            Ok(())
        }
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => st.stack.set_nodelay(id, int_opt(val)? != 0),
        (libc::IPPROTO_TCP, libc::TCP_CORK) => st.stack.set_cork(id, int_opt(val)? != 0),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) | (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) | (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => {
            let v = int_opt(val)?;
            if !(1..=32767).contains(&v) {
                return Err(libc::EINVAL);
            }
            let o = st.fds.opts(id);
            match name {
                libc::TCP_KEEPIDLE => o.keepidle = Some(v as u32),
                libc::TCP_KEEPINTVL => o.keepintvl = Some(v as u32),
                _ => o.keepcnt = Some(v as u32),
            }
            let k = ka(st.fds.opts(id));
            st.stack.set_keepalive(now, id, k)
        }
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => {
            let v = int_opt(val)?;
            if !(88..=65495).contains(&v) {
                return Err(libc::EINVAL);
            }
            st.fds.opts(id).maxseg = Some(v as u16);
            if let Some(cfg) = st.stack.config_mut(id) {
                cfg.mss = cfg.mss.min(v as u16);
            }
            Ok(())
        }
        (libc::IPPROTO_TCP, libc::TCP_QUICKACK) => Ok(()),
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => {
            let name = val.split(|b| *b == 0).next().unwrap_or_default();
            let name = match name {
                b"reno" => utcp_core::tcp::cc::CcKind::Reno,
                b"cubic" => utcp_core::tcp::cc::CcKind::Cubic,
                _ => return Err(libc::ENOENT),
            };
            if let Some(cfg) = st.stack.config_mut(id) {
                cfg.congestion = name;
            }
            Ok(())
        }
        // IP-level options that change nothing utcp does, accepted as Linux does.
        (libc::IPPROTO_IP, libc::IP_TOS) | (libc::IPPROTO_IP, libc::IP_TTL) => Ok(()),
        _ => {
            warn_unknown_option(level, name);
            return Err(libc::ENOPROTOOPT);
        }
    };
    // Uncorking (TCP_CORK 0) or TCP_NODELAY releases held segments, and a
    // keepalive change arms a timer: send and rearm now, not at the stack
    // thread's next wakeup (nginx's last partial segment waited seconds).
    rt.flush(st);
    r.map_err(Errno::code)
}

fn warn_unknown_option(level: c_int, name: c_int) {
    // Heap-free and per process (it runs under the shared lock, where an
    // allocation would land in the shared arena).
    use core::sync::atomic::{AtomicU64, Ordering};
    static SEEN: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
    let key = ((level as u32 as u64) << 32) | (name as u32 as u64) | (1 << 63);
    for s in &SEEN {
        match s.compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(k) if k == key => return,
            Err(_) => {}
        }
    }
    sys::log(&format!("utcp: socket option level {level} name {name} is not supported (ENOPROTOOPT)\n"));
}

/// getsockopt(2): writes the value into `out`, returns its length.
pub fn getsockopt(fd: c_int, level: c_int, name: c_int, out: &mut [u8]) -> Res<usize> {
    let rt = rt()?;
    let mut st = rt.lock();
    let id = id_of(&st, fd)?;
    let put_int = |out: &mut [u8], v: c_int| -> Res<usize> {
        let b = v.to_ne_bytes();
        let n = out.len().min(4);
        out[..n].copy_from_slice(&b[..n]);
        Ok(n)
    };
    let tcb = st.stack.tcb(id);
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_ERROR) => {
            let e = st.stack.take_error(id).map_err(Errno::code)?;
            put_int(out, e.map_or(0, Errno::code))
        }
        (libc::SOL_SOCKET, libc::SO_TYPE) => put_int(out, libc::SOCK_STREAM),
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => put_int(out, libc::AF_INET),
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => put_int(out, libc::IPPROTO_TCP),
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => put_int(out, st.stack.is_listener(id) as c_int),
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => put_int(out, st.stack.reuse_flags(id).0 as c_int),
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => put_int(out, st.stack.reuse_flags(id).1 as c_int),
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => put_int(out, st.fds.opts(id).keepalive as c_int),
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => put_int(out, st.stack.buffer_sizes(id).0 as c_int),
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => put_int(out, st.stack.buffer_sizes(id).1 as c_int),
        (libc::SOL_SOCKET, libc::SO_LINGER) => {
            let l = st.fds.opts(id).linger;
            let mut v = [0u8; 8];
            v[..4].copy_from_slice(&(l.is_some() as c_int).to_ne_bytes());
            v[4..].copy_from_slice(&(l.unwrap_or(0) as c_int).to_ne_bytes());
            let n = out.len().min(8);
            out[..n].copy_from_slice(&v[..n]);
            Ok(n)
        }
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => put_int(out, tcb.is_some_and(|t| t.config().nodelay) as c_int),
        (libc::IPPROTO_TCP, libc::TCP_CORK) => put_int(out, tcb.is_some_and(|t| t.config().cork) as c_int),
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) => {
            let mss = tcb.map(|t| t.mss()).unwrap_or(st.fds.opts(id).maxseg.map_or(536, |m| m as usize));
            put_int(out, mss as c_int)
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => put_int(out, st.fds.opts(id).keepidle.unwrap_or(7200) as c_int),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => put_int(out, st.fds.opts(id).keepintvl.unwrap_or(75) as c_int),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => put_int(out, st.fds.opts(id).keepcnt.unwrap_or(9) as c_int),
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) => {
            let name = tcb.map_or(utcp_core::tcp::cc::DEFAULT_CC, |t| t.congestion_name()).as_bytes();
            let n = out.len().min(name.len() + 1).min(16);
            out[..n].fill(0);
            let m = n.min(name.len());
            out[..m].copy_from_slice(&name[..m]);
            Ok(n)
        }
        (libc::IPPROTO_TCP, libc::TCP_INFO) => {
            let info = st.stack.tcp_info(id).unwrap_or_default();
            Ok(super::tcp_info::encode(&info, st.stack.state(id), out))
        }
        _ => {
            warn_unknown_option(level, name);
            Err(libc::ENOPROTOOPT)
        }
    }
}

/// poll(2) over a set that mixes utcp sockets and kernel fds. Blocks in
/// the kernel (on the kernel fds plus this thread's wakeup eventfd) while
/// nothing is ready: no busy-waiting.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> Res<usize> {
    let rt = rt()?;
    let deadline = (timeout_ms >= 0).then(|| rt.now() + Duration::from_millis(timeout_ms as u64));
    let always = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
    let mut kfds: Vec<libc::pollfd> = Vec::with_capacity(fds.len() + 1);
    loop {
        let mut st = rt.lock();
        let mut ready = 0;
        for p in fds.iter_mut() {
            p.revents = 0;
            if is_ours(p.fd) {
                let Some(id) = st.fds.get(p.fd) else { continue };
                let mask = st.stack.readiness(id).poll_mask() as libc::c_short;
                p.revents = mask & (p.events | always);
                if p.revents != 0 {
                    ready += 1;
                }
            }
        }
        let efd = if ready == 0 { rt.add_waiter(&mut st) } else { None };
        drop(st);
        kfds.clear();
        for p in fds.iter() {
            // Kernel fds as given; ours as -1 so the kernel skips them.
            let fd = if is_ours(p.fd) { -1 } else { p.fd };
            kfds.push(libc::pollfd { fd, events: p.events, revents: 0 });
        }
        if let Some(e) = efd {
            kfds.push(libc::pollfd { fd: e, events: libc::POLLIN, revents: 0 });
        }
        let wait = if ready > 0 {
            0
        } else {
            match deadline {
                None => -1,
                Some(d) => d.saturating_since(rt.now()).as_micros().div_ceil(1000).min(i32::MAX as u128) as c_int,
            }
        };
        let r = sys::poll(&mut kfds, wait);
        let woke = efd.is_some_and(|_| kfds.last().is_some_and(|p| p.revents != 0));
        if let Some(e) = efd {
            let mut st = rt.lock();
            rt.remove_waiter(&mut st, e);
        }
        r?;
        for (p, k) in fds.iter_mut().zip(kfds.iter()) {
            if k.fd >= 0 && k.revents != 0 {
                p.revents = k.revents;
                ready += 1;
            }
        }
        if ready > 0 {
            return Ok(ready);
        }
        let expired = deadline.is_some_and(|d| rt.now() >= d);
        if expired || (!woke && timeout_ms == 0) {
            return Ok(0);
        }
    }
}

//! Which file descriptors are utcp sockets.
//!
//! Each utcp socket is a real kernel fd (an eventfd placeholder), so its
//! number never collides with the program's files and stays where
//! FD_SET expects it. A lock-free bit per fd number answers "is this ours?"
//! on every hooked call, so the pass-through path for kernel fds takes no
//! lock and allocates nothing (it may run in a signal handler).

use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use utcp_core::stack::SocketId;

/// fd numbers we can serve; higher ones get EMFILE from socket().
pub const MAX_FDS: usize = 1 << 16;

static OURS: [AtomicBool; MAX_FDS] = [const { AtomicBool::new(false) }; MAX_FDS];

/// Is `fd` a utcp socket? Lock-free, for every hooked call.
pub fn is_ours(fd: c_int) -> bool {
    fd >= 0 && (fd as usize) < MAX_FDS && OURS[fd as usize].load(Ordering::Acquire)
}

fn mark(fd: c_int, ours: bool) {
    if fd >= 0 && (fd as usize) < MAX_FDS {
        OURS[fd as usize].store(ours, Ordering::Release);
    }
}

/// Socket options the hook layer keeps itself (the engine has no use for them).
#[derive(Clone, Copy, Debug, Default)]
pub struct SockOpts {
    pub rcvtimeo: Option<Duration>,
    pub sndtimeo: Option<Duration>,
    /// SO_LINGER: Some(seconds) when on.
    pub linger: Option<u32>,
    pub keepalive: bool,
    pub keepidle: Option<u32>,
    pub keepintvl: Option<u32>,
    pub keepcnt: Option<u32>,
    pub maxseg: Option<u16>,
    /// An AF_INET6 socket (dual-stack, runtime/inet6.rs): addresses are
    /// reported v4-mapped and SO_DOMAIN says AF_INET6.
    pub v6: bool,
}

#[derive(Debug, Default)]
pub struct FdTable {
    map: HashMap<c_int, SocketId>,
    refs: HashMap<SocketId, u32>,
    opts: HashMap<SocketId, SockOpts>,
}

impl FdTable {
    pub fn insert(&mut self, fd: c_int, id: SocketId) {
        self.map.insert(fd, id);
        *self.refs.entry(id).or_insert(0) += 1;
        self.opts.entry(id).or_default();
        mark(fd, true);
    }

    pub fn get(&self, fd: c_int) -> Option<SocketId> {
        self.map.get(&fd).copied()
    }

    /// Forget `fd`; returns its socket and whether that was the last fd
    /// referring to it (the socket itself closes then).
    pub fn remove(&mut self, fd: c_int) -> Option<(SocketId, bool)> {
        let id = self.map.remove(&fd)?;
        mark(fd, false);
        let n = self.refs.get_mut(&id).map(|r| {
            *r -= 1;
            *r
        });
        let last = n == Some(0);
        if last {
            self.refs.remove(&id);
            self.opts.remove(&id);
        }
        Some((id, last))
    }

    pub fn opts(&mut self, id: SocketId) -> &mut SockOpts {
        self.opts.entry(id).or_default()
    }

    /// Every socket, once, for the exit path; the table is emptied.
    pub fn close_all(&mut self) -> Vec<SocketId> {
        for fd in self.map.keys() {
            mark(*fd, false);
        }
        self.map.clear();
        self.opts.clear();
        self.refs.drain().map(|(id, _)| id).collect()
    }
}

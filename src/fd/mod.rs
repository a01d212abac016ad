//! Which file descriptors are utcp sockets, and who holds each socket.
//!
//! Each utcp socket is a real kernel fd (an eventfd placeholder), so its
//! number never collides with the program's files and stays where
//! FD_SET expects it.
//!
//! Two halves (see `shm.rs` and `runtime/mod.rs` for the fork design):
//! - per process, private and heap-free: [`FDS`], fd number -> socket
//!   (raw id + 1, 0 for "not ours"). Read lock-free on every hooked call,
//!   so the pass-through path for kernel fds takes no lock and allocates
//!   nothing (it may run in a signal handler). fork copies it: the child
//!   has the same fds as the parent.
//! - shared by the processes of a program tree, in [`FdTable`] inside the
//!   shared state: per socket, its options and its holders, as (pid,
//!   count) pairs. A socket closes (FIN/RST) only when the last fd that
//!   refers to it in any process goes: close, dup2 over it, close_range,
//!   or the exit of its last holder. fork adds one hold per fd for the
//!   child (`fork_prepare`, under a token the child turns into its pid);
//!   a dead process's holds are dropped by the reaper (`drop_pid`).
//!   The shared half also records each process's fd numbers, so that a
//!   process that execs rebuilds its private table in the new image
//!   (`exec_restore`, see `runtime/mod.rs`).

use core::ffi::c_int;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;
use std::collections::BTreeMap;
use utcp_core::stack::SocketId;

/// fd numbers we can serve; higher ones get EMFILE from socket().
pub const MAX_FDS: usize = 1 << 16;

/// This process's fds: socket raw id + 1, or 0.
static FDS: [AtomicU32; MAX_FDS] = [const { AtomicU32::new(0) }; MAX_FDS];

/// Is `fd` a utcp socket? Lock-free, for every hooked call.
pub fn is_ours(fd: c_int) -> bool {
    fd >= 0 && (fd as usize) < MAX_FDS && FDS[fd as usize].load(Ordering::Acquire) != 0
}

fn slot(fd: c_int) -> Option<&'static AtomicU32> {
    (fd >= 0 && (fd as usize) < MAX_FDS).then(|| &FDS[fd as usize])
}

/// Every (fd, socket) of this process.
fn each_fd(mut f: impl FnMut(c_int, SocketId)) {
    for (fd, s) in FDS.iter().enumerate() {
        let v = s.load(Ordering::Acquire);
        if v != 0 {
            f(fd as c_int, SocketId::from_raw(v - 1));
        }
    }
}

/// This process's id (cached; the fork child handler refreshes it).
static PID: AtomicU32 = AtomicU32::new(0);

pub fn pid() -> u32 {
    let p = PID.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    refresh_pid()
}

pub fn refresh_pid() -> u32 {
    // SAFETY: getpid takes no arguments.
    let p = unsafe { libc::syscall(libc::SYS_getpid) } as u32;
    PID.store(p, Ordering::Relaxed);
    p
}

/// Holds taken by fork_prepare for a child that does not know its pid yet.
pub const TOKEN_BIT: u32 = 0x8000_0000;

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
struct Info {
    opts: SockOpts,
    /// (pid or fork token, number of fds) holding the socket.
    holders: Vec<(u32, u32)>,
}

impl Info {
    fn total(&self) -> u32 {
        self.holders.iter().map(|h| h.1).sum()
    }

    fn add(&mut self, who: u32, n: u32) {
        match self.holders.iter_mut().find(|h| h.0 == who) {
            Some(h) => h.1 += n,
            None => self.holders.push((who, n)),
        }
    }

    fn sub(&mut self, who: u32) {
        if let Some(i) = self.holders.iter().position(|h| h.0 == who) {
            self.holders[i].1 -= 1;
            if self.holders[i].1 == 0 {
                self.holders.swap_remove(i);
            }
        } else if let Some(h) = self.holders.iter_mut().max_by_key(|h| h.1) {
            // Not recorded for us (cannot happen; be safe): drop any hold.
            h.1 = h.1.saturating_sub(1);
            self.holders.retain(|h| h.1 > 0);
        }
    }
}

/// The shared half: lives in the shared state, touched under its lock.
#[derive(Debug, Default)]
pub struct FdTable {
    socks: BTreeMap<SocketId, Info>,
    /// (pid or fork token, fd) -> socket: every process's fds, so that an
    /// image started by exec rebuilds its private table ([`FdTable::exec_restore`]).
    by_fd: BTreeMap<(u32, c_int), SocketId>,
}

impl FdTable {
    /// `fd` refers to `id` (a dup of a socket, or a new socket after
    /// [`FdTable::new_socket`]).
    pub fn insert(&mut self, fd: c_int, id: SocketId) {
        let Some(s) = slot(fd) else { return };
        s.store(id.raw() + 1, Ordering::Release);
        self.socks.entry(id).or_default().add(pid(), 1);
        self.by_fd.insert((pid(), fd), id);
    }

    /// `fd` is a new socket `id`: its options start from the defaults
    /// (an id is reused once every holder of the last socket with it is gone).
    pub fn new_socket(&mut self, fd: c_int, id: SocketId) {
        self.socks.insert(id, Info::default());
        self.insert(fd, id);
    }

    pub fn get(&self, fd: c_int) -> Option<SocketId> {
        let v = slot(fd)?.load(Ordering::Acquire);
        (v != 0).then(|| SocketId::from_raw(v - 1))
    }

    /// Forget `fd`; returns its socket and whether that was the last fd
    /// referring to it in any process (the socket itself closes then).
    pub fn remove(&mut self, fd: c_int) -> Option<(SocketId, bool)> {
        let v = slot(fd)?.swap(0, Ordering::AcqRel);
        if v == 0 {
            return None;
        }
        let id = SocketId::from_raw(v - 1);
        self.by_fd.remove(&(pid(), fd));
        Some((id, self.release(id, pid())))
    }

    /// One hold less; true when it was the last. The options stay (the
    /// closing path reads SO_LINGER) until the id is reused.
    fn release(&mut self, id: SocketId, who: u32) -> bool {
        let Some(info) = self.socks.get_mut(&id) else { return true };
        info.sub(who);
        info.total() == 0
    }

    pub fn opts(&mut self, id: SocketId) -> &mut SockOpts {
        &mut self.socks.entry(id).or_default().opts
    }

    /// The exit path: forget every fd of this process; returns the sockets
    /// whose last holder that was.
    pub fn close_all(&mut self) -> Vec<SocketId> {
        let mut mine = Vec::new();
        each_fd(|fd, id| {
            if let Some(s) = slot(fd) {
                s.store(0, Ordering::Release);
            }
            mine.push(id);
        });
        let me = pid();
        self.by_fd.retain(|k, _| k.0 != me);
        let mut closed = Vec::new();
        for id in mine {
            if self.release(id, me) {
                closed.push(id);
            }
        }
        closed
    }

    /// fork is about to copy this process's fds: one more hold on each
    /// socket per fd, under `token` until the child claims them.
    pub fn fork_prepare(&mut self, token: u32) {
        let mut add = Vec::new();
        each_fd(|fd, id| add.push((fd, id)));
        for (fd, id) in add {
            self.socks.entry(id).or_default().add(token, 1);
            self.by_fd.insert((token, fd), id);
        }
    }

    /// In the child: the holds taken under `token` are ours.
    pub fn fork_claim(&mut self, token: u32, me: u32) {
        for info in self.socks.values_mut() {
            if let Some(i) = info.holders.iter().position(|h| h.0 == token) {
                let n = info.holders.swap_remove(i).1;
                info.add(me, n);
            }
        }
        let mine: Vec<(c_int, SocketId)> = self.by_fd.iter().filter(|(k, _)| k.0 == token).map(|(k, id)| (k.1, *id)).collect();
        for (fd, id) in mine {
            self.by_fd.remove(&(token, fd));
            self.by_fd.insert((me, fd), id);
        }
    }

    /// Does process `who` hold any socket through an fd?
    pub fn has_pid(&self, who: u32) -> bool {
        self.by_fd.keys().any(|k| k.0 == who)
    }

    /// After exec (same pid, new image, empty private table): take back
    /// this process's fds that are still `alive` (the kernel closed the
    /// FD_CLOEXEC ones); drop the holds of the others. Returns the sockets
    /// whose last holder that was, and the fds restored.
    pub fn exec_restore(&mut self, alive: impl Fn(c_int) -> bool) -> (Vec<SocketId>, usize) {
        let me = pid();
        let mine: Vec<(c_int, SocketId)> = self.by_fd.iter().filter(|(k, _)| k.0 == me).map(|(k, id)| (k.1, *id)).collect();
        let mut closed = Vec::new();
        let mut kept = 0;
        for (fd, id) in mine {
            match slot(fd) {
                Some(s) if alive(fd) => {
                    s.store(id.raw() + 1, Ordering::Release);
                    kept += 1;
                }
                _ => {
                    self.by_fd.remove(&(me, fd));
                    if self.release(id, me) {
                        closed.push(id);
                    }
                }
            }
        }
        (closed, kept)
    }

    /// Processes that hold sockets (fork tokens excluded).
    pub fn holder_pids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.socks.values().flat_map(|i| i.holders.iter().map(|h| h.0)).filter(|p| p & TOKEN_BIT == 0).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Process `who` is gone: drop its holds; returns the sockets it held last.
    pub fn drop_pid(&mut self, who: u32) -> Vec<SocketId> {
        self.by_fd.retain(|k, _| k.0 != who);
        let mut closed = Vec::new();
        for (id, info) in self.socks.iter_mut() {
            let before = info.holders.len();
            info.holders.retain(|h| h.0 != who);
            if info.holders.len() != before && info.total() == 0 {
                closed.push(*id);
            }
        }
        closed
    }
}

//! The runtime: one stack per program tree (a process and the children
//! it forks), its TUN device, the threads that read the device, run timers
//! and wake blocked callers.
//!
//! Application threads call the stack directly under one lock and send
//! what their call produced at once; the stack threads handle incoming
//! packets and timers. A blocked caller watches the TUN itself
//! ([`Runtime::wait`]): it handles the packets it is waiting for, with no
//! hand-off from the stack thread, which keeps off the TUN while callers
//! watch it. The caller sleeps in poll on the TUN, its own eventfd (for
//! changes made by other threads and processes) and a signalfd, with
//! signals blocked, so a signal ends the wait as it would a kernel socket
//! call (restarted under SA_RESTART, EINTR otherwise).
//!
//! Many connections: demux and timers are ordered maps (O(log n)); an
//! epoll wait looks only at members whose socket changed
//! (`Stack::take_touched`, `epoll.rs`).
//!
//! # fork
//!
//! - Shared by every process of the tree, in the arena of `shm.rs` (same
//!   address everywhere): [`Shared`], i.e. the process-shared robust lock,
//!   the flush generation counter, the next timer, and the [`State`]
//!   (stack, per-socket options and holders, epoll tables keyed by pid).
//!   Allocations made under the lock land in the arena.
//! - Private to each process (static, heap-free, or allocated outside the
//!   lock): the fd -> socket table (`fd/mod.rs`), the waiter eventfds,
//!   the stack thread's wake eventfd, the threads themselves.
//! - Each process runs a stack thread on the inherited TUN fd (whoever
//!   reads a packet or reaches a due timer handles it, under the lock) and
//!   a waker thread sleeping (FUTEX_WAIT) on the generation counter: a
//!   flush that changed some socket's readiness (`Stack::change_seq`)
//!   bumps it and, when more than one process lives, FUTEX_WAKEs them all;
//!   each waker then signals its own process's waiters and, for an earlier
//!   timer, its stack thread.
//! - pthread_atfork: `prepare` takes the shared lock and adds, under a
//!   fresh token, one hold per utcp fd the child will inherit; `parent`
//!   releases the lock; `child` (the lock word is shared: it must not
//!   unlock) makes fresh private eventfds, forgets the parent's waiters,
//!   claims the token's holds as its own pid once the parent released the
//!   lock, and starts its own stack and waker threads. So a parent closing
//!   its copy right after fork drops one hold, and no FIN goes out.
//! - exit (atexit) releases only this process's holds; a socket closes
//!   when its last holder goes. If other processes live, they carry on
//!   serving (and running timers); the exiting process's other threads
//!   never enter the lock again (it could die inside). The last process
//!   lingers briefly for the FIN exchange. A process that dies without
//!   its exit path (SIGKILL, _exit) is found by the stack threads' reaper
//!   (about once a second while several processes share the stack: kill
//!   0 and the zombie state) and its holds are dropped.
//!
//! # exec
//!
//! A utcp socket inherited across execve (no FD_CLOEXEC: inetd, a
//! fork-per-connection server that execs a handler on fds 0/1) keeps
//! working in the new image:
//! - the arena is a memfd without FD_CLOEXEC, mapped at the same fixed
//!   address in every process (`shm.rs`); so are the TUN fd (its number is
//!   in [`Shared`]) and the clock's epoch (CLOCK_MONOTONIC µs, in
//!   [`Shared`]). The shared data holds no pointer into a program image.
//! - the shared fd table records every process's fd numbers. At library
//!   init ([`exec_attach_at_init`], a constructor) a new image that finds
//!   the memfd maps it; if its pid holds sockets there, it rebuilds its
//!   private fd table from them, keeping the fds still open as eventfds
//!   (the kernel closed the FD_CLOEXEC ones: their holds are dropped, and
//!   a socket whose last holder that was closes), forgets the old image's
//!   epoll instances, and starts its stack and waker threads. An image
//!   whose pid holds nothing closes the inherited memfd and TUN fd and
//!   starts its own stack on first use, as before.
//! - Limits: an exec'd image that does not load libutcp (no LD_PRELOAD
//!   in its environment, a static binary) sees plain eventfds and keeps
//!   its holds until it exits; posix_spawn children (no atfork handlers)
//!   are not supported.

pub mod config;
pub mod epoll;
pub mod faults;
pub mod fdops;
pub mod inet6;
pub mod ops;
pub mod secret;
pub mod select;
pub mod tcp_info;
pub mod tun;

use crate::fd::FdTable;
use crate::shm::{self, FutexLock, SharedMutex};
use crate::sys;
use config::{Config, LogLevel};
use core::cell::UnsafeCell;
use core::ffi::c_int;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use std::cell::Cell;
use std::sync::OnceLock;
use utcp_core::stack::{Stack, StackConfig};
use utcp_core::trace::PcapWriter;
use utcp_core::Instant;

pub struct Runtime {
    shared: &'static Shared,
    pub cfg: Config,
    tun_fd: c_int,
    /// The TUN frames carry a virtio-net header (`tun.rs`).
    vnet_hdr: bool,
    /// Wakes this process's stack thread when a caller armed an earlier
    /// timer (a new one in a forked child).
    wake_fd: AtomicI32,
    /// CLOCK_MONOTONIC µs at the stack's start: the same in every process
    /// of the tree (kept in [`Shared`] for exec'd images).
    epoch_us: u64,
}

/// What the processes of a program tree share, in the arena (`shm.rs`).
pub struct Shared {
    lock: SharedMutex,
    /// Bumped by every flush; the waker threads of other processes sleep
    /// on it (FUTEX_WAIT) and wake their own blocked callers.
    gen: AtomicU32,
    /// The stack's next timer (µs since the epoch; u64::MAX: none).
    deadline: AtomicU64,
    /// Live processes (more than one: flushes wake the other processes).
    nprocs: AtomicU32,
    /// The TUN fd (inherited, same number in every process).
    tun_fd: c_int,
    /// Whether that fd was opened with the virtio-net header (for exec'd
    /// images: the header is a property of the open device).
    vnet_hdr: bool,
    /// Runtime::epoch_us, for exec'd images.
    epoch_us: u64,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only reached through `Runtime::lock`, which holds the
// process-shared lock; the other fields are atomics.
unsafe impl Sync for Shared {}

pub struct State {
    pub stack: Stack,
    pub fds: FdTable,
    /// utcp members of each epoll instance (runtime/epoll.rs).
    pub epolls: epoll::Table,
    pcap: Option<PcapWriter<FdWriter>>,
    buf: Vec<u8>,
    /// The processes that share this stack.
    procs: Vec<u32>,
    /// `Stack::change_seq` at the last wakeup of blocked callers.
    woken_seq: u64,
    /// `UTCP_FAULTS` (runtime/faults.rs).
    faults: Option<faults::Injector>,
}

/// The shared state, locked: allocations made while it is held go to the
/// shared arena (`shm::Alloc`).
pub struct Guard<'a> {
    sh: &'a Shared,
}

impl core::ops::Deref for Guard<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        // SAFETY: the lock is held for the guard's life.
        unsafe { &*self.sh.state.get() }
    }
}

impl core::ops::DerefMut for Guard<'_> {
    fn deref_mut(&mut self) -> &mut State {
        // SAFETY: as above, and the guard is borrowed mutably.
        unsafe { &mut *self.sh.state.get() }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        shm::leave_shared();
        self.sh.lock.unlock();
    }
}

/// Writes to a raw fd (for the pcap file), never through our hooks.
pub struct FdWriter(c_int);

impl std::io::Write for FdWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        sys::write(self.0, b).map_err(std::io::Error::from_raw_os_error)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The runtime, started on first use. Err carries the message already
/// printed once (a bad variable, no TUN).
pub fn get() -> Result<&'static Runtime, &'static str> {
    RUNTIME.get_or_init(start).as_ref().map_err(|e| e.as_str())
}

/// The runtime if it already started (for paths that must not start it).
pub fn running() -> Option<&'static Runtime> {
    RUNTIME.get().and_then(|r| r.as_ref().ok())
}

fn start() -> Result<Runtime, String> {
    let r = start_inner();
    if let Err(e) = &r {
        sys::log(&format!("{e}\n"));
    }
    r
}

fn start_inner() -> Result<Runtime, String> {
    let cfg = Config::from_env()?;
    if let Some(r) = exec_attach(&cfg) {
        return r;
    }
    shm::init()?;
    let tun = tun::open(&cfg)?;
    enable_forwarding(&cfg);
    let wake_fd = sys::eventfd(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK).map_err(|e| format!("utcp: eventfd: {e}"))?;
    let mut scfg = StackConfig::new(tun.addr);
    scfg.mtu = tun.mtu;
    scfg.tcp.syn_retries = cfg.syn_retries;
    scfg.seed = entropy();
    scfg.isn_secret = secret::host_secret();
    let epoch_us = mono_us();
    scfg.host_clock_us = epoch_us;
    scfg.offload = tun.offload;
    let pcap_fd = match &cfg.pcap {
        Some(path) => {
            let cpath = std::ffi::CString::new(path.as_str()).map_err(|_| format!("utcp: UTCP_PCAP={path:?}: not a path"))?;
            Some(
                sys::open(&cpath, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC)
                    .map_err(|e| format!("utcp: UTCP_PCAP={path:?}: cannot create: {}", std::io::Error::from_raw_os_error(e)))?,
            )
        }
        None => None,
    };
    // Everything the processes share is built in the arena.
    let shared: &'static Shared = shm::in_shared(|| -> Result<&'static Shared, String> {
        let mut stack = Stack::new(scfg);
        stack.set_tracing(cfg.trace || cfg.pcap.is_some());
        let pcap = match pcap_fd {
            Some(fd) => Some(PcapWriter::new(FdWriter(fd)).map_err(|e| format!("utcp: UTCP_PCAP: {e}"))?),
            None => None,
        };
        Ok(Box::leak(Box::new(Shared {
            lock: SharedMutex::new(),
            gen: AtomicU32::new(0),
            deadline: AtomicU64::new(u64::MAX),
            nprocs: AtomicU32::new(1),
            tun_fd: tun.fd,
            vnet_hdr: tun.vnet_hdr,
            epoch_us,
            state: UnsafeCell::new(State {
                stack,
                fds: FdTable::default(),
                epolls: epoll::Table::default(),
                pcap,
                buf: vec![0u8; tun::MAX_FRAME],
                procs: vec![crate::fd::refresh_pid()],
                woken_seq: 0,
                faults: faults::Injector::new(&cfg),
            }),
        })))
    })?;
    shared.lock.init();
    if cfg.log >= LogLevel::Info {
        sys::log(&format!("utcp: {} up: utcp {} <-> kernel {}/{} mtu {}\n", tun.name, tun.addr, tun.peer, tun.prefix, tun.mtu));
    }
    shm::set_root(shared as *const Shared as usize);
    let rt = Runtime { shared, cfg, tun_fd: tun.fd, vnet_hdr: tun.vnet_hdr, wake_fd: AtomicI32::new(wake_fd), epoch_us: shared.epoch_us };
    start_threads(0)?;
    // SAFETY: registering plain extern "C" functions.
    unsafe {
        libc::atexit(at_exit);
        libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child));
    }
    Ok(rt)
}

/// CLOCK_MONOTONIC in µs (system-wide: the same clock in every process).
fn mono_us() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// Library constructor: an image started by exec from a process that held
/// utcp sockets attaches to its stack at once (the program may never call
/// socket(): `cat` just reads fd 0).
#[cfg(not(test))]
#[used]
#[unsafe(link_section = ".init_array")]
static EXEC_ATTACH_AT_INIT: extern "C" fn() = exec_attach_at_init;

#[cfg_attr(test, allow(dead_code))]
extern "C" fn exec_attach_at_init() {
    if RUNTIME.get().is_some() {
        return;
    }
    let _g = sys::ErrnoGuard::new();
    // Cheap test first: no inherited arena memfd, nothing to do.
    let inherited = sys::open_fds().into_iter().any(|fd| sys::fd_link(fd).is_some_and(|l| l.starts_with(b"/memfd:utcp-arena")));
    if inherited {
        let _ = get();
    }
}

/// The new image of a process that exec'd while holding utcp sockets:
/// attach to the tree's stack (see the module doc). None: nothing
/// inherited, start a stack of our own.
fn exec_attach(cfg: &Config) -> Option<Result<Runtime, String>> {
    let root = shm::attach()?;
    // SAFETY: the root object lives in the arena, at the same address in
    // every process that maps it.
    let shared: &'static Shared = unsafe { &*(root as *const Shared) };
    let me = crate::fd::refresh_pid();
    let tun_ok = sys::fd_link(shared.tun_fd).is_some_and(|l| l == b"/dev/net/tun");
    let holds = {
        shared.lock.lock();
        // SAFETY: the lock is held.
        let h = unsafe { (*shared.state.get()).fds.has_pid(me) };
        shared.lock.unlock();
        h
    };
    if !holds {
        // Nothing of the old tree is ours: let go of it entirely.
        if tun_ok {
            let _ = sys::close(shared.tun_fd);
        }
        shm::detach();
        return None;
    }
    if !tun_ok {
        shm::detach();
        return Some(Err("utcp: exec: inherited utcp sockets but not the TUN fd; they do not work in this image".into()));
    }
    let wake_fd = match sys::eventfd(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) {
        Ok(fd) => fd,
        Err(e) => return Some(Err(format!("utcp: eventfd: {e}"))),
    };
    let rt = Runtime { shared, cfg: cfg.clone(), tun_fd: shared.tun_fd, vnet_hdr: shared.vnet_hdr, wake_fd: AtomicI32::new(wake_fd), epoch_us: shared.epoch_us };
    let (kept, gen_seen) = {
        let mut st = rt.lock();
        let now = rt.now();
        let (closed, kept) = st.fds.exec_restore(|fd| sys::fd_link(fd).is_some_and(|l| l == b"anon_inode:[eventfd]"));
        for id in closed {
            let _ = st.stack.close(now, id, false);
            epoll::socket_gone(&mut st, id);
        }
        epoll::forget_process(&mut st, me);
        if !st.procs.contains(&me) {
            st.procs.push(me);
        }
        let n = st.procs.len();
        rt.shared.nprocs.store(n as u32, Ordering::Relaxed);
        rt.flush(&mut st);
        (kept, rt.shared.gen.load(Ordering::Acquire))
    };
    if rt.cfg.log >= LogLevel::Info {
        sys::log(&format!("utcp: exec: attached to the inherited stack, {kept} utcp fds kept\n"));
    }
    if let Err(e) = start_threads(gen_seen) {
        return Some(Err(e));
    }
    // SAFETY: registering plain extern "C" functions.
    unsafe {
        libc::atexit(at_exit);
        libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child));
    }
    Some(Ok(rt))
}

/// This process's stack thread and waker thread. They wait for the
/// runtime to be initialised (`get`), then run forever. `gen_seen` is the
/// flush generation the caller's state reflects: the waker must start
/// from it, not from whatever it finds when it first runs (a flush in
/// between, say another process delivering data to a socket our caller
/// is about to block on, would be missed and the caller never woken).
fn start_threads(gen_seen: u32) -> Result<(), String> {
    // The threads block every signal (they inherit the mask they are
    // created with), so process-directed signals such as SIGALRM reach
    // the program's own threads, as they would without utcp.
    // SAFETY: plain sigset manipulation on local values.
    let mut all: libc::sigset_t = unsafe { core::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
    }
    let a = std::thread::Builder::new().name("utcp".into()).spawn(|| {
        if let Ok(rt) = get() {
            rt.thread_main()
        }
    });
    let b = std::thread::Builder::new().name("utcp-waker".into()).spawn(move || {
        if let Ok(rt) = get() {
            rt.waker_main(gen_seen)
        }
    });
    // SAFETY: restoring the caller's mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()) };
    a.and(b).map(|_| ()).map_err(|e| format!("utcp: cannot start the stack thread: {e}"))
}

/// Two preloaded processes reach each other through the kernel, which
/// forwards between their TUN devices only with ip_forward on (it is off
/// in a new namespace). Turned on only in a namespace that holds nothing
/// but loopback and utcp devices (a private test namespace), never where
/// other interfaces show it is a real host's network.
fn enable_forwarding(cfg: &Config) {
    let Some(dev) = sys::read_file(c"/proc/net/dev") else { return };
    let text = String::from_utf8_lossy(&dev);
    let names = text.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim);
    let private = names.clone().all(|n| n == "lo" || n.starts_with("utcp"));
    if !private {
        return;
    }
    if let Ok(fd) = sys::open(c"/proc/sys/net/ipv4/ip_forward", libc::O_WRONLY | libc::O_CLOEXEC) {
        if sys::write(fd, b"1\n").is_ok() && cfg.log >= LogLevel::Info {
            sys::log("utcp: enabled ip_forward in this network namespace\n");
        }
        let _ = sys::close(fd);
    }
}

/// Seed for ISNs, ports and cookies from the kernel (getrandom).
fn entropy() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into b.
    let _ = unsafe { libc::syscall(libc::SYS_getrandom, b.as_mut_ptr(), 8usize, 0) };
    u64::from_ne_bytes(b)
}

impl Runtime {
    pub fn now(&self) -> Instant {
        Instant::from_micros(mono_us().saturating_sub(self.epoch_us))
    }

    pub fn lock(&self) -> Guard<'_> {
        loop {
            self.shared.lock.lock();
            let stopper = STOPPER.load(Ordering::Acquire);
            if stopper == 0 || stopper == gettid() {
                break;
            }
            // Another thread of this process is exiting or exec'ing: the
            // others must not enter a critical section the process may
            // vanish in the middle of. They wait here, outside it, until
            // the process is gone (or the exec failed).
            self.shared.lock.unlock();
            while STOPPER.load(Ordering::Acquire) == stopper {
                shm::futex_wait(&STOPPER, stopper, None);
            }
        }
        shm::enter_shared();
        Guard { sh: self.shared }
    }

    fn wake_fd(&self) -> c_int {
        self.wake_fd.load(Ordering::Relaxed)
    }

    /// Send what the stack has to send, report trace events, wake
    /// blocked callers (in every process), and make sure a stack thread
    /// wakes in time for the next timer.
    pub fn flush(&self, st: &mut State) {
        let now = self.now();
        let State { stack, buf, faults, .. } = st;
        let room = tun::headroom(self.vnet_hdr);
        while let Some(t) = stack.transmit(now, &mut buf[room..]) {
            let n = tun::frame(buf, self.vnet_hdr, t);
            // A full device queue or a device that went down loses the
            // packet, like a link would; TCP retransmits.
            faults::transmit(faults, now, &buf[..n], |p| {
                let _ = sys::write(self.tun_fd, p);
            });
        }
        self.report(st);
        faults::report(st);
        // Wake blocked callers only when some socket's readiness may have
        // moved: a flush after a call that changed nothing must not wake
        // the other blocked callers (their own checks flush too, and two
        // processes would wake each other forever).
        let seq = st.stack.change_seq();
        if seq != st.woken_seq {
            st.woken_seq = seq;
            let g = self.shared.gen.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
            LOCAL_GEN.store(g, Ordering::Relaxed);
            signal_waiters();
            if self.shared.nprocs.load(Ordering::Relaxed) > 1 {
                shm::futex_wake_all(&self.shared.gen);
            }
        }
        let next = faults::poll_at(st).map_or(u64::MAX, |t| t.as_micros());
        self.shared.deadline.store(next, Ordering::Relaxed);
        if next < THREAD_DEADLINE.load(Ordering::Relaxed) {
            THREAD_DEADLINE.store(next, Ordering::Relaxed);
            sys::eventfd_signal(self.wake_fd());
        }
    }

    fn report(&self, st: &mut State) {
        if !(self.cfg.trace || st.pcap.is_some()) {
            return;
        }
        for ev in st.stack.take_events() {
            if let Some(p) = &mut st.pcap {
                let _ = p.write_event(&ev);
            }
            if self.cfg.trace {
                sys::log(&format!("utcp: {ev}\n"));
            }
        }
    }

    /// The stack thread: packets in, timers, packets out. Every process
    /// of a tree runs one on the same (inherited) TUN fd; whichever reads
    /// a packet or gets to a timer first handles it, under the lock.
    fn thread_main(&self) {
        let mut pkt = vec![0u8; tun::MAX_FRAME];
        let mut last_reap = self.now();
        loop {
            // µs, None: no timer. Not rounded to milliseconds: a timer
            // (the RACK reordering window, a tail loss probe, a held
            // packet of the fault injector) runs at its deadline, not up
            // to a millisecond after it.
            let timeout_us = {
                let mut st = self.lock();
                let next = faults::poll_at(&st);
                THREAD_DEADLINE.store(next.map_or(u64::MAX, |t| t.as_micros()), Ordering::Relaxed);
                let now = self.now();
                // With other processes, look for dead ones now and then.
                if self.shared.nprocs.load(Ordering::Relaxed) > 1 && now.saturating_since(last_reap) >= REAP_EVERY {
                    last_reap = now;
                    self.reap(&mut st);
                }
                let cap = if self.shared.nprocs.load(Ordering::Relaxed) > 1 { Some(REAP_EVERY.as_micros() as u64) } else { None };
                match next {
                    None => cap,
                    Some(t) => {
                        let us = t.as_micros().saturating_sub(now.as_micros());
                        Some(cap.map_or(us, |c| us.min(c)))
                    }
                }
            };
            let mut fds = [
                libc::pollfd { fd: self.wake_fd(), events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: self.tun_fd, events: libc::POLLIN, revents: 0 },
            ];
            // While this process's callers watch the TUN themselves
            // (`wait`), the stack thread keeps off it: woken by every
            // packet, it would only contend with them for the lock and
            // the CPUs. While callers are active (one woke less than
            // PARK_US ago) it looks every PARK_US for what nobody took;
            // while they all sleep idle it sleeps until its timer, and
            // the last one to leave wakes it. Either way it runs the
            // timers: a caller sleeping in `wait` does not.
            let watchers = WATCHERS.load(Ordering::SeqCst) > 0;
            let active = mono_us().saturating_sub(ACTIVE_SEEN.load(Ordering::SeqCst)) < PARK_US;
            if active || watchers {
                let long = watchers && !active;
                PARKED_LONG.store(long, Ordering::SeqCst);
                if !long {
                    // It wakes within PARK_US anyway: a caller arming a
                    // later timer (each connection arms several) need
                    // not wake it early, which would cost a wakeup and a
                    // round of lock contention per timer. One due sooner
                    // still wakes it (`flush`).
                    THREAD_DEADLINE.fetch_min(self.now().as_micros() + PARK_US, Ordering::Relaxed);
                }
                // The last watcher may have left just before: look again.
                let t = if !long {
                    Some(timeout_us.map_or(PARK_US, |t| t.min(PARK_US)))
                } else if WATCHERS.load(Ordering::SeqCst) > 0 {
                    timeout_us
                } else {
                    Some(0)
                };
                let _ = sys::poll_us(&mut fds[..1], t);
                PARKED_LONG.store(false, Ordering::SeqCst);
            } else {
                let _ = sys::poll_us(&mut fds, timeout_us);
            }
            // A wakeup only asks to recompute the timeout.
            if fds[0].revents != 0 {
                let _ = sys::eventfd_drain(self.wake_fd());
            }
            let mut st = self.lock();
            self.pump(&mut st, &mut pkt);
        }
    }

    /// Drain the device (one lock round per batch, not per packet), run
    /// due timers, and flush if anything happened. Whoever holds the lock
    /// may do it: the stack thread, or a blocked caller spinning (`spin`).
    /// Reading under the lock keeps packets in the order they came.
    fn pump(&self, st: &mut State, pkt: &mut [u8]) {
        let now = self.now();
        let mut busy = false;
        for _ in 0..256 {
            match sys::read(self.tun_fd, pkt) {
                Ok(n) if n > 0 => {
                    faults::receive(st, now, &pkt[..n], self.vnet_hdr);
                    busy = true;
                }
                _ => break,
            }
        }
        // Another thread or process may have handled the timer or read
        // the packets: nothing to flush then.
        if st.stack.poll_at().is_some_and(|t| t <= now) {
            st.stack.handle_timeout(now);
            busy = true;
        }
        busy |= faults::release(st, now, |p| {
            let _ = sys::write(self.tun_fd, p);
        });
        if busy {
            self.flush(st);
        }
    }

    /// The waker thread: sleeps on the shared generation counter and, when
    /// another process changed the stack, wakes this process's blocked
    /// callers and (for an earlier timer) its stack thread.
    fn waker_main(&self, mut seen: u32) {
        let sh = self.shared;
        loop {
            shm::futex_wait(&sh.gen, seen, None);
            let g = sh.gen.load(Ordering::Acquire);
            if g == seen {
                continue;
            }
            seen = g;
            // A flush of this process already woke our callers.
            if LOCAL_GEN.load(Ordering::Relaxed) != g {
                signal_waiters();
            }
            let d = sh.deadline.load(Ordering::Relaxed);
            if d < THREAD_DEADLINE.load(Ordering::Relaxed) {
                THREAD_DEADLINE.store(d, Ordering::Relaxed);
                sys::eventfd_signal(self.wake_fd());
            }
        }
    }

    /// Drop the holds of processes that died without running their exit
    /// path (SIGKILL, _exit): their last sockets close.
    fn reap(&self, st: &mut State) {
        let me = crate::fd::pid();
        let mut pids = st.fds.holder_pids();
        pids.extend(st.procs.iter().copied());
        pids.sort_unstable();
        pids.dedup();
        let now = self.now();
        let mut changed = false;
        for p in pids {
            if p == me || alive(p) {
                continue;
            }
            for id in st.fds.drop_pid(p) {
                let _ = st.stack.close(now, id, false);
                epoll::socket_gone(st, id);
            }
            epoll::process_gone(st, p);
            st.procs.retain(|x| *x != p);
            changed = true;
        }
        if changed {
            self.shared.nprocs.store(st.procs.len().max(1) as u32, Ordering::Relaxed);
            self.flush(st);
        }
    }

    /// Block the calling thread until the stack changes or `timeout`
    /// passes. Err(EINTR) if a signal handler without SA_RESTART ran (or
    /// any handler, with a timeout: socket timeouts are never restarted).
    ///
    /// The caller watches the TUN itself while it waits, so that what it
    /// waits for is handled by the thread that wants it, with no hand-off
    /// from the stack thread (its wakeup, the lock, an eventfd wakeup):
    /// - a thread woken from a wait moments ago (a request/response or a
    ///   transfer under way: the answer is likely microseconds off) first
    ///   polls the TUN for up to `UTCP_SPIN_US` without sleeping;
    /// - then it sleeps in poll() on its eventfd (signalled by any flush
    ///   that may change readiness), the TUN and its signalfd; a packet
    ///   wakes it and it handles the packet under the lock.
    ///
    /// Meanwhile this process's stack thread keeps off the TUN (see
    /// `thread_main`). Signals are blocked for the wait and watched with
    /// the signalfd: one that came is delivered by restoring the mask and
    /// ends the wait with EINTR, or (a handler with SA_RESTART, no
    /// timeout) the wait goes on, which is what the kernel's restart does.
    pub fn wait<'a>(&'a self, st: Guard<'a>, timeout: Option<Duration>) -> (Guard<'a>, Result<(), c_int>) {
        let start = mono_us();
        let deadline = timeout.map(|t| start.saturating_add(t.as_micros().min(u64::MAX as u128) as u64));
        // No thread-locals left (the exit path): sleep on the eventfd alone.
        let recent = LAST_WAKE.try_with(|w| w.get()).ok();
        let sigfd = SIGFD.try_with(|f| {
            if f.get() < 0 {
                f.set(signal_fd());
            }
            f.get()
        });
        let (Some(recent), Ok(sigfd)) = (recent, sigfd) else { return self.sleep(st, timeout) };
        if sigfd < 0 {
            return self.sleep(st, timeout);
        }
        let spin_until = if start.saturating_sub(recent) <= ACTIVE_US { start + self.cfg.spin_us } else { start };
        let gen0 = self.shared.gen.load(Ordering::Acquire);
        // Registered as a waiter only for the sleep: the spin watches
        // the generation counter, and a spin that ends the wait so costs
        // no eventfd signal and drain.
        let mut efd = None;
        let mut old: libc::sigset_t = block_signals();
        drop(st);
        WATCHERS.fetch_add(1, Ordering::SeqCst);
        let mut pkt = SPIN_BUF.try_with(|b| b.take()).unwrap_or_default();
        if pkt.len() < tun::MAX_FRAME {
            pkt = vec![0u8; tun::MAX_FRAME];
        }
        let r = loop {
            if self.shared.gen.load(Ordering::Acquire) != gen0 {
                break Ok(());
            }
            let now = mono_us();
            if deadline.is_some_and(|d| now >= d) {
                break Err(libc::EAGAIN);
            }
            if now < spin_until {
                let mut g = self.lock();
                self.pump(&mut g, &mut pkt);
                drop(g);
                core::hint::spin_loop();
                continue;
            }
            let efd = match efd {
                Some(e) => e,
                None => {
                    // Under the lock, then checked again: a flush after
                    // the last look signals the eventfd.
                    let mut g = self.lock();
                    let Some(e) = self.add_waiter(&mut g) else { break Err(libc::ENOMEM) };
                    efd = Some(e);
                    if self.shared.gen.load(Ordering::Acquire) != gen0 {
                        break Ok(());
                    }
                    e
                }
            };
            let mut fds = [
                libc::pollfd { fd: efd, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: sigfd, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: self.tun_fd, events: libc::POLLIN, revents: 0 },
            ];
            // Rounded up, so the wait never ends early and spins.
            let ms = deadline.map_or(-1, |d| (d - now).div_ceil(1000).min(i32::MAX as u64) as c_int);
            let _ = sys::poll(&mut fds, ms);
            if fds[1].revents != 0 {
                let interrupts = signal_interrupts(&old, timeout.is_some());
                // Deliver them: their handlers run now.
                restore_signals(&old);
                if interrupts {
                    break Err(libc::EINTR);
                }
                old = block_signals();
            }
            if fds[2].revents != 0 {
                let mut g = self.lock();
                self.pump(&mut g, &mut pkt);
            }
        };
        let _ = SPIN_BUF.try_with(|b| b.replace(pkt));
        restore_signals(&old);
        let mut st = self.lock();
        if let Some(e) = efd {
            self.remove_waiter(&mut st, e);
        }
        let end = mono_us();
        let _ = LAST_WAKE.try_with(|w| w.set(end));
        ACTIVE_SEEN.store(end, Ordering::SeqCst);
        // The last watcher leaving a stack thread parked for long (the
        // wait was idle): it must watch the TUN again.
        if WATCHERS.fetch_sub(1, Ordering::SeqCst) == 1 && PARKED_LONG.load(Ordering::SeqCst) {
            sys::eventfd_signal(self.wake_fd());
        }
        (st, r)
    }

    /// Sleep on this thread's eventfd alone until a flush signals it (a
    /// blocking read: the kernel restarts it under SA_RESTART).
    fn sleep<'a>(&'a self, mut st: Guard<'a>, timeout: Option<Duration>) -> (Guard<'a>, Result<(), c_int>) {
        let Some(efd) = self.add_waiter(&mut st) else { return (st, Err(libc::ENOMEM)) };
        drop(st);
        let r = match timeout {
            None => sys::eventfd_drain(efd).map(|_| ()),
            Some(t) => {
                let mut p = [libc::pollfd { fd: efd, events: libc::POLLIN, revents: 0 }];
                match sys::poll(&mut p, t.as_millis().min(i32::MAX as u128) as c_int) {
                    Ok(0) => Err(libc::EAGAIN),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        };
        let mut st = self.lock();
        self.remove_waiter(&mut st, efd);
        (st, r)
    }
}

/// Block every signal for this thread; returns the mask to restore.
fn block_signals() -> libc::sigset_t {
    // SAFETY: plain sigset manipulation on local values.
    unsafe {
        let mut all: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    }
}

fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: restoring a mask saved by block_signals; pending signals
    // are delivered to their handlers here.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, core::ptr::null_mut()) };
}

/// A signalfd for every signal (readable while one is pending and
/// blocked), for `Runtime::wait`; -1 if it cannot be made.
fn signal_fd() -> c_int {
    // SAFETY: a full local sigset; signalfd(-1, ...) makes a new fd.
    unsafe {
        let mut all: libc::sigset_t = core::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::signalfd(-1, &all, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
    }
}

/// Did a signal that came while signals were blocked (`old`: the mask to
/// restore) have a handler that interrupts a wait: any handler when the
/// wait has a timeout (socket timeouts are never restarted), one without
/// SA_RESTART otherwise? Ignored and default-action signals do not
/// interrupt (a default action that kills ends everything anyway).
fn signal_interrupts(old: &libc::sigset_t, has_timeout: bool) -> bool {
    // SAFETY: sigpending and sigaction(sig, NULL, &mut out) only write
    // the local values; sigismember reads them.
    unsafe {
        let mut pend: libc::sigset_t = core::mem::zeroed();
        if libc::sigpending(&mut pend) != 0 {
            return false;
        }
        (1..=libc::SIGRTMAX()).any(|sig| {
            if libc::sigismember(&pend, sig) != 1 || libc::sigismember(old, sig) == 1 {
                return false;
            }
            let mut sa: libc::sigaction = core::mem::zeroed();
            if libc::sigaction(sig, core::ptr::null(), &mut sa) != 0 {
                return false;
            }
            let h = sa.sa_sigaction;
            h != libc::SIG_IGN && h != libc::SIG_DFL && (has_timeout || sa.sa_flags & libc::SA_RESTART == 0)
        })
    }
}

/// This process's threads in `Runtime::wait` (they watch the TUN), when
/// one last left it (µs), and whether the stack thread is parked off the
/// TUN until its timer (see `thread_main`).
static WATCHERS: AtomicU32 = AtomicU32::new(0);
static ACTIVE_SEEN: AtomicU64 = AtomicU64::new(0);
static PARKED_LONG: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
/// How often a stack thread parked among active callers looks at the
/// TUN (µs).
const PARK_US: u64 = 1000;

/// A thread woken from a wait less than this many µs ago is in an active
/// exchange: its next wait spins first (`Runtime::spin`).
const ACTIVE_US: u64 = 1000;

/// The thread running the exit path or an exec (0: none); the process's
/// other threads keep out of the shared lock: see `Runtime::lock`.
static STOPPER: AtomicU32 = AtomicU32::new(0);

/// Before an exec: let every other thread of this process leave the
/// shared lock and keep out of it, so that exec (which kills them) never
/// cuts a change to the shared stack in half. The sockets stay held by
/// this pid; the new image takes them back (`exec_attach`).
pub fn exec_prepare() {
    let Some(rt) = running() else { return };
    // SAFETY: getpid takes no arguments.
    let real_pid = unsafe { libc::syscall(libc::SYS_getpid) } as u32;
    if real_pid != crate::fd::pid() {
        // A vfork child (no atfork handler ran): it runs in its parent's
        // memory, holds no socket, and the parent's threads must not be
        // parked by what it writes here.
        return;
    }
    let st = rt.lock();
    STOPPER.store(gettid(), Ordering::Release);
    drop(st);
}

/// The exec failed: the other threads carry on.
pub fn exec_failed() {
    if STOPPER.load(Ordering::Acquire) == gettid() {
        STOPPER.store(0, Ordering::Release);
        shm::futex_wake_all(&STOPPER);
    }
}

fn gettid() -> u32 {
    // SAFETY: gettid takes no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// Is process `pid` alive? kill(pid, 0) (EPERM still means alive), and
/// not a zombie: a child that _exit()ed and was not waited for yet holds
/// nothing any more. The zombie check reads /proc/PID/stat, only when
/// /proc belongs to our PID namespace (`unshare -p` without a new /proc
/// shows another namespace's processes).
fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if r != 0 && sys::errno() == libc::ESRCH {
        return false;
    }
    if !proc_is_ours() {
        return true;
    }
    let Ok(path) = std::ffi::CString::new(format!("/proc/{pid}/stat")) else { return true };
    let Some(stat) = sys::read_file(&path) else { return true };
    let text = String::from_utf8_lossy(&stat);
    // "pid (comm) S ...": the state follows the last ')'.
    let state = text.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z') | Some('X'))
}

/// Does /proc show our own PID namespace (/proc/self is our pid)?
fn proc_is_ours() -> bool {
    let mut buf = [0u8; 32];
    // SAFETY: readlink into a local buffer of its length.
    let n = unsafe { libc::syscall(libc::SYS_readlinkat, libc::AT_FDCWD, c"/proc/self".as_ptr(), buf.as_mut_ptr(), buf.len()) };
    n > 0 && core::str::from_utf8(&buf[..n as usize]).ok().and_then(|s| s.parse::<u32>().ok()) == Some(crate::fd::refresh_pid())
}

const REAP_EVERY: Duration = Duration::from_secs(1);

/// The flush generation this process produced last (its waker skips it).
static LOCAL_GEN: AtomicU32 = AtomicU32::new(0);
/// When this process's stack thread wakes next (µs; u64::MAX: never).
static THREAD_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);

/// This process's blocked callers' eventfds (thread waiters and epoll
/// instances), -1 for a free slot. Private and heap-free; `WAITERS_LOCK`
/// keeps a signal from racing with the close of an epoll's eventfd.
const MAX_WAITERS: usize = 4096;
static WAITERS: [AtomicI32; MAX_WAITERS] = [const { AtomicI32::new(-1) }; MAX_WAITERS];
static WAITERS_HI: AtomicUsize = AtomicUsize::new(0);
static WAITERS_LOCK: FutexLock = FutexLock::new();

pub fn waiter_add(efd: c_int) -> bool {
    WAITERS_LOCK.lock();
    let hi = WAITERS_HI.load(Ordering::Relaxed);
    let free = (0..hi).find(|i| WAITERS[*i].load(Ordering::Relaxed) < 0).or((hi < MAX_WAITERS).then_some(hi));
    if let Some(i) = free {
        WAITERS[i].store(efd, Ordering::Relaxed);
        WAITERS_HI.store(hi.max(i + 1), Ordering::Relaxed);
    }
    WAITERS_LOCK.unlock();
    free.is_some()
}

pub fn waiter_remove(efd: c_int) {
    WAITERS_LOCK.lock();
    let hi = WAITERS_HI.load(Ordering::Relaxed);
    if let Some(i) = (0..hi).find(|i| WAITERS[*i].load(Ordering::Relaxed) == efd) {
        WAITERS[i].store(-1, Ordering::Relaxed);
        if i + 1 == hi {
            let mut h = i;
            while h > 0 && WAITERS[h - 1].load(Ordering::Relaxed) < 0 {
                h -= 1;
            }
            WAITERS_HI.store(h, Ordering::Relaxed);
        }
    }
    WAITERS_LOCK.unlock();
}

fn signal_waiters() {
    WAITERS_LOCK.lock();
    for w in &WAITERS[..WAITERS_HI.load(Ordering::Relaxed)] {
        let fd = w.load(Ordering::Relaxed);
        if fd >= 0 {
            sys::eventfd_signal(fd);
        }
    }
    WAITERS_LOCK.unlock();
}

impl Runtime {
    /// Register this thread as a waiter (under the lock, so no wakeup is
    /// lost) and return its eventfd; pair with `remove_waiter`.
    pub fn add_waiter(&self, _st: &mut State) -> Option<c_int> {
        let efd = waiter_fd();
        (efd >= 0 && waiter_add(efd)).then_some(efd)
    }

    pub fn remove_waiter(&self, _st: &mut State, efd: c_int) {
        waiter_remove(efd);
        // Leave the counter at zero for the next wait.
        let mut p = [libc::pollfd { fd: efd, events: libc::POLLIN, revents: 0 }];
        if sys::poll(&mut p, 0).is_ok_and(|n| n > 0) {
            let _ = sys::eventfd_drain(efd);
        }
    }
}

thread_local! {
    static WAITER: Cell<c_int> = const { Cell::new(-1) };
    /// When this thread's last wait ended (µs, CLOCK_MONOTONIC).
    static LAST_WAKE: Cell<u64> = const { Cell::new(0) };
    /// This thread's signalfd for waits (`Runtime::wait`).
    static SIGFD: Cell<c_int> = const { Cell::new(-1) };
    /// This thread's packet buffer for waits (private heap).
    static SPIN_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// This thread's eventfd for blocking waits (blocking mode: a read sleeps).
fn waiter_fd() -> c_int {
    WAITER.with(|w| {
        if w.get() < 0 {
            w.set(sys::eventfd(libc::EFD_CLOEXEC).unwrap_or(-1));
        }
        w.get()
    })
}

/// How long an exiting process keeps its stack running so that closing
/// connections finish their FIN exchange (the kernel would carry on alone).
const EXIT_LINGER: Duration = Duration::from_millis(500);

/// The process is exiting: it releases its own holds only. A socket whose
/// last holder this was closes (FIN, or RST with unread data), as the
/// kernel does when a process exits. If no other process is left to run
/// the stack, it runs on briefly until each close has reached TIME-WAIT
/// or CLOSED.
extern "C" fn at_exit() {
    let Some(rt) = running() else { return };
    let _g = sys::ErrnoGuard::new();
    let mut st = rt.lock();
    let now = rt.now();
    let ids = st.fds.close_all();
    for id in ids {
        let _ = st.stack.close(now, id, false);
        epoll::socket_gone(&mut st, id);
    }
    let me = crate::fd::pid();
    epoll::process_gone(&mut st, me);
    st.procs.retain(|p| *p != me);
    let others = st.procs.len();
    rt.shared.nprocs.store(others.max(1) as u32, Ordering::Relaxed);
    rt.flush(&mut st);
    if others > 0 {
        // The other processes' stack threads carry on. From now on only
        // this thread of the process takes the lock (set while holding it).
        STOPPER.store(gettid(), Ordering::Release);
        return;
    }
    let deadline = rt.now() + EXIT_LINGER;
    while st.stack.closing_count() > 0 {
        let now = rt.now();
        if now >= deadline {
            break;
        }
        let (g, _) = rt.wait(st, Some(deadline - now));
        st = g;
    }
    faults::exit_report(&st, &rt.cfg);
    STOPPER.store(gettid(), Ordering::Release);
}

/// The fork this process is making: the token its child claims holds by.
static FORK_TOKEN: AtomicU32 = AtomicU32::new(0);
static FORK_SEQ: AtomicU32 = AtomicU32::new(0);

/// pthread_atfork prepare: take the shared lock (so no fd of this process
/// changes until the copy is made) and add a hold, under a fresh token,
/// for every fd the child will inherit. The lock stays held across fork:
/// the parent handler releases it (the lock word is shared, so the child
/// must not unlock it too).
extern "C" fn fork_prepare() {
    let Some(rt) = running() else { return };
    let _g = sys::ErrnoGuard::new();
    rt.shared.lock.lock();
    let seq = FORK_SEQ.fetch_add(1, Ordering::Relaxed) & 0xff;
    let token = crate::fd::TOKEN_BIT | ((crate::fd::pid() & 0x3f_ffff) << 8) | seq;
    FORK_TOKEN.store(token, Ordering::Relaxed);
    // SAFETY: the lock is held.
    let st = unsafe { &mut *rt.shared.state.get() };
    shm::in_shared(|| st.fds.fork_prepare(token));
    // The child counts as a process from now on: flushes wake the others.
    rt.shared.nprocs.fetch_add(1, Ordering::Relaxed);
}

extern "C" fn fork_parent() {
    let Some(rt) = running() else { return };
    rt.shared.lock.unlock();
}

/// pthread_atfork child: only the forking thread exists. Forget the
/// parent's waiters, make this process's own eventfds, claim the holds
/// the parent took for us (waiting for the parent to release the lock),
/// and start this process's stack and waker threads.
extern "C" fn fork_child() {
    let Some(rt) = running() else { return };
    let _g = sys::ErrnoGuard::new();
    let me = crate::fd::refresh_pid();
    // Private locks may have been held by threads that do not exist here.
    WAITERS_LOCK.reset();
    for w in &WAITERS {
        w.store(-1, Ordering::Relaxed);
    }
    WAITERS_HI.store(0, Ordering::Relaxed);
    // The inherited waiter eventfds are the parent's (shared kernel
    // objects): signals meant for one process must not wake the other.
    let old = WAITER.with(|w| w.replace(-1));
    if old >= 0 {
        let _ = sys::close(old);
    }
    if let Ok(fd) = sys::eventfd(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) {
        let old = rt.wake_fd.swap(fd, Ordering::Relaxed);
        let _ = sys::close(old);
    }
    THREAD_DEADLINE.store(u64::MAX, Ordering::Relaxed);
    LOCAL_GEN.store(0, Ordering::Relaxed);
    // Waits of the parent's other threads do not exist here.
    WATCHERS.store(0, Ordering::SeqCst);
    ACTIVE_SEEN.store(0, Ordering::SeqCst);
    PARKED_LONG.store(false, Ordering::SeqCst);
    let gen_seen = {
        let mut st = rt.lock();
        let token = FORK_TOKEN.load(Ordering::Relaxed);
        st.fds.fork_claim(token, me);
        st.procs.push(me);
        let n = st.procs.len();
        rt.shared.nprocs.store(n as u32, Ordering::Relaxed);
        rt.shared.gen.load(Ordering::Acquire)
    };
    if let Err(e) = start_threads(gen_seen) {
        sys::log(&format!("{e}\n"));
    }
}

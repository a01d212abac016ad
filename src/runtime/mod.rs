//! The runtime: one stack per process, its TUN device, the thread that
//! reads the device and runs timers, and the waits of blocked callers.
//!
//! Application threads call the stack directly under one mutex and send
//! what their call produced at once; the stack thread handles incoming
//! packets and timers. A blocked caller sleeps in a kernel read of its own
//! eventfd, so signals interrupt it exactly as they would a kernel socket
//! call (restarted under SA_RESTART, EINTR otherwise).

pub mod config;
pub mod epoll;
pub mod fdops;
pub mod inet6;
pub mod ops;
pub mod select;
pub mod tcp_info;
pub mod tun;

use crate::fd::FdTable;
use crate::sys;
use config::{Config, LogLevel};
use core::ffi::c_int;
use core::time::Duration;
use std::cell::Cell;
use std::sync::{Mutex, MutexGuard, OnceLock};
use utcp_core::stack::{Stack, StackConfig};
use utcp_core::trace::PcapWriter;
use utcp_core::Instant;

pub struct Runtime {
    pub state: Mutex<State>,
    pub cfg: Config,
    tun_fd: c_int,
    /// Wakes the stack thread when a caller armed an earlier timer.
    wake_fd: c_int,
    epoch: std::time::Instant,
}

pub struct State {
    pub stack: Stack,
    pub fds: FdTable,
    /// Eventfds of callers blocked until something changes.
    pub waiters: Vec<c_int>,
    /// utcp members of each epoll instance (runtime/epoll.rs).
    pub epolls: epoll::Table,
    pcap: Option<PcapWriter<FdWriter>>,
    /// The deadline the stack thread sleeps until.
    thread_deadline: Option<Instant>,
    buf: Vec<u8>,
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
    let tun = tun::open(&cfg)?;
    enable_forwarding(&cfg);
    let wake_fd = sys::eventfd(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK).map_err(|e| format!("utcp: eventfd: {e}"))?;
    let mut scfg = StackConfig::new(tun.addr);
    scfg.mtu = tun.mtu;
    scfg.tcp.syn_retries = cfg.syn_retries;
    scfg.seed = entropy();
    let mut stack = Stack::new(scfg);
    stack.set_tracing(cfg.trace || cfg.pcap.is_some());
    let pcap = match &cfg.pcap {
        Some(path) => {
            let cpath = std::ffi::CString::new(path.as_str()).map_err(|_| format!("utcp: UTCP_PCAP={path:?}: not a path"))?;
            let fd = sys::open(&cpath, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC)
                .map_err(|e| format!("utcp: UTCP_PCAP={path:?}: cannot create: {}", std::io::Error::from_raw_os_error(e)))?;
            Some(PcapWriter::new(FdWriter(fd)).map_err(|e| format!("utcp: UTCP_PCAP={path:?}: {e}"))?)
        }
        None => None,
    };
    if cfg.log >= LogLevel::Info {
        sys::log(&format!("utcp: {} up: utcp {} <-> kernel {}/{} mtu {}\n", tun.name, tun.addr, tun.peer, tun.prefix, tun.mtu));
    }
    let rt = Runtime {
        state: Mutex::new(State {
            stack,
            fds: FdTable::default(),
            waiters: Vec::new(),
            epolls: epoll::Table::default(),
            pcap,
            thread_deadline: None,
            buf: vec![0u8; 65536],
        }),
        cfg,
        tun_fd: tun.fd,
        wake_fd,
        epoch: std::time::Instant::now(),
    };
    // The stack thread blocks every signal (it inherits the mask it is
    // created with), so process-directed signals such as SIGALRM reach the
    // program's own threads, as they would without utcp.
    // SAFETY: plain sigset manipulation on local values.
    let mut all: libc::sigset_t = unsafe { core::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
    }
    let spawned = std::thread::Builder::new()
        .name("utcp".into())
        .spawn(|| {
            // Waits for this initialisation to finish, then runs forever.
            if let Ok(rt) = get() {
                rt.thread_main()
            }
        });
    // SAFETY: restoring the caller's mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut()) };
    spawned.map_err(|e| format!("utcp: cannot start the stack thread: {e}"))?;
    // SAFETY: registering a plain extern "C" function with atexit.
    unsafe { libc::atexit(at_exit) };
    Ok(rt)
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
        Instant::from_micros(self.epoch.elapsed().as_micros() as u64)
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic, which aborts in release builds.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Send what the stack has to send, report trace events, wake
    /// blocked callers, and make sure the stack thread wakes in time.
    pub fn flush(&self, st: &mut State) {
        let now = self.now();
        let State { stack, buf, .. } = st;
        while let Some(n) = stack.poll_transmit(now, buf) {
            // A full device queue or a device that went down loses the
            // packet, like a link would; TCP retransmits.
            let _ = sys::write(self.tun_fd, &buf[..n]);
        }
        self.report(st);
        for &w in &st.waiters {
            sys::eventfd_signal(w);
        }
        let next = st.stack.poll_at();
        if next.is_some() && (st.thread_deadline.is_none() || next < st.thread_deadline) {
            st.thread_deadline = next;
            sys::eventfd_signal(self.wake_fd);
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

    /// The stack thread: packets in, timers, packets out.
    fn thread_main(&self) {
        let mut pkt = vec![0u8; 65536 + 64];
        loop {
            let timeout_ms = {
                let mut st = self.lock();
                let next = st.stack.poll_at();
                st.thread_deadline = next;
                match next {
                    None => -1,
                    Some(t) => {
                        let now = self.now();
                        if t <= now {
                            0
                        } else {
                            // Round up so we never wake early and spin.
                            ((t.as_micros() - now.as_micros()).div_ceil(1000)).min(60_000) as c_int
                        }
                    }
                }
            };
            let mut fds = [
                libc::pollfd { fd: self.tun_fd, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: self.wake_fd, events: libc::POLLIN, revents: 0 },
            ];
            let _ = sys::poll(&mut fds, timeout_ms);
            if fds[1].revents != 0 {
                let _ = sys::eventfd_drain(self.wake_fd);
            }
            let mut st = self.lock();
            let now = self.now();
            // Drain the device: one lock round per batch, not per packet.
            for _ in 0..256 {
                match sys::read(self.tun_fd, &mut pkt) {
                    Ok(n) if n > 0 => st.stack.receive(now, &pkt[..n]),
                    _ => break,
                }
            }
            st.stack.handle_timeout(now);
            self.flush(&mut st);
        }
    }

    /// Block the calling thread until the stack changes or `timeout`
    /// passes. Err(EINTR) if a signal handler without SA_RESTART ran (or
    /// any handler, with a timeout: socket timeouts are never restarted).
    pub fn wait<'a>(&'a self, mut st: MutexGuard<'a, State>, timeout: Option<Duration>) -> (MutexGuard<'a, State>, Result<(), c_int>) {
        let Some(efd) = self.add_waiter(&mut st) else { return (st, Err(libc::ENOMEM)) };
        drop(st);
        let r = match timeout {
            // A blocking read: the kernel restarts it under SA_RESTART.
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

impl Runtime {
    /// Register this thread as a waiter (under the lock, so no wakeup is
    /// lost) and return its eventfd; pair with `remove_waiter`.
    pub fn add_waiter(&self, st: &mut State) -> Option<c_int> {
        let efd = waiter_fd();
        (efd >= 0).then(|| {
            st.waiters.push(efd);
            efd
        })
    }

    pub fn remove_waiter(&self, st: &mut State, efd: c_int) {
        if let Some(i) = st.waiters.iter().position(|w| *w == efd) {
            st.waiters.swap_remove(i);
        }
        // Leave the counter at zero for the next wait.
        let mut p = [libc::pollfd { fd: efd, events: libc::POLLIN, revents: 0 }];
        if sys::poll(&mut p, 0).is_ok_and(|n| n > 0) {
            let _ = sys::eventfd_drain(efd);
        }
    }
}

thread_local! {
    static WAITER: Cell<c_int> = const { Cell::new(-1) };
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

/// The process is exiting: every open connection sends its FIN (or RST
/// with unread data), as the kernel does when a process exits, and the
/// stack runs on briefly until each close has reached TIME-WAIT or CLOSED.
extern "C" fn at_exit() {
    let Some(rt) = running() else { return };
    let _g = sys::ErrnoGuard::new();
    let mut st = rt.lock();
    let now = rt.now();
    let ids = st.fds.close_all();
    for id in ids {
        let _ = st.stack.close(now, id, false);
    }
    rt.flush(&mut st);
    let deadline = rt.now() + EXIT_LINGER;
    while st.stack.closing_count() > 0 {
        let now = rt.now();
        if now >= deadline {
            break;
        }
        let (g, _) = rt.wait(st, Some(deadline - now));
        st = g;
    }
}


//! Memory shared by every process of a program tree, so that fork works.
//!
//! # Design (fork)
//!
//! After fork, parent and child must serve the same sockets from ONE stack:
//! a connection's state cannot be copied (both copies would answer the
//! peer). So the stack lives in shared memory:
//!
//! - [`Arena`]: one `MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE` mapping
//!   (address space reserved once, pages touched on demand) made when the
//!   runtime starts. fork keeps it at the same address in the child, so the
//!   pointers inside the stack stay valid in every process. Blocks come in
//!   power-of-two size classes (16 B and up) with an intrusive free list
//!   per class and a bump pointer; `dealloc` knows the class from the
//!   `Layout`. Its header holds a process-shared futex lock.
//! - The library's `#[global_allocator]` ([`Alloc`]) sends an allocation to
//!   the arena while the calling thread holds the runtime's shared lock
//!   (the shared `State` is only ever touched under it, so everything the
//!   stack allocates lands there), and to the system allocator otherwise:
//!   per-process data (threads, std internals, the configuration) stays
//!   private and is copied by fork as usual. `dealloc` and `realloc` go by
//!   address, so a block always returns where it came from.
//! - [`FutexLock`]: a mutex whose futex calls do NOT use
//!   FUTEX_PRIVATE_FLAG, so it works between processes sharing the page.
//!   std's Mutex is process-private and guards no shared data here.
//!
//! Limits: a process killed while holding the lock (SIGKILL in the middle
//! of a call) leaves it held and freezes the others; memory freed to a
//! size class is reused by that class only.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::alloc::System;

/// Address space to reserve for the arena (pages are used on demand),
/// largest first: an address-space limit (`ulimit -v`, or valgrind, whose
/// guest address space cannot hold 64 GiB) refuses the first sizes, and a
/// smaller arena still serves a program with fewer connections.
const ARENA_SIZES: [usize; 4] = [64 << 30, 8 << 30, 1 << 30, 256 << 20];
const MIN_SHIFT: u32 = 4;
const CLASSES: usize = 40;
const PAGE: usize = 4096;

/// A process-shared futex mutex (Drepper's "mutex2": 0 free, 1 locked,
/// 2 locked with waiters), with the holder's thread id beside it: a waiter
/// that finds the holder dead (killed in the middle of a call) takes the
/// lock over instead of freezing every process.
#[repr(C)]
pub struct FutexLock {
    word: AtomicU32,
    owner: AtomicU32,
}

fn futex(word: &AtomicU32, op: libc::c_int, val: u32, timeout: *const libc::timespec) -> libc::c_long {
    // SAFETY: futex on a valid, aligned u32 word; no private flag, so the
    // kernel keys it by the shared page and works across processes.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), op, val, timeout, core::ptr::null::<u32>(), 0) }
}

/// Sleep while `*word == val` (or until a wakeup, a signal, `timeout`).
pub fn futex_wait(word: &AtomicU32, val: u32, timeout: Option<core::time::Duration>) {
    let ts;
    let tp = match timeout {
        None => core::ptr::null(),
        Some(d) => {
            ts = libc::timespec { tv_sec: d.as_secs() as _, tv_nsec: d.subsec_nanos() as _ };
            &ts as *const libc::timespec
        }
    };
    futex(word, libc::FUTEX_WAIT, val, tp);
}

pub fn futex_wake_all(word: &AtomicU32) {
    futex(word, libc::FUTEX_WAKE, i32::MAX as u32, core::ptr::null());
}

fn gettid() -> u32 {
    // SAFETY: gettid takes no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// Does thread `tid` still exist? (EPERM: it does.)
fn thread_alive(tid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(tid as libc::pid_t, 0) };
    r == 0 || crate::sys::errno() != libc::ESRCH
}

impl FutexLock {
    pub const fn new() -> Self {
        FutexLock { word: AtomicU32::new(0), owner: AtomicU32::new(0) }
    }

    pub fn lock(&self) {
        self.acquire();
        self.owner.store(gettid(), Ordering::Relaxed);
    }

    fn acquire(&self) {
        let mut c = match self.word.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return,
            Err(c) => c,
        };
        // A short spin first: the lock is held for microseconds.
        for _ in 0..100 {
            core::hint::spin_loop();
            if c == 0 {
                match self.word.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed) {
                    Ok(_) => return,
                    Err(x) => c = x,
                }
            } else {
                c = self.word.load(Ordering::Relaxed);
            }
        }
        if c != 2 {
            c = self.word.swap(2, Ordering::Acquire);
        }
        let mut waited = 0u32;
        while c != 0 {
            // A timeout, so that a wakeup lost to a holder that died
            // between its release and its wake costs 100 ms, not forever.
            futex_wait(&self.word, 2, Some(core::time::Duration::from_millis(100)));
            c = self.word.swap(2, Ordering::Acquire);
            waited += 1;
            if c != 0 && waited.is_multiple_of(10) {
                let o = self.owner.load(Ordering::Relaxed);
                if o != 0 && !thread_alive(o) {
                    // The holder died: the lock is ours now (word is 2).
                    crate::sys::log("utcp: a process died holding the shared lock; taking it over\n");
                    return;
                }
            }
        }
    }

    /// Forget any holder (a forked child, for a private lock that a
    /// thread which does not exist there held).
    pub fn reset(&self) {
        self.owner.store(0, Ordering::Relaxed);
        self.word.store(0, Ordering::Release);
    }

    pub fn unlock(&self) {
        self.owner.store(0, Ordering::Relaxed);
        if self.word.fetch_sub(1, Ordering::Release) != 1 {
            self.word.store(0, Ordering::Release);
            futex(&self.word, libc::FUTEX_WAKE, 1, core::ptr::null());
        }
    }
}

#[repr(C)]
struct Header {
    lock: FutexLock,
    /// Offset of the first never-used byte.
    bump: usize,
    /// Offset of the first free block of each class (0: none).
    free: [usize; CLASSES],
}

/// The arena's base address in this process (0: not made yet). fork
/// copies it, and the mapping is at the same address in the child.
static BASE: AtomicUsize = AtomicUsize::new(0);
/// The arena's size (one of `ARENA_SIZES`), set with `BASE`.
static SIZE: AtomicUsize = AtomicUsize::new(0);

/// Make the arena (once per program tree: a forked child inherits it).
pub fn init() -> Result<(), String> {
    if BASE.load(Ordering::Acquire) != 0 {
        return Ok(());
    }
    let mut mapped = None;
    for size in ARENA_SIZES {
        // SAFETY: a fresh anonymous mapping; raw syscall, no hooks involved.
        let p = unsafe {
            libc::syscall(
                libc::SYS_mmap,
                0usize,
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0usize,
            )
        };
        if p >= 0 && p as usize != usize::MAX {
            mapped = Some((p, size));
            break;
        }
    }
    let Some((p, size)) = mapped else {
        return Err(format!("utcp: cannot map the shared arena: {}", std::io::Error::from_raw_os_error(crate::sys::errno())));
    };
    SIZE.store(size, Ordering::Release);
    let base = p as usize;
    // SAFETY: the header sits at the start of the fresh (zeroed) mapping.
    unsafe { (*(base as *mut Header)).bump = PAGE };
    BASE.store(base, Ordering::Release);
    Ok(())
}

fn header() -> Option<&'static Header> {
    let b = BASE.load(Ordering::Acquire);
    // SAFETY: the header lives for the life of the process.
    (b != 0).then(|| unsafe { &*(b as *const Header) })
}

/// Is `p` a block of the arena?
pub fn contains(p: *const u8) -> bool {
    let b = BASE.load(Ordering::Relaxed);
    b != 0 && (p as usize) >= b && (p as usize) < b + SIZE.load(Ordering::Relaxed)
}

fn class_of(layout: Layout) -> usize {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    (size.next_power_of_two().trailing_zeros() - MIN_SHIFT) as usize
}

/// A block of the arena, or null when the arena is missing or full.
///
/// # Safety
/// As `GlobalAlloc::alloc`.
unsafe fn arena_alloc(layout: Layout) -> *mut u8 {
    let Some(h) = header() else { return core::ptr::null_mut() };
    let base = BASE.load(Ordering::Relaxed);
    let c = class_of(layout);
    if c >= CLASSES {
        return core::ptr::null_mut();
    }
    let size = 1usize << (c as u32 + MIN_SHIFT);
    let hp = h as *const Header as *mut Header;
    h.lock.lock();
    // SAFETY: the header and free blocks are only touched under its lock.
    let r = unsafe {
        let head = (*hp).free[c];
        if head != 0 && layout.align() <= PAGE {
            (*hp).free[c] = *((base + head) as *const usize);
            (base + head) as *mut u8
        } else {
            let align = size.min(PAGE).max(layout.align());
            let off = (*hp).bump.next_multiple_of(align);
            if off + size > SIZE.load(Ordering::Relaxed) {
                core::ptr::null_mut()
            } else {
                (*hp).bump = off + size;
                (base + off) as *mut u8
            }
        }
    };
    h.lock.unlock();
    r
}

/// # Safety
/// `p` came from `arena_alloc` with the same layout.
unsafe fn arena_free(p: *mut u8, layout: Layout) {
    let Some(h) = header() else { return };
    let base = BASE.load(Ordering::Relaxed);
    let c = class_of(layout);
    let hp = h as *const Header as *mut Header;
    h.lock.lock();
    // SAFETY: under the header lock; the block is at least 16 bytes.
    unsafe {
        *(p as *mut usize) = (*hp).free[c];
        (*hp).free[c] = p as usize - base;
    }
    h.lock.unlock();
}

thread_local! {
    /// How many shared-lock guards this thread holds (allocations go to
    /// the arena while > 0).
    static SHARED_MODE: Cell<u32> = const { Cell::new(0) };
}

pub fn enter_shared() {
    let _ = SHARED_MODE.try_with(|c| c.set(c.get() + 1));
}

pub fn leave_shared() {
    let _ = SHARED_MODE.try_with(|c| c.set(c.get().saturating_sub(1)));
}

fn shared_mode() -> bool {
    SHARED_MODE.try_with(|c| c.get() > 0).unwrap_or(false)
}

/// Run `f` with allocations going to the arena (to build shared data
/// outside a lock, e.g. the state itself at start).
pub fn in_shared<T>(f: impl FnOnce() -> T) -> T {
    enter_shared();
    let r = f();
    leave_shared();
    r
}

/// The library's allocator: the arena under the shared lock, the system's
/// otherwise; blocks go back where they came from.
pub struct Alloc;

// SAFETY: every block is served by exactly one of two correct allocators
// and returned to the one that owns its address.
unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if shared_mode() {
            // SAFETY: as GlobalAlloc::alloc.
            let p = unsafe { arena_alloc(layout) };
            if !p.is_null() {
                return p;
            }
            if header().is_some() {
                return p;
            }
        }
        // SAFETY: as GlobalAlloc::alloc.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as GlobalAlloc::alloc.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() && contains(p) {
            // SAFETY: p is valid for layout.size() bytes.
            unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
        } else if !p.is_null() {
            // System.alloc is not zeroed either.
            // SAFETY: as above.
            unsafe { core::ptr::write_bytes(p, 0, layout.size()) };
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if contains(p) {
            // SAFETY: p came from the arena with this layout.
            unsafe { arena_free(p, layout) }
        } else {
            // SAFETY: p came from System with this layout.
            unsafe { System.dealloc(p, layout) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !contains(p) {
            // SAFETY: as GlobalAlloc::realloc; private stays private.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        // SAFETY: the caller guarantees a valid new layout.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class_of(new) == class_of(layout) {
            return p;
        }
        // SAFETY: a shared block stays shared.
        let q = unsafe { arena_alloc(new) };
        if !q.is_null() {
            // SAFETY: both blocks are valid for the smaller size.
            unsafe {
                core::ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                arena_free(p, layout);
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(class_of(Layout::from_size_align(1, 1).unwrap()), 0);
        assert_eq!(class_of(Layout::from_size_align(16, 8).unwrap()), 0);
        assert_eq!(class_of(Layout::from_size_align(17, 8).unwrap()), 1);
        assert_eq!(class_of(Layout::from_size_align(8, 64).unwrap()), 2);
        assert_eq!(class_of(Layout::from_size_align(4096, 8).unwrap()), 8);
    }

    #[test]
    fn arena_blocks_are_reused_and_shared_across_fork_layouts() {
        init().unwrap();
        let l = Layout::from_size_align(100, 8).unwrap();
        // SAFETY: fresh blocks of the arena.
        unsafe {
            let a = arena_alloc(l);
            assert!(contains(a));
            a.write_bytes(7, 100);
            arena_free(a, l);
            let b = arena_alloc(l);
            assert_eq!(a, b);
            arena_free(b, l);
        }
    }
}

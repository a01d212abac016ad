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
//! - [`SharedMutex`]: a process-shared robust pthread mutex, so a process
//!   that dies holding it (SIGKILL, exit_group in the middle of a call)
//!   does not freeze the others.
//!
//! - exec: the arena is a memfd (inherited across execve: no
//!   MFD_CLOEXEC), mapped at [`FIXED_BASE`] when that address is free.
//!   A new image that finds the memfd among its fds ([`attach`]) maps it
//!   at the address recorded in the header, so the pointers inside stay
//!   valid; the runtime's root object is found through [`root`]. The
//!   shared data must therefore hold no pointer into a program image
//!   (no vtables, no `&'static` data, no function pointers, no HashMap:
//!   an empty one points at a static of the image): those addresses
//!   differ between images.
//!
//! Limits: a process killed in the middle of changing shared data leaves
//! it half changed (the next holder is told, and logs it); memory freed to
//! a size class is reused by that class only.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::alloc::System;

/// Address space to reserve for the arena (pages are used on demand),
/// largest first: an address-space limit (`ulimit -v`, or valgrind, whose
/// guest address space cannot hold 64 GiB) refuses the first sizes, and a
/// smaller arena still serves a program with fewer connections.
const ARENA_SIZES: [usize; 4] = [64 << 30, 8 << 30, 1 << 30, 256 << 20];
const MIN_SHIFT: u32 = 4;
const CLASSES: usize = 40;
const PAGE: usize = 4096;
/// Where the arena goes in every process (far below the usual mmap area
/// near 0x7fxx_xxxx_xxxx), so that an exec'd image can map it at the same
/// address. Elsewhere when taken; exec then works only if the new image
/// has that address free.
const FIXED_BASE: usize = 0x7e00_0000_0000;
const MAGIC: u64 = 0x7574_6370_6172_656e; // "utcparen"
/// The memfd's name, as /proc/self/fd shows it.
const MEMFD_NAME: &core::ffi::CStr = c"utcp-arena";
const MEMFD_LINK: &[u8] = b"/memfd:utcp-arena";
/// The memfd goes to the first free fd from here, out of the program's way.
const MEMFD_MIN_FD: i64 = 900;

/// A small futex mutex (Drepper's "mutex2": 0 free, 1 locked, 2 locked
/// with waiters) for process-private data: a forked child resets it.
pub struct FutexLock {
    word: AtomicU32,
}

fn futex(word: &AtomicU32, op: libc::c_int, val: u32, timeout: *const libc::timespec) -> libc::c_long {
    // SAFETY: futex on a valid, aligned u32 word; no private flag, so the
    // kernel keys a shared page's word by the page and works across processes.
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

impl FutexLock {
    pub const fn new() -> Self {
        FutexLock { word: AtomicU32::new(0) }
    }

    pub fn lock(&self) {
        let mut c = match self.word.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return,
            Err(c) => c,
        };
        if c != 2 {
            c = self.word.swap(2, Ordering::Acquire);
        }
        while c != 0 {
            futex_wait(&self.word, 2, None);
            c = self.word.swap(2, Ordering::Acquire);
        }
    }

    /// Forget any holder (in a forked child, where the thread that held it
    /// does not exist).
    pub fn reset(&self) {
        self.word.store(0, Ordering::Release);
    }

    pub fn unlock(&self) {
        if self.word.fetch_sub(1, Ordering::Release) != 1 {
            self.word.store(0, Ordering::Release);
            futex(&self.word, libc::FUTEX_WAKE, 1, core::ptr::null());
        }
    }
}

/// The lock of data shared between processes: a process-shared, robust
/// pthread mutex. Robust because a process can die holding it (exit_group
/// kills its other threads wherever they are, SIGKILL, exec): the kernel
/// walks each dying thread's robust list, marks the mutex owner-dead and
/// wakes a waiter, which gets EOWNERDEAD and takes it over. A hand-made
/// futex lock cannot close the window between taking the word and
/// recording its owner; glibc and the kernel do (`list_op_pending`).
///
/// It must be initialised in place (`init`) at its final address in the
/// shared mapping; fork keeps the address.
#[repr(C)]
pub struct SharedMutex(core::cell::UnsafeCell<libc::pthread_mutex_t>);

// SAFETY: a pthread mutex is made to be used from many threads (and, being
// process-shared, many processes); only its address is shared.
unsafe impl Sync for SharedMutex {}

impl SharedMutex {
    /// Unusable until `init` runs at the final address.
    pub const fn new() -> Self {
        SharedMutex(core::cell::UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER))
    }

    pub fn init(&self) {
        // SAFETY: a local attribute object, initialised, used, destroyed;
        // the mutex is not in use yet (it was just made, at this address).
        unsafe {
            let mut a: libc::pthread_mutexattr_t = core::mem::zeroed();
            libc::pthread_mutexattr_init(&mut a);
            libc::pthread_mutexattr_setpshared(&mut a, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_mutexattr_setrobust(&mut a, libc::PTHREAD_MUTEX_ROBUST);
            libc::pthread_mutex_init(self.0.get(), &a);
            libc::pthread_mutexattr_destroy(&mut a);
        }
    }

    pub fn lock(&self) {
        // SAFETY: an initialised mutex at a stable address.
        let r = unsafe { libc::pthread_mutex_lock(self.0.get()) };
        if r == libc::EOWNERDEAD {
            // The holder died; what it was changing may be half done, but
            // freezing every other process of the program would be worse.
            crate::sys::log("utcp: a thread died holding the shared lock; taking it over\n");
            // SAFETY: we hold the mutex (EOWNERDEAD returns it locked).
            unsafe { libc::pthread_mutex_consistent(self.0.get()) };
        }
    }

    pub fn unlock(&self) {
        // SAFETY: called by the holder only.
        unsafe { libc::pthread_mutex_unlock(self.0.get()) };
    }
}

#[repr(C)]
struct Header {
    magic: u64,
    /// The arena's address in every process that maps it.
    base: usize,
    /// Its size (one of `ARENA_SIZES`).
    size: usize,
    /// The runtime's shared root object (0: not made yet).
    root: AtomicUsize,
    lock: SharedMutex,
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

/// The arena's memfd in this process (-1: none, anonymous mapping).
static MEMFD: AtomicI32 = AtomicI32::new(-1);

fn raw_mmap(addr: usize, size: usize, flags: libc::c_int, fd: libc::c_int) -> Option<usize> {
    // SAFETY: a fresh shared mapping; raw syscall, no hooks involved.
    // MAP_FIXED_NOREPLACE never replaces an existing mapping.
    let p = unsafe { libc::syscall(libc::SYS_mmap, addr, size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED | libc::MAP_NORESERVE | flags, fd, 0usize) };
    if p < 0 || p as usize == usize::MAX {
        return None;
    }
    let p = p as usize;
    if addr != 0 && p != addr {
        // A kernel that ignores MAP_FIXED_NOREPLACE placed it elsewhere.
        // SAFETY: unmapping what we just mapped.
        unsafe { libc::syscall(libc::SYS_munmap, p, size) };
        return None;
    }
    Some(p)
}

fn raw_close(fd: libc::c_int) {
    // SAFETY: closing an fd we own.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

/// A memfd as large as the largest arena (sparse: pages are used on
/// demand), at a high fd number, or None.
fn make_memfd() -> Option<libc::c_int> {
    // SAFETY: memfd_create with a static name; no MFD_CLOEXEC (exec keeps it).
    let fd = unsafe { libc::syscall(libc::SYS_memfd_create, MEMFD_NAME.as_ptr(), 0) };
    if fd < 0 {
        return None;
    }
    let fd = fd as libc::c_int;
    // SAFETY: plain fd syscalls on our own fd.
    let ok = unsafe { libc::syscall(libc::SYS_ftruncate, fd, ARENA_SIZES[0] as i64) } == 0;
    if !ok {
        raw_close(fd);
        return None;
    }
    // SAFETY: as above; F_DUPFD's result has FD_CLOEXEC clear.
    let high = unsafe { libc::syscall(libc::SYS_fcntl, fd, libc::F_DUPFD, MEMFD_MIN_FD) };
    if high >= 0 {
        raw_close(fd);
        return Some(high as libc::c_int);
    }
    Some(fd)
}

/// Make the arena (once per program tree: a forked child inherits it).
pub fn init() -> Result<(), String> {
    if BASE.load(Ordering::Acquire) != 0 {
        return Ok(());
    }
    let memfd = make_memfd();
    // Largest size first, at the fixed address first (see ARENA_SIZES).
    let mapped = ARENA_SIZES.into_iter().find_map(|size| {
        let p = match memfd {
            Some(fd) => raw_mmap(FIXED_BASE, size, libc::MAP_FIXED_NOREPLACE, fd).or_else(|| raw_mmap(0, size, 0, fd)),
            None => raw_mmap(0, size, libc::MAP_ANONYMOUS, -1),
        };
        p.map(|p| (p, size))
    });
    let Some((base, size)) = mapped else {
        if let Some(fd) = memfd {
            raw_close(fd);
        }
        return Err(format!("utcp: cannot map the shared arena: {}", std::io::Error::from_raw_os_error(crate::sys::errno())));
    };
    SIZE.store(size, Ordering::Release);
    // SAFETY: the header sits at the start of the fresh (zeroed) mapping.
    unsafe {
        let h = base as *mut Header;
        (*h).bump = PAGE;
        (*h).base = base;
        (*h).size = size;
        (*h).magic = MAGIC;
        (*h).lock.init();
    }
    MEMFD.store(memfd.unwrap_or(-1), Ordering::Relaxed);
    BASE.store(base, Ordering::Release);
    Ok(())
}

/// After exec: map the arena inherited as a memfd, at its recorded
/// address. Returns the root object's address.
pub fn attach() -> Option<usize> {
    if BASE.load(Ordering::Acquire) != 0 {
        return None;
    }
    let fd = crate::sys::open_fds().into_iter().find(|fd| crate::sys::fd_link(*fd).is_some_and(|l| l.starts_with(MEMFD_LINK)))?;
    let mut hdr = [0u8; 24];
    // SAFETY: pread of 24 bytes into a local buffer.
    let n = unsafe { libc::syscall(libc::SYS_pread64, fd, hdr.as_mut_ptr(), 24usize, 0i64) };
    let word = |i: usize| u64::from_ne_bytes(hdr[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let (magic, base, size) = (word(0), word(1) as usize, word(2) as usize);
    if n != 24 || magic != MAGIC || base == 0 || !ARENA_SIZES.contains(&size) {
        return None;
    }
    let Some(p) = raw_mmap(base, size, libc::MAP_FIXED_NOREPLACE, fd) else {
        crate::sys::log("utcp: exec: the shared arena's address is taken in this image; inherited utcp sockets do not work here\n");
        return None;
    };
    SIZE.store(size, Ordering::Release);
    MEMFD.store(fd, Ordering::Relaxed);
    BASE.store(p, Ordering::Release);
    let root = header().map_or(0, |h| h.root.load(Ordering::Acquire));
    if root == 0 {
        detach();
        return None;
    }
    Some(root)
}

/// Undo [`attach`] (this image holds no utcp socket): unmap, close the memfd.
pub fn detach() {
    let b = BASE.swap(0, Ordering::AcqRel);
    if b != 0 {
        // SAFETY: unmapping the arena nothing in this image uses.
        unsafe { libc::syscall(libc::SYS_munmap, b, SIZE.load(Ordering::Relaxed)) };
    }
    let fd = MEMFD.swap(-1, Ordering::Relaxed);
    if fd >= 0 {
        raw_close(fd);
    }
}

/// Record the runtime's root object (in the arena).
pub fn set_root(p: usize) {
    if let Some(h) = header() {
        h.root.store(p, Ordering::Release);
    }
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

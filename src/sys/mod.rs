//! Calls into the kernel and into the real libc, never through our own
//! hooks: the library exports `read`, `write`, `close`, so its own I/O
//! must use raw syscalls or the real functions resolved with dlsym.

pub mod real;

use core::ffi::c_int;

/// The calling thread's errno.
pub fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

pub fn set_errno(e: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = e }
}

/// Restores errno when dropped: for paths that must not disturb it.
pub struct ErrnoGuard(c_int);

impl ErrnoGuard {
    pub fn new() -> Self {
        ErrnoGuard(errno())
    }
}

impl Drop for ErrnoGuard {
    fn drop(&mut self) {
        set_errno(self.0);
    }
}

/// A raw syscall's result: Ok(value) or Err(errno).
fn check(r: libc::c_long) -> Result<usize, c_int> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

pub fn read(fd: c_int, buf: &mut [u8]) -> Result<usize, c_int> {
    // SAFETY: the buffer is valid for writes of its length.
    check(unsafe { libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) })
}

pub fn write(fd: c_int, buf: &[u8]) -> Result<usize, c_int> {
    // SAFETY: the buffer is valid for reads of its length.
    check(unsafe { libc::syscall(libc::SYS_write, fd, buf.as_ptr(), buf.len()) })
}

pub fn close(fd: c_int) -> Result<usize, c_int> {
    // SAFETY: closing an fd we own; no memory is involved.
    check(unsafe { libc::syscall(libc::SYS_close, fd) })
}

pub fn eventfd(flags: c_int) -> Result<c_int, c_int> {
    // SAFETY: eventfd2 takes two integers.
    check(unsafe { libc::syscall(libc::SYS_eventfd2, 0, flags) }).map(|v| v as c_int)
}

/// Add one to an eventfd counter (wakes its reader).
pub fn eventfd_signal(fd: c_int) {
    let _ = write(fd, &1u64.to_ne_bytes());
}

/// Drain an eventfd (nonblocking ones return EAGAIN when empty).
pub fn eventfd_drain(fd: c_int) -> Result<u64, c_int> {
    let mut v = [0u8; 8];
    read(fd, &mut v).map(|_| u64::from_ne_bytes(v))
}

/// poll(2) without our hook. `timeout_ms` < 0 waits forever.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> Result<usize, c_int> {
    poll_us(fds, u64::try_from(timeout_ms).ok().map(|ms| ms * 1000))
}

/// poll(2) without our hook, with a timeout in µs (None: forever): for
/// waits that must end on a timer's deadline, not the next millisecond.
pub fn poll_us(fds: &mut [libc::pollfd], timeout_us: Option<u64>) -> Result<usize, c_int> {
    let ts;
    let tsp = match timeout_us {
        None => core::ptr::null(),
        Some(us) => {
            ts = libc::timespec { tv_sec: (us / 1_000_000) as _, tv_nsec: ((us % 1_000_000) * 1000) as _ };
            &ts as *const libc::timespec
        }
    };
    // SAFETY: fds is a valid array of its length; tsp is null or points to ts.
    check(unsafe { libc::syscall(libc::SYS_ppoll, fds.as_mut_ptr(), fds.len(), tsp, core::ptr::null::<u8>(), 8) })
}

pub fn ioctl(fd: c_int, req: libc::c_ulong, arg: *mut libc::c_void) -> Result<usize, c_int> {
    // SAFETY: the caller passes an argument of the type `req` expects.
    check(unsafe { libc::syscall(libc::SYS_ioctl, fd, req, arg) })
}

pub fn open(path: &core::ffi::CStr, flags: c_int) -> Result<c_int, c_int> {
    // SAFETY: path is a valid NUL-terminated string.
    check(unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags, 0o644) }).map(|v| v as c_int)
}

/// A whole (small) file, read with raw syscalls.
pub fn read_file(path: &core::ffi::CStr) -> Option<Vec<u8>> {
    let fd = open(path, libc::O_RDONLY | libc::O_CLOEXEC).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = read(fd, &mut buf) {
        if n == 0 || out.len() > 1 << 20 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let _ = close(fd);
    Some(out)
}

/// A kernel socket made without our `socket` hook (for ioctls on devices).
pub fn kernel_socket(domain: c_int, ty: c_int, proto: c_int) -> Result<c_int, c_int> {
    // SAFETY: socket takes three integers.
    check(unsafe { libc::syscall(libc::SYS_socket, domain, ty, proto) }).map(|v| v as c_int)
}

/// Write a message to stderr with one raw write: never through our hooks,
/// never allocating in the write path itself.
pub fn log(msg: &str) {
    let _g = ErrnoGuard::new();
    let mut rest = msg.as_bytes();
    while !rest.is_empty() {
        match write(2, rest) {
            Ok(n) if n > 0 => rest = &rest[n..],
            _ => break,
        }
    }
}

/// Where `/proc/self/fd/N` points ("anon_inode:[eventfd]", "/dev/net/tun"),
/// read with a raw syscall.
pub fn fd_link(fd: c_int) -> Option<Vec<u8>> {
    let path = std::ffi::CString::new(format!("/proc/self/fd/{fd}")).ok()?;
    let mut buf = [0u8; 256];
    // SAFETY: readlink into a local buffer of its length.
    let n = unsafe { libc::syscall(libc::SYS_readlinkat, libc::AT_FDCWD, path.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    (n > 0).then(|| buf[..n as usize].to_vec())
}

/// The fd numbers this process has open (from /proc/self/fd).
pub fn open_fds() -> Vec<c_int> {
    let mut out = Vec::new();
    // SAFETY: opendir/readdir/closedir on a local handle; none is hooked.
    unsafe {
        let d = libc::opendir(c"/proc/self/fd".as_ptr());
        if d.is_null() {
            return out;
        }
        let me = libc::dirfd(d);
        loop {
            let e = libc::readdir64(d);
            if e.is_null() {
                break;
            }
            let name = core::ffi::CStr::from_ptr((*e).d_name.as_ptr());
            if let Some(fd) = name.to_str().ok().and_then(|s| s.parse::<c_int>().ok()) {
                if fd != me {
                    out.push(fd);
                }
            }
        }
        libc::closedir(d);
    }
    out
}

/// Create `path` exclusively with `mode`, not following a symlink.
pub fn create_excl(path: &core::ffi::CStr, mode: libc::mode_t) -> Result<c_int, c_int> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: path is a valid NUL-terminated string.
    check(unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags, mode) }).map(|v| v as c_int)
}

pub fn fstat(fd: c_int) -> Result<libc::stat, c_int> {
    // SAFETY: stat is plain data; fstat fills it in whole on success.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: st is a valid, writable stat buffer.
    check(unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) }).map(|_| st)
}

/// link(2): a second name for `old`; EEXIST when `new` is taken.
pub fn link(old: &core::ffi::CStr, new: &core::ffi::CStr) -> Result<usize, c_int> {
    // SAFETY: both are valid NUL-terminated strings.
    check(unsafe { libc::syscall(libc::SYS_linkat, libc::AT_FDCWD, old.as_ptr(), libc::AT_FDCWD, new.as_ptr(), 0) })
}

pub fn unlink(path: &core::ffi::CStr) -> Result<usize, c_int> {
    // SAFETY: path is a valid NUL-terminated string.
    check(unsafe { libc::syscall(libc::SYS_unlinkat, libc::AT_FDCWD, path.as_ptr(), 0) })
}

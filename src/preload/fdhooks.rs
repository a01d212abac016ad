//! Descriptor hooks: dup, dup2, dup3, close_range, sendfile, and the
//! variadic fcntl, fcntl64 and ioctl (through the C shim in shim/).

use super::{hook, ret, ret_size};
use crate::fd::is_ours;
use crate::runtime::fdops;
use crate::sys::real::RealFn;
use core::ffi::{c_int, c_long, c_uint, c_ulong};
use libc::{off64_t, off_t, size_t, ssize_t};

hook! {
    fn dup(fd: c_int) -> c_int; |real| {
        if !is_ours(fd) {
            return real()(fd);
        }
        // SAFETY: dup of the placeholder, a kernel fd we own.
        ret(fdops::dup_with(fd, || unsafe { real()(fd) }), |fd| fd)
    }

    fn dup2(old: c_int, new: c_int) -> c_int; |real| {
        if !is_ours(old) && !is_ours(new) {
            return real()(old, new);
        }
        // SAFETY: the kernel dup2 of the two numbers the caller gave.
        ret(fdops::dup2_with(old, new, || unsafe { real()(old, new) }), |fd| fd)
    }

    fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int; |real| {
        if !is_ours(old) && !is_ours(new) {
            return real()(old, new, flags);
        }
        // SAFETY: as for dup2; the kernel checks the flags and old == new.
        ret(fdops::dup2_with(old, new, || unsafe { real()(old, new, flags) }), |fd| fd)
    }

    fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int; |real| {
        // SAFETY: the kernel call with the caller's arguments.
        ret(fdops::close_range_with(first, last, flags, || unsafe { real()(first, last, flags) }), |r| r)
    }

    fn sendfile(out: c_int, input: c_int, offset: *mut off_t, count: size_t) -> ssize_t; |real| {
        if !is_ours(out) {
            return real()(out, input, offset, count);
        }
        // SAFETY: a null or valid offset pointer from the caller.
        let off = unsafe { offset.as_mut() };
        ret_size(fdops::sendfile(out, input, off, count))
    }

    fn sendfile64(out: c_int, input: c_int, offset: *mut off64_t, count: size_t) -> ssize_t; |real| {
        if !is_ours(out) {
            return real()(out, input, offset, count);
        }
        // SAFETY: a null or valid offset pointer from the caller.
        let off = unsafe { offset.as_mut() };
        ret_size(fdops::sendfile(out, input, off, count))
    }
}

type Fcntl = unsafe extern "C" fn(c_int, c_int, ...) -> c_int;
type Ioctl = unsafe extern "C" fn(c_int, c_ulong, ...) -> c_int;
static REAL_FCNTL: RealFn<Fcntl> = RealFn::new(c"fcntl");
static REAL_FCNTL64: RealFn<Fcntl> = RealFn::new(c"fcntl64");
static REAL_IOCTL: RealFn<Ioctl> = RealFn::new(c"ioctl");

/// fcntl and fcntl64 for every fd (the shim calls this). A utcp fd's
/// F_DUPFD makes an alias; every other command goes to the placeholder,
/// where the kernel keeps O_NONBLOCK and FD_CLOEXEC for us.
#[no_mangle]
pub extern "C" fn utcp_fcntl_impl(fd: c_int, cmd: c_int, arg: c_ulong, is64: c_int) -> c_long {
    let real = if is64 != 0 { REAL_FCNTL64.get() } else { REAL_FCNTL.get() };
    // SAFETY: forwarding the caller's arguments to the real fcntl; the
    // optional argument is passed as the word the caller gave.
    let call = || unsafe { real(fd, cmd, arg) };
    if is_ours(fd) && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        return ret(fdops::dup_with(fd, call), |fd| fd) as c_long;
    }
    call() as c_long
}

/// ioctl for every fd (the shim calls this).
#[no_mangle]
pub extern "C" fn utcp_ioctl_impl(fd: c_int, req: c_ulong, arg: c_ulong) -> c_long {
    if is_ours(fd) {
        if let Some(r) = fdops::ioctl_value(fd, req) {
            return ret(r, |v| {
                if arg == 0 {
                    crate::sys::set_errno(libc::EFAULT);
                    return -1;
                }
                // SAFETY: these requests take an int* argument.
                unsafe { *(arg as *mut c_int) = v };
                0
            }) as c_long;
        }
    }
    // SAFETY: forwarding the caller's arguments to the real ioctl.
    unsafe { REAL_IOCTL.get()(fd, req, arg) as c_long }
}

extern "C" {
    fn utcp_shim_fcntl();
    fn utcp_shim_fcntl64();
    fn utcp_shim_ioctl();
}

/// Exported variadic entry points: each jumps to its C shim with the
/// caller's registers and stack untouched.
macro_rules! trampoline {
    ($name:ident => $target:ident) => {
        #[no_mangle]
        #[unsafe(naked)]
        /// # Safety
        /// Called by C code as the libc function of the same name.
        pub unsafe extern "C" fn $name() {
            #[cfg(target_arch = "x86_64")]
            core::arch::naked_asm!("jmp {}", sym $target);
            #[cfg(target_arch = "aarch64")]
            core::arch::naked_asm!("b {}", sym $target);
        }
    };
}
pub(super) use trampoline;

trampoline!(fcntl => utcp_shim_fcntl);
trampoline!(fcntl64 => utcp_shim_fcntl64);
trampoline!(ioctl => utcp_shim_ioctl);

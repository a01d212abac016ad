//! The exec family: before the new image replaces this one, the stack
//! threads are parked outside the shared lock (`runtime::exec_prepare`),
//! so that exec never kills one in the middle of a change to the stack
//! that other processes share; the new image attaches to the stack again
//! (`runtime::exec_attach`). glibc's execv, execvp and execl* call its
//! internal execve directly, not through the PLT, so each entry point is
//! hooked. The variadic execl, execlp and execle go through the C shim.

use super::hook;
use crate::runtime;
use crate::sys::real::RealFn;
use core::ffi::{c_char, c_int};

type Argv = *const *const c_char;

/// Run `exec`; it returns only on failure, and then the parked threads
/// carry on.
fn guarded(exec: impl FnOnce() -> c_int) -> c_int {
    runtime::exec_prepare();
    let r = exec();
    let _g = crate::sys::ErrnoGuard::new();
    runtime::exec_failed();
    r
}

hook! {
    fn execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int; |real| {
        // SAFETY: the caller's arguments to the real execve.
        guarded(|| unsafe { real()(path, argv, envp) })
    }

    fn execv(path: *const c_char, argv: Argv) -> c_int; |real| {
        // SAFETY: as above.
        guarded(|| unsafe { real()(path, argv) })
    }

    fn execvp(file: *const c_char, argv: Argv) -> c_int; |real| {
        // SAFETY: as above.
        guarded(|| unsafe { real()(file, argv) })
    }

    fn execvpe(file: *const c_char, argv: Argv, envp: Argv) -> c_int; |real| {
        // SAFETY: as above.
        guarded(|| unsafe { real()(file, argv, envp) })
    }

    fn fexecve(fd: c_int, argv: Argv, envp: Argv) -> c_int; |real| {
        // SAFETY: as above.
        guarded(|| unsafe { real()(fd, argv, envp) })
    }
}

static REAL_EXECV: RealFn<unsafe extern "C" fn(*const c_char, Argv) -> c_int> = RealFn::new(c"execv");
static REAL_EXECVP: RealFn<unsafe extern "C" fn(*const c_char, Argv) -> c_int> = RealFn::new(c"execvp");
static REAL_EXECVE: RealFn<unsafe extern "C" fn(*const c_char, Argv, Argv) -> c_int> = RealFn::new(c"execve");

/// execl, execlp and execle, their arguments collected by the C shim.
/// kind: 0 execv, 1 execvp, 2 execve.
#[no_mangle]
pub extern "C" fn utcp_exec_impl(kind: c_int, path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    // SAFETY: the shim passes the caller's path and a NULL-terminated
    // argument array it built (and the caller's envp for execle).
    guarded(|| unsafe {
        match kind {
            0 => REAL_EXECV.get()(path, argv),
            1 => REAL_EXECVP.get()(path, argv),
            _ => REAL_EXECVE.get()(path, argv, envp),
        }
    })
}

extern "C" {
    fn utcp_shim_execl();
    fn utcp_shim_execlp();
    fn utcp_shim_execle();
}

super::fdhooks::trampoline!(execl => utcp_shim_execl);
super::fdhooks::trampoline!(execlp => utcp_shim_execlp);
super::fdhooks::trampoline!(execle => utcp_shim_execle);

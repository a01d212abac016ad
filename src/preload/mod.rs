//! The exported hooks: classify the fd, dispatch to utcp or forward to the
//! real libc function. Nothing else lives here: semantics are in
//! `runtime::ops`, so each hook is a few lines of pointer handling.

mod addr;
mod event;
mod exec;
mod fdhooks;
mod inet6;
mod io;
mod sock;

use core::ffi::c_int;

/// Define an exported hook with a lazily resolved `real` function.
///
/// `hook! { fn read(fd: c_int, ...) -> ssize_t; |real| { body } }` exports
/// `read` (C ABI) and binds `real` to the next `read` in link order.
/// A panic cannot unwind out: the release profile aborts on panic, and
/// Rust aborts at any `extern "C"` boundary in any case.
macro_rules! hook {
    ($(fn $name:ident($($a:ident : $t:ty),* $(,)?) -> $r:ty; |$real:ident| $body:block)*) => {$(
        #[no_mangle]
        /// # Safety
        /// Called by C code with the arguments of the libc function of the same name.
        pub unsafe extern "C" fn $name($($a: $t),*) -> $r {
            static REAL: $crate::sys::real::RealFn<unsafe extern "C" fn($($t),*) -> $r> =
                $crate::sys::real::RealFn::new(match core::ffi::CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                    Ok(c) => c,
                    Err(_) => panic!("hook name"),
                });
            #[allow(unused_variables)]
            let $real = || REAL.get();
            $body
        }
    )*};
}
pub(crate) use hook;

/// Map a result to the C convention: the value, or -1 with errno set.
fn ret<T>(r: Result<T, c_int>, ok: impl FnOnce(T) -> c_int) -> c_int {
    match r {
        Ok(v) => ok(v),
        Err(e) => {
            crate::sys::set_errno(e);
            -1
        }
    }
}

/// A caller's timespec as a timeout: None for null (wait forever), EINVAL
/// for a negative or unnormalized value, as the kernel's ppoll, pselect6
/// and epoll_pwait2 answer.
///
/// # Safety
/// `ts` must be null or point to a readable timespec.
unsafe fn read_timespec(ts: *const libc::timespec) -> Result<Option<core::time::Duration>, c_int> {
    if ts.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, per the contract.
    let t = unsafe { *ts };
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return Err(libc::EINVAL);
    }
    Ok(Some(core::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)))
}

fn ret_size(r: Result<usize, c_int>) -> libc::ssize_t {
    match r {
        Ok(v) => v as libc::ssize_t,
        Err(e) => {
            crate::sys::set_errno(e);
            -1
        }
    }
}

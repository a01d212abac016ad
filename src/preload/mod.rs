//! The exported hooks: classify the fd, dispatch to utcp or forward to the
//! real libc function. Nothing else lives here: semantics are in
//! `runtime::ops`, so each hook is a few lines of pointer handling.

mod addr;
mod event;
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

fn ret_size(r: Result<usize, c_int>) -> libc::ssize_t {
    match r {
        Ok(v) => v as libc::ssize_t,
        Err(e) => {
            crate::sys::set_errno(e);
            -1
        }
    }
}

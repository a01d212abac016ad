//! The real libc functions behind our hooks, resolved lazily with
//! `dlsym(RTLD_NEXT)`: hooks can run before our constructor, so nothing is
//! resolved up front.

use core::ffi::{c_char, c_void, CStr};
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};

pub struct RealFn<F> {
    name: &'static CStr,
    ptr: AtomicPtr<c_void>,
    _f: PhantomData<F>,
}

impl<F: Copy> RealFn<F> {
    pub const fn new(name: &'static CStr) -> Self {
        RealFn { name, ptr: AtomicPtr::new(core::ptr::null_mut()), _f: PhantomData }
    }

    /// The real function. Aborts with a message if libc lacks it, which
    /// cannot happen for the symbols we hook on glibc.
    pub fn get(&self) -> F {
        let mut p = self.ptr.load(Ordering::Acquire);
        if p.is_null() {
            // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name.
            p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr() as *const c_char) };
            if p.is_null() {
                super::log("utcp: cannot resolve a libc function; aborting\n");
                std::process::abort();
            }
            self.ptr.store(p, Ordering::Release);
        }
        assert_eq!(core::mem::size_of::<F>(), core::mem::size_of::<*mut c_void>());
        // SAFETY: F is the extern "C" fn pointer type of this symbol, the
        // same size as a data pointer (checked above).
        unsafe { core::mem::transmute_copy(&p) }
    }
}

//! libutcp.so: the LD_PRELOAD library that serves a program's TCP sockets
//! from the utcp-core stack, over a TUN device.
//!
//! - [`preload`]: the exported hooks (classify the fd, dispatch or forward).
//! - [`sys`]: raw syscalls and the real libc functions.
//! - [`runtime`]: the stack thread, the TUN device, configuration, and what
//!   each socket call does on a utcp socket.
//! - [`fd`]: which fds are utcp sockets.
//!
//! The hooks are left out of unit-test builds: a test binary that exports
//! `read` and `write` would intercept its own harness.

mod fd;
#[cfg_attr(test, allow(dead_code))]
mod shm;

/// Shared arena under the runtime's lock, the system allocator otherwise (shm.rs).
#[cfg(not(test))]
#[global_allocator]
static ALLOC: shm::Alloc = shm::Alloc;
#[cfg(not(test))]
mod preload;
#[cfg_attr(test, allow(dead_code))]
mod runtime;
#[cfg_attr(test, allow(dead_code))]
mod sys;

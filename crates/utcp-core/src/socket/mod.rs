//! The Berkeley-socket view of the engine: errno values and readiness.
//! The calls themselves are methods of [`crate::stack::Stack`].

pub mod errno;
pub mod readiness;

pub use errno::Errno;
pub use readiness::Readiness;

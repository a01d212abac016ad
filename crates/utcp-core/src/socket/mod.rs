//! The Berkeley-socket view of the engine: errno values and readiness.

pub mod errno;

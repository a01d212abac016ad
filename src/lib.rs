//! libutcp.so: the LD_PRELOAD library. The hooks and the runtime that serve a
//! program's sockets from `utcp-core` arrive with the preload work (issue 3);
//! until then this crate only ties the workspace together.

//! Filesystem side of a sandbox: mount specs, mounting inside a root, changing the root.
pub mod masks;
pub mod mount_spec;
pub mod mounting;
pub mod root;

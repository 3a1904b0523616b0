//! Filesystem side of a sandbox: mount specs, mounting inside a root, changing the root.
pub mod masks;
pub mod mounting;
pub mod root;

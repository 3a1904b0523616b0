//! Root filesystems: safe extraction of untrusted tarballs (plain, gzip, zstd, xz), and
//! removing exactly what was extracted.

pub mod compression;
pub mod entry_path;
pub mod extract;
pub mod kernel;
pub mod ops;
pub mod progress;
pub mod remove;

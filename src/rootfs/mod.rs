//! Root filesystems: safe extraction of untrusted tarballs (plain, gzip, zstd, xz), and
//! removing exactly what was extracted, copy-on-write overlay roots, and a cache of
//! extractions keyed by the archive's digest.

pub mod cache;
pub mod compression;
mod cut_short;
mod entry_meta;
pub mod entry_path;
pub mod extract;
pub mod image;
pub mod kernel;
pub mod progress;
pub mod remove;
pub mod target;

//! nsr: Linux sandboxes scripted in Rhai recipes, with rollback. See ARCHITECTURE.md.
pub mod doctor;
pub mod editors;
pub mod engine;
pub mod env;
pub mod fs;
pub mod journal;
pub mod net;
pub mod ns;
pub mod ops;
pub mod plan;
pub mod repl;
pub mod report;
pub mod rootfs;
pub mod sandbox;
pub mod session;
pub mod signals;
pub mod sys;

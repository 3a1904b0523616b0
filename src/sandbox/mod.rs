//! A sandbox is a held process in its namespaces. nsr talks to it over a socket
//! (`client`), it serves requests inside them (`holder`), and `spawn` creates it; a
//! kept one serves `nsr enter` on a socket of its own (`kept`).
pub mod client;
pub mod command_ns;
pub mod holder;
pub mod kept;
mod process;
pub mod protocol;
pub mod pty;
pub mod spawn;

pub use process::DEFAULT_PATH;

//! A sandbox is a held process in its namespaces. nsr talks to it over a socket
//! (`client`), it serves requests inside them (`holder`), and `spawn` creates it.
pub mod client;
pub mod holder;
mod process;
pub mod protocol;
pub mod pty;
pub mod spawn;

//! `nsr lsp`: a language server for recipes over stdio. It reads and checks; it runs no
//! recipe's code except through `nsr plan`'s recording backend, and touches nothing.
//!
//! `transport` frames JSON-RPC (forgiving: a malformed message gets an error, not the
//! end of the session); `server` keeps the open documents and answers; `lex`, `outline`
//! and `context` read a recipe as it is being typed; `knowledge` is what the engine says
//! about its primitives; `workspace` is what the features read (the open documents, the
//! knowledge, the module search path). One file per feature: `diagnostics`,
//! `completion`, `hover` (and signature help), `definition`, `symbols`, `plan`.

mod completion;
mod context;
mod definition;
mod diagnostics;
mod document;
mod hover;
mod knowledge;
mod lex;
mod outline;
mod plan;
mod server;
mod symbols;
mod transport;
mod workspace;

pub use server::serve;

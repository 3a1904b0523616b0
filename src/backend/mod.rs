//! The one narrow interface operations run through (`Backend`), and its two
//! implementations: the kernel backend does them for real; the recording backend
//! stands in for it in `nsr plan`, export and unit tests. Above the domain modules
//! (`ns`, `fs`, `net`, `rootfs`, `sandbox`), which never import it.

pub mod kernel;
pub mod recording;

use crate::ops::{CutShort, Op, OpError, Output, Undo, UndoOutcome};

pub trait Backend {
    /// Does `op`; on success returns what it produced and how to take it back.
    /// On failure, anything the operation half-did has been taken back already.
    fn apply(&mut self, op: &Op) -> Result<(Output, Option<Undo>), OpError>;
    fn undo(&mut self, undo: &Undo) -> Result<UndoOutcome, OpError>;
    /// A rollback starts; `whole` when every journal entry will be undone, so that a
    /// resource inside a namespace that a later undo removes can simply go with it.
    fn begin_rollback(&mut self, _whole: bool) {}
    /// A rollback has ended: wait for what the kernel removes in the background.
    fn settle(&mut self) -> Result<(), OpError> {
        Ok(())
    }
    /// The environment is kept: what the run made stays, sandboxes outlive nsr (and
    /// serve `nsr enter` from `env_dir`, the environment's directory, when there is one).
    fn keep(&mut self, _env_dir: Option<&std::path::Path>) -> Result<(), OpError> {
        Ok(())
    }
    /// Warnings the last operation produced (a foreign firewall policy, say).
    fn take_warnings(&mut self) -> Vec<String> {
        Vec::new()
    }
    /// How to take back `op` if nsr is killed while doing it; asked just before it runs,
    /// only when the run's journal is on disk.
    fn cut_short(&mut self, _op: &Op) -> CutShort {
        CutShort::Unknown
    }
}

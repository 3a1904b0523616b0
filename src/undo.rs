//! The one owner of a run's undo: the order of what it made (in memory, `journal.rs`),
//! the same on disk when the run has an environment (`env/store.rs`: intent before an
//! action, its outcome after, each undo done), and how a run ends: rolled back newest
//! first, or kept for `nsr enter` and `nsr down`. The session asks; nothing else writes
//! an undo record.

use crate::backend::Backend;
use crate::env::store::{EnvJournal, Record};
use crate::journal::{JournalEntry, Origin, UndoJournal, UndoReport};
use crate::ops::{CutShort, OpError, Undo};

#[derive(Default)]
pub struct RunUndo {
    journal: UndoJournal,
    /// The journal on disk (`nsr down` after a crash), when the run has an environment.
    env: Option<EnvJournal>,
    /// The environment (name, recipe) to make before the first action that may create
    /// something: a run that makes nothing leaves nothing to recover and writes nothing.
    deferred: Option<(String, String)>,
}

/// How a run ended.
pub enum Ending {
    /// Everything stays: sandboxes outlive nsr, the environment stays on disk.
    Kept(Result<(), OpError>),
    /// Everything was undone, newest first (each step's report).
    RolledBack(Vec<UndoReport>),
}

impl RunUndo {
    /// From now on every action is written to `env` before it is taken, and after.
    pub fn set_env(&mut self, env: EnvJournal) {
        self.env = Some(env);
    }

    /// The environment `name` is made on disk before the first action that may create
    /// something (`intent`).
    pub fn defer_env(&mut self, name: String, recipe: String) {
        self.deferred = Some((name, recipe));
    }

    /// The environment's name, while it has one.
    pub fn env_name(&self) -> Option<String> {
        if let Some((name, _)) = &self.deferred {
            return Some(name.clone());
        }
        self.env
            .as_ref()
            .and_then(|e| e.dir.file_name().map(|n| n.to_string_lossy().into_owned()))
    }

    /// Before an action that may create something: what it is and how `nsr down` takes
    /// it back if nsr dies while the kernel does it. Makes a deferred environment first;
    /// if that fails the action must not be taken.
    pub fn intent(
        &mut self,
        seq: u64,
        what: String,
        cut_short: CutShort,
        origin: &Origin,
    ) -> Result<(), OpError> {
        if let Some((name, recipe)) = self.deferred.take() {
            self.env = Some(EnvJournal::create(&name, &recipe)?);
        }
        if let Some(env) = self.env.as_mut() {
            env.write(&Record::Intent {
                seq,
                what,
                cut_short,
                origin: origin.clone(),
                at: crate::env::store::now_coarse_ns(),
            });
        }
        Ok(())
    }

    /// After an action: what it made and how to take it back.
    pub fn made(&mut self, seq: u64, what: String, origin: Origin, undo: Undo) {
        if let Some(env) = self.env.as_mut() {
            env.write(&Record::Done {
                seq,
                what: what.clone(),
                origin: origin.clone(),
                undo: undo.clone(),
            });
        }
        self.journal.record(seq, what, origin, undo);
    }

    /// After an action whose intent was written: it made nothing (or failed).
    pub fn nothing(&mut self, seq: u64) {
        if let Some(env) = self.env.as_mut() {
            env.write(&Record::Nothing { seq });
        }
    }

    pub fn entries(&self) -> &[JournalEntry] {
        self.journal.entries()
    }

    /// The journal's length now: what a later `rollback_to` goes back to.
    pub fn mark(&self) -> usize {
        self.journal.len()
    }

    /// Undoes everything, newest first.
    pub fn rollback(&mut self, backend: &mut dyn Backend) -> Vec<UndoReport> {
        let reports = self.journal.rollback(backend);
        self.note_undone(&reports);
        reports
    }

    /// Undoes what was recorded after `mark`, newest first (one REPL statement).
    pub fn rollback_to(&mut self, mark: usize, backend: &mut dyn Backend) -> Vec<UndoReport> {
        let reports = self.journal.rollback_to(mark, backend);
        self.note_undone(&reports);
        reports
    }

    fn note_undone(&mut self, reports: &[UndoReport]) {
        if let Some(env) = self.env.as_mut() {
            for r in reports.iter().filter(|r| !r.failed() && r.entry.seq > 0) {
                env.write(&Record::Undone { seq: r.entry.seq });
            }
        }
    }

    /// Keeps everything the run made: the backend lets its sandboxes outlive nsr (and
    /// serve `nsr enter` from the environment's directory); the environment is marked
    /// kept.
    pub fn keep(&mut self, backend: &mut dyn Backend) -> Result<(), OpError> {
        backend.keep(self.env.as_ref().map(|e| e.dir.as_path()))?;
        if let Some(env) = self.env.take() {
            env.mark_kept();
        }
        Ok(())
    }

    /// No operation follows. The environment on disk goes when nothing is left to undo;
    /// otherwise it stays for `nsr down`.
    pub fn finish(&mut self) {
        if let Some(env) = self.env.take() {
            if self.has_leftovers() {
                // Keep the directory (and drop the lock with this process).
                drop(env);
            } else {
                env.remove();
            }
        }
    }

    /// Whether some undo failed and its resource is left (recorded for `nsr down`).
    pub fn has_leftovers(&self) -> bool {
        self.journal.failed_count() > 0
    }
}

//! The undo journal: every resource a run creates, in creation order, with how to take
//! it back and the recipe position that asked for it. Rollback walks it in reverse,
//! never stops at a failed step, and reports each one.

use crate::backend::Backend;
use crate::ops::{OpError, Undo, UndoOutcome};
use std::fmt;

/// Where in a recipe something was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct JournalEntry {
    /// The action's number in the run (as the journal on disk names it).
    #[serde(default)]
    pub seq: u64,
    /// What was done, in words: "mount proc on /proc".
    pub what: String,
    pub origin: Origin,
    pub undo: Undo,
}

#[derive(Debug)]
pub struct UndoReport {
    pub entry: JournalEntry,
    pub result: Result<UndoOutcome, OpError>,
}

impl UndoReport {
    pub fn failed(&self) -> bool {
        self.result.is_err()
    }
}

impl fmt::Display for UndoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.entry;
        match &self.result {
            Ok(UndoOutcome::Done) => write!(f, "undid {} ({})", e.what, e.origin),
            Ok(UndoOutcome::AlreadyGone) => write!(f, "{} was already gone ({})", e.what, e.origin),
            Ok(UndoOutcome::Released) => {
                write!(f, "released {} with what holds it ({})", e.what, e.origin)
            }
            Err(err) => {
                write!(
                    f,
                    "FAILED to undo {} ({}): {}",
                    e.what, e.origin, err.message
                )?;
                if let Some(n) = err.errno_text() {
                    write!(f, ": {n}")?;
                }
                write!(f, "; left behind: {}", e.undo.by_hand())
            }
        }
    }
}

#[derive(Default)]
pub struct UndoJournal {
    entries: Vec<JournalEntry>,
    /// Undos that failed during rollbacks so far: what is left on the host.
    failed: usize,
}

impl UndoJournal {
    pub fn record(&mut self, seq: u64, what: String, origin: Origin, undo: Undo) {
        self.entries.push(JournalEntry {
            seq,
            what,
            origin,
            undo,
        });
    }

    /// Entries whose undo failed are put back (see `undo_down_to`) and counted here.
    pub fn failed_count(&self) -> usize {
        self.failed
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[JournalEntry] {
        &self.entries
    }

    /// Undoes every entry, newest first. A failed undo is reported and the rest go on:
    /// one stuck mount must not strand every other resource.
    pub fn rollback(&mut self, backend: &mut dyn Backend) -> Vec<UndoReport> {
        self.undo_down_to(0, true, backend)
    }

    /// Undoes the entries recorded after `mark` (a length of the journal), newest first:
    /// what one REPL statement created. Each is undone for real, since the namespaces
    /// that hold them may stay.
    pub fn rollback_to(&mut self, mark: usize, backend: &mut dyn Backend) -> Vec<UndoReport> {
        self.undo_down_to(mark, false, backend)
    }

    fn undo_down_to(
        &mut self,
        mark: usize,
        whole: bool,
        backend: &mut dyn Backend,
    ) -> Vec<UndoReport> {
        let mut reports = Vec::new();
        if self.entries.len() <= mark {
            return reports;
        }
        backend.begin_rollback(whole && mark == 0);
        while self.entries.len() > mark {
            let Some(entry) = self.entries.pop() else {
                break;
            };
            let result = backend.undo(&entry.undo);
            if result.is_err() {
                self.failed += 1;
            }
            reports.push(UndoReport { entry, result });
        }
        if let Err(e) = backend.settle() {
            self.failed += 1;
            reports.push(UndoReport {
                entry: JournalEntry {
                    seq: 0,
                    what: "the end of the rollback".into(),
                    origin: Origin::default(),
                    undo: Undo::Settle,
                },
                result: Err(e),
            });
        }
        reports
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::recording::RecordingBackend;
    use crate::ops::{Op, Output};

    struct FailingUndo {
        inner: RecordingBackend,
        fail_target: &'static str,
    }

    impl Backend for FailingUndo {
        fn apply(&mut self, op: &Op) -> Result<(Output, Option<Undo>), OpError> {
            self.inner.apply(op)
        }
        fn undo(&mut self, undo: &Undo) -> Result<UndoOutcome, OpError> {
            self.inner.undo(undo)?;
            match undo {
                Undo::Umount { target, .. } if target == self.fail_target => Err(OpError::os(
                    nix::errno::Errno::EBUSY,
                    format!("umount {target}"),
                )),
                _ => Ok(UndoOutcome::Done),
            }
        }
    }

    fn origin(line: usize) -> Origin {
        Origin {
            file: "t.nsr".into(),
            line,
            column: 1,
        }
    }

    fn umount(target: &str) -> Undo {
        Undo::Umount {
            sandbox: 0,
            mnt_id: 1,
            unique: None,
            target: target.into(),
            host_ns: false,
        }
    }

    #[test]
    fn rollback_runs_in_reverse_and_goes_on_after_a_failure() {
        let mut j = UndoJournal::default();
        j.record(
            1,
            "sandbox".into(),
            origin(1),
            Undo::StopSandbox {
                sandbox: 0,
                pid: 5,
                cgroups: Vec::new(),
            },
        );
        j.record(2, "mount proc on /proc".into(), origin(2), umount("/proc"));
        j.record(3, "mount tmpfs on /tmp".into(), origin(3), umount("/tmp"));
        let mut b = FailingUndo {
            inner: RecordingBackend::default(),
            fail_target: "/proc",
        };
        let reports = j.rollback(&mut b);
        let order: Vec<_> = reports.iter().map(|r| r.entry.origin.line).collect();
        assert_eq!(order, vec![3, 2, 1]);
        assert!(reports[1].failed());
        assert!(
            !reports[2].failed(),
            "the sandbox is still stopped after a failed umount"
        );
        let text = reports[1].to_string();
        assert!(
            text.contains("EBUSY")
                && text.contains("left behind: umount /proc")
                && text.contains("t.nsr:2:1"),
            "{text}"
        );
        assert_eq!(
            reports[0].to_string(),
            "undid mount tmpfs on /tmp (t.nsr:3:1)"
        );
        assert!(j.is_empty());
    }
}

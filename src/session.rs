//! A run's state: the backend that does operations and the journal of their undos.
//! Every primitive goes through `perform`, which records the undo before it returns.

use crate::journal::{Origin, UndoJournal, UndoReport};
use crate::ops::{Backend, Op, OpError, Output};

/// A primitive that failed, with everything a user needs to act on it.
#[derive(Debug, Clone)]
pub struct PrimitiveFailure {
    /// The call as the recipe wrote it, with its argument values: `mount("proc", "/proc", "proc")`.
    pub call: String,
    pub origin: Origin,
    pub error: OpError,
}

pub struct Session {
    /// None once the session is finished.
    backend: Option<Box<dyn Backend>>,
    journal: UndoJournal,
}

impl Session {
    pub fn new(backend: Box<dyn Backend>) -> Session {
        Session {
            backend: Some(backend),
            journal: UndoJournal::default(),
        }
    }

    pub fn perform(
        &mut self,
        op: Op,
        call: String,
        origin: Origin,
    ) -> Result<Output, PrimitiveFailure> {
        let Some(backend) = self.backend.as_mut() else {
            return Err(PrimitiveFailure {
                call,
                origin,
                error: OpError::new("the run has ended"),
            });
        };
        match backend.apply(&op) {
            Ok((output, undo)) => {
                for warning in backend.take_warnings() {
                    crate::report::err(&crate::report::render_warning(&origin, &warning));
                }
                if let Some(undo) = undo {
                    self.journal.record(describe(&op, &output), origin, undo);
                }
                Ok(output)
            }
            Err(error) => Err(PrimitiveFailure {
                call,
                origin,
                error,
            }),
        }
    }

    pub fn journal(&self) -> &UndoJournal {
        &self.journal
    }

    /// The journal's length now: what a later `rollback_to` goes back to.
    pub fn mark(&self) -> usize {
        self.journal.len()
    }

    /// Undoes what was recorded after `mark`, newest first.
    pub fn rollback_to(&mut self, mark: usize) -> Vec<UndoReport> {
        match self.backend.as_mut() {
            Some(backend) => self.journal.rollback_to(mark, backend.as_mut()),
            None => Vec::new(),
        }
    }

    pub fn rollback(&mut self) -> Vec<UndoReport> {
        match self.backend.as_mut() {
            Some(backend) => self.journal.rollback(backend.as_mut()),
            None => Vec::new(),
        }
    }

    /// Ends the session: the backend is dropped and no operation runs after this.
    pub fn finish(&mut self) {
        self.backend = None;
    }
}

/// The journal's words for what an operation created.
fn describe(op: &Op, output: &Output) -> String {
    match (op, output) {
        (Op::Unshare(spec), Output::Sandbox { pid, .. }) => {
            let kinds: Vec<_> = spec.create.iter().map(|k| k.name()).collect();
            format!("sandbox pid {pid} [{}]", kinds.join(" "))
        }
        (Op::SetHostname { name, .. }, _) => format!("hostname {name}"),
        (Op::Mount { spec, .. }, _) => format!("mount {}", spec.describe()),
        (Op::Chroot { path, .. }, _) => format!("chroot {path}"),
        (Op::PivotRoot { new_root, .. }, _) => format!("pivot_root {new_root}"),
        (Op::Net(op), _) => op.describe(),
        (Op::Rootfs(op), _) => op.describe(),
        (Op::RootfsIn { op, .. }, _) => format!("{} (in the sandbox)", op.describe()),
        (op, _) => op.shell(),
    }
}

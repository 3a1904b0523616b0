//! A run's state: the backend that does operations, and its undo (`undo.rs`, which
//! owns the records). Every primitive goes through `perform`, which has the undo
//! recorded before it returns.

use crate::backend::Backend;
use crate::env::store::EnvJournal;
use crate::journal::{Origin, UndoReport};
use crate::ops::{Op, OpError, Output};
use crate::undo::{Ending, RunUndo};

/// A test hook: `NSR_CRASH_AFTER=N` makes nsr kill itself with SIGKILL right after the
/// kernel has done the N-th action that may create something, before its outcome is
/// written to the journal: the worst moment for crash safety, made reproducible so that
/// tests can check that `nsr down` takes back every kind of half-finished action. Only
/// in debug builds (the tests'): the release binary users run has no such switch.
mod crash_point {
    pub fn from_env() -> Option<u64> {
        if !cfg!(debug_assertions) {
            return None;
        }
        std::env::var("NSR_CRASH_AFTER").ok()?.parse().ok()
    }

    pub fn after_apply(left: &mut Option<u64>) {
        if let Some(n) = left {
            *n = n.saturating_sub(1);
            if *n == 0 {
                let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// A primitive that failed, with everything a user needs to act on it.
#[derive(Debug, Clone)]
pub struct PrimitiveFailure {
    /// The call as the recipe wrote it, with its argument values: `mount("proc", "/proc", "proc")`.
    pub call: String,
    pub origin: Origin,
    pub error: OpError,
}

/// What a traced session saw, in order (`nsr plan`): each operation with the undo the
/// backend gave it, and what the recipe printed.
#[derive(Debug, Clone)]
pub enum TraceItem {
    Op {
        seq: u64,
        origin: Origin,
        call: String,
        op: Box<Op>,
        undo: Option<crate::ops::Undo>,
    },
    Print(String),
}

pub type Trace = std::rc::Rc<std::cell::RefCell<Vec<TraceItem>>>;

pub struct Session {
    /// None once the session is finished.
    backend: Option<Box<dyn Backend>>,
    undo: RunUndo,
    next_seq: u64,
    /// Fault injection for the crash-safety tests (`NSR_CRASH_AFTER`).
    crash_after: Option<u64>,
    /// `nsr plan`: every operation is also written here.
    trace: Option<Trace>,
    /// The exit status of `exec` while it is the last step the run took: a recipe that
    /// ends in `box.exec(["sh"])` exits with the shell's status, as `unshare ... sh` does.
    last_exec_status: Option<i32>,
}

impl Session {
    pub fn new(backend: Box<dyn Backend>) -> Session {
        Session {
            backend: Some(backend),
            undo: RunUndo::default(),
            next_seq: 1,
            crash_after: crash_point::from_env(),
            trace: None,
            last_exec_status: None,
        }
    }

    /// The status of the interactive command the run ended with (`exec` as its last step).
    pub fn last_exec_status(&self) -> Option<i32> {
        self.last_exec_status
    }

    /// From now on every operation is also written to `trace` (`nsr plan`).
    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = Some(trace);
    }

    /// From now on every action is written to `env` before it is taken, and after.
    pub fn set_env(&mut self, env: EnvJournal) {
        self.undo.set_env(env);
    }

    /// The environment `name` is made on disk before the first action that may create
    /// something; a recipe that makes nothing never writes a journal.
    pub fn defer_env(&mut self, name: String, recipe: String) {
        self.undo.defer_env(name, recipe);
    }

    /// The environment's name, while it has one.
    pub fn env_name(&self) -> Option<String> {
        self.undo.env_name()
    }

    /// Does `op` and has its undo recorded; returns what it gave back and the warnings
    /// the backend had about it (the caller shows them, located at `origin`).
    pub fn perform(
        &mut self,
        op: Op,
        call: String,
        origin: Origin,
    ) -> Result<(Output, Vec<String>), PrimitiveFailure> {
        let Some(backend) = self.backend.as_mut() else {
            return Err(PrimitiveFailure {
                call,
                origin,
                error: OpError::new("the run has ended"),
            });
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.last_exec_status = None;
        let logged = op.may_create();
        if logged {
            if let Err(error) = self
                .undo
                .intent(seq, op.shell(), backend.cut_short(&op), &origin)
            {
                return Err(PrimitiveFailure {
                    call,
                    origin,
                    error,
                });
            }
        }
        let result = backend.apply(&op);
        if logged {
            crash_point::after_apply(&mut self.crash_after);
        }
        if let (Some(trace), Ok((_, undo))) = (&self.trace, &result) {
            trace.borrow_mut().push(TraceItem::Op {
                seq,
                origin: origin.clone(),
                call: call.clone(),
                op: Box::new(op.clone()),
                undo: undo.clone(),
            });
        }
        match result {
            Ok((output, undo)) => {
                if let (Op::Exec { .. }, Output::ExitCode(code)) = (&op, &output) {
                    self.last_exec_status = Some(*code);
                }
                let warnings = backend.take_warnings();
                match undo {
                    Some(undo) => self.undo.made(seq, op.made(&output), origin, undo),
                    None if logged => self.undo.nothing(seq),
                    None => {}
                }
                Ok((output, warnings))
            }
            Err(error) => {
                if logged {
                    self.undo.nothing(seq);
                }
                Err(PrimitiveFailure {
                    call,
                    origin,
                    error,
                })
            }
        }
    }

    /// What the run made so far, oldest first, with how each is undone.
    pub fn made(&self) -> &[crate::journal::JournalEntry] {
        self.undo.entries()
    }

    /// The journal's length now: what a later `rollback_to` goes back to.
    pub fn mark(&self) -> usize {
        self.undo.mark()
    }

    /// Undoes what was recorded after `mark`, newest first.
    pub fn rollback_to(&mut self, mark: usize) -> Vec<UndoReport> {
        match self.backend.as_mut() {
            Some(backend) => self.undo.rollback_to(mark, backend.as_mut()),
            None => Vec::new(),
        }
    }

    /// Ends the session, the one way a run ends: with `keep`, everything the run made
    /// stays (sandboxes outlive nsr, the environment stays on disk for `nsr ls`, `nsr
    /// enter` and `nsr down`); otherwise everything is undone, newest first. Either way
    /// the backend is dropped (its Drop is the last-resort kill of any sandbox left) and
    /// no operation runs after this.
    pub fn end(&mut self, keep: bool) -> Ending {
        if keep {
            return Ending::Kept(self.keep());
        }
        let reports = match self.backend.as_mut() {
            Some(backend) => self.undo.rollback(backend.as_mut()),
            None => Vec::new(),
        };
        self.backend = None;
        self.undo.finish();
        Ending::RolledBack(reports)
    }

    /// Keeps everything the run made (see `end`); on failure the session goes on.
    pub fn keep(&mut self) -> Result<(), OpError> {
        if let Some(b) = self.backend.as_mut() {
            self.undo.keep(b.as_mut())?;
        }
        self.backend = None;
        Ok(())
    }
}

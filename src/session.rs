//! A run's state: the backend that does operations and the journal of their undos.
//! Every primitive goes through `perform`, which records the undo before it returns.

use crate::backend::Backend;
use crate::env::store::{EnvJournal, Record};
use crate::journal::{Origin, UndoJournal, UndoReport};
use crate::ops::{Op, OpError, Output};

/// A test hook: `NSR_CRASH_AFTER=N` makes nsr kill itself with SIGKILL right after the
/// kernel has done the N-th action that may create something, before its outcome is
/// written to the journal: the worst moment for crash safety, made reproducible so that
/// tests can check that `nsr down` takes back every kind of half-finished action.
mod crash_point {
    pub fn from_env() -> Option<u64> {
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
    journal: UndoJournal,
    /// The journal on disk (`nsr down` after a crash), when the run has an environment.
    env: Option<EnvJournal>,
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
            journal: UndoJournal::default(),
            env: None,
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
        self.env = Some(env);
    }

    /// The environment's name, while it has one.
    pub fn env_name(&self) -> Option<String> {
        self.env
            .as_ref()
            .and_then(|e| e.dir.file_name().map(|n| n.to_string_lossy().into_owned()))
    }

    fn note_undone(&mut self, reports: &[UndoReport]) {
        if let Some(env) = self.env.as_mut() {
            for r in reports.iter().filter(|r| !r.failed() && r.entry.seq > 0) {
                env.write(&Record::Undone { seq: r.entry.seq });
            }
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
        let seq = self.next_seq;
        self.next_seq += 1;
        self.last_exec_status = None;
        let logged = op.may_create();
        if let (Some(env), true) = (self.env.as_mut(), logged) {
            let at = crate::env::store::now_coarse_ns();
            let cut_short = backend.cut_short(&op);
            env.write(&Record::Intent {
                seq,
                what: op.shell(),
                cut_short,
                origin: origin.clone(),
                at,
            });
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
                for warning in backend.take_warnings() {
                    crate::output::note(&crate::output::render_warning(&origin, &warning));
                }
                match undo {
                    Some(undo) => {
                        let what = describe(&op, &output);
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
                    None => {
                        if let (Some(env), true) = (self.env.as_mut(), logged) {
                            env.write(&Record::Nothing { seq });
                        }
                    }
                }
                Ok(output)
            }
            Err(error) => {
                if let (Some(env), true) = (self.env.as_mut(), logged) {
                    env.write(&Record::Nothing { seq });
                }
                Err(PrimitiveFailure {
                    call,
                    origin,
                    error,
                })
            }
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
        let reports = match self.backend.as_mut() {
            Some(backend) => self.journal.rollback_to(mark, backend.as_mut()),
            None => Vec::new(),
        };
        self.note_undone(&reports);
        reports
    }

    pub fn rollback(&mut self) -> Vec<UndoReport> {
        let reports = match self.backend.as_mut() {
            Some(backend) => self.journal.rollback(backend.as_mut()),
            None => Vec::new(),
        };
        self.note_undone(&reports);
        reports
    }

    /// Ends the session: the backend is dropped and no operation runs after this. The
    /// environment on disk goes when nothing is left to undo; otherwise it stays for
    /// `nsr down`.
    pub fn finish(&mut self) {
        self.backend = None;
        let failed = self.journal.failed_count() > 0;
        if let Some(env) = self.env.take() {
            if failed {
                // Keep the directory (and drop the lock with this process).
                drop(env);
            } else {
                env.remove();
            }
        }
    }

    /// Keeps everything the run made: sandboxes outlive nsr, the environment stays on
    /// disk for `nsr ls`, `nsr enter` and `nsr down`.
    pub fn keep(&mut self) -> Result<(), OpError> {
        if let Some(b) = self.backend.as_mut() {
            b.keep(self.env.as_ref().map(|e| e.dir.as_path()))?;
        }
        if let Some(env) = self.env.take() {
            env.mark_kept();
        }
        self.backend = None;
        Ok(())
    }

    /// Whether some undo failed and its resource is left (recorded for `nsr down`).
    pub fn has_leftovers(&self) -> bool {
        self.journal.failed_count() > 0
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

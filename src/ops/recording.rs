//! A backend that touches nothing: it records each operation and answers with
//! placeholders. Unit tests use it to check the engine and the journal; `nsr plan`
//! will print what it recorded.

use super::{Backend, Op, OpError, Output, Undo, UndoOutcome};
use crate::sandbox::protocol::RunResult;

#[derive(Default)]
pub struct RecordingBackend {
    pub applied: Vec<Op>,
    pub undone: Vec<Undo>,
    /// Make the n-th operation (1-based) fail, to exercise rollback.
    pub fail_at: Option<usize>,
    sandboxes: usize,
}

impl RecordingBackend {
    pub fn failing_at(step: usize) -> Self {
        RecordingBackend {
            fail_at: Some(step),
            ..Default::default()
        }
    }
}

/// Stands for a pid that only the kernel could tell.
pub const PLACEHOLDER_PID: i32 = -1;

impl Backend for RecordingBackend {
    fn apply(&mut self, op: &Op) -> Result<(Output, Option<Undo>), OpError> {
        if self.fail_at == Some(self.applied.len() + 1) {
            return Err(OpError::os(
                nix::errno::Errno::EPERM,
                format!("injected failure of {}", op.primitive()),
            ));
        }
        self.applied.push(op.clone());
        Ok(match op {
            Op::Unshare(_) => {
                let id = self.sandboxes;
                self.sandboxes += 1;
                (
                    Output::Sandbox {
                        id,
                        pid: PLACEHOLDER_PID,
                    },
                    Some(Undo::StopSandbox {
                        sandbox: id,
                        pid: PLACEHOLDER_PID,
                    }),
                )
            }
            Op::SetHostname { sandbox, .. } => (
                Output::Unit,
                Some(Undo::RestoreHostname {
                    sandbox: *sandbox,
                    old: "<previous hostname>".into(),
                }),
            ),
            Op::GetHostname { .. } => (Output::Text("<hostname>".into()), None),
            Op::Mount { sandbox, spec } => (
                Output::Unit,
                Some(Undo::Umount {
                    sandbox: *sandbox,
                    mnt_id: 0,
                    target: spec.target.clone(),
                    host_ns: false,
                }),
            ),
            Op::Chroot { sandbox, path } => (
                Output::Unit,
                Some(Undo::Unchroot {
                    sandbox: *sandbox,
                    path: path.clone(),
                }),
            ),
            Op::PivotRoot { sandbox, new_root } => (
                Output::Unit,
                Some(Undo::ReleasedWithSandbox {
                    sandbox: *sandbox,
                    what: format!("root {new_root} (pivoted)"),
                }),
            ),
            Op::Run { .. } => (
                Output::Ran(RunResult {
                    code: Some(0),
                    signal: None,
                    stdout: String::new(),
                    stderr: String::new(),
                }),
                None,
            ),
            Op::Exec { .. } => (Output::ExitCode(0), None),
            Op::Namespaces { .. } => (Output::Namespaces(Default::default()), None),
            Op::MountInfo { .. } => (Output::MountInfo(Vec::new()), None),
        })
    }

    fn undo(&mut self, undo: &Undo) -> Result<UndoOutcome, OpError> {
        self.undone.push(undo.clone());
        Ok(UndoOutcome::Done)
    }
}

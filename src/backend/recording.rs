//! A backend that touches nothing: it records each operation and answers with
//! placeholders. Unit tests use it to check the engine and the journal; `nsr plan`
//! prints what it recorded.

use super::Backend;
use crate::ops::net::{forwarding_key, LinkSetting, NetOp, NetOutput, NetUndo, NsRef};
use crate::ops::rootfs::{RootfsOp, RootfsUndo};
use crate::ops::run::RunResult;
use crate::ops::{Op, OpError, Output, Undo, UndoOutcome};

#[derive(Default)]
pub struct RecordingBackend {
    pub applied: Vec<Op>,
    pub undone: Vec<Undo>,
    /// Make the n-th operation (1-based) fail, to exercise rollback.
    pub fail_at: Option<usize>,
    sandboxes: usize,
    links: usize,
    /// Namespaces that have an nft table of the run already.
    tables: Vec<NsRef>,
    /// The links the recipe made, where they are now: `links()` answers with these.
    made_links: Vec<(NsRef, String, &'static str)>,
}

impl RecordingBackend {
    pub fn failing_at(step: usize) -> Self {
        RecordingBackend {
            fail_at: Some(step),
            ..Default::default()
        }
    }
}

/// Stands for the pid of sandbox `id`, which only the kernel could tell: -1, -2, ...
pub fn placeholder_pid(id: usize) -> i32 {
    -(id as i32) - 1
}

impl RecordingBackend {
    /// The links the recipe made in `ns`, as `links()` answers in a plan: what existed
    /// before is not known.
    fn links_in(&self, ns: &NsRef) -> Vec<crate::ops::net::LinkInfo> {
        self.made_links
            .iter()
            .filter(|(n, _, _)| n == ns)
            .enumerate()
            .map(|(i, (_, name, kind))| crate::ops::net::LinkInfo {
                index: i as u32 + 1,
                name: name.clone(),
                kind: kind.to_string(),
                up: false,
                state: "down".into(),
                mtu: 1500,
                mac: String::new(),
                master: None,
                group: 0,
                peer: None,
                vxlan: None,
            })
            .collect()
    }

    fn net(&mut self, op: &NetOp) -> (Output, Option<Undo>) {
        match op {
            NetOp::Veth {
                name,
                ns,
                peer,
                peer_ns,
            } => {
                self.made_links.push((ns.clone(), name.to_string(), "veth"));
                self.made_links
                    .push((peer_ns.clone(), peer.to_string(), "veth"));
            }
            NetOp::Bridge { name, ns } => {
                self.made_links
                    .push((ns.clone(), name.to_string(), "bridge"));
            }
            NetOp::Vxlan { name, ns, .. } => {
                self.made_links
                    .push((ns.clone(), name.to_string(), "vxlan"));
            }
            NetOp::LinkMove { ns, name, to } => {
                for l in self.made_links.iter_mut() {
                    if l.0 == *ns && l.1 == name.as_str() {
                        l.0 = to.clone();
                    }
                }
            }
            _ => {}
        }
        let undo = match op {
            NetOp::NetnsAdd { name } => Some(NetUndo::DeleteNetns {
                name: name.to_string(),
            }),
            NetOp::Veth { name, ns, .. }
            | NetOp::Bridge { name, ns }
            | NetOp::Vxlan { name, ns, .. } => {
                self.links += 1;
                Some(NetUndo::DeleteLink {
                    link: self.links - 1,
                    ns: ns.clone(),
                    name: name.to_string(),
                })
            }
            NetOp::LinkSet { ns, name, setting } => Some(NetUndo::RestoreLink {
                ns: ns.clone(),
                name: name.to_string(),
                old: match setting {
                    LinkSetting::Up => LinkSetting::Down,
                    LinkSetting::Down => LinkSetting::Up,
                    LinkSetting::Mtu(_) => LinkSetting::Mtu(1500),
                    LinkSetting::Master(_) | LinkSetting::NoMaster => LinkSetting::NoMaster,
                },
            }),
            NetOp::LinkMove { ns, name, to } => Some(NetUndo::MoveBack {
                link: 0,
                name: name.to_string(),
                from: ns.clone(),
                to: to.clone(),
            }),
            NetOp::AddrAdd { ns, dev, cidr, .. } => Some(NetUndo::DeleteAddr {
                ns: ns.clone(),
                dev: dev.to_string(),
                cidr: *cidr,
            }),
            NetOp::RouteAdd { ns, route } => Some(NetUndo::DeleteRoute {
                ns: ns.clone(),
                route: route.clone(),
            }),
            NetOp::Forwarding { ns, v6, .. } => Some(NetUndo::RestoreSysctl {
                ns: ns.clone(),
                key: forwarding_key(*v6).into(),
                old: "<previous value>".into(),
            }),
            NetOp::Nat { ns, rule } => {
                let table = "nsr_<pid>".to_string();
                if self.tables.contains(ns) {
                    Some(NetUndo::DeleteRules {
                        ns: ns.clone(),
                        table,
                        rules: rule
                            .lines()
                            .iter()
                            .map(|l| (l.chain.to_string(), 0))
                            .collect(),
                    })
                } else {
                    self.tables.push(ns.clone());
                    Some(NetUndo::DeleteTable {
                        ns: ns.clone(),
                        table,
                    })
                }
            }
            NetOp::Pasta { ns, spec } => Some(NetUndo::StopPasta {
                ns: ns.clone(),
                process: crate::ops::pasta::PastaProcess {
                    name: "pasta".into(),
                    pid: 0,
                    start: 0,
                    ports: spec.ports.clone(),
                },
            }),
            NetOp::NetnsOpen { .. } => None,
            NetOp::Links { ns } => return (Output::Net(NetOutput::Links(self.links_in(ns))), None),
            NetOp::Addrs { .. } => return (Output::Net(NetOutput::Addrs(Vec::new())), None),
            NetOp::Routes { .. } => return (Output::Net(NetOutput::Routes(Vec::new())), None),
        };
        (Output::Unit, undo.map(Undo::Net))
    }
}

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
                        pid: placeholder_pid(id),
                    },
                    Some(Undo::StopSandbox {
                        sandbox: id,
                        pid: placeholder_pid(id),
                        cgroups: Vec::new(),
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
                    unique: None,
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
                    oom_killed: false,
                    pids_limit_hit: false,
                }),
                None,
            ),
            Op::Exec { .. } => (Output::ExitCode(0), None),
            Op::Namespaces { .. } => (Output::Namespaces(Default::default()), None),
            Op::MountInfo { .. } => (Output::MountInfo(Vec::new()), None),
            Op::SetLimits { sandbox, .. } => (
                Output::Unit,
                Some(Undo::RestoreLimits {
                    sandbox: *sandbox,
                    files: Vec::new(),
                }),
            ),
            // Nothing has run: every counter is 0.
            Op::Usage { .. } => (
                Output::Usage(
                    crate::ops::limits::USAGE_KEYS
                        .iter()
                        .map(|k| (k.to_string(), 0))
                        .collect(),
                ),
                None,
            ),
            Op::Net(op) => self.net(op),
            Op::RootfsIn { sandbox, op } => {
                let (out, undo) = rootfs(op);
                let undo = undo.map(|undo| Undo::RootfsIn {
                    sandbox: *sandbox,
                    undo,
                });
                (out, undo)
            }
            Op::Rootfs(op) => {
                let (out, undo) = rootfs(op);
                (out, undo.map(Undo::Rootfs))
            }
        })
    }

    fn undo(&mut self, undo: &Undo) -> Result<UndoOutcome, OpError> {
        self.undone.push(undo.clone());
        Ok(UndoOutcome::Done)
    }
}

fn rootfs(op: &RootfsOp) -> (Output, Option<RootfsUndo>) {
    match op {
        RootfsOp::Cached { .. } => (Output::Text("<cache>/<sha256 of the archive>".into()), None),
        RootfsOp::MakeDir { path } => (
            Output::Text(path.clone()),
            Some(RootfsUndo::RemoveDirs {
                dirs: vec![path.clone()],
            }),
        ),
        RootfsOp::Overlay { dir, .. } => (
            Output::Text(dir.clone()),
            Some(RootfsUndo::Overlay {
                dir: dir.clone(),
                mnt_id: 0,
                state: crate::ops::rootfs::overlay_state_dir(dir),
                keep_dir: false,
            }),
        ),
        RootfsOp::FromTar { dir, .. } | RootfsOp::FromImage { dir, .. } => (
            Output::Text(dir.clone()),
            Some(RootfsUndo::RemoveTree {
                dir: dir.clone(),
                keep_dir: false,
            }),
        ),
    }
}

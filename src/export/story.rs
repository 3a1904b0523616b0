//! What a traced run did to one sandbox, in order: the spec it was made with, its
//! hostname, root and mounts, the command it ran last; and, in words, everything else
//! the recipe did that a bundle for that sandbox cannot carry.

use crate::ops::limits::CgroupLimits;
use crate::ops::mount::MountSpec;
use crate::ops::net::{NetOp, NsRef};
use crate::ops::rootfs::RootfsOp;
use crate::ops::run::RunSpec;
use crate::ops::sandbox::SandboxSpec;
use crate::ops::{Op, SandboxId};
use crate::session::TraceItem;

/// How the sandbox changed its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootChange {
    Chroot(String),
    PivotRoot(String),
}

impl RootChange {
    pub fn path(&self) -> &str {
        match self {
            RootChange::Chroot(p) | RootChange::PivotRoot(p) => p,
        }
    }
}

/// A mount, and whether the sandbox had changed its root when it made it.
#[derive(Debug, Clone)]
pub struct StoryMount {
    pub spec: MountSpec,
    pub after_root: bool,
}

/// The command a bundle's process is: the sandbox's last `run` or `exec`.
#[derive(Debug, Clone)]
pub struct Command {
    pub spec: RunSpec,
}

#[derive(Debug, Clone)]
pub struct Story {
    /// Its number as `--sandbox` and `nsr graph` count (1 for the first).
    pub number: usize,
    pub spec: SandboxSpec,
    pub hostname: Option<String>,
    pub root: Option<RootChange>,
    pub mounts: Vec<StoryMount>,
    pub command: Option<Command>,
    /// The limits it ended with (`box.limits` changes them while it runs).
    pub limits: Option<CgroupLimits>,
    /// The root filesystem operations of the run, in order (where roots come from).
    pub rootfs: Vec<RootfsOp>,
    /// The named network namespaces the recipe made.
    pub netns_made: Vec<String>,
    /// What the bundle does not carry, one sentence each.
    pub not_exported: Vec<String>,
}

/// The number of sandboxes a trace made.
pub fn sandboxes(trace: &[TraceItem]) -> usize {
    ops(trace).filter(|op| matches!(op, Op::Unshare(_))).count()
}

fn ops(trace: &[TraceItem]) -> impl Iterator<Item = &Op> {
    trace.iter().filter_map(|t| match t {
        TraceItem::Op { op, .. } => Some(op.as_ref()),
        TraceItem::Print(_) => None,
    })
}

/// The story of sandbox `number` (1-based); None when the trace made fewer.
pub fn of_sandbox(trace: &[TraceItem], number: usize) -> Option<Story> {
    let id: SandboxId = number.checked_sub(1)?;
    let mut story: Option<Story> = None;
    let mut made = 0usize;
    let mut rootfs = Vec::new();
    let mut netns_made = Vec::new();
    let mut elsewhere = Vec::new();
    let mut commands = Vec::new();
    for op in ops(trace) {
        match op {
            Op::Unshare(spec) => {
                made += 1;
                if made == number {
                    story = Some(Story {
                        number,
                        spec: spec.clone(),
                        hostname: None,
                        root: None,
                        mounts: Vec::new(),
                        command: None,
                        limits: spec.limits.clone(),
                        rootfs: Vec::new(),
                        netns_made: Vec::new(),
                        not_exported: Vec::new(),
                    });
                } else {
                    elsewhere.push(format!(
                        "sandbox {made} (`{spec}`): a bundle holds one sandbox (export it with --sandbox {made})"
                    ));
                }
            }
            Op::Rootfs(r) => rootfs.push(r.clone()),
            Op::RootfsIn { sandbox, op: r } if *sandbox == id => rootfs.push(r.clone()),
            Op::Net(_) if !op.may_create() => {}
            Op::Net(n) => {
                if let NetOp::NetnsAdd { name } = n {
                    netns_made.push(name.as_str().to_string());
                }
                elsewhere.push(format!("network: {}", describe_net(n, id)));
            }
            _ => {}
        }
        let Some(s) = story.as_mut() else { continue };
        match op {
            Op::SetHostname { sandbox, name } if *sandbox == id => s.hostname = Some(name.clone()),
            Op::Chroot { sandbox, path } if *sandbox == id => {
                s.root = Some(RootChange::Chroot(path.clone()))
            }
            Op::PivotRoot { sandbox, new_root } if *sandbox == id => {
                s.root = Some(RootChange::PivotRoot(new_root.clone()))
            }
            Op::Mount { sandbox, spec } if *sandbox == id => s.mounts.push(StoryMount {
                spec: spec.clone(),
                after_root: s.root.is_some(),
            }),
            Op::SetLimits { sandbox, limits } if *sandbox == id => s.limits = Some(limits.clone()),
            Op::Run { sandbox, spec } | Op::Exec { sandbox, spec } if *sandbox == id => {
                commands.push(Command { spec: spec.clone() })
            }
            _ => {}
        }
    }
    let mut s = story?;
    s.command = commands.pop();
    for c in &commands {
        s.not_exported.push(format!(
            "a command the recipe runs before the last one: `{}` (the bundle's process is the last; what this one did to the root is not in it)",
            Op::Run { sandbox: id, spec: c.spec.clone() }.shell()
        ));
    }
    s.not_exported.extend(elsewhere);
    s.rootfs = rootfs;
    s.netns_made = netns_made;
    Some(s)
}

/// A network operation in words, saying when it is in the exported sandbox's own
/// network namespace (which the container gets empty: only a loopback, down).
fn describe_net(op: &NetOp, id: SandboxId) -> String {
    let own = |ns: &NsRef| matches!(ns, NsRef::Sandbox(s) if *s == id);
    let in_own = match op {
        NetOp::Veth { ns, peer_ns, .. } => own(ns) || own(peer_ns),
        NetOp::LinkMove { ns, to, .. } => own(ns) || own(to),
        NetOp::Bridge { ns, .. }
        | NetOp::LinkSet { ns, .. }
        | NetOp::AddrAdd { ns, .. }
        | NetOp::RouteAdd { ns, .. }
        | NetOp::Forwarding { ns, .. }
        | NetOp::Nat { ns, .. }
        | NetOp::Pasta { ns, .. } => own(ns),
        _ => false,
    };
    let what = op.shell();
    if in_own {
        format!("{what} (in the sandbox's own network namespace, which the container gets empty)")
    } else {
        what
    }
}

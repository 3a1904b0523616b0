//! Each operation as the commands of the tutorial's toolbox (`unshare`, `nsenter`,
//! `mount`, `ip`, `nft`, `sysctl`, `tar`) that do the same by hand, with the commands that
//! take it back. A sandbox is an `unshare ... sleep infinity` process whose pid the
//! script keeps in `$SANDBOXn_PID`; later commands join it with `nsenter`.

use crate::cgroup::sandbox::{self as groups, SandboxGroups};
use crate::confine::{Caps, Confinement};
use crate::ops::limits::CgroupLimits;
use crate::ops::mount::{MountSource, MountSpec};
use crate::ops::nat::NatRule;
use crate::ops::net::{forwarding_key, NetOp, NetUndo, NsRef};
use crate::ops::rootfs::RootfsOp;
use crate::ops::run::RunSpec;
use crate::ops::sandbox::{JoinTarget, SandboxSpec};
use crate::ops::{sandbox_pid_var as pid_var, shell_quote, Op, SandboxId, Undo};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The table nsr names `nsr_<pid>`, in a script.
pub const TABLE: &str = "nsr_plan";

/// A step as commands: what does it, and what undoes it (run in reverse order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commands {
    pub run: Vec<String>,
    pub undo: Vec<String>,
    /// Run once the undo is registered: a failure here must find it (a sandbox's
    /// masks, after the sandbox whose kill undoes them).
    pub then: Vec<String>,
}

impl Commands {
    /// Every command, in the order they run.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.run.iter().chain(&self.then)
    }
}

#[derive(Default)]
struct SandboxShell {
    /// The directory it chrooted to (the `sleep` process that stands for it cannot).
    root: Option<String>,
    /// How its commands are confined.
    confine: Confinement,
    /// Whether nsr hardens /proc and /sys in its mount namespace (runc's masks).
    harden: bool,
    /// Its cgroups, when it has limits (a sandbox without limits gets groups only to
    /// count and to kill, which the script does not need).
    groups: Option<SandboxGroups>,
}

/// What the script knows as it goes: sandboxes and their roots, NAT tables and chains
/// made in each namespace, values saved for an undo.
#[derive(Default)]
pub struct ShellWriter {
    sandboxes: HashMap<SandboxId, SandboxShell>,
    chains: HashMap<NsRef, BTreeSet<String>>,
    saved: usize,
    /// Whether a named netns was added before (the first one prepares /run/netns).
    run_netns_seen: bool,
}

/// The recording backend's pids are -1, -2, ...: sandbox 0, 1, ...
fn sandbox_of_pid(pid: i32) -> Option<SandboxId> {
    (pid < 0).then(|| (-pid - 1) as SandboxId)
}

fn join_path(t: &JoinTarget, kind: crate::ops::kinds::NsKind) -> String {
    match t {
        JoinTarget::Pid(pid) => match sandbox_of_pid(*pid) {
            Some(id) => format!("/proc/{}/ns/{}", pid_var(id), kind.proc_file()),
            None => t.path_for(kind),
        },
        JoinTarget::Path(_) => shell_quote(&t.path_for(kind)),
    }
}

/// The groups of a sandbox with limits, made and limited as the script's commands
/// (where `SandboxGroups::plan` puts them on the machine the plan is made on; `$$`
/// makes the names the script's own).
fn cgroups_of(spec: &SandboxSpec, id: SandboxId, c: &mut Commands) -> Option<SandboxGroups> {
    let limits = spec.limits.as_ref().filter(|l| !l.is_empty())?;
    let layout = crate::cgroup::layout::Layout::detect();
    let planned = SandboxGroups::plan(&layout, &format!("nsr-$$-{id}"), Some(limits), false)
        .and_then(|g| g.limit_files(limits).map(|f| (g, f)));
    let (g, files) = match planned {
        Ok(p) => p,
        Err(e) => {
            c.run
                .push(format!("echo {} >&2; exit 1", shell_quote(&e.to_string())));
            return None;
        }
    };
    let dirs = g.removal_order();
    let mut make = vec![format!(
        "mkdir {}",
        dirs.iter().rev().cloned().collect::<Vec<_>>().join(" ")
    )];
    for (file, value) in &files {
        make.push(format!("echo {} > {}", shell_quote(value), file.display()));
    }
    c.run.push(format!(
        "{{ {}; }} || {{ rmdir {} 2>/dev/null; exit 1; }}",
        make.join(" && "),
        dirs.join(" ")
    ));
    Some(g)
}

fn joined(g: &SandboxGroups) -> Vec<String> {
    g.unified
        .iter()
        .chain(&g.v1())
        .map(|p| p.display().to_string())
        .collect()
}

/// `unshare(1)` for the spec, keeping a `sleep infinity` as the sandbox's process.
fn unshare_words(spec: &SandboxSpec) -> String {
    let mut w = spec.command_words(&join_path, true);
    w.push("sleep infinity".into());
    w.join(" ")
}

/// The confinement as the tutorial-era tools say it: prlimit(1) for the limits,
/// setpriv(1) for no_new_privs and the capability sets.
fn confine_words(c: &Confinement) -> Vec<String> {
    let mut w = Vec::new();
    if !c.rlimits.is_empty() {
        w.push("prlimit".to_string());
        for r in &c.rlimits {
            let v = |n: u64| {
                if n == u64::MAX {
                    "unlimited".to_string()
                } else {
                    n.to_string()
                }
            };
            w.push(format!(
                "--{}={}:{}",
                crate::confine::rlimit_name(r.resource),
                v(r.soft),
                v(r.hard)
            ));
        }
        w.push("--".into());
    }
    let caps = match c.caps {
        Caps::All => None,
        Caps::Only(mask) => Some(
            std::iter::once("-all".to_string())
                .chain(
                    crate::confine::caps::names_of(mask)
                        .into_iter()
                        .map(|n| format!("+{}", n.to_ascii_lowercase())),
                )
                .collect::<Vec<_>>()
                .join(","),
        ),
    };
    if c.no_new_privs || caps.is_some() || c.user.is_some() {
        w.push("setpriv".into());
        if let Some(u) = &c.user {
            w.push(format!("--reuid={} --regid={}", u.uid, u.gid));
            if u.groups.is_empty() {
                w.push("--clear-groups".into());
            } else {
                let g: Vec<String> = u.groups.iter().map(|g| g.to_string()).collect();
                w.push(format!("--groups={}", g.join(",")));
            }
        }
        if c.no_new_privs {
            w.push("--no-new-privs".into());
        }
        if let Some(list) = caps {
            w.push(format!("--bounding-set={list}"));
            w.push(format!("--inh-caps={list}"));
        }
    }
    w
}

/// The seccomp filter has no tool of its own: the script names it.
fn seccomp_note(c: &Confinement) -> Option<String> {
    let p = c.seccomp.as_ref()?;
    let what = match p.base {
        crate::confine::seccomp::Base::DefaultList => "nsr's default seccomp filter (the container runtimes' refused calls, the 32-bit entry refused)",
        crate::confine::seccomp::Base::Allow => "a seccomp filter allowing all but the recipe's deny list",
        crate::confine::seccomp::Base::Deny => "a seccomp filter allowing only the recipe's allow list",
    };
    Some(format!("# the next command runs under {what}"))
}

/// Nor has a cgroup2 device program: the script names what it allows.
fn devices_note(c: &Confinement) -> Option<String> {
    let crate::confine::devices::Devices::Standard { extra } = &c.devices else {
        return None;
    };
    let extra: Vec<String> = extra.iter().map(|r| r.to_string()).collect();
    Some(format!(
        "# as root, the next command can open only the standard device nodes (null, zero, full, random, urandom, tty, ptmx, pts){}: nsr starts it in a device cgroup of the sandbox",
        if extra.is_empty() { String::new() } else { format!(" and {}", extra.join(", ")) }
    ))
}

/// Nor has Landlock (in the tutorial's era): the script names the rules.
fn landlock_note(c: &Confinement) -> Option<String> {
    let l = c.landlock.as_ref()?;
    let list = |what: &str, paths: &[String]| {
        (!paths.is_empty()).then(|| format!("{what} {}", paths.join(" ")))
    };
    let rules: Vec<String> = [
        list("read", &l.read),
        list("write", &l.write),
        list("exec", &l.exec),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(format!(
        "# the next command runs under Landlock: only {} (and /dev/null, zero, full, random, urandom)",
        if rules.is_empty() { "nothing".to_string() } else { rules.join("; ") }
    ))
}

fn under(root: Option<&str>, path: &str) -> String {
    match root {
        Some(r) => format!(
            "{}/{}",
            r.trim_end_matches('/'),
            path.trim_start_matches('/')
        ),
        None => path.to_string(),
    }
}

impl ShellWriter {
    fn root(&self, id: SandboxId) -> Option<&str> {
        self.sandboxes.get(&id).and_then(|s| s.root.as_deref())
    }

    /// `nsenter` into every namespace of the sandbox (and its root, after pivot_root).
    fn enter(&self, id: SandboxId) -> String {
        format!("nsenter -t {} -a -r --", pid_var(id))
    }

    /// The confinement of a command: its own options over its sandbox's.
    fn confinement(&self, id: SandboxId, spec: &RunSpec) -> Confinement {
        let base = self
            .sandboxes
            .get(&id)
            .map(|s| s.confine.clone())
            .unwrap_or_default();
        spec.confine.apply_to(&base)
    }

    /// Runs `argv` in the sandbox, under its chroot if it has one.
    fn in_sandbox(&self, id: SandboxId, spec: &RunSpec) -> String {
        let mut w = vec![self.enter(id)];
        if let Some(root) = self.root(id) {
            w.push(format!("chroot {}", shell_quote(root)));
        }
        w.extend(confine_words(&self.confinement(id, spec)));
        if !spec.env.is_empty() || spec.cwd.is_some() {
            w.push("env".into());
            for (k, v) in &spec.env {
                w.push(shell_quote(&format!("{k}={v}")));
            }
            if let Some(cwd) = &spec.cwd {
                w.push(format!("--chdir={}", shell_quote(cwd)));
            }
        }
        w.extend(spec.argv.iter().map(|a| shell_quote(a)));
        let cmd = w.join(" ");
        match &spec.stdin {
            Some(input) => format!("printf %s {} | {cmd}", shell_quote(input)),
            None => cmd,
        }
    }

    /// A name for a value the script reads before a change, for its undo.
    fn save(&mut self, what: &str) -> String {
        self.saved += 1;
        format!("{what}_{}", self.saved)
    }

    /// A sandbox: an `unshare ... sleep infinity` in the background, its pid kept; the
    /// masks nsr's confinement puts on its /proc and /sys once its kill is registered.
    fn unshare(&mut self, spec: &SandboxSpec, undo: Option<&Undo>, c: &mut Commands) {
        let id = match undo {
            Some(Undo::StopSandbox { sandbox, .. }) => *sandbox,
            _ => self.sandboxes.len(),
        };
        // As the holder decides (sandbox::holder::Setup): a confined sandbox
        // hardens a mount namespace of its own in place.
        let harden = !spec.confine.is_privileged()
            && spec.creates(crate::ops::kinds::NsKind::Mount)
            && spec.propagation != crate::ops::sandbox::Propagation::Unchanged;
        let groups = cgroups_of(spec, id, c);
        match &groups {
            Some(g) => c.run.push(format!(
                "sh -c 'for g in \"$@\"; do [ \"$g\" = -- ] && break; echo $$ > \"$g\"/cgroup.procs; shift; done; shift; exec \"$@\"' sh {} -- {} &",
                joined(g).join(" "),
                unshare_words(spec)
            )),
            None => c.run.push(format!("{} &", unshare_words(spec))),
        }
        self.sandboxes.insert(
            id,
            SandboxShell {
                root: None,
                confine: spec.confine.clone(),
                harden,
                groups: groups.clone(),
            },
        );
        c.run.push(format!(
            "SANDBOX{id}_JOB=$! SANDBOX{id}_PID=$(sandbox_pid $!)"
        ));
        if harden {
            c.then.push(
                "# confined: runc's masked and read-only paths on the /proc and /sys it inherited (HARDEN_PROC, HARDEN_SYS: the script's prelude)"
                    .into(),
            );
            for (var, dir) in [("HARDEN_PROC", "/proc"), ("HARDEN_SYS", "/sys")] {
                c.then.push(format!(
                    "nsenter -t {} -m -- sh -c \"${var}\" sh {dir}",
                    pid_var(id)
                ));
            }
        }
        // unshare --kill-child takes the sandbox's first process with it.
        c.undo.push(format!(
            "kill -KILL $SANDBOX{id}_JOB; wait $SANDBOX{id}_JOB 2>/dev/null"
        ));
        if let Some(g) = groups {
            // The killed processes leave their groups as they are reaped, a moment later.
            c.undo.push(format!(
                "for g in {}; do i=0; while ! rmdir \"$g\" 2>/dev/null && [ -d \"$g\" ] && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.01; done; done",
                g.removal_order().join(" ")
            ));
        }
    }

    /// `box.limits`: each file's old value saved, the new one written; the undo writes
    /// back what was saved.
    fn set_limits(&mut self, sandbox: SandboxId, limits: &CgroupLimits, c: &mut Commands) {
        let files = match self.sandboxes.get(&sandbox).and_then(|s| s.groups.as_ref()) {
            Some(g) => g.limit_files(limits),
            None => Err(crate::ops::OpError::new(
                "the sandbox has no cgroups in the script: it started without limits",
            )),
        };
        let files = match files {
            Ok(f) => f,
            Err(e) => {
                c.run
                    .push(format!("echo {} >&2; exit 1", shell_quote(&e.to_string())));
                return;
            }
        };
        let mut undo = Vec::new();
        for (file, value) in files {
            let file = file.display().to_string();
            let var = self.save("LIMIT_WAS");
            let per_device = file.ends_with("io.max") || file.ends_with("_device");
            if per_device {
                let restore = groups::restore_value(Path::new(&file), &value, "");
                undo.push(format!("echo {} > {file}", shell_quote(&restore)));
            } else {
                c.run.push(format!("{var}=$(cat {file})"));
                undo.push(format!("echo \"${var}\" > {file}"));
            }
            c.run.push(format!("echo {} > {file}", shell_quote(&value)));
        }
        undo.reverse();
        c.undo.extend(undo);
    }

    /// A mount under the sandbox's root, unmounted by `umount -l`; a proc or sysfs of a
    /// confined sandbox gets nsr's masks.
    fn mount(&mut self, sandbox: SandboxId, spec: &MountSpec, c: &mut Commands) {
        let root = self.root(sandbox).map(str::to_string);
        let mut spec: MountSpec = spec.clone();
        spec.target = under(root.as_deref(), &spec.target);
        if let MountSource::Bind { source, .. } = &mut spec.source {
            *source = under(root.as_deref(), source);
        }
        c.run.push(format!("{} {spec}", self.enter(sandbox)));
        if self.sandboxes.get(&sandbox).is_some_and(|s| s.harden) {
            if let MountSource::Filesystem { fstype, .. } = &spec.source {
                let var = match fstype.as_str() {
                    "proc" => Some("HARDEN_PROC"),
                    "sysfs" => Some("HARDEN_SYS"),
                    _ => None,
                };
                if let Some(var) = var {
                    c.run.push(format!(
                        "{} sh -c \"${var}\" sh {}",
                        self.enter(sandbox),
                        shell_quote(&spec.target)
                    ));
                }
            }
        }
        // nsr detaches (MNT_DETACH): a process still using it does not stop it.
        c.undo.push(format!(
            "{} umount -l {}",
            self.enter(sandbox),
            shell_quote(&spec.target)
        ));
    }

    /// The commands for `op`, which the backend answered with `undo`.
    pub fn step(&mut self, op: &Op, undo: Option<&Undo>) -> Commands {
        let mut c = Commands::default();
        match op {
            Op::Unshare(spec) => self.unshare(spec, undo, &mut c),
            Op::SetLimits { sandbox, limits } => self.set_limits(*sandbox, limits, &mut c),
            Op::Usage { sandbox } => {
                let dirs = self
                    .sandboxes
                    .get(sandbox)
                    .and_then(|s| s.groups.as_ref())
                    .map(|g| g.removal_order())
                    .unwrap_or_default();
                c.run.push(format!(
                    "for g in {}; do grep -H . \"$g\"/memory.usage_in_bytes \"$g\"/memory.max_usage_in_bytes \"$g\"/memory.current \"$g\"/pids.current \"$g\"/cpu.stat 2>/dev/null; done || true",
                    dirs.join(" ")
                ));
            }
            Op::SetHostname { sandbox, name } => {
                let var = self.save("HOSTNAME_WAS");
                let enter = format!("nsenter -t {} -u --", pid_var(*sandbox));
                c.run.push(format!("{var}=$({enter} hostname)"));
                c.run
                    .push(format!("{enter} hostname {}", shell_quote(name)));
                c.undo.push(format!("{enter} hostname \"${var}\""));
            }
            Op::GetHostname { sandbox } => {
                c.run
                    .push(format!("nsenter -t {} -u -- hostname", pid_var(*sandbox)));
            }
            Op::Mount { sandbox, spec } => self.mount(*sandbox, spec, &mut c),
            Op::Chroot { sandbox, path } => {
                let root = under(self.root(*sandbox), path);
                c.run.push(format!(
                    "SANDBOX{sandbox}_ROOT={}  # chroot: what sandbox {sandbox} runs from here on runs under it",
                    shell_quote(&root)
                ));
                if let Some(s) = self.sandboxes.get_mut(sandbox) {
                    s.root = Some(root);
                }
            }
            Op::PivotRoot { sandbox, new_root } => {
                let root = under(self.root(*sandbox), new_root);
                c.run.push(format!(
                    "{} sh -c {}",
                    self.enter(*sandbox),
                    shell_quote(&format!(
                        "cd {} && pivot_root . . && umount -l .",
                        shell_quote(&root)
                    ))
                ));
                c.run.push(format!(
                    "SANDBOX{sandbox}_ROOT=/  # its root is the new root now"
                ));
                if let Some(s) = self.sandboxes.get_mut(sandbox) {
                    s.root = None;
                }
            }
            // Its exit status is the recipe's to look at, not a failure of the step.
            Op::Run { sandbox, spec } | Op::Exec { sandbox, spec } => {
                let confinement = self.confinement(*sandbox, spec);
                c.run.extend(seccomp_note(&confinement));
                c.run.extend(landlock_note(&confinement));
                c.run.extend(devices_note(&confinement));
                c.run
                    .push(format!("{} || :", self.in_sandbox(*sandbox, spec)));
            }
            Op::Namespaces { pid } => {
                let who = match sandbox_of_pid(*pid) {
                    Some(id) => pid_var(id),
                    // nsr's own namespaces: the script's.
                    None if *pid == std::process::id() as i32 => "$$".into(),
                    None => pid.to_string(),
                };
                c.run.push(format!("ls -l /proc/{who}/ns"));
            }
            Op::MountInfo { sandbox } => {
                c.run
                    .push(format!("cat /proc/{}/mountinfo", pid_var(*sandbox)));
            }
            Op::Net(op) => self.net(op, undo, &mut c),
            Op::Rootfs(op) => {
                c.run.push(rootfs_command(op));
                if let Some(Undo::Rootfs(u)) = undo {
                    c.undo.push(u.describe());
                }
            }
            Op::RootfsIn { sandbox, op } => {
                let enter = format!("nsenter -t {} -U -m --", pid_var(*sandbox));
                c.run.push(format!(
                    "{enter} sh -c {}",
                    shell_quote(&rootfs_command(op))
                ));
                if let Some(Undo::RootfsIn { undo, .. }) = undo {
                    c.undo
                        .push(format!("{enter} sh -c {}", shell_quote(&undo.describe())));
                }
            }
        }
        c
    }

    fn net(&mut self, op: &NetOp, undo: Option<&Undo>, c: &mut Commands) {
        match op {
            NetOp::NetnsAdd { .. } if !self.run_netns_seen => {
                // `ip netns add` makes /run/netns a mount and leaves it; nsr takes it
                // back when it made it and no namespace is left in it.
                self.run_netns_seen = true;
                c.run.push("RUN_NETNS_WAS=$(if mountpoint -q /run/netns; then echo mounted; elif [ -d /run/netns ]; then echo dir; else echo none; fi)".into());
                c.run.push(op.shell());
                if let Some(Undo::Net(u)) = undo {
                    c.undo.push(u.describe());
                }
                c.undo.push("[ \"$RUN_NETNS_WAS\" = mounted ] || [ -n \"$(ls -A /run/netns 2>/dev/null)\" ] || { umount /run/netns 2>/dev/null; [ \"$RUN_NETNS_WAS\" = dir ] || rmdir /run/netns; }".into());
            }
            NetOp::Forwarding { ns, v6, on } => {
                let key = forwarding_key(*v6).replace('/', ".");
                let var = self.save("FORWARDING_WAS");
                c.run
                    .push(format!("{var}=$({})", ns.exec(&format!("sysctl -n {key}"))));
                c.run
                    .push(ns.exec(&format!("sysctl -qw {key}={}", u8::from(*on))));
                c.undo
                    .push(ns.exec(&format!("sysctl -qw {key}=\"${var}\"")));
            }
            NetOp::Nat { ns, rule } => {
                c.run.push(self.nft(ns, rule));
                if let Some(Undo::Net(NetUndo::DeleteTable { .. })) = undo {
                    c.undo
                        .push(ns.exec(&format!("nft delete table inet {TABLE}")));
                }
                // A later rule's own undo is the table's: it goes with it.
            }
            other => {
                c.run.push(other.shell());
                if let Some(Undo::Net(u)) = undo {
                    c.undo.push(u.describe());
                }
            }
        }
    }

    /// The nft script nsr feeds `nft -f -` for a rule, in a here-document.
    fn nft(&mut self, ns: &NsRef, rule: &NatRule) -> String {
        let first = !self.chains.contains_key(ns);
        let known = self.chains.entry(ns.clone()).or_default().clone();
        let script = crate::net::nft::add_script(TABLE, rule, first, |ch| known.contains(ch));
        let chains = self.chains.entry(ns.clone()).or_default();
        for l in rule.lines() {
            chains.insert(l.chain.to_string());
        }
        format!("{} <<'NFT'\n{}NFT", ns.exec("nft -f -"), script)
    }
}

/// The commands that do a root filesystem operation.
pub fn rootfs_command(op: &RootfsOp) -> String {
    match op {
        RootfsOp::Cached { archive, .. } => format!(
            "d={}/$(sha256sum < {a} | cut -d' ' -f1); [ -d \"$d\" ] || {{ mkdir -p \"$d.part\" && tar xf {a} -C \"$d.part\" && mv \"$d.part\" \"$d\"; }}",
            shell_quote(&crate::rootfs::cache::dir().display().to_string()),
            a = shell_quote(archive)
        ),
        other => other.shell(),
    }
}

/// The helpers the script's sandboxes need: the pid of the `sleep infinity` that an
/// `unshare` started in the background ($!) has become (itself, or its child after
/// `--fork`), once it is running inside its namespaces; the masks nsr's confinement puts
/// on a /proc and a /sys (runc's, `fs::masks`), as shell for `sh -c "$HARDEN_PROC" sh DIR`.
pub fn prelude() -> String {
    use crate::ops::mount::{PROC_MASKED, PROC_READ_ONLY, SYS_MASKED};
    let mask = "if [ -d \"$d/$n\" ]; then mount -t tmpfs -o ro,nosuid,nodev,noexec,size=4k tmpfs \"$d/$n\"; elif [ -e \"$d/$n\" ]; then mount --bind /dev/null \"$d/$n\"; fi";
    format!(
        r#"sandbox_pid() {{
  i=0
  while [ $i -lt 500 ]; do
    for p in "$1" $(cat /proc/"$1"/task/"$1"/children 2>/dev/null); do
      if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = sleep ]; then echo "$p"; return 0; fi
    done
    i=$((i + 1)); sleep 0.01
  done
  echo "sandbox $1 did not start" >&2; return 1
}}
UNDO=:
undo_push() {{ UNDO="$1
$UNDO"; }}
trap 'set +e; eval "$UNDO"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
HARDEN_PROC='set -e; d=$1; [ "$(stat -f -c %T "$d")" = proc ] || exit 0
for n in {proc_masked}; do {mask}; done
for n in {proc_ro}; do if [ -e "$d/$n" ]; then mount --rbind "$d/$n" "$d/$n"; mount -o remount,bind,ro "$d/$n"; fi; done'
HARDEN_SYS='set -e; d=$1; [ "$(stat -f -c %T "$d")" = sysfs ] || exit 0
for n in {sys_masked}; do {mask}; done
for m in $(findmnt -rno TARGET -R "$d" | sort -r); do mount -o remount,bind,ro "$m"; done'
"#,
        proc_masked = PROC_MASKED.join(" "),
        proc_ro = PROC_READ_ONLY.join(" "),
        sys_masked = SYS_MASKED.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::kinds::NsKind;
    use crate::ops::mount::MountSpec;
    use crate::ops::sandbox::{IdRange, Propagation};

    fn spec(create: &[NsKind]) -> SandboxSpec {
        SandboxSpec {
            create: create.to_vec(),
            join: Default::default(),
            uid_map: vec![],
            gid_map: vec![],
            propagation: Propagation::Private,
            time_offsets: Default::default(),
            // The layout of commands, without confinement's words (tested on their own).
            confine: Confinement::privileged(),
            limits: Default::default(),
        }
    }

    #[test]
    fn a_confined_command_is_written_with_prlimit_and_setpriv() {
        let mut c = Confinement::confined();
        c.rlimits.push(crate::confine::Rlimit {
            resource: libc::RLIMIT_NOFILE,
            soft: 16,
            hard: u64::MAX,
        });
        let w = confine_words(&c).join(" ");
        assert!(w.starts_with("prlimit --nofile=16:unlimited -- setpriv --no-new-privs --bounding-set=-all,+chown,"), "{w}");
        assert!(w.contains(" --inh-caps=-all,+chown,"), "{w}");
        assert!(seccomp_note(&c).unwrap().contains("default seccomp filter"));
        assert!(confine_words(&Confinement::privileged()).is_empty());
    }

    #[test]
    fn a_joined_namespace_is_entered_with_nsenter_and_ranges_map_outer_first() {
        let mut s = spec(&[NsKind::Mount, NsKind::Pid, NsKind::User]);
        s.join
            .insert(NsKind::Net, JoinTarget::Path("/run/netns/lab".into()));
        s.uid_map.push(IdRange {
            inside: 0,
            outside: 100000,
            count: 65536,
        });
        s.gid_map = s.uid_map.clone();
        assert_eq!(
            unshare_words(&s),
            "nsenter --net=/run/netns/lab unshare --mount --pid --user --fork --kill-child --map-users=100000,0,65536 --map-groups=100000,0,65536 sleep infinity"
        );
        // Another sandbox's namespace: by its pid variable.
        let mut s = spec(&[NsKind::Uts]);
        s.join.insert(NsKind::Net, JoinTarget::Pid(-2));
        assert!(
            unshare_words(&s).starts_with("nsenter --net=/proc/$SANDBOX1_PID/ns/net unshare --uts")
        );
    }

    #[test]
    fn after_chroot_mounts_and_commands_go_under_the_root() {
        let mut w = ShellWriter::default();
        let undo = Undo::StopSandbox {
            sandbox: 0,
            pid: -1,
            cgroups: Vec::new(),
        };
        w.step(&Op::Unshare(spec(&[NsKind::Mount])), Some(&undo));
        w.step(
            &Op::Chroot {
                sandbox: 0,
                path: "/srv/r".into(),
            },
            None,
        );
        let m = MountSpec::new("proc", "/proc", "proc", Default::default(), "", None).unwrap();
        let c = w.step(
            &Op::Mount {
                sandbox: 0,
                spec: m,
            },
            None,
        );
        assert!(c.run[0].ends_with(" /srv/r/proc"), "{:?}", c.run);
        assert_eq!(
            c.undo,
            ["nsenter -t $SANDBOX0_PID -a -r -- umount -l /srv/r/proc"]
        );
        let run = RunSpec {
            argv: vec!["ls".into(), "/".into()],
            env: vec![],
            cwd: None,
            stdin: None,
            confine: Default::default(),
        };
        let c = w.step(
            &Op::Run {
                sandbox: 0,
                spec: run,
            },
            None,
        );
        assert_eq!(
            c.run,
            ["nsenter -t $SANDBOX0_PID -a -r -- chroot /srv/r ls / || :"]
        );
    }

    #[test]
    fn a_second_rule_reuses_the_table_and_its_chains() {
        let mut w = ShellWriter::default();
        let rule = |out: &str| NatRule::Masquerade {
            source: crate::ops::cidr::IpCidr::parse("10.0.0.0/24").unwrap(),
            out: out.into(),
        };
        let first = w.nft(&NsRef::Host, &rule("eth0"));
        assert!(first.contains("create table inet nsr_plan\nadd chain inet nsr_plan postrouting"));
        let second = w.nft(&NsRef::Host, &rule("eth1"));
        assert!(
            !second.contains("create table") && !second.contains("add chain"),
            "{second}"
        );
        // Another namespace has its own table.
        let other = w.nft(&NsRef::Named("lab".into()), &rule("eth0"));
        assert!(other.starts_with("ip netns exec lab nft -f - <<'NFT'\ncreate table"));
    }
}

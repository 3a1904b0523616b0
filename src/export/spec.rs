//! A sandbox's story as a runtime-spec config: namespaces and id maps, hostname, mounts
//! in order, the process with its confinement, and the cgroup limits, each in the
//! spec's own field. What changes on the way is said in notes; what cannot be said at
//! all is in the story's `not_exported`.

use super::root::{host_entries, RootSource};
use super::story::{RootChange, Story, StoryMount};
use crate::confine::{Caps, Confinement};
use crate::ops::kinds::NsKind;
use crate::ops::mount::{MountSource, PROC_MASKED, PROC_READ_ONLY, SYS_MASKED};
use crate::ops::sandbox::{IdRange, JoinTarget, Propagation};
use crate::rootfs::target::from_cwd;
use oci_spec::runtime::{
    Linux, LinuxCapabilities, LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespace,
    LinuxNamespaceType, Mount, PosixRlimit, PosixRlimitBuilder, Process, Root, Spec, User,
};
use std::path::{Path, PathBuf};

/// What Debian's runc (1.1) implements.
pub const OCI_VERSION: &str = "1.0.2";

pub struct Built {
    pub spec: Spec,
    pub notes: Vec<String>,
    pub not_exported: Vec<String>,
}

/// Where the container's root is on the host, for bind sources inside it.
pub fn container_root(source: &RootSource, bundle: &Path) -> PathBuf {
    match source {
        RootSource::Directory { path, .. } => PathBuf::from(path),
        _ => bundle.join("rootfs"),
    }
}

pub fn build(story: &Story, source: &RootSource, bundle: &Path) -> Built {
    let mut b = Built {
        spec: Spec::default(),
        notes: Vec::new(),
        not_exported: Vec::new(),
    };
    let croot = container_root(source, bundle);
    b.spec.set_version(OCI_VERSION.into());
    b.spec.set_root(Some(root_of(source)));
    let has_uts = story.spec.has_own_uts_ns();
    b.spec.set_hostname(match (&story.hostname, has_uts) {
        (Some(h), true) => Some(h.clone()),
        (Some(h), false) => {
            b.not_exported.push(format!("hostname {h}: the sandbox has no uts namespace of its own, and a container's hostname needs one"));
            None
        }
        (None, _) => None,
    });
    if let Some(RootChange::Chroot(p)) = &story.root {
        b.notes.push(format!("the recipe chroots into {p}; an OCI runtime pivots into its root, so the old root is unreachable and /proc/self/mountinfo shows / as a bind mount of the root"));
    }
    let mut mounts = Vec::new();
    let conf = confinement(story);
    // The holder hardens what it mounts by the sandbox's confinement, whatever a
    // command's own options say.
    let harden = !story.spec.confine.is_privileged();
    if *source == RootSource::Host {
        mounts.extend(host_binds(harden));
        if !story.mounts.iter().any(|m| m.spec.target == "/proc") {
            mounts.push(fs_mount("/proc", "proc", "proc", vec![]));
            b.notes.push(
                "the sandbox sees the host's /proc; a runtime mounts only a proc of its own there"
                    .into(),
            );
        }
    }
    for m in &story.mounts {
        match mount(m, story.root.as_ref(), &croot, harden) {
            Some(x) => mounts.push(x),
            None => b.not_exported.push(format!(
                "{}: made before the chroot, outside the sandbox's later root",
                m.spec
            )),
        }
    }
    b.spec.set_mounts(Some(mounts));
    let process = process(story, &conf, &mut b);
    b.spec.set_process(Some(process));
    let linux = linux(story, &conf, &mut b);
    b.spec.set_linux(Some(linux));
    let annotations = [
        ("dev.nsr.sandbox".to_string(), story.number.to_string()),
        ("dev.nsr.unshare".to_string(), story.spec.to_string()),
    ];
    b.spec
        .set_annotations(Some(annotations.into_iter().collect()));
    b
}

/// A referenced directory by its path; DIR/rootfs relative to the bundle, as runtimes
/// expect it.
fn root_of(source: &RootSource) -> Root {
    let mut root = Root::default();
    let (path, readonly) = match source {
        RootSource::Directory { path, readonly } => (PathBuf::from(path), *readonly),
        _ => (PathBuf::from("rootfs"), false),
    };
    root.set_path(path);
    root.set_readonly(Some(readonly));
    root
}

/// The confinement of the bundle's process: the sandbox's, with CAP_SYS_CHROOT kept
/// after a pivot_root (the holder does the same: with the old root detached a second
/// chroot leads nowhere), then the command's own options over it.
fn confinement(story: &Story) -> Confinement {
    let mut base = story.spec.confine.clone();
    if let (Some(RootChange::PivotRoot(_)), Caps::Only(mask)) = (&story.root, base.caps) {
        let chroot = crate::confine::caps::number("SYS_CHROOT").expect("a known name");
        base.caps = Caps::Only(mask | 1 << chroot);
    }
    match &story.command {
        Some(c) => c.spec.confine.apply_to(&base),
        None => base,
    }
}

fn fs_mount(target: &str, fstype: &str, source: &str, options: Vec<String>) -> Mount {
    let mut m = Mount::default();
    m.set_destination(PathBuf::from(target));
    m.set_typ(Some(fstype.into()));
    m.set_source(Some(PathBuf::from(source)));
    m.set_options(Some(options));
    m
}

/// The host's top-level directories, bound recursively where a sandbox that kept the
/// host's root sees them; /sys read-only with its mounts (`rro`) when confined, as nsr
/// makes it for a confined sandbox's commands.
fn host_binds(harden: bool) -> Vec<Mount> {
    host_entries()
        .into_iter()
        .filter(|(_, link)| link.is_none())
        .map(|(name, _)| {
            let p = format!("/{name}");
            let mut options = vec!["rbind".to_string()];
            if harden && name == "sys" {
                options.push("rro".into());
            }
            fs_mount(&p, "bind", &p, options)
        })
        .collect()
}

/// A path as the sandbox saw it when it made the mount, as the host sees it.
fn host_path(p: &str, m: &StoryMount, root: Option<&RootChange>, croot: &Path) -> String {
    let inside = |rest: &str| {
        croot
            .join(rest.trim_start_matches('/'))
            .display()
            .to_string()
    };
    match root {
        Some(_) if m.after_root => inside(p),
        Some(r) => {
            let old = from_cwd(r.path());
            match Path::new(p).strip_prefix(&old) {
                Ok(rest) => inside(&rest.display().to_string()),
                Err(_) => p.to_string(),
            }
        }
        None => p.to_string(),
    }
}

/// `harden`: the sandbox is confined, and nsr makes each sysfs it mounts read-only.
fn mount(m: &StoryMount, root: Option<&RootChange>, croot: &Path, harden: bool) -> Option<Mount> {
    let s = &m.spec;
    let target = match root {
        Some(r) if !m.after_root => {
            let rest = Path::new(&s.target).strip_prefix(from_cwd(r.path())).ok()?;
            format!("/{}", rest.display())
        }
        _ => s.target.clone(),
    };
    let mut options = Vec::new();
    let (fstype, source) = match &s.source {
        MountSource::Filesystem { fstype, source } => {
            let src = if source.is_empty() {
                fstype.clone()
            } else {
                source.clone()
            };
            (fstype.clone(), src)
        }
        MountSource::Bind { source, recursive } => {
            options.push(if *recursive { "rbind" } else { "bind" }.to_string());
            ("bind".to_string(), host_path(source, m, root, croot))
        }
        MountSource::Overlay { lower, upper, work } => {
            let l: Vec<_> = lower.iter().map(|p| host_path(p, m, root, croot)).collect();
            options.push(format!("lowerdir={}", l.join(":")));
            if let (Some(u), Some(w)) = (upper, work) {
                options.push(format!("upperdir={}", host_path(u, m, root, croot)));
                options.push(format!("workdir={}", host_path(w, m, root, croot)));
            }
            ("overlay".to_string(), "overlay".to_string())
        }
    };
    let sysfs = harden && fstype == "sysfs";
    for (on, word) in [
        (s.readonly || sysfs, "ro"),
        (s.nosuid, "nosuid"),
        (s.nodev, "nodev"),
        (s.noexec, "noexec"),
    ] {
        if on {
            options.push(word.into());
        }
    }
    for (k, v) in &s.data {
        options.push(match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        });
    }
    Some(fs_mount(&target, &fstype, &source, options))
}

/// Names deserialized as the spec writes them (`CAP_CHOWN`, `RLIMIT_NOFILE`).
fn by_name<T: serde::de::DeserializeOwned>(name: String) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name)).ok()
}

fn capabilities(c: &Confinement) -> LinuxCapabilities {
    let names: Vec<&str> = match c.caps {
        Caps::All => crate::confine::caps::NAMES.to_vec(),
        Caps::Only(m) => crate::confine::caps::names_of(m),
    };
    let set: oci_spec::runtime::Capabilities = names
        .iter()
        .filter_map(|n| by_name(format!("CAP_{n}")))
        .collect();
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()));
    caps.set_effective(Some(set.clone()));
    caps.set_permitted(Some(set.clone()));
    caps.set_inheritable(Some(set));
    caps.set_ambient(None);
    caps
}

fn process(story: &Story, conf: &Confinement, b: &mut Built) -> Process {
    let mut p = Process::default();
    let mut env = vec![
        format!("PATH={}", crate::sandbox::DEFAULT_PATH),
        "HOME=/root".to_string(),
    ];
    match &story.command {
        Some(c) => {
            p.set_args(Some(c.spec.argv.clone()));
            for (k, v) in &c.spec.env {
                env.retain(|e| !e.starts_with(&format!("{k}=")));
                env.push(format!("{k}={v}"));
            }
            p.set_cwd(PathBuf::from(
                c.spec.cwd.clone().unwrap_or_else(|| "/".into()),
            ));
            if c.spec.stdin.is_some() {
                b.not_exported.push(
                    "the command's stdin text: a runtime gives the process runc's own stdin".into(),
                );
            }
        }
        None => {
            p.set_args(Some(vec!["/bin/sh".into()]));
            b.notes
                .push("the recipe runs no command in the sandbox: the process is /bin/sh".into());
        }
    }
    p.set_env(Some(env));
    p.set_terminal(Some(false));
    let mut user = User::default();
    if let Some(u) = &conf.user {
        user.set_uid(u.uid);
        user.set_gid(u.gid);
        user.set_additional_gids((!u.groups.is_empty()).then(|| u.groups.clone()));
    }
    p.set_user(user);
    p.set_capabilities(Some(capabilities(conf)));
    p.set_no_new_privileges(Some(conf.no_new_privs));
    let rlimits: Vec<PosixRlimit> = conf
        .rlimits
        .iter()
        .filter_map(|r| {
            let typ: oci_spec::runtime::PosixRlimitType = by_name(format!(
                "RLIMIT_{}",
                crate::confine::rlimit_name(r.resource).to_uppercase()
            ))?;
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(r.soft)
                .hard(r.hard)
                .build()
                .ok()
        })
        .collect();
    p.set_rlimits((!rlimits.is_empty()).then_some(rlimits));
    if let Some(l) = &conf.landlock {
        b.not_exported.push(format!("Landlock rules (read {:?}, write {:?}, exec {:?}): the runtime-spec has no field for them", l.read, l.write, l.exec));
    }
    p
}

fn kind_type(k: NsKind) -> LinuxNamespaceType {
    match k {
        NsKind::Mount => LinuxNamespaceType::Mount,
        NsKind::Uts => LinuxNamespaceType::Uts,
        NsKind::Ipc => LinuxNamespaceType::Ipc,
        NsKind::Net => LinuxNamespaceType::Network,
        NsKind::Pid => LinuxNamespaceType::Pid,
        NsKind::User => LinuxNamespaceType::User,
        NsKind::Cgroup => LinuxNamespaceType::Cgroup,
        NsKind::Time => LinuxNamespaceType::Time,
    }
}

fn namespace(k: NsKind, path: Option<String>) -> LinuxNamespace {
    let mut n = LinuxNamespace::default();
    n.set_typ(kind_type(k));
    n.set_path(path.map(PathBuf::from));
    n
}

fn id_map(map: &[IdRange]) -> Vec<LinuxIdMapping> {
    map.iter()
        .map(|r| {
            LinuxIdMappingBuilder::default()
                .container_id(r.inside)
                .host_id(r.outside)
                .size(r.count)
                .build()
                .expect("every field given")
        })
        .collect()
}

fn namespaces(story: &Story, b: &mut Built) -> Vec<LinuxNamespace> {
    let s = &story.spec;
    let mut out: Vec<LinuxNamespace> = s.create.iter().map(|k| namespace(*k, None)).collect();
    for (kind, target) in &s.join {
        match target {
            JoinTarget::Path(p) => {
                let made = p
                    .strip_prefix("/run/netns/")
                    .or_else(|| p.strip_prefix("/var/run/netns/"))
                    .filter(|n| story.netns_made.iter().any(|m| m == n));
                if let Some(name) = made {
                    b.notes.push(format!("the {kind} namespace is {p} (netns {name}), which the recipe makes with its links and routes: it must exist when the container starts, so keep the environment (nsr run --keep RECIPE) and nsr down it afterwards"));
                }
                out.push(namespace(*kind, Some(p.clone())));
            }
            JoinTarget::Pid(_) => {
                b.not_exported.push(format!("joining another sandbox's {kind} namespace: the container gets a {kind} namespace of its own"));
                out.push(namespace(*kind, None));
            }
        }
    }
    if !s.creates(NsKind::Cgroup) && !s.join.contains_key(&NsKind::Cgroup) {
        out.push(namespace(NsKind::Cgroup, None));
        b.notes.push("nsr starts each command in a cgroup namespace of its own (its sandbox's cgroup as the root): so does the bundle".into());
    }
    if !s.has_own_mount_ns() {
        out.push(namespace(NsKind::Mount, None));
        b.notes.push(
            "the sandbox shares the host's mount namespace; an OCI container always has its own"
                .into(),
        );
    }
    if s.creates(NsKind::Time) {
        b.notes.push("a time namespace needs runtime-spec 1.2 (runc 1.2, crun 1.8 with timeOffsets); Debian's runc 1.1 refuses it".into());
    }
    out
}

fn linux(story: &Story, conf: &Confinement, b: &mut Built) -> Linux {
    let mut l = Linux::default();
    l.set_namespaces(Some(namespaces(story, b)));
    let s = &story.spec;
    if s.creates(NsKind::User) {
        if s.uid_map.is_empty() {
            b.not_exported.push("a user namespace without uid/gid maps (its processes are nobody): a runtime needs the maps; add map_root: true or uid_map".into());
        }
        l.set_uid_mappings((!s.uid_map.is_empty()).then(|| id_map(&s.uid_map)));
        l.set_gid_mappings((!s.gid_map.is_empty()).then(|| id_map(&s.gid_map)));
    }
    l.set_rootfs_propagation(match s.propagation {
        Propagation::Private => Some("private".into()),
        Propagation::Slave => Some("slave".into()),
        Propagation::Unchanged => None,
    });
    if story.spec.confine.is_privileged() {
        l.set_masked_paths(Some(vec![]));
        l.set_readonly_paths(Some(vec![]));
    } else {
        let masked = PROC_MASKED.iter().map(|p| format!("/proc/{p}"));
        let sys = SYS_MASKED.iter().map(|p| format!("/sys/{p}"));
        l.set_masked_paths(Some(masked.chain(sys).collect()));
        l.set_readonly_paths(Some(
            PROC_READ_ONLY
                .iter()
                .map(|p| format!("/proc/{p}"))
                .collect(),
        ));
    }
    l.set_seccomp(conf.seccomp.as_ref().map(super::seccomp::of_policy));
    l.set_resources(Some(super::resources::of_sandbox(
        story.limits.as_ref(),
        &conf.devices,
    )));
    l
}

//! The device cgroup of a confined sandbox: made by nsr before the sandbox starts (so
//! its undo is journaled first), the device program attached, handed to the holder,
//! which starts each confined command in it; removed, with whatever still runs in it,
//! when the sandbox stops.

use crate::confine::devices::{self, Devices};
use crate::ops::kinds::NsKind;
use crate::ops::sandbox::SandboxSpec;
use crate::ops::OpError;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// The device cgroups one nsr run makes, named `nsr-<pid>-<tag>-<sandbox>`.
pub struct DeviceCgroups {
    /// nsr's own cgroup2 cgroup; None until first needed, Some(None) where there is none.
    parent: Option<Option<PathBuf>>,
    /// Tells this run's names from an earlier nsr's with the same pid.
    tag: String,
    warned: bool,
}

impl Default for DeviceCgroups {
    fn default() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(0);
        DeviceCgroups {
            parent: None,
            tag: format!("{nanos:08x}"),
            warned: false,
        }
    }
}

/// Whether the sandbox's root is the host's root, who could open a device node of the
/// host's that its root holds (a user namespace's root mapped elsewhere cannot, nor
/// can it make one: the device policy is then not needed).
fn root_is_host_root(spec: &SandboxSpec) -> bool {
    if !nix::unistd::geteuid().is_root() || spec.join.contains_key(&NsKind::User) {
        return false;
    }
    !spec.creates(NsKind::User) || spec.uid_map.iter().any(|r| r.inside == 0 && r.outside == 0)
}

/// Whether clone3 (which starts a command in the cgroup) is there: with no arguments it
/// answers EINVAL, where a kernel before 5.3 or a container's filter answers ENOSYS.
pub fn clone3_works() -> bool {
    static WORKS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WORKS.get_or_init(|| {
        // SAFETY: clone3 with a null, zero-sized argument creates nothing.
        let r = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
        r == -1 && nix::errno::Errno::last() != nix::errno::Errno::ENOSYS
    })
}

impl DeviceCgroups {
    /// Where sandbox number `id` of `spec` gets its device cgroup, if it gets one; the
    /// same answer before and after the sandbox is made (the journal's intent says it).
    pub fn path_for(&mut self, spec: &SandboxSpec, id: usize) -> Option<PathBuf> {
        if !spec.confine.limits_devices() || !root_is_host_root(spec) || !clone3_works() {
            return None;
        }
        let parent = self.parent.get_or_insert_with(super::own_cgroup).as_ref()?;
        Some(parent.join(format!("nsr-{}-{}-{id}", std::process::id(), self.tag)))
    }

    /// The warning for a sandbox that should have a device cgroup where the machine
    /// gives nsr none (once per run).
    pub fn missing_warning(&mut self, spec: &SandboxSpec, id: usize) -> Option<String> {
        let wanted = spec.confine.limits_devices() && root_is_host_root(spec);
        if !wanted || self.warned || self.path_for(spec, id).is_some() {
            return None;
        }
        self.warned = true;
        Some(if clone3_works() {
            "no cgroup2 hierarchy is mounted: the device policy is not enforced (a device node in the sandbox's root can be opened; nsr doctor)".into()
        } else {
            "clone3 is not available here (an old kernel, or a container's seccomp profile): the device policy is not enforced (a device node in the sandbox's root can be opened)".into()
        })
    }

    /// Attaches the policy's program to the cgroup `dir` (made by `cgroup::create` at
    /// `path`), before any command can start in it.
    pub fn attach(path: &std::path::Path, dir: &OwnedFd, policy: &Devices) -> Result<(), OpError> {
        let extra = match policy {
            Devices::Standard { extra } => extra.as_slice(),
            Devices::All => &[],
        };
        devices::attach(dir, extra).map_err(|(call, errno)| {
            OpError::os(
                errno,
                format!(
                    "cannot attach the device policy to {}: {call}",
                    path.display()
                ),
            )
            .with_hint("devices: \"all\" on unshare starts the sandbox without it")
        })
    }
}

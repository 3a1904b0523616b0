//! The device cgroup of a confined sandbox: a child of the sandbox's cgroup2 group
//! (`sandbox.rs`), the device program attached to it; the holder starts each confined
//! command in it.

use crate::confine::devices::{self, Devices};
use crate::ops::kinds::NsKind;
use crate::ops::sandbox::SandboxSpec;
use crate::ops::OpError;
use std::os::fd::OwnedFd;

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

/// Whether sandbox `spec`'s confined commands need a device cgroup (the device program).
pub fn wanted(spec: &SandboxSpec) -> bool {
    spec.confine.limits_devices() && root_is_host_root(spec)
}

/// The warning for a sandbox that should have a device cgroup where the machine gives
/// nsr none.
pub fn missing_warning() -> String {
    if clone3_works() {
        "no writable cgroup2 hierarchy is mounted: the device policy is not enforced (a device node in the sandbox's root can be opened; nsr doctor)".into()
    } else {
        "clone3 is not available here (an old kernel, or a container's seccomp profile): the device policy is not enforced (a device node in the sandbox's root can be opened)".into()
    }
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

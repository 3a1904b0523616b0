//! Who runs nsr and what the kernel offers: user namespaces (probed in a child that
//! exits at once), Landlock, seccomp, overlayfs, the kernel's version.

use super::check::{sysctl, Check, Status};

pub fn root() -> Check {
    let uid = nix::unistd::geteuid();
    if uid.is_root() && in_initial_user_namespace() {
        Check::ok("root", "running as root: every primitive is available")
    } else if uid.is_root() {
        Check::problem(
            "root",
            Status::Warn,
            "uid 0 of a user namespace, not the host's root: netns, NAT and mounts act only on what this namespace owns",
            "run nsr as the host's root for the host's network and mounts",
        )
    } else {
        Check::problem(
            "root",
            Status::Warn,
            format!(
                "running as uid {uid}: netns, veth, bridges, NAT, host mounts and owners in extracted roots need root; sandboxes with a user namespace (map_root: true) work"
            ),
            "run as root for those: sudo nsr ...",
        )
    }
}

/// The initial user namespace maps every id to itself: `0 0 4294967295`.
fn in_initial_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
        .unwrap_or(false)
}

/// `uname -r`.
fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// nsr needs openat2 (5.6) and mount_setattr (5.12).
pub fn release() -> Check {
    let release = kernel_release();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<u32>().ok());
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    if version >= (5, 12) {
        Check::ok("kernel", format!("Linux {release}"))
    } else {
        Check::problem(
            "kernel",
            Status::Missing,
            format!("Linux {release}: nsr needs openat2 and mount_setattr"),
            "Linux 5.12 or later",
        )
    }
}

/// This process's user namespaces and, as root, an ordinary user's (uid 65534).
pub fn user_namespaces() -> Vec<Check> {
    let uid = nix::unistd::geteuid().as_raw();
    // Without its own user namespaces nsr cannot make the `user` kind: missing. Root
    // checks an ordinary user's too, which only those users miss: a warning.
    let mut checks = vec![userns_check("user namespaces", uid, None, Status::Missing)];
    if uid == 0 {
        checks.push(userns_check(
            "unprivileged userns",
            65534,
            Some(65534),
            Status::Warn,
        ));
    }
    checks
}

fn userns_check(name: &'static str, uid: u32, become_uid: Option<u32>, failed: Status) -> Check {
    let max = sysctl("user/max_user_namespaces").unwrap_or_else(|| "?".into());
    match probe_userns(become_uid) {
        Ok(()) => Check::ok(
            name,
            format!("a process of uid {uid} can create one (user.max_user_namespaces={max})"),
        ),
        Err(Probe::CannotBecome) => Check::problem(
            name,
            failed,
            format!("cannot become uid {uid} to try (it is not mapped in this user namespace)"),
            "run nsr doctor as that user, or as the host's root",
        ),
        Err(Probe::Refused(errno)) => Check::problem(
            name,
            failed,
            format!("uid {uid} cannot create one: unshare(CLONE_NEWUSER): {errno}"),
            userns_fix(errno),
        ),
    }
}

/// Which setting keeps user namespaces away (most specific first).
fn userns_fix(errno: nix::errno::Errno) -> String {
    if sysctl("user/max_user_namespaces").as_deref() == Some("0") {
        return "sysctl -w user.max_user_namespaces=15000".into();
    }
    if sysctl("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return "sysctl -w kernel.unprivileged_userns_clone=1".into();
    }
    if sysctl("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/usr/local/bin/nsr".into());
        return format!(
            "an AppArmor profile that lets nsr make user namespaces: printf 'abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile nsr {exe} flags=(unconfined) {{\\n  userns,\\n}}\\n' > /etc/apparmor.d/nsr && apparmor_parser -r /etc/apparmor.d/nsr (or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 for every program)"
        );
    }
    format!("the kernel refused with {errno}: a container's seccomp policy or an LSM forbids user namespaces here")
}

/// Why a probe for a user namespace failed.
enum Probe {
    /// The child could not switch to the uid it was to try as.
    CannotBecome,
    Refused(nix::errno::Errno),
}

/// The child's exit status when it could not become the uid to try as.
const CANNOT_BECOME: i32 = 255;

/// Forks a child that (as `become_uid`, if given) calls unshare(CLONE_NEWUSER) and exits
/// with 0 or the errno.
fn probe_userns(become_uid: Option<u32>) -> Result<(), Probe> {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    // SAFETY: nsr is single-threaded here; the child only makes raw syscalls and _exits.
    match unsafe { fork() }.map_err(Probe::Refused)? {
        ForkResult::Child => {
            // SAFETY: raw calls in the probe's child, which only exits after them.
            let code = unsafe {
                let became = match become_uid {
                    Some(id) => {
                        libc::setgroups(0, std::ptr::null()) == 0
                            && libc::setgid(id) == 0
                            && libc::setuid(id) == 0
                    }
                    None => true,
                };
                if !became {
                    CANNOT_BECOME
                } else if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                    0
                } else {
                    *libc::__errno_location()
                }
            };
            // SAFETY: leaving the probe's child without nsr's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, CANNOT_BECOME)) => Err(Probe::CannotBecome),
            Ok(WaitStatus::Exited(_, code)) => {
                Err(Probe::Refused(nix::errno::Errno::from_raw(code)))
            }
            Ok(_) => Err(Probe::Refused(nix::errno::Errno::EINTR)),
            Err(e) => Err(Probe::Refused(e)),
        },
    }
}

pub fn landlock() -> Check {
    use crate::confine::landlock::{not_enforced, version};
    match version() {
        Ok(abi) => {
            let gaps = not_enforced(abi);
            let what = if gaps.is_empty() {
                "recipes' landlock rules are enforced in full".to_string()
            } else {
                format!("not enforced of recipes' landlock rules: {}", gaps.join("; "))
            };
            Check::ok("landlock", format!("ABI {abi}: {what}"))
        }
        Err(nix::errno::Errno::EOPNOTSUPP) => Check::problem(
            "landlock",
            Status::Missing,
            "built into the kernel but not enabled",
            "add landlock to the lsm= list on the kernel command line (cat /sys/kernel/security/lsm shows the list now)",
        ),
        Err(e) => Check::problem(
            "landlock",
            Status::Missing,
            format!("not in this kernel ({e})"),
            "a kernel built with CONFIG_SECURITY_LANDLOCK (Linux 5.13 or later)",
        ),
    }
}

pub fn seccomp() -> Check {
    // SAFETY: PR_GET_SECCOMP only reads this process's mode.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    if mode < 0 {
        return Check::problem(
            "seccomp",
            Status::Missing,
            "this kernel has no seccomp",
            "a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER",
        );
    }
    let actions = sysctl("kernel/seccomp/actions_avail").unwrap_or_default();
    let own = if mode == 2 {
        "; nsr itself runs under a filter"
    } else {
        ""
    };
    Check::ok("seccomp", format!("filters (actions: {actions}){own}"))
}

pub fn overlayfs() -> Check {
    let listed = std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().last() == Some("overlay"));
    if listed {
        return Check::ok("overlayfs", "in /proc/filesystems (overlay_root)");
    }
    let release = kernel_release();
    let module = std::path::Path::new("/lib/modules")
        .join(&release)
        .join("kernel/fs/overlayfs");
    if module.exists() {
        Check::problem(
            "overlayfs",
            Status::Warn,
            "a module, not loaded yet (a mount loads it, as root)",
            "modprobe overlay",
        )
    } else {
        Check::problem(
            "overlayfs",
            Status::Missing,
            "not in this kernel: overlay_root cannot work",
            "a kernel with CONFIG_OVERLAY_FS",
        )
    }
}

//! Who runs nsr and what the kernel offers: user namespaces (probed in a child that
//! exits at once), Landlock, seccomp, overlayfs, the kernel's version.

use super::{sysctl, Check, Status};

pub fn root() -> Check {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        Check::ok("root", "running as root: every primitive is available")
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

/// nsr needs openat2 (5.6) and mount_setattr (5.12).
pub fn release() -> Check {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
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
    let mut checks = vec![userns_check("user namespaces", uid, None)];
    if uid == 0 {
        checks.push(userns_check("unprivileged userns", 65534, Some(65534)));
    }
    checks
}

fn userns_check(name: &'static str, uid: u32, become_uid: Option<u32>) -> Check {
    let max = sysctl("user/max_user_namespaces").unwrap_or_else(|| "?".into());
    match probe_userns(become_uid) {
        Ok(()) => Check::ok(
            name,
            format!("a process of uid {uid} can create one (user.max_user_namespaces={max})"),
        ),
        Err(errno) => {
            let (status, fix) = userns_fix(errno, uid == 0);
            Check::problem(
                name,
                status,
                format!("uid {uid} cannot create one: unshare(CLONE_NEWUSER): {errno}"),
                fix,
            )
        }
    }
}

/// Which setting keeps user namespaces from `uid` (most specific first).
fn userns_fix(errno: nix::errno::Errno, root: bool) -> (Status, String) {
    let status = if root { Status::Missing } else { Status::Warn };
    if sysctl("user/max_user_namespaces").as_deref() == Some("0") {
        return (status, "sysctl -w user.max_user_namespaces=15000".into());
    }
    if sysctl("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return (
            status,
            "sysctl -w kernel.unprivileged_userns_clone=1".into(),
        );
    }
    if sysctl("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/usr/local/bin/nsr".into());
        return (
            status,
            format!(
                "an AppArmor profile that lets nsr make user namespaces: printf 'abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile nsr {exe} flags=(unconfined) {{\\n  userns,\\n}}\\n' > /etc/apparmor.d/nsr && apparmor_parser -r /etc/apparmor.d/nsr (or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 for every program)"
            ),
        );
    }
    (
        status,
        format!("the kernel refused with {errno}: a container's seccomp policy or an LSM forbids user namespaces here"),
    )
}

/// Forks a child that (as `become_uid`, if given) calls unshare(CLONE_NEWUSER) and exits.
fn probe_userns(become_uid: Option<u32>) -> Result<(), nix::errno::Errno> {
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};
    // SAFETY: nsr is single-threaded here; the child only makes raw syscalls and _exits.
    match unsafe { fork() }? {
        ForkResult::Child => {
            let code = unsafe {
                let dropped = match become_uid {
                    Some(id) => {
                        libc::setgroups(0, std::ptr::null()) == 0
                            && libc::setgid(id) == 0
                            && libc::setuid(id) == 0
                    }
                    None => true,
                };
                if !dropped {
                    255
                } else if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                    0
                } else {
                    *libc::__errno_location()
                }
            };
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, 255)) => Err(nix::errno::Errno::EPERM),
            Ok(WaitStatus::Exited(_, code)) => Err(nix::errno::Errno::from_raw(code)),
            Ok(_) => Err(nix::errno::Errno::EINTR),
            Err(e) => Err(e),
        },
    }
}

/// The Landlock ABI version (landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION).
pub fn landlock_abi() -> Result<i64, nix::errno::Errno> {
    // SAFETY: a query with no ruleset attributes; it creates nothing.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    if abi < 0 {
        Err(nix::errno::Errno::last())
    } else {
        Ok(abi)
    }
}

pub fn landlock() -> Check {
    match landlock_abi() {
        Ok(abi) => Check::ok("landlock", format!("ABI {abi}")),
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
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
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

//! A confinement made ready in the holder (the filter compiled, capability masks read),
//! then entered by the command's process between clone and exec with raw system calls
//! only, in this order: limits, bounding set, ambient set, no_new_privs, the seccomp
//! filter (while CAP_SYS_ADMIN may still be needed to load it), the user, the
//! capability sets.

use super::landlock::{BuildError, Landlock, Ruleset};
use super::{Caps, Confinement};

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// Where entering failed, for the holder's error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Rlimit = 10,
    Bounding = 11,
    NoNewPrivs = 12,
    Seccomp = 13,
    Capset = 14,
    User = 15,
    Landlock = 16,
    CgroupNs = 17,
    MountNs = 18,
}

impl Stage {
    pub fn from_code(code: i32) -> Option<Stage> {
        [
            Stage::Rlimit,
            Stage::Bounding,
            Stage::NoNewPrivs,
            Stage::Seccomp,
            Stage::Capset,
            Stage::User,
            Stage::Landlock,
            Stage::CgroupNs,
            Stage::MountNs,
        ]
        .into_iter()
        .find(|s| *s as i32 == code)
    }

    pub fn what(self) -> &'static str {
        match self {
            Stage::Rlimit => "cannot set a resource limit (prlimit)",
            Stage::Bounding => "cannot drop a capability from the bounding set",
            Stage::NoNewPrivs => "cannot set no_new_privs",
            Stage::Seccomp => "cannot load the seccomp filter",
            Stage::Capset => "cannot set the capabilities (capset)",
            Stage::Landlock => "cannot enter the Landlock ruleset",
            Stage::MountNs => "cannot enter the commands' hardened mount namespace",
            Stage::CgroupNs => "cannot make the command's cgroup namespace (unshare CLONE_NEWCGROUP)",
            Stage::User => "cannot become the user asked for (setgroups/setresgid/setresuid; are the ids mapped in the sandbox's user namespace?)",
        }
    }
}

pub struct Prepared {
    rlimits: Vec<(u32, libc::rlimit64)>,
    /// Capabilities to drop from the bounding set.
    drop: Vec<u32>,
    /// The sets after capset; None leaves them as they are.
    sets: Option<[CapData; 2]>,
    no_new_privs: bool,
    filter: Vec<libc::sock_filter>,
    /// uid, gid and supplementary groups to switch to.
    user: Option<(u32, u32, Vec<libc::gid_t>)>,
    /// Built for each command, in the root it starts in: see [`Prepared::ruleset`].
    landlock: Option<Landlock>,
    /// Starts in the sandbox's device cgroup.
    limits_devices: bool,
    privileged: bool,
}

/// The holder's own permitted set (what a command can keep at most).
fn permitted() -> u64 {
    let mut head = CapHeader {
        version: CAP_V3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget fills two CapData for version 3.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut head, data.as_mut_ptr()) };
    if r != 0 {
        return u64::MAX;
    }
    u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32)
}

/// The capabilities in this process's bounding set: PR_CAPBSET_READ up to the first
/// EINVAL (past the kernel's last capability), without reading a file. Once per
/// sandbox in the holder, so that each command drops only what is there to drop.
fn bounding() -> u64 {
    // The holder's (or `nsr enter`'s) bounding set never changes: a command with
    // options of its own does not read it again.
    static SET: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SET.get_or_init(|| {
        let mut set = 0u64;
        for n in 0..64u32 {
            // SAFETY: a read-only prctl.
            match unsafe { libc::prctl(libc::PR_CAPBSET_READ, n as libc::c_ulong, 0, 0, 0) } {
                1 => set |= 1 << n,
                0 => {}
                _ => break,
            }
        }
        set
    })
}

impl Prepared {
    pub fn new(c: &Confinement) -> Prepared {
        let (drop, sets) = match c.caps {
            Caps::All => (Vec::new(), None),
            Caps::Only(keep) => {
                let keep = keep & permitted();
                let present = bounding();
                let drop = (0..64)
                    .filter(|n| present & (1 << n) != 0 && keep & (1 << n) == 0)
                    .collect();
                let half = |shift: u32| {
                    let bits = (keep >> shift) as u32;
                    CapData {
                        effective: bits,
                        permitted: bits,
                        inheritable: bits,
                    }
                };
                (drop, Some([half(0), half(32)]))
            }
        };
        Prepared {
            rlimits: c
                .rlimits
                .iter()
                .map(|r| {
                    (
                        r.resource,
                        libc::rlimit64 {
                            rlim_cur: r.soft,
                            rlim_max: r.hard,
                        },
                    )
                })
                .collect(),
            drop,
            sets,
            no_new_privs: c.no_new_privs,
            filter: c
                .seccomp
                .as_ref()
                .map(|p| super::seccomp::program(p, libc::EPERM))
                .unwrap_or_default(),
            user: c.user.as_ref().map(|u| (u.uid, u.gid, u.groups.clone())),
            landlock: c.landlock.clone(),
            limits_devices: c.limits_devices(),
            privileged: c.is_privileged(),
        }
    }

    pub fn limits_devices(&self) -> bool {
        self.limits_devices
    }

    /// `privileged: true`: none of it, nor the hardened mounts.
    pub fn is_privileged(&self) -> bool {
        self.privileged
    }

    pub fn has_landlock(&self) -> bool {
        self.landlock.is_some()
    }

    /// The Landlock ruleset of a command about to start, built in the caller's current
    /// root (the sandbox's, after any chroot): None without `landlock` or on a kernel
    /// without Landlock (nsr warned of that when the recipe asked).
    pub fn ruleset(&self) -> Result<Option<Ruleset>, BuildError> {
        match &self.landlock {
            Some(l) => l.build(),
            None => Ok(None),
        }
    }

    /// Enters the confinement. Only raw system calls on memory prepared beforehand: it
    /// runs in a vfork-style child that shares the holder's memory.
    ///
    /// # Safety
    /// Call only in the command's process, between clone and exec.
    pub unsafe fn enter(&self, ruleset: Option<&Ruleset>) -> Result<(), (Stage, i32)> {
        // SAFETY: the caller's contract: this is the command's process between clone and
        // exec; every call is a raw system call on memory prepared before the clone.
        unsafe {
            let errno = || *libc::__errno_location();
            for (resource, limit) in &self.rlimits {
                if libc::syscall(
                    libc::SYS_prlimit64,
                    0,
                    *resource as libc::c_long,
                    limit as *const libc::rlimit64,
                    std::ptr::null_mut::<libc::rlimit64>(),
                ) != 0
                {
                    return Err((Stage::Rlimit, errno()));
                }
            }
            for cap in &self.drop {
                if libc::prctl(libc::PR_CAPBSET_DROP, *cap as libc::c_ulong, 0, 0, 0) != 0
                    && errno() != libc::EINVAL
                {
                    return Err((Stage::Bounding, errno()));
                }
            }
            if self.sets.is_some() {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
            }
            if self.no_new_privs && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err((Stage::NoNewPrivs, errno()));
            }
            // Before the capabilities go: without no_new_privs it needs CAP_SYS_ADMIN.
            if let Some(r) = ruleset {
                if !r.enter() {
                    return Err((Stage::Landlock, errno()));
                }
            }
            if !self.filter.is_empty() {
                let prog = libc::sock_fprog {
                    len: self.filter.len() as u16,
                    filter: self.filter.as_ptr() as *mut libc::sock_filter,
                };
                if libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    0,
                    &prog as *const libc::sock_fprog,
                ) != 0
                {
                    return Err((Stage::Seccomp, errno()));
                }
            }
            if let Some((uid, gid, groups)) = &self.user {
                // Raw calls: glibc's wrappers would signal the holder's threads to change
                // theirs (setxid), and this process shares the holder's memory.
                if libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) != 0
                    || libc::syscall(libc::SYS_setresgid, *gid, *gid, *gid) != 0
                    || libc::syscall(libc::SYS_setresuid, *uid, *uid, *uid) != 0
                {
                    return Err((Stage::User, errno()));
                }
                if *uid != 0 {
                    // Leaving uid 0 cleared the permitted and effective sets already; the
                    // bounding set stays dropped for whatever it execs.
                    return Ok(());
                }
            }
            if let Some(sets) = &self.sets {
                let mut head = CapHeader {
                    version: CAP_V3,
                    pid: 0,
                };
                if libc::syscall(libc::SYS_capset, &mut head, sets.as_ptr()) != 0 {
                    return Err((Stage::Capset, errno()));
                }
            }
            Ok(())
        }
    }
}

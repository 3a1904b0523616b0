//! Small shared helpers over raw syscalls that neither nix nor rustix wrap.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

pub fn from_rustix(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on a detached or attached mount fd.
pub fn mount_setattr(
    fd: BorrowedFd<'_>,
    recursive: bool,
    set: u64,
    clear: u64,
) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: the path is a valid empty C string and attr lives across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// PR_SET_DUMPABLE: whether processes of the same user (without CAP_SYS_PTRACE) may open
/// this process's /proc/PID/{fd,root,cwd,mem,environ} and ptrace it.
/// Eight hex digits fixed for this nsr process: with its pid, the names of what it
/// makes outside any namespace (cgroups, pasta processes) tell it from an earlier nsr
/// that had the same pid.
pub fn run_tag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(0);
        format!("{nanos:08x}")
    })
}

/// The soft limit on open files nsr started with, while nsr runs with its hard limit.
static OPEN_FILES_SOFT: AtomicU64 = AtomicU64::new(u64::MAX);

/// Raises the soft limit on open files to the hard limit, as systemd advises for
/// programs that need many (a lab holds namespaces and sockets); the programs nsr
/// starts get the old soft limit back (`restore_open_files_limit`), since some still
/// use select(2), which breaks past 1024.
pub fn raise_open_files_limit() {
    let mut l = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit64/setrlimit64 on this process with a valid struct.
    unsafe {
        if libc::getrlimit64(libc::RLIMIT_NOFILE, &mut l) != 0 || l.rlim_cur >= l.rlim_max {
            return;
        }
        let soft = l.rlim_cur;
        l.rlim_cur = l.rlim_max;
        if libc::setrlimit64(libc::RLIMIT_NOFILE, &l) == 0 {
            OPEN_FILES_SOFT.store(soft, Ordering::Relaxed);
        }
    }
}

/// In a child before its exec: the soft limit on open files nsr was started with.
/// Async-signal-safe (an atomic load and two system calls).
pub fn restore_open_files_limit() {
    let soft = OPEN_FILES_SOFT.load(Ordering::Relaxed);
    if soft == u64::MAX {
        return;
    }
    let mut l = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: raw limit calls on this process with a valid struct.
    unsafe {
        if libc::getrlimit64(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur > soft {
            l.rlim_cur = soft;
            libc::setrlimit64(libc::RLIMIT_NOFILE, &l);
        }
    }
}

pub fn set_dumpable(dumpable: bool) {
    // SAFETY: prctl on this process only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(dumpable)) };
}

/// Closes every fd from `first` up, except those listed (which must be sorted).
pub fn close_fds_except(first: i32, keep: &[i32]) {
    let mut lo = first as u32;
    for &k in keep {
        let k = k as u32;
        if k >= lo {
            if k > lo {
                // SAFETY: close_range only closes descriptors; nothing here uses them after.
                unsafe { libc::syscall(libc::SYS_close_range, lo, k - 1, 0) };
            }
            lo = k + 1;
        }
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, lo, u32::MAX, 0) };
}

pub fn pidfd_open(pid: i32) -> Result<std::os::fd::OwnedFd, Errno> {
    // SAFETY: pidfd_open returns a new fd or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if r < 0 {
        Err(Errno::last())
    } else {
        use std::os::fd::FromRawFd;
        // SAFETY: r is a fresh descriptor that nothing else owns.
        Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(r as i32) })
    }
}

/// SIGKILL to the process a pidfd names (ESRCH once it has ended).
pub fn pidfd_kill(fd: &std::os::fd::OwnedFd) -> Result<(), Errno> {
    pidfd_signal(fd, libc::SIGKILL)
}

/// `signal` to the process a pidfd names (ESRCH once it has ended).
pub fn pidfd_signal(fd: &std::os::fd::OwnedFd, signal: i32) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: pidfd_send_signal with no siginfo signals the pidfd's process only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Mount ID of the mount that `path` (not following a final symlink) lives on.
pub fn mount_id_of(dirfd: BorrowedFd<'_>, path: &str) -> Result<u64, Errno> {
    use rustix::fs::{statx, AtFlags, StatxFlags};
    let flags = if path.is_empty() {
        AtFlags::EMPTY_PATH
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    let st = statx(dirfd, path, flags, StatxFlags::MNT_ID).map_err(from_rustix)?;
    Ok(st.stx_mnt_id)
}

/// `STATX_MNT_ID_UNIQUE` (Linux 6.8): a mount ID that is never reused, and grows.
const STATX_MNT_ID_UNIQUE: u32 = 0x4000;

/// The mount an fd is on: its ID, its never-reused ID when the kernel has one (Linux
/// 6.8), and whether the fd is that mount's root.
pub fn mount_of_fd(fd: BorrowedFd<'_>) -> Result<(u64, Option<u64>, bool), Errno> {
    use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags};
    let st = statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID).map_err(from_rustix)?;
    let unique = statx(
        fd,
        "",
        AtFlags::EMPTY_PATH,
        StatxFlags::from_bits_retain(STATX_MNT_ID_UNIQUE),
    )
    .ok()
    .filter(|u| u.stx_mask & STATX_MNT_ID_UNIQUE != 0)
    .map(|u| u.stx_mnt_id);
    Ok((
        st.stx_mnt_id,
        unique,
        st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT),
    ))
}

/// The mount at `path` (not following a final symlink): its ID, unique and increasing
/// when the kernel has such IDs (the bool says so), and whether `path` is its root.
pub fn top_mount_at(path: &str) -> Result<(u64, bool, bool), Errno> {
    use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags, CWD};
    let mask = StatxFlags::MNT_ID | StatxFlags::from_bits_retain(STATX_MNT_ID_UNIQUE);
    let st = statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, mask).map_err(from_rustix)?;
    let unique = st.stx_mask & STATX_MNT_ID_UNIQUE != 0;
    Ok((
        st.stx_mnt_id,
        unique,
        st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT),
    ))
}

/// struct clone_args (clone3), up to `cgroup`.
#[repr(C, align(8))]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// fork(2) into the cgroup `cgroup` (an fd of its directory): clone3 with
/// CLONE_INTO_CGROUP, which puts the child there as it is made, without the cost of a
/// migration (the first write to cgroup.procs can wait for an RCU grace period).
/// Returns 0 in the child, its pid in the parent.
pub fn fork_into_cgroup(cgroup: BorrowedFd<'_>) -> Result<i32, Errno> {
    clone_into_cgroup(0, cgroup)
}

/// fork(2) with clone `flags` (new namespaces) into the cgroup `cgroup`, as
/// `fork_into_cgroup`.
pub fn clone_into_cgroup(flags: libc::c_int, cgroup: BorrowedFd<'_>) -> Result<i32, Errno> {
    let args = CloneArgs {
        flags: flags as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: without CLONE_VM the child has a copy of memory and returns here, as
    // from fork; the caller is single-threaded where it forks.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r as i32)
    }
}

/// vfork(2) into the cgroup `cgroup`, the child running `entry(arg)` on `stack`:
/// clone3 with CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP. The caller is suspended
/// until the child execs or exits. Returns the child's pid.
///
/// # Safety
/// `entry` must only make raw system calls on memory prepared before the call and end
/// in exec or _exit; `arg` and `stack` must stay valid until this returns.
pub unsafe fn vfork_into_cgroup(
    cgroup: BorrowedFd<'_>,
    stack: &mut [u8],
    entry: extern "C" fn(*mut libc::c_void) -> !,
    arg: *mut libc::c_void,
) -> Result<i32, Errno> {
    // The kernel starts the child with its stack pointer at stack + stack_size, which
    // the ABI wants 16-byte aligned.
    let base = stack.as_mut_ptr() as u64;
    let top = (base + stack.len() as u64) & !15;
    let args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        stack: base,
        stack_size: top - base,
        cgroup: cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    let ret: i64;
    // The child comes back from the syscall on the new stack with every register but
    // rax, rcx and r11 as the parent had them: r12 and r13 carry entry and arg across.
    // SAFETY: the caller's contract (a stack of its own for the child, an entry that
    // never returns); the parent is suspended until the child execs or exits.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") entry,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
        )
    };
    if ret < 0 {
        Err(Errno::from_raw(-ret as i32))
    } else {
        Ok(ret as i32)
    }
}

//! Small shared helpers over raw syscalls that neither nix nor rustix wrap.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd};

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

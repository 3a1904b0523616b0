//! Named network namespaces with iproute2's convention: a file in /run/netns with the
//! namespace bind-mounted on it, under a shared /run/netns mount, so `ip netns list`,
//! `ip netns exec` and `ip -n` see nsr's namespaces and nsr sees theirs.

use super::netlink::RouteSocket;
use crate::ops::OpError;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::{stat, Mode};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

pub const NETNS_RUN_DIR: &str = "/run/netns";

pub fn path_of(name: &str) -> String {
    format!("{NETNS_RUN_DIR}/{name}")
}

/// The inode of an open namespace: its identity.
pub fn identity_of(fd: &OwnedFd) -> Result<u64, OpError> {
    nix::sys::stat::fstat(fd)
        .map(|st| st.st_ino)
        .map_err(|e| OpError::os(e, "cannot see a network namespace"))
}

/// The namespace file's inode: the identity of a network namespace.
pub fn identity(path: &str) -> Result<u64, OpError> {
    stat(path)
        .map(|st| st.st_ino)
        .map_err(|e| OpError::os(e, format!("cannot see network namespace {path}")))
}

/// Whether /run/netns/NAME is a network namespace other than `ino` (a plain file, or no
/// file, is not one).
pub fn names_another(name: &str, ino: u64) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    let path = path_of(name);
    let is_nsfs =
        nix::sys::statfs::statfs(path.as_str()).is_ok_and(|s| s.filesystem_type().0 == NSFS_MAGIC);
    is_nsfs && identity(&path).is_ok_and(|now| now != ino)
}

pub fn open_ns(path: &str) -> Result<OwnedFd, OpError> {
    open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| OpError::os(e, format!("cannot open network namespace {path}")))
}

/// Runs `f` on a short thread that has joined the network namespace `ns`; nsr's own
/// thread never changes namespace (a sandbox started later must not land in it).
pub fn within<T: Send>(ns: &OwnedFd, f: impl FnOnce() -> T + Send) -> Result<T, OpError> {
    let fd = ns.as_fd();
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(HELPER_STACK)
            .spawn_scoped(scope, move || {
                setns(fd, CloneFlags::CLONE_NEWNET).map_err(|e| {
                    let err = OpError::os(e, "cannot enter the network namespace");
                    if e == nix::errno::Errno::EPERM {
                        err.with_hint("a namespace owned by a rootless sandbox's user namespace can only be configured from inside it: run `ip` there, e.g. box.run(\"ip link set lo up\"), or run nsr as root")
                    } else {
                        err
                    }
                })?;
                Ok(f())
            })
            .map_err(|e| OpError::new(format!("cannot start a helper thread: {e}")))?
            .join()
            .map_err(|_| OpError::new("a helper thread inside a network namespace panicked"))?
    })
}

/// Where nsr notes that it made /run/netns a mount (and maybe the directory), so that
/// whichever nsr run finds it empty last takes it back, even when runs overlap.
const MARKER_DIR: &str = "/run/nsr";
const MARKER: &str = "/run/nsr/netns-mount";

fn io_errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// An exclusive lock on /run/netns, held while a namespace is added there or the
/// directory is checked and taken back, so that overlapping runs do not race.
pub struct RunDirLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

pub fn lock_run_dir() -> Result<RunDirLock, OpError> {
    let dir = std::fs::File::open(NETNS_RUN_DIR)
        .map_err(|e| OpError::os(io_errno(e), format!("cannot open {NETNS_RUN_DIR}")))?;
    nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusive)
        .map(RunDirLock)
        .map_err(|(_, e)| OpError::os(e, format!("cannot lock {NETNS_RUN_DIR}")))
}

/// Makes /run/netns exist and be a shared mount point, as `ip netns add` does, and
/// returns the lock to hold while adding a namespace there.
pub fn prepare_run_dir() -> Result<RunDirLock, OpError> {
    let made_dir = match std::fs::create_dir(NETNS_RUN_DIR) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
        Err(e) => {
            return Err(OpError::os(
                io_errno(e),
                format!("cannot create {NETNS_RUN_DIR}"),
            ))
        }
    };
    let lock = lock_run_dir()?;
    let shared = || {
        mount(
            None::<&str>,
            NETNS_RUN_DIR,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match shared() {
        Ok(()) => {}
        Err(Errno::EINVAL) => {
            // Not a mount point yet: bind it onto itself, then share it.
            std::fs::create_dir_all(MARKER_DIR)
                .map_err(|e| OpError::os(io_errno(e), format!("cannot create {MARKER_DIR}")))?;
            std::fs::write(MARKER, if made_dir { "mount dir\n" } else { "mount\n" })
                .map_err(|e| OpError::os(io_errno(e), format!("cannot write {MARKER}")))?;
            mount(
                Some(NETNS_RUN_DIR),
                NETNS_RUN_DIR,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| OpError::os(e, format!("cannot bind-mount {NETNS_RUN_DIR}")))?;
            shared().map_err(|e| OpError::os(e, format!("cannot make {NETNS_RUN_DIR} shared")))?;
        }
        Err(e) => {
            return Err(OpError::os(
                e,
                format!("cannot make {NETNS_RUN_DIR} shared"),
            ))
        }
    }
    Ok(lock)
}

/// Takes back the /run/netns mount (and directory) that an nsr run made, once no
/// namespace file is left in it: another tool's netns there keeps both.
pub fn restore_run_dir() -> Result<(), OpError> {
    let Ok(marker) = std::fs::read_to_string(MARKER) else {
        return Ok(());
    };
    let Ok(_lock) = lock_run_dir() else {
        return Ok(());
    };
    let empty = std::fs::read_dir(NETNS_RUN_DIR)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if !empty || !Path::new(MARKER).exists() {
        return Ok(());
    }
    match umount2(NETNS_RUN_DIR, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) => {}
        Err(e) => return Err(OpError::os(e, format!("cannot unmount {NETNS_RUN_DIR}"))),
    }
    let _ = std::fs::remove_file(MARKER);
    let _ = std::fs::remove_dir(MARKER_DIR);
    if marker.contains("dir") {
        let _ = std::fs::remove_dir(NETNS_RUN_DIR);
    }
    Ok(())
}

/// Helper threads do a few syscalls: a small stack makes them cheaper to start.
const HELPER_STACK: usize = 128 * 1024;

/// `ip netns add NAME`: returns the namespace (an fd) and a route socket inside it.
pub fn add(name: &str) -> Result<(OwnedFd, RouteSocket), OpError> {
    let path = path_of(name);
    let file = open(
        path.as_str(),
        OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::EEXIST => OpError::os(e, format!("network namespace '{name}' already exists"))
            .with_hint("nsr never takes over a netns it did not create: pick another name, or use netns_open(name) to work in the existing one"),
        e => OpError::os(e, format!("cannot create {path}")),
    })?;
    drop(file);
    let made = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(HELPER_STACK)
            .spawn_scoped(scope, || -> Result<(OwnedFd, i32), OpError> {
                unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| OpError::os(e, "unshare(CLONE_NEWNET) failed"))?;
                mount(
                    Some("/proc/thread-self/ns/net"),
                    path.as_str(),
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| OpError::os(e, format!("cannot bind the new namespace on {path}")))?;
                let ns = open_ns("/proc/thread-self/ns/net")?;
                Ok((ns, RouteSocket::open()?.into_raw_fd()))
            })
            .map_err(|e| OpError::new(format!("cannot start a helper thread: {e}")))?
            .join()
            .unwrap_or_else(|_| Err(OpError::new("the netns helper thread panicked")))
    });
    match made {
        // SAFETY: the fd is the route socket the helper thread just opened and gave up.
        Ok((ns, fd)) => Ok((ns, unsafe { RouteSocket::from_raw_fd(fd) })),
        Err(e) => {
            let _ = umount2(path.as_str(), MntFlags::MNT_DETACH);
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// `ip netns del NAME`. The namespace itself ends when nothing else holds it.
pub fn delete(name: &str) -> Result<bool, OpError> {
    let path = path_of(name);
    if !Path::new(&path).exists() {
        return Ok(false);
    }
    match umount2(path.as_str(), MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) => {}
        Err(e) => return Err(OpError::os(e, format!("cannot unmount {path}"))),
    }
    std::fs::remove_file(&path).map_err(|e| {
        OpError::os(
            Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            format!("cannot remove {path}"),
        )
    })?;
    Ok(true)
}

/// Opens a route socket inside the namespace at `path`.
pub fn socket_in(ns: &OwnedFd) -> Result<RouteSocket, OpError> {
    let fd = within(ns, || RouteSocket::open().map(|s| s.into_raw_fd()))??;
    // SAFETY: the fd is the route socket the helper thread just opened and gave up.
    Ok(unsafe { RouteSocket::from_raw_fd(fd) })
}

/// Reads and writes a sysctl such as `net/ipv4/ip_forward` as seen inside `ns`:
/// /proc/sys/net shows the namespace of the thread that opens it.
pub fn sysctl_swap(ns: &OwnedFd, key: &str, value: Option<&str>) -> Result<String, OpError> {
    let path = format!("/proc/sys/{key}");
    let key = key.to_string();
    let value = value.map(str::to_string);
    within(ns, move || -> Result<String, OpError> {
        let errno = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        let old = std::fs::read_to_string(&path)
            .map_err(|e| OpError::os(errno(e), format!("cannot read sysctl {key}")))?
            .trim()
            .to_string();
        if let Some(v) = value {
            if v != old {
                std::fs::write(&path, format!("{v}\n"))
                    .map_err(|e| OpError::os(errno(e), format!("cannot write sysctl {key}")))?;
            }
        }
        Ok(old)
    })?
}
